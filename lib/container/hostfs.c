/*
 * Files an image exports to the host (everything under /exports/hostfs): planned first
 * (renameFiles applied per path component, installedFilesTemplate
 * rendered, every collision found), then written, each through a
 * temporary name; tracked by checksum so that uninstall removes exactly
 * what was installed and unmodified, and the directories it created.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "container.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The whole plan is held in memory before anything is written: its
 * contents are bounded (each file is at most 4 MiB already). */
#define SC_MAX_HOSTFS_BYTES (256 * 1024 * 1024)
#define SC_MAX_HOSTFS_FILES 10000

typedef enum { ITEM_DIR, ITEM_FILE, ITEM_LINK } ItemType;

typedef struct {
  ItemType type;
  char *dest;     /* host path, as seen from the sysroot */
  GBytes *data;   /* file content, or link target */
  mode_t mode;
  gboolean write;   /* FALSE: already there and identical */
  gboolean existed; /* there when planned (the replaced deployment's own) */
} Item;

static void
item_free(Item *it)
{
  g_free(it->dest);
  if (it->data)
    g_bytes_unref(it->data);
  g_free(it);
}

gboolean
sc_hostfs_item_writes(gpointer item)
{
  return ((Item *)item)->write;
}

/* Host files live under the sysroot, which the tool does not own: each is
 * reached through its parent directory, resolved inside the sysroot
 * (docs/security.md), and then touched by name, never followed. */
static int
host_parent(sc_context *ctx, const char *dest, gboolean create, char **out_base, GError **error)
{
  int root = open(sc_context_get_sysroot(ctx), O_PATH | O_DIRECTORY | O_CLOEXEC);
  int fd;

  if (root < 0) {
    g_set_error(error, SC_ERROR, SC_EIO, "sysroot %s: %s", sc_context_get_sysroot(ctx),
                g_strerror(errno));
    return -1;
  }
  fd = sc_confined_open_parent(root, dest, TRUE, create, out_base, error);
  close(root);
  return fd;
}

/* lstat() of the host path @dest; FALSE when it is not there. */
static gboolean
host_lstat(sc_context *ctx, const char *dest, struct stat *st)
{
  g_autofree char *base = NULL;
  int dfd = host_parent(ctx, dest, FALSE, &base, NULL);
  gboolean found;

  if (dfd < 0)
    return FALSE;
  found = fstatat(dfd, base, st, AT_SYMLINK_NOFOLLOW) == 0;
  close(dfd);
  return found;
}

static gboolean
host_is_dir(sc_context *ctx, const char *dest)
{
  int root = open(sc_context_get_sysroot(ctx), O_PATH | O_DIRECTORY | O_CLOEXEC);
  int fd = root < 0 ? -1 : sc_confined_open(root, dest, O_PATH | O_DIRECTORY, 0, TRUE, NULL);

  if (root >= 0)
    close(root);
  if (fd < 0)
    return FALSE;
  close(fd);
  return TRUE;
}

static char *
checksum_at(int dfd, const char *name)
{
  struct stat st;
  ScSha256 *h;
  guchar buf[64 * 1024];
  ssize_t n;
  int fd;

  if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISDIR(st.st_mode))
    return g_strdup("0");
  if (S_ISLNK(st.st_mode)) {
    g_autofree char *target = sc_confined_readlink(dfd, name);
    return target ? sc_sha256_hex(target, strlen(target)) : g_strdup("0");
  }
  /* a fifo or a device is nothing an image installs: never opened */
  if (!S_ISREG(st.st_mode) ||
      (fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0)
    return g_strdup("0");
  h = sc_sha256_new();
  while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
    if (n > 0)
      sc_sha256_update(h, buf, n);
  close(fd);
  if (n < 0) {
    sc_sha256_free(h);
    return g_strdup("0");
  }
  return sc_sha256_finish(h);
}

