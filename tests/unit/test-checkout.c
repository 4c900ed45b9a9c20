/*
 * Unit tests of the checkout (lib/store/checkout.c): images made of layers
 * imported here (tar streams made in the test), merged by
 * sc_store_checkout(): OCI union rules, whiteouts, opaque directories, type
 * changes, a link replaced by a directory without anything outside being
 * touched, modes and owners (as root, in a bare store).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "unit-layer-helpers.h"

#include <errno.h>

static char *scratch;
static char *outside; /* a directory next to the checkout: must stay empty */
static char *dir;     /* the checkout */
static OstreeRepo *repo;

static void
setup(void)
{
  g_autofree char *path = NULL;

  scratch = tc_mkdtemp();
  path = g_build_filename(scratch, "repo", NULL);
  repo = tl_repo_new(path);
  outside = g_build_filename(scratch, "outside", NULL);
  dir = g_build_filename(scratch, "co", NULL);
  ck_assert_int_eq(g_mkdir(outside, 0755), 0);
  ck_assert_int_eq(g_mkdir(dir, 0755), 0);
  tc_write(outside, "victim", "keep me\n");
}

static void
teardown(void)
{
  g_clear_object(&repo);
  sc_rm_rf(scratch);
  g_free(scratch);
  g_free(outside);
  g_free(dir);
}

/* The image of @digests (NULL-terminated), as a pull would have stored it:
 * the manifest names the layers, each has its ref ociimage/<hex>. */
static ScImage *
image_of(const char *name, const char *const *digests)
{
  ScImage *img = g_new0(ScImage, 1);
  json_t *layers = json_array();

  for (const char *const *d = digests; *d; d++)
    json_array_append_new(
      layers,
      json_pack(
        "{s:s, s:s, s:i}", "mediaType", SC_MEDIA_OCI_LAYER "+gzip", "digest", *d, "size", 1));
  img->name = g_strdup(name);
  img->ref = g_strconcat(SC_REF_PREFIX, name, NULL);
  img->manifest = json_pack(
    "{s:i, s:s, s:o}", "schemaVersion", 2, "mediaType", SC_MEDIA_OCI_MANIFEST, "layers", layers);
  return img;
}

#define LAYER(entries) tl_layer(repo, entries, G_N_ELEMENTS(entries))

static void
checkout_ok(ScImage *img)
{
  g_autoptr(GError) error = NULL;

  ck_assert_msg(
    sc_store_checkout(repo, img, dir, FALSE, &error), "%s", error ? error->message : "");
}

static char *
read_co(const char *rel)
{
  return tc_read(dir, rel);
}

static gboolean
exists_co(const char *rel)
{
  g_autofree char *p = g_build_filename(dir, rel, NULL);
  struct stat st;

  return lstat(p, &st) == 0;
}

static mode_t
type_co(const char *rel)
{
  g_autofree char *p = g_build_filename(dir, rel, NULL);
  struct stat st;

  ck_assert_msg(lstat(p, &st) == 0, "%s: %s", rel, g_strerror(errno));
  return st.st_mode & S_IFMT;
}

