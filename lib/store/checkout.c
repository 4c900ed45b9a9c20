/*
 * Checkout: an image's layers, in manifest order, merged into one
 * directory as hardlinks into the store (docs/design.md), or as copies for a
 * root that a run-once container may write to.
 *
 * The layers come from the network, so the merge trusts nothing in them and
 * does its own walk instead of OSTree's checkout:
 * - every step is relative to a directory descriptor and never follows a
 *   symbolic link: a link a lower layer left where an upper layer has a
 *   directory is replaced by the directory, never walked through;
 * - no recursion and a bounded number of descriptors: the walk goes down by
 *   name and back up by "..", checked against the directory it left;
 * - OCI union rules: in each directory, a layer's whiteouts are applied
 *   before its own entries (".wh.NAME" removes NAME from the lower layers,
 *   ".wh..wh..opq" everything the lower layers put there, also at the top);
 *   a file replaces whatever a lower layer had at its name, and so does a
 *   directory, except a directory, which it merges into (taking this
 *   layer's metadata for it, as OSTree's union checkout and umoci do);
 * - whiteout names that name nothing ("", ".", ".."), other ".wh..wh."
 *   names and whiteouts that are directories are refused.
 *
 * The hardlink farm is made by a pool of workers (online CPUs, or
 * SC_CHECKOUT_WORKERS; 1 links in the walking thread): the walker still
 * does everything above in order (directories, owners, whiteouts) and hands
 * the links of a directory's files to the workers in batches of a range of
 * that directory's entries; the last batch of a directory sets its mode.
 * A subdirectory the walker has entered goes whole to a worker when they
 * have room (spawn_subtree()): the worker walks it as the walker would,
 * with its own stack and descriptor, links its files itself (a worker
 * never waits for another), and hands its subdirectories on in turn.
 * Each layer ends when all its batches and subtrees are done, so that an
 * upper layer's whiteouts and replacements come after every link of the
 * layers below. Within one layer a directory's files and subdirectories
 * have different names, and sibling subtrees share none, so no two threads
 * touch the same name. A batch or a subtree holds one descriptor and at
 * most SC_CHECKOUT_INFLIGHT of them per worker are queued: the descriptors
 * stay bounded. The first link is made by the
 * walker: a store on another mount (EXDEV) switches to copies, which are
 * made in order, before any batch exists.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <gio/gunixoutputstream.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define WHITEOUT ".wh."
#define OPAQUE ".wh..wh..opq"
/* files of one directory per batch: enough to pay for the hand-over, few
 * enough that a big directory is shared by the workers */
#define BATCH 256
#define SC_CHECKOUT_INFLIGHT 4

typedef struct _DirWork DirWork;

typedef struct {
  OstreeRepo *repo;
  int repo_dfd;
  gboolean link_objects; /* bare store: an object is the file, metadata and all */
  gboolean keep_owner;   /* root, bare store: uid, gid and xattrs as stored */
  /* bare-user store (a user's): its regular files are linked too (the
   * user's own, their owner and mode in the user.ostreemeta xattr, what a
   * rootless runtime needs); its symlinks are files there, made anew */
  gboolean bare_user;
  gboolean copy;
  const char *only_top; /* just this entry of the top directory (and below) */
  const char *image, *layer;
  GHashTable *dirmeta; /* checksum -> GVariant (uuua(ayay)) */
  int root_fd;         /* the checkout's top directory */
  /* checksum -> Copied, once copying for want of links (EXDEV): what the
   * links into the store made one file stays one file */
  GHashTable *copies;
  /* "dev:ino" -> checksum of each copy made: a copy removed by a later
   * layer frees its inode number, which a copy of another object may get */
  GHashTable *copied_inodes;
  /* the workers (none with one): see the top of the file */
  guint n_workers;
  gboolean linked_once; /* a link into this checkout worked: no EXDEV now */
  GThreadPool *pool;
  GMutex lock;     /* guards what follows and every DirWork */
  GCond done;      /* a batch finished */
  guint inflight;  /* batches queued or running */
  GError *failure; /* the first a worker met */
} Checkout;

/* A directory whose files workers are linking: the last one to let go of
 * it (the walker when the directory is complete, or a batch) sets its
 * mode, once every link in it is made (the mode may forbid writing). */
struct _DirWork {
  guint refs;     /* the walker's, until it leaves the directory, + batches */
  char *path;     /* "/a/b" ("" at the top), for messages */
  gboolean chmod; /* set @mode when the last reference goes */
  guint32 mode;
};

typedef struct {
  ScWalkLevel level; /* first: sc_confined_walk_up() reads it */
  /* the directory's name in its parent ("" at the top); at the bottom of
   * a subtree's stack, its path from the top ("usr/lib") */
  char *name;
  GVariant *tree;   /* its dirtree in this layer: (a(say)a(sayay)) */
  guint next_dir;   /* the next subdirectory to enter */
  guint32 mode;     /* set once it is filled, as OSTree does */
  DirWork *work;    /* while workers link its files */
  gboolean top;     /* the checkout's top directory (its mode is the caller's) */
  gboolean in_task; /* walked by a worker: links its files itself */
} Frame;

typedef struct {
  Checkout *c;
  DirWork *work;
  GVariant *files; /* the directory's files in this layer: a(say) */
  gsize start, end;
  int dfd; /* the directory, the batch's own descriptor */
  /* or a subtree to walk whole: its top directory (@dfd, entered and
   * owned already) as the bottom of the worker's stack */
  Frame *subtree;
} Batch;

typedef struct {
  char *path; /* relative to the checkout's top */
  dev_t dev;
  ino_t ino;
} Copied;

static void
copied_free(Copied *c)
{
  g_free(c->path);
  g_free(c);
}


static void dir_work_release(Checkout *c, DirWork *w, int fd);

