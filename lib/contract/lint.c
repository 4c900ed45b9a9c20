/*
 * Lint: an image's exports checked against the contract, before anyone
 * installs it. Errors are what makes an install fail; warnings are what
 * atomic's images linter (syscontainers-lint) warned about, and a few
 * mistakes it could not see.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "contract.h"

#include <string.h>

typedef struct {
  json_t *findings;
  int errors, warnings;
} Report;

static void add(Report *rep,
                gboolean is_error,
                const char *file,
                const char *check,
                const char *format,
                ...) G_GNUC_PRINTF(5, 6);

static void
add(Report *rep, gboolean is_error, const char *file, const char *check, const char *format, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;
  json_t *f = json_object();

  va_start(ap, format);
  msg = g_strdup_vprintf(format, ap);
  va_end(ap);
  json_object_set_new(f, "severity", json_string(is_error ? "error" : "warning"));
  json_object_set_new(f, "file", json_string(file));
  json_object_set_new(f, "check", json_string(check));
  json_object_set_new(f, "message", json_string(msg));
  json_array_append_new(rep->findings, f);
  if (is_error)
    rep->errors++;
  else
    rep->warnings++;
}

static const char *const known_manifest_keys[] = {
  "version",     "defaultValues",      "installedFilesTemplate",
  "renameFiles", "noContainerService", "useLinks",
  NULL
};

static void
lint_manifest(const sc_exports *ex, Report *rep)
{
  gsize len;
  const char *text;
  json_t *doc, *v;
  const char *key;
  json_t *val;

  if (!ex->has_manifest) {
    add(rep,
        FALSE,
        "manifest.json",
        "manifest-missing",
        "no manifest.json: the image has no default values, so every variable its templates use "
        "must come from the host or --set");
    return;
  }
  text = g_bytes_get_data(ex->manifest.data, &len);
  doc = json_loadb(text, len, 0, NULL);
  if (doc == NULL)
    return; /* sc_exports_open reported it */
  json_object_foreach (doc, key, val)
    if (!sc_strv_has(known_manifest_keys, key))
      add(rep,
          FALSE,
          "manifest.json",
          "manifest-unknown-key",
          "unknown key '%s' is ignored (known: version, defaultValues, installedFilesTemplate, "
          "renameFiles, noContainerService, useLinks)",
          key);
  v = json_object_get(doc, "defaultValues");
  if (json_is_object(v))
    json_object_foreach (v, key, val)
      if (!sc_values_is_identifier(key, strlen(key)))
        add(rep,
            FALSE,
            "manifest.json",
            "default-not-identifier",
            "defaultValues key '%s' is not a variable name ([_A-Za-z][_A-Za-z0-9]*), so no "
            "template can use it",
            key);
  json_decref(doc);
}

typedef struct {
  const char *file;
  const char *text;
  gsize len;
} Template;

/* Collects the templates that an install renders. */
static GArray *
templates_of(const sc_exports *ex)
{
  GArray *t = g_array_new(FALSE, FALSE, sizeof(Template));
  Template item;

  if (ex->config.data == NULL && ex->config_template.data != NULL) {
    item.file = "config.json.template";
    item.text = g_bytes_get_data(ex->config_template.data, &item.len);
    g_array_append_val(t, item);
  }
  if (!ex->no_container_service && ex->service_template.data != NULL) {
    item.file = "service.template";
    item.text = g_bytes_get_data(ex->service_template.data, &item.len);
    g_array_append_val(t, item);
  }
  if (!ex->no_container_service && ex->tmpfiles_template.data != NULL) {
    item.file = "tmpfiles.template";
    item.text = g_bytes_get_data(ex->tmpfiles_template.data, &item.len);
    g_array_append_val(t, item);
  }
  for (guint i = 0; i + 1 < ex->rename_files->len; i += 2) {
    item.file = "manifest.json";
    item.text = ex->rename_files->pdata[i + 1];
    item.len = strlen(item.text);
    g_array_append_val(t, item);
  }
  return t;
}

