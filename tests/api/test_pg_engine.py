"""The PostgreSQL engine (src/store/pg*.c) on a throwaway cluster of its own,
whatever QHV_TEST_DB says: the engine's C test (tests/unit/test_pg_store.c)
against a real database, two qhv-servers on one database allocating from
one small subnet at once (the advisory write lock keeps IPAM exact), a
port made through one server in the plans the other serves its agents, a
database stopped and started under a running server (503 while down,
recovery by itself), killed under concurrent writes (only 201 or 503,
nothing acknowledged lost, writes again without a restart), a server
waiting for its database at start (pool_timeout) and the pool limit."""
import concurrent.futures
import os
import subprocess
import time
import unittest

import pgcluster
import qhvtest

UNIT = os.environ.get('QHV_PG_STORE_TEST', os.path.join(
    os.path.dirname(os.path.abspath(qhvtest.SERVER)), '..', 'tests', 'unit', 'test_pg_store'))


class PgEngineTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = pgcluster.Cluster().start()
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        cls.cluster.remove()

    def database(self):
        type(self).n += 1
        return self.cluster.create_database('eng%d' % self.n)

    def server(self, url, extra=''):
        s = qhvtest.Server(extra, connection=url)
        self.addCleanup(s.cleanup)
        return s

    def wait_for(self, what, fn, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = fn()
            if v:
                return v
            time.sleep(0.1)
        self.fail('timed out waiting for ' + what)

    def test_store_engine(self):
        if not os.access(UNIT, os.X_OK):
            self.skipTest('%s is not built (cmocka missing?)' % UNIT)
        r = subprocess.run([UNIT], env=dict(os.environ, QHV_TEST_PG_URL=self.database()),
                           capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stdout[-6000:] + r.stderr[-6000:])
        self.assertIn('PASSED', r.stdout + r.stderr)
        self.assertNotIn('SKIPPED', r.stdout + r.stderr)

    def test_two_servers_share_one_subnet(self):
        url = self.database()
        a = self.server(url).start()
        b = self.server(url).start()
        ca, cb = qhvtest.Client(a.port), qhvtest.Client(b.port)
        st, net = ca.post('/v2.0/networks', {'network': {'name': 'two'}})
        self.assertEqual(st, 201, net)
        net = net['network']
        st, sub = cb.post('/v2.0/subnets', {'subnet': {
            'network_id': net['id'], 'cidr': '10.9.0.0/28', 'ip_version': 4}})
        self.assertEqual(st, 201, sub)
        free = 13   # .2 .. .14 (.1 is the gateway)

        def create(i):
            return (ca if i % 2 else cb).post('/v2.0/ports', {'port': {
                'network_id': net['id'], 'name': 'p%d' % i}})
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            results = list(ex.map(create, range(24)))
        made = [body['port'] for st, body in results if st == 201]
        refused = [body for st, body in results if st != 201]
        self.assertEqual(len(made), free, results)
        for st, body in results:
            if st != 201:
                self.assertEqual(st, 409, body)
                self.assertEqual(body['NeutronError']['type'], 'IpAddressGenerationFailure')
        self.assertEqual(len(refused), 24 - free)
        ips = [p['fixed_ips'][0]['ip_address'] for p in made]
        self.assertEqual(len(set(ips)), free, ips)
        macs = [p['mac_address'] for p in made]
        self.assertEqual(len(set(macs)), free)
        # Each server sees every port, whichever made it.
        for c in (ca, cb):
            st, body = c.get('/v2.0/ports?network_id=%s' % net['id'])
            self.assertEqual(st, 200, body)
            self.assertEqual(sorted(p['id'] for p in body['ports']),
                             sorted(p['id'] for p in made))
        self.assertEqual(a.stop(), 0, a.read_log()[-3000:])
        self.assertEqual(b.stop(), 0, b.read_log()[-3000:])

    def test_a_commit_reaches_the_other_servers_agents(self):
        url = self.database()
        conf = '[agent]\nauth_token = test-secret\n'
        a = self.server(url, conf).start()
        b = self.server(url, conf).start()
        ca = qhvtest.Client(a.port)
        agent = qhvtest.Client(b.port, {'X-Qhv-Agent-Token': b.agent_token('hx1')})
        st, out = agent.post('/channel/v1/hosts/hx1/report', {'agent': {
            'agent_type': 'HyperV agent', 'binary': 'qhv-agent', 'configurations': {
                'backend': 'dummy', 'vif_type': 'hyperv', 'network_types': ['vlan'],
                'vswitch_mappings': ['physnet*:external'], 'port_filter': True}}})
        self.assertEqual(st, 200, out)
        st, first = agent.get('/channel/v1/hosts/hx1/plan')
        self.assertEqual(st, 200, first)
        self.assertEqual(first['plan']['ports'], {})
        # Made through A; B's feed (the plan it keeps, not a recompute)
        # learns of it from the listener.
        st, net = ca.post('/v2.0/networks', {'network': {'name': 'heard'}})
        self.assertEqual(st, 201, net)
        nid = net['network']['id']
        st, sub = ca.post('/v2.0/subnets', {'subnet': {
            'network_id': nid, 'cidr': '10.8.0.0/24', 'ip_version': 4}})
        self.assertEqual(st, 201, sub)
        st, port = ca.post('/v2.0/ports', {'port': {'network_id': nid,
                                                    'binding:host_id': 'hx1'}})
        self.assertEqual(st, 201, port)
        pid = port['port']['id']
        self.wait_for('the port in B\'s plan', lambda: pid in agent.get(
            '/channel/v1/hosts/hx1/plan')[1]['plan']['ports'])
        st, fed = agent.get('/channel/v1/hosts/hx1/plan')
        st, fresh = agent.get('/channel/v1/hosts/hx1/plan?fresh=1')
        self.assertEqual(fed['plan'], fresh['plan'])
        self.assertGreater(fed['revision'], first['revision'])
        # And the other way round.
        agent_a = qhvtest.Client(a.port, {'X-Qhv-Agent-Token': a.agent_token('hx1')})
        self.assertIn(pid, agent_a.get('/channel/v1/hosts/hx1/plan')[1]['plan']['ports'])
        st, port = qhvtest.Client(b.port).post('/v2.0/ports', {'port': {
            'network_id': nid, 'binding:host_id': 'hx1'}})
        self.assertEqual(st, 201, port)
        pid2 = port['port']['id']
        self.wait_for('the port in A\'s plan', lambda: pid2 in agent_a.get(
            '/channel/v1/hosts/hx1/plan')[1]['plan']['ports'])
        self.assertEqual(a.stop(), 0, a.read_log()[-3000:])
        self.assertEqual(b.stop(), 0, b.read_log()[-3000:])

    def test_database_stopped_and_started(self):
        cluster = pgcluster.Cluster().start()
        self.addCleanup(cluster.remove)
        url = cluster.create_database('restart')
        s = self.server(url).start()
        c = qhvtest.Client(s.port)
        st, body = c.post('/v2.0/networks', {'network': {'name': 'before'}})
        self.assertEqual(st, 201, body)
        cluster.stop('fast')
        for st, body in (c.post('/v2.0/networks', {'network': {'name': 'down'}}),
                         c.get('/v2.0/networks')):
            self.assertEqual(st, 503, body)
            self.assertEqual(body['NeutronError']['type'], 'ServiceUnavailable')
            self.assertIn('The database is unavailable', body['NeutronError']['message'])
        cluster.start()
        self.wait_for('a write once the database is back', lambda: c.post(
            '/v2.0/networks', {'network': {'name': 'after'}})[0] == 201)
        st, body = c.get('/v2.0/networks')
        self.assertEqual(st, 200, body)
        self.assertEqual(sorted(n['name'] for n in body['networks']), ['after', 'before'])
        # The listener of other servers' commits reconnected by itself too.
        self.wait_for('the listener back', lambda: 'listening to other servers again'
                      in s.read_log())
        self.assertEqual(s.stop(), 0, s.read_log()[-3000:])

    def test_database_killed_under_writes(self):
        cluster = pgcluster.Cluster().start()
        self.addCleanup(cluster.remove)
        s = self.server(cluster.create_database('crash'),
                        '[quotas]\nquota_network = -1\n').start()
        stop = []
        statuses = []

        def writer(i):
            c = qhvtest.Client(s.port)
            n = 0
            while not stop:
                n += 1
                try:
                    st, body = c.post('/v2.0/networks', {'network': {'name': 'w%d-%d' % (i, n)}})
                except OSError as e:
                    st, body = None, str(e)
                statuses.append((st, body))
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            futs = [ex.submit(writer, i) for i in range(8)]
            self.wait_for('some writes', lambda: len(statuses) > 40)
            cluster.kill()          # every session lost at once, mid-transaction
            time.sleep(1)
            cluster.start()
            mark = len(statuses)
            self.wait_for('writes again', lambda: any(
                st == 201 for st, _ in statuses[mark:]), 120)
            stop.append(True)
            for f in futs:
                f.result()
        # Only answers a client can act on: created, or unavailable (retry).
        self.assertIn(503, [st for st, _ in statuses])
        for st, body in statuses:
            self.assertIn(st, (201, 503), body)
            if st == 503:
                self.assertEqual(body['NeutronError']['type'], 'ServiceUnavailable', body)
        # What was answered 201 exists; the server still writes and stops cleanly.
        made = {b['network']['id'] for st, b in statuses if st == 201}
        st, body = qhvtest.Client(s.port).get('/v2.0/networks')
        self.assertEqual(st, 200, body)
        self.assertLessEqual(made, {n['id'] for n in body['networks']})
        st, body = qhvtest.Client(s.port).post('/v2.0/networks', {'network': {'name': 'end'}})
        self.assertEqual(st, 201, body)
        self.assertEqual(s.stop(), 0, s.read_log()[-3000:])

    def test_waits_for_the_database_at_start(self):
        cluster = pgcluster.Cluster().start()
        self.addCleanup(cluster.remove)
        url = cluster.create_database('late')
        cluster.stop('fast')
        s = self.server(url, '[database]\npool_timeout = 1\n')
        with self.assertRaises(RuntimeError) as cm:
            s.start()
        self.assertIn('within pool_timeout (1 s)', str(cm.exception))
        s2 = self.server(url, '[database]\npool_timeout = 120\n')
        proc = subprocess.Popen([qhvtest.SERVER, '--config-file', s2.conf],
                                stdout=s2.log, stderr=s2.log)
        s2.proc = proc
        time.sleep(2)
        self.assertIsNone(proc.poll(), s2.read_log())
        cluster.start()
        self.wait_for('the server to listen', lambda: 'listening on' in s2.read_log(), 120)
        st, body = qhvtest.Client(s2.port).post('/v2.0/networks', {'network': {'name': 'x'}})
        self.assertEqual(st, 201, body)
        self.assertEqual(s2.stop(), 0, s2.read_log()[-3000:])

    def test_pool_limit(self):
        s = self.server(self.database(),
                        '[database]\nmax_pool_size = 1\nmax_overflow = 0\n').start()
        st, body = qhvtest.Client(s.port).get('/v2.0/networks')
        self.assertEqual(st, 503, body)
        self.assertIn('max_pool_size + max_overflow', body['NeutronError']['message'])


if __name__ == '__main__':
    unittest.main()
