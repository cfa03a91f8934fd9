/* dbsync: qhv-server --db-sync (dbsync.h). */
#include "store/dbsync.h"
#include "store/copy.h"
#include <stdlib.h>
#include <string.h>

/* The version an engine found, from its refusal to open an older database
 * without migrating ("database schema version N is older ..."); -1 when the
 * message says no version. */
static int qdbsync_found(const char *msg)
{
    const char *v = strstr(msg, "schema version ");
    return v ? atoi(v + strlen("schema version ")) : -1;
}

int qdbsync_run(const qstore_opts *o, FILE *out, qerr *e)
{
    qstore_opts so = *o;
    char *shown = qcopy_redact(so.connection && *so.connection ? so.connection : so.sqlite_path);
    /* First without migrating: it opens only a database already at this
     * build's version, and says which version it found otherwise. */
    so.migrate = false;
    qerr probe;
    qstore *s = qstore_open(&so, &probe);
    int before = s ? qstore_schema_version(s) : qdbsync_found(probe.msg);
    if (!s && strstr(probe.msg, " is older than ")) {
        so.migrate = true;
        s = qstore_open(&so, e);
    } else if (!s) {
        *e = probe;     /* unreachable, newer: trying again would say the same */
    }
    if (!s) {
        char m[sizeof e->msg];
        memcpy(m, e->msg, sizeof m);
        qerr_set(e, e->code, "%s: %s", shown, m);
        free(shown);
        return -1;
    }
    int after = qstore_schema_version(s);
    if (before == after)
        fprintf(out, "%s (%s): schema version %d, this build's; nothing to do\n",
                qstore_where(s), qstore_engine_name(s), after);
    else if (before >= 0)
        fprintf(out, "%s (%s): schema version %d -> %d\n", qstore_where(s),
                qstore_engine_name(s), before, after);
    else
        fprintf(out, "%s (%s): schema migrated to version %d\n", qstore_where(s),
                qstore_engine_name(s), after);
    qstore_close(s);
    free(shown);
    return 0;
}
