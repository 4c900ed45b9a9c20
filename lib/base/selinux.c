/*
 * SELinux labels (docs/security.md, "SELinux labels"): the TARGET root's
 * policy (the host's for a host install, the sysroot's own for --sysroot,
 * as ostree labels a deployment it is not booted into) answers what label
 * a path gets. It is read through the confined file access: a sysroot's
 * etc/selinux and what it names resolve inside the sysroot, never outside.
 * libselinux opens its files by path, so the policy's file contexts are
 * copied from the root into a private directory first and opened from
 * there: no path libselinux follows is one the sysroot controls.
 *
 * There is a policy when ROOT/etc/selinux/config exists and says
 * SELINUX=enforcing or permissive; SELINUX=disabled, or no config, is
 * none, and then nothing is labelled and nothing is said about labels.
 * A config that claims a policy but is malformed, or names a type whose
 * file_contexts is missing or unreadable, is an error naming the file:
 * installing unlabelled files on a host that asks for labels would be
 * a silent wrong result.
 *
 * Labels are written as the security.selinux xattr, raw, with the trailing
 * NUL (as setfilecon() and OSTree write it); no SELinux kernel is needed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "base.h"

#include <errno.h>
#include <fcntl.h>
#include <selinux/label.h>
#include <selinux/selinux.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define SC_SELINUX_XATTR "security.selinux"
#define MAX_CONFIG (1024 * 1024)
#define MAX_CONTEXTS (64 * 1024 * 1024)

struct ScSelinux {
  char *type;
  struct selabel_handle *handle;
  GMutex lock;  /* layers are imported in parallel: one lookup at a time */
  ScFcon *fast; /* the same answers without the lock (fcontext.c); NULL:
                 * libselinux answers every lookup */
  gboolean check; /* SC_SELINUX_CHECK=1: each fast answer compared */
};

gboolean
sc_selinux_kernel_enabled(void)
{
  static gsize once = 0;
  static gboolean enabled;

  if (g_once_init_enter(&once)) {
    g_autofree char *lsms = NULL, *current = NULL;
    /* libselinux asks whether selinuxfs is mounted, which a container on
     * an SELinux host may lack: the kernel's list of its security modules
     * and this process's label say it too; any of them is enough */
    enabled = is_selinux_enabled() > 0 ||
              (g_file_get_contents("/sys/kernel/security/lsm", &lsms, NULL, NULL) &&
               strstr(lsms, "selinux") != NULL) ||
              (g_file_get_contents("/proc/self/attr/current", &current, NULL, NULL) &&
               strchr(current, ':') != NULL);
    g_once_init_leave(&once, 1);
  }
  return enabled;
}

void
sc_selinux_free(ScSelinux *se)
{
  if (se == NULL)
    return;
  if (se->handle)
    selabel_close(se->handle);
  sc_fcon_free(se->fast);
  g_mutex_clear(&se->lock);
  g_free(se->type);
  g_free(se);
}

const char *
sc_selinux_type(const ScSelinux *se)
{
  return se ? se->type : NULL;
}

/* What libselinux would print on stderr (the library never prints): kept,
 * the last line, for the error of a failed selabel_open(). */
static __thread char last_log[512];

static int
capture_log(int type, const char *fmt, ...)
{
  va_list ap;

  (void)type;
  va_start(ap, fmt);
  vsnprintf(last_log, sizeof last_log, fmt, ap);
  va_end(ap);
  g_strchomp(last_log);
  return 0;
}

/* @root's @relpath as seen on this machine, for messages. */
static char *
shown_path(const char *root, const char *relpath)
{
  return strcmp(root, "/") == 0 ? g_strconcat("/", relpath, NULL)
                                : g_build_filename(root, relpath, NULL);
}

/* A regular file of @root, its links resolved inside @root; NULL and
 * !*@out_exists when it is missing. */
static GBytes *
read_in_root(int root_fd,
             const char *root,
             const char *relpath,
             gsize max,
             gboolean *out_exists,
             GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autofree char *shown = shown_path(root, relpath);
  GBytes *bytes;
  int fd;

  *out_exists = FALSE;
  fd = sc_confined_open(root_fd, relpath, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0, TRUE, &local);
  if (fd < 0 && errno == ENOENT)
    return NULL;
  *out_exists = TRUE;
  if (fd < 0) {
    g_set_error(error, SC_ERROR, SC_EIO, "%s: cannot open: %s", shown, local->message);
    return NULL;
  }
  bytes = sc_read_fd_max(fd, shown, max, SC_EIO, error);
  close(fd);
  return bytes;
}

