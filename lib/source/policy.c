/*
 * The signature policy: containers-policy.json(5), read as strictly as
 * containers/image reads it (unknown or duplicated keys, empty requirement
 * lists, missing or conflicting key fields are errors), and the scope
 * lookup it does: the most specific scope of the image's transport, then
 * the transport's "", then "default".
 *
 * Transports other than the five our sources use are kept unvalidated and
 * never looked up, as containers/image ignores transports it does not
 * know (their requirements must still parse).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* A requirement as parsed; the public part first, so that a pointer to it
 * is the ScPolicyRequirement the signature code takes. */
typedef struct {
  ScPolicyRequirement pub;
  GPtrArray *key_paths; /* keyPath/keyPaths, read at load time */
} Req;

typedef struct {
  char *label;     /* `transports.docker["quay.io/x"]`, `default` */
  GPtrArray *reqs; /* of Req */
} Scope;

struct ScPolicy {
  char *file;
  GBytes *text;           /* the file's text, for `trust show` */
  Scope *fallback;        /* default */
  GHashTable *transports; /* name -> (scope -> Scope) */
};

static void
req_free(Req *r)
{
  if (r == NULL)
    return;
  g_clear_pointer(&r->pub.keys, g_ptr_array_unref);
  g_free(r->pub.identity.reference);
  g_free(r->pub.identity.repository);
  g_free(r->pub.identity.prefix);
  g_free(r->pub.identity.signed_prefix);
  g_clear_pointer(&r->key_paths, g_ptr_array_unref);
  g_free(r);
}

static void
scope_free(Scope *s)
{
  if (s == NULL)
    return;
  g_free(s->label);
  g_ptr_array_unref(s->reqs);
  g_free(s);
}

GBytes *
sc_policy_text(const ScPolicy *p)
{
  return g_bytes_ref(p->text);
}

void
sc_policy_free(ScPolicy *p)
{
  if (p == NULL)
    return;
  g_free(p->file);
  g_clear_pointer(&p->text, g_bytes_unref);
  scope_free(p->fallback);
  g_clear_pointer(&p->transports, g_hash_table_unref);
  g_free(p);
}

const char *
sc_policy_file(const ScPolicy *p)
{
  return p->file;
}

typedef struct {
  const char *file;
  int key_root_fd;
  gsize key_bytes; /* read so far, of all key files */
} Parse;

static gboolean G_GNUC_PRINTF(4, 5)
  perr(Parse *ps, GError **error, const char *path, const char *format, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start(ap, format);
  msg = g_strdup_vprintf(format, ap);
  va_end(ap);
  if (path && *path)
    g_set_error(error, SC_ERROR, SC_EINVAL, "%s: %s: %s", ps->file, path, msg);
  else
    g_set_error(error, SC_ERROR, SC_EINVAL, "%s: %s", ps->file, msg);
  return FALSE;
}

/* A key shown in a message: the file's own text, escaped and bounded. */
static char *
shown_key(const char *key)
{
  return sc_display(key, 200);
}

/* Every key of @obj is one of @allowed (NULL-terminated). */
static gboolean
only_keys(Parse *ps, json_t *obj, const char *path, const char *const *allowed, GError **error)
{
  const char *k;
  json_t *v;

  json_object_foreach (obj, k, v) {
    gboolean ok = FALSE;
    for (guint i = 0; allowed[i] && !ok; i++)
      ok = strcmp(k, allowed[i]) == 0;
    if (!ok) {
      g_autofree char *s = shown_key(k);
      return perr(ps, error, path, "unknown key \"%s\"", s);
    }
  }
  return TRUE;
}

static gboolean
get_string(Parse *ps,
           json_t *obj,
           const char *key,
           const char *path,
           gboolean required,
           const char **out,
           GError **error)
{
  json_t *v = json_object_get(obj, key);

  *out = NULL;
  if (v == NULL) {
    if (required)
      return perr(ps, error, path, "\"%s\" is missing", key);
    return TRUE;
  }
  if (!json_is_string(v))
    return perr(ps, error, path, "\"%s\" must be a string", key);
  *out = json_string_value(v);
  return TRUE;
}

/* A name a docker reference can have (host[:port][/path]), without a tag
 * or a digest, in its fully expanded form. */
