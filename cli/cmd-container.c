/*
 * syscontainerctl install, update, rollback, uninstall, list, inspect, start,
 * stop, run: the installed containers.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The privilege review: "+ TEXT" per privilege added, "- TEXT" per one
 * removed (docs/security.md). */
static void
print_privileges(json_t *doc)
{
  json_t *priv = json_object_get(doc, "privileges"), *a;
  size_t i;

  json_array_foreach (json_object_get(priv, "added"), i, a)
    printf("+ %s\n", cli_jstr(a, "text"));
  json_array_foreach (json_object_get(priv, "removed"), i, a)
    printf("- %s\n", cli_jstr(a, "text"));
}

/* A dry run prints the files an install would write and what it would do. */
static void
print_dry_run(json_t *doc)
{
  json_t *files = json_object_get(doc, "files"), *a;
  size_t i;

  printf("# config.json\n%s", cli_jstr(files, "config.json"));
  if (json_object_get(files, "unit"))
    printf("\n# unit\n%s", cli_jstr(files, "unit"));
  if (json_object_get(files, "tmpfiles"))
    printf("\n# tmpfiles\n%s", cli_jstr(files, "tmpfiles"));
  printf("\n# would:\n");
  json_array_foreach (json_object_get(doc, "actions"), i, a)
    printf("%s\n", json_string_value(a));
  printf("# privileges:\n");
  print_privileges(doc);
}

/* The pull options (without --name: that one names the container, not the
 * image) must outlive @iopts. */
static int
set_install_opts(const CliCmd *c,
                 sc_install_opts *iopts,
                 const sc_pull_opts *popts,
                 const sc_values *values,
                 sc_error **error)
{
  const char *name = cli_opt(c, OPT_NAME);
  int r;

  if ((name && (r = sc_install_opts_set_name(iopts, name, error)) != SC_OK) ||
      (r = sc_install_opts_set_values(iopts, values, error)) != SC_OK ||
      (r = sc_install_opts_set_pull_opts(iopts, popts, error)) != SC_OK ||
      (r = sc_install_opts_set_enable(iopts, !cli_flag(c, OPT_NO_ENABLE), error)) != SC_OK ||
      (r = sc_install_opts_set_start(iopts, cli_flag(c, OPT_NOW), error)) != SC_OK ||
      (r = sc_install_opts_set_dry_run(iopts, cli_flag(c, OPT_DRY_RUN), error)) != SC_OK ||
      (r = sc_install_opts_set_strict(iopts, cli_flag(c, OPT_STRICT), error)) != SC_OK ||
      (r = sc_install_opts_set_auto_update(iopts, cli_opt(c, OPT_AUTO_UPDATE), error)) != SC_OK)
    return r;
  return sc_install_opts_set_rootfs(iopts, cli_opt(c, OPT_ROOTFS), error);
}

int
cmd_install(const CliCmd *c, sc_context *ctx)
{
  sc_install_opts *iopts = NULL;
  sc_pull_opts *popts = NULL;
  sc_values *values = NULL;
  sc_error *error = NULL;
  char *json = NULL;
  json_t *doc, *status;
  int dry_text = !cli_flag(c, OPT_JSON) && cli_flag(c, OPT_DRY_RUN);
  int r, rc;

  if ((r = cli_make_sources(c, NULL, &popts, &values, &error)) == SC_OK &&
      (r = sc_install_opts_new(&iopts, &error)) == SC_OK &&
      (r = set_install_opts(c, iopts, popts, values, &error)) == SC_OK) {
    cli_show_progress(c, ctx);
    r = sc_container_install(ctx, c->args[0], iopts, &json, &error);
  }
  sc_install_opts_free(iopts);
  sc_values_free(values);
  sc_pull_opts_free(popts);
  if (r != SC_OK)
    return cli_report_error(c, r, error);
  doc = cli_result(c, json);
  cli_print_warnings(c, doc, NULL);
  /* a run-once image ran: its exit status is the command's */
  status = dry_text ? NULL : json_object_get(doc, "exit_status");
  if (!cli_flag(c, OPT_JSON) && json_is_true(json_object_get(doc, "already_installed")))
    printf("%s already installed\n", cli_jstr(doc, "name")); /* (nothing to do) */
  else if (dry_text)
    print_dry_run(doc);
  else if (!cli_flag(c, OPT_JSON) && status == NULL)
    printf("%s\n", cli_jstr(doc, "name"));
  rc = status ? (int)json_integer_value(status) : EXIT_OK;
  json_decref(doc);
  return rc;
}

