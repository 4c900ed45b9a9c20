/*
 * libsyscontainer: the context that every operation runs in.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef SYSCONTAINER_SC_CONTEXT_H
#define SYSCONTAINER_SC_CONTEXT_H

#include <stdint.h>

#include <syscontainer/sc-common.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * sc_context: where operations act (the system root, the checkout root,
 * the OSTree repository), which OCI runtime they use, and where the
 * library's log lines go. Not thread-safe: use one context per thread.
 *
 * Since: 0.1
 */
typedef struct sc_context sc_context;

/** Log levels passed to an sc_log_func (the syslog numbering). */
typedef enum sc_log_level {
  SC_LOG_ERROR = 3,
  SC_LOG_WARNING = 4,
  SC_LOG_INFO = 6,
  SC_LOG_DEBUG = 7
} sc_log_level;

/**
 * sc_log_func: receives one log line (no trailing newline). @message is
 * borrowed for the duration of the call. The library never prints.
 */
typedef void (*sc_log_func)(int level, const char *message, void *user_data);

/**
 * sc_context_new: creates a context with the defaults: system root "/",
 * checkout root from $ATOMIC_OSTREE_CHECKOUT_PATH, atomic.conf's
 * checkout_path or "/var/lib/containers/atomic"; repository from
 * $ATOMIC_OSTREE_REPO, atomic.conf's ostree_repository or chosen by the
 * store; runtime from atomic.conf's runtime, $RUNC_PATH or "runc" looked up
 * on PATH. What the caller sets (sc_context_set_*()) comes first.
 *
 * atomic.conf is $ATOMIC_CONF if set, else /etc/atomic.conf inside the
 * system root; it is read once, when a setting is first needed (or at
 * sc_context_load_config()), and again after sc_context_set_sysroot(). The
 * environment is read here.
 *
 * @out_ctx: receives the new context, owned by the caller
 *           (sc_context_free()).
 * Returns: SC_OK, or SC_EINVAL if @out_ctx is NULL.
 * Since: 0.1
 */
SC_API int sc_context_new(sc_context **out_ctx, sc_error **error);

/** sc_context_free: frees @ctx. Accepts NULL. Since: 0.1 */
SC_API void sc_context_free(sc_context *ctx);

/**
 * sc_context_set_sysroot: operate on an image root instead of "/": every
 * host path (units, tmpfiles, checkouts, bind-mount sources) is taken
 * under @path. @path must be an existing directory; NULL means "/".
 * Returns: SC_OK, SC_EINVAL (relative path), SC_ENOTFOUND (missing).
 * Since: 0.1
 */
SC_API int sc_context_set_sysroot(sc_context *ctx, const char *path, sc_error **error);

/**
 * sc_user_mode: system containers (root's: /var/lib/containers/atomic,
 * /etc/systemd/system) or user containers (the caller's own: the store in
 * $XDG_DATA_HOME/containers/atomic/repo in OSTree bare-user mode, the
 * checkouts in $XDG_DATA_HOME/containers/atomic, the units in
 * $XDG_CONFIG_HOME/systemd/user driven by `systemctl --user`, the runtime
 * rootless in a user namespace). AUTO: user containers when the caller
 * is not root and has not set a sysroot, checkout root or repository
 * (those name the system's places).
 *
 * Since: 0.2
 */
typedef enum sc_user_mode {
  SC_USER_MODE_AUTO = 0,
  SC_USER_MODE_SYSTEM = 1,
  SC_USER_MODE_USER = 2
} sc_user_mode;

/**
 * sc_context_set_user_mode: system or user containers (sc_user_mode).
 * SYSTEM is root's only ("Only root can use --system"), USER is refused to
 * root ("--user does not work for privileged user"), as atomic; every
 * operation of the context then fails with the same error. In user mode
 * atomic.conf's checkout_path, ostree_repository and runtime are not used
 * (they are root's), $ATOMIC_OSTREE_CHECKOUT_PATH and $ATOMIC_OSTREE_REPO
 * still are, but a store or checkout root that belongs to another uid is
 * refused, --sysroot is refused, and $XDG_RUNTIME_DIR must be set.
 * Returns: SC_OK, SC_EPERM (the refusals above) or SC_EINVAL.
 * Since: 0.2
 */
