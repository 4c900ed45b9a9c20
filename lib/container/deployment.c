/*
 * The deployment model: a container NAME is the symlink CHECKOUT_ROOT/NAME
 * -> NAME.0 (or NAME.1), the slot holding rootfs/, config.json,
 * NAME.service, tmpfiles-NAME.conf and info (atomic's keys), plus
 * /etc/systemd/system/NAME.service, /etc/tmpfiles.d/NAME.conf and the host
 * files of /exports/hostfs. Here: the paths of a container, its lock, its
 * slots and what they hold (rootfs, exports, info, values, tracked host
 * files), and the names of the containers there are. The verbs are in
 * install.c, uninstall.c, list.c, update.c and run.c.
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
  g_autofree char *unit_dir = sc_context_unit_dir(ctx);
  g_autofree char *tmpfiles_dir = sc_context_tmpfiles_dir(ctx);
  g_autofree char *unit = g_strdup_printf("%s/%s.service", unit_dir, name);
  g_autofree char *tmpfiles = g_strdup_printf("%s/%s.conf", tmpfiles_dir, name);
  g_autofree char *link = g_build_filename(sc_context_get_checkout_root(ctx), name, NULL);

  p->unit_path = sc_context_host_path(ctx, unit);
  p->tmpfiles_path = sc_context_host_path(ctx, tmpfiles);
  p->link_path = sc_context_host_path(ctx, link);
  p->slot = g_strdup_printf("%s/%s.%d", sc_context_get_checkout_root(ctx), name, slot);
  p->slot_path = sc_context_host_path(ctx, p->slot);
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

/* podman's label (podman-auto-update(1)); "image" is its older name of
 * "registry". "local" (an image newer in the local store) is not offered:
 * such an image is not opted in. */
#define AUTO_UPDATE_LABEL "io.containers.autoupdate"

json_t *
sc_deploy_auto_update(ScImage *img, const char *option, json_t *old_info)
{
  json_t *old = json_object_get(old_info, "auto-update");
  json_t *labels = json_object_get(json_object_get(img->config, "config"), "Labels");
  const char *label = json_string_value(json_object_get(labels, AUTO_UPDATE_LABEL));

  if (option)
    return json_pack("{s:s, s:s}", "policy", option, "from", "option");
  if (g_strcmp0(json_string_value(json_object_get(old, "from")), "option") == 0)
    return json_deep_copy(old);
  if (label)
    return json_pack("{s:s, s:s}", "policy",
                     strcmp(label, "registry") == 0 || strcmp(label, "image") == 0 ? "registry"
                                                                                     : "disabled",
                     "from", "label");
  return json_pack("{s:s, s:s}", "policy", "disabled", "from", "default");
}

gboolean
sc_deploy_auto_update_enabled(json_t *info)
{
  json_t *policy = json_object_get(json_object_get(info, "auto-update"), "policy");

  return g_strcmp0(json_string_value(policy), "registry") == 0;
}

gboolean
sc_deploy_auto_update_valid(const char *policy, GError **error)
{
  if (policy == NULL || strcmp(policy, "registry") == 0 || strcmp(policy, "disabled") == 0)
    return TRUE;
  g_set_error(error, SC_ERROR, SC_EINVAL,
              "auto-update policy '%s': expected registry or disabled", policy);
  return FALSE;
}

/* The image (pulled when the store lacks it). */
ScImage *
sc_deploy_find_or_pull(sc_context *ctx, const char *image, const sc_pull_opts *pull,
                       OstreeRepo **out_repo, GHashTable **out_before, GError **error)
{
  g_autoptr(GError) local = NULL;
  OstreeRepo *repo = NULL;
  ScImage *img = NULL;
  g_autoptr(GHashTable) before = NULL;
  g_autoptr(GError) unopened = NULL;

  /* only a store that does not exist yet is one to pull into: a store
   * this user cannot read is reported as that (its path and why), not as
   * an image missing from it */
  if (!sc_store_open(ctx, FALSE, &repo, &unopened) &&
      !g_error_matches(unopened, SC_ERROR, SC_ENOTFOUND)) {
    g_propagate_error(error, g_steal_pointer(&unopened));
    return NULL;
  }
  if (repo != NULL) {
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
    g_autoptr(GError) failed = NULL;
    if (out_before && (before = sc_store_refs_snapshot(repo, error)) == NULL)
      return NULL;
    if (!sc_image_pull_internal(ctx, image, pull, &name, NULL, &failed)) {
      /* what was asked, that the store lacks it, and why the pull failed */
      g_propagate_prefixed_error(error, g_steal_pointer(&failed),
                                 "image '%s' is not in the store and could not be pulled: ",
                                 image);
      return NULL;
    }
    if (!sc_store_open(ctx, FALSE, &repo, error))
      return NULL;
    img = sc_image_resolve_one(repo, name, error);
  }
  *out_repo = repo;
  if (out_before && img)
    *out_before = g_steal_pointer(&before);
  return img;
}

