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

/* No --systemd-cgroup: that driver makes the container a transient
 * runc-NAME.scope of its own, outside NAME.service (atomic's layout). The
 * runtime's cgroupfs driver puts it where config.json's linux.cgroupsPath
 * says, a child of the unit's cgroup (sc_unit_container_cgroup()). */
gboolean
sc_unit_exec_directives(const char *runtime,
                        gboolean has_pid_file,
                        const char *unit_template,
                        gsize length,
                        const char *name,
                        const char *pidfile,
                        ScExecDirectives *out,
                        GError **error)
{
  gboolean wants_detach = FALSE;
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
    out->start = g_strdup_printf("%s run -d --pid-file %s '%s'", runtime, pidfile, name);
    out->stop = g_strdup("");
    out->start_pre = g_strdup("");
    out->stop_post = g_strdup_printf("%s delete '%s'", runtime, name);
  } else {
    out->start = g_strdup_printf("%s run '%s'", runtime, name);
    out->stop = g_strdup_printf("%s kill '%s'", runtime, name);
    out->start_pre = g_strdup("");
    out->stop_post = g_strdup("");
  }
  return TRUE;
}

/* Where the [Service] section's lines end in @text: the offset after its
 * last non-blank line. -1: no [Service]. */
static gssize
service_end(const char *text)
{
  gboolean in_service = FALSE;
  gssize end = -1;

  for (const char *p = text; *p != '\0';) {
    const char *eol = strchr(p, '\n');
    const char *s = p;
    while (*s == ' ' || *s == '\t')
      s++;
    gboolean blank = (*s == '\n' || *s == '\r' || *s == '\0');
    if (*s == '[')
      in_service = g_str_has_prefix(s, "[Service]");
    p = eol ? eol + 1 : p + strlen(p);
    if (in_service && !blank) /* (the blank lines before the next header stay there) */
      end = p - text;
  }
  return end;
}

/* The unit as systemd must see it to own its container:
 * - Delegate=yes, unless the template sets Delegate= itself: the runtime
 *   makes the container's cgroup below the unit's, which systemd leaves to
 *   it only in a delegated unit;
 * - for a detached runtime, Type=forking and PIDFile= (else systemd takes
 *   the exit of `run -d` for the end of the service), after the header;
 * - in the foreground, ExecStopPost=-RUNTIME delete --force NAME at the end
 *   of the section (after a template's own ExecStopPost=, which would reset
 *   the list): a runtime killed with its container (systemctl kill -s KILL)
 *   leaves its state behind, and the next `run NAME` would be refused. */
char *
sc_unit_finish(const char *rendered,
               gboolean detached,
               const char *pidfile,
               const char *runtime,
               const char *name)
{
  gsize len = strlen(rendered);
  gboolean has_type = service_get(rendered, len, "Type", NULL);
  gboolean has_pidfile = service_get(rendered, len, "PIDFile", NULL);
  gboolean has_delegate = service_get(rendered, len, "Delegate", NULL);
  gssize end = service_end(rendered);
  GString *out;
  gsize at;

  if (end < 0)
    return g_strdup(rendered);
  out = g_string_new(NULL);
  for (const char *p = rendered;; p = strchr(p, '\n') + 1) {
    const char *s = p;
    while (*s == ' ' || *s == '\t')
      s++;
    if (g_str_has_prefix(s, "[Service]")) {
      const char *eol = strchr(p, '\n');
      at = eol ? (gsize)(eol + 1 - rendered) : len;
      break;
    }
  }
  g_string_append_len(out, rendered, at);
  if (rendered[at - 1] != '\n')
    g_string_append_c(out, '\n');
  if (detached && !has_type)
    g_string_append(out, "Type=forking\n");
  if (detached && !has_pidfile)
    g_string_append_printf(out, "PIDFile=%s\n", pidfile);
  if (!has_delegate)
    g_string_append(out, "Delegate=yes\n");
  if ((gsize)end > at)
    g_string_append_len(out, rendered + at, end - at);
  if (out->str[out->len - 1] != '\n')
    g_string_append_c(out, '\n');
  if (!detached)
    g_string_append_printf(out, "ExecStopPost=-%s delete --force '%s'\n", runtime, name);
  g_string_append(out, rendered + end);
  return g_string_free(out, FALSE);
}

/* The cgroup of a unit's container, for config.json's linux.cgroupsPath.
 * With @relative_own (runc): "NAME.service/container", which the runtime
 * resolves from the cgroup it runs in, the unit's own, so it follows any
 * Slice= an administrator sets later in a drop-in. Else (crun, which reads
 * a relative path from the root) the absolute path under the slice the
 * rendered unit names, system.slice by default: "a-b.slice" is
 * /a.slice/a-b.slice, as systemd nests slices. */
char *
sc_unit_container_cgroup(const char *unit_text, const char *name, gboolean relative_own)
{
  g_autofree char *slice = NULL;
  GString *path;

  if (relative_own)
    return g_strdup_printf("%s.service/container", name);
  /* (a name systemd would refuse cannot be the unit's slice either) */
  if (!service_get(unit_text, strlen(unit_text), "Slice", &slice) ||
      !g_str_has_suffix(slice, ".slice") || strlen(slice) == strlen(".slice") ||
      (strcmp(slice, "-.slice") != 0 &&
       (slice[0] == '-' || strstr(slice, "--") != NULL || strstr(slice, "-.") != NULL)) ||
      slice[strspn(slice, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_.-")] !=
        '\0') {
    g_free(slice);
    slice = g_strdup("system.slice");
  }
  path = g_string_new(NULL);
  if (strcmp(slice, "-.slice") != 0) { /* the root slice: no directory */
    const char *stem_end = slice + strlen(slice) - strlen(".slice");
    for (const char *d = strchr(slice, '-'); d != NULL && d < stem_end; d = strchr(d + 1, '-')) {
      g_string_append_c(path, '/');
      g_string_append_len(path, slice, d - slice);
      g_string_append(path, ".slice");
    }
    g_string_append_printf(path, "/%s", slice);
  }
  g_string_append_printf(path, "/%s.service/container", name);
  return g_string_free(path, FALSE);
}
