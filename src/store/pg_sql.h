/* pg_sql: the model's SQL (written once, in SQLite's spelling of the few
 * things that differ) rewritten for PostgreSQL. A pure function, applied
 * once per statement when the engine prepares it.
 *
 * Rules (outside string literals '...' and quoted identifiers "..."):
 * - ?N -> $N; a bare ? -> $(highest number so far + 1), as SQLite numbers
 *   it. The parameters used are recorded (PostgreSQL cannot type a
 *   parameter the statement does not use; the engine sends those as text).
 * - INDEXED BY name -> removed (a hint for SQLite's planner only).
 * - INSERT OR IGNORE INTO -> INSERT INTO, with ON CONFLICT DO NOTHING at the
 *   end of that statement (before its RETURNING, if any).
 * - CROSS JOIN t [alias] ON -> JOIN t [alias] ON (SQLite's hint to keep the
 *   join order; PostgreSQL refuses ON after CROSS JOIN).
 * - json_extract(E, '$.key') (also '$."key:with:colons"', and '$.a.b'
 *   paths) -> ((E)::jsonb ->> 'key') (#>> '{a,b}' for a path), text as
 *   SQLite gives it for strings; except when directly compared with = != <>
 *   to a bare number: SQLite compares JSON numbers and booleans (true is 1,
 *   false 0) with it, so ((E)::jsonb -> 'key') = '4'::jsonb, and for 0/1
 *   IN ('true'::jsonb, '1'::jsonb) (NOT IN for != and <>).
 * Everything else passes unchanged. */
#ifndef QHV_STORE_PG_SQL_H
#define QHV_STORE_PG_SQL_H
#include <stdint.h>

#define QPG_SQL_MAX_PARAMS 64

typedef struct qpg_sql {
    char *sql;       /* the rewritten SQL; owned by the caller (free) */
    int nparams;     /* the highest $N used (0: none) */
    uint64_t used;   /* bit N-1 set when $N appears */
} qpg_sql;

/* Rewrites in into out. -1 (out->sql NULL) when a parameter number exceeds
 * QPG_SQL_MAX_PARAMS. A json_extract whose arguments are not as above is
 * left unchanged (PostgreSQL then says it has no such function). */
int qpg_sql_rewrite(const char *in, qpg_sql *out);

#endif
