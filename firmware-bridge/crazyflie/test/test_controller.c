/* Host test of the RoboRl out-of-tree controller (roborl_controller.c), driven through the firmware's interface
 * (controllerOutOfTreeInit/Test/controllerOutOfTree) with this directory's stand-ins for the firmware types.
 * The PID here is a recording stand-in: what it outputs marks "the fallback flew this tick".
 *
 * Built twice by CMake: with a good generated header (test/policy), and with a copy whose example action was
 * altered (ROBORL_EXPECT_REFUSED): that policy must never fly. */
#include <math.h>
#include <string.h>
#include "../../tests/check.h"
#include "autoconf.h"
#include "controller.h"
#include "controller_pid.h"
#include "roborl_controller.h"
#include "roborl_observation.h"
#include "roborl_policy.h"
#include "roborl_policy_weights.h"

/* --- recording PID stand-in --- */
static int pid_inits, pid_calls;
void controllerPidInit(void) { pid_inits++; }
bool controllerPidTest(void) { return true; }
void controllerPid(control_t *control, const setpoint_t *setpoint, const sensorData_t *sensors, const state_t *state,
                   const stabilizerStep_t step)
{
    (void)setpoint; (void)sensors; (void)state; (void)step;
    pid_calls++;
    control->controlMode = controlModeLegacy;
    control->roll = 7; control->pitch = -7; control->yaw = 0; control->thrust = 1234.0f;
}

static int pid_flew(const control_t *c) { return c->controlMode == controlModeLegacy && c->thrust == 1234.0f; }

#ifndef ROBORL_EXPECT_REFUSED
static void hover_state(state_t *state, sensorData_t *sensors, setpoint_t *setpoint)
{
    memset(state, 0, sizeof *state);
    memset(sensors, 0, sizeof *sensors);
    memset(setpoint, 0, sizeof *setpoint);
    state->position.x = 0.1f; state->position.y = -0.2f; state->position.z = 1.05f;
    /* A small roll: q = (w, x, y, z) = (cos 5 deg, sin 5 deg, 0, 0). */
    state->attitudeQuaternion.w = 0.996194698f; state->attitudeQuaternion.x = 0.0871557427f;
    state->velocity.x = 0.3f; state->velocity.y = 0.0f; state->velocity.z = -0.1f;
    sensors->gyro.x = 90.0f; sensors->gyro.y = -45.0f; sensors->gyro.z = 180.0f; /* deg/s */
    setpoint->position.x = 0.0f; setpoint->position.y = 0.0f; setpoint->position.z = 1.0f;
    setpoint->mode.x = setpoint->mode.y = setpoint->mode.z = modeAbs;
}
#endif

/* Hovering still at the setpoint (0, 0, 1): inside the policy's envelope. */
static void steady_state(state_t *state, sensorData_t *sensors, setpoint_t *setpoint)
{
    memset(state, 0, sizeof *state);
    memset(sensors, 0, sizeof *sensors);
    memset(setpoint, 0, sizeof *setpoint);
    state->position.z = 1.0f;
    state->attitudeQuaternion.w = 1.0f;
    setpoint->position.z = 1.0f;
    setpoint->mode.x = setpoint->mode.y = setpoint->mode.z = modeAbs;
}

#ifndef ROBORL_EXPECT_REFUSED
/* Ticks from *tick until the policy flies (it must, within a second); every earlier tick is the PID's. */
static void hand_over(uint32_t *tick, control_t *control, const state_t *state, const sensorData_t *sensors, const setpoint_t *setpoint)
{
    uint32_t start = *tick;
    for (;;) {
        memset(control, 0, sizeof *control);
        controllerOutOfTree(control, setpoint, sensors, state, (*tick)++);
        if (roborl_controller_get_state() == ROBORL_POLICY_FLIES) break;
        CHECK(pid_flew(control));
        if (*tick - start > 1000) { CHECK_MSG(0, "no handover within a second of steady hover"); return; }
    }
}

