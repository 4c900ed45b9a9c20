/*
 * registries.conf (version 2) as the containers tools read it:
 * unqualified-search-registries, [aliases], and [[registry]] entries with
 * prefix, location, insecure, blocked and [[registry.mirror]]s; the main
 * file (~/.config/containers/registries.conf if it exists, else
 * /etc/containers/registries.conf, or $CONTAINERS_REGISTRIES_CONF, or an
 * explicit file) then the registries.conf.d drop-ins in lexical order.
 *
 * Version 1 files ([registries.search], [registries.insecure],
 * [registries.block]) are converted to version 2 as containers/image does;
 * a file that mixes both, or a drop-in in version 1, is refused.
 *
 * Debian 12 ships no TOML library for C, so this is a TOML parser of our
 * own for what these files can hold: tables, arrays of tables, dotted and
 * quoted keys, the four kinds of strings, booleans, integers, floats,
 * arrays (over lines, with comments and a trailing comma) and inline
 * tables. Dates are refused; so is whatever is not TOML, with its line.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void
sc_regconf_free(ScRegConf *c)
{
  if (c == NULL)
    return;
  g_ptr_array_unref(c->search);
  g_free(c->short_name_mode);
  g_ptr_array_unref(c->registries);
  g_hash_table_unref(c->aliases);
  g_ptr_array_unref(c->files);
  g_free(c);
}

static void
registry_entry_free(ScRegistryEntry *r)
{
  g_free(r->prefix);
  g_free(r->location);
  g_ptr_array_unref(r->mirrors);
  g_free(r);
}

static void
mirror_free(ScMirror *m)
{
  g_free(m->location);
  g_free(m->pull_from);
  g_free(m);
}

ScRegConf *
sc_regconf_new(void)
{
  ScRegConf *c = g_new0(ScRegConf, 1);
  c->search = g_ptr_array_new_with_free_func(g_free);
  c->registries = g_ptr_array_new_with_free_func((GDestroyNotify)registry_entry_free);
  c->aliases = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  c->files = g_ptr_array_new_with_free_func(g_free);
  return c;
}

/* ---- TOML (the syntax registries.conf files use) ----
 *
 * The whole file is parsed into a tree of nodes first, then read as a
 * registries.conf: the version 1/2 decision, as containers/image makes it,
 * needs to see the whole file. Arrays and inline tables nest by recursion,
 * bounded by MAX_DEPTH. Dates and times are refused (no key of
 * registries.conf takes one). */

#define MAX_DEPTH 32
/* A registries.conf or drop-in larger than this is refused. */
#define SC_REGCONF_MAX (1024 * 1024)

typedef enum { T_STRING, T_BOOL, T_INT, T_FLOAT, T_ARRAY, T_TABLE } NodeType;

typedef struct Node Node;
struct Node {
  NodeType type;
  int line;
  char *s;
  gboolean b;
  gint64 i;
  double f;
  GPtrArray *items; /* T_ARRAY: Node*; T_TABLE: the values, in order */
  GPtrArray *keys;  /* T_TABLE: char*, parallel to items */
  /* T_TABLE: closed to later additions (an inline table, or a value
   * table); made by a [header] (it cannot be made twice); T_ARRAY: made
   * by [[header]]s (other arrays cannot be appended to) */
  gboolean sealed, by_header, of_headers, implicit;
};

static void
node_free(Node *n)
{
  if (n == NULL)
    return;
  g_free(n->s);
  if (n->items)
    g_ptr_array_unref(n->items);
  if (n->keys)
    g_ptr_array_unref(n->keys);
  g_free(n);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Node, node_free)

static Node *
node_new(NodeType type, int line)
{
  Node *n = g_new0(Node, 1);
  n->type = type;
  n->line = line;
  if (type == T_ARRAY || type == T_TABLE)
    n->items = g_ptr_array_new_with_free_func((GDestroyNotify)node_free);
  if (type == T_TABLE)
    n->keys = g_ptr_array_new_with_free_func(g_free);
  return n;
}

static Node *
table_get(Node *t, const char *key)
{
  for (guint i = 0; i < t->keys->len; i++)
    if (strcmp(t->keys->pdata[i], key) == 0)
      return t->items->pdata[i];
  return NULL;
}

static void
table_add(Node *t, const char *key, Node *v)
{
  g_ptr_array_add(t->keys, g_strdup(key));
  g_ptr_array_add(t->items, v);
}

typedef struct {
  const char *file;
  const char *p;
  int line;
  GError **error;
} Lexer;

static gboolean fail(Lexer *lx, const char *format, ...) G_GNUC_PRINTF(2, 3);

static gboolean
fail(Lexer *lx, const char *format, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  if (lx->error && *lx->error)
    return FALSE; /* the first error is the one to report */
  va_start(ap, format);
  msg = g_strdup_vprintf(format, ap);
  va_end(ap);
  g_set_error(lx->error, SC_ERROR, SC_EINVAL, "%s line %d: %s", lx->file, lx->line, msg);
  return FALSE;
}

static gboolean fail_line(const char *file, int line, GError **error, const char *format, ...)
  G_GNUC_PRINTF(4, 5);

static gboolean
fail_line(const char *file, int line, GError **error, const char *format, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start(ap, format);
  msg = g_strdup_vprintf(format, ap);
  va_end(ap);
  g_set_error(error, SC_ERROR, SC_EINVAL, "%s line %d: %s", file, line, msg);
  return FALSE;
}

static void
skip_space(Lexer *lx)
{
  while (*lx->p == ' ' || *lx->p == '\t')
    lx->p++;
}

/* A newline (LF or CRLF) at lx->p: consumed, counted. */
static gboolean
take_newline(Lexer *lx)
{
  if (lx->p[0] == '\r' && lx->p[1] == '\n')
    lx->p++;
  if (*lx->p != '\n')
    return FALSE;
  lx->p++;
  lx->line++;
  return TRUE;
}

/* A comment runs to the end of the line; TOML allows no control
 * characters in it but tab. */
