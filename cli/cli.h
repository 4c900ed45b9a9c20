/*
 * syscontainerctl: what the verbs share. A verb is one row of the table in
 * main.c (name, handler, options, usage); its handler lives in a cmd-*.c file
 * and reaches the library through the public API only.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stdint.h>

#include <jansson.h>

#include <syscontainer/syscontainer.h>

/* Exit codes (docs/syscontainerctl.1.md). */
enum {
  EXIT_OK = 0,
  EXIT_FAILED = 1, /* the operation failed, or lint found errors */
  EXIT_USAGE = 2,  /* bad command line */
};

/* Every option, global ones first; the index into CliCmd.opt and the bit in
 * CliVerb.opts. */
typedef enum {
  OPT_SYSROOT,
  OPT_CHECKOUT_ROOT,
  OPT_REPO,
  OPT_RUNTIME,
  OPT_JSON,
  OPT_VERBOSE,
  OPT_NAME, /* the first verb option */
  OPT_SET,
  OPT_OUTPUT,
  OPT_IMAGE_NAME,
  OPT_IMAGE_ID,
  OPT_PLATFORM,
  OPT_JOBS,
  OPT_FORCE,
  OPT_CREDS,
  OPT_TLS_VERIFY,
  OPT_AUTHFILE,
  OPT_REGISTRIES_CONF,
  OPT_CERT_DIR,
  OPT_REMOTE,
  OPT_ALL,
  OPT_NOW,
  OPT_NO_ENABLE,
  OPT_DRY_RUN,
  OPT_REBASE,
  OPT_CONTROLLED,
  OPT_SETTLE,
  OPT_ROOTFS,
  OPT_COUNT
} CliOpt;

#define OPT(x) (1u << (x))
/* The options that reach a registry (make_pull_opts). */
#define OPTS_PULL                                                                                 \
  (OPT(OPT_PLATFORM) | OPT(OPT_CREDS) | OPT(OPT_TLS_VERIFY) | OPT(OPT_AUTHFILE) |                 \
   OPT(OPT_REGISTRIES_CONF) | OPT(OPT_CERT_DIR))

/* One parsed command line. */
typedef struct {
  const char *verb;
  const char *opt[OPT_COUNT]; /* the last value given; "" for a flag given */
  const char **sets;          /* every --set, in order */
  int n_sets;
  const char **args; /* the operands after the verb */
  int n_args;
} CliCmd;

typedef int (*CliHandler)(CliCmd *c);

/* One form of a verb in the usage text: its synopsis (continuation lines
 * indented relative to the verb) and what it does (NULL: the synopsis says
 * it). */
typedef struct {
  const char *usage;
  const char *summary;
} CliForm;

typedef struct {
  const char *name;
  CliHandler run;
  unsigned opts;         /* OPT() bits of the verb options it takes */
  const CliForm *forms;  /* ends with a NULL usage */
} CliVerb;

#define PROGNAME "syscontainerctl"

static inline const char *
cli_opt(const CliCmd *c, CliOpt o)
{
  return c->opt[o];
}

static inline int
cli_flag(const CliCmd *c, CliOpt o)
{
  return c->opt[o] != NULL;
}

/* output.c: errors, printing, the context and the shared option objects. */
void cli_usage_error(const char *format, ...) __attribute__((format(printf, 1, 2)));
int cli_report_message(const CliCmd *c, int code, const char *msg);
int cli_report_error(const CliCmd *c, int code, sc_error *error);
int cli_make_context(const CliCmd *c, sc_context **out_ctx);
int cli_begin(const CliCmd *c, int want, const char *what, sc_context **out_ctx);
int cli_make_values(const CliCmd *c, sc_values **out, sc_error **errp);
int cli_make_pull_opts(const CliCmd *c, const char *image_name, sc_pull_opts **out,
                       sc_error **errp);
void cli_show_progress(const CliCmd *c, sc_context *ctx);
int cli_print_ok(const CliCmd *c);
json_t *cli_parse_json(char *text);
const char *cli_jstr(json_t *obj, const char *key);
void cli_format_size(unsigned long long bytes, char *buf, size_t len);

/* The verbs. */
int cmd_render(CliCmd *c);
int cmd_lint(CliCmd *c);
int cmd_pull(CliCmd *c);
int cmd_images(CliCmd *c);
int cmd_checkout(CliCmd *c);
int cmd_install(CliCmd *c);
int cmd_update(CliCmd *c);
int cmd_rollback(CliCmd *c);
int cmd_uninstall(CliCmd *c);
int cmd_list(CliCmd *c);
int cmd_inspect(CliCmd *c);
int cmd_start(CliCmd *c);
int cmd_stop(CliCmd *c);
int cmd_run(CliCmd *c);
