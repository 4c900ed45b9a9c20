/*
 * Update and rollback. A container alternates between two slots, NAME.0
 * and NAME.1: update fills the other slot from scratch (atomic checked out
 * on top of its stale files), switches the NAME symlink, and keeps the old
 * slot for rollback. Only the user's --set values carry over; everything
 * else is computed again from the new image. The symlink always points at
 * a complete slot.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "container.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int
slot_index(const char *slot)
{
  return g_str_has_suffix(slot, ".1") ? 1 : 0;
}

/* The start of update and rollback: takes the container's lock (into
 * *@lock, to be closed by the caller), finishes or undoes an interrupted
 * operation (*@out_finished, may be NULL: the one finished), reads the
 * current deployment's info and fills @other with the paths of the other
 * slot. */
static gboolean
open_for_switch_dry(sc_context *ctx, const char *name, int *lock, char **out_finished,
                    json_t **out_info, ScPaths *other, gboolean dry_run, GError **error);

static gboolean
open_for_switch(sc_context *ctx, const char *name, int *lock, char **out_finished,
                json_t **out_info, ScPaths *other, GError **error)
{
  return open_for_switch_dry(ctx, name, lock, out_finished, out_info, other, FALSE, error);
}

/* (a dry run finishes no interrupted operation: it refuses while one is
 * pending) */
static gboolean
open_for_switch_dry(sc_context *ctx, const char *name, int *lock, char **out_finished,
                    json_t **out_info, ScPaths *other, gboolean dry_run, GError **error)
{
  g_autofree char *root = NULL;
  g_autofree char *cur_slot = NULL;

  if (!sc_name_check(name, error) || !sc_context_config_check(ctx, error))
    return FALSE;
  root = sc_context_host_dir(ctx, sc_context_get_checkout_root(ctx));
  /* no checkout root yet (a user who installed nothing): nothing is
   * installed, which is what to say, not that its lock cannot be made */
  if (!g_file_test(root, G_FILE_TEST_IS_DIR)) {
    g_set_error(error, SC_ERROR, SC_ENOTFOUND, "container %s is not installed", name);
    return FALSE;
  }
  *lock = sc_deploy_lock_container(root, name, error);
  if (*lock < 0)
    return FALSE;
  if (dry_run) {
    g_autoptr(ScJournal) j = sc_journal_find(ctx, name);
    if (j) {
      g_set_error(error, SC_ERROR, SC_EBUSY,
                  "container %s: an interrupted %s is pending; update --dry-run does not "
                  "finish it (any other command does)",
                  name, j->op);
      return FALSE;
    }
  } else if (!sc_deploy_recover(ctx, name, out_finished, error))
    return FALSE;
  cur_slot = sc_deploy_current_slot(ctx, name);
  *out_info = cur_slot ? sc_deploy_read_info(cur_slot) : NULL;
  if (*out_info == NULL) {
    g_set_error(error, SC_ERROR, SC_ENOTFOUND,
                "container %s is not installed (or its info file is missing: uninstall it)", name);
    return FALSE;
  }
  sc_deploy_paths_init(ctx, name, 1 - slot_index(cur_slot), other);
  return TRUE;
}

/* The user's values of an installed container: "user-values", or, for
 * one installed by atomic (which kept everything in "values"), what is
 * neither forced nor a host default. */
sc_values *
sc_update_user_values(json_t *info)
{
  sc_values *v = sc_values_new_internal();
  json_t *user = json_object_get(info, "user-values");
  gboolean legacy = !json_is_object(user);
  const char *k;
  json_t *val;

  json_object_foreach(legacy ? json_object_get(info, "values") : user, k, val)
  {
    if (!json_is_string(val) && !json_is_integer(val))
      continue;
    if (legacy && (sc_strv_has(sc_forced_variables, k) || sc_strv_has(sc_host_variables, k)))
      continue;
    if (json_is_string(val))
      sc_values_insert(v, k, json_string_value(val), NULL);
    else {
      g_autofree char *s = g_strdup_printf("%" JSON_INTEGER_FORMAT, json_integer_value(val));
      sc_values_insert(v, k, s, NULL);
    }
  }
  return v;
}

gboolean
sc_values_same(const sc_values *a, const sc_values *b)
{
  if (sc_values_count(a) != sc_values_count(b))
    return FALSE;
  for (size_t i = 0; i < sc_values_count(a); i++) {
    const char *k = sc_values_key_at(a, i);
    if (g_strcmp0(sc_values_get(a, k), sc_values_get(b, k)) != 0)
      return FALSE;
  }
  return TRUE;
}

/* Writes a deployment's host files again, from its image files and values
 * (best effort: used to undo a failed update). */
static void
restore_hostfs(sc_context *ctx, const char *slot_path, json_t *info)
{
  g_autoptr(GHashTable) owned = sc_deploy_tracked(ctx, slot_path, info);
  g_autofree char *rootfs = sc_deploy_slot_rootfs(ctx, slot_path);
  g_autofree char *exports = g_build_filename(rootfs, "exports", NULL);
  g_autoptr(sc_values) values = sc_deploy_info_values(info);
  g_autoptr(GPtrArray) plan = NULL;
  g_autoptr(GHashTable) done = NULL;
  sc_exports *ex = NULL;

  if (!g_file_test(exports, G_FILE_TEST_IS_DIR) ||
      (ex = sc_deploy_open_exports(exports, NULL)) == NULL)
    return;
  /* (its own files, modified since, stay as they are) */
  plan = sc_hostfs_plan(ctx, ex, values, owned, NULL);
  if (plan)
    done = sc_hostfs_apply(ctx, plan, NULL);
  sc_exports_free(ex);
}


/* Writes a slot's info file (atomic's format: 4-space indent, sorted keys,
 * a final newline). */
static gboolean
write_info(sc_context *ctx, const char *slot_path, json_t *info, GError **error)
{
  g_autofree char *text = json_dumps(info, JSON_INDENT(4) | JSON_SORT_KEYS);
  g_autofree char *with_nl = g_strconcat(text, "\n", NULL);
  g_autofree char *path = g_build_filename(slot_path, "info", NULL);

  return sc_context_write_file(ctx, path, with_nl, error);
}

/* Replaces /etc's unit and tmpfiles with the slot's copies (or removes
 * them when the slot has none). */
static gboolean
install_unit_files(sc_context *ctx, const char *name, const char *slot_path, const ScPaths *p,
                   GError **error)
{
  g_autofree char *unit_copy = g_strdup_printf("%s.service", name);
  g_autofree char *tmpfiles_copy = g_strdup_printf("tmpfiles-%s.conf", name);
  const char *copies[] = {unit_copy, tmpfiles_copy};
  const char *targets[] = {p->unit_path, p->tmpfiles_path};

  for (int i = 0; i < 2; i++) {
    g_autoptr(GBytes) text = sc_deploy_read_slot_file(slot_path, copies[i]);
    if (text) {
      if (!sc_context_write_file(ctx, targets[i], g_bytes_get_data(text, NULL), error))
        return FALSE;
    } else if (unlink(targets[i]) != 0 && errno != ENOENT) {
      g_set_error(error, SC_ERROR, SC_EIO, "cannot remove %s: %s", targets[i], g_strerror(errno));
      return FALSE;
    }
  }
  return TRUE;
}

/* Points NAME at @slot (as seen from the sysroot), atomically. */
static gboolean
switch_link(sc_context *ctx, const ScPaths *p, const char *slot, GError **error)
{
  g_autofree char *tmp = g_strdup_printf("%s.%08x.tmp", p->link_path, g_random_int());

  if (symlink(slot, tmp) != 0) {
    g_set_error(error, SC_ERROR, SC_EIO, "cannot point %s at %s: %s", p->link_path, slot,
                g_strerror(errno));
    return FALSE;
  }
  /* labelled under its temporary name, as the other files */
  if (!sc_context_label_host_path(ctx, tmp, error)) {
    unlink(tmp);
    return FALSE;
  }
  if (rename(tmp, p->link_path) != 0) {
    g_set_error(error, SC_ERROR, SC_EIO, "cannot point %s at %s: %s", p->link_path, slot,
                g_strerror(errno));
    unlink(tmp);
    return FALSE;
  }
  return TRUE;
}

