/* touch: what a write changed, as far as host plans care — the networks,
 * hosts and security groups of the documents it stored or deleted. The
 * plan feed turns it into the set of hosts whose plans to recompute, so a
 * change wakes only the hosts it concerns.
 *
 * Ownership: a qtouch is a plain struct; qtouch_clear frees its contents. */
#ifndef QHV_MODEL_TOUCH_H
#define QHV_MODEL_TOUCH_H
#include <stdbool.h>
#include <stddef.h>
#include "lib/json.h"

typedef struct qtouch_set {
    char **v;
    size_t n, cap;
} qtouch_set;

typedef struct qtouch {
    bool all;                /* unknown effect: every host */
    qtouch_set networks;     /* network or its subnets changed: every host on it */
    qtouch_set port_networks;/* a port on it changed: hosts on it if it is virtualised,
                              * and its DHCP nodes */
    qtouch_set hosts;        /* ports bound there or its agent changed */
    qtouch_set groups;       /* rules or membership of these groups changed */
} qtouch;

void qtouch_add(qtouch_set *s, const char *v);
bool qtouch_has(const qtouch_set *s, const char *v);
/* Records document doc of kind ("port", "network", ...). */
void qtouch_doc(qtouch *t, const char *kind, const qj *doc);
void qtouch_merge(qtouch *into, const qtouch *from);
void qtouch_clear(qtouch *t);
bool qtouch_empty(const qtouch *t);

/* As the note a commit publishes for the other servers on its database
 * (qstore_publish): compact JSON {"all","n","p","h","g","nova"}; nova: the
 * commit recorded events for Nova. qtouch_to_note returns a string the
 * caller frees; qtouch_from_note fills an empty *t (caller clears it) and
 * returns 0, or -1 for a note it cannot read. */
char *qtouch_to_note(const qtouch *t, bool nova);
int qtouch_from_note(const char *note, qtouch *t, bool *nova);

#endif
