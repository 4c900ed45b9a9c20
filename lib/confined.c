/*
 * Confined file access: opening a path below a directory file descriptor
 * so that what is opened is always inside that directory, whatever the
 * path or the tree holds (symbolic links, '..', links into /proc).
 *
 * The rules (docs/security.md, "Confined file access"):
 *
 *  - The path is resolved from @root_fd one component at a time; it is
 *    never joined to another path and handed to a path-based system call.
 *  - Beneath mode (RESOLVE_BENEATH): an absolute path, an absolute
 *    symbolic link and a '..' above the root are refused (EXDEV). Used for
 *    trees the tool reads or fills: a layout, a checkout, an image's
 *    /exports.
 *  - In-root mode (RESOLVE_IN_ROOT): the root acts as '/': absolute paths
 *    and absolute symbolic links start at it and '..' at it stays there,
 *    as systemctl --root and systemd's chase() resolve a sysroot.
 *  - Magic links (/proc/PID/root, /proc/PID/fd/N, ...) are never followed
 *    (ELOOP): they would jump anywhere, whatever the mode.
 *  - At most SC_CONFINED_MAX_SYMLINKS symbolic links per resolution
 *    (ELOOP), as the kernel.
 *  - No limit on the length of the path: the kernel takes at most one page
 *    as a single path string, so a longer path is walked one component at
 *    a time (each component is still limited to NAME_MAX by the file
 *    system).
 *
 * openat2() (Linux 5.6) applies these rules in the kernel. Where it is
 * missing (ENOSYS, or EPERM from a seccomp filter written before it
 * existed) the walk below applies the same rules itself: each component is
 * opened with O_PATH|O_NOFOLLOW relative to the previous one, and a
 * symbolic link is read and its target spliced in front of the rest of the
 * path. '..' is taken relative to the directory the walk reached, and the
 * walk counts how deep below the root it is, so it knows when a '..'
 * would leave the root without comparing any path strings. The walk holds
 * one directory descriptor at a time, however deep the path. It treats
 * every symbolic link on a procfs mount as a magic link (stricter than the
 * kernel, which lets /proc/self through): nothing this library opens
 * lives in /proc.
 *
 * A concurrent rename inside the tree can make the walk's '..' land
 * elsewhere, as it could for any program; openat2() detects that and the
 * call is retried. The trees this is used on are changed by content, not by
 * a process racing the tool.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sc-private.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

/* The kernel's MAXSYMLINKS. */
#define SC_CONFINED_MAX_SYMLINKS 40

/* The unit tests and the fuzz target exercise both implementations. */
static gboolean force_walk;

void
sc_confined_force_walk(gboolean force)
{
  force_walk = force;
}

#ifdef SYS_openat2
static gboolean
have_openat2(void)
{
  static gsize once = 0;
  static gboolean have;

  if (g_once_init_enter(&once)) {
    /* An absolute path is refused beneath AT_FDCWD (EXDEV) without looking
     * at the file system: any answer but ENOSYS or EPERM means openat2()
     * and both resolve flags are there. */
    struct open_how how = { .flags = O_PATH | O_CLOEXEC,
                            .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
    int fd = (int)syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how);
    int err = errno;

    if (fd >= 0)
      close(fd);
    have = fd >= 0 || (err != ENOSYS && err != EPERM);
    g_once_init_leave(&once, 1);
  }
  return have;
}
#endif

static void
close_unless(int fd, int keep)
{
  if (fd >= 0 && fd != keep)
    close(fd);
}

/* The target of the symbolic link @name in @dirfd, or NULL (errno set). */
static char *
read_link(int dirfd, const char *name)
{
  gsize size = 256;

  for (;;) {
    g_autofree char *buf = g_malloc(size);
    ssize_t n = readlinkat(dirfd, name, buf, size);
    if (n < 0)
      return NULL;
    if ((gsize)n < size) {
      buf[n] = '\0';
      return g_steal_pointer(&buf);
    }
    size *= 2;
  }
}

