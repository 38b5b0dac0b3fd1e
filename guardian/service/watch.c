/* watch.c: guarding cgroups guardian did not create. A policy's watch
 * globs (system.slice/NAME.service, kubepods.slice/POD/CONTAINER, where
 * any segment may be a pattern) are matched one path segment at a time: each directory that can hold a match is watched
 * through the daemon's inotify for child cgroups made and removed, so a
 * new unit or pod is guarded as soon as its cgroup exists, and nothing
 * walks the whole tree on a timer. */
#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>

#include "cgwatch.h"
#include "log.h"
#include "supervisor.h"

struct watch_dir {
	struct watch_set *set;
	unsigned glob;   /* index in the policy's watch_cgroups */
	unsigned depth;  /* segments of that glob its path matched */
	char *path;      /* below the cgroup root; "" for the root */
	int fd;
	struct cgwatch_entry *entry;
};

struct kube_pending {
	char *path;     /* the container's cgroup, below the root */
	unsigned since; /* kubelet_fetches() when it was first seen */
};

struct kube_override {
	bool has_protected, protected_, has_dry_run, dry_run, has_priority;
	int priority;
};

struct watch_set {
	struct supervisor *sup;
	struct policy *policy; /* the watch policy; each cgroup gets a copy */
	struct watch_dir **dirs;
	size_t n_dirs;
	struct loop_source *rescan; /* one read of it all after lost events */
	struct kube_pending *pending; /* containers waiting for the kubelet */
	size_t n_pending;
};

static unsigned glob_depth(const char *glob)
{
	unsigned n = 1;

	for (const char *c = glob; *c; c++)
		n += *c == '/';
	return n;
}

/* Segment `depth` of glob into buf (the compiler bounds globs to 255). */
static void glob_segment(const char *glob, unsigned depth, char *buf, size_t size)
{
	const char *end;

	while (depth-- > 0)
		glob = strchr(glob, '/') + 1;
	end = strchrnul(glob, '/');
	snprintf(buf, size, "%.*s", (int)(end - glob), glob);
}

static char *child_path(const char *parent, const char *name)
{
	char *p = NULL;

	if (asprintf(&p, "%s%s%s", parent, *parent ? "/" : "", name) < 0)
		return NULL;
	return p;
}

static void dir_free(struct watch_dir *d)
{
	cgwatch_removep(&d->entry);
	if (d->fd >= 0)
		close(d->fd);
	free(d->path);
	free(d);
}

#define POD_LOGS "/var/log/pods"
/* Fetches of the kubelet a new container waits through for its pod to be
 * listed (the one it asked for and one more) before it is named from the
 * log directories: a pod the kubelet does not list is not waited for. */
#define KUBELET_WAIT_FETCHES 2

static bool in_list(char *const *v, const char *s)
{
	for (; v && *v; v++)
		if (strcmp(*v, s) == 0)
			return true;
	return false;
}

/* Every KEY, VALUE of want is in have. */
static bool meta_match(char *const *want, char *const *have)
{
	for (; want && want[0] && want[1]; want += 2) {
		const char *v = kube_meta_get(have, want[0]);

		if (!v || strcmp(v, want[1]) != 0)
			return false;
	}
	return true;
}

enum identify { KUBE_TAKE, KUBE_SKIP, KUBE_WAIT };

static bool parse_bool_annotation(const char *s, bool *ret)
{
	if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0 || strcmp(s, "1") == 0)
		*ret = true;
	else if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0 || strcmp(s, "0") == 0)
		*ret = false;
	else
		return false;
	return true;
}

/* The pod's guardian.dev/ annotations over the policy's values: ignore
 * (not guarded at all), protected, priority, dry-run. A value that does
 * not parse is said and left out. Returns false for ignore. */
