/*
 * syscontainerctl: the command line over libsyscontainer's public API.
 * Here are the tables of options and verbs, from which the command line is
 * parsed and every usage text printed; the verbs are in cmd-*.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* A value an option cannot take is a usage error while parsing, before any
 * verb runs. */
typedef int (*CheckFn)(const char *value);

typedef struct {
  const char *name;
  char short_name;     /* 0: none */
  const char *metavar; /* NULL: a flag; with a flag's "=" form: a boolean */
  CheckFn check;
  const char *help;
} OptSpec;

/* A boolean (--tls-verify) is a flag that also takes "=true" or "=false":
 * never the next argument, as podman and skopeo read it. */
#define IS_BOOL(o) ((o)->metavar && (o)->metavar[0] == '=')
#define TAKES_VALUE(o) ((o)->metavar && !IS_BOOL(o))

static int
check_settle(const char *value)
{
  char *end = NULL;
  double secs = strtod(value, &end);
  if (end == value || *end || !(secs > 0 && secs <= 3600)) {
    cli_usage_error("--settle '%s': expected seconds, more than 0 and at most 3600", value);
    return -1;
  }
  return 0;
}

static int
check_tls_verify(const char *value)
{
  if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
    cli_usage_error("--tls-verify '%s': expected true or false", value);
    return -1;
  }
  return 0;
}

static int
check_set(const char *value)
{
  if (strchr(value, '=') == NULL || value[0] == '=') {
    cli_usage_error("--set '%s': expected KEY=VALUE", value);
    return -1;
  }
  return 0;
}

static int
check_filter(const char *value)
{
  if (strchr(value, '=') == NULL || value[0] == '=') {
    cli_usage_error("--filter '%s': expected KEY=VALUE", value);
    return -1;
  }
  /* an empty VALUE would match everything: empty as any option value */
  if (strchr(value, '=')[1] == '\0') {
    cli_usage_error("--filter '%s': the value is empty (expected KEY=VALUE)", value);
    return -1;
  }
  return 0;
}

static int
check_format(const char *value)
{
  if (strcmp(value, "json") != 0 && strcmp(value, "table") != 0) {
    cli_usage_error("--format '%s': expected json or table", value);
    return -1;
  }
  return 0;
}

static const char *const log_levels[] = { "error", "warning", "info", "debug" };
static const int log_level_values[] = { SC_LOG_ERROR, SC_LOG_WARNING, SC_LOG_INFO, SC_LOG_DEBUG };

static int
check_log_level(const char *value)
{
  for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
    if (strcmp(value, log_levels[i]) == 0)
      return 0;
  cli_usage_error("--log-level '%s': expected error, warning, info or debug", value);
  return -1;
}

static int
check_jobs(const char *value)
{
  char *end = NULL;
  long n = strtol(value, &end, 10);
  if (end == value || *end || n < 1 || n > 64) {
    cli_usage_error("--jobs '%s': expected a number from 1 to 64", value);
    return -1;
  }
  return 0;
}

static int
check_auto_update(const char *value)
{
  if (strcmp(value, "registry") != 0 && strcmp(value, "disabled") != 0) {
    cli_usage_error("--auto-update '%s': expected registry or disabled", value);
    return -1;
  }
  return 0;
}

/* Indexed by CliOpt; one row an option (clang-format would give each field a
 * line). */