/* Returns FALSE when a template cannot be rendered at all. */
static gboolean
lint_variables(const sc_exports *ex, Report *rep)
{
  g_autoptr(GArray) templates = templates_of(ex);
  g_autoptr(GHashTable) used = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  gboolean renderable = TRUE;

  for (guint i = 0; i < templates->len; i++) {
    Template *t = &g_array_index(templates, Template, i);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) vars = sc_template_scan(t->file, t->text, t->len, &error);

    if (vars == NULL) {
      add(rep, TRUE, t->file, "template-syntax", "%s", error->message);
      renderable = FALSE;
      continue;
    }
    for (guint j = 0; j < vars->len; j++) {
      const char *name = vars->pdata[j];
      g_hash_table_add(used, g_strdup(name));
      if (sc_strv_has(sc_forced_variables, name) || sc_strv_has(sc_host_variables, name) ||
          sc_values_get(ex->defaults, name) != NULL)
        continue;
      add(rep,
          TRUE,
          t->file,
          "undefined-variable",
          "variable '%s' is used but nothing defines it: an install fails unless the user gives "
          "--set %s=VALUE; give it a default in manifest.json defaultValues",
          name,
          name);
      renderable = FALSE;
    }
  }
  for (size_t i = 0; i < sc_values_count(ex->defaults); i++) {
    const char *k = sc_values_key_at(ex->defaults, i);
    if (!g_hash_table_contains(used, k) && !sc_strv_has(sc_host_variables, k))
      add(rep,
          FALSE,
          "manifest.json",
          "default-unused",
          "defaultValues sets '%s', but no template uses it",
          k);
  }
  return renderable;
}

static void
lint_service(const sc_exports *ex, Report *rep)
{
  g_auto(GStrv) lines = NULL;

  if (ex->no_container_service)
    return;
  if (ex->service_template.data == NULL) {
    add(rep,
        FALSE,
        "service.template",
        "service-missing",
        "no service.template: the built-in default unit will be used");
    return;
  }
  lines = g_strsplit(g_bytes_get_data(ex->service_template.data, NULL), "\n", -1);
  for (char **l = lines; *l; l++) {
    const char *s = *l;
    while (*s == ' ' || *s == '\t')
      s++;
    if (g_str_has_prefix(s, "ExecStart=") && strstr(s, "EXEC_START") == NULL)
      add(rep,
          FALSE,
          "service.template",
          "service-exec-start",
          "ExecStart= does not use $EXEC_START: the unit will not start the container through "
          "the runtime");
    else if (g_str_has_prefix(s, "ExecStop=") && strstr(s, "EXEC_STOP") == NULL)
      add(rep,
          FALSE,
          "service.template",
          "service-exec-stop",
          "ExecStop= does not use $EXEC_STOP: the container may not be stopped through the "
          "runtime");
    else if (g_str_has_prefix(s, "WorkingDirectory=") && strstr(s, "DESTDIR") == NULL)
      add(rep,
          FALSE,
          "service.template",
          "service-working-directory",
          "WorkingDirectory= does not use $DESTDIR: the runtime must run in the deployment "
          "directory, where config.json is");
  }
}

/* What the rendered configuration itself says that runtimes will not do
 * as the image author means. */
static void
lint_rendered_config(const char *config, const char *file, Report *rep)
{
  json_t *doc, *mounts, *linux_, *process, *m;
  size_t i;

  doc = json_loads(config, 0, NULL);
  mounts = json_object_get(doc, "mounts");
  json_array_foreach (mounts, i, m) {
    json_t *type = json_object_get(m, "type");
    if (json_is_string(type) && strcmp(json_string_value(type), "rbind") == 0)
      add(rep,
          TRUE,
          file,
          "mount-type-rbind",
          "mounts[%zu] (%s) has type \"rbind\", which runtimes do not know: use \"type\": "
          "\"bind\" with \"rbind\" in options",
          i,
          json_string_value(json_object_get(m, "destination")));
  }
  linux_ = json_object_get(doc, "linux");
  if (json_object_get(linux_, "selinuxProcessLabel") != NULL)
    add(rep,
        TRUE,
        file,
        "selinux-process-label",
        "linux.selinuxProcessLabel is not part of the runtime spec: use process.selinuxLabel");
  /* atomic's own test images put them there; runc ignores the key, so the
   * container runs with the default capabilities the author did not mean */
  if (json_object_get(linux_, "capabilities") != NULL)
    add(rep,
        FALSE,
        file,
        "linux-capabilities",
        "linux.capabilities is not part of the runtime spec and runtimes ignore it: put the "
        "capability sets in process.capabilities");
  process = json_object_get(doc, "process");
  if (json_object_get(process, "terminal") == NULL)
    add(rep,
        FALSE,
        file,
        "process-terminal",
        "process.terminal is not set: set it to false explicitly");
  json_decref(doc);
}

