/* guardctl.c: guardian's command-line client: policy checks without a
 * daemon, and status/start/stop through the control socket. */
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "guardctl.h"
#include "policy.h"
#include "util.h"

#define DEFAULT_SOCKET "/run/guardian/guardian.sock"
/* status, log, explain and top answer at once from a working daemon; the
 * commands that change state answer once their service has settled, which
 * the policies' stop timeouts bound, so they wait without a limit. */
#define DEFAULT_TIMEOUT (30 * USEC_PER_SEC)

/* How long a request may take (connect, send, the whole answer); 0: no
 * limit. timeout_given: --timeout was given, for every command. */
static usec_t request_timeout = DEFAULT_TIMEOUT;
static bool timeout_given;
/* The command as the user gave it, for messages (log asks "status"). */
static const char *command_name;
/* Past a year, a limit is none. */
#define TIMEOUT_MAX (365 * 24 * 3600 * USEC_PER_SEC)

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: guardctl [--socket PATH] COMMAND [ARGS]\n"
		"Drive guardian. The socket is GUARDIAN_SOCKET or " DEFAULT_SOCKET ".\n\n"
		"Commands:\n"
		"  check FILE|DIR...         validate policies without a daemon (exit 1 on any error)\n"
		"  status [SERVICE] [--json] services, their state, memory and last exit\n"
		"  start SERVICE             start (also clears gave-up)\n"
		"  stop SERVICE              stop gracefully: stop signal, grace period, cgroup.kill\n"
		"  restart SERVICE           stop, then start (does not count toward give_up)\n"
		"  reload                    re-read the policies: validate all, apply what changed\n"
		"  log [SERVICE] [--json] [--follow] [--file PATH]\n"
		"                            the action log: every action and every kill seen\n"
		"  explain SERVICE [--json]  the pressure engine: working set, growth, time to\n"
		"                            memory.max, PSI, each rule and how close it is,\n"
		"                            the default guard's step and what it would do next,\n"
		"                            and a chart of the working set against its limits\n"
		"  top [--interval SECONDS]  services and pods, soonest to memory.max first,\n"
		"                            refreshed every SECONDS (1) until q; one snapshot\n"
		"                            when stdout is not a terminal\n\n"
		"Commands that change state run one at a time in the order given and\n"
		"answer once the service has settled.\n\n"
		"Options:\n"
		"  --socket PATH             control socket of the daemon\n"
		"  --timeout DURATION        give up on an answer after DURATION (30s, 2m, or\n"
		"                            seconds; 0 or over a year: wait for ever); default\n"
		"                            30s for status, explain and top, 3s for log to ask\n"
		"                            where the action log is, no limit for the others\n"
		"  --help, --version\n");
}

/* --- check ------------------------------------------------------------ */

static void print_ok(const struct policy *p)
{
	printf("%s: ok (%s %s%s", p->path, policy_watches(p) ? "watch policy" : "service", p->service,
	       p->kube.on ? ": the node's pods" : "");
	for (size_t i = 0; i < p->n_watch_cgroups; i++)
		printf("%s%s", i ? ", " : ": cgroups ", p->watch_cgroups[i]);
	printf(")\n");
}

static int check_one(const char *path, struct diag *d)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		diag_add(d, path, 0, 0, "cannot read: %s", strerror(errno));
		return -errno;
	}
	if (S_ISDIR(st.st_mode)) {
		struct policy **v = NULL;
		size_t n = 0;
		int r = policy_load_dir(path, &v, &n, d);

		for (size_t i = 0; i < n; i++)
			print_ok(v[i]);
		if (r == 0 && n == 0)
			printf("%s: no policies (*.yaml, *.yml)\n", path);
		policy_freev(v, n);
		return r;
	}
	struct policy *p = NULL;
	int r = policy_load_file(path, &p, d);

	if (r == 0)
		print_ok(p);
	policy_free(p);
	return r;
}

static int cmd_check(int argc, char **argv)
{
	struct diag d = { 0 };
	int failed = 0;

	if (argc < 1) {
		fprintf(stderr, "guardctl check: needs at least one FILE or DIR\n");
		return 2;
	}
	for (int i = 0; i < argc; i++)
		if (check_one(argv[i], &d) < 0)
			failed = 1;
	for (size_t i = 0; i < d.n; i++)
		fprintf(stderr, "%s\n", d.msgs[i]);
	/* A warning names something that works but rarely as meant: said,
	 * never a failed check. */
	for (size_t i = 0; i < d.n_warnings; i++)
		fprintf(stderr, "%s\n", d.warnings[i]);
	if (d.n)
		failed = 1;
	diag_free(&d);
	return failed;
}

