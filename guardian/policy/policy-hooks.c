/* policy-hooks.c: the hooks: section of a policy and the daemon-wide hooks
 * file: commands run after kills and restarts, parsed and checked here. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy-internal.h"

/* A hook that ran 10 times in a minute is a loop (a service restarted
 * over and over), not news: the rest are skipped and counted. */
#define HOOK_DEFAULT_PER_MINUTE 10
/* Long enough for a notification over the network, short enough that a
 * hung one does not pile up. */
#define HOOK_DEFAULT_TIMEOUT (10 * USEC_PER_SEC)

static const char *const event_names[] = { "kill", "restart", "oom-kill", "signal", "give-up" };

unsigned hook_event_of_action(const char *action)
{
	for (size_t i = 0; i < ARRAY_SIZE(event_names); i++)
		if (action && strcmp(action, event_names[i]) == 0)
			return 1u << i;
	return 0;
}

static int f_hook_on(struct pctx *c, const struct ynode *v, void *dst)
{
	struct hook *h = dst;

	if (v->kind != YNODE_SEQ || v->n == 0) {
		perr(c, v, "expected a list of kill, restart, oom-kill, signal, give-up, got %s", GOT(v));
		return -EINVAL;
	}
	h->on = 0;
	for (size_t i = 0; i < v->n; i++) {
		size_t old = path_push_index(c, i), k;

		if (read_enum(c, v->items[i], event_names, ARRAY_SIZE(event_names), &k) == 0)
			h->on |= 1u << k;
		path_pop(c, old);
	}
	return 0;
}

static int f_hook_rate(struct pctx *c, const struct ynode *v, void *dst)
{
	uint64_t n;

	if (read_uint(c, v, 1, 1000, &n) < 0)
		return -EINVAL;
	*(unsigned *)dst = (unsigned)n;
	return 0;
}

static int f_hook_timeout(struct pctx *c, const struct ynode *v, void *dst)
{
	usec_t t;

	if (f_duration_pos(c, v, &t) < 0)
		return -EINVAL;
	if (t > 10 * 60 * USEC_PER_SEC) {
		perr(c, v, "at most 10m: a hook that runs longer is hung");
		return -EINVAL;
	}
	*(usec_t *)dst = t;
	return 0;
}

/* The user through the policy's own resolver, so a hook's user is looked
 * up and reported as a service's is. */
static void hook_resolve_user(struct pctx *c, const struct ynode *map, struct hook *h)
{
	struct policy tmp = { .user = h->user };

	if (!h->user || c->errors)
		return;
	if (policy_resolve_cred(c, map, &tmp) == 0)
		h->cred = tmp.cred;
	else {
		free(tmp.cred.groups);
		free(tmp.cred.home);
		free(tmp.cred.shell);
	}
}

/* A before hook holds a kill back: short by default. */
#define HOOK_DEFAULT_BEFORE_TIMEOUT (2 * USEC_PER_SEC)

static void hook_item(struct pctx *c, const struct ynode *v, struct hook *h, bool before)
{
	static const struct field fields[] = {
		REQUIRED("command", f_command, offsetof(struct hook, command)),
		FIELD("user", f_string, offsetof(struct hook, user)),
		FIELD("on", f_hook_on, 0),
		FIELD("timeout", f_hook_timeout, offsetof(struct hook, timeout)),
		FIELD("max_per_minute", f_hook_rate, offsetof(struct hook, max_per_minute)),
	};

	h->on = before ? HOOK_ON_KILL | HOOK_ON_RESTART : HOOK_ON_ALL;
	h->timeout = before ? HOOK_DEFAULT_BEFORE_TIMEOUT : HOOK_DEFAULT_TIMEOUT;
	h->max_per_minute = HOOK_DEFAULT_PER_MINUTE;
	h->line = v->line;
	if (walk_map(c, v, fields, ARRAY_SIZE(fields), h) < 0)
		return;
	if (before && (h->on & ~(unsigned)(HOOK_ON_KILL | HOOK_ON_RESTART))) {
		size_t old = path_push_key(c, "on");

		perr(c, map_get(v, "on"), "a before hook runs before guardian's own kill or restart: kill, restart "
		     "(the kernel's kills and others' signals cannot wait)");
		path_pop(c, old);
		return;
	}
	hook_resolve_user(c, v, h);
}