static gboolean
skip_comment(Lexer *lx)
{
  if (*lx->p != '#')
    return TRUE;
  for (lx->p++; *lx->p && *lx->p != '\n' && !(lx->p[0] == '\r' && lx->p[1] == '\n'); lx->p++)
    if ((guchar)*lx->p < 0x20 && *lx->p != '\t')
      return fail(lx, "a control character in a comment");
  return TRUE;
}

/* Spaces, comments and newlines (between array items). */
static gboolean
skip_space_nl(Lexer *lx)
{
  for (;;) {
    skip_space(lx);
    if (!skip_comment(lx))
      return FALSE;
    if (!take_newline(lx))
      return TRUE;
  }
}

static gboolean
read_hex(Lexer *lx, int digits, gunichar *out)
{
  gunichar u = 0;

  for (int k = 1; k <= digits; k++) {
    if (!g_ascii_isxdigit(lx->p[k]))
      return fail(lx, "invalid \\%c escape: %d hexadecimal digits are needed", lx->p[0], digits);
    u = u * 16 + g_ascii_xdigit_value(lx->p[k]);
  }
  if (u > 0x10FFFF || (u >= 0xD800 && u <= 0xDFFF))
    return fail(lx, "invalid \\%c escape: not a Unicode scalar value", lx->p[0]);
  lx->p += digits;
  *out = u;
  return TRUE;
}

/* The escape after a backslash in a basic string (lx->p at the letter). */
static gboolean
read_escape(Lexer *lx, GString *s)
{
  static const char from[] = "btnfr\"\\", to[] = "\b\t\n\f\r\"\\";
  const char *hit = *lx->p ? strchr(from, *lx->p) : NULL;
  gunichar u = 0;

  if (hit) {
    g_string_append_c(s, to[hit - from]);
  } else if (*lx->p == 'u' || *lx->p == 'U') {
    if (!read_hex(lx, *lx->p == 'u' ? 4 : 8, &u))
      return FALSE;
    g_string_append_unichar(s, u);
  } else
    return fail(lx, "invalid escape '\\%c' in a string", g_ascii_isprint(*lx->p) ? *lx->p : '?');
  lx->p++;
  return TRUE;
}

/* A string of any of the four kinds; lx->p at its first quote. */
static gboolean
parse_string(Lexer *lx, char **out)
{
  g_autoptr(GString) s = g_string_new(NULL);
  char quote = *lx->p;
  gboolean multi = lx->p[1] == quote && lx->p[2] == quote;
  int start_line = lx->line;

  lx->p += multi ? 3 : 1;
  if (multi)
    take_newline(lx); /* a newline just after the quotes is not part of it */
  for (;;) {
    char c = *lx->p;
    if (c == '\0')
      return fail(lx, "a string that starts at line %d is not closed", start_line);
    if (c == quote && (!multi || (lx->p[1] == quote && lx->p[2] == quote))) {
      lx->p += multi ? 3 : 1;
      /* """a""""": up to two quotes before the closing three are content */
      for (int k = 0; multi && k < 2 && *lx->p == quote; k++, lx->p++)
        g_string_append_c(s, quote);
      break;
    }
    if (c == '\n' || (c == '\r' && lx->p[1] == '\n')) {
      if (!multi)
        return fail(lx, "a string runs past the end of the line");
      if (c == '\r')
        g_string_append_c(s, '\r');
      g_string_append_c(s, '\n');
      take_newline(lx);
      continue;
    }
    if ((guchar)c < 0x20 && c != '\t')
      return fail(lx, "a control character in a string");
    if (c == 0x7f)
      return fail(lx, "a control character in a string");
    if (quote == '"' && c == '\\') {
      const char *q = lx->p + 1;
      while (multi && (*q == ' ' || *q == '\t'))
        q++;
      if (multi && (*q == '\n' || (*q == '\r' && q[1] == '\n'))) {
        /* a line-ending backslash: the newline and the blanks after go */
        lx->p = q;
        while (take_newline(lx) || *lx->p == ' ' || *lx->p == '\t')
          if (*lx->p == ' ' || *lx->p == '\t')
            lx->p++;
        continue;
      }
      lx->p++;
      if (!read_escape(lx, s))
        return FALSE;
      continue;
    }
    g_string_append_c(s, c);
    lx->p++;
  }
  if (!g_utf8_validate(s->str, s->len, NULL))
    return fail(lx, "a string is not valid UTF-8");
  *out = g_string_free(g_steal_pointer(&s), FALSE);
  return TRUE;
}

static gboolean
bare_key_char(char c)
{
  return g_ascii_isalnum(c) || c == '_' || c == '-';
}

/* A dotted key: its parts; lx->p after it (and the blanks after it). */
static gboolean
parse_key(Lexer *lx, GPtrArray *parts)
{
  for (;;) {
    char *part;
    skip_space(lx);
    if (*lx->p == '"' || *lx->p == '\'') {
      if (lx->p[1] == *lx->p && lx->p[2] == *lx->p)
        return fail(lx, "a key cannot be a multi-line string");
      if (!parse_string(lx, &part))
        return FALSE;
    } else {
      const char *start = lx->p;
      while (bare_key_char(*lx->p))
        lx->p++;
      if (lx->p == start)
        return fail(lx, "expected a key, a [table] or a comment");
      part = g_strndup(start, lx->p - start);
    }
    g_ptr_array_add(parts, part);
    skip_space(lx);
    if (*lx->p != '.')
      return TRUE;
    lx->p++;
  }
}

static gboolean parse_value(Lexer *lx, int depth, Node **out);

/* [ v, v, ... ] with newlines, comments and a trailing comma allowed. */
static gboolean
parse_array(Lexer *lx, int depth, Node **out)
{
  g_autoptr(Node) a = node_new(T_ARRAY, lx->line);

  lx->p++;
  for (;;) {
    Node *item = NULL;
    if (!skip_space_nl(lx))
      return FALSE;
    if (*lx->p == ']')
      break;
    if (!parse_value(lx, depth + 1, &item))
      return FALSE;
    g_ptr_array_add(a->items, item);
    if (!skip_space_nl(lx))
      return FALSE;
    if (*lx->p == ',') {
      lx->p++;
      continue;
    }
    if (*lx->p != ']')
      return fail(lx, "expected ',' or ']' in an array");
    break;
  }
  lx->p++;
  *out = g_steal_pointer(&a);
  return TRUE;
}

