/*
 * Using installed containers: inspect, start, stop, and run a command in
 * one (exec into the running container, or run it once from a temporary
 * bundle over the deployment's read-only rootfs when it is stopped).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "container.h"

#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static gboolean
installed(sc_context *ctx, const char *name, char **out_slot, json_t **out_info, GError **error)
{
  if (!sc_name_check(name, error))
    return FALSE;
  *out_slot = sc_deploy_current_slot(ctx, name);
  *out_info = *out_slot ? sc_deploy_read_info(*out_slot) : NULL;
  if (*out_info == NULL) {
    g_set_error(error, SC_ERROR, SC_ENOTFOUND, "container %s is not installed", name);
    g_clear_pointer(out_slot, g_free);
    return FALSE;
  }
  return TRUE;
}

SC_API int
sc_container_inspect_json(sc_context *ctx, const char *name, char **out_json, sc_error **error)
{
  GError *gerror = NULL;
  g_autofree char *slot = NULL;
  json_t *info = NULL, *doc, *cfg;

  SC_CHECK_ARG(ctx != NULL && out_json != NULL, error);
  SC_CHECK_CONFIG(ctx, error);
  if (!installed(ctx, name, &slot, &info, &gerror))
    return sc_error_propagate(error, gerror);
  cfg = sc_deploy_read_slot_json(slot, "config.json");
  doc = json_pack("{s:i, s:s, s:o, s:o}", "schema", 1, "name", name, "info", info, "config",
                  cfg ? cfg : json_null());
  {
    /* the state, as list reports it; the vocabulary of the other
     * documents (image, id, created in RFC 3339) beside atomic's info */
    json_t *entry = sc_deploy_container_entry(ctx, name);
    json_object_set(doc, "state", json_object_get(entry, "state"));
    json_object_set(doc, "deployment", json_object_get(entry, "deployment"));
    json_object_set(doc, "image", json_object_get(entry, "image"));
    json_object_set(doc, "id", json_object_get(entry, "id"));
    json_object_set(doc, "created", json_object_get(entry, "created"));
    json_decref(entry);
  }
  *out_json = sc_json_dump(doc, TRUE);
  json_decref(doc);
  return SC_OK;
}

static int
unit_verb(sc_context *ctx, const char *name, const char *verb, sc_error **error)
{
  GError *gerror = NULL;
  g_autofree char *slot = NULL;
  g_autofree char *unit = NULL;
  json_t *info = NULL;

  if (!installed(ctx, name, &slot, &info, &gerror))
    return sc_error_propagate(error, gerror);
  if (json_is_false(json_object_get(info, "has-container-service"))) {
    json_decref(info);
    return sc_error_set(error, SC_EUNSUPPORTED, "container %s has no service to %s", name, verb);
  }
  json_decref(info);
  if (sc_context_is_user(ctx) && !sc_systemd_user_running(ctx))
    return sc_error_set(error,
                        SC_EUNSUPPORTED,
                        "cannot %s %s: the user's systemd is not running (no %s/systemd/private): "
                        "log in, or loginctl enable-linger",
                        verb,
                        name,
                        sc_context_user_runtime_dir(ctx));
  if (!sc_context_is_user(ctx) && (sc_systemd_offline(ctx) || !sc_systemd_running()))
    return sc_error_set(error, SC_EUNSUPPORTED,
                        "cannot %s %s: systemd is not running here%s", verb, name,
                        sc_systemd_offline(ctx) ? " (the container is in a --sysroot)" : "");
  unit = g_strconcat(name, ".service", NULL);
  if (!sc_systemctl(ctx, verb, unit, NULL, TRUE, &gerror))
    return sc_error_propagate(error, gerror);
  return SC_OK;
}

SC_API int
sc_container_start(sc_context *ctx, const char *name, sc_error **error)
{
  SC_CHECK_ARG(ctx != NULL, error);
  SC_CHECK_CONFIG(ctx, error);
  return unit_verb(ctx, name, "start", error);
}

