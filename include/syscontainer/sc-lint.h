/*
 * libsyscontainer: checks of an image's exports against the contract.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef SYSCONTAINER_SC_LINT_H
#define SYSCONTAINER_SC_LINT_H

#include <syscontainer/sc-common.h>
#include <syscontainer/sc-context.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * sc_lint: checks an image directory (as accepted by sc_exports_open(), and
 * its Dockerfile when there is one) against the image contract. Errors are
 * what would make an install fail; warnings are what works but is likely
 * wrong. See docs/image-contract.md for every check.
 *
 * @out_json: the report, owned by the caller (sc_free()):
 *   {"schema":1,"path":...,"errors":N,"warnings":N,
 *    "findings":[{"severity":"error"|"warning","file":...,"check":...,
 *                 "message":...}]}
 * @out_errors, @out_warnings: may be NULL; receive the counts.
 * Returns: SC_OK when the report was made (whatever it found),
 * SC_ENOTFOUND when @dir does not exist, SC_EINVAL.
 * Since: 0.1
 */
SC_API int sc_lint(sc_context *ctx,
                   const char *dir,
                   char **out_json,
                   int *out_errors,
                   int *out_warnings,
                   sc_error **error);

#ifdef __cplusplus
}
#endif

#endif
