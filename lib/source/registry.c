/*
 * The Distribution / OCI registry client (libsoup 3, synchronous API from
 * the pull's worker threads): /v2/ ping, Basic and Bearer authentication
 * with a per-scope token cache, manifests with the full Accept list, blobs
 * with redirects handled here (an Authorization header never goes to another
 * host), Range resume after a dropped connection, bounded retries on 5xx
 * and network errors, and 429 with Retry-After.
 *
 * Everything a registry sends is hostile until checked: a small answer
 * (token, manifest) is read into memory only up to a cap and within a
 * deadline, a blob must keep a minimum rate, and URLs and header values
 * from the network are checked before libsoup sees them (it asserts on
 * what it cannot send). See "Remote input limits" in docs/security.md.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "source.h"

#include <libsoup/soup.h>
#include <string.h>

#define MAX_ATTEMPTS 4
#define MAX_REDIRECTS 5
#define MAX_RETRY_AFTER 60
#define MAX_MANIFEST (4 * 1024 * 1024)
#define MAX_TOKEN_ANSWER (1024 * 1024)
#define MAX_TOKEN_LIFETIME (24 * 3600) /* s; a longer expires_in is cut to this */
#define DEFAULT_TIMEOUT 60             /* s for a small request, all attempts included */
#define DEFAULT_MIN_RATE 1024          /* bytes/s a blob must keep ... */
#define DEFAULT_RATE_WINDOW 30         /* ... over this many seconds of waiting for it */

static const char manifest_accept[] =
    SC_MEDIA_OCI_MANIFEST ", " SC_MEDIA_OCI_INDEX ", " SC_MEDIA_DOCKER_MANIFEST
    ", " SC_MEDIA_DOCKER_LIST;

typedef struct {
  char *value;
  gint64 expires; /* monotonic microseconds */
} Token;

struct ScRegistry {
  SoupSession *session;
  sc_context *log; /* NULL: requests not logged */
  char *host;   /* as in references: "quay.io", "127.0.0.1:5000" */
  char *origin; /* "https://registry-1.docker.io" */
  gboolean tls_verify;
  char *username, *password; /* NULL: anonymous */
  GMutex lock;
  GHashTable *tokens; /* scope -> Token */
  gboolean basic;     /* the registry asked for Basic */
  GList *cas;                  /* extra CAs from certs.d (GTlsCertificate) */
  GTlsCertificate *client;     /* client certificate from certs.d */
  guint timeout, rate_window;  /* s */
  guint64 min_rate;            /* bytes/s */
};

static void
token_free(Token *t)
{
  g_free(t->value);
  g_free(t);
}

void
sc_registry_free(ScRegistry *reg)
{
  if (reg == NULL)
    return;
  g_clear_object(&reg->session);
  g_free(reg->host);
  g_free(reg->origin);
  g_free(reg->username);
  if (reg->password)
    memset(reg->password, 0, strlen(reg->password));
  g_free(reg->password);
  g_hash_table_unref(reg->tokens);
  g_list_free_full(reg->cas, g_object_unref);
  g_clear_object(&reg->client);
  g_mutex_clear(&reg->lock);
  g_free(reg);
}

/* ---- a watchdog per request ----
 *
 * libsoup's own timeout is per read: a server that sends a byte now and
 * then is read forever. A watchdog thread cancels the request's I/O when
 * its deadline passes (a small answer: everything, redirects, retries and
 * the body included, within reg->timeout) or, for a blob, when less than
 * reg->min_rate bytes/s arrived over reg->rate_window seconds spent
 * waiting for the network (time the consumer spends writing the store
 * does not count). */

typedef struct {
  GMutex lock;
  GCond cond;
  GThread *thread;
  GCancellable *cancel;
  gint64 deadline; /* monotonic µs; 0: a blob, held to the rate instead */
  gint64 window;   /* µs of waiting in which min_bytes must arrive */
  guint64 min_bytes;
  gint64 since;  /* monotonic µs a wait for the network began; 0: not waiting */
  gint64 waited; /* waiting in this window before @since */
  guint64 got;   /* bytes that arrived in this window */
  gboolean stop, fired;
} Watch;

static gpointer
watch_run(gpointer data)
{
  Watch *w = data;
  gboolean fired;

  g_mutex_lock(&w->lock);
  while (!w->stop && !w->fired) {
    gint64 now = g_get_monotonic_time();
    gint64 waited = w->waited + (w->since ? now - w->since : 0);

    if (w->deadline && now >= w->deadline)
      w->fired = TRUE;
    else if (w->window && waited >= w->window) {
      if (w->got < w->min_bytes)
        w->fired = TRUE;
      w->waited = w->got = 0; /* the next window */
      if (w->since)
        w->since = now;
    }
    if (!w->fired)
      g_cond_wait_until(&w->cond, &w->lock,
                        w->deadline ? w->deadline : now + MIN(w->window / 4, G_USEC_PER_SEC));
  }
  fired = w->fired;
  g_mutex_unlock(&w->lock);
  /* outside the lock: the cancellable's handlers run in this thread */
  if (fired)
    g_cancellable_cancel(w->cancel);
  return NULL;
}

static Watch *
watch_new(ScRegistry *reg, gboolean blob)
{
  Watch *w = g_new0(Watch, 1);

  g_mutex_init(&w->lock);
  g_cond_init(&w->cond);
  w->cancel = g_cancellable_new();
  if (blob) {
    w->window = (gint64)reg->rate_window * G_USEC_PER_SEC;
    w->min_bytes = reg->min_rate * reg->rate_window;
  } else
    w->deadline = g_get_monotonic_time() + (gint64)reg->timeout * G_USEC_PER_SEC;
  w->thread = g_thread_new("sc-watch", watch_run, w);
  return w;
}

static void
watch_free(Watch *w)
{
  if (w == NULL)
    return;
  g_mutex_lock(&w->lock);
  w->stop = TRUE;
  g_cond_signal(&w->cond);
  g_mutex_unlock(&w->lock);
  g_thread_join(w->thread);
  g_object_unref(w->cancel);
  g_mutex_clear(&w->lock);
  g_cond_clear(&w->cond);
  g_free(w);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Watch, watch_free)

/* watch_begin() and watch_end() go around every call that waits for the
 * network; @got: the bytes it brought. */
static void
watch_begin(Watch *w)
{
  g_mutex_lock(&w->lock);
  w->since = g_get_monotonic_time();
  g_mutex_unlock(&w->lock);
}

static void
watch_end(Watch *w, gssize got)
{
  g_mutex_lock(&w->lock);
  if (w->since)
    w->waited += g_get_monotonic_time() - w->since;
  w->since = 0;
  w->got += MAX(got, 0);
  g_mutex_unlock(&w->lock);
}