static void
frame_clear(Frame *f)
{
  g_clear_pointer(&f->name, g_free);
  g_clear_pointer(&f->tree, g_variant_unref);
  /* only on a failure, after every batch ended (wait_all): the last ref */
  if (f->work) {
    g_free(f->work->path);
    g_free(f->work);
    f->work = NULL;
  }
}

/* "/a/b/c" of the directories on the stack, and @name below them. */
static char *
stack_path(GArray *stack, const char *name)
{
  GString *s = g_string_new("");

  for (guint i = 0; i < stack->len; i++)
    if (*g_array_index(stack, Frame, i).name)
      g_string_append_printf(s, "/%s", g_array_index(stack, Frame, i).name);
  if (name)
    g_string_append_printf(s, "/%s", name);
  if (s->len == 0)
    g_string_append_c(s, '/');
  return g_string_free(s, FALSE);
}

/* The directory the walk is in, as a prefix of its entries' paths ("" at the top). */
static char *
dir_prefix(GArray *stack)
{
  char *p = stack_path(stack, NULL);

  if (strcmp(p, "/") == 0)
    p[0] = '\0';
  return p;
}

static gboolean
fail_at(Checkout *c, const char *dir, const char *name, GError **error, int code,
        const char *format, ...) G_GNUC_PRINTF(6, 7);

/* The error of @name in @dir (a dir_prefix()), or of @dir with no @name. */
static gboolean
fail_at(Checkout *c, const char *dir, const char *name, GError **error, int code,
        const char *format, ...)
{
  g_autofree char *path = name ? g_strdup_printf("%s/%s", dir, name) : g_strdup(*dir ? dir : "/");
  g_autofree char *why = NULL;
  va_list ap;

  va_start(ap, format);
  why = g_strdup_vprintf(format, ap);
  va_end(ap);
  g_set_error(error, SC_ERROR, code, "image %s: layer %s: %s: %s", c->image, c->layer, path, why);
  return FALSE;
}

static gboolean
fail(Checkout *c, GArray *stack, const char *name, GError **error, int code, const char *format,
     ...) G_GNUC_PRINTF(6, 7);

static gboolean
fail(Checkout *c, GArray *stack, const char *name, GError **error, int code, const char *format,
     ...)
{
  g_autofree char *dir = dir_prefix(stack);
  g_autofree char *why = NULL;
  va_list ap;

  va_start(ap, format);
  why = g_strdup_vprintf(format, ap);
  va_end(ap);
  return fail_at(c, dir, name, error, code, "%s", why);
}

/* (from any walking thread: the cache is under c->lock, and what it
 * holds stays until the checkout ends) */
static GVariant *
load_dirmeta(Checkout *c, const char *csum, GError **error)
{
  GVariant *meta, *had;

  g_mutex_lock(&c->lock);
  meta = g_hash_table_lookup(c->dirmeta, csum);
  g_mutex_unlock(&c->lock);
  if (meta != NULL)
    return meta;
  if (!ostree_repo_load_variant(c->repo, OSTREE_OBJECT_TYPE_DIR_META, csum, &meta, error))
    return NULL;
  g_mutex_lock(&c->lock);
  had = g_hash_table_lookup(c->dirmeta, csum);
  if (had == NULL)
    g_hash_table_insert(c->dirmeta, g_strdup(csum), meta);
  g_mutex_unlock(&c->lock);
  if (had != NULL) {
    g_variant_unref(meta);
    meta = had;
  }
  return meta;
}

static gboolean
set_xattrs(int fd, GVariant *xattrs, GError **error)
{
  gsize n = g_variant_n_children(xattrs);

  for (gsize i = 0; i < n; i++) {
    g_autoptr(GVariant) name = NULL;
    g_autoptr(GVariant) value = NULL;
    gsize len;
    const guint8 *data;
    g_variant_get_child(xattrs, i, "(@ay@ay)", &name, &value);
    if (strcmp(g_variant_get_bytestring(name), SC_IMPLICIT_DIR_XATTR) == 0)
      continue; /* (ours, for the checkout only) */
    data = g_variant_get_fixed_array(value, &len, 1);
    if (fsetxattr(fd, g_variant_get_bytestring(name), data, len, 0) != 0) {
      g_set_error(error, SC_ERROR, SC_EIO, "cannot set the attribute %s: %s",
                  g_variant_get_bytestring(name), g_strerror(errno));
      return FALSE;
    }
  }
  return TRUE;
}

/* @xattrs hold the marker of a directory the layer has no entry for. */
static gboolean
is_implicit_dir(GVariant *xattrs)
{
  gsize n = g_variant_n_children(xattrs);

  for (gsize i = 0; i < n; i++) {
    g_autoptr(GVariant) name = NULL;
    g_variant_get_child(xattrs, i, "(@ay@ay)", &name, NULL);
    if (strcmp(g_variant_get_bytestring(name), SC_IMPLICIT_DIR_XATTR) == 0)
      return TRUE;
  }
  return FALSE;
}

/* Makes the directory @name in @dfd (replacing a non-directory a lower
 * layer put there), opens it and gives it this layer's owner and xattrs;
 * its mode waits until it is filled (it may forbid writing). A directory
 * the layer has no entry for keeps a lower layer's owner, xattrs and mode
 * (OCI union, as umoci). */