/* clang-format off */
static const OptSpec options[OPT_COUNT] = {
  [OPT_SYSROOT] = {"--sysroot", 0, "DIR", NULL, "operate on an image root instead of /"},
  [OPT_CHECKOUT_ROOT] = {"--checkout-root", 0, "DIR", NULL,
                         "deployments directory (default /var/lib/containers/atomic;\n"
                         "a user's: ~/.local/share/containers/atomic)"},
  [OPT_REPO] = {"--repo", 0, "DIR", NULL, "the OSTree repository (default: as 'info' says;\n"
                "a user's: ~/.local/share/containers/atomic/repo)"},
  [OPT_RUNTIME] = {"--runtime", 0, "PATH", NULL, "the OCI runtime (default: runc on PATH)"},
  [OPT_JSON] = {"--json", 0, NULL, NULL, "machine-readable output on standard output"},
  [OPT_VERBOSE] = {"--verbose", 'v', NULL, NULL,
                   "the library's log lines on standard error (-vv: debug too)"},
  [OPT_SIGNATURE_POLICY] = {"--signature-policy", 0, "FILE", NULL,
                            "the signature policy (default: containers/image's)"},
  [OPT_REGISTRIES_D] = {"--registries-d", 0, "DIR", NULL,
                        "where signatures are (default: containers/image's)"},
  [OPT_FORMAT] = {"--format", 0, "json|table", check_format, "json: the same as --json"},
  [OPT_LOG_LEVEL] = {"--log-level", 0, "LEVEL", check_log_level,
                     "error, warning (default), info or debug"},
  [OPT_USER] = {"--user", 0, NULL, NULL,
                "the caller's own containers (the default when not root)"},
  [OPT_SYSTEM] = {"--system", 0, NULL, NULL, "the system's containers (root only)"},
  [OPT_NAME] = {"--name", 0, "NAME", NULL, "the name to give (install, render: the container's;\n"
                                 "pull: the image's, NAME[:TAG])"},
  [OPT_SET] = {"--set", 0, "K=V", check_set, "a template variable's value (repeatable)"},
  [OPT_OUTPUT] = {"--output", 0, "DIR", NULL, "write the files into DIR"},
  [OPT_IMAGE_NAME] = {"--image-name", 0, "NAME", NULL, "the image name to render with"},
  [OPT_IMAGE_ID] = {"--image-id", 0, "ID", NULL, "the image ID to render with"},
  [OPT_PLATFORM] = {"--platform", 0, "OS/ARCH[/VARIANT]", NULL,
                    "the platform to pull (default: the host's)"},
  [OPT_JOBS] = {"--jobs", 0, "N", check_jobs, "layers fetched at once (1 to 64)"},
  [OPT_FORCE] = {"--force", 0, NULL, NULL, "delete an image even if a container uses it"},
  [OPT_CREDS] = {"--creds", 0, "USER[:PASSWORD]", NULL,
                 "registry credentials (without a password: asked for)"},
  [OPT_TLS_VERIFY] = {"--tls-verify", 0, "=true|false", check_tls_verify,
                      "check the registry's certificate (default true)"},
  [OPT_AUTHFILE] = {"--authfile", 0, "FILE", NULL, "registry credentials file"},
  [OPT_REGISTRIES_CONF] = {"--registries-conf", 0, "FILE", NULL,
                           "registries.conf for short names and mirrors"},
  [OPT_CERT_DIR] = {"--cert-dir", 0, "DIR", NULL, "CA certificates and client keys"},
  [OPT_REMOTE] = {"--remote", 0, NULL, NULL, "inspect in the registry, without pulling"},
  [OPT_ALL] = {"--all", 'a', NULL, NULL, "update: every container; images update: every image;\n"
                             "list: stopped containers too"},
  [OPT_NOW] = {"--now", 0, NULL, NULL, "start the container after installing it"},
  [OPT_NO_ENABLE] = {"--no-enable", 0, NULL, NULL, "do not enable its unit"},
  [OPT_DRY_RUN] = {"--dry-run", 0, NULL, NULL, "print what would be written and done"},
  [OPT_REBASE] = {"--rebase", 0, "IMAGE", NULL, "move the container to IMAGE"},
  [OPT_CONTROLLED] = {"--controlled", 0, NULL, NULL,
                      "roll back if the restarted unit does not stay up"},
  [OPT_SETTLE] = {"--settle", 0, "SECONDS", check_settle,
                  "how long the unit must stay up (up to 3600)"},
  [OPT_ROOTFS] = {"--rootfs", 0, "DIR", NULL, "run from DIR instead of a checkout"},
  [OPT_SHARED] = {"--shared", 0, NULL, NULL,
                  "accepted as atomic took it (no effect on OSTree images and containers)"},
  [OPT_ACCEPT_PRIVILEGES] = {"--accept-privileges", 0, NULL, NULL,
                             "accept the privileges the new deployment adds"},
  [OPT_TYPE] = {"--type", 0, "TYPE", NULL, "signedBy (default), sigstoreSigned, accept or reject"},
  [OPT_PUBKEYSFILE] = {"--pubkeysfile", 'f', "FILE", NULL, "a public key file (repeatable)"},
  [OPT_LOOKASIDE] = {"--lookaside", 0, "URL", NULL,
                     "where the scope's signatures are (written to registries.d)"},
  [OPT_QUIET] = {"--quiet", 'q', NULL, NULL, "only the names (images: the IDs)"},
  [OPT_NO_TRUNC] = {"--no-trunc", 'n', NULL, NULL, "do not shorten IDs"},
  [OPT_FILTER] = {"--filter", 'f', "KEY=VALUE", check_filter,
                  "only those matching (repeatable; list: container, image, backend,\n"
                  "runtime; images list: repo, dangling)"},
  [OPT_STRICT] = {"--strict", 0, NULL, NULL, "a --set of a variable the image does not declare "
                  "is an error"},
  [OPT_AUTO_UPDATE] = {"--auto-update", 0, "registry|disabled", check_auto_update,
                       "whether the auto-update timer updates it"},
  [OPT_AUTO] = {"--auto", 0, NULL, NULL, "only the containers that opted in (the timer's run)"},
};
/* clang-format on */

static int cmd_help(const CliCmd *c, sc_context *ctx);

#define FORMS(...) ((const CliForm[]){ __VA_ARGS__, { NULL, NULL } })
#define COUNTED 0

/* The verbs, in the order of the usage text; verbs next to each other with
 * the same summary share one entry there ("start NAME, stop NAME").
 * name, handler, check, operands (min, max, what), flags, options, forms */
