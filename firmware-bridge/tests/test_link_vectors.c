/* Checks the C codec against the golden vectors shared with the C# tests (tests/vectors/link_v1.txt,
 * format in PROTOCOL.md): encoders must produce the exact wire bytes, decoders must recover the exact
 * fields (compared bit for bit), and reject cases must land in the named error class. */
#include "roborl_link.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

#define MAX_TOKENS 32

typedef struct { char *key; char *value; } token;
static token toks[MAX_TOKENS];
static int ntoks;

static const char *get(const char *key)
{
    for (int i = 0; i < ntoks; i++) if (strcmp(toks[i].key, key) == 0) return toks[i].value;
    return NULL;
}

static const char *need(const char *key)
{
    const char *v = get(key);
    if (!v) { fprintf(stderr, "vector %s: missing field %s\n", get("name"), key); exit(2); }
    return v;
}

static size_t hex(const char *s, uint8_t *out, size_t cap)
{
    if (strcmp(s, "-") == 0) return 0;
    size_t n = strlen(s) / 2;
    if (n > cap) { fprintf(stderr, "hex too long\n"); exit(2); }
    for (size_t i = 0; i < n; i++) { char b[3] = { s[2 * i], s[2 * i + 1], 0 }; out[i] = (uint8_t)strtoul(b, NULL, 16); }
    return n;
}

static unsigned long long num(const char *key) { return strtoull(need(key), NULL, 0); }

/* Parses a comma list of floats; returns the count. */
static int floats(const char *key, float *out, int cap)
{
    const char *s = need(key);
    int n = 0;
    while (*s && n < cap) {
        char *end;
        out[n++] = strtof(s, &end);
        s = (*end == ',') ? end + 1 : end;
    }
    return n;
}

static int same_bits(const float *a, const float *b, int n) { return memcmp(a, b, sizeof(float) * (size_t)n) == 0; }

static uint8_t payload[RL_MAX_PAYLOAD], expected[RL_MAX_WIRE_FRAME + 1200], encoded[RL_MAX_WIRE_FRAME];
static float fl[RL_MAX_OBS];

static void frame_case(const char *name)
{
    const char *type = need("type");
    size_t expected_len = hex(need("wire"), expected, sizeof expected);
    size_t plen = 0;
    uint8_t type_id = 0;
    rl_heartbeat hb; rl_state st; rl_actuator_command ac; rl_action act; rl_param_set ps; rl_param_ack pa; rl_status stt;
    int obs_count = 0;
    if (strcmp(type, "heartbeat") == 0) {
        type_id = RL_MSG_HEARTBEAT; hb.uptime_ms = (uint32_t)num("uptime_ms"); hb.status_flags = (uint32_t)num("status_flags");
        plen = rl_pack_heartbeat(&hb, payload);
    } else if (strcmp(type, "state") == 0) {
        type_id = RL_MSG_STATE; st.timestamp_us = num("timestamp_us");
        floats("position", st.position, 3); floats("quaternion", st.quaternion, 4);
        floats("velocity", st.velocity, 3); floats("angular_velocity", st.angular_velocity, 3);
        plen = rl_pack_state(&st, payload);
    } else if (strcmp(type, "actuator_command") == 0) {
        type_id = RL_MSG_ACTUATOR_COMMAND; ac.mode = (uint8_t)num("mode"); floats("motor", ac.motor, 4);
        plen = rl_pack_actuator_command(&ac, payload);
    } else if (strcmp(type, "observation") == 0) {
        type_id = RL_MSG_OBSERVATION; obs_count = floats("obs", fl, RL_MAX_OBS);
        plen = rl_pack_observation(fl, (uint16_t)obs_count, payload);
    } else if (strcmp(type, "action") == 0) {
        type_id = RL_MSG_ACTION; act.observation_sequence = (uint16_t)num("observation_sequence");
        act.inference_us = (uint32_t)num("inference_us"); floats("action", act.action, 4);
        plen = rl_pack_action(&act, payload);
    } else if (strcmp(type, "param_set") == 0) {
        type_id = RL_MSG_PARAM_SET; ps.param_id = (uint16_t)num("param_id"); floats("value", &ps.value, 1);
        plen = rl_pack_param_set(&ps, payload);
    } else if (strcmp(type, "param_ack") == 0) {
        type_id = RL_MSG_PARAM_ACK; pa.param_id = (uint16_t)num("param_id"); pa.result = (uint8_t)num("result");
        floats("value", &pa.value, 1); plen = rl_pack_param_ack(&pa, payload);
    } else if (strcmp(type, "status") == 0) {
        type_id = RL_MSG_STATUS; stt.code = (uint16_t)num("code"); stt.severity = (uint8_t)num("severity");
        stt.detail = (uint32_t)num("detail"); plen = rl_pack_status(&stt, payload);
    } else {
        fprintf(stderr, "vector %s: unknown type %s\n", name, type); exit(2);
    }
    size_t n = rl_encode_frame(type_id, (uint8_t)num("flags"), (uint16_t)num("seq"), payload, plen, encoded, sizeof encoded);
    CHECK_MSG(n == expected_len && memcmp(encoded, expected, n) == 0, "encode %s", name);

    rl_decoder d; rl_decoder_init(&d);
    rl_frame f; int frames = 0;
    for (size_t i = 0; i < expected_len; i++) frames += rl_decoder_push(&d, expected[i], &f);
    CHECK_MSG(frames == 1, "decode %s: %d frames", name, frames);
    if (frames != 1) return;
    CHECK_MSG(f.type == type_id && f.seq == num("seq") && f.flags == num("flags"), "header %s", name);
    int ok = 0;
    switch (type_id) {
    case RL_MSG_HEARTBEAT: { rl_heartbeat x; ok = rl_unpack_heartbeat(f.payload, f.payload_len, &x)
        && x.uptime_ms == hb.uptime_ms && x.status_flags == hb.status_flags; break; }
    case RL_MSG_STATE: { rl_state x; ok = rl_unpack_state(f.payload, f.payload_len, &x) && x.timestamp_us == st.timestamp_us
        && same_bits(x.position, st.position, 3) && same_bits(x.quaternion, st.quaternion, 4)
        && same_bits(x.velocity, st.velocity, 3) && same_bits(x.angular_velocity, st.angular_velocity, 3); break; }
    case RL_MSG_ACTUATOR_COMMAND: { rl_actuator_command x; ok = rl_unpack_actuator_command(f.payload, f.payload_len, &x)
        && x.mode == ac.mode && same_bits(x.motor, ac.motor, 4); break; }
    case RL_MSG_OBSERVATION: { static rl_observation x; ok = rl_unpack_observation(f.payload, f.payload_len, &x)
        && x.count == obs_count && same_bits(x.obs, fl, obs_count); break; }
    case RL_MSG_ACTION: { rl_action x; ok = rl_unpack_action(f.payload, f.payload_len, &x)
        && x.observation_sequence == act.observation_sequence && x.inference_us == act.inference_us
        && same_bits(x.action, act.action, 4); break; }
    case RL_MSG_PARAM_SET: { rl_param_set x; ok = rl_unpack_param_set(f.payload, f.payload_len, &x)
        && x.param_id == ps.param_id && same_bits(&x.value, &ps.value, 1); break; }
    case RL_MSG_PARAM_ACK: { rl_param_ack x; ok = rl_unpack_param_ack(f.payload, f.payload_len, &x)
        && x.param_id == pa.param_id && x.result == pa.result && same_bits(&x.value, &pa.value, 1); break; }
    case RL_MSG_STATUS: { rl_status x; ok = rl_unpack_status(f.payload, f.payload_len, &x)
        && x.code == stt.code && x.severity == stt.severity && x.detail == stt.detail; break; }
    }
    CHECK_MSG(ok, "fields of %s", name);
}

