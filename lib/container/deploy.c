/*
 * Containers: install, uninstall, list. A container NAME is the symlink
 * CHECKOUT_ROOT/NAME -> NAME.0 (or NAME.1), the slot holding rootfs/,
 * config.json, NAME.service, tmpfiles-NAME.conf and info (atomic's keys),
 * plus /etc/systemd/system/NAME.service, /etc/tmpfiles.d/NAME.conf and the
 * host files of /exports/hostfs. The symlink is written last: a container
 * without it is half-installed, and uninstall (or a new install) clears it.
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
  sc_values *values;
  const sc_pull_opts *pull;
  gboolean enable, start, dry_run;
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

/* "quay.io/coreos/etcd:v3" -> "etcd" */
static char *
name_from_image(const char *image)
{
  const char *slash = strrchr(image, '/');
  const char *base = slash ? slash + 1 : image;
  return g_strndup(base, strcspn(base, ":@"));
}

/* An image that runs once at install (label atomic.run=once). */
static gboolean
is_run_once(ScImage *img)
{
  json_t *labels = json_object_get(json_object_get(img->config, "config"), "Labels");
  return g_strcmp0(json_string_value(json_object_get(labels, "atomic.run")), "once") == 0;
}

/* The container's lock: CHECKOUT/.NAME.lock, exclusive. The file may be
 * removed by whoever holds the lock (sc_deploy_unlock_container): a lock
 * taken on a file that is no longer at that path is taken again. */
int
sc_deploy_lock_container(const char *root, const char *name, GError **error)
{
  g_autofree char *path = g_strdup_printf("%s/.%s.lock", root, name);

  for (;;) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    struct stat held, now;
    if (fd < 0 || flock(fd, LOCK_EX) != 0 || fstat(fd, &held) != 0) {
      g_set_error(error, SC_ERROR, SC_EIO, "cannot lock container %s (%s): %s", name, path,
                  g_strerror(errno));
      if (fd >= 0)
        close(fd);
      return -1;
    }
    if (stat(path, &now) == 0 && now.st_dev == held.st_dev && now.st_ino == held.st_ino)
      return fd;
    close(fd); /* removed meanwhile */
  }
}

/* Releases the lock; its file goes when no container @name is left (no
 * symlink, no slot). */
void
sc_deploy_unlock_container(sc_context *ctx, const char *name, int fd)
{
  g_autofree char *root = NULL;
  ScPaths p0 = {0}, p1 = {0};
  struct stat st;

  if (fd < 0)
    return;
  root = sc_context_host_dir(ctx, sc_context_get_checkout_root(ctx));
  sc_deploy_paths_init(ctx, name, 0, &p0);
  sc_deploy_paths_init(ctx, name, 1, &p1);
  if (lstat(p0.link_path, &st) != 0 && !(lstat(p0.slot_path, &st) == 0 && S_ISDIR(st.st_mode)) &&
      !(lstat(p1.slot_path, &st) == 0 && S_ISDIR(st.st_mode))) {
    g_autofree char *path = g_strdup_printf("%s/.%s.lock", root, name);
    unlink(path);
  }
  sc_deploy_paths_clear(&p0);
  sc_deploy_paths_clear(&p1);
  close(fd);
}

void
sc_deploy_paths_clear(ScPaths *p)
{
  g_free(p->unit_path);
  g_free(p->tmpfiles_path);
  g_free(p->link_path);
  g_free(p->slot_path);
  g_free(p->slot);
}

void
sc_deploy_paths_init(sc_context *ctx, const char *name, int slot, ScPaths *p)
{
  g_autofree char *unit = g_strdup_printf("/etc/systemd/system/%s.service", name);
  g_autofree char *tmpfiles = g_strdup_printf("/etc/tmpfiles.d/%s.conf", name);
  g_autofree char *link = g_build_filename(sc_context_get_checkout_root(ctx), name, NULL);

  p->unit_path = sc_context_host_path(ctx, unit);
  p->tmpfiles_path = sc_context_host_path(ctx, tmpfiles);
  p->link_path = sc_context_host_path(ctx, link);
  p->slot = g_strdup_printf("%s/%s.%d", sc_context_get_checkout_root(ctx), name, slot);
  p->slot_path = sc_context_host_path(ctx, p->slot);
}

gboolean
sc_deploy_write_host_file(const char *path, const char *text, GError **error)
{
  g_autofree char *dir = g_path_get_dirname(path);
  g_autofree char *base = g_path_get_basename(path);
  int dfd;
  gboolean ok;

  /* @path has no link in it (sc_context_host_path): none is followed now */
  dfd = sc_confined_open_nolinks(dir, TRUE, error);
  if (dfd < 0)
    return FALSE;
  ok = sc_write_file_atomic(dfd, dir, base, text, strlen(text), 0644, error);
  close(dfd);
  return ok;
}

