/*
 * The unit's ownership of its container, attacked in rendering: the
 * cgroupsPath for names and slices systemd names differently in the cgroup
 * tree (escaped controller names, instance units in system-PREFIX.slice),
 * and the runtime's `delete --force` kept ahead of a template's own
 * ExecStopPost= lines, which stop the list when one fails.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-common.h"

#include "sc-private.h"

static const char plain_unit[] = "[Unit]\nDescription=x\n[Service]\nExecStart=/bin/true\n";

static const struct {
  const char *unit, *name, *relative, *absolute;
} cgroups[] = {
  /* systemd's cg_escape(): the part before the last '.' is a controller */
  { plain_unit, "cpu", "_cpu.service/container", "/system.slice/_cpu.service/container" },
  { plain_unit, "memory", "_memory.service/container", "/system.slice/_memory.service/container" },
  { plain_unit, "io", "_io.service/container", "/system.slice/_io.service/container" },
  { plain_unit, "pids", "_pids.service/container", "/system.slice/_pids.service/container" },
  { plain_unit, "cpu.x", "cpu.x.service/container", "/system.slice/cpu.x.service/container" },
  { plain_unit, "cpux", "cpux.service/container", "/system.slice/cpux.service/container" },
  /* an instance without Slice=: systemd's per-template slice */
  { plain_unit,
    "web@1",
    "web@1.service/container",
    "/system.slice/system-web.slice/web@1.service/container" },
  { plain_unit,
    "web-x@1",
    "web-x@1.service/container",
    "/system.slice/system-web\\x2dx.slice/web-x@1.service/container" },
  /* Slice= wins over the per-template slice; a slice named like a controller */
  { "[Service]\nSlice=custom.slice\n",
    "web@1",
    "web@1.service/container",
    "/custom.slice/web@1.service/container" },
  { "[Service]\nSlice=cpu.slice\n", "a", "a.service/container", "/_cpu.slice/a.service/container" },
  { "[Service]\nSlice=io-x.slice\n",
    "a",
    "a.service/container",
    "/_io.slice/io-x.slice/a.service/container" },
};

START_TEST(test_cgroup_path_as_systemd_names_it)
{
  g_autofree char *rel = sc_unit_container_cgroup(cgroups[_i].unit, cgroups[_i].name, TRUE);
  g_autofree char *abs = sc_unit_container_cgroup(cgroups[_i].unit, cgroups[_i].name, FALSE);

  ck_assert_str_eq(rel, cgroups[_i].relative);
  ck_assert_str_eq(abs, cgroups[_i].absolute);
}
END_TEST

/* flannel's service.template: its ExecStopPost= fails when the drop-in is
 * not there, and systemd then runs none of the later ExecStopPost= lines */
START_TEST(test_delete_before_template_stop_post)
{
  const char *rendered =
    "[Unit]\nDescription=flannel\n\n[Service]\nExecStart=/usr/bin/runc run 'f'\n"
    "ExecStopPost=/bin/rm /etc/systemd/system/docker.service.d/f.conf\n"
    "Restart=on-failure\n\n[Install]\nWantedBy=multi-user.target\n";
  g_autofree char *unit = sc_unit_finish(rendered, FALSE, NULL, "/usr/bin/runc", "f");

  ck_assert_str_eq(unit,
                   "[Unit]\nDescription=flannel\n\n[Service]\nDelegate=yes\n"
                   "ExecStart=/usr/bin/runc run 'f'\n"
                   "ExecStopPost=-/usr/bin/runc delete --force 'f'\n"
                   "ExecStopPost=/bin/rm /etc/systemd/system/docker.service.d/f.conf\n"
                   "Restart=on-failure\n\n[Install]\nWantedBy=multi-user.target\n");
}
END_TEST

/* an empty ExecStopPost= resets the list: ours goes after it */
START_TEST(test_delete_after_stop_post_reset)
{
  const char *rendered = "[Service]\nExecStopPost=/bin/a\nExecStopPost=\nExecStart=/x\n"
                         "ExecStopPost=/bin/b\n";
  g_autofree char *unit = sc_unit_finish(rendered, FALSE, NULL, "/usr/bin/crun", "f");

  ck_assert_str_eq(unit,
                   "[Service]\nDelegate=yes\nExecStopPost=/bin/a\nExecStopPost=\nExecStart=/x\n"
                   "ExecStopPost=-/usr/bin/crun delete --force 'f'\nExecStopPost=/bin/b\n");
  g_free(unit);
  unit = sc_unit_finish("[Service]\nExecStopPost=/bin/a\nExecStopPost=\nExecStart=/x\n",
                        FALSE,
                        NULL,
                        "/usr/bin/crun",
                        "f");
  ck_assert_str_eq(unit,
                   "[Service]\nDelegate=yes\nExecStopPost=/bin/a\nExecStopPost=\nExecStart=/x\n"
                   "ExecStopPost=-/usr/bin/crun delete --force 'f'\n");
}
END_TEST

int
main(void)
{
  Suite *s = suite_create("unit-attack");
  TCase *tc = tcase_create("cgroup");

  tcase_add_loop_test(tc, test_cgroup_path_as_systemd_names_it, 0, G_N_ELEMENTS(cgroups));
  tcase_add_test(tc, test_delete_before_template_stop_post);
  tcase_add_test(tc, test_delete_after_stop_post_reset);
  suite_add_tcase(s, tc);
  return tc_run(s);
}
