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

/* images list -f: repo matches a part of the name, dangling whether the
 * image has no name left. */
static int
images_match(json_t *img, const char *key, const char *value)
{
  const char *name = cli_jstr(img, "name");

  if (strcmp(key, "dangling") == 0)
    return (strcmp(name, "<none>") == 0) == (strcmp(value, "true") == 0);
  return strstr(cli_jstr(img, "repository"), value) != NULL;
}

static const char *const images_filters[] = { "repo", "dangling", NULL };

static void
print_images(const CliCmd *c, json_t *doc, int ok)
{
  static const char *const heads[] = { "NAME", "TAG", "ID", "CREATED", "SIZE", "IN USE" };
  json_t *rows = json_array(), *img;
  size_t i;

  (void)ok;
  json_array_foreach (json_object_get(doc, "images"), i, img) {
    char size[32], created[64], id[13];
    snprintf(id, sizeof(id), "%s", cli_jstr(img, "id"));
    if (cli_flag(c, OPT_QUIET)) {
      printf("%s\n", cli_flag(c, OPT_NO_TRUNC) ? cli_jstr(img, "id") : id);
      continue;
    }
    cli_format_size(json_integer_value(json_object_get(img, "size")), size, sizeof(size));
    cli_format_time(cli_jstr(img, "created"), created, sizeof(created));
    json_array_append_new(rows,
                          json_pack("[s, s, s, s, s, s]",
                                    cli_jstr(img, "repository"),
                                    cli_jstr(img, "tag"),
                                    cli_flag(c, OPT_NO_TRUNC) ? cli_jstr(img, "id") : id,
                                    created,
                                    size,
                                    json_is_true(json_object_get(img, "in_use")) ? "yes" : "no"));
  }
  if (!cli_flag(c, OPT_QUIET))
    cli_print_table(heads, 6, rows, 1u << 4);
  json_decref(rows);
}