json_t *
sc_deploy_info_document(ScImage *img, const sc_rendering *r, const sc_values *user, const sc_exports *ex,
              GHashTable *tracked, const char *runtime)
{
  json_t *files = json_array(), *sums = json_object(), *tmpl = json_array(),
         *rename = json_object();
  json_t *doc;

  if (tracked) {
    g_autoptr(GList) keys = g_list_sort(g_hash_table_get_keys(tracked), (GCompareFunc)strcmp);
    for (GList *l = keys; l; l = l->next) {
      json_array_append_new(files, json_string(l->data));
      json_object_set_new(sums, l->data, json_string(g_hash_table_lookup(tracked, l->data)));
    }
  }
  for (guint i = 0; i < ex->installed_files_template->len; i++)
    json_array_append_new(tmpl, json_string(ex->installed_files_template->pdata[i]));
  for (guint i = 0; i + 1 < ex->rename_files->len; i += 2) {
    const char *t = ex->rename_files->pdata[i + 1];
    g_autofree char *val = sc_template_substitute("manifest.json", t, strlen(t),
                                                  sc_rendering_get_values(r), NULL, NULL);
    json_object_set_new(rename, ex->rename_files->pdata[i], json_string(val ? val : t));
  }
  doc = json_pack("{s:s, s:s, s:s, s:I, s:o, s:o, s:b, s:o, s:o, s:o, s:o, s:n, s:s, s:n, "
                  "s:b, s:s}",
                  "image", img->name, "revision", img->id, "ostree-commit", img->commit,
                  "created", (json_int_t)(g_get_real_time() / G_USEC_PER_SEC), "values",
                  sc_values_to_json_object(sc_rendering_get_values(r)), "user-values",
                  sc_values_to_json_object(user), "has-container-service",
                  !ex->no_container_service, "installed-files", files,
                  "installed-files-checksum", sums, "installed-files-template", tmpl,
                  "rename-installed-files", rename, "rpm-installed", "system-package", "no",
                  "remote", "use-links", ex->use_links, "runtime", runtime);
  return doc;
}

/* The image (pulled when the store lacks it). */
ScImage *
sc_deploy_find_or_pull(sc_context *ctx, const char *image, const sc_pull_opts *pull, OstreeRepo **out_repo,
             GError **error)
{
  g_autoptr(GError) local = NULL;
  OstreeRepo *repo;
  ScImage *img = NULL;

  if (sc_store_open(ctx, FALSE, &repo, NULL)) {
    int lock = sc_store_lock(ctx, repo, FALSE, error);
    if (lock < 0)
      return NULL;
    img = sc_image_resolve_one(repo, image, &local);
    close(lock);
    if (img) {
      *out_repo = repo;
      return img;
    }
    if (!g_error_matches(local, SC_ERROR, SC_ENOTFOUND)) {
      g_propagate_error(error, g_steal_pointer(&local));
      return NULL;
    }
  }
  {
    g_autofree char *name = NULL;
    if (!sc_image_pull_internal(ctx, image, pull, &name, NULL, error) ||
        !sc_store_open(ctx, FALSE, &repo, error))
      return NULL;
    img = sc_image_resolve_one(repo, name, error);
  }
  *out_repo = repo;
  return img;
}

/* The exports of a deployment: @dir, or none (defaults) when it is missing. */
sc_exports *
sc_deploy_open_exports(const char *dir, GError **error)
{
  struct stat st;

  if (lstat(dir, &st) != 0 && errno == ENOENT)
    return sc_exports_new_empty(dir);
  return sc_exports_load_dir(dir, error);
}

/* A file installer (noContainerService) has no use for its rootfs once its
 * files are on the host; its /exports stay, to put them back on rollback or
 * after a failed update (atomic removed them too, and could not). */
void
sc_deploy_trim_rootfs(const char *slot_path)
{
  g_autofree char *rootfs = g_build_filename(slot_path, "rootfs", NULL);
  g_autoptr(GDir) dir = g_dir_open(rootfs, 0, NULL);
  const char *entry;

  while (dir && (entry = g_dir_read_name(dir)) != NULL) {
    g_autofree char *path = g_build_filename(rootfs, entry, NULL);
    if (strcmp(entry, "exports") != 0)
      sc_rm_rf(path);
  }
}

/* Removes a slot directory; never a symlink in its place (the container
 * "NAME.0" when NAME.0 is looked at as a slot of "NAME"). */
void
sc_deploy_clear_slot(const char *slot_path)
{
  struct stat st;

  if (lstat(slot_path, &st) == 0 && S_ISDIR(st.st_mode))
    sc_rm_rf(slot_path);
}

/* --rootfs LOCATION (as seen from the sysroot): LOCATION/rootfs when it
 * exists (a deployment or bundle), else LOCATION itself when it holds /usr
 * (a root). Returns the rootfs, as seen from the sysroot. */
