/*
 * Template engine: Python string.Template semantics, case by case from
 * tests/data/template, plus the API's edge cases.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include <sys/resource.h>

static sc_values *
load_values(const char *path)
{
  sc_values *v = NULL;
  gchar *text = NULL;
  gsize len = 0;

  sc_values_new(&v, NULL);
  ck_assert(g_file_get_contents(path, &text, &len, NULL));
  for (gsize i = 0; i < len;) {
    const char *entry = text + i;
    gsize n = strlen(entry);
    ck_assert_int_eq(sc_values_parse(v, entry, NULL), SC_OK);
    i += n + 1;
  }
  g_free(text);
  return v;
}

START_TEST(test_data_cases)
{
  g_autofree char *root = g_build_filename(tc_data_dir(), "template", NULL);
  GDir *dir = g_dir_open(root, 0, NULL);
  const char *name;
  int cases = 0;

  ck_assert_ptr_nonnull(dir);
  while ((name = g_dir_read_name(dir)) != NULL) {
    g_autofree char *cdir = g_build_filename(root, name, NULL);
    g_autofree char *input_path = g_build_filename(cdir, "input", NULL);
    g_autofree char *values_path = g_build_filename(cdir, "values", NULL);
    g_autofree char *input = NULL;
    g_autofree char *expected = NULL;
    g_autofree char *want_error = NULL;
    gsize input_len, expected_len = 0;
    sc_values *values;
    sc_error *err = NULL;
    char *out = NULL;
    size_t out_len = 0;
    int r;

    if (!g_file_test(cdir, G_FILE_TEST_IS_DIR))
      continue;
    ck_assert(g_file_get_contents(input_path, &input, &input_len, NULL));
    values = load_values(values_path);
    r = sc_template_render(name, input, input_len, values, &out, &out_len, &err);
    expected = tc_read(cdir, "expected");
    if (expected != NULL) {
      expected_len = strlen(expected);
      ck_assert_msg(r == SC_OK, "%s: %s", name, sc_error_message(err));
      ck_assert_msg(out_len == expected_len && memcmp(out, expected, out_len) == 0,
                    "%s: rendered '%s', expected '%s'",
                    name,
                    out,
                    expected);
    } else {
      want_error = tc_read(cdir, "error");
      ck_assert_msg(want_error != NULL, "%s: no expected or error file", name);
      g_strchomp(want_error);
      ck_assert_msg(r == SC_ETEMPLATE, "%s: expected an error, got %d", name, r);
      ck_assert_msg(strstr(sc_error_message(err), want_error) != NULL,
                    "%s: message '%s' lacks '%s'",
                    name,
                    sc_error_message(err),
                    want_error);
      /* The message names the template. */
      ck_assert_msg(
        strstr(sc_error_message(err), name) != NULL, "%s: '%s'", name, sc_error_message(err));
      ck_assert_ptr_null(out);
      sc_error_free(err);
    }
    sc_free(out);
    sc_values_free(values);
    cases++;
  }
  g_dir_close(dir);
  ck_assert_int_ge(cases, 20);
}
END_TEST

START_TEST(test_nul_bytes_are_copied)
{
  static const char text[] = "a\0$X\0b";
  sc_values *v = NULL;
  char *out = NULL;
  size_t len = 0;

  sc_values_new(&v, NULL);
  sc_values_set(v, "X", "yy", NULL);
  ck_assert_int_eq(sc_template_render("t", text, sizeof(text) - 1, v, &out, &len, NULL), SC_OK);
  ck_assert_uint_eq(len, 6);
  ck_assert(memcmp(out, "a\0yy\0b", 6) == 0);
  sc_free(out);
  sc_values_free(v);
}
END_TEST

START_TEST(test_length_bounds_the_input)
{
  sc_values *v = NULL;
  char *out = NULL;
  sc_error *err = NULL;

  sc_values_new(&v, NULL);
  sc_values_set(v, "NAME", "n", NULL);
  /* "$NAMEX" cut after "$NAME": the identifier ends at the length. */
  ck_assert_int_eq(sc_template_render("t", "$NAMEX", 5, v, &out, NULL, NULL), SC_OK);
  ck_assert_str_eq(out, "n");
  sc_free(out);
  out = NULL;
  /* "${NAME}" cut before '}' is an invalid placeholder. */
  tc_assert_error(
    sc_template_render("t", "${NAME}", 6, v, &out, NULL, &err), err, SC_ETEMPLATE, "line 1, col 1");
  ck_assert_ptr_null(out);
  sc_values_free(v);
}
END_TEST

START_TEST(test_variables_in_order_once)
{
  char **names = NULL;
  const char *text = "$B ${A} $B $$C ${_x1} $A";

  ck_assert_int_eq(sc_template_variables("t", text, strlen(text), &names, NULL), SC_OK);
  ck_assert_str_eq(names[0], "B");
  ck_assert_str_eq(names[1], "A");
  ck_assert_str_eq(names[2], "_x1");
  ck_assert_ptr_null(names[3]);
  sc_strv_free(names);
}
END_TEST

START_TEST(test_variables_invalid)
{
  char **names = NULL;
  sc_error *err = NULL;

  tc_assert_error(sc_template_variables("f.template", "ok\n  $-", 7, &names, &err),
                  err,
                  SC_ETEMPLATE,
                  "template 'f.template': invalid placeholder at line 2, col 3");
  ck_assert_ptr_null(names);
}
END_TEST

