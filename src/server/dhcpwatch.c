#include "server/dhcpwatch.h"
#include "model/dhcp.h"
#include "lib/log.h"
#include "lib/util.h"
#include <pthread.h>
#include <stdlib.h>

struct qdhcpwatch {
    qmodel *m;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stopping;
    pthread_t thread;
};

static void *qdhcpwatch_main(void *arg)
{
    qdhcpwatch *w = arg;
    /* Half the down time (Neutron checks as often): a dead node's networks
     * move at most 1.5 agent_down_time after its last heartbeat. */
    long period_ms = (long)(w->m->conf->agent_down_time * 1000 / 2);
    pthread_mutex_lock(&w->lock);
    while (!w->stopping) {
        struct timespec ts;
        qhv_deadline(&ts, period_ms);
        pthread_cond_timedwait(&w->cond, &w->lock, &ts);
        if (w->stopping)
            break;
        pthread_mutex_unlock(&w->lock);
        qerr e;
        /* One server of those sharing a database does it (each would do
         * the same, serialised; the others need not). */
        int rc = qstore_lead(w->m->store, "dhcp-failover") ? qdhcp_failover(w->m, &e) : 0;
        if (rc < 0)
            QLOG_E("dhcp", "moving the networks of dead DHCP agents: %s", e.msg);
        else if (rc > 0)
            QLOG_I("dhcp", "networks of dead DHCP agents moved to live ones");
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

qdhcpwatch *qdhcpwatch_start(qmodel *m)
{
    qdhcpwatch *w = xcalloc(1, sizeof *w);
    w->m = m;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (pthread_create(&w->thread, NULL, qdhcpwatch_main, w) != 0) {
        QLOG_E("dhcp", "cannot start the DHCP agent watcher: dead agents' networks stay");
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
        free(w);
        return NULL;
    }
    return w;
}

void qdhcpwatch_stop(qdhcpwatch *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w);
}
