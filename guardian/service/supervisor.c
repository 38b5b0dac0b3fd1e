/* supervisor.c: where services live in the cgroup tree, the set of them
 * (add, find, reap the removed, start all), and the subscribers told of
 * their lifecycle. The per-service state machine is service.c's. */
#include "supervisor.h"

#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "log.h"
#include "spawn.h"

/* The leaf guardian moves itself into when it would otherwise share a
 * cgroup with the groups it creates (the kernel's no-internal-processes
 * rule). Service groups end in ".service", so this name cannot clash. */
#define DAEMON_LEAF "guardian.scope"
#define DEFAULT_PARENT "/guardian.slice"

static const char *const optional_controllers[] = { "cpu", "io", "pids" };

int service_cgroup_name(const char *service, char **ret)
{
	return asprintf(ret, "%s.service", service) < 0 ? -ENOMEM : 0;
}

/* --- where services live --------------------------------------------- */

static int join_path(const char *a, const char *b, char **ret)
{
	const char *sep = (a[0] && a[strlen(a) - 1] == '/') ? "" : "/";

	return asprintf(ret, "%s%s%s", a, sep, b) < 0 ? -ENOMEM : 0;
}

static int pick_parent(struct supervisor *s, bool *ret_move_self)
{
	_cleanup_free_ char *own = NULL;
	char *base;
	int r;

	*ret_move_self = false;
	if (s->cfg.cgroup_parent) {
		s->parent = strdup(s->cfg.cgroup_parent);
		return s->parent ? 0 : -ENOMEM;
	}
	r = cgfs_pid_cgroup(s->cfg.proc_root, getpid(), &own);
	if (r < 0)
		return log_error_errno(r, "cannot read guardian's own cgroup from %s/self/cgroup",
				       s->cfg.proc_root);
	base = strrchr(own, '/');
	if (strcmp(own, "/") == 0)
		s->parent = strdup(DEFAULT_PARENT);
	else if (base && strcmp(base + 1, DAEMON_LEAF) == 0)
		s->parent = strndup(own, (size_t)(base - own) ?: 1);
	else {
		s->parent = strdup(own);
		*ret_move_self = true;
	}
	return s->parent ? 0 : -ENOMEM;
}

static int move_self_to_leaf(struct supervisor *s)
{
	_cleanup_free_ char *leaf = NULL;
	_cleanup_close_ int fd = -1;
	int r;

	r = join_path(s->parent, DAEMON_LEAF, &leaf);
	if (r < 0)
		return r;
	r = cgfs_mkdir(s->cg, leaf, &fd);
	if (r < 0)
		return log_error_errno(r, "cannot create %s", leaf);
	r = cgfs_attach(fd, getpid());
	if (r < 0)
		return log_error_errno(r, "cannot move guardian into %s", leaf);
	log_info("moved guardian into %s so services can be its siblings", leaf);
	return 0;
}

static int enable_controllers(struct supervisor *s)
{
	const char *memory[] = { "memory", NULL };
	bool has;
	int r;

	r = cgfs_has_controller(s->parent_fd, "memory", &has);
	if (r < 0)
		return log_error_errno(r, "cannot read %s/cgroup.controllers", s->parent);
	if (!has) {
		log_error("the memory controller is not available in %s: enable it in its parent's "
			  "cgroup.subtree_control (under systemd: Delegate=yes)", s->parent);
		return -EOPNOTSUPP;
	}
	r = cgfs_enable_controllers(s->parent_fd, memory);
	if (r < 0)
		return log_error_errno(r, "cannot enable memory in %s/cgroup.subtree_control%s", s->parent,
				       r == -EBUSY ? " (other processes live in that cgroup)" : "");
	for (size_t i = 0; i < ARRAY_SIZE(optional_controllers); i++) {
		const char *one[] = { optional_controllers[i], NULL };

		if (cgfs_has_controller(s->parent_fd, one[0], &has) < 0 || !has) {
			log_notice("controller %s not available in %s: its limits cannot be set",
				   one[0], s->parent);
			continue;
		}
		r = cgfs_enable_controllers(s->parent_fd, one);
		if (r < 0)
			log_warning_errno(r, "cannot enable %s in %s", one[0], s->parent);
	}
	return 0;
}