static int
enter_dir(Checkout *c, GArray *stack, int dfd, const char *name, const char *meta_csum,
          Frame *out, GError **error)
{
  struct stat st;
  GVariant *meta;
  int fd;
  gboolean lower = FALSE;

  if (mkdirat(dfd, name, 0700) != 0) {
    if (errno != EEXIST)
      return fail(c, stack, name, error, SC_EIO, "cannot create: %s", g_strerror(errno)), -1;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
      return fail(c, stack, name, error, SC_EIO, "%s", g_strerror(errno)), -1;
    lower = S_ISDIR(st.st_mode);
    if (!S_ISDIR(st.st_mode)) {
      /* a file or a link of a lower layer: replaced, never followed */
      if (unlinkat(dfd, name, 0) != 0 || mkdirat(dfd, name, 0700) != 0)
        return fail(c, stack, name, error, SC_EIO, "cannot replace: %s", g_strerror(errno)), -1;
    }
  }
  fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return fail(c, stack, name, error, SC_EIO, "cannot open: %s", g_strerror(errno)), -1;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return fail(c, stack, name, error, SC_EIO, "%s", g_strerror(errno)), -1;
  }
  out->level.dev = st.st_dev;
  out->level.ino = st.st_ino;
  {
    g_autoptr(GVariant) xattrs = NULL;
    guint32 uid, gid, mode;
    meta = load_dirmeta(c, meta_csum, error);
    if (meta == NULL) {
      close(fd);
      return -1;
    }
    g_variant_get(meta, "(uuu@a(ayay))", &uid, &gid, &mode, &xattrs);
    if (lower && is_implicit_dir(xattrs)) {
      out->mode = st.st_mode & 07777; /* (fstat above: the lower layer's, final) */
      return fd;
    }
    out->mode = GUINT32_FROM_BE(mode) & 07777;
    /* without the owners, a directory keeps its sticky and setgid bits
     * (a 1777 /tmp stays sticky); only setuid, meaningless there, goes */
    if (!c->keep_owner)
      out->mode &= 03777;
    /* a user's checkout: a directory they could not enter, write or
     * remove would stop the next layer and the uninstall (atomic: |0700) */
    if (c->bare_user)
      out->mode |= 0700;
    if (c->keep_owner &&
        (fchown(fd, GUINT32_FROM_BE(uid), GUINT32_FROM_BE(gid)) != 0 ||
         !set_xattrs(fd, xattrs, error))) {
      if (error && *error == NULL)
        g_set_error(error, SC_ERROR, SC_EIO, "cannot set the owner: %s", g_strerror(errno));
      g_prefix_error(error, "image %s: layer %s: %s/: ", c->image, c->layer, name);
      close(fd);
      return -1;
    }
  }
  return fd;
}

static gboolean
copy_object(Checkout *c, int dfd, const char *name, const char *csum, GError **error)
{
  g_autoptr(GInputStream) in = NULL;
  g_autoptr(GFileInfo) info = NULL;
  g_autoptr(GVariant) xattrs = NULL;
  g_autoptr(GOutputStream) out = NULL;
  guint32 uid, gid, mode;
  int fd;

  if (!ostree_repo_load_file(c->repo, csum, &in, &info, &xattrs, NULL, error))
    return FALSE;
  uid = g_file_info_get_attribute_uint32(info, "unix::uid");
  gid = g_file_info_get_attribute_uint32(info, "unix::gid");
  mode = g_file_info_get_attribute_uint32(info, "unix::mode");
  if (g_file_info_get_file_type(info) == G_FILE_TYPE_SYMBOLIC_LINK) {
    if (symlinkat(g_file_info_get_symlink_target(info), dfd, name) != 0 ||
        (c->keep_owner && fchownat(dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0)) {
      g_set_error(error, SC_ERROR, SC_EIO, "%s", g_strerror(errno));
      return FALSE;
    }
    return TRUE;
  }
  fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    g_set_error(error, SC_ERROR, SC_EIO, "%s", g_strerror(errno));
    return FALSE;
  }
  out = g_unix_output_stream_new(fd, TRUE);
  if (g_output_stream_splice(out, in, G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE, NULL, error) < 0)
    return FALSE;
  if ((c->keep_owner && (fchown(fd, uid, gid) != 0)) ||
      fchmod(fd, c->keep_owner ? mode & 07777 : (mode & 0777) | (c->bare_user ? 0600 : 0)) != 0) {
    g_set_error(error, SC_ERROR, SC_EIO, "%s", g_strerror(errno));
    return FALSE;
  }
  if (c->keep_owner && xattrs && !set_xattrs(fd, xattrs, error))
    return FALSE;
  return g_output_stream_close(out, NULL, error);
}

/* @name in the directory the walk is in, relative to the checkout's top. */
static char *
walk_path(GArray *stack, const char *name)
{
  GString *p = g_string_new("");

  for (guint i = 0; i < stack->len; i++)
    if (*g_array_index(stack, Frame, i).name)
      g_string_append_printf(p, "%s/", g_array_index(stack, Frame, i).name);
  g_string_append(p, name);
  return g_string_free(p, FALSE);
}

/* Links @name in @dfd to this checkout's earlier copy of the object @csum,
 * when that copy is still the file it was (a later layer may have replaced
 * it, or a directory on its way); FALSE when there is none to link. */
