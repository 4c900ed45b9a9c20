/*
 * The privilege review (docs/security.md, "Privilege review"): what a
 * deployment may do to the host, computed from its rendered config.json
 * (OCI runtime spec), its unit and its host files, and the difference
 * between two deployments, so that an update which gives a container more
 * power over the host is seen (and refused unless accepted) before it
 * replaces the current deployment.
 *
 * The document (every list sorted, without duplicates):
 *   {"capabilities": {"bounding": [...], "effective", "permitted",
 *                     "inheritable", "ambient"},
 *    "host_namespaces": ["network", ...]   (namespaces not created),
 *    "mounts": [{"source", "destination", "mode": "rw"|"ro"}] (host paths
 *              bound: the deployment's own files are not host paths, its
 *              rootfs is; other filesystems as "TYPE SOURCE OPTIONS"),
 *    "devices": ["c 10:200 /dev/net/tun", "allow c 10:200 rwm", ...],
 *    "no_new_privileges": bool, "root_readonly": bool,
 *    "settings": ["no seccomp filter", "sysctl K=V", ...],
 *    "unmasked": [paths masked or read-only by default... see below],
 *    "host_files": [...], "host_file_sums": {path: sha256} (privileged
 *              places only),
 *    "seccomp_all": bool, "seccomp_allowed": [calls a refusing filter
 *              lets through], "confinement": ["AppArmor profile P", ...],
 *    "host_commands": [{"directive", "command", "user"}] (user "" for a
 *              unit setting: WorkingDirectory=, Environment=, Wants=...)}
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "container.h"

#include <string.h>
#include <unistd.h>

/* More entries than any real spec has: a bigger array is refused, not
 * walked (a hostile config.json must not cost minutes of review). */
#define PRIV_MAX_ITEMS 4096

static const char *const cap_sets[] = { "bounding",    "effective", "permitted",
                                        "inheritable", "ambient",   NULL };
/* OCI namespace type -> the name the review uses */
static const char *const ns_types[][2] = {
  { "pid", "pid" },   { "network", "network" }, { "ipc", "ipc" },     { "uts", "uts" },
  { "user", "user" }, { "cgroup", "cgroup" },   { "mount", "mount" },
};
/* [Service] settings that change what the commands run on the host do,
 * the runtime's included: its bundle is the working directory, its
 * environment (LD_PRELOAD, PATH...) and file system are the unit's, its
 * output may be written into a host file as root */
static const char *const host_settings[] = {
  "WorkingDirectory", "RootDirectory",    "RootImage",      "Environment", "EnvironmentFile",
  "PassEnvironment",  "UnsetEnvironment", "ExecSearchPath", "BindPaths",   "BindReadOnlyPaths",
  "StandardInput",    "StandardOutput",   "StandardError",  NULL
};
/* [Unit] and [Install] settings that start other units of the host with
 * this one (debug-shell.service...) or put it in their place (Alias=) */
static const char *const unit_settings[] = { "Wants",     "Requires",  "Requisite",
                                             "BindsTo",   "PartOf",    "Upholds",
                                             "OnFailure", "OnSuccess", NULL };
static const char *const install_settings[] = { "Alias", "Also", NULL };
/* Host paths (prefixes) where a file's content is privilege: what root
 * runs (systemd units and drop-ins, cron, init scripts, udev, logrotate,
 * programs), who becomes root (sudoers, PAM, polkit, accounts, ssh), what
 * every process loads (ld.so.preload, profile). Library directories are
 * not: a data file there (atomic's rpm scenario renders one from a value)
 * is not asked again on every update --set. */
static const char *const privileged_places[] = { "/etc/sudoers",
                                                 "/etc/cron",
                                                 "/var/spool/cron/",
                                                 "/etc/anacrontab",
                                                 "/etc/systemd/",
                                                 "/usr/lib/systemd/",
                                                 "/lib/systemd/",
                                                 "/etc/init.d/",
                                                 "/etc/rc",
                                                 "/etc/pam.d/",
                                                 "/etc/security/",
                                                 "/etc/polkit-1/",
                                                 "/usr/share/polkit-1/",
                                                 "/etc/passwd",
                                                 "/etc/shadow",
                                                 "/etc/group",
                                                 "/etc/gshadow",
                                                 "/etc/subuid",
                                                 "/etc/subgid",
                                                 "/etc/ssh/",
                                                 "/root/",
                                                 "/etc/ld.so.",
                                                 "/etc/profile",
                                                 "/etc/bash",
                                                 "/etc/environment",
                                                 "/etc/udev/",
                                                 "/usr/lib/udev/",
                                                 "/etc/modprobe.d/",
                                                 "/etc/modules-load.d/",
                                                 "/etc/sysctl.d/",
                                                 "/etc/tmpfiles.d/",
                                                 "/etc/logrotate",
                                                 "/etc/dbus-1/",
                                                 "/usr/share/dbus-1/",
                                                 "/etc/containers/",
                                                 "/etc/xdg/autostart/",
                                                 "/etc/NetworkManager/dispatcher.d/",
                                                 "/etc/apt/apt.conf.d/",
                                                 "/bin/",
                                                 "/sbin/",
                                                 "/usr/bin/",
                                                 "/usr/sbin/",
                                                 "/usr/local/bin/",
                                                 "/usr/local/sbin/",
                                                 "/usr/libexec/",
                                                 NULL };
static const char *const exec_directives[] = { "ExecStartPre",  "ExecStart",
                                               "ExecStartPost", "ExecStop",
                                               "ExecStopPost",  "ExecReload",
                                               "ExecCondition", NULL };

static gboolean
too_many(json_t *arr, const char *what, GError **error)
{
  if (json_array_size(arr) <= PRIV_MAX_ITEMS)
    return FALSE;
  g_set_error(error,
              SC_ERROR,
              SC_ESPEC,
              "config.json: %s has %zu entries (at most %d)",
              what,
              json_array_size(arr),
              PRIV_MAX_ITEMS);
  return TRUE;
}

/* An array (or absent) of a bounded size; else the error, and TRUE. */
static gboolean
bad_array(json_t *arr, const char *what, GError **error)
{
  if (arr != NULL && !json_is_array(arr)) {
    g_set_error(error, SC_ERROR, SC_ESPEC, "config.json: %s is not an array", what);
    return TRUE;
  }
  return too_many(arr, what, error);
}

