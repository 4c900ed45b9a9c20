/*
 * Rendering an image's exports for a container: variable resolution with
 * its precedence, then config.json, the unit and tmpfiles.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "contract.h"

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct sc_render_opts {
  char *name;
  sc_values *values;
  char *image_name;
  char *image_id;
  int slot;
  char *remote_rootfs;
  char *destdir; /* NULL: CHECKOUT/NAME.SLOT */
  gboolean run_once;
  gboolean strict;    /* a user value the image does not declare is an error */
  sc_values *checked; /* the values the user gave; NULL: all of values */
};

struct sc_rendering {
  char *name;
  char *config;
  char *unit;     /* NULL: no container service */
  char *tmpfiles; /* NULL: no tmpfiles file */
  sc_values *values;
  gboolean detached;
  gboolean converted_capabilities; /* the pre-1.0.0-rc5 array form */
  GPtrArray *missing_sources;
  GPtrArray *warnings; /* NULL-terminated: sc_rendering_get_warnings() */
};

SC_API int
sc_render_opts_new(sc_render_opts **out_opts, sc_error **error)
{
  sc_render_opts *o;

  SC_CHECK_ARG(out_opts != NULL, error);
  o = g_new0(sc_render_opts, 1);
  o->values = sc_values_new_internal();
  o->image_name = g_strdup("");
  o->image_id = g_strdup("");
  *out_opts = o;
  return SC_OK;
}

SC_API void
sc_render_opts_free(sc_render_opts *o)
{
  if (o == NULL)
    return;
  g_free(o->name);
  sc_values_free(o->values);
  sc_values_free(o->checked);
  g_free(o->image_name);
  g_free(o->image_id);
  g_free(o->remote_rootfs);
  g_free(o->destdir);
  g_free(o);
}

void
sc_render_opts_set_run_once(sc_render_opts *o, const char *destdir)
{
  g_free(o->destdir);
  o->destdir = g_strdup(destdir);
  o->run_once = TRUE;
}

SC_API int
sc_render_opts_set_name(sc_render_opts *o, const char *name, sc_error **error)
{
  SC_CHECK_ARG(o != NULL, error);
  return sc_name_replace(&o->name, name, error);
}

SC_API int
sc_render_opts_set_values(sc_render_opts *o, const sc_values *values, sc_error **error)
{
  SC_CHECK_ARG(o != NULL && values != NULL, error);
  return sc_values_replace(&o->values, values, error);
}

SC_API int
sc_render_opts_set_image(sc_render_opts *o,
                         const char *image_name,
                         const char *image_id,
                         sc_error **error)
{
  SC_CHECK_ARG(o != NULL, error);
  g_free(o->image_name);
  g_free(o->image_id);
  o->image_name = g_strdup(image_name ? image_name : "");
  o->image_id = g_strdup(image_id ? image_id : "");
  return SC_OK;
}

SC_API int
sc_render_opts_set_slot(sc_render_opts *o, int slot, sc_error **error)
{
  SC_CHECK_ARG(o != NULL, error);
  if (slot != 0 && slot != 1)
    return sc_error_set(error, SC_EINVAL, "deployment slot %d: must be 0 or 1", slot);
  o->slot = slot;
  return SC_OK;
}

SC_API int
sc_render_opts_set_remote_rootfs(sc_render_opts *o, const char *path, sc_error **error)
{
  SC_CHECK_ARG(o != NULL, error);
  if (path != NULL && path[0] != '/')
    return sc_error_set(error, SC_EINVAL, "remote rootfs '%s': must be an absolute path", path);
  g_free(o->remote_rootfs);
  o->remote_rootfs = g_strdup(path);
  return SC_OK;
}

SC_API int
sc_render_opts_set_strict(sc_render_opts *o, int strict, sc_error **error)
{
  SC_CHECK_ARG(o != NULL, error);
  o->strict = strict != 0;
  return SC_OK;
}

void
sc_render_opts_set_checked_values(sc_render_opts *o, const sc_values *user)
{
  sc_values_replace(&o->checked, user, NULL);
}

/* The user values (--set) that @ex does not declare: one is a typo more
 * often than not (GREETNG for GREETING), so each is a warning naming the
 * known variables, or with @o's strict the error. The forced ones are not
 * offered: the tool sets those. */
static gboolean
check_declared(const sc_exports *ex, const sc_render_opts *o, sc_rendering *r, GError **error)
{
  g_autoptr(json_t) vars = NULL;
  g_autoptr(GString) known = g_string_new(NULL);
  const sc_values *user = o->checked ? o->checked : o->values;
  json_t *v;
  size_t i;

  if (sc_values_count(user) == 0)
    return TRUE;
  vars = sc_exports_variables(ex, error);
  if (vars == NULL)
    return FALSE;
  json_array_foreach (vars, i, v) {
    if (g_strcmp0(json_string_value(json_object_get(v, "source")), "forced") == 0)
      continue;
    g_string_append_printf(
      known, "%s%s", known->len ? ", " : "", json_string_value(json_object_get(v, "name")));
  }
  for (size_t k = 0; k < sc_values_count(user); k++) {
    const char *key = sc_values_key_at(user, k);
    gboolean declared = FALSE;
    g_autofree char *msg = NULL;
    json_array_foreach (vars, i, v)
      declared = declared || g_strcmp0(json_string_value(json_object_get(v, "name")), key) == 0;
    if (declared)
      continue;
    msg = g_strdup_printf("value %s: the image declares no variable %s (its variables: %s)",
                          key,
                          key,
                          known->len ? known->str : "none");
    if (o->strict) {
      g_set_error(error, SC_ERROR, SC_EINVAL, "%s", msg);
      return FALSE;
    }
    g_ptr_array_insert(r->warnings, (gint)r->warnings->len - 1, g_steal_pointer(&msg));
  }
  return TRUE;
}

static void
merge(sc_values *into, const sc_values *from)
{
  for (size_t i = 0; i < sc_values_count(from); i++) {
    const char *k = sc_values_key_at(from, i);
    sc_values_insert(into, k, sc_values_get(from, k), NULL);
  }
}

static const char *
file_text(const ScExportFile *f, gsize *len)
{
  return f->data ? g_bytes_get_data(f->data, len) : NULL;
}

static char *
label_for(const sc_exports *ex, const char *name)
{
  return g_build_filename(ex->path, name, NULL);
}

/* Everything but the forced variables: host defaults < manifest
 * defaultValues < user values (docs/design.md). atomic let the host defaults
 * win over the manifest (quirk 6); the etcd image relies on the manifest. */
