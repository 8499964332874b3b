/*
 * pppd_shim.c - the one place that knows the difference between pppd 2.4.9 and 2.5.x.
 *
 * Compiled by ffi/build.rs against the selected pppd headers. The 2.5 API is chosen when
 * <pppd/pppdconf.h> exists (2.5.0 added it); otherwise the 2.4.9 API.
 * Written for sstp-rs; no code taken from other SSTP projects.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#if __has_include(<pppd/pppdconf.h>)
#define SSTP_PPPD_25 1
#else
#define SSTP_PPPD_25 0
#endif

#if !SSTP_PPPD_25
/* 2.4.9 declares the MPPE globals and IPv6 types only with these set (Debian builds pppd so). */
#ifndef MPPE
#define MPPE 1
#endif
#ifndef INET6
#define INET6 1
#endif
#endif

#include <pppd/pppd.h>
#include <pppd/fsm.h>
#include <pppd/lcp.h>
#include <pppd/ipcp.h>
#include <pppd/eui64.h>
#include <pppd/ipv6cp.h>
#if SSTP_PPPD_25
#include <pppd/options.h>
#include <pppd/mppe.h>
#else
#include <pppd/patchlevel.h>
#include <pppd/chap_ms.h>
#endif

#include "pppd_shim.h"

#if SSTP_PPPD_25
/* These live in the non-installed pppd-private.h in 2.5.x; pppd is linked with -Wl,-E so the
 * symbols are exported. Prototypes as in 2.5.2's pppd-private.h. */
int get_pty(int *, int *, char *, int);
int tty_establish_ppp(int);
void tty_disestablish_ppp(int);
void set_up_tty(int, int);
void tty_send_config(int, u_int32_t, int, int);
void tty_recv_config(int, u_int32_t, int, int);
void die(int);
/* 2.5.x names of generic_establish_ppp/generic_disestablish_ppp (pppd.h declares them). */
#define SSTP_GENERIC_ESTABLISH ppp_generic_establish
#define SSTP_GENERIC_DISESTABLISH ppp_generic_disestablish
#define SSTP_VERSION_STRING PPPD_VERSION
#else
#define SSTP_VERSION_STRING VERSION
#define SSTP_GENERIC_ESTABLISH generic_establish_ppp
#define SSTP_GENERIC_DISESTABLISH generic_disestablish_ppp
#endif

/*
 * Every pppd symbol the shim uses is referenced WEAKLY. Inside pppd (linked with -Wl,-E) the
 * references bind to pppd's definitions at dlopen as usual; programs that link the plugin code
 * without pppd (the crates' own test executables, which never call these) still load; and a
 * pppd built without MPPE loads the plugin and reports "no keys" instead of failing to load.
 */
#if SSTP_PPPD_25
#pragma weak ppp_add_options
#pragma weak ppp_option_error
#pragma weak ppp_add_notify
#pragma weak debug_on
#pragma weak mppe_keys_isset
#pragma weak mppe_get_send_key
#pragma weak mppe_get_recv_key
#pragma weak ppp_ifname
#pragma weak ppp_status
#pragma weak ppp_set_status
#pragma weak ppp_set_devnam
#pragma weak ppp_devnam
#pragma weak ppp_set_pppdevnam
#pragma weak ppp_timeout
#pragma weak ppp_untimeout
#pragma weak ppp_generic_establish
#pragma weak ppp_generic_disestablish
#else
#pragma weak add_options
#pragma weak option_error
#pragma weak add_notifier
#pragma weak auth_up_notifier
#pragma weak phasechange
#pragma weak exitnotify
#pragma weak ip_up_notifier
#pragma weak ip_down_notifier
#pragma weak ipv6_up_notifier
#pragma weak ipv6_down_notifier
#pragma weak link_down_notifier
#pragma weak sigreceived
#pragma weak debug
#pragma weak mppe_keys_set
#pragma weak mppe_send_key
#pragma weak mppe_recv_key
#pragma weak ifname
#pragma weak status
#pragma weak devnam
#pragma weak ppp_devnam
#pragma weak timeout
#pragma weak untimeout
#pragma weak generic_establish_ppp
#pragma weak generic_disestablish_ppp
#endif
#pragma weak privileged_option
#pragma weak dbglog
#pragma weak info
#pragma weak notice
#pragma weak warn
#pragma weak error
#pragma weak the_channel
#pragma weak tty_establish_ppp
#pragma weak tty_disestablish_ppp
#pragma weak tty_send_config
#pragma weak tty_recv_config
#pragma weak get_pty
#pragma weak set_up_tty
#pragma weak lcp_close
#pragma weak lcp_wantoptions
#pragma weak lcp_allowoptions
#pragma weak die
#pragma weak ipcp_gotoptions
#pragma weak ipcp_hisoptions
#pragma weak ipv6cp_gotoptions
#pragma weak ipv6cp_hisoptions