static gboolean
reload_and_restart(sc_context *ctx, const char *name, const ScPaths *p, gboolean has_service,
                   gboolean restart, GError **error)
{
  g_autofree char *unit = g_strconcat(name, ".service", NULL);
  struct stat st;

  if (!has_service || sc_systemd_offline(ctx))
    return TRUE;
  if (!sc_systemctl(ctx, "daemon-reload", NULL, NULL, TRUE, error))
    return FALSE;
  if (lstat(p->tmpfiles_path, &st) == 0 &&
      !sc_tmpfiles_run(ctx, "--create", p->tmpfiles_path, TRUE, error))
    return FALSE;
  return !restart || sc_systemctl(ctx, "restart", unit, NULL, TRUE, error);
}

struct sc_update_opts {
  char *rebase;
  sc_values *values;
  const sc_pull_opts *pull;
  gboolean controlled;
  guint settle_ms;
  gboolean accept_privileges, dry_run;
  char *auto_update;    /* a new auto-update policy to record, or NULL */
  gboolean auto_only;   /* update --all --auto: only the containers that opted in */
  gboolean strict;      /* an undeclared user value fails the render */
};

/* An update or rollback @j that did not finish (crash, or failure): when
 * the NAME symlink already points at its slot, the rest is done (reload,
 * tmpfiles, restart if the unit ran); else it is undone: the files it wrote
 * go, the current deployment's host files and unit files come back, an
 * update's slot is emptied, and the unit starts again if it ran. The
 * journal goes in both cases. */
gboolean
sc_update_recover(sc_context *ctx, const char *name, ScJournal *j, char **out_finished,
                  GError **error)
{
  g_autofree char *cur_slot = sc_deploy_current_slot(ctx, name);
  g_autofree char *j_base = g_path_get_basename(j->slot_path);
  g_autofree char *cur_base = cur_slot ? g_path_get_basename(cur_slot) : NULL;
  json_t *info = cur_slot ? sc_deploy_read_info(cur_slot) : NULL;
  ScPaths cur = {0};
  gboolean has_service, ok;

  if (info == NULL) {
    g_set_error(error, SC_ERROR, SC_ENOTFOUND,
                "container %s: an interrupted %s cannot be completed (no current deployment): "
                "uninstall it",
                name, j->op);
    return FALSE;
  }
  has_service = !json_is_false(json_object_get(info, "has-container-service"));
  sc_deploy_paths_init(ctx, name, slot_index(cur_slot), &cur);
  if (g_strcmp0(cur_base, j_base) == 0) {
    ok = reload_and_restart(ctx, name, &cur, has_service, j->was_active, error);
    sc_journal_finish(ctx, j);
    if (out_finished)
      *out_finished = g_strdup(j->op);
  } else {
    sc_hostfs_remove(ctx, j->planned, NULL);
    restore_hostfs(ctx, cur_slot, info);
    ok = install_unit_files(ctx, name, cur_slot, &cur, error);
    if (strcmp(j->op, "update") == 0)
      sc_deploy_clear_slot(j->slot_path, NULL);
    else
      sc_journal_finish(ctx, j);
    ok = reload_and_restart(ctx, name, &cur, has_service, j->was_active, ok ? error : NULL) && ok;
  }
  sc_deploy_paths_clear(&cur);
  json_decref(info);
  return ok;
}

SC_API int
sc_update_opts_new(sc_update_opts **out_opts, sc_error **error)
{
  SC_CHECK_ARG(out_opts != NULL, error);
  *out_opts = g_new0(sc_update_opts, 1);
  (*out_opts)->values = sc_values_new_internal();
  return SC_OK;
}

SC_API void
sc_update_opts_free(sc_update_opts *o)
{
  if (o == NULL)
    return;
  g_free(o->rebase);
  g_free(o->auto_update);
  sc_values_free(o->values);
  g_free(o);
}

SC_API int
sc_update_opts_set_rebase(sc_update_opts *o, const char *image, sc_error **error)
{
  SC_CHECK_ARG(o != NULL && (image == NULL || *image != '\0'), error);
  g_free(o->rebase);
  o->rebase = g_strdup(image);
  return SC_OK;
}

SC_API int
sc_update_opts_set_values(sc_update_opts *o, const sc_values *values, sc_error **error)
{
  SC_CHECK_ARG(o != NULL && values != NULL, error);
  return sc_values_replace(&o->values, values, error);
}

SC_API int
sc_update_opts_set_pull_opts(sc_update_opts *o, const sc_pull_opts *pull, sc_error **error)
{
  SC_CHECK_ARG(o != NULL, error);
  o->pull = pull;
  return SC_OK;
}

SC_API int
sc_update_opts_set_controlled(sc_update_opts *o, int controlled, unsigned settle_ms,
                              sc_error **error)
{
  SC_CHECK_ARG(o != NULL, error);
  o->controlled = controlled != 0;
  o->settle_ms = settle_ms;
  return SC_OK;
}

SC_API int
sc_update_opts_set_accept_privileges(sc_update_opts *o, int accept, sc_error **error)
{
  SC_CHECK_ARG(o != NULL, error);
  o->accept_privileges = accept != 0;
  return SC_OK;
}

SC_API int
sc_update_opts_set_auto_update(sc_update_opts *o, const char *policy, sc_error **error)
{
  GError *gerror = NULL;

  SC_CHECK_ARG(o != NULL, error);
  if (!sc_deploy_auto_update_valid(policy, &gerror))
    return sc_error_propagate(error, gerror);
  g_free(o->auto_update);
  o->auto_update = g_strdup(policy);
  return SC_OK;
}

SC_API int
sc_update_opts_set_auto(sc_update_opts *o, int auto_only, sc_error **error)
{
  SC_CHECK_ARG(o != NULL, error);
  o->auto_only = auto_only != 0;
  return SC_OK;
}

SC_API int
sc_update_opts_set_strict(sc_update_opts *o, int strict, sc_error **error)
{
  SC_CHECK_ARG(o != NULL, error);
  o->strict = strict != 0;
  return SC_OK;
}

SC_API int
sc_update_opts_set_dry_run(sc_update_opts *o, int dry_run, sc_error **error)
{
  SC_CHECK_ARG(o != NULL, error);
  o->dry_run = dry_run != 0;
  return SC_OK;
}

static json_t *
strv_json(GPtrArray *a)
{
  json_t *arr = json_array();

  for (guint i = 0; a && i < a->len; i++)
    json_array_append_new(arr, json_string(a->pdata[i]));
  return arr;
}

/* info's "kept-files" for a deployment that tracks @tracked: the files
 * just left to the admin (@kept) and those an earlier update left that are
 * still there and not tracked again. */
static void
set_kept_files(sc_context *ctx,
               json_t *info,
               json_t *prev_info,
               GPtrArray *kept,
               GHashTable *tracked)
{
  g_autoptr(GPtrArray) all = sc_deploy_kept_files(prev_info);
  g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
  json_t *arr = json_array();

  for (guint i = 0; i < kept->len; i++)
    g_ptr_array_add(all, g_strdup(kept->pdata[i]));
  g_ptr_array_sort(all, sc_strcmp_indirect);
  for (guint i = 0; i < all->len; i++) {
    const char *path = all->pdata[i];
    g_autofree char *host = sc_context_host_path(ctx, path);
    struct stat st;
    if (g_hash_table_contains(seen, path) || (tracked && g_hash_table_contains(tracked, path)) ||
        lstat(host, &st) != 0)
      continue;
    g_hash_table_add(seen, (gpointer)path);
    json_array_append_new(arr, json_string(path));
  }
  json_object_set_new(info, "kept-files", arr);
}

