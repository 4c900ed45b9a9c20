/*
 * docker:NAME[:TAG]: an image read from a Docker Engine API daemon (Docker,
 * or podman's `system service`) over its unix socket: GET
 * /images/NAME/get answers the `docker save` tar as a stream.
 *
 * A stream cannot be read by offset, and `docker save` writes
 * manifest.json (which names the config and the layers) after the layers.
 * Nothing of the image is written to disk: the answer is read twice. The
 * first pass walks the headers (checked as for any archive, tarindex.c)
 * and keeps only the small JSON members in memory; the second streams each
 * layer straight into the importer, in the archive's order. A layer asked
 * for out of order (one already passed) costs one more request. Each
 * layer is checked against its diff_id by the importer, so an image that
 * changed between the passes fails the pull instead of mixing two images.
 *
 * Limits: the answer must begin, and every read must return, within
 * SC_REGISTRY_TIMEOUT seconds; an answer is at most SC_DOCKER_MAX_ARCHIVE
 * bytes; the JSON kept in memory is capped per member and in total.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "source.h"

#include <errno.h>
#include <gio/gunixsocketaddress.h>
#include <libsoup/soup.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_SOCKET "/var/run/docker.sock"
#define DEFAULT_MAX_ARCHIVE (G_GUINT64_CONSTANT(64) << 30) /* SC_DOCKER_MAX_ARCHIVE */
#define MAX_MEMBERS 100000                                 /* a docker save has a few per layer */
#define MAX_JSON_MEMBER (8 * 1024 * 1024)
#define MAX_JSON_TOTAL (32 * 1024 * 1024)
#define MAX_ERROR_BODY 4096

/* One GET of the archive, read forward. */
typedef struct {
  SoupMessage *msg;
  GInputStream *body;
  guint64 pos, max;
  gint64 waited;        /* usec spent in reads in this rate window */
  guint64 window_bytes; /* bytes read in it */
  GError *error;        /* why a read failed: preferred to the walk's message */
  ScDaemon *daemon;
} Answer;

struct ScDaemon {
  gint refs;
  char *name;   /* the image as asked */
  char *socket; /* the path */
  char *where;  /* "docker daemon unix://PATH", for messages */
  guint timeout;
  guint64 min_rate;
  guint rate_window;
  guint64 max_archive;
  SoupSession *session;
  ScTarIndex *index; /* the first pass */
  GHashTable *kept;  /* member name -> GBytes (the JSON members) */
  GMutex lock;
  GCond cond;
  gboolean busy; /* a layer stream is out */
  Answer *cur;   /* the second pass */
  ScTarWalk *walk;
};

static void
answer_free(Answer *a)
{
  if (a == NULL)
    return;
  g_clear_object(&a->body);
  g_clear_object(&a->msg);
  g_clear_error(&a->error);
  g_free(a);
}

static void
daemon_unref(ScDaemon *d)
{
  if (d == NULL || !g_atomic_int_dec_and_test(&d->refs))
    return;
  sc_tar_walk_free(d->walk);
  answer_free(d->cur);
  sc_tar_index_free(d->index);
  if (d->kept)
    g_hash_table_unref(d->kept);
  g_clear_object(&d->session);
  g_mutex_clear(&d->lock);
  g_cond_clear(&d->cond);
  g_free(d->name);
  g_free(d->socket);
  g_free(d->where);
  g_free(d);
}

void
sc_daemon_free(ScDaemon *d)
{
  daemon_unref(d);
}

const char *
sc_daemon_where(ScDaemon *d)
{
  return d->where;
}

/* $DOCKER_HOST (unix:// only) or the default socket. */
static char *
socket_path(GError **error)
{
  const char *host = g_getenv("DOCKER_HOST");

  if (host == NULL || *host == '\0')
    return g_strdup(DEFAULT_SOCKET);
  if (!g_str_has_prefix(host, "unix://") || host[7] != '/') {
    g_autofree char *shown = sc_display(host, 200);
    g_set_error(error,
                SC_ERROR,
                SC_EUNSUPPORTED,
                "DOCKER_HOST %s: only a unix socket (unix:///PATH) is supported for docker: "
                "sources",
                shown);
    return NULL;
  }
  return g_strdup(host + 7);
}

