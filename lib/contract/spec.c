/*
 * OCI runtime configuration: the built-in default, validation of a rendered
 * config.json against the system-container contract, and tmpfiles lines for
 * bind-mount sources that do not exist yet.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "contract.h"

#include <string.h>
#include <sys/stat.h>

/* Used when an image ships neither config.json nor config.json.template.
 * atomic generated it with `runc spec --rootless` (even for root, quirk 17);
 * we ship the root default of runc 1.1 instead, minus the network namespace
 * (system containers share the host network), with atomic's overrides:
 * read-only "rootfs", no terminal, args ["run.sh"]. */
const char sc_spec_default_config[] =
  "{\n"
  "\t\"ociVersion\": \"1.0.2\",\n"
  "\t\"process\": {\n"
  "\t\t\"terminal\": false,\n"
  "\t\t\"user\": {\"uid\": 0, \"gid\": 0},\n"
  "\t\t\"args\": [\"run.sh\"],\n"
  "\t\t\"env\": [\n"
  "\t\t\t\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\n"
  "\t\t\t\"TERM=xterm\"\n"
  "\t\t],\n"
  "\t\t\"cwd\": \"/\",\n"
  "\t\t\"capabilities\": {\n"
  "\t\t\t\"bounding\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"],\n"
  "\t\t\t\"effective\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"],\n"
  "\t\t\t\"permitted\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"],\n"
  "\t\t\t\"ambient\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"]\n"
  "\t\t},\n"
  "\t\t\"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"hard\": 1024, \"soft\": 1024}],\n"
  "\t\t\"noNewPrivileges\": true\n"
  "\t},\n"
  "\t\"root\": {\"path\": \"rootfs\", \"readonly\": true},\n"
  "\t\"hostname\": \"runc\",\n"
  "\t\"mounts\": [\n"
  "\t\t{\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},\n"
  "\t\t{\"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\",\n"
  "\t\t \"options\": [\"nosuid\", \"strictatime\", \"mode=755\", \"size=65536k\"]},\n"
  "\t\t{\"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\",\n"
  "\t\t \"options\": [\"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\", \"mode=0620\", "
  "\"gid=5\"]},\n"
  "\t\t{\"destination\": \"/dev/shm\", \"type\": \"tmpfs\", \"source\": \"shm\",\n"
  "\t\t \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"mode=1777\", \"size=65536k\"]},\n"
  "\t\t{\"destination\": \"/dev/mqueue\", \"type\": \"mqueue\", \"source\": \"mqueue\",\n"
  "\t\t \"options\": [\"nosuid\", \"noexec\", \"nodev\"]},\n"
  "\t\t{\"destination\": \"/sys\", \"type\": \"sysfs\", \"source\": \"sysfs\",\n"
  "\t\t \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"ro\"]},\n"
  "\t\t{\"destination\": \"/sys/fs/cgroup\", \"type\": \"cgroup\", \"source\": \"cgroup\",\n"
  "\t\t \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"relatime\", \"ro\"]}\n"
  "\t],\n"
  "\t\"linux\": {\n"
  "\t\t\"resources\": {\"devices\": [{\"allow\": false, \"access\": \"rwm\"}]},\n"
  "\t\t\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"ipc\"}, {\"type\": \"uts\"}, "
  "{\"type\": \"mount\"}],\n"
  "\t\t\"maskedPaths\": [\"/proc/acpi\", \"/proc/asound\", \"/proc/kcore\", \"/proc/keys\",\n"
  "\t\t\t\"/proc/latency_stats\", \"/proc/timer_list\", \"/proc/timer_stats\",\n"
  "\t\t\t\"/proc/sched_debug\", \"/sys/firmware\", \"/proc/scsi\"],\n"
  "\t\t\"readonlyPaths\": [\"/proc/bus\", \"/proc/fs\", \"/proc/irq\", \"/proc/sys\",\n"
  "\t\t\t\"/proc/sysrq-trigger\"]\n"
  "\t}\n"
  "}\n";

static const char *
label_or_default(const char *label)
{
  return label ? label : "config.json";
}

static gboolean
is_string_array(json_t *a)
{
  size_t i;
  json_t *item;

  if (!json_is_array(a))
    return FALSE;
  json_array_foreach (a, i, item)
    if (!json_is_string(item))
      return FALSE;
  return TRUE;
}