SC_API int sc_context_set_user_mode(sc_context *ctx, sc_user_mode mode, sc_error **error);

/**
 * sc_context_get_user_mode: 1 when the context acts for a user's own
 * containers (asked for, or the caller is not root), else 0.
 * Since: 0.2
 */
SC_API int sc_context_get_user_mode(const sc_context *ctx);

/**
 * sc_context_set_checkout_root: the directory that holds deployments, as
 * seen from the (sys)root, e.g. "/var/lib/containers/atomic". Must be
 * absolute. NULL restores the default (environment, atomic.conf, built-in).
 * Returns: SC_OK or SC_EINVAL.
 * Since: 0.1
 */
SC_API int sc_context_set_checkout_root(sc_context *ctx, const char *path, sc_error **error);

/**
 * sc_context_set_repo: the OSTree repository path (absolute). NULL
 * restores the default location rules.
 * Returns: SC_OK or SC_EINVAL.
 * Since: 0.1
 */
SC_API int sc_context_set_repo(sc_context *ctx, const char *path, sc_error **error);

/**
 * sc_context_set_runtime: the OCI runtime: an absolute path, or a command
 * name looked up on PATH. It comes before the runtime an update finds
 * recorded for the container. NULL restores the default (atomic.conf,
 * $RUNC_PATH, "runc").
 * Returns: SC_OK or SC_EINVAL (empty, or contains whitespace or quotes,
 * which cannot be written into a unit's ExecStart=).
 * Since: 0.1
 */
SC_API int sc_context_set_runtime(sc_context *ctx, const char *runtime, sc_error **error);

/**
 * sc_context_set_tool_path: the value of the $ATOMIC template variable,
 * for images whose units call back into the tool. Absolute; NULL restores
 * the default (the installed syscontainerctl).
 * Returns: SC_OK or SC_EINVAL.
 * Since: 0.1
 */
SC_API int sc_context_set_tool_path(sc_context *ctx, const char *path, sc_error **error);

/**
 * sc_context_set_signature_policy: the containers-policy.json(5) file that
 * decides which images a pull accepts (docs/trust.md). NULL restores the
 * default: $SC_SIGNATURE_POLICY, else $HOME/.config/containers/policy.json
 * when it exists, else /etc/containers/policy.json in the system root. A
 * pull without a policy file is refused. Under a sysroot, @path is a path
 * in it (as the default and the checkout root are); the trust functions
 * refuse to write a policy outside the sysroot.
 * Returns: SC_OK or SC_EINVAL (empty).
 * Since: 0.1
 */
SC_API int sc_context_set_signature_policy(sc_context *ctx, const char *path, sc_error **error);

/**
 * sc_context_set_registries_d: the registries.d directory
 * (containers-registries.d(5)) that says where signatures are. NULL
 * restores the default: $HOME/.config/containers/registries.d when it
 * exists, else /etc/containers/registries.d in the system root. Under a
 * sysroot, @path is a path in it.
 * Returns: SC_OK or SC_EINVAL (empty).
 * Since: 0.1
 */
SC_API int sc_context_set_registries_d(sc_context *ctx, const char *path, sc_error **error);

/**
 * sc_context_set_log_func: where log lines go. NULL discards them.
 * Since: 0.1
 */
SC_API void sc_context_set_log_func(sc_context *ctx, sc_log_func func, void *user_data);

