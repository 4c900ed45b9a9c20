/*
 * Pull: an image from a source into the store. The manifest (an index is
 * resolved to this platform's manifest) and the config are read and
 * checked first; missing layers are then imported in parallel (bounded
 * workers, each streaming one blob into the store); the config commit and
 * the image ref come last, in the same transaction, after every digest
 * matched. A failure aborts the transaction: no ref is added or changed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "store.h"

#include <stdarg.h>
#include <string.h>
#include <sys/utsname.h>

/* An image config is a few KiB; Docker Hub's largest are far below this. */
#define SC_MAX_CONFIG (8 * 1024 * 1024)

struct sc_pull_opts {
  char *name;
  char *os, *arch, *variant;
  int jobs;
  char *username, *password;
  char *authfile;
  char *registries_conf;
  char *cert_dir;
  gboolean tls_insecure;
};

SC_API int
sc_pull_opts_new(sc_pull_opts **out_opts, sc_error **error)
{
  SC_CHECK_ARG(out_opts != NULL, error);
  *out_opts = g_new0(sc_pull_opts, 1);
  return SC_OK;
}

SC_API void
sc_pull_opts_free(sc_pull_opts *o)
{
  if (o == NULL)
    return;
  g_free(o->name);
  g_free(o->os);
  g_free(o->arch);
  g_free(o->variant);
  g_free(o->username);
  if (o->password)
    memset(o->password, 0, strlen(o->password));
  g_free(o->password);
  g_free(o->authfile);
  g_free(o->registries_conf);
  g_free(o->cert_dir);
  g_free(o);
}

SC_API int
sc_pull_opts_set_cert_dir(sc_pull_opts *o, const char *path, sc_error **error)
{
  SC_CHECK_ARG(o != NULL, error);
  g_free(o->cert_dir);
  o->cert_dir = g_strdup(path);
  return SC_OK;
}

SC_API int
sc_pull_opts_set_registries_conf(sc_pull_opts *o, const char *path, sc_error **error)
{
  SC_CHECK_ARG(o != NULL, error);
  g_free(o->registries_conf);
  o->registries_conf = g_strdup(path);
  return SC_OK;
}

SC_API int
sc_pull_opts_set_authfile(sc_pull_opts *o, const char *path, sc_error **error)
{
  SC_CHECK_ARG(o != NULL, error);
  g_free(o->authfile);
  o->authfile = g_strdup(path);
  return SC_OK;
}

SC_API int
sc_pull_opts_set_credentials(sc_pull_opts *o, const char *username, const char *password,
                             sc_error **error)
{
  SC_CHECK_ARG(o != NULL, error);
  if (username != NULL && (*username == '\0' || strchr(username, ':')))
    return sc_error_set(error, SC_EINVAL, "user name '%s': must be non-empty, without ':'",
                        username);
  g_free(o->username);
  if (o->password)
    memset(o->password, 0, strlen(o->password));
  g_free(o->password);
  o->username = g_strdup(username);
  o->password = username ? g_strdup(password ? password : "") : NULL;
  return SC_OK;
}

SC_API int
sc_pull_opts_set_tls_verify(sc_pull_opts *o, int verify, sc_error **error)
{
  SC_CHECK_ARG(o != NULL, error);
  o->tls_insecure = !verify;
  return SC_OK;
}

SC_API int
sc_pull_opts_set_name(sc_pull_opts *o, const char *name, sc_error **error)
{
  GError *gerror = NULL;
  char *normalized;

  SC_CHECK_ARG(o != NULL && name != NULL, error);
  /* a short name names no registry: stored under localhost/, as podman
   * does, so that it is never taken for a Docker Hub image */
  normalized = sc_reference_normalize_local(name, &gerror);
  if (normalized == NULL)
    return sc_error_propagate(error, gerror);
  g_free(o->name);
  o->name = normalized;
  return SC_OK;
}

SC_API int
sc_pull_opts_set_platform(sc_pull_opts *o, const char *platform, sc_error **error)
{
  g_auto(GStrv) parts = NULL;
  guint n;

  SC_CHECK_ARG(o != NULL && platform != NULL, error);
  parts = g_strsplit(platform, "/", -1);
  n = g_strv_length(parts);
  if (n < 2 || n > 3 || !*parts[0] || !*parts[1] || (n == 3 && !*parts[2]))
    return sc_error_set(error, SC_EINVAL,
                        "platform '%s': expected OS/ARCHITECTURE[/VARIANT], e.g. linux/arm64",
                        platform);
  g_free(o->os);
  g_free(o->arch);
  g_free(o->variant);
  o->os = g_strdup(parts[0]);
  o->arch = g_strdup(parts[1]);
  o->variant = n == 3 ? g_strdup(parts[2]) : NULL;
  return SC_OK;
}

void
sc_pull_opts_source_options(const sc_pull_opts *o, ScSourceOptions *out)
{
  memset(out, 0, sizeof(*out));
  out->tls_verify = !(o && o->tls_insecure);
  if (o == NULL)
    return;
  out->username = o->username;
  out->password = o->password;
  out->jobs = o->jobs;
  out->authfile = o->authfile;
  out->registries_conf = o->registries_conf;
  out->cert_dir = o->cert_dir;
}

const char *
sc_pull_opts_get_name(const sc_pull_opts *o)
{
  return o ? o->name : NULL;
}

SC_API int
sc_pull_opts_set_jobs(sc_pull_opts *o, int jobs, sc_error **error)
{
  SC_CHECK_ARG(o != NULL, error);
  if (jobs < 1 || jobs > 64)
    return sc_error_set(error, SC_EINVAL, "jobs %d: must be between 1 and 64", jobs);
  o->jobs = jobs;
  return SC_OK;
}

/* This machine as an OCI platform (GOARCH names). */
static void
host_platform(const char **os, const char **arch, const char **variant)
{
  struct utsname u;

  *os = "linux";
  *variant = NULL;
  uname(&u);
  if (strcmp(u.machine, "x86_64") == 0)
    *arch = "amd64";
  else if (strcmp(u.machine, "aarch64") == 0)
    *arch = "arm64", *variant = "v8";
  else if (g_str_has_prefix(u.machine, "armv7"))
    *arch = "arm", *variant = "v7";
  else if (g_str_has_prefix(u.machine, "armv6"))
    *arch = "arm", *variant = "v6";
  else if (strcmp(u.machine, "i686") == 0 || strcmp(u.machine, "i386") == 0)
    *arch = "386";
  else
    *arch = g_intern_string(u.machine); /* ppc64le, s390x, riscv64 match GOARCH */
}

