/*
 * Image signatures: fetching them (a lookaside store over http(s):// or
 * file://, sigstore attachments in the registry) and verifying them against
 * one policy requirement, as containers/image does:
 *
 *   - simple signing ("atomic container signature"): an OpenPGP message
 *     verified with gpgme against a keyring that holds only the
 *     requirement's keys (a temporary GNUPGHOME, removed after: never the
 *     user's keyring);
 *   - sigstore ("cosign container image signature"): an ECDSA P-256/SHA-256
 *     signature of the payload by a PEM public key (GnuTLS);
 *
 * then the payload's manifest digest and docker-reference (the
 * signedIdentity rules of containers/image's policy_reference_match.go).
 * Everything fetched is hostile until verified: sizes and counts are
 * bounded (SC_SIG_MAX_BODY, SC_SIG_MAX_COUNT), network reads keep the
 * registry's deadlines, the payload parser accepts only the exact fields.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gpgme.h>
#include <string.h>
#include <unistd.h>

#define COSIGN_MEDIA "application/vnd.dev.cosign.simplesigning.v1+json"
#define COSIGN_ANNOTATION "dev.cosignproject.cosign/signature"
#define TYPE_SIMPLE "atomic container signature"
#define TYPE_SIGSTORE "cosign container image signature"

void
sc_signature_sources_clear(ScSignatureSources *src)
{
  g_clear_pointer(&src->lookaside, g_free);
  g_clear_pointer(&src->repo, g_free);
  src->registry = NULL;
}

void
sc_signature_free(ScSignature *sig)
{
  if (sig == NULL)
    return;
  g_clear_pointer(&sig->data, g_bytes_unref);
  g_free(sig->sigstore);
  g_free(sig->origin);
  g_free(sig);
}

static ScSignature *
signature_new(ScSigFormat format, GBytes *data, const char *sigstore, char *origin)
{
  ScSignature *sig = g_new0(ScSignature, 1);

  sig->format = format;
  sig->data = g_bytes_ref(data);
  sig->sigstore = g_strdup(sigstore);
  sig->origin = origin;
  return sig;
}

/* ---- fetching ---- */

/* One lookaside file: NULL without an error when it does not exist (the
 * end of the list). */
static GBytes *
lookaside_read_file(const char *path, const char *url, GError **error)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  GBytes *b;

  if (fd < 0) {
    if (errno == ENOENT)
      return NULL;
    g_set_error(error, SC_ERROR, SC_EIO, "signature %s: %s", url, g_strerror(errno));
    return NULL;
  }
  b = sc_read_fd_max(fd, url, SC_SIG_MAX_BODY, SC_EINVAL, error);
  close(fd);
  return b;
}

/* Signature @n's URL: the path of @uri (an http(s):// lookaside) gets
 * /<repo>@sha256=<hex>/signature-N and its query stays a query, as
 * containers/image sets url.Path (a lookaside behind a token in the query
 * works; the path appended to the text would have become part of the
 * query). file:// (@uri NULL): the text of @base. */
static char *
lookaside_url(GUri *uri, const char *base, gsize blen, const char *repo, const char *hex, guint n)
{
  g_autofree char *path = NULL;
  g_autoptr(GUri) u = NULL;
  gsize plen;

  if (uri == NULL)
    return g_strdup_printf("%.*s/%s@sha256=%s/signature-%u", (int)blen, base, repo, hex, n);
  plen = strlen(g_uri_get_path(uri));
  while (plen > 0 && g_uri_get_path(uri)[plen - 1] == '/')
    plen--;
  path =
    g_strdup_printf("%.*s/%s@sha256=%s/signature-%u", (int)plen, g_uri_get_path(uri), repo, hex, n);
  u = g_uri_build(G_URI_FLAGS_ENCODED,
                  g_uri_get_scheme(uri),
                  g_uri_get_userinfo(uri), /* (kept: then refused as it was) */
                  g_uri_get_host(uri),
                  g_uri_get_port(uri),
                  path,
                  g_uri_get_query(uri),
                  NULL);
  return g_uri_to_string(u);
}

/* <base>/<repo>@sha256=<hex>/signature-N for N = 1.. until one is missing
 * (containers/image's lookasideStorageURL). */
