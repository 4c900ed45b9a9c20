/*
 * Image sources behind one interface (ScImageSource): an OCI image layout
 * directory (oci:DIR[:TAG]), an OCI layout in a tar file
 * (oci-archive:FILE[:TAG]) and a `docker save` tar (docker-archive:FILE,
 * dockertar:FILE). Archives are read in place: one pass over the tar
 * headers builds an index, and each blob is then read from its offset.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Manifests and configs are small; refuse anything larger before reading. */
#define SC_MAX_JSON_BLOB (8 * 1024 * 1024)

/* ---- a GInputStream over a byte range of a file (pread, so many can share
 * one file descriptor across threads) ---- */

typedef struct {
  GInputStream parent;
  int fd; /* owned */
  guint64 offset, remaining;
} ScRangeStream;

typedef struct {
  GInputStreamClass parent_class;
} ScRangeStreamClass;

static GType sc_range_stream_get_type(void);
G_DEFINE_TYPE(ScRangeStream, sc_range_stream, G_TYPE_INPUT_STREAM)

static gssize
range_read(GInputStream *stream, void *buf, gsize count, GCancellable *c, GError **error)
{
  ScRangeStream *self = (ScRangeStream *)stream;
  ssize_t n;

  if (count > self->remaining)
    count = self->remaining;
  if (count == 0)
    return 0;
  do
    n = pread(self->fd, buf, count, self->offset);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "read: %s", g_strerror(errno));
    return -1;
  }
  self->offset += n;
  self->remaining -= n;
  return n;
}

static gboolean
range_close(GInputStream *stream, GCancellable *c, GError **error)
{
  ScRangeStream *self = (ScRangeStream *)stream;
  if (self->fd >= 0)
    close(self->fd);
  self->fd = -1;
  return TRUE;
}

static void
sc_range_stream_finalize(GObject *object)
{
  ScRangeStream *self = (ScRangeStream *)object;
  if (self->fd >= 0)
    close(self->fd);
  G_OBJECT_CLASS(sc_range_stream_parent_class)->finalize(object);
}

static void
sc_range_stream_class_init(ScRangeStreamClass *klass)
{
  G_OBJECT_CLASS(klass)->finalize = sc_range_stream_finalize;
  G_INPUT_STREAM_CLASS(klass)->read_fn = range_read;
  G_INPUT_STREAM_CLASS(klass)->close_fn = range_close;
}

static void
sc_range_stream_init(ScRangeStream *self)
{
  self->fd = -1;
}

static GInputStream *
range_stream_new(int fd, guint64 offset, guint64 length)
{
  ScRangeStream *s = g_object_new(sc_range_stream_get_type(), NULL);
  s->fd = fd;
  s->offset = offset;
  s->remaining = length;
  return G_INPUT_STREAM(s);
}

/* ---- files of a layout: a directory, or the members of a tar ----
 *
 * A layout directory is read through the confined resolver: every file
 * must be a regular file inside the directory, opened with O_NOFOLLOW (a
 * symbolic link is refused, not followed) and O_NONBLOCK (a FIFO cannot
 * block the open; it is refused as not regular). An archive is read
 * through its checked index, from the one descriptor opened here, so the
 * file cannot be swapped between the index and the reads. */

typedef struct {
  char *path;         /* directory or tar file */
  gboolean is_tar;
  gboolean follow_links; /* docker-archive: links between members */
  int fd;             /* the directory, or the archive */
  ScTarIndex *index;  /* tar */
} Files;

static void
files_free(Files *f)
{
  if (f == NULL)
    return;
  if (f->fd >= 0)
    close(f->fd);
  sc_tar_index_free(f->index);
  g_free(f->path);
  g_free(f);
}

static const char *
type_name(mode_t mode)
{
  if (S_ISDIR(mode))
    return "a directory";
  if (S_ISFIFO(mode))
    return "a FIFO";
  if (S_ISSOCK(mode))
    return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode))
    return "a device";
  if (S_ISLNK(mode))
    return "a symbolic link";
  return "not a regular file";
}

static Files *
files_open(const char *path, gboolean is_tar, gboolean follow_links, GError **error)
{
  Files *f = g_new0(Files, 1);
  struct stat st;

  f->path = g_strdup(path);
  f->is_tar = is_tar;
  f->follow_links = follow_links;
  /* the path the user gave is followed; O_NONBLOCK: a FIFO does not block */
  f->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (is_tar ? 0 : O_DIRECTORY));
  if (f->fd < 0) {
    /* says what was looked for: "oci:/x:1" shows no other sign of a path */
    g_set_error(error,
                SC_ERROR,
                errno == ENOENT ? SC_ENOTFOUND : SC_EIO,
                "%s %s: %s",
                is_tar ? "archive" : "OCI layout directory",
                path,
                g_strerror(errno));
    files_free(f);
    return NULL;
  }
  if (is_tar) {
    if (fstat(f->fd, &st) != 0)
      st.st_mode = 0;
    if (!S_ISREG(st.st_mode)) {
      g_set_error(error, SC_ERROR, SC_EIO, "%s: is %s; an archive must be a regular file", path,
                  type_name(st.st_mode));
      files_free(f);
      return NULL;
    }
    f->index = sc_tar_index_new(f->fd, path, error);
    if (f->index == NULL) {
      files_free(f);
      return NULL;
    }
  }
  return f;
}

