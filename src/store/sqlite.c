/* sqlite: the SQLite engine of the store (store.h). One database file in
 * WAL mode; each thread gets its own connection; writes are serialised by a
 * process mutex around BEGIN IMMEDIATE ... COMMIT, so they never spin on
 * SQLITE_BUSY. The schema is versioned (PRAGMA user_version). */
#include "store/engine.h"
#include <sqlite3.h>
#include "lib/log.h"
#include "lib/util.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define QSTORE_STMT_CACHE 96

/* A statement: the engine-neutral handle around SQLite's. */
typedef struct qsqlite_st {
    qstmt base;
    sqlite3_stmt *st;
} qsqlite_st;

typedef struct qconn {
    sqlite3 *db;
    struct { const char *sql; qsqlite_st *st; } cache[QSTORE_STMT_CACHE];
    size_t ncache;
    struct qconn *next;      /* all connections, for close */
} qconn;

typedef struct qsqlite {
    qstore base;
    char *path;
    char *synchronous;
    pthread_key_t key;
    pthread_mutex_t write_lock;
    pthread_mutex_t list_lock;
    qconn *conns;
    int schema_version;
    /* Checkpoints run here, not inside a request's COMMIT: SQLite's automatic
     * checkpoint (with its fsync) would stall the write lock for everyone. */
    pthread_t checkpointer;
    bool checkpointer_running;
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
    bool stopping;
} qsqlite;

static const qstore_engine qsqlite_engine;

#define QSTORE_CHECKPOINT_MS 250

