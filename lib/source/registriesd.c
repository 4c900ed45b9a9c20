/*
 * registries.d (containers-registries.d(5)): where the signatures of an
 * image in a registry are. Each *.yaml file of the directory may hold
 * `default-docker:` and `docker: {SCOPE: ...}` entries with `lookaside`
 * (its old name `sigstore`), `lookaside-staging`/`sigstore-staging`
 * (for writing: accepted and ignored) and `use-sigstore-attachments`.
 * Other keys are ignored, as containers/image's (non-strict) YAML reading
 * ignores them; a scope (or default-docker) defined in two files is an
 * error naming both, as there.
 *
 * Each file is bounded (SC_REGISTRIESD_MAX) and so is the number of files;
 * the document is walked at a fixed depth, so aliases cannot make it cost
 * more than the file.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>
#include <yaml.h>

typedef struct {
  char *file;          /* where it was defined */
  char *lookaside;     /* NULL: none */
  int use_attachments; /* -1: unset */
} Entry;

struct ScRegistriesD {
  Entry *default_docker;
  GHashTable *docker; /* scope -> Entry */
};

static void
entry_free(Entry *e)
{
  if (e == NULL)
    return;
  g_free(e->file);
  g_free(e->lookaside);
  g_free(e);
}

ScRegistriesD *
sc_registriesd_new(void)
{
  ScRegistriesD *r = g_new0(ScRegistriesD, 1);
  r->docker = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)entry_free);
  return r;
}

void
sc_registriesd_free(ScRegistriesD *r)
{
  if (r == NULL)
    return;
  entry_free(r->default_docker);
  g_hash_table_unref(r->docker);
  g_free(r);
}

typedef struct {
  yaml_document_t *doc;
  const char *file;
} Doc;

static gboolean G_GNUC_PRINTF(4, 5)
  fail(Doc *d, yaml_node_t *n, GError **error, const char *format, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start(ap, format);
  msg = g_strdup_vprintf(format, ap);
  va_end(ap);
  g_set_error(
    error, SC_ERROR, SC_EINVAL, "%s line %zu: %s", d->file, n ? n->start_mark.line + 1 : 1, msg);
  return FALSE;
}

static const char *
scalar(yaml_node_t *n)
{
  return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static gboolean
is_null(yaml_node_t *n)
{
  const char *v = scalar(n);
  return v && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
         (*v == '\0' || strcmp(v, "~") == 0 || g_ascii_strcasecmp(v, "null") == 0);
}

/* One entry's settings (a mapping, or null: nothing set). */
static gboolean
parse_entry(Doc *d, yaml_node_t *n, const char *what, Entry *e, GError **error)
{
  e->use_attachments = -1;
  if (is_null(n))
    return TRUE;
  if (n == NULL || n->type != YAML_MAPPING_NODE)
    return fail(d, n, error, "%s: must be a mapping", what);
  for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
    yaml_node_t *kn = yaml_document_get_node(d->doc, p->key);
    yaml_node_t *vn = yaml_document_get_node(d->doc, p->value);
    const char *k = scalar(kn), *v = scalar(vn);
    if (k == NULL)
      return fail(d, kn, error, "%s: keys must be strings", what);
    if (strcmp(k, "lookaside") == 0 || strcmp(k, "sigstore") == 0) {
      if (v == NULL || is_null(vn))
        return fail(d, vn, error, "%s: %s must be a URL", what, k);
      /* (both set: containers/image takes lookaside) */
      if (e->lookaside == NULL || strcmp(k, "lookaside") == 0) {
        g_free(e->lookaside);
        e->lookaside = g_strdup(v);
      }
    } else if (strcmp(k, "use-sigstore-attachments") == 0) {
      if (v == NULL || (strcmp(v, "true") != 0 && strcmp(v, "false") != 0))
        return fail(d, vn, error, "%s: use-sigstore-attachments must be true or false", what);
      e->use_attachments = strcmp(v, "true") == 0;
    }
    /* lookaside-staging, sigstore-staging (for writing), anything else:
     * ignored */
  }
  return TRUE;
}

static gboolean
add_entry(ScRegistriesD *r, Doc *d, yaml_node_t *n, const char *scope, GError **error)
{
  Entry *e = g_new0(Entry, 1);
  Entry *old = scope ? g_hash_table_lookup(r->docker, scope) : r->default_docker;
  g_autofree char *shown = scope ? sc_display(scope, 200) : g_strdup("default-docker");
  g_autofree char *what = scope ? g_strdup_printf("docker \"%s\"", shown) : g_strdup(shown);

  if (old != NULL) {
    entry_free(e);
    return fail(d, n, error, "%s is defined both in %s and %s", what, old->file, d->file);
  }
  e->file = g_strdup(d->file);
  if (!parse_entry(d, n, what, e, error)) {
    entry_free(e);
    return FALSE;
  }
  if (scope)
    g_hash_table_replace(r->docker, g_strdup(scope), e);
  else
    r->default_docker = e;
  return TRUE;
}

