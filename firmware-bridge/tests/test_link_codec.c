/* Unit tests of the C link codec: CRC, COBS, payload round trips, decoder error classes and
 * sequence rules, resynchronisation after garbage. */
#include "roborl_link.h"
#include "check.h"

#include <string.h>

static uint8_t wire[RL_MAX_WIRE_FRAME];

/* Feeds bytes; returns how many valid frames came out (the last one in *last). */
static int feed(rl_decoder *d, const uint8_t *bytes, size_t n, rl_frame *last)
{
    int frames = 0;
    for (size_t i = 0; i < n; i++) frames += rl_decoder_push(d, bytes[i], last);
    return frames;
}

static size_t heartbeat_frame(uint8_t flags, uint16_t seq, uint32_t uptime)
{
    uint8_t payload[RL_HEARTBEAT_SIZE];
    rl_heartbeat hb = { uptime, RL_STATUS_ARMED };
    rl_pack_heartbeat(&hb, payload);
    return rl_encode_frame(RL_MSG_HEARTBEAT, flags, seq, payload, sizeof payload, wire, sizeof wire);
}

static void test_crc(void)
{
    CHECK(rl_crc16((const uint8_t *)"123456789", 9) == 0x29B1);
    CHECK(rl_crc16((const uint8_t *)"", 0) == 0xFFFF);
    /* Incremental equals one-shot. */
    uint16_t c = rl_crc16_update(0xFFFF, (const uint8_t *)"1234", 4);
    CHECK(rl_crc16_update(c, (const uint8_t *)"56789", 5) == 0x29B1);
}

static void test_cobs_round_trip_all_lengths(void)
{
    static uint8_t raw[600], enc[700], dec[700];
    for (size_t len = 0; len <= 600; len++) {
        for (size_t i = 0; i < len; i++) raw[i] = (uint8_t)((i * 37u + len) % 7u == 0 ? 0 : (i * 13u + 1u));
        size_t e = rl_cobs_encode(raw, len, enc, sizeof enc);
        CHECK(e >= len + 1 && e <= len + 1 + len / 254);
        CHECK(memchr(enc, 0, e) == NULL);
        long d = rl_cobs_decode(enc, e, dec, sizeof dec);
        CHECK_MSG(d == (long)len && memcmp(raw, dec, len) == 0, "len %zu", len);
    }
    /* Too small an output buffer is reported, never overrun. */
    memset(raw, 0x11, 300);
    CHECK(rl_cobs_encode(raw, 300, enc, 301) == 0);
    CHECK(rl_cobs_encode(raw, 300, enc, 302) == 302);
}

static void test_every_message_round_trips(void)
{
    uint8_t payload[RL_MAX_PAYLOAD];
    rl_decoder d; rl_decoder_init(&d);
    rl_sender s; rl_sender_init(&s);
    rl_frame f;

    rl_state st = { 123456789012ull, { 1, 2, 3 }, { 0.5f, 0.5f, -0.5f, 0.5f }, { -1, 0, 1 }, { 0.1f, 0.2f, 0.3f } };
    size_t n = rl_sender_encode(&s, RL_MSG_STATE, payload, rl_pack_state(&st, payload), wire, sizeof wire);
    CHECK(feed(&d, wire, n, &f) == 1 && f.type == RL_MSG_STATE && f.seq == 0 && (f.flags & RL_FLAG_SEQ_RESET));
    rl_state st2; CHECK(rl_unpack_state(f.payload, f.payload_len, &st2));
    CHECK(st2.timestamp_us == st.timestamp_us && memcmp(st.position, st2.position, sizeof st.position) == 0
          && memcmp(st.quaternion, st2.quaternion, sizeof st.quaternion) == 0
          && memcmp(st.velocity, st2.velocity, sizeof st.velocity) == 0
          && memcmp(st.angular_velocity, st2.angular_velocity, sizeof st.angular_velocity) == 0);

    float obs[146];
    for (int i = 0; i < 146; i++) obs[i] = (float)i * 0.01f - 0.7f;
    n = rl_sender_encode(&s, RL_MSG_OBSERVATION, payload, rl_pack_observation(obs, 146, payload), wire, sizeof wire);
    CHECK(feed(&d, wire, n, &f) == 1 && f.type == RL_MSG_OBSERVATION && f.seq == 1 && f.flags == 0);
    static rl_observation o; CHECK(rl_unpack_observation(f.payload, f.payload_len, &o));
    CHECK(o.count == 146 && memcmp(o.obs, obs, sizeof obs) == 0);

    rl_action a = { 1, 250, { -1, 1, 0.25f, 0 } }, a2;
    n = rl_sender_encode(&s, RL_MSG_ACTION, payload, rl_pack_action(&a, payload), wire, sizeof wire);
    CHECK(feed(&d, wire, n, &f) == 1 && rl_unpack_action(f.payload, f.payload_len, &a2));
    CHECK(a2.observation_sequence == 1 && a2.inference_us == 250 && memcmp(a.action, a2.action, sizeof a.action) == 0);

    rl_actuator_command ac = { RL_ACTUATOR_MODE_RPM, { 1, 2, 3, 4 } }, ac2;
    n = rl_sender_encode(&s, RL_MSG_ACTUATOR_COMMAND, payload, rl_pack_actuator_command(&ac, payload), wire, sizeof wire);
    CHECK(feed(&d, wire, n, &f) == 1 && rl_unpack_actuator_command(f.payload, f.payload_len, &ac2) && ac2.motor[3] == 4);

    rl_param_set ps = { 7, 2.5f }, ps2;
    n = rl_sender_encode(&s, RL_MSG_PARAM_SET, payload, rl_pack_param_set(&ps, payload), wire, sizeof wire);
    CHECK(feed(&d, wire, n, &f) == 1 && rl_unpack_param_set(f.payload, f.payload_len, &ps2) && ps2.param_id == 7 && ps2.value == 2.5f);

    rl_param_ack pa = { 7, RL_PARAM_OK, 2.5f }, pa2;
    n = rl_sender_encode(&s, RL_MSG_PARAM_ACK, payload, rl_pack_param_ack(&pa, payload), wire, sizeof wire);
    CHECK(feed(&d, wire, n, &f) == 1 && rl_unpack_param_ack(f.payload, f.payload_len, &pa2) && pa2.result == RL_PARAM_OK);

    rl_status stt = { RL_CODE_WATCHDOG, 1, 100 }, stt2;
    n = rl_sender_encode(&s, RL_MSG_STATUS, payload, rl_pack_status(&stt, payload), wire, sizeof wire);
    CHECK(feed(&d, wire, n, &f) == 1 && rl_unpack_status(f.payload, f.payload_len, &stt2) && stt2.detail == 100);

    CHECK(d.counters.frames_ok == 7 && d.counters.lost == 0);
    /* Unpack refuses a wrong length. */
    CHECK(!rl_unpack_heartbeat(payload, 7, &(rl_heartbeat){ 0, 0 }));
    CHECK(rl_pack_observation(obs, 0, payload) == 0 && rl_pack_observation(obs, 256, payload) == 0);
}

