/* Hand-written policy header in the generated format (policy/roborl_policy.h): 3 -> 4 relu -> 3 tanh -> 4 linear.
 * Weights chosen so the example can be worked by hand (see tests/test_policy.c). */
#ifndef POLICY_TEST_WEIGHTS_H
#define POLICY_TEST_WEIGHTS_H
#include "roborl_policy.h"

#define RL_POLICY_OBS_DIM 3
#define RL_POLICY_ACT_DIM 4
#define RL_POLICY_NUM_LAYERS 3
#define RL_POLICY_MAX_WIDTH 4
#define RL_POLICY_OBS_CLIP 5.0f

static const uint16_t rl_policy_layer_sizes[RL_POLICY_NUM_LAYERS + 1] = { 3, 4, 3, 4 };
static const uint8_t rl_policy_activations[RL_POLICY_NUM_LAYERS] = { RL_ACT_RELU, RL_ACT_TANH, RL_ACT_LINEAR };
static const float rl_policy_w0[4 * 3] = {
    1, 0, 0,
    0, 1, 0,
    0, 0, 1,
    -1, -1, -1,
};
static const float rl_policy_b0[4] = { 0, 0, -1, 0.5f };
static const float rl_policy_w1[3 * 4] = {
    0.5f, 0, 0, 0,
    0, 0.25f, 0.25f, 0,
    0, 0, 0, 1,
};
static const float rl_policy_b1[3] = { 0, 0, -0.5f };
static const float rl_policy_w2[4 * 3] = {
    1, 0, 0,
    0, 2, 0,
    0, 0, 4,
    -1, -1, -1,
};
static const float rl_policy_b2[4] = { 0, 0, 0, 0.25f };
static const float *const rl_policy_weights[RL_POLICY_NUM_LAYERS] = { rl_policy_w0, rl_policy_w1, rl_policy_w2 };
static const float *const rl_policy_biases[RL_POLICY_NUM_LAYERS] = { rl_policy_b0, rl_policy_b1, rl_policy_b2 };
static const float rl_policy_obs_mean[RL_POLICY_OBS_DIM] = { 1, 0, -1 };
static const float rl_policy_obs_std[RL_POLICY_OBS_DIM] = { 2, 1, 0.5f };
static const float rl_policy_action_offset[RL_POLICY_ACT_DIM] = { 10851, 10851, 10851, 10851 };
static const float rl_policy_action_scale[RL_POLICY_ACT_DIM] = { 10851, 10851, 10851, 10851 };
/* normalised {1, 0.5, 0} -> relu {1, 0.5, 0, 0} -> tanh {tanh .5, tanh .125, tanh -.5}
 * -> {tanh .5, 2 tanh .125, 4 tanh -.5 (clipped to -1), 0.25 - tanh .125} */
static const float rl_policy_example_obs[RL_POLICY_OBS_DIM] = { 3, 0.5f, -1 };
static const float rl_policy_example_action[RL_POLICY_ACT_DIM] = { 0.462117157f, 0.248706004f, -1.0f, 0.125646998f };
static const rl_policy rl_policy_generated = RL_POLICY_FROM_GENERATED_HEADER;
#endif
