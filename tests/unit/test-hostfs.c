/*
 * Unit tests of host files (lib/container/hostfs.c): exports/hostfs made in the test,
 * planned, applied and removed over a scratch sysroot: collisions,
 * renameFiles normalization, the refusals (below a planned link, into the
 * tool's own places, non-directories on the way to the directories the
 * tool writes), parents planned and removed, checksums, and the removal of
 * only unmodified files.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include "sc-private.h"

#include <sys/stat.h>

static char *scratch;
static char *sysroot;
static char *exports;
static sc_context *ctx;
static sc_values *values;

static void
setup(void)
{
  sc_error *err = NULL;
  g_autoptr(GError) error = NULL;

  scratch = tc_mkdtemp();
  sysroot = g_build_filename(scratch, "root", NULL);
  exports = g_build_filename(scratch, "exports", NULL);
  tc_write(sysroot, "etc/os-release", "ID=test\n");
  tc_write(sysroot, "usr/bin/sh", "");
  ck_assert_int_eq(g_mkdir_with_parents(exports, 0755), 0);
  tc_assert_ok(sc_context_new(&ctx, &err), err);
  tc_assert_ok(sc_context_set_sysroot(ctx, sysroot, &err), err);
  tc_assert_ok(sc_context_set_checkout_root(ctx, "/var/lib/containers/atomic", &err), err);
  values = sc_values_new_internal();
  ck_assert(sc_values_insert(values, "NAME", "site", &error));
}

static void
teardown(void)
{
  sc_values_free(values);
  sc_context_free(ctx);
  sc_rm_rf(scratch);
  g_free(scratch);
  g_free(sysroot);
  g_free(exports);
}

static void
export_file(const char *rel, const char *text, mode_t mode)
{
  g_autofree char *name = g_build_filename("hostfs", rel, NULL);
  g_autofree char *path = g_build_filename(exports, name, NULL);

  tc_write(exports, name, text);
  ck_assert_int_eq(chmod(path, mode), 0);
}

static void
export_link(const char *rel, const char *target)
{
  g_autofree char *path = g_build_filename(exports, "hostfs", rel, NULL);
  g_autofree char *dir = g_path_get_dirname(path);

  ck_assert_int_eq(g_mkdir_with_parents(dir, 0755), 0);
  ck_assert_int_eq(symlink(target, path), 0);
}

static void
export_dir(const char *rel)
{
  g_autofree char *path = g_build_filename(exports, "hostfs", rel, NULL);

  ck_assert_int_eq(g_mkdir_with_parents(path, 0755), 0);
}

static char *
host_path(const char *rel)
{
  return g_build_filename(sysroot, rel, NULL);
}

static char *
host_read(const char *rel)
{
  return tc_read(sysroot, rel);
}

static gboolean
host_exists(const char *rel)
{
  g_autofree char *p = host_path(rel);
  struct stat st;

  return lstat(p, &st) == 0;
}

static sc_exports *
load(void)
{
  g_autoptr(GError) error = NULL;
  sc_exports *ex = sc_exports_load_dir(exports, &error);

  ck_assert_msg(ex != NULL, "%s", error ? error->message : "");
  return ex;
}

/* The plan, which must succeed. */
static GPtrArray *
plan_ok(sc_exports *ex, GHashTable *owned)
{
  g_autoptr(GError) error = NULL;
  GPtrArray *plan = sc_hostfs_plan(ctx, ex, values, owned, &error);

  ck_assert_msg(plan != NULL, "%s", error ? error->message : "");
  return plan;
}

/* The plan, which must be refused with @code and exactly @message; the
 * sysroot is left as it was. */
static void
plan_refused(int code, const char *message)
{
  g_autoptr(GError) error = NULL;
  sc_exports *ex = load();
  GPtrArray *plan = sc_hostfs_plan(ctx, ex, values, NULL, &error);

  ck_assert_msg(plan == NULL, "planned; expected: %s", message);
  ck_assert_msg(g_error_matches(error, SC_ERROR, code),
                "code %d, want %d: %s",
                error->code,
                code,
                error->message);
  ck_assert_str_eq(error->message, message);
  sc_exports_free(ex);
}

