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
gboolean
sc_uninstall_locked(sc_context *ctx, const char *name, GPtrArray *kept, GError **error)
{
  g_autofree char *slot = NULL;
  g_autofree char *unit = NULL;
  g_autoptr(GHashTable) tracked = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(ScJournal) journal = NULL;
  json_t *info;
  const char *journal_slot = NULL;
  ScPaths p0 = {0}, p1 = {0};
  struct stat st;
  gboolean has_service = TRUE, owns_unit, ok = FALSE;

  sc_deploy_paths_init(ctx, name, 0, &p0);
  sc_deploy_paths_init(ctx, name, 1, &p1);
  slot = sc_deploy_current_slot(ctx, name);
  info = slot ? sc_deploy_read_info(slot) : NULL;
  if (info == NULL)
    info = sc_deploy_read_info(p0.slot_path); /* half-installed */
  if (info && json_is_false(json_object_get(info, "has-container-service")))
    has_service = FALSE;
  if (info) {
    g_autoptr(GHashTable) t = sc_deploy_tracked(ctx, slot ? slot : p0.slot_path, info);
    GHashTableIter it;
    gpointer tk, tv;
    g_hash_table_iter_init(&it, t);
    while (g_hash_table_iter_next(&it, &tk, &tv))
      g_hash_table_replace(tracked, g_strdup(tk), g_strdup(tv));
  }
  owns_unit = info != NULL;
  /* what interrupted operations wrote, as their journals say */
  for (int i = 0; i < 2; i++) {
    const char *path = i == 0 ? p0.slot_path : p1.slot_path;
    g_autoptr(ScJournal) j = sc_journal_read(path);
    GHashTableIter it;
    gpointer jk, jv;
    if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
        (journal_slot == NULL || (slot && strcmp(path, slot) == 0)))
      journal_slot = path;
    if (j == NULL)
      continue;
    owns_unit |= j->owns_unit;
    g_hash_table_iter_init(&it, j->planned);
    while (g_hash_table_iter_next(&it, &jk, &jv)) {
      const char *have = g_hash_table_lookup(tracked, jk);
      if (have != NULL && strcmp(have, jv) != 0) {
        /* both the deployment and the operation wrote it: whichever
         * content is there is ours */
        g_autofree char *sum = sc_hostfs_checksum(ctx, jk);
        if (strcmp(sum, jv) != 0)
          continue;
      }
      g_hash_table_replace(tracked, g_strdup(jk), g_strdup(jv));
    }
  }
  if (journal_slot) {
    journal = sc_journal_new("uninstall", journal_slot, tracked, FALSE);
    journal->owns_unit = owns_unit;
    if (!sc_journal_step(ctx, journal, "begun", error))
      goto out;
  }

  unit = g_strconcat(name, ".service", NULL);
  if (has_service && owns_unit) {
    if (sc_systemd_offline(ctx))
      sc_systemctl(ctx, "disable", unit, NULL, FALSE, NULL);
    else if (sc_systemd_running())
      sc_systemctl(ctx, "disable", "--now", unit, FALSE, NULL);
  }
  if (journal && !sc_journal_step(ctx, journal, "disabled", error))
    goto out;
  if (owns_unit) {
    /* the unit goes first, so that nothing starts the container again */
    unlink(p0.unit_path);
    if (!sc_systemd_offline(ctx) && sc_systemd_running())
      sc_systemctl(ctx, "daemon-reload", NULL, NULL, FALSE, NULL);
    if (lstat(p0.tmpfiles_path, &st) == 0) {
      sc_tmpfiles_run(ctx, "--remove", p0.tmpfiles_path, FALSE, NULL);
      unlink(p0.tmpfiles_path);
    }
  }
  if (journal && !sc_journal_step(ctx, journal, "unit", error))
    goto out;
  sc_hostfs_remove(ctx, tracked, kept);
  if (journal && !sc_journal_step(ctx, journal, "hostfs", error))
    goto out;
  if (unlink(p0.link_path) != 0 && errno != ENOENT) {
    g_set_error(error, SC_ERROR, SC_EIO, "cannot remove %s: %s", p0.link_path,
                g_strerror(errno));
    goto out;
  }
  if (journal && !sc_journal_step(ctx, journal, "link", error))
    goto out;
  /* the slot without the journal last: an interrupted removal stays visible */
  if (journal_slot && strcmp(journal_slot, p0.slot_path) == 0) {
    sc_deploy_clear_slot(p1.slot_path);
    sc_deploy_clear_slot(p0.slot_path);
  } else {
    sc_deploy_clear_slot(p0.slot_path);
    sc_deploy_clear_slot(p1.slot_path);
  }
  ok = TRUE;
out:
  json_decref(info);
  sc_deploy_paths_clear(&p0);
  sc_deploy_paths_clear(&p1);
  return ok;
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
    /* idempotent: nothing to remove is not an error */
    sc_context_log(ctx, SC_LOG_WARNING, "container %s is not installed", name);
    if (out_json) {
      json_t *doc = json_pack("{s:i, s:s, s:b, s:[]}", "schema", 1, "name", name, "removed", 0,
                              "kept");
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
