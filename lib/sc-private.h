/*
 * Internal declarations shared by the library's modules.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "config.h"

#include <gio/gio.h>
#include <glib.h>
#include <jansson.h>

#include <syscontainer/syscontainer.h>
#include <ostree.h>

G_BEGIN_DECLS

/* GError domain whose codes are the public SC_E... values, so that one
 * function (sc_error_propagate) turns any internal failure into an sc_error. */
#define SC_ERROR (sc_error_quark())
GQuark sc_error_quark(void);

/* Moves @gerror into @error (if not NULL) and returns its code. Errors from
 * other domains (GIO, OSTree) become SC_EIO with their message kept. */
int sc_error_propagate(sc_error **error, GError *gerror);
/* Sets @error from a code and a printf-style message; returns @code. */
int sc_error_set(sc_error **error, int code, const char *format, ...) G_GNUC_PRINTF(3, 4);

/* Sets @error to "PREFIX: message" with @code; returns FALSE. */
gboolean sc_set_error_prefixed(GError **error,
                               int code,
                               const char *prefix,
                               const char *format,
                               ...) G_GNUC_PRINTF(4, 5);

#define SC_CHECK_ARG(expr, error)                                                                  \
  do {                                                                                             \
    if (G_UNLIKELY(!(expr)))                                                                       \
      return sc_error_set((error), SC_EINVAL, "%s: invalid argument: %s", G_STRFUNC, #expr);       \
  } while (0)

/* context.c */
void sc_context_log(sc_context *ctx, int level, const char *format, ...) G_GNUC_PRINTF(3, 4);
/* The path of @path (absolute, as seen from the sysroot) on this machine. */
char *sc_context_host_path(const sc_context *ctx, const char *path);
/* The same for a directory that paths are built in: its own last
 * component is followed too (inside the sysroot). */
char *sc_context_host_dir(const sc_context *ctx, const char *path);
/* The cap on each rendered file (sc_context_set_render_limit()). */
guint64 sc_context_render_limit(sc_context *ctx);
gboolean sc_context_runtime_path(sc_context *ctx, const char **out_path, GError **error);
gboolean sc_context_runtime_features(sc_context *ctx,
                                     gboolean *out_pid_file,
                                     gboolean *out_systemd_cgroup,
                                     GError **error);
gboolean sc_name_check(const char *name, GError **error);
/* Validates @name, then stores a copy of it in *@slot (freeing the old). */
int sc_name_replace(char **slot, const char *name, sc_error **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(sc_values, sc_values_free)

/* values.c */
gboolean sc_values_is_identifier(const char *key, gsize len);
gboolean sc_values_insert(sc_values *values, const char *key, const char *value, GError **error);
sc_values *sc_values_new_internal(void);
/* Stores a copy of @values in *@slot (freeing the old). */
int sc_values_replace(sc_values **slot, const sc_values *values, sc_error **error);
json_t *sc_values_to_json_object(const sc_values *values);

/* template.c */
char *sc_template_substitute(const char *label,
                             const char *text,
                             gsize length,
                             const sc_values *values,
                             gsize *out_length,
                             GError **error);
/* The same with a cap on the output: text that would grow past @max bytes
 * is refused (SC_ETEMPLATE, naming the template and the variable) before it
 * is allocated. sc_template_substitute() caps at sc_template_default_max(). */
char *sc_template_substitute_max(const char *label,
                                 const char *text,
                                 gsize length,
                                 const sc_values *values,
                                 guint64 max,
                                 gsize *out_length,
                                 GError **error);
/* $SC_MAX_RENDERED_BYTES, else 4 MiB. */
guint64 sc_template_default_max(void);
/* Every variable of @text, in order of first use (the pointer array owns its strings). */
GPtrArray *sc_template_scan(const char *label, const char *text, gsize length, GError **error);
gboolean sc_template_check_lines(const char *label,
                                 const char *text,
                                 gsize length,
                                 const sc_values *values,
                                 gboolean continuation,
                                 GError **error);

/* spec.c */
gboolean sc_spec_check(const char *label,
                       const char *json_text,
                       gsize length,
                       const char *remote_rootfs,
                       gboolean run_once, /* writable root, terminal allowed */
                       GPtrArray **out_bind_sources,
                       GError **error);
extern const char sc_spec_default_config[];
char *sc_tmpfiles_lines_for_missing(sc_context *ctx,
                                    GPtrArray *sources,
                                    gulong uid,
                                    gulong gid,
                                    GPtrArray **out_missing,
                                    GError **error);
char *sc_capabilities_text(GError **error);

/* unit.c */
extern const char sc_unit_default[];
typedef struct {
  char *start, *stop, *start_pre, *stop_post;
  gboolean detached;
} ScExecDirectives;
void sc_exec_directives_clear(ScExecDirectives *d);
gboolean sc_unit_exec_directives(const char *runtime,
                                 gboolean has_pid_file,
                                 gboolean has_cgroup,
                                 const char *unit_template,
                                 gsize length,
                                 const char *name,
                                 const char *pidfile,
                                 ScExecDirectives *out,
                                 GError **error);
gboolean sc_unit_word_ok(const char *word);
char *sc_unit_finish(const char *rendered, gboolean detached, const char *pidfile);

/* render.c */
/* @offline: lint's mode: a runtime that cannot be found or probed is
 * assumed to be runc at /usr/bin/runc instead of failing. */
gboolean sc_render_internal(sc_context *ctx,
                            const sc_exports *exports,
                            const sc_render_opts *opts,
                            gboolean offline,
                            sc_rendering **out_rendering,
                            GError **error);

/* A run-once bundle: DESTDIR is @destdir, and the root may be writable
 * (it is a copy). */
void sc_render_opts_set_run_once(sc_render_opts *opts, const char *destdir);
gboolean sc_rendering_write_internal(const sc_rendering *r, const char *dir, GError **error);

/* exports.c */
typedef struct {
  char *name;   /* file name inside exports, e.g. "service.template" */
  GBytes *data; /* NULL when the file is absent */
} ScExportFile;

struct sc_exports {
  char *path;
  char *build_dir; /* the directory given, for a Dockerfile next to the files */
  ScExportFile config, config_template, service_template, tmpfiles_template, manifest;
  gboolean has_manifest;
  sc_values *defaults;
  gboolean no_container_service;
  gboolean use_links;
  GPtrArray *installed_files_template;
  GPtrArray *rename_files; /* pairs: from, to-template */
  gboolean has_hostfs;
};

/* The "variables" array of sc_exports_variables_json() for the exports
 * in @dir; empty when there are none or they cannot be read. */
json_t *sc_exports_dir_variables(const char *dir);

sc_exports *sc_exports_new_empty(const char *path);
/* The exports in @exports_dir itself (an image's /exports: a link there
 * is refused, not followed). */
sc_exports *sc_exports_load_dir(const char *exports_dir, GError **error);
/* Parses ex->manifest.data into the manifest fields. */
gboolean sc_exports_parse_manifest(sc_exports *ex, GError **error);

/* Host-defaults and forced variable names (docs/design.md). */
extern const char *const sc_forced_variables[];
extern const char *const sc_host_variables[];
gboolean sc_strv_has(const char *const *strv, const char *s);

/* digest.c */
typedef struct ScSha256 ScSha256;
ScSha256 *sc_sha256_new(void);
void sc_sha256_update(ScSha256 *h, const void *data, gsize len);
/* Returns the lowercase hex digest and frees @h. */
char *sc_sha256_finish(ScSha256 *h);
void sc_sha256_free(ScSha256 *h);
char *sc_sha256_hex(const void *data, gsize len);
/* "sha256:<64 hex>" -> the hex part (borrowed). A malformed digest is
 * SC_EINVAL (what a user typed); another algorithm SC_EUNSUPPORTED. */
gboolean sc_digest_hex(const char *digest, const char **out_hex, GError **error);
/* The same for a digest found in image content (a manifest, a config, an
 * index): malformed is SC_EDIGEST, as for content that fails its digest. */
gboolean sc_content_digest_hex(const char *digest, const char **out_hex, GError **error);

/* reference.c */
typedef struct {
  char *domain, *path, *tag, *digest;
} ScReference;
gboolean sc_reference_parse(const char *input, ScReference *out, GError **error);
void sc_reference_clear(ScReference *ref);
char *sc_reference_to_string(const ScReference *ref);
char *sc_reference_normalize(const char *input, GError **error);
char *sc_ref_encode(const char *name);
char *sc_ref_decode(const char *encoded);

/* transport.c */
#define SC_MEDIA_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define SC_MEDIA_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define SC_MEDIA_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define SC_MEDIA_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define SC_MEDIA_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define SC_MEDIA_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define SC_MEDIA_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
typedef struct ScImageSource ScImageSource;
typedef struct {
  const char *username, *password; /* NULL: from the auth files, or anonymous */
  const char *authfile;             /* NULL: the usual places */
  const char *registries_conf;      /* NULL: the usual places */
  const char *cert_dir;             /* NULL: certs.d per host */
  const char *known_digest; /* registry: HEAD first; when the manifest's digest
                             * is this one, it is not fetched (see
                             * sc_image_source_unchanged) */
  gboolean tls_verify;
  int jobs;
} ScSourceOptions;
gboolean sc_image_source_is_local(const char *spec);
ScImageSource *sc_image_source_open(const char *spec, const ScSourceOptions *opts,
                                    GError **error);
void sc_image_source_free(ScImageSource *src);
const char *sc_image_source_description(ScImageSource *src);
/* The name the source gives the image (RepoTags, ref.name, or
 * localhost/<basename>:<tag>), not yet normalized. */
const char *sc_image_source_name(ScImageSource *src);
/* @digest NULL: the source's top-level manifest (maybe an index). A manifest
 * fetched by digest is verified against it. */
GBytes *sc_image_source_get_manifest(ScImageSource *src, const char *digest,
                                     char **out_media_type, GError **error);
/* @expected_size: the descriptor's size (the registry's stream is bounded
 * by it); *out_size: the size the source has. */
/* The source was opened with a known_digest that the registry still has:
 * nothing was fetched. */
gboolean sc_image_source_unchanged(ScImageSource *src);
GInputStream *sc_image_source_open_blob(ScImageSource *src, const char *digest,
                                        guint64 expected_size, guint64 *out_size,
                                        GError **error);

/* The user name that marks an OAuth2 refresh token ("identity token") as
 * the password: credential helpers and auth.json's identitytoken. */
#define SC_IDENTITY_TOKEN_USER "<token>"

/* tarindex.c: where each member of a tar archive is, after checking every
 * header (sizes, offsets, names, duplicates: see tarindex.c) */
typedef enum {
  SC_TAR_FILE,
  SC_TAR_DIR,
  SC_TAR_SYMLINK,
  SC_TAR_HARDLINK,
  SC_TAR_OTHER, /* devices, fifos, GNU extensions */
} ScTarKind;
typedef struct {
  guint64 header;       /* offset of its header, for messages */
  guint64 offset, size; /* its data: offset + size <= the archive's size */
  ScTarKind kind;
  char *link; /* links: the target as written */
} ScTarMember;
typedef struct {
  char *archive; /* the file's name, for messages */
  guint64 archive_size;
  GHashTable *members; /* normalized name ("a/b") -> ScTarMember */
} ScTarIndex;
ScTarIndex *sc_tar_index_new(int fd, const char *archive, GError **error);
void sc_tar_index_free(ScTarIndex *index);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScTarIndex, sc_tar_index_free)
/* The regular file @name; anything else is refused with a message naming
 * the member. @follow_links: a symbolic link member is followed inside the
 * archive (docker save writes repeated layers as links). */
const ScTarMember *sc_tar_index_lookup(const ScTarIndex *index,
                                       const char *name,
                                       gboolean follow_links,
                                       GError **error);

/* auth.c */
GPtrArray *sc_auth_files(const char *explicit_file);
/* One auth file's text; @keys most specific first, NULL-terminated. */
gboolean sc_auth_lookup_text(const char *path, const char *text, gsize len, char **keys,
                             gboolean *out_found, char **out_user, char **out_pass,
                             GError **error);
/* Credentials for domain/path from the auth files; none: both NULL. */
gboolean sc_auth_lookup(const char *authfile, const char *domain, const char *path,
                        char **out_user, char **out_pass, GError **error);

/* regconf.c */
typedef struct {
  char *location;
  gboolean insecure;
  char *pull_from; /* all, digest-only, tag-only; NULL: all */
} ScMirror;
typedef struct {
  char *prefix, *location;
  gboolean insecure, blocked, mirror_by_digest_only;
  GPtrArray *mirrors; /* of ScMirror */
} ScRegistryEntry;
typedef struct {
  GPtrArray *search;     /* unqualified-search-registries */
  char *short_name_mode; /* enforcing, permissive, disabled; NULL: unset (permissive) */
  GPtrArray *registries; /* of ScRegistryEntry, in file order */
  GHashTable *aliases;   /* short name -> reference */
} ScRegConf;
ScRegConf *sc_regconf_new(void);
void sc_regconf_free(ScRegConf *c);
gboolean sc_regconf_parse(ScRegConf *c, const char *file, const char *text, GError **error);
ScRegConf *sc_regconf_load(const char *explicit_file, GError **error);
ScRegistryEntry *sc_regconf_find(ScRegConf *c, const char *domain, const char *path);

/* pull.c */
/* Real images have tens of layers (overlay filesystems stop at 128). */
#define SC_MAX_IMAGE_LAYERS 1000
typedef struct {
  GBytes *manifest; /* the platform's manifest */
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
void sc_resolved_clear(ScResolved *r);
/* Imports what @res describes (taken over); stored as @store_name, else
 * the options' name, else the source's. */
gboolean sc_pull_resolved(sc_context *ctx, ScImageSource *src, const sc_pull_opts *opts,
                          ScResolved *res, const char *store_name, json_t **out_report,
                          GError **error);
void sc_pull_opts_source_options(const sc_pull_opts *opts, ScSourceOptions *out);
const char *sc_pull_opts_get_name(const sc_pull_opts *opts);

/* registry.c */
typedef struct ScRegistry ScRegistry;
ScRegistry *sc_registry_new(const char *domain, const char *username, const char *password,
                            gboolean tls_verify, const char *cert_dir, int max_conns,
                            GError **error);
void sc_registry_free(ScRegistry *reg);
gboolean sc_registry_ping(ScRegistry *reg, GError **error);
char *sc_registry_head_manifest(ScRegistry *reg, const char *repo, const char *reference,
                                GError **error);
GBytes *sc_registry_get_manifest(ScRegistry *reg, const char *repo, const char *reference,
                                 char **out_media_type, GError **error);
GInputStream *sc_registry_open_blob(ScRegistry *reg, const char *repo, const char *digest,
                                    guint64 size, GError **error);
gboolean sc_parse_www_authenticate(const char *header, char **out_scheme,
                                   GHashTable **out_params);

/* layer.c */
typedef struct {
  char *commit;
  guint64 uncompressed_size;
  guint skipped_entries; /* device nodes, fifos, sockets */
} ScLayerResult;
typedef struct {
  guint64 max_bytes; /* tar bytes, and the full size of its files */
  guint64 max_entries;
  guint max_depth;      /* path components of an entry */
  gsize max_path_bytes; /* an entry's path, a link's target */
  guint64 max_exports;  /* /exports scanned into memory, all layers (0: none) */
} ScLayerLimits;
/* The defaults (overridden by sc_context_set_layer_*limits() and $SC_MAX_*). */
#define SC_DEFAULT_MAX_LAYER_BYTES (G_GUINT64_CONSTANT(64) << 30)
#define SC_DEFAULT_MAX_LAYER_ENTRIES 4000000
#define SC_DEFAULT_MAX_PATH_DEPTH 256
#define SC_DEFAULT_MAX_PATH_BYTES 4095

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
/* At most @max bytes of @s, with bytes that are not printable UTF-8 as \xNN,
 * then "..." if @s was longer: safe to put in a message. */
typedef struct {
  const char *name;
  const guchar *value;
  gsize size;
} ScXattr;
/* The a(ayay) OSTree checksums for @xattrs (sorted here by name): keeps one
 * of two that are the same (libarchive's pax writer gives each twice);
 * refuses empty names, a name twice with different values, over-long or
 * unknown-namespace names and over-long values; drops empty values (OSTree reads them back as absent) and gives a
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
gboolean sc_layer_walk(GInputStream *in, const char *digest, guint64 size, const char *diff_id,
                       gint64 *progress, const ScLayerLimits *limits, ScEntryFunc func,
                       gpointer data, guint64 *out_tar_size, char **out_tar_digest,
                       GError **error);
/* Collects the regular files under /exports of one layer into @files
 * ("exports/NAME" -> GBytes), applying its whiteouts to what lower layers
 * put there. Call in layer order. */
GHashTable *sc_exports_scan_new(void);
gboolean sc_layer_scan_exports(GInputStream *in, const char *digest, guint64 size,
                               const char *diff_id, const ScLayerLimits *limits,
                               GHashTable *files, GError **error);
gboolean sc_layer_import(OstreeRepo *repo, GInputStream *in, const char *digest, guint64 size,
                         const char *diff_id, gint64 *progress, const ScLayerLimits *limits,
                         ScLayerResult *out, GError **error);

/* store.c */
#define SC_REF_PREFIX "ociimage/"
/* The repository, opened (and created when @create) per the location rules;
 * cached in the context. Without @create a missing repository is
 * SC_ENOTFOUND. */
gboolean sc_store_open(sc_context *ctx, gboolean create, OstreeRepo **out_repo, GError **error);
/* flock() on the store: shared for readers, exclusive for writers. Returns
 * the lock fd (close it to unlock). */
int sc_store_lock(sc_context *ctx, OstreeRepo *repo, gboolean exclusive, GError **error);
GObject *sc_context_get_store(sc_context *ctx);
void sc_context_layer_limits(sc_context *ctx, ScLayerLimits *out_limits);
void sc_context_set_store(sc_context *ctx, GObject *store);
void sc_context_progress(sc_context *ctx, guint64 done, guint64 total, guint layers_done,
                         guint layers_total);
char *sc_context_repo_path(sc_context *ctx);
gboolean sc_store_sync(OstreeRepo *repo, GError **error);
gboolean sc_ref_is_blob(const char *ref);
typedef struct {
  char *ref;  /* ociimage/<encoded name> */
  char *name; /* decoded */
  char *commit;
  char *id; /* manifest digest, hex */
  json_t *manifest;
  json_t *config; /* NULL when the config blob is missing */
} ScImage;
void sc_image_free(ScImage *img);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScImage, sc_image_free)
ScImage *sc_image_load(OstreeRepo *repo, const char *ref, GError **error);
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

/* hostfs.c */
/* What tracking records for host file @dest (as seen from the sysroot). */
char *sc_hostfs_checksum(sc_context *ctx, const char *dest);
gboolean sc_hostfs_item_writes(gpointer plan_item);
/* What exports/hostfs installs, with every collision found first. */
/* @owned: dest -> checksum of files the deployment being replaced
 * installed; those may be replaced when unmodified. */
GPtrArray *sc_hostfs_plan(sc_context *ctx, const sc_exports *ex, const sc_values *values,
                          GHashTable *owned, GError **error);
GHashTable *sc_hostfs_apply(sc_context *ctx, GPtrArray *plan, GError **error);
/* What sc_hostfs_apply() will track for @plan (path -> checksum), or,
 * with !@written_only, what every planned path has when installed. */
GHashTable *sc_hostfs_plan_tracking(GPtrArray *plan, gboolean written_only);
void sc_hostfs_remove(sc_context *ctx, GHashTable *tracked, GPtrArray *out_kept);

/* systemd.c */
gboolean sc_systemd_offline(sc_context *ctx);
gboolean sc_systemd_running(void);
gboolean sc_systemd_unit_active(sc_context *ctx, const char *name);
gboolean sc_systemd_unit_settles(sc_context *ctx, const char *name, guint settle_ms,
                                 char **out_state);
gboolean sc_systemctl(sc_context *ctx, const char *verb, const char *arg1, const char *arg2,
                      gboolean check, GError **error);
gboolean sc_tmpfiles_run(sc_context *ctx, const char *action, const char *file, gboolean check,
                         GError **error);

/* journal.c */
typedef struct {
  char *op;          /* install, update, rollback, uninstall */
  char *slot_path;   /* the slot holding the journal (host path) */
  char *step;        /* the last step done */
  gboolean was_active; /* the unit ran before (to start it again) */
  gboolean owns_unit;  /* the unit and tmpfiles files are the container's */
  GHashTable *planned; /* host files the operation writes: path -> checksum */
} ScJournal;
ScJournal *sc_journal_new(const char *op, const char *slot_path, GHashTable *planned,
                          gboolean was_active);
void sc_journal_free(ScJournal *j);
gboolean sc_journal_step(sc_context *ctx, ScJournal *j, const char *step, GError **error);
void sc_journal_finish(sc_context *ctx, ScJournal *j);
ScJournal *sc_journal_read(const char *slot_path);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScJournal, sc_journal_free)

