/* policy-host.c: a policy against the machine it loads on: user and group
 * resolved through NSS once per load, rlimits against the kernel's ceilings. */
#include "policy-internal.h"

#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
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
/* A user in more groups than this is a broken database, not a user. */
#define GROUPS_MAX 65536

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

/* getpwnam and getgrnam say "not found" with errno 0 or one of these. */
static bool lookup_not_found(int err)
{
	return err == 0 || err == ENOENT || err == ESRCH || err == EBADF || err == EPERM;
}

static int resolve_user(struct pctx *c, const struct ynode *v, struct policy *p)
{
	size_t old = path_push_key(c, "user");
	struct passwd *pw;
	int r = -EINVAL;

	errno = 0;
	pw = getpwnam(p->user);
	if (!pw && lookup_not_found(errno))
		perr(c, v, "no such user '%s'", p->user);
	else if (!pw)
		perr(c, v, "cannot look up user '%s': %s", p->user, strerror(errno));
	else {
		p->cred.uid = pw->pw_uid;
		p->cred.gid = pw->pw_gid;
		p->cred.home = strdup(pw->pw_dir ? pw->pw_dir : "/");
		p->cred.shell = strdup(pw->pw_shell ? pw->pw_shell : "");
		r = p->cred.home && p->cred.shell ? 0 : -ENOMEM;
		if (r < 0)
			perr(c, v, "out of memory");
	}
	path_pop(c, old);
	return r;
}

static int resolve_group(struct pctx *c, const struct ynode *v, struct policy *p)
{
	size_t old = path_push_key(c, "group");
	struct group *gr;
	int r = -EINVAL;

	errno = 0;
	gr = getgrnam(p->group);
	if (!gr && lookup_not_found(errno))
		perr(c, v, "no such group '%s'", p->group);
	else if (!gr)
		perr(c, v, "cannot look up group '%s': %s", p->group, strerror(errno));
	else {
		p->cred.gid = gr->gr_gid;
		r = 0;
	}
	path_pop(c, old);
	return r;
}

/* What initgroups(user, gid) would set, asked now instead of in the child:
 * every group the database lists the user in, and gid. */
static int list_groups(struct pctx *c, const struct ynode *v, struct policy *p)
{
	size_t old = path_push_key(c, "user");
	int n = 32, r = -EINVAL;

	for (;;) {
		gid_t *g = realloc(p->cred.groups, (size_t)n * sizeof(*g));
		int want = n;

		if (!g) {
			perr(c, v, "out of memory");
			break;
		}
		p->cred.groups = g;
		if (getgrouplist(p->user, p->cred.gid, g, &want) >= 0) {
			p->cred.n_groups = (size_t)want;
			r = 0;
			break;
		}
		n = want > n ? want : n * 2; /* glibc says how many; others may not */
		if (n > GROUPS_MAX) {
			perr(c, v, "user '%s' is in more than %d groups, more than the kernel allows", p->user,
			     GROUPS_MAX);
			break;
		}
	}
	path_pop(c, old);
	return r;
}

/* Changing only the group takes CAP_SETGID, so guardian is root and so is
 * the service: rarely what the policy's author meant. */
static void warn_group_only(struct pctx *c, const struct ynode *v, const struct policy *p)
{
	size_t old = path_push_key(c, "group");

	pwarn(c, v, "without user the service runs as root (guardian's own user) with only its group changed to "
	      "'%s'; give user: too", p->group);
	path_pop(c, old);
}

int policy_resolve_cred(struct pctx *c, const struct ynode *root, struct policy *p)
{
	const struct ynode *user = map_get(root, "user"), *group = map_get(root, "group");
	int r = 0;

	if (!p->user && !p->group)
		return 0;
	p->cred.set = true;
	p->cred.uid = getuid();
	p->cred.gid = getgid();
	if (p->user && resolve_user(c, user, p) < 0)
		r = -EINVAL;
	if (p->group && resolve_group(c, group, p) < 0)
		r = -EINVAL;
	if (r < 0)
		return r;
	if (p->user)
		return list_groups(c, user, p);
	warn_group_only(c, group, p);
	return 0;
}
