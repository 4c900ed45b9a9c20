/*
 * Unit tests of the layer importer (lib/store/layer.c, lib/store/layercheck.c): tar
 * streams made here, plain, gzip and zstd, imported into a scratch OSTree
 * repository; both digests checked, entries confined, whiteouts kept
 * literal, xattrs sorted, the limits refused with their messages.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "unit-layer-helpers.h"

static char *scratch;
static OstreeRepo *repo;

static void
setup(void)
{
  g_autofree char *path = NULL;

  scratch = tc_mkdtemp();
  path = g_build_filename(scratch, "repo", NULL);
  repo = tl_repo_new(path);
}

static void
teardown(void)
{
  g_clear_object(&repo);
  sc_rm_rf(scratch);
  g_free(scratch);
}

/* What a refused layer leaves: no commit (no ref was ever set). */
static void
assert_no_commit(void)
{
  g_autoptr(GHashTable) commits = NULL;
  g_autoptr(GError) error = NULL;

  ck_assert(ostree_repo_list_commit_objects_starting_with(repo, "", &commits, NULL, &error));
  ck_assert_int_eq(g_hash_table_size(commits), 0);
}

/* Imports @entries as @comp; the error, if any, in @error. */
static gboolean
import_entries(const TEntry *entries,
               gsize n,
               TComp comp,
               const ScLayerLimits *limits,
               ScLayerResult *res,
               GError **error)
{
  g_autoptr(GBytes) tar = tl_tar(entries, n);
  g_autoptr(GBytes) blob = tl_compress(tar, comp);

  return tl_import_blob(repo, blob, tar, NULL, NULL, limits, res, error);
}

/* Imports @entries, which must be refused with @code and @message (whole,
 * after "layer <digest>: "). */
static void
assert_refused_in(GQuark domain,
                  const TEntry *entries,
                  gsize n,
                  const ScLayerLimits *limits,
                  int code,
                  const char *message)
{
  g_autoptr(GBytes) tar = tl_tar(entries, n);
  g_autofree char *digest = tl_digest(tar);
  g_autofree char *want = g_strdup_printf("layer %s: %s", digest, message);
  g_autoptr(GError) error = NULL;
  ScLayerResult res = { 0 };

  ck_assert(!tl_import_blob(repo, tar, tar, NULL, NULL, limits, &res, &error));
  ck_assert_ptr_nonnull(error);
  ck_assert_msg(g_error_matches(error, domain, code),
                "code %d, want %d: %s",
                error->code,
                code,
                error->message);
  ck_assert_str_eq(error->message, want);
  ck_assert_ptr_null(res.commit);
  assert_no_commit();
}

#define assert_refused(...) assert_refused_in(SC_ERROR, __VA_ARGS__)

static GFile *
commit_root(const char *commit)
{
  g_autoptr(GError) error = NULL;
  GFile *root = NULL;

  ck_assert_msg(ostree_repo_read_commit(repo, commit, &root, NULL, NULL, &error),
                "%s",
                error ? error->message : "");
  return root;
}