typedef enum { KIND_MANIFEST, KIND_INDEX, KIND_SCHEMA1, KIND_UNKNOWN } ManifestKind;

static ManifestKind
manifest_kind(json_t *doc, const char *media_type)
{
  const char *mt = json_string_value(json_object_get(doc, "mediaType"));

  if (mt == NULL || !*mt)
    mt = media_type;
  if (json_integer_value(json_object_get(doc, "schemaVersion")) == 1 ||
      (mt && g_str_has_prefix(mt, "application/vnd.docker.distribution.manifest.v1")))
    return KIND_SCHEMA1;
  if ((mt && (strcmp(mt, SC_MEDIA_OCI_INDEX) == 0 || strcmp(mt, SC_MEDIA_DOCKER_LIST) == 0)) ||
      ((!mt || !*mt) && json_is_array(json_object_get(doc, "manifests"))))
    return KIND_INDEX;
  if ((mt && (strcmp(mt, SC_MEDIA_OCI_MANIFEST) == 0 || strcmp(mt, SC_MEDIA_DOCKER_MANIFEST) == 0)) ||
      ((!mt || !*mt) && json_is_array(json_object_get(doc, "layers"))))
    return KIND_MANIFEST;
  return KIND_UNKNOWN;
}

/* The digest of the index entry for the wanted platform. */
static const char *
pick_platform(json_t *index, const char *os, const char *arch, const char *variant,
              const char *source, GError **error)
{
  json_t *m, *best = NULL;
  size_t i;
  GString *seen = g_string_new(NULL);

  json_array_foreach(json_object_get(index, "manifests"), i, m)
  {
    json_t *p = json_object_get(m, "platform");
    const char *mos = json_string_value(json_object_get(p, "os"));
    const char *march = json_string_value(json_object_get(p, "architecture"));
    const char *mvar = json_string_value(json_object_get(p, "variant"));
    /* what the index says, escaped and bounded: it is the server's text */
    if (i < 20) {
      g_autofree char *o = sc_display(mos ? mos : "?", 40);
      g_autofree char *a = sc_display(march ? march : "?", 40);
      g_autofree char *v = mvar ? sc_display(mvar, 40) : NULL;
      g_string_append_printf(seen, "%s%s/%s%s%s", seen->len ? ", " : "", o, a, v ? "/" : "",
                             v ? v : "");
    } else if (i == 20)
      g_string_append_printf(seen, " and %zu more", json_array_size(json_object_get(index, "manifests")) - 20);
    if (!mos || !march || strcmp(mos, os) != 0 || strcmp(march, arch) != 0)
      continue;
    if (variant && mvar && strcmp(variant, mvar) != 0)
      continue;
    /* an exact variant match wins over an entry without a variant */
    if (best == NULL || (variant && mvar))
      best = m;
  }
  if (best == NULL) {
    g_set_error(error, SC_ERROR, SC_ENOTFOUND,
                "%s: no image for %s/%s%s%s in the index (it has: %s)", source, os, arch,
                variant ? "/" : "", variant ? variant : "", seen->str);
    g_string_free(seen, TRUE);
    return NULL;
  }
  g_string_free(seen, TRUE);
  return json_string_value(json_object_get(best, "digest"));
}

typedef struct {
  char *digest;
  char *diff_id;
  guint64 size;
  gboolean present;
  /* result */
  ScLayerResult result;
  GError *error;
} LayerJob;

typedef struct {
  OstreeRepo *repo;
  ScImageSource *src;
  GMutex lock;
  GCond done_cond;
  guint done;
  gint64 bytes; /* atomic */
  gint failed;  /* atomic: a layer failed, the rest are not fetched */
  ScLayerLimits limits;
  ScSelinux *se; /* the target root's policy (the context's), or NULL */
} PullState;

static void
layer_worker(gpointer data, gpointer user_data)
{
  LayerJob *job = data;
  PullState *st = user_data;
  guint64 size = 0;
  g_autoptr(GInputStream) in = NULL;

  /* one failure fails the pull: a server that fails every layer slowly
   * costs one layer's time, not every layer's */
  if (!g_atomic_int_get(&st->failed))
    in = sc_image_source_open_blob(st->src, job->digest, job->size, &size, &job->error);
  if (in != NULL) {
    if (size < job->size)
      g_set_error(&job->error, SC_ERROR, SC_EDIGEST,
                  "layer %s: truncated: the blob has %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                  " bytes",
                  job->digest, size, job->size);
    else
      sc_layer_import(st->repo, in, job->digest, job->size, job->diff_id, &st->bytes, &st->limits,
                      st->se, &job->result, &job->error);
  }
  if (job->error != NULL)
    g_atomic_int_set(&st->failed, 1);
  g_mutex_lock(&st->lock);
  st->done++;
  g_cond_signal(&st->done_cond);
  g_mutex_unlock(&st->lock);
}

static gboolean
layer_present(OstreeRepo *repo, const char *hex)
{
  g_autofree char *ref = g_strconcat(SC_REF_PREFIX, hex, NULL);
  g_autofree char *rev = NULL;
  g_autoptr(GVariant) commit = NULL;
  g_autoptr(GVariant) meta = NULL;
  g_autoptr(GVariantDict) dict = NULL;

  /* skopeo's rule: reuse a layer only when its commit carries the
   * digests it was checked with */
  if (!ostree_repo_resolve_rev(repo, ref, TRUE, &rev, NULL) || rev == NULL ||
      !ostree_repo_load_variant(repo, OSTREE_OBJECT_TYPE_COMMIT, rev, &commit, NULL))
    return FALSE;
  meta = g_variant_get_child_value(commit, 0);
  dict = g_variant_dict_new(meta);
  return g_variant_dict_contains(dict, "docker.uncompressed_digest") &&
         g_variant_dict_contains(dict, "docker.uncompressed_size") &&
         g_variant_dict_contains(dict, "docker.size");
}

