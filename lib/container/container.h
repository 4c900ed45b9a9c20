/*
 * The container layer: installed containers: slots, the journal, host files, systemd, the verbs.
 * Includes the layer before it (docs/design.md), never one after it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "../store/store.h"

G_BEGIN_DECLS

/* deployment.c: the deployment model (paths, lock, slots, info) */
typedef struct {
  char *unit_path, *tmpfiles_path; /* host paths */
  char *link_path, *slot_path;     /* host paths */
  char *slot;                      /* as seen from the sysroot */
} ScPaths;
int sc_deploy_lock_container(const char *root, const char *name, GError **error);
void sc_deploy_unlock_container(sc_context *ctx, const char *name, int fd);
void sc_deploy_paths_init(sc_context *ctx, const char *name, int slot, ScPaths *p);
void sc_deploy_paths_clear(ScPaths *p);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ScPaths, sc_deploy_paths_clear)
gboolean sc_write_file_nolinks(const char *path, const char *text, GError **error);
json_t *sc_deploy_info_document(ScImage *img, const sc_rendering *r, const sc_values *user,
                                const sc_exports *ex, GHashTable *tracked, const char *runtime);
/* @out_before (may be NULL): set, when the image had to be pulled, to the
 * store's refs before the pull, for sc_store_forget_pull() on failure. */
ScImage *sc_deploy_find_or_pull(sc_context *ctx, const char *image, const sc_pull_opts *pull,
                                OstreeRepo **out_repo, GHashTable **out_before, GError **error);
void sc_deploy_forget_pull(sc_context *ctx, GHashTable *before, ScImage *img);
char *sc_deploy_current_slot(sc_context *ctx, const char *name);
/* The automatic-update policy a deployment of @img records in its info:
 * {"policy": "registry"|"disabled", "from": "option"|"label"|"default"}.
 * @option (the user's, or NULL) wins; else one the user chose before (in
 * @old_info, may be NULL) stays; else the image's io.containers.autoupdate
 * label decides. */
json_t *sc_deploy_auto_update(ScImage *img, const char *option, json_t *old_info);
/* Whether @info's container opted in to automatic updates. */
gboolean sc_deploy_auto_update_enabled(json_t *info);
/* A policy given by the user: "registry" or "disabled". */
gboolean sc_deploy_auto_update_valid(const char *policy, GError **error);
sc_exports *sc_deploy_open_exports(const char *dir, GError **error);
gboolean sc_deploy_fill_slot(sc_context *ctx, OstreeRepo *repo, ScImage *img,
                             const char *slot_path, const char *remote_rootfs, GError **error);
gboolean sc_deploy_clear_slot(const char *slot_path, GError **error);
/* SELinux (docs/security.md): the label of a rootfs directory ("/" as the
 * policy gives it; NULL without a policy), set on @rootfs; the slot's
 * rendered files labelled. */
gboolean sc_deploy_rootfs_label(sc_context *ctx, char **out_label, GError **error);
gboolean sc_deploy_label_rootfs(sc_context *ctx, const char *rootfs, GError **error);
gboolean sc_deploy_label_slot_files(sc_context *ctx, const char *slot_path, const char *name,
                                    GError **error);
void sc_deploy_trim_rootfs(const char *slot_path);
char *sc_deploy_remote_rootfs(sc_context *ctx,
                              const char *location,
                              char **out_location,
                              GError **error);
char *sc_deploy_slot_rootfs(sc_context *ctx, const char *slot_path);
/* (mount.c) a mount point whose root is the directory @path, or NULL */
char *sc_mount_find_bind(const char *path);
/* A file the tool wrote into a slot (info, config.json, the unit's copy):
 * a regular file, not followed through a link nor waited for (a fifo), at
 * most SC_MAX_SLOT_FILE bytes; NULL otherwise. */
#define SC_MAX_SLOT_FILE (64 * 1024 * 1024)
GBytes *sc_deploy_read_slot_file(const char *slot, const char *name);
json_t *sc_deploy_read_slot_json(const char *slot, const char *name);
json_t *sc_deploy_read_info(const char *slot);
sc_values *sc_deploy_info_values(json_t *info);
/* update.c: the user's values an info records; two sets of values alike */
sc_values *sc_update_user_values(json_t *info);
gboolean sc_values_same(const sc_values *a, const sc_values *b);
GPtrArray *sc_deploy_kept_files(json_t *info);
GHashTable *sc_deploy_tracked(sc_context *ctx, const char *slot_path, json_t *info);
GPtrArray *sc_deploy_container_names(sc_context *ctx, gboolean incomplete);
/* One container as list reports it (a new reference). */
json_t *sc_deploy_container_entry(sc_context *ctx, const char *name);
/* Under the container's lock: finishes or undoes an operation a crash
 * interrupted (its journal), before another starts. *@out_finished (may
 * be NULL): the operation when it was finished rather than undone. */