/* Schema migrations, applied in order; the index + 1 is the version. */
static const char *const qsqlite_migrations[] = {
    /* 1: resources as JSON documents with the columns queries need, plus the
     * relations whose uniqueness the database itself must enforce. */
    ("CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "INSERT INTO meta VALUES('revision', 0);"
    "CREATE TABLE resources("
    "  kind TEXT NOT NULL, id TEXT NOT NULL, project_id TEXT NOT NULL,"
    "  parent_id TEXT NOT NULL DEFAULT '', body TEXT NOT NULL,"
    "  PRIMARY KEY(kind, id)) WITHOUT ROWID;"
    "CREATE INDEX resources_parent ON resources(kind, parent_id);"
    "CREATE INDEX resources_project ON resources(kind, project_id);"
    "CREATE TABLE ipallocs(subnet_id TEXT NOT NULL, ip BLOB NOT NULL,"
    "  port_id TEXT NOT NULL, network_id TEXT NOT NULL,"
    "  PRIMARY KEY(subnet_id, ip)) WITHOUT ROWID;"
    "CREATE INDEX ipallocs_port ON ipallocs(port_id);"
    "CREATE TABLE macs(network_id TEXT NOT NULL, mac TEXT NOT NULL, port_id TEXT NOT NULL,"
    "  PRIMARY KEY(network_id, mac)) WITHOUT ROWID;"
    "CREATE TABLE segments(pool TEXT NOT NULL, physnet TEXT NOT NULL, seg_id INTEGER NOT NULL,"
    "  network_id TEXT NOT NULL, PRIMARY KEY(pool, physnet, seg_id)) WITHOUT ROWID;"
    "CREATE INDEX segments_network ON segments(network_id);"),
    /* 2: security group membership of ports, one default group per project,
     * per-project quota overrides. */
    ("CREATE TABLE port_sgs(port_id TEXT NOT NULL, sg_id TEXT NOT NULL,"
    "  PRIMARY KEY(port_id, sg_id)) WITHOUT ROWID;"
    "CREATE INDEX port_sgs_sg ON port_sgs(sg_id);"
    "CREATE TABLE default_sgs(project_id TEXT PRIMARY KEY, sg_id TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE quotas(project_id TEXT NOT NULL, resource TEXT NOT NULL,"
    "  hard_limit INTEGER NOT NULL, PRIMARY KEY(project_id, resource)) WITHOUT ROWID;"),
    /* 3: the host a document belongs to (a port's binding:host_id, an
     * agent's host), for host plans and binding. */
    ("ALTER TABLE resources ADD COLUMN host TEXT NOT NULL DEFAULT '';"
    "CREATE INDEX resources_host ON resources(kind, host);"),
    /* 4: provider addresses of ip_rewrite ports, one per customer address. */
    ("CREATE TABLE rewrite_pas(host TEXT NOT NULL, pa BLOB NOT NULL, port_id TEXT NOT NULL,"
    "  ca TEXT NOT NULL, pa_text TEXT NOT NULL, PRIMARY KEY(host, pa)) WITHOUT ROWID;"
    "CREATE INDEX rewrite_pas_port ON rewrite_pas(port_id);"),
    /* 5: the subnets of a subnet pool (allocation reads them all). */
    ("CREATE INDEX resources_subnetpool ON resources(json_extract(body, '$.subnetpool_id')) "
    "WHERE kind = 'subnet';"),
    /* 6: RBAC policies: the '*' policies Neutron keeps for the shared and
     * external networks made before them (ids: random version-4 UUIDs). */
    ("WITH n(id, project, action, h) AS MATERIALIZED ("
    "  SELECT id, project_id, 'access_as_shared', lower(hex(randomblob(16))) FROM resources"
    "  WHERE kind = 'network' AND json_extract(body, '$.shared') = 1"
    "  UNION ALL"
    "  SELECT id, project_id, 'access_as_external', lower(hex(randomblob(16))) FROM resources"
    "  WHERE kind = 'network' AND json_extract(body, '$.\"router:external\"') = 1),"
    " u(id, project, action, uuid) AS MATERIALIZED ("
    "  SELECT id, project, action, substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-4' ||"
    "  substr(h, 14, 3) || '-8' || substr(h, 18, 3) || '-' || substr(h, 21, 12) FROM n)"
    "INSERT INTO resources(kind, id, project_id, parent_id, body, host)"
    " SELECT 'rbac_policy', uuid, project, id, json_object('id', uuid, 'object_type', 'network',"
    "  'object_id', id, 'target_tenant', '*', 'project_id', project, 'tenant_id', project,"
    "  'action', action), '' FROM u;"),
    /* 7: the '*' access_as_shared policies of shared subnet pools made
     * before rbac-subnetpool. */
    ("WITH n(id, project, h) AS MATERIALIZED ("
    "  SELECT id, project_id, lower(hex(randomblob(16))) FROM resources"
    "  WHERE kind = 'subnetpool' AND json_extract(body, '$.shared') = 1),"
    " u(id, project, uuid) AS MATERIALIZED ("
    "  SELECT id, project, substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-4' ||"
    "  substr(h, 14, 3) || '-8' || substr(h, 18, 3) || '-' || substr(h, 21, 12) FROM n)"
    "INSERT INTO resources(kind, id, project_id, parent_id, body, host)"
    " SELECT 'rbac_policy', uuid, project, id, json_object('id', uuid, 'object_type',"
    "  'subnetpool', 'object_id', id, 'target_tenant', '*', 'project_id', project, 'tenant_id',"
    "  project, 'action', 'access_as_shared'), '' FROM u;"),
    /* 8: events for Nova, written in the transaction of the change that
     * causes them and deleted once Nova has answered (store/outbox.h). */
    ("CREATE TABLE nova_outbox(id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  created INTEGER NOT NULL, name TEXT NOT NULL, server_uuid TEXT NOT NULL,"
    "  tag TEXT NOT NULL, status TEXT NOT NULL DEFAULT '',"
    "  attempts INTEGER NOT NULL DEFAULT 0, last_attempt INTEGER NOT NULL DEFAULT 0,"
    "  last_error TEXT NOT NULL DEFAULT '');"),
    /* 9: the defaults of attributes documents written before them lack
     * (networks' availability_zone_hints, ports' extra_dhcp_opts, security
     * groups' stateful), so that filters and views see them as Neutron's
     * migrations make them. */
    ("UPDATE resources SET body = json_set(body, '$.availability_zone_hints', json('[]'))"
    "  WHERE kind = 'network' AND json_type(body, '$.availability_zone_hints') IS NULL;"
    "UPDATE resources SET body = json_set(body, '$.extra_dhcp_opts', json('[]'))"
    "  WHERE kind = 'port' AND json_type(body, '$.extra_dhcp_opts') IS NULL;"
    "UPDATE resources SET body = json_set(body, '$.stateful', json('true'))"
    "  WHERE kind = 'security_group' AND json_type(body, '$.stateful') IS NULL;"),
    /* 10: a network's DHCP ports without walking all its ports (a network's
     * view, availability_zones, and host plans read them). */
    ("CREATE INDEX resources_dhcp_ports ON resources(parent_id) WHERE kind = 'port' AND "
    "json_extract(body, '$.device_owner') = 'network:dhcp';"),
    /* 11: what each commit changed, for the other servers on a shared
     * database (store.h, qstore_publish). One server per SQLite file: kept
     * empty here; the table exists so that a version means one schema on
     * every engine (--db-copy). */
    ("CREATE TABLE changes(revision INTEGER PRIMARY KEY, server TEXT NOT NULL,"
    "  note TEXT NOT NULL, created INTEGER NOT NULL);"),
    /* 12: the ports that have allowed address pairs (few): a group's address
     * set reads their bodies without reading every member's (plan.c). A
     * body is stored compact, so none says exactly this. */
    ("CREATE INDEX resources_port_pairs ON resources(id) WHERE kind = 'port' AND "
    "body NOT LIKE '%\"allowed_address_pairs\":[]%';"),
};


