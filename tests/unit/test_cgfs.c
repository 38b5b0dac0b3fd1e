/* test_cgfs.c: cgfs against fake cgroup and /proc trees: strict parsing,
 * writes, groups, waits on cgroup.events, kill with and without cgroup.kill. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "cgfs.h"
#include "tmptree.h"

#define WEB "system.slice/web.service"

/* A group state: the tree (fixture or temporary copy), its root and the
 * web.service group, open. */
struct tree {
	char dir[PATH_MAX];
	bool temporary;
	struct cgfs cg;
	int web;
};

static const char *fixtures(void)
{
	const char *d = getenv("GUARDIAN_FIXTURES");

	return d ? d : "tests/fixtures";
}

static char *fixture(const char *rel)
{
	char *p = NULL;

	assert_true(asprintf(&p, "%s/%s", fixtures(), rel) > 0);
	return p;
}

static void run(char *const argv[])
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static int open_tree(struct tree *t, const char *dir)
{
	snprintf(t->dir, sizeof(t->dir), "%s", dir);
	assert_int_equal(cgfs_open(t->dir, &t->cg), 0);
	t->web = cgfs_open_group(&t->cg, WEB);
	assert_true(t->web >= 0);
	return 0;
}

/* Read-only tests use the fixture in place. */
static int setup_fixture(void **state)
{
	_cleanup_free_ char *dir = fixture("cgroup/basic.fakeroot");
	struct tree *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	*state = t;
	return open_tree(t, dir);
}

/* Tests that write get a copy: tests/fixtures is never modified. */
static int setup_copy(void **state)
{
	_cleanup_free_ char *src = fixture("cgroup/basic.fakeroot/.");
	struct tree *t = calloc(1, sizeof(*t));
	char dir[PATH_MAX];

	assert_non_null(t);
	*state = t;
	tmptree_new(dir, sizeof(dir), "cgfs");
	t->temporary = true;
	run((char *const[]){ "cp", "-a", src, dir, NULL });
	return open_tree(t, dir);
}

static int teardown(void **state)
{
	struct tree *t = *state;

	closep(&t->web);
	cgfs_close(&t->cg);
	if (t->temporary)
		tmptree_remove(t->dir);
	free(t);
	return 0;
}

/* Replace a file of the tree (a test playing the kernel). */
static void put(int dirfd, const char *attr, const char *text)
{
	_cleanup_close_ int fd = openat(dirfd, attr, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, text, strlen(text)), 0);
}

static void assert_content(int dirfd, const char *attr, const char *want)
{
	_cleanup_free_ char *text = NULL;

	assert_int_equal(cgfs_read(dirfd, attr, &text), 0);
	assert_string_equal(text, want);
}

static int open_bad(struct cgfs *c)
{
	_cleanup_free_ char *dir = fixture("cgroup/bad.fakeroot");
	int fd;

	assert_int_equal(cgfs_open(dir, c), 0);
	fd = cgfs_open_group(c, "broken.service");
	assert_true(fd >= 0);
	return fd;
}

static void open_missing_root_is_enoent(void **state)
{
	struct cgfs c;

	assert_int_equal(cgfs_open("/nonexistent/guardian-root", &c), -ENOENT);
	assert_int_equal(c.root_fd, -1);
	cgfs_close(&c);
}

static void is_cgroup2_false_on_fixture(void **state)
{
	struct tree *t = *state;

	assert_int_equal(cgfs_is_cgroup2(&t->cg), 0);
}

static void read_u64_max_is_cgfs_max(void **state)
{
	struct tree *t = *state;
	uint64_t v = 0;

	assert_int_equal(cgfs_read_u64(t->web, "memory.max", &v), 0);
	assert_true(v == CGFS_MAX);
	assert_int_equal(cgfs_read_u64(t->web, "memory.swap.max", &v), 0);
	assert_true(v == CGFS_MAX);
}

static void read_u64_reads_number(void **state)
{
	struct tree *t = *state;
	uint64_t v = 0;

	assert_int_equal(cgfs_read_u64(t->web, "memory.high", &v), 0);
	assert_true(v == 1610612736ULL);
}

