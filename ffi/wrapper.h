/* bindgen input: pppd's headers (parsed so a header mismatch fails the build early) and the
 * shim's stable API, which is all that is allow-listed. */
#if __has_include(<pppd/pppdconf.h>)
#include <pppd/pppd.h>
#include <pppd/options.h>
#else
#define MPPE 1
#define INET6 1
#include <pppd/pppd.h>
#endif
#include "shim/pppd_shim.h"
