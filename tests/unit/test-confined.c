/*
 * The confined resolver (lib/base/confined.c): every case in both modes
 * (beneath, in-root) and with both implementations (openat2() and the
 * O_NOFOLLOW walk), over a scratch tree with a file outside it that no
 * case may reach.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include "sc-private.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>

static char *top; /* scratch: top/root is the tree, top/outside is not */
static int root_fd = -1;

static void
must(int r, const char *what)
{
  if (r != 0) {
    fprintf(stderr, "%s: %s\n", what, g_strerror(errno));
    abort();
  }
}

static void
put(const char *dir, const char *name, const char *text)
{
  g_autofree char *path = g_build_filename(dir, name, NULL);
  if (!g_file_set_contents(path, text, -1, NULL))
    abort();
}

static void
make_tree(void)
{
  g_autofree char *root = NULL;
  g_autofree char *outside = NULL;

  top = g_dir_make_tmp("sctest-confined-XXXXXX", NULL);
  root = g_build_filename(top, "root", NULL);
  outside = g_build_filename(top, "outside", NULL);
  must(mkdir(root, 0755), "mkdir root");
  must(mkdir(outside, 0755), "mkdir outside");
  put(outside, "secret", "secret\n");
  root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  must(root_fd < 0, "open root");
  must(mkdirat(root_fd, "a", 0755), "a");
  must(mkdirat(root_fd, "a/b", 0755), "a/b");
  put(root, "a/b/file", "file\n");
  put(root, "x", "x\n");
  must(symlinkat("a/b", root_fd, "rel"), "rel");
  must(symlinkat("/a/b", root_fd, "abs"), "abs");
  must(symlinkat("../outside", root_fd, "up"), "up");
  must(symlinkat(outside, root_fd, "absout"), "absout");
  must(symlinkat("loop2", root_fd, "loop1"), "loop1");
  must(symlinkat("loop1", root_fd, "loop2"), "loop2");
  must(symlinkat(".", root_fd, "self"), "self");
  must(symlinkat("a/b/file", root_fd, "filelink"), "filelink");
  must(symlinkat("nothere", root_fd, "dangling"), "dangling");
  must(symlinkat("../../created-outside", root_fd, "a/dangling-out"), "dangling-out");
  must(symlinkat("../../../..", root_fd, "a/b/upup"), "upup");
  /* a chain of 40 links ends at the file (the kernel's limit), 41 do not */
  for (int i = 0; i <= 40; i++) {
    g_autofree char *name = g_strdup_printf("c%d", i);
    g_autofree char *next = i == 40 ? g_strdup("a/b/file") : g_strdup_printf("c%d", i + 1);
    must(symlinkat(next, root_fd, name), name);
  }
}

/* ---- the cases ---- */

#define OK 0
typedef struct {
  const char *path;
  int flags;
  int beneath_err;          /* 0: success */
  const char *beneath_file; /* what it opens, relative to the root ("" = the root) */
  int in_root_err;
  const char *in_root_file;
} Case;

