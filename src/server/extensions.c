#include "server/extensions.h"
#include "lib/util.h"
#include <string.h>

typedef struct qext {
    const char *alias, *name, *updated, *description;
} qext;

/* Only what is implemented; each row's behaviour is tested in tests/api. */
static const qext qext_table[] = {
    {"allowed-address-pairs", "Allowed Address Pairs", "2013-07-23T10:00:00-00:00",
     "Provides allowed address pairs"},
    {"agent", "agent", "2013-02-03T10:00:00-00:00", "The agent management extension."},
    {"availability_zone", "Availability Zone", "2015-01-01T10:00:00-00:00",
     "The availability zone extension."},
    {"availability_zone_filter", "Availability Zone Filter Extension",
     "2018-06-22T10:00:00-00:00", "Add filter parameters to AvailabilityZone resource"},
    {"binding", "Port Binding", "2014-02-03T10:00:00-00:00",
     "Expose port bindings of a virtual port to external application"},
    {"default-subnetpools", "Default Subnetpools", "2016-02-18T18:00:00-00:00",
     "Provides ability to mark and use a subnetpool as the default."},
    {"dhcp_agent_scheduler", "DHCP Agent Scheduler", "2013-02-07T10:00:00-00:00",
     "Schedule networks among dhcp agents"},
    {"empty-string-filtering", "Empty String Filtering Extension", "2018-05-01T10:00:00-00:00",
     "Allow filtering by attributes with empty string value"},
    {"extra_dhcp_opt", "Neutron Extra DHCP options", "2013-03-17T12:00:00-00:00",
     "Extra options configuration for DHCP. For example PXE boot options to DHCP clients can "
     "be specified (e.g. tftp-server, server-ip-address, bootfile-name)"},
    {"external-net", "Neutron external network", "2013-01-14T10:00:00-00:00",
     "Adds external network attribute to network resource."},
    {"filter-validation", "Filter parameters validation", "2018-07-04T10:00:00-00:00",
     "Provides validation on filter parameters."},
    {"ip-substring-filtering", "IP address substring filtering", "2017-11-28T09:00:00-00:00",
     "Provides IP address substring filtering when listing ports"},
    {"multi-provider", "Multi Provider Network", "2013-06-27T10:00:00-00:00",
     "Expose mapping of virtual networks to multiple physical networks"},
    {"net-mtu", "Network MTU", "2015-03-25T10:00:00-00:00",
     "Provides MTU attribute for a network resource."},
    {"net-mtu-writable", "Network MTU (writable)", "2017-07-12T00:00:00-00:00",
     "Provides a writable MTU attribute for a network resource."},
    {"network_availability_zone", "Network Availability Zone", "2015-01-01T10:00:00-00:00",
     "Availability zone support for network."},
    {"pagination", "Pagination support", "2016-06-12T00:00:00-00:00",
     "Extension that indicates that pagination is enabled."},
    {"port-mac-address-regenerate", "Neutron Port MAC address regenerate",
     "2018-05-03T10:00:00-00:00", "Network port MAC address regenerate"},
    {"port-security", "Port Security", "2012-07-23T10:00:00-00:00",
     "Provides port security"},
    {"project-id", "project_id field enabled", "2016-09-09T09:09:09-09:09",
     "Extension that indicates that project_id field is enabled."},
    {"provider", "Provider Network", "2012-09-07T10:00:00-00:00",
     "Expose mapping of virtual networks to physical networks"},
    {"quotas", "Quota management support", "2012-07-29T10:00:00-00:00",
     "Expose functions for quotas management per project"},
    {"quota_details", "Quota details management support", "2017-02-10T10:00:00-00:00",
     "Expose functions for quotas usage statistics per project"},
    {"rbac-policies", "RBAC Policies", "2015-06-17T12:15:12-00:00",
     "Allows creation and modification of policies that control tenant access to resources."},
    {"rbac-subnetpool", "Add subnetpool type to RBAC", "2020-02-05T00:00:00-00:00",
     "Add subnetpool type to RBAC"},
    {"revision-if-match", "If-Match constraints based on revision_number",
     "2016-12-11T00:00:00-00:00",
     "Extension indicating that If-Match based on revision_number is supported."},
    {"security-group", "security-group", "2012-10-05T10:00:00-00:00",
     "The security groups extension."},
    {"security-groups-normalized-cidr", "Normalized CIDR field for security group rules",
     "2020-07-28T10:00:00-00:00", "Add new field with normalized remote_ip_prefix cidr in SG rule"},
    {"port-security-groups-filtering", "Port filtering on security groups",
     "2018-01-09T09:00:00-00:00", "Provides security groups filtering when listing ports"},
    {"stateful-security-group", "Stateful security group", "2019-11-26T09:00:00-00:00",
     "Indicates if the security group is stateful or not"},
    {"sorting", "Sorting support", "2016-06-12T00:00:00-00:00",
     "Extension that indicates that sorting is enabled."},
    {"subnetpool-prefix-ops", "Subnet Pool Prefix Operations", "2019-02-08T10:00:00-00:00",
     "Provides support for adjusting the prefix list of subnet pools"},
    {"subnet_allocation", "Subnet Allocation", "2015-03-30T10:00:00-00:00",
     "Enables allocation of subnets from a subnet pool"},
    {"standard-attr-description", "standard-attr-description", "2016-02-10T10:00:00-00:00",
     "Extension to add descriptions to standard attributes"},
    {"standard-attr-revisions", "Resource revision numbers", "2016-04-11T10:00:00-00:00",
     "This extension will display the revision number of neutron resources."},
    {"standard-attr-tag", "Tag support for resources with standard attribute: port, subnet, "
     "network, security_group", "2017-01-01T00:00:00-00:00",
     "Enables to set tag on resources with standard attribute."},
    {"standard-attr-timestamp", "Resource timestamps", "2016-09-12T10:00:00-00:00",
     "Adds created_at and updated_at fields to all Neutron resources that have Neutron "
     "standard attributes."},
};

static qj *qext_obj(const qext *x)
{
    qj *o = qj_object();
    qj_set(o, "name", qj_str(x->name));
    qj_set(o, "alias", qj_str(x->alias));
    qj_set(o, "description", qj_str(x->description));
    qj_set(o, "updated", qj_str(x->updated));
    qj_set(o, "links", qj_array());
    return o;
}

qj *qext_list(void)
{
    qj *arr = qj_array();
    for (size_t i = 0; i < QHV_ARRAY_SIZE(qext_table); i++)
        qj_append(arr, qext_obj(&qext_table[i]));
    qj *o = qj_object();
    qj_set(o, "extensions", arr);
    return o;
}

qj *qext_show(const char *alias)
{
    for (size_t i = 0; i < QHV_ARRAY_SIZE(qext_table); i++) {
        if (!strcmp(qext_table[i].alias, alias)) {
            qj *o = qj_object();
            qj_set(o, "extension", qext_obj(&qext_table[i]));
            return o;
        }
    }
    return NULL;
}
