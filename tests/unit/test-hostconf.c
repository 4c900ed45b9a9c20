/*
 * The host's configuration: /etc/atomic.conf (libyaml) and its precedence
 * in the context, and registries.conf (our TOML parser; version 1 and 2,
 * drop-ins) as containers/image reads it. Errors are asserted whole: file,
 * line and reason.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include <sys/stat.h>

#include "sc-private.h"

/* ---- atomic.conf, the parser ---- */

static ScAtomicConf *
conf_ok(const char *text)
{
  g_autoptr(GError) error = NULL;
  ScAtomicConf *c = sc_atomic_conf_parse("a.conf", text, strlen(text), &error);
  ck_assert_msg(c != NULL, "%s: %s", text, error ? error->message : "");
  return c;
}

START_TEST(test_atomic_conf_keys)
{
  g_autoptr(ScAtomicConf) c = conf_ok("# atomic.conf as shipped, with the keys we use\n"
                                      "default_storage: ostree\n"
                                      "registries:\n"
                                      "  - docker.io\n"
                                      "  - {nested: [1, 2, {deep: x}]}\n"
                                      "checkout_path: /srv/containers\n"
                                      "default_signer: &signer\n"
                                      "  name: me\n"
                                      "ostree_repository: '/srv/repo'\n"
                                      "runtime: \"/usr/bin/crun\"\n");

  ck_assert_str_eq(c->value[SC_ATOMIC_CONF_CHECKOUT], "/srv/containers");
  ck_assert_str_eq(c->value[SC_ATOMIC_CONF_REPO], "/srv/repo");
  ck_assert_str_eq(c->value[SC_ATOMIC_CONF_RUNTIME], "/usr/bin/crun");
  ck_assert_int_eq(c->line[SC_ATOMIC_CONF_CHECKOUT], 6);
  ck_assert_int_eq(c->line[SC_ATOMIC_CONF_REPO], 9);
  ck_assert_int_eq(c->line[SC_ATOMIC_CONF_RUNTIME], 10);
  ck_assert_str_eq(c->file, "a.conf");
}
END_TEST

START_TEST(test_atomic_conf_empty_null_alias)
{
  g_autoptr(ScAtomicConf) empty = conf_ok("");
  g_autoptr(ScAtomicConf) dashes = conf_ok("---\n...\n");
  g_autoptr(ScAtomicConf) nulls = conf_ok("checkout_path:\nruntime: ~\nostree_repository: null\n"
                                          "n: &n ~\nruntime: ''\ncheckout_path: *n\n");
  g_autoptr(ScAtomicConf) alias = conf_ok("base: &root /var/lib/c\ncheckout_path: *root\n");

  for (int k = 0; k < SC_ATOMIC_CONF_N_KEYS; k++) {
    ck_assert_ptr_null(empty->value[k]);
    ck_assert_ptr_null(dashes->value[k]);
    ck_assert_ptr_null(nulls->value[k]);
  }
  ck_assert_str_eq(alias->value[SC_ATOMIC_CONF_CHECKOUT], "/var/lib/c");
  ck_assert_int_eq(alias->line[SC_ATOMIC_CONF_CHECKOUT], 2);
}
END_TEST

static const struct {
  const char *text, *message;
} atomic_bad[] = {
  { "runtime: [runc]\n", "a.conf line 1: 'runtime' must be a string, not a list" },
  { "x: 1\ncheckout_path: {a: b}\n",
    "a.conf line 2: 'checkout_path' must be a string, not a mapping" },
  { "checkout_path: relative/dir\n",
    "a.conf line 1: 'checkout_path' must be an absolute path without '..' (got 'relative/dir')" },
  { "ostree_repository: /srv/../etc\n",
    "a.conf line 1: 'ostree_repository' must be an absolute path without '..' (got "
    "'/srv/../etc')" },
  { "runtime: \"run c\"\n",
    "a.conf line 1: 'runtime' must be a command name or path without whitespace, quotes, '\\', "
    "'%', '$' or ';' (it is written into the unit's ExecStart=), got 'run c'" },
  { "runtime: \"a\\0b\"\n", "a.conf line 1: 'runtime' holds a NUL character" },
  { "checkout_path: /a\nx: y\ncheckout_path: /b\n",
    "a.conf line 3: 'checkout_path' is given twice (first at line 1)" },
  { "- checkout_path\n", "a.conf line 1: the document is not a mapping of keys to values" },
  { "just text\n", "a.conf line 1: the document is not a mapping of keys to values" },
  { "x: 1\n---\ny: 2\n", "a.conf line 2: a second document (atomic reads one)" },
  { "checkout_path: /srv\n  x: y\n",
    "a.conf line 2: mapping values are not allowed in this context" },
  { "x: \"open\n",
    "a.conf line 2: found unexpected end of stream (while scanning a quoted scalar "
    "at line 1)" },
  { "m: &m {a: b}\nruntime: *m\n", "a.conf line 2: 'runtime' must be a string, but *m is not one" },
  { "runtime: *nowhere\n", "a.conf line 1: 'runtime': the alias *nowhere is not defined" },
  { "[1, 2]: x\n", "a.conf line 1: a key is not a plain string" },
  { "x:\n\t- y\n",
    "a.conf line 2: found character that cannot start any token (while scanning "
    "for the next token at line 2)" },
};

