/*
 * The store layer: the OSTree image store: layer import and checks, pull, images, checkout, remote inspect.
 * Includes the layer before it (docs/design.md), never one after it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "../source/source.h"

G_BEGIN_DECLS

G_DEFINE_AUTOPTR_CLEANUP_FUNC(sc_pull_opts, sc_pull_opts_free)

/* decompress.c: a layer blob's decoder (gzip, zstd or none, by the magic
 * of its first bytes). gzip is inflated by ISA-L when the build has it, by
 * zlib otherwise, with the same results and messages (they name @digest). */
typedef struct _ScDecoder ScDecoder;
ScDecoder *sc_decoder_new(const guchar *head, gsize len, const char *digest, GError **error);
/* Decodes from @in (from *@in_pos, which it advances) into @out, at most
 * @out_size bytes (*@produced). @in_len 0 means the blob has ended: what
 * the decoder holds comes out, then (*@produced 0) an error if the stream
 * has not reached its end marker. Bytes after a gzip stream are consumed
 * and ignored. */
gboolean sc_decoder_run(ScDecoder *d,
                        const guchar *in,
                        gsize in_len,
                        gsize *in_pos,
                        guchar *out,
                        gsize out_size,
                        gsize *produced,
                        GError **error);
/* The last run filled @out: call again before giving more input. */
gboolean sc_decoder_pending(const ScDecoder *d);
void sc_decoder_free(ScDecoder *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScDecoder, sc_decoder_free)
/* "isa-l" or "zlib": what inflates gzip layers in this build. */
const char *sc_decoder_gzip_engine(void);

/* layer.c */
typedef struct {
  char *commit;
  guint64 uncompressed_size;
  guint skipped_entries; /* device nodes, fifos, sockets */
} ScLayerResult;

/* layercheck.c: what a layer entry may be (pure functions). */
typedef enum {
  SC_WHITEOUT_NONE,   /* an ordinary entry */
  SC_WHITEOUT_FILE,   /* .wh.NAME: deletes NAME of the lower layers */
  SC_WHITEOUT_OPAQUE, /* .wh..wh..opq: empties its directory of the lower layers */
} ScWhiteoutKind;
/* Splits @path (a tar entry's name, relative) into its components
 * (empty and "." components dropped) and classifies its last one, refusing escapes ('..',
 * absolute), names longer than 255 bytes, paths past @limits and whiteout
 * names that name nothing ('.wh.', '.wh..', '.wh...'), use the reserved
 * '.wh..wh.' prefix other than '.wh..wh..opq', or are directories on the
 * way. Errors name @layer and the start of @path. @out_parts: NULL-terminated,
 * owned by the caller. */
gboolean sc_layer_path_check(const char *layer,
                             const char *path,
                             const ScLayerLimits *limits,
                             char ***out_parts,
                             ScWhiteoutKind *out_kind,
                             GError **error);
/* A symlink's target: not empty, at most the path limit and 4095 bytes. */
gboolean sc_layer_link_check(const char *layer,
                             const char *path,
                             const char *target,
                             const ScLayerLimits *limits,
                             GError **error);
typedef struct {
  const char *name;
  const guchar *value;
  gsize size;
} ScXattr;
/* The a(ayay) OSTree checksums for @xattrs (sorted here by name): keeps one
 * of two that are the same (libarchive's pax writer gives each twice);
 * refuses empty names, a name twice with different values, over-long or
 * unknown-namespace names and over-long values; drops empty values (OSTree
 * reads them back as absent) and gives a
 * v3 file capability rooted at uid 0 in the v2 form the kernel reports. */
GVariant *sc_layer_xattrs_canonical(const char *layer,
                                    const char *path,
                                    GArray *xattrs,
                                    GError **error);
struct archive;
struct archive_entry;
/* One tar entry, checked (sc_layer_path_check() on its path and hardlink
 * target, sc_layer_link_check() on a symlink's target, no whiteout that is
 * a directory or a hardlink target) before a walk's callback sees it. */