static gboolean set_dotted(Lexer *lx, Node *table, GPtrArray *parts, Node *value);

/* { k = v, k = v } on one line, without a trailing comma (TOML 1.0). */
static gboolean
parse_inline_table(Lexer *lx, int depth, Node **out)
{
  g_autoptr(Node) t = node_new(T_TABLE, lx->line);

  lx->p++;
  skip_space(lx);
  if (*lx->p == '}')
    goto done;
  for (;;) {
    g_autoptr(GPtrArray) parts = g_ptr_array_new_with_free_func(g_free);
    Node *v = NULL;
    if (!parse_key(lx, parts))
      return FALSE;
    if (*lx->p != '=')
      return fail(lx, "expected '=' after the key");
    lx->p++;
    skip_space(lx);
    if (!parse_value(lx, depth + 1, &v) || !set_dotted(lx, t, parts, v))
      return FALSE;
    skip_space(lx);
    if (*lx->p == ',') {
      lx->p++;
      skip_space(lx);
      if (*lx->p == '}')
        return fail(lx, "a trailing comma in an inline table");
      if (*lx->p == '\n' || *lx->p == '\r' || *lx->p == '#')
        return fail(lx, "an inline table must be on one line");
      continue;
    }
    if (*lx->p == '}')
      break;
    return fail(lx,
                *lx->p == '\n' || *lx->p == '\r' ? "an inline table must be on one line"
                                                 : "expected ',' or '}' in an inline table");
  }
done:
  lx->p++;
  t->sealed = TRUE;
  *out = g_steal_pointer(&t);
  return TRUE;
}

/* An integer (decimal, 0x, 0o, 0b, with '_' between digits) or a float. */
static gboolean
parse_number(Lexer *lx, Node **out)
{
  const char *start = lx->p;
  g_autoptr(GString) digits = g_string_new(NULL);
  gboolean is_float = FALSE;
  int base = 10;
  char *end;

  if (g_str_has_prefix(lx->p, "0x") || g_str_has_prefix(lx->p, "0o") ||
      g_str_has_prefix(lx->p, "0b")) {
    base = lx->p[1] == 'x' ? 16 : lx->p[1] == 'o' ? 8 : 2;
    lx->p += 2;
  }
  for (; g_ascii_isalnum(*lx->p) || *lx->p == '_' || *lx->p == '.' || *lx->p == '+' ||
         *lx->p == '-' || *lx->p == ':';
       lx->p++) {
    if (*lx->p == '_') {
      if (!g_ascii_isxdigit(lx->p[-1]) || !g_ascii_isxdigit(lx->p[1]))
        return fail(lx, "'_' must stand between two digits");
      continue;
    }
    if (*lx->p == ':' || (*lx->p == '-' && lx->p > start && g_ascii_isdigit(lx->p[-1])))
      return fail(lx, "dates and times are not supported");
    if (base == 10 && (*lx->p == '.' || *lx->p == 'e' || *lx->p == 'E'))
      is_float = TRUE;
    g_string_append_c(digits, *lx->p);
  }
  if (digits->len == 0)
    return fail(lx, "invalid number");
  *out = node_new(is_float ? T_FLOAT : T_INT, lx->line);
  errno = 0;
  if (is_float)
    (*out)->f = g_ascii_strtod(digits->str, &end);
  else
    (*out)->i = g_ascii_strtoll(digits->str, &end, base);
  if (*end != '\0' || errno == ERANGE ||
      (!is_float && base == 10 && digits->len > 1 &&
       (digits->str[0] == '0' ||
        ((digits->str[0] == '+' || digits->str[0] == '-') && digits->str[1] == '0')))) {
    g_clear_pointer(out, node_free);
    return fail(lx, "invalid number");
  }
  return TRUE;
}

static gboolean
parse_value(Lexer *lx, int depth, Node **out)
{
  *out = NULL;
  if (depth > MAX_DEPTH)
    return fail(lx, "arrays and inline tables nested more than %d deep", MAX_DEPTH);
  if (*lx->p == '"' || *lx->p == '\'') {
    g_autoptr(Node) n = node_new(T_STRING, lx->line);
    if (!parse_string(lx, &n->s))
      return FALSE;
    *out = g_steal_pointer(&n);
    return TRUE;
  }
  if (*lx->p == '[')
    return parse_array(lx, depth, out);
  if (*lx->p == '{')
    return parse_inline_table(lx, depth, out);
  for (int b = 0; b < 2; b++) {
    const char *word = b ? "true" : "false";
    if (g_str_has_prefix(lx->p, word) && !bare_key_char(lx->p[strlen(word)])) {
      *out = node_new(T_BOOL, lx->line);
      (*out)->b = b;
      lx->p += strlen(word);
      return TRUE;
    }
  }
  if (g_str_has_prefix(lx->p, "inf") || g_str_has_prefix(lx->p, "nan") ||
      g_str_has_prefix(lx->p, "+inf") || g_str_has_prefix(lx->p, "-inf") ||
      g_str_has_prefix(lx->p, "+nan") || g_str_has_prefix(lx->p, "-nan"))
    return fail(lx, "inf and nan are not supported");
  if (g_ascii_isdigit(*lx->p) || *lx->p == '-' || *lx->p == '+')
    return parse_number(lx, out);
  return fail(lx,
              "expected a value (a string, true, false, a number, [an array] or {an "
              "inline table})");
}

/* The table for the dotted key's parts but the last, made as needed; for
 * a dotted key within @table's own definition. */
