/* tmptree.h: the scratch directories the unit tests build their stand-in
 * trees in (a fake cgroup, /proc or state directory), and the files in
 * them. Every helper asserts: a test whose scaffolding fails fails. */
#pragma once

#include <stddef.h>

/* tmptree_new: creates $TMPDIR/guardian-NAME-XXXXXX (or under /tmp) and
 * writes its path into buf. */
void tmptree_new(char *buf, size_t size, const char *name);

/* tmptree_remove: removes dir and all below it, not following links. */
void tmptree_remove(const char *dir);

/* tmptree_write: creates or replaces the file at path with text. */
void tmptree_write(const char *path, const char *text);

/* tmptree_mkdir: a directory (mode 0755) that must not exist yet. */
void tmptree_mkdir(const char *path);
