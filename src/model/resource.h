/* resource: the table-driven resource engine. A resource is a table of
 * attributes (name, kind, flags, default, limits, checker) plus optional
 * hooks; the engine does everything the Networking API does the same way for
 * every resource: body shape, unknown and read-only attributes, conversion and
 * validation, defaults, ownership and admin-only attributes, storage,
 * revisions and timestamps, visibility, filters, fields, sorting, pagination
 * and bulk. Hooks add what is specific (allocation, cross-resource rules).
 *
 * Documents are JSON objects (lib/json.h) stored whole in the store's
 * resources table. Every qj a function here returns is owned by the caller. */
#ifndef QHV_MODEL_RESOURCE_H
#define QHV_MODEL_RESOURCE_H
#include <stdbool.h>
#include <stddef.h>
#include "model/model.h"

typedef enum { QA_STR, QA_BOOL, QA_INT, QA_UUID, QA_LIST, QA_DICT, QA_ANY } qattr_kind;

enum {
    QA_POST = 1 << 0,        /* may be given on create */
    QA_PUT = 1 << 1,         /* may be changed on update */
    QA_REQUIRED = 1 << 2,    /* must be given on create */
    QA_NULL = 1 << 3,        /* null is a valid value */
    QA_ADMIN_W = 1 << 4,     /* only admins may write it */
    QA_ADMIN_R = 1 << 5,     /* only admins see it */
    QA_STRCONV = 1 << 6,     /* ints/bools may arrive as strings ("100", "true") */
    QA_NOFILTER = 1 << 7,    /* not usable as a list filter */
    QA_NOSORT = 1 << 8,      /* not usable as a sort key */
    QA_NULL_EMPTY = 1 << 9,  /* null is accepted and means empty ({} or []), as Neutron's
                              * convert_none_to_empty_dict/list */
    QA_FILTER_ALL = 1 << 10, /* the filter fn gets all of a request's values at once,
                              * one per line, instead of being ORed value by value */
};

struct qattr;
/* Checks and normalises *v in place (may replace it). Returns -1 with e set. */
typedef int (*qattr_check_fn)(qop *op, const struct qattr *a, qj **v, qerr *e);
/* Custom filter: 1 if value matches query text q, 0 if not, -1 if q is invalid. */
typedef int (*qattr_filter_fn)(const qj *value, const char *q);

typedef struct qattr {
    const char *name;
    qattr_kind kind;
    unsigned flags;
    const char *def;             /* default on create, as a JSON literal; NULL = none */
    int64_t min, max;            /* QA_INT range; QA_STR: max = max length (0 = none) */
    const char *const *choices;  /* QA_STR: allowed values, NULL-terminated */
    qattr_check_fn check;
    qattr_filter_fn filter;
} qattr;

/* A hidden boolean attribute (Neutron's is_visible False, is_filter True):
 * in the table (flags QA_NOSORT) but never stored or shown, only a list
 * filter, run by the store as sql: a condition on the resources row r with
 * %s for the filter's value (TRUE or FALSE). */
typedef struct qsql_filter {
    const char *name;
    const char *sql;
} qsql_filter;