static const Case cases[] = {
  { "a/b/file", O_RDONLY, OK, "a/b/file", OK, "a/b/file" },
  { "", O_PATH, OK, "", OK, "" },
  { ".", O_PATH, OK, "", OK, "" },
  { "a/b/", O_RDONLY, OK, "a/b", OK, "a/b" },
  { "a/b/file/", O_RDONLY, ENOTDIR, NULL, ENOTDIR, NULL },
  { "a/b/file/.", O_RDONLY, ENOTDIR, NULL, ENOTDIR, NULL },
  { "a//b/./file", O_RDONLY, OK, "a/b/file", OK, "a/b/file" },
  { "rel/file", O_RDONLY, OK, "a/b/file", OK, "a/b/file" },
  { "rel/../b/file", O_RDONLY, OK, "a/b/file", OK, "a/b/file" }, /* '..' of a/b is a */
  { "abs/file", O_RDONLY, EXDEV, NULL, OK, "a/b/file" },
  { "/a/b/file", O_RDONLY, EXDEV, NULL, OK, "a/b/file" },
  { "/", O_PATH, EXDEV, NULL, OK, "" },
  { "..", O_PATH, EXDEV, NULL, OK, "" },
  { "../root/x", O_RDONLY, EXDEV, NULL, ENOENT, NULL }, /* in root: root/root/x */
  { "a/../../outside/secret", O_RDONLY, EXDEV, NULL, ENOENT, NULL },
  { "a/../../x", O_RDONLY, EXDEV, NULL, OK, "x" },
  { "a/b/../../x", O_RDONLY, OK, "x", OK, "x" },
  { "up/secret", O_RDONLY, EXDEV, NULL, ENOENT, NULL },
  { "absout/secret", O_RDONLY, EXDEV, NULL, ENOENT, NULL },
  { "a/b/upup/x", O_RDONLY, EXDEV, NULL, OK, "x" },
  { "loop1", O_RDONLY, ELOOP, NULL, ELOOP, NULL },
  { "loop1/x", O_RDONLY, ELOOP, NULL, ELOOP, NULL },
  { "self/self/self/a/b/file", O_RDONLY, OK, "a/b/file", OK, "a/b/file" },
  { "filelink", O_RDONLY, OK, "a/b/file", OK, "a/b/file" },
  { "filelink", O_RDONLY | O_NOFOLLOW, ELOOP, NULL, ELOOP, NULL },
  { "filelink", O_PATH | O_NOFOLLOW, OK, "filelink", OK, "filelink" },
  { "filelink", O_PATH, OK, "a/b/file", OK, "a/b/file" },
  { "rel/", O_RDONLY | O_NOFOLLOW, OK, "a/b", OK, "a/b" }, /* a trailing '/' follows */
  { "dangling", O_RDONLY, ENOENT, NULL, ENOENT, NULL },
  { "x/", O_RDONLY, ENOTDIR, NULL, ENOTDIR, NULL },
  { "c0", O_RDONLY, ELOOP, NULL, ELOOP, NULL },       /* 41 links */
  { "c1", O_RDONLY, OK, "a/b/file", OK, "a/b/file" }, /* 40 links */
  { "nothere/x", O_RDONLY, ENOENT, NULL, ENOENT, NULL },
};

static struct stat
stat_in_root(const char *rel)
{
  struct stat st;
  must(fstatat(root_fd, rel[0] ? rel : ".", &st, AT_SYMLINK_NOFOLLOW), rel);
  return st;
}

static void
check_case(const Case *c, gboolean in_root)
{
  g_autoptr(GError) error = NULL;
  int want_err = in_root ? c->in_root_err : c->beneath_err;
  const char *want_file = in_root ? c->in_root_file : c->beneath_file;
  int fd = sc_confined_open(root_fd, c->path, c->flags, 0, in_root, &error);
  int err = errno;

  if (want_err == OK) {
    struct stat got, want = stat_in_root(want_file);
    ck_assert_msg(fd >= 0,
                  "'%s' (%s): %s",
                  c->path,
                  in_root ? "in root" : "beneath",
                  error ? error->message : "");
    ck_assert_int_eq(fstat(fd, &got), 0);
    ck_assert_msg(got.st_dev == want.st_dev && got.st_ino == want.st_ino,
                  "'%s' (%s) opened something else than '%s'",
                  c->path,
                  in_root ? "in root" : "beneath",
                  want_file);
    close(fd);
  } else {
    ck_assert_msg(fd < 0,
                  "'%s' (%s): opened, expected %s",
                  c->path,
                  in_root ? "in root" : "beneath",
                  g_strerror(want_err));
    ck_assert_msg(err == want_err,
                  "'%s' (%s): %s, expected %s",
                  c->path,
                  in_root ? "in root" : "beneath",
                  g_strerror(err),
                  g_strerror(want_err));
    ck_assert_ptr_nonnull(error);
    ck_assert_msg(
      strstr(error->message, c->path) != NULL, "message '%s' names no path", error->message);
  }
}

/* _i: case * 2 + implementation */
START_TEST(test_cases)
{
  const Case *c = &cases[_i / 2];

  sc_confined_force_walk(_i % 2 == 1);
  check_case(c, FALSE);
  check_case(c, TRUE);
}
END_TEST

