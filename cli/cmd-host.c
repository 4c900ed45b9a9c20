/*
 * syscontainerctl info: what this host (or --sysroot) is set up with; mount
 * and umount.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static void
print_info(const CliCmd *c, json_t *doc, int ok)
{
  json_t *conf = json_object_get(doc, "atomic_conf");
  json_t *store = json_object_get(doc, "store");
  json_t *rt = json_object_get(doc, "runtime");
  json_t *reg = json_object_get(doc, "registries_conf");
  json_t *se = json_object_get(doc, "selinux");
  const char *passed = json_string_value(json_object_get(store, "passed_over"));
  json_t *file;
  size_t i;

  (void)c;
  (void)ok;
  printf("mode:             %s\n", cli_jstr(doc, "mode") ? cli_jstr(doc, "mode") : "?");
  printf("sysroot:          %s\n", cli_jstr(doc, "sysroot"));
  if (json_is_string(json_object_get(conf, "error")))
    printf("atomic.conf:      unusable: %s\n", cli_jstr(conf, "error"));
  else
    printf("atomic.conf:      %s\n",
           json_is_string(json_object_get(conf, "file")) ? cli_jstr(conf, "file") : "none");
  printf("checkout root:    %s\n", cli_jstr(doc, "checkout_root"));
  printf("image store:      %s (%s)\n", cli_jstr(store, "path"), cli_jstr(store, "chosen"));
  if (passed)
    printf("                  not /ostree/repo: %s\n", passed);
  if (cli_jstr(doc, "unit_dir"))
    printf("unit directory:   %s\n", cli_jstr(doc, "unit_dir"));
  if (json_is_string(json_object_get(rt, "path")))
    printf("runtime:          %s\n", cli_jstr(rt, "path"));
  else
    printf("runtime:          none: %s\n", cli_jstr(rt, "error"));
  if (json_array_size(json_object_get(reg, "files")) == 0)
    printf("registries.conf:  none\n");
  json_array_foreach (json_object_get(reg, "files"), i, file)
    printf("%s%s\n", i == 0 ? "registries.conf:  " : "                  ", json_string_value(file));
  if (json_is_string(json_object_get(reg, "error")))
    printf("                  unusable: %s\n", cli_jstr(reg, "error"));
  if (json_is_string(json_object_get(se, "error")))
    printf("SELinux policy:   unusable: %s\n", cli_jstr(se, "error"));
  else
    printf("SELinux policy:   %s\n",
           json_is_string(json_object_get(se, "policy")) ? cli_jstr(se, "policy")
                                                         : "none (nothing is labelled)");
}

int
cmd_info(const CliCmd *c, sc_context *ctx)
{
  sc_error *error = NULL;
  char *json = NULL;
  int r = sc_context_info_json(ctx, &json, &error);

  return cli_finish(c, r, error, json, print_info, 1);
}

static void
print_mount(const CliCmd *c, json_t *doc, int ok)
{
  (void)ok;
  if (strcmp(c->verb, "mount") == 0)
    /* (as typed: an image's reference, a container's name) */
    printf("%s mounted on %s (%s)\n",
           cli_jstr(doc, "reference") ? cli_jstr(doc, "reference") : cli_jstr(doc, "name"),
           cli_jstr(doc, "dir"),
           cli_jstr(doc, "type"));
  else
    printf("%s unmounted (%s)\n", cli_jstr(doc, "dir"), cli_jstr(doc, "type"));
}

int
cmd_mount(const CliCmd *c, sc_context *ctx)
{
  sc_error *error = NULL;
  char *json = NULL;
  int r = sc_mount(ctx, c->args[0], c->args[1], &json, &error);

  return cli_finish(c, r, error, json, print_mount, 1);
}

int
cmd_umount(const CliCmd *c, sc_context *ctx)
{
  sc_error *error = NULL;
  char *json = NULL;
  int r = sc_umount(ctx, c->args[0], &json, &error);

  return cli_finish(c, r, error, json, print_mount, 1);
}
