/*
 * Regular-file objects of a bare repository, written here rather than by
 * ostree_repo_write_content_trusted(), for the layer pool's workers (and
 * the dirtree objects of the tree they fill, as libostree writes
 * metadata: sc_bare_writer_write_metadata()).
 *
 * The object is what libostree writes in a transaction with fsync off (the
 * store's setting, store.c): an O_TMPFILE in the repository's tmp/, the
 * contents, then the owner, the mode, the xattrs and an mtime of 0
 * (OSTREE_TIMESTAMP), linked as objects/XX/YYYY….file; a name already
 * there is kept. What libostree does besides, and this does not: it looks
 * for the object in its staging directory too (with fsync off it stages
 * nothing), fallocates every object before writing it, sets the mode twice,
 * makes objects/XX each time, and takes the contents through a content
 * stream (a header variant built and parsed again, GInputStream copies);
 * and here the owner and mode are set only when the new file lacks them.
 * Root's labelled files: 8 system calls per object where libostree made 13
 * (test: the objects are the same, file by file, as libostree's;
 * docs/store.md).
 *
 * libostree's min-free-space reserve is kept too: an object is refused when
 * writing it would leave less free space than the repository's
 * min-free-space-percent or -size asks. The free space is counted once
 * for the process, per file system: the layers a pull imports at once
 * write into the same free space (counted by each writer alone, eight
 * layers overshot the reserve eight times, where libostree's one budget
 * per transaction refused). It is read again after every RECHECK_BYTES
 * written.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <ostree.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#define RECHECK_BYTES (16 * 1024 * 1024)

/* The free space of one file system, shared by the writers into it. */
typedef struct {
  dev_t dev;
  guint refs;
  guint64 avail; /* free bytes when last read */
  guint64 since; /* bytes written since, by every writer */
} Space;

static GMutex space_lock; /* every Space, and the list */
static GSList *spaces;

struct ScBareWriter {
  int objects_dfd;
  int tmp_dfd;
  guint64 reserve;      /* bytes libostree keeps free */
  Space *space;
  gint linkat_by_proc;  /* atomic: AT_EMPTY_PATH was refused */
  guint8 dir_made[256]; /* objects/XX known to exist */
};

/* SC_OBJECT_WRITER=libostree (tests, benchmarks) leaves every write to
 * libostree. */
static gboolean
wanted(OstreeRepo *repo)
{
  return ostree_repo_get_mode(repo) == OSTREE_REPO_MODE_BARE &&
         g_strcmp0(g_getenv("SC_OBJECT_WRITER"), "libostree") != 0;
}

/* (space_lock held) */
static gboolean
read_free_space(ScBareWriter *w, GError **error)
{
  struct statvfs sv;

  if (fstatvfs(w->objects_dfd, &sv) != 0) {
    g_set_error(error, SC_ERROR, SC_EIO, "image store: fstatvfs: %s", g_strerror(errno));
    return FALSE;
  }
  /* (root may use the blocks the file system keeps for root: as libostree) */
  w->space->avail = (guint64)(geteuid() == 0 ? sv.f_bfree : sv.f_bavail) * sv.f_frsize;
  w->space->since = 0;
  return TRUE;
}

/* The writer joins its file system's Space (read when it is the first). */
static gboolean
join_space(ScBareWriter *w, GError **error)
{
  struct stat st;
  gboolean ok = TRUE;

  if (fstat(w->objects_dfd, &st) != 0) {
    g_set_error(error, SC_ERROR, SC_EIO, "image store: fstat: %s", g_strerror(errno));
    return FALSE;
  }
  g_mutex_lock(&space_lock);
  for (GSList *l = spaces; l && w->space == NULL; l = l->next)
    if (((Space *)l->data)->dev == st.st_dev)
      w->space = l->data;
  if (w->space == NULL) {
    w->space = g_new0(Space, 1);
    w->space->dev = st.st_dev;
    spaces = g_slist_prepend(spaces, w->space);
    ok = read_free_space(w, error);
  }
  w->space->refs++;
  g_mutex_unlock(&space_lock);
  return ok;
}

static void
leave_space(ScBareWriter *w)
{
  if (w->space == NULL)
    return;
  g_mutex_lock(&space_lock);
  if (--w->space->refs == 0) {
    spaces = g_slist_remove(spaces, w->space);
    g_free(w->space);
  }
  g_mutex_unlock(&space_lock);
  w->space = NULL;
}

