/* service.c: one service's lifecycle: limits written before the first
 * instruction, spawn, exit classification, restart or give up, and stop. */
#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "cgwatch.h"
#include "log.h"
#include "spawn.h"
#include "supervisor.h"

#define svc_name(svc) ((svc)->policy->service)

/* A cgroup.kill that failed (out of fds or memory) is tried again this
 * often until the group is empty. */
#define KILL_RETRY (1 * USEC_PER_SEC)
/* Without a cgroup.events watch, a stopping group is checked this often
 * for "populated 0". */
#define EMPTY_POLL (200 * USEC_PER_MSEC)
/* How long a watched cgroup's limits must stay unwritten before guardian
 * puts its tripwire on memory.high: runc and systemd write theirs within
 * milliseconds of the mkdir, and a tripwire guardian decided on before
 * the owner's memory.high and wrote after it would replace it. */
#define WATCH_SETTLE (500 * USEC_PER_MSEC)

static void service_on_group_empty(struct service *svc);
static int service_watch_group(struct service *svc);
static void schedule_restart_or_stop(struct service *svc);
static int begin_stop(struct service *svc, enum exit_cause cause, const char *reason);
static void give_up(struct service *svc);
static void note_cgroup_id(struct service *svc);

static void set_state(struct service *svc, enum service_state st)
{
	if (svc->state != st)
		log_debug("%s: %s -> %s", svc_name(svc), service_state_to_string(svc->state),
			  service_state_to_string(st));
	svc->state = st;
	supervisor_service_changed(svc);
}

static void record(struct service *svc, const char *action, const char *reason, int sig,
		   const pid_t *pids, size_t n_pids, struct json_object *extra)
{
	struct json_object *rec;
	int r;

	if (!svc->sup->cfg.log) {
		json_object_put(extra);
		return;
	}
	rec = service_record(svc, "guardian", action, reason);
	if (rec && sig)
		json_object_object_add(rec, "signal", json_object_new_string(sigabbrev_np(sig)));
	if (rec)
		actionlog_add_pids(rec, pids, n_pids);
	r = actionlog_write_with(svc->sup->cfg.log, rec, extra);
	if (r < 0)
		log_warning_errno(r, "%s: cannot write the action log", svc_name(svc));
}

/* --- limits ---------------------------------------------------------- */

static int write_limit(struct service *svc, const char *attr, const struct limit *l)
{
	int r;

	if (!l->set)
		return 0;
	r = cgfs_write_u64(svc->cgfd, attr, l->value);
	if (r < 0)
		return log_error_errno(r, "%s: cannot write %s/%s", svc_name(svc), svc->cgroup, attr);
	return 0;
}

int service_apply_limits(struct service *svc)
{
	const struct policy *p = svc->policy;
	char buf[64];
	int r = 0;

	/* memory.max before memory.high so high <= max holds at every step;
	 * low and min are protections and have no ordering constraint. */
	r = r ?: write_limit(svc, "memory.max", &p->limits.memory_max);
	/* The default guard's tripwire is guardian's doing, not the policy's:
	 * a dry run changes nothing, so it leaves memory.high alone. */
	if (!(p->limits.memory_high_is_guard && (svc->sup->cfg.dry_run || p->dry_run)))
		r = r ?: write_limit(svc, "memory.high", &p->limits.memory_high);
	r = r ?: write_limit(svc, "memory.low", &p->limits.memory_low);
	r = r ?: write_limit(svc, "memory.min", &p->limits.memory_min);
	r = r ?: write_limit(svc, "memory.swap.max", &p->limits.memory_swap_max);
	r = r ?: write_limit(svc, "pids.max", &p->limits.pids_max);
	if (r < 0)
		return r;
	if (p->limits.cpu_set) {
		if (p->limits.cpu_quota_usec == LIMIT_MAX)
			snprintf(buf, sizeof(buf), "max %" PRIu64, p->limits.cpu_period_usec);
		else
			snprintf(buf, sizeof(buf), "%" PRIu64 " %" PRIu64, p->limits.cpu_quota_usec,
				 p->limits.cpu_period_usec);
		r = cgfs_write(svc->cgfd, "cpu.max", buf);
		if (r < 0)
			return log_error_errno(r, "%s: cannot write %s/cpu.max", svc_name(svc), svc->cgroup);
	}
	if (p->limits.cpu_weight) {
		r = cgfs_write_u64(svc->cgfd, "cpu.weight", p->limits.cpu_weight);
		if (r < 0)
			return log_error_errno(r, "%s: cannot write %s/cpu.weight", svc_name(svc), svc->cgroup);
	}
	return 0;
}

/* --- output ---------------------------------------------------------- */

/* guardian opens a service's log as root, maybe in a directory the
 * service can write: a policy's output.file with no symbolic link
 * anywhere on its path (the service could point its log at /etc/passwd),
 * guardian's own <state-dir>/logs without one as its last part; and
 * nothing but a regular file with one name. -1 and errno on failure. */
static int open_log_file(const char *path, bool anywhere)
{
	struct open_how how = { .flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK,
				.mode = 0640, .resolve = anywhere ? RESOLVE_NO_SYMLINKS : 0 };
	struct stat st;
	int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));

	if (fd < 0 && errno == ENOSYS) /* before 5.6: the last component at least */
		fd = open(path, (int)how.flags, 0640);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 || fcntl(fd, F_SETFL, O_APPEND) < 0) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

