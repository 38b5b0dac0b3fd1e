/* fuzz_meminfo.c: libFuzzer target for the system guard's /proc/meminfo
 * parser: any bytes give the figures or -EBADMSG. Asserted, besides no
 * crash or undefined behaviour:
 *   - figures are whole kB, and written back as the kernel writes them
 *     they parse to the same;
 *   - a line of another key changes nothing, a second MemTotal is an error;
 *   - the threshold from them is never above its size, nor above
 *     MemTotal for a percentage, and the guard triggers on MemAvailable
 *     exactly when it is below it. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sysguard.h"


static bool same(const struct sysguard_meminfo *a, const struct sysguard_meminfo *b)
{
	return a->mem_total == b->mem_total && a->mem_available == b->mem_available && a->swap_free == b->swap_free;
}

/* text with line appended on a line of its own. */
static int parse_with(const char *text, const char *line, struct sysguard_meminfo *ret)
{
	char *s;
	int r;

	if (asprintf(&s, "%s\n%s\n", text, line) < 0)
		return -ENOMEM;
	r = sysguard_parse_meminfo(s, ret);
	free(s);
	return r;
}

static void check_thresholds(const struct sysguard_meminfo *m)
{
	static const struct sysguard_threshold ts[] = {
		{ .percent = 10, .bytes = 2ULL << 30 }, /* the default */
		{ .percent = 10 },
		{ .bytes = 512ULL << 20 },
		{ .percent = 1e-9 },
		{ .percent = 99.99999999999999 }, /* the largest below 100 */
	};

	for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		struct sysguard_config cfg = { .min_available = ts[i] };
		struct sysguard_state st = { 0 };
		struct sysguard_sample s = { .at = 1, .mem_total = m->mem_total, .mem_available = m->mem_available };
		uint64_t v = sysguard_threshold_bytes(&ts[i], m->mem_total);

		check(!ts[i].bytes || v <= ts[i].bytes);
		check(!(ts[i].percent > 0 && ts[i].percent <= 10) || v <= m->mem_total);
		check((sysguard_check(&cfg, &st, &s) == SG_TRIGGER_MEM_AVAILABLE) == (m->mem_available < v));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sysguard_meminfo m, again;
	char *text = malloc(size + 1), kernel[256];
	int r;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	r = sysguard_parse_meminfo(text, &m);
	if (r < 0) {
		check(r == -EBADMSG || r == -ENOMEM);
		free(text);
		return 0;
	}
	check(m.mem_total % 1024 == 0 && m.mem_available % 1024 == 0 && m.swap_free % 1024 == 0);
	snprintf(kernel, sizeof(kernel), "MemTotal:       %8llu kB\nMemFree:          123456 kB\n"
		 "MemAvailable:   %8llu kB\nSwapFree:       %8llu kB\n",
		 (unsigned long long)(m.mem_total / 1024), (unsigned long long)(m.mem_available / 1024),
		 (unsigned long long)(m.swap_free / 1024));
	check(sysguard_parse_meminfo(kernel, &again) == 0 && same(&m, &again));
	r = parse_with(text, "Hugetlb: whatever 17 MB", &again);
	check(r == -ENOMEM || (r == 0 && same(&m, &again)));
	r = parse_with(text, "MemTotal:       1024 kB", &again);
	check(r == -ENOMEM || r == -EBADMSG);
	check_thresholds(&m);
	free(text);
	return 0;
}