static gboolean
parse_doc(ScRegistriesD *r, Doc *d, GError **error)
{
  yaml_node_t *root = yaml_document_get_root_node(d->doc);

  if (root == NULL || is_null(root))
    return TRUE; /* an empty file */
  if (root->type != YAML_MAPPING_NODE)
    return fail(d, root, error, "must be a mapping (default-docker:, docker:)");
  for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
       p++) {
    yaml_node_t *kn = yaml_document_get_node(d->doc, p->key);
    yaml_node_t *vn = yaml_document_get_node(d->doc, p->value);
    const char *k = scalar(kn);
    if (k && strcmp(k, "default-docker") == 0) {
      if (!add_entry(r, d, vn, NULL, error))
        return FALSE;
    } else if (k && strcmp(k, "docker") == 0) {
      if (is_null(vn))
        continue;
      if (vn == NULL || vn->type != YAML_MAPPING_NODE)
        return fail(d, vn, error, "docker: must be a mapping of scopes");
      for (yaml_node_pair_t *q = vn->data.mapping.pairs.start; q < vn->data.mapping.pairs.top;
           q++) {
        yaml_node_t *sn = yaml_document_get_node(d->doc, q->key);
        const char *scope = scalar(sn);
        if (scope == NULL || *scope == '\0')
          return fail(d, sn, error, "docker: a scope must be a non-empty string");
        if (!add_entry(r, d, yaml_document_get_node(d->doc, q->value), scope, error))
          return FALSE;
      }
    }
  }
  return TRUE;
}

gboolean
sc_registriesd_parse(ScRegistriesD *r,
                     const char *file,
                     const char *text,
                     gsize len,
                     GError **error)
{
  yaml_parser_t parser;
  yaml_document_t doc;
  Doc d = { &doc, file };
  gboolean ok;

  if (len > SC_REGISTRIESD_MAX) {
    g_set_error(error, SC_ERROR, SC_EINVAL, "%s: more than %d bytes", file, SC_REGISTRIESD_MAX);
    return FALSE;
  }
  yaml_parser_initialize(&parser);
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  if (!yaml_parser_load(&parser, &doc)) {
    g_autofree char *problem = sc_display(parser.problem ? parser.problem : "invalid YAML", 200);
    g_set_error(
      error, SC_ERROR, SC_EINVAL, "%s line %zu: %s", file, parser.problem_mark.line + 1, problem);
    yaml_parser_delete(&parser);
    return FALSE;
  }
  ok = parse_doc(r, &d, error);
  yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  return ok;
}

/* The *.yaml files of @dirfd (a directory, opened confined or not) in
 * lexical order; @shown names the directory in messages. */
static gboolean
load_dir(ScRegistriesD *r, int dirfd, const char *shown, GError **error)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  int dup_fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
  DIR *dir = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
  struct dirent *de;

  if (dir == NULL) {
    if (dup_fd >= 0)
      close(dup_fd);
    g_set_error(error, SC_ERROR, SC_EIO, "%s: %s", shown, g_strerror(errno));
    return FALSE;
  }
  while ((de = readdir(dir)) != NULL)
    if (g_str_has_suffix(de->d_name, ".yaml") && names->len <= SC_REGISTRIESD_MAX_FILES)
      g_ptr_array_add(names, g_strdup(de->d_name));
  closedir(dir);
  if (names->len > SC_REGISTRIESD_MAX_FILES) {
    g_set_error(
      error, SC_ERROR, SC_EINVAL, "%s: more than %d *.yaml files", shown, SC_REGISTRIESD_MAX_FILES);
    return FALSE;
  }
  g_ptr_array_sort(names, sc_strcmp_indirect);
  for (guint i = 0; i < names->len; i++) {
    g_autofree char *path = g_build_filename(shown, names->pdata[i], NULL);
    g_autoptr(GError) local = NULL;
    g_autoptr(GBytes) text = NULL;
    /* a file in the directory, never a link out of it */
    int fd =
      sc_confined_open(dirfd, names->pdata[i], O_RDONLY | O_NOCTTY | O_NONBLOCK, 0, FALSE, &local);
    if (fd < 0) {
      struct stat st;
      if (fstatat(dirfd, names->pdata[i], &st, 0) == 0 && S_ISDIR(st.st_mode))
        continue;
      g_set_error(error, SC_ERROR, local->code, "%s: %s", path, local->message);
      return FALSE;
    }
    text = sc_read_fd_max(fd, path, SC_REGISTRIESD_MAX, SC_EINVAL, error);
    close(fd);
    if (text == NULL ||
        !sc_registriesd_parse(r, path, g_bytes_get_data(text, NULL), g_bytes_get_size(text), error))
      return FALSE;
  }
  return TRUE;
}