/* The regular member @name of an archive (NULL: @error set). */
static const ScTarMember *
files_member(Files *f, const char *name, GError **error)
{
  return sc_tar_index_lookup(f->index, name, f->follow_links, error);
}

/* Opens member @name; *out_size gets its size. */
static GInputStream *
files_open_member(Files *f, const char *name, guint64 *out_size, GError **error)
{
  g_autoptr(GError) local = NULL;
  int fd;
  struct stat st;

  if (f->is_tar) {
    const ScTarMember *m = files_member(f, name, error);
    if (m == NULL)
      return NULL;
    fd = fcntl(f->fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
      g_set_error(error, SC_ERROR, SC_EIO, "%s: %s", f->path, g_strerror(errno));
      return NULL;
    }
    *out_size = m->size;
    return range_stream_new(fd, m->offset, m->size);
  }
  fd = sc_confined_open(f->fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0, FALSE,
                        &local);
  if (fd < 0) {
    if (errno == ELOOP && local->code == SC_EIO)
      g_set_error(error, SC_ERROR, SC_EIO,
                  "%s: '%s' is a symbolic link; the files of an image layout must be regular "
                  "files",
                  f->path, name);
    else
      g_set_error(error, SC_ERROR, local->code, "%s: %s", f->path, local->message);
    return NULL;
  }
  if (fstat(fd, &st) != 0)
    st.st_mode = 0;
  if (!S_ISREG(st.st_mode)) {
    g_set_error(error, SC_ERROR, SC_EIO,
                "%s: '%s' is %s; the files of an image layout must be regular files", f->path,
                name, type_name(st.st_mode));
    close(fd);
    return NULL;
  }
  *out_size = st.st_size;
  return range_stream_new(fd, 0, st.st_size);
}

static GBytes *
files_read(Files *f, const char *name, GError **error)
{
  guint64 size = 0;
  g_autoptr(GInputStream) in = files_open_member(f, name, &size, error);
  g_autofree char *buf = NULL;
  gsize done = 0;

  if (in == NULL)
    return NULL;
  if (size > SC_MAX_JSON_BLOB) {
    g_set_error(error, SC_ERROR, SC_EIO, "%s: '%s' is %" G_GUINT64_FORMAT
                " bytes; at most %d are allowed for a manifest or configuration",
                f->path, name, size, SC_MAX_JSON_BLOB);
    return NULL;
  }
  buf = g_malloc(size + 1);
  if (!g_input_stream_read_all(in, buf, size, &done, NULL, error))
    return NULL;
  if (done != size) {
    g_set_error(error, SC_ERROR, SC_EIO, "%s: '%s' is truncated", f->path, name);
    return NULL;
  }
  buf[size] = '\0';
  return g_bytes_new_take(g_steal_pointer(&buf), size);
}

/* ---- the sources ---- */

typedef enum { SOURCE_OCI, SOURCE_DOCKER_ARCHIVE, SOURCE_REGISTRY } SourceKind;

struct ScImageSource {
  SourceKind kind;
  char *description;
  char *tag; /* oci: the requested ref.name, or NULL */
  Files *files;
  char *name; /* the name the source gives the image, or NULL */
  /* docker-archive: a synthesized manifest and the blob -> member map */
  GBytes *synth_manifest;
  GHashTable *blob_members; /* "sha256:hex" -> member name */
  ScDaemon *daemon;         /* docker:NAME[:TAG]: the archive is the daemon's answer */
  /* registry */
  ScRegistry *registry;
  ScReference ref;     /* the image, as named (before mirrors and locations) */
  char *endpoint_path; /* the repository at the endpoint that answered */
  GBytes *top_manifest;
  char *top_media_type;
  gboolean unchanged; /* HEAD matched the known digest */
};

void
sc_image_source_free(ScImageSource *src)
{
  if (src == NULL)
    return;
  files_free(src->files);
  sc_daemon_free(src->daemon);
  g_free(src->description);
  g_free(src->tag);
  g_free(src->name);
  if (src->synth_manifest)
    g_bytes_unref(src->synth_manifest);
  if (src->blob_members)
    g_hash_table_unref(src->blob_members);
  sc_registry_free(src->registry);
  sc_reference_clear(&src->ref);
  g_free(src->endpoint_path);
  if (src->top_manifest)
    g_bytes_unref(src->top_manifest);
  g_free(src->top_media_type);
  g_free(src);
}

