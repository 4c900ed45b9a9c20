/*
 * Sets of template values, and the host-side defaults that feed them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "contract.h"

#include <errno.h>
#include <string.h>

typedef struct {
  char *key;
  char *value;
} Entry;

struct sc_values {
  GArray *entries; /* of Entry, sorted by key (strcmp) */
};

const char *const sc_forced_variables[] = {
  "DESTDIR",  "NAME",     "EXEC_START", "EXEC_STOP", "EXEC_STARTPRE", "EXEC_STOPPOST", "HOST_UID",
  "HOST_GID", "IMAGE_ID", "IMAGE_NAME", NULL
};

const char *const sc_host_variables[] = { "RUN_DIRECTORY",
                                          "STATE_DIRECTORY",
                                          "CONF_DIRECTORY",
                                          "PIDFILE",
                                          "UUID",
                                          "ALL_PROCESS_CAPABILITIES",
                                          "RUNTIME",
                                          "ATOMIC",
                                          NULL };

gboolean
sc_strv_has(const char *const *strv, const char *s)
{
  for (; *strv; strv++)
    if (strcmp(*strv, s) == 0)
      return TRUE;
  return FALSE;
}

static void
entry_clear(gpointer p)
{
  Entry *e = p;
  g_free(e->key);
  g_free(e->value);
}

sc_values *
sc_values_new_internal(void)
{
  sc_values *v = g_new0(sc_values, 1);
  v->entries = g_array_new(FALSE, FALSE, sizeof(Entry));
  g_array_set_clear_func(v->entries, entry_clear);
  return v;
}

