/* The C ABI of the Rust side (src/lib.rs): plain C strings in, key/value pairs out.
 * Every returned char * is the Rust side's and is freed with sstp_nm_free(). */
#ifndef SSTP_NM_ABI_H
#define SSTP_NM_ABI_H

#include <stddef.h>

enum sstp_nm_item {
	SSTP_NM_ID = 0,            /* value: connection id */
	SSTP_NM_DATA = 1,          /* key, value: one vpn.data item */
	SSTP_NM_NEVER_DEFAULT = 2, /* value: "yes" or "no" */
	SSTP_NM_NOTE = 3,          /* value: a sanitized sentence for the log */
};

typedef void (*sstp_nm_sink)(void *user_data, int item, const char *key, const char *value);

/* Imports `path`; NULL on success, else the error sentence. */
char *sstp_nm_import(const char *path, sstp_nm_sink sink, void *user_data);
/* Exports to `path` (`.pbk`: a phonebook, else our format); `never_default` -1 unknown;
 * `sink` receives the notes. NULL on success, else the error sentence. */
char *sstp_nm_export(const char *path, const char *id, const char *const *keys,
                     const char *const *values, size_t n, int never_default,
                     sstp_nm_sink sink, void *user_data);
/* The file name offered for an export of `id`. */
char *sstp_nm_suggested_filename(const char *id);
void sstp_nm_free(char *s);

/* C side: the plugin object (nm-sstp-editor-plugin.c). */
void *sstp_nm_editor_plugin_new(void **error);

#endif
