/*
 * Unit tests of the privilege review (lib/container/privileges.c): the
 * privileges computed from crafted config.json/unit pairs and the
 * difference old -> new, word for word; hostile specs (huge arrays,
 * non-string capabilities, duplicate mounts, relative sources, escapes
 * from the slot) refused or read the conservative way, never a crash.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include "sc-private.h"

#define SLOT "/var/lib/containers/atomic/c.0"
#define OTHER "/var/lib/containers/atomic/c.1"
#define RUNC "/usr/bin/runc"

static const char *const own[] = { SLOT, OTHER, NULL };

static const char base_spec[] =
  "{\"process\":{\"noNewPrivileges\":true,\"user\":{\"uid\":1},"
  "\"capabilities\":{\"bounding\":[\"CAP_CHOWN\"],\"effective\":[\"CAP_CHOWN\"],"
  "\"permitted\":[\"CAP_CHOWN\"]}},"
  "\"root\":{\"path\":\"rootfs\",\"readonly\":true},"
  "\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
  "{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"/var/lib/c\","
  "\"options\":[\"rbind\",\"ro\"]}],"
  "\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\"},{\"type\":\"mount\"},"
  "{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"user\"},{\"type\":\"cgroup\"}],"
  "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\"},\"maskedPaths\":[\"/proc/kcore\"]}}";

static const char base_unit[] = "[Unit]\nDescription=c\n[Service]\n"
                                "ExecStart=" RUNC " run 'c'\nExecStop=" RUNC " kill 'c'\n";

static json_t *
compute(const char *config, const char *unit, const char *const *files, GError **error)
{
  g_autoptr(GPtrArray) list = g_ptr_array_new();
  json_t *doc = NULL;

  for (int i = 0; files && files[i]; i++)
    g_ptr_array_add(list, (gpointer)files[i]);
  ScPrivInput in = { config, unit, RUNC, list, SLOT, own, "c" };
  if (!sc_privileges_compute(&in, &doc, error))
    return NULL;
  return doc;
}

static json_t *
compute_ok(const char *config, const char *unit, const char *const *files)
{
  g_autoptr(GError) error = NULL;
  json_t *doc = compute(config, unit, files, &error);

  ck_assert_msg(doc != NULL, "%s", error ? error->message : "?");
  return doc;
}

/* The texts of diff[@key], joined by "|". */
static char *
texts(json_t *diff, const char *key)
{
  GString *s = g_string_new(NULL);
  json_t *v;
  size_t i;

  json_array_foreach (json_object_get(diff, key), i, v)
    g_string_append_printf(s, "%s%s", i ? "|" : "", json_string_value(json_object_get(v, "text")));
  return g_string_free(s, FALSE);
}

/* Added and removed going from base to @config/@unit/@files. */
static void
assert_diff(const char *config,
            const char *unit,
            const char *const *files,
            const char *added,
            const char *removed)
{
  g_autoptr(json_t) a = compute_ok(base_spec, base_unit, NULL);
  g_autoptr(json_t) b = compute_ok(config, unit, files);
  g_autoptr(json_t) d = sc_privileges_diff(a, b);
  g_autofree char *add = texts(d, "added");
  g_autofree char *rem = texts(d, "removed");

  ck_assert_str_eq(add, added);
  ck_assert_str_eq(rem, removed);
}

static char *
replace(const char *s, const char *from, const char *to)
{
  g_auto(GStrv) parts = g_strsplit(s, from, -1);

  ck_assert_uint_eq(g_strv_length(parts), 2); /* (the test edits what it means to) */
  return g_strjoinv(to, parts);
}

START_TEST(test_same_is_nothing)
{
  assert_diff(base_spec, base_unit, NULL, "", "");
}
END_TEST

START_TEST(test_capability_added)
{
  g_autofree char *c = replace(base_spec,
                               "\"bounding\":[\"CAP_CHOWN\"]",
                               "\"bounding\":[\"CAP_CHOWN\",\"sys_admin\",\"CAP_SYS_ADMIN\"]");
  g_autofree char *c2 =
    replace(c, "\"effective\":[\"CAP_CHOWN\"]", "\"effective\":[\"CAP_CHOWN\",\"CAP_SYS_ADMIN\"]");

  /* (lower case and without CAP_ is the same capability; once) */
  assert_diff(c2, base_unit, NULL, "capability CAP_SYS_ADMIN added (bounding, effective)", "");
}
END_TEST

