/* Fuzz target: image reference parsing and the OSTree ref encoding. */
#include "sc-private.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  g_autofree char *s = g_strndup((const char *)data, size);
  g_autofree char *norm = sc_reference_normalize(s, NULL);
  g_autofree char *enc = sc_ref_encode(s);
  g_autofree char *dec = sc_ref_decode(enc);

  /* encoding round-trips, and a normalized reference is a fixed point */
  if (strcmp(dec, s) != 0)
    abort();
  if (norm) {
    g_autofree char *again = sc_reference_normalize(norm, NULL);
    if (again == NULL || strcmp(again, norm) != 0)
      abort();
  }
  return 0;
}
