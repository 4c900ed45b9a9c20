/*
 * The context: sysroot, checkout root, repository, runtime, logging.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct sc_context {
  char *sysroot;
  /* The settings in effect, from (first found) what the caller set, the
   * environment, atomic.conf, the default: resolve() computes them. */
  char *checkout_root;
  char *repo;
  char *runtime;        /* a name or an absolute path */
  char *runtime_origin; /* where it came from, for messages; NULL: default */
  /* what the caller set (NULL: not set) */
  char *checkout_set, *repo_set, *runtime_set;
  /* the environment, read at sc_context_new */
  char *checkout_env, *repo_env, *runc_path_env;
  char *checkout_env_bad, *repo_env_bad; /* set, but not a usable path */
  /* User containers (docs/containers.md, "User containers"): asked for, or
   * the caller is not root; the user's own places, from the environment */
  int user_mode_req; /* sc_user_mode */
  gboolean user;
  char *user_data, *user_config, *user_runtime;
  char *user_home_problem; /* why HOME cannot give the XDG defaults (NULL: it can) */
  const char *user_refusal; /* atomic's message for a mode this caller may not use */
  /* the runtime recorded for the container being updated, and its name */
  char *runtime_recorded, *runtime_recorded_owner;
  /* atomic.conf, read once per sysroot, when first needed */
  gboolean conf_read;
  ScAtomicConf *conf; /* NULL: none */
  GError *conf_error;
  char *tool_path;
  /* the signature policy and registries.d the caller gave (NULL: found
   * as containers/image finds them) */
  char *signature_policy, *registries_d;
  sc_log_func log_func;
  void *log_data;
  sc_progress_func progress_func;
  void *progress_data;
  GObject *store; /* the opened OstreeRepo, cached */
  /* The sysroot's SELinux policy, loaded on first use (NULL: none). */
  ScSelinux *selinux;
  gboolean selinux_loaded;
  guint64 max_layer_bytes, max_layer_entries;
  guint64 max_rendered_bytes;
  guint max_path_depth;
  gsize max_path_bytes;

  /* Runtime probe cache, valid for runtime_resolved. */
  char *runtime_resolved;
  gboolean probed;
  gboolean has_pid_file;
  gboolean has_systemd_cgroup;
  gboolean relative_cgroups_own;
};

static gboolean
path_is_absolute_clean(const char *path)
{
  return path != NULL && path[0] == '/' && strstr(path, "/../") == NULL &&
         !g_str_has_suffix(path, "/..");
}

static void
reset_runtime_cache(sc_context *ctx)
{
  g_clear_pointer(&ctx->runtime_resolved, g_free);
  ctx->probed = FALSE;
}

/* $NAME when it is an absolute path without '..'; one set to anything else
 * goes to *@out_bad, for sc_context_config_check() to refuse (ignored, it
 * would let atomic.conf or the default put containers elsewhere without a
 * word). Empty is unset, as atomic's "os.environ.get(...) or ...". */
static char *
env_path(const char *name, char **out_bad)
{
  const char *env = g_getenv(name);
  if (env == NULL || *env == '\0')
    return NULL;
  if (path_is_absolute_clean(env))
    return g_strdup(env);
  *out_bad = g_strdup(env);
  return NULL;
}

static gboolean
env_ok(const char *name, const char *bad, const char *flag_set, GError **error)
{
  g_autofree char *shown = NULL;

  if (bad == NULL || flag_set != NULL)
    return TRUE; /* (the flag wins over it, as over atomic.conf) */
  shown = sc_display(bad, 200);
  g_set_error(error, SC_ERROR, SC_EINVAL, "$%s '%s': must be an absolute path without '..'",
              name, shown);
  return FALSE;
}

static const char *
conf_value(const sc_context *ctx, int key)
{
  return ctx->conf ? ctx->conf->value[key] : NULL;
}

static gboolean
replace_str(char **slot, const char *value)
{
  if (g_strcmp0(*slot, value) == 0)
    return FALSE;
  g_free(*slot);
  *slot = g_strdup(value);
  return TRUE;
}

/* The settings in effect, by atomic's precedence (docs/configuration.md):
 * checkout root and repository: the caller's, the environment's,
 * atomic.conf's, the default; the runtime: the caller's, the one recorded
 * for the container being updated, atomic.conf's, $RUNC_PATH, "runc". */
static void
resolve(sc_context *ctx)
{
  const char *v;
  g_autofree char *origin = NULL;
  gboolean changed;

  g_autofree char *user_checkout = NULL;
  g_autofree char *user_repo = NULL;

  /* a user's containers: atomic.conf is root's, its places are not theirs */
  if (ctx->user && ctx->user_data != NULL) {
    user_checkout = g_build_filename(ctx->user_data, "containers", "atomic", NULL);
    user_repo = g_build_filename(user_checkout, "repo", NULL);
  }
  v = ctx->checkout_set                          ? ctx->checkout_set
      : ctx->checkout_env                        ? ctx->checkout_env
      : user_checkout                            ? user_checkout
      : conf_value(ctx, SC_ATOMIC_CONF_CHECKOUT) ? conf_value(ctx, SC_ATOMIC_CONF_CHECKOUT)
                                                 : SC_DEFAULT_CHECKOUT_ROOT;
  changed = replace_str(&ctx->checkout_root, v);
  v = ctx->repo_set   ? ctx->repo_set
      : ctx->repo_env ? ctx->repo_env
      : user_repo     ? user_repo
                      : conf_value(ctx, SC_ATOMIC_CONF_REPO);
  changed |= replace_str(&ctx->repo, v);
  if (changed)
    g_clear_object(&ctx->store);
  if ((v = ctx->runtime_set) == NULL) {
    if ((v = ctx->runtime_recorded) != NULL)
      origin = g_strdup_printf("recorded for container %s", ctx->runtime_recorded_owner);
    else if (!ctx->user && (v = conf_value(ctx, SC_ATOMIC_CONF_RUNTIME)) != NULL)
      origin = g_strdup_printf(
        "from %s line %d", ctx->conf->file, ctx->conf->line[SC_ATOMIC_CONF_RUNTIME]);
    else if ((v = ctx->runc_path_env) != NULL)
      origin = g_strdup("from $RUNC_PATH");
    else
      v = "runc";
  }
  g_free(ctx->runtime_origin);
  ctx->runtime_origin = g_steal_pointer(&origin);
  if (replace_str(&ctx->runtime, v))
    reset_runtime_cache(ctx);
}

