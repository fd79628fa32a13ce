/* Tests the C policy forward pass on the hand-written header tests/policy_test_weights.h: the worked
 * example, an independent double-precision reference on random inputs, clipping, rpm scaling,
 * validation and non-finite detection. */
#include "policy_test_weights.h"
#include "check.h"

#include <math.h>
#include <string.h>

/* Reference written independently of rl_policy_forward: doubles, column-wise accumulation. */
static void reference(const double *obs, double *action)
{
    double a[8], b[8];
    for (int i = 0; i < 3; i++) {
        double x = (obs[i] - rl_policy_obs_mean[i]) / rl_policy_obs_std[i];
        a[i] = fmax(-5.0, fmin(5.0, x));
    }
    for (int k = 0; k < 3; k++) {
        int n_in = rl_policy_layer_sizes[k], n_out = rl_policy_layer_sizes[k + 1];
        for (int o = 0; o < n_out; o++) b[o] = rl_policy_biases[k][o];
        for (int i = 0; i < n_in; i++)
            for (int o = 0; o < n_out; o++) b[o] += (double)rl_policy_weights[k][o * n_in + i] * a[i];
        for (int o = 0; o < n_out; o++)
            a[o] = rl_policy_activations[k] == RL_ACT_RELU ? fmax(0.0, b[o]) : rl_policy_activations[k] == RL_ACT_TANH ? tanh(b[o]) : b[o];
    }
    for (int j = 0; j < 4; j++) action[j] = fmax(-1.0, fmin(1.0, a[j]));
}

int main(void)
{
    const rl_policy *p = &rl_policy_generated;
    float scratch[RL_POLICY_SCRATCH_FLOATS(RL_POLICY_MAX_WIDTH)];
    float action[4], rpm[4];

    CHECK(rl_policy_validate(p));

    /* The worked example, by hand (see the header). */
    CHECK(rl_policy_forward(p, rl_policy_example_obs, action, scratch));
    CHECK(fabsf(action[0] - (float)tanh(0.5)) < 1e-6f);
    CHECK(fabsf(action[1] - (float)(2 * tanh(0.125))) < 1e-6f);
    CHECK(action[2] == -1.0f);
    CHECK(fabsf(action[3] - (float)(0.25 - tanh(0.125))) < 1e-6f);
    CHECK(rl_policy_self_test(p, scratch, 1e-5f));

    rl_policy_scale_action(p, action, rpm);
    CHECK(rpm[2] == 0.0f);
    CHECK(fabsf(rpm[0] - 10851.0f * (1.0f + (float)tanh(0.5))) < 0.01f);

    /* Random inputs against the double reference, |delta| <= 1e-5 (DESIGN.md parity bound). */
    unsigned x = 7;
    float worst = 0;
    for (int n = 0; n < 10000; n++) {
        float obs[3]; double obs_d[3], ref[4];
        for (int i = 0; i < 3; i++) {
            x = x * 1664525u + 1013904223u;
            obs[i] = ((float)(x >> 8) / 16777216.0f - 0.5f) * 8.0f;
            obs_d[i] = obs[i];
        }
        CHECK(rl_policy_forward(p, obs, action, scratch));
        reference(obs_d, ref);
        for (int j = 0; j < 4; j++) worst = fmaxf(worst, fabsf(action[j] - (float)ref[j]));
    }
    CHECK_MSG(worst <= 1e-5f, "worst |delta| %g", (double)worst);

    /* A huge observation is clipped to +-5 after normalisation: {1e9, ...} behaves like 5 std. */
    float big[3] = { 1e9f, 0.5f, -1 }, at_clip[3] = { 1 + 5 * 2, 0.5f, -1 }, a2[4];
    rl_policy_forward(p, big, action, scratch);
    rl_policy_forward(p, at_clip, a2, scratch);
    CHECK(memcmp(action, a2, sizeof action) == 0);

    /* Non-finite input is reported. */
    float bad[3] = { NAN, 0, 0 };
    CHECK(!rl_policy_forward(p, bad, action, scratch));

    /* A wrong description is refused. */
    rl_policy broken = *p;
    broken.max_width = 3;
    CHECK(!rl_policy_validate(&broken));
    broken = *p;
    broken.obs_dim = 5;
    CHECK(!rl_policy_validate(&broken));
    static const float zero_std[3] = { 1, 0, 1 };
    broken = *p;
    broken.obs_std = zero_std;
    CHECK(!rl_policy_validate(&broken));
    /* A wrong example fails the self-test. */
    static const float wrong_action[4] = { 0, 0, 0, 0 };
    broken = *p;
    broken.example_action = wrong_action;
    CHECK(!rl_policy_self_test(&broken, scratch, 1e-5f));
    return CHECK_DONE();
}
