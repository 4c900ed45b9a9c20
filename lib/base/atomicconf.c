/*
 * /etc/atomic.conf: the host's settings for atomic (YAML), of which the
 * system containers use checkout_path, ostree_repository and runtime
 * (reference/atomic-behaviour.md §1, §3.1). Read with libyaml's event
 * parser, so that every error has the file and line of what is wrong; the
 * keys it does not use (default_storage, registries, default_signer...)
 * are skipped whatever they hold.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "base.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

/* atomic.conf is a few lines; a bound keeps a crafted one from costing
 * memory (libyaml keeps no more than one event at a time). */
#define SC_ATOMIC_CONF_MAX (1024 * 1024)

void
sc_atomic_conf_free(ScAtomicConf *c)
{
  if (c == NULL)
    return;
  g_free(c->file);
  for (int i = 0; i < SC_ATOMIC_CONF_N_KEYS; i++)
    g_free(c->value[i]);
  g_free(c);
}

static const char *const keys[SC_ATOMIC_CONF_N_KEYS] = { "checkout_path",
                                                         "ostree_repository",
                                                         "runtime" };

typedef struct {
  yaml_parser_t parser;
  yaml_event_t event;
  gboolean have_event;
  const char *file;
  GHashTable *anchors; /* anchor -> scalar value (NULL: not a scalar) */
  GError **error;
} Reader;

static gboolean fail_at(Reader *r, gsize line, const char *format, ...) G_GNUC_PRINTF(3, 4);

static gboolean
fail_at(Reader *r, gsize line, const char *format, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start(ap, format);
  msg = g_strdup_vprintf(format, ap);
  va_end(ap);
  g_set_error(r->error, SC_ERROR, SC_EINVAL, "%s line %zu: %s", r->file, line, msg);
  return FALSE;
}

/* The next event, in r->event; libyaml's own errors (syntax, encoding)
 * with the line it gives. */
static gboolean
next(Reader *r)
{
  if (r->have_event)
    yaml_event_delete(&r->event);
  r->have_event = FALSE;
  if (!yaml_parser_parse(&r->parser, &r->event)) {
    g_autofree char *problem =
      sc_display(r->parser.problem ? r->parser.problem : "invalid YAML", 200);
    if (r->parser.context)
      return fail_at(r,
                     r->parser.problem_mark.line + 1,
                     "%s (%s at line %zu)",
                     problem,
                     r->parser.context,
                     r->parser.context_mark.line + 1);
    return fail_at(r, r->parser.problem_mark.line + 1, "%s", problem);
  }
  r->have_event = TRUE;
  return TRUE;
}

static gsize
line_of(Reader *r)
{
  return r->event.start_mark.line + 1;
}

