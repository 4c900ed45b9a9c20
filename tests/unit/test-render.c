/*
 * Rendering: variable precedence, units for foreground and detached
 * runtimes, tmpfiles for missing bind sources, config.json validation,
 * writing the files, and the exports reader's refusals.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include <jansson.h>
#include <unistd.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_t, json_decref)

static const char config_template[] =
  "{\n"
  "  \"process\": {\"terminal\": false, \"args\": [\"/bin/sh\"],\n"
  "              \"env\": [\"CONF=$CONF_DIRECTORY\", \"PORT=$PORT\", \"RUN=${RUN_DIRECTORY}\"]},\n"
  "  \"root\": {\"path\": \"rootfs\", \"readonly\": true},\n"
  "  \"mounts\": [\n"
  "    {\"destination\": \"/data\", \"type\": \"bind\", \"source\": \"${STATE_DIRECTORY}/$NAME\",\n"
  "     \"options\": [\"rbind\", \"rw\"]},\n"
  "    {\"destination\": \"/etc/x\", \"type\": \"none\", \"source\": \"/etc/x-$NAME\",\n"
  "     \"options\": [\"bind\"]},\n"
  "    {\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"}\n"
  "  ]\n"
  "}\n";

static const char manifest[] = "{\"version\": \"1.0\", \"defaultValues\": {\"PORT\": \"8080\", "
                               "\"CONF_DIRECTORY\": \"/etc/from-manifest\", \"RUN_DIRECTORY\": "
                               "\"/run/m\"}}";

typedef struct {
  char *tmp;     /* scratch dir */
  char *image;   /* exports dir */
  char *sysroot; /* scratch sysroot */
  sc_context *ctx;
} Fixture;

static Fixture fx;

static void
setup(void)
{
  fx.tmp = tc_mkdtemp();
  fx.image = g_build_filename(fx.tmp, "image", NULL);
  fx.sysroot = g_build_filename(fx.tmp, "sysroot", NULL);
  g_mkdir_with_parents(fx.image, 0755);
  g_mkdir_with_parents(fx.sysroot, 0755);
  tc_write(fx.image, "config.json.template", config_template);
  tc_write(fx.image, "manifest.json", manifest);
  ck_assert_int_eq(sc_context_new(&fx.ctx, NULL), SC_OK);
  ck_assert_int_eq(sc_context_set_sysroot(fx.ctx, fx.sysroot, NULL), SC_OK);
}

static void
teardown(void)
{
  sc_context_free(fx.ctx);
  tc_rm_rf(fx.tmp);
  g_free(fx.tmp);
  g_free(fx.image);
  g_free(fx.sysroot);
}

/* config.json's linux.cgroupsPath is @expected. */
static void
assert_cgroups_path(const sc_rendering *r, const char *expected)
{
  g_autoptr(json_t) cfg = json_loads(sc_rendering_get_config(r), 0, NULL);

  ck_assert_ptr_nonnull(cfg);
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(cfg, "linux"), "cgroupsPath")),
                   expected);
}

/* Renders fx.image for NAME with the KEY=VALUE assignments in @sets. */
static int
render(const char *name, const char *const *sets, sc_rendering **out, sc_error **err)
{
  sc_exports *ex = NULL;
  sc_render_opts *o = NULL;
  sc_values *v = NULL;
  int r;

  if ((r = sc_exports_open(fx.image, &ex, err)) != SC_OK)
    return r;
  sc_render_opts_new(&o, NULL);
  sc_values_new(&v, NULL);
  for (; sets && *sets; sets++)
    ck_assert_int_eq(sc_values_parse(v, *sets, NULL), SC_OK);
  ck_assert_int_eq(sc_render_opts_set_name(o, name, NULL), SC_OK);
  sc_render_opts_set_values(o, v, NULL);
  sc_render_opts_set_image(o, "docker.io/library/x:1", "abc123", NULL);
  r = sc_exports_render(fx.ctx, ex, o, out, err);
  sc_values_free(v);
  sc_render_opts_free(o);
  sc_exports_free(ex);
  return r;
}

START_TEST(test_precedence)
{
  sc_rendering *r = NULL;
  sc_error *err = NULL;
  const char *sets[] = { "PORT=9999", "NAME=evil", "DESTDIR=/tmp/evil", "HOST_UID=12345", NULL };
  const sc_values *v;
  g_autofree char *uid = g_strdup_printf("%u", (unsigned)getuid());

  tc_assert_ok(render("svc", sets, &r, &err), err);
  v = sc_rendering_get_values(r);
  /* --set beats the manifest */
  ck_assert_str_eq(sc_values_get(v, "PORT"), "9999");
  /* the manifest beats host defaults (atomic had it the other way round) */
  ck_assert_str_eq(sc_values_get(v, "CONF_DIRECTORY"), "/etc/from-manifest");
  ck_assert_str_eq(sc_values_get(v, "RUN_DIRECTORY"), "/run/m");
  /* host defaults fill the rest; PIDFILE follows the final RUN_DIRECTORY */
  ck_assert_str_eq(sc_values_get(v, "STATE_DIRECTORY"), "/var/lib");
  ck_assert_str_eq(sc_values_get(v, "PIDFILE"), "/run/m/container-svc.pid");
  ck_assert_uint_eq(strlen(sc_values_get(v, "UUID")), 36);
  ck_assert(g_str_has_prefix(sc_values_get(v, "ALL_PROCESS_CAPABILITIES"), "\"CAP_CHOWN\",\n"));
  /* forced values cannot be overridden */
  ck_assert_str_eq(sc_values_get(v, "NAME"), "svc");
  ck_assert_str_eq(sc_values_get(v, "DESTDIR"), "/var/lib/containers/atomic/svc.0");
  ck_assert_str_eq(sc_values_get(v, "HOST_UID"), uid);
  ck_assert_str_eq(sc_values_get(v, "IMAGE_NAME"), "docker.io/library/x:1");
  ck_assert_str_eq(sc_values_get(v, "IMAGE_ID"), "abc123");
  {
    g_autoptr(json_t) cfg = json_loads(sc_rendering_get_config(r), 0, NULL);
    g_autofree char *env = json_dumps(json_object_get(json_object_get(cfg, "process"), "env"), 0);
    ck_assert_str_eq(env, "[\"CONF=/etc/from-manifest\", \"PORT=9999\", \"RUN=/run/m\"]");
  }
  sc_rendering_free(r);
}
END_TEST

