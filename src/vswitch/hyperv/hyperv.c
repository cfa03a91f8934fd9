/* hyperv: the qvs_class (hyperv.h): intents, dump, operate, open. */
#include "vswitch/hyperv/hv_backend.h"
#include "vswitch/hyperv/hv_acl.h"
#include "lib/file.h"
#include "vswitch/hyperv/hv_job.h"
#include "vswitch/hyperv/wmi_model.h"
#include <errno.h>
#include <stdlib.h>

/* ---------- intents ---------- */

/* The state file: {"intent": {id: value}, "own": {port: record}} (a file
 * of an earlier version holds the intents alone). */
static void hv_intent_load(qvs *vs)
{
    vs->intent = qvs_map_new();
    vs->own = qvs_map_new();
    size_t len;
    char *text = vs->state_file ? qfile_read(vs->state_file, &len) : NULL;
    qj *o = text ? qj_parse(text, len, NULL, NULL) : NULL;
    free(text);
    if (qj_is(o, QJ_OBJECT)) {
        qj *in = qj_get(o, "intent"), *own = qj_get(o, "own");
        qvs_map_free(vs->intent);
        vs->intent = qvs_map_from_object(qj_is(in, QJ_OBJECT) ? in : o);
        if (qj_is(own, QJ_OBJECT)) {
            qvs_map_free(vs->own);
            vs->own = qvs_map_from_object(own);
        }
    }
    qj_free(o);
}

void hv_intent_save(qvs *vs)
{
    if (!vs->state_file)
        return;
    qj *o = qj_object();
    qj_set(o, "intent", qvs_map_to_object(vs->intent));
    qj_set(o, "own", qvs_map_to_object(vs->own));
    char *text = qj_to_string(o);
    qj_free(o);
    qfile_write_atomic(vs->state_file, text, true);
    free(text);
}

/* address_set/<key> intents as key → value (clones). */
qvs_map *hv_sets(const qvs_map *intent)
{
    qvs_map *m = qvs_map_new();
    const char *k;
    qj *v;
    for (size_t i = 0; i < qvs_map_end(intent); i++)
        if (qvs_map_at(intent, i, &k, &v) && !strncmp(k, "address_set/", 12))
            qvs_map_put(m, k + 12, qj_clone(v));
    return m;
}

/* ---------- dump ---------- */

static bool hv_port_kind(const char *id) { return !strncmp(id, "port/", 5) || !strncmp(id, "acl/", 4); }

static qj *hv_orphan(void)
{
    qj *o = qj_object();
    qj_set(o, "orphan", qj_bool(true));
    return o;
}

static void hv_put_orphan(qvs *vs, qvs_observed *ret, const char *id)
{
    if (!qvs_map_get(vs->intent, id) && !qvs_map_get(ret->objects, id))
        qvs_map_put(ret->objects, id, hv_orphan());
}