static gboolean
fetch_lookaside(ScSignatureSources *src, const char *hex, GPtrArray *out, GError **error)
{
  const char *base = src->lookaside;
  gboolean file = g_str_has_prefix(base, "file://");
  g_autoptr(ScRegistry) reg = NULL;
  g_autoptr(GUri) uri = NULL;
  gsize blen = strlen(base);

  while (blen > 0 && base[blen - 1] == '/')
    blen--;
  /* the repository becomes part of a path or URL: a parsed reference's
   * path only (no "..", no escapes) */
  if (src->repo == NULL || *src->repo == '\0' || *src->repo == '/' || strstr(src->repo, "..") ||
      src->repo[strspn(src->repo, "abcdefghijklmnopqrstuvwxyz0123456789._-/")]) {
    g_autofree char *shown = sc_display(src->repo ? src->repo : "", 200);
    g_set_error(error, SC_ERROR, SC_EINVAL, "lookaside: '%s' is not a repository path", shown);
    return FALSE;
  }
  if (!file) {
    g_autofree char *host = NULL;
    uri = g_uri_parse(base, G_URI_FLAGS_ENCODED, NULL);
    if (uri == NULL || g_uri_get_host(uri) == NULL ||
        (g_ascii_strcasecmp(g_uri_get_scheme(uri), "http") != 0 &&
         g_ascii_strcasecmp(g_uri_get_scheme(uri), "https") != 0)) {
      g_autofree char *shown = sc_display(base, 200);
      g_set_error(
        error, SC_ERROR, SC_EINVAL, "lookaside %s: not an http://, https:// or file:// URL", shown);
      return FALSE;
    }
    host = g_uri_get_port(uri) > 0
             ? g_strdup_printf("%s:%d", g_uri_get_host(uri), g_uri_get_port(uri))
             : g_strdup(g_uri_get_host(uri));
    reg = sc_registry_new(host, NULL, NULL, src->tls_verify, NULL, 1, error);
    if (reg == NULL)
      return FALSE;
  }
  for (guint n = 1;; n++) {
    g_autofree char *url = lookaside_url(uri, base, blen, src->repo, hex, n);
    g_autoptr(GError) local = NULL;
    g_autoptr(GBytes) body = NULL;

    if (file) {
      g_autofree char *path = g_filename_from_uri(url, NULL, NULL);
      if (path == NULL) {
        g_autofree char *shown = sc_display(url, 200);
        g_set_error(error, SC_ERROR, SC_EINVAL, "lookaside %s: not a valid file:// URL", shown);
        return FALSE;
      }
      body = lookaside_read_file(path, url, &local);
    } else {
      body = sc_registry_get_url(reg, url, SC_SIG_MAX_BODY, &local);
      if (body == NULL && g_error_matches(local, SC_ERROR, SC_ENOTFOUND))
        g_clear_error(&local);
    }
    if (local) {
      g_propagate_error(error, g_steal_pointer(&local));
      return FALSE;
    }
    if (body == NULL)
      return TRUE;
    if (n > SC_SIG_MAX_COUNT) {
      g_set_error(error,
                  SC_ERROR,
                  SC_EINVAL,
                  "lookaside %.*s: more than %d signatures of sha256:%s",
                  (int)blen,
                  base,
                  SC_SIG_MAX_COUNT,
                  hex);
      return FALSE;
    }
    g_ptr_array_add(out, signature_new(SC_SIG_SIMPLE, body, NULL, g_steal_pointer(&url)));
  }
}

/* A blob of the attachment, whole: at most SC_SIG_MAX_BODY bytes, its
 * digest checked. */
static GBytes *
fetch_blob(ScSignatureSources *src, const char *digest, json_int_t size, GError **error)
{
  g_autoptr(GInputStream) in = NULL;
  g_autoptr(GByteArray) buf = g_byte_array_new();
  g_autofree char *hex = NULL;
  const char *want;
  gsize got;

  if (!sc_content_digest_hex(digest, &want, error))
    return NULL;
  if (size < 0 || size > SC_SIG_MAX_BODY) {
    g_set_error(error,
                SC_ERROR,
                SC_EINVAL,
                "signature layer %s: %" JSON_INTEGER_FORMAT " bytes, more than the limit of %d",
                digest,
                size,
                SC_SIG_MAX_BODY);
    return NULL;
  }
  in = sc_registry_open_blob(src->registry, src->repo, digest, (guint64)size, error);
  if (in == NULL)
    return NULL;
  g_byte_array_set_size(buf, (guint)size);
  if (!g_input_stream_read_all(in, buf->data, (gsize)size, &got, NULL, error))
    return NULL;
  hex = sc_sha256_hex(buf->data, got);
  if (got != (gsize)size || strcmp(hex, want) != 0) {
    g_set_error(error,
                SC_ERROR,
                SC_EDIGEST,
                "signature layer %s: the registry sent %zu bytes of digest sha256:%s",
                digest,
                got,
                hex);
    return NULL;
  }
  return g_byte_array_free_to_bytes(g_steal_pointer(&buf));
}

/* The cosign attachment: the OCI manifest of tag sha256-<hex>.sig, whose
 * layers of COSIGN_MEDIA are payloads with the signature in the
 * COSIGN_ANNOTATION annotation (other layers are not signatures). */