/* A verb that pulled @img for its own use and then failed takes the pull
 * back: bad input leaves the store as it was. A failure here is only
 * logged: the verb's own error is the one to report. */
void
sc_deploy_forget_pull(sc_context *ctx, GHashTable *before, ScImage *img)
{
  g_autoptr(GError) error = NULL;

  if (img && !sc_store_forget_pull(ctx, before, img, &error))
    sc_context_log(ctx, SC_LOG_WARNING, "image '%s' pulled for this command stays in the store: %s",
                   img->name, error->message);
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
 * "NAME.0" when NAME.0 is looked at as a slot of "NAME"). @error (may be
 * NULL) names what could not be removed. */
gboolean
sc_deploy_clear_slot(const char *slot_path, GError **error)
{
  struct stat st;

  if (lstat(slot_path, &st) == 0 && S_ISDIR(st.st_mode))
    return sc_rm_rf_checked(slot_path, error);
  return TRUE;
}

/* --rootfs LOCATION (as seen from the sysroot): LOCATION/rootfs when it
 * exists (a deployment or bundle), else LOCATION itself when it holds /usr
 * (a root). Returns the rootfs, as seen from the sysroot, with every link
 * on the way resolved inside the sysroot (CHECKOUT/NAME is a link to a
 * slot, and runc refuses a root path through a link); *@out_location
 * (may be NULL): LOCATION resolved the same way, what info records. */
