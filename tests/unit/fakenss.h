/* fakenss.h: a small user database for the unit tests, in place of NSS.
 * The test executables that link fakenss.c also link with -Wl,--wrap for
 * getpwnam, getgrnam, getgrouplist and the other lookups guardian could
 * make (fakenss_link_args in tests/unit/meson.build), so a lookup answers
 * from the table in fakenss.c, the same on every machine, and is counted:
 * a test can assert that code asks NSS nothing. */
#pragma once

#include <grp.h>
#include <pwd.h>
#include <stddef.h>

/* Every wrapped lookup made by this process so far. */
extern unsigned fakenss_calls;

/* The wrappers the linker routes the lookups to. */
struct passwd *__wrap_getpwnam(const char *name);
struct group *__wrap_getgrnam(const char *name);
int __wrap_getgrouplist(const char *user, gid_t group, gid_t *v, int *ngroups);
struct passwd *__wrap_getpwuid(uid_t uid);
struct group *__wrap_getgrgid(gid_t gid);
int __wrap_getpwnam_r(const char *name, struct passwd *p, char *buf, size_t len, struct passwd **ret);
int __wrap_getpwuid_r(uid_t uid, struct passwd *p, char *buf, size_t len, struct passwd **ret);
int __wrap_getgrnam_r(const char *name, struct group *g, char *buf, size_t len, struct group **ret);
int __wrap_getgrgid_r(gid_t gid, struct group *g, char *buf, size_t len, struct group **ret);
int __wrap_initgroups(const char *user, gid_t group);