/* clang-format off */
static const CliVerb verbs[] = {
  {"render", cmd_render, NULL, 1, 1, "one image directory", COUNTED,
   OPT(OPT_NAME) | OPT(OPT_SET) | OPT(OPT_STRICT) | OPT(OPT_OUTPUT) | OPT(OPT_IMAGE_NAME) |
     OPT(OPT_IMAGE_ID),
   FORMS({"render DIR [--name N] [--set K=V]... [--strict] [--output OUT]\n"
          "        [--image-name NAME] [--image-id ID]",
          "render an image's exports as an install would\n"
          "(config.json, NAME.service, tmpfiles-NAME.conf)"})},
  {"lint", cmd_lint, NULL, 1, 1, "one image directory", COUNTED, 0,
   FORMS({"lint DIR", "check an image's exports against the image contract"})},
  {"pull", cmd_pull, NULL, 1, 1, "one source", CLI_WRITES_STORE,
   OPT(OPT_NAME) | OPT(OPT_JOBS) | OPTS_PULL,
   FORMS({"pull SOURCE [--name NAME[:TAG]] [--platform OS/ARCH[/VARIANT]] [--jobs N]\n"
          "     [--creds USER[:PASSWORD]] [--authfile FILE] [--tls-verify=false]\n"
          "     [--registries-conf FILE] [--cert-dir DIR]",
          "import an image from a registry (REFERENCE, docker://REF),\n"
          "oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE\n"
          "or docker:NAME[:TAG] (a Docker daemon, $DOCKER_HOST)\n"
          "into the store; prints its name"})},
  {"images", cmd_images, check_images, 0, 0, NULL, COUNTED,
   OPT(OPT_FORCE) | OPT(OPT_REMOTE) | OPT(OPT_ALL) | OPT(OPT_QUIET) | OPT(OPT_NO_TRUNC) |
     OPT(OPT_FILTER) | OPTS_PULL,
   FORMS({"images list [-q] [-n] [-f KEY=VALUE]...", "the images in the store"},
         {"images inspect IMAGE", "labels, layers, config and template variables of an image"},
         {"images tag IMAGE NAME[:TAG]", NULL},
         {"images delete [--force] IMAGE...", NULL},
         {"images prune", "remove layers and objects no named image uses"},
         {"images verify IMAGE", "re-check every layer of an image against its digests"},
         {"images inspect --remote IMAGE", "inspect an image in its registry, without pulling it"},
         {"images update IMAGE | --all", "pull the images whose registry digest changed"}),
   images_sub_opts},
  {"checkout", cmd_checkout, NULL, 2, 2, "an image and a directory", COUNTED, 0,
   FORMS({"checkout IMAGE DIR", "check an image out into DIR (hardlinks into the store)"})},
  {"install", cmd_install, NULL, 1, 1, "one image", CLI_WRITES_DEPLOY,
   OPT(OPT_NAME) | OPT(OPT_SET) | OPT(OPT_STRICT) | OPT(OPT_NOW) | OPT(OPT_NO_ENABLE) |
     OPT(OPT_DRY_RUN) | OPT(OPT_ROOTFS) | OPT(OPT_AUTO_UPDATE) | OPTS_PULL,
   FORMS({"install IMAGE [--name N] [--set K=V]... [--strict] [--now] [--no-enable]\n"
          "        [--dry-run] [--rootfs DIR] [--auto-update=registry|disabled]",
          "install a system container (pulling the image if needed)"})},
  {"update", cmd_update, check_update, 0, 0, NULL, CLI_WRITES_DEPLOY,
   OPT(OPT_SET) | OPT(OPT_STRICT) | OPT(OPT_ALL) | OPT(OPT_REBASE) | OPT(OPT_CONTROLLED) |
     OPT(OPT_SETTLE) | OPT(OPT_DRY_RUN) | OPT(OPT_ACCEPT_PRIVILEGES) | OPT(OPT_AUTO_UPDATE) |
     OPT(OPT_AUTO) | OPTS_PULL,
   FORMS({"update NAME [--rebase IMAGE] [--set K=V]... [--strict]\n"
          "        [--controlled [--settle SECONDS]] [--dry-run] [--accept-privileges]\n"
          "        [--auto-update=registry|disabled]",
          "move a container to the image's current version (or IMAGE);\n"
          "--controlled: roll back if the restarted unit does not stay up"},
         {"update --all [--auto] [--settle SECONDS] [--dry-run] [--accept-privileges]",
          "update every container (controlled); --auto: only those\n"
          "that opted in (syscontainer-auto-update.timer)"})},
  {"rollback", cmd_rollback, NULL, 1, 1, "one container name", CLI_WRITES_DEPLOY, 0,
   FORMS({"rollback NAME", "switch a container back to its previous deployment"})},
  {"inspect", cmd_inspect, NULL, 1, 1, "one container name", CLI_UNCOUNTED, 0,
   FORMS({"inspect NAME", "the container's info, config.json and state"})},
  {"start", cmd_start, NULL, 1, 1, "one container name", CLI_UNCOUNTED, 0,
   FORMS({"start NAME", "start or stop its unit (on a running host)"})},
  {"stop", cmd_stop, NULL, 1, 1, "one container name", CLI_UNCOUNTED, 0,
   FORMS({"stop NAME", "start or stop its unit (on a running host)"})},
  {"run", cmd_run, NULL, 1, -1, "one container name (or image) and an optional command",
   CLI_UNCOUNTED, OPT(OPT_SET) | OPT(OPT_STRICT) | OPTS_PULL,
   FORMS({"run NAME [--] [CMD...]",
          "run CMD in the container: exec when it runs, else once\n"
          "(exits with CMD's status); without CMD, start it"},
         {"run [--set K=V]... [--strict] IMAGE [--] [CMD...]",
          "run an image once, without installing it"})},
  {"uninstall", cmd_uninstall, NULL, 1, -1, "one or more container names",
   CLI_UNCOUNTED | CLI_WRITES_DEPLOY, 0,
   FORMS({"uninstall NAME...", "remove containers (the images stay in the store)"})},
  {"list", cmd_list, check_list, 0, 0, "no arguments", COUNTED,
   OPT(OPT_ALL) | OPT(OPT_QUIET) | OPT(OPT_NO_TRUNC) | OPT(OPT_FILTER),
   FORMS({"list [-a] [-q] [-n] [-f KEY=VALUE]...",
          "the installed containers and their state (stopped ones\n"
          "only with --all)"})},
  {"mount", cmd_mount, NULL, 2, 2, "an image or container and a directory", COUNTED,
   OPT(OPT_SHARED),
   FORMS({"mount [--shared] IMAGE|NAME DIR",
          "an image checked out into the empty DIR, or a container's\n"
          "rootfs bound on DIR; read-only"})},
  {"umount", cmd_umount, NULL, 1, 1, "one directory", COUNTED, 0,
   FORMS({"umount DIR", "undo mount (also atomic's): unmount, remove an image's files"})},
  {"info", cmd_info, NULL, 0, 0, "no arguments", COUNTED, 0,
   FORMS({"info", "the checkout root, where the image store is and why, the runtime"})},
  {"trust", cmd_trust, check_trust, 0, 0, NULL, COUNTED,
   OPT(OPT_TYPE) | OPT(OPT_PUBKEYSFILE) | OPT(OPT_LOOKASIDE),
   FORMS({"trust show", "the signature policy: default and scopes"},
         {"trust set [--type signedBy|sigstoreSigned|accept|reject]\n"
          "     [--pubkeysfile FILE]... [--lookaside URL] SCOPE",
          "set what a registry scope (host[:port][/path], or default)\n"
          "requires"},
         {"trust default accept|reject", "what images no scope names require"}),
   trust_sub_opts},
  {"help", cmd_help, NULL, 0, 2, "at most a command and its sub-command", CLI_NO_CONTEXT, 0,
   FORMS({"help [COMMAND [SUBCOMMAND]]", "this help, or COMMAND's usage and options"})},
};
/* clang-format on */
#define N_VERBS (sizeof(verbs) / sizeof(verbs[0]))

