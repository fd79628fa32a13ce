/* Host stand-in for crazyflie-firmware's imu_types.h: the Axis3f vector only. */
#ifndef ROBORL_STUB_IMU_TYPES_H
#define ROBORL_STUB_IMU_TYPES_H
typedef union { struct { float x, y, z; }; float axis[3]; } Axis3f;
#endif