/* The messages, one per reason. */
START_TEST(test_messages)
{
  sc_confined_force_walk(_i == 1);
  {
    g_autoptr(GError) error = NULL;
    ck_assert_int_lt(sc_confined_open(root_fd, "up/secret", O_RDONLY, 0, FALSE, &error), 0);
    ck_assert_int_eq(error->code, SC_EUNSUPPORTED);
    ck_assert_str_eq(error->message,
                     "'up/secret' leads outside the directory it is resolved in "
                     "(through an absolute path or symbolic link, or '..')");
  }
  {
    g_autoptr(GError) error = NULL;
    ck_assert_int_lt(sc_confined_open(root_fd, "filelink", O_RDONLY | O_NOFOLLOW, 0, FALSE, &error),
                     0);
    ck_assert_int_eq(error->code, SC_EIO);
    ck_assert_str_eq(error->message, "'filelink' is a symbolic link");
  }
  {
    g_autoptr(GError) error = NULL;
    ck_assert_int_lt(sc_confined_open(root_fd, "loop1", O_RDONLY | O_NOFOLLOW, 0, TRUE, &error), 0);
    ck_assert_int_eq(error->code, SC_EIO); /* the last component itself is a link */
    g_clear_error(&error);
    ck_assert_int_lt(sc_confined_open(root_fd, "loop1/x", O_RDONLY, 0, TRUE, &error), 0);
    ck_assert_int_eq(error->code, SC_EUNSUPPORTED);
    ck_assert_str_eq(error->message,
                     "'loop1/x': too many levels of symbolic links, or a link "
                     "through /proc (a magic link)");
  }
  {
    g_autoptr(GError) error = NULL;
    ck_assert_int_lt(sc_confined_open(root_fd, "a/none", O_RDONLY, 0, FALSE, &error), 0);
    ck_assert_int_eq(error->code, SC_ENOTFOUND);
    ck_assert_str_eq(error->message, "'a/none': No such file or directory");
  }
}
END_TEST

/* Creating through links: inside the root only. */
START_TEST(test_create)
{
  g_autofree char *outside = g_build_filename(top, "created-outside", NULL);
  g_autoptr(GError) error = NULL;
  int fd;

  sc_confined_force_walk(_i == 1);
  /* a dangling link is followed to create its target, beneath the root */
  fd = sc_confined_open(root_fd, "dangling", O_WRONLY | O_CREAT, 0600, FALSE, &error);
  ck_assert_msg(fd >= 0, "%s", error ? error->message : "");
  close(fd);
  ck_assert_int_eq(faccessat(root_fd, "nothere", F_OK, 0), 0);
  ck_assert_int_eq(unlinkat(root_fd, "nothere", 0), 0);
  /* one that leads out: refused, or (in root) created inside */
  ck_assert_int_lt(
    sc_confined_open(root_fd, "a/dangling-out", O_WRONLY | O_CREAT, 0600, FALSE, &error), 0);
  ck_assert_int_eq(errno, EXDEV);
  g_clear_error(&error);
  fd = sc_confined_open(root_fd, "a/dangling-out", O_WRONLY | O_CREAT, 0600, TRUE, &error);
  ck_assert_msg(fd >= 0, "%s", error ? error->message : "");
  close(fd);
  ck_assert_int_eq(unlinkat(root_fd, "created-outside", 0), 0);
  ck_assert(!g_file_test(outside, G_FILE_TEST_EXISTS));
  /* absolute links in root: root/a/b/new */
  fd = sc_confined_open(root_fd, "abs/new", O_WRONLY | O_CREAT | O_EXCL, 0600, TRUE, &error);
  ck_assert_msg(fd >= 0, "%s", error ? error->message : "");
  close(fd);
  ck_assert_int_eq(unlinkat(root_fd, "a/b/new", 0), 0);
  /* O_CREAT on a directory: EISDIR, as openat() */
  ck_assert_int_lt(sc_confined_open(root_fd, "a/b/", O_WRONLY | O_CREAT, 0600, FALSE, &error), 0);
  ck_assert_int_eq(errno, EISDIR);
}
END_TEST