static gboolean
fetch_attachments(ScSignatureSources *src, const char *hex, GPtrArray *out, GError **error)
{
  g_autofree char *tag = g_strdup_printf("sha256-%s.sig", hex);
  g_autofree char *label = g_strdup_printf("signature attachment %s:%s", src->repo, tag);
  g_autofree char *media = NULL;
  g_autoptr(GError) local = NULL;
  g_autoptr(GBytes) man = NULL;
  json_t *doc, *layers;
  gboolean ok = TRUE;
  guint count = 0;

  if (src->registry == NULL)
    return TRUE;
  man = sc_registry_get_manifest(src->registry, src->repo, tag, &media, &local);
  if (man == NULL) {
    if (g_error_matches(local, SC_ERROR, SC_ENOTFOUND))
      return TRUE;
    g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
  }
  doc = sc_json_load_bounded(label, g_bytes_get_data(man, NULL), g_bytes_get_size(man), error);
  if (doc == NULL)
    return FALSE;
  layers = json_object_get(doc, "layers");
  if (!json_is_array(layers)) {
    g_set_error(error, SC_ERROR, SC_EMANIFEST, "%s: no \"layers\" array", label);
    json_decref(doc);
    return FALSE;
  }
  for (size_t i = 0; ok && i < json_array_size(layers); i++) {
    json_t *l = json_array_get(layers, i);
    const char *mt = json_string_value(json_object_get(l, "mediaType"));
    const char *digest = json_string_value(json_object_get(l, "digest"));
    json_t *size = json_object_get(l, "size");
    const char *b64 =
      json_string_value(json_object_get(json_object_get(l, "annotations"), COSIGN_ANNOTATION));
    g_autoptr(GBytes) payload = NULL;

    if (g_strcmp0(mt, COSIGN_MEDIA) != 0)
      continue;
    if (++count > SC_SIG_MAX_COUNT) {
      g_set_error(
        error, SC_ERROR, SC_EINVAL, "%s: more than %d signatures", label, SC_SIG_MAX_COUNT);
      ok = FALSE;
    } else if (digest == NULL || !json_is_integer(size)) {
      g_set_error(error, SC_ERROR, SC_EMANIFEST, "%s: layer %zu has no digest or size", label, i);
      ok = FALSE;
    } else if ((payload = fetch_blob(src, digest, json_integer_value(size), error)) == NULL)
      ok = FALSE;
    else
      g_ptr_array_add(
        out,
        signature_new(SC_SIG_SIGSTORE, payload, b64, g_strdup_printf("%s layer %zu", label, i)));
  }
  json_decref(doc);
  return ok;
}

GPtrArray *
sc_signature_fetch(ScSignatureSources *src,
                   const char *manifest_digest,
                   ScSigFormat format,
                   GError **error)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)sc_signature_free);
  const char *hex;

  if (!sc_content_digest_hex(manifest_digest, &hex, error))
    return NULL;
  if (format == SC_SIG_SIMPLE && src->lookaside && !fetch_lookaside(src, hex, out, error))
    return NULL;
  if (format == SC_SIG_SIGSTORE && src->use_sigstore_attachments &&
      !fetch_attachments(src, hex, out, error))
    return NULL;
  return g_steal_pointer(&out);
}

/* ---- the payload ---- */

/* @obj holds exactly the keys of @keys (NULL-terminated), each once:
 * containers/image's paranoidUnmarshalJSONObject. */
static gboolean
exact_keys(const char *label,
           const char *where,
           json_t *obj,
           const char *const *keys,
           GError **error)
{
  const char *k;
  json_t *v;
  guint n = 0;

  if (!json_is_object(obj)) {
    g_set_error(error, SC_ERROR, SC_EINVAL, "%s: %s is not a JSON object", label, where);
    return FALSE;
  }
  for (; keys[n]; n++)
    if (json_object_get(obj, keys[n]) == NULL) {
      g_set_error(error, SC_ERROR, SC_EINVAL, "%s: %s has no \"%s\"", label, where, keys[n]);
      return FALSE;
    }
  json_object_foreach (obj, k, v)
    if (!g_strv_contains(keys, k)) {
      g_autofree char *shown = sc_display(k, 100);
      g_set_error(
        error, SC_ERROR, SC_EINVAL, "%s: %s has an unknown field \"%s\"", label, where, shown);
      return FALSE;
    }
  return TRUE;
}

static const char *
string_field(const char *label, const char *where, json_t *obj, const char *key, GError **error)
{
  const char *s = json_string_value(json_object_get(obj, key));

  if (s == NULL)
    g_set_error(error, SC_ERROR, SC_EINVAL, "%s: %s.%s is not a string", label, where, key);
  return s;
}

