/* Fuzz target: layer import (gzip/zstd/tar into a scratch OSTree repo) and
 * the /exports scan of the same bytes. The blob digest is the input's own,
 * so every input reaches the tar reader. */
#include "sc-private.h"

#include <fcntl.h>
#include <glib/gstdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static OstreeRepo *repo;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  g_autofree char *hex = sc_sha256_hex(data, size);
  g_autofree char *digest = g_strconcat("sha256:", hex, NULL);
  g_autoptr(GInputStream) in = g_memory_input_stream_new_from_data(data, size, NULL);
  g_autoptr(GInputStream) in2 = g_memory_input_stream_new_from_data(data, size, NULL);
  g_autoptr(GHashTable) files = sc_exports_scan_new();
  ScLayerResult result = {0};

  if (repo == NULL) {
    g_autofree char *dir = g_dir_make_tmp("sc-fuzz-repo-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "repo", NULL);
    repo = ostree_repo_create_at(AT_FDCWD, path, OSTREE_REPO_MODE_BARE_USER_ONLY, NULL, NULL,
                                 NULL);
    if (repo == NULL)
      abort();
    ostree_repo_set_disable_fsync(repo, TRUE);
  }
  if (!ostree_repo_prepare_transaction(repo, NULL, NULL, NULL))
    abort();
  static const ScLayerLimits limits = { 64 * 1024 * 1024, 100000, 64, 1024 };
  sc_layer_import(repo, in, digest, size, NULL, NULL, &limits, NULL, &result, NULL);
  ostree_repo_abort_transaction(repo, NULL, NULL);
  g_free(result.commit);
  sc_layer_scan_exports(in2, digest, size, NULL, &limits, files, NULL);
  return 0;
}
