/*
 * Unit tests of the confined tree operations (lib/base/confined.c): removal
 * without recursion and without following links, directories made inside a
 * root through its links, paths for other programs resolved inside a root.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include "sc-private.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static char *scratch;

static void
setup(void)
{
  scratch = g_dir_make_tmp("sc-test-tree-XXXXXX", NULL);
  ck_assert_ptr_nonnull(scratch);
}

/* the same tests through the O_NOFOLLOW walk, as without openat2() */
static void
setup_walk(void)
{
  setup();
  sc_confined_force_walk(TRUE);
}

static void
teardown(void)
{
  sc_rm_rf(scratch);
  g_free(scratch);
}

static char *
path_of(const char *rel)
{
  return g_build_filename(scratch, rel, NULL);
}

static void
write_file(const char *rel, const char *text)
{
  g_autofree char *p = path_of(rel);
  g_autofree char *dir = g_path_get_dirname(p);
  ck_assert_int_eq(g_mkdir_with_parents(dir, 0755), 0);
  ck_assert(g_file_set_contents(p, text, -1, NULL));
}

static void
make_dirs(const char *rel)
{
  g_autofree char *p = path_of(rel);
  ck_assert_int_eq(g_mkdir_with_parents(p, 0755), 0);
}

static void
make_link(const char *target, const char *rel)
{
  g_autofree char *p = path_of(rel);
  ck_assert_int_eq(symlink(target, p), 0);
}

static gboolean
exists(const char *rel)
{
  g_autofree char *p = path_of(rel);
  struct stat st;
  return lstat(p, &st) == 0;
}

/* A chain of @depth directories "d" below @dirfd, made through
 * descriptors (the path would be far longer than PATH_MAX). */
static void
make_deep(int dirfd, guint depth)
{
  int cur = dup(dirfd);
  for (guint i = 0; i < depth; i++) {
    int next;
    ck_assert_int_eq(mkdirat(cur, "d", 0755), 0);
    next = openat(cur, "d", O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(next, 0);
    if (i % 100 == 0)
      close(openat(next, "f", O_WRONLY | O_CREAT, 0644));
    close(cur);
    cur = next;
  }
  close(cur);
}

START_TEST(test_rm_rf_deep_tree)
{
  g_autofree char *top = path_of("top");
  struct rlimit few = {64, 64}, old;
  GError *error = NULL;
  int fd;

  ck_assert_int_eq(mkdir(top, 0755), 0);
  fd = open(top, O_RDONLY | O_DIRECTORY);
  make_deep(fd, 10000);
  close(fd);
  /* the walk holds one directory open, whatever the depth */
  ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
  ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &few), 0);
  fd = open(scratch, O_RDONLY | O_DIRECTORY);
  ck_assert(sc_confined_rm_rf_at(fd, "top", "top", &error));
  ck_assert_ptr_null(error);
  close(fd);
  setrlimit(RLIMIT_NOFILE, &old);
  ck_assert(!exists("top"));
}
END_TEST

START_TEST(test_rm_rf_does_not_follow_links)
{
  g_autofree char *outside = path_of("outside");
  g_autofree char *link = path_of("victim/sub/link");
  g_autofree char *dirlink = path_of("victim/dirlink");
  GError *error = NULL;
  int fd;

  write_file("outside/keep", "keep\n");
  write_file("victim/sub/file", "x\n");
  ck_assert_int_eq(symlink(outside, link), 0);
  ck_assert_int_eq(symlink("../outside", dirlink), 0);
  fd = open(scratch, O_RDONLY | O_DIRECTORY);
  ck_assert(sc_confined_rm_rf_at(fd, "victim", "victim", &error));
  close(fd);
  ck_assert(!exists("victim"));
  ck_assert(exists("outside/keep"));
  /* a link itself is removed, not its target */
  make_link(outside, "alone");
  fd = open(scratch, O_RDONLY | O_DIRECTORY);
  ck_assert(sc_confined_rm_rf_at(fd, "alone", "alone", &error));
  close(fd);
  ck_assert(exists("outside/keep"));
}
END_TEST

START_TEST(test_empty_dir_keeps_the_directory)
{
  g_autofree char *dir = path_of("box");
  GError *error = NULL;
  int fd;

  write_file("box/a/b/c", "c\n");
  write_file("box/d", "d\n");
  fd = open(dir, O_RDONLY | O_DIRECTORY);
  ck_assert(sc_confined_empty_dir(fd, "box", &error));
  close(fd);
  ck_assert(exists("box"));
  ck_assert(!exists("box/a") && !exists("box/d"));
}
END_TEST

START_TEST(test_mkdirs_in_root_through_links)
{
  g_autofree char *root = path_of("root");
  g_autofree char *varrun = path_of("root/var/run");
  g_autofree char *dangling = path_of("root/etc/dangling");
  GError *error = NULL;
  int root_fd, fd;

  write_file("root/run/.keep", "");
  write_file("root/etc/.keep", "");
  make_dirs("root/var");
  ck_assert_int_eq(symlink("/run", varrun), 0);
  /* absolute and dangling: made inside the root, where it points */
  ck_assert_int_eq(symlink("/made/here", dangling), 0);
  root_fd = open(root, O_PATH | O_DIRECTORY);
  fd = sc_confined_mkdirs(root_fd, "/var/run/sub/dir", 0755, TRUE, &error);
  ck_assert_msg(fd >= 0, "%s", error ? error->message : "");
  close(fd);
  ck_assert(exists("root/run/sub/dir"));
  fd = sc_confined_mkdirs(root_fd, "/etc/dangling/x", 0755, TRUE, &error);
  ck_assert_msg(fd >= 0, "%s", error ? error->message : "");
  close(fd);
  ck_assert(exists("root/made/here/x"));
  ck_assert(!g_file_test("/made/here", G_FILE_TEST_EXISTS));
  /* beneath a root, the same link is an escape */
  fd = sc_confined_mkdirs(root_fd, "var/run/other", 0755, FALSE, &error);
  ck_assert_int_lt(fd, 0);
  ck_assert_ptr_nonnull(strstr(error->message, "var/run"));
  g_clear_error(&error);
  close(root_fd);
}
END_TEST