/* deploy.c: shared with update.c */
typedef struct {
  char *unit_path, *tmpfiles_path; /* host paths */
  char *link_path, *slot_path;     /* host paths */
  char *slot;                      /* as seen from the sysroot */
} ScPaths;
int sc_deploy_lock_container(const char *root, const char *name, GError **error);
void sc_deploy_unlock_container(sc_context *ctx, const char *name, int fd);
void sc_deploy_paths_init(sc_context *ctx, const char *name, int slot, ScPaths *p);
void sc_deploy_paths_clear(ScPaths *p);
gboolean sc_deploy_write_host_file(const char *path, const char *text, GError **error);
json_t *sc_deploy_info_document(ScImage *img, const sc_rendering *r, const sc_values *user,
                                const sc_exports *ex, GHashTable *tracked, const char *runtime);
ScImage *sc_deploy_find_or_pull(sc_context *ctx, const char *image, const sc_pull_opts *pull,
                                OstreeRepo **out_repo, GError **error);
char *sc_deploy_current_slot(sc_context *ctx, const char *name);
sc_exports *sc_deploy_open_exports(const char *dir, GError **error);
gboolean sc_deploy_fill_slot(sc_context *ctx, OstreeRepo *repo, ScImage *img,
                             const char *slot_path, const char *remote_rootfs, GError **error);
