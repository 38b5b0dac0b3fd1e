/* kubelet.h: the pods of this node as the kubelet lists them.
 * GET <url>/pods on the kubelet's authenticated port (HTTPS, 10250) with
 * the pod's service-account token, driven by libcurl from guardian's own
 * loop: it never waits on the network. The table it keeps answers "who is
 * the pod with this uid, and which of its containers has this id"; when
 * the kubelet cannot be reached the table is empty and watch.c names
 * pods from the kubelet's log directories instead. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "policy.h" /* enum kube_qos */

struct kube_container {
	char *name;
	char *id;                /* the runtime's id without its "containerd://" */
	uint64_t memory_request; /* bytes; 0 when none is set */
	uint64_t memory_limit;   /* bytes; 0 when none is set */
};

struct kube_pod {
	char *uid, *namespace_, *name;
	char **labels;       /* key, value, key, value, ..., NULL */
	char **annotations;  /* likewise */
	enum kube_qos qos;
	int64_t priority;    /* spec.priority: the priority class's value */
	char *priority_class;
	struct kube_container *containers; /* init containers too */
	size_t n_containers;
	/* Listed by the fetch before too, with other labels or annotations
	 * (kubectl label, kubectl annotate): what the policies decided about
	 * its containers is decided again. */
	bool meta_changed;
};

struct kube_pods {
	struct kube_pod *pods;
	size_t n;
	size_t n_meta_changed; /* pods with meta_changed (kube_pods_mark_changes) */
};

/* Parse the kubelet's PodList. -EBADMSG with why in err when it is not
 * one; items that lack a uid or a name are skipped. */
int kube_pods_parse(const char *json, size_t len, struct kube_pods *ret, char *err, size_t err_len);
void kube_pods_clear(struct kube_pods *p);
const struct kube_pod *kube_pods_find(const struct kube_pods *p, const char *uid);
/* Sets meta_changed on each pod of fresh that old lists with other
 * labels or annotations (order aside); returns how many, also kept in
 * fresh->n_meta_changed. */
size_t kube_pods_mark_changes(const struct kube_pods *old, struct kube_pods *fresh);
const struct kube_container *kube_pod_container(const struct kube_pod *pod, const char *id);
/* The value of key in a labels/annotations array, or NULL. */
const char *kube_meta_get(char *const *kv, const char *key);
/* A Kubernetes quantity ("128Mi", "1G", "1.5e9", "500m") in bytes,
 * rounded up. -EINVAL when it is not one. */
int kube_parse_quantity(const char *s, uint64_t *ret);

struct kubelet_config {
	const char *url;        /* "https://10.0.0.5:10250", or a host: https and 10250 are added */
	const char *token_file; /* read at every request: projected tokens rotate */
	const char *ca_file;
	bool insecure_tls;      /* do not verify the kubelet's serving certificate */
};

struct kubelet;

/* The base URL for --kubelet: a URL as given (less a trailing /), or a
 * host or host:port with https:// (and :10250) added, a bare IPv6
 * address bracketed. NULL when out of memory. */
char *kubelet_normalize_url(const char *s);

/* Called after every fetch, good or bad: the table may have changed, or
 * the kubelet just failed and the pods it was awaited for should be named
 * another way now. */
typedef void (*kubelet_update_fn)(void *data);

int kubelet_new(struct loop *loop, const struct kubelet_config *cfg, kubelet_update_fn on_update, void *data,
		struct kubelet **ret);
void kubelet_free(struct kubelet *k);

/* Ask for a fresh list soon (a pod cgroup appeared that the table does
 * not have). Fetches are one at a time and at least KUBELET_MIN_GAP apart;
 * without asking, the list is fetched every KUBELET_REFRESH. */
#define KUBELET_MIN_GAP (300 * USEC_PER_MSEC)
#define KUBELET_REFRESH (60 * USEC_PER_SEC)
void kubelet_refresh(struct kubelet *k);

/* The table from the last good fetch (empty until one). */
const struct kube_pods *kubelet_pods(const struct kubelet *k);
/* Whether the last fetch succeeded; why not in *error. */
bool kubelet_ok(const struct kubelet *k, const char **error);
/* Fetches done (good or bad). */
unsigned kubelet_fetches(const struct kubelet *k);
/* Whether a pod the table lacks is worth waiting for: the kubelet
 * answered last time, or has not been asked yet (guardian just started). */
bool kubelet_worth_waiting(const struct kubelet *k);
const char *kubelet_url(const struct kubelet *k);
