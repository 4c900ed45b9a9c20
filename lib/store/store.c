/*
 * The image store: an OSTree repository laid out as atomic and skopeo's
 * ostree: transport wrote it (docs/design.md):
 *
 *   ociimage/<layer hex>     one commit per layer, whiteouts literal,
 *                            metadata docker.size, docker.uncompressed_size,
 *                            docker.uncompressed_digest
 *   ociimage/<config hex>    the config blob as the file /content
 *   ociimage/<enc(name)>     /manifest.json, metadata docker.manifest,
 *                            docker.digest, signatures
 *
 * Here: opening and locking the store, finding images, and the operations
 * on them (list, inspect, tag, delete, prune, verify, checkout).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- location, opening, locking ---- */

/* The directory a checkout under @checkout would be made in: @checkout, or
 * its nearest existing ancestor (it is made on that one's mount). */
static int
open_nearest_dir(const char *checkout)
{
  g_autofree char *p = g_strdup(checkout);

  for (;;) {
    int fd = sc_confined_open_nolinks(p, FALSE, NULL);
    if (fd >= 0 || strcmp(p, "/") == 0 || strcmp(p, ".") == 0)
      return fd;
    {
      char *parent = g_path_get_dirname(p);
      g_free(p);
      p = parent;
    }
  }
}

static gboolean
same_mount(int a, int b)
{
#ifdef STATX_MNT_ID
  struct statx sa, sb;
  if (statx(a, "", AT_EMPTY_PATH, STATX_MNT_ID, &sa) == 0 &&
      statx(b, "", AT_EMPTY_PATH, STATX_MNT_ID, &sb) == 0 && (sa.stx_mask & STATX_MNT_ID) &&
      (sb.stx_mask & STATX_MNT_ID))
    return sa.stx_dev_major == sb.stx_dev_major && sa.stx_dev_minor == sb.stx_dev_minor &&
           sa.stx_mnt_id == sb.stx_mnt_id;
#endif
  {
    struct stat x, y;
    return fstat(a, &x) == 0 && fstat(b, &y) == 0 && x.st_dev == y.st_dev;
  }
}

/* Whether checkouts under @checkout can hardlink the objects of the
 * repository @repo: a real link() of its config file into the directory the
 * checkouts would be made in, as atomic tested it. Comparing st_dev is not
 * enough: an OSTree-booted host's /var is a bind mount of the same file
 * system, and link() across two mounts fails with EXDEV. The test link is
 * removed at once. When no link can be made here (a read-only file system,
 * a user who may not write there), the mounts' identities decide. On FALSE,
 * *@out_why says what failed. */
static gboolean
can_hardlink(sc_context *ctx, const char *repo, const char *checkout, char **out_why)
{
  g_autofree char *repo_seen = sc_context_root_path(ctx, repo);
  g_autofree char *checkout_seen = sc_context_root_path(ctx, checkout);
  g_autofree char *name = g_strdup_printf(".sc-samefs-%d-%08x", (int)getpid(), g_random_int());
  int rfd = sc_confined_open_nolinks(repo, FALSE, NULL);
  int dfd = rfd >= 0 ? open_nearest_dir(checkout) : -1;
  struct stat st;
  gboolean ok = FALSE;

  *out_why = NULL;
  if (rfd < 0 || dfd < 0 || fstatat(rfd, "config", &st, AT_SYMLINK_NOFOLLOW) != 0 ||
      !S_ISREG(st.st_mode)) {
    *out_why = g_strdup_printf("%s/config is not a regular file", repo_seen);
  } else if (linkat(rfd, "config", dfd, name, 0) == 0) {
    (void)unlinkat(dfd, name, 0);
    ok = TRUE;
  } else if (errno == EXDEV) {
    *out_why = g_strdup_printf("no hardlink from %s can reach into %s: %s", checkout_seen,
                               repo_seen, g_strerror(EXDEV));
  } else if (same_mount(rfd, dfd)) {
    ok = TRUE;
  } else {
    *out_why = g_strdup_printf("%s is on another mount than %s", repo_seen, checkout_seen);
  }
  if (rfd >= 0)
    close(rfd);
  if (dfd >= 0)
    close(dfd);
  return ok;
}

/* Whether @repo has a config that is a regular file, reached without
 * following links: what marks a repository (a link there is not one). */
