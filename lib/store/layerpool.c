/*
 * The writers of one layer import: the thread that reads the tar hands
 * each regular file, copied whole into a buffer, to a pool of workers that
 * compute its OSTree content checksum (the file header as bare mode stores
 * it, then the content) with the accelerated SHA-256 of lib/base and write
 * it (in a bare store by bareobject.c, else with
 * ostree_repo_write_content_trusted()), so that libostree does not hash it
 * again with GLib's slower SHA-256. A single layer then uses every
 * core.
 *
 * The reader does not wait for a checksum: it puts a placeholder (a
 * checksum-shaped name that no content hashes to in practice) in the
 * mutable tree, in tar order, and sc_layer_pool_resolve() swaps the
 * placeholders for the real checksums once every file is written. The tree
 * is thus built by one thread in one order, and the commit is the same
 * whatever the scheduling. A hardlink to a pending file takes its
 * placeholder.
 *
 * Memory is bounded: the buffers in flight hold at most POOL_BUDGET bytes
 * in the whole process (the layers a pull imports at once share it); a
 * reader waits for a buffer before it is allocated. A file whose contents
 * lie whole in one block of the decompressed tar is not copied: it is
 * queued with the block, which it holds until it is written
 * (sc_layer_pool_add_borrowed(); the reader's few blocks bound those). Files above
 * SC_LAYER_POOL_MAX_FILE are not buffered: the reader writes them itself,
 * streamed (layer.c).
 *
 * Errors: the first failing file in tar order wins, whatever the order
 * the workers finish in, and once one failed the queued files are dropped.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "store.h"

#include <ostree.h>
#include <string.h>
#include <sys/mman.h>

/* Buffers from here up are mapped, in sizes of powers of two, rather than
 * taken from the reader's malloc arena (each reader's arena kept the
 * high-water mark of the budget, and two layers imported at once two of
 * them); freed by a worker, they are kept for the next files as long as
 * what is kept and what is in flight fit the budget, and unmapped beyond
 * it. A buffer mapped for each file and unmapped after cost a page fault
 * for each of its pages and a TLB flush of every core (7 % of the CPU time
 * of a pull of /usr's files). */
#define MAP_MIN (4 * 1024)
#define MAP_CLASSES 12 /* 4 KiB .. 8 MiB */

#define PLACEHOLDER_PREFIX "ffffffff"
/* Bytes of file contents queued or being written at once. */
#define POOL_BUDGET (8 * 1024 * 1024)
/* What a queued file costs besides its contents (the job, its path). */
#define JOB_OVERHEAD 512
/* Files are handed to the workers in batches of this many, or of this many
 * bytes: one wakeup of a worker per batch rather than per file (a thread
 * pool push and a futex wake each; 5 % of a pull of /usr's small files). */
#define BATCH_FILES 16
#define BATCH_BYTES (256 * 1024)

typedef struct {
  guint64 seq; /* the entry's place in the tar */
  char *path;
  guint32 uid, gid, mode;
  GVariant *xattrs;
  guchar *data;
  gsize size;
  gsize cost; /* of the budget: 0 for borrowed contents */
  GDestroyNotify release; /* borrowed contents: given back with this */
  gpointer release_data;
  GBytes *header; /* what its checksum starts with (sc_bare_header()) */
  guint64 id; /* its number in this import: the placeholder's */
  gboolean written;
  guchar checksum[32]; /* once written */
} PoolFile;

struct ScLayerPool {
  OstreeRepo *repo;
  ScBareWriter *bare; /* NULL: libostree writes */
  const char *digest;
  ScLayerPoolCheck check;
  gpointer check_data;
  GThreadPool *pool;
  GMutex lock;
  gint failed;     /* atomic */
  GError *error;   /* the failure of the earliest file, by @error_seq */
  guint64 error_seq;
  GArray *resolved; /* file number -> its checksum's 32 bytes */
  guint64 resolved_len; /* files it has room for (the reader's) */
  guint64 next_id;
  GPtrArray *batch; /* files queued by the reader, not yet handed over */
  gsize batch_bytes;
  GVariant *no_xattrs;
  /* the reader's: HeaderKey -> the header of such files (GBytes) */
  GHashTable *headers;
};

