/*
 * Mount and umount, as atomic did them for OSTree images and containers
 * (reference: atomic-behaviour.md §1.7): an image is checked out into an
 * empty DIR (and, as root, DIR is bound read-only on itself: the files are
 * the store's objects); a container's current rootfs is bound read-only on
 * DIR. The kind is recorded as atomic recorded it: {"user.atomic.type":
 * KIND} in the sidecar file DIRNAME/.BASENAME.info (atomic's fallback when DIR takes no xattr;
 * ours always, because an xattr set on a mounted DIR would land on the
 * container's rootfs or on a read-only mount). atomic's own xattr on DIR is
 * read too. What umount may remove is proven only by our own record in the
 * checkout root (open_records()), which no one else can write.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "container.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MARK_XATTR "user.atomic.type"
#define KIND_CONTAINER "ostree-container"
#define KIND_IMAGE "ostree-image"
#define KIND_IMAGE_STORAGE "ostree-image-storage"

/* DIRNAME/.BASENAME.info */
static char *
sidecar_path(const char *dir)
{
  g_autofree char *parent = g_path_get_dirname(dir);
  g_autofree char *base = g_path_get_basename(dir);
  g_autofree char *name = g_strdup_printf(".%s.info", base);

  return g_build_filename(parent, name, NULL);
}

/* The kind recorded for @dir (atomic's xattr, else the sidecar), or NULL.
 * *@out_xattr: it was the xattr. */
static char *
read_mark(const char *dir, gboolean *out_xattr, GError **error)
{
  g_autofree char *side = sidecar_path(dir);
  g_autofree char *parent = g_path_get_dirname(side);
  g_autofree char *base = g_path_get_basename(side);
  char value[64];
  ssize_t n = getxattr(dir, MARK_XATTR, value, sizeof(value) - 1);
  g_autoptr(GBytes) bytes = NULL;
  gboolean exists = FALSE;
  json_t *doc;
  char *kind = NULL;
  int pfd;

  *out_xattr = n > 0;
  if (n > 0) {
    value[n] = '\0';
    return g_strdup(value);
  }
  pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (pfd < 0)
    return NULL;
  bytes = sc_read_file_nofollow_max(pfd, parent, base, 4096, &exists, error);
  close(pfd);
  if (bytes == NULL)
    return NULL;
  doc = json_loads(g_bytes_get_data(bytes, NULL), 0, NULL);
  if (json_is_string(json_object_get(doc, MARK_XATTR)))
    kind = g_strdup(json_string_value(json_object_get(doc, MARK_XATTR)));
  json_decref(doc);
  if (kind == NULL)
    g_set_error(error, SC_ERROR, SC_EINVAL, "%s: not a mount record (no \"%s\")", side, MARK_XATTR);
  return kind;
}

static gboolean
write_mark(const char *dir, const char *kind, GError **error)
{
  g_autofree char *side = sidecar_path(dir);
  g_autofree char *parent = g_path_get_dirname(side);
  g_autofree char *base = g_path_get_basename(side);
  g_autofree char *text = g_strdup_printf("{\"%s\": \"%s\"}\n", MARK_XATTR, kind);
  int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  gboolean ok;

  if (pfd < 0) {
    g_set_error(error, SC_ERROR, SC_EIO, "%s: %s", parent, g_strerror(errno));
    return FALSE;
  }
  ok = sc_write_file_atomic(pfd, parent, base, text, strlen(text), 0644, error);
  close(pfd);
  return ok;
}

static void
remove_mark(const char *dir, gboolean xattr)
{
  g_autofree char *side = sidecar_path(dir);

  if (xattr)
    (void)removexattr(dir, MARK_XATTR);
  else
    (void)unlink(side);
}