SC_API int
sc_container_stop(sc_context *ctx, const char *name, sc_error **error)
{
  SC_CHECK_ARG(ctx != NULL, error);
  SC_CHECK_CONFIG(ctx, error);
  return unit_verb(ctx, name, "stop", error);
}


/* In an image root, its paths: bind sources are taken under it (except
 * those under @bundle, a real path on this machine). */
static void
map_bind_sources(sc_context *ctx, json_t *cfg, const char *bundle)
{
  size_t i;
  json_t *m;

  if (!sc_systemd_offline(ctx))
    return;
  json_array_foreach(json_object_get(cfg, "mounts"), i, m)
  {
    const char *src = json_string_value(json_object_get(m, "source"));
    const char *type = json_string_value(json_object_get(m, "type"));
    if (src && src[0] == '/' && type && strstr(type, "bind") &&
        !(bundle && g_str_has_prefix(src, bundle))) {
      g_autofree char *host = sc_context_host_path(ctx, src);
      json_object_set_new(m, "source", json_string(host));
    }
  }
}

/* Runs @argv with the caller's stdio; *out_status gets its exit status. */
static gboolean
run_attached(const char *const *argv, const char *cwd, int *out_status, GError **error)
{
  int status = 0;
  GPid pid;

  if (!g_spawn_async(cwd, (char **)argv, NULL,
                     G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_CHILD_INHERITS_STDIN, NULL, NULL, &pid,
                     error))
    return FALSE;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  g_spawn_close_pid(pid);
  *out_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return TRUE;
}

