/*
 * Install: the image into a slot, its files rendered, its host files and
 * unit written, the NAME symlink last (a container without it is
 * half-installed; uninstall or a new install clears it). A transaction
 * in phases; a failure is undone as an uninstall undoes it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "container.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct sc_install_opts {
  char *name;
  char *rootfs;
  char *auto_update; /* NULL: the image's label decides */
  sc_values *values;
  const sc_pull_opts *pull;
  gboolean enable, start, dry_run;
  gboolean strict; /* an undeclared user value fails the render */
};

SC_API int
sc_install_opts_new(sc_install_opts **out_opts, sc_error **error)
{
  sc_install_opts *o;

  SC_CHECK_ARG(out_opts != NULL, error);
  o = g_new0(sc_install_opts, 1);
  o->values = sc_values_new_internal();
  o->enable = TRUE;
  *out_opts = o;
  return SC_OK;
}

SC_API void
sc_install_opts_free(sc_install_opts *o)
{
  if (o == NULL)
    return;
  g_free(o->name);
  g_free(o->rootfs);
  g_free(o->auto_update);
  sc_values_free(o->values);
  g_free(o);
}

SC_API int
sc_install_opts_set_name(sc_install_opts *o, const char *name, sc_error **error)
{
  SC_CHECK_ARG(o != NULL, error);
  return sc_name_replace(&o->name, name, error);
}

SC_API int
sc_install_opts_set_values(sc_install_opts *o, const sc_values *values, sc_error **error)
{
  SC_CHECK_ARG(o != NULL && values != NULL, error);
  return sc_values_replace(&o->values, values, error);
}

SC_API int
sc_install_opts_set_rootfs(sc_install_opts *o, const char *location, sc_error **error)
{
  SC_CHECK_ARG(o != NULL, error);
  if (location && !g_path_is_absolute(location))
    return sc_error_set(error, SC_EINVAL, "--rootfs %s: must be an absolute path", location);
  g_free(o->rootfs);
  o->rootfs = location ? g_canonicalize_filename(location, "/") : NULL;
  return SC_OK;
}

SC_API int
sc_install_opts_set_pull_opts(sc_install_opts *o, const sc_pull_opts *pull, sc_error **error)
{
  SC_CHECK_ARG(o != NULL, error);
  o->pull = pull;
  return SC_OK;
}

SC_API int
sc_install_opts_set_enable(sc_install_opts *o, int enable, sc_error **error)
{
  SC_CHECK_ARG(o != NULL, error);
  o->enable = enable != 0;
  return SC_OK;
}

SC_API int
sc_install_opts_set_start(sc_install_opts *o, int start, sc_error **error)
{
  SC_CHECK_ARG(o != NULL, error);
  o->start = start != 0;
  return SC_OK;
}

SC_API int
sc_install_opts_set_dry_run(sc_install_opts *o, int dry_run, sc_error **error)
{
  SC_CHECK_ARG(o != NULL, error);
  o->dry_run = dry_run != 0;
  return SC_OK;
}

SC_API int
sc_install_opts_set_strict(sc_install_opts *o, int strict, sc_error **error)
{
  SC_CHECK_ARG(o != NULL, error);
  o->strict = strict != 0;
  return SC_OK;
}

SC_API int
sc_install_opts_set_auto_update(sc_install_opts *o, const char *policy, sc_error **error)
{
  GError *gerror = NULL;

  SC_CHECK_ARG(o != NULL, error);
  if (!sc_deploy_auto_update_valid(policy, &gerror))
    return sc_error_propagate(error, gerror);
  g_free(o->auto_update);
  o->auto_update = g_strdup(policy);
  return SC_OK;
}

/* atomic's default name (get_default_system_name): the last path
 * component without digest, and "-TAG" unless the tag is latest:
 * "registry.fedoraproject.org/f27/etcd" -> "etcd", "foo:1.2" -> "foo-1.2" */
static char *
name_from_image(const char *image)
{
  const char *slash = strrchr(image, '/');
  const char *base = slash ? slash + 1 : image;
  gsize stem = strcspn(base, ":@");
  const char *tag = base[stem] == ':' ? base + stem + 1 : NULL;
  gsize tag_len = tag ? strcspn(tag, "@") : 0;

  if (tag == NULL || (tag_len == 6 && strncmp(tag, "latest", 6) == 0))
    return g_strndup(base, stem);
  return g_strdup_printf("%.*s-%.*s", (int)stem, base, (int)tag_len, tag);
}

