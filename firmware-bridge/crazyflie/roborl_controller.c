/* RoboRl policy as a Crazyflie out-of-tree controller (crazyflie-firmware, CONFIG_CONTROLLER_OOT=y; select it
 * with the parameter stabilizer.controller). Interface: src/modules/interface/controller/controller.h.
 *
 * Every stabiliser tick (RATE_MAIN_LOOP, 1 kHz) the firmware's PID controller also runs, into a scratch
 * control_t, so that a fallback finds it warm. When the policy flies:
 *   - at 500 Hz (RATE_DO_EXECUTE(ATTITUDE_RATE, tick)) the hover observation is built from state_t (position,
 *     attitude quaternion, world velocity) and the gyro (deg/s -> rad/s, body frame), the target being the
 *     setpoint's position, exactly as HoverObservation does (roborl_observation.c), and the MLP runs; the
 *     position-error integral at the end of the observation advances by the policy period (1/500 s) per run, so it
 *     integrates the same continuous-time error as the 100 Hz training (dt = 0.01 s per step) did;
 *   - 5 consecutive outputs are averaged into each 100 Hz action-history slot, the rate the policy was
 *     trained at (FACTS: learning-to-fly runs its policy at 500 Hz this way);
 *   - motors: control_t force mode, normalizedForces[j] = (a_j + 1) / 2: a fraction of the firmware's THRUST_MAX,
 *     which the firmware turns into that force with its battery compensation (power_distribution_quadrotor.c,
 *     powerDistributionForce; motors.c, motorsCompensateBatteryVoltage) — the force (a + 1) / 2 * thrust_max_n the
 *     simulator flew (the robot config's "actuation", src/RoboRl.Core/Quadrotor/ActuatorModel.cs). The header carries
 *     the propeller set and THRUST_MAX the policy was trained with, and the build stops if the firmware's Kconfig
 *     chose other propellers or no battery compensation: one action, one force, on every path.
 * Who flies (roborl_controller_state): the PID takes off, lands and flies everything but position holds; the
 * policy takes over a position setpoint (x, y, z in modeAbs, above ROBORL_AIRBORNE_HEIGHT_M) only once the vehicle
 * has been inside the policy's envelope around it for ROBORL_HANDOVER_HOLD_TICKS (as the node's take-off does:
 * close, slow, level, not turning) — its action history and integral start over then — and hands back to the PID
 * when the setpoint sinks below that height (a landing), stops being a position, or the vehicle leaves the wide box
 * of its training (ROBORL_HANDBACK_*); a later handover is possible. So `cf.high_level_commander.takeoff()` /
 * `go_to()` / `land()` from cflib fly as a Crazyflie user expects, with the policy holding position in between.
 * Faults fall back to the PID and latch until the next init: the boot self-test of the embedded golden vector
 * failed (a mismatched policy is never run), the header's shape is not the hover layout, or a non-finite
 * observation or action. */
/* autoconf.h first: controller.h declares the controllerOutOfTree* functions only under CONFIG_CONTROLLER_OOT, and
 * without their prototypes a definition below whose signature drifted from the firmware's would still link. */
#include "autoconf.h"
#include <math.h>
#include <stdint.h>
#include "controller.h"
#include "controller_pid.h"
#include "roborl_controller.h"
#include "roborl_observation.h"
#include "roborl_policy.h"
#include "roborl_policy_weights.h"

#ifndef RL_ACTUATOR_THRUST_MAX_N
#error "roborl_policy_weights.h has no actuator block: export it (roborl export c --target ...) from a quadrotor bundle whose robot config has an \"actuation\" section"
#endif

/* The firmware must give a normalised force the meaning the policy was trained with: the same propellers (THRUST_MAX)
 * and battery compensation (crazyflie-firmware Kconfig; src/platform/interface/platform_defaults_cf2.h, _cf21bl.h). */
