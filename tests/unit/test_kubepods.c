/* test_kubepods.c: the kubelet's cgroup layout, both drivers and every QoS
 * class, and pod names from its /var/log/pods directories. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "kubepods.h"
#include "policy.h"
#include "tmptree.h"

#define UID "0a1b2c3d-4e5f-6789-abcd-ef0123456789"
#define UID_ "0a1b2c3d_4e5f_6789_abcd_ef0123456789"
#define CID "3f1e9a0c2b7d4e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f"

static void expect(const char *path, enum kube_driver d, enum kube_qos q, const char *runtime)
{
	struct kube_cgroup k;

	print_message("  %s\n", path);
	assert_int_equal(kube_parse_cgroup(path, &k), 0);
	assert_int_equal(k.driver, d);
	assert_int_equal(k.qos, q);
	assert_string_equal(k.pod_uid, UID);
	assert_string_equal(k.container_id, CID);
	assert_string_equal(k.runtime, runtime);
}

static void test_systemd_driver_every_qos_class_and_runtime(void **state)
{
	expect("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice/cri-containerd-" CID ".scope",
	       KUBE_DRIVER_SYSTEMD, KUBE_QOS_BURSTABLE, "containerd");
	expect("kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ ".slice/crio-" CID ".scope",
	       KUBE_DRIVER_SYSTEMD, KUBE_QOS_BESTEFFORT, "crio");
	expect("kubepods.slice/kubepods-pod" UID_ ".slice/docker-" CID ".scope", KUBE_DRIVER_SYSTEMD,
	       KUBE_QOS_GUARANTEED, "docker");
}

static void test_cgroupfs_driver_every_qos_class(void **state)
{
	expect("kubepods/burstable/pod" UID "/" CID, KUBE_DRIVER_CGROUPFS, KUBE_QOS_BURSTABLE, "");
	expect("kubepods/besteffort/pod" UID "/" CID, KUBE_DRIVER_CGROUPFS, KUBE_QOS_BESTEFFORT, "");
	expect("kubepods/pod" UID "/" CID, KUBE_DRIVER_CGROUPFS, KUBE_QOS_GUARANTEED, "");
}

static void test_what_is_not_a_container_cgroup(void **state)
{
	static const char *const not[] = {
		"kubepods.slice",
		"kubepods.slice/kubepods-burstable.slice",
		"kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice", /* the pod itself */
		"kubepods.slice/kubepods-burstable.slice/kubepods-besteffort-pod" UID_ ".slice/crio-" CID ".scope",
		"kubepods.slice/kubepods-sometimes.slice/kubepods-sometimes-pod" UID_ ".slice/crio-" CID ".scope",
		"kubepods.slice/kubepods-pod" UID ".slice/crio-" CID ".scope", /* dashes in a systemd unit */
		"kubepods.slice/kubepods-pod" UID_ ".slice/runc-" CID ".scope",
		"kubepods.slice/kubepods-pod" UID_ ".slice/crio-" CID ".service",
		"kubepods.slice/kubepods-pod" UID_ ".slice/crio-NOTHEX.scope",
		"kubepods/burstable/pod" UID,
		"kubepods/burstable/pod" UID_ "/" CID,
		"kubepods/sometimes/pod" UID "/" CID,
		"system.slice/containerd.service",
		"",
	};
	struct kube_cgroup k;

	for (size_t i = 0; i < sizeof(not) / sizeof(not[0]); i++) {
		print_message("  %s\n", not[i]);
		assert_int_equal(kube_parse_cgroup(not[i], &k), -EINVAL);
	}
}

/* The globs the node mode watches match exactly the layouts the parser
 * takes. */
