/* RoboRl serial link v1 codec (PROTOCOL.md). No malloc, no stdio. */
#include "roborl_link.h"

#include <string.h>

/* ---- little-endian helpers (bytewise, so host endianness and alignment do not matter) ---- */
static void put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static void put_u64(uint8_t *p, uint64_t v) { put_u32(p, (uint32_t)v); put_u32(p + 4, (uint32_t)(v >> 32)); }
static void put_f32(uint8_t *p, float f) { uint32_t v; memcpy(&v, &f, 4); put_u32(p, v); }
static uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t get_u64(const uint8_t *p) { return (uint64_t)get_u32(p) | ((uint64_t)get_u32(p + 4) << 32); }
static float get_f32(const uint8_t *p) { uint32_t v = get_u32(p); float f; memcpy(&f, &v, 4); return f; }

/* ---- CRC-16/IBM-3740, bitwise: 8 shifts per byte is cheap next to a UART byte time ---- */
uint16_t rl_crc16_update(uint16_t crc, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)(data[i] << 8);
        for (int bit = 0; bit < 8; bit++)
            crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
    }
    return crc;
}

uint16_t rl_crc16(const uint8_t *data, size_t len) { return rl_crc16_update(0xFFFFu, data, len); }

/* ---- COBS ---- */
size_t rl_cobs_encode(const uint8_t *in, size_t len, uint8_t *out, size_t out_cap)
{
    size_t code_at = 0, w = 1;
    uint8_t code = 1;
    if (out_cap < 1) return 0;
    for (size_t i = 0; i < len; i++) {
        if (in[i] == 0) {
            out[code_at] = code;
            code = 1;
            code_at = w++;
            if (w > out_cap) return 0;
        } else {
            if (w >= out_cap) return 0;
            out[w++] = in[i];
            if (++code == 0xFF) {
                out[code_at] = code;
                code = 1;
                code_at = w++;
                if (w > out_cap) return 0;
            }
        }
    }
    out[code_at] = code;
    return w;
}

long rl_cobs_decode(const uint8_t *in, size_t len, uint8_t *out, size_t out_cap)
{
    size_t r = 0, w = 0;
    while (r < len) {
        uint8_t code = in[r++];
        if (code == 0) return -1;
        for (uint8_t k = 1; k < code; k++) {
            if (r >= len || in[r] == 0 || w >= out_cap) return -1;
            out[w++] = in[r++];
        }
        if (code < 0xFF && r < len) {
            if (w >= out_cap) return -1;
            out[w++] = 0;
        }
    }
    return (long)w;
}

/* ---- payloads ---- */
size_t rl_pack_heartbeat(const rl_heartbeat *m, uint8_t *out)
{
    put_u32(out, m->uptime_ms);
    put_u32(out + 4, m->status_flags);
    return RL_HEARTBEAT_SIZE;
}

size_t rl_pack_state(const rl_state *m, uint8_t *out)
{
    put_u64(out, m->timestamp_us);
    for (int i = 0; i < 3; i++) put_f32(out + 8 + 4 * i, m->position[i]);
    for (int i = 0; i < 4; i++) put_f32(out + 20 + 4 * i, m->quaternion[i]);
    for (int i = 0; i < 3; i++) put_f32(out + 36 + 4 * i, m->velocity[i]);
    for (int i = 0; i < 3; i++) put_f32(out + 48 + 4 * i, m->angular_velocity[i]);
    return RL_STATE_SIZE;
}

size_t rl_pack_actuator_command(const rl_actuator_command *m, uint8_t *out)
{
    out[0] = m->mode; out[1] = 0; out[2] = 0; out[3] = 0;
    for (int i = 0; i < 4; i++) put_f32(out + 4 + 4 * i, m->motor[i]);
    return RL_ACTUATOR_COMMAND_SIZE;
}

size_t rl_pack_observation(const float *obs, uint16_t count, uint8_t *out)
{
    if (count == 0 || count > RL_MAX_OBS) return 0;
    put_u16(out, count);
    put_u16(out + 2, 0);
    for (uint16_t i = 0; i < count; i++) put_f32(out + 4 + 4 * i, obs[i]);
    return 4u + 4u * count;
}

size_t rl_pack_action(const rl_action *m, uint8_t *out)
{
    put_u16(out, m->observation_sequence);
    put_u16(out + 2, 0);
    put_u32(out + 4, m->inference_us);
    for (int i = 0; i < 4; i++) put_f32(out + 8 + 4 * i, m->action[i]);
    return RL_ACTION_SIZE;
}

size_t rl_pack_param_set(const rl_param_set *m, uint8_t *out)
{
    put_u16(out, m->param_id);
    put_f32(out + 2, m->value);
    return RL_PARAM_SET_SIZE;
}

size_t rl_pack_param_ack(const rl_param_ack *m, uint8_t *out)
{
    put_u16(out, m->param_id);
    out[2] = m->result;
    out[3] = 0;
    put_f32(out + 4, m->value);
    return RL_PARAM_ACK_SIZE;
}