/**
 * sc_context_load_config: reads atomic.conf now (if it was not read for
 * the current system root). A missing /etc/atomic.conf is no error; one
 * that cannot be read or parsed is, and every operation that needs the
 * checkout root, the repository or the runtime then fails with the same
 * error ("FILE line N: reason").
 * Returns: SC_OK; SC_EINVAL (malformed: YAML syntax, a value of the wrong
 * type or form, not a regular file, too large), SC_ENOTFOUND ($ATOMIC_CONF
 * names a file that does not exist), SC_EIO (unreadable).
 * Since: 0.1
 */
SC_API int sc_context_load_config(sc_context *ctx, sc_error **error);

/**
 * sc_context_get_config_file: the atomic.conf that was read (a path on
 * this machine: $ATOMIC_CONF, or SYSROOT/etc/atomic.conf), reading it first
 * if needed; NULL when there is none or it could not be read. Borrowed,
 * valid until the system root changes.
 * Since: 0.1
 */
SC_API const char *sc_context_get_config_file(sc_context *ctx);

/**
 * sc_context_get_runtime: the runtime in effect, as configured (a command
 * name or a path; sc_context_find_runtime() resolves it). Borrowed.
 * Since: 0.1
 */
SC_API const char *sc_context_get_runtime(sc_context *ctx);

/** sc_context_get_sysroot: borrowed; "/" by default. Since: 0.1 */
SC_API const char *sc_context_get_sysroot(const sc_context *ctx);

/**
 * sc_context_get_checkout_root: borrowed, as seen from the sysroot (reads
 * atomic.conf first if needed). Since: 0.1
 */
SC_API const char *sc_context_get_checkout_root(const sc_context *ctx);

/**
 * sc_context_get_repo: borrowed; NULL when no repository was set by the
 * caller, $ATOMIC_OSTREE_REPO or atomic.conf's ostree_repository (the store
 * then applies its location rules). Since: 0.1
 */
SC_API const char *sc_context_get_repo(const sc_context *ctx);

/** sc_context_get_tool_path: borrowed. Since: 0.1 */
SC_API const char *sc_context_get_tool_path(const sc_context *ctx);

/**
 * sc_context_find_runtime: resolves the runtime to an absolute path of an
 * executable file.
 * @out_path: receives the path, owned by the caller (sc_free()).
 * Returns: SC_OK, or SC_ERUNTIME when it is not found or not executable.
 * Since: 0.1
 */
SC_API int sc_context_find_runtime(sc_context *ctx, char **out_path, sc_error **error);

/**
 * sc_context_probe_runtime: runs the runtime's --help screens once (the
 * result is cached per runtime path) and reports whether `run` supports
 * --pid-file (detached mode) and whether the runtime supports
 * --systemd-cgroup (reported only: units run the runtime with its cgroupfs
 * driver, the container inside the unit's cgroup). Either out-parameter may
 * be NULL.
 * Returns: SC_OK, or SC_ERUNTIME when the runtime cannot be run.
 * Since: 0.1
 */
SC_API int sc_context_probe_runtime(sc_context *ctx,
                                    int *out_has_pid_file,
                                    int *out_has_systemd_cgroup,
                                    sc_error **error);

/**
 * sc_context_info_json: what the context's commands would use, found as
 * they would find it, without making anything:
 * {"schema":1, "sysroot", "atomic-conf":{"file" (or null), "error"?},
 *  "checkout-root" (as seen from the sysroot), "store":{"path","chosen",
 *  "passed-over"} (as sc_images_list_json() reports it),
 *  "runtime":{"configured","path" (or null),"error"?},
 *  "registries-conf":{"files":[...],"error"?},
 *  "selinux":{"policy" (the type, or null: nothing is labelled),"error"?},
 *  "mode":"system"|"user" (sc_context_set_user_mode()), "unit-dir"}.
 * An atomic.conf, runtime, registries.conf or SELinux policy that cannot
 * be used is reported in its place, not an error.
 * @out_json: owned by the caller (sc_free()).
 * Returns: SC_OK.
 * Since: 0.1
 */