/* A sorted JSON array of the keys of @set. */
static json_t *
set_json(GHashTable *set)
{
  g_autoptr(GList) keys = g_list_sort(g_hash_table_get_keys(set), (GCompareFunc)strcmp);
  json_t *arr = json_array();

  for (GList *l = keys; l; l = l->next)
    json_array_append_new(arr, json_string(l->data));
  return arr;
}

static GHashTable *
new_set(void)
{
  return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
}

static gboolean
add_capabilities(json_t *doc, json_t *caps, GError **error)
{
  json_t *out = json_object();

  json_object_set_new(doc, "capabilities", out);
  if (caps == NULL || json_is_null(caps)) {
    /* runc drops none then: the process keeps every capability root has */
    for (int i = 0; i < 3; i++)
      json_object_set_new(out, cap_sets[i], json_pack("[s]", "ALL"));
    for (int i = 3; cap_sets[i]; i++)
      json_object_set_new(out, cap_sets[i], json_array());
    return TRUE;
  }
  if (!json_is_object(caps)) {
    g_set_error(error, SC_ERROR, SC_ESPEC, "config.json: process.capabilities is not an object");
    return FALSE;
  }
  for (int i = 0; cap_sets[i]; i++) {
    json_t *arr = json_object_get(caps, cap_sets[i]), *v;
    g_autoptr(GHashTable) set = new_set();
    g_autofree char *what = g_strdup_printf("process.capabilities.%s", cap_sets[i]);
    size_t j;

    if (bad_array(arr, what, error))
      return FALSE;
    json_array_foreach (arr, j, v) {
      if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 64) {
        g_set_error(
          error, SC_ERROR, SC_ESPEC, "config.json: %s[%zu] is not a capability name", what, j);
        return FALSE;
      }
      /* runc takes them in any case; CAP_ is the name ("ALL" is kept for
       * the absent list: a real entry cannot be called that) */
      g_autofree char *up = g_ascii_strup(json_string_value(v), -1);
      if (strcmp(up, "ALL") == 0) {
        g_set_error(
          error, SC_ERROR, SC_ESPEC, "config.json: %s[%zu] is not a capability name", what, j);
        return FALSE;
      }
      g_hash_table_add(
        set, g_str_has_prefix(up, "CAP_") ? g_steal_pointer(&up) : g_strconcat("CAP_", up, NULL));
    }
    json_object_set_new(out, cap_sets[i], set_json(set));
  }
  return TRUE;
}

/* Namespaces not created: absent from linux.namespaces, or joined by a
 * path (an existing namespace, the host's as far as the review knows). */
static gboolean
add_namespaces(json_t *doc, json_t *linux_, GError **error)
{
  json_t *nss = json_object_get(linux_, "namespaces"), *v;
  g_autoptr(GHashTable) created = new_set();
  g_autoptr(GHashTable) joined = new_set();
  json_t *out = json_array();
  size_t j;

  json_object_set_new(doc, "host_namespaces", out);
  if (bad_array(nss, "linux.namespaces", error))
    return FALSE;
  json_array_foreach (nss, j, v) {
    const char *type = json_string_value(json_object_get(v, "type"));
    if (type == NULL) {
      g_set_error(error, SC_ERROR, SC_ESPEC, "config.json: linux.namespaces[%zu] has no type", j);
      return FALSE;
    }
    /* (a path that is not a string is one all the same for a runtime
     * that reads it otherwise: joined) */
    g_hash_table_add(json_object_get(v, "path") == NULL ? created : joined, g_strdup(type));
  }
  /* the same type twice, once joined: which entry a runtime takes is its
   * own business (crun the last, runc refuses), so joined wins */
  for (size_t i = 0; i < G_N_ELEMENTS(ns_types); i++)
    if (!g_hash_table_contains(created, ns_types[i][0]) ||
        g_hash_table_contains(joined, ns_types[i][0]))
      json_array_append_new(out, json_string(ns_types[i][1]));
  return TRUE;
}

/* @src as a host path: relative to the bundle (runc's rule), normalized;
 * NULL for the deployment's own files (under @own). A path inside a
 * slot's rootfs is the image's: any of its components may be a symlink
 * (to "/"), which the runtime follows on the host, so it is a host path,
 * shown as $DESTDIR/rootfs/... (the same in both slots). */
static char *
host_source(const char *src, const char *bundle, const char *const *own)
{
  g_autofree char *abs = g_canonicalize_filename(src, bundle ? bundle : "/");

  for (int i = 0; own && own[i]; i++) {
    size_t n = strlen(own[i]);
    if (strncmp(abs, own[i], n) != 0 || (abs[n] != '\0' && abs[n] != '/'))
      continue;
    if (g_str_has_prefix(abs + n, "/rootfs/"))
      return g_strconcat("$DESTDIR", abs + n, NULL);
    return NULL;
  }
  return g_steal_pointer(&abs);
}

/* runc and crun apply the options in order: the last of ro and rw wins */
static const char *
mount_mode(json_t *opts)
{
  const char *mode = "rw";
  json_t *v;
  size_t j;

  json_array_foreach (opts, j, v) {
    if (g_strcmp0(json_string_value(v), "ro") == 0)
      mode = "ro";
    else if (g_strcmp0(json_string_value(v), "rw") == 0)
      mode = "rw";
  }
  return mode;
}

/* A mount that is not a bind mount, as the review names it: NULL for the
 * kinds that show the container only its own (proc of its own pid
 * namespace, tmpfs, devpts, mqueue) and for read-only sysfs and cgroup;
 * else "TYPE SOURCE [OPTIONS]" (a disk of the host, an overlay of host
 * directories, a kernel filesystem such as securityfs or debugfs...). */