/* The user's own directory from $NAME, else $HOME/@fallback. An $XDG_*
 * that is not absolute is ignored, as the XDG base directory spec says.
 * $HOME itself must then be an absolute path: NULL and *@problem (the
 * first one) otherwise. Not g_get_home_dir(): it warns on stderr when the
 * uid has no passwd entry, and an empty or relative HOME made relative
 * paths, which the checks then read from the working directory. */
static char *
xdg_dir(const char *name, const char *fallback, char **problem)
{
  const char *env = g_getenv(name);
  const char *home = g_getenv("HOME");

  if (env != NULL && path_is_absolute_clean(env))
    return g_canonicalize_filename(env, "/");
  if (home != NULL && path_is_absolute_clean(home)) {
    g_autofree char *clean = g_canonicalize_filename(home, "/");
    return g_build_filename(clean, fallback, NULL);
  }
  if (*problem == NULL)
    *problem = home == NULL || home[0] == '\0'
                 ? g_strdup_printf("$HOME is not set: user containers need a home directory "
                                   "(or $%s)", name)
                 : g_strdup_printf("$HOME is not an absolute path (%s): user containers need a "
                                   "home directory (or $%s)", home, name);
  return NULL;
}

/* The mode in effect: what was asked, else the caller's uid decides. A
 * mode this caller may not use is remembered with atomic's message, for
 * every operation to refuse (sc_context_config_check()). */
static void
user_mode_apply(sc_context *ctx)
{
  gboolean root = geteuid() == 0;

  ctx->user_refusal = NULL;
  if (ctx->user_mode_req == SC_USER_MODE_SYSTEM && !root)
    ctx->user_refusal = "Only root can use --system";
  else if (ctx->user_mode_req == SC_USER_MODE_USER && root)
    ctx->user_refusal = "--user does not work for privileged user";
  /* AUTO: a user's own containers, unless the caller named the places
   * (--sysroot, --checkout-root, --repo): those are the system's, as
   * before user mode (and their "needs root" errors) */
  ctx->user = ctx->user_mode_req == SC_USER_MODE_USER ||
              (ctx->user_mode_req == SC_USER_MODE_AUTO && !root && strcmp(ctx->sysroot, "/") == 0 &&
               ctx->checkout_set == NULL && ctx->repo_set == NULL);
  g_clear_pointer(&ctx->user_data, g_free);
  g_clear_pointer(&ctx->user_config, g_free);
  g_clear_pointer(&ctx->user_runtime, g_free);
  g_clear_pointer(&ctx->user_home_problem, g_free);
  if (ctx->user) {
    const char *rt = g_getenv("XDG_RUNTIME_DIR");
    ctx->user_data = xdg_dir("XDG_DATA_HOME", ".local/share", &ctx->user_home_problem);
    ctx->user_config = xdg_dir("XDG_CONFIG_HOME", ".config", &ctx->user_home_problem);
    ctx->user_runtime = rt && path_is_absolute_clean(rt) ? g_canonicalize_filename(rt, "/") : NULL;
  }
}

/* A user's store, checkouts and tmpfiles (their images, rootfs trees, the
 * --set values in info) are theirs alone: made 0700, and one that an
 * earlier version made 0755 (or the user opened) is closed again, so that
 * no other user reads them or writes into a world-writable directory of a
 * rootfs. Not through a link: only the caller's own directories, and
 * only in our own $XDG_DATA_HOME/containers (a store the environment puts
 * elsewhere, $HOME itself even, is the user's business). */
