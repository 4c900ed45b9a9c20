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
}

/* The install options of the command line; the pull options inside have no
 * --name (that one names the container, not the image), and @popts must
 * outlive them. */
static int
make_install_opts(const CliCmd *c, sc_install_opts **out, sc_pull_opts **popts, sc_error **error)
{
  sc_install_opts *iopts = NULL;
  sc_values *values = NULL;
  const char *name = cli_opt(c, OPT_NAME);
  int r;

  if ((r = cli_make_pull_opts(c, NULL, popts, error)) != SC_OK ||
      (r = sc_install_opts_new(&iopts, error)) != SC_OK ||
      (r = cli_make_values(c, &values, error)) != SC_OK ||
      (name && (r = sc_install_opts_set_name(iopts, name, error)) != SC_OK) ||
      (r = sc_install_opts_set_values(iopts, values, error)) != SC_OK ||
      (r = sc_install_opts_set_pull_opts(iopts, *popts, error)) != SC_OK ||
      (r = sc_install_opts_set_enable(iopts, !cli_flag(c, OPT_NO_ENABLE), error)) != SC_OK ||
      (r = sc_install_opts_set_start(iopts, cli_flag(c, OPT_NOW), error)) != SC_OK ||
      (r = sc_install_opts_set_dry_run(iopts, cli_flag(c, OPT_DRY_RUN), error)) != SC_OK ||
      (r = sc_install_opts_set_rootfs(iopts, cli_opt(c, OPT_ROOTFS), error)) != SC_OK) {
    sc_install_opts_free(iopts);
    iopts = NULL;
  }
  sc_values_free(values);
  *out = iopts;
  return r;
}

int
cmd_install(CliCmd *c)
{
  sc_context *ctx = NULL;
  sc_install_opts *iopts = NULL;
  sc_pull_opts *popts = NULL;
  sc_error *error = NULL;
  char *json = NULL;
  json_t *doc, *status;
  int json_out = cli_flag(c, OPT_JSON), dry_text = !json_out && cli_flag(c, OPT_DRY_RUN);
  int r, rc;

  if ((rc = cli_begin(c, 1, "one image", &ctx)) != EXIT_OK)
    return rc;
  if ((r = make_install_opts(c, &iopts, &popts, &error)) == SC_OK) {
    cli_show_progress(c, ctx);
    r = sc_container_install(ctx, c->args[0], iopts, &json, &error);
  }
  sc_install_opts_free(iopts);
  sc_pull_opts_free(popts);
  sc_context_free(ctx);
  if (r != SC_OK)
    return cli_report_error(c, r, error);
  if (json_out)
    printf("%s\n", json);
  doc = cli_parse_json(json);
  /* a run-once image ran: its exit status is the command's */
  status = dry_text ? NULL : json_object_get(doc, "exit_status");
  if (dry_text)
    print_dry_run(doc);
  else if (!json_out && status == NULL)
    printf("%s\n", cli_jstr(doc, "name"));
  rc = status ? (int)json_integer_value(status) : EXIT_OK;
  json_decref(doc);
  return rc;
}

static void
print_update(const char *name, json_t *doc, const char *suffix)
{
  if (json_is_true(json_object_get(doc, "updated")))
    printf("%s: updated to %.12s (%s)%s\n", name, cli_jstr(doc, "id"), cli_jstr(doc, "deployment"),
           suffix);
  else
    printf("%s: latest version already installed\n", name);
}

static int
print_containers_update(const CliCmd *c, json_t *doc)
{
  json_t *each;
  size_t i;
  int failed = 0;

  json_array_foreach (json_object_get(doc, "containers"), i, each) {
    const char *err = cli_jstr(each, "error");
    failed |= err != NULL;
    if (cli_flag(c, OPT_JSON))
      continue;
    if (err)
      printf("%s: %s\n", cli_jstr(each, "name"), err);
    else
      print_update(cli_jstr(each, "name"), each, "");
  }
  return failed ? EXIT_FAILED : EXIT_OK;
}

/* The update options of the command line; @popts must outlive them. */
static int
make_update_opts(const CliCmd *c, unsigned settle_ms, sc_update_opts **out, sc_pull_opts **popts,
                 sc_error **error)
{
  sc_update_opts *uopts = NULL;
  sc_values *values = NULL;
  int r;

  if ((r = cli_make_pull_opts(c, NULL, popts, error)) != SC_OK ||
      (r = cli_make_values(c, &values, error)) != SC_OK ||
      (r = sc_update_opts_new(&uopts, error)) != SC_OK ||
      (r = sc_update_opts_set_values(uopts, values, error)) != SC_OK ||
      (r = sc_update_opts_set_rebase(uopts, cli_opt(c, OPT_REBASE), error)) != SC_OK ||
      (r = sc_update_opts_set_pull_opts(uopts, *popts, error)) != SC_OK ||
      (r = sc_update_opts_set_controlled(uopts, cli_flag(c, OPT_CONTROLLED), settle_ms, error)) !=
        SC_OK) {
    sc_update_opts_free(uopts);
    uopts = NULL;
  }
  sc_values_free(values);
  *out = uopts;
  return r;
}

