/*
 * Uninstall, and the recovery of an operation a crash interrupted (its
 * journal), which every verb runs first under the container's lock.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "container.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Everything of container @name goes (its lock held): the unit (disabled
 * and stopped first, when it is the container's), tmpfiles, the host files
 * it installed or an interrupted operation wrote, unmodified, the
 * directories it created when empty, the symlink, both slots. Itself
 * journaled: a crash leaves what the next uninstall finishes. */
/* What an uninstall removes: the deployment's host files and those that
 * interrupted operations wrote (as their journals say), whether the unit is
 * the container's, and the slot to journal the removal in. */
typedef struct {
  ScPaths p0, p1;
  char *slot;          /* the current slot, if the NAME link is there */
  GHashTable *tracked; /* host path -> checksum */
  gboolean has_service, owns_unit;
  const char *journal_slot;
} Removal;

static void
removal_clear(Removal *r)
{
  sc_deploy_paths_clear(&r->p0);
  sc_deploy_paths_clear(&r->p1);
  g_free(r->slot);
  g_clear_pointer(&r->tracked, g_hash_table_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Removal, removal_clear)

/* The files an interrupted operation's journal planned, added to
 * @r->tracked: whichever content is there is ours when both the deployment
 * and the operation wrote a file. */
static void
add_journal_files(sc_context *ctx, Removal *r, ScJournal *j)
{
  GHashTableIter it;
  gpointer jk, jv;

  r->owns_unit |= j->owns_unit;
  g_hash_table_iter_init(&it, j->planned);
  while (g_hash_table_iter_next(&it, &jk, &jv)) {
    const char *have = g_hash_table_lookup(r->tracked, jk);
    if (have != NULL && strcmp(have, jv) != 0) {
      g_autofree char *sum = sc_hostfs_checksum(ctx, jk);
      if (strcmp(sum, jv) != 0)
        continue;
    }
    g_hash_table_replace(r->tracked, g_strdup(jk), g_strdup(jv));
  }
}

/* A slot of the container holds the copy of its unit or tmpfiles file
 * that install put there: NAME.service and NAME.conf are the container's
 * (install refuses a NAME whose unit or fragment exists). */
static gboolean
slot_has_unit_copy(const char *name, const char *const *slots)
{
  g_autofree char *unit = g_strconcat(name, ".service", NULL);
  g_autofree char *tmpfiles = g_strdup_printf("tmpfiles-%s.conf", name);
  struct stat st;

  for (guint i = 0; slots[i] != NULL; i++) {
    g_autofree char *u = g_build_filename(slots[i], unit, NULL);
    g_autofree char *t = g_build_filename(slots[i], tmpfiles, NULL);
    if ((lstat(u, &st) == 0 && S_ISREG(st.st_mode)) || (lstat(t, &st) == 0 && S_ISREG(st.st_mode)))
      return TRUE;
  }
  return FALSE;
}

/* Without a readable info (damaged, or written over), the unit and
 * tmpfiles files are found by NAME: the container's when a slot holds
 * their copy; otherwise a NAME.service there is not known to be ours, and
 * the uninstall is refused before any change (an uninstall that went on
 * left the enabled unit of a container that no longer existed, which no
 * verb could remove: trial17b N2). */
static gboolean
removal_without_info(sc_context *ctx, const char *name, Removal *r, GError **error)
{
  const char *slots[] = {
    r->slot ? r->slot : r->p0.slot_path, r->p0.slot_path, r->p1.slot_path, NULL
  };
  struct stat st;

  (void)ctx;
  if (slot_has_unit_copy(name, slots)) {
    r->owns_unit = r->has_service = TRUE;
    return TRUE;
  }
  if (lstat(r->p0.unit_path, &st) == 0 || lstat(r->p0.tmpfiles_path, &st) == 0) {
    g_set_error(error,
                SC_ERROR,
                SC_EINVAL,
                "container %s: its info in %s cannot be read and no slot holds a copy of its "
                "unit: %s is not known to be the container's; nothing was removed (remove it "
                "yourself if it is, then uninstall again)",
                name,
                slots[0],
                lstat(r->p0.unit_path, &st) == 0 ? r->p0.unit_path : r->p0.tmpfiles_path);
    return FALSE;
  }
  return TRUE;
}

static gboolean
removal_gather(sc_context *ctx, const char *name, Removal *r, GError **error)
{
  g_autoptr(json_t) info = NULL;
  struct stat st;

  sc_deploy_paths_init(ctx, name, 0, &r->p0);
  sc_deploy_paths_init(ctx, name, 1, &r->p1);
  r->tracked = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  r->slot = sc_deploy_current_slot(ctx, name);
  info = r->slot ? sc_deploy_read_info(r->slot) : NULL;
  if (info == NULL)
    info = sc_deploy_read_info(r->p0.slot_path); /* half-installed */
  r->has_service = !(info && json_is_false(json_object_get(info, "has-container-service")));
  if (info) {
    g_autoptr(GHashTable) t = sc_deploy_tracked(ctx, r->slot ? r->slot : r->p0.slot_path, info);
    GHashTableIter it;
    gpointer tk, tv;
    g_hash_table_iter_init(&it, t);
    while (g_hash_table_iter_next(&it, &tk, &tv))
      g_hash_table_replace(r->tracked, g_strdup(tk), g_strdup(tv));
  }
  r->owns_unit = info != NULL;
  for (int i = 0; i < 2; i++) {
    const char *path = i == 0 ? r->p0.slot_path : r->p1.slot_path;
    g_autoptr(ScJournal) j = sc_journal_read(path);
    if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
        (r->journal_slot == NULL || (r->slot && strcmp(path, r->slot) == 0)))
      r->journal_slot = path;
    if (j != NULL)
      add_journal_files(ctx, r, j);
  }
  return info != NULL || r->owns_unit || removal_without_info(ctx, name, r, error);
}

