/*
 * Helpers shared by the check-based test programs.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <check.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include <syscontainer/syscontainer.h>

/* A scratch directory, removed by tc_rm_rf(). */
static inline char *
tc_mkdtemp(void)
{
  char *dir = g_dir_make_tmp("sctest-XXXXXX", NULL);
  ck_assert_ptr_nonnull(dir);
  return dir;
}

static inline void
tc_rm_rf(const char *dir)
{
  char *argv[] = { "rm", "-rf", (char *)dir, NULL };
  g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
}

static inline void
tc_write(const char *dir, const char *name, const char *text)
{
  char *path = g_build_filename(dir, name, NULL);
  char *parent = g_path_get_dirname(path);
  g_mkdir_with_parents(parent, 0755);
  ck_assert_msg(g_file_set_contents(path, text, -1, NULL), "cannot write %s", path);
  g_free(parent);
  g_free(path);
}

static inline char *
tc_read(const char *dir, const char *name)
{
  char *path = g_build_filename(dir, name, NULL);
  char *text = NULL;
  if (!g_file_get_contents(path, &text, NULL, NULL))
    text = NULL;
  g_free(path);
  return text;
}

static inline const char *
tc_data_dir(void)
{
  const char *d = g_getenv("SC_TEST_DATA");
  ck_assert_msg(d != NULL, "SC_TEST_DATA is not set");
  return d;
}

/* Asserts that @r failed with @code and that the message contains @needle. */
#define tc_assert_error(r, err, code, needle)                                                      \
  do {                                                                                             \
    ck_assert_int_eq((r), (code));                                                                 \
    ck_assert_ptr_nonnull(err);                                                                    \
    ck_assert_int_eq(sc_error_code(err), (code));                                                  \
    ck_assert_msg(strstr(sc_error_message(err), (needle)) != NULL,                                 \
                  "message '%s' lacks '%s'",                                                       \
                  sc_error_message(err),                                                           \
                  (needle));                                                                       \
    sc_error_free(err);                                                                            \
    err = NULL;                                                                                    \
  } while (0)

#define tc_assert_ok(r, err) ck_assert_msg((r) == SC_OK, "failed: %s", sc_error_message(err))

static inline int
tc_run(Suite *s)
{
  SRunner *sr = srunner_create(s);
  int failed;
  srunner_run_all(sr, CK_ENV);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