/* ---------------------------------------------------------------- options */

#define SSTP_OPT_VALUE_MAX 256

static sstp_shim_option_handler opt_handler;
static option_t *opt_table;
/* Last value of each option, shown by pppd's `dump` (OPT_A2STRVAL|OPT_STATIC). */
static char opt_values[SSTP_SHIM_MAX_OPTIONS][SSTP_OPT_VALUE_MAX];
static unsigned int opt_flags[SSTP_SHIM_MAX_OPTIONS];

static int opt_dispatch(unsigned int index, char **argv, int noarg)
{
    const char *value = noarg ? NULL : (argv ? argv[0] : NULL);
    if (!opt_handler || index >= SSTP_SHIM_MAX_OPTIONS)
        return 0;
    if (!noarg && !value)
        return 0;
    if (!opt_handler(index, value))
        return 0;
    snprintf(opt_values[index], SSTP_OPT_VALUE_MAX, "%s",
             noarg ? "" : (opt_flags[index] & SSTP_SHIM_OPT_SECRET) ? "??????" : value);
    return 1;
}

/* pppd's o_special handlers get no context pointer: one trampoline per table slot. */
#define SSTP_TRAMPOLINE(n)                                                               \
    static int opt_arg_##n(char **argv) { return opt_dispatch(n, argv, 0); }            \
    static int opt_noarg_##n(char **argv) { (void)argv; return opt_dispatch(n, NULL, 1); }
SSTP_TRAMPOLINE(0) SSTP_TRAMPOLINE(1) SSTP_TRAMPOLINE(2) SSTP_TRAMPOLINE(3)
SSTP_TRAMPOLINE(4) SSTP_TRAMPOLINE(5) SSTP_TRAMPOLINE(6) SSTP_TRAMPOLINE(7)
SSTP_TRAMPOLINE(8) SSTP_TRAMPOLINE(9) SSTP_TRAMPOLINE(10) SSTP_TRAMPOLINE(11)
SSTP_TRAMPOLINE(12) SSTP_TRAMPOLINE(13) SSTP_TRAMPOLINE(14) SSTP_TRAMPOLINE(15)
SSTP_TRAMPOLINE(16) SSTP_TRAMPOLINE(17) SSTP_TRAMPOLINE(18) SSTP_TRAMPOLINE(19)
SSTP_TRAMPOLINE(20) SSTP_TRAMPOLINE(21) SSTP_TRAMPOLINE(22) SSTP_TRAMPOLINE(23)
SSTP_TRAMPOLINE(24) SSTP_TRAMPOLINE(25) SSTP_TRAMPOLINE(26) SSTP_TRAMPOLINE(27)
SSTP_TRAMPOLINE(28) SSTP_TRAMPOLINE(29) SSTP_TRAMPOLINE(30) SSTP_TRAMPOLINE(31)