static int open_output(struct service *svc, int *ret_fd)
{
	const struct policy *p = svc->policy;
	_cleanup_free_ char *path = NULL;
	struct stat st;
	int fd;

	*ret_fd = -1;
	if (p->output.mode == OUTPUT_INHERIT)
		return 0;
	if (p->output.mode == OUTPUT_NULL) {
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		goto done;
	}
	if (p->output.file)
		path = strdup(p->output.file);
	else if (asprintf(&path, "%s/logs/%s.log", svc->sup->cfg.state_dir, svc_name(svc)) < 0)
		path = NULL;
	if (!path)
		return -ENOMEM;
	/* Rotated when the service (re)starts: the child holds the fd, so a
	 * running service's file is never renamed under it. */
	if (p->output.max_size && lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size >= p->output.max_size) {
		for (unsigned i = p->output.keep; i > 0; i--) {
			char from[4096], to[4096];

			snprintf(from, sizeof(from), i == 1 ? "%s" : "%s.%u", path, i - 1);
			snprintf(to, sizeof(to), "%s.%u", path, i);
			(void)rename(from, to);
		}
	}
	fd = open_log_file(path, p->output.file != NULL);
	if (fd < 0 && errno == ENOENT) {
		/* A log directory that does not exist yet (/var/log/NAME): make
		 * the last component, as logrotate-style setups expect. */
		char *slash = strrchr(path, '/');

		if (slash && slash != path) {
			*slash = '\0';
			if (mkdir(path, 0755) == 0 || errno == EEXIST) {
				*slash = '/';
				fd = open_log_file(path, p->output.file != NULL);
			} else
				*slash = '/';
		}
	}
done:
	if (fd < 0)
		return log_error_errno(errno, "%s: cannot open its output %s", svc_name(svc),
				       path ? path : "/dev/null");
	*ret_fd = fd;
	return 0;
}

/* --- process tracking -------------------------------------------------- */

/* The run is over (a stop began, or the main process failed): its health
 * checks end and the subscribers hear of it. */
static void end_run(struct service *svc)
{
	health_stop(svc->health);
	svc->health = NULL;
	supervisor_notify(svc, run_ended);
}

static void forget_main(struct service *svc)
{
	loop_source_freep(&svc->pid_src);
	if (svc->pidfd >= 0)
		close(svc->pidfd);
	svc->pidfd = -1;
	svc->pid = 0;
}

static bool oom_kill_rose(struct service *svc)
{
	uint64_t oom = 0;

	return cgfs_read_keyed(svc->cgfd, "memory.events", "oom_kill", &oom) == 0 && oom > svc->oom_kills_at_start;
}

static void classify_exit(struct service *svc, const siginfo_t *si)
{
	struct exit_report r = {
		.stopping = svc->state == SVC_STOPPING, .stop_cause = svc->stop_cause,
		.adopted = si->si_code == 0, .how = si->si_code, .status = si->si_status,
		.pid = si->si_pid, .last_signal = &svc->last_signal, .now = now_realtime(),
	};

	/* Only a kill, or the end of an adopted process, can be the OOM killer's. */
	if (!r.stopping && (r.adopted || (si->si_code != CLD_EXITED && si->si_status == SIGKILL)))
		r.oom_kill_rose = oom_kill_rose(svc);
	lifecycle_classify_exit(&r, &svc->last_exit);
}

bool service_group_populated(struct service *svc)
{
	bool populated = false;

	if (svc->cgfd < 0) {
		int fd = cgfs_open_group(svc->sup->cg, svc->cgroup);

		if (fd < 0)
			return false; /* never created: nothing runs there */
		svc->cgfd = fd;
		note_cgroup_id(svc);
	}

	/* An unreadable cgroup.events means the group is gone. */
	if (cgfs_is_populated(svc->cgfd, &populated) < 0)
		return false;
	return populated;
}

static int on_main_exit(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct service *svc = data;
	siginfo_t si = { 0 };

	if (waitid((idtype_t)P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG) < 0) {
		/* Not our child (adopted): we only know that it is gone. */
		if (errno != ECHILD)
			log_warning_errno(errno, "%s: waitid", svc_name(svc));
		si = (siginfo_t){ .si_code = 0 };
	} else if (si.si_pid == 0)
		return 0;
	classify_exit(svc, &si);
	if (si.si_code == 0)
		log_info("%s: adopted main process %d is gone", svc_name(svc), svc->pid);
	else
		log_info("%s: main process %d %s %d", svc_name(svc), svc->pid,
			 si.si_code == CLD_EXITED ? "exited with" : "killed by signal", si.si_status);
	forget_main(svc);
	if (svc->state != SVC_STOPPING && lifecycle_exit_failed(&svc->last_exit)) {
		end_run(svc);
	}
	if (!service_group_populated(svc)) {
		service_on_group_empty(svc);
		return 0;
	}
	if (svc->state == SVC_STOPPING) {
		/* The main process obeyed; the rest of the group gets the same. */
		if (!svc->group_signalled && cgfs_signal_group(svc->cgfd, svc->policy->stop.signal) == 0)
			svc->group_signalled = true;
		return 0;
	}
	if (!lifecycle_exit_failed(&svc->last_exit) || svc->last_exit.cause == EXIT_UNKNOWN) {
		/* A daemon that forked into the background, or a followed process
		 * that handed over to another (setsid, then exec, then fork): the
		 * group is the service while it holds processes. */
		if (service_adopt_main(svc) == 0) {
			if (lifecycle_exit_failed(&svc->last_exit)) { /* its run was ended above: it goes on */
				service_resume_health(svc);
				supervisor_notify(svc, running);
			}
			return 0;
		}
	}
	log_notice("%s: main process failed; killing the rest of its group", svc_name(svc));
	return cgfs_kill(svc->cgfd);
}