static gboolean rollback_locked(sc_context *ctx, const char *name, json_t *cur_info,
                                const ScPaths *p, gboolean start, json_t **out_info,
                                GError **error);

/* An update of a container whose lock is held, as a transaction in phases:
 * find (the image, the values; nothing to do when both are the same),
 * prepare (the other slot filled and rendered, host files planned: the host
 * untouched), apply (stop, host files, info, unit, the link switched: each
 * step journaled), settle (restart; a controlled update watches the unit
 * and rolls back), result. Before the switch a failure is undone by the
 * journal; after it the update stands. */
typedef struct {
  sc_context *ctx;
  const char *name;
  const sc_update_opts *o;
  json_t *info;     /* the current deployment's (borrowed) */
  const ScPaths *p; /* the slot being filled */
  int next;         /* its index */
  const char *location; /* a remote rootfs, as info says */
  char *resolved;       /* that location, resolved in the sysroot (recorded) */
  char *remote;
  sc_values *user;
  OstreeRepo *repo;
  ScImage *img;
  sc_exports *ex;
  sc_rendering *r;
  GHashTable *old_tracked, *tracked;
  GPtrArray *plan;
  GPtrArray *kept; /* host files modified by the admin: kept, untracked */
  json_t *new_info;
  json_t *privileges; /* {"added","removed"}: the review */
  ScJournal *journal;
  const char *runtime;
  gboolean changed, was_active, switched;
} Update;

static void
update_clear(Update *t)
{
  g_free(t->remote);
  g_free(t->resolved);
  sc_values_free(t->user);
  sc_image_free(t->img);
  sc_exports_free(t->ex);
  sc_rendering_free(t->r);
  g_clear_pointer(&t->old_tracked, g_hash_table_unref);
  g_clear_pointer(&t->tracked, g_hash_table_unref);
  g_clear_pointer(&t->plan, g_ptr_array_unref);
  g_clear_pointer(&t->kept, g_ptr_array_unref);
  json_decref(t->new_info);
  json_decref(t->privileges);
  sc_journal_free(t->journal);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Update, update_clear)

/* update --dry-run changes nothing, the store neither: an image it does
 * not have is not pulled. */
static ScImage *
find_no_pull(sc_context *ctx, const char *image, OstreeRepo **out_repo, GError **error)
{
  OstreeRepo *repo = NULL;
  ScImage *img;
  int lock;

  if (!sc_store_open(ctx, FALSE, &repo, error))
    return NULL;
  if ((lock = sc_store_lock(ctx, repo, FALSE, error)) < 0)
    return NULL;
  img = sc_image_resolve_one(repo, image, error);
  close(lock);
  if (img == NULL) {
    g_prefix_error(error, "update --dry-run does not pull: ");
    return NULL;
  }
  *out_repo = repo;
  return img;
}

static gboolean
update_find(Update *t, GError **error)
{
  g_autoptr(sc_values) old_user = NULL;

  t->location = json_string_value(json_object_get(t->info, "remote"));
  if (t->location && t->o->rebase) {
    g_set_error(error, SC_ERROR, SC_EINVAL,
                "container %s runs from a remote rootfs (%s): it cannot be rebased", t->name,
                t->location);
    return FALSE;
  }
  if (t->location)
    sc_context_log(t->ctx, SC_LOG_INFO,
                   "updating a container with a remote rootfs (%s): only changes to its "
                   "configuration are applied",
                   t->location);
  t->user = sc_update_user_values(t->info);
  for (size_t i = 0; i < sc_values_count(t->o->values); i++)
    sc_values_insert(t->user, sc_values_key_at(t->o->values, i),
                     sc_values_get(t->o->values, sc_values_key_at(t->o->values, i)), NULL);
  t->img = t->o->dry_run
             ? find_no_pull(t->ctx, t->o->rebase ? t->o->rebase
                                                 : json_string_value(json_object_get(t->info, "image")),
                            &t->repo, error)
             : sc_deploy_find_or_pull(t->ctx,
                                      t->o->rebase
                                          ? t->o->rebase
                                          : json_string_value(json_object_get(t->info, "image")),
                                      t->o->pull, &t->repo, NULL, error);
  if (t->img == NULL)
    return FALSE;
  old_user = sc_update_user_values(t->info);
  /* atomic: "Latest version already installed." */
  t->changed =
    g_strcmp0(t->img->id, json_string_value(json_object_get(t->info, "revision"))) != 0 ||
    !sc_values_same(old_user, t->user) ||
    /* a rebase to another name of the same image moves the container to
     * that name (its IMAGE_NAME, what later updates follow) */
    (t->o->rebase != NULL &&
     g_strcmp0(t->img->name, json_string_value(json_object_get(t->info, "image"))) != 0);
  /* --runtime is how the runtime of a container changes: another one than
   * it has is a change by itself (atomic's update ignored it) */
  if (!t->changed && sc_context_runtime_given(t->ctx)) {
    const char *runtime;
    if (!sc_context_runtime_path(t->ctx, &runtime, error))
      return FALSE;
    t->changed = g_strcmp0(runtime, json_string_value(json_object_get(t->info, "runtime"))) != 0;
  }
  return TRUE;
}

/* The container's UUID is its identity, not an image default: the new
 * slot renders with the one in its info (atomic carried every value over,
 * so it never changed), unless the user sets one. It is not recorded as a
 * user value. */
static void
keep_identity(sc_render_opts *ropts, json_t *info, const sc_values *user)
{
  const char *uuid = json_string_value(json_object_get(json_object_get(info, "values"), "UUID"));
  g_autoptr(sc_values) with = NULL;

  if (uuid == NULL || *uuid == '\0' || sc_values_get(user, "UUID") != NULL ||
      sc_values_copy(user, &with, NULL) != SC_OK)
    return;
  sc_values_insert(with, "UUID", uuid, NULL);
  sc_render_opts_set_values(ropts, with, NULL);
}

static sc_render_opts *
update_render_opts(Update *t, const char *remote)
{
  sc_render_opts *ropts = NULL;

  sc_render_opts_new(&ropts, NULL);
  sc_render_opts_set_name(ropts, t->name, NULL);
  sc_render_opts_set_values(ropts, t->user, NULL);
  sc_render_opts_set_strict(ropts, t->o->strict, NULL);
  sc_render_opts_set_checked_values(ropts, t->user); /* (not the kept UUID) */
  keep_identity(ropts, t->info, t->user);
  sc_render_opts_set_image(ropts, t->img->name, t->img->id, NULL);
  sc_render_opts_set_slot(ropts, t->next, NULL);
  if (remote)
    sc_render_opts_set_remote_rootfs(ropts, remote, NULL);
  return ropts;
}

/* The privileges of the deployment in @slot_path (the current one): its
 * config.json and unit copies, the host files its info tracks or kept, its
 * runtime. NULL (with a warning) when they cannot be read: the review then
 * compares with nothing, and every privilege of the new one counts as
 * added. */
