#include "model/nova.h"
#include "lib/log.h"
#include "lib/util.h"
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

bool qnova_is_compute_port(const qj *port)
{
    const char *dev = qj_get_str(port, "device_id"), *owner = qj_get_str(port, "device_owner");
    return dev && owner && qhv_is_uuid(dev) && !strncmp(owner, "compute:", 8);
}

static size_t qnova_add(qoutbox_event *out, size_t n, const qj *port, const char *name,
                        const char *status)
{
    qoutbox_event *ev = &out[n];
    memset(ev, 0, sizeof *ev);
    snprintf(ev->name, sizeof ev->name, "%s", name);
    snprintf(ev->server_uuid, sizeof ev->server_uuid, "%s", qj_get_str(port, "device_id"));
    snprintf(ev->tag, sizeof ev->tag, "%s", qj_get_str(port, "id"));
    snprintf(ev->status, sizeof ev->status, "%s", status);
    return n + 1;
}

static bool qnova_is(const char *s, const char *v) { return s && !strcmp(s, v); }

/* Neutron's status rules (record_port_status_changed): plugged only from
 * no status (a new port), DOWN or BUILD; unplugged only ACTIVE -> DOWN. */
static size_t qnova_status_events(const qj *old, const qj *new, qoutbox_event *out, size_t n)
{
    const char *was = old ? qj_get_str(old, "status") : NULL;
    const char *is = qj_get_str(new, "status");
    bool from_down = !old || qnova_is(was, "DOWN") || qnova_is(was, "BUILD");
    if (from_down && qnova_is(is, "ACTIVE"))
        return qnova_add(out, n, new, "network-vif-plugged", "completed");
    if (from_down && qnova_is(is, "ERROR"))
        return qnova_add(out, n, new, "network-vif-plugged", "failed");
    if (qnova_is(was, "ACTIVE") && qnova_is(is, "DOWN"))
        n = qnova_add(out, n, new, "network-vif-unplugged", "completed");
    /* A binding that fails: Nova waiting for this port can stop waiting
     * (Neutron's ML2 leaves Nova to read binding_failed in its update's
     * answer; the event says it to a Nova that bound the port earlier). */
    const char *vif = qj_get_str(new, "binding:vif_type");
    const char *vif_was = old ? qj_get_str(old, "binding:vif_type") : NULL;
    if (qnova_is(vif, "binding_failed") && !qnova_is(vif_was, "binding_failed"))
        n = qnova_add(out, n, new, "network-vif-plugged", "failed");
    return n;
}

size_t qnova_port_events(const qconf *c, const qj *old, const qj *new,
                         qoutbox_event out[QNOVA_MAX_EVENTS])
{
    size_t n = 0;
    if (!new) {
        if (old && c->notify_nova_on_port_data_changes && qnova_is_compute_port(old))
            n = qnova_add(out, n, old, "network-vif-deleted", "");
        return n;
    }
    /* Neutron judges by the port as it is now: a port that just became an
     * instance's counts, one that just stopped being one does not. */
    if (!qnova_is_compute_port(new))
        return 0;
    if (old && c->notify_nova_on_port_data_changes &&
        !qj_equal(qj_get(old, "fixed_ips"), qj_get(new, "fixed_ips")))
        n = qnova_add(out, n, new, "network-changed", "");
    if (c->notify_nova_on_port_status_changes)
        n = qnova_status_events(old, new, out, n);
    return n;
}

int qnova_port_written(qop *op, const qj *old, const qj *new, qerr *e)
{
    const qconf *c = op->m->conf;
    if (!c->nova_enabled)
        return 0;
    qoutbox_event evs[QNOVA_MAX_EVENTS];
    size_t n = qnova_port_events(c, old, new, evs);
    for (size_t i = 0; i < n; i++) {
        evs[i].created = op->now;
        qoutbox_event dropped;
        if (qoutbox_add(op->m->store, &evs[i], c->nova_max_pending_events, &dropped, e) < 0)
            return -1;
        if (dropped.id) {
            atomic_fetch_add(&op->m->nova_dropped, 1);
            QLOG_W("nova", "outbox full ([nova] max_pending_events = %lld: Nova or Keystone has "
                           "not answered for a while): dropped its oldest event #%lld %s %s "
                           "for server %s port %s (recorded %lld s ago)",
                   (long long)c->nova_max_pending_events, (long long)dropped.id, dropped.name,
                   dropped.status, dropped.server_uuid, dropped.tag,
                   (long long)(op->now - dropped.created));
        }
        QLOG_D("nova", "recorded %s %s for server %s port %s", evs[i].name, evs[i].status,
               evs[i].server_uuid, evs[i].tag);
    }
    if (n)
        op->nova_events = true;
    return 0;
}
