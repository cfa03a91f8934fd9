#include "model/touch.h"
#include "lib/util.h"
#include <stdlib.h>
#include <string.h>

bool qtouch_has(const qtouch_set *s, const char *v)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], v))
            return true;
    return false;
}

void qtouch_add(qtouch_set *s, const char *v)
{
    if (!v || !*v || qtouch_has(s, v))
        return;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->v = xrealloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = xstrdup(v);
}

void qtouch_doc(qtouch *t, const char *kind, const qj *doc)
{
    if (!strcmp(kind, "port")) {
        qtouch_add(&t->port_networks, qj_get_str(doc, "network_id"));
        /* A DHCP port is in every host's view of its network (dhcp_servers,
         * the metadata route). */
        const char *owner = qj_get_str(doc, "device_owner");
        if (owner && !strcmp(owner, "network:dhcp"))
            qtouch_add(&t->networks, qj_get_str(doc, "network_id"));
        qtouch_add(&t->hosts, qj_get_str(doc, "binding:host_id"));
        const qj *sgs = qj_get(doc, "security_groups");
        for (size_t i = 0; i < qj_len(sgs); i++)
            qtouch_add(&t->groups, qj_as_str(qj_at(sgs, i)));
    } else if (!strcmp(kind, "network")) {
        qtouch_add(&t->networks, qj_get_str(doc, "id"));
    } else if (!strcmp(kind, "subnet")) {
        qtouch_add(&t->networks, qj_get_str(doc, "network_id"));
    } else if (!strcmp(kind, "security_group")) {
        qtouch_add(&t->groups, qj_get_str(doc, "id"));
    } else if (!strcmp(kind, "security_group_rule")) {
        qtouch_add(&t->groups, qj_get_str(doc, "security_group_id"));
    } else if (!strcmp(kind, "agent")) {
        qtouch_add(&t->hosts, qj_get_str(doc, "host"));
    } else {
        t->all = true;
    }
}

static void qtouch_merge_set(qtouch_set *into, const qtouch_set *from)
{
    for (size_t i = 0; i < from->n; i++)
        qtouch_add(into, from->v[i]);
}

void qtouch_merge(qtouch *into, const qtouch *from)
{
    into->all |= from->all;
    qtouch_merge_set(&into->networks, &from->networks);
    qtouch_merge_set(&into->port_networks, &from->port_networks);
    qtouch_merge_set(&into->hosts, &from->hosts);
    qtouch_merge_set(&into->groups, &from->groups);
}

static void qtouch_set_clear(qtouch_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

void qtouch_clear(qtouch *t)
{
    if (!t)
        return;
    qtouch_set_clear(&t->networks);
    qtouch_set_clear(&t->port_networks);
    qtouch_set_clear(&t->hosts);
    qtouch_set_clear(&t->groups);
    t->all = false;
}

bool qtouch_empty(const qtouch *t)
{
    return !t->all && !t->networks.n && !t->port_networks.n && !t->hosts.n && !t->groups.n;
}

static void qtouch_set_to(qj *o, const char *key, const qtouch_set *s)
{
    if (!s->n)
        return;
    qj *a = qj_array();
    for (size_t i = 0; i < s->n; i++)
        qj_append(a, qj_str(s->v[i]));
    qj_set(o, key, a);
}

char *qtouch_to_note(const qtouch *t, bool nova)
{
    qj *o = qj_object();
    if (t->all)
        qj_set(o, "all", qj_bool(true));
    qtouch_set_to(o, "n", &t->networks);
    qtouch_set_to(o, "p", &t->port_networks);
    qtouch_set_to(o, "h", &t->hosts);
    qtouch_set_to(o, "g", &t->groups);
    if (nova)
        qj_set(o, "nova", qj_bool(true));
    char *text = qj_to_string(o);
    qj_free(o);
    return text;
}

static void qtouch_set_from(const qj *o, const char *key, qtouch_set *s)
{
    const qj *a = qj_get(o, key);
    for (size_t i = 0; i < qj_len(a); i++)
        qtouch_add(s, qj_as_str(qj_at(a, i)));
}

int qtouch_from_note(const char *note, qtouch *t, bool *nova)
{
    qj *o = note ? qj_parse(note, strlen(note), NULL, NULL) : NULL;
    if (!qj_is(o, QJ_OBJECT)) {
        qj_free(o);
        return -1;
    }
    const qj *all = qj_get(o, "all"), *n = qj_get(o, "nova");
    t->all = qj_is(all, QJ_BOOL) && all->u.b;
    qtouch_set_from(o, "n", &t->networks);
    qtouch_set_from(o, "p", &t->port_networks);
    qtouch_set_from(o, "h", &t->hosts);
    qtouch_set_from(o, "g", &t->groups);
    *nova = qj_is(n, QJ_BOOL) && n->u.b;
    qj_free(o);
    return 0;
}