/* The checksum of host file @dest as tracking records it: of the content,
 * of a link's target, "0" for a directory or nothing. */
char *
sc_hostfs_checksum(sc_context *ctx, const char *dest)
{
  g_autofree char *base = NULL;
  int dfd = host_parent(ctx, dest, FALSE, &base, NULL);
  char *sum;

  if (dfd < 0)
    return g_strdup("0");
  sum = checksum_at(dfd, base);
  close(dfd);
  return sum;
}

/* @path in its one spelling: "/" and names, no empty or "." component
 * (so that "/etc/./x" and "//etc/x" are "/etc/x" wherever paths are
 * compared); NULL when it is not absolute or has a ".." component. */
static char *
normalize_path(const char *path)
{
  g_auto(GStrv) parts = NULL;
  GString *out;

  if (path[0] != '/')
    return NULL;
  parts = g_strsplit(path, "/", -1);
  out = g_string_new("");
  for (char **p = parts; *p; p++) {
    if (**p == '\0' || strcmp(*p, ".") == 0)
      continue;
    if (strcmp(*p, "..") == 0) {
      g_string_free(out, TRUE);
      return NULL;
    }
    g_string_append_printf(out, "/%s", *p);
  }
  if (out->len == 0)
    g_string_append_c(out, '/');
  return g_string_free(out, FALSE);
}

/* renameFiles: each prefix /a, /a/b, ... of @path is looked up and the
 * renamed prefix carries on (so a renamed directory takes its files). */
static char *
rename_path(const sc_exports *ex, const sc_values *values, const char *path, GError **error)
{
  g_auto(GStrv) parts = g_strsplit(path + 1, "/", -1);
  g_autofree char *cur = g_strdup("");

  for (char **p = parts; *p; p++) {
    char *next = g_strconcat(cur, "/", *p, NULL);
    g_free(cur);
    cur = next;
    for (guint i = 0; i + 1 < ex->rename_files->len; i += 2) {
      if (strcmp(ex->rename_files->pdata[i], cur) == 0) {
        const char *tmpl = ex->rename_files->pdata[i + 1];
        char *renamed = sc_template_substitute("manifest.json", tmpl, strlen(tmpl), values, NULL,
                                               error);
        if (renamed == NULL)
          return NULL;
        g_free(cur);
        cur = renamed;
        break;
      }
    }
  }
  {
    char *normal = normalize_path(cur);
    if (normal == NULL || strcmp(normal, "/") == 0) {
      /* "/" itself is refused too, not planned as a directory */
      g_set_error(error, SC_ERROR, SC_EMANIFEST,
                  "manifest.json: renameFiles turns %s into '%s', which is not an absolute path "
                  "without '..'",
                  path, cur);
      g_free(normal);
      return NULL;
    }
    return normal;
  }
}

/* What planning needs all the way down. */
typedef struct {
  sc_context *ctx;
  const sc_exports *ex;
  const sc_values *values;
  GHashTable *owned;
  GPtrArray *plan;
  guint64 bytes, max_bytes; /* file contents held in the plan */
  guint64 max_files;
} Planner;

static gboolean plan_dir(Planner *pl, int dirfd, const char *rel, GError **error);

static gboolean
array_has(GPtrArray *a, const char *s)
{
  for (guint i = 0; i < a->len; i++)
    if (strcmp(a->pdata[i], s) == 0)
      return TRUE;
  return FALSE;
}

