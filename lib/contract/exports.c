/*
 * An image's exports: the contract files under /exports, read once.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "contract.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static gboolean
is_dir(const char *path)
{
  struct stat st;
  return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static gboolean
is_link(const char *path)
{
  struct stat st;
  return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

/* The exports directory of @dir: DIR/rootfs/exports, DIR/exports, or DIR.
 * An image's exports that are a link are refused, not followed: a link to
 * /etc would install the host's own files as the image's. */
static char *
locate_exports(const char *dir, GError **error)
{
  g_autofree char *rootfs = g_build_filename(dir, "rootfs", "exports", NULL);
  g_autofree char *exports = g_build_filename(dir, "exports", NULL);
  const char *candidates[] = {rootfs, exports};

  for (guint i = 0; i < G_N_ELEMENTS(candidates); i++) {
    if (is_link(candidates[i])) {
      g_set_error(error, SC_ERROR, SC_EUNSUPPORTED,
                  "%s: is a symbolic link; an image's exports must be a directory",
                  candidates[i]);
      return NULL;
    }
    if (is_dir(candidates[i]))
      return g_strdup(candidates[i]);
  }
  return g_strdup(dir);
}

static gboolean
read_export(int dirfd, const char *path, const char *name, ScExportFile *file, GError **error)
{
  gboolean exists;

  file->name = g_strdup(name);
  file->data = sc_read_file_nofollow(dirfd, path, name, &exists, error);
  if (file->data == NULL)
    return !exists;
  /* Templates and JSON are text: atomic decoded them as UTF-8 and failed
   * on anything else. */
  if (!g_utf8_validate_len(
        g_bytes_get_data(file->data, NULL), g_bytes_get_size(file->data), NULL)) {
    g_set_error(error, SC_ERROR, SC_EIO, "%s/%s: is not valid UTF-8 text", path, name);
    return FALSE;
  }
  return TRUE;
}

static void
export_file_clear(ScExportFile *f)
{
  g_clear_pointer(&f->name, g_free);
  g_clear_pointer(&f->data, g_bytes_unref);
}