static sc_values *
resolve_overridable(sc_context *ctx,
                    const sc_exports *ex,
                    const sc_render_opts *o,
                    const char *runtime,
                    GError **error)
{
  g_autoptr(GError) local = NULL;
  sc_values *v = sc_values_new_internal();
  g_autofree char *caps = NULL;
  g_autofree char *uuid = g_uuid_string_random();

  caps = sc_capabilities_text(&local);
  if (caps == NULL) {
    sc_context_log(ctx, SC_LOG_WARNING, "ALL_PROCESS_CAPABILITIES left empty: %s", local->message);
    caps = g_strdup("");
  }
  /* a user's: $XDG_RUNTIME_DIR, $XDG_DATA_HOME/containers/atomic-state
   * (atomic said ~/.data, a directory nothing else uses; $XDG_DATA_HOME
   * itself made ${STATE_DIRECTORY}/$NAME the user's own data, the store
   * with --name containers), $XDG_CONFIG_HOME */
  g_autofree char *user_state =
    sc_context_is_user(ctx)
      ? g_build_filename(sc_context_user_data_dir(ctx), "containers", "atomic-state", NULL)
      : NULL;
  g_autofree char *user_run = g_strdup_printf("/run/user/%u", (unsigned)getuid());
  if (sc_context_user_runtime_dir(ctx)) { /* (unset: refused before an install) */
    g_free(user_run);
    user_run = g_strdup(sc_context_user_runtime_dir(ctx));
  }
  sc_values_insert(v, "RUN_DIRECTORY", sc_context_is_user(ctx) ? user_run : "/run", NULL);
  sc_values_insert(v,
                   "STATE_DIRECTORY",
                   sc_context_is_user(ctx) ? user_state : "/var/lib",
                   NULL);
  sc_values_insert(
    v, "CONF_DIRECTORY", sc_context_is_user(ctx) ? sc_context_user_config_dir(ctx) : "/etc", NULL);
  sc_values_insert(v, "UUID", uuid, NULL);
  sc_values_insert(v, "ALL_PROCESS_CAPABILITIES", caps, NULL);
  sc_values_insert(v, "RUNTIME", runtime, NULL);
  sc_values_insert(v, "ATOMIC", sc_context_get_tool_path(ctx), NULL);
  merge(v, ex->defaults);
  merge(v, o->values);
  /* PIDFILE follows the final RUN_DIRECTORY unless something set it. */
  if (sc_values_get(v, "PIDFILE") == NULL) {
    g_autofree char *pidfile =
      g_strdup_printf("%s/container-%s.pid", sc_values_get(v, "RUN_DIRECTORY"), o->name);
    sc_values_insert(v, "PIDFILE", pidfile, NULL);
  }
  return v;
}

/* linux.cgroupsPath of @doc set to @cgroup, the unit's (docs/containers.md,
 * "Cgroups: the unit owns its container"). An image's own value was meant
 * for atomic's --systemd-cgroup ("slice:prefix:name") or names a cgroup
 * outside the unit: it is replaced, with a warning. */
static void
set_cgroups_path(sc_context *ctx, const char *label, json_t *doc, const char *cgroup)
{
  json_t *linux_ = json_object_get(doc, "linux");
  json_t *old;

  if (linux_ == NULL) {
    linux_ = json_object();
    json_object_set_new(doc, "linux", linux_);
  } else if (!json_is_object(linux_)) {
    return; /* not ours to mend: the runtime refuses it, naming it */
  }
  old = json_object_get(linux_, "cgroupsPath");
  if (old != NULL && !(json_is_string(old) && strcmp(json_string_value(old), cgroup) == 0)) {
    g_autofree char *text = json_dumps(old, JSON_ENCODE_ANY);
    g_autofree char *shown = sc_display(text, 200);
    sc_context_log(ctx,
                   SC_LOG_WARNING,
                   "%s: linux.cgroupsPath %s replaced by '%s': the container lives in its "
                   "unit's cgroup",
                   label,
                   shown,
                   cgroup);
  }
  json_object_set_new(linux_, "cgroupsPath", json_string(cgroup));
}

/* What the deployment's config.json gets over the image's text: the remote
 * rootfs, the unit's cgroup, and the 1.0 form of a pre-1.0.0-rc5
 * capability list. Text that needs none of them is kept byte for byte; a
 * document that does not parse, or is no object, is left for
 * sc_spec_check() to report. */
/* The subordinate range of @user (or @uid) in @file ("name:start:count"),
 * used only when @helper (newuidmap, newgidmap) is installed: runc maps
 * more than one id only through it. FALSE: none. */
static gboolean
subordinate_range(const char *file,
                  const char *helper,
                  const char *user,
                  guint32 uid,
                  guint64 *out_start,
                  guint64 *out_count)
{
  g_autofree char *text = NULL;
  g_autofree char *found = g_find_program_in_path(helper);
  g_autofree char *uid_s = g_strdup_printf("%u", uid);
  g_auto(GStrv) lines = NULL;

  if (found == NULL || !g_file_get_contents(file, &text, NULL, NULL))
    return FALSE;
  lines = g_strsplit(text, "\n", -1);
  for (guint i = 0; lines[i]; i++) {
    g_auto(GStrv) f = g_strsplit(lines[i], ":", 3);
    if (g_strv_length(f) != 3 || (g_strcmp0(f[0], user) != 0 && strcmp(f[0], uid_s) != 0))
      continue;
    *out_start = g_ascii_strtoull(f[1], NULL, 10);
    *out_count = g_ascii_strtoull(f[2], NULL, 10);
    return *out_start > 0 && *out_count > 0;
  }
  return FALSE;
}

/* The caller's user name, NULL without a passwd entry (quietly: GLib's
 * g_get_user_name() warns on stderr then). */
static char *
caller_name(void)
{
  struct passwd pw, *found = NULL;
  char buf[4096];

  if (getpwuid_r(getuid(), &pw, buf, sizeof buf, &found) != 0 || found == NULL)
    return NULL;
  return g_strdup(found->pw_name);
}

static json_t *
id_mappings(guint32 id, const char *file, const char *helper)
{
  json_t *maps = json_array();
  guint64 start, count;
  g_autofree char *user = caller_name();

  json_array_append_new(
    maps, json_pack("{s:i, s:I, s:i}", "containerID", 0, "hostID", (json_int_t)id, "size", 1));
  if (subordinate_range(file, helper, user, getuid(), &start, &count))
    json_array_append_new(maps,
                          json_pack("{s:i, s:I, s:I}",
                                    "containerID",
                                    1,
                                    "hostID",
                                    (json_int_t)start,
                                    "size",
                                    (json_int_t)count));
  return maps;
}

/* The kinds of file system a user namespace may mount (the kernel's
 * FS_USERNS_MOUNT ones a container uses); a bind has no type of its own. */
static gboolean
userns_mountable(const char *type, json_t *opts)
{
  static const char *const ok[] = {"bind",  "none",  "proc",    "sysfs",  "tmpfs", "devpts",
                                   "mqueue", "cgroup", "cgroup2", "overlay", "fuse"};
  size_t j;
  json_t *o;

  json_array_foreach (opts, j, o)
    if (g_strcmp0(json_string_value(o), "bind") == 0 ||
        g_strcmp0(json_string_value(o), "rbind") == 0)
      return TRUE;
  if (type == NULL)
    return TRUE;
  for (guint k = 0; k < G_N_ELEMENTS(ok); k++)
    if (strcmp(type, ok[k]) == 0)
      return TRUE;
  return FALSE;
}

/* @a is @b, or one of them is below the other. */
static gboolean
paths_overlap(const char *a, const char *b)
{
  gsize na = strlen(a), nb = strlen(b);
  gsize n = MIN(na, nb);

  if (a[0] != '/' || b[0] != '/' || strncmp(a, b, n) != 0)
    return FALSE;
  return na == nb || (na < nb ? (b[na] == '/' || na == 1) : (a[nb] == '/' || nb == 1));
}

/* @path, its links resolved as far as it exists (the rest as written):
 * where a link that is already there leads. */
static char *
resolve_existing(const char *path)
{
  g_autofree char *head = g_strdup(path);
  GString *tail = g_string_new(NULL);

  for (;;) {
    char *real = realpath(head, NULL);
    if (real != NULL) {
      char *out = g_strconcat(strcmp(real, "/") == 0 && tail->len ? "" : real, tail->str, NULL);
      free(real);
      g_string_free(tail, TRUE);
      return out;
    }
    char *slash = strrchr(head, '/');
    if (slash == NULL || slash == head) {
      g_string_free(tail, TRUE);
      return g_strdup(path);
    }
    g_string_prepend(tail, slash);
    *slash = '\0';
  }
}