START_TEST(test_atomic_conf_errors)
{
  g_autoptr(GError) error = NULL;
  const char *text = atomic_bad[_i].text;
  /* (the NUL case: its length is what libyaml is given) */
  ScAtomicConf *c = sc_atomic_conf_parse("a.conf", text, strlen(text), &error);

  ck_assert_msg(c == NULL, "accepted: %s", text);
  ck_assert_int_eq(error->code, SC_EINVAL);
  ck_assert_str_eq(error->message, atomic_bad[_i].message);
}
END_TEST

/* ---- atomic.conf in the context: where it is read, what comes first ---- */

static char *scratch;

static void
setup_scratch(void)
{
  scratch = tc_mkdtemp();
  g_unsetenv("ATOMIC_CONF");
  g_unsetenv("ATOMIC_OSTREE_CHECKOUT_PATH");
  g_unsetenv("ATOMIC_OSTREE_REPO");
  g_unsetenv("RUNC_PATH");
}

static void
teardown_scratch(void)
{
  tc_rm_rf(scratch);
  g_clear_pointer(&scratch, g_free);
}

static sc_context *
context_in(const char *root)
{
  sc_context *ctx = NULL;
  sc_error *err = NULL;

  tc_assert_ok(sc_context_new(&ctx, &err), err);
  tc_assert_ok(sc_context_set_sysroot(ctx, root, &err), err);
  return ctx;
}

START_TEST(test_context_reads_sysroot_conf)
{
  g_autofree char *file = g_build_filename(scratch, "etc", "atomic.conf", NULL);
  sc_context *ctx;
  sc_error *err = NULL;

  tc_write(scratch,
           "etc/atomic.conf",
           "checkout_path: /srv/ck\nostree_repository: /srv/repo\nruntime: crun\n");
  ctx = context_in(scratch);
  tc_assert_ok(sc_context_load_config(ctx, &err), err);
  ck_assert_str_eq(sc_context_get_config_file(ctx), file);
  ck_assert_str_eq(sc_context_get_checkout_root(ctx), "/srv/ck");
  ck_assert_str_eq(sc_context_get_repo(ctx), "/srv/repo");
  ck_assert_str_eq(sc_context_get_runtime(ctx), "crun");
  /* what the caller sets comes first; NULL gives the conf's back */
  tc_assert_ok(sc_context_set_checkout_root(ctx, "/opt/ck", &err), err);
  tc_assert_ok(sc_context_set_repo(ctx, "/opt/repo", &err), err);
  tc_assert_ok(sc_context_set_runtime(ctx, "/usr/sbin/runc", &err), err);
  ck_assert_str_eq(sc_context_get_checkout_root(ctx), "/opt/ck");
  ck_assert_str_eq(sc_context_get_repo(ctx), "/opt/repo");
  ck_assert_str_eq(sc_context_get_runtime(ctx), "/usr/sbin/runc");
  tc_assert_ok(sc_context_set_checkout_root(ctx, NULL, &err), err);
  tc_assert_ok(sc_context_set_repo(ctx, NULL, &err), err);
  tc_assert_ok(sc_context_set_runtime(ctx, NULL, &err), err);
  ck_assert_str_eq(sc_context_get_checkout_root(ctx), "/srv/ck");
  ck_assert_str_eq(sc_context_get_repo(ctx), "/srv/repo");
  ck_assert_str_eq(sc_context_get_runtime(ctx), "crun");
  /* another root, its own (missing) conf: the defaults */
  tc_assert_ok(sc_context_set_sysroot(ctx, NULL, &err), err);
  g_autofree char *other = g_build_filename(scratch, "other", NULL);
  g_mkdir(other, 0755);
  tc_assert_ok(sc_context_set_sysroot(ctx, other, &err), err);
  ck_assert_ptr_null(sc_context_get_config_file(ctx));
  ck_assert_str_eq(sc_context_get_checkout_root(ctx), "/var/lib/containers/atomic");
  ck_assert_ptr_null(sc_context_get_repo(ctx));
  ck_assert_str_eq(sc_context_get_runtime(ctx), "runc");
  sc_context_free(ctx);
}
END_TEST

