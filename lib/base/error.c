/*
 * Errors: the public sc_error and its conversion from GError.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "base.h"

struct sc_error {
  int code;
  char *message;
};

G_DEFINE_QUARK(sc - error - quark, sc_error)

static sc_error *
sc_error_new_take(int code, char *message)
{
  sc_error *e = g_new0(sc_error, 1);
  e->code = code;
  e->message = message;
  return e;
}

int
sc_error_propagate(sc_error **error, GError *gerror)
{
  int code = SC_EIO;

  g_return_val_if_fail(gerror != NULL, SC_EIO);
  if (gerror->domain == SC_ERROR && gerror->code < 0)
    code = gerror->code;
  else if (g_error_matches(gerror, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ||
           g_error_matches(gerror, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    code = SC_ENOTFOUND;
  else if (g_error_matches(gerror, G_IO_ERROR, G_IO_ERROR_EXISTS) ||
           g_error_matches(gerror, G_FILE_ERROR, G_FILE_ERROR_EXIST))
    code = SC_EEXISTS;

  if (error != NULL && *error == NULL)
    *error = sc_error_new_take(code, g_strdup(gerror->message));
  g_error_free(gerror);
  return code;
}

int
sc_error_set(sc_error **error, int code, const char *format, ...)
{
  va_list ap;

  if (error == NULL || *error != NULL)
    return code;
  va_start(ap, format);
  *error = sc_error_new_take(code, g_strdup_vprintf(format, ap));
  va_end(ap);
  return code;
}

gboolean
sc_set_error_prefixed(GError **error, int code, const char *prefix, const char *format, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start(ap, format);
  msg = g_strdup_vprintf(format, ap);
  va_end(ap);
  g_set_error(error, SC_ERROR, code, "%s: %s", prefix, msg);
  return FALSE;
}

SC_API int
sc_error_code(const sc_error *error)
{
  return error ? error->code : SC_OK;
}

SC_API const char *
sc_error_message(const sc_error *error)
{
  return error ? error->message : "";
}

SC_API void
sc_error_free(sc_error *error)
{
  if (error == NULL)
    return;
  g_free(error->message);
  g_free(error);
}

SC_API const char *
sc_strerror(int code)
{
  switch (code) {
  case SC_OK:
    return "success";
  case SC_EINVAL:
    return "invalid argument";
  case SC_ENOTFOUND:
    return "not found";
  case SC_EEXISTS:
    return "already exists";
  case SC_EIO:
    return "input/output error";
  case SC_ETEMPLATE:
    return "template error";
  case SC_ESPEC:
    return "invalid runtime configuration";
  case SC_EMANIFEST:
    return "invalid image manifest";
  case SC_ERUNTIME:
    return "runtime error";
  case SC_EUNSUPPORTED:
    return "not supported";
  case SC_EDIGEST:
    return "digest mismatch";
  case SC_EBUSY:
    return "in use";
  case SC_EAUTH:
    return "authentication failed";
  case SC_ENETWORK:
    return "network error";
  case SC_EPERM:
    return "not permitted by policy";
  case SC_ESIGNATURE:
    return "refused by the signature policy";
  default:
    return "unknown error";
  }
}

SC_API const char *
sc_error_code_name(int code)
{
  static const struct {
    int code;
    const char *name;
  } names[] = {
    { SC_EINVAL, "SC_EINVAL" },
    { SC_ENOTFOUND, "SC_ENOTFOUND" },
    { SC_EEXISTS, "SC_EEXISTS" },
    { SC_EIO, "SC_EIO" },
    { SC_ETEMPLATE, "SC_ETEMPLATE" },
    { SC_ESPEC, "SC_ESPEC" },
    { SC_EMANIFEST, "SC_EMANIFEST" },
    { SC_ERUNTIME, "SC_ERUNTIME" },
    { SC_EUNSUPPORTED, "SC_EUNSUPPORTED" },
    { SC_EDIGEST, "SC_EDIGEST" },
    { SC_EBUSY, "SC_EBUSY" },
    { SC_EAUTH, "SC_EAUTH" },
    { SC_ENETWORK, "SC_ENETWORK" },
    { SC_EPERM, "SC_EPERM" },
    { SC_ESIGNATURE, "SC_ESIGNATURE" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(names); i++)
    if (names[i].code == code)
      return names[i].name;
  return "SC_EUNKNOWN";
}

SC_API void
sc_free(void *ptr)
{
  g_free(ptr);
}

SC_API void
sc_strv_free(char **strv)
{
  g_strfreev(strv);
}

SC_API const char *
sc_version(void)
{
  return SC_VERSION;
}
