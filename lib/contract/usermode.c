/*
 * User mode (docs/containers.md, "User containers"): what a user's
 * container gets instead of root's. Its config.json is reviewed and
 * rewritten for a user namespace, its unit for the user's own systemd, and
 * its tmpfiles lines are confined to the user's own places. Kept apart from
 * rendering because every rule here guards the user's files and session
 * against the image: what an image asks that a user may not give is
 * refused by name, never silently changed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "contract.h"

#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* A user's container's @mounts: refused by name, a mount of a file system
 * type a user namespace may not mount, a bind of the user's store,
 * checkout root, unit or tmpfiles directory, or a source with ".." that a
 * link made later could turn elsewhere. */
static gboolean
review_mounts(sc_context *ctx, const char *label, json_t *mounts, GError **error)
{
  json_t *m;
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
     * tmpfiles lines make are confined by sc_usermode_check_tmpfiles()) */
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
  return TRUE;
}

/* A user's container: what the image asks of the kernel that a user
 * namespace cannot give is refused by name (its mounts as review_mounts()
 * says, a sysctl outside the container's namespaces), or dropped with a
 * warning (the image's uid/gid mappings, its device nodes, its OCI hooks,
 * which the runtime would run on the host as the user, outside the
 * container). */
static gboolean
rootless_review(sc_context *ctx, const char *label, json_t *doc, GError **error)
{
  json_t *linux_ = json_object_get(doc, "linux");
  json_t *v;
  const char *key;

  if (!review_mounts(ctx, label, json_object_get(doc, "mounts"), error))
    return FALSE;
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

gboolean
sc_usermode_config(sc_context *ctx, const char *label, json_t *doc, GError **error)
{
  if (!rootless_review(ctx, label, doc, error))
    return FALSE;
  make_rootless(doc);
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
char *
sc_usermode_unit(const char *label,
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

/* The error for line @line of a user's tmpfiles lines (of @type): its
 * path, or its link target or copy source when @is_arg (@word), refused
 * for @reason: one of @what (the forbidden place it reaches, named with
 * its path) or a reason of user_path_refusal()'s own. */
static void
set_tmpfiles_refusal(const char *label,
                     guint line,
                     char type,
                     gboolean is_arg,
                     const char *word,
                     const char *reason,
                     GStrv forbidden,
                     GStrv what,
                     GError **error)
{
  const char *kind = is_arg ? (type == 'L' ? "link target " : "copy source ") : "";
  int place = -1;

  for (guint k = 0; what[k] != NULL; k++)
    if (reason == what[k])
      place = (int)k;
  if (place >= 0)
    g_set_error(error,
                SC_ERROR,
                SC_EINVAL,
                "%s line %u: %s%s would reach your %s %s: refused",
                label,
                line,
                kind,
                word,
                reason,
                forbidden[place]);
  else
    g_set_error(error, SC_ERROR, SC_EINVAL, "%s line %u: %s%s %s", label, line, kind, word, reason);
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
gboolean
sc_usermode_check_tmpfiles(sc_context *ctx,
                           const char *label,
                           const char *text,
                           const char *name,
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
      set_tmpfiles_refusal(label,
                           i + 1,
                           type[0],
                           is_arg,
                           is_arg ? arg : path,
                           is_arg ? arg_why : why,
                           forbidden,
                           what,
                           error);
      return FALSE;
    }
  }
  return TRUE;
}