static int hv_dump(qvs *vs, qvs_observed *ret, char *err, size_t errlen)
{
    qvs_observed_init(ret);
    vs->last_look_us = qhv_now_us();
    hv_view v;
    if (hv_view_load(vs, &v, err, errlen) < 0) {
        hv_view_free(&v);
        return -1;
    }
    qvs_map *sets = hv_sets(vs->intent);
    qvs_map *pfs = qvs_map_new();   /* port id → index into pf */
    hv_pf *pf = xcalloc(qvs_map_size(v.nic) + 1, sizeof *pf);
    size_t npf = 0;
    const char *key;
    qj *val;
    char id[512];
    for (size_t i = 0; i < qvs_map_end(v.nic); i++) {
        if (!qvs_map_at(v.nic, i, &key, &val))
            continue;
        const qj *nic = qj_at(v.rows[V_NIC], (size_t)val->u.i);
        const char *iid = qj_get_str(nic, "InstanceID");
        const char *bs = iid ? strchr(iid, '\\') : NULL;
        qj *d = qj_object();
        qj_set(d, "mac", qj_clone(qj_get(nic, "Address")));
        if (iid && !strncmp(iid, "Microsoft:", 10) && bs)
            qj_set(d, "vm_id", qj_strn(iid + 10, (size_t)(bs - iid - 10)));
        qvs_map_put(ret->nics, key, d);
        hv_pf_get(vs, &v, key, &pf[npf]);
        if (pf[npf].foreign) {
            qj *f = qj_object();
            qj_set(f, "why", qj_str(pf[npf].foreign));
            snprintf(id, sizeof id, "port/%s", key);
            qvs_map_put(ret->foreign, id, f);
        }
        qvs_map_put(pfs, key, hv_idx(npf++));
    }
    for (size_t i = 0; i < qvs_map_end(v.legacy); i++) {
        /* Seen, so that the port's op says why it cannot be wired. */
        if (!qvs_map_at(v.legacy, i, &key, &val))
            continue;
        qj *d = qj_object();
        qj_set(d, "mac", qj_clone(qj_get(qj_at(v.rows[V_LEGACY], (size_t)val->u.i), "Address")));
        qj_set(d, "legacy", qj_bool(true));
        qvs_map_put(ret->nics, key, d);
    }
    for (size_t i = 0; i < qvs_map_end(vs->intent); i++) {
        if (!qvs_map_at(vs->intent, i, &key, &val))
            continue;
        bool ok = false;
        if (!strncmp(key, "port/", 5) || !strncmp(key, "acl/", 4)) {
            char port[256];
            const qj *pi = qvs_map_get(pfs, hv_port_of(key, port, sizeof port));
            if (pi && key[0] == 'p')
                ok = hv_port_ok(vs, &v, &pf[pi->u.i], port, val);
            else if (pi)
                ok = hv_acl_ok(vs, &pf[pi->u.i], hv_dir(key), val, sets);
        } else if (!strncmp(key, "address_set/", 12)) {
            ok = true;  /* in force through the acl/ objects that name it */
        } else {
            ok = vs->wnv && hv_wnv_ok(vs, &v, key, val);
        }
        if (ok)
            qvs_map_put(ret->objects, key, qj_clone(val));
    }
    /* What qhv keeps of a NIC that is gone (Nova removes the NIC before it
     * deletes the port): Hyper-V holds nothing of it any more, but its
     * intents and ownership record stay until an operate forgets them, and
     * the port's delete may bring no other op. One port/ orphan makes the
     * agent delete it (hv_operate then forgets the rest). */
    const qvs_map *kept[] = {vs->intent, vs->own};
    for (size_t m = 0; m < 2; m++)
        for (size_t i = 0; i < qvs_map_end(kept[m]); i++) {
            char buf[256];
            if (!qvs_map_at(kept[m], i, &key, NULL) || (m == 0 && !hv_port_kind(key)))
                continue;
            const char *port = m == 0 ? hv_port_of(key, buf, sizeof buf) : key;
            if (!qvs_map_get(v.nic, port) && !qvs_map_get(v.legacy, port)) {
                snprintf(id, sizeof id, "port/%s", port);
                qvs_map_put(ret->objects, id, hv_orphan());
            }
        }
    /* qhv's marks without an intent: orphans, for the agent to delete or
     * rewrite. Foreign NetWNV objects under ids qhv might want. */
    for (size_t i = 0; i < qvs_map_end(pfs); i++) {
        if (!qvs_map_at(pfs, i, &key, &val))
            continue;
        const hv_pf *p = &pf[val->u.i];
        if (p->foreign || !p->alloc)
            continue;
        /* A connection qhv made or recorded is an orphan without an intent;
         * one only adopted (not yet written) is left alone. */
        snprintf(id, sizeof id, "port/%s", key);
        if (!p->adopt || hv_streq(qj_get_str(p->alloc, "ElementName"), key))
            hv_put_orphan(vs, ret, id);
        for (int d = 1; d < 3; d++) {
            snprintf(id, sizeof id, "acl/%s/%s", key, d == 1 ? "ingress" : "egress");
            if (qj_len(p->acl[d]))
                hv_put_orphan(vs, ret, id);
        }
    }
    for (size_t i = 0; i < qj_len(v.rows[V_LR]); i++) {
        const qj *r = qj_at(v.rows[V_LR], i);
        bool ours = hv_streq(qj_get_str(r, "Context"), QHYV_CONTEXT);
        const char *ca = qj_get_str(r, "CustomerAddress");
        if (hv_streq(ca, "0.0.0.0") || hv_streq(ca, "::")) {
            /* An L2Only record belongs to its port (VMName), also once the
             * NIC is gone (the record is then deleted with the port). */
            const char *port = qj_get_str(r, "VMName");
            snprintf(id, sizeof id, "port/%s", port ? port : "");
            if (!ours || !port || (qvs_map_get(pfs, port) && pf[qvs_map_get(pfs, port)->u.i].foreign))
                continue;
            if (!qvs_map_get(v.nic, port))
                qvs_map_put(ret->objects, id, hv_orphan());
            else
                hv_put_orphan(vs, ret, id);
            continue;
        }
        char *mac = qhyv_mac_colon(qj_get_str(r, "MACAddress"));
        snprintf(id, sizeof id, "lookup_record/%lld/%s/%s",
                 (long long)qj_get_int(r, "VirtualSubnetID", 0), ca ? ca : "", mac);
        free(mac);
        if (ours)
            hv_put_orphan(vs, ret, id);
        else
            qvs_map_put(ret->foreign, id, qj_clone(r));
    }
    for (size_t i = 0; i < qj_len(v.rows[V_CR]); i++) {
        const qj *r = qj_at(v.rows[V_CR], i);
        snprintf(id, sizeof id, "customer_route/%lld/%s",
                 (long long)qj_get_int(r, "VirtualSubnetID", 0),
                 qj_get_str(r, "DestinationPrefix") ? qj_get_str(r, "DestinationPrefix") : "");
        if (hv_streq(qj_get_str(r, "CustomerID"), QHYV_CUSTOMER_ID))
            hv_put_orphan(vs, ret, id);
        else
            qvs_map_put(ret->foreign, id, qj_clone(r));
    }
    for (size_t i = 0; i < qj_len(v.rows[V_PA]); i++) {
        const qj *r = qj_at(v.rows[V_PA], i);
        snprintf(id, sizeof id, "provider_address/%s",
                 qj_get_str(r, "ProviderAddress") ? qj_get_str(r, "ProviderAddress") : "");
        if (hv_wnv_ours(vs, id, r))
            hv_put_orphan(vs, ret, id);
        else
            qvs_map_put(ret->foreign, id, qj_clone(r));
    }
    for (size_t i = 0; i < npf; i++)
        hv_pf_free(&pf[i]);
    free(pf);
    qvs_map_free(pfs);
    qvs_map_free(sets);
    hv_view_drop_cache(vs);
    vs->cache = xmalloc(sizeof *vs->cache);
    *vs->cache = v;     /* the operate that follows needs no enumeration */
    return 0;
}