static gboolean
link_copied(Checkout *c, int dfd, const char *name, const char *csum)
{
  Copied *was = c->copies ? g_hash_table_lookup(c->copies, csum) : NULL;
  g_autofree char *base = NULL;
  struct stat st;
  int pfd;
  gboolean ok;

  if (was == NULL)
    return FALSE;
  pfd = sc_confined_open_parent(c->root_fd, was->path, TRUE, FALSE, &base, NULL);
  if (pfd < 0)
    return FALSE;
  ok = fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
       st.st_dev == was->dev && st.st_ino == was->ino;
  if (ok) {
    g_autofree char *key = g_strdup_printf("%ju:%ju", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
    ok = g_strcmp0(g_hash_table_lookup(c->copied_inodes, key), csum) == 0 &&
         linkat(pfd, base, dfd, name, 0) == 0;
  }
  close(pfd);
  return ok;
}

static void
remember_copy(Checkout *c, GArray *stack, int dfd, const char *name, const char *csum)
{
  struct stat st;
  Copied *now;

  if (c->copies == NULL || fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
      !S_ISREG(st.st_mode))
    return;
  now = g_new0(Copied, 1);
  now->path = walk_path(stack, name);
  now->dev = st.st_dev;
  now->ino = st.st_ino;
  g_hash_table_replace(c->copies, g_strdup(csum), now);
  g_hash_table_replace(c->copied_inodes,
                       g_strdup_printf("%ju:%ju", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino),
                       g_strdup(csum));
}

typedef enum { LINK_OK, LINK_FAILED, LINK_EXDEV } LinkResult;

/* Links the store's object @csum as @name in @dfd (in @dir, for messages),
 * replacing what a lower layer put there; LINK_EXDEV, with no error, when
 * the store is on another mount. Called by the walker and the workers. */
static LinkResult
link_object(Checkout *c, const char *dir, int dfd, const char *name, const char *csum,
            GError **error)
{
  /* a loose object of a bare repository: objects/XX/YYYY....file */
  char object[sizeof "objects/XX/.file" + OSTREE_SHA256_STRING_LEN];
  GError *local = NULL;

  g_snprintf(object, sizeof object, "objects/%.2s/%s.file", csum, csum + 2);
  for (int attempt = 0; attempt < 2; attempt++) {
    if (linkat(c->repo_dfd, object, dfd, name, 0) == 0)
      return LINK_OK;
    if (errno == ENOENT)
      return fail_at(c, dir, name, error, SC_ENOTFOUND,
                     "the store lacks its object %s (run images verify)", csum),
             LINK_FAILED;
    if (errno == EXDEV)
      return LINK_EXDEV;
    if (errno == EMLINK)
      return fail_at(c, dir, name, error, SC_EIO,
                     "its object %s has as many hardlinks as the filesystem allows", csum),
             LINK_FAILED;
    if (errno != EEXIST)
      return fail_at(c, dir, name, error, SC_EIO, "cannot link: %s", g_strerror(errno)),
             LINK_FAILED;
    /* a lower layer's entry (a directory too): this layer's file wins */
    if (attempt == 0 && !sc_confined_rm_rf_at(dfd, name, name, &local)) {
      fail_at(c, dir, name, error, SC_EIO, "%s", local->message);
      g_error_free(local);
      return LINK_FAILED;
    }
  }
  fail_at(c, dir, name, error, SC_EIO, "cannot replace the lower layers' entry");
  return LINK_FAILED;
}

/* The object as @name in @dfd, replacing what a lower layer put there. */
static gboolean
place_file(Checkout *c, GArray *stack, int dfd, const char *name, const char *csum,
           GError **error)
{
  GError *local = NULL;

  gboolean link = c->link_objects && !c->copy;

  /* a bare-user store keeps a symbolic link as a regular file (its target
   * the content): only regular files are linked, links are made anew */
  if (link && c->bare_user) {
    g_autoptr(GFileInfo) info = NULL;
    if (!ostree_repo_load_file(c->repo, csum, NULL, &info, NULL, NULL, &local)) {
      fail(c, stack, name, error, SC_ENOTFOUND, "%s", local->message);
      g_error_free(local);
      return FALSE;
    }
    link = g_file_info_get_file_type(info) == G_FILE_TYPE_REGULAR;
  }
  if (link) {
    g_autofree char *dir = dir_prefix(stack);
    LinkResult r = link_object(c, dir, dfd, name, csum, error);
    if (r == LINK_OK && !c->linked_once)
      c->linked_once = TRUE;
    if (r != LINK_EXDEV)
      return r == LINK_OK;
    if (g_array_index(stack, Frame, stack->len - 1).in_task) /* (as in run_batch) */
      return fail(c, stack, name, error, SC_EIO, "cannot link: %s", g_strerror(EXDEV));
    /* a store that was set (--repo, atomic.conf) on another mount than
     * the checkout: copies from here on, as ostree falls back */
    c->copy = TRUE;
    c->copies =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)copied_free);
    c->copied_inodes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  }
  for (int attempt = 0; attempt < 2; attempt++) {
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (link_copied(c, dfd, name, csum))
        return TRUE;
      if (copy_object(c, dfd, name, csum, &local)) {
        remember_copy(c, stack, dfd, name, csum);
        return TRUE;
      }
      fail(c, stack, name, error, g_error_matches(local, SC_ERROR, SC_ENOTFOUND) ?
                                      SC_ENOTFOUND : SC_EIO, "%s", local->message);
      g_error_free(local);
      return FALSE;
    }
    /* a lower layer's entry (a directory too): this layer's file wins */
    if (attempt == 0 && !sc_confined_rm_rf_at(dfd, name, name, &local)) {
      fail(c, stack, name, error, SC_EIO, "%s", local->message);
      g_error_free(local);
      return FALSE;
    }
  }
  return fail(c, stack, name, error, SC_EIO, "cannot replace the lower layers' entry");
}

/* Sets the mode of a directory whose links are all made; under c->lock. */
static void
dir_work_release(Checkout *c, DirWork *w, int fd)
{
  if (--w->refs > 0)
    return;
  if (w->chmod && fchmod(fd, w->mode) != 0 && c->failure == NULL)
    fail_at(c, w->path, NULL, &c->failure, SC_EIO, "cannot set the mode: %s", g_strerror(errno));
  g_free(w->path);
  g_free(w);
}

static gboolean is_top_entry(Checkout *c, GArray *stack, const char *name);
static gboolean fill_dir(Checkout *c, GArray *stack, int dfd, GError **error);
static gboolean walk_down(Checkout *c, GArray *stack, int *cur, GError **error);
static gboolean use_workers(Checkout *c, GArray *stack);

/* A worker walks a subtree that a walker handed over: its top directory
 * entered and owned, the rest as the walker would, files linked here. */
