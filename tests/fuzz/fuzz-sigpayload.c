/* Fuzz target: signature payloads (simple signing and cosign's), and the
 * identity rules over the docker-reference a payload names. */
#include "sc-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  g_autoptr(GBytes) payload = g_bytes_new(data, size);

  for (int sigstore = 0; sigstore < 2; sigstore++) {
    g_autofree char *digest = NULL;
    g_autofree char *ref = NULL;

    if (!sc_signature_payload_parse("payload", payload, sigstore, &digest, &ref, NULL))
      continue;
    for (int t = SC_ID_MATCH_REPO_DIGEST_OR_EXACT; t <= SC_ID_REMAP_IDENTITY; t++) {
      ScSignedIdentity id = { .type = (ScIdentityType)t,
                              .reference = (char *)"quay.io/ns/app:v1",
                              .repository = (char *)"quay.io/ns/app",
                              .prefix = (char *)"quay.io/ns",
                              .signed_prefix = (char *)"mirror.example/ns" };
      sc_signature_identity_match(&id, "quay.io/ns/app:v1", ref, NULL);
      sc_signature_identity_match(&id, ref, "quay.io/ns/app:v1", NULL);
    }
  }
  return 0;
}
