/* main.c: guardian's command line, the host check, and wiring the pieces
 * into one event loop. The only file that knows both sides: it subscribes
 * the monitor, the BPF observers and the control socket to the
 * supervisor's service hooks, and hands BPF's signal reports to services. */
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <sysexits.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

#include "actionlog.h"
#include "hooks.h"
#include "bpf.h"
#include "cgfs.h"
#include "cgwatch.h"
#include "control.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "notify.h"
#include "spawn.h"
#include "policy.h"
#include "monitor.h"
#include "supervisor.h"
#include "sysguard-run.h"

struct options {
	const char *policies;
	const char *state_dir;
	const char *runtime_dir;
	const char *cgroup_root;
	const char *cgroup_parent;
	const char *proc_root;
	const char *admin_group;
	bool dry_run;
	bool no_bpf;
	bool no_system_guard;
	struct sysguard_threshold min_available;
	bool verbose;
	bool check_host_only;
	struct kubelet_config kubelet; /* url NULL: no kubelet client */
	const char *metrics_listen;    /* NULL: no /metrics */
	const char *log_target;        /* auto, journal or stderr */
	bool journal;                  /* what log_target came to */
	const char *hooks_file;        /* --hooks: daemon-wide hooks; NULL: none */
	struct sockaddr_storage metrics_addr;
	socklen_t metrics_addr_len;
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: guardian [OPTIONS]\n"
		"Launch services into cgroup v2 groups and guard their memory.\n\n"
		"  --policies DIR        policy files (*.yaml), default /etc/guardian/policies.d\n"
		"  --state-dir DIR       action log, service output, state; default /var/lib/guardian\n"
		"  --runtime-dir DIR     control socket; default /run/guardian\n"
		"  --cgroup-root DIR     the cgroup2 mount; default /sys/fs/cgroup\n"
		"  --cgroup-parent PATH  cgroup the services live under (default: guardian's own)\n"
		"  --admin-group NAME    members may start/stop services (root always may)\n"
		"  --dry-run             decide and record, but change nothing\n"
		"  --no-bpf              do not load the BPF observers\n"
		"  --system-min-available PCT|SIZE[,..]  restart a victim when MemAvailable is lower;\n"
		"                        default 10%%,2G (the lower of the two)\n"
		"  --no-system-guard     do not watch system-wide memory pressure\n"
		"  --kubelet URL|HOST    ask this kubelet's /pods for pod names, labels and annotations\n"
		"                        (HOST alone: https://HOST:10250)\n"
		"  --kubelet-token FILE  bearer token; default the pod's service-account token\n"
		"  --kubelet-ca FILE     CA of the kubelet's serving certificate; default the pod's\n"
		"                        service-account ca.crt\n"
		"  --kubelet-insecure-tls  do not check the kubelet's serving certificate\n"
		"  --metrics-listen ADDR:PORT  serve Prometheus /metrics there (127.0.0.1:9464, [::1]:9464)\n"
		"  --hooks FILE          daemon-wide hooks (after: [...]), run for every service\n"
		"  --check-host          only check for a usable cgroup v2 memory controller\n"
		"  --log-target auto|journal|stderr  log lines and action-log records to the journal\n"
		"                        too (auto: when stderr is the journal stream); default auto\n"
		"  --verbose             debug logging\n"
		"  --version             print the version\n"
		"  --help                this text\n");
}

enum { OPT_POLICIES = 256, OPT_STATE, OPT_RUNTIME, OPT_CGROOT, OPT_CGPARENT, OPT_PROC, OPT_ADMIN,
       OPT_DRY, OPT_NOBPF, OPT_MINAVAIL, OPT_NOSYSGUARD, OPT_VERBOSE, OPT_CHECK_HOST, OPT_VERSION, OPT_HELP,
       OPT_KUBELET, OPT_KUBELET_TOKEN, OPT_KUBELET_CA, OPT_KUBELET_INSECURE, OPT_METRICS,
       OPT_LOG_TARGET, OPT_HOOKS };

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* --kubelet-token and --kubelet-ca must name readable files; left out,
 * they are the pod's service-account files where those exist. */
