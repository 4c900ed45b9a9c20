/*
 * systemd: systemctl and systemd-tmpfiles, on the running host, or offline
 * inside an image root (--sysroot: systemctl --root, no daemon-reload).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "container.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

gboolean
sc_systemd_offline(sc_context *ctx)
{
  return strcmp(sc_context_get_sysroot(ctx), "/") != 0;
}

/* Whether the user's own systemd runs (its private socket is in the
 * runtime directory): without it a user's units are written and enabled
 * on disk, and take effect at the user's next login. */
gboolean
sc_systemd_user_running(sc_context *ctx)
{
  const char *rt = sc_context_user_runtime_dir(ctx);
  g_autofree char *sock = rt ? g_build_filename(rt, "systemd", "private", NULL) : NULL;

  return sock != NULL && g_file_test(sock, G_FILE_TEST_EXISTS);
}

/* Whether systemd runs as the init system here (sd_booted()'s test). */
gboolean
sc_systemd_running(void)
{
  return g_file_test("/run/systemd/system", G_FILE_TEST_IS_DIR);
}

static gboolean
run(sc_context *ctx, const char *const *argv, gboolean check, GError **error)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *line = g_strjoinv(" ", (char **)argv);
  int status = 0;
  g_autoptr(GError) local = NULL;

  sc_context_log(ctx, SC_LOG_INFO, "%s", line);
  if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                    &status, &local)) {
    g_set_error(error, SC_ERROR, SC_EIO, "cannot run %s: %s", argv[0], local->message);
    return FALSE;
  }
  if (!g_spawn_check_wait_status(status, NULL)) {
    if (!check) {
      sc_context_log(ctx, SC_LOG_DEBUG, "%s failed (ignored): %s", line, g_strstrip(err));
      return TRUE;
    }
    g_set_error(error, SC_ERROR, SC_EIO, "%s failed: %s", line, g_strstrip(err));
    return FALSE;
  }
  return TRUE;
}

/* Whether NAME.service is active (never, in a sysroot or without systemd). */
gboolean
sc_systemd_unit_active(sc_context *ctx, const char *name)
{
  g_autofree char *unit = g_strconcat(name, ".service", NULL);
  const char *argv[] = { "systemctl", "is-active", "--quiet", unit, NULL, NULL };
  int status = 1;

  if (sc_context_is_user(ctx)) {
    if (!sc_systemd_user_running(ctx))
      return FALSE;
    argv[1] = "--user";
    argv[2] = "is-active";
    argv[3] = "--quiet";
    argv[4] = unit;
  } else if (sc_systemd_offline(ctx) || !sc_systemd_running())
    return FALSE;
  if (!g_spawn_sync(NULL, (char **)argv, NULL,
                    G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                    NULL, NULL, NULL, NULL, &status, NULL))
    return FALSE;
  return g_spawn_check_wait_status(status, NULL);
}

/* systemctl [--root=SYSROOT] VERB [ARGS] */
gboolean
sc_systemctl(sc_context *ctx, const char *verb, const char *arg1, const char *arg2,
             gboolean check, GError **error)
{
  g_autofree char *root = NULL;
  const char *argv[7];
  int n = 0;

  argv[n++] = "systemctl";
  /* a user's units: their own systemd's (what needs the manager waits
   * for the user's next login when it does not run) */
  if (sc_context_is_user(ctx)) {
    argv[n++] = "--user";
    if (!sc_systemd_user_running(ctx) && strcmp(verb, "daemon-reload") == 0) {
      sc_context_log(ctx,
                     SC_LOG_INFO,
                     "systemctl --user %s skipped: the user's systemd does "
                     "not run",
                     verb);
      return TRUE;
    }
  } else if (sc_systemd_offline(ctx))
    argv[n++] = root = g_strconcat("--root=", sc_context_get_sysroot(ctx), NULL);
  argv[n++] = verb;
  if (arg1)
    argv[n++] = arg1;
  if (arg2)
    argv[n++] = arg2;
  argv[n] = NULL;
  return run(ctx, argv, check, error);
}

/* systemd-tmpfiles --create|--remove FILE: only on the running host (an
 * image root gets its directories when it boots). */
gboolean
sc_tmpfiles_run(sc_context *ctx, const char *action, const char *file, gboolean check,
                GError **error)
{
  const char *argv[] = { "systemd-tmpfiles", action, file, NULL, NULL };
  if (sc_systemd_offline(ctx))
    return TRUE;
  if (sc_context_is_user(ctx)) { /* the user's specifiers and their rights */
    argv[1] = "--user";
    argv[2] = action;
    argv[3] = file;
  }
  return run(ctx, argv, check, error);
}

