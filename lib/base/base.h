/*
 * The base layer: errors, file access confined to a root, digests, the context.
 * Every layer includes the one before it (docs/design.md); nothing here
 * knows a layer above.
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

/* In the public entry points that act on the checkout root, the store or
 * the runtime: an atomic.conf that cannot be read stops them (after
 * SC_CHECK_ARG(ctx != NULL...)). */
#define SC_CHECK_CONFIG(ctx, error)                                                                \
  do {                                                                                             \
    GError *conf_gerror_ = NULL;                                                                   \
    if (G_UNLIKELY(!sc_context_config_check((ctx), &conf_gerror_)))                                \
      return sc_error_propagate((error), conf_gerror_);                                            \
  } while (0)

G_BEGIN_DECLS

/* io.c */
gboolean sc_write_file_nolinks(const char *path, const char *text, GError **error);
gboolean sc_write_file_atomic(int dirfd,
                              const char *dirpath,
                              const char *name,
                              const char *data,
                              gsize length,
                              mode_t mode,
                              GError **error);
/* The same with @label (NULL: none) set as the SELinux label of the
 * temporary file, before it takes @name. */
gboolean sc_write_file_atomic_labelled(int dirfd,
                                       const char *dirpath,
                                       const char *name,
                                       const char *data,
                                       gsize length,
                                       mode_t mode,
                                       const char *label,
                                       GError **error);
gboolean sc_write_file_nolinks_labelled(const char *path, const char *text, const char *label,
                                        GError **error);
gboolean sc_write_file_nolinks_mode(const char *path, const char *text, mode_t mode,
                                    const char *label, GError **error);
GBytes *sc_read_file_nofollow(int dirfd,
                              const char *dirpath,
                              const char *name,
                              gboolean *out_exists,
                              GError **error);
/* The same with a size limit of the caller's (the above: 4 MiB, an image's
 * contract files). */
GBytes *sc_read_file_nofollow_max(int dirfd,
                                  const char *dirpath,
                                  const char *name,
                                  gsize max,
                                  gboolean *out_exists,
                                  GError **error);
/* The content of @fd, which must be a regular file of at most @max bytes
 * (else the error code @refusal), with a NUL after it; @shown names it in
 * errors. @fd stays open. */
GBytes *sc_read_fd_max(int fd, const char *shown, gsize max, int refusal, GError **error);
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

/* digest.c */
typedef struct ScSha256 ScSha256;
ScSha256 *sc_sha256_new(void);
void sc_sha256_update(ScSha256 *h, const void *data, gsize len);
/* Returns the lowercase hex digest and frees @h. */
char *sc_sha256_finish(ScSha256 *h);
void sc_sha256_free(ScSha256 *h);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScSha256, sc_sha256_free)
char *sc_sha256_hex(const void *data, gsize len);
/* "sha256:<64 hex>" -> the hex part (borrowed). A malformed digest is
 * SC_EINVAL (what a user typed); another algorithm SC_EUNSUPPORTED. */
gboolean sc_digest_hex(const char *digest, const char **out_hex, GError **error);
/* The same for a digest found in image content (a manifest, a config, an
 * index): malformed is SC_EDIGEST, as for content that fails its digest. */
gboolean sc_content_digest_hex(const char *digest, const char **out_hex, GError **error);

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
/* Every directory under @name (@path) is the caller's (a user's: root's
 * always are): what sc_confined_rm_rf_at() would remove whole. A refusal
 * leaves every mode as it was. */
gboolean sc_confined_check_removable_at(int dirfd,
                                        const char *name,
                                        const char *label,
                                        GError **error);
gboolean sc_check_removable(const char *path, GError **error);
/* @path is the tool's own; what is below it is removed as above. */
void sc_rm_rf(const char *path);
/* sc_rm_rf() that says why @path (or what in it) could not be removed. */
gboolean sc_rm_rf_checked(const char *path, GError **error);
/* @path (as seen from @root) on this machine, resolved in @root up to its
 * last component; for paths handed to other programs. */
char *sc_confined_host_path(const char *root, const char *path, gboolean follow_last);
/* The directory @abs_path (absolute, on this machine, from
 * sc_confined_host_path()), reached without following any link; made when
 * missing and @create. */
