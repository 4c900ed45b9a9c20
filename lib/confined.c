/*
 * Confined file access: every path under a root the tool does not own
 * outright (a --sysroot, a checkout, a deployment slot, the store's tmp, an
 * image's /exports and hostfs, a layout directory) is resolved here, from a
 * directory file descriptor, one component at a time. Never by joining
 * strings and handing the result to a path-based system call: a symbolic
 * link planted in the tree could then lead out of it, and a path longer
 * than PATH_MAX would defeat the checks. docs/security.md states the rules.
 *
 * Two ways of resolving, as openat2(2) names them:
 *   in root  (RESOLVE_IN_ROOT): the root is "/" for everything below it;
 *            absolute symbolic links and ".." stop at it. A --sysroot, where
 *            /var/run -> /run must mean the sysroot's /run (systemctl --root
 *            and systemd's chase() agree).
 *   beneath  (RESOLVE_BENEATH): any step out of the root, by "..", by an
 *            absolute symbolic link, is an error. A checkout, /exports.
 * Magic links (/proc/PID/fd/N, /proc/PID/root) are never followed.
 *
 * openat2() does the work where the kernel has it; elsewhere a walk that
 * opens each component with O_NOFOLLOW and interprets symbolic links itself
 * gives the same answers.
 *
 * Trees are walked without recursion and with a bounded number of open
 * descriptors: the walk goes down by name and back up by "..", checking
 * that ".." is the directory it came from.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sc-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The kernel's own limit on symbolic links in one resolution. */
#define MAX_SYMLINKS 40

static gint openat2_missing;  /* the kernel answered ENOSYS once */
static gboolean fallback_only; /* tests: exercise the walk */

void
sc_confined_force_fallback(gboolean on)
{
  fallback_only = on;
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

static int
with_openat2(int root_fd, const char *path, int flags, mode_t mode, gboolean in_root)
{
  struct open_how how;

  memset(&how, 0, sizeof(how));
  how.flags = (guint64)(flags | O_CLOEXEC);
  if (flags & O_CREAT)
    how.mode = mode;
  how.resolve = RESOLVE_NO_MAGICLINKS | (in_root ? RESOLVE_IN_ROOT : RESOLVE_BENEATH);
  /* EAGAIN: a rename raced with ".." resolution; the kernel asks to retry */
  for (int i = 0; i < 32; i++) {
    long fd = syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
    if (fd >= 0 || errno != EAGAIN)
      return (int)fd;
  }
  return -1;
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

/* readlinkat() into a buffer that grows: no PATH_MAX assumed. */
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
    if (size > 1024 * 1024) {
      errno = ENAMETOOLONG;
      return NULL;
    }
    size *= 2;
  }
}

/* The walk: the current directory is one descriptor; ".." goes up by
 * opening ".." and stops at (in root) or refuses (beneath) the root,
 * which it recognizes by depth. */
static int
with_walk(int root_fd, const char *path, int flags, mode_t mode, gboolean in_root)
{
  g_autoptr(GPtrArray) todo = g_ptr_array_new_with_free_func(g_free);
  gboolean follow_last = !(flags & O_NOFOLLOW) && !((flags & O_CREAT) && (flags & O_EXCL));
  int cur = -1; /* -1: the root itself */
  guint depth = 0, links = 0;
  int err = 0;

  if (path[0] == '/' && !in_root) {
    errno = EXDEV;
    return -1;
  }
  push_components(todo, path);
  while (todo->len > 0) {
    g_autofree char *c = g_ptr_array_steal_index(todo, todo->len - 1);
    gboolean last = todo->len == 0;
    int dir = cur >= 0 ? cur : root_fd;
    struct stat st;
    int next;

    if (strcmp(c, "..") == 0) {
      if (depth == 0) {
        if (!in_root) {
          err = EXDEV;
          break;
        }
        continue; /* the root's parent is the root */
      }
      next = openat(dir, "..", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (next < 0) {
        err = errno;
        break;
      }
      close(cur);
      depth--;
      cur = depth == 0 ? (close(next), -1) : next;
      continue;
    }
    if (fstatat(dir, c, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode) &&
        (!last || follow_last)) {
      g_autofree char *target = sc_confined_readlink(dir, c);
      if (target == NULL) {
        err = errno;
        break;
      }
      if (target[0] == '\0' || ++links > MAX_SYMLINKS) {
        err = target[0] == '\0' ? ENOENT : ELOOP;
        break;
      }
      if (target[0] == '/') {
        if (!in_root) {
          err = EXDEV;
          break;
        }
        if (cur >= 0)
          close(cur);
        cur = -1;
        depth = 0;
      }
      push_components(todo, target);
      if (todo->len == 0) {
        /* the link names the directory it is in (or the root) */
        g_ptr_array_add(todo, g_strdup("."));
      }
      continue;
    }
    if (strcmp(c, ".") == 0) {
      /* only ever last: what the path named is the current directory */
      next = openat(dir, ".", (flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW)) | O_CLOEXEC);
      if (next < 0)
        err = errno;
      if (cur >= 0)
        close(cur);
      return err ? (errno = err, -1) : next;
    }
    if (last) {
      next = openat(dir, c, flags | O_NOFOLLOW | O_CLOEXEC, mode);
      if (next < 0)
        err = errno;
      if (cur >= 0)
        close(cur);
      return err ? (errno = err, -1) : next;
    }
    next = openat(dir, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) {
      err = errno;
      break;
    }
    if (cur >= 0)
      close(cur);
    cur = next;
    depth++;
  }
  if (err == 0) {
    /* the path was empty, or ended in ".." */
    int fd = openat(cur >= 0 ? cur : root_fd, ".",
                    (flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW)) | O_CLOEXEC);
    err = fd < 0 ? errno : 0;
    if (cur >= 0)
      close(cur);
    return err ? (errno = err, -1) : fd;
  }
  if (cur >= 0)
    close(cur);
  errno = err;
  return -1;
}

