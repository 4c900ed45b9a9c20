/*
 * syscontainerctl: the helpers every verb shares: reporting errors (as text
 * on stderr, or as a JSON error document with --json), the exit codes, the
 * library context made from the global options, --set values and printing.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

void
cli_usage_error(const char *format, ...)
{
  va_list ap;
  fprintf(stderr, "%s: ", PROGNAME);
  va_start(ap, format);
  vfprintf(stderr, format, ap);
  va_end(ap);
  fprintf(stderr, "\nTry '%s --help'.\n", PROGNAME);
}

static const char *
code_name(int code)
{
  static const struct {
    int code;
    const char *name;
  } names[] = {
    {SC_EINVAL, "SC_EINVAL"},   {SC_ENOTFOUND, "SC_ENOTFOUND"},
    {SC_EEXISTS, "SC_EEXISTS"}, {SC_EIO, "SC_EIO"},
    {SC_ETEMPLATE, "SC_ETEMPLATE"}, {SC_ESPEC, "SC_ESPEC"},
    {SC_EMANIFEST, "SC_EMANIFEST"}, {SC_ERUNTIME, "SC_ERUNTIME"},
    {SC_EUNSUPPORTED, "SC_EUNSUPPORTED"}, {SC_EDIGEST, "SC_EDIGEST"},
    {SC_EBUSY, "SC_EBUSY"},     {SC_EAUTH, "SC_EAUTH"},
    {SC_ENETWORK, "SC_ENETWORK"},
  };
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (names[i].code == code)
      return names[i].name;
  return "SC_EUNKNOWN";
}

static void
json_print_string(FILE *f, const char *s)
{
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c == '\n')
      fputs("\\n", f);
    else if (c == '\t')
      fputs("\\t", f);
    else if (c < 0x20)
      fprintf(f, "\\u%04x", c);
    else
      fputc(c, f);
  }
  fputc('"', f);
}

/* Reports a failure; with --json as an error document on stdout. */
int
cli_report_message(const CliCmd *c, int code, const char *msg)
{
  if (cli_flag(c, OPT_JSON)) {
    printf("{\"schema\": 1, \"error\": {\"code\": \"%s\", \"message\": ", code_name(code));
    json_print_string(stdout, msg);
    printf("}}\n");
  } else {
    fprintf(stderr, "%s: error: %s\n", PROGNAME, msg);
  }
  return EXIT_FAILED;
}

int
cli_report_error(const CliCmd *c, int code, sc_error *error)
{
  int rc = cli_report_message(c, code, error ? sc_error_message(error) : sc_strerror(code));
  sc_error_free(error);
  return rc;
}

static void
log_to_stderr(int level, const char *message, void *user_data)
{
  const CliCmd *c = user_data;
  if (level <= SC_LOG_WARNING || cli_flag(c, OPT_VERBOSE))
    fprintf(stderr,
            "%s: %s%s\n",
            PROGNAME,
            level <= SC_LOG_ERROR     ? "error: "
            : level == SC_LOG_WARNING ? "warning: "
                                      : "",
            message);
}

int
cli_make_context(const CliCmd *c, sc_context **out_ctx)
{
  sc_context *ctx = NULL;
  sc_error *error = NULL;
  int r;
  char self[PATH_MAX];
  ssize_t n;
  const char *sysroot = cli_opt(c, OPT_SYSROOT), *checkout_root = cli_opt(c, OPT_CHECKOUT_ROOT);
  const char *repo = cli_opt(c, OPT_REPO), *runtime = cli_opt(c, OPT_RUNTIME);

  if ((r = sc_context_new(&ctx, &error)) != SC_OK ||
      (sysroot && (r = sc_context_set_sysroot(ctx, sysroot, &error)) != SC_OK) ||
      (checkout_root && (r = sc_context_set_checkout_root(ctx, checkout_root, &error)) != SC_OK) ||
      (repo && (r = sc_context_set_repo(ctx, repo, &error)) != SC_OK) ||
      (runtime && (r = sc_context_set_runtime(ctx, runtime, &error)) != SC_OK)) {
    sc_context_free(ctx);
    return cli_report_error(c, r, error);
  }
  /* $ATOMIC points at the tool that is actually running. */
  n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) {
    self[n] = '\0';
    sc_context_set_tool_path(ctx, self, NULL);
  }
  sc_context_set_log_func(ctx, log_to_stderr, (void *)c);
  *out_ctx = ctx;
  return EXIT_OK;
}

/* Checks that a verb got exactly @want arguments (@what names them in the
 * usage error) and makes the context it runs in. */
int
cli_begin(const CliCmd *c, int want, const char *what, sc_context **out_ctx)
{
  if (c->n_args != want) {
    cli_usage_error("%s takes %s (got %d argument%s)", c->verb, what, c->n_args,
                    c->n_args == 1 ? "" : "s");
    return EXIT_USAGE;
  }
  return cli_make_context(c, out_ctx);
}

/* The --set values of the command line. */
int
cli_make_values(const CliCmd *c, sc_values **out, sc_error **errp)
{
  int r = sc_values_new(out, errp);

  for (int i = 0; i < c->n_sets && r == SC_OK; i++)
    r = sc_values_parse(*out, c->sets[i], errp);
  return r;
}

/* "12.3 MB" */
void
cli_format_size(unsigned long long bytes, char *buf, size_t len)
{
  const char *units[] = {"B", "kB", "MB", "GB", "TB"};
  double v = (double)bytes;
  int u = 0;
  while (v >= 1000 && u < 4)
    v /= 1000, u++;
  if (u == 0)
    snprintf(buf, len, "%llu B", bytes);
  else
    snprintf(buf, len, "%.1f %s", v, units[u]);
}

static void
progress_bar(uint64_t done, uint64_t total, unsigned int layers_done,
             unsigned int layers_total, void *user_data)
{
  char a[32], b[32];
  int width = 30, filled = total ? (int)(width * (double)done / (double)total) : width;
  (void)user_data;
  cli_format_size(done, a, sizeof(a));
  cli_format_size(total, b, sizeof(b));
  fprintf(stderr, "\r[%.*s%*s] %s / %s, layers %u/%u ", filled,
          "##############################", width - filled, "", a, b, layers_done, layers_total);
  if (layers_done == layers_total)
    fputc('\n', stderr);
  fflush(stderr);
}

/* A progress bar only for a person watching, never into --json or a pipe. */
void
cli_show_progress(const CliCmd *c, sc_context *ctx)
{
  if (!cli_flag(c, OPT_JSON) && isatty(STDOUT_FILENO))
    sc_context_set_progress_func(ctx, progress_bar, NULL);
}

/* What a verb without a result document prints on success. */
int
cli_print_ok(const CliCmd *c)
{
  if (cli_flag(c, OPT_JSON))
    printf("{\"schema\": 1, \"ok\": true}\n");
  return EXIT_OK;
}

/* Parses (and frees) a document the library returned. */
json_t *
cli_parse_json(char *text)
{
  json_t *doc = json_loads(text, 0, NULL);
  sc_free(text);
  return doc;
}

const char *
cli_jstr(json_t *obj, const char *key)
{
  return json_string_value(json_object_get(obj, key));
}