/* A commit whose tree holds one file. */
static gboolean
commit_single_file(OstreeRepo *repo, const char *file_name, GBytes *data, GVariant *metadata,
                   const char *subject, char **out_commit, GError **error)
{
  g_autoptr(OstreeMutableTree) mtree = ostree_mutable_tree_new();
  g_autoptr(GFile) root = NULL;
  g_autoptr(GFileInfo) info = g_file_info_new();
  g_autoptr(GVariant) dirmeta = NULL;
  g_autofree guchar *csum = NULL;
  g_autofree char *dirmeta_hex = NULL;
  g_autofree char *file_hex = NULL;

  g_file_info_set_file_type(info, G_FILE_TYPE_DIRECTORY);
  g_file_info_set_attribute_uint32(info, "unix::uid", 0);
  g_file_info_set_attribute_uint32(info, "unix::gid", 0);
  g_file_info_set_attribute_uint32(info, "unix::mode", S_IFDIR | 0755);
  dirmeta = ostree_create_directory_metadata(info, NULL); /* a full reference, not floating */
  if (!ostree_repo_write_metadata(repo, OSTREE_OBJECT_TYPE_DIR_META, NULL, dirmeta, &csum, NULL,
                                  error))
    return FALSE;
  dirmeta_hex = ostree_checksum_from_bytes(csum);
  ostree_mutable_tree_set_metadata_checksum(mtree, dirmeta_hex);
  file_hex = ostree_repo_write_regfile_inline(repo, NULL, 0, 0, S_IFREG | 0644, NULL,
                                              g_bytes_get_data(data, NULL),
                                              g_bytes_get_size(data), NULL, error);
  if (file_hex == NULL || !ostree_mutable_tree_replace_file(mtree, file_name, file_hex, error) ||
      !ostree_repo_write_mtree(repo, mtree, &root, NULL, error))
    return FALSE;
  return ostree_repo_write_commit(repo, NULL, subject, NULL, metadata, OSTREE_REPO_FILE(root),
                                  out_commit, NULL, error);
}

/* a{sv} of strings from NULL-terminated key, value pairs */
static GVariant *
string_metadata(const char *k1, const char *v1, ...)
{
  GVariantBuilder b;
  va_list ap;

  g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
  va_start(ap, v1);
  for (const char *k = k1, *v = v1; k != NULL;) {
    g_variant_builder_add(&b, "{sv}", k, g_variant_new_string(v));
    k = va_arg(ap, const char *);
    if (k)
      v = va_arg(ap, const char *);
  }
  va_end(ap);
  return g_variant_ref_sink(g_variant_builder_end(&b));
}

/* Parses a manifest: an image manifest gives *out_doc; an index (allowed
 * unless @nested) gives the digest of the wanted platform's manifest in
 * *out_next. Schema 1 and unknown types are refused. */
gboolean
sc_manifest_examine(GBytes *manifest, const char *media_type, const char *os, const char *arch,
                    const char *variant, const char *source, gboolean nested, json_t **out_doc,
                    char **out_next, GError **error)
{
  json_error_t jerr = {0};
  json_t *doc = NULL;
  ManifestKind kind;

  *out_doc = NULL;
  *out_next = NULL;
  if (!sc_json_check_budget(source, g_bytes_get_data(manifest, NULL), g_bytes_get_size(manifest),
                            error))
    return FALSE;
  doc = json_loadb(g_bytes_get_data(manifest, NULL), g_bytes_get_size(manifest), 0, &jerr);
  if (!json_is_object(doc)) {
    g_set_error(error, SC_ERROR, SC_EIO, "%s: the manifest is not a JSON object%s%s", source,
                doc ? "" : ": ", doc ? "" : jerr.text);
    json_decref(doc);
    return FALSE;
  }
  kind = manifest_kind(doc, media_type);
  if (kind == KIND_MANIFEST &&
      json_array_size(json_object_get(doc, "layers")) > SC_MAX_IMAGE_LAYERS) {
    g_set_error(error, SC_ERROR, SC_EUNSUPPORTED,
                "%s: the manifest lists %zu layers; at most %d are supported", source,
                json_array_size(json_object_get(doc, "layers")), SC_MAX_IMAGE_LAYERS);
    json_decref(doc);
    return FALSE;
  }
  if (kind == KIND_MANIFEST) {
    *out_doc = doc;
    return TRUE;
  }
  if (kind == KIND_SCHEMA1)
    g_set_error(error, SC_ERROR, SC_EUNSUPPORTED,
                "%s: Docker schema 1 manifests are not supported (deprecated since 2017); "
                "convert the image, e.g. skopeo copy --format v2s2",
                source);
  else if (kind != KIND_INDEX || nested)
    g_set_error(error, SC_ERROR, SC_EUNSUPPORTED, "%s: unsupported manifest media type '%s'",
                source, media_type && *media_type ? media_type : "(none)");
  else {
    const char *digest = pick_platform(doc, os, arch, variant, source, error);
    const char *hex;
    if (digest && sc_content_digest_hex(digest, &hex, error))
      *out_next = g_strdup(digest);
  }
  json_decref(doc);
  return *out_next != NULL;
}

void
sc_resolved_clear(ScResolved *r)
{
  g_clear_pointer(&r->manifest, g_bytes_unref);
  g_clear_pointer(&r->top_manifest, g_bytes_unref);
  g_clear_pointer(&r->config, g_bytes_unref);
  g_clear_pointer(&r->manifest_hex, g_free);
  g_clear_pointer(&r->mdoc, json_decref);
  g_clear_pointer(&r->cdoc, json_decref);
}

gboolean
sc_image_config_examine(GBytes *config, gsize n_layers, const char *source, json_t **out_doc,
                        GError **error)
{
  json_error_t jerr = {0};
  json_t *doc = NULL;
  json_t *diff_ids;
  json_t *d;
  gsize i;

  if (!sc_json_check_budget(source, g_bytes_get_data(config, NULL), g_bytes_get_size(config),
                            error))
    return FALSE;
  doc = json_loadb(g_bytes_get_data(config, NULL), g_bytes_get_size(config), 0, &jerr);
  diff_ids = json_object_get(json_object_get(doc, "rootfs"), "diff_ids");
  if (doc == NULL) {
    g_set_error(error, SC_ERROR, SC_EIO, "%s: the config is not valid JSON (line %d, column %d: %s)",
                source, jerr.line, jerr.column, jerr.text);
    return FALSE;
  }
  if (!json_is_object(doc) || !json_is_array(diff_ids)) {
    g_set_error(error, SC_ERROR, SC_EIO, "%s: the config has no rootfs.diff_ids", source);
    goto fail;
  }
  if (json_array_size(diff_ids) != n_layers) {
    g_set_error(error, SC_ERROR, SC_EDIGEST,
                "%s: the manifest lists %zu layers but the config %zu diff_ids", source, n_layers,
                json_array_size(diff_ids));
    goto fail;
  }
  /* every layer's uncompressed digest is checked against its diff_id: one
   * that is not a digest would let that layer through unchecked */
  json_array_foreach(diff_ids, i, d)
  {
    const char *hex;
    if (!json_is_string(d)) {
      g_set_error(error, SC_ERROR, SC_EDIGEST, "%s: config: diff_id %zu is not a digest string",
                  source, i);
      goto fail;
    }
    if (!sc_content_digest_hex(json_string_value(d), &hex, error)) {
      g_prefix_error(error, "%s: config: diff_id %zu: ", source, i);
      goto fail;
    }
  }
  *out_doc = doc;
  return TRUE;
fail:
  json_decref(doc);
  return FALSE;
}

