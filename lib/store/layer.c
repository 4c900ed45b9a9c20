/*
 * Layer import, streaming, in one pass: blob -> SHA-256 of the compressed
 * bytes -> gzip/zstd/none (by magic) -> SHA-256 of the tar (the diff_id,
 * in a thread of its own) and libarchive tar reader -> OSTree objects -> a
 * mutable tree -> a commit.
 * No temporary files. The caller sets the ref only after both digests match.
 *
 * Every entry is checked before it is used (layercheck.c): confined to the
 * layer tree, bounded in depth and length, whiteout names that mean
 * something. A hardlink must name an earlier file of the same layer, and
 * device nodes, fifos and sockets are skipped. Whiteout files (.wh.*) stay
 * literal; they are processed at checkout. What reaches OSTree is in its
 * canonical form (xattrs sorted, permission bits only), so that the
 * checksums it computes now are the ones fsck recomputes from the disk.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "store.h"

#include <archive.h>
#include <archive_entry.h>
#include <locale.h>
#include <ostree.h>
#include <string.h>

#define BUF_SIZE (256 * 1024)
/* Files up to this size are written from one buffer. */
#define INLINE_MAX (64 * 1024)

typedef struct {
  GInputStream *in;
  const char *digest; /* for messages */
  guint64 expected, consumed;
  gint64 *progress; /* shared byte counter (atomic), may be NULL */
  ScSha256 *blob_hash;
  ScDecoder *dec; /* from the first bytes (decompress.c) */
  guchar *in_buf;
  gsize in_pos, in_len;
  GCancellable *cancel;
  ScSha256 *tar_hash;
  guint64 tar_size;
  guint64 max_tar; /* a decompression bomb stops here */
  GError *error;   /* the first failure inside a libarchive callback */
} Pipe;

static gboolean
pipe_fill(Pipe *p)
{
  gsize want = BUF_SIZE, got = 0;

  if (p->consumed >= p->expected) {
    p->in_len = p->in_pos = 0;
    return TRUE;
  }
  if (want > p->expected - p->consumed)
    want = p->expected - p->consumed;
  if (!g_input_stream_read_all(p->in, p->in_buf, want, &got, p->cancel, &p->error))
    return FALSE;
  if (got < want) {
    g_set_error(&p->error, SC_ERROR, SC_EDIGEST,
                "layer %s: truncated: the blob ends after %" G_GUINT64_FORMAT
                " of %" G_GUINT64_FORMAT " bytes",
                p->digest, p->consumed + got, p->expected);
    return FALSE;
  }
  sc_sha256_update(p->blob_hash, p->in_buf, got);
  p->consumed += got;
  if (p->progress)
    __atomic_add_fetch(p->progress, (gint64)got, __ATOMIC_RELAXED);
  p->in_pos = 0;
  p->in_len = got;
  return TRUE;
}

/* The decoder, chosen by the blob's first bytes. */
static gboolean
pipe_detect(Pipe *p)
{
  if (!pipe_fill(p))
    return FALSE;
  p->dec = sc_decoder_new(p->in_buf, p->in_len, p->digest, &p->error);
  return p->dec != NULL;
}

/* Produces up to BUF_SIZE bytes of tar into @out; 0 at the end. */
static gssize
pipe_produce(Pipe *p, guchar *out)
{
  gsize produced = 0;

  if (p->dec == NULL && !pipe_detect(p))
    return -1;
  while (produced == 0) {
    /* in_len 0 after a fill: the blob has ended (the decoder then drains
     * and checks its end marker) */
    if (p->in_pos == p->in_len && !sc_decoder_pending(p->dec) && !pipe_fill(p))
      return -1;
    if (!sc_decoder_run(p->dec, p->in_buf, p->in_len, &p->in_pos, out, BUF_SIZE, &produced,
                        &p->error))
      return -1;
    if (produced == 0 && p->in_len == 0)
      return 0;
  }
  p->tar_size += produced;
  if (p->tar_size > p->max_tar) {
    g_set_error(&p->error, SC_ERROR, SC_EUNSUPPORTED,
                "layer %s: inflates to more than %" G_GUINT64_FORMAT
                " bytes, the limit (SC_MAX_LAYER_BYTES)",
                p->digest, p->max_tar);
    return -1;
  }
  return produced;
}

/* The pipe runs in a thread of its own (reading, the blob's digest,
 * decompression), handing tar data through a few recycled buffers both to
 * the thread that parses it and writes OSTree objects and to one that
 * computes the tar's digest (the diff_id): decompressing and hashing the
 * tar in one thread made that thread the slowest of a single layer's
 * import, with the second core idle a third of the time. The three run
 * at once, in bounded memory. */
typedef struct _Feeder Feeder;

typedef struct {
  guchar *data;
  gssize len; /* < 0: the pipe failed; 0: the end */
  /* the parser, the tar's digest and the queued files whose contents are
   * in it (borrowed: layerpool.c): back to the free queue at 0 */
  gint users;
  Feeder *owner;
} Chunk;

/* Blocks of decompressed tar in flight per layer: one being filled, one
 * being parsed, one being hashed, and the rest held by small files queued
 * for the workers. */
#define N_CHUNKS 8

struct _Feeder {
  Pipe *p;
  GAsyncQueue *free_q, *full_q, *hash_q;
  Chunk chunks[N_CHUNKS];
  Chunk *current; /* lent to libarchive until its next read */
  gboolean ended;
  GThread *thread, *hasher;
  /* called by the parser before it waits for a block: whatever it queued
   * that holds blocks goes to the workers, or the feeder could wait for a
   * free block that only the parser's queue would give back */
  void (*before_wait)(gpointer data);
  gpointer wait_data;
};

static void
chunk_release(Feeder *f, Chunk *c)
{
  if (g_atomic_int_dec_and_test(&c->users))
    g_async_queue_push(f->free_q, c);
}

/* A borrowed chunk given back (GDestroyNotify). */
static void
chunk_unref(gpointer data)
{
  Chunk *c = data;
  chunk_release(c->owner, c);
}

/* The next full chunk; the parser's queued files go to the workers first
 * when it has to wait. */
static Chunk *
feeder_next(Feeder *f)
{
  Chunk *c = g_async_queue_try_pop(f->full_q);

  if (c == NULL) {
    if (f->before_wait)
      f->before_wait(f->wait_data);
    c = g_async_queue_pop(f->full_q);
  }
  return c;
}

static gpointer
feeder_thread(gpointer data)
{
  Feeder *f = data;
  for (;;) {
    Chunk *c = g_async_queue_pop(f->free_q);
    c->len = pipe_produce(f->p, c->data);
    g_atomic_int_set(&c->users, 2);
    g_async_queue_push(f->hash_q, c);
    g_async_queue_push(f->full_q, c);
    if (c->len <= 0)
      return NULL;
  }
}

/* The tar's SHA-256, chunk after chunk in the pipe's order. */
static gpointer
hasher_thread(gpointer data)
{
  Feeder *f = data;
  for (;;) {
    Chunk *c = g_async_queue_pop(f->hash_q);
    gssize len = c->len;
    if (len > 0)
      sc_sha256_update(f->p->tar_hash, c->data, (gsize)len);
    chunk_release(f, c);
    if (len <= 0)
      return NULL;
  }
}

static la_ssize_t
feeder_read(struct archive *a, void *data, const void **buf)
{
  Feeder *f = data;
  Chunk *c;

  if (f->current) {
    chunk_release(f, f->current);
    f->current = NULL;
  }
  if (f->ended)
    return 0;
  c = feeder_next(f);
  if (c->len <= 0) {
    gssize len = c->len;
    f->ended = TRUE;
    chunk_release(f, c);
    if (len < 0) {
      archive_set_error(a, EIO, "read error"); /* the pipe's error is reported */
      return -1;
    }
    return 0;
  }
  f->current = c;
  *buf = c->data;
  return c->len;
}