static void
run_subtree(Checkout *c, Batch *b)
{
  g_autoptr(GArray) stack = g_array_new(FALSE, TRUE, sizeof(Frame));
  GError *local = NULL;
  int cur = b->dfd;
  gboolean stop;

  g_array_set_clear_func(stack, (GDestroyNotify)frame_clear);
  g_array_append_val(stack, *b->subtree);
  g_free(b->subtree);
  g_mutex_lock(&c->lock);
  stop = c->failure != NULL;
  g_mutex_unlock(&c->lock);
  if (!stop && fill_dir(c, stack, cur, &local))
    walk_down(c, stack, &cur, &local);
  if (cur >= 0)
    close(cur);
  g_mutex_lock(&c->lock);
  if (local && c->failure == NULL)
    c->failure = g_steal_pointer(&local);
  g_clear_error(&local);
  c->inflight--;
  g_cond_broadcast(&c->done);
  g_mutex_unlock(&c->lock);
  g_free(b);
}

/* A worker: the links of one batch, or a subtree. After a failure
 * anywhere, the batches still queued only let go of their directory. */
static void
run_batch(gpointer data, gpointer user_data)
{
  Batch *b = data;
  Checkout *c = user_data;
  GError *local = NULL;
  gboolean stop;

  if (b->subtree) {
    run_subtree(c, b);
    return;
  }

  g_mutex_lock(&c->lock);
  stop = c->failure != NULL;
  g_mutex_unlock(&c->lock);
  for (gsize i = b->start; i < b->end && !stop; i++) {
    const char *name;
    g_autoptr(GVariant) csum_v = NULL;
    char csum[OSTREE_SHA256_STRING_LEN + 1];
    const guchar *bytes;
    g_variant_get_child(b->files, i, "(&s@ay)", &name, &csum_v);
    if (g_str_has_prefix(name, WHITEOUT))
      continue;
    bytes = ostree_checksum_bytes_peek(csum_v);
    if (bytes == NULL) { /* a damaged dirtree: no object to name */
      fail_at(c, b->work->path, name, &local, SC_EIO, "its checksum in the store is damaged");
      break;
    }
    ostree_checksum_inplace_from_bytes(bytes, csum);
    switch (link_object(c, b->work->path, b->dfd, name, csum, &local)) {
    case LINK_OK:
      break;
    case LINK_EXDEV: /* the walker's first link worked: a mount appeared since */
      fail_at(c, b->work->path, name, &local, SC_EIO, "cannot link: %s", g_strerror(EXDEV));
      stop = TRUE;
      break;
    case LINK_FAILED:
      stop = TRUE;
      break;
    }
  }
  g_mutex_lock(&c->lock);
  if (local && c->failure == NULL)
    c->failure = g_steal_pointer(&local);
  g_clear_error(&local);
  dir_work_release(c, b->work, b->dfd);
  c->inflight--;
  g_cond_broadcast(&c->done);
  g_mutex_unlock(&c->lock);
  close(b->dfd);
  g_variant_unref(b->files);
  g_free(b);
}

/* FALSE, with the workers' first failure, when there is one. */
static gboolean
workers_ok(Checkout *c, GError **error)
{
  gboolean ok;

  g_mutex_lock(&c->lock);
  ok = c->failure == NULL;
  if (!ok)
    g_propagate_error(error, g_steal_pointer(&c->failure));
  g_mutex_unlock(&c->lock);
  return ok;
}

/* Waits until no batch is queued or running; the workers' first failure. */
static gboolean
wait_all(Checkout *c, GError **error)
{
  g_mutex_lock(&c->lock);
  while (c->inflight > 0)
    g_cond_wait(&c->done, &c->lock);
  g_mutex_unlock(&c->lock);
  return workers_ok(c, error);
}

static gboolean
ensure_pool(Checkout *c, GError **error)
{
  if (c->pool == NULL)
    c->pool = g_thread_pool_new(run_batch, c, (int)c->n_workers, TRUE, error);
  return c->pool != NULL;
}

/* Hands the subdirectory @name of the directory the walk is in, entered
 * as @fd (then the worker's) and described by @child, to a worker, when
 * one can take it without the walker waiting: FALSE, and the walker walks
 * it, when the workers have enough queued. Every walker hands over, so
 * that the walk of a layer is shared by the walker and the workers. */
static gboolean
spawn_subtree(Checkout *c, GArray *stack, int fd, const Frame *child, const char *name)
{
  gboolean room;
  Batch *b;

  /* (the pool exists once the first link was made: use_workers) */
  if (!use_workers(c, stack) || c->pool == NULL)
    return FALSE;
  g_mutex_lock(&c->lock);
  room = c->failure == NULL && c->inflight < c->n_workers * SC_CHECKOUT_INFLIGHT;
  if (room)
    c->inflight++;
  g_mutex_unlock(&c->lock);
  if (!room)
    return FALSE;
  b = g_new0(Batch, 1);
  b->c = c;
  b->dfd = fd;
  b->subtree = g_memdup2(child, sizeof *child);
  b->subtree->name = walk_path(stack, name);
  b->subtree->in_task = TRUE;
  if (!g_thread_pool_push(c->pool, b, NULL)) {
    g_free(b->subtree->name);
    g_free(b->subtree);
    g_free(b);
    g_mutex_lock(&c->lock);
    c->inflight--;
    g_mutex_unlock(&c->lock);
    return FALSE;
  }
  return TRUE;
}

/* Hands the files [@start, @end) of the directory @dfd (the top of @stack)
 * to the workers; waits while too many batches are queued. */
static gboolean
submit_batch(Checkout *c, GArray *stack, int dfd, GVariant *files, gsize start, gsize end,
             GError **error)
{
  Frame *f = &g_array_index(stack, Frame, stack->len - 1);
  Batch *b;
  int fd;

  if (!ensure_pool(c, error))
    return FALSE;
  fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
  if (fd < 0)
    return fail(c, stack, NULL, error, SC_EIO, "%s", g_strerror(errno));
  if (f->work == NULL) {
    f->work = g_new0(DirWork, 1);
    f->work->refs = 1;
    f->work->path = dir_prefix(stack);
  }
  b = g_new0(Batch, 1);
  b->c = c;
  b->work = f->work;
  b->files = g_variant_ref(files);
  b->start = start;
  b->end = end;
  b->dfd = fd;
  g_mutex_lock(&c->lock);
  while (c->inflight >= c->n_workers * SC_CHECKOUT_INFLIGHT)
    g_cond_wait(&c->done, &c->lock);
  c->inflight++;
  f->work->refs++;
  g_mutex_unlock(&c->lock);
  if (!g_thread_pool_push(c->pool, b, error)) {
    g_mutex_lock(&c->lock);
    c->inflight--;
    f->work->refs--;
    g_mutex_unlock(&c->lock);
    close(fd);
    g_variant_unref(b->files);
    g_free(b);
    return FALSE;
  }
  return workers_ok(c, error);
}