static GFileInfo *
info_of(GFile *root, const char *path)
{
  g_autoptr(GFile) f = g_file_resolve_relative_path(root, path);
  return g_file_query_info(
    f, "standard::*,unix::*", G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
}

static char *
content_of(GFile *root, const char *path)
{
  g_autoptr(GFile) f = g_file_resolve_relative_path(root, path);
  char *data = NULL;
  gsize len;

  if (!g_file_load_contents(f, NULL, &data, &len, NULL, NULL))
    return NULL;
  return data;
}

/* The content object of @path. */
static char *
checksum_of(GFile *root, const char *path)
{
  g_autoptr(GFile) f = g_file_resolve_relative_path(root, path);
  g_autoptr(GError) error = NULL;

  ck_assert_msg(ostree_repo_file_ensure_resolved(OSTREE_REPO_FILE(f), &error),
                "%s: %s",
                path,
                error ? error->message : "");
  return g_strdup(ostree_repo_file_get_checksum(OSTREE_REPO_FILE(f)));
}

static const TEntry basic[] = {
  { 'd', "etc", .mode = 0750, .uid = 0, .gid = 4 },
  { 'f', "etc/hostname", "box\n", 0640, .uid = 1000, .gid = 1001 },
  { 'f', "./etc//motd", "hello\n" },
  { 'l', "etc/localtime", .link = "/usr/share/zoneinfo/UTC" },
  { 'h', "etc/hostname.hard", .link = "etc/hostname" },
  { 'p', "run-fifo" },
  { 'f', "usr/bin/tool", "#!/bin/sh\n", 04755 },
};

static void
check_basic(const char *commit)
{
  g_autoptr(GFile) root = commit_root(commit);
  g_autoptr(GFileInfo) etc = info_of(root, "etc");
  g_autoptr(GFileInfo) host = info_of(root, "etc/hostname");
  g_autoptr(GFileInfo) hard = info_of(root, "etc/hostname.hard");
  g_autoptr(GFileInfo) link = info_of(root, "etc/localtime");
  g_autoptr(GFileInfo) tool = info_of(root, "usr/bin/tool");
  g_autoptr(GFileInfo) usr = info_of(root, "usr");
  g_autoptr(GFileInfo) fifo = info_of(root, "run-fifo");
  g_autofree char *text = content_of(root, "etc/hostname");
  g_autofree char *motd = content_of(root, "etc/motd");

  ck_assert_ptr_nonnull(etc);
  ck_assert_int_eq(g_file_info_get_file_type(etc), G_FILE_TYPE_DIRECTORY);
  ck_assert_uint_eq(g_file_info_get_attribute_uint32(etc, "unix::mode"), S_IFDIR | 0750);
  ck_assert_uint_eq(g_file_info_get_attribute_uint32(etc, "unix::gid"), 4);
  ck_assert_str_eq(text, "box\n");
  ck_assert_str_eq(motd, "hello\n");
  ck_assert_uint_eq(g_file_info_get_attribute_uint32(host, "unix::mode"), S_IFREG | 0640);
  ck_assert_uint_eq(g_file_info_get_attribute_uint32(host, "unix::uid"), 1000);
  ck_assert_uint_eq(g_file_info_get_attribute_uint32(host, "unix::gid"), 1001);
  /* a hardlink is the same object */
  {
    g_autofree char *a = checksum_of(root, "etc/hostname.hard");
    g_autofree char *b = checksum_of(root, "etc/hostname");
    ck_assert_str_eq(a, b);
  }
  ck_assert_ptr_nonnull(hard);
  ck_assert_int_eq(g_file_info_get_file_type(link), G_FILE_TYPE_SYMBOLIC_LINK);
  ck_assert_str_eq(g_file_info_get_symlink_target(link), "/usr/share/zoneinfo/UTC");
  ck_assert_uint_eq(g_file_info_get_attribute_uint32(tool, "unix::mode"), S_IFREG | 04755);
  /* a parent the tar does not list: root-owned 0755 */
  ck_assert_uint_eq(g_file_info_get_attribute_uint32(usr, "unix::mode"), S_IFDIR | 0755);
  ck_assert_uint_eq(g_file_info_get_attribute_uint32(usr, "unix::uid"), 0);
  /* fifos are skipped */
  ck_assert_ptr_null(fifo);
}

START_TEST(test_import_compressions)
{
  g_autoptr(GBytes) tar = tl_tar(basic, G_N_ELEMENTS(basic));
  g_autofree char *diff_id = tl_digest(tar);
  g_autofree char *first_tree = NULL;

  for (TComp comp = TC_NONE; comp <= TC_ZSTD; comp++) {
    g_autoptr(GBytes) blob = tl_compress(tar, comp);
    g_autofree char *digest = tl_digest(blob);
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) commit = NULL;
    g_autoptr(GVariant) meta = NULL;
    g_autoptr(GVariantDict) dict = NULL;
    g_autofree char *tree = NULL;
    const char *s = NULL;
    ScLayerResult res = { 0 };
    ScLayerLimits limits = tl_limits();

    ck_assert_msg(tl_import_blob(repo, blob, tar, NULL, NULL, &limits, &res, &error),
                  "%d: %s",
                  comp,
                  error ? error->message : "");
    ck_assert_uint_eq(res.uncompressed_size, g_bytes_get_size(tar));
    ck_assert_uint_eq(res.skipped_entries, 1);
    check_basic(res.commit);
    ck_assert(ostree_repo_load_commit(repo, res.commit, &commit, NULL, &error));
    meta = g_variant_get_child_value(commit, 0);
    dict = g_variant_dict_new(meta);
    ck_assert(g_variant_dict_lookup(dict, "docker.uncompressed_digest", "&s", &s));
    ck_assert_str_eq(s, diff_id);
    ck_assert(g_variant_dict_lookup(dict, "docker.size", "&s", &s));
    ck_assert_uint_eq(g_ascii_strtoull(s, NULL, 10), g_bytes_get_size(blob));
    /* the commit's subject is the blob's digest */
    g_variant_get_child(commit, 3, "&s", &s);
    ck_assert_str_eq(s, digest);
    /* the same tree whatever the compression */
    {
      g_autoptr(GVariant) t = g_variant_get_child_value(commit, 6);
      tree = ostree_checksum_from_bytes_v(t);
    }
    if (first_tree == NULL)
      first_tree = g_steal_pointer(&tree);
    else
      ck_assert_str_eq(tree, first_tree);
    g_free(res.commit);
  }
}
END_TEST

START_TEST(test_wrong_blob_digest)
{
  g_autoptr(GBytes) tar = tl_tar(basic, G_N_ELEMENTS(basic));
  g_autoptr(GBytes) blob = tl_compress(tar, TC_GZIP);
  g_autofree char *real = tl_digest(blob);
  const char *wrong = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
  g_autofree char *want = g_strdup_printf(
    "layer %s: the blob's digest is %s; it does not match the manifest", wrong, real);
  g_autoptr(GError) error = NULL;
  ScLayerResult res = { 0 };

  ck_assert(!tl_import_blob(repo, blob, tar, wrong, NULL, NULL, &res, &error));
  ck_assert(g_error_matches(error, SC_ERROR, SC_EDIGEST));
  ck_assert_str_eq(error->message, want);
  ck_assert_ptr_null(res.commit);
  assert_no_commit();
}
END_TEST

