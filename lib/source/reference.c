/*
 * Image references: parsing and normalization as containers/image does it
 * (no network I/O), and the OSTree ref encoding atomic and skopeo used.
 *
 *   busybox                    -> docker.io/library/busybox:latest
 *   quay.io/coreos/etcd:v3     -> quay.io/coreos/etcd:v3
 *   localhost:5000/x@sha256:.. -> localhost:5000/x@sha256:..
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "source.h"

#include <string.h>

static gboolean
path_component_ok(const char *s, gsize len)
{
  /* [a-z0-9]+ ( ( [._] | __ | -+ ) [a-z0-9]+ )* */
  gsize i = 0;

  if (len == 0)
    return FALSE;
  while (i < len) {
    gsize run = 0;
    while (i < len && (g_ascii_islower(s[i]) || g_ascii_isdigit(s[i])))
      i++, run++;
    if (run == 0)
      return FALSE;
    if (i == len)
      return TRUE;
    if (s[i] == '.' || (s[i] == '_' && !(i + 1 < len && s[i + 1] == '_')))
      i++;
    else if (s[i] == '_' && s[i + 1] == '_')
      i += 2;
    else if (s[i] == '-')
      while (i < len && s[i] == '-')
        i++;
    else
      return FALSE;
    if (i == len)
      return FALSE;
  }
  return TRUE;
}

static gboolean
tag_ok(const char *t)
{
  gsize len = strlen(t);

  if (len == 0 || len > 128 || !(g_ascii_isalnum(t[0]) || t[0] == '_'))
    return FALSE;
  for (gsize i = 1; i < len; i++)
    if (!(g_ascii_isalnum(t[i]) || t[i] == '_' || t[i] == '.' || t[i] == '-'))
      return FALSE;
  return TRUE;
}

/* A registry: host names joined by dots ([A-Za-z0-9], '-' inside), or an
 * IPv6 address in brackets, then maybe ':' and a port (distribution's
 * reference grammar). Anything else in front of the first '/' is not a
 * registry: a name with a line break or an escape in it never becomes an
 * image name. */
static gboolean
domain_ok(const char *d, gsize len)
{
  gsize i = 0;

  if (len == 0 || len > 255)
    return FALSE;
  if (d[0] == '[') {
    for (i = 1; i < len && (g_ascii_isxdigit(d[i]) || d[i] == ':' || d[i] == '.'); i++)
      ;
    if (i >= len || d[i] != ']' || i == 1)
      return FALSE;
    i++;
  } else {
    for (;;) {
      gsize start = i;
      while (i < len && (g_ascii_isalnum(d[i]) || d[i] == '-'))
        i++;
      if (i == start || d[start] == '-' || d[i - 1] == '-')
        return FALSE;
      if (i < len && d[i] == '.') {
        i++;
        continue;
      }
      break;
    }
  }
  if (i < len && d[i] == ':') {
    gsize digits = 0;
    for (i++; i < len && g_ascii_isdigit(d[i]); i++)
      digits++;
    if (digits == 0 || digits > 5)
      return FALSE;
  }
  return i == len;
}

gboolean
sc_reference_parse(const char *input, ScReference *out, GError **error)
{
  g_autofree char *s = g_strdup(input);
  char *at, *slash, *colon, *path;
  const char *hex;

  memset(out, 0, sizeof(*out));
  if (*s == '\0') {
    g_set_error(error, SC_ERROR, SC_EINVAL, "image reference is empty");
    return FALSE;
  }
  at = strchr(s, '@');
  if (at != NULL) {
    *at = '\0';
    if (!sc_digest_hex(at + 1, &hex, error)) {
      g_autofree char *shown = sc_display(input, 200);
      g_prefix_error(error, "image reference '%s': ", shown);
      return FALSE;
    }
    out->digest = g_strdup(at + 1);
  }
  slash = strrchr(s, '/');
  colon = strrchr(s, ':');
  if (colon != NULL && (slash == NULL || colon > slash)) {
    *colon = '\0';
    if (!tag_ok(colon + 1)) {
      g_autofree char *shown = sc_display(input, 200);
      g_autofree char *tshown = sc_display(colon + 1, 100);
      g_set_error(error, SC_ERROR, SC_EINVAL,
                  "image reference '%s': tag '%s' is not valid ([A-Za-z0-9_][A-Za-z0-9_.-]*, "
                  "at most 128 characters)",
                  shown, tshown);
      goto fail;
    }
    out->tag = g_strdup(colon + 1);
  }
  slash = strchr(s, '/');
  if (slash != NULL && (memchr(s, '.', slash - s) || memchr(s, ':', slash - s) ||
                        (slash - s == 9 && memcmp(s, "localhost", 9) == 0))) {
    if (!domain_ok(s, slash - s)) {
      g_autofree char *shown = sc_display(input, 200);
      g_autofree char *d = g_strndup(s, slash - s);
      g_autofree char *dshown = sc_display(d, 100);
      g_set_error(error, SC_ERROR, SC_EINVAL,
                  "image reference '%s': '%s' is not a valid registry (host names of letters, "
                  "digits and '-' joined by '.', or [IPv6], then maybe ':PORT')",
                  shown, dshown);
      goto fail;
    }
    /* Docker's legacy name for Docker Hub is Docker Hub, as
     * distribution/reference normalizes it: a policy's docker.io scope
     * applies to it (it was a way around one) */
    out->domain = slash - s == 15 && memcmp(s, "index.docker.io", 15) == 0
                    ? g_strdup("docker.io")
                    : g_strndup(s, slash - s);
    path = slash + 1;
  } else {
    out->domain = g_strdup("docker.io");
    path = s;
  }
  if (strcmp(out->domain, "docker.io") == 0 && strchr(path, '/') == NULL)
    out->path = g_strconcat("library/", path, NULL);
  else
    out->path = g_strdup(path);
  /* "localhost/" or "localhost/:x": g_strsplit("") has no component to
   * refuse */
  if (*path == '\0')
    goto empty;
  {
    g_auto(GStrv) parts = g_strsplit(out->path, "/", -1);
    for (char **p = parts; *p; p++)
      if (!path_component_ok(*p, strlen(*p))) {
        g_autofree char *shown = sc_display(input, 200);
        g_autofree char *cshown = sc_display(*p, 100);
        g_set_error(error, SC_ERROR, SC_EINVAL,
                    "image reference '%s': '%s' is not a valid repository name component "
                    "(lowercase letters, digits, and '.', '_', '__' or '-' between them)",
                    shown, cshown);
        goto fail;
      }
  }
  if (out->tag == NULL && out->digest == NULL)
    out->tag = g_strdup("latest");
  return TRUE;
empty:
  {
    g_autofree char *shown = sc_display(input, 200);
    g_set_error(error, SC_ERROR, SC_EINVAL, "image reference '%s': the repository name is empty",
                shown);
  }
fail:
  sc_reference_clear(out);
  return FALSE;
}

