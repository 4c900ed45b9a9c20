/*
 * Info: what this host (or sysroot) is set up with, as the other commands
 * would find it: atomic.conf, the checkout root, where the store is and
 * why, the runtime, registries.conf, the SELinux policy. Reading it changes
 * nothing: no store, no directory is made.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "container.h"

static json_t *
runtime_json(sc_context *ctx)
{
  GError *gerror = NULL;
  const char *path = NULL;
  json_t *rt;

  if (!sc_context_runtime_path(ctx, &path, &gerror)) {
    rt = json_pack("{s:s, s:n, s:s}",
                   "configured",
                   sc_context_get_runtime(ctx),
                   "path",
                   "error",
                   gerror->message);
    g_error_free(gerror);
    return rt;
  }
  return json_pack("{s:s, s:s}", "configured", sc_context_get_runtime(ctx), "path", path);
}

/* atomic.conf: the file read, or the reason it could not be */
static json_t *
atomic_conf_json(sc_context *ctx)
{
  sc_error *error = NULL;
  json_t *conf;

  if (sc_context_load_config(ctx, &error) != SC_OK) {
    conf = json_pack("{s:n, s:s}", "file", "error", sc_error_message(error));
    sc_error_free(error);
    return conf;
  }
  return json_pack("{s:s?}", "file", sc_context_get_config_file(ctx));
}

/* SELinux: the policy type labels would come from, or why there is none */
static json_t *
selinux_json(sc_context *ctx)
{
  sc_error *error = NULL;
  const char *type = NULL;
  json_t *se;

  if (sc_context_get_selinux_policy(ctx, &type, &error) != SC_OK) {
    se = json_pack("{s:n, s:s}", "policy", "error", sc_error_message(error));
    sc_error_free(error);
    return se;
  }
  return json_pack("{s:s?}", "policy", type);
}

/* registries.conf: the files a pull would read, in order */
static json_t *
registries_conf_json(void)
{
  GError *gerror = NULL;
  g_autoptr(ScRegConf) c = sc_regconf_load(NULL, &gerror);
  json_t *files = json_array();

  if (c == NULL) {
    json_t *out = json_pack("{s:o, s:s}", "files", files, "error", gerror->message);
    g_error_free(gerror);
    return out;
  }
  for (guint i = 0; i < c->files->len; i++)
    json_array_append_new(files, json_string(c->files->pdata[i]));
  return json_pack("{s:o}", "files", files);
}

SC_API int
sc_context_info_json(sc_context *ctx, char **out_json, sc_error **error)
{
  json_t *doc, *conf;

  SC_CHECK_ARG(ctx != NULL && out_json != NULL, error);
  {
    /* nothing in a sysroot that cannot be read can be shown as usable */
    GError *gerror = NULL;
    if (!sc_context_sysroot_readable(ctx, &gerror))
      return sc_error_propagate(error, gerror);
  }
  /* a user without a home has no places to show (never relative ones) */
  if (sc_context_is_user(ctx) &&
      (sc_context_user_data_dir(ctx) == NULL || sc_context_user_config_dir(ctx) == NULL)) {
    GError *gerror = NULL;
    if (!sc_context_config_check(ctx, &gerror))
      return sc_error_propagate(error, gerror);
  }
  conf = atomic_conf_json(ctx); /* first: the rest follows from it */

  doc = json_pack("{s:i, s:s, s:o, s:s, s:o, s:o, s:o, s:o}",
                  "schema",
                  1,
                  "sysroot",
                  sc_context_get_sysroot(ctx),
                  "atomic_conf",
                  conf,
                  "checkout_root",
                  sc_context_get_checkout_root(ctx),
                  "store",
                  sc_store_location_json(ctx),
                  "runtime",
                  runtime_json(ctx),
                  "registries_conf",
                  registries_conf_json(),
                  "selinux",
                  selinux_json(ctx));
  /* user containers: whose, and where their units go */
  {
    g_autofree char *units = sc_context_unit_dir(ctx);
    json_object_set_new(doc, "mode", json_string(sc_context_is_user(ctx) ? "user" : "system"));
    json_object_set_new(doc, "unit_dir", json_string(units));
  }
  *out_json = json_dumps(doc, JSON_INDENT(2));
  json_decref(doc);
  return SC_OK;
}
