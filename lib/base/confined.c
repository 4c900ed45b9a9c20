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
 * Trees are walked without recursion and with one open descriptor: the
 * walk goes down by name and back up by "..", checking that ".." is the
 * directory it came from (sc_confined_empty_dir, sc_confined_rm_rf_at; the
 * checkout in checkout.c does the same).
 *
 * A concurrent rename inside the tree can make the walk's '..' land
 * elsewhere, as it could for any program; openat2() detects that and the
 * call is retried. The trees this is used on are changed by content, not by
 * a process racing the tool.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "base.h"

#include <dirent.h>
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
char *
sc_confined_readlink(int dirfd, const char *name)
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

/* Where the walk is. */
typedef struct {
  int root_fd; /* borrowed */
  int flags;
  mode_t mode;
  gboolean in_root;
  GString *path; /* the rest of the path starts at pos */
  gsize pos;
  int cur;     /* the directory reached; root_fd is borrowed */
  guint depth; /* components below the root */
  guint links;
} Walk;

static void
walk_clear(Walk *w)
{
  int err = errno; /* the walk's answer */

  close_unless(w->cur, w->root_fd);
  if (w->path)
    g_string_free(w->path, TRUE);
  errno = err;
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Walk, walk_clear)

/* What a step returns when the walk goes on; otherwise it returns the
 * walk's answer, an fd or -1 with errno set. */
#define WALK_GO_ON (-2)

static int
walk_fail(int err)
{
  errno = err;
  return -1;
}

/* The walk is now in @fd, @depth components below the root. */
static void
walk_move(Walk *w, int fd, guint depth)
{
  close_unless(w->cur, w->root_fd);
  w->cur = fd;
  w->depth = depth;
}

/* The next component; *last when nothing follows it. A path that ends (or
 * is empty, or ends with '/') names the directory reached: opening "."
 * there gives the kernel's answers for "dir/" (EISDIR with O_CREAT, a
 * directory required, the link followed). */
static char *
walk_next(Walk *w, gboolean *last)
{
  const char *s = w->path->str;
  gsize end;
  char *name;

  while (s[w->pos] == '/')
    w->pos++;
  end = w->pos;
  while (s[end] != '\0' && s[end] != '/')
    end++;
  name = end > w->pos ? g_strndup(s + w->pos, end - w->pos) : g_strdup(".");
  *last = s[end] == '\0';
  w->pos = end;
  return name;
}