static gboolean
watch_fired(Watch *w)
{
  gboolean fired;

  g_mutex_lock(&w->lock);
  fired = w->fired;
  g_mutex_unlock(&w->lock);
  return fired;
}

/* Sleeps before a retry, but not past the deadline, nor (a blob, held to
 * a rate) longer than one rate window: a Retry-After is the server's word
 * and would otherwise add time that no limit counts. */
static void
watch_sleep(Watch *w, gint64 usec)
{
  if (w->deadline)
    usec = CLAMP(w->deadline - g_get_monotonic_time(), 0, usec);
  else if (w->window > 0)
    usec = MIN(usec, w->window);
  g_usleep(usec);
}

/* The error of a failed network call: "registry HOST: WHAT: why", where
 * WHAT names the request ("GET /v2/…", "token server URL"). */
static void
set_network_error(ScRegistry *reg, Watch *w, const char *what, const GError *local,
                  GError **error)
{
  if (w && watch_fired(w) && w->deadline)
    g_set_error(error, SC_ERROR, SC_ENETWORK,
                "registry %s: %s: no complete answer within %u s (SC_REGISTRY_TIMEOUT)",
                reg->host, what, reg->timeout);
  else if (w && watch_fired(w))
    g_set_error(error, SC_ERROR, SC_ENETWORK,
                "registry %s: %s: less than %" G_GUINT64_FORMAT
                " bytes/s over %u s (SC_REGISTRY_MIN_RATE, SC_REGISTRY_RATE_WINDOW)",
                reg->host, what, reg->min_rate, reg->rate_window);
  else
    g_set_error(error, SC_ERROR, SC_ENETWORK, "registry %s: %s: %s", reg->host, what,
                local ? local->message : "the connection closed early");
}

/* Sends @msg within @w; NULL and the error when no answer came. */
static GInputStream *
send_watched(ScRegistry *reg, SoupMessage *msg, Watch *w, GError **error)
{
  GInputStream *body;

  if (reg->log) {
    g_autofree char *uri = g_uri_to_string(soup_message_get_uri(msg));
    sc_context_log(reg->log, SC_LOG_DEBUG, "registry %s: %s %s", reg->host,
                   soup_message_get_method(msg), uri);
  }
  watch_begin(w);
  body = soup_session_send(reg->session, msg, w->cancel, error);
  if (reg->log && body)
    sc_context_log(reg->log, SC_LOG_DEBUG, "registry %s: HTTP %u", reg->host,
                   soup_message_get_status(msg));
  watch_end(w, 0);
  return body;
}

/* The body of a small answer, whole, into memory: at most @cap bytes (a
 * larger Content-Length is refused before reading; a body without one is
 * cut off at the cap), within @w. Content decoding is off in the session,
 * so the cap counts the bytes that are kept. */
static GBytes *
read_capped(ScRegistry *reg, SoupMessage *msg, GInputStream *body, Watch *w, gsize cap,
            const char *what, GError **error)
{
  SoupMessageHeaders *h = soup_message_get_response_headers(msg);
  g_autoptr(GByteArray) buf = g_byte_array_new();
  guchar chunk[16384];

  if (soup_message_headers_get_encoding(h) == SOUP_ENCODING_CONTENT_LENGTH &&
      soup_message_headers_get_content_length(h) > (goffset)cap) {
    g_set_error(error, SC_ERROR, SC_ENETWORK,
                "registry %s: %s: the answer has %" G_GOFFSET_FORMAT
                " bytes, more than the limit of %zu",
                reg->host, what, soup_message_headers_get_content_length(h), cap);
    return NULL;
  }
  for (;;) {
    g_autoptr(GError) local = NULL;
    gssize n;

    watch_begin(w);
    n = g_input_stream_read(body, chunk, sizeof(chunk), w->cancel, &local);
    watch_end(w, n);
    if (n < 0) {
      set_network_error(reg, w, what, local, error);
      return NULL;
    }
    if (n == 0)
      break;
    if (buf->len + (gsize)n > cap) {
      g_set_error(error, SC_ERROR, SC_ENETWORK,
                  "registry %s: %s: the answer is larger than the limit of %zu bytes", reg->host,
                  what, cap);
      return NULL;
    }
    g_byte_array_append(buf, chunk, n);
  }
  return g_byte_array_free_to_bytes(g_steal_pointer(&buf));
}

/* ---- what goes to libsoup ---- */

static gboolean
accept_any_certificate(SoupMessage *msg, GTlsCertificate *cert, GTlsCertificateFlags errors,
                       gpointer data)
{
  return TRUE;
}

/* A certificate the system does not trust is accepted when one of the
 * certs.d CAs of this registry issued it for this host. */
static gboolean
accept_certs_d(SoupMessage *msg, GTlsCertificate *cert, GTlsCertificateFlags errors,
               gpointer data)
{
  ScRegistry *reg = data;
  GUri *uri = soup_message_get_uri(msg);
  g_autoptr(GSocketConnectable) identity =
      g_network_address_new(g_uri_get_host(uri), g_uri_get_port(uri));

  for (GList *l = reg->cas; l; l = l->next)
    if (g_tls_certificate_verify(cert, identity, l->data) == 0)
      return TRUE;
  return FALSE;
}

/* A header value libsoup accepts, and nothing that would make another
 * header or end the request: printable ASCII only. */
static gboolean
header_value_ok(const char *value)
{
  for (const guchar *p = (const guchar *)value; *p; p++)
    if (*p < 0x20 || *p > 0x7e)
      return FALSE;
  return TRUE;
}

/* At most 200 bytes of what a server sent, escaped as every message of
 * the library escapes content (sc_display), in quotes. */
static char *
quoted(const char *s)
{
  g_autofree char *p = sc_display(s, 200);

  return g_strdup_printf("'%s'", p);
}

/* @url parsed as sent (escapes kept), or NULL with the reason: printable
 * ASCII, http or https, a host of name characters only (an escape there
 * would be decoded into the Host header), no user information. */