static gboolean
has_config(const char *repo)
{
  int fd = sc_confined_open_nolinks(repo, FALSE, NULL);
  struct stat st;
  gboolean ok = fd >= 0 && fstatat(fd, "config", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISREG(st.st_mode);

  if (fd >= 0)
    close(fd);
  return ok;
}

/* Whether the repository @repo holds images (refs under ociimage/): a
 * store that atomic or this library used before. */
static gboolean
holds_images(const char *repo)
{
  g_autofree char *heads = g_build_filename(repo, "refs", "heads", "ociimage", NULL);
  int fd = sc_confined_open_nolinks(heads, FALSE, NULL);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  struct dirent *e;
  gboolean found = FALSE;

  if (d == NULL) {
    if (fd >= 0)
      close(fd);
    return FALSE;
  }
  while (!found && (e = readdir(d)) != NULL)
    found = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  closedir(d);
  return found;
}

/* Why @config, which is there but is not a regular file, is not a
 * repository's config; NULL when there is nothing at all (no OSTree
 * host: nothing was passed over). */
static char *
not_a_config(sc_context *ctx, const char *config)
{
  g_autofree char *seen = sc_context_root_path(ctx, config);
  struct stat st;
  const char *what;

  if (lstat(config, &st) != 0)
    return NULL;
  if (S_ISLNK(st.st_mode))
    what = "a symbolic link";
  else if (S_ISDIR(st.st_mode))
    what = "a directory";
  else if (S_ISFIFO(st.st_mode))
    what = "a fifo";
  else if (S_ISSOCK(st.st_mode))
    what = "a socket";
  else if (S_ISREG(st.st_mode))
    return NULL; /* a config after all (made meanwhile) */
  else
    what = "a device";
  return g_strdup_printf("%s is %s, not a repository's config", seen, what);
}

static const char *const choice_names[] = {
  [SC_STORE_CONFIGURED] = "configured",
  [SC_STORE_EXISTING] = "existing",
  [SC_STORE_OSTREE_HOST] = "ostree-host",
  [SC_STORE_CHECKOUT_ROOT] = "checkout-root",
  [SC_STORE_USER] = "user",
};

const char *
sc_store_choice_name(ScStoreChoice choice)
{
  return choice_names[choice];
}

/* Where the store is, in atomic's order (docs/store.md): a repository
 * that was set (--repo, $ATOMIC_OSTREE_REPO, atomic.conf); else the one
 * under the checkout root when it exists already, so that a store once
 * made stays where it is; else an OSTree host's own /ostree/repo when the
 * checkouts can hardlink into it, or when it holds images already; else
 * CHECKOUT/.storage/ostree. */
char *
sc_store_location(sc_context *ctx, ScStoreChoice *out_choice, char **out_why)
{
  g_autofree char *checkout = sc_context_host_dir(ctx, sc_context_get_checkout_root(ctx));
  g_autofree char *own_seen =
    g_build_filename(sc_context_get_checkout_root(ctx), ".storage", "ostree", NULL);
  /* resolved inside the sysroot as the checkout root is: a .storage that
   * is a link to /elsewhere must not put the store outside it */
  g_autofree char *own = sc_context_host_dir(ctx, own_seen);
  g_autofree char *system = NULL;
  g_autofree char *why = NULL;
  ScStoreChoice choice;
  char *path;

  if (sc_context_get_repo(ctx)) {
    /* (a user's default store is nobody's configuration) */
    choice = sc_context_repo_is_user_default(ctx) ? SC_STORE_USER : SC_STORE_CONFIGURED;
    path = sc_context_host_dir(ctx, sc_context_get_repo(ctx));
  } else if (has_config(own)) {
    choice = SC_STORE_EXISTING;
    path = g_steal_pointer(&own);
  } else {
    g_autofree char *system_config = NULL;
    system = sc_context_host_dir(ctx, "/ostree/repo");
    system_config = g_build_filename(system, "config", NULL);
    gboolean repo = has_config(system);
    if (!repo)
      why = not_a_config(ctx, system_config);
    if (repo && can_hardlink(ctx, system, checkout, &why)) {
      choice = SC_STORE_OSTREE_HOST;
      path = g_steal_pointer(&system);
    } else if (repo && holds_images(system)) {
      /* the images an earlier tool kept there stay in use; the checkouts
       * copy what they cannot link */
      choice = SC_STORE_EXISTING;
      path = g_steal_pointer(&system);
      g_clear_pointer(&why, g_free);
    } else {
      choice = SC_STORE_CHECKOUT_ROOT;
      path = g_steal_pointer(&own);
    }
  }
  if (out_choice)
    *out_choice = choice;
  if (out_why)
    *out_why = g_steal_pointer(&why);
  return path;
}

json_t *
sc_store_location_json(sc_context *ctx)
{
  ScStoreChoice choice;
  g_autofree char *why = NULL;
  g_autofree char *path = sc_store_location(ctx, &choice, &why);
  g_autofree char *seen = sc_context_root_path(ctx, path);

  return json_pack("{s:s, s:s, s:s?}", "path", seen, "chosen", sc_store_choice_name(choice),
                   "passed_over", why);
}

char *
sc_context_repo_path(sc_context *ctx)
{
  OstreeRepo *open = (OstreeRepo *)sc_context_get_store(ctx);
  GFile *f = open ? ostree_repo_get_path(open) : NULL;

  /* the store this context opened, wherever the rules would put it now */
  if (f != NULL)
    return g_file_get_path(f);
  return sc_store_location(ctx, NULL, NULL);
}

/* A slot's info is small: a larger one is not one of ours. */
#define SC_INFO_MAX (4 * 1024 * 1024)
#define SC_STORE_LOCK "syscontainer.lock"
/* Where a new store is put together, inside its own directory. */
#define SC_STORE_CREATING ".syscontainer-creating"

static gboolean
wait_flock(int fd, int op)
{
  while (flock(fd, op) != 0)
    if (errno != EINTR)
      return FALSE;
  return TRUE;
}

/* Creates the store at @path so that no reader ever sees half of it: the
 * repository is made in a scratch directory inside @path and its parts are
 * renamed into place with "config" (what marks a store as there) last. The
 * creators of one store take turns through a lock on @path itself, which
 * adds nothing to it; the loser finds the config and is done. A scratch
 * directory left by a crash is removed by the next creator. */
static gboolean
store_create(sc_context *ctx, const char *path, GError **error)
{
  g_autofree char *parent = g_path_get_dirname(path);
  g_autofree char *scratch = g_build_filename(path, SC_STORE_CREATING, NULL);
  g_autoptr(OstreeRepo) repo = NULL;
  static const char *const parts[] = {"objects", "tmp", "extensions", "state", "refs",
                                      SC_STORE_LOCK, "config"};
  int dfd = -1, sfd = -1;
  gboolean ok = FALSE;

  /* 0755 as atomic made them (on a fresh deployment's var the first pull
   * makes var/lib itself, which every service of the host needs to reach),
   * labelled as the policy says (the store's own insides are OSTree's) */
  /* (a user's: 0700, theirs alone, as the XDG base directory spec makes
   * what is missing) */
  if (!sc_context_make_dirs(ctx, parent, sc_context_is_user(ctx) ? 0700 : 0755, error)) {
    g_prefix_error(error, "image store %s: ", path);
    return FALSE;
  }
  if (mkdir(path, sc_context_is_user(ctx) ? 0700 : 0755) == 0) {
    if (!sc_context_label_host_path(ctx, path, error)) {
      g_prefix_error(error, "image store %s: ", path);
      return FALSE;
    }
  } else if (errno != EEXIST) {
    g_set_error(error, SC_ERROR, SC_EIO, "image store %s: cannot create it: %s", path,
                g_strerror(errno));
    return FALSE;
  }
  dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (dfd < 0 || !wait_flock(dfd, LOCK_EX)) {
    g_set_error(error, SC_ERROR, SC_EIO, "image store %s: cannot open and lock it: %s", path,
                g_strerror(errno));
    goto out;
  }
  if (faccessat(dfd, "config", F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
    ok = TRUE; /* another command made it while this one waited */
    goto out;
  }
  sc_rm_rf(scratch);
  /* bare as root, keeping owners and modes; bare-user otherwise */
  repo = ostree_repo_create_at(dfd, SC_STORE_CREATING,
                               getuid() == 0 ? OSTREE_REPO_MODE_BARE : OSTREE_REPO_MODE_BARE_USER,
                               NULL, NULL, error);
  if (repo == NULL) {
    g_prefix_error(error, "image store %s: ", path);
    goto out;
  }
  sfd = openat(dfd, SC_STORE_CREATING, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (sfd < 0) {
    g_set_error(error, SC_ERROR, SC_EIO, "image store %s: %s: %s", path, scratch,
                g_strerror(errno));
    goto out;
  }
  {
    int lfd = openat(sfd, SC_STORE_LOCK, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lfd < 0) {
      g_set_error(error, SC_ERROR, SC_EIO, "image store %s: cannot create %s/%s: %s", path,
                  scratch, SC_STORE_LOCK, g_strerror(errno));
      goto out;
    }
    close(lfd);
  }
  /* ostree makes these (and may make more: every entry moves, config last) */
  {
    g_autoptr(GDir) d = g_dir_open(scratch, 0, NULL);
    const char *e;
    while (d && (e = g_dir_read_name(d)) != NULL)
      if (!g_strv_contains((const char *const *)parts, e) &&
          renameat(sfd, e, dfd, e) != 0) {
        g_set_error(error, SC_ERROR, SC_EIO, "image store %s: cannot move %s into place: %s",
                    path, e, g_strerror(errno));
        goto out;
      }
  }
  for (gsize i = 0; i < G_N_ELEMENTS(parts); i++)
    if (renameat(sfd, parts[i], dfd, parts[i]) != 0 && errno != ENOENT) {
      g_set_error(error, SC_ERROR, SC_EIO, "image store %s: cannot move %s into place: %s", path,
                  parts[i], g_strerror(errno));
      goto out;
    }
  if (faccessat(dfd, "config", F_OK, AT_SYMLINK_NOFOLLOW) != 0) {
    g_set_error(error, SC_ERROR, SC_EIO, "image store %s: ostree made no config", path);
    goto out;
  }
  ok = TRUE;
out:
  if (sfd >= 0)
    close(sfd);
  if (dfd >= 0) {
    if (!ok || sfd >= 0)
      unlinkat(dfd, SC_STORE_CREATING, AT_REMOVEDIR); /* empty once all moved */
    close(dfd); /* and the lock with it */
  }
  return ok;
}

/* The parts of a store that ostree opens by name: none may be a link, or
 * a store under a sysroot could read and write wherever its links point
 * (a hostile sysroot's .storage/ostree/config -> /some/host/repo/config). */
static gboolean
store_check_no_links(const char *path, GError **error)
{
  static const char *const parts[] = { "config", "objects",    "refs",       "state",
                                       "tmp",    "extensions", SC_STORE_LOCK };
  int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;

  if (dfd < 0) /* missing: made by store_create, or reported by the caller */
    return TRUE;
  for (gsize i = 0; i < G_N_ELEMENTS(parts); i++)
    if (fstatat(dfd, parts[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
      g_set_error(error,
                  SC_ERROR,
                  SC_EUNSUPPORTED,
                  "image store %s: %s/%s is a symbolic link: refusing to follow it",
                  path,
                  path,
                  parts[i]);
      close(dfd);
      return FALSE;
    }
  close(dfd);
  return TRUE;
}

gboolean
sc_store_open(sc_context *ctx, gboolean create, OstreeRepo **out_repo, GError **error)
{
  g_autofree char *path = NULL;
  g_autofree char *config = NULL;
  g_autoptr(OstreeRepo) repo = NULL;
  struct stat st;

  if (!sc_context_config_check(ctx, error))
    return FALSE;
  if (sc_context_get_store(ctx) != NULL) {
    *out_repo = (OstreeRepo *)sc_context_get_store(ctx);
    return TRUE;
  }
  path = sc_context_repo_path(ctx);
  config = g_build_filename(path, "config", NULL);
  if (!store_check_no_links(path, error))
    return FALSE;
  if (stat(config, &st) != 0) {
    if (errno != ENOENT && errno != ENOTDIR) {
      /* a store this user may not look into is not "no store": saying
       * "no images" to a user who cannot see them would be a lie */
      g_set_error(
        error, SC_ERROR, SC_EIO, "image store %s: cannot read it: %s", path, g_strerror(errno));
      return FALSE;
    }
    if (!create) {
      g_set_error(error, SC_ERROR, SC_ENOTFOUND, "no image store at %s (nothing was pulled yet)",
                  path);
      return FALSE;
    }
    if (!store_create(ctx, path, error))
      return FALSE;
  }
  /* Opening creates nothing: a store on a read-only file system (or one
   * this user may only read) serves the commands that only read. */
  {
    /* by path, so that ostree_repo_get_path() gives it for messages */
    g_autoptr(GFile) file = g_file_new_for_path(path);
    repo = ostree_repo_new(file);
    if (!ostree_repo_open(repo, NULL, error)) {
      g_prefix_error(error, "image store %s: ", path);
      return FALSE;
    }
  }
  /* Objects are not fsync'ed one by one: one syncfs before the refs are
   * written (sc_store_sync) makes the transaction durable at a fraction of
   * the cost. */
  ostree_repo_set_disable_fsync(repo, TRUE);
  sc_context_set_store(ctx, G_OBJECT(repo));
  *out_repo = repo;
  return TRUE;
}

static char *
store_path(OstreeRepo *repo)
{
  GFile *f = ostree_repo_get_path(repo);
  return f ? g_file_get_path(f) : g_strdup("(the image store)");
}

gboolean
sc_store_sync(OstreeRepo *repo, GError **error)
{
  if (syncfs(ostree_repo_get_dfd(repo)) != 0) {
    g_autofree char *path = store_path(repo);
    g_set_error(error, SC_ERROR, SC_EIO, "image store %s: syncfs: %s", path, g_strerror(errno));
    return FALSE;
  }
  return TRUE;
}

/* The lock is flock() on the store's lock file, opened O_RDONLY (flock
 * does not need more): readers share it, writers take it alone. Readers
 * create nothing; a writer creates the file when a store made by another
 * tool lacks it, and first makes sure the store can be written at all, so
 * that a read-only store fails here, with its path, not halfway. */
int
sc_store_lock(sc_context *ctx, OstreeRepo *repo, gboolean exclusive, GError **error)
{
  int dfd = ostree_repo_get_dfd(repo);
  int op = exclusive ? LOCK_EX : LOCK_SH;
  g_autofree char *path = store_path(repo);
  struct stat st;
  int fd;

  if (exclusive && faccessat(dfd, ".", W_OK, AT_EACCESS) != 0) {
    g_set_error(error, SC_ERROR, SC_EIO, "image store %s: cannot be changed: %s", path,
                g_strerror(errno));
    return -1;
  }
  fd = openat(dfd, SC_STORE_LOCK, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
  if (fd < 0 && !exclusive && (errno == EACCES || errno == EPERM)) {
    /* A reader that may read the store but not its lock (a user on
     * root's world-readable store: the lock stays 0600 because flock()
     * needs only an open fd, and a lock any user could open is one any
     * user could hold, LOCK_EX included, to stall root's pulls and
     * installs). Reading without the lock is safe here: this process
     * changes nothing, and OSTree never changes a file in place (objects
     * are content-addressed and renamed into place, refs replaced by
     * rename), so a writer at the same time can at worst remove an object
     * this read then fails to open, which is reported as an error, never
     * read as other data. */
    sc_context_log(ctx, SC_LOG_DEBUG, "image store %s: cannot open %s (%s): reading unlocked",
                   path, SC_STORE_LOCK, g_strerror(errno));
    return fcntl(dfd, F_DUPFD_CLOEXEC, 0);
  }
  if (fd < 0 && errno == ENOENT) {
    fd = openat(dfd, SC_STORE_LOCK, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 && !exclusive && (errno == EROFS || errno == EACCES || errno == EPERM)) {
      /* A store this process can only read, made by a tool that keeps no
       * lock file (atomic, skopeo): nothing can change it through here.
       * The lock is then taken on the directory, which nothing else locks:
       * the caller gets an fd to close as usual. */
      sc_context_log(ctx, SC_LOG_DEBUG, "image store %s: read-only and without %s: not locked",
                     path, SC_STORE_LOCK);
      return fcntl(dfd, F_DUPFD_CLOEXEC, 0);
    }
  }
  if (fd < 0) {
    g_set_error(error, SC_ERROR, SC_EIO, "image store %s: cannot open its lock %s/%s: %s", path,
                path, SC_STORE_LOCK, g_strerror(errno));
    return -1;
  }
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    g_set_error(error, SC_ERROR, SC_EIO, "image store %s: its lock %s/%s is not a regular file",
                path, path, SC_STORE_LOCK);
    close(fd);
    return -1;
  }
  if (flock(fd, op | LOCK_NB) != 0) {
    sc_context_log(ctx, SC_LOG_INFO, "waiting for another command to release the image store");
    if (!wait_flock(fd, op)) {
      g_set_error(error, SC_ERROR, SC_EIO, "image store %s: cannot lock %s/%s: %s", path, path,
                  SC_STORE_LOCK, g_strerror(errno));
      close(fd);
      return -1;
    }
  }
  return fd;
}

/* ---- images ---- */

gboolean
sc_ref_is_blob(const char *ref)
{
  const char *s = g_str_has_prefix(ref, SC_REF_PREFIX) ? ref + strlen(SC_REF_PREFIX) : ref;
  return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

void
sc_image_free(ScImage *img)
{
  if (img == NULL)
    return;
  g_free(img->ref);
  g_free(img->name);
  g_free(img->commit);
  g_free(img->id);
  g_free(img->transport);
  g_free(img->trust);
  json_decref(img->manifest);
  json_decref(img->config);
  g_free(img);
}

static char *
metadata_string(GVariant *commit, const char *key)
{
  g_autoptr(GVariant) meta = g_variant_get_child_value(commit, 0);
  g_autoptr(GVariantDict) dict = g_variant_dict_new(meta);
  const char *s = NULL;

  if (!g_variant_dict_lookup(dict, key, "&s", &s))
    return NULL;
  return g_strdup(s);
}

static gboolean
load_commit(OstreeRepo *repo, const char *ref, char **out_checksum, GVariant **out_commit,
            GError **error)
{
  g_autofree char *rev = NULL;

  if (!ostree_repo_resolve_rev(repo, ref, TRUE, &rev, error))
    return FALSE;
  if (rev == NULL) {
    g_set_error(error, SC_ERROR, SC_ENOTFOUND, "%s is not in the store", ref);
    return FALSE;
  }
  if (out_commit &&
      !ostree_repo_load_variant(repo, OSTREE_OBJECT_TYPE_COMMIT, rev, out_commit, error))
    return FALSE;
  *out_checksum = g_steal_pointer(&rev);
  return TRUE;
}

/* The config blob stored at ociimage/<hex>: the file /content. */
static json_t *
load_config(OstreeRepo *repo, const char *hex, GError **error)
{
  g_autofree char *ref = g_strconcat(SC_REF_PREFIX, hex, NULL);
  g_autoptr(GFile) root = NULL;
  g_autoptr(GFile) content = NULL;
  g_autofree char *data = NULL;
  gsize len;
  json_t *j;

  if (!ostree_repo_read_commit(repo, ref, &root, NULL, NULL, error))
    return NULL;
  content = g_file_resolve_relative_path(root, "content");
  if (!g_file_load_contents(content, NULL, &data, &len, NULL, error))
    return NULL;
  j = json_loadb(data, len, 0, NULL);
  if (j == NULL)
    g_set_error(error, SC_ERROR, SC_EIO, "config sha256:%s in the store is not valid JSON", hex);
  return j;
}

ScImage *
sc_image_load(OstreeRepo *repo, const char *ref, GError **error)
{
  g_autoptr(GVariant) commit = NULL;
  ScImage *img = g_new0(ScImage, 1);
  g_autofree char *manifest = NULL;
  g_autofree char *digest = NULL;
  const char *config_digest, *hex;

  img->ref = g_strdup(ref);
  img->name = sc_ref_decode(ref + strlen(SC_REF_PREFIX));
  /* "sha256:..." is no reference's name: the ID ref of an image whose
   * name moved on */
  img->untagged = g_str_has_prefix(img->name, "sha256:");
  if (!load_commit(repo, ref, &img->commit, &commit, error))
    goto fail;
  img->transport = metadata_string(commit, "syscontainer.transport");
  img->trust = metadata_string(commit, "syscontainer.trust");
  manifest = metadata_string(commit, "docker.manifest");
  if (manifest == NULL) {
    g_set_error(error, SC_ERROR, SC_EUNSUPPORTED,
                "%s: the commit has no docker.manifest (not an OCI image)", img->name);
    goto fail;
  }
  img->manifest = json_loads(manifest, 0, NULL);
  if (!json_is_object(img->manifest)) {
    g_set_error(error, SC_ERROR, SC_EIO, "%s: docker.manifest is not valid JSON", img->name);
    goto fail;
  }
  digest = metadata_string(commit, "docker.digest");
  if (digest && g_str_has_prefix(digest, "sha256:"))
    img->id = g_strdup(digest + 7);
  else
    img->id = sc_sha256_hex(manifest, strlen(manifest));
  config_digest = json_string_value(json_object_get(json_object_get(img->manifest, "config"),
                                                    "digest"));
  if (config_digest && sc_digest_hex(config_digest, &hex, NULL))
    img->config = load_config(repo, hex, NULL);
  return img;
fail:
  sc_image_free(img);
  return NULL;
}

char *
sc_image_id_ref(const char *id)
{
  g_autofree char *name = g_strconcat("sha256:", id, NULL);
  g_autofree char *enc = sc_ref_encode(name);
  return g_strconcat(SC_REF_PREFIX, enc, NULL);
}

GBytes *
sc_store_read_config(OstreeRepo *repo, const char *hex)
{
  g_autofree char *ref = g_strconcat(SC_REF_PREFIX, hex, NULL);
  g_autoptr(GFile) root = NULL;
  g_autoptr(GFile) content = NULL;
  char *data = NULL;
  gsize len;

  if (!ostree_repo_read_commit(repo, ref, &root, NULL, NULL, NULL))
    return NULL;
  content = g_file_resolve_relative_path(root, "content");
  if (!g_file_load_contents(content, NULL, &data, &len, NULL, NULL))
    return NULL;
  return g_bytes_new_take(data, len);
}

static gboolean
set_ref(OstreeRepo *repo, const char *ref, const char *commit, gboolean in_txn, GError **error)
{
  if (!in_txn)
    return ostree_repo_set_ref_immediate(repo, NULL, ref, commit, NULL, error);
  ostree_repo_transaction_set_ref(repo, NULL, ref, commit);
  return TRUE;
}

static gboolean ref_exists(OstreeRepo *repo, const char *ref);

/* An image that a container may run must not be lost when its name is
 * pointed elsewhere (podman keeps it as "<none>" until pruned): it is kept
 * under its ID ref, unless another name still holds it. */
gboolean
sc_store_keep_displaced(OstreeRepo *repo, const char *ref, const char *new_id, gboolean in_txn,
                        GError **error)
{
  g_autoptr(ScImage) old = ref_exists(repo, ref) ? sc_image_load(repo, ref, NULL) : NULL;
  g_autofree char *new_id_ref = sc_image_id_ref(new_id);

  if (ref_exists(repo, new_id_ref) && !set_ref(repo, new_id_ref, NULL, in_txn, error))
    return FALSE;
  if (old != NULL && !old->untagged && strcmp(old->id, new_id) != 0) {
    g_autoptr(GPtrArray) all = sc_images_all(repo, error);
    gboolean named = FALSE;
    if (all == NULL)
      return FALSE;
    for (guint i = 0; i < all->len && !named; i++) {
      ScImage *other = all->pdata[i];
      named = !other->untagged && strcmp(other->ref, ref) != 0 && strcmp(other->id, old->id) == 0;
    }
    if (!named) {
      g_autofree char *old_id_ref = sc_image_id_ref(old->id);
      return set_ref(repo, old_id_ref, old->commit, in_txn, error);
    }
  }
  return TRUE;
}

static void split_name(const char *name, char **out_repo, char **out_tag);

/* By repository, then tag, in byte order (not by the encoded ref, where
 * ':' is "_3A" and "x2:latest" came before "x:latest"); the images kept by
 * their ID only last, by ID. */
static gint
image_order(gconstpointer a, gconstpointer b)
{
  const ScImage *x = *(ScImage *const *)a, *y = *(ScImage *const *)b;
  g_autofree char *xr = NULL, *xt = NULL, *yr = NULL, *yt = NULL;
  int c;

  if (x->untagged || y->untagged)
    return x->untagged != y->untagged ? (x->untagged ? 1 : -1) : strcmp(x->id, y->id);
  split_name(x->name, &xr, &xt);
  split_name(y->name, &yr, &yt);
  c = strcmp(xr, yr);
  if (c == 0)
    c = strcmp(xt, yt);
  return c ? c : strcmp(x->name, y->name); /* (several REPO@DIGEST) */
}

/* Every image ref, loaded and sorted (image_order); unreadable ones are
 * skipped, and so is the ID ref of an image that has a name again. */
GPtrArray *
sc_images_all(OstreeRepo *repo, GError **error)
{
  g_autoptr(GHashTable) refs = NULL;
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)sc_image_free);
  g_autoptr(GList) keys = NULL;

  if (!ostree_repo_list_refs_ext(repo, NULL, &refs, OSTREE_REPO_LIST_REFS_EXT_NONE, NULL,
                                 error)) {
    g_ptr_array_unref(out);
    return NULL;
  }
  keys = g_list_sort(g_hash_table_get_keys(refs), (GCompareFunc)strcmp);
  for (GList *l = keys; l; l = l->next) {
    const char *ref = l->data;
    ScImage *img;
    if (!g_str_has_prefix(ref, SC_REF_PREFIX) || sc_ref_is_blob(ref))
      continue;
    img = sc_image_load(repo, ref, NULL);
    if (img)
      g_ptr_array_add(out, img);
  }
  for (guint i = out->len; i-- > 0;) {
    ScImage *img = out->pdata[i];
    gboolean named = FALSE;
    for (guint k = 0; k < out->len && img->untagged && !named; k++)
      named = !((ScImage *)out->pdata[k])->untagged &&
              strcmp(((ScImage *)out->pdata[k])->id, img->id) == 0;
    if (named)
      g_ptr_array_remove_index(out, i);
  }
  g_ptr_array_sort(out, image_order);
  return out;
}

static gboolean
ref_exists(OstreeRepo *repo, const char *ref)
{
  g_autofree char *rev = NULL;
  return ostree_repo_resolve_rev(repo, ref, TRUE, &rev, NULL) && rev != NULL;
}

/* REF of a registry source as pull takes it (docker://REF, atomic's
 * http:REF and https:REF), else @text. */
static const char *
registry_source_ref(const char *text)
{
  static const char *const prefixes[] = {"docker://", "http:", "https:"};

  for (guint i = 0; i < G_N_ELEMENTS(prefixes); i++) {
    if (g_str_has_prefix(text, prefixes[i])) {
      text += strlen(prefixes[i]);
      while (*text == '/')
        text++;
      break;
    }
  }
  return text;
}

/* The images that @text names: a name (normalized, or as atomic stored it),
 * an ID prefix (every name of that image), or the source string an image
 * was pulled from (atomic's mount took http:NAME, as its pull did). */
/* REPO@sha256:HEX: REPO's names of the image whose manifest is HEX
 * (podman finds an image pulled by tag by its digest too). FALSE only
 * for an error reading the store. */
static gboolean
resolve_by_digest(OstreeRepo *repo, const char *text, GPtrArray *out, GError **error)
{
  g_auto(ScReference) want = {0};
  g_autoptr(GPtrArray) all = NULL;

  if (!strchr(text, '@') || !sc_reference_parse(text, &want, NULL) || want.digest == NULL ||
      !g_str_has_prefix(want.digest, "sha256:"))
    return TRUE;
  if ((all = sc_images_all(repo, error)) == NULL)
    return FALSE;
  for (guint i = 0; i < all->len; i++) {
    ScImage *img = all->pdata[i];
    g_auto(ScReference) have = {0};
    if (img->untagged || strcmp(img->id, want.digest + 7) != 0 ||
        !sc_reference_parse(img->name, &have, NULL))
      continue;
    if (g_strcmp0(have.domain, want.domain) == 0 && g_strcmp0(have.path, want.path) == 0)
      g_ptr_array_add(out, g_steal_pointer(&all->pdata[i]));
  }
  return TRUE;
}

GPtrArray *
sc_images_resolve(OstreeRepo *repo, const char *given, GError **error)
{
  const char *text = registry_source_ref(given);
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)sc_image_free);
  char *normalized = NULL; /* owned by candidates */
  g_autoptr(GPtrArray) candidates = g_ptr_array_new_with_free_func(g_free);
  const char *id = g_str_has_prefix(text, "sha256:") ? text + 7 : text;
  const char *slash = strrchr(text, '/');
  gboolean local = sc_image_source_is_local(text);

  /* a short name given to pull --name is under localhost/ (podman keeps
   * them there): tried first */
  if (!local && sc_reference_is_short(text)) {
    g_autofree char *prefixed = g_strconcat("localhost/", text, NULL);
    char *n = sc_reference_normalize(prefixed, NULL);
    if (n)
      g_ptr_array_add(candidates, n);
  }
  if (g_str_has_prefix(text, "docker:") && !g_str_has_prefix(text, "docker://")) {
    /* the daemon is not asked (it would send the whole image) */
    g_autofree char *name = sc_image_source_daemon_name(text);
    normalized = name ? sc_reference_normalize(name, NULL) : NULL;
  } else if (local) {
    ScImageSource *src = sc_image_source_open(text, NULL, NULL);
    if (src) {
      normalized = sc_reference_normalize(sc_image_source_name(src), NULL);
      sc_image_source_free(src);
    }
  } else
    normalized = sc_reference_normalize(text, NULL);
  if (normalized)
    g_ptr_array_add(candidates, normalized);
  /* as atomic stored short names: as typed, with :latest when untagged */
  g_ptr_array_add(candidates, g_strdup(text));
  if (!strchr(slash ? slash : text, ':') && !strchr(text, '@'))
    g_ptr_array_add(candidates, g_strconcat(text, ":latest", NULL));
  for (guint i = 0; i < candidates->len; i++) {
    g_autofree char *enc = sc_ref_encode(candidates->pdata[i]);
    g_autofree char *ref = g_strconcat(SC_REF_PREFIX, enc, NULL);
    if (ref_exists(repo, ref)) {
      ScImage *img = sc_image_load(repo, ref, error);
      if (img == NULL) {
        g_ptr_array_unref(out);
        return NULL;
      }
      g_ptr_array_add(out, img);
      return out;
    }
  }

  if (!resolve_by_digest(repo, text, out, error)) {
    g_ptr_array_unref(out);
    return NULL;
  }
  if (out->len > 0)
    return out;
  if (*id && strlen(id) <= 64 && strspn(id, "0123456789abcdef") == strlen(id)) {
    g_autoptr(GPtrArray) all = sc_images_all(repo, error);
    const char *match = NULL;
    if (all == NULL) {
      g_ptr_array_unref(out);
      return NULL;
    }
    for (guint i = 0; i < all->len; i++) {
      ScImage *img = all->pdata[i];
      if (!g_str_has_prefix(img->id, id))
        continue;
      if (match && strcmp(match, img->id) != 0) {
        g_set_error(error, SC_ERROR, SC_EINVAL,
                    "image ID prefix '%s' is ambiguous: it matches %.12s and %.12s", id, match,
                    img->id);
        g_ptr_array_unref(out);
        return NULL;
      }
      match = img->id;
      g_ptr_array_add(out, g_steal_pointer(&all->pdata[i]));
    }
    if (out->len > 0)
      return out;
  }
  g_set_error(error, SC_ERROR, SC_ENOTFOUND, "image '%s' is not in the store", given);
  g_ptr_array_unref(out);
  return NULL;
}

ScImage *
sc_image_resolve_one(OstreeRepo *repo, const char *text, GError **error)
{
  g_autoptr(GPtrArray) imgs = sc_images_resolve(repo, text, error);
  if (imgs == NULL)
    return NULL;
  return g_steal_pointer(&imgs->pdata[0]);
}

/* Deployments (CHECKOUT/NAME.N/info, either slot of every container)
 * whose image is @img: by the image ID each recorded ("revision"), never
 * by name, which may have moved to another image since. */
static gboolean
image_in_use(sc_context *ctx, ScImage *img, char **out_container)
{
  g_autofree char *root = sc_context_host_dir(ctx, sc_context_get_checkout_root(ctx));
  int rfd = sc_confined_open_nolinks(root, FALSE, NULL);
  DIR *dir = rfd >= 0 ? fdopendir(rfd) : NULL;
  struct dirent *e;
  gboolean used = FALSE;

  if (dir == NULL) {
    if (rfd >= 0)
      close(rfd);
    return FALSE;
  }
  /* the slots themselves, never through a link (NAME is one), and their
   * info as the other readers of a slot read it: a regular file, bounded */
  while (!used && (e = readdir(dir)) != NULL) {
    g_autofree char *slot = NULL;
    g_autoptr(GBytes) text = NULL;
    gboolean exists = FALSE;
    json_t *j;
    int sfd;
    if (e->d_name[0] == '.')
      continue;
    sfd = openat(dirfd(dir), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sfd < 0)
      continue;
    slot = g_build_filename(root, e->d_name, NULL);
    text = sc_read_file_nofollow_max(sfd, slot, "info", SC_INFO_MAX, &exists, NULL);
    close(sfd);
    j = text ? json_loads(g_bytes_get_data(text, NULL), 0, NULL) : NULL;
    if (j) {
      const char *rev = json_string_value(json_object_get(j, "revision"));
      used = rev && strcmp(rev, img->id) == 0;
      json_decref(j);
    }
    if (used && out_container)
      *out_container = g_strdup(e->d_name); /* the deployment (slot) */
  }
  closedir(dir);
  return used;
}

static json_t *
manifest_layers(ScImage *img)
{
  json_t *l = json_object_get(img->manifest, "layers");
  return json_is_array(l) ? l : NULL;
}

static guint64
layer_uncompressed_size(OstreeRepo *repo, const char *digest, gboolean *out_present)
{
  const char *hex;
  g_autofree char *ref = NULL;
  g_autofree char *rev = NULL;
  g_autoptr(GVariant) commit = NULL;
  g_autofree char *s = NULL;

  *out_present = FALSE;
  if (!sc_digest_hex(digest, &hex, NULL))
    return 0;
  ref = g_strconcat(SC_REF_PREFIX, hex, NULL);
  if (!load_commit(repo, ref, &rev, &commit, NULL))
    return 0;
  *out_present = TRUE;
  s = metadata_string(commit, "docker.uncompressed_size");
  return s ? g_ascii_strtoull(s, NULL, 10) : 0;
}

/* An image's "created" in RFC 3339, UTC, as every document gives times: a
 * config's own string when it already is UTC (its precision kept), else
 * converted; NULL when it has none or it does not parse. */
static char *
created_utc(json_t *config)
{
  const char *created = json_string_value(json_object_get(config, "created"));
  g_autoptr(GDateTime) when = NULL;
  g_autoptr(GDateTime) utc = NULL;

  if (created == NULL || g_str_has_suffix(created, "Z"))
    return g_strdup(created);
  when = g_date_time_new_from_iso8601(created, NULL);
  utc = when ? g_date_time_to_utc(when) : NULL;
  return utc ? g_date_time_format_iso8601(utc) : NULL;
}

/* REPOSITORY and TAG of a stored name (NAME[:TAG][@DIGEST]): a name
 * stored by its digest alone has no tag (podman's "<none>"); *@out_digest
 * (when asked) the digest or NULL. */
static void
split_name_digest(const char *name, char **out_repo, char **out_tag, char **out_digest)
{
  const char *at = strchr(name, '@');
  g_autofree char *repo = at ? g_strndup(name, at - name) : g_strdup(name);
  const char *slash = strrchr(repo, '/');
  char *colon = strrchr(repo, ':');

  if (out_digest)
    *out_digest = at ? g_strdup(at + 1) : NULL;
  if (colon && (!slash || colon > slash)) {
    *out_tag = g_strdup(colon + 1);
    *colon = '\0';
  } else
    *out_tag = g_strdup(at ? "<none>" : "");
  *out_repo = g_steal_pointer(&repo);
}

static void
split_name(const char *name, char **out_repo, char **out_tag)
{
  split_name_digest(name, out_repo, out_tag, NULL);
}

gboolean
sc_store_open_for_reading(sc_context *ctx, OstreeRepo **out_repo, int *out_lock, GError **error)
{
  if (!sc_store_open(ctx, FALSE, out_repo, error))
    return FALSE;
  *out_lock = sc_store_lock(ctx, *out_repo, FALSE, error);
  return *out_lock >= 0;
}

SC_API int
sc_images_list_json(sc_context *ctx, char **out_json, sc_error **error)
{
  GError *gerror = NULL;
  OstreeRepo *repo;
  int lock = -1;
  g_autoptr(GPtrArray) all = NULL;
  json_t *doc, *arr;

  SC_CHECK_ARG(ctx != NULL && out_json != NULL, error);
  doc = json_pack("{s:i, s:o}", "schema", 1, "store", sc_store_location_json(ctx));
  arr = json_array();
  json_object_set_new(doc, "images", arr);
  if (!sc_store_open_for_reading(ctx, &repo, &lock, &gerror)) {
    if (!g_error_matches(gerror, SC_ERROR, SC_ENOTFOUND)) {
      json_decref(doc);
      return sc_error_propagate(error, gerror);
    }
    g_clear_error(&gerror); /* no store: no images */
  } else {
    all = sc_images_all(repo, &gerror);
    close(lock);
    if (all == NULL) {
      json_decref(doc);
      return sc_error_propagate(error, gerror);
    }
    for (guint i = 0; i < all->len; i++) {
      ScImage *img = all->pdata[i];
      g_autofree char *name = NULL;
      g_autofree char *tag = NULL;
      g_autofree char *digest = NULL;
      guint64 size = 0;
      size_t k;
      json_t *l;
      g_autofree char *created = created_utc(img->config);
      json_array_foreach(manifest_layers(img), k, l)
      {
        gboolean present;
        size += layer_uncompressed_size(
            repo, json_string_value(json_object_get(l, "digest")), &present);
      }
      if (img->untagged) { /* its name moved on: podman's "<none>" */
        name = g_strdup("<none>");
        tag = g_strdup("<none>");
      } else
        split_name_digest(img->name, &name, &tag, &digest);
      /* "name" as every other verb has it (NAME:TAG); podman's REPOSITORY
       * and TAG apart; a name with a digest has it apart too */
      json_array_append_new(
          arr, json_pack("{s:s, s:s, s:s, s:s, s:s?, s:I, s:b}", "name",
                         img->untagged ? "<none>" : img->name, "repository", name, "tag", tag,
                         "id", img->id, "created", created, "size", (json_int_t)size, "in_use",
                         image_in_use(ctx, img, NULL)));
      if (digest)
        json_object_set_new(
          json_array_get(arr, json_array_size(arr) - 1), "digest", json_string(digest));
    }
  }
  *out_json = sc_json_dump(doc, TRUE);
  json_decref(doc);
  return SC_OK;
}

static json_t *
exports_variables(OstreeRepo *repo, ScImage *img)
{
  g_autofree char *tmp = sc_store_checkout_exports(repo, img, NULL);
  g_autofree char *exports = tmp ? g_build_filename(tmp, "exports", NULL) : NULL;
  json_t *vars;

  if (tmp == NULL)
    return json_array();
  /* an image without /exports (or whose upper layer deleted it) is
   * installed with the built-in files: their variables, as inspect --remote
   * and install --dry-run say */
  vars = sc_exports_dir_variables(exports);
  sc_rm_rf(tmp);
  return vars;
}

/* Who signed @img, as its trust record says: {"scope","identity",
 * "signed_by":[{"signer","type","format","requirement","origin"}]}
 * (no signature: an empty list), or null for an image stored without one. */
static json_t *
trust_summary(ScImage *img)
{
  json_t *rec = img->trust ? json_loads(img->trust, 0, NULL) : NULL;
  json_t *by = json_array(), *k, *out;
  size_t i;

  if (!json_is_object(rec)) {
    json_decref(rec);
    json_decref(by);
    return json_null();
  }
  json_array_foreach (json_object_get(rec, "signatures"), i, k)
    json_array_append_new(by, json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?}", "signer",
                                        json_object_get(k, "signer"), "type",
                                        json_object_get(k, "type"), "format",
                                        json_object_get(k, "format"), "requirement",
                                        json_object_get(k, "requirement"), "origin",
                                        json_object_get(k, "origin")));
  out = json_pack("{s:O?, s:O?, s:O?, s:o}", "scope", json_object_get(rec, "scope"), "identity",
                  json_object_get(rec, "identity"), "digest", json_object_get(rec, "digest"),
                  "signed_by", by);
  json_decref(rec);
  return out;
}

