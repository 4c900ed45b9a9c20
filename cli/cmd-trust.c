/*
 * syscontainerctl trust: the signature policy, as `podman image trust`
 * and `atomic trust` show and edit it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "cli.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* trust set's --type and its keys are fixed by the command line alone:
 * usage errors (exit 2), found before the scope is looked at */
static int
check_trust_set(const CliCmd *c)
{
  const char *type = cli_opt(c, OPT_TYPE) ? cli_opt(c, OPT_TYPE) : "signedBy";
  int keyed = strcmp(type, "signedBy") == 0 || strcmp(type, "sigstoreSigned") == 0;

  if (!keyed && strcmp(type, "accept") != 0 && strcmp(type, "reject") != 0)
    cli_usage_error("--type '%s': expected signedBy, sigstoreSigned, accept or reject", type);
  else if (!keyed && c->n_keys > 0)
    cli_usage_error("--type %s takes no --pubkeysfile (got %d)", type, c->n_keys);
  else if (keyed && c->n_keys == 0)
    cli_usage_error("--type %s needs a public key (--pubkeysfile FILE)", type);
  else if (strcmp(type, "sigstoreSigned") == 0 && c->n_keys > 1)
    cli_usage_error("--type sigstoreSigned takes one --pubkeysfile (got %d)", c->n_keys);
  else
    return EXIT_OK;
  return EXIT_USAGE;
}

int
check_trust(const CliCmd *c)
{
  const char *sub = c->n_args > 0 ? c->args[0] : NULL;
  int keyed = cli_opt(c, OPT_TYPE) || c->n_keys > 0 || cli_opt(c, OPT_LOOKASIDE);

  if (sub == NULL) {
    cli_usage_error("needs a command (show, set or default)");
    return EXIT_USAGE;
  }
  if (strcmp(sub, "show") == 0 && c->n_args == 1 && !keyed)
    return EXIT_OK;
  if (strcmp(sub, "set") == 0) {
    if (c->n_args != 2) {
      cli_usage_error("set takes one scope (got %d)", c->n_args - 1);
      return EXIT_USAGE;
    }
    return check_trust_set(c);
  }
  if (strcmp(sub, "default") == 0 && c->n_args == 2 && !keyed) {
    if (strcmp(c->args[1], "accept") == 0 || strcmp(c->args[1], "reject") == 0)
      return EXIT_OK;
    cli_usage_error("default '%s': expected accept or reject", c->args[1]);
    return EXIT_USAGE;
  }
  if (strcmp(sub, "show") == 0 && keyed)
    cli_usage_error("show takes no --type, --pubkeysfile or --lookaside");
  else if (strcmp(sub, "show") == 0)
    cli_usage_error("show takes no arguments (got %d)", c->n_args - 1);
  else if (strcmp(sub, "default") == 0 && keyed)
    cli_usage_error("default takes no --type, --pubkeysfile or --lookaside");
  else if (strcmp(sub, "default") == 0)
    cli_usage_error("default takes accept or reject (got %d arguments)", c->n_args - 1);
  else
    cli_usage_error("unknown command '%s' (expected show, set or default)", sub);
  return EXIT_USAGE;
}

uint64_t
trust_sub_opts(const char *sub)
{
  if (strcmp(sub, "set") == 0)
    return OPT(OPT_TYPE) | OPT(OPT_PUBKEYSFILE) | OPT(OPT_LOOKASIDE) | OPT_SUB_EXISTS;
  return strcmp(sub, "show") == 0 || strcmp(sub, "default") == 0 ? OPT_SUB_EXISTS : 0;
}

static void
print_line(json_t *e)
{
  json_t *keys = json_object_get(e, "keys"), *k;
  const char *transport = cli_jstr(e, "transport");
  const char *lookaside = cli_jstr(e, "lookaside");
  size_t i;

  printf(
    "%-10s %-40s %-15s", transport ? transport : "all", cli_jstr(e, "scope"), cli_jstr(e, "type"));
  json_array_foreach (keys, i, k)
    printf("%s%s", i ? "," : " ", json_string_value(k));
  if (lookaside)
    printf(" %s", lookaside);
  putchar('\n');
}

static void
print_trust(const CliCmd *c, json_t *doc, int ok)
{
  json_t *e;
  size_t i;

  (void)c;
  (void)ok;
  printf("%s\n", cli_jstr(doc, "file"));
  printf("%-10s %-40s %-15s %s\n", "TRANSPORT", "SCOPE", "TYPE", "KEYS, LOOKASIDE");
  print_line(json_object_get(doc, "default"));
  json_array_foreach (json_object_get(doc, "scopes"), i, e)
    print_line(e);
}

int
cmd_trust(const CliCmd *c, sc_context *ctx)
{
  sc_error *error = NULL;
  char *json = NULL;
  const char *sub = c->args[0];
  /* podman's default type */
  const char *type = cli_opt(c, OPT_TYPE) ? cli_opt(c, OPT_TYPE) : "signedBy";
  char *keys[c->n_keys + 1];
  int r;

  if (strcmp(sub, "show") == 0) {
    r = sc_trust_show_json(ctx, &json, &error);
    return cli_finish(c, r, error, json, print_trust, 1);
  }
  if (strcmp(sub, "default") == 0)
    r = sc_trust_default(ctx, c->args[1], &error);
  else {
    /* a relative key file is taken from here, as podman takes it */
    char cwd[PATH_MAX];
    for (int i = 0; i < c->n_keys; i++)
      if (c->keys[i][0] != '/' && getcwd(cwd, sizeof(cwd)) != NULL) {
        keys[i] = malloc(strlen(cwd) + strlen(c->keys[i]) + 2);
        if (keys[i] != NULL)
          sprintf(keys[i], "%s/%s", cwd, c->keys[i]);
      } else
        keys[i] = strdup(c->keys[i]);
    keys[c->n_keys] = NULL;
    r = sc_trust_set(
      ctx, c->args[1], type, (const char *const *)keys, cli_opt(c, OPT_LOOKASIDE), &error);
    for (int i = 0; i < c->n_keys; i++)
      free(keys[i]);
  }
  if (r != SC_OK)
    return cli_report_error(c, r, error);
  return cli_print_ok(c);
}