/* Files of one owner, mode and xattrs have one checksum header: built
 * once (a GVariant built per file took 4 % of an import, much of it
 * waiting for GLib's type lock that every thread takes). The reader gives
 * files with the same xattrs one GVariant (layer.c), so the key holds
 * the pointer (and a reference, that it be not reused). */
typedef struct {
  guint32 uid, gid, mode;
  GVariant *xattrs;
} HeaderKey;

/* Distinct headers kept at most (a layer whose every file has xattrs of
 * its own would grow the table with each). */
#define HEADERS_MAX 4096

static guint
header_key_hash(gconstpointer k)
{
  const HeaderKey *h = k;
  return h->uid * 31u + h->gid * 7u + h->mode + g_direct_hash(h->xattrs);
}

static gboolean
header_key_equal(gconstpointer a, gconstpointer b)
{
  const HeaderKey *x = a, *y = b;
  return x->uid == y->uid && x->gid == y->gid && x->mode == y->mode && x->xattrs == y->xattrs;
}

static void
header_key_free(gpointer k)
{
  HeaderKey *h = k;
  g_variant_unref(h->xattrs);
  g_free(h);
}

static GBytes *
pool_header(ScLayerPool *p, guint32 uid, guint32 gid, guint32 mode, GVariant *xattrs)
{
  HeaderKey key = { uid, gid, mode, xattrs }, *stored;
  GBytes *header = g_hash_table_lookup(p->headers, &key);

  if (header)
    return g_bytes_ref(header);
  if (g_hash_table_size(p->headers) >= HEADERS_MAX)
    g_hash_table_remove_all(p->headers);
  header = sc_bare_header(uid, gid, S_IFREG | mode, xattrs);
  stored = g_memdup2(&key, sizeof key);
  g_variant_ref(stored->xattrs);
  g_hash_table_insert(p->headers, stored, g_bytes_ref(header));
  return header;
}

/* The process's budget: bytes of buffers allocated and not yet freed. */
static GMutex budget_lock;
static GCond budget_room;
static gsize budget_used;
static guint budget_waiters; /* (GLib's GCond wakes with a system call) */

static void
budget_return(gsize bytes)
{
  g_mutex_lock(&budget_lock);
  budget_used -= bytes;
  if (budget_waiters > 0)
    g_cond_broadcast(&budget_room);
  g_mutex_unlock(&budget_lock);
}

/* (budget_lock) mapped buffers not in use, by class: each holds the
 * next's address first */
static gpointer kept[MAP_CLASSES];
static gsize kept_bytes;

/* The size class of a mapped buffer of @size bytes (>= MAP_MIN). */
static guint
map_class(gsize size)
{
  guint c = 0;

  while (c + 1 < MAP_CLASSES && ((gsize)MAP_MIN << c) < size)
    c++;
  return c;
}

/* The bytes a buffer of @size takes, as the budget counts them. */
static gsize
buffer_span(gsize size)
{
  if (size < MAP_MIN)
    return size;
  return MAX((gsize)MAP_MIN << map_class(size), size);
}

/* A kept buffer for @size (>= MAP_MIN), or NULL; the kept ones beyond
 * the budget (which counts @size already) are unmapped. (budget_lock
 * held) */
static guchar *
buffer_take_kept(gsize size)
{
  gsize span = buffer_span(size);
  guint c = map_class(size);
  gpointer data = NULL;

  if (span == (gsize)MAP_MIN << c && (data = kept[c]) != NULL) {
    kept[c] = *(gpointer *)data;
    kept_bytes -= span;
    return data;
  }
  for (guint k = MAP_CLASSES; k-- > 0 && budget_used + kept_bytes > POOL_BUDGET;)
    while (kept[k] != NULL && budget_used + kept_bytes > POOL_BUDGET) {
      gpointer old = kept[k];
      kept[k] = *(gpointer *)old;
      kept_bytes -= (gsize)MAP_MIN << k;
      munmap(old, (gsize)MAP_MIN << k);
    }
  return NULL;
}