/* The places a user's container must never reach, by a mount or by a link
 * or copy of its tmpfiles lines: the store and the checkout root (every
 * container of the user, every object hardlinked into them), the unit
 * directory (units the user's systemd runs on the host) and the tmpfiles
 * directory (lines applied without review). NULL-terminated; g_strfreev. */
static GStrv
user_forbidden_places(sc_context *ctx, GStrv *out_what)
{
  GStrv places = g_new0(char *, 5);
  GStrv what = g_new0(char *, 5);
  guint n = 0;

  if (sc_context_get_checkout_root(ctx)) {
    places[n] = g_strdup(sc_context_get_checkout_root(ctx));
    what[n++] = g_strdup("containers' checkout root");
  }
  if (sc_context_get_repo(ctx)) {
    places[n] = g_strdup(sc_context_get_repo(ctx));
    what[n++] = g_strdup("containers' store");
  }
  places[n] = sc_context_unit_dir(ctx);
  what[n++] = g_strdup("systemd unit directory");
  places[n] = sc_context_tmpfiles_dir(ctx);
  what[n++] = g_strdup("tmpfiles directory");
  *out_what = what;
  return places;
}

/* @path (absolute, without "..") is, holds or lies in one of the user's
 * forbidden places, as written or through the links that exist: which
 * one (index), else -1. */
static int
user_forbidden_overlap(GStrv places, const char *path)
{
  g_autofree char *canon = g_canonicalize_filename(path, "/");
  g_autofree char *real = resolve_existing(canon);

  for (guint k = 0; places[k] != NULL; k++) {
    g_autofree char *place_real = resolve_existing(places[k]);
    if (paths_overlap(canon, places[k]) || paths_overlap(real, places[k]) ||
        paths_overlap(canon, place_real) || paths_overlap(real, place_real))
      return (int)k;
  }
  return -1;
}

/* @path has a ".." component. */
static gboolean
has_dotdot(const char *path)
{
  g_auto(GStrv) parts = g_strsplit(path, "/", -1);

  for (guint i = 0; parts[i] != NULL; i++)
    if (strcmp(parts[i], "..") == 0)
      return TRUE;
  return FALSE;
}

/* A user's container: what the image asks of the kernel that a user
 * namespace cannot give is refused by name (a mount of a file system
 * type it may not mount, a sysctl outside the container's namespaces, a
 * bind of the user's store, checkout root, unit or tmpfiles directory, or
 * a source with ".." that a link made later could turn elsewhere), or
 * dropped with a warning (the image's uid/gid mappings, its device nodes,
 * its OCI hooks, which the runtime would run on the host as the user,
 * outside the container). */
static gboolean
rootless_review(sc_context *ctx, const char *label, json_t *doc, GError **error)
{
  json_t *linux_ = json_object_get(doc, "linux");
  json_t *mounts = json_object_get(doc, "mounts"), *m, *v;
  const char *key;
  size_t i;
  g_auto(GStrv) what = NULL;
  g_auto(GStrv) ours = user_forbidden_places(ctx, &what);

  json_array_foreach (mounts, i, m) {
    const char *dest = json_string_value(json_object_get(m, "destination"));
    const char *type = json_string_value(json_object_get(m, "type"));
    const char *src = json_string_value(json_object_get(m, "source"));
    if (!userns_mountable(type, json_object_get(m, "options"))) {
      g_set_error(error, SC_ERROR, SC_EINVAL,
                  "%s: mount %s: type %s%s%s cannot be mounted in a user namespace (a user's "
                  "container): remove the mount, or install the container as root",
                  label, dest ? dest : "?", type, src ? " from " : "", src ? src : "");
      return FALSE;
    }
    if (src == NULL)
      continue;
    /* (a relative source is the runtime's, from the bundle: "../x" left it
     * for the checkout root) */
    if (src[0] != '/' && !has_dotdot(src))
      continue;
    /* (as written, and through the links that exist; the links its
     * tmpfiles lines make are confined by check_user_tmpfiles()) */
    int k = src[0] == '/' ? user_forbidden_overlap(ours, src) : -1;
    if (k >= 0) {
      g_set_error(error,
                  SC_ERROR,
                  SC_EINVAL,
                  "%s: mount %s: source %s would give the container your %s %s: refused",
                  label,
                  dest ? dest : "?",
                  src,
                  what[k],
                  ours[k]);
      return FALSE;
    }
    if (has_dotdot(src)) {
      g_set_error(error,
                  SC_ERROR,
                  SC_EINVAL,
                  "%s: mount %s: source %s has a '..' component: a user's container's bind "
                  "sources are written without '..' (a link made later could turn it elsewhere)",
                  label,
                  dest ? dest : "?",
                  src);
      return FALSE;
    }
  }
  if (json_object_get(doc, "hooks") != NULL) {
    sc_context_log(ctx,
                   SC_LOG_WARNING,
                   "%s: hooks dropped: the runtime would run them on the host as you, outside "
                   "the container (a user's container runs no OCI hooks)",
                   label);
    json_object_del(doc, "hooks");
  }
  if (!json_is_object(linux_))
    return TRUE;
  json_object_foreach (json_object_get(linux_, "sysctl"), key, v) {
    /* (the namespaced ones: the network's, IPC's) */
    if (!g_str_has_prefix(key, "net.") && !g_str_has_prefix(key, "kernel.shm") &&
        !g_str_has_prefix(key, "kernel.msg") && strcmp(key, "kernel.sem") != 0 &&
        !g_str_has_prefix(key, "fs.mqueue.")) {
      g_set_error(error, SC_ERROR, SC_EINVAL,
                  "%s: linux.sysctl %s is not in a namespace of the container: a user's "
                  "container cannot set it (remove it, or install the container as root)",
                  label, key);
      return FALSE;
    }
  }
  for (guint k = 0; k < 2; k++) {
    const char *field = k == 0 ? "uidMappings" : "gidMappings";
    if (json_object_get(linux_, field) != NULL) {
      sc_context_log(ctx, SC_LOG_WARNING,
                     "%s: linux.%s of the image replaced: a user's container maps you (%s %u) "
                     "to 0, and your subordinate ids after it",
                     label, field, k == 0 ? "uid" : "gid",
                     (unsigned)(k == 0 ? getuid() : getgid()));
      json_object_del(linux_, field);
    }
  }
  if (json_array_size(json_object_get(linux_, "devices")) > 0)
    sc_context_log(ctx, SC_LOG_WARNING,
                   "%s: linux.devices dropped: a user's container makes no device nodes", label);
  json_object_del(linux_, "devices");
  return TRUE;
}

/* What a user namespace lets an unprivileged user run (atomic's
 * _configure_userns, corrected): a user namespace with the caller's uid
 * and gid as root inside (atomic mapped the gid from the uid) and their
 * subordinate ranges; a network namespace of its own is kept only if the
 * image asked for one (a user namespace may make it, it has no device);
 * /sys bound read-only when the network namespace is the host's (sysfs
 * cannot be mounted then); nosuid,nodev on every mount but the /dev
 * tmpfs and devpts (under /dev too: a bind of a device node there); no
 * device rules or cgroup resources, which need a cgroup the user may not
 * set, and no linux.cgroupsPath (rootless runc fails on a cgroup it may
 * not make when one is named). Mappings the image gave are kept. */
