/*
 * Unit tests of lib/base/fcontext.c: every answer it gives is the one
 * libselinux itself gives (selabel_lookup_raw on the same files), on the
 * installed policy (selinux-policy-default: real paths of this machine and
 * paths made from each of its specifications and substitutions) and on
 * policies written to exercise each rule libselinux applies (order of
 * exact and regex specifications, stems, alternations, quantifiers after a
 * literal, classes, <<none>>, file types, .homedirs and .local,
 * substitutions and their order). What it must leave to libselinux it
 * declines, and it declines nothing else on those policies.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"
#include "sc-private.h"

#include <fcntl.h>
#include <ftw.h>
#include <selinux/label.h>
#include <selinux/selinux.h>
#include <sys/stat.h>

#define POLICY_DIR "/etc/selinux/default/contexts/files"

static const mode_t modes[] = { 0, S_IFREG, S_IFDIR, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK };

static struct selabel_handle *
open_lib(const char *dir)
{
  g_autofree char *path = g_build_filename(dir, "file_contexts", NULL);
  const struct selinux_opt opts[] = { { SELABEL_OPT_PATH, path } };
  struct selabel_handle *h = selabel_open(SELABEL_CTX_FILE, opts, G_N_ELEMENTS(opts));

  ck_assert_msg(h != NULL, "libselinux cannot open %s", path);
  return h;
}

/* libselinux's answer: the label, NULL for none; *@failed when it errs */
static char *
lib_answer(struct selabel_handle *h, const char *path, mode_t mode, gboolean *failed)
{
  char *con = NULL, *out;

  *failed = FALSE;
  if (selabel_lookup_raw(h, &con, path, mode) != 0) {
    *failed = errno != ENOENT;
    return NULL;
  }
  out = strcmp(con, "<<none>>") == 0 ? NULL : g_strdup(con);
  freecon(con);
  return out;
}

typedef struct {
  guint answered, declined;
} Counts;

/* Every (path, mode) answered alike; returns how many were declined. */
static Counts
compare(const char *dir, GPtrArray *paths, gboolean all_modes)
{
  struct selabel_handle *h = open_lib(dir);
  ScFcon *fc = sc_fcon_load(dir);
  Counts c = { 0, 0 };

  ck_assert_msg(fc != NULL, "fcontext.c declined the files of %s", dir);
  for (guint i = 0; i < paths->len; i++)
    for (guint m = 0; m < (all_modes ? G_N_ELEMENTS(modes) : 2); m++) {
      const char *path = paths->pdata[i];
      const char *fast = NULL;
      gboolean failed;
      g_autofree char *lib = lib_answer(h, path, modes[m], &failed);
      if (!sc_fcon_lookup(fc, path, modes[m], &fast)) {
        if (m == 0)
          fprintf(stderr, "# declined: %s\n", path);
        c.declined++;
        continue;
      }
      c.answered++;
      ck_assert_msg(!failed, "%s: libselinux fails where fcontext.c answers %s", path,
                    fast ? fast : "(none)");
      ck_assert_msg(g_strcmp0(lib, fast) == 0, "%s (mode %o): libselinux %s, fcontext.c %s", path,
                    modes[m], lib ? lib : "(none)", fast ? fast : "(none)");
    }
  sc_fcon_free(fc);
  selabel_close(h);
  return c;
}

/* Paths a specification is about: its text with the regex taken out in a
 * few ways, and neighbours of it. */