static gboolean
scalar_is_null(const yaml_event_t *e)
{
  const char *v = (const char *)e->data.scalar.value;
  const char *tag = (const char *)e->data.scalar.tag;

  if (tag && strcmp(tag, YAML_NULL_TAG) == 0)
    return TRUE;
  if (e->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
    return FALSE;
  return *v == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
         strcmp(v, "NULL") == 0;
}

/* Remembers what an anchor on the current event stands for. */
static void
note_anchor(Reader *r, const yaml_char_t *anchor, const char *scalar)
{
  if (anchor)
    g_hash_table_replace(r->anchors, g_strdup((const char *)anchor), g_strdup(scalar));
}

/* Skips the node that starts with the current event (a value of a key
 * that is not used), without recursion. */
static gboolean
skip_node(Reader *r)
{
  int depth = 0;

  do {
    switch (r->event.type) {
    case YAML_SCALAR_EVENT:
      note_anchor(r,
                  r->event.data.scalar.anchor,
                  scalar_is_null(&r->event) ? "" : (const char *)r->event.data.scalar.value);
      break;
    case YAML_SEQUENCE_START_EVENT:
      note_anchor(r, r->event.data.sequence_start.anchor, NULL);
      depth++;
      break;
    case YAML_MAPPING_START_EVENT:
      note_anchor(r, r->event.data.mapping_start.anchor, NULL);
      depth++;
      break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
      depth--;
      break;
    default:
      break;
    }
    if (depth > 0 && !next(r))
      return FALSE;
  } while (depth > 0);
  return TRUE;
}

static gboolean
path_ok(const char *p)
{
  return p[0] == '/' && strstr(p, "/../") == NULL && !g_str_has_suffix(p, "/..");
}

/* The value of a used key, checked for what it becomes. */
static gboolean
take_value(Reader *r, ScAtomicConf *c, int k, const char *value, gsize len, gsize line)
{
  g_autofree char *shown = sc_display(value, 200);

  if (len == 0)
    return TRUE; /* '' (or an alias of a null): unset, as atomic's "conf.get(k) or ..." */
  if (c->line[k] != 0)
    return fail_at(r, line, "'%s' is given twice (first at line %d)", keys[k], c->line[k]);
  c->line[k] = (int)line;
  if (strlen(value) != len)
    return fail_at(r, line, "'%s' holds a NUL character", keys[k]);
  for (const char *p = value; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f)
      /* a folded or quoted scalar can end in "\n": such a path would
       * break the unit's WorkingDirectory= and every file under it */
      return fail_at(r, line, "'%s' holds a control character (got '%s')", keys[k], shown);
  if (k != SC_ATOMIC_CONF_RUNTIME && !path_ok(value))
    return fail_at(
      r, line, "'%s' must be an absolute path without '..' (got '%s')", keys[k], shown);
  if (k == SC_ATOMIC_CONF_RUNTIME && !sc_unit_word_ok(value))
    return fail_at(r,
                   line,
                   "'runtime' must be a command name or path without whitespace, quotes, '\\', "
                   "'%%', '$' or ';' (it is written into the unit's ExecStart=), got '%s'",
                   shown);
  c->value[k] = g_strdup(value);
  return TRUE;
}

/* One "key: value" of the top mapping; the key's event is current. */
static gboolean
read_pair(Reader *r, ScAtomicConf *c)
{
  g_autofree char *key = NULL;
  gsize key_line = line_of(r);
  int k = -1;

  if (r->event.type != YAML_SCALAR_EVENT)
    return fail_at(r, key_line, "a key is not a plain string");
  key = g_strdup((const char *)r->event.data.scalar.value);
  if (strcmp(key, "<<") == 0 && r->event.data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
    /* PyYAML (atomic) merges the aliased mapping's keys here; skipping it
     * would silently drop a checkout_path or runtime set that way */
    return fail_at(r, key_line, "merge keys ('<<') are not supported: write the keys themselves");
  for (int i = 0; i < SC_ATOMIC_CONF_N_KEYS; i++)
    if (strcmp(key, keys[i]) == 0)
      k = i;
  if (!next(r))
    return FALSE;
  if (k < 0)
    return skip_node(r);
  switch (r->event.type) {
  case YAML_SCALAR_EVENT:
    note_anchor(r,
                r->event.data.scalar.anchor,
                scalar_is_null(&r->event) ? "" : (const char *)r->event.data.scalar.value);
    if (scalar_is_null(&r->event))
      return TRUE; /* "checkout_path:" leaves the default, as atomic's conf.get() */
    return take_value(
      r, c, k, (const char *)r->event.data.scalar.value, r->event.data.scalar.length, line_of(r));
  case YAML_ALIAS_EVENT: {
    const char *anchor = (const char *)r->event.data.alias.anchor;
    gpointer value = NULL;
    if (!g_hash_table_lookup_extended(r->anchors, anchor, NULL, &value))
      return fail_at(r, line_of(r), "'%s': the alias *%s is not defined", key, anchor);
    if (value == NULL)
      return fail_at(r, line_of(r), "'%s' must be a string, but *%s is not one", key, anchor);
    return take_value(r, c, k, value, strlen(value), line_of(r));
  }
  case YAML_SEQUENCE_START_EVENT:
    return fail_at(r, line_of(r), "'%s' must be a string, not a list", key);
  default:
    return fail_at(r, line_of(r), "'%s' must be a string, not a mapping", key);
  }
}

static gboolean
read_document(Reader *r, ScAtomicConf *c)
{
  if (!next(r))
    return FALSE;
  if (r->event.type == YAML_SCALAR_EVENT && scalar_is_null(&r->event))
    return next(r); /* "---" alone: nothing set */
  if (r->event.type != YAML_MAPPING_START_EVENT)
    return fail_at(r, line_of(r), "the document is not a mapping of keys to values");
  for (;;) {
    if (!next(r))
      return FALSE;
    if (r->event.type == YAML_MAPPING_END_EVENT)
      return next(r);
    if (!read_pair(r, c))
      return FALSE;
  }
}

ScAtomicConf *
sc_atomic_conf_parse(const char *file, const char *text, gsize len, GError **error)
{
  g_autoptr(ScAtomicConf) c = g_new0(ScAtomicConf, 1);
  Reader r = { .file = file, .error = error };
  gboolean ok = FALSE;

  c->file = g_strdup(file);
  yaml_parser_initialize(&r.parser);
  yaml_parser_set_input_string(&r.parser, (const unsigned char *)text, len);
  r.anchors = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  if (!next(&r) || !next(&r)) /* the stream's start, then a document or the end */
    goto out;
  if (r.event.type == YAML_DOCUMENT_START_EVENT) {
    if (!read_document(&r, c) || !next(&r))
      goto out;
    if (r.event.type == YAML_DOCUMENT_START_EVENT) {
      fail_at(&r, line_of(&r), "a second document (atomic reads one)");
      goto out;
    }
  }
  ok = TRUE;
out:
  if (r.have_event)
    yaml_event_delete(&r.event);
  yaml_parser_delete(&r.parser);
  g_hash_table_unref(r.anchors);
  return ok ? g_steal_pointer(&c) : NULL;
}

gboolean
sc_atomic_conf_load(const char *sysroot, ScAtomicConf **out_conf, GError **error)
{
  const char *env = g_getenv("ATOMIC_CONF");
  g_autofree char *file = NULL;
  g_autoptr(GBytes) text = NULL;
  g_autoptr(GError) local = NULL;
  gsize len = 0;
  int fd;

  *out_conf = NULL;
  if (env && *env) {
    /* the caller's own path on this machine, as atomic takes it */
    file = g_strdup(env);
    fd = open(env, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
      g_set_error(error,
                  SC_ERROR,
                  errno == ENOENT ? SC_ENOTFOUND : SC_EIO,
                  "%s (from $ATOMIC_CONF): %s",
                  env,
                  g_strerror(errno));
      return FALSE;
    }
  } else {
    int root = open(sysroot, O_PATH | O_DIRECTORY | O_CLOEXEC);
    file = g_build_filename(sysroot, "etc", "atomic.conf", NULL);
    if (root < 0) {
      g_set_error(error, SC_ERROR, SC_EIO, "%s: %s", file, g_strerror(errno));
      return FALSE;
    }
    /* inside the (sys)root: its links resolve in it; O_NONBLOCK: a fifo
     * there must not hang the tool before it is refused */
    fd =
      sc_confined_open(root, "etc/atomic.conf", O_RDONLY | O_NOCTTY | O_NONBLOCK, 0, TRUE, &local);
    close(root);
    if (fd < 0 && g_error_matches(local, SC_ERROR, SC_ENOTFOUND))
      return TRUE; /* no atomic.conf: the defaults */
    if (fd < 0) {
      g_set_error(error, SC_ERROR, local->code, "%s: %s", file, local->message);
      return FALSE;
    }
  }
  text = sc_read_fd_max(fd, file, SC_ATOMIC_CONF_MAX, SC_EINVAL, error);
  close(fd);
  if (text == NULL)
    return FALSE;
  {
    const char *data = g_bytes_get_data(text, &len);
    *out_conf = sc_atomic_conf_parse(file, data, len, error);
  }
  return *out_conf != NULL;
}
