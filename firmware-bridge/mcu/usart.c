#include "usart.h"

/* Register map: RM0090 section 30.6 (USART1 base 0x40011000). */
#define USART1_BASE 0x40011000u
#define USART_SR  (*(volatile uint32_t *)(USART1_BASE + 0x00u))
#define USART_DR  (*(volatile uint32_t *)(USART1_BASE + 0x04u))
#define USART_BRR (*(volatile uint32_t *)(USART1_BASE + 0x08u))
#define USART_CR1 (*(volatile uint32_t *)(USART1_BASE + 0x0Cu))
#define SR_RXNE (1u << 5)
#define SR_TXE  (1u << 7)
#define CR1_UE     (1u << 13)
#define CR1_RXNEIE (1u << 5)
#define CR1_TE     (1u << 3)
#define CR1_RE     (1u << 2)
/* NVIC set-enable register for IRQs 32..63 (ARMv7-M ARM B3.4). */
#define NVIC_ISER1 (*(volatile uint32_t *)0xE000E104u)
#define USART1_IRQ 37u
/* RCC APB2 enable register: USART1EN is bit 4 (RM0090 6.3.14). QEMU does not model RCC, real parts need it. */
#define RCC_APB2ENR (*(volatile uint32_t *)0x40023844u)

#define RX_CAPACITY 1024u /* power of two: index wrap by mask */
static volatile uint8_t rx_ring[RX_CAPACITY];
static volatile uint32_t rx_head, rx_tail, rx_overruns;

void usart1_init(void)
{
    RCC_APB2ENR |= (1u << 4);
    /* 16 MHz HSI / 576000 baud ≈ 0x1C; QEMU ignores BRR but real hardware needs a value. */
    USART_BRR = 0x1Cu;
    /* QEMU's USART model drops input unless UE and RE are both set (FACTS). */
    USART_CR1 = CR1_UE | CR1_TE | CR1_RE | CR1_RXNEIE;
    NVIC_ISER1 = 1u << (USART1_IRQ - 32u);
}

void USART1_IRQHandler(void)
{
    while (USART_SR & SR_RXNE) {
        uint8_t byte = (uint8_t)USART_DR;
        uint32_t next = (rx_head + 1u) & (RX_CAPACITY - 1u);
        if (next == rx_tail) { rx_overruns++; continue; }
        rx_ring[rx_head] = byte;
        rx_head = next;
    }
}

size_t usart1_read(uint8_t *out, size_t max)
{
    size_t n = 0;
    while (n < max && rx_tail != rx_head) {
        out[n++] = rx_ring[rx_tail];
        rx_tail = (rx_tail + 1u) & (RX_CAPACITY - 1u);
    }
    return n;
}

int usart1_available(void) { return rx_tail != rx_head; }

void usart1_write(const uint8_t *data, size_t length)
{
    for (size_t i = 0; i < length; i++) {
        while (!(USART_SR & SR_TXE)) { }
        USART_DR = data[i];
    }
}

uint32_t usart1_overruns(void) { return rx_overruns; }
