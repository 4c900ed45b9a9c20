/*
 * syscontainerctl: the command line over libsyscontainer's public API.
 * Argument parsing and printing only; everything else is the library's.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include <syscontainer/syscontainer.h>

/* Exit codes (docs/syscontainerctl.1.md). */
enum {
  EXIT_OK = 0,
  EXIT_FAILED = 1, /* the operation failed, or lint found errors */
  EXIT_USAGE = 2,  /* bad command line */
};

typedef struct {
  const char *sysroot;
  const char *checkout_root;
  const char *repo;
  const char *runtime;
  int json;
  int verbose;
  /* command options */
  const char *name;
  const char *output;
  const char *image_name;
  const char *image_id;
  const char **sets;
  int n_sets;
  const char **args;
  int n_args;
} Options;

static const char *progname = "syscontainerctl";

static const char usage_text[] =
  "Usage: syscontainerctl [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS]\n"
  "\n"
  "Install and run system containers: OCI images kept in OSTree, run by an OCI\n"
  "runtime under systemd, with units rendered from the image's /exports.\n"
  "\n"
  "Commands:\n"
  "  render DIR [--name N] [--set K=V]... [--output OUT]\n"
  "                     render an image's exports as an install would\n"
  "                     (config.json, NAME.service, tmpfiles-NAME.conf)\n"
  "  lint DIR           check an image's exports against the image contract\n"
  "\n"
  "Global options:\n"
  "  --sysroot DIR        operate on an image root instead of /\n"
  "  --checkout-root DIR  deployments directory (default /var/lib/containers/atomic)\n"
  "  --repo DIR           the OSTree repository\n"
  "  --runtime PATH       the OCI runtime (default: runc on PATH)\n"
  "  --json               machine-readable output on standard output\n"
  "  -v, --verbose        print the library's log lines on standard error\n"
  "  -h, --help           this help\n"
  "  --version            print the version\n"
  "\n"
  "Exit status: 0 success; 1 the operation failed (or lint found errors);\n"
  "2 bad command line.\n";

static void
usage_error(const char *format, ...)
{
  va_list ap;
  fprintf(stderr, "%s: ", progname);
  va_start(ap, format);
  vfprintf(stderr, format, ap);
  va_end(ap);
  fprintf(stderr, "\nTry '%s --help'.\n", progname);
}

static const char *
code_name(int code)
{
  switch (code) {
  case SC_EINVAL:
    return "SC_EINVAL";
  case SC_ENOTFOUND:
    return "SC_ENOTFOUND";
  case SC_EEXISTS:
    return "SC_EEXISTS";
  case SC_EIO:
    return "SC_EIO";
  case SC_ETEMPLATE:
    return "SC_ETEMPLATE";
  case SC_ESPEC:
    return "SC_ESPEC";
  case SC_EMANIFEST:
    return "SC_EMANIFEST";
  case SC_ERUNTIME:
    return "SC_ERUNTIME";
  case SC_EUNSUPPORTED:
    return "SC_EUNSUPPORTED";
  default:
    return "SC_EUNKNOWN";
  }
}

static void
json_print_string(FILE *f, const char *s)
{
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c == '\n')
      fputs("\\n", f);
    else if (c == '\t')
      fputs("\\t", f);
    else if (c < 0x20)
      fprintf(f, "\\u%04x", c);
    else
      fputc(c, f);
  }
  fputc('"', f);
}

/* Reports a failure; with --json as an error document on stdout. */
static int
report_message(const Options *o, int code, const char *msg)
{
  if (o->json) {
    printf("{\"schema\": 1, \"error\": {\"code\": \"%s\", \"message\": ", code_name(code));
    json_print_string(stdout, msg);
    printf("}}\n");
  } else {
    fprintf(stderr, "%s: error: %s\n", progname, msg);
  }
  return EXIT_FAILED;
}

