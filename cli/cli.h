/*
 * syscontainerctl: what the verbs share. A verb is one row of the table in
 * main.c (name, handler, options, usage); its handler lives in a cmd-*.c file
 * and reaches the library through the public API only.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stddef.h>
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
  OPT_SIGNATURE_POLICY,
  OPT_REGISTRIES_D,
  OPT_FORMAT,
  OPT_LOG_LEVEL,
  OPT_USER,
  OPT_SYSTEM,
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
  OPT_SHARED,
  OPT_ACCEPT_PRIVILEGES,
  OPT_TYPE,
  OPT_PUBKEYSFILE,
  OPT_LOOKASIDE,
  OPT_QUIET,
  OPT_NO_TRUNC,
  OPT_FILTER,
  OPT_STRICT,
  OPT_AUTO_UPDATE,
  OPT_AUTO,
  OPT_COUNT
} CliOpt;

#define OPT(x) (UINT64_C(1) << (x))
/* In a sub_opts answer: the sub-command exists (whatever options it takes). */
#define OPT_SUB_EXISTS OPT(OPT_COUNT)
/* The options that reach a registry (make_pull_opts). */
#define OPTS_PULL                                                                                  \
  (OPT(OPT_PLATFORM) | OPT(OPT_CREDS) | OPT(OPT_TLS_VERIFY) | OPT(OPT_AUTHFILE) |                  \
   OPT(OPT_REGISTRIES_CONF) | OPT(OPT_CERT_DIR))

/* One parsed command line. */
typedef struct {
  const char *verb;
  const char *opt[OPT_COUNT]; /* the last value given; "" for a flag given */
  const char **sets;          /* every --set, in order */
  int n_sets;
  const char **keys; /* every --pubkeysfile, in order */
  int n_keys;
  const char **filters; /* every --filter KEY=VALUE, in order */
  int n_filters;
  const char **args; /* the operands after the verb */
  int n_args;
  int log_level; /* the most detailed SC_LOG_* level printed */
} CliCmd;

/* A verb runs in the context made from the global options; it returns the
 * exit code. */
typedef int (*CliHandler)(const CliCmd *c, sc_context *ctx);
/* A verb's own check of its operands and options (default: their number);
 * EXIT_OK or EXIT_USAGE after a usage error. */
typedef int (*CliCheck)(const CliCmd *c);

/* One form of a verb in the usage text: its synopsis (continuation lines
 * indented relative to the verb) and what it does (NULL: the synopsis says
 * it). */
typedef struct {
  const char *usage;
  const char *summary;
} CliForm;

enum {
  CLI_UNCOUNTED = 1 << 0,  /* the usage error does not count the operands */
  CLI_NO_CONTEXT = 1 << 1, /* runs without a library context (help) */
  /* what the verb writes, checked up front for a user who cannot */
  CLI_WRITES_STORE = 1 << 2,  /* the image store */
  CLI_WRITES_DEPLOY = 1 << 3, /* the checkout root (and the store) */
  CLI_WRITES_POLICY = 1 << 4, /* the signature policy */
};