static void
make_rootless(json_t *doc)
{
  json_t *linux_ = json_object_get(doc, "linux");
  json_t *ns, *mounts = json_object_get(doc, "mounts"), *m, *kept;
  gboolean has_user = FALSE, has_net = FALSE;
  size_t i;

  if (!json_is_object(linux_)) {
    linux_ = json_object();
    json_object_set_new(doc, "linux", linux_);
  }
  ns = json_object_get(linux_, "namespaces");
  if (!json_is_array(ns)) {
    ns = json_array();
    json_object_set_new(linux_, "namespaces", ns);
  }
  json_array_foreach (ns, i, m) {
    const char *type = json_string_value(json_object_get(m, "type"));
    has_user |= g_strcmp0(type, "user") == 0;
    has_net |= g_strcmp0(type, "network") == 0;
  }
  if (!has_user)
    json_array_append_new(ns, json_pack("{s:s}", "type", "user"));
  if (!json_is_array(json_object_get(linux_, "uidMappings")))
    json_object_set_new(linux_, "uidMappings", id_mappings(getuid(), "/etc/subuid", "newuidmap"));
  if (!json_is_array(json_object_get(linux_, "gidMappings")))
    json_object_set_new(linux_, "gidMappings", id_mappings(getgid(), "/etc/subgid", "newgidmap"));
  json_object_del(linux_, "resources");
  json_object_del(linux_, "cgroupsPath");
  if (!json_is_array(mounts))
    return;
  kept = json_array();
  json_array_foreach (mounts, i, m) {
    const char *dest = json_string_value(json_object_get(m, "destination"));
    const char *type = json_string_value(json_object_get(m, "type"));
    json_t *opts = json_object_get(m, "options");
    if (dest && !has_net && g_str_has_prefix(dest, "/sys") && g_strcmp0(type, "sysfs") == 0)
      continue; /* replaced by the bind below */
    if (dest && !(strcmp(dest, "/dev") == 0 && g_strcmp0(type, "tmpfs") == 0) &&
        g_strcmp0(type, "devpts") != 0 && json_is_array(opts)) {
      const char *add[] = { "nosuid", "nodev" };
      for (guint k = 0; k < G_N_ELEMENTS(add); k++) {
        gboolean seen = FALSE;
        size_t j;
        json_t *o;
        json_array_foreach (opts, j, o)
          seen |= g_strcmp0(json_string_value(o), add[k]) == 0;
        if (!seen)
          json_array_append_new(opts, json_string(add[k]));
      }
    }
    json_array_append(kept, m);
  }
  if (!has_net && json_array_size(kept) != json_array_size(mounts))
    json_array_append_new(kept,
                          json_pack("{s:s, s:s, s:s, s:[s,s,s,s,s]}",
                                    "destination",
                                    "/sys",
                                    "type",
                                    "none",
                                    "source",
                                    "/sys",
                                    "options",
                                    "rbind",
                                    "nosuid",
                                    "noexec",
                                    "nodev",
                                    "ro"));
  json_object_set_new(doc, "mounts", kept);
}

static gboolean
adjust_config(sc_context *ctx,
              const char *label,
              const sc_render_opts *o,
              const char *cgroup,
              char **text,
              gsize *len,
              gboolean *out_converted,
              GError **error)
{
  json_t *doc = json_loadb(*text, *len, 0, NULL);
  json_t *root = doc ? json_object_get(doc, "root") : NULL;
  gboolean changed = FALSE;
  size_t count = 0;

  *out_converted = FALSE;
  if (!json_is_object(doc)) {
    json_decref(doc);
    return TRUE;
  }
  if (sc_spec_convert_capabilities(doc, &count)) {
    *out_converted = changed = TRUE;
    sc_context_log(ctx,
                   SC_LOG_WARNING,
                   "%s: process.capabilities is a list of %zu names, the form before "
                   "runtime-spec 1.0.0-rc5 that runc 1.x cannot read: converted to the same "
                   "names in bounding, effective, inheritable and permitted (as runc applied "
                   "the list), none in ambient",
                   label,
                   count);
  }
  if (sc_context_is_user(ctx)) {
    if (!rootless_review(ctx, label, doc, error)) {
      json_decref(doc);
      return FALSE;
    }
    make_rootless(doc);
    changed = TRUE;
  }
  if ((o->remote_rootfs != NULL && json_is_object(root)) || cgroup != NULL) {
    if (o->remote_rootfs != NULL && json_is_object(root))
      json_object_set_new(root, "path", json_string(o->remote_rootfs));
    if (cgroup != NULL)
      set_cgroups_path(ctx, label, doc, cgroup);
    changed = TRUE;
  }
  if (changed) {
    g_free(*text);
    *text = sc_json_dump(doc, TRUE);
    *len = strlen(*text);
  }
  json_decref(doc);
  return TRUE;
}

static gboolean
render_config(sc_context *ctx,
              const sc_exports *ex,
              const sc_render_opts *o,
              const sc_values *v,
              const char *cgroup,
              char **out_config,
              gboolean *out_converted,
              GPtrArray **out_sources,
              GError **error)
{
  g_autofree char *text = NULL;
  g_autofree char *label = NULL;
  const char *data;
  gsize len = 0;

  if ((data = file_text(&ex->config, &len)) != NULL) {
    label = label_for(ex, "config.json");
    text = g_strndup(data, len);
  } else if ((data = file_text(&ex->config_template, &len)) != NULL) {
    label = label_for(ex, "config.json.template");
    text =
      sc_template_substitute_max(label, data, len, v, sc_context_render_limit(ctx), &len, error);
    if (text == NULL)
      return FALSE;
  } else {
    label = g_strdup("built-in default config.json");
    text = g_strdup(sc_spec_default_config);
    len = strlen(text);
  }

  if (!adjust_config(ctx, label, o, cgroup, &text, &len, out_converted, error))
    return FALSE;
  if (!sc_spec_check(label, text, len, o->remote_rootfs, o->run_once, out_sources, error))
    return FALSE;
  *out_config = g_steal_pointer(&text);
  return TRUE;
}

/* The runtime a rendering is for: its path and what it supports. */
typedef struct {
  const char *path;
  gboolean has_pid_file, has_cgroup;
  gboolean relative_cgroups_own; /* see sc_context_runtime_relative_cgroups() */
} ScRuntime;

/* Offline (lint) a runtime that cannot be found or probed is taken to be
 * runc at /usr/bin/runc with every feature. */
static gboolean
find_runtime(sc_context *ctx, gboolean offline, ScRuntime *rt, GError **error)
{
  GError *gerror = NULL;

  rt->has_pid_file = rt->has_cgroup = rt->relative_cgroups_own = TRUE;
  if (sc_context_runtime_path(ctx, &rt->path, &gerror) &&
      sc_context_runtime_features(ctx, &rt->has_pid_file, &rt->has_cgroup, &gerror) &&
      sc_context_runtime_relative_cgroups(ctx, &rt->relative_cgroups_own, &gerror))
    return TRUE;
  if (!offline) {
    g_propagate_error(error, gerror);
    return FALSE;
  }
  g_clear_error(&gerror);
  rt->path = "/usr/bin/runc";
  rt->has_pid_file = rt->has_cgroup = rt->relative_cgroups_own = TRUE;
  return TRUE;
}

/* The image's service.template, else the built-in default unit. */
static const char *
unit_template(const sc_exports *ex, gsize *len)
{
  if (ex->service_template.data != NULL)
    return g_bytes_get_data(ex->service_template.data, len);
  *len = strlen(sc_unit_default);
  return sc_unit_default;
}

static void
warn_forced(sc_context *ctx, const sc_render_opts *o)
{
  for (size_t i = 0; i < sc_values_count(o->values); i++)
    if (sc_strv_has(sc_forced_variables, sc_values_key_at(o->values, i)))
      sc_context_log(ctx,
                     SC_LOG_WARNING,
                     "--set %s ignored: %s is always computed",
                     sc_values_key_at(o->values, i),
                     sc_values_key_at(o->values, i));
}