/* Whether NAME.service stays up for @settle_ms after a (re)start: it fails
 * as soon as the unit is failed or inactive or systemd restarted it (the
 * start resets NRestarts), and it must be active at the end. *@out_state:
 * what was seen, for the message. */
gboolean
sc_systemd_unit_settles(sc_context *ctx, const char *name, guint settle_ms, char **out_state)
{
  g_autofree char *unit = g_strconcat(name, ".service", NULL);
  const char *sys_argv[] = { "systemctl", "show", "-p",        "ActiveState", "-p",
                             "SubState",  "-p",   "NRestarts", unit,          NULL };
  const char *user_argv[] = { "systemctl", "--user", "show",      "-p", "ActiveState", "-p",
                              "SubState",  "-p",     "NRestarts", unit, NULL };
  const char **argv = sc_context_is_user(ctx) ? user_argv : sys_argv;
  gint64 deadline = g_get_monotonic_time() + (gint64)settle_ms * 1000;
  g_autofree char *previous = NULL;

  for (;;) {
    g_autofree char *out = NULL;
    g_autofree char *active = NULL;
    g_autofree char *sub = NULL;
    char *save = NULL;
    guint64 restarts = 0;
    int status = 1;
    gboolean last = g_get_monotonic_time() >= deadline;

    if (!g_spawn_sync(NULL, (char **)argv, NULL,
                      G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL,
                      &status, NULL) ||
        !g_spawn_check_wait_status(status, NULL)) {
      *out_state = g_strdup("unknown (systemctl show failed)");
      return FALSE;
    }
    /* (strtok_r: the library may run on several threads) */
    for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
      if (g_str_has_prefix(line, "ActiveState="))
        active = g_strdup(line + strlen("ActiveState="));
      else if (g_str_has_prefix(line, "SubState="))
        sub = g_strdup(line + strlen("SubState="));
      else if (g_str_has_prefix(line, "NRestarts="))
        restarts = g_ascii_strtoull(line + strlen("NRestarts="), NULL, 10);
    }
    {
      g_autofree char *seen = g_strcmp0(active, sub) == 0
                                  ? g_strdup(active ? active : "?")
                                  : g_strdup_printf("%s (%s)", active ? active : "?",
                                                    sub ? sub : "?");
      g_autofree char *state =
          restarts > 0 ? g_strdup_printf("%s after %" G_GUINT64_FORMAT " automatic restarts",
                                         seen, restarts)
                       : g_strdup(seen);
      if (g_strcmp0(state, previous) != 0)
        sc_context_log(ctx, SC_LOG_DEBUG, "%s: %s", unit, state);
      g_free(previous);
      previous = g_strdup(state);
      if (g_strcmp0(active, "failed") == 0 || g_strcmp0(active, "inactive") == 0 ||
          restarts > 0 || (last && g_strcmp0(active, "active") != 0)) {
        *out_state = g_steal_pointer(&state);
        return FALSE;
      }
    }
    if (last)
      return TRUE;
    g_usleep(200 * 1000);
  }
}

/* After an offline `systemctl --root enable UNIT`: systemctl labels
 * nothing in an image root, so the links it made to UNIT in
 * /etc/systemd/system/X.{wants,requires,upholds} get the policy's label
 * here, and so do those directories when they carry none (one that
 * existed with a label keeps it). On the running host systemctl labels
 * them itself. */
gboolean
sc_systemd_label_enabled(sc_context *ctx, const char *unit, GError **error)
{
  g_autofree char *dir = NULL;
  g_autoptr(GPtrArray) subdirs = g_ptr_array_new_with_free_func(g_free);
  ScSelinux *se = NULL;
  DIR *d;
  struct dirent *e;
  int fd;

  if (!sc_systemd_offline(ctx))
    return TRUE;
  if (!sc_context_selinux(ctx, &se, error))
    return FALSE;
  if (se == NULL)
    return TRUE;
  /* listed without following any link: one there would lead out of the
   * image root */
  dir = sc_context_host_dir(ctx, "/etc/systemd/system");
  fd = sc_confined_open_nolinks(dir, FALSE, NULL);
  d = fd >= 0 ? fdopendir(fd) : NULL;
  if (d == NULL) {
    if (fd >= 0)
      close(fd);
    return TRUE;
  }
  while ((e = readdir(d)) != NULL)
    if (g_str_has_suffix(e->d_name, ".wants") || g_str_has_suffix(e->d_name, ".requires") ||
        g_str_has_suffix(e->d_name, ".upholds"))
      g_ptr_array_add(subdirs, g_build_filename(dir, e->d_name, NULL));
  closedir(d);
  for (guint i = 0; i < subdirs->len; i++) {
    const char *sub = subdirs->pdata[i];
    g_autofree char *link = g_build_filename(sub, unit, NULL);
    struct stat st;
    if (lstat(sub, &st) != 0 || !S_ISDIR(st.st_mode) || lstat(link, &st) != 0 ||
        !S_ISLNK(st.st_mode))
      continue;
    if (lgetxattr(sub, "security.selinux", NULL, 0) < 0 && errno == ENODATA &&
        !sc_context_label_host_path(ctx, sub, error))
      return FALSE;
    if (!sc_context_label_host_path(ctx, link, error))
      return FALSE;
  }
  return TRUE;
}