static int
report_error(const Options *o, int code, sc_error *error)
{
  int rc = report_message(o, code, error ? sc_error_message(error) : sc_strerror(code));
  sc_error_free(error);
  return rc;
}

static void
log_to_stderr(int level, const char *message, void *user_data)
{
  const Options *o = user_data;
  if (level <= SC_LOG_WARNING || o->verbose)
    fprintf(stderr,
            "%s: %s%s\n",
            progname,
            level <= SC_LOG_ERROR     ? "error: "
            : level == SC_LOG_WARNING ? "warning: "
                                      : "",
            message);
}

static int
make_context(Options *o, sc_context **out_ctx)
{
  sc_context *ctx = NULL;
  sc_error *error = NULL;
  int r;
  char self[PATH_MAX];
  ssize_t n;

  if ((r = sc_context_new(&ctx, &error)) != SC_OK ||
      (o->sysroot && (r = sc_context_set_sysroot(ctx, o->sysroot, &error)) != SC_OK) ||
      (o->checkout_root &&
       (r = sc_context_set_checkout_root(ctx, o->checkout_root, &error)) != SC_OK) ||
      (o->repo && (r = sc_context_set_repo(ctx, o->repo, &error)) != SC_OK) ||
      (o->runtime && (r = sc_context_set_runtime(ctx, o->runtime, &error)) != SC_OK)) {
    sc_context_free(ctx);
    return report_error(o, r, error);
  }
  /* $ATOMIC points at the tool that is actually running. */
  n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) {
    self[n] = '\0';
    sc_context_set_tool_path(ctx, self, NULL);
  }
  sc_context_set_log_func(ctx, log_to_stderr, o);
  *out_ctx = ctx;
  return EXIT_OK;
}

/* The default container name for DIR: its base name, or the parent's when
 * DIR is an exports directory. */
static char *
default_name(const char *dir)
{
  char *copy = strdup(dir);
  size_t len = strlen(copy);
  char *base;

  while (len > 1 && copy[len - 1] == '/')
    copy[--len] = '\0';
  base = strrchr(copy, '/');
  base = base ? base + 1 : copy;
  if (strcmp(base, "exports") == 0 && base > copy) {
    base[-1] = '\0';
    if (strcmp(copy, "") != 0) {
      char *b2 = strrchr(copy, '/');
      base = b2 ? b2 + 1 : copy;
    }
  }
  base = strdup(base);
  free(copy);
  return base;
}