typedef struct {
  const char *path; /* as the tar gives it */
  char **parts;     /* its components */
  guint n_parts;
  ScWhiteoutKind kind;
  const char *hardlink; /* NULL, or the target as the tar gives it */
  char **link_parts;    /* the hardlink target's components */
} ScLayerEntry;
typedef gboolean (*ScEntryFunc)(struct archive *a,
                                struct archive_entry *e,
                                const ScLayerEntry *entry,
                                guchar *buf,
                                gpointer data,
                                GError **error);
/* What a walk reads (a blob, the digest it must have and its size, the
 * tar's digest unless NULL), how (a shared byte counter, or NULL; the
 * limits, or NULL), and what it calls for each entry. */
typedef struct {
  GInputStream *in;
  const char *digest;
  guint64 size;
  const char *diff_id;
  gint64 *progress; /* atomic */
  const ScLayerLimits *limits;
  ScEntryFunc func;
  gpointer data;
  /* NULL, or called with @data before the parser waits for more of the
   * tar (the import hands its queued files to the workers then) */
  void (*before_wait)(gpointer data);
} ScLayerWalk;
gboolean sc_layer_walk(const ScLayerWalk *w, guint64 *out_tar_size, char **out_tar_digest,
                       GError **error);
/* Collects the regular files under /exports of one layer into @files
 * ("exports/NAME" -> GBytes), applying its whiteouts to what lower layers
 * put there. Call in layer order. */
GHashTable *sc_exports_scan_new(void);
gboolean sc_layer_scan_exports(GInputStream *in, const char *digest, guint64 size,
                               const char *diff_id, const ScLayerLimits *limits,
                               GHashTable *files, GError **error);
/* @se: the target root's policy (NULL: none): every entry gets the label
 * it gives the entry's path, /exports/hostfs/X as /X. */
gboolean sc_layer_import(OstreeRepo *repo, GInputStream *in, const char *digest, guint64 size,
                         const char *diff_id, gint64 *progress, const ScLayerLimits *limits,
                         ScSelinux *se, ScLayerResult *out, GError **error);

/* bareobject.c: regular-file objects of a bare repository written without
 * libostree's content stream (NULL: not bare, SC_OBJECT_WRITER=libostree,
 * or no O_TMPFILE there; then libostree writes). Safe from several
 * threads. */
typedef struct ScBareWriter ScBareWriter;
ScBareWriter *sc_bare_writer_new(OstreeRepo *repo);
/* The object @checksum (its OSTree content checksum, which the caller
 * computed) unless the store has it. */
gboolean sc_bare_writer_write(ScBareWriter *w,
                              const char *checksum,
                              guint32 uid,
                              guint32 gid,
                              guint32 mode,
                              GVariant *xattrs,
                              const guchar *data,
                              gsize size,
                              GError **error);
/* A metadata object (@ext "dirtree", "dirmeta"), @data its serialized
 * variant in normal form and @checksum that data's SHA-256. */
gboolean sc_bare_writer_write_metadata(ScBareWriter *w,
                                       const char *checksum,
                                       const char *ext,
                                       const guchar *data,
                                       gsize size,
                                       GError **error);
void sc_bare_writer_free(ScBareWriter *w);
/* The bytes a regular file's OSTree content checksum starts with (@mode
 * with S_IFREG): its header, size-prefixed; the contents follow. */
GBytes *sc_bare_header(guint32 uid, guint32 gid, guint32 mode, GVariant *xattrs);
/* SHA-256 with sc_bare_header() fed. */
ScSha256 *sc_bare_checksum_start(guint32 uid, guint32 gid, guint32 mode, GVariant *xattrs);
/* A file object written as it is read (files too large to buffer): the
 * checksum, computed on the way, is known at the end; freed unfinished,
 * nothing is left. */