SC_API int
sc_container_run(sc_context *ctx, const char *name, const char *const *args, int *out_status,
                 sc_error **error)
{
  GError *gerror = NULL;
  g_autofree char *slot = NULL;
  g_autofree char *bundle = NULL;
  g_autofree char *id = NULL;
  json_t *info = NULL, *cfg = NULL;
  const char *runtime;
  int status = 0;
  gboolean ok = FALSE;

  SC_CHECK_ARG(ctx != NULL && out_status != NULL, error);
  SC_CHECK_CONFIG(ctx, error);
  if (!installed(ctx, name, &slot, &info, &gerror))
    return sc_error_propagate(error, gerror);
  if (!sc_context_runtime_path(ctx, &runtime, &gerror))
    goto out;
  if ((args == NULL || *args == NULL) &&
      (sc_context_is_user(ctx) ? sc_systemd_user_running(ctx)
                               : !sc_systemd_offline(ctx) && sc_systemd_running()) &&
      !json_is_false(json_object_get(info, "has-container-service"))) {
    /* as atomic: run NAME starts the service */
    g_autofree char *unit = g_strconcat(name, ".service", NULL);
    ok = sc_systemctl(ctx, "start", unit, NULL, TRUE, &gerror);
    goto out;
  }
  if (sc_systemd_unit_active(ctx, name)) {
    /* exec into the running container */
    GPtrArray *argv = g_ptr_array_new();
    g_ptr_array_add(argv, (gpointer)runtime);
    g_ptr_array_add(argv, "exec");
    if (isatty(STDIN_FILENO))
      g_ptr_array_add(argv, "--tty");
    g_ptr_array_add(argv, (gpointer)name);
    for (const char *const *a = args; a && *a; a++)
      g_ptr_array_add(argv, (gpointer)*a);
    g_ptr_array_add(argv, NULL);
    if (!args || !*args) {
      g_set_error(&gerror, SC_ERROR, SC_EINVAL,
                  "container %s is running: give a command to run in it", name);
      g_ptr_array_unref(argv);
      goto out;
    }
    ok = run_attached((const char *const *)argv->pdata, NULL, &status, &gerror);
    g_ptr_array_unref(argv);
    goto out;
  }
  /* stopped: once, from a scratch bundle over the read-only rootfs, with an
   * ID of its own (atomic reused NAME and collided with the service) */
  {
    g_autofree char *config = g_build_filename(slot, "config.json", NULL);
    g_autofree char *rootfs = sc_deploy_slot_rootfs(ctx, slot);
    json_t *process;
    cfg = sc_deploy_read_slot_json(slot, "config.json");
    if (!json_is_object(cfg) || !json_is_object(json_object_get(cfg, "process"))) {
      g_set_error(&gerror, SC_ERROR, SC_ESPEC, "%s: not a usable config.json", config);
      goto out;
    }
    if (!g_file_test(rootfs, G_FILE_TEST_IS_DIR)) {
      g_set_error(&gerror, SC_ERROR, SC_EUNSUPPORTED, "container %s has no rootfs to run",
                  name);
      goto out;
    }
    process = json_object_get(cfg, "process");
    if (args && *args) {
      json_t *a = json_array();
      for (const char *const *p = args; *p; p++)
        json_array_append_new(a, json_string(*p));
      json_object_set_new(process, "args", a);
    }
    json_object_set_new(process, "terminal", json_boolean(isatty(STDIN_FILENO)));
    /* linux.cgroupsPath is the unit's (a child of NAME.service): a run
     * outside the unit takes the runtime's default cgroup, as before. */
    if (json_is_object(json_object_get(cfg, "linux")))
      json_object_del(json_object_get(cfg, "linux"), "cgroupsPath");
    map_bind_sources(ctx, cfg, NULL);
    if (!json_is_object(json_object_get(cfg, "root")))
      json_object_set_new(cfg, "root", json_object());
    json_object_set_new(json_object_get(cfg, "root"), "path", json_string(rootfs));
    bundle = g_dir_make_tmp("sc-run-XXXXXX", &gerror);
    if (bundle == NULL)
      goto out;
    {
      g_autofree char *path = g_build_filename(bundle, "config.json", NULL);
      if (json_dump_file(cfg, path, JSON_INDENT(2)) != 0) {
        g_set_error(&gerror, SC_ERROR, SC_EIO, "cannot write %s", path);
        goto out;
      }
    }
    id = g_strdup_printf("%s-run-%d", name, (int)getpid());
    {
      const char *argv[] = {runtime, "run", id, NULL};
      ok = run_attached(argv, bundle, &status, &gerror);
    }
  }
out:
  if (bundle)
    sc_rm_rf(bundle);
  json_decref(cfg);
  json_decref(info);
  if (!ok)
    return sc_error_propagate(error, gerror);
  *out_status = status;
  return SC_OK;
}

/* An atomic.run=once image: run it once, now, and keep nothing. The bundle
 * is a scratch directory in the store's tmp (DESTDIR): its rootfs is made
 * of hardlinks into the store when the container's root is read-only, of
 * copies when it may write (so that it cannot change the store's files);
 * config.json is rendered as for an install; the tmpfiles lines are
 * applied before and removed after. *@out_doc: the rendered files, the
 * actions, and the exit status (when run). */