static json_t *
slot_privileges(sc_context *ctx, const char *name, json_t *info, const char *slot_path,
                const char *slot, const char *const *own)
{
  g_autoptr(GBytes) config = sc_deploy_read_slot_file(slot_path, "config.json");
  g_autofree char *unit_name = g_strdup_printf("%s.service", name);
  g_autoptr(GBytes) unit = sc_deploy_read_slot_file(slot_path, unit_name);
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GHashTable) sums = g_hash_table_new(g_str_hash, g_str_equal);
  g_autoptr(GError) local = NULL;
  g_autofree char *config_text = config ? g_strndup(g_bytes_get_data(config, NULL),
                                                    g_bytes_get_size(config)) : NULL;
  g_autofree char *unit_text = unit ? g_strndup(g_bytes_get_data(unit, NULL),
                                                g_bytes_get_size(unit)) : NULL;
  ScPrivInput in = { config_text, unit_text, json_string_value(json_object_get(info, "runtime")),
                     files,       slot,      own,
                     name,        sums,      sc_context_is_user(ctx) };
  json_t *doc = NULL, *v;
  const char *k;
  size_t i;

  json_object_foreach (json_object_get(info, "installed-files-checksum"), k, v)
    if (json_is_string(v))
      g_hash_table_insert(sums, (gpointer)k, (gpointer)json_string_value(v));
  /* (files: a directory made on the host, "0" in the checksums, is no
   * privilege) */
  json_array_foreach (json_object_get(info, "installed-files"), i, v)
    if (json_is_string(v) &&
        g_strcmp0(json_string_value(json_object_get(
                      json_object_get(info, "installed-files-checksum"), json_string_value(v))),
                  "0") != 0)
      g_ptr_array_add(files, g_strdup(json_string_value(v)));
  /* a file it exported that the admin modified (kept, untracked) is its
   * path all the same: tracked again, it is no new host file */
  json_array_foreach (json_object_get(info, "kept-files"), i, v)
    if (json_is_string(v))
      g_ptr_array_add(files, g_strdup(json_string_value(v)));
  if (!sc_privileges_compute(&in, &doc, &local)) {
    sc_context_log(ctx, SC_LOG_WARNING,
                   "container %s: the privileges of %s cannot be read (%s): every privilege "
                   "of the other deployment is reviewed",
                   name, slot, local->message);
    return NULL;
  }
  return doc;
}

/* The new deployment's exports (a copy from the store, or the remote
 * rootfs's), rendered and its host files planned, without a change to
 * the slots or the host; into @out_doc its privileges. */
static gboolean
new_privileges(Update *t, const char *const *own, json_t **out_doc, GError **error)
{
  g_autofree char *tmp = NULL, *exports = NULL, *remote = NULL, *resolved = NULL;
  g_autofree char *host_remote = NULL;
  g_autoptr(sc_exports) ex = NULL;
  g_autoptr(sc_render_opts) ropts = NULL;
  g_autoptr(sc_rendering) r = NULL;
  g_autoptr(GPtrArray) plan = NULL;
  g_autoptr(GHashTable) planned = NULL;
  g_autoptr(GPtrArray) files = g_ptr_array_new();
  const char *runtime;
  gboolean ok;

  if (!sc_context_runtime_path(t->ctx, &runtime, error))
    return FALSE;
  if (t->location) {
    if ((remote = sc_deploy_remote_rootfs(t->ctx, t->location, &resolved, error)) == NULL)
      return FALSE;
    host_remote = sc_context_host_path(t->ctx, remote);
    exports = g_build_filename(host_remote, "exports", NULL);
  } else {
    if ((tmp = sc_store_checkout_exports(t->repo, t->img, error)) == NULL)
      return FALSE;
    exports = g_build_filename(tmp, "exports", NULL);
  }
  ropts = update_render_opts(t, remote);
  ok = (ex = sc_deploy_open_exports(exports, error)) != NULL &&
       sc_render_internal(t->ctx, ex, ropts, FALSE, &r, error) &&
       (plan = sc_hostfs_plan(t->ctx, ex, sc_rendering_get_values(r), t->old_tracked, error)) !=
           NULL;
  if (ok) {
    planned = sc_hostfs_plan_tracking(plan, TRUE); /* (what it will track) */
    GHashTableIter it;
    gpointer k, sum;
    g_hash_table_iter_init(&it, planned);
    while (g_hash_table_iter_next(&it, &k, &sum))
      if (strcmp(sum, "0") != 0) /* (a directory) */
        g_ptr_array_add(files, k);
    ScPrivInput in = {sc_rendering_get_config(r), sc_rendering_get_unit(r), runtime, files,
                      t->p->slot, own, t->name, planned};
    in.user_manager = sc_context_is_user(t->ctx);
    ok = sc_privileges_compute(&in, out_doc, error);
    if (!ok)
      g_prefix_error(error, "container %s: the new deployment's ", t->name);
  }
  if (!ok && tmp && error && *error) {
    /* the scratch copy is gone once this returns: name the files where
     * the update would have put them, as the update itself would */
    g_autofree char *shown = g_build_filename(t->p->slot_path, "rootfs", "exports", NULL);
    g_auto(GStrv) parts = g_strsplit((*error)->message, exports, -1);
    g_autofree char *msg = g_strjoinv(shown, parts);
    g_free((*error)->message);
    (*error)->message = g_steal_pointer(&msg);
  }
  if (tmp)
    sc_rm_rf(tmp);
  return ok;
}

/* The privilege review: what the new deployment may do that the current
 * one may not, before anything changes (docs/security.md). Refused, with
 * SC_EPERM, when it adds anything that was not accepted. */
static gboolean
update_review(Update *t, GError **error)
{
  ScPaths cur = {0};
  g_autoptr(json_t) old_doc = NULL, new_doc = NULL;
  g_autofree char *own0 = NULL, *own1 = NULL;
  gboolean ok;

  sc_deploy_paths_init(t->ctx, t->name, 1 - t->next, &cur);
  own0 = g_strdup(t->p->slot);
  own1 = g_strdup(cur.slot);
  const char *own[] = {own0, own1, NULL};
  t->old_tracked = sc_deploy_tracked(t->ctx, cur.slot_path, t->info);
  old_doc = slot_privileges(t->ctx, t->name, t->info, cur.slot_path, cur.slot, own);
  ok = new_privileges(t, own, &new_doc, error);
  sc_deploy_paths_clear(&cur);
  if (!ok)
    return FALSE;
  t->privileges = sc_privileges_diff(old_doc, new_doc);
  json_t *added = json_object_get(t->privileges, "added");
  if (json_array_size(added) == 0 || t->o->accept_privileges || t->o->dry_run)
    return TRUE;
  g_autoptr(GString) what = g_string_new(NULL);
  json_t *v;
  size_t i;
  json_array_foreach (added, i, v)
    g_string_append_printf(what, "%s%s", i ? "; " : "",
                           json_string_value(json_object_get(v, "text")));
  g_set_error(error, SC_ERROR, SC_EPERM,
              "container %s: the update to %s (%.12s) adds privileges: %s; nothing was changed "
              "(review them with update --dry-run, accept them with --accept-privileges)",
              t->name, t->img->name, t->img->id, what->str);
  return FALSE;
}

/* The other slot, from scratch (a remote rootfs is linked again), its
 * files rendered and its host files planned. */
static gboolean
update_prepare(Update *t, GError **error)
{
  g_autofree char *rootfs = NULL;
  g_autofree char *exports_dir = NULL;
  g_autoptr(sc_render_opts) ropts = NULL;
  ScPaths cur = {0};

  if (!sc_context_runtime_path(t->ctx, &t->runtime, error))
    return FALSE;
  if (t->location &&
      (t->remote = sc_deploy_remote_rootfs(t->ctx, t->location, &t->resolved, error)) == NULL)
    return FALSE;
  if (!sc_deploy_fill_slot(t->ctx, t->repo, t->img, t->p->slot_path, t->remote, error))
    return FALSE;
  rootfs = sc_deploy_slot_rootfs(t->ctx, t->p->slot_path);
  exports_dir = g_build_filename(rootfs, "exports", NULL);
  if ((t->ex = sc_deploy_open_exports(exports_dir, error)) == NULL)
    return FALSE;
  ropts = update_render_opts(t, t->remote);
  if (!sc_render_internal(t->ctx, t->ex, ropts, FALSE, &t->r, error))
    return FALSE;
  if (t->old_tracked == NULL) {
    sc_deploy_paths_init(t->ctx, t->name, 1 - t->next, &cur);
    t->old_tracked = sc_deploy_tracked(t->ctx, cur.slot_path, t->info);
    sc_deploy_paths_clear(&cur);
  }
  t->plan = sc_hostfs_plan(t->ctx, t->ex, sc_rendering_get_values(t->r), t->old_tracked, error);
  return t->plan != NULL && sc_rendering_write_internal(t->r, t->p->slot_path, error) &&
         sc_deploy_label_slot_files(t->ctx, t->p->slot_path, t->name, error);
}

