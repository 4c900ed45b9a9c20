/* Fuzz target: the template renderer and variable discovery. */
#include "sc-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static sc_values *values;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autoptr(GPtrArray) vars = NULL;
  gsize len = 0;

  if (values == NULL) {
    values = sc_values_new_internal();
    sc_values_insert(values, "NAME", "etcd", NULL);
    sc_values_insert(values, "A", "$B ${C} $$", NULL);
    sc_values_insert(values, "_x", "", NULL);
  }
  out = sc_template_substitute("fuzz", (const char *)data, size, values, &len, &error);
  g_clear_error(&error);
  vars = sc_template_scan("fuzz", (const char *)data, size, &error);
  /* rendering succeeds exactly when every variable is defined */
  if (out != NULL && vars == NULL)
    abort();
  return 0;
}