static gboolean
set_dotted(Lexer *lx, Node *table, GPtrArray *parts, Node *value)
{
  Node *t = table;
  const char *last = parts->pdata[parts->len - 1];

  for (guint i = 0; i + 1 < parts->len; i++) {
    Node *next = table_get(t, parts->pdata[i]);
    if (next == NULL) {
      next = node_new(T_TABLE, value->line); /* defined here: no [header] can define it */
      table_add(t, parts->pdata[i], next);
    } else if (next->type != T_TABLE || next->sealed || next->by_header) {
      node_free(value);
      return fail(lx, "key '%s' is already defined as a value", (char *)parts->pdata[i]);
    }
    t = next;
  }
  if (table_get(t, last)) {
    node_free(value);
    return fail(lx, "key '%s' is defined twice", last);
  }
  if (value->type == T_TABLE)
    value->sealed = TRUE;
  table_add(t, last, value);
  return TRUE;
}

/* A [header] or [[header]]: the table that the following keys go to. */
static gboolean
open_header(Lexer *lx, Node *root, Node **out_table)
{
  g_autoptr(GPtrArray) parts = g_ptr_array_new_with_free_func(g_free);
  gboolean array = lx->p[1] == '[';
  Node *t = root;

  lx->p += array ? 2 : 1;
  if (!parse_key(lx, parts))
    return FALSE;
  if (*lx->p != ']' || (array && lx->p[1] != ']'))
    return fail(lx, "a table header is not closed by %s", array ? "']]'" : "']'");
  lx->p += array ? 2 : 1;
  for (guint i = 0; i < parts->len; i++) {
    const char *k = parts->pdata[i];
    gboolean last = i + 1 == parts->len;
    Node *next = table_get(t, k);
    if (last && array) {
      Node *tbl = node_new(T_TABLE, lx->line);
      if (next == NULL) {
        next = node_new(T_ARRAY, lx->line);
        next->of_headers = TRUE;
        table_add(t, k, next);
      } else if (next->type != T_ARRAY || !next->of_headers) {
        node_free(tbl);
        return fail(lx, "[[%s]]: '%s' is already defined, not as an array of tables", k, k);
      }
      g_ptr_array_add(next->items, tbl);
      *out_table = tbl;
      return TRUE;
    }
    if (next == NULL) {
      next = node_new(T_TABLE, lx->line);
      next->implicit = TRUE;
      table_add(t, k, next);
    } else if (next->type == T_ARRAY && next->of_headers && !last) {
      next = next->items->pdata[next->items->len - 1]; /* [a.b] after [[a]]: the last a */
    } else if (next->type != T_TABLE || next->sealed) {
      return fail(lx, "[%s]: '%s' is already defined as a value", k, k);
    } else if (last && (next->by_header || !next->implicit)) {
      return fail(lx, "table [%s] is defined twice", k);
    }
    t = next;
  }
  t->by_header = TRUE;
  t->implicit = FALSE;
  t->line = lx->line;
  *out_table = t;
  return TRUE;
}

static Node *
toml_parse(const char *file, const char *text, GError **error)
{
  Lexer lx = { file, text, 1, error };
  g_autoptr(Node) root = node_new(T_TABLE, 1);
  Node *table = root;

  for (;;) {
    if (!skip_space_nl(&lx))
      return NULL;
    if (*lx.p == '\0')
      return g_steal_pointer(&root);
    if (*lx.p == '[') {
      if (!open_header(&lx, root, &table))
        return NULL;
    } else {
      g_autoptr(GPtrArray) parts = g_ptr_array_new_with_free_func(g_free);
      Node *v = NULL;
      if (!parse_key(&lx, parts))
        return NULL;
      if (*lx.p != '=')
        return fail(&lx, "expected '=' after the key"), NULL;
      lx.p++;
      skip_space(&lx);
      if (!parse_value(&lx, 0, &v) || !set_dotted(&lx, table, parts, v))
        return NULL;
    }
    skip_space(&lx);
    if (!skip_comment(&lx))
      return NULL;
    if (*lx.p != '\0' && *lx.p != '\n' && !(lx.p[0] == '\r' && lx.p[1] == '\n'))
      return fail(&lx, "unexpected text after the value"), NULL;
  }
}

/* ---- the tree read as registries.conf ---- */

typedef struct {
  const char *file;
  GError **error;
  int search_line;     /* where the search registries were set */
  GArray *search_lines; /* each search registry's line (int), when known */
} Reading;

/* Each item's line of the search list @v, for the errors about one. */
static void
note_search_lines(Reading *rd, const Node *v)
{
  g_array_set_size(rd->search_lines, 0);
  for (guint i = 0; i < v->items->len; i++)
    g_array_append_val(rd->search_lines, ((const Node *)v->items->pdata[i])->line);
}

static const char *const type_names[] = { "a string", "true or false", "an integer",
                                          "a number", "an array",      "a table" };

static gboolean
want(Reading *rd, const Node *n, NodeType type, const char *key)
{
  if (n->type == type)
    return TRUE;
  return fail_line(rd->file, n->line, rd->error, "'%s' must be %s", key, type_names[type]);
}

static gboolean
read_strings(Reading *rd, const Node *n, const char *key, GPtrArray *out)
{
  if (!want(rd, n, T_ARRAY, key))
    return FALSE;
  g_ptr_array_set_size(out, 0);
  for (guint i = 0; i < n->items->len; i++) {
    const Node *item = n->items->pdata[i];
    if (item->type != T_STRING)
      return fail_line(rd->file,
                       item->line,
                       rd->error,
                       "'%s' must be an array of strings (item %u is %s)",
                       key,
                       i + 1,
                       type_names[item->type]);
    g_ptr_array_add(out, g_strdup(item->s));
  }
  return TRUE;
}

static gboolean
unknown_key(Reading *rd, const Node *n, const char *key, const char *table)
{
  return fail_line(rd->file,
                   n->line,
                   rd->error,
                   "unknown key '%s'%s%s%s",
                   key,
                   *table ? " in [" : "",
                   table,
                   *table ? "]" : "");
}