typedef struct {
  const char *name;
  CliHandler run;
  CliCheck check;         /* NULL: min_args..max_args operands */
  int min_args, max_args; /* max_args -1: no limit */
  const char *takes;      /* the operands, for the usage error */
  unsigned flags;         /* CLI_* */
  uint64_t opts;          /* OPT() bits of the verb options it takes */
  const CliForm *forms;   /* ends with a NULL usage */
  /* A verb with sub-commands (images, trust): the options @sub takes, or
   * 0 when there is no such sub-command; NULL: none. */
  uint64_t (*sub_opts)(const char *sub);
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

/* main.c: a usage error, "syscontainerctl: VERB: REASON" and the verb's
 * usage lines on stderr. */
void cli_usage_error(const char *format, ...) __attribute__((format(printf, 1, 2)));
/* "--name" */
const char *cli_opt_name(int o);

/* output.c: errors, printing, the context and the shared option objects. */
int cli_check_args(const CliCmd *c, int min, int max, const char *takes, int counted);
int cli_report_message(const CliCmd *c, int code, const char *msg);
const char *cli_code_name(int code);
int cli_report_error(const CliCmd *c, int code, sc_error *error);
int cli_make_context(const CliCmd *c, sc_context **out_ctx);
void cli_print_warnings(const CliCmd *c, json_t *doc, const char *prefix);
/* "SC_EINVAL"... for an sc_error code, as the error documents name it. */
const char *cli_code_name(int code);
int cli_check_writable(const CliCmd *c, sc_context *ctx, const char *what, unsigned writes);
int cli_make_sources(const CliCmd *c,
                     const char *image_name,
                     sc_pull_opts **out_popts,
                     sc_values **out_values,
                     sc_error **errp);
void cli_show_progress(const CliCmd *c, sc_context *ctx);
int cli_print_ok(const CliCmd *c);
void cli_print_json(json_t *doc);
json_t *cli_result(const CliCmd *c, char *json);
/* The text form of a result document; @ok is whether it reports success. */
typedef void (*CliPrint)(const CliCmd *c, json_t *doc, int ok);
int cli_finish(const CliCmd *c, int r, sc_error *error, char *json, CliPrint print, int ok);
int cli_print_batch(const CliCmd *c, json_t *items, void (*print)(json_t *item));
const char *cli_jstr(json_t *obj, const char *key);
void cli_format_size(unsigned long long bytes, char *buf, size_t len);
void cli_format_time(const char *created, char *buf, size_t len);
void cli_print_table(const char *const *heads, int ncols, json_t *rows, unsigned right);
int cli_filters_match(const CliCmd *c,
                      json_t *item,
                      int (*match)(json_t *item, const char *key, const char *value));
int cli_check_filters(const CliCmd *c, const char *const *keys, const char *expected);

/* main.c: the tables, for complete.c. */
const char *cli_option_name(int o, const char **out_metavar);
/* Its one-letter form ('f' for -f), or 0. */
char cli_option_short(int o);
const CliVerb *cli_find_verb(const char *name);
const CliVerb *cli_verb_at(size_t i); /* NULL after the last */
/* complete.c: syscontainerctl __complete WORD... CURRENT */
int cli_complete(int n, char **words);

/* The verbs, by file. */
int cmd_render(const CliCmd *c, sc_context *ctx);
int cmd_lint(const CliCmd *c, sc_context *ctx);

int cmd_pull(const CliCmd *c, sc_context *ctx);
int check_images(const CliCmd *c);
uint64_t images_sub_opts(const char *sub);
int cmd_images(const CliCmd *c, sc_context *ctx);
int cmd_checkout(const CliCmd *c, sc_context *ctx);

int cmd_install(const CliCmd *c, sc_context *ctx);
int check_update(const CliCmd *c);
int cmd_update(const CliCmd *c, sc_context *ctx);
int cmd_rollback(const CliCmd *c, sc_context *ctx);
int cmd_uninstall(const CliCmd *c, sc_context *ctx);
int check_list(const CliCmd *c);
int cmd_list(const CliCmd *c, sc_context *ctx);
int cmd_inspect(const CliCmd *c, sc_context *ctx);
int cmd_start(const CliCmd *c, sc_context *ctx);
int cmd_stop(const CliCmd *c, sc_context *ctx);
int cmd_run(const CliCmd *c, sc_context *ctx);
int cmd_info(const CliCmd *c, sc_context *ctx);
int cmd_mount(const CliCmd *c, sc_context *ctx);
int cmd_umount(const CliCmd *c, sc_context *ctx);
int check_trust(const CliCmd *c);
uint64_t trust_sub_opts(const char *sub);
int cmd_trust(const CliCmd *c, sc_context *ctx);
