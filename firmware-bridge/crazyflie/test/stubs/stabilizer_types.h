/* Host stand-in for crazyflie-firmware's src/modules/interface/stabilizer_types.h: only what the RoboRl
 * controller uses, written from the documented layouts (field names, order, units), not copied.
 * Like the firmware (built as gnu11), it uses C11 anonymous unions. */
#ifndef ROBORL_STUB_STABILIZER_TYPES_H
#define ROBORL_STUB_STABILIZER_TYPES_H
#include <stdbool.h>
#include <stdint.h>
#include "imu_types.h"

typedef struct attitude_s { uint32_t timestamp; float roll, pitch, yaw; } attitude_t; /* deg */
struct vec3_s { uint32_t timestamp; float x, y, z; };
typedef struct vec3_s point_t;    /* m */
typedef struct vec3_s velocity_t; /* m/s */
typedef struct vec3_s acc_t;
typedef struct vec3_s jerk_t;

/* q0..q3 alias x, y, z, w (w is the scalar part). */
typedef struct quaternion_s {
  uint32_t timestamp;
  union {
    struct { float q0, q1, q2, q3; };
    struct { float x, y, z, w; };
  };
} quaternion_t;

typedef struct baro_s { float pressure, temperature, asl; } baro_t;

typedef struct sensorData_s {
  Axis3f acc;   /* Gs */
  Axis3f gyro;  /* deg/s, body frame */
  Axis3f mag;   /* gauss */
  baro_t baro;
  uint64_t interruptTimestamp;
} sensorData_t;

typedef struct state_s {
  attitude_t attitude;             /* deg (legacy CF2 body frame, pitch inverted) */
  quaternion_t attitudeQuaternion; /* body -> world */
  point_t position;                /* m, world */
  velocity_t velocity;             /* m/s, world */
  acc_t acc;                       /* Gs, without gravity */
} state_t;

#define STABILIZER_NR_OF_MOTORS 4
typedef enum control_mode_e { controlModeLegacy = 0, controlModeForceTorque = 1, controlModeForce = 2 } control_mode_t;

typedef struct control_s {
  union {
    struct { int16_t roll; int16_t pitch; int16_t yaw; float thrust; };           /* controlModeLegacy */
    struct { float thrustSi; union { float torque[3]; struct { float torqueX, torqueY, torqueZ; }; }; }; /* ForceTorque */
    float normalizedForces[STABILIZER_NR_OF_MOTORS];                               /* controlModeForce, 0..1 */
  };
  control_mode_t controlMode;
} control_t;

typedef enum mode_e { modeDisable = 0, modeAbs, modeVelocity } stab_mode_t;

typedef struct setpoint_s {
  uint32_t timestamp;
  attitude_t attitude;      /* deg */
  attitude_t attitudeRate;  /* deg/s */
  quaternion_t attitudeQuaternion;
  float thrust;
  point_t position;         /* m */
  velocity_t velocity;      /* m/s */
  acc_t acceleration;       /* m/s^2 */
  jerk_t jerk;              /* m/s^3 */
  bool velocity_body;
  struct { stab_mode_t x, y, z, roll, pitch, yaw, quat; } mode;
} setpoint_t;

typedef uint32_t stabilizerStep_t;

#define RATE_1000_HZ 1000
#define RATE_500_HZ 500
#define RATE_250_HZ 250
#define RATE_100_HZ 100
#define RATE_50_HZ 50
#define RATE_25_HZ 25
#define RATE_MAIN_LOOP RATE_1000_HZ
#define ATTITUDE_RATE RATE_500_HZ
#define POSITION_RATE RATE_100_HZ
#define RATE_DO_EXECUTE(RATE_HZ, TICK) ((TICK % (RATE_MAIN_LOOP / RATE_HZ)) == 0)

#endif