gboolean
sc_exports_parse_manifest(sc_exports *ex, GError **error)
{
  gsize len;
  const char *text = g_bytes_get_data(ex->manifest.data, &len);
  json_error_t jerr;
  json_t *doc, *v;
  const char *key;
  gboolean ok = FALSE;
  g_autofree char *label = g_build_filename(ex->path, "manifest.json", NULL);

  {
    GError *budget = NULL;
    if (!sc_json_check_budget(label, text, len, &budget)) {
      budget->code = SC_EMANIFEST;
      g_propagate_error(error, budget);
      return FALSE;
    }
  }
  doc = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
  if (doc == NULL)
    return sc_set_error_prefixed(error,
                                 SC_EMANIFEST,
                                 label,
                                 "invalid JSON at line %d, column %d: %s",
                                 jerr.line,
                                 jerr.column,
                                 jerr.text);
  if (!json_is_object(doc)) {
    sc_set_error_prefixed(error, SC_EMANIFEST, label, "the document must be a JSON object");
    goto out;
  }

  v = json_object_get(doc, "defaultValues");
  if (v != NULL && !json_is_object(v) && !json_is_null(v)) {
    sc_set_error_prefixed(error, SC_EMANIFEST, label, "defaultValues must be an object of strings");
    goto out;
  }
  if (json_is_object(v)) {
    json_t *val;
    json_object_foreach (v, key, val) {
      g_autofree char *s = NULL;
      /* atomic str()-ed whatever JSON gave it; keep the spellings Python
       * produced for the scalars an author may plausibly have written. */
      if (json_is_string(val))
        s = g_strdup(json_string_value(val));
      else if (json_is_integer(val))
        s = g_strdup_printf("%" JSON_INTEGER_FORMAT, json_integer_value(val));
      else if (json_is_boolean(val))
        s = g_strdup(json_is_true(val) ? "True" : "False");
      else {
        sc_set_error_prefixed(error, SC_EMANIFEST, label, "defaultValues.%s must be a string", key);
        goto out;
      }
      /* A key that is not an identifier can never be referenced by a
       * template; atomic ignored it, and so do we (lint warns). */
      if (sc_values_is_identifier(key, strlen(key)))
        sc_values_insert(ex->defaults, key, s, NULL);
    }
  }

  v = json_object_get(doc, "noContainerService");
  if (v != NULL && !json_is_boolean(v)) {
    sc_set_error_prefixed(error, SC_EMANIFEST, label, "noContainerService must be true or false");
    goto out;
  }
  ex->no_container_service = json_is_true(v);

  v = json_object_get(doc, "useLinks");
  if (v != NULL && !json_is_boolean(v)) {
    sc_set_error_prefixed(error, SC_EMANIFEST, label, "useLinks must be true or false");
    goto out;
  }
  ex->use_links = (v == NULL) || json_is_true(v);

  v = json_object_get(doc, "installedFilesTemplate");
  if (v != NULL && !json_is_array(v)) {
    sc_set_error_prefixed(
      error, SC_EMANIFEST, label, "installedFilesTemplate must be an array of absolute paths");
    goto out;
  }
  if (v != NULL) {
    size_t i;
    json_t *item;
    json_array_foreach (v, i, item) {
      if (!json_is_string(item) || json_string_value(item)[0] != '/') {
        sc_set_error_prefixed(
          error, SC_EMANIFEST, label, "installedFilesTemplate[%zu] must be an absolute path", i);
        goto out;
      }
      g_ptr_array_add(ex->installed_files_template, g_strdup(json_string_value(item)));
    }
  }

  v = json_object_get(doc, "renameFiles");
  if (v != NULL && !json_is_object(v)) {
    sc_set_error_prefixed(
      error, SC_EMANIFEST, label, "renameFiles must be an object mapping host paths to paths");
    goto out;
  }
  if (v != NULL) {
    json_t *val;
    json_object_foreach (v, key, val) {
      if (!json_is_string(val)) {
        sc_set_error_prefixed(
          error, SC_EMANIFEST, label, "renameFiles[\"%s\"] must be a string", key);
        goto out;
      }
      g_ptr_array_add(ex->rename_files, g_strdup(key));
      g_ptr_array_add(ex->rename_files, g_strdup(json_string_value(val)));
    }
  }
  ok = TRUE;
out:
  json_decref(doc);
  return ok;
}

/* @nofollow: ex->path is inside an image, where a link is not followed. */
static gboolean
exports_load(sc_exports *ex, gboolean nofollow, GError **error)
{
  int dirfd;
  gboolean ok;

  dirfd = open(ex->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0));
  if (dirfd < 0 && nofollow && (errno == ELOOP || errno == ENOTDIR) && is_link(ex->path)) {
    g_set_error(error, SC_ERROR, SC_EUNSUPPORTED,
                "%s: is a symbolic link; an image's exports must be a directory", ex->path);
    return FALSE;
  }
  if (dirfd < 0) {
    g_set_error(error,
                SC_ERROR,
                errno == ENOENT ? SC_ENOTFOUND : SC_EIO,
                "image directory '%s': %s",
                ex->path,
                g_strerror(errno));
    return FALSE;
  }
  ok = read_export(dirfd, ex->path, "config.json", &ex->config, error) &&
       read_export(dirfd, ex->path, "config.json.template", &ex->config_template, error) &&
       read_export(dirfd, ex->path, "service.template", &ex->service_template, error) &&
       read_export(dirfd, ex->path, "tmpfiles.template", &ex->tmpfiles_template, error) &&
       read_export(dirfd, ex->path, "manifest.json", &ex->manifest, error);
  if (ok) {
    struct stat st;
    ex->has_hostfs = fstatat(dirfd, "hostfs", &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (ex->has_hostfs && !S_ISDIR(st.st_mode)) {
      /* not skipped quietly: the image meant to install host files */
      g_set_error(error, SC_ERROR, SC_EUNSUPPORTED,
                  "%s/hostfs: is %s; an image's hostfs must be a directory", ex->path,
                  S_ISLNK(st.st_mode) ? "a symbolic link" : "not a directory");
      ok = FALSE;
    }
  }
  close(dirfd);
  if (!ok)
    return FALSE;
  ex->has_manifest = ex->manifest.data != NULL;
  if (ex->has_manifest && !sc_exports_parse_manifest(ex, error))
    return FALSE;
  return TRUE;
}

