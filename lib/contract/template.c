/*
 * The template language of system-container images: Python's
 * string.Template with substitute() (strict), on bytes.
 *
 *   $$          a literal '$'
 *   $id ${id}   the value of id, where id is [_A-Za-z][_A-Za-z0-9]* (ASCII)
 *   any other $ an "invalid placeholder" error
 *
 * Working on bytes is exact for UTF-8 text: '$', '{', '}' and identifier
 * characters are ASCII and never occur inside a multi-byte sequence. Line
 * and column numbers are counted the way Python's str.splitlines() and
 * str indexing count them (code points; \r\n, \r, \v, \f, \x1c-\x1e, U+0085,
 * U+2028 and U+2029 end lines), so that messages match atomic's.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "contract.h"

#include <string.h>

static inline gboolean
id_start(char c)
{
  return g_ascii_isalpha(c) || c == '_';
}

static inline gboolean
id_char(char c)
{
  return g_ascii_isalnum(c) || c == '_';
}

/* Line and column (1-based, Python's count) of the '$' at @dollar. */
static void
position(const char *text, gsize dollar, gsize *out_line, gsize *out_col)
{
  gsize line = 1, col = 0;
  gsize i = 0;

  while (i < dollar) {
    guchar c = (guchar)text[i];
    gsize adv = 1;
    gboolean brk = FALSE;

    if (c == '\n' || c == '\v' || c == '\f' || c == 0x1c || c == 0x1d || c == 0x1e)
      brk = TRUE;
    else if (c == '\r') {
      brk = TRUE;
      if (i + 1 < dollar && text[i + 1] == '\n')
        adv = 2;
    } else if (c == 0xc2 && i + 1 < dollar && (guchar)text[i + 1] == 0x85) {
      brk = TRUE, adv = 2;
    } else if (c == 0xe2 && i + 2 < dollar && (guchar)text[i + 1] == 0x80 &&
               ((guchar)text[i + 2] == 0xa8 || (guchar)text[i + 2] == 0xa9)) {
      brk = TRUE, adv = 3;
    } else if (c >= 0xc0) {
      /* The lead byte of a multi-byte character counts as one column;
       * its continuation bytes count as none. */
      adv = 1;
    }
    if (brk) {
      line++;
      col = 0;
    } else if ((c & 0xc0) != 0x80) {
      col++;
    }
    i += adv;
  }
  *out_line = line;
  *out_col = col + 1;
}

/* The default cap on one rendered file: the size of the largest exports
 * file that is read (io.c), so any template the installer accepts renders
 * unless its values make it grow past that. */

static const char *
label_or_default(const char *label)
{
  return label ? label : "<template>";
}

static void
set_invalid(GError **error, const char *label, const char *text, gsize dollar)
{
  gsize line, col;

  position(text, dollar, &line, &col);
  g_set_error(error,
              SC_ERROR,
              SC_ETEMPLATE,
              "template '%s': invalid placeholder at line %zu, col %zu: '$' must be followed by "
              "'$', a variable name or '{name}' (write '$$' for a literal '$')",
              label_or_default(label),
              line,
              col);
}

typedef struct {
  gsize dollar;     /* index of the '$' */
  gsize end;        /* index after the placeholder */
  const char *name; /* the identifier, NULL for "$$" */
  gsize name_len;
} Placeholder;

/* Finds the next placeholder at or after @pos: 1 when found, 0 when the
 * text has no more '$', -1 (with @error set) for an invalid one. */
