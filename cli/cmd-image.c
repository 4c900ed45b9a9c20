/*
 * syscontainerctl pull, images *, checkout: the image store.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void
print_pulled(const CliCmd *c, json_t *doc, int ok)
{
  (void)c, (void)ok;
  printf("%s\n", cli_jstr(doc, "name"));
}

int
cmd_pull(const CliCmd *c, sc_context *ctx)
{
  sc_pull_opts *popts = NULL;
  sc_error *error = NULL;
  char *json = NULL;
  int r;

  cli_show_progress(c, ctx);
  if ((r = cli_make_sources(c, cli_opt(c, OPT_NAME), &popts, NULL, &error)) == SC_OK)
    r = sc_image_pull(ctx, c->args[0], popts, &json, &error);
  sc_pull_opts_free(popts);
  return cli_finish(c, r, error, json, print_pulled, 1);
}

int
cmd_checkout(const CliCmd *c, sc_context *ctx)
{
  sc_error *error = NULL;
  int r = sc_image_checkout(ctx, c->args[0], c->args[1], &error);

  return r == SC_OK ? cli_print_ok(c) : cli_report_error(c, r, error);
}

static void
print_images(const CliCmd *c, json_t *doc, int ok)
{
  json_t *img;
  size_t i;

  (void)c, (void)ok;
  printf("%-40s %-12s %-12s %-20s %10s %s\n", "NAME", "TAG", "ID", "CREATED", "SIZE", "IN USE");
  json_array_foreach (json_object_get(doc, "images"), i, img) {
    char size[32];
    const char *created = cli_jstr(img, "created");
    cli_format_size(json_integer_value(json_object_get(img, "size")), size, sizeof(size));
    printf("%-40s %-12s %-12.12s %-20.19s %10s %s\n",
           cli_jstr(img, "name"),
           cli_jstr(img, "tag"),
           cli_jstr(img, "id"),
           created ? created : "-",
           size,
           json_is_true(json_object_get(img, "in_use")) ? "yes" : "no");
  }
}

static int
images_list(const CliCmd *c, sc_context *ctx)
{
  sc_error *error = NULL;
  char *json = NULL;
  int r = sc_images_list_json(ctx, &json, &error);

  return cli_finish(c, r, error, json, print_images, 1);
}

static int
images_inspect(const CliCmd *c, sc_context *ctx)
{
  sc_pull_opts *popts = NULL;
  sc_error *error = NULL;
  char *json = NULL;
  int r;

  if (!cli_flag(c, OPT_REMOTE))
    r = sc_image_inspect_json(ctx, c->args[1], &json, &error);
  else if ((r = cli_make_sources(c, NULL, &popts, NULL, &error)) == SC_OK)
    r = sc_image_inspect_remote_json(ctx, c->args[1], popts, &json, &error);
  sc_pull_opts_free(popts);
  return cli_finish(c, r, error, json, NULL, 1);
}

static int
images_tag(const CliCmd *c, sc_context *ctx)
{
  sc_error *error = NULL;
  int r = sc_image_tag(ctx, c->args[1], c->args[2], &error);

  return r == SC_OK ? cli_print_ok(c) : cli_report_error(c, r, error);
}

static int
images_delete(const CliCmd *c, sc_context *ctx)
{
  sc_error *error = NULL;
  int r = SC_OK;

  for (int i = 1; i < c->n_args && r == SC_OK; i++)
    r = sc_image_delete(ctx, c->args[i], cli_flag(c, OPT_FORCE), &error);
  return r == SC_OK ? cli_print_ok(c) : cli_report_error(c, r, error);
}

static void
print_prune(const CliCmd *c, json_t *doc, int ok)
{
  char freed[32];

  (void)c, (void)ok;
  cli_format_size(json_integer_value(json_object_get(doc, "bytes_freed")), freed, sizeof(freed));
  printf("removed %lld unused untagged images, %lld unused layer or config commits and %lld "
         "objects, freed %s\n",
         json_integer_value(json_object_get(doc, "images_removed")),
         json_integer_value(json_object_get(doc, "refs_removed")),
         json_integer_value(json_object_get(doc, "objects_removed")),
         freed);
}

static int
images_prune(const CliCmd *c, sc_context *ctx)
{
  sc_error *error = NULL;
  char *json = NULL;
  int r = sc_images_prune(ctx, &json, &error);

  return cli_finish(c, r, error, json, print_prune, 1);
}

static void
print_verify(const CliCmd *c, json_t *doc, int ok)
{
  json_t *l;
  size_t i;

  (void)c;
  json_array_foreach (json_object_get(doc, "layers"), i, l) {
    const char *problem = cli_jstr(l, "problem");
    printf("layer %s: %s\n", cli_jstr(l, "digest"), problem ? problem : "ok");
  }
  if (!json_is_true(json_object_get(doc, "config_ok")))
    printf("config: missing from the store\n");
  if (json_is_object(json_object_get(doc, "trust")))
    printf("signature: %s\n", cli_jstr(json_object_get(doc, "trust"), "message"));
  /* an image kept by its ID only has no name to show */
  printf("%s: %s\n",
         strcmp(cli_jstr(doc, "name"), "<none>") == 0 ? cli_jstr(doc, "id") : cli_jstr(doc, "name"),
         ok ? "verified" : "DAMAGED");
}

