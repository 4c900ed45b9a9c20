/* Fuzz target: the WWW-Authenticate header parser. */
#include "sc-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  g_autofree char *s = g_strndup((const char *)data, size);
  char *scheme = NULL;
  GHashTable *params = NULL;

  if (sc_parse_www_authenticate(s, &scheme, &params)) {
    g_free(scheme);
    g_hash_table_unref(params);
  }
  return 0;
}