/* The context's cap on a rendered file: config.json.template with a value
 * that makes it too large, then the unit. */
START_TEST(test_render_limit)
{
  sc_rendering *r = NULL;
  sc_error *err = NULL;
  g_autofree char *port = g_strnfill(2000, '9');
  g_autofree char *set = g_strconcat("PORT=", port, NULL);
  g_autofree char *args = g_strnfill(900, 'a');
  g_autofree char *set_args = g_strconcat("ARGS=", args, NULL);
  g_autofree char *label = g_build_filename(fx.image, "config.json.template", NULL);
  g_autofree char *want = g_strdup_printf(
    "template '%s': the rendered text grows past 1000 bytes, the limit on a rendered file "
    "(SC_MAX_RENDERED_BYTES), substituting 'PORT' at line 3, col 53",
    label);
  const char *sets[] = { set, NULL };
  const char *sets2[] = { set_args, NULL };
  const char *both[] = { set, set_args, NULL };

  ck_assert_int_eq(sc_context_set_render_limit(fx.ctx, 1000, NULL), SC_OK);
  tc_assert_error(render("svc", sets, &r, &err), err, SC_ETEMPLATE, want);
  ck_assert_ptr_null(r);
  /* the unit, with the same limit */
  tc_write(fx.image, "service.template", "[Service]\nExecStart=/bin/x $ARGS $ARGS\n");
  tc_assert_error(render("svc", sets2, &r, &err),
                  err,
                  SC_ETEMPLATE,
                  "service.template': the rendered text grows past 1000 bytes, the limit on a "
                  "rendered file (SC_MAX_RENDERED_BYTES), substituting 'ARGS' at line 2, col 24");
  /* 0 keeps the limit; a larger one lets both render */
  ck_assert_int_eq(sc_context_set_render_limit(fx.ctx, 0, NULL), SC_OK);
  tc_assert_error(render("svc", sets2, &r, &err), err, SC_ETEMPLATE, "grows past 1000 bytes");
  ck_assert_int_eq(sc_context_set_render_limit(fx.ctx, 4000, NULL), SC_OK);
  tc_assert_ok(render("svc", both, &r, &err), err);
  ck_assert(strstr(sc_rendering_get_config(r), port) != NULL);
  ck_assert(strstr(sc_rendering_get_unit(r), args) != NULL);
  sc_rendering_free(r);
}
END_TEST

START_TEST(test_user_values_beat_host_defaults)
{
  sc_rendering *r = NULL;
  sc_error *err = NULL;
  const char *sets[] = { "RUN_DIRECTORY=/srv/run", "PIDFILE=/srv/p.pid", "ATOMIC=/opt/x", NULL };

  tc_assert_ok(render("svc", sets, &r, &err), err);
  ck_assert_str_eq(sc_values_get(sc_rendering_get_values(r), "RUN_DIRECTORY"), "/srv/run");
  ck_assert_str_eq(sc_values_get(sc_rendering_get_values(r), "PIDFILE"), "/srv/p.pid");
  ck_assert_str_eq(sc_values_get(sc_rendering_get_values(r), "ATOMIC"), "/opt/x");
  sc_rendering_free(r);
}
END_TEST

START_TEST(test_default_unit_detached_with_runc)
{
  sc_rendering *r = NULL;
  sc_error *err = NULL;
  char *runc = NULL;
  g_autofree char *expected = NULL;

  if (sc_context_find_runtime(fx.ctx, &runc, NULL) != SC_OK)
    ck_abort_msg("runc is needed for this test (apt-get install runc)");
  tc_assert_ok(render("svc", NULL, &r, &err), err);
  ck_assert(sc_rendering_is_detached(r));
  expected = g_strdup_printf("\n[Unit]\nDescription=svc\n\n[Service]\nType=forking\n"
                             "Delegate=yes\n"
                             "ExecStartPre=\n"
                             "ExecStart=%s run -d --pid-file "
                             "/run/m/container-svc.pid 'svc'\n"
                             "ExecStop=\n"
                             "ExecStopPost=%s delete --force 'svc'\n"
                             "Restart=on-failure\n"
                             "WorkingDirectory=/var/lib/containers/atomic/svc.0\n"
                             "PIDFile=/run/m/container-svc.pid\n\n[Install]\n"
                             "WantedBy=multi-user.target\n",
                             runc,
                             runc);
  ck_assert_str_eq(sc_rendering_get_unit(r), expected);
  /* runc reads a relative cgroupsPath from the cgroup it runs in, the unit's */
  assert_cgroups_path(r, "svc.service/container");
  sc_rendering_free(r);
  sc_free(runc);
}
END_TEST

START_TEST(test_braced_pidfile_also_detaches)
{
  sc_rendering *r = NULL;
  sc_error *err = NULL;

  tc_write(fx.image,
           "service.template",
           "[Unit]\nDescription=x\n[Service]\nExecStart=$EXEC_START\n"
           "ExecStopPost=${EXEC_STOPPOST}\nPIDFile=${PIDFILE}\n");
  tc_assert_ok(render("svc", NULL, &r, &err), err);
  ck_assert(sc_rendering_is_detached(r));
  /* PIDFile= was in the template; Type=forking is added once. */
  ck_assert(strstr(sc_rendering_get_unit(r), "[Service]\nType=forking\nDelegate=yes\nExecStart=") !=
            NULL);
  ck_assert(strstr(sc_rendering_get_unit(r), "PIDFile=/run/m/container-svc.pid\n") != NULL);
  ck_assert(g_strstr_len(sc_rendering_get_unit(r), -1, "PIDFile=") ==
            g_strrstr(sc_rendering_get_unit(r), "PIDFile="));
  sc_rendering_free(r);
}
END_TEST