/* --- talking to the daemon --------------------------------------------- */

static int connect_daemon(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "guardctl: socket path too long: %s\n", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A daemon too stuck to accept fills its backlog, and a connect then
	 * waits: up to the send timeout, which bounds it. */
	if (request_timeout) {
		struct timeval tv = { .tv_sec = (time_t)(request_timeout / USEC_PER_SEC),
				      .tv_usec = (suseconds_t)(request_timeout % USEC_PER_SEC) };

		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	int err = errno;
	close(fd);
	if (err == EAGAIN)
		return -ETIMEDOUT;
	if (err == ENOENT)
		fprintf(stderr, "guardctl: guardian is not running (no socket at %s)\n", path);
	else if (err == ECONNREFUSED)
		fprintf(stderr, "guardctl: %s refused the connection: guardian is not running "
				"(stale socket)\n", path);
	else if (err == EACCES)
		fprintf(stderr, "guardctl: permission denied on %s\n", path);
	else
		fprintf(stderr, "guardctl: cannot connect to %s: %s\n", path, strerror(err));
	return -err;
}

/* sent: the request went out (else the connect timed out, guardian not
 * accepting). */
static void say_timed_out(const char *socket_path, const char *cmd, bool sent)
{
	const char *name = command_name ? command_name : cmd;

	fprintf(stderr, "guardctl %s: no answer from guardian at %s within %gs%s: it may be stuck (see its log, "
			"journalctl -u guardian); --timeout waits longer, 0 for ever\n",
		name, socket_path, (double)request_timeout / USEC_PER_SEC, sent ? "" : " (it took no connection)");
	if (sent && strcmp(cmd, "status") && strcmp(cmd, "explain"))
		fprintf(stderr, "guardctl %s: the command was sent; guardian carries it out when it gets to it\n",
			name);
}

/* Waits for fd to be readable until deadline (0: none): 1, or 0 past it. */
static int wait_readable(int fd, usec_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		usec_t now = now_monotonic();
		int ms = -1, r;

		if (deadline) {
			usec_t left_ms;

			if (now >= deadline)
				return 0;
			left_ms = (deadline - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC;
			ms = left_ms > INT_MAX ? INT_MAX : (int)left_ms;
		}
		r = poll(&p, 1, ms);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return 1; /* the read says what is wrong */
	}
}

void request_limit_timeout(usec_t max)
{
	if (!timeout_given && (!request_timeout || request_timeout > max))
		request_timeout = max;
}

void request_set_timeout(const char *cmd)
{
	command_name = cmd;
	if (!timeout_given && cmd && strcmp(cmd, "status") && strcmp(cmd, "log") && strcmp(cmd, "explain") &&
	    strcmp(cmd, "top"))
		request_timeout = 0;
}

int request(const char *socket_path, const char *cmd, const char *service,
		   struct json_object **ret)
{
	usec_t deadline = request_timeout ? now_monotonic() + request_timeout : 0;
	_cleanup_close_ int fd = connect_daemon(socket_path);
	struct json_object *req = json_object_new_object(), *reply;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;
	const char *line;
	int r;

	if (fd == -ETIMEDOUT)
		say_timed_out(socket_path, cmd, false);
	if (fd < 0) {
		json_object_put(req);
		return fd;
	}
	json_object_object_add(req, "command", json_object_new_string(cmd));
	if (service)
		json_object_object_add(req, "service", json_object_new_string(service));
	line = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	r = write_all(fd, line, strlen(line));
	r = r ?: write_all(fd, "\n", 1);
	json_object_put(req);
	if (r < 0)
		return r;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *n = realloc(buf, cap = cap * 2 + 8192);
			if (!n)
				return -ENOMEM;
			buf = n;
		}
		if (!wait_readable(fd, deadline)) {
			say_timed_out(socket_path, cmd, true);
			return -ETIMEDOUT;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (!buf || len == 0) {
		fprintf(stderr, "guardctl: guardian closed the connection without an answer\n");
		return -EPROTO;
	}
	buf[len] = '\0';
	reply = json_tokener_parse(buf);
	if (!reply) {
		fprintf(stderr, "guardctl: malformed answer from guardian\n");
		return -EPROTO;
	}
	*ret = reply;
	return 0;
}

const char *get_str(struct json_object *o, const char *key, const char *dflt)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		return dflt;
	return json_object_get_string(v);
}