START_TEST(test_wrong_diff_id)
{
  g_autoptr(GBytes) tar = tl_tar(basic, G_N_ELEMENTS(basic));
  g_autoptr(GBytes) blob = tl_compress(tar, TC_ZSTD);
  g_autofree char *digest = tl_digest(blob);
  g_autofree char *real = tl_digest(tar);
  /* the blob's digest given as diff_id: a common mix-up */
  g_autofree char *want = g_strdup_printf(
    "layer %s: the uncompressed digest is %s; the config's diff_id is %s", digest, real, digest);
  g_autoptr(GError) error = NULL;
  ScLayerResult res = { 0 };

  ck_assert(!tl_import_blob(repo, blob, tar, NULL, digest, NULL, &res, &error));
  ck_assert(g_error_matches(error, SC_ERROR, SC_EDIGEST));
  ck_assert_str_eq(error->message, want);
  assert_no_commit();
}
END_TEST

START_TEST(test_truncated_and_corrupt)
{
  g_autoptr(GBytes) tar = tl_tar(basic, G_N_ELEMENTS(basic));
  g_autoptr(GBytes) blob = tl_compress(tar, TC_GZIP);
  gsize len = g_bytes_get_size(blob);
  g_autofree char *digest = tl_digest(blob);
  g_autoptr(GError) error = NULL;
  ScLayerResult res = { 0 };

  /* the descriptor says one byte more than the source has */
  {
    g_autoptr(GInputStream) in = g_memory_input_stream_new_from_bytes(blob);
    g_autofree char *want = g_strdup_printf(
      "layer %s: truncated: the blob ends after %zu of %zu bytes", digest, len, len + 1);
    ck_assert(!sc_layer_import(repo, in, digest, len + 1, NULL, NULL, NULL, NULL, &res, &error));
    ck_assert(g_error_matches(error, SC_ERROR, SC_EDIGEST));
    ck_assert_str_eq(error->message, want);
    g_clear_error(&error);
  }
  /* a gzip stream cut before its end marker */
  {
    g_autoptr(GBytes) cut = g_bytes_new_from_bytes(blob, 0, len - 10);
    g_autofree char *cut_digest = tl_digest(cut);
    g_autofree char *want =
      g_strdup_printf("layer %s: the compressed stream ends before its end marker", cut_digest);
    ck_assert(!tl_import_blob(repo, cut, tar, NULL, NULL, NULL, &res, &error));
    ck_assert(g_error_matches(error, SC_ERROR, SC_EDIGEST));
    ck_assert_str_eq(error->message, want);
    g_clear_error(&error);
  }
  /* not a tar at all */
  {
    g_autoptr(GBytes) junk = g_bytes_new_static("this is no tar archive, just text", 33);
    g_autofree char *junk_digest = tl_digest(junk);
    g_autofree char *want = g_strdup_printf("layer %s: not a valid tar archive: ", junk_digest);
    ck_assert(!tl_import_blob(repo, junk, junk, NULL, NULL, NULL, &res, &error));
    ck_assert(g_error_matches(error, SC_ERROR, SC_EUNSUPPORTED));
    ck_assert_msg(g_str_has_prefix(error->message, want), "%s", error->message);
  }
  assert_no_commit();
}
END_TEST

START_TEST(test_confined)
{
  const TEntry dotdot[] = { { 'f', "a/../../etc/passwd", "x" } };
  const TEntry absolute[] = { { 'f', "/etc/passwd", "x" } };
  const TEntry hard_out[] = { { 'f', "a", "x" }, { 'h', "b", .link = "../etc/shadow" } };
  const TEntry hard_later[] = { { 'h', "b", .link = "a" }, { 'f', "a", "x" } };
  const TEntry hard_dir[] = { { 'd', "d" }, { 'h', "b", .link = "d" } };
  const TEntry hard_wh[] = { { 'f', ".wh.a", "" }, { 'h', "b", .link = ".wh.a" } };
  const TEntry empty_link[] = { { 'l', "l", .link = "" } };

  assert_refused(dotdot,
                 1,
                 NULL,
                 SC_EUNSUPPORTED,
                 "entry 'a/../../etc/passwd' has a '..' component; layer entries must stay "
                 "inside the layer");
  assert_refused(absolute,
                 1,
                 NULL,
                 SC_EUNSUPPORTED,
                 "entry '/etc/passwd' has an absolute path; layer entries must stay inside the "
                 "layer");
  assert_refused(hard_out,
                 2,
                 NULL,
                 SC_EUNSUPPORTED,
                 "entry 'b' is a hardlink, and its target: entry '../etc/shadow' has a '..' "
                 "component; layer entries must stay inside the layer");
  assert_refused(hard_later,
                 2,
                 NULL,
                 SC_EUNSUPPORTED,
                 "'b' is a hardlink to 'a', which is not an earlier file of this layer");
  assert_refused(hard_dir,
                 2,
                 NULL,
                 SC_EUNSUPPORTED,
                 "'b' is a hardlink to 'd', which is not an earlier file of this layer");
  assert_refused(hard_wh,
                 2,
                 NULL,
                 SC_EUNSUPPORTED,
                 "entry 'b' is a hardlink to '.wh.a', a whiteout; hardlinks must name a file");
  assert_refused(
    empty_link, 1, NULL, SC_EUNSUPPORTED, "entry 'l' is a symlink with an empty target");
}
END_TEST

