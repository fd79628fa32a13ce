/* The hover task's actor observation in C (DESIGN.md invariant 1): the same numbers, in the same order, as
 * src/RoboRl.Core/Tasks/HoverObservation.cs (the simulator's and the node's builder). RoboRl.Serial.Tests
 * generates states in C#, runs them through this code and compares within 1e-6.
 *
 *   [0..3)    position error p - target, world ENU, m
 *   [3..12)   rotation matrix R (world <- body), row-major, from a unit quaternion (Hamilton, w x y z)
 *   [12..15)  linear velocity, world, m/s
 *   [15..18)  angular velocity, body FLU, rad/s
 *   [18..18+4K) the last K actions, OLDEST FIRST (motor order M1..M4 within each action)
 * C99, no malloc. */
#ifndef ROBORL_OBSERVATION_H
#define ROBORL_OBSERVATION_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RL_OBS_STATE_SIZE 18u
#define RL_OBS_ACTION_SIZE 4u
/* Actor observation length for a history of k actions (146 for k = 32). */
#define RL_OBS_ACTOR_SIZE(k) (RL_OBS_STATE_SIZE + RL_OBS_ACTION_SIZE * (k))

/* Writes the 18 state values into dest[0..18). quaternion_wxyz is (w, x, y, z), body -> world. */
void rl_obs_write_state(const float position[3], const float quaternion_wxyz[4], const float velocity_world[3],
                        const float angular_velocity_body[3], const float target[3], float *dest);

/* Appends one action (4 values) as the newest entry of an oldest-first history of history_length actions,
 * dropping the oldest. */
void rl_obs_push_action(float *history_oldest_first, uint16_t history_length, const float action[4]);

/* Fills a history of history_length actions with one value (e.g. the hover action). */
void rl_obs_fill_history(float *history_oldest_first, uint16_t history_length, float value);

/* The full actor observation: state, then the history copied after it. dest holds RL_OBS_ACTOR_SIZE(history_length). */
void rl_obs_build_actor(const float position[3], const float quaternion_wxyz[4], const float velocity_world[3],
                        const float angular_velocity_body[3], const float target[3],
                        const float *history_oldest_first, uint16_t history_length, float *dest);

#ifdef __cplusplus
}
#endif
#endif
