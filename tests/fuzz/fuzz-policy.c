/* Fuzz target: the signature policy parser (containers-policy.json(5):
 * strict JSON, requirements, identities, scopes; key files not read), and
 * the scope lookups on what parsed. */
#include "sc-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const char *const lookups[][2] = {
    { "docker", "reg.example.com:5000/ns/app:1" },
    { "docker", "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" },
    { "oci", "/srv/images/a" },
    { "oci-archive", "/srv/a.tar" },
    { "docker-archive", "" },
    { "unknown", "x" },
  };
  GError *error = NULL;
  ScPolicy *p = sc_policy_parse("policy.json", (const char *)data, size, -1, &error);

  if (p != NULL) {
    for (size_t i = 0; i < G_N_ELEMENTS(lookups); i++) {
      const char *scope = NULL;
      GPtrArray *reqs = sc_policy_requirements_for(p, lookups[i][0], lookups[i][1], &scope);
      g_assert(reqs->len > 0 && scope != NULL);
      g_ptr_array_unref(reqs);
    }
    sc_policy_free(p);
  } else {
    g_assert(error != NULL && error->domain == SC_ERROR);
    g_error_free(error);
  }
  return 0;
}