START_TEST(test_links_kept_literal)
{
  /* a link's target is data: it may point anywhere, it is never followed */
  const TEntry e[] = {
    { 'l', "up", .link = "../../../../etc/shadow" },
    { 'l', "abs", .link = "/proc/self/root" },
    { 'f', "up2/file", "x" },
  };
  g_autoptr(GError) error = NULL;
  ScLayerResult res = { 0 };
  g_autoptr(GFile) root = NULL;
  g_autoptr(GFileInfo) up = NULL;
  g_autoptr(GFileInfo) abs = NULL;

  ck_assert_msg(import_entries(e, G_N_ELEMENTS(e), TC_NONE, NULL, &res, &error),
                "%s",
                error ? error->message : "");
  root = commit_root(res.commit);
  up = info_of(root, "up");
  abs = info_of(root, "abs");
  ck_assert_str_eq(g_file_info_get_symlink_target(up), "../../../../etc/shadow");
  ck_assert_str_eq(g_file_info_get_symlink_target(abs), "/proc/self/root");
  g_free(res.commit);
}
END_TEST

START_TEST(test_whiteouts_literal)
{
  const TEntry e[] = {
    { 'f', ".wh.etc", "" },
    { 'f', "usr/.wh..wh..opq", "" },
    { 'f', "usr/.wh.lib", "" },
    { 'f', "usr/bin/x", "x" },
    /* umoci: "d" becomes a file, then a whiteout below it: nothing to delete */
    { 'f', "d", "file now" },
    { 'f', "d/.wh.gone", "" },
  };
  g_autoptr(GError) error = NULL;
  ScLayerResult res = { 0 };
  g_autoptr(GFile) root = NULL;
  const char *files[] = { ".wh.etc", "usr/.wh..wh..opq", "usr/.wh.lib", "usr/bin/x" };

  ck_assert_msg(import_entries(e, G_N_ELEMENTS(e), TC_GZIP, NULL, &res, &error),
                "%s",
                error ? error->message : "");
  root = commit_root(res.commit);
  for (guint i = 0; i < G_N_ELEMENTS(files); i++) {
    g_autoptr(GFileInfo) info = info_of(root, files[i]);
    ck_assert_msg(info != NULL, "%s is missing", files[i]);
    ck_assert_int_eq(g_file_info_get_file_type(info), G_FILE_TYPE_REGULAR);
  }
  {
    g_autoptr(GFileInfo) d = info_of(root, "d");
    g_autofree char *text = content_of(root, "d");
    ck_assert_int_eq(g_file_info_get_file_type(d), G_FILE_TYPE_REGULAR);
    ck_assert_str_eq(text, "file now");
  }
  g_free(res.commit);
}
END_TEST

START_TEST(test_whiteouts_refused)
{
  const TEntry dir[] = { { 'd', "a/.wh.b" } };
  const TEntry meta[] = { { 'f', "a/.wh..wh..plnk", "" } };
  const TEntry empty[] = { { 'f', "a/.wh.", "" } };
  const TEntry dots[] = { { 'f', ".wh..", "" } };
  const TEntry inside[] = { { 'f', "a/.wh.b/c", "" } };

  assert_refused(dir,
                 1,
                 NULL,
                 SC_EUNSUPPORTED,
                 "entry 'a/.wh.b/' is a whiteout but a directory; whiteouts are files");
  assert_refused(meta,
                 1,
                 NULL,
                 SC_EUNSUPPORTED,
                 "entry 'a/.wh..wh..plnk' is a whiteout with the reserved prefix '.wh..wh.'; "
                 "only '.wh..wh..opq' (an opaque whiteout) is allowed");
  assert_refused(empty,
                 1,
                 NULL,
                 SC_EUNSUPPORTED,
                 "entry 'a/.wh.' is a whiteout of '', which is not a name; a whiteout deletes "
                 "one entry of its directory");
  assert_refused(dots,
                 1,
                 NULL,
                 SC_EUNSUPPORTED,
                 "entry '.wh..' is a whiteout of '.', which is not a name; a whiteout deletes "
                 "one entry of its directory");
  assert_refused(inside,
                 1,
                 NULL,
                 SC_EUNSUPPORTED,
                 "entry 'a/.wh.b/c' is inside '.wh.b', a whiteout; whiteouts are files, not "
                 "directories");
}
END_TEST

static GVariant *
xattrs_of(const char *commit, const char *path)
{
  g_autoptr(GFile) root = commit_root(commit);
  g_autofree char *csum = checksum_of(root, path);
  g_autoptr(GError) error = NULL;
  GVariant *xattrs = NULL;

  ck_assert(ostree_repo_load_file(repo, csum, NULL, NULL, &xattrs, NULL, &error));
  return xattrs;
}

START_TEST(test_xattrs_sorted)
{
  const TEntry e[] = {
    { 'f', "f", "x", .xattrs = "user.zeta=1;user.alpha=2;user.mid=3;user.empty=" },
  };
  g_autoptr(GError) error = NULL;
  ScLayerResult res = { 0 };
  g_autoptr(GVariant) xattrs = NULL;
  const char *want[] = { "user.alpha", "user.mid", "user.zeta" };

  ck_assert_msg(
    import_entries(e, 1, TC_NONE, NULL, &res, &error), "%s", error ? error->message : "");
  xattrs = xattrs_of(res.commit, "f");
  /* sorted by name, the empty value dropped (OSTree cannot hold one) */
  ck_assert_uint_eq(g_variant_n_children(xattrs), G_N_ELEMENTS(want));
  for (gsize i = 0; i < G_N_ELEMENTS(want); i++) {
    const char *name;
    g_variant_get_child(xattrs, i, "(^&ay@ay)", &name, NULL);
    ck_assert_str_eq(name, want[i]);
  }
  g_free(res.commit);
}
END_TEST

