/* yamlnode.c: libyaml's event stream turned into a ynode tree with marks;
 * refuses what a policy never needs (anchors, aliases, several documents). */
#include "yamlnode.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Policies are a few levels deep; the cap keeps a hostile file from
 * recursing the stack away. */
#define MAX_DEPTH 32

struct builder {
	yaml_parser_t parser;
	struct yerror *err;
	const char *buf;
	size_t len;
};

static void event_deletep(yaml_event_t *ev) { yaml_event_delete(ev); }
#define _cleanup_event_ __attribute__((cleanup(event_deletep)))

__attribute__((format(printf, 3, 4)))
static int fail_at(struct builder *b, yaml_mark_t mark, const char *fmt, ...)
{
	va_list ap;

	b->err->line = (unsigned)mark.line + 1;
	b->err->col = (unsigned)mark.column + 1;
	va_start(ap, fmt);
	vsnprintf(b->err->msg, sizeof(b->err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int parser_error(struct builder *b)
{
	yaml_parser_t *p = &b->parser;

	if (p->error == YAML_MEMORY_ERROR)
		return -ENOMEM;
	if (p->context)
		return fail_at(b, p->problem_mark, "%s (%s that started at line %zu, column %zu)",
			       p->problem ? p->problem : "syntax error", p->context,
			       p->context_mark.line + 1, p->context_mark.column + 1);
	if (p->error == YAML_READER_ERROR) {
		/* The reader (bad UTF-8, control characters) only knows a byte
		 * offset; count the lines ourselves. */
		yaml_mark_t mark = { 0 };

		for (size_t i = 0; i < p->problem_offset && i < b->len; i++) {
			mark.column++;
			if (b->buf[i] == '\n') {
				mark.line++;
				mark.column = 0;
			}
		}
		return fail_at(b, mark, "%s (byte %zu)", p->problem ? p->problem : "bad input", p->problem_offset);
	}
	return fail_at(b, p->problem_mark, "%s", p->problem ? p->problem : "syntax error");
}

static int next_event(struct builder *b, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&b->parser, ev))
		return parser_error(b);
	return 0;
}

static struct ynode *node_new(enum ynode_kind kind, yaml_mark_t mark)
{
	struct ynode *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->kind = kind;
	n->line = (unsigned)mark.line + 1;
	n->col = (unsigned)mark.column + 1;
	return n;
}

void ynode_free(struct ynode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++) {
		if (n->keys)
			ynode_free(n->keys[i]);
		ynode_free(n->items[i]);
	}
	free(n->keys);
	free(n->items);
	free(n->value);
	free(n);
}

/* Append an entry; key is NULL for a list. Takes ownership of both, even on
 * failure. */
static int node_append(struct ynode *parent, struct ynode *key, struct ynode *item)
{
	/* Room doubles at each power of two: appending stays linear. */
	size_t n = parent->n, cap = n < 4 ? 4 : n * 2;
	bool grow = n == 0 || (n >= 4 && (n & (n - 1)) == 0);
	struct ynode **items = parent->items;

	if (grow) {
		items = realloc(parent->items, cap * sizeof(*items));
		if (items)
			parent->items = items;
	}
	if (items && grow && parent->kind == YNODE_MAP) {
		struct ynode **keys = realloc(parent->keys, cap * sizeof(*keys));

		if (!keys)
			items = NULL;
		else
			parent->keys = keys;
	}
	if (!items) {
		ynode_free(key);
		ynode_free(item);
		return -ENOMEM;
	}
	if (parent->kind == YNODE_MAP)
		parent->keys[parent->n] = key;
	parent->items[parent->n++] = item;
	return 0;
}

static int build_node(struct builder *b, yaml_event_t *ev, unsigned depth, struct ynode **ret);

static int build_scalar(struct builder *b, yaml_event_t *ev, struct ynode **ret)
{
	size_t len = ev->data.scalar.length;
	struct ynode *n;

	if (memchr(ev->data.scalar.value, '\0', len))
		return fail_at(b, ev->start_mark, "a NUL character is not allowed in a value");
	n = node_new(YNODE_SCALAR, ev->start_mark);
	if (!n)
		return -ENOMEM;
	n->value = strndup((const char *)ev->data.scalar.value, len);
	if (!n->value) {
		free(n);
		return -ENOMEM;
	}
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	*ret = n;
	return 0;
}