static GUri *
parse_http_url(const char *url, const char **out_why)
{
  g_autoptr(GUri) uri = NULL;
  const char *scheme, *host;

  *out_why = "not printable ASCII";
  if (!header_value_ok(url) || strchr(url, ' '))
    return NULL;
  *out_why = "not a valid URL";
  uri = g_uri_parse(url, G_URI_FLAGS_ENCODED, NULL);
  if (uri == NULL)
    return NULL;
  scheme = g_uri_get_scheme(uri);
  host = g_uri_get_host(uri);
  *out_why = "not an http or https URL";
  if (g_ascii_strcasecmp(scheme, "http") != 0 && g_ascii_strcasecmp(scheme, "https") != 0)
    return NULL;
  *out_why = "the URL has no valid host";
  if (host == NULL || *host == '\0' ||
      host[strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:")])
    return NULL;
  *out_why = "the URL holds user information";
  if (g_uri_get_userinfo(uri) != NULL)
    return NULL;
  return g_steal_pointer(&uri);
}

/* A message for @url, or NULL and an error saying why the URL (which may
 * have come from a redirect or a challenge) is refused. */
static SoupMessage *
new_message(ScRegistry *reg, const char *method, const char *url, const char *what,
            GError **error)
{
  const char *why;
  g_autoptr(GUri) uri = parse_http_url(url, &why);
  SoupMessage *msg;

  if (uri == NULL) {
    g_autofree char *q = quoted(url);
    g_set_error(error, SC_ERROR, SC_ENETWORK, "registry %s: %s: refusing URL %s: %s", reg->host,
                what, q, why);
    return NULL;
  }
  msg = soup_message_new_from_uri(method, uri);
  soup_message_add_flags(msg, SOUP_MESSAGE_NO_REDIRECT);
  if (!reg->tls_verify)
    g_signal_connect(msg, "accept-certificate", G_CALLBACK(accept_any_certificate), NULL);
  else if (reg->cas)
    g_signal_connect(msg, "accept-certificate", G_CALLBACK(accept_certs_d), reg);
  if (reg->client)
    soup_message_set_tls_client_certificate(msg, reg->client);
  soup_message_headers_replace(soup_message_get_request_headers(msg), "User-Agent",
                               "libsyscontainer/" SC_VERSION);
  return msg;
}

/* ---- WWW-Authenticate ---- */

typedef struct {
  char *scheme;
  GHashTable *params;
} Challenge;

static void
challenge_clear(Challenge *c)
{
  g_clear_pointer(&c->scheme, g_free);
  g_clear_pointer(&c->params, g_hash_table_unref);
}

/* The first challenge of the header: scheme, then key=value or
 * key="quoted, with \" escapes" pairs separated by commas. */
gboolean
sc_parse_www_authenticate(const char *header, char **out_scheme, GHashTable **out_params)
{
  const char *p = header;
  GString *scheme = g_string_new(NULL);
  GHashTable *params = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

  while (*p == ' ')
    p++;
  while (*p && *p != ' ' && *p != ',')
    g_string_append_c(scheme, g_ascii_tolower(*p++));
  while (*p) {
    GString *key = g_string_new(NULL), *value = g_string_new(NULL);
    while (*p == ' ' || *p == ',')
      p++;
    while (*p && *p != '=' && *p != ' ' && *p != ',')
      g_string_append_c(key, g_ascii_tolower(*p++));
    if (*p != '=') {
      /* a new scheme begins (several challenges in one header): stop */
      g_string_free(key, TRUE);
      g_string_free(value, TRUE);
      break;
    }
    p++;
    if (*p == '"') {
      p++;
      while (*p && *p != '"') {
        if (*p == '\\' && p[1])
          p++;
        g_string_append_c(value, *p++);
      }
      if (*p == '"')
        p++;
    } else
      while (*p && *p != ',' && *p != ' ')
        g_string_append_c(value, *p++);
    if (key->len)
      g_hash_table_replace(params, g_string_free(key, FALSE), g_string_free(value, FALSE));
    else {
      g_string_free(key, TRUE);
      g_string_free(value, TRUE);
    }
  }
  if (scheme->len == 0) {
    g_string_free(scheme, TRUE);
    g_hash_table_unref(params);
    return FALSE;
  }
  *out_scheme = g_string_free(scheme, FALSE);
  *out_params = params;
  return TRUE;
}

/* Appends KEY=VALUE (URL-escaped) to a query or form, after a '&' unless
 * it starts it; nothing when @value is NULL. The escaped copy is wiped (it
 * may be a secret). */
static void
add_param(GString *s, const char *key, const char *value)
{
  g_autofree char *v = NULL;

  if (value == NULL)
    return;
  v = g_uri_escape_string(value, NULL, FALSE);
  if (s->len > 0 && s->str[s->len - 1] != '?' && s->str[s->len - 1] != '&')
    g_string_append_c(s, '&');
  g_string_append_printf(s, "%s=%s", key, v);
  memset(v, 0, strlen(v));
}

/* Sends @msg to the token server at @realm: its answer's body (capped,
 * within a deadline of its own), or NULL. */
static GBytes *
send_token_request(ScRegistry *reg, SoupMessage *msg, const char *realm, guint *out_status,
                   GError **error)
{
  g_autoptr(Watch) w = watch_new(reg, FALSE);
  g_autofree char *what = g_strdup_printf("token server %s", realm);
  g_autoptr(GError) local = NULL;
  g_autoptr(GInputStream) in = send_watched(reg, msg, w, &local);

  if (in == NULL) {
    set_network_error(reg, w, what, local, error);
    return NULL;
  }
  *out_status = soup_message_get_status(msg);
  if (*out_status != 200)
    return g_bytes_new(NULL, 0); /* the status is the answer; the body is not read */
  return read_capped(reg, msg, in, w, MAX_TOKEN_ANSWER, what, error);
}

/* Keeps the token of a token server's answer for @scope. */
static gboolean
store_token(ScRegistry *reg, GBytes *body, const char *realm, const char *scope, GError **error)
{
  /* (a token answer is small: over the budget it is just not a token) */
  json_t *doc = sc_json_check_budget("token", g_bytes_get_data(body, NULL),
                                     g_bytes_get_size(body), NULL)
                  ? json_loadb(g_bytes_get_data(body, NULL), g_bytes_get_size(body), 0, NULL)
                  : NULL;
  const char *value = json_string_value(json_object_get(doc, "token"));
  json_t *expires = json_object_get(doc, "expires_in");
  json_int_t lifetime = 60;
  Token *tok;

  if (value == NULL || !*value)
    value = json_string_value(json_object_get(doc, "access_token"));
  if (value == NULL || !*value) {
    json_decref(doc);
    g_set_error(error, SC_ERROR, SC_EAUTH, "registry %s: the token server %s sent no token",
                reg->host, realm);
    return FALSE;
  }
  /* it goes into a header: a line break would add headers of the server's
   * choosing (and make libsoup assert) */
  if (!header_value_ok(value)) {
    json_decref(doc);
    g_set_error(error, SC_ERROR, SC_EAUTH,
                "registry %s: the token server %s sent a token with characters that are not "
                "printable ASCII",
                reg->host, realm);
    return FALSE;
  }
  /* at least a minute, at most a day: near 2^63 the microseconds overflow */
  if (json_is_integer(expires))
    lifetime = CLAMP(json_integer_value(expires), 60, MAX_TOKEN_LIFETIME);
  tok = g_new0(Token, 1);
  tok->value = g_strdup(value);
  tok->expires = g_get_monotonic_time() + (lifetime - 5) * G_USEC_PER_SEC;
  json_decref(doc);
  g_mutex_lock(&reg->lock);
  g_hash_table_replace(reg->tokens, g_strdup(scope ? scope : ""), tok);
  g_mutex_unlock(&reg->lock);
  return TRUE;
}

/* The OAuth2 flow of the token spec for an identity (refresh) token: POST
 * grant_type=refresh_token to the realm. */
static gboolean
fetch_token_oauth(ScRegistry *reg, const char *realm, const char *service, const char *scope,
                  GError **error)
{
  g_autoptr(GString) form = g_string_new("grant_type=refresh_token&client_id=syscontainerctl");
  g_autoptr(SoupMessage) msg = new_message(reg, "POST", realm, "the token realm", error);
  g_autoptr(GBytes) request = NULL;
  g_autoptr(GBytes) body = NULL;
  guint status;

  if (msg == NULL)
    return FALSE;
  add_param(form, "service", service);
  add_param(form, "scope", scope);
  add_param(form, "refresh_token", reg->password ? reg->password : "");
  request = g_bytes_new(form->str, form->len);
  memset(form->str, 0, form->len);
  soup_message_set_request_body_from_bytes(msg, "application/x-www-form-urlencoded", request);
  body = send_token_request(reg, msg, realm, &status, error);
  if (body == NULL)
    return FALSE;
  if (status != 200) {
    g_set_error(error, SC_ERROR, SC_EAUTH,
                "registry %s: the token server %s refused the identity token (HTTP %u): log in "
                "again",
                reg->host, realm, status);
    return FALSE;
  }
  return store_token(reg, body, realm, scope, error);
}

static gboolean
fetch_token(ScRegistry *reg, GHashTable *params, const char *scope, GError **error)
{
  const char *realm = g_hash_table_lookup(params, "realm");
  const char *service = g_hash_table_lookup(params, "service");
  g_autoptr(GString) url = NULL;
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GBytes) body = NULL;
  guint status;

  if (realm == NULL) {
    g_set_error(error, SC_ERROR, SC_EAUTH, "registry %s: the Bearer challenge has no realm",
                reg->host);
    return FALSE;
  }
  if (reg->username && strcmp(reg->username, SC_IDENTITY_TOKEN_USER) == 0)
    return fetch_token_oauth(reg, realm, service, scope, error);
  url = g_string_new(realm);
  if (strchr(realm, '?') == NULL)
    g_string_append_c(url, '?');
  add_param(url, "service", service);
  add_param(url, "scope", scope);
  add_param(url, "account", reg->username);
  if (url->str[url->len - 1] == '?')
    g_string_truncate(url, url->len - 1);
  msg = new_message(reg, "GET", url->str, "the token realm", error);
  if (msg == NULL)
    return FALSE;
  /* anonymous unless credentials exist (Docker Hub and ghcr.io want that) */
  if (reg->username) {
    g_autofree char *pair = g_strconcat(reg->username, ":", reg->password ? reg->password : "", NULL);
    g_autofree char *b64 = g_base64_encode((guchar *)pair, strlen(pair));
    g_autofree char *h = g_strconcat("Basic ", b64, NULL);
    soup_message_headers_replace(soup_message_get_request_headers(msg), "Authorization", h);
    memset(pair, 0, strlen(pair));
  }
  body = send_token_request(reg, msg, realm, &status, error);
  if (body == NULL)
    return FALSE;
  if (status == 401 || status == 403) {
    g_set_error(error, SC_ERROR, SC_EAUTH,
                "registry %s: the token server refused %s (HTTP %u): check the credentials",
                reg->host, reg->username ? "the credentials" : "anonymous access", status);
    return FALSE;
  }
  if (status != 200) {
    g_set_error(error, SC_ERROR, SC_EAUTH, "registry %s: token server %s answered HTTP %u",
                reg->host, realm, status);
    return FALSE;
  }
  return store_token(reg, body, realm, scope, error);
}

static void
set_authorization(ScRegistry *reg, SoupMessage *msg, const char *scope)
{
  SoupMessageHeaders *h = soup_message_get_request_headers(msg);
  Token *tok;

  g_mutex_lock(&reg->lock);
  tok = g_hash_table_lookup(reg->tokens, scope ? scope : "");
  if (tok && tok->expires > g_get_monotonic_time()) {
    g_autofree char *v = g_strconcat("Bearer ", tok->value, NULL);
    soup_message_headers_replace(h, "Authorization", v);
  } else if (reg->basic && reg->username) {
    g_autofree char *pair = g_strconcat(reg->username, ":", reg->password ? reg->password : "", NULL);
    g_autofree char *b64 = g_base64_encode((guchar *)pair, strlen(pair));
    g_autofree char *v = g_strconcat("Basic ", b64, NULL);
    soup_message_headers_replace(h, "Authorization", v);
  }
  g_mutex_unlock(&reg->lock);
}

/* Answers a 401: fetch a token or switch to Basic. FALSE: give up. */
static gboolean
authenticate(ScRegistry *reg, SoupMessage *msg, const char *scope, GError **error)
{
  const char *header =
      soup_message_headers_get_one(soup_message_get_response_headers(msg), "WWW-Authenticate");
  Challenge c = {0};
  gboolean ok = FALSE;

  if (header == NULL || !sc_parse_www_authenticate(header, &c.scheme, &c.params)) {
    g_set_error(error, SC_ERROR, SC_EAUTH, "registry %s: authentication required (HTTP 401 "
                "without a usable WWW-Authenticate)", reg->host);
    return FALSE;
  }
  if (strcmp(c.scheme, "bearer") == 0) {
    /* insufficient_scope names the scope it wants */
    const char *want = g_hash_table_lookup(c.params, "scope");
    ok = fetch_token(reg, c.params, want ? want : scope, error);
    if (ok && want && scope && strcmp(want, scope) != 0) {
      g_mutex_lock(&reg->lock);
      Token *t = g_hash_table_lookup(reg->tokens, want);
      if (t) {
        Token *copy = g_new0(Token, 1);
        copy->value = g_strdup(t->value);
        copy->expires = t->expires;
        g_hash_table_replace(reg->tokens, g_strdup(scope), copy);
      }
      g_mutex_unlock(&reg->lock);
    }
  } else if (strcmp(c.scheme, "basic") == 0) {
    if (reg->username == NULL)
      g_set_error(error, SC_ERROR, SC_EAUTH,
                  "registry %s requires a login: give --creds USER[:PASSWORD] or an auth file",
                  reg->host);
    else if (reg->basic)
      g_set_error(error, SC_ERROR, SC_EAUTH, "registry %s refused the credentials for '%s'",
                  reg->host, reg->username);
    else
      ok = reg->basic = TRUE;
  } else
    g_set_error(error, SC_ERROR, SC_EAUTH, "registry %s: unsupported authentication scheme '%s'",
                reg->host, c.scheme);
  challenge_clear(&c);
  return ok;
}

/* How long to wait before retrying a 429 (its Retry-After, capped) or 5xx
 * answer; -1 when the answer is final or the attempts are used up. */
static gint64
retry_delay(SoupMessage *msg, guint status, int attempt)
{
  const char *ra;
  gint64 wait;

  if (!(status == 429 || status >= 500) || attempt >= MAX_ATTEMPTS)
    return -1;
  ra = soup_message_headers_get_one(soup_message_get_response_headers(msg), "Retry-After");
  if (status == 429 && ra)
    wait = CLAMP(g_ascii_strtoll(ra, NULL, 10), 0, MAX_RETRY_AFTER) * G_USEC_PER_SEC;
  else
    wait = attempt * G_USEC_PER_SEC / 4;
  return wait;
}

static char *
host_of(const char *url)
{
  g_autoptr(GUri) uri = g_uri_parse(url, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL)
    return NULL;
  return g_strdup_printf("%s://%s:%d", g_uri_get_scheme(uri), g_uri_get_host(uri),
                         g_uri_get_port(uri));
}

/* "GET /v2/…", or with " (redirected to URL)" once it was: what the
 * errors of a request name. */
static char *
request_name(const char *method, const char *path, const char *url, int redirects)
{
  g_autofree char *p = redirects ? sc_display(url, 200) : NULL;

  if (redirects == 0)
    return g_strdup_printf("%s %s", method, path);
  return g_strdup_printf("%s %s (redirected to %s)", method, path, p);
}

/* Sends a request within @w, following redirects (without Authorization
 * once the host changes), answering 401 once, and retrying 429, 5xx and
 * network errors. Returns the response body stream of a 2xx (or 206)
 * answer; the bodies of other answers are not read.
 * @range_from: > 0 asks for bytes from there on. */
static GInputStream *
send_request(ScRegistry *reg, Watch *w, const char *method, const char *path, const char *scope,
             const char *accept, guint64 range_from, SoupMessage **out_msg, GError **error)
{
  g_autofree char *url = g_strconcat(reg->origin, path, NULL);
  g_autofree char *origin_host = host_of(url);
  gboolean authed = FALSE;
  int redirects = 0, attempt = 0;

  for (;;) {
    g_autofree char *what = request_name(method, path, url, redirects);
    g_autoptr(SoupMessage) msg = new_message(reg, method, url, what, error);
    g_autoptr(GError) local = NULL;
    g_autofree char *this_host = host_of(url);
    GInputStream *body;
    guint status;

    if (msg == NULL)
      return NULL;
    if (accept)
      soup_message_headers_replace(soup_message_get_request_headers(msg), "Accept", accept);
    if (range_from > 0) {
      g_autofree char *r = g_strdup_printf("bytes=%" G_GUINT64_FORMAT "-", range_from);
      soup_message_headers_replace(soup_message_get_request_headers(msg), "Range", r);
    }
    /* credentials only for the registry itself, never for a redirect target */
    if (g_strcmp0(this_host, origin_host) == 0)
      set_authorization(reg, msg, scope);
    body = send_watched(reg, msg, w, &local);
    if (body == NULL) {
      if (++attempt < MAX_ATTEMPTS && !watch_fired(w)) {
        watch_sleep(w, G_USEC_PER_SEC / 4 * attempt);
        continue;
      }
      set_network_error(reg, w, what, local, error);
      return NULL;
    }
    status = soup_message_get_status(msg);
    if (status >= 300 && status < 400 && status != 304) {
      const char *loc =
          soup_message_headers_get_one(soup_message_get_response_headers(msg), "Location");
      g_autoptr(GUri) base = g_uri_parse(url, G_URI_FLAGS_ENCODED, NULL);
      gboolean ascii = loc && header_value_ok(loc);
      g_autoptr(GUri) next = ascii && base
                                 ? g_uri_parse_relative(base, loc, G_URI_FLAGS_ENCODED, NULL)
                                 : NULL;
      g_object_unref(body);
      if (loc == NULL) {
        g_set_error(error, SC_ERROR, SC_ENETWORK, "registry %s: %s: a redirect without a Location",
                    reg->host, what);
        return NULL;
      }
      if (next == NULL) {
        g_autofree char *q = quoted(loc);
        g_set_error(error, SC_ERROR, SC_ENETWORK, "registry %s: %s: refusing the redirect to %s: %s",
                    reg->host, what, q, ascii ? "not a valid URL" : "not printable ASCII");
        return NULL;
      }
      if (++redirects > MAX_REDIRECTS) {
        g_set_error(error, SC_ERROR, SC_ENETWORK, "registry %s: %s: more than %d redirects",
                    reg->host, what, MAX_REDIRECTS);
        return NULL;
      }
      g_free(url);
      url = g_uri_to_string(next);
      continue;
    }
    if (status == 401 && !authed && g_strcmp0(this_host, origin_host) == 0) {
      g_object_unref(body);
      authed = TRUE;
      if (!authenticate(reg, msg, scope, error))
        return NULL;
      continue;
    }
    if (retry_delay(msg, status, attempt + 1) >= 0) {
      g_object_unref(body);
      watch_sleep(w, retry_delay(msg, status, ++attempt));
      /* (slept to the deadline: the watch's timer may not have fired yet
       * on a loaded machine, and the next attempt would be answered) */
      if (w->deadline && g_get_monotonic_time() >= w->deadline) {
        g_set_error(error, SC_ERROR, SC_ENETWORK,
                    "registry %s: %s: no complete answer within %u s (SC_REGISTRY_TIMEOUT)",
                    reg->host, what, reg->timeout);
        return NULL;
      }
      continue;
    }
    if (status < 200 || status >= 300) {
      g_autofree char *reason = quoted(soup_message_get_reason_phrase(msg));
      g_object_unref(body);
      if (status == 404)
        g_set_error(error, SC_ERROR, SC_ENOTFOUND, "registry %s: %s not found", reg->host,
                    path);
      else if (status == 401 || status == 403)
        g_set_error(error, SC_ERROR, SC_EAUTH, "registry %s: access to %s denied (HTTP %u)",
                    reg->host, path, status);
      else
        g_set_error(error, SC_ERROR, SC_ENETWORK, "registry %s: %s: HTTP %u %s", reg->host,
                    what, status, reason);
      return NULL;
    }
    *out_msg = g_steal_pointer(&msg);
    return body;
  }
}

static char *
pull_scope(const char *repo)
{
  return g_strdup_printf("repository:%s:pull", repo);
}

GBytes *
sc_registry_get_manifest(ScRegistry *reg, const char *repo, const char *reference,
                         char **out_media_type, GError **error)
{
  g_autofree char *path = g_strdup_printf("/v2/%s/manifests/%s", repo, reference);
  g_autofree char *scope = pull_scope(repo);
  g_autofree char *what = g_strconcat("GET ", path, NULL);
  g_autoptr(Watch) w = watch_new(reg, FALSE);
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GInputStream) body = NULL;
  GBytes *bytes;
  const char *ct;

  body = send_request(reg, w, "GET", path, scope, manifest_accept, 0, &msg, error);
  if (body == NULL)
    return NULL;
  bytes = read_capped(reg, msg, body, w, MAX_MANIFEST, what, error);
  if (bytes == NULL)
    return NULL;
  ct = soup_message_headers_get_content_type(soup_message_get_response_headers(msg), NULL);
  *out_media_type = g_strdup(ct ? ct : "");
  return bytes;
}