typedef struct ScBareStream ScBareStream;
ScBareStream *sc_bare_stream_new(ScBareWriter *w,
                                 guint32 uid,
                                 guint32 gid,
                                 guint32 mode,
                                 GVariant *xattrs,
                                 guint64 size,
                                 GError **error);
gboolean sc_bare_stream_write(ScBareStream *s, const guchar *data, gsize len, GError **error);
char *sc_bare_stream_finish(ScBareStream *s, GError **error);
void sc_bare_stream_free(ScBareStream *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScBareStream, sc_bare_stream_free)

/* layerpool.c: the workers that checksum and write a layer's regular
 * files (SC_IMPORT_WORKERS=N, else one per CPU). @check runs in a worker
 * after a file is stored (NULL: none). */
#define SC_LAYER_POOL_MAX_FILE (4 * 1024 * 1024) /* larger files are not queued */
typedef struct ScLayerPool ScLayerPool;
typedef gboolean (*ScLayerPoolCheck)(gpointer data,
                                     const char *path,
                                     const char *checksum,
                                     guint32 mode,
                                     GVariant *xattrs,
                                     GError **error);
ScLayerPool *sc_layer_pool_new(OstreeRepo *repo,
                               const char *digest,
                               ScLayerPoolCheck check,
                               gpointer check_data);
/* Queues a file (tar entry number @seq; @data, @size bytes, is taken);
 * waits while too much is queued. *@out_placeholder: what the tree holds
 * until sc_layer_pool_finish(). */
void sc_layer_pool_add(ScLayerPool *p,
                       guint64 seq,
                       const char *path,
                       guint32 uid,
                       guint32 gid,
                       guint32 mode,
                       GVariant *xattrs,
                       guchar *data,
                       gsize size,
                       char out_placeholder[65]);
/* The same, for @data the pool does not own: @release(@release_data)
 * once the file is written (or dropped). Not counted in the budget: what
 * @data belongs to bounds it, and the reader calls sc_layer_pool_flush()
 * before it waits for that to free some. */
void sc_layer_pool_add_borrowed(ScLayerPool *p,
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
                                char out_placeholder[65]);
/* The files queued by the reader handed to the workers now (not when a
 * batch is full). */
void sc_layer_pool_flush(ScLayerPool *p);
/* A queued file failed: the reader may stop. */
gboolean sc_layer_pool_failed(ScLayerPool *p);
/* Waits for every file; on success, swaps the placeholders in @root for
 * the checksums. The error of the earliest failed file in tar order. */
gboolean sc_layer_pool_finish(ScLayerPool *p, OstreeMutableTree *root, GError **error);
void sc_layer_pool_free(ScLayerPool *p);
/* The dirtree objects of @root's subtrees (after sc_layer_pool_finish()),
 * written by several threads; ostree_repo_write_mtree() of @root then
 * writes the rest. */
gboolean sc_layer_pool_write_trees(ScLayerPool *p, OstreeMutableTree *root, GError **error);
/* The pool's writer of bare objects (NULL: libostree writes). */
ScBareWriter *sc_layer_pool_bare(ScLayerPool *p);
/* A buffer for sc_layer_pool_add(), and its release. */
guchar *sc_layer_pool_buffer_new(ScLayerPool *p, gsize size);
void sc_layer_pool_buffer_free(guchar *data, gsize size);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScLayerPool, sc_layer_pool_free)

/* pull.c */
/* Real images have tens of layers (overlay filesystems stop at 128). */
#define SC_MAX_IMAGE_LAYERS 1000
typedef struct {
  GBytes *manifest; /* the platform's manifest */
  GBytes *top_manifest; /* what the reference names (maybe an index): the
                         * manifest signatures are made for */
  char *manifest_hex;
  json_t *mdoc;
  GBytes *config;
  json_t *cdoc;
  const char *config_digest, *config_hex; /* borrowed from mdoc */
} ScResolved;
gboolean sc_manifest_examine(GBytes *manifest, const char *media_type, const char *os,
                             const char *arch, const char *variant, const char *source,
                             gboolean nested, json_t **out_doc, char **out_next, GError **error);
