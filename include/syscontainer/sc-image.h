/*
 * libsyscontainer: the image store (OSTree) and image sources.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef SYSCONTAINER_SC_IMAGE_H
#define SYSCONTAINER_SC_IMAGE_H

#include <stdint.h>

#include <syscontainer/sc-common.h>
#include <syscontainer/sc-context.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * sc_progress_func: progress of a pull: bytes of layer blobs read and to
 * read, layers done and to do. Called on the calling thread, at most about
 * ten times a second, and once at the end.
 */
typedef void (*sc_progress_func)(uint64_t bytes_done, uint64_t bytes_total,
                                 unsigned int layers_done, unsigned int layers_total,
                                 void *user_data);

/**
 * sc_context_set_progress_func: where pull progress goes. NULL: nowhere.
 * Since: 0.1
 */
SC_API void sc_context_set_progress_func(sc_context *ctx, sc_progress_func func,
                                         void *user_data);

/**
 * sc_pull_opts: options of sc_image_pull().
 * Since: 0.1
 */
typedef struct sc_pull_opts sc_pull_opts;

/** sc_pull_opts_new: @out_opts owned by the caller (sc_pull_opts_free()). Since: 0.1 */
SC_API int sc_pull_opts_new(sc_pull_opts **out_opts, sc_error **error);

/** sc_pull_opts_free: accepts NULL. Since: 0.1 */
SC_API void sc_pull_opts_free(sc_pull_opts *opts);

/**
 * sc_pull_opts_set_name: store the image under NAME[:TAG] instead of the
 * name the source gives it. Normalized like any reference, but a short
 * name (no registry: "demo:1", "library/demo") is stored under localhost/
 * ("localhost/demo:1"), as podman does.
 * Returns: SC_OK or SC_EINVAL (not a valid reference).
 * Since: 0.1
 */
SC_API int sc_pull_opts_set_name(sc_pull_opts *opts, const char *name, sc_error **error);

/**
 * sc_pull_opts_set_platform: "os/architecture[/variant]" chosen from a
 * multi-platform index (default: this machine's, e.g. "linux/amd64").
 * Returns: SC_OK or SC_EINVAL.
 * Since: 0.1
 */
SC_API int sc_pull_opts_set_platform(sc_pull_opts *opts, const char *platform, sc_error **error);

/**
 * sc_pull_opts_set_jobs: how many layers are imported at once (default:
 * the number of processors, at most 4).
 * Since: 0.1
 */
SC_API int sc_pull_opts_set_jobs(sc_pull_opts *opts, int jobs, sc_error **error);

/**
 * sc_pull_opts_set_credentials: the registry login (@password may be NULL
 * for an empty one); NULL @username: anonymous. Copied; never logged.
 * Returns: SC_OK or SC_EINVAL.
 * Since: 0.1
 */
SC_API int sc_pull_opts_set_credentials(sc_pull_opts *opts, const char *username,
                                        const char *password, sc_error **error);

/**
 * sc_pull_opts_set_authfile: read registry credentials from this
 * containers-auth.json / Docker config.json file only. NULL (default):
 * $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json,
 * ~/.config/containers/auth.json, /etc/containers/auth.json and
 * $DOCKER_CONFIG/config.json or ~/.docker/config.json, with credHelpers and
 * credsStore (docker-credential-NAME get). Explicit credentials win.
 * Since: 0.1
 */
SC_API int sc_pull_opts_set_authfile(sc_pull_opts *opts, const char *path, sc_error **error);

/**
 * sc_pull_opts_set_registries_conf: read this registries.conf (version 2)
 * only. NULL (default): $CONTAINERS_REGISTRIES_CONF, else
 * ~/.config/containers/registries.conf if it exists, else
 * /etc/containers/registries.conf, then the registries.conf.d drop-ins.
 * Used: unqualified-search-registries, [aliases], [[registry]] prefix,
 * location, insecure, blocked, mirror-by-digest-only and
 * [[registry.mirror]] location, insecure, pull-from-mirror.
 * Since: 0.1
 */
SC_API int sc_pull_opts_set_registries_conf(sc_pull_opts *opts, const char *path,
                                            sc_error **error);

