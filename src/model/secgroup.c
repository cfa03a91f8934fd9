#include "model/secgroup.h"
#include "model/resources.h"
#include "model/quota.h"
#include "lib/ipproto.h"
#include "lib/log.h"
#include "lib/util.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char qsg_sql_default_get[] = "SELECT sg_id FROM default_sgs WHERE project_id=?1";
static const char qsg_sql_default_set[] =
    "INSERT INTO default_sgs(project_id, sg_id) VALUES(?1, ?2)";
static const char qsg_sql_default_del[] = "DELETE FROM default_sgs WHERE sg_id=?1";
static const char qsg_sql_member_add[] = "INSERT OR IGNORE INTO port_sgs(port_id, sg_id) VALUES(?1, ?2)";
static const char qsg_sql_member_clear[] = "DELETE FROM port_sgs WHERE port_id=?1";
/* A new port joins its project's default group, when there is one, in the
 * statement that finds it. */
static const char qsg_sql_member_default[] =
    "INSERT INTO port_sgs(port_id, sg_id) SELECT ?1, sg_id FROM default_sgs WHERE project_id=?2 "
    "RETURNING sg_id";
static const char qsg_sql_in_use[] = "SELECT port_id FROM port_sgs WHERE sg_id=?1 LIMIT 1";
static const char qsg_sql_remote_refs[] =
    "SELECT id FROM resources WHERE kind='security_group_rule' AND "
    "json_extract(body, '$.remote_group_id') = ?1 ORDER BY id";

static int qsg_exec(qop *op, const char *sql, const char *a, const char *b, qerr *e)
{
    return qstore_run(op->m->store, sql, a, b, NULL, e);
}

static int qsg_query1(qop *op, const char *sql, const char *a, char *out, size_t n, qerr *e)
{
    return qstore_query_text(op->m->store, sql, a, out, n, e);
}

/* ---------- rules ---------- */

static int qsg_check_protocol(qop *op, const qattr *a, qj **v, qerr *e)
{
    const char *s = qj_as_str(*v);
    qj *norm = NULL;
    int64_t n;
    if (qj_is(*v, QJ_INT) && (*v)->u.i >= 0 && (*v)->u.i <= 255) {
        norm = qj_str_take(xasprintf("%lld", (long long)(*v)->u.i));
    } else if (s && qhv_parse_i64(s, 0, 255, &n) == 0) {
        norm = qj_str_take(xasprintf("%lld", (long long)n));
    } else if (s && !strcasecmp(s, "icmpv6")) {
        norm = qj_str("icmpv6");   /* kept as given: the ethertype decides (below) */
    } else if (s && qhv_ipproto_name(s)) {
        norm = qj_str(qhv_ipproto_name(s));
    }
    if (!norm) {
        char *t = s ? xstrdup(s) : qj_to_string(*v);
        qerr_set(e, QE_SG_PROTOCOL, "Security group rule protocol %s not supported. Only protocol "
                                    "values [None, 'ah', 'dccp', 'egp', 'esp', 'gre', 'hopopt', "
                                    "'icmp', 'igmp', 'ip', 'ipip', 'ipv6-encap', 'ipv6-frag', "
                                    "'ipv6-icmp', 'icmpv6', 'ipv6-nonxt', 'ipv6-opts', "
                                    "'ipv6-route', 'ospf', 'pgm', 'rsvp', 'sctp', 'tcp', 'udp', "
                                    "'udplite', 'vrrp'] and integer representations [0 to 255] "
                                    "are supported.", t);
        free(t);
        return -1;
    }
    qj_free(*v);
    *v = norm;
    return 0;
}

static int qsg_check_ethertype(qop *op, const qattr *a, qj **v, qerr *e)
{
    const char *s = qj_as_str(*v);
    const char *norm = !strcasecmp(s, "ipv4") ? "IPv4" : !strcasecmp(s, "ipv6") ? "IPv6" : NULL;
    if (!norm)
        return qerr_set(e, QE_BAD_REQUEST, "Invalid input for ethertype. Reason: '%s' is not in "
                                           "['IPv4', 'IPv6'].", s);
    qj_free(*v);
    *v = qj_str(norm);
    return 0;
}

