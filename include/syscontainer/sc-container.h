/*
 * libsyscontainer: installing, listing and removing system containers.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef SYSCONTAINER_SC_CONTAINER_H
#define SYSCONTAINER_SC_CONTAINER_H

#include <syscontainer/sc-common.h>
#include <syscontainer/sc-context.h>
#include <syscontainer/sc-image.h>
#include <syscontainer/sc-values.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * sc_install_opts: options of sc_container_install().
 * Since: 0.1
 */
typedef struct sc_install_opts sc_install_opts;

/** sc_install_opts_new: @out_opts owned by the caller (sc_install_opts_free()). Since: 0.1 */
SC_API int sc_install_opts_new(sc_install_opts **out_opts, sc_error **error);

/** sc_install_opts_free: accepts NULL. Since: 0.1 */
SC_API void sc_install_opts_free(sc_install_opts *opts);

/**
 * sc_install_opts_set_name: the container name (default: the image's
 * repository name, e.g. "etcd" for quay.io/coreos/etcd:v3).
 * Returns: SC_OK or SC_EINVAL (see sc_name_validate()).
 * Since: 0.1
 */
SC_API int sc_install_opts_set_name(sc_install_opts *opts, const char *name, sc_error **error);

/** sc_install_opts_set_values: the user's --set values, copied. Since: 0.1 */
SC_API int sc_install_opts_set_values(sc_install_opts *opts, const sc_values *values,
                                      sc_error **error);

/**
 * sc_install_opts_set_rootfs: run the container from an existing root
 * (atomic's --rootfs, a "remote" rootfs) instead of checking the image
 * out: @location (absolute, as seen from the sysroot) is a deployment or
 * bundle holding rootfs/, or a root holding /usr. The image's /exports are
 * read from it; the slot gets a symlink rootfs -> it and config.json an
 * absolute root.path; uninstall leaves it alone. NULL: none (default).
 * Returns: SC_OK, SC_EINVAL (a relative path).
 * Since: 0.1
 */
SC_API int sc_install_opts_set_rootfs(sc_install_opts *opts, const char *location,
                                      sc_error **error);

/**
 * sc_install_opts_set_pull_opts: how to pull the image when the store does
 * not have it (credentials, TLS, platform...); copied by reference, so
 * @pull_opts must live as long as @opts. NULL: defaults.
 * Since: 0.1
 */
SC_API int sc_install_opts_set_pull_opts(sc_install_opts *opts, const sc_pull_opts *pull_opts,
                                         sc_error **error);

/**
 * sc_install_opts_set_enable: enable the unit (default 1).
 * Since: 0.1
 */
SC_API int sc_install_opts_set_enable(sc_install_opts *opts, int enable, sc_error **error);

/**
 * sc_install_opts_set_start: start the unit after installing it (default
 * 0; only on a running host).
 * Since: 0.1
 */
SC_API int sc_install_opts_set_start(sc_install_opts *opts, int start, sc_error **error);

/**
 * sc_install_opts_set_auto_update: whether syscontainer-auto-update.service
 * updates the container (docs/containers.md, "Automatic updates"):
 * "registry" (from its image's registry) or "disabled"; NULL (default):
 * the image's io.containers.autoupdate label decides ("registry" opts in).
 * Recorded in the container's info as "auto-update". Fails with SC_EINVAL
 * for another policy.
 * Since: 0.1
 */
SC_API int sc_install_opts_set_auto_update(sc_install_opts *opts, const char *policy,
                                           sc_error **error);

/**
 * sc_install_opts_set_dry_run: render everything and report the planned
 * actions, changing nothing outside the image store (default 0).
 * Since: 0.1
 */
SC_API int sc_install_opts_set_dry_run(sc_install_opts *opts, int dry_run, sc_error **error);

/**
 * sc_install_opts_set_strict: a value of sc_install_opts_set_values() that
 * the image declares no variable for fails the install with SC_EINVAL
 * before anything is written (sc_render_opts_set_strict()); without it,
 * each is a warning in the result's "warnings". Default 0.
 * Since: 0.2
 */