static void
add_spec_paths(GPtrArray *paths, const char *regex)
{
  static const char *const fills[] = { "", "x", "abc/def", "lib.so.1" };

  for (guint f = 0; f < G_N_ELEMENTS(fills); f++) {
    GString *s = g_string_new(NULL);
    for (const char *p = regex; *p; p++) {
      if (*p == '\\' && p[1]) {
        g_string_append_c(s, *++p);
      } else if (*p == '(' || *p == ')' || *p == '?' || *p == '*' || *p == '+' || *p == '^' ||
                 *p == '$' || *p == '|') {
        continue;
      } else if (*p == '[') {
        const char *end = strchr(p + 2, ']');
        g_string_append(s, fills[f][0] ? fills[f] : "q");
        if (end)
          p = end;
      } else if (*p == '.') {
        g_string_append(s, fills[f][0] ? fills[f] : ".");
      } else if (*p == '{') {
        const char *end = strchr(p, '}');
        if (end)
          p = end;
      } else {
        g_string_append_c(s, *p);
      }
    }
    while (s->len > 1 && s->str[s->len - 1] == '/')
      g_string_truncate(s, s->len - 1);
    if (s->len > 0 && s->str[0] == '/' && strstr(s->str, "//") == NULL) {
      g_ptr_array_add(paths, g_strdup(s->str));
      g_ptr_array_add(paths, g_strdup_printf("%s/%s", s->len > 1 ? s->str : "",
                                             fills[f][0] ? fills[f] : "y"));
    }
    g_string_free(s, TRUE);
  }
}

static void
add_file_paths(GPtrArray *paths, const char *file, gboolean subs)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents(file, &text, NULL, NULL))
    return;
  lines = g_strsplit(text, "\n", -1);
  for (guint i = 0; lines[i]; i++) {
    g_auto(GStrv) f = g_strsplit_set(g_strstrip(lines[i]), " \t", 2);
    if (f[0] == NULL || f[0][0] != '/')
      continue;
    if (subs) {
      g_ptr_array_add(paths, g_strdup(f[0]));
      g_ptr_array_add(paths, g_strdup_printf("%s/x", f[0]));
      g_ptr_array_add(paths, g_strdup_printf("%s/systemd/system/a.service", f[0]));
      g_ptr_array_add(paths, g_strdup_printf("%sx", f[0]));
    } else {
      add_spec_paths(paths, f[0]);
    }
  }
}

static GPtrArray *walked;
static guint walk_step;

static int
walk_cb(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
  (void)st, (void)type, (void)ftw;
  if (walk_step++ % 7 == 0 && strstr(path, "//") == NULL)
    g_ptr_array_add(walked, g_strdup(path));
  return walked->len > 6000 ? 1 : 0;
}

START_TEST(test_installed_policy)
{
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
  static const char *const roots[] = { "/etc", "/usr/bin", "/usr/sbin", "/usr/lib/systemd",
                                       "/usr/share/selinux", "/var", "/usr/libexec", "/usr/lib" };
  Counts c;

  if (!g_file_test(POLICY_DIR "/file_contexts", G_FILE_TEST_EXISTS)) {
    fprintf(stderr, "# SKIP: no %s (selinux-policy-default)\n", POLICY_DIR);
    return;
  }
  add_file_paths(paths, POLICY_DIR "/file_contexts", FALSE);
  add_file_paths(paths, POLICY_DIR "/file_contexts.homedirs", FALSE);
  add_file_paths(paths, POLICY_DIR "/file_contexts.subs_dist", TRUE);
  g_ptr_array_add(paths, g_strdup("/"));
  walked = paths;
  for (guint i = 0; i < G_N_ELEMENTS(roots); i++) {
    walk_step = 0;
    nftw(roots[i], walk_cb, 32, FTW_PHYS);
  }
  c = compare(POLICY_DIR, paths, FALSE);
  fprintf(stderr, "# installed policy: %u answers alike, %u declined\n", c.answered, c.declined);
  ck_assert_uint_gt(c.answered, 20000);
  ck_assert_uint_eq(c.declined, 0);
}
END_TEST