static gboolean
mount_is_bind(json_t *mount)
{
  json_t *type = json_object_get(mount, "type");
  json_t *options = json_object_get(mount, "options");
  size_t i;
  json_t *opt;

  /* atomic: `"bind" in type`; we also count the `type: none` + `options:
   * [bind]` spelling that atomic missed. */
  if (json_is_string(type) && strstr(json_string_value(type), "bind") != NULL)
    return TRUE;
  if (json_is_array(options))
    json_array_foreach (options, i, opt)
      if (json_is_string(opt) && (strcmp(json_string_value(opt), "bind") == 0 ||
                                  strcmp(json_string_value(opt), "rbind") == 0))
        return TRUE;
  return FALSE;
}

/* The checks below take one part of config.json each, in the order
 * sc_spec_check() runs them; each fails with SC_ESPEC, "LABEL: reason". */

/* Parses @json_text within the JSON budget into an object. */
static gboolean
parse_document(const char *label,
               const char *json_text,
               gsize length,
               json_t **out_doc,
               GError **error)
{
  GError *budget = NULL;
  json_error_t jerr;
  g_autoptr(json_t) doc = NULL;

  if (!sc_json_check_budget(label, json_text, length, &budget)) {
    budget->code = SC_ESPEC;
    g_propagate_error(error, budget);
    return FALSE;
  }
  doc = json_loadb(json_text, length, JSON_DECODE_ANY, &jerr);
  if (doc == NULL)
    return sc_set_error_prefixed(error,
                                 SC_ESPEC,
                                 label,
                                 "invalid JSON at line %d, column %d: %s",
                                 jerr.line,
                                 jerr.column,
                                 jerr.text);
  if (!json_is_object(doc))
    return sc_set_error_prefixed(error, SC_ESPEC, label, "the document must be a JSON object");
  *out_doc = g_steal_pointer(&doc);
  return TRUE;
}

/* root.path: "rootfs", or exactly @remote_rootfs when there is one. */
static gboolean
check_root_path(const char *label, json_t *path, const char *remote_rootfs, GError **error)
{
  if (!json_is_string(path))
    return sc_set_error_prefixed(
      error, SC_ESPEC, label, "root.path is missing or not a string: it must be 'rootfs'");
  if (remote_rootfs != NULL) {
    if (strcmp(json_string_value(path), remote_rootfs) != 0)
      return sc_set_error_prefixed(error,
                                   SC_ESPEC,
                                   label,
                                   "root.path is '%s'; for a remote rootfs it must be '%s'",
                                   json_string_value(path),
                                   remote_rootfs);
  } else if (strcmp(json_string_value(path), "rootfs") != 0) {
    return sc_set_error_prefixed(
      error, SC_ESPEC, label, "root.path is '%s'; it must be 'rootfs'", json_string_value(path));
  }
  return TRUE;
}

static gboolean
check_root(const char *label,
           json_t *doc,
           const char *remote_rootfs,
           gboolean run_once,
           GError **error)
{
  json_t *root = json_object_get(doc, "root");

  if (!json_is_object(root))
    return sc_set_error_prefixed(error,
                                 SC_ESPEC,
                                 label,
                                 "'root' is missing or not an object: a system container needs "
                                 "\"root\": {\"path\": \"rootfs\", \"readonly\": true}");
  if (!run_once && !json_is_true(json_object_get(root, "readonly")))
    return sc_set_error_prefixed(
      error,
      SC_ESPEC,
      label,
      "root.readonly must be true: only read-only images are supported (the rootfs shares "
      "its files with the image store)");
  return check_root_path(label, json_object_get(root, "path"), remote_rootfs, error);
}