/* A type names a directory of etc/selinux: one plain component. */
static gboolean
type_ok(const char *t)
{
  return *t && strcmp(t, ".") != 0 && strcmp(t, "..") != 0 && strchr(t, '/') == NULL &&
         strlen(t) <= 255;
}

/* SELINUX= and SELINUXTYPE= of a config file, as libselinux reads them
 * (other keys and '#' comments ignored; the last of a key wins). */
static gboolean
parse_config(const char *shown,
             GBytes *text,
             gboolean *out_disabled,
             char **out_type,
             GError **error)
{
  g_auto(GStrv) lines = g_strsplit(g_bytes_get_data(text, NULL), "\n", -1);
  g_autofree char *mode = NULL, *type = NULL;
  guint mode_line = 0, type_line = 0;

  for (guint i = 0; lines[i]; i++) {
    char *l = g_strstrip(lines[i]);
    char *eq = strchr(l, '=');
    if (*l == '\0' || *l == '#')
      continue;
    if (eq == NULL) {
      g_autofree char *d = sc_display(l, 80);
      g_set_error(
        error, SC_ERROR, SC_EINVAL, "%s: line %u: '%s' is not KEY=VALUE", shown, i + 1, d);
      return FALSE;
    }
    *eq = '\0';
    g_strstrip(l);
    if (strcmp(l, "SELINUX") == 0)
      g_free(mode), mode = g_strdup(g_strstrip(eq + 1)), mode_line = i + 1;
    else if (strcmp(l, "SELINUXTYPE") == 0)
      g_free(type), type = g_strdup(g_strstrip(eq + 1)), type_line = i + 1;
  }
  if (mode == NULL) {
    g_set_error(error,
                SC_ERROR,
                SC_EINVAL,
                "%s: no SELINUX= line (enforcing, permissive or "
                "disabled)",
                shown);
    return FALSE;
  }
  /* in any case, as libselinux's selinux_getenforcemode() (strncasecmp) */
  if (g_ascii_strcasecmp(mode, "enforcing") != 0 && g_ascii_strcasecmp(mode, "permissive") != 0 &&
      g_ascii_strcasecmp(mode, "disabled") != 0) {
    g_autofree char *d = sc_display(mode, 80);
    g_set_error(error,
                SC_ERROR,
                SC_EINVAL,
                "%s: line %u: SELINUX=%s: expected enforcing, "
                "permissive or disabled",
                shown,
                mode_line,
                d);
    return FALSE;
  }
  *out_disabled = g_ascii_strcasecmp(mode, "disabled") == 0;
  if (*out_disabled)
    return TRUE;
  if (type == NULL) {
    g_set_error(error, SC_ERROR, SC_EINVAL, "%s: SELINUX=%s but no SELINUXTYPE= line", shown, mode);
    return FALSE;
  }
  if (!type_ok(type)) {
    g_autofree char *d = sc_display(type, 80);
    g_set_error(error,
                SC_ERROR,
                SC_EINVAL,
                "%s: line %u: SELINUXTYPE='%s' is not a policy "
                "name",
                shown,
                type_line,
                d);
    return FALSE;
  }
  *out_type = g_steal_pointer(&type);
  return TRUE;
}

/* The file contexts of policy @type copied from @root into @dir: the
 * text files libselinux reads (not the .bin caches, which it only prefers
 * when they are newer). file_contexts must be there. */