ScRegistriesD *
sc_registriesd_load(const char *explicit_dir, const char *sysroot, GError **error)
{
  g_autoptr(ScRegistriesD) r = sc_registriesd_new();
  g_autofree char *user =
    g_build_filename(g_get_home_dir(), ".config", "containers", "registries.d", NULL);
  g_autofree char *shown = NULL;
  g_autoptr(GError) local = NULL;
  int dirfd;

  const char *in_root = "etc/containers/registries.d";
  gboolean under = sysroot != NULL && strcmp(sysroot, "/") != 0;

  /* an explicit directory is a path of the system operated on: under a
   * sysroot, inside it (as --checkout-root); the home's is this machine's */
  if (explicit_dir != NULL && under) {
    in_root = explicit_dir + strspn(explicit_dir, "/");
    explicit_dir = NULL;
  } else if (explicit_dir == NULL && g_file_test(user, G_FILE_TEST_IS_DIR))
    explicit_dir = user;
  if (explicit_dir != NULL) {
    shown = g_strdup(explicit_dir);
    dirfd = open(explicit_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0 && errno == ENOENT)
      return g_steal_pointer(&r);
    if (dirfd < 0) {
      g_set_error(error, SC_ERROR, SC_EIO, "%s: %s", shown, g_strerror(errno));
      return NULL;
    }
  } else {
    int root = open(sysroot ? sysroot : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    shown = g_build_filename(sysroot ? sysroot : "/", in_root, NULL);
    if (root < 0) {
      g_set_error(
        error, SC_ERROR, SC_EIO, "sysroot %s: cannot open it: %s", sysroot, g_strerror(errno));
      return NULL;
    }
    dirfd = sc_confined_open(root, in_root, O_RDONLY | O_DIRECTORY, 0, TRUE, &local);
    close(root);
    if (dirfd < 0 && g_error_matches(local, SC_ERROR, SC_ENOTFOUND))
      return g_steal_pointer(&r);
    if (dirfd < 0) {
      g_set_error(error, SC_ERROR, local->code, "%s: %s", shown, local->message);
      return NULL;
    }
  }
  if (!load_dir(r, dirfd, shown, error)) {
    close(dirfd);
    return NULL;
  }
  close(dirfd);
  return g_steal_pointer(&r);
}

void
sc_registriesd_lookup(ScRegistriesD *r,
                      const char *reference,
                      const char **out_lookaside,
                      gboolean *out_use_sigstore_attachments)
{
  g_autoptr(GPtrArray) scopes = sc_policy_docker_scopes(reference);
  const char *lookaside = NULL;
  int attach = -1;

  for (guint i = 0; scopes && i < scopes->len; i++) {
    Entry *e = g_hash_table_lookup(r->docker, scopes->pdata[i]);
    if (e && lookaside == NULL)
      lookaside = e->lookaside;
    if (e && attach < 0)
      attach = e->use_attachments;
  }
  if (r->default_docker && lookaside == NULL)
    lookaside = r->default_docker->lookaside;
  if (r->default_docker && attach < 0)
    attach = r->default_docker->use_attachments;
  if (out_lookaside)
    *out_lookaside = lookaside;
  if (out_use_sigstore_attachments)
    *out_use_sigstore_attachments = attach > 0;
}

const char *
sc_registriesd_scope_file(ScRegistriesD *r, const char *scope)
{
  Entry *e = scope ? g_hash_table_lookup(r->docker, scope) : r->default_docker;
  return e ? e->file : NULL;
}

/* (where `skopeo copy --sign-by` writes signatures when no staging
 * directory is configured: read there as containers/image reads them) */
char *
sc_registriesd_builtin_lookaside(void)
{
  g_autofree char *dir =
    geteuid() == 0
      ? g_strdup("/var/lib/containers/sigstore")
      : g_build_filename(g_get_home_dir(), ".local", "share", "containers", "sigstore", NULL);

  return g_filename_to_uri(dir, NULL, NULL);
}