static int qsg_check_prefix(qop *op, const qattr *a, qj **v, qerr *e)
{
    qcidr c;
    if (qcidr_parse_or_host(qj_as_str(*v), &c) < 0)
        return qerr_set(e, QE_BAD_REQUEST, "Invalid input for remote_ip_prefix. Reason: '%s' is "
                                           "not a valid IP subnet.", qj_as_str(*v));
    /* A bare address is a host prefix (Neutron shows "192.0.2.9/32"). */
    char buf[QCIDR_STRLEN];
    qcidr_format(&c, buf);
    qj_free(*v);
    *v = qj_str(buf);
    return 0;
}

/* Ports arrive as integers or numeric strings; anything else is Neutron's
 * SecurityGroupInvalidPortValue. */
static int qsg_check_port(qop *op, const qattr *a, qj **v, qerr *e)
{
    int64_t n;
    const char *s = qj_as_str(*v);
    if (qj_is(*v, QJ_INT)) {
        n = (*v)->u.i;
    } else if (!s || qhv_parse_i64(s, INT64_MIN, INT64_MAX, &n) < 0) {
        char *t = s ? xstrdup(s) : qj_to_string(*v);
        qerr_set(e, QE_SG_PORT_VALUE, "Invalid value for port %.100s.", t);
        free(t);
        return -1;
    }
    if (n < 0 || n > 65535)
        return qerr_set(e, QE_SG_PORT_VALUE, "Invalid value for port %lld.", (long long)n);
    qj_free(*v);
    *v = qj_int(n);
    return 0;
}

/* port_range_min=80: an integer compared with the rule's value. */
static int qsg_filter_port(const qj *value, const char *q)
{
    int64_t n;
    if (qhv_parse_i64(q, 0, 65535, &n) < 0)
        return -1;
    return value && qj_is(value, QJ_INT) && value->u.i == n;
}

/* protocol=X matches rules of the same protocol, by name or number. */
static int qsg_filter_protocol(const qj *value, const char *q)
{
    qj *qv = qj_str(q);
    qerr e;
    int ok = qsg_check_protocol(NULL, NULL, &qv, &e);
    int rc;
    if (ok < 0)
        rc = -1;
    else if (!value)
        rc = 0;
    else if (qj_is(qv, QJ_NULL) || qj_is(value, QJ_NULL))
        rc = qj_is(qv, QJ_NULL) && qj_is(value, QJ_NULL);
    else
        rc = qhv_ipproto_num(qj_as_str(qv)) == qhv_ipproto_num(qj_as_str(value));
    qj_free(qv);
    return rc;
}

/* A rule's remote prefix for comparison: none for "any" (0.0.0.0/0, ::/0). */
static const char *qsg_rule_prefix(const qj *r)
{
    const char *p = qj_get_str(r, "normalized_cidr");
    return p && strcmp(p, "0.0.0.0/0") && strcmp(p, "::/0") ? p : NULL;
}

/* The fields that make two rules the same rule, compared as Neutron does:
 * protocol by number, an "any" prefix as no prefix. */
static bool qsg_rule_same(const qj *a, const qj *b)
{
    const char *pa = qsg_rule_prefix(a), *pb = qsg_rule_prefix(b);
    if ((pa == NULL) != (pb == NULL) || (pa && strcmp(pa, pb)))
        return false;
    if (qhv_ipproto_num(qj_get_str(a, "protocol")) != qhv_ipproto_num(qj_get_str(b, "protocol")))
        return false;
    static const char *const keys[] = {"direction", "ethertype", "port_range_min",
                                       "port_range_max", "remote_group_id"};
    for (size_t i = 0; i < QHV_ARRAY_SIZE(keys); i++) {
        const qj *x = qj_get(a, keys[i]), *y = qj_get(b, keys[i]);
        bool xn = !x || qj_is(x, QJ_NULL), yn = !y || qj_is(y, QJ_NULL);
        if (xn != yn || (!xn && !qj_equal(x, y)))
            return false;
    }
    return true;
}

/* Neutron's _make_canonical_ipv6_icmp_protocol: with IPv6, "icmp" and
 * "icmpv6" are stored as "ipv6-icmp" and "1" as "58". */