static guchar *
buffer_map(gsize size)
{
  gsize span = buffer_span(size);
  gpointer data = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

  if (data == MAP_FAILED)
    g_error("cannot map %" G_GSIZE_FORMAT " bytes", span); /* as g_malloc() would */
  return data;
}

/* A buffer no longer in use, kept when it fits the budget with what is in
 * flight (its own span still counted there: the caller returns it after). */
static void
buffer_unmap(guchar *data, gsize size)
{
  gsize span = buffer_span(size);
  guint c;

  if (size < MAP_MIN) {
    g_free(data);
    return;
  }
  c = map_class(size);
  g_mutex_lock(&budget_lock);
  if (span == (gsize)MAP_MIN << c && budget_used + kept_bytes <= POOL_BUDGET) {
    *(gpointer *)data = kept[c];
    kept[c] = data;
    kept_bytes += span;
    data = NULL;
  }
  g_mutex_unlock(&budget_lock);
  if (data)
    munmap(data, span);
}

/* Its budget is returned by the caller. */
static void
pool_file_free(PoolFile *f)
{
  g_free(f->path);
  g_clear_pointer(&f->xattrs, g_variant_unref);
  g_bytes_unref(f->header);
  if (f->release)
    f->release(f->release_data);
  else
    buffer_unmap(f->data, f->size);
  g_free(f);
}

static void pool_flush(ScLayerPool *p);

guchar *
sc_layer_pool_buffer_new(ScLayerPool *p, gsize size)
{
  gsize cost = buffer_span(size) + JOB_OVERHEAD;
  guchar *data;

  /* (never waits while nothing is held: a file larger than the budget
   * still goes, alone; the workers never wait, so this one returns. The
   * reader's own batch is handed over before it waits: what it waits for
   * is then held by files the workers have) */
  g_mutex_lock(&budget_lock);
  if (budget_used > 0 && budget_used + cost > POOL_BUDGET) {
    g_mutex_unlock(&budget_lock);
    pool_flush(p);
    g_mutex_lock(&budget_lock);
  }
  budget_waiters++;
  while (budget_used > 0 && budget_used + cost > POOL_BUDGET)
    g_cond_wait(&budget_room, &budget_lock);
  budget_waiters--;
  budget_used += cost;
  data = size < MAP_MIN ? NULL : buffer_take_kept(size);
  g_mutex_unlock(&budget_lock);
  if (size < MAP_MIN)
    return g_malloc(MAX(size, 1));
  return data ? data : buffer_map(size);
}

void
sc_layer_pool_buffer_free(guchar *data, gsize size)
{
  if (data == NULL)
    return;
  buffer_unmap(data, size);
  budget_return(buffer_span(size) + JOB_OVERHEAD);
}

/* The OSTree checksum of a regular file (the tests run ostree fsck on it). */
static char *
content_checksum(const PoolFile *f)
{
  ScSha256 *h = sc_sha256_new();
  gsize size;
  gconstpointer header = g_bytes_get_data(f->header, &size);

  sc_sha256_update(h, header, size);
  sc_sha256_update(h, f->data, f->size);
  return sc_sha256_finish(h);
}

static gboolean
write_trusted(ScLayerPool *p,
              const PoolFile *f,
              GVariant *xattrs,
              const char *checksum,
              GError **error)
{
  g_autoptr(GFileInfo) info = g_file_info_new();
  g_autoptr(GInputStream) content = NULL;
  g_autoptr(GInputStream) object = NULL;
  guint64 length = 0;

  if (p->bare)
    return sc_bare_writer_write(p->bare, checksum, f->uid, f->gid, S_IFREG | f->mode, xattrs,
                                f->data, f->size, error);
  /* (an object the store has is skipped by libostree: given the checksum,
   * it looks for the object before it writes) */
  g_file_info_set_file_type(info, G_FILE_TYPE_REGULAR);
  g_file_info_set_size(info, f->size);
  g_file_info_set_attribute_uint32(info, "unix::uid", f->uid);
  g_file_info_set_attribute_uint32(info, "unix::gid", f->gid);
  g_file_info_set_attribute_uint32(info, "unix::mode", S_IFREG | f->mode);
  content = g_memory_input_stream_new_from_data(f->data, f->size, NULL);
  if (!ostree_raw_file_to_content_stream(content, info, xattrs, &object, &length, NULL, error))
    return FALSE;
  return ostree_repo_write_content_trusted(p->repo, checksum, object, length, NULL, error);
}

