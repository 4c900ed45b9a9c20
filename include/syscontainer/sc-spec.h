/*
 * libsyscontainer: OCI runtime configuration (config.json) and the
 * systemd units and tmpfiles lines generated around it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef SYSCONTAINER_SC_SPEC_H
#define SYSCONTAINER_SC_SPEC_H

#include <syscontainer/sc-common.h>
#include <syscontainer/sc-context.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * sc_spec_validate: parses a rendered config.json and checks the
 * system-container contract: a JSON object; root.readonly true (the rootfs
 * shares inodes with the image store); root.path "rootfs", or
 * @remote_rootfs when that is not NULL; process.terminal false or absent;
 * process.capabilities, when present, an object (the pre-1.0 array form is
 * refused by current runtimes); mounts an array of objects with a string
 * destination.
 *
 * @label: the file name for messages (may be NULL).
 * @out_bind_sources: may be NULL; receives the sources of bind mounts
 *   (type "bind"/"rbind", or an option "bind"/"rbind") in mount order,
 *   NULL-terminated, owned by the caller (sc_strv_free()).
 * Returns: SC_OK, SC_ESPEC with the file, the key and the reason, or
 * SC_EINVAL.
 * Since: 0.1
 */
SC_API int sc_spec_validate(const char *label,
                            const char *json_text,
                            size_t length,
                            const char *remote_rootfs,
                            char ***out_bind_sources,
                            sc_error **error);

/**
 * sc_spec_default: the built-in config.json used when an image ships
 * neither config.json nor config.json.template: the runtime's usual
 * default (new pid, ipc, uts, mount and network namespaces are NOT used:
 * system containers share the host network) with a read-only "rootfs",
 * terminal false and args ["run.sh"].
 * @out_json: owned by the caller (sc_free()).
 * Since: 0.1
 */
SC_API int sc_spec_default(char **out_json, sc_error **error);

/**
 * sc_tmpfiles_missing_sources: one tmpfiles.d line
 * "d PATH 0700 UID GID - -" for each of @sources that does not exist under
 * the context's sysroot, so that systemd-tmpfiles creates it before the
 * container starts. Paths are quoted and '%' doubled where tmpfiles.d
 * would otherwise read them differently.
 * @sources: NULL-terminated.
 * @out_text: "" when nothing is missing; owned by the caller (sc_free()).
 * Returns: SC_OK or SC_EINVAL (a relative source path).
 * Since: 0.1
 */
SC_API int sc_tmpfiles_missing_sources(sc_context *ctx,
                                       const char *const *sources,
                                       unsigned long uid,
                                       unsigned long gid,
                                       char **out_text,
                                       sc_error **error);

/**
 * sc_unit_default_template: the unit template used when an image ships no
 * service.template (atomic's, byte for byte). Static storage.
 * Since: 0.1
 */
SC_API const char *sc_unit_default_template(void);

#ifdef __cplusplus
}
#endif

#endif