int
sc_confined_open(int root_fd, const char *path, int flags, mode_t mode, gboolean in_root,
                 GError **error)
{
  const char *rel = path;
  int fd = -1;

  if (in_root)
    while (*rel == '/')
      rel++;
  if (*rel == '\0')
    rel = ".";
  if (!fallback_only && !g_atomic_int_get(&openat2_missing)) {
    fd = with_openat2(root_fd, rel, flags, mode, in_root);
    if (fd < 0 && (errno == ENOSYS || errno == E2BIG))
      g_atomic_int_set(&openat2_missing, 1);
    else if (fd >= 0 || errno != ENOSYS)
      return fd >= 0 ? fd : (set_errno_error(error, errno, path, "the path"), -1);
  }
  fd = with_walk(root_fd, rel, flags, mode, in_root);
  if (fd < 0)
    set_errno_error(error, errno, path, "the path");
  return fd;
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
   * path through it spelled out, at most MAX_SYMLINKS times. */
  for (guint restarts = 0; restarts <= MAX_SYMLINKS; restarts++) {
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

typedef struct {
  GPtrArray *subdirs; /* names of the non-empty directories still to empty */
  char *entered;      /* the one being emptied now */
  dev_t dev;
  ino_t ino;
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

gboolean
sc_confined_empty_dir(int dirfd, const char *label, GError **error)
{
  g_autoptr(GArray) stack = g_array_new(FALSE, TRUE, sizeof(RmFrame));
  int cur = dup(dirfd);
  gboolean ok = FALSE;

  g_array_set_clear_func(stack, (GDestroyNotify)rm_frame_clear);
  if (cur < 0)
    return set_errno_error(error, errno, label, "the path");
  {
    RmFrame top = {g_ptr_array_new_with_free_func(g_free), NULL, 0, 0};
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
      {
        RmFrame *parent = &g_array_index(stack, RmFrame, stack->len - 2);
        dev_t dev = parent->dev;
        ino_t ino = parent->ino;
        g_array_set_size(stack, stack->len - 1);
        cur = sc_confined_ascend(cur, dev, ino, error);
        if (cur < 0)
          goto out;
      }
      continue;
    }
    if (fstat(cur, &st) != 0) {
      set_errno_error(error, errno, label, "the path");
      goto out;
    }
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->entered = g_ptr_array_steal_index(f->subdirs, f->subdirs->len - 1);
    next = openat(cur, f->entered, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
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
      RmFrame child = {g_ptr_array_new_with_free_func(g_free), NULL, 0, 0};
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
  fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
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

void
sc_rm_rf(const char *path)
{
  g_autofree char *dir = NULL;
  g_autofree char *base = NULL;
  int parent;

  /* @path itself is the tool's own (a scratch directory, a slot): only
   * what is below it is walked confined */
  if (path == NULL || !split_last(path, &dir, &base, NULL))
    return;
  parent = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (parent < 0)
    return;
  sc_confined_rm_rf_at(parent, base, path, NULL);
  close(parent);
}

/* The path on this machine of @path as seen from @root (in root: its
 * symbolic links resolve inside @root). The directories that exist are
 * resolved; what does not exist yet is appended as given, and so is the last
 * component, which is never followed (it may be a link to look at or
 * remove). For code that still hands paths to other programs (systemctl
 * --root, runc); the library itself opens through sc_confined_open(). */
char *
sc_confined_host_path(const char *root, const char *path)
{
  g_autofree char *dir = NULL;
  g_autofree char *base = NULL;
  g_autoptr(GPtrArray) missing = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GString) out = NULL;
  int root_fd, fd = -1;

  if (!split_last(path, &dir, &base, NULL))
    return g_build_filename(root, path, NULL);
  root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0)
    return g_build_filename(root, path, NULL);
  /* the longest prefix of @dir that exists */
  for (;;) {
    g_autofree char *up = NULL;
    g_autofree char *name = NULL;
    fd = sc_confined_open(root_fd, dir, O_PATH | O_DIRECTORY, 0, TRUE, NULL);
    if (fd >= 0 || errno != ENOENT || !split_last(dir, &up, &name, NULL))
      break;
    g_ptr_array_add(missing, g_steal_pointer(&name));
    g_free(dir);
    dir = g_steal_pointer(&up);
  }
  close(root_fd);
  {
    g_autofree char *fd_path = fd >= 0 ? g_strdup_printf("/proc/self/fd/%d", fd) : NULL;
    g_autofree char *real = fd_path ? g_file_read_link(fd_path, NULL) : NULL;
    if (fd >= 0)
      close(fd);
    if (real == NULL) /* no /proc: the string, as before */
      return g_build_filename(root, path, NULL);
    out = g_string_new(real);
  }
  for (guint i = missing->len; i > 0; i--)
    g_string_append_printf(out, "%s%s", out->str[out->len - 1] == '/' ? "" : "/",
                           (char *)missing->pdata[i - 1]);
  g_string_append_printf(out, "%s%s", out->str[out->len - 1] == '/' ? "" : "/", base);
  return g_string_free(g_steal_pointer(&out), FALSE);
}
