/* policy.c: loading policies: files and directories read safely (size,
 * mode), parsed, compiled; diagnostics collected; policies freed. */
#include "policy-internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <sys/stat.h>

/* A policy is a page of YAML; anything near this is a mistake or an attack
 * on the parser. */
#define POLICY_FILE_MAX (1024 * 1024)

static void diag_vpush(char ***list, size_t *n, const char *file, unsigned line, unsigned col, const char *kind,
		       const char *fmt, va_list ap)
{
	_cleanup_free_ char *msg = NULL;
	char *full = NULL, **msgs;
	int r;

	r = vasprintf(&msg, fmt, ap);
	if (r < 0) {
		msg = NULL;
		return;
	}
	if (line)
		r = asprintf(&full, "%s:%u:%u: %s%s", file, line, col, kind, msg);
	else
		r = asprintf(&full, "%s: %s%s", file, kind, msg);
	if (r < 0)
		return;
	msgs = realloc(*list, (*n + 1) * sizeof(*msgs));
	if (!msgs) {
		free(full);
		return;
	}
	*list = msgs;
	msgs[(*n)++] = full;
}

void diag_add(struct diag *d, const char *file, unsigned line, unsigned col, const char *fmt, ...)
{
	va_list ap;

	if (!d)
		return;
	va_start(ap, fmt);
	diag_vpush(&d->msgs, &d->n, file, line, col, "", fmt, ap);
	va_end(ap);
}

void diag_warn(struct diag *d, const char *file, unsigned line, unsigned col, const char *fmt, ...)
{
	va_list ap;

	if (!d)
		return;
	va_start(ap, fmt);
	diag_vpush(&d->warnings, &d->n_warnings, file, line, col, "warning: ", fmt, ap);
	va_end(ap);
}

static void strings_free(char ***v, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free((*v)[i]);
	free(*v);
	*v = NULL;
	*n = 0;
}

void diag_free(struct diag *d)
{
	strings_free(&d->msgs, &d->n);
	strings_free(&d->warnings, &d->n_warnings);
}

bool policy_mode_unsafe(mode_t mode, uid_t euid)
{
	/* Whoever can write a policy chooses the command root runs. */
	return euid == 0 && (mode & (S_IWGRP | S_IWOTH));
}

/* As root, a file (or a link to one) that someone else owns is theirs to
 * rewrite: whoever owns a policy chooses what root runs. */
static bool owner_unsafe(uid_t owner, uid_t euid)
{
	return euid == 0 && owner != 0;
}

int read_policy_file(const char *path, char **ret, size_t *ret_len, struct diag *d)
{
	/* Non-blocking: a FIFO named x.yaml must not hang the load. */
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	uid_t euid = geteuid();
	struct stat st, lst;
	int r;

	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		diag_add(d, path, 0, 0, "cannot read: %s", strerror(-r));
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		diag_add(d, path, 0, 0, "not a regular file (a %s); a policy is a YAML file",
			 S_ISFIFO(st.st_mode) ? "FIFO" : S_ISDIR(st.st_mode) ? "directory" : S_ISSOCK(st.st_mode) ? "socket"
												     : "device");
		return -EINVAL;
	}
	if (owner_unsafe(st.st_uid, euid) ||
	    (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode) && owner_unsafe(lst.st_uid, euid))) {
		diag_add(d, path, 0, 0,
			 "refusing a policy owned by uid %u while running as root: its owner could make root run "
			 "anything; run chown root %s", (unsigned)(owner_unsafe(st.st_uid, euid) ? st.st_uid : lst.st_uid),
			 path);
		return -EPERM;
	}
	if (fcntl(fd, F_SETFL, 0) < 0) { /* blocking reads of the regular file from here */
		r = -errno;
		diag_add(d, path, 0, 0, "cannot read: %s", strerror(-r));
		return r;
	}
	if (policy_mode_unsafe(st.st_mode, geteuid())) {
		diag_add(d, path, 0, 0,
			 "refusing a policy writable by group or others (mode %04o) while running as root; "
			 "run chmod go-w %s",
			 (unsigned)(st.st_mode & 07777), path);
		return -EPERM;
	}
	r = read_full(fd, POLICY_FILE_MAX, ret, ret_len);
	if (r == -EFBIG)
		diag_add(d, path, 0, 0, "larger than %d bytes; not a policy", POLICY_FILE_MAX);
	else if (r < 0)
		diag_add(d, path, 0, 0, "cannot read: %s", strerror(-r));
	return r;
}

