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

int rl_policy_forward(const rl_policy *p, const float *obs, float *action, float *scratch)
{
    float *in = scratch, *out = scratch + p->max_width;

    /* Normalise (and clip) the observation, exactly as training saw it. A non-finite input is refused
     * here: relu would turn a NaN into 0 and hide it. */
    int finite = 1;
    for (uint16_t i = 0; i < p->obs_dim; i++) {
        if (!isfinite(obs[i])) finite = 0;
        float x = (obs[i] - p->obs_mean[i]) / p->obs_std[i];
        if (p->obs_clip > 0.0f) x = x > p->obs_clip ? p->obs_clip : (x < -p->obs_clip ? -p->obs_clip : x);
        in[i] = x;
    }

    for (uint16_t k = 0; k < p->num_layers; k++) {
        uint16_t n_in = p->layer_sizes[k], n_out = p->layer_sizes[k + 1];
        const float *w = p->weights[k], *b = p->biases[k];
        for (uint16_t o = 0; o < n_out; o++) {
            const float *row = w + (size_t)o * n_in;
            float acc = b[o];
            for (uint16_t i = 0; i < n_in; i++) acc += row[i] * in[i];
            switch (p->activations[k]) {
            case RL_ACT_RELU: acc = acc > 0.0f ? acc : 0.0f; break;
            case RL_ACT_TANH: acc = tanhf(acc); break;
            default: break;
            }
            out[o] = acc;
        }
        float *t = in; in = out; out = t;
    }

    for (uint16_t j = 0; j < p->act_dim; j++) {
        float a = in[j];
        if (!isfinite(a)) { finite = 0; action[j] = a; continue; }
        action[j] = a > 1.0f ? 1.0f : (a < -1.0f ? -1.0f : a);
    }
    return finite;
}

void rl_policy_action_to_rpm(const rl_policy *p, const float *action, float *rpm)
{
    for (uint16_t j = 0; j < p->act_dim; j++) rpm[j] = p->action_offset[j] + p->action_scale[j] * action[j];
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
