"""Several qhv-servers on one PostgreSQL database (issue 16): concurrent
creates spread over three servers allocate as one server would (no address,
MAC or segment twice, quotas exact), and three servers started together on
an empty database migrate it once.

Always on PostgreSQL (this process's throwaway cluster, qhvtest.pg_cluster;
skipped when PostgreSQL is not installed), whatever QHV_TEST_DB says."""
import collections
import subprocess
import threading
import time
import unittest
import uuid

import qhvtest

SERVERS = 3
CONF = '\n[agent]\nauth_token = ms-secret\n'
HV_CONF = {'backend': 'dummy', 'vif_type': 'hyperv', 'network_types': ['vlan', 'nvgre'],
           'vswitch_mappings': ['physnet*:external'], 'port_filter': True}


def spread(clients, total, fn, per_client_threads=2):
    """Calls fn(client, i) for i in range(total) from per_client_threads
    threads per client, the i spread round-robin; the results by i."""
    results = [None] * total
    threads = []
    nthreads = len(clients) * per_client_threads

    def run(k):
        client = clients[k % len(clients)]
        for i in range(k, total, nthreads):
            results[i] = fn(client, i)

    for k in range(nthreads):
        threads.append(threading.Thread(target=run, args=(k,)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def start_all(servers):
    """Starts the servers together (each start waits until it listens)."""
    errors = []

    def start(s):
        try:
            s.start()
        except Exception as e:      # reported below, with the others
            errors.append(e)

    threads = [threading.Thread(target=start, args=(s,)) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise AssertionError('servers failed to start: %s' % errors)


class MultiServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = qhvtest.pg_cluster()
        cls.dbname = 'multi_' + uuid.uuid4().hex[:10]
        url = cls.pg.create_database(cls.dbname)
        cls.servers = [qhvtest.Server(CONF, connection=url) for _ in range(SERVERS)]
        try:
            start_all(cls.servers)
        except BaseException:
            cls.tearDownClass()
            raise
        cls.clients = [qhvtest.Client(s.port) for s in cls.servers]

    @classmethod
    def tearDownClass(cls):
        rcs = [s.stop() for s in cls.servers]
        logs = [s.read_log() for s in cls.servers]
        for s in cls.servers:
            s.cleanup()
        cls.pg.drop_database(cls.dbname)
        if any(rc not in (0, None) for rc in rcs):
            raise AssertionError('exit statuses %s; logs:\n%s' % (
                rcs, '\n'.join(l[-3000:] for l in logs)))

    def test_concurrent_port_creates(self):
        st, net = self.clients[0].post('/v2.0/networks', {'network': {'name': 'ms-ports'}})
        self.assertEqual(st, 201, net)
        net = net['network']
        st, sub = self.clients[1].post('/v2.0/subnets', {'subnet': {
            'network_id': net['id'], 'cidr': '10.150.0.0/22', 'ip_version': 4}})
        self.assertEqual(st, 201, sub)
        total = SERVERS * 100
        res = spread(self.clients, total, lambda c, i: c.post('/v2.0/ports', {'port': {
            'network_id': net['id'], 'name': 'ms-%d' % i}}))
        codes = collections.Counter(st for st, _ in res)
        self.assertEqual(codes, {201: total}, [b for st, b in res if st != 201][:3])
        ports = [b['port'] for _, b in res]
        ips = [f['ip_address'] for p in ports for f in p['fixed_ips']]
        macs = [p['mac_address'] for p in ports]
        self.assertEqual(len(ips), total)
        self.assertEqual(len(set(ips)), total, 'duplicate addresses')
        self.assertEqual(len(set(macs)), total, 'duplicate MACs')
        # Every server sees all of them, the same.
        lists = []
        for c in self.clients:
            st, body = c.get('/v2.0/ports?network_id=%s&fields=id&fields=fixed_ips&'
                             'fields=mac_address' % net['id'])
            self.assertEqual(st, 200, body)
            lists.append(sorted((p['id'], p['mac_address'], p['fixed_ips'][0]['ip_address'])
                                for p in body['ports']))
        self.assertEqual(len(lists[0]), total)
        self.assertEqual(lists[0], lists[1])
        self.assertEqual(lists[0], lists[2])
        # The database agrees: one allocation row per address.
        self.assertEqual(int(self.pg.psql("SELECT count(*) FROM ipallocs WHERE subnet_id = '%s'"
                                          % sub['subnet']['id'], self.dbname)), total)

    def test_quota_exact_across_servers(self):
        project = 'ms-quota'
        limit = 40
        st, b = self.clients[2].put('/v2.0/quotas/' + project, {'quota': {'port': limit}})
        self.assertEqual(st, 200, b)
        proj = [qhvtest.Client(s.port, {'X-Project-Id': project, 'X-Roles': 'member'})
                for s in self.servers]
        st, net = proj[0].post('/v2.0/networks', {'network': {'name': 'ms-q'}})
        self.assertEqual(st, 201, net)
        attempts = SERVERS * 25
        res = spread(proj, attempts, lambda c, i: c.post('/v2.0/ports', {'port': {
            'network_id': net['network']['id']}}))
        codes = collections.Counter(st for st, _ in res)
        self.assertEqual(codes, {201: limit, 409: attempts - limit}, codes)
        for st, b in res:
            if st == 409:
                self.assertEqual(b['NeutronError']['type'], 'OverQuota', b)
        for c in proj:
            st, body = c.get('/v2.0/ports?fields=id')
            self.assertEqual((st, len(body['ports'])), (200, limit))

    def test_concurrent_network_creates(self):
        total = SERVERS * 30
        res = spread(self.clients, total, lambda c, i: c.post('/v2.0/networks', {'network': {
            'name': 'ms-net-%d' % i, 'provider:network_type': 'vlan' if i % 2 else 'nvgre'}}))
        codes = collections.Counter(st for st, _ in res)
        self.assertEqual(codes, {201: total}, [b for st, b in res if st != 201][:3])
        segs = [(b['network']['provider:network_type'], b['network']['provider:physical_network'],
                 b['network']['provider:segmentation_id']) for _, b in res]
        self.assertEqual(len(set(segs)), total, 'duplicate segments: %s' % [
            s for s, n in collections.Counter(segs).items() if n > 1])
        # What one server allocated, the others see.
        for c in self.clients:
            st, body = c.get('/v2.0/networks?fields=id&fields=provider:segmentation_id&'
                             'fields=provider:network_type')
            self.assertEqual(st, 200, body)
            mine = {b['network']['id'] for _, b in res}
            seen = {(n['provider:network_type'], n['provider:segmentation_id'])
                    for n in body['networks'] if n['id'] in mine}
            self.assertEqual(seen, {(t, i) for t, _, i in segs})

    def test_every_server_hears_every_commit(self):
        """An agent that read its plan from one server and watches another
        (fail-over) is woken by a change made through a third, with a delta
        from where it was; every server's fed plan equals a fresh one."""
        host = 'ms-hv1'
        token = self.servers[0].agent_token(host)
        agents = [qhvtest.Client(s.port, {'X-Qhv-Agent-Token': token}) for s in self.servers]
        st, b = agents[0].post('/channel/v1/hosts/%s/report' % host, {'agent': {
            'agent_type': 'HyperV agent', 'binary': 'qhv-agent', 'configurations': HV_CONF}})
        self.assertEqual(st, 200, b)
        st, net = self.clients[0].post('/v2.0/networks', {'network': {
            'name': 'ms-feed', 'provider:network_type': 'vlan'}})
        self.assertEqual(st, 201, net)
        st, b = self.clients[0].post('/v2.0/subnets', {'subnet': {
            'network_id': net['network']['id'], 'cidr': '10.151.0.0/24', 'ip_version': 4}})
        self.assertEqual(st, 201, b)
        st, base = agents[0].get('/channel/v1/hosts/%s/plan' % host)
        self.assertEqual(st, 200, base)
        # The third server learns the host's plan at the same revision
        # first (a watch that does not wait), as it would from an agent's
        # earlier request: a watch that reached it only after the port's
        # commit would rightly get the whole plan, not a delta.
        st, pre = agents[2].get('/channel/v1/hosts/%s/plan?since=%d&wait=0'
                                % (host, base['revision']))
        self.assertEqual(st, 200, pre)
        self.assertEqual(pre['revision'], base['revision'], pre)
        result = {}

        def watch():
            result['answer'] = agents[2].get('/channel/v1/hosts/%s/plan?since=%d&wait=20'
                                             % (host, base['revision']))

        t = threading.Thread(target=watch)
        t.start()
        st, port = self.clients[1].post('/v2.0/ports', {'port': {
            'network_id': net['network']['id'], 'binding:host_id': host}})
        self.assertEqual(st, 201, port)
        t.join()
        st, out = result['answer']
        self.assertEqual(st, 200, out)
        self.assertGreater(out['revision'], base['revision'])
        self.assertIn('delta', out, out)
        self.assertIn(port['port']['id'], out['delta'].get('ports', {}).get('set', {}), out)
        plans = []
        for a in agents:
            st, fed = a.get('/channel/v1/hosts/%s/plan' % host)
            st2, fresh = a.get('/channel/v1/hosts/%s/plan?fresh=1' % host)
            self.assertEqual((st, st2), (200, 200))
            self.assertEqual(fed['plan'], fresh['plan'])
            plans.append(fed['plan'])
        self.assertEqual(plans[0], plans[1])
        self.assertEqual(plans[0], plans[2])
        self.assertIn(port['port']['id'], plans[0]['ports'])


class NovaHearsOnce(unittest.TestCase):
    """Three servers share one outbox: Nova gets each event once, not once
    per server."""

    def test_each_event_sent_once(self):
        import test_nova_outbox as outbox
        fake = outbox.FakeNova()
        self.addCleanup(fake.close)
        pg = qhvtest.pg_cluster()
        name = 'nova_' + uuid.uuid4().hex[:10]
        url = pg.create_database(name)
        self.addCleanup(pg.drop_database, name)
        servers = [qhvtest.Server(outbox.nova_conf(fake.url()), connection=url)
                   for _ in range(SERVERS)]
        for s in servers:
            self.addCleanup(s.cleanup)
        start_all(servers)
        clients = [qhvtest.Client(s.port) for s in servers]
        st, net = clients[0].post('/v2.0/networks', {'network': {'name': 'ms-nova'}})
        self.assertEqual(st, 201, net)
        tags = []
        for i in range(6):
            c = clients[i % SERVERS]
            st, p = c.post('/v2.0/ports', {'port': {
                'network_id': net['network']['id'], 'device_owner': 'compute:nova',
                'device_id': str(uuid.uuid4())}})
            self.assertEqual(st, 201, p)
            self.assertEqual(c.delete('/v2.0/ports/' + p['port']['id'])[0], 204)
            tags.append(p['port']['id'])

        def pending():
            st, body = clients[0].get('/channel/v1/nova-events')
            self.assertEqual(st, 200, body)
            return body['nova_events']['pending']

        deadline = time.time() + 120
        while (pending() or len(fake.events()) < len(tags)) and time.time() < deadline:
            time.sleep(0.1)
        self.assertEqual(pending(), 0)
        sent = []
        for c in clients:
            st, body = c.get('/channel/v1/status')
            self.assertEqual(st, 200, body)
            sent.append(body['nova_events']['sent'])
        got = collections.Counter((ev['tag'], ev['name']) for _, ev in fake.events())
        self.assertEqual(got, {(t, 'network-vif-deleted'): 1 for t in tags},
                         'sent per server: %s' % sent)
        self.assertEqual(sum(sent), len(tags), sent)


class RacedMigrations(unittest.TestCase):
    """Three servers started together on an empty database."""

    def test_three_servers_migrate_one_empty_database(self):
        pg = qhvtest.pg_cluster()
        name = 'race_' + uuid.uuid4().hex[:10]
        url = pg.create_database(name)
        self.addCleanup(pg.drop_database, name)
        servers = [qhvtest.Server(connection=url) for _ in range(SERVERS)]
        for s in servers:
            self.addCleanup(s.cleanup)
        start_all(servers)
        # All serve, and what one writes the others read.
        clients = [qhvtest.Client(s.port) for s in servers]
        st, net = clients[0].post('/v2.0/networks', {'network': {'name': 'race'}})
        self.assertEqual(st, 201, net)
        for c in clients[1:]:
            self.assertEqual(c.get('/v2.0/networks/' + net['network']['id'])[0], 200)
        # The schema is this build's, in one set of tables, migrated once.
        conf = servers[0].conf
        r = subprocess.run([qhvtest.SERVER, '--config-file', conf, '--db-sync'],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("this build's; nothing to do", r.stdout)
        tables = pg.psql("SELECT tablename FROM pg_tables WHERE schemaname NOT IN "
                         "('pg_catalog', 'information_schema') ORDER BY 1", name).split()
        self.assertEqual(len(tables), len(set(tables)), tables)
        for t in ('meta', 'resources', 'ipallocs', 'macs', 'segments', 'port_sgs',
                  'default_sgs', 'quotas', 'rewrite_pas', 'nova_outbox', 'changes'):
            self.assertIn(t, tables)
        self.assertEqual(pg.psql("SELECT count(*) FROM meta WHERE key = 'revision'", name).strip(),
                         '1')
        logs = [s.read_log() for s in servers]
        migrated = [i for i, log in enumerate(logs) if 'schema migrated to version 12' in log]
        self.assertEqual(len(migrated), 1, 'servers that migrated: %s' % migrated)
        for s in servers:
            self.assertEqual(s.stop(), 0, s.read_log()[-3000:])


if __name__ == '__main__':
    unittest.main()