/* "path=checksum" of @table, sorted, joined by ' '. */
static char *
table_text(GHashTable *table)
{
  g_autoptr(GList) keys = g_list_sort(g_hash_table_get_keys(table), (GCompareFunc)strcmp);
  GString *s = g_string_new("");

  for (GList *l = keys; l; l = l->next)
    g_string_append_printf(s,
                           "%s%s=%s",
                           s->len ? " " : "",
                           (char *)l->data,
                           (char *)g_hash_table_lookup(table, l->data));
  return g_string_free(s, FALSE);
}

static char *
sha(const char *text)
{
  return sc_sha256_hex(text, strlen(text));
}

START_TEST(test_install_and_remove)
{
  sc_exports *ex;
  g_autoptr(GPtrArray) plan = NULL;
  g_autoptr(GHashTable) all = NULL;
  g_autoptr(GHashTable) written = NULL;
  g_autoptr(GHashTable) tracked = NULL;
  g_autoptr(GPtrArray) kept = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GError) error = NULL;
  g_autofree char *conf = sha("conf\n");
  g_autofree char *tool = sha("#!/bin/sh\n");
  g_autofree char *link = sha("web.conf");
  g_autofree char *want_all = NULL;
  g_autofree char *want_written = NULL;
  g_autofree char *text = NULL;
  struct stat st;

  export_file("etc/web.conf", "conf\n", 0640);
  export_link("etc/web.link", "web.conf");
  export_file("usr/local/bin/webctl", "#!/bin/sh\n", 0755);
  export_dir("opt/web/data");
  ex = load();
  plan = plan_ok(ex, NULL);

  /* every path, and what is written: not /etc and /usr, the host's own */
  all = sc_hostfs_plan_tracking(plan, FALSE);
  written = sc_hostfs_plan_tracking(plan, TRUE);
  want_all = g_strdup_printf("/etc=0 /etc/web.conf=%s /etc/web.link=%s /opt=0 /opt/web=0 "
                             "/opt/web/data=0 /usr=0 /usr/local=0 /usr/local/bin=0 "
                             "/usr/local/bin/webctl=%s",
                             conf,
                             link,
                             tool);
  want_written = g_strdup_printf("/etc/web.conf=%s /etc/web.link=%s /opt=0 /opt/web=0 "
                                 "/opt/web/data=0 /usr/local=0 /usr/local/bin=0 "
                                 "/usr/local/bin/webctl=%s",
                                 conf,
                                 link,
                                 tool);
  text = table_text(all);
  ck_assert_str_eq(text, want_all);
  g_clear_pointer(&text, g_free);
  text = table_text(written);
  ck_assert_str_eq(text, want_written);
  g_clear_pointer(&text, g_free);
  /* planning writes nothing */
  ck_assert(!host_exists("etc/web.conf"));
  ck_assert(!host_exists("opt"));

  tracked = sc_hostfs_apply(ctx, plan, &error);
  ck_assert_msg(tracked != NULL, "%s", error ? error->message : "");
  text = table_text(tracked);
  ck_assert_str_eq(text, want_written);
  g_clear_pointer(&text, g_free);
  text = host_read("etc/web.conf");
  ck_assert_str_eq(text, "conf\n");
  g_clear_pointer(&text, g_free);
  {
    g_autofree char *p = host_path("etc/web.conf");
    g_autofree char *l = host_path("etc/web.link");
    g_autofree char *t = NULL;
    ck_assert_int_eq(lstat(p, &st), 0);
    ck_assert_uint_eq(st.st_mode, S_IFREG | 0640);
    t = g_file_read_link(l, NULL);
    ck_assert_str_eq(t, "web.conf");
  }
  {
    g_autofree char *p = host_path("usr/local/bin/webctl");
    ck_assert_int_eq(lstat(p, &st), 0);
    ck_assert_uint_eq(st.st_mode, S_IFREG | 0755);
  }
  ck_assert(host_exists("opt/web/data"));
  /* the checksums tracking records are the host's */
  {
    g_autofree char *s1 = sc_hostfs_checksum(ctx, "/etc/web.conf");
    g_autofree char *s2 = sc_hostfs_checksum(ctx, "/etc/web.link");
    g_autofree char *s3 = sc_hostfs_checksum(ctx, "/opt/web");
    g_autofree char *s4 = sc_hostfs_checksum(ctx, "/etc/missing");
    ck_assert_str_eq(s1, conf);
    ck_assert_str_eq(s2, link);
    ck_assert_str_eq(s3, "0");
    ck_assert_str_eq(s4, "0");
  }

  /* the admin edits one file: it stays, and so does its directory */
  tc_write(sysroot, "usr/local/bin/webctl", "#!/bin/sh\necho edited\n");
  sc_hostfs_remove(ctx, tracked, kept);
  ck_assert_uint_eq(kept->len, 1);
  ck_assert_str_eq(kept->pdata[0], "/usr/local/bin/webctl");
  ck_assert(!host_exists("etc/web.conf"));
  ck_assert(!host_exists("etc/web.link"));
  ck_assert(!host_exists("opt"));
  ck_assert(host_exists("usr/local/bin/webctl"));
  ck_assert(host_exists("etc/os-release"));
  ck_assert(host_exists("usr/bin/sh"));
  sc_exports_free(ex);
}
END_TEST