/* A policy of every rule; the paths below reach each. */
static const char *const crafted_fc =
  "# a comment (non-ASCII in one is fine: \xc3\xa9t\xc3\xa9), then blank lines\n"
  "\n"
  "   \t \n"
  "/.*\t\tsystem_u:object_r:default_t\n"
  "/a(/.*)?        system_u:object_r:a_t\n"
  "/a/b     -d     system_u:object_r:ab_dir_t\n"
  "/a/b     --     system_u:object_r:ab_file_t\n"
  "/a/b/c\\.conf   system_u:object_r:conf_exact_t\n"
  "/a/b/c.conf    system_u:object_r:conf_regex_t\n"
  "/a/b/c\\.conf   system_u:object_r:conf_exact2_t\n"
  "  /a/b/sp   -l   system_u:object_r:lnk_t   trailing fields are ignored, \xc3\xa9ven so\n"
  "/a/b/sp     -p   system_u:object_r:fifo_t\r\n"
  "/a/b/sp     -s   system_u:object_r:sock_t\n"
  "/a/b/sp     -c   system_u:object_r:chr_t\n"
  "/a/b/sp     -b   system_u:object_r:blk_t\n"
  "/alt|/other/x  system_u:object_r:alt_t\n"
  "/stem/a|b      system_u:object_r:stemalt_t\n"
  "/stem/a|/stem/q|/other/q  system_u:object_r:stemalt2_t\n"
  "/x\\-y/z      system_u:object_r:backslash_stem2_t\n"
  "/st(em|x)/q    system_u:object_r:group_alt_t\n"
  "/lib64?/q      system_u:object_r:optional_t\n"
  "/libs*/r       system_u:object_r:star_t\n"
  "/p/a{2}        system_u:object_r:brace_t\n"
  "/m/[]x]/y      system_u:object_r:class_t\n"
  "/m/[^]|]/z     system_u:object_r:negclass_t\n"
  "/n(/.*)?       <<none>>\n"
  "/n/keep        system_u:object_r:keep_t\n"
  "/usr/lib/[^/]*\\.so(\\.[^/]*)*  --  system_u:object_r:lib_t\n"
  "/usr/lib       system_u:object_r:usrlib_t\n"
  "/usr           -d   system_u:object_r:usr_t\n"
  "/usr/(.*/)?bin(/.*)?  system_u:object_r:bin_t\n"
  "/home/[^/]+/\\.cache(/.*)?  system_u:object_r:cache_t\n"
  "/d\\d+/e       system_u:object_r:digit_t\n"
  "/dot.          system_u:object_r:dot_t\n"
  "/Case(?i)x     system_u:object_r:inline_flag_t\n"
  /* an alternation or a quantifier the scan for a literal prefix could
   * misread (found by an outside attack) */
  "/usr/lib\\Q(\\E|/other   system_u:object_r:quoted_alt_t\n"
  "/usr/lib(?#[)|/other2    system_u:object_r:comment_alt_t\n"
  "/usr/lib[[:alpha:](]|/other3  system_u:object_r:posix_alt_t\n"
  "/usr/li\\Q\\Eb?x       system_u:object_r:empty_quote_t\n"
  "/usr/lib(?#x)*          system_u:object_r:comment_quant_t\n"
  "/usr/libz\\E?          system_u:object_r:end_quote_t\n"
  "/usr/lib\\c(|/other4    system_u:object_r:control_alt_t\n"
  "/usrlib\\c[|/other5     system_u:object_r:control_class_t\n"
  /* text a path must hold, read past the prefix (required_text()) */
  "/t/(.*/)?bin/tool        system_u:object_r:tail_t\n"
  "/t/a+bc/d                system_u:object_r:plus_t\n"
  "/t/x?yz\\.q              system_u:object_r:opt_char_t\n"
  "/t/.*foo\\.d/.*          system_u:object_r:inner_t\n"
  "/t/\\d+ab                system_u:object_r:digits_t\n"
  "/t/[a-z]+mid(/.*)?end    system_u:object_r:class_mid_t\n"
  "/t/q\\+r                 system_u:object_r:escaped_plus_t\n"
  "/t/(ab|cd)ef*gh          system_u:object_r:group_star_t\n"
  "/t/[]x]zz[^]]ww          system_u:object_r:class_bracket_t\n"
  "/t/k\\Ds(/.*)?            system_u:object_r:escape_class_t\n"
  "/t/(z)abw?vv             system_u:object_r:group_opt_t\n";

