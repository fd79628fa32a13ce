/* RoboRl policy forward pass for microcontrollers (C99, no malloc, no stdio).
 *
 * An MLP actor: observation normalisation -> dense layers (relu / tanh / linear) -> clip to [-1, 1]
 * -> per-motor affine scaling to rpm. The weights come from a generated header.
 *
 * ===== Generated header format (what `roborl export c` writes; tests/policy_test_weights.h is a
 * hand-written example) =====
 *
 *   #include "roborl_policy.h"
 *   #define RL_POLICY_OBS_DIM    18      // input size
 *   #define RL_POLICY_ACT_DIM    4       // output size
 *   #define RL_POLICY_NUM_LAYERS 3       // dense layers
 *   #define RL_POLICY_MAX_WIDTH  64      // max over all layer sizes, input and output included
 *   #define RL_POLICY_OBS_CLIP   5.0f    // normalised observations clipped to +-this; 0 = no clip
 *   static const uint16_t rl_policy_layer_sizes[RL_POLICY_NUM_LAYERS + 1] = { 18, 64, 64, 4 };
 *   static const uint8_t  rl_policy_activations[RL_POLICY_NUM_LAYERS] = { RL_ACT_TANH, RL_ACT_TANH, RL_ACT_TANH };
 *   static const float rl_policy_w0[64 * 18];  // layer k weights rl_policy_w<k>: ROW-MAJOR [out][in],
 *   static const float rl_policy_b0[64];       //   i.e. w[o * in + i]; bias rl_policy_b<k>[out]
 *   ... one pair per layer ...
 *   static const float *const rl_policy_weights[RL_POLICY_NUM_LAYERS] = { rl_policy_w0, rl_policy_w1, rl_policy_w2 };
 *   static const float *const rl_policy_biases[RL_POLICY_NUM_LAYERS]  = { rl_policy_b0, rl_policy_b1, rl_policy_b2 };
 *   static const float rl_policy_obs_mean[RL_POLICY_OBS_DIM];   // normalised = (obs - mean) / std
 *   static const float rl_policy_obs_std[RL_POLICY_OBS_DIM];    //   (std > 0; 1 and 0 for "no normalisation")
 *   static const float rl_policy_action_offset[RL_POLICY_ACT_DIM]; // rpm[j] = offset[j] + scale[j] * clip(a[j], -1, 1)
 *   static const float rl_policy_action_scale[RL_POLICY_ACT_DIM];  //   Crazyflie: 10851, 10851 ((a+1)/2 * 21702)
 *   static const float rl_policy_example_obs[RL_POLICY_OBS_DIM];   // golden input (raw, before normalisation)
 *   static const float rl_policy_example_action[RL_POLICY_ACT_DIM];// its raw action (after clip, before scaling)
 *   static const rl_policy rl_policy_generated = RL_POLICY_FROM_GENERATED_HEADER;
 *
 * Floats are written with 9 significant digits ("%.9g"), which round-trips every binary32 exactly.
 * The example pair is checked at boot by rl_policy_self_test (as RLtools' learning-to-fly does).
 */
#ifndef ROBORL_POLICY_H
#define ROBORL_POLICY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RL_ACT_LINEAR 0u
#define RL_ACT_RELU 1u
#define RL_ACT_TANH 2u

typedef struct {
    uint16_t obs_dim;
    uint16_t act_dim;
    uint16_t num_layers;
    uint16_t max_width;
    float obs_clip;
    const uint16_t *layer_sizes;   /* num_layers + 1 */
    const uint8_t *activations;    /* num_layers */
    const float *const *weights;   /* num_layers, each [out][in] row-major */
    const float *const *biases;    /* num_layers, each [out] */
    const float *obs_mean;
    const float *obs_std;
    const float *action_offset;
    const float *action_scale;
    const float *example_obs;      /* may be NULL */
    const float *example_action;   /* may be NULL */
} rl_policy;

/* Initializer built from the generated header's names (see the format above). */
#define RL_POLICY_FROM_GENERATED_HEADER { \
    RL_POLICY_OBS_DIM, RL_POLICY_ACT_DIM, RL_POLICY_NUM_LAYERS, RL_POLICY_MAX_WIDTH, RL_POLICY_OBS_CLIP, \
    rl_policy_layer_sizes, rl_policy_activations, rl_policy_weights, rl_policy_biases, \
    rl_policy_obs_mean, rl_policy_obs_std, rl_policy_action_offset, rl_policy_action_scale, \
    rl_policy_example_obs, rl_policy_example_action }

/* Scratch floats rl_policy_forward needs: two activation buffers of max_width. */
#define RL_POLICY_SCRATCH_FLOATS(max_width) (2u * (max_width))

/* 1 if the description is consistent (dims match layer sizes, max_width covers every layer, std > 0). */
int rl_policy_validate(const rl_policy *p);

/* action[act_dim] = clip(MLP(normalise(obs)), -1, 1). scratch holds RL_POLICY_SCRATCH_FLOATS(max_width)
 * floats. Returns 1, or 0 if any observation or output is not finite (the caller must not use the action). */
int rl_policy_forward(const rl_policy *p, const float *obs, float *action, float *scratch);

/* command[j] = action_offset[j] + action_scale[j] * action[j], in the unit RL_POLICY_ACTION_UNIT names. */
void rl_policy_scale_action(const rl_policy *p, const float *action, float *command);

/* Runs the example observation; returns 1 if every output is within tolerance of the example action. */
int rl_policy_self_test(const rl_policy *p, float *scratch, float tolerance);

#ifdef __cplusplus
}
#endif
#endif
