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
gboolean sc_context_runtime_path(sc_context *ctx, const char **out_path, GError **error);
gboolean sc_context_runtime_features(sc_context *ctx,
                                     gboolean *out_pid_file,
                                     gboolean *out_systemd_cgroup,
                                     GError **error);
gboolean sc_name_check(const char *name, GError **error);

/* values.c */
gboolean sc_values_is_identifier(const char *key, gsize len);
gboolean sc_values_insert(sc_values *values, const char *key, const char *value, GError **error);
sc_values *sc_values_new_internal(void);
json_t *sc_values_to_json_object(const sc_values *values);

/* template.c */
char *sc_template_substitute(const char *label,
                             const char *text,
                             gsize length,
                             const sc_values *values,
                             gsize *out_length,
                             GError **error);
/* Every variable of @text, in order of first use (the pointer array owns its strings). */
GPtrArray *sc_template_scan(const char *label, const char *text, gsize length, GError **error);

/* spec.c */
gboolean sc_spec_check(const char *label,
                       const char *json_text,
                       gsize length,
                       const char *remote_rootfs,
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

/* Host-defaults and forced variable names (DESIGN.md §1). */
extern const char *const sc_forced_variables[];
extern const char *const sc_host_variables[];
gboolean sc_strv_has(const char *const *strv, const char *s);

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

G_END_DECLS
