/* RoboRl MLP forward pass (see roborl_policy.h for the generated header format). */
#include "roborl_policy.h"

#include <math.h>

int rl_policy_validate(const rl_policy *p)
{
    if (p->num_layers == 0 || p->layer_sizes[0] != p->obs_dim || p->layer_sizes[p->num_layers] != p->act_dim) return 0;
    for (uint16_t k = 0; k <= p->num_layers; k++)
        if (p->layer_sizes[k] == 0 || p->layer_sizes[k] > p->max_width) return 0;
    for (uint16_t k = 0; k < p->num_layers; k++)
        if (p->activations[k] > RL_ACT_TANH) return 0;
    for (uint16_t i = 0; i < p->obs_dim; i++)
        if (!(p->obs_std[i] > 0.0f)) return 0;
    return 1;
}

/* tanh(x) = sign(x) * (1 - e) / (1 + e) with e = exp(-2|x|), the formula of the C# engine (PolicyEngine.Tanh):
 * e is in (0, 1], nothing overflows, and the absolute error stays ~1e-7. |x| is capped at 10, where tanh is 1
 * in binary32. NaN stays NaN (the output check catches it). About 25 instructions on a Cortex-M4F against
 * ~60 plus a call for newlib's tanhf; the same code runs on the host, so host and MCU agree bit for bit. */
static float rl_exp_nonpositive(float y) /* e^y for -20 <= y <= 0 */
{
    /* e^y = 2^n * e^r with n = round(y / ln 2), r = y - n ln 2 (Cody-Waite split of ln 2), |r| <= 0.347;
     * e^r by its Taylor series to r^7 (truncation error < 6e-9 relative). */
    float v = y * 1.44269504f;
    int n = (int)(v - 0.5f); /* v <= 0: truncation of v - 0.5 rounds v to nearest */
    float r = (y - (float)n * 0.693145752f) - (float)n * 1.42860677e-6f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    union { uint32_t u; float f; } scale;
    scale.u = (uint32_t)(n + 127) << 23; /* 2^n, n >= -29: a normal float */
    return p * scale.f;
}

static float rl_tanh(float x)
{
    float a = x < 0.0f ? -x : x;
    if (!(a <= 10.0f)) { /* one compare on the common path: large, or NaN */
        if (a != a) return x;
        a = 10.0f;
    }
    float e = rl_exp_nonpositive(-2.0f * a);
    float t = (1.0f - e) / (1.0f + e);
    return x < 0.0f ? -t : t;
}

/* acc[r] += dot(w_r[0 .. 8 * blocks), x[0 .. 8 * blocks)) for four weight rows at once.
 * On a Cortex-M4F each block of 8 inputs is one VLDM, each block of 8 weights one VLDM, then 8 VFMAs per row:
 * ~1.2 instructions per multiply-add, where compiled C needs ~3 (VFP loads have no register offset or
 * post-increment). The rows' multiply-adds are interleaved in pairs so dependent VFMAs do not stall. */
static void rl_dot4(const float *x, const float *w0, const float *w1, const float *w2, const float *w3,
                    uint32_t blocks, float *acc)
{
#if defined(__GNUC__) && defined(__ARM_ARCH_7EM__) && defined(__ARM_FP) && !defined(ROBORL_POLICY_PORTABLE)
    if (blocks == 0) return;
    __asm__ volatile(
        "vldmia %[acc], {s0-s3}\n\t"
        "1:\n\t"
        "vldmia %[x]!, {s8-s15}\n\t"
        "vldmia %[w0]!, {s16-s23}\n\t"
        "vldmia %[w1]!, {s24-s31}\n\t"
        "vfma.f32 s0, s8, s16\n\tvfma.f32 s1, s8, s24\n\t"
        "vfma.f32 s0, s9, s17\n\tvfma.f32 s1, s9, s25\n\t"
        "vfma.f32 s0, s10, s18\n\tvfma.f32 s1, s10, s26\n\t"
        "vfma.f32 s0, s11, s19\n\tvfma.f32 s1, s11, s27\n\t"
        "vfma.f32 s0, s12, s20\n\tvfma.f32 s1, s12, s28\n\t"
        "vfma.f32 s0, s13, s21\n\tvfma.f32 s1, s13, s29\n\t"
        "vfma.f32 s0, s14, s22\n\tvfma.f32 s1, s14, s30\n\t"
        "vfma.f32 s0, s15, s23\n\tvfma.f32 s1, s15, s31\n\t"
        "vldmia %[w2]!, {s16-s23}\n\t"
        "vldmia %[w3]!, {s24-s31}\n\t"
        "vfma.f32 s2, s8, s16\n\tvfma.f32 s3, s8, s24\n\t"
        "vfma.f32 s2, s9, s17\n\tvfma.f32 s3, s9, s25\n\t"
        "vfma.f32 s2, s10, s18\n\tvfma.f32 s3, s10, s26\n\t"
        "vfma.f32 s2, s11, s19\n\tvfma.f32 s3, s11, s27\n\t"
        "vfma.f32 s2, s12, s20\n\tvfma.f32 s3, s12, s28\n\t"
        "vfma.f32 s2, s13, s21\n\tvfma.f32 s3, s13, s29\n\t"
        "vfma.f32 s2, s14, s22\n\tvfma.f32 s3, s14, s30\n\t"
        "vfma.f32 s2, s15, s23\n\tvfma.f32 s3, s15, s31\n\t"
        "subs %[n], %[n], #1\n\t"
        "bne 1b\n\t"
        "vstmia %[acc], {s0-s3}\n\t"
        : [x] "+r"(x), [w0] "+r"(w0), [w1] "+r"(w1), [w2] "+r"(w2), [w3] "+r"(w3), [n] "+r"(blocks)
        : [acc] "r"(acc)
        : "s0", "s1", "s2", "s3", "s8", "s9", "s10", "s11", "s12", "s13", "s14", "s15",
          "s16", "s17", "s18", "s19", "s20", "s21", "s22", "s23",
          "s24", "s25", "s26", "s27", "s28", "s29", "s30", "s31", "cc", "memory");
#else
    float a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    for (uint32_t i = 0; i < 8u * blocks; i++) {
        float xi = x[i];
        a0 += w0[i] * xi; a1 += w1[i] * xi; a2 += w2[i] * xi; a3 += w3[i] * xi;
    }
    acc[0] = a0; acc[1] = a1; acc[2] = a2; acc[3] = a3;
#endif
}