static void after_the_handover_the_policy_flies_at_500_hz_and_averages_5_outputs_per_slot(void)
{
    control_t control; state_t state; sensorData_t sensors; setpoint_t setpoint;
    steady_state(&state, &sensors, &setpoint);
    controllerOutOfTreeInit();
    CHECK(controllerOutOfTreeTest());
    CHECK(roborl_controller_get_fault() == ROBORL_FAULT_NONE);
    CHECK(roborl_controller_get_state() == ROBORL_PID_FLIES);
    uint32_t tick = 1; /* an odd first tick: the handover's policy run is not on the 500 Hz phase */
    hand_over(&tick, &control, &state, &sensors, &setpoint);
    CHECK_MSG(tick - 1 == ROBORL_HANDOVER_HOLD_TICKS, "handover after %u ticks in the envelope", (unsigned)(tick - 1));
    CHECK(control.controlMode == controlModeForce);

    /* The reference: the same observations built here, the same forward pass, the same history rule, starting with
     * the handover tick's run on the steady state. */
    static float history[RL_POLICY_ACTION_HISTORY_LENGTH * 4], obs[RL_POLICY_OBS_DIM], integral[RL_OBS_INTEGRAL_SIZE];
    static float scratch[RL_POLICY_SCRATCH_FLOATS(RL_POLICY_MAX_WIDTH)];
    rl_obs_fill_history(history, RL_POLICY_ACTION_HISTORY_LENGTH, RL_ACTUATOR_HOVER_ACTION);
    rl_obs_reset_integral(integral);
    const float q_level[4] = { 1.0f, 0.0f, 0.0f, 0.0f }, zero[3] = { 0.0f, 0.0f, 0.0f }, target[3] = { 0.0f, 0.0f, 1.0f };
    float sum[4] = { 0, 0, 0, 0 }, action[4];
    rl_obs_build_actor(target, q_level, zero, zero, target, history, RL_POLICY_ACTION_HISTORY_LENGTH, integral, 1.0f / 500.0f, obs);
    CHECK(rl_policy_forward(&rl_policy_generated, obs, action, scratch));
    for (int j = 0; j < 4; j++) {
        sum[j] += action[j];
        CHECK(fabsf(control.normalizedForces[j] - (action[j] + 1.0f) * 0.5f) <= 1e-5f);
    }
    int runs = 1;

    /* Knocked: off the setpoint, rolled, moving and turning, but inside the box of its training: the policy keeps flying. */
    hover_state(&state, &sensors, &setpoint);
    const float position[3] = { 0.1f, -0.2f, 1.05f }, q[4] = { 0.996194698f, 0.0871557427f, 0.0f, 0.0f };
    const float velocity[3] = { 0.3f, 0.0f, -0.1f };
    const float rates[3] = { 1.57079633f, -0.785398163f, 3.14159265f }; /* 90, -45, 180 deg/s */
    for (uint32_t end = tick + 40; tick < end; tick++) {
        memset(&control, 0, sizeof control);
        controllerOutOfTree(&control, &setpoint, &sensors, &state, tick);
        CHECK(roborl_controller_get_state() == ROBORL_POLICY_FLIES);
        if (tick % 2 == 0) { /* RATE_DO_EXECUTE(500 Hz) in a 1 kHz loop */
            /* The integral advances by the policy period, 1/500 s, per run. */
            rl_obs_build_actor(position, q, velocity, rates, target, history, RL_POLICY_ACTION_HISTORY_LENGTH, integral,
                               1.0f / 500.0f, obs);
            const float *seen = roborl_controller_observation();
            float worst = 0.0f;
            for (int i = 0; i < RL_POLICY_OBS_DIM; i++) worst = fmaxf(worst, fabsf(seen[i] - obs[i]));
            CHECK_MSG(worst <= 1e-6f, "tick %u: observation differs by %g", (unsigned)tick, (double)worst);
            CHECK(rl_policy_forward(&rl_policy_generated, obs, action, scratch));
            for (int j = 0; j < 4; j++) sum[j] += action[j];
            if (++runs % 5 == 0) {
                float mean[4];
                for (int j = 0; j < 4; j++) { mean[j] = sum[j] / 5.0f; sum[j] = 0.0f; }
                rl_obs_push_action(history, RL_POLICY_ACTION_HISTORY_LENGTH, mean);
                const float *h = roborl_controller_history();
                float worst_h = 0.0f;
                for (int k = 0; k < RL_POLICY_ACTION_HISTORY_LENGTH * 4; k++) worst_h = fmaxf(worst_h, fabsf(h[k] - history[k]));
                CHECK_MSG(worst_h <= 1e-6f, "tick %u: history slot differs by %g", (unsigned)tick, (double)worst_h);
            }
        }
        /* Every tick (odd ones keep the last output): force mode, forces = (a + 1) / 2 of THRUST_MAX. */
        CHECK(control.controlMode == controlModeForce);
        for (int j = 0; j < 4; j++) {
            float expected = (action[j] + 1.0f) * 0.5f;
            CHECK_MSG(fabsf(control.normalizedForces[j] - expected) <= 1e-5f, "tick %u motor %d: %g, expected %g",
                      (unsigned)tick, j, (double)control.normalizedForces[j], (double)expected);
        }
    }
    CHECK(runs == 21);
    /* 20 runs of 0.002 s with a constant error of (0.1, -0.2, 0.05) m: 0.004, -0.008 and 0.002 m*s, below the clamp. */
    const float *integral_seen = roborl_controller_position_integral();
    CHECK_MSG(fabsf(integral_seen[0] - 0.004f) <= 1e-6f && fabsf(integral_seen[1] + 0.008f) <= 1e-6f &&
              fabsf(integral_seen[2] - 0.002f) <= 1e-6f, "integral %g %g %g", (double)integral_seen[0],
              (double)integral_seen[1], (double)integral_seen[2]);
    CHECK(obs[RL_POLICY_HOVER_POSITION_INTEGRAL_OFFSET] == integral_seen[0]);
    /* Init starts a flight: the integral goes back to zero with the history, and the PID flies until a handover. */
    controllerOutOfTreeInit();
    CHECK(integral_seen[0] == 0.0f && integral_seen[1] == 0.0f && integral_seen[2] == 0.0f);
    CHECK(roborl_controller_get_state() == ROBORL_PID_FLIES);
    CHECK(pid_calls >= 240); /* the PID runs every tick, so a fallback finds it warm */
}