void sc_deploy_clear_slot(const char *slot_path);
void sc_deploy_trim_rootfs(const char *slot_path);
char *sc_deploy_remote_rootfs(sc_context *ctx, const char *location, GError **error);
char *sc_deploy_slot_rootfs(sc_context *ctx, const char *slot_path);
json_t *sc_deploy_read_info(const char *slot);
sc_values *sc_deploy_info_values(json_t *info);
GHashTable *sc_deploy_tracked(sc_context *ctx, const char *slot_path, json_t *info);
GPtrArray *sc_deploy_container_names(sc_context *ctx, gboolean incomplete);
/* Under the container's lock: finishes or undoes an operation a crash
 * interrupted (its journal), before another starts. *@out_finished (may
 * be NULL): the operation when it was finished rather than undone. */
gboolean sc_deploy_recover(sc_context *ctx, const char *name, char **out_finished,
                           GError **error);
/* update.c: the same, for an update or a rollback */
gboolean sc_update_recover(sc_context *ctx, const char *name, ScJournal *j, char **out_finished,
                           GError **error);

/* run.c */
gboolean sc_run_once(sc_context *ctx, OstreeRepo *repo, ScImage *img, const char *name,
                     const sc_values *values, const char *const *args, gboolean dry_run,
                     json_t **out_doc, GError **error);