/* The image's manifest (an index resolved to the wanted platform) and its
 * config, both checked against their digests, and the layer count checked
 * against the diff_ids. */
/* The config sha256:@hex of @size bytes from the store's ociimage/<hex>,
 * when it is there and intact: a re-pull then asks the source for no blob
 * at all. A damaged one is fetched again, not reported. */
static GBytes *
config_from_store(OstreeRepo *repo, const char *hex, gint64 size)
{
  GBytes *b = repo ? sc_store_read_config(repo, hex) : NULL;
  g_autofree char *have = NULL;

  if (b == NULL || (gint64)g_bytes_get_size(b) != size)
    goto drop;
  have = sc_sha256_hex(g_bytes_get_data(b, NULL), g_bytes_get_size(b));
  if (strcmp(have, hex) != 0)
    goto drop;
  return b;
drop:
  g_clear_pointer(&b, g_bytes_unref);
  return NULL;
}

gboolean
sc_resolve_image(ScImageSource *src, const sc_pull_opts *opts, ScResolved *out, GError **error)
{
  return sc_resolve_image_stored(src, opts, NULL, out, error);
}

gboolean
sc_resolve_image_stored(ScImageSource *src, const sc_pull_opts *opts, OstreeRepo *repo,
                        ScResolved *out, GError **error)
{
  const char *os, *arch, *variant;
  g_autofree char *media_type = NULL;
  g_autoptr(GBytes) manifest = NULL;
  g_autoptr(GBytes) top = NULL;
  g_autoptr(GBytes) config = NULL;
  json_t *mdoc = NULL, *cdoc = NULL;
  g_autofree char *config_hex_computed = NULL;
  const char *config_digest, *config_hex;

  host_platform(&os, &arch, &variant);
  if (opts && opts->os)
    os = opts->os, arch = opts->arch, variant = opts->variant;

  manifest = sc_image_source_get_manifest(src, NULL, &media_type, error);
  if (manifest == NULL)
    goto fail;
  top = g_bytes_ref(manifest);
  for (int depth = 0;; depth++) {
    g_autofree char *next = NULL;
    if (!sc_manifest_examine(manifest, media_type, os, arch, variant,
                             sc_image_source_description(src), depth > 0, &mdoc, &next, error))
      goto fail;
    if (next == NULL)
      break;
    g_clear_pointer(&mdoc, json_decref);
    g_clear_pointer(&manifest, g_bytes_unref);
    g_clear_pointer(&media_type, g_free);
    manifest = sc_image_source_get_manifest(src, next, &media_type, error);
    if (manifest == NULL)
      goto fail;
  }

  /* the config, checked against its digest */
  config_digest =
      json_string_value(json_object_get(json_object_get(mdoc, "config"), "digest"));
  if (!sc_content_digest_hex(config_digest, &config_hex, error)) {
    g_prefix_error(error, "%s: config: ", sc_image_source_description(src));
    goto fail;
  }
  {
    guint64 size = 0;
    json_t *csize = json_object_get(json_object_get(mdoc, "config"), "size");
    g_autoptr(GInputStream) in = NULL;
    g_autofree char *buf = NULL;
    gsize got = 0;
    /* the size bounds what a registry's stream gives: without it the
     * config would read as empty and fail its digest, which misleads */
    if (!json_is_integer(csize) || json_integer_value(csize) < 0) {
      g_set_error(error, SC_ERROR, SC_EIO,
                  "%s: config %s: the manifest's descriptor has no valid size",
                  sc_image_source_description(src), config_digest);
      goto fail;
    }
    if (json_integer_value(csize) > SC_MAX_CONFIG) {
      g_set_error(error, SC_ERROR, SC_EIO,
                  "%s: config %s: its descriptor says %" JSON_INTEGER_FORMAT
                  " bytes, more than the limit of %d",
                  sc_image_source_description(src), config_digest, json_integer_value(csize),
                  SC_MAX_CONFIG);
      goto fail;
    }
    config = config_from_store(repo, config_hex, json_integer_value(csize));
    if (config != NULL)
      goto examine;
    in = sc_image_source_open_blob(src, config_digest, json_integer_value(csize), &size, error);
    if (in == NULL)
      goto fail;
    if (size > SC_MAX_CONFIG) {
      g_set_error(error, SC_ERROR, SC_EIO, "%s: config %s is %" G_GUINT64_FORMAT
                  " bytes, more than the limit of %d",
                  sc_image_source_description(src), config_digest, size, SC_MAX_CONFIG);
      goto fail;
    }
    buf = g_malloc(size + 1);
    if (!g_input_stream_read_all(in, buf, size, &got, NULL, error))
      goto fail;
    config = g_bytes_new_take(g_steal_pointer(&buf), got);
  }
examine:
  config_hex_computed = sc_sha256_hex(g_bytes_get_data(config, NULL), g_bytes_get_size(config));
  if (strcmp(config_hex_computed, config_hex) != 0) {
    g_set_error(error, SC_ERROR, SC_EDIGEST, "%s: config %s has digest sha256:%s",
                sc_image_source_description(src), config_digest, config_hex_computed);
    goto fail;
  }
  if (!sc_image_config_examine(config, json_array_size(json_object_get(mdoc, "layers")),
                               sc_image_source_description(src), &cdoc, error))
    goto fail;

  out->manifest = g_steal_pointer(&manifest);
  out->top_manifest = g_steal_pointer(&top);
  out->manifest_hex = sc_sha256_hex(g_bytes_get_data(out->manifest, NULL),
                                    g_bytes_get_size(out->manifest));
  out->config = g_steal_pointer(&config);
  out->mdoc = mdoc;
  out->cdoc = cdoc;
  out->config_digest = config_digest;
  out->config_hex = config_hex;
  return TRUE;
fail:
  json_decref(mdoc);
  json_decref(cdoc);
  return FALSE;
}