gboolean sc_deploy_recover(sc_context *ctx, const char *name, char **out_finished,
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
/* The journal of an operation on @name that did not finish, if any. */
ScJournal *sc_journal_find(sc_context *ctx, const char *name);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScJournal, sc_journal_free)

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
/* The SELinux label each file @plan writes gets (dest -> label) into
 * @labels; nothing without a policy. */
gboolean sc_hostfs_plan_labels(sc_context *ctx, GPtrArray *plan, json_t *labels, GError **error);
/* What sc_hostfs_apply() will track for @plan (path -> checksum), or,
 * with !@written_only, what every planned path has when installed. */
GHashTable *sc_hostfs_plan_tracking(GPtrArray *plan, gboolean written_only);
void sc_hostfs_remove(sc_context *ctx, GHashTable *tracked, GPtrArray *out_kept);

/* systemd.c */
gboolean sc_systemd_offline(sc_context *ctx);
gboolean sc_systemd_running(void);
gboolean sc_systemd_user_running(sc_context *ctx);
/* No NAME.service in systemd's other unit directories (the user's
 * manager's in user mode, the system's in the sysroot otherwise): the
 * container's unit would override it, as --name dbus did the session bus. */
gboolean sc_systemd_check_unit_name_free(sc_context *ctx, const char *name, GError **error);
gboolean sc_systemd_unit_active(sc_context *ctx, const char *name);
gboolean sc_systemd_unit_settles(sc_context *ctx, const char *name, guint settle_ms,
                                 char **out_state);
/* Labels the links an offline `systemctl enable @unit` made (and their
 * .wants/.requires directories without a label), per the root's policy. */
gboolean sc_systemd_label_enabled(sc_context *ctx, const char *unit, GError **error);
gboolean sc_systemctl(sc_context *ctx, const char *verb, const char *arg1, const char *arg2,
                      gboolean check, GError **error);
gboolean sc_tmpfiles_run(sc_context *ctx, const char *action, const char *file, gboolean check,
                         GError **error);

/* uninstall.c: under the container's lock, everything of @name removed
 * (host files only when unmodified: those kept listed in @kept). */
gboolean sc_uninstall_locked(sc_context *ctx, const char *name, GPtrArray *kept, GError **error);
/* update.c: the same, for an update or a rollback */
gboolean sc_update_recover(sc_context *ctx, const char *name, ScJournal *j, char **out_finished,
                           GError **error);

/* run.c: @strict, an undeclared user value is an error; @log_warnings,
 * each such value is logged (before the command) as well as listed in the
 * document's "warnings" */
gboolean sc_run_once(sc_context *ctx, OstreeRepo *repo, ScImage *img, const char *name,
                     const sc_values *values, gboolean strict, gboolean log_warnings,
                     const char *const *args, gboolean dry_run, json_t **out_doc,
                     GError **error);

/* privileges.c: the privilege review (docs/security.md) */
typedef struct {
  const char *config;       /* the rendered config.json text */
  const char *unit;         /* the unit text, or NULL */
  const char *runtime;      /* the runtime its unit runs (its commands are not host commands) */
  GPtrArray *host_files;    /* paths the deployment writes on the host, or NULL */
  const char *bundle;       /* the slot directory, for relative mount sources */
  const char *const *own;   /* the container's slot directories: not host paths */
  const char *name;         /* the container: the runtime on another one is a host command */
  GHashTable *host_sums;    /* host file -> sha256 of its content, or NULL */
  gboolean user_manager;    /* a user's unit: its manager runs everything as the caller */
} ScPrivInput;
/* A deployment's privileges document (described in privileges.c). */
gboolean sc_privileges_compute(const ScPrivInput *in, json_t **out_doc, GError **error);
/* {"added":[{"kind","text"}...],"removed":[...]} going from @old_doc
 * (NULL: nothing, for an install) to @new_doc. */
json_t *sc_privileges_diff(json_t *old_doc, json_t *new_doc);
/* "+ TEXT\n" per item added, "- TEXT\n" per item removed. */
char *sc_privileges_text(json_t *diff);

G_END_DECLS