START_TEST(test_capability_removed)
{
  g_autofree char *c = replace(base_spec, "\"bounding\":[\"CAP_CHOWN\"]", "\"bounding\":[]");

  assert_diff(c, base_unit, NULL, "", "capability CAP_CHOWN removed (bounding)");
}
END_TEST

START_TEST(test_namespaces)
{
  g_autofree char *c = replace(base_spec, "{\"type\":\"network\"},", "");
  g_autofree char *c2 =
    replace(c, "{\"type\":\"pid\"}", "{\"type\":\"pid\",\"path\":\"/proc/1/ns/pid\"}");

  assert_diff(c2, base_unit, NULL, "host pid namespace shared|host network namespace shared", "");
}
END_TEST

START_TEST(test_mounts)
{
  g_autofree char *c =
    replace(base_spec,
            "\"options\":[\"rbind\",\"ro\"]}]",
            "\"options\":[\"rbind\",\"rw\"]},"
            "{\"destination\":\"/host\",\"source\":\"/\",\"options\":[\"rbind\"]},"
            "{\"destination\":\"/host\",\"source\":\"/\",\"options\":[\"rbind\",\"ro\"]},"
            /* the container's own files (relative: in the bundle), not host paths */
            "{\"destination\":\"/s\",\"type\":\"bind\",\"source\":\"x\"},"
            "{\"destination\":\"/o\",\"type\":\"bind\",\"source\":\"" OTHER "/rootfs\"},"
            /* relative, but out of the slot: a host path */
            "{\"destination\":\"/e\",\"type\":\"bind\",\"source\":\"../../../../../etc\"},"
            "{\"destination\":\"/t\",\"type\":\"tmpfs\",\"source\":\"/etc\"}]");

  assert_diff(c,
              base_unit,
              NULL,
              "mount /var/lib/c:/data made read-write|mount /:/host read-write added|"
              "mount /etc:/e read-write added",
              "");
}
END_TEST

START_TEST(test_flags)
{
  g_autofree char *c = replace(base_spec, "\"noNewPrivileges\":true", "\"noNewPrivileges\":false");
  g_autofree char *c2 = replace(c, "\"readonly\":true", "\"readonly\":\"yes\"");

  /* (not true is not read-only) */
  assert_diff(c2, base_unit, NULL, "noNewPrivileges dropped|root made writable", "");
  assert_diff(base_spec, base_unit, NULL, "", "");
}
END_TEST

START_TEST(test_settings_devices_hooks)
{
  g_autofree char *c =
    replace(base_spec,
            "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\"},\"maskedPaths\":[\"/proc/kcore\"]",
            "\"sysctl\":{\"net.ipv4.ip_forward\":\"1\"},"
            "\"devices\":[{\"type\":\"c\",\"major\":10,\"minor\":200,\"path\":\"/dev/net/tun\"}],"
            "\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"},"
            "{\"allow\":true,\"type\":\"b\",\"access\":\"rw\"}]}");
  g_autofree char *c2 = replace(c,
                                "\"root\":",
                                "\"hooks\":{\"prestart\":[{\"path\":\"/bin/x\"}]},"
                                "\"root\":");
  g_autofree char *c3 = replace(c2, "\"uid\":1", "\"uid\":0");

  assert_diff(c3,
              base_unit,
              NULL,
              "device allow b *:* rw added|device c 10:200 /dev/net/tun added|"
              "no seccomp filter|process runs as uid 0|sysctl net.ipv4.ip_forward=1|"
              "masked /proc/kcore no more (exposed to the container)|"
              "unit runs /bin/x as root on the host (hook prestart)",
              "");
}
END_TEST

START_TEST(test_unit_commands)
{
  const char *unit = "[Unit]\nExecStartPre=/bin/not-in-service\n[Service]\nUser=svc\n"
                     "ExecStart=" RUNC " run 'c'\n"
                     "ExecStartPre=-/usr/bin/mkdir \\\n  /run/c\n"
                     "ExecStartPost=+/usr/bin/setup\n"
                     "ExecReload=\n"
                     "ExecStop=" RUNC " kill 'c'\n";
  const char *files[] = { "/etc/c.conf", NULL };

  assert_diff(base_spec,
              unit,
              files,
              "host file /etc/c.conf added|"
              "unit runs /usr/bin/mkdir    /run/c as svc on the host (ExecStartPre)|"
              "unit runs /usr/bin/setup as root on the host (ExecStartPost)",
              "");
}
END_TEST