gboolean
sc_run_once(sc_context *ctx, OstreeRepo *repo, ScImage *img, const char *name,
            const sc_values *values, gboolean strict, gboolean log_warnings,
            const char *const *args, gboolean dry_run, json_t **out_doc, GError **error)
{
  g_autofree char *base = NULL;
  g_autofree char *exports = NULL;
  g_autofree char *rootfs = NULL;
  g_autofree char *tmpfiles = NULL;
  sc_exports *ex = NULL;
  sc_render_opts *ropts = NULL;
  sc_rendering *r = NULL;
  json_t *cfg = NULL, *files;
  const char *runtime;
  int status = 0, slock = -1;
  gboolean ok = FALSE, writable, tmpfiles_created = FALSE;

  base = sc_store_checkout_exports(repo, img, error);
  if (base == NULL)
    return FALSE;
  exports = g_build_filename(base, "exports", NULL);
  rootfs = g_build_filename(base, "rootfs", NULL);
  if ((ex = sc_deploy_open_exports(exports, error)) == NULL ||
      !sc_context_runtime_path(ctx, &runtime, error))
    goto out;
  sc_render_opts_new(&ropts, NULL);
  sc_render_opts_set_name(ropts, name, NULL);
  sc_render_opts_set_values(ropts, values, NULL);
  sc_render_opts_set_strict(ropts, strict, NULL);
  sc_render_opts_set_image(ropts, img->name, img->id, NULL);
  sc_render_opts_set_run_once(ropts, base);
  if (!sc_render_internal(ctx, ex, ropts, FALSE, &r, error))
    goto out;
  /* before the command, which may hold the terminal for long */
  for (const char *const *w = sc_rendering_get_warnings(r); log_warnings && *w; w++)
    sc_context_log(ctx, SC_LOG_WARNING, "%s", *w);
  cfg = json_loads(sc_rendering_get_config(r), 0, NULL);
  writable = !json_is_true(json_object_get(json_object_get(cfg, "root"), "readonly"));
  files = json_pack("{s:s}", "config.json", sc_rendering_get_config(r));
  if (sc_rendering_get_tmpfiles(r))
    json_object_set_new(files, "tmpfiles", json_string(sc_rendering_get_tmpfiles(r)));
  *out_doc = json_pack("{s:i, s:s, s:s, s:s, s:b, s:b, s:o, s:[s]}", "schema", 1, "name", name,
                       "image", img->name, "id", img->id, "run_once", 1, "dry_run", dry_run,
                       "files", files, "actions",
                       writable ? "run once from a scratch bundle (atomic.run=once) over a "
                                  "copy of the image; nothing is installed"
                                : "run once from a scratch bundle (atomic.run=once) over the "
                                  "image's files; nothing is installed");
  json_object_set_new(*out_doc, "warnings", sc_rendering_warnings_json(r));
  if (dry_run) {
    ok = TRUE;
    goto out;
  }

  if (g_mkdir_with_parents(rootfs, 0755) != 0) {
    g_set_error(error, SC_ERROR, SC_EIO, "cannot create %s: %s", rootfs, g_strerror(errno));
    goto out;
  }
  slock = sc_store_lock(ctx, repo, FALSE, error);
  if (slock < 0 || !sc_store_checkout(repo, img, rootfs, writable, error))
    goto out;
  close(slock);
  slock = -1;
  map_bind_sources(ctx, cfg, base);
  if (args && *args) {
    json_t *a = json_array();
    for (const char *const *p = args; *p; p++)
      json_array_append_new(a, json_string(*p));
    json_object_set_new(json_object_get(cfg, "process"), "args", a);
    json_object_set_new(json_object_get(cfg, "process"), "terminal",
                        json_boolean(isatty(STDIN_FILENO)));
  }
  if (!isatty(STDIN_FILENO)) /* the runtime refuses a terminal it cannot have */
    json_object_set_new(json_object_get(cfg, "process"), "terminal", json_false());
  {
    g_autofree char *path = g_build_filename(base, "config.json", NULL);
    g_autofree char *text = json_dumps(cfg, JSON_INDENT(2));
    if (!g_file_set_contents(path, text, -1, error))
      goto out;
  }
  if (sc_rendering_get_tmpfiles(r)) {
    tmpfiles = g_build_filename(base, "tmpfiles.conf", NULL);
    if (!g_file_set_contents(tmpfiles, sc_rendering_get_tmpfiles(r), -1, error) ||
        !sc_tmpfiles_run(ctx, "--create", tmpfiles, TRUE, error))
      goto out;
    tmpfiles_created = TRUE;
  }
  {
    const char *argv[] = {runtime, "run", name, NULL};
    if (!run_attached(argv, base, &status, error))
      goto out;
  }
  json_object_set_new(*out_doc, "exit_status", json_integer(status));
  ok = TRUE;

out:
  if (tmpfiles_created)
    sc_tmpfiles_run(ctx, "--remove", tmpfiles, FALSE, NULL);
  if (slock >= 0)
    close(slock);
  if (!ok)
    g_clear_pointer(out_doc, json_decref);
  sc_rm_rf(base);
  json_decref(cfg);
  sc_rendering_free(r);
  sc_render_opts_free(ropts);
  sc_exports_free(ex);
  return ok;
}

