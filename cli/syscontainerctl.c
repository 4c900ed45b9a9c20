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
  const char *platform;
  int jobs;
  int force;
  const char *creds;
  const char *authfile;
  const char *registries_conf;
  const char *cert_dir;
  int tls_verify; /* -1 unset, 0 or 1 */
  int remote;
  int all;
  int now;
  int no_enable;
  int dry_run;
  const char *rebase;
  int controlled;
  unsigned settle_ms;
  const char *rootfs;
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
  "  pull SOURCE [--name NAME[:TAG]] [--platform OS/ARCH[/VARIANT]] [--jobs N]\n"
  "       [--creds USER[:PASSWORD]] [--authfile FILE] [--tls-verify=false]\n"
  "       [--registries-conf FILE] [--cert-dir DIR]\n"
  "                     import an image from a registry (REFERENCE, docker://REF),\n"
  "                     oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE\n"
  "                     into the store; prints its name\n"
  "  images list        the images in the store\n"
  "  images inspect IMAGE\n"
  "                     labels, layers, config and template variables of an image\n"
  "  images tag IMAGE NAME[:TAG]\n"
  "  images delete [--force] IMAGE...\n"
  "  images prune       remove layers and objects no named image uses\n"
  "  images verify IMAGE\n"
  "                     re-check every layer of an image against its digests\n"
  "  images inspect --remote IMAGE\n"
  "                     inspect an image in its registry, without pulling it\n"
  "  images update IMAGE | --all\n"
  "                     pull the images whose registry digest changed\n"
  "  checkout IMAGE DIR check an image out into DIR (hardlinks into the store)\n"
  "  install IMAGE [--name N] [--set K=V]... [--now] [--no-enable] [--dry-run]\n"
  "          [--rootfs DIR]\n"
  "                     install a system container (pulling the image if needed)\n"
  "  update NAME [--rebase IMAGE] [--set K=V]... [--controlled [--settle SECONDS]]\n"
  "                     move a container to the image's current version (or IMAGE);\n"
  "                     --controlled: roll back if the restarted unit does not stay up\n"
  "  update --all       update every container (controlled)\n"
  "  rollback NAME      switch a container back to its previous deployment\n"
  "  inspect NAME       the container's info, config.json and state\n"
  "  start NAME, stop NAME\n"
  "                     start or stop its unit (on a running host)\n"
  "  run NAME [--] [CMD...]\n"
  "                     run CMD in the container: exec when it runs, else once\n"
  "                     (exits with CMD's status); without CMD, start it\n"
  "  run [--set K=V]... IMAGE [--] [CMD...]\n"
  "                     run an image once, without installing it\n"
  "  uninstall NAME...  remove containers (the images stay in the store)\n"
  "  list [--all]       the installed containers and their state (stopped ones\n"
  "                     only with --all)\n"
  "\n"
  "IMAGE is a name (busybox, quay.io/x/y:tag), an ID prefix, or the source it\n"
  "was pulled from.\n"
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
  case SC_EDIGEST:
    return "SC_EDIGEST";
  case SC_EBUSY:
    return "SC_EBUSY";
  case SC_EAUTH:
    return "SC_EAUTH";
  case SC_ENETWORK:
    return "SC_ENETWORK";
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

/* Checks that a verb got exactly @want arguments (@what names them in the
 * usage error) and makes the context it runs in. */