START_TEST(test_foreground_when_template_lacks_pidfile)
{
  sc_rendering *r = NULL;
  sc_error *err = NULL;
  char *runc = NULL;
  g_autofree char *expected = NULL;

  ck_assert_int_eq(sc_context_find_runtime(fx.ctx, &runc, NULL), SC_OK);
  tc_write(fx.image,
           "service.template",
           "[Service]\nExecStart=$EXEC_START\nExecStop=$EXEC_STOP\nWorkingDirectory=$DESTDIR\n");
  tc_assert_ok(render("svc", NULL, &r, &err), err);
  ck_assert(!sc_rendering_is_detached(r));
  expected = g_strdup_printf("[Service]\nDelegate=yes\nExecStart=%s run 'svc'\n"
                             "ExecStop=%s kill 'svc'\n"
                             "WorkingDirectory=/var/lib/containers/atomic/svc.0\n"
                             "ExecStopPost=-%s delete --force 'svc'\n",
                             runc,
                             runc,
                             runc);
  ck_assert_str_eq(sc_rendering_get_unit(r), expected);
  sc_rendering_free(r);
  sc_free(runc);
}
END_TEST

START_TEST(test_foreground_when_type_is_notify)
{
  sc_rendering *r = NULL;
  sc_error *err = NULL;

  tc_write(fx.image,
           "service.template",
           "[Service]\nType=notify\nExecStart=$EXEC_START\nExecStopPost=$EXEC_STOPPOST\n"
           "PIDFile=$PIDFILE\n");
  tc_assert_ok(render("svc", NULL, &r, &err), err);
  ck_assert(!sc_rendering_is_detached(r));
  ck_assert(strstr(sc_rendering_get_unit(r), "Type=forking") == NULL);
  ck_assert(strstr(sc_rendering_get_unit(r), " run 'svc'\n") != NULL);
  sc_rendering_free(r);
}
END_TEST

START_TEST(test_foreground_runtime_without_pid_file)
{
  sc_rendering *r = NULL;
  sc_error *err = NULL;
  g_autofree char *rt = g_build_filename(tc_data_dir(), "runtimes", "foreground-only", NULL);
  g_autofree char *expected = NULL;
  int pidfile = -1, cgroup = -1;

  ck_assert_int_eq(sc_context_set_runtime(fx.ctx, rt, NULL), SC_OK);
  ck_assert_int_eq(sc_context_probe_runtime(fx.ctx, &pidfile, &cgroup, NULL), SC_OK);
  ck_assert_int_eq(pidfile, 0);
  ck_assert_int_eq(cgroup, 0);
  tc_assert_ok(render("svc", NULL, &r, &err), err); /* the default unit */
  ck_assert(!sc_rendering_is_detached(r));
  expected = g_strdup_printf("[Service]\nDelegate=yes\n"
                             "ExecStartPre=\nExecStart=%s run 'svc'\nExecStop=%s kill 'svc'\n"
                             "ExecStopPost=\nRestart=on-failure\n"
                             "WorkingDirectory=/var/lib/containers/atomic/svc.0\n"
                             "PIDFile=/run/m/container-svc.pid\n"
                             "ExecStopPost=-%s delete --force 'svc'\n\n[Install]\n",
                             rt,
                             rt,
                             rt);
  ck_assert_msg(strstr(sc_rendering_get_unit(r), expected) != NULL, "%s", sc_rendering_get_unit(r));
  /* an unknown runtime may read a relative path from the root (as crun
   * does): the absolute one */
  assert_cgroups_path(r, "/system.slice/svc.service/container");
  ck_assert(strstr(sc_rendering_get_unit(r), "Type=") == NULL);
  sc_rendering_free(r);
}
END_TEST

static void
collect_log(int level, const char *message, void *user_data)
{
  if (level <= SC_LOG_WARNING)
    g_string_append_printf(user_data, "%s\n", message);
}

/* crun reads a relative cgroupsPath from the root: the absolute path under
 * the slice the unit names (nested as systemd nests slices), system.slice
 * by default; a slice name systemd would refuse is not followed. */
START_TEST(test_crun_cgroup_under_the_unit_slice)
{
  static const struct {
    const char *slice_line, *expected;
  } cases[] = {
    { "", "/system.slice/svc.service/container" },
    { "Slice=web.slice\n", "/web.slice/svc.service/container" },
    { "Slice=a-b-c.slice\n", "/a.slice/a-b.slice/a-b-c.slice/svc.service/container" },
    { "Slice=-.slice\n", "/svc.service/container" },
    { "Slice=../../x.slice\n", "/system.slice/svc.service/container" },
    { "Slice=a--b.slice\n", "/system.slice/svc.service/container" },
    { "Slice=web.service\n", "/system.slice/svc.service/container" },
  };

  if (access("/usr/bin/crun", X_OK) != 0)
    ck_abort_msg("crun is needed for this test (apt-get install crun)");
  ck_assert_int_eq(sc_context_set_runtime(fx.ctx, "/usr/bin/crun", NULL), SC_OK);
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    sc_rendering *r = NULL;
    sc_error *err = NULL;
    g_autofree char *tpl = g_strdup_printf(
      "[Service]\n%sExecStart=$EXEC_START\nExecStop=$EXEC_STOP\n", cases[i].slice_line);
    tc_write(fx.image, "service.template", tpl);
    tc_assert_ok(render("svc", NULL, &r, &err), err);
    ck_assert_msg(strstr(sc_rendering_get_unit(r), "ExecStart=/usr/bin/crun run 'svc'\n") != NULL,
                  "%s",
                  sc_rendering_get_unit(r));
    ck_assert(strstr(sc_rendering_get_unit(r), "--systemd-cgroup") == NULL);
    assert_cgroups_path(r, cases[i].expected);
    sc_rendering_free(r);
  }
}
END_TEST

/* A template's own Delegate= is the image's choice: nothing added. */
START_TEST(test_template_delegate_kept)
{
  sc_rendering *r = NULL;
  sc_error *err = NULL;
  char *runc = NULL;
  g_autofree char *expected = NULL;

  tc_write(fx.image,
           "service.template",
           "[Service]\nExecStart=$EXEC_START\nDelegate=cpu memory\n\n[Install]\n"
           "WantedBy=multi-user.target\n");
  ck_assert_int_eq(sc_context_find_runtime(fx.ctx, &runc, NULL), SC_OK);
  tc_assert_ok(render("svc", NULL, &r, &err), err);
  expected = g_strdup_printf("[Service]\nExecStart=%s run 'svc'\nDelegate=cpu memory\n"
                             "ExecStopPost=-%s delete --force 'svc'\n\n[Install]\n"
                             "WantedBy=multi-user.target\n",
                             runc,
                             runc);
  ck_assert_str_eq(sc_rendering_get_unit(r), expected);
  sc_rendering_free(r);
  sc_free(runc);
}
END_TEST