typedef int (*sstp_parser)(char **);
#define SSTP_T(n) opt_arg_##n
static const sstp_parser arg_parsers[SSTP_SHIM_MAX_OPTIONS] = {
    SSTP_T(0), SSTP_T(1), SSTP_T(2), SSTP_T(3), SSTP_T(4), SSTP_T(5), SSTP_T(6), SSTP_T(7),
    SSTP_T(8), SSTP_T(9), SSTP_T(10), SSTP_T(11), SSTP_T(12), SSTP_T(13), SSTP_T(14), SSTP_T(15),
    SSTP_T(16), SSTP_T(17), SSTP_T(18), SSTP_T(19), SSTP_T(20), SSTP_T(21), SSTP_T(22), SSTP_T(23),
    SSTP_T(24), SSTP_T(25), SSTP_T(26), SSTP_T(27), SSTP_T(28), SSTP_T(29), SSTP_T(30), SSTP_T(31),
};
#undef SSTP_T
#define SSTP_T(n) opt_noarg_##n
static const sstp_parser noarg_parsers[SSTP_SHIM_MAX_OPTIONS] = {
    SSTP_T(0), SSTP_T(1), SSTP_T(2), SSTP_T(3), SSTP_T(4), SSTP_T(5), SSTP_T(6), SSTP_T(7),
    SSTP_T(8), SSTP_T(9), SSTP_T(10), SSTP_T(11), SSTP_T(12), SSTP_T(13), SSTP_T(14), SSTP_T(15),
    SSTP_T(16), SSTP_T(17), SSTP_T(18), SSTP_T(19), SSTP_T(20), SSTP_T(21), SSTP_T(22), SSTP_T(23),
    SSTP_T(24), SSTP_T(25), SSTP_T(26), SSTP_T(27), SSTP_T(28), SSTP_T(29), SSTP_T(30), SSTP_T(31),
};
#undef SSTP_T

int sstp_shim_add_options(const struct sstp_shim_option *options, unsigned int count,
                          sstp_shim_option_handler handler)
{
    unsigned int i;
    if (opt_table || !options || !handler || count > SSTP_SHIM_MAX_OPTIONS)
        return -1;
    /* count + 1: the table ends with an entry whose name is NULL. Lives for the process. */
    opt_table = calloc(count + 1, sizeof(option_t));
    if (!opt_table)
        return -1;
    for (i = 0; i < count; i++) {
        int noarg = (options[i].flags & SSTP_SHIM_OPT_NOARG) != 0;
        opt_table[i].name = (char *)options[i].name;
        opt_table[i].type = noarg ? o_special_noarg : o_special;
        opt_table[i].addr = (void *)(noarg ? noarg_parsers[i] : arg_parsers[i]);
        opt_table[i].description = (char *)options[i].description;
        opt_table[i].flags = OPT_A2STRVAL | OPT_STATIC |
                             ((options[i].flags & SSTP_SHIM_OPT_PRIV) ? OPT_PRIV : 0) |
                             ((options[i].flags & SSTP_SHIM_OPT_PRIVFIX)
                                  ? (OPT_PRIO | OPT_PRIVFIX) : 0);
        opt_table[i].addr2 = opt_values[i];
        opt_flags[i] = options[i].flags;
    }
    opt_handler = handler;
#if SSTP_PPPD_25
    ppp_add_options(opt_table);
#else
    add_options(opt_table);
#endif
    return 0;
}

/* pppd's "the current option came from root" flag (options.c; exported by 2.4.9 and 2.5.x,
 * declared in neither's installed headers). */
extern int privileged_option;

int sstp_shim_option_privileged(void)
{
    /* Fail closed: without pppd (the crates' test programs) nothing is privileged. */
    return &privileged_option != NULL && privileged_option ? 1 : 0;
}

void sstp_shim_option_error(const char *msg)
{
#if SSTP_PPPD_25
    ppp_option_error("%s", msg ? msg : "");
#else
    option_error("%s", msg ? msg : "");
#endif
}

/* ---------------------------------------------------------------- notifiers */

