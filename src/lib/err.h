/* err: the project's one error enum, mapped once (here) to an HTTP status and
 * a NeutronError type. A function that fails returns -1 (or NULL) and fills a
 * caller-provided qerr with the code and a human message; the API layer turns
 * it into {"NeutronError": {"type", "message", "detail"}}. */
#ifndef QHV_ERR_H
#define QHV_ERR_H
#include "lib/printf.h"
#include <stddef.h>

/* X(name, http status, NeutronError type) */
#define QHV_ERRORS(X) \
    X(BAD_REQUEST,          400, "HTTPBadRequest") \
    X(INVALID_INPUT,        400, "InvalidInput") \
    X(UNAUTHORIZED,         401, "HTTPUnauthorized") \
    X(POLICY,               403, "PolicyNotAuthorized") \
    X(FORBIDDEN,            403, "HTTPForbidden") \
    X(NOT_FOUND,            404, "HTTPNotFound") \
    X(NETWORK_NOT_FOUND,    404, "NetworkNotFound") \
    X(SUBNET_NOT_FOUND,     404, "SubnetNotFound") \
    X(PORT_NOT_FOUND,       404, "PortNotFound") \
    X(SG_NOT_FOUND,         404, "SecurityGroupNotFound") \
    X(SG_RULE_NOT_FOUND,    404, "SecurityGroupRuleNotFound") \
    X(AGENT_NOT_FOUND,      404, "AgentNotFound") \
    X(INVALID_DHCP_AGENT,   404, "InvalidDHCPAgent") \
    X(TAG_NOT_FOUND,        404, "TagNotFound") \
    X(METHOD_NOT_ALLOWED,   405, "HTTPMethodNotAllowed") \
    X(CONFLICT,             409, "Conflict") \
    X(NETWORK_IN_USE,       409, "NetworkInUse") \
    X(NETWORK_HOSTED,       409, "NetworkHostedByDHCPAgent") \
    X(NETWORK_NOT_HOSTED,   409, "NetworkNotHostedByDhcpAgent") \
    X(SUBNET_IN_USE,        409, "SubnetInUse") \
    X(IP_ALLOCATED,         409, "IpAddressAlreadyAllocated") \
    X(IP_EXHAUSTED,         409, "IpAddressGenerationFailure") \
    X(IP_FOR_SUBNET,        400, "InvalidIpForSubnet") \
    X(IP_FOR_NETWORK,       400, "InvalidIpForNetwork") \
    X(DNS_EXHAUSTED,        400, "DNSNameServersExhausted") \
    X(ROUTES_EXHAUSTED,     400, "HostRoutesExhausted") \
    X(MAC_IN_USE,           409, "MacAddressInUse") \
    X(PORT_BOUND,           409, "PortBound") \
    X(UNSUPPORTED_OWNER,    409, "UnsupportedPortDeviceOwner") \
    X(SEGMENTS_AND_PROVIDER,400, "SegmentsSetInConjunctionWithProviders") \
    X(AZ_NOT_FOUND,         404, "AvailabilityZoneNotFound") \
    X(VLAN_IN_USE,          409, "VlanIdInUse") \
    X(TUNNEL_IN_USE,        409, "TunnelIdInUse") \
    X(FLAT_IN_USE,          409, "FlatNetworkInUse") \
    X(GATEWAY_CONFLICT,     409, "GatewayConflictWithAllocationPools") \
    X(POOL_OUT_OF_BOUNDS,   400, "OutOfBoundsAllocationPool") \
    X(POOL_OVERLAP,         400, "OverlappingAllocationPools") \
    X(POOL_INVALID,         400, "InvalidAllocationPool") \
    X(ADDRESS_PAIR_NEEDS_PS,409, "AddressPairAndPortSecurityRequired") \
    X(ADDRESS_PAIR_DUP,     400, "DuplicateAddressPairInRequest") \
    X(SG_RULE_EXISTS,       409, "SecurityGroupRuleExists") \
    X(SG_RULE_DUP_POST,     409, "DuplicateSecurityGroupRuleInPost") \
    X(SG_IN_USE,            409, "SecurityGroupInUse") \
    X(SG_CONFLICT,          409, "SecurityGroupConflict") \
    X(SG_NOT_SINGLE_GROUP,  400, "SecurityGroupNotSingleGroupRules") \
    X(SG_NOT_SINGLE_TENANT, 400, "SecurityGroupRulesNotSingleTenant") \
    X(SG_DEFAULT_DELETE,    409, "SecurityGroupCannotRemoveDefault") \
    X(SG_PORT_RANGE,        400, "SecurityGroupInvalidPortRange") \
    X(SG_PORT_VALUE,        400, "SecurityGroupInvalidPortValue") \
    X(SG_ICMP_VALUE,        400, "SecurityGroupInvalidIcmpValue") \
    X(SG_PROTOCOL,          400, "SecurityGroupRuleInvalidProtocol") \
    X(SG_ETHERTYPE,         400, "SecurityGroupRuleParameterConflict") \
    X(SG_REMOTE_BOTH,       400, "SecurityGroupMultipleRemoteEntites") \
    X(SG_PROTO_REQUIRED,    400, "SecurityGroupProtocolRequiredWithPorts") \
    X(SG_MISSING_ICMP_TYPE, 400, "SecurityGroupMissingIcmpType") \
    X(SG_PROTO_FOR_PORT,    400, "SecurityGroupInvalidProtocolForPort") \
    X(SG_ETHERTYPE_PROTO,   400, "SecurityGroupEthertypeConflictWithProtocol") \
    X(SG_DEFAULT_EXISTS,    409, "SecurityGroupDefaultAlreadyExists") \
    X(SG_DEFAULT_UPDATE,    409, "SecurityGroupCannotUpdateDefault") \
    X(PS_NEEDS_NO_SG,       400, "PortSecurityAndIPRequiredForSecurityGroups") \
    X(PS_HAS_SG,            409, "PortSecurityPortHasSecurityGroup") \
    X(OVER_QUOTA,           409, "OverQuota") \
    X(NEUTRON_BAD_REQUEST,  400, "BadRequest") \
    X(SUBNETPOOL_NOT_FOUND, 404, "SubnetPoolNotFound") \
    X(ADDRESS_SCOPE_NOT_FOUND, 404, "AddressScopeNotFound") \
    X(SUBNETPOOL_DELETE,    400, "SubnetPoolDeleteError") \
    X(SUBNETPOOL_QUOTA,     409, "SubnetPoolQuotaExceeded") \
    X(SUBNET_ALLOC,         409, "SubnetAllocationError") \
    X(SUBNET_ALLOC_MIN,     400, "MinPrefixSubnetAllocationError") \
    X(SUBNET_ALLOC_MAX,     400, "MaxPrefixSubnetAllocationError") \
    X(SP_PREFIX_UPDATE,     400, "IllegalSubnetPoolPrefixUpdate") \
    X(SP_PREFIX_BOUNDS,     400, "IllegalSubnetPoolPrefixBounds") \
    X(SP_PREFIX_EMPTY,      400, "EmptySubnetPoolPrefixList") \
    X(SP_PREFIX_VERSION,    400, "PrefixVersionMismatch") \
    X(RBAC_NOT_FOUND,       404, "RbacPolicyNotFound") \
    X(RBAC_IN_USE,          409, "RbacPolicyInUse") \
    X(RBAC_DUPLICATE,       409, "DuplicateRbacPolicy") \
    X(RBAC_ACTION,          400, "InvalidActionForType") \
    X(INVALID_SHARED,       409, "InvalidSharedSetting") \
    X(SUBNETPOOL_AFFINITY,  400, "NetworkSubnetPoolAffinityError") \
    X(REVISION_MISMATCH,    412, "RevisionNumberConstraintFailed") \
    X(TOO_LARGE,            413, "HTTPRequestEntityTooLarge") \
    X(MEDIA_TYPE,           415, "HTTPUnsupportedMediaType") \
    X(INTERNAL,             500, "HTTPInternalServerError") \
    X(NO_NETWORK_AVAILABLE, 503, "NoNetworkAvailable") \
    X(UNAVAILABLE,          503, "HTTPServiceUnavailable") \
    X(STORAGE,              503, "ServiceUnavailable")

typedef enum {
    QE_OK = 0,
#define QHV_ERR_ENUM(name, status, type) QE_##name,
    QHV_ERRORS(QHV_ERR_ENUM)
#undef QHV_ERR_ENUM
    QE__COUNT
} qerr_code;

typedef struct qerr {
    qerr_code code;
    char msg[1024];
    char detail[256];     /* NeutronError "detail"; empty unless a caller fills it */
} qerr;

/* Fills e (if non-NULL) and returns -1, so that callers can write
 * `return qerr_set(e, QE_..., "...")`. */
int qerr_set(qerr *e, qerr_code code, const char *fmt, ...) QHV_PRINTF(3, 4);
int qerr_status(qerr_code code);
const char *qerr_type(qerr_code code);
const char *qerr_reason(int status);   /* "Bad Request" etc. */

#endif