static void position_of(const char *msg, size_t skip, unsigned long *ret_line, unsigned long *ret_col)
{
	char *end = NULL;

	*ret_line = strtoul(msg + skip, &end, 10);
	*ret_col = *end == ':' ? strtoul(end + 1, NULL, 10) : 0;
}

/* Checks run section by section; the user reads top to bottom. Stable
 * insertion sort of this file's messages (msgs[start..n)) by line and column. */
static void diag_sort(char **msgs, size_t n, size_t start, const char *path)
{
	size_t skip = strlen(path) + 1;

	for (size_t i = start + 1; i < n; i++) {
		char *m = msgs[i];
		unsigned long l, c, pl, pc;
		size_t j = i;

		position_of(m, skip, &l, &c);
		for (; j > start; j--) {
			position_of(msgs[j - 1], skip, &pl, &pc);
			if (pl < l || (pl == l && pc <= c))
				break;
			msgs[j] = msgs[j - 1];
		}
		msgs[j] = m;
	}
}

static int load_buffer(const char *path, const struct host_limits *host, const char *buf, size_t len,
		       struct policy **ret, struct diag *d)
{
	_cleanup_ynode_ struct ynode *root = NULL;
	struct pctx c = { .file = path, .d = d, .host = host };
	struct yerror yerr;
	struct policy *p;
	size_t start, wstart;
	int r;

	r = ynode_parse(buf, len, &root, &yerr);
	if (r < 0) {
		diag_add(d, path, yerr.line, yerr.col, "yaml: %s", yerr.msg);
		return r;
	}
	p = calloc(1, sizeof(*p));
	if (!p || !(p->path = strdup(path))) {
		free(p);
		diag_add(d, path, 0, 0, "out of memory");
		return -ENOMEM;
	}
	start = d ? d->n : 0;
	wstart = d ? d->n_warnings : 0;
	r = policy_compile(&c, root, p);
	if (d)
		diag_sort(d->warnings, d->n_warnings, wstart, path);
	if (r < 0) {
		if (d)
			diag_sort(d->msgs, d->n, start, path);
		policy_free(p);
		return -EINVAL;
	}
	*ret = p;
	return 0;
}

int policy_load_buffer_at(const char *path, const char *proc_root, const char *buf, size_t len,
			  struct policy **ret, struct diag *d)
{
	struct host_limits host;

	host_limits_read(proc_root, &host);
	return load_buffer(path, &host, buf, len, ret, d);
}

int policy_load_buffer(const char *path, const char *buf, size_t len, struct policy **ret, struct diag *d)
{
	return policy_load_buffer_at(path, NULL, buf, len, ret, d);
}

static int load_file(const char *path, const struct host_limits *host, struct policy **ret, struct diag *d)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r;

	r = read_policy_file(path, &buf, &len, d);
	if (r < 0)
		return r;
	return load_buffer(path, host, buf, len, ret, d);
}

int policy_load_file(const char *path, struct policy **ret, struct diag *d)
{
	struct host_limits host;

	host_limits_read(NULL, &host);
	return load_file(path, &host, ret, d);
}

static int policy_name_filter(const struct dirent *de)
{
	const char *dot = strrchr(de->d_name, '.');

	if (de->d_name[0] == '.' || !dot || dot == de->d_name)
		return 0;
	return strcmp(dot, ".yaml") == 0 || strcmp(dot, ".yml") == 0;
}

