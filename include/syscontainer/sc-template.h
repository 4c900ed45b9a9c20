/*
 * libsyscontainer: the $VARIABLE template language of system-container
 * images (Python string.Template, strict).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef SYSCONTAINER_SC_TEMPLATE_H
#define SYSCONTAINER_SC_TEMPLATE_H

#include <syscontainer/sc-common.h>
#include <syscontainer/sc-values.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * sc_template_render: substitutes $NAME and ${NAME} with values from
 * @values and $$ with $, as Python's string.Template.substitute() does.
 * Substitution is plain text: values are inserted byte for byte, with no
 * escaping. Everything else is copied unchanged.
 *
 * @label: the template's name for error messages (a file path), may be NULL.
 * @text: the template; @length bytes (it may contain NUL bytes).
 * @out_text: receives the result, NUL-terminated, owned by the caller
 *            (sc_free()).
 * @out_length: may be NULL; receives the result's length.
 * Returns: SC_OK; SC_ETEMPLATE for an invalid placeholder (a '$' followed
 * by neither '$', an identifier nor '{identifier}'; the message gives line
 * and column as Python counts them) or an undefined variable (the message
 * names @label and the variable); SC_EINVAL for NULL arguments.
 * Since: 0.1
 */
SC_API int sc_template_render(const char *label,
                              const char *text,
                              size_t length,
                              const sc_values *values,
                              char **out_text,
                              size_t *out_length,
                              sc_error **error);

/**
 * sc_template_variables: the variables that @text uses, each once, in order
 * of first use.
 * @out_names: a NULL-terminated array owned by the caller (sc_strv_free()).
 * Returns: SC_OK, SC_ETEMPLATE for an invalid placeholder, SC_EINVAL.
 * Since: 0.1
 */
SC_API int sc_template_variables(const char *label,
                                 const char *text,
                                 size_t length,
                                 char ***out_names,
                                 sc_error **error);

#ifdef __cplusplus
}
#endif

#endif