static void
user_mode_tighten(sc_context *ctx)
{
  g_autofree char *ours = g_build_filename(ctx->user_data, "containers", NULL);
  g_autofree char *tmpfiles = g_build_filename(ours, "tmpfiles", NULL);
  const char *dirs[] = {ctx->checkout_root, ctx->repo, tmpfiles};
  struct stat st;

  for (guint i = 0; i < G_N_ELEMENTS(dirs); i++) {
    gsize n = strlen(ours);
    int fd = dirs[i] && strncmp(dirs[i], ours, n) == 0 && dirs[i][n] == '/'
               ? open(dirs[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
               : -1;
    if (fd < 0)
      continue;
    if (fstat(fd, &st) == 0 && st.st_uid == geteuid() && (st.st_mode & 077) != 0 &&
        fchmod(fd, st.st_mode & 0700) == 0)
      sc_context_log(ctx, SC_LOG_INFO, "%s: made private to you (mode 0%o, was 0%o)", dirs[i],
                     (unsigned)(st.st_mode & 0700), (unsigned)(st.st_mode & 07777));
    close(fd);
  }
}

/* The directory @path, or the nearest of its parents that exists (what
 * would be made in), when another uid's: *@out_path and *@out_uid. */
static gboolean
foreign_dir(const char *path, char **out_path, uid_t *out_uid)
{
  g_autofree char *p = path ? g_strdup(path) : NULL;
  struct stat st;

  /* (a parent the caller may not even search, EACCES, is looked at from
   * above: another user's 0700 directory is named as theirs) */
  while (p && stat(p, &st) != 0 && (errno == ENOENT || errno == EACCES || errno == ENOTDIR) &&
         strcmp(p, "/") != 0) {
    char *up = g_path_get_dirname(p);
    g_free(p);
    p = up;
  }
  if (p && stat(p, &st) == 0 && st.st_uid != geteuid()) {
    *out_uid = st.st_uid;
    *out_path = g_steal_pointer(&p);
    return TRUE;
  }
  return FALSE;
}

/* $XDG_CONFIG_HOME (the units) and $XDG_RUNTIME_DIR are the user's as
 * the store is: a unit directory of another uid's, or a runtime directory
 * that is missing or not theirs, is refused by name. */
static gboolean
user_mode_check_config_runtime(sc_context *ctx, GError **error)
{
  g_autofree char *units = g_build_filename(ctx->user_config, "systemd", "user", NULL);
  g_autofree char *foreign = NULL;
  uid_t uid;
  struct stat st;

  if (foreign_dir(units, &foreign, &uid)) {
    g_set_error(error, SC_ERROR, SC_EPERM,
                "user containers: %s belongs to uid %u, not to you (uid %u): a user's units go "
                "only to a unit directory of their own ($XDG_CONFIG_HOME/systemd/user)",
                foreign, (unsigned)uid, (unsigned)geteuid());
    return FALSE;
  }
  if (stat(ctx->user_runtime, &st) != 0 || !S_ISDIR(st.st_mode)) {
    gboolean missing = access(ctx->user_runtime, F_OK) != 0;
    g_set_error(error, SC_ERROR, SC_EINVAL,
                "user containers: $XDG_RUNTIME_DIR %s %s: it names the user's runtime directory "
                "(RUN_DIRECTORY, the runtime's state); log in through a session "
                "(systemd-logind) or set it to /run/user/%u",
                ctx->user_runtime, missing ? "does not exist" : "is not a directory",
                (unsigned)geteuid());
    return FALSE;
  }
  if (st.st_uid != geteuid()) {
    g_set_error(error, SC_ERROR, SC_EPERM,
                "user containers: $XDG_RUNTIME_DIR %s belongs to uid %u, not to you (uid %u): a "
                "user's runtime directory is their own",
                ctx->user_runtime, (unsigned)st.st_uid, (unsigned)geteuid());
    return FALSE;
  }
  /* (another local user could plant the runtime's state or the pidfile in
   * it before the owner: pam_systemd makes it 0700, the XDG spec says so) */
  if ((st.st_mode & 022) != 0) {
    g_set_error(error,
                SC_ERROR,
                SC_EPERM,
                "user containers: $XDG_RUNTIME_DIR %s has mode %04o: a user's runtime directory "
                "is theirs alone, and no other user may write in it (0700, as pam_systemd makes "
                "it): chmod 700 %s",
                ctx->user_runtime,
                (unsigned)(st.st_mode & 07777),
                ctx->user_runtime);
    return FALSE;
  }
  return TRUE;
}

/* A checkout root inside a container's deployment slot (X/NAME.0 with the
 * link X/NAME to it) would put containers in a container's tree, which
 * its uninstall removes. */
static gboolean
user_root_not_in_slot(const char *root, GError **error)
{
  g_autofree char *p = root ? g_canonicalize_filename(root, "/") : NULL;

  while (p && strcmp(p, "/") != 0) {
    g_autofree char *base = g_path_get_basename(p);
    g_autofree char *dir = g_path_get_dirname(p);
    gsize n = strlen(base);
    if (n > 2 && base[n - 2] == '.' && (base[n - 1] == '0' || base[n - 1] == '1')) {
      g_autofree char *name = g_strndup(base, n - 2);
      g_autofree char *link = g_build_filename(dir, name, NULL);
      g_autofree char *target = g_file_read_link(link, NULL);
      if (target && (strcmp(target, base) == 0 || strcmp(target, p) == 0)) {
        g_set_error(error,
                    SC_ERROR,
                    SC_EINVAL,
                    "user containers: checkout root %s is inside %s, the deployment slot of "
                    "container %s: choose a directory of your own outside any container",
                    root,
                    p,
                    name);
        return FALSE;
      }
    }
    char *up = g_path_get_dirname(p);
    g_free(p);
    p = up;
  }
  return TRUE;
}

/* A user's containers live in the user's own directories and nowhere else:
 * the runtime directory must be known, and a store or checkout root that
 * exists must be the caller's (another user's or root's is refused before
 * anything reads it; followed, as a link of theirs to root's store is not
 * theirs). */
static gboolean
user_mode_check(sc_context *ctx, GError **error)
{
  const char *dirs[2];

  if (ctx->user_refusal) {
    g_set_error(error, SC_ERROR, SC_EPERM, "%s", ctx->user_refusal);
    return FALSE;
  }
  if (!ctx->user)
    return TRUE;
  if (strcmp(ctx->sysroot, "/") != 0) {
    g_set_error(error,
                SC_ERROR,
                SC_EINVAL,
                "user containers: --sysroot %s is for system containers (run as root)",
                ctx->sysroot);
    return FALSE;
  }
  if (ctx->user_home_problem != NULL) {
    g_set_error(error, SC_ERROR, SC_EINVAL, "user containers: %s", ctx->user_home_problem);
    return FALSE;
  }
  if (ctx->user_runtime == NULL) {
    g_set_error(error,
                SC_ERROR,
                SC_EINVAL,
                "user containers: $XDG_RUNTIME_DIR is %s: it names the user's runtime "
                "directory (RUN_DIRECTORY, the runtime's state); log in through a session "
                "(systemd-logind) or set it to /run/user/%u",
                g_getenv("XDG_RUNTIME_DIR") ? "not an absolute path" : "not set",
                (unsigned)geteuid());
    return FALSE;
  }
  if (!user_root_not_in_slot(ctx->checkout_root, error))
    return FALSE;
  dirs[0] = ctx->checkout_root;
  dirs[1] = ctx->repo;
  for (guint i = 0; i < G_N_ELEMENTS(dirs); i++) {
    /* the directory, or the nearest of its parents that exists: what a
     * pull would make it in */
    g_autofree char *foreign = NULL;
    uid_t uid;
    if (foreign_dir(dirs[i], &foreign, &uid)) {
      g_set_error(error,
                  SC_ERROR,
                  SC_EPERM,
                  "user containers: %s belongs to uid %u, not to you (uid %u): a user uses "
                  "only a store and checkout root of their own",
                  foreign,
                  (unsigned)uid,
                  (unsigned)geteuid());
      return FALSE;
    }
  }
  if (!user_mode_check_config_runtime(ctx, error))
    return FALSE;
  user_mode_tighten(ctx);
  return TRUE;
}

/* Reads atomic.conf if it was not read for this sysroot yet. */
static void
ensure_conf(sc_context *ctx)
{
  if (ctx->conf_read)
    return;
  ctx->conf_read = TRUE;
  if (!sc_atomic_conf_load(ctx->sysroot, &ctx->conf, &ctx->conf_error))
    sc_context_log(ctx, SC_LOG_DEBUG, "%s", ctx->conf_error->message);
  resolve(ctx);
}

/* The limits' variables (man page, ENVIRONMENT) take a positive whole
 * number: another value is refused naming the variable, rather than
 * silently meaning the default (an empty one is unset). */
static gboolean
env_limits_ok(GError **error)
{
  static const char *const names[] = {
    "SC_MAX_LAYER_BYTES",    "SC_MAX_LAYER_ENTRIES", "SC_MAX_PATH_DEPTH",   "SC_MAX_PATH_BYTES",
    "SC_MAX_RENDERED_BYTES", "SC_MAX_HOSTFS_BYTES",  "SC_MAX_HOSTFS_FILES", "SC_MAX_EXPORTS_BYTES",
  };
  guint64 n;

  for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
    const char *v = g_getenv(names[i]);
    if (v != NULL && *v != '\0' && !g_ascii_string_to_unsigned(v, 10, 1, G_MAXUINT64, &n, NULL)) {
      g_autofree char *shown = sc_display(v, 100);
      g_set_error(
        error, SC_ERROR, SC_EINVAL, "$%s '%s': expected a positive whole number", names[i], shown);
      return FALSE;
    }
  }
  return TRUE;
}

/* A sysroot the caller cannot read or enter is said as such, naming it,
 * rather than as the first file looked for in it (atomic.conf). */
gboolean
sc_context_sysroot_readable(const sc_context *ctx, GError **error)
{
  int fd;

  if (strcmp(ctx->sysroot, "/") == 0)
    return TRUE;
  fd = open(ctx->sysroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0 && faccessat(fd, ".", X_OK, AT_EACCESS) == 0) {
    close(fd);
    return TRUE;
  }
  {
    int e = errno;
    if (fd >= 0)
      close(fd);
    g_set_error(
      error, SC_ERROR, SC_EIO, "sysroot %s: cannot read it: %s", ctx->sysroot, g_strerror(e));
  }
  return FALSE;
}

gboolean
sc_context_config_check(sc_context *ctx, GError **error)
{
  if (!env_limits_ok(error) || !sc_context_sysroot_readable(ctx, error))
    return FALSE;
  ensure_conf(ctx);
  if (ctx->conf_error) {
    g_propagate_error(error, g_error_copy(ctx->conf_error));
    return FALSE;
  }
  return env_ok("ATOMIC_OSTREE_CHECKOUT_PATH", ctx->checkout_env_bad, ctx->checkout_set, error) &&
         env_ok("ATOMIC_OSTREE_REPO", ctx->repo_env_bad, ctx->repo_set, error) &&
         user_mode_check(ctx, error);
}

SC_API int
sc_context_new(sc_context **out_ctx, sc_error **error)
{
  sc_context *ctx;
  const char *env;

  SC_CHECK_ARG(out_ctx != NULL, error);
  ctx = g_new0(sc_context, 1);
  ctx->sysroot = g_strdup("/");
  ctx->checkout_env = env_path("ATOMIC_OSTREE_CHECKOUT_PATH", &ctx->checkout_env_bad);
  ctx->repo_env = env_path("ATOMIC_OSTREE_REPO", &ctx->repo_env_bad);
  env = g_getenv("RUNC_PATH");
  ctx->runc_path_env = env && *env ? g_strdup(env) : NULL;
  user_mode_apply(ctx);
  resolve(ctx);
  ctx->tool_path = g_build_filename(SC_BINDIR, "syscontainerctl", NULL);
  ctx->max_layer_bytes = SC_DEFAULT_MAX_LAYER_BYTES;
  ctx->max_layer_entries = SC_DEFAULT_MAX_LAYER_ENTRIES;
  ctx->max_path_depth = SC_DEFAULT_MAX_PATH_DEPTH;
  ctx->max_path_bytes = SC_DEFAULT_MAX_PATH_BYTES;
  if ((env = g_getenv("SC_MAX_LAYER_BYTES")) && g_ascii_strtoull(env, NULL, 10) > 0)
    ctx->max_layer_bytes = g_ascii_strtoull(env, NULL, 10);
  if ((env = g_getenv("SC_MAX_LAYER_ENTRIES")) && g_ascii_strtoull(env, NULL, 10) > 0)
    ctx->max_layer_entries = g_ascii_strtoull(env, NULL, 10);
  ctx->max_rendered_bytes = sc_default_render_max(); /* $SC_MAX_RENDERED_BYTES */
  if ((env = g_getenv("SC_MAX_PATH_DEPTH")) && g_ascii_strtoull(env, NULL, 10) > 0)
    ctx->max_path_depth = MIN(g_ascii_strtoull(env, NULL, 10), G_MAXUINT);
  if ((env = g_getenv("SC_MAX_PATH_BYTES")) && g_ascii_strtoull(env, NULL, 10) > 0)
    ctx->max_path_bytes = MIN(g_ascii_strtoull(env, NULL, 10), G_MAXSIZE);
  *out_ctx = ctx;
  return SC_OK;
}

SC_API void
sc_context_free(sc_context *ctx)
{
  if (ctx == NULL)
    return;
  g_free(ctx->sysroot);
  g_free(ctx->checkout_root);
  g_free(ctx->repo);
  g_free(ctx->runtime);
  g_free(ctx->runtime_origin);
  g_free(ctx->checkout_set);
  g_free(ctx->repo_set);
  g_free(ctx->runtime_set);
  g_free(ctx->checkout_env);
  g_free(ctx->repo_env);
  g_free(ctx->checkout_env_bad);
  g_free(ctx->repo_env_bad);
  g_free(ctx->runc_path_env);
  g_free(ctx->user_data);
  g_free(ctx->user_config);
  g_free(ctx->user_runtime);
  g_free(ctx->user_home_problem);
  g_free(ctx->runtime_recorded);
  g_free(ctx->runtime_recorded_owner);
  sc_atomic_conf_free(ctx->conf);
  g_clear_error(&ctx->conf_error);
  g_free(ctx->tool_path);
  g_free(ctx->signature_policy);
  g_free(ctx->registries_d);
  g_free(ctx->runtime_resolved);
  g_clear_object(&ctx->store);
  sc_selinux_free(ctx->selinux);
  g_free(ctx);
}

gboolean
sc_context_repo_is_user_default(const sc_context *ctx)
{
  return ctx->user && ctx->repo_set == NULL && ctx->repo_env == NULL;
}

SC_API int
sc_context_load_config(sc_context *ctx, sc_error **error)
{
  GError *gerror = NULL;

  SC_CHECK_ARG(ctx != NULL, error);
  if (!sc_context_sysroot_readable(ctx, &gerror))
    return sc_error_propagate(error, gerror);
  ensure_conf(ctx); /* atomic.conf alone (the environment: sc_context_config_check) */
  if (ctx->conf_error) {
    gerror = g_error_copy(ctx->conf_error);
    return sc_error_propagate(error, gerror);
  }
  return SC_OK;
}

SC_API const char *
sc_context_get_config_file(sc_context *ctx)
{
  if (ctx == NULL)
    return NULL;
  ensure_conf(ctx);
  return ctx->conf ? ctx->conf->file : NULL;
}

SC_API const char *
sc_context_get_runtime(sc_context *ctx)
{
  if (ctx == NULL)
    return NULL;
  ensure_conf(ctx);
  return ctx->runtime;
}

gboolean
sc_context_runtime_given(const sc_context *ctx)
{
  return ctx->runtime_set != NULL;
}

gboolean
sc_context_set_recorded_runtime(sc_context *ctx,
                                const char *runtime,
                                const char *owner,
                                GError **error)
{
  if (runtime && (runtime[0] != '/' || !sc_unit_word_ok(runtime))) {
    g_autofree char *shown = sc_display(runtime, 200);
    g_set_error(error,
                SC_ERROR,
                SC_EINVAL,
                "container %s: the runtime recorded in its info ('%s') is not an absolute path "
                "that a unit's ExecStart= can hold; give --runtime PATH",
                owner,
                shown);
    return FALSE;
  }
  g_free(ctx->runtime_recorded);
  g_free(ctx->runtime_recorded_owner);
  ctx->runtime_recorded = g_strdup(runtime);
  ctx->runtime_recorded_owner = runtime ? g_strdup(owner) : NULL;
  ensure_conf(ctx);
  resolve(ctx);
  return TRUE;
}

static void
reset_selinux(sc_context *ctx)
{
  g_clear_pointer(&ctx->selinux, sc_selinux_free);
  ctx->selinux_loaded = FALSE;
}

static char *
canonical_dir(const char *path)
{
  char *canon = g_canonicalize_filename(path, "/");
  return canon;
}

/* Another root has its own atomic.conf, read when next needed. */
static void
forget_conf(sc_context *ctx)
{
  user_mode_apply(ctx); /* (a --sysroot is the system's) */
  g_clear_pointer(&ctx->conf, sc_atomic_conf_free);
  g_clear_error(&ctx->conf_error);
  ctx->conf_read = FALSE;
  resolve(ctx);
}

SC_API int
sc_context_set_sysroot(sc_context *ctx, const char *path, sc_error **error)
{
  struct stat st;

  SC_CHECK_ARG(ctx != NULL, error);
  if (path == NULL) {
    g_free(ctx->sysroot);
    ctx->sysroot = g_strdup("/");
    g_clear_object(&ctx->store);
    forget_conf(ctx);
    reset_selinux(ctx);
    return SC_OK;
  }
  if (path[0] != '/')
    return sc_error_set(error, SC_EINVAL, "sysroot '%s': must be an absolute path", path);
  if (stat(path, &st) != 0)
    return sc_error_set(error, SC_ENOTFOUND, "sysroot '%s': %s", path, g_strerror(errno));
  if (!S_ISDIR(st.st_mode))
    return sc_error_set(error, SC_EINVAL, "sysroot '%s': not a directory", path);
  g_free(ctx->sysroot);
  ctx->sysroot = canonical_dir(path);
  g_clear_object(&ctx->store);
  forget_conf(ctx);
  reset_selinux(ctx);
  return SC_OK;
}

SC_API int
sc_context_set_user_mode(sc_context *ctx, sc_user_mode mode, sc_error **error)
{
  SC_CHECK_ARG(ctx != NULL, error);
  if (mode != SC_USER_MODE_AUTO && mode != SC_USER_MODE_SYSTEM && mode != SC_USER_MODE_USER)
    return sc_error_set(error, SC_EINVAL, "user mode %d: not one of auto, system, user", (int)mode);
  ctx->user_mode_req = mode;
  user_mode_apply(ctx);
  resolve(ctx);
  if (ctx->user_refusal)
    return sc_error_set(error, SC_EPERM, "%s", ctx->user_refusal);
  return SC_OK;
}

SC_API int
sc_context_get_user_mode(const sc_context *ctx)
{
  return ctx && ctx->user;
}

gboolean
sc_context_is_user(const sc_context *ctx)
{
  return ctx && ctx->user;
}

/* The host directory that holds the units: the system's, or the user's
 * ~/.config/systemd/user (their systemd's own). */
char *
sc_context_unit_dir(const sc_context *ctx)
{
  if (ctx && ctx->user)
    return g_build_filename(ctx->user_config, "systemd", "user", NULL);
  return g_strdup("/etc/systemd/system");
}

/* tmpfiles.d fragments: the system's, or under the user's data (atomic's
 * containers/tmpfiles, run by systemd-tmpfiles as the user). */
char *
sc_context_tmpfiles_dir(const sc_context *ctx)
{
  if (ctx && ctx->user)
    return g_build_filename(ctx->user_data, "containers", "tmpfiles", NULL);
  return g_strdup("/etc/tmpfiles.d");
}

/* The user's data and config homes ($XDG_DATA_HOME, $XDG_CONFIG_HOME or
 * their defaults), for STATE_DIRECTORY and CONF_DIRECTORY; NULL in system
 * mode. */
const char *
sc_context_user_data_dir(const sc_context *ctx)
{
  return ctx && ctx->user ? ctx->user_data : NULL;
}

const char *
sc_context_user_config_dir(const sc_context *ctx)
{
  return ctx && ctx->user ? ctx->user_config : NULL;
}

/* The user's runtime directory ($XDG_RUNTIME_DIR); NULL in system mode. */
const char *
sc_context_user_runtime_dir(const sc_context *ctx)
{
  return ctx && ctx->user ? ctx->user_runtime : NULL;
}

SC_API int
sc_context_set_checkout_root(sc_context *ctx, const char *path, sc_error **error)
{
  SC_CHECK_ARG(ctx != NULL, error);
  if (path != NULL && !path_is_absolute_clean(path))
    return sc_error_set(
      error, SC_EINVAL, "checkout root '%s': must be an absolute path without '..'", path);
  g_free(ctx->checkout_set);
  ctx->checkout_set = path ? canonical_dir(path) : NULL;
  user_mode_apply(ctx);
  resolve(ctx);
  return SC_OK;
}

SC_API int
sc_context_set_repo(sc_context *ctx, const char *path, sc_error **error)
{
  SC_CHECK_ARG(ctx != NULL, error);
  if (path != NULL && !path_is_absolute_clean(path))
    return sc_error_set(
      error, SC_EINVAL, "repository '%s': must be an absolute path without '..'", path);
  g_free(ctx->repo_set);
  ctx->repo_set = path ? canonical_dir(path) : NULL;
  user_mode_apply(ctx);
  resolve(ctx);
  return SC_OK;
}

SC_API int
sc_context_set_runtime(sc_context *ctx, const char *runtime, sc_error **error)
{
  SC_CHECK_ARG(ctx != NULL, error);
  if (runtime != NULL && !sc_unit_word_ok(runtime))
    return sc_error_set(error,
                        SC_EINVAL,
                        "runtime '%s': must be a command name or path without whitespace, "
                        "quotes, '\\', '%%', '$' or ';' (it is written into the unit's ExecStart=)",
                        runtime);
  g_free(ctx->runtime_set);
  ctx->runtime_set = g_strdup(runtime);
  resolve(ctx);
  return SC_OK;
}

SC_API int
sc_context_set_tool_path(sc_context *ctx, const char *path, sc_error **error)
{
  SC_CHECK_ARG(ctx != NULL, error);
  if (path != NULL && (path[0] != '/' || !sc_unit_word_ok(path)))
    return sc_error_set(error, SC_EINVAL, "tool path '%s': must be an absolute path", path);
  g_free(ctx->tool_path);
  ctx->tool_path = path ? g_strdup(path) : g_build_filename(SC_BINDIR, "syscontainerctl", NULL);
  return SC_OK;
}

SC_API void
sc_context_set_log_func(sc_context *ctx, sc_log_func func, void *user_data)
{
  if (ctx == NULL)
    return;
  ctx->log_func = func;
  ctx->log_data = user_data;
}

SC_API int
sc_context_set_layer_limits(sc_context *ctx,
                            uint64_t max_bytes,
                            uint64_t max_entries,
                            sc_error **error)
{
  SC_CHECK_ARG(ctx != NULL, error);
  if (max_bytes)
    ctx->max_layer_bytes = max_bytes;
  if (max_entries)
    ctx->max_layer_entries = max_entries;
  return SC_OK;
}

SC_API int
sc_context_set_render_limit(sc_context *ctx, uint64_t max_bytes, sc_error **error)
{
  SC_CHECK_ARG(ctx != NULL, error);
  if (max_bytes)
    ctx->max_rendered_bytes = max_bytes;
  return SC_OK;
}

guint64
sc_context_render_limit(sc_context *ctx)
{
  return ctx ? ctx->max_rendered_bytes : sc_default_render_max();
}

SC_API int
sc_context_set_layer_path_limits(sc_context *ctx,
                                 uint32_t max_depth,
                                 uint32_t max_path_bytes,
                                 sc_error **error)
{
  SC_CHECK_ARG(ctx != NULL, error);
  if (max_depth)
    ctx->max_path_depth = max_depth;
  if (max_path_bytes)
    ctx->max_path_bytes = max_path_bytes;
  return SC_OK;
}

void
sc_context_layer_limits(sc_context *ctx, ScLayerLimits *out_limits)
{
  out_limits->max_bytes = ctx ? ctx->max_layer_bytes : G_MAXUINT64;
  out_limits->max_entries = ctx ? ctx->max_layer_entries : G_MAXUINT64;
  out_limits->max_depth = ctx ? ctx->max_path_depth : G_MAXUINT;
  out_limits->max_path_bytes = ctx ? ctx->max_path_bytes : G_MAXSIZE;
  out_limits->max_exports = 0; /* set by the /exports scan's caller */
}

SC_API void
sc_context_set_progress_func(sc_context *ctx, sc_progress_func func, void *user_data)
{
  if (ctx == NULL)
    return;
  ctx->progress_func = func;
  ctx->progress_data = user_data;
}

void
sc_context_progress(sc_context *ctx,
                    guint64 done,
                    guint64 total,
                    guint layers_done,
                    guint layers_total)
{
  if (ctx->progress_func)
    ctx->progress_func(done, total, layers_done, layers_total, ctx->progress_data);
}

GObject *
sc_context_get_store(sc_context *ctx)
{
  return ctx->store;
}

void
sc_context_set_store(sc_context *ctx, GObject *store)
{
  g_clear_object(&ctx->store);
  ctx->store = store ? g_object_ref(store) : NULL;
}

SC_API const char *
sc_context_get_sysroot(const sc_context *ctx)
{
  return ctx ? ctx->sysroot : NULL;
}

/* Both read atomic.conf first if it was not read yet: the context is
 * opaque, and what it caches is not what the caller sees as its state. */
SC_API const char *
sc_context_get_checkout_root(const sc_context *ctx)
{
  if (ctx == NULL)
    return NULL;
  ensure_conf((sc_context *)ctx);
  return ctx->checkout_root;
}

SC_API const char *
sc_context_get_repo(const sc_context *ctx)
{
  if (ctx == NULL)
    return NULL;
  ensure_conf((sc_context *)ctx);
  return ctx->repo;
}

SC_API const char *
sc_context_get_tool_path(const sc_context *ctx)
{
  return ctx ? ctx->tool_path : NULL;
}

void
sc_context_log(sc_context *ctx, int level, const char *format, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  if (ctx == NULL || ctx->log_func == NULL)
    return;
  va_start(ap, format);
  msg = g_strdup_vprintf(format, ap);
  va_end(ap);
  ctx->log_func(level, msg, ctx->log_data);
}

char *
sc_context_host_path(const sc_context *ctx, const char *path)
{
  /* the sysroot's own links resolve inside it (/var/run -> /run); on the
   * host itself the same walk gives the path without links, which
   * writes then follow no link made since (sc_deploy_write_host_file) */
  return sc_confined_host_path(ctx ? ctx->sysroot : "/", path, FALSE);
}

char *
sc_context_host_dir(const sc_context *ctx, const char *path)
{
  return sc_confined_host_path(ctx ? ctx->sysroot : "/", path, TRUE);
}

/* The inverse of sc_context_host_path(), which gives the sysroot by its
 * real path. */
char *
sc_context_root_path(const sc_context *ctx, const char *host_path)
{
  const char *sysroot = ctx ? ctx->sysroot : "/";
  g_autofree char *real = realpath(sysroot, NULL);
  const char *prefixes[] = {real, sysroot};

  if (strcmp(sysroot, "/") == 0)
    return g_strdup(host_path);
  for (guint i = 0; i < G_N_ELEMENTS(prefixes); i++) {
    gsize n = prefixes[i] ? strlen(prefixes[i]) : 0;
    if (n == 0 || strncmp(host_path, prefixes[i], n) != 0)
      continue;
    if (host_path[n] == '\0')
      return g_strdup("/");
    if (host_path[n] == '/')
      return g_strdup(host_path + n);
  }
  return g_strdup(host_path);
}

/* Once per context: the policy is read when something is first labelled
 * and kept while the sysroot stays the same. */
gboolean
sc_context_selinux(sc_context *ctx, ScSelinux **out, GError **error)
{
  *out = NULL;
  if (!ctx->selinux_loaded) {
    if (!sc_selinux_load(ctx->sysroot, &ctx->selinux, error))
      return FALSE;
    ctx->selinux_loaded = TRUE;
  }
  *out = ctx->selinux;
  return TRUE;
}

SC_API int
sc_context_get_selinux_policy(sc_context *ctx, const char **out_type, sc_error **error)
{
  GError *gerror = NULL;
  ScSelinux *se = NULL;

  SC_CHECK_ARG(ctx != NULL && out_type != NULL, error);
  *out_type = NULL;
  if (!sc_context_selinux(ctx, &se, &gerror))
    return sc_error_propagate(error, gerror);
  *out_type = sc_selinux_type(se);
  return SC_OK;
}

gboolean
sc_context_runtime_path(sc_context *ctx, const char **out_path, GError **error)
{
  g_autofree char *found = NULL;

  if (!sc_context_config_check(ctx, error))
    return FALSE;
  if (ctx->runtime_resolved == NULL) {
    if (strchr(ctx->runtime, '/') != NULL)
      found = g_strdup(ctx->runtime);
    else {
      found = g_find_program_in_path(ctx->runtime);
      /* Debian ships runc in /usr/sbin, which a non-root PATH often lacks. */
      if (found == NULL) {
        const char *const extra[] = { "/usr/sbin", "/sbin", "/usr/local/sbin", NULL };
        for (int i = 0; extra[i] && found == NULL; i++) {
          g_autofree char *p = g_build_filename(extra[i], ctx->runtime, NULL);
          if (g_file_test(p, G_FILE_TEST_IS_EXECUTABLE) && !g_file_test(p, G_FILE_TEST_IS_DIR))
            found = g_steal_pointer(&p);
        }
      }
      if (found == NULL) {
        g_set_error(error,
                    SC_ERROR,
                    SC_ERUNTIME,
                    "runtime '%s'%s%s is not installed: not found on PATH (install runc, or give "
                    "--runtime PATH)",
                    ctx->runtime,
                    ctx->runtime_origin ? " " : "",
                    ctx->runtime_origin ? ctx->runtime_origin : "");
        return FALSE;
      }
    }
    if (found[0] != '/') {
      g_set_error(error, SC_ERROR, SC_ERUNTIME, "runtime '%s': not an absolute path", found);
      return FALSE;
    }
    if (!g_file_test(found, G_FILE_TEST_IS_EXECUTABLE) || g_file_test(found, G_FILE_TEST_IS_DIR)) {
      g_set_error(error,
                  SC_ERROR,
                  SC_ERUNTIME,
                  "runtime '%s'%s%s is not installed: no executable file at that path%s",
                  found,
                  ctx->runtime_origin ? " " : "",
                  ctx->runtime_origin ? ctx->runtime_origin : "",
                  ctx->runtime_recorded && !ctx->runtime_set ? " (give --runtime PATH to change it)"
                                                             : "");
      return FALSE;
    }
    ctx->runtime_resolved = g_steal_pointer(&found);
  }
  *out_path = ctx->runtime_resolved;
  return TRUE;
}

static gboolean
run_help(const char *runtime, const char *subcommand, char **out_text, GError **error)
{
  const char *argv[4];
  int i = 0;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = 0;
  g_autoptr(GError) local = NULL;

  argv[i++] = runtime;
  if (subcommand)
    argv[i++] = subcommand;
  argv[i++] = "--help";
  argv[i] = NULL;
  if (!g_spawn_sync(
        NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &local)) {
    g_set_error(
      error, SC_ERROR, SC_ERUNTIME, "runtime '%s' cannot be run: %s", runtime, local->message);
    return FALSE;
  }
  /* Some runtimes print help on stderr; either counts. */
  *out_text = g_strconcat(out ? out : "", err ? err : "", NULL);
  return TRUE;
}

/* How the runtime's cgroupfs driver reads a relative linux.cgroupsPath.
 * runc resolves it against the cgroup it runs in (cgroup v2: that cgroup's
 * parent, libcontainer/cgroups/fs2 defaultDirPath; v1: that cgroup), so
 * "NAME.service/container" lands in the unit's cgroup whatever its slice.
 * crun 1.8 makes it absolute ("/" + path, cgroup-cgroupfs.c
 * make_cgroup_path), and so is any runtime we do not know: *@out_own is
 * TRUE for runc only, told by the first word of `RUNTIME --version`. */
static gboolean
probe_relative_cgroups(const char *runtime, gboolean *out_own, GError **error)
{
  const char *argv[] = { runtime, "--version", NULL };
  g_autofree char *out = NULL;
  g_autoptr(GError) local = NULL;

  if (!g_spawn_sync(NULL,
                    (char **)argv,
                    NULL,
                    G_SPAWN_STDERR_TO_DEV_NULL,
                    NULL,
                    NULL,
                    &out,
                    NULL,
                    NULL,
                    &local)) {
    g_set_error(
      error, SC_ERROR, SC_ERUNTIME, "runtime '%s' cannot be run: %s", runtime, local->message);
    return FALSE;
  }
  *out_own = g_str_has_prefix(out ? out : "", "runc version ");
  return TRUE;
}

gboolean
sc_context_runtime_relative_cgroups(sc_context *ctx, gboolean *out_own, GError **error)
{
  if (!sc_context_runtime_features(ctx, NULL, NULL, error))
    return FALSE;
  *out_own = ctx->relative_cgroups_own;
  return TRUE;
}

gboolean
sc_context_runtime_features(sc_context *ctx,
                            gboolean *out_pid_file,
                            gboolean *out_systemd_cgroup,
                            GError **error)
{
  const char *runtime;

  if (!sc_context_runtime_path(ctx, &runtime, error))
    return FALSE;
  if (!ctx->probed) {
    g_autofree char *run_text = NULL;
    g_autofree char *top_text = NULL;
    if (!run_help(runtime, "run", &run_text, error) || !run_help(runtime, NULL, &top_text, error))
      return FALSE;
    ctx->has_pid_file = strstr(run_text, "--pid-file") != NULL;
    ctx->has_systemd_cgroup = strstr(top_text, "--systemd-cgroup") != NULL;
    if (!probe_relative_cgroups(runtime, &ctx->relative_cgroups_own, error))
      return FALSE;
    ctx->probed = TRUE;
    sc_context_log(ctx,
                   SC_LOG_DEBUG,
                   "runtime %s: --pid-file %s, --systemd-cgroup %s, relative cgroupsPath "
                   "under its own cgroup %s",
                   runtime,
                   ctx->has_pid_file ? "yes" : "no",
                   ctx->has_systemd_cgroup ? "yes" : "no",
                   ctx->relative_cgroups_own ? "yes" : "no");
  }
  if (out_pid_file)
    *out_pid_file = ctx->has_pid_file;
  if (out_systemd_cgroup)
    *out_systemd_cgroup = ctx->has_systemd_cgroup;
  return TRUE;
}

SC_API int
sc_context_find_runtime(sc_context *ctx, char **out_path, sc_error **error)
{
  GError *gerror = NULL;
  const char *path;

  SC_CHECK_ARG(ctx != NULL && out_path != NULL, error);
  if (!sc_context_runtime_path(ctx, &path, &gerror))
    return sc_error_propagate(error, gerror);
  *out_path = g_strdup(path);
  return SC_OK;
}

SC_API int
sc_context_probe_runtime(sc_context *ctx,
                         int *out_has_pid_file,
                         int *out_has_systemd_cgroup,
                         sc_error **error)
{
  GError *gerror = NULL;
  gboolean pid_file, cgroup;

  SC_CHECK_ARG(ctx != NULL, error);
  if (!sc_context_runtime_features(ctx, &pid_file, &cgroup, &gerror))
    return sc_error_propagate(error, gerror);
  if (out_has_pid_file)
    *out_has_pid_file = pid_file;
  if (out_has_systemd_cgroup)
    *out_has_systemd_cgroup = cgroup;
  return SC_OK;
}

gboolean
sc_name_check(const char *name, GError **error)
{
  gsize len;

  if (name == NULL || *name == '\0') {
    g_set_error(error, SC_ERROR, SC_EINVAL, "container name is empty");
    return FALSE;
  }
  len = strlen(name);
  if (len > 200) {
    g_set_error(error,
                SC_ERROR,
                SC_EINVAL,
                "container name '%.40s...' is %zu bytes long; at most 200 are allowed",
                name,
                len);
    return FALSE;
  }
  if (!g_ascii_isalnum(name[0])) {
    g_set_error(
      error, SC_ERROR, SC_EINVAL, "container name '%s' must start with a letter or a digit", name);
    return FALSE;
  }
  for (gsize i = 0; i < len; i++) {
    char c = name[i];
    if (!g_ascii_isalnum(c) && c != '_' && c != '.' && c != '@' && c != '-') {
      g_autofree char *shown = g_strescape(name, NULL);
      g_set_error(error,
                  SC_ERROR,
                  SC_EINVAL,
                  "container name '%s' has a character that is not allowed at byte %zu "
                  "(allowed: letters, digits, '_', '.', '@', '-')",
                  shown,
                  i + 1);
      return FALSE;
    }
  }
  return TRUE;
}

int
sc_name_replace(char **slot, const char *name, sc_error **error)
{
  int r;

  if ((r = sc_name_validate(name, error)) != SC_OK)
    return r;
  g_free(*slot);
  *slot = g_strdup(name);
  return SC_OK;
}

SC_API int
sc_name_validate(const char *name, sc_error **error)
{
  GError *gerror = NULL;

  if (!sc_name_check(name, &gerror))
    return sc_error_propagate(error, gerror);
  return SC_OK;
}

guint64
sc_default_render_max(void)
{
  const char *env = g_getenv("SC_MAX_RENDERED_BYTES");
  guint64 v = env ? g_ascii_strtoull(env, NULL, 10) : 0;

  return v > 0 ? v : 4 * 1024 * 1024;
}

gboolean
sc_unit_word_ok(const char *s)
{
  if (*s == '\0')
    return FALSE;
  for (; *s; s++)
    if (g_ascii_isspace(*s) || *s == '"' || *s == '\'' || *s == '\\' || *s == '%' || *s == '$' ||
        *s == ';' || (guchar)*s < 0x20)
      return FALSE;
  return TRUE;
}

SC_API int
sc_context_set_signature_policy(sc_context *ctx, const char *path, sc_error **error)
{
  SC_CHECK_ARG(ctx != NULL, error);
  if (path != NULL && *path == '\0')
    return sc_error_set(error, SC_EINVAL, "signature policy: the path is empty");
  g_free(ctx->signature_policy);
  ctx->signature_policy = g_strdup(path);
  return SC_OK;
}

SC_API int
sc_context_set_registries_d(sc_context *ctx, const char *path, sc_error **error)
{
  SC_CHECK_ARG(ctx != NULL, error);
  if (path != NULL && *path == '\0')
    return sc_error_set(error, SC_EINVAL, "registries.d: the path is empty");
  g_free(ctx->registries_d);
  ctx->registries_d = g_strdup(path);
  return SC_OK;
}

const char *
sc_context_signature_policy(const sc_context *ctx)
{
  return ctx->signature_policy;
}

const char *
sc_context_registries_d(const sc_context *ctx)
{
  return ctx->registries_d;
}