/* A pull into the store, as a transaction in phases: begin (the name, the
 * store opened and locked), plan (the layers the store lacks), fetch (a
 * pool of workers, progress from this thread), settle (every layer's
 * result checked, then the layer refs), commit (the config, then the
 * image), report. A failure in any phase aborts the OSTree transaction:
 * no ref is added or changed. */
typedef struct {
  sc_context *ctx;
  ScImageSource *src;
  const sc_pull_opts *opts;
  ScResolved res; /* taken over from the caller */
  char *name;
  OstreeRepo *repo; /* the context's, borrowed */
  int lock;
  gboolean in_txn;
  LayerJob *job_array; /* one per layer of the manifest */
  guint n_layers;
  GPtrArray *todo; /* the jobs to fetch, borrowed from job_array */
  guint64 bytes_total;
  PullState st;
  gboolean st_ready; /* st's mutex and condition are initialised */
  json_t *trust;     /* the policy's verdict, kept with the image */
} Pull;

static void
pull_clear(Pull *t)
{
  if (t->in_txn)
    ostree_repo_abort_transaction(t->repo, NULL, NULL);
  if (t->lock >= 0)
    close(t->lock);
  for (guint k = 0; k < t->n_layers; k++) {
    g_free(t->job_array[k].digest);
    g_free(t->job_array[k].diff_id);
    g_free(t->job_array[k].result.commit);
    g_clear_error(&t->job_array[k].error);
  }
  g_free(t->job_array);
  g_clear_pointer(&t->todo, g_ptr_array_unref);
  if (t->st_ready) {
    g_mutex_clear(&t->st.lock);
    g_cond_clear(&t->st.done_cond);
  }
  g_free(t->name);
  json_decref(t->trust);
  sc_resolved_clear(&t->res);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Pull, pull_clear)

static gint64
pull_bytes(Pull *t)
{
  return __atomic_load_n(&t->st.bytes, __ATOMIC_RELAXED);
}

/* The name the image is stored as; the store opened and locked. */
static gboolean
pull_begin(Pull *t, const char *store_name, GError **error)
{
  if (store_name)
    t->name = g_strdup(store_name);
  else if (t->opts && t->opts->name)
    t->name = g_strdup(t->opts->name);
  else
    t->name = sc_reference_store_name(sc_image_source_name(t->src), error);
  if (t->name == NULL && store_name == NULL && !(t->opts && t->opts->name) && error && *error)
    /* a name made from a file or directory's name: the way out is pull --name */
    g_prefix_error(error, "no image name from %s (give one: pull --name NAME[:TAG]): ",
                   sc_image_source_description(t->src));
  if (t->name == NULL || !sc_store_open(t->ctx, TRUE, &t->repo, error))
    return FALSE;
  t->lock = sc_store_lock(t->ctx, t->repo, TRUE, error);
  return t->lock >= 0;
}

/* Layer @i's job: present (stored with the digests it was checked with,
 * or listed earlier in this manifest), or to fetch. */
static gboolean
pull_plan_layer(Pull *t, size_t i, json_t *l, json_t *diff_ids, GError **error)
{
  LayerJob *job = &t->job_array[i];
  const char *source = sc_image_source_description(t->src);
  const char *digest = json_string_value(json_object_get(l, "digest"));
  const char *hex;
  json_t *size = json_object_get(l, "size");

  if (!sc_content_digest_hex(digest, &hex, error) || !json_is_integer(size) ||
      json_integer_value(size) < 0) {
    if (error && !*error)
      g_set_error(error, SC_ERROR, SC_EIO, "%s: layer %zu has no valid size", source, i);
    g_prefix_error(error, "%s: ", source);
    return FALSE;
  }
  job->digest = g_strdup(digest);
  job->diff_id = g_strdup(json_string_value(json_array_get(diff_ids, i)));
  job->size = json_integer_value(size);
  job->present = layer_present(t->repo, hex);
  /* a layer listed twice is imported once */
  for (guint k = 0; k < i && !job->present; k++)
    if (strcmp(t->job_array[k].digest, digest) == 0)
      job->present = TRUE;
  if (job->present) {
    sc_context_log(t->ctx, SC_LOG_INFO, "layer %zu/%u %s: already in the store", i + 1,
                   t->n_layers, digest);
    return TRUE;
  }
  sc_context_log(t->ctx, SC_LOG_INFO, "layer %zu/%u %s: to fetch (%" G_GUINT64_FORMAT " bytes)",
                 i + 1, t->n_layers, digest, (guint64)job->size);
  if (job->diff_id && !sc_content_digest_hex(job->diff_id, &hex, error)) {
    g_prefix_error(error, "%s: diff_id %zu: ", source, i);
    return FALSE;
  }
  g_ptr_array_add(t->todo, job);
  t->bytes_total += job->size;
  return TRUE;
}

static gboolean
pull_plan(Pull *t, GError **error)
{
  json_t *layers = json_object_get(t->res.mdoc, "layers");
  json_t *diff_ids = json_object_get(json_object_get(t->res.cdoc, "rootfs"), "diff_ids");
  json_t *l;
  size_t i;

  t->n_layers = json_array_size(layers);
  t->job_array = g_new0(LayerJob, t->n_layers);
  t->todo = g_ptr_array_new();
  json_array_foreach(layers, i, l)
  {
    if (!pull_plan_layer(t, i, l, diff_ids, error))
      return FALSE;
  }
  return TRUE;
}

/* Writing back what the layers' workers wrote while they still write:
 * the kernel alone would start only after 30 s or gigabytes of dirty
 * pages, and the syncfs that makes the pull durable before its refs
 * (pull_commit_image) waited for all of it at the end (0.39 s of a 2.1 s
 * pull of 336 MB on ext4). Every 250 ms this thread, which only reports
 * progress, starts and waits for the writeback instead, while the workers
 * go on; that last syncfs then has little left. Its errors are the last
 * one's to report. */
static void
pull_write_back(Pull *t, gint64 *last)
{
  if (g_get_monotonic_time() - *last < G_TIME_SPAN_MILLISECOND * 250)
    return;
  (void)syncfs(ostree_repo_get_dfd(t->repo));
  *last = g_get_monotonic_time();
}

/* The jobs run by a bounded pool; progress is reported from this thread,
 * so that callers never see another one. */
