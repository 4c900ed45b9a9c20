/*
 * Unit tests of the operation journal (lib/container/journal.c): written at each
 * step, read back, removed at the end, in a scratch slot; a journal that is
 * corrupt or hostile (wrong types, not JSON, deep, huge, not a file) is
 * read as absent or with the wrong parts dropped, never a crash or a hang.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include "sc-private.h"

#include <signal.h>
#include <sys/stat.h>

static char *scratch;
static char *slot;
static sc_context *ctx;

static void
setup(void)
{
  sc_error *err = NULL;

  scratch = tc_mkdtemp();
  slot = g_build_filename(scratch, "web.0", NULL);
  ck_assert_int_eq(g_mkdir(slot, 0755), 0);
  tc_assert_ok(sc_context_new(&ctx, &err), err);
}

static void
teardown(void)
{
  sc_context_free(ctx);
  sc_rm_rf(scratch);
  g_free(scratch);
  g_free(slot);
}

static gboolean
journal_exists(void)
{
  g_autofree char *p = g_build_filename(slot, "journal", NULL);
  struct stat st;

  return lstat(p, &st) == 0;
}

START_TEST(test_round_trip)
{
  g_autoptr(GHashTable) planned = g_hash_table_new(g_str_hash, g_str_equal);
  g_autoptr(ScJournal) j = NULL;
  g_autoptr(ScJournal) back = NULL;
  g_autoptr(ScJournal) back2 = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  json_t *doc;

  g_hash_table_insert(planned, "/etc/systemd/system/web.service", "ab12");
  g_hash_table_insert(planned, "/etc/web.conf", "0");
  j = sc_journal_new("install", slot, planned, TRUE);
  /* the journal holds its own copy */
  g_hash_table_remove_all(planned);
  ck_assert(!journal_exists());
  j->owns_unit = TRUE;
  ck_assert_msg(sc_journal_step(ctx, j, "slot", &error), "%s", error ? error->message : "");
  ck_assert_msg(sc_journal_step(ctx, j, "unit", &error), "%s", error ? error->message : "");
  ck_assert_str_eq(j->step, "unit");

  /* the file is the documented JSON document */
  text = tc_read(slot, "journal");
  ck_assert_ptr_nonnull(text);
  ck_assert(g_str_has_suffix(text, "}\n"));
  doc = json_loads(text, 0, NULL);
  ck_assert_ptr_nonnull(doc);
  ck_assert_int_eq(json_integer_value(json_object_get(doc, "schema")), 1);
  ck_assert_str_eq(json_string_value(json_object_get(doc, "operation")), "install");
  ck_assert_str_eq(json_string_value(json_object_get(doc, "step")), "unit");
  ck_assert(json_is_true(json_object_get(doc, "was-active")));
  ck_assert(json_is_true(json_object_get(doc, "owns-unit")));
  ck_assert_uint_eq(json_object_size(json_object_get(doc, "planned")), 2);
  json_decref(doc);

  back = sc_journal_read(slot);
  ck_assert_ptr_nonnull(back);
  ck_assert_str_eq(back->op, "install");
  ck_assert_str_eq(back->step, "unit");
  ck_assert_str_eq(back->slot_path, slot);
  ck_assert(back->was_active);
  ck_assert(back->owns_unit);
  ck_assert_uint_eq(g_hash_table_size(back->planned), 2);
  ck_assert_str_eq(g_hash_table_lookup(back->planned, "/etc/systemd/system/web.service"), "ab12");
  ck_assert_str_eq(g_hash_table_lookup(back->planned, "/etc/web.conf"), "0");

  /* no temporary file is left next to it */
  {
    g_autoptr(GDir) d = g_dir_open(slot, 0, NULL);
    const char *n;
    while ((n = g_dir_read_name(d)) != NULL)
      ck_assert_str_eq(n, "journal");
  }

  sc_journal_finish(ctx, j);
  ck_assert(!journal_exists());
  ck_assert_ptr_null(sc_journal_read(slot));
  /* finishing twice, or nothing, is harmless */
  sc_journal_finish(ctx, j);
  sc_journal_finish(ctx, NULL);

  /* the other flags, false */
  {
    g_autoptr(ScJournal) k = sc_journal_new("uninstall", slot, NULL, FALSE);
    ck_assert(sc_journal_step(ctx, k, "stopped", &error));
    back2 = sc_journal_read(slot);
    ck_assert_str_eq(back2->op, "uninstall");
    ck_assert_str_eq(back2->step, "stopped");
    ck_assert(!back2->was_active);
    ck_assert(!back2->owns_unit);
    ck_assert_uint_eq(g_hash_table_size(back2->planned), 0);
  }
}
END_TEST