char *
sc_deploy_remote_rootfs(sc_context *ctx, const char *location, GError **error)
{
  g_autofree char *host = NULL;
  g_autofree char *sub = NULL;
  g_autofree char *usr = NULL;

  if (!g_path_is_absolute(location)) {
    g_set_error(error, SC_ERROR, SC_EINVAL, "--rootfs %s: must be an absolute path", location);
    return NULL;
  }
  host = sc_context_host_path(ctx, location);
  sub = g_build_filename(host, "rootfs", NULL);
  usr = g_build_filename(host, "usr", NULL);
  if (!g_file_test(host, G_FILE_TEST_IS_DIR)) {
    g_set_error(error, SC_ERROR, SC_ENOTFOUND, "--rootfs %s: the remote rootfs does not exist",
                location);
    return NULL;
  }
  if (g_file_test(sub, G_FILE_TEST_IS_DIR))
    return g_build_filename(location, "rootfs", NULL);
  if (g_file_test(usr, G_FILE_TEST_IS_DIR))
    return g_strdup(location);
  g_set_error(error, SC_ERROR, SC_EINVAL,
              "--rootfs %s does not contain a rootfs (neither %s/rootfs nor %s/usr exists)",
              location, location, location);
  return NULL;
}

/* The host path of a slot's rootfs: SLOT/rootfs, or, for a remote rootfs
 * (a symlink to a path as seen from the sysroot), its target. */
char *
sc_deploy_slot_rootfs(sc_context *ctx, const char *slot_path)
{
  g_autofree char *rootfs = g_build_filename(slot_path, "rootfs", NULL);
  g_autofree char *target = g_file_read_link(rootfs, NULL);

  if (target && g_path_is_absolute(target))
    return sc_context_host_path(ctx, target);
  return g_steal_pointer(&rootfs);
}

/* Fills @slot_path from scratch: rootfs/ checked out from @img (under the
 * store lock), or, with @remote_rootfs, a symlink to it (nothing is checked
 * out). */
gboolean
sc_deploy_fill_slot(sc_context *ctx, OstreeRepo *repo, ScImage *img, const char *slot_path,
                    const char *remote_rootfs, GError **error)
{
  g_autofree char *rootfs = g_build_filename(slot_path, "rootfs", NULL);
  struct stat st;
  int slock;
  gboolean ok;

  if (lstat(slot_path, &st) == 0 && S_ISLNK(st.st_mode)) {
    /* NAME.0 is then the container "NAME.0" */
    g_autofree char *base = g_path_get_basename(slot_path);
    g_set_error(error, SC_ERROR, SC_EEXISTS,
                "%s is the container %s, and this container would need it as its deployment "
                "slot: choose another name",
                slot_path, base);
    return FALSE;
  }
  sc_rm_rf(slot_path);
  if (remote_rootfs) {
    if (g_mkdir_with_parents(slot_path, 0755) != 0 || symlink(remote_rootfs, rootfs) != 0) {
      g_set_error(error, SC_ERROR, SC_EIO, "cannot create %s: %s", rootfs, g_strerror(errno));
      return FALSE;
    }
    return TRUE;
  }
  if (g_mkdir_with_parents(rootfs, 0755) != 0) {
    g_set_error(error, SC_ERROR, SC_EIO, "cannot create %s: %s", rootfs, g_strerror(errno));
    return FALSE;
  }
  slock = sc_store_lock(ctx, repo, FALSE, error);
  ok = slock >= 0 && sc_store_checkout(repo, img, rootfs, FALSE, error);
  if (slock >= 0)
    close(slock);
  return ok;
}

static gboolean uninstall_locked(sc_context *ctx, const char *name, GPtrArray *kept,
                                 GError **error);

/* An install, as a transaction that goes through phases: check (the
 * name, the lock, what a crash left, collisions), prepare (the slot, or a
 * dry run's /exports), render (every file, and the host files planned,
 * before the host is touched), apply (each step journaled), result. A
 * failure in any phase is undone as an uninstall undoes it. */
typedef struct {
  sc_context *ctx;
  const sc_install_opts *opts;
  char *name, *root, *remote, *exports_tmp, *exports_dir;
  OstreeRepo *repo;
  ScImage *img;
  sc_exports *ex;
  sc_rendering *r;
  GPtrArray *plan;
  json_t *actions;
  ScPaths p;
  ScJournal *journal;
  const char *runtime;
  int lock;
  gboolean wrote; /* the slot was filled */
} Install;

static void
install_clear(Install *t)
{
  if (t->exports_tmp)
    sc_rm_rf(t->exports_tmp);
  sc_deploy_unlock_container(t->ctx, t->name, t->lock);
  g_free(t->name);
  g_free(t->root);
  g_free(t->remote);
  g_free(t->exports_tmp);
  g_free(t->exports_dir);
  sc_image_free(t->img);
  sc_exports_free(t->ex);
  sc_rendering_free(t->r);
  g_clear_pointer(&t->plan, g_ptr_array_unref);
  json_decref(t->actions);
  sc_deploy_paths_clear(&t->p);
  sc_journal_free(t->journal);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Install, install_clear)