/* HEAD of a manifest: its digest (Docker-Content-Digest), without the
 * body; NULL (no error) when the registry does not send a valid one. */
char *
sc_registry_head_manifest(ScRegistry *reg, const char *repo, const char *reference,
                          GError **error)
{
  g_autofree char *path = g_strdup_printf("/v2/%s/manifests/%s", repo, reference);
  g_autofree char *scope = pull_scope(repo);
  g_autoptr(Watch) w = watch_new(reg, FALSE);
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GInputStream) body = NULL;
  const char *digest, *hex;

  body = send_request(reg, w, "HEAD", path, scope, manifest_accept, 0, &msg, error);
  if (body == NULL)
    return NULL;
  digest = soup_message_headers_get_one(soup_message_get_response_headers(msg),
                                        "Docker-Content-Digest");
  return digest && sc_content_digest_hex(digest, &hex, NULL) ? g_strdup(digest) : NULL;
}

/* A lookaside signature: an absolute URL that may be on another host,
 * so no credentials are sent; redirects followed (bounded), 5xx and 429
 * retried, all within one deadline. */
GBytes *
sc_registry_get_url(ScRegistry *reg, const char *url, gsize cap, GError **error)
{
  g_autoptr(Watch) w = watch_new(reg, FALSE);
  g_autofree char *cur = g_strdup(url);
  g_autofree char *shown = sc_display(url, 200);
  int redirects = 0;

  for (int attempt = 1;; attempt++) {
    g_autofree char *what = request_name("GET", shown, cur, redirects);
    g_autoptr(SoupMessage) msg = new_message(reg, "GET", cur, what, error);
    g_autoptr(GInputStream) body = NULL;
    g_autoptr(GError) local = NULL;
    guint status;

    if (msg == NULL)
      return NULL;
    body = send_watched(reg, msg, w, &local);
    if (body == NULL) {
      set_network_error(reg, w, what, local, error);
      return NULL;
    }
    status = soup_message_get_status(msg);
    if (status >= 300 && status < 400 && status != 304) {
      const char *loc =
          soup_message_headers_get_one(soup_message_get_response_headers(msg), "Location");
      g_autoptr(GUri) base = g_uri_parse(cur, G_URI_FLAGS_ENCODED, NULL);
      g_autoptr(GUri) next = loc && header_value_ok(loc) && base
                                 ? g_uri_parse_relative(base, loc, G_URI_FLAGS_ENCODED, NULL)
                                 : NULL;
      if (next == NULL || ++redirects > MAX_REDIRECTS) {
        g_set_error(error, SC_ERROR, SC_ENETWORK, "%s: %s", what,
                    next ? "too many redirects" : "a redirect without a valid Location");
        return NULL;
      }
      g_free(cur);
      cur = g_uri_to_string(next);
      continue;
    }
    if (retry_delay(msg, status, attempt) >= 0) {
      watch_sleep(w, retry_delay(msg, status, attempt));
      continue;
    }
    if (status == 404) {
      g_set_error(error, SC_ERROR, SC_ENOTFOUND, "%s: not found", what);
      return NULL;
    }
    if (status < 200 || status >= 300) {
      g_autofree char *reason = quoted(soup_message_get_reason_phrase(msg));
      g_set_error(error, SC_ERROR, SC_ENETWORK, "%s: HTTP %u %s", what, status, reason);
      return NULL;
    }
    return read_capped(reg, msg, body, w, cap, what, error);
  }
}

