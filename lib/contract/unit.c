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
    /* --force (atomic: plain delete): a unit stopped while it starts (a
     * rollback of a controlled update restarting it) gets its ExecStopPost=
     * while the container's init, which as a PID namespace's init ignores
     * the SIGTERM, still runs; a plain delete then fails, the state stays
     * and the next `run NAME` is refused */
    out->stop_post = g_strdup_printf("%s delete --force '%s'", runtime, name);
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

/* Where the template's own ExecStopPost= lines start in the [Service]
 * section of @text: the offset of the first one after the last empty
 * "ExecStopPost=" (which resets the list); -1: none. */
static gssize
own_stop_post_start(const char *text)
{
  gboolean in_service = FALSE;
  gssize start = -1;

  for (const char *p = text; *p != '\0';) {
    const char *eol = strchr(p, '\n');
    const char *s = p, *e = eol ? eol : p + strlen(p);
    while (*s == ' ' || *s == '\t')
      s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
      e--;
    if (*s == '[')
      in_service = g_str_has_prefix(s, "[Service]");
    else if (in_service && g_str_has_prefix(s, "ExecStopPost")) {
      const char *v = s + strlen("ExecStopPost");
      while (v < e && (*v == ' ' || *v == '\t'))
        v++;
      if (v < e && *v == '=') {
        for (v++; v < e && (*v == ' ' || *v == '\t'); v++)
          ;
        if (v == e)
          start = -1; /* reset: what came before no longer counts */
        else if (start < 0)
          start = p - text;
      }
    }
    p = eol ? eol + 1 : p + strlen(p);
  }
  return start;
}

/* The unit as systemd must see it to own its container:
 * - Delegate=yes, unless the template sets Delegate= itself: the runtime
 *   makes the container's cgroup below the unit's, which systemd leaves to
 *   it only in a delegated unit;
 * - for a detached runtime, Type=forking and PIDFile= (else systemd takes
 *   the exit of `run -d` for the end of the service), after the header;
 * - in the foreground, ExecStopPost=-RUNTIME delete --force NAME: a runtime
 *   killed with its container (systemctl kill -s KILL) leaves its state
 *   behind, and the next `run NAME` would be refused. It goes at the end
 *   of the section, or before a template's own ExecStopPost= lines (after
 *   an empty one, which resets the list): systemd runs none of the later ones once one fails, and
 *   flannel's `rm` of a drop-in fails when the drop-in is not there. */
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
  gssize own = detached ? -1 : own_stop_post_start(rendered);
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
  if (own >= (gssize)at) {
    g_string_append_len(out, rendered + at, own - at);
    g_string_append_printf(out, "ExecStopPost=-%s delete --force '%s'\n", runtime, name);
    at = own;
  }
  if ((gsize)end > at)
    g_string_append_len(out, rendered + at, end - at);
  if (out->str[out->len - 1] != '\n')
    g_string_append_c(out, '\n');
  if (!detached && own < 0)
    g_string_append_printf(out, "ExecStopPost=-%s delete --force '%s'\n", runtime, name);
  g_string_append(out, rendered + end);
  return g_string_free(out, FALSE);
}

/* The name systemd gives a unit's or slice's cgroup directory (its
 * cg_escape()): a name that starts with '_' or '.', or whose part before
 * the last '.' is a controller's name ("cpu.service"), or that could be
 * one of the kernel's files, gets a '_' in front. */