#if RL_ACTUATOR_BATTERY_COMPENSATION && !defined(CONFIG_ENABLE_THRUST_BAT_COMPENSATED)
#error "the policy was trained with the firmware's battery compensation: enable CONFIG_ENABLE_THRUST_BAT_COMPENSATED"
#elif !RL_ACTUATOR_BATTERY_COMPENSATION && defined(CONFIG_ENABLE_THRUST_BAT_COMPENSATED)
#error "the policy was trained without battery compensation: disable CONFIG_ENABLE_THRUST_BAT_COMPENSATED"
#endif
#if RL_ACTUATOR_PROPELLERS_ID == 1
#if !defined(CONFIG_PLATFORM_CF2) || !defined(CONFIG_CRAZYFLIE_21_PLUS)
#error "the policy was trained for the Crazyflie 2.1+ propellers (THRUST_MAX 0.12 N): build for CF2 with CONFIG_CRAZYFLIE_21_PLUS"
#endif
#elif RL_ACTUATOR_PROPELLERS_ID == 2
#if !defined(CONFIG_PLATFORM_CF2) || !defined(CONFIG_CRAZYFLIE_THRUST_UPGRADE_KIT)
#error "the policy was trained for the thrust upgrade kit (THRUST_MAX 0.18 N): build for CF2 with CONFIG_CRAZYFLIE_THRUST_UPGRADE_KIT"
#endif
#elif RL_ACTUATOR_PROPELLERS_ID == 3
#if !defined(CONFIG_PLATFORM_CF2) || !defined(CONFIG_CRAZYFLIE_LEGACY_PROPELLERS)
#error "the policy was trained for the legacy propellers (THRUST_MAX 0.12 N): build for CF2 with CONFIG_CRAZYFLIE_LEGACY_PROPELLERS"
#endif
#elif RL_ACTUATOR_PROPELLERS_ID == 4
#if !defined(CONFIG_PLATFORM_CF21BL) || !defined(CONFIG_THRUST_BAT_COMPENSATION_MAX_THRUST) || CONFIG_THRUST_BAT_COMPENSATION_MAX_THRUST != RL_ACTUATOR_THRUST_MAX_MN
#error "the policy was trained for the Crazyflie 2.1 Brushless with CONFIG_THRUST_BAT_COMPENSATION_MAX_THRUST = RL_ACTUATOR_THRUST_MAX_MN (mN)"
#endif
#elif !defined(ROBORL_CUSTOM_PROPELLERS_CHECKED)
#error "the policy was trained for custom propellers: check that the firmware's THRUST_MAX equals RL_ACTUATOR_THRUST_MAX_N, then define ROBORL_CUSTOM_PROPELLERS_CHECKED"
#endif

#define POLICY_RATE_HZ ATTITUDE_RATE                      /* 500 Hz */
#define OUTPUTS_PER_SLOT (ATTITUDE_RATE / POSITION_RATE)  /* 5 outputs per 100 Hz history slot */
#define DEG_TO_RAD 0.017453292519943295f
#define POLICY_PERIOD_S (1.0f / (float)POLICY_RATE_HZ)

/* The hover layout: 18 state values + 4 per past action + 3 position-error integral, 4 motors. */
#define HOVER_SHAPE_OK (RL_POLICY_OBS_DIM == RL_OBS_ACTOR_SIZE(RL_POLICY_ACTION_HISTORY_LENGTH) && RL_POLICY_ACT_DIM == 4)
#if RL_POLICY_ACTION_HISTORY_LENGTH > 0
#define HISTORY_FLOATS (RL_POLICY_ACTION_HISTORY_LENGTH * 4)
#else
#define HISTORY_FLOATS 1
#endif

static const rl_policy *const policy = &rl_policy_generated;
static float scratch[RL_POLICY_SCRATCH_FLOATS(RL_POLICY_MAX_WIDTH)];
static float history[HISTORY_FLOATS];
static float position_integral[RL_OBS_INTEGRAL_SIZE];
static float observation[RL_POLICY_OBS_DIM];
static float slot_sum[4];
static int slot_count;
static float normalized_forces[4];
static int have_output;
static roborl_controller_fault fault;
static roborl_controller_state flying;
static roborl_controller_handback handback;
static uint32_t envelope_ticks;
static control_t pid_control;

static float clamp01(float v) { return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v); }

/* The policy starts a flight from a hover-filled history and a zero integral (the node does the same at arming). */
static void start_policy_memory(void)
{
    rl_obs_fill_history(history, RL_POLICY_ACTION_HISTORY_LENGTH, RL_ACTUATOR_HOVER_ACTION);
    rl_obs_reset_integral(position_integral);
    slot_sum[0] = slot_sum[1] = slot_sum[2] = slot_sum[3] = 0.0f;
    slot_count = 0;
    have_output = 0;
}

void controllerOutOfTreeInit(void)
{
    controllerPidInit();
    fault = ROBORL_FAULT_NONE;
    if (!HOVER_SHAPE_OK) fault = ROBORL_FAULT_SHAPE;
    else if (!rl_policy_validate(policy) || !rl_policy_self_test(policy, scratch, 1e-5f)) fault = ROBORL_FAULT_SELF_TEST;
    flying = ROBORL_PID_FLIES;
    handback = ROBORL_HANDBACK_NONE;
    envelope_ticks = 0;
    start_policy_memory();
}

bool controllerOutOfTreeTest(void)
{
    /* The PID must work: it is the fallback. A refused policy is reported by roborl_controller_fault, not by
     * failing the firmware's self-test, so the drone still flies on the PID. */
    return controllerPidTest();
}

static int position_setpoint(const setpoint_t *setpoint)
{
    return setpoint->mode.x == modeAbs && setpoint->mode.y == modeAbs && setpoint->mode.z == modeAbs;
}

static float cos_tilt(const state_t *state)
{
    const float x = state->attitudeQuaternion.x, y = state->attitudeQuaternion.y;
    return 1.0f - 2.0f * (x * x + y * y);
}

static float norm3(float x, float y, float z) { return sqrtf(x * x + y * y + z * z); }

static float position_error(const setpoint_t *setpoint, const state_t *state)
{
    return norm3(state->position.x - setpoint->position.x, state->position.y - setpoint->position.y,
                 state->position.z - setpoint->position.z);
}