int
cmd_update(CliCmd *c)
{
  sc_context *ctx = NULL;
  sc_update_opts *uopts = NULL;
  sc_pull_opts *popts = NULL;
  sc_error *error = NULL;
  char *json = NULL;
  json_t *doc;
  const char *settle = cli_opt(c, OPT_SETTLE);
  unsigned settle_ms = settle ? (unsigned)(strtod(settle, NULL) * 1000) : 0;
  int all = cli_flag(c, OPT_ALL);
  int r, rc;

  if (all && (c->n_args != 0 || cli_flag(c, OPT_REBASE))) {
    cli_usage_error("update --all takes no container name and no --rebase");
    return EXIT_USAGE;
  }
  if (settle_ms && !cli_flag(c, OPT_CONTROLLED) && !all) {
    cli_usage_error("--settle is for --controlled updates");
    return EXIT_USAGE;
  }
  if ((rc = all ? cli_make_context(c, &ctx)
                : cli_begin(c, 1, "one container name or --all", &ctx)) != EXIT_OK)
    return rc;
  if ((r = make_update_opts(c, settle_ms, &uopts, &popts, &error)) == SC_OK)
    r = all ? sc_containers_update_all_json(ctx, uopts, &json, &error)
            : sc_container_update_with_opts(ctx, c->args[0], uopts, &json, &error);
  sc_update_opts_free(uopts);
  sc_pull_opts_free(popts);
  sc_context_free(ctx);
  if (r != SC_OK)
    return cli_report_error(c, r, error);
  if (cli_flag(c, OPT_JSON))
    printf("%s\n", json);
  doc = cli_parse_json(json);
  if (all)
    rc = print_containers_update(c, doc);
  else if (!cli_flag(c, OPT_JSON))
    print_update(c->args[0], doc,
                 json_is_true(json_object_get(doc, "restarted")) ? ", restarted" : "");
  json_decref(doc);
  return rc;
}

int
cmd_rollback(CliCmd *c)
{
  sc_context *ctx = NULL;
  sc_error *error = NULL;
  char *json = NULL;
  json_t *doc;
  int r, rc;

  if ((rc = cli_begin(c, 1, "one container name", &ctx)) != EXIT_OK)
    return rc;
  r = sc_container_rollback(ctx, c->args[0], &json, &error);
  sc_context_free(ctx);
  if (r != SC_OK)
    return cli_report_error(c, r, error);
  if (cli_flag(c, OPT_JSON))
    printf("%s\n", json);
  doc = cli_parse_json(json);
  if (!cli_flag(c, OPT_JSON))
    printf("%s: rolled back to %s\n", c->args[0], cli_jstr(doc, "deployment"));
  json_decref(doc);
  return EXIT_OK;
}

int
cmd_uninstall(CliCmd *c)
{
  sc_context *ctx = NULL;
  sc_error *error = NULL;
  char *json = NULL;
  int r = SC_OK, rc;

  if (c->n_args < 1) {
    cli_usage_error("uninstall takes one or more container names");
    return EXIT_USAGE;
  }
  if ((rc = cli_make_context(c, &ctx)) != EXIT_OK)
    return rc;
  for (int i = 0; i < c->n_args && r == SC_OK; i++) {
    r = sc_container_uninstall(ctx, c->args[i], &json, &error);
    if (r == SC_OK && cli_flag(c, OPT_JSON))
      printf("%s\n", json);
    sc_free(json);
    json = NULL;
  }
  sc_context_free(ctx);
  return r == SC_OK ? EXIT_OK : cli_report_error(c, r, error);
}

static int
is_inactive(json_t *container)
{
  const char *state = cli_jstr(container, "state");
  return state != NULL && strcmp(state, "inactive") == 0;
}

static void
print_containers(json_t *doc)
{
  json_t *each;
  size_t i;

  printf("%-24s %-40s %-12s %-11s %s\n", "NAME", "IMAGE", "ID", "STATE", "RUNTIME");
  json_array_foreach (json_object_get(doc, "containers"), i, each) {
    const char *image = cli_jstr(each, "image"), *id = cli_jstr(each, "id");
    const char *runtime = cli_jstr(each, "runtime"), *op = cli_jstr(each, "interrupted");
    char state[64];
    snprintf(state, sizeof(state), op ? "%s (%s interrupted)" : "%s", cli_jstr(each, "state"),
             op);
    printf("%-24s %-40s %-12.12s %-11s %s\n", cli_jstr(each, "name"), image ? image : "-",
           id ? id : "-", state, runtime ? runtime : "-");
  }
}