START_TEST(test_step_fails)
{
  g_autofree char *gone = g_build_filename(scratch, "file", NULL);
  g_autoptr(ScJournal) j = NULL;
  g_autoptr(GError) error = NULL;

  /* the slot is a file: the step cannot be recorded, and says so */
  tc_write(scratch, "file", "x");
  j = sc_journal_new("install", gone, NULL, FALSE);
  ck_assert(!sc_journal_step(ctx, j, "slot", &error));
  ck_assert_ptr_nonnull(error);
  ck_assert_int_eq(error->domain, SC_ERROR);
}
END_TEST

/* Where there is no journal to read. */
START_TEST(test_absent)
{
  g_autofree char *link = g_build_filename(scratch, "web.1", NULL);
  g_autofree char *file = g_build_filename(scratch, "web.2", NULL);
  g_autofree char *missing = g_build_filename(scratch, "web.3", NULL);
  g_autoptr(ScJournal) j = sc_journal_new("install", slot, NULL, FALSE);
  g_autoptr(GError) error = NULL;

  ck_assert_ptr_null(sc_journal_read(slot));
  ck_assert_ptr_null(sc_journal_read(missing));
  /* a link to a slot is a container named "web.1", not a slot */
  ck_assert(sc_journal_step(ctx, j, "slot", &error));
  ck_assert_int_eq(symlink(slot, link), 0);
  ck_assert_ptr_null(sc_journal_read(link));
  tc_write(scratch, "web.2", "{\"operation\": \"install\"}");
  ck_assert_ptr_null(sc_journal_read(file));
}
END_TEST

static ScJournal *
read_text(const char *text)
{
  tc_write(slot, "journal", text);
  return sc_journal_read(slot);
}

START_TEST(test_corrupt)
{
  const char *absent[] = {
    "",
    "not json",
    "{\"operation\": \"install\"",            /* cut short */
    "[\"operation\", \"install\"]",           /* not an object */
    "{\"operation\": 5, \"step\": \"slot\"}", /* no operation */
    "{\"operation\": null}",
    "{\"operation\": [\"install\"]}",
    "\"install\"",
    "{\"operation\": \"in\\u0000stall\"}",
  };

  for (guint i = 0; i < G_N_ELEMENTS(absent); i++) {
    ScJournal *j = read_text(absent[i]);
    ck_assert_msg(j == NULL, "read: %s", absent[i]);
  }
}
END_TEST

/* An operation with parts of the wrong type: those parts are dropped. */
START_TEST(test_wrong_types)
{
  g_autoptr(ScJournal) j = read_text("{\"operation\": \"update\", \"step\": 7, \"was-active\": "
                                     "\"yes\", \"owns-unit\": 1, \"planned\": [\"/etc/x\"]}");
  g_autoptr(ScJournal) k = read_text(
    "{\"operation\": \"rollback\", \"step\": {}, \"planned\": {\"/etc/a\": \"sum\", \"/etc/b\": "
    "1, \"/etc/c\": null, \"/etc/d\": [\"x\"], \"/etc/e\": \"0\"}, \"extra\": true}");

  ck_assert_ptr_nonnull(j);
  ck_assert_str_eq(j->op, "update");
  ck_assert_ptr_null(j->step);
  ck_assert(!j->was_active);
  ck_assert(!j->owns_unit);
  ck_assert_uint_eq(g_hash_table_size(j->planned), 0);

  ck_assert_ptr_nonnull(k);
  ck_assert_str_eq(k->op, "rollback");
  ck_assert_ptr_null(k->step);
  ck_assert_uint_eq(g_hash_table_size(k->planned), 2);
  ck_assert_str_eq(g_hash_table_lookup(k->planned, "/etc/a"), "sum");
  ck_assert_str_eq(g_hash_table_lookup(k->planned, "/etc/e"), "0");
}
END_TEST

