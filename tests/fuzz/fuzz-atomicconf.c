/* Fuzz target: the atomic.conf reader (libyaml events, our key checks). */
#include "sc-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  GError *error = NULL;
  ScAtomicConf *c = sc_atomic_conf_parse("atomic.conf", (const char *)data, size, &error);

  /* exactly one of a result and an error, and an error names the file */
  if ((c == NULL) == (error == NULL))
    __builtin_trap();
  if (error && !g_str_has_prefix(error->message, "atomic.conf"))
    __builtin_trap();
  sc_atomic_conf_free(c);
  g_clear_error(&error);
  return 0;
}