/* ---- a blob body that resumes with Range after a dropped connection ---- */

typedef struct {
  GInputStream parent;
  ScRegistry *reg;
  char *path, *scope, *what;
  guint64 size, offset;
  GInputStream *body;
  SoupMessage *msg;
  Watch *watch; /* the minimum rate, over the whole stream */
  int resumes;
} ScBlobStream;

typedef struct {
  GInputStreamClass parent_class;
} ScBlobStreamClass;

static GType sc_blob_stream_get_type(void);
G_DEFINE_TYPE(ScBlobStream, sc_blob_stream, G_TYPE_INPUT_STREAM)

static gboolean
blob_reopen(ScBlobStream *s, GError **error)
{
  g_clear_object(&s->body);
  g_clear_object(&s->msg);
  s->body = send_request(s->reg, s->watch, "GET", s->path, s->scope, NULL, s->offset, &s->msg,
                         error);
  if (s->body == NULL)
    return FALSE;
  if (s->offset > 0 && soup_message_get_status(s->msg) == 206) {
    /* the range must start where the data stopped */
    const char *cr = soup_message_headers_get_one(soup_message_get_response_headers(s->msg),
                                                  "Content-Range");
    if (cr == NULL || !g_str_has_prefix(cr, "bytes ") ||
        g_ascii_strtoull(cr + 6, NULL, 10) != s->offset) {
      g_autofree char *q = quoted(cr ? cr : "");
      g_set_error(error, SC_ERROR, SC_ENETWORK,
                  "registry %s: %s: asked to resume at byte %" G_GUINT64_FORMAT
                  ", the registry sent Content-Range %s",
                  s->reg->host, s->what, s->offset, q);
      return FALSE;
    }
  } else if (s->offset > 0) {
    /* no Range support: read again from the start and skip what we have */
    guint64 skip = s->offset;
    while (skip > 0) {
      g_autoptr(GError) local = NULL;
      gssize n;
      watch_begin(s->watch);
      n = g_input_stream_skip(s->body, MIN(skip, 1 << 20), s->watch->cancel, &local);
      watch_end(s->watch, n);
      if (n <= 0) {
        set_network_error(s->reg, s->watch, s->what, local, error);
        return FALSE;
      }
      skip -= n;
    }
  }
  return TRUE;
}