static bool hv_changed(qvs *vs) { return qhv_now_us() - vs->last_look_us >= HV_RESCAN_US; }

/* ---------- operate ---------- */

static bool hv_names_set(const qj *acl, const char *set)
{
    const qj *rules = qj_get(acl, "rules");
    for (size_t i = 0; i < qj_len(rules); i++) {
        const qj *names = qj_get(qj_at(rules, i), "remote_address_sets");
        for (size_t k = 0; k < qj_len(names); k++)
            if (hv_streq(qj_as_str(qj_at(names, k)), set))
                return true;
    }
    return false;
}

static size_t hv_operate(qvs *vs, qvs_op *ops, size_t n)
{
    char err[512] = "";
    hv_view v;
    if (vs->cache && qhv_now_us() - vs->cache->loaded_us < HV_CACHE_US) {
        v = *vs->cache;
        free(vs->cache);
        vs->cache = NULL;
    } else if (hv_view_drop_cache(vs), hv_view_load(vs, &v, err, sizeof err) < 0) {
        for (size_t i = 0; i < n; i++)
            hv_result(&ops[i], -EIO, err);
        hv_view_free(&v);
        return n;
    }
    qvs_map *next = qvs_map_new();
    const char *key;
    qj *val;
    for (size_t i = 0; i < qvs_map_end(vs->intent); i++)
        if (qvs_map_at(vs->intent, i, &key, &val))
            qvs_map_put(next, key, qj_clone(val));
    for (size_t i = 0; i < n; i++) {
        qvs_op *op = &ops[i];
        hv_result(op, 0, "");
        char port[256];
        if (qvs_kind_rank(op->id) < 0) {
            hv_result(op, -EINVAL, "unknown object kind");
        } else if (op->type != QVS_DELETE && !op->value) {
            hv_result(op, -EINVAL, "no value");
        } else if (!vs->wnv && (!strncmp(op->id, "lookup_record/", 14) ||
                                !strncmp(op->id, "customer_route/", 15) ||
                                !strncmp(op->id, "provider_address/", 17))) {
            if (op->type != QVS_DELETE)
                hv_result(op, -EOPNOTSUPP, "HNV v1 (NetWNV) is not available on this host "
                                           "(Windows Server 2019 and later)");
        } else if (hv_port_kind(op->id) && op->type != QVS_DELETE &&
                   !qvs_map_get(v.nic, hv_port_of(op->id, port, sizeof port))) {
            if (qvs_map_get(v.legacy, port))
                hv_result(op, -EOPNOTSUPP, "a legacy network adapter cannot be wired by qhv: "
                                           "give the VM a synthetic network adapter");
            else
                hv_result(op, -ENOENT, "no such VM NIC");
        }
        if (op->error)
            continue;
        if (op->type == QVS_DELETE)
            qvs_map_del(next, op->id);
        else
            qvs_map_put(next, op->id, qj_clone(op->value));
    }
    /* NetWNV objects first (what ports refer to), in the batch's order. */
    for (size_t i = 0; i < n; i++)
        if (!ops[i].error && !hv_port_kind(ops[i].id) && strncmp(ops[i].id, "address_set/", 12))
            hv_wnv_apply(vs, &v, next, &ops[i]);
    /* The ports touched: by their own ops, and by the address sets their
     * rules name. */
    qvs_map *touched = qvs_map_new();
    for (size_t i = 0; i < n; i++) {
        char port[256];
        if (ops[i].error)
            continue;
        if (hv_port_kind(ops[i].id)) {
            hv_port_of(ops[i].id, port, sizeof port);
            if (!qvs_map_get(touched, port))
                qvs_map_put(touched, port, hv_idx(qvs_map_size(touched)));
        } else if (!strncmp(ops[i].id, "address_set/", 12)) {
            for (size_t k = 0; k < qvs_map_end(next); k++)
                if (qvs_map_at(next, k, &key, &val) && !strncmp(key, "acl/", 4) &&
                    hv_names_set(val, ops[i].id + 12) &&
                    qvs_map_get(v.nic, hv_port_of(key, port, sizeof port)) &&
                    !qvs_map_get(touched, port))
                    qvs_map_put(touched, port, hv_idx(qvs_map_size(touched)));
        }
    }
    size_t np = qvs_map_size(touched);
    hv_pw *pw = xcalloc(np + 1, sizeof *pw);
    for (size_t i = 0; i < qvs_map_end(touched); i++)
        if (qvs_map_at(touched, i, &key, &val))
            pw[val->u.i].id = xstrdup(key);
    for (size_t i = 0; i < n; i++) {
        char port[256];
        if (!ops[i].error && ops[i].type == QVS_DELETE && !strncmp(ops[i].id, "acl/", 4)) {
            const qj *pi = qvs_map_get(touched, hv_port_of(ops[i].id, port, sizeof port));
            if (pi)
                pw[pi->u.i].acl_gone[hv_dir(ops[i].id)] = true;
        }
    }
    if (np)
        hv_ports(vs, &v, next, pw, np);
    /* Results. */
    size_t failed = 0;
    for (size_t i = 0; i < n; i++) {
        qvs_op *op = &ops[i];
        char port[256];
        if (!op->error && hv_port_kind(op->id)) {
            const qj *pi = qvs_map_get(touched, hv_port_of(op->id, port, sizeof port));
            hv_pw *w = pi ? &pw[pi->u.i] : NULL;
            if (w && w->error)
                hv_result(op, w->error, w->why);
            else if (w && op->id[0] == 'a' && op->type != QVS_DELETE &&
                     w->problem[hv_dir(op->id)][0])
                hv_result(op, -EOPNOTSUPP, w->problem[hv_dir(op->id)]);
        } else if (!op->error && !strncmp(op->id, "address_set/", 12)) {
            for (size_t k = 0; k < np && !op->error; k++)
                if (pw[k].error && pw[k].error != -EOPNOTSUPP &&
                    (hv_names_set(pw[k].acl[1], op->id + 12) ||
                     hv_names_set(pw[k].acl[2], op->id + 12))) {
                    char why[256];
                    snprintf(why, sizeof why, "port %.40s: %.200s", pw[k].id, pw[k].why);
                    hv_result(op, pw[k].error, why);
                }
        }
        /* The intent follows every op Hyper-V was asked to carry out: the
         * next dump compares it with what Hyper-V holds. */
        if (!op->error || op->error == -EOPNOTSUPP || op->error == -EINPROGRESS ||
            op->error == -EIO || op->error == -EAGAIN || op->error == -EBUSY ||
            op->error == -ETIMEDOUT) {
            if (op->type == QVS_DELETE)
                qvs_map_del(vs->intent, op->id);
            else if (op->value)
                qvs_map_put(vs->intent, op->id, qj_clone(op->value));
        }
        if (op->error)
            failed++;
    }
    /* Intents and ownership records of NICs that are gone: nothing of
     * theirs is left in Hyper-V. */
    for (size_t i = 0; i < qvs_map_end(vs->intent); i++) {
        char port[256];
        if (qvs_map_at(vs->intent, i, &key, NULL) && hv_port_kind(key) &&
            !qvs_map_get(v.nic, hv_port_of(key, port, sizeof port)))
            qvs_map_del(vs->intent, key);
    }
    for (size_t i = 0; i < qvs_map_end(vs->own); i++)
        if (qvs_map_at(vs->own, i, &key, NULL) && !qvs_map_get(v.nic, key))
            qvs_map_del(vs->own, key);
    hv_intent_save(vs);
    for (size_t i = 0; i < np; i++) {
        hv_pw_free(&pw[i]);
    }
    free(pw);
    qvs_map_free(touched);
    qvs_map_free(next);
    hv_view_free(&v);
    vs->last_look_us = 0;   /* look again soon: confirm what was done */
    return failed;
}