START_TEST(test_collisions)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  export_file("etc/web.conf", "conf\n", 0644);
  tc_write(sysroot, "etc/web.conf", "the admin's\n");
  plan_refused(SC_EEXISTS,
               "host file /etc/web.conf exists and was not installed by this "
               "container; the image exports a different one (hostfs/etc/web.conf)");
  text = host_read("etc/web.conf");
  ck_assert_str_eq(text, "the admin's\n");

  /* a link where the image has a file with the link's target as content */
  {
    g_autofree char *p = host_path("etc/web.conf");
    ck_assert_int_eq(unlink(p), 0);
    ck_assert_int_eq(symlink("conf\n", p), 0);
  }
  plan_refused(SC_EEXISTS,
               "host file /etc/web.conf exists and was not installed by this "
               "container; the image exports a different one (hostfs/etc/web.conf)");

  /* the host has a file where the image has a directory */
  export_file("opt/web/x", "x", 0644);
  tc_write(sysroot, "opt", "a file");
  {
    g_autofree char *p = host_path("etc/web.conf");
    ck_assert_int_eq(unlink(p), 0);
  }
  plan_refused(SC_EEXISTS,
               "host path /opt exists and is not a directory; the image installs a "
               "directory there");
}
END_TEST

/* Identical files are left alone (not tracked, not removed); the replaced
 * deployment's own unmodified files are replaced. */
START_TEST(test_identical_and_owned)
{
  sc_exports *ex;
  g_autoptr(GHashTable) owned = g_hash_table_new(g_str_hash, g_str_equal);
  g_autofree char *old = sha("old\n");
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;

  export_file("etc/same.conf", "same\n", 0644);
  export_file("etc/web.conf", "new\n", 0644);
  tc_write(sysroot, "etc/same.conf", "same\n");
  tc_write(sysroot, "etc/web.conf", "old\n");
  g_hash_table_insert(owned, "/etc/web.conf", old);
  ex = load();
  {
    g_autoptr(GPtrArray) plan = plan_ok(ex, owned);
    g_autoptr(GHashTable) tracked = sc_hostfs_apply(ctx, plan, &error);
    g_autofree char *want = NULL;
    g_autofree char *got = NULL;
    g_autofree char *nsum = sha("new\n");
    ck_assert_ptr_nonnull(tracked);
    want = g_strdup_printf("/etc/web.conf=%s", nsum);
    got = table_text(tracked);
    ck_assert_str_eq(got, want);
    text = host_read("etc/web.conf");
    ck_assert_str_eq(text, "new\n");
    g_clear_pointer(&text, g_free);
    sc_hostfs_remove(ctx, tracked, NULL);
    ck_assert(!host_exists("etc/web.conf"));
    text = host_read("etc/same.conf");
    ck_assert_str_eq(text, "same\n");
    g_clear_pointer(&text, g_free);
  }
  /* owned, but modified since (by the admin): kept as it is, not written,
   * not tracked (atomic's update); an unowned one is still a collision */
  tc_write(sysroot, "etc/web.conf", "old, edited\n");
  {
    g_autoptr(GPtrArray) plan = plan_ok(ex, owned);
    g_autoptr(GHashTable) tracked = sc_hostfs_apply(ctx, plan, &error);
    g_autoptr(GHashTable) planned = sc_hostfs_plan_tracking(plan, TRUE);
    ck_assert_ptr_nonnull(tracked);
    ck_assert_uint_eq(g_hash_table_size(tracked), 0);
    ck_assert_uint_eq(g_hash_table_size(planned), 0);
    text = host_read("etc/web.conf");
    ck_assert_str_eq(text, "old, edited\n");
    g_clear_pointer(&text, g_free);
  }
  g_hash_table_remove(owned, "/etc/web.conf");
  {
    GPtrArray *plan = sc_hostfs_plan(ctx, ex, values, owned, &error);
    ck_assert_ptr_null(plan);
    ck_assert(g_error_matches(error, SC_ERROR, SC_EEXISTS));
    ck_assert_str_eq(error->message,
                     "host file /etc/web.conf exists and was not installed by this container; "
                     "the image exports a different one (hostfs/etc/web.conf)");
  }
  sc_exports_free(ex);
}
END_TEST

