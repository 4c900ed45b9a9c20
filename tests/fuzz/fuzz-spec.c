/* Fuzz target: config.json validation and the tmpfiles lines for missing
 * bind-mount sources. */
#include "sc-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static sc_context *ctx;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) sources = NULL;

  if (ctx == NULL) {
    sc_context_new(&ctx, NULL);
    sc_context_set_sysroot(ctx, "/nonexistent-fuzz-root", NULL);
  }
  if (sc_spec_check("config.json", (const char *)data, size, NULL, FALSE, &sources, &error)) {
    g_autofree char *text = sc_tmpfiles_lines_for_missing(ctx, sources, 0, 0, NULL, NULL);
    (void)text;
  }
  return 0;
}