int sstp_shim_add_notify(int kind, sstp_shim_notify_fn fn, void *arg)
{
#if SSTP_PPPD_25
    ppp_notify_t t;
    switch (kind) {
    case SSTP_SHIM_NOTIFY_AUTH_UP: t = NF_AUTH_UP; break;
    case SSTP_SHIM_NOTIFY_PHASE_CHANGE: t = NF_PHASE_CHANGE; break;
    case SSTP_SHIM_NOTIFY_EXIT: t = NF_EXIT; break;
    case SSTP_SHIM_NOTIFY_IP_UP: t = NF_IP_UP; break;
    case SSTP_SHIM_NOTIFY_IP_DOWN: t = NF_IP_DOWN; break;
    case SSTP_SHIM_NOTIFY_IPV6_UP: t = NF_IPV6_UP; break;
    case SSTP_SHIM_NOTIFY_IPV6_DOWN: t = NF_IPV6_DOWN; break;
    case SSTP_SHIM_NOTIFY_LINK_DOWN: t = NF_LINK_DOWN; break;
    case SSTP_SHIM_NOTIFY_SIGNALED: t = NF_SIGNALED; break;
    default: return -1;
    }
    ppp_add_notify(t, fn, arg);
#else
    struct notifier **list;
    switch (kind) {
    case SSTP_SHIM_NOTIFY_AUTH_UP: list = &auth_up_notifier; break;
    case SSTP_SHIM_NOTIFY_PHASE_CHANGE: list = &phasechange; break;
    case SSTP_SHIM_NOTIFY_EXIT: list = &exitnotify; break;
    case SSTP_SHIM_NOTIFY_IP_UP: list = &ip_up_notifier; break;
    case SSTP_SHIM_NOTIFY_IP_DOWN: list = &ip_down_notifier; break;
    case SSTP_SHIM_NOTIFY_IPV6_UP: list = &ipv6_up_notifier; break;
    case SSTP_SHIM_NOTIFY_IPV6_DOWN: list = &ipv6_down_notifier; break;
    case SSTP_SHIM_NOTIFY_LINK_DOWN: list = &link_down_notifier; break;
    case SSTP_SHIM_NOTIFY_SIGNALED: list = &sigreceived; break;
    default: return -1;
    }
    add_notifier(list, fn, arg);
#endif
    return 0;
}

/* ---------------------------------------------------------------- logging */

void sstp_shim_log(int level, const char *msg)
{
    /* Never pass `msg` as a format: it may contain '%'. */
    if (!msg)
        msg = "";
    switch (level) {
    case SSTP_SHIM_LOG_DEBUG: dbglog("%s", msg); break;
    case SSTP_SHIM_LOG_INFO: info("%s", msg); break;
    case SSTP_SHIM_LOG_NOTICE: notice("%s", msg); break;
    case SSTP_SHIM_LOG_WARN: warn("%s", msg); break;
    default: error("%s", msg); break;
    }
}

int sstp_shim_debug_enabled(void)
{
#if SSTP_PPPD_25
    return debug_on() ? 1 : 0;
#else
    return debug ? 1 : 0;
#endif
}

/* ---------------------------------------------------------------- MPPE keys */

int sstp_shim_get_mppe_keys(unsigned char *send, unsigned char *recv, size_t cap,
                            size_t *send_len, size_t *recv_len)
{
    if (send_len)
        *send_len = 0;
    if (recv_len)
        *recv_len = 0;
    if (!send || !recv || !send_len || !recv_len)
        return 0;
#if SSTP_PPPD_25
    if (!mppe_keys_isset || !mppe_get_send_key || !mppe_get_recv_key)
        return 0; /* pppd built without MPPE */
    if (!mppe_keys_isset())
        return 0;
    {
        int n = cap > MPPE_MAX_KEY_SIZE ? MPPE_MAX_KEY_SIZE : (int)cap;
        int s = mppe_get_send_key(send, n);
        int r = mppe_get_recv_key(recv, n);
        *send_len = s > 0 ? (size_t)s : 0;
        *recv_len = r > 0 ? (size_t)r : 0;
    }
#else
    if (!&mppe_keys_set || !mppe_send_key || !mppe_recv_key)
        return 0; /* pppd built without MPPE */
    if (!mppe_keys_set)
        return 0;
    {
        size_t n = sizeof(mppe_send_key) < cap ? sizeof(mppe_send_key) : cap;
        /* Copy FROM pppd's globals INTO the caller's buffers (destination first). */
        memcpy(send, mppe_send_key, n);
        memcpy(recv, mppe_recv_key, n);
        *send_len = n;
        *recv_len = n;
    }
#endif
    return (*send_len > 0 || *recv_len > 0) ? 1 : 0;
}

/* ---------------------------------------------------------------- globals */