START_TEST(test_rename_files)
{
  sc_exports *ex;
  g_autoptr(GPtrArray) plan = NULL;
  g_autoptr(GHashTable) tracked = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *want = NULL;
  g_autofree char *conf = sha("conf\n");
  g_autofree char *data = sha("d");

  export_file("etc/web.conf", "conf\n", 0644);
  export_file("opt/web/data", "d", 0644);
  tc_write(exports,
           "manifest.json",
           "{\"renameFiles\": {\"/etc/web.conf\": \"//etc/./$NAME.conf\", "
           "\"/opt/web\": \"/srv/deep//$NAME/\"}}");
  ex = load();
  plan = plan_ok(ex, NULL);
  tracked = sc_hostfs_apply(ctx, plan, &error);
  ck_assert_msg(tracked != NULL, "%s", error ? error->message : "");
  /* one spelling of each path; the parents of a renamed path planned */
  want = g_strdup_printf("/etc/site.conf=%s /opt=0 /srv=0 /srv/deep=0 /srv/deep/site=0 "
                         "/srv/deep/site/data=%s",
                         conf,
                         data);
  text = table_text(tracked);
  ck_assert_str_eq(text, want);
  g_clear_pointer(&text, g_free);
  text = host_read("srv/deep/site/data");
  ck_assert_str_eq(text, "d");
  g_clear_pointer(&text, g_free);
  ck_assert(!host_exists("etc/web.conf"));
  sc_hostfs_remove(ctx, tracked, NULL);
  ck_assert(!host_exists("srv"));
  ck_assert(!host_exists("opt"));
  ck_assert(!host_exists("etc/site.conf"));
  ck_assert(host_exists("etc/os-release"));
  sc_exports_free(ex);
}
END_TEST

START_TEST(test_rename_refused)
{
  export_file("etc/a", "a", 0644);
  export_file("etc/b", "b", 0644);
  export_link("etc/l", "a");

  tc_write(exports, "manifest.json", "{\"renameFiles\": {\"/etc/a\": \"/etc/../x\"}}");
  plan_refused(SC_EMANIFEST,
               "manifest.json: renameFiles turns /etc/a into '/etc/../x', which is "
               "not an absolute path without '..'");
  tc_write(exports, "manifest.json", "{\"renameFiles\": {\"/etc/a\": \"etc/x\"}}");
  plan_refused(SC_EMANIFEST,
               "manifest.json: renameFiles turns /etc/a into 'etc/x', which is not "
               "an absolute path without '..'");
  tc_write(exports, "manifest.json", "{\"renameFiles\": {\"/etc\": \"//./\"}}");
  plan_refused(SC_EMANIFEST,
               "manifest.json: renameFiles turns /etc into '//./', which is not an "
               "absolute path without '..'");
  tc_write(exports, "manifest.json", "{\"renameFiles\": {\"/etc/a\": \"/etc/$NAME/../../x\"}}");
  plan_refused(SC_EMANIFEST,
               "manifest.json: renameFiles turns /etc/a into '/etc/site/../../x', "
               "which is not an absolute path without '..'");
  tc_write(exports, "manifest.json", "{\"renameFiles\": {\"/etc/a\": \"/etc/./b\"}}");
  plan_refused(SC_EMANIFEST, "manifest.json: renameFiles installs two files at /etc/b");
  /* below a link, or a file, that the same plan installs */
  tc_write(exports, "manifest.json", "{\"renameFiles\": {\"/etc/a\": \"/etc/l/a\"}}");
  plan_refused(SC_EMANIFEST,
               "hostfs: /etc/l/a would be installed below /etc/l, which the image "
               "installs as a symbolic link");
  tc_write(exports, "manifest.json", "{\"renameFiles\": {\"/etc/a\": \"/etc/b/c/a\"}}");
  plan_refused(SC_EMANIFEST,
               "hostfs: /etc/b/c/a would be installed below /etc/b, which the "
               "image installs as a file");
  tc_write(exports, "manifest.json", "{\"renameFiles\": {\"/etc/a\": \"/etc/$UNSET\"}}");
  {
    g_autoptr(GError) error = NULL;
    sc_exports *ex = load();
    ck_assert_ptr_null(sc_hostfs_plan(ctx, ex, values, NULL, &error));
    ck_assert(g_error_matches(error, SC_ERROR, SC_ETEMPLATE));
    ck_assert_msg(strstr(error->message, "UNSET") != NULL, "%s", error->message);
    sc_exports_free(ex);
  }
  ck_assert(!host_exists("etc/a"));
  ck_assert(!host_exists("etc/x"));
}
END_TEST