/* Paths longer than PATH_MAX: a deep tree made with *at() calls, then
 * opened whole; the walk takes them where openat2() cannot. */
START_TEST(test_long_paths)
{
  g_autoptr(GString) deep = g_string_new("long");
  g_autoptr(GString) path = NULL;
  g_autoptr(GError) error = NULL;
  const char *comp = "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
  int dfd, fd;
  struct stat want, got;

  sc_confined_force_walk(_i == 1);
  if (mkdirat(root_fd, "long", 0755) != 0)
    ck_assert_int_eq(errno, EEXIST);
  dfd = openat(root_fd, "long", O_PATH | O_DIRECTORY | O_CLOEXEC);
  for (int i = 0; i < 150; i++) {
    int next;
    if (mkdirat(dfd, comp, 0755) != 0)
      ck_assert_int_eq(errno, EEXIST);
    next = openat(dfd, comp, O_PATH | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(next, 0);
    close(dfd);
    dfd = next;
    g_string_append_printf(deep, "/%s", comp);
  }
  fd = openat(dfd, "leaf", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(fstat(fd, &want), 0);
  close(fd);
  /* the link at the bottom leads back to the root's "a" */
  if (symlinkat("/a", dfd, "toroot") != 0)
    ck_assert_int_eq(errno, EEXIST);
  close(dfd);
  ck_assert_int_gt(deep->len, 10000);

  path = g_string_new(deep->str);
  g_string_append(path, "/leaf");
  fd = sc_confined_open(root_fd, path->str, O_RDONLY, 0, FALSE, &error);
  ck_assert_msg(fd >= 0, "%s", error ? error->message : "");
  ck_assert_int_eq(fstat(fd, &got), 0);
  ck_assert(got.st_ino == want.st_ino && got.st_dev == want.st_dev);
  close(fd);

  /* an absolute link at the bottom of it: refused beneath, the root's "a" in root */
  g_string_assign(path, deep->str);
  g_string_append(path, "/toroot/b/file");
  ck_assert_int_lt(sc_confined_open(root_fd, path->str, O_RDONLY, 0, FALSE, &error), 0);
  ck_assert_int_eq(errno, EXDEV);
  g_clear_error(&error);
  fd = sc_confined_open(root_fd, path->str, O_RDONLY, 0, TRUE, &error);
  ck_assert_msg(fd >= 0, "%s", error ? error->message : "");
  want = stat_in_root("a/b/file");
  ck_assert_int_eq(fstat(fd, &got), 0);
  ck_assert(got.st_ino == want.st_ino);
  close(fd);

  /* '..' all the way up, then one more: the root, or refused */
  g_string_assign(path, deep->str);
  for (int i = 0; i <= 150; i++)
    g_string_append(path, "/..");
  g_string_append(path, "/x");
  fd = sc_confined_open(root_fd, path->str, O_RDONLY, 0, FALSE, &error);
  ck_assert_msg(fd >= 0, "%s", error ? error->message : "");
  close(fd);
  g_string_truncate(path, path->len - 2);
  g_string_append(path, "/../x");
  ck_assert_int_lt(sc_confined_open(root_fd, path->str, O_RDONLY, 0, FALSE, &error), 0);
  ck_assert_int_eq(errno, EXDEV);
  g_clear_error(&error);
  fd = sc_confined_open(root_fd, path->str, O_RDONLY, 0, TRUE, &error);
  ck_assert_msg(fd >= 0, "%s", error ? error->message : "");
  close(fd);

  /* links counted over a long path: "self/" 2000 times */
  g_string_truncate(path, 0);
  for (int i = 0; i < 2000; i++)
    g_string_append(path, "self/");
  g_string_append(path, "x");
  ck_assert_int_lt(sc_confined_open(root_fd, path->str, O_RDONLY, 0, FALSE, &error), 0);
  ck_assert_int_eq(errno, ELOOP);
}
END_TEST

/* Magic links: /proc/self/root and /proc/self/fd/N are never followed. */
START_TEST(test_magic_links)
{
  g_autoptr(GError) error = NULL;
  int proc = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
  int slash = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  int out = open(top, O_PATH | O_DIRECTORY | O_CLOEXEC);
  g_autofree char *via_fd = g_strdup_printf("fd/%d/outside/secret", out);
  g_autofree char *via_proc = g_strdup_printf("proc/self/fd/%d/outside/secret", out);

  sc_confined_force_walk(_i == 1);
  ck_assert_int_ge(proc, 0);
  ck_assert_int_lt(sc_confined_open(proc, "root/etc/passwd", O_RDONLY, 0, FALSE, &error), 0);
  ck_assert_int_eq(errno, ELOOP);
  g_clear_error(&error);
  ck_assert_int_lt(sc_confined_open(proc, via_fd, O_RDONLY, 0, FALSE, &error), 0);
  ck_assert_int_eq(errno, ELOOP);
  g_clear_error(&error);
  ck_assert_int_lt(sc_confined_open(slash, via_proc, O_RDONLY, 0, TRUE, &error), 0);
  ck_assert_int_eq(errno, ELOOP);
  g_clear_error(&error);
  ck_assert_int_lt(sc_confined_open(slash, "proc/self/cwd", O_PATH, 0, TRUE, &error), 0);
  ck_assert_int_eq(errno, ELOOP);
  close(proc);
  close(slash);
  close(out);
}
END_TEST

/* A sysroot with its own /proc mounted and a link into it, as a real OS
 * tree has: "/m -> /proc/self/root" would be the machine's root. Needs a
 * private mount namespace (root); the test runs in its own process. */
START_TEST(test_magic_link_in_tree)
{
  g_autofree char *tree = NULL;
  g_autofree char *procdir = NULL;
  g_autoptr(GError) error = NULL;
  int tfd;

  if (getuid() != 0 || unshare(CLONE_NEWNS) != 0 ||
      mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
    fprintf(stderr, "# skipped: needs root for a private mount namespace\n");
    return;
  }
  sc_confined_force_walk(_i == 1);
  tree = g_build_filename(top, "sysroot", NULL);
  procdir = g_build_filename(tree, "proc", NULL);
  g_mkdir_with_parents(procdir, 0755);
  must(mount("proc", procdir, "proc", 0, NULL), "mount proc");
  tfd = open(tree, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (symlinkat("/proc/self/root", tfd, "m") != 0)
    ck_assert_int_eq(errno, EEXIST);
  ck_assert_int_lt(sc_confined_open(tfd, "m/etc/passwd", O_RDONLY, 0, TRUE, &error), 0);
  ck_assert_int_eq(errno, ELOOP);
  g_clear_error(&error);
  ck_assert_int_lt(sc_confined_open(tfd, "/proc/self/root/etc/passwd", O_RDONLY, 0, TRUE, &error),
                   0);
  ck_assert_int_eq(errno, ELOOP);
  g_clear_error(&error);
  /* another process's root: refused as a magic link, or not even readable */
  ck_assert_int_lt(sc_confined_open(tfd, "/proc/1/root/etc/passwd", O_RDONLY, 0, TRUE, &error), 0);
  ck_assert_msg(errno == ELOOP || errno == EACCES, "%s", g_strerror(errno));
  close(tfd);
  umount2(procdir, MNT_DETACH);
}
END_TEST

int
main(void)
{
  Suite *s = suite_create("confined");
  TCase *tc = tcase_create("confined");
  int rc;

  make_tree();
  tcase_add_loop_test(tc, test_cases, 0, G_N_ELEMENTS(cases) * 2);
  tcase_add_loop_test(tc, test_messages, 0, 2);
  tcase_add_loop_test(tc, test_create, 0, 2);
  tcase_add_loop_test(tc, test_long_paths, 0, 2);
  tcase_add_loop_test(tc, test_magic_links, 0, 2);
  tcase_add_loop_test(tc, test_magic_link_in_tree, 0, 2);
  suite_add_tcase(s, tc);
  rc = tc_run(s);
  close(root_fd);
  tc_rm_rf(top);
  return rc;
}