START_TEST(test_context_precedence_env)
{
  g_autofree char *mine = g_build_filename(scratch, "mine.conf", NULL);
  sc_context *ctx;
  sc_error *err = NULL;

  tc_write(scratch, "etc/atomic.conf", "checkout_path: /srv/sysroot-conf\n");
  tc_write(scratch, "mine.conf", "checkout_path: /srv/env-conf\nostree_repository: /srv/r\n");
  /* $ATOMIC_CONF replaces the sysroot's file */
  g_setenv("ATOMIC_CONF", mine, TRUE);
  ctx = context_in(scratch);
  ck_assert_str_eq(sc_context_get_checkout_root(ctx), "/srv/env-conf");
  ck_assert_str_eq(sc_context_get_config_file(ctx), mine);
  sc_context_free(ctx);
  /* the environment comes before the file */
  g_setenv("ATOMIC_OSTREE_CHECKOUT_PATH", "/srv/env", TRUE);
  g_setenv("ATOMIC_OSTREE_REPO", "/srv/env-repo", TRUE);
  ctx = context_in(scratch);
  ck_assert_str_eq(sc_context_get_checkout_root(ctx), "/srv/env");
  ck_assert_str_eq(sc_context_get_repo(ctx), "/srv/env-repo");
  sc_context_free(ctx);
  /* runtime: atomic.conf before $RUNC_PATH, $RUNC_PATH before "runc" */
  g_unsetenv("ATOMIC_CONF");
  g_setenv("RUNC_PATH", "/opt/runc", TRUE);
  ctx = context_in(scratch);
  ck_assert_str_eq(sc_context_get_runtime(ctx), "/opt/runc");
  sc_context_free(ctx);
  tc_write(scratch, "etc/atomic.conf", "runtime: /usr/bin/crun\n");
  ctx = context_in(scratch);
  ck_assert_str_eq(sc_context_get_runtime(ctx), "/usr/bin/crun");
  tc_assert_ok(sc_context_set_runtime(ctx, "runc", &err), err);
  ck_assert_str_eq(sc_context_get_runtime(ctx), "runc");
  sc_context_free(ctx);
}
END_TEST

START_TEST(test_context_recorded_runtime)
{
  g_autoptr(GError) error = NULL;
  sc_context *ctx;
  sc_error *err = NULL;

  tc_write(scratch, "etc/atomic.conf", "runtime: /usr/bin/crun\n");
  ctx = context_in(scratch);
  /* update: the container's own runtime before atomic.conf's */
  ck_assert(sc_context_set_recorded_runtime(ctx, "/usr/sbin/runc", "web", NULL));
  ck_assert_str_eq(sc_context_get_runtime(ctx), "/usr/sbin/runc");
  ck_assert(sc_context_set_recorded_runtime(ctx, NULL, NULL, NULL));
  ck_assert_str_eq(sc_context_get_runtime(ctx), "/usr/bin/crun");
  /* a recorded runtime that does not exist: named, with the way out */
  ck_assert(sc_context_set_recorded_runtime(ctx, "/no/such/runtime", "web", NULL));
  ck_assert(!sc_context_runtime_path(ctx, &(const char *){ NULL }, &error));
  ck_assert_str_eq(error->message,
                   "runtime '/no/such/runtime' recorded for container web is not "
                   "installed: no executable file at that path (give --runtime "
                   "PATH to change it)");
  g_clear_error(&error);
  /* the caller's runtime before the recorded one */
  tc_assert_ok(sc_context_set_runtime(ctx, "/bin/true", &err), err);
  ck_assert_str_eq(sc_context_get_runtime(ctx), "/bin/true");
  ck_assert(sc_context_set_recorded_runtime(ctx, NULL, NULL, NULL));
  /* an info that records what a unit cannot hold */
  ck_assert(!sc_context_set_recorded_runtime(ctx, "/bin/x; rm", "web", &error));
  ck_assert_str_eq(error->message,
                   "container web: the runtime recorded in its info ('/bin/x; "
                   "rm') is not an absolute path that a unit's ExecStart= can "
                   "hold; give --runtime PATH");
  g_clear_error(&error);
  tc_assert_ok(sc_context_set_runtime(ctx, NULL, &err), err);
  /* atomic.conf's runtime, not installed: its file and line */
  tc_write(scratch, "etc/atomic.conf", "\nruntime: /no/crun\n");
  tc_assert_ok(sc_context_set_sysroot(ctx, scratch, &err), err);
  ck_assert(!sc_context_runtime_path(ctx, &(const char *){ NULL }, &error));
  g_autofree char *want = g_strdup_printf(
    "runtime '/no/crun' from %s/etc/atomic.conf line 2 is not installed: no executable file at "
    "that path",
    scratch);
  ck_assert_str_eq(error->message, want);
  sc_context_free(ctx);
}
END_TEST

