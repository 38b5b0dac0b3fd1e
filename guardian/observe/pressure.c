/* pressure.c: one cgroup's memory pressure as the kernel reports it: the PSI
 * trigger (POLLPRI), memory.events changes (through the daemon's cgwatch)
 * and the sampling timer: slow while calm, fast while the engine sees
 * growth, a trigger fired or the group is near memory.max. */
#include "pressure.h"

#include <fcntl.h>

#include "cgfs.h"
#include "cgwatch.h"

/* While fast: a sample every 100 ms. At 100 MB/s that is 10 MB between
 * samples (4% of a 256M limit); a sample reads ten small cgroup files,
 * tens of microseconds, so ten a second cost well under 0.1% of a CPU. */
#define FAST_INTERVAL (100 * USEC_PER_MSEC)
/* While calm there is no polling between the full samples: a service that
 * spikes toward memory.max meets its memory.high tripwire, and the
 * kernel's memory.events change (inotify) or the PSI trigger wakes us at
 * once. Calm samples fall on multiples of the interval on the monotonic
 * clock, so the samples of every service with the same interval are taken
 * in one wake-up of the loop, not one each. */
/* A lazy group (the default guard: no rules that need every metric each
 * cycle) reads only memory.current on a calm tick, one file instead of
 * ten, and takes the full sample when it moved by 1 MiB or 1% of
 * memory.max, or at least every 30 s for the records and `explain`. */
#define LAZY_MOVE_MIN (1ULL << 20)
#define LAZY_FULL_EVERY (30 * USEC_PER_SEC)
/* ... and once memory.current stood still for three ticks in a row, looks
 * at it every 5 s only: a leak that starts meanwhile meets the tripwire,
 * whose event wakes us at once, and its warning comes a few seconds later.
 * Any movement goes back to every interval. */
#define LAZY_TICK (5 * USEC_PER_SEC)
#define LAZY_STILL_TICKS 3
/* Events sample at most every 20 ms: memory.events `high` changes on every
 * throttled charge and would otherwise turn inotify into a busy loop. An
 * event that comes sooner takes its sample when the gap has passed, so
 * what the kernel said reaches the engine at most 20 ms late. */
#define EVENT_MIN_GAP (20 * USEC_PER_MSEC)

struct pressure {
	struct loop *loop;
	struct cgwatch *watch;
	int cgfd;
	usec_t calm;
	pressure_cb cb;
	void *data;
	struct loop_source *timer, *psi_src;
	struct cgwatch_entry *events;
	bool fast, psi_fired, in_cb, dead, lazy;
	uint64_t last_current, memory_max; /* at the last full sample */
	int current_fd;                    /* memory.current, kept open */
	unsigned still;                    /* lazy ticks in a row it did not move */
	usec_t last_full;
	usec_t woke;                       /* the first event since the last sample (0: none) */
	unsigned long samples;
};

/* A full sample reads ten small files: each into a buffer on the stack
 * and parsed in one pass, nothing allocated. */
static int read_stat(int cgfd, struct engine_sample *s)
{
	static const char *const keys[] = { "anon", "file", "inactive_file", "shmem" };
	uint64_t *const vals[] = { &s->anon, &s->file, &s->inactive_file, &s->shmem };
	char buf[8192];
	uint32_t found;
	int r = cgfs_read_buf(cgfd, "memory.stat", buf, sizeof(buf));

	if (r == -EFBIG) { /* a kernel with far more keys than today's */
		_cleanup_free_ char *text = NULL;

		r = cgfs_read(cgfd, "memory.stat", &text);
		r = r ?: cgfs_parse_keys(text, keys, vals, ARRAY_SIZE(keys), &found);
	} else if (r == 0)
		r = cgfs_parse_keys(buf, keys, vals, ARRAY_SIZE(keys), &found);
	if (r < 0)
		return r;
	return found == (1u << ARRAY_SIZE(keys)) - 1 ? 0 : -ENOENT;
}

