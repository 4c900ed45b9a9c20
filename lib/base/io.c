/*
 * File helpers: whole-file writes by temporary name and rename, reads that
 * never follow a symbolic link, JSON output.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "base.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

/* Files of an image's exports are small; anything larger is refused before
 * it is read into memory. */
#define SC_MAX_EXPORT_FILE (4 * 1024 * 1024)

gboolean
sc_write_file_atomic(int dirfd,
                     const char *dirpath,
                     const char *name,
                     const char *data,
                     gsize length,
                     mode_t mode,
                     GError **error)
{
  return sc_write_file_atomic_labelled(dirfd, dirpath, name, data, length, mode, NULL, error);
}

gboolean
sc_write_file_atomic_labelled(int dirfd,
                              const char *dirpath,
                              const char *name,
                              const char *data,
                              gsize length,
                              mode_t mode,
                              const char *label,
                              GError **error)
{
  g_autofree char *tmp = NULL;
  int fd = -1;
  gsize done = 0;

  for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
    g_free(tmp);
    tmp = g_strdup_printf(".%s.%08x.tmp", name, g_random_int());
    fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 && errno != EEXIST)
      break;
  }
  if (fd < 0) {
    g_set_error(error,
                SC_ERROR,
                SC_EIO,
                "%s/%s: cannot create a temporary file: %s",
                dirpath,
                name,
                g_strerror(errno));
    return FALSE;
  }
  while (done < length) {
    ssize_t n = write(fd, data + done, length - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      goto fail;
    done += n;
  }
  if (fchmod(fd, mode) != 0 || fdatasync(fd) != 0)
    goto fail;
  /* the label on the temporary file: the file never has another at its name */
  if (label && fsetxattr(fd, "security.selinux", label, strlen(label) + 1, 0) != 0) {
    int saved = errno;
    close(fd);
    unlinkat(dirfd, tmp, 0);
    g_set_error(error, SC_ERROR, SC_EIO, "%s/%s: cannot set the SELinux label %s: %s", dirpath,
                name, label, g_strerror(saved));
    return FALSE;
  }
  if (close(fd) != 0) {
    fd = -1;
    goto fail;
  }
  fd = -1;
  if (renameat(dirfd, tmp, dirfd, name) != 0)
    goto fail;
  return TRUE;

fail : {
  int saved = errno;
  if (fd >= 0)
    close(fd);
  unlinkat(dirfd, tmp, 0);
  g_set_error(error, SC_ERROR, SC_EIO, "%s/%s: cannot write: %s", dirpath, name, g_strerror(saved));
  return FALSE;
}
}

GBytes *
sc_read_file_nofollow(int dirfd,
                      const char *dirpath,
                      const char *name,
                      gboolean *out_exists,
                      GError **error)
{
  return sc_read_file_nofollow_max(dirfd, dirpath, name, SC_MAX_EXPORT_FILE, out_exists, error);
}

GBytes *
sc_read_fd_max(int fd, const char *shown, gsize max, int refusal, GError **error)
{
  struct stat st;
  g_autofree char *buf = NULL;
  gsize done = 0;

  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    g_set_error(error, SC_ERROR, refusal, "%s: not a regular file", shown);
    return NULL;
  }
  if ((guint64)st.st_size > max) {
    g_set_error(error,
                SC_ERROR,
                refusal,
                "%s: is %lld bytes; at most %" G_GSIZE_FORMAT " are allowed",
                shown,
                (long long)st.st_size,
                max);
    return NULL;
  }
  buf = g_malloc(st.st_size + 1);
  while (done < (gsize)st.st_size) {
    ssize_t n = read(fd, buf + done, st.st_size - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      g_set_error(error, SC_ERROR, SC_EIO, "%s: cannot read: %s", shown, g_strerror(errno));
      return NULL;
    }
    if (n == 0)
      break; /* shrank while reading: take what is there */
    done += n;
  }
  buf[done] = '\0';
  return g_bytes_new_take(g_steal_pointer(&buf), done);
}

GBytes *
sc_read_file_nofollow_max(int dirfd,
                          const char *dirpath,
                          const char *name,
                          gsize max,
                          gboolean *out_exists,
                          GError **error)
{
  g_autofree char *shown = NULL;
  GBytes *bytes;
  int fd;

  *out_exists = FALSE;
  fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT)
      return NULL;
    *out_exists = TRUE; /* something is there, and it cannot be read */
    if (errno == ELOOP)
      g_set_error(error,
                  SC_ERROR,
                  SC_EIO,
                  "%s/%s: is a symbolic link; image files must be regular files",
                  dirpath,
                  name);
    else
      g_set_error(
        error, SC_ERROR, SC_EIO, "%s/%s: cannot open: %s", dirpath, name, g_strerror(errno));
    return NULL;
  }
  *out_exists = TRUE;
  shown = g_strdup_printf("%s/%s", dirpath, name);
  bytes = sc_read_fd_max(fd, shown, max, SC_EIO, error);
  close(fd);
  return bytes;
}