/* The tool's own places: the checkout root, the store, and no file or link
 * on the way to the directories it writes units and tmpfiles into. */
START_TEST(test_tool_places)
{
  sc_error *err = NULL;

  export_file("var/lib/containers/atomic/web.0/info", "{}", 0644);
  plan_refused(SC_EUNSUPPORTED,
               "hostfs: /var/lib/containers/atomic is in the containers' "
               "checkout root or the image store, where only the tool writes");
  sc_rm_rf(exports);
  export_file("etc/web.conf", "x", 0644);
  tc_write(exports,
           "manifest.json",
           "{\"renameFiles\": {\"/etc/web.conf\": \"/var/lib/containers/atomic/.storage/x\"}}");
  plan_refused(SC_EUNSUPPORTED,
               "hostfs: /var/lib/containers/atomic/.storage/x is in the "
               "containers' checkout root or the image store, where only the "
               "tool writes");
  /* the store set elsewhere */
  tc_assert_ok(sc_context_set_repo(ctx, "/srv/store", &err), err);
  tc_write(
    exports, "manifest.json", "{\"renameFiles\": {\"/etc/web.conf\": \"/srv/store/config\"}}");
  plan_refused(SC_EUNSUPPORTED,
               "hostfs: /srv/store/config is in the containers' checkout root or "
               "the image store, where only the tool writes");
  /* reached through a link of the sysroot */
  tc_write(exports, "manifest.json", "{\"renameFiles\": {\"/etc/web.conf\": \"/srv/co/x\"}}");
  {
    g_autofree char *atomic = host_path("var/lib/containers/atomic");
    ck_assert_int_eq(g_mkdir_with_parents(atomic, 0755), 0);
  }
  {
    g_autofree char *p = host_path("srv/co");
    g_autofree char *srv = host_path("srv");
    ck_assert_int_eq(g_mkdir(srv, 0755), 0);
    ck_assert_int_eq(symlink("/var/lib/containers/atomic", p), 0);
  }
  plan_refused(SC_EUNSUPPORTED,
               "hostfs: /srv/co/x is in the containers' checkout root or the "
               "image store, where only the tool writes");
  ck_assert(!host_exists("var/lib/containers/atomic/x"));

  sc_rm_rf(exports);
  export_file("etc/systemd", "a file", 0644);
  plan_refused(SC_EUNSUPPORTED,
               "hostfs: /etc/systemd is on the way to /etc/systemd/system, where "
               "the tool writes: the image may install a directory there, not a "
               "file");
  sc_rm_rf(exports);
  export_link("etc/tmpfiles.d", "/tmp");
  plan_refused(SC_EUNSUPPORTED,
               "hostfs: /etc/tmpfiles.d is on the way to /etc/tmpfiles.d, where "
               "the tool writes: the image may install a directory there, not a "
               "symbolic link");
  sc_rm_rf(exports);
  export_file("etc/web.conf", "x", 0644);
  tc_write(exports, "manifest.json", "{\"renameFiles\": {\"/etc/web.conf\": \"/etc/systemd\"}}");
  plan_refused(SC_EUNSUPPORTED,
               "hostfs: /etc/systemd is on the way to /etc/systemd/system, where "
               "the tool writes: the image may install a directory there, not a "
               "file");
  /* directories there, and files in them, are fine */
  sc_rm_rf(exports);
  export_file("etc/systemd/system/extra.service", "[Unit]\n", 0644);
  {
    sc_exports *ex = load();
    g_autoptr(GPtrArray) plan = plan_ok(ex, NULL);
    ck_assert_uint_eq(plan->len, 4);
    sc_exports_free(ex);
  }
}
END_TEST