typedef struct qresource qresource;
struct qresource {
    const char *name;            /* "network" */
    const char *collection;      /* "networks": the JSON key of lists */
    const char *path;            /* URL segment when it differs ("security-groups"), or NULL */
    const char *label;           /* "Network" in "Network X could not be found." */
    const char *notfound_fmt;    /* the message with %s for the id when it is not that one */
    qerr_code notfound;
    const qattr *attrs;
    size_t nattrs;
    int initial_revision;        /* Neutron starts some resources at 1, some at 0 */
    const char *parent_attr;     /* attribute kept in the parent_id column, or NULL */
    const char *host_attr;       /* attribute kept in the host column, or NULL */
    bool has_tags;               /* standard-attr-tag applies */
    bool no_create;              /* POST on the collection is 405 (agents) */
    bool admin_only;             /* non-admins see nothing (agents) */
    bool no_pagination;          /* limit/marker/page_reverse ignored (rbac-policies) */
    bool core;                   /* listed by GET /v2.0/ */
    /* Non-admin visibility beyond "own project": SQL on the resources row r,
     * with ?1 bound to the caller's project; NULL = own project only. */
    const char *shared_sql;
    /* Attributes filtered by SQL (hidden ones, or one that depends on the
     * caller such as a network's shared), {NULL}-terminated, or NULL. */
    const qsql_filter *sql_filters;
    /* Hooks, all optional, run inside the write transaction. */
    int (*on_create)(qop *op, qj *obj, qerr *e);
    /* After the insert (for dependents that reference the new row); stores
     * what it changes itself, may update obj for the response. */
    int (*after_create)(qop *op, qj *obj, qerr *e);
    int (*on_update)(qop *op, const qj *old, qj *obj, const qj *changes, qerr *e);
    int (*on_delete)(qop *op, const qj *obj, qerr *e);
    /* After every write of a document of this resource, by any path (API,
     * agent report, re-binding, cascade): old is the document before (NULL:
     * inserted), new after (NULL: deleted). Runs in the write's transaction;
     * failing fails the write. */
    int (*on_written)(qop *op, const qj *old, const qj *new, qerr *e);
    /* After a DELETE request removed obj's row (not when a parent's delete
     * takes it along). */
    int (*after_delete)(qop *op, const qj *obj, qerr *e);
    /* Fills computed attributes into a document about to be shown; failing
     * (the store) fails the request: no answer is better than a wrong one. */
    int (*on_view)(const qmodel *m, qj *obj, qerr *e);
    /* The wire form of a document about to be returned to ctx, after filters
     * and sorting saw the stored form (e.g. Neutron's numbers as strings,
     * attributes that depend on who asks). */
    int (*on_show)(const qmodel *m, const qctx *ctx, qj *obj, qerr *e);
    /* Admin or owner of obj; NULL = project_id == caller's project. */
    bool (*may_write)(qop *op, const qj *obj);
};

/* Query parameters of a request, in order, repeats kept. Borrowed strings. */
typedef struct qquery {
    size_t n;
    struct { const char *key, *value; } *kv;
} qquery;

/* What a list returns besides the items: pagination links' markers. */
typedef struct qlist_page {
    bool has_next, has_prev;
    char next_marker[64], prev_marker[64];
} qlist_page;

/* Create from a request body: {"<name>": {...}} or {"<collection>": [...]}
 * (bulk, all-or-nothing). Returns the response body {"<name>": obj} or
 * {"<collection>": [...]}. One transaction. */
int qres_create_request(qmodel *m, const qctx *ctx, const qresource *r, const qj *body,
                        qj **ret, qerr *e);
/* Update from {"<name>": {...}}; if_match_revision < 0 = no precondition. */
int qres_update_request(qmodel *m, const qctx *ctx, const qresource *r, const char *id,
                        const qj *body, int64_t if_match_revision, qj **ret, qerr *e);
int qres_delete_request(qmodel *m, const qctx *ctx, const qresource *r, const char *id,
                        int64_t if_match_revision, qerr *e);
/* A member action (PUT .../{id}/{action}, e.g. add_prefixes): fn changes
 * obj (the caller may see and write it) and sets *ret to the answer; obj is
 * stored with a new revision when it changed. One transaction. */
typedef int (*qres_action_fn)(qop *op, qj *obj, const qj *body, qj **ret, qerr *e);
int qres_action_request(qmodel *m, const qctx *ctx, const qresource *r, const char *id,
                        const char *action, const qj *body, qres_action_fn fn, qj **ret,
                        qerr *e);
/* GET one: {"<name>": view}; fields from the query. */
int qres_show_request(qmodel *m, const qctx *ctx, const qresource *r, const char *id,
                      const qquery *q, qj **ret, qerr *e);
/* GET collection: {"<collection>": [...]} with filters, fields, sorting and
 * pagination from q; page gets the markers for <collection>_links. */
int qres_list_request(qmodel *m, const qctx *ctx, const qresource *r, const qquery *q,
                      qj **ret, qlist_page *page, qerr *e);

/* The same as text {"<collection>": [...]} appended to out. Stored
 * documents are copied through unparsed when nothing in the request needs
 * them parsed (an admin's plain or parent-filtered list): the common and
 * the largest lists. */