static gboolean
plan_entry(Planner *pl, int dirfd, const char *name, const char *rel, GError **error)
{
  sc_context *ctx = pl->ctx;
  const sc_exports *ex = pl->ex;
  GHashTable *owned = pl->owned;
  struct stat st, host_st;
  g_autofree char *dest = NULL;
  Item *it;

  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    g_set_error(error, SC_ERROR, SC_EIO, "hostfs%s: %s", rel, g_strerror(errno));
    return FALSE;
  }
  dest = rename_path(ex, pl->values, rel, error);
  if (dest == NULL)
    return FALSE;
  if (pl->plan->len >= pl->max_files) {
    g_set_error(error, SC_ERROR, SC_EUNSUPPORTED,
                "hostfs%s: the image exports more than %" G_GUINT64_FORMAT
                " host files and directories, the limit (SC_MAX_HOSTFS_FILES)",
                rel, pl->max_files);
    return FALSE;
  }
  it = g_new0(Item, 1);
  it->dest = g_strdup(dest);
  it->mode = st.st_mode & 07777;
  it->write = TRUE;
  g_ptr_array_add(pl->plan, it);

  if (S_ISDIR(st.st_mode)) {
    int sub;
    gboolean ok;
    it->type = ITEM_DIR;
    if (host_lstat(ctx, dest, &host_st)) {
      /* a link to a directory of the sysroot (/var/run -> /run) is that
       * directory: what goes below it is resolved inside the sysroot too */
      if (!S_ISDIR(host_st.st_mode) && !(S_ISLNK(host_st.st_mode) && host_is_dir(ctx, dest))) {
        g_set_error(error, SC_ERROR, SC_EEXISTS,
                    "host path %s exists and is not a directory; the image installs a directory "
                    "there",
                    dest);
        return FALSE;
      }
      /* exists: not ours, not tracked, unless the replaced deployment made it */
      it->write = owned != NULL && g_hash_table_contains(owned, dest);
      it->existed = TRUE;
    }
    sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0) {
      g_set_error(error, SC_ERROR, SC_EIO, "hostfs%s: %s", rel, g_strerror(errno));
      return FALSE;
    }
    ok = plan_dir(pl, sub, rel, error);
    close(sub);
    return ok;
  }
  if (S_ISLNK(st.st_mode)) {
    char *target = sc_confined_readlink(dirfd, name);
    if (target == NULL) {
      g_set_error(error, SC_ERROR, SC_EIO, "hostfs%s: %s", rel, g_strerror(errno));
      return FALSE;
    }
    it->type = ITEM_LINK;
    it->data = g_bytes_new_take(target, strlen(target));
  } else if (S_ISREG(st.st_mode)) {
    gboolean exists;
    g_autofree char *parent = g_path_get_dirname(rel);
    GBytes *raw = sc_read_file_nofollow(dirfd, parent, name, &exists, error);
    if (raw == NULL)
      return FALSE;
    it->type = ITEM_FILE;
    if (array_has(ex->installed_files_template, dest)) {
      gsize len;
      char *text = sc_template_substitute_max(dest, g_bytes_get_data(raw, NULL),
                                              g_bytes_get_size(raw), pl->values,
                                              sc_context_render_limit(ctx), &len, error);
      g_bytes_unref(raw);
      if (text == NULL)
        return FALSE;
      it->data = g_bytes_new_take(text, len);
    } else
      it->data = raw;
  } else {
    g_set_error(error, SC_ERROR, SC_EUNSUPPORTED,
                "hostfs%s: only files, directories and symbolic links can be exported", rel);
    return FALSE;
  }
  pl->bytes += g_bytes_get_size(it->data);
  if (pl->bytes > pl->max_bytes) {
    g_set_error(error, SC_ERROR, SC_EUNSUPPORTED,
                "hostfs%s: the image exports more than %" G_GUINT64_FORMAT
                " bytes of host files, the limit (SC_MAX_HOSTFS_BYTES)",
                rel, pl->max_bytes);
    return FALSE;
  }
  /* A host path that exists is left alone only when it is exactly what we
   * would write; anything else is a collision, not a silent skip. */
  if (host_lstat(ctx, dest, &host_st)) {
    g_autofree char *have = sc_hostfs_checksum(ctx, dest);
    it->existed = TRUE;
    const char *was = owned ? g_hash_table_lookup(owned, dest) : NULL;
    /* our own file from the deployment being replaced, unmodified */
    if (was && strcmp(was, have) == 0)
      return TRUE;
    /* ours, modified by the admin since: neither replaced nor removed, and
     * no longer tracked (atomic's update); the caller reports it kept */
    if (was) {
      it->write = FALSE;
      return TRUE;
    }
    g_autofree char *want = sc_sha256_hex(g_bytes_get_data(it->data, NULL),
                                          g_bytes_get_size(it->data));
    gboolean same_type = it->type == ITEM_LINK ? S_ISLNK(host_st.st_mode) : S_ISREG(host_st.st_mode);
    if (!same_type || strcmp(have, want) != 0) {
      g_set_error(error, SC_ERROR, SC_EEXISTS,
                  "host file %s exists and was not installed by this container; the image "
                  "exports a different one (hostfs%s)",
                  dest, rel);
      return FALSE;
    }
    it->write = FALSE;
  }
  return TRUE;
}

