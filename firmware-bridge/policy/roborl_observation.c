/* The hover actor observation (see roborl_observation.h; mirrors HoverObservation.cs line by line). */
#include "roborl_observation.h"

void rl_obs_write_state(const float position[3], const float quaternion_wxyz[4], const float velocity_world[3],
                        const float angular_velocity_body[3], const float target[3], float *d)
{
    d[0] = position[0] - target[0];
    d[1] = position[1] - target[1];
    d[2] = position[2] - target[2];
    float w = quaternion_wxyz[0], x = quaternion_wxyz[1], y = quaternion_wxyz[2], z = quaternion_wxyz[3];
    /* Rotation matrix of a unit quaternion (Hamilton convention, body -> world), the same expressions as C#. */
    d[3] = 1 - 2 * (y * y + z * z); d[4] = 2 * (x * y - w * z); d[5] = 2 * (x * z + w * y);
    d[6] = 2 * (x * y + w * z); d[7] = 1 - 2 * (x * x + z * z); d[8] = 2 * (y * z - w * x);
    d[9] = 2 * (x * z - w * y); d[10] = 2 * (y * z + w * x); d[11] = 1 - 2 * (x * x + y * y);
    d[12] = velocity_world[0]; d[13] = velocity_world[1]; d[14] = velocity_world[2];
    d[15] = angular_velocity_body[0]; d[16] = angular_velocity_body[1]; d[17] = angular_velocity_body[2];
}

void rl_obs_push_action(float *history, uint16_t history_length, const float action[4])
{
    if (history_length == 0) return;
    uint32_t n = (uint32_t)history_length * RL_OBS_ACTION_SIZE;
    for (uint32_t k = 0; k + RL_OBS_ACTION_SIZE < n; k++) history[k] = history[k + RL_OBS_ACTION_SIZE];
    for (uint32_t j = 0; j < RL_OBS_ACTION_SIZE; j++) history[n - RL_OBS_ACTION_SIZE + j] = action[j];
}

void rl_obs_fill_history(float *history, uint16_t history_length, float value)
{
    for (uint32_t k = 0; k < (uint32_t)history_length * RL_OBS_ACTION_SIZE; k++) history[k] = value;
}

void rl_obs_reset_integral(float integral[3])
{
    for (uint32_t k = 0; k < RL_OBS_INTEGRAL_SIZE; k++) integral[k] = 0.0f;
}

void rl_obs_integrate_position_error(float integral[3], const float position_error[3], float dt)
{
    /* Math.Clamp(I + dt * e, -L, L) in float32: a NaN passes through, as in C#. */
    for (uint32_t k = 0; k < RL_OBS_INTEGRAL_SIZE; k++) {
        float v = integral[k] + dt * position_error[k];
        integral[k] = v < -ROBORL_POS_INTEGRAL_LIMIT ? -ROBORL_POS_INTEGRAL_LIMIT : v > ROBORL_POS_INTEGRAL_LIMIT ? ROBORL_POS_INTEGRAL_LIMIT : v;
    }
}

void rl_obs_build_actor(const float position[3], const float quaternion_wxyz[4], const float velocity_world[3],
                        const float angular_velocity_body[3], const float target[3],
                        const float *history, uint16_t history_length, float integral[3], float dt, float *dest)
{
    rl_obs_write_state(position, quaternion_wxyz, velocity_world, angular_velocity_body, target, dest);
    uint32_t n = (uint32_t)history_length * RL_OBS_ACTION_SIZE;
    for (uint32_t k = 0; k < n; k++) dest[RL_OBS_STATE_SIZE + k] = history[k];
    rl_obs_integrate_position_error(integral, dest, dt);
    for (uint32_t k = 0; k < RL_OBS_INTEGRAL_SIZE; k++) dest[RL_OBS_STATE_SIZE + n + k] = integral[k];
}