static gboolean
name_only_ok(const char *s)
{
  ScReference ref;
  g_autofree char *full = NULL;
  gboolean ok;

  if (strchr(s, '@') ||
      (strrchr(s, ':') && strrchr(s, ':') > strrchr(s, '/') && strchr(s, '/') != NULL))
    return FALSE;
  if (!sc_reference_parse(s, &ref, NULL))
    return FALSE;
  full = g_strconcat(ref.domain, "/", ref.path, NULL);
  ok = strcmp(full, s) == 0;
  sc_reference_clear(&ref);
  return ok;
}

/* remapIdentity's prefixes: a host[:port], a namespace or a repository;
 * as containers/image, a short "foo" passes (it is a valid host name). */
static gboolean
prefix_ok(const char *s)
{
  g_autofree char *probe = NULL;
  ScReference ref;

  if (*s == '\0' || strchr(s, '@') || g_str_has_suffix(s, "/"))
    return FALSE;
  probe = g_strconcat(s, "/x", NULL);
  if (!sc_reference_parse(probe, &ref, NULL))
    return FALSE;
  sc_reference_clear(&ref);
  return TRUE;
}

static gboolean
has_tag_or_digest(const char *s)
{
  const char *slash = strrchr(s, '/');
  const char *colon = strrchr(s, ':');
  return strchr(s, '@') != NULL || (colon && (slash == NULL || colon > slash));
}

static gboolean
parse_identity(Parse *ps, json_t *obj, const char *path, ScSignedIdentity *id, GError **error)
{
  static const char *const only_type[] = { "type", NULL };
  static const char *const exact_ref[] = { "type", "dockerReference", NULL };
  static const char *const exact_repo[] = { "type", "dockerRepository", NULL };
  static const char *const remap[] = { "type", "prefix", "signedPrefix", NULL };
  const char *type, *a, *b;

  if (!json_is_object(obj))
    return perr(ps, error, path, "must be an object");
  if (!get_string(ps, obj, "type", path, TRUE, &type, error))
    return FALSE;
  if (strcmp(type, "matchRepoDigestOrExact") == 0 || strcmp(type, "matchRepository") == 0 ||
      strcmp(type, "matchExact") == 0) {
    id->type = type[5] == 'R' && type[9] == 'D'       ? SC_ID_MATCH_REPO_DIGEST_OR_EXACT
               : strcmp(type, "matchRepository") == 0 ? SC_ID_MATCH_REPOSITORY
                                                      : SC_ID_MATCH_EXACT;
    return only_keys(ps, obj, path, only_type, error);
  }
  if (strcmp(type, "exactReference") == 0) {
    if (!only_keys(ps, obj, path, exact_ref, error) ||
        !get_string(ps, obj, "dockerReference", path, TRUE, &a, error))
      return FALSE;
    id->type = SC_ID_EXACT_REFERENCE;
    id->reference = sc_reference_normalize(a, NULL);
    if (id->reference == NULL || !has_tag_or_digest(a)) {
      g_autofree char *s = sc_display(a, 200);
      return perr(ps,
                  error,
                  path,
                  "dockerReference \"%s\" is not a docker reference with a tag or a digest",
                  s);
    }
    return TRUE;
  }
  if (strcmp(type, "exactRepository") == 0) {
    ScReference ref;
    if (!only_keys(ps, obj, path, exact_repo, error) ||
        !get_string(ps, obj, "dockerRepository", path, TRUE, &a, error))
      return FALSE;
    if (has_tag_or_digest(a) || !sc_reference_parse(a, &ref, NULL)) {
      g_autofree char *s = sc_display(a, 200);
      return perr(ps, error, path, "dockerRepository \"%s\" is not a repository name", s);
    }
    id->type = SC_ID_EXACT_REPOSITORY;
    id->repository = g_strconcat(ref.domain, "/", ref.path, NULL);
    sc_reference_clear(&ref);
    return TRUE;
  }
  if (strcmp(type, "remapIdentity") == 0) {
    if (!only_keys(ps, obj, path, remap, error) ||
        !get_string(ps, obj, "prefix", path, TRUE, &a, error) ||
        !get_string(ps, obj, "signedPrefix", path, TRUE, &b, error))
      return FALSE;
    for (const char *const *v = (const char *const[]){ a, b, NULL }; *v; v++)
      if (!prefix_ok(*v)) {
        g_autofree char *s = sc_display(*v, 200);
        return perr(ps,
                    error,
                    path,
                    "prefix \"%s\" is not a host[:port], namespace or repository in its fully "
                    "expanded form",
                    s);
      }
    id->type = SC_ID_REMAP_IDENTITY;
    id->prefix = g_strdup(a);
    id->signed_prefix = g_strdup(b);
    return TRUE;
  }
  {
    g_autofree char *s = sc_display(type, 200);
    return perr(ps, error, path, "unknown signedIdentity type \"%s\"", s);
  }
}