size_t rl_pack_status(const rl_status *m, uint8_t *out)
{
    put_u16(out, m->code);
    out[2] = m->severity;
    out[3] = 0;
    put_u32(out + 4, m->detail);
    return RL_STATUS_SIZE;
}

int rl_payload_valid(uint8_t type, const uint8_t *p, size_t len)
{
    switch (type) {
    case RL_MSG_HEARTBEAT: return len == RL_HEARTBEAT_SIZE;
    case RL_MSG_STATE: return len == RL_STATE_SIZE;
    case RL_MSG_ACTUATOR_COMMAND: return len == RL_ACTUATOR_COMMAND_SIZE;
    case RL_MSG_ACTION: return len == RL_ACTION_SIZE;
    case RL_MSG_PARAM_SET: return len == RL_PARAM_SET_SIZE;
    case RL_MSG_PARAM_ACK: return len == RL_PARAM_ACK_SIZE;
    case RL_MSG_STATUS: return len == RL_STATUS_SIZE;
    case RL_MSG_OBSERVATION: {
        if (len < 4) return 0;
        uint16_t count = get_u16(p);
        return count >= 1 && count <= RL_MAX_OBS && len == 4u + 4u * count;
    }
    default: return 0;
    }
}

int rl_unpack_heartbeat(const uint8_t *p, size_t len, rl_heartbeat *m)
{
    if (len != RL_HEARTBEAT_SIZE) return 0;
    m->uptime_ms = get_u32(p);
    m->status_flags = get_u32(p + 4);
    return 1;
}

int rl_unpack_state(const uint8_t *p, size_t len, rl_state *m)
{
    if (len != RL_STATE_SIZE) return 0;
    m->timestamp_us = get_u64(p);
    for (int i = 0; i < 3; i++) m->position[i] = get_f32(p + 8 + 4 * i);
    for (int i = 0; i < 4; i++) m->quaternion[i] = get_f32(p + 20 + 4 * i);
    for (int i = 0; i < 3; i++) m->velocity[i] = get_f32(p + 36 + 4 * i);
    for (int i = 0; i < 3; i++) m->angular_velocity[i] = get_f32(p + 48 + 4 * i);
    return 1;
}

int rl_unpack_actuator_command(const uint8_t *p, size_t len, rl_actuator_command *m)
{
    if (len != RL_ACTUATOR_COMMAND_SIZE) return 0;
    m->mode = p[0];
    for (int i = 0; i < 4; i++) m->motor[i] = get_f32(p + 4 + 4 * i);
    return 1;
}

int rl_unpack_observation(const uint8_t *p, size_t len, rl_observation *m)
{
    if (!rl_payload_valid(RL_MSG_OBSERVATION, p, len)) return 0;
    m->count = get_u16(p);
    for (uint16_t i = 0; i < m->count; i++) m->obs[i] = get_f32(p + 4 + 4 * i);
    return 1;
}

int rl_unpack_action(const uint8_t *p, size_t len, rl_action *m)
{
    if (len != RL_ACTION_SIZE) return 0;
    m->observation_sequence = get_u16(p);
    m->inference_us = get_u32(p + 4);
    for (int i = 0; i < 4; i++) m->action[i] = get_f32(p + 8 + 4 * i);
    return 1;
}

int rl_unpack_param_set(const uint8_t *p, size_t len, rl_param_set *m)
{
    if (len != RL_PARAM_SET_SIZE) return 0;
    m->param_id = get_u16(p);
    m->value = get_f32(p + 2);
    return 1;
}

int rl_unpack_param_ack(const uint8_t *p, size_t len, rl_param_ack *m)
{
    if (len != RL_PARAM_ACK_SIZE) return 0;
    m->param_id = get_u16(p);
    m->result = p[2];
    m->value = get_f32(p + 4);
    return 1;
}

int rl_unpack_status(const uint8_t *p, size_t len, rl_status *m)
{
    if (len != RL_STATUS_SIZE) return 0;
    m->code = get_u16(p);
    m->severity = p[2];
    m->detail = get_u32(p + 4);
    return 1;
}

/* ---- frames ---- */
size_t rl_encode_frame(uint8_t type, uint8_t flags, uint16_t seq, const uint8_t *payload, size_t payload_len,
                       uint8_t *out, size_t out_cap)
{
    /* COBS works in a single forward pass, so the raw frame is streamed through it without a
     * second 1 KB buffer: header, payload and CRC are fed as three pieces. */
    uint8_t head[RL_HEADER_SIZE], tail[RL_CRC_SIZE];
    if (payload_len > RL_MAX_PAYLOAD) return 0;
    head[0] = RL_LINK_VERSION; head[1] = type; head[2] = flags;
    put_u16(head + 3, seq);
    put_u16(head + 5, (uint16_t)payload_len);
    uint16_t crc = rl_crc16_update(0xFFFFu, head, sizeof head);
    crc = rl_crc16_update(crc, payload, payload_len);
    put_u16(tail, crc);

    const uint8_t *pieces[3] = { head, payload, tail };
    size_t lens[3] = { sizeof head, payload_len, sizeof tail };
    size_t code_at = 0, w = 1;
    uint8_t code = 1;
    if (out_cap < 2) return 0;
    for (int piece = 0; piece < 3; piece++) {
        for (size_t i = 0; i < lens[piece]; i++) {
            uint8_t b = pieces[piece][i];
            if (b == 0) {
                out[code_at] = code; code = 1; code_at = w++;
                if (w > out_cap) return 0;
            } else {
                if (w >= out_cap) return 0;
                out[w++] = b;
                if (++code == 0xFF) {
                    out[code_at] = code; code = 1; code_at = w++;
                    if (w > out_cap) return 0;
                }
            }
        }
    }
    out[code_at] = code;
    if (w >= out_cap) return 0;
    out[w++] = 0x00;
    return w;
}