/* The deployment left behind's host files that the new one does not track
 * (removed when unmodified; a modified one is kept, added to @kept and
 * reported as uninstall does). */
static void
remove_gone_files(sc_context *ctx, GHashTable *old_tracked, GHashTable *tracked, GPtrArray *kept)
{
  g_autoptr(GHashTable) gone = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  GHashTableIter it;
  gpointer k, v;

  g_hash_table_iter_init(&it, old_tracked);
  while (g_hash_table_iter_next(&it, &k, &v))
    if (!g_hash_table_contains(tracked, k))
      g_hash_table_replace(gone, g_strdup(k), g_strdup(v));
  sc_hostfs_remove(ctx, gone, kept);
  g_ptr_array_sort(kept, sc_strcmp_indirect);
  for (guint i = 0; i < kept->len; i++)
    sc_context_log(ctx, SC_LOG_WARNING, "%s was modified: kept", (char *)kept->pdata[i]);
}

/* From here the host changes: stop, files, info, unit, the switch. */
static gboolean
update_apply(Update *t, GError **error)
{
  sc_context *ctx = t->ctx;
  const ScPaths *p = t->p;
  g_autoptr(GHashTable) planned = sc_hostfs_plan_tracking(t->plan, TRUE);

  t->was_active = sc_systemd_unit_active(ctx, t->name);
  t->journal = sc_journal_new("update", p->slot_path, planned, t->was_active);
  t->journal->owns_unit = TRUE;
  if (!sc_journal_step(ctx, t->journal, "prepared", error))
    return FALSE;
  if (t->was_active) {
    g_autofree char *unit = g_strconcat(t->name, ".service", NULL);
    sc_systemctl(ctx, "stop", unit, NULL, FALSE, NULL);
  }
  if (!sc_journal_step(ctx, t->journal, "stopped", error))
    return FALSE;
  t->tracked = sc_hostfs_apply(ctx, t->plan, error);
  if (t->tracked == NULL)
    return FALSE;
  remove_gone_files(ctx, t->old_tracked, t->tracked, t->kept);
  if (!sc_journal_step(ctx, t->journal, "hostfs", error))
    return FALSE;
  t->new_info = sc_deploy_info_document(t->img, t->r, t->user, t->ex, t->tracked, t->runtime);
  if (t->location) /* (resolved: one recorded through a link before is no more) */
    json_object_set_new(
      t->new_info, "remote", json_string(t->resolved ? t->resolved : t->location));
  set_kept_files(ctx, t->new_info, t->info, t->kept, t->tracked);
  json_object_set_new(t->new_info, "auto-update",
                      sc_deploy_auto_update(t->img, t->o->auto_update, t->info));
  if (!write_info(ctx, p->slot_path, t->new_info, error) ||
      !sc_journal_step(ctx, t->journal, "info", error))
    return FALSE;
  if (t->ex->no_container_service && !t->remote)
    sc_deploy_trim_rootfs(p->slot_path);
  if (!install_unit_files(ctx, t->name, p->slot_path, p, error) ||
      !sc_journal_step(ctx, t->journal, "unit", error) || !switch_link(ctx, p, p->slot, error))
    return FALSE;
  t->switched = TRUE;
  return sc_journal_step(ctx, t->journal, "link", error);
}

/* Restarted when it ran; a controlled update also watches it settle.
 * FALSE with *@out_controlled when a controlled update failed (to roll
 * back), else with the error of an update that stands. */
static gboolean
update_settle(Update *t, gboolean *out_controlled, GError **error)
{
  gboolean restarted = reload_and_restart(t->ctx, t->name, t->p, !t->ex->no_container_service,
                                          t->was_active, error);
  g_autofree char *state = NULL;

  sc_journal_finish(t->ctx, t->journal); /* (done, whether the unit runs or not) */
  *out_controlled = t->o->controlled;
  if (!restarted && t->o->controlled) {
    /* systemctl's own message spans lines: the unit's state says it */
    sc_systemd_unit_settles(t->ctx, t->name, 0, &state);
    g_clear_error(error);
    g_set_error(error, SC_ERROR, SC_ERUNTIME, "%s.service did not start: %s", t->name,
                state ? state : "?");
    return FALSE;
  }
  if (!restarted) {
    g_prefix_error(error, "container %s was updated to %s, but: ", t->name, t->p->slot);
    return FALSE;
  }
  if (t->o->controlled && t->was_active &&
      !sc_systemd_unit_settles(t->ctx, t->name, t->o->settle_ms ? t->o->settle_ms : 5000,
                               &state)) {
    g_set_error(error, SC_ERROR, SC_ERUNTIME, "%s.service is %s", t->name, state);
    return FALSE;
  }
  return TRUE;
}

/* A controlled update that failed: back to the old slot, started again. */
static void
update_roll_back(Update *t, GError *why, gboolean *out_rolled_back, GError **error)
{
  ScPaths old = {0};
  g_autoptr(GError) rb_error = NULL;
  json_t *old_info = NULL;

  sc_deploy_paths_init(t->ctx, t->name, 1 - t->next, &old);
  *out_rolled_back =
      rollback_locked(t->ctx, t->name, t->new_info, &old, TRUE, &old_info, &rb_error);
  if (*out_rolled_back)
    g_set_error(error, SC_ERROR, SC_ERUNTIME,
                "container %s did not stay running after the update to %.12s (%s): rolled "
                "back to %s, %s",
                t->name, t->img->id, why->message, old.slot,
                sc_systemd_unit_active(t->ctx, t->name) ? "which is running"
                                                        : "which is not running");
  else
    g_set_error(error, SC_ERROR, SC_ERUNTIME,
                "container %s did not stay running after the update to %.12s (%s), and the "
                "automatic rollback to %s failed: %s",
                t->name, t->img->id, why->message, old.slot, rb_error->message);
  json_decref(old_info);
  sc_deploy_paths_clear(&old);
}

static gboolean update_locked_runtime(sc_context *ctx, const char *name,
                                      const sc_update_opts *o, json_t *info, const ScPaths *p,
                                      json_t **out_doc, gboolean *out_rolled_back,
                                      GError **error);

/* The update of a container whose lock is held: fills *@out_doc. The new
 * deployment runs with the runtime recorded for the container unless one
 * was given (atomic let atomic.conf's runtime replace it; §10 of the
 * reference: here an update never changes the runtime behind the
 * administrator's back). */
static gboolean
update_locked(sc_context *ctx, const char *name, const sc_update_opts *o, json_t *info,
              const ScPaths *p, json_t **out_doc, gboolean *out_rolled_back, GError **error)
{
  gboolean ok;

  if (!sc_context_set_recorded_runtime(
          ctx, json_string_value(json_object_get(info, "runtime")), name, error))
    return FALSE;
  ok = update_locked_runtime(ctx, name, o, info, p, out_doc, out_rolled_back, error);
  sc_context_set_recorded_runtime(ctx, NULL, NULL, NULL);
  return ok;
}

/* The slot an update fills from scratch is the previous deployment; when
 * its rootfs is bound on a DIR (mount NAME DIR before the last update) it
 * would be emptied under DIR: refused, naming DIR. */
static gboolean
slot_not_mounted(const char *name, const char *slot_path, GError **error)
{
  g_autofree char *rootfs = g_build_filename(slot_path, "rootfs", NULL);
  g_autofree char *dir = sc_mount_find_bind(rootfs);

  if (dir == NULL)
    return TRUE;
  g_set_error(error, SC_ERROR, SC_EBUSY,
              "container %s: the previous deployment's rootfs %s, which this update replaces, "
              "is mounted on %s; umount %s first", name, rootfs, dir, dir);
  return FALSE;
}

/* update NAME --auto-update=POLICY with nothing else to change: the
 * policy goes into the current deployment's info (an update records it in
 * the new one). */