static void read_events(int cgfd, struct engine_sample *s)
{
	static const char *const keys[] = { "high", "max", "oom", "oom_kill" };
	char buf[512];
	uint32_t found;

	if (cgfs_read_buf(cgfd, "memory.events", buf, sizeof(buf)) == 0)
		(void)cgfs_parse_keys(buf, keys, (uint64_t *const[]){ &s->ev_high, &s->ev_max, &s->ev_oom, &s->ev_oom_kill },
				      ARRAY_SIZE(keys), &found);
}

static void read_cpu(int cgfd, struct engine_sample *s)
{
	static const char *const keys[] = { "usage_usec" };
	char buf[1024];
	uint32_t found;

	if (cgfs_read_buf(cgfd, "cpu.stat", buf, sizeof(buf)) == 0)
		(void)cgfs_parse_keys(buf, keys, (uint64_t *const[]){ &s->cpu_usec }, 1, &found);
}

static void read_psi(int cgfd, struct engine_sample *s)
{
	char buf[256];
	struct cgfs_psi psi;

	if (cgfs_read_buf(cgfd, "memory.pressure", buf, sizeof(buf)) == 0 && cgfs_parse_psi(buf, &psi) == 0) {
		s->psi_some10 = psi.some.avg10;
		s->psi_full10 = psi.has_full ? psi.full.avg10 : 0;
	}
}

/* current_fd: memory.current kept open (-1: open it by name). */
static int read_sample(int cgfd, int current_fd, struct engine_sample *ret)
{
	struct engine_sample s = { .at = now_monotonic(), .memory_max = UINT64_MAX, .memory_high = UINT64_MAX };
	int r;

	r = current_fd >= 0 ? cgfs_pread_u64(current_fd, &s.current) : cgfs_read_u64(cgfd, "memory.current", &s.current);
	r = r ?: read_stat(cgfd, &s);
	if (r < 0)
		return r;
	(void)cgfs_read_u64(cgfd, "memory.max", &s.memory_max);
	(void)cgfs_read_u64(cgfd, "memory.high", &s.memory_high);
	(void)cgfs_read_u64(cgfd, "memory.swap.current", &s.swap);
	(void)cgfs_read_u64(cgfd, "memory.swap.max", &s.swap_max);
	(void)cgfs_read_u64(cgfd, "pids.current", &s.pids);
	read_cpu(cgfd, &s);
	read_psi(cgfd, &s);
	read_events(cgfd, &s);
	*ret = s;
	return 0;
}

int pressure_read(int cgfd, struct engine_sample *ret)
{
	return read_sample(cgfd, -1, ret);
}

static void arm(struct pressure *s)
{
	usec_t now = now_monotonic(), next, tick;

	if (s->fast) {
		(void)loop_timer_rearm(s->timer, FAST_INTERVAL);
		return;
	}
	tick = s->lazy && s->still >= LAZY_STILL_TICKS && s->calm < LAZY_TICK ? LAZY_TICK : s->calm;
	next = (now / tick + 1) * tick;
	/* Never two samples closer than half an interval when the alignment
	 * falls just after the last one. */
	if (next < s->last_full + s->calm / 2)
		next += tick;
	(void)loop_timer_rearm(s->timer, next - now);
}

static void free_pressure(struct pressure *s)
{
	loop_source_freep(&s->timer);
	loop_source_freep(&s->psi_src);
	cgwatch_removep(&s->events);
	if (s->current_fd >= 0)
		close(s->current_fd);
	free(s);
}

static void sample_now(struct pressure *s)
{
	struct engine_sample smp;

	if (read_sample(s->cgfd, s->current_fd, &smp) < 0)
		return; /* the group is going away; the service's own watch sees it */
	smp.psi_fired = s->psi_fired;
	s->psi_fired = false;
	smp.woke = s->woke;
	s->woke = 0;
	s->last_full = smp.at;
	s->last_current = smp.current;
	s->memory_max = smp.memory_max;
	s->samples++;
	s->in_cb = true;
	s->cb(s->data, &smp);
	s->in_cb = false;
}

/* Returns true when s was freed meanwhile (the callback stopped it). */
static bool finish(struct pressure *s)
{
	if (!s->dead)
		return false;
	free_pressure(s);
	return true;
}

