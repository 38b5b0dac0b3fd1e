/* kubepods.c: the kubelet's cgroup layout (see kubepods.h). */
#include "kubepods.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

/* A pod uid: 36 characters, hex in 8-4-4-4-12 groups, the separator given. */
static bool uid_ok(const char *s, size_t len, char sep)
{
	if (len != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != sep : !strchr("0123456789abcdef", s[i]))
			return false;
	}
	return true;
}

static bool id_ok(const char *s, size_t len)
{
	if (len == 0 || len >= sizeof(((struct kube_cgroup *)0)->container_id))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!strchr("0123456789abcdef", s[i]))
			return false;
	return true;
}

/* The path's segments (at most 8, each without its '/'). */
static size_t split(const char *path, const char *seg[8], size_t len[8])
{
	size_t n = 0;

	while (*path && n < 8) {
		const char *end = strchrnul(path, '/');

		seg[n] = path;
		len[n++] = (size_t)(end - path);
		path = *end ? end + 1 : end;
	}
	return *path ? 0 : n;
}

static bool seg_is(const char *seg, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(seg, word, len) == 0;
}

static bool starts(const char *seg, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(seg, prefix, n) == 0;
}

static enum kube_qos qos_word(const char *s, size_t len)
{
	if (seg_is(s, len, "burstable"))
		return KUBE_QOS_BURSTABLE;
	if (seg_is(s, len, "besteffort"))
		return KUBE_QOS_BESTEFFORT;
	return KUBE_QOS_UNKNOWN;
}

static int parse_systemd(const char *seg[8], size_t len[8], size_t n, struct kube_cgroup *k)
{
	static const struct { const char *prefix, *name; } runtimes[] = {
		{ "cri-containerd-", "containerd" }, { "crio-", "crio" }, { "docker-", "docker" },
	};
	const char *pod = seg[1], *scope;
	size_t plen = len[1], slen;
	char prefix[64];

	/* kubepods.slice/[kubepods-QOS.slice/]kubepods[-QOS]-pod<uid>.slice/<rt>-<id>.scope */
	if (n == 4) {
		enum kube_qos q;

		if (!starts(seg[1], len[1], "kubepods-") || len[1] < 15 || memcmp(seg[1] + len[1] - 6, ".slice", 6))
			return -EINVAL;
		q = qos_word(seg[1] + 9, len[1] - 15);
		if (q == KUBE_QOS_UNKNOWN)
			return -EINVAL;
		k->qos = q;
		snprintf(prefix, sizeof(prefix), "kubepods-%.*s-pod", (int)(len[1] - 15), seg[1] + 9);
		pod = seg[2], plen = len[2];
	} else if (n == 3) {
		k->qos = KUBE_QOS_GUARANTEED;
		snprintf(prefix, sizeof(prefix), "kubepods-pod");
	} else
		return -EINVAL;
	if (!starts(pod, plen, prefix) || plen != strlen(prefix) + 36 + 6 ||
	    memcmp(pod + plen - 6, ".slice", 6) || !uid_ok(pod + strlen(prefix), 36, '_'))
		return -EINVAL;
	memcpy(k->pod_uid, pod + strlen(prefix), 36);
	k->pod_uid[36] = '\0';
	for (size_t i = 0; i < 36; i++)
		if (k->pod_uid[i] == '_')
			k->pod_uid[i] = '-';
	scope = seg[n - 1], slen = len[n - 1];
	if (slen < 7 || memcmp(scope + slen - 6, ".scope", 6))
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(runtimes); i++) {
		size_t rl = strlen(runtimes[i].prefix);

		if (!starts(scope, slen, runtimes[i].prefix) || !id_ok(scope + rl, slen - rl - 6))
			continue;
		snprintf(k->container_id, sizeof(k->container_id), "%.*s", (int)(slen - rl - 6), scope + rl);
		snprintf(k->runtime, sizeof(k->runtime), "%s", runtimes[i].name);
		k->driver = KUBE_DRIVER_SYSTEMD;
		return 0;
	}
	return -EINVAL;
}