/* Whether something is mounted on @dir (its root is a mount's root). */
static gboolean
is_mountpoint(const char *dir)
{
  struct statx st;

  return statx(AT_FDCWD, dir, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &st) == 0 &&
         (st.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
         (st.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

/* The record of a mount made here, kept where only this tool writes
 * (CHECKOUT/.mounts/<sha256 of DIR>): the sidecar and the xattr are
 * atomic's format and anyone who can write DIR's parent or DIR can forge
 * one, so they say what kind a mount is, never that umount may remove
 * what is in DIR. Returns the open .mounts directory, or -1. */
static int
open_records(sc_context *ctx, gboolean create, char **out_path, GError **error)
{
  g_autofree char *root = sc_context_host_dir(ctx, sc_context_get_checkout_root(ctx));
  int rfd, fd;

  if (create && !sc_context_make_dirs(ctx, root, sc_context_is_user(ctx) ? 0700 : 0755, error))
    return -1;
  if ((rfd = sc_confined_open_nolinks(root, FALSE, error)) < 0)
    return -1;
  if (create && mkdirat(rfd, ".mounts", 0700) != 0 && errno != EEXIST) {
    g_set_error(error, SC_ERROR, SC_EIO, "%s/.mounts: %s", root, g_strerror(errno));
    close(rfd);
    return -1;
  }
  fd = openat(rfd, ".mounts", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    g_set_error(error,
                SC_ERROR,
                errno == ENOENT ? SC_ENOTFOUND : SC_EIO,
                "%s/.mounts: %s",
                root,
                g_strerror(errno));
  close(rfd);
  *out_path = g_build_filename(root, ".mounts", NULL);
  return fd;
}

/* What identifies the directory @dir is now: device, inode and birth time
 * (an inode number is reused once a directory is deleted: a directory made
 * in the place of an unmounted checkout had the same one), and for an
 * image's checkout its change time, which nothing changes while it is
 * mounted read-only, and which the admin's files put there would. */
static char *
dir_stamp(const char *dir, gboolean with_ctime)
{
  struct statx st;

  if (statx(AT_FDCWD, dir, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_BTIME, &st) != 0)
    return NULL;
  return g_strdup_printf("%u:%u:%llu:%lld.%u:%lld.%u",
                         st.stx_dev_major,
                         st.stx_dev_minor,
                         (unsigned long long)st.stx_ino,
                         (st.stx_mask & STATX_BTIME) ? (long long)st.stx_btime.tv_sec : 0LL,
                         (st.stx_mask & STATX_BTIME) ? st.stx_btime.tv_nsec : 0U,
                         with_ctime ? (long long)st.stx_ctime.tv_sec : 0LL,
                         with_ctime ? st.stx_ctime.tv_nsec : 0U);
}

static char *
record_name(const char *dir)
{
  return g_compute_checksum_for_string(G_CHECKSUM_SHA256, dir, -1);
}

/* Records @dir as mounted by us, as it is now (its device and inode: for a
 * container the rootfs's, for an image DIR's own). */
static gboolean
write_record(sc_context *ctx, const char *dir, const char *kind, const char *what, GError **error)
{
  g_autofree char *path = NULL;
  g_autofree char *name = record_name(dir);
  g_autofree char *text = NULL;
  g_autofree char *stamp = NULL;
  json_t *doc;
  gboolean ok;
  int fd;

  if ((stamp = dir_stamp(dir, strcmp(kind, KIND_IMAGE) == 0)) == NULL) {
    g_set_error(error, SC_ERROR, SC_EIO, "%s: %s", dir, g_strerror(errno));
    return FALSE;
  }
  if ((fd = open_records(ctx, TRUE, &path, error)) < 0)
    return FALSE;
  doc = json_pack("{s:i, s:s, s:s, s:s, s:s, s:b}",
                  "schema",
                  1,
                  "dir",
                  dir,
                  "type",
                  kind,
                  "source",
                  what,
                  "stamp",
                  stamp,
                  "mounted",
                  is_mountpoint(dir));
  text = json_dumps(doc, JSON_INDENT(2));
  json_decref(doc);
  ok = sc_write_file_atomic(fd, path, name, text, strlen(text), 0600, error);
  close(fd);
  return ok;
}

static void
remove_record(sc_context *ctx, const char *dir)
{
  g_autofree char *path = NULL;
  g_autofree char *name = record_name(dir);
  int fd = open_records(ctx, FALSE, &path, NULL);

  if (fd >= 0) {
    (void)unlinkat(fd, name, 0);
    close(fd);
  }
}

/* Whether @dir is, provably, what we mounted as @kind: our record of it,
 * of that kind, on the same device and inode, and still a mount point if
 * it was one. Else FALSE with the reason in *@out_reason. */
static gboolean
proven_ours(sc_context *ctx, const char *dir, const char *kind, char **out_reason)
{
  g_autofree char *path = NULL;
  g_autofree char *name = record_name(dir);
  g_autoptr(GBytes) bytes = NULL;
  g_autofree char *stamp = NULL;
  gboolean exists = FALSE, ok;
  json_t *doc;
  int fd = open_records(ctx, FALSE, &path, NULL);

  if (fd >= 0) {
    bytes = sc_read_file_nofollow_max(fd, path, name, 4096, &exists, NULL);
    close(fd);
  }
  doc = bytes ? json_loads(g_bytes_get_data(bytes, NULL), 0, NULL) : NULL;
  if (doc == NULL || g_strcmp0(json_string_value(json_object_get(doc, "dir")), dir) != 0) {
    *out_reason = g_strdup("syscontainerctl has no record of mounting it (a user.atomic.type "
                           "record alone proves nothing: anyone who can write there can make one)");
    ok = FALSE;
  } else if (g_strcmp0(json_string_value(json_object_get(doc, "type")), kind) != 0) {
    *out_reason = g_strdup_printf("syscontainerctl mounted it as %s, not %s",
                                  json_string_value(json_object_get(doc, "type")),
                                  kind);
    ok = FALSE;
  } else if (json_is_true(json_object_get(doc, "mounted")) && !is_mountpoint(dir)) {
    *out_reason = g_strdup("it is no longer a mount point (the record of a mount that is gone, "
                           "e.g. after a crash or a reboot)");
    ok = FALSE;
  } else if ((stamp = dir_stamp(dir, strcmp(kind, KIND_IMAGE) == 0)) == NULL ||
             g_strcmp0(stamp, json_string_value(json_object_get(doc, "stamp"))) != 0) {
    *out_reason = g_strdup("it is not the directory that was mounted there, or it changed "
                           "since (device, inode, birth or change time)");
    ok = FALSE;
  } else
    ok = TRUE;
  json_decref(doc);
  return ok;
}

/* A mount point in this namespace whose root is the directory @path (a
 * bind of it, as mount binds a container's rootfs), or NULL. Matched by
 * device and inode: mountinfo names a bind's root relative to its
 * filesystem, not by a path here. */
char *
sc_mount_find_bind(const char *path)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  struct stat want;

  if (lstat(path, &want) != 0 || !S_ISDIR(want.st_mode) ||
      !g_file_get_contents("/proc/self/mountinfo", &text, NULL, NULL))
    return NULL;
  lines = g_strsplit(text, "\n", -1);
  for (char **l = lines; *l && **l; l++) {
    g_auto(GStrv) f = g_strsplit(*l, " ", 6);
    g_autofree char *point = NULL;
    struct statx st;

    if (g_strv_length(f) < 5)
      continue;
    point = g_strcompress(f[4]); /* "\040" for a space */
    if (statx(AT_FDCWD, point, AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC, STATX_INO, &st) == 0 &&
        makedev(st.stx_dev_major, st.stx_dev_minor) == want.st_dev && st.stx_ino == want.st_ino &&
        strcmp(point, path) != 0)
      return g_steal_pointer(&point);
  }
  return NULL;
}

/* @source bound on @dir, then made read-only (a bind mount takes the
 * flag only on a remount). */
static gboolean
bind_read_only(const char *source, const char *dir, GError **error)
{
  if (mount(source, dir, NULL, MS_BIND, NULL) != 0) {
    g_set_error(
      error, SC_ERROR, SC_EIO, "cannot bind %s on %s: %s", source, dir, g_strerror(errno));
    return FALSE;
  }
  if (mount(NULL, dir, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) != 0) {
    int err = errno;
    (void)umount2(dir, MNT_DETACH);
    g_set_error(error, SC_ERROR, SC_EIO, "cannot make %s read-only: %s", dir, g_strerror(err));
    return FALSE;
  }
  return TRUE;
}

static gboolean
check_dir(const char *dir, GError **error)
{
  struct stat st;
  gboolean xattr;
  g_autofree char *kind = NULL;

  if (!g_path_is_absolute(dir)) {
    g_set_error(error, SC_ERROR, SC_EINVAL, "mount directory '%s': must be an absolute path", dir);
    return FALSE;
  }
  if (lstat(dir, &st) != 0) {
    g_set_error(error, SC_ERROR, SC_ENOTFOUND, "mount directory %s: %s", dir, g_strerror(errno));
    return FALSE;
  }
  if (!S_ISDIR(st.st_mode)) {
    g_set_error(error, SC_ERROR, SC_EINVAL, "mount directory %s: not a directory", dir);
    return FALSE;
  }
  kind = read_mark(dir, &xattr, NULL);
  if (kind != NULL || is_mountpoint(dir)) {
    g_set_error(error,
                SC_ERROR,
                SC_EEXISTS,
                "mount directory %s: something is mounted there already%s%s%s",
                dir,
                kind ? " (" : "",
                kind ? kind : "",
                kind ? "); umount it first" : "");
    return FALSE;
  }
  return TRUE;
}

static gboolean
mount_container(sc_context *ctx,
                const char *name,
                const char *slot,
                const char *dir,
                GError **error)
{
  g_autofree char *rootfs = sc_deploy_slot_rootfs(ctx, slot);

  if (geteuid() != 0) {
    /* (atomic's words; a user's `mount IMAGE DIR` extracts instead) */
    g_set_error(error, SC_ERROR, SC_EUNSUPPORTED, "Need to be root to mount a container.");
    return FALSE;
  }
  if (!write_mark(dir, KIND_CONTAINER, error))
    return FALSE;
  if (!bind_read_only(rootfs, dir, error)) {
    remove_mark(dir, FALSE);
    return FALSE;
  }
  return TRUE;
}

static gboolean
mount_image(sc_context *ctx, const char *image, const char *dir, GError **error)
{
  sc_error *err = NULL;

  if (!write_mark(dir, KIND_IMAGE, error))
    return FALSE;
  if (sc_image_checkout(ctx, image, dir, &err) != SC_OK) {
    g_set_error(error, SC_ERROR, sc_error_code(err), "%s", sc_error_message(err));
    sc_error_free(err);
    remove_mark(dir, FALSE);
    return FALSE;
  }
  /* the files are the store's objects: as root, nothing may write them */
  if (geteuid() == 0 && !bind_read_only(dir, dir, error)) {
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd >= 0) {
      sc_confined_empty_dir(dfd, dir, NULL);
      close(dfd);
    }
    remove_mark(dir, FALSE);
    return FALSE;
  }
  return TRUE;
}

/* What was mounted, in the documents' vocabulary (docs/json.md): a
 * container's "name", "image" and "id" (from its deployment's info); an
 * image's "reference" as given, "name" (NAME:TAG, null for one kept only
 * by its ID) and "id". */
static void
mounted_identity(sc_context *ctx, json_t *doc, const char *what, const char *slot)
{
  if (slot != NULL) {
    g_autoptr(json_t) info = sc_deploy_read_info(slot);
    json_object_set_new(doc, "name", json_string(what));
    json_object_set(doc, "image", json_object_get(info, "image") ?: json_null());
    json_object_set(doc, "id", json_object_get(info, "revision") ?: json_null());
    return;
  }
  json_object_set_new(doc, "reference", json_string(what));
  {
    OstreeRepo *repo = NULL;
    int lock = -1;
    g_autoptr(ScImage) img = NULL;
    if (sc_store_open_for_reading(ctx, &repo, &lock, NULL))
      img = sc_image_resolve_one(repo, what, NULL);
    if (lock >= 0)
      close(lock);
    json_object_set_new(doc, "name", img && !img->untagged ? json_string(img->name) : json_null());
    json_object_set_new(doc, "id", img ? json_string(img->id) : json_null());
  }
}

/* "DIR/", "DIR//." and "A/../DIR" are DIR: the sidecar is named from the
 * last component, so "DIR/" would put it inside DIR (under the mount, where
 * umount cannot find it). Lexical, as the path is used the same way for
 * the mount, the record and umount. */
static char *
normalize_dir(const char *dir)
{
  g_autofree char *lexical = NULL;
  g_autofree char *parent = NULL;
  g_autofree char *real = NULL;
  g_autofree char *base = NULL;

  if (!g_path_is_absolute(dir))
    return g_strdup(dir);
  lexical = g_canonicalize_filename(dir, "/");
  if (strspn(lexical, "/") == strlen(lexical)) /* ("//" is kept, as POSIX allows) */
    return g_strdup("/");
  /* DIR's parent resolved, DIR itself not (a link there is refused): so
   * that the record of a mount made through a link to the parent is found
   * by umount of the real path, and the other way round */
  parent = g_path_get_dirname(lexical);
  base = g_path_get_basename(lexical);
  real = realpath(parent, NULL);
  return real ? g_build_filename(real, base, NULL) : g_steal_pointer(&lexical);
}

/* An exclusive flock() on DIR's parent (where the sidecar lives) for one
 * mount or umount: two mounts of one DIR at once both passed the check,
 * and the loser's cleanup removed the winner's record, leaving a mount no
 * umount could find. Returns the fd to close, or -1. */
static int
lock_parent(const char *dir, GError **error)
{
  g_autofree char *parent = g_path_get_dirname(dir);
  int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd < 0) {
    g_set_error(
      error, SC_ERROR, SC_ENOTFOUND, "mount directory %s: %s: %s", dir, parent, g_strerror(errno));
    return -1;
  }
  while (flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) {
      g_set_error(error, SC_ERROR, SC_EIO, "cannot lock %s: %s", parent, g_strerror(errno));
      close(fd);
      return -1;
    }
  }
  return fd;
}

