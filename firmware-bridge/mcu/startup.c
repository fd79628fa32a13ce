/* Reset and vector table for the STM32F405 (Cortex-M4F). Only the entries this image uses are named;
 * the rest trap in an infinite loop so a stray interrupt is visible in a debugger rather than silent.
 * Vector numbers from RM0090 table 61 (USART1 = IRQ 37, i.e. vector 16 + 37). */
#include <stdint.h>

extern uint32_t _stack_top, _data_load, _data_start, _data_end, _bss_start, _bss_end;
extern int main(void);
void Reset_Handler(void);
void USART1_IRQHandler(void);
void SysTick_Handler(void);

static void Default_Handler(void) { for (;;) { } }

#define VECTOR_COUNT (16 + 82)
__attribute__((section(".isr_vector"), used))
static void (*const vector_table[VECTOR_COUNT])(void) = {
    [0] = (void (*)(void))&_stack_top,
    [1] = Reset_Handler,
    [2] = Default_Handler,  /* NMI */
    [3] = Default_Handler,  /* HardFault */
    [4] = Default_Handler,  /* MemManage */
    [5] = Default_Handler,  /* BusFault */
    [6] = Default_Handler,  /* UsageFault (an FPU instruction with CP10/11 off lands here) */
    [11] = Default_Handler, /* SVCall */
    [14] = Default_Handler, /* PendSV */
    [15] = SysTick_Handler,
    [16 + 37] = USART1_IRQHandler,
};

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)

void Reset_Handler(void)
{
    /* Enable CP10/CP11 (the FPU) before any float instruction: without it the first one is a
     * silent UsageFault (FACTS: emulated STM32F405). */
    SCB_CPACR |= (0xFu << 20);
    __asm volatile("dsb\n isb");

    uint32_t *src = &_data_load;
    for (uint32_t *dst = &_data_start; dst < &_data_end;) *dst++ = *src++;
    for (uint32_t *dst = &_bss_start; dst < &_bss_end;) *dst++ = 0;

    main();
    for (;;) { }
}