gboolean
sc_image_source_unchanged(ScImageSource *src)
{
  return src->unchanged;
}

gboolean
sc_image_source_sequential(ScImageSource *src)
{
  return src->daemon != NULL;
}

const char *
sc_image_source_transport(ScImageSource *src)
{
  switch (src->kind) {
  case SOURCE_REGISTRY:
    return "docker";
  case SOURCE_OCI:
    return g_str_has_prefix(src->description, "oci-archive:") ? "oci-archive" : "oci";
  case SOURCE_DOCKER_ARCHIVE:
    /* (a Docker daemon's answer is read as an archive) */
    return src->daemon != NULL ? "docker-daemon" : "docker-archive";
  }
  return "unknown";
}

char *
sc_image_source_policy_identity(ScImageSource *src)
{
  g_autofree char *real = NULL;

  switch (src->kind) {
  case SOURCE_REGISTRY:
    return sc_reference_to_string(&src->ref);
  case SOURCE_OCI:
    /* the path with its links resolved, as containers/image's
     * resolvedDir (the image's name in it is not part of the identity) */
    real = realpath(src->files->path, NULL);
    if (real == NULL)
      real = g_canonicalize_filename(src->files->path, NULL);
    return g_steal_pointer(&real);
  case SOURCE_DOCKER_ARCHIVE:
    break;
  }
  return g_strdup("");
}

ScRegistry *
sc_image_source_registry(ScImageSource *src, const char **out_repository)
{
  *out_repository = src->kind == SOURCE_REGISTRY ? src->endpoint_path : NULL;
  return src->kind == SOURCE_REGISTRY ? src->registry : NULL;
}

const char *
sc_image_source_description(ScImageSource *src)
{
  return src->description;
}

const char *
sc_image_source_name(ScImageSource *src)
{
  return src->name;
}

static char *
blob_member(const char *digest, GError **error)
{
  const char *hex;
  if (!sc_content_digest_hex(digest, &hex, error))
    return NULL;
  return g_strdup_printf("blobs/sha256/%s", hex);
}

static json_t *
load_json(GBytes *bytes, const char *what, GError **error)
{
  json_error_t jerr;
  gsize len;
  const char *data = g_bytes_get_data(bytes, &len);
  json_t *j;

  if (!sc_json_check_budget(what, data, len, error))
    return NULL;
  j = json_loadb(data, len, 0, &jerr);
  if (j == NULL)
    g_set_error(error, SC_ERROR, SC_EIO, "%s: invalid JSON at line %d, column %d: %s", what,
                jerr.line, jerr.column, jerr.text);
  return j;
}

static gboolean
oci_open(ScImageSource *src, GError **error)
{
  g_autoptr(GBytes) layout = NULL;
  g_autoptr(GBytes) index = NULL;
  json_t *j;
  gboolean ok;

  layout = files_read(src->files, "oci-layout", error);
  if (layout == NULL) {
    if (error && g_error_matches(*error, SC_ERROR, SC_ENOTFOUND))
      g_prefix_error(error, "%s is not an OCI image layout: ", src->description);
    return FALSE;
  }
  j = load_json(layout, "oci-layout", error);
  ok = j && json_is_string(json_object_get(j, "imageLayoutVersion"));
  json_decref(j);
  if (!ok) {
    if (error && !*error)
      g_set_error(error, SC_ERROR, SC_EIO, "%s: oci-layout has no imageLayoutVersion",
                  src->description);
    return FALSE;
  }
  index = files_read(src->files, "index.json", error);
  return index != NULL;
}

/* The descriptor in index.json for the requested tag (or the only one). */
static json_t *
oci_pick_descriptor(ScImageSource *src, GError **error)
{
  g_autoptr(GBytes) index = files_read(src->files, "index.json", error);
  json_t *doc, *manifests, *d, *found = NULL;
  size_t i;
  guint count = 0;

  if (index == NULL)
    return NULL;
  doc = load_json(index, "index.json", error);
  if (doc == NULL)
    return NULL;
  manifests = json_object_get(doc, "manifests");
  json_array_foreach(manifests, i, d)
  {
    const char *ref = json_string_value(
        json_object_get(json_object_get(d, "annotations"), "org.opencontainers.image.ref.name"));
    count++;
    if (src->tag ? (ref && strcmp(ref, src->tag) == 0) : TRUE)
      found = d;
  }
  if (found == NULL || (src->tag == NULL && count != 1)) {
    if (src->tag)
      g_set_error(error, SC_ERROR, SC_ENOTFOUND, "%s: no image tagged '%s' in index.json",
                  src->description, src->tag);
    else if (count == 0)
      g_set_error(error, SC_ERROR, SC_ENOTFOUND, "%s: index.json lists no image",
                  src->description);
    else
      g_set_error(error, SC_ERROR, SC_EINVAL,
                  "%s: index.json lists %u images; name one as %s:TAG", src->description, count,
                  src->description);
    json_decref(doc);
    return NULL;
  }
  json_incref(found);
  json_decref(doc);
  if (src->name == NULL) {
    const char *ref = json_string_value(json_object_get(json_object_get(found, "annotations"),
                                                        "org.opencontainers.image.ref.name"));
    /* A full reference as ref.name (skopeo writes only the tag). */
    if (ref && strchr(ref, '/'))
      src->name = g_strdup(ref);
  }
  return found;
}