static void qsg_rule_canonical_icmp(qj *rule)
{
    const char *proto = qj_get_str(rule, "protocol");
    if (!proto || strcmp(qj_get_str(rule, "ethertype"), "IPv6"))
        return;
    if (!strcmp(proto, "icmp") || !strcmp(proto, "icmpv6"))
        qj_set(rule, "protocol", qj_str("ipv6-icmp"));
    else if (!strcmp(proto, "1"))
        qj_set(rule, "protocol", qj_str("58"));
}

/* The protocols only IPv6 carries (Neutron's list, by name or number as
 * given). */
static bool qsg_ipv6_only(const char *proto)
{
    static const char *const v6[] = {"ipv6-encap", "ipv6-frag", "ipv6-icmp", "icmpv6",
                                     "ipv6-nonxt", "ipv6-opts", "ipv6-route", "41", "44", "58",
                                     "59", "60", "43"};
    for (size_t i = 0; proto && i < QHV_ARRAY_SIZE(v6); i++)
        if (!strcmp(v6[i], proto))
            return true;
    return false;
}

static int qsg_rule_check_ports(const char *proto, const qj *minv, const qj *maxv, qerr *e)
{
    bool has_min = minv && !qj_is(minv, QJ_NULL), has_max = maxv && !qj_is(maxv, QJ_NULL);
    int64_t mn = has_min ? minv->u.i : 0, mx = has_max ? maxv->u.i : 0;
    if (!has_min && !has_max)
        return 0;
    if (!proto)
        return qerr_set(e, QE_SG_PROTO_REQUIRED, "Must also specify protocol if port range is "
                                                 "given.");
    int num = qhv_ipproto_num(proto);
    if (qhv_ipproto_has_ports(num)) {
        if ((has_min && mn == 0) || (has_max && mx == 0))
            return qerr_set(e, QE_SG_PORT_VALUE, "Invalid value for port 0.");
        if (has_min && has_max && mn <= mx)
            return 0;
        return qerr_set(e, QE_SG_PORT_RANGE, "For TCP/UDP protocols, port_range_min must be <= "
                                             "port_range_max");
    }
    if (num == 1 || num == 58) {
        if (has_min && mn > 255)
            return qerr_set(e, QE_SG_ICMP_VALUE, "Invalid value for ICMP type (port_range_min) "
                                                 "%lld. It must be 0 to 255.", (long long)mn);
        if (has_max && mx > 255)
            return qerr_set(e, QE_SG_ICMP_VALUE, "Invalid value for ICMP code (port_range_max) "
                                                 "%lld. It must be 0 to 255.", (long long)mx);
        if (!has_min && has_max)
            return qerr_set(e, QE_SG_MISSING_ICMP_TYPE, "ICMP code (port-range-max) %lld is "
                                                        "provided but ICMP type (port-range-min) "
                                                        "is missing.", (long long)mx);
        return 0;
    }
    return qerr_set(e, QE_SG_PROTO_FOR_PORT, "Invalid protocol %s for port range, only supported "
                                             "for TCP, UDP, UDPLITE, SCTP and DCCP protocols.",
                    proto);
}

/* Neutron's _validate_security_group_rule, in its order. */
static int qsg_rule_validate(qop *op, qj *rule, qerr *e)
{
    qsg_rule_canonical_icmp(rule);
    const qj *minv = qj_get(rule, "port_range_min"), *maxv = qj_get(rule, "port_range_max");
    if (qj_is(minv, QJ_INT) && minv->u.i == 1 && qj_is(maxv, QJ_INT) && maxv->u.i == 65535) {
        /* The whole range is no range (_make_canonical_port_range). */
        qj_set(rule, "port_range_min", qj_null());
        qj_set(rule, "port_range_max", qj_null());
        minv = maxv = NULL;
    }
    const char *eth = qj_get_str(rule, "ethertype");
    const char *proto = qj_get_str(rule, "protocol");
    const char *prefix = qj_get_str(rule, "remote_ip_prefix");
    const char *rgroup = qj_get_str(rule, "remote_group_id");
    if (qsg_rule_check_ports(proto, minv, maxv, e) < 0)
        return -1;
    if (prefix) {
        qcidr c;
        qcidr_parse_or_host(prefix, &c);
        if ((c.addr.family == 4) != !strcmp(eth, "IPv4"))
            return qerr_set(e, QE_SG_ETHERTYPE, "Conflicting value ethertype %s for CIDR %s", eth,
                            prefix);
        char norm[QCIDR_STRLEN];
        qcidr n = {qcidr_network(&c), c.prefixlen};
        qcidr_format(&n, norm);
        qj_set(rule, "normalized_cidr", qj_str(norm));
    }
    if (!strcmp(eth, "IPv4") && qsg_ipv6_only(proto))
        return qerr_set(e, QE_SG_ETHERTYPE_PROTO, "Invalid ethertype %s for protocol %s.", eth,
                        proto);
    if (prefix && rgroup)
        return qerr_set(e, QE_SG_REMOTE_BOTH, "Only one of remote_ip_prefix or remote_group_id "
                                              "or remote_address_group_id may be provided.");
    return 0;
}