static gboolean
plan_dir(Planner *pl, int dirfd, const char *rel, GError **error)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  DIR *d;
  struct dirent *e;
  int fd = dup(dirfd);

  d = fd >= 0 ? fdopendir(fd) : NULL;
  if (d == NULL) {
    g_set_error(error, SC_ERROR, SC_EIO, "hostfs%s: %s", rel, g_strerror(errno));
    return FALSE;
  }
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
      g_ptr_array_add(names, g_strdup(e->d_name));
  closedir(d);
  g_ptr_array_sort(names, sc_strcmp_indirect);
  for (guint i = 0; i < names->len; i++) {
    g_autofree char *sub = g_strconcat(strcmp(rel, "/") == 0 ? "" : rel, "/",
                                       (char *)names->pdata[i], NULL);
    if (!plan_entry(pl, dirfd, names->pdata[i], sub, error))
      return FALSE;
  }
  return TRUE;
}

/* Every planned path is reached through directories: not through a link or
 * a file the same plan installs (renameFiles can put one path below
 * another), so that what is written is where it was checked, and no two
 * files share a path. */
static gboolean
plan_is_flat(GPtrArray *plan, GError **error)
{
  g_autoptr(GHashTable) kinds = g_hash_table_new(g_str_hash, g_str_equal);

  for (guint i = 0; i < plan->len; i++) {
    Item *it = plan->pdata[i];
    Item *other = g_hash_table_lookup(kinds, it->dest);
    if (other != NULL && (other->type != ITEM_DIR || it->type != ITEM_DIR)) {
      g_set_error(error, SC_ERROR, SC_EMANIFEST,
                  "manifest.json: renameFiles installs two files at %s", it->dest);
      return FALSE;
    }
    g_hash_table_insert(kinds, it->dest, it);
  }
  for (guint i = 0; i < plan->len; i++) {
    Item *it = plan->pdata[i];
    g_autofree char *up = g_strdup(it->dest);
    char *slash;
    while ((slash = strrchr(up, '/')) != NULL && slash != up) {
      Item *parent;
      *slash = '\0';
      parent = g_hash_table_lookup(kinds, up);
      if (parent != NULL && parent->type != ITEM_DIR) {
        g_set_error(error, SC_ERROR, SC_EMANIFEST,
                    "hostfs: %s would be installed below %s, which the image installs as a %s",
                    it->dest, up, parent->type == ITEM_LINK ? "symbolic link" : "file");
        return FALSE;
      }
    }
  }
  return TRUE;
}

/* @path is @root or below it (both normalized, or both real paths). */
static gboolean
path_within(const char *path, const char *root)
{
  gsize len = strlen(root);

  if (len == 1 && root[0] == '/')
    return TRUE;
  return strncmp(path, root, len) == 0 && (path[len] == '/' || path[len] == '\0');
}

