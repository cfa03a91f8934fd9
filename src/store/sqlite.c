#include "store/store.h"
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

typedef struct qconn {
    sqlite3 *db;
    struct { const char *sql; sqlite3_stmt *st; } cache[QSTORE_STMT_CACHE];
    size_t ncache;
    struct qconn *next;      /* all connections, for close */
} qconn;

struct qstore {
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
};

#define QSTORE_CHECKPOINT_MS 250

/* Schema migrations, applied in order; the index + 1 is the version. */
static const char *const qstore_migrations[] = {
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
};

static void qconn_free(qconn *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->ncache; i++)
        sqlite3_finalize(c->cache[i].st);
    sqlite3_close_v2(c->db);
    free(c);
}

static void qstore_thread_exit(void *p)
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
static const char *qstore_storage_reason(int rc, int sys_errno)
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
 * anything else 500. */
static int qstore_error(sqlite3 *db, int rc, qerr *e, const char *what)
{
    if (db && (sqlite3_extended_errcode(db) & 0xff) == (rc & 0xff))
        rc = sqlite3_extended_errcode(db);   /* says which I/O failed, for the log */
    int sys = db ? sqlite3_system_errno(db) : 0;
    const char *reason = qstore_storage_reason(rc, sys);
    QLOG_E("store", "%s: %s (SQLite %d%s%s)", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc),
           rc, reason && sys ? ", " : "", reason && sys ? strerror(sys) : "");
    if (reason)
        return qerr_set(e, QE_STORAGE, "The database cannot be written: %s. The request changed "
                                       "nothing; reads still work. Retry once the server's "
                                       "storage is writable again.", reason);
    return qerr_set(e, QE_INTERNAL, "Request Failed: internal server error while processing "
                                    "your request.");
}

int qstore_fail(qstore *s, qerr *e, const char *what)
{
    qconn *c = pthread_getspecific(s->key);
    if (!c) {
        QLOG_E("store", "%s: no connection", what);
        return qerr_set(e, QE_INTERNAL, "Request Failed: internal server error while processing "
                                        "your request.");
    }
    return qstore_error(c->db, sqlite3_extended_errcode(c->db), e, what);
}