/* closing the fd drops the lock; as a cleanup attribute, on every return */
static void
unlock_parent(int *fd)
{
  if (*fd >= 0)
    close(*fd);
}

/* Whether @path (resolved) is @top or under it. */
static gboolean
path_within(const char *path, const char *top)
{
  g_autofree char *real = top ? realpath(top, NULL) : NULL;
  size_t n = real ? strlen(real) : 0;

  return real && strncmp(path, real, n) == 0 && (path[n] == '\0' || path[n] == '/' || n == 1);
}

/* DIR inside the checkout root would be taken for (or hide) a deployment,
 * and inside the store an image's checkout would be hardlinked into the
 * objects it is made of, and umount would empty it there: refused. DIR's
 * parent is resolved (links followed), as the mount itself follows them. */
static gboolean
check_dir_place(sc_context *ctx, const char *dir, GError **error)
{
  g_autofree char *parent = g_path_get_dirname(dir);
  g_autofree char *base = g_path_get_basename(dir);
  g_autofree char *real_parent = realpath(parent, NULL);
  g_autofree char *real = real_parent ? g_build_filename(real_parent, base, NULL) : NULL;
  g_autofree char *root = sc_context_host_dir(ctx, sc_context_get_checkout_root(ctx));
  g_autofree char *store = sc_store_location(ctx, NULL, NULL);

  if (real == NULL)
    return TRUE; /* (check_dir says why) */
  if (path_within(real, root)) {
    g_set_error(error,
                SC_ERROR,
                SC_EINVAL,
                "mount directory %s: inside the checkout root %s, where the containers' "
                "deployments are",
                dir,
                root);
    return FALSE;
  }
  if (path_within(real, store)) {
    g_set_error(
      error, SC_ERROR, SC_EINVAL, "mount directory %s: inside the image store %s", dir, store);
    return FALSE;
  }
  return TRUE;
}