/* Standard base64 with padding, as Go's encoding/base64 reads keyData:
 * '\r' and '\n' are skipped (keyData pasted from `base64`, which wraps
 * at 76 columns, is what containers/image accepts). */
static GBytes *
decode_base64(const char *text)
{
  g_autofree char *s = g_strdup(text);
  gsize len = 0, out_len = 0;
  guchar *data;

  for (const char *c = text; *c; c++)
    if (*c != '\r' && *c != '\n')
      s[len++] = *c;
  s[len] = '\0';
  if (len == 0 || len % 4 != 0)
    return NULL;
  for (gsize i = 0; i < len; i++) {
    char c = s[i];
    if (c == '=') {
      if (i < len - 2 || (i == len - 2 && s[len - 1] != '='))
        return NULL;
    } else if (!g_ascii_isalnum(c) && c != '+' && c != '/')
      return NULL;
  }
  data = g_base64_decode(s, &out_len);
  return g_bytes_new_take(data, out_len);
}

/* keyPath / keyPaths / keyData: exactly one (@paths_allowed: keyPaths is
 * one of them, signedBy only). */
static gboolean
parse_keys(Parse *ps, json_t *obj, const char *path, gboolean paths_allowed, Req *r, GError **error)
{
  json_t *kp = json_object_get(obj, "keyPath");
  json_t *kps = paths_allowed ? json_object_get(obj, "keyPaths") : NULL;
  json_t *kd = json_object_get(obj, "keyData");
  size_t i;
  json_t *v;

  if ((kp != NULL) + (kps != NULL) + (kd != NULL) != 1)
    return perr(ps,
                error,
                path,
                paths_allowed ? "exactly one of keyPath, keyPaths and keyData must be set"
                              : "exactly one of keyPath and keyData must be set");
  r->pub.keys = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
  r->key_paths = g_ptr_array_new_with_free_func(g_free);
  if (kd != NULL) {
    GBytes *b = json_is_string(kd) ? decode_base64(json_string_value(kd)) : NULL;
    if (b == NULL)
      return perr(ps, error, path, "keyData must be a base64 string");
    g_ptr_array_add(r->pub.keys, b);
    return TRUE;
  }
  if (kp != NULL) {
    if (!json_is_string(kp) || !*json_string_value(kp))
      return perr(ps, error, path, "keyPath must be a non-empty string");
    g_ptr_array_add(r->key_paths, g_strdup(json_string_value(kp)));
    return TRUE;
  }
  if (!json_is_array(kps) || json_array_size(kps) == 0)
    return perr(ps, error, path, "keyPaths must be a non-empty list of strings");
  json_array_foreach (kps, i, v) {
    if (!json_is_string(v) || !*json_string_value(v))
      return perr(ps, error, path, "keyPaths must be a non-empty list of strings");
    g_ptr_array_add(r->key_paths, g_strdup(json_string_value(v)));
  }
  return TRUE;
}

static gboolean
parse_signed(Parse *ps, json_t *obj, const char *path, gboolean gpg, Req *r, GError **error)
{
  static const char *const gpg_keys[] = { "type",    "keyType",        "keyPath", "keyPaths",
                                          "keyData", "signedIdentity", NULL };
  static const char *const sigstore_keys[] = {
    "type", "keyPath", "keyData", "signedIdentity", NULL
  };
  json_t *id = json_object_get(obj, "signedIdentity");
  const char *key_type;

  if (!only_keys(ps, obj, path, gpg ? gpg_keys : sigstore_keys, error))
    return FALSE;
  if (gpg) {
    if (!get_string(ps, obj, "keyType", path, TRUE, &key_type, error))
      return FALSE;
    /* (containers/image also parses X509Certificates and signedBy*, and
     * refuses every image under them: refused here, where it is seen) */
    if (strcmp(key_type, "GPGKeys") != 0) {
      g_autofree char *s = sc_display(key_type, 100);
      return perr(ps, error, path, "keyType \"%s\" is not supported (only GPGKeys)", s);
    }
  }
  if (!parse_keys(ps, obj, path, gpg, r, error))
    return FALSE;
  r->pub.identity.type = SC_ID_MATCH_REPO_DIGEST_OR_EXACT;
  if (id != NULL) {
    g_autofree char *sub = g_strconcat(path, ".signedIdentity", NULL);
    return parse_identity(ps, id, sub, &r->pub.identity, error);
  }
  return TRUE;
}

