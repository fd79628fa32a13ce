/* Host stand-in for the autoconf.h crazyflie-firmware's Kconfig generates: the default CF2 configuration with the
 * out-of-tree controller (cf2_defconfig + app-config: 2.1+ propellers, battery compensation on). A test that needs
 * another configuration defines ROBORL_TEST_CUSTOM_AUTOCONF and its own CONFIG_* on the command line. */
#ifndef ROBORL_STUB_AUTOCONF_H
#define ROBORL_STUB_AUTOCONF_H
#ifndef ROBORL_TEST_CUSTOM_AUTOCONF
#define CONFIG_CONTROLLER_OOT 1
#define CONFIG_PLATFORM_CF2 1
#define CONFIG_ENABLE_THRUST_BAT_COMPENSATED 1
#define CONFIG_CRAZYFLIE_21_PLUS 1
#endif
#endif