static char *
fs_mount_source(json_t *m, json_t *opts, const char *mode)
{
  static const char *const own_kinds[] = { "proc", "tmpfs", "devpts", "mqueue", "shm", NULL };
  static const char *const kernel_ro[] = { "sysfs", "cgroup", "cgroup2", NULL };
  const char *type = json_string_value(json_object_get(m, "type"));
  const char *src = json_string_value(json_object_get(m, "source"));
  g_autoptr(GString) o = g_string_new(NULL);
  json_t *v;
  size_t j;

  /* (a second proc, at /proc2, is one without the masked and read-only
   * paths that hide /proc/sys, /proc/sysrq-trigger... from the container) */
  if (type && strcmp(type, "proc") == 0 &&
      g_strcmp0(json_string_value(json_object_get(m, "destination")), "/proc") != 0)
    return g_strdup_printf("proc %s (not at /proc: unmasked)", src ? src : "(none)");
  if (type && g_strv_contains(own_kinds, type))
    return NULL;
  if (type && g_strv_contains(kernel_ro, type) && strcmp(mode, "ro") == 0)
    return NULL;
  json_array_foreach (opts, j, v) {
    const char *opt = json_string_value(v);
    if (opt && strcmp(opt, "ro") != 0 && strcmp(opt, "rw") != 0)
      g_string_append_printf(o, "%s%s", o->len ? "," : " ", opt);
  }
  return g_strdup_printf("%s %s%s", type ? type : "(no type)", src ? src : "(none)", o->str);
}

/* Whether the array @opts holds the string @name. */
static gboolean
in_strings(json_t *opts, const char *name)
{
  json_t *v;
  size_t j;

  json_array_foreach (opts, j, v)
    if (g_strcmp0(json_string_value(v), name) == 0)
      return TRUE;
  return FALSE;
}

static void
add_mount(json_t *out, GHashTable *seen, const char *host, const char *dst, const char *mode)
{
  g_autofree char *key = g_strdup_printf("%s:%s", host, dst);
  json_t *prev = g_hash_table_lookup(seen, key);

  if (prev) {
    if (strcmp(mode, "rw") == 0)
      json_object_set_new(prev, "mode", json_string("rw"));
    return;
  }
  json_t *one = json_pack("{s:s, s:s, s:s}", "source", host, "destination", dst, "mode", mode);
  json_array_append_new(out, one);
  g_hash_table_insert(seen, g_steal_pointer(&key), one);
}

/* Mounts that show the container the host: bind mounts of host paths,
 * source:destination -> "rw" or "ro" (the same pair twice: read-write
 * wins), and the filesystems fs_mount_source() names; into @settings a
 * host bind whose mounts propagate back to the host (shared). */
static gboolean
add_mounts(json_t *doc,
           json_t *mounts,
           const char *bundle,
           const char *const *own,
           GHashTable *settings,
           GError **error)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  json_t *out = json_array(), *m;
  size_t j;

  json_object_set_new(doc, "mounts", out);
  if (bad_array(mounts, "mounts", error))
    return FALSE;
  json_array_foreach (mounts, j, m) {
    const char *src = json_string_value(json_object_get(m, "source"));
    const char *dst = json_string_value(json_object_get(m, "destination"));
    json_t *opts = json_object_get(m, "options");
    gboolean bind = g_strcmp0(json_string_value(json_object_get(m, "type")), "bind") == 0 ||
                    in_strings(opts, "bind") || in_strings(opts, "rbind");
    const char *mode = mount_mode(opts);
    if (!bind) {
      g_autofree char *fs = fs_mount_source(m, opts, mode);
      if (fs)
        add_mount(out, seen, fs, dst ? dst : "(none)", mode);
      continue;
    }
    if (src == NULL || dst == NULL || *src == '\0') {
      g_set_error(error,
                  SC_ERROR,
                  SC_ESPEC,
                  "config.json: mounts[%zu] is a bind mount without a source or destination",
                  j);
      return FALSE;
    }
    g_autofree char *host = host_source(src, bundle, own);
    if (host == NULL)
      continue;
    add_mount(out, seen, host, dst, mode);
    if (in_strings(opts, "shared") || in_strings(opts, "rshared"))
      g_hash_table_add(settings,
                       g_strdup_printf("mount %s:%s shares its mounts with the host", host, dst));
  }
  return TRUE;
}

static gboolean
add_devices(GHashTable *set, json_t *linux_, GError **error)
{
  json_t *devs = json_object_get(linux_, "devices");
  json_t *allows = json_object_get(json_object_get(linux_, "resources"), "devices"), *v;
  size_t j;

  if (too_many(devs, "linux.devices", error) || too_many(allows, "linux.resources.devices", error))
    return FALSE;
  json_array_foreach (devs, j, v) {
    const char *path = json_string_value(json_object_get(v, "path"));
    g_hash_table_add(set,
                     g_strdup_printf("%s %" JSON_INTEGER_FORMAT ":%" JSON_INTEGER_FORMAT " %s",
                                     json_string_value(json_object_get(v, "type")) ?: "?",
                                     json_integer_value(json_object_get(v, "major")),
                                     json_integer_value(json_object_get(v, "minor")),
                                     path ? path : "?"));
  }
  json_array_foreach (allows, j, v) {
    json_t *major = json_object_get(v, "major"), *minor = json_object_get(v, "minor");
    g_autofree char *ma = json_is_integer(major)
                            ? g_strdup_printf("%" JSON_INTEGER_FORMAT, json_integer_value(major))
                            : g_strdup("*");
    g_autofree char *mi = json_is_integer(minor)
                            ? g_strdup_printf("%" JSON_INTEGER_FORMAT, json_integer_value(minor))
                            : g_strdup("*");
    if (!json_is_true(json_object_get(v, "allow")))
      continue; /* a deny takes nothing */
    g_hash_table_add(set,
                     g_strdup_printf("allow %s %s:%s %s",
                                     json_string_value(json_object_get(v, "type")) ?: "a",
                                     ma,
                                     mi,
                                     json_string_value(json_object_get(v, "access")) ?: "rwm"));
  }
  return TRUE;
}

/* The user namespace's mappings: the same namespace mapping container
 * root to host root (or to another host user) is another privilege. */
static gboolean
add_id_mappings(GHashTable *s, json_t *linux_, GError **error)
{
  const char *keys[] = { "uidMappings", "gidMappings" };

  for (int i = 0; i < 2; i++) {
    json_t *arr = json_object_get(linux_, keys[i]), *v;
    size_t j;
    if (too_many(arr, keys[i], error))
      return FALSE;
    json_array_foreach (arr, j, v)
      g_hash_table_add(s,
                       g_strdup_printf("user namespace %s container %" JSON_INTEGER_FORMAT
                                       " -> host %" JSON_INTEGER_FORMAT " (%" JSON_INTEGER_FORMAT
                                       " ids)",
                                       i == 0 ? "uid" : "gid",
                                       json_integer_value(json_object_get(v, "containerID")),
                                       json_integer_value(json_object_get(v, "hostID")),
                                       json_integer_value(json_object_get(v, "size"))));
  }
  return TRUE;
}

