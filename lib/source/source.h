/*
 * The source layer: where images come from: references, registries.conf, credentials, the registry, local sources.
 * Includes the layer before it (docs/design.md), never one after it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "../contract/contract.h"

G_BEGIN_DECLS

/* reference.c */
typedef struct {
  char *domain, *path, *tag, *digest;
} ScReference;
gboolean sc_reference_parse(const char *input, ScReference *out, GError **error);
void sc_reference_clear(ScReference *ref);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ScReference, sc_reference_clear)
char *sc_reference_to_string(const ScReference *ref);
char *sc_reference_normalize(const char *input, GError **error);
char *sc_reference_normalize_local(const char *name, GError **error);
/* The name a pull of @input stores the image as: normalized, and for
 * NAME:TAG@DIGEST, NAME:TAG (as podman: the tag is kept, the digest is
 * what was pulled and checked, the image's ID). */
char *sc_reference_store_name(const char *input, GError **error);
/* Whether @input names no registry: its first component (before a '/')
 * has no '.', no ':' and is not "localhost" ("demo:1", "library/x"). */
gboolean sc_reference_is_short(const char *input);
char *sc_ref_encode(const char *name);
char *sc_ref_decode(const char *encoded);

/* registry.c: the limits every remote read keeps (docs/security.md,
 * "Limits"): SC_REGISTRY_TIMEOUT, SC_REGISTRY_MIN_RATE,
 * SC_REGISTRY_RATE_WINDOW, each a positive whole number, else the default. */
typedef struct {
  guint timeout;     /* s */
  guint64 min_rate;  /* bytes/s */
  guint rate_window; /* s */
} ScNetLimits;
void sc_net_limits_from_env(ScNetLimits *out);
/* A positive whole number up to @max from the environment, else @fallback. */
guint64 sc_env_limit(const char *name, guint64 fallback, guint64 max);

/* regconf.c */
typedef struct {
  char *location;
  gboolean insecure;
  char *pull_from; /* all, digest-only, tag-only; NULL: all */
  int line;        /* where it was defined */
} ScMirror;
typedef struct {
  char *prefix, *location;
  gboolean insecure, blocked, mirror_by_digest_only;
  GPtrArray *mirrors; /* of ScMirror */
  int line;           /* where it was defined */
} ScRegistryEntry;
typedef struct {
  GPtrArray *search;     /* unqualified-search-registries */
  gboolean search_set;   /* a file set it (a later one replaces it then) */
  char *short_name_mode; /* enforcing, permissive, disabled; NULL: unset (permissive) */
  GPtrArray *registries; /* of ScRegistryEntry, in file order */
  GHashTable *aliases;   /* short name -> reference */
  GPtrArray *files;      /* the files read, in order */
} ScRegConf;
ScRegConf *sc_regconf_new(void);
void sc_regconf_free(ScRegConf *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScRegConf, sc_regconf_free)
/* A main file (version 1 or 2), over what @c holds. */
gboolean sc_regconf_parse(ScRegConf *c, const char *file, const char *text, GError **error);
/* A registries.conf.d drop-in (version 2 only), over what @c holds. */
gboolean sc_regconf_parse_dropin(ScRegConf *c, const char *file, const char *text,
                                 GError **error);
ScRegConf *sc_regconf_load(const char *explicit_file, GError **error);
/* @main (may be NULL), then the *.conf drop-ins of each of @dropin_dirs
 * in lexical order. */
ScRegConf *sc_regconf_load_files(const char *main, const char *const *dropin_dirs,
                                 GError **error);
ScRegistryEntry *sc_regconf_find(ScRegConf *c, const char *domain, const char *path);
/* The length of @full ("host[:port]/path") that @prefix matches, or -1. */
gssize sc_regconf_match(const char *prefix, const char *full);