int supervisor_new(struct loop *loop, struct cgfs *cg, const struct supervisor_config *cfg,
		   struct supervisor **ret)
{
	struct supervisor *s = calloc(1, sizeof(*s));
	bool move_self;
	int r;

	if (!s)
		return -ENOMEM;
	*s = (struct supervisor){ .loop = loop, .cg = cg, .cfg = *cfg, .parent_fd = -1 };
	r = pick_parent(s, &move_self);
	if (r < 0)
		goto fail;
	r = cgfs_mkdir(cg, s->parent, &s->parent_fd);
	if (r < 0) {
		log_error_errno(r, "cannot create the services' parent cgroup %s", s->parent);
		goto fail;
	}
	if (move_self) {
		r = move_self_to_leaf(s);
		if (r < 0)
			goto fail;
	}
	r = enable_controllers(s);
	if (r < 0)
		goto fail;
	log_info("services live under cgroup %s", s->parent);
	*ret = s;
	return 0;
fail:
	supervisor_free(s);
	return r;
}

void service_free(struct service *svc)
{
	loop_source_freep(&svc->pid_src);
	loop_source_freep(&svc->exec_src);
	supervisor_notify(svc, removed); /* a watched cgroup's freeze or throttle undone */
	service_watch_restore(svc);      /* then the tripwire guardian put on it */
	loop_source_freep(&svc->timer);
	loop_source_freep(&svc->stop_cmd_src);
	loop_source_freep(&svc->empty_poll);
	loop_source_freep(&svc->settle);
	cgwatch_removep(&svc->events);
	cgwatch_removep(&svc->high_events);
	health_stop(svc->health);
	health_targets_free(svc->health_targets);
	free(svc->stop_reason);
	if (svc->pidfd >= 0)
		close(svc->pidfd);
	if (svc->cgfd >= 0)
		close(svc->cgfd);
	policy_free(svc->policy);
	free(svc->cgroup);
	free(svc->restart_times);
	free(svc->kube);
	free(svc);
}

void supervisor_free(struct supervisor *s)
{
	if (!s)
		return;
	if (s->save)
		(void)supervisor_flush_state(s);
	loop_source_freep(&s->reap);
	supervisor_unwatch_dirs(s);
	/* Out of the array before it is freed: the `removed` hooks of the
	 * next ones still look at the others. */
	while (s->n_services > 0)
		service_free(s->services[--s->n_services]);
	free(s->services);
	free(s->subs);
	if (s->parent_fd >= 0)
		close(s->parent_fd);
	free(s->parent);
	free(s);
}

/* A new service for policy p (taken on success) in the cgroup at `cgroup`
 * (taken either way). */
static int add_service(struct supervisor *s, struct policy *p, char *cgroup, struct service **ret)
{
	struct service **v, *svc;

	v = realloc(s->services, (s->n_services + 1) * sizeof(*v));
	if (!v) {
		free(cgroup);
		return -ENOMEM;
	}
	s->services = v;
	svc = calloc(1, sizeof(*svc));
	if (!svc) {
		free(cgroup);
		return -ENOMEM;
	}
	*svc = (struct service){ .sup = s, .policy = p, .pidfd = -1, .cgfd = -1, .exec_pipe = -1, .cgroup = cgroup };
	svc->restart_ring_len = p->restart.give_up_restarts;
	svc->restart_times = calloc(svc->restart_ring_len + 1, sizeof(usec_t));
	if (!svc->restart_times || !cgroup) {
		svc->policy = NULL;
		service_free(svc);
		return -ENOMEM;
	}
	s->services[s->n_services++] = svc;
	if (ret)
		*ret = svc;
	return 0;
}

int supervisor_add(struct supervisor *s, struct policy *p, struct service **ret)
{
	_cleanup_free_ char *name = NULL;
	char *cgroup = NULL;
	int r;

	r = service_cgroup_name(p->service, &name);
	if (r < 0)
		return r;
	if (join_path(s->parent, name, &cgroup) < 0)
		return -ENOMEM;
	return add_service(s, p, cgroup, ret);
}