/* libarchive's default pax records (bsdtar --xattrs): each xattr twice */
START_TEST(test_xattrs_libarchive_pax)
{
  const TEntry e[] = { { 'f', "f", "x", .xattrs = "user.b=2;user.a=1" } };
  g_autoptr(GError) error = NULL;
  ScLayerResult res = { 0 };
  g_autoptr(GVariant) xattrs = NULL;
  const char *name;

  tl_xattrheader = "all";
  ck_assert_msg(
    import_entries(e, 1, TC_GZIP, NULL, &res, &error), "%s", error ? error->message : "");
  xattrs = xattrs_of(res.commit, "f");
  ck_assert_uint_eq(g_variant_n_children(xattrs), 2);
  g_variant_get_child(xattrs, 0, "(^&ay@ay)", &name, NULL);
  ck_assert_str_eq(name, "user.a");
  g_variant_get_child(xattrs, 1, "(^&ay@ay)", &name, NULL);
  ck_assert_str_eq(name, "user.b");
  g_free(res.commit);
}
END_TEST

START_TEST(test_xattrs_refused)
{
  const TEntry ns[] = { { 'f', "f", "x", .xattrs = "user.ok=1;other.name=2" } };

  assert_refused(ns,
                 1,
                 NULL,
                 SC_EUNSUPPORTED,
                 "entry 'f' has an xattr 'other.name' that is outside the namespaces user., "
                 "security., trusted. and system.");
}
END_TEST

/* sc_layer_xattrs_canonical() directly: what a tar cannot always carry */
START_TEST(test_xattrs_canonical)
{
  g_autoptr(GArray) x = g_array_new(FALSE, FALSE, sizeof(ScXattr));
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;
  /* a v3 capability (rootid 0) is stored in the v2 form */
  guchar cap3[24] = { 0x00, 0x00, 0x00, 0x03, 0x01, 0x20 };
  ScXattr a = { "user.b", (const guchar *)"1", 1 };
  ScXattr b = { "security.capability", cap3, sizeof(cap3) };
  ScXattr dup = { "user.b", (const guchar *)"2", 1 };
  ScXattr empty = { "", (const guchar *)"2", 1 };
  g_autofree guchar *big = g_malloc0(65537);
  ScXattr huge = { "user.big", big, 65537 };
  g_autoptr(GVariant) value = NULL;
  const char *name;
  gsize len;
  const guchar *data;

  g_array_append_val(x, a);
  g_array_append_val(x, b);
  v = sc_layer_xattrs_canonical("L", "p", x, &error);
  ck_assert_ptr_nonnull(v);
  ck_assert_uint_eq(g_variant_n_children(v), 2);
  g_variant_get_child(v, 0, "(^&ay@ay)", &name, &value);
  ck_assert_str_eq(name, "security.capability");
  data = g_variant_get_fixed_array(value, &len, 1);
  ck_assert_uint_eq(len, 20);
  ck_assert_uint_eq(data[3], 0x02);
  ck_assert_uint_eq(data[4], 0x01);

  /* the same name and value twice (a libarchive pax tar): once */
  g_array_append_val(x, a);
  g_clear_pointer(&v, g_variant_unref);
  v = sc_layer_xattrs_canonical("L", "p", x, &error);
  ck_assert_ptr_nonnull(v);
  ck_assert_uint_eq(g_variant_n_children(v), 2);
  /* another value under the same name: refused */
  g_array_append_val(x, dup);
  ck_assert_ptr_null(sc_layer_xattrs_canonical("L", "p", x, &error));
  ck_assert_str_eq(error->message,
                   "layer L: entry 'p' has an xattr 'user.b' that appears twice with different "
                   "values");
  g_clear_error(&error);

  g_array_set_size(x, 0);
  g_array_append_val(x, empty);
  ck_assert_ptr_null(sc_layer_xattrs_canonical("L", "p", x, &error));
  ck_assert_str_eq(error->message, "layer L: entry 'p' has an xattr '' that has an empty name");
  g_clear_error(&error);

  g_array_set_size(x, 0);
  g_array_append_val(x, huge);
  ck_assert_ptr_null(sc_layer_xattrs_canonical("L", "p", x, &error));
  ck_assert(g_error_matches(error, SC_ERROR, SC_EUNSUPPORTED));
  ck_assert_str_eq(error->message,
                   "layer L: entry 'p' has an xattr 'user.big' that has a value longer than "
                   "65536 bytes");
}
END_TEST

START_TEST(test_limit_entries)
{
  const TEntry e[] = {
    { 'd', "a" }, { 'f', "a/1", "1" }, { 'f', "a/2", "2" }, { 'f', "a/3", "3" }
  };
  ScLayerLimits l = tl_limits();
  g_autoptr(GError) error = NULL;
  ScLayerResult res = { 0 };

  l.max_entries = 3;
  assert_refused(e,
                 G_N_ELEMENTS(e),
                 &l,
                 SC_EUNSUPPORTED,
                 "has more than 3 entries, the limit (SC_MAX_LAYER_ENTRIES)");
  /* exactly at the limit: imported */
  ck_assert_msg(import_entries(e, 3, TC_NONE, &l, &res, &error), "%s", error ? error->message : "");
  g_free(res.commit);
}
END_TEST