static void on_health_failed(void *data, const struct health_check *check, unsigned index,
			     const char *reason)
{
	struct service *svc = data;
	char why[512];

	snprintf(why, sizeof(why), "health check %u failed %u times: %s", index, check->failures, reason);
	log_warning("%s: %s", svc_name(svc), why);
	if (svc->state != SVC_RUNNING)
		return;
	if (check->action == ACTION_RESTART)
		service_restart(svc, EXIT_HEALTH, why, true);
	else if (check->action == ACTION_STOP)
		service_stop_because(svc, EXIT_HEALTH, why);
	else
		record(svc, "notify", why, 0, NULL, 0, NULL);
}

void service_resume_health(struct service *svc)
{
	int r;

	if (svc->policy->n_health == 0 || svc->health)
		return;
	/* Resolved once per policy, at its first run, and kept across runs. */
	r = svc->health_targets ? 0 : health_targets_new(svc->sup->loop, svc->policy, &svc->health_targets);
	if (r == 0)
		r = health_start(svc->sup->loop, svc->policy, svc->health_targets, svc->cgfd, on_health_failed,
				 svc, &svc->health);
	if (r < 0)
		log_warning_errno(r, "%s: cannot start its health checks", svc_name(svc));
}

static void service_running(struct service *svc)
{
	set_state(svc, SVC_RUNNING);
	service_resume_health(svc);
	supervisor_notify(svc, running);
}

static int on_exec_report(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct service *svc = data;
	struct spawn_failure f;
	ssize_t n = read(fd, &f, sizeof(f));

	loop_source_freep(&svc->exec_src);
	if (n == (ssize_t)sizeof(f)) {
		svc->last_exit = (struct service_exit){ .cause = EXIT_EXEC_FAILED, .code = f.err,
							.at = now_realtime() };
		log_error("%s: cannot start %s: %s: %s", svc_name(svc), svc->policy->command[0],
			  spawn_stage_to_string(f.stage), strerror(f.err));
		return 0;
	}
	if (svc->state == SVC_STARTING) {
		service_running(svc);
		log_info("%s: running as pid %d in %s", svc_name(svc), svc->pid, svc->cgroup);
	}
	return 0;
}

/* Follows pid through pidfd (the service's from here; the caller's to
 * close on failure, when nothing of it is kept). */
static int track_main(struct service *svc, pid_t pid, int pidfd)
{
	int r = loop_add_fd(svc->sup->loop, pidfd, EPOLLIN, false, on_main_exit, svc, &svc->pid_src);

	if (r < 0)
		return r;
	svc->pid = pid;
	svc->pidfd = pidfd;
	return 0;
}

int service_adopt_main(struct service *svc)
{
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;
	int r;

	r = cgfs_read_procs(svc->cgfd, &pids, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		int pidfd = (int)syscall(SYS_pidfd_open, pids[i], 0);
		_cleanup_free_ char *where = NULL;

		if (pidfd < 0)
			continue; /* exited meanwhile */
		/* The pid was read before the pidfd was opened: it may have
		 * exited and been handed to a stranger since. Now that the
		 * pidfd pins the process, it must still be in the group. */
		if (cgfs_pid_cgroup(svc->sup->cfg.proc_root, pids[i], &where) < 0 || strcmp(where, svc->cgroup) != 0) {
			close(pidfd);
			continue;
		}
		r = track_main(svc, pids[i], pidfd);
		if (r < 0) {
			close(pidfd);
			return r;
		}
		log_info("%s: following pid %d in %s", svc_name(svc), pids[i], svc->cgroup);
		return 0;
	}
	return -ESRCH;
}

/* --- cgroup.events: the group is the service ---------------------------- */

static void on_group_events(void *data)
{
	struct service *svc = data;

	/* The main process's exit is handled through its pidfd; here only a
	 * group that emptied after its main process was already gone. */
	if (svc->pid == 0 && !service_group_populated(svc) &&
	    (svc->state == SVC_RUNNING || svc->state == SVC_STOPPING || svc->state == SVC_STARTING))
		service_on_group_empty(svc);
}

/* The fallback for a group whose cgroup.events cannot be watched. */
static int on_empty_poll(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct service *svc = data;

	if (svc->state == SVC_STOPPING && !service_group_populated(svc) && svc->pid == 0) {
		loop_source_freep(&svc->empty_poll);
		service_on_group_empty(svc);
		return 0;
	}
	if (svc->state == SVC_STOPPING)
		return loop_timer_rearm(src, EMPTY_POLL);
	loop_source_freep(&svc->empty_poll);
	return 0;
}

