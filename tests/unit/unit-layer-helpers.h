/*
 * Layers made inside the tests: tar archives written with libarchive's
 * writer into memory (optionally gzip or zstd compressed), imported into a
 * scratch OSTree repository with sc_layer_import(). Shared by test-layer.c
 * and test-checkout.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "test-common.h"

#include "sc-private.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <zlib.h>
#include <zstd.h>

/* One tar entry. @type: 'f' file, 'd' directory, 'l' symlink, 'h' hardlink
 * (@link names the target), 'p' fifo. A file's content is @data, or @size
 * zero bytes when @data is NULL (@sparse: a sparse file of @size bytes). @xattrs: "name=value"
 * pairs separated by
 * ';' (kept in the given order: the importer must sort them). */
typedef struct {
  char type;
  const char *path;
  const char *data;
  guint mode;
  const char *link;
  gsize size;
  guint uid, gid;
  const char *xattrs;
  gboolean sparse; /* a file of @size bytes whose data is its first 512 */
} TEntry;

typedef enum { TC_NONE, TC_GZIP, TC_ZSTD } TComp;

/* Which pax records carry xattrs: "SCHILY" as Go's archive/tar (docker,
 * buildkit) writes them, or "all", libarchive's default (bsdtar), which
 * gives each xattr twice (SCHILY.xattr and LIBARCHIVE.xattr). */
static const char *tl_xattrheader = "SCHILY";

static la_ssize_t
tl_write_cb(struct archive *a, void *data, const void *buf, size_t len)
{
  (void)a;
  g_byte_array_append(data, buf, len);
  return len;
}

/* The tar of @n entries (pax, so that xattrs and long names fit). */
static inline GBytes *
tl_tar(const TEntry *entries, gsize n)
{
  GByteArray *out = g_byte_array_new();
  struct archive *a = archive_write_new();

  ck_assert_int_eq(archive_write_set_format_pax(a), ARCHIVE_OK);
  ck_assert_int_eq(archive_write_set_bytes_per_block(a, 512), ARCHIVE_OK);
  ck_assert_int_eq(archive_write_set_format_option(a, "pax", "xattrheader", tl_xattrheader),
                   ARCHIVE_OK);
  ck_assert_int_eq(archive_write_open(a, out, NULL, tl_write_cb, NULL), ARCHIVE_OK);
  for (gsize i = 0; i < n; i++) {
    const TEntry *t = &entries[i];
    struct archive_entry *e = archive_entry_new();
    gsize size = t->data ? strlen(t->data) : t->size;
    guint mode = t->mode;

    archive_entry_set_pathname(e, t->path);
    archive_entry_set_uid(e, t->uid);
    archive_entry_set_gid(e, t->gid);
    archive_entry_set_mtime(e, 1, 0);
    switch (t->type) {
    case 'f':
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_size(e, size);
      if (t->sparse)
        archive_entry_sparse_add_entry(e, 0, MIN(size, 512));
      break;
    case 'd':
      archive_entry_set_filetype(e, AE_IFDIR);
      break;
    case 'l':
      archive_entry_set_filetype(e, AE_IFLNK);
      archive_entry_set_symlink(e, t->link);
      break;
    case 'h':
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_hardlink(e, t->link);
      break;
    case 'p':
      archive_entry_set_filetype(e, AE_IFIFO);
      break;
    default:
      ck_abort_msg("bad entry type %c", t->type);
    }
    if (mode == 0)
      mode = t->type == 'd' ? 0755 : t->type == 'l' ? 0777 : 0644;
    archive_entry_set_perm(e, mode);
    if (t->xattrs) {
      g_auto(GStrv) pairs = g_strsplit(t->xattrs, ";", -1);
      for (char **p = pairs; *p; p++) {
        const char *eq = strchr(*p, '=');
        g_autofree char *name = g_strndup(*p, eq - *p);
        archive_entry_xattr_add_entry(e, name, eq + 1, strlen(eq + 1));
      }
    }
    ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
    if (t->type == 'f' && size > 0) {
      g_autofree char *zeros = t->data ? NULL : g_malloc0(size);
      ck_assert_int_eq(archive_write_data(a, t->data ? t->data : zeros, size), (la_ssize_t)size);
    }
    archive_entry_free(e);
  }
  ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
  archive_write_free(a);
  return g_byte_array_free_to_bytes(out);
}

