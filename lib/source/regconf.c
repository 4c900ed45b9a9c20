/*
 * registries.conf (version 2) as the containers tools read it:
 * unqualified-search-registries, [aliases], and [[registry]] entries with
 * prefix, location, insecure, blocked and [[registry.mirror]]s; the main
 * file (~/.config/containers/registries.conf if it exists, else
 * /etc/containers/registries.conf, or $CONTAINERS_REGISTRIES_CONF, or an
 * explicit file) then the registries.conf.d drop-ins in lexical order.
 *
 * Debian 12 ships no TOML library for C, so this is a parser for the subset
 * these files use: tables, arrays of tables, bare and quoted keys, basic and
 * literal strings, booleans, integers, and arrays of strings. Anything else
 * is refused with its line number rather than guessed at.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "source.h"

#include <string.h>

void
sc_regconf_free(ScRegConf *c)
{
  if (c == NULL)
    return;
  g_ptr_array_unref(c->search);
  g_free(c->short_name_mode);
  g_ptr_array_unref(c->registries);
  g_hash_table_unref(c->aliases);
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
  return c;
}

/* ---- the TOML subset ---- */

typedef enum { V_STRING, V_BOOL, V_INT, V_ARRAY } ValueType;

typedef struct {
  ValueType type;
  char *s;
  gboolean b;
  gint64 i;
  GPtrArray *a; /* of char* */
} Value;

static void
value_clear(Value *v)
{
  g_clear_pointer(&v->s, g_free);
  if (v->a)
    g_ptr_array_unref(v->a);
  v->a = NULL;
}

typedef struct {
  const char *file;
  const char *p;
  int line;
  GError **error;
} Lexer;

static gboolean
fail(Lexer *lx, const char *what)
{
  g_set_error(lx->error, SC_ERROR, SC_EINVAL, "%s line %d: %s", lx->file, lx->line, what);
  return FALSE;
}

static void
skip_space(Lexer *lx)
{
  while (*lx->p == ' ' || *lx->p == '\t')
    lx->p++;
}

/* spaces, comments and newlines (inside arrays) */
static void
skip_space_nl(Lexer *lx)
{
  for (;;) {
    skip_space(lx);
    if (*lx->p == '#')
      while (*lx->p && *lx->p != '\n')
        lx->p++;
    if (*lx->p == '\r' && lx->p[1] == '\n')
      lx->p++;
    if (*lx->p != '\n')
      return;
    lx->p++;
    lx->line++;
  }
}

static gboolean
parse_string(Lexer *lx, char **out)
{
  GString *s = g_string_new(NULL);
  char quote = *lx->p++;

  while (*lx->p && *lx->p != quote) {
    if (*lx->p == '\n') {
      g_string_free(s, TRUE);
      return fail(lx, "a string runs past the end of the line (multi-line strings are not "
                      "supported)");
    }
    if (quote == '"' && *lx->p == '\\') {
      lx->p++;
      switch (*lx->p) {
      case '"': g_string_append_c(s, '"'); break;
      case '\\': g_string_append_c(s, '\\'); break;
      case 'n': g_string_append_c(s, '\n'); break;
      case 't': g_string_append_c(s, '\t'); break;
      case 'u': {
        char hex[5] = {0};
        gunichar u;
        if (strlen(lx->p + 1) < 4 || !g_ascii_isxdigit(lx->p[1]) || !g_ascii_isxdigit(lx->p[2]) ||
            !g_ascii_isxdigit(lx->p[3]) || !g_ascii_isxdigit(lx->p[4])) {
          g_string_free(s, TRUE);
          return fail(lx, "invalid \\u escape");
        }
        memcpy(hex, lx->p + 1, 4);
        u = (gunichar)strtoul(hex, NULL, 16);
        g_string_append_unichar(s, u);
        lx->p += 4;
        break;
      }
      default:
        g_string_free(s, TRUE);
        return fail(lx, "unsupported escape in a string");
      }
      lx->p++;
    } else
      g_string_append_c(s, *lx->p++);
  }
  if (*lx->p != quote) {
    g_string_free(s, TRUE);
    return fail(lx, "unterminated string");
  }
  lx->p++;
  *out = g_string_free(s, FALSE);
  return TRUE;
}