static bool pod_overrides(const struct kube_pod *pod, const char *path, struct service_kube *k,
			  struct kube_override *o)
{
	static const char *const keys[] = { "guardian.dev/ignore", "guardian.dev/protected", "guardian.dev/dry-run",
					    "guardian.dev/priority" };
	size_t len = 0;

	*o = (struct kube_override){ 0 };
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const char *v = kube_meta_get(pod->annotations, keys[i]);
		bool b = false, ok;
		int64_t n = 0;

		if (!v)
			continue;
		if (i == 3)
			ok = parse_i64(v, &n) == 0 && n >= -1000000 && n <= 1000000;
		else
			ok = parse_bool_annotation(v, &b);
		if (!ok) {
			log_warning("%s: pod %s/%s: annotation %s: '%s' is not %s; left out", path, pod->namespace_,
				    pod->name, keys[i], v, i == 3 ? "an integer (-1000000..1000000)" : "true or false");
			continue;
		}
		if (i == 0 && b)
			return false;
		if (i == 1)
			o->has_protected = true, o->protected_ = b;
		else if (i == 2)
			o->has_dry_run = true, o->dry_run = b;
		else if (i == 3)
			o->has_priority = true, o->priority = (int)n;
		if (i > 0 && len < sizeof(k->overrides))
			len += (size_t)snprintf(k->overrides + len, sizeof(k->overrides) - len, "%s%s=%s", len ? " " : "",
						keys[i] + strlen("guardian.dev/"), v);
	}
	return true;
}

static void kube_from_pod(struct service_kube *k, const struct kube_pod *pod)
{
	const struct kube_container *c = kube_pod_container(pod, k->container_id);

	snprintf(k->namespace_, sizeof(k->namespace_), "%s", pod->namespace_);
	snprintf(k->pod, sizeof(k->pod), "%s", pod->name);
	snprintf(k->priority_class, sizeof(k->priority_class), "%s", pod->priority_class ?: "");
	k->pod_priority = pod->priority;
	if (c) {
		snprintf(k->container, sizeof(k->container), "%s", c->name);
		k->memory_request = c->memory_request;
	}
	k->source = "kubelet";
}

/* Names from the kubelet's log directories: /var/log/pods for the pod,
 * /var/log/containers (beside it) for the container. */
static void kube_from_logs(struct service_kube *k, const char *pod_logs)
{
	_cleanup_free_ char *containers = NULL;
	const char *slash = strrchr(pod_logs, '/');

	k->source = kube_pod_from_logs(pod_logs, k->pod_uid, k->namespace_, sizeof(k->namespace_), k->pod,
				       sizeof(k->pod)) == 0 ? "pod-logs" : "cgroup";
	if (slash && asprintf(&containers, "%.*s/containers", (int)(slash - pod_logs), pod_logs) >= 0)
		(void)kube_container_from_logs(containers, k->container_id, k->container, sizeof(k->container));
}

/* A pod container found by a kubernetes watch: who it is, and whether
 * the policy's selectors take it. With a kubelet, a container whose pod
 * it does not list yet waits for its next fetch (KUBE_WAIT); without one,
 * or once it failed, the names come from the log directories, and
 * selectors on labels or annotations cannot take the container. The
 * name it goes by: NAMESPACE/POD/ID (the first 12 of its container id),
 * or pod-UID/ID while nothing names the pod. */