static gboolean
copy_contexts(int root_fd, const char *root, const char *type, const char *dir, GError **error)
{
  static const char *const names[] = { "file_contexts",
                                       "file_contexts.local",
                                       "file_contexts.homedirs",
                                       "file_contexts.subs",
                                       "file_contexts.subs_dist" };

  for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
    g_autofree char *rel = g_strdup_printf("etc/selinux/%s/contexts/files/%s", type, names[i]);
    g_autofree char *dest = g_build_filename(dir, names[i], NULL);
    g_autoptr(GBytes) data = NULL;
    gboolean exists;
    data = read_in_root(root_fd, root, rel, MAX_CONTEXTS, &exists, error);
    if (data == NULL && exists)
      return FALSE;
    if (data == NULL && i == 0) {
      g_autofree char *shown = shown_path(root, rel);
      g_autofree char *config = shown_path(root, "etc/selinux/config");
      g_set_error(error,
                  SC_ERROR,
                  SC_ENOTFOUND,
                  "%s: missing: the policy SELINUXTYPE=%s that "
                  "%s names has no file contexts",
                  shown,
                  type,
                  config);
      return FALSE;
    }
    if (data &&
        !g_file_set_contents(dest, g_bytes_get_data(data, NULL), g_bytes_get_size(data), error))
      return FALSE;
  }
  return TRUE;
}

static gboolean
open_contexts(ScSelinux *se, const char *root, const char *dir, GError **error)
{
  g_autofree char *path = g_build_filename(dir, "file_contexts", NULL);
  const struct selinux_opt opts[] = { { SELABEL_OPT_PATH, path } };
  union selinux_callback old = { .func_log = selinux_get_callback(SELINUX_CB_LOG).func_log };
  union selinux_callback cb = { .func_log = capture_log };

  last_log[0] = '\0';
  selinux_set_callback(SELINUX_CB_LOG, cb);
  se->handle = selabel_open(SELABEL_CTX_FILE, opts, G_N_ELEMENTS(opts));
  selinux_set_callback(SELINUX_CB_LOG, old);
  if (se->handle == NULL) {
    g_autofree char *rel = g_strdup_printf("etc/selinux/%s/contexts/files/file_contexts", se->type);
    g_autofree char *shown = shown_path(root, rel);
    g_autofree char *shown_dir = g_path_get_dirname(shown);
    /* libselinux names its copy: named here as the root's own */
    g_auto(GStrv) parts = g_strsplit(last_log[0] ? last_log : g_strerror(errno), dir, -1);
    g_autofree char *joined = g_strjoinv(shown_dir, parts);
    g_autofree char *why = sc_display(joined, 300);
    g_set_error(error, SC_ERROR, SC_EINVAL, "%s: not a valid file contexts file: %s", shown, why);
    return FALSE;
  }
  /* the same files, read by libselinux's rules (SC_SELINUX_FAST=0: not) */
  if (g_strcmp0(g_getenv("SC_SELINUX_FAST"), "0") != 0)
    se->fast = sc_fcon_load(dir);
  se->check = g_strcmp0(g_getenv("SC_SELINUX_CHECK"), "1") == 0;
  return TRUE;
}

gboolean
sc_selinux_load(const char *root, ScSelinux **out, GError **error)
{
  g_autoptr(GBytes) config = NULL;
  g_autofree char *shown = shown_path(root, "etc/selinux/config");
  g_autofree char *type = NULL;
  g_autofree char *tmp = NULL;
  ScSelinux *se;
  gboolean exists, disabled = FALSE, ok;
  int root_fd;

  *out = NULL;
  root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) {
    g_set_error(error, SC_ERROR, SC_EIO, "%s: %s", root, g_strerror(errno));
    return FALSE;
  }
  config = read_in_root(root_fd, root, "etc/selinux/config", MAX_CONFIG, &exists, error);
  if (config == NULL) {
    close(root_fd);
    return !exists; /* no config: no policy */
  }
  if (!parse_config(shown, config, &disabled, &type, error) || disabled) {
    close(root_fd);
    return disabled; /* SELINUX=disabled: no policy */
  }
  tmp = g_dir_make_tmp("sc-selinux-XXXXXX", error);
  if (tmp == NULL) {
    close(root_fd);
    return FALSE;
  }
  se = g_new0(ScSelinux, 1);
  g_mutex_init(&se->lock);
  se->type = g_steal_pointer(&type);
  ok = copy_contexts(root_fd, root, se->type, tmp, error) && open_contexts(se, root, tmp, error);
  close(root_fd);
  sc_rm_rf(tmp);
  if (!ok) {
    sc_selinux_free(se);
    return FALSE;
  }
  *out = se;
  return TRUE;
}

