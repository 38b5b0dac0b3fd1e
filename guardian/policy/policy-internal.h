/* policy-internal.h: what the policy compiler's files share: the context
 * with the current key path, error reporting, the map walker, value readers. */
#pragma once

#include "policy.h"
#include "yamlnode.h"

/* The kernel's ceilings a policy is checked against, read once per load
 * (policy-host.c). */
struct host_limits {
	const char *proc_root; /* where they were read, for messages */
	uint64_t nr_open;      /* fs.nr_open: the most RLIMIT_NOFILE can be */
	bool nr_open_read;     /* false: unreadable; the kernel's own bound applies */
};

struct pctx {
	const char *file;  /* as given, for messages */
	struct diag *d;
	const struct host_limits *host;
	unsigned errors;   /* counted even when a message could not be stored */
	char path[256];    /* dotted key path of the value being read */
	size_t plen;
};

/* Reads one value into dst. Reports its own errors; returns 0 or -EINVAL. */
typedef int (*field_fn)(struct pctx *c, const struct ynode *v, void *dst);

struct field {
	const char *key; /* first member: suggest() reads tables of these */
	field_fn parse;
	size_t offset;   /* of dst from the base given to walk_map */
	bool required;
};

#define FIELD(key, fn, off) { (key), (fn), (off), false }
#define REQUIRED(key, fn, off) { (key), (fn), (off), true }

size_t path_push_key(struct pctx *c, const char *key);
size_t path_push_index(struct pctx *c, size_t i);
static inline void path_pop(struct pctx *c, size_t len)
{
	c->plen = len;
	c->path[len] = '\0';
}

/* "FILE:LINE:COL: PATH: message" at the node's position. */
void perr(struct pctx *c, const struct ynode *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "FILE:LINE:COL: warning: PATH: message": the policy loads all the same. */
void pwarn(struct pctx *c, const struct ynode *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Quote a scalar for "got ..." ('lots', nothing, a map). buf >= 64. */
const char *got(const struct ynode *v, char *buf, size_t len);
#define GOT(v) got((v), (char[72]){ 0 }, 72)

/* The nearest name within a small edit distance, or NULL. names points at
 * n records of stride bytes whose first member is a const char *. */
const char *suggest(const char *word, const void *names, size_t n, size_t stride);

/* The first value under key in map (NULL when absent or not a map), and
 * its text or dflt, for messages that quote what was written. */
const struct ynode *map_get(const struct ynode *map, const char *key);
const char *text_or(const struct ynode *map, const char *key, const char *dflt);

/* Check map is a map, read every known key with its field's parser, report
 * unknown (with a suggestion), duplicate and missing required keys.
 * Returns 0, or -EINVAL when anything was reported. */
int walk_map(struct pctx *c, const struct ynode *map, const struct field *f, size_t n, void *base);

/* Value readers usable as field_fn. */
int f_node(struct pctx *c, const struct ynode *v, void *dst);   /* const struct ynode ** */
int f_string(struct pctx *c, const struct ynode *v, void *dst); /* char ** */
int f_abs_path(struct pctx *c, const struct ynode *v, void *dst);
/* A duration > 0 and at least min (why says why, for the message). */
int f_duration_floor(struct pctx *c, const struct ynode *v, usec_t *dst, usec_t min, const char *why);
int f_command(struct pctx *c, const struct ynode *v, void *dst); /* char *** */
int f_bool(struct pctx *c, const struct ynode *v, void *dst);
int f_duration(struct pctx *c, const struct ynode *v, void *dst);     /* usec_t *, >= 0 */
int f_duration_pos(struct pctx *c, const struct ynode *v, void *dst); /* usec_t *, > 0 */
int f_size(struct pctx *c, const struct ynode *v, void *dst);         /* uint64_t *, no max */
int f_signal(struct pctx *c, const struct ynode *v, void *dst);       /* int * */

/* Scalar readers for the callers that need bounds. */
int read_scalar(struct pctx *c, const struct ynode *v, const char *what, const char **ret);
int read_int(struct pctx *c, const struct ynode *v, int64_t min, int64_t max, int64_t *ret);
int read_uint(struct pctx *c, const struct ynode *v, uint64_t min, uint64_t max, uint64_t *ret);
int read_enum(struct pctx *c, const struct ynode *v, const char *const *names, size_t n, size_t *ret);

/* The compiler proper (policy-compile.c) and its list sections
 * (policy-checks.c). */
int policy_compile(struct pctx *c, const struct ynode *root, struct policy *p);
int f_health(struct pctx *c, const struct ynode *v, void *dst); /* struct policy * */
int f_rules(struct pctx *c, const struct ynode *v, void *dst);  /* struct policy * */

/* The policy against this machine (policy-host.c). host_limits_read never
 * fails: what it cannot read it leaves to the kernel's own bounds.
 * check_rlimit_ceiling reports a value of resource (RLIMIT_*) at v that
 * the kernel would refuse or that means nothing past its range; 0 or
 * -EINVAL. policy_resolve_cred looks user and group up once (root: the
 * policy's map, for positions) and fills p->cred; 0 or -EINVAL. */
void host_limits_read(const char *proc_root, struct host_limits *ret);
int check_rlimit_ceiling(struct pctx *c, const struct ynode *v, int resource, uint64_t value);
int policy_resolve_cred(struct pctx *c, const struct ynode *root, struct policy *p);

/* A policy file's bytes, refused when not a regular file or writable by
 * others while root (policy.c); every problem added to d. */
int read_policy_file(const char *path, char **ret, size_t *ret_len, struct diag *d);
/* The hooks: section (policy-hooks.c); dst is a struct hookset *. */
int f_hooks(struct pctx *c, const struct ynode *v, void *dst);
