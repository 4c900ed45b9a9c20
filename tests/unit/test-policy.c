/*
 * The signature policy (containers-policy.json(5)) and registries.d:
 * strict parsing with the file and position or JSON path in each error,
 * the scope order containers/image uses, key files read from the right
 * root, registries.d's most specific match and duplicate scopes.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include <fcntl.h>
#include <unistd.h>

#include "sc-private.h"

#define F "/etc/containers/policy.json"
#define ACCEPT "[{\"type\":\"insecureAcceptAnything\"}]"
#define REJECT "[{\"type\":\"reject\"}]"

static const struct {
  const char *text, *error;
} bad[] = {
  { "", F ":1:0: '[' or '{' expected near end of file" },
  { "{\"default\": " ACCEPT ",}", F ":1:49: string or '}' expected near '}'" },
  { "[]", F ": the policy must be a JSON object" },
  { "{}", F ": \"default\" is missing (the policy for images no scope matches)" },
  { "{\"default\": " ACCEPT ", \"default\": " ACCEPT "}",
    F ":1:58: duplicate object key near '\"default\"'" },
  { "{\"default\": " ACCEPT ", \"other\": 1}", F ": unknown key \"other\"" },
  { "{\"default\": []}", F ": default: must be a non-empty list of requirements" },
  { "{\"default\": {}}", F ": default: must be a non-empty list of requirements" },
  { "{\"default\": [{}]}", F ": default[0]: \"type\" is missing" },
  { "{\"default\": [1]}", F ": default[0]: a requirement must be an object" },
  { "{\"default\": [{\"type\": 1}]}", F ": default[0]: \"type\" must be a string" },
  { "{\"default\": [{\"type\": \"signedby\"}]}",
    F ": default[0]: unknown requirement type \"signedby\"" },
  { "{\"default\": [{\"type\": \"reject\", \"keyPath\": \"/k\"}]}",
    F ": default[0]: unknown key \"keyPath\"" },
  { "{\"default\": " ACCEPT ", \"transports\": []}",
    F ": transports: must be an object of transports" },
  { "{\"default\": " ACCEPT ", \"transports\": {\"docker\": []}}",
    F ": transports.docker: must be an object of scopes" },
  { "{\"default\": " ACCEPT
    ", \"transports\": {\"docker\": {\"quay.io/x\": [{\"type\": \"signedby\"}]}}}",
    F ": transports.docker[\"quay.io/x\"][0]: unknown requirement type \"signedby\"" },
  { "{\"default\": " ACCEPT ", \"transports\": {\"docker\": {\"quay.io/x\": []}}}",
    F ": transports.docker[\"quay.io/x\"]: must be a non-empty list of requirements" },
  /* signedBy: keyType, exactly one of the key fields */
  { "{\"default\": [{\"type\": \"signedBy\", \"keyPath\": \"/k\"}]}",
    F ": default[0]: \"keyType\" is missing" },
  { "{\"default\": [{\"type\": \"signedBy\", \"keyType\": \"X509Certificates\", \"keyPath\": "
    "\"/k\"}]}",
    F ": default[0]: keyType \"X509Certificates\" is not supported (only GPGKeys)" },
  { "{\"default\": [{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\"}]}",
    F ": default[0]: exactly one of keyPath, keyPaths and keyData must be set" },
  { "{\"default\": [{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyPath\": \"/k\", "
    "\"keyData\": \"AA==\"}]}",
    F ": default[0]: exactly one of keyPath, keyPaths and keyData must be set" },
  { "{\"default\": [{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyPath\": \"/k\", "
    "\"keyPaths\": [\"/k\"]}]}",
    F ": default[0]: exactly one of keyPath, keyPaths and keyData must be set" },
  { "{\"default\": [{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyPaths\": []}]}",
    F ": default[0]: keyPaths must be a non-empty list of strings" },
  { "{\"default\": [{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyPaths\": [\"/k\", "
    "3]}]}",
    F ": default[0]: keyPaths must be a non-empty list of strings" },
  { "{\"default\": [{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyData\": \"not "
    "base64!\"}]}",
    F ": default[0]: keyData must be a base64 string" },
  { "{\"default\": [{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyData\": \"AAA\"}]}",
    F ": default[0]: keyData must be a base64 string" },
  { "{\"default\": [{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyPath\": \"\"}]}",
    F ": default[0]: keyPath must be a non-empty string" },
  /* sigstoreSigned: no keyType, no keyPaths (containers/image 5.22) */
  { "{\"default\": [{\"type\": \"sigstoreSigned\", \"keyType\": \"GPGKeys\", \"keyPath\": "
    "\"/k\"}]}",
    F ": default[0]: unknown key \"keyType\"" },
  { "{\"default\": [{\"type\": \"sigstoreSigned\", \"keyPaths\": [\"/k\"]}]}",
    F ": default[0]: unknown key \"keyPaths\"" },
  { "{\"default\": [{\"type\": \"sigstoreSigned\"}]}",
    F ": default[0]: exactly one of keyPath and keyData must be set" },
  /* signedIdentity */
  { "{\"default\": [{\"type\": \"sigstoreSigned\", \"keyData\": \"AA==\", \"signedIdentity\": "
    "[]}]}",
    F ": default[0].signedIdentity: must be an object" },
  { "{\"default\": [{\"type\": \"sigstoreSigned\", \"keyData\": \"AA==\", \"signedIdentity\": "
    "{\"type\": \"matchAll\"}}]}",
    F ": default[0].signedIdentity: unknown signedIdentity type \"matchAll\"" },
  { "{\"default\": [{\"type\": \"sigstoreSigned\", \"keyData\": \"AA==\", \"signedIdentity\": "
    "{\"type\": \"matchExact\", \"dockerReference\": \"a:b\"}}]}",
    F ": default[0].signedIdentity: unknown key \"dockerReference\"" },
  { "{\"default\": [{\"type\": \"sigstoreSigned\", \"keyData\": \"AA==\", \"signedIdentity\": "
    "{\"type\": \"exactReference\"}}]}",
    F ": default[0].signedIdentity: \"dockerReference\" is missing" },
  { "{\"default\": [{\"type\": \"sigstoreSigned\", \"keyData\": \"AA==\", \"signedIdentity\": "
    "{\"type\": \"exactReference\", \"dockerReference\": \"quay.io/x\"}}]}",
    F ": default[0].signedIdentity: dockerReference \"quay.io/x\" is not a docker reference with a "
      "tag or a digest" },
  { "{\"default\": [{\"type\": \"sigstoreSigned\", \"keyData\": \"AA==\", \"signedIdentity\": "
    "{\"type\": \"exactRepository\", \"dockerRepository\": \"quay.io/x:1\"}}]}",
    F ": default[0].signedIdentity: dockerRepository \"quay.io/x:1\" is not a repository name" },
  { "{\"default\": [{\"type\": \"sigstoreSigned\", \"keyData\": \"AA==\", \"signedIdentity\": "
    "{\"type\": \"remapIdentity\", \"prefix\": \"quay.io/x\"}}]}",
    F ": default[0].signedIdentity: \"signedPrefix\" is missing" },
  { "{\"default\": [{\"type\": \"sigstoreSigned\", \"keyData\": \"AA==\", \"signedIdentity\": "
    "{\"type\": \"remapIdentity\", \"prefix\": \"quay.io/-x\", \"signedPrefix\": \"quay.io/x\"}}]}",
    F ": default[0].signedIdentity: prefix \"quay.io/-x\" is not a host[:port], namespace or "
      "repository in its fully expanded form" },
  { "{\"default\": [{\"type\": \"sigstoreSigned\", \"keyData\": \"AA==\", \"signedIdentity\": "
    "{\"type\": \"remapIdentity\", \"prefix\": \"quay.io/x:1\", \"signedPrefix\": "
    "\"quay.io/x\"}}]}",
    F ": default[0].signedIdentity: prefix \"quay.io/x:1\" is not a host[:port], namespace or "
      "repository in its fully expanded form" },
  /* scopes: oci paths, the transports without scopes */
  { "{\"default\": " ACCEPT ", \"transports\": {\"oci\": {\"relative/dir\": " ACCEPT "}}}",
    F ": transports.oci[\"relative/dir\"]: invalid scope: must be an absolute path" },
  { "{\"default\": " ACCEPT ", \"transports\": {\"oci\": {\"/\": " ACCEPT "}}}",
    F ": transports.oci[\"/\"]: invalid scope: \"/\" is not a scope: use the transport's default "
      "scope \"\"" },
  { "{\"default\": " ACCEPT ", \"transports\": {\"oci-archive\": {\"/a/../b\": " ACCEPT "}}}",
    F ": transports.oci-archive[\"/a/../b\"]: invalid scope: not a canonical path (/b?)" },
  { "{\"default\": " ACCEPT ", \"transports\": {\"docker-archive\": {\"/a\": " ACCEPT "}}}",
    F ": transports.docker-archive[\"/a\"]: invalid scope: docker-archive: takes no scope but the "
      "default \"\"" },
  { "{\"default\": " ACCEPT ", \"transports\": {\"docker\": {\"*.\": " ACCEPT "}}}",
    F ": transports.docker[\"*.\"]: invalid scope: not a docker reference, repository, namespace, "
      "host or *.domain" },
  /* a transport we do not know: not looked up, but its requirements
   * are parsed as strictly */
  { "{\"default\": " ACCEPT ", \"transports\": {\"atomic\": {\"x\": [{\"type\": \"nope\"}]}}}",
    F ": transports.atomic[\"x\"][0]: unknown requirement type \"nope\"" },
  /* what the file says is escaped in messages */
  { "{\"default\": [{\"type\": \"a\\u001bb\"}]}",
    F ": default[0]: unknown requirement type \"a\\x1bb\"" },
};