/* Undoes a mount whose record could not be written. */
static void
undo_mount(const char *dir, gboolean image)
{
  if (is_mountpoint(dir))
    (void)umount2(dir, MNT_DETACH);
  if (image) {
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd >= 0) {
      sc_confined_empty_dir(dfd, dir, NULL);
      close(dfd);
    }
  }
  remove_mark(dir, FALSE);
}

SC_API int
sc_mount(sc_context *ctx, const char *what, const char *dir_arg, char **out_json, sc_error **error)
{
  GError *gerror = NULL;
  g_autofree char *slot = NULL;
  g_autofree char *dir = NULL;
  __attribute__((cleanup(unlock_parent))) int lock = -1;
  gboolean is_container, ok;

  SC_CHECK_ARG(ctx != NULL && what != NULL && dir_arg != NULL, error);
  /* (the context's errors first, as every verb: a user's HOME=/ was a
   * "cannot create a temporary file" of the sidecar) */
  SC_CHECK_CONFIG(ctx, error);
  dir = normalize_dir(dir_arg);
  if (out_json)
    *out_json = NULL;
  if (!check_dir(dir, &gerror) || !check_dir_place(ctx, dir, &gerror))
    return sc_error_propagate(error, gerror);
  if ((lock = lock_parent(dir, &gerror)) < 0)
    return sc_error_propagate(error, gerror);
  /* again, under the lock: another mount may have just finished */
  if (!check_dir(dir, &gerror))
    return sc_error_propagate(error, gerror);
  /* an installed container's name first, as atomic looked it up */
  is_container = strchr(what, '/') == NULL && strchr(what, ':') == NULL &&
                 sc_name_validate(what, NULL) == SC_OK &&
                 (slot = sc_deploy_current_slot(ctx, what)) != NULL;
  ok = is_container ? mount_container(ctx, what, slot, dir, &gerror)
                    : mount_image(ctx, what, dir, &gerror);
  if (!ok)
    return sc_error_propagate(error, gerror);
  if (!write_record(ctx, dir, is_container ? KIND_CONTAINER : KIND_IMAGE, what, &gerror)) {
    undo_mount(dir, !is_container);
    return sc_error_propagate(error, gerror);
  }
  if (out_json) {
    json_t *doc = json_pack("{s:i, s:s, s:s}",
                            "schema",
                            1,
                            "dir",
                            dir,
                            "type",
                            is_container ? KIND_CONTAINER : KIND_IMAGE);
    mounted_identity(ctx, doc, what, is_container ? slot : NULL);
    json_object_set_new(doc, "mounted", json_boolean(is_mountpoint(dir)));
    *out_json = json_dumps(doc, JSON_INDENT(2));
    json_decref(doc);
  }
  return SC_OK;
}