static void poll_if_unwatched(struct service *svc)
{
	if (!svc->events && !svc->empty_poll)
		(void)loop_add_timer(svc->sup->loop, EMPTY_POLL, on_empty_poll, svc, &svc->empty_poll);
}

static int service_watch_group(struct service *svc)
{
	if (svc->events)
		return 0;
	if (!svc->sup->cfg.watch)
		return -ENODEV;
	return cgwatch_add(svc->sup->cfg.watch, svc->cgfd, "cgroup.events", on_group_events, svc, &svc->events);
}

static void note_cgroup_id(struct service *svc)
{
	struct stat st;

	/* A cgroup's id, as BPF's bpf_get_current_cgroup_id() and
	 * cgroup->kn->id report it, is its directory's inode number. */
	if (fstat(svc->cgfd, &st) == 0)
		svc->cgroup_id = st.st_ino;
	supervisor_notify(svc, cgroup_opened);
}

void service_note_signal(struct service *svc, const struct signal_sender *sender)
{
	char why[128];
	pid_t target = sender->target;

	if (sender->pid == getpid())
		return; /* guardian's own stop or kill: already recorded */
	if (target == svc->pid)
		svc->last_signal = *sender;
	signal_sender_describe(sender, why, sizeof(why));
	log_notice("%s: %s to pid %d", svc_name(svc), why, target);
	if (svc->sup->cfg.log) {
		struct json_object *rec = service_record(svc, "signal", "signal", why);

		if (!rec)
			return;
		json_object_object_add(rec, "signal", json_object_new_string(sigabbrev_np(sender->sig) ?: "?"));
		actionlog_add_pids(rec, &target, 1);
		json_object_object_add(rec, "sender_pid", json_object_new_int(sender->pid));
		json_object_object_add(rec, "sender_comm", json_object_new_string(sender->comm));
		json_object_object_add(rec, "sender_uid", json_object_new_int64(sender->uid));
		(void)actionlog_write(svc->sup->cfg.log, rec);
	}
}

static int open_group(struct service *svc)
{
	int r;

	if (svc->cgfd >= 0)
		return 0;
	r = cgfs_mkdir(svc->sup->cg, svc->cgroup, &svc->cgfd);
	if (r < 0)
		return log_error_errno(r, "%s: cannot create cgroup %s", svc_name(svc), svc->cgroup);
	note_cgroup_id(svc);
	return 0;
}

/* --- start -------------------------------------------------------------- */

static int on_restart_timer(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct service *svc = data;

	loop_source_freep(&svc->timer);
	if (svc->state != SVC_BACKOFF || !svc->want_running)
		return 0;
	lifecycle_note_restart(&svc->restarts, svc->restart_times, svc->restart_ring_len + 1, now_monotonic());
	return service_start(svc);
}

static void start_failed(struct service *svc, int err)
{
	svc->last_exit = (struct service_exit){ .cause = EXIT_EXEC_FAILED, .code = -err,
						.at = now_realtime() };
	schedule_restart_or_stop(svc);
}

static int spawn_main(struct service *svc)
{
	struct spawn_result sr;
	_cleanup_close_ int out = -1;
	int r;

	r = open_output(svc, &out);
	if (r < 0)
		return r;
	r = spawn_in_cgroup(svc->policy, svc->policy->command, svc->cgfd, out, &sr);
	if (r < 0)
		return log_error_errno(r, "%s: cannot spawn into %s", svc_name(svc), svc->cgroup);
	svc->started_mono = now_monotonic();
	svc->started_real = now_realtime();
	svc->group_signalled = false;
	r = track_main(svc, sr.pid, sr.pidfd);
	if (r < 0) {
		close(sr.pidfd);
		close(sr.exec_pipe);
		return r;
	}
	r = loop_add_fd(svc->sup->loop, sr.exec_pipe, EPOLLIN, true, on_exec_report, svc, &svc->exec_src);
	if (r < 0) {
		/* The child runs and is followed; only an exec failure would
		 * now read as an early exit instead of its own record. */
		log_warning_errno(r, "%s: cannot watch its exec report", svc_name(svc));
		close(sr.exec_pipe);
	}
	return 0;
}

static void watch_group_or_say(struct service *svc)
{
	int r = service_watch_group(svc);

	if (r < 0 && svc->watch_error != -r) {
		/* Out of inotify watches (fs.inotify.max_user_watches): run
		 * without it, said once and shown in status, not retried. The
		 * main process's pidfd still ends the run; the rest of its group
		 * is seen when the main process exits. */
		log_warning_errno(r, "%s: cannot watch %s/cgroup.events; guarding it without", svc_name(svc),
				  svc->cgroup);
		svc->watch_error = -r;
	} else if (r == 0)
		svc->watch_error = 0;
}