/* The walk; returns the fd, or -1 with errno set. */
static int
walk(int root_fd, const char *relpath, int flags, mode_t mode, gboolean in_root)
{
  g_autoptr(GString) path = g_string_new(relpath);
  gsize pos = 0;
  int cur = root_fd; /* the directory reached; root_fd is borrowed */
  guint depth = 0;   /* components below the root */
  guint links = 0;
  int err;

  if (path->str[0] == '/' && !in_root) {
    errno = EXDEV;
    return -1;
  }
  for (;;) {
    g_autofree char *name = NULL;
    gboolean last;
    gsize end;
    int fd;

    while (path->str[pos] == '/')
      pos++;
    end = pos;
    while (path->str[end] != '\0' && path->str[end] != '/')
      end++;
    /* A path that ends (or is empty, or ends with '/') names the directory
     * reached: opening "." there gives the kernel's answers for "dir/"
     * (EISDIR with O_CREAT, a directory required, the link followed). */
    name = end > pos ? g_strndup(path->str + pos, end - pos) : g_strdup(".");
    last = path->str[end] == '\0';
    pos = end;

    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
      gboolean up = name[1] == '.';
      if (up && depth == 0) {
        if (!in_root) {
          err = EXDEV;
          goto fail;
        }
        g_free(name);
        name = g_strdup("."); /* '..' at the root is the root */
        up = FALSE;
      }
      if (last) {
        fd = openat(cur, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
        err = errno;
        close_unless(cur, root_fd);
        errno = err;
        return fd;
      }
      if (up) {
        fd = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
          err = errno;
          goto fail;
        }
        close_unless(cur, root_fd);
        cur = fd;
        depth--;
      }
      continue;
    }

    if (last) {
      fd = openat(cur, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
      if (fd >= 0) {
        struct stat st;
        /* O_PATH|O_NOFOLLOW opens a link itself: follow it unless asked not to */
        if (!(flags & O_PATH) || (flags & O_NOFOLLOW) || fstat(fd, &st) != 0 ||
            !S_ISLNK(st.st_mode)) {
          close_unless(cur, root_fd);
          return fd;
        }
        close(fd);
        err = ELOOP;
      } else
        err = errno;
    } else {
      fd = openat(cur, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd >= 0) {
        close_unless(cur, root_fd);
        cur = fd;
        depth++;
        continue;
      }
      err = errno;
    }
    /* Failed: a symbolic link (ELOOP from O_NOFOLLOW, ENOTDIR from
     * O_DIRECTORY) is expanded, anything else is the answer. */
    if ((err != ELOOP && err != ENOTDIR) || (last && (flags & O_NOFOLLOW)))
      goto fail; /* with O_NOFOLLOW, openat()'s answer for the last one stands */
    {
      g_autofree char *target = read_link(cur, name);
      struct statfs sfs;

      if (target == NULL) {
        if (errno != EINVAL)
          err = errno; /* a link that cannot be read (/proc of another process) */
        goto fail;     /* else not a link: the first error stands */
      }
      if (++links > SC_CONFINED_MAX_SYMLINKS ||
          (fstatfs(cur, &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC)) {
        err = ELOOP;
        goto fail;
      }
      if (target[0] == '\0') {
        err = ENOENT;
        goto fail;
      }
      /* the rest of the path now follows the link's target */
      g_string_erase(path, 0, pos);
      g_string_prepend(path, target);
      pos = 0;
      if (target[0] == '/') {
        if (!in_root) {
          err = EXDEV;
          goto fail;
        }
        close_unless(cur, root_fd);
        cur = root_fd;
        depth = 0;
      }
    }
  }

fail:
  close_unless(cur, root_fd);
  errno = err;
  return -1;
}

static int
resolve(int root_fd, const char *relpath, int flags, mode_t mode, gboolean in_root)
{
  if (relpath[0] == '\0')
    relpath = ".";
  /* openat() ignores the flags O_PATH has no use for; openat2() refuses them */
  if (flags & O_PATH)
    flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
#ifdef SYS_openat2
  if (!force_walk && have_openat2()) {
    struct open_how how = {
      .flags = (guint64)(flags | O_CLOEXEC),
      .mode = (flags & (O_CREAT | __O_TMPFILE)) ? mode : 0,
      .resolve = (in_root ? RESOLVE_IN_ROOT : RESOLVE_BENEATH) | RESOLVE_NO_MAGICLINKS,
    };
    int fd;
    guint again = 0;

    do
      fd = (int)syscall(SYS_openat2, root_fd, relpath, &how, sizeof how);
    while (fd < 0 && (errno == EINTR || (errno == EAGAIN && ++again < 32)));
    /* a path longer than the kernel takes as one string is walked */
    if (fd >= 0 || errno != ENAMETOOLONG)
      return fd;
  }
#endif
  return walk(root_fd, relpath, flags, mode, in_root);
}

/* Whether the last component of @relpath is a symbolic link (to tell
 * "is a symbolic link" from a loop when O_NOFOLLOW gave ELOOP). */
static gboolean
last_is_symlink(int root_fd, const char *relpath, gboolean in_root)
{
  gsize len = strlen(relpath);
  const char *slash;
  g_autofree char *parent = NULL;
  struct stat st;
  int dfd;
  gboolean is_link;

  if (len == 0 || relpath[len - 1] == '/')
    return FALSE;
  slash = strrchr(relpath, '/');
  if (slash == NULL)
    parent = g_strdup(".");
  else if (slash == relpath)
    parent = g_strdup("/");
  else
    parent = g_strndup(relpath, slash - relpath);
  dfd = resolve(root_fd, parent, O_PATH | O_DIRECTORY, 0, in_root);
  if (dfd < 0)
    return FALSE;
  is_link =
    fstatat(dfd, slash ? slash + 1 : relpath, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
  close(dfd);
  return is_link;
}

int
sc_confined_open(int root_fd,
                 const char *relpath,
                 int flags,
                 mode_t mode,
                 gboolean in_root,
                 GError **error)
{
  int fd = resolve(root_fd, relpath, flags, mode, in_root);
  int err = errno;

  if (fd >= 0)
    return fd;
  switch (err) {
  case EXDEV:
    g_set_error(error,
                SC_ERROR,
                SC_EUNSUPPORTED,
                "'%s' leads outside the directory it is resolved in (through an absolute path "
                "or symbolic link, or '..')",
                relpath);
    break;
  case ELOOP:
    if ((flags & O_NOFOLLOW) && last_is_symlink(root_fd, relpath, in_root))
      g_set_error(error, SC_ERROR, SC_EIO, "'%s' is a symbolic link", relpath);
    else
      g_set_error(error,
                  SC_ERROR,
                  SC_EUNSUPPORTED,
                  "'%s': too many levels of symbolic links, or a link through /proc (a magic "
                  "link)",
                  relpath);
    break;
  case ENOENT:
    g_set_error(error, SC_ERROR, SC_ENOTFOUND, "'%s': %s", relpath, g_strerror(err));
    break;
  default:
    g_set_error(error, SC_ERROR, SC_EIO, "'%s': %s", relpath, g_strerror(err));
    break;
  }
  errno = err;
  return -1;
}
