/* sstp-rs: the libnm VPN editor plugin object (NMVpnEditorPlugin) for import and export.
 * Only GObject/libnm plumbing lives here; every decision is the Rust side's
 * (sstp_nm::import, through sstp-nm-abi.h). The GTK editor is not provided yet:
 * get_editor returns an error. */
#include <NetworkManager.h>

#include "sstp-nm-abi.h"

#define SSTP_SERVICE "org.freedesktop.NetworkManager.sstp"
#define SSTP_LOG "nm-sstp"

typedef struct {
	GObject parent;
} SstpEditorPlugin;

typedef struct {
	GObjectClass parent;
} SstpEditorPluginClass;

enum { PROP_0, PROP_NAME, PROP_DESC, PROP_SERVICE };

static void sstp_editor_plugin_iface_init(NMVpnEditorPluginInterface *iface);

GType sstp_editor_plugin_get_type(void);

G_DEFINE_TYPE_WITH_CODE(SstpEditorPlugin, sstp_editor_plugin, G_TYPE_OBJECT,
			G_IMPLEMENT_INTERFACE(NM_TYPE_VPN_EDITOR_PLUGIN,
					      sstp_editor_plugin_iface_init))

static void fail(GError **error, int code, char *msg)
{
	g_set_error(error, NM_CONNECTION_ERROR, code, "%s", msg ? msg : "unknown error");
	sstp_nm_free(msg);
}

/* --- import ------------------------------------------------------------------------ */

typedef struct {
	NMSettingConnection *s_con;
	NMSettingVpn *s_vpn;
	NMSettingIPConfig *s_ip4;
} ImportTarget;

static void import_sink(void *user_data, int item, const char *key, const char *value)
{
	ImportTarget *t = user_data;

	switch (item) {
	case SSTP_NM_ID:
		g_object_set(t->s_con, NM_SETTING_CONNECTION_ID, value, NULL);
		break;
	case SSTP_NM_DATA:
		nm_setting_vpn_add_data_item(t->s_vpn, key, value);
		break;
	case SSTP_NM_NEVER_DEFAULT:
		g_object_set(t->s_ip4, NM_SETTING_IP_CONFIG_NEVER_DEFAULT,
			     g_strcmp0(value, "yes") == 0, NULL);
		break;
	default:
		g_message("%s: import: %s", SSTP_LOG, value);
	}
}

static NMConnection *import_from_file(NMVpnEditorPlugin *plugin, const char *path, GError **error)
{
	NMConnection *conn = nm_simple_connection_new();
	char *uuid = nm_utils_uuid_generate();
	ImportTarget t = {
		.s_con = NM_SETTING_CONNECTION(nm_setting_connection_new()),
		.s_vpn = NM_SETTING_VPN(nm_setting_vpn_new()),
		.s_ip4 = NM_SETTING_IP_CONFIG(nm_setting_ip4_config_new()),
	};
	char *err;

	(void)plugin;
	g_object_set(t.s_con, NM_SETTING_CONNECTION_TYPE, NM_SETTING_VPN_SETTING_NAME,
		     NM_SETTING_CONNECTION_UUID, uuid, NULL);
	g_free(uuid);
	g_object_set(t.s_vpn, NM_SETTING_VPN_SERVICE_TYPE, SSTP_SERVICE, NULL);
	g_object_set(t.s_ip4, NM_SETTING_IP_CONFIG_METHOD, NM_SETTING_IP4_CONFIG_METHOD_AUTO, NULL);
	nm_connection_add_setting(conn, NM_SETTING(t.s_con));
	nm_connection_add_setting(conn, NM_SETTING(t.s_vpn));
	nm_connection_add_setting(conn, NM_SETTING(t.s_ip4));
	err = sstp_nm_import(path, import_sink, &t);
	if (err) {
		fail(error, NM_CONNECTION_ERROR_FAILED, err);
		g_object_unref(conn);
		return NULL;
	}
	return conn;
}

/* --- export ------------------------------------------------------------------------ */

typedef struct {
	GPtrArray *keys;
	GPtrArray *values;
} Pairs;

static void collect(const char *key, const char *value, gpointer user_data)
{
	Pairs *p = user_data;

	/* libnm hands out copies that it frees after the call */
	g_ptr_array_add(p->keys, g_strdup(key));
	g_ptr_array_add(p->values, g_strdup(value));
}