static Req *
parse_req(Parse *ps, json_t *obj, const char *path, GError **error)
{
  static const char *const only_type[] = { "type", NULL };
  g_autoptr(GPtrArray) hold = g_ptr_array_new_with_free_func((GDestroyNotify)req_free);
  Req *r = g_new0(Req, 1);
  const char *type;

  g_ptr_array_add(hold, r);
  if (!json_is_object(obj)) {
    perr(ps, error, path, "a requirement must be an object");
    return NULL;
  }
  if (!get_string(ps, obj, "type", path, TRUE, &type, error))
    return NULL;
  if (strcmp(type, "insecureAcceptAnything") == 0 || strcmp(type, "reject") == 0) {
    r->pub.type = type[0] == 'r' ? SC_REQ_REJECT : SC_REQ_INSECURE_ACCEPT;
    if (!only_keys(ps, obj, path, only_type, error))
      return NULL;
  } else if (strcmp(type, "signedBy") == 0 || strcmp(type, "sigstoreSigned") == 0) {
    gboolean gpg = type[1] == 'i' && type[2] == 'g' && type[3] == 'n';
    r->pub.type = gpg ? SC_REQ_SIGNED_BY : SC_REQ_SIGSTORE_SIGNED;
    if (!parse_signed(ps, obj, path, gpg, r, error))
      return NULL;
  } else {
    g_autofree char *s = sc_display(type, 200);
    perr(ps, error, path, "unknown requirement type \"%s\"", s);
    return NULL;
  }
  return g_ptr_array_steal_index(hold, 0);
}

/* Reads a key file: in the key root (a sysroot: confined there), or on
 * this machine. */
