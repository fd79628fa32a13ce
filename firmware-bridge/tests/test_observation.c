/* Tests the C observation builder's position-error integral (roborl_observation.c): the layout (after the
 * history), the step I <- clamp(I + dt*e, +-ROBORL_POS_INTEGRAL_LIMIT) per axis, the clamp on both sides and its
 * release, and the reset. Parity with the C# builder over generated multi-step sequences is in RoboRl.Serial.Tests
 * (ObservationBuilderTests, through tests/observation_vectors.c). */
#include <math.h>
#include "check.h"
#include "roborl_observation.h"

#define K 2u

static float obs[RL_OBS_ACTOR_SIZE(K)], history[K * RL_OBS_ACTION_SIZE], integral[RL_OBS_INTEGRAL_SIZE];
static const float identity[4] = { 1.0f, 0.0f, 0.0f, 0.0f }, zero[3] = { 0.0f, 0.0f, 0.0f };

/* One control step at `position` (target the origin): returns the integral as the observation carries it. */
static const float *step(float x, float y, float z, float dt)
{
    const float position[3] = { x, y, z };
    rl_obs_build_actor(position, identity, zero, zero, zero, history, K, integral, dt, obs);
    return obs + RL_OBS_INTEGRAL_OFFSET(K);
}

int main(void)
{
    CHECK(RL_OBS_ACTOR_SIZE(32) == 149u);
    CHECK(RL_OBS_INTEGRAL_OFFSET(32) == 146u);
    CHECK(RL_OBS_INTEGRAL_OFFSET(K) == 26u && RL_OBS_ACTOR_SIZE(K) == 29u);

    rl_obs_fill_history(history, K, 0.25f);
    rl_obs_reset_integral(integral);

    /* First step: I = dt * e, written after the history (which is untouched). */
    const float *seen = step(0.5f, -0.25f, 0.0f, 0.01f);
    CHECK(seen[0] == 0.01f * 0.5f && seen[1] == 0.01f * -0.25f && seen[2] == 0.0f);
    CHECK(obs[RL_OBS_STATE_SIZE] == 0.25f && obs[RL_OBS_INTEGRAL_OFFSET(K) - 1] == 0.25f);
    CHECK(seen[0] == integral[0] && seen[1] == integral[1] && seen[2] == integral[2]);

    /* The same float operations as C#: a multiply, then an add, per step (no FMA). */
    float expected_x = 0.01f * 0.5f, expected_y = 0.01f * -0.25f;
    for (int k = 0; k < 5; k++) {
        seen = step(0.5f, -0.25f, 0.0f, 0.01f);
        float product_x = 0.01f * 0.5f, product_y = 0.01f * -0.25f;
        expected_x = expected_x + product_x;
        expected_y = expected_y + product_y;
    }
    CHECK_MSG(seen[0] == expected_x && seen[1] == expected_y, "%.9g %.9g, expected %.9g %.9g", (double)seen[0],
              (double)seen[1], (double)expected_x, (double)expected_y);

    /* A large error saturates at exactly +-0.1 on each axis, independently. */
    for (int k = 0; k < 100; k++) seen = step(3.0f, -3.0f, 0.001f, 0.01f);
    CHECK(seen[0] == ROBORL_POS_INTEGRAL_LIMIT && seen[1] == -ROBORL_POS_INTEGRAL_LIMIT);
    CHECK(seen[2] > 0.0f && seen[2] < ROBORL_POS_INTEGRAL_LIMIT);
    CHECK(ROBORL_POS_INTEGRAL_LIMIT == 0.1f);

    /* No wind-up past the clamp: one step back moves it off the limit at once. */
    seen = step(-1.0f, 1.0f, 0.0f, 0.01f);
    CHECK(seen[0] == ROBORL_POS_INTEGRAL_LIMIT - 0.01f && seen[1] == -ROBORL_POS_INTEGRAL_LIMIT + 0.01f);

    /* dt scales the step (the Crazyflie runs the policy at 500 Hz: dt = 0.002 s). */
    rl_obs_reset_integral(integral);
    seen = step(1.0f, 0.0f, 0.0f, 0.002f);
    CHECK(seen[0] == 0.002f);

    /* Reset: zero on every axis; the next step starts from 0. */
    rl_obs_reset_integral(integral);
    CHECK(integral[0] == 0.0f && integral[1] == 0.0f && integral[2] == 0.0f);
    seen = step(0.0f, 0.0f, 0.2f, 0.01f);
    CHECK(seen[0] == 0.0f && seen[1] == 0.0f && seen[2] == 0.01f * 0.2f);

    /* The target is subtracted before integrating: the integral is of the position ERROR. */
    rl_obs_reset_integral(integral);
    const float position[3] = { 1.0f, 2.0f, 3.0f }, target[3] = { 1.5f, 2.0f, 2.0f };
    rl_obs_build_actor(position, identity, zero, zero, target, history, K, integral, 0.01f, obs);
    CHECK(integral[0] == 0.01f * -0.5f && integral[1] == 0.0f && integral[2] == 0.01f * 1.0f);

    /* A NaN error passes through (as Math.Clamp does); the caller's NaN checks catch it. */
    rl_obs_reset_integral(integral);
    seen = step(NAN, 0.0f, 0.0f, 0.01f);
    CHECK(isnan(seen[0]) && seen[1] == 0.0f);
    return CHECK_DONE();
}