SC_API int sc_install_opts_set_strict(sc_install_opts *opts, int strict, sc_error **error);

/**
 * sc_container_install: installs a system container from @image (a name
 * in the store, or a source sc_image_pull() accepts, pulled when missing):
 * checks it out into CHECKOUT_ROOT/NAME.0, renders config.json, the unit
 * and tmpfiles, copies /exports/hostfs onto the (sys)root, writes the
 * info file, the unit (/etc/systemd/system/NAME.service) and tmpfiles
 * (/etc/tmpfiles.d/NAME.conf), points CHECKOUT_ROOT/NAME at the slot, and
 * enables the unit (on the host: daemon-reload, systemd-tmpfiles --create,
 * enable [--now]; in a sysroot: systemctl --root enable). Everything is
 * validated and rendered before the first change; a failure undoes what
 * was done. An image labelled atomic.run=once is not installed: it runs
 * once, now, with the caller's standard streams, from a scratch bundle
 * that is removed afterwards ({"run_once":true,"exit_status":N}).
 * @out_json: may be NULL; {"schema":1,"name","image","id","deployment",
 *   "files":[...],"host_files":[...],"actions":[...],"dry_run"}; a dry run
 *   adds "privileges":{"added":[{"kind","text"}...],"removed":[]}, what the
 *   container gets (since 0.2); "warnings":[...], the render's
 *   (sc_rendering_get_warnings(); since 0.2).
 * Returns: SC_OK, SC_EEXISTS (installed already, or a unit or tmpfiles
 * file of that name that is not ours), SC_EINVAL, SC_ENOTFOUND,
 * SC_ETEMPLATE, SC_ESPEC, SC_ERUNTIME, SC_EUNSUPPORTED (systemd is not
 * running and no sysroot was given), SC_EIO, and the pull's codes.
 * Since: 0.1
 */
SC_API int sc_container_install(sc_context *ctx, const char *image, const sc_install_opts *opts,
                                char **out_json, sc_error **error);

/**
 * sc_container_uninstall: stops and disables the unit, removes the unit and
 * tmpfiles files, the host files it installed that nobody modified (a
 * modified one is kept and listed), the directories it created when empty,
 * the NAME symlink and both slots. The image stays in the store. Works on
 * half-installed containers and on containers installed by atomic.
 * Idempotent: uninstalling what is not installed succeeds ("removed":
 * false) with a warning in the log.
 * @out_json: may be NULL; {"schema":1,"name","removed":bool,"kept":[...]}.
 * Since: 0.1
 */
SC_API int sc_container_uninstall(sc_context *ctx, const char *name, char **out_json,
                                  sc_error **error);

/**
 * sc_update_opts: options of sc_container_update_with_opts() and
 * sc_containers_update_all_json().
 * Since: 0.1
 */
typedef struct sc_update_opts sc_update_opts;

/** sc_update_opts_new: @out_opts owned by the caller (sc_update_opts_free()). Since: 0.1 */
SC_API int sc_update_opts_new(sc_update_opts **out_opts, sc_error **error);

/** sc_update_opts_free: accepts NULL. Since: 0.1 */
SC_API void sc_update_opts_free(sc_update_opts *opts);

/**
 * sc_update_opts_set_rebase: move to @image instead of the image the
 * container was installed from (pulled when missing; NULL: no rebase).
 * Since: 0.1
 */
SC_API int sc_update_opts_set_rebase(sc_update_opts *opts, const char *image, sc_error **error);

/** sc_update_opts_set_values: --set values that replace the user's, copied. Since: 0.1 */
SC_API int sc_update_opts_set_values(sc_update_opts *opts, const sc_values *values,
                                     sc_error **error);

/**
 * sc_update_opts_set_pull_opts: how to pull a missing image; copied by
 * reference (@pull_opts must live as long as @opts). NULL: defaults.
 * Since: 0.1
 */
