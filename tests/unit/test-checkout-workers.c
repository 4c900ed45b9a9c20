/*
 * Unit tests of the checkout's workers (lib/store/checkout.c, issue 16):
 * the same image checked out with SC_CHECKOUT_WORKERS=1 (links made by the
 * walking thread) and 2, 3, 4 gives the same tree — names, types, modes,
 * owners, and each file the store's own object (its inode) — on layers big
 * enough for many batches per directory, with whiteouts, opaque
 * directories, replaced files and type changes between the layers; a
 * worker's failure is reported as the walker's would be, and no descriptor
 * is left open.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "unit-layer-helpers.h"

#include <dirent.h>
#include <errno.h>

static char *scratch;
static char *repo_path;
static OstreeRepo *repo;

static void
setup(void)
{
  scratch = tc_mkdtemp();
  repo_path = g_build_filename(scratch, "repo", NULL);
  repo = tl_repo_new(repo_path);
}

static void
teardown(void)
{
  g_clear_object(&repo);
  sc_rm_rf(scratch);
  g_free(scratch);
  g_free(repo_path);
  g_unsetenv("SC_CHECKOUT_WORKERS");
}

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

/* Entries made here; their strings live in @strings. */
typedef struct {
  GArray *entries;
  GStringChunk *strings;
} Layer;

static void
layer_init(Layer *l)
{
  l->entries = g_array_new(FALSE, TRUE, sizeof(TEntry));
  l->strings = g_string_chunk_new(4096);
}

static void
add(Layer *l, char type, const char *path, const char *data, guint mode, const char *link)
{
  TEntry e = { 0 };

  e.type = type;
  e.path = g_string_chunk_insert(l->strings, path);
  e.data = data ? g_string_chunk_insert(l->strings, data) : NULL;
  e.mode = mode;
  e.link = link ? g_string_chunk_insert(l->strings, link) : NULL;
  e.uid = type == 'd' ? 0 : 1000 + (guint)strlen(path) % 7;
  e.gid = 2000;
  g_array_append_val(l->entries, e);
}

/* @n files dir/fNNNN whose contents (so objects) say @tag: unique per file. */
static void
add_files(Layer *l, const char *dir, guint n, const char *tag, guint mode)
{
  for (guint i = 0; i < n; i++) {
    g_autofree char *path = g_strdup_printf("%s/f%04u", dir, i);
    g_autofree char *data = g_strdup_printf("%s %s\n", tag, path);
    add(l, 'f', path, data, mode ? mode : (i % 3 == 0 ? 0755 : 0644), NULL);
  }
}

static char *
layer_done(Layer *l)
{
  char *digest = tl_layer(repo, (const TEntry *)l->entries->data, l->entries->len);

  g_array_unref(l->entries);
  g_string_chunk_free(l->strings);
  return digest;
}

/* Three layers: big directories (several batches each), then whiteouts of
 * files and of a whole tree, an opaque directory, files replaced, type
 * changes both ways and a read-only directory filled by the workers; then
 * a whiteout re-added and a file made a link. */
static ScImage *
big_image(void)
{
  Layer l1, l2, l3;
  g_autofree char *d1 = NULL;
  g_autofree char *d2 = NULL;
  g_autofree char *d3 = NULL;

  layer_init(&l1);
  for (guint d = 0; d < 6; d++) {
    g_autofree char *dir = g_strdup_printf("d%u", d);
    g_autofree char *sub = g_strdup_printf("d%u/sub", d);
    add_files(&l1, dir, 600, "one", 0);
    add_files(&l1, sub, 300, "one", 0);
  }
  add(&l1, 'd', "ro", NULL, 0555, NULL);
  add_files(&l1, "ro", 700, "one", 0444);
  add(&l1, 'f', "t/f2d", "file", 0644, NULL);
  add(&l1, 'f', "t/d2f/inner", "inner", 0644, NULL);
  d1 = layer_done(&l1);

  layer_init(&l2);
  for (guint i = 1; i <= 100; i++) {
    g_autofree char *wh = g_strdup_printf("d1/.wh.f%04u", i);
    add(&l2, 'f', wh, "", 0644, NULL);
  }
  add(&l2, 'f', "d2/.wh..wh..opq", "", 0644, NULL);
  add_files(&l2, "d2", 300, "two", 0);
  add_files(&l2, "d3", 600, "two", 0600); /* every file replaced */
  add(&l2, 'f', ".wh.d4", "", 0644, NULL);
  add(&l2, 'f', "d5/sub", "a file now", 0640, NULL); /* a tree replaced by a file */
  add(&l2, 'f', "t/f2d/now", "dir", 0644, NULL);
  add(&l2, 'f', "t/d2f", "a file now", 0644, NULL);
  add(&l2, 'd', "ro", NULL, 0500, NULL);
  add_files(&l2, "ro/more", 300, "two", 0);
  d2 = layer_done(&l2);

  layer_init(&l3);
  add(&l3, 'f', "d4/back", "back", 0644, NULL);
  add(&l3, 'f', "d3/.wh.f0007", "", 0644, NULL);
  add(&l3, 'l', "d0/f0000", NULL, 0777, "f0001");
  add_files(&l3, "d0/sub", 300, "three", 0);
  d3 = layer_done(&l3);
  {
    const char *digests[] = { d1, d2, d3, NULL };
    return image_of("workers", digests);
  }
}