static void
lint_config(sc_context *ctx, const sc_exports *ex, const char *name, Report *rep)
{
  g_autoptr(GError) error = NULL;
  sc_render_opts *opts = NULL;
  sc_rendering *r = NULL;
  const char *file = ex->config.data ? "config.json" : "config.json.template";
  json_t *doc, *mounts, *m;
  size_t i;

  if (ex->config.data == NULL && ex->config_template.data == NULL)
    add(rep,
        FALSE,
        "config.json.template",
        "config-missing",
        "neither config.json nor config.json.template: the built-in default configuration will "
        "be used, which runs 'run.sh' from the image");

  sc_render_opts_new(&opts, NULL);
  sc_render_opts_set_name(opts, name, NULL);
  if (!sc_render_internal(ctx, ex, opts, TRUE, &r, &error)) {
    add(rep,
        TRUE,
        g_error_matches(error, SC_ERROR, SC_ESPEC) ? file : "exports",
        "render",
        "%s",
        error->message);
    sc_render_opts_free(opts);
    return;
  }

  if (sc_rendering_converted_capabilities(r))
    add(rep,
        FALSE,
        file,
        "capabilities-array",
        "process.capabilities is an array, the form before runtime-spec 1.0.0-rc5 that runc "
        "1.x cannot read: an install converts it to the same names in bounding, effective, "
        "inheritable and permitted; write that object form in the image");
  lint_rendered_config(sc_rendering_get_config(r), file, rep);
  sc_rendering_free(r);
  r = NULL;

  /* Mount sources under /run or /var/lib should follow the host's
   * RUN_DIRECTORY / STATE_DIRECTORY: render once with those variables left
   * as literal text and look for sources that still start with the
   * directory itself. */
  if (ex->config.data == NULL && ex->config_template.data != NULL) {
    sc_values *keep = sc_values_new_internal();
    sc_values_insert(keep, "RUN_DIRECTORY", "${RUN_DIRECTORY}", NULL);
    sc_values_insert(keep, "STATE_DIRECTORY", "${STATE_DIRECTORY}", NULL);
    sc_render_opts_set_values(opts, keep, NULL);
    sc_values_free(keep);
    if (sc_render_internal(ctx, ex, opts, TRUE, &r, NULL)) {
      doc = json_loads(sc_rendering_get_config(r), 0, NULL);
      mounts = json_object_get(doc, "mounts");
      json_array_foreach (mounts, i, m) {
        const char *src = json_string_value(json_object_get(m, "source"));
        if (src == NULL)
          continue;
        if (g_str_has_prefix(src, "/var/lib"))
          add(rep,
              FALSE,
              file,
              "mount-state-directory",
              "mount source %s: use ${STATE_DIRECTORY} instead of /var/lib",
              src);
        else if (g_str_has_prefix(src, "/run"))
          add(rep,
              FALSE,
              file,
              "mount-run-directory",
              "mount source %s: use ${RUN_DIRECTORY} instead of /run",
              src);
      }
      json_decref(doc);
      sc_rendering_free(r);
    }
  }
  sc_render_opts_free(opts);
}

/* The Dockerfile, with comments dropped and continuation lines joined, one
 * instruction per element. */
static GPtrArray *
dockerfile_instructions(const char *text)
{
  GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  GString *cur = g_string_new(NULL);

  for (char **l = lines; *l; l++) {
    g_autofree char *line = g_strstrip(g_strdup(*l));
    if (line[0] == '#')
      continue;
    if (g_str_has_suffix(line, "\\")) {
      line[strlen(line) - 1] = ' ';
      g_string_append(cur, line);
      continue;
    }
    g_string_append(cur, line);
    if (cur->len > 0)
      g_ptr_array_add(out, g_strdup(cur->str));
    g_string_truncate(cur, 0);
  }
  if (cur->len > 0)
    g_ptr_array_add(out, g_strdup(cur->str));
  g_string_free(cur, TRUE);
  return out;
}