START_TEST(test_refuse)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ScPolicy) p = sc_policy_parse(F, bad[_i].text, strlen(bad[_i].text), -1, &error);

  ck_assert_msg(p == NULL, "accepted: %s", bad[_i].text);
  ck_assert_int_eq(error->code, SC_EINVAL);
  ck_assert_str_eq(error->message, bad[_i].error);
}
END_TEST

/* Each scope names itself (its requirement is reject, with the scope in
 * .scope), so what applies is seen in the scope label. */
static const char policy_text[] =
  "{\"default\": " ACCEPT ",\n"
  " \"transports\": {\n"
  "  \"docker\": {\n"
  "   \"\": " REJECT ",\n"
  "   \"reg.example.com:5000/ns/app:1\": " REJECT ",\n"
  "   "
  "\"reg.example.com:5000/ns/"
  "app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\": " REJECT ",\n"
  "   \"reg.example.com:5000/ns/app\": " REJECT ",\n"
  "   \"reg.example.com:5000/ns\": " REJECT ",\n"
  "   \"reg.example.com:5000\": " REJECT ",\n"
  "   \"*.example.com\": " REJECT ",\n"
  "   \"*.com\": " REJECT ",\n"
  "   \"docker.io/library/busybox\": " ACCEPT ",\n"
  "   \"docker.io\": " REJECT "\n"
  "  },\n"
  "  \"oci\": {\"/srv/images/a:v1\": " ACCEPT ", \"/srv/images\": " REJECT "},\n"
  "  \"oci-archive\": {\"/srv/a.tar\": " REJECT "},\n"
  "  \"docker-archive\": {\"\": " REJECT "},\n"
  "  \"someday\": {\"whatever\": " REJECT "}\n"
  " }}\n";