/* The image (pulled when the store lacks it) and the container's name. */
static gboolean
install_find(Install *t, const char *image, GError **error)
{
  t->img = sc_deploy_find_or_pull(t->ctx, image, t->opts->pull, &t->repo, error);
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

static gboolean
install_check(Install *t, GError **error)
{
  ScPaths *p = &t->p;
  struct stat st;

  if (!t->opts->dry_run && ((t->lock = sc_deploy_lock_container(t->root, t->name, error)) < 0 ||
                            !sc_deploy_recover(t->ctx, t->name, NULL, error)))
    return FALSE;
  if (!sc_systemd_offline(t->ctx) && !sc_systemd_running() && !t->opts->dry_run) {
    g_set_error(error, SC_ERROR, SC_EUNSUPPORTED,
                "systemd is not running on this machine, so the container could not be "
                "started or enabled: install into an image root with --sysroot DIR");
    return FALSE;
  }
  sc_deploy_paths_init(t->ctx, t->name, 0, p);
  if (lstat(p->link_path, &st) == 0) {
    if (S_ISDIR(st.st_mode))
      g_set_error(error, SC_ERROR, SC_EEXISTS,
                  "%s is a deployment slot of another container: choose another --name",
                  p->link_path);
    else
      g_set_error(error, SC_ERROR, SC_EEXISTS,
                  "container %s is already installed (%s); uninstall it or choose another --name",
                  t->name, p->link_path);
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
  return sc_context_runtime_path(t->ctx, &t->runtime, error);
}

/* The rootfs in the slot (or, for a dry run, only /exports, in the
 * store's tmp), and the image's exports from it. */
static gboolean
install_prepare(Install *t, GError **error)
{
  if (t->opts->rootfs &&
      (t->remote = sc_deploy_remote_rootfs(t->ctx, t->opts->rootfs, error)) == NULL)
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
  if (sc_rendering_get_unit(t->r))
    json_array_append_new(t->actions,
                          json_sprintf("write /etc/systemd/system/%s.service", t->name));
  if (sc_rendering_get_tmpfiles(t->r))
    json_array_append_new(t->actions, json_sprintf("write /etc/tmpfiles.d/%s.conf", t->name));
  json_array_append_new(t->actions, json_sprintf("link %s/%s -> %s",
                                                 sc_context_get_checkout_root(t->ctx), t->name,
                                                 t->p.slot));
  return TRUE;
}

static gboolean
install_write_info(Install *t, GHashTable *tracked, GError **error)
{
  json_t *info = sc_deploy_info_document(t->img, t->r, t->opts->values, t->ex, tracked,
                                         t->runtime);
  char *text;
  g_autofree char *with_nl = NULL;
  g_autofree char *path = g_build_filename(t->p.slot_path, "info", NULL);

  if (t->opts->rootfs)
    json_object_set_new(info, "remote", json_string(t->opts->rootfs));
  text = json_dumps(info, JSON_INDENT(4) | JSON_SORT_KEYS);
  json_decref(info);
  with_nl = g_strconcat(text, "\n", NULL);
  free(text);
  return sc_deploy_write_host_file(path, with_nl, error);
}

/* The host changed step by step, each step journaled first. */
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

  if (!sc_rendering_write_internal(t->r, p->slot_path, error))
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
  if ((unit_text && !sc_deploy_write_host_file(p->unit_path, unit_text, error)) ||
      (tmpfiles_text && !sc_deploy_write_host_file(p->tmpfiles_path, tmpfiles_text, error)) ||
      !sc_journal_step(ctx, t->journal, "unit", error))
    return FALSE;
  if (t->ex->no_container_service && !t->remote)
    sc_deploy_trim_rootfs(p->slot_path);
  /* last: the symlink makes the container exist */
  tmp_link = g_strdup_printf("%s.%08x.tmp", p->link_path, g_random_int());
  if (symlink(p->slot, tmp_link) != 0 || rename(tmp_link, p->link_path) != 0) {
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
        (t->opts->enable && !sc_systemctl(ctx, "enable", unit, NULL, TRUE, error)) ||
        (t->opts->start && !sc_systemd_offline(ctx) &&
         !sc_systemctl(ctx, "start", unit, NULL, TRUE, error)))
      return FALSE;
  }
  if (!sc_journal_step(ctx, t->journal, "enabled", error))
    return FALSE;
  sc_journal_finish(ctx, t->journal);
  return TRUE;
}

static json_t *
install_result(Install *t)
{
  json_t *files = json_object();
  json_t *doc = json_pack("{s:i, s:s, s:s, s:s, s:s, s:b, s:O}", "schema", 1, "name", t->name,
                          "image", t->img->name, "id", t->img->id, "deployment", t->p.slot,
                          "dry_run", t->opts->dry_run, "actions", t->actions);

  json_object_set_new(files, "config.json", json_string(sc_rendering_get_config(t->r)));
  if (sc_rendering_get_unit(t->r))
    json_object_set_new(files, "unit", json_string(sc_rendering_get_unit(t->r)));
  if (sc_rendering_get_tmpfiles(t->r))
    json_object_set_new(files, "tmpfiles", json_string(sc_rendering_get_tmpfiles(t->r)));
  json_object_set_new(doc, "files", files);
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
    uninstall_locked(t->ctx, t->name, NULL, NULL);
  else if (t->wrote)
    sc_deploy_clear_slot(t->p.slot_path);
}

