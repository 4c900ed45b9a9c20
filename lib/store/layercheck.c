/*
 * What a layer entry may be, decided without touching the store: its path
 * (confined, bounded in depth and length), its whiteout meaning, its link
 * targets and its xattrs in the canonical form OSTree checksums. The
 * importer and the /exports scanner both go through here, so a layer means
 * the same thing to both.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "store.h"

#include <stdarg.h>
#include <string.h>

/* Linux: a name is at most NAME_MAX bytes, a path or symlink target at
 * most PATH_MAX - 1, an xattr name XATTR_NAME_MAX, a value XATTR_SIZE_MAX
 * and the list of one file's names XATTR_LIST_MAX. Beyond these the store
 * or the checkout could not hold the entry as the layer gives it. */
#define NAME_MAX_BYTES 255
#define LINK_MAX_BYTES 4095
#define XATTR_NAME_MAX_BYTES 255
#define XATTR_VALUE_MAX_BYTES 65536
#define XATTR_LIST_MAX_BYTES 65536

#define WH_PREFIX ".wh."
#define WH_META_PREFIX ".wh..wh."
#define WH_OPAQUE ".wh..wh..opq"

#define DISPLAY_MAX 100

static void G_GNUC_PRINTF(4, 5)
  entry_error(GError **error, const char *layer, const char *path, const char *fmt, ...)
{
  g_autofree char *shown = sc_display(path, DISPLAY_MAX);
  g_autofree char *reason = NULL;
  va_list ap;

  va_start(ap, fmt);
  reason = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_set_error(error, SC_ERROR, SC_EUNSUPPORTED, "layer %s: entry '%s' %s", layer, shown, reason);
}

gboolean
sc_layer_path_check(const char *layer,
                    const char *path,
                    const ScLayerLimits *limits,
                    char ***out_parts,
                    ScWhiteoutKind *out_kind,
                    GError **error)
{
  gsize len = strlen(path);
  gsize max_path = limits ? limits->max_path_bytes : G_MAXSIZE;
  guint max_depth = limits ? limits->max_depth : G_MAXUINT;
  g_autoptr(GPtrArray) parts = g_ptr_array_new_with_free_func(g_free);
  ScWhiteoutKind kind = SC_WHITEOUT_NONE;
  const char *p = path;

  if (len > max_path) {
    entry_error(error,
                layer,
                path,
                "has a path of %" G_GSIZE_FORMAT " bytes; paths are at most %" G_GSIZE_FORMAT
                " bytes, the limit (SC_MAX_PATH_BYTES)",
                len,
                max_path);
    return FALSE;
  }
  if (path[0] == '/') {
    entry_error(
      error, layer, path, "has an absolute path; layer entries must stay inside the layer");
    return FALSE;
  }
  while (*p) {
    const char *end = strchr(p, '/');
    gsize n = end ? (gsize)(end - p) : strlen(p);

    if (n == 0 || (n == 1 && p[0] == '.')) {
      /* "a//b", "./a": no component */
    } else if (n == 2 && p[0] == '.' && p[1] == '.') {
      entry_error(
        error, layer, path, "has a '..' component; layer entries must stay inside the layer");
      return FALSE;
    } else if (n > NAME_MAX_BYTES) {
      entry_error(error,
                  layer,
                  path,
                  "has a name of %" G_GSIZE_FORMAT " bytes; names are at most %d bytes",
                  n,
                  NAME_MAX_BYTES);
      return FALSE;
    } else {
      if (parts->len >= max_depth) {
        entry_error(error,
                    layer,
                    path,
                    "has more than %u path components, the limit (SC_MAX_PATH_DEPTH)",
                    max_depth);
        return FALSE;
      }
      g_ptr_array_add(parts, g_strndup(p, n));
    }
    p += n;
    if (*p == '/')
      p++;
  }

  /* Whiteouts (OCI image spec, "Whiteouts"): no file or directory of an
   * image has a name beginning with ".wh."; such a name is a marker that
   * deletes its target from the lower layers. */
  for (guint i = 0; i < parts->len; i++) {
    const char *name = parts->pdata[i];
    gboolean last = i + 1 == parts->len;

    if (!g_str_has_prefix(name, WH_PREFIX))
      continue;
    if (!last) {
      g_autofree char *shown_name = sc_display(name, DISPLAY_MAX);
      entry_error(error,
                  layer,
                  path,
                  "is inside '%s', a whiteout; whiteouts are files, not directories",
                  shown_name);
      return FALSE;
    }
    if (strcmp(name, WH_OPAQUE) == 0) {
      kind = SC_WHITEOUT_OPAQUE;
    } else if (g_str_has_prefix(name, WH_META_PREFIX)) {
      entry_error(error,
                  layer,
                  path,
                  "is a whiteout with the reserved prefix '" WH_META_PREFIX "'; only '" WH_OPAQUE
                  "' (an opaque whiteout) is allowed");
      return FALSE;
    } else {
      const char *target = name + strlen(WH_PREFIX);
      if (*target == '\0' || strcmp(target, ".") == 0 || strcmp(target, "..") == 0) {
        entry_error(error,
                    layer,
                    path,
                    "is a whiteout of '%s', which is not a name; a whiteout deletes one entry of "
                    "its directory",
                    target);
        return FALSE;
      }
      kind = SC_WHITEOUT_FILE;
    }
  }

  if (out_kind)
    *out_kind = kind;
  if (out_parts) {
    g_ptr_array_add(parts, NULL);
    *out_parts = (char **)g_ptr_array_free(g_steal_pointer(&parts), FALSE);
  }
  return TRUE;
}