static gboolean
record_auto_update(sc_context *ctx, const char *name, json_t *info, const char *policy,
                   GError **error)
{
  g_autofree char *cur = sc_deploy_current_slot(ctx, name);

  if (cur == NULL) {
    g_set_error(error, SC_ERROR, SC_ENOTFOUND, "container %s has no current deployment", name);
    return FALSE;
  }
  json_object_set_new(info, "auto-update",
                      json_pack("{s:s, s:s}", "policy", policy, "from", "option"));
  return write_info(ctx, cur, info, error);
}

/* update's "auto_update": the policy the container has after the update
 * (a dry run: would have), where it comes from, and the one it had
 * (@was). @info is the current deployment's info as it is now. */
static json_t *
auto_update_result(const Update *t, json_t *info, const char *was)
{
  json_t *now = json_object_get(t->new_info ? t->new_info : info, "auto-update");

  if (t->o->dry_run && (t->changed || t->o->auto_update))
    now = sc_deploy_auto_update(t->img, t->o->auto_update, info);
  else if (now)
    now = json_deep_copy(now);
  else
    now = json_pack("{s:s, s:s}", "policy", "disabled", "from", "default");
  json_object_set_new(now, "was", json_string(was));
  return now;
}

static gboolean
update_locked_runtime(sc_context *ctx, const char *name, const sc_update_opts *o, json_t *info,
                      const ScPaths *p, json_t **out_doc, gboolean *out_rolled_back,
                      GError **error)
{
  g_auto(Update) t = {0};
  GError *local = NULL;
  gboolean controlled = FALSE;
  const char *had = json_string_value(
    json_object_get(json_object_get(info, "auto-update"), "policy"));
  g_autofree char *was = g_strdup(had ? had : "disabled");

  t.ctx = ctx;
  t.name = name;
  t.o = o;
  t.info = info;
  t.p = p;
  t.next = slot_index(p->slot);
  t.kept = g_ptr_array_new_with_free_func(g_free);
  if (!update_find(&t, &local))
    goto failed;
  /* the review before anything changes: a refusal leaves every slot */
  if (t.changed && !update_review(&t, error))
    return FALSE;
  if (o->dry_run) {
    *out_doc = json_pack("{s:i, s:s, s:b, s:b, s:s, s:s, s:s?}", "schema", 1, "name", name,
                         "updated", 0, "dry_run", 1, "id", t.img->id, "image", t.img->name,
                         "deployment", t.changed ? p->slot : NULL);
    json_object_set_new(*out_doc, "would_update", json_boolean(t.changed));
    json_object_set_new(*out_doc, "auto_update", auto_update_result(&t, info, was));
    json_object_set_new(*out_doc, "privileges",
                        t.privileges ? json_incref(t.privileges)
                                     : json_pack("{s:[], s:[]}", "added", "removed"));
    return TRUE;
  }
  if (!t.changed && o->auto_update && !record_auto_update(ctx, name, info, o->auto_update, error))
    return FALSE;
  if (t.changed && !slot_not_mounted(name, p->slot_path, error))
    return FALSE; /* (before the slot is touched: the failure path clears it) */
  if (t.changed && !(update_prepare(&t, &local) && update_apply(&t, &local)))
    goto failed;
  if (t.changed && !update_settle(&t, &controlled, &local)) {
    if (!controlled) {
      g_propagate_error(error, local);
      return FALSE;
    }
    update_roll_back(&t, local, out_rolled_back, error);
    g_error_free(local);
    return FALSE;
  }
  *out_doc = json_pack("{s:i, s:s, s:b, s:s, s:s, s:s?, s:b, s:b}",
                       "schema",
                       1,
                       "name",
                       name,
                       "updated",
                       t.changed,
                       "id",
                       t.img->id,
                       "image",
                       t.img->name,
                       "deployment",
                       t.changed ? p->slot : NULL,
                       "restarted",
                       t.changed && t.was_active,
                       "controlled",
                       o->controlled);
  json_object_set_new(*out_doc, "kept", strv_json(t.kept));
  json_object_set_new(*out_doc, "auto_update", auto_update_result(&t, info, was));
  json_object_set_new(*out_doc, "warnings", sc_rendering_warnings_json(t.r));
  json_object_set_new(*out_doc, "privileges",
                      t.privileges ? json_incref(t.privileges)
                                   : json_pack("{s:[], s:[]}", "added", "removed"));
  return TRUE;

failed:
  /* before the switch the old deployment stays current, as it was */
  if (!t.switched && t.journal)
    sc_update_recover(ctx, name, t.journal, NULL, NULL);
  else if (!t.switched && t.img && t.changed)
    sc_deploy_clear_slot(p->slot_path, NULL); /* (nothing on the host was changed yet) */
  g_propagate_error(error, local);
  return FALSE;
}

static gboolean opted_in(sc_context *ctx, const char *name);

SC_API int
sc_container_update(sc_context *ctx, const char *name, const char *rebase, const sc_values *set,
                    const sc_pull_opts *pull, char **out_json, sc_error **error)
{
  sc_update_opts o = {0};
  int rc;

  SC_CHECK_ARG(ctx != NULL, error);
  if (rebase && *rebase == '\0')
    return sc_error_set(error, SC_EINVAL, "%s: invalid argument: an empty rebase image",
                        G_STRFUNC);
  o.rebase = (char *)rebase;
  o.values = set ? (sc_values *)set : sc_values_new_internal();
  o.pull = pull;
  rc = sc_container_update_with_opts(ctx, name, &o, out_json, error);
  if (set == NULL)
    sc_values_free(o.values);
  return rc;
}

SC_API int
sc_container_update_with_opts(sc_context *ctx, const char *name, const sc_update_opts *opts,
                              char **out_json, sc_error **error)
{
  GError *gerror = NULL;
  sc_update_opts defaults = {0};
  json_t *info = NULL, *doc = NULL;
  ScPaths p = {0};
  int lock = -1;
  gboolean ok, rolled_back = FALSE;

  SC_CHECK_ARG(ctx != NULL, error);
  if (opts == NULL) {
    defaults.values = sc_values_new_internal();
    opts = &defaults;
  }
  if (opts->auto_only && sc_name_validate(name, NULL) == SC_OK && !opted_in(ctx, name)) {
    if (out_json) {
      doc = json_pack("{s:i, s:s, s:b, s:b, s:s}", "schema", 1, "name", name, "updated", 0,
                      "skipped", 1, "reason", "not opted in");
      *out_json = sc_json_dump(doc, TRUE);
      json_decref(doc);
    }
    return SC_OK;
  }
  ok = open_for_switch_dry(ctx, name, &lock, NULL, &info, &p, opts->dry_run, &gerror) &&
       update_locked(ctx, name, opts, info, &p, &doc, &rolled_back, &gerror);
  if (ok && out_json)
    *out_json = sc_json_dump(doc, TRUE);
  sc_deploy_unlock_container(ctx, name, lock);
  json_decref(doc);
  json_decref(info);
  sc_deploy_paths_clear(&p);
  sc_values_free(defaults.values);
  if (!ok)
    return sc_error_propagate(error, gerror);
  return SC_OK;
}

/* Whether the current deployment of @name opted in to automatic updates
 * (read without the lock: an update --all --auto that races with another
 * change of the policy goes by the one it read). */
static gboolean
opted_in(sc_context *ctx, const char *name)
{
  g_autofree char *cur = sc_deploy_current_slot(ctx, name);
  json_t *info = cur ? sc_deploy_read_info(cur) : NULL;
  gboolean yes = sc_deploy_auto_update_enabled(info);

  json_decref(info);
  return yes;
}

/* update --all --auto, "registry" policy: the container's image is asked
 * of its registry first (as images update IMAGE), pulled when its digest
 * changed; an image that did not come from a registry, or a registry that
 * cannot be asked, fails the container's update. */
