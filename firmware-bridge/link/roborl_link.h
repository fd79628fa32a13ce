/* RoboRl serial link, protocol version 1 (firmware-bridge/PROTOCOL.md): C99 codec for host and MCU.
 *
 * No malloc, no stdio, fixed buffers; every function is re-entrant on its own state objects. The
 * decoder takes one byte at a time so that a UART interrupt or DMA ring can feed it directly.
 *
 *   Sending:   rl_sender s; rl_sender_init(&s);
 *              uint8_t payload[RL_MAX_PAYLOAD], wire[RL_MAX_WIRE_FRAME];
 *              size_t n = rl_pack_heartbeat(&hb, payload);
 *              size_t w = rl_sender_encode(&s, RL_MSG_HEARTBEAT, payload, n, wire, sizeof wire);
 *              uart_write(wire, w);
 *   Receiving: rl_decoder d; rl_decoder_init(&d);
 *              rl_frame f;
 *              if (rl_decoder_push(&d, byte, &f)) { switch (f.type) { ... rl_unpack_xxx(f.payload, f.payload_len, &msg) } }
 */
#ifndef ROBORL_LINK_H
#define ROBORL_LINK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RL_LINK_VERSION 1u
#define RL_HEADER_SIZE 7u
#define RL_CRC_SIZE 2u
#define RL_MAX_PAYLOAD 1024u
#define RL_MAX_RAW_FRAME (RL_HEADER_SIZE + RL_MAX_PAYLOAD + RL_CRC_SIZE) /* 1033 */
/* COBS adds at most 1 + n/254 bytes; plus the 0x00 delimiter. */
#define RL_MAX_WIRE_FRAME (RL_MAX_RAW_FRAME + 1u + RL_MAX_RAW_FRAME / 254u + 1u) /* 1039 */
#define RL_MAX_OBS 255u
#define RL_SEQ_REPLAY_WINDOW 32

#define RL_FLAG_SEQ_RESET 0x01u

typedef enum {
    RL_MSG_HEARTBEAT = 0x01,
    RL_MSG_STATE = 0x02,
    RL_MSG_ACTUATOR_COMMAND = 0x03,
    RL_MSG_OBSERVATION = 0x04,
    RL_MSG_ACTION = 0x05,
    RL_MSG_PARAM_SET = 0x06,
    RL_MSG_PARAM_ACK = 0x07,
    RL_MSG_STATUS = 0x08
} rl_msg_type;

/* Heartbeat status_flags bits. */
#define RL_STATUS_ARMED 0x01u
#define RL_STATUS_POLICY_LOADED 0x02u
#define RL_STATUS_FAILSAFE 0x04u
#define RL_STATUS_SENSORS_STALE 0x08u
#define RL_STATUS_SELF_TEST_PASSED 0x10u

/* STATUS message codes. */
#define RL_CODE_CRC_ERRORS 1u
#define RL_CODE_FRAMING_ERRORS 2u
#define RL_CODE_UNKNOWN_TYPE 3u
#define RL_CODE_BAD_VERSION 4u
#define RL_CODE_OVERSIZE 5u
#define RL_CODE_OBSERVATION_SIZE_MISMATCH 6u
#define RL_CODE_WATCHDOG 7u
#define RL_CODE_NON_FINITE_ACTION 8u
#define RL_CODE_BAD_LENGTH 9u

#define RL_ACTUATOR_MODE_RPM 0u
#define RL_ACTUATOR_MODE_NORMALISED 1u

#define RL_PARAM_OK 0u
#define RL_PARAM_UNKNOWN_ID 1u
#define RL_PARAM_OUT_OF_RANGE 2u
#define RL_PARAM_READ_ONLY 3u

typedef struct { uint32_t uptime_ms; uint32_t status_flags; } rl_heartbeat;
typedef struct {
    uint64_t timestamp_us;
    float position[3];         /* m, world ENU */
    float quaternion[4];       /* w, x, y, z; body -> world */
    float velocity[3];         /* m/s, world */
    float angular_velocity[3]; /* rad/s, body FLU */
} rl_state;
typedef struct { uint8_t mode; float motor[4]; } rl_actuator_command;
typedef struct { uint16_t count; float obs[RL_MAX_OBS]; } rl_observation;
typedef struct { uint16_t observation_sequence; uint32_t inference_us; float action[4]; } rl_action;
typedef struct { uint16_t param_id; float value; } rl_param_set;
typedef struct { uint16_t param_id; uint8_t result; float value; } rl_param_ack;
typedef struct { uint16_t code; uint8_t severity; uint32_t detail; } rl_status;

/* Payload sizes; the observation's is 4 + 4 * count. */
#define RL_HEARTBEAT_SIZE 8u
#define RL_STATE_SIZE 60u
#define RL_ACTUATOR_COMMAND_SIZE 20u
#define RL_ACTION_SIZE 24u
#define RL_PARAM_SET_SIZE 6u
#define RL_PARAM_ACK_SIZE 8u
#define RL_STATUS_SIZE 8u