START_TEST(test_context_bad_conf_stops_operations)
{
  g_autofree char *want = NULL;
  g_autofree char *json = NULL;
  g_autofree char *fifo = g_build_filename(scratch, "etc", "atomic.conf", NULL);
  sc_context *ctx;
  sc_error *err = NULL;

  tc_write(scratch, "etc/atomic.conf", "checkout_path: /srv\nruntime: [a, b]\n");
  ctx = context_in(scratch);
  want =
    g_strdup_printf("%s/etc/atomic.conf line 2: 'runtime' must be a string, not a list", scratch);
  tc_assert_error(sc_context_load_config(ctx, &err), err, SC_EINVAL, want);
  ck_assert_ptr_null(sc_context_get_config_file(ctx));
  /* every operation on the checkout root, the store or the runtime */
  tc_assert_error(sc_containers_list_json(ctx, &json, &err), err, SC_EINVAL, want);
  tc_assert_error(sc_images_list_json(ctx, &json, &err), err, SC_EINVAL, want);
  tc_assert_error(sc_container_uninstall(ctx, "web", &json, &err), err, SC_EINVAL, want);
  tc_assert_error(sc_container_rollback(ctx, "web", &json, &err), err, SC_EINVAL, want);
  {
    char *path = NULL;
    tc_assert_error(sc_context_find_runtime(ctx, &path, &err), err, SC_EINVAL, want);
  }
  ck_assert_ptr_null(json);
  sc_context_free(ctx);
  /* not a regular file: refused without waiting for a writer */
  g_unlink(fifo);
  ck_assert_int_eq(mkfifo(fifo, 0644), 0);
  ctx = context_in(scratch);
  g_free(want);
  want = g_strdup_printf("%s/etc/atomic.conf: not a regular file", scratch);
  tc_assert_error(sc_context_load_config(ctx, &err), err, SC_EINVAL, want);
  sc_context_free(ctx);
  /* $ATOMIC_CONF naming nothing is an error (a missing /etc/atomic.conf is not) */
  g_setenv("ATOMIC_CONF", "/no/such/atomic.conf", TRUE);
  ctx = context_in(scratch);
  tc_assert_error(sc_context_load_config(ctx, &err),
                  err,
                  SC_ENOTFOUND,
                  "/no/such/atomic.conf (from $ATOMIC_CONF): No such file or directory");
  sc_context_free(ctx);
  g_unsetenv("ATOMIC_CONF");
}
END_TEST

START_TEST(test_context_conf_link_stays_in_sysroot)
{
  sc_context *ctx;
  sc_error *err = NULL;
  g_autofree char *link = g_build_filename(scratch, "etc", "atomic.conf", NULL);

  /* an absolute link resolves inside the sysroot, not on this machine */
  tc_write(scratch, "srv/real.conf", "checkout_path: /srv/inside\n");
  g_autofree char *etc = g_path_get_dirname(link);
  g_mkdir_with_parents(etc, 0755);
  ck_assert_int_eq(symlink("/srv/real.conf", link), 0);
  ctx = context_in(scratch);
  tc_assert_ok(sc_context_load_config(ctx, &err), err);
  ck_assert_str_eq(sc_context_get_checkout_root(ctx), "/srv/inside");
  sc_context_free(ctx);
  /* a link out of it by '..' stays inside too: nothing there, the defaults */
  g_unlink(link);
  ck_assert_int_eq(symlink("../../../../../../../../tmp/nowhere-hostconf.conf", link), 0);
  ctx = context_in(scratch);
  tc_assert_ok(sc_context_load_config(ctx, &err), err);
  ck_assert_ptr_null(sc_context_get_config_file(ctx));
  ck_assert_str_eq(sc_context_get_checkout_root(ctx), "/var/lib/containers/atomic");
  sc_context_free(ctx);
}
END_TEST

