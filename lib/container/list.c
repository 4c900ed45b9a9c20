/*
 * List: every container with its image, deployment and state.
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

static const char *
unit_state(sc_context *ctx, const char *name, gboolean has_service)
{
  g_autofree char *unit = g_strconcat(name, ".service", NULL);
  const char *sys_argv[] = { "systemctl", "is-active", unit, NULL };
  const char *user_argv[] = { "systemctl", "--user", "is-active", unit, NULL };
  const char **argv = sc_context_is_user(ctx) ? user_argv : sys_argv;
  g_autofree char *out = NULL;

  if (!has_service)
    return "no service";
  if (sc_context_is_user(ctx) ? !sc_systemd_user_running(ctx)
                              : (sc_systemd_offline(ctx) || !sc_systemd_running()))
    return "installed";
  if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                    NULL, NULL, &out, NULL, NULL, NULL))
    return "unknown";
  g_strstrip(out);
  if (strcmp(out, "active") == 0 || strcmp(out, "reloading") == 0)
    return "running";
  if (strcmp(out, "failed") == 0)
    return "failed";
  return "inactive";
}

/* What list reports of one container: image, deployment, state (and, for
 * an operation a crash interrupted, which and where). */
json_t *
sc_deploy_container_entry(sc_context *ctx, const char *name)
{
  g_autofree char *slot = sc_deploy_current_slot(ctx, name);
  json_t *info = slot ? sc_deploy_read_info(slot) : NULL;
  g_autofree char *slot_name = slot ? g_path_get_basename(slot) : NULL;
  g_autofree char *deployment =
      slot_name ? g_build_filename(sc_context_get_checkout_root(ctx), slot_name, NULL) : NULL;
  g_autoptr(ScJournal) j = sc_journal_find(ctx, name);
  json_t *epoch = json_object_get(info, "created");
  g_autoptr(GDateTime) when =
      json_is_integer(epoch) ? g_date_time_new_from_unix_utc(json_integer_value(epoch)) : NULL;
  /* the info file keeps atomic's epoch; the documents say RFC 3339, UTC */
  g_autofree char *created = when ? g_date_time_format(when, "%Y-%m-%dT%H:%M:%SZ") : NULL;
  json_t *entry;

  entry = json_pack("{s:s, s:O?, s:O?, s:s?, s:O?, s:s?}", "name", name, "image",
                    json_object_get(info, "image"), "id", json_object_get(info, "revision"),
                    "deployment", deployment, "runtime", json_object_get(info, "runtime"),
                    "created", created);
  if (j != NULL || slot == NULL) {
    /* a crash stopped an operation: the next command on it finishes or
     * undoes it (uninstall removes it) */
    json_object_set_new(entry, "state", json_string("incomplete"));
    json_object_set_new(entry, "interrupted", j ? json_string(j->op) : json_null());
    json_object_set_new(entry, "step", j && j->step ? json_string(j->step) : json_null());
  } else if (info == NULL)
    json_object_set_new(entry, "state", json_string("broken"));
  else
    json_object_set_new(
        entry, "state",
        json_string(unit_state(ctx, name,
                               !json_is_false(json_object_get(info, "has-container-service")))));
  json_decref(info);
  return entry;
}

SC_API int
sc_containers_list_json(sc_context *ctx, char **out_json, sc_error **error)
{
  g_autoptr(GPtrArray) names = NULL;
  json_t *doc, *arr;

  SC_CHECK_ARG(ctx != NULL && out_json != NULL, error);
  SC_CHECK_CONFIG(ctx, error);
  {
    /* a checkout root that is there but cannot be read is not an empty list */
    g_autofree char *root = sc_context_host_dir(ctx, sc_context_get_checkout_root(ctx));
    g_autoptr(GError) gerror = NULL;
    g_autoptr(GDir) dir = g_dir_open(root, 0, &gerror);
    if (dir == NULL && !g_error_matches(gerror, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
      gboolean denied = g_error_matches(gerror, G_FILE_ERROR, G_FILE_ERROR_ACCES);
      GError *e = g_error_new(SC_ERROR, denied ? SC_EPERM : SC_EIO,
                              "cannot read the installed containers in %s: %s%s", root,
                              denied ? g_strerror(EACCES) : gerror->message,
                              denied ? " (run as root)" : "");
      return sc_error_propagate(error, e);
    }
  }
  names = sc_deploy_container_names(ctx, TRUE);
  arr = json_array();
  for (guint i = 0; i < names->len; i++)
    json_array_append_new(arr, sc_deploy_container_entry(ctx, names->pdata[i]));
  doc = json_pack("{s:i, s:o}", "schema", 1, "containers", arr);
  *out_json = sc_json_dump(doc, TRUE);
  json_decref(doc);
  return SC_OK;
}
