"""qhv-server --db-sync and --db-copy (docs/operations.md): a database
brought to this build's schema; a SQLite database copied into PostgreSQL
(and back) and served the same, byte for byte; what --db-copy refuses.

The engines are chosen here, whatever QHV_TEST_DB says: the SQLite side is
a file, the PostgreSQL side a database on this process's throwaway cluster
(qhvtest.pg_cluster; the tests that need it skip when PostgreSQL is not
installed)."""
import hashlib
import http.client
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import unittest
import uuid

import qhvtest

# Nova that nobody answers: its events stay in the outbox, to be copied.
NOVA_CONF = """
[nova]
auth_type = admin_token
token = admin:admin
endpoint_override = http://127.0.0.1:%d/v2.1
""" % qhvtest.free_port()

# Schema 8, as test_upgrade makes it: the documents without what migration 9
# fills in, and without what 10 and 11 create.
DOWNGRADE_TO_8 = [
    "UPDATE resources SET body = json_remove(body, '$.availability_zone_hints') "
    "WHERE kind = 'network'",
    "DROP INDEX resources_dhcp_ports",
    "DROP TABLE changes",
    "DROP INDEX resources_port_pairs",
    "PRAGMA user_version = 8",
]

TABLES = {  # the model's tables and their keys (copy.c has the same list)
    'meta': 'key', 'resources': 'kind, id', 'ipallocs': 'subnet_id, ip',
    'macs': 'network_id, mac', 'segments': 'pool, physnet, seg_id',
    'port_sgs': 'port_id, sg_id', 'default_sgs': 'project_id',
    'quotas': 'project_id, resource', 'rewrite_pas': 'host, pa', 'nova_outbox': 'id'}


def tool(*args, conf=None):
    cmd = [qhvtest.SERVER] + (['--config-file', conf] if conf else []) + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def raw_get(port, path):
    """The body's bytes as the server sent them."""
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
    conn.request('GET', path, headers={'Accept': 'application/json'})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, body


def sqlite_rows(path):
    """Every row of the model's tables, ordered by key (meta: the revision)."""
    db = sqlite3.connect(path)
    out = {}
    for t, key in TABLES.items():
        where = " WHERE key = 'revision'" if t == 'meta' else ''
        out[t] = db.execute('SELECT * FROM %s%s ORDER BY %s' % (t, where, key)).fetchall()
    db.close()
    return out