/* Index of @key, or of where it would be inserted (with *found FALSE). */
static guint
lookup(const sc_values *v, const char *key, gboolean *found)
{
  guint lo = 0, hi = v->entries->len;

  while (lo < hi) {
    guint mid = lo + (hi - lo) / 2;
    int c = strcmp(g_array_index(v->entries, Entry, mid).key, key);
    if (c == 0) {
      *found = TRUE;
      return mid;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  *found = FALSE;
  return lo;
}

gboolean
sc_values_is_identifier(const char *key, gsize len)
{
  if (len == 0 || !(g_ascii_isalpha(key[0]) || key[0] == '_'))
    return FALSE;
  for (gsize i = 1; i < len; i++)
    if (!(g_ascii_isalnum(key[i]) || key[i] == '_'))
      return FALSE;
  return TRUE;
}

gboolean
sc_values_insert(sc_values *values, const char *key, const char *value, GError **error)
{
  gboolean found;
  guint i;

  if (!sc_values_is_identifier(key, strlen(key))) {
    g_autofree char *shown = g_strescape(key, NULL);
    g_set_error(error,
                SC_ERROR,
                SC_EINVAL,
                "variable name '%s' is not valid: it must match [_A-Za-z][_A-Za-z0-9]*",
                shown);
    return FALSE;
  }
  if (!g_utf8_validate(value, -1, NULL)) {
    g_set_error(error, SC_ERROR, SC_EINVAL, "value of variable '%s' is not valid UTF-8", key);
    return FALSE;
  }
  i = lookup(values, key, &found);
  if (found) {
    Entry *e = &g_array_index(values->entries, Entry, i);
    g_free(e->value);
    e->value = g_strdup(value);
  } else {
    Entry e = { g_strdup(key), g_strdup(value) };
    g_array_insert_val(values->entries, i, e);
  }
  return TRUE;
}

SC_API int
sc_values_new(sc_values **out_values, sc_error **error)
{
  SC_CHECK_ARG(out_values != NULL, error);
  *out_values = sc_values_new_internal();
  return SC_OK;
}

SC_API void
sc_values_free(sc_values *values)
{
  if (values == NULL)
    return;
  g_array_unref(values->entries);
  g_free(values);
}

SC_API int
sc_values_copy(const sc_values *values, sc_values **out_values, sc_error **error)
{
  sc_values *copy;

  SC_CHECK_ARG(values != NULL && out_values != NULL, error);
  copy = sc_values_new_internal();
  for (guint i = 0; i < values->entries->len; i++) {
    const Entry *e = &g_array_index(values->entries, Entry, i);
    Entry c = { g_strdup(e->key), g_strdup(e->value) };
    g_array_append_val(copy->entries, c);
  }
  *out_values = copy;
  return SC_OK;
}

int
sc_values_replace(sc_values **slot, const sc_values *values, sc_error **error)
{
  sc_values *copy = NULL;
  int r;

  if ((r = sc_values_copy(values, &copy, error)) != SC_OK)
    return r;
  sc_values_free(*slot);
  *slot = copy;
  return SC_OK;
}

SC_API int
sc_values_set(sc_values *values, const char *key, const char *value, sc_error **error)
{
  GError *gerror = NULL;

  SC_CHECK_ARG(values != NULL && key != NULL && value != NULL, error);
  if (!sc_values_insert(values, key, value, &gerror))
    return sc_error_propagate(error, gerror);
  return SC_OK;
}

SC_API int
sc_values_parse(sc_values *values, const char *assignment, sc_error **error)
{
  const char *eq;
  g_autofree char *key = NULL;
  GError *gerror = NULL;

  SC_CHECK_ARG(values != NULL && assignment != NULL, error);
  eq = strchr(assignment, '=');
  if (eq == NULL)
    return sc_error_set(error, SC_EINVAL, "value '%s' has no '=': expected KEY=VALUE", assignment);
  key = g_strndup(assignment, eq - assignment);
  if (!sc_values_insert(values, key, eq + 1, &gerror))
    return sc_error_propagate(error, gerror);
  return SC_OK;
}

SC_API int
sc_values_unset(sc_values *values, const char *key, sc_error **error)
{
  gboolean found;
  guint i;

  SC_CHECK_ARG(values != NULL && key != NULL, error);
  i = lookup(values, key, &found);
  if (found)
    g_array_remove_index(values->entries, i);
  return SC_OK;
}

SC_API const char *
sc_values_get(const sc_values *values, const char *key)
{
  gboolean found;
  guint i;

  if (values == NULL || key == NULL)
    return NULL;
  i = lookup(values, key, &found);
  return found ? g_array_index(values->entries, Entry, i).value : NULL;
}

SC_API size_t
sc_values_count(const sc_values *values)
{
  return values ? values->entries->len : 0;
}

SC_API const char *
sc_values_key_at(const sc_values *values, size_t index)
{
  if (values == NULL || index >= values->entries->len)
    return NULL;
  return g_array_index(values->entries, Entry, index).key;
}

json_t *
sc_values_to_json_object(const sc_values *values)
{
  json_t *obj = json_object();

  for (guint i = 0; i < values->entries->len; i++) {
    const Entry *e = &g_array_index(values->entries, Entry, i);
    json_object_set_new(obj, e->key, json_string(e->value));
  }
  return obj;
}

SC_API int
sc_values_to_json(const sc_values *values, char **out_json, sc_error **error)
{
  json_t *obj;

  SC_CHECK_ARG(values != NULL && out_json != NULL, error);
  obj = sc_values_to_json_object(values);
  *out_json = sc_json_dump(obj, FALSE);
  json_decref(obj);
  return SC_OK;
}

/* Kernel numbering order (include/uapi/linux/capability.h). */
static const char *const cap_names[] = {
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",
  "CAP_NET_RAW",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER",
  "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG",
  "CAP_MKNOD",
  "CAP_LEASE",
  "CAP_AUDIT_WRITE",
  "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ",
  "CAP_PERFMON",
  "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE",
};

char *
sc_capabilities_text(GError **error)
{
  g_autofree char *contents = NULL;
  g_autoptr(GError) local = NULL;
  gint64 last;
  char *end = NULL;
  GString *out;

  if (!g_file_get_contents("/proc/sys/kernel/cap_last_cap", &contents, NULL, &local)) {
    g_set_error(error, SC_ERROR, SC_EIO, "cannot read the capability count: %s", local->message);
    return NULL;
  }
  last = g_ascii_strtoll(contents, &end, 10);
  if (end == contents || last < 0 || last > 63) {
    g_set_error(error,
                SC_ERROR,
                SC_EIO,
                "/proc/sys/kernel/cap_last_cap: unexpected content '%s'",
                g_strchomp(contents));
    return NULL;
  }
  if (last >= (gint64)G_N_ELEMENTS(cap_names))
    last = G_N_ELEMENTS(cap_names) - 1;
  out = g_string_new(NULL);
  for (gint64 i = 0; i <= last; i++) {
    if (i > 0)
      g_string_append(out, ",\n");
    g_string_append_printf(out, "\"%s\"", cap_names[i]);
  }
  g_string_append_c(out, '\n');
  return g_string_free(out, FALSE);
}

SC_API int
sc_capabilities_all(char **out_text, sc_error **error)
{
  GError *gerror = NULL;
  char *text;

  SC_CHECK_ARG(out_text != NULL, error);
  text = sc_capabilities_text(&gerror);
  if (text == NULL)
    return sc_error_propagate(error, gerror);
  *out_text = text;
  return SC_OK;
}