static gboolean
check_process(const char *label, json_t *doc, gboolean run_once, GError **error)
{
  json_t *process = json_object_get(doc, "process");
  json_t *v;

  if (!json_is_object(process))
    return sc_set_error_prefixed(
      error,
      SC_ESPEC,
      label,
      "'process' is missing or not an object: the runtime needs process.args");
  v = json_object_get(process, "terminal");
  if (!run_once && v != NULL && !json_is_false(v))
    return sc_set_error_prefixed(
      error,
      SC_ESPEC,
      label,
      "process.terminal must be false: a system container runs under systemd, without a "
      "terminal");
  v = json_object_get(process, "args");
  if (!is_string_array(v) || json_array_size(v) == 0)
    return sc_set_error_prefixed(
      error, SC_ESPEC, label, "process.args must be a non-empty array of strings");
  v = json_object_get(process, "capabilities");
  if (v != NULL && !json_is_object(v))
    return sc_set_error_prefixed(
      error,
      SC_ESPEC,
      label,
      "process.capabilities must be an object with bounding, effective, inheritable, "
      "permitted and ambient lists (the array form predates runtime-spec 1.0.0-rc5 and "
      "current runtimes refuse it; rendering an image converts an array of names)");
  return TRUE;
}

/* Sets the pre-1.0.0-rc5 list of capability names is copied into. Before
 * runtime-spec 1.0.0-rc5 (PR #675) process.capabilities was one list, and
 * runc up to 1.0.0-rc2 applied it with capability.CAPS | capability.BOUNDS
 * (libcontainer/capabilities_noambient.go): effective, permitted,
 * inheritable and bounding. Ambient was set only by builds with the
 * non-default `ambient` tag, and runc 1.0.0-rc3 (PR #1370) has no
 * conversion at all: it refuses the array. So ambient stays absent, which
 * keeps what the image got from the runc it was written for. */
static const char *const legacy_capability_sets[] = { "bounding",
                                                      "effective",
                                                      "inheritable",
                                                      "permitted" };

gboolean
sc_spec_convert_capabilities(json_t *doc, size_t *out_count)
{
  json_t *process = json_object_get(doc, "process");
  json_t *caps = json_object_get(process, "capabilities");
  json_t *sets;

  /* Anything else but a list of names is left to sc_spec_check(). */
  if (!json_is_object(process) || !is_string_array(caps))
    return FALSE;
  sets = json_object();
  for (guint i = 0; i < G_N_ELEMENTS(legacy_capability_sets); i++)
    json_object_set_new(sets, legacy_capability_sets[i], json_deep_copy(caps));
  if (out_count)
    *out_count = json_array_size(caps);
  json_object_set_new(process, "capabilities", sets);
  return TRUE;
}

/* mounts[@i]; the source of a bind mount is added to @sources. */
static gboolean
check_mount(const char *label, size_t i, json_t *m, GPtrArray *sources, GError **error)
{
  json_t *src, *options;

  if (!json_is_object(m) || !json_is_string(json_object_get(m, "destination")))
    return sc_set_error_prefixed(
      error, SC_ESPEC, label, "mounts[%zu] must be an object with a string 'destination'", i);
  src = json_object_get(m, "source");
  if (src != NULL && !json_is_string(src))
    return sc_set_error_prefixed(error, SC_ESPEC, label, "mounts[%zu].source must be a string", i);
  options = json_object_get(m, "options");
  if (options != NULL && !is_string_array(options))
    return sc_set_error_prefixed(
      error, SC_ESPEC, label, "mounts[%zu].options must be an array of strings", i);
  if (src != NULL && mount_is_bind(m))
    g_ptr_array_add(sources, g_strdup(json_string_value(src)));
  return TRUE;
}

static gboolean
check_mounts(const char *label, json_t *doc, GPtrArray *sources, GError **error)
{
  json_t *mounts = json_object_get(doc, "mounts");
  size_t i;
  json_t *m;

  if (mounts == NULL)
    return TRUE;
  if (!json_is_array(mounts))
    return sc_set_error_prefixed(error, SC_ESPEC, label, "'mounts' must be an array");
  json_array_foreach (mounts, i, m)
    if (!check_mount(label, i, m, sources, error))
      return FALSE;
  return TRUE;
}

gboolean
sc_spec_check(const char *label,
              const char *json_text,
              gsize length,
              const char *remote_rootfs,
              gboolean run_once,
              GPtrArray **out_bind_sources,
              GError **error)
{
  const char *name = label_or_default(label);
  g_autoptr(json_t) doc = NULL;
  g_autoptr(GPtrArray) sources = g_ptr_array_new_with_free_func(g_free);

  if (!parse_document(name, json_text, length, &doc, error) ||
      !check_root(name, doc, remote_rootfs, run_once, error) ||
      !check_process(name, doc, run_once, error) || !check_mounts(name, doc, sources, error))
    return FALSE;
  if (out_bind_sources)
    *out_bind_sources = g_steal_pointer(&sources);
  return TRUE;
}

