/* policy-host.c: a policy against the machine it loads on: rlimits against
 * the kernel's ceilings. */
#include "policy-internal.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sys/resource.h>

/* fs/file.c sysctl_nr_open_max: no fs.nr_open, so no RLIMIT_NOFILE, can
 * go past INT_MAX rounded down to a whole word of the fd bitmap. */
#define NR_OPEN_KERNEL_MAX \
	((uint64_t)(INT_MAX < SIZE_MAX / sizeof(void *) ? INT_MAX : SIZE_MAX / sizeof(void *)) & \
	 ~(uint64_t)(sizeof(long) * CHAR_BIT - 1))
/* RLIMIT_NICE allows nice values down to 20 - limit: 40 reaches -20, the
 * highest priority. RLIMIT_RTPRIO: 99 is MAX_RT_PRIO - 1. Past these a
 * limit means nothing more, so a larger number is a mistake. */
#define NICE_LIMIT_MAX 40
#define RTPRIO_LIMIT_MAX 99

void host_limits_read(const char *proc_root, struct host_limits *ret)
{
	_cleanup_free_ char *path = NULL, *buf = NULL;
	_cleanup_close_ int fd = -1;
	size_t len;

	*ret = (struct host_limits){ .proc_root = proc_root ? proc_root : "/proc" };
	if (asprintf(&path, "%s/sys/fs/nr_open", ret->proc_root) < 0) {
		path = NULL;
		return;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || read_full(fd, 64, &buf, &len) < 0)
		return;
	ret->nr_open_read = parse_u64(buf, &ret->nr_open) == 0 && ret->nr_open > 0;
}

static int check_nofile(struct pctx *c, const struct ynode *v, uint64_t value)
{
	const struct host_limits *h = c->host;

	if (h && h->nr_open_read) {
		if (value <= h->nr_open)
			return 0;
		perr(c, v, "%s is above fs.nr_open (%" PRIu64 " in %s/sys/fs/nr_open), the most the kernel allows; "
		     "give at most %" PRIu64 " or raise fs.nr_open", v->value, h->nr_open, h->proc_root, h->nr_open);
		return -EINVAL;
	}
	if (value <= NR_OPEN_KERNEL_MAX)
		return 0;
	perr(c, v, "%s is above %" PRIu64 ", the most the kernel allows for open files (fs.nr_open could not be "
	     "read from %s/sys/fs/nr_open)", v->value, NR_OPEN_KERNEL_MAX, h ? h->proc_root : "/proc");
	return -EINVAL;
}

int check_rlimit_ceiling(struct pctx *c, const struct ynode *v, int resource, uint64_t value)
{
	switch (resource) {
	case RLIMIT_NOFILE:
		return check_nofile(c, v, value);
	case RLIMIT_NICE:
		if (value == RLIM_INFINITY || value <= NICE_LIMIT_MAX)
			return 0;
		perr(c, v, "must be at most %d or infinity (%d already allows nice -20, the kernel's highest priority), "
		     "got %s", NICE_LIMIT_MAX, NICE_LIMIT_MAX, GOT(v));
		return -EINVAL;
	case RLIMIT_RTPRIO:
		if (value == RLIM_INFINITY || value <= RTPRIO_LIMIT_MAX)
			return 0;
		perr(c, v, "must be at most %d or infinity (the kernel's highest real-time priority), got %s",
		     RTPRIO_LIMIT_MAX, GOT(v));
		return -EINVAL;
	default:
		return 0;
	}
}
