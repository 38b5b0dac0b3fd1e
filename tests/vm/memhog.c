/* memhog: a VM test workload that grows anonymous memory at a set rate, or
 * keeps re-reading a file through the page cache (--file PATH --read-loop).
 *
 *   memhog --rate MB_PER_S --max MB [--hold | --cycle LOW_MB] [--random] [--madv-free] [--report MB]
 *          [--seconds S]
 *   memhog --file PATH --read-loop [--seconds S]
 *
 * Prints "memhog: pid P start", "memhog: N MB" every --report MB (default 16),
 * then "memhog: done N MB" (or "memhog: holding N MB" with --hold, then waits
 * to be killed). --madv-free frees each MB with MADV_FREE right after
 * touching it and keeps the mapping, as the Go runtime does: memory.current
 * grows, the working set does not. --cycle LOW_MB is a garbage-collected
 * heap: on reaching --max it prints "memhog: cycle N" (N from 1), unmaps
 * back down to LOW_MB at the same --rate, grows to --max again, and so on
 * until killed (or --seconds); the "N MB" lines come on the first growth
 * only. Line buffered, so a test can wait on the lines. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define MB (1024UL * 1024UL)

struct options {
	uint64_t rate_mb;    /* 0: as fast as the kernel allows */
	uint64_t max_mb;
	uint64_t report_mb;
	uint64_t seconds;    /* 0: no time limit */
	uint64_t cycle_low_mb;
	bool cycle;
	bool hold;
	bool random_fill;
	bool madv_free;
	bool read_loop;
	const char *file;
};