static const struct {
  const char *transport, *ref, *scope;
} lookups[] = {
  /* most specific first: the tag or digest, the repository, the
   * namespaces, the host[:port] */
  { "docker",
    "reg.example.com:5000/ns/app:1",
    "transports.docker[\"reg.example.com:5000/ns/app:1\"]" },
  { "docker",
    "reg.example.com:5000/ns/"
    "app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "transports.docker[\"reg.example.com:5000/ns/"
    "app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"]" },
  { "docker",
    "reg.example.com:5000/ns/app:2",
    "transports.docker[\"reg.example.com:5000/ns/app\"]" },
  { "docker", "reg.example.com:5000/ns/other:1", "transports.docker[\"reg.example.com:5000/ns\"]" },
  { "docker", "reg.example.com:5000/ns2/app:1", "transports.docker[\"reg.example.com:5000\"]" },
  /* the wildcards: the port is not part of the host they match; the
   * nearest parent domain first */
  { "docker", "reg.example.com/ns/app:1", "transports.docker[\"*.example.com\"]" },
  { "docker", "reg.example.com:6000/x:1", "transports.docker[\"*.example.com\"]" },
  { "docker", "a.b.example.com/x:1", "transports.docker[\"*.example.com\"]" },
  { "docker", "other.com/x:1", "transports.docker[\"*.com\"]" },
  /* "*.example.com" does not match example.com itself */
  { "docker", "example.com/x:1", "transports.docker[\"*.com\"]" },
  /* a prefix that is not a whole component does not match */
  { "docker", "reg.example.org/ns/app:1", "transports.docker[\"\"]" },
  /* short names are looked up in their expanded form */
  { "docker", "busybox:latest", "transports.docker[\"docker.io/library/busybox\"]" },
  /* Docker Hub's legacy name is Docker Hub (its scopes were a way around
   * a docker.io one) */
  { "docker",
    "index.docker.io/library/busybox:1",
    "transports.docker[\"docker.io/library/busybox\"]" },
  { "docker", "index.docker.io/someone/app:1", "transports.docker[\"docker.io\"]" },
  { "docker", "localhost:5000/x:1", "transports.docker[\"\"]" },
  /* oci: the path and its parents (a PATH:IMAGE scope never matches:
   * the image's name is not part of the identity, as skopeo 1.9 has it) */
  { "oci", "/srv/images/a", "transports.oci[\"/srv/images\"]" },
  { "oci", "/srv/images/a/b", "transports.oci[\"/srv/images\"]" },
  { "oci", "/srv/imagesx", "default" },
  { "oci-archive", "/srv/a.tar", "transports.oci-archive[\"/srv/a.tar\"]" },
  { "oci-archive", "/srv/b.tar", "default" },
  { "docker-archive", "", "transports.docker-archive[\"\"]" },
  /* no entry for the transport: default */
  { "docker-daemon", "", "default" },
  { "someday", "whatever", "default" },
};

START_TEST(test_scope_order)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ScPolicy) p = sc_policy_parse(F, policy_text, strlen(policy_text), -1, &error);
  g_autoptr(GPtrArray) reqs = NULL;
  const char *scope = NULL;

  ck_assert_msg(p != NULL, "%s", error ? error->message : "");
  reqs = sc_policy_requirements_for(p, lookups[_i].transport, lookups[_i].ref, &scope);
  ck_assert_msg(strcmp(scope, lookups[_i].scope) == 0,
                "%s %s: %s, expected %s",
                lookups[_i].transport,
                lookups[_i].ref,
                scope,
                lookups[_i].scope);
  ck_assert_uint_eq(reqs->len, 1);
  ck_assert_str_eq(((ScPolicyRequirement *)reqs->pdata[0])->scope, scope);
}
END_TEST

