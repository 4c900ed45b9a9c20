/*
 * Lint: errors for what breaks an install, warnings for what atomic's
 * images linter warned about.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include <jansson.h>
#include <stdio.h>

static char *tmp;
static sc_context *ctx;

static void
setup(void)
{
  tmp = tc_mkdtemp();
  ck_assert_int_eq(sc_context_new(&ctx, NULL), SC_OK);
}

static void
teardown(void)
{
  sc_context_free(ctx);
  tc_rm_rf(tmp);
  g_free(tmp);
}

static gint
cmp_str(gconstpointer a, gconstpointer b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lints @dir and returns "severity check" lines, one per finding, sorted. */
static char *
lint_summary(const char *dir, int *out_errors)
{
  char *json = NULL;
  sc_error *err = NULL;
  json_t *doc, *f;
  size_t i;
  GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
  char *joined;
  int warnings = -1;

  tc_assert_ok(sc_lint(ctx, dir, &json, out_errors, &warnings, &err), err);
  doc = json_loads(json, 0, NULL);
  ck_assert_ptr_nonnull(doc);
  ck_assert_int_eq(json_integer_value(json_object_get(doc, "schema")), 1);
  json_array_foreach (json_object_get(doc, "findings"), i, f)
    g_ptr_array_add(lines,
                    g_strdup_printf("%s %s",
                                    json_string_value(json_object_get(f, "severity")),
                                    json_string_value(json_object_get(f, "check"))));
  ck_assert_int_eq(json_integer_value(json_object_get(doc, "errors")), *out_errors);
  ck_assert_int_eq(json_integer_value(json_object_get(doc, "warnings")), warnings);
  g_ptr_array_sort(lines, cmp_str);
  {
    GString *s = g_string_new(NULL);
    for (guint k = 0; k < lines->len; k++)
      g_string_append_printf(s, "%s\n", (char *)lines->pdata[k]);
    joined = g_string_free(s, FALSE);
  }
  g_ptr_array_unref(lines);
  json_decref(doc);
  sc_free(json);
  return joined;
}

static const char good_config[] =
  "{\"process\": {\"terminal\": false, \"args\": [\"/bin/run\"]},\n"
  " \"root\": {\"path\": \"rootfs\", \"readonly\": true},\n"
  " \"mounts\": [{\"destination\": \"/d\", \"type\": \"bind\", \"source\": "
  "\"${STATE_DIRECTORY}/$NAME\", \"options\": [\"rbind\"]}]}\n";
static const char good_service[] = "[Service]\nExecStart=$EXEC_START\nExecStop=$EXEC_STOP\n"
                                   "WorkingDirectory=$DESTDIR\n";

START_TEST(test_clean_image)
{
  int errors = -1;
  g_autofree char *summary = NULL;

  tc_write(tmp, "config.json.template", good_config);
  tc_write(tmp, "service.template", good_service);
  tc_write(tmp, "manifest.json", "{\"version\": \"1.0\"}");
  summary = lint_summary(tmp, &errors);
  ck_assert_str_eq(summary, "");
  ck_assert_int_eq(errors, 0);
}
END_TEST

START_TEST(test_errors)
{
  int errors = -1;
  g_autofree char *summary = NULL;

  tc_write(tmp,
           "config.json.template",
           "{\"process\": {\"terminal\": false, \"args\": [\"$CMD\"]},\n"
           " \"root\": {\"path\": \"rootfs\", \"readonly\": true}}\n");
  tc_write(tmp,
           "service.template",
           "[Service]\nExecStart=$EXEC_START\nExecStop=$EXEC_STOP $1\n"
           "WorkingDirectory=$DESTDIR\n");
  tc_write(tmp, "manifest.json", "{}");
  summary = lint_summary(tmp, &errors);
  ck_assert_str_eq(summary, "error template-syntax\nerror undefined-variable\n");
  ck_assert_int_eq(errors, 2);
}
END_TEST