/* The tool's own places: what the image's host files may not touch. */
static gboolean
plan_respects_the_tool(Planner *pl, GError **error)
{
  sc_context *ctx = pl->ctx;
  const char *repo = sc_context_get_repo(ctx) ? sc_context_get_repo(ctx) : "/ostree/repo";
  g_autofree char *root = normalize_path(sc_context_get_checkout_root(ctx));
  g_autofree char *repo_n = normalize_path(repo);
  g_autofree char *root_real = sc_context_host_dir(ctx, sc_context_get_checkout_root(ctx));
  g_autofree char *repo_real = sc_context_repo_path(ctx);
  const char *written[] = {"/etc/systemd/system", "/etc/tmpfiles.d", root, repo_n};

  for (guint i = 0; i < pl->plan->len; i++) {
    Item *it = pl->plan->pdata[i];
    g_autofree char *real = sc_context_host_path(ctx, it->dest);
    if ((root && path_within(it->dest, root)) || (repo_n && path_within(it->dest, repo_n)) ||
        path_within(real, root_real) || (repo_real && path_within(real, repo_real))) {
      g_set_error(error, SC_ERROR, SC_EUNSUPPORTED,
                  "hostfs: %s is in the containers' checkout root or the image store, where "
                  "only the tool writes",
                  it->dest);
      return FALSE;
    }
    for (guint w = 0; w < G_N_ELEMENTS(written); w++)
      if (it->type != ITEM_DIR && written[w] && path_within(written[w], it->dest)) {
        g_set_error(error, SC_ERROR, SC_EUNSUPPORTED,
                    "hostfs: %s is on the way to %s, where the tool writes: the image may "
                    "install a directory there, not a %s",
                    it->dest, written[w], it->type == ITEM_LINK ? "symbolic link" : "file");
        return FALSE;
      }
  }
  return TRUE;
}

/* Every directory on the way to a planned path that the host lacks is
 * planned too, before it: made, tracked and removed like the image's own. */
static void
plan_parents(Planner *pl)
{
  g_autoptr(GHashTable) planned = g_hash_table_new(g_str_hash, g_str_equal);
  GPtrArray *full = g_ptr_array_new_with_free_func((GDestroyNotify)item_free);

  for (guint i = 0; i < pl->plan->len; i++)
    g_hash_table_add(planned, ((Item *)pl->plan->pdata[i])->dest);
  for (guint i = 0; i < pl->plan->len; i++) {
    Item *it = pl->plan->pdata[i];
    const char *slash = it->dest;
    while ((slash = strchr(slash + 1, '/')) != NULL) {
      g_autofree char *up = g_strndup(it->dest, slash - it->dest);
      struct stat st;
      Item *dir;
      if (g_hash_table_contains(planned, up) || host_lstat(pl->ctx, up, &st))
        continue;
      dir = g_new0(Item, 1);
      dir->type = ITEM_DIR;
      dir->dest = g_steal_pointer(&up);
      dir->mode = 0755;
      dir->write = TRUE;
      g_hash_table_add(planned, dir->dest);
      g_ptr_array_add(full, dir);
    }
    g_ptr_array_add(full, pl->plan->pdata[i]);
  }
  g_ptr_array_set_free_func(pl->plan, NULL);
  g_ptr_array_set_size(pl->plan, 0);
  for (guint i = 0; i < full->len; i++)
    g_ptr_array_add(pl->plan, full->pdata[i]);
  g_ptr_array_set_free_func(pl->plan, (GDestroyNotify)item_free);
  g_ptr_array_set_free_func(full, NULL);
  g_ptr_array_unref(full);
}