/* A seccomp action that lets the call through (or lets a host agent or
 * tracer decide): all but the refusals */
static gboolean
seccomp_lets_through(const char *action)
{
  static const char *const refusals[] = { "SCMP_ACT_ERRNO",        "SCMP_ACT_KILL",
                                          "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
                                          "SCMP_ACT_TRAP",         NULL };

  return action == NULL || !g_strv_contains(refusals, action);
}

/* Into @s no filter, or a default action that lets calls through; into
 * doc "seccomp_allowed" the calls a refusing filter lets through (an
 * update allowing more of them is reviewed: with "seccomp_all", the old
 * filter let everything through and nothing is new). */
static gboolean
add_seccomp(json_t *doc, GHashTable *s, json_t *seccomp, GError **error)
{
  const char *def = json_string_value(json_object_get(seccomp, "defaultAction"));
  json_t *rules = json_object_get(seccomp, "syscalls"), *r;
  g_autoptr(GHashTable) allowed = new_set();
  gboolean all = TRUE;
  size_t j, k;

  /* runc takes an empty defaultAction without syscalls for no filter
   * (atomic's test image has exactly that) */
  if (seccomp == NULL || (g_strcmp0(def, "") == 0 && json_array_size(rules) == 0))
    g_hash_table_add(s, g_strdup("no seccomp filter"));
  else if (g_strcmp0(def, "SCMP_ACT_ALLOW") == 0 || g_strcmp0(def, "SCMP_ACT_LOG") == 0)
    g_hash_table_add(s, g_strdup("seccomp allows every system call by default"));
  else if (seccomp_lets_through(def))
    g_hash_table_add(s, g_strdup_printf("seccomp default action %s lets calls through", def));
  else
    all = FALSE;
  if (too_many(rules, "linux.seccomp.syscalls", error))
    return FALSE;
  json_array_foreach (rules, j, r) {
    json_t *names = json_object_get(r, "names"), *n;
    if (all || !seccomp_lets_through(json_string_value(json_object_get(r, "action"))))
      continue;
    if (too_many(names, "linux.seccomp.syscalls[].names", error))
      return FALSE;
    json_array_foreach (names, k, n)
      g_hash_table_add(
        allowed,
        g_strdup_printf("%s%s",
                        json_is_string(n) ? json_string_value(n) : "?",
                        json_array_size(json_object_get(r, "args")) ? " (some arguments)" : ""));
  }
  json_object_set_new(doc, "seccomp_all", json_boolean(all));
  json_object_set_new(doc, "seccomp_allowed", set_json(allowed));
  return TRUE;
}

/* The LSM confinement the spec asks for: "AppArmor profile P", "SELinux
 * label L". Absent or empty, the container runs under the runtime's own
 * (unconfined, as a rule): an update dropping or changing one gives up
 * that confinement. */
static void
add_confinement(json_t *doc, const char *aa, const char *label)
{
  g_autoptr(GHashTable) c = new_set();

  if (aa && *aa)
    g_hash_table_add(c, g_strdup_printf("AppArmor profile %s", aa));
  if (label && *label)
    g_hash_table_add(c, g_strdup_printf("SELinux label %s", label));
  json_object_set_new(doc, "confinement", set_json(c));
}

/* crun's run.oci.* annotations change what the runtime does beyond the
 * spec (run.oci.seccomp_bpf_data replaces the seccomp filter,
 * run.oci.keep_original_groups keeps the runtime's groups...). (The
 * cgroupsPath is not the image's: the render sets the unit's.) */
static gboolean
add_runtime_settings(GHashTable *s, json_t *spec, GError **error)
{
  json_t *ann = json_object_get(spec, "annotations"), *v;
  const char *k;

  if (json_object_size(ann) > PRIV_MAX_ITEMS) {
    g_set_error(error, SC_ERROR, SC_ESPEC, "config.json: annotations has too many entries");
    return FALSE;
  }
  json_object_foreach (ann, k, v)
    if (g_str_has_prefix(k, "run.oci."))
      g_hash_table_add(s,
                       g_strdup_printf("annotation %s=%s (crun)",
                                       k,
                                       json_is_string(v) ? json_string_value(v) : "?"));
  return TRUE;
}

/* What weakens the confinement besides capabilities and namespaces:
 * seccomp, AppArmor and SELinux labels, sysctls, hooks (which the runtime
 * runs on the host, as root), a process running as uid 0. rlimits and
 * the OOM score are resource limits, not privileges: left out. */
static gboolean
add_settings(json_t *doc, json_t *spec, GHashTable *s, GError **error)
{
  json_t *linux_ = json_object_get(spec, "linux"), *proc = json_object_get(spec, "process");
  json_t *seccomp = json_object_get(linux_, "seccomp"), *v;
  const char *aa = json_string_value(json_object_get(proc, "apparmorProfile"));
  const char *label = json_string_value(json_object_get(proc, "selinuxLabel"));
  const char *k;
  const char *prop = json_string_value(json_object_get(linux_, "rootfsPropagation"));

  if (!add_seccomp(doc, s, seccomp, error))
    return FALSE;
  add_confinement(doc, aa, label);
  if (g_strcmp0(aa, "unconfined") == 0)
    g_hash_table_add(s, g_strdup("AppArmor unconfined"));
  if (label && (strstr(label, ":spc_t") || strstr(label, ":unconfined_t")))
    g_hash_table_add(s, g_strdup_printf("SELinux label %s (unconfined)", label));
  if (json_object_size(json_object_get(linux_, "sysctl")) > PRIV_MAX_ITEMS) {
    g_set_error(error, SC_ERROR, SC_ESPEC, "config.json: linux.sysctl has too many entries");
    return FALSE;
  }
  json_object_foreach (json_object_get(linux_, "sysctl"), k, v)
    g_hash_table_add(s, g_strdup_printf("sysctl %s=%s", k, json_string_value(v) ?: "?"));
  if (json_integer_value(json_object_get(json_object_get(proc, "user"), "uid")) == 0)
    g_hash_table_add(s, g_strdup("process runs as uid 0"));
  if (!add_id_mappings(s, linux_, error) || !add_runtime_settings(s, spec, error))
    return FALSE;
  /* (a mount made in the container then appears on the host) */
  if (prop && strstr(prop, "shared"))
    g_hash_table_add(s, g_strdup_printf("rootfs propagation %s", prop));
  json_object_set_new(doc, "settings", set_json(s));
  return TRUE;
}

