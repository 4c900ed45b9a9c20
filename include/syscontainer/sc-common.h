/*
 * libsyscontainer: common definitions (error codes, errors, memory).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef SYSCONTAINER_SC_COMMON_H
#define SYSCONTAINER_SC_COMMON_H

#include <stddef.h>

#if defined(SC_COMPILATION) && defined(__GNUC__)
#define SC_API __attribute__((visibility("default")))
#else
#define SC_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Return codes. Every public function that can fail returns one of these:
 * SC_OK (0) on success, a negative code otherwise. The set is fixed; new
 * codes are only ever appended.
 *
 * SC_EINVAL       an argument is invalid (NULL where an object is needed,
 *                 a malformed name, key or option value)
 * SC_ENOTFOUND    a file, image, container or variable does not exist
 * SC_EEXISTS      the object to create already exists
 * SC_EIO          reading or writing a file or directory failed
 * SC_ETEMPLATE    a template has an invalid placeholder or an undefined
 *                 variable
 * SC_ESPEC        an OCI runtime configuration (config.json) is malformed
 *                 or violates the system-container contract
 * SC_EMANIFEST    an image's manifest.json is malformed
 * SC_ERUNTIME     the OCI runtime is missing or misbehaves
 * SC_EUNSUPPORTED the request is valid but not supported
 * SC_EDIGEST      data does not match its digest (a corrupt or forged
 *                 blob, manifest or layer), or image content names a
 *                 malformed digest
 * SC_EBUSY        the object is in use (an image a container runs from)
 * SC_EAUTH        a registry refused the credentials, or wants some
 * SC_ENETWORK     a registry could not be reached or answered wrongly
 * SC_EPERM        refused by policy: an update that adds privileges not accepted
 * SC_ESIGNATURE   refused by the signature policy (containers-policy.json):
 *                 a `reject` scope, or no signature that satisfies a
 *                 signedBy / sigstoreSigned requirement
 *                 (Since: 0.2)
 *
 * Since: 0.1
 */
typedef enum sc_code {
  SC_OK = 0,
  SC_EINVAL = -1,
  SC_ENOTFOUND = -2,
  SC_EEXISTS = -3,
  SC_EIO = -4,
  SC_ETEMPLATE = -5,
  SC_ESPEC = -6,
  SC_EMANIFEST = -7,
  SC_ERUNTIME = -8,
  SC_EUNSUPPORTED = -9,
  SC_EDIGEST = -10,
  SC_EBUSY = -11,
  SC_EAUTH = -12,
  SC_ENETWORK = -13,
  SC_EPERM = -14,
  SC_ESIGNATURE = -15
} sc_code;

/**
 * sc_error: details of a failure. Functions that can fail take an optional
 * `sc_error **error` as their last parameter; pass NULL to ignore details.
 * When a function fails and `error` is not NULL, `*error` must be NULL on
 * entry and receives a new error owned by the caller (free it with
 * sc_error_free()).
 *
 * Since: 0.1
 */
typedef struct sc_error sc_error;

/**
 * sc_error_code: the SC_E... code of @error, or SC_OK when @error is NULL.
 * Since: 0.1
 */
SC_API int sc_error_code(const sc_error *error);

/**
 * sc_error_message: a message that says what failed, on which object or
 * path, and why. Borrowed from @error; "" when @error is NULL.
 * Since: 0.1
 */
SC_API const char *sc_error_message(const sc_error *error);

/**
 * sc_error_free: frees @error. Accepts NULL.
 * Since: 0.1
 */
SC_API void sc_error_free(sc_error *error);

/**
 * sc_strerror: a short, static description of a return code
 * ("invalid argument" for SC_EINVAL). Never NULL.
 * Since: 0.1
 */
SC_API const char *sc_strerror(int code);

/**
 * sc_error_code_name: the name of a return code ("SC_EPERM" for SC_EPERM),
 * as --json documents give it in "code"; "SC_EUNKNOWN" for an unknown one.
 * Never NULL.
 * Since: 0.1
 */
SC_API const char *sc_error_code_name(int code);

/**
 * sc_free: frees a string or buffer returned by the library. Accepts NULL.
 * Since: 0.1
 */
SC_API void sc_free(void *ptr);

/**
 * sc_strv_free: frees a NULL-terminated array of strings returned by the
 * library, and its strings. Accepts NULL.
 * Since: 0.1
 */
SC_API void sc_strv_free(char **strv);

/**
 * sc_version: the library version, e.g. "0.1.0". Static storage.
 * Since: 0.1
 */
SC_API const char *sc_version(void);

#ifdef __cplusplus
}
#endif

#endif