START_TEST(test_requirements)
{
  static const char text[] =
    "{\"default\": [{\"type\": \"reject\"}], \"transports\": {\"docker\": {\"quay.io/x\": [\n"
    " {\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyData\": \"aGVsbG8=\"},\n"
    " {\"type\": \"sigstoreSigned\", \"keyData\": \"AAEC\", \"signedIdentity\":\n"
    "   {\"type\": \"remapIdentity\", \"prefix\": \"quay.io/x\", \"signedPrefix\": "
    "\"docker.io/y\"}},\n"
    " {\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyData\": \"aGVsbG8=\", "
    "\"signedIdentity\":\n"
    "   {\"type\": \"exactReference\", \"dockerReference\": \"busybox:1\"}},\n"
    " {\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyData\": \"aGVsbG8=\", "
    "\"signedIdentity\":\n"
    "   {\"type\": \"exactRepository\", \"dockerRepository\": \"busybox\"}},\n"
    " {\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyData\": \"aGVsbG8=\", "
    "\"signedIdentity\":\n"
    "   {\"type\": \"matchRepository\"}}]}}}";
  g_autoptr(GError) error = NULL;
  g_autoptr(ScPolicy) p = sc_policy_parse(F, text, strlen(text), -1, &error);
  g_autoptr(GPtrArray) reqs = NULL;
  const ScPolicyRequirement *r;
  const char *scope;

  ck_assert_msg(p != NULL, "%s", error ? error->message : "");
  reqs = sc_policy_requirements_for(p, "docker", "quay.io/x/y:1", &scope);
  ck_assert_str_eq(scope, "transports.docker[\"quay.io/x\"]");
  ck_assert_uint_eq(reqs->len, 5);
  r = reqs->pdata[0];
  ck_assert_int_eq(r->type, SC_REQ_SIGNED_BY);
  ck_assert_int_eq(r->identity.type, SC_ID_MATCH_REPO_DIGEST_OR_EXACT);
  ck_assert_uint_eq(r->keys->len, 1);
  ck_assert_uint_eq(g_bytes_get_size(r->keys->pdata[0]), 5);
  ck_assert(memcmp(g_bytes_get_data(r->keys->pdata[0], NULL), "hello", 5) == 0);
  r = reqs->pdata[1];
  ck_assert_int_eq(r->type, SC_REQ_SIGSTORE_SIGNED);
  ck_assert_int_eq(r->identity.type, SC_ID_REMAP_IDENTITY);
  ck_assert_str_eq(r->identity.prefix, "quay.io/x");
  ck_assert_str_eq(r->identity.signed_prefix, "docker.io/y");
  ck_assert_uint_eq(g_bytes_get_size(r->keys->pdata[0]), 3);
  r = reqs->pdata[2];
  ck_assert_int_eq(r->identity.type, SC_ID_EXACT_REFERENCE);
  ck_assert_str_eq(r->identity.reference, "docker.io/library/busybox:1");
  r = reqs->pdata[3];
  ck_assert_int_eq(r->identity.type, SC_ID_EXACT_REPOSITORY);
  ck_assert_str_eq(r->identity.repository, "docker.io/library/busybox");
  r = reqs->pdata[4];
  ck_assert_int_eq(r->identity.type, SC_ID_MATCH_REPOSITORY);
  g_ptr_array_unref(g_steal_pointer(&reqs));
  reqs = sc_policy_requirements_for(p, "docker", "quay.io/xy:1", &scope);
  ck_assert_str_eq(scope, "default");
  ck_assert_int_eq(((ScPolicyRequirement *)reqs->pdata[0])->type, SC_REQ_REJECT);
}
END_TEST