static void qsqlite_stmt_free(qsqlite_st *st)
{
    if (!st)
        return;
    sqlite3_finalize(st->st);
    free(st);
}

static qsqlite_st *qsqlite_stmt_new(sqlite3_stmt *raw)
{
    qsqlite_st *st = xcalloc(1, sizeof *st);
    st->base.eng = &qsqlite_engine;
    st->st = raw;
    return st;
}

static void qconn_free(qconn *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->ncache; i++)
        qsqlite_stmt_free(c->cache[i].st);
    sqlite3_close_v2(c->db);
    free(c);
}

static void qsqlite_thread_exit(void *p)
{
    /* The connection stays on the store's list and is closed by qstore_close;
     * nothing to do here, but the key needs a destructor-free slot. */
    (void)p;
}

/* Why the database cannot be written when SQLite failure rc is the
 * storage's (disk full, filesystem read-only, I/O error) rather than a bug;
 * NULL otherwise. sys_errno, the failed system call's errno as SQLite saw
 * it, tells which when SQLite says only "I/O error"; it is consulted only
 * for those codes, since SQLite keeps it from earlier, harmless failures.
 * It is often 0: ext4 turned read-only by an error (errors=remount-ro) gives
 * SQLITE_READONLY on one write and a bare SQLITE_IOERR on the next. */
static const char *qsqlite_storage_reason(int rc, int sys_errno)
{
    int primary = rc & 0xff;
    if (primary != SQLITE_FULL && primary != SQLITE_READONLY && primary != SQLITE_IOERR &&
        primary != SQLITE_CANTOPEN)
        return NULL;
    if (primary == SQLITE_FULL || sys_errno == ENOSPC || sys_errno == EDQUOT)
        return "the disk is full";
    if (primary == SQLITE_READONLY || sys_errno == EROFS)
        return "the filesystem is read-only";
    if (primary == SQLITE_CANTOPEN)
        return "its file cannot be opened";
    return "the filesystem is read-only or failing (I/O error)";
}

/* Fills e for SQLite failure rc on db (which may be NULL). The storage's
 * failures are 503 (the service is unavailable until an operator frees space
 * or remounts; the request changed nothing: its transaction is rolled back),
 * a unique-key conflict 409, anything else 500. */
