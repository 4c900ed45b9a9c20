/*
 * Registry credentials from the files users' other container tools already
 * use: containers-auth.json (REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR,
 * ~/.config, /etc/containers) and Docker's config.json ($DOCKER_CONFIG,
 * ~/.docker), with "credHelpers" and "credsStore" answered by running
 * docker-credential-NAME get. Keys match most specific first
 * (host/ns/repo, host/ns, host); Docker's https://index.docker.io/v1/ is
 * docker.io.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "source.h"

#include <string.h>
#include <unistd.h>

/* "https://index.docker.io/v1/" -> "docker.io"; "quay.io/x" stays. */
static char *
normalize_key(const char *key)
{
  const char *k = key;
  char *out;

  if (g_str_has_prefix(k, "https://"))
    k += 8;
  else if (g_str_has_prefix(k, "http://"))
    k += 7;
  out = g_strdup(k);
  if (strstr(key, "://")) {
    /* URL form: the host only */
    char *slash = strchr(out, '/');
    if (slash)
      *slash = '\0';
  }
  while (g_str_has_suffix(out, "/"))
    out[strlen(out) - 1] = '\0';
  if (strcmp(out, "index.docker.io") == 0 || strcmp(out, "registry-1.docker.io") == 0) {
    g_free(out);
    out = g_strdup("docker.io");
  }
  return out;
}

static gboolean
run_helper(const char *helper, const char *server, char **out_user, char **out_pass,
           GError **error)
{
  g_autofree char *prog = g_strconcat("docker-credential-", helper, NULL);
  g_autofree char *path = g_find_program_in_path(prog);
  g_autoptr(GSubprocess) p = NULL;
  g_autoptr(GBytes) in = NULL;
  g_autoptr(GBytes) out = NULL;
  g_autoptr(GBytes) err = NULL;
  json_t *doc;
  const char *user, *secret;

  if (path == NULL) {
    g_set_error(error, SC_ERROR, SC_EAUTH,
                "credential helper %s (for %s) is not installed", prog, server);
    return FALSE;
  }
  p = g_subprocess_new(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                           G_SUBPROCESS_FLAGS_STDERR_PIPE,
                       error, path, "get", NULL);
  if (p == NULL)
    return FALSE;
  in = g_bytes_new(server, strlen(server));
  if (!g_subprocess_communicate(p, in, NULL, &out, &err, error))
    return FALSE;
  if (!g_subprocess_get_successful(p)) {
    gsize len;
    const char *text = out ? g_bytes_get_data(out, &len) : "";
    /* "credentials not found in native keychain": no credentials */
    if (text && strstr(text, "not found"))
      return TRUE;
    g_set_error(error, SC_ERROR, SC_EAUTH, "credential helper %s failed for %s", prog, server);
    return FALSE;
  }
  doc = json_loadb(g_bytes_get_data(out, NULL), g_bytes_get_size(out), 0, NULL);
  user = json_string_value(json_object_get(doc, "Username"));
  secret = json_string_value(json_object_get(doc, "Secret"));
  if (user && secret) {
    *out_user = g_strdup(user);
    *out_pass = g_strdup(secret);
  }
  json_decref(doc);
  return TRUE;
}

/* Looks @keys (most specific first) up in one file. Returns TRUE and sets
 * *out_found when the file decides (credentials, or a helper's answer). */