/* Loads a group the caller may use; 404 otherwise. */
static int qsg_load_usable(qop *op, const char *id, const char *project, qj **ret, qerr *e)
{
    if (qres_load(op, &qres_security_group, id, ret, e) < 0)
        return -1;
    const char *p = qj_get_str(*ret, "project_id");
    if (!op->ctx->is_admin && strcmp(p, project)) {
        qj_free(*ret);
        *ret = NULL;
        return qerr_set(e, QE_SG_NOT_FOUND, "Security group %s does not exist", id);
    }
    return 0;
}

/* ML2 creates a bulk of rules natively: one group and one project per
 * request (the rules this op made before this one). */
static int qsg_rule_bulk_single(qop *op, const qj *rule, qerr *e)
{
    for (size_t k = 0; k < op->created.n && !op->internal; k++) {
        qj *other;
        int found = qres_find(op, &qres_security_group_rule, op->created.v[k], &other, e);
        if (found < 0)
            return -1;
        if (!found)
            continue;   /* not a rule (a group's own rules are internal) */
        bool same_group = !strcmp(qj_get_str(other, "security_group_id"),
                                  qj_get_str(rule, "security_group_id"));
        bool same_project = !strcmp(qj_get_str(other, "project_id"),
                                    qj_get_str(rule, "project_id"));
        qj_free(other);
        if (!same_group)
            return qerr_set(e, QE_SG_NOT_SINGLE_GROUP, "Only allowed to update rules for one "
                                                       "security profile at a time");
        if (!same_project)
            return qerr_set(e, QE_SG_NOT_SINGLE_TENANT, "Multiple tenant_ids in bulk security "
                                                        "group rule create not allowed");
    }
    return 0;
}

static int qsg_rule_on_create(qop *op, qj *rule, qerr *e)
{
    const char *sgid = qj_get_str(rule, "security_group_id");
    if (qsg_rule_bulk_single(op, rule, e) < 0)
        return -1;
    qj *sg;
    if (qres_load(op, &qres_security_group, sgid, &sg, e) < 0)
        return -1;
    int rc = 0;
    if (!qres_is_owner(op, sg))
        rc = qerr_set(e, QE_SG_NOT_FOUND, "Security group %s does not exist", sgid);
    if (rc == 0)
        rc = qsg_rule_validate(op, rule, e);
    const char *rg = qj_get_str(rule, "remote_group_id");
    if (rc == 0 && rg && strcmp(rg, sgid)) {
        qj *other;
        rc = qsg_load_usable(op, rg, qj_get_str(sg, "project_id"), &other, e);
        qj_free(other);
    }
    qj *rules = qj_get(sg, "security_group_rules");
    for (size_t i = 0; rc == 0 && i < qj_len(rules); i++)
        if (qsg_rule_same(qj_at(rules, i), rule)) {
            const char *dup = qj_get_str(qj_at(rules, i), "id");
            bool same_post = false;
            for (size_t k = 0; k < op->created.n && !same_post; k++)
                same_post = !strcmp(op->created.v[k], dup);
            rc = same_post ? qerr_set(e, QE_SG_RULE_DUP_POST, "Duplicate Security Group Rule in "
                                                              "POST.")
                           : qerr_set(e, QE_SG_RULE_EXISTS, "Security group rule already exists. "
                                                            "Rule id is %s.", dup);
        }
    if (rc == 0) {
        qj_append(rules, qj_clone(rule));
        /* A user's new rule is a change of the group; the rules a group is
         * born with are part of its creation (Neutron: revision 1). */
        if (!op->internal)
            qres_touch(op, sg);
        rc = qres_store(op, &qres_security_group, sg, false, e);
    }
    qj_free(sg);
    return rc;
}