static GBytes *
read_key(Parse *ps, const char *key_path, const char *path, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autofree char *shown = sc_display(key_path, 300);
  GBytes *b;
  int fd;

  int saved;

  if (ps->key_root_fd == AT_FDCWD)
    fd = open(key_path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  else
    fd = sc_confined_open(ps->key_root_fd,
                          key_path[0] == '/' ? key_path + 1 : key_path,
                          O_RDONLY | O_NOCTTY | O_NONBLOCK,
                          0,
                          TRUE,
                          &local);
  saved = errno;
  if (fd < 0) {
    perr(ps,
         error,
         path,
         "key file %s: %s",
         shown,
         local == NULL                                    ? g_strerror(saved)
         : g_error_matches(local, SC_ERROR, SC_ENOTFOUND) ? g_strerror(ENOENT)
                                                          : local->message);
    return NULL;
  }
  b = sc_read_fd_max(fd, shown, SC_POLICY_KEY_MAX, SC_EINVAL, &local);
  close(fd);
  if (b == NULL) {
    perr(ps, error, path, "%s", local->message);
    return NULL;
  }
  ps->key_bytes += g_bytes_get_size(b);
  if (ps->key_bytes > SC_POLICY_KEYS_MAX) {
    g_bytes_unref(b);
    perr(ps,
         error,
         path,
         "key file %s: the policy's key files are more than %d bytes together",
         shown,
         SC_POLICY_KEYS_MAX);
    return NULL;
  }
  return b;
}

static Scope *
parse_scope(Parse *ps, json_t *list, const char *label, GError **error)
{
  Scope *s = g_new0(Scope, 1);
  size_t i;
  json_t *v;

  s->label = g_strdup(label);
  s->reqs = g_ptr_array_new_with_free_func((GDestroyNotify)req_free);
  if (!json_is_array(list) || json_array_size(list) == 0) {
    perr(ps, error, label, "must be a non-empty list of requirements");
    scope_free(s);
    return NULL;
  }
  json_array_foreach (list, i, v) {
    g_autofree char *path = g_strdup_printf("%s[%zu]", label, i);
    Req *r = parse_req(ps, v, path, error);
    if (r == NULL) {
      scope_free(s);
      return NULL;
    }
    r->pub.scope = s->label; /* (borrowed: the scope outlives it) */
    g_ptr_array_add(s->reqs, r);
    for (guint k = 0; ps->key_root_fd != -1 && r->key_paths && k < r->key_paths->len; k++) {
      GBytes *b = read_key(ps, r->key_paths->pdata[k], path, error);
      if (b == NULL) {
        scope_free(s);
        return NULL;
      }
      g_ptr_array_add(r->pub.keys, b);
    }
  }
  return s;
}

/* A scope of an oci, oci-archive or dir-like transport: an absolute,
 * clean path other than "/", maybe with ":IMAGE" (oci only). */
static gboolean
path_scope_ok(const char *scope, char **out_reason)
{
  g_autofree char *dir = g_strdup(scope);
  char *colon = strchr(dir, ':');
  g_autofree char *clean = NULL;

  if (colon)
    *colon = '\0';
  if (dir[0] != '/') {
    *out_reason = g_strdup("must be an absolute path");
    return FALSE;
  }
  if (strcmp(scope, "/") == 0) {
    *out_reason = g_strdup("\"/\" is not a scope: use the transport's default scope \"\"");
    return FALSE;
  }
  clean = g_canonicalize_filename(dir, "/");
  if (strcmp(clean, dir) != 0) {
    *out_reason = g_strdup_printf("not a canonical path (%s?)", clean);
    return FALSE;
  }
  return TRUE;
}

static gboolean
scope_ok(Parse *ps, const char *transport, const char *scope, const char *label, GError **error)
{
  g_autofree char *reason = NULL;

  if (*scope == '\0')
    return TRUE;
  if (strcmp(transport, "docker") == 0) {
    /* a reference, a repository, a namespace, a host, or *.domain */
    const char *s = g_str_has_prefix(scope, "*.") ? scope + 2 : scope;
    if (*s && strchr(s, '*') == NULL)
      return TRUE;
    reason = g_strdup("not a docker reference, repository, namespace, host or *.domain");
  } else if (strcmp(transport, "oci") == 0 || strcmp(transport, "oci-archive") == 0) {
    if (path_scope_ok(scope, &reason))
      return TRUE;
  } else if (strcmp(transport, "docker-archive") == 0 || strcmp(transport, "docker-daemon") == 0) {
    reason = g_strdup_printf("%s: takes no scope but the default \"\"", transport);
  } else
    return TRUE; /* a transport we do not know: not validated */
  return perr(ps, error, label, "invalid scope: %s", reason);
}

static gboolean
parse_transport(Parse *ps, ScPolicy *p, const char *name, json_t *scopes, GError **error)
{
  g_autofree char *tname = sc_display(name, 100);
  g_autofree char *tlabel = g_strdup_printf("transports.%s", tname);
  GHashTable *table;
  const char *k;
  json_t *v;

  if (!json_is_object(scopes))
    return perr(ps, error, tlabel, "must be an object of scopes");
  table = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)scope_free);
  g_hash_table_replace(p->transports, g_strdup(name), table);
  json_object_foreach (scopes, k, v) {
    g_autofree char *ks = sc_display(k, 300);
    g_autofree char *label = g_strdup_printf("%s[\"%s\"]", tlabel, ks);
    Scope *s;
    if (!scope_ok(ps, name, k, label, error) || (s = parse_scope(ps, v, label, error)) == NULL)
      return FALSE;
    g_hash_table_replace(table, g_strdup(k), s);
  }
  return TRUE;
}