START_TEST(test_config_errors_and_warnings)
{
  int errors = -1;
  g_autofree char *summary = NULL;

  tc_write(
    tmp,
    "config.json.template",
    "{\"process\": {\"args\": [\"/bin/run\"]},\n"
    " \"root\": {\"path\": \"rootfs\", \"readonly\": true},\n"
    " \"linux\": {\"selinuxProcessLabel\": \"x\"},\n"
    " \"mounts\": [{\"destination\": \"/a\", \"type\": \"rbind\", \"source\": \"/var/lib/a\"},"
    "{\"destination\": \"/b\", \"type\": \"bind\", \"source\": \"/run/b\"}]}\n");
  tc_write(tmp,
           "service.template",
           "[Service]\nExecStart=/bin/true\nExecStop=/bin/false\n"
           "WorkingDirectory=/\n");
  tc_write(tmp, "manifest.json", "{\"defaultValues\": {\"UNUSED\": \"x\"}, \"extra\": 1}");
  summary = lint_summary(tmp, &errors);
  ck_assert_str_eq(summary,
                   "error mount-type-rbind\n"
                   "error selinux-process-label\n"
                   "warning default-unused\n"
                   "warning manifest-unknown-key\n"
                   "warning mount-run-directory\n"
                   "warning mount-state-directory\n"
                   "warning process-terminal\n"
                   "warning service-exec-start\n"
                   "warning service-exec-stop\n"
                   "warning service-working-directory\n");
  ck_assert_int_eq(errors, 2);
}
END_TEST

START_TEST(test_invalid_config_is_an_error)
{
  int errors = -1;
  g_autofree char *summary = NULL;

  tc_write(tmp, "config.json.template", "{\"root\": {\"path\": \"rootfs\", \"readonly\": false}}");
  tc_write(tmp, "service.template", good_service);
  tc_write(tmp, "manifest.json", "{}");
  summary = lint_summary(tmp, &errors);
  ck_assert_str_eq(summary, "error render\n");
  tc_write(tmp, "manifest.json", "{\"defaultValues\": 3}");
  g_free(summary);
  summary = lint_summary(tmp, &errors);
  ck_assert_str_eq(summary, "error manifest-invalid\n");
}
END_TEST

START_TEST(test_plain_config_json_allowed)
{
  int errors = -1;
  g_autofree char *summary = NULL;

  tc_write(tmp,
           "config.json",
           "{\"process\": {\"terminal\": false, \"args\": [\"/x\"]}, \"root\": {\"path\": "
           "\"rootfs\", \"readonly\": true}}");
  tc_write(tmp, "service.template", good_service);
  tc_write(tmp, "manifest.json", "{}");
  summary = lint_summary(tmp, &errors);
  ck_assert_str_eq(summary, "");
}
END_TEST

START_TEST(test_dockerfile_checks)
{
  int errors = -1;
  g_autofree char *summary = NULL;

  tc_write(tmp, "config.json.template", good_config);
  tc_write(tmp, "service.template", good_service);
  tc_write(tmp, "tmpfiles.template", "d /run/$NAME - - - - -\n");
  tc_write(tmp, "manifest.json", "{}");
  tc_write(tmp,
           "Dockerfile",
           "FROM fedora\n"
           "# a comment with MAINTAINER in it\n"
           "MAINTAINER someone\n"
           "RUN dnf install -y \\\n    etcd\n"
           "COPY run.sh /export/\n"
           "ADD config.json.template /exports/\n"
           "COPY service.template /exports\n"
           "COPY manifest.json /exports/\n");
  summary = lint_summary(tmp, &errors);
  ck_assert_str_eq(summary,
                   "warning dockerfile-add\n"
                   "warning dockerfile-export-dir\n"
                   "warning dockerfile-exports-slash\n"
                   "warning dockerfile-maintainer\n"
                   "warning dockerfile-nodocs\n"
                   "warning dockerfile-not-copied\n");
  ck_assert_int_eq(errors, 0);
}
END_TEST

START_TEST(test_missing_directory)
{
  char *json = NULL;
  sc_error *err = NULL;
  g_autofree char *missing = g_build_filename(tmp, "nope", NULL);

  tc_assert_error(sc_lint(ctx, missing, &json, NULL, NULL, &err), err, SC_ENOTFOUND, "nope");
  ck_assert_ptr_null(json);
}
END_TEST

/* atomic-system-containers' own lint results (reference/images.md §4.4),
 * where our checks and theirs coincide. */