sc_exports *
sc_exports_load_dir(const char *exports_dir, GError **error)
{
  sc_exports *ex = sc_exports_new_empty(exports_dir);

  if (!exports_load(ex, TRUE, error)) {
    sc_exports_free(ex);
    return NULL;
  }
  return ex;
}

sc_exports *
sc_exports_new_empty(const char *path)
{
  sc_exports *ex = g_new0(sc_exports, 1);
  ex->build_dir = g_strdup(path);
  ex->path = g_strdup(path);
  ex->defaults = sc_values_new_internal();
  ex->use_links = TRUE;
  ex->installed_files_template = g_ptr_array_new_with_free_func(g_free);
  ex->rename_files = g_ptr_array_new_with_free_func(g_free);
  return ex;
}

sc_exports *
sc_exports_open_internal(const char *dir, GError **error)
{
  sc_exports *ex;
  struct stat st;

  if (stat(dir, &st) != 0) {
    g_set_error(error, SC_ERROR, errno == ENOENT ? SC_ENOTFOUND : SC_EIO,
                "image directory '%s': %s", dir, g_strerror(errno));
    return NULL;
  }
  if (!S_ISDIR(st.st_mode)) {
    g_set_error(error, SC_ERROR, SC_EINVAL, "image directory '%s': not a directory", dir);
    return NULL;
  }
  ex = sc_exports_new_empty(dir);
  g_free(ex->path);
  ex->path = locate_exports(dir, error);
  if (ex->path == NULL || !exports_load(ex, strcmp(ex->path, dir) != 0, error)) {
    sc_exports_free(ex);
    return NULL;
  }
  return ex;
}

SC_API int
sc_exports_open(const char *dir, sc_exports **out_exports, sc_error **error)
{
  GError *gerror = NULL;

  SC_CHECK_ARG(dir != NULL && out_exports != NULL, error);
  *out_exports = sc_exports_open_internal(dir, &gerror);
  return *out_exports ? SC_OK : sc_error_propagate(error, gerror);
}

SC_API void
sc_exports_free(sc_exports *ex)
{
  if (ex == NULL)
    return;
  g_free(ex->path);
  g_free(ex->build_dir);
  export_file_clear(&ex->config);
  export_file_clear(&ex->config_template);
  export_file_clear(&ex->service_template);
  export_file_clear(&ex->tmpfiles_template);
  export_file_clear(&ex->manifest);
  sc_values_free(ex->defaults);
  g_ptr_array_unref(ex->installed_files_template);
  g_ptr_array_unref(ex->rename_files);
  g_free(ex);
}

SC_API const char *
sc_exports_get_path(const sc_exports *ex)
{
  return ex ? ex->path : NULL;
}

SC_API int
sc_exports_get_defaults(const sc_exports *ex, sc_values **out_values, sc_error **error)
{
  SC_CHECK_ARG(ex != NULL && out_values != NULL, error);
  return sc_values_copy(ex->defaults, out_values, error);
}

SC_API int
sc_exports_has_container_service(const sc_exports *ex)
{
  return ex ? !ex->no_container_service : 0;
}

static gboolean
scan_file(const ScExportFile *f,
          const char *fallback_text,
          const char *label_name,
          GPtrArray *order,
          GHashTable *files_by_var,
          GError **error)
{
  const char *text;
  gsize len;
  g_autoptr(GPtrArray) vars = NULL;

  if (f->data) {
    text = g_bytes_get_data(f->data, &len);
  } else if (fallback_text) {
    text = fallback_text;
    len = strlen(text);
  } else
    return TRUE;
  vars = sc_template_scan(label_name, text, len, error);
  if (vars == NULL)
    return FALSE;
  for (guint i = 0; i < vars->len; i++) {
    GPtrArray *files = g_hash_table_lookup(files_by_var, vars->pdata[i]);
    if (files == NULL) {
      files = g_ptr_array_new_with_free_func(g_free);
      g_hash_table_insert(files_by_var, g_strdup(vars->pdata[i]), files);
      g_ptr_array_add(order, g_strdup(vars->pdata[i]));
    }
    g_ptr_array_add(files, g_strdup(label_name));
  }
  return TRUE;
}

