/* Fuzz target: the layer entry checks (layercheck.c): path splitting and
 * whiteout classification, link targets, the display form of hostile
 * names, and the canonical xattrs. Input: a limits byte, then the path,
 * then lines "name=value" of xattrs (the path's line is also tried as a
 * symlink target). */
#include "sc-private.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_message(GError *error)
{
  /* every message is printable UTF-8 (the CLI puts it in JSON) and bounded
   * whatever the input's length */
  if (error == NULL || !g_utf8_validate(error->message, -1, NULL) || strlen(error->message) > 2048)
    abort();
}

static void
check_path(const char *path, const ScLayerLimits *limits)
{
  g_auto(GStrv) parts = NULL;
  g_autoptr(GError) error = NULL;
  ScWhiteoutKind kind = SC_WHITEOUT_NONE;
  guint n;

  if (!sc_layer_path_check("sha256:fuzz", path, limits, &parts, &kind, &error)) {
    check_message(error);
    if (parts != NULL)
      abort();
    return;
  }
  n = g_strv_length(parts);
  if (n > limits->max_depth || strlen(path) > limits->max_path_bytes || path[0] == '/')
    abort();
  for (guint i = 0; i < n; i++) {
    const char *c = parts[i];
    if (*c == '\0' || strcmp(c, ".") == 0 || strcmp(c, "..") == 0 || strchr(c, '/') ||
        strlen(c) > 255)
      abort();
    if (i + 1 < n && g_str_has_prefix(c, ".wh."))
      abort();
  }
  if (n == 0 ? kind != SC_WHITEOUT_NONE
             : (kind == SC_WHITEOUT_OPAQUE) != (strcmp(parts[n - 1], ".wh..wh..opq") == 0))
    abort();
  if (kind == SC_WHITEOUT_FILE) {
    const char *target = parts[n - 1] + 4;
    if (*target == '\0' || strcmp(target, ".") == 0 || strcmp(target, "..") == 0 ||
        g_str_has_prefix(target, ".wh."))
      abort();
  }
  if (kind == SC_WHITEOUT_NONE && n > 0 && g_str_has_prefix(parts[n - 1], ".wh."))
    abort();
  {
    /* the normalized path is a fixed point */
    g_autofree char *joined = g_strjoinv("/", parts);
    g_auto(GStrv) again = NULL;
    ScWhiteoutKind kind2;
    if (!sc_layer_path_check("sha256:fuzz", joined, limits, &again, &kind2, NULL) ||
        !g_strv_equal((const char *const *)again, (const char *const *)parts) || kind2 != kind)
      abort();
  }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  ScLayerLimits limits = {
    G_MAXUINT64, G_MAXUINT64, SC_DEFAULT_MAX_PATH_DEPTH, SC_DEFAULT_MAX_PATH_BYTES
  };
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GArray) xattrs = g_array_new(FALSE, FALSE, sizeof(ScXattr));
  g_autoptr(GVariant) canon = NULL;
  g_autoptr(GError) error = NULL;

  if (size == 0)
    return 0;
  /* small limits reach the limit paths with short inputs */
  if (data[0] & 1) {
    limits.max_depth = 1 + (data[0] >> 4);
    limits.max_path_bytes = 1 + (data[0] >> 1) * 4;
  }
  text = g_strndup((const char *)data + 1, size - 1);
  lines = g_strsplit(text, "\n", 64);
  if (lines[0] == NULL)
    return 0;

  check_path(lines[0], &limits);
  {
    g_autofree char *shown = sc_display(lines[0], 100);
    if (!g_utf8_validate(shown, -1, NULL) || strlen(shown) > 4 * (100 + 4) + 3)
      abort();
  }
  if (!sc_layer_link_check("sha256:fuzz", "l", lines[0], &limits, &error)) {
    check_message(error);
    g_clear_error(&error);
  }

  for (char **l = lines + 1; *l; l++) {
    char *eq = strchr(*l, '=');
    ScXattr x = { *l, (const guchar *)"", 0 };
    if (eq) {
      *eq = '\0';
      x.value = (const guchar *)eq + 1;
      x.size = strlen(eq + 1);
    }
    g_array_append_val(xattrs, x);
  }
  canon = sc_layer_xattrs_canonical("sha256:fuzz", lines[0], xattrs, &error);
  if (canon == NULL) {
    check_message(error);
    return 0;
  }
  /* sorted, unique, no empty value: what OSTree reads back */
  for (gsize i = 0; i < g_variant_n_children(canon); i++) {
    g_autoptr(GVariant) value = NULL;
    const char *name;
    g_variant_get_child(canon, i, "(^&ay@ay)", &name, &value);
    if (g_variant_get_size(value) == 0)
      abort();
    if (i > 0) {
      g_autoptr(GVariant) pvalue = NULL;
      const char *prev;
      g_variant_get_child(canon, i - 1, "(^&ay@ay)", &prev, &pvalue);
      if (strcmp(prev, name) >= 0)
        abort();
    }
  }
  return 0;
}