SC_API int
sc_container_install(sc_context *ctx, const char *image, const sc_install_opts *opts,
                     char **out_json, sc_error **error)
{
  g_auto(Install) t = {0};
  GError *gerror = NULL;
  g_autoptr(json_t) doc = NULL;

  SC_CHECK_ARG(ctx != NULL && image != NULL && opts != NULL, error);
  t.ctx = ctx;
  t.opts = opts;
  t.lock = -1;
  t.actions = json_array();
  t.name = g_strdup(opts->name);
  t.root = sc_context_host_dir(ctx, sc_context_get_checkout_root(ctx));
  if (!opts->dry_run && g_mkdir_with_parents(t.root, 0755) != 0)
    return sc_error_set(error, SC_EIO, "cannot create %s: %s", t.root, g_strerror(errno));
  if (!install_find(&t, image, &gerror))
    return sc_error_propagate(error, gerror);
  if (is_run_once(t.img)) {
    /* nothing is installed, nothing is locked: it runs, now, as NAME (the
     * runtime refuses a second NAME at the same time) */
    if (!sc_run_once(ctx, t.repo, t.img, t.name, opts->values, NULL, opts->dry_run, &doc,
                     &gerror))
      return sc_error_propagate(error, gerror);
  } else if (!install_check(&t, &gerror) || !install_prepare(&t, &gerror) ||
             !install_render(&t, &gerror) || (!opts->dry_run && !install_apply(&t, &gerror))) {
    install_undo(&t);
    return sc_error_propagate(error, gerror);
  } else
    doc = install_result(&t);
  if (out_json)
    *out_json = sc_json_dump(doc, TRUE);
  return SC_OK;
}

/* The slot the NAME symlink points at, else an existing NAME.0 / NAME.1. */
char *
sc_deploy_current_slot(sc_context *ctx, const char *name)
{
  g_autofree char *root = sc_context_host_dir(ctx, sc_context_get_checkout_root(ctx));
  g_autofree char *link = g_build_filename(root, name, NULL);
  g_autofree char *target = g_file_read_link(link, NULL);

  if (target) {
    g_autofree char *base = g_path_get_basename(target);
    return g_build_filename(root, base, NULL);
  }
  return NULL;
}

/* A deployment's values (atomic wrote HOST_UID and HOST_GID as numbers). */
sc_values *
sc_deploy_info_values(json_t *info)
{
  sc_values *values = sc_values_new_internal();
  const char *k;
  json_t *v;

  json_object_foreach(json_object_get(info, "values"), k, v)
  {
    if (json_is_string(v))
      sc_values_insert(values, k, json_string_value(v), NULL);
    else if (json_is_integer(v)) {
      g_autofree char *text = g_strdup_printf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
      sc_values_insert(values, k, text, NULL);
    }
  }
  return values;
}

/* The host files a deployment installed: path -> checksum ("0": a
 * directory it created). An info file of an older atomic has no checksums
 * ("installed-files" only; atomic then never removed them): they are what
 * the deployment's image would install with its values, so a file that
 * still has that content is unmodified. */
GHashTable *
sc_deploy_tracked(sc_context *ctx, const char *slot_path, json_t *info)
{
  GHashTable *t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  json_t *sums = json_object_get(info, "installed-files-checksum"), *v;
  const char *k;
  size_t i;

  if (json_is_object(sums)) {
    json_object_foreach(sums, k, v) if (json_is_string(v))
        g_hash_table_replace(t, g_strdup(k), g_strdup(json_string_value(v)));
    return t;
  }
  if (json_array_size(json_object_get(info, "installed-files")) > 0) {
    g_autofree char *rootfs = sc_deploy_slot_rootfs(ctx, slot_path);
    g_autofree char *exports = g_build_filename(rootfs, "exports", NULL);
    g_autoptr(sc_values) values = sc_deploy_info_values(info);
    g_autoptr(GPtrArray) plan = NULL;
    g_autoptr(GHashTable) expected = NULL;
    g_autoptr(GHashTable) as_is = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    sc_exports *ex = NULL;
    /* (planned over what is there now, taken as the deployment's own, so
     * that a modified file is no collision: only the contents count) */
    json_array_foreach(json_object_get(info, "installed-files"), i, v)
    {
      if (!json_is_string(v) || json_string_value(v)[0] != '/')
        continue;
      g_hash_table_replace(as_is, g_strdup(json_string_value(v)),
                           sc_hostfs_checksum(ctx, json_string_value(v)));
    }
    if ((ex = sc_deploy_open_exports(exports, NULL)) != NULL &&
        (plan = sc_hostfs_plan(ctx, ex, values, as_is, NULL)) != NULL)
      expected = sc_hostfs_plan_tracking(plan, FALSE);
    sc_exports_free(ex);
    json_array_foreach(json_object_get(info, "installed-files"), i, v)
    {
      const char *sum = expected ? g_hash_table_lookup(expected, json_string_value(v)) : NULL;
      if (sum)
        g_hash_table_replace(t, g_strdup(json_string_value(v)), g_strdup(sum));
    }
  }
  return t;
}