/* The pre-1.0.0-rc5 array process.capabilities: a warning naming the file
 * (an install converts it), not an error; from a config.json too. */
START_TEST(test_capabilities_array_warning)
{
  static const char *const files[] = { "config.json.template", "config.json" };

  for (guint f = 0; f < G_N_ELEMENTS(files); f++) {
    int errors = -1, warnings = -1;
    char *json = NULL;
    sc_error *err = NULL;
    json_t *doc, *finding;
    g_autofree char *other = g_build_filename(tmp, files[1 - f], NULL);

    g_unlink(other);
    tc_write(tmp,
             files[f],
             "{\"process\": {\"terminal\": false, \"args\": [\"/x\"], \"capabilities\": "
             "[\"CAP_KILL\"]}, \"root\": {\"path\": \"rootfs\", \"readonly\": true}}");
    tc_write(tmp, "service.template", good_service);
    tc_write(tmp, "manifest.json", "{}");
    tc_assert_ok(sc_lint(ctx, tmp, &json, &errors, &warnings, &err), err);
    ck_assert_int_eq(errors, 0);
    ck_assert_int_eq(warnings, 1);
    doc = json_loads(json, 0, NULL);
    finding = json_array_get(json_object_get(doc, "findings"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(finding, "severity")), "warning");
    ck_assert_str_eq(json_string_value(json_object_get(finding, "check")), "capabilities-array");
    ck_assert_str_eq(json_string_value(json_object_get(finding, "file")), files[f]);
    ck_assert_str_eq(
      json_string_value(json_object_get(finding, "message")),
      "process.capabilities is an array, the form before runtime-spec 1.0.0-rc5 that runc 1.x "
      "cannot read: an install converts it to the same names in bounding, effective, "
      "inheritable and permitted; write that object form in the image");
    json_decref(doc);
    sc_free(json);
  }
}
END_TEST

START_TEST(test_corpus_matches_reference_linter)
{
  const char *corpus = g_getenv("SC_CORPUS");
  static const struct {
    const char *image, *summary;
  } expected[] = {
    { "etcd", "" },
    { "docker-centos", "" },
    { "flannel", "" },
    { "hello-world", "warning linux-capabilities\n" },
    { "kubernetes-kubelet", "" },
    { "docker-fedora", "warning mount-run-directory\n" },
    { "net-snmp", "warning mount-state-directory\n" },
    { "kubernetes-proxy", "warning manifest-missing\nwarning mount-run-directory\n" },
    { "kubeadm",
      "warning manifest-missing\nwarning mount-run-directory\n"
      "warning mount-state-directory\nwarning mount-state-directory\n" },
    { "buildah-fedora", "warning manifest-missing\nwarning service-missing\n" },
    { "kubernetes-apiserver", "warning manifest-missing\n" },
    { "qemu-guest-agent", "warning capabilities-array\nwarning manifest-missing\n" },
  };

  if (corpus == NULL || !g_file_test(corpus, G_FILE_TEST_IS_DIR))
    return; /* the corpus is optional; test-corpus reports the skip */
  for (guint i = 0; i < G_N_ELEMENTS(expected); i++) {
    g_autofree char *dir =
      g_build_filename(corpus, "atomic-system-containers", "images", expected[i].image, NULL);
    int errors = -1;
    g_autofree char *summary = lint_summary(dir, &errors);
    ck_assert_msg(strcmp(summary, expected[i].summary) == 0, "%s:\n%s", expected[i].image, summary);
  }
}
END_TEST

int
main(void)
{
  Suite *s = suite_create("lint");
  TCase *tc = tcase_create("lint");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_clean_image);
  tcase_add_test(tc, test_errors);
  tcase_add_test(tc, test_config_errors_and_warnings);
  tcase_add_test(tc, test_invalid_config_is_an_error);
  tcase_add_test(tc, test_plain_config_json_allowed);
  tcase_add_test(tc, test_dockerfile_checks);
  tcase_add_test(tc, test_missing_directory);
  tcase_add_test(tc, test_capabilities_array_warning);
  tcase_add_test(tc, test_corpus_matches_reference_linter);
  suite_add_tcase(s, tc);
  return tc_run(s);
}