SC_API int
sc_image_inspect_json(sc_context *ctx, const char *image, char **out_json, sc_error **error)
{
  GError *gerror = NULL;
  OstreeRepo *repo;
  int lock = -1;
  g_autoptr(GPtrArray) imgs = NULL;
  g_autoptr(GPtrArray) all = NULL;
  ScImage *img;
  json_t *doc, *layers, *names, *l, *diff_ids, *cfg;
  size_t i;

  SC_CHECK_ARG(ctx != NULL && image != NULL && out_json != NULL, error);
  if (!sc_store_open_for_reading(ctx, &repo, &lock, &gerror))
    return sc_error_propagate(error, gerror);
  imgs = sc_images_resolve(repo, image, &gerror);
  all = imgs ? sc_images_all(repo, &gerror) : NULL;
  if (all == NULL) {
    close(lock);
    return sc_error_propagate(error, gerror);
  }
  img = imgs->pdata[0];
  names = json_array();
  for (guint k = 0; k < all->len; k++) {
    ScImage *other = all->pdata[k];
    if (!other->untagged && strcmp(other->id, img->id) == 0)
      json_array_append_new(names, json_string(other->name));
  }
  cfg = img->config; /* NULL when the config blob is missing */
  diff_ids = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
  layers = json_array();
  json_array_foreach(manifest_layers(img), i, l)
  {
    gboolean present;
    const char *digest = json_string_value(json_object_get(l, "digest"));
    guint64 usize = layer_uncompressed_size(repo, digest, &present);
    json_array_append_new(
        layers, json_pack("{s:s?, s:s?, s:O?, s:I, s:b}", "digest", digest, "diff_id",
                          json_string_value(json_array_get(diff_ids, i)), "size",
                          json_object_get(l, "size"), "uncompressed_size", (json_int_t)usize,
                          "present", present));
  }
  doc = sc_image_document(img->untagged ? "<none>" : img->name, img->id, img->config,
                          img->manifest, layers, exports_variables(repo, img));
  json_object_set_new(doc, "names", names);
  json_object_set_new(doc, "transport", img->transport ? json_string(img->transport) : json_null());
  json_object_set_new(doc, "trust", trust_summary(img));
  close(lock);
  *out_json = sc_json_dump(doc, TRUE);
  json_decref(doc);
  return SC_OK;
}