/* confined.c: opening a path below a directory fd so that what is opened
 * is always inside it (the rules are in confined.c and docs/security.md).
 * @in_root: the directory acts as '/' (RESOLVE_IN_ROOT: a sysroot);
 * else any escape is refused (RESOLVE_BENEATH: a layout, a checkout,
 * /exports). Magic links are never followed. @flags and @mode as for
 * openat() (O_CLOEXEC is always added). Returns the fd, or -1 with errno
 * set and @error naming @relpath and the reason: SC_ENOTFOUND (ENOENT),
 * SC_EUNSUPPORTED (an escape: EXDEV; a loop or magic link: ELOOP), SC_EIO
 * (a symbolic link where O_NOFOLLOW was asked: ELOOP; anything else). */
int sc_confined_open(int root_fd,
                     const char *relpath,
                     int flags,
                     mode_t mode,
                     gboolean in_root,
                     GError **error);
/* Tests only: use the O_NOFOLLOW walk even where openat2() exists. */
void sc_confined_force_walk(gboolean force);
/* The directory holding @path's last component (which must be a name),
 * made with its parents when @create; *@out_base is that name. */
int sc_confined_open_parent(int root_fd, const char *path, gboolean in_root, gboolean create,
                            char **out_base, GError **error);
int sc_confined_mkdirs(int root_fd, const char *path, mode_t mode, gboolean in_root,
                       GError **error);