/* SC_SELINUX_CHECK=1 (the tests): the fast answer must be libselinux's. */
static void
check_fast(ScSelinux *se, const char *path, mode_t mode, const char *label)
{
  const char *fast;

  if (sc_fcon_lookup(se->fast, path, mode, &fast) && g_strcmp0(fast, label) != 0)
    g_error("SC_SELINUX_CHECK: %s (mode %o): libselinux says %s, fcontext.c says %s", path,
            (unsigned)(mode & S_IFMT), label ? label : "(none)", fast ? fast : "(none)");
}

gboolean
sc_selinux_lookup(ScSelinux *se, const char *path, mode_t mode, char **out_label, GError **error)
{
  char *con = NULL;
  int r, saved;

  *out_label = NULL;
  if (se == NULL)
    return TRUE;
  if (se->fast && !se->check) {
    const char *fast;
    if (sc_fcon_lookup(se->fast, path, mode, &fast)) {
      *out_label = g_strdup(fast);
      return TRUE;
    }
  }
  g_mutex_lock(&se->lock);
  {
    /* (libselinux compiles a regex on first use, and may complain then) */
    union selinux_callback old = { .func_log = selinux_get_callback(SELINUX_CB_LOG).func_log };
    union selinux_callback cb = { .func_log = capture_log };
    last_log[0] = '\0';
    selinux_set_callback(SELINUX_CB_LOG, cb);
    r = selabel_lookup_raw(se->handle, &con, path, mode & S_IFMT);
    saved = errno;
    selinux_set_callback(SELINUX_CB_LOG, old);
  }
  g_mutex_unlock(&se->lock);
  if (r != 0) {
    g_autofree char *d = NULL;
    errno = saved;
    if (errno == ENOENT) {
      if (se->fast && se->check)
        check_fast(se, path, mode, NULL);
      return TRUE; /* the policy gives it no label: left as it is */
    }
    d = sc_display(path, 200);
    g_set_error(error,
                SC_ERROR,
                SC_EIO,
                "SELinux policy %s: cannot look up %s: %s",
                se->type,
                d,
                last_log[0] ? last_log : g_strerror(errno));
    return FALSE;
  }
  if (strcmp(con, "<<none>>") != 0)
    *out_label = g_strdup(con);
  freecon(con);
  if (se->fast && se->check)
    check_fast(se, path, mode, *out_label);
  return TRUE;
}

gboolean
sc_selinux_set_fd(int fd, const char *label, const char *what, GError **error)
{
  if (label == NULL)
    return TRUE;
  if (fsetxattr(fd, SC_SELINUX_XATTR, label, strlen(label) + 1, 0) != 0) {
    g_set_error(error,
                SC_ERROR,
                SC_EIO,
                "%s: cannot set the SELinux label %s: %s",
                what,
                label,
                g_strerror(errno));
    return FALSE;
  }
  return TRUE;
}

gboolean
sc_selinux_set_at(int dirfd, const char *name, const char *label, const char *what, GError **error)
{
  g_autofree char *proc = NULL;

  if (label == NULL)
    return TRUE;
  /* the directory by its descriptor; @name itself never followed (a link
   * gets the label, not its target) */
  proc = g_strdup_printf("/proc/self/fd/%d/%s", dirfd, name);
  if (lsetxattr(proc, SC_SELINUX_XATTR, label, strlen(label) + 1, 0) != 0) {
    g_set_error(error,
                SC_ERROR,
                SC_EIO,
                "%s: cannot set the SELinux label %s: %s",
                what,
                label,
                g_strerror(errno));
    return FALSE;
  }
  return TRUE;
}

/* ---- with a context: its target root's policy ---- */

gboolean
sc_context_label_for(sc_context *ctx,
                     const char *root_path,
                     mode_t mode,
                     char **out_label,
                     GError **error)
{
  ScSelinux *se = NULL;

  *out_label = NULL;
  return sc_context_selinux(ctx, &se, error) &&
         sc_selinux_lookup(se, root_path, mode, out_label, error);
}