json_t *
sc_deploy_read_info(const char *slot)
{
  g_autofree char *path = g_build_filename(slot, "info", NULL);
  g_autofree char *text = NULL;

  if (!g_file_get_contents(path, &text, NULL, NULL))
    return NULL;
  return json_loads(text, 0, NULL);
}

/* Everything of container @name goes (its lock held): the unit (disabled
 * and stopped first, when it is the container's), tmpfiles, the host files
 * it installed or an interrupted operation wrote, unmodified, the
 * directories it created when empty, the symlink, both slots. Itself
 * journaled: a crash leaves what the next uninstall finishes. */
static gboolean
uninstall_locked(sc_context *ctx, const char *name, GPtrArray *kept, GError **error)
{
  g_autofree char *slot = NULL;
  g_autofree char *unit = NULL;
  g_autoptr(GHashTable) tracked = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(ScJournal) journal = NULL;
  json_t *info;
  const char *journal_slot = NULL;
  ScPaths p0 = {0}, p1 = {0};
  struct stat st;
  gboolean has_service = TRUE, owns_unit, ok = FALSE;

  sc_deploy_paths_init(ctx, name, 0, &p0);
  sc_deploy_paths_init(ctx, name, 1, &p1);
  slot = sc_deploy_current_slot(ctx, name);
  info = slot ? sc_deploy_read_info(slot) : NULL;
  if (info == NULL)
    info = sc_deploy_read_info(p0.slot_path); /* half-installed */
  if (info && json_is_false(json_object_get(info, "has-container-service")))
    has_service = FALSE;
  if (info) {
    g_autoptr(GHashTable) t = sc_deploy_tracked(ctx, slot ? slot : p0.slot_path, info);
    GHashTableIter it;
    gpointer tk, tv;
    g_hash_table_iter_init(&it, t);
    while (g_hash_table_iter_next(&it, &tk, &tv))
      g_hash_table_replace(tracked, g_strdup(tk), g_strdup(tv));
  }
  owns_unit = info != NULL;
  /* what interrupted operations wrote, as their journals say */
  for (int i = 0; i < 2; i++) {
    const char *path = i == 0 ? p0.slot_path : p1.slot_path;
    g_autoptr(ScJournal) j = sc_journal_read(path);
    GHashTableIter it;
    gpointer jk, jv;
    if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
        (journal_slot == NULL || (slot && strcmp(path, slot) == 0)))
      journal_slot = path;
    if (j == NULL)
      continue;
    owns_unit |= j->owns_unit;
    g_hash_table_iter_init(&it, j->planned);
    while (g_hash_table_iter_next(&it, &jk, &jv)) {
      const char *have = g_hash_table_lookup(tracked, jk);
      if (have != NULL && strcmp(have, jv) != 0) {
        /* both the deployment and the operation wrote it: whichever
         * content is there is ours */
        g_autofree char *sum = sc_hostfs_checksum(ctx, jk);
        if (strcmp(sum, jv) != 0)
          continue;
      }
      g_hash_table_replace(tracked, g_strdup(jk), g_strdup(jv));
    }
  }
  if (journal_slot) {
    journal = sc_journal_new("uninstall", journal_slot, tracked, FALSE);
    journal->owns_unit = owns_unit;
    if (!sc_journal_step(ctx, journal, "begun", error))
      goto out;
  }

  unit = g_strconcat(name, ".service", NULL);
  if (has_service && owns_unit) {
    if (sc_systemd_offline(ctx))
      sc_systemctl(ctx, "disable", unit, NULL, FALSE, NULL);
    else if (sc_systemd_running())
      sc_systemctl(ctx, "disable", "--now", unit, FALSE, NULL);
  }
  if (journal && !sc_journal_step(ctx, journal, "disabled", error))
    goto out;
  if (owns_unit) {
    /* the unit goes first, so that nothing starts the container again */
    unlink(p0.unit_path);
    if (!sc_systemd_offline(ctx) && sc_systemd_running())
      sc_systemctl(ctx, "daemon-reload", NULL, NULL, FALSE, NULL);
    if (lstat(p0.tmpfiles_path, &st) == 0) {
      sc_tmpfiles_run(ctx, "--remove", p0.tmpfiles_path, FALSE, NULL);
      unlink(p0.tmpfiles_path);
    }
  }
  if (journal && !sc_journal_step(ctx, journal, "unit", error))
    goto out;
  sc_hostfs_remove(ctx, tracked, kept);
  if (journal && !sc_journal_step(ctx, journal, "hostfs", error))
    goto out;
  if (unlink(p0.link_path) != 0 && errno != ENOENT) {
    g_set_error(error, SC_ERROR, SC_EIO, "cannot remove %s: %s", p0.link_path,
                g_strerror(errno));
    goto out;
  }
  if (journal && !sc_journal_step(ctx, journal, "link", error))
    goto out;
  /* the slot without the journal last: an interrupted removal stays visible */
  if (journal_slot && strcmp(journal_slot, p0.slot_path) == 0) {
    sc_deploy_clear_slot(p1.slot_path);
    sc_deploy_clear_slot(p0.slot_path);
  } else {
    sc_deploy_clear_slot(p0.slot_path);
    sc_deploy_clear_slot(p1.slot_path);
  }
  ok = TRUE;