const char *sstp_shim_ifname(void)
{
#if SSTP_PPPD_25
    const char *n = ppp_ifname();
    return n ? n : "";
#else
    return ifname;
#endif
}

int sstp_shim_get_status(void)
{
#if SSTP_PPPD_25
    return (int)ppp_status();
#else
    return status;
#endif
}

void sstp_shim_set_status(int s)
{
#if SSTP_PPPD_25
    ppp_set_status((ppp_exit_code_t)s);
#else
    status = s;
#endif
}

void sstp_shim_set_devnam(const char *name)
{
    if (!name)
        return;
#if SSTP_PPPD_25
    ppp_set_devnam(name);
    /* "Connect: ppp0 <--> <ppp_devname>" */
    if (ppp_set_pppdevnam)
        ppp_set_pppdevnam(name);
#else
    snprintf(devnam, sizeof(devnam), "%s", name);
    /* 2.4.9 prints "Connect: ppp0 <--> <ppp_devnam>". */
    if (ppp_devnam)
        snprintf(ppp_devnam, sizeof(ppp_devnam), "%s", name);
#endif
}

const char *sstp_shim_devnam(void)
{
#if SSTP_PPPD_25
    const char *n = ppp_devnam();
    return n ? n : "";
#else
    return devnam;
#endif
}

/* ---------------------------------------------------------------- channel */

static struct channel sstp_channel;
/* pppd's find_option() walks the_channel->options (2.4.9 without a NULL check) and nothing
 * else has tty_channel's options once the plugin is the channel: one o_wild entry asks the
 * plugin which tty options it accepts and ignores, then the terminating NULL name. */
static option_t sstp_channel_options[2];
static int (*ignored_option_fn)(const char *, int);
/* Last ignored option, shown by pppd's `dump` (OPT_A2STRVAL|OPT_STATIC). */
static char ignored_option_value[32];

static int ignored_option_wild(char *name, char **argv, int doit)
{
    (void)argv;
    if (!ignored_option_fn || !name || !ignored_option_fn(name, doit))
        return 0;
    if (doit)
        snprintf(ignored_option_value, sizeof(ignored_option_value), "%s", name);
    return 1;
}

/* The mode connect() chose, and the one the current link was established with (what
 * disestablish must undo, whatever connect() chooses next). */
static int channel_mode = SSTP_SHIM_CHANNEL_PTY;
static int established_mode = SSTP_SHIM_CHANNEL_PTY;

static int establish_dispatch(int fd)
{
    established_mode = channel_mode;
    if (channel_mode == SSTP_SHIM_CHANNEL_FRAMES)
        return SSTP_GENERIC_ESTABLISH(fd);
    return tty_establish_ppp(fd);
}

static void disestablish_dispatch(int fd)
{
    if (established_mode == SSTP_SHIM_CHANNEL_FRAMES)
        SSTP_GENERIC_DISESTABLISH(fd);
    else
        tty_disestablish_ppp(fd);
}

/* A PPP channel socket has no async map or compression to set: as pppd's PPPoE plugin, no
 * send configuration; the MTU is set on the interface by LCP itself. */
static void send_config_dispatch(int mtu, u_int32_t accm, int pcomp, int accomp)
{
    if (channel_mode == SSTP_SHIM_CHANNEL_PTY)
        tty_send_config(mtu, accm, pcomp, accomp);
}

static void recv_config_dispatch(int mru, u_int32_t accm, int pcomp, int accomp)
{
    if (channel_mode == SSTP_SHIM_CHANNEL_PTY)
        tty_recv_config(mru, accm, pcomp, accomp);
}

/* lcp_wantoptions[0]/lcp_allowoptions[0] as they were before the first FRAMES link. */
static struct {
    int saved;
    bool want_acc, want_pc, want_accm, allow_acc, allow_pc, allow_accm;
} lcp_saved;