static int64_t get_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && v ? json_object_get_int64(v) : 0;
}

static void fmt_bytes(struct json_object *o, const char *key, char *buf, size_t len)
{
	static const char units[] = "BKMGT";
	struct json_object *v;
	double b;
	int u = 0;

	if (!json_object_object_get_ex(o, key, &v) || !v) {
		snprintf(buf, len, "-");
		return;
	}
	if (json_object_is_type(v, json_type_string)) {
		snprintf(buf, len, "%s", json_object_get_string(v));
		return;
	}
	b = (double)json_object_get_uint64(v);
	while (b >= 1024 && u < 4) {
		b /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f%c" : "%.0f%c", b, units[u]);
}

static void fmt_uptime(int64_t ms, char *buf, size_t len)
{
	int64_t s = ms / 1000;

	if (ms <= 0)
		snprintf(buf, len, "-");
	else if (s < 60)
		snprintf(buf, len, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
	else if (s < 86400)
		snprintf(buf, len, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
	else
		snprintf(buf, len, "%lldd%02lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
}

static void fmt_last_exit(struct json_object *svc, char *buf, size_t len)
{
	struct json_object *e;
	const char *cause;

	if (!json_object_object_get_ex(svc, "last_exit", &e) || !e ||
	    strcmp(cause = get_str(e, "cause", "none"), "none") == 0) {
		snprintf(buf, len, "-");
		return;
	}
	if (strcmp(cause, "exited") == 0)
		snprintf(buf, len, "exit %lld", (long long)get_int(e, "code"));
	else if (strcmp(cause, "signal") == 0 && get_str(e, "sender", NULL))
		snprintf(buf, len, "%s", get_str(e, "sender", ""));
	else if (strcmp(cause, "signal") == 0)
		snprintf(buf, len, "SIG%s", sigabbrev_np((int)get_int(e, "code")) ?: "?");
	else if (strcmp(cause, "exec-failed") == 0)
		snprintf(buf, len, "exec: %s", strerror((int)get_int(e, "code")));
	else
		snprintf(buf, len, "%s", cause);
}

static void print_table(struct json_object *reply)
{
	struct json_object *arr = NULL;
	size_t n = 0;
	int w = 14; /* the name column: as wide as the longest (a watched cgroup's path), up to 72 */

	printf("guardian %s  bpf: %s  cgroup: %s%s\n", get_str(reply, "version", "?"),
	       get_str(reply, "bpf", "?"), get_str(reply, "cgroup_parent", "?"),
	       json_object_get_boolean(json_object_object_get(reply, "dry_run")) ? "  DRY RUN" : "");
	if (json_object_object_get_ex(reply, "services", &arr))
		n = json_object_array_length(arr);
	for (size_t i = 0; i < n; i++) {
		int len = (int)strlen(get_str(json_object_array_get_idx(arr, i), "name", "?"));

		if (len > w)
			w = len < 72 ? len : 72;
	}
	printf("%-*s %-8s %7s %7s %3s %7s %7s %7s %5s %3s %s\n", w, "SERVICE", "STATE", "PID", "UPTIME",
	       "RST", "WSET", "HIGH", "MAX", "PSI%", "OOM", "LAST EXIT");
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(arr, i);
		char up[24], ws[24], hi[24], mx[24], last[64], pid[16];

		fmt_uptime(get_int(s, "uptime_ms"), up, sizeof(up));
		fmt_bytes(s, "working_set", ws, sizeof(ws));
		fmt_bytes(s, "memory_high", hi, sizeof(hi));
		fmt_bytes(s, "memory_max", mx, sizeof(mx));
		fmt_last_exit(s, last, sizeof(last));
		snprintf(pid, sizeof(pid), get_int(s, "pid") ? "%lld" : "-", (long long)get_int(s, "pid"));
		printf("%-*.*s %-8s %7s %7s %3lld %7s %7s %7s %5.1f %3lld %s\n", w, w, get_str(s, "name", "?"),
		       get_str(s, "state", "?"), pid, up, (long long)get_int(s, "restarts"), ws, hi, mx,
		       json_object_get_double(json_object_object_get(s, "psi_some_avg10")),
		       (long long)get_int(s, "oom_kills"), last);
	}
}

static int print_reload(struct json_object *reply)
{
	struct json_object *arr;
	bool ok = json_object_get_boolean(json_object_object_get(reply, "ok"));
	const char *key = ok ? "changes" : "errors";

	if (!ok)
		fprintf(stderr, "guardctl reload: %s\n", get_str(reply, "error", "failed"));
	if (json_object_object_get_ex(reply, "warnings", &arr))
		for (size_t i = 0; i < json_object_array_length(arr); i++)
			fprintf(stderr, "%s\n", json_object_get_string(json_object_array_get_idx(arr, i)));
	if (json_object_object_get_ex(reply, key, &arr))
		for (size_t i = 0; i < json_object_array_length(arr); i++)
			fprintf(ok ? stdout : stderr, "%s\n", json_object_get_string(json_object_array_get_idx(arr, i)));
	return ok ? 0 : 1;
}

static int cmd_daemon(const char *sock, const char *cmd, int argc, char **argv)
{
	struct json_object *reply = NULL;
	const char *service = NULL;
	bool json = false;
	int r;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 && strcmp(cmd, "status") == 0)
			json = true;
		else if (argv[i][0] == '-' || service) {
			fprintf(stderr, "guardctl %s: unexpected argument '%s'\n", cmd, argv[i]);
			return 2;
		} else
			service = argv[i];
	}
	if (!service && strcmp(cmd, "status") != 0 && strcmp(cmd, "reload") != 0) {
		fprintf(stderr, "guardctl %s: needs a SERVICE\n", cmd);
		return 2;
	}
	if (service && strcmp(cmd, "reload") == 0) {
		fprintf(stderr, "guardctl reload: takes no SERVICE (it reloads every policy)\n");
		return 2;
	}
	r = request(sock, cmd, service, &reply);
	if (r < 0)
		return 1;
	if (strcmp(cmd, "reload") == 0) {
		r = print_reload(reply);
		json_object_put(reply);
		return r;
	}
	if (!json_object_get_boolean(json_object_object_get(reply, "ok"))) {
		fprintf(stderr, "guardctl %s: %s\n", cmd, get_str(reply, "error", "failed"));
		json_object_put(reply);
		return 1;
	}
	if (json)
		printf("%s\n", json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED));
	else
		print_table(reply);
	json_object_put(reply);
	return 0;
}

