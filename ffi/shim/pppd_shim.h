/*
 * pppd_shim.h - ONE stable C API over pppd 2.4.9 and 2.5.x for the sstp-rs plugin.
 *
 * This header deliberately includes no pppd header: every type here is plain C, so the Rust
 * side sees the same surface whatever pppd version the shim was compiled against.
 * All functions must be called on pppd's main thread (pppd takes no locks).
 */
#ifndef SSTP_PPPD_SHIM_H
#define SSTP_PPPD_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Log levels for sstp_shim_log(). */
enum sstp_shim_log_level {
    SSTP_SHIM_LOG_DEBUG = 0,  /* dbglog */
    SSTP_SHIM_LOG_INFO = 1,   /* info */
    SSTP_SHIM_LOG_NOTICE = 2, /* notice */
    SSTP_SHIM_LOG_WARN = 3,   /* warn */
    SSTP_SHIM_LOG_ERROR = 4,  /* error */
};

/* Notifier kinds for sstp_shim_add_notify(). */
enum sstp_shim_notify {
    SSTP_SHIM_NOTIFY_AUTH_UP = 0,
    SSTP_SHIM_NOTIFY_PHASE_CHANGE = 1,
    SSTP_SHIM_NOTIFY_EXIT = 2,
    SSTP_SHIM_NOTIFY_IP_UP = 3,
    SSTP_SHIM_NOTIFY_IP_DOWN = 4,
    SSTP_SHIM_NOTIFY_IPV6_UP = 5,
    SSTP_SHIM_NOTIFY_IPV6_DOWN = 6,
    SSTP_SHIM_NOTIFY_LINK_DOWN = 7,
    /* TERM/INT/HUP received: called from inside pppd's signal handler. */
    SSTP_SHIM_NOTIFY_SIGNALED = 8,
};

/* Option flags for struct sstp_shim_option. */
#define SSTP_SHIM_OPT_NOARG 0x1u /* option takes no argument (a flag) */
#define SSTP_SHIM_OPT_PRIV 0x2u  /* only root / privileged sources may set it */
#define SSTP_SHIM_OPT_SECRET 0x4u /* value may hold a secret: pppd's `dump` shows ?????? */
/* pppd's OPT_PRIO|OPT_PRIVFIX: anyone may set it, but a value set by a privileged source
 * (root, a root-owned options or peers file) cannot be overridden by an unprivileged one. */
#define SSTP_SHIM_OPT_PRIVFIX 0x8u

/* One plugin option; `name` and `description` must live for the whole process. */
struct sstp_shim_option {
    const char *name;
    const char *description;
    unsigned int flags;
};

/*
 * Called by pppd's option parser for option number `index` (position in the table passed to
 * sstp_shim_add_options). `value` is the argument (NULL for SSTP_SHIM_OPT_NOARG options).
 * Return 1 to accept, 0 to refuse (after reporting through sstp_shim_option_error()).
 */
typedef int (*sstp_shim_option_handler)(unsigned int index, const char *value);

/* Maximum number of options sstp_shim_add_options() accepts. */
#define SSTP_SHIM_MAX_OPTIONS 32u

/* Register `count` options with pppd (add_options / ppp_add_options). Returns 0, or -1 if
 * count is too large, memory is short, or options were already registered. */
int sstp_shim_add_options(const struct sstp_shim_option *options, unsigned int count,
                          sstp_shim_option_handler handler);
/* Report an option error through pppd's option_error("%s", msg). */
void sstp_shim_option_error(const char *msg);
/* Inside the option handler: 1 if the option being parsed comes from a privileged source
 * (pppd's `privileged_option`: root is running pppd, or the option is in a root-owned file such
 * as /etc/ppp/options or a peers file), 0 otherwise. */
int sstp_shim_option_privileged(void);

typedef void (*sstp_shim_notify_fn)(void *arg, int value);
/* Register a notifier (add_notifier / ppp_add_notify). Returns 0 or -1 for an unknown kind. */
int sstp_shim_add_notify(int kind, sstp_shim_notify_fn fn, void *arg);

/* Log `msg` (a preformatted string, passed to pppd as "%s") at `level`. */
void sstp_shim_log(int level, const char *msg);
/* Whether pppd's `debug` option is on. */
int sstp_shim_debug_enabled(void);

