# CTest driver: compiles firmware-bridge/crazyflie/roborl_controller.c (with the checked-in 2.1+ test header,
# crazyflie/test/policy) against firmware configurations and checks that only the matching one builds.
#   cmake -DCC=cc -DSRC=firmware-bridge -DOUT=build -P tests/check_crazyflie_configuration.cmake
set(cf ${SRC}/crazyflie)
set(base -std=gnu11 -Wall -Wextra -Wmissing-prototypes -Werror -I${cf} -I${SRC}/policy -I${cf}/test/policy -I${cf}/test/stubs
    -c ${cf}/roborl_controller.c -o ${OUT}/roborl_controller_config_check.o)

function(expect name outcome message)
  execute_process(COMMAND ${CC} ${base} ${ARGN} RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_VARIABLE out)
  if(outcome STREQUAL "builds" AND NOT rc EQUAL 0)
    message(FATAL_ERROR "${name}: expected to build, failed:\n${err}")
  elseif(outcome STREQUAL "fails")
    if(rc EQUAL 0)
      message(FATAL_ERROR "${name}: expected the build to stop, it built")
    endif()
    string(FIND "${err}" "${message}" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "${name}: the build stopped, but without \"${message}\":\n${err}")
    endif()
  endif()
  message(STATUS "${name}: ${outcome} as expected")
endfunction()

set(custom -DROBORL_TEST_CUSTOM_AUTOCONF -DCONFIG_CONTROLLER_OOT=1)
expect("cf2_defconfig + app-config (2.1+ propellers, compensated)" builds "")
expect("thrust upgrade kit" fails "trained for the Crazyflie 2.1+ propellers"
       ${custom} -DCONFIG_PLATFORM_CF2=1 -DCONFIG_ENABLE_THRUST_BAT_COMPENSATED=1 -DCONFIG_CRAZYFLIE_THRUST_UPGRADE_KIT=1)
expect("legacy propellers" fails "trained for the Crazyflie 2.1+ propellers"
       ${custom} -DCONFIG_PLATFORM_CF2=1 -DCONFIG_ENABLE_THRUST_BAT_COMPENSATED=1 -DCONFIG_CRAZYFLIE_LEGACY_PROPELLERS=1)
expect("battery compensation off" fails "enable CONFIG_ENABLE_THRUST_BAT_COMPENSATED"
       ${custom} -DCONFIG_PLATFORM_CF2=1)
expect("Crazyflie 2.1 Brushless" fails "trained for the Crazyflie 2.1+ propellers"
       ${custom} -DCONFIG_PLATFORM_CF21BL=1 -DCONFIG_ENABLE_THRUST_BAT_COMPENSATED=1 -DCONFIG_THRUST_BAT_COMPENSATION_MAX_THRUST=200)
# Without CONFIG_CONTROLLER_OOT (as when autoconf.h is not included first) controller.h declares no prototypes.
expect("no prototypes from controller.h" fails "no previous prototype for"
       -DROBORL_TEST_CUSTOM_AUTOCONF -DCONFIG_PLATFORM_CF2=1 -DCONFIG_ENABLE_THRUST_BAT_COMPENSATED=1 -DCONFIG_CRAZYFLIE_21_PLUS=1)