static int parse_cgroupfs(const char *seg[8], size_t len[8], size_t n, struct kube_cgroup *k)
{
	const char *pod;
	size_t plen;

	/* kubepods/[QOS/]pod<uid>/<id> */
	if (n == 4) {
		k->qos = qos_word(seg[1], len[1]);
		if (k->qos == KUBE_QOS_UNKNOWN)
			return -EINVAL;
	} else if (n == 3)
		k->qos = KUBE_QOS_GUARANTEED;
	else
		return -EINVAL;
	pod = seg[n - 2], plen = len[n - 2];
	if (!starts(pod, plen, "pod") || !uid_ok(pod + 3, plen - 3, '-') || !id_ok(seg[n - 1], len[n - 1]))
		return -EINVAL;
	memcpy(k->pod_uid, pod + 3, 36);
	k->pod_uid[36] = '\0';
	snprintf(k->container_id, sizeof(k->container_id), "%.*s", (int)len[n - 1], seg[n - 1]);
	k->runtime[0] = '\0';
	k->driver = KUBE_DRIVER_CGROUPFS;
	return 0;
}

int kube_parse_cgroup(const char *path, struct kube_cgroup *ret)
{
	const char *seg[8];
	size_t len[8], n = split(path, seg, len);
	struct kube_cgroup k = { 0 };
	int r;

	if (n == 0)
		return -EINVAL;
	if (seg_is(seg[0], len[0], "kubepods.slice"))
		r = parse_systemd(seg, len, n, &k);
	else if (seg_is(seg[0], len[0], "kubepods"))
		r = parse_cgroupfs(seg, len, n, &k);
	else
		r = -EINVAL;
	if (r == 0)
		*ret = k;
	return r;
}

size_t kube_container_globs(enum kube_driver d, const char **ret, size_t max)
{
	static const char *const systemd[] = {
		"kubepods.slice/kubepods-*.slice/kubepods-*-pod*.slice/*.scope",
		"kubepods.slice/kubepods-pod*.slice/*.scope",
	};
	static const char *const cgroupfs[] = { "kubepods/*/pod*/*", "kubepods/pod*/*" };
	const char *const *v = d == KUBE_DRIVER_SYSTEMD ? systemd : cgroupfs;
	size_t n = 2;

	for (size_t i = 0; i < n && i < max; i++)
		ret[i] = v[i];
	return n < max ? n : max;
}

int kube_pod_from_logs(const char *dir, const char *uid, char *ns, size_t ns_len, char *pod, size_t pod_len)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t ul = strlen(uid);
	int r = -ENOENT;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		const char *name = de->d_name, *first = strchr(name, '_');
		size_t nl = strlen(name);

		/* <namespace>_<pod>_<uid>: namespaces and pod names have no '_' */
		if (!first || nl <= ul + 1 || strcmp(name + nl - ul, uid) != 0 || name[nl - ul - 1] != '_' ||
		    first >= name + nl - ul - 1)
			continue;
		snprintf(ns, ns_len, "%.*s", (int)(first - name), name);
		snprintf(pod, pod_len, "%.*s", (int)(name + nl - ul - 1 - first - 1), first + 1);
		r = 0;
		break;
	}
	closedir(d);
	return r;
}

int kube_container_from_logs(const char *dir, const char *id, char *name, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t il = strlen(id);
	int r = -ENOENT;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		const char *n = de->d_name, *first = strchr(n, '_'), *second = first ? strchr(first + 1, '_') : NULL;
		size_t nl = strlen(n);

		/* <pod>_<namespace>_<container>-<id>.log; none of the names has a '_' */
		if (!second || il == 0 || nl < il + 6 || strcmp(n + nl - 4, ".log") != 0 ||
		    strncmp(n + nl - 4 - il, id, il) != 0 || n[nl - 5 - il] != '-' || n + nl - 5 - il <= second + 1)
			continue;
		snprintf(name, len, "%.*s", (int)(n + nl - 5 - il - second - 1), second + 1);
		r = 0;
		break;
	}
	closedir(d);
	return r;
}