static gboolean
auto_pull(sc_context *ctx, const char *name, const sc_pull_opts *pull, GError **error)
{
  g_autofree char *cur = sc_deploy_current_slot(ctx, name);
  json_t *info = cur ? sc_deploy_read_info(cur) : NULL;
  g_autofree char *image = g_strdup(json_string_value(json_object_get(info, "image")));
  g_autofree char *out = NULL;
  sc_error *serr = NULL;
  json_t *doc, *item;
  gboolean ok = TRUE;

  json_decref(info);
  if (image == NULL) {
    g_set_error(error, SC_ERROR, SC_ENOTFOUND, "container %s: no image recorded in its info",
                name);
    return FALSE;
  }
  if (sc_images_update_json(ctx, image, pull, &out, &serr) != SC_OK) {
    g_set_error(error, SC_ERROR, sc_error_code(serr), "image %s: %s", image,
                sc_error_message(serr));
    sc_error_free(serr);
    return FALSE;
  }
  doc = json_loads(out, 0, NULL);
  item = json_array_get(json_object_get(doc, "images"), 0);
  if (json_string_value(json_object_get(item, "skipped"))) {
    g_set_error(error, SC_ERROR, SC_EINVAL, "image %s cannot be updated from a registry: %s",
                image, json_string_value(json_object_get(item, "skipped")));
    ok = FALSE;
  }
  json_decref(doc);
  return ok;
}

/* update --all --auto --dry-run: what the registry has now for the
 * container's image, against the deployed revision; nothing is pulled (the
 * layers are read and dropped: the privilege review needs the pull). */
static json_t *
auto_dry_run(sc_context *ctx, const char *name, const sc_pull_opts *pull, GError **error)
{
  g_autofree char *cur = sc_deploy_current_slot(ctx, name);
  json_t *info = cur ? sc_deploy_read_info(cur) : NULL;
  g_autofree char *image = g_strdup(json_string_value(json_object_get(info, "image")));
  g_autofree char *revision = g_strdup(json_string_value(json_object_get(info, "revision")));
  g_autofree char *out = NULL;
  sc_error *serr = NULL;
  json_t *doc, *entry;
  const char *id;

  json_decref(info);
  if (image == NULL) {
    g_set_error(error, SC_ERROR, SC_ENOTFOUND, "container %s: no image recorded in its info",
                name);
    return NULL;
  }
  if (sc_image_inspect_remote_json(ctx, image, pull, &out, &serr) != SC_OK) {
    g_set_error(error, SC_ERROR, sc_error_code(serr), "image %s: %s", image,
                sc_error_message(serr));
    sc_error_free(serr);
    return NULL;
  }
  doc = json_loads(out, 0, NULL);
  id = json_string_value(json_object_get(doc, "id"));
  entry = json_pack("{s:s, s:b, s:b, s:s?, s:s, s:b}", "name", name, "updated", 0, "dry_run", 1,
                    "id", id, "image", image, "would_update", g_strcmp0(id, revision) != 0);
  json_decref(doc);
  return entry;
}

SC_API int
sc_containers_update_all_json(sc_context *ctx, const sc_update_opts *opts, char **out_json,
                              sc_error **error)
{
  g_autoptr(GPtrArray) names = NULL;
  sc_update_opts all = {0};
  json_t *arr = json_array(), *doc;

  SC_CHECK_ARG(ctx != NULL && out_json != NULL, error);
  SC_CHECK_CONFIG(ctx, error);
  if (opts && opts->rebase) {
    json_decref(arr);
    return sc_error_set(error, SC_EINVAL, "update --all cannot rebase: name one container");
  }
  if (opts && opts->auto_update) {
    json_decref(arr);
    return sc_error_set(error, SC_EINVAL,
                        "update --all cannot set an auto-update policy: name one container");
  }
  if (opts)
    all = *opts;
  else
    all.values = sc_values_new_internal();
  all.controlled = TRUE; /* as atomic: one broken image must not leave a service down */
  names = sc_deploy_container_names(ctx, FALSE);
  for (guint i = 0; i < names->len; i++) {
    const char *name = names->pdata[i];
    GError *gerror = NULL;
    json_t *info = NULL, *one = NULL;
    ScPaths p = {0};
    int lock = -1;
    gboolean rolled_back = FALSE;
    if (all.auto_only && !opted_in(ctx, name)) {
      json_array_append_new(arr, json_pack("{s:s, s:b, s:b, s:s}", "name", name, "updated", 0,
                                           "skipped", 1, "reason", "not opted in"));
      continue;
    }
    if (all.auto_only && all.dry_run) {
      if ((one = auto_dry_run(ctx, name, all.pull, &gerror)) == NULL) {
        one = json_pack("{s:s, s:b, s:s, s:s}",
                        "name",
                        name,
                        "updated",
                        0,
                        "error",
                        gerror->message,
                        "code",
                        sc_error_code_name(gerror->code));
        g_clear_error(&gerror);
      }
      json_array_append_new(arr, one);
      continue;
    }
    if ((!all.auto_only || auto_pull(ctx, name, all.pull, &gerror)) &&
        open_for_switch_dry(ctx, name, &lock, NULL, &info, &p, all.dry_run, &gerror) &&
        update_locked(ctx, name, &all, info, &p, &one, &rolled_back, &gerror)) {
      json_object_del(one, "schema");
      json_array_append_new(arr, one);
    } else {
      json_array_append_new(arr,
                            json_pack("{s:s, s:b, s:b, s:s, s:s}",
                                      "name",
                                      name,
                                      "updated",
                                      0,
                                      "rolled_back",
                                      rolled_back,
                                      "error",
                                      gerror->message,
                                      "code",
                                      sc_error_code_name(gerror->code)));
      g_clear_error(&gerror);
    }
    sc_deploy_unlock_container(ctx, name, lock);
    json_decref(info);
    sc_deploy_paths_clear(&p);
  }
  if (opts == NULL)
    sc_values_free(all.values);
  doc = json_pack("{s:i, s:o}", "schema", 1, "containers", arr);
  *out_json = sc_json_dump(doc, TRUE);
  json_decref(doc);
  return SC_OK;
}

/* The rollback of a container whose lock is held, to the slot of @p; its
 * unit is restarted if it was running, or if @start (a unit that failed
 * after an update is not active, but is meant to run). */
/* The slot a rollback goes to: its info, and its host files planned from
 * its own image and values (atomic rendered them with no values and kept
 * stale checksums). */
static gboolean
rollback_target(sc_context *ctx, const char *name, json_t *cur_info, const ScPaths *p,
                json_t **out_info, GHashTable **out_cur_tracked, GPtrArray **out_plan,
                GError **error)
{
  g_autofree char *rootfs = NULL;
  g_autofree char *exports = NULL;
  g_autoptr(sc_values) values = NULL;
  g_autoptr(sc_exports) ex = NULL;
  ScPaths cur = {0};
  struct stat st;

  /* a slot is a directory the tool made: a link there (to anywhere) is
   * not a deployment */
  if (lstat(p->slot_path, &st) == 0 && !S_ISDIR(st.st_mode)) {
    g_set_error(error, SC_ERROR, SC_EUNSUPPORTED,
                "container %s: %s is not a directory; refusing to roll back to it", name,
                p->slot);
    return FALSE;
  }
  *out_info = sc_deploy_read_info(p->slot_path);
  if (*out_info == NULL) {
    g_set_error(error, SC_ERROR, SC_ENOTFOUND,
                "container %s has no previous deployment to roll back to (%s is missing or "
                "incomplete)",
                name, p->slot);
    return FALSE;
  }
  sc_deploy_paths_init(ctx, name, 1 - slot_index(p->slot), &cur);
  *out_cur_tracked = sc_deploy_tracked(ctx, cur.slot_path, cur_info);
  sc_deploy_paths_clear(&cur);
  rootfs = sc_deploy_slot_rootfs(ctx, p->slot_path);
  exports = g_build_filename(rootfs, "exports", NULL);
  values = sc_deploy_info_values(*out_info);
  if (g_file_test(exports, G_FILE_TEST_IS_DIR)) {
    /* the target's own files are its too: one the admin modified since
     * (an update kept it) stays as it is, untracked */
    g_autoptr(GHashTable) owned = sc_deploy_tracked(ctx, p->slot_path, *out_info);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, *out_cur_tracked);
    while (g_hash_table_iter_next(&it, &k, &v))
      g_hash_table_replace(owned, g_strdup(k), g_strdup(v));
    ex = sc_deploy_open_exports(exports, error);
    return ex != NULL && (*out_plan = sc_hostfs_plan(ctx, ex, values, owned, error)) != NULL;
  }
  if (json_array_size(json_object_get(*out_info, "installed-files")) > 0) {
    g_set_error(error, SC_ERROR, SC_EUNSUPPORTED,
                "container %s: the previous deployment's host files cannot be restored (its "
                "image files are gone)",
                name);
    return FALSE;
  }
  return TRUE;
}