/* auth.c */
GPtrArray *sc_auth_files(const char *explicit_file);
/* One auth file's text; @keys most specific first, NULL-terminated. */
gboolean sc_auth_lookup_text(const char *path, const char *text, gsize len, char **keys,
                             gboolean *out_found, char **out_user, char **out_pass,
                             GError **error);
/* Credentials for domain/path from the auth files; none: both NULL. */
gboolean sc_auth_lookup(const char *authfile, const char *domain, const char *path,
                        char **out_user, char **out_pass, GError **error);

/* registry.c */
typedef struct ScRegistry ScRegistry;
void sc_registry_set_log(ScRegistry *reg, sc_context *ctx);
ScRegistry *sc_registry_new(const char *domain, const char *username, const char *password,
                            gboolean tls_verify, const char *cert_dir, int max_conns,
                            GError **error);
void sc_registry_free(ScRegistry *reg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScRegistry, sc_registry_free)
gboolean sc_registry_ping(ScRegistry *reg, GError **error);
char *sc_registry_head_manifest(ScRegistry *reg, const char *repo, const char *reference,
                                GError **error);
GBytes *sc_registry_get_manifest(ScRegistry *reg, const char *repo, const char *reference,
                                 char **out_media_type, GError **error);
GInputStream *sc_registry_open_blob(ScRegistry *reg, const char *repo, const char *digest,
                                    guint64 size, GError **error);
gboolean sc_parse_www_authenticate(const char *header, char **out_scheme,
                                   GHashTable **out_params);

/* ---- signatures (signature.c) ---- */
/* The policy's requirements (policy.c produces them; docs/trust.md). */
typedef enum { SC_REQ_INSECURE_ACCEPT, SC_REQ_REJECT, SC_REQ_SIGNED_BY, SC_REQ_SIGSTORE_SIGNED } ScReqType;
typedef enum { SC_ID_MATCH_REPO_DIGEST_OR_EXACT, SC_ID_MATCH_REPOSITORY, SC_ID_MATCH_EXACT, SC_ID_EXACT_REFERENCE, SC_ID_EXACT_REPOSITORY, SC_ID_REMAP_IDENTITY } ScIdentityType;
typedef struct { ScIdentityType type; char *reference; char *repository; char *prefix; char *signed_prefix; } ScSignedIdentity;
typedef struct { ScReqType type; GPtrArray *keys; /* GBytes, each key file's bytes or decoded keyData */ ScSignedIdentity identity; char *scope; /* the scope that applied, for messages */ } ScPolicyRequirement;

/* Each signature body (a lookaside file, an attachment's payload) is at
 * most SC_SIG_MAX_BODY bytes, and at most SC_SIG_MAX_COUNT signatures of
 * one image are read: more is refused, not cut short. */
#define SC_SIG_MAX_BODY (4 * 1024 * 1024)
#define SC_SIG_MAX_COUNT 64
/* Where the signatures of one image come from (registries.d). */
typedef struct {
  char *lookaside;                   /* http://, https:// or file:// base; NULL: none */
  gboolean use_sigstore_attachments; /* the sha256-<hex>.sig tag in @repo */
  ScRegistry *registry;              /* borrowed: for attachments */
  char *repo;                        /* the repository path in it: "library/busybox" */
  gboolean tls_verify;               /* for an https lookaside */
} ScSignatureSources;
void sc_signature_sources_clear(ScSignatureSources *src);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ScSignatureSources, sc_signature_sources_clear)
typedef enum { SC_SIG_SIMPLE, SC_SIG_SIGSTORE } ScSigFormat;
typedef struct {
  ScSigFormat format;
  GBytes *data;    /* simple: the OpenPGP message; sigstore: the payload */
  char *sigstore;  /* sigstore: the base64 signature annotation (NULL: absent) */
  char *origin;    /* where it came from, for messages */
} ScSignature;
void sc_signature_free(ScSignature *sig);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScSignature, sc_signature_free)
/* The signatures of @manifest_digest ("sha256:<hex>") in @src of @format,
 * in order (lookaside signature-1.., then the attachment's layers). */