/* The forced variables, set over whatever the user gave. */
static void
insert_forced(sc_context *ctx, const sc_render_opts *o, const ScExecDirectives *exec, sc_values *v)
{
  g_autofree char *destdir = NULL;
  g_autofree char *uid = g_strdup_printf("%lu", (gulong)getuid());
  g_autofree char *gid = g_strdup_printf("%lu", (gulong)getgid());

  destdir = o->destdir
              ? g_strdup(o->destdir)
              : g_strdup_printf("%s/%s.%d", sc_context_get_checkout_root(ctx), o->name, o->slot);
  sc_values_insert(v, "DESTDIR", destdir, NULL);
  sc_values_insert(v, "NAME", o->name, NULL);
  sc_values_insert(v, "EXEC_START", exec->start, NULL);
  sc_values_insert(v, "EXEC_STOP", exec->stop, NULL);
  sc_values_insert(v, "EXEC_STARTPRE", exec->start_pre, NULL);
  sc_values_insert(v, "EXEC_STOPPOST", exec->stop_post, NULL);
  sc_values_insert(v, "HOST_UID", uid, NULL);
  sc_values_insert(v, "HOST_GID", gid, NULL);
  sc_values_insert(v, "IMAGE_NAME", o->image_name, NULL);
  sc_values_insert(v, "IMAGE_ID", o->image_id, NULL);
}

/* r->values and r->detached: the overridable values, then the forced ones,
 * which include the Exec directives for the runtime. */
static gboolean
resolve_values(sc_context *ctx,
               const sc_exports *ex,
               const sc_render_opts *o,
               const ScRuntime *rt,
               sc_rendering *r,
               GError **error)
{
  g_auto(ScExecDirectives) exec = { 0 };
  const char *unit_text;
  gsize unit_len;

  r->values = resolve_overridable(ctx, ex, o, rt->path, error);
  warn_forced(ctx, o);
  unit_text = unit_template(ex, &unit_len);
  /* a user's container: runc told it is rootless (its state then goes to
   * $XDG_RUNTIME_DIR/runc, cgroup errors are not fatal); crun finds out */
  g_autofree char *runtime_words = sc_context_is_user(ctx) && rt->relative_cgroups_own
                                     ? g_strdup_printf("%s --rootless true", rt->path)
                                     : g_strdup(rt->path);
  if (!sc_unit_exec_directives(runtime_words,
                               rt->has_pid_file,
                               unit_text,
                               unit_len,
                               o->name,
                               sc_values_get(r->values, "PIDFILE"),
                               &exec,
                               error))
    return FALSE;
  r->detached = exec.detached;
  insert_forced(ctx, o, &exec, r->values);
  return TRUE;
}

/* @unit (a unit name) is the container's own: NAME.service, or NAME-...,
 * NAME@... */
static gboolean
own_unit_name(const char *unit, const char *name)
{
  gsize n = strlen(name);

  return strncmp(unit, name, n) == 0 &&
         (strcmp(unit + n, ".service") == 0 || unit[n] == '-' || unit[n] == '@');
}

/* The key of a unit file line as systemd reads it (spaces allowed
 * around '='): NULL when the line is no assignment. */
static char *
unit_line_key(const char *line, const char **out_value)
{
  const char *eq = strchr(line, '=');
  char *key;

  if (eq == NULL || line[0] == '#' || line[0] == ';' || line[0] == '[')
    return NULL;
  key = g_strstrip(g_strndup(line, eq - line));
  eq++;
  while (*eq == ' ' || *eq == '\t')
    eq++;
  *out_value = eq;
  return key;
}

/* A user's [Install] names only the container's own units: the user's
 * systemd takes a unit of ~/.config/systemd/user over the system's user
 * units, so Alias=dbus.service put the image in the place of the
 * session's dbus, Also= enabled the user's other units, and
 * RequiredBy=/UpheldBy=/WantedBy= another unit made the session's units
 * depend on the container; WantedBy= may also name default.target (the
 * user's session target; multi-user.target becomes it). (The system's
 * are privileges the admin grants: docs/security.md.) */
static gboolean
check_user_install_line(const char *label, const char *name, const char *line, GError **error)
{
  const char *value = NULL;
  g_autofree char *key = unit_line_key(line, &value);
  static const char *const keys[] = { "Alias", "Also", "WantedBy", "RequiredBy", "UpheldBy" };
  gboolean reviewed = FALSE;
  g_auto(GStrv) units = NULL;

  for (guint k = 0; key && k < G_N_ELEMENTS(keys); k++)
    reviewed |= strcmp(key, keys[k]) == 0;
  if (!reviewed)
    return TRUE;
  units = g_strsplit_set(value, " \t", -1);
  for (guint i = 0; units[i]; i++) {
    if (units[i][0] == '\0' || own_unit_name(units[i], name) ||
        (strcmp(key, "WantedBy") == 0 &&
         (strcmp(units[i], "default.target") == 0 || strcmp(units[i], "multi-user.target") == 0)))
      continue;
    g_set_error(error,
                SC_ERROR,
                SC_EINVAL,
                "%s: [Install] %s=%s: a user's container may name only its own units "
                "(%s.service, %s-*, %s@*)%s, not the user's other units",
                label,
                key,
                units[i],
                name,
                name,
                name,
                strcmp(key, "WantedBy") == 0 ? " and default.target" : "");
    return FALSE;
  }
  return TRUE;
}

/* A user's unit may run on the host, outside the container, only the
 * runtime (@runtime: "runc --rootless true", "crun"...) the tool wrote
 * in: an image's ExecStartPre=/bin/sh ... ran as the user with all of
 * their files, around every limit a user's container has. An empty value
 * (a reset) is kept. */
static gboolean
check_user_exec_line(const char *label,
                     const char *key,
                     const char *value,
                     const char *runtime,
                     GError **error)
{
  const char *v = value;
  gsize n = strlen(runtime);
  g_auto(GStrv) words = NULL;

  if (!g_str_has_prefix(key, "Exec"))
    return TRUE;
  while (*v != '\0' && strchr("-@:+!|", *v) != NULL)
    v++;
  words = g_strsplit_set(v, " \t", -1);
  /* (a second command after " ; ", or on a line joined by a trailing
   * '\\', as systemd reads them) */
  g_autofree char *trimmed = g_strchomp(g_strdup(v));
  gboolean separator = g_str_has_suffix(trimmed, "\\");
  for (guint i = 0; words[i]; i++)
    separator |= strcmp(words[i], ";") == 0;
  if (*value == '\0' ||
      (!separator && strncmp(v, runtime, n) == 0 && (v[n] == ' ' || v[n] == '\0')))
    return TRUE;
  g_set_error(error,
              SC_ERROR,
              SC_EINVAL,
              "%s: %s=%s: a user's container's unit runs nothing on the host but its runtime "
              "(%s): remove the line, or install the container as root",
              label,
              key,
              value,
              runtime);
  return FALSE;
}

/* A user's unit for their own systemd: it has no multi-user.target (the
 * user's session target is default.target) and cannot change user, so
 * WantedBy=multi-user.target becomes default.target and User=/Group= lines
 * go (the service runs as the user anyway; systemd reads "User = root"
 * too); [Install] and Exec*= as checked above. */
static char *
user_unit(const char *label,
          const char *name,
          const char *unit,
          const char *runtime,
          GError **error)
{
  g_auto(GStrv) lines = g_strsplit(unit, "\n", -1);
  GString *out = g_string_new(NULL);
  gboolean install = FALSE;

  for (guint i = 0; lines[i]; i++) {
    const char *l = lines[i], *value = NULL;
    while (*l == ' ' || *l == '\t')
      l++;
    if (*l == '[')
      install = g_str_has_prefix(l, "[Install]");
    g_autofree char *key = unit_line_key(l, &value);
    if ((install && !check_user_install_line(label, name, l, error)) ||
        (key && !install && !check_user_exec_line(label, key, value, runtime, error))) {
      g_string_free(out, TRUE);
      return NULL;
    }
    if (key && (strcmp(key, "User") == 0 || strcmp(key, "Group") == 0))
      continue;
    if (key && strcmp(key, "WantedBy") == 0 && strstr(l, "multi-user.target")) {
      g_auto(GStrv) parts = g_strsplit(l, "multi-user.target", -1);
      g_autofree char *joined = g_strjoinv("default.target", parts);
      g_string_append(out, joined);
    } else
      g_string_append(out, lines[i]);
    if (lines[i + 1])
      g_string_append_c(out, '\n');
  }
  return g_string_free(out, FALSE);
}