static void test_container_globs_match_both_layouts(void **state)
{
	const char *g[4];
	size_t n = kube_container_globs(KUBE_DRIVER_SYSTEMD, g, 4);
	bool hit;

	assert_int_equal(n, 2);
	hit = false;
	for (size_t i = 0; i < n; i++)
		hit |= policy_watch_matches(g[i], "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
						  ".slice/cri-containerd-" CID ".scope");
	assert_true(hit);
	hit = false;
	for (size_t i = 0; i < n; i++)
		hit |= policy_watch_matches(g[i], "kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" CID ".scope");
	assert_true(hit);
	n = kube_container_globs(KUBE_DRIVER_CGROUPFS, g, 4);
	hit = false;
	for (size_t i = 0; i < n; i++)
		hit |= policy_watch_matches(g[i], "kubepods/burstable/pod" UID "/" CID);
	assert_true(hit);
	hit = false;
	for (size_t i = 0; i < n; i++)
		hit |= policy_watch_matches(g[i], "kubepods/pod" UID "/" CID);
	assert_true(hit);
}

static void test_pod_names_from_the_kubelets_log_directories(void **state)
{
	char dir[256], path[512], ns[64], pod[256];

	tmptree_new(dir, sizeof(dir), "pods");
	snprintf(path, sizeof(path), "%s/kube-system_coredns-5d78c9869d-abcde_%s", dir, UID);
	tmptree_mkdir(path);
	snprintf(path, sizeof(path), "%s/default_web-0_11111111-2222-3333-4444-555555555555", dir);
	tmptree_mkdir(path);
	assert_int_equal(kube_pod_from_logs(dir, UID, ns, sizeof(ns), pod, sizeof(pod)), 0);
	assert_string_equal(ns, "kube-system");
	assert_string_equal(pod, "coredns-5d78c9869d-abcde");
	assert_int_equal(kube_pod_from_logs(dir, "99999999-2222-3333-4444-555555555555", ns, sizeof(ns), pod,
					    sizeof(pod)), -ENOENT);
	tmptree_remove(dir);
	assert_int_equal(kube_pod_from_logs(dir, UID, ns, sizeof(ns), pod, sizeof(pod)), -ENOENT);
}

static void test_container_names_from_the_kubelets_log_links(void **state)
{
	char dir[256], path[512], name[64];

	tmptree_new(dir, sizeof(dir), "containers");
	snprintf(path, sizeof(path), "%s/coredns-5d78c9869d-abcde_kube-system_coredns-%s.log", dir, CID);
	tmptree_write(path, "");
	snprintf(path, sizeof(path), "%s/web-0_shop_nginx-%s.log", dir, "2222222222222222");
	tmptree_write(path, "");
	assert_int_equal(kube_container_from_logs(dir, CID, name, sizeof(name)), 0);
	assert_string_equal(name, "coredns");
	assert_int_equal(kube_container_from_logs(dir, "2222222222222222", name, sizeof(name)), 0);
	assert_string_equal(name, "nginx");
	/* A prefix of an id is not the id. */
	assert_int_equal(kube_container_from_logs(dir, "22222222", name, sizeof(name)), -ENOENT);
	assert_int_equal(kube_container_from_logs(dir, "", name, sizeof(name)), -ENOENT);
	tmptree_remove(dir);
	assert_true(kube_container_from_logs(dir, CID, name, sizeof(name)) < 0);
}

static void test_qos_names_are_the_apis(void **state)
{
	enum kube_qos q;

	assert_int_equal(kube_qos_from_string("BestEffort", &q), 0);
	assert_int_equal(q, KUBE_QOS_BESTEFFORT);
	assert_string_equal(kube_qos_to_string(KUBE_QOS_GUARANTEED), "Guaranteed");
	assert_int_equal(kube_qos_from_string("besteffort", &q), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_systemd_driver_every_qos_class_and_runtime),
		cmocka_unit_test(test_cgroupfs_driver_every_qos_class),
		cmocka_unit_test(test_container_names_from_the_kubelets_log_links),
		cmocka_unit_test(test_what_is_not_a_container_cgroup),
		cmocka_unit_test(test_container_globs_match_both_layouts),
		cmocka_unit_test(test_pod_names_from_the_kubelets_log_directories),
		cmocka_unit_test(test_qos_names_are_the_apis),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