static const char *const crafted_paths[] = {
  "/", "/a", "/ab", "/a/b", "/a/bb", "/a/b/c.conf", "/a/b/cxconf", "/a/b/c.confx", "/a/b/sp",
  "/a/b/sp/x", "/alt", "/altx", "/other/x", "/zz/other/x", "/q/other/x", "/stem/a", "/stem/zzb",
  "/stem/b", "/stemb", "/stem/q", "/other/q", "/zz/other/q", "/x-y/z", "/x\\-y/z", "/opt/zzb", "/stem", "/stem/q", "/stx/q", "/ste/q", "/xy/z",
  "/lib/q", "/lib6/q", "/lib64/q", "/lib644/q", "/li/r", "/lib/r", "/libsss/r", "/p/aa", "/p/a",
  "/p/aaa", "/m/]/y", "/m/x/y", "/m/q/y", "/m/q/z", "/m/]/z", "/m/|/z", "/n", "/n/keep",
  "/n/other", "/nn", "/usr", "/usr/lib", "/usr/lib/libc.so.6", "/usr/lib/libc.so", "/usr/lib/x/y.so",
  "/usr/bin", "/usr/bin/ls", "/usr/local/bin/x", "/usr/share/bin", "/home/u/.cache",
  "/home/u/.cache/x", "/home//u", "/home/u/", "relative/path", "", "/d1/e", "/d12/e", "/dx/e",
  "/dot", "/dotx", "/dot/", "/CaseX", "/Casex", "/CASEx", "/a/b/c\nd", "/a/b/\xc3\xa9t\xc3\xa9",
  "/alias", "/alias/b/c.conf", "/aliasx", "/deep/alias", "/deep/alias/c.conf", "/deep/aliasx",
  "/root-alias", "/root-alias/a/b", "/chain", "/chain/c.conf", "/chain2/x", "/lib/systemd/x",
  "/lib/x", "/bin", "/bin/ls", "/var/run/x", "/local-home/u/.cache", "/usr/other",
  "/usr/x/other", "/usr/bin/other", "/usr/li", "/usr/lix", "/usr/libx", "/usr/libbx", "/usr/lib(",
  "/other2", "/usr/other2", "/other3", "/usr/x/other3", "/usr/libq", "/usr/lib]", "/usr/lib",
  "/usr/lib", "/usr/libz", "/usr/lib/z", "/usr/libzz", "/usr/other4", "/usr/x/other4",
  "/other4", "/other5", "/usr/other5", "/usrlib\x08",
  "/t/bin/tool", "/t/x/bin/tool", "/t/x/bin/toolx", "/t/bin/tool\n", "/t/bin/tool\n\n",
  "/t/bin/too", "/t/aaabc/d", "/t/bc/d", "/t/abc/d\n", "/t/yz.q", "/t/xyz.q", "/t/xxyz.q",
  "/t/foo.d/x", "/t/a/foo.d/y", "/t/foo.dx", "/t/12ab", "/t/ab", "/t/1ab\n", "/t/zmidend",
  "/t/zmid/x/end", "/t/mid/end", "/t/q+r", "/t/qqr", "/t/cdgh", "/t/abeeefgh", "/t/abgh", "/t/abegh", "/t/cdeffgh", "/t/zabvv", "/t/zabwvv", "/t/zabwwvv",
  "/t/]zzxww", "/t/xzz]ww", "/t/kas", "/t/k5s", "/t/kas/x",
};

static const char *const crafted_homedirs =
  "/home/[^/]+/\\.cache/keep   system_u:object_r:home_keep_t\n"
  "/a/b/c\\.conf                system_u:object_r:homedirs_conf_t\n";

static const char *const crafted_local =
  "/a/b/c\\.conf   system_u:object_r:local_conf_t\n"
  "/n/other       system_u:object_r:local_other_t\n";

static const char *const crafted_subs =
  "# local aliases\n"
  "/alias /a\n"
  "/deep/alias /a/b\n"
  "   /root-alias    /   \n"
  "/chain /chain2\n"
  "/only-one-field\n";

static const char *const crafted_subs_dist =
  "/chain2 /a/b\n"
  "/lib /usr/lib\n"
  "/lib/systemd /usr/lib/systemd\n"
  "/bin /usr/bin\n"
  "/local-home /home\n"
  "/var/run /run\n";

