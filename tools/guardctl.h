/* guardctl.h: what guardctl's commands share: one request to the daemon
 * and reading fields of its answers. */
#pragma once

#include <json-c/json.h>

#include "util.h"

/* Send {"command":cmd,"service":service}; the answer in *ret. Prints why
 * on failure (daemon not running, refused) and returns a negative errno. */
int request(const char *socket_path, const char *cmd, const char *service, struct json_object **ret);
/* The command's default limit on a request, unless --timeout gave one:
 * none for the commands that change state. */
void request_set_timeout(const char *cmd);
/* Lowers the limit to max, unless --timeout gave one. */
void request_limit_timeout(usec_t max);
const char *get_str(struct json_object *o, const char *key, const char *dflt);

/* guardctl log [SERVICE] [--json] [--follow] [--file PATH] */
int cmd_log(const char *socket_path, int argc, char **argv);
/* guardctl explain SERVICE [--json] */
int cmd_explain(const char *socket_path, int argc, char **argv);
/* guardctl top [--interval SECONDS] */
int cmd_top(const char *socket_path, int argc, char **argv);