static void note_sink(void *user_data, int item, const char *key, const char *value)
{
	(void)user_data;
	(void)item;
	(void)key;
	g_message("%s: export: %s", SSTP_LOG, value);
}

static int never_default(NMConnection *conn)
{
	NMSettingIPConfig *s_ip4 = nm_connection_get_setting_ip4_config(conn);

	return s_ip4 ? nm_setting_ip_config_get_never_default(s_ip4) : -1;
}

static gboolean export_to_file(NMVpnEditorPlugin *plugin, const char *path, NMConnection *conn,
			       GError **error)
{
	NMSettingVpn *s_vpn = nm_connection_get_setting_vpn(conn);
	Pairs p;
	char *err;

	(void)plugin;
	if (!s_vpn || g_strcmp0(nm_setting_vpn_get_service_type(s_vpn), SSTP_SERVICE) != 0) {
		g_set_error(error, NM_CONNECTION_ERROR, NM_CONNECTION_ERROR_INVALID_SETTING,
			    "not an SSTP VPN connection (vpn.service-type is not %s)", SSTP_SERVICE);
		return FALSE;
	}
	p.keys = g_ptr_array_new_with_free_func(g_free);
	p.values = g_ptr_array_new_with_free_func(g_free);
	nm_setting_vpn_foreach_data_item(s_vpn, collect, &p);
	err = sstp_nm_export(path, nm_connection_get_id(conn),
			     (const char *const *)p.keys->pdata, (const char *const *)p.values->pdata,
			     p.keys->len, never_default(conn), note_sink, NULL);
	g_ptr_array_free(p.keys, TRUE);
	g_ptr_array_free(p.values, TRUE);
	if (err) {
		fail(error, NM_CONNECTION_ERROR_FAILED, err);
		return FALSE;
	}
	return TRUE;
}

/* --- the rest of the interface ------------------------------------------------------ */

static char *get_suggested_filename(NMVpnEditorPlugin *plugin, NMConnection *conn)
{
	char *rust = sstp_nm_suggested_filename(nm_connection_get_id(conn));
	char *out = g_strdup(rust);

	(void)plugin;
	sstp_nm_free(rust);
	return out;
}

static NMVpnEditorPluginCapability get_capabilities(NMVpnEditorPlugin *plugin)
{
	(void)plugin;
	return NM_VPN_EDITOR_PLUGIN_CAPABILITY_IMPORT | NM_VPN_EDITOR_PLUGIN_CAPABILITY_EXPORT |
	       NM_VPN_EDITOR_PLUGIN_CAPABILITY_IPV6;
}

static NMVpnEditor *get_editor(NMVpnEditorPlugin *plugin, NMConnection *conn, GError **error)
{
	(void)plugin;
	(void)conn;
	g_set_error(error, NM_CONNECTION_ERROR, NM_CONNECTION_ERROR_FAILED,
		    "the sstp-rs editor plugin has no GTK editor yet: use nmcli, or import a file");
	return NULL;
}

static void get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
	switch (prop_id) {
	case PROP_NAME:
		g_value_set_string(value, "Secure Socket Tunneling Protocol (SSTP)");
		break;
	case PROP_DESC:
		g_value_set_string(value, "SSTP VPN (sstp-rs), compatible with Microsoft servers");
		break;
	case PROP_SERVICE:
		g_value_set_string(value, SSTP_SERVICE);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
	}
}

static void sstp_editor_plugin_class_init(SstpEditorPluginClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->get_property = get_property;
	g_object_class_override_property(object_class, PROP_NAME, NM_VPN_EDITOR_PLUGIN_NAME);
	g_object_class_override_property(object_class, PROP_DESC, NM_VPN_EDITOR_PLUGIN_DESCRIPTION);
	g_object_class_override_property(object_class, PROP_SERVICE, NM_VPN_EDITOR_PLUGIN_SERVICE);
}

static void sstp_editor_plugin_init(SstpEditorPlugin *plugin)
{
	(void)plugin;
}

static void sstp_editor_plugin_iface_init(NMVpnEditorPluginInterface *iface)
{
	iface->get_editor = get_editor;
	iface->get_capabilities = get_capabilities;
	iface->import_from_file = import_from_file;
	iface->export_to_file = export_to_file;
	iface->get_suggested_filename = get_suggested_filename;
}

void *sstp_nm_editor_plugin_new(void **error)
{
	(void)error;
	return g_object_new(sstp_editor_plugin_get_type(), NULL);
}