void
sc_reference_clear(ScReference *ref)
{
  g_clear_pointer(&ref->domain, g_free);
  g_clear_pointer(&ref->path, g_free);
  g_clear_pointer(&ref->tag, g_free);
  g_clear_pointer(&ref->digest, g_free);
}

char *
sc_reference_to_string(const ScReference *ref)
{
  GString *s = g_string_new(ref->domain);

  g_string_append_printf(s, "/%s", ref->path);
  if (ref->tag)
    g_string_append_printf(s, ":%s", ref->tag);
  if (ref->digest)
    g_string_append_printf(s, "@%s", ref->digest);
  return g_string_free(s, FALSE);
}

char *
sc_reference_normalize(const char *input, GError **error)
{
  ScReference ref;
  char *s;

  if (!sc_reference_parse(input, &ref, error))
    return NULL;
  s = sc_reference_to_string(&ref);
  sc_reference_clear(&ref);
  return s;
}

char *
sc_reference_store_name(const char *input, GError **error)
{
  ScReference ref;
  char *s;

  if (!sc_reference_parse(input, &ref, error))
    return NULL;
  if (ref.tag != NULL)
    g_clear_pointer(&ref.digest, g_free);
  s = sc_reference_to_string(&ref);
  sc_reference_clear(&ref);
  return s;
}

/* A name given for an image (pull --name, images tag): a short one names
 * no registry, so it goes under localhost/ as podman does. An empty name or
 * repository (':x', '') is refused naming the value as given. */
char *
sc_reference_normalize_local(const char *name, GError **error)
{
  g_autofree char *repo = g_strdup(name);
  char *at = strchr(repo, '@'), *slash, *colon;

  if (at)
    *at = '\0';
  slash = strrchr(repo, '/');
  colon = strrchr(repo, ':');
  if (colon && (slash == NULL || colon > slash))
    *colon = '\0';
  if (*repo == '\0' || repo[strlen(repo) - 1] == '/') {
    g_autofree char *shown = sc_display(name, 200);
    g_set_error(error, SC_ERROR, SC_EINVAL, "image name '%s': the repository name is empty",
                shown);
    return NULL;
  }
  if (sc_reference_is_short(name)) {
    g_autofree char *local = g_strconcat("localhost/", name, NULL);
    return sc_reference_normalize(local, error);
  }
  return sc_reference_normalize(name, error);
}

gboolean
sc_reference_is_short(const char *input)
{
  const char *slash = strchr(input, '/');
  g_autofree char *first = slash ? g_strndup(input, slash - input) : NULL;

  return first == NULL ||
         !(strchr(first, '.') || strchr(first, ':') || strcmp(first, "localhost") == 0);
}

/* atomic's _encode_to_ostree_ref / skopeo's encodeOStreeRef: every byte
 * outside [A-Za-z0-9.-] becomes _XX (upper-case hex). */
char *
sc_ref_encode(const char *name)
{
  GString *s = g_string_new(NULL);

  for (const guchar *p = (const guchar *)name; *p; p++) {
    if (g_ascii_isalnum(*p) || *p == '.' || *p == '-')
      g_string_append_c(s, *p);
    else
      g_string_append_printf(s, "_%02X", *p);
  }
  return g_string_free(s, FALSE);
}

char *
sc_ref_decode(const char *encoded)
{
  GString *s = g_string_new(NULL);

  for (const char *p = encoded; *p; p++) {
    if (*p == '_' && g_ascii_isxdigit(p[1]) && g_ascii_isxdigit(p[2])) {
      g_string_append_c(s, (char)(g_ascii_xdigit_value(p[1]) * 16 + g_ascii_xdigit_value(p[2])));
      p += 2;
    } else
      g_string_append_c(s, *p);
  }
  return g_string_free(s, FALSE);
}