/* The inode numbers of the store's file objects. */
static GHashTable *
object_inodes(void)
{
  GHashTable *inodes = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
  g_autofree char *objects = g_build_filename(repo_path, "objects", NULL);
  g_autoptr(GDir) top = g_dir_open(objects, 0, NULL);
  const char *sub;

  ck_assert_ptr_nonnull(top);
  while ((sub = g_dir_read_name(top)) != NULL) {
    g_autofree char *subdir = g_build_filename(objects, sub, NULL);
    g_autoptr(GDir) d = g_dir_open(subdir, 0, NULL);
    const char *n;
    while (d && (n = g_dir_read_name(d)) != NULL) {
      g_autofree char *p = g_build_filename(subdir, n, NULL);
      struct stat st;
      gint64 *key;
      if (!g_str_has_suffix(n, ".file") || lstat(p, &st) != 0)
        continue;
      key = g_new(gint64, 1);
      *key = (gint64)st.st_ino;
      /* objects/XX/YYYY.file: the checksum XXYYYY */
      g_hash_table_replace(inodes, key, g_strdup_printf("%s%.*s", sub, (int)strlen(n) - 5, n));
    }
  }
  return inodes;
}

/* One line per entry below @root, sorted: path, type and mode, owner, and
 * for files and links the store object they are (by inode), which every
 * one must be. */
static void
list_tree(const char *root, const char *rel, GHashTable *objects, GPtrArray *out)
{
  g_autofree char *path = g_build_filename(root, rel, NULL);
  g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
  const char *n;

  ck_assert_msg(d != NULL, "%s", path);
  while ((n = g_dir_read_name(d)) != NULL) {
    g_autofree char *r = *rel ? g_strdup_printf("%s/%s", rel, n) : g_strdup(n);
    g_autofree char *p = g_build_filename(root, r, NULL);
    struct stat st;
    const char *object = "";
    ck_assert_int_eq(lstat(p, &st), 0);
    if (!S_ISDIR(st.st_mode)) {
      gint64 ino = (gint64)st.st_ino;
      object = g_hash_table_lookup(objects, &ino);
      ck_assert_msg(
        object != NULL, "%s: inode %ju is no object of the store", r, (uintmax_t)st.st_ino);
    }
    g_ptr_array_add(
      out, g_strdup_printf("%s 0%o %u:%u %s", r, st.st_mode, st.st_uid, st.st_gid, object));
    if (S_ISDIR(st.st_mode))
      list_tree(root, r, objects, out);
  }
}

static guint
open_fds(void)
{
  g_autoptr(GDir) d = g_dir_open("/proc/self/fd", 0, NULL);
  guint n = 0;

  while (d && g_dir_read_name(d))
    n++;
  return n;
}

/* The sorted listing of the tree under @dir (list_tree()). */
static char *
listing(const char *dir, GHashTable *objects)
{
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);

  list_tree(dir, "", objects, lines);
  g_ptr_array_sort(lines, sc_strcmp_indirect);
  g_ptr_array_add(lines, NULL);
  return g_strjoinv("\n", (char **)lines->pdata);
}

/* Checks @img out into a new directory with @workers; its sorted listing. */
static char *
checkout_with(ScImage *img, const char *workers, GHashTable *objects)
{
  g_autofree char *dir = g_build_filename(scratch, workers, NULL);
  g_autoptr(GError) error = NULL;
  guint fds = open_fds();

  ck_assert_int_eq(g_mkdir(dir, 0755), 0);
  g_setenv("SC_CHECKOUT_WORKERS", workers, TRUE);
  ck_assert_msg(sc_store_checkout(repo, img, dir, FALSE, &error),
                "%s workers: %s",
                workers,
                error ? error->message : "");
  ck_assert_uint_eq(open_fds(), fds);
  return listing(dir, objects);
}