static int
next_placeholder(const char *label,
                 const char *text,
                 gsize length,
                 gsize pos,
                 Placeholder *ph,
                 GError **error)
{
  const char *p = pos < length ? memchr(text + pos, '$', length - pos) : NULL;
  gsize n, j;

  if (p == NULL)
    return 0;
  ph->dollar = p - text;
  n = ph->dollar + 1;
  if (n < length && text[n] == '$') {
    ph->name = NULL;
    ph->end = n + 1;
    return 1;
  }
  if (n < length && id_start(text[n])) {
    for (j = n + 1; j < length && id_char(text[j]); j++)
      ;
    ph->name = text + n;
    ph->name_len = j - n;
    ph->end = j;
    return 1;
  }
  if (n + 1 < length && text[n] == '{' && id_start(text[n + 1])) {
    for (j = n + 2; j < length && id_char(text[j]); j++)
      ;
    if (j < length && text[j] == '}') {
      ph->name = text + n + 1;
      ph->name_len = j - n - 1;
      ph->end = j + 1;
      return 1;
    }
  }
  set_invalid(error, label, text, ph->dollar);
  return -1;
}

/* The output would pass @max: the error names the variable being
 * substituted (or the last one substituted, when the text after it is what
 * crosses the limit). Checked before anything is appended, so a value used
 * many times fails at the limit, not after the memory is spent. */
static void
set_too_large(GError **error,
              const char *label,
              const char *text,
              guint64 max,
              const Placeholder *ph,
              gboolean during)
{
  gsize line, col;

  if (ph == NULL) {
    g_set_error(error,
                SC_ERROR,
                SC_ETEMPLATE,
                "template '%s': the text is larger than %" G_GUINT64_FORMAT
                " bytes, the limit on a rendered file (SC_MAX_RENDERED_BYTES)",
                label_or_default(label),
                max);
    return;
  }
  position(text, ph->dollar, &line, &col);
  g_set_error(error,
              SC_ERROR,
              SC_ETEMPLATE,
              "template '%s': the rendered text grows past %" G_GUINT64_FORMAT
              " bytes, the limit on a rendered file (SC_MAX_RENDERED_BYTES), %s '%.*s' at line "
              "%zu, col %zu",
              label_or_default(label),
              max,
              during ? "substituting" : "after substituting",
              (int)ph->name_len,
              ph->name,
              line,
              col);
}

char *
sc_template_substitute(const char *label,
                       const char *text,
                       gsize length,
                       const sc_values *values,
                       gsize *out_length,
                       GError **error)
{
  return sc_template_substitute_max(
    label, text, length, values, sc_default_render_max(), out_length, error);
}

char *
sc_template_substitute_max(const char *label,
                           const char *text,
                           gsize length,
                           const sc_values *values,
                           guint64 max,
                           gsize *out_length,
                           GError **error)
{
  g_autoptr(GString) out = g_string_sized_new(MIN(length, max) + 256);
  Placeholder ph;
  Placeholder last = { 0 };
  gboolean substituted = FALSE;
  gsize pos = 0;
  int found;

  while ((found = next_placeholder(label, text, length, pos, &ph, error)) > 0) {
    /* out->len <= max throughout */
    if (ph.dollar - pos + (ph.name == NULL) > max - out->len) {
      set_too_large(error, label, text, max, substituted ? &last : NULL, FALSE);
      return NULL;
    }
    g_string_append_len(out, text + pos, ph.dollar - pos);
    if (ph.name == NULL) {
      g_string_append_c(out, '$');
    } else {
      g_autofree char *key = g_strndup(ph.name, ph.name_len);
      const char *value = sc_values_get(values, key);
      if (value != NULL && strlen(value) > max - out->len) {
        set_too_large(error, label, text, max, &ph, TRUE);
        return NULL;
      }
      if (value == NULL) {
        gsize line, col;
        position(text, ph.dollar, &line, &col);
        g_set_error(error,
                    SC_ERROR,
                    SC_ETEMPLATE,
                    "template '%s': variable '%s' at line %zu, col %zu is not defined (give it "
                    "with --set %s=VALUE, or a default in manifest.json defaultValues)",
                    label_or_default(label),
                    key,
                    line,
                    col,
                    key);
        return NULL;
      }
      g_string_append(out, value);
      last = ph;
      substituted = TRUE;
    }
    pos = ph.end;
  }
  if (found < 0)
    return NULL;
  if (length - pos > max - out->len) {
    set_too_large(error, label, text, max, substituted ? &last : NULL, FALSE);
    return NULL;
  }
  g_string_append_len(out, text + pos, length - pos);
  if (out_length)
    *out_length = out->len;
  return g_string_free(g_steal_pointer(&out), FALSE);
}