/* Read entries (key, value pairs for a map) until the closing event. */
static int build_children(struct builder *b, struct ynode *parent, unsigned depth)
{
	yaml_event_type_t end = parent->kind == YNODE_MAP ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;

	for (;;) {
		_cleanup_event_ yaml_event_t ev = { 0 };
		struct ynode *key = NULL, *item = NULL;
		int r;

		r = next_event(b, &ev);
		if (r < 0)
			return r;
		if (ev.type == end)
			return 0;
		if (parent->kind == YNODE_MAP) {
			_cleanup_event_ yaml_event_t vev = { 0 };

			if (ev.type != YAML_SCALAR_EVENT)
				return fail_at(b, ev.start_mark, "a key must be a plain name, not a map or list");
			r = build_scalar(b, &ev, &key);
			if (r >= 0)
				r = next_event(b, &vev);
			if (r >= 0)
				r = build_node(b, &vev, depth + 1, &item);
			if (r < 0) {
				ynode_free(key);
				return r;
			}
		} else {
			r = build_node(b, &ev, depth + 1, &item);
			if (r < 0)
				return r;
		}
		if (parent->n >= YNODE_ENTRIES_MAX) {
			ynode_free(key);
			ynode_free(item);
			return fail_at(b, ev.start_mark, "more than %d entries in one %s", YNODE_ENTRIES_MAX,
				       parent->kind == YNODE_MAP ? "map" : "list");
		}
		r = node_append(parent, key, item);
		if (r < 0)
			return r;
	}
}

static const char *event_anchor(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return (const char *)ev->data.scalar.anchor;
	case YAML_SEQUENCE_START_EVENT:
		return (const char *)ev->data.sequence_start.anchor;
	case YAML_MAPPING_START_EVENT:
		return (const char *)ev->data.mapping_start.anchor;
	default:
		return NULL;
	}
}

static int build_node(struct builder *b, yaml_event_t *ev, unsigned depth, struct ynode **ret)
{
	const char *anchor = event_anchor(ev);
	struct ynode *n;
	int r;

	if (ev->type == YAML_ALIAS_EVENT)
		return fail_at(b, ev->start_mark, "aliases (*%s) are not supported; write the value out",
			       (const char *)ev->data.alias.anchor);
	if (anchor)
		return fail_at(b, ev->start_mark, "anchors (&%s) are not supported; write the value out", anchor);
	if (depth > MAX_DEPTH)
		return fail_at(b, ev->start_mark, "nested deeper than %d levels", MAX_DEPTH);
	if (ev->type == YAML_SCALAR_EVENT)
		return build_scalar(b, ev, ret);
	if (ev->type != YAML_MAPPING_START_EVENT && ev->type != YAML_SEQUENCE_START_EVENT)
		return fail_at(b, ev->start_mark, "unexpected YAML event");
	n = node_new(ev->type == YAML_MAPPING_START_EVENT ? YNODE_MAP : YNODE_SEQ, ev->start_mark);
	if (!n)
		return -ENOMEM;
	r = build_children(b, n, depth);
	if (r < 0) {
		ynode_free(n);
		return r;
	}
	*ret = n;
	return 0;
}

/* After the stream start: nothing, or one document then the stream end. */
static int build_stream(struct builder *b, struct ynode **ret)
{
	_cleanup_event_ yaml_event_t ev = { 0 }, root = { 0 }, doc_end = { 0 }, last = { 0 };
	struct ynode *n = NULL;
	int r;

	r = next_event(b, &ev);
	if (r < 0)
		return r;
	if (ev.type == YAML_STREAM_END_EVENT) {
		*ret = NULL;
		return 0;
	}
	r = next_event(b, &root);
	if (r >= 0)
		r = build_node(b, &root, 0, &n);
	if (r >= 0)
		r = next_event(b, &doc_end);
	if (r >= 0)
		r = next_event(b, &last);
	if (r >= 0 && last.type == YAML_DOCUMENT_START_EVENT)
		r = fail_at(b, last.start_mark, "a policy file holds one document; found a second one");
	if (r < 0) {
		ynode_free(n);
		return r;
	}
	*ret = n;
	return 0;
}

int ynode_parse(const char *buf, size_t len, struct ynode **ret, struct yerror *err)
{
	struct builder b = { .err = err, .buf = buf, .len = len };
	_cleanup_event_ yaml_event_t start = { 0 };
	int r;

	*err = (struct yerror){ 0 };
	if (!yaml_parser_initialize(&b.parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&b.parser, (const unsigned char *)buf, len);
	r = next_event(&b, &start);
	if (r >= 0)
		r = build_stream(&b, ret);
	yaml_parser_delete(&b.parser);
	if (r == -ENOMEM)
		snprintf(err->msg, sizeof(err->msg), "out of memory");
	return r;
}

bool ynode_is_null(const struct ynode *n)
{
	if (!n || n->kind != YNODE_SCALAR || !n->plain)
		return false;
	return n->value[0] == '\0' || strcmp(n->value, "~") == 0 || strcmp(n->value, "null") == 0 ||
	       strcmp(n->value, "Null") == 0 || strcmp(n->value, "NULL") == 0;
}

size_t ynode_map_first_index(const struct ynode *map, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (strcmp(map->keys[j]->value, map->keys[i]->value) == 0)
			return j;
	return i;
}

const char *ynode_kind_name(const struct ynode *n)
{
	switch (n->kind) {
	case YNODE_MAP:
		return "a map";
	case YNODE_SEQ:
		return "a list";
	default:
		return "a value";
	}
}