static void
print_update(const char *name, json_t *doc, const char *suffix)
{
  if (json_is_true(json_object_get(doc, "skipped"))) {
    printf("%s: skipped: %s\n", name, cli_jstr(doc, "reason"));
    return;
  }
  if (json_is_true(json_object_get(doc, "dry_run"))) {
    if (json_is_true(json_object_get(doc, "would_update")) && cli_jstr(doc, "deployment"))
      printf("%s: would update to %.12s (%s)\n", name, cli_jstr(doc, "id"),
             cli_jstr(doc, "deployment"));
    else if (json_is_true(json_object_get(doc, "would_update"))) /* (--auto: the registry's) */
      printf("%s: would update to %.12s\n", name, cli_jstr(doc, "id"));
    else
      printf("%s: latest version already installed\n", name);
    print_privileges(doc);
    return;
  }
  if (json_is_true(json_object_get(doc, "updated")))
    printf("%s: updated to %.12s (%s)%s\n",
           name,
           cli_jstr(doc, "id"),
           cli_jstr(doc, "deployment"),
           suffix);
  else
    printf("%s: latest version already installed\n", name);
}

static void
print_container_update(json_t *each)
{
  /* (text output only: the warnings are in the document with --json) */
  for (size_t i = 0; i < json_array_size(json_object_get(each, "warnings")); i++)
    fprintf(stderr,
            "%s: warning: %s: %s\n",
            PROGNAME,
            cli_jstr(each, "name"),
            json_string_value(json_array_get(json_object_get(each, "warnings"), i)));
  print_update(cli_jstr(each, "name"), each, "");
}

static unsigned
settle_ms(const CliCmd *c)
{
  const char *settle = cli_opt(c, OPT_SETTLE);
  return settle ? (unsigned)(strtod(settle, NULL) * 1000) : 0;
}

int
check_update(const CliCmd *c)
{
  if (cli_flag(c, OPT_ALL) && (c->n_args != 0 || cli_flag(c, OPT_REBASE))) {
    cli_usage_error("--all takes no container name and no --rebase");
    return EXIT_USAGE;
  }
  if (cli_flag(c, OPT_ALL) && cli_flag(c, OPT_AUTO_UPDATE)) {
    cli_usage_error("update --all cannot set --auto-update: name one container");
    return EXIT_USAGE;
  }
  if (cli_flag(c, OPT_AUTO) && !cli_flag(c, OPT_ALL)) {
    cli_usage_error("--auto is for update --all (the timer's run)");
    return EXIT_USAGE;
  }
  if (settle_ms(c) && !cli_flag(c, OPT_CONTROLLED) && !cli_flag(c, OPT_ALL)) {
    cli_usage_error("--settle is for --controlled updates");
    return EXIT_USAGE;
  }
  return cli_flag(c, OPT_ALL) ? EXIT_OK : cli_check_args(c, 1, 1, "one container name or --all", 1);
}