static void read_u64_malformed_is_ebadmsg(void **state)
{
	_cleanup_close_ int fd = -1;
	struct cgfs c;
	uint64_t v = 7;

	fd = open_bad(&c);
	assert_int_equal(cgfs_read_u64(fd, "memory.max", &v), -EBADMSG);
	assert_int_equal(cgfs_read_u64(fd, "memory.high", &v), -EBADMSG);
	assert_true(v == 7);
	cgfs_close(&c);
}

static void read_missing_attr_is_enoent(void **state)
{
	struct tree *t = *state;
	char *text = NULL;

	assert_int_equal(cgfs_read(t->web, "memory.nonexistent", &text), -ENOENT);
	assert_null(text);
}

static void write_u64_and_max_round_trip(void **state)
{
	struct tree *t = *state;
	uint64_t v = 0;

	assert_int_equal(cgfs_write_u64(t->web, "memory.high", 805306368), 0);
	assert_content(t->web, "memory.high", "805306368");
	assert_int_equal(cgfs_read_u64(t->web, "memory.high", &v), 0);
	assert_true(v == 805306368ULL);
	assert_int_equal(cgfs_write_u64(t->web, "memory.high", CGFS_MAX), 0);
	assert_content(t->web, "memory.high", "max");
	assert_int_equal(cgfs_read_u64(t->web, "memory.high", &v), 0);
	assert_true(v == CGFS_MAX);
}

static void write_missing_attr_is_enoent_not_created(void **state)
{
	struct tree *t = *state;

	assert_int_equal(cgfs_write(t->web, "memory.reclaim", "1M"), -ENOENT);
	assert_int_equal(faccessat(t->web, "memory.reclaim", F_OK, 0), -1);
}

static void read_whole_file_beyond_4k(void **state)
{
	struct tree *t = *state;
	_cleanup_free_ char *big = malloc(20001), *back = NULL;

	assert_non_null(big);
	for (size_t i = 0; i < 20000; i++)
		big[i] = (i % 64 == 63) ? '\n' : (char)('a' + i % 26);
	big[20000] = '\0';
	assert_int_equal(cgfs_write(t->web, "memory.stat", big), 0);
	assert_int_equal(cgfs_read(t->web, "memory.stat", &back), 0);
	assert_int_equal(strlen(back), 20000);
	assert_string_equal(back, big);
}

static void keyed_finds_inactive_file(void **state)
{
	struct tree *t = *state;
	_cleanup_free_ char *stat = NULL;
	uint64_t v = 0;

	assert_int_equal(cgfs_read_keyed(t->web, "memory.stat", "inactive_file", &v), 0);
	assert_true(v == 161136640ULL);
	/* One sample, several keys. */
	assert_int_equal(cgfs_read(t->web, "memory.stat", &stat), 0);
	assert_int_equal(cgfs_parse_keyed(stat, "anon", &v), 0);
	assert_true(v == 1031892992ULL);
	assert_int_equal(cgfs_parse_keyed(stat, "thp_collapse_alloc", &v), 0);
	assert_true(v == 3);
	assert_int_equal(cgfs_read_keyed(t->web, "memory.events", "oom_kill", &v), 0);
	assert_true(v == 1);
}

static void keyed_missing_key_is_enoent(void **state)
{
	struct tree *t = *state;
	uint64_t v = 0;

	assert_int_equal(cgfs_read_keyed(t->web, "memory.stat", "no_such_key", &v), -ENOENT);
	/* A prefix of a key is not the key. */
	assert_int_equal(cgfs_read_keyed(t->web, "memory.stat", "inactive", &v), -ENOENT);
}

static void keyed_duplicated_key_is_ebadmsg(void **state)
{
	_cleanup_close_ int fd = -1;
	struct cgfs c;
	uint64_t v = 0;

	fd = open_bad(&c);
	assert_int_equal(cgfs_read_keyed(fd, "memory.stat", "anon", &v), -EBADMSG);
	cgfs_close(&c);
}