ScBareWriter *
sc_bare_writer_new(OstreeRepo *repo)
{
  g_autoptr(GError) local = NULL;
  ScBareWriter *w;
  int dfd = ostree_repo_get_dfd(repo);
  int probe;

  if (!wanted(repo))
    return NULL;
  w = g_new0(ScBareWriter, 1);
  w->objects_dfd = openat(dfd, "objects", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  w->tmp_dfd = openat(dfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  probe = w->tmp_dfd < 0 ? -1 : openat(w->tmp_dfd, ".", O_WRONLY | O_CLOEXEC | O_TMPFILE, 0600);
  if (probe >= 0)
    close(probe);
  /* (the reserve cannot be read when it is used up already: libostree then
   * refuses the transaction itself) */
  if (w->objects_dfd < 0 || probe < 0 ||
      !ostree_repo_get_min_free_space_bytes(repo, &w->reserve, &local) ||
      !join_space(w, &local)) {
    sc_bare_writer_free(w);
    return NULL;
  }
  return w;
}

void
sc_bare_writer_free(ScBareWriter *w)
{
  if (w == NULL)
    return;
  if (w->objects_dfd >= 0)
    close(w->objects_dfd);
  if (w->tmp_dfd >= 0)
    close(w->tmp_dfd);
  leave_space(w);
  g_free(w);
}

/* Room for @size more bytes above the reserve (libostree's words). */
static gboolean
take_space(ScBareWriter *w, gsize size, GError **error)
{
  guint64 need;
  gboolean ok = TRUE;

  /* no reserve, no check, as in libostree: a file that does not fit then
   * fails as a full disk does (ENOSPC), not as a reserve of 0 bytes */
  if (w->reserve == 0)
    return TRUE;
  /* what the file takes on disk, about: whole 4 KiB blocks */
  need = ((guint64)size + 4095) / 4096 * 4096;
  g_mutex_lock(&space_lock);
  if (w->space->since >= RECHECK_BYTES && !read_free_space(w, error))
    ok = FALSE;
  else if (w->space->avail < w->reserve ||
           w->space->avail - w->reserve < w->space->since + need) {
    g_set_error(error, SC_ERROR, SC_EIO,
                "writing it would leave less than the store's min-free-space (%" G_GUINT64_FORMAT
                " bytes) free",
                w->reserve);
    ok = FALSE;
  } else
    w->space->since += need;
  g_mutex_unlock(&space_lock);
  return ok;
}

static gboolean
write_all(int fd, const guchar *data, gsize size)
{
  while (size > 0) {
    ssize_t n = write(fd, data, MIN(size, (gsize)1 << 30));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      if (n == 0)
        errno = EIO;
      return FALSE;
    }
    data += n;
    size -= (gsize)n;
  }
  return TRUE;
}

/* Owner, mode, xattrs and mtime as libostree gives a bare object; what
 * failed, in @what (an xattr by its name, as libostree says it). */
static const char *
set_metadata(int fd, guint32 uid, guint32 gid, guint32 mode, GVariant *xattrs, GString *what)
{
  static const struct timespec times[2] = { { 0, UTIME_OMIT }, { 0, 0 } };
  gsize n = xattrs ? g_variant_n_children(xattrs) : 0;

  struct stat st;

  /* The file was made with the mode's permission bits (less the umask)
   * and the process's owner: each call that changes nothing is left out,
   * as each makes the journal log the inode again (root's 0644 and 0755
   * files: two calls of six). The owner first: chown clears setuid bits. */
  if (fstat(fd, &st) != 0)
    return "fstat";
  if ((st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) != 0)
    return "fchown";
  if (((st.st_mode & 07777) != (mode & 07777) || st.st_uid != uid || st.st_gid != gid) &&
      fchmod(fd, mode & 07777) != 0)
    return "fchmod";
  for (gsize i = 0; i < n; i++) {
    const char *name;
    g_autoptr(GVariant) value = NULL;
    gconstpointer bytes;
    gsize len;

    g_variant_get_child(xattrs, i, "(^&ay@ay)", &name, &value);
    bytes = g_variant_get_fixed_array(value, &len, 1);
    if (fsetxattr(fd, name, bytes, len, 0) != 0) {
      int saved = errno;
      g_autofree char *shown = sc_display(name, 100);
      g_string_printf(what, "fsetxattr(%s)", shown);
      errno = saved;
      return what->str;
    }
  }
  if (futimens(fd, times) != 0)
    return "futimens";
  return NULL;
}

/* The O_TMPFILE @fd named @name (XX/...) under objects/ (its XX directory
 * made once); an object already there is kept. */
static const char *
link_object(ScBareWriter *w, int fd, const char *name)
{
  guint8 xx = (guint8)((g_ascii_xdigit_value(name[0]) << 4) | g_ascii_xdigit_value(name[1]));
  char dir[3] = { name[0], name[1], '\0' };
  char proc[sizeof "/proc/self/fd/" + 11];
  int r = -1;

  if (!__atomic_load_n(&w->dir_made[xx], __ATOMIC_RELAXED)) {
    if (mkdirat(w->objects_dfd, dir, 0777) != 0 && errno != EEXIST)
      return "mkdirat";
    __atomic_store_n(&w->dir_made[xx], 1, __ATOMIC_RELAXED);
  }
  /* without CAP_DAC_READ_SEARCH the kernel refuses AT_EMPTY_PATH: then
   * through /proc, as libostree does */
  if (!g_atomic_int_get(&w->linkat_by_proc)) {
    r = linkat(fd, "", w->objects_dfd, name, AT_EMPTY_PATH);
    if (r != 0 && (errno == ENOENT || errno == EPERM || errno == EINVAL)) {
      g_atomic_int_set(&w->linkat_by_proc, 1);
    }
  }
  if (r != 0 && g_atomic_int_get(&w->linkat_by_proc)) {
    g_snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    r = linkat(AT_FDCWD, proc, w->objects_dfd, name, AT_SYMLINK_FOLLOW);
  }
  if (r != 0 && errno != EEXIST)
    return "linkat";
  return NULL;
}

/* Metadata set and the object linked: the end of a write (@what: as
 * set_metadata()). */
static const char *
finish_object(ScBareWriter *w, int fd, const char *checksum, guint32 uid, guint32 gid,
              guint32 mode, GVariant *xattrs, GString *what)
{
  char name[sizeof "XX/.file" + 62];
  const char *failed = set_metadata(fd, uid, gid, mode, xattrs, what);

  g_snprintf(name, sizeof name, "%.2s/%s.file", checksum, checksum + 2);
  return failed ? failed : link_object(w, fd, name);
}

static gboolean
failed_object(const char *checksum, const char *what, GError **error)
{
  g_set_error(error, SC_ERROR, SC_EIO, "writing object %s.file: %s: %s",
              checksum ? checksum : "(new)", what, g_strerror(errno));
  return FALSE;
}

/* With @mode's permission bits, so that fchmod() is rarely needed; the
 * contents are written before any setuid bit is set. */
static int
open_object(ScBareWriter *w, guint32 mode)
{
  return openat(w->tmp_dfd, ".", O_WRONLY | O_CLOEXEC | O_TMPFILE, mode & 0777);
}

static void
close_keeping_errno(int fd)
{
  int saved = errno;
  close(fd);
  errno = saved;
}

/* The start of a new object @name (XX/...): FALSE with *@out_fd -1 when
 * it is stored already (no error) or on an error; else an O_TMPFILE of
 * @mode's permission bits, @size bytes of space taken. */
static gboolean
start_object(ScBareWriter *w, const char *name, const char *checksum, guint32 mode, gsize size,
             int *out_fd, GError **error)
{
  struct stat st;

  *out_fd = -1;
  if (fstatat(w->objects_dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
    return FALSE; /* stored already */
  if (errno != ENOENT)
    return failed_object(checksum, "fstatat", error);
  if (!take_space(w, size, error))
    return FALSE;
  *out_fd = open_object(w, mode);
  if (*out_fd < 0)
    return failed_object(checksum, "open O_TMPFILE", error);
  return TRUE;
}

gboolean
sc_bare_writer_write(ScBareWriter *w,
                     const char *checksum,
                     guint32 uid,
                     guint32 gid,
                     guint32 mode,
                     GVariant *xattrs,
                     const guchar *data,
                     gsize size,
                     GError **error)
{
  char name[sizeof "XX/.file" + 62];
  g_autoptr(GString) what = g_string_new(NULL);
  GError *local = NULL;
  const char *failed;
  int fd;

  g_snprintf(name, sizeof name, "%.2s/%s.file", checksum, checksum + 2);
  if (!start_object(w, name, checksum, mode, size, &fd, &local)) {
    if (local == NULL)
      return TRUE; /* stored already */
    g_propagate_error(error, local);
    return FALSE;
  }
  failed = write_all(fd, data, size) ? finish_object(w, fd, checksum, uid, gid, mode, xattrs, what)
                                     : "write";
  close_keeping_errno(fd);
  return failed ? failed_object(checksum, failed, error) : TRUE;
}

/* A metadata object (@ext: "dirtree"...) as libostree writes one: the
 * serialized variant, mode 0644, the process's owner. */
gboolean
sc_bare_writer_write_metadata(ScBareWriter *w,
                              const char *checksum,
                              const char *ext,
                              const guchar *data,
                              gsize size,
                              GError **error)
{
  g_autofree char *name = g_strdup_printf("%.2s/%s.%s", checksum, checksum + 2, ext);
  GError *local = NULL;
  const char *failed = NULL;
  int fd;

  if (!start_object(w, name, checksum, 0644, size, &fd, &local)) {
    if (local == NULL)
      return TRUE; /* stored already */
    g_propagate_error(error, local);
    return FALSE;
  }
  if (!write_all(fd, data, size))
    failed = "write";
  else if (fchmod(fd, 0644) != 0) /* (the umask may have taken bits) */
    failed = "fchmod";
  else
    failed = link_object(w, fd, name);
  close_keeping_errno(fd);
  if (failed) {
    g_set_error(error, SC_ERROR, SC_EIO, "writing object %s.%s: %s: %s", checksum, ext, failed,
                g_strerror(errno));
    return FALSE;
  }
  return TRUE;
}

/* ---- a file written as it is read: its checksum known at the end ---- */

GBytes *
sc_bare_header(guint32 uid, guint32 gid, guint32 mode, GVariant *xattrs)
{
  /* the header that ostree_checksum_file_from_input() hashes (uid, gid,
   * mode big-endian, rdev 0, no symlink target, the xattrs), after its
   * size (big-endian 32 bits) and 4 bytes of padding, as in a content
   * stream */
  g_autoptr(GVariant) empty = NULL;
  g_autoptr(GVariant) header = NULL;
  guint32 prefix[2];
  gsize size;
  guchar *out;

  if (xattrs == NULL)
    xattrs = empty = g_variant_ref_sink(g_variant_new_array(G_VARIANT_TYPE("(ayay)"), NULL, 0));
  header = g_variant_ref_sink(g_variant_new("(uuuus@a(ayay))", GUINT32_TO_BE(uid),
                                            GUINT32_TO_BE(gid), GUINT32_TO_BE(mode), 0, "",
                                            xattrs));
  size = g_variant_get_size(header);
  prefix[0] = GUINT32_TO_BE((guint32)size);
  prefix[1] = 0;
  out = g_malloc(sizeof(prefix) + size);
  memcpy(out, prefix, sizeof(prefix));
  memcpy(out + sizeof(prefix), g_variant_get_data(header), size);
  return g_bytes_new_take(out, sizeof(prefix) + size);
}

ScSha256 *
sc_bare_checksum_start(guint32 uid, guint32 gid, guint32 mode, GVariant *xattrs)
{
  g_autoptr(GBytes) header = sc_bare_header(uid, gid, mode, xattrs);
  ScSha256 *h = sc_sha256_new();
  gsize size;
  gconstpointer data = g_bytes_get_data(header, &size);

  sc_sha256_update(h, data, size);
  return h;
}

struct ScBareStream {
  ScBareWriter *w;
  int fd;
  ScSha256 *hash;
  guint32 uid, gid, mode;
  GVariant *xattrs;
};

ScBareStream *
sc_bare_stream_new(ScBareWriter *w,
                   guint32 uid,
                   guint32 gid,
                   guint32 mode,
                   GVariant *xattrs,
                   guint64 size,
                   GError **error)
{
  ScBareStream *s;
  int fd;

  if (!take_space(w, size, error))
    return NULL;
  fd = open_object(w, mode);
  if (fd < 0) {
    failed_object(NULL, "open O_TMPFILE", error);
    return NULL;
  }
  s = g_new0(ScBareStream, 1);
  s->w = w;
  s->fd = fd;
  s->hash = sc_bare_checksum_start(uid, gid, mode, xattrs);
  s->uid = uid;
  s->gid = gid;
  s->mode = mode;
  s->xattrs = xattrs ? g_variant_ref(xattrs) : NULL;
  return s;
}

gboolean
sc_bare_stream_write(ScBareStream *s, const guchar *data, gsize len, GError **error)
{
  sc_sha256_update(s->hash, data, len);
  if (!write_all(s->fd, data, len))
    return failed_object(NULL, "write", error);
  return TRUE;
}

char *
sc_bare_stream_finish(ScBareStream *s, GError **error)
{
  g_autofree char *checksum = sc_sha256_finish(g_steal_pointer(&s->hash));
  g_autoptr(GString) what = g_string_new(NULL);
  const char *failed =
    finish_object(s->w, s->fd, checksum, s->uid, s->gid, s->mode, s->xattrs, what);

  if (failed) {
    failed_object(checksum, failed, error);
    return NULL;
  }
  return g_steal_pointer(&checksum);
}

void
sc_bare_stream_free(ScBareStream *s)
{
  if (s == NULL)
    return;
  if (s->hash)
    sc_sha256_free(s->hash);
  close(s->fd); /* (an O_TMPFILE not linked goes with it) */
  g_clear_pointer(&s->xattrs, g_variant_unref);
  g_free(s);
}