static void
lint_dockerfile(const sc_exports *ex, Report *rep)
{
  g_autofree char *path = g_build_filename(ex->build_dir, "Dockerfile", NULL);
  g_autofree char *text = NULL;
  g_autoptr(GPtrArray) ins = NULL;
  gboolean nodocs;
  const ScExportFile *files[] = {
    &ex->config_template, &ex->manifest, &ex->service_template, &ex->tmpfiles_template
  };
  /* Only a build directory with the files at its top level is checked for
   * how they reach /exports. */
  gboolean flat = strcmp(ex->path, ex->build_dir) == 0;

  if (!g_file_get_contents(path, &text, NULL, NULL))
    return;
  nodocs = strstr(text, "tsflags=nodocs") != NULL;
  ins = dockerfile_instructions(text);
  for (guint i = 0; i < ins->len; i++) {
    const char *s = ins->pdata[i];
    g_auto(GStrv) words = g_regex_split_simple("\\s+", s, 0, 0);
    guint n = g_strv_length(words);
    g_autofree char *op = n ? g_ascii_strup(words[0], -1) : g_strdup("");

    if (strcmp(op, "MAINTAINER") == 0)
      add(rep,
          FALSE,
          "Dockerfile",
          "dockerfile-maintainer",
          "MAINTAINER is deprecated: use LABEL maintainer=...");
    else if ((strcmp(op, "COPY") == 0 || strcmp(op, "ADD") == 0) && n >= 3 &&
             g_regex_match_simple("^/export/?$", words[n - 1], 0, 0))
      add(rep,
          FALSE,
          "Dockerfile",
          "dockerfile-export-dir",
          "%s to %s: did you mean /exports/?",
          op,
          words[n - 1]);
    else if (strcmp(op, "RUN") == 0 && !nodocs &&
             g_regex_match_simple("\\b(dnf|yum)\\b.*\\binstall\\b", s, 0, 0))
      add(rep,
          FALSE,
          "Dockerfile",
          "dockerfile-nodocs",
          "RUN installs packages without --setopt=tsflags=nodocs: the image carries "
          "documentation nobody reads");
  }
  if (!flat)
    return;
  for (guint f = 0; f < G_N_ELEMENTS(files); f++) {
    gboolean copied = FALSE;
    if (files[f]->data == NULL)
      continue;
    for (guint i = 0; i < ins->len && !copied; i++) {
      g_auto(GStrv) words = g_regex_split_simple("\\s+", ins->pdata[i], 0, 0);
      guint n = g_strv_length(words);
      g_autofree char *op = n ? g_ascii_strup(words[0], -1) : g_strdup("");
      if ((strcmp(op, "COPY") != 0 && strcmp(op, "ADD") != 0) || n < 3)
        continue;
      for (guint w = 1; w + 1 < n && !copied; w++) {
        if (strcmp(words[w], files[f]->name) != 0)
          continue;
        if (!g_str_has_prefix(words[n - 1], "/exports"))
          continue;
        copied = TRUE;
        if (strcmp(op, "ADD") == 0)
          add(rep,
              FALSE,
              "Dockerfile",
              "dockerfile-add",
              "%s is ADDed to /exports/: use COPY, which does not unpack or fetch",
              files[f]->name);
        if (strcmp(words[n - 1], "/exports") == 0)
          add(rep,
              FALSE,
              "Dockerfile",
              "dockerfile-exports-slash",
              "%s is copied to /exports without a trailing '/': write /exports/",
              files[f]->name);
      }
    }
    if (!copied)
      add(rep,
          FALSE,
          "Dockerfile",
          "dockerfile-not-copied",
          "%s is not copied to /exports/ by the Dockerfile",
          files[f]->name);
  }
}

static char *
lint_name_for(const char *dir)
{
  g_autofree char *canon = g_canonicalize_filename(dir, NULL);
  g_autofree char *base = g_path_get_basename(canon);

  if (strcmp(base, "exports") == 0) {
    g_autofree char *parent = g_path_get_dirname(canon);
    g_free(base);
    base = g_path_get_basename(parent);
  }
  if (!sc_name_check(base, NULL))
    return g_strdup("container");
  return g_steal_pointer(&base);
}

SC_API int
sc_lint(sc_context *ctx,
        const char *dir,
        char **out_json,
        int *out_errors,
        int *out_warnings,
        sc_error **error)
{
  Report rep = { json_array(), 0, 0 };
  sc_exports *ex = NULL;
  GError *open_error = NULL;
  json_t *doc;
  int r;

  SC_CHECK_ARG(ctx != NULL && dir != NULL && out_json != NULL, error);
  ex = sc_exports_open_internal(dir, &open_error);
  r = ex ? SC_OK : open_error->domain == SC_ERROR ? open_error->code : SC_EIO;
  if (r == SC_ENOTFOUND || r == SC_EINVAL) {
    json_decref(rep.findings);
    return sc_error_propagate(error, open_error);
  }
  if (r != SC_OK) {
    add(&rep,
        TRUE,
        r == SC_EMANIFEST ? "manifest.json" : "exports",
        r == SC_EMANIFEST ? "manifest-invalid" : "unreadable",
        "%s",
        open_error->message);
    g_error_free(open_error);
  } else {
    g_autofree char *name = lint_name_for(dir);
    lint_manifest(ex, &rep);
    if (lint_variables(ex, &rep))
      lint_config(ctx, ex, name, &rep);
    lint_service(ex, &rep);
    lint_dockerfile(ex, &rep);
  }

  doc = json_object();
  json_object_set_new(doc, "schema", json_integer(1));
  json_object_set_new(doc, "path", json_string(ex ? ex->path : dir));
  json_object_set_new(doc, "errors", json_integer(rep.errors));
  json_object_set_new(doc, "warnings", json_integer(rep.warnings));
  json_object_set_new(doc, "findings", rep.findings);
  *out_json = sc_json_dump(doc, TRUE);
  json_decref(doc);
  if (out_errors)
    *out_errors = rep.errors;
  if (out_warnings)
    *out_warnings = rep.warnings;
  sc_exports_free(ex);
  return SC_OK;
}