/* Paths the spec hides from the container (masked or read-only); one that
 * an update stops hiding is a privilege added. */
static gboolean
add_hidden(json_t *doc, json_t *linux_, GError **error)
{
  g_autoptr(GHashTable) s = new_set();
  const char *keys[] = { "maskedPaths", "readonlyPaths" };

  for (int i = 0; i < 2; i++) {
    json_t *arr = json_object_get(linux_, keys[i]), *v;
    size_t j;
    if (too_many(arr, keys[i], error))
      return FALSE;
    json_array_foreach (arr, j, v)
      if (json_is_string(v))
        g_hash_table_add(
          s, g_strdup_printf("%s %s", i == 0 ? "masked" : "read-only", json_string_value(v)));
  }
  json_object_set_new(doc, "hidden", set_json(s));
  return TRUE;
}

/* A hook as the review shows it: its environment, path and arguments
 * after args[0] (the same path with other arguments or LD_PRELOAD runs
 * something else) */
static char *
hook_command(json_t *h)
{
  const char *path = json_string_value(json_object_get(h, "path"));
  GString *s = g_string_new(NULL);
  const char *keys[] = { "env", "args" };
  json_t *v;
  size_t j;

  for (int k = 0; k < 2; k++) {
    if (k == 1)
      g_string_append_printf(s, "%s%s", s->len ? " " : "", path ? path : "?");
    json_array_foreach (json_object_get(h, keys[k]), j, v)
      if (j < PRIV_MAX_ITEMS && (k == 0 || j > 0))
        g_string_append_printf(
          s, "%s%s", s->len ? " " : "", json_is_string(v) ? json_string_value(v) : "?");
  }
  return g_string_free(s, FALSE);
}

/* Who runs a unit's command with full privileges: root, or in a user's
 * unit (its manager runs as that user), the caller. */
static char *
host_root(const ScPrivInput *in)
{
  return in->user_manager ? g_strdup_printf("you (uid %u)", (unsigned)getuid()) : g_strdup("root");
}

/* OCI hooks run on the host as the runtime's caller (root but for a user's
 * container), whatever the container is. */
static gboolean
add_hooks(json_t *cmds, json_t *hooks, const ScPrivInput *in, GError **error)
{
  g_autofree char *root = host_root(in);
  const char *kind;
  json_t *arr;

  if (json_object_size(hooks) > 16) { /* (the spec has 6 kinds) */
    g_set_error(
      error, SC_ERROR, SC_ESPEC, "config.json: hooks has %zu kinds", json_object_size(hooks));
    return FALSE;
  }
  json_object_foreach (hooks, kind, arr) {
    json_t *h;
    size_t j;
    if (too_many(arr, "hooks", error))
      return FALSE;
    json_array_foreach (arr, j, h) {
      g_autofree char *d = g_strdup_printf("hook %s", kind);
      g_autofree char *c = hook_command(h);
      json_array_append_new(
        cmds, json_pack("{s:s, s:s, s:s}", "directive", d, "command", c, "user", root));
    }
  }
  return TRUE;
}

/* A command the tool renders itself (lib/contract/unit.c): the runtime
 * with run, kill or delete and the container's name, or run -d --pid-file
 * F NAME, each also after `--rootless true` (a user's container,
 * lib/contract/render.c: it takes privileges away); the runtime with
 * anything else (--root, --bundle...) is a host command like any other. */
static gboolean
runtime_command(char **argv, const char *runtime, const char *name)
{
  guint n = g_strv_length(argv);

  if (runtime == NULL || n < 3 || strcmp(argv[0], runtime) != 0 || argv[n - 1][0] == '-')
    return FALSE;
  if (n > 3 && g_str_equal(argv[1], "--rootless") && g_str_equal(argv[2], "true")) {
    argv += 2; /* (argv[0] is not read below) */
    n -= 2;
  }
  /* (the runtime killing or deleting another container is no longer ours) */
  if (name && strcmp(argv[n - 1], name) != 0)
    return FALSE;
  if (n == 3)
    return g_str_equal(argv[1], "run") || g_str_equal(argv[1], "kill") ||
           g_str_equal(argv[1], "delete");
  /* sc_unit_finish()'s cleanup of a foreground container */
  if (n == 4 && g_str_equal(argv[1], "delete") && g_str_equal(argv[2], "--force"))
    return TRUE;
  return n == 6 && g_str_equal(argv[1], "run") && g_str_equal(argv[2], "-d") &&
         g_str_equal(argv[3], "--pid-file");
}

/* @val with the slot directories as $DESTDIR: the same in both slots */
static char *
own_normalized(const char *val, const char *const *own)
{
  char *out = g_strdup(val);

  for (int i = 0; own && own[i]; i++) {
    g_auto(GStrv) parts = g_strsplit(out, own[i], -1);
    g_free(out);
    out = g_strjoinv("$DESTDIR", parts);
  }
  return out;
}

/* A setting of @section worth reviewing: host_settings[] in [Service]
 * but the default working directory (the slot) and an output kept by
 * systemd (no "file:"...), unit_settings[], install_settings[] */
static gboolean
host_setting(const char *section, const char *key, const char *val)
{
  if (*val == '\0')
    return FALSE;
  if (strcmp(section, "[Unit]") == 0)
    return g_strv_contains(unit_settings, key);
  if (strcmp(section, "[Install]") == 0)
    return g_strv_contains(install_settings, key);
  if (!g_strv_contains(host_settings, key))
    return FALSE;
  if (strcmp(key, "WorkingDirectory") == 0)
    return strcmp(val, "$DESTDIR") != 0;
  if (g_str_has_prefix(key, "Standard"))
    return strchr(val, ':') != NULL;
  return TRUE;
}