char *sc_confined_readlink(int dirfd, const char *name);
/* Closes @cur and opens its parent, which must be @dev/@ino. */
int sc_confined_ascend(int cur, dev_t dev, ino_t ino, GError **error);
/* A level of a walk down a tree: the directory's identity, checked when
 * the walk comes back up to it. */
typedef struct {
  dev_t dev;
  ino_t ino;
} ScWalkLevel;
/* Drops the top level of @stack (a GArray of structs that begin with an
 * ScWalkLevel) and goes from @cur up to the level below it. */
int sc_confined_walk_up(GArray *stack, int cur, GError **error);
/* Without recursion, never following a link. @label names it in errors. */
gboolean sc_confined_empty_dir(int dirfd, const char *label, GError **error);
gboolean sc_confined_rm_rf_at(int dirfd, const char *name, const char *label, GError **error);
/* @path is the tool's own; what is below it is removed as above. */
void sc_rm_rf(const char *path);
/* @path (as seen from @root) on this machine, resolved in @root up to its
 * last component; for paths handed to other programs. */
char *sc_confined_host_path(const char *root, const char *path, gboolean follow_last);
/* The directory @abs_path (absolute, on this machine, from
 * sc_confined_host_path()), reached without following any link; made when
 * missing and @create. */
int sc_confined_open_nolinks(const char *abs_path, gboolean create, GError **error);