static float rl_activate(uint8_t activation, float v)
{
    switch (activation) {
    case RL_ACT_RELU: return v > 0.0f ? v : 0.0f;
    case RL_ACT_TANH: return rl_tanh(v);
    default: return v;
    }
}

/* out = act(W in + b) for one dense layer, W row-major [n_out][n_in]. */
static void rl_dense(const float *w, const float *b, uint8_t activation, const float *in, uint16_t n_in, uint16_t n_out, float *out)
{
    uint32_t blocks = n_in / 8u, tail = (uint32_t)n_in - 8u * blocks;
    uint16_t o = 0;
    for (; o + 4u <= n_out; o += 4u) {
        const float *r0 = w + (size_t)o * n_in, *r1 = r0 + n_in, *r2 = r1 + n_in, *r3 = r2 + n_in;
        float acc[4] = { b[o], b[o + 1u], b[o + 2u], b[o + 3u] };
        rl_dot4(in, r0, r1, r2, r3, blocks, acc);
        for (uint32_t i = 8u * blocks; i < 8u * blocks + tail; i++) {
            float xi = in[i];
            acc[0] += r0[i] * xi; acc[1] += r1[i] * xi; acc[2] += r2[i] * xi; acc[3] += r3[i] * xi;
        }
        for (uint16_t k = 0; k < 4u; k++) out[o + k] = rl_activate(activation, acc[k]);
    }
    for (; o < n_out; o++) { /* rows left over when n_out is not a multiple of 4 */
        const float *row = w + (size_t)o * n_in;
        float acc = b[o];
        for (uint16_t i = 0; i < n_in; i++) acc += row[i] * in[i];
        out[o] = rl_activate(activation, acc);
    }
}

int rl_policy_forward(const rl_policy *p, const float *obs, float *action, float *scratch)
{
    float *in = scratch, *out = scratch + p->max_width;

    /* Normalise (and clip) the observation, exactly as training saw it: divide (not multiply by 1/std) so the
     * result is bit-identical to (x - mean) / std. A non-finite input is refused: relu would turn a NaN into 0
     * and hide it. (0 * x is NaN exactly when x is NaN or infinite; one multiply-add per element finds them.) */
    float poison = 0.0f;
    for (uint16_t i = 0; i < p->obs_dim; i++) {
        poison += obs[i] * 0.0f;
        in[i] = (obs[i] - p->obs_mean[i]) / p->obs_std[i];
    }
    int finite = poison == 0.0f;
    if (p->obs_clip > 0.0f)
        for (uint16_t i = 0; i < p->obs_dim; i++)
            in[i] = in[i] > p->obs_clip ? p->obs_clip : (in[i] < -p->obs_clip ? -p->obs_clip : in[i]);

    for (uint16_t k = 0; k < p->num_layers; k++) {
        rl_dense(p->weights[k], p->biases[k], p->activations[k], in, p->layer_sizes[k], p->layer_sizes[k + 1], out);
        float *t = in; in = out; out = t;
    }

    for (uint16_t j = 0; j < p->act_dim; j++) {
        float a = in[j];
        if (!isfinite(a)) { finite = 0; action[j] = a; continue; }
        action[j] = a > 1.0f ? 1.0f : (a < -1.0f ? -1.0f : a);
    }
    return finite;
}

void rl_policy_scale_action(const rl_policy *p, const float *action, float *command)
{
    for (uint16_t j = 0; j < p->act_dim; j++) command[j] = p->action_offset[j] + p->action_scale[j] * action[j];
}

int rl_policy_self_test(const rl_policy *p, float *scratch, float tolerance)
{
    float action[64];
    if (!p->example_obs || !p->example_action || p->act_dim > 64) return 0;
    if (!rl_policy_forward(p, p->example_obs, action, scratch)) return 0;
    for (uint16_t j = 0; j < p->act_dim; j++)
        if (fabsf(action[j] - p->example_action[j]) > tolerance) return 0;
    return 1;
}
