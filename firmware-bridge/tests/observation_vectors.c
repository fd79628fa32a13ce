/* Driven by RoboRl.Serial.Tests (ObservationBuilderTests): reads cases from stdin and prints the C observation.
 * Input: "K" (history length) once, then per case one line of 16 + 4 floats:
 *   position[3] quaternion w x y z[4] velocity[3] angular_velocity[3] target[3] action_to_push[4]
 * The history starts filled with 0.25 and each case pushes its action before building.
 * Output per case: RL_OBS_ACTOR_SIZE(K) floats ("%.9g"). */
#include <stdio.h>
#include "roborl_observation.h"

#define MAX_HISTORY 64u

int main(void)
{
    static float history[MAX_HISTORY * RL_OBS_ACTION_SIZE], obs[RL_OBS_ACTOR_SIZE(MAX_HISTORY)];
    unsigned k;
    if (scanf("%u", &k) != 1 || k > MAX_HISTORY) return 2;
    rl_obs_fill_history(history, (uint16_t)k, 0.25f);
    for (;;) {
        float v[20];
        for (int i = 0; i < 20; i++)
            if (scanf("%f", &v[i]) != 1) return 0;
        rl_obs_push_action(history, (uint16_t)k, v + 16);
        rl_obs_build_actor(v, v + 3, v + 7, v + 10, v + 13, history, (uint16_t)k, obs);
        for (unsigned i = 0; i < RL_OBS_ACTOR_SIZE(k); i++) printf(i ? " %.9g" : "%.9g", (double)obs[i]);
        printf("\n");
        fflush(stdout);
    }
}