int sc_confined_open_nolinks(const char *abs_path, gboolean create, GError **error);

/* fcontext.c: a policy's file contexts read by libselinux's rules and
 * indexed (NULL when @dir holds what they do not cover: libselinux then
 * answers). A lookup answers FALSE for a path libselinux must answer;
 * else *@out_context is the label (borrowed), NULL for none. Thread-safe. */
typedef struct ScFcon ScFcon;
ScFcon *sc_fcon_load(const char *dir);
void sc_fcon_free(ScFcon *fc);
gboolean sc_fcon_lookup(ScFcon *fc, const char *path, mode_t mode, const char **out_context);

/* selinux.c: the target root's policy (docs/security.md, "SELinux labels") */
typedef struct ScSelinux ScSelinux;
/* The policy of @root (a directory on this machine): *@out NULL when it has
 * none (no etc/selinux/config, or SELINUX=disabled); an error names the
 * file when the config is malformed or its file_contexts missing. */
gboolean sc_selinux_load(const char *root, ScSelinux **out, GError **error);
void sc_selinux_free(ScSelinux *se);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScSelinux, sc_selinux_free)
/* Whether the running kernel has SELinux enabled (it may then store a
 * label in a form of its own); a policy on disk does not need it. */
gboolean sc_selinux_kernel_enabled(void);
/* SELINUXTYPE (borrowed), NULL for no policy. */
const char *sc_selinux_type(const ScSelinux *se);
/* The label @se gives @path (absolute, as seen from the root) of file type
 * @mode (S_IFMT bits); *@out_label NULL when @se is NULL or the policy gives
 * none. */
gboolean sc_selinux_lookup(ScSelinux *se, const char *path, mode_t mode, char **out_label,
                           GError **error);
/* security.selinux := @label (nothing when NULL); @what names the file. */
gboolean sc_selinux_set_fd(int fd, const char *label, const char *what, GError **error);
/* The same for @name in @dirfd, never followed (a link is labelled itself). */
gboolean sc_selinux_set_at(int dirfd, const char *name, const char *label, const char *what,
                           GError **error);
/* The context's policy, loaded on first use and cached (*@out borrowed). */
gboolean sc_context_selinux(sc_context *ctx, ScSelinux **out, GError **error);
/* sc_selinux_lookup() with the context's policy. */
gboolean sc_context_label_for(sc_context *ctx, const char *root_path, mode_t mode,
                              char **out_label, GError **error);
/* Labels what is at @host_path (a path from sc_context_host_path(): no
 * link in it) as the policy gives its path in the root; nothing without a
 * policy. For what the tool itself just made. */
gboolean sc_context_label_host_path(sc_context *ctx, const char *host_path, GError **error);
/* g_mkdir_with_parents(), each directory it makes labelled. */
gboolean sc_context_make_dirs(sc_context *ctx, const char *host_dir, mode_t mode,
                              GError **error);
/* sc_write_file_nolinks() with the label the policy gives @host_path. */
gboolean sc_context_write_file(sc_context *ctx, const char *host_path, const char *text,
                               GError **error);

/* context.c */
/* @host_path (on this machine, under the sysroot) as seen from the sysroot;
 * unchanged when it is not inside it. */
char *sc_context_root_path(const sc_context *ctx, const char *host_path);
void sc_context_log(sc_context *ctx, int level, const char *format, ...) G_GNUC_PRINTF(3, 4);
/* The path of @path (absolute, as seen from the sysroot) on this machine. */
char *sc_context_host_path(const sc_context *ctx, const char *path);
/* The same for a directory that paths are built in: its own last
 * component is followed too (inside the sysroot). */
char *sc_context_host_dir(const sc_context *ctx, const char *path);
/* The cap on each rendered file (sc_context_set_render_limit()). */
guint64 sc_context_render_limit(sc_context *ctx);
/* The limit on a rendered file where no context is at hand:
 * $SC_MAX_RENDERED_BYTES, else 4 MiB. */
guint64 sc_default_render_max(void);
/* A word that can stand in a unit's command line as it is (no quoting,
 * specifiers or variables): the runtime's path, a PIDFILE. */
gboolean sc_unit_word_ok(const char *word);

