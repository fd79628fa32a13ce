/* USART1 of the STM32F405: interrupt-driven receive into a ring buffer, polled transmit. */
#ifndef ROBORL_MCU_USART_H
#define ROBORL_MCU_USART_H
#include <stddef.h>
#include <stdint.h>

void usart1_init(void);
/* Copies up to max received bytes into out; returns how many. Never blocks. */
size_t usart1_read(uint8_t *out, size_t max);
/* 1 if received bytes wait in the ring buffer. */
int usart1_available(void);
void usart1_write(const uint8_t *data, size_t length);
/* Bytes lost because the ring buffer was full (the host sent faster than the main loop drained). */
uint32_t usart1_overruns(void);

#endif
