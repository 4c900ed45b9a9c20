/*
 * The contract layer: the image's /exports contract: values, templates, exports, config.json, unit, render, user mode, lint.
 * Includes the layer before it (docs/design.md), never one after it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "../base/base.h"

G_BEGIN_DECLS

G_DEFINE_AUTOPTR_CLEANUP_FUNC(sc_exports, sc_exports_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sc_render_opts, sc_render_opts_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sc_rendering, sc_rendering_free)

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
 * is allocated. sc_template_substitute() caps at sc_default_render_max(). */
char *sc_template_substitute_max(const char *label,
                                 const char *text,
                                 gsize length,
                                 const sc_values *values,
                                 guint64 max,
                                 gsize *out_length,
                                 GError **error);
/* $SC_MAX_RENDERED_BYTES, else 4 MiB. */
/* Every variable of @text, in order of first use (the pointer array owns its strings). */
GPtrArray *sc_template_scan(const char *label, const char *text, gsize length, GError **error);
gboolean sc_template_check_lines(const char *label,
                                 const char *text,
                                 gsize length,
                                 const sc_values *values,
                                 gboolean continuation,
                                 GError **error);

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
 * in @dir: those of the built-in config.json and unit when @dir does not
 * exist (as an install renders them); empty when they cannot be read. */
json_t *sc_exports_dir_variables(const char *dir);

sc_exports *sc_exports_new_empty(const char *path);
/* sc_exports_open() and sc_exports_variables_json() inside the library:
 * the exports of an image directory; the "variables" array. */
sc_exports *sc_exports_open_internal(const char *dir, GError **error);
json_t *sc_exports_variables(const sc_exports *ex, GError **error);
/* The exports in @exports_dir itself (an image's /exports: a link there
 * is refused, not followed). */
sc_exports *sc_exports_load_dir(const char *exports_dir, GError **error);
/* Parses ex->manifest.data into the manifest fields. */
gboolean sc_exports_parse_manifest(sc_exports *ex, GError **error);

/* Host-defaults and forced variable names (docs/design.md). */
extern const char *const sc_forced_variables[];
extern const char *const sc_host_variables[];
gboolean sc_strv_has(const char *const *strv, const char *s);

/* spec.c */
gboolean sc_spec_check(const char *label,
                       const char *json_text,
                       gsize length,
                       const char *remote_rootfs,
                       gboolean run_once, /* writable root, terminal allowed */
                       GPtrArray **out_bind_sources,
                       GError **error);
extern const char sc_spec_default_config[];
/* Rewrites a pre-1.0.0-rc5 process.capabilities (an array of names) in
 * @doc into the bounding, effective, inheritable and permitted sets, as
 * runc applied it; TRUE when it did, with the number of names. */
gboolean sc_spec_convert_capabilities(json_t *doc, size_t *out_count);
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
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ScExecDirectives, sc_exec_directives_clear)
gboolean sc_unit_exec_directives(const char *runtime,
                                 gboolean has_pid_file,
                                 const char *unit_template,
                                 gsize length,
                                 const char *name,
                                 const char *pidfile,
                                 ScExecDirectives *out,
                                 GError **error);
char *sc_unit_finish(const char *rendered,
                     gboolean detached,
                     const char *pidfile,
                     const char *runtime,
                     const char *name);
char *sc_unit_container_cgroup(const char *unit_text, const char *name, gboolean relative_own);

/* render.c */
/* @offline: lint's mode: a runtime that cannot be found or probed is
 * assumed to be runc at /usr/bin/runc instead of failing. */
/* The values the strict check looks at (the user's), when the render's
 * values have more that the tool added (an update's kept UUID); copied. */
void sc_render_opts_set_checked_values(sc_render_opts *o, const sc_values *user);
/* sc_rendering_get_warnings() as a JSON array of strings (new). */
json_t *sc_rendering_warnings_json(const sc_rendering *r);
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
/* TRUE when config.json had the pre-1.0.0-rc5 array process.capabilities
 * and the rendering holds its conversion. */
gboolean sc_rendering_converted_capabilities(const sc_rendering *r);

/* usermode.c (docs/containers.md, "User containers") */
/* A user's container's config.json @doc (from @label), reviewed and
 * rewritten for a user namespace. Refused by name: a mount of a file
 * system type a user namespace may not mount, a bind source in the user's
 * store, checkout root, unit or tmpfiles directory or with "..", a sysctl
 * outside the container's namespaces. Dropped with a warning: the image's
 * uid/gid mappings, devices and OCI hooks. Then the caller's ids and
 * subordinate ranges are mapped, nosuid,nodev added to the mounts, and
 * cgroup resources and linux.cgroupsPath removed. */
gboolean sc_usermode_config(sc_context *ctx, const char *label, json_t *doc, GError **error);
/* @unit (rendered and finished, for the container @name) made a user's
 * unit: User=/Group= dropped, WantedBy=multi-user.target made
 * default.target. Refused (NULL): an Exec*= line that runs anything but
 * @runtime, an [Install] Alias=/Also=/WantedBy=/RequiredBy=/UpheldBy= that
 * names a unit not the container's own (WantedBy= may name
 * default.target). */
char *sc_usermode_unit(const char *label,
                       const char *name,
                       const char *unit,
                       const char *runtime,
                       GError **error);
/* A user's tmpfiles lines @text (from @label) confined to the user's own
 * places ($HOME, $XDG_RUNTIME_DIR, $XDG_DATA_HOME, $XDG_CONFIG_HOME or
 * their specifiers). Refused by line: a type other than d f p L C (and,
 * with @name, an image's own lines, D z Z in the container's own places),
 * '+' or '=', a path, link target or copy source outside those places, with
 * "..", or reaching the user's store, checkout root, unit or tmpfiles
 * directory, an unreadable line. */
gboolean sc_usermode_check_tmpfiles(sc_context *ctx,
                                    const char *label,
                                    const char *text,
                                    const char *name,
                                    GError **error);

G_END_DECLS