gboolean
sc_context_label_host_path(sc_context *ctx, const char *host_path, GError **error)
{
  ScSelinux *se = NULL;
  g_autofree char *dir = NULL, *base = NULL, *root_path = NULL, *label = NULL;
  struct stat st;
  int dfd;
  gboolean ok;

  if (!sc_context_selinux(ctx, &se, error))
    return FALSE;
  if (se == NULL)
    return TRUE;
  dir = g_path_get_dirname(host_path);
  base = g_path_get_basename(host_path);
  dfd = sc_confined_open_nolinks(dir, FALSE, error);
  if (dfd < 0)
    return FALSE;
  root_path = sc_context_root_path(ctx, host_path);
  if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    g_set_error(error, SC_ERROR, SC_EIO, "%s: %s", host_path, g_strerror(errno));
    close(dfd);
    return FALSE;
  }
  ok = sc_selinux_lookup(se, root_path, st.st_mode, &label, error) &&
       sc_selinux_set_at(dfd, base, label, host_path, error);
  close(dfd);
  return ok;
}

/* Makes the directories missing at @host_dir without following any link
 * (one on the way is left for the writer to refuse: a sysroot's
 * etc/systemd linking out must not get a directory made outside it), and
 * labels those it made. */
static gboolean
make_dirs_nolinks(sc_context *ctx, const char *host_dir, GError **error)
{
  g_auto(GStrv) parts = g_strsplit(host_dir, "/", -1);
  g_autoptr(GPtrArray) made = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GString) p = g_string_new("");
  gboolean missing = FALSE;
  int fd;

  for (char **c = parts; *c; c++) {
    struct stat st;
    if (**c == '\0')
      continue;
    g_string_append_printf(p, "/%s", *c);
    if (!missing) {
      if (lstat(p->str, &st) != 0) {
        if (errno != ENOENT)
          return TRUE; /* the writer says what is wrong */
        missing = TRUE;
      } else if (!S_ISDIR(st.st_mode))
        return TRUE; /* a link or a file on the way: the writer refuses it */
    }
    if (missing)
      g_ptr_array_add(made, g_strdup(p->str));
  }
  if (made->len == 0)
    return TRUE;
  fd = sc_confined_open_nolinks(host_dir, TRUE, error);
  if (fd < 0)
    return FALSE;
  close(fd);
  for (guint i = 0; i < made->len; i++)
    if (!sc_context_label_host_path(ctx, made->pdata[i], error))
      return FALSE;
  return TRUE;
}

gboolean
sc_context_write_file(sc_context *ctx, const char *host_path, const char *text, GError **error)
{
  g_autofree char *root_path = sc_context_root_path(ctx, host_path);
  g_autofree char *label = NULL;
  g_autofree char *dir = g_path_get_dirname(host_path);
  ScSelinux *se = NULL;

  if (!sc_context_label_for(ctx, root_path, S_IFREG, &label, error) ||
      !sc_context_selinux(ctx, &se, error))
    return FALSE;
  /* the directories it needs (/etc/systemd/system, /etc/tmpfiles.d in a
   * fresh image root) made here, so that they get their label too */
  if (se != NULL && !make_dirs_nolinks(ctx, dir, error))
    return FALSE;
  /* a user's files (info holds the --set values) are theirs alone */
  return sc_write_file_nolinks_mode(host_path, text, sc_context_is_user(ctx) ? 0600 : 0644,
                                    label, error);
}

gboolean
sc_context_make_dirs(sc_context *ctx, const char *host_dir, mode_t mode, GError **error)
{
  g_autoptr(GPtrArray) made = g_ptr_array_new_with_free_func(g_free);
  g_autofree char *p = g_strdup(host_dir);
  ScSelinux *se = NULL;
  struct stat st;

  /* a policy that cannot be read fails before anything is made */
  if (!sc_context_selinux(ctx, &se, error))
    return FALSE;
  /* what is missing now is what this call makes, and labels */
  while (strcmp(p, "/") != 0 && strcmp(p, ".") != 0 && lstat(p, &st) != 0 && errno == ENOENT) {
    char *up = g_path_get_dirname(p);
    g_ptr_array_add(made, g_steal_pointer(&p));
    p = up;
  }
  if (g_mkdir_with_parents(host_dir, mode) != 0) {
    g_set_error(error, SC_ERROR, SC_EIO, "cannot create %s: %s", host_dir, g_strerror(errno));
    return FALSE;
  }
  for (guint i = made->len; i > 0; i--)
    if (!sc_context_label_host_path(ctx, made->pdata[i - 1], error))
      return FALSE;
  return TRUE;
}