/* ---------- open, close, capabilities ---------- */

static void hv_close(qvs *vs)
{
    if (!vs)
        return;
    if (vs->own_transport && vs->t.cls)
        vs->t.cls->close(vs->t.w);
    hv_view_drop_cache(vs);
    qvs_map_free(vs->intent);
    qvs_map_free(vs->own);
    qj_free(vs->conn_default);
    qvs_map_free(vs->pending);
    free(vs->state_file);
    free(vs->pa_addr);
    free(vs->pa_next_hop);
    free(vs->pa_if);
    free(vs->vsms);
    free(vs);
}

static void hv_set_version(qvs *vs, const char *ver)
{
    snprintf(vs->version, sizeof vs->version, "%s", ver);
    vs->major = vs->minor = 0;
    vs->build = 0;
    sscanf(ver, "%d.%d.%ld", &vs->major, &vs->minor, &vs->build);
    bool r2 = vs->major > 6 || (vs->major == 6 && vs->minor >= 3);
    vs->extended = r2;
    vs->acl_dialect = r2 ? QHYV_ACL_EXTENDED : vs->acl_none_2012 ? QHYV_ACL_NONE : QHYV_ACL_PORT;
    vs->has_type = r2;
    vs->wnv = !(vs->major >= 10 && vs->build >= 17763);
}