ScPolicy *
sc_policy_parse(const char *file, const char *text, gsize len, int key_root_fd, GError **error)
{
  static const char *const top[] = { "default", "transports", NULL };
  g_autoptr(ScPolicy) p = g_new0(ScPolicy, 1);
  g_autoptr(json_t) doc = NULL;
  Parse ps = { file, key_root_fd };
  json_error_t jerr;
  json_t *transports, *v;
  const char *k;

  p->file = g_strdup(file);
  p->text = g_bytes_new(text, len);
  p->transports =
    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_hash_table_unref);
  if (!sc_json_check_budget(file, text, len, error))
    return NULL;
  doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (doc == NULL) {
    g_set_error(
      error, SC_ERROR, SC_EINVAL, "%s:%d:%d: %s", file, jerr.line, jerr.column, jerr.text);
    return NULL;
  }
  if (!json_is_object(doc)) {
    perr(&ps, error, NULL, "the policy must be a JSON object");
    return NULL;
  }
  if (!only_keys(&ps, doc, NULL, top, error))
    return NULL;
  if (json_object_get(doc, "default") == NULL) {
    perr(&ps, error, NULL, "\"default\" is missing (the policy for images no scope matches)");
    return NULL;
  }
  p->fallback = parse_scope(&ps, json_object_get(doc, "default"), "default", error);
  if (p->fallback == NULL)
    return NULL;
  transports = json_object_get(doc, "transports");
  if (transports != NULL && !json_is_object(transports)) {
    perr(&ps, error, "transports", "must be an object of transports");
    return NULL;
  }
  json_object_foreach (transports, k, v) {
    if (!parse_transport(&ps, p, k, v, error))
      return NULL;
  }
  return g_steal_pointer(&p);
}

/* Docker: the reference with its tag or digest, the repository, each
 * namespace up to the host[:port], then *.DOMAIN for each parent domain of
 * the host (its port left out), as containers/image's
 * PolicyConfigurationNamespaces. */
GPtrArray *
sc_policy_docker_scopes(const char *reference)
{
  ScReference ref;
  GPtrArray *out;
  g_autofree char *name = NULL;
  g_autofree char *host = NULL;
  char *slash, *colon;

  if (!sc_reference_parse(reference, &ref, NULL))
    return NULL;
  out = g_ptr_array_new_with_free_func(g_free);
  name = g_strconcat(ref.domain, "/", ref.path, NULL);
  /* a reference with both: the digest is what identifies it */
  if (ref.digest)
    g_ptr_array_add(out, g_strconcat(name, "@", ref.digest, NULL));
  else
    g_ptr_array_add(out, g_strconcat(name, ":", ref.tag, NULL));
  while (TRUE) {
    g_ptr_array_add(out, g_strdup(name));
    slash = strrchr(name, '/');
    if (slash == NULL)
      break;
    *slash = '\0';
  }
  host = g_strdup(ref.domain);
  if (host[0] != '[' && (colon = strchr(host, ':')) != NULL)
    *colon = '\0';
  for (const char *h = host; (h = strchr(h, '.')) != NULL;) {
    h++;
    g_ptr_array_add(out, g_strconcat("*.", h, NULL));
  }
  sc_reference_clear(&ref);
  return out;
}

/* oci, oci-archive: the path and each of its parent directories but "/".
 * As in containers/image (and skopeo 1.9), the image's name in a layout is
 * not part of its identity: a "DIR:IMAGE" scope is valid but never
 * matches. */
static GPtrArray *
path_scopes(const char *path)
{
  GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
  g_autofree char *dir = g_strdup(path);
  char *slash;

  while (dir[0] == '/' && dir[1] != '\0') {
    g_ptr_array_add(out, g_strdup(dir));
    slash = strrchr(dir, '/');
    if (slash == dir)
      break;
    *slash = '\0';
  }
  return out;
}

GPtrArray *
sc_policy_requirements_for(ScPolicy *p,
                           const char *transport,
                           const char *reference_or_path,
                           const char **out_scope)
{
  GHashTable *table = g_hash_table_lookup(p->transports, transport);
  g_autoptr(GPtrArray) scopes = NULL;
  Scope *found = NULL;
  GPtrArray *out;

  if (table != NULL && reference_or_path != NULL) {
    if (strcmp(transport, "docker") == 0)
      scopes = sc_policy_docker_scopes(reference_or_path);
    else if (strcmp(transport, "oci") == 0 || strcmp(transport, "oci-archive") == 0)
      scopes = path_scopes(reference_or_path);
    for (guint i = 0; scopes && i < scopes->len && !found; i++)
      found = g_hash_table_lookup(table, scopes->pdata[i]);
  }
  if (found == NULL && table != NULL)
    found = g_hash_table_lookup(table, "");
  if (found == NULL)
    found = p->fallback;
  out = g_ptr_array_new_full(found->reqs->len, NULL);
  for (guint i = 0; i < found->reqs->len; i++)
    g_ptr_array_add(out, found->reqs->pdata[i]);
  if (out_scope)
    *out_scope = found->label;
  return out;
}

