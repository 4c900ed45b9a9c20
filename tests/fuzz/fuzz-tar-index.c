/* Fuzz target: the tar index of oci-archive: and docker-archive: sources
 * (lib/source/tarindex.c). The input is the archive, in a memfd as the sources
 * read a file; every indexed member must lie within the archive, and every
 * lookup must give a regular file or an error naming the archive. */
#include "sc-private.h"

#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_lookup(const ScTarIndex *index, const char *name, gboolean follow)
{
  g_autoptr(GError) error = NULL;
  const ScTarMember *m = sc_tar_index_lookup(index, name, follow, &error);

  if (m == NULL) {
    if (error == NULL || strstr(error->message, "fuzz.tar") == NULL)
      abort();
    return;
  }
  if (m->kind != SC_TAR_FILE || m->offset > index->archive_size ||
      m->size > index->archive_size - m->offset)
    abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static int fd = -1;
  g_autoptr(GError) error = NULL;
  g_autoptr(ScTarIndex) index = NULL;
  GHashTableIter it;
  gpointer key, value;
  static const char *const names[] = { "index.json",
                                       "oci-layout",
                                       "manifest.json",
                                       "./index.json",
                                       "/manifest.json",
                                       "../index.json",
                                       "" };

  if (fd < 0 && (fd = memfd_create("fuzz-tar", MFD_CLOEXEC)) < 0)
    abort();
  if (ftruncate(fd, 0) != 0 || (size > 0 && pwrite(fd, data, size, 0) != (ssize_t)size))
    abort();
  index = sc_tar_index_new(fd, "fuzz.tar", &error);
  if (index == NULL) {
    if (error == NULL || strstr(error->message, "fuzz.tar") == NULL)
      abort();
    return 0;
  }
  if (index->archive_size != size)
    abort();
  g_hash_table_iter_init(&it, index->members);
  while (g_hash_table_iter_next(&it, &key, &value)) {
    const ScTarMember *m = value;
    if (m->offset % 512 != 0 || m->offset != m->header + 512 || m->offset > size ||
        m->size > size - m->offset || *(const char *)key == '\0' || strstr(key, "//") != NULL)
      abort();
    check_lookup(index, key, TRUE);
    check_lookup(index, key, FALSE);
  }
  for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
    check_lookup(index, names[i], TRUE);
    check_lookup(index, names[i], FALSE);
  }
  return 0;
}
