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
 * reader waits for a buffer before it is allocated. Files above
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
 * taken from the reader's malloc arena; freed by a worker, a few are kept
 * for the next files (up to KEEP_MAX bytes in the process) and the rest
 * unmapped. A buffer mapped for each file and unmapped after cost a page
 * fault for each of its pages and a TLB flush of every core (7 % of the
 * CPU time of a pull of /usr's files); the peak RSS is the budget's, and
 * KEEP_MAX more. */
#define MAP_MIN (64 * 1024)
#define KEEP_MAX (4 * 1024 * 1024)
#define MAP_CLASSES 8 /* 64 KiB .. 8 MiB */

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

static GMutex keep_lock;
static gpointer kept[MAP_CLASSES]; /* each holds the next's address first */
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

static guchar *
buffer_map(gsize size)
{
  gsize span = buffer_span(size);
  guint c = map_class(size);
  gpointer data = NULL;

  if (span == (gsize)MAP_MIN << c) {
    g_mutex_lock(&keep_lock);
    if ((data = kept[c]) != NULL) {
      kept[c] = *(gpointer *)data;
      kept_bytes -= span;
    }
    g_mutex_unlock(&keep_lock);
    if (data)
      return data;
  }
  data = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (data == MAP_FAILED)
    g_error("cannot map %" G_GSIZE_FORMAT " bytes", span); /* as g_malloc() would */
  return data;
}

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
  if (span == (gsize)MAP_MIN << c) {
    g_mutex_lock(&keep_lock);
    if (kept_bytes + span <= KEEP_MAX) {
      *(gpointer *)data = kept[c];
      kept[c] = data;
      kept_bytes += span;
      data = NULL;
    }
    g_mutex_unlock(&keep_lock);
  }
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
  buffer_unmap(f->data, f->size);
  g_free(f);
}

static void pool_flush(ScLayerPool *p);

guchar *
sc_layer_pool_buffer_new(ScLayerPool *p, gsize size)
{
  gsize cost = buffer_span(size) + JOB_OVERHEAD;

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
  g_mutex_unlock(&budget_lock);
  if (size < MAP_MIN)
    return g_malloc(MAX(size, 1));
  return buffer_map(size);
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
    bytes += buffer_span(f->size) + JOB_OVERHEAD;
    pool_file_free(f);
  }
  budget_return(bytes);
  g_ptr_array_unref(batch);
}

/* The reader's batch to the workers. */
static void
pool_flush(ScLayerPool *p)
{
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

  f->seq = seq;
  f->path = g_strdup(path);
  f->uid = uid;
  f->gid = gid;
  f->mode = mode;
  f->xattrs = g_variant_ref(xattrs ? xattrs : p->no_xattrs);
  f->header = pool_header(p, uid, gid, mode, f->xattrs);
  f->data = data;
  f->size = size;
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
  p->batch_bytes += size;
  if (p->batch->len >= BATCH_FILES || p->batch_bytes >= BATCH_BYTES)
    pool_flush(p);
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

/* The dirtree objects of @mt and of every directory under it, each
 * written once its subdirectories are, as ostree_repo_write_mtree() makes
 * them (the same variant: files and subdirectories by name, the
 * subdirectories' dirtree and dirmeta checksums), but checksummed with the
 * accelerated SHA-256 and written straight into objects/: libostree
 * looked for each in two places, fallocated, validated and hashed it with
 * GLib's SHA-256, 8 % of a layer's import. */
static gboolean
write_dirtrees(ScBareWriter *bare, OstreeMutableTree *mt, GError **error)
{
  GHashTable *files = ostree_mutable_tree_get_files(mt);
  GHashTable *subdirs = ostree_mutable_tree_get_subdirs(mt);
  g_autofree const char **fnames = NULL, **dnames = NULL;
  g_autoptr(GVariant) tree = NULL;
  g_autofree char *checksum = NULL;
  GVariantBuilder fb, db;
  guint nf, nd;

  if (ostree_mutable_tree_get_contents_checksum(mt) != NULL)
    return TRUE;
  fnames = sorted_names(files, &nf);
  dnames = sorted_names(subdirs, &nd);
  g_variant_builder_init(&fb, G_VARIANT_TYPE("a(say)"));
  g_variant_builder_init(&db, G_VARIANT_TYPE("a(sayay)"));
  for (guint i = 0; i < nf; i++)
    g_variant_builder_add(&fb, "(s@ay)", fnames[i],
                          ostree_checksum_to_bytes_v(g_hash_table_lookup(files, fnames[i])));
  for (guint i = 0; i < nd; i++) {
    OstreeMutableTree *sub = g_hash_table_lookup(subdirs, dnames[i]);
    const char *meta = ostree_mutable_tree_get_metadata_checksum(sub);

    if (!write_dirtrees(bare, sub, error)) {
      g_variant_builder_clear(&fb);
      g_variant_builder_clear(&db);
      return FALSE;
    }
    g_assert(meta != NULL); /* every directory of the tree has one (layer.c) */
    g_variant_builder_add(&db, "(s@ay@ay)", dnames[i],
                          ostree_checksum_to_bytes_v(ostree_mutable_tree_get_contents_checksum(sub)),
                          ostree_checksum_to_bytes_v(meta));
  }
  tree = g_variant_ref_sink(
    g_variant_new("(@a(say)@a(sayay))", g_variant_builder_end(&fb), g_variant_builder_end(&db)));
  checksum = sc_sha256_hex(g_variant_get_data(tree), g_variant_get_size(tree));
  if (!sc_bare_writer_write_metadata(bare, checksum, "dirtree", g_variant_get_data(tree),
                                     g_variant_get_size(tree), error))
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
    return TRUE; /* ostree_repo_write_mtree() of the root does it all */
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
  return TRUE;
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