/* ---- registries.conf ---- */

static ScRegConf *
reg_ok(const char *text)
{
  g_autoptr(GError) error = NULL;
  ScRegConf *c = sc_regconf_new();
  ck_assert_msg(
    sc_regconf_parse(c, "r.conf", text, &error), "%s: %s", text, error ? error->message : "");
  return c;
}

static ScRegistryEntry *
entry(ScRegConf *c, const char *prefix)
{
  for (guint i = 0; i < c->registries->len; i++)
    if (strcmp(((ScRegistryEntry *)c->registries->pdata[i])->prefix, prefix) == 0)
      return c->registries->pdata[i];
  ck_abort_msg("no registry with prefix %s", prefix);
  return NULL;
}

START_TEST(test_regconf_v1)
{
  g_autoptr(ScRegConf) c = reg_ok("# as Fedora 28 shipped it\n"
                                  "[registries.search]\n"
                                  "registries = ['registry.access.redhat.com', 'docker.io']\n"
                                  "\n"
                                  "[registries.insecure]\n"
                                  "registries = [\"localhost:5000/\", \"both.example\"]\n"
                                  "\n"
                                  "[registries.block]\n"
                                  "registries = [\"both.example\", \"bad.example\"]\n");
  ScRegistryEntry *r;

  ck_assert_uint_eq(c->search->len, 2);
  ck_assert_str_eq(c->search->pdata[0], "registry.access.redhat.com");
  ck_assert_str_eq(c->search->pdata[1], "docker.io");
  /* blocked first, then insecure, one entry per location (ConvertToV2) */
  ck_assert_uint_eq(c->registries->len, 3);
  ck_assert_str_eq(((ScRegistryEntry *)c->registries->pdata[0])->prefix, "both.example");
  ck_assert_str_eq(((ScRegistryEntry *)c->registries->pdata[1])->prefix, "bad.example");
  r = entry(c, "both.example");
  ck_assert(r->blocked && r->insecure);
  r = entry(c, "localhost:5000"); /* (the trailing '/' goes) */
  ck_assert(r->insecure && !r->blocked);
  ck_assert_str_eq(r->location, "localhost:5000");
  ck_assert_int_eq(r->line, 6);
  ck_assert_ptr_eq(sc_regconf_find(c, "localhost:5000", "a/b"), r);
}
END_TEST

START_TEST(test_regconf_v2_inline_tables)
{
  g_autoptr(ScRegConf) c =
    reg_ok("unqualified-search-registries = [\n"
           "  \"docker.io\",  # comments and a trailing comma\n"
           "  'quay.io',\n"
           "]\n"
           "registry = [\n"
           "  {prefix = \"a.example/x\", location = \"mirror.example/x/\", insecure = true,"
           " mirror = [{location = \"m1.example\", insecure = true}, {location = 'm2.example',"
           " pull-from-mirror = \"digest-only\"}]},\n"
           "  { location = \"b.example\", blocked = false },\n"
           "]\n"
           "[aliases]\n"
           "\"app\" = \"\"\"\n"
           "b.example/\\\n"
           "    app\"\"\"\n"
           "'literal\\key' = '''c:\\dir'''\n");
  ScRegistryEntry *r = entry(c, "a.example/x");
  ScMirror *m;

  ck_assert_uint_eq(c->search->len, 2);
  ck_assert_str_eq(c->search->pdata[1], "quay.io");
  ck_assert_str_eq(r->location, "mirror.example/x");
  ck_assert(r->insecure);
  ck_assert_int_eq(r->line, 6);
  ck_assert_uint_eq(r->mirrors->len, 2);
  m = r->mirrors->pdata[0];
  ck_assert_str_eq(m->location, "m1.example");
  ck_assert(m->insecure);
  m = r->mirrors->pdata[1];
  ck_assert_str_eq(m->pull_from, "digest-only");
  ck_assert_str_eq(entry(c, "b.example")->location, "b.example");
  {
    g_autoptr(ScRegConf) dotted = reg_ok("aliases.\"web\" = 'quay.io/web'\n"
                                         "aliases . 'db' = \"quay.io/db\"\n");
    ck_assert_str_eq(g_hash_table_lookup(dotted->aliases, "web"), "quay.io/web");
    ck_assert_str_eq(g_hash_table_lookup(dotted->aliases, "db"), "quay.io/db");
  }
  ck_assert_str_eq(g_hash_table_lookup(c->aliases, "app"), "b.example/app");
  ck_assert_str_eq(g_hash_table_lookup(c->aliases, "literal\\key"), "c:\\dir");
}
END_TEST

