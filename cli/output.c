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
    { SC_EINVAL, "SC_EINVAL" },
    { SC_ENOTFOUND, "SC_ENOTFOUND" },
    { SC_EEXISTS, "SC_EEXISTS" },
    { SC_EIO, "SC_EIO" },
    { SC_ETEMPLATE, "SC_ETEMPLATE" },
    { SC_ESPEC, "SC_ESPEC" },
    { SC_EMANIFEST, "SC_EMANIFEST" },
    { SC_ERUNTIME, "SC_ERUNTIME" },
    { SC_EUNSUPPORTED, "SC_EUNSUPPORTED" },
    { SC_EDIGEST, "SC_EDIGEST" },
    { SC_EBUSY, "SC_EBUSY" },
    { SC_EAUTH, "SC_EAUTH" },
    { SC_ENETWORK, "SC_ENETWORK" },
    { SC_EPERM, "SC_EPERM" },
    { SC_ESIGNATURE, "SC_ESIGNATURE" },
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
  const char *policy = cli_opt(c, OPT_SIGNATURE_POLICY), *regd = cli_opt(c, OPT_REGISTRIES_D);

  if ((r = sc_context_new(&ctx, &error)) != SC_OK ||
      (sysroot && (r = sc_context_set_sysroot(ctx, sysroot, &error)) != SC_OK) ||
      (checkout_root && (r = sc_context_set_checkout_root(ctx, checkout_root, &error)) != SC_OK) ||
      (repo && (r = sc_context_set_repo(ctx, repo, &error)) != SC_OK) ||
      (runtime && (r = sc_context_set_runtime(ctx, runtime, &error)) != SC_OK) ||
      (policy && (r = sc_context_set_signature_policy(ctx, policy, &error)) != SC_OK) ||
      (regd && (r = sc_context_set_registries_d(ctx, regd, &error)) != SC_OK)) {
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

/* The usage error of a verb given other than @min..@max operands (@max -1:
 * no limit); @takes names them. */
int
cli_check_args(const CliCmd *c, int min, int max, const char *takes, int counted)
{
  if (c->n_args >= min && (max < 0 || c->n_args <= max))
    return EXIT_OK;
  if (counted)
    cli_usage_error(
      "%s takes %s (got %d argument%s)", c->verb, takes, c->n_args, c->n_args == 1 ? "" : "s");
  else
    cli_usage_error("%s takes %s", c->verb, takes);
  return EXIT_USAGE;
}

/* The registry options of the command line; @image_name is pull's --name. */
static int
make_pull_opts(const CliCmd *c, const char *image_name, sc_pull_opts **out, sc_error **errp)
{
  sc_pull_opts *popts = NULL;
  sc_error *error = NULL;
  const char *platform = cli_opt(c, OPT_PLATFORM), *jobs = cli_opt(c, OPT_JOBS);
  const char *tls = cli_opt(c, OPT_TLS_VERIFY), *authfile = cli_opt(c, OPT_AUTHFILE);
  const char *conf = cli_opt(c, OPT_REGISTRIES_CONF), *cert_dir = cli_opt(c, OPT_CERT_DIR);
  const char *creds = cli_opt(c, OPT_CREDS);
  int r;

  if ((r = sc_pull_opts_new(&popts, &error)) != SC_OK ||
      (image_name && (r = sc_pull_opts_set_name(popts, image_name, &error)) != SC_OK) ||
      (platform && (r = sc_pull_opts_set_platform(popts, platform, &error)) != SC_OK) ||
      (jobs && (r = sc_pull_opts_set_jobs(popts, atoi(jobs), &error)) != SC_OK) ||
      (tls && strcmp(tls, "false") == 0 &&
       (r = sc_pull_opts_set_tls_verify(popts, 0, &error)) != SC_OK) ||
      (authfile && (r = sc_pull_opts_set_authfile(popts, authfile, &error)) != SC_OK) ||
      (conf && (r = sc_pull_opts_set_registries_conf(popts, conf, &error)) != SC_OK) ||
      (cert_dir && (r = sc_pull_opts_set_cert_dir(popts, cert_dir, &error)) != SC_OK))
    goto fail;
  if (creds) {
    /* USER[:PASSWORD]; without a password, read it from the terminal */
    char *user = strdup(creds);
    char *colon = strchr(user, ':');
    const char *password = colon ? colon + 1 : NULL;
    if (colon)
      *colon = '\0';
    else if (isatty(STDIN_FILENO))
      password = getpass("Password: ");
    r = sc_pull_opts_set_credentials(popts, user, password ? password : "", &error);
    free(user);
    if (r != SC_OK)
      goto fail;
  }
  *out = popts;
  return SC_OK;
fail:
  sc_pull_opts_free(popts);
  *errp = error;
  return r;
}

/* Where an image comes from and what fills its templates: the registry
 * options and the --set values (each only when its out-pointer is not NULL),
 * the caller's to free. */
int
cli_make_sources(const CliCmd *c,
                 const char *image_name,
                 sc_pull_opts **out_popts,
                 sc_values **out_values,
                 sc_error **errp)
{
  int r = out_popts ? make_pull_opts(c, image_name, out_popts, errp) : SC_OK;

  if (r == SC_OK && out_values)
    r = sc_values_new(out_values, errp);
  for (int i = 0; i < c->n_sets && r == SC_OK && out_values; i++)
    r = sc_values_parse(*out_values, c->sets[i], errp);
  return r;
}

/* "12.3 MB" */
void
cli_format_size(unsigned long long bytes, char *buf, size_t len)
{
  const char *units[] = { "B", "kB", "MB", "GB", "TB" };
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
progress_bar(uint64_t done,
             uint64_t total,
             unsigned int layers_done,
             unsigned int layers_total,
             void *user_data)
{
  char a[32], b[32];
  int width = 30, filled = total ? (int)(width * (double)done / (double)total) : width;
  (void)user_data;
  cli_format_size(done, a, sizeof(a));
  cli_format_size(total, b, sizeof(b));
  fprintf(stderr,
          "\r[%.*s%*s] %s / %s, layers %u/%u ",
          filled,
          "##############################",
          width - filled,
          "",
          a,
          b,
          layers_done,
          layers_total);
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

/* A verb's result document (freed here): printed as it is with --json, and
 * parsed for the text output. */
json_t *
cli_result(const CliCmd *c, char *json)
{
  json_t *doc;

  if (cli_flag(c, OPT_JSON))
    printf("%s\n", json);
  doc = json_loads(json, 0, NULL);
  sc_free(json);
  return doc;
}

/* The end of a verb whose library call returned @r, @error and the result
 * document @json: reports the failure, or prints the document with --json
 * and else its text form by @print (NULL: the document in both cases).
 * Returns the exit code: a failure also when @ok is 0. */
int
cli_finish(const CliCmd *c, int r, sc_error *error, char *json, CliPrint print, int ok)
{
  json_t *doc;

  if (r != SC_OK)
    return cli_report_error(c, r, error);
  if (print == NULL) {
    printf("%s\n", json);
    sc_free(json);
    return EXIT_OK;
  }
  doc = cli_result(c, json);
  if (!cli_flag(c, OPT_JSON))
    print(c, doc, ok);
  json_decref(doc);
  return ok ? EXIT_OK : EXIT_FAILED;
}

/* The outcome of each item of a batch (images update, update --all) in the
 * text output: "NAME: ERROR" for a failed one, @print for the others.
 * Returns whether any failed. */
int
cli_print_batch(const CliCmd *c, json_t *items, void (*print)(json_t *item))
{
  json_t *item;
  size_t i;
  int failed = 0;

  json_array_foreach (items, i, item) {
    const char *err = cli_jstr(item, "error");
    failed |= err != NULL;
    if (cli_flag(c, OPT_JSON))
      continue;
    if (err)
      printf("%s: %s\n", cli_jstr(item, "name"), err);
    else
      print(item);
  }
  return failed;
}

const char *
cli_jstr(json_t *obj, const char *key)
{
  return json_string_value(json_object_get(obj, key));
}