static gboolean
render_unit(sc_context *ctx,
            const sc_exports *ex,
            const ScRuntime *rt,
            sc_rendering *r,
            GError **error)
{
  gsize len;
  const char *text = unit_template(ex, &len);
  g_autofree char *label = ex->service_template.data ? label_for(ex, "service.template")
                                                     : g_strdup("built-in default unit");
  g_autofree char *unit = NULL;

  if (!sc_template_check_lines(label, text, len, r->values, TRUE, error))
    return FALSE;
  unit = sc_template_substitute_max(
    label, text, len, r->values, sc_context_render_limit(ctx), NULL, error);
  if (unit == NULL)
    return FALSE;
  r->unit =
    sc_unit_finish(unit, r->detached, sc_values_get(r->values, "PIDFILE"), rt->path, r->name);
  if (sc_context_is_user(ctx)) {
    char *u = user_unit(label, r->name, r->unit, rt->path, error);
    if (u == NULL)
      return FALSE;
    g_free(r->unit);
    r->unit = u;
  }
  return TRUE;
}

/* @path is @dir or below it. */
static gboolean
path_under(const char *path, const char *dir)
{
  gsize n = dir ? strlen(dir) : 0;

  return n > 0 && strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* One field of a tmpfiles.d line as systemd-tmpfiles reads it: words
 * split on blanks, "..." and '...' quoting, and the escapes \\ \" \' \n
 * \t (any other escape, such as \x2e, is refused: the checker would see
 * other bytes than systemd-tmpfiles). Moves *@p past the field; NULL at
 * the end of the line, or on a refused escape or an open quote
 * (*@bad set). */
static char *
tmpfiles_word(const char **p, gboolean *bad)
{
  const char *s = *p;
  GString *w = g_string_new(NULL);
  char quote = 0;

  while (*s == ' ' || *s == '\t')
    s++;
  if (*s == '\0') {
    g_string_free(w, TRUE);
    return NULL;
  }
  for (; *s != '\0' && (quote || (*s != ' ' && *s != '\t')); s++) {
    if (quote && *s == quote)
      quote = 0;
    else if (!quote && (*s == '"' || *s == '\''))
      quote = *s;
    else if (*s == '\\') {
      s++;
      if (*s == 'n' || *s == 't')
        g_string_append_c(w, *s == 'n' ? '\n' : '\t');
      else if (*s == '\\' || *s == '"' || *s == '\'')
        g_string_append_c(w, *s);
      else {
        *bad = TRUE;
        break;
      }
    } else
      g_string_append_c(w, *s);
  }
  if (quote)
    *bad = TRUE;
  *p = s;
  if (*bad) {
    g_string_free(w, TRUE);
    return NULL;
  }
  return g_string_free(w, FALSE);
}

/* $XDG_STATE_HOME or $XDG_CACHE_HOME, else its default under @home. */
static char *
xdg_dir(const char *var, const char *home, const char *fallback)
{
  const char *v = g_getenv(var);

  if (v != NULL && v[0] == '/')
    return g_strdup(v);
  return home ? g_build_filename(home, fallback, NULL) : NULL;
}

/* @word (a path or an L/C argument of a user's tmpfiles line) with
 * systemd's user specifiers expanded, as systemd-tmpfiles --user does: a
 * leading %h %t %S %C %L %E, then "%%" for '%'; any other specifier is
 * refused (NULL), as is a relative path. */
static char *
user_tmpfiles_expand(sc_context *ctx, const char *word)
{
  const char *home = g_getenv("HOME");
  g_autofree char *base = NULL;
  const char *rest = word;
  GString *out;

  if (word[0] == '%' && word[1] != '\0' && strchr("htSCLE", word[1]) != NULL &&
      (word[2] == '\0' || word[2] == '/')) {
    switch (word[1]) {
    case 'h':
      base = g_strdup(home);
      break;
    case 't':
      base = g_strdup(sc_context_user_runtime_dir(ctx));
      break;
    case 'E':
      base = g_strdup(sc_context_user_config_dir(ctx));
      break;
    case 'S':
      base = xdg_dir("XDG_STATE_HOME", home, ".local/state");
      break;
    case 'C':
      base = xdg_dir("XDG_CACHE_HOME", home, ".cache");
      break;
    default: { /* %L: the state home's log */
      g_autofree char *st = xdg_dir("XDG_STATE_HOME", home, ".local/state");
      base = st ? g_build_filename(st, "log", NULL) : NULL;
    }
    }
    if (base == NULL || base[0] != '/')
      return NULL;
    rest = word + 2;
  } else if (word[0] != '/')
    return NULL;
  out = g_string_new(base);
  for (const char *c = rest; *c != '\0'; c++) {
    if (*c == '%' && c[1] == '%')
      c++;
    else if (*c == '%') {
      g_string_free(out, TRUE);
      return NULL;
    }
    g_string_append_c(out, *c);
  }
  return g_string_free(out, FALSE);
}

/* (also a path with a specifier systemd-tmpfiles expands elsewhere, or
 * relative) */
static const char outside[] =
  "is outside your home, runtime and XDG directories: a user's container makes files "
  "only there";

/* (the image's own lines: what is the container's) */
static const char not_its_own[] =
  "is not the container's own: an image's tmpfiles lines reach only below "
  "${STATE_DIRECTORY} (containers/atomic-state), and below ${RUN_DIRECTORY}/NAME... "
  "or ${CONF_DIRECTORY}/NAME... (a first component that is the container's name, or starts "
  "with it and one of . - _ @), never the rest of your home";

/* Whether @path lies strictly below @dir, and, when @name, its first
 * component below @dir is @name or starts with @name and . - _ @. */
static gboolean
own_below(const char *path, const char *dir, const char *name)
{
  gsize n = dir ? strlen(dir) : 0, m = name ? strlen(name) : 0;
  const char *first;

  if (!path_under(path, dir) || path[n] != '/' || path[n + 1] == '\0')
    return FALSE;
  first = path + n + 1;
  return name == NULL ||
         (m > 0 && strncmp(first, name, m) == 0 && strchr("/.-_@", first[m]) != NULL);
}

/* @path (expanded) is in one of the user's own places, without "..", and
 * reaches none of the forbidden ones; else the reason. @name (an image's
 * own lines): only the container's own places, where a line's mode, age
 * or removal cannot touch the user's other files (trial17b: "d %h/.ssh
 * 0777" changed an existing directory). */
static const char *
user_path_refusal(sc_context *ctx, GStrv forbidden, GStrv what, const char *path,
                  const char *name)
{
  const char *home = g_getenv("HOME");
  const char *dirs[] = {home && home[0] == '/' ? home : NULL, sc_context_user_runtime_dir(ctx),
                        sc_context_user_data_dir(ctx), sc_context_user_config_dir(ctx)};
  gboolean ok = FALSE;
  int k;

  if (has_dotdot(path)) /* (where ".." leads depends on links: refused) */
    return outside;
  for (guint d = 0; d < G_N_ELEMENTS(dirs) && !ok; d++)
    ok = path_under(path, dirs[d]);
  if (!ok)
    return outside;
  k = user_forbidden_overlap(forbidden, path);
  if (k >= 0)
    return what[k];
  if (name) {
    g_autofree char *state = g_build_filename(sc_context_user_data_dir(ctx), "containers",
                                              "atomic-state", NULL);
    if (!own_below(path, state, NULL) &&
        !own_below(path, sc_context_user_runtime_dir(ctx), name) &&
        !own_below(path, sc_context_user_config_dir(ctx), name))
      return not_its_own;
  }
  return NULL;
}

/* A user's tmpfiles lines (run by systemd-tmpfiles --user) only create
 * what is missing, in the user's own places: $HOME, $XDG_RUNTIME_DIR,
 * $XDG_DATA_HOME, $XDG_CONFIG_HOME, or systemd's user specifiers for them
 * (%h %t %S %C %L %E). Only the types that make a missing file, directory,
 * fifo, link or copy (d f p L C) are taken, without '+' or '=' (which
 * replace what is there); the others (r R D, which remove at uninstall; w
 * z Z t T h H a A, which change existing files; e x X q Q v ...) are
 * refused by line. A link's target and a copy's source are confined as
 * the path is, and no path, link target or copy source may be, hold or
 * lie in the user's store, checkout root, unit or tmpfiles directory: a
 * link made there by a line, after install checked the bind sources,
 * would give the container all of them (trial17b N1). Paths are read as
 * systemd-tmpfiles reads them: quoted, escaped, "%%" for '%'. */
static gboolean
check_user_tmpfiles(sc_context *ctx, const char *label, const char *text, const char *name,
                    GError **error)
{
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  g_auto(GStrv) what = NULL;
  g_auto(GStrv) forbidden = user_forbidden_places(ctx, &what);

  for (guint i = 0; lines[i] != NULL; i++) {
    const char *p = lines[i];
    gboolean bad = FALSE;
    g_autofree char *type = tmpfiles_word(&p, &bad);
    g_autofree char *path = NULL, *expanded = NULL, *arg_expanded = NULL;
    g_autofree char *arg = NULL;
    const char *why = NULL, *arg_why = NULL;

    if (!bad && (type == NULL || type[0] == '#'))
      continue;
    path = bad ? NULL : tmpfiles_word(&p, &bad);
    for (guint f = 0; f < 4 && !bad && path != NULL; f++) /* mode user group age */
      g_free(tmpfiles_word(&p, &bad));
    if (!bad && path != NULL) {
      while (*p == ' ' || *p == '\t')
        p++;
      arg = g_strstrip(g_strdup(p));
    }
    if (bad || path == NULL) {
      g_set_error(error,
                  SC_ERROR,
                  SC_EINVAL,
                  "%s line %u: cannot read the line (%s): a user's tmpfiles line is "
                  "'TYPE PATH MODE USER GROUP AGE [ARGUMENT]', with \"...\" quoting and the "
                  "escapes \\\\ \\\" \\' \\n \\t only",
                  label,
                  i + 1,
                  bad ? "an open quote or an escape other than those" : "no path");
      return FALSE;
    }
    /* (an image's own lines, in the container's own places, may also
     * empty its directory at login (D) or set its modes (z Z)) */
    if (strchr(name ? "dDfpLCzZ" : "dfpLC", type[0]) == NULL ||
        type[strspn(type + 1, "!-~") + 1] != '\0') {
      g_set_error(error,
                  SC_ERROR,
                  SC_EINVAL,
                  "%s line %u: type '%s' is refused in a user's container: its tmpfiles lines "
                  "only create what is missing (%s, without '+' or '='), never "
                  "replace, change or remove your existing files",
                  label,
                  i + 1,
                  type,
                  name ? "d, f, p, L, C, and D, z, Z in the container's own places"
                       : "d, f, p, L, C");
      return FALSE;
    }
    expanded = user_tmpfiles_expand(ctx, path);
    why = expanded ? user_path_refusal(ctx, forbidden, what, expanded, name) : outside;
    if (why == NULL && (type[0] == 'L' || type[0] == 'C')) {
      if (arg[0] == '\0' || arg[0] == '-')
        arg_why = "is missing: a user's container writes it out (an absolute path)";
      else if (strpbrk(arg, "\"'\\ \t") != NULL)
        arg_why = "has a quote, a '\\' or a blank";
      else {
        arg_expanded = user_tmpfiles_expand(ctx, arg);
        arg_why =
          arg_expanded ? user_path_refusal(ctx, forbidden, what, arg_expanded, name) : outside;
      }
    }
    if (why != NULL || arg_why != NULL) {
      gboolean is_arg = why == NULL;
      const char *r = is_arg ? arg_why : why;
      int place = -1;
      for (guint k = 0; what[k] != NULL; k++)
        if (r == what[k])
          place = (int)k;
      if (place >= 0)
        g_set_error(error,
                    SC_ERROR,
                    SC_EINVAL,
                    "%s line %u: %s%s would reach your %s %s: refused",
                    label,
                    i + 1,
                    is_arg ? (type[0] == 'L' ? "link target " : "copy source ") : "",
                    is_arg ? arg : path,
                    r,
                    forbidden[place]);
      else
        g_set_error(error,
                    SC_ERROR,
                    SC_EINVAL,
                    "%s line %u: %s%s %s",
                    label,
                    i + 1,
                    is_arg ? (type[0] == 'L' ? "link target " : "copy source ") : "",
                    is_arg ? arg : path,
                    r);
      return FALSE;
    }
  }
  return TRUE;
}

/* The image's tmpfiles.template, else lines creating the missing bind
 * @sources. */
static gboolean
render_tmpfiles(sc_context *ctx,
                const sc_exports *ex,
                GPtrArray *sources,
                sc_rendering *r,
                GError **error)
{
  g_autofree char *text = NULL;
  gsize len;

  if (ex->tmpfiles_template.data != NULL) {
    const char *t = g_bytes_get_data(ex->tmpfiles_template.data, &len);
    g_autofree char *label = label_for(ex, "tmpfiles.template");
    if (!sc_template_check_lines(label, t, len, r->values, FALSE, error))
      return FALSE;
    text = sc_template_substitute_max(
      label, t, len, r->values, sc_context_render_limit(ctx), &len, error);
  } else {
    text =
      sc_tmpfiles_lines_for_missing(ctx, sources, getuid(), getgid(), &r->missing_sources, error);
    len = text ? strlen(text) : 0;
  }
  if (text == NULL)
    return FALSE;
  if (sc_context_is_user(ctx)) {
    g_autofree char *label = ex->tmpfiles_template.data
                               ? label_for(ex, "tmpfiles.template")
                               : g_strdup("the tmpfiles lines for the bind sources");
    if (!check_user_tmpfiles(ctx, label, text,
                             ex->tmpfiles_template.data ? sc_values_get(r->values, "NAME") : NULL,
                             error))
      return FALSE;
  }
  /* An empty template means "no tmpfiles at all" (net-snmp). */
  if (len > 0)
    r->tmpfiles = g_steal_pointer(&text);
  return TRUE;
}

gboolean
sc_render_internal(sc_context *ctx,
                   const sc_exports *ex,
                   const sc_render_opts *o,
                   gboolean offline,
                   sc_rendering **out_rendering,
                   GError **error)
{
  ScRuntime rt;
  g_autoptr(sc_rendering) r = NULL;
  g_autoptr(GPtrArray) sources = NULL;
  g_autofree char *cgroup = NULL;

  if (o->name == NULL) {
    g_set_error(error, SC_ERROR, SC_EINVAL, "no container name given");
    return FALSE;
  }
  if (!find_runtime(ctx, offline, &rt, error))
    return FALSE;
  /* runc takes only [A-Za-z0-9_+.-] in a container id: a unit that runs
   * 'web@1' would fail at every start ("invalid container ID format") */
  if (!offline && rt.relative_cgroups_own && strchr(o->name, '@') != NULL) {
    g_set_error(error,
                SC_ERROR,
                SC_EINVAL,
                "container name '%s' has '@', which runc (%s) refuses in a container id: "
                "choose another name, or another runtime (--runtime /usr/bin/crun)",
                o->name,
                rt.path);
    return FALSE;
  }
  r = g_new0(sc_rendering, 1);
  r->name = g_strdup(o->name);
  r->warnings = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(r->warnings, NULL);
  if (!check_declared(ex, o, r, error) || !resolve_values(ctx, ex, o, &rt, r, error))
    return FALSE;
  /* The unit first: config.json's cgroup is below the unit's. A container
   * run once, or without a service, keeps its config.json's own. */
  if (!ex->no_container_service) {
    if (!render_unit(ctx, ex, &rt, r, error))
      return FALSE;
    /* a user's container too, with runc: NAME.service/container, below
     * the unit's cgroup, which the user's manager delegates to the user
     * (without it runc makes a sibling of the unit's: systemd then refuses
     * the PID file of atomic's default unit, and stops only the runtime).
     * Another runtime takes the path as absolute, a cgroup the user may
     * not make: none, its container stays in the cgroup it runs in. */
    if (!o->run_once && (!sc_context_is_user(ctx) || rt.relative_cgroups_own))
      cgroup = sc_unit_container_cgroup(r->unit, o->name, rt.relative_cgroups_own);
  }
  if (!render_config(
        ctx, ex, o, r->values, cgroup, &r->config, &r->converted_capabilities, &sources, error))
    return FALSE;
  if (!ex->no_container_service && !render_tmpfiles(ctx, ex, sources, r, error))
    return FALSE;
  if (r->missing_sources == NULL)
    r->missing_sources = g_ptr_array_new_with_free_func(g_free);
  *out_rendering = g_steal_pointer(&r);
  return TRUE;
}

SC_API int
sc_exports_render(sc_context *ctx,
                  const sc_exports *ex,
                  const sc_render_opts *o,
                  sc_rendering **out_rendering,
                  sc_error **error)
{
  GError *gerror = NULL;

  SC_CHECK_ARG(ctx != NULL && ex != NULL && o != NULL && out_rendering != NULL, error);
  if (!sc_render_internal(ctx, ex, o, FALSE, out_rendering, &gerror))
    return sc_error_propagate(error, gerror);
  return SC_OK;
}

SC_API void
sc_rendering_free(sc_rendering *r)
{
  if (r == NULL)
    return;
  g_free(r->name);
  g_free(r->config);
  g_free(r->unit);
  g_free(r->tmpfiles);
  sc_values_free(r->values);
  if (r->missing_sources)
    g_ptr_array_unref(r->missing_sources);
  if (r->warnings)
    g_ptr_array_unref(r->warnings);
  g_free(r);
}

SC_API const char *
sc_rendering_get_name(const sc_rendering *r)
{
  return r ? r->name : NULL;
}

SC_API const char *
sc_rendering_get_config(const sc_rendering *r)
{
  return r ? r->config : NULL;
}

SC_API const char *
sc_rendering_get_unit(const sc_rendering *r)
{
  return r ? r->unit : NULL;
}

SC_API const char *
sc_rendering_get_tmpfiles(const sc_rendering *r)
{
  return r ? r->tmpfiles : NULL;
}

SC_API const sc_values *
sc_rendering_get_values(const sc_rendering *r)
{
  return r ? r->values : NULL;
}

SC_API const char *const *
sc_rendering_get_warnings(const sc_rendering *r)
{
  static const char *const none[] = { NULL };

  return r && r->warnings ? (const char *const *)r->warnings->pdata : none;
}

json_t *
sc_rendering_warnings_json(const sc_rendering *r)
{
  json_t *arr = json_array();

  for (const char *const *w = sc_rendering_get_warnings(r); *w; w++)
    json_array_append_new(arr, json_string(*w));
  return arr;
}

SC_API int
sc_rendering_is_detached(const sc_rendering *r)
{
  return r ? r->detached : 0;
}

gboolean
sc_rendering_converted_capabilities(const sc_rendering *r)
{
  return r->converted_capabilities;
}

static gboolean
write_or_remove(int dirfd, const char *dir, const char *name, const char *text, GError **error)
{
  if (text != NULL)
    return sc_write_file_atomic(dirfd, dir, name, text, strlen(text), 0644, error);
  if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT) {
    g_set_error(error,
                SC_ERROR,
                SC_EIO,
                "%s/%s: cannot remove the stale file: %s",
                dir,
                name,
                g_strerror(errno));
    return FALSE;
  }
  return TRUE;
}