/* An image's own linux.cgroupsPath (atomic's images had none; one meant for
 * --systemd-cgroup is "slice:prefix:name") is replaced by the unit's, with
 * a warning naming the file; a one-off run keeps it. */
START_TEST(test_image_cgroups_path_replaced)
{
  sc_rendering *r = NULL;
  sc_error *err = NULL;
  g_autoptr(GString) log = g_string_new(NULL);
  g_autofree char *expected = NULL;

  tc_write(fx.image,
           "config.json.template",
           "{\"process\": {\"args\": [\"/bin/sh\"]}, \"root\": {\"path\": \"rootfs\", "
           "\"readonly\": true}, \"linux\": {\"cgroupsPath\": \"system.slice:atomic:$NAME\"}}\n");
  sc_context_set_log_func(fx.ctx, collect_log, log);
  tc_assert_ok(render("svc", NULL, &r, &err), err);
  assert_cgroups_path(r, "svc.service/container");
  expected =
    g_strdup_printf("%s/config.json.template: linux.cgroupsPath \"system.slice:atomic:svc\" "
                    "replaced by 'svc.service/container': the container lives in its "
                    "unit's cgroup\n",
                    fx.image);
  ck_assert_str_eq(log->str, expected);
  sc_rendering_free(r);
}
END_TEST

/* The array process.capabilities of runtime-spec before 1.0.0-rc5 (the
 * qemu-guest-agent image) becomes the 1.0 object: the same names in
 * bounding, effective, inheritable and permitted (what runc applied the list
 * to), no ambient; a warning names the file. The same from a plain
 * config.json. Other fields are kept. */
START_TEST(test_capabilities_array_converted)
{
  static const char *const files[] = { "config.json.template", "config.json" };

  for (guint f = 0; f < G_N_ELEMENTS(files); f++) {
    sc_rendering *r = NULL;
    sc_error *err = NULL;
    g_autoptr(GString) log = g_string_new(NULL);
    g_autoptr(json_t) cfg = NULL;
    g_autoptr(json_t) want = NULL;
    g_autofree char *expected = NULL;
    g_autofree char *path = g_build_filename(fx.image, files[f], NULL);

    tc_write(fx.image,
             files[f],
             "{\"ociVersion\": \"1.0.0-rc3\", \"process\": {\"args\": [\"/bin/sh\"], "
             "\"user\": {\"uid\": 0, \"gid\": 0}, "
             "\"capabilities\": [\"CAP_CHOWN\", \"CAP_KILL\"]}, \"root\": {\"path\": "
             "\"rootfs\", \"readonly\": true}}\n");
    sc_context_set_log_func(fx.ctx, collect_log, log);
    tc_assert_ok(render("svc", NULL, &r, &err), err);
    cfg = json_loads(sc_rendering_get_config(r), 0, NULL);
    want = json_pack("{s[ss]s[ss]s[ss]s[ss]}",
                     "bounding",
                     "CAP_CHOWN",
                     "CAP_KILL",
                     "effective",
                     "CAP_CHOWN",
                     "CAP_KILL",
                     "inheritable",
                     "CAP_CHOWN",
                     "CAP_KILL",
                     "permitted",
                     "CAP_CHOWN",
                     "CAP_KILL");
    ck_assert(json_equal(json_object_get(json_object_get(cfg, "process"), "capabilities"), want));
    ck_assert_int_eq(json_integer_value(json_object_get(
                       json_object_get(json_object_get(cfg, "process"), "user"), "uid")),
                     0);
    ck_assert_str_eq(json_string_value(json_object_get(cfg, "ociVersion")), "1.0.0-rc3");
    expected = g_strdup_printf(
      "%s: process.capabilities is a list of 2 names, the form before runtime-spec 1.0.0-rc5 "
      "that runc 1.x cannot read: converted to the same names in bounding, effective, "
      "inheritable and permitted (as runc applied the list), none in ambient\n",
      path);
    ck_assert_str_eq(log->str, expected);
    /* what is written for the runtime passes the strict check */
    tc_assert_ok(sc_spec_validate("config.json",
                                  sc_rendering_get_config(r),
                                  strlen(sc_rendering_get_config(r)),
                                  NULL,
                                  NULL,
                                  &err),
                 err);
    sc_rendering_free(r);
    sc_context_set_log_func(fx.ctx, NULL, NULL);
  }
}
END_TEST

/* An array that is not all names is not guessed at: refused as before, and
 * an empty list keeps its meaning (no capability in any of the sets). */
START_TEST(test_capabilities_array_not_names_refused)
{
  sc_rendering *r = NULL;
  sc_error *err = NULL;
  g_autoptr(json_t) cfg = NULL;
  g_autoptr(json_t) want = NULL;
  g_autofree char *label = g_build_filename(fx.image, "config.json.template", NULL);
  g_autofree char *message = g_strdup_printf(
    "%s: process.capabilities must be an object with bounding, effective, inheritable, "
    "permitted and ambient lists (the array form predates runtime-spec 1.0.0-rc5 and current "
    "runtimes refuse it; rendering an image converts an array of names)",
    label);

  tc_write(fx.image,
           "config.json.template",
           "{\"process\": {\"args\": [\"/bin/sh\"], \"capabilities\": [\"CAP_KILL\", 3]}, "
           "\"root\": {\"path\": \"rootfs\", \"readonly\": true}}\n");
  tc_assert_error(render("svc", NULL, &r, &err), err, SC_ESPEC, message);
  ck_assert_ptr_null(r);

  tc_write(fx.image,
           "config.json.template",
           "{\"process\": {\"args\": [\"/bin/sh\"], \"capabilities\": []}, "
           "\"root\": {\"path\": \"rootfs\", \"readonly\": true}}\n");
  tc_assert_ok(render("svc", NULL, &r, &err), err);
  cfg = json_loads(sc_rendering_get_config(r), 0, NULL);
  want = json_pack("{s[]s[]s[]s[]}", "bounding", "effective", "inheritable", "permitted");
  ck_assert(json_equal(json_object_get(json_object_get(cfg, "process"), "capabilities"), want));
  sc_rendering_free(r);
}
END_TEST