/* The directory @dfd is complete as far as the walker goes: its mode now,
 * or when its last batch ends. */
static gboolean
finish_dir(Checkout *c, GArray *stack, int dfd, GError **error)
{
  Frame *f = &g_array_index(stack, Frame, stack->len - 1);
  DirWork *w = g_steal_pointer(&f->work);

  if (w == NULL) {
    if (!f->top && fchmod(dfd, f->mode) != 0)
      return fail(c, stack, NULL, error, SC_EIO, "cannot set the mode: %s", g_strerror(errno));
    return TRUE;
  }
  g_mutex_lock(&c->lock);
  w->chmod = !f->top;
  w->mode = f->mode;
  dir_work_release(c, w, dfd);
  g_mutex_unlock(&c->lock);
  return workers_ok(c, error);
}

/* Whether the walk is in the checkout's top directory (not the bottom of
 * a worker's stack, which is a subdirectory). */
static gboolean
at_top(GArray *stack)
{
  return g_array_index(stack, Frame, stack->len - 1).top;
}

static gboolean
is_top_entry(Checkout *c, GArray *stack, const char *name)
{
  return c->only_top == NULL || !at_top(stack) || strcmp(name, c->only_top) == 0;
}

/* Whether the files of the directory the walk is in go to the workers: links
 * (not copies), after a first one worked, and not the one /exports entry. */
static gboolean
use_workers(Checkout *c, GArray *stack)
{
  /* (a bare-user store: each object's type is looked up before it is
   * linked, by the walker: place_file) */
  return c->n_workers > 1 && c->link_objects && !c->bare_user && !c->copy && c->linked_once &&
         (c->only_top == NULL || !at_top(stack));
}

/* Whether the files of the directory the walk is in go to the workers in
 * batches: not when a worker walks it (a worker never waits for another). */
static gboolean
use_batches(Checkout *c, GArray *stack)
{
  return use_workers(c, stack) && !g_array_index(stack, Frame, stack->len - 1).in_task;
}

/* A layer's whiteouts in one directory, then its files. */
static gboolean
fill_dir(Checkout *c, GArray *stack, int dfd, GError **error)
{
  GVariant *tree = g_array_index(stack, Frame, stack->len - 1).tree;
  g_autoptr(GVariant) files = g_variant_get_child_value(tree, 0);
  g_autoptr(GVariant) dirs = g_variant_get_child_value(tree, 1);
  gsize n_files = g_variant_n_children(files), n_dirs = g_variant_n_children(dirs);
  GError *local = NULL;

  for (gsize i = 0; i < n_dirs; i++) {
    const char *name;
    g_variant_get_child(dirs, i, "(&s@ay@ay)", &name, NULL, NULL);
    if (g_str_has_prefix(name, WHITEOUT))
      return fail(c, stack, name, error, SC_EUNSUPPORTED,
                  "a whiteout must be a file, this one is a directory");
  }
  for (gsize i = 0; i < n_files; i++) {
    const char *name, *target;
    g_variant_get_child(files, i, "(&s@ay)", &name, NULL);
    if (!g_str_has_prefix(name, WHITEOUT))
      continue;
    target = name + strlen(WHITEOUT);
    if (strcmp(name, OPAQUE) == 0) {
      gboolean ok = c->only_top && at_top(stack)
                        ? sc_confined_rm_rf_at(dfd, c->only_top, c->only_top, &local)
                        : sc_confined_empty_dir(dfd, name, &local);
      if (!ok) {
        fail(c, stack, NULL, error, SC_EIO, "%s", local->message);
        g_error_free(local);
        return FALSE;
      }
      continue;
    }
    if (*target == '\0' || strcmp(target, ".") == 0 || strcmp(target, "..") == 0 ||
        g_str_has_prefix(target, WHITEOUT))
      return fail(c, stack, name, error, SC_EUNSUPPORTED,
                  "not a valid whiteout: it names no file a lower layer could have");
    if (!is_top_entry(c, stack, target))
      continue;
    if (!sc_confined_rm_rf_at(dfd, target, target, &local)) {
      fail(c, stack, target, error, SC_EIO, "%s", local->message);
      g_error_free(local);
      return FALSE;
    }
  }
  for (gsize i = 0; i < n_files; i++) {
    const char *name;
    g_autoptr(GVariant) csum_v = NULL;
    g_autofree char *csum = NULL;
    if (use_batches(c, stack)) {
      gsize end = MIN(n_files, i + BATCH);
      if (!submit_batch(c, stack, dfd, files, i, end, error))
        return FALSE;
      i = end - 1;
      continue;
    }
    g_variant_get_child(files, i, "(&s@ay)", &name, &csum_v);
    if (g_str_has_prefix(name, WHITEOUT) || !is_top_entry(c, stack, name))
      continue;
    csum = ostree_checksum_from_bytes_v(csum_v);
    if (!place_file(c, stack, dfd, name, csum, error))
      return FALSE;
  }
  return TRUE;
}

/* The directories below the one at the bottom of @stack (filled already),
 * depth first, each entered, filled and finished, and back up to it; the
 * only open descriptor is *@cur, the directory being filled (and those of
 * the subtrees handed to workers). */
