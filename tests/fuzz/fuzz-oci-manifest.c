/* Fuzz target: OCI / Docker manifests and indexes (classification and
 * platform choice). */
#include "sc-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const char *const types[] = {NULL, SC_MEDIA_OCI_MANIFEST, SC_MEDIA_OCI_INDEX,
                                      SC_MEDIA_DOCKER_LIST, "text/plain"};
  g_autoptr(GBytes) b = g_bytes_new(data, size);
  json_t *doc = NULL;
  g_autofree char *next = NULL;

  sc_manifest_examine(b, types[size % G_N_ELEMENTS(types)], "linux", "arm64", "v8", "fuzz",
                      FALSE, &doc, &next, NULL);
  json_decref(doc);
  return 0;
}
