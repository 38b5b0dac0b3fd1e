/* victim.h: who goes first when the whole machine runs out of memory: a
 * pure ranking of guarded services (no I/O), with the reason for each place. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Excesses over memory.low that differ by less than this rank as equal, so
 * growth decides between them. Two samples of a service growing at the
 * measured 20-100 MB/s, taken ~100 ms apart, differ by 2-10 MB; ranking on
 * that noise would be arbitrary, and which of two services frees 10 MB
 * more does not matter, while the one still growing will be back. */
#define VICTIM_USAGE_GRAIN ((uint64_t)16 << 20)

/* One guarded service as seen at one moment. */
struct victim_candidate {
	const char *service;
	bool protected_;      /* policy protected: true: never ranked */
	/* The kubelet's eviction order, the first key: a pod's QoS class
	 * (VICTIM_BESTEFFORT goes first, then VICTIM_BURSTABLE), and
	 * VICTIM_NOT_BURSTABLE for Guaranteed pods and everything that is not
	 * a pod. Candidates that are all alike here rank as before. */
	int eviction_class;
	int priority;         /* lower goes first */
	/* The working set (memory.current - inactive_file): what killing the
	 * service gives back that reclaim could not. Inactive page cache is
	 * freed by the kernel anyway before it runs out, so a service holding
	 * a big cache is not the one exhausting the machine. */
	uint64_t usage;
	uint64_t memory_low;  /* bytes; 0 when unset, UINT64_MAX for "max" */
	/* A pod container: memory_low holds its memory request (the usage a
	 * Burstable pod is ranked above, as the kubelet does), and the pod's
	 * priority class value breaks what is left of a tie. */
	bool low_is_request;
	int64_t pod_priority; /* lower goes first; 0 when not a pod */
	double growth_bps;    /* bytes per second; 0 when unknown */
};

enum { VICTIM_BESTEFFORT, VICTIM_BURSTABLE, VICTIM_NOT_BURSTABLE };

/* What placed a candidate ahead of the next one. */
enum victim_key {
	VICTIM_KEY_QOS,
	VICTIM_KEY_PRIORITY,
	VICTIM_KEY_ABOVE_LOW,
	VICTIM_KEY_POD_PRIORITY,
	VICTIM_KEY_GROWTH,
	VICTIM_KEY_NAME,   /* a full tie: by name, so the order is stable */
	VICTIM_KEY_ONLY,   /* the only candidate */
};

struct victim_rank {
	size_t index;          /* into the candidates */
	int64_t above_low;     /* usage - memory_low, bytes (negative: below it) */
	enum victim_key key;
	char reason[160];
};

/* Rank the candidates: protected ones never appear; then by eviction
 * class (BestEffort pods first, then Burstable); then the lowest
 * priority first; then the most above its memory.low or, for a pod
 * container, its memory request (in VICTIM_USAGE_GRAIN steps); then the
 * lowest pod priority class; then the fastest growing; then by name.
 * out must hold n entries; returns how many were ranked (0: nobody may be
 * chosen). The same candidates in any order give the same ranking. */
size_t victim_rank(const struct victim_candidate *c, size_t n, struct victim_rank *out);

const char *victim_key_to_string(enum victim_key k);
