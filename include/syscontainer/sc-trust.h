/*
 * libsyscontainer: the signature policy (containers-policy.json(5)) and
 * registries.d, as `podman image trust` and `atomic trust` manage them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef SYSCONTAINER_SC_TRUST_H
#define SYSCONTAINER_SC_TRUST_H

#include <syscontainer/sc-common.h>
#include <syscontainer/sc-context.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * sc_trust_show_json: the policy in effect for @ctx (the file a pull
 * reads: sc_context_set_signature_policy(), $SC_SIGNATURE_POLICY,
 * $HOME/.config/containers/policy.json, SYSROOT/etc/containers/policy.json):
 * {"schema":1, "file", "default":{"type","requirements":[...]},
 *  "scopes":[{"transport","scope","type","keys":[...],"lookaside"(or null),
 *             "requirements":[...]}]}, where "type" is accept, reject,
 * signedBy, sigstoreSigned (the first requirement's; "mixed" when they
 * differ) and "requirements" the file's own objects.
 * @out_json: owned by the caller (sc_free()).
 * Returns: SC_OK; SC_ENOTFOUND (no policy file), SC_EINVAL (malformed,
 * naming the file and where), SC_EIO.
 * Since: 0.1
 */
SC_API int sc_trust_show_json(sc_context *ctx, char **out_json, sc_error **error);

/**
 * sc_trust_set: what images of the registry scope @scope (host[:port],
 * a namespace, a repository, a reference, *.domain; or "default") must
 * satisfy, written to the policy file as `podman image trust set` writes
 * it (transports.docker[SCOPE], or the scope's existing transport):
 * @type "accept" (insecureAcceptAnything), "reject", "signedBy" (GPG: one
 * or more @pubkeys, absolute paths: keyPath, or keyPaths for several) or
 * "sigstoreSigned" (one public key: keyPath). @lookaside (NULL: none), a
 * http(s):// or file:// URL, is written to registries.d as the scope's
 * `lookaside`, in SCOPE.yaml ('/' as '-'). The result is checked as a pull
 * reads it (keys readable) before it replaces the file, atomically.
 * Returns: SC_OK; SC_EINVAL (a bad type, scope, key, URL; no default set
 * yet for a scope); SC_EIO.
 * Since: 0.1
 */
SC_API int sc_trust_set(sc_context *ctx,
                        const char *scope,
                        const char *type,
                        const char *const *pubkeys,
                        const char *lookaside,
                        sc_error **error);

/**
 * sc_trust_default: the policy's "default" (images no scope names):
 * @verdict "accept" or "reject". Creates the file when missing.
 * Returns: SC_OK, SC_EINVAL, SC_EIO.
 * Since: 0.1
 */
SC_API int sc_trust_default(sc_context *ctx, const char *verdict, sc_error **error);

#ifdef __cplusplus
}
#endif

#endif
