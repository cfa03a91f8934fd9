"""A database written by an earlier qhv-server: the attributes added since
are filled in by the migrations (as Neutron's alembic migrations give new
columns their defaults), so that views and filters see old documents as
they see new ones."""
import os
import sqlite3
import unittest

import qhvtest


KEYS = (('network', 'availability_zone_hints'), ('port', 'extra_dhcp_opts'),
        ('security_group', 'stateful'))


class UpgradeTest(qhvtest.ServerTestCase):
    def as_schema_8_sqlite(self):
        """The documents as schema version 8 stored them (without the keys),
        and without what later migrations added."""
        db = sqlite3.connect(os.path.join(self.server.dir, 'qhv.sqlite'))
        for kind, key in KEYS:
            db.execute("UPDATE resources SET body = json_remove(body, '$.%s') WHERE kind = ?"
                       % key, (kind,))
            self.assertEqual(db.execute("SELECT count(*) FROM resources WHERE kind = ? AND "
                                        "json_type(body, '$.%s') IS NOT NULL" % key,
                                        (kind,)).fetchone()[0], 0)
        db.execute('DROP INDEX resources_dhcp_ports')
        db.execute('DROP INDEX resources_port_pairs')
        db.execute('DROP TABLE changes')
        db.execute('PRAGMA user_version = 8')
        db.commit()
        db.close()

    def as_schema_8_postgresql(self):
        """The same on PostgreSQL, where the version is meta's schema_version."""
        pg, db = qhvtest.pg_cluster(), qhvtest.database_name(self.server.dir)
        for kind, key in KEYS:
            pg.psql("UPDATE resources SET body = (body::jsonb - '%s')::text WHERE kind = '%s'"
                    % (key, kind), db)
            self.assertEqual(pg.psql("SELECT count(*) FROM resources WHERE kind = '%s' AND "
                                     "body::jsonb ? '%s'" % (kind, key), db).strip(), '0')
        pg.psql("DROP INDEX resources_dhcp_ports; DROP TABLE changes; "
                "DROP INDEX resources_port_pairs; "
                "UPDATE meta SET value = 8 WHERE key = 'schema_version'", db)
        return lambda: pg.psql("SELECT value FROM meta WHERE key = 'schema_version'",
                               db).strip()

    def test_attributes_added_since_are_filled_in(self):
        net = self.make_network(name='old-net')
        port = self.make_port(net['id'], name='old-port')
        st, body = self.get('/v2.0/security-groups?name=default')
        self.assertEqual(st, 200, body)
        sg = body['security_groups'][0]['id']
        self.server.stop()
        version = None
        if qhvtest.on_postgresql():
            version = self.as_schema_8_postgresql()
        else:
            self.as_schema_8_sqlite()
        self.server.start()
        for v in (9, 10, 11, 12):
            self.assertIn('schema migrated to version %d' % v, self.server.read_log())
        if version:
            self.assertEqual(version(), '12')
        st, body = self.get('/v2.0/networks/%s' % net['id'])
        self.assertEqual(body['network']['availability_zone_hints'], [])
        st, body = self.get('/v2.0/ports/%s' % port['id'])
        self.assertEqual(body['port']['extra_dhcp_opts'], [])
        st, body = self.get('/v2.0/security-groups?stateful=true&fields=id')
        self.assertEqual(st, 200, body)
        self.assertIn(sg, [g['id'] for g in body['security_groups']])


if __name__ == '__main__':
    unittest.main()