static int kubelet_options(struct kubelet_config *k)
{
	const char *given[] = { k->token_file, k->ca_file };
	static const char *const names[] = { "--kubelet-token", "--kubelet-ca" };
	static const char *const defaults[] = { SA_DIR "/token", SA_DIR "/ca.crt" };
	const char **slot[] = { &k->token_file, &k->ca_file };

	for (size_t i = 0; i < ARRAY_SIZE(given); i++) {
		if (given[i] && !k->url) {
			fprintf(stderr, "guardian: %s needs --kubelet URL\n", names[i]);
			return -EINVAL;
		}
		if (given[i] && access(given[i], R_OK) < 0) {
			fprintf(stderr, "guardian: %s '%s': %s\n", names[i], given[i], strerror(errno));
			return -EINVAL;
		}
		if (!given[i] && k->url && access(defaults[i], R_OK) == 0)
			*slot[i] = defaults[i];
	}
	if (k->insecure_tls && !k->url) {
		fprintf(stderr, "guardian: --kubelet-insecure-tls needs --kubelet URL\n");
		return -EINVAL;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "policies", required_argument, NULL, OPT_POLICIES },
		{ "state-dir", required_argument, NULL, OPT_STATE },
		{ "runtime-dir", required_argument, NULL, OPT_RUNTIME },
		{ "cgroup-root", required_argument, NULL, OPT_CGROOT },
		{ "cgroup-parent", required_argument, NULL, OPT_CGPARENT },
		{ "proc-root", required_argument, NULL, OPT_PROC },
		{ "admin-group", required_argument, NULL, OPT_ADMIN },
		{ "dry-run", no_argument, NULL, OPT_DRY },
		{ "no-bpf", no_argument, NULL, OPT_NOBPF },
		{ "system-min-available", required_argument, NULL, OPT_MINAVAIL },
		{ "no-system-guard", no_argument, NULL, OPT_NOSYSGUARD },
		{ "verbose", no_argument, NULL, OPT_VERBOSE },
		{ "check-host", no_argument, NULL, OPT_CHECK_HOST },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "kubelet", required_argument, NULL, OPT_KUBELET },
		{ "kubelet-token", required_argument, NULL, OPT_KUBELET_TOKEN },
		{ "kubelet-ca", required_argument, NULL, OPT_KUBELET_CA },
		{ "kubelet-insecure-tls", no_argument, NULL, OPT_KUBELET_INSECURE },
		{ "metrics-listen", required_argument, NULL, OPT_METRICS },
		{ "log-target", required_argument, NULL, OPT_LOG_TARGET },
		{ "hooks", required_argument, NULL, OPT_HOOKS },
		{ "help", no_argument, NULL, OPT_HELP },
		{},
	};
	int c;

	*o = (struct options){
		.policies = "/etc/guardian/policies.d",
		.state_dir = "/var/lib/guardian",
		.runtime_dir = "/run/guardian",
		.cgroup_root = CGFS_DEFAULT_ROOT,
		.proc_root = "/proc",
		.log_target = "auto",
	};
	(void)sysguard_parse_threshold(SYSGUARD_MIN_AVAILABLE_DEFAULT, &o->min_available);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_POLICIES: o->policies = optarg; break;
		case OPT_HOOKS: o->hooks_file = optarg; break;
		case OPT_STATE: o->state_dir = optarg; break;
		case OPT_RUNTIME: o->runtime_dir = optarg; break;
		case OPT_CGROOT: o->cgroup_root = optarg; break;
		case OPT_CGPARENT:
			if (optarg[0] != '/' || strstr(optarg, "/..")) {
				fprintf(stderr, "guardian: --cgroup-parent '%s': must be an absolute cgroup "
						"path like /guardian.slice, without '..'\n", optarg);
				return -EINVAL;
			}
			o->cgroup_parent = optarg;
			break;
		case OPT_PROC: o->proc_root = optarg; break;
		case OPT_ADMIN: o->admin_group = optarg; break;
		case OPT_DRY: o->dry_run = true; break;
		case OPT_NOBPF: o->no_bpf = true; break;
		case OPT_MINAVAIL:
			if (sysguard_parse_threshold(optarg, &o->min_available) < 0) {
				fprintf(stderr, "guardian: --system-min-available '%s': expected a percentage of "
						"MemTotal (5%%), a size (512M), or both (5%%,1G)\n", optarg);
				return -EINVAL;
			}
			break;
		case OPT_NOSYSGUARD: o->no_system_guard = true; break;
		case OPT_KUBELET: o->kubelet.url = optarg; break;
		case OPT_KUBELET_TOKEN: o->kubelet.token_file = optarg; break;
		case OPT_KUBELET_CA: o->kubelet.ca_file = optarg; break;
		case OPT_KUBELET_INSECURE: o->kubelet.insecure_tls = true; break;
		case OPT_METRICS:
			if (metrics_parse_listen(optarg, &o->metrics_addr, &o->metrics_addr_len) < 0) {
				fprintf(stderr, "guardian: --metrics-listen '%s': expected a numeric ADDR:PORT, e.g. "
						"127.0.0.1:9464 or [::1]:9464\n", optarg);
				return -EINVAL;
			}
			o->metrics_listen = optarg;
			break;
		case OPT_LOG_TARGET:
			if (strcmp(optarg, "auto") != 0 && strcmp(optarg, "journal") != 0 &&
			    strcmp(optarg, "stderr") != 0) {
				fprintf(stderr, "guardian: --log-target '%s': expected auto, journal or stderr\n",
					optarg);
				return -EINVAL;
			}
			o->log_target = optarg;
			break;
		case OPT_VERBOSE: o->verbose = true; break;
		case OPT_CHECK_HOST: o->check_host_only = true; break;
		case OPT_VERSION: printf("guardian %s\n", GUARDIAN_VERSION); return 1;
		case OPT_HELP: usage(stdout); return 1;
		default:
			if (optopt)
				fprintf(stderr, "guardian: option '%s' needs %s\n", argv[optind - 1],
					"an argument or is unknown");
			else
				fprintf(stderr, "guardian: unknown option '%s'\n", argv[optind - 1]);
			fprintf(stderr, "Try 'guardian --help'.\n");
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "guardian: unexpected argument '%s'\nTry 'guardian --help'.\n", argv[optind]);
		return -EINVAL;
	}
	return kubelet_options(&o->kubelet);
}