int sstp_shim_set_channel_mode(int mode)
{
    if (mode == SSTP_SHIM_CHANNEL_FRAMES) {
        if (!SSTP_GENERIC_ESTABLISH || !SSTP_GENERIC_DISESTABLISH || !lcp_wantoptions ||
            !lcp_allowoptions)
            return -1;
        if (!lcp_saved.saved) {
            lcp_saved.want_acc = lcp_wantoptions[0].neg_accompression;
            lcp_saved.want_pc = lcp_wantoptions[0].neg_pcompression;
            lcp_saved.want_accm = lcp_wantoptions[0].neg_asyncmap;
            lcp_saved.allow_acc = lcp_allowoptions[0].neg_accompression;
            lcp_saved.allow_pc = lcp_allowoptions[0].neg_pcompression;
            lcp_saved.allow_accm = lcp_allowoptions[0].neg_asyncmap;
            lcp_saved.saved = 1;
        }
        lcp_wantoptions[0].neg_accompression = 0;
        lcp_wantoptions[0].neg_pcompression = 0;
        lcp_wantoptions[0].neg_asyncmap = 0;
        lcp_allowoptions[0].neg_accompression = 0;
        lcp_allowoptions[0].neg_pcompression = 0;
        lcp_allowoptions[0].neg_asyncmap = 0;
        channel_mode = SSTP_SHIM_CHANNEL_FRAMES;
        return 0;
    }
    if (lcp_saved.saved && lcp_wantoptions && lcp_allowoptions) {
        lcp_wantoptions[0].neg_accompression = lcp_saved.want_acc;
        lcp_wantoptions[0].neg_pcompression = lcp_saved.want_pc;
        lcp_wantoptions[0].neg_asyncmap = lcp_saved.want_accm;
        lcp_allowoptions[0].neg_accompression = lcp_saved.allow_acc;
        lcp_allowoptions[0].neg_pcompression = lcp_saved.allow_pc;
        lcp_allowoptions[0].neg_asyncmap = lcp_saved.allow_accm;
        lcp_saved.saved = 0;
    }
    channel_mode = SSTP_SHIM_CHANNEL_PTY;
    return 0;
}

void sstp_shim_set_channel(const struct sstp_shim_channel_ops *ops)
{
    if (!ops)
        return;
    memset(&sstp_channel, 0, sizeof(sstp_channel));
    memset(sstp_channel_options, 0, sizeof(sstp_channel_options));
    ignored_option_fn = ops->ignored_option;
    if (ignored_option_fn) {
        sstp_channel_options[0].name = (char *)"tty option ignored by sstp-rs";
        sstp_channel_options[0].type = o_wild;
        sstp_channel_options[0].addr = (void *)&ignored_option_wild;
        sstp_channel_options[0].description = (char *)"Serial-line option, accepted and ignored";
        sstp_channel_options[0].flags = OPT_NOARG | OPT_A2STRVAL | OPT_STATIC;
        sstp_channel_options[0].addr2 = ignored_option_value;
    }
    sstp_channel.options = sstp_channel_options;
    sstp_channel.process_extra_options = NULL;
    sstp_channel.check_options = ops->check_options;
    sstp_channel.connect = ops->connect;
    sstp_channel.disconnect = ops->disconnect;
    sstp_channel.establish_ppp = establish_dispatch;
    sstp_channel.disestablish_ppp = disestablish_dispatch;
    sstp_channel.send_config = send_config_dispatch;
    sstp_channel.recv_config = recv_config_dispatch;
    sstp_channel.cleanup = ops->cleanup;
    sstp_channel.close = ops->close;
    the_channel = &sstp_channel;
}

int sstp_shim_get_pty(int *master, int *slave, char *slave_name, size_t slave_name_len)
{
    /* pppd's get_pty writes up to 16 bytes ("/dev/pts/NNNN" + NUL) into slave_name. */
    char name[64];
    int ok;
    if (!master || !slave)
        return 0;
    memset(name, 0, sizeof(name));
    ok = get_pty(master, slave, name, 0);
    if (ok && slave_name && slave_name_len > 0)
        snprintf(slave_name, slave_name_len, "%s", name);
    return ok ? 1 : 0;
}

void sstp_shim_set_up_tty(int fd)
{
    set_up_tty(fd, 1);
}

/* ---------------------------------------------------------------- timers, shutdown */