static gboolean
pull_from_ok(Reading *rd, const Node *n)
{
  if (strcmp(n->s, "all") == 0 || strcmp(n->s, "digest-only") == 0 || strcmp(n->s, "tag-only") == 0)
    return TRUE;
  return fail_line(
    rd->file, n->line, rd->error, "pull-from-mirror must be all, digest-only or tag-only");
}

static gboolean
read_mirror(Reading *rd, const Node *t, ScMirror *m)
{
  for (guint i = 0; i < t->keys->len; i++) {
    const char *k = t->keys->pdata[i];
    const Node *v = t->items->pdata[i];
    if (strcmp(k, "location") == 0) {
      if (!want(rd, v, T_STRING, k))
        return FALSE;
      m->location = g_strdup(v->s);
    } else if (strcmp(k, "insecure") == 0) {
      if (!want(rd, v, T_BOOL, k))
        return FALSE;
      m->insecure = v->b;
    } else if (strcmp(k, "pull-from-mirror") == 0) {
      if (!want(rd, v, T_STRING, k) || !pull_from_ok(rd, v))
        return FALSE;
      m->pull_from = g_strdup(v->s);
    } else
      return unknown_key(rd, v, k, "registry.mirror");
  }
  return TRUE;
}

static gboolean
read_mirrors(Reading *rd, const Node *v, ScRegistryEntry *r)
{
  if (!want(rd, v, T_ARRAY, "mirror"))
    return FALSE;
  for (guint j = 0; j < v->items->len; j++) {
    const Node *mt = v->items->pdata[j];
    ScMirror *m = g_new0(ScMirror, 1);
    m->line = mt->line;
    g_ptr_array_add(r->mirrors, m);
    if (!want(rd, mt, T_TABLE, "mirror") || !read_mirror(rd, mt, m))
      return FALSE;
  }
  return TRUE;
}

static gboolean
read_registry(Reading *rd, const Node *t, ScRegistryEntry *r)
{
  for (guint i = 0; i < t->keys->len; i++) {
    const char *k = t->keys->pdata[i];
    const Node *v = t->items->pdata[i];
    if (strcmp(k, "prefix") == 0 || strcmp(k, "location") == 0) {
      char **slot = k[0] == 'p' ? &r->prefix : &r->location;
      if (!want(rd, v, T_STRING, k))
        return FALSE;
      g_free(*slot);
      *slot = g_strdup(v->s);
    } else if (strcmp(k, "insecure") == 0 || strcmp(k, "blocked") == 0 ||
               strcmp(k, "mirror-by-digest-only") == 0) {
      if (!want(rd, v, T_BOOL, k))
        return FALSE;
      *(k[0] == 'i' ? &r->insecure : k[0] == 'b' ? &r->blocked : &r->mirror_by_digest_only) = v->b;
    } else if (strcmp(k, "pull-from-mirror") == 0) {
      return fail_line(
        rd->file, v->line, rd->error, "pull-from-mirror must not be set for a non-mirror registry");
    } else if (strcmp(k, "mirror") == 0) {
      if (!read_mirrors(rd, v, r))
        return FALSE;
    } else
      return unknown_key(rd, v, k, "registry");
  }
  return TRUE;
}

/* [registries.search|insecure|block] registries = [...]: version 1. */
static gboolean
read_v1(Reading *rd, const Node *t, GPtrArray *lists[3], int lines[3], int *out_line)
{
  static const char *const names[] = { "search", "insecure", "block" };

  if (t->type != T_TABLE)
    return fail_line(rd->file,
                     t->line,
                     rd->error,
                     "'registries' must be a table ([registries.search], "
                     "[registries.insecure], [registries.block])");
  for (guint i = 0; i < t->keys->len; i++) {
    const char *k = t->keys->pdata[i];
    const Node *sub = t->items->pdata[i];
    int which = -1;
    for (int w = 0; w < 3; w++)
      if (strcmp(k, names[w]) == 0)
        which = w;
    if (which < 0 || sub->type != T_TABLE)
      return fail_line(rd->file,
                       sub->line,
                       rd->error,
                       "unknown table [registries.%s] (version 1 has [registries.search], "
                       "[registries.insecure] and [registries.block])",
                       k);
    for (guint j = 0; j < sub->keys->len; j++) {
      const Node *v = sub->items->pdata[j];
      g_autofree char *table = g_strconcat("registries.", k, NULL);
      if (strcmp(sub->keys->pdata[j], "registries") != 0)
        return unknown_key(rd, v, sub->keys->pdata[j], table);
      if (!read_strings(rd, v, "registries", lists[which]))
        return FALSE;
      if (which == 0)
        note_search_lines(rd, v);
      lines[which] = v->line;
      if (*out_line == 0 || v->line < *out_line)
        *out_line = v->line;
    }
  }
  return TRUE;
}

static ScRegistryEntry *
registry_entry_new(int line)
{
  ScRegistryEntry *r = g_new0(ScRegistryEntry, 1);
  r->mirrors = g_ptr_array_new_with_free_func((GDestroyNotify)mirror_free);
  r->line = line;
  return r;
}

/* containers/image's ConvertToV2: the blocked registries, then the
 * insecure ones, one entry per location; search becomes
 * unqualified-search-registries. */
static void
convert_v1(ScRegConf *one, GPtrArray *lists[3], const int lines[3])
{
  for (int w = 2; w >= 1; w--)
    for (guint i = 0; i < lists[w]->len; i++) {
      ScRegistryEntry *r = NULL;
      /* trailing '/' dropped before locations are compared, as
       * ConvertToV2's parseLocation does: "a.example/" blocked and
       * "a.example" insecure are one entry, not a conflict */
      g_autofree char *loc = g_strdup(lists[w]->pdata[i]);
      gsize len = strlen(loc);
      while (len > 0 && loc[len - 1] == '/')
        loc[--len] = '\0';
      for (guint j = 0; j < one->registries->len && r == NULL; j++)
        if (g_strcmp0(((ScRegistryEntry *)one->registries->pdata[j])->location, loc) == 0)
          r = one->registries->pdata[j];
      if (r == NULL) {
        r = registry_entry_new(lines[w]);
        r->location = g_strdup(loc);
        r->prefix = g_strdup(loc);
        g_ptr_array_add(one->registries, r);
      }
      if (w == 2)
        r->blocked = TRUE;
      else
        r->insecure = TRUE;
    }
  if (lists[0]->len > 0) {
    one->search_set = TRUE;
    for (guint i = 0; i < lists[0]->len; i++)
      g_ptr_array_add(one->search, g_strdup(lists[0]->pdata[i]));
  }
}