int service_start(struct service *svc)
{
	int r;

	if (svc->watched || !svc->policy->command)
		return -EINVAL; /* a watched cgroup is its owner's to start */
	svc->want_running = true;
	if (svc->state == SVC_RUNNING || svc->state == SVC_STARTING || svc->state == SVC_STOPPING)
		return 0;
	loop_source_freep(&svc->timer);
	r = open_group(svc);
	if (r < 0)
		goto fail;
	watch_group_or_say(svc);
	if (service_group_populated(svc)) {
		/* Already running (guardian restarted): never start a second copy. */
		r = service_adopt_main(svc);
		if (r == 0) {
			service_running(svc);
			return 0;
		}
	}
	r = service_apply_limits(svc);
	if (r < 0)
		goto fail;
	(void)cgfs_read_keyed(svc->cgfd, "memory.events", "oom_kill", &svc->oom_kills_at_start);
	set_state(svc, SVC_STARTING);
	r = spawn_main(svc);
	if (r < 0)
		goto fail;
	return 0;
fail:
	start_failed(svc, r);
	return r;
}

/* --- exit, restart, give up ----------------------------------------------- */

static void give_up(struct service *svc)
{
	const struct policy *p = svc->policy;
	char reason[128];

	snprintf(reason, sizeof(reason), "%u restarts within %" PRIu64 "s (restart.give_up)",
		 p->restart.give_up_restarts, p->restart.give_up_within / USEC_PER_SEC);
	log_error("%s: %s: giving up until 'guardctl start %s'", svc_name(svc), reason, svc_name(svc));
	record(svc, "give-up", reason, 0, NULL, 0, NULL);
	set_state(svc, SVC_GAVE_UP);
}

static void schedule_restart_or_stop(struct service *svc)
{
	struct restart_input in = {
		.policy = svc->policy, .exit = &svc->last_exit, .want_running = svc->want_running,
		.started = svc->started_mono, .failures_in_row = svc->failures_in_row,
		.times = svc->restart_times, .n_times = svc->restart_ring_len + 1, .now = now_monotonic(),
		.jitter = ((double)random() / RAND_MAX) * 2.0 - 1.0,
	};
	struct restart_plan plan = lifecycle_plan_restart(&in);
	struct json_object *extra;
	char why[128];

	svc->failures_in_row = plan.failures_in_row;
	if (plan.next == NEXT_STOP) {
		set_state(svc, SVC_STOPPED);
		return;
	}
	if (plan.next == NEXT_GIVE_UP) {
		give_up(svc);
		return;
	}
	lifecycle_describe_exit(&svc->last_exit, why, sizeof(why));
	log_info("%s: restarting in %.1fs (%s)", svc_name(svc), (double)plan.delay / USEC_PER_SEC, why);
	extra = json_object_new_object();
	json_object_object_add(extra, "exit", json_object_new_string(exit_cause_to_string(svc->last_exit.cause)));
	json_object_object_add(extra, "exit_code", json_object_new_int(svc->last_exit.code));
	json_object_object_add(extra, "attempt", json_object_new_int((int)svc->failures_in_row));
	json_object_object_add(extra, "delay_ms", json_object_new_int64((int64_t)(plan.delay / USEC_PER_MSEC)));
	record(svc, "restart", why, 0, NULL, 0, extra);
	set_state(svc, SVC_BACKOFF);
	if (loop_add_timer(svc->sup->loop, plan.delay, on_restart_timer, svc, &svc->timer) < 0)
		set_state(svc, SVC_STOPPED);
}

static void service_on_group_empty(struct service *svc)
{
	loop_source_freep(&svc->timer);
	loop_source_freep(&svc->empty_poll);
	loop_source_freep(&svc->stop_cmd_src);
	end_run(svc);
	if (svc->state == SVC_STOPPING) {
		log_info("%s: stopped", svc_name(svc));
		set_state(svc, SVC_STOPPED);
		if (svc->removed) {
			supervisor_reap_removed(svc->sup);
			return;
		}
		if (svc->want_running) { /* a restart was asked for */
			bool counted = svc->restart_pending;

			svc->restart_pending = false;
			if (counted && restart_budget_exhausted(svc->policy, svc->restart_times,
								svc->restart_ring_len + 1, now_monotonic())) {
				give_up(svc);
				return;
			}
			if (counted)
				lifecycle_note_restart(&svc->restarts, svc->restart_times, svc->restart_ring_len + 1,
						       now_monotonic());
			service_start(svc);
		}
		return;
	}
	if (svc->last_exit.cause == EXIT_NONE)
		svc->last_exit = (struct service_exit){ .cause = EXIT_CODE, .at = now_realtime() };
	schedule_restart_or_stop(svc);
}

/* --- stop ----------------------------------------------------------------- */