out:
  json_decref(info);
  sc_deploy_paths_clear(&p0);
  sc_deploy_paths_clear(&p1);
  return ok;
}

/* The journal of an operation on @name that did not finish, if any. */
static ScJournal *
journal_of(sc_context *ctx, const char *name)
{
  ScPaths p0 = {0}, p1 = {0};
  ScJournal *j;

  sc_deploy_paths_init(ctx, name, 0, &p0);
  sc_deploy_paths_init(ctx, name, 1, &p1);
  j = sc_journal_read(p0.slot_path);
  if (j == NULL)
    j = sc_journal_read(p1.slot_path);
  sc_deploy_paths_clear(&p0);
  sc_deploy_paths_clear(&p1);
  return j;
}

gboolean
sc_deploy_recover(sc_context *ctx, const char *name, char **out_finished, GError **error)
{
  ScJournal *j = journal_of(ctx, name);
  gboolean ok;

  if (j == NULL)
    return TRUE;
  if (strcmp(j->op, "update") == 0 || strcmp(j->op, "rollback") == 0) {
    sc_context_log(ctx, SC_LOG_WARNING,
                   "container %s: an interrupted %s (after step '%s') is finished or undone first",
                   name, j->op, j->step ? j->step : "?");
    ok = sc_update_recover(ctx, name, j, out_finished, error);
  } else {
    /* an install that did not finish is removed (to be done again); an
     * uninstall is finished */
    sc_context_log(ctx, SC_LOG_WARNING,
                   "container %s: the interrupted %s (after step '%s') is %s first", name, j->op,
                   j->step ? j->step : "?",
                   strcmp(j->op, "install") == 0 ? "undone" : "finished");
    ok = uninstall_locked(ctx, name, NULL, error);
    if (ok && out_finished && strcmp(j->op, "uninstall") == 0)
      *out_finished = g_strdup(j->op);
  }
  sc_journal_free(j);
  return ok;
}

SC_API int
sc_container_uninstall(sc_context *ctx, const char *name, char **out_json, sc_error **error)
{
  GError *gerror = NULL;
  g_autofree char *root = NULL;
  g_autoptr(GPtrArray) kept = g_ptr_array_new_with_free_func(g_free);
  ScPaths p0 = {0}, p1 = {0};
  struct stat st;
  int lock;
  gboolean found;

  SC_CHECK_ARG(ctx != NULL, error);
  if (!sc_name_check(name, &gerror))
    return sc_error_propagate(error, gerror);
  root = sc_context_host_dir(ctx, sc_context_get_checkout_root(ctx));
  sc_deploy_paths_init(ctx, name, 0, &p0);
  sc_deploy_paths_init(ctx, name, 1, &p1);
  found = lstat(p0.link_path, &st) == 0 ||
          (lstat(p0.slot_path, &st) == 0 && S_ISDIR(st.st_mode)) ||
          (lstat(p1.slot_path, &st) == 0 && S_ISDIR(st.st_mode));
  sc_deploy_paths_clear(&p0);
  sc_deploy_paths_clear(&p1);
  if (!found) {
    /* idempotent: nothing to remove is not an error */
    sc_context_log(ctx, SC_LOG_WARNING, "container %s is not installed", name);
    if (out_json) {
      json_t *doc = json_pack("{s:i, s:s, s:b, s:[]}", "schema", 1, "name", name, "removed", 0,
                              "kept");
      *out_json = sc_json_dump(doc, TRUE);
      json_decref(doc);
    }
    return SC_OK;
  }
  lock = sc_deploy_lock_container(root, name, &gerror);
  if (lock < 0)
    return sc_error_propagate(error, gerror);
  if (!uninstall_locked(ctx, name, kept, &gerror)) {
    sc_deploy_unlock_container(ctx, name, lock);
    return sc_error_propagate(error, gerror);
  }
  for (guint i = 0; i < kept->len; i++)
    sc_context_log(ctx, SC_LOG_WARNING, "%s was modified: kept", (char *)kept->pdata[i]);
  sc_deploy_unlock_container(ctx, name, lock);
  if (out_json) {
    json_t *doc = json_pack("{s:i, s:s, s:b}", "schema", 1, "name", name, "removed", 1);
    json_t *arr = json_array();
    for (guint i = 0; i < kept->len; i++)
      json_array_append_new(arr, json_string(kept->pdata[i]));
    json_object_set_new(doc, "kept", arr);
    *out_json = sc_json_dump(doc, TRUE);
    json_decref(doc);
  }
  return SC_OK;
}