static gboolean
parse_value(Lexer *lx, Value *v)
{
  memset(v, 0, sizeof(*v));
  if (*lx->p == '"' || *lx->p == '\'') {
    if (lx->p[0] == lx->p[1] && lx->p[1] == lx->p[2])
      return fail(lx, "multi-line strings are not supported");
    v->type = V_STRING;
    return parse_string(lx, &v->s);
  }
  if (g_str_has_prefix(lx->p, "true") || g_str_has_prefix(lx->p, "false")) {
    v->type = V_BOOL;
    v->b = *lx->p == 't';
    lx->p += v->b ? 4 : 5;
    return TRUE;
  }
  if (g_ascii_isdigit(*lx->p) || *lx->p == '-' || *lx->p == '+') {
    char *end;
    v->type = V_INT;
    v->i = g_ascii_strtoll(lx->p, &end, 10);
    if (end == lx->p)
      return fail(lx, "invalid number");
    lx->p = end;
    return TRUE;
  }
  if (*lx->p == '[') {
    v->type = V_ARRAY;
    v->a = g_ptr_array_new_with_free_func(g_free);
    lx->p++;
    for (;;) {
      char *item;
      skip_space_nl(lx);
      if (*lx->p == ']') {
        lx->p++;
        return TRUE;
      }
      if (*lx->p != '"' && *lx->p != '\'')
        return fail(lx, "only arrays of strings are supported");
      if (!parse_string(lx, &item))
        return FALSE;
      g_ptr_array_add(v->a, item);
      skip_space_nl(lx);
      if (*lx->p == ',')
        lx->p++;
      else if (*lx->p != ']')
        return fail(lx, "expected ',' or ']' in an array");
    }
  }
  if (*lx->p == '{')
    return fail(lx, "inline tables are not supported");
  return fail(lx, "unsupported value");
}

static gboolean
want(Lexer *lx, const Value *v, ValueType type, const char *key)
{
  static const char *const names[] = {"a string", "true or false", "an integer",
                                      "an array of strings"};
  if (v->type == type)
    return TRUE;
  {
    g_autofree char *msg = g_strdup_printf("'%s' must be %s", key, names[type]);
    return fail(lx, msg);
  }
}