/* Reads within the stream's own watchdog (callers pass no cancellable). */
static gssize
blob_read(GInputStream *stream, void *buf, gsize count, GCancellable *c, GError **error)
{
  ScBlobStream *s = (ScBlobStream *)stream;

  for (;;) {
    g_autoptr(GError) local = NULL;
    gssize n;

    if (s->offset >= s->size)
      return 0;
    if (count > s->size - s->offset)
      count = s->size - s->offset;
    if (s->body == NULL && !blob_reopen(s, error))
      return -1;
    watch_begin(s->watch);
    n = g_input_stream_read(s->body, buf, count, s->watch->cancel, &local);
    watch_end(s->watch, n);
    if (n > 0) {
      s->offset += n;
      return n;
    }
    if (watch_fired(s->watch)) {
      set_network_error(s->reg, s->watch, s->what, local, error);
      return -1;
    }
    /* an error or an early end: resume from where the data stopped */
    if (s->resumes++ >= MAX_ATTEMPTS) {
      g_set_error(error, SC_ERROR, SC_ENETWORK,
                  "registry %s: %s: the connection dropped at byte %" G_GUINT64_FORMAT
                  " of %" G_GUINT64_FORMAT " %d times: %s",
                  s->reg->host, s->what, s->offset, s->size, MAX_ATTEMPTS,
                  local ? local->message : "end of data");
      return -1;
    }
    g_clear_object(&s->body);
  }
}