/* Hyper-V's default connection settings: what a new connection starts
 * from (as os-win, libvirt and the Hyper-V module do). */
static void hv_open_defaults(qvs *vs)
{
    qj *rows = NULL;
    char e[256] = "";
    if (vs->t.cls->query(vs->t.w, QWMI_NS_VIRT,
                         "SELECT * FROM " HV_C_ALLOC " WHERE InstanceID LIKE '%Default' AND "
                         "ResourceSubType = '" HV_CONN_SUBTYPE "'",
                         &rows, e, sizeof e) == 0 && qj_len(rows))
        vs->conn_default = qj_clone(qj_at(rows, 0));
    qj_free(rows);
}

/* The number of the Values entry name of cls.prop on this host; false if
 * the host does not say. */
static bool hv_enum(qvs *vs, const qj *map, const char *name, int64_t *ret)
{
    const char *v = qj_get_str(map, name);
    char *end;
    long long n = v ? strtoll(v, &end, 10) : 0;
    if (!v || end == v || *end)
        return false;
    *ret = n;
    (void)vs;
    return true;
}

static bool hv_mac_eq(const char *a, const char *b)
{
    char *x = qhyv_mac12(a), *y = qhyv_mac12(b);
    bool eq = x && y && !strcmp(x, y);
    free(x);
    free(y);
    return eq;
}

