/*
 * syscontainerctl render, lint: the image contract, without a store.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The default container name for DIR: its base name, or the parent's when
 * DIR is an exports directory. */
static char *
default_name(const char *dir)
{
  char *copy = strdup(dir);
  size_t len = strlen(copy);
  char *base;

  while (len > 1 && copy[len - 1] == '/')
    copy[--len] = '\0';
  base = strrchr(copy, '/');
  base = base ? base + 1 : copy;
  if (strcmp(base, "exports") == 0 && base > copy) {
    base[-1] = '\0';
    if (strcmp(copy, "") != 0) {
      char *b2 = strrchr(copy, '/');
      base = b2 ? b2 + 1 : copy;
    }
  }
  base = strdup(base);
  free(copy);
  return base;
}

static void
print_rendering(const CliCmd *c, const sc_rendering *rendering, const char *name)
{
  const char *output = cli_opt(c, OPT_OUTPUT);
  const char *unit = sc_rendering_get_unit(rendering);
  const char *tmpfiles = sc_rendering_get_tmpfiles(rendering);

  if (output) {
    printf("%s/config.json\n", output);
    if (unit)
      printf("%s/%s.service\n", output, name);
    if (tmpfiles)
      printf("%s/tmpfiles-%s.conf\n", output, name);
    return;
  }
  printf("# config.json\n%s", sc_rendering_get_config(rendering));
  if (unit)
    printf("\n# %s.service\n%s", name, unit);
  if (tmpfiles)
    printf("\n# tmpfiles-%s.conf\n%s", name, tmpfiles);
}

/* The name came from the directory: say how to give one. */
static int
report_default_name(const CliCmd *c, int r, sc_error *error)
{
  const char *m = sc_error_message(error);
  char *msg = malloc(strlen(m) + 64);
  int rc;

  sprintf(msg, "%s (taken from the directory name; give one with --name)", m);
  rc = cli_report_message(c, r, msg);
  free(msg);
  sc_error_free(error);
  return rc;
}

int
cmd_render(const CliCmd *c, sc_context *ctx)
{
  sc_exports *ex = NULL;
  sc_render_opts *ropts = NULL;
  sc_values *values = NULL;
  sc_rendering *rendering = NULL;
  sc_error *error = NULL;
  const char *given = cli_opt(c, OPT_NAME), *output = cli_opt(c, OPT_OUTPUT);
  char *name = given ? strdup(given) : default_name(c->args[0]), *json = NULL;
  int r, rc = EXIT_OK;

  if ((r = cli_make_sources(c, NULL, NULL, &values, &error)) != SC_OK ||
      (r = sc_exports_open(c->args[0], &ex, &error)) != SC_OK ||
      (r = sc_render_opts_new(&ropts, &error)) != SC_OK)
    goto out;
  if ((r = sc_render_opts_set_name(ropts, name, &error)) != SC_OK) {
    if (!given) {
      rc = report_default_name(c, r, error);
      r = SC_OK;
    }
    goto out;
  }
  if ((r = sc_render_opts_set_values(ropts, values, &error)) != SC_OK ||
      (r = sc_render_opts_set_strict(ropts, cli_flag(c, OPT_STRICT), &error)) != SC_OK ||
      (r = sc_render_opts_set_image(
         ropts, cli_opt(c, OPT_IMAGE_NAME), cli_opt(c, OPT_IMAGE_ID), &error)) != SC_OK ||
      (r = sc_exports_render(ctx, ex, ropts, &rendering, &error)) != SC_OK ||
      (output && (r = sc_rendering_write(rendering, output, &error)) != SC_OK))
    goto out;
  if (!cli_flag(c, OPT_JSON)) {
    for (const char *const *w = sc_rendering_get_warnings(rendering); *w; w++)
      fprintf(stderr, "%s: warning: %s\n", PROGNAME, *w);
    print_rendering(c, rendering, name);
  } else if ((r = sc_rendering_to_json(rendering, &json, &error)) == SC_OK) {
    json_decref(cli_result(c, json)); /* printed; cli_result frees @json */
    json = NULL;
  }

out:
  if (r != SC_OK)
    rc = cli_report_error(c, r, error);
  sc_free(json);
  sc_rendering_free(rendering);
  sc_render_opts_free(ropts);
  sc_exports_free(ex);
  sc_values_free(values);
  free(name);
  return rc;
}

static void
print_findings(const char *dir, json_t *doc, int errors, int warnings)
{
  json_t *f;
  size_t i;

  json_array_foreach (json_object_get(doc, "findings"), i, f)
    printf("%s: %s: %s [%s]\n",
           cli_jstr(f, "severity"),
           cli_jstr(f, "file"),
           cli_jstr(f, "message"),
           cli_jstr(f, "check"));
  printf("%s: %d error%s, %d warning%s\n",
         dir,
         errors,
         errors == 1 ? "" : "s",
         warnings,
         warnings == 1 ? "" : "s");
}

int
cmd_lint(const CliCmd *c, sc_context *ctx)
{
  sc_error *error = NULL;
  char *json = NULL;
  int errors = 0, warnings = 0;
  int r = sc_lint(ctx, c->args[0], &json, &errors, &warnings, &error);
  json_t *doc;

  if (r != SC_OK)
    return cli_report_error(c, r, error);
  doc = cli_result(c, json);
  if (!cli_flag(c, OPT_JSON))
    print_findings(c->args[0], doc, errors, warnings);
  json_decref(doc);
  return errors > 0 ? EXIT_FAILED : EXIT_OK;
}