/* io.c */
gboolean sc_write_file_atomic(int dirfd,
                              const char *dirpath,
                              const char *name,
                              const char *data,
                              gsize length,
                              mode_t mode,
                              GError **error);
GBytes *sc_read_file_nofollow(int dirfd,
                              const char *dirpath,
                              const char *name,
                              gboolean *out_exists,
                              GError **error);
char *sc_json_dump(json_t *json, gboolean pretty);
/* At most @max bytes of @s, with what is not printable UTF-8 escaped: for
 * what content or a server sent, in messages. */
char *sc_display(const char *s, gsize max);
/* Parses untrusted JSON (@label names it in errors) after checking, without
 * building anything, that it holds at most SC_MAX_JSON_VALUES values nested
 * at most SC_MAX_JSON_DEPTH deep: a document's size alone does not bound
 * the memory its parse takes ("[{},{},...]" costs ~80 times its bytes). */
#define SC_MAX_JSON_VALUES 100000
#define SC_MAX_JSON_DEPTH 64
gboolean sc_json_check_budget(const char *label, const void *data, gsize len, GError **error);
json_t *sc_json_load_bounded(const char *label, const void *data, gsize len, GError **error);
int sc_strcmp_indirect(gconstpointer a, gconstpointer b);

G_END_DECLS
