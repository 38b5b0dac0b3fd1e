/* policy-walk.c: the policy compiler's plumbing: key paths, error messages,
 * key suggestions, the generic map walker and the scalar value readers. */
#include "policy-internal.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>

size_t path_push_key(struct pctx *c, const char *key)
{
	size_t old = c->plen;

	snprintf(c->path + old, sizeof(c->path) - old, "%s%s", old ? "." : "", key);
	c->plen = strlen(c->path);
	return old;
}

size_t path_push_index(struct pctx *c, size_t i)
{
	size_t old = c->plen;

	snprintf(c->path + old, sizeof(c->path) - old, "[%zu]", i);
	c->plen = strlen(c->path);
	return old;
}

void perr(struct pctx *c, const struct ynode *at, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->errors++;
	if (c->plen)
		diag_add(c->d, c->file, at->line, at->col, "%s: %s", c->path, msg);
	else
		diag_add(c->d, c->file, at->line, at->col, "%s", msg);
}

void pwarn(struct pctx *c, const struct ynode *at, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->plen)
		diag_warn(c->d, c->file, at->line, at->col, "%s: %s", c->path, msg);
	else
		diag_warn(c->d, c->file, at->line, at->col, "%s", msg);
}

const char *got(const struct ynode *v, char *buf, size_t len)
{
	/* Long values are cut: the position already says where to look. */
	const int keep = 48;

	if (v->kind != YNODE_SCALAR)
		return ynode_kind_name(v);
	if (ynode_is_null(v))
		return "nothing";
	if (strlen(v->value) > (size_t)keep)
		snprintf(buf, len, "'%.*s...'", keep, v->value);
	else
		snprintf(buf, len, "'%s'", v->value);
	return buf;
}

/* Optimal string alignment distance: a swapped pair of letters (hihg) is
 * one edit. Words longer than the buffer get no suggestion. */
#define DIST_MAX_LEN 63
static unsigned edit_distance(const char *a, const char *b)
{
	unsigned d[DIST_MAX_LEN + 1][DIST_MAX_LEN + 1];
	size_t la = strlen(a), lb = strlen(b);

	if (la > DIST_MAX_LEN || lb > DIST_MAX_LEN)
		return UINT32_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			unsigned cost = a[i - 1] != b[j - 1];
			unsigned best = d[i - 1][j - 1] + cost;

			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	return d[la][lb];
}

const char *suggest(const char *word, const void *names, size_t n, size_t stride)
{
	size_t len = strlen(word);
	/* Close means a typo, not a different word: one edit for short keys,
	 * up to three for long ones like memory_swap_max. */
	unsigned limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
	const char *best = NULL;
	unsigned best_d = limit + 1;

	for (size_t i = 0; i < n; i++) {
		const char *name = *(const char *const *)((const char *)names + i * stride);
		unsigned dist = edit_distance(word, name);

		if (dist < best_d) {
			best = name;
			best_d = dist;
		}
	}
	return best;
}

const struct ynode *map_get(const struct ynode *map, const char *key)
{
	for (size_t i = 0; map && map->kind == YNODE_MAP && i < map->n; i++)
		if (strcmp(map->keys[i]->value, key) == 0)
			return map->items[i];
	return NULL;
}

const char *text_or(const struct ynode *map, const char *key, const char *dflt)
{
	const struct ynode *v = map_get(map, key);

	return v && v->kind == YNODE_SCALAR ? v->value : dflt;
}

static const struct field *field_find(const struct field *f, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(f[i].key, key) == 0)
			return &f[i];
	return NULL;
}

static void walk_entry(struct pctx *c, const struct ynode *map, size_t i, const struct field *f, size_t n,
		       void *base)
{
	const struct ynode *key = map->keys[i];
	size_t first = ynode_map_first_index(map, i);
	const struct field *fi = field_find(f, n, key->value);
	size_t old = path_push_key(c, key->value);

	if (first != i) {
		perr(c, key, "duplicate key (first at line %u, column %u)", map->keys[first]->line,
		     map->keys[first]->col);
	} else if (!fi) {
		const char *s = suggest(key->value, f, n, sizeof(*f));

		if (s)
			perr(c, key, "unknown key (did you mean '%s'?)", s);
		else
			perr(c, key, "unknown key");
	} else {
		fi->parse(c, map->items[i], (char *)base + fi->offset);
	}
	path_pop(c, old);
}