/* keyData as Go's encoding/base64 reads it: line breaks skipped (a key
 * pasted from `base64`, wrapped at 76 columns), anything else refused. */
START_TEST(test_keydata_line_breaks)
{
  static const char text[] = "{\"default\": [{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", "
                             "\"keyData\": \"aGVs\\nbG8g\\r\\nd29y\\nbGQ=\\n\"}]}";
  static const char spaced[] = "{\"default\": [{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", "
                               "\"keyData\": \"aGVs bG8=\"}]}";
  static const char tabbed[] = "{\"default\": [{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", "
                               "\"keyData\": \"aGVs\\tbG8=\"}]}";
  static const char only_breaks[] =
    "{\"default\": [{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", "
    "\"keyData\": \"\\n\\n\"}]}";
  g_autoptr(GError) error = NULL;
  g_autoptr(ScPolicy) p = sc_policy_parse(F, text, strlen(text), -1, &error);
  g_autoptr(GPtrArray) reqs = NULL;
  const ScPolicyRequirement *r;

  ck_assert_msg(p != NULL, "%s", error ? error->message : "");
  reqs = sc_policy_requirements_for(p, "docker", "quay.io/x/y:1", NULL);
  r = reqs->pdata[0];
  ck_assert_uint_eq(g_bytes_get_size(r->keys->pdata[0]), 11);
  ck_assert(memcmp(g_bytes_get_data(r->keys->pdata[0], NULL), "hello world", 11) == 0);
  for (guint i = 0; i < 3; i++) {
    const char *t = i == 0 ? spaced : i == 1 ? tabbed : only_breaks;
    g_autoptr(GError) e = NULL;
    g_autoptr(ScPolicy) q = sc_policy_parse(F, t, strlen(t), -1, &e);
    ck_assert(q == NULL);
    ck_assert_str_eq(e->message, F ": default[0]: keyData must be a base64 string");
  }
}
END_TEST

