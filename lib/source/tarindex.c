/*
 * The index of a tar archive read in place (oci-archive:, docker-archive:):
 * one pass over the headers notes where each member's data is, and the
 * sources then read members by offset. Nothing is extracted: a member is a
 * name in a table, never a path on the file system.
 *
 * The archive is hostile input, so every header is checked before it is
 * believed (docs/security.md, "Local sources"):
 *
 *  - the header checksum must match (a damaged or non-tar file stops here);
 *  - sizes are parsed strictly (octal or GNU base-256, a pax "size"
 *    record), refused when negative, malformed or beyond 2^63, and every
 *    member's data must end within the archive's real size, so the walk
 *    always moves forward and ends;
 *  - extended headers (pax, GNU long names) are at most
 *    SC_TAR_MAX_EXTENDED bytes and must be well formed;
 *  - names are normalized ("./a//b" is "a/b"); a '..' component, a NUL in
 *    a name, a name given twice (but for directories), and data on a
 *    member type that has none (a link, a directory, a device) are refused:
 *    each would let two readers see two different archives.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "source.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SC_TAR_BLOCK 512
/* A pax or GNU long-name header is a few hundred bytes in practice. */
#define SC_TAR_MAX_EXTENDED (1024 * 1024)
/* The kernel's MAXSYMLINKS, for links inside an archive. */
#define SC_TAR_MAX_LINKS 40

static void
member_free(ScTarMember *m)
{
  g_free(m->link);
  g_free(m);
}

void
sc_tar_index_free(ScTarIndex *index)
{
  if (index == NULL)
    return;
  g_free(index->archive);
  if (index->members)
    g_hash_table_unref(index->members);
  g_free(index);
}

/* "./a//b/" -> "a/b"; "" for the archive's root; NULL for a name with a
 * '..' component. */
static char *
normalize(const char *name)
{
  g_auto(GStrv) parts = g_strsplit(name, "/", -1);
  g_autoptr(GString) out = g_string_new(NULL);

  for (char **p = parts; *p; p++) {
    if (**p == '\0' || strcmp(*p, ".") == 0)
      continue;
    if (strcmp(*p, "..") == 0)
      return NULL;
    if (out->len)
      g_string_append_c(out, '/');
    g_string_append(out, *p);
  }
  return g_string_free(g_steal_pointer(&out), FALSE);
}

/* A numeric header field: octal digits (with leading spaces and a space or
 * NUL after them), or GNU base-256 (the first byte's high bit set). */
static gboolean
parse_number(const guchar *p, gsize n, guint64 *out, const char **why)
{
  guint64 v = 0;
  gsize i = 0;

  if (p[0] & 0x80) {
    if (p[0] & 0x40) {
      *why = "is negative";
      return FALSE;
    }
    v = p[0] & 0x3f;
    for (i = 1; i < n; i++) {
      if (v > (G_MAXUINT64 >> 8)) {
        *why = "does not fit in 64 bits";
        return FALSE;
      }
      v = (v << 8) | p[i];
    }
  } else {
    while (i < n && p[i] == ' ')
      i++;
    for (; i < n && p[i] >= '0' && p[i] <= '7'; i++) {
      if (v > (G_MAXUINT64 >> 3)) {
        *why = "does not fit in 64 bits";
        return FALSE;
      }
      v = v * 8 + (p[i] - '0');
    }
    for (; i < n; i++)
      if (p[i] != ' ' && p[i] != '\0') {
        *why = "is not a number";
        return FALSE;
      }
  }
  if (v > G_MAXINT64) {
    *why = "does not fit in 63 bits";
    return FALSE;
  }
  *out = v;
  return TRUE;
}

static gboolean
checksum_ok(const guchar *h)
{
  guint64 want;
  const char *why;
  guint64 usum = 0;
  gint64 ssum = 0;

  if (!parse_number(h + 148, 8, &want, &why))
    return FALSE;
  for (gsize i = 0; i < SC_TAR_BLOCK; i++) {
    guchar c = (i >= 148 && i < 156) ? ' ' : h[i];
    usum += c;
    ssum += (signed char)c; /* some old tars summed signed bytes */
  }
  return want == usum || (gint64)want == ssum;
}