#define MAP_KEYS_MAX 1024

int walk_map(struct pctx *c, const struct ynode *map, const struct field *f, size_t n, void *base)
{
	unsigned before = c->errors;

	if (map->kind != YNODE_MAP) {
		perr(c, map, "expected a map, got %s", GOT(map));
		return -EINVAL;
	}
	/* No map of a policy has more than a few dozen keys; checking a huge
	 * one for duplicates would take seconds. */
	if (map->n > MAP_KEYS_MAX) {
		perr(c, map, "%zu keys in one map; a policy's maps have at most %d", map->n, MAP_KEYS_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < map->n; i++)
		walk_entry(c, map, i, f, n, base);
	for (size_t j = 0; j < n; j++) {
		bool seen = false;

		for (size_t i = 0; i < map->n && !seen; i++)
			seen = strcmp(map->keys[i]->value, f[j].key) == 0;
		if (f[j].required && !seen) {
			size_t old = path_push_key(c, f[j].key);

			perr(c, map, "required key is missing");
			path_pop(c, old);
		}
	}
	return c->errors == before ? 0 : -EINVAL;
}

int read_scalar(struct pctx *c, const struct ynode *v, const char *what, const char **ret)
{
	if (v->kind != YNODE_SCALAR || ynode_is_null(v)) {
		perr(c, v, "expected %s, got %s", what, GOT(v));
		return -EINVAL;
	}
	*ret = v->value;
	return 0;
}

int f_node(struct pctx *c, const struct ynode *v, void *dst)
{
	*(const struct ynode **)dst = v;
	return 0;
}

int f_string(struct pctx *c, const struct ynode *v, void *dst)
{
	const char *s;
	char *copy;

	if (read_scalar(c, v, "a string", &s) < 0)
		return -EINVAL;
	if (!*s) {
		perr(c, v, "must not be empty");
		return -EINVAL;
	}
	copy = strdup(s);
	if (!copy) {
		perr(c, v, "out of memory");
		return -EINVAL;
	}
	*(char **)dst = copy;
	return 0;
}

int f_abs_path(struct pctx *c, const struct ynode *v, void *dst)
{
	if (v->kind == YNODE_SCALAR && v->value[0] != '/' && !ynode_is_null(v)) {
		perr(c, v, "must be an absolute path, got %s", GOT(v));
		return -EINVAL;
	}
	return f_string(c, v, dst);
}

int f_bool(struct pctx *c, const struct ynode *v, void *dst)
{
	/* YAML 1.2 core schema booleans; yes/no/on/off are YAML 1.1 traps. */
	static const char *const yes[] = { "true", "True", "TRUE" }, *const no[] = { "false", "False", "FALSE" };

	for (size_t i = 0; v->kind == YNODE_SCALAR && i < ARRAY_SIZE(yes); i++) {
		if (strcmp(v->value, yes[i]) == 0 || strcmp(v->value, no[i]) == 0) {
			*(bool *)dst = strcmp(v->value, yes[i]) == 0;
			return 0;
		}
	}
	perr(c, v, "expected true or false, got %s", GOT(v));
	return -EINVAL;
}

int read_int(struct pctx *c, const struct ynode *v, int64_t min, int64_t max, int64_t *ret)
{
	const char *s;
	int64_t n;
	int r;

	if (read_scalar(c, v, "an integer", &s) < 0)
		return -EINVAL;
	r = parse_i64(s, &n);
	if (r == -EINVAL || strchr(s, '\n')) {
		perr(c, v, "expected an integer, got %s", GOT(v));
		return -EINVAL;
	}
	if (r < 0 || n < min || n > max) {
		perr(c, v, "must be between %" PRId64 " and %" PRId64 ", got %s", min, max, GOT(v));
		return -EINVAL;
	}
	*ret = n;
	return 0;
}

int read_uint(struct pctx *c, const struct ynode *v, uint64_t min, uint64_t max, uint64_t *ret)
{
	const char *s;
	uint64_t n;
	int r;

	if (read_scalar(c, v, "a whole number", &s) < 0)
		return -EINVAL;
	r = parse_u64(s, &n);
	if (r == -EINVAL || strchr(s, '\n')) {
		perr(c, v, "expected a whole number, got %s", GOT(v));
		return -EINVAL;
	}
	if (r < 0 || n < min || n > max) {
		perr(c, v, "must be between %" PRIu64 " and %" PRIu64 ", got %s", min, max, GOT(v));
		return -EINVAL;
	}
	*ret = n;
	return 0;
}

int read_enum(struct pctx *c, const struct ynode *v, const char *const *names, size_t n, size_t *ret)
{
	char list[256] = "";
	const char *s, *near;

	if (v->kind == YNODE_SCALAR)
		for (size_t i = 0; i < n; i++)
			if (strcmp(v->value, names[i]) == 0) {
				*ret = i;
				return 0;
			}
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(list);

		snprintf(list + l, sizeof(list) - l, "%s%s", i ? ", " : "", names[i]);
	}
	s = v->kind == YNODE_SCALAR ? v->value : "";
	near = suggest(s, names, n, sizeof(*names));
	if (near && *s)
		perr(c, v, "expected one of %s, got %s (did you mean '%s'?)", list, GOT(v), near);
	else
		perr(c, v, "expected one of %s, got %s", list, GOT(v));
	return -EINVAL;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

int f_duration(struct pctx *c, const struct ynode *v, void *dst)
{
	const char *s;
	int r;

	if (read_scalar(c, v, "a duration like 250ms, 30s or 5m", &s) < 0)
		return -EINVAL;
	r = parse_duration(s, dst);
	if (r == -ERANGE)
		perr(c, v, "duration %s is too long", GOT(v));
	else if (r < 0 && all_digits(s))
		perr(c, v, "a duration needs a unit (ms, s, m, h, d), got %s", GOT(v));
	else if (r < 0)
		perr(c, v, "expected a duration like 250ms, 30s or 5m, got %s", GOT(v));
	return r < 0 ? -EINVAL : 0;
}

/* No timeout, delay or window of guardian's needs more than this, and
 * far larger ones overflow what is added to them. */
#define DURATION_MAX (30 * 24 * 3600 * USEC_PER_SEC)

int f_duration_pos(struct pctx *c, const struct ynode *v, void *dst)
{
	if (f_duration(c, v, dst) < 0)
		return -EINVAL;
	if (*(usec_t *)dst == 0) {
		perr(c, v, "must be longer than 0");
		return -EINVAL;
	}
	if (*(usec_t *)dst > DURATION_MAX) {
		perr(c, v, "must be at most 30d, got %s", GOT(v));
		return -EINVAL;
	}
	return 0;
}

int f_duration_floor(struct pctx *c, const struct ynode *v, usec_t *dst, usec_t min, const char *why)
{
	if (f_duration_pos(c, v, dst) < 0)
		return -EINVAL;
	if (*dst < min) {
		perr(c, v, "must be at least %" PRIu64 "ms (%s), got %s", min / USEC_PER_MSEC, why, GOT(v));
		return -EINVAL;
	}
	return 0;
}

int f_size(struct pctx *c, const struct ynode *v, void *dst)
{
	const char *s;
	int r;

	if (read_scalar(c, v, "a size like 512M", &s) < 0)
		return -EINVAL;
	r = parse_size(s, dst, NULL);
	if (r == -ERANGE)
		perr(c, v, "size %s is too large", GOT(v));
	else if (r < 0)
		perr(c, v, "expected a size like 512M, got %s", GOT(v));
	return r < 0 ? -EINVAL : 0;
}

int f_signal(struct pctx *c, const struct ynode *v, void *dst)
{
	const char *s;

	if (read_scalar(c, v, "a signal like TERM", &s) < 0)
		return -EINVAL;
	if (parse_signal(s, dst) < 0) {
		perr(c, v, "expected a signal like TERM, QUIT, KILL or 15, got %s", GOT(v));
		return -EINVAL;
	}
	return 0;
}