/* A member of the docker-archive: from the file, or the daemon's answer. */
static GBytes *
docker_read(ScImageSource *src, const char *name, GError **error)
{
  if (src->daemon)
    return sc_daemon_read(src->daemon, name, error);
  return files_read(src->files, name, error);
}

static const ScTarMember *
docker_member(ScImageSource *src, const char *name, GError **error)
{
  if (src->daemon)
    return sc_daemon_member(src->daemon, name, error);
  return files_member(src->files, name, error);
}

/* docker save: manifest.json = [{"Config": "x.json", "RepoTags": [...],
 * "Layers": ["abc/layer.tar", ...]}]. Synthesize an OCI manifest whose
 * layer digests are the config's diff_ids (the layers are plain tars). */
static gboolean
docker_open(ScImageSource *src, GError **error)
{
  g_autoptr(GBytes) mbytes = docker_read(src, "manifest.json", error);
  g_autoptr(GBytes) config = NULL;
  json_t *doc = NULL, *entry, *layers, *cdoc = NULL, *diff_ids, *m = NULL, *ls;
  const char *config_name;
  g_autofree char *config_hex = NULL;
  size_t i;
  json_t *l;
  gboolean ok = FALSE;

  if (mbytes == NULL) {
    if (error && g_error_matches(*error, SC_ERROR, SC_ENOTFOUND))
      g_prefix_error(error, "%s is not a docker-archive: ", src->description);
    return FALSE;
  }
  doc = load_json(mbytes, "manifest.json", error);
  if (doc == NULL)
    return FALSE;
  entry = json_array_get(doc, 0);
  if (!json_is_array(doc) || json_array_size(doc) != 1 || !json_is_object(entry)) {
    g_set_error(error, SC_ERROR, SC_EUNSUPPORTED,
                "%s: manifest.json must list exactly one image", src->description);
    goto out;
  }
  config_name = json_string_value(json_object_get(entry, "Config"));
  layers = json_object_get(entry, "Layers");
  if (config_name == NULL || !json_is_array(layers)) {
    g_set_error(error, SC_ERROR, SC_EIO, "%s: manifest.json lacks Config or Layers",
                src->description);
    goto out;
  }
  if (src->name == NULL && json_is_string(json_array_get(json_object_get(entry, "RepoTags"), 0)))
    src->name = g_strdup(json_string_value(json_array_get(json_object_get(entry, "RepoTags"), 0)));
  config = docker_read(src, config_name, error);
  if (config == NULL)
    goto out;
  cdoc = load_json(config, config_name, error);
  if (cdoc == NULL)
    goto out;
  diff_ids = json_object_get(json_object_get(cdoc, "rootfs"), "diff_ids");
  if (!json_is_array(diff_ids) || json_array_size(diff_ids) != json_array_size(layers)) {
    g_set_error(error, SC_ERROR, SC_EIO,
                "%s: the config lists %zu diff_ids for %zu layers", src->description,
                json_array_size(diff_ids), json_array_size(layers));
    goto out;
  }
  config_hex = sc_sha256_hex(g_bytes_get_data(config, NULL), g_bytes_get_size(config));
  src->blob_members = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  g_hash_table_insert(src->blob_members, g_strconcat("sha256:", config_hex, NULL),
                      g_strdup(config_name));
  m = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}}", "schemaVersion", 2, "mediaType",
                SC_MEDIA_OCI_MANIFEST, "config", "mediaType", SC_MEDIA_OCI_CONFIG, "digest",
                "sha256:", "size", (json_int_t)g_bytes_get_size(config));
  json_object_set_new(json_object_get(m, "config"), "digest",
                      json_sprintf("sha256:%s", config_hex));
  ls = json_array();
  json_object_set_new(m, "layers", ls); /* m owns it, also when a layer fails */
  json_array_foreach(layers, i, l)
  {
    const char *member = json_string_value(l);
    const char *digest = json_string_value(json_array_get(diff_ids, i));
    const char *hex;
    const ScTarMember *tm;
    g_autoptr(GError) local = NULL;
    if (member == NULL || !sc_content_digest_hex(digest, &hex, error))
      goto out;
    tm = docker_member(src, member, &local);
    if (tm == NULL) {
      if (g_error_matches(local, SC_ERROR, SC_ENOTFOUND))
        g_set_error(error, SC_ERROR, SC_ENOTFOUND, "%s: layer '%s' is missing",
                    src->description, member);
      else
        g_propagate_error(error, g_steal_pointer(&local));
      goto out;
    }
    g_hash_table_insert(src->blob_members, g_strdup(digest), g_strdup(member));
    json_array_append_new(ls, json_pack("{s:s, s:s, s:I}", "mediaType", SC_MEDIA_OCI_LAYER,
                                        "digest", digest, "size", (json_int_t)tm->size));
  }
  {
    g_autofree char *text = sc_json_dump(m, FALSE);
    gsize len = strlen(text);
    src->synth_manifest = g_bytes_new_take(g_steal_pointer(&text), len);
  }
  ok = TRUE;