static void
pull_run_pool(Pull *t)
{
  PullState *st = &t->st;
  guint n_todo = t->todo->len;
  int max = t->opts && t->opts->jobs ? t->opts->jobs : MIN(4, (int)g_get_num_processors());
  GThreadPool *pool;
  gint64 last_flush = g_get_monotonic_time();

  /* a source read as one stream gains nothing from parallel readers: they
   * would wait for each other, or skip a layer another one still needs */
  if (sc_image_source_sequential(t->src))
    max = 1;
  pool = g_thread_pool_new(layer_worker, st, MAX(1, max), TRUE, NULL);

  for (guint k = 0; k < n_todo; k++)
    g_thread_pool_push(pool, t->todo->pdata[k], NULL);
  g_mutex_lock(&st->lock);
  while (st->done < n_todo) {
    guint done = st->done;
    g_cond_wait_until(&st->done_cond, &st->lock, g_get_monotonic_time() + G_TIME_SPAN_SECOND / 10);
    g_mutex_unlock(&st->lock);
    sc_context_progress(t->ctx, pull_bytes(t), t->bytes_total, done, n_todo);
    pull_write_back(t, &last_flush);
    g_mutex_lock(&st->lock);
  }
  g_mutex_unlock(&st->lock);
  g_thread_pool_free(pool, FALSE, TRUE);
}

/* The transaction opened and the missing layers imported into it. */
static gboolean
pull_fetch(Pull *t, GError **error)
{
  guint n_todo = t->todo->len;

  /* the labels of what is imported come from the target root's policy
   * (a layer already stored keeps the labels it was imported with) */
  if (n_todo > 0 && !sc_context_selinux(t->ctx, &t->st.se, error))
    return FALSE;
  if (!ostree_repo_prepare_transaction(t->repo, NULL, NULL, error))
    return FALSE;
  t->in_txn = TRUE;
  t->st.repo = t->repo;
  t->st.src = t->src;
  sc_context_layer_limits(t->ctx, &t->st.limits);
  g_mutex_init(&t->st.lock);
  g_cond_init(&t->st.done_cond);
  t->st_ready = TRUE;
  if (n_todo > 0)
    pull_run_pool(t);
  sc_context_progress(t->ctx, pull_bytes(t), t->bytes_total, n_todo, n_todo);
  return TRUE;
}

/* Every layer's result checked first; the layer refs only then. */
static gboolean
pull_settle(Pull *t, GError **error)
{
  for (guint k = 0; k < t->todo->len; k++) {
    LayerJob *job = t->todo->pdata[k];
    if (job->error) {
      g_propagate_prefixed_error(error, g_steal_pointer(&job->error), "%s: ",
                                 sc_image_source_description(t->src));
      return FALSE;
    }
    sc_context_log(t->ctx, SC_LOG_INFO, "layer %s: imported as commit %s", job->digest,
                   job->result.commit);
    if (job->result.skipped_entries)
      sc_context_log(t->ctx, SC_LOG_INFO, "layer %s: skipped %u device nodes, fifos or sockets",
                     job->digest, job->result.skipped_entries);
  }
  /* every digest matched: now the refs */
  for (guint k = 0; k < t->todo->len; k++) {
    LayerJob *job = t->todo->pdata[k];
    g_autofree char *ref = g_strconcat(SC_REF_PREFIX, job->digest + 7, NULL);
    ostree_repo_transaction_set_ref(t->repo, NULL, ref, job->result.commit);
  }
  return TRUE;
}

static gboolean
pull_commit_config(Pull *t, GError **error)
{
  g_autofree char *size = g_strdup_printf("%zu", g_bytes_get_size(t->res.config));
  g_autoptr(GVariant) meta = string_metadata("docker.size", size, NULL);
  g_autofree char *commit = NULL;
  g_autofree char *ref = g_strconcat(SC_REF_PREFIX, t->res.config_hex, NULL);

  if (!commit_single_file(t->repo, "content", t->res.config, meta, t->res.config_digest,
                          &commit, error))
    return FALSE;
  ostree_repo_transaction_set_ref(t->repo, NULL, ref, commit);
  return TRUE;
}

/* The image's commit and ref last (after a sync), then the transaction
 * committed. */
static gboolean
pull_commit_image(Pull *t, GError **error)
{
  GBytes *manifest = t->res.manifest;
  g_autofree char *manifest_text =
      g_strndup(g_bytes_get_data(manifest, NULL), g_bytes_get_size(manifest));
  g_autofree char *digest = g_strconcat("sha256:", t->res.manifest_hex, NULL);
  /* skopeo's keys, and where the image came from (images update asks
   * only a registry; other tools ignore keys they do not know) */
  g_autofree char *trust =
    t->trust ? json_dumps(t->trust, JSON_COMPACT | JSON_SORT_KEYS) : g_strdup("null");
  g_autofree char *nsig = g_strdup_printf(
    "%zu", json_array_size(json_object_get(t->trust, "signatures")));
  g_autoptr(GVariant) meta = string_metadata(
      "docker.manifest", manifest_text, "docker.digest", digest, "signatures", nsig,
      "syscontainer.trust", trust,
      "syscontainer.transport", sc_image_source_transport(t->src), "syscontainer.source",
      sc_image_source_description(t->src), NULL);
  g_autofree char *commit = NULL;
  g_autofree char *enc = sc_ref_encode(t->name);
  g_autofree char *ref = g_strconcat(SC_REF_PREFIX, enc, NULL);

  if (!commit_single_file(t->repo, "manifest.json", manifest, meta, t->name, &commit, error) ||
      !sc_store_sync(t->repo, error) ||
      !sc_store_keep_displaced(t->repo, ref, t->res.manifest_hex, TRUE, error))
    return FALSE;
  ostree_repo_transaction_set_ref(t->repo, NULL, ref, commit);
  if (!ostree_repo_commit_transaction(t->repo, NULL, NULL, error))
    return FALSE;
  t->in_txn = FALSE;
  sc_context_log(t->ctx, SC_LOG_INFO, "%s: stored (commit %s, %u of %u layers imported)", t->name,
                 commit, t->todo->len, t->n_layers);
  return TRUE;
}

static json_t *
pull_report(Pull *t)
{
  return json_pack("{s:i, s:s, s:s, s:s, s:i, s:i, s:I}", "schema", 1, "name", t->name, "id",
                   t->res.manifest_hex, "reference", sc_image_source_description(t->src), "layers",
                   t->n_layers, "layers_imported", t->todo->len, "bytes_read",
                   (json_int_t)pull_bytes(t));
}