GPtrArray *sc_signature_fetch(ScSignatureSources *src, const char *manifest_digest,
                              ScSigFormat format, GError **error);
/* A simple-signing payload, checked as containers/image does (the exact
 * fields, their types, no duplicates): @sigstore selects the type
 * ("cosign container image signature" or "atomic container signature"). */
gboolean sc_signature_payload_parse(const char *label, GBytes *payload, gboolean sigstore,
                                    char **out_digest, char **out_reference, GError **error);
/* Whether @signed_ref satisfies @id for the image pulled as @intended
 * (containers/image's signedIdentity rules); FALSE with the reason. */
gboolean sc_signature_identity_match(const ScSignedIdentity *id, const char *intended,
                                     const char *signed_ref, GError **error);
/* An OpenPGP signature verified against @keys only (a temporary keyring);
 * the signed payload and the signer's fingerprint. */
GBytes *sc_signature_verify_gpg(GPtrArray *keys, GBytes *sig, char **out_signer,
                                GError **error);
/* An ECDSA P-256/SHA-256 signature (base64) of @payload by one of @keys
 * (PEM public keys); the signer: the key's SHA-256 key ID. */
gboolean sc_signature_verify_sigstore(GPtrArray *keys, GBytes *payload, const char *b64,
                                      char **out_signer, GError **error);
/* TRUE when one signature of the image satisfies @req; else an error that
 * names the image, @req->scope and the reason. */
gboolean sc_signature_check(const ScPolicyRequirement *req, const char *reference,
                            GBytes *manifest, const char *manifest_digest,
                            ScSignatureSources *src, char **out_signer, GError **error);
/* sc_signature_check(), and the signature that satisfied @req (taken
 * from the fetched ones) in *@out_sig (may be NULL). */
gboolean sc_signature_check_keep(const ScPolicyRequirement *req, const char *reference,
                                 GBytes *manifest, const char *manifest_digest,
                                 ScSignatureSources *src, char **out_signer, ScSignature **out_sig,
                                 GError **error);
/* @req checked against signatures already at hand (@sigs, ScSignature;
 * those of the other format are skipped; NULL for insecureAcceptAnything
 * and reject), offline: *@out_index the one that satisfied it; @none the
 * reason shown when there is no candidate. Refusals are SC_ESIGNATURE. */
gboolean sc_signature_check_sigs(const ScPolicyRequirement *req, const char *reference,
                                 const char *manifest_digest, GPtrArray *sigs, const char *none,
                                 guint *out_index, char **out_signer, GError **error);
/* An absolute http(s) URL read whole through @reg's session (its TLS
 * settings and deadlines), without credentials: at most @cap bytes; a 404
 * is SC_ENOTFOUND (registry.c). */
GBytes *sc_registry_get_url(ScRegistry *reg, const char *url, gsize cap, GError **error);
/* ---- end of signatures ---- */

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
  sc_context *log; /* NULL, or where each HTTP request is logged (debug) */
} ScSourceOptions;
gboolean sc_image_source_is_local(const char *spec);
/* docker:NAME[:TAG] -> "NAME:TAG" (":latest" added), without asking the
 * daemon; NULL for any other source */
char *sc_image_source_daemon_name(const char *spec);
/* TRUE: the blobs come from one stream, in the manifest's order: one
 * reader at a time (docker:) */
gboolean sc_image_source_sequential(ScImageSource *src);
ScImageSource *sc_image_source_open(const char *spec, const ScSourceOptions *opts,
                                    GError **error);
void sc_image_source_free(ScImageSource *src);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScImageSource, sc_image_source_free)
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
/* The transport the image comes from, as skopeo names it: "docker" (a
 * registry: the only one an image can be updated from), "oci",
 * "oci-archive", "docker-archive". */
