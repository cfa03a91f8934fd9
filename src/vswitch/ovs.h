/* ovs: the Open vSwitch backend of qhv-agent (Linux). Options: [ovs]
 * integration_bridge, datapath_type, ovs_rundir, state_file; the GRE source
 * is [agent] provider_address; physical bridges come from the mappings
 * ([ovs] bridge_mappings, an alias of [agent]
 * physical_network_vswitch_mappings). See docs/ovs.md. */
#ifndef QHV_VSWITCH_OVS_H
#define QHV_VSWITCH_OVS_H
#include "vswitch/vswitch.h"

extern const qvs_class qvs_ovs_class;

#endif
