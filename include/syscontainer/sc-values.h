/*
 * libsyscontainer: sets of template values (KEY=VALUE).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef SYSCONTAINER_SC_VALUES_H
#define SYSCONTAINER_SC_VALUES_H

#include <syscontainer/sc-common.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * sc_values: a set of template variables, each a key that is a template
 * identifier ([_A-Za-z][_A-Za-z0-9]*) with a string value. Keys are kept
 * sorted (byte order), so iteration is deterministic.
 *
 * Since: 0.1
 */
typedef struct sc_values sc_values;

/**
 * sc_values_new: an empty set.
 * @out_values: owned by the caller (sc_values_free()).
 * Returns: SC_OK or SC_EINVAL.
 * Since: 0.1
 */
SC_API int sc_values_new(sc_values **out_values, sc_error **error);

/** sc_values_free: accepts NULL. Since: 0.1 */
SC_API void sc_values_free(sc_values *values);

/**
 * sc_values_copy: a new set with the same keys and values.
 * Returns: SC_OK or SC_EINVAL.
 * Since: 0.1
 */
SC_API int sc_values_copy(const sc_values *values, sc_values **out_values, sc_error **error);

/**
 * sc_values_set: sets @key to @value (copied), replacing any previous
 * value. @value may be empty but not NULL, and must be valid UTF-8.
 * Returns: SC_OK, or SC_EINVAL when @key is not an identifier.
 * Since: 0.1
 */
SC_API int sc_values_set(sc_values *values, const char *key, const char *value, sc_error **error);

/**
 * sc_values_parse: sets a value from a "KEY=VALUE" assignment, as given to
 * --set. The value is everything after the first '='; it may be empty.
 * Returns: SC_OK, or SC_EINVAL when there is no '=' or KEY is not an
 * identifier.
 * Since: 0.1
 */
SC_API int sc_values_parse(sc_values *values, const char *assignment, sc_error **error);

/**
 * sc_values_unset: removes @key. Removing a missing key is not an error.
 * Returns: SC_OK or SC_EINVAL.
 * Since: 0.1
 */
SC_API int sc_values_unset(sc_values *values, const char *key, sc_error **error);

/**
 * sc_values_get: the value of @key, borrowed (valid until the set
 * changes), or NULL when unset.
 * Since: 0.1
 */
SC_API const char *sc_values_get(const sc_values *values, const char *key);

/** sc_values_count: the number of keys. Since: 0.1 */
SC_API size_t sc_values_count(const sc_values *values);

/**
 * sc_values_key_at: the key at @index in sorted order, borrowed, or NULL
 * when @index is out of range.
 * Since: 0.1
 */
SC_API const char *sc_values_key_at(const sc_values *values, size_t index);

/**
 * sc_values_to_json: the set as a JSON object {"KEY": "VALUE", ...}.
 * @out_json: owned by the caller (sc_free()).
 * Returns: SC_OK or SC_EINVAL.
 * Since: 0.1
 */
SC_API int sc_values_to_json(const sc_values *values, char **out_json, sc_error **error);

#ifdef __cplusplus
}
#endif

#endif
