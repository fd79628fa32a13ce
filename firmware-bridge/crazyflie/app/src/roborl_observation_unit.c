/* Kbuild compiles files of this folder; this unit is firmware-bridge's source, kept in one place. */
#include "../../../policy/roborl_observation.c"