GPtrArray *
sc_hostfs_plan(sc_context *ctx, const sc_exports *ex, const sc_values *values, GHashTable *owned,
               GError **error)
{
  g_autofree char *hostfs = g_build_filename(ex->path, "hostfs", NULL);
  GPtrArray *plan = g_ptr_array_new_with_free_func((GDestroyNotify)item_free);
  int fd;
  gboolean ok;

  if (!ex->has_hostfs)
    return plan;
  /* a user's container puts nothing on the host (atomic's
   * --system-package=absent): its host files are the system's to install */
  if (sc_context_is_user(ctx)) {
    sc_context_log(ctx,
                   SC_LOG_WARNING,
                   "%s: host files not installed: a user's container installs none",
                   hostfs);
    return plan;
  }
  fd = open(hostfs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    g_set_error(error, SC_ERROR, SC_EIO, "%s: %s", hostfs, g_strerror(errno));
    g_ptr_array_unref(plan);
    return NULL;
  }
  {
    Planner pl = {ctx, ex, values, owned, plan, 0, SC_MAX_HOSTFS_BYTES, SC_MAX_HOSTFS_FILES};
    const char *env = g_getenv("SC_MAX_HOSTFS_BYTES");
    if (env && g_ascii_strtoull(env, NULL, 10) > 0)
      pl.max_bytes = g_ascii_strtoull(env, NULL, 10);
    if ((env = g_getenv("SC_MAX_HOSTFS_FILES")) && g_ascii_strtoull(env, NULL, 10) > 0)
      pl.max_files = g_ascii_strtoull(env, NULL, 10);
    ok = plan_dir(&pl, fd, "/", error) && plan_is_flat(plan, error) &&
         plan_respects_the_tool(&pl, error);
    if (ok)
      plan_parents(&pl);
  }
  close(fd);
  if (!ok) {
    g_ptr_array_unref(plan);
    return NULL;
  }
  return plan;
}

static mode_t
item_type(const Item *it)
{
  return it->type == ITEM_DIR ? S_IFDIR : it->type == ITEM_FILE ? S_IFREG : S_IFLNK;
}

/* The label of a host file: the policy's for its destination (atomic's
 * selabel_lookup_raw(dest) + setfscreatecon); NULL without a policy. */
static gboolean
item_label(sc_context *ctx, const Item *it, char **out_label, GError **error)
{
  return sc_context_label_for(ctx, it->dest, item_type(it), out_label, error);
}

gboolean
sc_hostfs_plan_labels(sc_context *ctx, GPtrArray *plan, json_t *labels, GError **error)
{
  for (guint i = 0; i < plan->len; i++) {
    Item *it = plan->pdata[i];
    g_autofree char *label = NULL;
    if (!it->write)
      continue;
    if (!item_label(ctx, it, &label, error))
      return FALSE;
    if (label)
      json_object_set_new(labels, it->dest, json_string(label));
  }
  return TRUE;
}

/* Writes the plan; returns the tracking table (dest -> checksum, "0" for
 * directories it created). On failure what was written is removed. */
