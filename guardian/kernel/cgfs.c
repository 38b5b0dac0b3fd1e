/* cgfs.c: every cgroup file access: groups as directory fds below a root,
 * strict parsers for keyed, PSI and proc files, kill, freeze and waits. */
#include "cgfs.h"
#include "cgwatch.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

/* A freezing group reports "frozen 1" within microseconds per task unless
 * one sits in uninterruptible sleep (NFS, a stuck disk). The bound keeps
 * such a task from stalling a kill: SIGKILL reaches frozen and freezing
 * tasks alike, so killing after the bound still works; a child forked
 * meanwhile is caught by the caller's wait for "populated 0". */
#define FREEZE_WAIT_USEC (1 * USEC_PER_SEC)

/* The largest cgroup file read: cgroup.procs of a group with a million
 * pids is about 8 MiB; anything beyond is not a cgroup file. */
#define CGFS_READ_MAX (16u << 20)

#define streq(a, b) (strcmp((a), (b)) == 0)

int cgfs_open(const char *root, struct cgfs *ret)
{
	_cleanup_close_ int fd = -1;
	char *path;

	ret->root_fd = -1;
	ret->root_path = NULL;
	if (!root)
		root = CGFS_DEFAULT_ROOT;
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	path = strdup(root);
	if (!path)
		return -ENOMEM;
	ret->root_fd = TAKE_FD(fd);
	ret->root_path = path;
	return 0;
}

void cgfs_close(struct cgfs *c)
{
	if (!c)
		return;
	closep(&c->root_fd);
	c->root_fd = -1;
	free(c->root_path);
	c->root_path = NULL;
}

int cgfs_is_cgroup2(const struct cgfs *c)
{
	struct statfs sfs;

	if (fstatfs(c->root_fd, &sfs) < 0)
		return -errno;
	return sfs.f_type == CGROUP2_SUPER_MAGIC;
}

/* Strip leading slashes and refuse "..", so no path leaves the root.
 * *ret is the part relative to the root, "" for the root itself. */
static int group_path(const char *path, const char **ret)
{
	const char *p;

	if (!path)
		return -EINVAL;
	path += strspn(path, "/");
	for (p = path; *p;) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return -EINVAL;
		p += n;
		p += strspn(p, "/");
	}
	*ret = path;
	return 0;
}