static const char *
req_type_name(ScReqType type)
{
  switch (type) {
  case SC_REQ_INSECURE_ACCEPT:
    return "insecureAcceptAnything";
  case SC_REQ_REJECT:
    return "reject";
  case SC_REQ_SIGNED_BY:
    return "signedBy";
  case SC_REQ_SIGSTORE_SIGNED:
    return "sigstoreSigned";
  }
  return "?";
}

/* The signature @sig that satisfied requirement @index, as the trust
 * record keeps it: the raw bytes (base64), who signed. */
static json_t *
kept_signature(const ScPolicyRequirement *req, guint index, ScSignature *sig, const char *signer)
{
  g_autofree char *data =
    g_base64_encode(g_bytes_get_data(sig->data, NULL), g_bytes_get_size(sig->data));

  return json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s?}", "requirement", (int)index, "type",
                   req_type_name(req->type), "signer", signer ? signer : "", "origin",
                   sig->origin ? sig->origin : "", "format",
                   sig->format == SC_SIG_SIGSTORE ? "sigstore" : "simple", "data", data,
                   "sigstore", sig->sigstore);
}

/* One signedBy or sigstoreSigned requirement: registries.d is read for
 * the lookaside the first time one needs it. The satisfying signature is
 * added to @kept. */
static gboolean
policy_signed(sc_context *ctx, ScImageSource *src, const ScPolicyRequirement *req, guint index,
              const char *ident, GBytes *top, ScRegistriesD **rd, json_t *kept, GError **error)
{
  g_auto(ScSignatureSources) ss = { 0 };
  const char *repository = NULL, *lookaside = NULL;
  g_autofree char *hex = sc_sha256_hex(g_bytes_get_data(top, NULL), g_bytes_get_size(top));
  g_autofree char *digest = g_strconcat("sha256:", hex, NULL);
  g_autofree char *signer = NULL;
  g_autoptr(ScSignature) sig = NULL;

  if (*rd == NULL &&
      (*rd = sc_registriesd_load(sc_context_registries_d(ctx), sc_context_get_sysroot(ctx),
                                 error)) == NULL)
    return FALSE;
  ss.registry = sc_image_source_registry(src, &repository);
  ss.tls_verify = TRUE; /* (a lookaside is not the registry: its TLS is checked) */
  if (ss.registry != NULL) {
    sc_registriesd_lookup(*rd, ident, &lookaside, &ss.use_sigstore_attachments);
    ss.lookaside = lookaside ? g_strdup(lookaside) : sc_registriesd_builtin_lookaside();
    ss.repo = g_strdup(repository);
  }
  if (!sc_signature_check_keep(req, ident, top, digest, &ss, &signer, &sig, error))
    return FALSE;
  sc_context_log(ctx, SC_LOG_INFO, "%s: signed by %s (%s)", sc_image_source_description(src),
                 signer ? signer : "?", req->scope);
  if (sig)
    json_array_append_new(kept, kept_signature(req, index, sig, signer));
  return TRUE;
}

/* The signature policy's verdict on the image @src names (@top: the
 * manifest its reference names), before anything is stored: every
 * requirement of the scope that applies must hold. *@out_trust: the
 * trust record kept with the image (see sc_trust_reverify()). */
gboolean
sc_policy_check_image(sc_context *ctx, ScImageSource *src, GBytes *top, json_t **out_trust,
                      GError **error)
{
  g_autoptr(ScPolicy) policy = NULL;
  g_autoptr(ScRegistriesD) rd = NULL;
  g_autoptr(GPtrArray) reqs = NULL;
  g_autofree char *ident = sc_image_source_policy_identity(src);
  g_autofree char *hex = sc_sha256_hex(g_bytes_get_data(top, NULL), g_bytes_get_size(top));
  g_autofree char *digest = g_strconcat("sha256:", hex, NULL);
  json_t *kept = json_array();
  const char *scope = NULL;

  policy = sc_policy_load(sc_context_signature_policy(ctx), sc_context_get_sysroot(ctx), error);
  if (policy == NULL)
    goto fail;
  reqs = sc_policy_requirements_for(policy, sc_image_source_transport(src), ident, &scope);
  for (guint i = 0; i < reqs->len; i++) {
    const ScPolicyRequirement *req = reqs->pdata[i];
    switch (req->type) {
    case SC_REQ_INSECURE_ACCEPT:
      break;
    case SC_REQ_REJECT:
      g_set_error(error, SC_ERROR, SC_ESIGNATURE, "%s: rejected by policy (%s in %s)",
                  sc_image_source_description(src), scope, sc_policy_file(policy));
      goto fail;
    case SC_REQ_SIGNED_BY:
    case SC_REQ_SIGSTORE_SIGNED:
      if (!policy_signed(ctx, src, req, i, ident, top, &rd, kept, error)) {
        g_prefix_error(error, "%s: refused by policy (%s[%u] in %s): ",
                       sc_image_source_description(src), scope, i, sc_policy_file(policy));
        goto fail;
      }
      break;
    }
  }
  if (out_trust)
    *out_trust = json_pack("{s:i, s:s, s:s, s:s, s:s?, s:o}", "schema", 1, "transport",
                           sc_image_source_transport(src), "identity", ident, "digest", digest,
                           "scope", scope, "signatures", kept);
  else
    json_decref(kept);
  return TRUE;
fail:
  json_decref(kept);
  return FALSE;
}

/* The kept signatures of @record as ScSignature (NULL: malformed). */
static GPtrArray *
kept_signatures(json_t *record)
{
  g_autoptr(GPtrArray) sigs = g_ptr_array_new_with_free_func((GDestroyNotify)sc_signature_free);
  json_t *k;
  size_t i;

  json_array_foreach (json_object_get(record, "signatures"), i, k) {
    const char *data = json_string_value(json_object_get(k, "data"));
    const char *format = json_string_value(json_object_get(k, "format"));
    ScSignature *sig;
    gsize len;
    guchar *raw;

    if (data == NULL || format == NULL)
      return NULL;
    raw = g_base64_decode(data, &len);
    sig = g_new0(ScSignature, 1);
    sig->format = strcmp(format, "sigstore") == 0 ? SC_SIG_SIGSTORE : SC_SIG_SIMPLE;
    sig->data = g_bytes_new_take(raw, len);
    sig->sigstore = g_strdup(json_string_value(json_object_get(k, "sigstore")));
    sig->origin = g_strdup_printf("kept signature %zu", i + 1);
    g_ptr_array_add(sigs, sig);
  }
  return g_steal_pointer(&sigs);
}

/* Whether @record was made for the image whose manifest is sha256:@hex:
 * the signed digest is the manifest's, or that of the kept index that
 * lists it (a record moved from another image is refused). */