static const CliVerb *
find_verb(const char *name)
{
  for (size_t i = 0; name && i < N_VERBS; i++)
    if (strcmp(verbs[i].name, name) == 0)
      return &verbs[i];
  return NULL;
}

/* The tables as the completion (complete.c) reads them. */
const char *
cli_option_name(int o, const char **out_metavar)
{
  if (out_metavar)
    *out_metavar = options[o].metavar;
  return options[o].name;
}

char
cli_option_short(int o)
{
  return options[o].short_name;
}

const CliVerb *
cli_find_verb(const char *name)
{
  return find_verb(name);
}

const CliVerb *
cli_verb_at(size_t i)
{
  return i < N_VERBS ? &verbs[i] : NULL;
}

/* The verb of the command line and its sub-command (images list), for the
 * usage errors and the help. */
static const CliVerb *usage_verb;
static const char *usage_sub;

/* Prints @text to @f, its first line after @first, the others after @indent
 * spaces; no newline at the end. */
static void
print_text(FILE *f, const char *first, int indent, const char *text)
{
  const char *nl;

  fputs(first, f);
  while ((nl = strchr(text, '\n')) != NULL) {
    fprintf(f, "%.*s\n%*s", (int)(nl - text), text, indent, "");
    text = nl + 1;
  }
  fputs(text, f);
}

/* "  USAGE  SUMMARY", the summary from column 21 (below the usage when that
 * is wider). */
