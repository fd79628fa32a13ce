/* Host stand-in for crazyflie-firmware's src/modules/interface/controller/controller.h: like the real one, it
 * declares the out-of-tree functions only under CONFIG_CONTROLLER_OOT (from autoconf.h), so a file that includes it
 * before autoconf.h gets no prototypes (-Wmissing-prototypes catches that). */
#ifndef ROBORL_STUB_CONTROLLER_H
#define ROBORL_STUB_CONTROLLER_H
#include "stabilizer_types.h"
#ifdef CONFIG_CONTROLLER_OOT
void controllerOutOfTreeInit(void);
bool controllerOutOfTreeTest(void);
void controllerOutOfTree(control_t *control, const setpoint_t *setpoint, const sensorData_t *sensors,
                         const state_t *state, const stabilizerStep_t stabilizerStep);
#endif
#endif
