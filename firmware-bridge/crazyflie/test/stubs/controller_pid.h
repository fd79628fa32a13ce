/* Host stand-in for crazyflie-firmware's controller_pid.h (the fallback controller). The host test defines
 * these functions as a recording PID stand-in; on the Crazyflie they are the firmware's PID. */
#ifndef ROBORL_STUB_CONTROLLER_PID_H
#define ROBORL_STUB_CONTROLLER_PID_H
#include "stabilizer_types.h"
void controllerPidInit(void);
bool controllerPidTest(void);
void controllerPid(control_t *control, const setpoint_t *setpoint, const sensorData_t *sensors,
                   const state_t *state, const stabilizerStep_t stabilizerStep);
#endif
