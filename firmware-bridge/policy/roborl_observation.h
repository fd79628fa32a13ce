/* The hover task's actor observation in C (DESIGN.md invariant 1): the same numbers, in the same order, as
 * src/RoboRl.Core/Tasks/HoverObservation.cs (the simulator's and the node's builder). RoboRl.Serial.Tests
 * generates states in C#, runs them through this code and compares within 1e-6.
 *
 *   [0..3)    position error p - target, world ENU, m
 *   [3..12)   rotation matrix R (world <- body), row-major, from a unit quaternion (Hamilton, w x y z)
 *   [12..15)  linear velocity, world, m/s
 *   [15..18)  angular velocity, body FLU, rad/s
 *   [18..18+4K) the last K actions, OLDEST FIRST (motor order M1..M4 within each action)
 *   [18+4K..21+4K) integral of the observed position error, world, m*s: each control step, after the position
 *             error e is written, I <- clamp(I + dt*e, +-ROBORL_POS_INTEGRAL_LIMIT) per axis, then I is copied here
 * The caller keeps the integral (3 floats) next to its action history and zeroes it wherever it refills the history
 * (a flight / an episode starts: rl_obs_reset_integral). C99, no malloc.
 * Float contraction: I + dt*e must be a separate multiply and add, as in C# (no FMA); builds for targets with an
 * FMA unit compile this file with -ffp-contract=off (firmware-bridge/mcu/CMakeLists.txt, crazyflie/app/src/Kbuild). */
#ifndef ROBORL_OBSERVATION_H
#define ROBORL_OBSERVATION_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RL_OBS_STATE_SIZE 18u
#define RL_OBS_ACTION_SIZE 4u
#define RL_OBS_INTEGRAL_SIZE 3u
/* Clamp of each axis of the position-error integral, m*s. Must equal HoverObservation.PositionIntegralLimit
 * (RoboRl.Serial.Tests ObservationBuilderTests reads the compiled value and compares). */
#define ROBORL_POS_INTEGRAL_LIMIT 0.1f
/* Where the position-error integral starts for a history of k actions: 18 + 4k. */
#define RL_OBS_INTEGRAL_OFFSET(k) (RL_OBS_STATE_SIZE + RL_OBS_ACTION_SIZE * (k))
/* Actor observation length for a history of k actions: 18 + 4k + 3 (149 for k = 32). */
#define RL_OBS_ACTOR_SIZE(k) (RL_OBS_INTEGRAL_OFFSET(k) + RL_OBS_INTEGRAL_SIZE)

/* Writes the 18 state values into dest[0..18). quaternion_wxyz is (w, x, y, z), body -> world. */
void rl_obs_write_state(const float position[3], const float quaternion_wxyz[4], const float velocity_world[3],
                        const float angular_velocity_body[3], const float target[3], float *dest);

/* Appends one action (4 values) as the newest entry of an oldest-first history of history_length actions,
 * dropping the oldest. */
void rl_obs_push_action(float *history_oldest_first, uint16_t history_length, const float action[4]);

/* Fills a history of history_length actions with one value (e.g. the hover action). */
void rl_obs_fill_history(float *history_oldest_first, uint16_t history_length, float value);

/* Zeroes the position-error integral (3 values): when a flight or an episode starts. */
void rl_obs_reset_integral(float integral[3]);

/* One control step of the integral: integral[k] <- clamp(integral[k] + dt * position_error[k], +-ROBORL_POS_INTEGRAL_LIMIT),
 * position_error = the observation's first 3 values (HoverObservation.IntegratePositionError). */
void rl_obs_integrate_position_error(float integral[3], const float position_error[3], float dt);

/* The full actor observation: state, the history copied after it, then the position-error integral advanced by one
 * step of dt seconds with this observation's position error (integral is the caller's state, updated in place).
 * dest holds RL_OBS_ACTOR_SIZE(history_length). */
void rl_obs_build_actor(const float position[3], const float quaternion_wxyz[4], const float velocity_world[3],
                        const float angular_velocity_body[3], const float target[3],
                        const float *history_oldest_first, uint16_t history_length, float integral[3], float dt, float *dest);

#ifdef __cplusplus
}
#endif
#endif