/**
 * sc_pull_opts_set_cert_dir: the certificate directory for the registry
 * (*.crt CAs trusted in addition to the system's, NAME.cert + NAME.key a
 * client certificate). NULL (default): the first of
 * ~/.config/containers/certs.d/HOST[:PORT], /etc/containers/certs.d/...,
 * /etc/docker/certs.d/... that exists.
 * Since: 0.1
 */
SC_API int sc_pull_opts_set_cert_dir(sc_pull_opts *opts, const char *path, sc_error **error);

/**
 * sc_pull_opts_set_tls_verify: 0 accepts any TLS certificate and allows
 * plain http for a registry that does not speak https (default 1).
 * Since: 0.1
 */
SC_API int sc_pull_opts_set_tls_verify(sc_pull_opts *opts, int verify, sc_error **error);

/**
 * sc_image_pull: imports an image into the store from @source: a registry
 * reference ("quay.io/x/y:tag", "busybox", "name@sha256:...", with an
 * optional "docker://" prefix, or atomic's "http:" for an insecure
 * registry), "oci:DIR[:TAG]", "oci-archive:FILE[:TAG]", "docker-archive:FILE"
 * (or "dockertar:FILE"), "docker:NAME[:TAG]" (a Docker Engine API daemon
 * on $DOCKER_HOST, unix:// only, or /var/run/docker.sock). Layers whose
 * commit already exists are not read again, nor is a config the store has:
 * a re-pull of an unchanged image reads its manifest only. Every digest is
 * checked before anything is referenced; on failure no ref is added or
 * changed. The image the name held before, if another one no other name
 * holds, is kept by its ID (listed as "<none>") until pruned. The commit
 * records the transport the image came from. The signature policy is
 * asked first (docs/trust.md); the signatures that satisfied it are kept
 * with the image (sc_image_inspect_json(), sc_image_verify()).
 * @out_json: may be NULL; {"schema":1,"name","id","digest","layers",
 *   "layers_imported","bytes_read"}, owned by the caller (sc_free()).
 * Returns: SC_OK, SC_EINVAL, SC_ENOTFOUND, SC_EDIGEST, SC_EUNSUPPORTED
 * (e.g. a Docker schema 1 manifest), SC_EAUTH, SC_ENETWORK, SC_EIO,
 * SC_ESIGNATURE (refused by the signature policy).
 * Since: 0.1
 */
SC_API int sc_image_pull(sc_context *ctx, const char *source, const sc_pull_opts *opts,
                         char **out_json, sc_error **error);

/**
 * sc_image_inspect_remote_json: an image in a registry (or any source of
 * sc_image_pull()) without storing it: manifest, config, labels, layers,
 * and the template variables of its /exports (the layers are streamed and
 * checked, only /exports is kept, in memory). The document has the keys of
 * sc_image_inspect_json() but "names".
 * @opts: may be NULL; credentials, TLS, platform as for a pull.
 * Since: 0.1
 */
SC_API int sc_image_inspect_remote_json(sc_context *ctx, const char *source,
                                        const sc_pull_opts *opts, char **out_json,
                                        sc_error **error);

/**
 * sc_images_update_json: asks the registry of @image (NULL: of every image
 * in the store) for the current manifest of its name and pulls it when the
 * digest changed; the name then points at the new image (the old one is
 * kept by its ID until pruned). An image that did not come from a
 * registry (pulled from oci:, oci-archive:, docker-archive:, a name under
 * localhost/, or kept by its ID only) is not asked about: its entry has
 * "skipped" (the reason) and is no failure.
 * @out_json: {"schema":1,"images":[{"name","updated":bool,"id","old_id"?,
 *   "layers_imported"?,"skipped"?,"error"?}]}. With @image NULL a failing
 *   image is reported in its entry; with an @image its failure is the
 *   return code.
 * Since: 0.1
 */
SC_API int sc_images_update_json(sc_context *ctx, const char *image, const sc_pull_opts *opts,
                                 char **out_json, sc_error **error);