static int qsqlite_error(sqlite3 *db, int rc, qerr *e, const char *what)
{
    if (db && (sqlite3_extended_errcode(db) & 0xff) == (rc & 0xff))
        rc = sqlite3_extended_errcode(db);   /* says which I/O failed, for the log */
    int sys = db ? sqlite3_system_errno(db) : 0;
    const char *reason = qsqlite_storage_reason(rc, sys);
    QLOG_E("store", "%s: %s (SQLite %d%s%s)", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc),
           rc, reason && sys ? ", " : "", reason && sys ? strerror(sys) : "");
    if (reason)
        return qerr_set(e, QE_STORAGE, "The database cannot be written: %s. The request changed "
                                       "nothing; reads still work. Retry once the server's "
                                       "storage is writable again.", reason);
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return qerr_set(e, QE_CONFLICT, "The request conflicts with a concurrent change; retry.");
    return qerr_set(e, QE_INTERNAL, "Request Failed: internal server error while processing "
                                    "your request.");
}

static int qsqlite_fail(qstore *base, qerr *e, const char *what)
{
    qsqlite *s = (qsqlite *)base;
    qconn *c = pthread_getspecific(s->key);
    if (!c) {
        QLOG_E("store", "%s: no connection", what);
        return qerr_set(e, QE_INTERNAL, "Request Failed: internal server error while processing "
                                        "your request.");
    }
    return qsqlite_error(c->db, sqlite3_extended_errcode(c->db), e, what);
}

static qconn *qsqlite_conn(qsqlite *s, qerr *e)
{
    qconn *c = pthread_getspecific(s->key);
    if (c)
        return c;
    c = xcalloc(1, sizeof *c);
    int rc = sqlite3_open_v2(s->path, &c->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        qsqlite_error(c->db, rc, e, s->path);
        qconn_free(c);
        return NULL;
    }
    /* Writers are serialised by our mutex; the timeout only covers checkpoints
     * and other processes (e.g. an operator's sqlite3 shell). */
    sqlite3_busy_timeout(c->db, 10000);
    char *sql = xasprintf("PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; "
                          "PRAGMA foreign_keys=ON; PRAGMA cache_size=-8000; PRAGMA mmap_size=268435456; "
                          "PRAGMA wal_autocheckpoint=0;",
                          s->synchronous);
    rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    free(sql);
    if (rc != SQLITE_OK) {
        qsqlite_error(c->db, rc, e, s->path);
        qconn_free(c);
        return NULL;
    }
    pthread_setspecific(s->key, c);
    pthread_mutex_lock(&s->list_lock);
    c->next = s->conns;
    s->conns = c;
    pthread_mutex_unlock(&s->list_lock);
    return c;
}

static qstmt *qsqlite_stmt(qstore *base, const char *sql, qerr *e)
{
    qsqlite *s = (qsqlite *)base;
    qconn *c = qsqlite_conn(s, e);
    if (!c)
        return NULL;
    for (size_t i = 0; i < c->ncache; i++) {
        if (c->cache[i].sql == sql) {
            sqlite3_reset(c->cache[i].st->st);
            sqlite3_clear_bindings(c->cache[i].st->st);
            return &c->cache[i].st->base;
        }
    }
    sqlite3_stmt *raw = NULL;
    if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, NULL) != SQLITE_OK) {
        qsqlite_fail(base, e, sql);
        return NULL;
    }
    if (c->ncache == QSTORE_STMT_CACHE) {
        /* Cache full: a programming error (too many distinct statements). */
        QLOG_E("store", "statement cache full; raise QSTORE_STMT_CACHE");
        abort();
    }
    c->cache[c->ncache].sql = sql;
    c->cache[c->ncache].st = qsqlite_stmt_new(raw);
    return &c->cache[c->ncache++].st->base;
}

static qstmt *qsqlite_prepare(qstore *base, const char *sql, qerr *e)
{
    qsqlite *s = (qsqlite *)base;
    qconn *c = qsqlite_conn(s, e);
    if (!c)
        return NULL;
    sqlite3_stmt *raw = NULL;
    if (sqlite3_prepare_v2(c->db, sql, -1, &raw, NULL) != SQLITE_OK) {
        qsqlite_fail(base, e, sql);
        return NULL;
    }
    return &qsqlite_stmt_new(raw)->base;
}

static void qsqlite_finalize(qstmt *st) { qsqlite_stmt_free((qsqlite_st *)st); }

