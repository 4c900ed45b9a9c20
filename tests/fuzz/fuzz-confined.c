/* Fuzz target: the confined resolver (lib/base/confined.c). A scratch tree with
 * links of every kind (relative, absolute, '..', loops, chains) is made
 * once, next to a directory it must never reach; the input is a path (and
 * a choice of flags). Both modes, both implementations (openat2() and the
 * O_NOFOLLOW walk): whatever is opened must be one of the tree's own
 * inodes, and the two implementations must agree (the same inode, or the
 * same errno). */
#include "sc-private.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int root_fd = -1;
static GHashTable *inside; /* "dev:ino" of everything in the tree */

static int
note(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  g_hash_table_add(inside, g_strdup_printf("%lu:%lu", (gulong)st->st_dev, (gulong)st->st_ino));
  return 0;
}

static void
must(int r)
{
  if (r != 0)
    abort();
}

static void
make_tree(void)
{
  g_autofree char *top = g_dir_make_tmp("sc-fuzz-confined-XXXXXX", NULL);
  g_autofree char *root = g_build_filename(top, "root", NULL);
  g_autofree char *outside = g_build_filename(top, "outside", NULL);
  g_autofree char *secret = g_build_filename(outside, "secret", NULL);
  int fd;

  must(mkdir(root, 0755));
  must(mkdir(outside, 0755));
  must(g_file_set_contents(secret, "s", -1, NULL) ? 0 : -1);
  root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  must(root_fd < 0);
  must(mkdirat(root_fd, "a", 0755));
  must(mkdirat(root_fd, "a/b", 0755));
  must(mkdirat(root_fd, "root", 0755));
  must(mkdirat(root_fd, "outside", 0755));
  fd = openat(root_fd, "a/b/f", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  must(fd < 0);
  close(fd);
  must(symlinkat("a/b", root_fd, "r"));
  must(symlinkat("/a/b", root_fd, "s"));
  must(symlinkat("..", root_fd, "u"));
  must(symlinkat("../outside", root_fd, "o"));
  must(symlinkat(outside, root_fd, "O"));
  must(symlinkat("/", root_fd, "t"));
  must(symlinkat("l2", root_fd, "l1"));
  must(symlinkat("l1", root_fd, "l2"));
  must(symlinkat(".", root_fd, "d"));
  must(symlinkat("../../..", root_fd, "a/b/x"));
  must(symlinkat("../b/f", root_fd, "a/b/y"));
  must(symlinkat("/proc/self/root", root_fd, "p"));
  must(symlinkat("nothere", root_fd, "n"));
  must(symlinkat("c1", root_fd, "c"));
  for (int i = 1; i < 45; i++) {
    g_autofree char *name = g_strdup_printf("c%d", i);
    g_autofree char *next = g_strdup_printf("c%d", i + 1);
    must(symlinkat(i == 44 ? "a" : next, root_fd, name));
  }
  inside = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  must(nftw(root, note, 16, FTW_PHYS));
}

static const int flag_choices[] = {
  O_RDONLY,
  O_PATH,
  O_PATH | O_NOFOLLOW,
  O_RDONLY | O_DIRECTORY,
  O_RDONLY | O_NOFOLLOW,
  O_PATH | O_DIRECTORY | O_NOFOLLOW,
};

/* Returns the inode opened as "dev:ino", or NULL with *err set. */
static char *
try_open(const char *path, int flags, gboolean in_root, gboolean walk, int *err)
{
  g_autoptr(GError) error = NULL;
  struct stat st;
  char *id;
  int fd;

  sc_confined_force_walk(walk);
  fd = sc_confined_open(root_fd, path, flags | O_NONBLOCK, 0, in_root, &error);
  if (fd < 0) {
    *err = errno;
    if (error == NULL)
      abort();
    return NULL;
  }
  must(fstat(fd, &st));
  close(fd);
  id = g_strdup_printf("%lu:%lu", (gulong)st.st_dev, (gulong)st.st_ino);
  if (!g_hash_table_contains(inside, id))
    abort(); /* escaped the tree */
  return id;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  g_autofree char *path = NULL;
  int flags;

  if (root_fd < 0)
    make_tree();
  if (size < 1 || size > 16384)
    return 0;
  flags = flag_choices[data[0] % G_N_ELEMENTS(flag_choices)];
  path = g_strndup((const char *)data + 1, size - 1); /* up to a NUL */
  for (int in_root = 0; in_root <= 1; in_root++) {
    int e1 = 0, e2 = 0;
    g_autofree char *a = try_open(path, flags, in_root, FALSE, &e1);
    g_autofree char *b = try_open(path, flags, in_root, TRUE, &e2);
    /* Both refused, for a loop or an escape: the kernel may say ELOOP
     * where the walk says EXDEV. Its link count is not reset when a
     * lookup that went out of RCU mode is retried (a scoped "..", after 39
     * links, is one), so the retry runs out of links before it reaches
     * the escape. Either answer refuses the path. */
    gboolean both_refused = a == NULL && b == NULL && (e1 == ELOOP || e1 == EXDEV) &&
                            (e2 == ELOOP || e2 == EXDEV);
    if (!both_refused && (g_strcmp0(a, b) != 0 || e1 != e2)) {
      fprintf(stderr,
              "'%s' flags %#x %s: openat2 %s/%s, walk %s/%s\n",
              path,
              flags,
              in_root ? "in root" : "beneath",
              a ? a : "-",
              g_strerror(e1),
              b ? b : "-",
              g_strerror(e2));
      abort();
    }
  }
  return 0;
}