START_TEST(test_limit_depth_and_path)
{
  const TEntry deep[] = { { 'f', "a/b/c", "x" } };
  const TEntry long_path[] = { { 'f', "abcdefghijk", "x" } };
  const TEntry long_link[] = { { 'l', "l", .link = "0123456789a" } };
  const TEntry long_hard[] = { { 'f', "abcdefghij", "x" }, { 'h', "h", .link = "./abcdefghij" } };
  g_autofree char *long_name = g_strnfill(256, 'n');
  TEntry name[] = { { 'f', long_name, "x" } };
  g_autofree char *want_name = g_strdup_printf(
    "entry '%.100s...' has a name of 256 bytes; names are at most 255 bytes", long_name);
  ScLayerLimits l = tl_limits();
  g_autoptr(GError) error = NULL;
  ScLayerResult res = { 0 };

  l.max_depth = 2;
  assert_refused(deep,
                 1,
                 &l,
                 SC_EUNSUPPORTED,
                 "entry 'a/b/c' has more than 2 path components, the limit (SC_MAX_PATH_DEPTH)");
  l = tl_limits();
  l.max_path_bytes = 10;
  assert_refused(long_path,
                 1,
                 &l,
                 SC_EUNSUPPORTED,
                 "entry 'abcdefghijk' has a path of 11 bytes; paths are at most 10 bytes, the "
                 "limit (SC_MAX_PATH_BYTES)");
  assert_refused(long_link,
                 1,
                 &l,
                 SC_EUNSUPPORTED,
                 "entry 'l' is a symlink to '0123456789a', 11 bytes; link targets are at most 10 "
                 "bytes, the limit (SC_MAX_PATH_BYTES)");
  assert_refused(long_hard,
                 2,
                 &l,
                 SC_EUNSUPPORTED,
                 "entry 'h' is a hardlink, and its target: entry './abcdefghij' has a path of 12 "
                 "bytes; paths are at most 10 bytes, the limit (SC_MAX_PATH_BYTES)");
  assert_refused(name, 1, NULL, SC_EUNSUPPORTED, want_name);
  /* at the limits: imported */
  l.max_depth = 3;
  ck_assert_msg(
    import_entries(deep, 1, TC_NONE, &l, &res, &error), "%s", error ? error->message : "");
  g_free(res.commit);
}
END_TEST

START_TEST(test_limit_bytes)
{
  /* many small files: the tar outgrows the limit before any file does */
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  TEntry many[100];
  const TEntry sizes[] = { { 'f', "a", "x" }, { 'f', "b", .size = 131072, .sparse = TRUE } };
  ScLayerLimits l = tl_limits();
  g_autoptr(GBytes) tar = NULL;
  g_autoptr(GBytes) blob = NULL;
  g_autofree char *digest = NULL;
  g_autofree char *want = NULL;
  g_autoptr(GError) error = NULL;
  ScLayerResult res = { 0 };

  for (guint i = 0; i < G_N_ELEMENTS(many); i++) {
    char *n = g_strdup_printf("f%u", i);
    g_ptr_array_add(names, n);
    many[i] = (TEntry){ 'f', n, .size = 4096 };
  }
  l.max_bytes = 300 * 1024;
  tar = tl_tar(many, G_N_ELEMENTS(many));
  blob = tl_compress(tar, TC_GZIP); /* a small blob that inflates */
  digest = tl_digest(blob);
  ck_assert_uint_lt(g_bytes_get_size(blob), l.max_bytes);
  ck_assert_uint_gt(g_bytes_get_size(tar), l.max_bytes);
  want = g_strdup_printf(
    "layer %s: inflates to more than 307200 bytes, the limit (SC_MAX_LAYER_BYTES)", digest);
  ck_assert(!tl_import_blob(repo, blob, tar, NULL, NULL, &l, &res, &error));
  ck_assert(g_error_matches(error, SC_ERROR, SC_EUNSUPPORTED));
  ck_assert_str_eq(error->message, want);
  g_clear_error(&error);

  /* a sparse file: a small tar whose file is bigger than the limit (what
   * is stored is the full size) */
  l.max_bytes = 64 * 1024;
  assert_refused(sizes,
                 2,
                 &l,
                 SC_EUNSUPPORTED,
                 "'b' (131072 bytes) takes the layer's files past 65536 bytes, the limit "
                 "(SC_MAX_LAYER_BYTES)");
  /* the same under the default limits: imported, its holes zeros */
  {
    g_autoptr(GFile) root = NULL;
    g_autoptr(GFile) f = NULL;
    g_autofree char *data = NULL;
    gsize len = 0;
    ck_assert_msg(
      import_entries(sizes, 2, TC_ZSTD, NULL, &res, &error), "%s", error ? error->message : "");
    root = commit_root(res.commit);
    f = g_file_resolve_relative_path(root, "b");
    ck_assert(g_file_load_contents(f, NULL, &data, &len, NULL, NULL));
    ck_assert_uint_eq(len, 131072);
    for (gsize i = 0; i < len; i++)
      ck_assert_int_eq(data[i], 0);
    g_free(res.commit);
  }
}
END_TEST

typedef struct {
  const char *path;
  const char *parts; /* joined by '|'; NULL: refused */
  ScWhiteoutKind kind;
  const char *message; /* when refused, after "layer L: " */
} PathCase;