out:
  json_decref(m);
  json_decref(cdoc);
  json_decref(doc);
  return ok;
}

/* "oci:DIR[:TAG]": the tag is after the last ':' when what precedes it is
 * an existing path. */
static void
split_path_tag(const char *spec, char **out_path, char **out_tag)
{
  const char *colon = strrchr(spec, ':');

  if (colon && !strchr(colon, '/')) {
    g_autofree char *head = g_strndup(spec, colon - spec);
    if (g_file_test(head, G_FILE_TEST_EXISTS) || !g_file_test(spec, G_FILE_TEST_EXISTS)) {
      *out_path = g_steal_pointer(&head);
      *out_tag = colon[1] ? g_strdup(colon + 1) : NULL;
      return;
    }
  }
  *out_path = g_strdup(spec);
  *out_tag = NULL;
}

/* docker:NAME[:TAG], atomic's pull from the Docker daemon (docker:// is a
 * registry) */
static gboolean
is_daemon(const char *spec)
{
  return g_str_has_prefix(spec, "docker:") && !g_str_has_prefix(spec, "docker://");
}

/* "oci:X" is an OCI layout when X (without :TAG) is a directory; atomic
 * used "oci:" for registry references, and those still work. An X that
 * can only be a path ("/...", "./...", "../...": no reference starts so;
 * "oci://REF" is a registry) is a layout even when missing, so that the
 * error says the layout is not there instead of asking a registry for a
 * name made from the path. */
static gboolean
is_oci_layout(const char *spec)
{
  g_autofree char *path = NULL;
  g_autofree char *tag = NULL;
  const char *x = spec + 4;

  if (!g_str_has_prefix(spec, "oci:"))
    return FALSE;
  if ((x[0] == '/' && x[1] != '/') || g_str_has_prefix(x, "./") || g_str_has_prefix(x, "../"))
    return TRUE;
  split_path_tag(x, &path, &tag);
  return g_file_test(path, G_FILE_TEST_IS_DIR);
}

gboolean
sc_image_source_is_local(const char *spec)
{
  return is_oci_layout(spec) || g_str_has_prefix(spec, "oci-archive:") ||
         g_str_has_prefix(spec, "docker-archive:") || g_str_has_prefix(spec, "dockertar:") ||
         is_daemon(spec);
}

/* A reference without a registry ("busybox", "library/busybox:1"): the
 * first component has no '.', no ':' and is not localhost. */
static gboolean
is_short_name(const char *ref)
{
  const char *slash = strchr(ref, '/');
  g_autofree char *first = slash ? g_strndup(ref, slash - ref) : NULL;

  return first == NULL ||
         !(strchr(first, '.') || strchr(first, ':') || strcmp(first, "localhost") == 0);
}

/* The references to try for what the user typed: an alias, each
 * unqualified-search registry, or the reference itself. With
 * short-name-mode "enforcing" a short name that more than one search
 * registry could serve is an error: a library cannot prompt, and trying
 * them in order lets the first registry that has the name win (the
 * spoofing that mode exists to stop). */
static GPtrArray *
candidate_references(ScRegConf *conf, const char *ref, GError **error)
{
  GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
  const char *cut = strpbrk(ref, ":@");
  g_autofree char *bare = cut ? g_strndup(ref, cut - ref) : g_strdup(ref);
  const char *alias;

  if (!is_short_name(ref)) {
    g_ptr_array_add(out, g_strdup(ref));
    return out;
  }
  alias = g_hash_table_lookup(conf->aliases, bare);
  if (alias == NULL && !strchr(bare, '/')) {
    g_autofree char *lib = g_strconcat("library/", bare, NULL);
    alias = g_hash_table_lookup(conf->aliases, lib);
  }
  if (alias) {
    /* an alias names the repository; the user's tag or digest stays */
    g_ptr_array_add(out, g_strconcat(alias, cut ? cut : "", NULL));
  } else if (conf->search->len > 1 && g_strcmp0(conf->short_name_mode, "enforcing") == 0) {
    g_autoptr(GString) list = g_string_new(NULL);
    for (guint i = 0; i < conf->search->len; i++)
      g_string_append_printf(list, "%s%s", i ? ", " : "", (char *)conf->search->pdata[i]);
    g_set_error(error, SC_ERROR, SC_EINVAL,
                "short name '%s' is ambiguous: short-name-mode is enforcing and %u "
                "unqualified-search registries could serve it (%s): give the registry, or add "
                "an alias in registries.conf",
                ref, conf->search->len, list->str);
    g_ptr_array_unref(out);
    return NULL;
  } else if (conf->search->len > 0) {
    for (guint i = 0; i < conf->search->len; i++)
      g_ptr_array_add(out, g_strconcat(conf->search->pdata[i], "/", ref, NULL));
  } else
    g_ptr_array_add(out, g_strdup(ref));
  return out;
}