/* The policy in @root (a directory fd, confined) at @rel, or on this
 * machine when @root is -1. */
static ScPolicy *
load_file(const char *shown, int root, const char *rel, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autoptr(GBytes) text = NULL;
  int fd;

  int saved;

  if (root < 0)
    fd = open(rel, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  else
    fd = sc_confined_open(root, rel, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0, TRUE, &local);
  saved = errno;
  if (fd < 0) {
    int code = (local ? g_error_matches(local, SC_ERROR, SC_ENOTFOUND) : saved == ENOENT)
                 ? SC_ENOTFOUND
                 : SC_EIO;
    g_set_error(error,
                SC_ERROR,
                code,
                "signature policy %s: %s (without a policy file no image is accepted)",
                shown,
                local == NULL          ? g_strerror(saved)
                : code == SC_ENOTFOUND ? g_strerror(ENOENT)
                                       : local->message);
    return NULL;
  }
  text = sc_read_fd_max(fd, shown, SC_POLICY_MAX, SC_EINVAL, error);
  close(fd);
  if (text == NULL)
    return NULL;
  {
    gsize len;
    const char *data = g_bytes_get_data(text, &len);
    return sc_policy_parse(shown, data, len, root < 0 ? AT_FDCWD : root, error);
  }
}

static gboolean
is_sysroot(const char *sysroot)
{
  return sysroot != NULL && strcmp(sysroot, "/") != 0;
}

char *
sc_policy_location(const char *explicit_file, const char *sysroot, char **out_rel)
{
  const char *env = g_getenv("SC_SIGNATURE_POLICY");
  g_autofree char *user = NULL;

  *out_rel = NULL;
  /* an explicit file is a path of the system operated on, as
   * --checkout-root and --repo are: under a sysroot, inside it */
  if (explicit_file && *explicit_file) {
    if (!is_sysroot(sysroot))
      return g_strdup(explicit_file);
    *out_rel = g_strdup(explicit_file + strspn(explicit_file, "/"));
    return g_build_filename(sysroot, *out_rel, NULL);
  }
  /* the environment and the home directory are this machine's */
  if (env && *env)
    return g_strdup(env);
  /* (containers/image looks at the user's file whether root or not) */
  user = g_build_filename(g_get_home_dir(), ".config", "containers", "policy.json", NULL);
  if (g_file_test(user, G_FILE_TEST_EXISTS))
    return g_steal_pointer(&user);
  if (!is_sysroot(sysroot))
    return g_strdup("/etc/containers/policy.json");
  *out_rel = g_strdup(SC_POLICY_IN_ROOT);
  return g_build_filename(sysroot, SC_POLICY_IN_ROOT, NULL);
}

ScPolicy *
sc_policy_load(const char *explicit_file, const char *sysroot, GError **error)
{
  g_autofree char *rel = NULL;
  g_autofree char *shown = sc_policy_location(explicit_file, sysroot, &rel);
  ScPolicy *p;
  int root;

  if (rel == NULL)
    return load_file(shown, -1, shown, error);
  root = open(sysroot, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) {
    g_set_error(
      error, SC_ERROR, SC_EIO, "sysroot %s: cannot open it: %s", sysroot, g_strerror(errno));
    return NULL;
  }
  p = load_file(shown, root, rel, error);
  close(root);
  return p;
}

gboolean
sc_policy_docker_scope_ok(const char *scope)
{
  g_autofree char *norm = NULL;

  if (g_str_has_prefix(scope, "*.")) {
    g_autofree char *probe = g_strconcat(scope + 2, "/x", NULL);
    return strchr(scope + 2, '.') != NULL && strchr(scope + 2, ':') == NULL && name_only_ok(probe);
  }
  if (strchr(scope, '/') == NULL)
    return (strchr(scope, '.') || strchr(scope, ':') || strcmp(scope, "localhost") == 0) &&
           prefix_ok(scope);
  if (name_only_ok(scope))
    return TRUE;
  if (!has_tag_or_digest(scope) || strchr(scope, '/') == NULL)
    return FALSE;
  norm = sc_reference_normalize(scope, NULL);
  return norm != NULL && strcmp(norm, scope) == 0;
}
