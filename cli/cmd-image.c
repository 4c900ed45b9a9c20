/*
 * syscontainerctl pull, images *, checkout: the image store.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* The registry options of the command line; @image_name is pull's --name. */
int
cli_make_pull_opts(const CliCmd *c, const char *image_name, sc_pull_opts **out, sc_error **errp)
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

int
cmd_pull(CliCmd *c)
{
  sc_context *ctx = NULL;
  sc_pull_opts *popts = NULL;
  sc_error *error = NULL;
  char *json = NULL;
  int r, rc;

  if ((rc = cli_begin(c, 1, "one source", &ctx)) != EXIT_OK)
    return rc;
  cli_show_progress(c, ctx);
  if ((r = cli_make_pull_opts(c, cli_opt(c, OPT_NAME), &popts, &error)) == SC_OK &&
      (r = sc_image_pull(ctx, c->args[0], popts, &json, &error)) == SC_OK) {
    json_t *doc = json_loads(json, 0, NULL);
    printf("%s\n", cli_flag(c, OPT_JSON) ? json : cli_jstr(doc, "name"));
    json_decref(doc);
  }
  rc = r == SC_OK ? EXIT_OK : cli_report_error(c, r, error);
  sc_free(json);
  sc_pull_opts_free(popts);
  sc_context_free(ctx);
  return rc;
}

int
cmd_checkout(CliCmd *c)
{
  sc_context *ctx = NULL;
  sc_error *error = NULL;
  int r, rc;

  if ((rc = cli_begin(c, 2, "an image and a directory", &ctx)) != EXIT_OK)
    return rc;
  r = sc_image_checkout(ctx, c->args[0], c->args[1], &error);
  sc_context_free(ctx);
  return r == SC_OK ? cli_print_ok(c) : cli_report_error(c, r, error);
}

/* images SUB: each prints its own result and returns the exit code, or
 * returns through *r the library's failure. */
typedef int (*ImagesFn)(const CliCmd *c, sc_context *ctx, int *r, sc_error **error);

static int
images_list(const CliCmd *c, sc_context *ctx, int *r, sc_error **error)
{
  char *json = NULL;
  json_t *doc, *img;
  size_t i;

  if ((*r = sc_images_list_json(ctx, &json, error)) != SC_OK)
    return EXIT_FAILED;
  if (cli_flag(c, OPT_JSON)) {
    printf("%s\n", json);
    sc_free(json);
    return EXIT_OK;
  }
  doc = cli_parse_json(json);
  printf("%-40s %-12s %-12s %-20s %10s %s\n", "NAME", "TAG", "ID", "CREATED", "SIZE", "IN USE");
  json_array_foreach (json_object_get(doc, "images"), i, img) {
    char size[32];
    const char *created = cli_jstr(img, "created");
    cli_format_size(json_integer_value(json_object_get(img, "size")), size, sizeof(size));
    printf("%-40s %-12s %-12.12s %-20.19s %10s %s\n", cli_jstr(img, "name"), cli_jstr(img, "tag"),
           cli_jstr(img, "id"), created ? created : "-", size,
           json_is_true(json_object_get(img, "in_use")) ? "yes" : "no");
  }
  json_decref(doc);
  return EXIT_OK;
}

static int
images_inspect(const CliCmd *c, sc_context *ctx, int *r, sc_error **error)
{
  sc_pull_opts *popts = NULL;
  char *json = NULL;

  if (!cli_flag(c, OPT_REMOTE))
    *r = sc_image_inspect_json(ctx, c->args[1], &json, error);
  else if ((*r = cli_make_pull_opts(c, NULL, &popts, error)) == SC_OK)
    *r = sc_image_inspect_remote_json(ctx, c->args[1], popts, &json, error);
  if (*r == SC_OK)
    printf("%s\n", json);
  sc_free(json);
  sc_pull_opts_free(popts);
  return EXIT_OK;
}

static int
images_tag(const CliCmd *c, sc_context *ctx, int *r, sc_error **error)
{
  *r = sc_image_tag(ctx, c->args[1], c->args[2], error);
  return *r == SC_OK ? cli_print_ok(c) : EXIT_FAILED;
}

static int
images_delete(const CliCmd *c, sc_context *ctx, int *r, sc_error **error)
{
  for (int i = 1; i < c->n_args && *r == SC_OK; i++)
    *r = sc_image_delete(ctx, c->args[i], cli_flag(c, OPT_FORCE), error);
  return *r == SC_OK ? cli_print_ok(c) : EXIT_FAILED;
}

static int
images_prune(const CliCmd *c, sc_context *ctx, int *r, sc_error **error)
{
  char *json = NULL;
  json_t *doc;
  char freed[32];

  if ((*r = sc_images_prune(ctx, &json, error)) != SC_OK)
    return EXIT_FAILED;
  if (cli_flag(c, OPT_JSON)) {
    printf("%s\n", json);
    sc_free(json);
    return EXIT_OK;
  }
  doc = cli_parse_json(json);
  cli_format_size(json_integer_value(json_object_get(doc, "bytes_freed")), freed, sizeof(freed));
  printf("removed %lld unused layer or config commits and %lld objects, freed %s\n",
         json_integer_value(json_object_get(doc, "refs_removed")),
         json_integer_value(json_object_get(doc, "objects_removed")), freed);
  json_decref(doc);
  return EXIT_OK;
}