json_t *
sc_image_document(const char *name, const char *id, json_t *config, json_t *manifest,
                  json_t *layers, json_t *variables)
{
  json_t *labels = json_object_get(json_object_get(config, "config"), "Labels");
  g_autofree char *created = created_utc(config);
  json_t *doc = json_pack("{s:i, s:s, s:s, s:s?, s:s?, s:s?}", "schema", 1, "name", name, "id", id,
                          "created", created,
                          "architecture",
                          json_string_value(json_object_get(config, "architecture")), "os",
                          json_string_value(json_object_get(config, "os")));

  json_object_set_new(doc, "labels", json_is_object(labels) ? json_incref(labels) : json_object());
  json_object_set_new(doc, "layers", layers);
  json_object_set(doc, "manifest", manifest);
  json_object_set(doc, "config", config ? config : json_null());
  json_object_set_new(doc, "variables", variables);
  return doc;
}

static gboolean
open_for_writing(sc_context *ctx, OstreeRepo **out_repo, int *out_lock, GError **error)
{
  if (!sc_store_open(ctx, FALSE, out_repo, error))
    return FALSE;
  *out_lock = sc_store_lock(ctx, *out_repo, TRUE, error);
  return *out_lock >= 0;
}

SC_API int
sc_image_tag(sc_context *ctx, const char *image, const char *new_name, sc_error **error)
{
  GError *gerror = NULL;
  OstreeRepo *repo;
  int lock = -1;
  g_autofree char *normalized = NULL;
  g_autofree char *enc = NULL;
  g_autofree char *ref = NULL;
  ScImage *img = NULL;
  gboolean ok;

  SC_CHECK_ARG(ctx != NULL && image != NULL && new_name != NULL, error);
  /* a short name names no registry: localhost/, as pull --name and podman */
  normalized = sc_reference_normalize_local(new_name, &gerror);
  if (normalized == NULL)
    return sc_error_propagate(error, gerror);
  if (!open_for_writing(ctx, &repo, &lock, &gerror))
    return sc_error_propagate(error, gerror);
  img = sc_image_resolve_one(repo, image, &gerror);
  enc = sc_ref_encode(normalized);
  ref = g_strconcat(SC_REF_PREFIX, enc, NULL);
  /* the image the name held until now is kept by its ID */
  ok = img && sc_store_keep_displaced(repo, ref, img->id, FALSE, &gerror) &&
       ostree_repo_set_ref_immediate(repo, NULL, ref, img->commit, NULL, &gerror);
  close(lock);
  sc_image_free(img);
  if (!ok)
    return sc_error_propagate(error, gerror);
  return SC_OK;
}