char *
sc_deploy_remote_rootfs(sc_context *ctx, const char *location, char **out_location, GError **error)
{
  g_autofree char *host = NULL;
  g_autofree char *sub = NULL;
  g_autofree char *usr = NULL;
  g_autofree char *rootfs_host = NULL;

  if (!g_path_is_absolute(location)) {
    g_set_error(error, SC_ERROR, SC_EINVAL, "--rootfs %s: must be an absolute path", location);
    return NULL;
  }
  host = sc_context_host_dir(ctx, location);
  sub = g_build_filename(host, "rootfs", NULL);
  usr = g_build_filename(host, "usr", NULL);
  if (!g_file_test(host, G_FILE_TEST_IS_DIR)) {
    g_set_error(error, SC_ERROR, SC_ENOTFOUND, "--rootfs %s: the remote rootfs does not exist",
                location);
    return NULL;
  }
  if (g_file_test(sub, G_FILE_TEST_IS_DIR)) {
    g_autofree char *in_root = sc_context_root_path(ctx, host);
    g_autofree char *rootfs = g_build_filename(in_root, "rootfs", NULL);
    rootfs_host = sc_context_host_dir(ctx, rootfs); /* (a slot's rootfs may be a link) */
  } else if (g_file_test(usr, G_FILE_TEST_IS_DIR))
    rootfs_host = g_strdup(host);
  else {
    g_set_error(error,
                SC_ERROR,
                SC_EINVAL,
                "--rootfs %s does not contain a rootfs (neither %s/rootfs nor %s/usr exists)",
                location,
                location,
                location);
    return NULL;
  }
  if (out_location)
    *out_location = sc_context_root_path(ctx, host);
  return sc_context_root_path(ctx, rootfs_host);
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

/* The label a deployment's rootfs directory gets: the policy's for "/". */
gboolean
sc_deploy_rootfs_label(sc_context *ctx, char **out_label, GError **error)
{
  return sc_context_label_for(ctx, "/", S_IFDIR, out_label, error);
}

gboolean
sc_deploy_label_rootfs(sc_context *ctx, const char *rootfs, GError **error)
{
  g_autofree char *label = NULL;
  int fd;
  gboolean ok;

  if (!sc_deploy_rootfs_label(ctx, &label, error))
    return FALSE;
  if (label == NULL)
    return TRUE;
  fd = open(rootfs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    g_set_error(error, SC_ERROR, SC_EIO, "%s: %s", rootfs, g_strerror(errno));
    return FALSE;
  }
  ok = sc_selinux_set_fd(fd, label, rootfs, error);
  close(fd);
  return ok;
}

/* The files sc_rendering_write_internal() wrote into @slot_path labelled
 * (before the slot becomes the container's). */
gboolean
sc_deploy_label_slot_files(sc_context *ctx, const char *slot_path, const char *name,
                           GError **error)
{
  g_autofree char *unit = g_strdup_printf("%s.service", name);
  g_autofree char *tmpfiles = g_strdup_printf("tmpfiles-%s.conf", name);
  const char *names[] = {"config.json", unit, tmpfiles};
  struct stat st;

  for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
    g_autofree char *path = g_build_filename(slot_path, names[i], NULL);
    if (lstat(path, &st) == 0 && !sc_context_label_host_path(ctx, path, error))
      return FALSE;
  }
  return TRUE;
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
  if (!sc_rm_rf_checked(slot_path, error))
    return FALSE;
  if (!sc_context_make_dirs(ctx, slot_path, sc_context_is_user(ctx) ? 0700 : 0755, error))
    return FALSE;
  if (remote_rootfs) {
    if (symlink(remote_rootfs, rootfs) != 0) {
      g_set_error(error, SC_ERROR, SC_EIO, "cannot create %s: %s", rootfs, g_strerror(errno));
      return FALSE;
    }
    return sc_context_label_host_path(ctx, rootfs, error);
  }
  if (mkdir(rootfs, 0755) != 0) {
    g_set_error(error, SC_ERROR, SC_EIO, "cannot create %s: %s", rootfs, g_strerror(errno));
    return FALSE;
  }
  /* the container's "/" is labelled as the root's own "/" (atomic) */
  if (!sc_deploy_label_rootfs(ctx, rootfs, error))
    return FALSE;
  slock = sc_store_lock(ctx, repo, FALSE, error);
  ok = slock >= 0 && sc_store_checkout(repo, img, rootfs, FALSE, error);
  if (slock >= 0)
    close(slock);
  return ok;
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

/* The host files an update left to the admin (modified: kept, no longer
 * tracked), as info's "kept-files" lists them; empty for none. */
GPtrArray *
sc_deploy_kept_files(json_t *info)
{
  GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
  json_t *v;
  size_t i;

  json_array_foreach (json_object_get(info, "kept-files"), i, v) {
    if (json_is_string(v) && json_string_value(v)[0] == '/')
      g_ptr_array_add(out, g_strdup(json_string_value(v)));
  }
  return out;
}

/* The host files a deployment installed: path -> checksum ("0": a
 * directory it created). An info file of an older atomic has no checksums
 * ("installed-files" only; atomic then never removed them): they are what
 * the deployment's image would install with its values, so a file that
 * still has that content is unmodified. */
static GHashTable *
tracked_of(sc_context *ctx, const char *slot_path, json_t *info)
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

/* ... and the files an update left to the admin ("kept-files"), with a
 * checksum nothing has: never removed, never replaced, reported kept. */
GHashTable *
sc_deploy_tracked(sc_context *ctx, const char *slot_path, json_t *info)
{
  GHashTable *t = tracked_of(ctx, slot_path, info);
  g_autoptr(GPtrArray) kept = sc_deploy_kept_files(info);

  for (guint i = 0; i < kept->len; i++)
    if (!g_hash_table_contains(t, kept->pdata[i]))
      g_hash_table_replace(t, g_strdup(kept->pdata[i]), g_strdup(""));
  return t;
}

GBytes *
sc_deploy_read_slot_file(const char *slot, const char *name)
{
  int fd = open(slot, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  gboolean exists;
  GBytes *data;

  if (fd < 0)
    return NULL;
  data = sc_read_file_nofollow_max(fd, slot, name, SC_MAX_SLOT_FILE, &exists, NULL);
  close(fd);
  return data;
}

json_t *
sc_deploy_read_slot_json(const char *slot, const char *name)
{
  g_autoptr(GBytes) data = sc_deploy_read_slot_file(slot, name);

  return data ? sc_json_load_bounded(name, g_bytes_get_data(data, NULL), g_bytes_get_size(data),
                                     NULL)
              : NULL;
}

json_t *
sc_deploy_read_info(const char *slot)
{
  return sc_deploy_read_slot_json(slot, "info");
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