/* CRC-16/IBM-3740 (CCITT-FALSE): poly 0x1021, init 0xFFFF, no reflection, xorout 0; check("123456789") = 0x29B1. */
uint16_t rl_crc16_update(uint16_t crc, const uint8_t *data, size_t len);
uint16_t rl_crc16(const uint8_t *data, size_t len);

/* COBS. Encode returns the encoded length (no delimiter), or 0 if out_cap is too small.
 * Decode (whole buffer, no delimiter inside) returns the decoded length, or -1 on a malformed input
 * or too small output. */
size_t rl_cobs_encode(const uint8_t *in, size_t len, uint8_t *out, size_t out_cap);
long rl_cobs_decode(const uint8_t *in, size_t len, uint8_t *out, size_t out_cap);

/* Payload packing (little-endian). Pack returns the payload length written to out (out must hold
 * the type's size; RL_MAX_PAYLOAD always suffices); unpack returns 1 if len is valid for the type, else 0. */
size_t rl_pack_heartbeat(const rl_heartbeat *m, uint8_t *out);
size_t rl_pack_state(const rl_state *m, uint8_t *out);
size_t rl_pack_actuator_command(const rl_actuator_command *m, uint8_t *out);
size_t rl_pack_observation(const float *obs, uint16_t count, uint8_t *out); /* 0 if count is 0 or > RL_MAX_OBS */
size_t rl_pack_action(const rl_action *m, uint8_t *out);
size_t rl_pack_param_set(const rl_param_set *m, uint8_t *out);
size_t rl_pack_param_ack(const rl_param_ack *m, uint8_t *out);
size_t rl_pack_status(const rl_status *m, uint8_t *out);
int rl_unpack_heartbeat(const uint8_t *p, size_t len, rl_heartbeat *m);
int rl_unpack_state(const uint8_t *p, size_t len, rl_state *m);
int rl_unpack_actuator_command(const uint8_t *p, size_t len, rl_actuator_command *m);
int rl_unpack_observation(const uint8_t *p, size_t len, rl_observation *m);
int rl_unpack_action(const uint8_t *p, size_t len, rl_action *m);
int rl_unpack_param_set(const uint8_t *p, size_t len, rl_param_set *m);
int rl_unpack_param_ack(const uint8_t *p, size_t len, rl_param_ack *m);
int rl_unpack_status(const uint8_t *p, size_t len, rl_status *m);
/* 1 if payload[0..len) has a valid length for type (the observation's count must match); 0 for a
 * bad length or an unknown type. */
int rl_payload_valid(uint8_t type, const uint8_t *payload, size_t len);

/* Whole frame: header + payload + CRC, COBS, trailing 0x00. Returns bytes written, 0 if the payload
 * is too long or out_cap too small. */
size_t rl_encode_frame(uint8_t type, uint8_t flags, uint16_t seq, const uint8_t *payload, size_t payload_len,
                       uint8_t *out, size_t out_cap);

/* A sender's sequence counter: SEQ_RESET on its first frame, then +1 per frame. */
typedef struct { uint16_t next_seq; uint8_t started; } rl_sender;
void rl_sender_init(rl_sender *s);
size_t rl_sender_encode(rl_sender *s, uint8_t type, const uint8_t *payload, size_t payload_len,
                        uint8_t *out, size_t out_cap);

typedef struct {
    uint32_t frames_ok;
    uint32_t crc_errors;
    uint32_t framing_errors;
    uint32_t oversize;
    uint32_t bad_version;
    uint32_t unknown_type;
    uint32_t bad_length;
    uint32_t duplicates;
    uint32_t out_of_order;
    uint32_t lost;    /* frames missing from sequence gaps */
    uint32_t resyncs; /* sender restarts seen without SEQ_RESET */
} rl_link_counters;

/* A decoded frame; payload points into the decoder and is valid until the next rl_decoder_push. */
typedef struct {
    uint8_t type;
    uint8_t flags;
    uint16_t seq;
    const uint8_t *payload;
    uint16_t payload_len;
} rl_frame;

typedef struct {
    uint8_t buf[RL_MAX_RAW_FRAME];
    uint16_t len;        /* decoded bytes so far */
    uint8_t code;        /* current COBS block code */
    uint8_t remaining;   /* data bytes left in the current block */
    uint8_t pending_zero;/* a block ended below 0xFF: a zero follows unless the frame ends */
    uint8_t started;     /* any byte of this frame seen */
    uint8_t discarding;  /* oversize: drop until the next delimiter */
    uint8_t have_seq;
    uint16_t last_seq;
    rl_link_counters counters;
} rl_decoder;

void rl_decoder_init(rl_decoder *d);
/* Feeds one wire byte. Returns 1 and fills *out when it completes a valid, in-sequence frame. */
int rl_decoder_push(rl_decoder *d, uint8_t byte, rl_frame *out);

#ifdef __cplusplus
}
#endif
#endif
