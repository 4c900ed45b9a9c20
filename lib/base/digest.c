/*
 * SHA-256 digests, through GnuTLS (hardware-accelerated where the CPU
 * allows: about 3x GLib's GChecksum on the build machines), and parsing of
 * "sha256:<hex>" digest strings.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "base.h"

#include <gnutls/crypto.h>
#include <string.h>

struct ScSha256 {
  gnutls_hash_hd_t hd;
};

ScSha256 *
sc_sha256_new(void)
{
  ScSha256 *h = g_new0(ScSha256, 1);
  if (gnutls_hash_init(&h->hd, GNUTLS_DIG_SHA256) != 0)
    g_error("GnuTLS cannot compute SHA-256"); /* a broken installation */
  return h;
}

void
sc_sha256_update(ScSha256 *h, const void *data, gsize len)
{
  if (len > 0)
    gnutls_hash(h->hd, data, len);
}

char *
sc_sha256_finish(ScSha256 *h)
{
  guchar raw[32];
  char *hex = g_malloc(65);

  gnutls_hash_deinit(h->hd, raw);
  h->hd = NULL;
  for (int i = 0; i < 32; i++) {
    hex[2 * i] = "0123456789abcdef"[raw[i] >> 4];
    hex[2 * i + 1] = "0123456789abcdef"[raw[i] & 15];
  }
  hex[64] = '\0';
  g_free(h);
  return hex;
}

void
sc_sha256_free(ScSha256 *h)
{
  if (h == NULL)
    return;
  if (h->hd)
    gnutls_hash_deinit(h->hd, NULL);
  g_free(h);
}

char *
sc_sha256_hex(const void *data, gsize len)
{
  ScSha256 *h = sc_sha256_new();
  sc_sha256_update(h, data, len);
  return sc_sha256_finish(h);
}

gboolean
sc_digest_hex(const char *digest, const char **out_hex, GError **error)
{
  const char *hex;

  if (digest == NULL || !g_str_has_prefix(digest, "sha256:")) {
    g_autofree char *shown = sc_display(digest ? digest : "", 100);
    g_set_error(error, SC_ERROR, SC_EUNSUPPORTED,
                "digest '%s': only sha256 digests are supported", shown);
    return FALSE;
  }
  hex = digest + 7;
  if (strlen(hex) != 64 || strspn(hex, "0123456789abcdef") != 64) {
    g_autofree char *shown = sc_display(digest, 100);
    g_set_error(error, SC_ERROR, SC_EINVAL,
                "digest '%s': expected sha256: and 64 lowercase hexadecimal digits", shown);
    return FALSE;
  }
  *out_hex = hex;
  return TRUE;
}

gboolean
sc_content_digest_hex(const char *digest, const char **out_hex, GError **error)
{
  GError *local = NULL;

  if (sc_digest_hex(digest, out_hex, &local))
    return TRUE;
  if (g_error_matches(local, SC_ERROR, SC_EINVAL))
    local->code = SC_EDIGEST;
  g_propagate_error(error, local);
  return FALSE;
}
