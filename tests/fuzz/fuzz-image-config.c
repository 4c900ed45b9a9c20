/* Fuzz target: image config JSON as a pull examines it (rootfs.diff_ids
 * against the manifest's layer count). */
#include "sc-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  g_autoptr(GBytes) b = g_bytes_new(data, size);
  json_t *doc = NULL;

  /* the layer count varies with the input so that both outcomes of the
   * count check are reached */
  if (sc_image_config_examine(b, size % 4, "fuzz", &doc, NULL))
    json_decref(doc);
  return 0;
}
