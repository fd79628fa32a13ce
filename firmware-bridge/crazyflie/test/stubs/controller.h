/* Host stand-in for crazyflie-firmware's src/modules/interface/controller/controller.h (CONFIG_CONTROLLER_OOT). */
#ifndef ROBORL_STUB_CONTROLLER_H
#define ROBORL_STUB_CONTROLLER_H
#include "stabilizer_types.h"
void controllerOutOfTreeInit(void);
bool controllerOutOfTreeTest(void);
void controllerOutOfTree(control_t *control, const setpoint_t *setpoint, const sensorData_t *sensors,
                         const state_t *state, const stabilizerStep_t stabilizerStep);
#endif