START_TEST(test_runtime_commands)
{
  /* the runtime with other arguments than the tool renders runs what it
   * is told on the host; a command that does not parse is not ours */
  const char *unit = "[Service]\nPermissionsStartOnly=yes\nUser=svc\n"
                     "ExecStart=" RUNC " run 'c'\n"
                     "ExecStartPre=" RUNC " run -d --pid-file /run/c.pid 'c'\n"
                     "ExecStartPost=" RUNC " --root /tmp/r run other\n"
                     "ExecStopPost=" RUNC " delete 'c\n"
                     "ExecStopPost=-" RUNC " delete --force 'c'\n"
                     "ExecStop=" RUNC " kill 'c'\n";

  assert_diff(base_spec,
              unit,
              NULL,
              "unit runs " RUNC " --root /tmp/r run other as root on the host (ExecStartPost)|"
              "unit runs " RUNC " delete 'c as root on the host (ExecStopPost)",
              "");
}
END_TEST

/* a user's container: the runtime told it is rootless (render.c) is the
 * tool's own command in each form; with other words, or rootless alone,
 * or another container's name, it is not */
START_TEST(test_runtime_commands_rootless)
{
  const char *unit = "[Service]\n"
                     "ExecStart=" RUNC " --rootless true run 'c'\n"
                     "ExecStartPre=" RUNC " --rootless true run -d --pid-file /run/c.pid 'c'\n"
                     "ExecStop=" RUNC " --rootless true kill 'c'\n"
                     "ExecStopPost=-" RUNC " --rootless true delete --force 'c'\n"
                     "ExecStopPost=-" RUNC " --rootless true delete 'c'\n"
                     "ExecStartPost=" RUNC " --rootless false run 'c'\n"
                     "ExecReload=" RUNC " --rootless true kill 'other'\n"
                     "ExecStopPost=" RUNC " --rootless true\n";

  assert_diff(base_spec,
              unit,
              NULL,
              "unit runs " RUNC " --rootless false run 'c' as root on the host (ExecStartPost)|"
              "unit runs " RUNC " --rootless true kill 'other' as root on the host (ExecReload)|"
              "unit runs " RUNC " --rootless true as root on the host (ExecStopPost)",
              "");
}
END_TEST

/* runc 1.1 takes an empty defaultAction without syscalls for no filter at
 * all (atomic's test image, updated to one without seccomp: nothing added) */
START_TEST(test_seccomp_empty_is_none)
{
  g_autofree char *empty = replace(base_spec,
                                   "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\"}",
                                   "\"seccomp\":{\"defaultAction\":\"\",\"architectures\":null}");
  g_autofree char *none =
    replace(base_spec, "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\"},", "");

  assert_diff(empty, base_unit, NULL, "no seccomp filter", "");
  g_autoptr(json_t) a = compute_ok(empty, base_unit, NULL);
  g_autoptr(json_t) b = compute_ok(none, base_unit, NULL);
  g_autoptr(json_t) d = sc_privileges_diff(a, b);
  ck_assert_int_eq(json_array_size(json_object_get(d, "added")), 0);
}
END_TEST

START_TEST(test_capabilities_absent_are_all)
{
  g_autofree char *c = replace(base_spec,
                               "\"capabilities\":{\"bounding\":[\"CAP_CHOWN\"],"
                               "\"effective\":[\"CAP_CHOWN\"],\"permitted\":[\"CAP_CHOWN\"]}",
                               "\"capabilities\":null");
  g_autofree char *c2 = replace(
    base_spec, "\"bounding\":[\"CAP_CHOWN\"]", "\"bounding\":[\"CAP_CHOWN\",\"CAP_SYS_ADMIN\"]");

  /* runc drops none without the list: every capability */
  assert_diff(c,
              base_unit,
              NULL,
              "every capability (no process.capabilities) added (bounding, effective, "
              "permitted)",
              ""); /* (CAP_CHOWN is in every capability) */
  /* from every capability to a list: nothing added */
  {
    g_autoptr(json_t) a = compute_ok(c, base_unit, NULL);
    g_autoptr(json_t) b = compute_ok(c2, base_unit, NULL);
    g_autoptr(json_t) d = sc_privileges_diff(a, b);
    g_autofree char *add = texts(d, "added");
    g_autofree char *rem = texts(d, "removed");
    ck_assert_str_eq(add, "");
    ck_assert_str_eq(rem,
                     "every capability (no process.capabilities) removed (bounding, "
                     "effective, permitted)");
  }
}
END_TEST