gboolean
sc_signature_payload_parse(const char *label,
                           GBytes *payload,
                           gboolean sigstore,
                           char **out_digest,
                           char **out_reference,
                           GError **error)
{
  static const char *const top[] = { "critical", "optional", NULL };
  static const char *const crit_keys[] = { "type", "image", "identity", NULL };
  static const char *const image_keys[] = { "docker-manifest-digest", NULL };
  static const char *const id_keys[] = { "docker-reference", NULL };
  const char *want = sigstore ? TYPE_SIGSTORE : TYPE_SIMPLE;
  gsize len;
  const char *data = g_bytes_get_data(payload, &len);
  json_error_t jerr;
  json_t *doc, *crit, *opt;
  const char *type, *digest, *ref;
  gboolean ok = FALSE;

  /* duplicate keys would let two readers see two payloads */
  if (!sc_json_check_budget(label, data, len, error))
    return FALSE;
  doc = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
  if (doc == NULL) {
    g_set_error(error,
                SC_ERROR,
                SC_EINVAL,
                "%s: not valid JSON: %s at byte %d",
                label,
                jerr.text,
                jerr.position);
    return FALSE;
  }
  crit = json_object_get(doc, "critical");
  opt = json_object_get(doc, "optional");
  if (!exact_keys(label, "the payload", doc, top, error) ||
      !exact_keys(label, "critical", crit, crit_keys, error) ||
      !exact_keys(label, "critical.image", json_object_get(crit, "image"), image_keys, error) ||
      !exact_keys(label, "critical.identity", json_object_get(crit, "identity"), id_keys, error))
    goto out;
  /* cosign writes "optional": null */
  if (!(json_is_object(opt) || (sigstore && json_is_null(opt)))) {
    g_set_error(error, SC_ERROR, SC_EINVAL, "%s: optional is not a JSON object", label);
    goto out;
  }
  if (json_is_object(opt) &&
      ((json_object_get(opt, "creator") && !json_is_string(json_object_get(opt, "creator"))) ||
       (json_object_get(opt, "timestamp") &&
        !json_is_integer(json_object_get(opt, "timestamp"))))) {
    g_set_error(error,
                SC_ERROR,
                SC_EINVAL,
                "%s: optional.creator is not a string or optional.timestamp not an integer",
                label);
    goto out;
  }
  if ((type = string_field(label, "critical", crit, "type", error)) == NULL ||
      (digest = string_field(label,
                             "critical.image",
                             json_object_get(crit, "image"),
                             "docker-manifest-digest",
                             error)) == NULL ||
      (ref = string_field(label,
                          "critical.identity",
                          json_object_get(crit, "identity"),
                          "docker-reference",
                          error)) == NULL)
    goto out;
  if (strcmp(type, want) != 0) {
    g_autofree char *shown = sc_display(type, 100);
    g_set_error(
      error, SC_ERROR, SC_EINVAL, "%s: critical.type is \"%s\", not \"%s\"", label, shown, want);
    goto out;
  }
  *out_digest = g_strdup(digest);
  *out_reference = g_strdup(ref);
  ok = TRUE;
out:
  json_decref(doc);
  return ok;
}

/* ---- identity ---- */

typedef struct {
  char *name; /* domain/path */
  char *full; /* name[:tag][@digest] */
  gboolean name_only, tagged, digested;
} Ref;