static gboolean
read_exact_fd(gpointer data, void *buf, gsize len, guint64 offset)
{
  int fd = GPOINTER_TO_INT(data);
  gsize done = 0;

  while (done < len) {
    ssize_t n = pread(fd, (char *)buf + done, len - done, offset + done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return FALSE;
    done += n;
  }
  return TRUE;
}

/* A decimal number in a pax record, all of [p, end). */
static gboolean
pax_decimal(const char *p, const char *end, guint64 *out)
{
  guint64 v = 0;

  if (p == end)
    return FALSE;
  for (; p < end; p++) {
    if (*p < '0' || *p > '9' || v > (G_MAXINT64 - 9) / 10)
      return FALSE;
    v = v * 10 + (*p - '0');
  }
  *out = v;
  return TRUE;
}

typedef struct {
  char *path, *linkpath;
  gboolean has_size;
  guint64 size;
} Pax;

static void
pax_clear(Pax *x)
{
  g_clear_pointer(&x->path, g_free);
  g_clear_pointer(&x->linkpath, g_free);
  x->has_size = FALSE;
}

/* "LEN KEY=VALUE\n" records; LEN counts the whole record. */
static gboolean
pax_parse(const char *buf, gsize len, Pax *x, const char **why)
{
  const char *p = buf, *end = buf + len;

  while (p < end) {
    const char *sp = memchr(p, ' ', end - p);
    const char *key, *eq, *value, *rec_end;
    guint64 rlen;

    if (sp == NULL || !pax_decimal(p, sp, &rlen) || rlen > (guint64)(end - p) ||
        rlen < (guint64)(sp - p) + 3 || p[rlen - 1] != '\n') {
      *why = "a malformed pax record";
      return FALSE;
    }
    rec_end = p + rlen - 1;
    key = sp + 1;
    eq = memchr(key, '=', rec_end - key);
    if (eq == NULL || eq == key) {
      *why = "a malformed pax record";
      return FALSE;
    }
    value = eq + 1;
    if ((eq - key == 4 && memcmp(key, "path", 4) == 0) ||
        (eq - key == 8 && memcmp(key, "linkpath", 8) == 0)) {
      char **slot = key[0] == 'p' ? &x->path : &x->linkpath;
      if (memchr(value, '\0', rec_end - value) != NULL) {
        *why = "a pax path with a NUL byte";
        return FALSE;
      }
      g_free(*slot);
      *slot = g_strndup(value, rec_end - value);
    } else if (eq - key == 4 && memcmp(key, "size", 4) == 0) {
      if (!pax_decimal(value, rec_end, &x->size)) {
        *why = "a pax size that is not a number below 2^63";
        return FALSE;
      }
      x->has_size = TRUE;
    }
    p += rlen;
  }
  return TRUE;
}

/* A ustar name field (up to @n bytes, NUL-terminated when shorter). */
static char *
field(const guchar *p, gsize n)
{
  return g_strndup((const char *)p, strnlen((const char *)p, n));
}

/* A header that describes the next member (pax, GNU long names). */
static gboolean
is_extended(char type)
{
  return type == 'x' || type == 'g' || type == 'L' || type == 'K';
}

static const char *
kind_name(ScTarKind k)
{
  switch (k) {
  case SC_TAR_FILE:
    return "regular file";
  case SC_TAR_DIR:
    return "directory";
  case SC_TAR_SYMLINK:
    return "symbolic link";
  case SC_TAR_HARDLINK:
    return "hard link";
  default:
    return "special file";
  }
}

/* One pass over the headers: where it is, and what the extended headers
 * read so far say about the member that follows them. */
struct ScTarWalk {
  ScTarReadFn read; /* reads forward only for a stream: offsets never go back */
  gpointer read_data;
  const char *archive; /* index->archive */
  ScTarIndex *index;   /* owned */
  const ScTarMember *last; /* the member the last step added, or NULL */
  const char *last_name;
  guint64 pos;       /* the header being read */
  guchar h[SC_TAR_BLOCK];
  Pax pax;
  char *long_name, *long_link;
  gboolean pending; /* an extended header waits for its member */
};
typedef struct ScTarWalk TarWalk;

/* Forgets what the extended headers said, once their member is read. */
static void
tar_walk_clear(TarWalk *w)
{
  pax_clear(&w->pax);
  g_clear_pointer(&w->long_name, g_free);
  g_clear_pointer(&w->long_link, g_free);
  w->pending = FALSE;
}

/* The header at w->pos into w->h; *out_end at the archive's end (its last
 * byte, or an end-of-archive block). */
static gboolean
read_header(TarWalk *w, gboolean *out_end, GError **error)
{
  gsize zeros = 0;

  *out_end = FALSE;
  if (w->pos == w->index->archive_size) {
    *out_end = TRUE; /* no end-of-archive blocks: what is there is the archive */
    return TRUE;
  }
  if (w->index->archive_size - w->pos < SC_TAR_BLOCK ||
      !w->read(w->read_data, w->h, SC_TAR_BLOCK, w->pos)) {
    g_set_error(error,
                SC_ERROR,
                SC_EIO,
                "%s: truncated tar header at byte %" G_GUINT64_FORMAT,
                w->archive,
                w->pos);
    return FALSE;
  }
  while (zeros < SC_TAR_BLOCK && w->h[zeros] == 0)
    zeros++;
  if (zeros == SC_TAR_BLOCK) {
    *out_end = TRUE; /* end-of-archive block */
    return TRUE;
  }
  if (!checksum_ok(w->h)) {
    g_set_error(error,
                SC_ERROR,
                SC_EIO,
                "%s: the tar header at byte %" G_GUINT64_FORMAT
                " has a bad checksum (not a tar archive, or a damaged one)",
                w->archive,
                w->pos);
    return FALSE;
  }
  return TRUE;
}

/* The member's name as the archive writes it, for every message that
 * follows: a pax path, a GNU long name, or the ustar fields. */
static char *
raw_name(const TarWalk *w)
{
  g_autofree char *base = NULL;
  g_autofree char *prefix = NULL;

  if (w->pax.path)
    return g_strdup(w->pax.path);
  if (w->long_name)
    return g_strdup(w->long_name);
  base = field(w->h, 100);
  /* POSIX ustar only: GNU's "ustar  " keeps times where the prefix is */
  if (memcmp(w->h + 257, "ustar\0", 6) == 0)
    prefix = field(w->h + 345, 155);
  return prefix && *prefix ? g_strconcat(prefix, "/", base, NULL) : g_steal_pointer(&base);
}

/* The size of the data after the header, which must end within the
 * archive. */
static gboolean
data_size(const TarWalk *w, char type, const char *raw, guint64 *out_size, GError **error)
{
  guint64 size;
  guint64 data = w->pos + SC_TAR_BLOCK;
  const char *why = NULL;

  /* a pax "size" is the next member's, never another extended header's */
  if (w->pax.has_size && !is_extended(type))
    size = w->pax.size;
  else if (!parse_number(w->h + 124, 12, &size, &why)) {
    g_set_error(error,
                SC_ERROR,
                SC_EIO,
                "%s: member '%s' (header at byte %" G_GUINT64_FORMAT "): its size field %s",
                w->archive,
                raw,
                w->pos,
                why);
    return FALSE;
  }
  if (size > w->index->archive_size - data) {
    g_set_error(error,
                SC_ERROR,
                SC_EIO,
                "%s: member '%s' (header at byte %" G_GUINT64_FORMAT "): its %" G_GUINT64_FORMAT
                " bytes of data run past the end of the archive (%" G_GUINT64_FORMAT " bytes)",
                w->archive,
                raw,
                w->pos,
                size,
                w->index->archive_size);
    return FALSE;
  }
  *out_size = size;
  return TRUE;
}

/* A pax or GNU long-name header: noted for the member that follows it. */
static gboolean
read_extended(TarWalk *w, char type, guint64 size, GError **error)
{
  g_autofree char *buf = NULL;
  const char *why = NULL;

  if (size > SC_TAR_MAX_EXTENDED) {
    g_set_error(error,
                SC_ERROR,
                SC_EIO,
                "%s: the extended header at byte %" G_GUINT64_FORMAT " is %" G_GUINT64_FORMAT
                " bytes; at most %d are allowed",
                w->archive,
                w->pos,
                size,
                SC_TAR_MAX_EXTENDED);
    return FALSE;
  }
  buf = g_malloc(size + 1);
  if (!w->read(w->read_data, buf, size, w->pos + SC_TAR_BLOCK)) {
    g_set_error(error,
                SC_ERROR,
                SC_EIO,
                "%s: cannot read the extended header at byte %" G_GUINT64_FORMAT,
                w->archive,
                w->pos);
    return FALSE;
  }
  buf[size] = '\0';
  if (type == 'x' && !pax_parse(buf, size, &w->pax, &why)) {
    g_set_error(error,
                SC_ERROR,
                SC_EIO,
                "%s: the extended header at byte %" G_GUINT64_FORMAT " holds %s",
                w->archive,
                w->pos,
                why);
    return FALSE;
  }
  /* a GNU long name ends at its first NUL, as GNU tar reads it */
  if (type == 'L') {
    g_free(w->long_name);
    w->long_name = g_strdup(buf);
  } else if (type == 'K') {
    g_free(w->long_link);
    w->long_link = g_strdup(buf);
  }
  if (type != 'g')
    w->pending = TRUE;
  return TRUE;
}

static ScTarKind
kind_of(char type)
{
  switch (type) {
  case '0':
  case '\0':
  case '7':
    return SC_TAR_FILE;
  case '5':
    return SC_TAR_DIR;
  case '2':
    return SC_TAR_SYMLINK;
  case '1':
    return SC_TAR_HARDLINK;
  default:
    return SC_TAR_OTHER;
  }
}

/* The member's normalized name, once its header is believable on its own:
 * no data on a type that has none, no '..' component. */
static char *
checked_name(const TarWalk *w, char type, const char *raw, guint64 size, GError **error)
{
  char *name;

  if (size > 0 && type >= '1' && type <= '6') {
    g_set_error(error,
                SC_ERROR,
                SC_EIO,
                "%s: member '%s' (header at byte %" G_GUINT64_FORMAT
                "): a %s with %" G_GUINT64_FORMAT " bytes of data",
                w->archive,
                raw,
                w->pos,
                kind_name(kind_of(type)),
                size);
    return NULL;
  }
  name = normalize(raw);
  if (name == NULL)
    g_set_error(error,
                SC_ERROR,
                SC_EIO,
                "%s: member '%s' (header at byte %" G_GUINT64_FORMAT "): has a '..' component",
                w->archive,
                raw,
                w->pos);
  return name;
}

/* The member whose header is at w->pos, into the index: refused when its
 * name is there already (but for a directory given again). */
static gboolean
add_member(TarWalk *w, char type, const char *raw, guint64 size, GError **error)
{
  ScTarKind kind = kind_of(type);
  g_autofree char *name = checked_name(w, type, raw, size, error);
  ScTarMember *m, *old;

  if (name == NULL)
    return FALSE;
  old = *name ? g_hash_table_lookup(w->index->members, name) : NULL;
  if (old && !(old->kind == SC_TAR_DIR && kind == SC_TAR_DIR)) {
    g_set_error(error,
                SC_ERROR,
                SC_EIO,
                "%s: member '%s' appears twice (headers at bytes %" G_GUINT64_FORMAT
                " and %" G_GUINT64_FORMAT "); which one is meant is ambiguous",
                w->archive,
                name,
                old->header,
                w->pos);
    return FALSE;
  }
  if (*name == '\0' || old != NULL)
    return TRUE; /* the archive's root, or a directory given again */
  m = g_new0(ScTarMember, 1);
  m->header = w->pos;
  m->offset = w->pos + SC_TAR_BLOCK;
  m->size = size;
  m->kind = kind;
  if (kind == SC_TAR_SYMLINK || kind == SC_TAR_HARDLINK)
    m->link = w->pax.linkpath ? g_strdup(w->pax.linkpath)
              : w->long_link  ? g_strdup(w->long_link)
                              : field(w->h + 157, 100);
  w->last = m;
  w->last_name = name;
  g_hash_table_insert(w->index->members, g_steal_pointer(&name), m);
  return TRUE;
}

/* One header and its data; *out_end at the archive's end. */
static gboolean
read_one(TarWalk *w, gboolean *out_end, GError **error)
{
  g_autofree char *raw = NULL;
  guint64 size;
  char type;

  if (!read_header(w, out_end, error))
    return FALSE;
  if (*out_end)
    return TRUE;
  type = (char)w->h[156];
  raw = raw_name(w);
  if (!data_size(w, type, raw, &size, error))
    return FALSE;
  if (is_extended(type)) {
    if (!read_extended(w, type, size, error))
      return FALSE;
  } else {
    if (!add_member(w, type, raw, size, error))
      return FALSE;
    tar_walk_clear(w);
  }
  w->pos += SC_TAR_BLOCK + ((size + SC_TAR_BLOCK - 1) / SC_TAR_BLOCK) * SC_TAR_BLOCK;
  return TRUE;
}

ScTarWalk *
sc_tar_walk_new(ScTarReadFn read, gpointer read_data, guint64 archive_size, const char *archive)
{
  ScTarWalk *w = g_new0(ScTarWalk, 1);

  w->read = read;
  w->read_data = read_data;
  w->index = g_new0(ScTarIndex, 1);
  w->index->archive = g_strdup(archive);
  w->index->archive_size = archive_size;
  w->index->members =
    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)member_free);
  w->archive = w->index->archive;
  return w;
}