const char *sc_image_source_transport(ScImageSource *src);
/* What the signature policy looks the image up by: docker: the reference
 * as named (with its tag or digest); oci: the layout's path, links
 * resolved, ":TAG" after it when one was named; oci-archive: the file's
 * path; "" for the others (which have only the default scope). */
char *sc_image_source_policy_identity(ScImageSource *src);
/* The registry the image comes from and its repository there (NULL for a
 * local source). */
ScRegistry *sc_image_source_registry(ScImageSource *src, const char **out_repository);
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
/* A walk over the headers of a tar read through @read (a file by offset,
 * or a stream read forward: each offset asked is past the one before).
 * sc_tar_walk_next gives the next member (its name NULL at the end); the
 * reader is then at the start of its data, which the next step skips. */
typedef gboolean (*ScTarReadFn)(gpointer data, void *buf, gsize len, guint64 offset);
typedef struct ScTarWalk ScTarWalk;
ScTarWalk *sc_tar_walk_new(ScTarReadFn read,
                           gpointer read_data,
                           guint64 archive_size,
                           const char *archive);
gboolean sc_tar_walk_next(ScTarWalk *w,
                          const char **out_name,
                          const ScTarMember **out_member,
                          GError **error);
const ScTarIndex *sc_tar_walk_index(const ScTarWalk *w);
void sc_tar_walk_free(ScTarWalk *w);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScTarWalk, sc_tar_walk_free)
/* The regular file @name; anything else is refused with a message naming
 * the member. @follow_links: a symbolic link member is followed inside the
 * archive (docker save writes repeated layers as links). */
const ScTarMember *sc_tar_index_lookup(const ScTarIndex *index,
                                       const char *name,
                                       gboolean follow_links,
                                       GError **error);

/* daemon.c: docker:NAME[:TAG], the `docker save` tar of a Docker Engine
 * API daemon ($DOCKER_HOST, unix:// only, or /var/run/docker.sock), read
 * as a stream: the JSON members are kept from a first pass, the layers
 * are streamed from a second (see daemon.c). */
typedef struct ScDaemon ScDaemon;
ScDaemon *sc_daemon_open(const char *name, GError **error);
void sc_daemon_free(ScDaemon *d);
/* "docker daemon unix://PATH" */
const char *sc_daemon_where(ScDaemon *d);
/* a JSON member (manifest.json, a config), links followed */
GBytes *sc_daemon_read(ScDaemon *d, const char *name, GError **error);
const ScTarMember *sc_daemon_member(ScDaemon *d, const char *name, GError **error);
/* a member's data; a layer is streamed, one at a time */
GInputStream *sc_daemon_open_member(ScDaemon *d,
                                    const char *name,
                                    guint64 *out_size,
                                    GError **error);

/* ---- policy: containers-policy.json(5) (policy.c) and registries.d
 * (registriesd.c): which images are accepted, and where their signatures
 * are. The cryptography is in signature.c. ---- */
/* (ScReqType ... ScPolicyRequirement: in the signatures block above) */
typedef struct ScPolicy ScPolicy;
/* A policy file's largest size, and a key file's. */
#define SC_POLICY_MAX (4 * 1024 * 1024)
#define SC_POLICY_KEY_MAX (1024 * 1024)
/* all key files of one policy together: keyPaths may name one file many
 * times, and each is held in memory */
#define SC_POLICY_KEYS_MAX (16 * 1024 * 1024)
/* Parses @text (@len bytes) read from @file (named in errors, with
 * line:column for a syntax error, the JSON path for the rest). Key files
 * (keyPath, keyPaths) are read when @key_root_fd >= 0: through the
 * confined access in that root (-1: not read, as for the fuzzer; AT_FDCWD:
 * this machine). */
ScPolicy *sc_policy_parse(const char *file, const char *text, gsize len, int key_root_fd,
                          GError **error);
/* The policy as containers/image finds it: @explicit_file, else
 * $SC_SIGNATURE_POLICY, else $HOME/.config/containers/policy.json when it
 * exists, else SYSROOT/etc/containers/policy.json (@sysroot NULL or "/":
 * this machine's). A missing file is SC_ENOTFOUND naming it. */
