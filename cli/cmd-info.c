/*
 * syscontainerctl info: what this host (or --sysroot) is set up with.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "cli.h"

#include <stdio.h>

static void
print_info(const CliCmd *c, json_t *doc, int ok)
{
  json_t *store = json_object_get(doc, "store");
  json_t *rt = json_object_get(doc, "runtime");
  const char *passed = json_string_value(json_object_get(store, "passed-over"));

  (void)c;
  (void)ok;
  printf("sysroot:        %s\n", cli_jstr(doc, "sysroot"));
  printf("checkout root:  %s\n", cli_jstr(doc, "checkout-root"));
  printf("image store:    %s (%s)\n", cli_jstr(store, "path"), cli_jstr(store, "chosen"));
  if (passed)
    printf("                not /ostree/repo: %s\n", passed);
  if (json_is_string(json_object_get(rt, "path")))
    printf("runtime:        %s\n", cli_jstr(rt, "path"));
  else
    printf("runtime:        none: %s\n", cli_jstr(rt, "error"));
}

int
cmd_info(const CliCmd *c, sc_context *ctx)
{
  sc_error *error = NULL;
  char *json = NULL;
  int r = sc_context_info_json(ctx, &json, &error);

  return cli_finish(c, r, error, json, print_info, 1);
}