/* The installed containers' names, sorted: a container is its NAME
 * symlink; X.0 is a slot only when X exists. With @incomplete, also the X
 * of slots X.0 and X.1 left without their symlink (an install or uninstall
 * that did not finish). */
GPtrArray *
sc_deploy_container_names(sc_context *ctx, gboolean incomplete)
{
  g_autofree char *root = sc_context_host_dir(ctx, sc_context_get_checkout_root(ctx));
  g_autoptr(GDir) dir = g_dir_open(root, 0, NULL);
  GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
  const char *entry;

  while (dir && (entry = g_dir_read_name(dir)) != NULL) {
    g_autofree char *path = g_build_filename(root, entry, NULL);
    struct stat st;
    if (lstat(path, &st) != 0)
      continue;
    if (S_ISLNK(st.st_mode) && sc_name_check(entry, NULL))
      g_ptr_array_add(names, g_strdup(entry));
    else if (incomplete && S_ISDIR(st.st_mode) &&
             (g_str_has_suffix(entry, ".0") || g_str_has_suffix(entry, ".1"))) {
      g_autofree char *name = g_strndup(entry, strlen(entry) - 2);
      g_autofree char *link = g_build_filename(root, name, NULL);
      g_autofree char *slot0 = g_strconcat(link, ".0", NULL);
      struct stat lst;
      /* (once per name: X.1 counts only without X.0) */
      if (sc_name_check(name, NULL) && lstat(link, &lst) != 0 &&
          (g_str_has_suffix(entry, ".0") || lstat(slot0, &lst) != 0))
        g_ptr_array_add(names, g_steal_pointer(&name));
    }
  }
  g_ptr_array_sort(names, sc_strcmp_indirect);
  return names;
}

static const char *
unit_state(sc_context *ctx, const char *name, gboolean has_service)
{
  g_autofree char *unit = g_strconcat(name, ".service", NULL);
  const char *argv[] = {"systemctl", "is-active", unit, NULL};
  g_autofree char *out = NULL;

  if (!has_service)
    return "no service";
  if (sc_systemd_offline(ctx) || !sc_systemd_running())
    return "installed";
  if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                    NULL, NULL, &out, NULL, NULL, NULL))
    return "unknown";
  g_strstrip(out);
  if (strcmp(out, "active") == 0 || strcmp(out, "reloading") == 0)
    return "running";
  if (strcmp(out, "failed") == 0)
    return "failed";
  return "inactive";
}

/* What list reports of one container: image, deployment, state (and, for
 * an operation a crash interrupted, which and where). */
json_t *
sc_deploy_container_entry(sc_context *ctx, const char *name)
{
  g_autofree char *slot = sc_deploy_current_slot(ctx, name);
  json_t *info = slot ? sc_deploy_read_info(slot) : NULL;
  g_autofree char *slot_name = slot ? g_path_get_basename(slot) : NULL;
  g_autofree char *deployment =
      slot_name ? g_build_filename(sc_context_get_checkout_root(ctx), slot_name, NULL) : NULL;
  g_autoptr(ScJournal) j = journal_of(ctx, name);
  json_t *entry;

  entry = json_pack("{s:s, s:O?, s:O?, s:s?, s:O?, s:O?}", "name", name, "image",
                    json_object_get(info, "image"), "id", json_object_get(info, "revision"),
                    "deployment", deployment, "runtime", json_object_get(info, "runtime"),
                    "created", json_object_get(info, "created"));
  if (j != NULL || slot == NULL) {
    /* a crash stopped an operation: the next command on it finishes or
     * undoes it (uninstall removes it) */
    json_object_set_new(entry, "state", json_string("incomplete"));
    json_object_set_new(entry, "interrupted", j ? json_string(j->op) : json_null());
    json_object_set_new(entry, "step", j && j->step ? json_string(j->step) : json_null());
  } else if (info == NULL)
    json_object_set_new(entry, "state", json_string("broken"));
  else
    json_object_set_new(
        entry, "state",
        json_string(unit_state(ctx, name,
                               !json_is_false(json_object_get(info, "has-container-service")))));
  json_decref(info);
  return entry;
}

SC_API int
sc_containers_list_json(sc_context *ctx, char **out_json, sc_error **error)
{
  g_autoptr(GPtrArray) names = NULL;
  json_t *doc, *arr;

  SC_CHECK_ARG(ctx != NULL && out_json != NULL, error);
  names = sc_deploy_container_names(ctx, TRUE);
  arr = json_array();
  for (guint i = 0; i < names->len; i++)
    json_array_append_new(arr, sc_deploy_container_entry(ctx, names->pdata[i]));
  doc = json_pack("{s:i, s:o}", "schema", 1, "containers", arr);
  *out_json = sc_json_dump(doc, TRUE);
  json_decref(doc);
  return SC_OK;
}