/* Parses an image config and checks it against the manifest: an object
 * whose rootfs.diff_ids holds one digest per layer. */
gboolean sc_image_config_examine(GBytes *config, gsize n_layers, const char *source,
                                 json_t **out_doc, GError **error);
gboolean sc_resolve_image(ScImageSource *src, const sc_pull_opts *opts, ScResolved *out,
                          GError **error);
/* As sc_resolve_image(), taking the config from @repo (may be NULL) when
 * it has it: a re-pull of an unchanged image reads no blob. */
gboolean sc_resolve_image_stored(ScImageSource *src, const sc_pull_opts *opts, OstreeRepo *repo,
                                 ScResolved *out, GError **error);
void sc_resolved_clear(ScResolved *r);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ScResolved, sc_resolved_clear)
/* Imports what @res describes (taken over); stored as @store_name, else
 * the options' name, else the source's. */
gboolean sc_pull_resolved(sc_context *ctx, ScImageSource *src, const sc_pull_opts *opts,
                          ScResolved *res, const char *store_name, json_t **out_report,
                          GError **error);
/* The signature policy's verdict on the image @src names (@top: the
 * manifest its reference names), before anything is stored. */
gboolean sc_policy_check_image(sc_context *ctx, ScImageSource *src, GBytes *top, json_t **out_trust,
                               GError **error);
/* The trust record an image was stored with (commit metadata
 * "syscontainer.trust": the policy identity, the signed digest, the scope
 * and the signatures that satisfied it) re-checked offline against the
 * current policy: *@out_signers "FPR, ..." or "unsigned (accepted by
 * SCOPE)"; else the reason (SC_ESIGNATURE when the policy refuses, or
 * the record is not of the image whose manifest is sha256:@manifest_hex). */
gboolean sc_trust_reverify(sc_context *ctx, json_t *record, const char *manifest_hex,
                           char **out_signers, GError **error);
void sc_pull_opts_source_options(const sc_pull_opts *opts, ScSourceOptions *out);
/* sc_image_pull() inside the library: *@out_name is the name the image was
 * stored as, *@out_report the pull's report (both optional). */
gboolean sc_image_pull_internal(sc_context *ctx, const char *source, const sc_pull_opts *opts,
                                char **out_name, json_t **out_report, GError **error);
const char *sc_pull_opts_get_name(const sc_pull_opts *opts);

/* store.c */
#define SC_REF_PREFIX "ociimage/"
/* In the dirmeta of a directory a layer has no entry for (made for the
 * entries below it): the checkout keeps a lower layer's directory there
 * as it is; never set on a checked-out directory. */
#define SC_IMPLICIT_DIR_XATTR "user.syscontainer.implicit-dir"
/* The repository, opened (and created when @create) per the location rules;
 * cached in the context. Without @create a missing repository is
 * SC_ENOTFOUND. */
gboolean sc_store_open(sc_context *ctx, gboolean create, OstreeRepo **out_repo, GError **error);
/* flock() on the store: shared for readers, exclusive for writers. Returns
 * the lock fd (close it to unlock). */
int sc_store_lock(sc_context *ctx, OstreeRepo *repo, gboolean exclusive, GError **error);
char *sc_context_repo_path(sc_context *ctx);
/* Why the store is where it is (docs/store.md, "Where the store is"). */
typedef enum {
  SC_STORE_CONFIGURED,    /* --repo, $ATOMIC_OSTREE_REPO, atomic.conf */
  SC_STORE_EXISTING,      /* CHECKOUT/.storage/ostree, made earlier */
  SC_STORE_OSTREE_HOST,   /* /ostree/repo, which checkouts can hardlink */
  SC_STORE_CHECKOUT_ROOT, /* CHECKOUT/.storage/ostree, new */
  SC_STORE_USER           /* a user's own: $XDG_DATA_HOME/containers/atomic/repo */
} ScStoreChoice;
/* The store's path on this machine and why; *@out_why (or NULL) says why
 * an OSTree host's /ostree/repo was passed over. */