/* The entries of directory @rel of the checkout, sorted, joined by ' '. */
static char *
list_co(const char *rel)
{
  g_autofree char *p = g_build_filename(dir, rel, NULL);
  g_autoptr(GDir) d = g_dir_open(p, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new();
  const char *n;

  ck_assert_ptr_nonnull(d);
  while ((n = g_dir_read_name(d)) != NULL)
    g_ptr_array_add(names, (char *)n);
  g_ptr_array_sort(names, sc_strcmp_indirect);
  g_ptr_array_add(names, NULL);
  return g_strjoinv(" ", (char **)names->pdata);
}

static void
assert_outside_untouched(void)
{
  g_autofree char *list = NULL;
  g_autofree char *victim = tc_read(outside, "victim");
  g_autoptr(GDir) d = g_dir_open(outside, 0, NULL);
  const char *n;
  guint count = 0;

  while ((n = g_dir_read_name(d)) != NULL)
    count++;
  ck_assert_uint_eq(count, 1);
  ck_assert_str_eq(victim, "keep me\n");
}

START_TEST(test_union)
{
  const TEntry l1[] = {
    { 'f', "a/x", "x1" },
    { 'f', "a/y", "y1" },
    { 'f', "b", "b1" },
    { 'f', "a/sub/deep", "d1" },
  };
  const TEntry l2[] = { { 'f', "a/z", "z2" }, { 'f', "a/x", "x2" }, { 'f', "a/sub/new", "n2" } };
  g_autofree char *d1 = LAYER(l1);
  g_autofree char *d2 = LAYER(l2);
  const char *digests[] = { d1, d2, NULL };
  g_autoptr(ScImage) img = image_of("union", digests);
  g_autofree char *a = NULL;
  g_autofree char *sub = NULL;
  g_autofree char *x = NULL;
  g_autofree char *y = NULL;
  g_autofree char *b = NULL;

  checkout_ok(img);
  a = list_co("a");
  sub = list_co("a/sub");
  x = read_co("a/x");
  y = read_co("a/y");
  b = read_co("b");
  ck_assert_str_eq(a, "sub x y z");
  ck_assert_str_eq(sub, "deep new");
  ck_assert_str_eq(x, "x2"); /* the upper layer's file wins */
  ck_assert_str_eq(y, "y1");
  ck_assert_str_eq(b, "b1");
}
END_TEST

START_TEST(test_whiteouts)
{
  const TEntry l1[] = {
    { 'f', "a/x", "x" },      { 'f', "a/y", "y" },  { 'f', "b", "b" },
    { 'f', "c/deep/f", "f" }, { 'f', "keep", "k" },
  };
  /* whiteouts of files, of a whole tree, at the top; and a whiteout of
   * what this same layer adds (applied first: the new entry stays) */
  const TEntry l2[] = {
    { 'f', "a/.wh.y", "" },     { 'f', ".wh.b", "" },     { 'f', ".wh.c", "" },
    { 'f', ".wh.missing", "" }, { 'f', "a/.wh.new", "" }, { 'f', "a/new", "n" },
  };
  g_autofree char *d1 = LAYER(l1);
  g_autofree char *d2 = LAYER(l2);
  const char *digests[] = { d1, d2, NULL };
  g_autoptr(ScImage) img = image_of("whiteouts", digests);
  g_autofree char *top = NULL;
  g_autofree char *a = NULL;

  checkout_ok(img);
  top = list_co(".");
  a = list_co("a");
  ck_assert_str_eq(top, "a keep");
  ck_assert_str_eq(a, "new x"); /* no .wh.* left in the checkout */
  ck_assert(!exists_co("c/deep/f"));
}
END_TEST

START_TEST(test_opaque)
{
  const TEntry l1[] = { { 'f', "a/x", "x" }, { 'f', "a/sub/y", "y" }, { 'f', "top", "t" } };
  const TEntry l2[] = { { 'f', "a/.wh..wh..opq", "" }, { 'f', "a/w", "w" } };
  /* an opaque whiteout at the top empties the whole root of the lower layers */
  const TEntry l3[] = { { 'f', ".wh..wh..opq", "" }, { 'f', "only", "o" } };
  g_autofree char *d1 = LAYER(l1);
  g_autofree char *d2 = LAYER(l2);
  g_autofree char *d3 = LAYER(l3);
  const char *two[] = { d1, d2, NULL };
  const char *three[] = { d1, d2, d3, NULL };
  g_autoptr(ScImage) img2 = image_of("opaque2", two);
  g_autoptr(ScImage) img3 = image_of("opaque3", three);
  g_autofree char *a = NULL;
  g_autofree char *top = NULL;
  g_autofree char *top3 = NULL;

  checkout_ok(img2);
  a = list_co("a");
  top = list_co(".");
  ck_assert_str_eq(a, "w");
  ck_assert_str_eq(top, "a top");
  sc_rm_rf(dir);
  ck_assert_int_eq(g_mkdir(dir, 0755), 0);
  checkout_ok(img3);
  top3 = list_co(".");
  ck_assert_str_eq(top3, "only");
}
END_TEST

START_TEST(test_type_changes)
{
  const TEntry l1[] = {
    { 'f', "f2d", "file" },           { 'f', "d2f/inner", "i" }, { 'f', "f2l", "file" },
    { 'l', "l2f", .link = "target" }, { 'f', "d2l/inner", "i" },
  };
  const TEntry l2[] = {
    { 'f', "f2d/now", "dir" }, { 'f', "d2f", "now a file" }, { 'l', "f2l", .link = "elsewhere" },
    { 'f', "l2f", "plain" },   { 'l', "d2l", .link = "/" },
  };
  g_autofree char *d1 = LAYER(l1);
  g_autofree char *d2 = LAYER(l2);
  const char *digests[] = { d1, d2, NULL };
  g_autoptr(ScImage) img = image_of("types", digests);
  g_autofree char *now = NULL;
  g_autofree char *d2f = NULL;
  g_autofree char *l2f = NULL;
  g_autofree char *f2l = NULL;
  g_autofree char *d2l = NULL;

  checkout_ok(img);
  ck_assert_uint_eq(type_co("f2d"), S_IFDIR);
  now = read_co("f2d/now");
  ck_assert_str_eq(now, "dir");
  ck_assert_uint_eq(type_co("d2f"), S_IFREG);
  d2f = read_co("d2f");
  ck_assert_str_eq(d2f, "now a file");
  ck_assert_uint_eq(type_co("l2f"), S_IFREG);
  l2f = read_co("l2f");
  ck_assert_str_eq(l2f, "plain");
  ck_assert_uint_eq(type_co("f2l"), S_IFLNK);
  {
    g_autofree char *p = g_build_filename(dir, "f2l", NULL);
    f2l = g_file_read_link(p, NULL);
    ck_assert_str_eq(f2l, "elsewhere");
  }
  ck_assert_uint_eq(type_co("d2l"), S_IFLNK);
  {
    g_autofree char *p = g_build_filename(dir, "d2l", NULL);
    d2l = g_file_read_link(p, NULL);
    ck_assert_str_eq(d2l, "/");
  }
}
END_TEST

/* A lower layer's link where an upper layer has a directory: the link is
 * replaced, never walked through, whatever it points to. */
START_TEST(test_link_replaced_by_dir)
{
  g_autofree char *rel = g_build_filename("..", "outside", NULL);
  const TEntry l1[] = {
    { 'l', "abs", .link = outside },
    { 'l', "rel", .link = rel },
    { 'l', "wh", .link = outside },
    { 'l', "opq", .link = outside },
  };
  const TEntry l2[] = {
    { 'f', "abs/victim", "replaced" },
    { 'f', "rel/new", "n" },
    { 'f', "wh/.wh.victim", "" },
    { 'f', "opq/.wh..wh..opq", "" },
  };
  g_autofree char *d1 = LAYER(l1);
  g_autofree char *d2 = LAYER(l2);
  const char *digests[] = { d1, d2, NULL };
  g_autoptr(ScImage) img = image_of("links", digests);
  g_autofree char *abs = NULL;
  g_autofree char *relnew = NULL;
  g_autofree char *wh = NULL;
  g_autofree char *opq = NULL;

  checkout_ok(img);
  ck_assert_uint_eq(type_co("abs"), S_IFDIR);
  ck_assert_uint_eq(type_co("rel"), S_IFDIR);
  ck_assert_uint_eq(type_co("wh"), S_IFDIR);
  ck_assert_uint_eq(type_co("opq"), S_IFDIR);
  abs = read_co("abs/victim");
  relnew = read_co("rel/new");
  wh = list_co("wh");
  opq = list_co("opq");
  ck_assert_str_eq(abs, "replaced");
  ck_assert_str_eq(relnew, "n");
  ck_assert_str_eq(wh, "");
  ck_assert_str_eq(opq, "");
  assert_outside_untouched();
}
END_TEST

/* The checkout starts from what is in @dir: a link there (from an earlier
 * layer of another checkout, or put there by anyone) is not followed. */
START_TEST(test_whiteout_of_link_removes_link_only)
{
  const TEntry l1[] = { { 'l', "out", .link = outside }, { 'l', "victim", .link = "out/victim" } };
  const TEntry l2[] = { { 'f', ".wh.out", "" }, { 'f', ".wh.victim", "" } };
  g_autofree char *d1 = LAYER(l1);
  g_autofree char *d2 = LAYER(l2);
  const char *digests[] = { d1, d2, NULL };
  g_autoptr(ScImage) img = image_of("whlinks", digests);
  g_autofree char *top = NULL;

  checkout_ok(img);
  top = list_co(".");
  ck_assert_str_eq(top, "");
  assert_outside_untouched();
}
END_TEST

START_TEST(test_missing_layer)
{
  const TEntry l1[] = { { 'f', "a", "a" } };
  g_autofree char *d1 = LAYER(l1);
  const char *missing = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
  const char *digests[] = { d1, missing, NULL };
  const char *bad[] = { "md5:abc", NULL };
  const char *short_digest[] = { "sha256:../../x", NULL };
  g_autoptr(ScImage) img = image_of("docker.io/library/missing:1", digests);
  g_autoptr(ScImage) img_bad = image_of("bad", bad);
  g_autoptr(ScImage) img_short = image_of("short", short_digest);
  g_autoptr(GError) error = NULL;
  g_autofree char *want = g_strdup_printf(
    "image docker.io/library/missing:1: layer %s is not in the store: pull the image again",
    missing);

  ck_assert(!sc_store_checkout(repo, img, dir, FALSE, &error));
  ck_assert(g_error_matches(error, SC_ERROR, SC_ENOTFOUND));
  ck_assert_str_eq(error->message, want);
  g_clear_error(&error);
  ck_assert(!sc_store_checkout(repo, img_bad, dir, FALSE, &error));
  ck_assert(g_error_matches(error, SC_ERROR, SC_EUNSUPPORTED));
  ck_assert_str_eq(error->message, "digest 'md5:abc': only sha256 digests are supported");
  g_clear_error(&error);
  ck_assert(!sc_store_checkout(repo, img_short, dir, FALSE, &error));
  ck_assert(g_error_matches(error, SC_ERROR, SC_EDIGEST));
  ck_assert_str_eq(error->message,
                   "digest 'sha256:../../x': expected sha256: and 64 lowercase hexadecimal digits");
  g_clear_error(&error);
  {
    g_autofree char *nodir = g_build_filename(scratch, "nodir", NULL);
    g_autofree char *want2 = g_strdup_printf("%s: No such file or directory", nodir);
    ck_assert(!sc_store_checkout(repo, img, nodir, FALSE, &error));
    ck_assert(g_error_matches(error, SC_ERROR, SC_EIO));
    ck_assert_str_eq(error->message, want2);
  }
}
END_TEST

/* Hardlinks into the store (bare) and copies (@copy) give the same tree. */
START_TEST(test_copy_and_link)
{
  const TEntry l1[] = { { 'f', "etc/conf", "c" }, { 'l', "etc/link", .link = "conf" } };
  g_autofree char *d1 = LAYER(l1);
  const char *digests[] = { d1, NULL };
  g_autoptr(ScImage) img = image_of("copy", digests);
  g_autoptr(GError) error = NULL;
  g_autofree char *copy = g_build_filename(scratch, "copy", NULL);
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;
  g_autofree char *pa = g_build_filename(dir, "etc/conf", NULL);
  g_autofree char *pb = g_build_filename(copy, "etc/conf", NULL);
  struct stat sa, sb;

  checkout_ok(img);
  ck_assert_int_eq(g_mkdir(copy, 0755), 0);
  ck_assert_msg(
    sc_store_checkout(repo, img, copy, TRUE, &error), "%s", error ? error->message : "");
  a = read_co("etc/conf");
  b = tc_read(copy, "etc/conf");
  ck_assert_str_eq(a, "c");
  ck_assert_str_eq(b, "c");
  ck_assert_int_eq(lstat(pa, &sa), 0);
  ck_assert_int_eq(lstat(pb, &sb), 0);
  ck_assert_uint_eq(sb.st_nlink, 1); /* a copy: its own inode */
  if (ostree_repo_get_mode(repo) == OSTREE_REPO_MODE_BARE)
    ck_assert_uint_ge(sa.st_nlink, 2); /* the store's object */
  {
    g_autofree char *p = g_build_filename(copy, "etc/link", NULL);
    g_autofree char *t = g_file_read_link(p, NULL);
    ck_assert_str_eq(t, "conf");
  }
}
END_TEST

START_TEST(test_modes_and_owners)
{
  const TEntry l1[] = {
    { 'd', "ro", .mode = 0555, .uid = 1234, .gid = 2345 },
    { 'f', "ro/file", "f", 0600, .uid = 42, .gid = 43 },
    { 'f', "suid", "s", 04755, .uid = 0, .gid = 0 },
    { 'd', "sticky", .mode = 01777 },
    { 'l', "link", .link = "suid", .uid = 7, .gid = 8 },
  };
  /* an upper layer's directory metadata wins for a merged directory */
  const TEntry l2[] = { { 'd', "sticky", .mode = 0711, .uid = 5, .gid = 6 },
                        { 'f', "sticky/x", "x" } };
  g_autofree char *d1 = LAYER(l1);
  g_autofree char *d2 = LAYER(l2);
  const char *digests[] = { d1, d2, NULL };
  g_autoptr(ScImage) img = image_of("modes", digests);
  struct {
    const char *path;
    mode_t mode;
    uid_t uid;
    gid_t gid;
  } want[] = {
    { "ro", S_IFDIR | 0555, 1234, 2345 }, { "ro/file", S_IFREG | 0600, 42, 43 },
    { "suid", S_IFREG | 04755, 0, 0 },    { "sticky", S_IFDIR | 0711, 5, 6 },
    { "link", S_IFLNK | 0777, 7, 8 },
  };

  checkout_ok(img);
  for (guint i = 0; i < G_N_ELEMENTS(want); i++) {
    g_autofree char *p = g_build_filename(dir, want[i].path, NULL);
    struct stat st;
    ck_assert_int_eq(lstat(p, &st), 0);
    ck_assert_msg(
      st.st_mode == want[i].mode, "%s: mode 0%o, want 0%o", want[i].path, st.st_mode, want[i].mode);
    ck_assert_uint_eq(st.st_uid, want[i].uid);
    ck_assert_uint_eq(st.st_gid, want[i].gid);
  }
}
END_TEST

/* Without root: no set-id bits and no owners from the layers. */
START_TEST(test_modes_unprivileged)
{
  const TEntry l1[] = { { 'f', "suid", "s", 04755, .uid = 42 }, { 'd', "d", .mode = 0700 } };
  g_autofree char *d1 = LAYER(l1);
  const char *digests[] = { d1, NULL };
  g_autoptr(ScImage) img = image_of("unpriv", digests);
  g_autoptr(GError) error = NULL;
  g_autofree char *p = g_build_filename(dir, "suid", NULL);
  g_autofree char *pd = g_build_filename(dir, "d", NULL);
  struct stat st;

  /* copies as a non-root user makes them: set-id bits dropped */
  ck_assert(sc_store_checkout(repo, img, dir, TRUE, &error));
  ck_assert_int_eq(lstat(p, &st), 0);
  ck_assert_uint_eq(st.st_mode, S_IFREG | 0755);
  ck_assert_uint_eq(st.st_uid, getuid());
  ck_assert_int_eq(lstat(pd, &st), 0);
  ck_assert_uint_eq(st.st_mode, S_IFDIR | 0700);
}
END_TEST

/* A layer that deletes a lower directory and makes it again: its
 * whiteouts first, then its entries, so only its own entries remain. */
START_TEST(test_whiteout_then_readd)
{
  const TEntry l1[] = { { 'f', "a/old", "o" }, { 'f', "a/sub/old", "o" } };
  const TEntry l2[] = { { 'f', ".wh.a", "" }, { 'f', "a/new", "n" } };
  g_autofree char *d1 = LAYER(l1);
  g_autofree char *d2 = LAYER(l2);
  const char *digests[] = { d1, d2, NULL };
  g_autoptr(ScImage) img = image_of("readd", digests);
  g_autofree char *a = NULL;

  checkout_ok(img);
  a = list_co("a");
  ck_assert_str_eq(a, "new");
}
END_TEST

/* What is already in the directory is treated as a lower layer: a link
 * there is replaced, never followed. */
START_TEST(test_existing_link_in_dir)
{
  const TEntry l1[] = { { 'f', "etc/victim", "image" }, { 'f', "file", "f" } };
  g_autofree char *d1 = LAYER(l1);
  const char *digests[] = { d1, NULL };
  g_autoptr(ScImage) img = image_of("prelink", digests);
  g_autofree char *etc = g_build_filename(dir, "etc", NULL);
  g_autofree char *file = g_build_filename(dir, "file", NULL);
  g_autofree char *victim = NULL;
  g_autofree char *outside_victim = g_build_filename(outside, "victim", NULL);

  ck_assert_int_eq(symlink(outside, etc), 0);
  ck_assert_int_eq(symlink(outside_victim, file), 0);
  checkout_ok(img);
  ck_assert_uint_eq(type_co("etc"), S_IFDIR);
  ck_assert_uint_eq(type_co("file"), S_IFREG);
  victim = read_co("etc/victim");
  ck_assert_str_eq(victim, "image");
  assert_outside_untouched();
}
END_TEST

/* Hardlinks of a layer are one object: in a hardlink checkout they are one
 * inode. */
START_TEST(test_hardlinks)
{
  const TEntry l1[] = { { 'f', "bin/busybox", "bb" },
                        { 'h', "bin/sh", .link = "bin/busybox" },
                        { 'h', "bin/ls", .link = "bin/busybox" } };
  g_autofree char *d1 = LAYER(l1);
  const char *digests[] = { d1, NULL };
  g_autoptr(ScImage) img = image_of("hard", digests);
  g_autofree char *a = g_build_filename(dir, "bin/busybox", NULL);
  g_autofree char *b = g_build_filename(dir, "bin/sh", NULL);
  g_autofree char *sh = NULL;
  struct stat sa, sb;

  checkout_ok(img);
  sh = read_co("bin/sh");
  ck_assert_str_eq(sh, "bb");
  ck_assert_int_eq(lstat(a, &sa), 0);
  ck_assert_int_eq(lstat(b, &sb), 0);
  if (ostree_repo_get_mode(repo) == OSTREE_REPO_MODE_BARE)
    ck_assert_uint_eq(sa.st_ino, sb.st_ino);
}
END_TEST

/* Copied for want of links: files that share the store's object share one
 * copy, as the links would have; a copy a later layer replaced is not
 * linked to (its content changed). */
START_TEST(test_other_filesystem_shares_copies)
{
  const TEntry l1[] = { { 'f', "a", "x" }, { 'f', "d/one", "same" }, { 'f', "d/two", "same" } };
  const TEntry l2[] = { { 'f', "a", "y" }, { 'f', "b", "x" }, { 'f', "d/three", "same" } };
  g_autofree char *d1 = LAYER(l1);
  g_autofree char *d2 = LAYER(l2);
  const char *digests[] = { d1, d2, NULL };
  g_autoptr(ScImage) img = image_of("sharedcopies", digests);
  g_autoptr(GError) error = NULL;
  g_autofree char *shm = g_build_filename("/dev/shm", "sc-unit-checkout-XXXXXX", NULL);
  const char *const want[][2] = {
    { "a", "y" }, { "b", "x" }, { "d/one", "same" }, { "d/two", "same" }, { "d/three", "same" }
  };
  struct stat a, b, st[5];

  ck_assert_int_eq(stat(scratch, &a), 0);
  if (stat("/dev/shm", &b) != 0 || a.st_dev == b.st_dev || access("/dev/shm", W_OK) != 0 ||
      ostree_repo_get_mode(repo) != OSTREE_REPO_MODE_BARE)
    return; /* no second filesystem here, or a store that is copied anyway */
  ck_assert_ptr_nonnull(g_mkdtemp(shm));
  ck_assert(sc_store_checkout(repo, img, shm, FALSE, &error));
  for (gsize i = 0; i < G_N_ELEMENTS(want); i++) {
    g_autofree char *f = g_build_filename(shm, want[i][0], NULL);
    g_autofree char *text = NULL;
    ck_assert(g_file_get_contents(f, &text, NULL, NULL));
    ck_assert_str_eq(text, want[i][1]);
    ck_assert_int_eq(lstat(f, &st[i]), 0);
  }
  ck_assert_uint_ne(st[0].st_ino, st[1].st_ino);
  ck_assert_uint_eq(st[2].st_ino, st[3].st_ino);
  ck_assert_uint_eq(st[2].st_ino, st[4].st_ino);
  ck_assert_uint_eq(st[2].st_nlink, 3);
  ck_assert_uint_eq(st[1].st_nlink, 1);
  sc_rm_rf(shm);
}
END_TEST

/* A checkout on another filesystem than the store's cannot hardlink: it
 * copies (link() says EXDEV), whether asked for copies or not. */
START_TEST(test_other_filesystem)
{
  const TEntry l1[] = { { 'f', "a", "a" } };
  g_autofree char *d1 = LAYER(l1);
  const char *digests[] = { d1, NULL };
  g_autoptr(ScImage) img = image_of("otherfs", digests);
  g_autoptr(GError) error = NULL;
  struct stat a, b;

  ck_assert_int_eq(stat(scratch, &a), 0);
  if (stat("/dev/shm", &b) != 0 || a.st_dev == b.st_dev || access("/dev/shm", W_OK) != 0)
    return; /* no second filesystem here */
  for (int copy = 0; copy < 2; copy++) {
    g_autofree char *shm = g_build_filename("/dev/shm", "sc-unit-checkout-XXXXXX", NULL);
    g_autofree char *file = NULL;
    g_autofree char *text = NULL;
    struct stat st;
    ck_assert_ptr_nonnull(g_mkdtemp(shm));
    ck_assert(sc_store_checkout(repo, img, shm, copy, &error));
    ck_assert_ptr_null(error);
    file = g_build_filename(shm, "a", NULL);
    ck_assert(g_file_get_contents(file, &text, NULL, NULL));
    ck_assert_str_eq(text, "a");
    ck_assert_int_eq(stat(file, &st), 0);
    ck_assert_uint_eq(st.st_nlink, 1);
    ck_assert_uint_eq(st.st_dev, b.st_dev);
    sc_rm_rf(shm);
  }
}
END_TEST

static Suite *
checkout_suite(void)
{
  Suite *s = suite_create("checkout");
  TCase *tc = tcase_create("checkout");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, test_union);
  tcase_add_test(tc, test_whiteouts);
  tcase_add_test(tc, test_opaque);
  tcase_add_test(tc, test_type_changes);
  tcase_add_test(tc, test_link_replaced_by_dir);
  tcase_add_test(tc, test_whiteout_of_link_removes_link_only);
  tcase_add_test(tc, test_missing_layer);
  tcase_add_test(tc, test_copy_and_link);
  tcase_add_test(tc, test_whiteout_then_readd);
  tcase_add_test(tc, test_existing_link_in_dir);
  tcase_add_test(tc, test_hardlinks);
  tcase_add_test(tc, test_other_filesystem);
  tcase_add_test(tc, test_other_filesystem_shares_copies);
  suite_add_tcase(s, tc);

  /* root only or non-root only: one of them is skipped */
  tc = tcase_create(getuid() == 0 ? "root" : "user");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, getuid() == 0 ? test_modes_and_owners : test_modes_unprivileged);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  return tc_run(checkout_suite());
}