static void
ref_clear(Ref *r)
{
  g_clear_pointer(&r->name, g_free);
  g_clear_pointer(&r->full, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Ref, ref_clear)

/* A reference normalized as reference.ParseNormalizedNamed does: unlike
 * sc_reference_parse, a name without tag or digest stays one. */
static gboolean
ref_parse(const char *s, Ref *out, GError **error)
{
  g_auto(ScReference) r = { 0 };
  const char *last = strrchr(s, '/');

  if (!sc_reference_parse(s, &r, error))
    return FALSE;
  last = last ? last + 1 : s;
  out->name_only = strchr(last, ':') == NULL && strchr(last, '@') == NULL;
  if (out->name_only)
    g_clear_pointer(&r.tag, g_free);
  out->tagged = r.tag != NULL;
  out->digested = r.digest != NULL;
  out->name = g_strdup_printf("%s/%s", r.domain, r.path);
  out->full = sc_reference_to_string(&r);
  return TRUE;
}

/* matchRepoDigestOrExact: a tagged image (a tag and a digest included),
 * the same reference; one by digest only, the same repository. */
static gboolean
repo_digest_or_exact(const Ref *intended, const Ref *sig)
{
  if (intended->tagged)
    return strcmp(sig->full, intended->full) == 0;
  return intended->digested && strcmp(sig->name, intended->name) == 0;
}

/* refMatchesPrefix: @prefix is the name, or the name starts with it and
 * a '/' */
static gboolean
name_has_prefix(const char *name, const char *prefix)
{
  gsize n = strlen(prefix);

  return strncmp(name, prefix, n) == 0 && (name[n] == '\0' || name[n] == '/');
}

static gboolean
identity_ok(const ScSignedIdentity *id, const Ref *in, const Ref *sig, GError **error)
{
  g_auto(Ref) want = { 0 };

  switch (id->type) {
  case SC_ID_MATCH_REPO_DIGEST_OR_EXACT:
    return repo_digest_or_exact(in, sig);
  case SC_ID_MATCH_REPOSITORY:
    return strcmp(in->name, sig->name) == 0;
  case SC_ID_MATCH_EXACT:
    return !in->name_only && !sig->name_only && strcmp(in->full, sig->full) == 0;
  case SC_ID_EXACT_REFERENCE:
    if (!ref_parse(id->reference ? id->reference : "", &want, error))
      return FALSE;
    return !want.name_only && strcmp(sig->full, want.full) == 0;
  case SC_ID_EXACT_REPOSITORY:
    if (!ref_parse(id->repository ? id->repository : "", &want, error))
      return FALSE;
    return strcmp(sig->name, want.name) == 0;
  case SC_ID_REMAP_IDENTITY:
    if (id->prefix && id->signed_prefix && name_has_prefix(in->name, id->prefix)) {
      g_autofree char *mapped = g_strconcat(id->signed_prefix, in->full + strlen(id->prefix), NULL);
      if (!ref_parse(mapped, &want, error))
        return FALSE;
      return repo_digest_or_exact(&want, sig);
    }
    return repo_digest_or_exact(in, sig);
  }
  g_set_error(error, SC_ERROR, SC_EINVAL, "unknown signedIdentity type %d", id->type);
  return FALSE;
}

gboolean
sc_signature_identity_match(const ScSignedIdentity *id,
                            const char *intended,
                            const char *signed_ref,
                            GError **error)
{
  g_auto(Ref) in = { 0 };
  g_auto(Ref) sig = { 0 };
  g_autoptr(GError) local = NULL;

  if (!ref_parse(intended, &in, error))
    return FALSE;
  if (!ref_parse(signed_ref, &sig, &local)) {
    g_set_error(error,
                SC_ERROR,
                SC_EAUTH,
                "identity mismatch: the signed reference is invalid: %s",
                local->message);
    return FALSE;
  }
  if (identity_ok(id, &in, &sig, error))
    return TRUE;
  if (error && *error)
    return FALSE;
  {
    g_autofree char *shown = sc_display(signed_ref, 200);
    g_set_error(
      error, SC_ERROR, SC_EAUTH, "identity mismatch: signed %s, pulling %s", shown, in.full);
  }
  return FALSE;
}

/* ---- OpenPGP (simple signing) ---- */

/* The plaintext sink: a compressed OpenPGP message can expand far beyond
 * the SC_SIG_MAX_BODY its signature was held to. */
static ssize_t
capped_write(void *handle, const void *buf, size_t size)
{
  GByteArray *out = handle;

  if (out->len + size > SC_SIG_MAX_BODY) {
    errno = EFBIG;
    return -1;
  }
  g_byte_array_append(out, buf, size);
  return (ssize_t)size;
}

/* A keyring of @keys only, in @home; the primary fingerprints imported. */
static gboolean
gpg_import(gpgme_ctx_t ctx, GPtrArray *keys, GPtrArray *fprs, GError **error)
{
  for (guint i = 0; keys && i < keys->len; i++) {
    gsize len;
    const char *data = g_bytes_get_data(keys->pdata[i], &len);
    gpgme_data_t d = NULL;
    gpgme_error_t err = gpgme_data_new_from_mem(&d, data, len, 0);
    gpgme_import_result_t res;

    if (!err)
      err = gpgme_op_import(ctx, d);
    gpgme_data_release(d);
    if (err) {
      g_set_error(error,
                  SC_ERROR,
                  SC_EINVAL,
                  "policy key %u: cannot be imported: %s",
                  i + 1,
                  gpgme_strerror(err));
      return FALSE;
    }
    res = gpgme_op_import_result(ctx);
    for (gpgme_import_status_t s = res ? res->imports : NULL; s; s = s->next)
      if (s->result == 0 && s->fpr)
        g_ptr_array_add(fprs, g_strdup(s->fpr));
  }
  if (fprs->len == 0) {
    g_set_error(error, SC_ERROR, SC_EINVAL, "the policy's keys hold no usable OpenPGP key");
    return FALSE;
  }
  return TRUE;
}

/* Whether the key that made @fpr (a key or subkey fingerprint, or a long
 * key ID) is one of the imported primary keys @fprs; *out_primary its
 * primary fingerprint. */
static gboolean
gpg_signer_trusted(gpgme_ctx_t ctx, const char *fpr, GPtrArray *fprs, char **out_primary)
{
  gpgme_key_t key = NULL;
  gboolean ok = FALSE;

  if (gpgme_get_key(ctx, fpr, &key, 0) != 0 || key == NULL || key->fpr == NULL)
    return FALSE;
  for (guint i = 0; i < fprs->len && !ok; i++)
    ok = g_ascii_strcasecmp(fprs->pdata[i], key->fpr) == 0;
  if (ok)
    *out_primary = g_strdup(key->fpr);
  gpgme_key_unref(key);
  return ok;
}

static GBytes *
gpg_verify_in(gpgme_ctx_t ctx, GPtrArray *keys, GBytes *sig, char **out_signer, GError **error)
{
  g_autoptr(GPtrArray) fprs = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GByteArray) plain = g_byte_array_new();
  struct gpgme_data_cbs cbs = { .write = capped_write };
  gpgme_data_t sigd = NULL, out = NULL;
  gpgme_verify_result_t vr;
  gpgme_signature_t s;
  gpgme_error_t err;
  gsize len;
  const char *data = g_bytes_get_data(sig, &len);

  if (!gpg_import(ctx, keys, fprs, error))
    return NULL;
  err = gpgme_data_new_from_mem(&sigd, data, len, 0);
  if (!err)
    err = gpgme_data_new_from_cbs(&out, &cbs, plain);
  if (!err)
    err = gpgme_op_verify(ctx, sigd, NULL, out);
  gpgme_data_release(sigd);
  gpgme_data_release(out);
  if (gpgme_err_code(err) == GPG_ERR_EFBIG) {
    g_set_error(error,
                SC_ERROR,
                SC_EAUTH,
                "invalid signature: the signed payload is larger than %d bytes",
                SC_SIG_MAX_BODY);
    return NULL;
  }
  vr = err ? NULL : gpgme_op_verify_result(ctx);
  s = vr ? vr->signatures : NULL;
  if (s == NULL || s->next != NULL) {
    g_set_error(error,
                SC_ERROR,
                SC_EAUTH,
                "invalid signature: %s",
                err ? gpgme_strerror(err)
                : s ? "more than one signature"
                    : "not signed");
    return NULL;
  }
  if (gpgme_err_code(s->status) == GPG_ERR_NO_PUBKEY) {
    g_set_error(error,
                SC_ERROR,
                SC_EAUTH,
                "unknown key: signed by key %s, not a policy key",
                s->fpr ? s->fpr : "(none given)");
    return NULL;
  }
  if (s->status != 0 || s->fpr == NULL) {
    g_set_error(error, SC_ERROR, SC_EAUTH, "invalid signature: %s", gpgme_strerror(s->status));
    return NULL;
  }
  /* as containers/image: a good status alone is not enough (a key not
   * meant for signing, a validity gpg computed as never) */
  if (s->wrong_key_usage || s->validity == GPGME_VALIDITY_NEVER || s->validity_reason != 0) {
    g_set_error(error,
                SC_ERROR,
                SC_EAUTH,
                "invalid signature: %s",
                s->wrong_key_usage   ? "made by a key not meant for signing"
                : s->validity_reason ? gpgme_strerror(s->validity_reason)
                                     : "the key's validity is \"never\"");
    return NULL;
  }
  if (!gpg_signer_trusted(ctx, s->fpr, fprs, out_signer)) {
    g_set_error(
      error, SC_ERROR, SC_EAUTH, "unknown key: signed by key %s, not a policy key", s->fpr);
    return NULL;
  }
  return g_byte_array_free_to_bytes(g_steal_pointer(&plain));
}