void
sc_tar_walk_free(ScTarWalk *w)
{
  if (w == NULL)
    return;
  tar_walk_clear(w);
  sc_tar_index_free(w->index);
  g_free(w);
}

const ScTarIndex *
sc_tar_walk_index(const ScTarWalk *w)
{
  return w->index;
}

gboolean
sc_tar_walk_next(ScTarWalk *w, const char **out_name, const ScTarMember **out_member,
                 GError **error)
{
  gboolean end = FALSE;

  w->last = NULL;
  w->last_name = NULL;
  while (!end && w->last == NULL)
    if (!read_one(w, &end, error))
      return FALSE;
  if (end && w->pending) {
    g_set_error(error,
                SC_ERROR,
                SC_EIO,
                "%s: the archive ends after an extended header, without its member",
                w->archive);
    return FALSE;
  }
  *out_name = w->last_name;
  *out_member = w->last;
  return TRUE;
}

ScTarIndex *
sc_tar_index_new(int fd, const char *archive, GError **error)
{
  g_autoptr(ScTarWalk) w = NULL;
  struct stat st;
  const char *name = "";
  const ScTarMember *m;
  ScTarIndex *index;

  if (fstat(fd, &st) != 0) {
    g_set_error(error, SC_ERROR, SC_EIO, "%s: %s", archive, g_strerror(errno));
    return NULL;
  }
  w = sc_tar_walk_new(read_exact_fd, GINT_TO_POINTER(fd), st.st_size, archive);
  while (name != NULL)
    if (!sc_tar_walk_next(w, &name, &m, error))
      return NULL;
  index = g_steal_pointer(&w->index);
  return index;
}