/* Byte order, not the locale's: load order must not change with LANG. */
static int policy_name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void free_dirents(struct dirent **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Service names are cgroup names: two files must not claim one. */
static int check_unique(struct policy **v, size_t n, struct diag *d)
{
	int r = 0;

	for (size_t j = 1; j < n; j++)
		for (size_t i = 0; i < j; i++)
			if (strcmp(v[i]->service, v[j]->service) == 0) {
				diag_add(d, v[j]->path, v[j]->service_line, v[j]->service_col,
					 "service: '%s' is already defined in %s:%u:%u", v[j]->service, v[i]->path,
					 v[i]->service_line, v[i]->service_col);
				r = -EINVAL;
				break;
			}
	return r;
}

static int load_entries(const char *dir, const struct host_limits *host, struct dirent **ents, int n,
			struct policy **v, size_t *ret_n, struct diag *d)
{
	const char *sep = dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/";
	size_t k = 0;
	int r = 0;

	for (int i = 0; i < n; i++) {
		_cleanup_free_ char *path = NULL;
		int e;

		if (asprintf(&path, "%s%s%s", dir, sep, ents[i]->d_name) < 0) {
			path = NULL;
			r = -ENOMEM;
			break;
		}
		/* Keep going after a bad file: the user fixes all of them at
		 * once. A file that could not be read now wins over a refused
		 * one, as it may read at the next try. */
		e = load_file(path, host, &v[k], d);
		if (e == 0)
			k++;
		else if (!policy_load_refused(e))
			r = e;
		else if (r == 0)
			r = -EINVAL;
	}
	*ret_n = k;
	return r;
}

/* As root, a policies directory that others can write lets them add a
 * policy of their own (or replace one) whatever the files' modes. */
static int dir_unsafe(const char *dir, struct diag *d)
{
	struct stat st;

	if (geteuid() != 0 || stat(dir, &st) < 0)
		return 0; /* scandir says why it cannot be read */
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		diag_add(d, dir, 0, 0, "refusing a policies directory writable by group or others (mode %04o) while "
			 "running as root: anyone could add a policy; run chmod go-w %s", (unsigned)(st.st_mode & 07777), dir);
		return -EPERM;
	}
	if (st.st_uid != 0) {
		diag_add(d, dir, 0, 0, "refusing a policies directory owned by uid %u while running as root; "
			 "run chown root %s", (unsigned)st.st_uid, dir);
		return -EPERM;
	}
	return 0;
}

int policy_load_dir(const char *dir, struct policy ***ret, size_t *ret_n, struct diag *d)
{
	return policy_load_dir_at(dir, NULL, ret, ret_n, d);
}

int policy_load_dir_at(const char *dir, const char *proc_root, struct policy ***ret, size_t *ret_n,
		       struct diag *d)
{
	struct host_limits host;
	struct dirent **ents = NULL;
	struct policy **v;
	size_t k = 0;
	int n, r;

	*ret = NULL;
	*ret_n = 0;
	r = dir_unsafe(dir, d);
	if (r < 0)
		return r;
	n = scandir(dir, &ents, policy_name_filter, policy_name_cmp);
	if (n < 0) {
		r = -errno;
		diag_add(d, dir, 0, 0, "cannot read directory: %s", strerror(-r));
		return r;
	}
	v = calloc((size_t)n + 1, sizeof(*v));
	if (!v) {
		free_dirents(ents, n);
		return -ENOMEM;
	}
	host_limits_read(proc_root, &host);
	r = load_entries(dir, &host, ents, n, v, &k, d);
	free_dirents(ents, n);
	if (check_unique(v, k, d) < 0 && r == 0)
		r = -EINVAL;
	if (r < 0) {
		policy_freev(v, k);
		return r;
	}
	*ret = v;
	*ret_n = k;
	return 0;
}