/* The pull options must outlive @uopts. */
static int
set_update_opts(const CliCmd *c,
                sc_update_opts *uopts,
                const sc_pull_opts *popts,
                const sc_values *values,
                sc_error **error)
{
  int r;

  if ((r = sc_update_opts_set_values(uopts, values, error)) != SC_OK ||
      (r = sc_update_opts_set_rebase(uopts, cli_opt(c, OPT_REBASE), error)) != SC_OK ||
      (r = sc_update_opts_set_pull_opts(uopts, popts, error)) != SC_OK ||
      (r = sc_update_opts_set_dry_run(uopts, cli_flag(c, OPT_DRY_RUN), error)) != SC_OK ||
      (r = sc_update_opts_set_strict(uopts, cli_flag(c, OPT_STRICT), error)) != SC_OK ||
      (r = sc_update_opts_set_auto_update(uopts, cli_opt(c, OPT_AUTO_UPDATE), error)) != SC_OK ||
      (r = sc_update_opts_set_auto(uopts, cli_flag(c, OPT_AUTO), error)) != SC_OK ||
      (r = sc_update_opts_set_accept_privileges(
         uopts, cli_flag(c, OPT_ACCEPT_PRIVILEGES), error)) != SC_OK)
    return r;
  return sc_update_opts_set_controlled(uopts, cli_flag(c, OPT_CONTROLLED), settle_ms(c), error);
}

/* update NAME --auto-update=POLICY: what it set (or would), and what it
 * was; a policy that changed otherwise (an image's label) is said too. */
static void
print_auto_update(const CliCmd *c, const char *name, json_t *doc)
{
  json_t *au = json_object_get(doc, "auto_update");
  const char *now = cli_jstr(au, "policy"), *was = cli_jstr(au, "was");
  int dry = json_is_true(json_object_get(doc, "dry_run"));

  if (now == NULL || was == NULL || (strcmp(now, was) == 0 && !cli_flag(c, OPT_AUTO_UPDATE)))
    return;
  if (strcmp(now, was) == 0)
    printf("%s: automatic updates: %s (unchanged)\n", name, now);
  else
    printf("%s: %sautomatic updates: %s (was %s)\n", name, dry ? "would set " : "", now, was);
}

int
cmd_update(const CliCmd *c, sc_context *ctx)
{
  sc_update_opts *uopts = NULL;
  sc_pull_opts *popts = NULL;
  sc_values *values = NULL;
  sc_error *error = NULL;
  char *json = NULL;
  json_t *doc;
  int all = cli_flag(c, OPT_ALL), rc = EXIT_OK;
  int r;

  if ((r = cli_make_sources(c, NULL, &popts, &values, &error)) == SC_OK &&
      (r = sc_update_opts_new(&uopts, &error)) == SC_OK &&
      (r = set_update_opts(c, uopts, popts, values, &error)) == SC_OK) {
    r = all ? sc_containers_update_all_json(ctx, uopts, &json, &error)
            : sc_container_update_with_opts(ctx, c->args[0], uopts, &json, &error);
  }
  sc_update_opts_free(uopts);
  sc_values_free(values);
  sc_pull_opts_free(popts);
  if (r != SC_OK)
    return cli_report_error(c, r, error);
  doc = cli_result(c, json);
  if (!all)
    cli_print_warnings(c, doc, NULL);
  if (all)
    rc = cli_print_batch(c, json_object_get(doc, "containers"), print_container_update)
           ? EXIT_FAILED
           : EXIT_OK;
  else if (!cli_flag(c, OPT_JSON)) {
    print_update(
      c->args[0], doc, json_is_true(json_object_get(doc, "restarted")) ? ", restarted" : "");
    print_auto_update(c, c->args[0], doc);
  }
  json_decref(doc);
  return rc;
}

static void
print_rollback(const CliCmd *c, json_t *doc, int ok)
{
  (void)ok;
  printf("%s: rolled back to %s\n", c->args[0], cli_jstr(doc, "deployment"));
}

int
cmd_rollback(const CliCmd *c, sc_context *ctx)
{
  sc_error *error = NULL;
  char *json = NULL;
  int r = sc_container_rollback(ctx, c->args[0], &json, &error);

  return cli_finish(c, r, error, json, print_rollback, 1);
}

/* Each container in turn, whatever the others did; with --json one document,
 * a result per container as update --all gives (a failed one: its "error"). */