static void
sc_blob_stream_finalize(GObject *object)
{
  ScBlobStream *s = (ScBlobStream *)object;
  g_clear_object(&s->body);
  g_clear_object(&s->msg);
  g_clear_pointer(&s->watch, watch_free);
  g_free(s->path);
  g_free(s->scope);
  g_free(s->what);
  G_OBJECT_CLASS(sc_blob_stream_parent_class)->finalize(object);
}

static void
sc_blob_stream_class_init(ScBlobStreamClass *klass)
{
  G_OBJECT_CLASS(klass)->finalize = sc_blob_stream_finalize;
  G_INPUT_STREAM_CLASS(klass)->read_fn = blob_read;
}

static void
sc_blob_stream_init(ScBlobStream *s)
{
}

GInputStream *
sc_registry_open_blob(ScRegistry *reg, const char *repo, const char *digest, guint64 size,
                      GError **error)
{
  ScBlobStream *s = g_object_new(sc_blob_stream_get_type(), NULL);

  s->reg = reg;
  s->path = g_strdup_printf("/v2/%s/blobs/%s", repo, digest);
  s->what = g_strconcat("GET ", s->path, NULL);
  s->scope = pull_scope(repo);
  s->size = size;
  s->watch = watch_new(reg, TRUE);
  if (!blob_reopen(s, error)) {
    g_object_unref(s);
    return NULL;
  }
  return G_INPUT_STREAM(s);
}

/* certs.d: the first of --cert-dir, ~/.config/containers/certs.d/HOST,
 * /etc/containers/certs.d/HOST, /etc/docker/certs.d/HOST that exists;
 * *.crt are CAs added to the system's, X.cert + X.key a client pair. */
static gboolean
load_certs_d(ScRegistry *reg, const char *cert_dir, GError **error)
{
  g_autofree char *user = g_build_filename(g_get_user_config_dir(), "containers", "certs.d",
                                           reg->host, NULL);
  g_autofree char *etc = g_build_filename("/etc/containers/certs.d", reg->host, NULL);
  g_autofree char *docker = g_build_filename("/etc/docker/certs.d", reg->host, NULL);
  const char *dirs[] = {cert_dir, user, etc, docker};
  const char *dir = NULL;
  g_autoptr(GDir) d = NULL;
  const char *name;

  for (guint i = 0; i < G_N_ELEMENTS(dirs) && dir == NULL; i++)
    if (dirs[i] && g_file_test(dirs[i], G_FILE_TEST_IS_DIR))
      dir = dirs[i];
  if (cert_dir && dir != cert_dir) {
    g_set_error(error, SC_ERROR, SC_ENOTFOUND, "certificate directory %s does not exist",
                cert_dir);
    return FALSE;
  }
  if (dir == NULL || (d = g_dir_open(dir, 0, error)) == NULL)
    return dir == NULL;
  while ((name = g_dir_read_name(d)) != NULL) {
    g_autofree char *path = g_build_filename(dir, name, NULL);
    if (g_str_has_suffix(name, ".crt")) {
      GList *certs = g_tls_certificate_list_new_from_file(path, error);
      if (certs == NULL && error && *error) {
        g_prefix_error(error, "registry %s: CA %s: ", reg->host, path);
        return FALSE;
      }
      reg->cas = g_list_concat(reg->cas, certs);
    } else if (g_str_has_suffix(name, ".cert")) {
      g_autofree char *stem = g_strndup(path, strlen(path) - 5);
      g_autofree char *key = g_strconcat(stem, ".key", NULL);
      if (!g_file_test(key, G_FILE_TEST_EXISTS)) {
        g_set_error(error, SC_ERROR, SC_EAUTH, "registry %s: client certificate %s has no %s",
                    reg->host, path, key);
        return FALSE;
      }
      g_clear_object(&reg->client);
      reg->client = g_tls_certificate_new_from_files(path, key, error);
      if (reg->client == NULL) {
        g_prefix_error(error, "registry %s: client certificate %s: ", reg->host, path);
        return FALSE;
      }
    }
  }
  return TRUE;
}

guint64
sc_env_limit(const char *name, guint64 fallback, guint64 max)
{
  const char *v = g_getenv(name);
  guint64 n;

  return v && g_ascii_string_to_unsigned(v, 10, 1, max, &n, NULL) ? n : fallback;
}

void
sc_net_limits_from_env(ScNetLimits *out)
{
  out->timeout = (guint)sc_env_limit("SC_REGISTRY_TIMEOUT", DEFAULT_TIMEOUT, 86400);
  out->min_rate = sc_env_limit("SC_REGISTRY_MIN_RATE", DEFAULT_MIN_RATE, G_MAXINT32);
  out->rate_window = (guint)sc_env_limit("SC_REGISTRY_RATE_WINDOW", DEFAULT_RATE_WINDOW, 86400);
}

/* Each request is logged at debug level on @ctx's log. */
void
sc_registry_set_log(ScRegistry *reg, sc_context *ctx)
{
  reg->log = ctx;
}

/* "docker.io" talks to registry-1.docker.io; everything else to itself. */
ScRegistry *
sc_registry_new(const char *domain, const char *username, const char *password,
                gboolean tls_verify, const char *cert_dir, int max_conns, GError **error)
{
  ScRegistry *reg = g_new0(ScRegistry, 1);
  const char *api = strcmp(domain, "docker.io") == 0 ? "registry-1.docker.io" : domain;

  reg->host = g_strdup(domain);
  reg->tls_verify = tls_verify;
  reg->username = g_strdup(username);
  reg->password = g_strdup(password);
  {
    ScNetLimits lim;
    sc_net_limits_from_env(&lim);
    reg->timeout = lim.timeout;
    reg->min_rate = lim.min_rate;
    reg->rate_window = lim.rate_window;
  }
  g_mutex_init(&reg->lock);
  reg->tokens = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)token_free);
  /* libsoup's per-read timeout stays as a backstop behind the watchdogs */
  reg->session = soup_session_new_with_options(
      "max-conns-per-host", MAX(2, max_conns + 1), "max-conns", 16, "timeout",
      MAX(reg->timeout, reg->rate_window) + 1, "user-agent", "libsyscontainer/" SC_VERSION, NULL);
  /* decoded bodies would be larger than what the caps count (a gzip bomb
   * as Content-Encoding); without the decoder, no Accept-Encoding is sent */
  soup_session_remove_feature_by_type(reg->session, SOUP_TYPE_CONTENT_DECODER);
  reg->origin = g_strconcat("https://", api, NULL);
  if (!load_certs_d(reg, cert_dir, error)) {
    sc_registry_free(reg);
    return NULL;
  }
  return reg;
}