/* Before --force removes the name of @img, which a deployment uses: when
 * no other name holds it, it is kept under its ID ref, as when its tag
 * moves (listed <none>, and kept by prune while used). First, so that no
 * moment leaves it unreferenced for a prune. */
static gboolean
keep_by_id_if_nameless(OstreeRepo *repo, ScImage *img, GError **error)
{
  g_autoptr(GPtrArray) all = sc_images_all(repo, error);
  g_autofree char *id_ref = sc_image_id_ref(img->id);

  if (all == NULL)
    return FALSE;
  for (guint i = 0; i < all->len; i++) {
    ScImage *other = all->pdata[i];
    if (strcmp(other->id, img->id) == 0 && strcmp(other->ref, img->ref) != 0)
      return TRUE; /* another name holds it */
  }
  return ostree_repo_set_ref_immediate(repo, NULL, id_ref, img->commit, NULL, error);
}

/* A name no reference is (localhost/:x, which older builds let pull --name
 * and images tag store): removing it frees no image a deployment uses (the
 * image stays under its ID), so it is never refused as "in use". */
static gboolean
name_invalid(const ScImage *img)
{
  g_auto(ScReference) ref = {0};

  return !img->untagged && !sc_reference_parse(img->name, &ref, NULL);
}

SC_API int
sc_image_delete(sc_context *ctx, const char *image, int force, sc_error **error)
{
  GError *gerror = NULL;
  OstreeRepo *repo;
  int lock = -1;
  g_autoptr(GPtrArray) imgs = NULL;

  SC_CHECK_ARG(ctx != NULL && image != NULL, error);
  if (!open_for_writing(ctx, &repo, &lock, &gerror))
    return sc_error_propagate(error, gerror);
  imgs = sc_images_resolve(repo, image, &gerror);
  if (imgs == NULL)
    goto fail;
  for (guint i = 0; i < imgs->len; i++) {
    ScImage *img = imgs->pdata[i];
    g_autofree char *container = NULL;
    if (name_invalid(img) || !image_in_use(ctx, img, &container))
      continue;
    /* --force removes a name, never the image a deployment runs: its ID
     * ref is all that is left to remove, and that is the image itself */
    if (!force || img->untagged) {
      g_set_error(&gerror,
                  SC_ERROR,
                  SC_EBUSY,
                  "image '%s' is used by container deployment '%s' (%s)",
                  img->name,
                  container,
                  img->untagged ? "uninstall the container first: --force removes names, and "
                                  "this image has none left"
                                : "delete it with --force, or uninstall the container first");
      goto fail;
    }
  }
  for (guint i = 0; i < imgs->len; i++) {
    ScImage *img = imgs->pdata[i];
    gboolean used = (force || name_invalid(img)) && image_in_use(ctx, img, NULL);
    if ((used && !keep_by_id_if_nameless(repo, img, &gerror)) ||
        !ostree_repo_set_ref_immediate(repo, NULL, img->ref, NULL, NULL, &gerror))
      goto fail;
  }
  close(lock);
  return SC_OK;
fail:
  close(lock);
  return sc_error_propagate(error, gerror);
}