static void
print_form(const char *usage, const char *summary)
{
  const char *last = strrchr(usage, '\n');
  int width = (int)strlen(last ? last + 1 : usage);

  print_text(stdout, "  ", 2, usage);
  if (summary && width <= 18)
    printf("%*s", 19 - width, "");
  else if (summary)
    printf("\n%21s", "");
  if (summary)
    print_text(stdout, "", 21, summary);
  putchar('\n');
}

static void
print_option(const OptSpec *o)
{
  char left[64];
  const char *value = TAKES_VALUE(o) ? o->metavar : IS_BOOL(o) ? "[=true|false]" : "";
  const char *sep = TAKES_VALUE(o) ? " " : "";

  if (o->short_name)
    snprintf(left, sizeof(left), "-%c, %s%s%s", o->short_name, o->name, sep, value);
  else
    snprintf(left, sizeof(left), "%s%s%s", o->name, sep, value);
  if (strlen(left) <= 19)
    printf("  %-19s  ", left);
  else
    printf("  %s\n%23s", left, "");
  print_text(stdout, "", 23, o->help);
  putchar('\n');
}

static void
print_usage(void)
{
  fputs("Usage: syscontainerctl [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS]\n"
        "\n"
        "Install and run system containers: OCI images kept in OSTree, run by an OCI\n"
        "runtime under systemd, with units rendered from the image's /exports.\n"
        "\n"
        "Commands:\n",
        stdout);
  for (size_t v = 0; v < N_VERBS; v++) {
    const CliForm *f = verbs[v].forms;
    /* neighbours with one summary share the entry */
    if (v + 1 < N_VERBS && f[1].usage == NULL && verbs[v + 1].forms[1].usage == NULL &&
        strcmp(f->summary, verbs[v + 1].forms->summary) == 0) {
      char both[128];
      snprintf(both, sizeof(both), "%s, %s", f->usage, verbs[v + 1].forms->usage);
      print_form(both, f->summary);
      v++;
      continue;
    }
    for (; f->usage; f++)
      print_form(f->usage, f->summary);
  }
  fputs("\n"
        "IMAGE is a name (busybox, quay.io/x/y:tag), an ID prefix, or the source it\n"
        "was pulled from.\n"
        "\n"
        "Global options:\n",
        stdout);
  for (int o = 0; o < OPT_NAME; o++)
    print_option(&options[o]);
  fputs("  -h, --help           this help ('COMMAND --help', 'help COMMAND': its own)\n"
        "  --version            print the version of the tool and of the library\n"
        "\n"
        "Exit status: 0 success; 1 the operation failed (or lint found errors);\n"
        "2 bad command line.\n",
        stdout);
}

/* Whether @f is a form of @sub (a sub-command of @verb; NULL: any). */
static int
form_of(const CliVerb *verb, const CliForm *f, const char *sub)
{
  size_t vlen = strlen(verb->name), slen = sub ? strlen(sub) : 0;

  return sub == NULL || (strncmp(f->usage + vlen + 1, sub, slen) == 0 &&
                         (f->usage[vlen + 1 + slen] == ' ' || f->usage[vlen + 1 + slen] == '\0'));
}

/* The usage lines of @verb (of its sub-command @sub: NULL for all). */
static void
print_synopsis(FILE *out, const CliVerb *verb, const char *sub)
{
  int first = 1;

  for (const CliForm *f = verb->forms; f->usage; f++) {
    if (!form_of(verb, f, sub))
      continue;
    print_text(out, first ? "Usage: syscontainerctl " : "   or: syscontainerctl ", 23, f->usage);
    fputc('\n', out);
    first = 0;
  }
}

/* The options of @verb's sub-command @sub (NULL: of the verb). */
static uint64_t
verb_opts(const CliVerb *verb, const char *sub)
{
  return (sub && verb->sub_opts ? verb->sub_opts(sub) : verb->opts) & ~OPT_SUB_EXISTS;
}

/* VERB --help, help VERB, VERB SUB --help */
static void
print_verb_usage(const CliVerb *verb, const char *sub)
{
  const CliForm *f;
  uint64_t opts = verb_opts(verb, sub);
  int n = 0;

  print_synopsis(stdout, verb, sub);
  for (f = verb->forms; f->usage; f++)
    n += form_of(verb, f, sub);
  for (f = verb->forms; f->usage; f++) {
    if (!form_of(verb, f, sub) || (n == 1 && f->summary == NULL))
      continue;
    if (n == 1 || f == verb->forms)
      putchar('\n');
    if (n == 1)
      print_text(stdout, "", 0, f->summary);
    else
      print_form(f->usage, f->summary);
    if (n == 1)
      putchar('\n');
  }
  if (opts)
    fputs("\nOptions:\n", stdout);
  for (int o = OPT_NAME; o < OPT_COUNT; o++)
    if (opts & OPT(o))
      print_option(&options[o]);
  fputs("\nGlobal options: see 'syscontainerctl --help'.\n", stdout);
}

