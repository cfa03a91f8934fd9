/* outbox: events for Nova waiting to be sent (table nova_outbox). An event
 * is added inside the write transaction of the change that causes it, so it
 * exists exactly when the change does; the sender reads the oldest ones
 * after commit and removes them once Nova has answered. The table is
 * bounded: adding to a full outbox drops its oldest event.
 *
 * Ownership: events are plain values in caller-provided storage; nothing
 * returned here needs freeing. */
#ifndef QHV_STORE_OUTBOX_H
#define QHV_STORE_OUTBOX_H
#include <stddef.h>
#include <stdint.h>
#include "store/store.h"

typedef struct qoutbox_event {
    int64_t id;                /* increasing: the order events were recorded in */
    int64_t created;           /* wall clock seconds */
    char name[32];             /* network-vif-plugged, ... */
    char server_uuid[64];
    char tag[64];
    char status[16];           /* completed, failed, or "" (not sent) */
    int64_t attempts;          /* sends that got no usable answer */
    int64_t last_attempt;      /* wall clock seconds of the last of them, 0 = none */
    char last_error[256];
} qoutbox_event;

/* Adds an event; must run inside a write transaction (qstore_begin_write).
 * With max events already pending, the oldest is deleted first and copied
 * into *dropped (dropped->id == 0 when nothing was dropped). */
int qoutbox_add(qstore *s, const qoutbox_event *ev, int64_t max, qoutbox_event *dropped,
                qerr *e);
/* Up to n pending events, oldest first, into out. Returns how many, or -1. */
int qoutbox_list(qstore *s, qoutbox_event *out, size_t n, qerr *e);
/* Pending events, or -1. */
int64_t qoutbox_count(qstore *s, qerr *e);
/* Each in its own write transaction (takes the write lock): */
/* Removes the events ids (those already gone are ignored). */
int qoutbox_remove(qstore *s, const int64_t *ids, size_t n, qerr *e);
/* Records a failed attempt at sending ids: attempts + 1, when, why. */
int qoutbox_note_failure(qstore *s, const int64_t *ids, size_t n, int64_t now, const char *why,
                         qerr *e);

#endif
