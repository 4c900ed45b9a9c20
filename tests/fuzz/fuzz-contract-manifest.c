/* Fuzz target: an image's /exports/manifest.json. */
#include "sc-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  sc_exports *ex = sc_exports_new_empty("/fuzz");

  ex->manifest.name = g_strdup("manifest.json");
  ex->manifest.data = g_bytes_new(data, size);
  ex->has_manifest = TRUE;
  sc_exports_parse_manifest(ex, NULL);
  sc_exports_free(ex);
  return 0;
}