/* One read from the answer. Time spent waiting in reads is counted (not
 * the importer's time between them): over every SC_REGISTRY_RATE_WINDOW
 * seconds of it, SC_REGISTRY_MIN_RATE bytes per second must arrive, as
 * for a registry's blob, so a daemon that trickles cannot hold a pull
 * forever. 0 at the end of the answer, -1 with a->error set. */
static gssize
answer_chunk(Answer *a, void *buf, gsize len)
{
  ScDaemon *d = a->daemon;
  gint64 start = g_get_monotonic_time();
  gssize n = g_input_stream_read(a->body, buf, len, NULL, &a->error);

  a->waited += g_get_monotonic_time() - start;
  if (n > 0) {
    a->pos += n;
    a->window_bytes += n;
  }
  if (n >= 0 && a->waited >= (gint64)d->rate_window * G_USEC_PER_SEC) {
    if (a->window_bytes < d->min_rate * d->rate_window) {
      g_set_error(&a->error,
                  SC_ERROR,
                  SC_ENETWORK,
                  "%s: image %s: less than %" G_GUINT64_FORMAT
                  " bytes/s over %u s (SC_REGISTRY_MIN_RATE, SC_REGISTRY_RATE_WINDOW)",
                  d->where,
                  d->name,
                  d->min_rate,
                  d->rate_window);
      return -1;
    }
    a->waited = 0;
    a->window_bytes = 0;
  }
  return n;
}