/* Refuse a host whose memory controller is not usable through cgroup v2:
 * guarding memory is the whole point. */
static int check_host(const struct options *o)
{
	_cleanup_free_ char *reason = NULL;
	int r = cgfs_check_memory_controller(o->cgroup_root, o->proc_root, &reason);

	if (r == 0)
		return 0;
	log_error("refusing to start: no usable cgroup v2 memory controller at %s.", o->cgroup_root);
	log_error("%s", reason ? reason : strerror(-r));
	log_error("guardian needs the unified cgroup v2 hierarchy with the memory controller: boot "
		  "with 'systemd.unified_cgroup_hierarchy=1' (systemd hosts) or 'cgroup_no_v1=all' on "
		  "the kernel command line, then check that 'memory' is listed in %s/cgroup.controllers.",
		  o->cgroup_root);
	return r;
}

static int mkdir_p(const char *path, mode_t mode)
{
	_cleanup_free_ char *p = strdup(path);

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int make_dirs(const struct options *o)
{
	_cleanup_free_ char *logs = NULL;
	const char *dirs[] = { o->state_dir, o->runtime_dir };
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		r = mkdir_p(dirs[i], 0755);
		if (r < 0)
			return log_error_errno(r, "cannot create %s", dirs[i]);
	}
	if (asprintf(&logs, "%s/logs", o->state_dir) < 0)
		return -ENOMEM;
	r = mkdir_p(logs, 0750);
	if (r < 0)
		return log_error_errno(r, "cannot create %s", logs);
	return 0;
}

/* One guardian per state directory: a second one would unlink the first's
 * socket and manage the same cgroups beside it. An flock (dropped by the
 * kernel however guardian ends) with the holder's pid in the file. */
static int take_lock(const char *state_dir, int *ret_fd)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -1;
	char pid[32] = "";
	ssize_t n;

	if (asprintf(&path, "%s/guardian.lock", state_dir) < 0)
		return -ENOMEM;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return log_error_errno(-errno, "cannot open %s", path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int r = -errno;

		if (r != -EWOULDBLOCK)
			return log_error_errno(r, "cannot lock %s", path);
		n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		log_error("another guardian (pid %s) is running with the state directory %s; stop it first "
			  "(systemctl stop guardian), or give this one its own --state-dir and --runtime-dir",
			  pid[0] ? pid : "?", state_dir);
		return -EBUSY;
	}
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, strlen(pid), 0) < 0)
		log_warning_errno(-errno, "cannot write guardian's pid into %s", path);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* A load's warnings and errors into the log; d is emptied. */