/* Disabled, and stopped where systemd runs. */
static void
removal_disable(sc_context *ctx, const char *name, Removal *r)
{
  g_autofree char *unit = g_strconcat(name, ".service", NULL);

  if (!r->has_service || !r->owns_unit)
    return;
  if (sc_context_is_user(ctx)) /* (on disk when the user's systemd does not run) */
    sc_systemctl(ctx,
                 "disable",
                 sc_systemd_user_running(ctx) ? "--now" : unit,
                 sc_systemd_user_running(ctx) ? unit : NULL,
                 FALSE,
                 NULL);
  else if (sc_systemd_offline(ctx))
    sc_systemctl(ctx, "disable", unit, NULL, FALSE, NULL);
  else if (sc_systemd_running())
    sc_systemctl(ctx, "disable", "--now", unit, FALSE, NULL);
}

/* The unit and tmpfiles files go before anything else, so that nothing
 * starts the container again. */
static void
removal_unit_files(sc_context *ctx, Removal *r)
{
  struct stat st;

  if (!r->owns_unit)
    return;
  unlink(r->p0.unit_path);
  if (sc_context_is_user(ctx))
    sc_systemctl(ctx, "daemon-reload", NULL, NULL, FALSE, NULL); /* (skipped without it) */
  else if (!sc_systemd_offline(ctx) && sc_systemd_running())
    sc_systemctl(ctx, "daemon-reload", NULL, NULL, FALSE, NULL);
  if (lstat(r->p0.tmpfiles_path, &st) == 0) {
    sc_tmpfiles_run(ctx, "--remove", r->p0.tmpfiles_path, FALSE, NULL);
    unlink(r->p0.tmpfiles_path);
  }
}

static gboolean
step(sc_context *ctx, ScJournal *journal, const char *name, GError **error)
{
  return journal == NULL || sc_journal_step(ctx, journal, name, error);
}

gboolean
sc_uninstall_locked(sc_context *ctx, const char *name, GPtrArray *kept, GError **error)
{
  g_auto(Removal) r = {0};
  g_autoptr(ScJournal) journal = NULL;

  if (!removal_gather(ctx, name, &r, error))
    return FALSE;
  /* a rootfs bound elsewhere (mount NAME DIR) would be emptied under DIR,
   * which then showed a deleted directory: refused before any change */
  for (int i = 0; i < 2; i++) {
    g_autofree char *rootfs =
      g_build_filename(i == 0 ? r.p0.slot_path : r.p1.slot_path, "rootfs", NULL);
    g_autofree char *dir = sc_mount_find_bind(rootfs);
    if (dir != NULL) {
      g_set_error(error, SC_ERROR, SC_EBUSY,
                  "container %s: its rootfs %s is mounted on %s; umount %s first", name, rootfs,
                  dir, dir);
      return FALSE;
    }
  }
  /* what the user cannot remove (root's, in a user's slot) refuses the
   * uninstall before any change: the unit, link and journal stay as they
   * were (trial17b N4) */
  if (!sc_check_removable(r.p0.slot_path, error) || !sc_check_removable(r.p1.slot_path, error))
    return FALSE;
  if (r.journal_slot) {
    journal = sc_journal_new("uninstall", r.journal_slot, r.tracked, FALSE);
    journal->owns_unit = r.owns_unit;
  }
  if (!step(ctx, journal, "begun", error))
    return FALSE;
  removal_disable(ctx, name, &r);
  if (!step(ctx, journal, "disabled", error))
    return FALSE;
  removal_unit_files(ctx, &r);
  if (!step(ctx, journal, "unit", error))
    return FALSE;
  sc_hostfs_remove(ctx, r.tracked, kept);
  /* (with the files an update left to the admin: kept, said so again) */
  if (kept)
    g_ptr_array_sort(kept, sc_strcmp_indirect);
  if (!step(ctx, journal, "hostfs", error))
    return FALSE;
  if (unlink(r.p0.link_path) != 0 && errno != ENOENT) {
    g_set_error(error, SC_ERROR, SC_EIO, "cannot remove %s: %s", r.p0.link_path,
                g_strerror(errno));
    return FALSE;
  }
  if (!step(ctx, journal, "link", error))
    return FALSE;
  /* the slot without the journal last: an interrupted removal stays visible */
  /* (what cannot be removed is an error: the container stays listed, and
   * uninstall again finishes it) */
  if (r.journal_slot && strcmp(r.journal_slot, r.p0.slot_path) == 0)
    return sc_deploy_clear_slot(r.p1.slot_path, error) &&
           sc_deploy_clear_slot(r.p0.slot_path, error);
  return sc_deploy_clear_slot(r.p0.slot_path, error) &&
         sc_deploy_clear_slot(r.p1.slot_path, error);
}