START_TEST(test_install_from_nothing)
{
  g_autoptr(json_t) b = compute_ok(base_spec, base_unit, NULL);
  g_autoptr(json_t) d = sc_privileges_diff(NULL, b);
  g_autofree char *add = texts(d, "added");

  ck_assert_str_eq(add,
                   "capability CAP_CHOWN added (bounding, effective, permitted)|"
                   "mount /var/lib/c:/data read-only added");
  ck_assert_uint_eq(json_array_size(json_object_get(d, "removed")), 0);
}
END_TEST

static void
assert_refused(const char *config, const char *message)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(json_t) doc = compute(config, base_unit, NULL, &error);

  ck_assert_ptr_null(doc);
  ck_assert_int_eq(error->code, SC_ESPEC);
  ck_assert_str_eq(error->message, message);
}

START_TEST(test_hostile)
{
  g_autoptr(GString) huge = g_string_new("{\"process\":{\"capabilities\":{\"bounding\":[");
  g_autoptr(GString) mounts = g_string_new("{\"mounts\":[");

  for (int i = 0; i < 5000; i++)
    g_string_append_printf(huge, "%s\"CAP_%d\"", i ? "," : "", i);
  g_string_append(huge, "]}}}");
  assert_refused(huge->str,
                 "config.json: process.capabilities.bounding has 5000 entries (at most 4096)");
  assert_refused("{\"process\":{\"capabilities\":{\"effective\":[\"CAP_A\",7]}}}",
                 "config.json: process.capabilities.effective[1] is not a capability name");
  assert_refused("{\"process\":{\"capabilities\":{\"ambient\":\"CAP_SYS_ADMIN\"}}}",
                 "config.json: process.capabilities.ambient is not an array");
  assert_refused("{\"process\":{\"capabilities\":[]}}",
                 "config.json: process.capabilities is not an object");
  assert_refused("{\"mounts\":{}}", "config.json: mounts is not an array");
  assert_refused("{\"mounts\":[{\"type\":\"bind\",\"destination\":\"/x\"}]}",
                 "config.json: mounts[0] is a bind mount without a source or destination");
  assert_refused("{\"linux\":{\"namespaces\":[{\"path\":\"/x\"}]}}",
                 "config.json: linux.namespaces[0] has no type");
  assert_refused("{\"a\":1,\"a\":2}", "config.json: line 1: duplicate object key near '\"a\"'");
  assert_refused("[]", "config.json: not an object");
  assert_refused("{\"process\":{\"capabilities\":{\"bounding\":[\"all\"]}}}",
                 "config.json: process.capabilities.bounding[0] is not a capability name");
  {
    g_autoptr(GString) hooks = g_string_new("{\"hooks\":{");
    for (int i = 0; i < 17; i++)
      g_string_append_printf(hooks, "%s\"k%d\":[]", i ? "," : "", i);
    g_string_append(hooks, "}}");
    assert_refused(hooks->str, "config.json: hooks has 17 kinds");
  }
  assert_refused("", "config.json: line 1: '[' or '{' expected near end of file");
  /* duplicate mounts: one, read-write wins */
  for (int i = 0; i < 4000; i++)
    g_string_append_printf(mounts,
                           "%s{\"type\":\"bind\",\"source\":\"/\",\"destination\":\"/h\","
                           "\"options\":[\"%s\"]}",
                           i ? "," : "",
                           i == 3999 ? "rw" : "ro");
  g_string_append(mounts, "]}");
  g_autoptr(json_t) doc = compute_ok(mounts->str, NULL, NULL);
  json_t *m = json_object_get(doc, "mounts");
  ck_assert_uint_eq(json_array_size(m), 1);
  ck_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 0), "mode")), "rw");
  /* nothing at all: every namespace the host's */
  ck_assert_uint_eq(json_array_size(json_object_get(doc, "host_namespaces")), 7);
}
END_TEST