static gboolean
record_is_of(json_t *record, const char *hex, GError **error)
{
  const char *digest = json_string_value(json_object_get(record, "digest"));
  const char *b64 = json_string_value(json_object_get(record, "index"));
  g_autofree char *mine = g_strconcat("sha256:", hex, NULL);
  g_autofree guchar *raw = NULL;
  g_autofree char *index_hex = NULL;
  json_t *index = NULL, *m;
  gsize len = 0;
  size_t i;
  gboolean found = FALSE;

  if (strcmp(digest, mine) == 0)
    return TRUE;
  if (b64) {
    raw = g_base64_decode(b64, &len);
    index_hex = sc_sha256_hex(raw, len);
    if (g_str_has_prefix(digest, "sha256:") && strcmp(digest + strlen("sha256:"), index_hex) == 0)
      index = json_loadb((const char *)raw, len, 0, NULL);
  }
  json_array_foreach (json_object_get(index, "manifests"), i, m)
    found = found || g_strcmp0(json_string_value(json_object_get(m, "digest")), mine) == 0;
  json_decref(index);
  if (!found)
    g_set_error(error, SC_ERROR, SC_ESIGNATURE,
                "the trust record is of %s, not of this image (%s)", digest, mine);
  return found;
}

gboolean
sc_trust_reverify(sc_context *ctx, json_t *record, const char *manifest_hex, char **out_signers,
                  GError **error)
{
  g_autoptr(ScPolicy) policy = NULL;
  g_autoptr(GPtrArray) reqs = NULL;
  g_autoptr(GPtrArray) sigs = kept_signatures(record);
  g_autoptr(GString) signers = g_string_new(NULL);
  const char *transport = json_string_value(json_object_get(record, "transport"));
  const char *ident = json_string_value(json_object_get(record, "identity"));
  const char *digest = json_string_value(json_object_get(record, "digest"));
  const char *scope = NULL;

  if (transport == NULL || ident == NULL || digest == NULL || sigs == NULL) {
    g_set_error(error, SC_ERROR, SC_EIO, "the image's trust record is malformed");
    return FALSE;
  }
  if (!record_is_of(record, manifest_hex, error))
    return FALSE;
  policy = sc_policy_load(sc_context_signature_policy(ctx), sc_context_get_sysroot(ctx), error);
  if (policy == NULL)
    return FALSE;
  reqs = sc_policy_requirements_for(policy, transport, ident, &scope);
  for (guint i = 0; i < reqs->len; i++) {
    const ScPolicyRequirement *req = reqs->pdata[i];
    g_autofree char *signer = NULL;

    if (!sc_signature_check_sigs(req, ident, digest, sigs, "none kept with the image", NULL,
                                 &signer, error)) {
      g_prefix_error(error, "%s[%u] in %s: ", scope, i, sc_policy_file(policy));
      return FALSE;
    }
    if (signer)
      g_string_append_printf(signers, "%s%s", signers->len ? ", " : "", signer);
  }
  /* no signature needed: who accepted it instead */
  if (signers->len == 0)
    g_string_printf(signers, "unsigned (accepted by %s)", scope);
  *out_signers = g_string_free(g_steal_pointer(&signers), FALSE);
  return TRUE;
}

/* Imports the image @res describes (taken over) from @src. */
gboolean
sc_pull_resolved(sc_context *ctx, ScImageSource *src, const sc_pull_opts *opts, ScResolved *res_in,
                 const char *store_name, json_t **out_report, GError **error)
{
  g_auto(Pull) t = {0};

  t.ctx = ctx;
  t.src = src;
  t.opts = opts;
  t.lock = -1;
  t.res = *res_in;
  memset(res_in, 0, sizeof(*res_in));
  if (!sc_policy_check_image(ctx, src, t.res.top_manifest, &t.trust, error))
    return FALSE;
  /* the signed digest is the index's when the reference names one: its
   * bytes are kept too, so that verify can tie the record to the image */
  if (t.res.top_manifest && t.res.manifest && !g_bytes_equal(t.res.top_manifest, t.res.manifest)) {
    g_autofree char *index = g_base64_encode(g_bytes_get_data(t.res.top_manifest, NULL),
                                             g_bytes_get_size(t.res.top_manifest));
    json_object_set_new(t.trust, "index", json_string(index));
  }
  if (!pull_begin(&t, store_name, error))
    return FALSE;
  sc_context_log(ctx, SC_LOG_INFO, "%s: manifest sha256:%s, to be stored as %s",
                 sc_image_source_description(src), t.res.manifest_hex, t.name);
  if (!pull_plan(&t, error) || !pull_fetch(&t, error) || !pull_settle(&t, error) ||
      !pull_commit_config(&t, error) || !pull_commit_image(&t, error))
    return FALSE;
  *out_report = pull_report(&t);
  return TRUE;
}

gboolean
sc_image_pull_internal(sc_context *ctx, const char *source, const sc_pull_opts *opts,
                       char **out_name, json_t **out_report, GError **error)
{
  g_autoptr(ScImageSource) src = NULL;
  g_auto(ScResolved) res = {0};
  json_t *report = NULL;
  ScSourceOptions sopts = {0};

  OstreeRepo *repo = NULL;

  sc_pull_opts_source_options(opts, &sopts);
  sopts.log = ctx;
  src = sc_image_source_open(source, &sopts, error);
  /* the store, when there is one, gives the config of an image it has */
  if (src != NULL && !sc_store_open(ctx, FALSE, &repo, NULL))
    repo = NULL;
  if (src == NULL || !sc_resolve_image_stored(src, opts, repo, &res, error) ||
      !sc_pull_resolved(ctx, src, opts, &res, NULL, &report, error))
    return FALSE;
  if (out_name)
    *out_name = g_strdup(json_string_value(json_object_get(report, "name")));
  if (out_report)
    *out_report = report;
  else
    json_decref(report);
  return TRUE;
}

SC_API int
sc_image_pull(sc_context *ctx, const char *source, const sc_pull_opts *opts, char **out_json,
              sc_error **error)
{
  GError *gerror = NULL;
  json_t *report = NULL;

  SC_CHECK_ARG(ctx != NULL && source != NULL, error);
  if (!sc_image_pull_internal(ctx, source, opts, NULL, &report, &gerror))
    return sc_error_propagate(error, gerror);
  if (out_json)
    *out_json = sc_json_dump(report, TRUE);
  json_decref(report);
  return SC_OK;
}