int supervisor_add_watched(struct supervisor *s, struct policy *p, const char *path, struct service **ret)
{
	char *cgroup = NULL;

	if (asprintf(&cgroup, "/%s", path) < 0)
		return -ENOMEM;
	return add_service(s, p, cgroup, ret);
}

struct service *supervisor_find_by_cgroup_id(struct supervisor *s, uint64_t id)
{
	for (size_t i = 0; i < s->n_services; i++)
		if (s->services[i]->cgroup_id == id && id)
			return s->services[i];
	return NULL;
}

struct service *supervisor_find(struct supervisor *s, const char *name)
{
	struct service *gone = NULL;

	/* A removed one waits to be reaped beside its successor (a policy
	 * removed and added back, a watched cgroup found again): the live
	 * one is the answer. */
	for (size_t i = 0; i < s->n_services; i++)
		if (strcmp(s->services[i]->policy->service, name) == 0) {
			if (!s->services[i]->removed)
				return s->services[i];
			gone = gone ?: s->services[i];
		}
	return gone;
}

int supervisor_subscribe(struct supervisor *s, const struct service_hooks *h, void *data)
{
	struct supervisor_subscriber *v = realloc(s->subs, (s->n_subs + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	s->subs = v;
	s->subs[s->n_subs++] = (struct supervisor_subscriber){ .hooks = h, .data = data };
	return 0;
}

void supervisor_unsubscribe(struct supervisor *s, const struct service_hooks *h, void *data)
{
	for (size_t i = 0; s && i < s->n_subs; i++)
		if (s->subs[i].hooks == h && s->subs[i].data == data) {
			memmove(&s->subs[i], &s->subs[i + 1], (s->n_subs - i - 1) * sizeof(*s->subs));
			s->n_subs--;
			return;
		}
}

static int on_reap(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct supervisor *s = data;

	loop_source_freep(&s->reap);
	for (size_t i = 0; i < s->n_services;) {
		struct service *svc = s->services[i];
		char *path;

		if (!(svc->removed && svc->state == SVC_STOPPED)) {
			i++;
			continue;
		}
		/* Out of the array before it is freed: the `removed` hooks
		 * look at the services that remain. */
		memmove(s->services + i, s->services + i + 1, (s->n_services - i - 1) * sizeof(*s->services));
		s->n_services--;
		path = TAKE_PTR(svc->cgroup);
		if (svc->watched) { /* someone else's: never removed by guardian */
			free(path);
			path = NULL;
		}
		service_free(svc); /* closes its cgroup fd before the rmdir */
		if (path)
			(void)cgfs_rmdir(s->cg, path);
		free(path);
	}
	return 0;
}

void supervisor_reap_removed(struct supervisor *s)
{
	if (!s->reap)
		(void)loop_add_timer(s->loop, 0, on_reap, s, &s->reap);
}

void supervisor_start_all(struct supervisor *s)
{
	for (size_t i = 0; i < s->n_services; i++) {
		struct service *svc = s->services[i];
		bool stay = svc->state_loaded && (!svc->want_running || svc->state == SVC_GAVE_UP);
		bool stopping = svc->state_loaded && !svc->want_running && svc->state != SVC_GAVE_UP;

		if (svc->watched)
			continue; /* guarded from the moment it was found */
		if (stay && !service_group_populated(svc)) {
			log_info("%s: %s before guardian restarted; leaving it so", svc->policy->service,
				 svc->state == SVC_GAVE_UP ? "gave up" : "stopped by command");
			svc->want_running = false;
			continue;
		}
		svc->state = SVC_STOPPED;
		/* Not to run, yet its group has processes: guardian died while
		 * stopping it. Adopting it as running would undo a stop that was
		 * asked for, and recorded. */
		if (stopping) {
			(void)service_finish_stop(svc);
			continue;
		}
		service_start(svc);
	}
}
