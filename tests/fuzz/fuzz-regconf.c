/* Fuzz target: the registries.conf (TOML subset) parser and the prefix
 * lookup. */
#include "sc-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  g_autofree char *s = g_strndup((const char *)data, size);
  ScRegConf *c = sc_regconf_new();

  if (sc_regconf_parse(c, "registries.conf", s, NULL))
    sc_regconf_find(c, "quay.io", "coreos/etcd");
  sc_regconf_free(c);
  return 0;
}
