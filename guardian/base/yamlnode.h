/* yamlnode.h: one YAML document read with libyaml into a small tree of
 * maps, lists and scalars, each with the 1-based line and column it starts at. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum ynode_kind { YNODE_SCALAR, YNODE_MAP, YNODE_SEQ };

/* A document with more entries in one map or list than this is refused
 * while it is read (a policy has a few dozen). */
#define YNODE_ENTRIES_MAX 10000

struct ynode {
	enum ynode_kind kind;
	unsigned line, col;
	char *value;          /* scalar text, never NULL for a scalar */
	bool plain;           /* unquoted: only then do "", "~" and null mean null */
	size_t n;             /* map entries or list items */
	struct ynode **keys;  /* map: the key of each entry (always a scalar) */
	struct ynode **items; /* map: the value of each entry; list: the items */
};

/* Where and why a document could not be read. */
struct yerror {
	unsigned line, col;
	char msg[256];
};

/* Parse buf (one YAML document). Anchors, aliases, complex keys and a
 * second document are refused. Duplicate keys are kept in the tree for the
 * caller to report with its key path (ynode_map_first_index). Returns 0 with
 * *ret (NULL when the stream holds no document), or -EINVAL with err filled,
 * or -ENOMEM. */
int ynode_parse(const char *buf, size_t len, struct ynode **ret, struct yerror *err);
void ynode_free(struct ynode *n);
static inline void ynode_freep(struct ynode **n) { ynode_free(*n); }
#define _cleanup_ynode_ __attribute__((cleanup(ynode_freep)))

/* A plain empty, "~", "null" or "Null"/"NULL" scalar. */
bool ynode_is_null(const struct ynode *n);

/* Index of the first entry of map whose key equals the key of entry i;
 * i itself when that key is not a duplicate. */
size_t ynode_map_first_index(const struct ynode *map, size_t i);

/* "a map", "a list" or "a value", for messages. */
const char *ynode_kind_name(const struct ynode *n);