GBytes *
sc_signature_verify_gpg(GPtrArray *keys, GBytes *sig, char **out_signer, GError **error)
{
  g_autofree char *home = NULL;
  gpgme_ctx_t ctx = NULL;
  gpgme_error_t err;
  GBytes *payload = NULL;

  gpgme_check_version(NULL);
  /* never the user's keyring: an empty one of our own */
  home = g_dir_make_tmp("sc-gpg-XXXXXX", error);
  if (home == NULL)
    return NULL;
  err = gpgme_new(&ctx);
  if (!err)
    err = gpgme_set_protocol(ctx, GPGME_PROTOCOL_OpenPGP);
  if (!err)
    err = gpgme_ctx_set_engine_info(ctx, GPGME_PROTOCOL_OpenPGP, NULL, home);
  if (err)
    g_set_error(error, SC_ERROR, SC_EUNSUPPORTED, "OpenPGP (gpgme): %s", gpgme_strerror(err));
  else {
    gpgme_set_offline(ctx, 1); /* no key servers */
    payload = gpg_verify_in(ctx, keys, sig, out_signer, error);
  }
  gpgme_release(ctx);
  sc_rm_rf(home);
  return payload;
}

/* ---- sigstore ---- */

/* Strict base64: the alphabet, a length that is a multiple of 4, '='
 * only as the last one or two (g_base64_decode skips what it does not
 * know). */
static GBytes *
strict_base64(const char *s)
{
  gsize n = strlen(s), pad = 0, out;
  guchar *buf;

  if (n == 0 || n % 4 != 0)
    return NULL;
  while (pad < 2 && s[n - 1 - pad] == '=')
    pad++;
  for (gsize i = 0; i < n - pad; i++)
    if (!g_ascii_isalnum(s[i]) && s[i] != '+' && s[i] != '/')
      return NULL;
  buf = g_base64_decode(s, &out);
  return g_bytes_new_take(buf, out);
}