static int on_stop_timeout(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct service *svc = data;
	struct group_kill k;
	char reason[160];
	struct json_object *extra = json_object_new_object();
	int r;

	loop_source_freep(&svc->timer);
	/* The group emptied in time and its events are still queued behind a
	 * busy loop (a reload that stopped hundreds at once): nothing to kill,
	 * and no kill to record. */
	if (!service_group_populated(svc)) {
		if (svc->pid == 0)
			service_on_group_empty(svc);
		return 0;
	}
	r = group_kill_prepare(svc->cgfd, &k);
	if (r < 0) /* no pids for the record, but the kill must still happen */
		log_warning_errno(r, "%s: cannot read %s/cgroup.procs", svc_name(svc), svc->cgroup);
	snprintf(reason, sizeof(reason), "still running %.1fs after SIG%s (stop.timeout)",
		 (double)(now_monotonic() - svc->stop_began) / USEC_PER_SEC,
		 sigabbrev_np(svc->policy->stop.signal));
	log_warning("%s: %s: killing %zu process(es) with cgroup.kill", svc_name(svc), reason, k.n);
	json_object_object_add(extra, "waited_ms",
			       json_object_new_int64((int64_t)((now_monotonic() - svc->stop_began) / 1000)));
	/* Recorded before the kill: the record must exist even if guardian
	 * dies in it, and it names the pids while they are still theirs. */
	record(svc, "kill", reason, SIGKILL, k.pids, k.n, extra);
	r = group_kill_finish(svc->cgfd, &k);
	group_kill_done(&k);
	if (r < 0) {
		/* Never stay in STOPPING with nothing pending: try again. */
		(void)loop_add_timer(svc->sup->loop, KILL_RETRY, on_stop_timeout, svc, &svc->timer);
		return log_error_errno(r, "%s: cgroup.kill of %s (trying again in 1s)", svc_name(svc), svc->cgroup);
	}
	return 0;
}

static void send_stop_signal(struct service *svc)
{
	int sig = svc->policy->stop.signal, r;

	if (svc->pidfd >= 0)
		r = syscall(SYS_pidfd_send_signal, svc->pidfd, sig, NULL, 0) < 0 ? -errno : 0;
	else {
		r = cgfs_signal_group(svc->cgfd, sig);
		svc->group_signalled = true;
	}
	if (r < 0 && r != -ESRCH)
		log_warning_errno(r, "%s: cannot send SIG%s", svc_name(svc), sigabbrev_np(sig));
	log_info("%s: sent SIG%s to %d, waiting up to %.1fs", svc_name(svc), sigabbrev_np(sig), svc->pid,
		 (double)svc->policy->stop.timeout / USEC_PER_SEC);
}

static int on_stop_command_exit(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct service *svc = data;
	siginfo_t si = { 0 };

	if (waitid((idtype_t)P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG) == 0 && si.si_pid == 0)
		return 0;
	loop_source_freep(&svc->stop_cmd_src);
	if (si.si_code != CLD_EXITED || si.si_status != 0)
		log_warning("%s: stop command %s %d", svc_name(svc),
			    si.si_code == CLD_EXITED ? "exited with" : "killed by signal", si.si_status);
	if (svc->state == SVC_STOPPING && (svc->pid || service_group_populated(svc)))
		send_stop_signal(svc);
	return 0;
}

/* stop.command runs in the service's group, as its user; the stop signal
 * follows when it exits, all within the one stop.timeout. */
static int run_stop_command(struct service *svc)
{
	struct spawn_result sr;
	int r;

	r = spawn_in_cgroup(svc->policy, svc->policy->stop.command, svc->cgfd, -1, &sr);
	if (r < 0)
		return log_warning_errno(r, "%s: cannot run its stop command", svc_name(svc));
	close(sr.exec_pipe);
	r = loop_add_fd(svc->sup->loop, sr.pidfd, EPOLLIN, true, on_stop_command_exit, svc,
			&svc->stop_cmd_src);
	if (r < 0) {
		close(sr.pidfd);
		return r;
	}
	return 0;
}

static int begin_stop(struct service *svc, enum exit_cause cause, const char *reason)
{
	bool kill = svc->stop_kills, resumed = svc->stop_resumed;

	svc->stop_kills = svc->stop_resumed = false;
	end_run(svc);
	/* A frozen group would sit out its whole stop.timeout: whoever froze
	 * it (the engine's ladder), a stop thaws it. */
	(void)cgfs_freeze(svc->cgfd, false);
	svc->stop_cause = cause;
	free(svc->stop_reason);
	svc->stop_reason = strdup(reason);
	set_state(svc, SVC_STOPPING);
	svc->stop_began = now_monotonic();
	if (!service_group_populated(svc) && svc->pid == 0) {
		service_on_group_empty(svc);
		return 0;
	}
	if (!kill && (resumed || !svc->policy->stop.command || run_stop_command(svc) < 0))
		send_stop_signal(svc);
	poll_if_unwatched(svc);
	return loop_add_timer(svc->sup->loop, svc->policy->stop.timeout, on_stop_timeout, svc, &svc->timer);
}

/* Leaves a state where nothing runs; true when there was nothing to stop. */
static bool stop_idle(struct service *svc)
{
	switch (svc->state) {
	case SVC_BACKOFF:
	case SVC_GAVE_UP:
		loop_source_freep(&svc->timer);
		set_state(svc, SVC_STOPPED);
		return true;
	case SVC_STOPPED:
	case SVC_STOPPING:
		return true;
	default:
		return false;
	}
}

/* A watched cgroup's processes are its owner's: a restart or stop that
 * guardian decides (the engine, the system guard) is a kill of the group,
 * cgroup.kill then process_mrelease, and its owner (systemd, the kubelet)
 * restarts it by its own policy. The service stays guarded. */