/* cflib's high-level commander: takeoff (the setpoint climbs from the floor), hold, land (it sinks below the airborne
 * height). The PID flies the climb; the policy takes over only once steady in its envelope; the landing is the PID's. */
static void the_pid_takes_off_the_policy_holds_and_the_pid_lands(void)
{
    control_t control; state_t state; sensorData_t sensors; setpoint_t setpoint;
    steady_state(&state, &sensors, &setpoint);
    controllerOutOfTreeInit();
    uint32_t tick = 0;
    /* On the floor, the setpoint climbing to 1 m in 2 s, the vehicle following 0.15 m below it and climbing at 0.5 m/s. */
    for (int k = 0; k < 2000; k++, tick++) {
        setpoint.position.z = 0.0005f * (float)k;
        state.position.z = setpoint.position.z > 0.15f ? setpoint.position.z - 0.15f : 0.0f;
        state.velocity.z = state.position.z > 0.0f ? 0.5f : 0.0f;
        memset(&control, 0, sizeof control);
        controllerOutOfTree(&control, &setpoint, &sensors, &state, tick);
        CHECK_MSG(pid_flew(&control), "tick %u: the climb is the PID's", (unsigned)tick);
    }
    /* Arrived and steady: the handover after ROBORL_HANDOVER_HOLD_TICKS. */
    steady_state(&state, &sensors, &setpoint);
    hand_over(&tick, &control, &state, &sensors, &setpoint);
    CHECK(roborl_controller_get_state() == ROBORL_POLICY_FLIES);
    /* A landing: the setpoint sinks below the airborne height; the PID lands the vehicle. */
    setpoint.position.z = 0.15f;
    state.position.z = 0.3f;
    memset(&control, 0, sizeof control);
    controllerOutOfTree(&control, &setpoint, &sensors, &state, tick++);
    CHECK(pid_flew(&control));
    CHECK(roborl_controller_get_state() == ROBORL_PID_FLIES);
    CHECK(roborl_controller_last_handback() == ROBORL_HANDBACK_LANDING);
    CHECK(roborl_controller_get_fault() == ROBORL_FAULT_NONE);
}