/* An image that runs once at install (label atomic.run=once). */
static gboolean
is_run_once(ScImage *img)
{
  json_t *labels = json_object_get(json_object_get(img->config, "config"), "Labels");
  return g_strcmp0(json_string_value(json_object_get(labels, "atomic.run")), "once") == 0;
}


/* An install, as a transaction that goes through phases: check (the
 * name, the lock, what a crash left, collisions), prepare (the slot, or a
 * dry run's /exports), render (every file, and the host files planned,
 * before the host is touched), apply (each step journaled), result. A
 * failure in any phase is undone as an uninstall undoes it. */
typedef struct {
  sc_context *ctx;
  const sc_install_opts *opts;
  char *name, *root, *remote, *exports_tmp, *exports_dir;
  char *location; /* --rootfs, resolved in the sysroot */
  OstreeRepo *repo;
  ScImage *img;
  sc_exports *ex;
  sc_rendering *r;
  GPtrArray *plan;
  json_t *actions;
  json_t *labels; /* path (in the sysroot) -> SELinux label; NULL without a policy */
  ScPaths p;
  ScJournal *journal;
  const char *runtime;
  int lock;
  gboolean wrote;   /* the slot was filled */
  gboolean already; /* installed already, as asked: nothing to do */
  char *installed;  /* then: its deployment (as seen from the sysroot) */
  char *made_top;   /* the topmost directory of the checkout root this install made */
  GHashTable *pulled_before; /* the store's refs before this install pulled its image */
  gboolean done;    /* installed (or nothing to do): what it made stays */
} Install;

/* The directories leading to the checkout root that this install made
 * (a fresh sysroot's var/lib/containers/atomic), removed again when it
 * fails: bad input leaves the root as it was. Each one goes only when
 * empty, from the checkout root up, never through a link. */
static void
install_remove_made_dirs(Install *t)
{
  g_autofree char *p = g_strdup(t->root);

  for (;;) {
    g_autofree char *dir = g_path_get_dirname(p);
    g_autofree char *base = g_path_get_basename(p);
    int fd = sc_confined_open_nolinks(dir, FALSE, NULL);
    gboolean removed = fd >= 0 && unlinkat(fd, base, AT_REMOVEDIR) == 0;
    if (fd >= 0)
      close(fd);
    if (!removed || strcmp(p, t->made_top) == 0)
      return;
    g_free(p);
    p = g_steal_pointer(&dir);
  }
}

static void
install_clear(Install *t)
{
  if (t->exports_tmp)
    sc_rm_rf(t->exports_tmp);
  sc_deploy_unlock_container(t->ctx, t->name, t->lock);
  if (t->made_top && !t->done)
    install_remove_made_dirs(t);
  if (t->pulled_before && !t->done)
    sc_deploy_forget_pull(t->ctx, t->pulled_before, t->img);
  g_clear_pointer(&t->pulled_before, g_hash_table_unref);
  g_free(t->made_top);
  g_free(t->name);
  g_free(t->root);
  g_free(t->remote);
  g_free(t->location);
  g_free(t->installed);
  g_free(t->exports_tmp);
  g_free(t->exports_dir);
  sc_image_free(t->img);
  sc_exports_free(t->ex);
  sc_rendering_free(t->r);
  g_clear_pointer(&t->plan, g_ptr_array_unref);
  json_decref(t->actions);
  json_decref(t->labels);
  sc_deploy_paths_clear(&t->p);
  sc_journal_free(t->journal);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Install, install_clear)

/* The image (pulled when the store lacks it) and the container's name. */
static gboolean
install_find(Install *t, const char *image, GError **error)
{
  t->img = sc_deploy_find_or_pull(t->ctx, image, t->opts->pull, &t->repo, &t->pulled_before, error);
  if (t->img == NULL)
    return FALSE;
  if (t->name == NULL) {
    t->name = name_from_image(t->img->name);
    if (!sc_name_check(t->name, error)) {
      g_prefix_error(error, "(from the image name; give one with --name) ");
      return FALSE;
    }
  }
  return TRUE;
}

/* The keys whose values differ between @a and @b, for a message. */
static char *
values_diff(const sc_values *a, const sc_values *b)
{
  g_autoptr(GPtrArray) keys = g_ptr_array_new();
  const sc_values *sets[] = { a, b };

  for (int s = 0; s < 2; s++)
    for (size_t i = 0; i < sc_values_count(sets[s]); i++) {
      const char *k = sc_values_key_at(sets[s], i);
      if (g_strcmp0(sc_values_get(a, k), sc_values_get(b, k)) != 0 &&
          !g_ptr_array_find_with_equal_func(keys, k, g_str_equal, NULL))
        g_ptr_array_add(keys, (gpointer)k);
    }
  g_ptr_array_sort(keys, sc_strcmp_indirect);
  g_ptr_array_add(keys, NULL);
  return g_strjoinv(", ", (char **)keys->pdata);
}