void rl_sender_init(rl_sender *s) { s->next_seq = 0; s->started = 0; }

size_t rl_sender_encode(rl_sender *s, uint8_t type, const uint8_t *payload, size_t payload_len,
                        uint8_t *out, size_t out_cap)
{
    uint8_t flags = (uint8_t)(s->started ? 0u : RL_FLAG_SEQ_RESET);
    size_t n = rl_encode_frame(type, flags, s->next_seq, payload, payload_len, out, out_cap);
    if (n) { s->started = 1; s->next_seq++; }
    return n;
}

/* ---- decoder ---- */
void rl_decoder_init(rl_decoder *d) { memset(d, 0, sizeof *d); }

static void reset_frame(rl_decoder *d)
{
    d->len = 0; d->code = 0; d->remaining = 0; d->pending_zero = 0; d->started = 0;
}

static int append(rl_decoder *d, uint8_t b)
{
    if (d->len >= RL_MAX_RAW_FRAME) {
        d->counters.oversize++;
        d->discarding = 1;
        return 0;
    }
    d->buf[d->len++] = b;
    return 1;
}

/* A complete COBS frame is in d->buf: check it as PROTOCOL.md's "Receiver error classes" lists. */
static int finish_frame(rl_decoder *d, rl_frame *out)
{
    rl_link_counters *c = &d->counters;
    const uint8_t *b = d->buf;
    size_t n = d->len;
    if (d->remaining != 0 || n < RL_HEADER_SIZE + RL_CRC_SIZE) { c->framing_errors++; return 0; }
    if (rl_crc16(b, n - RL_CRC_SIZE) != get_u16(b + n - RL_CRC_SIZE)) { c->crc_errors++; return 0; }
    if (b[0] != RL_LINK_VERSION) { c->bad_version++; return 0; }
    uint16_t payload_len = get_u16(b + 5);
    if (payload_len != n - RL_HEADER_SIZE - RL_CRC_SIZE) { c->framing_errors++; return 0; }
    uint8_t type = b[1];
    if (type < RL_MSG_HEARTBEAT || type > RL_MSG_STATUS) { c->unknown_type++; return 0; }
    if (!rl_payload_valid(type, b + RL_HEADER_SIZE, payload_len)) { c->bad_length++; return 0; }

    uint8_t flags = b[2];
    uint16_t seq = get_u16(b + 3);
    if (d->have_seq) {
        int16_t diff = (int16_t)(uint16_t)(seq - d->last_seq);
        if (diff == 0) { c->duplicates++; return 0; }
    }
    if (d->have_seq && !(flags & RL_FLAG_SEQ_RESET)) {
        int16_t diff = (int16_t)(uint16_t)(seq - d->last_seq);
        if (diff < 0 && diff >= -RL_SEQ_REPLAY_WINDOW) { c->out_of_order++; return 0; }
        if (diff < 0) c->resyncs++;
        else c->lost += (uint32_t)(diff - 1);
    }
    d->have_seq = 1;
    d->last_seq = seq;
    c->frames_ok++;
    out->type = type;
    out->flags = flags;
    out->seq = seq;
    out->payload = b + RL_HEADER_SIZE;
    out->payload_len = payload_len;
    return 1;
}

int rl_decoder_push(rl_decoder *d, uint8_t byte, rl_frame *out)
{
    if (byte == 0x00) {
        int ok = 0;
        if (d->discarding) d->discarding = 0;
        else if (d->started) ok = finish_frame(d, out); /* an empty frame (0x00 0x00) is ignored */
        reset_frame(d);
        return ok;
    }
    if (d->discarding) return 0;
    d->started = 1;
    if (d->remaining == 0) {
        /* A code byte: the previous block's implied zero is data only now that the frame goes on. */
        if (d->pending_zero && !append(d, 0)) return 0;
        d->code = byte;
        d->remaining = (uint8_t)(byte - 1);
        d->pending_zero = (d->remaining == 0 && byte < 0xFF);
        return 0;
    }
    if (!append(d, byte)) return 0;
    if (--d->remaining == 0) d->pending_zero = d->code < 0xFF;
    return 0;
}
