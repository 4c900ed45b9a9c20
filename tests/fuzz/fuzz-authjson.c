/* Fuzz target: auth.json / Docker config.json lookups (credential helpers
 * named by the input are never installed, so none runs). */
#include "sc-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *keys[] = {"quay.io/ns/repo", "quay.io/ns", "quay.io", NULL};
  g_autofree char *user = NULL;
  g_autofree char *pass = NULL;
  gboolean found = FALSE;

  g_setenv("PATH", "/nonexistent-fuzz-bin", TRUE);
  sc_auth_lookup_text("auth.json", (const char *)data, size, keys, &found, &user, &pass, NULL);
  return 0;
}
