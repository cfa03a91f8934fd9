/* qhvctl's subcommands, one function each (argv after the subcommand's name;
 * returns the process exit status). */
#ifndef QHV_CTL_QHVCTL_H
#define QHV_CTL_QHVCTL_H
#include <stddef.h>
#include "lib/json.h"

int qctl_dummy(int argc, char **argv);
int qctl_nova_events(int argc, char **argv);

/* GET path on qhv-server (with the agent token T, else the Keystone token
 * if any); *ret = the parsed body (NULL if not JSON, the caller frees).
 * Returns the HTTP status, or -1 with err set; err is set for >= 400 too. */
int qctl_get(const char *path, const char *token, qj **ret, char *err, size_t errlen);
int qctl_wmimodel(int argc, char **argv);

#endif