START_TEST(test_undefined_message)
{
  sc_values *v = NULL;
  char *out = NULL;
  sc_error *err = NULL;

  sc_values_new(&v, NULL);
  tc_assert_error(
    sc_template_render("/x/service.template", "A=$VAR_WITH_NO_DEFAULT", 22, v, &out, NULL, &err),
    err,
    SC_ETEMPLATE,
    "template '/x/service.template': variable 'VAR_WITH_NO_DEFAULT' at line 1, col "
    "3 is not defined (give it with --set VAR_WITH_NO_DEFAULT=VALUE");
  sc_values_free(v);
}
END_TEST

START_TEST(test_bad_arguments)
{
  sc_error *err = NULL;
  char *out = NULL;

  tc_assert_error(
    sc_template_render("t", NULL, 0, NULL, &out, NULL, &err), err, SC_EINVAL, "invalid argument");
  ck_assert_int_eq(sc_template_variables("t", "x", 1, NULL, NULL), SC_EINVAL);
}
END_TEST

/* Rendered output is capped: a value substituted many times fails at the
 * limit, before the memory is spent, naming the template and variable. */
START_TEST(test_output_cap_default)
{
  sc_values *v = NULL;
  char *out = NULL;
  sc_error *err = NULL;
  gsize big = 3 * 1024 * 1024;
  g_autofree char *value = g_malloc(big + 1);
  g_autoptr(GString) text = g_string_new(NULL);
  struct rusage before, after;

  g_unsetenv("SC_MAX_RENDERED_BYTES");
  memset(value, 'x', big);
  value[big] = '\0';
  for (int i = 0; i < 2000; i++)
    g_string_append(text, "$BIG\n");
  sc_values_new(&v, NULL);
  ck_assert_int_eq(sc_values_set(v, "BIG", value, NULL), SC_OK);
  getrusage(RUSAGE_SELF, &before);
  tc_assert_error(
    sc_template_render("/x/config.json.template", text->str, text->len, v, &out, NULL, &err),
    err,
    SC_ETEMPLATE,
    "template '/x/config.json.template': the rendered text grows past 4194304 "
    "bytes, the limit on a rendered file (SC_MAX_RENDERED_BYTES), substituting "
    "'BIG' at line 2, col 1");
  getrusage(RUSAGE_SELF, &after);
  /* 6 GB unchecked; the cap keeps it to the first copy or two */
  ck_assert_int_lt(after.ru_maxrss - before.ru_maxrss, 64 * 1024);
  ck_assert_ptr_null(out);
  sc_values_free(v);
}
END_TEST

START_TEST(test_output_cap_edges)
{
  sc_values *v = NULL;
  char *out = NULL;
  size_t len = 0;
  sc_error *err = NULL;

  g_setenv("SC_MAX_RENDERED_BYTES", "10", TRUE);
  sc_values_new(&v, NULL);
  ck_assert_int_eq(sc_values_set(v, "X", "12345", NULL), SC_OK);
  ck_assert_int_eq(sc_values_set(v, "E", "", NULL), SC_OK);
  /* exactly at the limit: fine */
  tc_assert_ok(sc_template_render("t", "abcde$X", 7, v, &out, &len, &err), err);
  ck_assert_str_eq(out, "abcde12345");
  sc_free(out);
  tc_assert_ok(sc_template_render("t", "abcdefghi$$$E", 13, v, &out, &len, &err), err);
  ck_assert_str_eq(out, "abcdefghi$");
  sc_free(out);
  /* a value crosses it */
  tc_assert_error(sc_template_render("t", "abcdef${X}", 10, v, &out, NULL, &err),
                  err,
                  SC_ETEMPLATE,
                  "template 't': the rendered text grows past 10 bytes, the limit on a rendered "
                  "file (SC_MAX_RENDERED_BYTES), substituting 'X' at line 1, col 7");
  /* the text after the last value crosses it */
  tc_assert_error(sc_template_render("t", "$X and more", 11, v, &out, NULL, &err),
                  err,
                  SC_ETEMPLATE,
                  "(SC_MAX_RENDERED_BYTES), after substituting 'X' at line 1, col 1");
  tc_assert_error(sc_template_render("t", "$X$$$$$$$$$$$$", 14, v, &out, NULL, &err),
                  err,
                  SC_ETEMPLATE,
                  "after substituting 'X' at line 1, col 1");
  /* a template larger than the limit by itself */
  tc_assert_error(sc_template_render("t", "abcdefghijk", 11, v, &out, NULL, &err),
                  err,
                  SC_ETEMPLATE,
                  "template 't': the text is larger than 10 bytes, the limit on a rendered file "
                  "(SC_MAX_RENDERED_BYTES)");
  sc_values_free(v);
}
END_TEST

static Suite *
suite(void)
{
  Suite *s = suite_create("template");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_data_cases);
  tcase_add_test(tc, test_nul_bytes_are_copied);
  tcase_add_test(tc, test_length_bounds_the_input);
  tcase_add_test(tc, test_variables_in_order_once);
  tcase_add_test(tc, test_variables_invalid);
  tcase_add_test(tc, test_undefined_message);
  tcase_add_test(tc, test_bad_arguments);
  tcase_add_test(tc, test_output_cap_default);
  tcase_add_test(tc, test_output_cap_edges);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  return tc_run(suite());
}
