/* store/pg_sql: the rewrite of the model's SQL for PostgreSQL, rule by rule,
 * and that string literals and quoted identifiers are never touched. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "store/pg_sql.h"

/* Rewrites in and checks the result, the highest parameter and the set. */
static void check(const char *in, const char *want, int nparams, uint64_t used)
{
    qpg_sql r;
    assert_int_equal(qpg_sql_rewrite(in, &r), 0);
    assert_string_equal(r.sql, want);
    assert_int_equal(r.nparams, nparams);
    assert_int_equal(r.used, used);
    free(r.sql);
}

static void test_params(void **state)
{
    (void)state;
    check("SELECT body FROM resources WHERE kind=?1 AND id=?2",
          "SELECT body FROM resources WHERE kind=$1 AND id=$2", 2, 3);
    /* Unused ones are recorded as such: resource.c binds ?2 always. */
    check("SELECT 1 FROM t WHERE a=?1 AND c=?3", "SELECT 1 FROM t WHERE a=$1 AND c=$3", 3, 5);
    check("UPDATE t SET a=?3, b=?1", "UPDATE t SET a=$3, b=$1", 3, 5);
    /* Bare ?: one more than the highest so far, as SQLite numbers them. */
    check("VALUES(?, ?, ?5, ?)", "VALUES($1, $2, $5, $6)", 6, 0x33);
    check("SELECT x FROM t WHERE a IN (?4, ?4)", "SELECT x FROM t WHERE a IN ($4, $4)", 4, 8);
    qpg_sql r;
    assert_int_equal(qpg_sql_rewrite("SELECT ?65", &r), -1);
    assert_null(r.sql);
    assert_int_equal(qpg_sql_rewrite("SELECT ?0", &r), -1);
}

static void test_literals_untouched(void **state)
{
    (void)state;
    check("SELECT '?1', \"a?2\" FROM t WHERE b='it''s ?3 INDEXED BY x' AND c=?1",
          "SELECT '?1', \"a?2\" FROM t WHERE b='it''s ?3 INDEXED BY x' AND c=$1", 1, 1);
    check("SELECT 'json_extract(body, ''$.a'')' FROM t",
          "SELECT 'json_extract(body, ''$.a'')' FROM t", 0, 0);
    check("SELECT 'INSERT OR IGNORE INTO x' FROM t", "SELECT 'INSERT OR IGNORE INTO x' FROM t",
          0, 0);
    /* Words that merely contain a keyword stay. */
    check("SELECT reindexed_by, my_json_extract(a, '$.b') FROM crossjoin",
          "SELECT reindexed_by, my_json_extract(a, '$.b') FROM crossjoin", 0, 0);
}

static void test_indexed_by(void **state)
{
    (void)state;
    check("SELECT body FROM resources INDEXED BY resources_host WHERE kind='port' AND host=?1",
          "SELECT body FROM resources WHERE kind='port' AND host=$1", 1, 1);
    check("SELECT 1 FROM resources p indexed  by\n resources_dhcp_ports JOIN a ON 1",
          "SELECT 1 FROM resources p JOIN a ON 1", 0, 0);
}

static void test_insert_or_ignore(void **state)
{
    (void)state;
    check("INSERT OR IGNORE INTO port_sgs(port_id, sg_id) VALUES(?1, ?2)",
          "INSERT INTO port_sgs(port_id, sg_id) VALUES($1, $2) ON CONFLICT DO NOTHING", 2, 3);
    check("INSERT OR IGNORE INTO t(a) VALUES(?1) RETURNING a",
          "INSERT INTO t(a) VALUES($1) ON CONFLICT DO NOTHING RETURNING a", 1, 1);
    check("insert or ignore into t(a) select b from u where c in (select 1);"
          "INSERT INTO v VALUES(1)",
          "INSERT INTO t(a) select b from u where c in (select 1) ON CONFLICT DO NOTHING;"
          "INSERT INTO v VALUES(1)", 0, 0);
    /* A RETURNING inside parentheses is not the statement's. */
    check("INSERT OR IGNORE INTO t(a) SELECT x FROM (SELECT 1 AS x) RETURNING a",
          "INSERT INTO t(a) SELECT x FROM (SELECT 1 AS x) ON CONFLICT DO NOTHING RETURNING a", 0,
          0);
    /* Plain ON CONFLICT stays as written. */
    check("INSERT INTO q(a) VALUES(?1) ON CONFLICT(a) DO UPDATE SET a=excluded.a",
          "INSERT INTO q(a) VALUES($1) ON CONFLICT(a) DO UPDATE SET a=excluded.a", 1, 1);
}