void sstp_shim_timeout(sstp_shim_timer_fn fn, void *arg, unsigned int ms)
{
#if SSTP_PPPD_25
    ppp_timeout(fn, arg, (int)(ms / 1000), (int)((ms % 1000) * 1000));
#else
    timeout(fn, arg, (int)(ms / 1000), (int)((ms % 1000) * 1000));
#endif
}

void sstp_shim_untimeout(sstp_shim_timer_fn fn, void *arg)
{
#if SSTP_PPPD_25
    ppp_untimeout(fn, arg);
#else
    untimeout(fn, arg);
#endif
}

void sstp_shim_lcp_close(const char *reason)
{
    lcp_close(0, (char *)(reason ? reason : "sstp-rs"));
}

void sstp_shim_die(int s)
{
    die(s);
}

/* ---------------------------------------------------------------- IP configuration */

void sstp_shim_ip4_config(struct sstp_shim_ip4_config *out)
{
    if (!out)
        return;
    out->local = ipcp_gotoptions[0].ouraddr;
    out->peer = ipcp_hisoptions[0].hisaddr;
    out->dns1 = ipcp_gotoptions[0].dnsaddr[0];
    out->dns2 = ipcp_gotoptions[0].dnsaddr[1];
}

int sstp_shim_ip6_ids(unsigned char local[8], unsigned char peer[8])
{
    if (!local || !peer)
        return 0;
    memcpy(local, &ipv6cp_gotoptions[0].ourid, 8);
    memcpy(peer, &ipv6cp_hisoptions[0].hisid, 8);
    return 1;
}

const char *sstp_shim_pppd_version(void)
{
    return SSTP_VERSION_STRING;
}

/* The shim's numbers must be pppd's numbers (2.4.9 #defines, 2.5.x enums). */
_Static_assert((int)SSTP_SHIM_EXIT_OK == (int)EXIT_OK, "EXIT_OK");
_Static_assert((int)SSTP_SHIM_EXIT_FATAL_ERROR == (int)EXIT_FATAL_ERROR, "EXIT_FATAL_ERROR");
_Static_assert((int)SSTP_SHIM_EXIT_OPTION_ERROR == (int)EXIT_OPTION_ERROR, "EXIT_OPTION_ERROR");
_Static_assert((int)SSTP_SHIM_EXIT_USER_REQUEST == (int)EXIT_USER_REQUEST, "EXIT_USER_REQUEST");
_Static_assert((int)SSTP_SHIM_EXIT_OPEN_FAILED == (int)EXIT_OPEN_FAILED, "EXIT_OPEN_FAILED");
_Static_assert((int)SSTP_SHIM_EXIT_CONNECT_FAILED == (int)EXIT_CONNECT_FAILED, "EXIT_CONNECT_FAILED");
_Static_assert((int)SSTP_SHIM_EXIT_NEGOTIATION_FAILED == (int)EXIT_NEGOTIATION_FAILED, "EXIT_NEG");
_Static_assert((int)SSTP_SHIM_EXIT_PEER_AUTH_FAILED == (int)EXIT_PEER_AUTH_FAILED, "EXIT_PEER_AUTH");
_Static_assert((int)SSTP_SHIM_EXIT_PEER_DEAD == (int)EXIT_PEER_DEAD, "EXIT_PEER_DEAD");
_Static_assert((int)SSTP_SHIM_EXIT_HANGUP == (int)EXIT_HANGUP, "EXIT_HANGUP");
_Static_assert((int)SSTP_SHIM_EXIT_INIT_FAILED == (int)EXIT_INIT_FAILED, "EXIT_INIT_FAILED");
_Static_assert((int)SSTP_SHIM_EXIT_AUTH_TOPEER_FAILED == (int)EXIT_AUTH_TOPEER_FAILED, "EXIT_AUTH_TOPEER");
_Static_assert((int)SSTP_SHIM_PHASE_DEAD == (int)PHASE_DEAD, "PHASE_DEAD");
_Static_assert((int)SSTP_SHIM_PHASE_AUTHENTICATE == (int)PHASE_AUTHENTICATE, "PHASE_AUTHENTICATE");
_Static_assert((int)SSTP_SHIM_PHASE_NETWORK == (int)PHASE_NETWORK, "PHASE_NETWORK");
_Static_assert((int)SSTP_SHIM_PHASE_RUNNING == (int)PHASE_RUNNING, "PHASE_RUNNING");
_Static_assert((int)SSTP_SHIM_PHASE_TERMINATE == (int)PHASE_TERMINATE, "PHASE_TERMINATE");
_Static_assert((int)SSTP_SHIM_PHASE_DISCONNECT == (int)PHASE_DISCONNECT, "PHASE_DISCONNECT");
_Static_assert((int)SSTP_SHIM_PHASE_MASTER == (int)PHASE_MASTER, "PHASE_MASTER");