static int
cmd_render(Options *o)
{
  sc_context *ctx = NULL;
  sc_exports *ex = NULL;
  sc_render_opts *ropts = NULL;
  sc_values *values = NULL;
  sc_rendering *rendering = NULL;
  sc_error *error = NULL;
  char *name = NULL;
  int r, rc = EXIT_OK;

  if (o->n_args != 1) {
    usage_error("render takes one image directory (got %d arguments)", o->n_args);
    return EXIT_USAGE;
  }
  name = o->name ? strdup(o->name) : default_name(o->args[0]);
  if ((rc = make_context(o, &ctx)) != EXIT_OK)
    goto out;
  if ((r = sc_values_new(&values, &error)) != SC_OK)
    goto fail;
  for (int i = 0; i < o->n_sets; i++)
    if ((r = sc_values_parse(values, o->sets[i], &error)) != SC_OK)
      goto fail;
  if ((r = sc_exports_open(o->args[0], &ex, &error)) != SC_OK ||
      (r = sc_render_opts_new(&ropts, &error)) != SC_OK)
    goto fail;
  if ((r = sc_render_opts_set_name(ropts, name, &error)) != SC_OK) {
    if (!o->name) {
      /* The name came from the directory: say how to give one. */
      const char *m = sc_error_message(error);
      char *msg = malloc(strlen(m) + 64);
      sprintf(msg, "%s (taken from the directory name; give one with --name)", m);
      rc = report_message(o, r, msg);
      free(msg);
      sc_error_free(error);
      goto out;
    }
    goto fail;
  }
  if ((r = sc_render_opts_set_values(ropts, values, &error)) != SC_OK ||
      (r = sc_render_opts_set_image(ropts, o->image_name, o->image_id, &error)) != SC_OK ||
      (r = sc_exports_render(ctx, ex, ropts, &rendering, &error)) != SC_OK)
    goto fail;

  if (o->output) {
    if ((r = sc_rendering_write(rendering, o->output, &error)) != SC_OK)
      goto fail;
  }
  if (o->json) {
    char *json = NULL;
    if ((r = sc_rendering_to_json(rendering, &json, &error)) != SC_OK)
      goto fail;
    printf("%s\n", json);
    sc_free(json);
  } else if (o->output) {
    printf("%s/config.json\n", o->output);
    if (sc_rendering_get_unit(rendering))
      printf("%s/%s.service\n", o->output, name);
    if (sc_rendering_get_tmpfiles(rendering))
      printf("%s/tmpfiles-%s.conf\n", o->output, name);
  } else {
    const char *unit = sc_rendering_get_unit(rendering);
    const char *tmpfiles = sc_rendering_get_tmpfiles(rendering);
    printf("# config.json\n%s", sc_rendering_get_config(rendering));
    if (unit)
      printf("\n# %s.service\n%s", name, unit);
    if (tmpfiles)
      printf("\n# tmpfiles-%s.conf\n%s", name, tmpfiles);
  }
  goto out;

fail:
  rc = report_error(o, r, error);
out:
  sc_rendering_free(rendering);
  sc_render_opts_free(ropts);
  sc_exports_free(ex);
  sc_values_free(values);
  sc_context_free(ctx);
  free(name);
  return rc;
}

static int
cmd_lint(Options *o)
{
  sc_context *ctx = NULL;
  sc_error *error = NULL;
  char *json = NULL;
  int errors = 0, warnings = 0;
  int r, rc;

  if (o->n_args != 1) {
    usage_error("lint takes one image directory (got %d arguments)", o->n_args);
    return EXIT_USAGE;
  }
  if ((rc = make_context(o, &ctx)) != EXIT_OK)
    return rc;
  r = sc_lint(ctx, o->args[0], &json, &errors, &warnings, &error);
  sc_context_free(ctx);
  if (r != SC_OK)
    return report_error(o, r, error);
  if (o->json) {
    printf("%s\n", json);
  } else {
    json_t *doc = json_loads(json, 0, NULL);
    size_t i;
    json_t *f;
    json_array_foreach (json_object_get(doc, "findings"), i, f) {
      printf("%s: %s: %s [%s]\n",
             json_string_value(json_object_get(f, "severity")),
             json_string_value(json_object_get(f, "file")),
             json_string_value(json_object_get(f, "message")),
             json_string_value(json_object_get(f, "check")));
    }
    printf("%s: %d error%s, %d warning%s\n",
           o->args[0],
           errors,
           errors == 1 ? "" : "s",
           warnings,
           warnings == 1 ? "" : "s");
    json_decref(doc);
  }
  sc_free(json);
  return errors > 0 ? EXIT_FAILED : EXIT_OK;
}

typedef struct {
  const char *name;
  int takes_value;
  int global;
  const char *command; /* NULL: any command */
} OptSpec;

static const OptSpec opt_specs[] = {
  { "--sysroot", 1, 1, NULL },      { "--checkout-root", 1, 1, NULL },
  { "--repo", 1, 1, NULL },         { "--runtime", 1, 1, NULL },
  { "--json", 0, 1, NULL },         { "--verbose", 0, 1, NULL },
  { "--name", 1, 0, "render" },     { "--set", 1, 0, "render" },
  { "--output", 1, 0, "render" },   { "--image-name", 1, 0, "render" },
  { "--image-id", 1, 0, "render" },
};

