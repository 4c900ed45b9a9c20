/*
 * Info: what this host (or sysroot) is set up with, as the other commands
 * would find it: the checkout root, where the store is and why, the
 * runtime. Reading it changes nothing: no store, no directory is made.
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
    rt = json_pack("{s:n, s:s}", "path", "error", gerror->message);
    g_error_free(gerror);
    return rt;
  }
  return json_pack("{s:s}", "path", path);
}

SC_API int
sc_context_info_json(sc_context *ctx, char **out_json, sc_error **error)
{
  json_t *doc;

  SC_CHECK_ARG(ctx != NULL && out_json != NULL, error);
  doc = json_pack("{s:i, s:s, s:s, s:o, s:o}", "schema", 1, "sysroot",
                  sc_context_get_sysroot(ctx), "checkout-root", sc_context_get_checkout_root(ctx),
                  "store", sc_store_location_json(ctx), "runtime", runtime_json(ctx));
  *out_json = json_dumps(doc, JSON_INDENT(2));
  json_decref(doc);
  return SC_OK;
}