/* Close to the setpoint, slow, level and not turning: where the policy may take over. */
static int inside_envelope(const setpoint_t *setpoint, const sensorData_t *sensors, const state_t *state)
{
    return position_error(setpoint, state) <= ROBORL_HANDOVER_POSITION_M
        && norm3(state->velocity.x, state->velocity.y, state->velocity.z) <= ROBORL_HANDOVER_SPEED_M_S
        && cos_tilt(state) >= ROBORL_HANDOVER_COS_TILT
        && norm3(sensors->gyro.x, sensors->gyro.y, sensors->gyro.z) * DEG_TO_RAD <= ROBORL_HANDOVER_RATE_RAD_S;
}

/* Why the PID should fly this tick instead of the policy (ROBORL_HANDBACK_NONE: the policy may fly). */
static roborl_controller_handback pid_reason(const setpoint_t *setpoint, const state_t *state)
{
    if (!position_setpoint(setpoint)) return ROBORL_HANDBACK_NOT_A_POSITION;
    if (setpoint->position.z < ROBORL_AIRBORNE_HEIGHT_M) return ROBORL_HANDBACK_LANDING;
    if (position_error(setpoint, state) > ROBORL_HANDBACK_POSITION_M || cos_tilt(state) < ROBORL_HANDBACK_COS_TILT)
        return ROBORL_HANDBACK_LEFT_THE_BOX;
    return ROBORL_HANDBACK_NONE;
}

static void run_policy(const setpoint_t *setpoint, const sensorData_t *sensors, const state_t *state)
{
    const float position[3] = { state->position.x, state->position.y, state->position.z };
    const float quaternion[4] = { state->attitudeQuaternion.w, state->attitudeQuaternion.x,
                                  state->attitudeQuaternion.y, state->attitudeQuaternion.z };
    const float velocity[3] = { state->velocity.x, state->velocity.y, state->velocity.z };
    const float rates[3] = { sensors->gyro.x * DEG_TO_RAD, sensors->gyro.y * DEG_TO_RAD, sensors->gyro.z * DEG_TO_RAD };
    const float target[3] = { setpoint->position.x, setpoint->position.y, setpoint->position.z };
    rl_obs_build_actor(position, quaternion, velocity, rates, target, history, RL_POLICY_ACTION_HISTORY_LENGTH,
                       position_integral, POLICY_PERIOD_S, observation);

    float action[4];
    if (!rl_policy_forward(policy, observation, action, scratch)) { fault = ROBORL_FAULT_NON_FINITE; return; }

    for (int j = 0; j < 4; j++) {
        normalized_forces[j] = clamp01((action[j] + 1.0f) * 0.5f);
        slot_sum[j] += action[j];
    }
    have_output = 1;
    if (++slot_count == OUTPUTS_PER_SLOT) {
        float mean[4];
        for (int j = 0; j < 4; j++) { mean[j] = slot_sum[j] / (float)OUTPUTS_PER_SLOT; slot_sum[j] = 0.0f; }
        rl_obs_push_action(history, RL_POLICY_ACTION_HISTORY_LENGTH, mean);
        slot_count = 0;
    }
}

void controllerOutOfTree(control_t *control, const setpoint_t *setpoint, const sensorData_t *sensors,
                         const state_t *state, const stabilizerStep_t stabilizerStep)
{
    controllerPid(&pid_control, setpoint, sensors, state, stabilizerStep);

    roborl_controller_handback reason = pid_reason(setpoint, state);
    if (fault != ROBORL_FAULT_NONE) {
        flying = ROBORL_PID_FLIES;
    } else if (flying == ROBORL_POLICY_FLIES && reason != ROBORL_HANDBACK_NONE) {
        flying = ROBORL_PID_FLIES; /* hand back: a landing, another kind of setpoint, or out of the training box */
        handback = reason;
        envelope_ticks = 0;
    } else if (flying == ROBORL_PID_FLIES && reason == ROBORL_HANDBACK_NONE) {
        envelope_ticks = inside_envelope(setpoint, sensors, state) ? envelope_ticks + 1 : 0;
        if (envelope_ticks >= ROBORL_HANDOVER_HOLD_TICKS) {
            flying = ROBORL_POLICY_FLIES;
            start_policy_memory();
        }
    }

    if (flying == ROBORL_POLICY_FLIES) {
        /* The first tick after a handover runs the policy whatever the 500 Hz phase, so a command exists. */
        if (RATE_DO_EXECUTE(POLICY_RATE_HZ, stabilizerStep) || !have_output) run_policy(setpoint, sensors, state);
        if (fault == ROBORL_FAULT_NONE && have_output) {
            control->controlMode = controlModeForce;
            for (int j = 0; j < 4; j++) control->normalizedForces[j] = normalized_forces[j];
            return;
        }
        flying = ROBORL_PID_FLIES;
    }
    *control = pid_control;
}

roborl_controller_state roborl_controller_get_state(void) { return flying; }

roborl_controller_handback roborl_controller_last_handback(void) { return handback; }

roborl_controller_fault roborl_controller_get_fault(void) { return fault; }

const float *roborl_controller_observation(void) { return observation; }

const float *roborl_controller_history(void) { return history; }

const float *roborl_controller_position_integral(void) { return position_integral; }