static guint
count_prefix(const char *listing, const char *prefix)
{
  g_auto(GStrv) lines = g_strsplit(listing, "\n", -1);
  guint n = 0;

  for (char **l = lines; *l; l++)
    n += g_str_has_prefix(*l, prefix);
  return n;
}

START_TEST(test_same_tree_any_workers)
{
  g_autoptr(ScImage) img = big_image();
  g_autoptr(GHashTable) objects = NULL;
  g_autofree char *one = NULL;

  if (getuid() != 0)
    return; /* links into the store need a bare store: root */
  objects = object_inodes();
  one = checkout_with(img, "1", objects);
  for (guint i = 0; i < 3; i++) {
    const char *workers[] = { "2", "3", "4" };
    g_autofree char *many = checkout_with(img, workers[i], objects);
    ck_assert_msg(g_strcmp0(one, many) == 0, "1 and %s workers differ", workers[i]);
  }
  /* and the tree is the union the layers say */
  ck_assert_uint_eq(count_prefix(one, "d1/f"), 500);
  ck_assert_uint_eq(count_prefix(one, "d2/f"), 300);
  ck_assert_uint_eq(count_prefix(one, "d2/sub"), 0);
  ck_assert_uint_eq(count_prefix(one, "d3/f"), 599);
  ck_assert_uint_eq(count_prefix(one, "d3/f0001 0100600 "), 1);
  ck_assert_uint_eq(count_prefix(one, "d4/"), 1);
  ck_assert_uint_eq(count_prefix(one, "d4/back "), 1);
  ck_assert_uint_eq(count_prefix(one, "d5/sub 0100640 "), 1);
  ck_assert_uint_eq(count_prefix(one, "d0/f0000 0120777 "), 1);
  ck_assert_uint_eq(count_prefix(one, "d0/sub/f"), 300);
  ck_assert_uint_eq(count_prefix(one, "ro 040500 0:2000 "), 1);
  ck_assert_uint_eq(count_prefix(one, "ro/f"), 700);
  ck_assert_uint_eq(count_prefix(one, "ro/more/f"), 300);
  ck_assert_uint_eq(count_prefix(one, "t/f2d/now "), 1);
  ck_assert_uint_eq(count_prefix(one, "t/d2f 0100644 "), 1);
  ck_assert_uint_eq(count_prefix(one, ".wh."), 0);
  ck_assert(strstr(one, "/.wh.") == NULL);
}
END_TEST

/* An object missing deep in a batch: the workers' error is the one the
 * walker gives (the file, the object, what to do), whatever the count. */
START_TEST(test_worker_failure)
{
  g_autoptr(ScImage) img = big_image();
  g_autoptr(GHashTable) objects = NULL;
  g_autofree char *good = g_build_filename(scratch, "good", NULL);
  g_autofree char *victim = g_build_filename(good, "d5", "f0450", NULL);
  g_autofree char *object = NULL;
  g_autofree char *want = NULL;
  const char *layer = json_string_value(
    json_object_get(json_array_get(json_object_get(img->manifest, "layers"), 0), "digest"));
  struct stat st;
  gint64 ino;

  if (getuid() != 0)
    return;
  g_setenv("SC_CHECKOUT_WORKERS", "1", TRUE);
  ck_assert_int_eq(g_mkdir(good, 0755), 0);
  ck_assert(sc_store_checkout(repo, img, good, FALSE, NULL));
  objects = object_inodes();
  ck_assert_int_eq(lstat(victim, &st), 0);
  ino = (gint64)st.st_ino;
  object = g_strdup(g_hash_table_lookup(objects, &ino));
  ck_assert_ptr_nonnull(object);
  {
    g_autofree char *p = g_strdup_printf("%s/objects/%.2s/%s.file", repo_path, object, object + 2);
    ck_assert_msg(unlink(p) == 0, "%s: %s", p, g_strerror(errno));
  }
  want = g_strdup_printf("image workers: layer %s: /d5/f0450: the store lacks its object %s "
                         "(run images verify)",
                         layer,
                         object);
  for (guint i = 0; i < 2; i++) {
    const char *workers[] = { "1", "4" };
    g_autofree char *dir = g_strdup_printf("%s/bad%s", scratch, workers[i]);
    g_autoptr(GError) error = NULL;
    guint fds = open_fds();
    ck_assert_int_eq(g_mkdir(dir, 0755), 0);
    g_setenv("SC_CHECKOUT_WORKERS", workers[i], TRUE);
    ck_assert(!sc_store_checkout(repo, img, dir, FALSE, &error));
    ck_assert(g_error_matches(error, SC_ERROR, SC_ENOTFOUND));
    ck_assert_str_eq(error->message, want);
    ck_assert_uint_eq(open_fds(), fds);
  }
}
END_TEST