int
cmd_uninstall(const CliCmd *c, sc_context *ctx)
{
  json_t *doc;
  sc_error *conf_error = NULL;
  int failed = 0, r;

  /* a broken atomic.conf fails the whole command, not each container */
  if ((r = sc_context_load_config(ctx, &conf_error)) != SC_OK)
    return cli_report_error(c, r, conf_error);
  doc = json_pack("{s:i, s:[]}", "schema", 1, "containers");

  for (int i = 0; i < c->n_args; i++) {
    sc_error *error = NULL;
    char *json = NULL;
    int ur = sc_container_uninstall(ctx, c->args[i], &json, &error);
    json_t *item = ur == SC_OK ? json_loads(json, 0, NULL) : NULL;

    sc_free(json);
    /* (the document carries why nothing was removed; the text says it) */
    if (item && json_object_get(item, "reason") && !cli_flag(c, OPT_JSON))
      fprintf(stderr,
              "%s: warning: %s\n",
              PROGNAME,
              cli_jstr(json_object_get(item, "reason"), "message"));
    if (ur != SC_OK) {
      const char *msg = error ? sc_error_message(error) : sc_strerror(ur);
      item =
        json_pack("{s:s, s:s, s:s}", "name", c->args[i], "error", msg, "code", cli_code_name(ur));
      if (!cli_flag(c, OPT_JSON))
        fprintf(stderr, "%s: error: %s\n", PROGNAME, msg);
      sc_error_free(error);
      failed = 1;
    }
    json_object_del(item, "schema");
    json_array_append_new(json_object_get(doc, "containers"), item);
  }
  if (cli_flag(c, OPT_JSON))
    cli_print_json(doc);
  json_decref(doc);
  return failed ? EXIT_FAILED : EXIT_OK;
}

static int
is_inactive(json_t *container)
{
  const char *state = cli_jstr(container, "state");
  return state != NULL && strcmp(state, "inactive") == 0;
}

/* atomic's containers list -f: container, image and runtime match a part,
 * backend the whole. */
static int
list_match(json_t *each, const char *key, const char *value)
{
  const char *have;

  if (strcmp(key, "backend") == 0)
    return strcmp(value, "ostree") == 0;
  have = cli_jstr(each, strcmp(key, "container") == 0 ? "name" : key);
  return have != NULL && strstr(have, value) != NULL;
}

static const char *const list_filters[] = { "container", "image", "backend", "runtime", NULL };

int
check_list(const CliCmd *c)
{
  int rc = cli_check_args(c, 0, 0, "no arguments", 1);
  return rc != EXIT_OK ? rc
                       : cli_check_filters(c, list_filters, "container, image, backend or runtime");
}

static void
print_containers(const CliCmd *c, json_t *doc)
{
  static const char *const heads[] = { "NAME", "IMAGE", "ID", "CREATED", "STATE", "RUNTIME" };
  json_t *rows = json_array(), *each;
  size_t i;

  json_array_foreach (json_object_get(doc, "containers"), i, each) {
    const char *id = cli_jstr(each, "id"), *op = cli_jstr(each, "interrupted");
    char state[64], created[64], shortid[13];
    if (cli_flag(c, OPT_QUIET)) {
      printf("%s\n", cli_jstr(each, "name"));
      continue;
    }
    snprintf(state, sizeof(state), op ? "%s (%s interrupted)" : "%s", cli_jstr(each, "state"), op);
    cli_format_time(cli_jstr(each, "created"), created, sizeof(created));
    snprintf(shortid, sizeof(shortid), "%s", id ? id : "-");
    json_array_append_new(rows,
                          json_pack("[s, s?, s?, s, s, s?]",
                                    cli_jstr(each, "name"),
                                    cli_jstr(each, "image"),
                                    cli_flag(c, OPT_NO_TRUNC) ? id : shortid,
                                    created,
                                    state,
                                    cli_jstr(each, "runtime")));
  }
  if (!cli_flag(c, OPT_QUIET))
    cli_print_table(heads, 6, rows, 0);
  json_decref(rows);
}