/* A version 2 key at the top of a file. */
static gboolean
read_v2_key(Reading *rd, ScRegConf *one, const char *k, const Node *v)
{
  if (strcmp(k, "unqualified-search-registries") == 0) {
    one->search_set = TRUE;
    rd->search_line = v->line;
    if (!read_strings(rd, v, k, one->search))
      return FALSE;
    note_search_lines(rd, v);
    return TRUE;
  }
  if (strcmp(k, "short-name-mode") == 0) {
    if (!want(rd, v, T_STRING, k))
      return FALSE;
    if (*v->s == '\0')
      return TRUE; /* unset, as containers/image reads "" */
    if (strcmp(v->s, "enforcing") != 0 && strcmp(v->s, "permissive") != 0 &&
        strcmp(v->s, "disabled") != 0)
      return fail_line(rd->file,
                       v->line,
                       rd->error,
                       "short-name-mode must be \"enforcing\", \"permissive\" or \"disabled\"");
    one->short_name_mode = g_strdup(v->s);
    return TRUE;
  }
  if (strcmp(k, "credential-helpers") == 0) {
    g_autoptr(GPtrArray) ignored = g_ptr_array_new_with_free_func(g_free);
    return read_strings(rd, v, k, ignored); /* understood; no effect here */
  }
  if (strcmp(k, "additional-layer-store-auth-helper") == 0)
    return want(rd, v, T_STRING, k);
  if (strcmp(k, "aliases") == 0) {
    if (!want(rd, v, T_TABLE, k))
      return FALSE;
    for (guint i = 0; i < v->keys->len; i++) {
      const Node *a = v->items->pdata[i];
      if (!want(rd, a, T_STRING, v->keys->pdata[i]))
        return FALSE;
      g_hash_table_replace(one->aliases, g_strdup(v->keys->pdata[i]), g_strdup(a->s));
    }
    return TRUE;
  }
  /* "registry" */
  if (v->type == T_TABLE)
    return fail_line(rd->file,
                     v->line,
                     rd->error,
                     "%s",
                     v->implicit ? "[[registry.mirror]] before any [[registry]]"
                                 : "'registry' must be an array of tables ([[registry]])");
  if (!want(rd, v, T_ARRAY, k))
    return FALSE;
  for (guint i = 0; i < v->items->len; i++) {
    const Node *t = v->items->pdata[i];
    ScRegistryEntry *r = registry_entry_new(t->line);
    g_ptr_array_add(one->registries, r);
    if (!want(rd, t, T_TABLE, "registry") || !read_registry(rd, t, r))
      return FALSE;
  }
  return TRUE;
}

static const char *const v2_keys[] = { "unqualified-search-registries",
                                       "short-name-mode",
                                       "credential-helpers",
                                       "additional-layer-store-auth-helper",
                                       "aliases",
                                       "registry",
                                       NULL };

/* The file's keys; version 1 and 2 told apart, as containers/image's
 * loadConfigFile does: both in one file, or version 1 in a drop-in
 * (registries.conf.d takes version 2 only), is an error. */
static gboolean
read_file_tree(Reading *rd, const Node *root, gboolean dropin, ScRegConf *one)
{
  g_autoptr(GPtrArray) s = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) i = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) b = g_ptr_array_new_with_free_func(g_free);
  GPtrArray *lists[3] = { s, i, b };
  int v1_line = 0, v2_line = 0, lines[3] = { 0, 0, 0 };
  const char *v2_key = NULL;

  for (guint n = 0; n < root->keys->len; n++) {
    const char *k = root->keys->pdata[n];
    const Node *v = root->items->pdata[n];
    if (strcmp(k, "registries") == 0) {
      if (!read_v1(rd, v, lists, lines, &v1_line))
        return FALSE;
    } else if (g_strv_contains(v2_keys, k)) {
      if (!read_v2_key(rd, one, k, v))
        return FALSE;
      /* an empty string is Go's zero value: not a version 2 setting for
       * the mixing rule (hasSetField); an empty array or table is one */
      if (v2_key == NULL && !(v->type == T_STRING && *v->s == '\0')) {
        v2_key = k;
        v2_line = v->line;
      }
    } else
      return unknown_key(rd, v, k, "");
  }
  if (v1_line && dropin)
    return fail_line(rd->file,
                     v1_line,
                     rd->error,
                     "registry must be in v2 format but is in v1 ([registries.*] tables): a "
                     "drop-in in registries.conf.d takes version 2 only");
  if (v1_line && v2_key)
    return fail_line(rd->file,
                     MAX(v1_line, v2_line),
                     rd->error,
                     "mixing sysregistry v1/v2 is not supported: [registries.*] tables (version "
                     "1, line %d) and '%s' (version 2, line %d) in one file",
                     v1_line,
                     v2_key,
                     v2_line);
  if (v1_line && lines[0])
    rd->search_line = lines[0];
  if (v1_line)
    convert_v1(one, lists, lines);
  return TRUE;
}

/* containers/image's parseLocation: no trailing '/', no URI scheme. */
static gboolean
clean_location(Reading *rd, int line, char **loc)
{
  gsize len;

  if (*loc == NULL)
    return TRUE;
  len = strlen(*loc);
  while (len > 0 && (*loc)[len - 1] == '/')
    (*loc)[--len] = '\0';
  if (g_str_has_prefix(*loc, "http://") || g_str_has_prefix(*loc, "https://"))
    return fail_line(
      rd->file, line, rd->error, "invalid location '%s': URI schemes are not supported", *loc);
  if (len == 0)
    g_clear_pointer(loc, g_free);
  return TRUE;
}