typedef struct {
  char *domain, *path;
  gboolean insecure;
} Endpoint;

static void
endpoint_free(Endpoint *e)
{
  g_free(e->domain);
  g_free(e->path);
  g_free(e);
}

/* "host[:port][/ns]" + the part of the reference past the prefix */
static Endpoint *
endpoint_new(const char *location, const char *rest, gboolean insecure)
{
  Endpoint *e = g_new0(Endpoint, 1);
  g_autofree char *full = g_strconcat(location, rest, NULL);
  char *slash = strchr(full, '/');

  e->insecure = insecure;
  if (slash) {
    e->domain = g_strndup(full, slash - full);
    e->path = g_strdup(slash + 1);
  } else {
    e->domain = g_strdup(full);
    e->path = g_strdup("");
  }
  return e;
}

/* Mirrors first (as allowed for tags or digests), then the registry itself
 * (its location rewritten). */
static GPtrArray *
endpoints_for(ScRegConf *conf, const ScReference *ref, GError **error)
{
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)endpoint_free);
  ScRegistryEntry *entry = sc_regconf_find(conf, ref->domain, ref->path);
  g_autofree char *full = g_strconcat(ref->domain, "/", ref->path, NULL);
  const char *prefix;
  const char *rest;

  if (entry == NULL) {
    Endpoint *e = g_new0(Endpoint, 1);
    e->domain = g_strdup(ref->domain);
    e->path = g_strdup(ref->path);
    g_ptr_array_add(out, e);
    return out;
  }
  if (entry->blocked) {
    g_set_error(error, SC_ERROR, SC_EAUTH,
                "image %s: the registry is blocked by registries.conf (prefix \"%s\")", full,
                entry->prefix ? entry->prefix : entry->location);
    g_ptr_array_unref(out);
    return NULL;
  }
  prefix = entry->prefix ? entry->prefix : entry->location;
  /* what follows the matched prefix (for "*.example.com", after the
   * matched host part, a port included), as containers/image rewrites */
  rest = full + sc_regconf_match(prefix, full);
  for (guint i = 0; i < entry->mirrors->len; i++) {
    ScMirror *m = entry->mirrors->pdata[i];
    const char *from = m->pull_from ? m->pull_from : (entry->mirror_by_digest_only ? "digest-only" : "all");
    if (m->location == NULL || (strcmp(from, "digest-only") == 0 && ref->digest == NULL) ||
        (strcmp(from, "tag-only") == 0 && ref->digest != NULL))
      continue;
    g_ptr_array_add(out, endpoint_new(m->location, rest, m->insecure));
  }
  /* a wildcard entry without a location leaves the reference as it is;
   * with one, the location replaces the matched host, as for any prefix */
  if (entry->location)
    g_ptr_array_add(out, endpoint_new(entry->location, rest, entry->insecure));
  else
    g_ptr_array_add(out, endpoint_new(ref->domain, full + strlen(ref->domain), entry->insecure));
  return out;
}

/* Opens the endpoint and fetches the top-level manifest there. */
static gboolean
try_endpoint(ScImageSource *src, Endpoint *ep, const ScSourceOptions *opts, gboolean tls_verify,
             GError **error)
{
  g_autofree char *user = NULL;
  g_autofree char *pass = NULL;
  const char *want = src->ref.digest ? src->ref.digest : src->ref.tag;
  ScRegistry *reg;

  if (opts && opts->username) {
    user = g_strdup(opts->username);
    pass = g_strdup(opts->password);
  } else if (!sc_auth_lookup(opts ? opts->authfile : NULL, ep->domain, ep->path, &user, &pass,
                             error))
    return FALSE;
  reg = sc_registry_new(ep->domain, user, pass, tls_verify && !ep->insecure,
                        opts ? opts->cert_dir : NULL, opts && opts->jobs ? opts->jobs : 4, error);
  if (pass)
    memset(pass, 0, strlen(pass));
  if (reg == NULL)
    return FALSE;
  if (opts)
    sc_registry_set_log(reg, opts->log);
  if (!sc_registry_ping(reg, error)) {
    sc_registry_free(reg);
    return FALSE;
  }
  if (opts && opts->known_digest) {
    /* a cheap update check: HEAD, and no body when nothing changed */
    g_autoptr(GError) local = NULL;
    g_autofree char *digest = sc_registry_head_manifest(reg, ep->path, want, &local);
    if (digest && strcmp(digest, opts->known_digest) == 0) {
      src->unchanged = TRUE;
      src->registry = reg;
      src->endpoint_path = g_strdup(ep->path);
      return TRUE;
    }
  }
  src->top_manifest = sc_registry_get_manifest(reg, ep->path, want, &src->top_media_type, error);
  if (src->top_manifest == NULL) {
    sc_registry_free(reg);
    return FALSE;
  }
  src->registry = reg;
  src->endpoint_path = g_strdup(ep->path);
  return TRUE;
}