/* The directories systemd (the system manager, or the user's, as
 * systemd.unit(5) lists them) reads units from, besides the one the tool
 * writes in. */
static GPtrArray *
unit_search_dirs(sc_context *ctx)
{
  GPtrArray *dirs = g_ptr_array_new_with_free_func(g_free);
  static const char *const system_dirs[] = {
    "/etc/systemd/system.control",   "/run/systemd/system.control", "/run/systemd/transient",
    "/run/systemd/generator.early",  "/run/systemd/system",         "/run/systemd/generator",
    "/usr/local/lib/systemd/system", "/usr/lib/systemd/system",     "/lib/systemd/system",
    "/run/systemd/generator.late"
  };
  static const char *const user_dirs[] = { "/etc/systemd/user",
                                           "/run/systemd/user",
                                           "/usr/local/lib/systemd/user",
                                           "/usr/lib/systemd/user",
                                           "/lib/systemd/user" };

  if (!sc_context_is_user(ctx)) {
    for (guint i = 0; i < G_N_ELEMENTS(system_dirs); i++)
      g_ptr_array_add(dirs, sc_context_host_path(ctx, system_dirs[i]));
    return dirs;
  }
  {
    const char *config = sc_context_user_config_dir(ctx);
    const char *runtime = sc_context_user_runtime_dir(ctx);
    const char *data = sc_context_user_data_dir(ctx);
    const char *config_dirs = g_getenv("XDG_CONFIG_DIRS");
    const char *data_dirs = g_getenv("XDG_DATA_DIRS");
    g_auto(GStrv) cdirs =
      g_strsplit(config_dirs && *config_dirs ? config_dirs : "/etc/xdg", ":", -1);
    g_auto(GStrv) ddirs =
      g_strsplit(data_dirs && *data_dirs ? data_dirs : "/usr/local/share:/usr/share", ":", -1);

    if (config)
      g_ptr_array_add(dirs, g_build_filename(config, "systemd", "user.control", NULL));
    if (runtime)
      for (guint i = 0; i < 4; i++)
        g_ptr_array_add(
          dirs,
          g_build_filename(
            runtime,
            "systemd",
            (const char *[]){ "user.control", "transient", "generator.early", "user" }[i],
            NULL));
    for (guint i = 0; cdirs[i]; i++)
      if (cdirs[i][0] == '/')
        g_ptr_array_add(dirs, g_build_filename(cdirs[i], "systemd", "user", NULL));
    if (data)
      g_ptr_array_add(dirs, g_build_filename(data, "systemd", "user", NULL));
    for (guint i = 0; ddirs[i]; i++)
      if (ddirs[i][0] == '/')
        g_ptr_array_add(dirs, g_build_filename(ddirs[i], "systemd", "user", NULL));
    for (guint i = 0; i < G_N_ELEMENTS(user_dirs); i++)
      g_ptr_array_add(dirs, g_strdup(user_dirs[i]));
  }
  return dirs;
}

gboolean
sc_systemd_check_unit_name_free(sc_context *ctx, const char *name, GError **error)
{
  g_autoptr(GPtrArray) dirs = unit_search_dirs(ctx);
  g_autofree char *unit = g_strconcat(name, ".service", NULL);

  for (guint i = 0; i < dirs->len; i++) {
    g_autofree char *path = g_build_filename(dirs->pdata[i], unit, NULL);
    struct stat st;
    if (lstat(path, &st) != 0)
      continue;
    g_set_error(error,
                SC_ERROR,
                SC_EEXISTS,
                "container name '%s': %s exists, and the container's %s would take its place "
                "for %s: choose another --name",
                name,
                path,
                unit,
                sc_context_is_user(ctx) ? "your systemd (your session's services)"
                                        : "the system's systemd");
    return FALSE;
  }
  return TRUE;
}
