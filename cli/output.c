/*
 * syscontainerctl: the helpers every verb shares: reporting errors (as text
 * on stderr, or as a JSON error document with --json), the exit codes, the
 * library context made from the global options, --set values and printing.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

const char *
cli_code_name(int code)
{
  return sc_error_code_name(code);
}

/* Every document the tool prints: indented by two, one newline after it,
 * the keys in the order the library gave them. */
void
cli_print_json(json_t *doc)
{
  char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

  printf("%s\n", text ? text : "null");
  free(text);
}

/* Prints a library document (a string) as cli_print_json does. */
static void
print_json_text(const char *json)
{
  json_t *doc = json_loads(json, 0, NULL);

  if (doc)
    cli_print_json(doc);
  else
    printf("%s\n", json);
  json_decref(doc);
}

/* Reports a failure; with --json as an error document on stdout. */
int
cli_report_message(const CliCmd *c, int code, const char *msg)
{
  if (cli_flag(c, OPT_JSON)) {
    json_t *doc = json_pack(
      "{s:i, s:{s:s, s:s}}", "schema", 1, "error", "code", cli_code_name(code), "message", msg);
    cli_print_json(doc);
    json_decref(doc);
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
  if (level <= c->log_level)
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

  if (cli_opt(c, OPT_USER) && cli_opt(c, OPT_SYSTEM)) {
    cli_usage_error("--system and --user cannot be used together");
    return EXIT_USAGE;
  }
  if ((r = sc_context_new(&ctx, &error)) != SC_OK ||
      (cli_opt(c, OPT_USER) &&
       (r = sc_context_set_user_mode(ctx, SC_USER_MODE_USER, &error)) != SC_OK) ||
      (cli_opt(c, OPT_SYSTEM) &&
       (r = sc_context_set_user_mode(ctx, SC_USER_MODE_SYSTEM, &error)) != SC_OK) ||
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

/* Whether @path, or the nearest of its parents that exists, can be written;
 * else 0, @blocked the path that cannot be (errno set). */
static int
writable(const char *path, char *blocked, size_t len)
{
  char *slash;
  int ok;

  snprintf(blocked, len, "%s", path);
  while (!(ok = access(blocked, W_OK) == 0) && errno == ENOENT &&
         (slash = strrchr(blocked, '/')) != NULL)
    if (slash == blocked)
      snprintf(blocked, len, "/");
    else
      *slash = '\0';
  return ok;
}

/* A verb that writes the host's store, deployments or policy, run by a user
 * who cannot write them: said up front, with the path, before it pulls or
 * changes anything. Under a --sysroot the library's confined access says
 * it when it comes to it. */
int
cli_check_writable(const CliCmd *c, sc_context *ctx, const char *what, unsigned writes)
{
  const char *paths[4] = { NULL, NULL, NULL, NULL };
  json_t *info = NULL, *trust = NULL;
  char *json = NULL, msg[2 * PATH_MAX + 256], blocked[PATH_MAX];
  int rc = EXIT_OK;

  /* a user's own store and checkouts: the library checks they are theirs */
  if (sc_context_get_user_mode(ctx))
    writes &= CLI_WRITES_POLICY;
  if (geteuid() == 0 || !writes || cli_opt(c, OPT_SYSROOT))
    return EXIT_OK;
  if (sc_context_info_json(ctx, &json, NULL) == SC_OK)
    info = json_loads(json, 0, NULL);
  sc_free(json);
  json = NULL;
  if ((writes & CLI_WRITES_POLICY) && sc_trust_show_json(ctx, &json, NULL) == SC_OK)
    trust = json_loads(json, 0, NULL);
  sc_free(json);
  if (writes & CLI_WRITES_DEPLOY)
    paths[0] = cli_jstr(info, "checkout_root");
  if (writes & (CLI_WRITES_DEPLOY | CLI_WRITES_STORE))
    paths[1] = cli_jstr(json_object_get(info, "store"), "path");
  if (writes & CLI_WRITES_POLICY)
    paths[2] = cli_jstr(trust, "file");
  /* (a --checkout-root of one's own does not make the system's units
   * writable: said before the pull, not after it) */
  if (writes & CLI_WRITES_DEPLOY)
    paths[3] = cli_jstr(info, "unit_dir");
  for (int i = 0; i < 4 && rc == EXIT_OK; i++)
    if (paths[i] && !writable(paths[i], blocked, sizeof(blocked))) {
      int e = errno;
      /* a policy file the caller named is theirs: root is not the remedy */
      const char *env = getenv("SC_SIGNATURE_POLICY");
      int own = i == 2 && (cli_opt(c, OPT_SIGNATURE_POLICY) || (env && *env));
      const char *needs = own ? "" : " needs root";
      const char *hint = i == 2 ? "" : " (your own containers: --user)";
      if (strcmp(blocked, paths[i]) == 0)
        snprintf(msg,
                 sizeof(msg),
                 "%s%s: cannot write %s (%s)%s",
                 what,
                 needs,
                 paths[i],
                 strerror(e),
                 hint);
      else /* not there yet, and its parent cannot be written */
        snprintf(msg,
                 sizeof(msg),
                 "%s%s: cannot create %s (%s: %s)%s",
                 what,
                 needs,
                 paths[i],
                 blocked,
                 strerror(e),
                 hint);
      rc = cli_report_message(c, SC_EPERM, msg);
    }
  json_decref(info);
  json_decref(trust);
  return rc;
}

/* The usage error of a verb given other than @min..@max operands (@max -1:
 * no limit); @takes names them. */
int
cli_check_args(const CliCmd *c, int min, int max, const char *takes, int counted)
{
  if (c->n_args >= min && (max < 0 || c->n_args <= max))
    return EXIT_OK;
  if (counted)
    cli_usage_error("takes %s (got %d argument%s)", takes, c->n_args, c->n_args == 1 ? "" : "s");
  else
    cli_usage_error("takes %s", takes);
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

/* The width of the terminal on stderr: TIOCGWINSZ, else $COLUMNS, else 80. */
static int
terminal_width(void)
{
  struct winsize ws;
  const char *columns = getenv("COLUMNS");

  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
    return ws.ws_col;
  if (columns && atoi(columns) > 0)
    return atoi(columns);
  return 80;
}

/* Whether anything was drawn: an image already in the store (no layer to
 * fetch) draws nothing at all. */
static int progress_drawn;

static void
progress_bar(uint64_t done,
             uint64_t total,
             unsigned int layers_done,
             unsigned int layers_total,
             void *user_data)
{
  static const char hashes[] = "################################################################";
  char a[32], b[32], text[96];
  int cols = terminal_width(), len, width, filled;

  (void)user_data;
  if (layers_total == 0 || (!progress_drawn && layers_done == layers_total && done == 0))
    return; /* nothing to fetch */
  cli_format_size(done, a, sizeof(a));
  cli_format_size(total, b, sizeof(b));
  len = snprintf(text, sizeof(text), "%s / %s, layers %u/%u", a, b, layers_done, layers_total);
  /* "[bar] text", within the line: the bar gives way first, then the text */
  width = cols - 1 - len - 3;
  width = width > (int)sizeof(hashes) - 1 ? (int)sizeof(hashes) - 1 : width;
  if (width >= 10) {
    filled = total ? (int)(width * ((double)done / (double)total)) : width;
    filled = filled > width ? width : filled;
    fprintf(stderr, "\r[%.*s%*s] %s\033[K", filled, hashes, width - filled, "", text);
  } else
    fprintf(stderr, "\r%.*s\033[K", cols > 1 ? cols - 1 : 0, text);
  progress_drawn = 1;
  if (layers_done == layers_total)
    fputc('\n', stderr);
  fflush(stderr);
}

/* A progress display only for a person watching stderr, where it is drawn:
 * never into a file or a pipe, nor beside --json. */
void
cli_show_progress(const CliCmd *c, sc_context *ctx)
{
  if (!cli_flag(c, OPT_JSON) && isatty(STDERR_FILENO))
    sc_context_set_progress_func(ctx, progress_bar, NULL);
}

/* What a verb without a result document prints on success. */
int
cli_print_ok(const CliCmd *c)
{
  if (cli_flag(c, OPT_JSON)) {
    json_t *doc = json_pack("{s:i, s:b}", "schema", 1, "ok", 1);
    cli_print_json(doc);
    json_decref(doc);
  }
  return EXIT_OK;
}

/* A verb's result document (freed here): printed as it is with --json, and
 * parsed for the text output. */
json_t *
cli_result(const CliCmd *c, char *json)
{
  json_t *doc;

  if (cli_flag(c, OPT_JSON))
    print_json_text(json);
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
    print_json_text(json);
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

/* A table whose columns are as wide as their widest cell: @heads, then
 * @rows (arrays of strings, NULL: "-"); @right: a bit per right-aligned
 * column. The last column is not padded. */
void
cli_print_table(const char *const *heads, int ncols, json_t *rows, unsigned right)
{
  int width[16] = { 0 };
  json_t *row;
  size_t r;

  for (int i = 0; i < ncols && i < 16; i++)
    width[i] = (int)strlen(heads[i]);
  json_array_foreach (rows, r, row)
    for (int i = 0; i < ncols && i < 16; i++) {
      const char *cell = json_string_value(json_array_get(row, i));
      int w = (int)strlen(cell ? cell : "-");
      width[i] = w > width[i] ? w : width[i];
    }
  for (size_t k = 0; k <= json_array_size(rows); k++) {
    row = k == 0 ? NULL : json_array_get(rows, k - 1);
    for (int i = 0; i < ncols && i < 16; i++) {
      const char *cell = row ? json_string_value(json_array_get(row, i)) : heads[i];
      int last = i == ncols - 1;
      cell = cell ? cell : "-";
      if (right & (1u << i))
        printf("%*s%s", width[i], cell, last ? "" : "  ");
      else if (last)
        fputs(cell, stdout);
      else
        printf("%-*s  ", width[i], cell);
    }
    putchar('\n');
  }
}

/* @created (RFC 3339, UTC) as local time with its zone: "2026-11-30
 * 23:23:24 UTC"; the string itself when it does not parse. */
void
cli_format_time(const char *created, char *buf, size_t len)
{
  struct tm tm = { 0 };
  const char *rest = created ? strptime(created, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
  time_t t;

  if (rest == NULL) {
    snprintf(buf, len, "%s", created ? created : "-");
    return;
  }
  t = timegm(&tm);
  if (strftime(buf, len, "%Y-%m-%d %H:%M:%S %Z", localtime_r(&t, &tm)) == 0)
    snprintf(buf, len, "%s", created);
}

/* Whether every --filter KEY=VALUE of @c matches @item: @match says for
 * one key (its part before '=') and value. */
int
cli_filters_match(const CliCmd *c, json_t *item, int (*match)(json_t *, const char *, const char *))
{
  for (int i = 0; i < c->n_filters; i++) {
    const char *eq = strchr(c->filters[i], '=');
    char key[64];
    snprintf(key, sizeof(key), "%.*s", (int)(eq - c->filters[i]), c->filters[i]);
    if (!match(item, key, eq + 1))
      return 0;
  }
  return 1;
}

/* The usage error of a --filter whose key is not one of @keys (NULL
 * ended); EXIT_OK or EXIT_USAGE. */
int
cli_check_filters(const CliCmd *c, const char *const *keys, const char *expected)
{
  for (int i = 0; i < c->n_filters; i++) {
    const char *eq = strchr(c->filters[i], '=');
    int known = 0;
    for (const char *const *k = keys; *k && !known; k++)
      known =
        strlen(*k) == (size_t)(eq - c->filters[i]) && strncmp(*k, c->filters[i], strlen(*k)) == 0;
    if (!known) {
      cli_usage_error(
        "unknown filter '%.*s' (expected %s)", (int)(eq - c->filters[i]), c->filters[i], expected);
      return EXIT_USAGE;
    }
  }
  return EXIT_OK;
}

/* The "warnings" of a result document (the library's: a --set of a
 * variable the image does not declare...) on stderr, @prefix (may be NULL,
 * e.g. a container's name in update --all) before each. With --json they
 * are in the document already. */
void
cli_print_warnings(const CliCmd *c, json_t *doc, const char *prefix)
{
  json_t *w;
  size_t i;

  if (cli_flag(c, OPT_JSON))
    return;
  json_array_foreach (json_object_get(doc, "warnings"), i, w)
    fprintf(stderr,
            "%s: warning: %s%s%s\n",
            PROGNAME,
            prefix ? prefix : "",
            prefix ? ": " : "",
            json_string_value(w));
}