void
cli_usage_error(const char *format, ...)
{
  va_list ap;

  fprintf(stderr, "%s: ", PROGNAME);
  if (usage_verb)
    fprintf(stderr, "%s: ", usage_verb->name);
  va_start(ap, format);
  vfprintf(stderr, format, ap);
  va_end(ap);
  fputc('\n', stderr);
  if (usage_verb) {
    print_synopsis(stderr, usage_verb, usage_sub);
    fprintf(stderr,
            "Try '%s help %s%s%s'.\n",
            PROGNAME,
            usage_verb->name,
            usage_sub ? " " : "",
            usage_sub ? usage_sub : "");
  } else
    fprintf(stderr, "Try '%s --help'.\n", PROGNAME);
}

const char *
cli_opt_name(int o)
{
  return options[o].name;
}

static int
cmd_help(const CliCmd *c, sc_context *ctx)
{
  const CliVerb *verb = c->n_args >= 1 ? find_verb(c->args[0]) : NULL;
  const char *sub = c->n_args == 2 ? c->args[1] : NULL;

  (void)ctx;
  if (c->n_args >= 1 && verb == NULL) {
    cli_usage_error("unknown command '%s'", c->args[0]);
    return EXIT_USAGE;
  }
  if (c->n_args == 2 && !(verb->sub_opts && verb->sub_opts(sub))) {
    cli_usage_error("%s has no command '%s'", verb->name, sub);
    return EXIT_USAGE;
  }
  if (verb)
    print_verb_usage(verb, sub);
  else
    print_usage();
  return EXIT_OK;
}

/* The option @a names (up to a '='), or NULL. */
static const OptSpec *
find_option(const char *a, size_t len)
{
  for (int o = 0; o < OPT_COUNT; o++)
    if (strlen(options[o].name) == len && strncmp(a, options[o].name, len) == 0)
      return &options[o];
  return NULL;
}

/* The short option @ch of @verb (NULL: of any verb), or NULL. */
static const OptSpec *
find_short(const CliVerb *verb, char ch)
{
  for (int o = 0; o < OPT_COUNT; o++)
    if (options[o].short_name == ch && (verb == NULL || o < OPT_NAME || (verb->opts & OPT(o))))
      return &options[o];
  return NULL;
}

/* Whether argv[i] is an option that takes the next argument as its value. */
static int
takes_next(const char *a)
{
  const char *eq = strchr(a, '=');
  const OptSpec *spec;

  if (a[1] != '-') {
    /* -qf VALUE; in -fVALUE the rest of the bundle is the value */
    for (const char *p = a + 1; *p; p++)
      if ((spec = find_short(NULL, *p)) != NULL && TAKES_VALUE(spec))
        return p[1] == '\0';
    return 0;
  }
  spec = find_option(a, eq ? (size_t)(eq - a) : strlen(a));
  return spec && TAKES_VALUE(spec) && !eq;
}

/* The @n-th operand (0: the command), found first so that the command's
 * options are known wherever they stand. */
static const char *
find_operand(int argc, char **argv, int n)
{
  int only_args = 0;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    /* after "--" every word is an operand, the command too (-- list) */
    if (!only_args && strcmp(a, "--") == 0) {
      only_args = 1;
      continue;
    }
    if (!only_args && a[0] == '-' && a[1]) {
      i += takes_next(a);
      continue;
    }
    if (n-- == 0)
      return a;
  }
  return NULL;
}

/* --json with --format table, or two different --format values: which
 * output is wanted is not known, so neither is guessed (podman lets the
 * last one win silently). 1 (said) or 0. */
static int
format_conflict(const CliCmd *c, int id, const char *value)
{
  const char *format = c->opt[OPT_FORMAT];

  if (id == OPT_FORMAT && format && strcmp(format, value) != 0) {
    cli_usage_error("--format %s conflicts with --format %s", value, format);
    return 1;
  }
  if (id == OPT_FORMAT && strcmp(value, "json") != 0 && c->opt[OPT_JSON]) {
    cli_usage_error("--format %s conflicts with --json", value);
    return 1;
  }
  if (id == OPT_JSON && format && strcmp(format, "json") != 0) {
    cli_usage_error("--json conflicts with --format %s", format);
    return 1;
  }
  return 0;
}

/* Whether option @id may be given several times with different values. */
static int
repeatable(int id)
{
  return id == OPT_SET || id == OPT_PUBKEYSFILE || id == OPT_FILTER || id == OPT_VERBOSE;
}

/* How many -v were given: -v is --log-level info, -vv debug. */
static int verbose_count;

/* -v with --log-level: the same level is fine, another a conflict (which
 * one is meant is not guessed). 0, or EXIT_USAGE (said). */
static int
verbosity(CliCmd *c)
{
  const char *implied = verbose_count >= 2 ? "debug" : "info";

  if (verbose_count == 0)
    return 0;
  if (c->opt[OPT_LOG_LEVEL] && strcmp(c->opt[OPT_LOG_LEVEL], implied) != 0) {
    cli_usage_error(
      "%s conflicts with --log-level %s", verbose_count >= 2 ? "-vv" : "-v", c->opt[OPT_LOG_LEVEL]);
    return EXIT_USAGE;
  }
  c->log_level = verbose_count >= 2 ? SC_LOG_DEBUG : SC_LOG_INFO;
  return 0;
}