static char *
write_tmp(const char *dir, const char *name, const char *text)
{
  char *path = g_build_filename(dir, name, NULL);
  g_autofree char *parent = g_path_get_dirname(path);
  g_mkdir_with_parents(parent, 0755);
  ck_assert(g_file_set_contents(path, text, -1, NULL));
  return path;
}

/* keyPaths naming one 1 MiB file 17 times: 17 MiB held in memory (a 4 MiB
 * policy could name it 200000 times); the key files of a policy are at
 * most SC_POLICY_KEYS_MAX together. */
START_TEST(test_key_bytes_bounded)
{
  g_autofree char *tmp = g_dir_make_tmp("sc-policy-XXXXXX", NULL);
  g_autofree char *key = g_build_filename(tmp, "big.key", NULL);
  g_autofree char *big = g_malloc0(SC_POLICY_KEY_MAX);
  g_autoptr(GString) text = g_string_new(
    "{\"default\": [{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyPaths\": [");
  g_autoptr(GError) error = NULL;
  g_autoptr(ScPolicy) p = NULL;
  g_autofree char *want = NULL;

  ck_assert(g_file_set_contents(key, big, SC_POLICY_KEY_MAX, NULL));
  for (int i = 0; i < 16; i++)
    g_string_append_printf(text, "\"%s\", ", key);
  g_string_append_printf(text, "\"%s\"]}]}", key);
  p = sc_policy_parse(F, text->str, text->len, AT_FDCWD, &error);
  ck_assert(p == NULL);
  want = g_strdup_printf(F ": default[0]: key file %s: the policy's key files are more than "
                           "16777216 bytes together",
                         key);
  ck_assert_str_eq(error->message, want);
  /* 16 of them: read */
  g_clear_error(&error);
  g_string_truncate(text, text->len - strlen(key) - 8);
  g_string_append(text, "]}]}");
  p = sc_policy_parse(F, text->str, text->len, AT_FDCWD, &error);
  ck_assert_msg(p != NULL, "%s", error ? error->message : "");
  sc_rm_rf(tmp);
}
END_TEST

/* Key files: read at load, from the sysroot (confined) when the policy is
 * the sysroot's; a missing one names the file and the requirement. */