static int
apply_option(Options *o, const char *opt, const char *value)
{
  if (strcmp(opt, "--sysroot") == 0)
    o->sysroot = value;
  else if (strcmp(opt, "--checkout-root") == 0)
    o->checkout_root = value;
  else if (strcmp(opt, "--repo") == 0)
    o->repo = value;
  else if (strcmp(opt, "--runtime") == 0)
    o->runtime = value;
  else if (strcmp(opt, "--json") == 0)
    o->json = 1;
  else if (strcmp(opt, "--verbose") == 0)
    o->verbose = 1;
  else if (strcmp(opt, "--name") == 0)
    o->name = value;
  else if (strcmp(opt, "--output") == 0)
    o->output = value;
  else if (strcmp(opt, "--image-name") == 0)
    o->image_name = value;
  else if (strcmp(opt, "--image-id") == 0)
    o->image_id = value;
  else if (strcmp(opt, "--set") == 0)
    o->sets[o->n_sets++] = value;
  return 0;
}

int
main(int argc, char **argv)
{
  Options o;
  const char *command = NULL;
  int only_args = 0;

  memset(&o, 0, sizeof(o));
  o.sets = calloc(argc, sizeof(char *));
  o.args = calloc(argc, sizeof(char *));

  /* Find the command first, so that its options are known wherever they
   * stand. */
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0)
      break;
    if (a[0] == '-') {
      const char *eq = strchr(a, '=');
      size_t len = eq ? (size_t)(eq - a) : strlen(a);
      for (size_t s = 0; s < sizeof(opt_specs) / sizeof(opt_specs[0]); s++)
        if (strlen(opt_specs[s].name) == len && strncmp(a, opt_specs[s].name, len) == 0 &&
            opt_specs[s].takes_value && !eq)
          i++;
      continue;
    }
    command = a;
    break;
  }

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (only_args || a[0] != '-' || strcmp(a, "-") == 0) {
      if (command && a == command && !only_args) {
        command = a;
        continue;
      }
      o.args[o.n_args++] = a;
      continue;
    }
    if (strcmp(a, "--") == 0) {
      only_args = 1;
      continue;
    }
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      fputs(usage_text, stdout);
      return EXIT_OK;
    }
    if (strcmp(a, "--version") == 0) {
      printf("syscontainerctl %s (libsyscontainer %s)\n", sc_version(), sc_version());
      return EXIT_OK;
    }
    if (strcmp(a, "-v") == 0) {
      o.verbose = 1;
      continue;
    }
    {
      const char *eq = strchr(a, '=');
      size_t len = eq ? (size_t)(eq - a) : strlen(a);
      const OptSpec *spec = NULL;
      const char *value = NULL;
      for (size_t s = 0; s < sizeof(opt_specs) / sizeof(opt_specs[0]); s++)
        if (strlen(opt_specs[s].name) == len && strncmp(a, opt_specs[s].name, len) == 0)
          spec = &opt_specs[s];
      if (spec == NULL || (!spec->global && (!command || strcmp(command, spec->command) != 0))) {
        usage_error(
          "unknown option '%.*s'%s%s", (int)len, a, command ? " for " : "", command ? command : "");
        return EXIT_USAGE;
      }
      if (spec->takes_value) {
        if (eq)
          value = eq + 1;
        else if (i + 1 < argc)
          value = argv[++i];
        else {
          usage_error("option '%s' needs a value", spec->name);
          return EXIT_USAGE;
        }
      } else if (eq) {
        usage_error("option '%s' takes no value", spec->name);
        return EXIT_USAGE;
      }
      apply_option(&o, spec->name, value);
    }
  }

  if (command == NULL) {
    usage_error("no command given");
    return EXIT_USAGE;
  }
  if (strcmp(command, "render") == 0)
    return cmd_render(&o);
  if (strcmp(command, "lint") == 0)
    return cmd_lint(&o);
  usage_error("unknown command '%s'", command);
  return EXIT_USAGE;
}