/* Lets the pipe run to its end (or stop, when @cancel) and joins it. */
static void
feeder_finish(Feeder *f, gboolean cancel)
{
  if (cancel)
    g_cancellable_cancel(f->p->cancel);
  if (f->current) {
    chunk_release(f, f->current);
    f->current = NULL;
  }
  while (!f->ended) {
    Chunk *c = feeder_next(f);
    f->ended = c->len <= 0;
    chunk_release(f, c);
  }
  g_thread_join(f->thread);
  g_thread_join(f->hasher);
  /* every chunk back, the borrowed ones once their files are written */
  if (f->before_wait)
    f->before_wait(f->wait_data);
  for (int i = 0; i < N_CHUNKS; i++)
    g_async_queue_pop(f->free_q);
  for (int i = 0; i < N_CHUNKS; i++)
    g_free(f->chunks[i].data);
  g_async_queue_unref(f->free_q);
  g_async_queue_unref(f->full_q);
  g_async_queue_unref(f->hash_q);
}

static void
feeder_start(Feeder *f, Pipe *p, void (*before_wait)(gpointer), gpointer wait_data)
{
  f->p = p;
  f->before_wait = before_wait;
  f->wait_data = wait_data;
  f->free_q = g_async_queue_new();
  f->full_q = g_async_queue_new();
  f->hash_q = g_async_queue_new();
  for (int i = 0; i < N_CHUNKS; i++) {
    f->chunks[i].data = g_malloc(BUF_SIZE);
    f->chunks[i].owner = f;
    g_async_queue_push(f->free_q, &f->chunks[i]);
  }
  f->thread = g_thread_new("sc-layer-pipe", feeder_thread, f);
  f->hasher = g_thread_new("sc-layer-tarsum", hasher_thread, f);
}

/* ---- the tree ---- */

typedef struct {
  OstreeRepo *repo;
  OstreeMutableTree *root;
  char *default_dirmeta;
  const char *digest;
  const ScLayerLimits *limits;
  guint64 stored; /* the full size of the regular files so far */
  guint skipped;
  ScSelinux *se;        /* the target root's policy: labels set at import, or NULL */
  GHashTable *dirmetas; /* label -> a directory made without an entry (0:0 0755) */
  GHashTable *label_xattrs; /* label ("" for none) -> the xattrs of an entry with no others */
  ScLayerPool *pool;    /* writes the files up to SC_LAYER_POOL_MAX_FILE bytes */
  guint64 seq;          /* the entries seen so far */
} Tree;

static char *
write_dirmeta(OstreeRepo *repo, guint32 uid, guint32 gid, guint32 mode, GVariant *xattrs,
              GError **error)
{
  g_autoptr(GFileInfo) info = g_file_info_new();
  g_autoptr(GVariant) meta = NULL;
  g_autofree guchar *csum = NULL;

  g_file_info_set_file_type(info, G_FILE_TYPE_DIRECTORY);
  g_file_info_set_attribute_uint32(info, "unix::uid", uid);
  g_file_info_set_attribute_uint32(info, "unix::gid", gid);
  g_file_info_set_attribute_uint32(info, "unix::mode", S_IFDIR | (mode & 07777));
  meta = ostree_create_directory_metadata(info, xattrs); /* a full reference, not floating */
  if (!ostree_repo_write_metadata(repo, OSTREE_OBJECT_TYPE_DIR_META, NULL, meta, &csum, NULL,
                                  error))
    return NULL;
  return ostree_checksum_from_bytes(csum);
}

/* The path the policy is asked about for the first @n components of an
 * entry, as skopeo did for atomic: the path inside the container, except
 * that what /exports/hostfs/X holds is labelled as the host's /X (so the
 * host files later written from it match their destination). */
static char *
label_path(char **parts, guint n)
{
  GString *s = g_string_new("");
  guint from = 0;

  if (n > 2 && strcmp(parts[0], "exports") == 0 && strcmp(parts[1], "hostfs") == 0)
    from = 2;
  for (guint i = from; i < n; i++)
    g_string_append_printf(s, "/%s", parts[i]);
  if (s->len == 0)
    g_string_append_c(s, '/');
  return g_string_free(s, FALSE);
}

/* The xattrs of a directory the layer has no entry for: @label's
 * security.selinux (none for NULL) and the marker that tells the checkout
 * to keep a lower layer's directory there as it is (the OCI union of
 * umoci: a layer that adds or whites out root/x without a root/ entry
 * leaves the lower root/ 0700 as it was; it became 0755: trial17b N3). */
static GVariant *
label_xattrs(const char *label)
{
  GVariantBuilder b;

  g_variant_builder_init(&b, G_VARIANT_TYPE("a(ayay)"));
  g_variant_builder_add(
    &b, "(@ay@ay)", g_variant_new_bytestring(SC_IMPLICIT_DIR_XATTR), g_variant_new_bytestring(""));
  if (label)
    g_variant_builder_add(&b, "(@ay@ay)", g_variant_new_bytestring("security.selinux"),
                          g_variant_new_bytestring(label));
  return g_variant_ref_sink(g_variant_builder_end(&b));
}

/* The metadata of a directory the layer has no entry for (0:0 0755),
 * labelled for the first @n components of @parts. */
static const char *
implicit_dirmeta(Tree *t, char **parts, guint n, GError **error)
{
  g_autofree char *path = NULL, *label = NULL;
  g_autoptr(GVariant) xattrs = NULL;
  char *meta;

  if (t->se == NULL)
    return t->default_dirmeta;
  path = label_path(parts, n);
  if (!sc_selinux_lookup(t->se, path, S_IFDIR, &label, error))
    return NULL;
  if (label == NULL)
    return t->default_dirmeta;
  meta = g_hash_table_lookup(t->dirmetas, label);
  if (meta)
    return meta;
  xattrs = label_xattrs(label);
  meta = write_dirmeta(t->repo, 0, 0, 0755, xattrs, error);
  if (meta)
    g_hash_table_insert(t->dirmetas, g_steal_pointer(&label), meta);
  return meta;
}

/* The directory that holds the last component of @parts, created with
 * default metadata where missing. */
static OstreeMutableTree *
ensure_parent(Tree *t, char **parts, guint n, GError **error)
{
  OstreeMutableTree *dir = g_object_ref(t->root);

  for (guint i = 0; i + 1 < n; i++) {
    OstreeMutableTree *sub = NULL;
    g_autofree char *file = NULL;
    /* a file of this layer where a later entry needs a directory gives way
     * to it, as an entry of that directory would replace it */
    if (ostree_mutable_tree_lookup(dir, parts[i], &file, &sub, NULL) && file != NULL &&
        !ostree_mutable_tree_remove(dir, parts[i], FALSE, error)) {
      g_prefix_error(error, "layer %s: ", t->digest);
      g_object_unref(dir);
      return NULL;
    }
    g_clear_object(&sub);
    if (!ostree_mutable_tree_ensure_dir(dir, parts[i], &sub, error)) {
      g_prefix_error(error, "layer %s: ", t->digest);
      g_object_unref(dir);
      return NULL;
    }
    if (ostree_mutable_tree_get_metadata_checksum(sub) == NULL) {
      const char *meta = implicit_dirmeta(t, parts, i + 1, error);
      if (meta == NULL) {
        g_object_unref(sub);
        g_object_unref(dir);
        return NULL;
      }
      ostree_mutable_tree_set_metadata_checksum(sub, meta);
    }
    g_object_unref(dir);
    dir = sub;
  }
  return dir;
}

