/* cgfs-host.c: what cgfs learns about the host rather than one group:
 * the cgroup of a pid (/proc/PID/cgroup) and whether cgroup v2 offers memory. */
#include "cgfs.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#define streq(a, b) (strcmp((a), (b)) == 0)

/* The path of the one "0::" line of a /proc/PID/cgroup text, in place.
 * Every line must be "ID:CONTROLLERS:PATH". */
static int unified_path(char *text, char **ret)
{
	char *cursor = text, *line, *found = NULL;

	while ((line = next_line(&cursor))) {
		char *id = strsep(&line, ":"), *ctrl = strsep(&line, ":");
		uint64_t v;

		if (!ctrl || !line || line[0] != '/' || parse_u64(id, &v) < 0)
			return -EBADMSG;
		if (v != 0 || *ctrl)
			continue;
		if (found)
			return -EBADMSG;
		found = line;
	}
	if (!found)
		return -ENODATA;
	*ret = found;
	return 0;
}

int cgfs_pid_cgroup(const char *proc_root, pid_t pid, char **ret)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	char *found, *copy;
	int r;

	if (pid <= 0)
		return -EINVAL;
	if (asprintf(&path, "%s/%d/cgroup", proc_root ? proc_root : "/proc", (int)pid) < 0)
		return -ENOMEM;
	r = cgfs_read(AT_FDCWD, path, &text);
	if (r < 0)
		return r;
	r = unified_path(text, &found);
	if (r < 0)
		return r;
	copy = strdup(found);
	if (!copy)
		return -ENOMEM;
	*ret = copy;
	return 0;
}

/* memory's row of /proc/cgroups ("name\thierarchy\tnum_cgroups\tenabled"):
 * a non-zero hierarchy means the controller is bound to cgroup v1. */
static int proc_cgroups_memory(const char *path, uint64_t *ret_hierarchy, bool *ret_enabled)
{
	_cleanup_free_ char *text = NULL;
	char *cursor, *line;
	uint64_t hierarchy = 0, enabled = 0;
	bool found = false;
	int r;

	r = cgfs_read(AT_FDCWD, path, &text);
	if (r < 0)
		return r;
	cursor = text;
	while ((line = next_line(&cursor))) {
		char *f[4];

		if (line[0] == '#')
			continue;
		for (size_t i = 0; i < ARRAY_SIZE(f); i++)
			f[i] = strsep(&line, "\t");
		if (!f[3] || line)
			return -EBADMSG;
		if (!streq(f[0], "memory"))
			continue;
		if (found || parse_u64(f[1], &hierarchy) < 0 || parse_u64(f[3], &enabled) < 0 ||
		    enabled > 1)
			return -EBADMSG;
		found = true;
	}
	if (!found)
		return -ENOENT;
	*ret_hierarchy = hierarchy;
	*ret_enabled = enabled == 1;
	return 0;
}

/* What /proc/cgroups says about memory, as a clause of a reason; "" when it
 * says nothing useful or cannot be read. */
static const char *memory_v1_clause(const char *proc_root, char *buf, size_t len)
{
	_cleanup_free_ char *path = NULL;
	uint64_t hierarchy;
	bool enabled;

	if (asprintf(&path, "%s/cgroups", proc_root ? proc_root : "/proc") < 0 ||
	    proc_cgroups_memory(path, &hierarchy, &enabled) < 0)
		return "";
	if (!enabled)
		snprintf(buf, len, "; the memory controller is disabled (%s)", path);
	else if (hierarchy > 0)
		snprintf(buf, len, "; the memory controller is bound to cgroup v1 (%s: hierarchy %" PRIu64 ")",
			 path, hierarchy);
	else
		return "";
	return buf;
}

/* The file system at fd, for a reason; hybrid mode also names where its
 * cgroup2 mount is. */
static const char *fs_clause(int fd, const char *root, char *buf, size_t len)
{
	_cleanup_close_ int unified = -1;
	struct statfs sfs;

	if (fstatfs(fd, &sfs) < 0)
		return "unknown file system";
	if (sfs.f_type == CGROUP_SUPER_MAGIC)
		return "cgroup v1";
	if (sfs.f_type != TMPFS_MAGIC) {
		snprintf(buf, len, "file system type 0x%llx", (unsigned long long)sfs.f_type);
		return buf;
	}
	unified = openat(fd, "unified", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (unified >= 0 && fstatfs(unified, &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC) {
		snprintf(buf, len, "tmpfs: hybrid mode, cgroup2 is at %s/unified", root);
		return buf;
	}
	return "tmpfs: hybrid or legacy mode";
}

__attribute__((format(printf, 3, 4)))
static int reason(char **ret_reason, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(ret_reason, fmt, ap) < 0)
		*ret_reason = NULL;
	va_end(ap);
	return err;
}

int cgfs_check_memory_controller(const char *root, const char *proc_root,
				 char **ret_reason)
{
	_cleanup_close_ int fd = -1;
	char fs_buf[PATH_MAX + 64], v1_buf[PATH_MAX + 96];
	struct statfs sfs;
	bool has = false;
	int r;

	*ret_reason = NULL;
	if (!root)
		root = CGFS_DEFAULT_ROOT;
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstatfs(fd, &sfs) < 0) {
		r = -errno;
		return reason(ret_reason, r, "cannot open %s: %s", root, strerror(-r));
	}
	if (sfs.f_type != CGROUP2_SUPER_MAGIC)
		return reason(ret_reason, -EMEDIUMTYPE, "%s is not a cgroup2 mount (%s)%s", root,
			      fs_clause(fd, root, fs_buf, sizeof(fs_buf)),
			      memory_v1_clause(proc_root, v1_buf, sizeof(v1_buf)));
	r = cgfs_has_controller(fd, "memory", &has);
	if (r < 0)
		return reason(ret_reason, r, "cannot read %s/cgroup.controllers: %s", root,
			      strerror(-r));
	if (!has)
		return reason(ret_reason, -ENODEV, "%s/cgroup.controllers does not offer memory%s", root,
			      memory_v1_clause(proc_root, v1_buf, sizeof(v1_buf)));
	return 0;
}
