/* Fuzz target: the registries.conf parser (TOML, version 1 and 2), as a
 * main file and as a drop-in over it, and the prefix lookup. */
#include "sc-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  g_autofree char *s = g_strndup((const char *)data, size);
  ScRegConf *c = sc_regconf_new();

  if (sc_regconf_parse(c, "registries.conf", s, NULL)) {
    sc_regconf_find(c, "quay.io", "coreos/etcd");
    /* the same text again as a drop-in: merged over itself, or refused */
    if (sc_regconf_parse_dropin(c, "50-dropin.conf", s, NULL))
      sc_regconf_find(c, "x.wild.example", "a");
  }
  sc_regconf_free(c);
  return 0;
}
