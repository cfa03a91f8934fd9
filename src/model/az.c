#include "model/az.h"
#include "lib/log.h"
#include "lib/util.h"
#include <stdlib.h>
#include <string.h>

/* Zone name -> whether one of its agents is up (admin_state_up). */
static const char qaz_sql_zones[] =
    "SELECT json_extract(body, '$.availability_zone'), "
    "MAX(CASE WHEN json_extract(body, '$.admin_state_up') = 0 THEN 0 ELSE 1 END) FROM resources "
    "WHERE kind = 'agent' AND json_extract(body, '$.availability_zone') IS NOT NULL "
    "AND json_extract(body, '$.availability_zone') != '' GROUP BY 1 ORDER BY 1";

static const char qaz_sql_network[] =
    "SELECT DISTINCT json_extract(a.body, '$.availability_zone') FROM resources p "
    "INDEXED BY resources_dhcp_ports "
    "JOIN resources a ON a.kind = 'agent' AND a.host = p.host AND p.host != '' "
    "WHERE p.kind = 'port' AND p.parent_id = ?1 "
    "AND json_extract(p.body, '$.device_owner') = 'network:dhcp' "
    "AND json_extract(a.body, '$.availability_zone') IS NOT NULL ORDER BY 1";

/* [{name, resource, state}] of every zone. */
static int qaz_zones(qstore *s, qj **ret, qerr *e)
{
    *ret = NULL;
    qstmt *st = qstore_stmt(s, qaz_sql_zones, e);
    if (!st)
        return -1;
    *ret = qj_array();
    int rc;
    while ((rc = qstmt_step(st)) == QSTORE_ROW) {
        qj *z = qj_object();
        qj_set(z, "name", qj_str((const char *)qstmt_column_text(st, 0)));
        qj_set(z, "resource", qj_str("network"));
        qj_set(z, "state", qj_str(qstmt_column_int64(st, 1) ? "available" : "unavailable"));
        qj_append(*ret, z);
    }
    qstmt_reset(st);
    if (rc == QSTORE_DONE)
        return 0;
    qj_free(*ret);
    *ret = NULL;
    return qstore_fail(s, e, "availability zones");
}

static bool qaz_reserved(const char *k)
{
    static const char *const res[] = {"fields", "sort_key", "sort_dir", "limit", "marker",
                                      "page_reverse"};
    for (size_t i = 0; i < QHV_ARRAY_SIZE(res); i++)
        if (!strcmp(res[i], k))
            return true;
    return false;
}

/* Whether zone z passes the filters of q: each attribute filtered is one of
 * its values (repeated = OR). */
static bool qaz_matches(const qj *z, const qquery *q)
{
    static const char *const attrs[] = {"name", "resource", "state"};
    for (size_t a = 0; a < QHV_ARRAY_SIZE(attrs); a++) {
        bool filtered = false, any = false;
        for (size_t i = 0; q && i < q->n; i++)
            if (!strcmp(q->kv[i].key, attrs[a])) {
                filtered = true;
                any |= !strcmp(q->kv[i].value, qj_get_str(z, attrs[a]));
            }
        if (filtered && !any)
            return false;
    }
    return true;
}

int qaz_list_request(qmodel *m, const qctx *ctx, const qquery *q, qj **ret, qerr *e)
{
    *ret = NULL;
    for (size_t i = 0; q && i < q->n; i++) {
        const char *k = q->kv[i].key;
        if (strcmp(k, "name") && strcmp(k, "resource") && strcmp(k, "state") &&
            !qaz_reserved(k))
            return qerr_set(e, QE_BAD_REQUEST, "%s is invalid attribute for filtering", k);
    }
    if (qstore_begin_read(m->store, e) < 0)
        return -1;
    qj *zones;
    int rc = qaz_zones(m->store, &zones, e);
    qstore_end_read(m->store);
    if (rc < 0) {
        qj_free(zones);
        return -1;
    }
    qj *out = qj_array();
    bool fields = false;
    for (size_t i = 0; q && i < q->n; i++)
        fields |= !strcmp(q->kv[i].key, "fields");
    for (size_t i = 0; i < qj_len(zones); i++) {
        const qj *z = qj_at(zones, i);
        if (!qaz_matches(z, q))
            continue;
        qj *v = qj_object();
        for (size_t k = 0; k < z->u.obj.n; k++) {
            bool want = !fields;
            for (size_t j = 0; fields && j < q->n && !want; j++)
                want = !strcmp(q->kv[j].key, "fields") &&
                       !strcmp(q->kv[j].value, z->u.obj.m[k].key);
            if (want)
                qj_set(v, z->u.obj.m[k].key, qj_clone(z->u.obj.m[k].val));
        }
        qj_append(out, v);
    }
    qj_free(zones);
    *ret = qj_object();
    qj_set(*ret, "availability_zones", out);
    (void)ctx;      /* every project may list them (Neutron: get_availability_zone: any) */
    return 0;
}

int qaz_check_hints(qop *op, const qattr *a, qj **v, qerr *e)
{
    if (qattr_check_str_list(op, a, v, e) < 0)
        return -1;
    qj *zones = NULL;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < qj_len(*v); i++) {
        const char *h = qj_as_str(qj_at(*v, i));
        if (strlen(h) > 255)
            rc = qerr_set(e, QE_BAD_REQUEST, "Invalid input for %s. Reason: '%.300s' exceeds "
                                             "maximum length of 255.", a->name, h);
        for (size_t j = 0; rc == 0 && j < i; j++)
            if (!strcmp(h, qj_as_str(qj_at(*v, j))))
                rc = qerr_set(e, QE_BAD_REQUEST, "Invalid input for %s. Reason: Duplicate "
                                                 "items in the list: '%s'.", a->name, h);
        if (rc == 0 && !zones)
            rc = qaz_zones(op->m->store, &zones, e);
        bool known = false;
        for (size_t j = 0; rc == 0 && j < qj_len(zones) && !known; j++)
            known = !strcmp(h, qj_get_str(qj_at(zones, j), "name"));
        if (rc == 0 && !known)
            rc = qerr_set(e, QE_AZ_NOT_FOUND, "AvailabilityZone %s could not be found.", h);
    }
    qj_free(zones);
    return rc;
}

int qaz_network_view(const qmodel *m, qj *net, qerr *e)
{
    qj *zones;
    if (qmodel_texts(m, qaz_sql_network, qj_get_str(net, "id"), &zones, e) < 0)
        return -1;
    qj_set(net, "availability_zones", zones);
    return 0;
}