static gboolean
parent_is_file(Tree *t, char **parts, guint n)
{
  OstreeMutableTree *dir = t->root;

  for (guint i = 0; i + 1 < n; i++) {
    g_autofree char *file = NULL;
    g_autoptr(OstreeMutableTree) sub = NULL;
    if (!ostree_mutable_tree_lookup(dir, parts[i], &file, &sub, NULL))
      return FALSE;
    if (file != NULL)
      return TRUE;
    dir = sub; /* owned by its parent */
  }
  return FALSE;
}

/* The tar's xattrs, but never a label of the layer's own: with a policy,
 * the policy's replaces it (skopeo relabelled what it untarred); without
 * one, it is dropped. Kept, an image would choose its files' labels for
 * the day the root gets a policy (a stored layer is not relabelled). */
static GVariant *
entry_xattrs(Tree *t, const ScLayerEntry *entry, struct archive_entry *e, GError **error)
{
  g_autoptr(GArray) xattrs = g_array_new(FALSE, FALSE, sizeof(ScXattr));
  g_autofree char *label = NULL;
  ScXattr x;

  if (t->se) {
    g_autofree char *path = label_path(entry->parts, entry->n_parts);
    if (!sc_selinux_lookup(t->se, path, archive_entry_filetype(e), &label, error))
      return NULL;
  }
  archive_entry_xattr_reset(e);
  while (archive_entry_xattr_next(e, &x.name, (const void **)&x.value, &x.size) == ARCHIVE_OK)
    if (strcmp(x.name, "security.selinux") != 0)
      g_array_append_val(xattrs, x);
  /* most entries have no xattrs but their label: those of one label share
   * one GVariant (built once, and one checksum header: layerpool.c) */
  if (xattrs->len == 0) {
    GVariant *shared = g_hash_table_lookup(t->label_xattrs, label ? label : "");
    if (shared == NULL) {
      if (label)
        g_array_append_val(xattrs, ((ScXattr){ "security.selinux", (const guchar *)label,
                                               strlen(label) + 1 }));
      shared = sc_layer_xattrs_canonical(t->digest, entry->path, xattrs, error);
      if (shared == NULL)
        return NULL;
      g_hash_table_insert(t->label_xattrs, g_strdup(label ? label : ""), shared);
    }
    return g_variant_ref(shared);
  }
  if (label) {
    x.name = "security.selinux";
    x.value = (const guchar *)label;
    x.size = strlen(label) + 1;
    g_array_append_val(xattrs, x);
  }
  return sc_layer_xattrs_canonical(t->digest, entry->path, xattrs, error);
}

/* Whether the kernel stores each of @xattrs byte for byte: user.*
 * always, security.selinux while the running kernel has no SELinux (it is
 * then an attribute like any other). Not trusted.*: XFS reads
 * trusted.SGI_ACL_FILE as a POSIX ACL (found by an outside attack).
 * Reading every object back cost an open and the xattr calls per file,
 * on a host with a policy every file (each has a label). */
static gboolean
xattrs_kept_as_written(GVariant *xattrs)
{
  for (gsize i = 0; i < g_variant_n_children(xattrs); i++) {
    const char *name;
    g_variant_get_child(xattrs, i, "(^&ay@ay)", &name, NULL);
    if (!g_str_has_prefix(name, "user.") &&
        !(strcmp(name, "security.selinux") == 0 && !sc_selinux_kernel_enabled()))
      return FALSE;
  }
  return TRUE;
}

static gboolean
xattr_named(GVariant *xattrs, const char *name)
{
  for (gsize i = 0; i < g_variant_n_children(xattrs); i++) {
    const char *n;
    g_variant_get_child(xattrs, i, "(^&ay@ay)", &n, NULL);
    if (strcmp(n, name) == 0)
      return TRUE;
  }
  return FALSE;
}

/* Reads the object back as fsck will: the kernel keeps some xattrs in a
 * form of its own (a POSIX ACL folds into the mode, or disappears when the
 * mode says it all; file capabilities; an enabled LSM's labels), and such
 * an object would fail its checksum. */
static gboolean
check_stored(Tree *t,
             const char *path,
             const char *checksum,
             guint32 mode,
             GVariant *xattrs,
             GError **error)
{
  g_autoptr(GFileInfo) info = NULL;
  g_autoptr(GVariant) back = NULL;
  g_autoptr(GString) changed = g_string_new(NULL);

  if (xattrs_kept_as_written(xattrs))
    return TRUE;
  if (!ostree_repo_load_file(t->repo, checksum, NULL, &info, &back, NULL, error)) {
    g_prefix_error(error, "layer %s: '%s': ", t->digest, path);
    return FALSE;
  }
  for (gsize i = 0; i < g_variant_n_children(xattrs); i++) {
    g_autoptr(GVariant) value = NULL;
    const char *name;
    gboolean same = FALSE;
    g_variant_get_child(xattrs, i, "(^&ay@ay)", &name, &value);
    for (gsize j = 0; back && !same && j < g_variant_n_children(back); j++) {
      g_autoptr(GVariant) bvalue = NULL;
      const char *bname;
      g_variant_get_child(back, j, "(^&ay@ay)", &bname, &bvalue);
      same = strcmp(bname, name) == 0 && g_variant_equal(bvalue, value);
    }
    if (!same)
      g_string_append_printf(changed, "%s'%s'", changed->len ? ", " : "", name);
  }
  /* and none the filesystem adds: XFS shows an ACL written as
   * trusted.SGI_ACL_FILE as system.posix_acl_access too */
  for (gsize j = 0; back && j < g_variant_n_children(back); j++) {
    const char *bname;
    g_variant_get_child(back, j, "(^&ay@ay)", &bname, NULL);
    if (!xattr_named(xattrs, bname))
      g_string_append_printf(changed, "%s'%s' added", changed->len ? ", " : "", bname);
  }
  if (mode != 0 && g_file_info_get_attribute_uint32(info, "unix::mode") != mode)
    g_string_append_printf(changed,
                           "%sthe mode 0%o to 0%o",
                           changed->len ? ", " : "",
                           mode & 07777,
                           g_file_info_get_attribute_uint32(info, "unix::mode") & 07777);
  if (changed->len) {
    g_autofree char *shown = sc_display(path, 100);
    g_set_error(error,
                SC_ERROR,
                SC_EUNSUPPORTED,
                "layer %s: entry '%s' has xattrs that the filesystem changes when they are "
                "stored (%s); the store cannot hold it as the layer gives it",
                t->digest,
                shown,
                changed->str);
    return FALSE;
  }
  return TRUE;
}

static gboolean
lookup_file(Tree *t, char **parts, char **out_checksum, GError **error)
{
  OstreeMutableTree *dir = t->root;
  guint n = g_strv_length(parts);

  for (guint i = 0; i < n; i++) {
    g_autofree char *file = NULL;
    g_autoptr(OstreeMutableTree) sub = NULL;
    if (!ostree_mutable_tree_lookup(dir, parts[i], &file, &sub, NULL))
      return FALSE;
    if (i + 1 == n) {
      if (file == NULL)
        return FALSE;
      *out_checksum = g_steal_pointer(&file);
      return TRUE;
    }
    if (sub == NULL)
      return FALSE;
    dir = sub; /* owned by its parent, which outlives this loop */
  }
  return FALSE;
}

static char *
shown(const char *path)
{
  return sc_display(path, 100);
}

