/* link_responder: the C link codec and policy forward pass answering over a tty/pty, standing in for
 * the MCU on the host. RoboRl.Serial's interop test drives it through a socat pty pair, so the C and
 * C# implementations of PROTOCOL.md meet over a real serial device, not just through vectors.
 *
 *   link_responder TTY_PATH
 *
 * On start it sends a HEARTBEAT (SEQ_RESET). Then, per received frame:
 *   OBSERVATION  -> ACTION (the observation's sequence echoed, policy output, inference time), or a
 *                   STATUS OBSERVATION_SIZE_MISMATCH (detail = expected size) if the size is wrong;
 *   PARAM_SET    -> PARAM_ACK (param 1 = watchdog_ms, 10..10000; param 2 = obs_dim, read-only);
 *   HEARTBEAT    -> HEARTBEAT (uptime, POLICY_LOADED | SELF_TEST_PASSED);
 *   STATUS with code 0x8000 -> STATUS 0x8001 whose detail is the decoder's crc_errors + framing_errors
 *                   (lets the test read the C side's error counters); anything else is ignored.
 * It exits 0 when the other end closes. Built with the test policy header (tests/policy_test_weights.h)
 * unless ROBORL_POLICY_HEADER names another generated header. */
#define _DEFAULT_SOURCE
#include "roborl_link.h"
#include "roborl_policy.h"
#ifndef ROBORL_POLICY_HEADER
#define ROBORL_POLICY_HEADER "policy_test_weights.h"
#endif
#include ROBORL_POLICY_HEADER

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static int tty = -1;
static rl_sender sender;
static uint8_t payload[RL_MAX_PAYLOAD], wire[RL_MAX_WIRE_FRAME];

static uint64_t micros(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int send_frame(uint8_t type, size_t len)
{
    size_t n = rl_sender_encode(&sender, type, payload, len, wire, sizeof wire);
    for (size_t done = 0; done < n;) {
        ssize_t w = write(tty, wire + done, n - done);
        if (w < 0) { if (errno == EINTR) continue; return 0; }
        done += (size_t)w;
    }
    return 1;
}

static void send_status(uint16_t code, uint8_t severity, uint32_t detail)
{
    rl_status s = { code, severity, detail };
    send_frame(RL_MSG_STATUS, rl_pack_status(&s, payload));
}

int main(int argc, char **argv)
{
    if (argc != 2) { fprintf(stderr, "usage: %s TTY_PATH\n", argv[0]); return 2; }
    tty = open(argv[1], O_RDWR | O_NOCTTY);
    if (tty < 0) { fprintf(stderr, "link_responder: cannot open %s: %s\n", argv[1], strerror(errno)); return 2; }
    struct termios t;
    if (tcgetattr(tty, &t) == 0) { cfmakeraw(&t); tcsetattr(tty, TCSANOW, &t); }

    const rl_policy *policy = &rl_policy_generated;
    static float scratch[RL_POLICY_SCRATCH_FLOATS(RL_POLICY_MAX_WIDTH)];
    int self_test = rl_policy_validate(policy) && rl_policy_self_test(policy, scratch, 1e-5f);
    uint32_t watchdog_ms = 100;
    uint64_t start = micros();

    static rl_decoder decoder;
    static rl_observation obs;
    rl_decoder_init(&decoder);
    rl_sender_init(&sender);
    uint32_t flags = RL_STATUS_POLICY_LOADED | (self_test ? RL_STATUS_SELF_TEST_PASSED : 0u);
    rl_heartbeat hello = { 0, flags };
    send_frame(RL_MSG_HEARTBEAT, rl_pack_heartbeat(&hello, payload));

    uint8_t buf[512];
    for (;;) {
        ssize_t n = read(tty, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break; /* EOF or EIO: the other end closed */
        for (ssize_t i = 0; i < n; i++) {
            rl_frame f;
            if (!rl_decoder_push(&decoder, buf[i], &f)) continue;
            switch (f.type) {
            case RL_MSG_OBSERVATION: {
                rl_unpack_observation(f.payload, f.payload_len, &obs);
                if (obs.count != policy->obs_dim) {
                    send_status(RL_CODE_OBSERVATION_SIZE_MISMATCH, 2, policy->obs_dim);
                    break;
                }
                rl_action a = { f.seq, 0, { 0, 0, 0, 0 } };
                uint64_t t0 = micros();
                int finite = rl_policy_forward(policy, obs.obs, a.action, scratch);
                a.inference_us = (uint32_t)(micros() - t0);
                if (!finite) { send_status(RL_CODE_NON_FINITE_ACTION, 2, f.seq); break; }
                send_frame(RL_MSG_ACTION, rl_pack_action(&a, payload));
                break;
            }
            case RL_MSG_PARAM_SET: {
                rl_param_set ps;
                rl_unpack_param_set(f.payload, f.payload_len, &ps);
                rl_param_ack ack = { ps.param_id, RL_PARAM_UNKNOWN_ID, 0.0f };
                if (ps.param_id == 1) {
                    if (ps.value >= 10.0f && ps.value <= 10000.0f) { watchdog_ms = (uint32_t)ps.value; ack.result = RL_PARAM_OK; }
                    else ack.result = RL_PARAM_OUT_OF_RANGE;
                    ack.value = (float)watchdog_ms;
                } else if (ps.param_id == 2) {
                    ack.result = RL_PARAM_READ_ONLY;
                    ack.value = (float)policy->obs_dim;
                }
                send_frame(RL_MSG_PARAM_ACK, rl_pack_param_ack(&ack, payload));
                break;
            }
            case RL_MSG_HEARTBEAT: {
                rl_heartbeat hb = { (uint32_t)((micros() - start) / 1000u), flags };
                send_frame(RL_MSG_HEARTBEAT, rl_pack_heartbeat(&hb, payload));
                break;
            }
            case RL_MSG_STATUS: {
                rl_status s;
                rl_unpack_status(f.payload, f.payload_len, &s);
                if (s.code == 0x8000u)
                    send_status(0x8001u, 0, decoder.counters.crc_errors + decoder.counters.framing_errors);
                break;
            }
            default: break;
            }
        }
    }
    close(tty);
    return 0;
}
