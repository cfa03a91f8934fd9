/* agent: the agents collection (GET /v2.0/agents), Neutron's attributes.
 * Rows are written by the host channel when agents report; through the API
 * admins may only read, update admin_state_up/description, and delete. */
#include "model/resources.h"
#include "lib/util.h"

static bool qagent_may_write(qop *op, const qj *agent) { return op->ctx->is_admin; }

static const qattr qagent_attrs[] = {
    QATTR_ID,
    {"agent_type", QA_STR, 0, "\"HyperV agent\"", 0, 0, NULL, NULL, NULL},
    {"binary", QA_STR, 0, "\"qhv-agent\"", 0, 0, NULL, NULL, NULL},
    {"topic", QA_STR, 0, "\"N/A\"", 0, 0, NULL, NULL, NULL},
    {"host", QA_STR, 0, "\"\"", 0, 0, NULL, NULL, NULL},
    {"admin_state_up", QA_BOOL, QA_PUT, "true", 0, 0, NULL, NULL, NULL},
    {"created_at", QA_STR, 0, NULL, 0, 0, NULL, NULL, NULL},
    {"started_at", QA_STR, 0, "null", 0, 0, NULL, NULL, NULL},
    {"heartbeat_timestamp", QA_STR, 0, "null", 0, 0, NULL, NULL, NULL},
    {"alive", QA_BOOL, 0, "false", 0, 0, NULL, NULL, NULL},
    {"configurations", QA_DICT, QA_NOFILTER, "{}", 0, 0, NULL, NULL, NULL},
    {"availability_zone", QA_STR, 0, "null", 0, 0, NULL, NULL, NULL},
    {"resources_synced", QA_BOOL, 0, "null", 0, 0, NULL, NULL, NULL},
    {"description", QA_STR, QA_PUT | QA_NULL, "null", 0, 255, NULL, NULL, NULL},
};

const qresource qres_agent = {
    .name = "agent",
    .collection = "agents",
    .label = "Agent",
    .notfound = QE_AGENT_NOT_FOUND,
    .attrs = qagent_attrs,
    .nattrs = QHV_ARRAY_SIZE(qagent_attrs),
    .no_create = true,
    .admin_only = true,
    .may_write = qagent_may_write,
};