static void keyed_malformed_line_is_ebadmsg(void **state)
{
	_cleanup_close_ int fd = -1;
	struct cgfs c;
	uint64_t v = 0;

	fd = open_bad(&c);
	/* "high" without a value, even when another key is asked for. */
	assert_int_equal(cgfs_read_keyed(fd, "memory.events", "low", &v), -EBADMSG);
	assert_int_equal(cgfs_read_keyed(fd, "memory.events.local", "high", &v), -EBADMSG);
	cgfs_close(&c);
}

static void parse_keyed_is_strict(void **state)
{
	uint64_t v = 0;

	assert_int_equal(cgfs_parse_keyed("a 1", "a", &v), 0);
	assert_true(v == 1);
	assert_int_equal(cgfs_parse_keyed("res_a max\n", "res_a", &v), 0);
	assert_true(v == CGFS_MAX);
	assert_int_equal(cgfs_parse_keyed("", "a", &v), -ENOENT);
	assert_int_equal(cgfs_parse_keyed("a 1\n\nb 2\n", "b", &v), -EBADMSG);
	assert_int_equal(cgfs_parse_keyed("a 1 \n", "a", &v), -EBADMSG);
	assert_int_equal(cgfs_parse_keyed(" a 1\n", "a", &v), -EBADMSG);
	assert_int_equal(cgfs_parse_keyed("a -1\n", "a", &v), -EBADMSG);
	assert_int_equal(cgfs_parse_keyed("a 0x10\n", "a", &v), -EBADMSG);
	assert_int_equal(cgfs_parse_keyed("a 18446744073709551616\n", "a", &v), -EBADMSG);
}

/* Several keys in one pass: each value where asked, a bit for each key
 * found, the same strictness as one key at a time. */
static void parse_keys_takes_several_in_one_pass(void **state)
{
	static const char *const keys[] = { "high", "max", "oom_kill", "absent" };
	uint64_t high = 0, max = 0, kill = 0, absent = 7;
	uint64_t *const vals[] = { &high, &max, &kill, &absent };
	uint32_t found = 0;

	assert_int_equal(cgfs_parse_keys("low 0\nhigh 12\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n", keys, vals, 4,
					 &found), 0);
	assert_true(high == 12 && max == 3 && kill == 1);
	assert_true(absent == 7); /* not there: untouched */
	assert_int_equal(found, 0x7);
	assert_int_equal(cgfs_parse_keys("high 1\nhigh 2\n", keys, vals, 4, &found), -EBADMSG);
	assert_int_equal(cgfs_parse_keys("high 1\n\nmax 2\n", keys, vals, 4, &found), -EBADMSG);
	assert_int_equal(cgfs_parse_keys("high 1\nodd line here\n", keys, vals, 4, &found), -EBADMSG);
	/* A value too long to be a number, in a key that is wanted. */
	assert_int_equal(cgfs_parse_keys("max 123456789012345678901234567890123\n", keys, vals, 4, &found), -EBADMSG);
	/* ... and in one that is not: not parsed, so no error. */
	assert_int_equal(cgfs_parse_keys("other 123456789012345678901234567890123\nmax 5\n", keys, vals, 4, &found), 0);
	assert_true(max == 5 && found == 0x2);
}

/* A file larger than the buffer is -EFBIG, never a cut-off read. */
static void read_buf_refuses_what_does_not_fit(void **state)
{
	struct tree *t = *state;
	char small[16], big[8192];

	assert_int_equal(cgfs_read_buf(t->web, "memory.stat", small, sizeof(small)), -EFBIG);
	assert_int_equal(cgfs_read_buf(t->web, "memory.stat", big, sizeof(big)), 0);
	assert_non_null(strstr(big, "inactive_file "));
	assert_int_equal(cgfs_read_buf(t->web, "no.such.file", big, sizeof(big)), -ENOENT);
}