static void log_diag(struct diag *d)
{
	for (size_t i = 0; i < d->n_warnings; i++)
		log_warning("%s", d->warnings[i]);
	for (size_t i = 0; i < d->n; i++)
		log_error("%s", d->msgs[i]);
	diag_free(d);
}

static int load_hooks(const char *path, struct hookset *ret)
{
	struct diag d = { 0 };
	int r = hookset_load_file(path, ret, &d);

	log_diag(&d);
	if (r < 0)
		return log_error_errno(r, "--hooks %s: cannot load the hooks", path);
	log_info("--hooks %s: %zu hook(s)", path, ret->n_after);
	return 0;
}

static int load_policies(const struct options *o, struct policy ***ret, size_t *ret_n)
{
	struct diag d = { 0 };
	int r = policy_load_dir_at(o->policies, o->proc_root, ret, ret_n, &d);

	log_diag(&d);
	if (r < 0)
		return log_error_errno(r, "cannot load the policies in %s", o->policies);
	if (*ret_n == 0)
		log_warning("no policies in %s: nothing to guard yet", o->policies);
	return 0;
}

struct daemon {
	struct options opt;
	struct cgfs cg;
	struct loop *loop;
	struct cgwatch *watch;
	struct actionlog *actions;
	struct supervisor *sup;
	struct monitors *monitors;
	struct control *control;
	struct bpf_observers *bpf;
	struct sysguard *sysguard;
	struct kubelet *kubelet;
	struct metrics *metrics;
	struct hookset daemon_hooks; /* --hooks */
	struct hooks *hooks;
	char *socket_path;
	int lock_fd; /* <state-dir>/guardian.lock, held while guardian runs */
};

/* Validate the whole directory first; a broken set changes nothing. */
static struct json_object *reload(void *data)
{
	struct daemon *d = data;
	struct json_object *reply = json_object_new_object(), *list = json_object_new_array();
	struct policy **v = NULL;
	struct diag diag = { 0 };
	size_t n = 0;
	int r;

	log_info("reloading the policies in %s", d->opt.policies);
	r = policy_load_dir_at(d->opt.policies, d->opt.proc_root, &v, &n, &diag);
	if (diag.n_warnings) {
		struct json_object *warnings = json_object_new_array();

		for (size_t i = 0; i < diag.n_warnings; i++) {
			log_warning("%s", diag.warnings[i]);
			json_object_array_add(warnings, json_object_new_string(diag.warnings[i]));
		}
		json_object_object_add(reply, "warnings", warnings);
	}
	if (r < 0) {
		for (size_t i = 0; i < diag.n; i++) {
			log_error("%s", diag.msgs[i]);
			json_object_array_add(list, json_object_new_string(diag.msgs[i]));
		}
		if (diag.n == 0)
			json_object_array_add(list, json_object_new_string(strerror(-r)));
		log_error("reload refused: the running policies stay in force");
		json_object_object_add(reply, "ok", json_object_new_boolean(0));
		json_object_object_add(reply, "error", json_object_new_string(
			"policies not reloaded: the running set stays in force"));
		json_object_object_add(reply, "errors", list);
		diag_free(&diag);
		return reply;
	}
	diag_free(&diag);
	r = supervisor_reload(d->sup, v, n, list);
	policy_freev(v, n);
	json_object_object_add(reply, "ok", json_object_new_boolean(r == 0));
	if (r < 0)
		json_object_object_add(reply, "error", json_object_new_string(strerror(-r)));
	json_object_object_add(reply, "changes", list);
	return reply;
}

static int on_signal(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			/* Services keep running: a guardian restart re-adopts them. */
			log_info("SIG%s: exiting; services keep running", sigabbrev_np((int)si.ssi_signo));
			loop_quit(loop_source_loop(src), 0);
			break;
		case SIGHUP:
			json_object_put(reload(data));
			break;
		default:
			break;
		}
	}
	return 0;
}

