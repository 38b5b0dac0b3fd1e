/* kubepods.h: the kubelet's cgroup layout and what it says about a pod.
 * Both cgroup drivers and every QoS class:
 *   systemd:  kubepods.slice/kubepods-burstable.slice/
 *             kubepods-burstable-pod<UID, '-' as '_'>.slice/cri-containerd-<ID>.scope
 *             (also crio-<ID>.scope and docker-<ID>.scope; Guaranteed pods sit
 *             right under kubepods.slice as kubepods-pod<UID>.slice)
 *   cgroupfs: kubepods/burstable/pod<UID>/<ID>, kubepods/besteffort/...,
 *             kubepods/pod<UID>/<ID> for Guaranteed
 * and the pod and container names the kubelet leaves in /var/log/pods and
 * /var/log/containers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "policy.h" /* enum kube_qos, enum kube_driver */

struct kube_cgroup {
	enum kube_driver driver;
	enum kube_qos qos;
	char pod_uid[40];       /* with dashes, as the API has it */
	char container_id[72];  /* the container runtime's id */
	char runtime[16];       /* "containerd", "crio", "docker"; "" for cgroupfs */
};

/* Parse a container's cgroup (a path below the cgroup root). -EINVAL when
 * the path is not one of the layouts above (a pod's own cgroup, a QoS
 * slice, anything else). */
int kube_parse_cgroup(const char *path, struct kube_cgroup *ret);

/* The globs (relative to the cgroup root) that match every container's
 * cgroup of a driver: n of them into ret. */
size_t kube_container_globs(enum kube_driver d, const char **ret, size_t max);

/* Namespace and pod name of the pod with this uid from the kubelet's log
 * directories (<dir>/<namespace>_<pod>_<uid>/<container>/): -ENOENT when
 * it has none (yet). */
int kube_pod_from_logs(const char *dir, const char *uid, char *ns, size_t ns_len, char *pod, size_t pod_len);

/* The name of the container with this runtime id from the kubelet's
 * container log links (<dir>/<pod>_<namespace>_<container>-<id>.log, dir
 * normally /var/log/containers): -ENOENT when it has none. */
int kube_container_from_logs(const char *dir, const char *id, char *name, size_t len);