START_TEST(test_host_path_resolves_in_root)
{
  g_autofree char *root = path_of("root");
  g_autofree char *real_root = NULL;
  g_autofree char *p = NULL;
  g_autofree char *want = NULL;

  write_file("root/run/x", "x\n");
  make_dirs("root/var");
  make_link("/run", "root/var/run");
  make_link("/etc/shadow", "root/run/shadow-link");
  real_root = realpath(root, NULL);
  p = sc_confined_host_path(root, "/var/run/x", FALSE);
  want = g_strconcat(real_root, "/run/x", NULL);
  ck_assert_str_eq(p, want);
  g_clear_pointer(&p, g_free);
  g_clear_pointer(&want, g_free);
  /* the last component is named, not followed */
  p = sc_confined_host_path(root, "/var/run/shadow-link", FALSE);
  want = g_strconcat(real_root, "/run/shadow-link", NULL);
  ck_assert_str_eq(p, want);
  g_clear_pointer(&p, g_free);
  g_clear_pointer(&want, g_free);
  /* what does not exist yet is appended; ".." stops at the root */
  p = sc_confined_host_path(root, "/../../var/run/new/file", FALSE);
  want = g_strconcat(real_root, "/run/new/file", NULL);
  ck_assert_str_eq(p, want);
  g_clear_pointer(&p, g_free);
  g_clear_pointer(&want, g_free);
  /* a link that dangles in the root (though its target exists on this
   * machine) is followed inside the root: the path names no link */
  make_link(scratch, "root/etc-link");
  p = sc_confined_host_path(root, "/etc-link/systemd/x.service", FALSE);
  want = g_strconcat(real_root, scratch, "/systemd/x.service", NULL);
  ck_assert_str_eq(p, want);
  g_clear_pointer(&p, g_free);
  g_clear_pointer(&want, g_free);
  /* a directory to build paths in: its own link is followed too */
  p = sc_confined_host_path(root, "/etc-link", TRUE);
  want = g_strconcat(real_root, scratch, NULL);
  ck_assert_str_eq(p, want);
  g_clear_pointer(&p, g_free);
  g_clear_pointer(&want, g_free);
  p = sc_confined_host_path(root, "/etc-link", FALSE);
  want = g_strconcat(real_root, "/etc-link", NULL);
  ck_assert_str_eq(p, want);
}

START_TEST(test_open_nolinks_refuses_links)
{
  g_autofree char *dir = path_of("real/a");
  g_autofree char *via = path_of("link/a");
  g_autofree char *made = path_of("real/a/b/c");
  GError *error = NULL;
  int fd;

  make_dirs("real/a");
  make_link("real", "link");
  fd = sc_confined_open_nolinks(dir, FALSE, &error);
  ck_assert_int_ge(fd, 0);
  close(fd);
  fd = sc_confined_open_nolinks(made, TRUE, &error);
  ck_assert_int_ge(fd, 0);
  close(fd);
  ck_assert(exists("real/a/b/c"));
  fd = sc_confined_open_nolinks(via, TRUE, &error);
  ck_assert_int_lt(fd, 0);
  ck_assert_ptr_nonnull(strstr(error->message, "a symbolic link or a file is on the way"));
  g_clear_error(&error);
}
END_TEST

START_TEST(test_open_parent_needs_a_name)
{
  GError *error = NULL;
  char *base = NULL;
  int fd = open(scratch, O_PATH | O_DIRECTORY);
  const char *bad[] = {"a/..", "a/.", "/", ""};

  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    ck_assert_int_lt(sc_confined_open_parent(fd, bad[i], TRUE, FALSE, &base, &error), 0);
    ck_assert_ptr_nonnull(strstr(error->message, "does not end in a file name"));
    g_clear_error(&error);
  }
  close(fd);
}
END_TEST

static Suite *
tree_suite(void)
{
  Suite *s = suite_create("tree");
  const char *names[] = {"openat2", "walk"};

  for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
    TCase *tc = tcase_create(names[i]);
    tcase_add_checked_fixture(tc, i == 0 ? setup : setup_walk, teardown);
    tcase_set_timeout(tc, 60);
    if (i == 0) /* removal resolves nothing: once is enough */
      tcase_add_test(tc, test_rm_rf_deep_tree);
    tcase_add_test(tc, test_rm_rf_does_not_follow_links);
    tcase_add_test(tc, test_empty_dir_keeps_the_directory);
    tcase_add_test(tc, test_mkdirs_in_root_through_links);
    tcase_add_test(tc, test_host_path_resolves_in_root);
    tcase_add_test(tc, test_open_parent_needs_a_name);
    tcase_add_test(tc, test_open_nolinks_refuses_links);
    suite_add_tcase(s, tc);
  }
  return s;
}

int
main(void)
{
  return tc_run(tree_suite());
}