/* The lines of @unit as systemd's config parser reads them: a line
 * ending in an odd number of backslashes continues on the next (an even
 * number is escaped backslashes), its last backslash made a space. systemd
 * since v246 or so (@modern): \n, \r\n and \r end a line, comment lines
 * are skipped before anything (they neither continue nor end a
 * continuation), a BOM is skipped; before: \n only, a comment line is
 * text like any other until the line is parsed. (At most 100000 lines.) */
static char **
unit_lines(const char *unit, gboolean modern)
{
  GPtrArray *out = g_ptr_array_new();
  GString *cont = NULL;
  const char *p = modern && g_str_has_prefix(unit, "\xef\xbb\xbf") ? unit + 3 : unit;

  while (*p && out->len < 100000) {
    size_t n = modern ? strcspn(p, "\r\n") : strcspn(p, "\n");
    g_autofree char *raw = g_strndup(p, n);
    const char *first = raw + strspn(raw, " \t\r\n");
    gboolean escaped = FALSE;

    p += n;
    p += p[0] == '\r' && p[1] == '\n' ? 2 : p[0] != '\0';
    if (modern && (*first == '#' || *first == ';'))
      continue;
    for (const char *e = raw; *e; e++)
      escaped = escaped ? FALSE : *e == '\\';
    if (cont == NULL)
      cont = g_string_new(NULL);
    g_string_append(cont, raw);
    if (escaped) {
      cont->str[cont->len - 1] = ' ';
      continue;
    }
    g_ptr_array_add(out, g_string_free(cont, FALSE));
    cont = NULL;
  }
  if (cont)
    g_ptr_array_add(out, g_string_free(cont, FALSE));
  g_ptr_array_add(out, NULL);
  return (char **)g_ptr_array_free(out, FALSE);
}

static gboolean same_command(json_t *x, json_t *y);

/* The commands @found as who runs them, into @cmds once. */
static void
append_found(json_t *cmds,
             json_t *found,
             const char *user,
             const char *root,
             gboolean perm_start_only)
{
  for (size_t i = 0; i < json_array_size(found) && i < PRIV_MAX_ITEMS; i++) {
    json_t *f = json_array_get(found, i), *c, *o;
    gboolean all_root =
      perm_start_only &&
      g_strcmp0(json_string_value(json_object_get(f, "directive")), "ExecStart") != 0;
    const char *as = json_is_true(json_object_get(f, "setting"))                            ? ""
                     : json_is_true(json_object_get(f, "full")) || all_root || user == NULL ? root
                                                                                            : user;
    gboolean seen = FALSE;
    size_t k;

    c = json_pack("{s:O, s:O, s:s}",
                  "directive",
                  json_object_get(f, "directive"),
                  "command",
                  json_object_get(f, "command"),
                  "user",
                  as);
    json_array_foreach (cmds, k, o)
      seen = seen || same_command(c, o);
    if (seen || json_array_size(cmds) >= PRIV_MAX_ITEMS)
      json_decref(c);
    else
      json_array_append_new(cmds, c);
  }
}

/* The unit's commands that run on the host, outside the container: every
 * Exec*= of [Service] but the runtime's own (runtime_command()); as the
 * unit's User= unless + or ! (full privileges), or PermissionsStartOnly=
 * for all but ExecStart. */
static void
unit_pass(json_t *cmds, const ScPrivInput *in, char **lines)
{
  g_autofree char *user = NULL;
  g_autofree char *section = g_strdup("");
  gboolean service = FALSE, perm_start_only = FALSE;
  json_t *found = json_array();

  for (guint n = 0; lines[n]; n++) {
    g_autofree char *line = g_strstrip(g_strdup(lines[n]));
    char *eq;
    if (line[0] == '[') {
      g_free(section);
      section = g_strdup(line);
      service = strcmp(line, "[Service]") == 0;
      continue;
    }
    if ((eq = strchr(line, '=')) == NULL)
      continue;
    *eq = '\0';
    g_strchomp(line);
    const char *val = g_strchug(eq + 1);
    g_autofree char *norm = own_normalized(val, in->own);
    if (host_setting(section, line, norm)) {
      json_array_append_new(found,
                            json_pack("{s:s, s:s, s:b, s:b}",
                                      "directive",
                                      line,
                                      "command",
                                      norm,
                                      "full",
                                      FALSE,
                                      "setting",
                                      TRUE));
      continue;
    }
    if (!service)
      continue;
    if (strcmp(line, "User") == 0) {
      g_free(user);
      user = *val ? g_strdup(val) : NULL;
      continue;
    }
    if (strcmp(line, "PermissionsStartOnly") == 0) {
      perm_start_only = g_strcmp0(val, "yes") == 0 || g_strcmp0(val, "true") == 0 ||
                        g_strcmp0(val, "1") == 0 || g_strcmp0(val, "on") == 0;
      continue;
    }
    if (!g_strv_contains(exec_directives, line) || *val == '\0')
      continue;
    /* systemd's prefixes: @ - : + ! !! */
    gboolean full = FALSE;
    while (*val && strchr("@-:+!", *val)) {
      full = full || *val == '+' || *val == '!';
      val++;
    }
    g_auto(GStrv) argv = NULL;
    /* (one that does not parse is a host command: never taken for ours) */
    if (g_shell_parse_argv(val, NULL, &argv, NULL) && runtime_command(argv, in->runtime, in->name))
      continue;
    json_array_append_new(
      found, json_pack("{s:s, s:s, s:b}", "directive", line, "command", val, "full", full));
  }
  {
    /* (a user's manager switches to no other user: User= is moot) */
    g_autofree char *root = host_root(in);
    append_found(cmds, found, in->user_manager ? NULL : user, root, perm_start_only);
  }
  json_decref(found);
}

/* The unit read both ways systemd has read it (unit_lines()): what either
 * runs is reviewed */
static void
add_unit_commands(json_t *cmds, const ScPrivInput *in)
{
  for (int modern = 1; in->unit && modern >= 0; modern--) {
    g_auto(GStrv) lines = unit_lines(in->unit, modern);
    unit_pass(cmds, in, lines);
  }
}

/* The host files of @files in a place where their content gives power
 * over the host (code run as root, who may be root): path -> sha256 */