SC_API int
sc_spec_validate(const char *label,
                 const char *json_text,
                 size_t length,
                 const char *remote_rootfs,
                 char ***out_bind_sources,
                 sc_error **error)
{
  GError *gerror = NULL;
  GPtrArray *sources = NULL;

  SC_CHECK_ARG(json_text != NULL, error);
  if (!sc_spec_check(
        label, json_text, length, remote_rootfs, FALSE, out_bind_sources ? &sources : NULL,
        &gerror))
    return sc_error_propagate(error, gerror);
  if (out_bind_sources) {
    g_ptr_array_add(sources, NULL);
    *out_bind_sources = (char **)g_ptr_array_free(sources, FALSE);
  }
  return SC_OK;
}

SC_API int
sc_spec_default(char **out_json, sc_error **error)
{
  SC_CHECK_ARG(out_json != NULL, error);
  *out_json = g_strdup(sc_spec_default_config);
  return SC_OK;
}

/* A tmpfiles.d path field: quoted when it holds whitespace or quotes, with
 * '%' doubled because tmpfiles.d expands specifiers in paths. */
static void
append_tmpfiles_path(GString *out, const char *path)
{
  gboolean quote = FALSE;

  for (const char *p = path; *p; p++)
    if (g_ascii_isspace(*p) || *p == '"' || *p == '\'' || *p == '\\')
      quote = TRUE;
  if (quote)
    g_string_append_c(out, '"');
  for (const char *p = path; *p; p++) {
    if (*p == '%')
      g_string_append(out, "%%");
    else if (quote && (*p == '"' || *p == '\\'))
      g_string_append_printf(out, "\\%c", *p);
    else if (quote && *p == '\n')
      g_string_append(out, "\\n");
    else if (quote && *p == '\t')
      g_string_append(out, "\\t");
    else
      g_string_append_c(out, *p);
  }
  if (quote)
    g_string_append_c(out, '"');
}

char *
sc_tmpfiles_lines_for_missing(sc_context *ctx,
                              GPtrArray *sources,
                              gulong uid,
                              gulong gid,
                              GPtrArray **out_missing,
                              GError **error)
{
  GString *out = g_string_new(NULL);
  g_autoptr(GPtrArray) missing = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

  for (guint i = 0; i < sources->len; i++) {
    const char *src = sources->pdata[i];
    g_autofree char *host = NULL;
    struct stat st;

    /* A relative source is resolved against the bundle by the runtime: not a
     * host path that tmpfiles could create. */
    if (src[0] != '/' || g_hash_table_contains(seen, src))
      continue;
    g_hash_table_add(seen, (gpointer)src);
    host = sc_context_host_path(ctx, src);
    if (stat(host, &st) == 0)
      continue;
    g_string_append(out, "d    ");
    append_tmpfiles_path(out, src);
    g_string_append_printf(out, "   0700 %lu %lu - -\n", uid, gid);
    g_ptr_array_add(missing, g_strdup(src));
  }
  if (out_missing)
    *out_missing = g_steal_pointer(&missing);
  return g_string_free(out, FALSE);
}

SC_API int
sc_tmpfiles_missing_sources(sc_context *ctx,
                            const char *const *sources,
                            unsigned long uid,
                            unsigned long gid,
                            char **out_text,
                            sc_error **error)
{
  g_autoptr(GPtrArray) arr = g_ptr_array_new();
  GError *gerror = NULL;
  char *text;

  SC_CHECK_ARG(ctx != NULL && sources != NULL && out_text != NULL, error);
  for (; *sources; sources++)
    g_ptr_array_add(arr, (gpointer)*sources);
  text = sc_tmpfiles_lines_for_missing(ctx, arr, uid, gid, NULL, &gerror);
  if (text == NULL)
    return sc_error_propagate(error, gerror);
  *out_text = text;
  return SC_OK;
}