/* Records the value of option @spec. Every option that takes a value is
 * checked here, whichever form gave it (--opt V, --opt=V, -oV, -o V): an
 * empty one is a usage error before any check of its own (the library
 * would take it for a bad argument), and so is a second, different value
 * of an option that holds one (which one is meant is not guessed). */
static int
set_option(CliCmd *c, const OptSpec *spec, const char *value)
{
  int id = (int)(spec - options);

  if (TAKES_VALUE(spec) && *value == '\0') {
    cli_usage_error("option '%s' has an empty value (expected %s)", spec->name, spec->metavar);
    return EXIT_USAGE;
  }
  if (spec->check && spec->check(value) != 0)
    return EXIT_USAGE;
  if (format_conflict(c, id, value))
    return EXIT_USAGE;
  if (!repeatable(id) && c->opt[id] && strcmp(c->opt[id], value) != 0) {
    cli_usage_error("%s %s conflicts with %s %s", spec->name, value, spec->name, c->opt[id]);
    return EXIT_USAGE;
  }
  if (id == OPT_SET)
    c->sets[c->n_sets++] = value;
  if (id == OPT_PUBKEYSFILE)
    c->keys[c->n_keys++] = value;
  if (id == OPT_FILTER)
    c->filters[c->n_filters++] = value;
  if (id == OPT_FORMAT && strcmp(value, "json") == 0)
    c->opt[OPT_JSON] = "";
  if (id == OPT_VERBOSE)
    verbose_count++;
  for (size_t l = 0; id == OPT_LOG_LEVEL && l < sizeof(log_levels) / sizeof(log_levels[0]); l++)
    if (strcmp(value, log_levels[l]) == 0)
      c->log_level = log_level_values[l];
  c->opt[id] = value;
  return 0;
}

/* Whether @verb takes option @id. */
static int
verb_takes(const CliVerb *verb, int id)
{
  return id < OPT_NAME || (verb && (verb->opts & OPT(id)));
}

/* Takes the option in argv[*i] (and its value); 0, or an exit code. */
static int
parse_option(CliCmd *c, const CliVerb *verb, int argc, char **argv, int *i)
{
  const char *a = argv[*i];
  const char *eq = strchr(a, '=');
  size_t len = eq ? (size_t)(eq - a) : strlen(a);
  const OptSpec *spec = find_option(a, len);
  const char *value = IS_BOOL(spec ? spec : &options[0]) ? "true" : "";

  if (spec == NULL || !verb_takes(verb, (int)(spec - options))) {
    cli_usage_error("unknown option '%.*s'", (int)len, a);
    return EXIT_USAGE;
  }
  if (TAKES_VALUE(spec)) {
    if (eq)
      value = eq + 1;
    else if (*i + 1 < argc)
      value = argv[++*i];
    else {
      cli_usage_error("option '%s' needs a value (%s)", spec->name, spec->metavar);
      return EXIT_USAGE;
    }
  } else if (eq && IS_BOOL(spec)) {
    value = eq + 1;
  } else if (eq) {
    cli_usage_error("option '%s' takes no value", spec->name);
    return EXIT_USAGE;
  }
  return set_option(c, spec, value);
}

/* Takes the short options in argv[*i] (-aq, -f VALUE, -fVALUE, -vv). */
static int
parse_short(CliCmd *c, const CliVerb *verb, int argc, char **argv, int *i)
{
  const char *a = argv[*i];
  int rc;

  for (const char *p = a + 1; *p; p++) {
    const OptSpec *spec = find_short(verb, *p);
    if (spec == NULL) {
      cli_usage_error("unknown option '-%c'", *p);
      return EXIT_USAGE;
    }
    if (!TAKES_VALUE(spec)) {
      if ((rc = set_option(c, spec, IS_BOOL(spec) ? "true" : "")) != 0)
        return rc;
      continue;
    }
    if (p[1])
      return set_option(c, spec, p + 1);
    if (*i + 1 >= argc) {
      cli_usage_error("option '-%c' needs a value (%s)", *p, spec->metavar);
      return EXIT_USAGE;
    }
    return set_option(c, spec, argv[++*i]);
  }
  return 0;
}

/* What @verb (its sub-command @sub) writes: CLI_WRITES_*. */
static unsigned
verb_writes(const CliVerb *verb, const char *sub)
{
  static const char *const writers[] = { "images tag",    "images delete", "images prune",
                                         "images update", "trust set",     "trust default" };
  char both[64];

  if (sub == NULL)
    return verb->flags & (CLI_WRITES_STORE | CLI_WRITES_DEPLOY | CLI_WRITES_POLICY);
  snprintf(both, sizeof(both), "%s %s", verb->name, sub);
  for (size_t i = 0; i < sizeof(writers) / sizeof(writers[0]); i++)
    if (strcmp(both, writers[i]) == 0)
      return strcmp(verb->name, "trust") == 0 ? CLI_WRITES_POLICY : CLI_WRITES_STORE;
  return 0;
}