static void is_populated_reads_cgroup_events(void **state)
{
	struct tree *t = *state;
	_cleanup_close_ int fd = -1;
	struct cgfs c;
	bool populated = false;

	assert_int_equal(cgfs_is_populated(t->web, &populated), 0);
	assert_true(populated);
	fd = open_bad(&c);
	assert_int_equal(cgfs_is_populated(fd, &populated), -EBADMSG);
	cgfs_close(&c);
}

static void psi_parses_some_and_full(void **state)
{
	struct tree *t = *state;
	struct cgfs_psi psi;

	assert_int_equal(cgfs_read_psi(t->web, "memory.pressure", &psi), 0);
	assert_float_equal(psi.some.avg10, 8.17, 1e-9);
	assert_float_equal(psi.some.avg60, 6.02, 1e-9);
	assert_float_equal(psi.some.avg300, 2.44, 1e-9);
	assert_true(psi.some.total == 51234567ULL);
	assert_true(psi.has_full);
	assert_float_equal(psi.full.avg10, 7.90, 1e-9);
	assert_float_equal(psi.full.avg300, 2.31, 1e-9);
	assert_true(psi.full.total == 49876543ULL);
}

static void psi_without_full_line(void **state)
{
	struct tree *t = *state;
	struct cgfs_psi psi;

	assert_int_equal(cgfs_read_psi(t->cg.root_fd, "cpu.pressure", &psi), 0);
	assert_float_equal(psi.some.avg10, 3.40, 1e-9);
	assert_true(psi.some.total == 987654321ULL);
	assert_false(psi.has_full);
}

static void psi_malformed_is_ebadmsg(void **state)
{
	_cleanup_close_ int fd = -1;
	struct cgfs c;
	struct cgfs_psi psi;

	fd = open_bad(&c);
	assert_int_equal(cgfs_read_psi(fd, "memory.pressure", &psi), -EBADMSG); /* avg60=x.yz */
	assert_int_equal(cgfs_read_psi(fd, "cpu.pressure", &psi), -EBADMSG);    /* no total */
	assert_int_equal(cgfs_read_psi(fd, "io.pressure", &psi), -EBADMSG);     /* two "some" */
	cgfs_close(&c);
}

static void parse_psi_is_strict_but_skips_unknown(void **state)
{
	struct cgfs_psi psi;

	assert_int_equal(cgfs_parse_psi("some avg10=1.00 avg60=0.50 avg300=0.25 total=9 new=4\n"
					"later avg10=x\n",
					&psi),
			 0);
	assert_float_equal(psi.some.avg300, 0.25, 1e-9);
	assert_int_equal(cgfs_parse_psi("", &psi), -EBADMSG);
	assert_int_equal(cgfs_parse_psi("full avg10=0.00 avg60=0.00 avg300=0.00 total=1\n", &psi),
			 -EBADMSG);
	assert_int_equal(cgfs_parse_psi("some avg10=-1.00 avg60=0.00 avg300=0.00 total=1\n", &psi),
			 -EBADMSG);
	assert_int_equal(cgfs_parse_psi("some avg10=1e3 avg60=0.00 avg300=0.00 total=1\n", &psi),
			 -EBADMSG);
	assert_int_equal(cgfs_parse_psi("some avg10=1.00  avg60=0.00 avg300=0.00 total=1\n", &psi),
			 -EBADMSG);
	assert_int_equal(cgfs_parse_psi("some avg10=1.00 avg10=1.00 avg60=0.00 avg300=0.00 total=1\n",
					&psi),
			 -EBADMSG);
	assert_int_equal(cgfs_parse_psi("some\n", &psi), -EBADMSG);
}

static void has_controller_matches_whole_words(void **state)
{
	struct tree *t = *state;
	bool has = false;

	assert_int_equal(cgfs_has_controller(t->cg.root_fd, "memory", &has), 0);
	assert_true(has);
	assert_int_equal(cgfs_has_controller(t->cg.root_fd, "misc", &has), 0);
	assert_true(has);
	assert_int_equal(cgfs_has_controller(t->cg.root_fd, "mem", &has), 0);
	assert_false(has);
}