static gboolean
walk_down(Checkout *c, GArray *stack, int *cur, GError **error)
{
  while (stack->len > 0) {
    Frame *f = &g_array_index(stack, Frame, stack->len - 1);
    g_autoptr(GVariant) dirs = g_variant_get_child_value(f->tree, 1);
    Frame child = {0};

    if (f->next_dir < g_variant_n_children(dirs)) {
      const char *name;
      g_autoptr(GVariant) tree_csum_v = NULL;
      g_autoptr(GVariant) meta_csum_v = NULL;
      g_autofree char *sub_tree = NULL;
      g_autofree char *sub_meta = NULL;
      int fd;

      g_variant_get_child(dirs, f->next_dir++, "(&s@ay@ay)", &name, &tree_csum_v, &meta_csum_v);
      if (!is_top_entry(c, stack, name))
        continue;
      sub_tree = ostree_checksum_from_bytes_v(tree_csum_v);
      sub_meta = ostree_checksum_from_bytes_v(meta_csum_v);
      fd = enter_dir(c, stack, *cur, name, sub_meta, &child, error);
      if (fd < 0)
        return FALSE;
      child.in_task = f->in_task;
      if (!ostree_repo_load_variant(c->repo, OSTREE_OBJECT_TYPE_DIR_TREE, sub_tree, &child.tree,
                                    error)) {
        close(fd);
        return FALSE;
      }
      if (spawn_subtree(c, stack, fd, &child, name))
        continue;
      close(*cur);
      *cur = fd;
      child.name = g_strdup(name);
      g_array_append_val(stack, child);
      if (!fill_dir(c, stack, *cur, error))
        return FALSE;
      continue;
    }
    /* this directory is complete */
    if (!finish_dir(c, stack, *cur, error))
      return FALSE;
    if (stack->len == 1)
      break;
    *cur = sc_confined_walk_up(stack, *cur, error);
    if (*cur < 0)
      return FALSE;
  }
  return TRUE;
}

/* One layer into @root_fd: walked depth first by this thread, which hands
 * subtrees and batches of files to the workers as they have room. */
static gboolean
checkout_layer(Checkout *c, int root_fd, const char *rev, GError **error)
{
  g_autoptr(GVariant) commit = NULL;
  g_autoptr(GVariant) tree_v = NULL;
  g_autoptr(GArray) stack = g_array_new(FALSE, TRUE, sizeof(Frame));
  g_autofree char *tree_csum = NULL;
  Frame top = {0};
  struct stat st;
  int cur = -1;
  gboolean ok = FALSE;

  g_array_set_clear_func(stack, (GDestroyNotify)frame_clear);
  if (!ostree_repo_load_commit(c->repo, rev, &commit, NULL, error))
    return FALSE;
  g_variant_get_child(commit, 6, "@ay", &tree_v);
  tree_csum = ostree_checksum_from_bytes_v(tree_v);
  top.name = g_strdup("");
  top.top = TRUE;
  if (!ostree_repo_load_variant(c->repo, OSTREE_OBJECT_TYPE_DIR_TREE, tree_csum, &top.tree,
                                error))
    return FALSE;
  cur = dup(root_fd);
  if (cur < 0 || fstat(cur, &st) != 0) {
    frame_clear(&top);
    g_set_error(error, SC_ERROR, SC_EIO, "checkout: %s", g_strerror(errno));
    goto out;
  }
  c->root_fd = root_fd;
  top.level.dev = st.st_dev;
  top.level.ino = st.st_ino;
  g_array_append_val(stack, top);
  ok = fill_dir(c, stack, cur, error) && walk_down(c, stack, &cur, error);
out:
  /* the layer is done when its links are: the next one's whiteouts and
   * replacements come after them, and no batch outlives its stack */
  if (!wait_all(c, ok ? error : NULL))
    ok = FALSE;
  if (cur >= 0)
    close(cur);
  return ok;
}

/* SC_CHECKOUT_WORKERS=N (1 to 64; 1 links in the walking thread), else
 * one worker per online CPU. */
static guint
checkout_workers(void)
{
  const char *env = g_getenv("SC_CHECKOUT_WORKERS");
  guint64 n = 0;

  if (env && g_ascii_string_to_unsigned(env, 10, 1, 64, &n, NULL))
    return (guint)n;
  return CLAMP(g_get_num_processors(), 1, 64);
}

static gboolean
checkout_layers(OstreeRepo *repo, ScImage *img, int dfd, gboolean copy, const char *only_top,
                GError **error)
{
  Checkout c = {0};
  json_t *layers = json_object_get(img->manifest, "layers");
  json_t *l;
  size_t i;
  gboolean ok = TRUE;

  c.repo = repo;
  c.repo_dfd = ostree_repo_get_dfd(repo);
  c.bare_user = ostree_repo_get_mode(repo) == OSTREE_REPO_MODE_BARE_USER;
  c.link_objects = ostree_repo_get_mode(repo) == OSTREE_REPO_MODE_BARE || c.bare_user;
  c.keep_owner = ostree_repo_get_mode(repo) == OSTREE_REPO_MODE_BARE && getuid() == 0;
  c.copy = copy;
  c.only_top = only_top;
  c.image = img->name;
  c.dirmeta = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                    (GDestroyNotify)g_variant_unref);
  c.n_workers = checkout_workers();
  g_mutex_init(&c.lock);
  g_cond_init(&c.done);
  json_array_foreach(layers, i, l)
  {
    const char *digest = json_string_value(json_object_get(l, "digest"));
    const char *hex;
    g_autofree char *ref = NULL;
    g_autofree char *rev = NULL;

    if (!sc_content_digest_hex(digest, &hex, error)) {
      ok = FALSE;
      break;
    }
    ref = g_strconcat(SC_REF_PREFIX, hex, NULL);
    if (!ostree_repo_resolve_rev(repo, ref, TRUE, &rev, error) || rev == NULL) {
      if (error && !*error)
        g_set_error(error, SC_ERROR, SC_ENOTFOUND,
                    "image %s: layer %s is not in the store: pull the image again", img->name,
                    digest);
      ok = FALSE;
      break;
    }
    c.layer = digest;
    if (!checkout_layer(&c, dfd, rev, error)) {
      if (error && *error && (*error)->domain != SC_ERROR)
        g_prefix_error(error, "image %s: layer %s: ", img->name, digest);
      ok = FALSE;
      break;
    }
  }
  if (c.pool)
    g_thread_pool_free(c.pool, FALSE, TRUE);
  g_clear_error(&c.failure);
  g_mutex_clear(&c.lock);
  g_cond_clear(&c.done);
  g_hash_table_unref(c.dirmeta);
  g_clear_pointer(&c.copies, g_hash_table_unref);
  g_clear_pointer(&c.copied_inodes, g_hash_table_unref);
  return ok;
}