gboolean
sc_layer_link_check(const char *layer,
                    const char *path,
                    const char *target,
                    const ScLayerLimits *limits,
                    GError **error)
{
  gsize len = strlen(target);
  gsize max =
    limits && limits->max_path_bytes < LINK_MAX_BYTES ? limits->max_path_bytes : LINK_MAX_BYTES;

  if (len == 0) {
    entry_error(error, layer, path, "is a symlink with an empty target");
    return FALSE;
  }
  if (len > max) {
    g_autofree char *shown_target = sc_display(target, DISPLAY_MAX);
    entry_error(error,
                layer,
                path,
                "is a symlink to '%s', %" G_GSIZE_FORMAT " bytes; link targets are at most "
                "%" G_GSIZE_FORMAT " bytes, the limit (SC_MAX_PATH_BYTES)",
                shown_target,
                len,
                max);
    return FALSE;
  }
  return TRUE;
}

static int
xattr_cmp(gconstpointer a, gconstpointer b)
{
  const ScXattr *x = a, *y = b;
  return strcmp(x->name, y->name);
}

/* The kernel reports a v3 (namespaced) file capability whose root is uid 0
 * as the v2 form when read from the initial namespace, which is how OSTree
 * reads it back: store it in that form (linux/capability.h). */
static GBytes *
capability_canonical(const guchar *value, gsize size)
{
  guint32 magic;

  if (size != 24)
    return NULL;
  magic = value[0] | value[1] << 8 | value[2] << 16 | (guint32)value[3] << 24;
  if ((magic & 0xff000000) != 0x03000000 || (value[20] | value[21] | value[22] | value[23]) != 0)
    return NULL;
  {
    guchar v2[20];
    guint32 m2 = 0x02000000 | (magic & 0x1);
    memcpy(v2, value, 20);
    v2[0] = m2 & 0xff;
    v2[1] = (m2 >> 8) & 0xff;
    v2[2] = (m2 >> 16) & 0xff;
    v2[3] = (m2 >> 24) & 0xff;
    return g_bytes_new(v2, sizeof(v2));
  }
}

GVariant *
sc_layer_xattrs_canonical(const char *layer, const char *path, GArray *xattrs, GError **error)
{
  GVariantBuilder b;
  gsize list = 0;

  g_array_sort(xattrs, xattr_cmp);
  g_variant_builder_init(&b, G_VARIANT_TYPE("a(ayay)"));
  for (guint i = 0; i < xattrs->len; i++) {
    const ScXattr *x = &g_array_index(xattrs, ScXattr, i);
    const ScXattr *prev = i > 0 ? &g_array_index(xattrs, ScXattr, i - 1) : NULL;
    gsize nlen = strlen(x->name);
    g_autoptr(GBytes) canon = NULL;
    const char *problem = NULL;

    /* libarchive's pax writer (bsdtar) records each xattr twice, as
     * SCHILY.xattr and LIBARCHIVE.xattr, and its reader gives both: the
     * same name with the same value says one thing, once */
    if (prev && strcmp(x->name, prev->name) == 0 && x->size == prev->size &&
        (x->size == 0 || memcmp(x->value, prev->value, x->size) == 0))
      continue;
    if (nlen == 0)
      problem = "has an empty name";
    else if (prev && strcmp(x->name, prev->name) == 0)
      problem = "appears twice with different values";
    else if (nlen > XATTR_NAME_MAX_BYTES)
      problem = "has a name longer than 255 bytes";
    else if (!g_str_has_prefix(x->name, "user.") && !g_str_has_prefix(x->name, "security.") &&
             !g_str_has_prefix(x->name, "trusted.") && !g_str_has_prefix(x->name, "system."))
      problem = "is outside the namespaces user., security., trusted. and system.";
    else if (x->size > XATTR_VALUE_MAX_BYTES)
      problem = "has a value longer than 65536 bytes";
    list += nlen + 1;
    if (problem == NULL && list > XATTR_LIST_MAX_BYTES)
      problem = "takes the entry's xattr names past 65536 bytes, what a file can list";
    if (problem) {
      g_autofree char *name = sc_display(x->name, DISPLAY_MAX);
      entry_error(error, layer, path, "has an xattr '%s' that %s", name, problem);
      g_variant_builder_clear(&b);
      return NULL;
    }
    /* OSTree reads an empty value back as no xattr at all: it cannot
     * hold one, so it is not given one. */
    if (x->size == 0)
      continue;
    if (strcmp(x->name, "security.capability") == 0)
      canon = capability_canonical(x->value, x->size);
    g_variant_builder_add(
      &b,
      "(@ay@ay)",
      g_variant_new_bytestring(x->name),
      canon ? g_variant_new_fixed_array(
                G_VARIANT_TYPE_BYTE, g_bytes_get_data(canon, NULL), g_bytes_get_size(canon), 1)
            : g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, x->value, x->size, 1));
  }
  return g_variant_ref_sink(g_variant_builder_end(&b));
}
