/*
 * systemd unit generation: the default template, the EXEC_* directives
 * that start and stop the runtime, and Type=forking for a detached runtime.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "contract.h"

#include <string.h>

/* atomic's default unit, byte for byte (it starts with a newline). */
const char sc_unit_default[] = "\n"
                               "[Unit]\n"
                               "Description=$NAME\n"
                               "\n"
                               "[Service]\n"
                               "ExecStartPre=$EXEC_STARTPRE\n"
                               "ExecStart=$EXEC_START\n"
                               "ExecStop=$EXEC_STOP\n"
                               "ExecStopPost=$EXEC_STOPPOST\n"
                               "Restart=on-failure\n"
                               "WorkingDirectory=$DESTDIR\n"
                               "PIDFile=$PIDFILE\n"
                               "\n"
                               "[Install]\n"
                               "WantedBy=multi-user.target\n";

SC_API const char *
sc_unit_default_template(void)
{
  return sc_unit_default;
}

void
sc_exec_directives_clear(ScExecDirectives *d)
{
  g_clear_pointer(&d->start, g_free);
  g_clear_pointer(&d->stop, g_free);
  g_clear_pointer(&d->start_pre, g_free);
  g_clear_pointer(&d->stop_post, g_free);
}

/* Calls @func for each "Key=Value" line of the [Service] section. */
typedef gboolean (*ServiceLineFunc)(const char *key,
                                    gsize key_len,
                                    const char *value,
                                    gsize value_len,
                                    gpointer data);

static void
foreach_service_line(const char *text, gsize length, ServiceLineFunc func, gpointer data)
{
  gboolean in_service = FALSE;
  const char *p = text, *end = text + length;

  while (p < end) {
    const char *nl = memchr(p, '\n', end - p);
    const char *line_end = nl ? nl : end;
    const char *s = p, *e = line_end;

    while (s < e && (*s == ' ' || *s == '\t'))
      s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
      e--;
    if (s < e && *s == '[')
      in_service = (e - s == 9 && memcmp(s, "[Service]", 9) == 0);
    else if (in_service && s < e && *s != '#' && *s != ';') {
      const char *eq = memchr(s, '=', e - s);
      if (eq) {
        const char *k_end = eq, *v = eq + 1;
        while (k_end > s && (k_end[-1] == ' ' || k_end[-1] == '\t'))
          k_end--;
        while (v < e && (*v == ' ' || *v == '\t'))
          v++;
        if (!func(s, k_end - s, v, e - v, data))
          return;
      }
    }
    p = nl ? nl + 1 : end;
  }
}

typedef struct {
  const char *key;
  gboolean found;
  char *value;
} FindKey;

static gboolean
find_key_cb(const char *key, gsize key_len, const char *value, gsize value_len, gpointer data)
{
  FindKey *f = data;

  if (strlen(f->key) == key_len && memcmp(key, f->key, key_len) == 0) {
    f->found = TRUE;
    g_free(f->value);
    f->value = g_strndup(value, value_len); /* the last assignment wins */
  }
  return TRUE;
}

static gboolean
service_get(const char *text, gsize length, const char *key, char **out_value)
{
  FindKey f = { key, FALSE, NULL };

  foreach_service_line(text, length, find_key_cb, &f);
  if (out_value)
    *out_value = f.value;
  else
    g_free(f.value);
  return f.found;
}

/* A word written unquoted into ExecStart= and friends: nothing that systemd
 * would split, unquote, or expand as a specifier or variable. */

gboolean
sc_unit_exec_directives(const char *runtime,
                        gboolean has_pid_file,
                        gboolean has_cgroup,
                        const char *unit_template,
                        gsize length,
                        const char *name,
                        const char *pidfile,
                        ScExecDirectives *out,
                        GError **error)
{
  gboolean wants_detach = FALSE;
  const char *cgroup;
  g_autoptr(GPtrArray) vars = NULL;
  g_autofree char *type = NULL;

  memset(out, 0, sizeof(*out));

  /* atomic looked for the literal text "$EXEC_STOPPOST" and "$PIDFILE"
   * (quirk 16); we parse the template, so ${PIDFILE} counts too. */
  vars = sc_template_scan("service.template", unit_template, length, error);
  if (vars == NULL)
    return FALSE;
  for (guint i = 0, seen = 0; i < vars->len; i++) {
    if (strcmp(vars->pdata[i], "EXEC_STOPPOST") == 0 || strcmp(vars->pdata[i], "PIDFILE") == 0)
      seen++;
    wants_detach = (seen == 2);
  }
  /* A unit that declares another Type= cannot track a runtime that forks
   * into the background: run it in the foreground instead. */
  if (service_get(unit_template, length, "Type", &type) && type[0] != '\0' &&
      strcmp(type, "forking") != 0)
    wants_detach = FALSE;

  cgroup = has_cgroup ? " --systemd-cgroup" : "";
  if (wants_detach && has_pid_file) {
    if (pidfile == NULL || pidfile[0] != '/' || !sc_unit_word_ok(pidfile)) {
      g_set_error(error,
                  SC_ERROR,
                  SC_EINVAL,
                  "PIDFILE '%s' must be an absolute path without whitespace, quotes, '\\', '%%', "
                  "'$' or ';' (it is written into ExecStart= and PIDFile=)",
                  pidfile ? pidfile : "");
      return FALSE;
    }
    out->detached = TRUE;
    out->start = g_strdup_printf("%s%s run -d --pid-file %s '%s'", runtime, cgroup, pidfile, name);
    out->stop = g_strdup("");
    out->start_pre = g_strdup("");
    out->stop_post = g_strdup_printf("%s delete '%s'", runtime, name);
  } else {
    out->start = g_strdup_printf("%s%s run '%s'", runtime, cgroup, name);
    out->stop = g_strdup_printf("%s%s kill '%s'", runtime, cgroup, name);
    out->start_pre = g_strdup("");
    out->stop_post = g_strdup("");
  }
  return TRUE;
}

/* For a detached runtime the unit must say Type=forking and name the
 * PIDFile=, or systemd takes the exit of `run -d` for the end of the
 * service. Both are added right after the [Service] header when the template
 * does not set them. */
char *
sc_unit_finish(const char *rendered, gboolean detached, const char *pidfile)
{
  gsize len = strlen(rendered);
  gboolean has_type, has_pidfile;
  const char *p;
  GString *out;

  if (!detached)
    return g_strdup(rendered);
  has_type = service_get(rendered, len, "Type", NULL);
  has_pidfile = service_get(rendered, len, "PIDFile", NULL);
  if (has_type && has_pidfile)
    return g_strdup(rendered);

  for (p = rendered; *p != '\0';) {
    const char *eol = strchr(p, '\n');
    const char *s = p;
    while (*s == ' ' || *s == '\t')
      s++;
    if (g_str_has_prefix(s, "[Service]")) {
      gsize at = eol ? (gsize)(eol + 1 - rendered) : len;
      out = g_string_new_len(rendered, at);
      if (!eol)
        g_string_append_c(out, '\n');
      if (!has_type)
        g_string_append(out, "Type=forking\n");
      if (!has_pidfile)
        g_string_append_printf(out, "PIDFile=%s\n", pidfile);
      g_string_append(out, rendered + at);
      return g_string_free(out, FALSE);
    }
    if (eol == NULL)
      break;
    p = eol + 1;
  }
  return g_strdup(rendered);
}
