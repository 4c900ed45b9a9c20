/*
 * Rendering an image's exports for a container: variable resolution with
 * its precedence, then config.json, the unit and tmpfiles (for a user's
 * container, reviewed and rewritten by usermode.c).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "contract.h"

#include <errno.h>
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
    if (!sc_usermode_config(ctx, label, doc, error)) {
      json_decref(doc);
      return FALSE;
    }
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
    char *u = sc_usermode_unit(label, r->name, r->unit, rt->path, error);
    if (u == NULL)
      return FALSE;
    g_free(r->unit);
    r->unit = u;
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
    if (!sc_usermode_check_tmpfiles(ctx,
                                    label,
                                    text,
                                    ex->tmpfiles_template.data ? sc_values_get(r->values, "NAME")
                                                               : NULL,
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