/* A layer's data that ends before its entry does. */
static gboolean
read_failed(Tree *t, struct archive *a, const char *path, GError **error)
{
  g_autofree char *p = shown(path);

  g_set_error(error, SC_ERROR, SC_EIO, "layer %s: '%s': %s", t->digest, p,
              archive_error_string(a) ? archive_error_string(a) : "short read");
  return FALSE;
}

static gboolean
read_inline(Tree *t, struct archive *a, const char *path, guchar *buf, gsize size, GError **error)
{
  gsize done = 0;

  while (done < size) {
    la_ssize_t r = archive_read_data(a, buf + done, size - done);
    if (r <= 0)
      break;
    done += r;
  }
  if (done != size)
    return read_failed(t, a, path, error);
  return TRUE;
}

/* OSTree's error, prefixed with the layer and the entry. */
static gboolean
import_failed(Tree *t, const char *path, GError **error)
{
  g_autofree char *p = shown(path);

  g_prefix_error(error, "layer %s: '%s': ", t->digest, p);
  return FALSE;
}

/* What an entry stores besides its content. */
typedef struct {
  guint32 uid, gid;
  guint32 mode; /* the permission bits */
  GVariant *xattrs;
} EntryMeta;

static void
entry_meta_clear(EntryMeta *m)
{
  g_clear_pointer(&m->xattrs, g_variant_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(EntryMeta, entry_meta_clear)

static gboolean
entry_meta(Tree *t, struct archive_entry *e, const ScLayerEntry *entry, EntryMeta *m,
           GError **error)
{
  la_int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);

  /* chown() takes an id of 4294967295 as "unchanged" (a bare object would
   * keep root's owner, and fail ostree fsck), and one past 32 bits would be
   * cut to another: the store cannot hold them (a whiteout is not stored) */
  if (entry->kind == SC_WHITEOUT_NONE &&
      (uid < 0 || gid < 0 || uid >= G_MAXUINT32 || gid >= G_MAXUINT32)) {
    g_autofree char *p = shown(entry->path);
    g_set_error(error,
                SC_ERROR,
                SC_EUNSUPPORTED,
                "layer %s: entry '%s' has the owner %" G_GINT64_FORMAT ":%" G_GINT64_FORMAT
                ", which the store cannot hold (ids go up to 4294967294)",
                t->digest,
                p,
                (gint64)uid,
                (gint64)gid);
    return FALSE;
  }
  m->uid = (guint32)uid;
  m->gid = (guint32)gid;
  /* OSTree's canonical mode holds the permission bits and nothing else
   * (a tar header has room for more). */
  m->mode = archive_entry_perm(e) & 07777;
  m->xattrs = entry_xattrs(t, entry, e, error);
  return m->xattrs != NULL;
}

/* The feeder whose tar the walk in this thread parses (walk_entries()). */
static __thread Feeder *parsing;

/* The chunk that holds @len bytes at @blk whole, with a reference taken
 * for the caller, or NULL (a block libarchive copied into its own buffer,
 * across two chunks). */
static Chunk *
chunk_borrow(const void *blk, size_t len)
{
  Chunk *c = parsing ? parsing->current : NULL;
  const guchar *b = blk;

  if (c == NULL || b < c->data || len > (gsize)c->len || b - c->data > c->len - (gssize)len)
    return NULL;
  g_atomic_int_inc(&c->users);
  return c;
}

/* A file's @size bytes into @data from libarchive's blocks, the first
 * one (@blk, @len at @off) already read (@eof: it was the end, which
 * libarchive gives the file's size as its offset); the holes of a sparse
 * file, a trailing one too, as zeros, as archive_read_data() makes them. */
static gboolean
read_blocks(Tree *t, struct archive *a, const char *path, guchar *data, gsize size,
            const void *blk, size_t len, la_int64_t off, gboolean eof, GError **error)
{
  gsize filled = 0;

  for (;;) {
    int r;
    if (eof && (off < 0 || (guint64)off < filled))
      break; /* (an end at no offset in particular) */
    if (off < 0 || (guint64)off < filled || (guint64)off > size || len > size - (guint64)off)
      return read_failed(t, a, path, error);
    memset(data + filled, 0, (gsize)off - filled);
    filled = (gsize)off;
    if (eof)
      break;
    memcpy(data + off, blk, len);
    filled += len;
    r = archive_read_data_block(a, &blk, &len, &off);
    if (r < ARCHIVE_WARN)
      return read_failed(t, a, path, error);
    eof = r == ARCHIVE_EOF;
  }
  if (filled != size)
    return read_failed(t, a, path, error);
  return TRUE;
}

/* A file the pool writes (check_stored() included): its placeholder.
 * Contents that lie whole in the chunk being parsed are queued from
 * there, not copied (5 % of a pull's CPU time went to the copy). */
static char *
queue_regfile(Tree *t,
              struct archive *a,
              const char *path,
              const EntryMeta *m,
              gsize size,
              GError **error)
{
  const void *blk = NULL;
  size_t len = 0;
  la_int64_t off = 0;
  gboolean eof = size == 0;
  guchar *data;
  char placeholder[65];

  if (!eof) {
    int r = archive_read_data_block(a, &blk, &len, &off);
    Chunk *c;
    if (r < ARCHIVE_WARN)
      return read_failed(t, a, path, error), NULL;
    eof = r == ARCHIVE_EOF;
    if (!eof && off == 0 && len == size && (c = chunk_borrow(blk, len)) != NULL) {
      sc_layer_pool_add_borrowed(t->pool, t->seq, path, m->uid, m->gid, m->mode, m->xattrs, blk,
                                 size, chunk_unref, c, placeholder);
      return g_strdup(placeholder);
    }
  }
  data = sc_layer_pool_buffer_new(t->pool, size);
  if (!read_blocks(t, a, path, data, size, blk, len, off, eof, error)) {
    sc_layer_pool_buffer_free(data, size);
    return NULL;
  }
  sc_layer_pool_add(
    t->pool, t->seq, path, m->uid, m->gid, m->mode, m->xattrs, data, size, placeholder);
  return g_strdup(placeholder);
}

typedef gboolean (*ChunkSink)(gpointer target, const guchar *data, gsize len, GError **error);

static gboolean
sink_bare(gpointer target, const guchar *data, gsize len, GError **error)
{
  return sc_bare_stream_write(target, data, len, error);
}

static gboolean
sink_ostree(gpointer target, const guchar *data, gsize len, GError **error)
{
  return g_output_stream_write_all(target, data, len, NULL, NULL, error);
}

/* The entry's @size bytes, through @buf, into @sink: a failed read is told
 * whole, a failed write prefixed with the layer and the path. */
static gboolean
stream_entry(Tree *t, struct archive *a, const char *path, gint64 size, guchar *buf,
             ChunkSink sink, gpointer target, GError **error)
{
  for (gint64 done = 0; done < size;) {
    la_ssize_t r = archive_read_data(a, buf, MIN(BUF_SIZE, size - done));
    if (r <= 0)
      return read_failed(t, a, path, error);
    if (!sink(target, buf, r, error))
      return import_failed(t, path, error);
    done += r;
  }
  return TRUE;
}

/* A file too large to queue, in a bare store: written as it is read, and
 * checksummed on the way with the accelerated SHA-256 (bareobject.c). */
static char *
write_regfile_bare(Tree *t,
                   struct archive *a,
                   const char *path,
                   const EntryMeta *m,
                   gint64 size,
                   guchar *buf,
                   GError **error)
{
  g_autoptr(ScBareStream) s = sc_bare_stream_new(
    sc_layer_pool_bare(t->pool), m->uid, m->gid, S_IFREG | m->mode, m->xattrs, size, error);
  char *checksum;

  if (s == NULL) {
    import_failed(t, path, error);
    return NULL;
  }
  if (!stream_entry(t, a, path, size, buf, sink_bare, s, error))
    return NULL;
  checksum = sc_bare_stream_finish(s, error);
  if (checksum == NULL)
    import_failed(t, path, error);
  return checksum;
}

/* The file's checksum (a placeholder for a queued file: *@out_queued). */
static char *
write_regfile(Tree *t,
              struct archive *a,
              struct archive_entry *e,
              const char *path,
              const EntryMeta *m,
              guchar *buf,
              gboolean *out_queued,
              GError **error)
{
  gint64 size = archive_entry_size(e);
  g_autoptr(OstreeContentWriter) w = NULL;
  g_autofree char *checksum = NULL;

  /* What is stored is the file's full size: the holes of a sparse file
   * become zeros in the store. Counted before anything is written. */
  if (size < 0 || (t->limits && (guint64)size > t->limits->max_bytes - t->stored)) {
    g_autofree char *p = shown(path);
    g_set_error(error,
                SC_ERROR,
                SC_EUNSUPPORTED,
                "layer %s: '%s' (%" G_GINT64_FORMAT
                " bytes) takes the layer's files past %" G_GUINT64_FORMAT
                " bytes, the limit (SC_MAX_LAYER_BYTES)",
                t->digest,
                p,
                size,
                t->limits ? t->limits->max_bytes : 0);
    return NULL;
  }
  t->stored += size;
  *out_queued = t->pool != NULL && size <= SC_LAYER_POOL_MAX_FILE;
  if (*out_queued)
    return queue_regfile(t, a, path, m, size, error);
  if (size <= INLINE_MAX) {
    if (!read_inline(t, a, path, buf, size, error))
      return NULL;
    checksum = ostree_repo_write_regfile_inline(
      t->repo, NULL, m->uid, m->gid, S_IFREG | m->mode, m->xattrs, buf, size, NULL, error);
    if (checksum == NULL)
      goto ostree_failed;
    return g_steal_pointer(&checksum);
  }
  if (sc_layer_pool_bare(t->pool))
    return write_regfile_bare(t, a, path, m, size, buf, error);
  w = ostree_repo_write_regfile(
    t->repo, NULL, m->uid, m->gid, S_IFREG | m->mode, size, m->xattrs, error);
  if (w == NULL)
    goto ostree_failed;
  if (!stream_entry(t, a, path, size, buf, sink_ostree, w, error))
    return NULL;
  checksum = ostree_content_writer_finish(w, NULL, error);
  if (checksum != NULL)
    return g_steal_pointer(&checksum);
ostree_failed:
  import_failed(t, path, error);
  return NULL;
}

/* "./" itself: the root directory's metadata. */
static gboolean
import_root(Tree *t, const EntryMeta *m, GError **error)
{
  g_autofree char *meta = write_dirmeta(t->repo, m->uid, m->gid, m->mode, m->xattrs, error);

  if (meta == NULL)
    return FALSE;
  ostree_mutable_tree_set_metadata_checksum(t->root, meta);
  return TRUE;
}

/* The directory that holds the entry, created where missing; none (and
 * TRUE) for a whiteout below a path that this layer itself turns into a
 * non-directory (umoci writes "d" as a file and then "d/.wh.x"): it has
 * nothing left to delete, and is skipped. */
static gboolean
import_parent(Tree *t, const ScLayerEntry *entry, OstreeMutableTree **out_parent, GError **error)
{
  *out_parent = NULL;
  if (entry->kind != SC_WHITEOUT_NONE && parent_is_file(t, entry->parts, entry->n_parts))
    return TRUE;
  *out_parent = ensure_parent(t, entry->parts, entry->n_parts, error);
  return *out_parent != NULL;
}

/* Before an entry of @entry's name goes into @parent: an earlier entry of
 * this layer there of the other kind (a file where a directory comes, or
 * a directory, with all it holds, where a file comes) is removed. */
static gboolean
replace_kind(OstreeMutableTree *parent, const ScLayerEntry *entry, gboolean file,
             GError **error)
{
  const char *name = entry->parts[entry->n_parts - 1];
  g_autofree char *old_file = NULL;
  g_autoptr(OstreeMutableTree) old_dir = NULL;

  if (!ostree_mutable_tree_lookup(parent, name, &old_file, &old_dir, NULL))
    return TRUE; /* (nothing there) */
  if ((file && old_dir == NULL) || (!file && old_file == NULL))
    return TRUE;
  return ostree_mutable_tree_remove(parent, name, FALSE, error);
}

static gboolean
import_dir(Tree *t,
           OstreeMutableTree *parent,
           const ScLayerEntry *entry,
           const EntryMeta *m,
           GError **error)
{
  g_autoptr(OstreeMutableTree) sub = NULL;
  g_autofree char *meta = write_dirmeta(t->repo, m->uid, m->gid, m->mode, m->xattrs, error);

  if (meta == NULL)
    return FALSE;
  /* a later entry wins, as tar extracts: a file of this layer at the name
   * gives way to the directory */
  if (!replace_kind(parent, entry, FALSE, error) ||
      !ostree_mutable_tree_ensure_dir(parent, entry->parts[entry->n_parts - 1], &sub, error))
    return import_failed(t, entry->path, error);
  ostree_mutable_tree_set_metadata_checksum(sub, meta);
  return TRUE;
}

/* A hardlink is the checksum of the earlier file of this layer it names. */
static char *
import_hardlink(Tree *t, const ScLayerEntry *entry, GError **error)
{
  char *checksum = NULL;

  if (!lookup_file(t, entry->link_parts, &checksum, error)) {
    g_autofree char *p = shown(entry->path);
    g_autofree char *l = shown(entry->hardlink);
    g_set_error(error,
                SC_ERROR,
                SC_EUNSUPPORTED,
                "layer %s: '%s' is a hardlink to '%s', which is not an earlier file of this "
                "layer",
                t->digest,
                p,
                l);
    return NULL;
  }
  return checksum;
}

static char *
import_symlink(Tree *t,
               struct archive_entry *e,
               const char *path,
               const EntryMeta *m,
               GError **error)
{
  const char *target =
    archive_entry_symlink(e) ? archive_entry_symlink(e) : archive_entry_symlink_utf8(e);
  g_autofree char *checksum =
    ostree_repo_write_symlink(t->repo, NULL, m->uid, m->gid, m->xattrs, target, NULL, error);

  if (checksum == NULL)
    import_failed(t, path, error);
  return g_steal_pointer(&checksum);
}

/* An entry, by its type: what the special files skip, the root's
 * metadata, or a node in the tree under its parent. */
static gboolean
import_entry(Tree *t,
             struct archive *a,
             struct archive_entry *e,
             const ScLayerEntry *entry,
             guchar *buf,
             GError **error)
{
  g_auto(EntryMeta) m = { 0 };
  g_autoptr(OstreeMutableTree) parent = NULL;
  g_autofree char *checksum = NULL;
  mode_t type = archive_entry_filetype(e);
  gboolean queued = FALSE;

  t->seq++;
  if (t->pool && sc_layer_pool_failed(t->pool)) {
    /* sc_layer_import() reports the pool's failure, an earlier entry's */
    g_set_error(error, SC_ERROR, SC_EIO, "layer %s: stopped", t->digest);
    return FALSE;
  }
  if (entry->hardlink == NULL &&
      (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFIFO || type == AE_IFSOCK)) {
    t->skipped++;
    return TRUE;
  }
  if (!entry_meta(t, e, entry, &m, error))
    return FALSE;
  if (entry->n_parts == 0)
    return type != AE_IFDIR || import_root(t, &m, error);
  if (!import_parent(t, entry, &parent, error))
    return FALSE;
  if (parent == NULL)
    return TRUE;
  if (entry->hardlink != NULL)
    checksum = import_hardlink(t, entry, error);
  else if (type == AE_IFDIR)
    return import_dir(t, parent, entry, &m, error);
  else if (type == AE_IFLNK)
    checksum = import_symlink(t, e, entry->path, &m, error);
  else if (type == AE_IFREG)
    checksum = write_regfile(t, a, e, entry->path, &m, buf, &queued, error);
  else {
    t->skipped++;
    return TRUE;
  }
  /* (a hardlink's file was checked when it was stored, a queued file is
   * checked by the pool) */
  if (checksum == NULL ||
      (entry->hardlink == NULL && !queued &&
       !check_stored(
         t, entry->path, checksum, type == AE_IFREG ? S_IFREG | m.mode : 0, m.xattrs, error)))
    return FALSE;
  if (!replace_kind(parent, entry, TRUE, error) ||
      !ostree_mutable_tree_replace_file(parent, entry->parts[entry->n_parts - 1], checksum, error))
    return import_failed(t, entry->path, error);
  return TRUE;
}

static void
entry_clear(ScLayerEntry *entry)
{
  g_clear_pointer(&entry->parts, g_strfreev);
  g_clear_pointer(&entry->link_parts, g_strfreev);
}

/* The checks every consumer of a layer relies on, so that the importer
 * and the /exports scanner cannot disagree about what an entry is. */
static gboolean
entry_check(const char *digest,
            struct archive_entry *e,
            const ScLayerLimits *limits,
            ScLayerEntry *entry,
            GError **error)
{
  mode_t type = archive_entry_filetype(e);
  ScWhiteoutKind link_kind = SC_WHITEOUT_NONE;

  memset(entry, 0, sizeof(*entry));
  entry->path =
    archive_entry_pathname(e) ? archive_entry_pathname(e) : archive_entry_pathname_utf8(e);
  entry->hardlink =
    archive_entry_hardlink(e) ? archive_entry_hardlink(e) : archive_entry_hardlink_utf8(e);
  if (entry->path == NULL) {
    g_set_error(error, SC_ERROR, SC_EUNSUPPORTED, "layer %s: an entry has no path", digest);
    return FALSE;
  }
  if (!sc_layer_path_check(digest, entry->path, limits, &entry->parts, &entry->kind, error))
    return FALSE;
  entry->n_parts = g_strv_length(entry->parts);
  if (entry->hardlink != NULL) {
    g_autoptr(GError) target_error = NULL;
    if (!sc_layer_path_check(
          digest, entry->hardlink, limits, &entry->link_parts, &link_kind, &target_error)) {
      g_autofree char *p = sc_display(entry->path, 100);
      g_autofree char *prefix = g_strdup_printf("layer %s: ", digest);
      const char *reason = target_error->message;
      if (g_str_has_prefix(reason, prefix))
        reason += strlen(prefix);
      g_set_error(error,
                  SC_ERROR,
                  SC_EUNSUPPORTED,
                  "layer %s: entry '%s' is a hardlink, and its target: %s",
                  digest,
                  p,
                  reason);
      return FALSE;
    }
    if (link_kind != SC_WHITEOUT_NONE) {
      g_autofree char *p = sc_display(entry->path, 100);
      g_autofree char *l = sc_display(entry->hardlink, 100);
      g_set_error(error,
                  SC_ERROR,
                  SC_EUNSUPPORTED,
                  "layer %s: entry '%s' is a hardlink to '%s', a whiteout; hardlinks must name "
                  "a file",
                  digest,
                  p,
                  l);
      return FALSE;
    }
  } else if (type == AE_IFDIR && entry->kind != SC_WHITEOUT_NONE) {
    g_autofree char *p = sc_display(entry->path, 100);
    g_set_error(error,
                SC_ERROR,
                SC_EUNSUPPORTED,
                "layer %s: entry '%s' is a whiteout but a directory; whiteouts are files",
                digest,
                p);
    return FALSE;
  } else if (type == AE_IFLNK) {
    const char *target =
      archive_entry_symlink(e) ? archive_entry_symlink(e) : archive_entry_symlink_utf8(e);
    if (!sc_layer_link_check(digest, entry->path, target ? target : "", limits, error))
      return FALSE;
  }
  return TRUE;
}

/* A walk over one layer blob: the pipe (both digests, decompression) fed
 * to libarchive from a thread of its own, in a UTF-8 locale. */
typedef struct {
  const ScLayerWalk *w;
  Pipe p;
  Feeder f;
  gboolean feeding; /* the feeder thread runs */
  struct archive *a;
  ScLayerEntry entry;
  guchar *buf;
  locale_t utf8, old_locale;
} Walk;

static void
walk_stop(Walk *k, gboolean cancel)
{
  if (k->feeding)
    feeder_finish(&k->f, cancel);
  k->feeding = FALSE;
}

static void
walk_clear(Walk *k)
{
  Pipe *p = &k->p;

  entry_clear(&k->entry);
  walk_stop(k, TRUE);
  if (k->a)
    archive_read_free(k->a);
  if (k->old_locale != (locale_t)0) {
    uselocale(k->old_locale);
    freelocale(k->utf8);
  }
  g_clear_error(&p->error);
  sc_sha256_free(p->blob_hash);
  sc_sha256_free(p->tar_hash);
  sc_decoder_free(p->dec);
  g_free(p->in_buf);
  g_clear_object(&p->cancel);
  g_free(k->buf);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Walk, walk_clear)

static void
walk_start(Walk *k, const ScLayerWalk *w)
{
  Pipe *p = &k->p;

  k->w = w;
  k->buf = g_malloc(BUF_SIZE);
  p->in = w->in;
  p->digest = w->digest;
  p->expected = w->size;
  p->progress = w->progress;
  p->blob_hash = sc_sha256_new();
  p->tar_hash = sc_sha256_new();
  p->in_buf = g_malloc(BUF_SIZE);
  p->cancel = g_cancellable_new();
  p->max_tar = w->limits ? w->limits->max_bytes : G_MAXUINT64;
  /* Tar names are bytes (pax records them as UTF-8): read them in a UTF-8
   * locale for this thread only, whatever the process's locale is, so that
   * libarchive does not refuse names it cannot convert. */
  k->utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
  if (k->utf8 != (locale_t)0)
    k->old_locale = uselocale(k->utf8);
  k->a = archive_read_new();
  archive_read_support_format_tar(k->a);
  archive_read_support_format_gnutar(k->a);
  feeder_start(&k->f, p, w->before_wait, w->data);
  k->feeding = TRUE;
}

/* The pipe's failure when it has one (libarchive only saw a read error),
 * else libarchive's. */
static gboolean
walk_archive_failed(Walk *k, GError **error)
{
  walk_stop(k, TRUE);
  if (k->p.error && !g_error_matches(k->p.error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_propagate_error(error, g_steal_pointer(&k->p.error));
  else
    g_set_error(error, SC_ERROR, SC_EUNSUPPORTED, "layer %s: not a valid tar archive: %s",
                k->w->digest,
                archive_error_string(k->a) ? archive_error_string(k->a) : "unknown format");
  return FALSE;
}

/* A callback's failure; a read error inside an entry is the pipe's
 * failure: report that instead. */
static gboolean
walk_entry_failed(Walk *k, GError **error)
{
  walk_stop(k, TRUE);
  if (k->p.error && !g_error_matches(k->p.error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && error) {
    g_clear_error(error);
    g_propagate_error(error, g_steal_pointer(&k->p.error));
  }
  return FALSE;
}

/* Every entry, counted, checked and handed to the callback. */
static gboolean
walk_entries(Walk *k, GError **error)
{
  const ScLayerWalk *w = k->w;
  guint64 entries = 0;
  struct archive_entry *e;
  gboolean entry_ok;
  int r;

  if (archive_read_open(k->a, &k->f, NULL, feeder_read, NULL) != ARCHIVE_OK)
    return walk_archive_failed(k, error);
  /* ARCHIVE_WARN is a header libarchive could read with a caveat (a name it
   * could not convert): the entry is still there. */
  while ((r = archive_read_next_header(k->a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
    if (w->limits && ++entries > w->limits->max_entries) {
      g_set_error(error, SC_ERROR, SC_EUNSUPPORTED,
                  "layer %s: has more than %" G_GUINT64_FORMAT
                  " entries, the limit (SC_MAX_LAYER_ENTRIES)",
                  w->digest, w->limits->max_entries);
      return FALSE;
    }
    if (!entry_check(w->digest, e, w->limits, &k->entry, error))
      return FALSE;
    parsing = &k->f;
    entry_ok = w->func(k->a, e, &k->entry, k->buf, w->data, error);
    parsing = NULL;
    entry_clear(&k->entry);
    if (!entry_ok)
      return walk_entry_failed(k, error);
  }
  if (r != ARCHIVE_EOF)
    return walk_archive_failed(k, error);
  return TRUE;
}

/* The pipe run to its end, then both digests compared: *@out_tar_hex is
 * the tar's. */
static gboolean
walk_check_digests(Walk *k, char **out_tar_hex, GError **error)
{
  const ScLayerWalk *w = k->w;
  g_autofree char *blob_hex = NULL;
  g_autofree char *tar_hex = NULL;

  /* The rest of the stream (tar padding, trailing bytes) counts for both
   * digests: the pipe runs to its end. */
  walk_stop(k, FALSE);
  if (k->p.error) {
    g_propagate_error(error, g_steal_pointer(&k->p.error));
    return FALSE;
  }
  blob_hex = sc_sha256_finish(g_steal_pointer(&k->p.blob_hash));
  tar_hex = sc_sha256_finish(g_steal_pointer(&k->p.tar_hash));
  if (strcmp(w->digest + 7, blob_hex) != 0) {
    g_set_error(error, SC_ERROR, SC_EDIGEST,
                "layer %s: the blob's digest is sha256:%s; it does not match the manifest",
                w->digest, blob_hex);
    return FALSE;
  }
  if (w->diff_id != NULL && strcmp(w->diff_id + 7, tar_hex) != 0) {
    g_set_error(error, SC_ERROR, SC_EDIGEST,
                "layer %s: the uncompressed digest is sha256:%s; the config's diff_id is %s",
                w->digest, tar_hex, w->diff_id);
    return FALSE;
  }
  *out_tar_hex = g_steal_pointer(&tar_hex);
  return TRUE;
}

/* Streams one layer blob: both digests are checked, and @w->func is
 * called for every tar entry, checked (entry_check()), with a BUF_SIZE
 * scratch buffer. */
gboolean
sc_layer_walk(const ScLayerWalk *w, guint64 *out_tar_size, char **out_tar_digest, GError **error)
{
  g_auto(Walk) k = {0};
  g_autofree char *tar_hex = NULL;

  walk_start(&k, w);
  if (!walk_entries(&k, error) || !walk_check_digests(&k, &tar_hex, error))
    return FALSE;
  if (out_tar_size)
    *out_tar_size = k.p.tar_size;
  if (out_tar_digest)
    *out_tar_digest = g_strconcat("sha256:", tar_hex, NULL);
  return TRUE;
}

static gboolean
pool_check(gpointer data,
           const char *path,
           const char *checksum,
           guint32 mode,
           GVariant *xattrs,
           GError **error)
{
  /* (reads only the repo and the digest: safe from any worker) */
  return check_stored(data, path, checksum, mode, xattrs, error);
}

static void
import_before_wait(gpointer data)
{
  Tree *t = data;
  sc_layer_pool_flush(t->pool);
}

static gboolean
import_cb(struct archive *a,
          struct archive_entry *e,
          const ScLayerEntry *entry,
          guchar *buf,
          gpointer data,
          GError **error)
{
  return import_entry(data, a, e, entry, buf, error);
}

gboolean
sc_layer_import(OstreeRepo *repo, GInputStream *in, const char *digest, guint64 size,
                const char *diff_id, gint64 *progress, const ScLayerLimits *limits,
                ScSelinux *se, ScLayerResult *out, GError **error)
{
  Tree t = {0};
  const ScLayerWalk w = {.in = in, .digest = digest, .size = size, .diff_id = diff_id,
                         .progress = progress, .limits = limits, .func = import_cb, .data = &t,
                         .before_wait = import_before_wait};
  g_autoptr(GFile) root = NULL;
  g_autoptr(GVariant) metadata = NULL;
  g_autofree char *tar_digest = NULL;
  guint64 tar_size = 0;
  GVariantBuilder mb;
  gboolean ok = FALSE;
  gboolean walked;
  g_autoptr(GError) walk_error = NULL;

  t.repo = repo;
  t.digest = digest;
  t.limits = limits;
  t.se = se;
  t.dirmetas = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  t.label_xattrs =
    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_variant_unref);
  t.root = ostree_mutable_tree_new();
  {
    g_autoptr(GVariant) implicit = label_xattrs(NULL);
    t.default_dirmeta = write_dirmeta(repo, 0, 0, 0755, implicit, error);
  }
  if (t.default_dirmeta == NULL)
    goto out;
  {
    /* a layer without a "./" entry: its root is "/" */
    const char *meta = implicit_dirmeta(&t, NULL, 0, error);
    if (meta == NULL)
      goto out;
    ostree_mutable_tree_set_metadata_checksum(t.root, meta);
  }
  t.pool = sc_layer_pool_new(repo, digest, pool_check, &t);
  walked = sc_layer_walk(&w, &tar_size, &tar_digest, &walk_error);
  /* A queued file's failure comes first: its entry is before the one the
   * walk stopped at. */
  if (!sc_layer_pool_finish(t.pool, walked ? t.root : NULL, error))
    goto out;
  if (!walked) {
    g_propagate_error(error, g_steal_pointer(&walk_error));
    goto out;
  }
  if (!sc_layer_pool_write_trees(t.pool, t.root, error) ||
      !ostree_repo_write_mtree(repo, t.root, &root, NULL, error))
    goto out;
  g_variant_builder_init(&mb, G_VARIANT_TYPE("a{sv}"));
  g_variant_builder_add(&mb, "{sv}", "docker.size",
                        g_variant_new_take_string(g_strdup_printf("%" G_GUINT64_FORMAT, size)));
  g_variant_builder_add(
      &mb, "{sv}", "docker.uncompressed_size",
      g_variant_new_take_string(g_strdup_printf("%" G_GUINT64_FORMAT, tar_size)));
  g_variant_builder_add(&mb, "{sv}", "docker.uncompressed_digest",
                        g_variant_new_string(tar_digest));
  metadata = g_variant_ref_sink(g_variant_builder_end(&mb));
  /* A fixed time (the epoch): the layer's commit is a function of the
   * layer alone, the same checksum on every import, whatever the workers
   * did in between (a layer has no time of its own to record). */
  if (!ostree_repo_write_commit_with_time(repo, NULL, digest, NULL, metadata,
                                          OSTREE_REPO_FILE(root), 0, &out->commit, NULL, error))
    goto out;
  out->uncompressed_size = tar_size;
  out->skipped_entries = t.skipped;
  ok = TRUE;
out:
  g_clear_pointer(&t.pool, sc_layer_pool_free);
  g_clear_object(&t.root);
  g_free(t.default_dirmeta);
  g_hash_table_unref(t.dirmetas);
  g_hash_table_unref(t.label_xattrs);
  return ok;
}

/* ---- an image's /exports, straight from its layer blobs ---- */

typedef struct {
  GHashTable *files;      /* "exports/x" -> GBytes */
  GHashTable *this_layer; /* paths added by the layer being read */
  const char *digest;
  guint64 total, max_total; /* bytes in @files, all layers so far */
} ExportsScan;

/* Drops what lower layers have at @path, and below it unless @exact. */
static void
remove_below(ExportsScan *x, const char *path, gboolean exact)
{
  GHashTableIter it;
  gpointer key, value;
  gsize len = strlen(path);

  g_hash_table_iter_init(&it, x->files);
  while (g_hash_table_iter_next(&it, &key, &value)) {
    const char *k = key;
    if ((strcmp(k, path) == 0 || (!exact && strncmp(k, path, len) == 0 && k[len] == '/')) &&
        !g_hash_table_contains(x->this_layer, k)) {
      x->total -= g_bytes_get_size(value);
      g_hash_table_iter_remove(&it);
    }
  }
}

/* A hardlink under /exports is the file it names, as the checkout makes it
 * (the walk has checked that it names an earlier file of this layer). Only
 * /exports is kept in memory, so a link to a file elsewhere cannot be read
 * here: refused, rather than shown as no file, which the install would
 * not do. */
static gboolean
exports_hardlink(ExportsScan *x, const ScLayerEntry *entry, const char *path, GError **error)
{
  g_autofree char *target = g_strjoinv("/", entry->link_parts);
  GBytes *content =
    g_hash_table_contains(x->this_layer, target) ? g_hash_table_lookup(x->files, target) : NULL;
  GBytes *old;

  if (content == NULL) {
    g_autofree char *p = sc_display(path, 100);
    g_autofree char *t = sc_display(target, 100);
    g_set_error(error,
                SC_ERROR,
                SC_EUNSUPPORTED,
                "layer %s: /%s is a hardlink to /%s, outside /exports, which is not read "
                "from the layers here: pull the image and use images inspect",
                x->digest,
                p,
                t);
    return FALSE;
  }
  if (g_bytes_get_size(content) > x->max_total - MIN(x->total, x->max_total)) {
    g_autofree char *p = sc_display(path, 100);
    g_set_error(error,
                SC_ERROR,
                SC_EIO,
                "layer %s: with /%s, /exports would hold more than %" G_GUINT64_FORMAT
                " bytes, the limit (SC_MAX_EXPORTS_BYTES)",
                x->digest,
                p,
                x->max_total);
    return FALSE;
  }
  if ((old = g_hash_table_lookup(x->files, path)) != NULL)
    x->total -= g_bytes_get_size(old);
  x->total += g_bytes_get_size(content);
  g_hash_table_replace(x->files, g_strdup(path), g_bytes_ref(content));
  g_hash_table_add(x->this_layer, g_strdup(path));
  return TRUE;
}

static gboolean
exports_cb(struct archive *a,
           struct archive_entry *e,
           const ScLayerEntry *entry,
           guchar *buf,
           gpointer data,
           GError **error)
{
  ExportsScan *x = data;
  char **parts = entry->parts;
  guint n = entry->n_parts;
  g_autofree char *path = NULL;
  g_autofree char *dir = NULL;

  if (n == 0)
    return TRUE;
  path = g_strjoinv("/", parts);
  dir = g_path_get_dirname(path);
  if (entry->kind == SC_WHITEOUT_OPAQUE) {
    /* lower layers only; at the layer's root it hides their /exports too */
    remove_below(x, n == 1 ? "exports" : dir, FALSE);
    return TRUE;
  }
  if (entry->kind == SC_WHITEOUT_FILE) {
    g_autofree char *target =
      n == 1 ? g_strdup(parts[0] + 4) : g_build_filename(dir, parts[n - 1] + 4, NULL);
    remove_below(x, target, FALSE);
    return TRUE;
  }
  if (strcmp(parts[0], "exports") != 0)
    return TRUE;
  /* a file replaces what was there, a directory too; a directory merges
   * into a lower directory and replaces only a lower file */
  remove_below(x, path, archive_entry_filetype(e) == AE_IFDIR);
  if (entry->hardlink != NULL)
    return exports_hardlink(x, entry, path, error);
  if (archive_entry_filetype(e) == AE_IFREG) {
    gint64 size = archive_entry_size(e);
    GByteArray *content;
    if (size > 4 * 1024 * 1024) {
      g_autofree char *p = sc_display(path, 100);
      g_set_error(error,
                  SC_ERROR,
                  SC_EIO,
                  "layer %s: /%s is %" G_GINT64_FORMAT
                  " bytes; image contract files are at most 4 MiB",
                  x->digest,
                  p,
                  size);
      return FALSE;
    }
    if ((guint64)size > x->max_total - MIN(x->total, x->max_total)) {
      g_autofree char *p = sc_display(path, 100);
      g_set_error(error, SC_ERROR, SC_EIO,
                  "layer %s: with /%s, /exports would hold more than %" G_GUINT64_FORMAT
                  " bytes, the limit (SC_MAX_EXPORTS_BYTES)",
                  x->digest, p, x->max_total);
      return FALSE;
    }
    content = g_byte_array_sized_new(size);
    for (;;) {
      la_ssize_t r = archive_read_data(a, buf, BUF_SIZE);
      if (r < 0) {
        g_autofree char *p = sc_display(path, 100);
        g_set_error(
          error, SC_ERROR, SC_EIO, "layer %s: /%s: %s", x->digest, p, archive_error_string(a));
        g_byte_array_unref(content);
        return FALSE;
      }
      if (r == 0)
        break;
      g_byte_array_append(content, buf, r);
    }
    {
      GBytes *old = g_hash_table_lookup(x->files, path);
      if (old != NULL)
        x->total -= g_bytes_get_size(old);
    }
    x->total += content->len;
    g_hash_table_replace(x->files, g_strdup(path), g_byte_array_free_to_bytes(content));
    g_hash_table_add(x->this_layer, g_strdup(path));
  }
  return TRUE;
}

GHashTable *
sc_exports_scan_new(void)
{
  return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_bytes_unref);
}

gboolean
sc_layer_scan_exports(GInputStream *in, const char *digest, guint64 size, const char *diff_id,
                      const ScLayerLimits *limits, GHashTable *files, GError **error)
{
  ExportsScan x = {files, g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL), digest,
                   0, limits && limits->max_exports ? limits->max_exports : G_MAXUINT64};
  const ScLayerWalk w = {.in = in, .digest = digest, .size = size, .diff_id = diff_id,
                         .limits = limits, .func = exports_cb, .data = &x};
  GHashTableIter it;
  gpointer value;

  g_hash_table_iter_init(&it, files);
  while (g_hash_table_iter_next(&it, NULL, &value))
    x.total += g_bytes_get_size(value);
  gboolean ok = sc_layer_walk(&w, NULL, NULL, error);

  g_hash_table_unref(x.this_layer);
  return ok;
}