struct sc_run_opts {
  sc_values *values;
  const sc_pull_opts *pull;
  gboolean strict;
};

SC_API int
sc_run_opts_new(sc_run_opts **out_opts, sc_error **error)
{
  SC_CHECK_ARG(out_opts != NULL, error);
  *out_opts = g_new0(sc_run_opts, 1);
  (*out_opts)->values = sc_values_new_internal();
  return SC_OK;
}

SC_API void
sc_run_opts_free(sc_run_opts *o)
{
  if (o == NULL)
    return;
  sc_values_free(o->values);
  g_free(o);
}

SC_API int
sc_run_opts_set_values(sc_run_opts *o, const sc_values *values, sc_error **error)
{
  SC_CHECK_ARG(o != NULL && values != NULL, error);
  return sc_values_replace(&o->values, values, error);
}

SC_API int
sc_run_opts_set_pull_opts(sc_run_opts *o, const sc_pull_opts *pull, sc_error **error)
{
  SC_CHECK_ARG(o != NULL, error);
  o->pull = pull;
  return SC_OK;
}

SC_API int
sc_run_opts_set_strict(sc_run_opts *o, int strict, sc_error **error)
{
  SC_CHECK_ARG(o != NULL, error);
  o->strict = strict != 0;
  return SC_OK;
}

SC_API int
sc_image_run_with_opts(sc_context *ctx, const char *image, const sc_run_opts *opts,
                       const char *const *args, int *out_status, sc_error **error)
{
  GError *gerror = NULL;
  g_autofree char *name = NULL;
  g_autoptr(sc_values) none = NULL;
  const sc_values *values;
  OstreeRepo *repo = NULL;
  ScImage *img;
  json_t *doc = NULL;
  gboolean ok;
  g_autoptr(GHashTable) before = NULL;

  SC_CHECK_ARG(ctx != NULL && image != NULL && out_status != NULL, error);
  SC_CHECK_CONFIG(ctx, error);
  img = sc_deploy_find_or_pull(ctx, image, opts ? opts->pull : NULL, &repo, &before, &gerror);
  if (img == NULL)
    return sc_error_propagate(error, gerror);
  values = opts ? opts->values : (none = sc_values_new_internal());
  name = g_strdup_printf("run-once-%d", (int)getpid()); /* (atomic's name) */
  ok = sc_run_once(ctx, repo, img, name, values, opts && opts->strict, TRUE, args, FALSE, &doc,
                   &gerror);
  if (ok)
    *out_status = (int)json_integer_value(json_object_get(doc, "exit_status"));
  json_decref(doc);
  /* a run that could not start takes back its pull; one that ran (whatever
   * its exit status) keeps the image, as podman run does */
  if (!ok && before)
    sc_deploy_forget_pull(ctx, before, img);
  sc_image_free(img);
  if (!ok)
    return sc_error_propagate(error, gerror);
  return SC_OK;
}

SC_API int
sc_image_run(sc_context *ctx, const char *image, const sc_values *values,
             const sc_pull_opts *pull, const char *const *args, int *out_status,
             sc_error **error)
{
  sc_run_opts o = { NULL, pull, FALSE };
  g_autoptr(sc_values) none = NULL;

  /* (the values are not copied: @o lives for this call only) */
  o.values = values ? (sc_values *)values : (none = sc_values_new_internal());
  return sc_image_run_with_opts(ctx, image, &o, args, out_status, error);
}