/* An image's /exports alone (sc_store_checkout_exports()), walked in part
 * by workers: every entry under exports/ of every depth is there, with
 * the upper layer's whiteouts and opaque directory applied, and nothing
 * from outside exports/; the same for any number of workers. */
static char *
exports_with(ScImage *img, const char *workers, GHashTable *objects)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  char *list;
  guint fds = open_fds();

  g_setenv("SC_CHECKOUT_WORKERS", workers, TRUE);
  dir = sc_store_checkout_exports(repo, img, &error);
  ck_assert_msg(dir != NULL, "%s workers: %s", workers, error ? error->message : "");
  ck_assert_uint_eq(open_fds(), fds);
  list = listing(dir, objects);
  sc_rm_rf(dir);
  return list;
}

START_TEST(test_exports_any_workers)
{
  Layer l1, l2;
  g_autofree char *d1 = NULL;
  g_autofree char *d2 = NULL;
  g_autoptr(ScImage) img = NULL;
  g_autoptr(GHashTable) objects = NULL;
  g_autofree char *one = NULL;

  if (getuid() != 0)
    return;
  layer_init(&l1);
  add_files(&l1, "exports", 40, "one", 0);
  for (guint d = 0; d < 8; d++) {
    g_autofree char *dir = g_strdup_printf("exports/hostfs/etc/d%u/sub", d);
    g_autofree char *top = g_strdup_printf("exports/hostfs/etc/d%u", d);
    add_files(&l1, top, 30, "one", 0);
    add_files(&l1, dir, 30, "one", 0);
  }
  add_files(&l1, "usr/lib", 300, "one", 0);
  add_files(&l1, "exportsx", 10, "one", 0);
  d1 = layer_done(&l1);
  layer_init(&l2);
  add(&l2, 'f', "exports/hostfs/etc/d1/.wh.f0003", "", 0644, NULL);
  add(&l2, 'f', "exports/hostfs/etc/d2/sub/.wh..wh..opq", "", 0644, NULL);
  add_files(&l2, "exports/hostfs/etc/d2/sub", 5, "two", 0);
  add(&l2, 'f', "exports/hostfs/etc/.wh.d3", "", 0644, NULL);
  d2 = layer_done(&l2);
  {
    const char *digests[] = { d1, d2, NULL };
    img = image_of("exports", digests);
  }
  objects = object_inodes();
  one = exports_with(img, "1", objects);
  for (guint i = 0; i < 2; i++) {
    const char *workers[] = { "2", "4" };
    g_autofree char *many = exports_with(img, workers[i], objects);
    ck_assert_msg(g_strcmp0(one, many) == 0, "1 and %s workers differ", workers[i]);
  }
  ck_assert_uint_eq(count_prefix(one, "exports/f"), 40);
  ck_assert_uint_eq(count_prefix(one, "exports/hostfs/etc/d0/f"), 30);
  ck_assert_uint_eq(count_prefix(one, "exports/hostfs/etc/d7/sub/f"), 30);
  ck_assert_uint_eq(count_prefix(one, "exports/hostfs/etc/d1/f"), 29);
  ck_assert_uint_eq(count_prefix(one, "exports/hostfs/etc/d2/sub/f"), 5);
  ck_assert_uint_eq(count_prefix(one, "exports/hostfs/etc/d3"), 0);
  ck_assert_uint_eq(count_prefix(one, "exports/"), 40 + 1 + 1 + 7 * 2 + 30 * 12 + 29 + 5);
  ck_assert_uint_eq(count_prefix(one, "usr"), 0);
  ck_assert_uint_eq(count_prefix(one, "exportsx"), 0);
}
END_TEST

/* Nonsense in SC_CHECKOUT_WORKERS falls back to the CPUs, never to none. */
START_TEST(test_workers_env)
{
  g_autoptr(ScImage) img = big_image();
  g_autoptr(GHashTable) objects = NULL;
  g_autofree char *one = NULL;

  if (getuid() != 0)
    return;
  objects = object_inodes();
  one = checkout_with(img, "1", objects);
  for (guint i = 0; i < 3; i++) {
    const char *bad[] = { "0", "-3", "65" };
    g_autofree char *other = checkout_with(img, bad[i], objects);
    ck_assert_str_eq(one, other);
  }
}
END_TEST

static Suite *
workers_suite(void)
{
  Suite *s = suite_create("checkout-workers");
  TCase *tc = tcase_create("workers");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_same_tree_any_workers);
  tcase_add_test(tc, test_worker_failure);
  tcase_add_test(tc, test_workers_env);
  tcase_add_test(tc, test_exports_any_workers);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  return tc_run(workers_suite());
}