/* "SHA256:<hex>" of the public key, as the signer's name */
static char *
key_id(gnutls_pubkey_t pk)
{
  guchar id[32];
  size_t len = sizeof(id);
  GString *s = g_string_new("SHA256:");

  if (gnutls_pubkey_get_key_id(pk, GNUTLS_KEYID_USE_SHA256, id, &len) < 0)
    len = 0;
  for (size_t i = 0; i < len; i++)
    g_string_append_printf(s, "%02x", id[i]);
  return g_string_free(s, FALSE);
}

/* @pem as an ECDSA P-256 public key, or NULL and why. */
static gnutls_pubkey_t
import_p256(GBytes *pem, guint index, GError **error)
{
  gnutls_pubkey_t pk;
  gnutls_datum_t d = { (unsigned char *)g_bytes_get_data(pem, NULL),
                       (unsigned int)g_bytes_get_size(pem) };
  gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
  unsigned int bits;

  if (gnutls_pubkey_init(&pk) < 0)
    return NULL;
  if (gnutls_pubkey_import(pk, &d, GNUTLS_X509_FMT_PEM) < 0) {
    g_set_error(error, SC_ERROR, SC_EINVAL, "policy key %u: not a PEM public key", index);
    gnutls_pubkey_deinit(pk);
    return NULL;
  }
  if (gnutls_pubkey_get_pk_algorithm(pk, &bits) != GNUTLS_PK_ECDSA ||
      gnutls_pubkey_export_ecc_raw(pk, &curve, NULL, NULL) < 0 ||
      curve != GNUTLS_ECC_CURVE_SECP256R1) {
    g_set_error(error,
                SC_ERROR,
                SC_EUNSUPPORTED,
                "policy key %u: not an ECDSA P-256 key (the only kind supported)",
                index);
    gnutls_pubkey_deinit(pk);
    return NULL;
  }
  return pk;
}

gboolean
sc_signature_verify_sigstore(GPtrArray *keys,
                             GBytes *payload,
                             const char *b64,
                             char **out_signer,
                             GError **error)
{
  g_autoptr(GBytes) sig = b64 ? strict_base64(b64) : NULL;
  gnutls_datum_t data = { (unsigned char *)g_bytes_get_data(payload, NULL),
                          (unsigned int)g_bytes_get_size(payload) };

  if (b64 == NULL) {
    g_set_error(
      error, SC_ERROR, SC_EAUTH, "invalid signature: no %s annotation", COSIGN_ANNOTATION);
    return FALSE;
  }
  if (sig == NULL) {
    g_set_error(
      error, SC_ERROR, SC_EAUTH, "invalid signature: %s is not valid base64", COSIGN_ANNOTATION);
    return FALSE;
  }
  for (guint i = 0; keys && i < keys->len; i++) {
    gnutls_pubkey_t pk = import_p256(keys->pdata[i], i + 1, error);
    gnutls_datum_t s = { (unsigned char *)g_bytes_get_data(sig, NULL),
                         (unsigned int)g_bytes_get_size(sig) };
    int r;

    if (pk == NULL)
      return FALSE;
    r = gnutls_pubkey_verify_data2(pk, GNUTLS_SIGN_ECDSA_SHA256, 0, &data, &s);
    if (r >= 0)
      *out_signer = key_id(pk);
    gnutls_pubkey_deinit(pk);
    if (r >= 0)
      return TRUE;
  }
  g_set_error(error,
              SC_ERROR,
              SC_EAUTH,
              "invalid signature: not made by any of the policy's %u key(s)",
              keys ? keys->len : 0);
  return FALSE;
}

/* ---- one requirement ---- */

/* One signature against @req: the signer, or NULL and the reason. */
static char *
check_one(const ScPolicyRequirement *req,
          const char *reference,
          const char *manifest_digest,
          ScSignature *sig,
          GError **error)
{
  g_autofree char *signer = NULL;
  g_autofree char *digest = NULL;
  g_autofree char *signed_ref = NULL;
  g_autoptr(GBytes) payload = NULL;

  if (sig->format == SC_SIG_SIMPLE)
    payload = sc_signature_verify_gpg(req->keys, sig->data, &signer, error);
  else if (sc_signature_verify_sigstore(req->keys, sig->data, sig->sigstore, &signer, error))
    payload = g_bytes_ref(sig->data);
  if (payload == NULL)
    return NULL;
  /* only a verified payload is parsed into values that are believed */
  if (!sc_signature_payload_parse(
        "payload", payload, sig->format == SC_SIG_SIGSTORE, &digest, &signed_ref, error))
    return NULL;
  if (strcmp(digest, manifest_digest) != 0) {
    g_autofree char *shown = sc_display(digest, 100);
    g_set_error(error,
                SC_ERROR,
                SC_EAUTH,
                "digest mismatch: signed %s, the manifest is %s",
                shown,
                manifest_digest);
    return NULL;
  }
  if (!sc_signature_identity_match(&req->identity, reference, signed_ref, error))
    return NULL;
  return g_steal_pointer(&signer);
}