/**
 * sc_images_list_json: the images in the store:
 * {"schema":1,"store":{"path","chosen","passed-over"?},
 *  "images":[{"name","tag","id","created","size","in_use"}]}.
 * An image whose name moved to another image is listed by its ID with
 * "name" and "tag" "<none>". "in_use": a deployment (either slot of any
 * container) recorded this image ID.
 * "store" says where the store is (as seen from the sysroot) and why:
 * "chosen" is "configured" (--repo, $ATOMIC_OSTREE_REPO, atomic.conf),
 * "existing" (CHECKOUT/.storage/ostree was there), "ostree-host"
 * (/ostree/repo, which checkouts can hardlink into) or "checkout-root"
 * (CHECKOUT/.storage/ostree, made by the first pull); "passed-over" says
 * why /ostree/repo was not used. An absent store lists nothing (it is not
 * created).
 * Since: 0.1
 */
SC_API int sc_images_list_json(sc_context *ctx, char **out_json, sc_error **error);

/**
 * sc_image_inspect_json: one image (by name, ID prefix, or the source
 * string it was pulled from): name ("<none>" for an image kept by its ID
 * only), names, id, created, architecture, os, labels, layers, config,
 * transport (where it was pulled from: "docker", "oci", "oci-archive",
 * "docker-archive", or null), the template variables of its /exports,
 * and "trust": who signed it as the signature policy accepted it
 * ({"scope","identity","digest","signed_by":[{"signer","type","format",
 * "requirement","origin"}]}, null when pulled without a record).
 * Since: 0.1
 */
SC_API int sc_image_inspect_json(sc_context *ctx, const char *image, char **out_json,
                                 sc_error **error);

/**
 * sc_image_tag: gives @image another name (a short one under localhost/).
 * The image @new_name named before, if no other name holds it, is kept by
 * its ID.
 * Returns: SC_OK, SC_ENOTFOUND, SC_EINVAL.
 * Since: 0.1
 */
SC_API int sc_image_tag(sc_context *ctx, const char *image, const char *new_name,
                        sc_error **error);

/**
 * sc_image_delete: removes a name (or, for an ID prefix, every name of that
 * image). An image a container uses is refused (SC_EBUSY) unless @force.
 * Objects are freed by sc_images_prune().
 * Since: 0.1
 */
SC_API int sc_image_delete(sc_context *ctx, const char *image, int force, sc_error **error);

/**
 * sc_images_prune: removes the images kept by their ID only that no
 * deployment uses, then layer and config commits that no remaining image
 * references, then unreachable objects.
 * @out_json: may be NULL; {"schema":1,"images_removed":N,"refs_removed":N,
 *   "objects_removed":N,"bytes_freed":N}.
 * Since: 0.1
 */
SC_API int sc_images_prune(sc_context *ctx, char **out_json, sc_error **error);

/**
 * sc_image_verify: re-checks every object of every layer commit of
 * @image, and the config; then the signatures kept with the image,
 * offline, against the current signature policy (docs/trust.md).
 * @out_json: {"schema":1,"name","ok":bool,"layers":[{"digest","ok",
 *   "problem"?}],"trust":{"ok","status" ("verified", "unsigned",
 *   "refused": the policy no longer accepts them, "unknown": no record),
 *   "message"}}.
 * @out_ok: may be NULL; 1 when everything matched and the policy still
 *   accepts the image.
 * Returns: SC_OK when the check ran (whatever it found), SC_ENOTFOUND.
 * Since: 0.1
 */
SC_API int sc_image_verify(sc_context *ctx, const char *image, char **out_json, int *out_ok,
                           sc_error **error);

/**
 * sc_image_checkout: checks @image out into @dir (created; it must not
 * exist or be empty): each layer in order, with union overwrite, whiteouts
 * (.wh.NAME deletes NAME, .wh..wh..opq empties the directory) and
 * hardlinks into the store (copies where @dir is on another mount), then
 * one syncfs.
 * Returns: SC_OK, SC_ENOTFOUND, SC_EEXISTS (not empty), SC_EIO.
 * Since: 0.1
 */
SC_API int sc_image_checkout(sc_context *ctx, const char *image, const char *dir,
                             sc_error **error);

#ifdef __cplusplus
}
#endif

#endif
