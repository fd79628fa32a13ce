/* RoboRl out-of-tree controller: what it exposes beyond controller.h's controllerOutOfTree* functions
 * (for a log/param module in the app, and for the host test). */
#ifndef ROBORL_CONTROLLER_H
#define ROBORL_CONTROLLER_H

typedef enum {
    ROBORL_FAULT_NONE = 0,
    ROBORL_FAULT_SELF_TEST = 1,  /* the embedded golden vector did not reproduce: the policy is never run */
    ROBORL_FAULT_SHAPE = 2,      /* the header is not the hover layout (18 + 4K + 3 inputs, 4 outputs) */
    ROBORL_FAULT_NON_FINITE = 3  /* NaN or infinity in the observation or the action (latched) */
} roborl_controller_fault;

/* Why the PID flies instead of the policy (ROBORL_FAULT_NONE while the policy may fly). */
roborl_controller_fault roborl_controller_get_fault(void);
/* The last observation the policy saw (RL_POLICY_OBS_DIM floats) and the action history (oldest first). */
const float *roborl_controller_observation(void);
const float *roborl_controller_history(void);
/* The position-error integral (3 values, m*s), zeroed at init with the history. */
const float *roborl_controller_position_integral(void);

#endif