/* A read of @len bytes at @offset, after discarding what comes before it. */
static gboolean
answer_read(gpointer data, void *buf, gsize len, guint64 offset)
{
  Answer *a = data;
  ScDaemon *d = a->daemon;
  guchar skip[16384];
  gsize got = 0;

  if (a->error)
    return FALSE;
  if (offset < a->pos || offset > a->max || len > a->max - offset) {
    if (offset >= a->pos)
      g_set_error(&a->error,
                  SC_ERROR,
                  SC_EIO,
                  "%s: image %s: the archive is larger than %" G_GUINT64_FORMAT
                  " bytes (SC_DOCKER_MAX_ARCHIVE)",
                  d->where,
                  d->name,
                  a->max);
    return FALSE; /* the walk never goes back; a short archive is its message */
  }
  while (a->pos < offset) {
    gssize n = answer_chunk(a, skip, MIN(sizeof(skip), offset - a->pos));
    if (n <= 0)
      goto failed;
  }
  while (got < len) {
    gssize n = answer_chunk(a, (guchar *)buf + got, len - got);
    if (n <= 0)
      goto failed;
    got += n;
  }
  return TRUE;
failed:
  if (a->error && g_error_matches(a->error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
    g_clear_error(&a->error);
    g_set_error(&a->error,
                SC_ERROR,
                SC_ENETWORK,
                "%s: image %s: no data for %u s (SC_REGISTRY_TIMEOUT)",
                d->where,
                d->name,
                d->timeout);
  } else if (a->error && a->error->domain != SC_ERROR) {
    g_prefix_error(&a->error, "%s: image %s: ", d->where, d->name);
    a->error->domain = SC_ERROR;
    a->error->code = SC_ENETWORK;
  }
  return FALSE;
}

/* The daemon's reason from an error answer: {"message": "..."}. */
static char *
answer_reason(Answer *a)
{
  g_autofree char *buf = g_malloc0(MAX_ERROR_BODY + 1);
  gsize got = 0;
  json_t *j;
  char *out = NULL;

  g_input_stream_read_all(a->body, buf, MAX_ERROR_BODY, &got, NULL, NULL);
  j = json_loadb(buf, got, 0, NULL);
  if (json_is_string(json_object_get(j, "message")))
    out = sc_display(json_string_value(json_object_get(j, "message")), 200);
  json_decref(j);
  return out ? out : sc_display(g_strstrip(buf), 200);
}

/* GET /images/NAME/get; NULL with the reason when there is no 200. */
static Answer *
answer_open(ScDaemon *d, GError **error)
{
  g_autofree char *escaped = g_uri_escape_string(d->name, NULL, FALSE);
  g_autofree char *url = g_strdup_printf("http://d/images/%s/get", escaped);
  g_autoptr(GError) local = NULL;
  Answer *a = g_new0(Answer, 1);
  guint status;

  a->daemon = d;
  a->max = d->max_archive;
  a->msg = soup_message_new("GET", url);
  if (a->msg == NULL) {
    g_set_error(
      error, SC_ERROR, SC_EINVAL, "%s: image %s: not a valid image name", d->where, d->name);
    answer_free(a);
    return NULL;
  }
  a->body = soup_session_send(d->session, a->msg, NULL, &local);
  if (a->body == NULL) {
    if (g_error_matches(local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
      g_set_error(error,
                  SC_ERROR,
                  SC_ENETWORK,
                  "%s: image %s: no answer within %u s "
                  "(SC_REGISTRY_TIMEOUT)",
                  d->where,
                  d->name,
                  d->timeout);
    else
      g_set_error(
        error, SC_ERROR, SC_ENETWORK, "%s: no daemon answers: %s", d->where, local->message);
    answer_free(a);
    return NULL;
  }
  status = soup_message_get_status(a->msg);
  if (status != 200) {
    g_autofree char *reason = answer_reason(a);
    if (status == 404)
      g_set_error(
        error, SC_ERROR, SC_ENOTFOUND, "%s: no such image %s (%s)", d->where, d->name, reason);
    else
      g_set_error(error,
                  SC_ERROR,
                  SC_ENETWORK,
                  "%s: image %s: GET /images/%s/get answered "
                  "%u (%s)",
                  d->where,
                  d->name,
                  escaped,
                  status,
                  reason);
    answer_free(a);
    return NULL;
  }
  return a;
}

/* A JSON member worth keeping from the first pass. */
static gboolean
is_json_member(const char *name, const ScTarMember *m)
{
  return m->kind == SC_TAR_FILE &&
         (g_str_has_suffix(name, ".json") || strcmp(name, "repositories") == 0);
}

/* The first pass: every header, and the JSON members in memory. */
static gboolean
first_pass(ScDaemon *d, GError **error)
{
  Answer *a = answer_open(d, error);
  g_autoptr(ScTarWalk) w = NULL;
  const char *name = "";
  const ScTarMember *m;
  gsize kept = 0;
  guint count = 0;
  gboolean ok = FALSE;

  if (a == NULL)
    return FALSE;
  w = sc_tar_walk_new(answer_read, a, G_MAXINT64, d->where);
  d->kept = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_bytes_unref);
  for (;;) {
    g_autofree char *buf = NULL;
    if (!sc_tar_walk_next(w, &name, &m, error))
      goto out;
    if (name == NULL)
      break;
    if (++count > MAX_MEMBERS) {
      g_set_error(error,
                  SC_ERROR,
                  SC_EIO,
                  "%s: image %s: the archive has more than %d members",
                  d->where,
                  d->name,
                  MAX_MEMBERS);
      goto out;
    }
    if (!is_json_member(name, m))
      continue;
    if (m->size > MAX_JSON_MEMBER || kept + m->size > MAX_JSON_TOTAL) {
      g_set_error(error,
                  SC_ERROR,
                  SC_EIO,
                  "%s: image %s: member '%s' is %" G_GUINT64_FORMAT " bytes; at most %d are "
                  "allowed for one JSON file and %d for all",
                  d->where,
                  d->name,
                  name,
                  m->size,
                  MAX_JSON_MEMBER,
                  MAX_JSON_TOTAL);
      goto out;
    }
    buf = g_malloc(m->size + 1);
    if (!answer_read(a, buf, m->size, m->offset)) {
      g_set_error(
        error, SC_ERROR, SC_EIO, "%s: image %s: member '%s' is truncated", d->where, d->name, name);
      goto out;
    }
    buf[m->size] = '\0';
    kept += m->size;
    g_hash_table_insert(d->kept, g_strdup(name), g_bytes_new_take(g_steal_pointer(&buf), m->size));
  }
  /* the rest of the answer is not read: the session closes the connection */
  ok = TRUE;
  {
    /* the walk's index outlives the walk: its table is shared */
    const ScTarIndex *idx = sc_tar_walk_index(w);
    d->index = g_new0(ScTarIndex, 1);
    d->index->archive = g_strdup(idx->archive);
    d->index->archive_size = idx->archive_size;
    d->index->members = g_hash_table_ref(idx->members);
  }
out:
  if (!ok && a->error) {
    /* the reason of a failed read, rather than the walk's "truncated" */
    g_clear_error(error);
    g_propagate_error(error, g_steal_pointer(&a->error));
  }
  answer_free(a);
  return ok;
}

ScDaemon *
sc_daemon_open(const char *name, GError **error)
{
  ScDaemon *d = g_new0(ScDaemon, 1);
  g_autoptr(GSocketAddress) addr = NULL;
  struct stat st = { 0 };

  d->refs = 1;
  g_mutex_init(&d->lock);
  g_cond_init(&d->cond);
  d->name = g_strdup(name);
  d->socket = socket_path(error);
  if (d->socket == NULL) {
    daemon_unref(d);
    return NULL;
  }
  d->where = g_strdup_printf("docker daemon unix://%s", d->socket);
  if (stat(d->socket, &st) != 0 || !S_ISSOCK(st.st_mode)) {
    /* st is zeroed when stat failed: then errno is the reason */
    g_set_error(error,
                SC_ERROR,
                SC_ENOTFOUND,
                "%s: no daemon: %s",
                d->where,
                st.st_mode == 0 ? g_strerror(errno) : "not a socket");
    daemon_unref(d);
    return NULL;
  }
  {
    /* the registry's limits, read the same way */
    ScNetLimits lim;
    sc_net_limits_from_env(&lim);
    d->timeout = lim.timeout;
    d->min_rate = lim.min_rate;
    d->rate_window = lim.rate_window;
  }
  d->max_archive = sc_env_limit("SC_DOCKER_MAX_ARCHIVE", DEFAULT_MAX_ARCHIVE, G_MAXINT64);
  addr = g_unix_socket_address_new(d->socket);
  d->session = soup_session_new_with_options("remote-connectable",
                                             addr,
                                             "timeout",
                                             d->timeout,
                                             "idle-timeout",
                                             d->timeout,
                                             "user-agent",
                                             "libsyscontainer/" SC_VERSION,
                                             NULL);
  /* the tar is not gzip; nothing is decoded, so the cap counts what is read */
  soup_session_remove_feature_by_type(d->session, SOUP_TYPE_CONTENT_DECODER);
  if (!first_pass(d, error)) {
    daemon_unref(d);
    return NULL;
  }
  return d;
}

GBytes *
sc_daemon_read(ScDaemon *d, const char *name, GError **error)
{
  const ScTarMember *m = sc_tar_index_lookup(d->index, name, TRUE, error);
  GHashTableIter it;
  gpointer key, value;

  if (m == NULL)
    return NULL;
  g_hash_table_iter_init(&it, d->index->members);
  while (g_hash_table_iter_next(&it, &key, &value))
    if (value == m && g_hash_table_contains(d->kept, key))
      return g_bytes_ref(g_hash_table_lookup(d->kept, key));
  g_set_error(error,
              SC_ERROR,
              SC_EIO,
              "%s: image %s: member '%s' is not a JSON file (its name does not end in .json)",
              d->where,
              d->name,
              name);
  return NULL;
}

const ScTarMember *
sc_daemon_member(ScDaemon *d, const char *name, GError **error)
{
  return sc_tar_index_lookup(d->index, name, TRUE, error);
}

/* ---- a layer: a stream over one member of the second pass ---- */

typedef struct {
  GInputStream parent;
  ScDaemon *daemon; /* a reference */
  guint64 remaining;
  gboolean released;
} ScMemberStream;

typedef struct {
  GInputStreamClass parent_class;
} ScMemberStreamClass;

static GType sc_member_stream_get_type(void);
G_DEFINE_TYPE(ScMemberStream, sc_member_stream, G_TYPE_INPUT_STREAM)

/* The second pass is free for the next layer. */
static void
member_release(ScMemberStream *self)
{
  if (self->released)
    return;
  self->released = TRUE;
  g_mutex_lock(&self->daemon->lock);
  self->daemon->busy = FALSE;
  g_cond_broadcast(&self->daemon->cond);
  g_mutex_unlock(&self->daemon->lock);
}

static gssize
member_read(GInputStream *stream, void *buf, gsize count, GCancellable *c, GError **error)
{
  ScMemberStream *self = (ScMemberStream *)stream;
  Answer *a = self->daemon->cur;
  gsize got = 0;

  count = MIN(count, self->remaining);
  if (count == 0)
    return 0;
  if (a == NULL) {
    g_set_error(error,
                SC_ERROR,
                SC_EIO,
                "%s: image %s: the answer ended before the layer",
                self->daemon->where,
                self->daemon->name);
    return -1;
  }
  if (!answer_read(a, buf, count, a->pos)) {
    if (a->error)
      g_propagate_error(error, g_steal_pointer(&a->error));
    else
      g_set_error(error,
                  SC_ERROR,
                  SC_EIO,
                  "%s: image %s: the archive ends inside a layer",
                  self->daemon->where,
                  self->daemon->name);
    /* the answer is spent: the next layer asks again */
    sc_tar_walk_free(self->daemon->walk);
    self->daemon->walk = NULL;
    g_clear_pointer(&self->daemon->cur, answer_free);
    return -1;
  }
  got = count;
  self->remaining -= got;
  return got;
}

static gboolean
member_close(GInputStream *stream, GCancellable *c, GError **error)
{
  member_release((ScMemberStream *)stream);
  return TRUE;
}

static void
sc_member_stream_finalize(GObject *object)
{
  ScMemberStream *self = (ScMemberStream *)object;
  member_release(self);
  daemon_unref(self->daemon);
  G_OBJECT_CLASS(sc_member_stream_parent_class)->finalize(object);
}

static void
sc_member_stream_class_init(ScMemberStreamClass *klass)
{
  G_OBJECT_CLASS(klass)->finalize = sc_member_stream_finalize;
  G_INPUT_STREAM_CLASS(klass)->read_fn = member_read;
  G_INPUT_STREAM_CLASS(klass)->close_fn = member_close;
}

static void
sc_member_stream_init(ScMemberStream *self)
{
}

/* Moves the second pass to member @want (a new request when it is behind,
 * at most once); called with d->busy held. */
static const ScTarMember *
seek_member(ScDaemon *d, const char *want, GError **error)
{
  for (int restart = 0; restart < 2; restart++) {
    const char *name = "";
    const ScTarMember *m = NULL;
    if (d->cur == NULL) {
      d->cur = answer_open(d, error);
      if (d->cur == NULL)
        return NULL;
      d->walk = sc_tar_walk_new(answer_read, d->cur, G_MAXINT64, d->where);
    }
    while (name != NULL) {
      if (!sc_tar_walk_next(d->walk, &name, &m, error)) {
        if (d->cur->error) {
          g_clear_error(error);
          g_propagate_error(error, g_steal_pointer(&d->cur->error));
        }
        sc_tar_walk_free(d->walk);
        d->walk = NULL;
        g_clear_pointer(&d->cur, answer_free);
        return NULL;
      }
      if (name && strcmp(name, want) == 0)
        return m;
    }
    sc_tar_walk_free(d->walk);
    d->walk = NULL;
    g_clear_pointer(&d->cur, answer_free);
  }
  g_set_error(error,
              SC_ERROR,
              SC_ENOTFOUND,
              "%s: image %s: member '%s' is no longer in the daemon's answer",
              d->where,
              d->name,
              want);
  return NULL;
}

GInputStream *
sc_daemon_open_member(ScDaemon *d, const char *name, guint64 *out_size, GError **error)
{
  const ScTarMember *m = sc_tar_index_lookup(d->index, name, TRUE, error);
  const char *want = NULL;
  GHashTableIter it;
  gpointer key, value;
  ScMemberStream *s;

  if (m == NULL)
    return NULL;
  g_hash_table_iter_init(&it, d->index->members);
  while (want == NULL && g_hash_table_iter_next(&it, &key, &value))
    if (value == m)
      want = key;
  g_assert(want != NULL); /* the lookup found it in this table */
  if (g_hash_table_contains(d->kept, want)) {
    GBytes *b = g_hash_table_lookup(d->kept, want);
    *out_size = g_bytes_get_size(b);
    return g_memory_input_stream_new_from_bytes(b);
  }
  g_mutex_lock(&d->lock);
  while (d->busy)
    g_cond_wait(&d->cond, &d->lock);
  d->busy = TRUE;
  g_mutex_unlock(&d->lock);
  m = seek_member(d, want, error);
  if (m == NULL) {
    g_mutex_lock(&d->lock);
    d->busy = FALSE;
    g_cond_broadcast(&d->cond);
    g_mutex_unlock(&d->lock);
    return NULL;
  }
  s = g_object_new(sc_member_stream_get_type(), NULL);
  g_atomic_int_inc(&d->refs);
  s->daemon = d;
  s->remaining = m->size;
  *out_size = m->size;
  return G_INPUT_STREAM(s);
}
