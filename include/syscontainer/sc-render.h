/*
 * libsyscontainer: an image's /exports and what an install renders from it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef SYSCONTAINER_SC_RENDER_H
#define SYSCONTAINER_SC_RENDER_H

#include <syscontainer/sc-common.h>
#include <syscontainer/sc-context.h>
#include <syscontainer/sc-values.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * sc_exports: the image contract files of one image: config.json or
 * config.json.template, service.template, tmpfiles.template,
 * manifest.json, hostfs/. Read once when opened.
 *
 * Since: 0.1
 */
typedef struct sc_exports sc_exports;

/**
 * sc_exports_open: reads an exports directory. @dir may be the exports
 * directory itself, an image root that holds "exports/" (or
 * "rootfs/exports/"), or an image build directory with the files at its
 * top level. Files are opened without following symbolic links.
 * @out_exports: owned by the caller (sc_exports_free()).
 * Returns: SC_OK; SC_ENOTFOUND (no such directory); SC_EIO (a file that
 * cannot be read, or is a symbolic link or not a regular file);
 * SC_EMANIFEST (manifest.json is not valid JSON or a key has the wrong
 * type; the message names the key).
 * Since: 0.1
 */
SC_API int sc_exports_open(const char *dir, sc_exports **out_exports, sc_error **error);

/** sc_exports_free: accepts NULL. Since: 0.1 */
SC_API void sc_exports_free(sc_exports *exports);

/** sc_exports_get_path: the exports directory that was read, borrowed. Since: 0.1 */
SC_API const char *sc_exports_get_path(const sc_exports *exports);

/**
 * sc_exports_get_defaults: a copy of manifest.json's defaultValues.
 * @out_values: owned by the caller (sc_values_free()).
 * Since: 0.1
 */
SC_API int sc_exports_get_defaults(const sc_exports *exports,
                                   sc_values **out_values,
                                   sc_error **error);

/**
 * sc_exports_has_container_service: 0 when manifest.json sets
 * noContainerService, else 1. Since: 0.1
 */
SC_API int sc_exports_has_container_service(const sc_exports *exports);

/**
 * sc_exports_variables_json: the variables that the image's templates use,
 * as JSON: {"schema":1,"variables":[{"name","files":[...],"source":
 * "forced"|"host"|"manifest"|"required","default"?}]}. "required" means
 * nothing defines it: the user must --set it. A manifest defaultValues
 * entry that no template uses comes last, with "files":[] (since 0.2).
 * @out_json: owned by the caller (sc_free()).
 * Returns: SC_OK or SC_ETEMPLATE (an invalid placeholder).
 * Since: 0.1
 */
SC_API int sc_exports_variables_json(const sc_exports *exports, char **out_json, sc_error **error);

/**
 * sc_render_opts: what to render an image's exports for.
 * Since: 0.1
 */
typedef struct sc_render_opts sc_render_opts;

/** sc_render_opts_new: @out_opts owned by the caller (sc_render_opts_free()). Since: 0.1 */
SC_API int sc_render_opts_new(sc_render_opts **out_opts, sc_error **error);

/** sc_render_opts_free: accepts NULL. Since: 0.1 */
SC_API void sc_render_opts_free(sc_render_opts *opts);

/**
 * sc_render_opts_set_name: the container name (required); validated as by
 * sc_name_validate().
 * Since: 0.1
 */
SC_API int sc_render_opts_set_name(sc_render_opts *opts, const char *name, sc_error **error);

/**
 * sc_render_opts_set_values: the user's values (--set), copied. They beat
 * manifest and host defaults but never the forced variables.
 * Since: 0.1
 */
SC_API int sc_render_opts_set_values(sc_render_opts *opts,
                                     const sc_values *values,
                                     sc_error **error);

/**
 * sc_render_opts_set_image: IMAGE_NAME and IMAGE_ID. Either may be NULL
 * (""), which is the default.
 * Since: 0.1
 */
SC_API int sc_render_opts_set_image(sc_render_opts *opts,
                                    const char *image_name,
                                    const char *image_id,
                                    sc_error **error);

/**
 * sc_render_opts_set_slot: the deployment slot, 0 (default) or 1; DESTDIR
 * is CHECKOUT_ROOT/NAME.SLOT.
 * Since: 0.1
 */
SC_API int sc_render_opts_set_slot(sc_render_opts *opts, int slot, sc_error **error);

/**
 * sc_render_opts_set_remote_rootfs: render for a container whose rootfs
 * lives at @path (absolute) instead of in the slot: root.path is rewritten
 * to @path. NULL clears it.
 * Since: 0.1
 */
