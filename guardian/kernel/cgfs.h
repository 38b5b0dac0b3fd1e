/* cgfs.h: the only way guardian touches cgroup files. Everything is a
 * directory fd relative to a root given at start (a fixture tree in tests). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

#define CGFS_MAX UINT64_MAX /* the value "max" */
#define CGFS_DEFAULT_ROOT "/sys/fs/cgroup"

struct cgfs {
	int root_fd;     /* the cgroup2 mount (or fixture root) */
	char *root_path; /* for messages */
};

/* root NULL means CGFS_DEFAULT_ROOT. On failure ret->root_fd is -1, so
 * cgfs_close() is always safe on a struct cgfs_open() has seen. */
int cgfs_open(const char *root, struct cgfs *ret);
void cgfs_close(struct cgfs *c);

/* Is root a cgroup2 filesystem (statfs magic)? Fixture trees are not.
 * 1 yes, 0 no, or a negative errno. */
int cgfs_is_cgroup2(const struct cgfs *c);

/* Can guardian use the memory controller at root (NULL: the default)? 0 when
 * root is a cgroup2 mount whose cgroup.controllers lists memory. Otherwise a
 * negative errno (-EMEDIUMTYPE: not cgroup2; -ENODEV: no memory controller;
 * or the open/read error) and *ret_reason, malloc'd, states the facts found
 * (file system type, where cgroup2 is, what proc_root/cgroups says about
 * memory) for the daemon's refusal message. proc_root NULL means "/proc". */
int cgfs_check_memory_controller(const char *root, const char *proc_root,
				 char **ret_reason);

/* Open a cgroup directory below the root ("" or "/" is the root itself).
 * Returns an O_DIRECTORY|O_CLOEXEC fd or a negative errno. Paths for
 * open/mkdir/rmdir are relative to the root (leading '/' allowed); a ".."
 * component is -EINVAL. */
int cgfs_open_group(const struct cgfs *c, const char *path);

/* Create a group and any missing parents (EEXIST is fine) and return its
 * fd through ret_fd (may be NULL). */
int cgfs_mkdir(const struct cgfs *c, const char *path, int *ret_fd);
/* Remove an empty group; -ENOENT is returned as 0; the root is -EINVAL. */
int cgfs_rmdir(const struct cgfs *c, const char *path);

/* Read a whole attribute into a NUL-terminated malloc'd string. */
int cgfs_read(int dirfd, const char *attr, char **ret);
/* Write a string to an attribute (one write(2), as the kernel expects). */
int cgfs_write(int dirfd, const char *attr, const char *value);

/* Single-value files: a number or "max" (returned as CGFS_MAX); anything
 * else is -EBADMSG. */
int cgfs_read_u64(int dirfd, const char *attr, uint64_t *ret);
int cgfs_write_u64(int dirfd, const char *attr, uint64_t value);
/* The same through a file kept open (one pread, no open and close): for a
 * value read often, like memory.current on every calm tick. */
int cgfs_pread_u64(int fd, uint64_t *ret);

/* "key value" files (memory.stat, memory.events, cgroup.events): the value
 * of one key. -ENOENT when the key is missing, -EBADMSG on a bad line or a
 * duplicated key. */
int cgfs_read_keyed(int dirfd, const char *attr, const char *key, uint64_t *ret);
/* The same on text already read, so one memory.stat sample yields several
 * keys. A value of "max" is CGFS_MAX (misc.max, pids.events keys are fine). */
int cgfs_parse_keyed(const char *text, const char *key, uint64_t *ret);
/* Several keys in one pass over text, the same rules, nothing allocated:
 * vals[i] gets keys[i]'s value, and bit i of *ret_found says it was
 * there (at most 32 keys); a missing key is no error here. */
int cgfs_parse_keys(const char *text, const char *const *keys, uint64_t *const *vals, size_t n,
		    uint32_t *ret_found);
/* A whole small file into buf (NUL-terminated), no allocation; -EFBIG
 * when it does not fit. For the files a sample reads every tick. */
int cgfs_read_buf(int dirfd, const char *attr, char *buf, size_t size);

/* The working set: memory.current minus inactive page cache, which the
 * kernel reclaims before it would OOM-kill anyone. What a limit is measured
 * against everywhere in guardian (the engine, status, the system guard). */
static inline uint64_t memory_working_set(uint64_t current, uint64_t inactive_file)
{
	return current > inactive_file ? current - inactive_file : 0;
}
/* The same, read from a group's memory.current and memory.stat. */
int cgfs_read_working_set(int dirfd, uint64_t *ret);

/* PSI files: "some avg10=0.00 avg60=0.00 avg300=0.00 total=0". */
struct cgfs_psi_line {
	double avg10, avg60, avg300;
	uint64_t total;
};
struct cgfs_psi {
	struct cgfs_psi_line some, full;
	bool has_full;
};
/* "some" is required, "full" optional, each at most once with avg10, avg60,
 * avg300 and total exactly once; unknown lines and fields are skipped;
 * anything else is -EBADMSG. */
/* A PSI trigger ("some 150000 1000000") on a pressure file (memory.pressure
 * of a group, or /proc/pressure/memory with dirfd AT_FDCWD): returns the
 * fd to poll for EPOLLPRI (non-blocking); the trigger lives as long as it. */
int cgfs_psi_trigger(int dirfd, const char *file, const char *trigger);
int cgfs_read_psi(int dirfd, const char *attr, struct cgfs_psi *ret);
int cgfs_parse_psi(const char *text, struct cgfs_psi *ret);

/* Controllers listed in cgroup.controllers of a group. */
int cgfs_has_controller(int dirfd, const char *controller, bool *ret);
/* Enable controllers ("memory", "pids", ...) in a group's
 * cgroup.subtree_control; already-enabled ones are skipped. */
int cgfs_enable_controllers(int dirfd, const char *const *controllers);
/* The same, with one write per controller so that on failure *ret_failed
 * (may be NULL) names the controller the kernel refused (or the invalid
 * name, -EINVAL); it points into controllers. */
int cgfs_enable_controllers_ex(int dirfd, const char *const *controllers,
			       const char **ret_failed);

/* Pids in cgroup.procs, malloc'd array (NULL when empty). Entries of 0,
 * processes outside our pid namespace, are left out. */
int cgfs_read_procs(int dirfd, pid_t **ret, size_t *ret_n);
/* Move a pid into the group. */
int cgfs_attach(int dirfd, pid_t pid);

/* populated from cgroup.events. */
int cgfs_is_populated(int dirfd, bool *ret);
/* Kill every process in the group: cgroup.kill where the kernel has it
 * (5.14+), otherwise freeze, SIGKILL each pid, thaw (thawing on every path). */
int cgfs_kill(int dirfd);
/* Send sig to every process in the group (not to descendants' groups). */
int cgfs_signal_group(int dirfd, int sig);
int cgfs_freeze(int dirfd, bool frozen);
/* Wait until cgroup.events says "populated 0", via inotify; -ETIMEDOUT.
 * USEC_INFINITY waits for ever; a group removed meanwhile counts as empty. */
int cgfs_wait_unpopulated(int dirfd, usec_t timeout);

/* The cgroup a pid is in (from /proc/PID/cgroup's "0::" line), relative to
 * the cgroup2 root, malloc'd. proc_root is normally "/proc". The path is as
 * the kernel writes it ("/system.slice/x.service"), which cgfs_open_group
 * takes. -ENODATA when there is no "0::" line (cgroup v1 only). */
int cgfs_pid_cgroup(const char *proc_root, pid_t pid, char **ret);