static int
begin_verb(Options *o, const char *verb, int want, const char *what, sc_context **out_ctx)
{
  if (o->n_args != want) {
    usage_error("%s takes %s (got %d argument%s)", verb, what, o->n_args,
                o->n_args == 1 ? "" : "s");
    return EXIT_USAGE;
  }
  return make_context(o, out_ctx);
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

/* The --set values of the command line. */
static int
make_values(const Options *o, sc_values **out, sc_error **errp)
{
  int r = sc_values_new(out, errp);

  for (int i = 0; i < o->n_sets && r == SC_OK; i++)
    r = sc_values_parse(*out, o->sets[i], errp);
  return r;
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
  if ((r = make_values(o, &values, &error)) != SC_OK)
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

  if ((rc = begin_verb(o, "lint", 1, "one image directory", &ctx)) != EXIT_OK)
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


/* "12.3 MB" */
static void
format_size(unsigned long long bytes, char *buf, size_t len)
{
  const char *units[] = {"B", "kB", "MB", "GB", "TB"};
  double v = (double)bytes;
  int u = 0;
  while (v >= 1000 && u < 4)
    v /= 1000, u++;
  if (u == 0)
    snprintf(buf, len, "%llu B", bytes);
  else
    snprintf(buf, len, "%.1f %s", v, units[u]);
}

static void
progress_bar(uint64_t done, uint64_t total, unsigned int layers_done,
             unsigned int layers_total, void *user_data)
{
  char a[32], b[32];
  int width = 30, filled = total ? (int)(width * (double)done / (double)total) : width;
  format_size(done, a, sizeof(a));
  format_size(total, b, sizeof(b));
  fprintf(stderr, "\r[%.*s%*s] %s / %s, layers %u/%u ", filled,
          "##############################", width - filled, "", a, b, layers_done, layers_total);
  if (layers_done == layers_total)
    fputc('\n', stderr);
  fflush(stderr);
}

static json_t *
parse_json(char *text)
{
  json_t *doc = json_loads(text, 0, NULL);
  sc_free(text);
  return doc;
}

/* The pull options of the command line (pull, images inspect --remote,
 * images update). */
static int
make_pull_opts(const Options *o, sc_pull_opts **out, sc_error **errp)
{
  sc_pull_opts *popts = NULL;
  sc_error *error = NULL;
  int r;

  if ((r = sc_pull_opts_new(&popts, &error)) != SC_OK ||
      (o->name && (r = sc_pull_opts_set_name(popts, o->name, &error)) != SC_OK) ||
      (o->platform && (r = sc_pull_opts_set_platform(popts, o->platform, &error)) != SC_OK) ||
      (o->jobs && (r = sc_pull_opts_set_jobs(popts, o->jobs, &error)) != SC_OK) ||
      (o->tls_verify == 0 && (r = sc_pull_opts_set_tls_verify(popts, 0, &error)) != SC_OK) ||
      (o->authfile && (r = sc_pull_opts_set_authfile(popts, o->authfile, &error)) != SC_OK) ||
      (o->registries_conf &&
       (r = sc_pull_opts_set_registries_conf(popts, o->registries_conf, &error)) != SC_OK) ||
      (o->cert_dir && (r = sc_pull_opts_set_cert_dir(popts, o->cert_dir, &error)) != SC_OK))
    goto fail;
  if (o->creds) {
    /* USER[:PASSWORD]; without a password, read it from the terminal */
    char *user = strdup(o->creds);
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


static int
cmd_pull(Options *o)
{
  sc_context *ctx = NULL;
  sc_pull_opts *popts = NULL;
  sc_error *error = NULL;
  char *json = NULL;
  int r, rc;

  if ((rc = begin_verb(o, "pull", 1, "one source", &ctx)) != EXIT_OK)
    return rc;
  if ((r = make_pull_opts(o, &popts, &error)) != SC_OK)
    goto fail;
  if (!o->json && isatty(STDOUT_FILENO))
    sc_context_set_progress_func(ctx, progress_bar, NULL);
  if ((r = sc_image_pull(ctx, o->args[0], popts, &json, &error)) != SC_OK)
    goto fail;
  if (o->json)
    printf("%s\n", json);
  else {
    json_t *doc = json_loads(json, 0, NULL);
    printf("%s\n", json_string_value(json_object_get(doc, "name")));
    json_decref(doc);
  }
  sc_free(json);
  rc = EXIT_OK;
  goto out;
fail:
  rc = report_error(o, r, error);
out:
  sc_pull_opts_free(popts);
  sc_context_free(ctx);
  return rc;
}

static int
images_list(Options *o, sc_context *ctx)
{
  sc_error *error = NULL;
  char *json = NULL;
  int r = sc_images_list_json(ctx, &json, &error);
  json_t *doc, *img;
  size_t i;

  if (r != SC_OK)
    return report_error(o, r, error);
  if (o->json) {
    printf("%s\n", json);
    sc_free(json);
    return EXIT_OK;
  }
  doc = parse_json(json);
  printf("%-40s %-12s %-12s %-20s %10s %s\n", "NAME", "TAG", "ID", "CREATED", "SIZE", "IN USE");
  json_array_foreach(json_object_get(doc, "images"), i, img)
  {
    char size[32];
    const char *created = json_string_value(json_object_get(img, "created"));
    format_size(json_integer_value(json_object_get(img, "size")), size, sizeof(size));
    printf("%-40s %-12s %-12.12s %-20.19s %10s %s\n",
           json_string_value(json_object_get(img, "name")),
           json_string_value(json_object_get(img, "tag")),
           json_string_value(json_object_get(img, "id")), created ? created : "-", size,
           json_is_true(json_object_get(img, "in_use")) ? "yes" : "no");
  }
  json_decref(doc);
  return EXIT_OK;
}

static int
images_verify(Options *o, sc_context *ctx)
{
  sc_error *error = NULL;
  char *json = NULL;
  int ok = 0;
  int r = sc_image_verify(ctx, o->args[1], &json, &ok, &error);
  json_t *doc, *l;
  size_t i;

  if (r != SC_OK)
    return report_error(o, r, error);
  if (o->json) {
    printf("%s\n", json);
    sc_free(json);
    return ok ? EXIT_OK : EXIT_FAILED;
  }
  doc = parse_json(json);
  json_array_foreach(json_object_get(doc, "layers"), i, l)
  {
    const char *problem = json_string_value(json_object_get(l, "problem"));
    printf("layer %s: %s\n", json_string_value(json_object_get(l, "digest")),
           problem ? problem : "ok");
  }
  if (!json_is_true(json_object_get(doc, "config_ok")))
    printf("config: missing from the store\n");
  printf("%s: %s\n", json_string_value(json_object_get(doc, "name")),
         ok ? "verified" : "DAMAGED");
  json_decref(doc);
  return ok ? EXIT_OK : EXIT_FAILED;
}

static int
print_update(const Options *o, const char *json)
{
  json_t *doc, *img;
  size_t i;
  int failed = 0;

  if (o->json) {
    printf("%s\n", json);
    doc = json_loads(json, 0, NULL);
  } else
    doc = json_loads(json, 0, NULL);
  json_array_foreach(json_object_get(doc, "images"), i, img)
  {
    const char *err = json_string_value(json_object_get(img, "error"));
    failed |= err != NULL;
    if (o->json)
      continue;
    if (err)
      printf("%s: %s\n", json_string_value(json_object_get(img, "name")), err);
    else if (json_is_true(json_object_get(img, "updated")))
      printf("%s: updated %.12s -> %.12s\n", json_string_value(json_object_get(img, "name")),
             json_string_value(json_object_get(img, "old_id")),
             json_string_value(json_object_get(img, "id")));
    else
      printf("%s: up to date\n", json_string_value(json_object_get(img, "name")));
  }
  json_decref(doc);
  return failed ? EXIT_FAILED : EXIT_OK;
}

static int
cmd_images(Options *o)
{
  sc_context *ctx = NULL;
  sc_error *error = NULL;
  char *json = NULL;
  const char *sub = o->n_args > 0 ? o->args[0] : NULL;
  int r = SC_OK, rc;
  struct {
    const char *name;
    int min_args, max_args;
  } subs[] = {{"list", 1, 1},   {"inspect", 2, 2}, {"tag", 3, 3},   {"delete", 2, 1000},
              {"prune", 1, 1},     {"verify", 2, 2},  {"update", 1, 2}};
  size_t k;

  for (k = 0; k < sizeof(subs) / sizeof(subs[0]); k++)
    if (sub && strcmp(sub, subs[k].name) == 0)
      break;
  if (k == sizeof(subs) / sizeof(subs[0])) {
    usage_error(sub ? "unknown images command '%s'" : "images needs a command (list, inspect, "
                                                      "tag, delete, prune, verify)%s",
                sub ? sub : "");
    return EXIT_USAGE;
  }
  if (o->n_args < subs[k].min_args || o->n_args > subs[k].max_args) {
    usage_error("images %s takes %d argument%s", sub, subs[k].min_args - 1,
                subs[k].min_args == 2 ? "" : "s");
    return EXIT_USAGE;
  }
  if (o->force && strcmp(sub, "delete") != 0) {
    usage_error("--force is only for images delete");
    return EXIT_USAGE;
  }
  if (o->remote && strcmp(sub, "inspect") != 0) {
    usage_error("--remote is only for images inspect");
    return EXIT_USAGE;
  }
  if (strcmp(sub, "update") == 0 ? (o->all == (o->n_args == 2)) : o->all) {
    usage_error(strcmp(sub, "update") == 0 ? "images update takes an IMAGE or --all"
                                           : "--all is only for images update");
    return EXIT_USAGE;
  }
  if ((rc = make_context(o, &ctx)) != EXIT_OK)
    return rc;
  if (strcmp(sub, "list") == 0)
    rc = images_list(o, ctx);
  else if (strcmp(sub, "verify") == 0)
    rc = images_verify(o, ctx);
  else if (strcmp(sub, "inspect") == 0 && o->remote) {
    sc_pull_opts *popts = NULL;
    if ((r = make_pull_opts(o, &popts, &error)) == SC_OK &&
        (r = sc_image_inspect_remote_json(ctx, o->args[1], popts, &json, &error)) == SC_OK)
      printf("%s\n", json);
    sc_pull_opts_free(popts);
  } else if (strcmp(sub, "inspect") == 0) {
    if ((r = sc_image_inspect_json(ctx, o->args[1], &json, &error)) == SC_OK)
      printf("%s\n", json);
  } else if (strcmp(sub, "update") == 0) {
    sc_pull_opts *popts = NULL;
    if ((r = make_pull_opts(o, &popts, &error)) == SC_OK &&
        (r = sc_images_update_json(ctx, o->all ? NULL : o->args[1], popts, &json, &error)) ==
            SC_OK)
      rc = print_update(o, json);
    sc_pull_opts_free(popts);
  } else if (strcmp(sub, "tag") == 0) {
    r = sc_image_tag(ctx, o->args[1], o->args[2], &error);
  } else if (strcmp(sub, "delete") == 0) {
    for (int i = 1; i < o->n_args && r == SC_OK; i++)
      r = sc_image_delete(ctx, o->args[i], o->force, &error);
  } else if (strcmp(sub, "prune") == 0) {
    if ((r = sc_images_prune(ctx, &json, &error)) == SC_OK) {
      if (o->json)
        printf("%s\n", json);
      else {
        json_t *doc = json_loads(json, 0, NULL);
        char freed[32];
        format_size(json_integer_value(json_object_get(doc, "bytes_freed")), freed,
                    sizeof(freed));
        printf("removed %lld unused layer or config commits and %lld objects, freed %s\n",
               json_integer_value(json_object_get(doc, "refs_removed")),
               json_integer_value(json_object_get(doc, "objects_removed")), freed);
        json_decref(doc);
      }
    }
  }
  if (r != SC_OK)
    rc = report_error(o, r, error);
  else if (o->json && (strcmp(sub, "tag") == 0 || strcmp(sub, "delete") == 0))
    printf("{\"schema\": 1, \"ok\": true}\n");
  sc_free(json);
  sc_context_free(ctx);
  return rc;
}

static int
cmd_install(Options *o)
{
  sc_context *ctx = NULL;
  sc_install_opts *iopts = NULL;
  sc_pull_opts *popts = NULL;
  sc_values *values = NULL;
  sc_error *error = NULL;
  char *json = NULL;
  const char *name = o->name;
  int r, rc;

  if ((rc = begin_verb(o, "install", 1, "one image", &ctx)) != EXIT_OK)
    return rc;
  o->name = NULL; /* the container's name, not the image's */
  r = make_pull_opts(o, &popts, &error);
  o->name = name;
  if (r != SC_OK || (r = sc_install_opts_new(&iopts, &error)) != SC_OK ||
      (r = make_values(o, &values, &error)) != SC_OK)
    goto out;
  if ((name && (r = sc_install_opts_set_name(iopts, name, &error)) != SC_OK) ||
      (r = sc_install_opts_set_values(iopts, values, &error)) != SC_OK ||
      (r = sc_install_opts_set_pull_opts(iopts, popts, &error)) != SC_OK ||
      (r = sc_install_opts_set_enable(iopts, !o->no_enable, &error)) != SC_OK ||
      (r = sc_install_opts_set_start(iopts, o->now, &error)) != SC_OK ||
      (r = sc_install_opts_set_dry_run(iopts, o->dry_run, &error)) != SC_OK ||
      (r = sc_install_opts_set_rootfs(iopts, o->rootfs, &error)) != SC_OK)
    goto out;
  if (!o->json && isatty(STDOUT_FILENO))
    sc_context_set_progress_func(ctx, progress_bar, NULL);
  r = sc_container_install(ctx, o->args[0], iopts, &json, &error);
out:
  if (r != SC_OK)
    rc = report_error(o, r, error);
  else if (o->json || !o->dry_run) {
    /* a run-once image ran: its exit status is the command's */
    json_t *doc = json_loads(json, 0, NULL);
    json_t *status = json_object_get(doc, "exit_status");
    if (o->json)
      printf("%s\n", json);
    else if (status == NULL)
      printf("%s\n", json_string_value(json_object_get(doc, "name")));
    rc = status ? (int)json_integer_value(status) : EXIT_OK;
    json_decref(doc);
  } else {
    json_t *doc = json_loads(json, 0, NULL), *a;
    json_t *files = json_object_get(doc, "files");
    size_t i;
    printf("# config.json\n%s", json_string_value(json_object_get(files, "config.json")));
    if (json_object_get(files, "unit"))
      printf("\n# unit\n%s", json_string_value(json_object_get(files, "unit")));
    if (json_object_get(files, "tmpfiles"))
      printf("\n# tmpfiles\n%s", json_string_value(json_object_get(files, "tmpfiles")));
    printf("\n# would:\n");
    json_array_foreach(json_object_get(doc, "actions"), i, a) printf("%s\n", json_string_value(a));
    json_decref(doc);
  }
  sc_free(json);
  sc_values_free(values);
  sc_install_opts_free(iopts);
  sc_pull_opts_free(popts);
  sc_context_free(ctx);
  return rc;
}

static int
cmd_uninstall(Options *o)
{
  sc_context *ctx = NULL;
  sc_error *error = NULL;
  char *json = NULL;
  int r = SC_OK, rc;

  if (o->n_args < 1) {
    usage_error("uninstall takes one or more container names");
    return EXIT_USAGE;
  }
  if ((rc = make_context(o, &ctx)) != EXIT_OK)
    return rc;
  for (int i = 0; i < o->n_args && r == SC_OK; i++) {
    r = sc_container_uninstall(ctx, o->args[i], &json, &error);
    if (r == SC_OK && o->json)
      printf("%s\n", json);
    sc_free(json);
    json = NULL;
  }
  sc_context_free(ctx);
  return r == SC_OK ? EXIT_OK : report_error(o, r, error);
}

static int
print_containers_update(const Options *o, const char *json)
{
  json_t *doc = json_loads(json, 0, NULL), *c;
  size_t i;
  int failed = 0;

  if (o->json)
    printf("%s\n", json);
  json_array_foreach(json_object_get(doc, "containers"), i, c)
  {
    const char *name = json_string_value(json_object_get(c, "name"));
    const char *err = json_string_value(json_object_get(c, "error"));
    failed |= err != NULL;
    if (o->json)
      continue;
    if (err)
      printf("%s: %s\n", name, err);
    else if (json_is_true(json_object_get(c, "updated")))
      printf("%s: updated to %.12s (%s)\n", name, json_string_value(json_object_get(c, "id")),
             json_string_value(json_object_get(c, "deployment")));
    else
      printf("%s: latest version already installed\n", name);
  }
  json_decref(doc);
  return failed ? EXIT_FAILED : EXIT_OK;
}

static int
cmd_update(Options *o)
{
  sc_context *ctx = NULL;
  sc_pull_opts *popts = NULL;
  sc_update_opts *uopts = NULL;
  sc_values *values = NULL;
  sc_error *error = NULL;
  char *json = NULL;
  int r, rc;

  if (o->all && (o->n_args != 0 || o->rebase)) {
    usage_error("update --all takes no container name and no --rebase");
    return EXIT_USAGE;
  }
  if (o->settle_ms && !o->controlled && !o->all) {
    usage_error("--settle is for --controlled updates");
    return EXIT_USAGE;
  }
  if ((rc = o->all ? make_context(o, &ctx)
                   : begin_verb(o, "update", 1, "one container name or --all", &ctx)) != EXIT_OK)
    return rc;
  if ((r = make_pull_opts(o, &popts, &error)) == SC_OK &&
      (r = make_values(o, &values, &error)) == SC_OK &&
      (r = sc_update_opts_new(&uopts, &error)) == SC_OK &&
      (r = sc_update_opts_set_values(uopts, values, &error)) == SC_OK &&
      (r = sc_update_opts_set_rebase(uopts, o->rebase, &error)) == SC_OK &&
      (r = sc_update_opts_set_pull_opts(uopts, popts, &error)) == SC_OK)
    r = sc_update_opts_set_controlled(uopts, o->controlled, o->settle_ms, &error);
  if (r == SC_OK)
    r = o->all ? sc_containers_update_all_json(ctx, uopts, &json, &error)
               : sc_container_update_with_opts(ctx, o->args[0], uopts, &json, &error);
  if (r != SC_OK)
    rc = report_error(o, r, error);
  else if (o->all)
    rc = print_containers_update(o, json);
  else if (o->json)
    printf("%s\n", json);
  else {
    json_t *doc = json_loads(json, 0, NULL);
    if (json_is_true(json_object_get(doc, "updated")))
      printf("%s: updated to %.12s (%s)%s\n", o->args[0],
             json_string_value(json_object_get(doc, "id")),
             json_string_value(json_object_get(doc, "deployment")),
             json_is_true(json_object_get(doc, "restarted")) ? ", restarted" : "");
    else
      printf("%s: latest version already installed\n", o->args[0]);
    json_decref(doc);
  }
  sc_free(json);
  sc_update_opts_free(uopts);
  sc_values_free(values);
  sc_pull_opts_free(popts);
  sc_context_free(ctx);
  return rc;
}

static int
cmd_rollback(Options *o)
{
  sc_context *ctx = NULL;
  sc_error *error = NULL;
  char *json = NULL;
  int r, rc;

  if ((rc = begin_verb(o, "rollback", 1, "one container name", &ctx)) != EXIT_OK)
    return rc;
  r = sc_container_rollback(ctx, o->args[0], &json, &error);
  if (r != SC_OK)
    rc = report_error(o, r, error);
  else if (o->json)
    printf("%s\n", json);
  else {
    json_t *doc = json_loads(json, 0, NULL);
    printf("%s: rolled back to %s\n", o->args[0],
           json_string_value(json_object_get(doc, "deployment")));
    json_decref(doc);
  }
  sc_free(json);
  sc_context_free(ctx);
  return rc;
}

/* run IMAGE [CMD...]: the image once, not installed, with --set values. */
static int
run_image(const Options *o, sc_context *ctx, const char **args, int *status, sc_error **error)
{
  sc_pull_opts *popts = NULL;
  sc_values *values = NULL;
  int r;

  if ((r = make_pull_opts(o, &popts, error)) == SC_OK &&
      (r = make_values(o, &values, error)) == SC_OK)
    r = sc_image_run(ctx, o->args[0], values, popts, args, status, error);
  sc_values_free(values);
  sc_pull_opts_free(popts);
  return r;
}

static int
cmd_container_verb(Options *o, const char *verb)
{
  sc_context *ctx = NULL;
  sc_error *error = NULL;
  char *json = NULL;
  int r, rc, status = 0;

  if (strcmp(verb, "run") == 0 ? o->n_args < 1 : o->n_args != 1) {
    usage_error("%s takes one container name%s", verb,
                strcmp(verb, "run") == 0 ? " (or image) and an optional command" : "");
    return EXIT_USAGE;
  }
  if ((rc = make_context(o, &ctx)) != EXIT_OK)
    return rc;
  if (strcmp(verb, "inspect") == 0) {
    if ((r = sc_container_inspect_json(ctx, o->args[0], &json, &error)) == SC_OK)
      printf("%s\n", json);
  } else if (strcmp(verb, "start") == 0)
    r = sc_container_start(ctx, o->args[0], &error);
  else if (strcmp(verb, "stop") == 0)
    r = sc_container_stop(ctx, o->args[0], &error);
  else {
    const char **args = calloc(o->n_args, sizeof(char *));
    for (int i = 1; i < o->n_args; i++)
      args[i - 1] = o->args[i];
    if (sc_name_validate(o->args[0], NULL) == SC_OK &&
        sc_container_inspect_json(ctx, o->args[0], &json, NULL) == SC_OK) {
      if (o->n_sets > 0) {
        usage_error("--set is for running an image; %s is an installed container (update it "
                    "with --set)",
                    o->args[0]);
        r = SC_EINVAL;
        rc = EXIT_USAGE;
      } else
        r = sc_container_run(ctx, o->args[0], args, &status, &error);
    } else
      r = run_image(o, ctx, args, &status, &error); /* as atomic: run IMAGE [CMD] runs it once */
    free(args);
    if (rc == EXIT_USAGE) {
      sc_free(json);
      sc_context_free(ctx);
      return rc;
    }
  }
  sc_free(json);
  sc_context_free(ctx);
  if (r != SC_OK)
    return report_error(o, r, error);
  return strcmp(verb, "run") == 0 ? status : EXIT_OK;
}

static int
is_inactive(json_t *container)
{
  const char *state = json_string_value(json_object_get(container, "state"));
  return state != NULL && strcmp(state, "inactive") == 0;
}

static int
cmd_list(Options *o)
{
  sc_context *ctx = NULL;
  sc_error *error = NULL;
  char *json = NULL;
  json_t *doc, *c;
  size_t i;
  int r, rc;

  if ((rc = begin_verb(o, "list", 0, "no arguments", &ctx)) != EXIT_OK)
    return rc;
  r = sc_containers_list_json(ctx, &json, &error);
  sc_context_free(ctx);
  if (r != SC_OK)
    return report_error(o, r, error);
  doc = parse_json(json);
  if (!o->all) {
    /* as atomic: stopped containers only with --all */
    json_t *arr = json_object_get(doc, "containers");
    for (i = json_array_size(arr); i-- > 0;)
      if (is_inactive(json_array_get(arr, i)))
        json_array_remove(arr, i);
  }
  if (o->json) {
    char *text = json_dumps(doc, JSON_INDENT(2));
    printf("%s\n", text);
    free(text);
    json_decref(doc);
    return EXIT_OK;
  }
  printf("%-24s %-40s %-12s %-11s %s\n", "NAME", "IMAGE", "ID", "STATE", "RUNTIME");
  json_array_foreach(json_object_get(doc, "containers"), i, c)
  {
    const char *image = json_string_value(json_object_get(c, "image"));
    const char *id = json_string_value(json_object_get(c, "id"));
    const char *runtime = json_string_value(json_object_get(c, "runtime"));
    const char *op = json_string_value(json_object_get(c, "interrupted"));
    char state[64];
    snprintf(state, sizeof(state), op ? "%s (%s interrupted)" : "%s",
             json_string_value(json_object_get(c, "state")), op);
    printf("%-24s %-40s %-12.12s %-11s %s\n", json_string_value(json_object_get(c, "name")),
           image ? image : "-", id ? id : "-", state, runtime ? runtime : "-");
  }
  json_decref(doc);
  return EXIT_OK;
}

static int
cmd_checkout(Options *o)
{
  sc_context *ctx = NULL;
  sc_error *error = NULL;
  int r, rc;

  if ((rc = begin_verb(o, "checkout", 2, "an image and a directory", &ctx)) != EXIT_OK)
    return rc;
  r = sc_image_checkout(ctx, o->args[0], o->args[1], &error);
  sc_context_free(ctx);
  if (r != SC_OK)
    return report_error(o, r, error);
  if (o->json)
    printf("{\"schema\": 1, \"ok\": true}\n");
  return EXIT_OK;
}

typedef struct {
  const char *name;
  int takes_value;
  int global;
  const char *commands; /* where a command option applies, space-separated */
} OptSpec;

static const OptSpec opt_specs[] = {
  { "--sysroot", 1, 1, NULL },      { "--checkout-root", 1, 1, NULL },
  { "--repo", 1, 1, NULL },         { "--runtime", 1, 1, NULL },
  { "--json", 0, 1, NULL },         { "--verbose", 0, 1, NULL },
  { "--name", 1, 0, "render pull install" }, { "--set", 1, 0, "render install update run" },
  { "--output", 1, 0, "render" },   { "--image-name", 1, 0, "render" },
  { "--image-id", 1, 0, "render" },   { "--platform", 1, 0, "pull images install update run" },
  { "--jobs", 1, 0, "pull" },         { "--force", 0, 0, "images" },
  { "--creds", 1, 0, "pull images install update run" },        { "--tls-verify", 1, 0, "pull images install update run" },
  { "--authfile", 1, 0, "pull images install update run" },     { "--registries-conf", 1, 0, "pull images install update run" },
  { "--cert-dir", 1, 0, "pull images install update run" },
  { "--remote", 0, 0, "images" },     { "--all", 0, 0, "images update list" },
  { "--now", 0, 0, "install" },       { "--no-enable", 0, 0, "install" },
  { "--dry-run", 0, 0, "install" },   { "--rebase", 1, 0, "update" },
  { "--controlled", 0, 0, "update" }, { "--settle", 1, 0, "update" },
  { "--rootfs", 1, 0, "install" },
};

static int
command_has_option(const OptSpec *spec, const char *command)
{
  size_t len;
  const char *p;

  if (command == NULL)
    return 0;
  len = strlen(command);
  for (p = spec->commands; (p = strstr(p, command)) != NULL; p += len)
    if ((p == spec->commands || p[-1] == ' ') && (p[len] == '\0' || p[len] == ' '))
      return 1;
  return 0;
}

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
  else if (strcmp(opt, "--platform") == 0)
    o->platform = value;
  else if (strcmp(opt, "--force") == 0)
    o->force = 1;
  else if (strcmp(opt, "--creds") == 0)
    o->creds = value;
  else if (strcmp(opt, "--authfile") == 0)
    o->authfile = value;
  else if (strcmp(opt, "--registries-conf") == 0)
    o->registries_conf = value;
  else if (strcmp(opt, "--cert-dir") == 0)
    o->cert_dir = value;
  else if (strcmp(opt, "--remote") == 0)
    o->remote = 1;
  else if (strcmp(opt, "--all") == 0)
    o->all = 1;
  else if (strcmp(opt, "--now") == 0)
    o->now = 1;
  else if (strcmp(opt, "--no-enable") == 0)
    o->no_enable = 1;
  else if (strcmp(opt, "--dry-run") == 0)
    o->dry_run = 1;
  else if (strcmp(opt, "--rebase") == 0)
    o->rebase = value;
  else if (strcmp(opt, "--rootfs") == 0)
    o->rootfs = value;
  else if (strcmp(opt, "--controlled") == 0)
    o->controlled = 1;
  else if (strcmp(opt, "--settle") == 0) {
    char *end = NULL;
    double secs = strtod(value, &end);
    if (end == value || *end || !(secs > 0 && secs <= 3600)) {
      usage_error("--settle '%s': expected seconds, more than 0 and at most 3600", value);
      return -1;
    }
    o->settle_ms = (unsigned)(secs * 1000);
  }
  else if (strcmp(opt, "--tls-verify") == 0) {
    if (strcmp(value, "true") == 0)
      o->tls_verify = 1;
    else if (strcmp(value, "false") == 0)
      o->tls_verify = 0;
    else {
      usage_error("--tls-verify '%s': expected true or false", value);
      return -1;
    }
  }
  else if (strcmp(opt, "--jobs") == 0) {
    char *end = NULL;
    long n = strtol(value, &end, 10);
    if (end == value || *end || n < 1 || n > 64) {
      usage_error("--jobs '%s': expected a number from 1 to 64", value);
      return -1;
    }
    o->jobs = (int)n;
  }
  return 0;
}

static int run_command(Options *o, const char *command);

int
main(int argc, char **argv)
{
  Options o;
  const char *command = NULL;
  int only_args = 0;
  int rc;

  memset(&o, 0, sizeof(o));
  o.tls_verify = -1;
  const char *sets[argc], *args[argc]; /* every argument at most once */
  o.sets = sets;
  o.args = args;

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
      if (spec == NULL || (!spec->global && !command_has_option(spec, command))) {
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
      if (apply_option(&o, spec->name, value) != 0)
        return EXIT_USAGE;
    }
  }

  rc = run_command(&o, command);
  return rc;
}

static int
run_command(Options *o, const char *command)
{
  if (command == NULL) {
    usage_error("no command given");
    return EXIT_USAGE;
  }
  if (strcmp(command, "render") == 0)
    return cmd_render(o);
  if (strcmp(command, "lint") == 0)
    return cmd_lint(o);
  if (strcmp(command, "pull") == 0)
    return cmd_pull(o);
  if (strcmp(command, "images") == 0)
    return cmd_images(o);
  if (strcmp(command, "checkout") == 0)
    return cmd_checkout(o);
  if (strcmp(command, "install") == 0)
    return cmd_install(o);
  if (strcmp(command, "uninstall") == 0)
    return cmd_uninstall(o);
  if (strcmp(command, "list") == 0)
    return cmd_list(o);
  if (strcmp(command, "update") == 0)
    return cmd_update(o);
  if (strcmp(command, "rollback") == 0)
    return cmd_rollback(o);
  if (strcmp(command, "inspect") == 0 || strcmp(command, "start") == 0 ||
      strcmp(command, "stop") == 0 || strcmp(command, "run") == 0)
    return cmd_container_verb(o, command);
  usage_error("unknown command '%s'", command);
  return EXIT_USAGE;
}