/* A TLS database that trusts nothing and holds nothing: what a probe of
 * a registry whose certificates are not checked verifies against. */
typedef GTlsDatabase ScNoTrust;
typedef GTlsDatabaseClass ScNoTrustClass;
static GType sc_no_trust_get_type(void);
G_DEFINE_TYPE(ScNoTrust, sc_no_trust, G_TYPE_TLS_DATABASE)

static GTlsCertificateFlags
no_trust_verify_chain(GTlsDatabase *db, GTlsCertificate *chain, const gchar *purpose,
                      GSocketConnectable *identity, GTlsInteraction *interaction,
                      GTlsDatabaseVerifyFlags flags, GCancellable *cancellable, GError **error)
{
  return G_TLS_CERTIFICATE_UNKNOWN_CA;
}

static void
sc_no_trust_class_init(ScNoTrustClass *klass)
{
  klass->verify_chain = no_trust_verify_chain;
}

static void
sc_no_trust_init(ScNoTrust *self)
{
}

static gboolean
accept_any_tls(GTlsConnection *conn, GTlsCertificate *cert, GTlsCertificateFlags errors,
               gpointer data)
{
  return TRUE;
}

/* Whether @api (host[:port]) completes a TLS handshake, for a registry
 * whose certificates are not checked, asked before libsoup is: a TLS
 * connection of libsoup's first has glib-networking load the system's CA
 * bundle (its default database, twice: ~50 ms of CPU, half a re-pull),
 * for nothing when the other end then answers in plain http. Here the
 * connection trusts nothing from the start (ScNoTrust) and accepts any
 * certificate. FALSE, with @out_error, when the handshake failed (where
 * libsoup's https would have failed too, and plain http is tried next);
 * TRUE when it worked and whenever this cannot tell (a proxy is to be
 * used, a client certificate to be shown, no connection): libsoup then
 * tries https as before. */
static gboolean
speaks_tls(ScRegistry *reg, const char *api, Watch *w, GError **out_error)
{
  g_autoptr(GSocketClient) client = NULL;
  g_autoptr(GSocketConnection) conn = NULL;
  g_autoptr(GSocketConnectable) identity = NULL;
  g_autoptr(GTlsDatabase) none = NULL;
  g_autoptr(GIOStream) tls = NULL;
  g_autofree char *url = g_strconcat("https://", api, "/", NULL);
  g_auto(GStrv) proxies = NULL;
  g_autoptr(GError) local = NULL;
  GProxyResolver *resolver;
  GTlsBackend *backend;

  if (reg->client)
    return TRUE;
  backend = g_tls_backend_get_default();
  resolver = soup_session_get_proxy_resolver(reg->session);
  proxies = resolver ? g_proxy_resolver_lookup(resolver, url, w->cancel, NULL) : NULL;
  if (proxies == NULL || proxies[0] == NULL || strcmp(proxies[0], "direct://") != 0)
    return TRUE;
  identity = g_network_address_parse(api, 443, NULL);
  if (identity == NULL)
    return TRUE;
  client = g_socket_client_new();
  conn = g_socket_client_connect(client, identity, w->cancel, NULL);
  if (conn == NULL)
    return TRUE;
  none = g_object_new(sc_no_trust_get_type(), NULL);
  tls = g_initable_new(g_tls_backend_get_client_connection_type(backend),
                       w->cancel, NULL, "base-io-stream", conn, "server-identity", identity,
                       "database", none, "require-close-notify", FALSE, NULL);
  if (tls == NULL)
    return TRUE;
  g_signal_connect(tls, "accept-certificate", G_CALLBACK(accept_any_tls), NULL);
  if (g_tls_connection_handshake(G_TLS_CONNECTION(tls), w->cancel, &local))
    return TRUE;
  g_propagate_error(out_error, g_steal_pointer(&local));
  return FALSE;
}

/* GET /v2/: the registry answers (200, or 401 before a login); its body
 * is not read. Over https; when TLS checks are off (an insecure registry)
 * plain http is tried after https could not connect. Both within one
 * deadline. */
gboolean
sc_registry_ping(ScRegistry *reg, GError **error)
{
  const char *schemes[] = {"https://", "http://"};
  g_autoptr(Watch) w = watch_new(reg, FALSE);
  g_autoptr(GError) first = NULL;

  for (guint i = 0; i < (reg->tls_verify ? 1u : 2u) && !watch_fired(w); i++) {
    const char *api = strstr(reg->origin, "://") + 3;
    g_autofree char *url = g_strconcat(schemes[i], api, "/v2/", NULL);

    if (i == 0 && !reg->tls_verify && !speaks_tls(reg, api, w, &first))
      continue; /* (plain http: libsoup's https would only fail) */
    for (int attempt = 1;; attempt++) {
      g_autoptr(SoupMessage) msg = new_message(reg, "GET", url, "GET /v2/", error);
      g_autoptr(GInputStream) body = NULL;
      g_autoptr(GError) local = NULL;
      guint status;

      if (msg == NULL)
        return FALSE;
      body = send_watched(reg, msg, w, &local);
      if (body == NULL) {
        if (first == NULL)
          first = g_steal_pointer(&local);
        break; /* try the next scheme */
      }
      status = soup_message_get_status(msg);
      if (status == 200 || status == 401) {
        char *origin = g_strconcat(schemes[i], api, NULL); /* api points into the old one */
        g_free(reg->origin);
        reg->origin = origin;
        return TRUE;
      }
      if (retry_delay(msg, status, attempt) >= 0) {
        watch_sleep(w, retry_delay(msg, status, attempt));
        continue;
      }
      g_set_error(error, SC_ERROR, SC_ENETWORK,
                  "%s does not answer as a container registry (GET /v2/: HTTP %u)", url, status);
      return FALSE;
    }
  }
  if (!watch_fired(w) && reg->tls_verify && first && first->domain == G_TLS_ERROR)
    g_set_error(error, SC_ERROR, SC_ENETWORK,
                "registry %s: GET /v2/: %s (for a registry without https or without a trusted "
                "certificate: --tls-verify=false)",
                reg->host, first->message);
  else
    set_network_error(reg, w, "GET /v2/", first, error);
  return FALSE;
}