/* The earliest failure in tar order is kept. */
static void
pool_fail(ScLayerPool *p, guint64 seq, GError *error)
{
  g_mutex_lock(&p->lock);
  if (p->error == NULL || seq < p->error_seq) {
    g_clear_error(&p->error);
    p->error = error;
    p->error_seq = seq;
  } else
    g_error_free(error);
  g_atomic_int_set(&p->failed, 1);
  g_mutex_unlock(&p->lock);
}

/* A file after the earliest failure so far is not written: its own
 * failure could not be the one reported. One before it still is. */
static gboolean
pool_behind_failure(ScLayerPool *p, guint64 seq)
{
  gboolean behind;

  if (!g_atomic_int_get(&p->failed))
    return FALSE;
  g_mutex_lock(&p->lock);
  behind = p->error == NULL || seq > p->error_seq;
  g_mutex_unlock(&p->lock);
  return behind;
}

static void
pool_file(ScLayerPool *p, PoolFile *f)
{
  GVariant *xattrs = f->xattrs;
  g_autofree char *checksum = NULL;
  GError *error = NULL;

  if (!pool_behind_failure(p, f->seq)) {
    checksum = content_checksum(f);
    if (!write_trusted(p, f, xattrs, checksum, &error)) {
      g_autofree char *shown = sc_display(f->path, 100);
      g_prefix_error(&error, "layer %s: '%s': ", p->digest, shown);
    } else if (p->check)
      p->check(p->check_data, f->path, checksum, S_IFREG | f->mode, xattrs, &error);
    if (error)
      pool_fail(p, f->seq, error);
  }
  if (checksum && error == NULL) {
    ostree_checksum_inplace_to_bytes(checksum, f->checksum);
    f->written = TRUE;
  }
}

/* A batch: files handed over together, one wakeup for them all. */
static void
pool_work(gpointer data, gpointer user_data)
{
  GPtrArray *batch = data;
  ScLayerPool *p = user_data;
  gsize bytes = 0;

  for (guint i = 0; i < batch->len; i++)
    pool_file(p, batch->pdata[i]);
  /* the results, and the buffers' budget, once for the batch */
  g_mutex_lock(&p->lock);
  for (guint i = 0; i < batch->len; i++) {
    PoolFile *f = batch->pdata[i];
    if (f->written)
      memcpy(&g_array_index(p->resolved, guchar, f->id * 32), f->checksum, 32);
  }
  g_mutex_unlock(&p->lock);
  for (guint i = 0; i < batch->len; i++) {
    PoolFile *f = batch->pdata[i];
    bytes += f->cost;
    pool_file_free(f);
  }
  if (bytes > 0)
    budget_return(bytes);
  g_ptr_array_unref(batch);
}

/* The reader's batch to the workers. */
static void
pool_flush(ScLayerPool *p)
{
  if (p == NULL)
    return;
  if (p->batch == NULL || p->batch->len == 0)
    return;
  g_thread_pool_push(p->pool, g_steal_pointer(&p->batch), NULL);
  p->batch_bytes = 0;
}

/* SC_IMPORT_WORKERS=N (tests, benchmarks), else one per online CPU. */
static guint
pool_workers(void)
{
  const char *env = g_getenv("SC_IMPORT_WORKERS");
  guint64 n = 0;

  if (env && g_ascii_string_to_unsigned(env, 10, 1, 64, &n, NULL))
    return (guint)n;
  return MAX(1, g_get_num_processors());
}

ScBareWriter *
sc_layer_pool_bare(ScLayerPool *p)
{
  return p->bare;
}