/* The blob digests (hex) @img's manifest names: its layers and config. */
static void
image_blobs(ScImage *img, GHashTable *into)
{
  const char *hex;
  size_t k;
  json_t *l;

  json_array_foreach(manifest_layers(img), k, l)
  {
    if (sc_digest_hex(json_string_value(json_object_get(l, "digest")), &hex, NULL))
      g_hash_table_add(into, g_strdup(hex));
  }
  if (sc_digest_hex(
        json_string_value(json_object_get(json_object_get(img->manifest, "config"), "digest")),
        &hex, NULL))
    g_hash_table_add(into, g_strdup(hex));
}

GHashTable *
sc_store_refs_snapshot(OstreeRepo *repo, GError **error)
{
  GHashTable *refs = NULL;

  if (repo == NULL)
    return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  if (!ostree_repo_list_refs_ext(repo, NULL, &refs, OSTREE_REPO_LIST_REFS_EXT_NONE, NULL, error))
    return NULL;
  return refs;
}

gboolean
sc_store_forget_pull(sc_context *ctx, GHashTable *before, ScImage *img, GError **error)
{
  OstreeRepo *repo;
  int lock = -1;
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GHashTable) kept = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) mine = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) now = NULL;
  GHashTableIter it;
  gpointer key;
  gint n_total, n_pruned;
  guint64 freed;
  gboolean ok = FALSE;

  if (!open_for_writing(ctx, &repo, &lock, error))
    return FALSE;
  now = sc_store_refs_snapshot(repo, error);
  all = now ? sc_images_all(repo, error) : NULL;
  if (all == NULL)
    goto out;
  /* the name, when this pull made it and nothing moved it since */
  if (!g_hash_table_contains(before, img->ref) &&
      g_strcmp0(g_hash_table_lookup(now, img->ref), img->commit) == 0 &&
      !ostree_repo_set_ref_immediate(repo, NULL, img->ref, NULL, NULL, error))
    goto out;
  for (guint i = 0; i < all->len; i++) {
    ScImage *other = all->pdata[i];
    if (strcmp(other->ref, img->ref) != 0)
      image_blobs(other, kept);
  }
  /* the blobs this pull added that no other image names */
  image_blobs(img, mine);
  g_hash_table_iter_init(&it, mine);
  while (g_hash_table_iter_next(&it, &key, NULL)) {
    g_autofree char *ref = g_strconcat(SC_REF_PREFIX, (const char *)key, NULL);
    if (g_hash_table_contains(before, ref) || g_hash_table_contains(kept, key) ||
        !g_hash_table_contains(now, ref))
      continue;
    if (!ostree_repo_set_ref_immediate(repo, NULL, ref, NULL, NULL, error))
      goto out;
  }
  ok = ostree_repo_prune(repo, OSTREE_REPO_PRUNE_FLAGS_REFS_ONLY, 0, &n_total, &n_pruned, &freed,
                         NULL, error);