SC_API int
sc_umount(sc_context *ctx, const char *dir_arg, char **out_json, sc_error **error)
{
  GError *gerror = NULL;
  g_autofree char *kind = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *reason = NULL;
  __attribute__((cleanup(unlock_parent))) int lock = -1;
  gboolean xattr = FALSE;

  SC_CHECK_ARG(ctx != NULL && dir_arg != NULL, error);
  dir = normalize_dir(dir_arg);
  if (out_json)
    *out_json = NULL;
  /* as mount: a relative DIR would be looked up (sidecar and record) from
   * wherever the caller happens to be */
  if (!g_path_is_absolute(dir))
    return sc_error_set(error, SC_EINVAL, "mount directory '%s': must be an absolute path", dir);
  /* "/" has no parent to hold a sidecar: its name would be "/./.info" */
  if (strcmp(dir, "/") == 0)
    return sc_error_set(error, SC_EINVAL, "mount directory /: never mounted by syscontainerctl");
  if ((lock = lock_parent(dir, &gerror)) < 0)
    return sc_error_propagate(error, gerror);
  kind = read_mark(dir, &xattr, &gerror);
  if (kind == NULL) {
    if (gerror == NULL)
      g_set_error(&gerror,
                  SC_ERROR,
                  SC_ENOTFOUND,
                  "%s: nothing mounted there by syscontainerctl or atomic (no %s record)",
                  dir,
                  MARK_XATTR);
    return sc_error_propagate(error, gerror);
  }
  if (strcmp(kind, KIND_CONTAINER) != 0 && strcmp(kind, KIND_IMAGE) != 0 &&
      strcmp(kind, KIND_IMAGE_STORAGE) != 0)
    return sc_error_set(error, SC_EUNSUPPORTED, "%s: unknown mount type '%s'", dir, kind);
  if (!proven_ours(ctx, dir, kind, &reason))
    return sc_error_set(error,
                        SC_EUNSUPPORTED,
                        "%s: not unmounted, nothing removed: %s; if nothing of ours is mounted "
                        "there, remove its %s record yourself",
                        dir,
                        reason,
                        MARK_XATTR);
  if (is_mountpoint(dir) && umount2(dir, 0) != 0)
    return sc_error_set(
      error, errno == EBUSY ? SC_EBUSY : SC_EIO, "cannot umount %s: %s", dir, g_strerror(errno));
  /* an image's checkout goes with it (atomic deleted it too); the mark of
   * an atomic mount was on the unmounted directory itself */
  if (strcmp(kind, KIND_IMAGE) == 0) {
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0 || !sc_confined_empty_dir(dfd, dir, &gerror)) {
      if (dfd >= 0)
        close(dfd);
      if (gerror == NULL)
        g_set_error(&gerror, SC_ERROR, SC_EIO, "%s: %s", dir, g_strerror(errno));
      return sc_error_propagate(error, gerror);
    }
    close(dfd);
  }
  if (xattr || getxattr(dir, MARK_XATTR, NULL, 0) > 0)
    (void)removexattr(dir, MARK_XATTR);
  remove_mark(dir, FALSE);
  remove_record(ctx, dir);
  if (out_json) {
    json_t *doc =
      json_pack("{s:i, s:s, s:s, s:b}", "schema", 1, "dir", dir, "type", kind, "mounted", 0);
    *out_json = json_dumps(doc, JSON_INDENT(2));
    json_decref(doc);
  }
  return SC_OK;
}