static void test_cross_join(void **state)
{
    (void)state;
    check("SELECT r.body FROM port_sgs s CROSS JOIN resources r ON r.kind='port' "
          "AND r.id=s.port_id WHERE s.sg_id=?1",
          "SELECT r.body FROM port_sgs s JOIN resources r ON r.kind='port' "
          "AND r.id=s.port_id WHERE s.sg_id=$1", 1, 1);
    check("SELECT 1 FROM a CROSS JOIN b ON a.x = b.x", "SELECT 1 FROM a JOIN b ON a.x = b.x", 0,
          0);
    /* A real cross join (no ON) stays one. */
    check("SELECT 1 FROM a CROSS JOIN b WHERE a.x = b.x",
          "SELECT 1 FROM a CROSS JOIN b WHERE a.x = b.x", 0, 0);
}

static void test_json_extract(void **state)
{
    (void)state;
    check("SELECT json_extract(body, '$.cidr'), project_id FROM resources "
          "WHERE kind = 'subnet' AND json_extract(body, '$.subnetpool_id') = ?1",
          "SELECT ((body)::jsonb ->> 'cidr'), project_id FROM resources "
          "WHERE kind = 'subnet' AND ((body)::jsonb ->> 'subnetpool_id') = $1", 1, 1);
    check("SELECT json_extract(body, '$.\"provider:network_type\"') FROM resources",
          "SELECT ((body)::jsonb ->> 'provider:network_type') FROM resources", 0, 0);
    check("SELECT json_extract(a.body,'$.availability_zone') FROM resources a",
          "SELECT ((a.body)::jsonb ->> 'availability_zone') FROM resources a", 0, 0);
    check("SELECT json_extract(body, '$.a.\"b.c\".d') FROM t",
          "SELECT ((body)::jsonb #>> '{\"a\",\"b.c\",\"d\"}') FROM t", 0, 0);
    /* Keys with quotes are quoted again in the literal. */
    check("SELECT json_extract(body, '$.\"it''s\"') FROM t",
          "SELECT ((body)::jsonb ->> 'it''s') FROM t", 0, 0);
    /* The first argument is rewritten too. */
    check("SELECT json_extract(coalesce(?2, body), '$.a') FROM t",
          "SELECT ((coalesce($2, body))::jsonb ->> 'a') FROM t", 2, 2);
    /* Not a path we know: left alone. */
    check("SELECT json_extract(body, '$[0]') FROM t", "SELECT json_extract(body, '$[0]') FROM t",
          0, 0);
}

static void test_json_compare_numbers(void **state)
{
    (void)state;
    check("WHERE json_extract(body, '$.shared') = 1",
          "WHERE ((body)::jsonb -> 'shared') IN ('true'::jsonb, '1'::jsonb)", 0, 0);
    check("WHERE json_extract(r.body, '$.shared')=0 OR x",
          "WHERE ((r.body)::jsonb -> 'shared') IN ('false'::jsonb, '0'::jsonb) OR x", 0, 0);
    check("WHERE json_extract(body, '$.is_default') != 1 AND y",
          "WHERE ((body)::jsonb -> 'is_default') NOT IN ('true'::jsonb, '1'::jsonb) AND y", 0,
          0);
    check("WHERE json_extract(body, '$.x') <> 0",
          "WHERE ((body)::jsonb -> 'x') NOT IN ('false'::jsonb, '0'::jsonb)", 0, 0);
    check("WHERE json_extract(body, '$.ip_version') = 4",
          "WHERE ((body)::jsonb -> 'ip_version') = '4'::jsonb", 0, 0);
    check("WHERE json_extract(body, '$.mtu') == -1.5)",
          "WHERE ((body)::jsonb -> 'mtu') = '-1.5'::jsonb)", 0, 0);
    /* Not a bare number: text comparison. */
    check("WHERE json_extract(body, '$.n') = 10a", "WHERE ((body)::jsonb ->> 'n') = 10a", 0, 0);
    check("WHERE json_extract(body, '$.n') = '1'", "WHERE ((body)::jsonb ->> 'n') = '1'", 0, 0);
    check("WHERE json_extract(body, '$.n') = ?1", "WHERE ((body)::jsonb ->> 'n') = $1", 1, 1);
    check("WHERE json_extract(body, '$.n') > 1", "WHERE ((body)::jsonb ->> 'n') > 1", 0, 0);
}

static void test_schema_spelling(void **state)
{
    (void)state;
    /* The indexes of the schema go through the rewrite, so that their
     * expressions are the queries'. */
    check("CREATE INDEX i ON resources((json_extract(body, '$.subnetpool_id'))) "
          "WHERE kind = 'subnet'",
          "CREATE INDEX i ON resources((((body)::jsonb ->> 'subnetpool_id'))) "
          "WHERE kind = 'subnet'", 0, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_literals_untouched),
        cmocka_unit_test(test_indexed_by),
        cmocka_unit_test(test_insert_or_ignore),
        cmocka_unit_test(test_cross_join),
        cmocka_unit_test(test_json_extract),
        cmocka_unit_test(test_json_compare_numbers),
        cmocka_unit_test(test_schema_spelling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