/* Attacks of an image author who controls v2 (issue 14's review) */

/* options apply in order: ["ro","rw"] is read-write; a bind through the
 * image's rootfs (a symlink to / in it is followed on the host) is a host
 * path; a host bind shared with the host propagates mounts back */
START_TEST(test_attack_mounts)
{
  g_autofree char *c =
    replace(base_spec,
            "\"options\":[\"rbind\",\"ro\"]}]",
            "\"options\":[\"rbind\",\"ro\",\"rw\"]},"
            "{\"destination\":\"/r\",\"type\":\"bind\",\"source\":\"rootfs/hostlink\"},"
            "{\"destination\":\"/r2\",\"type\":\"bind\",\"source\":\"" OTHER "/rootfs/a/../b\"},"
            "{\"destination\":\"/p\",\"type\":\"bind\",\"source\":\"/"
            "srv\",\"options\":[\"ro\",\"rshared\"]}]");

  assert_diff(c,
              base_unit,
              NULL,
              "mount /var/lib/c:/data made read-write|"
              "mount $DESTDIR/rootfs/hostlink:/r read-write added|"
              "mount $DESTDIR/rootfs/b:/r2 read-write added|"
              "mount /srv:/p read-only added|"
              "mount /srv:/p shares its mounts with the host",
              "");
  /* the same file of the image, in one slot then the other: no change */
  g_autofree char *c2 =
    replace(base_spec,
            "\"options\":[\"rbind\",\"ro\"]}]",
            "\"options\":[\"rbind\",\"ro\"]},"
            "{\"destination\":\"/r\",\"type\":\"bind\",\"source\":\"" OTHER "/rootfs/x\"}]");
  g_autofree char *c3 = replace(c2, OTHER "/rootfs/x", "rootfs/x");
  g_autoptr(json_t) a = compute_ok(c2, base_unit, NULL);
  g_autoptr(json_t) b = compute_ok(c3, base_unit, NULL);
  g_autoptr(json_t) d = sc_privileges_diff(a, b);
  ck_assert_uint_eq(json_array_size(json_object_get(d, "added")), 0);
  ck_assert_uint_eq(json_array_size(json_object_get(d, "removed")), 0);
}
END_TEST

/* filesystems that are not binds but show the host: a disk, an overlay of
 * host directories, a writable sysfs, one without a type; the usual ones
 * (devpts, tmpfs, a read-only cgroup) are not */
START_TEST(test_attack_fs_mounts)
{
  g_autofree char *c = replace(
    base_spec,
    "\"source\":\"proc\"},",
    "\"source\":\"proc\"},"
    "{\"destination\":\"/"
    "sys\",\"type\":\"sysfs\",\"source\":\"sysfs\",\"options\":[\"ro\",\"rw\"]},"
    "{\"destination\":\"/d\",\"type\":\"ext4\",\"source\":\"/dev/sda1\"},"
    "{\"destination\":\"/o\",\"type\":\"overlay\",\"source\":\"overlay\","
    "\"options\":[\"lowerdir=/etc\",\"ro\"]},"
    "{\"destination\":\"/k\",\"source\":\"/dev/sda2\"},"
    "{\"destination\":\"/c\",\"type\":\"cgroup\",\"source\":\"cgroup\",\"options\":[\"ro\"]},"
    "{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\"},"
    "{\"destination\":\"/tmp\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"},"
    "{\"destination\":\"/proc2\",\"type\":\"proc\",\"source\":\"proc\"},");

  assert_diff(c,
              base_unit,
              NULL,
              "mount sysfs sysfs:/sys read-write added|mount ext4 /dev/sda1:/d read-write added|"
              "mount overlay overlay lowerdir=/etc:/o read-only added|"
              "mount (no type) /dev/sda2:/k read-write added|"
              "mount proc proc (not at /proc: unmasked):/proc2 read-write added",
              "");
}
END_TEST

/* a namespace listed twice, once joined by path, is the host's (so is a
 * path that is not a string); rootfs propagation shared sends the
 * container's mounts to the host; crun's run.oci.* annotations change what
 * it does (the cgroupsPath is the render's, not counted) */