int qres_list_text(qmodel *m, const qctx *ctx, const qresource *r, const qquery *q, qbuf *out,
                   qlist_page *page, qerr *e);

/* Tags (standard-attr-tag) of one object: GET/PUT/DELETE on .../tags and
 * .../tags/{tag} (tag NULL for the former). *status gets the HTTP status;
 * *ret the body, or NULL for none. */
int qres_tags_request(qmodel *m, const qctx *ctx, const qresource *r, const char *id,
                      const char *method, const char *tag, const qj *body, qj **ret,
                      int *status, qerr *e);

/* Sets e to r's "not found" error for id; returns -1. */
int qres_notfound(const qresource *r, const char *id, qerr *e);

/* For hooks (inside a write op, no visibility check). */
int qres_load(qop *op, const qresource *r, const char *id, qj **ret, qerr *e);
/* The same where absence is no error: 1 found, 0 there is none (*ret NULL),
 * -1 the store failed (e set). */
int qres_find(qop *op, const qresource *r, const char *id, qj **ret, qerr *e);
int qres_store(qop *op, const qresource *r, qj *obj, bool insert, qerr *e);
/* Updates obj without recording it in op->touched: for writes that change
 * nothing a host plan reads (a port's status, an agent's heartbeat time), so
 * that they recompute no plan and wake no agent. */
int qres_store_unplanned(qop *op, const qresource *r, qj *obj, qerr *e);
int qres_delete_row(qop *op, const qresource *r, const char *id, qerr *e);
/* Bumps revision_number and updated_at of obj (a dependent changed). */
void qres_touch(qop *op, qj *obj);
/* Loads r's id, touches it and stores it back (e.g. network when a subnet
 * is added). */
int qres_touch_id(qop *op, const qresource *r, const char *id, qerr *e);
/* All documents of kind r whose parent_id is parent, in id order. */
int qres_children(qop *op, const qresource *r, const char *parent, qj **ret_array, qerr *e);
/* Creates one object inside an existing op (used by hooks, e.g. default SG). */
int qres_create_one(qop *op, const qresource *r, qj *item, bool internal, qj **ret, qerr *e);
/* True if obj belongs to the caller's project or the caller is admin. */
bool qres_is_owner(const qop *op, const qj *obj);
const qattr *qres_attr(const qresource *r, const char *name);
/* Converts and checks *v as r's attribute name would be (for attributes
 * that carry others, e.g. a network's segments). */
int qres_convert_attr(qop *op, const qresource *r, const char *name, qj **v, qerr *e);

/* Common attribute checkers for tables. */
int qattr_check_uuid_list(qop *op, const qattr *a, qj **v, qerr *e);
int qattr_check_str_list(qop *op, const qattr *a, qj **v, qerr *e);
int qattr_check_dict(qop *op, const qattr *a, qj **v, qerr *e);
/* QA_INT: Neutron's type:non_negative. */
int qattr_check_non_negative(qop *op, const qattr *a, qj **v, qerr *e);

/* Standard attribute rows for tables (order = output order). */
#define QATTR_ID {"id", QA_UUID, 0, NULL, 0, 0, NULL, NULL, NULL}
#define QATTR_NAME {"name", QA_STR, QA_POST | QA_PUT, "\"\"", 0, 255, NULL, NULL, NULL}
#define QATTR_PROJECT {"project_id", QA_STR, QA_POST, NULL, 0, 255, NULL, NULL, NULL}, \
                      {"tenant_id", QA_STR, QA_POST, NULL, 0, 255, NULL, NULL, NULL}
#define QATTR_DESCRIPTION {"description", QA_STR, QA_POST | QA_PUT, "\"\"", 0, 255, NULL, NULL, NULL}
#define QATTR_STD \
    {"tags", QA_LIST, 0, "[]", 0, 0, NULL, NULL, NULL}, \
    {"created_at", QA_STR, 0, NULL, 0, 0, NULL, NULL, NULL}, \
    {"updated_at", QA_STR, 0, NULL, 0, 0, NULL, NULL, NULL}, \
    {"revision_number", QA_INT, 0, NULL, 0, 0, NULL, NULL, NULL}

#endif