/* A recorded value as text (an integer in an older info), or NULL. */
static const char *
recorded_value(json_t *values, const char *key, char buf[32])
{
  json_t *v = json_object_get(values, key);

  if (json_is_string(v))
    return json_string_value(v);
  if (json_is_integer(v)) {
    g_snprintf(buf, 32, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    return buf;
  }
  return NULL;
}

/* Whether the values given now render what the deployment recorded: the
 * order of the --set options is no difference, nor is a value given that
 * equals the one the deployment has in effect (e.g. the manifest's
 * default), nor a value given before and omitted now when the manifest's
 * default is that same value. Compared with the effective values the
 * deployment recorded ("values"), as the rendering depends only on those. */
static gboolean
values_render_same(Install *t, const char *slot, json_t *info, const sc_values *had)
{
  json_t *effective = json_object_get(info, "values");
  const sc_values *now = t->opts->values;
  g_autoptr(sc_exports) ex = NULL;
  char buf[32];

  for (size_t i = 0; i < sc_values_count(now); i++) {
    const char *k = sc_values_key_at(now, i);
    if (g_strcmp0(sc_values_get(now, k), sc_values_get(had, k)) != 0 &&
        g_strcmp0(sc_values_get(now, k), recorded_value(effective, k, buf)) != 0)
      return FALSE;
  }
  for (size_t i = 0; i < sc_values_count(had); i++) {
    const char *k = sc_values_key_at(had, i);
    g_autofree char *rootfs = NULL, *dir = NULL;
    if (sc_values_get(now, k) != NULL)
      continue;
    /* omitted now: the manifest's default takes its place */
    if (ex == NULL) {
      rootfs = sc_deploy_slot_rootfs(t->ctx, slot);
      dir = g_build_filename(rootfs, "exports", NULL);
      if ((ex = sc_deploy_open_exports(dir, NULL)) == NULL)
        return FALSE;
    }
    if (ex->defaults == NULL ||
        g_strcmp0(sc_values_get(ex->defaults, k), sc_values_get(had, k)) != 0)
      return FALSE;
  }
  return TRUE;
}

/* --runtime on an installed container: another runtime (or one that is
 * not there) is a difference like another image or values: update's job */
static gboolean
install_again_runtime(Install *t, json_t *info, GError **error)
{
  const char *runtime, *had = json_string_value(json_object_get(info, "runtime"));

  if (!sc_context_runtime_given(t->ctx))
    return TRUE;
  if (!sc_context_runtime_path(t->ctx, &runtime, error))
    return FALSE;
  if (g_strcmp0(runtime, had) == 0)
    return TRUE;
  g_set_error(error,
              SC_ERROR,
              SC_EEXISTS,
              "container %s is already installed with runtime %s, not %s: use "
              "'syscontainerctl --runtime %s update %s' to change it",
              t->name,
              had ? had : "?",
              runtime,
              runtime,
              t->name);
  return FALSE;
}

/* NAME is installed: from the same image (by ID) with the same values and
 * --rootfs it is nothing to do (atomic printed "NAME already present" and
 * exited 0); anything else is an update's job, refused before anything
 * changes. */
static gboolean
install_again(Install *t, GError **error)
{
  g_autofree char *slot = sc_deploy_current_slot(t->ctx, t->name);
  g_autoptr(json_t) info = slot ? sc_deploy_read_info(slot) : NULL;
  g_autoptr(sc_values) had = NULL;
  g_autofree char *location = NULL;
  g_autofree char *diff = NULL;
  const char *id, *remote;

  if (info == NULL) {
    g_set_error(error,
                SC_ERROR,
                SC_EEXISTS,
                "container %s is already installed (%s); uninstall it or choose another --name",
                t->name,
                t->p.link_path);
    return FALSE;
  }
  id = json_string_value(json_object_get(info, "revision"));
  if (g_strcmp0(id, t->img->id) != 0) {
    g_set_error(error,
                SC_ERROR,
                SC_EEXISTS,
                "container %s is already installed from %s (%.12s), not from %s (%.12s): use "
                "'syscontainerctl update --rebase IMAGE %s' to change its image",
                t->name,
                json_string_value(json_object_get(info, "image")),
                id ? id : "?",
                t->img->name,
                t->img->id,
                t->name);
    return FALSE;
  }
  had = sc_update_user_values(info);
  if (!values_render_same(t, slot, info, had)) {
    diff = values_diff(had, t->opts->values);
    g_set_error(error,
                SC_ERROR,
                SC_EEXISTS,
                "container %s is already installed with other values (%s): use "
                "'syscontainerctl update --set K=V %s' to change them",
                t->name,
                diff,
                t->name);
    return FALSE;
  }
  remote = json_string_value(json_object_get(info, "remote"));
  if (t->opts->rootfs) {
    g_autofree char *rootfs = sc_deploy_remote_rootfs(t->ctx, t->opts->rootfs, &location, error);
    if (rootfs == NULL)
      return FALSE;
  }
  if (g_strcmp0(location, remote) != 0) {
    g_set_error(error,
                SC_ERROR,
                SC_EEXISTS,
                "container %s is already installed with %s%s, not %s%s: uninstall it to change "
                "its root",
                t->name,
                remote ? "--rootfs " : "its own root",
                remote ? remote : "",
                location ? "--rootfs " : "its own root",
                location ? location : "");
    return FALSE;
  }
  if (!install_again_runtime(t, info, error))
    return FALSE;
  t->already = TRUE;
  t->installed = sc_context_root_path(t->ctx, slot);
  return TRUE;
}

static gboolean
install_check(Install *t, GError **error)
{
  ScPaths *p = &t->p;
  struct stat st;

  if (!t->opts->dry_run && ((t->lock = sc_deploy_lock_container(t->root, t->name, error)) < 0 ||
                            !sc_deploy_recover(t->ctx, t->name, NULL, error)))
    return FALSE;
  /* a user's units are enabled on disk without their systemd (it reads
   * them when the user logs in), but a start needs it */
  if (sc_context_is_user(t->ctx) && !t->opts->dry_run && t->opts->start &&
      !sc_systemd_user_running(t->ctx)) {
    g_set_error(error,
                SC_ERROR,
                SC_EUNSUPPORTED,
                "the user's systemd is not running (no %s/systemd/private), so the container "
                "could not be started: install without --now, then start it once logged in "
                "(loginctl enable-linger keeps it running without a session)",
                sc_context_user_runtime_dir(t->ctx));
    return FALSE;
  }
  if (!sc_context_is_user(t->ctx) && !sc_systemd_offline(t->ctx) && !sc_systemd_running() &&
      !t->opts->dry_run) {
    g_set_error(error, SC_ERROR, SC_EUNSUPPORTED,
                "systemd is not running on this machine, so the container could not be "
                "started or enabled: install into an image root with --sysroot DIR");
    return FALSE;
  }
  sc_deploy_paths_init(t->ctx, t->name, 0, p);
  if (lstat(p->link_path, &st) == 0) {
    g_autofree char *store = sc_context_get_repo(t->ctx)
                               ? sc_context_host_dir(t->ctx, sc_context_get_repo(t->ctx))
                               : NULL;
    if (S_ISDIR(st.st_mode) && g_strcmp0(store, p->link_path) == 0)
      g_set_error(error, SC_ERROR, SC_EEXISTS,
                  "%s is your image store, not a container: choose another --name",
                  p->link_path);
    else if (S_ISDIR(st.st_mode))
      g_set_error(error, SC_ERROR, SC_EEXISTS,
                  "%s is a deployment slot of another container: choose another --name",
                  p->link_path);
    else
      return install_again(t, error);
    return FALSE;
  }
  if (lstat(p->slot_path, &st) == 0 && S_ISLNK(st.st_mode)) {
    g_set_error(error, SC_ERROR, SC_EEXISTS,
                "%s is the container %s.0, and this container would need it as its deployment "
                "slot: choose another --name",
                p->slot_path, t->name);
    return FALSE;
  }
  if (lstat(p->unit_path, &st) == 0 || lstat(p->tmpfiles_path, &st) == 0) {
    g_set_error(error, SC_ERROR, SC_EEXISTS,
                "%s exists and does not belong to a container: refusing to replace it",
                lstat(p->unit_path, &st) == 0 ? p->unit_path : p->tmpfiles_path);
    return FALSE;
  }
  if (!sc_systemd_check_unit_name_free(t->ctx, t->name, error))
    return FALSE;
  return sc_context_runtime_path(t->ctx, &t->runtime, error);
}

/* The rootfs in the slot (or, for a dry run, only /exports, in the
 * store's tmp), and the image's exports from it. */
static gboolean
install_prepare(Install *t, GError **error)
{
  if (t->opts->rootfs &&
      (t->remote = sc_deploy_remote_rootfs(t->ctx, t->opts->rootfs, &t->location, error)) == NULL)
    return FALSE;
  if (t->opts->dry_run && t->remote) {
    g_autofree char *host = sc_context_host_path(t->ctx, t->remote);
    t->exports_dir = g_build_filename(host, "exports", NULL);
  } else if (t->opts->dry_run) {
    t->exports_tmp = sc_store_checkout_exports(t->repo, t->img, error);
    if (t->exports_tmp == NULL)
      return FALSE;
    t->exports_dir = g_build_filename(t->exports_tmp, "exports", NULL);
  } else {
    /* (a slot without the symlink is what a failed install left) */
    g_autofree char *rootfs = NULL;
    t->wrote = TRUE;
    if (!sc_deploy_fill_slot(t->ctx, t->repo, t->img, t->p.slot_path, t->remote, error))
      return FALSE;
    rootfs = sc_deploy_slot_rootfs(t->ctx, t->p.slot_path);
    t->exports_dir = g_build_filename(rootfs, "exports", NULL);
  }
  t->ex = sc_deploy_open_exports(t->exports_dir, error);
  if (t->ex == NULL)
    return FALSE;
  if (!g_file_test(t->exports_dir, G_FILE_TEST_IS_DIR))
    sc_context_log(t->ctx, SC_LOG_WARNING,
                   "image %s has no /exports: the default config.json and unit are used; you may "
                   "want to change %s/config.json",
                   t->img->name, t->p.slot);
  return TRUE;
}

/* @host_path's label, by its path in the sysroot, into t->labels. */
static gboolean
add_label(Install *t, const char *host_path, mode_t type, GError **error)
{
  g_autofree char *path = sc_context_root_path(t->ctx, host_path);
  g_autofree char *label = NULL;

  if (!sc_context_label_for(t->ctx, path, type, &label, error))
    return FALSE;
  if (label)
    json_object_set_new(t->labels, path, json_string(label));
  return TRUE;
}

/* A file the install writes, and the directories missing above it (made
 * and labelled with it: /etc/systemd/system in a fresh image root). */
static gboolean
add_label_made(Install *t, const char *host_path, GError **error)
{
  g_autofree char *dir = g_path_get_dirname(host_path);

  while (strcmp(dir, "/") != 0 && !g_file_test(dir, G_FILE_TEST_EXISTS)) {
    char *up = g_path_get_dirname(dir);
    if (!add_label(t, dir, S_IFDIR, error)) {
      g_free(up);
      return FALSE;
    }
    g_free(dir);
    dir = up;
  }
  return add_label(t, host_path, S_IFREG, error);
}

/* What the install labels, and how (docs/security.md, "SELinux labels"):
 * for a dry run to show, and the result to report. Nothing without a
 * policy. The layers' own files were labelled when they were imported. */
static gboolean
install_labels(Install *t, GError **error)
{
  ScSelinux *se = NULL;
  g_autofree char *rootfs = NULL, *rootfs_label = NULL;
  g_autofree char *unit_copy = g_strdup_printf("%s.service", t->name);
  g_autofree char *tmpfiles_copy = g_strdup_printf("tmpfiles-%s.conf", t->name);
  const char *slot_files[] = {"config.json", "info", unit_copy, tmpfiles_copy};
  g_autofree char *slot = sc_context_root_path(t->ctx, t->p.slot_path);
  const char *key;
  json_t *v;

  if (!sc_context_selinux(t->ctx, &se, error))
    return FALSE;
  if (se == NULL)
    return TRUE;
  t->labels = json_object();
  if (!g_file_test(t->root, G_FILE_TEST_EXISTS) && !add_label(t, t->root, S_IFDIR, error))
    return FALSE;
  if (!add_label(t, t->p.slot_path, S_IFDIR, error) ||
      !sc_deploy_rootfs_label(t->ctx, &rootfs_label, error))
    return FALSE;
  rootfs = g_build_filename(slot, "rootfs", NULL);
  if (t->remote) {
    /* the slot's link to the remote rootfs, labelled as its path */
    g_autofree char *link = g_build_filename(t->p.slot_path, "rootfs", NULL);
    if (!add_label(t, link, S_IFLNK, error))
      return FALSE;
  } else if (rootfs_label)
    json_object_set_new(t->labels, rootfs, json_string(rootfs_label));
  for (guint i = 0; i < G_N_ELEMENTS(slot_files); i++) {
    g_autofree char *path = g_build_filename(t->p.slot_path, slot_files[i], NULL);
    if ((i == 2 && !sc_rendering_get_unit(t->r)) || (i == 3 && !sc_rendering_get_tmpfiles(t->r)))
      continue;
    if (!add_label(t, path, S_IFREG, error))
      return FALSE;
  }
  if ((sc_rendering_get_unit(t->r) && !add_label_made(t, t->p.unit_path, error)) ||
      (sc_rendering_get_tmpfiles(t->r) && !add_label_made(t, t->p.tmpfiles_path, error)) ||
      !add_label(t, t->p.link_path, S_IFLNK, error) ||
      !sc_hostfs_plan_labels(t->ctx, t->plan, t->labels, error))
    return FALSE;
  json_object_foreach(t->labels, key, v)
    json_array_append_new(t->actions, json_sprintf("label %s %s", key, json_string_value(v)));
  return TRUE;
}

/* Every file rendered and validated, the host files planned, the actions
 * listed: before the host is touched. */
static gboolean
install_render(Install *t, GError **error)
{
  g_autoptr(sc_render_opts) ropts = NULL;
  guint n = 0;

  sc_render_opts_new(&ropts, NULL);
  sc_render_opts_set_name(ropts, t->name, NULL);
  sc_render_opts_set_values(ropts, t->opts->values, NULL);
  sc_render_opts_set_strict(ropts, t->opts->strict, NULL);
  sc_render_opts_set_image(ropts, t->img->name, t->img->id, NULL);
  if (t->remote)
    sc_render_opts_set_remote_rootfs(ropts, t->remote, NULL);
  if (!sc_render_internal(t->ctx, t->ex, ropts, FALSE, &t->r, error))
    return FALSE;
  t->plan = sc_hostfs_plan(t->ctx, t->ex, sc_rendering_get_values(t->r), NULL, error);
  if (t->plan == NULL)
    return FALSE;
  if (t->remote)
    json_array_append_new(t->actions, json_sprintf("link %s/rootfs -> %s (remote rootfs)",
                                                   t->p.slot, t->remote));
  else
    json_array_append_new(t->actions,
                          json_sprintf("checkout %s into %s/rootfs", t->img->name, t->p.slot));
  for (guint i = 0; i < t->plan->len; i++)
    n += sc_hostfs_item_writes(t->plan->pdata[i]);
  if (n)
    json_array_append_new(t->actions, json_sprintf("install %u host files and directories", n));
  if (sc_rendering_get_unit(t->r)) {
    g_autofree char *dir = sc_context_unit_dir(t->ctx);
    json_array_append_new(t->actions, json_sprintf("write %s/%s.service", dir, t->name));
  }
  if (sc_rendering_get_tmpfiles(t->r)) {
    g_autofree char *dir = sc_context_tmpfiles_dir(t->ctx);
    json_array_append_new(t->actions, json_sprintf("write %s/%s.conf", dir, t->name));
  }
  json_array_append_new(t->actions, json_sprintf("link %s/%s -> %s",
                                                 sc_context_get_checkout_root(t->ctx), t->name,
                                                 t->p.slot));
  return install_labels(t, error);
}

static gboolean
install_write_info(Install *t, GHashTable *tracked, GError **error)
{
  json_t *info = sc_deploy_info_document(t->img, t->r, t->opts->values, t->ex, tracked,
                                         t->runtime);
  char *text;
  g_autofree char *with_nl = NULL;
  g_autofree char *path = g_build_filename(t->p.slot_path, "info", NULL);

  if (t->location)
    json_object_set_new(info, "remote", json_string(t->location));
  json_object_set_new(info, "auto-update",
                      sc_deploy_auto_update(t->img, t->opts->auto_update, NULL));
  text = json_dumps(info, JSON_INDENT(4) | JSON_SORT_KEYS);
  json_decref(info);
  with_nl = g_strconcat(text, "\n", NULL);
  free(text);
  return sc_context_write_file(t->ctx, path, with_nl, error);
}

/* The host changed step by step, each step journaled first. */
/* The user's unit and tmpfiles directories, made (theirs) when missing: a
 * new account has no ~/.config/systemd/user (0755, as systemd makes it);
 * the tmpfiles fragments are ours alone (0700). */
static gboolean
user_dirs(sc_context *ctx, const ScPaths *p, GError **error)
{
  g_autofree char *units = g_path_get_dirname(p->unit_path);
  g_autofree char *tmpfiles = g_path_get_dirname(p->tmpfiles_path);

  return sc_context_make_dirs(ctx, units, 0755, error) &&
         sc_context_make_dirs(ctx, tmpfiles, 0700, error);
}

static gboolean
install_apply(Install *t, GError **error)
{
  sc_context *ctx = t->ctx;
  ScPaths *p = &t->p;
  g_autoptr(GHashTable) planned = sc_hostfs_plan_tracking(t->plan, TRUE);
  g_autoptr(GHashTable) tracked = NULL;
  g_autofree char *tmp_link = NULL;
  const char *unit_text = sc_rendering_get_unit(t->r);
  const char *tmpfiles_text = sc_rendering_get_tmpfiles(t->r);

  if (!sc_rendering_write_internal(t->r, p->slot_path, error) ||
      !sc_deploy_label_slot_files(ctx, p->slot_path, t->name, error))
    return FALSE;
  /* (nothing named NAME.service or NAME.conf existed: they are ours) */
  t->journal = sc_journal_new("install", p->slot_path, planned, FALSE);
  t->journal->owns_unit = TRUE;
  if (!sc_journal_step(ctx, t->journal, "prepared", error))
    return FALSE;
  tracked = sc_hostfs_apply(ctx, t->plan, error);
  if (tracked == NULL || !sc_journal_step(ctx, t->journal, "hostfs", error) ||
      !install_write_info(t, tracked, error) || !sc_journal_step(ctx, t->journal, "info", error))
    return FALSE;
  /* a user's ~/.config/systemd/user may not be there yet */
  if (sc_context_is_user(ctx) && !user_dirs(ctx, p, error))
    return FALSE;
  if ((unit_text && !sc_context_write_file(ctx, p->unit_path, unit_text, error)) ||
      (tmpfiles_text && !sc_context_write_file(ctx, p->tmpfiles_path, tmpfiles_text, error)) ||
      !sc_journal_step(ctx, t->journal, "unit", error))
    return FALSE;
  if (t->ex->no_container_service && !t->remote)
    sc_deploy_trim_rootfs(p->slot_path);
  /* last: the symlink makes the container exist */
  tmp_link = g_strdup_printf("%s.%08x.tmp", p->link_path, g_random_int());
  if (symlink(p->slot, tmp_link) != 0) {
    g_set_error(error, SC_ERROR, SC_EIO, "cannot link %s: %s", p->link_path, g_strerror(errno));
    return FALSE;
  }
  /* labelled under its temporary name, as the other files */
  if (!sc_context_label_host_path(ctx, tmp_link, error)) {
    unlink(tmp_link);
    return FALSE;
  }
  if (rename(tmp_link, p->link_path) != 0) {
    g_set_error(error, SC_ERROR, SC_EIO, "cannot link %s: %s", p->link_path, g_strerror(errno));
    unlink(tmp_link);
    return FALSE;
  }
  if (!sc_journal_step(ctx, t->journal, "link", error))
    return FALSE;
  if (unit_text) {
    g_autofree char *unit = g_strconcat(t->name, ".service", NULL);
    if ((!sc_systemd_offline(ctx) &&
         !sc_systemctl(ctx, "daemon-reload", NULL, NULL, TRUE, error)) ||
        (tmpfiles_text && !sc_tmpfiles_run(ctx, "--create", p->tmpfiles_path, TRUE, error)) ||
        (t->opts->enable && (!sc_systemctl(ctx, "enable", unit, NULL, TRUE, error) ||
                             !sc_systemd_label_enabled(ctx, unit, error))) ||
        (t->opts->start && !sc_systemd_offline(ctx) &&
         !sc_systemctl(ctx, "start", unit, NULL, TRUE, error)))
      return FALSE;
  }
  if (!sc_journal_step(ctx, t->journal, "enabled", error))
    return FALSE;
  sc_journal_finish(ctx, t->journal);
  return TRUE;
}

/* install --dry-run: the privileges the new container gets, as an update
 * reviews them (docs/security.md, "Privilege review"): everything it has
 * is added, from nothing. */
static gboolean
install_privileges(Install *t, json_t *doc, GError **error)
{
  ScPaths other = {0};
  g_autoptr(GHashTable) planned = sc_hostfs_plan_tracking(t->plan, TRUE);
  g_autoptr(GPtrArray) files = g_ptr_array_new();
  g_autoptr(json_t) priv = NULL;
  GHashTableIter it;
  gpointer k, sum;
  gboolean ok;

  g_hash_table_iter_init(&it, planned);
  while (g_hash_table_iter_next(&it, &k, &sum))
    if (strcmp(sum, "0") != 0) /* (a directory it makes: no privilege) */
      g_ptr_array_add(files, k);
  sc_deploy_paths_init(t->ctx, t->name, 1, &other);
  {
    const char *own[] = {t->p.slot, other.slot, NULL};
    ScPrivInput in = {sc_rendering_get_config(t->r), sc_rendering_get_unit(t->r), t->runtime,
                      files, t->p.slot, own, t->name};
    in.user_manager = sc_context_is_user(t->ctx);
    ok = sc_privileges_compute(&in, &priv, error);
  }
  sc_deploy_paths_clear(&other);
  if (!ok) {
    g_prefix_error(error, "container %s: ", t->name);
    return FALSE;
  }
  json_object_set_new(doc, "privileges", sc_privileges_diff(NULL, priv));
  return TRUE;
}

static json_t *
install_result(Install *t)
{
  json_t *files = json_object();
  json_t *doc = json_pack("{s:i, s:s, s:s, s:s, s:s, s:b, s:O}", "schema", 1, "name", t->name,
                          "image", t->img->name, "id", t->img->id, "deployment", t->p.slot,
                          "dry_run", t->opts->dry_run, "actions", t->actions);

  json_object_set_new(doc, "already_installed", json_false());

  json_object_set_new(files, "config.json", json_string(sc_rendering_get_config(t->r)));
  if (sc_rendering_get_unit(t->r))
    json_object_set_new(files, "unit", json_string(sc_rendering_get_unit(t->r)));
  if (sc_rendering_get_tmpfiles(t->r))
    json_object_set_new(files, "tmpfiles", json_string(sc_rendering_get_tmpfiles(t->r)));
  json_object_set_new(doc, "files", files);
  json_object_set_new(doc, "warnings", sc_rendering_warnings_json(t->r));
  if (t->labels)
    json_object_set(doc, "selinux_labels", t->labels);
  return doc;
}

/* Undone as an uninstall does it (stopped and disabled, files by the
 * journal); before the journal, only the slot was written. */
static void
install_undo(Install *t)
{
  if (t->opts->dry_run || t->name == NULL || t->p.link_path == NULL)
    return;
  if (t->journal)
    sc_uninstall_locked(t->ctx, t->name, NULL, NULL);
  else if (t->wrote)
    sc_deploy_clear_slot(t->p.slot_path, NULL);
}

SC_API int
sc_container_install(sc_context *ctx, const char *image, const sc_install_opts *opts,
                     char **out_json, sc_error **error)
{
  /* (no lock yet: the cleanup of an early return closes no descriptor,
   * least of all the caller's fd 0) */
  g_auto(Install) t = {.lock = -1};
  GError *gerror = NULL;
  g_autoptr(json_t) doc = NULL;

  SC_CHECK_ARG(ctx != NULL && image != NULL && opts != NULL, error);
  SC_CHECK_CONFIG(ctx, error);
  t.ctx = ctx;
  t.opts = opts;
  t.actions = json_array();
  t.name = g_strdup(opts->name);
  t.root = sc_context_host_dir(ctx, sc_context_get_checkout_root(ctx));
  if (!opts->dry_run) {
    g_autofree char *p = g_strdup(t.root);
    struct stat st;
    while (strcmp(p, "/") != 0 && strcmp(p, ".") != 0 && lstat(p, &st) != 0 && errno == ENOENT) {
      char *up = g_path_get_dirname(p);
      g_free(t.made_top);
      t.made_top = g_steal_pointer(&p);
      p = up;
    }
    if (!sc_context_make_dirs(ctx, t.root, sc_context_is_user(ctx) ? 0700 : 0755, &gerror))
      return sc_error_propagate(error, gerror);
  }
  if (!install_find(&t, image, &gerror))
    return sc_error_propagate(error, gerror);
  if (is_run_once(t.img)) {
    /* nothing is installed, nothing is locked: it runs, now, as NAME (the
     * runtime refuses a second NAME at the same time) */
    if (!sc_run_once(ctx, t.repo, t.img, t.name, opts->values, opts->strict, FALSE, NULL,
                     opts->dry_run, &doc, &gerror))
      return sc_error_propagate(error, gerror);
  } else if (!install_check(&t, &gerror)) {
    return sc_error_propagate(error, gerror); /* (nothing was written) */
  } else if (t.already) {
    doc = json_pack("{s:i, s:s, s:s, s:s, s:s, s:b, s:b, s:[]}",
                    "schema",
                    1,
                    "name",
                    t.name,
                    "image",
                    t.img->name,
                    "id",
                    t.img->id,
                    "deployment",
                    t.installed,
                    "dry_run",
                    opts->dry_run,
                    "already_installed",
                    1,
                    "actions");
  } else if (!install_prepare(&t, &gerror) || !install_render(&t, &gerror) ||
             (!opts->dry_run && !install_apply(&t, &gerror))) {
    install_undo(&t);
    return sc_error_propagate(error, gerror);
  } else {
    doc = install_result(&t);
    if (opts->dry_run && !install_privileges(&t, doc, &gerror))
      return sc_error_propagate(error, gerror);
  }
  t.done = TRUE;
  if (out_json)
    *out_json = sc_json_dump(doc, TRUE);
  return SC_OK;
}