static int watched_kill(struct service *svc, const char *reason)
{
	struct group_kill k;
	int r = group_kill_and_release(svc->cgfd, &k);

	if (r < 0)
		log_error_errno(r, "%s: cgroup.kill of the watched cgroup %s", svc_name(svc), svc->cgroup);
	else
		log_warning("%s: %s: killed %zu process(es) of the watched cgroup; its owner restarts it",
			    svc_name(svc), reason, k.n);
	group_kill_done(&k);
	return r;
}

int service_stop_because(struct service *svc, enum exit_cause cause, const char *reason)
{
	if (svc->watched)
		return watched_kill(svc, reason);
	svc->want_running = false;
	svc->restart_pending = false;
	if (stop_idle(svc))
		return 0;
	/* The pressure engine and the system guard (EXIT_RULE) record their
	 * decision with its figures themselves: one record per action. */
	if (cause != EXIT_RULE)
		record(svc, "stop", reason, svc->policy->stop.signal, &svc->pid, svc->pid ? 1 : 0, NULL);
	return begin_stop(svc, cause, reason);
}

int service_kill_because(struct service *svc, enum exit_cause cause, const char *reason, bool restart)
{
	int r;

	if (svc->watched)
		return 0; /* the caller's kill is all there is to it */

	svc->stop_kills = true;
	r = restart ? service_restart(svc, cause, reason, true) : service_stop_because(svc, cause, reason);
	svc->stop_kills = false; /* no stop began (it was one already): nothing to skip */
	return r;
}

int service_stop(struct service *svc)
{
	return service_stop_because(svc, EXIT_GUARDIAN, "guardctl stop");
}

int service_finish_stop(struct service *svc)
{
	const char *reason = "a stop under way when guardian restarted";

	if (svc->watched || svc->cgfd < 0)
		return -EINVAL;
	svc->want_running = false;
	svc->restart_pending = false;
	watch_group_or_say(svc);
	/* Its main process if one is left (the stop signal goes there first),
	 * or the group's. */
	(void)service_adopt_main(svc);
	log_notice("%s: %s; finishing the stop", svc_name(svc), reason);
	record(svc, "stop", reason, svc->policy->stop.signal, &svc->pid, svc->pid ? 1 : 0, NULL);
	svc->stop_resumed = true;
	return begin_stop(svc, EXIT_GUARDIAN, reason);
}

int service_restart(struct service *svc, enum exit_cause cause, const char *reason, bool counted)
{
	if (svc->watched)
		return watched_kill(svc, reason);
	if (cause != EXIT_RULE)
		record(svc, "restart", reason, svc->state == SVC_RUNNING ? svc->policy->stop.signal : 0, &svc->pid,
		       svc->pid ? 1 : 0, NULL);
	if (svc->state == SVC_STOPPING) {
		svc->want_running = true;
		return 0;
	}
	if (svc->state != SVC_RUNNING && svc->state != SVC_STARTING) {
		loop_source_freep(&svc->timer);
		set_state(svc, SVC_STOPPED);
		return service_start(svc);
	}
	svc->want_running = true;
	svc->restart_pending = counted;
	return begin_stop(svc, cause, reason);
}

/* --- watched cgroups ------------------------------------------------------ */

/* The default guard's tripwire, as a launched service gets it from its
 * memory_max: here from the owner's memory.max, followed as the owner
 * changes it (systemd writes it just after its mkdir), and only where the
 * owner set no memory.high of its own (the kubelet's MemoryQoS, a unit's
 * MemoryHigh=), which guardian never overwrites. */
static void watched_tripwire(struct service *svc)
{
	struct policy *p = svc->policy;
	uint64_t max, high, want;

	if (svc->removed || p->n_rules || p->limits.memory_max.set ||
	    (p->limits.memory_high.set && !p->limits.memory_high_is_guard))
		return; /* the policy's own limits or rules decide, or the owner's memory.high does */
	if (cgfs_read_u64(svc->cgfd, "memory.max", &max) < 0 || cgfs_read_u64(svc->cgfd, "memory.high", &high) < 0)
		return;
	if (high != CGFS_MAX && high != svc->tripwire && high != svc->guardian_high) {
		/* The owner's own, even written over guardian's tripwire: kept,
		 * and what a throttle of guardian's goes back to when it is
		 * released. */
		if (!p->limits.memory_high.set || p->limits.memory_high_is_guard || p->limits.memory_high.value != high)
			log_info("%s: memory.high %" PRIu64 " is its owner's: no tripwire over it%s", svc_name(svc), high,
				 svc->tripwire ? " (it replaced guardian's)" : "");
		svc->tripwire = 0;
		p->limits.memory_high = (struct limit){ .set = true, .value = high };
		p->limits.memory_high_is_guard = false;
		return;
	}
	want = max == CGFS_MAX ? 0 : policy_guard_high(max);
	p->limits.memory_high = (struct limit){ .set = want != 0, .value = want };
	p->limits.memory_high_is_guard = want != 0;
	if (high != CGFS_MAX && high == svc->guardian_high && high != svc->tripwire)
		return; /* a throttle of guardian's is on: its release writes the new value */
	if (svc->sup->cfg.dry_run || p->dry_run || want == high || (!want && !svc->tripwire))
		return;
	if (cgfs_write_u64(svc->cgfd, "memory.high", want ?: CGFS_MAX) == 0) {
		svc->tripwire = want;
		log_info("%s: memory.high tripwire %s (memory.max %s)", svc_name(svc), want ? "set" : "removed",
			 want ? "set" : "max");
	}
}