SC_API int sc_context_info_json(sc_context *ctx, char **out_json, sc_error **error);

/**
 * sc_capabilities_all: the value of ALL_PROCESS_CAPABILITIES for the
 * running kernel: every capability up to /proc/sys/kernel/cap_last_cap,
 * each double-quoted, joined by ",\n", with a trailing newline, ready to
 * sit inside a JSON array. Capabilities newer than the library's name table
 * are left out.
 * @out_text: owned by the caller (sc_free()).
 * Returns: SC_OK or SC_EIO.
 * Since: 0.1
 */
SC_API int sc_capabilities_all(char **out_text, sc_error **error);

/**
 * sc_context_set_layer_limits: refuse a layer that inflates to more than
 * @max_bytes of tar, whose regular files add up to more than @max_bytes
 * (each at its full size, the holes of a sparse file included), or that
 * holds more than @max_entries entries (decompression, sparse-file and
 * entry-count bombs). 0 keeps the current limit. Defaults: 64 GiB and
 * 4,000,000 entries, or $SC_MAX_LAYER_BYTES and $SC_MAX_LAYER_ENTRIES.
 * Since: 0.1
 */
SC_API int sc_context_set_layer_limits(sc_context *ctx, uint64_t max_bytes, uint64_t max_entries,
                                       sc_error **error);

/**
 * sc_context_set_render_limit: refuse to render a file (config.json, the
 * unit, tmpfiles) larger than @max_bytes: values substituted many times
 * cannot make the renderer allocate without bound. The error (SC_ETEMPLATE)
 * names the template and the variable being substituted. 0 keeps the
 * current limit. Default: 4 MiB, or $SC_MAX_RENDERED_BYTES (which also caps
 * sc_template_render()).
 * Since: 0.1
 */
SC_API int sc_context_set_render_limit(sc_context *ctx, uint64_t max_bytes, sc_error **error);

/**
 * sc_context_set_layer_path_limits: refuse a layer entry whose path has
 * more than @max_depth components, or whose path (or link target) is longer
 * than @max_path_bytes bytes; the error names the layer and the start of the
 * path. 0 keeps the current limit. Defaults: 256 components and 4095 bytes,
 * or $SC_MAX_PATH_DEPTH and $SC_MAX_PATH_BYTES. A symlink target is at most
 * 4095 bytes whatever the limit (what Linux can store).
 * Returns: SC_OK, or SC_EINVAL when @ctx is NULL.
 * Since: 0.1
 */
SC_API int sc_context_set_layer_path_limits(sc_context *ctx,
                                            uint32_t max_depth,
                                            uint32_t max_path_bytes,
                                            sc_error **error);

/**
 * sc_context_get_selinux_policy: the SELinux policy the context labels
 * files with: the SELINUXTYPE of the target root (the sysroot, else "/")
 * when its etc/selinux/config says SELINUX=enforcing or permissive, NULL
 * when the root has no policy (no config, or SELINUX=disabled). Read once
 * per context (and again after sc_context_set_sysroot()).
 * @out_type: receives the type, borrowed from @ctx.
 * Returns: SC_OK; SC_EINVAL when the config is malformed or its
 * file_contexts is not a valid one, SC_ENOTFOUND when that file is missing,
 * SC_EIO when a file cannot be read (the message names the file).
 * Since: 0.1
 */
SC_API int sc_context_get_selinux_policy(sc_context *ctx, const char **out_type,
                                         sc_error **error);

/**
 * sc_name_validate: checks a container name: [A-Za-z0-9][A-Za-z0-9_.@-]*,
 * at most 200 bytes (a valid systemd unit name prefix that cannot walk out
 * of the checkout root).
 * Returns: SC_OK or SC_EINVAL with the reason.
 * Since: 0.1
 */
SC_API int sc_name_validate(const char *name, sc_error **error);

#ifdef __cplusplus
}
#endif

#endif