/*
 * Copy pppd's MPPE keys into send[0..cap] / recv[0..cap] and store their lengths.
 * 2.4.9: the 16-byte globals mppe_send_key/mppe_recv_key when mppe_keys_set;
 * 2.5.x: mppe_get_send_key/mppe_get_recv_key (up to 32 bytes).
 * Returns 1 if keys are set, 0 if not (lengths then 0).
 */
int sstp_shim_get_mppe_keys(unsigned char *send, unsigned char *recv, size_t cap,
                            size_t *send_len, size_t *recv_len);

/* pppd's interface name ("" before the unit exists). */
const char *sstp_shim_ifname(void);
/* pppd's exit status (status / ppp_status()). */
int sstp_shim_get_status(void);
/* Set pppd's exit status (status = / ppp_set_status()). */
void sstp_shim_set_status(int status);
/* Set pppd's device name (devnam / ppp_set_devnam()), truncated to pppd's buffer. */
void sstp_shim_set_devnam(const char *name);
/* pppd's device name. */
const char *sstp_shim_devnam(void);

/* The channel methods the plugin implements; establish/disestablish/send/recv config are
 * small dispatchers (see sstp_shim_set_channel_mode): pppd's own tty_* functions when the
 * channel fd is a pty slave, generic_establish_ppp/generic_disestablish_ppp and no config
 * hooks when it is a PPP channel socket (PPPoL2TP). */
struct sstp_shim_channel_ops {
    void (*check_options)(void);
    int (*connect)(void);
    void (*disconnect)(void);
    void (*cleanup)(void);
    void (*close)(void);
    /* Whether `name` is a tty option the channel accepts and ignores (pppd's o_wild matcher:
     * doit=0 asks, doit=1 applies, i.e. logs). 1 = ignored, 0 = not ours. May be NULL. */
    int (*ignored_option)(const char *name, int doit);
};
/* Install the channel: the_channel = &static channel built from `ops` + tty_* functions.
 * Its option table is one o_wild entry backed by `ops->ignored_option`: after `plugin`, pppd
 * looks tty options (lock, crtscts, speeds...) up in the_channel->options only. */
void sstp_shim_set_channel(const struct sstp_shim_channel_ops *ops);

/* How pppd attaches the fd that connect() returns. */
enum sstp_shim_channel_mode {
    SSTP_SHIM_CHANNEL_PTY = 0,    /* a pty slave: tty_* (ppp_async line discipline, HDLC) */
    SSTP_SHIM_CHANNEL_FRAMES = 1, /* a PPP channel socket: generic_establish_ppp, whole frames */
};
/* Select the mode for the link connect() is setting up (call from connect()). FRAMES also
 * switches off the LCP options only an async line can carry out (address/control and
 * protocol-field compression, the async map: lcp_wantoptions[0]/lcp_allowoptions[0]); PTY
 * restores them as they were before the first FRAMES. Returns 0, or -1 if this pppd lacks
 * generic_establish_ppp (the mode is then unchanged). */
int sstp_shim_set_channel_mode(int mode);

/* pppd's get_pty(): open a pty pair. Returns 1 on success. slave_name needs 16+ bytes. */
int sstp_shim_get_pty(int *master, int *slave, char *slave_name, size_t slave_name_len);
/* pppd's set_up_tty(fd, local=1): raw mode etc., as pppd does for its `pty` option. */
void sstp_shim_set_up_tty(int fd);

typedef void (*sstp_shim_timer_fn)(void *arg);
/* pppd's timeout()/ppp_timeout() with a delay in milliseconds. */
void sstp_shim_timeout(sstp_shim_timer_fn fn, void *arg, unsigned int ms);
/* pppd's untimeout()/ppp_untimeout(). */
void sstp_shim_untimeout(sstp_shim_timer_fn fn, void *arg);

/* lcp_close(0, reason): start an orderly LCP termination. */
void sstp_shim_lcp_close(const char *reason);
/* die(status): clean up and exit pppd. Does not return. */
void sstp_shim_die(int status);

/* IPv4 configuration negotiated by IPCP (addresses in network byte order, 0 = none). */
struct sstp_shim_ip4_config {
    uint32_t local;
    uint32_t peer;
    uint32_t dns1;
    uint32_t dns2;
};
void sstp_shim_ip4_config(struct sstp_shim_ip4_config *out);
/* IPv6 interface identifiers negotiated by IPV6CP. Returns 1 if IPv6CP is compiled in. */
int sstp_shim_ip6_ids(unsigned char local[8], unsigned char peer[8]);

/* The pppd version string this shim was compiled against. */
const char *sstp_shim_pppd_version(void);