/* Applies key = value to the current table. */
static gboolean
apply(Lexer *lx, ScRegConf *c, const char *table, const char *key, Value *v)
{
  ScRegistryEntry *reg = c->registries->len ? c->registries->pdata[c->registries->len - 1] : NULL;

  if (strcmp(table, "") == 0) {
    if (strcmp(key, "unqualified-search-registries") == 0) {
      if (!want(lx, v, V_ARRAY, key))
        return FALSE;
      g_ptr_array_set_size(c->search, 0);
      for (guint i = 0; i < v->a->len; i++)
        g_ptr_array_add(c->search, g_strdup(v->a->pdata[i]));
      return TRUE;
    }
    if (strcmp(key, "short-name-mode") == 0) {
      if (!want(lx, v, V_STRING, key))
        return FALSE;
      if (strcmp(v->s, "enforcing") != 0 && strcmp(v->s, "permissive") != 0 &&
          strcmp(v->s, "disabled") != 0)
        return fail(lx, "short-name-mode must be \"enforcing\", \"permissive\" or "
                        "\"disabled\"");
      g_free(c->short_name_mode);
      c->short_name_mode = g_strdup(v->s);
      return TRUE;
    }
    if (strcmp(key, "credential-helpers") == 0 ||
        strcmp(key, "additional-layer-store-auth-helper") == 0)
      return TRUE; /* understood; no effect here */
  } else if (strcmp(table, "aliases") == 0) {
    if (!want(lx, v, V_STRING, key))
      return FALSE;
    g_hash_table_replace(c->aliases, g_strdup(key), g_strdup(v->s));
    return TRUE;
  } else if (strcmp(table, "registry") == 0 && reg) {
    if (strcmp(key, "prefix") == 0 || strcmp(key, "location") == 0) {
      if (!want(lx, v, V_STRING, key))
        return FALSE;
      g_free(key[0] == 'p' ? reg->prefix : reg->location);
      if (key[0] == 'p')
        reg->prefix = g_strdup(v->s);
      else
        reg->location = g_strdup(v->s);
      return TRUE;
    }
    if (strcmp(key, "insecure") == 0 || strcmp(key, "blocked") == 0 ||
        strcmp(key, "mirror-by-digest-only") == 0) {
      if (!want(lx, v, V_BOOL, key))
        return FALSE;
      if (key[0] == 'i')
        reg->insecure = v->b;
      else if (key[0] == 'b')
        reg->blocked = v->b;
      else
        reg->mirror_by_digest_only = v->b;
      return TRUE;
    }
  } else if (strcmp(table, "registry.mirror") == 0 && reg && reg->mirrors->len) {
    ScMirror *m = reg->mirrors->pdata[reg->mirrors->len - 1];
    if (strcmp(key, "location") == 0 || strcmp(key, "pull-from-mirror") == 0) {
      if (!want(lx, v, V_STRING, key))
        return FALSE;
      if (key[0] == 'l') {
        g_free(m->location);
        m->location = g_strdup(v->s);
      } else {
        if (strcmp(v->s, "all") != 0 && strcmp(v->s, "digest-only") != 0 &&
            strcmp(v->s, "tag-only") != 0)
          return fail(lx, "pull-from-mirror must be all, digest-only or tag-only");
        g_free(m->pull_from);
        m->pull_from = g_strdup(v->s);
      }
      return TRUE;
    }
    if (strcmp(key, "insecure") == 0) {
      if (!want(lx, v, V_BOOL, key))
        return FALSE;
      m->insecure = v->b;
      return TRUE;
    }
  }
  {
    g_autofree char *msg = g_strdup_printf("unknown key '%s'%s%s%s", key, *table ? " in [" : "",
                                           table, *table ? "]" : "");
    return fail(lx, msg);
  }
}