/* docker://REF, atomic's http:REF (insecure), https:REF, oci:REF, or REF */
static gboolean
registry_open(ScImageSource *src, const char *spec, const ScSourceOptions *opts, GError **error)
{
  const char *text = spec;
  gboolean tls_verify = opts ? opts->tls_verify : TRUE;
  ScRegConf *conf;
  g_autoptr(GPtrArray) candidates = NULL;
  GError *last = NULL;

  if (g_str_has_prefix(text, "docker://"))
    text += 9;
  else if (g_str_has_prefix(text, "http:"))
    text += 5, tls_verify = FALSE;
  else if (g_str_has_prefix(text, "https:"))
    text += 6;
  else if (g_str_has_prefix(text, "oci:"))
    text += 4;
  while (*text == '/')
    text++;
  conf = sc_regconf_load(opts ? opts->registries_conf : NULL, error);
  if (conf == NULL)
    return FALSE;
  candidates = candidate_references(conf, text, error);
  if (candidates == NULL) {
    sc_regconf_free(conf);
    return FALSE;
  }
  for (guint i = 0; i < candidates->len && src->registry == NULL; i++) {
    g_autoptr(GPtrArray) endpoints = NULL;
    sc_reference_clear(&src->ref);
    if (!sc_reference_parse(candidates->pdata[i], &src->ref, error))
      break;
    endpoints = endpoints_for(conf, &src->ref, error);
    if (endpoints == NULL)
      break;
    for (guint k = 0; k < endpoints->len && src->registry == NULL; k++) {
      g_clear_error(&last);
      try_endpoint(src, endpoints->pdata[k], opts, tls_verify, &last);
    }
  }
  sc_regconf_free(conf);
  if (src->registry == NULL) {
    if (last && error && !*error)
      g_propagate_error(error, g_steal_pointer(&last));
    g_clear_error(&last);
    return FALSE;
  }
  g_clear_error(&last);
  src->name = sc_reference_to_string(&src->ref);
  return TRUE;
}

/* docker:NAME[:TAG]: the name stored is NAME:TAG as given (atomic's), the
 * tag "latest" when none is given; NULL when @spec is not one. */
char *
sc_image_source_daemon_name(const char *spec)
{
  const char *name = spec + 7;
  const char *slash = strrchr(name, '/');
  const char *colon = strrchr(slash ? slash : name, ':');

  if (!is_daemon(spec) || *name == '\0' || strchr(name, '@'))
    return NULL;
  return colon ? g_strdup(name) : g_strconcat(name, ":latest", NULL);
}

static gboolean
daemon_open(ScImageSource *src, const char *spec, GError **error)
{
  src->name = sc_image_source_daemon_name(spec);
  if (src->name == NULL) {
    g_set_error(error, SC_ERROR, SC_EINVAL,
                "%s: give the image as docker:NAME[:TAG] (a digest is not supported)",
                src->description);
    return FALSE;
  }
  src->kind = SOURCE_DOCKER_ARCHIVE;
  src->daemon = sc_daemon_open(src->name, error);
  return src->daemon && docker_open(src, error);
}

