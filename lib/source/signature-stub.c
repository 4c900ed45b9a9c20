/*
 * Placeholder for the signature verification (signature.c, written in
 * parallel): every signedBy or sigstoreSigned requirement is refused, so
 * that a policy asking for signatures never lets an image through
 * unverified. Replaced at merge.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "source.h"

gboolean
sc_signature_check(const ScPolicyRequirement *req,
                   const char *reference,
                   GBytes *manifest,
                   const char *manifest_digest,
                   ScSignatureSources *src,
                   char **out_signer,
                   GError **error)
{
  (void)req, (void)manifest, (void)manifest_digest, (void)src;
  if (out_signer)
    *out_signer = NULL;
  g_set_error(error, SC_ERROR, SC_EUNSUPPORTED, "%s: signature verification not built", reference);
  return FALSE;
}
