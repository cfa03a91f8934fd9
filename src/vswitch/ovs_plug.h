/* ovs_plug: a network node's own interfaces on the integration bridge (the
 * DHCP port of a served network, docs/network-node.md), plugged as os-vif
 * plugs a VM: a veth pair whose bridge end ("tap" + the port id's first 11
 * characters) is on the bridge with external_ids:iface-id = the port id, and
 * whose other end is in the network's namespace.
 *
 * The bridge end takes the namespace end's MTU at each call (plug again
 * after changing it). It is made in ovs-vswitchd's own network namespace (found from
 * its pid file under the rundir), so that the userspace datapath, which
 * opens interfaces in its namespace, sees it wherever the agent runs.
 *
 * Ownership: nothing returned; errors are written into err. */
#ifndef QHV_VSWITCH_OVS_PLUG_H
#define QHV_VSWITCH_OVS_PLUG_H
#include <stddef.h>

/* The bridge end's name of port_id (at most 14 characters). */
void qovs_plug_tap(const char *port_id, char out[16]);
int qovs_plug(const char *rundir, const char *bridge, const char *port_id, const char *mac,
              const char *netns, const char *ifname, char *err, size_t errlen);
int qovs_unplug(const char *rundir, const char *bridge, const char *port_id, char *err,
                size_t errlen);

#endif
