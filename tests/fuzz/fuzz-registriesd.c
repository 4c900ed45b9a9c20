/* Fuzz target: a registries.d YAML file (containers-registries.d(5)),
 * parsed twice into one set (the second must be refused as a duplicate
 * when the first defined anything), and the lookaside lookup. */
#include "sc-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  ScRegistriesD *r = sc_registriesd_new();
  const char *url = NULL;
  gboolean attach = FALSE;
  GError *error = NULL;

  if (sc_registriesd_parse(r, "a.yaml", (const char *)data, size, &error)) {
    sc_registriesd_lookup(r, "reg.example.com:5000/ns/app:1", &url, &attach);
    sc_registriesd_lookup(r, "docker.io/library/busybox:latest", &url, &attach);
    if (!sc_registriesd_parse(r, "b.yaml", (const char *)data, size, &error))
      g_clear_error(&error);
  } else {
    g_assert(error != NULL);
    g_clear_error(&error);
  }
  sc_registriesd_free(r);
  return 0;
}