static void usage(void)
{
	fprintf(stderr,
		"usage: memhog --rate MB_PER_S --max MB [--hold | --cycle LOW_MB] [--random] [--madv-free]\n"
		"              [--report MB] [--seconds S]\n"
		"       memhog --file PATH --read-loop [--seconds S]\n");
	exit(2);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_until(double when)
{
	struct timespec ts = {
		.tv_sec = (time_t)when,
		.tv_nsec = (long)((when - (double)(time_t)when) * 1e9),
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Random bytes defeat zram's compression and same-page merging, so a page
 * swapped to zram costs what it would on disk. */
static void fill_random(unsigned char *p, size_t len, uint64_t *state)
{
	for (size_t i = 0; i + sizeof(uint64_t) <= len; i += sizeof(uint64_t)) {
		uint64_t x = *state;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		*state = x;
		memcpy(p + i, &x, sizeof(x));
	}
}

/* One MB: its own mapping, no THP, so memory grows at the set pace and not
 * in 2 MB jumps. NULL (and a message) when the mapping fails. */
static unsigned char *grab_mb(const struct options *o, unsigned long mb, uint64_t *rng)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned char *p = mmap(NULL, MB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		fprintf(stderr, "memhog: mmap after %lu MB: %s\n", mb, strerror(errno));
		return NULL;
	}
	(void)madvise(p, MB, MADV_NOHUGEPAGE);
	if (o->random_fill)
		fill_random(p, MB, rng);
	else
		for (size_t off = 0; off < MB; off += (size_t)page)
			p[off] = (unsigned char)(mb + 1);
	/* Lazily freed pages stay charged until the kernel needs them;
	 * they move to the inactive file LRU. */
	if (o->madv_free && madvise(p, MB, MADV_FREE) < 0) {
		fprintf(stderr, "memhog: madvise(MADV_FREE): %s\n", strerror(errno));
		(void)munmap(p, MB);
		return NULL;
	}
	return p;
}

/* --cycle's pace: the ops-th MB grown or freed is due at *base + ops/rate.
 * A pace that fell more than a second behind (the guest was busy) is
 * rebased rather than caught up, so a stall never turns into a burst. */
static void cycle_pace(const struct options *o, double *base, unsigned long ops)
{
	double due;

	if (!o->rate_mb)
		return;
	due = *base + (double)ops / (double)o->rate_mb;
	if (now() > due + 1.0)
		*base += now() - due;
	sleep_until(*base + (double)ops / (double)o->rate_mb);
}

/* --cycle: from --max down to LOW and back up, at --rate, until killed or
 * the deadline. maps holds the `have` MB mapped so far. */
static int cycle_forever(const struct options *o, unsigned char **maps, unsigned long have, double start,
			 double deadline, uint64_t *rng)
{
	double base = start;
	unsigned long ops = have; /* MB grown or freed so far */

	for (unsigned long n = 1;; n++) {
		printf("memhog: cycle %lu\n", n);
		while (have > o->cycle_low_mb) {
			have--;
			(void)munmap(maps[have], MB);
			maps[have] = NULL;
			if (deadline && now() >= deadline)
				goto done;
			cycle_pace(o, &base, ++ops);
		}
		while (have < o->max_mb) {
			maps[have] = grab_mb(o, have, rng);
			if (!maps[have])
				return 1;
			have++;
			if (deadline && now() >= deadline)
				goto done;
			cycle_pace(o, &base, ++ops);
		}
	}
done:
	printf("memhog: done %lu MB in %.2f s\n", have, now() - start);
	return 0;
}

static int hog_anon(const struct options *o)
{
	double start = now(), deadline = o->seconds ? start + (double)o->seconds : 0;
	uint64_t rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
	unsigned char **maps = NULL;
	unsigned long mb;

	/* Only --cycle gives memory back, so only it keeps the mappings. */
	if (o->cycle && !(maps = calloc(o->max_mb, sizeof(*maps)))) {
		fprintf(stderr, "memhog: out of memory for %lu mappings\n", o->max_mb);
		return 1;
	}
	for (mb = 0; mb < o->max_mb; mb++) {
		unsigned char *p = grab_mb(o, mb, &rng);

		if (!p)
			return 1;
		if (maps)
			maps[mb] = p;
		if ((mb + 1) % o->report_mb == 0)
			printf("memhog: %lu MB\n", mb + 1);
		if (deadline && now() >= deadline)
			break;
		if (o->rate_mb)
			sleep_until(start + (double)(mb + 1) / (double)o->rate_mb);
	}
	if (o->cycle && mb == o->max_mb)
		return cycle_forever(o, maps, mb, start, deadline, &rng);
	if (o->hold) {
		printf("memhog: holding %lu MB\n", mb);
		for (;;)
			pause();
	}
	printf("memhog: done %lu MB in %.2f s\n", mb, now() - start);
	return 0;
}

static int read_loop(const struct options *o)
{
	static char buf[1 << 16];
	double start = now(), deadline = o->seconds ? start + (double)o->seconds : 0;
	double last_report = start;
	unsigned long passes = 0;
	int fd = open(o->file, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "memhog: open %s: %s\n", o->file, strerror(errno));
		return 1;
	}
	for (;;) {
		ssize_t n;
		unsigned long long total = 0;

		if (lseek(fd, 0, SEEK_SET) < 0) {
			fprintf(stderr, "memhog: lseek %s: %s\n", o->file, strerror(errno));
			close(fd);
			return 1;
		}
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			total += (unsigned long long)n;
		if (n < 0) {
			fprintf(stderr, "memhog: read %s: %s\n", o->file, strerror(errno));
			close(fd);
			return 1;
		}
		passes++;
		/* At most a line a second: a small cached file reads fast. */
		if (passes == 1 || now() - last_report >= 1.0) {
			printf("memhog: pass %lu read %llu MB\n", passes, total / MB);
			last_report = now();
		}
		if (deadline && now() >= deadline)
			break;
	}
	close(fd);
	printf("memhog: done %lu passes in %.2f s\n", passes, now() - start);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "rate", required_argument, NULL, 'r' },
		{ "max", required_argument, NULL, 'm' },
		{ "report", required_argument, NULL, 'p' },
		{ "seconds", required_argument, NULL, 's' },
		{ "hold", no_argument, NULL, 'h' },
		{ "cycle", required_argument, NULL, 'c' },
		{ "random", no_argument, NULL, 'R' },
		{ "madv-free", no_argument, NULL, 'F' },
		{ "file", required_argument, NULL, 'f' },
		{ "read-loop", no_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	struct options o = { .report_mb = 16 };
	bool have_max = false;
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (parse_u64(optarg, &o.rate_mb) < 0)
				usage();
			break;
		case 'm':
			if (parse_u64(optarg, &o.max_mb) < 0)
				usage();
			have_max = true;
			break;
		case 'p':
			if (parse_u64(optarg, &o.report_mb) < 0 || o.report_mb == 0)
				usage();
			break;
		case 's':
			if (parse_u64(optarg, &o.seconds) < 0)
				usage();
			break;
		case 'h':
			o.hold = true;
			break;
		case 'c':
			if (parse_u64(optarg, &o.cycle_low_mb) < 0)
				usage();
			o.cycle = true;
			break;
		case 'R':
			o.random_fill = true;
			break;
		case 'F':
			o.madv_free = true;
			break;
		case 'f':
			o.file = optarg;
			break;
		case 'l':
			o.read_loop = true;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (o.read_loop || o.file) {
		if (!o.read_loop || !o.file)
			usage();
		printf("memhog: pid %d start read-loop %s\n", (int)getpid(), o.file);
		return read_loop(&o);
	}
	if (!have_max)
		usage();
	/* A cycle goes down from --max to LOW and never holds. */
	if (o.cycle && (o.hold || o.cycle_low_mb >= o.max_mb))
		usage();
	printf("memhog: pid %d start %lu MB at %lu MB/s\n", (int)getpid(), o.max_mb, o.rate_mb);
	return hog_anon(&o);
}
