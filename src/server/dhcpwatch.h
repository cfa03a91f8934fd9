/* dhcpwatch: the server's periodic look for dead DHCP agents (an agent
 * dies by staying silent, so no request tells the server): every half
 * [agent] agent_down_time, their networks move to live network nodes
 * (model/dhcp.h, qdhcp_failover).
 *
 * Ownership: qdhcpwatch_start returns a watcher that qdhcpwatch_stop stops
 * and frees (accepts NULL); the model is borrowed and must outlive it. */
#ifndef QHV_SERVER_DHCPWATCH_H
#define QHV_SERVER_DHCPWATCH_H
#include "model/model.h"

typedef struct qdhcpwatch qdhcpwatch;

qdhcpwatch *qdhcpwatch_start(qmodel *m);
void qdhcpwatch_stop(qdhcpwatch *w);

#endif
