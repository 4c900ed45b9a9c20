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
    cli_usage_error("update --all takes no container name and no --rebase");
    return EXIT_USAGE;
  }
  if (cli_flag(c, OPT_ALL) && cli_flag(c, OPT_AUTO_UPDATE)) {
    cli_usage_error("update --all cannot set --auto-update: name one container");
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
      (r = sc_update_opts_set_auto_update(uopts, cli_opt(c, OPT_AUTO_UPDATE), error)) != SC_OK ||
      (r = sc_update_opts_set_auto(uopts, cli_flag(c, OPT_AUTO), error)) != SC_OK ||
      (r = sc_update_opts_set_accept_privileges(uopts, cli_flag(c, OPT_ACCEPT_PRIVILEGES),
                                                error)) != SC_OK)
    return r;
  return sc_update_opts_set_controlled(uopts, cli_flag(c, OPT_CONTROLLED), settle_ms(c), error);
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
      (r = set_update_opts(c, uopts, popts, values, &error)) == SC_OK)
    r = all ? sc_containers_update_all_json(ctx, uopts, &json, &error)
            : sc_container_update_with_opts(ctx, c->args[0], uopts, &json, &error);
  sc_update_opts_free(uopts);
  sc_values_free(values);
  sc_pull_opts_free(popts);
  if (r != SC_OK)
    return cli_report_error(c, r, error);
  doc = cli_result(c, json);
  if (all)
    rc = cli_print_batch(c, json_object_get(doc, "containers"), print_container_update)
           ? EXIT_FAILED
           : EXIT_OK;
  else if (!cli_flag(c, OPT_JSON))
    print_update(
      c->args[0], doc, json_is_true(json_object_get(doc, "restarted")) ? ", restarted" : "");
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

int
cmd_uninstall(const CliCmd *c, sc_context *ctx)
{
  sc_error *error = NULL;
  int r = SC_OK;

  for (int i = 0; i < c->n_args && r == SC_OK; i++) {
    char *json = NULL;
    if ((r = sc_container_uninstall(ctx, c->args[i], &json, &error)) == SC_OK)
      json_decref(cli_result(c, json));
  }
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
    snprintf(state, sizeof(state), op ? "%s (%s interrupted)" : "%s", cli_jstr(each, "state"), op);
    printf("%-24s %-40s %-12.12s %-11s %s\n",
           cli_jstr(each, "name"),
           image ? image : "-",
           id ? id : "-",
           state,
           runtime ? runtime : "-");
  }
}

int
cmd_list(const CliCmd *c, sc_context *ctx)
{
  sc_error *error = NULL;
  char *json = NULL;
  int r = sc_containers_list_json(ctx, &json, &error);
  json_t *doc;

  if (r != SC_OK)
    return cli_report_error(c, r, error);
  doc = json_loads(json, 0, NULL);
  sc_free(json);
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

  return r == SC_OK ? EXIT_OK : cli_report_error(c, r, error);
}

int
cmd_stop(const CliCmd *c, sc_context *ctx)
{
  sc_error *error = NULL;
  int r = sc_container_stop(ctx, c->args[0], &error);

  return r == SC_OK ? EXIT_OK : cli_report_error(c, r, error);
}

/* run IMAGE [CMD...]: the image once, not installed, with --set values. */
static int
run_image(const CliCmd *c, sc_context *ctx, const char **args, int *status, sc_error **error)
{
  sc_pull_opts *popts = NULL;
  sc_values *values = NULL;
  int r;

  if ((r = cli_make_sources(c, NULL, &popts, &values, error)) == SC_OK)
    r = sc_image_run(ctx, c->args[0], values, popts, args, status, error);
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
