/* Driven by RoboRl.Serial.Tests (ObservationBuilderTests): reads cases from stdin and prints the C observation.
 * Input: "K dt" (history length, control period in s) once, then per case one line of 1 + 16 + 4 numbers:
 *   reset position[3] quaternion w x y z[4] velocity[3] angular_velocity[3] target[3] action_to_push[4]
 * reset = 1 starts a flight before the case: the history refilled with 0.25 and the position-error integral zeroed
 * (both start that way). Each case then pushes its action and builds (one control step of the integral).
 * Output: first a line "ROBORL_POS_INTEGRAL_LIMIT RL_OBS_INTEGRAL_SIZE RL_OBS_ACTOR_SIZE(K)" (the compiled
 * constants, which the C# side compares with HoverObservation's), then per case RL_OBS_ACTOR_SIZE(K) floats ("%.9g"). */
#include <stdio.h>
#include "roborl_observation.h"

#define MAX_HISTORY 64u

int main(void)
{
    static float history[MAX_HISTORY * RL_OBS_ACTION_SIZE], obs[RL_OBS_ACTOR_SIZE(MAX_HISTORY)], integral[RL_OBS_INTEGRAL_SIZE];
    unsigned k;
    float dt;
    if (scanf("%u %f", &k, &dt) != 2 || k > MAX_HISTORY) return 2;
    printf("%.9g %u %u\n", (double)ROBORL_POS_INTEGRAL_LIMIT, RL_OBS_INTEGRAL_SIZE, RL_OBS_ACTOR_SIZE(k));
    rl_obs_fill_history(history, (uint16_t)k, 0.25f);
    rl_obs_reset_integral(integral);
    for (;;) {
        int reset;
        float v[20];
        if (scanf("%d", &reset) != 1) return 0;
        for (int i = 0; i < 20; i++)
            if (scanf("%f", &v[i]) != 1) return 3;
        if (reset) {
            rl_obs_fill_history(history, (uint16_t)k, 0.25f);
            rl_obs_reset_integral(integral);
        }
        rl_obs_push_action(history, (uint16_t)k, v + 16);
        rl_obs_build_actor(v, v + 3, v + 7, v + 10, v + 13, history, (uint16_t)k, integral, dt, obs);
        for (unsigned i = 0; i < RL_OBS_ACTOR_SIZE(k); i++) printf(i ? " %.9g" : "%.9g", (double)obs[i]);
        printf("\n");
        fflush(stdout);
    }
}