int
cmd_list(const CliCmd *c, sc_context *ctx)
{
  sc_error *error = NULL;
  char *json = NULL;
  int r = sc_containers_list_json(ctx, &json, &error);
  json_t *doc, *arr;

  if (r != SC_OK)
    return cli_report_error(c, r, error);
  doc = json_loads(json, 0, NULL);
  sc_free(json);
  arr = json_object_get(doc, "containers");
  /* as atomic: stopped containers only with --all */
  for (size_t i = json_array_size(arr); i-- > 0;)
    if ((!cli_flag(c, OPT_ALL) && is_inactive(json_array_get(arr, i))) ||
        !cli_filters_match(c, json_array_get(arr, i), list_match))
      json_array_remove(arr, i);
  if (cli_flag(c, OPT_JSON))
    cli_print_json(doc);
  else
    print_containers(c, doc);
  json_decref(doc);
  return EXIT_OK;
}

int
cmd_inspect(const CliCmd *c, sc_context *ctx)
{
  sc_error *error = NULL;
  char *json = NULL;
  int r = sc_container_inspect_json(ctx, c->args[0], &json, &error);

  return cli_finish(c, r, error, json, NULL, 1);
}

int
cmd_start(const CliCmd *c, sc_context *ctx)
{
  sc_error *error = NULL;
  int r = sc_container_start(ctx, c->args[0], &error);

  return r == SC_OK ? cli_print_ok(c) : cli_report_error(c, r, error);
}

int
cmd_stop(const CliCmd *c, sc_context *ctx)
{
  sc_error *error = NULL;
  int r = sc_container_stop(ctx, c->args[0], &error);

  return r == SC_OK ? cli_print_ok(c) : cli_report_error(c, r, error);
}

/* run IMAGE [CMD...]: the image once, not installed, with --set values. */
static int
run_image(const CliCmd *c, sc_context *ctx, const char **args, int *status, sc_error **error)
{
  sc_pull_opts *popts = NULL;
  sc_values *values = NULL;
  sc_run_opts *ropts = NULL;
  int r;

  /* an undeclared --set is the library's warning, logged (and so printed)
   * before the command runs, or its error with --strict */
  if ((r = cli_make_sources(c, NULL, &popts, &values, error)) == SC_OK &&
      (r = sc_run_opts_new(&ropts, error)) == SC_OK &&
      (r = sc_run_opts_set_values(ropts, values, error)) == SC_OK &&
      (r = sc_run_opts_set_pull_opts(ropts, popts, error)) == SC_OK &&
      (r = sc_run_opts_set_strict(ropts, cli_flag(c, OPT_STRICT), error)) == SC_OK)
    r = sc_image_run_with_opts(ctx, c->args[0], ropts, args, status, error);
  sc_run_opts_free(ropts);
  sc_values_free(values);
  sc_pull_opts_free(popts);
  return r;
}

/* run NAME [CMD...] execs in an installed container (or runs it once); as
 * atomic, run IMAGE [CMD...] runs an image once. Exits with CMD's status. */
int
cmd_run(const CliCmd *c, sc_context *ctx)
{
  sc_error *error = NULL;
  char *json = NULL;
  const char **args;
  int r, status = 0, installed;

  installed = sc_name_validate(c->args[0], NULL) == SC_OK &&
              sc_container_inspect_json(ctx, c->args[0], &json, NULL) == SC_OK;
  sc_free(json);
  if (installed && c->n_sets > 0) {
    cli_usage_error("--set is for running an image; %s is an installed container (update it "
                    "with --set)",
                    c->args[0]);
    return EXIT_USAGE;
  }
  args = calloc(c->n_args, sizeof(char *));
  memcpy(args, c->args + 1, (c->n_args - 1) * sizeof(char *));
  r = installed ? sc_container_run(ctx, c->args[0], args, &status, &error)
                : run_image(c, ctx, args, &status, &error);
  free(args);
  return r == SC_OK ? status : cli_report_error(c, r, error);
}