START_TEST(test_deep_and_huge)
{
  GString *deep = g_string_new("{\"operation\": \"install\", \"planned\": ");
  GString *huge = g_string_new("{\"operation\": \"install\", \"planned\": {");
  ScJournal *j;
  g_autofree char *deep_text = NULL;
  g_autofree char *huge_text = NULL;

  /* nested past any parser's depth: absent */
  for (int i = 0; i < 100000; i++)
    g_string_append_c(deep, '[');
  deep_text = g_string_free(deep, FALSE);
  ck_assert_ptr_null(read_text(deep_text));

  /* more values than any journal has (the budget of untrusted JSON):
   * absent, not held in memory */
  for (int i = 0; i < SC_MAX_JSON_VALUES; i++)
    g_string_append_printf(huge, "%s\"/p%d\": \"0\"", i ? "," : "", i);
  g_string_append(huge, "}}");
  huge_text = g_string_free(huge, FALSE);
  j = read_text(huge_text);
  ck_assert_ptr_null(j);

  /* bigger than any journal (64 MiB): not read at all */
  {
    g_autofree char *p = g_build_filename(slot, "journal", NULL);
    tc_write(slot, "journal", "{\"operation\": \"install\"}");
    ck_assert_int_eq(truncate(p, 64 * 1024 * 1024 + 1), 0);
    ck_assert_ptr_null(sc_journal_read(slot));
    /* cut back to its text: read */
    ck_assert_int_eq(truncate(p, 24), 0);
    j = sc_journal_read(slot);
    ck_assert_ptr_nonnull(j);
    sc_journal_free(j);
  }
}
END_TEST

static void
alarm_handler(int sig)
{
  (void)sig;
  ck_abort_msg("sc_journal_read() hangs");
}

/* What is not a regular file is not read, and nothing blocks. */
START_TEST(test_not_a_file)
{
  g_autofree char *journal = g_build_filename(slot, "journal", NULL);
  g_autofree char *target = g_build_filename(scratch, "elsewhere", NULL);

  signal(SIGALRM, alarm_handler);
  alarm(5);
  ck_assert_int_eq(mkfifo(journal, 0600), 0);
  ck_assert_ptr_null(sc_journal_read(slot));
  ck_assert_int_eq(unlink(journal), 0);
  ck_assert_int_eq(g_mkdir(journal, 0755), 0);
  ck_assert_ptr_null(sc_journal_read(slot));
  ck_assert_int_eq(rmdir(journal), 0);
  /* a link: the journal is the tool's own file, never another one */
  tc_write(scratch, "elsewhere", "{\"operation\": \"install\"}");
  ck_assert_int_eq(symlink(target, journal), 0);
  ck_assert_ptr_null(sc_journal_read(slot));
  alarm(0);
}
END_TEST

static Suite *
journal_suite(void)
{
  Suite *s = suite_create("journal");
  TCase *tc = tcase_create("journal");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, test_round_trip);
  tcase_add_test(tc, test_step_fails);
  tcase_add_test(tc, test_absent);
  tcase_add_test(tc, test_corrupt);
  tcase_add_test(tc, test_wrong_types);
  tcase_add_test(tc, test_deep_and_huge);
  tcase_add_test(tc, test_not_a_file);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  return tc_run(journal_suite());
}