/* Exit statuses and phases: the same numbers in 2.4.9 (#defines) and 2.5.x (enums). */
enum sstp_shim_exit {
    SSTP_SHIM_EXIT_OK = 0,
    SSTP_SHIM_EXIT_FATAL_ERROR = 1,
    SSTP_SHIM_EXIT_OPTION_ERROR = 2,
    SSTP_SHIM_EXIT_NOT_ROOT = 3,
    SSTP_SHIM_EXIT_NO_KERNEL_SUPPORT = 4,
    SSTP_SHIM_EXIT_USER_REQUEST = 5,
    SSTP_SHIM_EXIT_LOCK_FAILED = 6,
    SSTP_SHIM_EXIT_OPEN_FAILED = 7,
    SSTP_SHIM_EXIT_CONNECT_FAILED = 8,
    SSTP_SHIM_EXIT_PTYCMD_FAILED = 9,
    SSTP_SHIM_EXIT_NEGOTIATION_FAILED = 10,
    SSTP_SHIM_EXIT_PEER_AUTH_FAILED = 11,
    SSTP_SHIM_EXIT_IDLE_TIMEOUT = 12,
    SSTP_SHIM_EXIT_CONNECT_TIME = 13,
    SSTP_SHIM_EXIT_CALLBACK = 14,
    SSTP_SHIM_EXIT_PEER_DEAD = 15,
    SSTP_SHIM_EXIT_HANGUP = 16,
    SSTP_SHIM_EXIT_LOOPBACK = 17,
    SSTP_SHIM_EXIT_INIT_FAILED = 18,
    SSTP_SHIM_EXIT_AUTH_TOPEER_FAILED = 19,
};

enum sstp_shim_phase {
    SSTP_SHIM_PHASE_DEAD = 0,
    SSTP_SHIM_PHASE_INITIALIZE = 1,
    SSTP_SHIM_PHASE_SERIALCONN = 2,
    SSTP_SHIM_PHASE_DORMANT = 3,
    SSTP_SHIM_PHASE_ESTABLISH = 4,
    SSTP_SHIM_PHASE_AUTHENTICATE = 5,
    SSTP_SHIM_PHASE_CALLBACK = 6,
    SSTP_SHIM_PHASE_NETWORK = 7,
    SSTP_SHIM_PHASE_RUNNING = 8,
    SSTP_SHIM_PHASE_TERMINATE = 9,
    SSTP_SHIM_PHASE_DISCONNECT = 10,
    SSTP_SHIM_PHASE_HOLDOFF = 11,
    SSTP_SHIM_PHASE_MASTER = 12,
};


/* ---------------------------------------------------------------- EAP / auth method (sstp-rs EAP)
 * The method this side authenticated itself with (what the peer asked for in LCP). */
enum sstp_shim_auth {
    SSTP_SHIM_AUTH_NONE = 0,      /* no authentication towards the peer */
    SSTP_SHIM_AUTH_PAP = 1,
    SSTP_SHIM_AUTH_CHAP_MD5 = 2,
    SSTP_SHIM_AUTH_MSCHAP = 3,    /* MS-CHAP v1 */
    SSTP_SHIM_AUTH_MSCHAP_V2 = 4,
    SSTP_SHIM_AUTH_EAP_TLS = 5,
    SSTP_SHIM_AUTH_PEAP = 6,      /* pppd 2.5 only */
    SSTP_SHIM_AUTH_EAP_OTHER = 7, /* EAP-MSCHAPv2 (MPPE keys set) or EAP-MD5 (none) */
};
/* Call from the auth-up notifier (main thread). */
int sstp_shim_auth_method(void);
/* ---------------------------------------------------------------- end EAP / auth method */
/* Begin: route (issue 8, events 14/15). Bits of sstp_shim_default_route(). */
#define SSTP_SHIM_DEFAULT_ROUTE4 0x1u         /* `defaultroute` */
#define SSTP_SHIM_REPLACE_DEFAULT_ROUTE4 0x2u /* `replacedefaultroute` */
#define SSTP_SHIM_DEFAULT_ROUTE6 0x4u         /* `defaultroute6` */
/* Which default routes pppd was asked to set through the interface (ipcp_wantoptions[0],
 * ipv6cp_wantoptions[0]); valid once options are parsed. */
int sstp_shim_default_route(void);
/* End: route. */

#ifdef __cplusplus
}
#endif

#endif /* SSTP_PPPD_SHIM_H */
