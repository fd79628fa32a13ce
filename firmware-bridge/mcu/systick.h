/* A 64-bit count of SysTick clock ticks (the core clock, 168 MHz on the STM32F405 as QEMU models it).
 * Under QEMU with `-icount shift=0` each instruction advances virtual time by 1 ns, so
 * instructions = ticks * 1e9 / 168e6 (FACTS: DWT_CYCCNT reads 0 there, SysTick works). */
#ifndef ROBORL_MCU_SYSTICK_H
#define ROBORL_MCU_SYSTICK_H
#include <stdint.h>

#define ROBORL_CORE_CLOCK_HZ 168000000u

void systick_init(void);
uint64_t systick_ticks(void);

#endif