ScLayerPool *
sc_layer_pool_new(OstreeRepo *repo, const char *digest, ScLayerPoolCheck check, gpointer check_data)
{
  ScLayerPool *p = g_new0(ScLayerPool, 1);

  p->repo = repo;
  p->digest = digest;
  p->check = check;
  p->check_data = check_data;
  /* (a store this cannot write, libostree writes, and says why it fails) */
  p->bare = sc_bare_writer_new(repo);
  g_mutex_init(&p->lock);
  p->resolved = g_array_new(FALSE, TRUE, 1);
  p->no_xattrs = g_variant_ref_sink(g_variant_new_array(G_VARIANT_TYPE("(ayay)"), NULL, 0));
  p->headers = g_hash_table_new_full(header_key_hash, header_key_equal, header_key_free,
                                     (GDestroyNotify)g_bytes_unref);
  /* not exclusive: the threads are GLib's shared ones, started on demand */
  p->pool = g_thread_pool_new(pool_work, p, pool_workers(), FALSE, NULL);
  return p;
}

gboolean
sc_layer_pool_failed(ScLayerPool *p)
{
  return g_atomic_int_get(&p->failed);
}

void
sc_layer_pool_flush(ScLayerPool *p)
{
  pool_flush(p);
}

static void
pool_add(ScLayerPool *p,
         guint64 seq,
         const char *path,
         guint32 uid,
         guint32 gid,
         guint32 mode,
         GVariant *xattrs,
         PoolFile *f,
         char out_placeholder[65])
{

  f->seq = seq;
  f->path = g_strdup(path);
  f->uid = uid;
  f->gid = gid;
  f->mode = mode;
  f->xattrs = g_variant_ref(xattrs ? xattrs : p->no_xattrs);
  f->header = pool_header(p, uid, gid, mode, f->xattrs);
  f->id = p->next_id++;
  /* "ffffffff" then the file's number: shaped like a checksum, so that the
   * tree takes it, and (SHA-256 being what it is) no content's checksum */
  g_snprintf(out_placeholder, 65, PLACEHOLDER_PREFIX "%056" G_GINT64_MODIFIER "x", f->id);
  if (f->id >= p->resolved_len) {
    p->resolved_len = MAX(1024, 2 * p->resolved_len);
    g_mutex_lock(&p->lock);
    g_array_set_size(p->resolved, p->resolved_len * 32);
    g_mutex_unlock(&p->lock);
  }
  if (p->batch == NULL)
    p->batch = g_ptr_array_sized_new(BATCH_FILES);
  g_ptr_array_add(p->batch, f);
  p->batch_bytes += f->size;
  if (p->batch->len >= BATCH_FILES || p->batch_bytes >= BATCH_BYTES)
    pool_flush(p);
}

void
sc_layer_pool_add(ScLayerPool *p,
                  guint64 seq,
                  const char *path,
                  guint32 uid,
                  guint32 gid,
                  guint32 mode,
                  GVariant *xattrs,
                  guchar *data,
                  gsize size,
                  char out_placeholder[65])
{
  PoolFile *f = g_new0(PoolFile, 1);

  f->data = data;
  f->size = size;
  f->cost = buffer_span(size) + JOB_OVERHEAD;
  pool_add(p, seq, path, uid, gid, mode, xattrs, f, out_placeholder);
}

void
sc_layer_pool_add_borrowed(ScLayerPool *p,
                           guint64 seq,
                           const char *path,
                           guint32 uid,
                           guint32 gid,
                           guint32 mode,
                           GVariant *xattrs,
                           const guchar *data,
                           gsize size,
                           GDestroyNotify release,
                           gpointer release_data,
                           char out_placeholder[65])
{
  PoolFile *f = g_new0(PoolFile, 1);

  f->data = (guchar *)data; /* (only read) */
  f->size = size;
  f->release = release;
  f->release_data = release_data;
  pool_add(p, seq, path, uid, gid, mode, xattrs, f, out_placeholder);
}

/* Waits for every queued file; the earliest failure, if any. */
static gboolean
pool_drain(ScLayerPool *p, GError **error)
{
  if (p->pool) {
    pool_flush(p);
    g_thread_pool_free(p->pool, FALSE, TRUE);
    p->pool = NULL;
  }
  if (p->error) {
    g_propagate_error(error, g_steal_pointer(&p->error));
    return FALSE;
  }
  return TRUE;
}