char *sc_store_location(sc_context *ctx, ScStoreChoice *out_choice, char **out_why);
const char *sc_store_choice_name(ScStoreChoice choice);
/* {"path" (as seen from the sysroot), "chosen", "passed_over"?} */
json_t *sc_store_location_json(sc_context *ctx);
gboolean sc_store_sync(OstreeRepo *repo, GError **error);
gboolean sc_ref_is_blob(const char *ref);
typedef struct {
  char *ref;  /* ociimage/<encoded name> */
  char *name; /* decoded */
  char *commit;
  char *id; /* manifest digest, hex */
  json_t *manifest;
  json_t *config; /* NULL when the config blob is missing */
  gboolean untagged; /* kept by its ID only (ociimage/sha256_3A<id>): its name moved on */
  char *transport;   /* where it came from (syscontainer.transport): "docker" (a
                      * registry), "oci", "oci-archive", "docker-archive"; NULL:
                      * not recorded (pulled by atomic or an older version) */
  char *trust;       /* the trust record (syscontainer.trust, JSON), NULL: none */
} ScImage;
void sc_image_free(ScImage *img);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScImage, sc_image_free)
ScImage *sc_image_load(OstreeRepo *repo, const char *ref, GError **error);
/* ociimage/sha256_3A<id>: where an image whose name moved on is kept
 * (the encoded "sha256:<id>", a name no reference can have). */
char *sc_image_id_ref(const char *id);
/* The config blob ociimage/<@hex> holds (its /content), or NULL. */
GBytes *sc_store_read_config(OstreeRepo *repo, const char *hex);
/* Before the name ref @ref is pointed at the image @new_id: the image it
 * names now, when another one that no other name keeps, is kept under its
 * ID ref; @new_id's own ID ref, if any, goes (it has a name again). In the
 * open transaction when @in_txn, else at once. */
gboolean sc_store_keep_displaced(OstreeRepo *repo, const char *ref, const char *new_id,
                                 gboolean in_txn, GError **error);
/* The store's refs (ref -> commit) now: an empty table for no store. */
GHashTable *sc_store_refs_snapshot(OstreeRepo *repo, GError **error);
/* Takes back a pull of @img that found the store with the refs @before
 * (sc_store_refs_snapshot): its name and the blobs no other image names go,
 * then their objects. A verb that pulled for its own use and then failed
 * leaves the store as it was. */
gboolean sc_store_forget_pull(sc_context *ctx, GHashTable *before, ScImage *img, GError **error);
GPtrArray *sc_images_all(OstreeRepo *repo, GError **error);
GPtrArray *sc_images_resolve(OstreeRepo *repo, const char *text, GError **error);
ScImage *sc_image_resolve_one(OstreeRepo *repo, const char *text, GError **error);
/* The inspect document (layers and variables taken over). */
json_t *sc_image_document(const char *name, const char *id, json_t *config, json_t *manifest,
                          json_t *layers, json_t *variables);
gboolean sc_store_open_for_reading(sc_context *ctx, OstreeRepo **out_repo, int *out_lock,
                                   GError **error);

/* checkout.c */
char *sc_store_checkout_exports(OstreeRepo *repo, ScImage *img, GError **error);
/* @copy: plain copies (a rootfs the container may write to), else
 * hardlinks into the store (same filesystem) */
gboolean sc_store_checkout(OstreeRepo *repo, ScImage *img, const char *dir, gboolean copy,
                           GError **error);
/* A new directory PREFIX-XXXXXX under the store's tmp, by its real path. */
char *sc_store_scratch_dir(OstreeRepo *repo, const char *prefix, GError **error);

G_END_DECLS