static void reject_case(const char *name)
{
    size_t n = hex(need("wire"), expected, sizeof expected);
    rl_decoder d; rl_decoder_init(&d);
    rl_frame f; int frames = 0;
    for (size_t i = 0; i < n; i++) frames += rl_decoder_push(&d, expected[i], &f);
    const char *e = need("expect");
    const rl_link_counters *c = &d.counters;
    uint32_t errors = c->crc_errors + c->framing_errors + c->oversize + c->bad_version + c->unknown_type + c->bad_length;
    uint32_t hit = strcmp(e, "crc") == 0 ? c->crc_errors : strcmp(e, "framing") == 0 ? c->framing_errors
                 : strcmp(e, "oversize") == 0 ? c->oversize : strcmp(e, "bad_version") == 0 ? c->bad_version
                 : strcmp(e, "unknown_type") == 0 ? c->unknown_type : strcmp(e, "bad_length") == 0 ? c->bad_length : 999;
    CHECK_MSG(frames == 0 && hit == 1 && errors == 1, "reject %s: expected one %s", name, e);
}

static void cobs_case(const char *name)
{
    static uint8_t raw[2048], enc[2048], out[2048];
    size_t rn = hex(need("raw"), raw, sizeof raw);
    size_t en = hex(need("encoded"), expected, sizeof expected);
    size_t n = rl_cobs_encode(raw, rn, enc, sizeof enc);
    CHECK_MSG(n == en && memcmp(enc, expected, n) == 0, "cobs encode %s", name);
    long dn = rl_cobs_decode(expected, en, out, sizeof out);
    CHECK_MSG(dn == (long)rn && memcmp(out, raw, rn) == 0, "cobs decode %s", name);
}

int main(int argc, char **argv)
{
    if (argc != 2) { fprintf(stderr, "usage: %s link_v1.txt\n", argv[0]); return 2; }
    FILE *file = fopen(argv[1], "r");
    if (!file) { fprintf(stderr, "cannot open vector file %s\n", argv[1]); return 2; }
    static char line[65536];
    int cases = 0, frames = 0, rejects = 0;
    while (fgets(line, sizeof line, file)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        ntoks = 0;
        for (char *t = strtok(line, " \n"); t && ntoks < MAX_TOKENS; t = strtok(NULL, " \n")) {
            char *eq = strchr(t, '=');
            if (!eq) { fprintf(stderr, "bad token %s\n", t); return 2; }
            *eq = 0; toks[ntoks].key = t; toks[ntoks].value = eq + 1; ntoks++;
        }
        const char *kind = need("kind"), *name = need("name");
        cases++;
        if (strcmp(kind, "frame") == 0) { frame_case(name); frames++; }
        else if (strcmp(kind, "reject") == 0) { reject_case(name); rejects++; }
        else if (strcmp(kind, "cobs") == 0) cobs_case(name);
        else if (strcmp(kind, "crc") == 0) CHECK(rl_crc16((const uint8_t *)need("ascii"), strlen(need("ascii"))) == strtoul(need("crc"), NULL, 16));
        else { fprintf(stderr, "unknown kind %s\n", kind); return 2; }
    }
    fclose(file);
    printf("%d vector cases (%d frames, %d rejects)\n", cases, frames, rejects);
    CHECK(frames >= 8 && rejects >= 5);
    return CHECK_DONE();
}