START_TEST(test_keys_and_location)
{
  g_autofree char *tmp = g_dir_make_tmp("sc-policy-XXXXXX", NULL);
  g_autofree char *root = g_build_filename(tmp, "root", NULL);
  g_autofree char *home = g_build_filename(tmp, "home", NULL);
  g_autofree char *f1 = NULL, *f2 = NULL, *f3 = NULL, *shown = NULL, *expected = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(ScPolicy) p = NULL;
  g_autoptr(GPtrArray) reqs = NULL;
  g_autofree char *in_root = NULL;
  const char *scope;

  g_mkdir_with_parents(root, 0755);
  g_setenv("HOME", home, TRUE);
  g_unsetenv("SC_SIGNATURE_POLICY");
  /* no file: refused, naming it */
  p = sc_policy_load(NULL, root, &error);
  ck_assert(p == NULL);
  ck_assert_int_eq(error->code, SC_ENOTFOUND);
  expected = g_strdup_printf("signature policy %s/etc/containers/policy.json: No such file or "
                             "directory (without a policy file no image is accepted)",
                             root);
  ck_assert_str_eq(error->message, expected);
  g_clear_error(&error);

  f1 = write_tmp(root,
                 "etc/containers/policy.json",
                 "{\"default\": [{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", "
                 "\"keyPaths\": [\"/etc/pki/a.gpg\", \"/etc/pki/b.gpg\"]}]}");
  f2 = write_tmp(root, "etc/pki/a.gpg", "KEY-A");
  /* b.gpg is a link out of the root: it resolves inside the root */
  {
    g_autofree char *b = g_build_filename(root, "etc/pki/b.gpg", NULL);
    ck_assert_int_eq(symlink("/../../../etc/pki/a.gpg", b), 0);
  }
  p = sc_policy_load(NULL, root, &error);
  ck_assert_msg(p != NULL, "%s", error ? error->message : "");
  shown = sc_policy_location(NULL, root, &in_root);
  ck_assert_str_eq(in_root, "etc/containers/policy.json");
  ck_assert_str_eq(sc_policy_file(p), shown);
  reqs = sc_policy_requirements_for(p, "docker", "quay.io/x:1", &scope);
  ck_assert_uint_eq(((ScPolicyRequirement *)reqs->pdata[0])->keys->len, 2);
  ck_assert(g_bytes_get_size(((ScPolicyRequirement *)reqs->pdata[0])->keys->pdata[1]) == 5);
  g_clear_pointer(&p, sc_policy_free);

  /* a missing key: the requirement and the key named */
  unlink(f2);
  p = sc_policy_load(NULL, root, &error);
  ck_assert(p == NULL);
  g_free(expected);
  expected = g_strdup_printf("%s: default[0]: key file /etc/pki/a.gpg: No such file or "
                             "directory",
                             shown);
  ck_assert_str_eq(error->message, expected);
  g_clear_error(&error);

  /* the user's file comes first, then $SC_SIGNATURE_POLICY, then the
   * explicit one */
  f3 = write_tmp(home, ".config/containers/policy.json", "{\"default\": " REJECT "}");
  p = sc_policy_load(NULL, root, &error);
  ck_assert_msg(p != NULL, "%s", error ? error->message : "");
  ck_assert_str_eq(sc_policy_file(p), f3);
  g_clear_pointer(&p, sc_policy_free);
  g_setenv("SC_SIGNATURE_POLICY", "/nonexistent/p.json", TRUE);
  p = sc_policy_load(NULL, root, &error);
  ck_assert(p == NULL);
  ck_assert_str_eq(error->message,
                   "signature policy /nonexistent/p.json: No such file or "
                   "directory (without a policy file no image is accepted)");
  g_clear_error(&error);
  p = sc_policy_load(f3, NULL, &error);
  ck_assert_msg(p != NULL, "%s", error ? error->message : "");
  g_clear_pointer(&p, sc_policy_free);
  /* under a sysroot, an explicit file is a path in it (as the default):
   * the sysroot's copy of f3's path, which does not exist */
  p = sc_policy_load(f3, root, &error);
  ck_assert(p == NULL);
  g_free(expected);
  expected = g_strdup_printf("signature policy %s%s: No such file or directory (without a "
                             "policy file no image is accepted)",
                             root,
                             f3);
  ck_assert_str_eq(error->message, expected);
  g_clear_error(&error);
  g_unsetenv("SC_SIGNATURE_POLICY");
  sc_rm_rf(tmp);
}
END_TEST