gboolean
sc_auth_lookup_text(const char *path, const char *text, gsize len, char **keys,
                    gboolean *out_found, char **out_user, char **out_pass, GError **error)
{
  json_t *doc, *auths, *helpers;
  gboolean ok = TRUE;

  *out_found = FALSE;
  doc = json_loadb(text, len, 0, NULL);
  if (!json_is_object(doc)) {
    json_decref(doc);
    g_set_error(error, SC_ERROR, SC_EAUTH, "auth file %s is not a JSON object", path);
    return FALSE;
  }
  auths = json_object_get(doc, "auths");
  helpers = json_object_get(doc, "credHelpers");
  for (char **k = keys; *k && !*out_found && ok; k++) {
    const char *name;
    json_t *entry;
    const char *helper = NULL;

    json_object_foreach(helpers, name, entry)
    {
      g_autofree char *n = normalize_key(name);
      if (strcmp(n, *k) == 0 && json_is_string(entry))
        helper = json_string_value(entry);
    }
    if (helper) {
      ok = run_helper(helper, *k, out_user, out_pass, error);
      *out_found = TRUE;
      break;
    }
    json_object_foreach(auths, name, entry)
    {
      g_autofree char *n = normalize_key(name);
      const char *b64;
      if (strcmp(n, *k) != 0 || !json_is_object(entry))
        continue;
      b64 = json_string_value(json_object_get(entry, "auth"));
      if (json_is_string(json_object_get(entry, "identitytoken")) &&
          *json_string_value(json_object_get(entry, "identitytoken"))) {
        /* an OAuth2 refresh token (docker login with an identity token):
         * the user name "<token>" says so, as credential helpers do */
        *out_user = g_strdup(SC_IDENTITY_TOKEN_USER);
        *out_pass = g_strdup(json_string_value(json_object_get(entry, "identitytoken")));
        *out_found = TRUE;
        break;
      }
      if (b64 && *b64) {
        gsize raw_len;
        g_autofree guchar *raw = g_base64_decode(b64, &raw_len);
        g_autofree char *pair = g_strndup((char *)raw, raw_len);
        char *colon = strchr(pair, ':');
        if (colon == NULL) {
          g_set_error(error, SC_ERROR, SC_EAUTH, "auth file %s: the entry for %s is not "
                      "base64 of USER:PASSWORD", path, name);
          ok = FALSE;
        } else {
          *colon = '\0';
          *out_user = g_strdup(pair);
          *out_pass = g_strdup(colon + 1);
          memset(raw, 0, raw_len);
          memset(colon + 1, 0, strlen(colon + 1));
        }
        *out_found = TRUE;
        break;
      }
      /* an empty entry: the credentials are in credsStore */
      if (json_is_string(json_object_get(doc, "credsStore"))) {
        ok = run_helper(json_string_value(json_object_get(doc, "credsStore")), *k, out_user,
                        out_pass, error);
        *out_found = TRUE;
        break;
      }
    }
  }
  if (!*out_found && ok && json_is_string(json_object_get(doc, "credsStore")) &&
      json_object_size(auths) == 0) {
    /* Docker Desktop and az acr login write only credsStore */
    ok = run_helper(json_string_value(json_object_get(doc, "credsStore")), keys[g_strv_length(keys) - 1],
                    out_user, out_pass, error);
    *out_found = *out_user != NULL;
  }
  json_decref(doc);
  return ok;
}

static gboolean
lookup_file(const char *path, char **keys, gboolean *out_found, char **out_user, char **out_pass,
            GError **error)
{
  g_autofree char *text = NULL;
  gsize len;

  *out_found = FALSE;
  if (!g_file_get_contents(path, &text, &len, NULL))
    return TRUE;
  return sc_auth_lookup_text(path, text, len, keys, out_found, out_user, out_pass, error);
}

GPtrArray *
sc_auth_files(const char *explicit_file)
{
  GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
  const char *env;

  if (explicit_file) {
    g_ptr_array_add(files, g_strdup(explicit_file));
    return files; /* an explicit file is the only one */
  }
  if ((env = g_getenv("REGISTRY_AUTH_FILE")) && *env) {
    g_ptr_array_add(files, g_strdup(env));
    return files;
  }
  if ((env = g_getenv("XDG_RUNTIME_DIR")) && *env)
    g_ptr_array_add(files, g_build_filename(env, "containers", "auth.json", NULL));
  else
    g_ptr_array_add(files, g_strdup_printf("/run/containers/%u/auth.json", (unsigned)getuid()));
  g_ptr_array_add(files, g_build_filename(g_get_user_config_dir(), "containers", "auth.json", NULL));
  g_ptr_array_add(files, g_strdup("/etc/containers/auth.json"));
  if ((env = g_getenv("DOCKER_CONFIG")) && *env)
    g_ptr_array_add(files, g_build_filename(env, "config.json", NULL));
  else
    g_ptr_array_add(files, g_build_filename(g_get_home_dir(), ".docker", "config.json", NULL));
  return files;
}

gboolean
sc_auth_lookup(const char *authfile, const char *domain, const char *path, char **out_user,
               char **out_pass, GError **error)
{
  g_autoptr(GPtrArray) files = sc_auth_files(authfile);
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func(g_free);
  g_auto(GStrv) parts = g_strsplit(path, "/", -1);
  guint n = g_strv_length(parts);

  *out_user = *out_pass = NULL;
  if (authfile && !g_file_test(authfile, G_FILE_TEST_EXISTS)) {
    g_set_error(error, SC_ERROR, SC_ENOTFOUND, "auth file %s does not exist", authfile);
    return FALSE;
  }
  for (guint i = n; i > 0; i--) {
    GString *k = g_string_new(domain);
    for (guint j = 0; j < i; j++)
      g_string_append_printf(k, "/%s", parts[j]);
    g_ptr_array_add(keys, g_string_free(k, FALSE));
  }
  g_ptr_array_add(keys, g_strdup(domain));
  g_ptr_array_add(keys, NULL);
  for (guint i = 0; i < files->len; i++) {
    gboolean found = FALSE;
    if (!lookup_file(files->pdata[i], (char **)keys->pdata, &found, out_user, out_pass, error))
      return FALSE;
    if (found)
      return TRUE;
  }
  return TRUE;
}