START_TEST(test_attack_namespaces)
{
  g_autofree char *c = replace(base_spec,
                               "{\"type\":\"network\"},",
                               "{\"type\":\"network\"},{\"type\":\"network\",\"path\":"
                               "\"/proc/1/ns/net\"},{\"type\":\"pid\",\"path\":7},");
  g_autofree char *c2 = replace(c,
                                "\"maskedPaths\"",
                                "\"rootfsPropagation\":\"rshared\",\"cgroupsPath\":"
                                "\"/system.slice/sshd.service\",\"maskedPaths\"");
  g_autofree char *c3 = replace(c2,
                                "\"root\":",
                                "\"annotations\":{\"run.oci.seccomp_bpf_data\":\"AAAA\","
                                "\"org.example.note\":\"x\"},\"root\":");

  assert_diff(c3,
              base_unit,
              NULL,
              "host pid namespace shared|host network namespace shared|"
              "annotation run.oci.seccomp_bpf_data=AAAA (crun)|"
              "rootfs propagation rshared",
              "");
}
END_TEST

/* unit settings that change what the runtime does on the host: another
 * bundle (the working directory), LD_PRELOAD, output into a host file; the
 * runtime deleting another container */
START_TEST(test_attack_unit)
{
  const char *unit = "[Unit]\nDescription=c\n[Service]\n"
                     "ExecStart=" RUNC " run 'c'\nExecStop=" RUNC " kill 'c'\n"
                     "WorkingDirectory=" SLOT "/rootfs/evil\n"
                     "Environment=LD_PRELOAD=" SLOT "/rootfs/x.so\n"
                     "StandardOutput=truncate:/etc/shadow\n"
                     "StandardError=journal\n"
                     "ExecStopPost=" RUNC " delete --force 'other'\n";
  /* the default working directory, in either slot, is no change */
  const char *plain = "[Unit]\nDescription=c\n[Service]\n"
                      "ExecStart=" RUNC " run 'c'\nExecStop=" RUNC " kill 'c'\n"
                      "WorkingDirectory=" OTHER "\n";

  assert_diff(base_spec,
              unit,
              NULL,
              "unit sets WorkingDirectory=$DESTDIR/rootfs/evil on the host|"
              "unit sets Environment=LD_PRELOAD=$DESTDIR/rootfs/x.so on the "
              "host|unit sets StandardOutput=truncate:/etc/shadow on the host|"
              "unit runs " RUNC " delete --force 'other' as root on the host (ExecStopPost)",
              "");
  assert_diff(base_spec, plain, NULL, "", "");
}
END_TEST

/* the same hook with other arguments or environment runs something else;
 * a user namespace mapping container root to host root is more */
START_TEST(test_attack_hooks_idmaps)
{
  const char *hooks_a = "\"hooks\":{\"poststop\":[{\"path\":\"/bin/sh\",\"args\":[\"sh\",\"-c\","
                        "\"true\"]}]},\"root\":";
  const char *hooks_b = "\"hooks\":{\"poststop\":[{\"path\":\"/bin/sh\",\"args\":[\"sh\",\"-c\","
                        "\"rm -rf /\"],\"env\":[\"LD_PRELOAD=/x.so\"]}]},\"root\":";
  const char *map = "\"uidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}],"
                    "\"maskedPaths\"";
  const char *root_map = "\"uidMappings\":[{\"containerID\":0,\"hostID\":0,\"size\":65536}],"
                         "\"maskedPaths\"";
  g_autofree char *a0 = replace(base_spec, "\"root\":", hooks_a);
  g_autofree char *a = replace(a0, "\"maskedPaths\"", map);
  g_autofree char *b0 = replace(base_spec, "\"root\":", hooks_b);
  g_autofree char *b = replace(b0, "\"maskedPaths\"", root_map);
  g_autoptr(json_t) da = compute_ok(a, base_unit, NULL);
  g_autoptr(json_t) db = compute_ok(b, base_unit, NULL);
  g_autoptr(json_t) d = sc_privileges_diff(da, db);
  g_autofree char *add = texts(d, "added");

  ck_assert_str_eq(add,
                   "user namespace uid container 0 -> host 0 (65536 ids)|"
                   "unit runs LD_PRELOAD=/x.so /bin/sh -c rm -rf / as root on the host "
                   "(hook poststop)");
}
END_TEST

/* [Unit] dependencies start host units with this one (debug-shell, a
 * root shell on tty9), [Install] Alias= and Also= enable or replace them */