/* Removes rule id from its group's embedded list. */
static int qsg_unembed_rule(qop *op, const char *sgid, const char *rule_id, qerr *e)
{
    qj *sg;
    int found = qres_find(op, &qres_security_group, sgid, &sg, e);
    if (found <= 0)
        return found;   /* 0: the group itself is going away */
    qj *rules = qj_get(sg, "security_group_rules"), *keep = qj_array();
    for (size_t i = 0; i < qj_len(rules); i++)
        if (strcmp(qj_get_str(qj_at(rules, i), "id"), rule_id))
            qj_append(keep, qj_clone(qj_at(rules, i)));
    qj_set(sg, "security_group_rules", keep);
    qres_touch(op, sg);
    int rc = qres_store(op, &qres_security_group, sg, false, e);
    qj_free(sg);
    return rc;
}

static int qsg_rule_on_delete(qop *op, const qj *rule, qerr *e)
{
    return qsg_unembed_rule(op, qj_get_str(rule, "security_group_id"), qj_get_str(rule, "id"), e);
}

static const char *const qsg_directions[] = {"ingress", "egress", NULL};

static const qattr qsg_rule_attrs[] = {
    QATTR_ID,
    QATTR_PROJECT,
    {"security_group_id", QA_UUID, QA_POST | QA_REQUIRED, NULL, 0, 0, NULL, NULL, NULL},
    {"ethertype", QA_STR, QA_POST, "\"IPv4\"", 0, 0, NULL, qsg_check_ethertype, NULL},
    {"direction", QA_STR, QA_POST | QA_REQUIRED, NULL, 0, 0, qsg_directions, NULL, NULL},
    {"protocol", QA_ANY, QA_POST | QA_NULL, "null", 0, 0, NULL, qsg_check_protocol,
     qsg_filter_protocol},
    {"port_range_min", QA_ANY, QA_POST | QA_NULL, "null", 0, 0, NULL, qsg_check_port,
     qsg_filter_port},
    {"port_range_max", QA_ANY, QA_POST | QA_NULL, "null", 0, 0, NULL, qsg_check_port,
     qsg_filter_port},
    {"remote_ip_prefix", QA_STR, QA_POST | QA_NULL, "null", 0, 0, NULL, qsg_check_prefix, NULL},
    {"remote_address_group_id", QA_STR, 0, "null", 0, 0, NULL, NULL, NULL},
    {"normalized_cidr", QA_STR, 0, "null", 0, 0, NULL, NULL, NULL},
    {"remote_group_id", QA_UUID, QA_POST | QA_NULL, "null", 0, 0, NULL, NULL, NULL},
    {"description", QA_STR, QA_POST | QA_NULL, "\"\"", 0, 255, NULL, NULL, NULL},
    {"created_at", QA_STR, 0, NULL, 0, 0, NULL, NULL, NULL},
    {"updated_at", QA_STR, 0, NULL, 0, 0, NULL, NULL, NULL},
    {"revision_number", QA_INT, 0, NULL, 0, 0, NULL, NULL, NULL},
};

const qresource qres_security_group_rule = {
    .name = "security_group_rule",
    .collection = "security_group_rules",
    .path = "security-group-rules",
    .label = "Security group rule",
    .notfound_fmt = "Security group rule %s does not exist",
    .notfound = QE_SG_RULE_NOT_FOUND,
    .attrs = qsg_rule_attrs,
    .nattrs = QHV_ARRAY_SIZE(qsg_rule_attrs),
    .initial_revision = 0,
    .parent_attr = "security_group_id",
    .has_tags = false,
    .shared_sql = "r.parent_id IN (SELECT g.id FROM resources g WHERE g.kind = 'security_group' "
                  "AND g.project_id = ?2)",
    .on_create = qsg_rule_on_create,
    .on_delete = qsg_rule_on_delete,
};

/* ---------- groups ---------- */