/* A "linux" that is no object is left for the runtime to refuse: not
 * turned into a valid one around the unit's cgroup. */
START_TEST(test_linux_not_an_object_left_alone)
{
  sc_rendering *r = NULL;
  sc_error *err = NULL;
  g_autoptr(json_t) cfg = NULL;
  g_autoptr(json_t) expected = json_pack("[s]", "x");

  tc_write(fx.image,
           "config.json.template",
           "{\"process\": {\"args\": [\"/bin/sh\"]}, \"root\": {\"path\": \"rootfs\", "
           "\"readonly\": true}, \"linux\": [\"x\"]}\n");
  tc_assert_ok(render("svc", NULL, &r, &err), err);
  cfg = json_loads(sc_rendering_get_config(r), 0, NULL);
  ck_assert(json_equal(json_object_get(cfg, "linux"), expected));
  sc_rendering_free(r);
}
END_TEST

START_TEST(test_missing_runtime)
{
  sc_rendering *r = NULL;
  sc_error *err = NULL;

  ck_assert_int_eq(sc_context_set_runtime(fx.ctx, "/does/not/exist", NULL), SC_OK);
  tc_assert_error(
    render("svc", NULL, &r, &err), err, SC_ERUNTIME, "runtime '/does/not/exist' is not installed");
  ck_assert_ptr_null(r);
  tc_assert_error(sc_context_set_runtime(fx.ctx, "run c", &err),
                  err,
                  SC_EINVAL,
                  "runtime 'run c': must be a command name or path without whitespace");
}
END_TEST

START_TEST(test_tmpfiles_for_missing_bind_sources)
{
  sc_rendering *r = NULL;
  sc_error *err = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *existing = g_build_filename(fx.sysroot, "etc", "x-svc", NULL);

  /* /etc/x-svc exists under the sysroot, /var/lib/svc does not. */
  g_mkdir_with_parents(existing, 0755);
  tc_assert_ok(render("svc", NULL, &r, &err), err);
  expected =
    g_strdup_printf("d    /var/lib/svc   0700 %u %u - -\n", (unsigned)getuid(), (unsigned)getgid());
  ck_assert_str_eq(sc_rendering_get_tmpfiles(r), expected);
  sc_rendering_free(r);

  /* With both present there is no tmpfiles file at all. */
  g_autofree char *state = g_build_filename(fx.sysroot, "var", "lib", "svc", NULL);
  g_mkdir_with_parents(state, 0755);
  tc_assert_ok(render("svc", NULL, &r, &err), err);
  ck_assert_ptr_null(sc_rendering_get_tmpfiles(r));
  sc_rendering_free(r);
}
END_TEST

START_TEST(test_tmpfiles_quoting)
{
  const char *sources[] = { "/a b/c", "/p%n", "relative", "/a b/c", NULL };
  char *text = NULL;

  ck_assert_int_eq(sc_tmpfiles_missing_sources(fx.ctx, sources, 0, 0, &text, NULL), SC_OK);
  ck_assert_str_eq(text, "d    \"/a b/c\"   0700 0 0 - -\nd    /p%%n   0700 0 0 - -\n");
  sc_free(text);
}
END_TEST

START_TEST(test_tmpfiles_template_empty_and_rendered)
{
  sc_rendering *r = NULL;
  sc_error *err = NULL;

  tc_write(fx.image, "tmpfiles.template", "");
  tc_assert_ok(render("svc", NULL, &r, &err), err);
  ck_assert_ptr_null(sc_rendering_get_tmpfiles(r));
  sc_rendering_free(r);

  tc_write(fx.image, "tmpfiles.template", "d ${RUN_DIRECTORY}/$NAME 0700 - - - -\n");
  tc_assert_ok(render("svc", NULL, &r, &err), err);
  ck_assert_str_eq(sc_rendering_get_tmpfiles(r), "d /run/m/svc 0700 - - - -\n");
  sc_rendering_free(r);

  /* An error in the tmpfiles template names that file (atomic named the
   * service template, quirk 18). */
  tc_write(fx.image, "tmpfiles.template", "d $NOPE\n");
  render("svc", NULL, &r, &err);
  ck_assert_ptr_nonnull(err);
  ck_assert_msg(strstr(sc_error_message(err), "tmpfiles.template': variable 'NOPE'"),
                "%s",
                sc_error_message(err));
  sc_error_free(err);
}
END_TEST

typedef struct {
  const char *config;
  const char *message;
} BadConfig;

static const BadConfig bad_configs[] = {
  { "[1]", "config.json: the document must be a JSON object" },
  { "{\"root\": ", "config.json: invalid JSON at line 1, column 9" },
  { "{}", "'root' is missing or not an object" },
  { "{\"root\": {\"path\": \"rootfs\"}}", "root.readonly must be true" },
  { "{\"root\": {\"path\": \"rootfs\", \"readonly\": false}}", "root.readonly must be true" },
  { "{\"root\": {\"path\": \"/\", \"readonly\": true}}", "root.path is '/'; it must be 'rootfs'" },
  { "{\"root\": {\"readonly\": true}}", "root.path is missing or not a string" },
  { "{\"root\": {\"path\": \"rootfs\", \"readonly\": true}}", "'process' is missing" },
  { "{\"root\": {\"path\": \"rootfs\", \"readonly\": true}, \"process\": {\"terminal\": true, "
    "\"args\": [\"a\"]}}",
    "process.terminal must be false" },
  { "{\"root\": {\"path\": \"rootfs\", \"readonly\": true}, \"process\": {\"args\": []}}",
    "process.args must be a non-empty array of strings" },
  { "{\"root\": {\"path\": \"rootfs\", \"readonly\": true}, \"process\": {\"args\": [\"a\"], "
    "\"capabilities\": [\"CAP_KILL\"]}}",
    "process.capabilities must be an object" },
  { "{\"root\": {\"path\": \"rootfs\", \"readonly\": true}, \"process\": {\"args\": [\"a\"]}, "
    "\"mounts\": [{\"source\": \"/x\"}]}",
    "mounts[0] must be an object with a string 'destination'" },
  { "{\"root\": {\"path\": \"rootfs\", \"readonly\": true}, \"process\": {\"args\": [\"a\"]}, "
    "\"mounts\": [{\"destination\": \"/x\", \"options\": \"bind\"}]}",
    "mounts[0].options must be an array of strings" },
};