/* A '.' component, or a '..' one (@up). */
static int
walk_dots(Walk *w, gboolean up, gboolean last)
{
  const char *name = up ? ".." : ".";
  int fd;

  if (up && w->depth == 0) {
    if (!w->in_root)
      return walk_fail(EXDEV);
    name = "."; /* '..' at the root is the root */
    up = FALSE;
  }
  if (last)
    return openat(w->cur, name, w->flags | O_NOFOLLOW | O_CLOEXEC, w->mode);
  if (up) {
    fd = openat(w->cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
      return -1;
    walk_move(w, fd, w->depth - 1);
  }
  return WALK_GO_ON;
}

/* The last component, a name; -1 with ELOOP for a symbolic link that is
 * to be followed. */
static int
walk_open_last(Walk *w, const char *name)
{
  struct stat st;
  int fd = openat(w->cur, name, w->flags | O_NOFOLLOW | O_CLOEXEC, w->mode);

  if (fd < 0)
    return -1;
  /* O_PATH|O_NOFOLLOW opens a link itself: follow it unless asked not to */
  if (!(w->flags & O_PATH) || (w->flags & O_NOFOLLOW) || fstat(fd, &st) != 0 ||
      !S_ISLNK(st.st_mode))
    return fd;
  close(fd);
  return walk_fail(ELOOP);
}

/* The symbolic link @name in the directory reached: its target is spliced
 * in front of the rest of the path. @err is what opening @name gave. */
static int
walk_splice_link(Walk *w, const char *name, int err)
{
  g_autofree char *target = sc_confined_readlink(w->cur, name);
  struct statfs sfs;

  if (target == NULL) {
    if (errno != EINVAL)
      err = errno;         /* a link that cannot be read (/proc of another process) */
    return walk_fail(err); /* else not a link: the first error stands */
  }
  if (++w->links > SC_CONFINED_MAX_SYMLINKS ||
      (fstatfs(w->cur, &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC))
    return walk_fail(ELOOP);
  if (target[0] == '\0')
    return walk_fail(ENOENT);
  /* the rest of the path now follows the link's target */
  g_string_erase(w->path, 0, w->pos);
  g_string_prepend(w->path, target);
  w->pos = 0;
  if (target[0] == '/') {
    if (!w->in_root)
      return walk_fail(EXDEV);
    walk_move(w, w->root_fd, 0);
  }
  return WALK_GO_ON;
}

/* A component that is a name (not '.' or '..'). */
static int
walk_name(Walk *w, const char *name, gboolean last)
{
  int fd, err;

  if (last) {
    fd = walk_open_last(w, name);
    if (fd >= 0)
      return fd;
  } else {
    fd = openat(w->cur, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      walk_move(w, fd, w->depth + 1);
      return WALK_GO_ON;
    }
  }
  err = errno;
  /* Failed: a symbolic link (ELOOP from O_NOFOLLOW, ENOTDIR from
   * O_DIRECTORY) is expanded, anything else is the answer. */
  if ((err != ELOOP && err != ENOTDIR) || (last && (w->flags & O_NOFOLLOW)))
    return walk_fail(err); /* with O_NOFOLLOW, openat()'s answer for the last one stands */
  return walk_splice_link(w, name, err);
}

/* The walk; returns the fd, or -1 with errno set. */
static int
walk(int root_fd, const char *relpath, int flags, mode_t mode, gboolean in_root)
{
  g_auto(Walk) w = { .root_fd = root_fd,
                     .flags = flags,
                     .mode = mode,
                     .in_root = in_root,
                     .path = g_string_new(relpath),
                     .cur = root_fd };
  int fd = WALK_GO_ON;

  if (relpath[0] == '/' && !in_root)
    return walk_fail(EXDEV);
  while (fd == WALK_GO_ON) {
    gboolean last;
    g_autofree char *name = walk_next(&w, &last);

    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
      fd = walk_dots(&w, name[1] == '.', last);
    else
      fd = walk_name(&w, name, last);
  }
  return fd;
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

static gboolean
set_errno_error(GError **error, int err, const char *path, const char *what)
{
  int code = err == ENOENT ? SC_ENOTFOUND : err == EEXIST ? SC_EEXISTS : SC_EIO;

  if (err == EXDEV)
    g_set_error(error, SC_ERROR, SC_EIO, "%s: %s leads out of its root", path, what);
  else if (err == ELOOP)
    g_set_error(error, SC_ERROR, SC_EIO,
                "%s: too many levels of symbolic links, or a symbolic link where none may be",
                path);
  else
    g_set_error(error, SC_ERROR, code, "%s: %s", path, g_strerror(err));
  errno = err;
  return FALSE;
}

/* Splits @path into the directory part and a last component that is a
 * real name (not empty, ".", ".."). */
static gboolean
split_last(const char *path, char **out_dir, char **out_base, GError **error)
{
  g_autofree char *p = g_strdup(path);
  gsize len = strlen(p);
  char *slash;

  while (len > 1 && p[len - 1] == '/')
    p[--len] = '\0';
  slash = strrchr(p, '/');
  *out_base = g_strdup(slash ? slash + 1 : p);
  if (slash == NULL)
    *out_dir = g_strdup(".");
  else if (slash == p)
    *out_dir = g_strdup("/");
  else
    *out_dir = g_strndup(p, slash - p);
  if (**out_base == '\0' || strcmp(*out_base, ".") == 0 || strcmp(*out_base, "..") == 0) {
    g_set_error(error, SC_ERROR, SC_EINVAL, "%s: does not end in a file name", path);
    g_clear_pointer(out_dir, g_free);
    g_clear_pointer(out_base, g_free);
    return FALSE;
  }
  return TRUE;
}

int
sc_confined_open_parent(int root_fd, const char *path, gboolean in_root, gboolean create,
                        char **out_base, GError **error)
{
  g_autofree char *dir = NULL;
  g_autofree char *base = NULL;
  int fd;

  if (!split_last(path, &dir, &base, error))
    return -1;
  fd = create ? sc_confined_mkdirs(root_fd, dir, 0755, in_root, error)
              : sc_confined_open(root_fd, dir, O_RDONLY | O_DIRECTORY, 0, in_root, error);
  if (fd >= 0)
    *out_base = g_steal_pointer(&base);
  return fd;
}

int
sc_confined_mkdirs(int root_fd, const char *path, mode_t mode, gboolean in_root, GError **error)
{
  g_autofree char *want = g_strdup(path);
  int fd;

  /* A dangling link on the way stands for a directory to make where it
   * points (resolved as anything else is): the walk starts again with the
   * path through it spelled out, at most SC_CONFINED_MAX_SYMLINKS times. */
  for (guint restarts = 0; restarts <= SC_CONFINED_MAX_SYMLINKS; restarts++) {
    g_auto(GStrv) parts = g_strsplit(want, "/", -1);
    g_autoptr(GString) prefix = g_string_new(want[0] == '/' ? "/" : "");
    g_autofree char *through = NULL;

    fd = sc_confined_open(root_fd, want, O_RDONLY | O_DIRECTORY, 0, in_root, NULL);
    if (fd >= 0)
      return fd;
    /* from the top: each missing directory is made in its parent, resolved
     * afresh, so that a link on the way resolves as everywhere */
    for (char **c = parts; *c && through == NULL; c++) {
      g_autofree char *base = NULL;
      g_autofree char *target = NULL;
      int parent;
      if (**c == '\0' || strcmp(*c, ".") == 0)
        continue;
      if (prefix->len > 0 && prefix->str[prefix->len - 1] != '/')
        g_string_append_c(prefix, '/');
      g_string_append(prefix, *c);
      fd = sc_confined_open(root_fd, prefix->str, O_PATH | O_DIRECTORY, 0, in_root, NULL);
      if (fd >= 0) {
        close(fd);
        continue;
      }
      if (errno != ENOENT)
        return set_errno_error(error, errno, prefix->str, "the path"), -1;
      parent = sc_confined_open_parent(root_fd, prefix->str, in_root, FALSE, &base, error);
      if (parent < 0)
        return -1;
      if (mkdirat(parent, base, mode) == 0 || errno != EEXIST) {
        int err = errno;
        gboolean made = faccessat(parent, base, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
        close(parent);
        if (!made) {
          g_set_error(error, SC_ERROR, SC_EIO, "cannot create %s: %s", prefix->str,
                      g_strerror(err));
          return -1;
        }
        continue;
      }
      /* there, yet not found: a dangling link */
      target = sc_confined_readlink(parent, base);
      close(parent);
      if (target == NULL || !in_root)
        return set_errno_error(error, target ? EXDEV : errno, prefix->str, "the path"), -1;
      {
        g_autofree char *rest = g_strjoinv("/", c + 1);
        g_autofree char *dir = g_path_get_dirname(prefix->str);
        through = target[0] == '/' ? g_strconcat(target, "/", rest, NULL)
                                   : g_strconcat(dir, "/", target, "/", rest, NULL);
      }
    }
    if (through == NULL)
      return sc_confined_open(root_fd, want, O_RDONLY | O_DIRECTORY, 0, in_root, error);
    g_free(want);
    want = g_steal_pointer(&through);
  }
  return set_errno_error(error, ELOOP, path, "the path"), -1;
}

/* ---- walking trees without recursion ---- */

/* Goes from @cur (closed) to its parent, which must be the directory
 * @dev/@ino it was entered from: a tree that changes under the walk is an
 * error, never a step somewhere else. */
int
sc_confined_ascend(int cur, dev_t dev, ino_t ino, GError **error)
{
  struct stat st;
  int up = openat(cur, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

  close(cur);
  if (up < 0 || fstat(up, &st) != 0 || st.st_dev != dev || st.st_ino != ino) {
    if (up >= 0)
      close(up);
    g_set_error(error, SC_ERROR, SC_EIO,
                "a directory was moved while it was being walked; nothing outside it was "
                "touched");
    return -1;
  }
  return up;
}

int
sc_confined_walk_up(GArray *stack, int cur, GError **error)
{
  guint size = g_array_get_element_size(stack);
  const ScWalkLevel *parent = (const ScWalkLevel *)(stack->data + (stack->len - 2) * size);
  dev_t dev = parent->dev;
  ino_t ino = parent->ino;

  g_array_set_size(stack, stack->len - 1);
  return sc_confined_ascend(cur, dev, ino, error);
}

typedef struct {
  ScWalkLevel level;  /* first: sc_confined_walk_up() reads it */
  GPtrArray *subdirs; /* names of the non-empty directories still to empty */
  char *entered;      /* the one being emptied now */
} RmFrame;

static void
rm_frame_clear(RmFrame *f)
{
  g_clear_pointer(&f->subdirs, g_ptr_array_unref);
  g_clear_pointer(&f->entered, g_free);
}

/* Removes everything in the directory @fd, leaving non-empty directories'
 * names in @subdirs. */
static gboolean
rm_files_of(int fd, GPtrArray *subdirs, const char *label, GError **error)
{
  int dup_fd = dup(fd);
  DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
  struct dirent *e;

  if (d == NULL) {
    if (dup_fd >= 0)
      close(dup_fd);
    return set_errno_error(error, errno, label, "the path");
  }
  while ((errno = 0, e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    if (unlinkat(fd, e->d_name, 0) == 0 || errno == ENOENT)
      continue;
    if (errno != EISDIR && errno != EPERM) {
      int err = errno;
      closedir(d);
      g_set_error(error, SC_ERROR, SC_EIO, "%s: cannot remove %s: %s", label, e->d_name,
                  g_strerror(err));
      return FALSE;
    }
    if (unlinkat(fd, e->d_name, AT_REMOVEDIR) == 0)
      continue;
    g_ptr_array_add(subdirs, g_strdup(e->d_name));
  }
  closedir(d);
  return TRUE;
}

/* A directory being removed may lack the bits its owner needs to empty it
 * (a 0555 directory made in a checkout): root passes anyway, a user does
 * not, so the owner's bits are added first (it goes away). Only a
 * directory of the caller's; never through a link. */
static void
make_removable(int fd)
{
  struct stat st;

  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
      (st.st_mode & 0700) != 0700)
    (void)fchmod(fd, (st.st_mode & 07777) | 0700);
}

/* @name in @parent opened to be emptied, made removable; a directory its
 * owner cannot even read (0000, 0300) is opened by its O_PATH handle's
 * /proc link to change its mode first. */
static int
open_for_removal(int parent, const char *name)
{
  int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

  if (fd < 0 && errno == EACCES) {
    int pfd = openat(parent, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;

    if (pfd < 0)
      return -1;
    if (fstat(pfd, &st) == 0 && st.st_uid == geteuid()) {
      char proc[64];
      g_snprintf(proc, sizeof proc, "/proc/self/fd/%d", pfd);
      if (chmod(proc, (st.st_mode & 07777) | 0700) == 0)
        fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    close(pfd);
    if (fd < 0)
      errno = EACCES;
  }
  if (fd >= 0)
    make_removable(fd);
  return fd;
}

gboolean
sc_confined_empty_dir(int dirfd, const char *label, GError **error)
{
  g_autoptr(GArray) stack = g_array_new(FALSE, TRUE, sizeof(RmFrame));
  int cur = dup(dirfd);
  gboolean ok = FALSE;

  g_array_set_clear_func(stack, (GDestroyNotify)rm_frame_clear);
  if (cur < 0)
    return set_errno_error(error, errno, label, "the path");
  /* (@dirfd itself stays as it is: a directory the caller empties and
   * keeps, a mount point; what goes is made removable) */
  {
    RmFrame top = {{0, 0}, g_ptr_array_new_with_free_func(g_free), NULL};
    g_array_append_val(stack, top);
  }
  if (!rm_files_of(cur, g_array_index(stack, RmFrame, 0).subdirs, label, error))
    goto out;
  while (stack->len > 0) {
    RmFrame *f = &g_array_index(stack, RmFrame, stack->len - 1);
    struct stat st;
    int next;

    if (f->entered != NULL) {
      /* came back up: the directory entered is empty now */
      if (unlinkat(cur, f->entered, AT_REMOVEDIR) != 0 && errno != ENOENT) {
        g_set_error(error, SC_ERROR, SC_EIO, "%s: cannot remove %s: %s", label, f->entered,
                    g_strerror(errno));
        goto out;
      }
      g_clear_pointer(&f->entered, g_free);
    }
    if (f->subdirs->len == 0) {
      if (stack->len == 1)
        break;
      cur = sc_confined_walk_up(stack, cur, error);
      if (cur < 0)
        goto out;
      continue;
    }
    if (fstat(cur, &st) != 0) {
      set_errno_error(error, errno, label, "the path");
      goto out;
    }
    f->level.dev = st.st_dev;
    f->level.ino = st.st_ino;
    f->entered = g_ptr_array_steal_index(f->subdirs, f->subdirs->len - 1);
    next = open_for_removal(cur, f->entered);
    if (next < 0) {
      if (errno == ENOENT || errno == ENOTDIR) {
        /* gone, or replaced by a file meanwhile: retried as an entry */
        if (unlinkat(cur, f->entered, 0) == 0 || errno == ENOENT)
          g_clear_pointer(&f->entered, g_free);
        continue;
      }
      set_errno_error(error, errno, label, "the path");
      goto out;
    }
    close(cur);
    cur = next;
    {
      RmFrame child = {{0, 0}, g_ptr_array_new_with_free_func(g_free), NULL};
      g_array_append_val(stack, child);
    }
    if (!rm_files_of(cur, g_array_index(stack, RmFrame, stack->len - 1).subdirs, label, error))
      goto out;
  }
  ok = TRUE;
out:
  if (cur >= 0)
    close(cur);
  return ok;
}

/* The subdirectories of @fd, into @subdirs (by d_type; a file system
 * without it: every entry, the non-directories fail to open as such). */
static gboolean
subdirs_of(int fd, GPtrArray *subdirs, const char *label, GError **error)
{
  int dup_fd = dup(fd);
  DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
  struct dirent *e;

  if (d == NULL) {
    if (dup_fd >= 0)
      close(dup_fd);
    return set_errno_error(error, errno, label, "the path");
  }
  while ((errno = 0, e = readdir(d)) != NULL)
    if ((e->d_type == DT_DIR || e->d_type == DT_UNKNOWN) && strcmp(e->d_name, ".") != 0 &&
        strcmp(e->d_name, "..") != 0)
      g_ptr_array_add(subdirs, g_strdup(e->d_name));
  rewinddir(d); /* (the offset is @fd's too: the removal reads it next) */
  closedir(d);
  return TRUE;
}

/* The names entered from the top down to the current level, for errors. */
static char *
rm_stack_path(GArray *stack, const char *last)
{
  GString *s = g_string_new(NULL);

  for (guint i = 0; i < stack->len; i++) {
    const char *n = g_array_index(stack, RmFrame, i).entered;
    if (n != NULL)
      g_string_append_printf(s, "%s%s", s->len ? "/" : "", n);
  }
  if (last)
    g_string_append_printf(s, "%s%s", s->len ? "/" : "", last);
  return g_string_free(s, FALSE);
}

typedef struct {
  char *rel; /* below the top */
  mode_t mode;
} ModeChange;

static void
mode_change_clear(ModeChange *m)
{
  g_free(m->rel);
}

/* The modes check_removable() widened to look inside, set back (the
 * deepest first: a parent set back to 0000 first would hide them): a
 * refusal that says "nothing was removed" changed nothing either
 * (trial17b N4). Only the caller's directories, never through a link. */
static void
restore_modes(int dirfd, GArray *changes)
{
  for (guint i = changes->len; i-- > 0;) {
    ModeChange *m = &g_array_index(changes, ModeChange, i);
    int fd = resolve(dirfd, m->rel, O_PATH | O_NOFOLLOW | O_DIRECTORY, 0, FALSE);
    struct stat st;
    char proc[64];

    if (fd < 0)
      continue;
    g_snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid())
      (void)chmod(proc, m->mode);
    close(fd);
  }
}

/* Before anything is removed: every directory under @dirfd is the
 * caller's, so that what is removed goes whole, never half (a user's
 * update reuses the slot that is the rollback target: a half-removed one
 * is no target any more). A directory its owner cannot read is opened
 * by widening its mode, and on a refusal every mode widened is set back.
 * Root removes what it likes: not walked. */
static gboolean
check_removable(int dirfd, const char *label, GError **error)
{
  g_autoptr(GArray) stack = g_array_new(FALSE, TRUE, sizeof(RmFrame));
  g_autoptr(GArray) changes = g_array_new(FALSE, TRUE, sizeof(ModeChange));
  int cur;
  gboolean ok = FALSE;

  if (geteuid() == 0)
    return TRUE;
  if ((cur = dup(dirfd)) < 0)
    return set_errno_error(error, errno, label, "the path");
  g_array_set_clear_func(stack, (GDestroyNotify)rm_frame_clear);
  g_array_set_clear_func(changes, (GDestroyNotify)mode_change_clear);
  {
    RmFrame top = {{0, 0}, g_ptr_array_new_with_free_func(g_free), NULL};
    g_array_append_val(stack, top);
  }
  if (!subdirs_of(cur, g_array_index(stack, RmFrame, 0).subdirs, label, error))
    goto out;
  while (stack->len > 0) {
    RmFrame *f = &g_array_index(stack, RmFrame, stack->len - 1);
    struct stat st;
    int next;

    g_clear_pointer(&f->entered, g_free);
    if (f->subdirs->len == 0) {
      if (stack->len == 1)
        break;
      cur = sc_confined_walk_up(stack, cur, error);
      if (cur < 0)
        goto out;
      continue;
    }
    if (fstat(cur, &st) != 0) {
      set_errno_error(error, errno, label, "the path");
      goto out;
    }
    f->level.dev = st.st_dev;
    f->level.ino = st.st_ino;
    f->entered = g_ptr_array_steal_index(f->subdirs, f->subdirs->len - 1);
    if (fstatat(cur, f->entered, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
      continue; /* (gone, or not a directory: unlinked with its directory) */
    if (st.st_uid != geteuid()) {
      g_autofree char *rel = rm_stack_path(stack, NULL);
      g_set_error(error, SC_ERROR, SC_EPERM,
                  "%s: cannot remove %s: it belongs to uid %u, not to you (uid %u); nothing was "
                  "removed",
                  label, rel, (unsigned)st.st_uid, (unsigned)geteuid());
      goto out;
    }
    if ((st.st_mode & 0700) != 0700) {
      ModeChange m = { rm_stack_path(stack, NULL), st.st_mode & 07777 };
      g_array_append_val(changes, m);
    }
    next = open_for_removal(cur, f->entered);
    if (next < 0) {
      g_autofree char *rel = rm_stack_path(stack, NULL);
      g_set_error(error, SC_ERROR, SC_EIO, "%s: cannot remove %s: %s; nothing was removed",
                  label, rel, g_strerror(errno));
      goto out;
    }
    close(cur);
    cur = next;
    {
      RmFrame child = {{0, 0}, g_ptr_array_new_with_free_func(g_free), NULL};
      g_array_append_val(stack, child);
    }
    if (!subdirs_of(cur, g_array_index(stack, RmFrame, stack->len - 1).subdirs, label, error))
      goto out;
  }
  ok = TRUE;
out:
  if (cur >= 0)
    close(cur);
  if (!ok)
    restore_modes(dirfd, changes);
  return ok;
}

gboolean
sc_confined_check_removable_at(int dirfd, const char *name, const char *label, GError **error)
{
  struct stat st;
  int fd;
  gboolean ok;

  if (geteuid() == 0 || fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
    return TRUE; /* (root, gone, or no directory: unlinked whole) */
  fd = open_for_removal(dirfd, name);
  if (fd < 0)
    return set_errno_error(error, errno, label, "the path");
  ok = check_removable(fd, label, error);
  if (!ok && st.st_uid == geteuid() && (st.st_mode & 0700) != 0700)
    (void)fchmod(fd, st.st_mode & 07777);
  close(fd);
  return ok;
}

gboolean
sc_check_removable(const char *path, GError **error)
{
  g_autofree char *dir = NULL;
  g_autofree char *base = NULL;
  int parent;
  gboolean ok;

  if (path == NULL || !split_last(path, &dir, &base, NULL))
    return TRUE;
  parent = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (parent < 0)
    return errno == ENOENT ? TRUE : set_errno_error(error, errno, path, "the path");
  ok = sc_confined_check_removable_at(parent, base, path, error);
  close(parent);
  return ok;
}

gboolean
sc_confined_rm_rf_at(int dirfd, const char *name, const char *label, GError **error)
{
  int fd;
  gboolean ok;

  if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
    return TRUE;
  if (errno != EISDIR && errno != EPERM) {
    g_set_error(error, SC_ERROR, SC_EIO, "cannot remove %s: %s", label, g_strerror(errno));
    return FALSE;
  }
  if (unlinkat(dirfd, name, AT_REMOVEDIR) == 0)
    return TRUE;
  if (!sc_confined_check_removable_at(dirfd, name, label, error))
    return FALSE;
  fd = open_for_removal(dirfd, name);
  if (fd < 0)
    return set_errno_error(error, errno, label, "the path");
  ok = sc_confined_empty_dir(fd, label, error);
  close(fd);
  if (ok && unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) {
    g_set_error(error, SC_ERROR, SC_EIO, "cannot remove %s: %s", label, g_strerror(errno));
    return FALSE;
  }
  return ok;
}

gboolean
sc_rm_rf_checked(const char *path, GError **error)
{
  g_autofree char *dir = NULL;
  g_autofree char *base = NULL;
  int parent;
  gboolean ok;

  /* @path itself is the tool's own (a scratch directory, a slot): only
   * what is below it is walked confined */
  if (path == NULL || !split_last(path, &dir, &base, NULL))
    return TRUE;
  parent = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (parent < 0) {
    if (errno == ENOENT)
      return TRUE;
    g_set_error(error, SC_ERROR, SC_EIO, "cannot remove %s: %s", path, g_strerror(errno));
    return FALSE;
  }
  ok = sc_confined_rm_rf_at(parent, base, path, error);
  close(parent);
  return ok;
}

void
sc_rm_rf(const char *path)
{
  sc_rm_rf_checked(path, NULL);
}

/* Pushes the components of @text onto @todo (a stack: the next component
 * last), skipping empty ones and ".". */
static void
push_components(GPtrArray *todo, const char *text)
{
  g_auto(GStrv) parts = g_strsplit(text, "/", -1);
  guint n = g_strv_length(parts);

  for (guint i = n; i > 0; i--)
    if (parts[i - 1][0] != '\0' && strcmp(parts[i - 1], ".") != 0)
      g_ptr_array_add(todo, g_strdup(parts[i - 1]));
}

/* The path on this machine of @path as seen from @root, resolved in
 * @root as the kernel would (RESOLVE_IN_ROOT), except that it does not stop
 * where something is missing: every link on the way is followed inside
 * @root, a dangling one too, and the rest is appended to the real path of
 * the last directory that exists. So nothing in the returned path is a
 * link, or exists beyond its existing prefix, at the time of the call. The
 * last component is named, not followed (it may be a link to look at or
 * remove), unless @follow_last (a directory to build paths in). For code that still hands paths to other programs (systemctl
 * --root, the runtime) or writes through sc_confined_open_nolinks(). */
char *
sc_confined_host_path(const char *root, const char *path, gboolean follow_last)
{
  g_autoptr(GPtrArray) todo = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GString) missing = g_string_new("");
  g_autofree char *real = NULL;
  int root_fd, cur = -1;
  guint depth = 0, links = 0;

  root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0)
    return g_build_filename(root, path, NULL);
  push_components(todo, path);
  while (todo->len > 0) {
    g_autofree char *c = g_ptr_array_steal_index(todo, todo->len - 1);
    gboolean last = todo->len == 0;
    int dir = cur >= 0 ? cur : root_fd;
    struct stat st;
    int next;

    if (missing->len > 0 || strcmp(c, "..") == 0) {
      if (missing->len > 0 || (strcmp(c, "..") == 0 && depth == 0)) {
        /* below something missing nothing is looked up; ".." at the root
         * stays there */
        if (strcmp(c, "..") != 0)
          g_string_append_printf(missing, "/%s", c);
        continue;
      }
      next = openat(dir, "..", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (next < 0)
        break;
      close(cur);
      depth--;
      cur = depth == 0 ? (close(next), -1) : next;
      continue;
    }
    if (fstatat(dir, c, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      g_string_append_printf(missing, "/%s", c);
      continue;
    }
    if (S_ISLNK(st.st_mode) && (!last || follow_last)) {
      g_autofree char *target = sc_confined_readlink(dir, c);
      if (target == NULL || ++links > SC_CONFINED_MAX_SYMLINKS) {
        g_string_append_printf(missing, "/%s", c); /* unusable: named as it is */
        continue;
      }
      if (target[0] == '/') {
        if (cur >= 0)
          close(cur);
        cur = -1;
        depth = 0;
      }
      push_components(todo, target);
      continue;
    }
    if ((last && !follow_last) || !S_ISDIR(st.st_mode)) {
      g_string_append_printf(missing, "/%s", c);
      continue;
    }
    next = openat(dir, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) {
      g_string_append_printf(missing, "/%s", c);
      continue;
    }
    if (cur >= 0)
      close(cur);
    cur = next;
    depth++;
  }
  {
    g_autofree char *fd_path =
      g_strdup_printf("/proc/self/fd/%d", cur >= 0 ? cur : root_fd);
    real = g_file_read_link(fd_path, NULL);
  }
  if (cur >= 0)
    close(cur);
  close(root_fd);
  if (real == NULL) /* no /proc: the string, as before */
    return g_build_filename(root, path, NULL);
  if (missing->len == 0)
    return g_steal_pointer(&real);
  return g_strconcat(strcmp(real, "/") == 0 ? "" : real, missing->str, NULL);
}

/* Opens the directory @abs_path (absolute, on this machine) without
 * following any link on the way, making what is missing when @create: for
 * paths that sc_confined_host_path() gave earlier, so that a link made
 * since (by an image's host files, say) is an error, not a way out. */
int
sc_confined_open_nolinks(const char *abs_path, gboolean create, GError **error)
{
  g_auto(GStrv) parts = g_strsplit(abs_path, "/", -1);
  int cur = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

  for (char **c = parts; *c && cur >= 0; c++) {
    int next;
    if (**c == '\0' || strcmp(*c, ".") == 0)
      continue;
    next = openat(cur, *c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0 && errno == ENOENT && create && mkdirat(cur, *c, 0755) == 0)
      next = openat(cur, *c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) {
      int err = errno;
      close(cur);
      g_set_error(error, SC_ERROR, err == ENOENT ? SC_ENOTFOUND : SC_EIO,
                  "%s: %s", abs_path,
                  err == ENOTDIR || err == ELOOP
                    ? "a symbolic link or a file is on the way (made after the path was "
                      "resolved): refusing to follow it"
                    : g_strerror(err));
      return -1;
    }
    close(cur);
    cur = next;
  }
  if (cur < 0) {
    g_set_error(error, SC_ERROR, SC_EIO, "%s: %s", abs_path, g_strerror(errno));
    return -1;
  }
  {
    /* an O_RDONLY descriptor, for *at() calls and fdopendir() */
    int fd = openat(cur, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int err = errno;
    close(cur);
    if (fd < 0)
      g_set_error(error, SC_ERROR, SC_EIO, "%s: %s", abs_path, g_strerror(err));
    return fd;
  }
}
