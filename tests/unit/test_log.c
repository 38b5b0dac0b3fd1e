/* test_log.c: guardian's log lines in the journal, on a socket of the
 * test's own in journald's place: each line one native-protocol entry
 * (MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, ERRNO; a message with a newline
 * in the binary form); while nothing reads, logging goes on without
 * waiting and counts what it dropped, and the next line that gets through
 * comes after a warning with that count; with no journald, stderr. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "tmptree.h"

struct fields {
	char msg[4096], prio[8], ident[64], err[16];
};

/* One entry's fields; the binary form for a value with a newline. */
static void parse_entry(const char *buf, size_t n, struct fields *f)
{
	*f = (struct fields){ 0 };
	for (size_t i = 0; i < n;) {
		const char *eq = memchr(buf + i, '=', n - i), *nl = memchr(buf + i, '\n', n - i);
		char key[64] = "", *dst = NULL;
		size_t vlen, klen, dsize = 0;
		const char *val;

		assert_non_null(nl);
		if (eq && eq < nl) { /* KEY=VALUE\n */
			klen = (size_t)(eq - (buf + i));
			val = eq + 1;
			vlen = (size_t)(nl - val);
		} else { /* KEY\n, le64 length, VALUE\n */
			uint64_t len = 0;

			klen = (size_t)(nl - (buf + i));
			assert_true((size_t)(nl + 1 + 8 - buf) <= n);
			for (int b = 0; b < 8; b++)
				len |= (uint64_t)(unsigned char)nl[1 + b] << (8 * b);
			val = nl + 9;
			vlen = (size_t)len;
			assert_true((size_t)(val - buf) + vlen + 1 <= n);
			assert_int_equal(val[vlen], '\n');
			nl = val + vlen;
		}
		assert_true(klen < sizeof(key));
		memcpy(key, buf + i, klen);
		if (strcmp(key, "MESSAGE") == 0)
			dst = f->msg, dsize = sizeof(f->msg);
		else if (strcmp(key, "PRIORITY") == 0)
			dst = f->prio, dsize = sizeof(f->prio);
		else if (strcmp(key, "SYSLOG_IDENTIFIER") == 0)
			dst = f->ident, dsize = sizeof(f->ident);
		else if (strcmp(key, "ERRNO") == 0)
			dst = f->err, dsize = sizeof(f->err);
		else
			fail_msg("unexpected field %s", key);
		assert_true(vlen < dsize);
		memcpy(dst, val, vlen);
		dst[vlen] = '\0';
		i = (size_t)(nl + 1 - buf);
	}
}

/* The next entry on s, or false when none is queued. */
static bool next_entry(int s, struct fields *f)
{
	char buf[8192];
	ssize_t n = recv(s, buf, sizeof(buf), MSG_DONTWAIT);

	if (n < 0) {
		assert_int_equal(errno, EAGAIN);
		return false;
	}
	parse_entry(buf, (size_t)n, f);
	return true;
}

/* A socket bound in a scratch directory, in journald's place, with the
 * log pointed at it; journald_standin_end undoes both. */
static int journald_standin(char *dir, size_t size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	tmptree_new(dir, size, "log");
	assert_true(s >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/socket", dir);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	log_setup("guardian-test", LOG_LVL_INFO, 0);
	log_set_journal_socket(sa.sun_path);
	log_set_journal(true);
	return s;
}

static void journald_standin_end(int s, const char *dir)
{
	log_set_journal(false);
	log_set_journal_socket(NULL);
	if (s >= 0)
		close(s);
	tmptree_remove(dir);
}

static void lines_are_entries_with_their_fields(void **state)
{
	char dir[256];
	struct fields f;
	int s;

	s = journald_standin(dir, sizeof(dir));

	log_info("guarding %d service(s)", 3);
	log_debug("below the level: not sent");
	assert_int_equal(log_warning_errno(-ENOENT, "cannot open %s", "x.yaml"), -ENOENT);
	log_error("two\nlines");

	assert_true(next_entry(s, &f));
	assert_string_equal(f.msg, "guarding 3 service(s)");
	assert_string_equal(f.prio, "6");
	assert_string_equal(f.ident, "guardian-test");
	assert_string_equal(f.err, "");
	assert_true(next_entry(s, &f));
	assert_string_equal(f.msg, "cannot open x.yaml: No such file or directory");
	assert_string_equal(f.prio, "4");
	assert_string_equal(f.err, "2");
	assert_true(next_entry(s, &f));
	assert_string_equal(f.msg, "two\nlines");
	assert_string_equal(f.prio, "3");
	assert_false(next_entry(s, &f));

	journald_standin_end(s, dir);
}

static void on_alarm(int sig)
{
	static const char m[] = "a log line waited for journald\n";

	(void)sig;
	(void)!write(STDERR_FILENO, m, sizeof(m) - 1);
	_exit(1);
}

static void a_journald_that_does_not_read_never_makes_logging_wait(void **state)
{
	enum { LINES = 20000 };
	char dir[256], want[128];
	unsigned long long dropped0 = log_journal_dropped(), dropped;
	unsigned got = 0;
	struct fields f;
	int s;

	s = journald_standin(dir, sizeof(dir));

	/* Far more than the socket's queue holds: a send that waited would
	 * wait forever, as nothing reads until all are sent. */
	signal(SIGALRM, on_alarm);
	alarm(60);
	for (int i = 0; i < LINES; i++)
		log_notice("line %d of a burst", i);
	alarm(0);
	dropped = log_journal_dropped() - dropped0;
	assert_true(dropped > 0);
	while (next_entry(s, &f)) {
		assert_string_equal(f.prio, "5");
		got++;
	}
	/* Each line was either queued or counted. */
	assert_int_equal(got + dropped, LINES);

	/* journald reads again: the count comes first, then the line. */
	log_info("after the burst");
	assert_true(next_entry(s, &f));
	snprintf(want, sizeof(want), "journald was not reading: %llu log line(s) dropped", dropped);
	assert_string_equal(f.msg, want);
	assert_string_equal(f.prio, "4");
	assert_true(next_entry(s, &f));
	assert_string_equal(f.msg, "after the burst");
	log_info("and then");
	assert_true(next_entry(s, &f));
	assert_string_equal(f.msg, "and then");
	assert_false(next_entry(s, &f));

	journald_standin_end(s, dir);
}

static void without_journald_lines_go_to_stderr(void **state)
{
	char dir[256], path[300], out[300], text[512] = "";
	int saved = dup(STDERR_FILENO), fd;
	ssize_t n;

	/* The stand-in's socket goes: nothing listens at the path. */
	close(journald_standin(dir, sizeof(dir)));
	snprintf(path, sizeof(path), "%s/socket", dir);
	unlink(path);
	snprintf(out, sizeof(out), "%s/stderr", dir);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	log_warning("no journald here");
	log_setup("guardian-test", LOG_LVL_INFO, 1); /* stderr is the journal stream */
	log_error_errno(-EACCES, "cannot write");
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	fd = open(out, O_RDONLY | O_CLOEXEC);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	assert_true(n > 0);
	assert_string_equal(text, "guardian-test: no journald here\n<3>cannot write: Permission denied\n");
	journald_standin_end(-1, dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lines_are_entries_with_their_fields),
		cmocka_unit_test(a_journald_that_does_not_read_never_makes_logging_wait),
		cmocka_unit_test(without_journald_lines_go_to_stderr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