/* @from's directory joined with a relative link target, '..' resolved;
 * NULL when it climbs above the archive's root. */
static char *
link_target(const char *from, const char *target)
{
  g_auto(GStrv) parts = NULL;
  g_autoptr(GPtrArray) stack = g_ptr_array_new();
  g_autofree char *joined = NULL;
  const char *slash = strrchr(from, '/');
  g_autoptr(GString) out = g_string_new(NULL);

  joined = slash ? g_strdup_printf("%.*s/%s", (int)(slash - from), from, target) : g_strdup(target);
  parts = g_strsplit(joined, "/", -1);
  for (char **p = parts; *p; p++) {
    if (**p == '\0' || strcmp(*p, ".") == 0)
      continue;
    if (strcmp(*p, "..") == 0) {
      if (stack->len == 0)
        return NULL;
      g_ptr_array_set_size(stack, stack->len - 1);
    } else
      g_ptr_array_add(stack, *p);
  }
  for (guint i = 0; i < stack->len; i++)
    g_string_append_printf(out, "%s%s", i ? "/" : "", (char *)stack->pdata[i]);
  return g_string_free(g_steal_pointer(&out), FALSE);
}

const ScTarMember *
sc_tar_index_lookup(const ScTarIndex *index,
                    const char *name,
                    gboolean follow_links,
                    GError **error)
{
  g_autofree char *cur = normalize(name);

  for (guint hops = 0; cur != NULL; hops++) {
    const ScTarMember *m = g_hash_table_lookup(index->members, cur);
    g_autofree char *next = NULL;

    if (m == NULL)
      break;
    if (m->kind == SC_TAR_FILE)
      return m;
    if (m->kind != SC_TAR_SYMLINK || !follow_links) {
      g_set_error(error,
                  SC_ERROR,
                  SC_EIO,
                  "%s: member '%s' is a %s; the files of an image must be regular files",
                  index->archive,
                  cur,
                  kind_name(m->kind));
      return NULL;
    }
    /* docker save writes a layer it saved before as a link to it */
    if (hops >= SC_TAR_MAX_LINKS) {
      g_set_error(error,
                  SC_ERROR,
                  SC_EIO,
                  "%s: member '%s': more than %d symbolic links in a row",
                  index->archive,
                  name,
                  SC_TAR_MAX_LINKS);
      return NULL;
    }
    if (m->link[0] == '/' || (next = link_target(cur, m->link)) == NULL) {
      g_set_error(error,
                  SC_ERROR,
                  SC_EIO,
                  "%s: member '%s' is a symbolic link to '%s', outside the archive",
                  index->archive,
                  cur,
                  m->link);
      return NULL;
    }
    g_free(cur);
    cur = g_steal_pointer(&next);
  }
  g_set_error(error, SC_ERROR, SC_ENOTFOUND, "%s: no member '%s'", index->archive, name);
  return NULL;
}
