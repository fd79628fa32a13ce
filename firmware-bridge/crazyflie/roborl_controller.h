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

/* The envelope the policy takes over in (the node's "takeoff.handover" defaults) and the box it hands back from;
 * define them before the build to change them. */
#ifndef ROBORL_AIRBORNE_HEIGHT_M
#define ROBORL_AIRBORNE_HEIGHT_M 0.2f
#endif
#ifndef ROBORL_HANDOVER_POSITION_M
#define ROBORL_HANDOVER_POSITION_M 0.1f
#endif
#ifndef ROBORL_HANDOVER_SPEED_M_S
#define ROBORL_HANDOVER_SPEED_M_S 0.3f
#endif
#ifndef ROBORL_HANDOVER_COS_TILT
#define ROBORL_HANDOVER_COS_TILT 0.9659258f /* cos 15 deg */
#endif
#ifndef ROBORL_HANDOVER_RATE_RAD_S
#define ROBORL_HANDOVER_RATE_RAD_S 1.0f
#endif
#ifndef ROBORL_HANDOVER_HOLD_TICKS
#define ROBORL_HANDOVER_HOLD_TICKS 200 /* 0.2 s of the 1 kHz stabiliser loop */
#endif
#ifndef ROBORL_HANDBACK_POSITION_M
#define ROBORL_HANDBACK_POSITION_M 0.5f /* inside the hover task's 0.6 m box */
#endif
#ifndef ROBORL_HANDBACK_COS_TILT
#define ROBORL_HANDBACK_COS_TILT 0.5f /* 60 deg */
#endif

typedef enum {
    ROBORL_PID_FLIES = 0,    /* on the ground, taking off, landing, or outside the policy's envelope */
    ROBORL_POLICY_FLIES = 1
} roborl_controller_state;

typedef enum {
    ROBORL_HANDBACK_NONE = 0,
    ROBORL_HANDBACK_LANDING = 1,          /* the setpoint went below ROBORL_AIRBORNE_HEIGHT_M */
    ROBORL_HANDBACK_NOT_A_POSITION = 2,   /* velocity, attitude or manual setpoints are the PID's */
    ROBORL_HANDBACK_LEFT_THE_BOX = 3      /* too far from the setpoint or too tilted for what the policy learnt */
} roborl_controller_handback;

/* Why the PID flies instead of the policy (ROBORL_FAULT_NONE while the policy may fly). */
roborl_controller_fault roborl_controller_get_fault(void);
/* Who flies now, and why the policy last handed back to the PID. */
roborl_controller_state roborl_controller_get_state(void);
roborl_controller_handback roborl_controller_last_handback(void);
/* The last observation the policy saw (RL_POLICY_OBS_DIM floats) and the action history (oldest first). */
const float *roborl_controller_observation(void);
const float *roborl_controller_history(void);
/* The position-error integral (3 values, m*s), zeroed at init with the history. */
const float *roborl_controller_position_integral(void);

#endif