static int
images_list(const CliCmd *c, sc_context *ctx)
{
  sc_error *error = NULL;
  char *json = NULL;
  int r = sc_images_list_json(ctx, &json, &error);
  json_t *doc, *arr;

  if (r != SC_OK)
    return cli_report_error(c, r, error);
  doc = json_loads(json, 0, NULL);
  sc_free(json);
  arr = json_object_get(doc, "images");
  for (size_t i = json_array_size(arr); i-- > 0;)
    if (!cli_filters_match(c, json_array_get(arr, i), images_match))
      json_array_remove(arr, i);
  if (cli_flag(c, OPT_JSON))
    cli_print_json(doc);
  else
    print_images(c, doc, 1);
  json_decref(doc);
  return EXIT_OK;
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

/* Each image in turn, whatever the others did, as uninstall: with --json
 * one document, a result per image in the order given (a failed one: its
 * "error"); without, each failure on stderr. Exit 1 if any failed. A store
 * that cannot be opened or changed (SC_EIO, SC_EPERM) before anything was
 * deleted fails the whole command, as uninstall's broken atomic.conf does:
 * every target would say the same. */
static int
images_delete(const CliCmd *c, sc_context *ctx)
{
  json_t *doc = json_pack("{s:i, s:[]}", "schema", 1, "images");
  int failed = 0, deleted = 0;

  for (int i = 1; i < c->n_args; i++) {
    sc_error *error = NULL;
    int r = sc_image_delete(ctx, c->args[i], cli_flag(c, OPT_FORCE), &error);
    json_t *item;

    if (r != SC_OK && !deleted && !failed && (r == SC_EIO || r == SC_EPERM)) {
      json_decref(doc);
      return cli_report_error(c, r, error);
    }
    if (r == SC_OK) {
      item = json_pack("{s:s, s:b}", "name", c->args[i], "deleted", 1);
      deleted = 1;
    } else {
      const char *msg = error ? sc_error_message(error) : sc_strerror(r);
      item =
        json_pack("{s:s, s:s, s:s}", "name", c->args[i], "error", msg, "code", cli_code_name(r));
      if (!cli_flag(c, OPT_JSON))
        fprintf(stderr, "%s: error: %s\n", PROGNAME, msg);
      sc_error_free(error);
      failed = 1;
    }
    json_array_append_new(json_object_get(doc, "images"), item);
  }
  if (cli_flag(c, OPT_JSON))
    cli_print_json(doc);
  json_decref(doc);
  return failed ? EXIT_FAILED : EXIT_OK;
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
    printf("%s: skipped: %s\n",
           strcmp(cli_jstr(img, "name"), "<none>") == 0 ? cli_jstr(img, "id")
                                                        : cli_jstr(img, "name"),
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
 * and the images options it takes. */
#define IMAGES_OWNED                                                                               \
  (OPT(OPT_FORCE) | OPT(OPT_REMOTE) | OPT(OPT_ALL) | OPT(OPT_QUIET) | OPT(OPT_NO_TRUNC) |          \
   OPT(OPT_FILTER) | OPTS_PULL)
/* clang-format off */
static const struct {
  const char *name;
  int min_args, max_args;
  CliHandler run;
  uint64_t opts;
} images_subs[] = {
  { "list", 1, 1, images_list, OPT(OPT_QUIET) | OPT(OPT_NO_TRUNC) | OPT(OPT_FILTER) },
  { "inspect", 2, 2, images_inspect, OPT(OPT_REMOTE) | OPTS_PULL },
  { "tag", 3, 3, images_tag, 0 },
  { "delete", 2, 1000, images_delete, OPT(OPT_FORCE) },
  { "prune", 1, 1, images_prune, 0 },
  { "verify", 2, 2, images_verify, 0 },
  { "update", 1, 2, images_update, OPT(OPT_ALL) | OPTS_PULL },
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

uint64_t
images_sub_opts(const char *sub)
{
  size_t k = find_sub(sub);
  return k < N_IMAGES_SUBS ? images_subs[k].opts | OPT_SUB_EXISTS : 0;
}

/* The usage errors of images: the command, its arguments, then each option
 * that belongs to another one. */
int
check_images(const CliCmd *c)
{
  const char *sub = c->n_args > 0 ? c->args[0] : NULL;
  size_t k = find_sub(sub);
  int update;

  if (k == N_IMAGES_SUBS) {
    cli_usage_error(sub ? "unknown command '%s'"
                        : "needs a command (list, inspect, tag, delete, prune, verify, update)%s",
                    sub ? sub : "");
    return EXIT_USAGE;
  }
  if (c->n_args < images_subs[k].min_args || c->n_args > images_subs[k].max_args) {
    cli_usage_error("%s takes %s%d argument%s (got %d)",
                    sub,
                    images_subs[k].max_args > images_subs[k].min_args ? "at least " : "",
                    images_subs[k].min_args - 1,
                    images_subs[k].min_args == 2 ? "" : "s",
                    c->n_args - 1);
    return EXIT_USAGE;
  }
  /* an empty IMAGE names nothing (as an empty option value); tag's new
   * NAME is checked as a name, with the reason */
  for (int i = 1; i < c->n_args; i++)
    if (*c->args[i] == '\0' && !(i == 2 && strcmp(sub, "tag") == 0)) {
      cli_usage_error("%s: argument %d is empty", sub, i);
      return EXIT_USAGE;
    }
  for (int o = OPT_NAME; o < OPT_COUNT; o++) {
    if (!cli_flag(c, o) || !(IMAGES_OWNED & OPT(o)) || (images_subs[k].opts & OPT(o)))
      continue;
    for (size_t s = 0; s < N_IMAGES_SUBS; s++)
      if (images_subs[s].opts & OPT(o)) {
        cli_usage_error("option '%s' is only for images %s", cli_opt_name(o), images_subs[s].name);
        return EXIT_USAGE;
      }
  }
  if (cli_check_filters(c, images_filters, "repo or dangling") != EXIT_OK)
    return EXIT_USAGE;
  for (int i = 0; i < c->n_filters; i++)
    if (strncmp(c->filters[i], "dangling=", 9) == 0 && strcmp(c->filters[i] + 9, "true") != 0 &&
        strcmp(c->filters[i] + 9, "false") != 0) {
      cli_usage_error("filter '%s': expected dangling=true or dangling=false", c->filters[i]);
      return EXIT_USAGE;
    }
  /* the registry options act on the registry only: on the store's image
   * they would be ignored silently (--platform would show another one) */
  if (strcmp(images_subs[k].name, "inspect") == 0 && !cli_flag(c, OPT_REMOTE))
    for (int o = OPT_NAME; o < OPT_COUNT; o++)
      if ((OPTS_PULL & OPT(o)) && cli_flag(c, o)) {
        cli_usage_error("option '%s' is only for images inspect --remote", cli_opt_name(o));
        return EXIT_USAGE;
      }
  update = strcmp(images_subs[k].name, "update") == 0;
  if (update && cli_flag(c, OPT_ALL) == (c->n_args == 2)) {
    cli_usage_error("update takes an IMAGE or --all");
    return EXIT_USAGE;
  }
  return EXIT_OK;
}

int
cmd_images(const CliCmd *c, sc_context *ctx)
{
  return images_subs[find_sub(c->args[0])].run(c, ctx);
}