static enum identify kube_identify(const struct watch_set *ws, const char *path, unsigned waited, char *name,
				   size_t len, struct service_kube **ret, struct kube_override *o)
{
	const struct policy *p = ws->policy;
	struct kubelet *kl = ws->sup->kubelet;
	const struct kube_pod *pod = NULL;
	_cleanup_free_ struct service_kube *k = NULL;
	struct kube_cgroup kc;

	*o = (struct kube_override){ 0 };
	if (kube_parse_cgroup(path, &kc) < 0)
		return KUBE_SKIP; /* a glob's match that is no container of the layout */
	if (p->kube.qos_mask && !(p->kube.qos_mask & (1u << kc.qos)))
		return KUBE_SKIP;
	k = calloc(1, sizeof(*k));
	if (!k)
		return KUBE_SKIP;
	k->qos = kc.qos;
	snprintf(k->pod_uid, sizeof(k->pod_uid), "%s", kc.pod_uid);
	snprintf(k->container_id, sizeof(k->container_id), "%s", kc.container_id);
	if (kl)
		pod = kube_pods_find(kubelet_pods(kl), kc.pod_uid);
	if (pod && (kube_pod_container(pod, kc.container_id) || waited >= KUBELET_WAIT_FETCHES))
		kube_from_pod(k, pod);
	else if (kl && kubelet_worth_waiting(kl) && waited < KUBELET_WAIT_FETCHES) {
		/* The pod, or its container's id, is not listed yet. */
		kubelet_refresh(kl);
		return KUBE_WAIT;
	} else if (pod)
		kube_from_pod(k, pod);
	else
		kube_from_logs(k, p->kube.pod_logs ?: POD_LOGS);

	if (p->kube.namespaces && !in_list(p->kube.namespaces, k->namespace_)) {
		if (!k->namespace_[0])
			log_info("%s: pod %s is named by nothing yet (no kubelet, no log directory in %s): its "
				 "namespace is unknown, so the namespaces of %s cannot take it",
				 path, kc.pod_uid, p->kube.pod_logs ?: POD_LOGS, p->path);
		return KUBE_SKIP;
	}
	if ((p->kube.labels || p->kube.annotations) &&
	    (!pod || !meta_match(p->kube.labels, pod->labels) || !meta_match(p->kube.annotations, pod->annotations))) {
		if (!pod)
			log_info("%s: pod %s is not known to the kubelet%s: the labels and annotations of %s cannot "
				 "take it", path, kc.pod_uid, kl ? "" : " (no --kubelet)", p->path);
		return KUBE_SKIP;
	}
	if (p->kube.containers && !in_list(p->kube.containers, k->container)) {
		if (!k->container[0])
			log_info("%s: the container's name is unknown, so the containers of %s cannot take it", path,
				 p->path);
		return KUBE_SKIP;
	}
	if (pod && !pod_overrides(pod, path, k, o)) {
		log_info("%s: pod %s/%s says guardian.dev/ignore: not guarded", path, pod->namespace_, pod->name);
		return KUBE_SKIP;
	}
	if (k->namespace_[0])
		snprintf(name, len, "%s/%s/%.12s", k->namespace_, k->pod, k->container_id);
	else
		snprintf(name, len, "pod-%s/%.12s", k->pod_uid, k->container_id);
	*ret = TAKE_PTR(k);
	return KUBE_TAKE;
}

