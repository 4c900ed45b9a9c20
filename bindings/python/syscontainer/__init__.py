"""Python binding for libsyscontainer, over its public C API with ctypes.

    import syscontainer
    ctx = syscontainer.Context(runtime="runc")
    r = ctx.render("/path/to/image", name="etcd", values={"ETCD_NAME": "one"})
    print(r.unit)

Errors raise syscontainer.Error, whose ``code`` is the library's SC_E... name
and whose ``message`` is the library's message. The library is loaded from
$SC_LIBRARY when set, else as libsyscontainer.so.0.
"""

import ctypes
import json
import os

__all__ = ["Error", "Context", "Rendering", "render_template", "template_variables",
           "version", "CODES"]

CODES = {
    0: "SC_OK", -1: "SC_EINVAL", -2: "SC_ENOTFOUND", -3: "SC_EEXISTS", -4: "SC_EIO",
    -5: "SC_ETEMPLATE", -6: "SC_ESPEC", -7: "SC_EMANIFEST", -8: "SC_ERUNTIME",
    -9: "SC_EUNSUPPORTED", -10: "SC_EDIGEST", -11: "SC_EBUSY",
    -12: "SC_EAUTH", -13: "SC_ENETWORK", -14: "SC_EPERM", -15: "SC_ESIGNATURE",
}

_lib = ctypes.CDLL(os.environ.get("SC_LIBRARY") or "libsyscontainer.so.0")

_p = ctypes.c_void_p
_pp = ctypes.POINTER(ctypes.c_void_p)
_s = ctypes.c_char_p
_int = ctypes.c_int
_size = ctypes.c_size_t