static inline GBytes *
tl_compress(GBytes *tar, TComp comp)
{
  gsize len;
  const guchar *data = g_bytes_get_data(tar, &len);

  if (comp == TC_NONE)
    return g_bytes_ref(tar);
  if (comp == TC_GZIP) {
    z_stream z = { 0 };
    gsize cap = deflateBound(&z, len) + 64;
    guchar *out = g_malloc(cap);
    ck_assert_int_eq(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (guchar *)data;
    z.avail_in = len;
    z.next_out = out;
    z.avail_out = cap;
    ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    cap = z.total_out;
    deflateEnd(&z);
    return g_bytes_new_take(out, cap);
  }
  {
    gsize cap = ZSTD_compressBound(len);
    guchar *out = g_malloc(cap);
    gsize n = ZSTD_compress(out, cap, data, len, 3);
    ck_assert(!ZSTD_isError(n));
    return g_bytes_new_take(out, n);
  }
}

static inline char *
tl_digest(GBytes *b)
{
  gsize len;
  const void *data = g_bytes_get_data(b, &len);
  g_autofree char *hex = sc_sha256_hex(data, len);
  return g_strconcat("sha256:", hex, NULL);
}

/* A scratch repository: bare as root (checkouts hardlink into it, owners
 * kept), else bare-user, as the store is for other users. */
static inline OstreeRepo *
tl_repo_new(const char *path)
{
  OstreeRepoMode mode = getuid() == 0 ? OSTREE_REPO_MODE_BARE : OSTREE_REPO_MODE_BARE_USER;
  g_autoptr(GError) error = NULL;
  g_autoptr(OstreeRepo) created = ostree_repo_create_at(AT_FDCWD, path, mode, NULL, NULL, &error);
  g_autoptr(GFile) file = g_file_new_for_path(path);
  OstreeRepo *repo = NULL;

  ck_assert_msg(created != NULL, "cannot create %s: %s", path, error ? error->message : "");
  /* opened by path, as sc_store_open() does (messages name the path) */
  repo = ostree_repo_new(file);
  ck_assert_msg(ostree_repo_open(repo, NULL, &error), "%s: %s", path, error ? error->message : "");
  return repo;
}

static inline ScLayerLimits
tl_limits(void)
{
  ScLayerLimits l = { SC_DEFAULT_MAX_LAYER_BYTES,
                      SC_DEFAULT_MAX_LAYER_ENTRIES,
                      SC_DEFAULT_MAX_PATH_DEPTH,
                      SC_DEFAULT_MAX_PATH_BYTES,
                      0 };
  return l;
}

/* Imports @blob (digest and size its own, diff_id @tar's unless given). */
static inline gboolean
tl_import_blob(OstreeRepo *repo,
               GBytes *blob,
               GBytes *tar,
               const char *digest,
               const char *diff_id,
               const ScLayerLimits *limits,
               ScLayerResult *out,
               GError **error)
{
  g_autoptr(GInputStream) in = g_memory_input_stream_new_from_bytes(blob);
  g_autofree char *own_digest = tl_digest(blob);
  g_autofree char *own_diff = tar ? tl_digest(tar) : NULL;

  return sc_layer_import(repo,
                         in,
                         digest ? digest : own_digest,
                         g_bytes_get_size(blob),
                         diff_id ? diff_id : own_diff,
                         NULL,
                         limits,
                         NULL,
                         out,
                         error);
}

/* Imports the layer of @entries and sets its ref ociimage/<hex>, as a pull
 * does; returns its digest. */
static inline char *
tl_layer(OstreeRepo *repo, const TEntry *entries, gsize n)
{
  g_autoptr(GBytes) tar = tl_tar(entries, n);
  g_autoptr(GBytes) blob = tl_compress(tar, TC_GZIP);
  g_autoptr(GError) error = NULL;
  ScLayerLimits limits = tl_limits();
  ScLayerResult res = { 0 };
  char *digest = tl_digest(blob);
  g_autofree char *ref = g_strconcat(SC_REF_PREFIX, digest + 7, NULL);

  ck_assert_msg(tl_import_blob(repo, blob, tar, NULL, NULL, &limits, &res, &error),
                "import: %s",
                error ? error->message : "");
  ck_assert(ostree_repo_set_ref_immediate(repo, NULL, ref, res.commit, NULL, &error));
  g_free(res.commit);
  return digest;
}
