/* dummy: a host's virtual switch kept in a JSON state file, so that it
 * survives agent restarts and tests (or qhvctl dummy ...) can change it from
 * other processes, as Open vSwitch's netdev-dummy runs the whole daemon in
 * tests. Option: [dummy] state_file.
 *
 * The file:
 *   {"nics":     ["<port id>", ...],               VM NICs present
 *    "objects":  {"KIND/KEY": {"value": ..., "owner": "qhv"|"foreign"}},
 *    "faults":   {"fail_nth": N,     fail the Nth next op (counting down; 0 = off)
 *                 "fail_kind": K,    only ops on objects of kind K count (null = any)
 *                 "slow_ms": M,      every op sleeps M ms
 *                 "vanish": ["KIND/KEY", ...]},   gone at the next dump
 *    "counters": {"ops", "creates", "updates", "deletes", "failed"},
 *    "dhcp":     {"networks": {...}, "hosts": {...},   a network node's ([dhcp]
 *                 "plugged": ["<port id>", ...]}}      enabled): what it would serve
 *                                                      (the plan's dhcp_networks and
 *                                                      dhcp_hosts) and the DHCP
 *                                                      ports it plugged as NICs
 *
 * Every access is a read-modify-write under an exclusive lock on
 * "<state_file>.lock" (flock(2); LockFileEx on Windows: lib/plat.h),
 * and every write is atomic (a temporary file renamed over the state file).
 * A missing file is an empty switch. Objects owned by "foreign" are never
 * changed by operate (-EPERM). port/ and acl/ objects need their NIC
 * (-ENOENT otherwise). "ops" counts every op attempted; creates, updates and
 * deletes count the ones that succeeded; failed the ones that did not. */
#ifndef QHV_VSWITCH_DUMMY_H
#define QHV_VSWITCH_DUMMY_H
#include "vswitch/vswitch.h"

extern const qvs_class qvs_dummy_class;

/* Read-modify-write of a state file under its lock. fn gets the state (every
 * top-level member present with its type) and returns < 0 on error (err
 * filled; nothing written), 0 for no change, > 0 to write the state back.
 * Returns fn's result, or -1 if the file could not be read or written. */
typedef int (*qvs_dummy_edit_fn)(qj *state, void *arg, char *err, size_t errlen);
int qvs_dummy_edit(const char *path, qvs_dummy_edit_fn fn, void *arg, char *err, size_t errlen);

/* The state (normalised as for edit), read under the lock. *ret is owned by
 * the caller. */
int qvs_dummy_load(const char *path, qj **ret, char *err, size_t errlen);

#endif