/* Containers waiting for the kubelet to list their pod. */
static int pending_add(struct watch_set *ws, const char *path, unsigned since)
{
	struct kube_pending *v;

	for (size_t i = 0; i < ws->n_pending; i++)
		if (strcmp(ws->pending[i].path, path) == 0)
			return 0;
	v = realloc(ws->pending, (ws->n_pending + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	ws->pending = v;
	v[ws->n_pending].path = strdup(path);
	if (!v[ws->n_pending].path)
		return -ENOMEM;
	v[ws->n_pending++].since = since;
	return 0;
}

/* Forget a waiting container (its cgroup went); with prefix, all below path. */
static void pending_drop(struct watch_set *ws, const char *path, bool prefix)
{
	size_t len = strlen(path);

	for (size_t i = 0; i < ws->n_pending;) {
		const char *q = ws->pending[i].path;

		if (strcmp(q, path) == 0 || (prefix && strncmp(q, path, len) == 0 && q[len] == '/')) {
			free(ws->pending[i].path);
			ws->pending[i] = ws->pending[--ws->n_pending];
		} else
			i++;
	}
}

/* guardian's own cgroup (where it and its launched services live), what
 * is below it and what holds it: a watch glob of system.slice/ANY.service
 * matches guardian.service itself, and a kill of that would be a kill of
 * guardian and everything it runs. */
static bool is_ours(const struct supervisor *s, const char *path)
{
	const char *parent = s->parent[0] == '/' ? s->parent + 1 : s->parent;
	size_t pl = strlen(parent), l = strlen(path);

	if (l <= pl)
		return strncmp(parent, path, l) == 0 && (parent[l] == '\0' || parent[l] == '/');
	return strncmp(path, parent, pl) == 0 && path[pl] == '/';
}

/* Guard the cgroup at cgpath; since: the kubelet's fetch count when it
 * was first seen (how long it has waited for its pod to be listed). */
/* The cgroup lists guardian itself: in a pod (its own cgroup namespace)
 * guardian cannot name its cgroup, but its container's cgroup.procs
 * lists its pid (hostPID). */
static bool holds_guardian(const struct supervisor *s, const char *path)
{
	_cleanup_close_ int fd = cgfs_open_group(s->cg, path);
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;
	pid_t self = getpid();

	if (fd < 0 || cgfs_read_procs(fd, &pids, &n) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (pids[i] == self)
			return true;
	return false;
}

/* A pod's annotations over the watch policy's own values. */
static void apply_overrides(struct policy *p, const struct policy *base, const struct kube_override *o)
{
	p->protected_ = o->has_protected ? o->protected_ : base->protected_;
	p->priority = o->has_priority ? o->priority : base->priority;
	p->dry_run = o->has_dry_run ? o->dry_run : base->dry_run;
}

static void guard_since(struct watch_set *ws, const char *cgpath, unsigned since)
{
	struct supervisor *s = ws->sup;
	struct policy *p = NULL;
	struct service_kube *kube = NULL;
	struct kube_override o = { 0 };
	char kname[400];
	const char *path = cgpath;
	struct service *svc, *other;
	int r;

	if (is_ours(s, cgpath) || holds_guardian(s, cgpath)) {
		log_debug("%s: matches %s but holds guardian and its services: not watched", cgpath, ws->policy->path);
		return;
	}
	if (ws->policy->kube.on) {
		unsigned now = s->kubelet ? kubelet_fetches(s->kubelet) : 0;

		switch (kube_identify(ws, cgpath, now - since, kname, sizeof(kname), &kube, &o)) {
		case KUBE_SKIP:
			return;
		case KUBE_WAIT:
			if (pending_add(ws, cgpath, since) < 0)
				log_warning("%s: out of memory: not waiting for the kubelet to name it", cgpath);
			return;
		case KUBE_TAKE:
			break;
		}
		path = kname;
	}
	other = supervisor_find(s, path);

	if (other) {
		if (other->watch != ws && !other->removed)
			log_debug("%s: already guarded (policy %s); %s leaves it", path, other->policy->path,
				  ws->policy->path);
		if (!other->removed) {
			free(kube);
			return;
		}
	}
	r = policy_instance(ws->policy, path, &p);
	if (r < 0 || (r = supervisor_add_watched(s, p, cgpath, &svc)) < 0) {
		policy_free(p);
		free(kube);
		log_warning_errno(r, "%s: cannot guard it", path);
		return;
	}
	apply_overrides(p, ws->policy, &o);
	svc->watch = ws;
	svc->watched = true;
	svc->kube = kube;
	r = service_watch_begin(svc);
	if (r < 0) {
		/* Gone as soon as it came (a unit that failed at once). */
		log_debug("%s: cannot open it to guard it: %s", path, strerror(-r));
		service_watch_end(svc, "its cgroup could not be opened");
	}
}

static void guard(struct watch_set *ws, const char *cgpath)
{
	guard_since(ws, cgpath, ws->sup->kubelet ? kubelet_fetches(ws->sup->kubelet) : 0);
}

static void unguard(struct watch_set *ws, const char *path, bool prefix)
{
	struct supervisor *s = ws->sup;
	size_t len = strlen(path);

	pending_drop(ws, path, prefix);

	for (size_t i = 0; i < s->n_services; i++) {
		struct service *svc = s->services[i];
		const char *name = svc->cgroup + 1; /* its path below the root, whatever its name */

		if (svc->watch != ws || svc->removed)
			continue;
		if (strcmp(name, path) == 0 || (prefix && strncmp(name, path, len) == 0 && name[len] == '/'))
			service_watch_end(svc, "its cgroup was removed");
	}
}

static int add_dir(struct watch_set *ws, unsigned glob, unsigned depth, const char *path);

static void on_child(struct watch_dir *d, const char *name, bool created)
{
	struct watch_set *ws = d->set;
	const char *glob = ws->policy->watch_cgroups[d->glob];
	_cleanup_free_ char *path = NULL;
	char seg[256];

	glob_segment(glob, d->depth, seg, sizeof(seg));
	if (fnmatch(seg, name, FNM_PERIOD) != 0 || !(path = child_path(d->path, name)))
		return;
	if (d->depth + 1 == glob_depth(glob)) {
		if (created)
			guard(ws, path);
		else
			unguard(ws, path, false);
		return;
	}
	if (created) {
		(void)add_dir(ws, d->glob, d->depth + 1, path);
		return;
	}
	/* A directory on the way went: its watches and its cgroups with it. */
	for (size_t i = 0; i < ws->n_dirs;) {
		struct watch_dir *x = ws->dirs[i];
		size_t len = strlen(path);

		if (x->glob == d->glob && strncmp(x->path, path, len) == 0 && (!x->path[len] || x->path[len] == '/')) {
			dir_free(x);
			ws->dirs[i] = ws->dirs[--ws->n_dirs];
		} else
			i++;
	}
	unguard(ws, path, true);
}

/* Every child cgroup already there, as if each had just been made. */
static void scan(struct watch_dir *d)
{
	/* A new open of the directory, not a dup: a dup shares the read
	 * position, which the first readdir leaves at the end. */
	int fd = openat(d->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (!dir) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(dir)))
		if (de->d_type == DT_DIR && strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, ".."))
			on_child(d, de->d_name, true);
	closedir(dir);
}

static void rescan(struct watch_set *ws);

static int on_rescan(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct watch_set *ws = data;

	loop_source_freep(&ws->rescan);
	rescan(ws);
	return 0;
}

static void on_dir_event(void *data, const char *name, bool created)
{
	struct watch_dir *d = data;

	/* An overflow reaches every watched directory: one rescan of the set
	 * for all of them, once the dispatch is over. */
	if (!name && !d->set->rescan)
		(void)loop_add_timer(d->set->sup->loop, 0, on_rescan, d->set, &d->set->rescan);
	else if (name)
		on_child(d, name, created);
}

static int add_dir(struct watch_set *ws, unsigned glob, unsigned depth, const char *path)
{
	struct watch_dir **v, *d;
	int r;

	for (size_t i = 0; i < ws->n_dirs; i++)
		if (ws->dirs[i]->glob == glob && strcmp(ws->dirs[i]->path, path) == 0)
			return 0; /* watched already (a rescan) */
	v = realloc(ws->dirs, (ws->n_dirs + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	ws->dirs = v;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	*d = (struct watch_dir){ .set = ws, .glob = glob, .depth = depth, .path = strdup(path), .fd = -1 };
	d->fd = *path ? cgfs_open_group(ws->sup->cg, path)
		      : openat(ws->sup->cg->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (!d->path || d->fd < 0) {
		r = d->path ? d->fd : -ENOMEM;
		dir_free(d);
		return r; /* gone already: its parent's event says so */
	}
	/* The watch first, then the scan: a child made between the two is
	 * seen twice at worst, never missed. */
	r = ws->sup->cfg.watch ? cgwatch_add_dir(ws->sup->cfg.watch, d->fd, on_dir_event, d, &d->entry) : -ENODEV;
	if (r < 0) {
		log_warning_errno(r, "%s: cannot watch /%s for new cgroups (fs.inotify.max_user_watches?)",
				  ws->policy->path, path);
		dir_free(d);
		return r;
	}
	ws->dirs[ws->n_dirs++] = d;
	scan(d);
	return 0;
}

/* Events were lost: every watched directory read again, and every guarded
 * cgroup that is gone forgotten. */
static void rescan(struct watch_set *ws)
{
	struct supervisor *s = ws->sup;

	log_warning("%s: inotify lost events: reading the watched directories again", ws->policy->path);
	/* Gone meanwhile, or gone and made again (another inode): forgotten,
	 * and found again below if it is there. */
	for (size_t i = 0; i < s->n_services; i++) {
		struct service *svc = s->services[i];
		struct stat st;

		if (svc->watch == ws && !svc->removed &&
		    (fstatat(s->cg->root_fd, svc->cgroup + 1, &st, 0) < 0 || st.st_ino != svc->cgroup_id))
			service_watch_end(svc, "its cgroup was removed");
	}
	for (size_t i = 0; i < ws->n_dirs;) {
		struct watch_dir *d = ws->dirs[i];
		struct stat st, now;

		if (*d->path && (fstatat(s->cg->root_fd, d->path, &now, 0) < 0 || fstat(d->fd, &st) < 0 ||
				 now.st_ino != st.st_ino)) {
			dir_free(d);
			ws->dirs[i] = ws->dirs[--ws->n_dirs];
			continue;
		}
		i++;
	}
	for (size_t i = 0; i < ws->n_dirs; i++)
		scan(ws->dirs[i]);
}

int supervisor_watch(struct supervisor *s, struct policy *p)
{
	struct watch_set **v, *ws;

	v = realloc(s->watches, (s->n_watches + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->watches = v;
	ws = calloc(1, sizeof(*ws));
	if (!ws)
		return -ENOMEM;
	*ws = (struct watch_set){ .sup = s, .policy = p };
	s->watches[s->n_watches++] = ws;
	if (p->kube.on && !p->watch_cgroups) {
		/* The kubelet's layouts: the driver's, or both until one shows. */
		const char *g[4];
		size_t n = 0;

		if (p->kube.driver != KUBE_DRIVER_CGROUPFS)
			n += kube_container_globs(KUBE_DRIVER_SYSTEMD, g + n, 4 - n);
		if (p->kube.driver != KUBE_DRIVER_SYSTEMD)
			n += kube_container_globs(KUBE_DRIVER_CGROUPFS, g + n, 4 - n);
		/* The set owns p from here: short of memory, it watches less
		 * and says so, rather than failing (and p being freed twice). */
		p->watch_cgroups = calloc(n + 1, sizeof(char *));
		for (size_t i = 0; p->watch_cgroups && i < n; i++) {
			p->watch_cgroups[p->n_watch_cgroups] = strdup(g[i]);
			if (!p->watch_cgroups[p->n_watch_cgroups]) {
				log_warning("%s: out of memory: watching only %zu of the kubelet's layouts", p->path,
					    p->n_watch_cgroups);
				break;
			}
			p->n_watch_cgroups++;
		}
	}
	for (size_t i = 0; i < p->n_watch_cgroups; i++)
		(void)add_dir(ws, (unsigned)i, 0, "");
	return 0;
}

static void set_free(struct watch_set *ws)
{
	loop_source_freep(&ws->rescan);
	for (size_t i = 0; i < ws->n_pending; i++)
		free(ws->pending[i].path);
	free(ws->pending);
	for (size_t i = 0; i < ws->n_dirs; i++)
		dir_free(ws->dirs[i]);
	free(ws->dirs);
	policy_free(ws->policy);
	free(ws);
}

void supervisor_unwatch_dirs(struct supervisor *s)
{
	for (size_t i = 0; i < s->n_watches; i++) {
		for (size_t k = 0; k < s->n_services; k++)
			if (s->services[k]->watch == s->watches[i])
				s->services[k]->watch = NULL; /* no dangling pointer while they are freed */
		set_free(s->watches[i]);
	}
	free(s->watches);
	s->watches = NULL;
	s->n_watches = 0;
}

void supervisor_unwatch_all(struct supervisor *s)
{
	for (size_t i = 0; i < s->n_services; i++)
		if (s->services[i]->watch)
			service_watch_end(s->services[i], "its watch policy was reloaded");
	supervisor_unwatch_dirs(s);
}

/* Pods whose labels or annotations changed since the last fetch: each
 * guarded container of theirs is judged again (a selector that no longer
 * takes it, guardian.dev/ignore: forgotten; guardian.dev/ overrides as
 * they are now), and the watched directories are read again for those
 * the policy takes now. */
static void kube_meta_changed(struct watch_set *ws, const struct kube_pods *pods)
{
	struct supervisor *s = ws->sup;

	for (size_t i = 0; i < s->n_services; i++) {
		struct service *svc = s->services[i];
		const struct kube_pod *pod;
		struct service_kube *k = NULL;
		struct kube_override o;
		char name[400];

		if (svc->watch != ws || svc->removed || !svc->kube ||
		    !(pod = kube_pods_find(pods, svc->kube->pod_uid)) || !pod->meta_changed)
			continue;
		if (kube_identify(ws, svc->cgroup + 1, KUBELET_WAIT_FETCHES, name, sizeof(name), &k, &o) != KUBE_TAKE) {
			service_watch_end(svc, "its pod's labels or annotations changed: its policy no longer takes it");
			continue;
		}
		if (strcmp(k->overrides, svc->kube->overrides) != 0)
			log_info("%s: the pod's guardian.dev/ annotations are now '%s' (were '%s')", svc->policy->service,
				 k->overrides, svc->kube->overrides);
		apply_overrides(svc->policy, ws->policy, &o);
		free(svc->kube);
		svc->kube = k;
		service_watch_policy_changed(svc);
		supervisor_service_changed(svc);
	}
	for (size_t i = 0; i < ws->n_dirs; i++)
		scan(ws->dirs[i]);
}

void supervisor_kube_update(struct supervisor *s)
{
	const struct kube_pods *pods = s->kubelet ? kubelet_pods(s->kubelet) : NULL;

	for (size_t i = 0; i < s->n_watches; i++) {
		struct watch_set *ws = s->watches[i];
		struct kube_pending *v = ws->pending;
		size_t n = ws->n_pending;

		if (!ws->policy->kube.on || n == 0)
			continue;
		/* Each is seen again as if just made; one that still waits is
		 * queued anew. */
		ws->pending = NULL;
		ws->n_pending = 0;
		for (size_t k = 0; k < n; k++) {
			struct stat st;

			if (fstatat(s->cg->root_fd, v[k].path, &st, 0) == 0)
				guard_since(ws, v[k].path, v[k].since);
			free(v[k].path);
		}
		free(v);
	}
	for (size_t i = 0; pods && pods->n_meta_changed && i < s->n_watches; i++)
		if (s->watches[i]->policy->kube.on)
			kube_meta_changed(s->watches[i], pods);
	/* Guarded while the kubelet could not be asked: its names now. */
	for (size_t i = 0; pods && i < s->n_services; i++) {
		struct service *svc = s->services[i];
		const struct kube_pod *pod;

		if (svc->kube && !svc->removed && strcmp(svc->kube->source, "kubelet") != 0 &&
		    (pod = kube_pods_find(pods, svc->kube->pod_uid))) {
			kube_from_pod(svc->kube, pod);
			supervisor_service_changed(svc);
		}
	}
}