static int
images_verify(const CliCmd *c, sc_context *ctx)
{
  sc_error *error = NULL;
  char *json = NULL;
  int ok = 0;
  int r = sc_image_verify(ctx, c->args[1], &json, &ok, &error);

  return cli_finish(c, r, error, json, print_verify, ok);
}

static void
print_image_update(json_t *img)
{
  if (cli_jstr(img, "skipped"))
    printf("%s: skipped: %s\n", strcmp(cli_jstr(img, "name"), "<none>") == 0
                                     ? cli_jstr(img, "id") : cli_jstr(img, "name"),
           cli_jstr(img, "skipped"));
  else if (json_is_true(json_object_get(img, "updated")))
    printf("%s: updated %.12s -> %.12s\n",
           cli_jstr(img, "name"),
           cli_jstr(img, "old_id"),
           cli_jstr(img, "id"));
  else
    printf("%s: up to date\n", cli_jstr(img, "name"));
}

static int
images_update(const CliCmd *c, sc_context *ctx)
{
  sc_pull_opts *popts = NULL;
  sc_error *error = NULL;
  char *json = NULL;
  json_t *doc;
  int r, failed;

  if ((r = cli_make_sources(c, NULL, &popts, NULL, &error)) == SC_OK)
    r = sc_images_update_json(ctx, cli_flag(c, OPT_ALL) ? NULL : c->args[1], popts, &json, &error);
  sc_pull_opts_free(popts);
  if (r != SC_OK)
    return cli_report_error(c, r, error);
  doc = cli_result(c, json);
  failed = cli_print_batch(c, json_object_get(doc, "images"), print_image_update);
  json_decref(doc);
  return failed ? EXIT_FAILED : EXIT_OK;
}

/* The images commands: how many arguments (counting the command's own name)
 * and which of the images options belongs to it alone. */
/* clang-format off */
static const struct {
  const char *name;
  int min_args, max_args;
  CliHandler run;
  CliOpt own; /* OPT_COUNT: none */
} images_subs[] = {
  { "list", 1, 1, images_list, OPT_COUNT },   { "inspect", 2, 2, images_inspect, OPT_REMOTE },
  { "tag", 3, 3, images_tag, OPT_COUNT },     { "delete", 2, 1000, images_delete, OPT_FORCE },
  { "prune", 1, 1, images_prune, OPT_COUNT }, { "verify", 2, 2, images_verify, OPT_COUNT },
  { "update", 1, 2, images_update, OPT_ALL },
};
/* clang-format on */
#define N_IMAGES_SUBS (sizeof(images_subs) / sizeof(images_subs[0]))

static size_t
find_sub(const char *sub)
{
  size_t k;

  for (k = 0; k < N_IMAGES_SUBS; k++)
    if (sub && strcmp(sub, images_subs[k].name) == 0)
      break;
  return k;
}

/* The usage errors of images, in the order they were always checked: the
 * command, its arguments, then each option that belongs to another one. */
int
check_images(const CliCmd *c)
{
  static const struct {
    CliOpt opt;
    const char *name;
  } owned[] = { { OPT_FORCE, "--force" }, { OPT_REMOTE, "--remote" } };
  const char *sub = c->n_args > 0 ? c->args[0] : NULL;
  size_t k = find_sub(sub);
  int update;

  if (k == N_IMAGES_SUBS) {
    cli_usage_error(sub ? "unknown images command '%s'"
                        : "images needs a command (list, inspect, tag, delete, prune, verify)%s",
                    sub ? sub : "");
    return EXIT_USAGE;
  }
  if (c->n_args < images_subs[k].min_args || c->n_args > images_subs[k].max_args) {
    cli_usage_error("images %s takes %d argument%s",
                    sub,
                    images_subs[k].min_args - 1,
                    images_subs[k].min_args == 2 ? "" : "s");
    return EXIT_USAGE;
  }
  for (size_t o = 0; o < sizeof(owned) / sizeof(owned[0]); o++)
    for (size_t s = 0; s < N_IMAGES_SUBS; s++)
      if (images_subs[s].own == owned[o].opt && s != k && cli_flag(c, owned[o].opt)) {
        cli_usage_error("%s is only for images %s", owned[o].name, images_subs[s].name);
        return EXIT_USAGE;
      }
  update = images_subs[k].own == OPT_ALL;
  if (update ? (cli_flag(c, OPT_ALL) == (c->n_args == 2)) : cli_flag(c, OPT_ALL)) {
    cli_usage_error(update ? "images update takes an IMAGE or --all"
                           : "--all is only for images update");
    return EXIT_USAGE;
  }
  return EXIT_OK;
}

int
cmd_images(const CliCmd *c, sc_context *ctx)
{
  return images_subs[find_sub(c->args[0])].run(c, ctx);
}