static gboolean
check_registry(Reading *rd, ScRegistryEntry *r)
{
  if (!clean_location(rd, r->line, &r->location) || !clean_location(rd, r->line, &r->prefix))
    return FALSE;
  if (r->prefix == NULL && r->location == NULL)
    return fail_line(rd->file,
                     r->line,
                     rd->error,
                     "[[registry]]: invalid condition: both location and prefix are unset");
  if (r->prefix == NULL)
    r->prefix = g_strdup(r->location);
  if (g_str_has_prefix(r->prefix, "*.") && strpbrk(r->prefix, "/@:"))
    return fail_line(rd->file,
                     r->line,
                     rd->error,
                     "[[registry]]: wildcarded prefix should be in the format *.example.com, "
                     "not \"%s\"",
                     r->prefix);
  if (!g_str_has_prefix(r->prefix, "*.") && r->location == NULL)
    return fail_line(rd->file,
                     r->line,
                     rd->error,
                     "[[registry]]: invalid condition: location is unset and prefix is not in "
                     "the format: *.example.com");
  for (guint j = 0; j < r->mirrors->len; j++) {
    ScMirror *m = r->mirrors->pdata[j];
    if (!clean_location(rd, m->line, &m->location))
      return FALSE;
    if (m->location == NULL)
      return fail_line(rd->file,
                       m->line,
                       rd->error,
                       "[[registry]] \"%s\": invalid condition: mirror location is unset",
                       r->prefix);
    if (r->mirror_by_digest_only && m->pull_from)
      return fail_line(rd->file,
                       m->line,
                       rd->error,
                       "[[registry]] \"%s\": mirror-by-digest-only and a mirror's "
                       "pull-from-mirror cannot be set at the same time",
                       r->prefix);
  }
  return TRUE;
}

/* host[:port], as a search registry must be (no path, no scheme). */
static gboolean
domain_ok(const char *d)
{
  const char *colon = strrchr(d, ':');
  gsize host_len = colon ? (gsize)(colon - d) : strlen(d);

  if (host_len == 0 || d[0] == '.' || d[0] == '-')
    return FALSE;
  for (gsize k = 0; k < host_len; k++)
    if (!g_ascii_isalnum(d[k]) && d[k] != '.' && d[k] != '-' && d[k] != '_')
      return FALSE;
  if (colon) {
    if (colon[1] == '\0')
      return FALSE;
    for (const char *p = colon + 1; *p; p++)
      if (!g_ascii_isdigit(*p))
        return FALSE;
  }
  return TRUE;
}

/* containers/image's postProcessRegistries, for one file. */
static gboolean
post_process(Reading *rd, ScRegConf *one)
{
  for (guint i = 0; i < one->registries->len; i++)
    if (!check_registry(rd, one->registries->pdata[i]))
      return FALSE;
  for (guint i = 0; i < one->registries->len; i++) {
    ScRegistryEntry *a = one->registries->pdata[i];
    for (guint j = 0; j < i; j++) {
      ScRegistryEntry *b = one->registries->pdata[j];
      const char *ka = a->location ? a->location : a->prefix;
      if (strcmp(ka, b->location ? b->location : b->prefix) != 0)
        continue;
      if (a->insecure != b->insecure || a->blocked != b->blocked)
        return fail_line(rd->file,
                         a->line,
                         rd->error,
                         "registry '%s' is defined multiple times with conflicting '%s' "
                         "setting (also at line %d)",
                         ka,
                         a->insecure != b->insecure ? "insecure" : "blocked",
                         b->line);
    }
  }
  for (guint i = 0; i < one->search->len; i++) {
    char **d = (char **)&one->search->pdata[i];
    int line = i < rd->search_lines->len ? g_array_index(rd->search_lines, int, i)
                                         : rd->search_line;
    if (!clean_location(rd, line, d))
      return FALSE;
    if (*d == NULL || !domain_ok(*d))
      return fail_line(rd->file,
                       line,
                       rd->error,
                       "invalid unqualified-search-registries entry \"%s\": a registry "
                       "host[:port] is needed",
                       *d ? *d : "");
  }
  return TRUE;
}

/* A file over what came before: its registries replace those with the
 * same prefix (within a file the first of a prefix counts), its search
 * list and short-name-mode replace the earlier ones if it sets them, its
 * aliases are added (containers/image's updateWithConfigurationFrom). */
static void
merge(ScRegConf *c, ScRegConf *one)
{
  g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
  GHashTableIter it;
  gpointer k, v;

  for (guint i = 0; i < one->registries->len; i++) {
    ScRegistryEntry *r = one->registries->pdata[i];
    if (!g_hash_table_add(seen, r->prefix))
      continue; /* (the first of a prefix in a file counts) */
    for (guint j = 0; j < c->registries->len; j++)
      if (strcmp(((ScRegistryEntry *)c->registries->pdata[j])->prefix, r->prefix) == 0) {
        g_ptr_array_remove_index(c->registries, j);
        break;
      }
    g_ptr_array_add(c->registries, one->registries->pdata[i]);
    one->registries->pdata[i] = NULL;
  }
  if (one->search_set) {
    g_ptr_array_unref(c->search);
    c->search = g_ptr_array_ref(one->search);
    c->search_set = TRUE;
  }
  if (one->short_name_mode) {
    g_free(c->short_name_mode);
    c->short_name_mode = g_strdup(one->short_name_mode);
  }
  g_hash_table_iter_init(&it, one->aliases);
  while (g_hash_table_iter_next(&it, &k, &v))
    g_hash_table_replace(c->aliases, g_strdup(k), g_strdup(v));
}