GHashTable *
sc_hostfs_apply(sc_context *ctx, GPtrArray *plan, GError **error)
{
  GHashTable *done = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

  for (guint i = 0; i < plan->len; i++) {
    Item *it = plan->pdata[i];
    g_autofree char *base = NULL;
    g_autofree char *label = NULL;
    int dfd;
    gboolean ok = TRUE;

    if (!it->write)
      continue;
    dfd = host_parent(ctx, it->dest, TRUE, &base, error);
    if (dfd < 0)
      goto fail;
    if (it->type != ITEM_DIR && !it->existed && faccessat(dfd, base, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
      /* planned over nothing, and something is there now: reached through
       * a link made since (by this plan or anyone), never replaced */
      g_set_error(error, SC_ERROR, SC_EEXISTS,
                  "host file %s exists and was not there when the install was planned; "
                  "refusing to replace it",
                  it->dest);
      close(dfd);
      goto fail;
    }
    if (!item_label(ctx, it, &label, error)) {
      close(dfd);
      goto fail;
    }
    if (it->type == ITEM_DIR) {
      /* a directory that was there keeps its label; one made here gets it */
      if (mkdirat(dfd, base, it->mode) == 0)
        ok = sc_selinux_set_at(dfd, base, label, it->dest, error);
      else if (errno != EEXIST) {
        g_set_error(error, SC_ERROR, SC_EIO, "cannot create %s: %s", it->dest, g_strerror(errno));
        ok = FALSE;
      }
    } else if (it->type == ITEM_FILE) {
      g_autofree char *dir = g_path_get_dirname(it->dest);
      ok = sc_write_file_atomic_labelled(dfd, dir, base, g_bytes_get_data(it->data, NULL),
                                         g_bytes_get_size(it->data), it->mode, label, error);
    }
    else {
      g_autofree char *tmp = g_strdup_printf(".%s.%08x.tmp", base, g_random_int());
      g_autofree char *target = g_strndup(g_bytes_get_data(it->data, NULL),
                                          g_bytes_get_size(it->data));
      if (symlinkat(target, dfd, tmp) != 0) {
        g_set_error(error, SC_ERROR, SC_EIO, "cannot create the link %s: %s", it->dest,
                    g_strerror(errno));
        ok = FALSE;
      } else if (!sc_selinux_set_at(dfd, tmp, label, it->dest, error) ||
                 renameat(dfd, tmp, dfd, base) != 0) {
        if (error && *error == NULL)
          g_set_error(error, SC_ERROR, SC_EIO, "cannot create the link %s: %s", it->dest,
                      g_strerror(errno));
        unlinkat(dfd, tmp, 0);
        ok = FALSE;
      }
    }
    if (ok)
      g_hash_table_replace(done, g_strdup(it->dest),
                           it->type == ITEM_DIR ? g_strdup("0") : checksum_at(dfd, base));
    close(dfd);
    if (!ok)
      goto fail;
  }
  return done;
fail:
  sc_hostfs_remove(ctx, done, NULL);
  g_hash_table_unref(done);
  return NULL;
}

GHashTable *
sc_hostfs_plan_tracking(GPtrArray *plan, gboolean written_only)
{
  GHashTable *t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

  for (guint i = 0; i < plan->len; i++) {
    Item *it = plan->pdata[i];
    gsize len;
    const char *data;
    if (written_only && !it->write)
      continue;
    if (it->type == ITEM_DIR) {
      g_hash_table_replace(t, g_strdup(it->dest), g_strdup("0"));
      continue;
    }
    data = g_bytes_get_data(it->data, &len);
    g_hash_table_replace(t, g_strdup(it->dest), sc_sha256_hex(data, len));
  }
  return t;
}

static gint
longest_first(gconstpointer a, gconstpointer b)
{
  return strcmp(*(char *const *)b, *(char *const *)a);
}

/* Removes tracked files whose checksum still matches (a modified file is
 * kept and reported in @out_kept), then the directories we created, if
 * empty. */
void
sc_hostfs_remove(sc_context *ctx, GHashTable *tracked, GPtrArray *out_kept)
{
  g_autoptr(GPtrArray) paths = g_ptr_array_new();
  GHashTableIter it;
  gpointer key, value;

  g_hash_table_iter_init(&it, tracked);
  while (g_hash_table_iter_next(&it, &key, &value))
    g_ptr_array_add(paths, key);
  g_ptr_array_sort(paths, longest_first); /* children before their directories */
  for (guint i = 0; i < paths->len; i++) {
    const char *dest = paths->pdata[i];
    const char *want = g_hash_table_lookup(tracked, dest);
    g_autofree char *base = NULL;
    int dfd = host_parent(ctx, dest, FALSE, &base, NULL);
    struct stat st;
    if (dfd < 0)
      continue;
    if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      if (S_ISDIR(st.st_mode)) {
        if (strcmp(want, "0") == 0)
          unlinkat(dfd, base, AT_REMOVEDIR); /* only when empty */
      } else {
        g_autofree char *have = checksum_at(dfd, base);
        if (strcmp(have, want) == 0)
          unlinkat(dfd, base, 0);
        else if (out_kept)
          g_ptr_array_add(out_kept, g_strdup(dest));
      }
    }
    close(dfd);
  }
}
