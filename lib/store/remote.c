/*
 * Questions for the registry: what an image is before pulling it (inspect
 * --remote), and whether the images in the store are still current
 * (update).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "store.h"

#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

/* What inspect --remote keeps of /exports in memory, all layers together
 * (each file is at most 4 MiB); $SC_MAX_EXPORTS_BYTES overrides it. */
#define DEFAULT_MAX_EXPORTS (64 * 1024 * 1024)

static guint64
max_exports_bytes(void)
{
  const char *v = g_getenv("SC_MAX_EXPORTS_BYTES");
  guint64 n;

  return v && g_ascii_string_to_unsigned(v, 10, 1, G_MAXUINT64, &n, NULL) ? n
                                                                           : DEFAULT_MAX_EXPORTS;
}

/* The template variables of the /exports that @files (from the layers)
 * hold, through a scratch directory that is removed again. */
static json_t *
variables_of(GHashTable *files, GError **error)
{
  g_autofree char *tmp = g_dir_make_tmp("sc-remote-XXXXXX", error);
  g_autofree char *exports = NULL;
  GHashTableIter it;
  gpointer key, value;
  json_t *vars;

  if (tmp == NULL)
    return NULL;
  exports = g_build_filename(tmp, "exports", NULL);
  g_mkdir(exports, 0700);
  g_hash_table_iter_init(&it, files);
  while (g_hash_table_iter_next(&it, &key, &value)) {
    g_autofree char *path = g_build_filename(tmp, key, NULL);
    g_autofree char *dir = g_path_get_dirname(path);
    g_mkdir_with_parents(dir, 0700);
    g_file_set_contents(path, g_bytes_get_data(value, NULL), g_bytes_get_size(value), NULL);
  }
  vars = sc_exports_dir_variables(exports);
  sc_rm_rf(tmp);
  return vars;
}

SC_API int
sc_image_inspect_remote_json(sc_context *ctx, const char *source, const sc_pull_opts *opts,
                             char **out_json, sc_error **error)
{
  GError *gerror = NULL;
  ScSourceOptions sopts;
  ScImageSource *src;
  ScResolved res = {0};
  g_autoptr(GHashTable) files = sc_exports_scan_new();
  ScLayerLimits limits;
  json_t *doc = NULL, *layers, *l, *diff_ids, *vars, *cfg;
  size_t i;

  SC_CHECK_ARG(ctx != NULL && source != NULL && out_json != NULL, error);
  sc_pull_opts_source_options(opts, &sopts);
  src = sc_image_source_open(source, &sopts, &gerror);
  if (src == NULL)
    return sc_error_propagate(error, gerror);
  if (!sc_resolve_image(src, opts, &res, &gerror))
    goto fail;
  sc_context_layer_limits(ctx, &limits);
  limits.max_exports = max_exports_bytes();
  cfg = res.cdoc;
  diff_ids = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
  layers = json_array();
  /* the layers are read (and checked) for /exports, not stored */
  json_array_foreach(json_object_get(res.mdoc, "layers"), i, l)
  {
    const char *digest = json_string_value(json_object_get(l, "digest"));
    const char *diff_id = json_string_value(json_array_get(diff_ids, i));
    guint64 size = json_integer_value(json_object_get(l, "size")), got = 0;
    g_autoptr(GInputStream) in = NULL;
    json_array_append_new(layers, json_pack("{s:s?, s:s?, s:I}", "digest", digest, "diff_id",
                                            diff_id, "size", (json_int_t)size));
    /* as the pull checks them: a layer read short would pass for another */
    if (digest == NULL || !json_is_integer(json_object_get(l, "size")) ||
        json_integer_value(json_object_get(l, "size")) < 0) {
      g_set_error(&gerror, SC_ERROR, SC_EIO, "%s: layer %zu has no valid %s",
                  sc_image_source_description(src), i, digest ? "size" : "digest");
      json_decref(layers);
      goto fail;
    }
    in = sc_image_source_open_blob(src, digest, size, &got, &gerror);
    if (in == NULL || !sc_layer_scan_exports(in, digest, size, diff_id, &limits, files, &gerror)) {
      json_decref(layers);
      goto fail;
    }
  }
  vars = variables_of(files, &gerror);
  if (vars == NULL) {
    json_decref(layers);
    goto fail;
  }
  doc = sc_image_document(sc_image_source_name(src), res.manifest_hex, cfg, res.mdoc, layers,
                          vars);
  *out_json = sc_json_dump(doc, TRUE);
  json_decref(doc);
  sc_resolved_clear(&res);
  sc_image_source_free(src);
  return SC_OK;
fail:
  sc_resolved_clear(&res);
  sc_image_source_free(src);
  return sc_error_propagate(error, gerror);
}