char *
sc_json_dump(json_t *json, gboolean pretty)
{
  char *s = json_dumps(json, (pretty ? JSON_INDENT(2) : JSON_COMPACT) | JSON_ENCODE_ANY);
  char *copy = g_strdup(s);
  free(s);
  return copy;
}

/* strcmp for g_ptr_array_sort() of strings (it passes pointers to the
 * elements). */
int
sc_strcmp_indirect(gconstpointer a, gconstpointer b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* At most @max bytes of @s (NUL-terminated), printable: the rest of a
 * hostile string would only flood the message, and bytes that are not
 * printable UTF-8 would break the JSON the CLI prints. */
char *
sc_display(const char *s, gsize max)
{
  GString *out = g_string_new(NULL);
  const char *p = s;

  while (*p && (gsize)(p - s) < max) {
    gunichar c = g_utf8_get_char_validated(p, -1);
    if (c == (gunichar)-1 || c == (gunichar)-2 || c < 0x20 || c == 0x7f || c == '\\' ||
        (c >= 0x80 && c < 0xa0)) {
      if (c == '\\')
        g_string_append(out, "\\\\");
      else
        g_string_append_printf(out, "\\x%02x", (guchar)*p);
      p++;
    } else {
      const char *next = g_utf8_next_char(p);
      g_string_append_len(out, p, next - p);
      p = next;
    }
  }
  if (*p)
    g_string_append(out, "...");
  return g_string_free(out, FALSE);
}

gboolean
sc_json_check_budget(const char *label, const void *data, gsize len, GError **error)
{
  const char *p = data, *end = p + len;
  guint64 values = 0;
  guint depth = 0;
  gboolean in_value = FALSE; /* inside a number or a literal */

  /* A count of what the parse would build: every container, every
   * string, every other scalar. Strings are skipped with their escapes. */
  for (; p < end; p++) {
    char c = *p;
    if (c == '"') {
      values++;
      in_value = FALSE;
      for (p++; p < end && *p != '"'; p++)
        if (*p == '\\')
          p++;
      continue;
    }
    if (c == '{' || c == '[') {
      values++;
      if (++depth > SC_MAX_JSON_DEPTH) {
        g_set_error(error, SC_ERROR, SC_EIO,
                    "%s: the JSON document nests deeper than %d levels", label,
                    SC_MAX_JSON_DEPTH);
        return FALSE;
      }
    } else if (c == '}' || c == ']') {
      depth = depth ? depth - 1 : 0;
    }
    if (c == ',' || c == ':' || c == '{' || c == '[' || c == '}' || c == ']' || c == ' ' ||
        c == '\n' || c == '\r' || c == '\t')
      in_value = FALSE;
    else if (!in_value) {
      in_value = TRUE;
      values++;
    }
    if (values > SC_MAX_JSON_VALUES) {
      g_set_error(error, SC_ERROR, SC_EIO,
                  "%s: the JSON document holds more than %d values, the limit", label,
                  SC_MAX_JSON_VALUES);
      return FALSE;
    }
  }
  return TRUE;
}

json_t *
sc_json_load_bounded(const char *label, const void *data, gsize len, GError **error)
{
  json_error_t jerr;
  json_t *doc;

  if (!sc_json_check_budget(label, data, len, error))
    return NULL;
  doc = json_loadb(data, len, 0, &jerr);
  if (doc == NULL)
    g_set_error(error, SC_ERROR, SC_EIO, "%s: not valid JSON (line %d, column %d: %s)", label,
                jerr.line, jerr.column, jerr.text);
  return doc;
}

/* @text into @path (from sc_context_host_path(): no link in it) by a
 * temporary name, through directories reached without following a link,
 * made when missing. */
gboolean
sc_write_file_nolinks(const char *path, const char *text, GError **error)
{
  return sc_write_file_nolinks_labelled(path, text, NULL, error);
}

gboolean
sc_write_file_nolinks_labelled(const char *path, const char *text, const char *label,
                               GError **error)
{
  return sc_write_file_nolinks_mode(path, text, 0644, label, error);
}

gboolean
sc_write_file_nolinks_mode(const char *path, const char *text, mode_t mode, const char *label,
                           GError **error)
{
  g_autofree char *dir = g_path_get_dirname(path);
  g_autofree char *base = g_path_get_basename(path);
  int dfd;
  gboolean ok;

  /* @path has no link in it (sc_context_host_path): none is followed now */
  dfd = sc_confined_open_nolinks(dir, TRUE, error);
  if (dfd < 0)
    return FALSE;
  ok = sc_write_file_atomic_labelled(dfd, dir, base, text, strlen(text), mode, label, error);
  close(dfd);
  return ok;
}