SC_API int sc_update_opts_set_pull_opts(sc_update_opts *opts, const sc_pull_opts *pull_opts,
                                        sc_error **error);

/**
 * sc_update_opts_set_controlled: after restarting a running container,
 * watch its unit for @settle_ms milliseconds (0: the default, 5000); if it
 * fails, restarts or is not active then, roll back to the previous
 * deployment, restart that, and fail with SC_ERUNTIME saying so.
 * Since: 0.1
 */
SC_API int sc_update_opts_set_controlled(sc_update_opts *opts, int controlled,
                                         unsigned settle_ms, sc_error **error);

/**
 * sc_update_opts_set_accept_privileges: accept the privileges the new
 * deployment adds (docs/security.md, "Privilege review"); without it an
 * update or rebase that adds any fails with SC_EPERM before any change.
 * Since: 0.2
 */
SC_API int sc_update_opts_set_accept_privileges(sc_update_opts *opts, int accept,
                                                sc_error **error);

/**
 * sc_update_opts_set_auto_update: records @policy ("registry" or
 * "disabled", as sc_install_opts_set_auto_update()) for the container,
 * in the new deployment or, when there is nothing to update, in the
 * current one (not with a dry run). Not with sc_containers_update_all_json().
 * Since: 0.1
 */
SC_API int sc_update_opts_set_auto_update(sc_update_opts *opts, const char *policy,
                                          sc_error **error);

/**
 * sc_update_opts_set_auto: only the containers that opted in to automatic
 * updates (their info's "auto-update" policy is "registry"); the others are
 * reported {"name","updated":false,"skipped":true,"reason":"not opted in"}
 * and left as they are. What syscontainer-auto-update.service runs.
 * Since: 0.1
 */
SC_API int sc_update_opts_set_auto(sc_update_opts *opts, int auto_only, sc_error **error);

/**
 * sc_update_opts_set_strict: a user value (the install's, carried over,
 * and sc_update_opts_set_values()') that the new image declares no
 * variable for fails the update with SC_EINVAL before anything changes;
 * without it, each is a warning in the result's "warnings". Default 0.
 * Since: 0.2
 */
SC_API int sc_update_opts_set_strict(sc_update_opts *opts, int strict, sc_error **error);

/**
 * sc_update_opts_set_dry_run: change nothing (store, host, slots): the
 * result says whether it would update ("would_update") and the privilege
 * review ("privileges"); an image not in the store is not pulled.
 * Since: 0.2
 */
SC_API int sc_update_opts_set_dry_run(sc_update_opts *opts, int dry_run, sc_error **error);

/**
 * sc_container_update: moves container @name to a new deployment: the
 * image it was installed from as the store has it now (after a pull or
 * images update), or @rebase (pulled when missing); the user's values of
 * the install (plus @set, which may be NULL) carry over, every other value
 * is computed again from the new image. The other slot is emptied first and
 * filled from scratch; host files are replaced (unmodified ones), the unit
 * restarted only if it was running, and the NAME symlink switched last: on
 * failure the old deployment stays in place. Same image and same values:
 * nothing to do ("updated": false). For a controlled update, see
 * sc_container_update_with_opts().
 * @out_json: may be NULL; {"schema":1,"name","updated","id","deployment",
 *   "restarted":bool,"controlled":bool,"privileges":{"added","removed"},
 *   "warnings":[...] (since 0.2)}.
 * Before any change the new deployment's privileges are compared with the
 * current one's (docs/security.md, "Privilege review"): one added fails
 * with SC_EPERM unless sc_update_opts_set_accept_privileges().
 * Returns: SC_OK, SC_ENOTFOUND, SC_EPERM, the codes of install.
 * Since: 0.1
 */
SC_API int sc_container_update(sc_context *ctx, const char *name, const char *rebase,
                               const sc_values *set, const sc_pull_opts *pull, char **out_json,
                               sc_error **error);