static int hook_list(struct pctx *c, const struct ynode *v, struct hook **list, size_t *n, bool before)
{
	if (v->kind != YNODE_SEQ) {
		perr(c, v, "expected a list of hooks ({command: ..., user: ..., on: [...], timeout: ...}), got %s",
		     GOT(v));
		return -EINVAL;
	}
	*list = calloc(v->n ? v->n : 1, sizeof(**list));
	if (!*list) {
		perr(c, v, "out of memory");
		return -EINVAL;
	}
	*n = v->n;
	for (size_t i = 0; i < v->n; i++) {
		size_t old = path_push_index(c, i);

		hook_item(c, v->items[i], &(*list)[i], before);
		path_pop(c, old);
	}
	return 0;
}

static int f_hook_after(struct pctx *c, const struct ynode *v, void *dst)
{
	struct hookset *hs = dst;

	return hook_list(c, v, &hs->after, &hs->n_after, false);
}

static int f_hook_before(struct pctx *c, const struct ynode *v, void *dst)
{
	struct hookset *hs = dst;

	return hook_list(c, v, &hs->before, &hs->n_before, true);
}

int f_hooks(struct pctx *c, const struct ynode *v, void *dst)
{
	static const struct field fields[] = {
		FIELD("after", f_hook_after, 0),
		FIELD("before", f_hook_before, 0),
	};

	return walk_map(c, v, fields, ARRAY_SIZE(fields), dst);
}

int hookset_load_file(const char *path, struct hookset *ret, struct diag *d)
{
	_cleanup_ynode_ struct ynode *root = NULL;
	_cleanup_free_ char *buf = NULL;
	struct host_limits host;
	struct pctx c = { .file = path, .d = d, .host = &host };
	struct yerror yerr;
	size_t len;
	int r;

	*ret = (struct hookset){ 0 };
	r = read_policy_file(path, &buf, &len, d);
	if (r < 0)
		return r;
	r = ynode_parse(buf, len, &root, &yerr);
	if (r < 0) {
		diag_add(d, path, yerr.line, yerr.col, "yaml: %s", yerr.msg);
		return r;
	}
	host_limits_read(NULL, &host);
	if (!root) {
		diag_add(d, path, 1, 1, "the file is empty; it needs after: [...]");
		return -EINVAL;
	}
	f_hooks(&c, root, ret);
	if (c.errors) {
		hookset_free(ret);
		return -EINVAL;
	}
	return 0;
}

static void hook_free(struct hook *h)
{
	strv_free(h->command);
	free(h->user);
	free(h->cred.groups);
	free(h->cred.home);
	free(h->cred.shell);
}

void hookset_free(struct hookset *h)
{
	for (size_t i = 0; i < h->n_after; i++)
		hook_free(&h->after[i]);
	free(h->after);
	for (size_t i = 0; i < h->n_before; i++)
		hook_free(&h->before[i]);
	free(h->before);
	*h = (struct hookset){ 0 };
}

static int dup_or_null(const char *s, char **ret)
{
	*ret = s ? strdup(s) : NULL;
	return !s || *ret ? 0 : -ENOMEM;
}

static int copy_list(const struct hook *from, size_t n, struct hook **ret, size_t *ret_n)
{
	*ret = NULL;
	*ret_n = 0;
	if (!n)
		return 0;
	*ret = calloc(n, sizeof(**ret));
	if (!*ret)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct hook *f = &from[i];
		struct hook *t = &(*ret)[i];

		*t = *f;
		t->command = NULL;
		t->user = NULL;
		t->cred.groups = NULL;
		t->cred.home = t->cred.shell = NULL;
		*ret_n = i + 1;
		t->command = strv_copy(f->command);
		t->cred.groups = f->cred.n_groups ? malloc(f->cred.n_groups * sizeof(gid_t)) : NULL;
		if (!t->command || (f->cred.n_groups && !t->cred.groups) || dup_or_null(f->user, &t->user) < 0 ||
		    dup_or_null(f->cred.home, &t->cred.home) < 0 || dup_or_null(f->cred.shell, &t->cred.shell) < 0)
			return -ENOMEM;
		if (f->cred.n_groups)
			memcpy(t->cred.groups, f->cred.groups, f->cred.n_groups * sizeof(gid_t));
	}
	return 0;
}

int hookset_copy(const struct hookset *from, struct hookset *ret)
{
	*ret = (struct hookset){ 0 };
	if (copy_list(from->after, from->n_after, &ret->after, &ret->n_after) < 0 ||
	    copy_list(from->before, from->n_before, &ret->before, &ret->n_before) < 0) {
		hookset_free(ret);
		return -ENOMEM;
	}
	return 0;
}