/* The checksum a placeholder stands for, or NULL (a real checksum). */
static char *
resolved(ScLayerPool *p, const char *value)
{
  guint64 id;

  if (strlen(value) != 64 || !g_str_has_prefix(value, PLACEHOLDER_PREFIX) ||
      !g_ascii_string_to_unsigned(value + 8, 16, 0, G_MAXUINT64, &id, NULL) || id >= p->next_id)
    return NULL;
  return ostree_checksum_from_bytes(&g_array_index(p->resolved, guchar, id * 32));
}

static void
resolve_tree(ScLayerPool *p, OstreeMutableTree *tree)
{
  GHashTableIter it;
  gpointer key, value;

  g_hash_table_iter_init(&it, ostree_mutable_tree_get_files(tree));
  while (g_hash_table_iter_next(&it, &key, &value)) {
    char *real = resolved(p, value);
    if (real)
      g_hash_table_iter_replace(&it, real);
  }
  g_hash_table_iter_init(&it, ostree_mutable_tree_get_subdirs(tree));
  while (g_hash_table_iter_next(&it, &key, &value))
    resolve_tree(p, value);
}

gboolean
sc_layer_pool_finish(ScLayerPool *p, OstreeMutableTree *root, GError **error)
{
  if (!pool_drain(p, error))
    return FALSE;
  /* The tree is new, built by this import alone: no contents checksum is
   * cached in it yet, so the files table can be rewritten in place. */
  if (root)
    resolve_tree(p, root);
  return TRUE;
}

/* ---- the tree's dirtree objects, subtrees written at once ---- */

/* Entries in a subtree handed to one thread: /usr's 18k split into about
 * a hundred; the busy layer of test_import_parallel.py into its eight
 * directories (the same commit for any number of workers is tested). */
#define TREE_TASK_ENTRIES 256

typedef struct {
  OstreeRepo *repo;
  ScBareWriter *bare; /* NULL: libostree writes */
  GMutex lock;
  GError *error; /* the first task's (by order) that failed */
  guint error_index;
} TreeWrite;