static gboolean
parse_one(ScRegConf *c, const char *file, const char *text, gboolean dropin, GError **error)
{
  g_autoptr(Node) root = toml_parse(file, text, error);
  g_autoptr(ScRegConf) one = NULL;
  g_autoptr(GArray) search_lines = g_array_new(FALSE, FALSE, sizeof(int));
  Reading rd = { file, error, 1, search_lines };

  if (root == NULL)
    return FALSE;
  one = sc_regconf_new();
  g_ptr_array_set_free_func(one->registries, NULL); /* (freed below, or moved to @c) */
  if (!read_file_tree(&rd, root, dropin, one) || !post_process(&rd, one)) {
    for (guint i = 0; i < one->registries->len; i++)
      registry_entry_free(one->registries->pdata[i]);
    return FALSE;
  }
  merge(c, one);
  for (guint i = 0; i < one->registries->len; i++)
    if (one->registries->pdata[i])
      registry_entry_free(one->registries->pdata[i]);
  return TRUE;
}

gboolean
sc_regconf_parse(ScRegConf *c, const char *file, const char *text, GError **error)
{
  return parse_one(c, file, text, FALSE, error);
}

gboolean
sc_regconf_parse_dropin(ScRegConf *c, const char *file, const char *text, GError **error)
{
  return parse_one(c, file, text, TRUE, error);
}

static gboolean
load_file(ScRegConf *c, const char *path, gboolean dropin, GError **error)
{
  g_autofree char *shown = g_strdup_printf("registries configuration %s", path);
  g_autoptr(GBytes) text = NULL;
  /* links are followed (administrators link configuration files); a fifo
   * is not waited for, and the size is bounded */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

  if (fd < 0) {
    g_set_error(error, SC_ERROR, SC_EIO, "%s: %s", shown, g_strerror(errno));
    return FALSE;
  }
  text = sc_read_fd_max(fd, shown, SC_REGCONF_MAX, SC_EIO, error);
  close(fd);
  if (text == NULL)
    return FALSE;
  g_ptr_array_add(c->files, g_strdup(path));
  return dropin ? sc_regconf_parse_dropin(c, path, g_bytes_get_data(text, NULL), error)
                : sc_regconf_parse(c, path, g_bytes_get_data(text, NULL), error);
}

static gboolean
load_dropins(ScRegConf *c, const char *dir, GError **error)
{
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  const char *n;

  if (d == NULL)
    return TRUE;
  while ((n = g_dir_read_name(d)) != NULL)
    if (g_str_has_suffix(n, ".conf"))
      g_ptr_array_add(names, g_strdup(n));
  g_ptr_array_sort(names, sc_strcmp_indirect);
  for (guint i = 0; i < names->len; i++) {
    g_autofree char *p = g_build_filename(dir, names->pdata[i], NULL);
    if (g_file_test(p, G_FILE_TEST_IS_DIR))
      continue; /* (containers/image does not descend either) */
    if (!load_file(c, p, TRUE, error))
      return FALSE;
  }
  return TRUE;
}

ScRegConf *
sc_regconf_load_files(const char *main, const char *const *dropin_dirs, GError **error)
{
  g_autoptr(ScRegConf) c = sc_regconf_new();

  if (main && !load_file(c, main, FALSE, error))
    return NULL;
  for (guint i = 0; dropin_dirs && dropin_dirs[i]; i++)
    if (!load_dropins(c, dropin_dirs[i], error))
      return NULL;
  return g_steal_pointer(&c);
}

/* As containers/image chooses: ~/.config/containers/registries.conf with
 * its own registries.conf.d only, when it exists; else the system file,
 * then the system's drop-ins and the user's. */
ScRegConf *
sc_regconf_load(const char *explicit_file, GError **error)
{
  const char *env = g_getenv("CONTAINERS_REGISTRIES_CONF");
  const char *sys = "/etc/containers/registries.conf";
  g_autofree char *user =
    g_build_filename(g_get_user_config_dir(), "containers", "registries.conf", NULL);
  g_autofree char *user_d = g_strconcat(user, ".d", NULL);
  const char *const user_dirs[] = { user_d, NULL };
  const char *const all_dirs[] = { "/etc/containers/registries.conf.d", user_d, NULL };

  if (explicit_file || (env && *env))
    return sc_regconf_load_files(explicit_file ? explicit_file : env, NULL, error);
  if (g_file_test(user, G_FILE_TEST_EXISTS))
    return sc_regconf_load_files(user, user_dirs, error);
  return sc_regconf_load_files(g_file_test(sys, G_FILE_TEST_EXISTS) ? sys : NULL, all_dirs, error);
}

/* How much of @full ("host[:port]/path") @prefix matches, or -1; as
 * containers/image's refMatchingPrefix: a prefix matches at a component
 * boundary (the next character is '/', ':' or '@', or none), and
 * "*.example.com" matches where ".example.com" first appears in the host
 * part, followed by a boundary: so "reg.example.com:5000" matches too (a
 * port does not take a host out of a blocked wildcard). */
gssize
sc_regconf_match(const char *prefix, const char *full)
{
  const char *at;
  gsize len;

  if (g_str_has_prefix(prefix, "*.")) {
    const char *slash = strchr(full, '/');
    at = strstr(full, prefix + 1);
    if (at == NULL || (slash && slash < at))
      return -1;
    len = (at - full) + strlen(prefix + 1);
  } else {
    len = strlen(prefix);
    if (!g_str_has_prefix(full, prefix))
      return -1;
  }
  if (full[len] == '\0' || full[len] == '/' || full[len] == ':' || full[len] == '@')
    return (gssize)len;
  return -1;
}

/* The [[registry]] whose prefix matches domain/path best (longest), or NULL. */
ScRegistryEntry *
sc_regconf_find(ScRegConf *c, const char *domain, const char *path)
{
  g_autofree char *full = g_strconcat(domain, "/", path, NULL);
  ScRegistryEntry *best = NULL;
  gsize best_len = 0;

  for (guint i = 0; i < c->registries->len; i++) {
    ScRegistryEntry *r = c->registries->pdata[i];
    const char *prefix = r->prefix ? r->prefix : r->location;
    gsize len;
    if (prefix == NULL || sc_regconf_match(prefix, full) < 0)
      continue;
    len = strlen(prefix);
    if (len > best_len) {
      best = r;
      best_len = len;
    }
  }
  return best;
}