/* ================================================================ EAP / auth method (sstp-rs EAP)
 * Which authentication method this side used towards the peer, for the HLAK rules of
 * [MS-SSTP] 3.2.5.2. pppd records what the peer asked us to do in lcp_hisoptions[0]
 * (auth.c link_established: neg_eap before neg_chap before neg_upap), and for EAP the client
 * state in eap_states[0].es_client (ea_using_eaptls; 2.5's PEAP context in ea_peap). */
#if !SSTP_PPPD_25
/* Debian builds 2.4.9 with EAP-TLS and MS-CHAP: eap_auth's layout depends on these. */
#ifndef USE_EAPTLS
#define USE_EAPTLS 1
#endif
#ifndef CHAPMS
#define CHAPMS 1
#endif
#endif
#include <pppd/eap.h>
#if SSTP_PPPD_25
#include <pppd/chap.h>
#else
#include <pppd/chap-new.h>
#endif
#pragma weak lcp_hisoptions
#pragma weak eap_states

int sstp_shim_auth_method(void)
{
    const lcp_options *ho;
    if (!lcp_hisoptions)
        return SSTP_SHIM_AUTH_NONE;
    ho = &lcp_hisoptions[0];
    if (ho->neg_eap) {
        if (!eap_states)
            return SSTP_SHIM_AUTH_EAP_OTHER;
        if (eap_states[0].es_client.ea_using_eaptls)
            return SSTP_SHIM_AUTH_EAP_TLS;
#if SSTP_PPPD_25 && defined(PPP_WITH_PEAP)
        if (eap_states[0].ea_peap)
            return SSTP_SHIM_AUTH_PEAP;
#endif
        /* EAP-MSCHAPv2 and EAP-MD5 leave no other trace: the caller tells them apart by
         * whether MPPE keys were set (EAP-MSCHAPv2's chapms response sets them). */
        return SSTP_SHIM_AUTH_EAP_OTHER;
    }
    if (ho->neg_chap) {
        switch (ho->chap_mdtype) {
        case MDTYPE_MICROSOFT_V2: return SSTP_SHIM_AUTH_MSCHAP_V2;
        case MDTYPE_MICROSOFT: return SSTP_SHIM_AUTH_MSCHAP;
        default: return SSTP_SHIM_AUTH_CHAP_MD5;
        }
    }
    if (ho->neg_upap)
        return SSTP_SHIM_AUTH_PAP;
    return SSTP_SHIM_AUTH_NONE;
}
/* ================================================================ end EAP / auth method */
/* ---------------------------------------------------------------- route (sstp-rs route) */
/* Begin: default-route options for the host route to the server (issue 8, events 14/15). */
#pragma weak ipcp_wantoptions
#pragma weak ipv6cp_wantoptions

int sstp_shim_default_route(void)
{
    int r = 0;
    /* Called inside pppd only (like sstp_shim_ip4_config): the arrays are there. */
    if (ipcp_wantoptions[0].default_route)
        r |= SSTP_SHIM_DEFAULT_ROUTE4;
    /* Debian's 2.4.9 (replacedefaultroute patch) and 2.5.x upstream have the field. */
    if (ipcp_wantoptions[0].replace_default_route)
        r |= SSTP_SHIM_REPLACE_DEFAULT_ROUTE4;
    if (ipv6cp_wantoptions[0].default_route)
        r |= SSTP_SHIM_DEFAULT_ROUTE6;
    return r;
}
/* End: route. */
