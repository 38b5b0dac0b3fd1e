/* fuzz_cgroup.c: libFuzzer target for what guardian parses of the kernel's
 * and the kubelet's text: cgroup "key value" files, PSI lines, a cgroup
 * path in the kubelet's layouts, and a watch glob against a path. Any
 * bytes must give a value or an error, never a crash or undefined
 * behaviour. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "cgfs.h"
#include "kubepods.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { "anon", "file", "inactive_file", "oom_kill", "high" };
	uint64_t a = 0, b = 0, c = 0, d = 0, e = 0, v;
	uint64_t *const vals[] = { &a, &b, &c, &d, &e };
	char *text = malloc(size + 1), *slash;
	struct cgfs_psi psi;
	struct kube_cgroup k;
	uint32_t found;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	(void)cgfs_parse_keys(text, keys, vals, 5, &found);
	(void)cgfs_parse_keyed(text, "usage_usec", &v);
	(void)cgfs_parse_psi(text, &psi);
	(void)kube_parse_cgroup(text, &k);
	/* The first line as a glob, the rest as a path. */
	slash = strchr(text, '\n');
	if (slash) {
		*slash = '\0';
		(void)policy_watch_matches(text, slash + 1);
	}
	free(text);
	return 0;
}