/* Knocked out of the box the policy learnt in (0.5 m off): back to the PID, and to the policy again once steady. */
static void leaving_the_box_hands_back_and_a_later_handover_works(void)
{
    control_t control; state_t state; sensorData_t sensors; setpoint_t setpoint;
    steady_state(&state, &sensors, &setpoint);
    controllerOutOfTreeInit();
    uint32_t tick = 0;
    hand_over(&tick, &control, &state, &sensors, &setpoint);
    state.position.x = 0.6f;
    controllerOutOfTree(&control, &setpoint, &sensors, &state, tick++);
    CHECK(pid_flew(&control));
    CHECK(roborl_controller_last_handback() == ROBORL_HANDBACK_LEFT_THE_BOX);
    state.position.x = 0.0f;
    hand_over(&tick, &control, &state, &sensors, &setpoint);
    CHECK(roborl_controller_get_state() == ROBORL_POLICY_FLIES);
    /* A velocity setpoint is the PID's too. */
    setpoint.mode.x = modeVelocity;
    controllerOutOfTree(&control, &setpoint, &sensors, &state, tick++);
    CHECK(pid_flew(&control));
    CHECK(roborl_controller_last_handback() == ROBORL_HANDBACK_NOT_A_POSITION);
}

static void non_position_setpoints_are_flown_by_the_pid(void)
{
    control_t control; state_t state; sensorData_t sensors; setpoint_t setpoint;
    hover_state(&state, &sensors, &setpoint);
    setpoint.mode.x = setpoint.mode.y = modeVelocity;
    controllerOutOfTreeInit();
    controllerOutOfTree(&control, &setpoint, &sensors, &state, 0);
    CHECK(pid_flew(&control));
    CHECK(roborl_controller_get_fault() == ROBORL_FAULT_NONE);
}

static void a_nan_falls_back_to_the_pid_and_latches(void)
{
    control_t control; state_t state; sensorData_t sensors; setpoint_t setpoint;
    steady_state(&state, &sensors, &setpoint);
    controllerOutOfTreeInit();
    uint32_t tick = 0;
    hand_over(&tick, &control, &state, &sensors, &setpoint);
    CHECK(control.controlMode == controlModeForce);
    sensors.gyro.y = NAN;
    controllerOutOfTree(&control, &setpoint, &sensors, &state, 2);
    CHECK(pid_flew(&control));
    CHECK(roborl_controller_get_fault() == ROBORL_FAULT_NON_FINITE);
    sensors.gyro.y = 0.0f; /* the sensor recovers; the fault stays latched until the next init */
    for (uint32_t t = 3; t < 20; t++) {
        controllerOutOfTree(&control, &setpoint, &sensors, &state, t);
        CHECK(pid_flew(&control));
    }
    controllerOutOfTreeInit();
    tick = 20;
    hand_over(&tick, &control, &state, &sensors, &setpoint);
    CHECK(control.controlMode == controlModeForce);
}
#else
static void a_mismatched_policy_never_flies(void)
{
    control_t control; state_t state; sensorData_t sensors; setpoint_t setpoint;
    steady_state(&state, &sensors, &setpoint); /* steady in the envelope: a good policy would take over */
    controllerOutOfTreeInit();
    CHECK(roborl_controller_get_fault() == ROBORL_FAULT_SELF_TEST);
    CHECK(controllerOutOfTreeTest()); /* the drone still passes its self-test: it flies on the PID */
    for (uint32_t tick = 0; tick < 500; tick++) {
        memset(&control, 0, sizeof control);
        controllerOutOfTree(&control, &setpoint, &sensors, &state, tick);
        CHECK(pid_flew(&control));
    }
}
#endif

int main(void)
{
#ifndef ROBORL_EXPECT_REFUSED
    after_the_handover_the_policy_flies_at_500_hz_and_averages_5_outputs_per_slot();
    the_pid_takes_off_the_policy_holds_and_the_pid_lands();
    leaving_the_box_hands_back_and_a_later_handover_works();
    non_position_setpoints_are_flown_by_the_pid();
    a_nan_falls_back_to_the_pid_and_latches();
#else
    a_mismatched_policy_never_flies();
#endif
    CHECK(pid_inits > 0);
    return CHECK_DONE();
}
