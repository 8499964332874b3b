/* Test driver: loads the editor plugin .so with libnm exactly as nmcli does
 * (nm_vpn_editor_plugin_load_from_file: dlopen, owner check, factory, service check) and
 * prints what import/export produce, one "key=value" line each, for tests/libnm_plugin.rs.
 *   plugin-probe SO info
 *   plugin-probe SO import FILE
 *   plugin-probe SO roundtrip FILE OUT      (import FILE, export OUT, import OUT) */
#include <NetworkManager.h>
#include <stdio.h>
#include <unistd.h>

static void print_item(const char *key, const char *value, gpointer user_data)
{
	printf("%s%s=%s\n", (const char *)user_data, key, value);
}

static int dump(NMConnection *c, const char *tag)
{
	NMSettingVpn *vpn = nm_connection_get_setting_vpn(c);
	NMSettingIPConfig *ip4 = nm_connection_get_setting_ip4_config(c);
	GError *err = NULL;
	char *prefix = g_strdup_printf("%s.data.", tag);

	printf("%s.id=%s\n", tag, nm_connection_get_id(c));
	printf("%s.type=%s\n", tag, nm_connection_get_connection_type(c));
	printf("%s.service-type=%s\n", tag, vpn ? nm_setting_vpn_get_service_type(vpn) : "");
	printf("%s.never-default=%d\n", tag, ip4 ? nm_setting_ip_config_get_never_default(ip4) : -1);
	printf("%s.secrets=%u\n", tag, vpn ? nm_setting_vpn_get_num_secrets(vpn) : 0);
	if (vpn)
		nm_setting_vpn_foreach_data_item(vpn, print_item, prefix);
	g_free(prefix);
	if (!nm_connection_normalize(c, NULL, NULL, &err)) {
		printf("%s.verify=%s\n", tag, err->message);
		g_error_free(err);
		return 1;
	}
	printf("%s.verify=ok\n", tag);
	return 0;
}

static NMConnection *import(NMVpnEditorPlugin *p, const char *file)
{
	GError *err = NULL;
	NMConnection *c = nm_vpn_editor_plugin_import(p, file, &err);

	if (!c) {
		printf("error=%s\n", err->message);
		g_error_free(err);
	}
	return c;
}

static int info(NMVpnEditorPlugin *p)
{
	NMConnection *c = nm_simple_connection_new();
	NMSetting *s_con = nm_setting_connection_new();
	GError *err = NULL;
	char *name = NULL, *service = NULL, *file;

	g_object_set(s_con, NM_SETTING_CONNECTION_ID, "Work VPN", NULL);
	nm_connection_add_setting(c, s_con);
	g_object_get(p, NM_VPN_EDITOR_PLUGIN_NAME, &name, NM_VPN_EDITOR_PLUGIN_SERVICE, &service, NULL);
	file = nm_vpn_editor_plugin_get_suggested_filename(p, c);
	printf("name=%s\nservice=%s\ncapabilities=%u\nsuggested=%s\n", name, service,
	       nm_vpn_editor_plugin_get_capabilities(p), file);
	if (!nm_vpn_editor_plugin_get_editor(p, c, &err)) {
		printf("editor-error=%s\n", err->message);
		g_error_free(err);
	}
	g_free(name);
	g_free(service);
	g_free(file);
	g_object_unref(c);
	return 0;
}

static int roundtrip(NMVpnEditorPlugin *p, const char *in, const char *out)
{
	NMConnection *a = import(p, in), *b;
	GError *err = NULL;
	int rc;

	if (!a)
		return 1;
	rc = dump(a, "first");
	if (!nm_vpn_editor_plugin_export(p, out, a, &err)) {
		printf("error=%s\n", err->message);
		g_error_free(err);
		return 1;
	}
	b = import(p, out);
	if (!b)
		return 1;
	rc |= dump(b, "second");
	g_object_unref(a);
	g_object_unref(b);
	return rc;
}

int main(int argc, char **argv)
{
	GError *err = NULL;
	NMVpnEditorPlugin *p;
	int rc = 2;

	if (argc < 3)
		return 2;
	p = nm_vpn_editor_plugin_load_from_file(argv[1], "org.freedesktop.NetworkManager.sstp",
						 (int)geteuid(), NULL, NULL, &err);
	if (!p) {
		printf("load-error=%s\n", err->message);
		return 3;
	}
	if (g_str_equal(argv[2], "info"))
		rc = info(p);
	else if (g_str_equal(argv[2], "import") && argc == 4) {
		NMConnection *c = import(p, argv[3]);
		rc = c ? dump(c, "first") : 1;
	} else if (g_str_equal(argv[2], "roundtrip") && argc == 5)
		rc = roundtrip(p, argv[3], argv[4]);
	fflush(stdout);
	return rc;
}