static void health_free(struct health_check *h)
{
	free(h->url);
	free(h->host);
	free(h->path);
	free(h->contains);
	strv_free(h->exec);
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	free(p->path);
	free(p->service);
	strv_free(p->command);
	free(p->user);
	free(p->group);
	free(p->cred.groups);
	free(p->cred.home);
	free(p->cred.shell);
	free(p->working_directory);
	for (size_t i = 0; i < p->n_environment; i++) {
		free(p->environment[i].name);
		free(p->environment[i].value);
	}
	free(p->environment);
	free(p->rlimits);
	strv_free(p->stop.command);
	free(p->output.file);
	for (size_t i = 0; i < p->n_health; i++)
		health_free(&p->health[i]);
	free(p->health);
	for (size_t i = 0; i < p->n_rules; i++) {
		free(p->rules[i].name);
		strv_free(p->rules[i].exec);
	}
	free(p->rules);
	strv_free(p->watch_cgroups);
	strv_free(p->kube.namespaces);
	strv_free(p->kube.labels);
	strv_free(p->kube.annotations);
	strv_free(p->kube.containers);
	free(p->kube.pod_logs);
	hookset_free(&p->hooks);
	free(p);
}

int policy_instance(const struct policy *p, const char *name, struct policy **ret)
{
	struct policy *q = malloc(sizeof(*q));

	if (!q)
		return -ENOMEM;
	*q = *p;
	/* A watch policy has none of what a launched service needs (the
	 * compiler refuses it), only rules among the allocated parts. */
	q->path = strdup(p->path ?: "");
	q->service = strdup(name);
	q->watch_cgroups = NULL;
	q->n_watch_cgroups = 0;
	q->cred = (struct policy_cred){ 0 }; /* no user or group either */
	q->kube.namespaces = q->kube.labels = q->kube.annotations = q->kube.containers = NULL;
	q->kube.pod_logs = NULL;
	q->rules = p->n_rules ? calloc(p->n_rules, sizeof(*q->rules)) : NULL;
	if (hookset_copy(&p->hooks, &q->hooks) < 0)
		q->hooks = (struct hookset){ 0 };
	if (!q->path || !q->service || (p->n_rules && !q->rules) || (p->hooks.n_after && !q->hooks.n_after) ||
	    (p->hooks.n_before && !q->hooks.n_before)) {
		q->n_rules = 0;
		policy_free(q);
		return -ENOMEM;
	}
	for (size_t i = 0; i < p->n_rules; i++) {
		q->rules[i] = p->rules[i];
		q->rules[i].name = strdup(p->rules[i].name);
		q->rules[i].exec = p->rules[i].exec ? strv_copy(p->rules[i].exec) : NULL;
		if (!q->rules[i].name || (p->rules[i].exec && !q->rules[i].exec)) {
			q->n_rules = i + 1;
			policy_free(q);
			return -ENOMEM;
		}
	}
	*ret = q;
	return 0;
}

bool policy_watch_matches(const char *glob, const char *path)
{
	for (;;) {
		const char *ge = strchrnul(glob, '/'), *pe = strchrnul(path, '/');
		char gseg[256], pseg[256];

		if ((size_t)(ge - glob) >= sizeof(gseg) || (size_t)(pe - path) >= sizeof(pseg))
			return false;
		memcpy(gseg, glob, (size_t)(ge - glob));
		gseg[ge - glob] = '\0';
		memcpy(pseg, path, (size_t)(pe - path));
		pseg[pe - path] = '\0';
		if (fnmatch(gseg, pseg, FNM_PERIOD) != 0)
			return false;
		if (!*ge || !*pe)
			return !*ge && !*pe;
		glob = ge + 1;
		path = pe + 1;
	}
}

void policy_freev(struct policy **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		policy_free(v[i]);
	free(v);
}

static const char *const qos_names[] = {
	[KUBE_QOS_UNKNOWN] = "unknown", [KUBE_QOS_GUARANTEED] = "Guaranteed",
	[KUBE_QOS_BURSTABLE] = "Burstable", [KUBE_QOS_BESTEFFORT] = "BestEffort",
};

const char *kube_qos_to_string(enum kube_qos q)
{
	return q < ARRAY_SIZE(qos_names) ? qos_names[q] : "unknown";
}

int kube_qos_from_string(const char *s, enum kube_qos *ret)
{
	for (size_t i = KUBE_QOS_GUARANTEED; i < ARRAY_SIZE(qos_names); i++)
		if (strcmp(s, qos_names[i]) == 0) {
			*ret = (enum kube_qos)i;
			return 0;
		}
	return -EINVAL;
}