gboolean
sc_deploy_recover(sc_context *ctx, const char *name, char **out_finished, GError **error)
{
  ScJournal *j = sc_journal_find(ctx, name);
  gboolean ok;

  if (j == NULL)
    return TRUE;
  if (strcmp(j->op, "update") == 0 || strcmp(j->op, "rollback") == 0) {
    sc_context_log(ctx, SC_LOG_WARNING,
                   "container %s: an interrupted %s (after step '%s') is finished or undone first",
                   name, j->op, j->step ? j->step : "?");
    ok = sc_update_recover(ctx, name, j, out_finished, error);
  } else {
    /* an install that did not finish is removed (to be done again); an
     * uninstall is finished */
    sc_context_log(ctx, SC_LOG_WARNING,
                   "container %s: the interrupted %s (after step '%s') is %s first", name, j->op,
                   j->step ? j->step : "?",
                   strcmp(j->op, "install") == 0 ? "undone" : "finished");
    ok = sc_uninstall_locked(ctx, name, NULL, error);
    if (ok && out_finished && strcmp(j->op, "uninstall") == 0)
      *out_finished = g_strdup(j->op);
  }
  sc_journal_free(j);
  return ok;
}

SC_API int
sc_container_uninstall(sc_context *ctx, const char *name, char **out_json, sc_error **error)
{
  GError *gerror = NULL;
  g_autofree char *root = NULL;
  g_autoptr(GPtrArray) kept = g_ptr_array_new_with_free_func(g_free);
  ScPaths p0 = {0}, p1 = {0};
  struct stat st;
  int lock;
  gboolean found;

  SC_CHECK_ARG(ctx != NULL, error);
  SC_CHECK_CONFIG(ctx, error);
  if (!sc_name_check(name, &gerror))
    return sc_error_propagate(error, gerror);
  root = sc_context_host_dir(ctx, sc_context_get_checkout_root(ctx));
  sc_deploy_paths_init(ctx, name, 0, &p0);
  sc_deploy_paths_init(ctx, name, 1, &p1);
  found = lstat(p0.link_path, &st) == 0 ||
          (lstat(p0.slot_path, &st) == 0 && S_ISDIR(st.st_mode)) ||
          (lstat(p1.slot_path, &st) == 0 && S_ISDIR(st.st_mode));
  sc_deploy_paths_clear(&p0);
  sc_deploy_paths_clear(&p1);
  if (!found) {
    /* idempotent: nothing to remove is not an error; the reason goes in
     * the report when there is one (as install's warnings), else logged */
    g_autofree char *why = g_strdup_printf("container %s is not installed", name);
    if (out_json == NULL)
      sc_context_log(ctx, SC_LOG_WARNING, "%s", why);
    if (out_json) {
      json_t *doc = json_pack("{s:i, s:s, s:b, s:[], s:{s:s, s:s}}",
                              "schema",
                              1,
                              "name",
                              name,
                              "removed",
                              0,
                              "kept",
                              "reason",
                              "code",
                              "SC_ENOTFOUND",
                              "message",
                              why);
      *out_json = sc_json_dump(doc, TRUE);
      json_decref(doc);
    }
    return SC_OK;
  }
  lock = sc_deploy_lock_container(root, name, &gerror);
  if (lock < 0)
    return sc_error_propagate(error, gerror);
  if (!sc_uninstall_locked(ctx, name, kept, &gerror)) {
    sc_deploy_unlock_container(ctx, name, lock);
    return sc_error_propagate(error, gerror);
  }
  for (guint i = 0; i < kept->len; i++)
    sc_context_log(ctx, SC_LOG_WARNING, "%s was modified: kept", (char *)kept->pdata[i]);
  sc_deploy_unlock_container(ctx, name, lock);
  if (out_json) {
    json_t *doc = json_pack("{s:i, s:s, s:b}", "schema", 1, "name", name, "removed", 1);
    json_t *arr = json_array();
    for (guint i = 0; i < kept->len; i++)
      json_array_append_new(arr, json_string(kept->pdata[i]));
    json_object_set_new(doc, "kept", arr);
    *out_json = sc_json_dump(doc, TRUE);
    json_decref(doc);
  }
  return SC_OK;
}