START_TEST(test_config_validation_errors)
{
  const BadConfig *c = &bad_configs[_i];
  sc_error *err = NULL;
  char **sources = NULL;

  tc_assert_error(
    sc_spec_validate("config.json", c->config, strlen(c->config), NULL, &sources, &err),
    err,
    SC_ESPEC,
    c->message);
  ck_assert_ptr_null(sources);
}
END_TEST

START_TEST(test_config_validation_ok)
{
  const char *ok = "{\"root\": {\"path\": \"/srv/remote/rootfs\", \"readonly\": true}, "
                   "\"process\": {\"args\": [\"a\"]}, \"mounts\": ["
                   "{\"destination\": \"/a\", \"type\": \"bind\", \"source\": \"/s1\"},"
                   "{\"destination\": \"/b\", \"type\": \"none\", \"source\": \"/s2\", "
                   "\"options\": [\"rbind\"]},"
                   "{\"destination\": \"/c\", \"type\": \"tmpfs\", \"source\": \"tmpfs\"}]}";
  char **sources = NULL;
  sc_error *err = NULL;

  tc_assert_ok(sc_spec_validate(NULL, ok, strlen(ok), "/srv/remote/rootfs", &sources, &err), err);
  ck_assert_str_eq(sources[0], "/s1");
  ck_assert_str_eq(sources[1], "/s2");
  ck_assert_ptr_null(sources[2]);
  sc_strv_free(sources);
  /* Without the remote rootfs, the same path is refused. */
  tc_assert_error(sc_spec_validate(NULL, ok, strlen(ok), NULL, NULL, &err),
                  err,
                  SC_ESPEC,
                  "root.path is '/srv/remote/rootfs'; it must be 'rootfs'");
}
END_TEST

START_TEST(test_remote_rootfs_rewrites_root_path)
{
  sc_exports *ex = NULL;
  sc_render_opts *o = NULL;
  sc_rendering *r = NULL;
  sc_error *err = NULL;

  ck_assert_int_eq(sc_exports_open(fx.image, &ex, NULL), SC_OK);
  sc_render_opts_new(&o, NULL);
  sc_render_opts_set_name(o, "svc", NULL);
  ck_assert_int_eq(sc_render_opts_set_remote_rootfs(o, "/srv/x/rootfs", NULL), SC_OK);
  tc_assert_ok(sc_exports_render(fx.ctx, ex, o, &r, &err), err);
  ck_assert(strstr(sc_rendering_get_config(r), "\"path\": \"/srv/x/rootfs\"") != NULL);
  sc_rendering_free(r);
  tc_assert_error(sc_render_opts_set_remote_rootfs(o, "rel", &err),
                  err,
                  SC_EINVAL,
                  "remote rootfs 'rel': must be an absolute path");
  sc_render_opts_free(o);
  sc_exports_free(ex);
}
END_TEST

START_TEST(test_invalid_config_template_fails_render)
{
  sc_rendering *r = NULL;
  sc_error *err = NULL;
  g_autofree char *label = g_build_filename(fx.image, "config.json.template", NULL);
  g_autofree char *want = g_strdup_printf("%s: root.readonly must be true", label);

  tc_write(fx.image,
           "config.json.template",
           "{\"root\": {\"path\": \"rootfs\", \"readonly\": false}, \"process\": {\"args\": "
           "[\"a\"]}}");
  tc_assert_error(render("svc", NULL, &r, &err), err, SC_ESPEC, want);
  ck_assert_ptr_null(r);
}
END_TEST

START_TEST(test_plain_config_json_is_verbatim)
{
  sc_rendering *r = NULL;
  sc_error *err = NULL;
  const char *plain = "{\"root\": {\"path\": \"rootfs\", \"readonly\": true},\n"
                      " \"process\": {\"args\": [\"$NOT_A_VARIABLE\"]}}\n";

  g_autoptr(json_t) expected = json_loads(plain, 0, NULL);
  g_autoptr(json_t) got = NULL;

  tc_write(fx.image, "config.json", plain);
  tc_assert_ok(render("svc", NULL, &r, &err), err);
  /* not a template: kept as it is, but for the unit's cgroup */
  json_object_set_new(
    expected, "linux", json_pack("{s:s}", "cgroupsPath", "svc.service/container"));
  got = json_loads(sc_rendering_get_config(r), 0, NULL);
  ck_assert_msg(json_equal(got, expected), "%s", sc_rendering_get_config(r));
  sc_rendering_free(r);
}
END_TEST

START_TEST(test_write_files)
{
  sc_rendering *r = NULL;
  sc_error *err = NULL;
  g_autofree char *out = g_build_filename(fx.tmp, "out", "slot", NULL);
  g_autofree char *config = NULL;
  g_autofree char *unit = NULL;
  g_autofree char *tmpfiles = NULL;
  GDir *dir;
  const char *name;
  int count = 0;

  tc_assert_ok(render("svc", NULL, &r, &err), err);
  tc_assert_ok(sc_rendering_write(r, out, &err), err);
  config = tc_read(out, "config.json");
  unit = tc_read(out, "svc.service");
  tmpfiles = tc_read(out, "tmpfiles-svc.conf");
  ck_assert_str_eq(config, sc_rendering_get_config(r));
  ck_assert_str_eq(unit, sc_rendering_get_unit(r));
  ck_assert_str_eq(tmpfiles, sc_rendering_get_tmpfiles(r));
  sc_rendering_free(r);

  /* A second render without tmpfiles removes the stale file; no temporary
   * file is left behind. */
  tc_write(fx.image, "tmpfiles.template", "");
  tc_assert_ok(render("svc", NULL, &r, &err), err);
  tc_assert_ok(sc_rendering_write(r, out, &err), err);
  dir = g_dir_open(out, 0, NULL);
  while ((name = g_dir_read_name(dir)) != NULL) {
    ck_assert_msg(strcmp(name, "config.json") == 0 || strcmp(name, "svc.service") == 0,
                  "unexpected file %s",
                  name);
    count++;
  }
  g_dir_close(dir);
  ck_assert_int_eq(count, 2);
  sc_rendering_free(r);
}
END_TEST