/* Refuses values that would change the lines of a line-oriented file
 * (a systemd unit, a tmpfiles.d file) where they are substituted: a line
 * break anywhere adds a line of the value's choosing; with @continuation
 * (unit files), a '\\' that ends up last on a line joins the next line
 * to it. Other characters are left to the file's own syntax. */
gboolean
sc_template_check_lines(const char *label,
                        const char *text,
                        gsize length,
                        const sc_values *values,
                        gboolean continuation,
                        GError **error)
{
  Placeholder ph;
  gsize pos = 0;
  int found;

  while ((found = next_placeholder(label, text, length, pos, &ph, error)) > 0) {
    g_autofree char *key = ph.name ? g_strndup(ph.name, ph.name_len) : NULL;
    const char *value = key ? sc_values_get(values, key) : NULL;
    const char *why = NULL;
    gsize vlen = value ? strlen(value) : 0;

    if (value != NULL && strpbrk(value, "\n\r") != NULL)
      why = "holds a line break, which would add lines to the file";
    else if (continuation && vlen > 0 && value[vlen - 1] == '\\' &&
             (ph.end == length || text[ph.end] == '\n' || text[ph.end] == '\r'))
      why = "ends a line with '\\', which would join the next line to it";
    if (why != NULL) {
      gsize line, col;
      position(text, ph.dollar, &line, &col);
      g_set_error(error,
                  SC_ERROR,
                  SC_ETEMPLATE,
                  "template '%s': the value of '%s' (line %zu, col %zu) %s; it is refused here",
                  label_or_default(label),
                  key,
                  line,
                  col,
                  why);
      return FALSE;
    }
    pos = ph.end;
  }
  return found == 0;
}

GPtrArray *
sc_template_scan(const char *label, const char *text, gsize length, GError **error)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
  Placeholder ph;
  gsize pos = 0;
  int found;

  while ((found = next_placeholder(label, text, length, pos, &ph, error)) > 0) {
    if (ph.name != NULL) {
      char *key = g_strndup(ph.name, ph.name_len);
      if (g_hash_table_contains(seen, key))
        g_free(key);
      else {
        g_hash_table_add(seen, key);
        g_ptr_array_add(names, key);
      }
    }
    pos = ph.end;
  }
  if (found < 0)
    return NULL;
  return g_steal_pointer(&names);
}

SC_API int
sc_template_render(const char *label,
                   const char *text,
                   size_t length,
                   const sc_values *values,
                   char **out_text,
                   size_t *out_length,
                   sc_error **error)
{
  GError *gerror = NULL;
  char *result;
  gsize len = 0;

  SC_CHECK_ARG(text != NULL && values != NULL && out_text != NULL, error);
  result = sc_template_substitute(label, text, length, values, &len, &gerror);
  if (result == NULL)
    return sc_error_propagate(error, gerror);
  *out_text = result;
  if (out_length)
    *out_length = len;
  return SC_OK;
}

SC_API int
sc_template_variables(const char *label,
                      const char *text,
                      size_t length,
                      char ***out_names,
                      sc_error **error)
{
  GError *gerror = NULL;
  GPtrArray *names;

  SC_CHECK_ARG(text != NULL && out_names != NULL, error);
  names = sc_template_scan(label, text, length, &gerror);
  if (names == NULL)
    return sc_error_propagate(error, gerror);
  g_ptr_array_set_free_func(names, NULL);
  g_ptr_array_add(names, NULL);
  *out_names = (char **)g_ptr_array_free(names, FALSE);
  return SC_OK;
}