/**
 * sc_container_update_with_opts: sc_container_update() with the options of
 * @opts (may be NULL: defaults): rebase image, values, pull options, and a
 * controlled update (sc_update_opts_set_controlled()), which fails with
 * SC_ERUNTIME after rolling back automatically, saying so.
 * Since: 0.1
 */
SC_API int sc_container_update_with_opts(sc_context *ctx, const char *name,
                                         const sc_update_opts *opts, char **out_json,
                                         sc_error **error);

/**
 * sc_containers_update_all_json: sc_container_update() for every installed
 * container, always controlled (a rebase is refused). One container's
 * failure does not stop the others; it is reported in its entry.
 * @out_json: {"schema":1,"containers":[{"name","updated","id"?,
 *   "deployment"?,"rolled_back"?,"error"?,"privileges"?}]}; a container
 *   refused by the privilege review has its "error".
 * Since: 0.1
 */
SC_API int sc_containers_update_all_json(sc_context *ctx, const sc_update_opts *opts,
                                         char **out_json, sc_error **error);

/**
 * sc_container_rollback: switches container @name back to its other slot:
 * its unit and tmpfiles, its host files (rendered with that deployment's
 * values, tracking rewritten), the symlink; restarts the unit if it was
 * running. Also for noContainerService containers whose previous image
 * files are still there. Repeatable (it toggles). Not reviewed for
 * privileges (the previous deployment's were accepted when it was
 * current); @out_json's "privileges" says what it adds and removes.
 * Returns: SC_OK, SC_ENOTFOUND (not installed, or no previous deployment).
 * Since: 0.1
 */
SC_API int sc_container_rollback(sc_context *ctx, const char *name, char **out_json,
                                 sc_error **error);

/**
 * sc_mount: makes @what visible read-only on @dir (absolute, an existing
 * directory on this machine), as atomic's mount did: an installed
 * container's name: its current rootfs bound read-only on @dir (root
 * only); else an image (name, ID or prefix): checked out into @dir, which
 * must be empty, and, as root, bound read-only on itself (the files are the
 * store's objects). The kind is recorded in DIRNAME/.BASENAME.info as
 * {"user.atomic.type": "ostree-container" | "ostree-image"}, atomic's
 * format, so either tool's umount undoes it.
 * @out_json: (nullable) {"schema":1,"dir","type", an image's "reference"
 * (as given), "name" (NAME:TAG) and "id", or a container's "name", "image"
 * and "id", "mounted"}.
 * Returns: SC_OK, SC_EINVAL (@dir not absolute or not a directory),
 * SC_ENOTFOUND (no such container, image or directory), SC_EEXISTS (@dir
 * not empty, or mounted already), SC_EUNSUPPORTED (a container, not root),
 * SC_EIO.
 * Since: 0.1
 */
SC_API int sc_mount(sc_context *ctx, const char *what, const char *dir, char **out_json,
                    sc_error **error);

/**
 * sc_umount: undoes sc_mount() (or atomic's mount, recorded by its
 * user.atomic.type xattr on @dir or the sidecar file): unmounts @dir, and
 * for an image removes the checkout from it; @dir itself stays.
 * @out_json: (nullable) {"schema":1,"dir","type","mounted":false}.
 * Returns: SC_OK, SC_ENOTFOUND (no record of a mount on @dir), SC_EBUSY
 * (in use), SC_EUNSUPPORTED (an unknown kind), SC_EIO.
 * Since: 0.1
 */
SC_API int sc_umount(sc_context *ctx, const char *dir, char **out_json, sc_error **error);

/**
 * sc_container_inspect_json: an installed container: {"schema":1,"name",
 * "state","deployment","info":{the info file},"config":{its config.json}}.
 * Returns: SC_OK, SC_ENOTFOUND.
 * Since: 0.1
 */
SC_API int sc_container_inspect_json(sc_context *ctx, const char *name, char **out_json,
                                     sc_error **error);

/**
 * sc_container_start: systemctl start NAME.service (a running host only).
 * Returns: SC_OK, SC_ENOTFOUND, SC_EUNSUPPORTED (no service, no systemd,
 * or a --sysroot), SC_EIO (systemctl failed).
 * Since: 0.1
 */
