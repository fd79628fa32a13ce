/* Kbuild compiles files of this folder; this unit is firmware-bridge's source, kept in one place. */
#include "../../roborl_controller.c"