/* What the context bounds in a layer (docs/security.md, "Limits"). */
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
void sc_context_layer_limits(sc_context *ctx, ScLayerLimits *out_limits);
/* The store the context opened (an OstreeRepo, owned by the context). */
GObject *sc_context_get_store(sc_context *ctx);
void sc_context_set_store(sc_context *ctx, GObject *store);
void sc_context_progress(sc_context *ctx, guint64 done, guint64 total, guint layers_done,
                         guint layers_total);
gboolean sc_context_runtime_path(sc_context *ctx, const char **out_path, GError **error);
gboolean sc_context_runtime_features(sc_context *ctx,
                                     gboolean *out_pid_file,
                                     gboolean *out_systemd_cgroup,
                                     GError **error);
/* TRUE in *@out_own when the runtime resolves a relative linux.cgroupsPath
 * against its own cgroup (runc), FALSE when against the root (crun). */
gboolean sc_context_runtime_relative_cgroups(sc_context *ctx, gboolean *out_own, GError **error);
gboolean sc_name_check(const char *name, GError **error);
/* Validates @name, then stores a copy of it in *@slot (freeing the old). */
int sc_name_replace(char **slot, const char *name, sc_error **error);

/* The signature policy file and registries.d directory the caller set
 * (sc_context_set_signature_policy(), ..._registries_d()), or NULL. */
const char *sc_context_signature_policy(const sc_context *ctx);
const char *sc_context_registries_d(const sc_context *ctx);

/* atomicconf.c: /etc/atomic.conf, the keys system containers use. */
enum { SC_ATOMIC_CONF_CHECKOUT, SC_ATOMIC_CONF_REPO, SC_ATOMIC_CONF_RUNTIME, SC_ATOMIC_CONF_N_KEYS };
typedef struct {
  char *file;                         /* the path read, on this machine */
  char *value[SC_ATOMIC_CONF_N_KEYS]; /* NULL: not set */
  int line[SC_ATOMIC_CONF_N_KEYS];    /* where each was set (0: not set) */
} ScAtomicConf;
void sc_atomic_conf_free(ScAtomicConf *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScAtomicConf, sc_atomic_conf_free)
/* @text of @len bytes, from @file (named in errors with the line). */
ScAtomicConf *sc_atomic_conf_parse(const char *file, const char *text, gsize len, GError **error);
/* $ATOMIC_CONF (a path on this machine), else @sysroot's /etc/atomic.conf
 * reached through the confined file access. *@out_conf is NULL and TRUE is
 * returned when the latter does not exist. */
gboolean sc_atomic_conf_load(const char *sysroot, ScAtomicConf **out_conf, GError **error);
/* Fails with the error of an atomic.conf that could not be read (the
 * operations call it before they act on the checkout root, the store or
 * the runtime). */
gboolean sc_context_config_check(sc_context *ctx, GError **error);
/* A --sysroot the caller can read and enter ("sysroot DIR: cannot read
 * it: REASON" otherwise); "/" always. */
gboolean sc_context_sysroot_readable(const sc_context *ctx, GError **error);
/* Whether the store is a user's default one (user mode, no --repo or
 * $ATOMIC_OSTREE_REPO). */
gboolean sc_context_repo_is_user_default(const sc_context *ctx);
/* User containers (sc_context_set_user_mode()): whether the context acts
 * for a user, where their units and tmpfiles go (host paths, owned by the
 * caller), their directories (NULL in system mode). */
gboolean sc_context_is_user(const sc_context *ctx);
char *sc_context_unit_dir(const sc_context *ctx);
char *sc_context_tmpfiles_dir(const sc_context *ctx);
const char *sc_context_user_runtime_dir(const sc_context *ctx);
const char *sc_context_user_data_dir(const sc_context *ctx);
const char *sc_context_user_config_dir(const sc_context *ctx);
/* update: the runtime recorded in the container's info, used unless the
 * runtime was given (sc_context_set_runtime); NULL drops it. @owner names
 * the container in messages. */
/* Whether the caller gave the runtime (sc_context_set_runtime()). */
gboolean sc_context_runtime_given(const sc_context *ctx);
gboolean sc_context_set_recorded_runtime(sc_context *ctx, const char *runtime, const char *owner,
                                         GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(sc_values, sc_values_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_t, json_decref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sc_context, sc_context_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sc_error, sc_error_free)

G_END_DECLS