/* HNV v1's prerequisites, checked once: Rule and Type numbers from the
 * classes' own value maps, the provider interface named by alias or MAC,
 * and on 2012 the ms_netwnv binding on it. What fails is said by every
 * NetWNV op and in the capabilities. */
static void hv_open_wnv(qvs *vs)
{
    char e[256] = "";
    qj *rule = NULL, *type = NULL;
    int rc = vs->t.cls->value_map
                 ? vs->t.cls->value_map(vs->t.w, QWMI_NS_STDCIMV2, QHYV_LR_CLASS, "Rule", &rule, e,
                                        sizeof e)
                 : -EOPNOTSUPP;
    if (rc == 0 && vs->has_type)
        rc = vs->t.cls->value_map(vs->t.w, QWMI_NS_STDCIMV2, QHYV_LR_CLASS, "Type", &type, e,
                                  sizeof e);
    if (rc < 0 || !hv_enum(vs, rule, "TranslationMethodNat", &vs->rule_nat) ||
        !hv_enum(vs, rule, "TranslationMethodEncap", &vs->rule_encap) ||
        (vs->has_type && (!hv_enum(vs, type, "Static", &vs->type_static) ||
                          !hv_enum(vs, type, "L2Only", &vs->type_l2only))))
        snprintf(vs->wnv_problem, sizeof vs->wnv_problem,
                 "cannot read the numbers of %s Rule/Type from the host's class (%.120s)",
                 QHYV_LR_CLASS, rc < 0 ? (e[0] ? e : "no value maps") : "a name is missing");
    qj_free(rule);
    qj_free(type);
    if (vs->wnv_problem[0] || !*vs->pa_addr)
        return;
    if (!*vs->pa_if && vs->pa.ifindex <= 0) {
        snprintf(vs->wnv_problem, sizeof vs->wnv_problem,
                 "no provider interface: set [hyperv] provider_interface to the alias or MAC "
                 "address of the adapter that carries provider traffic");
        return;
    }
    /* The adapter, by alias or MAC, else by index: it must exist. */
    const qj *ad = NULL;
    qj *rows = NULL;
    if (vs->t.cls->query(vs->t.w, QWMI_NS_STDCIMV2, "SELECT * FROM MSFT_NetAdapter", &rows, e,
                         sizeof e) < 0) {
        snprintf(vs->wnv_problem, sizeof vs->wnv_problem,
                 "cannot list the network adapters: %.180s", e);
        qj_free(rows);
        return;
    }
    for (size_t i = 0; i < qj_len(rows) && !ad; i++) {
        const qj *r = qj_at(rows, i);
        const char *n = qj_get_str(r, "Name"), *al = qj_get_str(r, "InterfaceAlias");
        if (*vs->pa_if ? (n && !strcasecmp(n, vs->pa_if)) || (al && !strcasecmp(al, vs->pa_if)) ||
                             hv_mac_eq(qj_get_str(r, "MacAddress"), vs->pa_if) ||
                             hv_mac_eq(qj_get_str(r, "PermanentAddress"), vs->pa_if)
                       : qj_get_int(r, "InterfaceIndex", -1) == vs->pa.ifindex)
            ad = r;
    }
    if (!ad) {
        if (*vs->pa_if)
            snprintf(vs->wnv_problem, sizeof vs->wnv_problem,
                     "[hyperv] provider_interface '%.60s': no network adapter has that name or "
                     "MAC address", vs->pa_if);
        else
            snprintf(vs->wnv_problem, sizeof vs->wnv_problem,
                     "[hyperv] provider_interface_index %lld: no network adapter has that "
                     "index", (long long)vs->pa.ifindex);
        qj_free(rows);
        return;
    }
    vs->pa.ifindex = qj_get_int(ad, "InterfaceIndex", 0);
    if (vs->major == 6 && vs->minor == 2) {
        /* 2012: Windows Network Virtualization is a filter to bind. */
        char *an = xstrdup(qj_get_str(ad, "Name") ? qj_get_str(ad, "Name") : "");
        qj *b = NULL;
        bool on = false;
        if (vs->t.cls->query(vs->t.w, QWMI_NS_STDCIMV2,
                             "SELECT * FROM MSFT_NetAdapterBindingSettingData WHERE ComponentID "
                             "= 'ms_netwnv'", &b, e, sizeof e) == 0)
            for (size_t i = 0; i < qj_len(b); i++) {
                const qj *r = qj_at(b, i);
                const char *n = qj_get_str(r, "Name"), *al = qj_get_str(r, "InterfaceAlias");
                if (((n && !strcasecmp(n, an)) || (al && !strcasecmp(al, an))) &&
                    qj_get_bool(r, "Enabled", false))
                    on = true;
            }
        if (!on)
            snprintf(vs->wnv_problem, sizeof vs->wnv_problem,
                     "Windows Network Virtualization is not bound to the provider interface "
                     "'%.60s': Enable-NetAdapterBinding -Name '%.60s' -ComponentID ms_netwnv",
                     an, an);
        qj_free(b);
        free(an);
    }
    qj_free(rows);
}