START_TEST(test_no_container_service)
{
  sc_rendering *r = NULL;
  sc_error *err = NULL;

  tc_write(fx.image,
           "manifest.json",
           "{\"noContainerService\": true, \"defaultValues\": {\"PORT\": \"1\"}}");
  tc_write(fx.image, "service.template", "[Service]\nExecStart=$UNDEFINED_BUT_UNUSED\n");
  tc_assert_ok(render("svc", NULL, &r, &err), err);
  ck_assert_ptr_null(sc_rendering_get_unit(r));
  ck_assert_ptr_null(sc_rendering_get_tmpfiles(r));
  sc_rendering_free(r);
}
END_TEST

START_TEST(test_exports_refuses_symlinks)
{
  sc_exports *ex = NULL;
  sc_error *err = NULL;
  g_autofree char *link = g_build_filename(fx.image, "service.template", NULL);

  /* A hostile image pointing a template at a host file must not be read
   * through. */
  ck_assert_int_eq(symlink("/etc/shadow", link), 0);
  tc_assert_error(sc_exports_open(fx.image, &ex, &err),
                  err,
                  SC_EIO,
                  "service.template: is a symbolic link; image files must be regular files");
  ck_assert_ptr_null(ex);
}
END_TEST

typedef struct {
  const char *manifest;
  const char *message;
} BadManifest;

static const BadManifest bad_manifests[] = {
  { "{\"defaultValues\": ", "manifest.json: invalid JSON at line 1, column 18" },
  { "[]", "manifest.json: the document must be a JSON object" },
  { "{\"defaultValues\": []}", "defaultValues must be an object of strings" },
  { "{\"defaultValues\": {\"A\": [1]}}", "defaultValues.A must be a string" },
  { "{\"noContainerService\": \"yes\"}", "noContainerService must be true or false" },
  { "{\"useLinks\": 1}", "useLinks must be true or false" },
  { "{\"installedFilesTemplate\": [\"relative\"]}",
    "installedFilesTemplate[0] must be an absolute path" },
  { "{\"renameFiles\": {\"/a\": 1}}", "renameFiles[\"/a\"] must be a string" },
};

START_TEST(test_manifest_errors)
{
  sc_exports *ex = NULL;
  sc_error *err = NULL;

  tc_write(fx.image, "manifest.json", bad_manifests[_i].manifest);
  tc_assert_error(
    sc_exports_open(fx.image, &ex, &err), err, SC_EMANIFEST, bad_manifests[_i].message);
  ck_assert_ptr_null(ex);
}
END_TEST

START_TEST(test_manifest_scalars_like_python)
{
  sc_exports *ex = NULL;
  sc_values *d = NULL;

  tc_write(fx.image,
           "manifest.json",
           "{\"defaultValues\": {\"N\": 5, \"T\": true, \"F\": false, \"bad-key\": \"x\"}}");
  ck_assert_int_eq(sc_exports_open(fx.image, &ex, NULL), SC_OK);
  ck_assert_int_eq(sc_exports_get_defaults(ex, &d, NULL), SC_OK);
  ck_assert_str_eq(sc_values_get(d, "N"), "5");
  ck_assert_str_eq(sc_values_get(d, "T"), "True");
  ck_assert_str_eq(sc_values_get(d, "F"), "False");
  ck_assert_uint_eq(sc_values_count(d), 3);
  sc_values_free(d);
  sc_exports_free(ex);
}
END_TEST

START_TEST(test_exports_located_in_image_root)
{
  sc_exports *ex = NULL;
  g_autofree char *root = g_build_filename(fx.tmp, "root", NULL);
  g_autofree char *exports = g_build_filename(root, "rootfs", "exports", NULL);

  tc_write(exports, "manifest.json", "{}");
  ck_assert_int_eq(sc_exports_open(root, &ex, NULL), SC_OK);
  ck_assert_str_eq(sc_exports_get_path(ex), exports);
  sc_exports_free(ex);
}
END_TEST

START_TEST(test_variables_json)
{
  sc_exports *ex = NULL;
  char *json = NULL;

  tc_write(fx.image, "service.template", "[Service]\nExecStart=$EXEC_START $EXTRA\n");
  ck_assert_int_eq(sc_exports_open(fx.image, &ex, NULL), SC_OK);
  ck_assert_int_eq(sc_exports_variables_json(ex, &json, NULL), SC_OK);
  ck_assert_msg(strstr(json,
                       "\"name\": \"PORT\",\n      \"files\": [\n        "
                       "\"config.json.template\"\n      ],\n      \"source\": "
                       "\"manifest\",\n      \"default\": \"8080\"") != NULL,
                "%s",
                json);
  ck_assert(strstr(json, "\"name\": \"EXTRA\"") != NULL);
  ck_assert(strstr(json, "\"source\": \"required\"") != NULL);
  ck_assert(strstr(json, "\"source\": \"forced\"") != NULL);
  ck_assert(strstr(json, "\"source\": \"host\"") != NULL);
  sc_free(json);
  sc_exports_free(ex);
}
END_TEST

