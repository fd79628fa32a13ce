/* libFuzzer target for the C link decoder (clang -fsanitize=fuzzer,address,undefined).
 * Every input is fed byte by byte to one decoder; each accepted frame must be well formed and must
 * survive a re-encode/decode round trip; COBS decode and every unpack run on the raw input too. */
#include "roborl_link.h"

#include <stdlib.h>
#include <string.h>

#define REQUIRE(cond) do { if (!(cond)) abort(); } while (0)

static uint8_t wire[RL_MAX_WIRE_FRAME];
static uint8_t scratch[4096];

static void check_frame(const rl_frame *f)
{
    REQUIRE(f->payload_len <= RL_MAX_PAYLOAD);
    REQUIRE(rl_payload_valid(f->type, f->payload, f->payload_len));
    size_t n = rl_encode_frame(f->type, f->flags, f->seq, f->payload, f->payload_len, wire, sizeof wire);
    REQUIRE(n > 0 && n <= RL_MAX_WIRE_FRAME && wire[n - 1] == 0 && memchr(wire, 0, n - 1) == NULL);
    long raw = rl_cobs_decode(wire, n - 1, scratch, sizeof scratch);
    REQUIRE(raw == (long)(RL_HEADER_SIZE + f->payload_len + RL_CRC_SIZE));
    REQUIRE(memcmp(scratch + RL_HEADER_SIZE, f->payload, f->payload_len) == 0);
    static rl_observation obs; rl_state st; rl_heartbeat hb; rl_actuator_command ac; rl_action a;
    rl_param_set ps; rl_param_ack pa; rl_status s;
    int ok = 0;
    switch (f->type) {
    case RL_MSG_HEARTBEAT: ok = rl_unpack_heartbeat(f->payload, f->payload_len, &hb); break;
    case RL_MSG_STATE: ok = rl_unpack_state(f->payload, f->payload_len, &st); break;
    case RL_MSG_ACTUATOR_COMMAND: ok = rl_unpack_actuator_command(f->payload, f->payload_len, &ac); break;
    case RL_MSG_OBSERVATION: ok = rl_unpack_observation(f->payload, f->payload_len, &obs); break;
    case RL_MSG_ACTION: ok = rl_unpack_action(f->payload, f->payload_len, &a); break;
    case RL_MSG_PARAM_SET: ok = rl_unpack_param_set(f->payload, f->payload_len, &ps); break;
    case RL_MSG_PARAM_ACK: ok = rl_unpack_param_ack(f->payload, f->payload_len, &pa); break;
    case RL_MSG_STATUS: ok = rl_unpack_status(f->payload, f->payload_len, &s); break;
    default: abort();
    }
    REQUIRE(ok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static rl_decoder d;
    rl_decoder_init(&d);
    rl_frame f;
    uint32_t frames = 0;
    for (size_t i = 0; i < size; i++) {
        if (rl_decoder_push(&d, data[i], &f)) { frames++; check_frame(&f); }
        REQUIRE(d.len <= RL_MAX_RAW_FRAME);
    }
    REQUIRE(d.counters.frames_ok == frames);

    /* Whole-buffer COBS decode must stay inside its output. */
    (void)rl_cobs_decode(data, size, scratch, sizeof scratch);

    /* Unpackers on arbitrary payloads: they check the length themselves. */
    static rl_observation obs;
    (void)rl_unpack_observation(data, size, &obs);
    rl_state st; (void)rl_unpack_state(data, size, &st);
    return 0;
}