json_t *
sc_exports_dir_variables(const char *dir)
{
  struct stat st;
  /* no /exports: what an install renders, the built-in files' variables */
  g_autoptr(sc_exports) ex = lstat(dir, &st) != 0 && errno == ENOENT
                               ? sc_exports_new_empty(dir)
                               : sc_exports_open_internal(dir, NULL);
  json_t *vars = ex ? sc_exports_variables(ex, NULL) : NULL;

  return vars ? vars : json_array();
}

json_t *
sc_exports_variables(const sc_exports *ex, GError **error)
{
  g_autoptr(GPtrArray) order = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GHashTable) files_by_var =
    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
  GError *gerror = NULL;
  json_t *arr;

  if ((!ex->config.data &&
       !scan_file(
         &ex->config_template, NULL, "config.json.template", order, files_by_var, &gerror)) ||
      (!ex->no_container_service && !scan_file(&ex->service_template,
                                               sc_unit_default,
                                               "service.template",
                                               order,
                                               files_by_var,
                                               &gerror)) ||
      !scan_file(&ex->tmpfiles_template, NULL, "tmpfiles.template", order, files_by_var, &gerror)) {
    g_propagate_error(error, gerror);
    return NULL;
  }
  for (guint i = 0; i + 1 < ex->rename_files->len; i += 2) {
    ScExportFile f = { NULL,
                       g_bytes_new_static(ex->rename_files->pdata[i + 1],
                                          strlen(ex->rename_files->pdata[i + 1])) };
    gboolean ok = scan_file(&f, NULL, "manifest.json", order, files_by_var, &gerror);
    g_bytes_unref(f.data);
    if (!ok) {
      g_propagate_error(error, gerror);
      return NULL;
    }
  }

  arr = json_array();
  for (guint i = 0; i < order->len; i++) {
    const char *name = order->pdata[i];
    GPtrArray *files = g_hash_table_lookup(files_by_var, name);
    json_t *item = json_object();
    json_t *jfiles = json_array();
    const char *def = sc_values_get(ex->defaults, name);
    const char *source;

    json_object_set_new(item, "name", json_string(name));
    for (guint j = 0; j < files->len; j++) {
      gboolean dup = FALSE;
      for (guint k = 0; k < j; k++)
        dup = dup || strcmp(files->pdata[k], files->pdata[j]) == 0;
      if (!dup)
        json_array_append_new(jfiles, json_string(files->pdata[j]));
    }
    json_object_set_new(item, "files", jfiles);
    if (sc_strv_has(sc_forced_variables, name))
      source = "forced";
    else if (def != NULL)
      source = "manifest";
    else if (sc_strv_has(sc_host_variables, name))
      source = "host";
    else
      source = "required";
    json_object_set_new(item, "source", json_string(source));
    if (def != NULL && strcmp(source, "manifest") == 0)
      json_object_set_new(item, "default", json_string(def));
    json_array_append_new(arr, item);
  }
  /* a defaultValues entry no template uses is still a variable the image
   * declares (a --set of it is no typo): listed last, used by no file */
  for (size_t i = 0; i < sc_values_count(ex->defaults); i++) {
    const char *name = sc_values_key_at(ex->defaults, i);
    if (g_hash_table_contains(files_by_var, name) || sc_strv_has(sc_forced_variables, name))
      continue;
    json_array_append_new(arr,
                          json_pack("{s:s, s:[], s:s, s:s}",
                                    "name",
                                    name,
                                    "files",
                                    "source",
                                    "manifest",
                                    "default",
                                    sc_values_get(ex->defaults, name)));
  }
  return arr;
}

SC_API int
sc_exports_variables_json(const sc_exports *ex, char **out_json, sc_error **error)
{
  GError *gerror = NULL;
  g_autoptr(json_t) doc = NULL;
  json_t *vars;

  SC_CHECK_ARG(ex != NULL && out_json != NULL, error);
  vars = sc_exports_variables(ex, &gerror);
  if (vars == NULL)
    return sc_error_propagate(error, gerror);
  doc = json_pack("{s:i, s:o}", "schema", 1, "variables", vars);
  *out_json = sc_json_dump(doc, TRUE);
  return SC_OK;
}