gboolean
sc_store_checkout(OstreeRepo *repo, ScImage *img, const char *dir, gboolean copy, GError **error)
{
  int dfd;
  gboolean ok;

  dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    g_set_error(error, SC_ERROR, SC_EIO, "%s: %s", dir, g_strerror(errno));
    return FALSE;
  }
  /* On another file system or mount than the store, link() fails with
   * EXDEV and the checkout copies from there on (place_file), as the
   * store's documentation promises for a store that was set elsewhere. */
  ok = checkout_layers(repo, img, dfd, copy, NULL, error);
  if (ok && !copy && syncfs(dfd) != 0) {
    g_set_error(error, SC_ERROR, SC_EIO, "%s: syncfs: %s", dir, g_strerror(errno));
    ok = FALSE;
  }
  close(dfd);
  return ok;
}

/* The scratch directory for a checkout under the store's tmp: the
 * repository's real path, not /proc/self/fd/N, which another process
 * (runc) would not see. */
char *
sc_store_scratch_dir(OstreeRepo *repo, const char *prefix, GError **error)
{
  g_autofree char *fd_path = g_strdup_printf("/proc/self/fd/%d", ostree_repo_get_dfd(repo));
  g_autofree char *real = g_file_read_link(fd_path, NULL);
  g_autofree char *tmp = g_strdup_printf(
      "%s/tmp/%s-XXXXXX", real ? real : g_file_peek_path(ostree_repo_get_path(repo)), prefix);

  if (g_mkdtemp(tmp) == NULL) {
    g_set_error(error, SC_ERROR, SC_EIO, "cannot create %s: %s", tmp, g_strerror(errno));
    return NULL;
  }
  return g_steal_pointer(&tmp);
}

/* The image's /exports alone (its layers' /exports in order, with every
 * whiteout that reaches them) into a scratch directory under the store's
 * tmp; returns that directory (remove it with sc_rm_rf). Its "exports" is
 * missing when the image has none, and may be anything the image made of
 * it: readers open it without following links (sc_exports_open). */
char *
sc_store_checkout_exports(OstreeRepo *repo, ScImage *img, GError **error)
{
  g_autofree char *tmp = sc_store_scratch_dir(repo, "sc-exports", NULL);
  gboolean copy = FALSE;
  int dfd;
  gboolean ok;

  if (tmp == NULL) {
    /* a read-only store: copies, in the user's temporary directory */
    copy = TRUE;
    tmp = g_dir_make_tmp("sc-exports-XXXXXX", error);
    if (tmp == NULL)
      return NULL;
  }
  dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ok = dfd >= 0 && checkout_layers(repo, img, dfd, copy, "exports", error);
  if (dfd < 0)
    g_set_error(error, SC_ERROR, SC_EIO, "%s: %s", tmp, g_strerror(errno));
  else
    close(dfd);
  if (!ok) {
    sc_rm_rf(tmp);
    return NULL;
  }
  return g_steal_pointer(&tmp);
}

static gboolean
dir_is_empty_or_missing(const char *dir, gboolean *out_missing, GError **error)
{
  g_autoptr(GDir) d = NULL;
  struct stat st;

  *out_missing = FALSE;
  if (lstat(dir, &st) != 0) {
    if (errno == ENOENT) {
      *out_missing = TRUE;
      return TRUE;
    }
    g_set_error(error, SC_ERROR, SC_EIO, "%s: %s", dir, g_strerror(errno));
    return FALSE;
  }
  if (!S_ISDIR(st.st_mode) || (d = g_dir_open(dir, 0, NULL)) == NULL ||
      g_dir_read_name(d) != NULL) {
    g_set_error(error, SC_ERROR, SC_EEXISTS, "checkout directory %s exists and is not empty",
                dir);
    return FALSE;
  }
  return TRUE;
}

SC_API int
sc_image_checkout(sc_context *ctx, const char *image, const char *dir, sc_error **error)
{
  GError *gerror = NULL;
  OstreeRepo *repo;
  int lock = -1;
  g_autoptr(ScImage) img = NULL;
  gboolean missing = FALSE;
  gboolean ok;

  SC_CHECK_ARG(ctx != NULL && image != NULL && dir != NULL, error);
  if (!sc_store_open_for_reading(ctx, &repo, &lock, &gerror))
    return sc_error_propagate(error, gerror);
  img = sc_image_resolve_one(repo, image, &gerror);
  ok = img && dir_is_empty_or_missing(dir, &missing, &gerror);
  if (ok && missing && mkdir(dir, 0755) != 0) {
    g_set_error(&gerror, SC_ERROR, SC_EIO, "cannot create %s: %s", dir, g_strerror(errno));
    ok = FALSE;
  }
  if (ok && !sc_store_checkout(repo, img, dir, FALSE, &gerror)) {
    /* nothing half-written: the directory goes back to how it was */
    if (missing)
      sc_rm_rf(dir);
    else {
      int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (dfd >= 0) {
        sc_confined_empty_dir(dfd, dir, NULL);
        close(dfd);
      }
    }
    ok = FALSE;
  }
  close(lock);
  if (!ok)
    return sc_error_propagate(error, gerror);
  return SC_OK;
}