static GPtrArray *
crafted_path_list(void)
{
  GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);
  GString *deep = g_string_new("/usr/lib");

  for (guint i = 0; i < G_N_ELEMENTS(crafted_paths); i++)
    g_ptr_array_add(paths, g_strdup(crafted_paths[i]));
  for (guint i = 0; i < 120; i++)
    g_string_append(deep, "/abcde");
  g_ptr_array_add(paths, g_strdup_printf("%s.so.1", deep->str));
  g_ptr_array_add(paths, g_string_free(deep, FALSE));
  return paths;
}

START_TEST(test_crafted_policy)
{
  g_autofree char *dir = tc_mkdtemp();
  g_autoptr(GPtrArray) paths = crafted_path_list();
  Counts c;

  tc_write(dir, "file_contexts", crafted_fc);
  tc_write(dir, "file_contexts.homedirs", crafted_homedirs);
  tc_write(dir, "file_contexts.local", crafted_local);
  tc_write(dir, "file_contexts.subs", crafted_subs);
  tc_write(dir, "file_contexts.subs_dist", crafted_subs_dist);
  {
    g_autofree char *fc_path = g_build_filename(dir, "file_contexts", NULL);
    add_file_paths(paths, fc_path, FALSE);
  }
  c = compare(dir, paths, TRUE);
  fprintf(stderr, "# crafted policy: %u answers alike, %u declined\n", c.answered, c.declined);
  /* declined: "", "relative/path", "/home//u", "/home/u/", "/dot/", in 8 modes */
  ck_assert_uint_eq(c.declined, 5 * G_N_ELEMENTS(modes));
  ck_assert_uint_gt(c.answered, 1000);
  tc_rm_rf(dir);
}
END_TEST

/* Without .subs, .homedirs, .local: the base file alone, and subs_dist
 * alone. */
START_TEST(test_base_only)
{
  g_autofree char *dir = tc_mkdtemp();
  g_autoptr(GPtrArray) paths = crafted_path_list();
  Counts c;

  tc_write(dir, "file_contexts", crafted_fc);
  c = compare(dir, paths, TRUE);
  ck_assert_uint_eq(c.declined, 5 * G_N_ELEMENTS(modes));
  tc_write(dir, "file_contexts.subs_dist", crafted_subs_dist);
  c = compare(dir, paths, TRUE);
  ck_assert_uint_eq(c.declined, 5 * G_N_ELEMENTS(modes));
  tc_rm_rf(dir);
}
END_TEST

/* Files libselinux refuses, or reads in a way of its own, are not read
 * here: libselinux answers (and names what is wrong). */
START_TEST(test_declined)
{
  static const char *const refused[] = {
    "/only-one-field\n",
    "/x -q system_u:object_r:bad_type_t\n",
    "/caf\xc3\xa9 system_u:object_r:t\n",
  };
  g_autofree char *dir = tc_mkdtemp();
  const char *fast = NULL;
  ScFcon *fc;

  for (guint i = 0; i < G_N_ELEMENTS(refused); i++) {
    g_autofree char *path = g_build_filename(dir, "file_contexts", NULL);
    const struct selinux_opt opts[] = { { SELABEL_OPT_PATH, path } };
    struct selabel_handle *h;
    tc_write(dir, "file_contexts", refused[i]);
    h = selabel_open(SELABEL_CTX_FILE, opts, 1);
    ck_assert_msg(h == NULL, "libselinux accepted %s", refused[i]);
    ck_assert_ptr_null(sc_fcon_load(dir));
  }
  ck_assert_ptr_null(sc_fcon_load("/nonexistent-fcontext-dir"));

  /* a regex PCRE2 refuses fails every lookup that reaches it in
   * libselinux, and which do is what the index skips: all left to it */
  tc_write(dir, "file_contexts",
           "/.* system_u:object_r:default_t\n"
           "/bad/[z  system_u:object_r:bad_t\n"
           "/good/x system_u:object_r:good_t\n");
  ck_assert_ptr_null(sc_fcon_load(dir));
  tc_write(dir, "file_contexts", "/.* system_u:object_r:default_t\n/x( system_u:object_r:x_t\n");
  ck_assert_ptr_null(sc_fcon_load(dir));

  /* a substitutions file whose last line is one word with no newline:
   * libselinux reads a destination from past the line */
  tc_write(dir, "file_contexts", "/.* system_u:object_r:default_t\n");
  tc_write(dir, "file_contexts.subs", "/xyz /zz\n/a");
  ck_assert_ptr_null(sc_fcon_load(dir));
  tc_write(dir, "file_contexts.subs", "/xyz /zz\n/a /b");
  fc = sc_fcon_load(dir);
  ck_assert_ptr_nonnull(fc);
  ck_assert(sc_fcon_lookup(fc, "/good/x", S_IFREG, &fast));
  ck_assert_str_eq(fast, "system_u:object_r:default_t");
  sc_fcon_free(fc);
  tc_rm_rf(dir);
}
END_TEST