gboolean
sc_regconf_parse(ScRegConf *c, const char *file, const char *text, GError **error)
{
  Lexer lx = {file, text, 1, error};
  g_autofree char *table = g_strdup("");

  for (;;) {
    skip_space_nl(&lx);
    if (*lx.p == '\0')
      return TRUE;
    if (*lx.p == '[') {
      gboolean array = lx.p[1] == '[';
      const char *start = lx.p + (array ? 2 : 1);
      const char *end = strchr(start, ']');
      g_autofree char *name = NULL;
      if (end == NULL || (array && end[1] != ']'))
        return fail(&lx, "unterminated table header");
      name = g_strstrip(g_strndup(start, end - start));
      lx.p = end + (array ? 2 : 1);
      if (array && strcmp(name, "registry") == 0) {
        ScRegistryEntry *r = g_new0(ScRegistryEntry, 1);
        r->mirrors = g_ptr_array_new_with_free_func((GDestroyNotify)mirror_free);
        g_ptr_array_add(c->registries, r);
      } else if (array && strcmp(name, "registry.mirror") == 0) {
        ScRegistryEntry *r =
            c->registries->len ? c->registries->pdata[c->registries->len - 1] : NULL;
        if (r == NULL)
          return fail(&lx, "[[registry.mirror]] before any [[registry]]");
        g_ptr_array_add(r->mirrors, g_new0(ScMirror, 1));
      } else if (!array && strcmp(name, "aliases") == 0) {
      } else if (g_str_has_prefix(name, "registries.")) {
        return fail(&lx, "version 1 tables ([registries.search], [registries.insecure], "
                         "[registries.block]) are not supported: use version 2 "
                         "(unqualified-search-registries, [[registry]])");
      } else {
        g_autofree char *msg = g_strdup_printf("unknown table [%s%s%s]", array ? "[" : "", name,
                                               array ? "]" : "");
        return fail(&lx, msg);
      }
      g_free(table);
      table = g_steal_pointer(&name);
    } else {
      g_autofree char *key = NULL;
      Value v = { 0 };
      gboolean ok;
      if (*lx.p == '"' || *lx.p == '\'') {
        if (!parse_string(&lx, &key))
          return FALSE;
      } else {
        const char *start = lx.p;
        while (g_ascii_isalnum(*lx.p) || *lx.p == '_' || *lx.p == '-')
          lx.p++;
        if (lx.p == start)
          return fail(&lx, "expected a key, a [table] or a comment");
        key = g_strndup(start, lx.p - start);
      }
      skip_space(&lx);
      if (*lx.p == '.')
        return fail(&lx, "dotted keys are not supported");
      if (*lx.p != '=')
        return fail(&lx, "expected '=' after the key");
      lx.p++;
      skip_space(&lx);
      if (!parse_value(&lx, &v)) {
        value_clear(&v); /* an array may be half-read */
        return FALSE;
      }
      ok = apply(&lx, c, table, key, &v);
      value_clear(&v);
      if (!ok)
        return FALSE;
    }
    skip_space(&lx);
    if (*lx.p == '#')
      while (*lx.p && *lx.p != '\n')
        lx.p++;
    if (*lx.p != '\n' && *lx.p != '\r' && *lx.p != '\0')
      return fail(&lx, "unexpected text after the value");
  }
}

static gboolean
load_file(ScRegConf *c, const char *path, GError **error)
{
  g_autofree char *text = NULL;
  g_autoptr(GError) local = NULL;

  if (!g_file_get_contents(path, &text, NULL, &local)) {
    g_set_error(error, SC_ERROR, SC_EIO, "registries configuration %s: %s", path, local->message);
    return FALSE;
  }
  return sc_regconf_parse(c, path, text, error);
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
    if (!load_file(c, p, error))
      return FALSE;
  }
  return TRUE;
}

ScRegConf *
sc_regconf_load(const char *explicit_file, GError **error)
{
  ScRegConf *c = sc_regconf_new();
  const char *env = g_getenv("CONTAINERS_REGISTRIES_CONF");
  g_autofree char *user = g_build_filename(g_get_user_config_dir(), "containers",
                                           "registries.conf", NULL);
  g_autofree char *user_d = g_strconcat(user, ".d", NULL);
  gboolean ok;

  if (explicit_file || (env && *env)) {
    ok = load_file(c, explicit_file ? explicit_file : env, error);
  } else {
    const char *main = g_file_test(user, G_FILE_TEST_EXISTS) ? user
                       : g_file_test("/etc/containers/registries.conf", G_FILE_TEST_EXISTS)
                           ? "/etc/containers/registries.conf"
                           : NULL;
    ok = (main == NULL || load_file(c, main, error)) &&
         load_dropins(c, "/etc/containers/registries.conf.d", error) &&
         load_dropins(c, user_d, error);
  }
  if (!ok) {
    sc_regconf_free(c);
    return NULL;
  }
  return c;
}

/* The [[registry]] whose prefix matches domain/path best (longest), or NULL.
 * A prefix matches at a component boundary; "*.example.com" matches
 * subdomains. */
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
    if (prefix == NULL)
      continue;
    len = strlen(prefix);
    if (g_str_has_prefix(prefix, "*.")) {
      if (!g_str_has_suffix(domain, prefix + 1))
        continue;
    } else if (!(g_str_has_prefix(full, prefix) &&
                 (full[len] == '\0' || full[len] == '/' || full[len] == ':' ||
                  full[len] == '@')))
      continue;
    if (len > best_len) {
      best = r;
      best_len = len;
    }
  }
  return best;
}