SC_API int sc_container_start(sc_context *ctx, const char *name, sc_error **error);

/** sc_container_stop: systemctl stop NAME.service; as sc_container_start(). Since: 0.1 */
SC_API int sc_container_stop(sc_context *ctx, const char *name, sc_error **error);

/**
 * sc_container_run: without @args (NULL or empty) on a running systemd
 * host, starts the container's unit (as atomic's run NAME). Else runs
 * @args (NULL-terminated; none: the container's own process) in container
 * @name with the caller's standard input and output: inside the running
 * container (runtime exec) when its unit is active, else once from a
 * scratch bundle over the deployment's read-only rootfs, with an ID of its
 * own (NAME-run-PID) so that it never collides with the service.
 * @out_status: the command's exit status (128+N for a signal).
 * Since: 0.1
 */
SC_API int sc_container_run(sc_context *ctx, const char *name, const char *const *args,
                            int *out_status, sc_error **error);

/**
 * sc_image_run: runs @image (a name in the store, or a source pulled when
 * missing, with @pull; may be NULL) once, now, without installing it: as
 * an atomic.run=once image is at install, from a scratch bundle that is
 * removed afterwards, as NAME "run-once-PID"; @values (may be NULL) as
 * --set; @args (NULL-terminated; NULL or empty: the image's own process)
 * with the caller's standard streams.
 * @out_status: the command's exit status (128+N for a signal).
 * Returns: SC_OK, the codes of sc_image_pull() and of rendering.
 * Since: 0.1
 */
SC_API int sc_image_run(sc_context *ctx, const char *image, const sc_values *values,
                        const sc_pull_opts *pull, const char *const *args, int *out_status,
                        sc_error **error);

/** sc_run_opts: the options of sc_image_run_with_opts(). Since: 0.2 */
typedef struct sc_run_opts sc_run_opts;

/** sc_run_opts_new: @out_opts owned by the caller (sc_run_opts_free()). Since: 0.2 */
SC_API int sc_run_opts_new(sc_run_opts **out_opts, sc_error **error);
/** sc_run_opts_free: NULL is ignored. Since: 0.2 */
SC_API void sc_run_opts_free(sc_run_opts *opts);
/** sc_run_opts_set_values: the user values (--set), copied. Since: 0.2 */
SC_API int sc_run_opts_set_values(sc_run_opts *opts, const sc_values *values, sc_error **error);
/**
 * sc_run_opts_set_pull_opts: how to pull the image when the store lacks
 * it; @pull (may be NULL) must outlive @opts. Since: 0.2
 */
SC_API int sc_run_opts_set_pull_opts(sc_run_opts *opts, const sc_pull_opts *pull,
                                     sc_error **error);
/**
 * sc_run_opts_set_strict: a user value the image declares no variable for
 * is SC_EINVAL before anything runs (sc_render_opts_set_strict()); without
 * it, each is logged at SC_LOG_WARNING (the context's log function) before
 * the command runs, in the words of the "warnings" of an install. Default
 * 0. Since: 0.2
 */
SC_API int sc_run_opts_set_strict(sc_run_opts *opts, int strict, sc_error **error);

/**
 * sc_image_run_with_opts: sc_image_run() with @opts (may be NULL: the
 * defaults). Since: 0.2
 */
SC_API int sc_image_run_with_opts(sc_context *ctx, const char *image, const sc_run_opts *opts,
                                  const char *const *args, int *out_status, sc_error **error);

/**
 * sc_containers_list_json: the installed containers:
 * {"schema":1,"containers":[{"name","image","id","deployment","runtime",
 * "created","state"}]}; state is "running", "inactive", "failed",
 * "no service" or, in a sysroot or without systemd, "installed"; a
 * container whose info file is missing is listed as "broken".
 * Since: 0.1
 */
SC_API int sc_containers_list_json(sc_context *ctx, char **out_json, sc_error **error);

#ifdef __cplusplus
}
#endif

#endif
