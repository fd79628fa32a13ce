# CTest driver: compiles the MCU-side sources (link codec, policy) for the Crazyflie's Cortex-M4F and
# checks they need nothing from libc beyond memcpy/memmove/memset and libm's tanhf: no malloc, no stdio.
set(flags -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16)
foreach(src link/roborl_link.c policy/roborl_policy.c policy/roborl_observation.c)
  get_filename_component(name ${src} NAME_WE)
  set(obj ${OUT}/${name}.cortex-m4.o)
  execute_process(COMMAND ${ARM_CC} ${flags} -I${SRC}/link -I${SRC}/policy -c ${SRC}/${src} -o ${obj}
                  RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${src} does not build for Cortex-M4:\n${err}")
  endif()
  execute_process(COMMAND ${ARM_NM} -u ${obj} OUTPUT_VARIABLE undefined RESULT_VARIABLE rc)
  string(REGEX MATCHALL "U [A-Za-z_0-9]+" symbols "${undefined}")
  foreach(sym IN LISTS symbols)
    string(SUBSTRING "${sym}" 2 -1 sym)
    if(NOT sym MATCHES "^(memcpy|memmove|memset|tanhf|__aeabi_.*)$")
      message(FATAL_ERROR "${src} needs '${sym}' on the MCU; allowed: memcpy, memmove, memset, tanhf, __aeabi_*")
    endif()
  endforeach()
  execute_process(COMMAND ${ARM_SIZE} ${obj} OUTPUT_VARIABLE size)
  message("${size}")
endforeach()

# The Crazyflie out-of-tree app units (crazyflie/app/src) against the host stand-ins for the firmware's types,
# with the firmware's language level (gnu11: its control_t uses anonymous unions) and -Wdouble-promotion.
set(cf_flags -std=gnu11 -Wall -Wextra -Wdouble-promotion -Wmissing-prototypes -Werror -O2 -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
    -I${SRC}/crazyflie -I${SRC}/policy -I${SRC}/crazyflie/test/policy -I${SRC}/crazyflie/test/stubs)
foreach(unit controller policy observation)
  set(unit_flags)
  if(unit STREQUAL "observation")
    set(unit_flags -ffp-contract=off) # as crazyflie/app/src/Kbuild builds it
  endif()
  execute_process(COMMAND ${ARM_CC} ${cf_flags} ${unit_flags} -c ${SRC}/crazyflie/app/src/roborl_${unit}_unit.c -o ${OUT}/cf_${unit}.cortex-m4.o
                  RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "crazyflie/app/src/roborl_${unit}_unit.c does not build for Cortex-M4:\n${err}")
  endif()
endforeach()