static void enable_controllers_writes_only_missing(void **state)
{
	struct tree *t = *state;
	const char *const want[] = { "memory", "pids", "cpu", NULL };

	/* The root's subtree_control is "cpu io memory": only pids is missing,
	 * so the regular file ends up holding exactly that one write. */
	assert_int_equal(cgfs_enable_controllers(t->cg.root_fd, want), 0);
	assert_content(t->cg.root_fd, "cgroup.subtree_control", "+pids");
}

static void enable_controllers_none_missing_writes_nothing(void **state)
{
	struct tree *t = *state;
	const char *const want[] = { "cpu", "memory", NULL };

	assert_int_equal(cgfs_enable_controllers(t->cg.root_fd, want), 0);
	assert_content(t->cg.root_fd, "cgroup.subtree_control", "cpu io memory\n");
}

static void enable_controllers_rejects_bad_name_before_writing(void **state)
{
	struct tree *t = *state;
	const char *const want[] = { "pids", "bad name", NULL };
	const char *failed = NULL;

	assert_int_equal(cgfs_enable_controllers_ex(t->cg.root_fd, want, &failed), -EINVAL);
	assert_string_equal(failed, "bad name");
	assert_content(t->cg.root_fd, "cgroup.subtree_control", "cpu io memory\n");
}