class DbTools(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='qhv-dbtools-')
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def pg(self):
        return qhvtest.pg_cluster()

    def pg_database(self):
        name = 'dbt_' + uuid.uuid4().hex[:12]
        url = self.pg().create_database(name)
        self.addCleanup(self.pg().drop_database, name)
        return name, url

    def sqlite_url(self, name):
        return 'sqlite:///%s' % os.path.join(self.tmp, name)

    def server(self, connection, extra=''):
        s = qhvtest.Server(extra, connection=connection)
        self.addCleanup(s.cleanup)
        return s.start()

    def conf_for(self, connection):
        path = os.path.join(self.tmp, 'tool-%s.conf' % uuid.uuid4().hex[:8])
        with open(path, 'w') as f:
            f.write('[database]\nconnection = %s\n' % connection)
        return path

    # --db-sync

    def test_db_sync_fresh_postgresql(self):
        name, url = self.pg_database()
        conf = self.conf_for(url)
        r = tool('--db-sync', conf=conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('schema version 0 -> 12', r.stdout)
        self.assertNotIn(self.pg().password, r.stdout + r.stderr)
        tables = self.pg().psql("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                                "ORDER BY 1", name).split()
        for t in list(TABLES) + ['changes']:
            self.assertIn(t, tables)
        r = tool('--db-sync', conf=conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("schema version 12, this build's; nothing to do", r.stdout)
        # A server with it starts without migrating.
        s = self.server(url)
        self.assertNotIn('schema migrated', s.read_log())

    def test_db_sync_older_sqlite(self):
        url = self.sqlite_url('old.sqlite')
        s = self.server(url)
        c = qhvtest.Client(s.port)
        st, net = c.post('/v2.0/networks', {'network': {'name': 'old'}})
        self.assertEqual(st, 201, net)
        self.assertEqual(s.stop(), 0)
        db = sqlite3.connect(os.path.join(self.tmp, 'old.sqlite'))
        for sql in DOWNGRADE_TO_8:
            db.execute(sql)
        db.commit()
        db.close()
        conf = self.conf_for(url)
        r = tool('--db-sync', conf=conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('schema version 8 -> 12', r.stdout)
        self.assertIn('schema migrated to version 9', r.stderr)
        db = sqlite3.connect(os.path.join(self.tmp, 'old.sqlite'))
        self.assertEqual(db.execute('PRAGMA user_version').fetchone()[0], 12)
        db.close()
        s.start()
        st, body = c.get('/v2.0/networks/' + net['network']['id'])
        self.assertEqual(body['network']['availability_zone_hints'], [])
        # Newer than this build: refused, nothing changed.
        s.stop()
        db = sqlite3.connect(os.path.join(self.tmp, 'old.sqlite'))
        db.execute('PRAGMA user_version = 99')
        db.commit()
        db.close()
        r = tool('--db-sync', conf=conf)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn('newer than this qhv-server', r.stderr)

    # --db-copy

    def populate(self, c):
        """Something in every table the model writes but rewrite_pas (that
        needs an ip_rewrite host's agent)."""
        proj = qhvtest.Client(c.port, {'X-Project-Id': 'proj-copy', 'X-Roles': 'member'})
        st, net = c.post('/v2.0/networks', {'network': {
            'name': 'copy-vlan', 'provider:network_type': 'vlan',
            'provider:physical_network': 'physnet1', 'provider:segmentation_id': 321}})
        self.assertEqual(st, 201, net)
        net = net['network']
        st, net2 = proj.post('/v2.0/networks', {'network': {'name': 'copy-tenant'}})
        self.assertEqual(st, 201, net2)
        net2 = net2['network']
        for cidr in ('10.60.0.0/24', 'fd60::/64'):
            st, b = c.post('/v2.0/subnets', {'subnet': {
                'network_id': net['id'], 'cidr': cidr, 'ip_version': 6 if ':' in cidr else 4}})
            self.assertEqual(st, 201, b)
        st, b = proj.post('/v2.0/subnets', {'subnet': {
            'network_id': net2['id'], 'cidr': '10.61.0.0/24', 'ip_version': 4}})
        self.assertEqual(st, 201, b)
        st, pool = c.post('/v2.0/subnetpools', {'subnetpool': {
            'name': 'copy-pool', 'prefixes': ['10.200.0.0/16'], 'default_prefixlen': 26}})
        self.assertEqual(st, 201, pool)
        st, net3 = c.post('/v2.0/networks', {'network': {'name': 'copy-pooled'}})
        self.assertEqual(st, 201, net3)
        st, b = c.post('/v2.0/subnets', {'subnet': {
            'network_id': net3['network']['id'], 'subnetpool_id': pool['subnetpool']['id'],
            'ip_version': 4}})
        self.assertEqual(st, 201, b)
        st, sg = proj.post('/v2.0/security-groups', {'security_group': {'name': 'copy-web'}})
        self.assertEqual(st, 201, sg)
        st, b = proj.post('/v2.0/security-group-rules', {'security_group_rule': {
            'security_group_id': sg['security_group']['id'], 'direction': 'ingress',
            'protocol': 'tcp', 'port_range_min': 80, 'port_range_max': 80}})
        self.assertEqual(st, 201, b)
        st, b = c.post('/v2.0/rbac-policies', {'rbac_policy': {
            'object_type': 'network', 'object_id': net['id'], 'action': 'access_as_shared',
            'target_tenant': 'proj-copy'}})
        self.assertEqual(st, 201, b)
        st, b = c.put('/v2.0/quotas/proj-copy', {'quota': {'port': 33, 'network': 7}})
        self.assertEqual(st, 200, b)
        ports = []
        for i in range(6):
            st, p = proj.post('/v2.0/ports', {'port': {
                'network_id': net2['id'] if i % 2 else net['id'], 'name': 'copy-%d' % i,
                'device_id': str(uuid.uuid4()), 'device_owner': 'compute:nova',
                'security_groups': [sg['security_group']['id']]}})
            self.assertEqual(st, 201, p)
            ports.append(p['port'])
        # Deleted VM ports leave network-vif-deleted events for Nova.
        for p in ports[:2]:
            self.assertEqual(proj.delete('/v2.0/ports/' + p['id'])[0], 204)
        # The admin's default group, made by its first list, made now.
        self.assertEqual(c.get('/v2.0/security-groups')[0], 200)
        return net, ports[2:]

    GETS = ['/v2.0/networks', '/v2.0/subnets', '/v2.0/ports', '/v2.0/security-groups',
            '/v2.0/security-group-rules', '/v2.0/rbac-policies', '/v2.0/subnetpools',
            '/v2.0/quotas', '/v2.0/quotas/proj-copy', '/v2.0/quotas/proj-copy/details']

    def snapshot(self, port, extra):
        out = {}
        for path in self.GETS + extra:
            st, body = raw_get(port, path)
            self.assertEqual(st, 200, (path, body))
            out[path] = body
        return out

    def test_db_copy_sqlite_to_postgresql_and_back(self):
        src_path = os.path.join(self.tmp, 'src.sqlite')
        src = self.server(self.sqlite_url('src.sqlite'), NOVA_CONF)
        c = qhvtest.Client(src.port)
        net, ports = self.populate(c)
        extra = ['/v2.0/networks/' + net['id']] + ['/v2.0/ports/' + p['id'] for p in ports]
        before = self.snapshot(src.port, extra)
        self.assertEqual(src.stop(), 0)
        rows = sqlite_rows(src_path)
        for t in TABLES:
            if t != 'rewrite_pas':
                self.assertTrue(rows[t], 'nothing in %s to copy' % t)
        revision = rows['meta'][0][1]

        name, url = self.pg_database()
        r = tool('--db-copy', self.sqlite_url('src.sqlite'), url)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn('verified', r.stdout)
        self.assertIn('copied 10 tables, %d rows, revision %d'
                      % (sum(len(v) for v in rows.values()), revision), r.stdout)
        self.assertNotIn(self.pg().password, r.stdout + r.stderr)
        for t, v in rows.items():
            self.assertEqual(int(self.pg().psql('SELECT count(*) FROM %s%s' % (
                t, " WHERE key = 'revision'" if t == 'meta' else ''), name)), len(v), t)

        # A server on the copy serves the same bodies, byte for byte.
        dst = self.server(url, NOVA_CONF)
        self.assertEqual(self.snapshot(dst.port, extra), before)
        # Revisions continue: the global one and the object's.
        c2 = qhvtest.Client(dst.port)
        st, b = c2.put('/v2.0/networks/' + net['id'], {'network': {'name': 'copied'}})
        was = json.loads(before['/v2.0/networks/' + net['id']])['network']['revision_number']
        self.assertEqual((st, b['network']['revision_number']), (200, was + 1))
        self.assertEqual(int(self.pg().psql("SELECT value FROM meta WHERE key = 'revision'",
                                            name)), revision + 1)
        # New outbox events get new ids (the sequence was moved past the copied ones).
        last = max(r[0] for r in rows['nova_outbox'])
        self.assertEqual(c2.delete('/v2.0/ports/' + ports[0]['id'])[0], 204)
        ids = [int(x) for x in self.pg().psql('SELECT id FROM nova_outbox ORDER BY id',
                                              name).split()]
        self.assertGreater(ids[-1], last)
        self.assertEqual(len(ids), len(rows['nova_outbox']) + 1)
        # Allocations came along: the copied VLAN is taken, the quota holds.
        st, b = c2.post('/v2.0/networks', {'network': {
            'provider:network_type': 'vlan', 'provider:physical_network': 'physnet1',
            'provider:segmentation_id': 321}})
        self.assertEqual(st, 409, b)
        self.assertEqual(dst.stop(), 0)

        # And back into SQLite: the same rows as the PostgreSQL database has.
        back = self.sqlite_url('back.sqlite')
        r = tool('--db-copy', url, back)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn('verified', r.stdout)
        got = sqlite_rows(os.path.join(self.tmp, 'back.sqlite'))
        self.assertEqual(got['meta'], [('revision', revision + 2)])   # the PUT, the DELETE
        # Compared with PostgreSQL's rows by psql, not by the tool itself.
        pg_docs = sorted(tuple(line.split('|')) for line in self.pg().psql(
            "SELECT kind, id, md5(body) FROM resources", name).split())
        self.assertEqual(sorted((k, i, hashlib.md5(b.encode()).hexdigest())
                                for k, i, _, _, b, _ in got['resources']), pg_docs)
        for t in TABLES:
            if t != 'meta':
                self.assertEqual(len(got[t]), int(self.pg().psql(
                    'SELECT count(*) FROM %s' % t, name)), t)

    def test_db_copy_sqlite_to_sqlite(self):
        src = self.server(self.sqlite_url('a.sqlite'), NOVA_CONF)
        self.populate(qhvtest.Client(src.port))
        self.assertEqual(src.stop(), 0)
        r = tool('--db-copy', self.sqlite_url('a.sqlite'), self.sqlite_url('b.sqlite'))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn('verified', r.stdout)
        self.assertEqual(sqlite_rows(os.path.join(self.tmp, 'b.sqlite')),
                         sqlite_rows(os.path.join(self.tmp, 'a.sqlite')))
        # Every table of the schema is one the copy knows (or the changes).
        db = sqlite3.connect(os.path.join(self.tmp, 'a.sqlite'))
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                           "AND name NOT LIKE 'sqlite_%'")}
        db.close()
        self.assertEqual(tables, set(TABLES) | {'changes'})

    def test_db_copy_refuses_a_database_not_empty(self):
        src = self.server(self.sqlite_url('a.sqlite'))
        c = qhvtest.Client(src.port)
        self.assertEqual(c.post('/v2.0/networks', {'network': {'name': 'a'}})[0], 201)
        self.assertEqual(src.stop(), 0)
        dst = self.server(self.sqlite_url('b.sqlite'))
        self.assertEqual(qhvtest.Client(dst.port).post(
            '/v2.0/networks', {'network': {'name': 'b'}})[0], 201)
        self.assertEqual(dst.stop(), 0)
        before = sqlite_rows(os.path.join(self.tmp, 'b.sqlite'))
        r = tool('--db-copy', self.sqlite_url('a.sqlite'), self.sqlite_url('b.sqlite'))
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn('is not empty', r.stderr)
        self.assertIn('resources 1', r.stderr)
        self.assertIn('nothing was copied', r.stderr)
        self.assertEqual(sqlite_rows(os.path.join(self.tmp, 'b.sqlite')), before)
        # The same into PostgreSQL: a first copy, then a second one refused.
        name, url = self.pg_database()
        r = tool('--db-copy', self.sqlite_url('a.sqlite'), url)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = tool('--db-copy', self.sqlite_url('b.sqlite'), url)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn('is not empty', r.stderr)
        self.assertEqual(self.pg().psql("SELECT body::json->>'name' FROM resources "
                                        "WHERE kind = 'network'", name).split(), ['a'])

    def test_db_copy_verification_finds_differences(self):
        """What TO stores differently (a trigger changes bodies and drops
        rows there) is found, and the copy is rolled back."""
        src = self.server(self.sqlite_url('a.sqlite'))
        c = qhvtest.Client(src.port)
        st, net = c.post('/v2.0/networks', {'network': {'name': 'changed'}})
        self.assertEqual(st, 201, net)
        st, sub = c.post('/v2.0/subnets', {'subnet': {
            'network_id': net['network']['id'], 'cidr': '10.70.0.0/24', 'ip_version': 4}})
        self.assertEqual(st, 201, sub)
        st, p = c.post('/v2.0/ports', {'port': {'network_id': net['network']['id']}})
        self.assertEqual(st, 201, p)
        self.assertEqual(src.stop(), 0)
        name, url = self.pg_database()
        r = tool('--db-sync', conf=self.conf_for(url))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.pg().psql("""
            CREATE FUNCTION qhv_test_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN NEW.body := NEW.body || ' '; RETURN NEW; END $$;
            CREATE TRIGGER change BEFORE INSERT ON resources FOR EACH ROW
              WHEN (NEW.kind = 'network') EXECUTE FUNCTION qhv_test_change();
            CREATE FUNCTION qhv_test_drop() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RETURN NULL; END $$;
            CREATE TRIGGER drop BEFORE INSERT ON macs FOR EACH ROW
              EXECUTE FUNCTION qhv_test_drop();""", name)
        r = tool('--db-copy', self.sqlite_url('a.sqlite'), url)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn('verification failed: 3 difference(s)', r.stderr)
        self.assertIn('resources (network, %s): body differs' % net['network']['id'], r.stderr)
        self.assertIn('macs: 1 rows in FROM, 0 in TO', r.stderr)
        self.assertIn('macs (%s, %s): missing in TO' % (net['network']['id'],
                                                         p['port']['mac_address']), r.stderr)
        self.assertIn('rolled back', r.stderr)
        self.assertNotIn('verified', r.stdout)
        self.assertEqual(self.pg().psql('SELECT count(*) FROM resources', name).strip(), '0')
        self.assertEqual(self.pg().psql("SELECT value FROM meta WHERE key = 'revision'",
                                        name).strip(), '0')

    def test_db_copy_from_a_missing_file(self):
        r = tool('--db-copy', self.sqlite_url('none.sqlite'), self.sqlite_url('b.sqlite'))
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn('no such database file', r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, 'none.sqlite')))

    def test_db_copy_to_unreachable(self):
        src = self.server(self.sqlite_url('a.sqlite'))
        self.assertEqual(src.stop(), 0)
        # Nothing listens there; the tool waits pool_timeout for it at most.
        conf = os.path.join(self.tmp, 'short.conf')
        with open(conf, 'w') as f:
            f.write('[database]\npool_timeout = 2\n')
        to = 'postgresql://qhv:s3cret@127.0.0.1:%d/nowhere' % qhvtest.free_port()
        r = tool('--db-copy', self.sqlite_url('a.sqlite'), to, conf=conf)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn('TO (postgresql://qhv:***@127.0.0.1', r.stderr)
        self.assertNotIn('s3cret', r.stdout + r.stderr)
        self.assertNotIn('verified', r.stdout)


if __name__ == '__main__':
    unittest.main()