static int setup_signals(struct loop *loop, void *daemon)
{
	sigset_t mask;
	int fd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	/* SIGCHLD stays blocked: children are reaped through their pidfds. */
	sigaddset(&mask, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	sigdelset(&mask, SIGCHLD);
	fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	return loop_add_fd(loop, fd, EPOLLIN, true, on_signal, daemon, NULL);
}

static int resolve_admin_gid(const char *name, gid_t *ret)
{
	struct group *g;

	*ret = (gid_t)-1;
	if (!name)
		return 0;
	g = getgrnam(name);
	if (!g) {
		log_error("--admin-group '%s': no such group", name);
		return -ENOENT;
	}
	*ret = g->gr_gid;
	return 0;
}

static int on_watchdog(struct loop_source *src, int fd, uint32_t revents, void *data)
{
	(void)notify_send("WATCHDOG=1");
	return 0;
}

/* systemd's watchdog: ping at half the interval it asked for, so one late
 * loop iteration is not a missed ping. */
static int setup_watchdog(struct loop *loop)
{
	usec_t wd = notify_watchdog_usec();

	if (!wd)
		return 0;
	return loop_add_interval(loop, wd / 2, on_watchdog, NULL, NULL);
}

/* --- the BPF observers' side of the service hooks --------------------------- */

static void bpf_cgroup_opened(void *data, struct service *svc)
{
	int r = bpf_observers_guard(data, svc->cgroup_id, svc->cgfd, svc->policy->service, svc->cgroup);

	if (r < 0)
		log_warning_errno(r, "%s: the BPF observers cannot watch it", svc->policy->service);
}

static void bpf_removed(void *data, struct service *svc)
{
	/* A policy removed and added back before the old service was reaped
	 * shares its cgroup (and id) with the new one, which keeps it. */
	for (size_t i = 0; i < svc->sup->n_services; i++) {
		const struct service *other = svc->sup->services[i];

		if (other != svc && !other->removed && other->cgroup_id == svc->cgroup_id)
			return;
	}
	bpf_observers_unguard(data, svc->cgroup_id);
}

static const struct service_hooks bpf_hooks = {
	.cgroup_opened = bpf_cgroup_opened,
	.removed = bpf_removed,
};

/* The signal observer saw a fatal signal to a guarded cgroup's process. */
static void on_bpf_signal(void *data, uint64_t cgroup_id, const struct signal_sender *s)
{
	struct daemon *d = data;
	struct service *svc = supervisor_find_by_cgroup_id(d->sup, cgroup_id);

	if (svc)
		service_note_signal(svc, s);
}

/* A kernel OOM kill in a pod container: its record names the pod. */
static void on_bpf_annotate(void *data, uint64_t cgroup_id, struct json_object *rec)
{
	struct daemon *d = data;
	struct service *svc = supervisor_find_by_cgroup_id(d->sup, cgroup_id);
	struct json_object *k = service_kube_json(svc);

	if (k)
		json_object_object_add(rec, "kubernetes", k);
}

static void on_kubelet_update(void *data)
{
	supervisor_kube_update(data);
}

static int setup_metrics(struct daemon *d)
{
	struct metrics_config mcfg = { .addr = d->opt.metrics_addr, .addr_len = d->opt.metrics_addr_len,
				       .sup = d->sup, .monitors = d->monitors, .bpf = d->bpf, .actions = d->actions };
	int r;

	if (!d->opt.metrics_listen)
		return 0;
	r = metrics_new(d->loop, &mcfg, &d->metrics);
	if (r < 0)
		return log_error_errno(r, "--metrics-listen %s: cannot serve /metrics there", d->opt.metrics_listen);
	log_info("metrics: http://%s/metrics", metrics_address(d->metrics));
	return 0;
}

static int daemon_setup(struct daemon *d, struct policy **policies, size_t n)
{
	struct supervisor_config scfg = { .state_dir = d->opt.state_dir, .cgroup_parent = d->opt.cgroup_parent,
					  .proc_root = d->opt.proc_root, .dry_run = d->opt.dry_run };
	struct bpf_observers_config bcfg = { .disabled = d->opt.no_bpf, .proc_root = d->opt.proc_root,
					     .on_signal = on_bpf_signal, .annotate = on_bpf_annotate, .data = d };
	struct control_config ccfg = { .allow_read = true };
	size_t i;
	int r;

	r = cgfs_open(d->opt.cgroup_root, &d->cg);
	if (r < 0)
		return log_error_errno(r, "cannot open %s", d->opt.cgroup_root);
	r = make_dirs(&d->opt);
	if (r < 0)
		return r;
	r = take_lock(d->opt.state_dir, &d->lock_fd);
	if (r < 0)
		return r;
	r = actionlog_open(d->opt.state_dir, 10 << 20, 5, &d->actions);
	if (r < 0)
		return log_error_errno(r, "cannot open the action log in %s", d->opt.state_dir);
	actionlog_set_journal(d->actions, d->opt.journal);
	r = loop_new(&d->loop);
	if (r < 0)
		return r;
	r = setup_signals(d->loop, d);
	if (r < 0)
		return log_error_errno(r, "cannot set up signal handling");
	r = setup_watchdog(d->loop);
	if (r < 0)
		return log_error_errno(r, "cannot set up the watchdog timer");
	r = cgwatch_new(d->loop, &d->watch);
	if (r < 0)
		return log_error_errno(r, "cannot create an inotify instance");
	scfg.log = bcfg.log = d->actions;
	scfg.watch = bcfg.watch = d->watch;
	r = supervisor_new(d->loop, &d->cg, &scfg, &d->sup);
	if (r < 0)
		return r;
	if (d->opt.kubelet.url) {
		r = kubelet_new(d->loop, &d->opt.kubelet, on_kubelet_update, d->sup, &d->kubelet);
		if (r < 0)
			return log_error_errno(r, "cannot set up the kubelet client");
		d->sup->kubelet = d->kubelet;
	}
	r = hooks_new(d->loop, d->actions, d->sup, &d->daemon_hooks, &d->hooks);
	r = r ?: actionlog_add_observer(d->actions, hooks_on_record, d->hooks);
	if (r < 0)
		return log_error_errno(r, "cannot set up the hooks");
	r = monitors_new(&(struct monitors_config){ .loop = d->loop, .watch = d->watch, .log = d->actions,
						    .proc_root = d->opt.proc_root, .hooks = d->hooks },
			 &d->monitors);
	r = r ?: supervisor_subscribe(d->sup, &monitor_hooks, d->monitors);
	if (r < 0)
		return log_error_errno(r, "cannot set up the pressure engine");
	for (i = 0; i < n; i++) {
		if (policy_watches(policies[i]))
			continue; /* guarded once every hook is in place (main) */
		r = supervisor_add(d->sup, policies[i], NULL);
		if (r < 0)
			break;
		policies[i] = NULL;
	}
	if (r < 0)
		return log_error_errno(r, "cannot set up services");
	r = supervisor_load_state(d->sup);
	if (r < 0)
		log_warning_errno(r, "ignoring %s/state.json", d->opt.state_dir);
	ccfg.bpf_status = bpf_observers_start(d->loop, &bcfg, &d->bpf);
	if (d->bpf) {
		r = supervisor_subscribe(d->sup, &bpf_hooks, d->bpf);
		if (r < 0)
			return log_error_errno(r, "cannot set up the BPF observers");
	}
	ccfg.bpf = d->bpf;
	ccfg.monitors = d->monitors;
	ccfg.actions_path = actionlog_path(d->actions);
	ccfg.actions = d->actions;
	r = resolve_admin_gid(d->opt.admin_group, &ccfg.admin_gid);
	if (r < 0)
		return r;
	if (asprintf(&d->socket_path, "%s/guardian.sock", d->opt.runtime_dir) < 0)
		return -ENOMEM;
	ccfg.socket_path = d->socket_path;
	ccfg.reload = reload;
	ccfg.reload_data = d;
	r = control_new(d->loop, d->sup, &ccfg, &d->control);
	if (r < 0)
		return log_error_errno(r, "cannot listen on %s", d->socket_path);
	return setup_metrics(d);
}

static void daemon_done(struct daemon *d)
{
	/* Top down: the supervisor's `removed` hooks still reach the monitors
	 * and the BPF observers, which go after it. */
	metrics_free(d->metrics);
	control_free(d->control);
	sysguard_stop(d->sysguard);
	supervisor_free(d->sup);
	kubelet_free(d->kubelet);
	bpf_observers_stop(d->bpf);
	monitors_free(d->monitors);
	if (d->hooks)
		actionlog_remove_observer(d->actions, hooks_on_record, d->hooks);
	hooks_free(d->hooks);
	hookset_free(&d->daemon_hooks);
	cgwatch_free(d->watch);
	loop_free(d->loop);
	actionlog_close(d->actions);
	cgfs_close(&d->cg);
	free(d->socket_path);
	if (d->lock_fd >= 0)
		close(d->lock_fd);
}

int main(int argc, char **argv)
{
	struct daemon d = { .lock_fd = -1 };
	struct policy **policies = NULL;
	size_t n = 0;
	int r;

	r = parse_args(argc, argv, &d.opt);
	if (r != 0)
		return r > 0 ? 0 : 2;
	bool stderr_is_journal = log_stderr_is_journal();

	d.opt.journal = strcmp(d.opt.log_target, "journal") == 0 ||
		  (strcmp(d.opt.log_target, "auto") == 0 && stderr_is_journal);
	/* In the journal, lines are native entries with their PRIORITY; where
	 * journald refuses one it goes to stderr, with the "<N>" prefix when
	 * stderr is the journal stream. */
	log_setup("guardian", d.opt.verbose ? LOG_LVL_DEBUG : LOG_LVL_INFO, stderr_is_journal);
	if (d.opt.journal && !log_journal_available()) {
		log_warning("--log-target %s: no journald at %s; logging to stderr, records to the file only",
			    d.opt.log_target, LOG_JOURNAL_SOCKET);
		d.opt.journal = false;
	}
	log_set_journal(d.opt.journal);
	/* A host without cgroup v2's memory controller, or policies that are
	 * refused (invalid, too large, or in files or a directory not root's
	 * or writable by others), stay so until an admin changes them: EX_CONFIG, which the unit's
	 * RestartPreventExitStatus= keeps from restarting in a loop. A file
	 * that cannot be read now (a late mount, no memory) may be readable
	 * at the next start: 1. */
	if (check_host(&d.opt) < 0)
		return EX_CONFIG;
	if (d.opt.check_host_only) {
		printf("%s: cgroup v2 with the memory controller: usable\n", d.opt.cgroup_root);
		return 0;
	}
	r = load_policies(&d.opt, &policies, &n);
	if (r == 0 && d.opt.hooks_file)
		r = load_hooks(d.opt.hooks_file, &d.daemon_hooks);
	if (r < 0)
		return policy_load_refused(r) ? EX_CONFIG : 1;
	srandom((unsigned)(now_monotonic() ^ (usec_t)getpid()));
	{
		rlim_t nofile;

		r = spawn_raise_nofile(&nofile);
		if (r < 0)
			log_warning_errno(r, "cannot raise RLIMIT_NOFILE: guarding many services may run out of fds");
		else
			log_debug("RLIMIT_NOFILE raised to %llu", (unsigned long long)nofile);
	}
	r = daemon_setup(&d, policies, n);
	for (size_t i = 0; r == 0 && i < n; i++)
		if (policies[i] && policy_watches(policies[i]) && (r = supervisor_watch(d.sup, policies[i])) == 0)
			policies[i] = NULL;
	policy_freev(policies, n);
	if (r < 0) {
		daemon_done(&d);
		return 1;
	}
	log_info("guardian %s: %zu service(s), control socket %s%s", GUARDIAN_VERSION, d.sup->n_services,
		 d.socket_path, d.opt.dry_run ? ", dry run" : "");
	supervisor_start_all(d.sup);
	if (!d.opt.no_system_guard) {
		struct sysguard_run_config gcfg = {
			.guard = { .proc_root = d.opt.proc_root, .min_available = d.opt.min_available,
				   .psi_full_limit = SYSGUARD_PSI_FULL_DEFAULT, .dry_run = d.opt.dry_run },
			.log = d.actions, .growth = monitor_growth, .engaged = monitor_engaged,
			.growth_data = d.monitors };

		r = sysguard_start(d.loop, d.sup, &gcfg, &d.sysguard);
		if (r < 0)
			log_warning_errno(r, "cannot start the system-wide guard; services are guarded one by one only");
	}
	notify_ready();
	r = loop_run(d.loop);
	notify_stopping();
	daemon_done(&d);
	return r < 0 ? 1 : 0;
}