static void test_sequence_rules(void)
{
    rl_decoder d; rl_decoder_init(&d);
    rl_frame f;
    size_t n = heartbeat_frame(RL_FLAG_SEQ_RESET, 100, 1);
    CHECK(feed(&d, wire, n, &f) == 1);
    CHECK(feed(&d, wire, n, &f) == 0 && d.counters.duplicates == 1);     /* same frame again */
    n = heartbeat_frame(0, 104, 2);
    CHECK(feed(&d, wire, n, &f) == 1 && d.counters.lost == 3);           /* 101..103 missing */
    n = heartbeat_frame(0, 102, 3);
    CHECK(feed(&d, wire, n, &f) == 0 && d.counters.out_of_order == 1);   /* late */
    n = heartbeat_frame(0, 5, 4);
    CHECK(feed(&d, wire, n, &f) == 1 && d.counters.resyncs == 1);        /* far behind: sender restarted */
    n = heartbeat_frame(RL_FLAG_SEQ_RESET, 4, 5);
    CHECK(feed(&d, wire, n, &f) == 1);                                   /* SEQ_RESET always accepted */
    n = heartbeat_frame(0, 65535, 6);
    CHECK(feed(&d, wire, n, &f) == 0 && d.counters.out_of_order == 2);  /* 65535 is 5 behind 4 */
    n = heartbeat_frame(RL_FLAG_SEQ_RESET, 65535, 6);
    CHECK(feed(&d, wire, n, &f) == 1);
    n = heartbeat_frame(0, 0, 7);
    size_t lost = d.counters.lost;
    CHECK(feed(&d, wire, n, &f) == 1 && d.counters.lost == lost);        /* wrap 65535 -> 0 is no gap */
}

static void test_resync_after_garbage(void)
{
    rl_decoder d; rl_decoder_init(&d);
    rl_frame f;
    uint8_t garbage[3000];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof garbage; i++) { x = x * 1103515245u + 12345u; garbage[i] = (uint8_t)(x >> 16); }
    feed(&d, garbage, sizeof garbage, &f);
    /* The first frame may be merged with the garbage's tail; the second must come through. */
    size_t n = heartbeat_frame(RL_FLAG_SEQ_RESET, 1, 1);
    int got = feed(&d, wire, n, &f);
    n = heartbeat_frame(RL_FLAG_SEQ_RESET, 2, 2);
    got += feed(&d, wire, n, &f);
    CHECK(got >= 1 && f.seq == 2);
    /* Without zeros in the garbage the decoder reports oversize and still recovers. */
    rl_decoder_init(&d);
    memset(garbage, 0x55, sizeof garbage);
    feed(&d, garbage, sizeof garbage, &f);
    CHECK(d.counters.oversize == 1);
    n = heartbeat_frame(RL_FLAG_SEQ_RESET, 3, 3);
    CHECK(feed(&d, wire, n, &f) == 0);  /* its bytes complete the discarded run */
    CHECK(feed(&d, wire, n, &f) == 1 && f.seq == 3);
    /* Empty frames are ignored, not errors. */
    uint8_t zeros[4] = { 0 };
    feed(&d, zeros, 4, &f);
    CHECK(d.counters.framing_errors == 0);
}

int main(void)
{
    test_crc();
    test_cobs_round_trip_all_lengths();
    test_every_message_round_trips();
    test_sequence_rules();
    test_resync_after_garbage();
    return CHECK_DONE();
}
