/* guardctl-top.c: `guardctl top`: the services and pods as a live table,
 * soonest to memory.max first, refreshed until `q`; one plain snapshot
 * when stdout is not a terminal. */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "guardctl.h"
#include "guardctl-view.h"

static volatile sig_atomic_t got_quit, got_winch;

static void on_quit(int sig)
{
	got_quit = sig;
}

static void on_winch(int sig)
{
	(void)sig;
	got_winch = 1;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One status answer as sorted rows; a printed reason on failure. */
static int fetch(const char *sock, struct top_row **ret, size_t *ret_n, struct json_object **ret_reply)
{
	struct json_object *reply = NULL;
	int r = request(sock, "status", NULL, &reply);

	if (r < 0)
		return r;
	if (!json_object_get_boolean(json_object_object_get(reply, "ok"))) {
		fprintf(stderr, "guardctl top: %s\n", get_str(reply, "error", "failed"));
		json_object_put(reply);
		return -EPROTO;
	}
	r = top_rows_from_status(reply, ret, ret_n);
	if (r < 0) {
		json_object_put(reply);
		return r;
	}
	top_sort(*ret, *ret_n);
	*ret_reply = reply;
	return 0;
}

static void header(FILE *out, struct json_object *reply, size_t n, double interval)
{
	fprintf(out, "guardian %s  %zu service%s  every %gs  q quits%s\n", get_str(reply, "version", "?"), n,
		n == 1 ? "" : "s", interval,
		json_object_get_boolean(json_object_object_get(reply, "dry_run")) ? "  DRY RUN" : "");
}

static int snapshot(const char *sock)
{
	struct json_object *reply = NULL;
	struct top_row *rows = NULL;
	size_t n = 0;

	if (fetch(sock, &rows, &n, &reply) < 0)
		return 1;
	top_print(stdout, rows, n, 0, 0);
	free(rows);
	json_object_put(reply);
	return fflush(stdout) == 0 ? 0 : 1;
}

static void term_size(int *ret_w, int *ret_h)
{
	struct winsize ws;

	*ret_w = 80;
	*ret_h = 24;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col && ws.ws_row) {
		*ret_w = ws.ws_col;
		*ret_h = ws.ws_row;
	}
}

/* One screen, drawn off-screen first and written at once, so a refresh
 * never shows half a table. */
static void draw(const char *sock, double interval)
{
	struct json_object *reply = NULL;
	struct top_row *rows = NULL;
	size_t n = 0, len = 0;
	char *buf = NULL;
	FILE *f = open_memstream(&buf, &len);
	int w, h;

	if (!f)
		return;
	term_size(&w, &h);
	fputs("\033[H", f);
	if (fetch(sock, &rows, &n, &reply) == 0) {
		header(f, reply, n, interval);
		top_print(f, rows, n, w - 1, h > 3 ? (size_t)h - 3 : 1);
	} else
		fprintf(f, "guardctl top: no answer from guardian at %s (retrying every %gs; q quits)\n", sock, interval);
	fclose(f);
	/* Lines end in "erase to the end of the line", the screen in "erase
	 * below": what the last, longer table left is gone. */
	for (char *p = buf, *nl; p && *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl) {
			fputs(p, stdout);
			break;
		}
		fwrite(p, 1, (size_t)(nl - p), stdout);
		fputs("\033[K\n", stdout); /* the terminal keeps OPOST: \n is \r\n */
	}
	fputs("\033[J", stdout);
	fflush(stdout);
	free(buf);
	free(rows);
	json_object_put(reply);
}

static int parse_interval(const char *s, double *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0.1 || v > 3600)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int live(const char *sock, double interval)
{
	struct termios saved, raw;
	bool have_tty = tcgetattr(STDIN_FILENO, &saved) == 0, input = true;
	struct sigaction sa = { .sa_handler = on_quit }, sw = { .sa_handler = on_winch };
	int64_t next = 0;

	/* No SA_RESTART: a signal ends the wait in poll() at once. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGWINCH, &sw, NULL);
	if (have_tty) {
		raw = saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw);
	}
	/* The alternate screen, cursor hidden: the shell's screen comes back
	 * as it was. */
	fputs("\033[?1049h\033[?25l", stdout);
	while (!got_quit) {
		struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
		int64_t now = now_ms();
		int r;

		if (now >= next || got_winch) {
			got_winch = 0;
			draw(sock, interval);
			next = now_ms() + (int64_t)(interval * 1000);
			continue;
		}
		r = poll(&p, input ? 1 : 0, (int)(next - now));
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0) {
			char c[64];
			ssize_t k = read(STDIN_FILENO, c, sizeof(c));

			if (k <= 0)
				input = false; /* stdin closed: refresh until a signal */
			for (ssize_t i = 0; i < k; i++)
				if (c[i] == 'q' || c[i] == 'Q' || c[i] == 3 /* ^C in raw mode */)
					got_quit = -1;
		}
	}
	fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
	if (have_tty)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
	return got_quit > 0 ? 128 + got_quit : 0;
}

int cmd_top(const char *socket_path, int argc, char **argv)
{
	double interval = 1;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--interval") == 0 && i + 1 < argc) {
			if (parse_interval(argv[++i], &interval) < 0) {
				fprintf(stderr, "guardctl top: --interval: '%s' is not a number of seconds "
						"from 0.1 to 3600\n", argv[i]);
				return 2;
			}
		} else {
			fprintf(stderr, "guardctl top: unexpected argument '%s'%s\n", argv[i],
				strcmp(argv[i], "--interval") == 0 ? " (needs SECONDS)" : "");
			return 2;
		}
	}
	if (!isatty(STDOUT_FILENO))
		return snapshot(socket_path);
	return live(socket_path, interval);
}