static int qsg_add_rule(qop *op, const char *sgid, const char *project, const char *dir,
                        const char *eth, const char *remote_group, qerr *e)
{
    qj *item = qj_object();
    qj_set(item, "security_group_id", qj_str(sgid));
    qj_set(item, "project_id", qj_str(project));
    qj_set(item, "direction", qj_str(dir));
    qj_set(item, "ethertype", qj_str(eth));
    if (remote_group)
        qj_set(item, "remote_group_id", qj_str(remote_group));
    qj_set(item, "description", qj_null());   /* as Neutron's automatic rules */
    qj *rule;
    int rc = qres_create_one(op, &qres_security_group_rule, item, true, &rule, e);
    qj_free(item);
    qj_free(rule);
    return rc;
}

static int qsg_on_create(qop *op, qj *sg, qerr *e)
{
    const char *name = qj_get_str(sg, "name");
    if (name && !strcmp(name, "default") && !op->internal)
        return qerr_set(e, QE_SG_DEFAULT_EXISTS, "Default security group already exists.");
    return 0;
}

static int qsg_default_rules(qop *op, const char *sgid, const char *project, bool is_default,
                             qerr *e)
{
    static const char *const eths[] = {"IPv4", "IPv6"};
    for (int i = 0; i < 2; i++) {
        if (qsg_add_rule(op, sgid, project, "egress", eths[i], NULL, e) < 0)
            return -1;
        if (is_default && qsg_add_rule(op, sgid, project, "ingress", eths[i], sgid, e) < 0)
            return -1;
    }
    return 0;
}

/* After the group's row exists: its initial rules (they reference it), and
 * the project's default group if this is the project's first group. */
static int qsg_after_create(qop *op, qj *sg, qerr *e)
{
    const char *id = qj_get_str(sg, "id");
    const char *project = qj_get_str(sg, "project_id");
    const char *name = qj_get_str(sg, "name");
    bool is_default = op->internal && name && !strcmp(name, "default");
    if (is_default) {
        if (qsg_exec(op, qsg_sql_default_set, project, id, e) < 0)
            return -1;
    } else {
        char def[37];
        if (qsg_ensure_default(op, project, def, e) < 0)
            return -1;
    }
    /* The group's initial rules count against the rule quota, the default
     * group's too (Neutron checks them before making the group). */
    if (qquota_check_n(op, &qres_security_group_rule, project, is_default ? 4 : 2, e) < 0)
        return -1;
    if (qsg_default_rules(op, id, project, is_default, e) < 0)
        return -1;
    qj *fresh;
    if (qres_load(op, &qres_security_group, id, &fresh, e) < 0)
        return -1;
    qj_set(sg, "security_group_rules", qj_clone(qj_get(fresh, "security_group_rules")));
    qj_free(fresh);
    return 0;
}

int qsg_ensure_default(qop *op, const char *project, char out[37], qerr *e)
{
    int rc = qsg_query1(op, qsg_sql_default_get, project, out, 37, e);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    qj *item = qj_object(), *sg = NULL;
    qj_set(item, "project_id", qj_str(project));
    qj_set(item, "name", qj_str("default"));
    qj_set(item, "description", qj_str("Default security group"));
    rc = qres_create_one(op, &qres_security_group, item, true, &sg, e);
    qj_free(item);
    if (rc == 0)
        snprintf(out, 37, "%s", qj_get_str(sg, "id"));
    qj_free(sg);
    return rc;
}

int qsg_default_missing(qmodel *m, const qctx *ctx, qerr *e)
{
    qop op = {.m = m, .ctx = ctx, .now = qhv_wall_seconds()};
    char id[37];
    int rc = qsg_query1(&op, qsg_sql_default_get, ctx->project_id, id, sizeof id, e);
    return rc < 0 ? -1 : rc == 0;
}

int qsg_ensure_default_request(qmodel *m, const qctx *ctx, qerr *e)
{
    qop op = {.m = m, .ctx = ctx, .now = qhv_wall_seconds()};
    char id[37];
    /* Fast path without the write lock: most calls find it. */
    if (qsg_default_missing(m, ctx, e) != 1)
        return 0;
    if (ctx->read_only)
        return 0;
    int rc = qstore_begin_write(m->store, e);
    if (rc == 0)
        rc = qmodel_finish(&op, qsg_ensure_default(&op, ctx->project_id, id, e), e);
    /* A list must not fail because this write cannot happen now (disk full,
     * filesystem read-only): it shows what exists, and a later list creates
     * the group once the database can be written. */
    if (rc < 0 && e->code == QE_STORAGE) {
        QLOG_W("secgroup", "project %s: default security group not created for now: %s",
               ctx->project_id, e->msg);
        return 0;
    }
    return rc;
}