static void enable_controllers_names_the_refused_controller(void **state)
{
	struct tree *t = *state;
	const char *const want[] = { "memory", "pids", NULL };
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		/* A file size limit of 0 makes the write fail, as the kernel
		 * would refuse a controller. */
		struct rlimit rl = { 0, 0 };
		const char *failed = NULL;
		int r;

		signal(SIGXFSZ, SIG_IGN);
		setrlimit(RLIMIT_FSIZE, &rl);
		r = cgfs_enable_controllers_ex(t->cg.root_fd, want, &failed);
		_exit(r == -EFBIG && failed && strcmp(failed, "pids") == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void open_group_paths(void **state)
{
	struct tree *t = *state;
	const char *ok[] = { "", "/", WEB, "/system.slice//web.service/", "./system.slice" };
	const char *bad[] = { "..", "../etc", "system.slice/../..", "/a/..", NULL };

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		int fd = cgfs_open_group(&t->cg, ok[i]);

		assert_true(fd >= 0);
		close(fd);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(cgfs_open_group(&t->cg, bad[i]), -EINVAL);
	assert_int_equal(cgfs_open_group(&t->cg, "nope.slice"), -ENOENT);
	assert_int_equal(cgfs_open_group(&t->cg, WEB "/memory.max"), -ENOTDIR);
}

static void mkdir_nested_and_rmdir(void **state)
{
	struct tree *t = *state;
	_cleanup_close_ int fd = -1;
	int again = -1;
	struct stat st;

	assert_int_equal(cgfs_mkdir(&t->cg, "/guardian.slice/a.service/inner", &fd), 0);
	assert_true(fd >= 0);
	assert_int_equal(fstatat(t->cg.root_fd, "guardian.slice/a.service/inner", &st, 0), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(cgfs_mkdir(&t->cg, "guardian.slice/a.service/inner", &again), 0);
	close(again);
	assert_int_equal(cgfs_mkdir(&t->cg, "guardian.slice/b.service", NULL), 0);

	assert_int_equal(cgfs_rmdir(&t->cg, "guardian.slice"), -ENOTEMPTY);
	assert_int_equal(cgfs_rmdir(&t->cg, "guardian.slice/a.service/inner"), 0);
	assert_int_equal(cgfs_rmdir(&t->cg, "guardian.slice/a.service/inner"), 0);
	assert_int_equal(cgfs_rmdir(&t->cg, "guardian.slice/a.service"), 0);
	assert_int_equal(fstatat(t->cg.root_fd, "guardian.slice/a.service", &st, 0), -1);
	assert_int_equal(cgfs_rmdir(&t->cg, "/"), -EINVAL);
}

static void mkdir_and_rmdir_reject_dotdot(void **state)
{
	struct tree *t = *state;
	int fd = -1;

	assert_int_equal(cgfs_mkdir(&t->cg, "x/../../escape", &fd), -EINVAL);
	assert_int_equal(fd, -1);
	assert_int_equal(faccessat(t->cg.root_fd, "x", F_OK, 0), -1);
	assert_int_equal(cgfs_rmdir(&t->cg, "system.slice/../.."), -EINVAL);
}

static void read_procs_lists_pids(void **state)
{
	struct tree *t = *state;
	_cleanup_free_ pid_t *pids = NULL;
	_cleanup_close_ int slice = cgfs_open_group(&t->cg, "system.slice");
	_cleanup_close_ int fd = -1;
	struct cgfs c;
	size_t n = 0;

	assert_int_equal(cgfs_read_procs(t->web, &pids, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(pids[0], 1234);
	assert_int_equal(pids[2], 1241);
	free(TAKE_PTR(pids));
	assert_int_equal(cgfs_read_procs(slice, &pids, &n), 0);
	assert_int_equal(n, 0);
	assert_null(pids);
	fd = open_bad(&c);
	assert_int_equal(cgfs_read_procs(fd, &pids, &n), -EBADMSG);
	cgfs_close(&c);
}

static void read_procs_leaves_out_invisible_zero(void **state)
{
	struct tree *t = *state;
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;

	put(t->web, "cgroup.procs", "0\n5\n0\n");
	assert_int_equal(cgfs_read_procs(t->web, &pids, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pids[0], 5);
}

static void attach_writes_pid(void **state)
{
	struct tree *t = *state;

	assert_int_equal(cgfs_attach(t->web, 4242), 0);
	assert_content(t->web, "cgroup.procs", "4242");
	assert_int_equal(cgfs_attach(t->web, 0), -EINVAL);
}

static void wait_unpopulated_returns_at_once_when_empty(void **state)
{
	struct tree *t = *state;

	put(t->web, "cgroup.events", "populated 0\nfrozen 0\n");
	assert_int_equal(cgfs_wait_unpopulated(t->web, 0), 0);
}

/* A child plays the kernel: after a moment it rewrites cgroup.events in
 * place (same length, one write) so the waiter sees a whole file. */
static pid_t rewrite_events_later(int dirfd, const char *text, long delay_ms)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct timespec ts = { delay_ms / 1000, (delay_ms % 1000) * 1000000L };
		int fd;

		nanosleep(&ts, NULL);
		fd = openat(dirfd, "cgroup.events", O_WRONLY | O_CLOEXEC);
		_exit(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : 1);
	}
	return pid;
}

static void wait_unpopulated_wakes_on_change(void **state)
{
	struct tree *t = *state;
	usec_t start = now_monotonic();
	int status;
	pid_t pid;

	pid = rewrite_events_later(t->web, "populated 0\nfrozen 0\n", 100);
	assert_int_equal(cgfs_wait_unpopulated(t->web, 10 * USEC_PER_SEC), 0);
	assert_true(now_monotonic() - start < 5 * USEC_PER_SEC);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void wait_unpopulated_ignores_other_changes(void **state)
{
	struct tree *t = *state;
	int status;
	pid_t pid;

	/* The file changes but stays populated: the wait must run out. */
	pid = rewrite_events_later(t->web, "populated 1\nfrozen 1\n", 20);
	assert_int_equal(cgfs_wait_unpopulated(t->web, 300 * USEC_PER_MSEC), -ETIMEDOUT);
	assert_int_equal(waitpid(pid, &status, 0), pid);
}

static void wait_unpopulated_times_out(void **state)
{
	struct tree *t = *state;
	usec_t start = now_monotonic(), took;

	assert_int_equal(cgfs_wait_unpopulated(t->web, 50 * USEC_PER_MSEC), -ETIMEDOUT);
	took = now_monotonic() - start;
	assert_true(took >= 50 * USEC_PER_MSEC);
	assert_true(took < 2 * USEC_PER_SEC);
}

static void kill_writes_cgroup_kill(void **state)
{
	struct tree *t = *state;

	assert_int_equal(cgfs_kill(t->web), 0);
	assert_content(t->web, "cgroup.kill", "1");
	assert_content(t->web, "cgroup.freeze", "0\n"); /* no fallback taken */
}

static pid_t spawn_sleeper(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		for (;;)
			pause();
	return pid;
}

static void assert_killed(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
}

/* Before 5.14 there is no cgroup.kill: freeze, SIGKILL each pid, thaw. */
static void kill_fallback_freezes_kills_each_pid_and_thaws(void **state)
{
	struct tree *t = *state;
	pid_t child = spawn_sleeper();
	char procs[32];

	assert_int_equal(unlinkat(t->web, "cgroup.kill", 0), 0);
	put(t->web, "cgroup.events", "populated 1\nfrozen 1\n");
	snprintf(procs, sizeof(procs), "%d\n", (int)child);
	put(t->web, "cgroup.procs", procs);
	assert_int_equal(cgfs_kill(t->web), 0);
	assert_killed(child);
	assert_content(t->web, "cgroup.freeze", "0");
}

static void kill_fallback_thaws_on_error(void **state)
{
	struct tree *t = *state;

	assert_int_equal(unlinkat(t->web, "cgroup.kill", 0), 0);
	put(t->web, "cgroup.events", "populated 1\nfrozen 1\n");
	put(t->web, "cgroup.procs", "not-a-pid\n");
	assert_int_equal(cgfs_kill(t->web), -EBADMSG);
	assert_content(t->web, "cgroup.freeze", "0");
}

static void kill_fallback_kills_when_freeze_never_completes(void **state)
{
	struct tree *t = *state;
	pid_t child = spawn_sleeper();
	usec_t start = now_monotonic();
	char procs[32];

	/* "frozen" stays 0 (a task stuck in D state): the wait is bounded. */
	assert_int_equal(unlinkat(t->web, "cgroup.kill", 0), 0);
	snprintf(procs, sizeof(procs), "%d\n", (int)child);
	put(t->web, "cgroup.procs", procs);
	assert_int_equal(cgfs_kill(t->web), 0);
	assert_true(now_monotonic() - start < 5 * USEC_PER_SEC);
	assert_killed(child);
	assert_content(t->web, "cgroup.freeze", "0");
}

static void pid_cgroup_parses_proc_files(void **state)
{
	_cleanup_free_ char *proc = fixture("proc");
	char *path = NULL;

	assert_int_equal(cgfs_pid_cgroup(proc, 100, &path), 0);
	assert_string_equal(path, "/system.slice/web.service");
	free(path);
	assert_int_equal(cgfs_pid_cgroup(proc, 200, &path), 0); /* hybrid */
	assert_string_equal(path, "/system.slice/cron.service");
	free(path);
	path = NULL;
	assert_int_equal(cgfs_pid_cgroup(proc, 300, &path), -ENODATA); /* v1 only */
	assert_int_equal(cgfs_pid_cgroup(proc, 400, &path), -EBADMSG); /* two 0:: */
	assert_int_equal(cgfs_pid_cgroup(proc, 500, &path), -EBADMSG); /* not absolute */
	assert_int_equal(cgfs_pid_cgroup(proc, 999, &path), -ENOENT);  /* gone */
	assert_int_equal(cgfs_pid_cgroup(proc, 0, &path), -EINVAL);
	assert_null(path);
}

static void pid_cgroup_result_opens_in_tree(void **state)
{
	struct tree *t = *state;
	_cleanup_free_ char *proc = fixture("proc"), *path = NULL;
	int fd;

	assert_int_equal(cgfs_pid_cgroup(proc, 100, &path), 0);
	fd = cgfs_open_group(&t->cg, path);
	assert_true(fd >= 0);
	close(fd);
}

static void pid_cgroup_of_self_on_host(void **state)
{
	char *path = NULL;
	int r = cgfs_pid_cgroup("/proc", getpid(), &path);

	/* Read-only; a v1-only host has no 0:: line. */
	assert_true(r == 0 || r == -ENODATA);
	if (r == 0)
		assert_true(path[0] == '/');
	free(path);
}

static void check_memory_controller_fixture_is_not_cgroup2(void **state)
{
	_cleanup_free_ char *root = fixture("cgroup/basic.fakeroot"), *proc = fixture("proc");
	_cleanup_free_ char *reason = NULL;

	assert_int_equal(cgfs_check_memory_controller(root, proc, &reason), -EMEDIUMTYPE);
	assert_non_null(reason);
	assert_non_null(strstr(reason, "is not a cgroup2 mount"));
	assert_non_null(strstr(reason, "bound to cgroup v1"));
	assert_non_null(strstr(reason, "hierarchy 4"));
}

static void check_memory_controller_missing_root(void **state)
{
	_cleanup_free_ char *reason = NULL;

	assert_int_equal(cgfs_check_memory_controller("/nonexistent/cg", "/nonexistent/proc", &reason),
			 -ENOENT);
	assert_non_null(reason);
	assert_non_null(strstr(reason, "cannot open /nonexistent/cg"));
}

static void check_memory_controller_on_host_explains_refusal(void **state)
{
	_cleanup_free_ char *reason = NULL;
	int r;

	/* Only statfs and reads of the host's cgroup root and /proc/cgroups. */
	r = cgfs_check_memory_controller(NULL, NULL, &reason);
	if (r == 0) {
		assert_null(reason);
		return;
	}
	assert_true(r < 0);
	assert_non_null(reason);
	print_message("host: %s\n", reason);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_fixture, teardown)
#define W(f) cmocka_unit_test_setup_teardown(f, setup_copy, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(open_missing_root_is_enoent),
		T(is_cgroup2_false_on_fixture),
		T(read_u64_max_is_cgfs_max),
		T(read_u64_reads_number),
		cmocka_unit_test(read_u64_malformed_is_ebadmsg),
		T(read_missing_attr_is_enoent),
		W(write_u64_and_max_round_trip),
		W(write_missing_attr_is_enoent_not_created),
		W(read_whole_file_beyond_4k),
		T(keyed_finds_inactive_file),
		T(keyed_missing_key_is_enoent),
		cmocka_unit_test(keyed_duplicated_key_is_ebadmsg),
		cmocka_unit_test(keyed_malformed_line_is_ebadmsg),
		cmocka_unit_test(parse_keyed_is_strict),
		cmocka_unit_test(parse_keys_takes_several_in_one_pass),
		T(read_buf_refuses_what_does_not_fit),
		T(is_populated_reads_cgroup_events),
		T(psi_parses_some_and_full),
		T(psi_without_full_line),
		cmocka_unit_test(psi_malformed_is_ebadmsg),
		cmocka_unit_test(parse_psi_is_strict_but_skips_unknown),
		T(has_controller_matches_whole_words),
		W(enable_controllers_writes_only_missing),
		W(enable_controllers_none_missing_writes_nothing),
		W(enable_controllers_rejects_bad_name_before_writing),
		W(enable_controllers_names_the_refused_controller),
		T(open_group_paths),
		W(mkdir_nested_and_rmdir),
		W(mkdir_and_rmdir_reject_dotdot),
		T(read_procs_lists_pids),
		W(read_procs_leaves_out_invisible_zero),
		W(attach_writes_pid),
		W(wait_unpopulated_returns_at_once_when_empty),
		W(wait_unpopulated_wakes_on_change),
		W(wait_unpopulated_ignores_other_changes),
		W(wait_unpopulated_times_out),
		W(kill_writes_cgroup_kill),
		W(kill_fallback_freezes_kills_each_pid_and_thaws),
		W(kill_fallback_thaws_on_error),
		W(kill_fallback_kills_when_freeze_never_completes),
		cmocka_unit_test(pid_cgroup_parses_proc_files),
		T(pid_cgroup_result_opens_in_tree),
		cmocka_unit_test(pid_cgroup_of_self_on_host),
		cmocka_unit_test(check_memory_controller_fixture_is_not_cgroup2),
		cmocka_unit_test(check_memory_controller_missing_root),
		cmocka_unit_test(check_memory_controller_on_host_explains_refusal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