static qconn *qstore_conn(qstore *s, qerr *e)
{
    qconn *c = pthread_getspecific(s->key);
    if (c)
        return c;
    c = xcalloc(1, sizeof *c);
    int rc = sqlite3_open_v2(s->path, &c->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        qstore_error(c->db, rc, e, s->path);
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
        qstore_error(c->db, rc, e, s->path);
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

sqlite3 *qstore_db(qstore *s, qerr *e)
{
    qconn *c = qstore_conn(s, e);
    return c ? c->db : NULL;
}

sqlite3_stmt *qstore_stmt(qstore *s, const char *sql, qerr *e)
{
    qconn *c = qstore_conn(s, e);
    if (!c)
        return NULL;
    for (size_t i = 0; i < c->ncache; i++) {
        if (c->cache[i].sql == sql) {
            sqlite3_reset(c->cache[i].st);
            sqlite3_clear_bindings(c->cache[i].st);
            return c->cache[i].st;
        }
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        qstore_fail(s, e, sql);
        return NULL;
    }
    if (c->ncache < QSTORE_STMT_CACHE) {
        c->cache[c->ncache].sql = sql;
        c->cache[c->ncache].st = st;
        c->ncache++;
    } else {
        /* Cache full: a programming error (too many distinct statements). */
        QLOG_E("store", "statement cache full; raise QSTORE_STMT_CACHE");
        abort();
    }
    return st;
}

static int qstore_exec(qstore *s, const char *sql, qerr *e)
{
    qconn *c = qstore_conn(s, e);
    if (!c)
        return -1;
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : qstore_error(c->db, rc, e, sql);
}

/* Ends the write transaction, if any: after SQLITE_FULL or an I/O error
 * SQLite may already have rolled it back itself. */
static void qstore_abort(qstore *s)
{
    qconn *c = pthread_getspecific(s->key);
    if (c && !sqlite3_get_autocommit(c->db))
        qstore_exec(s, "ROLLBACK", NULL);
}

static int qstore_migrate(qstore *s, qerr *e)
{
    sqlite3 *db = qstore_db(s, e);
    if (!db)
        return -1;
    sqlite3_stmt *st;
    int version = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    int target = (int)QHV_ARRAY_SIZE(qstore_migrations);
    if (version > target)
        return qerr_set(e, QE_INTERNAL, "database schema version %d is newer than this "
                                        "qhv-server (%d)", version, target);
    for (int v = version; v < target; v++) {
        if (qstore_begin_write(s, e) < 0)
            return -1;
        char *sql = xasprintf("%s; PRAGMA user_version=%d;", qstore_migrations[v], v + 1);
        int rc = qstore_exec(s, sql, e);
        free(sql);
        if (rc < 0) {
            qstore_rollback(s);
            return -1;
        }
        if (qstore_commit(s, e) < 0)
            return -1;
        QLOG_I("store", "schema migrated to version %d", v + 1);
    }
    s->schema_version = target;
    return 0;
}

static int qstore_mkdir_parent(const char *path)
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

static void *qstore_checkpoint_main(void *arg)
{
    qstore *s = arg;
    qerr e;
    sqlite3 *db = qstore_db(s, &e);
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

qstore *qstore_open(const char *path, const char *synchronous, qerr *e)
{
    if (qstore_mkdir_parent(path) < 0) {
        qerr_set(e, QE_INTERNAL, "cannot create the directory of %s", path);
        return NULL;
    }
    qstore *s = xcalloc(1, sizeof *s);
    s->path = xstrdup(path);
    s->synchronous = xstrdup(synchronous);
    pthread_key_create(&s->key, qstore_thread_exit);
    pthread_mutex_init(&s->write_lock, NULL);
    pthread_mutex_init(&s->list_lock, NULL);
    pthread_mutex_init(&s->stop_lock, NULL);
    pthread_cond_init(&s->stop_cond, NULL);
    if (qstore_migrate(s, e) < 0) {
        qstore_close(s);
        return NULL;
    }
    if (pthread_create(&s->checkpointer, NULL, qstore_checkpoint_main, s) == 0)
        s->checkpointer_running = true;
    return s;
}

void qstore_close(qstore *s)
{
    if (!s)
        return;
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

int qstore_schema_version(qstore *s) { return s->schema_version; }

int qstore_begin_write(qstore *s, qerr *e)
{
    if (!qstore_conn(s, e))
        return -1;
    pthread_mutex_lock(&s->write_lock);
    if (qstore_exec(s, "BEGIN IMMEDIATE", e) < 0) {
        pthread_mutex_unlock(&s->write_lock);
        return -1;
    }
    return 0;
}

int qstore_commit_then(qstore *s, void (*after)(void *arg), void *arg, qerr *e)
{
    int rc = qstore_exec(s, "COMMIT", e);
    if (rc < 0)
        qstore_abort(s);
    else if (after)
        after(arg);
    pthread_mutex_unlock(&s->write_lock);
    return rc;
}

int qstore_commit(qstore *s, qerr *e) { return qstore_commit_then(s, NULL, NULL, e); }

void qstore_rollback(qstore *s)
{
    qstore_abort(s);
    pthread_mutex_unlock(&s->write_lock);
}

int qstore_begin_read(qstore *s, qerr *e) { return qstore_exec(s, "BEGIN DEFERRED", e); }

void qstore_end_read(qstore *s) { qstore_exec(s, "COMMIT", NULL); }

static const char qstore_sql_rev[] = "SELECT value FROM meta WHERE key='revision'";
static const char qstore_sql_bump[] =
    "UPDATE meta SET value=value+1 WHERE key='revision' RETURNING value";

int64_t qstore_query_i64(qstore *s, const char *sql, qerr *e)
{
    sqlite3_stmt *st = qstore_stmt(s, sql, e);
    if (!st)
        return -1;
    int64_t v = -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (v < 0)
        return qstore_fail(s, e, sql);
    return v;
}

int64_t qstore_bump_revision(qstore *s, qerr *e) { return qstore_query_i64(s, qstore_sql_bump, e); }

int64_t qstore_revision(qstore *s)
{
    sqlite3_stmt *st = qstore_stmt(s, qstore_sql_rev, NULL);
    if (!st)
        return -1;
    int64_t v = -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return v;
}

int qstore_run(qstore *s, const char *sql, const char *a, const char *b, const char *c, qerr *e)
{
    sqlite3_stmt *st = qstore_stmt(s, sql, e);
    if (!st)
        return -1;
    const char *args[3] = {a, b, c};
    for (int i = 0; i < 3; i++)
        if (args[i])
            sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_TRANSIENT);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : qstore_fail(s, e, sql);
}

int qstore_query_text(qstore *s, const char *sql, const char *a, char *out, size_t n, qerr *e)
{
    sqlite3_stmt *st = qstore_stmt(s, sql, e);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, a, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        snprintf(out, n, "%s", sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "");
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : qstore_fail(s, e, sql);
}