START_TEST(test_path_check)
{
  g_autofree char *name255 = g_strnfill(255, 'x');
  const PathCase cases[] = {
    { "a/b", "a|b", SC_WHITEOUT_NONE },
    { "./a//b/.", "a|b", SC_WHITEOUT_NONE },
    { "./", "", SC_WHITEOUT_NONE },
    { "a/b/", "a|b", SC_WHITEOUT_NONE },
    { "a/.wh.b", "a|.wh.b", SC_WHITEOUT_FILE },
    { ".wh..wh..opq", ".wh..wh..opq", SC_WHITEOUT_OPAQUE },
    { "a/.wh...x", "a|.wh...x", SC_WHITEOUT_FILE },
    { "a/.whx", "a|.whx", SC_WHITEOUT_NONE },
    { "..", NULL, 0, "entry '..' has a '..' component; layer entries must stay inside the layer" },
    { "a/..",
      NULL,
      0,
      "entry 'a/..' has a '..' component; layer entries must stay inside the layer" },
    { "/", NULL, 0, "entry '/' has an absolute path; layer entries must stay inside the layer" },
    { ".wh...",
      NULL,
      0,
      "entry '.wh...' is a whiteout of '..', which is not a name; a whiteout deletes one "
      "entry of its directory" },
    { ".wh..wh..opq/x",
      NULL,
      0,
      "entry '.wh..wh..opq/x' is inside '.wh..wh..opq', a whiteout; whiteouts are files, "
      "not directories" },
    { "a/b\x01/..",
      NULL,
      0,
      "entry 'a/b\\x01/..' has a '..' component; layer entries must stay inside the layer" },
    { "a/b/c/d/e",
      NULL,
      0,
      "entry 'a/b/c/d/e' has more than 4 path components, the limit (SC_MAX_PATH_DEPTH)" },
  };
  ScLayerLimits l = tl_limits();

  l.max_depth = 4;
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    const PathCase *c = &cases[i];
    g_auto(GStrv) parts = NULL;
    g_autoptr(GError) error = NULL;
    ScWhiteoutKind kind = 99;
    gboolean ok = sc_layer_path_check("L", c->path, &l, &parts, &kind, &error);
    if (c->parts) {
      g_autofree char *joined = NULL;
      ck_assert_msg(ok, "%s: %s", c->path, error ? error->message : "");
      joined = g_strjoinv("|", parts);
      ck_assert_str_eq(joined, c->parts);
      ck_assert_int_eq(kind, c->kind);
    } else {
      g_autofree char *want = g_strdup_printf("layer L: %s", c->message);
      ck_assert_msg(!ok, "%s accepted", c->path);
      ck_assert(g_error_matches(error, SC_ERROR, SC_EUNSUPPORTED));
      ck_assert_str_eq(error->message, want);
      ck_assert_ptr_null(parts);
      ck_assert_int_eq(kind, 99);
    }
  }
  /* a 255-byte name is a name; without limits any depth passes */
  {
    g_autofree char *p = g_strconcat("a/", name255, NULL);
    g_autofree char *deep = NULL;
    GString *s = g_string_new("d");
    for (int i = 0; i < 1000; i++)
      g_string_append(s, "/d");
    deep = g_string_free(s, FALSE);
    ck_assert(sc_layer_path_check("L", p, &l, NULL, NULL, NULL));
    ck_assert(sc_layer_path_check("L", deep, NULL, NULL, NULL, NULL));
  }
}
END_TEST

/* Entries repeated within one layer: the later wins; a later entry of
 * another type at a name the layer already used is refused (OSTree's
 * mutable tree cannot replace one by the other), naming the entry. */
START_TEST(test_same_layer)
{
  const TEntry twice[] = {
    { 'f', "a", "1" }, { 'f', "a", "2" }, { 'd', "d", .mode = 0700 }, { 'd', "d", .mode = 0711 }
  };
  const TEntry file_then_dir[] = { { 'f', "a", "x" }, { 'f', "a/b", "y" } };
  const TEntry dir_then_file[] = { { 'd', "d" }, { 'f', "d/x", "x" }, { 'f', "d", "file" } };
  g_autoptr(GError) error = NULL;
  ScLayerResult res = { 0 };
  g_autoptr(GFile) root = NULL;
  g_autoptr(GFileInfo) d = NULL;
  g_autofree char *a = NULL;

  /* a later entry wins, as tar extracts: a file gives way to a directory
   * (an entry below it), a directory with all it holds to a file */
  ck_assert_msg(import_entries(file_then_dir, G_N_ELEMENTS(file_then_dir), TC_NONE, NULL, &res,
                               &error),
                "%s", error ? error->message : "");
  root = commit_root(res.commit);
  a = content_of(root, "a/b");
  ck_assert_str_eq(a, "y");
  g_clear_pointer(&a, g_free);
  g_clear_object(&root);
  g_clear_pointer(&res.commit, g_free);
  ck_assert_msg(import_entries(dir_then_file, G_N_ELEMENTS(dir_then_file), TC_NONE, NULL, &res,
                               &error),
                "%s", error ? error->message : "");
  root = commit_root(res.commit);
  a = content_of(root, "d");
  ck_assert_str_eq(a, "file");
  g_clear_pointer(&a, g_free);
  g_clear_object(&root);
  g_clear_pointer(&res.commit, g_free);
  ck_assert_msg(import_entries(twice, G_N_ELEMENTS(twice), TC_NONE, NULL, &res, &error),
                "%s",
                error ? error->message : "");
  root = commit_root(res.commit);
  a = content_of(root, "a");
  d = info_of(root, "d");
  ck_assert_str_eq(a, "2");
  ck_assert_uint_eq(g_file_info_get_attribute_uint32(d, "unix::mode"), S_IFDIR | 0711);
  g_free(res.commit);
}
END_TEST