static sqlite3_stmt *qsqlite_raw(qstmt *st) { return ((qsqlite_st *)st)->st; }

static void qsqlite_bind_text(qstmt *st, int i, const char *v, int n, qstore_dtor how)
{
    sqlite3_bind_text(qsqlite_raw(st), i, v, n,
                      how == QSTORE_TRANSIENT ? SQLITE_TRANSIENT : how);
}

static void qsqlite_bind_blob(qstmt *st, int i, const void *v, int n, qstore_dtor how)
{
    sqlite3_bind_blob(qsqlite_raw(st), i, v, n, how == QSTORE_TRANSIENT ? SQLITE_TRANSIENT : how);
}

static void qsqlite_bind_int64(qstmt *st, int i, int64_t v)
{
    sqlite3_bind_int64(qsqlite_raw(st), i, v);
}

static void qsqlite_bind_null(qstmt *st, int i) { sqlite3_bind_null(qsqlite_raw(st), i); }

static int qsqlite_step(qstmt *st)
{
    int rc = sqlite3_step(qsqlite_raw(st));
    if (rc == SQLITE_ROW)
        return QSTORE_ROW;
    if (rc == SQLITE_DONE)
        return QSTORE_DONE;
    return (rc & 0xff) == SQLITE_CONSTRAINT ? QSTORE_CONSTRAINT : QSTORE_ERROR;
}

static void qsqlite_reset(qstmt *st) { sqlite3_reset(qsqlite_raw(st)); }

static const char *qsqlite_column_text(qstmt *st, int col)
{
    return (const char *)sqlite3_column_text(qsqlite_raw(st), col);
}

static const void *qsqlite_column_blob(qstmt *st, int col)
{
    return sqlite3_column_blob(qsqlite_raw(st), col);
}

static int qsqlite_column_bytes(qstmt *st, int col)
{
    return sqlite3_column_bytes(qsqlite_raw(st), col);
}

static int64_t qsqlite_column_int64(qstmt *st, int col)
{
    return sqlite3_column_int64(qsqlite_raw(st), col);
}

static bool qsqlite_column_null(qstmt *st, int col)
{
    return sqlite3_column_type(qsqlite_raw(st), col) == SQLITE_NULL;
}

static int qsqlite_exec(qsqlite *s, const char *sql, qerr *e)
{
    qconn *c = qsqlite_conn(s, e);
    if (!c)
        return -1;
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : qsqlite_error(c->db, rc, e, sql);
}

/* Ends the write transaction, if any: after SQLITE_FULL or an I/O error
 * SQLite may already have rolled it back itself. */
static void qsqlite_abort(qsqlite *s)
{
    qconn *c = pthread_getspecific(s->key);
    if (c && !sqlite3_get_autocommit(c->db))
        qsqlite_exec(s, "ROLLBACK", NULL);
}

static int qsqlite_begin_write(qstore *base, qerr *e)
{
    qsqlite *s = (qsqlite *)base;
    if (!qsqlite_conn(s, e))
        return -1;
    pthread_mutex_lock(&s->write_lock);
    if (qsqlite_exec(s, "BEGIN IMMEDIATE", e) < 0) {
        pthread_mutex_unlock(&s->write_lock);
        return -1;
    }
    return 0;
}

static int qsqlite_commit_then(qstore *base, void (*after)(void *arg), void *arg, qerr *e)
{
    qsqlite *s = (qsqlite *)base;
    int rc = qsqlite_exec(s, "COMMIT", e);
    if (rc < 0)
        qsqlite_abort(s);
    else if (after)
        after(arg);
    pthread_mutex_unlock(&s->write_lock);
    return rc;
}

static void qsqlite_rollback(qstore *base)
{
    qsqlite *s = (qsqlite *)base;
    qsqlite_abort(s);
    pthread_mutex_unlock(&s->write_lock);
}

static int qsqlite_begin_read(qstore *base, qerr *e)
{
    return qsqlite_exec((qsqlite *)base, "BEGIN DEFERRED", e);
}

static void qsqlite_end_read(qstore *base) { qsqlite_exec((qsqlite *)base, "COMMIT", NULL); }