/* --timeout: a duration, a number of seconds, or 0; past a year, 0. */
static int parse_timeout(const char *s, usec_t *ret)
{
	char *end;
	double v;

	if (parse_duration(s, ret) == 0) {
		if (*ret > TIMEOUT_MAX)
			*ret = 0;
		return 0;
	}
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0)
		return -EINVAL;
	*ret = v > (double)TIMEOUT_MAX / USEC_PER_SEC ? 0 : (usec_t)(v * USEC_PER_SEC);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{},
	};
	const char *sock = getenv("GUARDIAN_SOCKET");
	int c;

	if (!sock || !*sock)
		sock = DEFAULT_SOCKET;
	opterr = 0;
	/* '+': stop at the command, so its own options (status --json) stay. */
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 't':
			if (parse_timeout(optarg, &request_timeout) < 0) {
				fprintf(stderr, "guardctl: --timeout: '%s' is not a duration (30s, 2m, 500ms), a "
						"number of seconds, or 0 for no limit\n", optarg);
				return 2;
			}
			timeout_given = true;
			break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("guardctl %s\n", GUARDIAN_VERSION); return 0;
		default:
			fprintf(stderr, "guardctl: unknown option or missing argument: '%s'\n"
					"Try 'guardctl --help'.\n", argv[optind - 1]);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[optind];
	int rest = argc - optind - 1;
	char **args = argv + optind + 1;

	request_set_timeout(cmd);

	if (strcmp(cmd, "check") == 0)
		return cmd_check(rest, args);
	if (strcmp(cmd, "status") == 0 || strcmp(cmd, "start") == 0 || strcmp(cmd, "stop") == 0 ||
	    strcmp(cmd, "restart") == 0 || strcmp(cmd, "reload") == 0)
		return cmd_daemon(sock, cmd, rest, args);
	if (strcmp(cmd, "log") == 0)
		return cmd_log(sock, rest, args);
	if (strcmp(cmd, "explain") == 0)
		return cmd_explain(sock, rest, args);
	if (strcmp(cmd, "top") == 0)
		return cmd_top(sock, rest, args);
	fprintf(stderr, "guardctl: unknown command '%s'\nTry 'guardctl --help'.\n", cmd);
	return 2;
}