/* Checks the operands, makes the context from the global options, checks
 * that the user can write what the verb writes, runs. */
static int
run_verb(const CliCmd *c, const CliVerb *verb)
{
  sc_context *ctx = NULL;
  char what[64];
  int rc;

  if (verb->check)
    rc = verb->check(c);
  else
    rc = cli_check_args(
      c, verb->min_args, verb->max_args, verb->takes, !(verb->flags & CLI_UNCOUNTED));
  if (rc != EXIT_OK ||
      (!(verb->flags & CLI_NO_CONTEXT) && (rc = cli_make_context(c, &ctx)) != EXIT_OK))
    return rc;
  snprintf(
    what, sizeof(what), "%s%s%s", verb->name, usage_sub ? " " : "", usage_sub ? usage_sub : "");
  /* a dry run writes nothing */
  if (!cli_flag(c, OPT_DRY_RUN) &&
      (rc = cli_check_writable(c, ctx, what, verb_writes(verb, usage_sub))) != EXIT_OK) {
    sc_context_free(ctx);
    return rc;
  }
  rc = verb->run(c, ctx);
  sc_context_free(ctx);
  return rc;
}

static int
has_help(int argc, char **argv)
{
  for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
      return 1;
  return 0;
}

/* --help anywhere: the verb's (or its sub-command's) usage, or the general
 * one; before any other check, so that a bad option still gets its help
 * after it is reported. Returns whether it printed. */
static int
want_help(int argc, char **argv, const CliVerb *verb, const char *sub)
{
  for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      if (verb)
        print_verb_usage(verb, sub);
      else
        print_usage();
      return 1;
    }
  for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
    if (strcmp(argv[i], "--version") == 0) {
      printf("syscontainerctl %s (libsyscontainer %s)\n", SC_CLI_VERSION, sc_version());
      return 1;
    }
  return 0;
}

/* --version prints the version and does nothing else: with a command or
 * an operand it is a usage error, as any extra operand is. */
static int
version_alone(int argc, char **argv, const char *command)
{
  for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
    if (strcmp(argv[i], "--version") == 0 && command != NULL) {
      cli_usage_error("--version takes no command or argument (got '%s')", command);
      return EXIT_USAGE;
    }
  return 0;
}

int
main(int argc, char **argv)
{
  /* every argument at most once */
  const char *sets[argc], *keys[argc], *args[argc], *filters[argc];
  CliCmd c = { .sets = sets, .keys = keys, .args = args, .filters = filters };
  const CliVerb *verb;
  int only_args = 0, rc;

  /* Before any GIO call: libsoup's proxy resolver makes GIO load the dconf
   * GSettings backend, which wants ~/.cache/dconf and prints a CRITICAL line
   * per try where that cannot be made (a user without a writable home).
   * The CLI reads no settings; a user's own choice is kept. */
  setenv("GSETTINGS_BACKEND", "memory", 0);
  setenv("GIO_USE_VFS", "local", 0);
  c.log_level = SC_LOG_WARNING;
  if (argc > 1 && strcmp(argv[1], "__complete") == 0) /* hidden: shell completion */
    return cli_complete(argc - 2, argv + 2);
  c.verb = find_operand(argc, argv, 0);
  verb = find_verb(c.verb);
  usage_verb = verb;
  /* a sub-command's help and usage: images list --help */
  usage_sub = find_operand(argc, argv, 1);
  if (!(verb && verb->sub_opts && usage_sub && verb->sub_opts(usage_sub)))
    usage_sub = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (only_args || a[0] != '-' || strcmp(a, "-") == 0) {
      if (a == c.verb)
        continue; /* (the word itself: it may follow "--") */
      c.args[c.n_args++] = a;
    } else if (strcmp(a, "--") == 0) {
      only_args = 1;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 || strcmp(a, "--version") == 0) {
      continue; /* want_help */
    } else if ((rc = (a[1] == '-' ? parse_option : parse_short)(&c, verb, argc, argv, &i)) != 0) {
      return rc;
    }
  }
  if ((rc = verbosity(&c)) != 0)
    return rc;
  /* (--help wins: "list --version --help" is list's help) */
  if (!has_help(argc, argv) && (rc = version_alone(argc, argv, c.verb)) != 0)
    return rc;
  if (want_help(argc, argv, verb, usage_sub))
    return EXIT_OK;
  if (c.verb == NULL) {
    cli_usage_error("no command given");
    return EXIT_USAGE;
  }
  if (verb == NULL) {
    cli_usage_error("unknown command '%s'", c.verb);
    return EXIT_USAGE;
  }
  return run_verb(&c, verb);
}