/* The "no signature" reason for @format from @src. */
static const char *
none_why(ScSigFormat format, ScSignatureSources *src)
{
  if (format == SC_SIG_SIGSTORE)
    return src->use_sigstore_attachments ? "no sigstore attachment in the registry"
                                         : "use-sigstore-attachments is not set";
  return src->lookaside ? "none in the lookaside" : "no lookaside configured";
}

gboolean
sc_signature_check_sigs(const ScPolicyRequirement *req,
                        const char *reference,
                        const char *manifest_digest,
                        GPtrArray *sigs,
                        const char *none,
                        guint *out_index,
                        char **out_signer,
                        GError **error)
{
  const char *scope = req->scope ? req->scope : "default";
  g_autoptr(GString) why = g_string_new(NULL);

  if (req->type == SC_REQ_INSECURE_ACCEPT)
    return TRUE;
  if (req->type == SC_REQ_REJECT) {
    g_set_error(
      error, SC_ERROR, SC_ESIGNATURE, "image %s: policy scope %s: rejected", reference, scope);
    return FALSE;
  }
  for (guint i = 0; i < sigs->len; i++) {
    ScSignature *sig = sigs->pdata[i];
    g_autoptr(GError) e = NULL;
    char *signer;

    /* a signature of the other kind is no candidate */
    if ((sig->format == SC_SIG_SIGSTORE) != (req->type == SC_REQ_SIGSTORE_SIGNED))
      continue;
    signer = check_one(req, reference, manifest_digest, sig, &e);
    if (signer) {
      if (out_index)
        *out_index = i;
      if (out_signer)
        *out_signer = signer;
      else
        g_free(signer);
      return TRUE;
    }
    g_string_append_printf(why, "%s%s: %s", why->len ? "; " : "", sig->origin, e->message);
  }
  if (why->len == 0)
    g_set_error(error,
                SC_ERROR,
                SC_ESIGNATURE,
                "image %s: policy scope %s: no signature (%s)",
                reference,
                scope,
                none);
  else
    g_set_error(
      error, SC_ERROR, SC_ESIGNATURE, "image %s: policy scope %s: %s", reference, scope, why->str);
  return FALSE;
}

gboolean
sc_signature_check_keep(const ScPolicyRequirement *req,
                        const char *reference,
                        GBytes *manifest,
                        const char *manifest_digest,
                        ScSignatureSources *src,
                        char **out_signer,
                        ScSignature **out_sig,
                        GError **error)
{
  ScSigFormat format = req->type == SC_REQ_SIGSTORE_SIGNED ? SC_SIG_SIGSTORE : SC_SIG_SIMPLE;
  const char *scope = req->scope ? req->scope : "default";
  g_autoptr(GPtrArray) sigs = NULL;
  g_autoptr(GError) local = NULL;
  g_autofree char *actual = NULL;
  const char *hex;
  guint index = 0;

  if (req->type == SC_REQ_INSECURE_ACCEPT || req->type == SC_REQ_REJECT)
    return sc_signature_check_sigs(req, reference, manifest_digest, NULL, NULL, NULL, NULL, error);
  /* the digest the signatures are looked up by is the one of these bytes */
  actual = sc_sha256_hex(g_bytes_get_data(manifest, NULL), g_bytes_get_size(manifest));
  if (!sc_content_digest_hex(manifest_digest, &hex, error) || strcmp(hex, actual) != 0) {
    if (error && *error == NULL)
      g_set_error(error,
                  SC_ERROR,
                  SC_EDIGEST,
                  "image %s: the manifest's digest is sha256:%s, not %s",
                  reference,
                  actual,
                  manifest_digest);
    return FALSE;
  }
  sigs = sc_signature_fetch(src, manifest_digest, format, &local);
  if (sigs == NULL) {
    g_set_error(error,
                SC_ERROR,
                local->code,
                "image %s: policy scope %s: %s",
                reference,
                scope,
                local->message);
    return FALSE;
  }
  if (!sc_signature_check_sigs(
        req, reference, manifest_digest, sigs, none_why(format, src), &index, out_signer, error))
    return FALSE;
  if (out_sig)
    *out_sig = g_ptr_array_steal_index(sigs, index);
  return TRUE;
}

gboolean
sc_signature_check(const ScPolicyRequirement *req,
                   const char *reference,
                   GBytes *manifest,
                   const char *manifest_digest,
                   ScSignatureSources *src,
                   char **out_signer,
                   GError **error)
{
  return sc_signature_check_keep(
    req, reference, manifest, manifest_digest, src, out_signer, NULL, error);
}