/* What a blob may be around its tar: several gzip members, several zstd
 * frames, bytes after the compressed stream (part of the blob's digest, not
 * of the tar). */
START_TEST(test_stream_shapes)
{
  const TEntry e1[] = { { 'f', "one", "1" } };
  const TEntry e2[] = { { 'f', "two", "2" } };
  g_autoptr(GBytes) tar1 = tl_tar(e1, 1);
  g_autoptr(GBytes) tar2 = tl_tar(e2, 1);
  g_autoptr(GError) error = NULL;

  for (TComp comp = TC_GZIP; comp <= TC_ZSTD; comp++) {
    /* the tar split in two halves, each compressed on its own: one tar */
    gsize len = g_bytes_get_size(tar1);
    g_autoptr(GBytes) h1 = g_bytes_new_from_bytes(tar1, 0, len / 2);
    g_autoptr(GBytes) h2 = g_bytes_new_from_bytes(tar1, len / 2, len - len / 2);
    g_autoptr(GBytes) c1 = tl_compress(h1, comp);
    g_autoptr(GBytes) c2 = tl_compress(h2, comp);
    g_autoptr(GByteArray) joined = g_byte_array_new();
    g_autoptr(GBytes) blob = NULL;
    g_autoptr(GFile) root = NULL;
    g_autofree char *one = NULL;
    ScLayerResult res = { 0 };

    g_byte_array_append(joined, g_bytes_get_data(c1, NULL), g_bytes_get_size(c1));
    g_byte_array_append(joined, g_bytes_get_data(c2, NULL), g_bytes_get_size(c2));
    blob = g_byte_array_free_to_bytes(g_steal_pointer(&joined));
    ck_assert_msg(tl_import_blob(repo, blob, tar1, NULL, NULL, NULL, &res, &error),
                  "%d: %s",
                  comp,
                  error ? error->message : "");
    ck_assert_uint_eq(res.uncompressed_size, len);
    root = commit_root(res.commit);
    one = content_of(root, "one");
    ck_assert_str_eq(one, "1");
    g_free(res.commit);
  }
  /* junk after a gzip stream: the blob's digest covers it, the tar's not */
  {
    g_autoptr(GBytes) c = tl_compress(tar2, TC_GZIP);
    g_autoptr(GByteArray) joined = g_byte_array_new();
    g_autoptr(GBytes) blob = NULL;
    ScLayerResult res = { 0 };

    g_byte_array_append(joined, g_bytes_get_data(c, NULL), g_bytes_get_size(c));
    g_byte_array_append(joined, (const guint8 *)"trailing", 8);
    blob = g_byte_array_free_to_bytes(g_steal_pointer(&joined));
    ck_assert_msg(tl_import_blob(repo, blob, tar2, NULL, NULL, NULL, &res, &error),
                  "%s",
                  error ? error->message : "");
    ck_assert_uint_eq(res.uncompressed_size, g_bytes_get_size(tar2));
    g_free(res.commit);
  }
  /* corrupt zstd */
  {
    g_autoptr(GBytes) c = tl_compress(tar2, TC_ZSTD);
    g_autofree guint8 *bad = g_memdup2(g_bytes_get_data(c, NULL), g_bytes_get_size(c));
    g_autoptr(GBytes) blob = NULL;
    g_autofree char *digest = NULL;
    g_autofree char *want = NULL;
    ScLayerResult res = { 0 };

    bad[4] ^= 0xff; /* the frame header */
    blob = g_bytes_new(bad, g_bytes_get_size(c));
    digest = tl_digest(blob);
    want = g_strdup_printf("layer %s: corrupt zstd data: ", digest);
    ck_assert(!tl_import_blob(repo, blob, tar2, NULL, NULL, NULL, &res, &error));
    ck_assert(g_error_matches(error, SC_ERROR, SC_EDIGEST));
    ck_assert_msg(g_str_has_prefix(error->message, want), "%s", error->message);
  }
}
END_TEST

static Suite *
layer_suite(void)
{
  Suite *s = suite_create("layer");
  TCase *tc = tcase_create("import");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, test_import_compressions);
  tcase_add_test(tc, test_wrong_blob_digest);
  tcase_add_test(tc, test_wrong_diff_id);
  tcase_add_test(tc, test_truncated_and_corrupt);
  tcase_add_test(tc, test_confined);
  tcase_add_test(tc, test_links_kept_literal);
  tcase_add_test(tc, test_whiteouts_literal);
  tcase_add_test(tc, test_whiteouts_refused);
  tcase_add_test(tc, test_xattrs_sorted);
  tcase_add_test(tc, test_xattrs_libarchive_pax);
  tcase_add_test(tc, test_xattrs_refused);
  tcase_add_test(tc, test_limit_entries);
  tcase_add_test(tc, test_limit_depth_and_path);
  tcase_add_test(tc, test_limit_bytes);
  tcase_add_test(tc, test_same_layer);
  tcase_add_test(tc, test_stream_shapes);
  suite_add_tcase(s, tc);

  tc = tcase_create("pure");
  tcase_add_test(tc, test_xattrs_canonical);
  tcase_add_test(tc, test_path_check);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  return tc_run(layer_suite());
}