int cgfs_open_group(const struct cgfs *c, const char *path)
{
	const char *rel;
	int r, fd;

	r = group_path(path, &rel);
	if (r < 0)
		return r;
	fd = openat(c->root_fd, *rel ? rel : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int mkdir_child(int parent, const char *name)
{
	int fd;

	if (mkdirat(parent, name, 0755) < 0 && errno != EEXIST)
		return -errno;
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int cgfs_mkdir(const struct cgfs *c, const char *path, int *ret_fd)
{
	_cleanup_free_ char *copy = NULL;
	_cleanup_close_ int fd = -1;
	const char *rel;
	char *rest, *name;
	int r;

	r = group_path(path, &rel);
	if (r < 0)
		return r;
	copy = strdup(rel);
	if (!copy)
		return -ENOMEM;
	fd = openat(c->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rest = copy;
	while ((name = strsep(&rest, "/"))) {
		int child;

		if (!*name)
			continue;
		child = mkdir_child(fd, name);
		if (child < 0)
			return child;
		close(fd);
		fd = child;
	}
	if (ret_fd)
		*ret_fd = TAKE_FD(fd);
	return 0;
}

int cgfs_rmdir(const struct cgfs *c, const char *path)
{
	const char *rel;
	int r;

	r = group_path(path, &rel);
	if (r < 0)
		return r;
	if (!*rel)
		return -EINVAL;
	if (unlinkat(c->root_fd, rel, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int cgfs_read(int dirfd, const char *attr, char **ret)
{
	_cleanup_close_ int fd = openat(dirfd, attr, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return read_full(fd, CGFS_READ_MAX, ret, NULL);
}

int cgfs_write(int dirfd, const char *attr, const char *value)
{
	_cleanup_close_ int fd = -1;
	size_t len = strlen(value);
	ssize_t n;

	/* O_TRUNC is what a shell redirect does: kernfs ignores it, and on a
	 * fixture tree the file then holds just the last value written. No
	 * O_CREAT: a missing attribute is the kernel saying "not supported". */
	fd = openat(dirfd, attr, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* One write: the kernel parses each write(2) as a whole value. */
	do
		n = write(fd, value, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

/* A number or "max" (newline allowed). A literal 18446744073709551615 reads
 * as CGFS_MAX too; the kernel prints that limit as "max" anyway. */
static int parse_u64_or_max(const char *s, uint64_t *ret)
{
	if (streq(s, "max") || streq(s, "max\n")) {
		*ret = CGFS_MAX;
		return 0;
	}
	return parse_u64(s, ret) < 0 ? -EBADMSG : 0;
}

int cgfs_read_buf(int dirfd, const char *attr, char *buf, size_t size)
{
	_cleanup_close_ int fd = openat(dirfd, attr, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read_up_to(fd, buf, size);
	if (n < 0)
		return (int)n;
	if ((size_t)n == size)
		return -EFBIG; /* no room for the NUL: too big for buf */
	buf[n] = '\0';
	return 0;
}

int cgfs_read_u64(int dirfd, const char *attr, uint64_t *ret)
{
	char buf[64];
	int r = cgfs_read_buf(dirfd, attr, buf, sizeof(buf));

	if (r < 0)
		return r == -EFBIG ? -EBADMSG : r;
	return parse_u64_or_max(buf, ret);
}

int cgfs_pread_u64(int fd, uint64_t *ret)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return parse_u64_or_max(buf, ret);
}

int cgfs_write_u64(int dirfd, const char *attr, uint64_t value)
{
	char buf[24];

	if (value == CGFS_MAX)
		return cgfs_write(dirfd, attr, "max");
	snprintf(buf, sizeof(buf), "%" PRIu64, value);
	return cgfs_write(dirfd, attr, buf);
}

/* Every line must have the "key value" shape: non-empty key, exactly one
 * space, a non-empty value with no space. Only the wanted keys' values
 * are parsed, so a future key with a non-numeric value does not break
 * reads of the others; a wanted key twice is -EBADMSG. */
int cgfs_parse_keys(const char *text, const char *const *keys, uint64_t *const *vals, size_t n,
		    uint32_t *ret_found)
{
	uint32_t found = 0;

	if (n > 32)
		return -EINVAL;
	for (const char *line = text; *line;) {
		const char *eol = strchrnul(line, '\n'), *sp = memchr(line, ' ', (size_t)(eol - line));
		size_t klen, vlen;

		if (!sp || sp == line || sp + 1 == eol || memchr(sp + 1, ' ', (size_t)(eol - sp - 1)))
			return -EBADMSG;
		klen = (size_t)(sp - line);
		vlen = (size_t)(eol - sp - 1);
		for (size_t i = 0; i < n; i++) {
			char value[32];

			if (strlen(keys[i]) != klen || memcmp(keys[i], line, klen) != 0)
				continue;
			if ((found & (1u << i)) || vlen >= sizeof(value))
				return -EBADMSG;
			memcpy(value, sp + 1, vlen);
			value[vlen] = '\0';
			if (parse_u64_or_max(value, vals[i]) < 0)
				return -EBADMSG;
			found |= 1u << i;
		}
		line = *eol ? eol + 1 : eol;
	}
	*ret_found = found;
	return 0;
}

int cgfs_parse_keyed(const char *text, const char *key, uint64_t *ret)
{
	uint64_t v = 0;
	uint32_t found;
	int r = cgfs_parse_keys(text, &key, (uint64_t *const[]){ &v }, 1, &found);

	if (r < 0)
		return r;
	if (!found)
		return -ENOENT;
	*ret = v;
	return 0;
}

int cgfs_read_keyed(int dirfd, const char *attr, const char *key, uint64_t *ret)
{
	_cleanup_free_ char *text = NULL;
	char buf[4096];
	int r = cgfs_read_buf(dirfd, attr, buf, sizeof(buf));

	if (r == 0)
		return cgfs_parse_keyed(buf, key, ret);
	if (r != -EFBIG)
		return r;
	r = cgfs_read(dirfd, attr, &text); /* memory.stat of a kernel yet to come */
	return r < 0 ? r : cgfs_parse_keyed(text, key, ret);
}

/* The kernel prints averages as "%lu.%02lu". Parsed by hand: strtod follows
 * LC_NUMERIC and takes far more ("inf", hex, exponents, signs). */
static int parse_avg(const char *s, double *ret)
{
	const char *dot = strchr(s, '.');
	char whole_text[24];
	uint64_t whole, frac;
	size_t nwhole, nfrac;
	double scale = 1;

	if (!dot)
		return -EBADMSG;
	nwhole = (size_t)(dot - s);
	nfrac = strlen(dot + 1);
	if (nwhole == 0 || nwhole >= sizeof(whole_text) || nfrac == 0 || nfrac > 6)
		return -EBADMSG;
	memcpy(whole_text, s, nwhole);
	whole_text[nwhole] = '\0';
	if (parse_u64(whole_text, &whole) < 0 || parse_u64(dot + 1, &frac) < 0)
		return -EBADMSG;
	for (size_t i = 0; i < nfrac; i++)
		scale *= 10;
	*ret = (double)whole + (double)frac / scale;
	return 0;
}

/* The fields after "some"/"full". */
static int parse_psi_fields(char *fields, struct cgfs_psi_line *ret)
{
	static const char *const names[] = { "avg10", "avg60", "avg300", "total" };
	double *avgs[] = { &ret->avg10, &ret->avg60, &ret->avg300 };
	unsigned seen = 0;
	char *field;

	while ((field = strsep(&fields, " "))) {
		char *eq = strchr(field, '=');
		unsigned i;
		int r;

		if (!eq || eq == field)
			return -EBADMSG;
		*eq = '\0';
		for (i = 0; i < ARRAY_SIZE(names) && !streq(field, names[i]); i++)
			;
		if (i == ARRAY_SIZE(names))
			continue; /* a field a newer kernel added */
		if (seen & (1u << i))
			return -EBADMSG;
		seen |= 1u << i;
		r = i == 3 ? parse_u64(eq + 1, &ret->total) : parse_avg(eq + 1, avgs[i]);
		if (r < 0)
			return -EBADMSG;
	}
	return seen == 0xf ? 0 : -EBADMSG;
}

int cgfs_parse_psi(const char *text, struct cgfs_psi *ret)
{
	_cleanup_free_ char *copy = strdup(text);
	struct cgfs_psi psi = { 0 };
	char *cursor = copy, *line;
	bool has_some = false;

	if (!copy)
		return -ENOMEM;
	while ((line = next_line(&cursor))) {
		char *word = strsep(&line, " ");
		struct cgfs_psi_line *target;
		bool *seen;

		if (streq(word, "some")) {
			target = &psi.some;
			seen = &has_some;
		} else if (streq(word, "full")) {
			target = &psi.full;
			seen = &psi.has_full;
		} else if (*word) {
			continue; /* a line kind a newer kernel added */
		} else {
			return -EBADMSG;
		}
		if (*seen || !line || parse_psi_fields(line, target) < 0)
			return -EBADMSG;
		*seen = true;
	}
	if (!has_some)
		return -EBADMSG;
	*ret = psi;
	return 0;
}

int cgfs_psi_trigger(int dirfd, const char *file, const char *trigger)
{
	_cleanup_close_ int fd = openat(dirfd, file, O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	/* The kernel wants the whole string in one write, NUL included. */
	if (write(fd, trigger, strlen(trigger) + 1) < 0)
		return -errno;
	return TAKE_FD(fd);
}

int cgfs_read_psi(int dirfd, const char *attr, struct cgfs_psi *ret)
{
	_cleanup_free_ char *text = NULL;
	int r;

	r = cgfs_read(dirfd, attr, &text);
	if (r < 0)
		return r;
	return cgfs_parse_psi(text, ret);
}

/* Is word one of the space separated words of a controllers file? */
static bool word_in_list(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list + strspn(list, " \n"); *p;) {
		size_t len = strcspn(p, " \n");

		if (len == n && memcmp(p, word, n) == 0)
			return true;
		p += len;
		p += strspn(p, " \n");
	}
	return false;
}

int cgfs_has_controller(int dirfd, const char *controller, bool *ret)
{
	_cleanup_free_ char *text = NULL;
	int r;

	r = cgfs_read(dirfd, "cgroup.controllers", &text);
	if (r < 0)
		return r;
	*ret = word_in_list(text, controller);
	return 0;
}

/* A name the kernel could read as one controller: no spaces, no +/- op. */
static bool controller_name_ok(const char *name)
{
	return *name && *name != '+' && *name != '-' && strlen(name) < 32 &&
	       !strpbrk(name, " \t\n");
}

int cgfs_enable_controllers_ex(int dirfd, const char *const *controllers,
			       const char **ret_failed)
{
	_cleanup_free_ char *enabled = NULL;
	const char *const *c;
	int r;

	if (ret_failed)
		*ret_failed = NULL;
	for (c = controllers; c && *c; c++)
		if (!controller_name_ok(*c))
			goto failed_einval;
	r = cgfs_read(dirfd, "cgroup.subtree_control", &enabled);
	if (r < 0)
		return r;
	for (c = controllers; c && *c; c++) {
		char cmd[40];

		if (word_in_list(enabled, *c))
			continue;
		snprintf(cmd, sizeof(cmd), "+%s", *c);
		r = cgfs_write(dirfd, "cgroup.subtree_control", cmd);
		if (r < 0) {
			if (ret_failed)
				*ret_failed = *c;
			return r;
		}
	}
	return 0;

failed_einval:
	if (ret_failed)
		*ret_failed = *c;
	return -EINVAL;
}

int cgfs_enable_controllers(int dirfd, const char *const *controllers)
{
	return cgfs_enable_controllers_ex(dirfd, controllers, NULL);
}

int cgfs_read_procs(int dirfd, pid_t **ret, size_t *ret_n)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_free_ pid_t *pids = NULL;
	char *cursor, *line;
	size_t n = 0, cap = 1;
	int r;

	r = cgfs_read(dirfd, "cgroup.procs", &text);
	if (r < 0)
		return r;
	for (const char *p = text; (p = strchr(p, '\n')); p++)
		cap++;
	pids = calloc(cap, sizeof(pid_t));
	if (!pids)
		return -ENOMEM;
	cursor = text;
	while ((line = next_line(&cursor))) {
		uint64_t v;

		if (parse_u64(line, &v) < 0 || v > INT_MAX)
			return -EBADMSG;
		/* 0: a process outside our pid namespace (task_pid_vnr). */
		if (v > 0)
			pids[n++] = (pid_t)v;
	}
	if (n == 0) {
		free(pids);
		pids = NULL;
	}
	*ret = TAKE_PTR(pids);
	*ret_n = n;
	return 0;
}

int cgfs_attach(int dirfd, pid_t pid)
{
	char buf[16];

	if (pid <= 0)
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	return cgfs_write(dirfd, "cgroup.procs", buf);
}

int cgfs_is_populated(int dirfd, bool *ret)
{
	uint64_t v;
	int r;

	r = cgfs_read_keyed(dirfd, "cgroup.events", "populated", &v);
	if (r < 0)
		return r;
	if (v > 1)
		return -EBADMSG;
	*ret = v == 1;
	return 0;
}

int cgfs_read_working_set(int dirfd, uint64_t *ret)
{
	uint64_t current, inactive;
	int r;

	r = cgfs_read_u64(dirfd, "memory.current", &current);
	r = r ?: cgfs_read_keyed(dirfd, "memory.stat", "inactive_file", &inactive);
	if (r < 0)
		return r;
	*ret = memory_working_set(current, inactive);
	return 0;
}

int cgfs_freeze(int dirfd, bool frozen)
{
	return cgfs_write(dirfd, "cgroup.freeze", frozen ? "1" : "0");
}

static int watch_events(int dirfd)
{
	_cleanup_close_ int ifd = -1;
	int r;

	if (dirfd < 0)
		return -EBADF;
	ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ifd < 0)
		return -errno;
	r = cgwatch_inotify_add(ifd, dirfd, "cgroup.events");
	if (r < 0)
		return r;
	return TAKE_FD(ifd);
}

/* Milliseconds left to the deadline for poll(), rounded up so that poll
 * never wakes just before the deadline and spins. */
static int poll_timeout_ms(usec_t deadline)
{
	usec_t now, left;

	if (deadline == USEC_INFINITY)
		return -1;
	now = now_monotonic();
	if (now >= deadline)
		return 0;
	left = (deadline - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC;
	return left > INT_MAX ? INT_MAX : (int)left;
}

/* Read all queued events; -EIDRM when the watch went away (file removed). */
static int drain_inotify(int ifd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool gone = false;

	for (;;) {
		ssize_t n = read(ifd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			return -errno;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;

			gone |= (ev->mask & IN_IGNORED) != 0;
			p += sizeof(*ev) + ev->len;
		}
	}
	return gone ? -EIDRM : 0;
}

static int wait_inotify(int ifd, usec_t deadline)
{
	struct pollfd pfd = { .fd = ifd, .events = POLLIN };

	for (;;) {
		int r = poll(&pfd, 1, poll_timeout_ms(deadline));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		return drain_inotify(ifd);
	}
}

/* Wait until cgroup.events says "key want". The watch is set before the
 * first read, so a change between the two is not lost. */
static int wait_events(int dirfd, const char *key, uint64_t want, usec_t timeout)
{
	_cleanup_close_ int ifd = -1;
	usec_t now = now_monotonic(), deadline = USEC_INFINITY;
	bool gone = false;

	if (timeout < USEC_INFINITY - now)
		deadline = now + timeout;
	ifd = watch_events(dirfd);
	if (ifd < 0)
		return ifd;
	for (;;) {
		uint64_t v;
		int r;

		r = cgfs_read_keyed(dirfd, "cgroup.events", key, &v);
		if (r < 0)
			return gone ? -EIDRM : r;
		if (v == want)
			return 0;
		if (gone)
			return -EIDRM;
		r = wait_inotify(ifd, deadline);
		if (r < 0 && r != -EIDRM)
			return r;
		gone = r == -EIDRM;
	}
}

int cgfs_wait_unpopulated(int dirfd, usec_t timeout)
{
	int r = wait_events(dirfd, "populated", 0, timeout);

	/* The kernel removes only empty groups: removed means unpopulated. */
	return r == -EIDRM ? 0 : r;
}

static bool listed(const pid_t *v, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == pid)
			return true;
	return false;
}

int cgfs_signal_group(int dirfd, int sig)
{
	_cleanup_free_ pid_t *pids = NULL, *still = NULL;
	_cleanup_free_ int *fds = NULL;
	size_t n, m = 0;
	int r;

	r = cgfs_read_procs(dirfd, &pids, &n);
	if (r < 0 || n == 0)
		return r;
	/* A pid read from cgroup.procs may exit and be handed to a stranger
	 * before the signal: pin each with a pidfd first, then signal only
	 * those the group still lists (a number reused inside the group is
	 * the group's). Out of fds, a pid falls back to kill(). */
	fds = malloc(n * sizeof(*fds));
	if (!fds)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		fds[i] = (int)syscall(SYS_pidfd_open, pids[i], 0);
		if (fds[i] < 0)
			fds[i] = -errno; /* why, for below */
	}
	/* Short of fds (the pidfds took the last), the list cannot be read
	 * again: the pinned processes get the signal unchecked, as before. */
	bool check = cgfs_read_procs(dirfd, &still, &m) == 0;

	for (size_t i = 0; i < n; i++) {
		int e = 0;

		if (fds[i] >= 0) {
			if ((!check || listed(still, m, pids[i])) &&
			    syscall(SYS_pidfd_send_signal, fds[i], sig, NULL, 0) < 0)
				e = errno;
			close(fds[i]);
		} else if (fds[i] != -ESRCH && kill(pids[i], sig) < 0) /* -EMFILE and the like */
			e = errno;
		if (e && e != ESRCH && r == 0)
			r = -e;
	}
	return r;
}

/* Kill each pid of a frozen (or freezing, after the bound) group. */
static int kill_frozen(int dirfd)
{
	int r;

	r = wait_events(dirfd, "frozen", 1, FREEZE_WAIT_USEC);
	if (r < 0 && r != -ETIMEDOUT)
		return r;
	return cgfs_signal_group(dirfd, SIGKILL);
}

/* Without cgroup.kill (before 5.14), freezing first stops the group from
 * forking while its pids are read and killed (as crun does). */
int cgfs_kill(int dirfd)
{
	int r, thaw;

	r = cgfs_write(dirfd, "cgroup.kill", "1");
	if (r != -ENOENT)
		return r;
	r = cgfs_freeze(dirfd, true);
	if (r >= 0)
		r = kill_frozen(dirfd);
	thaw = cgfs_freeze(dirfd, false);
	return r < 0 ? r : thaw;
}