def _fn(name, restype, *argtypes):
    f = getattr(_lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


_sc_error_code = _fn("sc_error_code", _int, _p)
_sc_error_message = _fn("sc_error_message", _s, _p)
_sc_error_free = _fn("sc_error_free", None, _p)
_sc_free = _fn("sc_free", None, _p)
_sc_strv_free = _fn("sc_strv_free", None, _p)
_sc_version = _fn("sc_version", _s)
_sc_context_new = _fn("sc_context_new", _int, _pp, _pp)
_sc_context_free = _fn("sc_context_free", None, _p)
_sc_context_set = {
    k: _fn("sc_context_set_" + k, _int, _p, _s, _pp)
    for k in ("sysroot", "checkout_root", "repo", "runtime", "tool_path", "signature_policy",
              "registries_d")
}
_sc_context_get = {
    k: _fn("sc_context_get_" + k, _s, _p)
    for k in ("sysroot", "checkout_root", "repo", "tool_path", "config_file", "runtime")
}
_sc_context_load_config = _fn("sc_context_load_config", _int, _p, _pp)
_sc_context_find_runtime = _fn("sc_context_find_runtime", _int, _p, _pp, _pp)
_sc_context_get_selinux_policy = _fn("sc_context_get_selinux_policy", _int, _p,
                                     ctypes.POINTER(_s), _pp)
_sc_context_set_layer_limits = _fn("sc_context_set_layer_limits", _int, _p, ctypes.c_uint64,
                                   ctypes.c_uint64, _pp)
_sc_context_set_layer_path_limits = _fn("sc_context_set_layer_path_limits", _int, _p,
                                        ctypes.c_uint32, ctypes.c_uint32, _pp)
_sc_context_set_render_limit = _fn("sc_context_set_render_limit", _int, _p, ctypes.c_uint64,
                                   _pp)
_sc_values_new = _fn("sc_values_new", _int, _pp, _pp)
_sc_context_set_user_mode = _fn("sc_context_set_user_mode", _int, _p, ctypes.c_int, _pp)
_sc_context_get_user_mode = _fn("sc_context_get_user_mode", _int, _p)
_USER_MODES = {"auto": 0, "system": 1, "user": 2}
_sc_values_free = _fn("sc_values_free", None, _p)
_sc_values_set = _fn("sc_values_set", _int, _p, _s, _s, _pp)
_sc_values_to_json = _fn("sc_values_to_json", _int, _p, _pp, _pp)
_sc_template_render = _fn("sc_template_render", _int, _s, _s, _size, _p, _pp,
                          ctypes.POINTER(_size), _pp)
_sc_template_variables = _fn("sc_template_variables", _int, _s, _s, _size,
                             ctypes.POINTER(ctypes.POINTER(_s)), _pp)
_sc_exports_open = _fn("sc_exports_open", _int, _s, _pp, _pp)
_sc_exports_free = _fn("sc_exports_free", None, _p)
_sc_exports_variables_json = _fn("sc_exports_variables_json", _int, _p, _pp, _pp)
_sc_render_opts_new = _fn("sc_render_opts_new", _int, _pp, _pp)
_sc_render_opts_free = _fn("sc_render_opts_free", None, _p)
_sc_render_opts_set_name = _fn("sc_render_opts_set_name", _int, _p, _s, _pp)
_sc_render_opts_set_values = _fn("sc_render_opts_set_values", _int, _p, _p, _pp)
_sc_render_opts_set_strict = _fn("sc_render_opts_set_strict", _int, _p, _int, _pp)
_sc_render_opts_set_image = _fn("sc_render_opts_set_image", _int, _p, _s, _s, _pp)
_sc_render_opts_set_slot = _fn("sc_render_opts_set_slot", _int, _p, _int, _pp)
_sc_render_opts_set_remote_rootfs = _fn("sc_render_opts_set_remote_rootfs", _int, _p, _s, _pp)
_sc_exports_render = _fn("sc_exports_render", _int, _p, _p, _p, _pp, _pp)
_sc_rendering_free = _fn("sc_rendering_free", None, _p)
_sc_rendering_write = _fn("sc_rendering_write", _int, _p, _s, _pp)
_sc_rendering_to_json = _fn("sc_rendering_to_json", _int, _p, _pp, _pp)
_sc_lint = _fn("sc_lint", _int, _p, _s, _pp, ctypes.POINTER(_int), ctypes.POINTER(_int), _pp)
_PROGRESS = ctypes.CFUNCTYPE(None, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint,
                             ctypes.c_uint, ctypes.c_void_p)
_sc_context_set_progress_func = _fn("sc_context_set_progress_func", None, _p, _PROGRESS, _p)
_sc_pull_opts_new = _fn("sc_pull_opts_new", _int, _pp, _pp)
_sc_pull_opts_free = _fn("sc_pull_opts_free", None, _p)
_sc_pull_opts_set_name = _fn("sc_pull_opts_set_name", _int, _p, _s, _pp)
_sc_pull_opts_set_platform = _fn("sc_pull_opts_set_platform", _int, _p, _s, _pp)
_sc_pull_opts_set_jobs = _fn("sc_pull_opts_set_jobs", _int, _p, _int, _pp)
_sc_pull_opts_set_credentials = _fn("sc_pull_opts_set_credentials", _int, _p, _s, _s, _pp)
_sc_pull_opts_set_tls_verify = _fn("sc_pull_opts_set_tls_verify", _int, _p, _int, _pp)
_sc_pull_opts_set_authfile = _fn("sc_pull_opts_set_authfile", _int, _p, _s, _pp)
_sc_pull_opts_set_registries_conf = _fn("sc_pull_opts_set_registries_conf", _int, _p, _s, _pp)
_sc_pull_opts_set_cert_dir = _fn("sc_pull_opts_set_cert_dir", _int, _p, _s, _pp)
_sc_image_inspect_remote_json = _fn("sc_image_inspect_remote_json", _int, _p, _s, _p, _pp, _pp)
_sc_images_update_json = _fn("sc_images_update_json", _int, _p, _s, _p, _pp, _pp)
_sc_install_opts_new = _fn("sc_install_opts_new", _int, _pp, _pp)
_sc_install_opts_free = _fn("sc_install_opts_free", None, _p)
_sc_install_opts_set_name = _fn("sc_install_opts_set_name", _int, _p, _s, _pp)
_sc_install_opts_set_values = _fn("sc_install_opts_set_values", _int, _p, _p, _pp)
_sc_install_opts_set_pull_opts = _fn("sc_install_opts_set_pull_opts", _int, _p, _p, _pp)
_sc_install_opts_set_enable = _fn("sc_install_opts_set_enable", _int, _p, _int, _pp)
_sc_install_opts_set_start = _fn("sc_install_opts_set_start", _int, _p, _int, _pp)
_sc_install_opts_set_dry_run = _fn("sc_install_opts_set_dry_run", _int, _p, _int, _pp)
_sc_install_opts_set_strict = _fn("sc_install_opts_set_strict", _int, _p, _int, _pp)
_sc_install_opts_set_rootfs = _fn("sc_install_opts_set_rootfs", _int, _p, _s, _pp)
_sc_install_opts_set_auto_update = _fn("sc_install_opts_set_auto_update", _int, _p, _s, _pp)
_sc_container_install = _fn("sc_container_install", _int, _p, _s, _p, _pp, _pp)
_sc_container_uninstall = _fn("sc_container_uninstall", _int, _p, _s, _pp, _pp)
_sc_containers_list_json = _fn("sc_containers_list_json", _int, _p, _pp, _pp)
_sc_update_opts_new = _fn("sc_update_opts_new", _int, _pp, _pp)
_sc_update_opts_free = _fn("sc_update_opts_free", None, _p)
_sc_update_opts_set_rebase = _fn("sc_update_opts_set_rebase", _int, _p, _s, _pp)
_sc_update_opts_set_values = _fn("sc_update_opts_set_values", _int, _p, _p, _pp)
_sc_update_opts_set_pull_opts = _fn("sc_update_opts_set_pull_opts", _int, _p, _p, _pp)
_sc_update_opts_set_controlled = _fn("sc_update_opts_set_controlled", _int, _p, _int,
                                     ctypes.c_uint, _pp)
_sc_update_opts_set_accept_privileges = _fn("sc_update_opts_set_accept_privileges", _int, _p,
                                            _int, _pp)
_sc_update_opts_set_dry_run = _fn("sc_update_opts_set_dry_run", _int, _p, _int, _pp)
_sc_update_opts_set_strict = _fn("sc_update_opts_set_strict", _int, _p, _int, _pp)
_sc_update_opts_set_auto_update = _fn("sc_update_opts_set_auto_update", _int, _p, _s, _pp)
_sc_update_opts_set_auto = _fn("sc_update_opts_set_auto", _int, _p, _int, _pp)
_sc_container_update_with_opts = _fn("sc_container_update_with_opts", _int, _p, _s, _p, _pp,
                                     _pp)
_sc_image_run = _fn("sc_image_run", _int, _p, _s, _p, _p, ctypes.POINTER(_s), ctypes.POINTER(_int),
                    _pp)
_sc_run_opts_new = _fn("sc_run_opts_new", _int, _pp, _pp)
_sc_run_opts_free = _fn("sc_run_opts_free", None, _p)
_sc_run_opts_set_values = _fn("sc_run_opts_set_values", _int, _p, _p, _pp)
_sc_run_opts_set_pull_opts = _fn("sc_run_opts_set_pull_opts", _int, _p, _p, _pp)
_sc_run_opts_set_strict = _fn("sc_run_opts_set_strict", _int, _p, _int, _pp)
_sc_image_run_with_opts = _fn("sc_image_run_with_opts", _int, _p, _s, _p, ctypes.POINTER(_s),
                              ctypes.POINTER(_int), _pp)
_sc_containers_update_all_json = _fn("sc_containers_update_all_json", _int, _p, _p, _pp, _pp)
_sc_container_rollback = _fn("sc_container_rollback", _int, _p, _s, _pp, _pp)
_sc_container_inspect_json = _fn("sc_container_inspect_json", _int, _p, _s, _pp, _pp)
_sc_mount = _fn("sc_mount", _int, _p, _s, _s, _pp, _pp)
_sc_umount = _fn("sc_umount", _int, _p, _s, _pp, _pp)
_sc_container_start = _fn("sc_container_start", _int, _p, _s, _pp)
_sc_container_stop = _fn("sc_container_stop", _int, _p, _s, _pp)
_sc_container_run = _fn("sc_container_run", _int, _p, _s, ctypes.POINTER(_s),
                        ctypes.POINTER(_int), _pp)
_sc_image_pull = _fn("sc_image_pull", _int, _p, _s, _p, _pp, _pp)
_sc_images_list_json = _fn("sc_images_list_json", _int, _p, _pp, _pp)
_sc_context_info_json = _fn("sc_context_info_json", _int, _p, _pp, _pp)
_sc_trust_show_json = _fn("sc_trust_show_json", _int, _p, _pp, _pp)
_sc_trust_set = _fn("sc_trust_set", _int, _p, _s, _s, ctypes.POINTER(_s), _s, _pp)
_sc_trust_default = _fn("sc_trust_default", _int, _p, _s, _pp)
_sc_image_inspect_json = _fn("sc_image_inspect_json", _int, _p, _s, _pp, _pp)
_sc_image_tag = _fn("sc_image_tag", _int, _p, _s, _s, _pp)
_sc_image_delete = _fn("sc_image_delete", _int, _p, _s, _int, _pp)
_sc_images_prune = _fn("sc_images_prune", _int, _p, _pp, _pp)
_sc_image_verify = _fn("sc_image_verify", _int, _p, _s, _pp, ctypes.POINTER(_int), _pp)
_sc_image_checkout = _fn("sc_image_checkout", _int, _p, _s, _s, _pp)


class Error(Exception):
    """A libsyscontainer failure: ``code`` (e.g. "SC_ETEMPLATE"), ``message``."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def _enc_text(s):
    """Bytes of a text passed with its length: it may hold NUL bytes."""
    if s is None:
        return None
    if isinstance(s, bytes):
        return s
    return os.fsencode(s) if isinstance(s, os.PathLike) else str(s).encode("utf-8")


def _enc(s):
    """Bytes of a C string argument. C would end it at the first NUL, so
    that "nul\\0../../x" would reach the library as "nul": refused here,
    before anything is called."""
    b = _enc_text(s)
    if b is not None and b"\0" in b:
        raise ValueError("string argument %r contains a NUL byte" % (s,))
    return b


def _call(func, *args):
    """Calls a C function whose last parameter is sc_error **; raises Error."""
    err = ctypes.c_void_p()
    rc = func(*args, ctypes.byref(err))
    if rc != 0:
        msg = _sc_error_message(err).decode("utf-8", "replace") if err else ""
        _sc_error_free(err)
        raise Error(CODES.get(rc, "SC_E%d" % rc), msg)


def _take_string(ptr):
    try:
        return ctypes.string_at(ptr.value).decode("utf-8")
    finally:
        _sc_free(ptr)


def version():
    """The library version string."""
    return _sc_version().decode()


class _Values:
    def __init__(self, mapping):
        self._ptr = ctypes.c_void_p()
        _call(_sc_values_new, ctypes.byref(self._ptr))
        try:
            for k, v in (mapping or {}).items():
                _call(_sc_values_set, self._ptr, _enc(k), _enc(v))
        except Exception:
            self.close()
            raise

    def close(self):
        if self._ptr:
            _sc_values_free(self._ptr)
            self._ptr = ctypes.c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def render_template(text, values, label=None):
    """Renders a $VARIABLE template (Python string.Template, strict)."""
    data = _enc_text(text)
    out = ctypes.c_void_p()
    length = _size()
    with _Values(values) as v:
        _call(_sc_template_render, _enc(label), data, len(data), v._ptr, ctypes.byref(out),
              ctypes.byref(length))
    try:
        return ctypes.string_at(out.value, length.value).decode("utf-8")
    finally:
        _sc_free(out)


def template_variables(text, label=None):
    """The variables a template uses, in order of first use."""
    data = _enc_text(text)
    names = ctypes.POINTER(_s)()
    _call(_sc_template_variables, _enc(label), data, len(data), ctypes.byref(names))
    result = []
    i = 0
    while names[i] is not None:
        result.append(names[i].decode())
        i += 1
    _sc_strv_free(ctypes.cast(names, ctypes.c_void_p))
    return result


class Rendering:
    """The files an install writes for a container (see sc_exports_render)."""

    def __init__(self, ptr):
        self._ptr = ptr
        out = ctypes.c_void_p()
        _call(_sc_rendering_to_json, self._ptr, ctypes.byref(out))
        self._doc = json.loads(_take_string(out))

    name = property(lambda self: self._doc["name"])
    detached = property(lambda self: self._doc["detached"])
    values = property(lambda self: dict(self._doc["values"]))
    files = property(lambda self: dict(self._doc["files"]))
    config = property(lambda self: self._doc["files"]["config.json"])
    unit = property(lambda self: self._doc["files"]["%s.service" % self.name])
    tmpfiles = property(lambda self: self._doc["files"]["tmpfiles-%s.conf" % self.name])
    missing_bind_sources = property(lambda self: list(self._doc["missing_bind_sources"]))
    # one per value the image declares no variable for (render(strict=False))
    warnings = property(lambda self: list(self._doc["warnings"]))

    def as_dict(self):
        return json.loads(json.dumps(self._doc))

    def write(self, directory):
        """Writes config.json, NAME.service and tmpfiles-NAME.conf into directory."""
        _call(_sc_rendering_write, self._ptr, _enc(directory))

    def close(self):
        if self._ptr:
            _sc_rendering_free(self._ptr)
            self._ptr = None

    def __del__(self):
        self.close()


class Context:
    """Where operations act and which runtime they use (sc_context)."""

    def __init__(self, sysroot=None, checkout_root=None, repo=None, runtime=None,
                 signature_policy=None, registries_d=None, mode=None):
        self._ptr = ctypes.c_void_p()
        _call(_sc_context_new, ctypes.byref(self._ptr))
        try:
            if mode is not None:
                self.set_mode(mode)
            for key, value in (("sysroot", sysroot), ("checkout_root", checkout_root),
                               ("repo", repo), ("runtime", runtime),
                               ("signature_policy", signature_policy),
                               ("registries_d", registries_d)):
                if value is not None:
                    _call(_sc_context_set[key], self._ptr, _enc(value))
        except Exception:
            self.close()
            raise

    def _get(self, key):
        v = _sc_context_get[key](self._ptr)
        return v.decode() if v is not None else None

    sysroot = property(lambda self: self._get("sysroot"))
    checkout_root = property(lambda self: self._get("checkout_root"))
    repo = property(lambda self: self._get("repo"))
    # the runtime in effect, as configured (find_runtime() resolves it)
    runtime = property(lambda self: self._get("runtime"))
    # the atomic.conf that was read ($ATOMIC_CONF or SYSROOT/etc/atomic.conf), or None
    config_file = property(lambda self: self._get("config_file"))

    def set_mode(self, mode):
        """"system" (root's containers, root only), "user" (the caller's
        own, refused to root) or "auto" (user unless root), as --system and
        --user (docs/containers.md, "User containers")."""
        if mode not in _USER_MODES:
            raise ValueError("mode %r: expected 'auto', 'system' or 'user'" % (mode,))
        _call(_sc_context_set_user_mode, self._ptr, _USER_MODES[mode])

    # True when the context acts for the caller's own (user) containers
    user_mode = property(lambda self: bool(_sc_context_get_user_mode(self._ptr)))

    def load_config(self):
        """Reads atomic.conf now; raises its error (file, line, reason) if
        it cannot be read or parsed. Operations read it anyway when they
        first need it."""
        _call(_sc_context_load_config, self._ptr)

    def set_limits(self, layer_bytes=0, layer_entries=0, path_depth=0, path_bytes=0,
                   rendered_bytes=0):
        """Bounds what hostile content may cost (docs/security.md, "Limits"):
        bytes and entries of a layer, depth and length of its paths, size of
        a rendered file. 0 keeps a limit as it is."""
        for name, value in (("layer_bytes", layer_bytes), ("layer_entries", layer_entries),
                            ("path_depth", path_depth), ("path_bytes", path_bytes),
                            ("rendered_bytes", rendered_bytes)):
            if not isinstance(value, int) or value < 0:
                raise ValueError("%s: a whole number of at least 0 is needed" % name)
        if path_depth >= 1 << 32 or path_bytes >= 1 << 32:
            raise ValueError("path_depth and path_bytes must be below 2**32")
        _call(_sc_context_set_layer_limits, self._ptr, layer_bytes, layer_entries)
        _call(_sc_context_set_layer_path_limits, self._ptr, path_depth, path_bytes)
        _call(_sc_context_set_render_limit, self._ptr, rendered_bytes)

    @property
    def selinux_policy(self):
        """The SELinux policy (SELINUXTYPE) files are labelled with: the
        target root's (the sysroot's, else the host's), or None when it has
        none or says SELINUX=disabled. Raises Error when its config is
        malformed or its file_contexts missing or invalid."""
        out = _s()
        _call(_sc_context_get_selinux_policy, self._ptr, ctypes.byref(out))
        return out.value.decode() if out.value is not None else None

    def find_runtime(self):
        """The absolute path of the OCI runtime."""
        out = ctypes.c_void_p()
        _call(_sc_context_find_runtime, self._ptr, ctypes.byref(out))
        return _take_string(out)

    def render(self, directory, name, values=None, image_name=None, image_id=None, slot=0,
               remote_rootfs=None, strict=False):
        """Renders an image's exports as an install would; returns a Rendering.
        A value the image declares no variable for is in its warnings, or
        with strict raises Error(EINVAL)."""
        ex = ctypes.c_void_p()
        opts = ctypes.c_void_p()
        rendering = ctypes.c_void_p()
        _call(_sc_exports_open, _enc(directory), ctypes.byref(ex))
        try:
            _call(_sc_render_opts_new, ctypes.byref(opts))
            _call(_sc_render_opts_set_name, opts, _enc(name))
            with _Values(values) as v:
                _call(_sc_render_opts_set_values, opts, v._ptr)
            _call(_sc_render_opts_set_strict, opts, 1 if strict else 0)
            _call(_sc_render_opts_set_image, opts, _enc(image_name), _enc(image_id))
            _call(_sc_render_opts_set_slot, opts, slot)
            if remote_rootfs is not None:
                _call(_sc_render_opts_set_remote_rootfs, opts, _enc(remote_rootfs))
            _call(_sc_exports_render, self._ptr, ex, opts, ctypes.byref(rendering))
        finally:
            _sc_render_opts_free(opts)
            _sc_exports_free(ex)
        return Rendering(rendering)

    def variables(self, directory):
        """The variables an image's templates use, with where they come from."""
        ex = ctypes.c_void_p()
        out = ctypes.c_void_p()
        _call(_sc_exports_open, _enc(directory), ctypes.byref(ex))
        try:
            _call(_sc_exports_variables_json, ex, ctypes.byref(out))
        finally:
            _sc_exports_free(ex)
        return json.loads(_take_string(out))["variables"]

    def lint(self, directory):
        """Checks an image directory; returns the report as a dict."""
        out = ctypes.c_void_p()
        errors = _int()
        warnings = _int()
        _call(_sc_lint, self._ptr, _enc(directory), ctypes.byref(out), ctypes.byref(errors),
              ctypes.byref(warnings))
        return json.loads(_take_string(out))

    # -- the image store ------------------------------------------------

    def _json_call(self, func, *args):
        out = ctypes.c_void_p()
        _call(func, self._ptr, *args, ctypes.byref(out))
        return json.loads(_take_string(out))

    @staticmethod
    def _pull_opts(name=None, platform=None, jobs=None, creds=None, tls_verify=True,
                   authfile=None, registries_conf=None, cert_dir=None):
        opts = ctypes.c_void_p()
        _call(_sc_pull_opts_new, ctypes.byref(opts))
        try:
            if name is not None:
                _call(_sc_pull_opts_set_name, opts, _enc(name))
            if platform is not None:
                _call(_sc_pull_opts_set_platform, opts, _enc(platform))
            if jobs is not None:
                _call(_sc_pull_opts_set_jobs, opts, jobs)
            if creds is not None:
                _call(_sc_pull_opts_set_credentials, opts, _enc(creds[0]), _enc(creds[1]))
            if not tls_verify:
                _call(_sc_pull_opts_set_tls_verify, opts, 0)
            for setter, value in ((_sc_pull_opts_set_authfile, authfile),
                                  (_sc_pull_opts_set_registries_conf, registries_conf),
                                  (_sc_pull_opts_set_cert_dir, cert_dir)):
                if value is not None:
                    _call(setter, opts, _enc(value))
        except Exception:
            _sc_pull_opts_free(opts)
            raise
        return opts

    def pull(self, source, progress=None, **options):
        """Imports an image (a registry reference, oci:DIR[:TAG],
        oci-archive:FILE[:TAG], docker-archive:FILE, docker:NAME[:TAG] from
        the Docker daemon on $DOCKER_HOST); returns the pull report.
        options: name, platform, jobs, creds=(user, password), tls_verify,
        authfile, registries_conf, cert_dir. progress, if given, is called as
        progress(bytes_done, bytes_total, layers_done, layers_total)."""
        opts = self._pull_opts(**options)
        callback = None
        try:
            if progress is not None:
                callback = _PROGRESS(lambda d, t, ld, lt, _: progress(d, t, ld, lt))
                _sc_context_set_progress_func(self._ptr, callback, None)
            return self._json_call(_sc_image_pull, _enc(source), opts)
        finally:
            if callback is not None:
                _sc_context_set_progress_func(self._ptr, _PROGRESS(), None)
            _sc_pull_opts_free(opts)

    def inspect_remote(self, source, **options):
        """An image in its registry, without storing it (options as for pull)."""
        opts = self._pull_opts(**options)
        try:
            return self._json_call(_sc_image_inspect_remote_json, _enc(source), opts)
        finally:
            _sc_pull_opts_free(opts)

    def update_images(self, image=None, **options):
        """Pulls the image (None: every image) whose registry digest changed;
        returns the per-image report. An image not from a registry (oci:,
        oci-archive:, docker-archive:, localhost/, kept by ID only) is not
        asked about: its entry has "skipped" (the reason)."""
        opts = self._pull_opts(**options)
        try:
            return self._json_call(_sc_images_update_json, _enc(image), opts)["images"]
        finally:
            _sc_pull_opts_free(opts)

    # -- containers -------------------------------------------------------

    def install(self, image, name=None, values=None, enable=True, start=False, dry_run=False,
                rootfs=None, auto_update=None, strict=False, **pull_options):
        """Installs a system container; returns the install report (name,
        deployment, files, actions). An atomic.run=once image is run once
        instead, with this process's standard streams, and nothing is kept:
        the report has "run_once" and "exit_status". rootfs: run from that
        existing root instead of a checkout (atomic's --rootfs; links on the
        way are resolved in the sysroot). A container already installed from
        the same image with the same values and rootfs: nothing is done, the
        report has "already_installed": True; with another image or values
        an Error says to use update(). auto_update: "registry" or "disabled"
        (None: the image's io.containers.autoupdate label decides), recorded
        in the container's info. A value the image declares no variable for
        is in the report's "warnings", or with strict raises Error(EINVAL)
        before anything is written. pull_options as for pull()."""
        opts = ctypes.c_void_p()
        popts = self._pull_opts(**pull_options)
        try:
            _call(_sc_install_opts_new, ctypes.byref(opts))
            if name is not None:
                _call(_sc_install_opts_set_name, opts, _enc(name))
            with _Values(values) as v:
                _call(_sc_install_opts_set_values, opts, v._ptr)
            _call(_sc_install_opts_set_pull_opts, opts, popts)
            _call(_sc_install_opts_set_enable, opts, 1 if enable else 0)
            _call(_sc_install_opts_set_start, opts, 1 if start else 0)
            _call(_sc_install_opts_set_dry_run, opts, 1 if dry_run else 0)
            _call(_sc_install_opts_set_rootfs, opts, _enc(rootfs))
            _call(_sc_install_opts_set_auto_update, opts, _enc(auto_update))
            _call(_sc_install_opts_set_strict, opts, 1 if strict else 0)
            return self._json_call(_sc_container_install, _enc(image), opts)
        finally:
            _sc_install_opts_free(opts)
            _sc_pull_opts_free(popts)

    def uninstall(self, name):
        """Removes a container (idempotent); returns the report ("kept" files)."""
        return self._json_call(_sc_container_uninstall, _enc(name))

    def _update_opts(self, rebase, values, controlled, settle, popts,
                     accept_privileges=False, dry_run=False, auto_update=None, auto=False,
                     strict=False):
        opts = ctypes.c_void_p()
        _call(_sc_update_opts_new, ctypes.byref(opts))
        try:
            with _Values(values) as v:
                _call(_sc_update_opts_set_values, opts, v._ptr)
            _call(_sc_update_opts_set_rebase, opts, _enc(rebase))
            _call(_sc_update_opts_set_pull_opts, opts, popts)
            _call(_sc_update_opts_set_controlled, opts, 1 if controlled else 0,
                  int((settle or 0) * 1000))
            _call(_sc_update_opts_set_accept_privileges, opts, 1 if accept_privileges else 0)
            _call(_sc_update_opts_set_dry_run, opts, 1 if dry_run else 0)
            _call(_sc_update_opts_set_auto_update, opts, _enc(auto_update))
            _call(_sc_update_opts_set_auto, opts, 1 if auto else 0)
            _call(_sc_update_opts_set_strict, opts, 1 if strict else 0)
        except BaseException:
            _sc_update_opts_free(opts)
            raise
        return opts

    def update(self, name, rebase=None, values=None, controlled=False, settle=None,
               accept_privileges=False, dry_run=False, auto_update=None, strict=False,
               **pull_options):
        """Moves a container to its image's current version (or rebase);
        returns the report ("updated", "deployment", "restarted",
        "privileges": {"added", "removed"}). With controlled, a unit that
        does not stay up for settle seconds (default 5) is rolled back and
        Error(ERUNTIME) raised. An update that adds privileges raises
        Error(EPERM) unless accept_privileges; dry_run changes nothing and
        reports "would_update" and "privileges". auto_update ("registry" or
        "disabled") changes the container's automatic-update policy. A user
        value the new image declares no variable for is in "warnings", or
        with strict raises Error(EINVAL) before anything changes."""
        popts = self._pull_opts(**pull_options)
        opts = None
        try:
            opts = self._update_opts(rebase, values, controlled, settle, popts,
                                     accept_privileges, dry_run, auto_update, strict=strict)
            return self._json_call(_sc_container_update_with_opts, _enc(name), opts)
        finally:
            _sc_update_opts_free(opts)
            _sc_pull_opts_free(popts)

    def update_all(self, values=None, settle=None, accept_privileges=False, dry_run=False,
                   auto=False, **pull_options):
        """Updates every container (controlled); returns the entries
        ("name", "updated", "error", "rolled_back", "privileges"); one refused
        by the privilege review does not stop the others. auto: only those
        that opted in to automatic updates, their images pulled from their
        registries first; the others "skipped" (docs/containers.md)."""
        popts = self._pull_opts(**pull_options)
        opts = None
        try:
            opts = self._update_opts(None, values, True, settle, popts, accept_privileges,
                                     dry_run, None, auto)
            return self._json_call(_sc_containers_update_all_json, opts)["containers"]
        finally:
            _sc_update_opts_free(opts)
            _sc_pull_opts_free(popts)

    def rollback(self, name):
        """Switches a container back to its previous deployment."""
        return self._json_call(_sc_container_rollback, _enc(name))

    def inspect_container(self, name):
        """An installed container: info, config and state."""
        return self._json_call(_sc_container_inspect_json, _enc(name))

    def mount(self, what, directory):
        """An installed container's rootfs (by name) or an image, read-only
        on the absolute path @directory (an image's into an empty one):
        dict with dir, type, mounted, and an image's reference, name and
        id, or a container's name, image and id."""
        return self._json_call(_sc_mount, _enc(what), _enc(directory))

    def umount(self, directory):
        """Undoes mount() (or atomic's): dict with dir, type and mounted
        (false)."""
        return self._json_call(_sc_umount, _enc(directory))

    def start(self, name):
        _call(_sc_container_start, self._ptr, _enc(name))

    def stop(self, name):
        _call(_sc_container_stop, self._ptr, _enc(name))

    def run(self, name, args=None):
        """Runs args (default: the container's process) in the container with
        this process's stdio; returns the exit status."""
        argv = (_s * (len(args or []) + 1))(*[_enc(a) for a in (args or [])], None)
        status = _int()
        _call(_sc_container_run, self._ptr, _enc(name), argv, ctypes.byref(status))
        return status.value

    def run_image(self, image, args=None, values=None, strict=False, **pull_options):
        """Runs an image once, without installing it (pulled when missing),
        with this process's stdio; returns the exit status. A value the image
        declares no variable for is logged as a warning before the command
        runs, or with strict raises Error(EINVAL) before anything runs."""
        argv = (_s * (len(args or []) + 1))(*[_enc(a) for a in (args or [])], None)
        status = _int()
        opts = ctypes.c_void_p()
        popts = self._pull_opts(**pull_options)
        try:
            _call(_sc_run_opts_new, ctypes.byref(opts))
            with _Values(values) as v:
                _call(_sc_run_opts_set_values, opts, v._ptr)
            _call(_sc_run_opts_set_pull_opts, opts, popts)
            _call(_sc_run_opts_set_strict, opts, 1 if strict else 0)
            _call(_sc_image_run_with_opts, self._ptr, _enc(image), opts, argv,
                  ctypes.byref(status))
        finally:
            _sc_run_opts_free(opts)
            _sc_pull_opts_free(popts)
        return status.value

    def containers(self):
        """The installed containers, as dicts (name, image, id, state...)."""
        return self._json_call(_sc_containers_list_json)["containers"]

    def images(self):
        """The images in the store, as dicts (name: NAME:TAG, repository, tag, id,
        created (RFC 3339, UTC), size, in_use);
        an image whose name moved on is listed by its ID, name and tag "<none>";
        in_use: a deployment (either slot) recorded its ID."""
        return self._json_call(_sc_images_list_json)["images"]

    def trust_show(self):
        """The signature policy in effect: {"file", "default", "scopes": [{"transport",
        "scope", "type", "keys", "lookaside", "requirements"}]} (sc_trust_show_json)."""
        return self._json_call(_sc_trust_show_json)

    def trust_set(self, scope, type="signedBy", pubkeys=(), lookaside=None):
        """What images of the registry scope (or "default") require: type signedBy,
        sigstoreSigned, accept or reject; pubkeys: absolute key file paths; lookaside:
        written to registries.d (sc_trust_set)."""
        keys = (_s * (len(pubkeys) + 1))(*[_enc(k) for k in pubkeys], None)
        _call(_sc_trust_set, self._ptr, _enc(scope), _enc(type), keys,
              _enc(lookaside) if lookaside is not None else None)

    def trust_default(self, verdict):
        """The policy's default: "accept" or "reject" (sc_trust_default)."""
        _call(_sc_trust_default, self._ptr, _enc(verdict))

    def info(self):
        """What the commands would use: sysroot, checkout_root, store (path,
        chosen, passed_over), runtime (path or error); makes nothing."""
        return self._json_call(_sc_context_info_json)

    def inspect(self, image):
        """Labels, layers, config and template variables of an image, and
        "trust": who signed it (docs/trust.md)."""
        return self._json_call(_sc_image_inspect_json, _enc(image))

    def tag(self, image, new_name):
        _call(_sc_image_tag, self._ptr, _enc(image), _enc(new_name))

    def delete(self, image, force=False):
        _call(_sc_image_delete, self._ptr, _enc(image), 1 if force else 0)

    def prune(self):
        """Removes the images kept by ID only that no deployment uses, then
        what no remaining image uses; returns the counts (images_removed,
        refs_removed, objects_removed, bytes_freed)."""
        return self._json_call(_sc_images_prune)

    def verify(self, image):
        """Re-checks every layer of an image, and its kept signatures
        offline against the current policy ("trust"); the report has "ok"."""
        ok = _int()
        out = ctypes.c_void_p()
        _call(_sc_image_verify, self._ptr, _enc(image), ctypes.byref(out), ctypes.byref(ok))
        return json.loads(_take_string(out))

    def checkout(self, image, directory):
        """Checks an image out into directory (hardlinks into the store)."""
        _call(_sc_image_checkout, self._ptr, _enc(image), _enc(directory))

    def close(self):
        if self._ptr:
            _sc_context_free(self._ptr)
            self._ptr = ctypes.c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()