/* The target slot's host files on the host, the current one's gone, and
 * the target's tracking written back into its info. */
static gboolean
rollback_host_files(sc_context *ctx,
                    const ScPaths *p,
                    GPtrArray *plan,
                    GHashTable *cur_tracked,
                    json_t *info,
                    ScJournal *journal,
                    GPtrArray *kept,
                    GError **error)
{
  g_autoptr(GHashTable) tracked = sc_hostfs_apply(ctx, plan, error);
  g_autoptr(GList) keys = NULL;
  json_t *files = json_array(), *sums = json_object();

  if (tracked == NULL) {
    json_decref(files);
    json_decref(sums);
    return FALSE;
  }
  remove_gone_files(ctx, cur_tracked, tracked, kept);
  keys = g_list_sort(g_hash_table_get_keys(tracked), (GCompareFunc)strcmp);
  for (GList *l = keys; l; l = l->next) {
    json_array_append_new(files, json_string(l->data));
    json_object_set_new(sums, l->data, json_string(g_hash_table_lookup(tracked, l->data)));
  }
  json_object_set_new(info, "installed-files", files);
  json_object_set_new(info, "installed-files-checksum", sums);
  set_kept_files(ctx, info, info, kept, tracked);
  return sc_journal_step(ctx, journal, "hostfs", error) && write_info(ctx, p->slot_path, info, error) &&
         sc_journal_step(ctx, journal, "info", error);
}

/* Back to the other slot, each step journaled; started again when the
 * unit ran (or @start). */
static gboolean
rollback_locked(sc_context *ctx, const char *name, json_t *cur_info, const ScPaths *p,
                gboolean start, json_t **out_info, GError **error)
{
  g_autoptr(GHashTable) cur_tracked = NULL;
  g_autoptr(GPtrArray) plan = NULL;
  g_autoptr(json_t) info = NULL;
  g_autoptr(ScJournal) journal = NULL;
  g_autoptr(GHashTable) planned = NULL;
  g_autoptr(GPtrArray) kept = g_ptr_array_new_with_free_func(g_free); /* (reported) */
  gboolean was_active, has_service, switched = FALSE;
  ScSelinux *se = NULL;

  /* the policy that labels what is written, read (or refused) before the
   * host changes */
  if (!sc_context_selinux(ctx, &se, error) ||
      !rollback_target(ctx, name, cur_info, p, &info, &cur_tracked, &plan, error))
    return FALSE;
  has_service = !json_is_false(json_object_get(info, "has-container-service"));
  was_active = has_service && (start || sc_systemd_unit_active(ctx, name));
  planned = plan ? sc_hostfs_plan_tracking(plan, TRUE) : NULL;
  journal = sc_journal_new("rollback", p->slot_path, planned, was_active);
  journal->owns_unit = TRUE;
  if (!sc_journal_step(ctx, journal, "prepared", error))
    goto undo;
  if (was_active) {
    g_autofree char *unit = g_strconcat(name, ".service", NULL);
    sc_systemctl(ctx, "stop", unit, NULL, FALSE, NULL);
  }
  if (!sc_journal_step(ctx, journal, "stopped", error) ||
      (plan && !rollback_host_files(ctx, p, plan, cur_tracked, info, journal, kept, error)) ||
      !install_unit_files(ctx, name, p->slot_path, p, error) ||
      !sc_journal_step(ctx, journal, "unit", error) || !switch_link(ctx, p, p->slot, error))
    goto undo;
  switched = TRUE;
  if (!sc_journal_step(ctx, journal, "link", error))
    return FALSE;
  if (!reload_and_restart(ctx, name, p, has_service, was_active, error)) {
    sc_journal_finish(ctx, journal);
    return FALSE;
  }
  sc_journal_finish(ctx, journal);
  if (out_info)
    *out_info = json_incref(info);
  return TRUE;

undo:
  if (!switched)
    sc_update_recover(ctx, name, journal, NULL, NULL); /* the current deployment stays, as it was */
  return FALSE;
}

/* A rollback is not reviewed: the deployment it goes back to was the
 * current one before, with privileges the admin accepted then (or that
 * added nothing). What it changes is reported all the same. Called once
 * the rollback is done: @p is the slot now current, @cur_info the one
 * left. */
static json_t *
rollback_privileges(sc_context *ctx, const char *name, json_t *cur_info, json_t *info,
                    const ScPaths *p)
{
  ScPaths left = {0};
  g_autoptr(json_t) old_doc = NULL, new_doc = NULL;

  sc_deploy_paths_init(ctx, name, 1 - slot_index(p->slot), &left);
  const char *own[] = {p->slot, left.slot, NULL};
  old_doc = slot_privileges(ctx, name, cur_info, left.slot_path, left.slot, own);
  new_doc = slot_privileges(ctx, name, info, p->slot_path, p->slot, own);
  sc_deploy_paths_clear(&left);
  if (old_doc == NULL || new_doc == NULL)
    return json_pack("{s:[], s:[]}", "added", "removed");
  return sc_privileges_diff(old_doc, new_doc);
}

SC_API int
sc_container_rollback(sc_context *ctx, const char *name, char **out_json, sc_error **error)
{
  GError *gerror = NULL;
  json_t *cur_info = NULL, *info = NULL;
  g_autofree char *finished = NULL;
  ScPaths p = {0};
  int lock = -1;
  gboolean ok;

  SC_CHECK_ARG(ctx != NULL, error);
  ok = open_for_switch(ctx, name, &lock, &finished, &cur_info, &p, &gerror);
  if (ok && g_strcmp0(finished, "rollback") == 0) {
    /* this very command, interrupted: it is complete now */
    ScPaths cur = {0};
    sc_deploy_paths_init(ctx, name, 1 - slot_index(p.slot), &cur);
    g_free(p.slot);
    p.slot = g_steal_pointer(&cur.slot);
    sc_deploy_paths_clear(&cur);
    info = json_incref(cur_info);
  } else
    ok = ok && rollback_locked(ctx, name, cur_info, &p, FALSE, &info, &gerror);
  if (ok && out_json) {
    json_t *kept = json_object_get(info, "kept-files");
    /* "id" as update has it: the image the container runs now */
    json_t *doc = json_pack("{s:i, s:s, s:s, s:O?, s:O?}", "schema", 1, "name", name,
                            "deployment", p.slot, "image", json_object_get(info, "image"), "id",
                            json_object_get(info, "revision"));
    /* the host files left to the admin, as update reports them */
    json_object_set_new(doc, "kept", json_is_array(kept) ? json_deep_copy(kept) : json_array());
    json_object_set_new(doc, "privileges", rollback_privileges(ctx, name, cur_info, info, &p));
    *out_json = sc_json_dump(doc, TRUE);
    json_decref(doc);
  }
  sc_deploy_unlock_container(ctx, name, lock);
  json_decref(cur_info);
  json_decref(info);
  sc_deploy_paths_clear(&p);
  if (!ok)
    return sc_error_propagate(error, gerror);
  return SC_OK;
}