out:
  close(lock);
  return ok;
}

SC_API int
sc_images_prune(sc_context *ctx, char **out_json, sc_error **error)
{
  GError *gerror = NULL;
  OstreeRepo *repo;
  int lock = -1;
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GHashTable) keep = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) refs = NULL;
  GHashTableIter it;
  gpointer key;
  guint removed = 0, n_images = 0;
  gint n_total = 0, n_pruned = 0;
  guint64 freed = 0;

  SC_CHECK_ARG(ctx != NULL, error);
  if (!open_for_writing(ctx, &repo, &lock, &gerror))
    return sc_error_propagate(error, gerror);
  all = sc_images_all(repo, &gerror);
  if (all == NULL)
    goto fail;
  /* an image kept only by its ID goes once no deployment uses it (podman's
   * prune of dangling images); one that a deployment uses stays */
  for (guint i = all->len; i-- > 0;) {
    ScImage *img = all->pdata[i];
    if (!img->untagged || image_in_use(ctx, img, NULL))
      continue;
    if (!ostree_repo_set_ref_immediate(repo, NULL, img->ref, NULL, NULL, &gerror))
      goto fail;
    n_images++;
    g_ptr_array_remove_index(all, i);
  }
  if (!ostree_repo_list_refs_ext(repo, NULL, &refs, OSTREE_REPO_LIST_REFS_EXT_NONE, NULL,
                                 &gerror))
    goto fail;
  /* Every layer and the config blob of every named image stays (atomic's
   * prune lost the config, and with it the labels: quirk 11). */
  for (guint i = 0; i < all->len; i++) {
    ScImage *img = all->pdata[i];
    const char *hex;
    size_t k;
    json_t *l;
    json_array_foreach(manifest_layers(img), k, l) if (sc_digest_hex(
        json_string_value(json_object_get(l, "digest")), &hex, NULL))
        g_hash_table_add(keep, g_strdup(hex));
    if (sc_digest_hex(json_string_value(
                          json_object_get(json_object_get(img->manifest, "config"), "digest")),
                      &hex, NULL))
      g_hash_table_add(keep, g_strdup(hex));
  }
  g_hash_table_iter_init(&it, refs);
  while (g_hash_table_iter_next(&it, &key, NULL)) {
    const char *ref = key;
    if (!g_str_has_prefix(ref, SC_REF_PREFIX) || !sc_ref_is_blob(ref) ||
        g_hash_table_contains(keep, ref + strlen(SC_REF_PREFIX)))
      continue;
    if (!ostree_repo_set_ref_immediate(repo, NULL, ref, NULL, NULL, &gerror))
      goto fail;
    removed++;
  }
  if (!ostree_repo_prune(repo, OSTREE_REPO_PRUNE_FLAGS_REFS_ONLY, 0, &n_total, &n_pruned, &freed,
                         NULL, &gerror))
    goto fail;
  close(lock);
  if (out_json) {
    json_t *doc = json_pack("{s:i, s:i, s:i, s:i, s:I}", "schema", 1, "images_removed",
                            n_images, "refs_removed", removed, "objects_removed", n_pruned,
                            "bytes_freed", (json_int_t)freed);
    *out_json = sc_json_dump(doc, TRUE);
    json_decref(doc);
  }
  return SC_OK;