ScPolicy *sc_policy_load(const char *explicit_file, const char *sysroot, GError **error);
/* Where sc_policy_load() reads: the path (shown in messages); when
 * *@out_rel is set, the file is that path in @sysroot (confined): the
 * default SC_POLICY_IN_ROOT, or an explicit file, which is a path of the
 * system operated on (under a sysroot, inside it). $SC_SIGNATURE_POLICY
 * and the home's file are this machine's (*@out_rel NULL). */
#define SC_POLICY_IN_ROOT "etc/containers/policy.json"
char *sc_policy_location(const char *explicit_file, const char *sysroot, char **out_rel);
/* A registry scope `trust set` writes: a host[:port], namespace,
 * repository or reference in its fully expanded form, or *.domain. */
gboolean sc_policy_docker_scope_ok(const char *scope);
/* The file the policy was read from (a path on this machine, or as seen
 * from the sysroot). */
const char *sc_policy_file(const ScPolicy *p);
/* The file's text, as it was parsed (a new reference). */
GBytes *sc_policy_text(const ScPolicy *p);
void sc_policy_free(ScPolicy *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScPolicy, sc_policy_free)
/* The requirements (all must hold) for an image of @transport ("docker",
 * "oci", "oci-archive", "docker-archive", "docker-daemon") named
 * @reference_or_path (docker: a full reference with a tag or a digest;
 * oci*: the absolute path of the layout or archive, symbolic links
 * resolved; the others: ignored): the most specific
 * scope's, then the transport's "", then "default". The array and
 * *@out_scope (e.g. `transports.docker["quay.io/x"]`) are borrowed from @p;
 * the array is freed by the caller (g_ptr_array_unref), its elements not. */
GPtrArray *sc_policy_requirements_for(ScPolicy *p, const char *transport,
                                      const char *reference_or_path, const char **out_scope);
/* The scopes looked up for a docker reference, most specific first
 * (without "" and default); NULL when @reference does not parse. */
GPtrArray *sc_policy_docker_scopes(const char *reference);

/* registriesd.c: registries.d (containers-registries.d(5)) */
typedef struct ScRegistriesD ScRegistriesD;
#define SC_REGISTRIESD_MAX (1024 * 1024)
#define SC_REGISTRIESD_MAX_FILES 1000
ScRegistriesD *sc_registriesd_new(void);
void sc_registriesd_free(ScRegistriesD *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScRegistriesD, sc_registriesd_free)
/* One YAML file's entries added to @r; a scope already defined by another
 * file is an error naming both. */
gboolean sc_registriesd_parse(ScRegistriesD *r, const char *file, const char *text, gsize len,
                              GError **error);
/* @explicit_dir, else $HOME/.config/containers/registries.d when it
 * exists, else SYSROOT/etc/containers/registries.d: its *.yaml files. A
 * missing directory is no error (no lookaside). */
ScRegistriesD *sc_registriesd_load(const char *explicit_dir, const char *sysroot, GError **error);
/* For @reference (a full docker reference): the lookaside base URL
 * (borrowed, NULL: none) and use-sigstore-attachments, from the most
 * specific `docker:` scope that has them, else `default-docker`. */
/* The file that defines @scope (NULL: default-docker), or NULL. */
const char *sc_registriesd_scope_file(ScRegistriesD *r, const char *scope);
void sc_registriesd_lookup(ScRegistriesD *r, const char *reference, const char **out_lookaside,
                           gboolean *out_use_sigstore_attachments);
/* The lookaside containers/image reads when registries.d names none:
 * file:///var/lib/containers/sigstore for root, else
 * file://$HOME/.local/share/containers/sigstore (a host path, as every
 * file:// lookaside). */
char *sc_registriesd_builtin_lookaside(void);

G_END_DECLS