START_TEST(test_names)
{
  sc_error *err = NULL;
  char long_name[202];

  ck_assert_int_eq(sc_name_validate("etcd", NULL), SC_OK);
  ck_assert_int_eq(sc_name_validate("a.0", NULL), SC_OK);
  ck_assert_int_eq(sc_name_validate("x_y@z-1.2", NULL), SC_OK);
  tc_assert_error(sc_name_validate("../etc", &err),
                  err,
                  SC_EINVAL,
                  "container name '../etc' must start with a letter or a digit");
  tc_assert_error(sc_name_validate("a/b", &err),
                  err,
                  SC_EINVAL,
                  "container name 'a/b' has a character that is not allowed at byte 2");
  tc_assert_error(sc_name_validate("a\nb", &err), err, SC_EINVAL, "'a\\nb'");
  tc_assert_error(sc_name_validate("", &err), err, SC_EINVAL, "container name is empty");
  memset(long_name, 'a', 201);
  long_name[201] = '\0';
  tc_assert_error(sc_name_validate(long_name, &err), err, SC_EINVAL, "is 201 bytes long");
  long_name[200] = '\0';
  ck_assert_int_eq(sc_name_validate(long_name, NULL), SC_OK);
}
END_TEST

START_TEST(test_values_api)
{
  sc_values *v = NULL, *c = NULL;
  sc_error *err = NULL;
  char *json = NULL;

  ck_assert_int_eq(sc_values_new(&v, NULL), SC_OK);
  ck_assert_int_eq(sc_values_parse(v, "B=x=y", NULL), SC_OK);
  ck_assert_int_eq(sc_values_parse(v, "A=", NULL), SC_OK);
  ck_assert_int_eq(sc_values_set(v, "_c", "line\nbreak", NULL), SC_OK);
  ck_assert_str_eq(sc_values_get(v, "B"), "x=y");
  ck_assert_str_eq(sc_values_get(v, "A"), "");
  ck_assert_str_eq(sc_values_key_at(v, 0), "A");
  ck_assert_str_eq(sc_values_key_at(v, 2), "_c");
  ck_assert_ptr_null(sc_values_key_at(v, 3));
  tc_assert_error(sc_values_parse(v, "NOEQUALS", &err),
                  err,
                  SC_EINVAL,
                  "value 'NOEQUALS' has no '=': expected KEY=VALUE");
  tc_assert_error(
    sc_values_parse(v, "1A=x", &err), err, SC_EINVAL, "variable name '1A' is not valid");
  tc_assert_error(
    sc_values_set(v, "A-B", "x", &err), err, SC_EINVAL, "variable name 'A-B' is not valid");
  ck_assert_int_eq(sc_values_copy(v, &c, NULL), SC_OK);
  ck_assert_int_eq(sc_values_unset(v, "B", NULL), SC_OK);
  ck_assert_ptr_null(sc_values_get(v, "B"));
  ck_assert_str_eq(sc_values_get(c, "B"), "x=y");
  ck_assert_int_eq(sc_values_to_json(c, &json, NULL), SC_OK);
  ck_assert_str_eq(json, "{\"A\":\"\",\"B\":\"x=y\",\"_c\":\"line\\nbreak\"}");
  sc_free(json);
  sc_values_free(v);
  sc_values_free(c);
  sc_values_free(NULL);
}
END_TEST

START_TEST(test_capabilities_format)
{
  char *caps = NULL;
  g_autofree char *last = NULL;
  int n;

  ck_assert_int_eq(sc_capabilities_all(&caps, NULL), SC_OK);
  ck_assert(g_file_get_contents("/proc/sys/kernel/cap_last_cap", &last, NULL, NULL));
  n = atoi(last);
  if (n > 40)
    n = 40;
  ck_assert(g_str_has_prefix(caps, "\"CAP_CHOWN\",\n\"CAP_DAC_OVERRIDE\",\n"));
  ck_assert(g_str_has_suffix(caps, "\"\n"));
  /* one name per capability: n+1 names, n separators */
  {
    int lines = 0;
    for (const char *p = caps; *p; p++)
      lines += (*p == '\n');
    ck_assert_int_eq(lines, n + 1);
  }
  ck_assert(strstr(caps, "\"CAP_AUDIT_READ\"") != NULL);
  sc_free(caps);
}
END_TEST

static Suite *
suite(void)
{
  Suite *s = suite_create("render");
  TCase *tc = tcase_create("render");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_precedence);
  tcase_add_test(tc, test_user_values_beat_host_defaults);
  tcase_add_test(tc, test_render_limit);
  tcase_add_test(tc, test_default_unit_detached_with_runc);
  tcase_add_test(tc, test_braced_pidfile_also_detaches);
  tcase_add_test(tc, test_foreground_when_template_lacks_pidfile);
  tcase_add_test(tc, test_foreground_when_type_is_notify);
  tcase_add_test(tc, test_foreground_runtime_without_pid_file);
  tcase_add_test(tc, test_crun_cgroup_under_the_unit_slice);
  tcase_add_test(tc, test_template_delegate_kept);
  tcase_add_test(tc, test_image_cgroups_path_replaced);
  tcase_add_test(tc, test_linux_not_an_object_left_alone);
  tcase_add_test(tc, test_missing_runtime);
  tcase_add_test(tc, test_tmpfiles_for_missing_bind_sources);
  tcase_add_test(tc, test_tmpfiles_quoting);
  tcase_add_test(tc, test_tmpfiles_template_empty_and_rendered);
  tcase_add_loop_test(tc, test_config_validation_errors, 0, G_N_ELEMENTS(bad_configs));
  tcase_add_test(tc, test_config_validation_ok);
  tcase_add_test(tc, test_remote_rootfs_rewrites_root_path);
  tcase_add_test(tc, test_invalid_config_template_fails_render);
  tcase_add_test(tc, test_plain_config_json_is_verbatim);
  tcase_add_test(tc, test_write_files);
  tcase_add_test(tc, test_no_container_service);
  tcase_add_test(tc, test_exports_refuses_symlinks);
  tcase_add_loop_test(tc, test_manifest_errors, 0, G_N_ELEMENTS(bad_manifests));
  tcase_add_test(tc, test_manifest_scalars_like_python);
  tcase_add_test(tc, test_exports_located_in_image_root);
  tcase_add_test(tc, test_variables_json);
  tcase_add_test(tc, test_names);
  tcase_add_test(tc, test_values_api);
  tcase_add_test(tc, test_capabilities_format);
  tcase_add_test(tc, test_capabilities_array_converted);
  tcase_add_test(tc, test_capabilities_array_not_names_refused);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  return tc_run(suite());
}
