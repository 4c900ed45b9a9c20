/*
 * The journal of a container operation: SLOT/journal, a JSON document
 * written through a temporary name before an operation first changes the
 * host, rewritten at each step, and removed when the operation is
 * complete. It names the operation, the slot, whether the unit was running,
 * and every host file the operation will have written (with its checksum),
 * so that after a crash at any point (kill -9, power loss) list shows the
 * container as incomplete, uninstall removes everything the operation
 * wrote, and a re-run of the command first finishes or undoes the
 * interrupted one (sc_deploy_recover).
 *
 * In a build with -Dtest_hooks=true (the test suite's, never a shipped one)
 * SC_TEST_KILL_AT=OP:STEP makes the process kill itself with SIGKILL right
 * after journaling that step: how the crash tests stop an operation at
 * each of its steps.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "container.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *
journal_path(const char *slot_path)
{
  return g_build_filename(slot_path, "journal", NULL);
}

ScJournal *
sc_journal_new(const char *op, const char *slot_path, GHashTable *planned, gboolean was_active)
{
  ScJournal *j = g_new0(ScJournal, 1);

  j->op = g_strdup(op);
  j->slot_path = g_strdup(slot_path);
  j->was_active = was_active;
  j->planned = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  if (planned) {
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, planned);
    while (g_hash_table_iter_next(&it, &k, &v))
      g_hash_table_replace(j->planned, g_strdup(k), g_strdup(v));
  }
  return j;
}

void
sc_journal_free(ScJournal *j)
{
  if (j == NULL)
    return;
  g_free(j->op);
  g_free(j->slot_path);
  g_free(j->step);
  g_hash_table_unref(j->planned);
  g_free(j);
}

/* Records that @step is done (and, for the crash tests, dies there). */
gboolean
sc_journal_step(sc_context *ctx, ScJournal *j, const char *step, GError **error)
{
  g_autofree char *path = journal_path(j->slot_path);
  g_autofree char *text = NULL;
  g_autofree char *with_nl = NULL;
  json_t *doc, *planned = json_object();
#if SC_TEST_HOOKS
  const char *kill_at = g_getenv("SC_TEST_KILL_AT");
#endif
  GHashTableIter it;
  gpointer k, v;

  g_free(j->step);
  j->step = g_strdup(step);
  g_hash_table_iter_init(&it, j->planned);
  while (g_hash_table_iter_next(&it, &k, &v))
    json_object_set_new(planned, k, json_string(v));
  doc = json_pack("{s:i, s:s, s:s, s:b, s:b, s:o}", "schema", 1, "operation", j->op, "step",
                  step, "was-active", j->was_active, "owns-unit", j->owns_unit, "planned",
                  planned);
  text = json_dumps(doc, JSON_INDENT(4) | JSON_SORT_KEYS);
  json_decref(doc);
  with_nl = g_strconcat(text, "\n", NULL);
  if (!sc_write_file_nolinks(path, with_nl, error))
    return FALSE;
  sc_context_log(ctx, SC_LOG_DEBUG, "journal %s: %s %s", path, j->op, step);
#if SC_TEST_HOOKS
  if (kill_at) {
    g_autofree char *here = g_strconcat(j->op, ":", step, NULL);
    if (strcmp(kill_at, here) == 0)
      raise(SIGKILL);
  }
#endif
  return TRUE;
}

/* The operation is complete: the journal goes. */
void
sc_journal_finish(sc_context *ctx, ScJournal *j)
{
  g_autofree char *path = NULL;

  if (j == NULL)
    return;
  path = journal_path(j->slot_path);
  if (unlink(path) != 0 && errno != ENOENT)
    sc_context_log(ctx, SC_LOG_WARNING, "cannot remove %s: %s", path, g_strerror(errno));
}

/* A journal is at most this big: the tool writes one line per planned host
 * file (SC_MAX_HOSTFS_FILES of them, a few KiB each at most). */
#define SC_MAX_JOURNAL_BYTES (64 * 1024 * 1024)

/* The journal in @slot_path, or NULL (also when it is not a file the tool
 * could have written: not a regular file, past the size or the JSON
 * budget, not an object naming an operation). */
ScJournal *
sc_journal_read(const char *slot_path)
{
  g_autofree char *path = journal_path(slot_path);
  g_autoptr(GBytes) text = NULL;
  gboolean exists;
  int slot_fd;
  json_t *doc, *v;
  const char *op, *k;
  ScJournal *j;

  /* (a symlink there is the container "NAME.0", not a slot of NAME) */
  slot_fd = open(slot_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (slot_fd < 0)
    return NULL;
  /* a regular file of a sane size, opened without following a link or
   * blocking (a fifo put there would hang every command that looks for
   * journals) */
  text = sc_read_file_nofollow_max(slot_fd, slot_path, "journal", SC_MAX_JOURNAL_BYTES, &exists,
                                   NULL);
  close(slot_fd);
  if (text == NULL)
    return NULL;
  doc = sc_json_load_bounded(path, g_bytes_get_data(text, NULL), g_bytes_get_size(text), NULL);
  op = json_string_value(json_object_get(doc, "operation"));
  if (op == NULL) {
    json_decref(doc);
    return NULL;
  }
  j = sc_journal_new(op, slot_path, NULL, json_is_true(json_object_get(doc, "was-active")));
  j->step = g_strdup(json_string_value(json_object_get(doc, "step")));
  j->owns_unit = json_is_true(json_object_get(doc, "owns-unit"));
  json_object_foreach(json_object_get(doc, "planned"), k, v) if (json_is_string(v))
      g_hash_table_replace(j->planned, g_strdup(k), g_strdup(json_string_value(v)));
  json_decref(doc);
  return j;
}

/* The journal of an operation on @name that did not finish, if any. */
ScJournal *
sc_journal_find(sc_context *ctx, const char *name)
{
  ScPaths p0 = {0}, p1 = {0};
  ScJournal *j;

  sc_deploy_paths_init(ctx, name, 0, &p0);
  sc_deploy_paths_init(ctx, name, 1, &p1);
  j = sc_journal_read(p0.slot_path);
  if (j == NULL)
    j = sc_journal_read(p1.slot_path);
  sc_deploy_paths_clear(&p0);
  sc_deploy_paths_clear(&p1);
  return j;
}