ScImageSource *
sc_image_source_open(const char *spec, const ScSourceOptions *opts, GError **error)
{
  ScImageSource *src = g_new0(ScImageSource, 1);
  g_autofree char *path = NULL;
  g_autofree char *tag = NULL;
  g_autofree char *base = NULL;
  gboolean ok;

  src->description = g_strdup(spec);
  if (is_oci_layout(spec) || g_str_has_prefix(spec, "oci-archive:")) {
    gboolean archive = g_str_has_prefix(spec, "oci-archive:");
    split_path_tag(spec + (archive ? 12 : 4), &path, &tag);
    src->kind = SOURCE_OCI;
    src->tag = g_strdup(tag);
    src->files = files_open(path, archive, FALSE, error);
    ok = src->files && oci_open(src, error);
  } else if (g_str_has_prefix(spec, "docker-archive:") || g_str_has_prefix(spec, "dockertar:")) {
    path = g_strdup(strchr(spec, ':') + 1);
    src->kind = SOURCE_DOCKER_ARCHIVE;
    src->files = files_open(path, TRUE, TRUE, error);
    ok = src->files && docker_open(src, error);
  } else if (is_daemon(spec)) {
    ok = daemon_open(src, spec, error);
  } else {
    src->kind = SOURCE_REGISTRY;
    ok = registry_open(src, spec, opts, error);
  }
  if (!ok) {
    sc_image_source_free(src);
    return NULL;
  }
  if (src->name == NULL) {
    /* localhost/<basename of the file or directory>:<tag> */
    g_autofree char *canon = g_canonicalize_filename(path, NULL);
    char *dot;
    base = g_path_get_basename(canon);
    dot = strrchr(base, '.');
    if (dot && (strcmp(dot, ".tar") == 0 || strcmp(dot, ".oci") == 0))
      *dot = '\0';
    src->name = g_strdup_printf("localhost/%s:%s", base, tag ? tag : "latest");
  }
  return src;
}

static gboolean
check_digest(ScImageSource *src, GBytes *b, const char *digest, const char *what, GError **error)
{
  g_autofree char *hex = sc_sha256_hex(g_bytes_get_data(b, NULL), g_bytes_get_size(b));
  if (strcmp(hex, digest + 7) != 0) {
    g_set_error(error, SC_ERROR, SC_EDIGEST, "%s: %s %s has digest sha256:%s",
                src->description, what, digest, hex);
    return FALSE;
  }
  return TRUE;
}

GBytes *
sc_image_source_get_manifest(ScImageSource *src, const char *digest, char **out_media_type,
                             GError **error)
{
  if (src->kind == SOURCE_REGISTRY) {
    const char *hex;
    const char *want = digest ? digest : src->ref.digest;
    g_autofree char *mt = NULL;
    GBytes *b;
    if (want && !sc_content_digest_hex(want, &hex, error))
      return NULL;
    if (digest == NULL) {
      b = g_bytes_ref(src->top_manifest);
      mt = g_strdup(src->top_media_type);
    } else
      b = sc_registry_get_manifest(src->registry, src->endpoint_path, digest, &mt, error);
    if (b == NULL)
      return NULL;
    /* by digest (asked for, or in the reference): the bytes must match */
    if (want && !check_digest(src, b, want, "manifest", error)) {
      g_bytes_unref(b);
      return NULL;
    }
    if (out_media_type)
      *out_media_type = g_steal_pointer(&mt);
    return b;
  }
  if (src->kind == SOURCE_DOCKER_ARCHIVE) {
    *out_media_type = g_strdup(SC_MEDIA_OCI_MANIFEST);
    return g_bytes_ref(src->synth_manifest);
  }
  if (digest == NULL) {
    json_t *d = oci_pick_descriptor(src, error);
    GBytes *b;
    const char *mt;
    if (d == NULL)
      return NULL;
    mt = json_string_value(json_object_get(d, "mediaType"));
    *out_media_type = g_strdup(mt ? mt : "");
    b = sc_image_source_get_manifest(src, json_string_value(json_object_get(d, "digest")), NULL,
                                     error);
    json_decref(d);
    return b;
  } else {
    g_autofree char *member = blob_member(digest, error);
    GBytes *b;
    if (member == NULL)
      return NULL;
    b = files_read(src->files, member, error);
    if (b == NULL)
      return NULL;
    if (!check_digest(src, b, digest, "manifest", error)) {
      g_bytes_unref(b);
      return NULL;
    }
    return b;
  }
}

GInputStream *
sc_image_source_open_blob(ScImageSource *src, const char *digest, guint64 expected_size,
                          guint64 *out_size, GError **error)
{
  g_autofree char *member = NULL;
  GInputStream *in;

  if (src->kind == SOURCE_REGISTRY) {
    const char *hex;
    if (!sc_content_digest_hex(digest, &hex, error))
      return NULL;
    *out_size = expected_size;
    return sc_registry_open_blob(src->registry, src->endpoint_path, digest, expected_size,
                                 error);
  }
  if (src->kind == SOURCE_DOCKER_ARCHIVE) {
    const char *m = g_hash_table_lookup(src->blob_members, digest);
    if (m == NULL) {
      g_set_error(error, SC_ERROR, SC_ENOTFOUND, "%s: no blob %s", src->description, digest);
      return NULL;
    }
    member = g_strdup(m);
    if (src->daemon) {
      in = sc_daemon_open_member(src->daemon, member, out_size, error);
      if (in == NULL)
        g_prefix_error(error, "blob %s: ", digest);
      return in;
    }
  } else if ((member = blob_member(digest, error)) == NULL)
    return NULL;
  in = files_open_member(src->files, member, out_size, error);
  if (in == NULL)
    g_prefix_error(error, "blob %s: ", digest);
  return in;
}