START_TEST(test_registriesd)
{
  g_autoptr(ScRegistriesD) r = sc_registriesd_new();
  g_autoptr(GError) error = NULL;
  const char *url;
  gboolean attach;
  static const char a[] = "default-docker:\n  lookaside: https://default.example/sigs\n"
                          "docker:\n"
                          "  quay.io/ns:\n    sigstore: https://old.example/sigs\n"
                          "    use-sigstore-attachments: true\n"
                          "  quay.io/ns/app:\n    lookaside: file:///srv/sigs\n"
                          "    sigstore: https://ignored.example\n"
                          "    lookaside-staging: file:///staging\n"
                          "  '*.example.com':\n    lookaside: https://wild.example/sigs\n"
                          "unknown-key: [1, 2]\n";

  ck_assert_msg(
    sc_registriesd_parse(r, "/d/a.yaml", a, strlen(a), &error), "%s", error ? error->message : "");
  sc_registriesd_lookup(r, "quay.io/ns/app:1", &url, &attach);
  ck_assert_str_eq(url, "file:///srv/sigs");
  ck_assert(attach); /* from the namespace: the nearest that sets it */
  sc_registriesd_lookup(r, "quay.io/ns/other:1", &url, &attach);
  ck_assert_str_eq(url, "https://old.example/sigs");
  sc_registriesd_lookup(r, "reg.example.com:5000/x:1", &url, &attach);
  ck_assert_str_eq(url, "https://wild.example/sigs");
  ck_assert(!attach);
  sc_registriesd_lookup(r, "quay.io/nsx:1", &url, &attach);
  ck_assert_str_eq(url, "https://default.example/sigs");

  /* a scope defined again in another file: both named */
  ck_assert(!sc_registriesd_parse(
    r, "/d/b.yaml", "docker:\n  quay.io/ns:\n    lookaside: x\n", 38, &error));
  ck_assert_str_eq(
    error->message,
    "/d/b.yaml line 3: docker \"quay.io/ns\" is defined both in /d/a.yaml and /d/b.yaml");
  g_clear_error(&error);
  ck_assert(!sc_registriesd_parse(r, "/d/c.yaml", "default-docker: {}\n", 19, &error));
  ck_assert_str_eq(error->message,
                   "/d/c.yaml line 1: default-docker is defined both in /d/a.yaml and /d/c.yaml");
  g_clear_error(&error);
  ck_assert(!sc_registriesd_parse(r, "/d/e.yaml", "docker: [1]\n", 12, &error));
  ck_assert_str_eq(error->message, "/d/e.yaml line 1: docker: must be a mapping of scopes");
  g_clear_error(&error);
  ck_assert(
    !sc_registriesd_parse(r, "/d/f.yaml", "docker:\n  x.io:\n    lookaside: [1]\n", 34, &error));
  ck_assert_str_eq(error->message, "/d/f.yaml line 3: docker \"x.io\": lookaside must be a URL");
  g_clear_error(&error);
  ck_assert(!sc_registriesd_parse(
    r, "/d/g.yaml", "docker:\n  x.io:\n    use-sigstore-attachments: yes\n", 50, &error));
  ck_assert_str_eq(
    error->message,
    "/d/g.yaml line 3: docker \"x.io\": use-sigstore-attachments must be true or false");
  g_clear_error(&error);
  ck_assert(!sc_registriesd_parse(r, "/d/h.yaml", "docker: {x: [\n", 14, &error));
  ck_assert_str_eq(error->message, "/d/h.yaml line 2: did not find expected node content");
}
END_TEST

int
main(void)
{
  Suite *s = suite_create("policy");
  TCase *tc = tcase_create("policy");

  tcase_add_loop_test(tc, test_refuse, 0, G_N_ELEMENTS(bad));
  tcase_add_loop_test(tc, test_scope_order, 0, G_N_ELEMENTS(lookups));
  tcase_add_test(tc, test_requirements);
  tcase_add_test(tc, test_keydata_line_breaks);
  tcase_add_test(tc, test_key_bytes_bounded);
  tcase_add_test(tc, test_keys_and_location);
  tcase_add_test(tc, test_registriesd);
  suite_add_tcase(s, tc);
  return tc_run(s);
}