START_TEST(test_regconf_v2_headers)
{
  g_autoptr(ScRegConf) c = reg_ok("short-name-mode = \"enforcing\"\r\n"
                                  "[[registry]]\r\n"
                                  "location = \"q.example\"\r\n"
                                  "mirror = [{location = \"inline.example\"}]\r\n"
                                  "[[registry]]\n"
                                  "prefix = \"*.wild.example\"\n"
                                  "[[registry.mirror]]\n"
                                  "location = \"m.example\"\n"
                                  "[[registry.mirror]]\n"
                                  "location = \"n.example\"\n"
                                  "insecure = true\n"
                                  "[[registry]]  # the first of a prefix counts\n"
                                  "location = \"q.example\"\n"
                                  "mirror-by-digest-only = true\n");
  ScRegistryEntry *q = entry(c, "q.example");
  ScRegistryEntry *w = entry(c, "*.wild.example");

  ck_assert_str_eq(c->short_name_mode, "enforcing");
  ck_assert_uint_eq(c->registries->len, 2);
  ck_assert(!q->mirror_by_digest_only);
  ck_assert_uint_eq(q->mirrors->len, 1);
  ck_assert_str_eq(((ScMirror *)q->mirrors->pdata[0])->location, "inline.example");
  ck_assert_ptr_null(w->location);
  ck_assert_uint_eq(w->mirrors->len, 2);
  ck_assert(((ScMirror *)w->mirrors->pdata[1])->insecure);
  ck_assert_ptr_eq(sc_regconf_find(c, "x.wild.example", "a"), w);
}
END_TEST

