/* Version probe, preprocessed by build.rs (cc -E). */
#if __has_include(<pppd/pppdconf.h>)
#include <pppd/pppdconf.h>
SSTP_PROBE_VERSION PPPD_VERSION
#else
#include <pppd/patchlevel.h>
SSTP_PROBE_VERSION VERSION
#endif