#ifdef _WIN32
int qwmi_com_open(qwmi_transport *ret, char *err, size_t errlen);
#endif

static int hv_open(const qvs_options *opt, qvs **ret, char *err, size_t errlen)
{
    *ret = NULL;
    qvs *vs = xcalloc(1, sizeof *vs);
    const char *name = opt->hyperv_transport_name && *opt->hyperv_transport_name
                           ? opt->hyperv_transport_name : "com";
    const char *over = opt->hyperv_windows_version ? opt->hyperv_windows_version : "";
    int rc = 0;
    if (opt->hyperv_transport) {
        vs->t = *opt->hyperv_transport;
    } else if (!strcmp(name, "model")) {
        rc = qwmi_model_open(opt->hyperv_model_file, *over ? over : NULL, &vs->t, err, errlen);
        vs->own_transport = rc == 0;
    } else if (!strcmp(name, "com")) {
#ifdef _WIN32
        rc = qwmi_com_open(&vs->t, err, errlen);
        vs->own_transport = rc == 0;
#else
        snprintf(err, errlen, "[hyperv] transport = com needs Windows (use transport = model "
                              "for the in-memory model)");
        rc = -1;
#endif
    } else {
        snprintf(err, errlen, "[hyperv] transport '%s': com or model", name);
        rc = -1;
    }
    if (rc < 0) {
        free(vs);
        return -1;
    }
    vs->pending = qvs_map_new();
    const char *pacl = opt->hyperv_port_acls_2012 ? opt->hyperv_port_acls_2012 : "";
    if (*pacl && strcmp(pacl, "on-link") && strcmp(pacl, "none")) {
        snprintf(err, errlen, "[hyperv] port_acls_2012 '%s': on-link or none", pacl);
        hv_close(vs);
        return -1;
    }
    vs->acl_none_2012 = !strcmp(pacl, "none");
    vs->job_wait_ms = opt->hyperv_job_wait_ms > 0 ? opt->hyperv_job_wait_ms : 0;
    if (*over) {
        hv_set_version(vs, over);
    } else {
        qj *rows = NULL;
        char e[256] = "";
        if (vs->t.cls->query(vs->t.w, QWMI_NS_CIMV2, "SELECT * FROM Win32_OperatingSystem", &rows,
                             e, sizeof e) < 0 ||
            !qj_get_str(qj_at(rows, 0), "Version")) {
            snprintf(err, errlen, "cannot read the Windows version (Win32_OperatingSystem): %s; "
                                  "set [hyperv] windows_version", e);
            qj_free(rows);
            hv_close(vs);
            return -1;
        }
        hv_set_version(vs, qj_get_str(qj_at(rows, 0), "Version"));
        qj_free(rows);
    }
    qj *rows = NULL;
    char e[256] = "";
    if (vs->t.cls->query(vs->t.w, QWMI_NS_VIRT, "SELECT * FROM " HV_C_VSMS, &rows, e, sizeof e) < 0 ||
        !qj_get_str(qj_at(rows, 0), "__PATH")) {
        snprintf(err, errlen, "no %s (is Hyper-V installed?): %s", HV_C_VSMS, e);
        qj_free(rows);
        hv_close(vs);
        return -1;
    }
    vs->vsms = xstrdup(qj_get_str(qj_at(rows, 0), "__PATH"));
    qj_free(rows);
    hv_open_defaults(vs);
    if (opt->hyperv_state_file && *opt->hyperv_state_file)
        vs->state_file = xstrdup(opt->hyperv_state_file);
    hv_intent_load(vs);
    vs->pa_addr = xstrdup(opt->provider_address ? opt->provider_address : "");
    vs->pa_next_hop = xstrdup(opt->hyperv_pa_next_hop ? opt->hyperv_pa_next_hop : "");
    vs->pa.address = vs->pa_addr;
    vs->pa.ifindex = opt->hyperv_pa_ifindex;
    vs->pa.prefix_len = opt->hyperv_pa_prefix_len;
    vs->pa.vlan = opt->hyperv_pa_vlan;
    vs->pa.next_hop = vs->pa_next_hop;
    vs->pa_if = xstrdup(opt->hyperv_pa_interface ? opt->hyperv_pa_interface : "");
    vs->pa.interface = vs->pa_if;
    if (vs->wnv)
        hv_open_wnv(vs);
    *ret = vs;
    return 0;
}