gboolean
sc_rendering_write_internal(const sc_rendering *r, const char *dir, GError **error)
{
  g_autofree char *unit_name = g_strdup_printf("%s.service", r->name);
  g_autofree char *tmpfiles_name = g_strdup_printf("tmpfiles-%s.conf", r->name);
  int dirfd;
  gboolean ok;

  if (g_mkdir_with_parents(dir, 0755) != 0) {
    g_set_error(error, SC_ERROR, SC_EIO, "output directory '%s': %s", dir, g_strerror(errno));
    return FALSE;
  }
  dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) {
    g_set_error(error, SC_ERROR, SC_EIO, "output directory '%s': %s", dir, g_strerror(errno));
    return FALSE;
  }
  ok = sc_write_file_atomic(dirfd, dir, "config.json", r->config, strlen(r->config), 0644,
                            error) &&
       write_or_remove(dirfd, dir, unit_name, r->unit, error) &&
       write_or_remove(dirfd, dir, tmpfiles_name, r->tmpfiles, error);
  close(dirfd);
  return ok;
}

SC_API int
sc_rendering_write(const sc_rendering *r, const char *dir, sc_error **error)
{
  GError *gerror = NULL;

  SC_CHECK_ARG(r != NULL && dir != NULL, error);
  if (!sc_rendering_write_internal(r, dir, &gerror))
    return sc_error_propagate(error, gerror);
  return SC_OK;
}