static int on_settled(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct service *svc = data;

	(void)src, (void)fd, (void)revents;
	loop_source_freep(&svc->settle);
	watched_tripwire(svc);
	return 0;
}

/* A write to the owner's memory.max or memory.high (its own or
 * guardian's): the tripwire is looked at again once writes have stopped
 * for WATCH_SETTLE. */
static void on_watched_limit(void *data)
{
	struct service *svc = data;

	if (svc->removed)
		return;
	if (svc->settle)
		(void)loop_timer_rearm(svc->settle, WATCH_SETTLE);
	else if (loop_add_timer(svc->sup->loop, WATCH_SETTLE, on_settled, svc, &svc->settle) < 0)
		watched_tripwire(svc);
}

int service_watch_begin(struct service *svc)
{
	struct policy *p = svc->policy;
	int fd = cgfs_open_group(svc->sup->cg, svc->cgroup), r;

	if (fd < 0)
		return fd;
	svc->cgfd = fd;
	note_cgroup_id(svc);
	if (svc->sup->cfg.watch) {
		(void)cgwatch_add(svc->sup->cfg.watch, fd, "memory.max", on_watched_limit, svc, &svc->events);
		(void)cgwatch_add(svc->sup->cfg.watch, fd, "memory.high", on_watched_limit, svc, &svc->high_events);
	}
	on_watched_limit(svc);
	r = service_apply_limits(svc);
	if (r < 0)
		return r;
	if (p->oom_score_adj_set)
		(void)group_set_oom_score_adj(fd, svc->sup->cfg.proc_root, p->oom_score_adj, NULL, NULL);
	svc->want_running = true;
	svc->started_mono = now_monotonic();
	svc->started_real = now_realtime();
	log_info("%s: guarding the cgroup (watched by policy %s%s)", svc_name(svc),
		 svc->policy->path ? svc->policy->path : "?", svc->tripwire ? "; memory.high tripwire set" : "");
	service_running(svc);
	return 0;
}

void service_watch_policy_changed(struct service *svc)
{
	if (svc->removed)
		return;
	if (svc->sup->cfg.dry_run || svc->policy->dry_run)
		service_watch_restore(svc); /* a dry run writes nothing: no tripwire either */
	else
		on_watched_limit(svc);
}

void service_watch_restore(struct service *svc)
{
	uint64_t high;

	/* Only a memory.high that is still the one guardian wrote: the owner
	 * may have set its own since. */
	if (svc->tripwire && svc->cgfd >= 0 && cgfs_read_u64(svc->cgfd, "memory.high", &high) == 0 &&
	    high == svc->tripwire)
		(void)cgfs_write(svc->cgfd, "memory.high", "max");
	svc->tripwire = 0;
}

void service_watch_end(struct service *svc, const char *why)
{
	if (svc->removed)
		return;
	log_info("%s: no longer guarded: %s", svc_name(svc), why);
	cgwatch_removep(&svc->events);
	cgwatch_removep(&svc->high_events);
	loop_source_freep(&svc->settle);
	end_run(svc); /* the monitor undoes its freeze or throttle first */
	service_watch_restore(svc);
	svc->want_running = false;
	svc->removed = true;
	set_state(svc, SVC_STOPPED);
	supervisor_reap_removed(svc->sup);
}

/* --- records -------------------------------------------------------------- */

struct json_object *service_kube_json(const struct service *svc)
{
	const struct service_kube *k = svc ? svc->kube : NULL;
	struct json_object *o;

	if (!k)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "namespace", k->namespace_[0] ? json_object_new_string(k->namespace_) : NULL);
	json_object_object_add(o, "pod", k->pod[0] ? json_object_new_string(k->pod) : NULL);
	json_object_object_add(o, "pod_uid", json_object_new_string(k->pod_uid));
	if (k->container[0])
		json_object_object_add(o, "container", json_object_new_string(k->container));
	json_object_object_add(o, "container_id", json_object_new_string(k->container_id));
	json_object_object_add(o, "qos", json_object_new_string(kube_qos_to_string(k->qos)));
	if (k->priority_class[0])
		json_object_object_add(o, "priority_class", json_object_new_string(k->priority_class));
	if (strcmp(k->source, "kubelet") == 0)
		json_object_object_add(o, "priority", json_object_new_int64(k->pod_priority));
	if (k->memory_request)
		json_object_object_add(o, "memory_request", json_object_new_uint64(k->memory_request));
	if (k->overrides[0])
		json_object_object_add(o, "annotations_applied", json_object_new_string(k->overrides));
	json_object_object_add(o, "names_from", json_object_new_string(k->source));
	return o;
}

struct json_object *service_record(const struct service *svc, const char *source, const char *action,
				   const char *reason)
{
	struct json_object *rec = actionlog_record(svc ? svc->policy->service : NULL, svc ? svc->cgroup : NULL, source,
						   action, reason);

	if (rec && svc && svc->kube)
		json_object_object_add(rec, "kubernetes", service_kube_json(svc));
	return rec;
}