static qj *hv_capabilities(qvs *vs)
{
    qj *c = qj_object();
    qj_set(c, "windows_version", qj_str(vs->version));
    qj *types = qj_array();
    static const char *const base[] = {"local", "flat", "vlan"};
    for (size_t i = 0; i < 3; i++)
        qj_append(types, qj_str(base[i]));
    if (vs->wnv) {
        qj_append(types, qj_str("nvgre"));
        qj_append(types, qj_str("ip_rewrite"));
    }
    qj_set(c, "network_types", types);
    /* Exact where extended ACLs are (approximations are reported per port);
     * 2012's address-only port ACLs are not. */
    qj_set(c, "port_filter", qj_bool(vs->extended));
    qj_set(c, "acl", qj_str(vs->extended ? "extended" : "port"));
    if (!vs->extended)
        qj_set(c, "port_filter_reason",
               qj_str("Windows Server 2012 port ACLs match remote addresses only (no protocol, "
                      "port or state)"));
    qj_set(c, "hnv_v1", qj_bool(vs->wnv));
    if (vs->wnv && vs->wnv_problem[0])
        qj_set(c, "hnv_v1_problem", qj_str(vs->wnv_problem));
    if (vs->wnv)
        qj_set(c, "provider_interface_index", qj_int(vs->pa.ifindex));
    if (!vs->conn_default)
        qj_set(c, "problem", qj_str("Hyper-V's default connection settings were not found: "
                                    "no new port can be connected"));
    /* Said once here rather than failing every port: what no port gets. */
    qj *gaps = qj_array();
    qj_append(gaps, qj_str("IP source anti-spoofing (allowed_addresses): not enforced; MAC "
                           "spoofing protection, DHCP guard and router guard are"));
    qj_append(gaps, qj_str("ICMP type/code: rules naming them are left out (reported per port)"));
    qj_append(gaps, qj_str("stateful ICMP and other non-TCP/UDP protocols (stateful security "
                           "groups): replies need a rule of the other direction"));
    qj_set(c, "not_enforced", gaps);
    return c;
}

const qvs_class qvs_hyperv_class = {
    .name = "hyperv",
    .port_filter = true,
    .open = hv_open,
    .close = hv_close,
    .dump = hv_dump,
    .changed = hv_changed,
    .operate = hv_operate,
    .capabilities = hv_capabilities,
};