SC_API int
sc_rendering_to_json(const sc_rendering *r, char **out_json, sc_error **error)
{
  json_t *doc, *files, *missing;
  g_autofree char *unit_name = NULL;
  g_autofree char *tmpfiles_name = NULL;

  SC_CHECK_ARG(r != NULL && out_json != NULL, error);
  unit_name = g_strdup_printf("%s.service", r->name);
  tmpfiles_name = g_strdup_printf("tmpfiles-%s.conf", r->name);
  doc = json_object();
  json_object_set_new(doc, "schema", json_integer(1));
  json_object_set_new(doc, "name", json_string(r->name));
  json_object_set_new(doc, "detached", json_boolean(r->detached));
  files = json_object();
  json_object_set_new(files, "config.json", json_string(r->config));
  json_object_set_new(files, unit_name, r->unit ? json_string(r->unit) : json_null());
  json_object_set_new(files, tmpfiles_name, r->tmpfiles ? json_string(r->tmpfiles) : json_null());
  json_object_set_new(doc, "files", files);
  json_object_set_new(doc, "values", sc_values_to_json_object(r->values));
  missing = json_array();
  for (guint i = 0; i < r->missing_sources->len; i++)
    json_array_append_new(missing, json_string(r->missing_sources->pdata[i]));
  json_object_set_new(doc, "missing_bind_sources", missing);
  json_object_set_new(doc, "warnings", sc_rendering_warnings_json(r));
  *out_json = sc_json_dump(doc, TRUE);
  json_decref(doc);
  return SC_OK;
}