/* Why @img cannot be updated from a registry, or NULL: it came from
 * another transport (recorded by the pull), it is under localhost/ (no
 * registry has it; atomic's and older pulls recorded no transport), or its
 * name moved on. */
static char *
update_skip_reason(ScImage *img)
{
  if (img->untagged)
    return g_strdup("no name (its tag moved to another image): nothing to ask a registry for");
  if (g_strcmp0(img->transport, "docker-daemon") == 0)
    return g_strdup("pulled from a Docker daemon (docker:), not from a registry: pull it again "
                    "from there");
  if (img->transport && strcmp(img->transport, "docker") != 0)
    return g_strdup_printf("pulled from %s:, not from a registry: pull it again from there",
                           img->transport);
  if (g_str_has_prefix(img->name, "localhost/"))
    return g_strdup("a local name (localhost/), not from a registry");
  return NULL;
}

/* One image: ask its registry for the current manifest of its name, pull
 * when the digest changed. */
static json_t *
update_one(sc_context *ctx, ScImage *img, const sc_pull_opts *opts, GError **error)
{
  ScSourceOptions sopts;
  ScImageSource *src;
  ScResolved res = {0};
  json_t *item = NULL, *report = NULL;

  g_autofree char *known = g_strconcat("sha256:", img->id, NULL);
  g_autofree char *skip = update_skip_reason(img);

  if (skip != NULL)
    return json_pack("{s:s, s:b, s:s, s:s}", "name", img->untagged ? "<none>" : img->name,
                     "updated", 0, "id", img->id, "skipped", skip);
  sc_pull_opts_source_options(opts, &sopts);
  sopts.known_digest = known;
  src = sc_image_source_open(img->name, &sopts, error);
  if (src == NULL)
    return NULL;
  if (sc_image_source_unchanged(src)) {
    /* HEAD said the tag still names this manifest */
    item = json_pack("{s:s, s:b, s:s}", "name", img->name, "updated", 0, "id", img->id);
  } else if (sc_resolve_image(src, opts, &res, error)) {
    if (strcmp(res.manifest_hex, img->id) == 0)
      item = json_pack("{s:s, s:b, s:s}", "name", img->name, "updated", 0, "id", img->id);
    else {
      g_autofree char *new_id = g_strdup(res.manifest_hex);
      if (sc_pull_resolved(ctx, src, opts, &res, img->name, &report, error)) {
        item = json_pack("{s:s, s:b, s:s, s:s, s:O}", "name", img->name, "updated", 1,
                         "old_id", img->id, "id", new_id, "layers_imported",
                         json_object_get(report, "layers_imported"));
        json_decref(report);
      }
    }
  }
  sc_resolved_clear(&res);
  sc_image_source_free(src);
  return item;
}

SC_API int
sc_images_update_json(sc_context *ctx, const char *image, const sc_pull_opts *opts,
                      char **out_json, sc_error **error)
{
  GError *gerror = NULL;
  OstreeRepo *repo;
  int lock;
  g_autoptr(GPtrArray) imgs = NULL;
  json_t *doc, *arr;

  SC_CHECK_ARG(ctx != NULL && out_json != NULL, error);
  if (!sc_store_open(ctx, FALSE, &repo, &gerror))
    return sc_error_propagate(error, gerror);
  lock = sc_store_lock(ctx, repo, FALSE, &gerror);
  if (lock < 0)
    return sc_error_propagate(error, gerror);
  imgs = image ? sc_images_resolve(repo, image, &gerror) : sc_images_all(repo, &gerror);
  close(lock); /* the pulls take the store lock themselves */
  if (imgs == NULL)
    return sc_error_propagate(error, gerror);
  arr = json_array();
  for (guint i = 0; i < imgs->len; i++) {
    ScImage *img = imgs->pdata[i];
    json_t *item = update_one(ctx, img, opts, &gerror);
    if (item == NULL) {
      if (image != NULL) { /* one named image: its failure is the answer */
        json_decref(arr);
        return sc_error_propagate(error, gerror);
      }
      item = json_pack("{s:s, s:b, s:s, s:s, s:s}",
                       "name",
                       img->name,
                       "updated",
                       0,
                       "id",
                       img->id,
                       "error",
                       gerror->message,
                       "code",
                       sc_error_code_name(gerror->code));
      g_clear_error(&gerror);
    }
    json_array_append_new(arr, item);
  }
  doc = json_pack("{s:i, s:o}", "schema", 1, "images", arr);
  *out_json = sc_json_dump(doc, TRUE);
  json_decref(doc);
  return SC_OK;
}