START_TEST(test_attack_unit_sections)
{
  const char *unit = "[Unit]\nDescription=c\nWants=debug-shell.service\n"
                     "OnFailure=evil.service\nAfter=network.target\n[Service]\n"
                     "ExecStart=" RUNC " run 'c'\nExecStop=" RUNC " kill 'c'\n"
                     "[Install]\nWantedBy=multi-user.target\nAlias=sshd.service\n"
                     "Also=debug-shell.service\n";

  assert_diff(base_spec,
              unit,
              NULL,
              "unit sets Wants=debug-shell.service on the host|"
              "unit sets OnFailure=evil.service on the host|"
              "unit sets Alias=sshd.service on the host|"
              "unit sets Also=debug-shell.service on the host",
              "");
}
END_TEST

/* a host file in a privileged place (sudoers.d, a unit drop-in) with other
 * content is reported; one elsewhere, or unchanged, is not */
static json_t *
compute_sums(const char *const *files, const char *const *sums)
{
  g_autoptr(GPtrArray) list = g_ptr_array_new();
  g_autoptr(GHashTable) table = g_hash_table_new(g_str_hash, g_str_equal);
  json_t *doc = NULL;

  for (int i = 0; files[i]; i++) {
    g_ptr_array_add(list, (gpointer)files[i]);
    g_hash_table_insert(table, (gpointer)files[i], (gpointer)sums[i]);
  }
  ScPrivInput in = { base_spec, base_unit, RUNC, list, SLOT, own, "c", table };
  ck_assert(sc_privileges_compute(&in, &doc, NULL));
  return doc;
}

START_TEST(test_attack_host_file_content)
{
  const char *files[] = { "/etc/sudoers.d/c",
                          "/etc/systemd/system/sshd.service.d/c.conf",
                          "/etc/c/app.conf",
                          "/usr/local/bin/c-helper",
                          NULL };
  const char *old_sums[] = { "aa", "bb", "cc", "dd" };
  const char *new_sums[] = { "a2", "b2", "c2", "dd" };
  g_autoptr(json_t) a = compute_sums(files, old_sums);
  g_autoptr(json_t) b = compute_sums(files, new_sums);
  g_autoptr(json_t) d = sc_privileges_diff(a, b);
  g_autofree char *add = texts(d, "added");
  g_autofree char *rem = texts(d, "removed");

  ck_assert_str_eq(add,
                   "host file /etc/sudoers.d/c changed|"
                   "host file /etc/systemd/system/sshd.service.d/c.conf changed");
  ck_assert_str_eq(rem, "");
  /* (going back is a change too: the admin reviews it the same way) */
  g_autoptr(json_t) back = sc_privileges_diff(b, a);
  ck_assert_uint_eq(json_array_size(json_object_get(back, "added")), 2);
}
END_TEST

/* systemd's reading of lines, not a simpler one: two backslashes at the
 * end are an escaped backslash (no continuation: the next line, a
 * [Service] header, is one); \r ends a line; a comment line ending in a
 * backslash continues nothing (systemd >= 246) or swallows the next line
 * (older): what either runs is reviewed, once */
START_TEST(test_attack_unit_lines)
{
  const char *unit = "\xef\xbb\xbf[Unit]\nDescription=c \\\\\n[Service]\n"
                     "ExecStart=" RUNC " run 'c'\nExecStop=" RUNC " kill 'c'\n"
                     "ExecStartPre=/usr/bin/one\n"
                     "Restart=no\rExecStartPost=/usr/bin/two\n"
                     "# note \\\nExecStopPost=/usr/bin/three\n"
                     "ExecReload=/bin/sh -c \\\n# x\n 'four'\n";

  assert_diff(base_spec,
              unit,
              NULL,
              "unit runs /usr/bin/one as root on the host (ExecStartPre)|"
              "unit runs /usr/bin/two as root on the host (ExecStartPost)|"
              "unit runs /usr/bin/three as root on the host (ExecStopPost)|"
              "unit runs /bin/sh -c   'four' as root on the host (ExecReload)|"
              "unit runs /bin/sh -c  # x as root on the host (ExecReload)",
              "");
}
END_TEST