static const struct {
  const char *text, *message;
} reg_bad[] = {
  /* TOML */
  { "registry = [{location = \"a\", insecure = true,}]\n",
    "r.conf line 1: a trailing comma in an inline table" },
  { "registry = [{location = \"a\",\n insecure = true}]\n",
    "r.conf line 1: an inline table must be on one line" },
  { "[aliases]\n\"a\" = \"x\"\n\"a\" = \"y\"\n", "r.conf line 3: key 'a' is defined twice" },
  { "[aliases]\n[aliases]\n", "r.conf line 2: table [aliases] is defined twice" },
  { "aliases.a = \"b/c\"\n[aliases]\n", "r.conf line 2: table [aliases] is defined twice" },
  { "registry = [{location = \"a\"}]\n[[registry]]\nlocation = \"b\"\n",
    "r.conf line 2: [[registry]]: 'registry' is already defined, not as an array of tables" },
  { "[[registry]]\nlocation = \"a\\qb\"\n", "r.conf line 2: invalid escape '\\q' in a string" },
  { "[[registry]]\nlocation = \"\\uD800\"\n",
    "r.conf line 2: invalid \\u escape: not a Unicode scalar value" },
  { "short-name-mode = 1979-05-27\n", "r.conf line 1: dates and times are not supported" },
  { "short-name-mode = \"a\tb\x01\"\n", "r.conf line 1: a control character in a string" },
  { "[aliases]\n\"a\" = \"\"\"never\nclosed\n",
    "r.conf line 4: a string that starts at line 2 is not closed" },
  { "[aliases]\n\"a\" = \"open\n", "r.conf line 2: a string runs past the end of the line" },
  { "x = [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
    "r.conf line 1: arrays and inline tables nested more than 32 deep" },
  { "[[registry]]\nlocation = \"a\" extra\n", "r.conf line 2: unexpected text after the value" },
  { "[[registry]]\nlocation = docker.io\n",
    "r.conf line 2: expected a value (a string, true, false, a number, [an array] or {an "
    "inline table})" },
  { "[[registry]\n", "r.conf line 1: a table header is not closed by ']]'" },
  { "= 1\n", "r.conf line 1: expected a key, a [table] or a comment" },
  { "a = 01\n", "r.conf line 1: invalid number" },
  /* registries.conf */
  { "[[registry.mirror]]\nlocation = \"m\"\n",
    "r.conf line 1: [[registry.mirror]] before any [[registry]]" },
  { "[registry]\nlocation = \"m\"\n",
    "r.conf line 1: 'registry' must be an array of tables ([[registry]])" },
  { "[[registry]]\ninsecure = \"yes\"\n", "r.conf line 2: 'insecure' must be true or false" },
  { "unqualified-search-registries = [\"a\",\n  3]\n",
    "r.conf line 2: 'unqualified-search-registries' must be an array of strings (item 2 is an "
    "integer)" },
  { "[[registry]]\nlocation = \"https://a.example\"\n",
    "r.conf line 1: invalid location 'https://a.example': URI schemes are not supported" },
  { "[[registry]]\nprefix = \"a.example/x\"\n",
    "r.conf line 1: [[registry]]: invalid condition: location is unset and prefix is not in "
    "the format: *.example.com" },
  { "[[registry]]\nblocked = true\n",
    "r.conf line 1: [[registry]]: invalid condition: both location and prefix are unset" },
  { "[[registry]]\nprefix = \"*.a.example/x\"\n",
    "r.conf line 1: [[registry]]: wildcarded prefix should be in the format *.example.com, not "
    "\"*.a.example/x\"" },
  { "[[registry]]\nlocation = \"a\"\n[[registry.mirror]]\ninsecure = true\n",
    "r.conf line 3: [[registry]] \"a\": invalid condition: mirror location is unset" },
  { "[[registry]]\nlocation = \"a\"\npull-from-mirror = \"all\"\n",
    "r.conf line 3: pull-from-mirror must not be set for a non-mirror registry" },
  { "[[registry]]\nlocation = \"a\"\n[[registry]]\nprefix = \"a/b\"\nlocation = \"a\"\n"
    "insecure = true\n",
    "r.conf line 3: registry 'a' is defined multiple times with conflicting 'insecure' setting "
    "(also at line 1)" },
  { "unqualified-search-registries = [\"docker.io/library\"]\n",
    "r.conf line 1: invalid unqualified-search-registries entry \"docker.io/library\": a "
    "registry host[:port] is needed" },
  { "[[registry]]\nlocation = \"a\"\nx.y = 1\n", "r.conf line 3: unknown key 'x' in [registry]" },
  { "[registries.search]\nregistries = [\"a\"]\n[registries.other]\nregistries = []\n",
    "r.conf line 3: unknown table [registries.other] (version 1 has [registries.search], "
    "[registries.insecure] and [registries.block])" },
  { "registries = [\"a\"]\n",
    "r.conf line 1: 'registries' must be a table ([registries.search], [registries.insecure], "
    "[registries.block])" },
  /* version 1 and 2 in one file (even an empty v1 list counts, as hasSetField) */
  { "unqualified-search-registries = [\"docker.io\"]\n[registries.search]\nregistries = []\n",
    "r.conf line 3: mixing sysregistry v1/v2 is not supported: [registries.*] tables (version "
    "1, line 3) and 'unqualified-search-registries' (version 2, line 1) in one file" },
  { "[aliases]\n\"a\" = \"b/c\"\n[registries.block]\nregistries = [\"x\"]\n",
    "r.conf line 4: mixing sysregistry v1/v2 is not supported: [registries.*] tables (version "
    "1, line 4) and 'aliases' (version 2, line 1) in one file" },
  { "[registries.insecure]\nregistries = [\"http://x\"]\n",
    "r.conf line 2: invalid location 'http://x': URI schemes are not supported" },
};

START_TEST(test_regconf_errors)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ScRegConf) c = sc_regconf_new();

  ck_assert_msg(
    !sc_regconf_parse(c, "r.conf", reg_bad[_i].text, &error), "accepted: %s", reg_bad[_i].text);
  ck_assert_int_eq(error->code, SC_EINVAL);
  ck_assert_str_eq(error->message, reg_bad[_i].message);
}
END_TEST

START_TEST(test_regconf_headers_refuse_unknown)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ScRegConf) c = sc_regconf_new();

  /* (the last [[registry]] of test_regconf_v2_headers' text, alone) */
  ck_assert(
    !sc_regconf_parse(c, "r.conf", "[[registry]]\nlocation = \"q\"\nx.y = \"\\u00e9\"\n", &error));
  ck_assert_str_eq(error->message, "r.conf line 3: unknown key 'x' in [registry]");
}
END_TEST

