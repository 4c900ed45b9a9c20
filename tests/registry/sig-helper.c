/*
 * Drives the signature primitives of lib/source/signature.c for
 * test_signature.py (built with -Dtest_hooks=true only):
 *
 *   sig-helper check --type signedBy|sigstoreSigned|reject|insecureAcceptAnything
 *              [--key FILE]... [--identity TYPE[=ARG[,ARG2]]] [--scope S]
 *              --ref REF --manifest FILE [--digest D] [--lookaside URL]
 *              [--registry HOST --repo PATH [--attachments]]
 *   sig-helper payload FILE [sigstore]
 *   sig-helper identity RULE[=ARG[,ARG2]] INTENDED SIGNED
 *
 * check prints "signer: X" and exits 0 when the requirement holds, else
 * prints the error and exits 1; payload prints the digest and reference;
 * identity prints "match" or the reason.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "source/source.h"

#include <stdio.h>
#include <string.h>

static gboolean
parse_identity(const char *s, ScSignedIdentity *id, GError **error)
{
  g_auto(GStrv) kv = g_strsplit(s, "=", 2);
  g_auto(GStrv) args = g_strsplit(kv[1] ? kv[1] : "", ",", 2);
  static const char *names[] = { "matchRepoDigestOrExact", "matchRepository", "matchExact",
                                 "exactReference",         "exactRepository", "remapIdentity" };

  for (guint i = 0; i < G_N_ELEMENTS(names); i++)
    if (strcmp(kv[0], names[i]) == 0) {
      id->type = (ScIdentityType)i;
      id->reference = g_strdup(args[0]);
      id->repository = g_strdup(args[0]);
      id->prefix = g_strdup(args[0]);
      id->signed_prefix = args[0] ? g_strdup(args[1]) : NULL;
      return TRUE;
    }
  g_set_error(error, SC_ERROR, SC_EINVAL, "unknown identity %s", s);
  return FALSE;
}

static int
cmd_payload(int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *data = NULL, *digest = NULL, *ref = NULL;
  gsize len;
  g_autoptr(GBytes) b = NULL;

  if (argc < 3 || !g_file_get_contents(argv[2], &data, &len, &error)) {
    fprintf(stderr, "usage: sig-helper payload FILE [sigstore]\n");
    return 2;
  }
  b = g_bytes_new(data, len);
  if (!sc_signature_payload_parse(argv[2], b, argc > 3, &digest, &ref, &error)) {
    fprintf(stderr, "%s\n", error->message);
    return 1;
  }
  printf("digest: %s\nreference: %s\n", digest, ref);
  return 0;
}

static int
cmd_check(int argc, char **argv)
{
  g_autofree char *type = NULL, *identity = NULL, *scope = NULL, *ref = NULL;
  g_autofree char *manifest_file = NULL, *digest = NULL, *lookaside = NULL;
  g_autofree char *host = NULL, *repo = NULL, *signer = NULL, *mdata = NULL;
  g_auto(GStrv) key_files = NULL;
  gboolean attachments = FALSE;
  GOptionEntry entries[] = {
    { "type", 0, 0, G_OPTION_ARG_STRING, &type, NULL, NULL },
    { "key", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &key_files, NULL, NULL },
    { "identity", 0, 0, G_OPTION_ARG_STRING, &identity, NULL, NULL },
    { "scope", 0, 0, G_OPTION_ARG_STRING, &scope, NULL, NULL },
    { "ref", 0, 0, G_OPTION_ARG_STRING, &ref, NULL, NULL },
    { "manifest", 0, 0, G_OPTION_ARG_FILENAME, &manifest_file, NULL, NULL },
    { "digest", 0, 0, G_OPTION_ARG_STRING, &digest, NULL, NULL },
    { "lookaside", 0, 0, G_OPTION_ARG_STRING, &lookaside, NULL, NULL },
    { "registry", 0, 0, G_OPTION_ARG_STRING, &host, NULL, NULL },
    { "repo", 0, 0, G_OPTION_ARG_STRING, &repo, NULL, NULL },
    { "attachments", 0, 0, G_OPTION_ARG_NONE, &attachments, NULL, NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(ScRegistry) reg = NULL;
  g_autoptr(GBytes) manifest = NULL;
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
  ScPolicyRequirement req = { 0 };
  ScSignatureSources src = { 0 };
  gsize len;
  gboolean ok;

  g_option_context_add_main_entries(ctx, entries, NULL);
  if (!g_option_context_parse(ctx, &argc, &argv, &error) || !type || !ref || !manifest_file ||
      !g_file_get_contents(manifest_file, &mdata, &len, &error)) {
    fprintf(stderr, "usage: %s\n", error ? error->message : "missing options");
    return 2;
  }
  manifest = g_bytes_new(mdata, len);
  if (digest == NULL) {
    g_autofree char *hex = sc_sha256_hex(mdata, len);
    digest = g_strconcat("sha256:", hex, NULL);
  }
  for (char **k = key_files; k && *k; k++) {
    g_autofree char *kd = NULL;
    gsize klen;
    if (!g_file_get_contents(*k, &kd, &klen, &error)) {
      fprintf(stderr, "%s\n", error->message);
      return 2;
    }
    g_ptr_array_add(keys, g_bytes_new(kd, klen));
  }
  req.type = strcmp(type, "signedBy") == 0         ? SC_REQ_SIGNED_BY
             : strcmp(type, "sigstoreSigned") == 0 ? SC_REQ_SIGSTORE_SIGNED
             : strcmp(type, "reject") == 0         ? SC_REQ_REJECT
                                                   : SC_REQ_INSECURE_ACCEPT;
  req.keys = keys;
  req.scope = scope;
  if (identity && !parse_identity(identity, &req.identity, &error)) {
    fprintf(stderr, "%s\n", error->message);
    return 2;
  }
  if (host) {
    reg = sc_registry_new(host, NULL, NULL, FALSE, NULL, 1, &error);
    if (reg == NULL || !sc_registry_ping(reg, &error)) {
      fprintf(stderr, "%s\n", error->message);
      return 1;
    }
  }
  src.lookaside = g_strdup(lookaside);
  src.use_sigstore_attachments = attachments;
  src.registry = reg;
  src.repo = g_strdup(repo ? repo : "");
  src.tls_verify = TRUE;
  ok = sc_signature_check(&req, ref, manifest, digest, &src, &signer, &error);
  sc_signature_sources_clear(&src);
  g_free(req.identity.reference);
  g_free(req.identity.repository);
  g_free(req.identity.prefix);
  g_free(req.identity.signed_prefix);
  if (!ok) {
    fprintf(stderr, "%s\n", error->message);
    return 1;
  }
  printf("signer: %s\n", signer ? signer : "");
  return 0;
}

static int
cmd_identity(int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  ScSignedIdentity id = { 0 };
  gboolean ok;

  if (argc != 5 || !parse_identity(argv[2], &id, &error)) {
    fprintf(stderr, "usage: sig-helper identity RULE INTENDED SIGNED\n");
    return 2;
  }
  ok = sc_signature_identity_match(&id, argv[3], argv[4], &error);
  g_free(id.reference);
  g_free(id.repository);
  g_free(id.prefix);
  g_free(id.signed_prefix);
  if (!ok) {
    fprintf(stderr, "%s\n", error->message);
    return 1;
  }
  printf("match\n");
  return 0;
}

int
main(int argc, char **argv)
{
  if (argc > 1 && strcmp(argv[1], "identity") == 0)
    return cmd_identity(argc, argv);
  if (argc > 1 && strcmp(argv[1], "payload") == 0)
    return cmd_payload(argc, argv);
  if (argc > 1 && strcmp(argv[1], "check") == 0)
    return cmd_check(argc - 1, argv + 1);
  fprintf(stderr, "usage: sig-helper check|payload ...\n");
  return 2;
}