/* Through sc_selinux_load() on a root, from several threads at once (the
 * layers of a pull look up in parallel), each answer checked. */
typedef struct {
  ScSelinux *se;
  GPtrArray *paths;
  GPtrArray *expected;
} ThreadJob;

static gpointer
lookup_thread(gpointer data)
{
  ThreadJob *job = data;

  for (guint round = 0; round < 20; round++)
    for (guint i = 0; i < job->paths->len; i++) {
      g_autofree char *label = NULL;
      g_autoptr(GError) error = NULL;
      if (!sc_selinux_lookup(job->se, job->paths->pdata[i], S_IFREG, &label, &error))
        return g_strdup(error->message);
      if (g_strcmp0(label, job->expected->pdata[i]) != 0)
        return g_strdup_printf("%s: %s, expected %s", (char *)job->paths->pdata[i],
                               label ? label : "(none)", (char *)job->expected->pdata[i]);
    }
  return NULL;
}

START_TEST(test_threads)
{
  g_autofree char *root = tc_mkdtemp();
  g_autofree char *files = g_build_filename(root, "etc/selinux/crafted/contexts/files", NULL);
  g_autoptr(GPtrArray) paths = crafted_path_list();
  g_autoptr(GPtrArray) expected = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GError) error = NULL;
  struct selabel_handle *h;
  ScSelinux *se = NULL;
  ThreadJob job;
  GThread *threads[4];

  tc_write(root, "etc/selinux/config", "SELINUX=enforcing\nSELINUXTYPE=crafted\n");
  tc_write(files, "file_contexts", crafted_fc);
  tc_write(files, "file_contexts.local", crafted_local);
  tc_write(files, "file_contexts.subs", crafted_subs);
  h = open_lib(files);
  for (guint i = 0; i < paths->len;) {
    const char *p = paths->pdata[i];
    gboolean failed;
    if (p[0] != '/') {
      g_ptr_array_remove_index(paths, i); /* libselinux refuses "" */
      continue;
    }
    g_ptr_array_add(expected, lib_answer(h, p, S_IFREG, &failed));
    ck_assert(!failed);
    i++;
  }
  selabel_close(h);
  ck_assert_msg(sc_selinux_load(root, &se, &error), "%s", error ? error->message : "");
  ck_assert_ptr_nonnull(se);
  job = (ThreadJob){ se, paths, expected };
  for (guint i = 0; i < G_N_ELEMENTS(threads); i++)
    threads[i] = g_thread_new("lookup", lookup_thread, &job);
  for (guint i = 0; i < G_N_ELEMENTS(threads); i++) {
    g_autofree char *why = g_thread_join(threads[i]);
    ck_assert_msg(why == NULL, "%s", why);
  }
  sc_selinux_free(se);
  tc_rm_rf(root);
}
END_TEST

static Suite *
fcontext_suite(void)
{
  Suite *s = suite_create("fcontext");
  TCase *tc = tcase_create("answers");

  tcase_set_timeout(tc, 240);
  tcase_add_test(tc, test_installed_policy);
  tcase_add_test(tc, test_crafted_policy);
  tcase_add_test(tc, test_base_only);
  tcase_add_test(tc, test_declined);
  tcase_add_test(tc, test_threads);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  return tc_run(fcontext_suite());
}