static int
name_cmp(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of @table (borrowed), sorted as libostree sorts a dirtree's. */
static const char **
sorted_names(GHashTable *table, guint *out_n)
{
  const char **names = (const char **)g_hash_table_get_keys_as_array(table, out_n);

  qsort(names, *out_n, sizeof(char *), name_cmp);
  return names;
}

/* GVariant's serialization, for the one type a dirtree is,
 * (a(say)a(sayay)): no member needs alignment, so there is no padding; a
 * container ends with the framing offsets of its variable-sized parts
 * (an array: each element's end, in order; a tuple: the end of each
 * member but the last, in reverse order), little-endian, all of the size
 * the container's total size calls for (1 byte up to 255 bytes, 2 up to
 * 65535, then 4, then 8). */
static guint
frame_size(gsize body, gsize n_offsets)
{
  if (n_offsets == 0 || body + n_offsets <= G_MAXUINT8)
    return 1;
  if (body + 2 * n_offsets <= G_MAXUINT16)
    return 2;
  if (body + 4 * n_offsets <= G_MAXUINT32)
    return 4;
  return 8;
}

static void
put_offset(GByteArray *out, guint64 offset, guint size)
{
  guint8 le[8];

  for (guint i = 0; i < size; i++)
    le[i] = (guint8)(offset >> (8 * i));
  g_byte_array_append(out, le, size);
}

/* A tuple (s, ay, ay...) of @n_sums checksums of 32 bytes. */
static void
put_entry(GByteArray *out, const char *name, const guchar (*sums)[32], guint n_sums)
{
  gsize start = out->len, ends[2];
  guint size;

  g_byte_array_append(out, (const guint8 *)name, strlen(name) + 1);
  ends[0] = out->len - start;
  for (guint i = 0; i < n_sums; i++) {
    g_byte_array_append(out, sums[i], 32);
    if (i + 1 < n_sums)
      ends[i + 1] = out->len - start;
  }
  size = frame_size(out->len - start, n_sums);
  for (guint i = n_sums; i-- > 0;)
    put_offset(out, ends[i], size);
}

/* The dirtree of @mt and of every directory under it, each written once
 * its subdirectories are, as ostree_repo_write_mtree() makes them (files
 * and subdirectories by name; the subdirectories' dirtree and dirmeta
 * checksums), but serialized here, checksummed with the accelerated
 * SHA-256 and written straight into objects/: libostree built a GVariant
 * for each name and checksum, looked for each object in two places,
 * fallocated, validated and hashed it with GLib's SHA-256 (8 % of a
 * layer's import, and 2 MB at once for a directory of 20,000 files). */
static gboolean
write_dirtrees(ScBareWriter *bare, OstreeMutableTree *mt, GError **error)
{
  GHashTable *files = ostree_mutable_tree_get_files(mt);
  GHashTable *subdirs = ostree_mutable_tree_get_subdirs(mt);
  g_autofree const char **fnames = NULL, **dnames = NULL;
  g_autoptr(GByteArray) out = g_byte_array_new();
  g_autoptr(GArray) ends = g_array_new(FALSE, FALSE, sizeof(gsize));
  g_autofree char *checksum = NULL;
  gsize files_end;
  guint nf, nd, size;

  if (ostree_mutable_tree_get_contents_checksum(mt) != NULL)
    return TRUE;
  fnames = sorted_names(files, &nf);
  dnames = sorted_names(subdirs, &nd);
  for (guint i = 0; i < nf; i++) {
    guchar sum[1][32];
    ostree_checksum_inplace_to_bytes(g_hash_table_lookup(files, fnames[i]), sum[0]);
    put_entry(out, fnames[i], sum, 1);
    g_array_append_val(ends, out->len);
  }
  size = frame_size(out->len, ends->len);
  for (guint i = 0; i < ends->len; i++)
    put_offset(out, g_array_index(ends, gsize, i), size);
  files_end = out->len;
  g_array_set_size(ends, 0);
  for (guint i = 0; i < nd; i++) {
    OstreeMutableTree *sub = g_hash_table_lookup(subdirs, dnames[i]);
    const char *meta = ostree_mutable_tree_get_metadata_checksum(sub);
    guchar sums[2][32];
    gsize end;

    if (!write_dirtrees(bare, sub, error))
      return FALSE;
    if (meta == NULL) { /* (layer.c gives every directory one) */
      g_set_error(error, SC_ERROR, SC_EIO, "directory '%s' has no metadata", dnames[i]);
      return FALSE;
    }
    ostree_checksum_inplace_to_bytes(ostree_mutable_tree_get_contents_checksum(sub), sums[0]);
    ostree_checksum_inplace_to_bytes(meta, sums[1]);
    put_entry(out, dnames[i], (const guchar(*)[32])sums, 2);
    end = out->len - files_end;
    g_array_append_val(ends, end);
  }
  size = frame_size(out->len - files_end, ends->len);
  for (guint i = 0; i < ends->len; i++)
    put_offset(out, g_array_index(ends, gsize, i), size);
  put_offset(out, files_end, frame_size(out->len, 1));
  checksum = sc_sha256_hex(out->data, out->len);
  if (!sc_bare_writer_write_metadata(bare, checksum, "dirtree", out->data, out->len, error))
    return FALSE;
  ostree_mutable_tree_set_contents_checksum(mt, checksum);
  return TRUE;
}

typedef struct {
  OstreeMutableTree *tree;
  guint64 entries;
  guint index;
} TreeTask;

/* The entries under @t; its subtrees of at most TREE_TASK_ENTRIES whose
 * parent is larger go to @tasks (the ancestors stay for the caller). */
static guint64
tree_split(OstreeMutableTree *t, GPtrArray *tasks)
{
  GHashTable *subdirs = ostree_mutable_tree_get_subdirs(t);
  g_autoptr(GArray) sizes = g_array_new(FALSE, FALSE, sizeof(guint64));
  g_autoptr(GPtrArray) children = g_ptr_array_new();
  GHashTableIter it;
  gpointer value;
  guint64 total = g_hash_table_size(ostree_mutable_tree_get_files(t)) + g_hash_table_size(subdirs);

  g_hash_table_iter_init(&it, subdirs);
  while (g_hash_table_iter_next(&it, NULL, &value)) {
    guint64 n = tree_split(value, tasks);
    g_array_append_val(sizes, n);
    g_ptr_array_add(children, value);
    total += n;
  }
  if (total > TREE_TASK_ENTRIES)
    for (guint i = 0; i < children->len; i++)
      if (g_array_index(sizes, guint64, i) <= TREE_TASK_ENTRIES) {
        TreeTask *task = g_new0(TreeTask, 1);
        task->tree = children->pdata[i];
        task->entries = g_array_index(sizes, guint64, i);
        g_ptr_array_add(tasks, task);
      }
  return total;
}

static gint
larger_first(gconstpointer a, gconstpointer b)
{
  const TreeTask *x = *(TreeTask *const *)a, *y = *(TreeTask *const *)b;

  return x->entries < y->entries ? 1 : x->entries > y->entries ? -1 : 0;
}

static void
tree_work(gpointer data, gpointer user_data)
{
  TreeTask *task = data;
  TreeWrite *w = user_data;
  g_autoptr(GFile) file = NULL;
  GError *error = NULL;

  if (w->bare ? !write_dirtrees(w->bare, task->tree, &error)
              : !ostree_repo_write_mtree(w->repo, task->tree, &file, NULL, &error)) {
    g_mutex_lock(&w->lock);
    if (w->error == NULL || task->index < w->error_index) {
      g_clear_error(&w->error);
      w->error = error;
      w->error_index = task->index;
    } else
      g_error_free(error);
    g_mutex_unlock(&w->lock);
  }
  g_free(task);
}

gboolean
sc_layer_pool_write_trees(ScLayerPool *p, OstreeMutableTree *root, GError **error)
{
  g_autoptr(GPtrArray) tasks = g_ptr_array_new();
  TreeWrite w = { .repo = p->repo, .bare = p->bare };
  GThreadPool *pool;
  guint workers = pool_workers();

  if (workers > 1)
    tree_split(root, tasks);
  if (tasks->len < 2) {
    g_ptr_array_set_free_func(tasks, g_free);
    /* (else ostree_repo_write_mtree() of the root does it all) */
    return p->bare == NULL || write_dirtrees(p->bare, root, error);
  }
  /* the largest first, so that no thread is left with a big one at the
   * end; each subtree's dirtree objects are what they would be in one
   * thread (each is a function of its contents alone) */
  g_ptr_array_sort(tasks, larger_first);
  g_mutex_init(&w.lock);
  pool = g_thread_pool_new(tree_work, &w, workers, FALSE, NULL);
  for (guint i = 0; i < tasks->len; i++) {
    ((TreeTask *)tasks->pdata[i])->index = i;
    g_thread_pool_push(pool, tasks->pdata[i], NULL);
  }
  g_thread_pool_free(pool, FALSE, TRUE);
  g_mutex_clear(&w.lock);
  if (w.error) {
    g_propagate_error(error, w.error);
    return FALSE;
  }
  /* the subtrees' ancestors (else by ostree_repo_write_mtree() of the root) */
  return p->bare == NULL || write_dirtrees(p->bare, root, error);
}

void
sc_layer_pool_free(ScLayerPool *p)
{
  if (p == NULL)
    return;
  g_atomic_int_set(&p->failed, 1); /* what is still queued is dropped */
  if (p->batch) {
    for (guint i = 0; i < p->batch->len; i++) {
      PoolFile *f = p->batch->pdata[i];
      budget_return(buffer_span(f->size) + JOB_OVERHEAD);
      pool_file_free(f);
    }
    g_ptr_array_unref(p->batch);
  }
  if (p->pool)
    g_thread_pool_free(p->pool, FALSE, TRUE);
  g_clear_error(&p->error);
  sc_bare_writer_free(p->bare);
  g_array_unref(p->resolved);
  g_hash_table_unref(p->headers);
  g_variant_unref(p->no_xattrs);
  g_mutex_clear(&p->lock);
  g_free(p);
}