static void
append_cg_escaped(GString *path, const char *unit, gsize len)
{
  static const char *const controllers[] = { "cpu",
                                             "cpuacct",
                                             "cpuset",
                                             "io",
                                             "blkio",
                                             "memory",
                                             "devices",
                                             "pids",
                                             "bpf-firewall",
                                             "bpf-devices",
                                             "bpf-foreign",
                                             "bpf-socket-bind",
                                             "bpf-restrict-network-interfaces" };
  g_autofree char *u = g_strndup(unit, len);
  const char *dot = strrchr(u, '.');
  gboolean prefix =
    (u[0] == '_' || u[0] == '.' || g_str_has_prefix(u, "cgroup.") || strcmp(u, "tasks") == 0 ||
     strcmp(u, "notify_on_release") == 0 || strcmp(u, "release_agent") == 0);

  for (gsize i = 0; !prefix && dot != NULL && i < G_N_ELEMENTS(controllers); i++)
    prefix =
      (strlen(controllers[i]) == (gsize)(dot - u) && memcmp(u, controllers[i], dot - u) == 0);
  g_string_append_c(path, '/');
  if (prefix)
    g_string_append_c(path, '_');
  g_string_append(path, u);
}

/* Whether systemd would accept @slice as a slice's name. */
static gboolean
slice_name_ok(const char *slice)
{
  if (!g_str_has_suffix(slice, ".slice") || strlen(slice) == strlen(".slice"))
    return FALSE;
  if (strcmp(slice, "-.slice") == 0)
    return TRUE;
  if (slice[0] == '-' || strstr(slice, "--") != NULL || strstr(slice, "-.") != NULL)
    return FALSE;
  return slice[strspn(
           slice, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_.-\\")] == '\0';
}

/* The slice systemd puts a unit without Slice= in: an instance
 * (PREFIX@INSTANCE.service) goes to system-PREFIX.slice, the prefix
 * escaped as in unit names ('-' is "\x2d"); any other unit to
 * system.slice. */
static char *
default_slice(const char *name)
{
  const char *at = strchr(name, '@');
  GString *s;

  if (at == NULL)
    return g_strdup("system.slice");
  s = g_string_new("system-");
  for (const char *p = name; p < at; p++) {
    if (g_ascii_isalnum(*p) || *p == ':' || *p == '_' || (*p == '.' && p != name))
      g_string_append_c(s, *p);
    else
      g_string_append_printf(s, "\\x%02x", (guchar)*p);
  }
  g_string_append(s, ".slice");
  return g_string_free(s, FALSE);
}

/* The cgroup of a unit's container, for config.json's linux.cgroupsPath.
 * With @relative_own (runc): "UNIT-CGROUP/container", which the runtime
 * resolves from the parent of the cgroup it runs in, the unit's own, so it
 * follows any Slice= an administrator sets later in a drop-in. Else (crun,
 * which reads a relative path from the root) the absolute path under the
 * slice the rendered unit names, or the one systemd picks without Slice=:
 * "a-b.slice" is /a.slice/a-b.slice, as systemd nests slices. Every
 * directory is named as systemd names it (append_cg_escaped()). */
char *
sc_unit_container_cgroup(const char *unit_text, const char *name, gboolean relative_own)
{
  g_autofree char *slice = NULL;
  g_autofree char *unit = g_strdup_printf("%s.service", name);
  GString *path = g_string_new(NULL);

  if (!relative_own) {
    /* (a name systemd would refuse cannot be the unit's slice either) */
    if (!service_get(unit_text, strlen(unit_text), "Slice", &slice) || !slice_name_ok(slice)) {
      g_free(slice);
      slice = default_slice(name);
    }
    if (strcmp(slice, "-.slice") != 0) { /* the root slice: no directory */
      const char *stem_end = slice + strlen(slice) - strlen(".slice");
      for (const char *d = strchr(slice, '-'); d != NULL && d < stem_end; d = strchr(d + 1, '-')) {
        g_autofree char *parent = g_strdup_printf("%.*s.slice", (int)(d - slice), slice);
        append_cg_escaped(path, parent, strlen(parent));
      }
      append_cg_escaped(path, slice, strlen(slice));
    }
  }
  append_cg_escaped(path, unit, strlen(unit));
  g_string_append(path, "/container");
  if (relative_own)
    g_string_erase(path, 0, 1); /* relative: no leading '/' */
  return g_string_free(path, FALSE);
}