static char *
write_in(const char *dir, const char *name, const char *text)
{
  tc_write(dir, name, text);
  return g_build_filename(dir, name, NULL);
}

START_TEST(test_regconf_dropins)
{
  g_autofree char *main = write_in(scratch,
                                   "registries.conf",
                                   "[registries.search]\nregistries = [\"one.example\"]\n"
                                   "[registries.insecure]\nregistries = [\"a.example\"]\n");
  g_autofree char *d = g_build_filename(scratch, "registries.conf.d", NULL);
  g_autofree char *v1_dropin = NULL;
  const char *const dirs[] = { d, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(ScRegConf) c = NULL;
  g_autoptr(ScRegConf) c2 = NULL;
  ScRegistryEntry *r;

  /* a version 1 main file and version 2 drop-ins: allowed, merged */
  g_free(write_in(d, "10-a.conf", "[[registry]]\nlocation = \"a.example\"\nblocked = true\n"));
  g_free(write_in(d,
                  "20-search.conf",
                  "unqualified-search-registries = [\"two.example\"]\n"
                  "[aliases]\n\"x\" = \"two.example/x\"\n"));
  g_free(write_in(d, "30-nothing.conf", "# only a comment\n"));
  g_autofree char *dir_conf = g_build_filename(d, "40-dir.conf", NULL);
  g_mkdir(dir_conf, 0755); /* skipped, as containers/image */
  g_free(write_in(d, "ignored.txt", "not = [toml\n"));
  c = sc_regconf_load_files(main, dirs, &error);
  ck_assert_msg(c != NULL, "%s", error ? error->message : "");
  r = entry(c, "a.example"); /* the drop-in's entry replaced the main file's */
  ck_assert(r->blocked && !r->insecure);
  ck_assert_uint_eq(c->registries->len, 1);
  ck_assert_uint_eq(c->search->len, 1);
  ck_assert_str_eq(c->search->pdata[0], "two.example");
  ck_assert_str_eq(g_hash_table_lookup(c->aliases, "x"), "two.example/x");
  /* a drop-in in version 1 */
  v1_dropin = write_in(d, "50-old.conf", "\n[registries.block]\nregistries = [\"b\"]\n");
  c2 = sc_regconf_load_files(main, dirs, &error);
  ck_assert_ptr_null(c2);
  g_autofree char *want = g_strdup_printf(
    "%s line 3: registry must be in v2 format but is in v1 ([registries.*] tables): a drop-in "
    "in registries.conf.d takes version 2 only",
    v1_dropin);
  ck_assert_str_eq(error->message, want);
}
END_TEST

int
main(void)
{
  Suite *s = suite_create("hostconf");
  TCase *tc = tcase_create("atomic.conf");
  TCase *ctxc = tcase_create("context");
  TCase *reg = tcase_create("registries.conf");

  tcase_add_test(tc, test_atomic_conf_keys);
  tcase_add_test(tc, test_atomic_conf_empty_null_alias);
  tcase_add_loop_test(tc, test_atomic_conf_errors, 0, G_N_ELEMENTS(atomic_bad));
  suite_add_tcase(s, tc);
  tcase_add_checked_fixture(ctxc, setup_scratch, teardown_scratch);
  tcase_add_test(ctxc, test_context_reads_sysroot_conf);
  tcase_add_test(ctxc, test_context_precedence_env);
  tcase_add_test(ctxc, test_context_recorded_runtime);
  tcase_add_test(ctxc, test_context_bad_conf_stops_operations);
  tcase_add_test(ctxc, test_context_conf_link_stays_in_sysroot);
  suite_add_tcase(s, ctxc);
  tcase_add_checked_fixture(reg, setup_scratch, teardown_scratch);
  tcase_add_test(reg, test_regconf_v1);
  tcase_add_test(reg, test_regconf_v2_inline_tables);
  tcase_add_test(reg, test_regconf_v2_headers);
  tcase_add_loop_test(reg, test_regconf_errors, 0, G_N_ELEMENTS(reg_bad));
  tcase_add_test(reg, test_regconf_headers_refuse_unknown);
  tcase_add_test(reg, test_regconf_dropins);
  suite_add_tcase(s, reg);
  return tc_run(s);
}