/* Groups made before stateful-security-group are stateful. */
static bool qsg_stateful(const qj *sg)
{
    const qj *v = qj_get(sg, "stateful");
    return !qj_is(v, QJ_BOOL) || v->u.b;
}

static int qsg_on_view(const qmodel *m, qj *sg, qerr *e)
{
    (void)m, (void)e;
    if (!qj_get(sg, "stateful"))
        qj_set(sg, "stateful", qj_bool(true));
    return 0;
}

static int qsg_on_update(qop *op, const qj *old, qj *sg, const qj *changes, qerr *e)
{
    const char *oldname = qj_get_str(old, "name");
    /* Neutron: a group's ports cannot change from stateful to stateless
     * under it. */
    if (qj_get(changes, "stateful") && qsg_stateful(old) != qsg_stateful(sg)) {
        char port[64];
        int rc = qsg_query1(op, qsg_sql_in_use, qj_get_str(old, "id"), port, sizeof port, e);
        if (rc < 0)
            return -1;
        if (rc == 1)
            return qerr_set(e, QE_SG_IN_USE, "Security Group %s in use.", qj_get_str(old, "id"));
    }
    const qj *name = qj_get(changes, "name");
    if (name && oldname && !strcmp(oldname, "default"))
        return qerr_set(e, QE_SG_DEFAULT_UPDATE, "Updating default security group not allowed.");
    if (name && !strcmp(qj_as_str(name), "default") && (!oldname || strcmp(oldname, "default")))
        return qerr_set(e, QE_SG_DEFAULT_EXISTS, "Default security group already exists.");
    return 0;
}

static int qsg_on_delete(qop *op, const qj *sg, qerr *e)
{
    const char *id = qj_get_str(sg, "id");
    char port[64];
    int rc = qsg_query1(op, qsg_sql_in_use, id, port, sizeof port, e);
    if (rc < 0)
        return -1;
    if (rc == 1)
        return qerr_set(e, QE_SG_IN_USE, "Security Group %s in use.", id);
    const char *name = qj_get_str(sg, "name");
    if (name && !strcmp(name, "default") && !op->ctx->is_admin)
        return qerr_set(e, QE_SG_DEFAULT_DELETE, "Insufficient rights for removing default "
                                                 "security group.");
    /* Its rules go with it, and so do other groups' rules that name it as
     * their remote group (Neutron's cascade). */
    qj *rules;
    if (qres_children(op, &qres_security_group_rule, id, &rules, e) < 0)
        return -1;
    for (size_t i = 0; rc >= 0 && i < qj_len(rules); i++)
        rc = qres_delete_row(op, &qres_security_group_rule, qj_get_str(qj_at(rules, i), "id"), e);
    qj_free(rules);
    if (rc < 0)
        return -1;
    qj *refs;
    if (qmodel_texts(op->m, qsg_sql_remote_refs, id, &refs, e) < 0)
        return -1;
    for (size_t i = 0; rc >= 0 && i < qj_len(refs); i++) {
        qj *rule;
        if (qres_load(op, &qres_security_group_rule, qj_as_str(qj_at(refs, i)), &rule, e) < 0) {
            rc = -1;
            break;
        }
        rc = qsg_rule_on_delete(op, rule, e);
        if (rc == 0)
            rc = qres_delete_row(op, &qres_security_group_rule, qj_get_str(rule, "id"), e);
        qj_free(rule);
    }
    qj_free(refs);
    if (rc < 0)
        return -1;
    return qsg_exec(op, qsg_sql_default_del, id, NULL, e);
}

static const qattr qsg_attrs[] = {
    QATTR_ID,
    QATTR_NAME,
    QATTR_PROJECT,
    QATTR_DESCRIPTION,
    {"security_group_rules", QA_LIST, QA_NOFILTER, "[]", 0, 0, NULL, NULL, NULL},
    {"stateful", QA_BOOL, QA_POST | QA_PUT, "true", 0, 0, NULL, NULL, NULL},
    QATTR_STD,
};

