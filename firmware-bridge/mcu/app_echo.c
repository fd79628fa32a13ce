/* Smoke-test image: proves boot, FPU, USART1 receive by interrupt and transmit over the emulated
 * STM32F405. It prints a banner, then echoes every byte it receives; the byte '?' is answered with a
 * line "fpu=<float product> overruns=<n>" so the host can check float maths ran. */
#include <stdio.h>
#include "usart.h"
#include "systick.h"

int main(void)
{
    usart1_init();
    systick_init();
    static const uint8_t banner[] = "roborl-mcu echo\n";
    usart1_write(banner, sizeof banner - 1);

    volatile float a = 1.5f, b = 2.25f;
    uint8_t buffer[64];
    for (;;) {
        size_t n = usart1_read(buffer, sizeof buffer);
        for (size_t i = 0; i < n; i++) {
            if (buffer[i] == '?') {
                char line[64];
                int length = snprintf(line, sizeof line, "fpu=%d overruns=%lu\n", (int)(a * b * 1000.0f),
                                      (unsigned long)usart1_overruns());
                usart1_write((const uint8_t *)line, (size_t)length);
            } else {
                usart1_write(&buffer[i], 1);
            }
        }
        __asm volatile("wfi");
    }
}
