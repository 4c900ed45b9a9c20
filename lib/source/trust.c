/*
 * trust: the signature policy and registries.d, edited as `podman image
 * trust set` and `atomic trust` edit them: a scope's requirements are
 * replaced where the scope already is (any transport), else put under
 * transports.docker; "default" is the policy's default. The result is
 * read back as a pull reads it (strict parse, key files read) before it
 * replaces the file, atomically (temporary file + rename); under a
 * sysroot, through the confined access.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* The policy file's directory (made when missing), opened; *@out_base its
 * name there, *@out_root the sysroot's fd to read keys in (AT_FDCWD: this
 * machine; the caller closes it otherwise). */
static int
open_policy_dir(sc_context *ctx, char **out_shown, char **out_base, int *out_root, GError **error)
{
  const char *sysroot = sc_context_get_sysroot(ctx);
  g_autofree char *rel = NULL;
  g_autofree char *shown = sc_policy_location(sc_context_signature_policy(ctx), sysroot, &rel);
  int dirfd;

  *out_root = AT_FDCWD;
  if (rel == NULL && sysroot != NULL && strcmp(sysroot, "/") != 0) {
    /* a writing verb under a sysroot never writes outside it */
    g_set_error(error,
                SC_ERROR,
                SC_EINVAL,
                "signature policy %s is not in the sysroot %s (it comes from %s), and trust "
                "under --sysroot writes only inside it: give --signature-policy FILE "
                "(a path in the sysroot)",
                shown,
                sysroot,
                g_getenv("SC_SIGNATURE_POLICY") && *g_getenv("SC_SIGNATURE_POLICY")
                  ? "$SC_SIGNATURE_POLICY"
                  : "your home directory");
    return -1;
  }
  if (rel != NULL) {
    int root = open(sysroot, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) {
      g_set_error(
        error, SC_ERROR, SC_EIO, "sysroot %s: cannot open it: %s", sysroot, g_strerror(errno));
      return -1;
    }
    dirfd = sc_confined_open_parent(root, rel, TRUE, TRUE, out_base, error);
    if (dirfd < 0) {
      close(root);
      g_prefix_error(error, "%s: ", shown);
      return -1;
    }
    *out_root = root;
  } else {
    g_autofree char *dir = g_path_get_dirname(shown);
    if (g_mkdir_with_parents(dir, 0755) != 0 ||
        (dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
      g_set_error(error, SC_ERROR, SC_EIO, "%s: %s", dir, g_strerror(errno));
      return -1;
    }
    *out_base = g_path_get_basename(shown);
  }
  *out_shown = g_steal_pointer(&shown);
  return dirfd;
}

/* The policy's JSON (NULL and TRUE: no file yet), after checking that it
 * parses as a pull parses it. */
static gboolean
read_policy(int dirfd, const char *shown, const char *base, json_t **out, GError **error)
{
  g_autofree char *dir = g_path_get_dirname(shown);
  g_autoptr(GBytes) text = NULL;
  g_autoptr(ScPolicy) check = NULL;
  gboolean exists = FALSE;
  json_error_t jerr;
  gsize len;
  const char *data;

  *out = NULL;
  text = sc_read_file_nofollow_max(dirfd, dir, base, SC_POLICY_MAX, &exists, error);
  if (text == NULL)
    return !exists && (error == NULL || *error == NULL);
  data = g_bytes_get_data(text, &len);
  check = sc_policy_parse(shown, data, len, -1, error);
  if (check == NULL)
    return FALSE;
  *out = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
  return *out != NULL;
}

/* The requirement list that @type and @pubkeys make (podman's forms). */
static json_t *
make_reqs(const char *type, const char *const *pubkeys, GError **error)
{
  g_autoptr(json_t) reqs = json_array();
  guint n = pubkeys ? g_strv_length((char **)pubkeys) : 0;
  gboolean keyed = strcmp(type, "signedBy") == 0 || strcmp(type, "sigstoreSigned") == 0;

  if (!keyed && strcmp(type, "accept") != 0 && strcmp(type, "reject") != 0) {
    g_autofree char *s = sc_display(type, 100);
    g_set_error(error,
                SC_ERROR,
                SC_EINVAL,
                "trust type '%s': expected signedBy, sigstoreSigned, accept or reject",
                s);
    return NULL;
  }
  if (!keyed && n > 0) {
    g_set_error(error, SC_ERROR, SC_EINVAL, "trust type '%s' takes no public key", type);
    return NULL;
  }
  if (keyed && n == 0) {
    g_set_error(error,
                SC_ERROR,
                SC_EINVAL,
                "trust type '%s': at least one public key must be given (--pubkeysfile)",
                type);
    return NULL;
  }
  if (strcmp(type, "sigstoreSigned") == 0 && n > 1) {
    g_set_error(
      error, SC_ERROR, SC_EINVAL, "trust type 'sigstoreSigned' takes one public key (got %u)", n);
    return NULL;
  }
  for (guint i = 0; i < n; i++)
    if (pubkeys[i][0] != '/') {
      g_autofree char *s = sc_display(pubkeys[i], 200);
      g_set_error(error,
                  SC_ERROR,
                  SC_EINVAL,
                  "public key file '%s': must be an absolute path (a pull reads it from "
                  "anywhere)",
                  s);
      return NULL;
    }
  if (!keyed)
    json_array_append_new(
      reqs,
      json_pack(
        "{s:s}", "type", strcmp(type, "accept") == 0 ? "insecureAcceptAnything" : "reject"));
  else if (strcmp(type, "sigstoreSigned") == 0)
    json_array_append_new(reqs, json_pack("{s:s, s:s}", "type", type, "keyPath", pubkeys[0]));
  else if (n == 1)
    json_array_append_new(
      reqs,
      json_pack("{s:s, s:s, s:s}", "type", type, "keyType", "GPGKeys", "keyPath", pubkeys[0]));
  else {
    /* one requirement that any of the keys satisfies (podman 4.3 wrote one
     * per key, each required) */
    json_t *paths = json_array();
    for (guint i = 0; i < n; i++)
      json_array_append_new(paths, json_string(pubkeys[i]));
    json_array_append_new(
      reqs, json_pack("{s:s, s:s, s:o}", "type", type, "keyType", "GPGKeys", "keyPaths", paths));
  }
  return g_steal_pointer(&reqs);
}

/* @scope's requirements := @reqs (taken), where the scope already is,
 * else under transports.docker. */
static gboolean
put_scope(json_t *doc, const char *scope, json_t *reqs, const char *shown, GError **error)
{
  json_t *transports = json_object_get(doc, "transports");
  const char *t;
  json_t *scopes;

  if (strcmp(scope, "default") == 0) {
    json_object_set_new(doc, "default", reqs);
    return TRUE;
  }
  if (json_object_get(doc, "default") == NULL) {
    json_decref(reqs);
    g_set_error(error,
                SC_ERROR,
                SC_EINVAL,
                "%s: the default trust policy must be set first (trust default accept|reject)",
                shown);
    return FALSE;
  }
  json_object_foreach (transports, t, scopes) {
    if (json_object_get(scopes, scope) != NULL) {
      json_object_set_new(scopes, scope, reqs);
      return TRUE;
    }
  }
  if (transports == NULL) {
    transports = json_object();
    json_object_set_new(doc, "transports", transports);
  }
  if (json_object_get(transports, "docker") == NULL)
    json_object_set_new(transports, "docker", json_object());
  json_object_set_new(json_object_get(transports, "docker"), scope, reqs);
  return TRUE;
}

/* The new policy's text, once it reads as a pull will read it: it parses
 * and its key files can be read (checked before anything is written). */
static char *
checked_text(int key_root, const char *shown, json_t *doc, GError **error)
{
  g_autofree char *text = json_dumps(doc, JSON_INDENT(4));
  g_autofree char *with_nl = g_strconcat(text, "\n", NULL);
  g_autoptr(ScPolicy) check = sc_policy_parse(shown, with_nl, strlen(with_nl), key_root, error);

  return check ? g_steal_pointer(&with_nl) : NULL;
}

/* registries.d: SCOPE.yaml ('/' as '-') with the scope's lookaside; a
 * scope another file defines is refused (containers/image would refuse
 * the directory). */
static gboolean
write_lookaside(sc_context *ctx, const char *scope, const char *url, GError **error)
{
  const char *sysroot = sc_context_get_sysroot(ctx);
  const char *explicit_dir = sc_context_registries_d(ctx);
  g_autofree char *name = NULL;
  g_autofree char *shown = NULL;
  g_autofree char *yaml = NULL;
  g_autofree char *base = NULL;
  g_autoptr(ScRegistriesD) rd = NULL;
  g_autoptr(GError) local = NULL;
  int dirfd, root = -1;
  gboolean ok;

  if (!g_str_has_prefix(url, "https://") && !g_str_has_prefix(url, "http://") &&
      !g_str_has_prefix(url, "file:///")) {
    g_autofree char *s = sc_display(url, 200);
    g_set_error(error,
                SC_ERROR,
                SC_EINVAL,
                "lookaside '%s': expected an http://, https:// or file:/// URL",
                s);
    return FALSE;
  }
  if (strchr(url, '\n') || strchr(url, '"') || strchr(url, '\\')) {
    g_set_error(error, SC_ERROR, SC_EINVAL, "lookaside: the URL holds a newline, '\"' or '\\'");
    return FALSE;
  }
  name = g_strdup_printf("%s.yaml", strcmp(scope, "default") == 0 ? "default-docker" : scope);
  g_strdelimit(name, "/", '-');
  rd = sc_registriesd_load(explicit_dir, sysroot, &local);
  if (rd == NULL && local != NULL) {
    g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
  }
  {
    const char *other = sc_registriesd_scope_file(rd, strcmp(scope, "default") == 0 ? NULL : scope);
    if (other != NULL && !g_str_has_suffix(other, name)) {
      g_set_error(error, SC_ERROR, SC_EINVAL, "registries.d: %s already defines %s", other, scope);
      return FALSE;
    }
  }
  if (strcmp(scope, "default") == 0)
    yaml = g_strdup_printf("default-docker:\n  lookaside: \"%s\"\n", url);
  else
    yaml = g_strdup_printf("docker:\n  \"%s\":\n    lookaside: \"%s\"\n", scope, url);
  if (sysroot == NULL || strcmp(sysroot, "/") == 0) {
    g_autofree char *user =
      g_build_filename(g_get_home_dir(), ".config", "containers", "registries.d", NULL);
    shown = g_strdup(explicit_dir                            ? explicit_dir
                     : g_file_test(user, G_FILE_TEST_IS_DIR) ? user
                                                             : "/etc/containers/registries.d");
    if (g_mkdir_with_parents(shown, 0755) != 0 ||
        (dirfd = open(shown, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
      g_set_error(error, SC_ERROR, SC_EIO, "%s: %s", shown, g_strerror(errno));
      return FALSE;
    }
  } else {
    /* under a sysroot, --registries-d is a path in it, as the default
     * is: nothing is written outside the sysroot */
    const char *in_root =
      explicit_dir ? explicit_dir + strspn(explicit_dir, "/") : "etc/containers/registries.d";
    g_autofree char *rel = g_build_filename(in_root, name, NULL);
    shown = g_build_filename(sysroot, in_root, NULL);
    root = open(sysroot, O_PATH | O_DIRECTORY | O_CLOEXEC);
    dirfd = root < 0 ? -1 : sc_confined_open_parent(root, rel, TRUE, TRUE, &base, error);
    if (root >= 0)
      close(root);
    if (dirfd < 0) {
      if (root < 0)
        g_set_error(error, SC_ERROR, SC_EIO, "%s: %s", sysroot, g_strerror(errno));
      return FALSE;
    }
  }
  ok = sc_write_file_atomic(dirfd, shown, name, yaml, strlen(yaml), 0644, error);
  close(dirfd);
  return ok;
}

/* An exclusive flock() on the policy's directory @dirfd. */
static gboolean
lock_dir(int dirfd, const char *shown, GError **error)
{
  while (flock(dirfd, LOCK_EX) != 0) {
    if (errno != EINTR) {
      g_autofree char *dir = g_path_get_dirname(shown);
      g_set_error(error, SC_ERROR, SC_EIO, "cannot lock %s: %s", dir, g_strerror(errno));
      return FALSE;
    }
  }
  return TRUE;
}

static gboolean
trust_set(sc_context *ctx,
          const char *scope,
          const char *type,
          const char *const *pubkeys,
          const char *lookaside,
          GError **error)
{
  g_autofree char *shown = NULL;
  g_autofree char *base = NULL;
  g_autofree char *text = NULL;
  g_autofree char *dir = NULL;
  g_autoptr(json_t) doc = NULL;
  json_t *reqs;
  int root = AT_FDCWD, dirfd;
  gboolean ok = FALSE;

  if (strcmp(scope, "default") != 0 && !sc_policy_docker_scope_ok(scope)) {
    g_autofree char *s = sc_display(scope, 200);
    g_set_error(error,
                SC_ERROR,
                SC_EINVAL,
                "scope '%s': expected a registry (host[:port]), a namespace or repository on it, "
                "an image reference, *.domain, or default, in the fully expanded form "
                "(docker.io/library/busybox, not busybox)",
                s);
    return FALSE;
  }
  if ((reqs = make_reqs(type, pubkeys, error)) == NULL)
    return FALSE;
  dirfd = open_policy_dir(ctx, &shown, &base, &root, error);
  if (dirfd < 0) {
    json_decref(reqs);
    return FALSE;
  }
  /* read, change, replace: two at once would each write their own change
   * over the same old text and one would be lost; the lock is on the
   * policy's directory (held until dirfd is closed) */
  if (!lock_dir(dirfd, shown, error)) {
    json_decref(reqs);
    close(dirfd);
    if (root != AT_FDCWD)
      close(root);
    return FALSE;
  }
  if (read_policy(dirfd, shown, base, &doc, error)) {
    if (doc == NULL)
      doc = json_object();
    dir = g_path_get_dirname(shown);
    /* the policy checked first: a bad key changes neither file */
    ok = put_scope(doc, scope, reqs, shown, error) &&
         (text = checked_text(root, shown, doc, error)) != NULL &&
         (lookaside == NULL || write_lookaside(ctx, scope, lookaside, error)) &&
         sc_write_file_atomic(dirfd, dir, base, text, strlen(text), 0644, error);
  } else
    json_decref(reqs);
  close(dirfd);
  if (root != AT_FDCWD)
    close(root);
  return ok;
}

SC_API int
sc_trust_set(sc_context *ctx,
             const char *scope,
             const char *type,
             const char *const *pubkeys,
             const char *lookaside,
             sc_error **error)
{
  GError *gerror = NULL;

  SC_CHECK_ARG(ctx != NULL && scope != NULL && type != NULL, error);
  if (!sc_context_sysroot_readable(ctx, &gerror) ||
      !trust_set(ctx, scope, type, pubkeys, lookaside, &gerror))
    return sc_error_propagate(error, gerror);
  return SC_OK;
}

SC_API int
sc_trust_default(sc_context *ctx, const char *verdict, sc_error **error)
{
  SC_CHECK_ARG(ctx != NULL && verdict != NULL, error);
  if (strcmp(verdict, "accept") != 0 && strcmp(verdict, "reject") != 0)
    return sc_error_set(error, SC_EINVAL, "trust default '%s': expected accept or reject", verdict);
  return sc_trust_set(ctx, "default", verdict, NULL, NULL, error);
}

/* accept, reject, signedBy, sigstoreSigned for a list; "mixed" when its
 * requirements differ. */
static json_t *
describe(json_t *reqs, const char *transport, const char *scope, ScRegistriesD *rd)
{
  const char *type = NULL;
  json_t *keys = json_array();
  json_t *r;
  size_t i;
  const char *lookaside = NULL;

  json_array_foreach (reqs, i, r) {
    const char *t = json_string_value(json_object_get(r, "type"));
    json_t *kp = json_object_get(r, "keyPath"), *kps = json_object_get(r, "keyPaths"), *k;
    size_t j;
    t = strcmp(t, "insecureAcceptAnything") == 0 ? "accept" : t;
    type = type == NULL || strcmp(type, t) == 0 ? t : "mixed";
    if (kp)
      json_array_append(keys, kp);
    json_array_foreach (kps, j, k)
      json_array_append(keys, k);
    if (json_object_get(r, "keyData"))
      json_array_append_new(keys, json_string("(keyData)"));
  }
  if (rd != NULL && transport && strcmp(transport, "docker") == 0 && *scope) {
    g_autofree char *probe = NULL;
    /* the scope's own entry, or what it inherits */
    /* (a host:port scope has no '/': its ':' is not a tag's) */
    probe = strchr(scope, '@') || (strchr(scope, '/') && strrchr(scope, ':') &&
                                   strrchr(scope, ':') > strrchr(scope, '/'))
              ? g_strdup(scope)
              : g_strconcat(scope, g_str_has_prefix(scope, "*.") ? "" : "/x:latest", NULL);
    sc_registriesd_lookup(rd, probe, &lookaside, NULL);
  } else if (rd != NULL && transport == NULL)
    sc_registriesd_lookup(rd, "", &lookaside, NULL);
  return json_pack("{s:s?, s:s, s:s, s:o, s:s?, s:O}",
                   "transport",
                   transport,
                   "scope",
                   scope,
                   "type",
                   type,
                   "keys",
                   keys,
                   "lookaside",
                   lookaside,
                   "requirements",
                   reqs);
}

static gboolean
trust_show(sc_context *ctx, json_t **out, GError **error)
{
  g_autoptr(ScPolicy) policy = NULL;
  g_autoptr(ScRegistriesD) rd = NULL;
  g_autoptr(json_t) doc = NULL;
  g_autoptr(GBytes) text = NULL;
  const char *sysroot = sc_context_get_sysroot(ctx);
  json_t *scopes, *transports, *list, *reqs;
  const char *t, *s;
  gsize len;
  const char *data;
  json_error_t jerr;

  /* parsed as a pull parses it: the errors are the same */
  policy = sc_policy_load(sc_context_signature_policy(ctx), sysroot, error);
  if (policy == NULL)
    return FALSE;
  text = sc_policy_text(policy);
  data = g_bytes_get_data(text, &len);
  doc = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
  rd = sc_registriesd_load(sc_context_registries_d(ctx), sysroot, error);
  if (rd == NULL)
    return FALSE;
  scopes = json_array();
  transports = json_object_get(doc, "transports");
  json_object_foreach (transports, t, list) {
    json_object_foreach (list, s, reqs)
      json_array_append_new(scopes, describe(reqs, t, s, rd));
  }
  *out = json_pack("{s:i, s:s, s:o, s:o}",
                   "schema",
                   1,
                   "file",
                   sc_policy_file(policy),
                   "default",
                   describe(json_object_get(doc, "default"), NULL, "default", rd),
                   "scopes",
                   scopes);
  return TRUE;
}

SC_API int
sc_trust_show_json(sc_context *ctx, char **out_json, sc_error **error)
{
  GError *gerror = NULL;
  json_t *doc = NULL;

  SC_CHECK_ARG(ctx != NULL && out_json != NULL, error);
  if (!sc_context_sysroot_readable(ctx, &gerror) || !trust_show(ctx, &doc, &gerror))
    return sc_error_propagate(error, gerror);
  *out_json = sc_json_dump(doc, TRUE);
  json_decref(doc);
  return SC_OK;
}