/* Host paths resolve inside the sysroot: its links cannot lead out. */
START_TEST(test_sysroot_links_confined)
{
  g_autofree char *out = g_build_filename(scratch, "outside", NULL);
  g_autofree char *link = host_path("opt");
  g_autofree char *inside = host_path("outside");
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) tracked = NULL;
  g_autofree char *text = NULL;
  sc_exports *ex;
  g_autoptr(GPtrArray) plan = NULL;

  ck_assert_int_eq(g_mkdir(out, 0755), 0);
  ck_assert_int_eq(g_mkdir(inside, 0755), 0);
  /* from the sysroot's '/', "../.." is still '/' */
  ck_assert_int_eq(symlink("/../../outside", link), 0);
  export_file("opt/web.conf", "conf\n", 0644);
  ex = load();
  plan = plan_ok(ex, NULL);
  tracked = sc_hostfs_apply(ctx, plan, &error);
  ck_assert_msg(tracked != NULL, "%s", error ? error->message : "");
  text = host_read("outside/web.conf");
  ck_assert_str_eq(text, "conf\n");
  {
    g_autoptr(GDir) d = g_dir_open(out, 0, NULL);
    ck_assert_ptr_null(g_dir_read_name(d));
  }
  sc_hostfs_remove(ctx, tracked, NULL);
  ck_assert(!host_exists("outside/web.conf"));
  ck_assert(host_exists("opt")); /* the host's link: not the image's */
  sc_exports_free(ex);
}
END_TEST

/* What appears between plan and apply is never replaced; what apply wrote
 * before it stopped is removed. */
START_TEST(test_apply_refuses_new_file)
{
  sc_exports *ex;
  g_autoptr(GPtrArray) plan = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  export_file("aaa/first", "1", 0644);
  export_file("etc/new.conf", "image\n", 0644);
  ex = load();
  plan = plan_ok(ex, NULL);
  tc_write(sysroot, "etc/new.conf", "someone else's\n");
  ck_assert_ptr_null(sc_hostfs_apply(ctx, plan, &error));
  ck_assert(g_error_matches(error, SC_ERROR, SC_EEXISTS));
  ck_assert_str_eq(error->message,
                   "host file /etc/new.conf exists and was not there when the "
                   "install was planned; refusing to replace it");
  text = host_read("etc/new.conf");
  ck_assert_str_eq(text, "someone else's\n");
  ck_assert(!host_exists("aaa"));
  sc_exports_free(ex);
}
END_TEST

START_TEST(test_template_and_limits)
{
  sc_exports *ex;
  g_autoptr(GPtrArray) plan = NULL;
  g_autoptr(GHashTable) tracked = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *sum = sha("name=site\n");
  g_autofree char *want = g_strdup_printf("/etc/web.conf=%s", sum);

  export_file("etc/web.conf", "name=$NAME\n", 0644);
  tc_write(exports, "manifest.json", "{\"installedFilesTemplate\": [\"/etc/web.conf\"]}");
  ex = load();
  plan = plan_ok(ex, NULL);
  tracked = sc_hostfs_apply(ctx, plan, &error);
  ck_assert_ptr_nonnull(tracked);
  text = table_text(tracked);
  ck_assert_str_eq(text, want);
  g_clear_pointer(&text, g_free);
  text = host_read("etc/web.conf");
  ck_assert_str_eq(text, "name=site\n");
  sc_hostfs_remove(ctx, tracked, NULL);
  sc_exports_free(ex);

  g_setenv("SC_MAX_HOSTFS_BYTES", "9", TRUE);
  plan_refused(SC_EUNSUPPORTED,
               "hostfs/etc/web.conf: the image exports more than 9 bytes of host "
               "files, the limit (SC_MAX_HOSTFS_BYTES)");
  g_unsetenv("SC_MAX_HOSTFS_BYTES");
  export_file("etc/a/1", "", 0644);
  g_setenv("SC_MAX_HOSTFS_FILES", "3", TRUE);
  plan_refused(SC_EUNSUPPORTED,
               "hostfs/etc/web.conf: the image exports more than 3 host files and "
               "directories, the limit (SC_MAX_HOSTFS_FILES)");
  g_unsetenv("SC_MAX_HOSTFS_FILES");
  {
    g_autofree char *fifo = g_build_filename(exports, "hostfs", "etc", "fifo", NULL);
    ck_assert_int_eq(mkfifo(fifo, 0644), 0);
  }
  plan_refused(SC_EUNSUPPORTED,
               "hostfs/etc/fifo: only files, directories and symbolic links can be exported");
  ck_assert(!host_exists("etc/a"));
}
END_TEST