static json_t *
host_sums_json(GHashTable *files, GHashTable *sums)
{
  json_t *out = json_object();
  GHashTableIter it;
  gpointer path;

  g_hash_table_iter_init(&it, files);
  while (sums && g_hash_table_iter_next(&it, &path, NULL)) {
    const char *sum = g_hash_table_lookup(sums, path);
    for (int i = 0; sum && privileged_places[i]; i++)
      if (g_str_has_prefix(path, privileged_places[i])) {
        json_object_set_new(out, path, json_string(sum));
        break;
      }
  }
  return out;
}

gboolean
sc_privileges_compute(const ScPrivInput *in, json_t **out_doc, GError **error)
{
  g_autoptr(json_t) spec = NULL;
  g_autoptr(json_t) doc = json_object();
  g_autoptr(GHashTable) devices = new_set();
  g_autoptr(GHashTable) files = new_set();
  g_autoptr(GHashTable) settings = new_set();
  json_t *linux_, *proc, *root, *cmds = json_array();
  json_error_t jerr;

  json_object_set_new(doc, "host_commands", cmds);
  spec = json_loads(in->config ? in->config : "", JSON_REJECT_DUPLICATES, &jerr);
  if (spec == NULL) {
    g_set_error(error, SC_ERROR, SC_ESPEC, "config.json: line %d: %s", jerr.line, jerr.text);
    return FALSE;
  }
  if (!json_is_object(spec)) {
    g_set_error(error, SC_ERROR, SC_ESPEC, "config.json: not an object");
    return FALSE;
  }
  linux_ = json_object_get(spec, "linux");
  proc = json_object_get(spec, "process");
  root = json_object_get(spec, "root");
  if (!add_capabilities(doc, json_object_get(proc, "capabilities"), error) ||
      !add_namespaces(doc, linux_, error) ||
      !add_mounts(doc, json_object_get(spec, "mounts"), in->bundle, in->own, settings, error) ||
      !add_devices(devices, linux_, error) || !add_settings(doc, spec, settings, error) ||
      !add_hidden(doc, linux_, error) ||
      !add_hooks(cmds, json_object_get(spec, "hooks"), in, error))
    return FALSE;
  json_object_set_new(doc, "devices", set_json(devices));
  json_object_set_new(
    doc, "no_new_privileges", json_boolean(json_is_true(json_object_get(proc, "noNewPrivileges"))));
  json_object_set_new(
    doc, "root_readonly", json_boolean(json_is_true(json_object_get(root, "readonly"))));
  for (guint i = 0; in->host_files && i < in->host_files->len; i++)
    g_hash_table_add(files, g_strdup(in->host_files->pdata[i]));
  json_object_set_new(doc, "host_files", set_json(files));
  json_object_set_new(doc, "host_file_sums", host_sums_json(files, in->host_sums));
  add_unit_commands(cmds, in);
  *out_doc = g_steal_pointer(&doc);
  return TRUE;
}

static const char *
ns_text(const char *ns)
{
  return strcmp(ns, "network") == 0 ? "network" : ns;
}

static void
item(json_t *list, const char *kind, char *text)
{
  json_array_append_new(list, json_pack("{s:s, s:s}", "kind", kind, "text", text));
  g_free(text);
}

/* Strings of @key in @a but not in @b, each reported in @list. */
static void
strings_gained(json_t *list,
               json_t *a,
               json_t *b,
               const char *key,
               const char *kind,
               const char *fmt)
{
  json_t *v;
  size_t j;

  json_array_foreach (json_object_get(a, key), j, v)
    if (!in_strings(json_object_get(b, key), json_string_value(v)))
      item(list, kind, g_strdup_printf(fmt, json_string_value(v)));
}

static void
caps_gained(json_t *list, json_t *a, json_t *b, const char *word)
{
  g_autoptr(GHashTable) names = new_set();
  g_autoptr(GList) keys = NULL;

  for (int i = 0; cap_sets[i]; i++) {
    json_t *v;
    size_t j;
    json_array_foreach (json_object_get(json_object_get(a, "capabilities"), cap_sets[i]), j, v)
      g_hash_table_add(names, g_strdup(json_string_value(v)));
  }
  keys = g_list_sort(g_hash_table_get_keys(names), (GCompareFunc)strcmp);
  for (GList *l = keys; l; l = l->next) {
    g_autoptr(GString) sets = g_string_new(NULL);
    for (int i = 0; cap_sets[i]; i++) {
      json_t *ca = json_object_get(json_object_get(a, "capabilities"), cap_sets[i]);
      json_t *cb = json_object_get(json_object_get(b, "capabilities"), cap_sets[i]);
      if (in_strings(ca, l->data) && !in_strings(cb, l->data) && !in_strings(cb, "ALL"))
        g_string_append_printf(sets, "%s%s", sets->len ? ", " : "", cap_sets[i]);
    }
    if (sets->len && strcmp(l->data, "ALL") == 0)
      item(list,
           "capability",
           g_strdup_printf("every capability (no process.capabilities) %s (%s)", word, sets->str));
    else if (sets->len)
      item(list,
           "capability",
           g_strdup_printf("capability %s %s (%s)", (char *)l->data, word, sets->str));
  }
}

static json_t *
find_mount(json_t *doc, json_t *m)
{
  json_t *v;
  size_t j;

  json_array_foreach (json_object_get(doc, "mounts"), j, v)
    if (json_equal(json_object_get(v, "source"), json_object_get(m, "source")) &&
        json_equal(json_object_get(v, "destination"), json_object_get(m, "destination")))
      return v;
  return NULL;
}

static gboolean
is_rw(json_t *m)
{
  return g_strcmp0(json_string_value(json_object_get(m, "mode")), "rw") == 0;
}

static void
mounts_gained(json_t *list, json_t *a, json_t *b, gboolean adding)
{
  json_t *m;
  size_t j;

  json_array_foreach (json_object_get(a, "mounts"), j, m) {
    json_t *other = find_mount(b, m);
    const char *src = json_string_value(json_object_get(m, "source"));
    const char *dst = json_string_value(json_object_get(m, "destination"));
    const char *mode = is_rw(m) ? "read-write" : "read-only";
    if (other == NULL)
      item(list,
           "mount",
           g_strdup_printf("mount %s:%s %s %s", src, dst, mode, adding ? "added" : "removed"));
    else if (is_rw(m) && !is_rw(other))
      item(list,
           "mount",
           g_strdup_printf("mount %s:%s made %s", src, dst, adding ? "read-write" : "read-only"));
  }
}