fail:
  close(lock);
  return sc_error_propagate(error, gerror);
}

/* Re-hashes every object reachable from @rev. */
static char *
verify_commit(OstreeRepo *repo, const char *rev)
{
  g_autoptr(GHashTable) reachable = NULL;
  g_autoptr(GError) local = NULL;
  GHashTableIter it;
  gpointer key;

  if (!ostree_repo_traverse_commit(repo, rev, 0, &reachable, NULL, &local))
    return g_strdup(local->message);
  g_hash_table_iter_init(&it, reachable);
  while (g_hash_table_iter_next(&it, &key, NULL)) {
    const char *checksum;
    OstreeObjectType type;
    ostree_object_name_deserialize(key, &checksum, &type);
    if (!ostree_repo_fsck_object(repo, type, checksum, NULL, &local))
      return g_strdup_printf("%s object %s: %s", ostree_object_type_to_string(type), checksum,
                             local->message);
  }
  return NULL;
}

/* The kept signatures of @img re-checked offline against the current
 * policy: {"ok","status":"verified"|"unsigned"|"refused"|"unknown",
 * "message"}. A policy that no longer accepts them clears *@all_ok. */
static json_t *
verify_trust(sc_context *ctx, ScImage *img, gboolean *all_ok)
{
  json_t *rec = img->trust ? json_loads(img->trust, 0, NULL) : NULL;
  g_autofree char *signers = NULL;
  g_autofree char *message = NULL;
  g_autoptr(GError) local = NULL;
  const char *status;
  gboolean ok;

  if (rec == NULL) {
    /* pulled before signatures were kept: nothing to re-check */
    return json_pack("{s:b, s:s, s:s}", "ok", TRUE, "status", "unknown", "message",
                     "no trust record (pulled by an older version)");
  }
  ok = sc_trust_reverify(ctx, rec, img->id, &signers, &local);
  json_decref(rec);
  if (!ok) {
    status = "refused";
    message = g_strdup_printf("signature no longer accepted: %s", local->message);
    *all_ok = FALSE;
  } else if (g_str_has_prefix(signers, "unsigned (")) {
    status = "unsigned";
    message = g_steal_pointer(&signers);
  } else {
    status = "verified";
    message = g_strdup_printf("signed by %s", signers);
  }
  return json_pack("{s:b, s:s, s:s}", "ok", ok, "status", status, "message", message);
}

SC_API int
sc_image_verify(sc_context *ctx, const char *image, char **out_json, int *out_ok,
                sc_error **error)
{
  GError *gerror = NULL;
  OstreeRepo *repo;
  int lock = -1;
  ScImage *img;
  json_t *doc, *layers, *l, *diff_ids, *trust;
  size_t i;
  gboolean all_ok = TRUE;

  SC_CHECK_ARG(ctx != NULL && image != NULL && out_json != NULL, error);
  if (!sc_store_open_for_reading(ctx, &repo, &lock, &gerror))
    return sc_error_propagate(error, gerror);
  img = sc_image_resolve_one(repo, image, &gerror);
  if (img == NULL) {
    close(lock);
    return sc_error_propagate(error, gerror);
  }
  diff_ids = json_object_get(json_object_get(img->config, "rootfs"), "diff_ids");
  layers = json_array();
  json_array_foreach(manifest_layers(img), i, l)
  {
    const char *digest = json_string_value(json_object_get(l, "digest"));
    const char *diff_id = json_string_value(json_array_get(diff_ids, i));
    const char *hex;
    g_autofree char *ref = NULL;
    g_autofree char *rev = NULL;
    g_autofree char *problem = NULL;
    g_autoptr(GVariant) commit = NULL;
    json_t *item = json_pack("{s:s?}", "digest", digest);

    if (!sc_digest_hex(digest, &hex, NULL))
      problem = g_strdup("not a sha256 digest");
    else {
      ref = g_strconcat(SC_REF_PREFIX, hex, NULL);
      if (!load_commit(repo, ref, &rev, &commit, NULL))
        problem = g_strdup("the layer is missing from the store: pull the image again");
      else {
        g_autofree char *stored = metadata_string(commit, "docker.uncompressed_digest");
        if (diff_id && stored && strcmp(stored, diff_id) != 0)
          problem = g_strdup_printf("imported as %s but the config's diff_id is %s", stored,
                                    diff_id);
        else
          problem = verify_commit(repo, rev);
      }
    }
    json_object_set_new(item, "ok", json_boolean(problem == NULL));
    if (problem) {
      json_object_set_new(item, "problem", json_string(problem));
      all_ok = FALSE;
    }
    json_array_append_new(layers, item);
  }
  if (img->config == NULL)
    all_ok = FALSE;
  trust = verify_trust(ctx, img, &all_ok);
  doc = json_pack("{s:i, s:s, s:s, s:b, s:b, s:o, s:o}", "schema", 1, "name",
                  img->untagged ? "<none>" : img->name, "id", img->id,
                  "ok", all_ok, "config_ok", img->config != NULL, "layers", layers,
                  "trust", trust);
  close(lock);
  sc_image_free(img);
  *out_json = sc_json_dump(doc, TRUE);
  json_decref(doc);
  if (out_ok)
    *out_ok = all_ok;
  return SC_OK;
}