static const char qsqlite_sql_rev[] = "SELECT value FROM meta WHERE key='revision'";
static const char qsqlite_sql_bump[] =
    "UPDATE meta SET value=value+1 WHERE key='revision' RETURNING value";

static int64_t qsqlite_bump_revision(qstore *s, qerr *e)
{
    return qstore_query_i64(s, qsqlite_sql_bump, e);
}

static int64_t qsqlite_revision(qstore *s)
{
    qerr e;
    return qstore_query_i64(s, qsqlite_sql_rev, &e);
}

/* One server per file: nobody else to tell, nobody else to hear, no one to
 * share a duty with. */
static int qsqlite_publish(qstore *s, int64_t revision, const char *note, qerr *e)
{
    (void)s, (void)revision, (void)note, (void)e;
    return 0;
}

static int qsqlite_listen(qstore *s, void (*fn)(void *, int64_t, const char *), void *arg,
                          qerr *e)
{
    (void)s, (void)fn, (void)arg, (void)e;
    return 0;
}

static void qsqlite_unlisten(qstore *s) { (void)s; }

static bool qsqlite_lead(qstore *s, const char *duty)
{
    (void)s, (void)duty;
    return true;
}

static int qsqlite_migrate(qsqlite *s, bool migrate, qerr *e)
{
    qconn *c = qsqlite_conn(s, e);
    if (!c)
        return -1;
    sqlite3_stmt *st;
    int version = 0;
    if (sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    int target = (int)QHV_ARRAY_SIZE(qsqlite_migrations);
    s->schema_version = version;
    if (version > target)
        return qerr_set(e, QE_INTERNAL, "database schema version %d is newer than this "
                                        "qhv-server (%d)", version, target);
    if (version < target && !migrate)
        return qerr_set(e, QE_INTERNAL, "database schema version %d is older than this "
                                        "qhv-server's (%d): run qhv-server --db-sync",
                        version, target);
    for (int v = version; v < target; v++) {
        if (qsqlite_begin_write(&s->base, e) < 0)
            return -1;
        char *sql = xasprintf("%s; PRAGMA user_version=%d;", qsqlite_migrations[v], v + 1);
        int rc = qsqlite_exec(s, sql, e);
        free(sql);
        if (rc < 0) {
            qsqlite_rollback(&s->base);
            return -1;
        }
        if (qsqlite_commit_then(&s->base, NULL, NULL, e) < 0)
            return -1;
        QLOG_I("store", "schema migrated to version %d", v + 1);
        s->schema_version = v + 1;
    }
    return 0;
}

static int qsqlite_mkdir_parent(const char *path)
{
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    int rc = 0;
    if (slash && slash != dir) {
        *slash = '\0';
        for (char *p = dir + 1; *p; p++) {
            if (*p == '/') {
                *p = '\0';
                mkdir(dir, 0750);
                *p = '/';
            }
        }
        if (mkdir(dir, 0750) < 0 && errno != EEXIST)
            rc = -1;
    }
    free(dir);
    return rc;
}

static void *qsqlite_checkpoint_main(void *arg)
{
    qsqlite *s = arg;
    qerr e;
    qconn *c = qsqlite_conn(s, &e);
    sqlite3 *db = c ? c->db : NULL;
    int failing = SQLITE_OK;
    pthread_mutex_lock(&s->stop_lock);
    while (!s->stopping && db) {
        struct timespec ts;
        qhv_deadline(&ts, QSTORE_CHECKPOINT_MS);
        pthread_cond_timedwait(&s->stop_cond, &s->stop_lock, &ts);
        if (s->stopping)
            break;
        pthread_mutex_unlock(&s->stop_lock);
        int log = 0, done = 0;
        int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
        if (rc == SQLITE_BUSY)
            rc = SQLITE_OK;
        /* Said when it starts and stops failing, not four times a second
         * while the disk stays full. */
        if (rc != SQLITE_OK && failing != rc)
            QLOG_W("store", "checkpoint: %s (retried until it works)", sqlite3_errmsg(db));
        else if (rc == SQLITE_OK && failing != SQLITE_OK)
            QLOG_I("store", "checkpoint works again");
        failing = rc;
        pthread_mutex_lock(&s->stop_lock);
    }
    pthread_mutex_unlock(&s->stop_lock);
    if (db)
        sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    return NULL;
}

static void qsqlite_close(qstore *base)
{
    qsqlite *s = (qsqlite *)base;
    if (s->checkpointer_running) {
        pthread_mutex_lock(&s->stop_lock);
        s->stopping = true;
        pthread_cond_signal(&s->stop_cond);
        pthread_mutex_unlock(&s->stop_lock);
        pthread_join(s->checkpointer, NULL);
    }
    pthread_mutex_destroy(&s->stop_lock);
    pthread_cond_destroy(&s->stop_cond);
    qconn *c = s->conns;
    while (c) {
        qconn *n = c->next;
        qconn_free(c);
        c = n;
    }
    pthread_key_delete(s->key);
    pthread_mutex_destroy(&s->write_lock);
    pthread_mutex_destroy(&s->list_lock);
    free(s->path);
    free(s->synchronous);
    free(s);
}

static const char *qsqlite_where(const qstore *s) { return ((const qsqlite *)s)->path; }
static int qsqlite_schema_version(qstore *s) { return ((qsqlite *)s)->schema_version; }

static int qsqlite_schema_target(const qstore *s)
{
    (void)s;
    return (int)QHV_ARRAY_SIZE(qsqlite_migrations);
}

qstore *qstore_sqlite_open(const qstore_opts *o, const char *path, qerr *e)
{
    if (qsqlite_mkdir_parent(path) < 0) {
        qerr_set(e, QE_INTERNAL, "cannot create the directory of %s", path);
        return NULL;
    }
    qsqlite *s = xcalloc(1, sizeof *s);
    s->base.eng = &qsqlite_engine;
    s->path = xstrdup(path);
    s->synchronous = xstrdup(o->sqlite_synchronous ? o->sqlite_synchronous : "FULL");
    pthread_key_create(&s->key, qsqlite_thread_exit);
    pthread_mutex_init(&s->write_lock, NULL);
    pthread_mutex_init(&s->list_lock, NULL);
    pthread_mutex_init(&s->stop_lock, NULL);
    pthread_cond_init(&s->stop_cond, NULL);
    if (qsqlite_migrate(s, o->migrate, e) < 0) {
        qsqlite_close(&s->base);
        return NULL;
    }
    if (pthread_create(&s->checkpointer, NULL, qsqlite_checkpoint_main, s) == 0)
        s->checkpointer_running = true;
    return &s->base;
}

static const qstore_engine qsqlite_engine = {
    .name = "sqlite",
    .shared = false,
    .close = qsqlite_close,
    .where = qsqlite_where,
    .schema_version = qsqlite_schema_version,
    .schema_target = qsqlite_schema_target,
    .stmt = qsqlite_stmt,
    .prepare = qsqlite_prepare,
    .finalize = qsqlite_finalize,
    .bind_text = qsqlite_bind_text,
    .bind_blob = qsqlite_bind_blob,
    .bind_int64 = qsqlite_bind_int64,
    .bind_null = qsqlite_bind_null,
    .step = qsqlite_step,
    .reset = qsqlite_reset,
    .column_text = qsqlite_column_text,
    .column_blob = qsqlite_column_blob,
    .column_bytes = qsqlite_column_bytes,
    .column_int64 = qsqlite_column_int64,
    .column_null = qsqlite_column_null,
    .begin_write = qsqlite_begin_write,
    .bump_revision = qsqlite_bump_revision,
    .publish = qsqlite_publish,
    .commit_then = qsqlite_commit_then,
    .rollback = qsqlite_rollback,
    .begin_read = qsqlite_begin_read,
    .end_read = qsqlite_end_read,
    .revision = qsqlite_revision,
    .listen = qsqlite_listen,
    .unlisten = qsqlite_unlisten,
    .lead = qsqlite_lead,
    .fail = qsqlite_fail,
};