START_TEST(test_no_hostfs)
{
  sc_exports *ex = load();
  g_autoptr(GPtrArray) plan = plan_ok(ex, NULL);

  ck_assert_uint_eq(plan->len, 0);
  sc_exports_free(ex);
  /* hostfs must be a directory */
  {
    g_autoptr(GError) error = NULL;
    g_autofree char *want = g_strdup_printf(
      "%s/hostfs: is a symbolic link; an image's hostfs must be a directory", exports);
    g_autofree char *p = g_build_filename(exports, "hostfs", NULL);
    ck_assert_int_eq(symlink(sysroot, p), 0);
    ck_assert_ptr_null(sc_exports_load_dir(exports, &error));
    ck_assert(g_error_matches(error, SC_ERROR, SC_EUNSUPPORTED));
    ck_assert_str_eq(error->message, want);
  }
}
END_TEST

/* A link the image exports is installed as the link it is (its target is
 * data, never followed when planning or writing); removal leaves what was
 * replaced by something else. */
START_TEST(test_links_and_replaced)
{
  sc_exports *ex;
  g_autoptr(GPtrArray) plan = NULL;
  g_autoptr(GHashTable) tracked = NULL;
  g_autoptr(GPtrArray) kept = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GError) error = NULL;
  g_autofree char *target = NULL;
  g_autofree char *evil = host_path("etc/evil");
  g_autofree char *text = NULL;

  export_link("etc/evil", "../../../../etc/os-release");
  export_file("etc/web.conf", "conf\n", 0644);
  export_dir("opt/web");
  ex = load();
  plan = plan_ok(ex, NULL);
  tracked = sc_hostfs_apply(ctx, plan, &error);
  ck_assert_msg(tracked != NULL, "%s", error ? error->message : "");
  target = g_file_read_link(evil, NULL);
  ck_assert_str_eq(target, "../../../../etc/os-release");
  text = host_read("etc/os-release");
  ck_assert_str_eq(text, "ID=test\n");

  /* the admin replaces the link by another link, the file by a directory,
   * and puts a file in the image's directory: all three stay */
  ck_assert_int_eq(unlink(evil), 0);
  ck_assert_int_eq(symlink("/etc/os-release", evil), 0);
  {
    g_autofree char *conf = host_path("etc/web.conf");
    ck_assert_int_eq(unlink(conf), 0);
    ck_assert_int_eq(g_mkdir(conf, 0755), 0);
  }
  tc_write(sysroot, "opt/web/mine", "admin\n");
  sc_hostfs_remove(ctx, tracked, kept);
  ck_assert_uint_eq(kept->len, 1);
  ck_assert_str_eq(kept->pdata[0], "/etc/evil");
  ck_assert(host_exists("etc/evil"));
  ck_assert(host_exists("etc/web.conf"));
  ck_assert(host_exists("opt/web/mine"));
  ck_assert(host_exists("etc/os-release"));
  sc_exports_free(ex);
}
END_TEST

static Suite *
hostfs_suite(void)
{
  Suite *s = suite_create("hostfs");
  TCase *tc = tcase_create("hostfs");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, test_install_and_remove);
  tcase_add_test(tc, test_collisions);
  tcase_add_test(tc, test_identical_and_owned);
  tcase_add_test(tc, test_rename_files);
  tcase_add_test(tc, test_rename_refused);
  tcase_add_test(tc, test_tool_places);
  tcase_add_test(tc, test_sysroot_links_confined);
  tcase_add_test(tc, test_apply_refuses_new_file);
  tcase_add_test(tc, test_template_and_limits);
  tcase_add_test(tc, test_no_hostfs);
  tcase_add_test(tc, test_links_and_replaced);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  return tc_run(hostfs_suite());
}