int
cmd_list(CliCmd *c)
{
  sc_context *ctx = NULL;
  sc_error *error = NULL;
  char *json = NULL;
  json_t *doc;
  int r, rc;

  if ((rc = cli_begin(c, 0, "no arguments", &ctx)) != EXIT_OK)
    return rc;
  r = sc_containers_list_json(ctx, &json, &error);
  sc_context_free(ctx);
  if (r != SC_OK)
    return cli_report_error(c, r, error);
  doc = cli_parse_json(json);
  if (!cli_flag(c, OPT_ALL)) {
    /* as atomic: stopped containers only with --all */
    json_t *arr = json_object_get(doc, "containers");
    for (size_t i = json_array_size(arr); i-- > 0;)
      if (is_inactive(json_array_get(arr, i)))
        json_array_remove(arr, i);
  }
  if (cli_flag(c, OPT_JSON)) {
    char *text = json_dumps(doc, JSON_INDENT(2));
    printf("%s\n", text);
    free(text);
  } else
    print_containers(doc);
  json_decref(doc);
  return EXIT_OK;
}

/* inspect, start, stop NAME */
static int
begin_name(const CliCmd *c, sc_context **ctx)
{
  if (c->n_args != 1) {
    cli_usage_error("%s takes one container name", c->verb);
    return EXIT_USAGE;
  }
  return cli_make_context(c, ctx);
}

int
cmd_inspect(CliCmd *c)
{
  sc_context *ctx = NULL;
  sc_error *error = NULL;
  char *json = NULL;
  int r, rc;

  if ((rc = begin_name(c, &ctx)) != EXIT_OK)
    return rc;
  if ((r = sc_container_inspect_json(ctx, c->args[0], &json, &error)) == SC_OK)
    printf("%s\n", json);
  sc_free(json);
  sc_context_free(ctx);
  return r == SC_OK ? EXIT_OK : cli_report_error(c, r, error);
}

static int
unit_verb(CliCmd *c, int (*op)(sc_context *, const char *, sc_error **))
{
  sc_context *ctx = NULL;
  sc_error *error = NULL;
  int r, rc;

  if ((rc = begin_name(c, &ctx)) != EXIT_OK)
    return rc;
  r = op(ctx, c->args[0], &error);
  sc_context_free(ctx);
  return r == SC_OK ? EXIT_OK : cli_report_error(c, r, error);
}

int
cmd_start(CliCmd *c)
{
  return unit_verb(c, sc_container_start);
}

int
cmd_stop(CliCmd *c)
{
  return unit_verb(c, sc_container_stop);
}

/* run IMAGE [CMD...]: the image once, not installed, with --set values. */
static int
run_image(const CliCmd *c, sc_context *ctx, const char **args, int *status, sc_error **error)
{
  sc_pull_opts *popts = NULL;
  sc_values *values = NULL;
  int r;

  if ((r = cli_make_pull_opts(c, NULL, &popts, error)) == SC_OK &&
      (r = cli_make_values(c, &values, error)) == SC_OK)
    r = sc_image_run(ctx, c->args[0], values, popts, args, status, error);
  sc_values_free(values);
  sc_pull_opts_free(popts);
  return r;
}

/* run NAME [CMD...] execs in an installed container (or runs it once); as
 * atomic, run IMAGE [CMD...] runs an image once. Exits with CMD's status. */
int
cmd_run(CliCmd *c)
{
  sc_context *ctx = NULL;
  sc_error *error = NULL;
  char *json = NULL;
  const char **args;
  int r, rc, status = 0, installed;

  if (c->n_args < 1) {
    cli_usage_error("run takes one container name (or image) and an optional command");
    return EXIT_USAGE;
  }
  if ((rc = cli_make_context(c, &ctx)) != EXIT_OK)
    return rc;
  installed = sc_name_validate(c->args[0], NULL) == SC_OK &&
              sc_container_inspect_json(ctx, c->args[0], &json, NULL) == SC_OK;
  sc_free(json);
  if (installed && c->n_sets > 0) {
    cli_usage_error("--set is for running an image; %s is an installed container (update it "
                    "with --set)",
                    c->args[0]);
    sc_context_free(ctx);
    return EXIT_USAGE;
  }
  args = calloc(c->n_args, sizeof(char *));
  memcpy(args, c->args + 1, (c->n_args - 1) * sizeof(char *));
  r = installed ? sc_container_run(ctx, c->args[0], args, &status, &error)
                : run_image(c, ctx, args, &status, &error);
  free(args);
  sc_context_free(ctx);
  return r == SC_OK ? status : cli_report_error(c, r, error);
}
