/* fakenss.c: the unit tests' user database behind -Wl,--wrap (fakenss.h).
 * Users and groups that exist nowhere else, so a test that passes cannot
 * have asked the machine's own NSS. */
#include "fakenss.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stddef.h>
#include <string.h>

unsigned fakenss_calls;

struct fake_user {
	const char *name, *home, *shell;
	uid_t uid;
	gid_t gid;
};

struct fake_group {
	const char *name;
	gid_t gid;
	const char *members[4];
};

static const struct fake_user users[] = {
	{ "root", "/root", "/bin/sh", 0, 0 },
	{ "nobody", "/nonexistent", "/usr/sbin/nologin", 65534, 65534 },
	{ "www-data", "/var/www", "/usr/sbin/nologin", 33, 33 },
	{ "recorder", "/srv/recorder", "/usr/sbin/nologin", 1001, 1001 },
	{ "sidekiq", "/srv/app", "/usr/sbin/nologin", 1002, 1002 },
	{ "unicorn", "/srv/app", "/usr/sbin/nologin", 1003, 1003 },
	/* In two groups beside its own, one of them the test-only 4343. */
	{ "svc", "/", "/bin/sh", 4242, 4242 },
};

static const struct fake_group groups[] = {
	{ "root", 0, { NULL } },
	{ "adm", 4, { "svc", NULL } },
	{ "audio", 29, { "recorder", NULL } },
	{ "www-data", 33, { NULL } },
	{ "nogroup", 65534, { NULL } },
	{ "recorder", 1001, { NULL } },
	{ "svc", 4242, { NULL } },
	{ "svc-extra", 4343, { "svc", NULL } },
};

/* A name whose lookup fails as a broken LDAP server would make it fail. */
static const char broken[] = "broken-ldap";

static struct passwd pw;
static struct group gr;

struct passwd *__wrap_getpwnam(const char *name)
{
	fakenss_calls++;
	errno = strcmp(name, broken) == 0 ? EIO : 0;
	for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++)
		if (strcmp(users[i].name, name) == 0) {
			pw = (struct passwd){ .pw_name = (char *)users[i].name, .pw_passwd = "x",
					      .pw_uid = users[i].uid, .pw_gid = users[i].gid, .pw_gecos = "",
					      .pw_dir = (char *)users[i].home, .pw_shell = (char *)users[i].shell };
			return &pw;
		}
	return NULL;
}

struct group *__wrap_getgrnam(const char *name)
{
	fakenss_calls++;
	errno = strcmp(name, broken) == 0 ? EIO : 0;
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		if (strcmp(groups[i].name, name) == 0) {
			gr = (struct group){ .gr_name = (char *)groups[i].name, .gr_passwd = "x",
					     .gr_gid = groups[i].gid, .gr_mem = (char **)groups[i].members };
			return &gr;
		}
	return NULL;
}

static void add_group(gid_t *v, int size, int *n, gid_t g)
{
	for (int i = 0; i < *n && i < size; i++)
		if (v[i] == g)
			return;
	if (*n < size)
		v[*n] = g;
	(*n)++;
}

/* glibc's contract: group first, then every group listing the user; -1
 * with *ngroups set to the count needed when the array is too small. */
int __wrap_getgrouplist(const char *user, gid_t group, gid_t *v, int *ngroups)
{
	int n = 0;

	fakenss_calls++;
	add_group(v, *ngroups, &n, group);
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		for (size_t m = 0; groups[i].members[m]; m++)
			if (strcmp(groups[i].members[m], user) == 0)
				add_group(v, *ngroups, &n, groups[i].gid);
	if (n > *ngroups) {
		*ngroups = n;
		return -1;
	}
	*ngroups = n;
	return n;
}

/* Lookups guardian has no business making: counted, and they fail, so a
 * caller that depends on one fails its test. */
struct passwd *__wrap_getpwuid(uid_t uid)
{
	fakenss_calls++;
	errno = ENOSYS;
	return NULL;
}

struct group *__wrap_getgrgid(gid_t gid)
{
	fakenss_calls++;
	errno = ENOSYS;
	return NULL;
}

int __wrap_getpwnam_r(const char *name, struct passwd *p, char *buf, size_t len, struct passwd **ret)
{
	fakenss_calls++;
	*ret = NULL;
	return ENOSYS;
}

int __wrap_getpwuid_r(uid_t uid, struct passwd *p, char *buf, size_t len, struct passwd **ret)
{
	fakenss_calls++;
	*ret = NULL;
	return ENOSYS;
}

int __wrap_getgrnam_r(const char *name, struct group *g, char *buf, size_t len, struct group **ret)
{
	fakenss_calls++;
	*ret = NULL;
	return ENOSYS;
}

int __wrap_getgrgid_r(gid_t gid, struct group *g, char *buf, size_t len, struct group **ret)
{
	fakenss_calls++;
	*ret = NULL;
	return ENOSYS;
}

int __wrap_initgroups(const char *user, gid_t group)
{
	fakenss_calls++;
	errno = ENOSYS;
	return -1;
}
