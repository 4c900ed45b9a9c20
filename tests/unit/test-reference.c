/*
 * Internal parsers of the registry client: image references (as
 * containers/image normalizes them, without network), the OSTree ref
 * encoding atomic and skopeo used, and WWW-Authenticate challenges.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include "sc-private.h"

static const struct {
  const char *in, *out;
} good[] = {
    {"busybox", "docker.io/library/busybox:latest"},
    {"busybox:1.36", "docker.io/library/busybox:1.36"},
    {"library/busybox", "docker.io/library/busybox:latest"},
    {"docker.io/busybox", "docker.io/library/busybox:latest"},
    {"index.docker.io/busybox", "docker.io/library/busybox:latest"},
    {"index.docker.io/user/app:1", "docker.io/user/app:1"},
    {"user/app", "docker.io/user/app:latest"},
    {"quay.io/coreos/etcd:v3.5", "quay.io/coreos/etcd:v3.5"},
    {"localhost/app", "localhost/app:latest"},
    {"localhost:5000/a/b/c:t", "localhost:5000/a/b/c:t"},
    {"127.0.0.1:5000/hello", "127.0.0.1:5000/hello:latest"},
    {"[::1]:5000/hello", "[::1]:5000/hello:latest"},
    {"My-Registry.example.com/a", "My-Registry.example.com/a:latest"},
    {"registry.example/x__y.z-w:1",  "registry.example/x__y.z-w:1"},
    {"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
     "docker.io/library/busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
    {"q.io/a:t@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
     "q.io/a:t@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
};

START_TEST(test_normalize)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = sc_reference_normalize(good[_i].in, &error);

  ck_assert_msg(out != NULL, "%s: %s", good[_i].in, error ? error->message : "");
  ck_assert_str_eq(out, good[_i].out);
}
END_TEST

static const struct {
  const char *in, *message;
} bad[] = {
    {"", "image reference is empty"},
    {"Busybox", "'Busybox' is not a valid repository name component"},
    {"quay.io/a//b", "'' is not a valid repository name component"},
    {"a:-tag", "tag '-tag' is not valid"},
    {"a@sha256:abc", "expected sha256: and 64 lowercase hexadecimal digits"},
    {"a@md5:0123", "only sha256 digests are supported"},
    {"x/a-", "'a-' is not a valid repository name component"},
    /* a registry is a host name (or [IPv6]) and a port: nothing else, and
     * what is shown of it is escaped */
    {"x.y\033[2J\n/evil:1", "'x.y\\x1b[2J\\x0a' is not a valid registry"},
    {"a b.c/x:1", "'a b.c' is not a valid registry"},
    {"-x.io/a", "'-x.io' is not a valid registry"},
    {"x.io:/a", "'x.io:' is not a valid registry"},
    {"x.io:123456/a", "'x.io:123456' is not a valid registry"},
    {"[zz]:5000/a", "'[zz]:5000' is not a valid registry"},
    {"quay.io/A\nB", "'A\\x0aB' is not a valid repository name component"},
};

START_TEST(test_refuse)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = sc_reference_normalize(bad[_i].in, &error);

  ck_assert_ptr_null(out);
  ck_assert_msg(strstr(error->message, bad[_i].message) != NULL, "%s: %s", bad[_i].in,
                error->message);
}
END_TEST

START_TEST(test_ref_encoding)
{
  /* atomic's tests: busybox -> busybox_3Alatest */
  g_autofree char *a = sc_ref_encode("busybox:latest");
  g_autofree char *b = sc_ref_encode("docker.io/library/my_app:1");
  g_autofree char *c = sc_ref_decode("docker.io_2Flibrary_2Fmy_5Fapp_3A1");
  g_autofree char *d = sc_ref_decode("bad_ZZ_2");

  ck_assert_str_eq(a, "busybox_3Alatest");
  ck_assert_str_eq(b, "docker.io_2Flibrary_2Fmy_5Fapp_3A1");
  ck_assert_str_eq(c, "docker.io/library/my_app:1");
  ck_assert_str_eq(d, "bad_ZZ_2");
  ck_assert(sc_ref_is_blob("ociimage/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
  ck_assert(!sc_ref_is_blob("ociimage/busybox_3Alatest"));
}
END_TEST

START_TEST(test_www_authenticate)
{
  char *scheme = NULL;
  GHashTable *params = NULL;

  ck_assert(sc_parse_www_authenticate(
      "Bearer realm=\"https://auth.example/token\",service=\"registry.example\","
      "scope=\"repository:a/b:pull,push\",error=\"insufficient_scope\"",
      &scheme, &params));
  ck_assert_str_eq(scheme, "bearer");
  ck_assert_str_eq(g_hash_table_lookup(params, "realm"), "https://auth.example/token");
  ck_assert_str_eq(g_hash_table_lookup(params, "scope"), "repository:a/b:pull,push");
  ck_assert_str_eq(g_hash_table_lookup(params, "error"), "insufficient_scope");
  g_free(scheme);
  g_hash_table_unref(params);

  ck_assert(sc_parse_www_authenticate("Basic realm=test", &scheme, &params));
  ck_assert_str_eq(scheme, "basic");
  ck_assert_str_eq(g_hash_table_lookup(params, "realm"), "test");
  g_free(scheme);
  g_hash_table_unref(params);

  /* quoted escapes; a second challenge after the first is not merged */
  ck_assert(sc_parse_www_authenticate("Bearer realm=\"a\\\"b\", Basic realm=x", &scheme, &params));
  ck_assert_str_eq(g_hash_table_lookup(params, "realm"), "a\"b");
  ck_assert_uint_eq(g_hash_table_size(params), 1);
  g_free(scheme);
  g_hash_table_unref(params);

  ck_assert(!sc_parse_www_authenticate("", &scheme, &params));
  ck_assert(!sc_parse_www_authenticate("   ", &scheme, &params));
}
END_TEST

int
main(void)
{
  Suite *s = suite_create("reference");
  TCase *tc = tcase_create("reference");

  tcase_add_loop_test(tc, test_normalize, 0, G_N_ELEMENTS(good));
  tcase_add_loop_test(tc, test_refuse, 0, G_N_ELEMENTS(bad));
  tcase_add_test(tc, test_ref_encoding);
  tcase_add_test(tc, test_www_authenticate);
  suite_add_tcase(s, tc);
  return tc_run(s);
}