/* A lazy calm tick: did memory.current move enough for a full sample? */
static bool moved(const struct pressure *s)
{
	uint64_t cur, step = s->memory_max == UINT64_MAX ? 0 : s->memory_max / 100;

	if (s->current_fd < 0 || cgfs_pread_u64(s->current_fd, &cur) < 0)
		return true; /* let the full sample find out why */
	if (step < LAZY_MOVE_MIN)
		step = LAZY_MOVE_MIN;
	return cur > s->last_current ? cur - s->last_current >= step : s->last_current - cur >= step;
}

static int on_timer(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct pressure *s = data;
	usec_t now = now_monotonic();

	if (!s->fast && s->lazy && s->samples && now < s->last_full + LAZY_FULL_EVERY) {
		if (!moved(s)) {
			s->still++;
			arm(s);
			return 0;
		}
		s->still = 0;
	}
	if (s->fast || now + s->calm / 2 >= s->last_full + s->calm) {
		sample_now(s);
		if (finish(s))
			return 0;
	}
	arm(s);
	return 0;
}

static int on_event(struct pressure *s)
{
	usec_t now = now_monotonic();

	if (!s->woke)
		s->woke = now; /* the first event since the last sample */
	s->still = 0;
	s->fast = true;
	if (now - s->last_full < EVENT_MIN_GAP) {
		/* Too soon after the last sample: the next one as soon as the
		 * gap allows, not a whole fast interval later. */
		(void)loop_timer_rearm(s->timer, s->last_full + EVENT_MIN_GAP - now);
		return 0;
	}
	sample_now(s);
	if (finish(s))
		return 0;
	arm(s);
	return 0;
}

static int on_psi(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct pressure *s = data;

	if (revents & EPOLLERR) { /* the group is gone */
		loop_source_freep(&s->psi_src);
		return 0;
	}
	s->psi_fired = true;
	return on_event(s);
}

static void on_memory_events(void *data)
{
	(void)on_event(data);
}

static int arm_psi(struct pressure *s, const char *trigger)
{
	int fd = cgfs_psi_trigger(s->cgfd, "memory.pressure", trigger), r;

	if (fd < 0)
		return fd;
	r = loop_add_fd(s->loop, fd, EPOLLPRI, true, on_psi, s, &s->psi_src);
	if (r < 0)
		close(fd);
	return r;
}

static int arm_events(struct pressure *s)
{
	if (!s->watch)
		return -ENODEV;
	return cgwatch_add(s->watch, s->cgfd, "memory.events", on_memory_events, s, &s->events);
}

int pressure_start(struct loop *loop, struct cgwatch *watch, int cgfd, const struct pressure_config *cfg,
		   pressure_cb cb, void *data, struct pressure **ret)
{
	struct pressure *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	*s = (struct pressure){ .loop = loop, .watch = watch, .cgfd = cgfd, .calm = cfg->calm_interval, .cb = cb, .data = data,
			       .lazy = cfg->lazy, .current_fd = -1 };
	/* Kept open: every sample reads it, a lazy tick reads only it. */
	s->current_fd = openat(cgfd, "memory.current", O_RDONLY | O_CLOEXEC);
	(void)arm_psi(s, cfg->psi_trigger ?: PRESSURE_PSI_TRIGGER); /* best effort: no PSI (psi=0) or not root */
	(void)arm_events(s); /* best effort: sampling still runs */
	/* The first sample right away: growth needs a starting point. */
	r = loop_add_timer(loop, 1, on_timer, s, &s->timer);
	if (r < 0) {
		free_pressure(s);
		return r;
	}
	*ret = s;
	return 0;
}

void pressure_stop(struct pressure *s)
{
	if (!s)
		return;
	if (s->in_cb) { /* freed once the callback returns */
		s->dead = true;
		return;
	}
	free_pressure(s);
}

void pressure_set_fast(struct pressure *s, bool fast)
{
	s->fast = fast;
}

bool pressure_psi_armed(const struct pressure *s) { return s->psi_src != NULL; }
bool pressure_events_armed(const struct pressure *s) { return s->events != NULL; }
usec_t pressure_interval(const struct pressure *s) { return s->fast ? FAST_INTERVAL : s->calm; }
unsigned long pressure_samples(const struct pressure *s) { return s->samples; }