const qresource qres_security_group = {
    .name = "security_group",
    .collection = "security_groups",
    .path = "security-groups",
    .label = "Security group",
    .notfound_fmt = "Security group %s does not exist",
    .notfound = QE_SG_NOT_FOUND,
    .attrs = qsg_attrs,
    .nattrs = QHV_ARRAY_SIZE(qsg_attrs),
    .initial_revision = 1,
    .has_tags = true,
    .on_create = qsg_on_create,
    .after_create = qsg_after_create,
    .on_update = qsg_on_update,
    .on_delete = qsg_on_delete,
    .on_view = qsg_on_view,
};

/* ---------- ports ---------- */

/* Makes the new port port_id a member of project's default group, when the
 * project has one (its id into out): 1 done, 0 no default group yet, -1 on
 * error. */
static int qsg_join_default(qop *op, const char *port_id, const char *project, char out[37],
                            qerr *e)
{
    return qstore_query_row(op->m->store, qsg_sql_member_default, port_id, project, NULL, out, 37,
                            e);
}

int qsg_port_assign(qop *op, qj *port, const qj *old, const qj *changes, qerr *e)
{
    const char *pid = qj_get_str(port, "id");
    const char *project = qj_get_str(port, "project_id");
    const qj *ps = qj_get(port, "port_security_enabled");
    bool secure = !ps || !qj_is(ps, QJ_BOOL) || ps->u.b;
    qj *groups = qj_get(port, "security_groups");
    /* Neutron trusts network: ports (DHCP, routers): no default group. */
    const char *owner = qj_get_str(port, "device_owner");
    bool trusted = owner && !strncmp(owner, "network:", 8);
    bool by_default = qj_is(groups, QJ_NULL), joined = false;
    if (by_default) {
        qj *list = qj_array();
        if (secure && !trusted) {
            char def[37];
            int got = old ? 0 : qsg_join_default(op, pid, project, def, e);
            if (got < 0 || (got == 0 && qsg_ensure_default(op, project, def, e) < 0)) {
                qj_free(list);
                return -1;
            }
            joined = got == 1;
            qj_append(list, qj_str(def));
        }
        qj_set(port, "security_groups", list);
        groups = qj_get(port, "security_groups");
    }
    /* Neutron: turning port security off on a port that keeps its groups is
     * a conflict with the port's state; asking for groups without port
     * security is bad input. */
    if (qj_len(groups) && !secure && old && !qj_get(changes, "security_groups"))
        return qerr_set(e, QE_PS_HAS_SG, "Port has security group associated. Cannot disable "
                                         "port security or IP address until security group is "
                                         "removed");
    if (qj_len(groups) && !secure)
        return qerr_set(e, QE_PS_NEEDS_NO_SG, "Port security must be enabled and port must have "
                                              "an IP address in order to use security groups.");
    /* A port's groups are its own project's (Neutron's
     * _get_security_groups_on_port: SecurityGroupNotFound for others), but
     * an admin may name any project's, as Neutron lets it. */
    int stateful = -1;
    /* The project's default group alone needs no check: it is the
     * project's, and its default_sgs row goes with it (qsg_on_delete), in
     * the same transaction. One statement fewer per port create. */
    for (size_t i = 0; !by_default && i < qj_len(groups); i++) {
        const char *gid = qj_as_str(qj_at(groups, i));
        qj *sg;
        if (qsg_load_usable(op, gid, project, &sg, e) < 0)
            return -1;   /* SecurityGroupNotFound, or the store's own error */
        bool mixed = stateful >= 0 && stateful != (int)qsg_stateful(sg);
        stateful = qsg_stateful(sg);
        qj_free(sg);
        if (mixed)
            return qerr_set(e, QE_SG_CONFLICT, "Error Cannot apply both stateful and stateless "
                                               "security groups on the same port at the same "
                                               "time while attempting the operation.");
    }
    if (joined || (old && qj_equal(qj_get(old, "security_groups"), groups)))
        return 0;
    /* A new port (no old) has no memberships to clear. */
    if (old && qsg_exec(op, qsg_sql_member_clear, pid, NULL, e) < 0)
        return -1;
    for (size_t i = 0; i < qj_len(groups); i++)
        if (qsg_exec(op, qsg_sql_member_add, pid, qj_as_str(qj_at(groups, i)), e) < 0)
            return -1;
    return 0;
}

int qsg_port_release(qop *op, const char *port_id, qerr *e)
{
    return qsg_exec(op, qsg_sql_member_clear, port_id, NULL, e);
}