static int
images_verify(const CliCmd *c, sc_context *ctx, int *r, sc_error **error)
{
  char *json = NULL;
  int ok = 0;
  json_t *doc, *l;
  size_t i;

  if ((*r = sc_image_verify(ctx, c->args[1], &json, &ok, error)) != SC_OK)
    return EXIT_FAILED;
  if (cli_flag(c, OPT_JSON)) {
    printf("%s\n", json);
    sc_free(json);
    return ok ? EXIT_OK : EXIT_FAILED;
  }
  doc = cli_parse_json(json);
  json_array_foreach (json_object_get(doc, "layers"), i, l) {
    const char *problem = cli_jstr(l, "problem");
    printf("layer %s: %s\n", cli_jstr(l, "digest"), problem ? problem : "ok");
  }
  if (!json_is_true(json_object_get(doc, "config_ok")))
    printf("config: missing from the store\n");
  printf("%s: %s\n", cli_jstr(doc, "name"), ok ? "verified" : "DAMAGED");
  json_decref(doc);
  return ok ? EXIT_OK : EXIT_FAILED;
}

static int
images_update(const CliCmd *c, sc_context *ctx, int *r, sc_error **error)
{
  sc_pull_opts *popts = NULL;
  char *json = NULL;
  json_t *doc, *img;
  size_t i;
  int failed = 0;

  if ((*r = cli_make_pull_opts(c, NULL, &popts, error)) == SC_OK)
    *r = sc_images_update_json(ctx, cli_flag(c, OPT_ALL) ? NULL : c->args[1], popts, &json,
                               error);
  sc_pull_opts_free(popts);
  if (*r != SC_OK)
    return EXIT_FAILED;
  if (cli_flag(c, OPT_JSON))
    printf("%s\n", json);
  doc = cli_parse_json(json);
  json_array_foreach (json_object_get(doc, "images"), i, img) {
    const char *name = cli_jstr(img, "name"), *err = cli_jstr(img, "error");
    failed |= err != NULL;
    if (cli_flag(c, OPT_JSON))
      continue;
    if (err)
      printf("%s: %s\n", name, err);
    else if (json_is_true(json_object_get(img, "updated")))
      printf("%s: updated %.12s -> %.12s\n", name, cli_jstr(img, "old_id"), cli_jstr(img, "id"));
    else
      printf("%s: up to date\n", name);
  }
  json_decref(doc);
  return failed ? EXIT_FAILED : EXIT_OK;
}

/* The images commands: how many arguments (counting the command's own name)
 * and which of the images options belong to it alone. */
static const struct {
  const char *name;
  int min_args, max_args;
  ImagesFn run;
  CliOpt own; /* OPT_COUNT: none */
} images_subs[] = {
  {"list", 1, 1, images_list, OPT_COUNT},       {"inspect", 2, 2, images_inspect, OPT_REMOTE},
  {"tag", 3, 3, images_tag, OPT_COUNT},         {"delete", 2, 1000, images_delete, OPT_FORCE},
  {"prune", 1, 1, images_prune, OPT_COUNT},     {"verify", 2, 2, images_verify, OPT_COUNT},
  {"update", 1, 2, images_update, OPT_ALL},
};
#define N_IMAGES_SUBS (sizeof(images_subs) / sizeof(images_subs[0]))

/* The usage errors of an images command, in the order they were always
 * checked: the command, its arguments, then each option owned by another. */
static int
images_check(const CliCmd *c, size_t k)
{
  static const CliOpt owned[] = {OPT_FORCE, OPT_REMOTE};
  const char *sub = c->args[0];
  int update = images_subs[k].own == OPT_ALL;

  if (c->n_args < images_subs[k].min_args || c->n_args > images_subs[k].max_args) {
    cli_usage_error("images %s takes %d argument%s", sub, images_subs[k].min_args - 1,
                    images_subs[k].min_args == 2 ? "" : "s");
    return EXIT_USAGE;
  }
  for (size_t o = 0; o < sizeof(owned) / sizeof(owned[0]); o++)
    for (size_t s = 0; s < N_IMAGES_SUBS; s++)
      if (images_subs[s].own == owned[o] && s != k && cli_flag(c, owned[o])) {
        cli_usage_error("--%s is only for images %s",
                        owned[o] == OPT_FORCE ? "force" : "remote", images_subs[s].name);
        return EXIT_USAGE;
      }
  if (update ? (cli_flag(c, OPT_ALL) == (c->n_args == 2)) : cli_flag(c, OPT_ALL)) {
    cli_usage_error(update ? "images update takes an IMAGE or --all"
                           : "--all is only for images update");
    return EXIT_USAGE;
  }
  return EXIT_OK;
}

int
cmd_images(CliCmd *c)
{
  sc_context *ctx = NULL;
  sc_error *error = NULL;
  const char *sub = c->n_args > 0 ? c->args[0] : NULL;
  int r = SC_OK, rc;
  size_t k;

  for (k = 0; k < N_IMAGES_SUBS; k++)
    if (sub && strcmp(sub, images_subs[k].name) == 0)
      break;
  if (k == N_IMAGES_SUBS) {
    cli_usage_error(sub ? "unknown images command '%s'"
                        : "images needs a command (list, inspect, tag, delete, prune, verify)%s",
                    sub ? sub : "");
    return EXIT_USAGE;
  }
  if ((rc = images_check(c, k)) != EXIT_OK || (rc = cli_make_context(c, &ctx)) != EXIT_OK)
    return rc;
  rc = images_subs[k].run(c, ctx, &r, &error);
  if (r != SC_OK)
    rc = cli_report_error(c, r, error);
  sc_context_free(ctx);
  return rc;
}