/* a refusing filter letting more calls through, a default action that
 * lets them through (NOTIFY: a host agent decides), an AppArmor profile or
 * SELinux label dropped (the runtime's own then) */
START_TEST(test_attack_seccomp_lsm)
{
  g_autofree char *a0 = replace(base_spec,
                                "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\"}",
                                "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":["
                                "{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\"},"
                                "{\"names\":[\"ptrace\"],\"action\":\"SCMP_ACT_ALLOW\","
                                "\"args\":[{\"index\":0,\"value\":0,\"op\":\"SCMP_CMP_EQ\"}]}]}");
  g_autofree char *a = replace(a0,
                               "\"noNewPrivileges\":true",
                               "\"noNewPrivileges\":true,\"apparmorProfile\":\"sc-default\","
                               "\"selinuxLabel\":\"system_u:system_r:container_t:s0\"");
  g_autofree char *b = replace(base_spec,
                               "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\"}",
                               "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_KILL\",\"syscalls\":["
                               "{\"names\":[\"read\",\"ptrace\",\"kexec_load\"],"
                               "\"action\":\"SCMP_ACT_ALLOW\"},"
                               "{\"names\":[\"mount\"],\"action\":\"SCMP_ACT_NOTIFY\"},"
                               "{\"names\":[\"reboot\"],\"action\":\"SCMP_ACT_ERRNO\"}]}");
  g_autoptr(json_t) da = compute_ok(a, base_unit, NULL);
  g_autoptr(json_t) db = compute_ok(b, base_unit, NULL);
  g_autoptr(json_t) d = sc_privileges_diff(da, db);
  g_autofree char *add = texts(d, "added");
  g_autofree char *notify = replace(base_spec, "SCMP_ACT_ERRNO", "SCMP_ACT_NOTIFY");

  ck_assert_str_eq(add,
                   "seccomp allows kexec_load|seccomp allows mount|seccomp allows ptrace|"
                   "AppArmor profile sc-default no more (the runtime's own instead)|"
                   "SELinux label system_u:system_r:container_t:s0 no more (the runtime's own "
                   "instead)");
  assert_diff(
    notify, base_unit, NULL, "seccomp default action SCMP_ACT_NOTIFY lets calls through", "");
  /* from no filter to one: nothing added (install: neither listed) */
  g_autoptr(json_t) none = compute_ok(base_spec, base_unit, NULL);
  json_object_set_new(none, "seccomp_all", json_true());
  g_autoptr(json_t) d2 = sc_privileges_diff(none, db);
  ck_assert_uint_eq(json_array_size(json_object_get(d2, "added")), 0);
  g_autoptr(json_t) d3 = sc_privileges_diff(NULL, da);
  g_autofree char *inst = texts(d3, "added");
  ck_assert_ptr_null(strstr(inst, "seccomp allows"));
  ck_assert_ptr_null(strstr(inst, "AppArmor"));
}
END_TEST

static Suite *
privileges_suite(void)
{
  Suite *s = suite_create("privileges");
  TCase *tc = tcase_create("privileges");

  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_same_is_nothing);
  tcase_add_test(tc, test_capability_added);
  tcase_add_test(tc, test_capability_removed);
  tcase_add_test(tc, test_namespaces);
  tcase_add_test(tc, test_mounts);
  tcase_add_test(tc, test_flags);
  tcase_add_test(tc, test_settings_devices_hooks);
  tcase_add_test(tc, test_unit_commands);
  tcase_add_test(tc, test_runtime_commands);
  tcase_add_test(tc, test_runtime_commands_rootless);
  tcase_add_test(tc, test_capabilities_absent_are_all);
  tcase_add_test(tc, test_seccomp_empty_is_none);
  tcase_add_test(tc, test_install_from_nothing);
  tcase_add_test(tc, test_hostile);
  tcase_add_test(tc, test_attack_mounts);
  tcase_add_test(tc, test_attack_fs_mounts);
  tcase_add_test(tc, test_attack_namespaces);
  tcase_add_test(tc, test_attack_unit);
  tcase_add_test(tc, test_attack_hooks_idmaps);
  tcase_add_test(tc, test_attack_unit_sections);
  tcase_add_test(tc, test_attack_host_file_content);
  tcase_add_test(tc, test_attack_unit_lines);
  tcase_add_test(tc, test_attack_seccomp_lsm);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  return tc_run(privileges_suite());
}