SC_API int sc_render_opts_set_remote_rootfs(sc_render_opts *opts,
                                            const char *path,
                                            sc_error **error);

/**
 * sc_render_opts_set_strict: a user value (sc_render_opts_set_values())
 * that the image declares no variable for (not in
 * sc_exports_variables_json(): a typo, more often than not) fails the
 * render with SC_EINVAL ("value KEY: the image declares no variable KEY
 * (its variables: A, B)") instead of being a warning
 * (sc_rendering_get_warnings()). Default 0.
 * Since: 0.2
 */
SC_API int sc_render_opts_set_strict(sc_render_opts *opts, int strict, sc_error **error);

/**
 * sc_rendering: the files that an install writes for a container:
 * config.json, NAME.service, tmpfiles-NAME.conf, and the full set of
 * values they were rendered with.
 * Since: 0.1
 */
typedef struct sc_rendering sc_rendering;

/**
 * sc_exports_render: resolves the variables (forced > user values >
 * manifest defaultValues > host defaults), renders config.json (verbatim
 * config.json, else config.json.template, else the built-in default),
 * converts a pre-1.0.0-rc5 array process.capabilities into the bounding,
 * effective, inheritable and permitted sets with a warning
 * (docs/image-contract.md), and validates it (sc_spec_validate()), renders the unit (service.template or
 * the default) with EXEC_* from the runtime's features and, for a detached
 * runtime, Type=forking and PIDFile=, and renders tmpfiles.template (or
 * generates lines for missing bind-mount sources). Writes nothing.
 * @out_rendering: owned by the caller (sc_rendering_free()).
 * Returns: SC_OK, SC_EINVAL (no name), SC_ETEMPLATE, SC_ESPEC,
 * SC_ERUNTIME (the runtime cannot be found or run).
 * Since: 0.1
 */
SC_API int sc_exports_render(sc_context *ctx,
                             const sc_exports *exports,
                             const sc_render_opts *opts,
                             sc_rendering **out_rendering,
                             sc_error **error);

/** sc_rendering_free: accepts NULL. Since: 0.1 */
SC_API void sc_rendering_free(sc_rendering *rendering);

/** sc_rendering_get_name: the container name, borrowed. Since: 0.1 */
SC_API const char *sc_rendering_get_name(const sc_rendering *rendering);

/** sc_rendering_get_config: config.json text, borrowed. Since: 0.1 */
SC_API const char *sc_rendering_get_config(const sc_rendering *rendering);

/**
 * sc_rendering_get_unit: NAME.service text, borrowed; NULL when the image
 * sets noContainerService. Since: 0.1
 */
SC_API const char *sc_rendering_get_unit(const sc_rendering *rendering);

/**
 * sc_rendering_get_tmpfiles: tmpfiles-NAME.conf text, borrowed; NULL when
 * there is none (an empty tmpfiles.template, or nothing missing).
 * Since: 0.1
 */
SC_API const char *sc_rendering_get_tmpfiles(const sc_rendering *rendering);

/** sc_rendering_get_values: every resolved variable, borrowed. Since: 0.1 */
SC_API const sc_values *sc_rendering_get_values(const sc_rendering *rendering);

/**
 * sc_rendering_get_warnings: what the render warns about, NULL-terminated,
 * borrowed, never NULL: one "value KEY: the image declares no variable
 * KEY (its variables: ...)" per user value the image does not declare.
 * Since: 0.2
 */
SC_API const char *const *sc_rendering_get_warnings(const sc_rendering *rendering);

/**
 * sc_rendering_is_detached: 1 when the unit runs the runtime detached
 * (run -d --pid-file, Type=forking), else 0. Since: 0.1
 */
SC_API int sc_rendering_is_detached(const sc_rendering *rendering);

/**
 * sc_rendering_write: writes the files into @dir under their names in a
 * deployment slot: config.json, NAME.service, tmpfiles-NAME.conf. @dir is
 * created if missing. Each file is written to a temporary name and renamed,
 * so a file is either the old one or the complete new one.
 * Returns: SC_OK, SC_EIO.
 * Since: 0.1
 */
SC_API int sc_rendering_write(const sc_rendering *rendering, const char *dir, sc_error **error);

/**
 * sc_rendering_to_json: {"schema":1,"name","detached","files":{"config.json":
 * ...,"NAME.service":...,"tmpfiles-NAME.conf":...},"values":{...},
 * "missing_bind_sources":[...],
 * "warnings":[...]} (warnings since 0.2).
 * @out_json: owned by the caller (sc_free()).
 * Since: 0.1
 */
SC_API int sc_rendering_to_json(const sc_rendering *rendering, char **out_json, sc_error **error);

#ifdef __cplusplus
}
#endif

#endif