static gboolean
same_command(json_t *x, json_t *y)
{
  return json_equal(json_object_get(x, "directive"), json_object_get(y, "directive")) &&
         json_equal(json_object_get(x, "command"), json_object_get(y, "command")) &&
         json_equal(json_object_get(x, "user"), json_object_get(y, "user"));
}

static void
commands_gained(json_t *list, json_t *a, json_t *b, gboolean adding)
{
  json_t *c, *o;
  size_t j, k;

  json_array_foreach (json_object_get(a, "host_commands"), j, c) {
    gboolean found = FALSE;
    json_array_foreach (json_object_get(b, "host_commands"), k, o)
      found = found || same_command(c, o);
    if (!found && *json_string_value(json_object_get(c, "user")) == '\0')
      item(list,
           "host_command",
           g_strdup_printf("unit sets %s=%s on the host%s",
                           json_string_value(json_object_get(c, "directive")),
                           json_string_value(json_object_get(c, "command")),
                           adding ? "" : " removed"));
    else if (!found)
      item(list,
           "host_command",
           g_strdup_printf("unit runs %s as %s on the host (%s)%s",
                           json_string_value(json_object_get(c, "command")),
                           json_string_value(json_object_get(c, "user")),
                           json_string_value(json_object_get(c, "directive")),
                           adding ? "" : " removed"));
  }
}

/* Files in privileged_places[] of both whose content differs: the same
 * sudoers.d file or unit drop-in with other lines is another privilege */
static void
host_files_changed(json_t *list, json_t *a, json_t *b)
{
  json_t *sa = json_object_get(a, "host_file_sums"), *sb = json_object_get(b, "host_file_sums");
  json_t *p;
  size_t j;

  /* (in the order of host_files: sorted) */
  json_array_foreach (json_object_get(a, "host_files"), j, p) {
    const char *path = json_string_value(p);
    json_t *v = json_object_get(sa, path), *old = json_object_get(sb, path);
    if (v && old && !json_equal(old, v))
      item(list, "host_file", g_strdup_printf("host file %s changed", path));
  }
}

/* What @a has that @b has not: with @adding, the privileges added by going
 * from @b to @a; else those removed going from @a to @b. */
static json_t *
gained(json_t *a, json_t *b, gboolean adding)
{
  json_t *list = json_array();
  json_t *v;
  size_t j;

  caps_gained(list, a, b, adding ? "added" : "removed");
  json_array_foreach (json_object_get(a, "host_namespaces"), j, v)
    if (!in_strings(json_object_get(b, "host_namespaces"), json_string_value(v)))
      item(
        list,
        "namespace",
        g_strdup_printf(adding ? "host %s namespace shared" : "host %s namespace no longer shared",
                        ns_text(json_string_value(v))));
  mounts_gained(list, a, b, adding);
  strings_gained(list, a, b, "devices", "device", adding ? "device %s added" : "device %s removed");
  if (json_is_false(json_object_get(a, "no_new_privileges")) &&
      json_is_true(json_object_get(b, "no_new_privileges")))
    item(list,
         "no_new_privileges",
         g_strdup(adding ? "noNewPrivileges dropped" : "noNewPrivileges set"));
  if (json_is_false(json_object_get(a, "root_readonly")) &&
      json_is_true(json_object_get(b, "root_readonly")))
    item(list, "root_readonly", g_strdup(adding ? "root made writable" : "root made read-only"));
  strings_gained(list, a, b, "settings", "setting", adding ? "%s" : "%s (no more)");
  /* a refusing filter in @b: calls @a lets through more are gained */
  if (!json_is_true(json_object_get(b, "seccomp_all")))
    strings_gained(list,
                   a,
                   b,
                   "seccomp_allowed",
                   "seccomp",
                   adding ? "seccomp allows %s" : "seccomp allows %s (no more)");
  strings_gained(list,
                 b,
                 a,
                 "confinement",
                 "confinement",
                 adding ? "%s no more (the runtime's own instead)" : "%s (confined again)");
  /* hiding is the restriction: what @b hides and @a does not is gained */
  strings_gained(list,
                 b,
                 a,
                 "hidden",
                 "unhidden",
                 adding ? "%s no more (exposed to the container)" : "%s (hidden again)");
  strings_gained(
    list, a, b, "host_files", "host_file", adding ? "host file %s added" : "host file %s removed");
  if (adding)
    host_files_changed(list, a, b);
  commands_gained(list, a, b, adding);
  return list;
}

json_t *
sc_privileges_diff(json_t *old_doc, json_t *new_doc)
{
  g_autoptr(json_t) empty = json_object();

  /* no old deployment (install): everything it has is added, from nothing
   * (own namespaces all, noNewPrivileges, a read-only root) */
  if (old_doc == NULL) {
    json_t *ns = json_array();
    json_object_set_new(empty, "host_namespaces", ns);
    json_object_set_new(empty, "no_new_privileges", json_true());
    json_object_set_new(empty, "root_readonly", json_true());
    /* (what it hides, its LSM confinement, the calls its filter lets
     * through are no privilege given: listed, they would only be noise) */
    json_object_set_new(empty, "hidden", json_deep_copy(json_object_get(new_doc, "hidden")));
    json_object_set_new(
      empty, "confinement", json_deep_copy(json_object_get(new_doc, "confinement")));
    json_object_set_new(
      empty, "seccomp_allowed", json_deep_copy(json_object_get(new_doc, "seccomp_allowed")));
    old_doc = empty;
  }
  return json_pack("{s:o, s:o}",
                   "added",
                   gained(new_doc, old_doc, TRUE),
                   "removed",
                   gained(old_doc, new_doc, FALSE));
}

char *
sc_privileges_text(json_t *diff)
{
  GString *s = g_string_new(NULL);
  json_t *v;
  size_t j;

  json_array_foreach (json_object_get(diff, "added"), j, v)
    g_string_append_printf(s, "+ %s\n", json_string_value(json_object_get(v, "text")));
  json_array_foreach (json_object_get(diff, "removed"), j, v)
    g_string_append_printf(s, "- %s\n", json_string_value(json_object_get(v, "text")));
  return g_string_free(s, FALSE);
}
