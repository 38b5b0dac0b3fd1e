/* victim.c: the victim ranking under system-wide memory pressure: priority,
 * then usage above memory.low, then growth. Pure: no I/O, no allocation. */
#include "victim.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1024.0 * 1024.0)

static int64_t above_low(const struct victim_candidate *c)
{
	uint64_t d;

	if (c->usage >= c->memory_low) {
		d = c->usage - c->memory_low;
		return d > INT64_MAX ? INT64_MAX : (int64_t)d;
	}
	d = c->memory_low - c->usage;
	return d > INT64_MAX ? -INT64_MAX : -(int64_t)d;
}

/* Floor division, so that -1 byte is in the step below 0. */
static int64_t grain_step(int64_t bytes)
{
	const int64_t g = (int64_t)VICTIM_USAGE_GRAIN;

	return bytes >= 0 ? bytes / g : -((-(bytes + 1)) / g) - 1;
}

/* Which key separates a (ranked first) from b, and the comparison's sign:
 * negative when a goes before b. */
static int compare_keys(const struct victim_candidate *a, const struct victim_candidate *b,
			enum victim_key *ret_key)
{
	int64_t sa = grain_step(above_low(a)), sb = grain_step(above_low(b));
	int r;

	*ret_key = VICTIM_KEY_QOS;
	if (a->eviction_class != b->eviction_class)
		return a->eviction_class < b->eviction_class ? -1 : 1;
	*ret_key = VICTIM_KEY_PRIORITY;
	if (a->priority != b->priority)
		return a->priority < b->priority ? -1 : 1;
	*ret_key = VICTIM_KEY_ABOVE_LOW;
	if (sa != sb)
		return sa > sb ? -1 : 1;
	*ret_key = VICTIM_KEY_POD_PRIORITY;
	if (a->pod_priority != b->pod_priority)
		return a->pod_priority < b->pod_priority ? -1 : 1;
	*ret_key = VICTIM_KEY_GROWTH;
	if (a->growth_bps != b->growth_bps)
		return a->growth_bps > b->growth_bps ? -1 : 1;
	*ret_key = VICTIM_KEY_NAME;
	r = strcmp(a->service, b->service);
	return r < 0 ? -1 : r > 0 ? 1 : 0;
}

static int compare_ranks(const void *x, const void *y, void *data)
{
	const struct victim_candidate *c = data;
	const struct victim_rank *a = x, *b = y;
	enum victim_key key;
	int r = compare_keys(&c[a->index], &c[b->index], &key);

	if (r != 0)
		return r;
	/* The same name twice: keep the input order, so the sort is total. */
	return a->index < b->index ? -1 : a->index > b->index ? 1 : 0;
}

static const char *class_name(int c)
{
	return c == VICTIM_BESTEFFORT ? "BestEffort" : c == VICTIM_BURSTABLE ? "Burstable" : "Guaranteed or not a pod";
}

/* Why `a` stands where it does relative to its neighbour `b`; `ahead`
 * says whether a goes before b. */
static void describe(const struct victim_candidate *a, const struct victim_candidate *b, enum victim_key key,
		     bool ahead, char *buf, size_t len)
{
	const char *rel = ahead ? "before" : "after";
	double la = (double)above_low(a) / MIB, lb = (double)above_low(b) / MIB;

	switch (key) {
	case VICTIM_KEY_QOS:
		snprintf(buf, len, "%s %s: the kubelet's eviction order (%s before %s)", rel, b->service,
			 class_name(ahead ? a->eviction_class : b->eviction_class),
			 class_name(ahead ? b->eviction_class : a->eviction_class));
		break;
	case VICTIM_KEY_PRIORITY:
		snprintf(buf, len, "%s %s: priority %d %s %d", rel, b->service, a->priority,
			 ahead ? "<" : ">", b->priority);
		break;
	case VICTIM_KEY_ABOVE_LOW:
		snprintf(buf, len, "%s %s: same priority %d; %.0f MiB above %s vs %.0f MiB", rel, b->service,
			 a->priority, la, a->low_is_request ? "its memory request" : "memory.low", lb);
		break;
	case VICTIM_KEY_POD_PRIORITY:
		snprintf(buf, len, "%s %s: same priority and usage; pod priority class %lld %s %lld", rel, b->service,
			 (long long)a->pod_priority, ahead ? "<" : ">", (long long)b->pod_priority);
		break;
	case VICTIM_KEY_GROWTH:
		snprintf(buf, len, "%s %s: same priority, above memory.low alike (%.0f vs %.0f MiB); "
			 "growing %.1f MB/s vs %.1f MB/s", rel, b->service, la, lb, a->growth_bps / 1e6,
			 b->growth_bps / 1e6);
		break;
	case VICTIM_KEY_NAME:
	default:
		snprintf(buf, len, "%s %s: ties on priority, memory.low and growth; by name", rel, b->service);
		break;
	}
}

size_t victim_rank(const struct victim_candidate *c, size_t n, struct victim_rank *out)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (c[i].protected_)
			continue;
		out[k++] = (struct victim_rank){ .index = i, .above_low = above_low(&c[i]) };
	}
	qsort_r(out, k, sizeof(*out), compare_ranks, (void *)c);
	for (size_t i = 0; i < k; i++) {
		const struct victim_candidate *a = &c[out[i].index];
		bool ahead = i + 1 < k;
		const struct victim_candidate *b = ahead ? &c[out[i + 1].index] : NULL;

		if (k == 1) {
			out[i].key = VICTIM_KEY_ONLY;
			snprintf(out[i].reason, sizeof(out[i].reason),
				 "the only candidate: priority %d, %.0f MiB above memory.low", a->priority,
				 (double)out[i].above_low / MIB);
			continue;
		}
		if (!ahead)
			b = &c[out[i - 1].index];
		(void)compare_keys(ahead ? a : b, ahead ? b : a, &out[i].key);
		describe(a, b, out[i].key, ahead, out[i].reason, sizeof(out[i].reason));
	}
	return k;
}

const char *victim_key_to_string(enum victim_key k)
{
	static const char *const names[] = {
		[VICTIM_KEY_QOS] = "qos",
		[VICTIM_KEY_PRIORITY] = "priority",
		[VICTIM_KEY_ABOVE_LOW] = "above_memory_low",
		[VICTIM_KEY_POD_PRIORITY] = "pod_priority",
		[VICTIM_KEY_GROWTH] = "growth",
		[VICTIM_KEY_NAME] = "name",
		[VICTIM_KEY_ONLY] = "only",
	};

	return (size_t)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}
