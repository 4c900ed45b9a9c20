/*
 * systemd: systemctl and systemd-tmpfiles, on the running host, or offline
 * inside an image root (--sysroot: systemctl --root, no daemon-reload).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sc-private.h"

#include <string.h>

gboolean
sc_systemd_offline(sc_context *ctx)
{
  return strcmp(sc_context_get_sysroot(ctx), "/") != 0;
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
  const char *argv[] = {"systemctl", "is-active", "--quiet", unit, NULL};
  int status = 1;

  if (sc_systemd_offline(ctx) || !sc_systemd_running())
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
  const char *argv[6];
  int n = 0;

  argv[n++] = "systemctl";
  if (sc_systemd_offline(ctx))
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
  const char *argv[] = {"systemd-tmpfiles", action, file, NULL};
  if (sc_systemd_offline(ctx))
    return TRUE;
  return run(ctx, argv, check, error);
}
