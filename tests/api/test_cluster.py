"""A cluster (issue 16; docs/operations.md "A highly available deployment"):
three qhv-servers on one PostgreSQL database (this process's throwaway
cluster, qhvtest.pg_cluster; skipped when PostgreSQL is not installed,
whatever QHV_TEST_DB says) and real qhv-agent processes on the dummy
backend, each listing the servers (`[agent] server_url`) from a different
first one:

    host  cla   server_url = A,B,C
    host  clb1  server_url = B,A,C
    host  clb2  server_url = B,A,C
    host  clc   server_url = C,A,B

- A change made through one server reaches an agent connected to another
  (ports, their deletion, security group rules): the servers' listeners.
- PostgreSQL stopped (fast) and started, then killed (-9) and started,
  under writes through all three servers: 503 ServiceUnavailable while it is
  down (never a 500, never a hang), every acknowledged write kept, every
  server writes again by itself (same processes), agents converge and hear
  changes made through every server again.
- One server killed (-9) under writes spread over the three: every
  acknowledged create is kept (no address or MAC twice), the clients and
  the agents of that server move to the others, the agents converge without
  re-applying anything to their switches.
- The server sending Nova's events killed (-9): another takes the duty and
  sends the events of ports that go ACTIVE after.

The cluster and the agents start once for the class; the tests run in
their names' order (the server kills last: each leaves a server dead).
Latencies and counts are printed (stderr), never asserted."""
import collections
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import unittest
import uuid

import qhvtest
import test_agent_dummy
import test_multiserver
import test_nova_outbox

AGENT, QHVCTL = test_agent_dummy.AGENT, test_agent_dummy.QHVCTL
BOUND = 90.0        # seconds: generous bounds for a busy machine
HOSTS = (('cla', '192.168.80.1', 'ABC'), ('clb1', '192.168.80.2', 'BAC'),
         ('clb2', '192.168.80.3', 'BAC'), ('clc', '192.168.80.4', 'CAB'))


def say(fmt, *args):
    sys.stderr.write('[cluster] ' + (fmt % args) + '\n')
    sys.stderr.flush()


def request(port, method, path, body=None, timeout=BOUND, headers=None):
    """(status, parsed body); raises OSError (refused, reset, timed out) or
    http.client errors when there is no answer."""
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    try:
        h = {'Accept': 'application/json'}
        h.update(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h['Content-Type'] = 'application/json'
        conn.request(method, path, body=data, headers=h)
        resp = conn.getresponse()
        text = resp.read()
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text.decode(errors='replace')
        return resp.status, parsed
    finally:
        conn.close()


def nic_add(state, port_id):
    r = subprocess.run([QHVCTL, 'dummy', state, 'nic', 'add', port_id], capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise RuntimeError('qhvctl dummy nic add: ' + r.stderr)


def poll(fn, timeout=BOUND, every=0.05):
    """fn()'s first true value, or None after timeout seconds."""
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            return None
        time.sleep(every)


class _Shim:
    """What test_agent_dummy.Host needs of its test case."""

    def __init__(self, server):
        self.server = server
        self.assertEqual = unittest.TestCase().assertEqual


class Load:
    """Client threads creating objects through the servers until stop():
    thread k starts on server k % 3 of its order; kind(i) says what the
    i-th create of a thread is ('port', 'bound' (to a host, whose NIC is
    then added), or 'net'). moving: a thread whose server gives no answer
    moves to the next of its order (else that is an error).

    Recorded: acked (every 201 with its object), by_server (201s per
    server letter), unavailable (503 ServiceUnavailable answers, per
    server), lost (no answer: maybe committed), errors (anything else:
    other statuses, a 503 without the NeutronError, no answer when not
    moving), slowest (the longest answer, seconds)."""

    def __init__(self, case, threads_per_server=2, moving=False, bound_every=3, net_every=10):
        self.case, self.moving = case, moving
        self.bound_every, self.net_every = bound_every, net_every
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.acked = []                 # (kind, object, server letter)
        self.by_server = collections.Counter()
        self.unavailable = collections.Counter()
        self.lost = collections.Counter()
        self.errors = []
        self.slowest = 0.0
        self.threads = [threading.Thread(target=self.run, args=(k,), daemon=True)
                        for k in range(3 * threads_per_server)]
        self.seq = 0

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(BOUND * 2)
            if t.is_alive():
                self.errors.append('a client thread still waits for an answer')
        return self

    def count(self):
        with self.lock:
            return len(self.acked)

    def run(self, k):
        case = self.case
        order = ['ABC', 'BCA', 'CAB'][k % 3]
        at = 0
        i = k
        while not self.stopping.is_set():
            letter = order[at]
            server = case.by_letter[letter]
            i += len(self.threads)
            kind = ('net' if i % self.net_every == 0 else
                    'bound' if i % self.bound_every == 0 else 'port')
            host = None
            if kind == 'net':
                path, body = '/v2.0/networks', {'network': {
                    'name': 'load-%d' % i, 'provider:network_type': 'nvgre'}}
            else:
                attrs = {'network_id': case.net['id'], 'name': 'load-%d' % i,
                         'security_groups': [case.sg['id']]}
                if kind == 'bound':
                    host = case.hosts[(i // self.bound_every) % len(case.hosts)]
                    attrs['binding:host_id'] = host.name
                path, body = '/v2.0/ports', {'port': attrs}
            t0 = time.time()
            try:
                st, got = request(server.port, 'POST', path, body)
            except (OSError, http.client.HTTPException) as e:
                with self.lock:
                    self.lost[letter] += 1
                    if not self.moving:
                        self.errors.append('no answer from %s: %r' % (letter, e))
                if self.moving:
                    at = (at + 1) % len(order)
                    continue
                time.sleep(0.2)
                continue
            took = time.time() - t0
            with self.lock:
                self.slowest = max(self.slowest, took)
                if st == 201:
                    obj = got['network' if kind == 'net' else 'port']
                    self.acked.append((kind, obj, letter))
                    self.by_server[letter] += 1
                elif (st == 503 and isinstance(got, dict) and
                      got.get('NeutronError', {}).get('type') == 'ServiceUnavailable'):
                    self.unavailable[letter] += 1
                else:
                    self.errors.append('%s %s via %s: %s %s' % ('POST', path, letter, st, got))
            if st == 201 and host is not None:
                try:
                    nic_add(host.state, obj['id'])
                except RuntimeError as e:
                    with self.lock:
                        self.errors.append(str(e))
            if st == 503:
                time.sleep(0.05)


class ClusterTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        for tool in (AGENT, QHVCTL):
            if not os.access(tool, os.X_OK):
                raise AssertionError('%s is not built (make builds it)' % tool)
        cls.pg = qhvtest.pg_cluster()
        cls.dbname = 'cluster_' + uuid.uuid4().hex[:10]
        url = cls.pg.create_database(cls.dbname)
        cls.servers, cls.hosts = [], []
        cls.nova = test_nova_outbox.FakeNova()
        conf = test_agent_dummy.SERVER_CONF + """
[DEFAULT]
send_events_interval = 1
[nova]
auth_type = admin_token
token = admin:admin
endpoint_override = %s
retry_max_interval = 2
""" % cls.nova.url()
        try:
            cls.servers = [qhvtest.Server(conf, connection=url) for _ in range(3)]
            test_multiserver.start_all(cls.servers)
            cls.by_letter = dict(zip('ABC', cls.servers))
            cls.pids = {s.port: s.proc.pid for s in cls.servers}
            cls.url = {l: 'http://127.0.0.1:%d' % s.port for l, s in cls.by_letter.items()}
            cls.clients = {l: qhvtest.Client(s.port) for l, s in cls.by_letter.items()}
            ca = cls.clients['A']
            st, body = ca.post('/v2.0/networks', {'network': {
                'name': 'cl-nv', 'provider:network_type': 'nvgre'}})
            assert st == 201, body
            cls.net = body['network']
            st, body = ca.post('/v2.0/subnets', {'subnet': {
                'network_id': cls.net['id'], 'cidr': '10.80.0.0/20', 'ip_version': 4}})
            assert st == 201, body
            # The load's group: no remote-group rules, so a new port changes
            # no other port's ACLs (the agents' counters then count only
            # the new ports' objects).
            st, body = ca.post('/v2.0/security-groups', {'security_group': {'name': 'cl-sg'}})
            assert st == 201, body
            cls.sg = body['security_group']
            shim = _Shim(cls.servers[0])
            for name, pa, order in HOSTS:
                h = test_agent_dummy.Host(shim, name, pa,
                                          url=', '.join(cls.url[l] for l in order))
                h.order = order
                h.ctl('counters')
                cls.hosts.append(h.start())
            # Each host gets a port of the group through its first server.
            cls.base = {}
            for h in cls.hosts:
                st, body = cls.clients[h.order[0]].post('/v2.0/ports', {'port': {
                    'network_id': cls.net['id'], 'name': 'base-' + h.name,
                    'security_groups': [cls.sg['id']], 'binding:host_id': h.name}})
                assert st == 201, body
                cls.base[h.name] = body['port']
                h.ctl('nic', 'add', body['port']['id'])
            for h in cls.hosts:
                pid = cls.base[h.name]['id']
                assert poll(lambda: ca.get('/v2.0/ports/' + pid)[1]['port']['status'] ==
                            'ACTIVE'), 'base port of %s not ACTIVE; log:\n%s' % (
                                h.name, h.read_log()[-3000:])
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        bad = []
        for h in cls.hosts:
            rc = h.stop()
            if rc not in (0, -signal.SIGTERM):
                bad.append('agent %s exited with %s; log:\n%s' % (h.name, rc,
                                                                   h.read_log()[-3000:]))
        for s in cls.servers:
            if s.proc is None:          # killed by a test
                continue
            rc = s.stop()
            if rc != 0:
                bad.append('qhv-server exited with %s; log:\n%s' % (rc, s.read_log()[-3000:]))
        for s in cls.servers:
            s.cleanup()
        cls.nova.close()
        if cls.pg.started:
            cls.pg.drop_database(cls.dbname)
        if bad:
            raise AssertionError('\n'.join(bad))

    # -- helpers --

    def wait_for(self, what, fn, detail=None, timeout=BOUND):
        v = poll(fn, timeout)
        if not v:
            self.fail('timed out (%d s) waiting for %s%s' % (
                timeout, what, '; ' + detail() if detail else ''))
        return v

    def live(self):
        """The letters of the servers running."""
        return [l for l, s in self.by_letter.items() if s.proc is not None]

    def status(self, letter, port_id):
        try:
            st, body = request(self.by_letter[letter].port, 'GET', '/v2.0/ports/' + port_id,
                               timeout=30)
        except (OSError, http.client.HTTPException):
            return None
        return body['port']['status'] if st == 200 else None

    def host_status(self, letter, host):
        try:
            st, body = request(self.by_letter[letter].port, 'GET', '/channel/v1/status',
                               timeout=30)
        except (OSError, http.client.HTTPException):
            return None
        if st != 200:
            return None
        return next((x for x in body['hosts'] if x['host'] == host), None)

    def in_sync(self, letter, host):
        s = self.host_status(letter, host)
        return s and s['alive'] and s['in_sync']

    def logs(self, *hosts):
        return lambda: '\n'.join('--- %s:\n%s' % (h.name, h.read_log()[-2500:])
                                 for h in (hosts or self.hosts))

    def server_of(self, h):
        """The letter of the server an agent uses now (its log)."""
        m = re.findall(r'now using server (\S+): resuming', h.read_log())
        url = m[-1] if m else self.url[h.order[0]]
        return next(l for l, u in self.url.items() if u == url)

    def bound_port(self, letter, host, **attrs):
        attrs.update({'network_id': self.net['id'], 'binding:host_id': host.name,
                      'security_groups': [self.sg['id']]})
        st, body = self.clients[letter].post('/v2.0/ports', {'port': attrs})
        self.assertEqual(st, 201, body)
        return body['port']

    def converge(self, why):
        """Every host alive and in sync, every port bound to it ACTIVE (seen
        from every live server) with its objects on its switch."""
        for h in self.hosts:
            self.wait_for('%s in sync (%s)' % (h.name, why),
                          lambda: self.in_sync(self.live()[0], h.name), self.logs(h))
        for letter in self.live():
            for h in self.hosts:
                st, body = self.clients[letter].get('/v2.0/ports?binding:host_id=%s&fields=id&'
                                                    'fields=status' % h.name)
                self.assertEqual(st, 200, body)
                ids = [p['id'] for p in body['ports']]
                for pid in ids:     # ports whose create got no answer have no NIC yet
                    nic_add(h.state, pid)
                self.wait_for('%s: every bound port ACTIVE via %s (%s)' % (h.name, letter, why),
                              lambda: all(self.status(letter, pid) == 'ACTIVE' for pid in ids),
                              self.logs(h))
                objs = h.objects()
                for pid in ids:
                    for key in ('port/%s', 'acl/%s/ingress', 'acl/%s/egress'):
                        self.assertIn(key % pid, objs, h.name)

    def sg_rule_reaches(self, letter, port_min, hosts=None):
        """Adds a rule to the group through letter; the seconds until every
        host's ACL of its base port has it."""
        t0 = time.time()
        st, body = self.clients[letter].post('/v2.0/security-group-rules', {
            'security_group_rule': {
                'security_group_id': self.sg['id'], 'direction': 'ingress', 'protocol': 'tcp',
                'port_range_min': port_min, 'port_range_max': port_min,
                'remote_ip_prefix': '10.0.0.0/8'}})
        self.assertEqual(st, 201, body)
        took = {}
        for h in hosts or self.hosts:
            key = 'acl/%s/ingress' % self.base[h.name]['id']
            self.wait_for('the rule (port %d, via %s) on %s (using %s)' % (
                port_min, letter, h.name, self.server_of(h)),
                lambda: port_min in [r.get('port_range_min') for r in
                                     h.objects('acl').get(key, {}).get('value', {})
                                     .get('rules', [])], self.logs(h))
            took[h.name] = round(time.time() - t0, 2)
        return took

    def assert_acked_kept(self, load, letters):
        """Every acknowledged create exists, seen through each of letters;
        no address or MAC twice on the load's network."""
        for letter in letters:
            c = self.clients[letter]
            st, body = c.get('/v2.0/ports?network_id=%s&fields=id&fields=fixed_ips&'
                             'fields=mac_address' % self.net['id'])
            self.assertEqual(st, 200, body)
            ports = {p['id']: p for p in body['ports']}
            st, body = c.get('/v2.0/networks?fields=id')
            self.assertEqual(st, 200, body)
            nets = {n['id'] for n in body['networks']}
            missing = [(k, o['id'], l) for k, o, l in load.acked
                       if o['id'] not in (nets if k == 'net' else ports)]
            self.assertEqual(missing, [], 'acknowledged creates lost (seen via %s)' % letter)
            for k, o, l in load.acked:
                if k != 'net':
                    self.assertEqual(ports[o['id']]['fixed_ips'], o['fixed_ips'])
                    self.assertEqual(ports[o['id']]['mac_address'], o['mac_address'])
            ips = [f['ip_address'] for p in ports.values() for f in p['fixed_ips']]
            macs = [p['mac_address'] for p in ports.values()]
            self.assertEqual(len(ips), len(set(ips)), 'duplicate addresses')
            self.assertEqual(len(macs), len(set(macs)), 'duplicate MACs')

    def assert_every_commit_heard(self):
        """Every commit was published (a row of changes per revision: none
        is pruned within a test's minutes), and no server's listener found
        a revision missing (its "assume everything changed" warning)."""
        unpublished = self.pg.psql("SELECT (SELECT value FROM meta WHERE key = 'revision') - "
                                   "(SELECT count(*) FROM changes)", self.dbname).strip()
        self.assertEqual(unpublished, '0', 'revisions without a row in changes')
        for l, s in self.by_letter.items():
            gaps = [x for x in s.read_log().splitlines() if 'were pruned before' in x]
            self.assertEqual(gaps, [], 'server %s' % l)

    def assert_same_processes(self):
        for s in self.servers:
            if s.proc is not None:
                self.assertIsNone(s.proc.poll(), s.read_log()[-3000:])
                self.assertEqual(s.proc.pid, self.pids[s.port])
        for h in self.hosts:
            self.assertIsNone(h.proc.poll(), h.read_log()[-3000:])

    # -- tests --

    def test_1_change_through_one_server_reaches_agents_on_another(self):
        cla = self.hosts[0]
        self.assertEqual(self.server_of(cla), 'A')
        for h in self.hosts:
            self.wait_for('%s in sync' % h.name, lambda: self.in_sync('B', h.name), self.logs(h))
        # A port bound to cla made through C: on cla's switch, ACTIVE via B.
        t0 = time.time()
        p = self.bound_port('C', cla, name='via-c')
        cla.ctl('nic', 'add', p['id'])
        self.wait_for('the port on cla', lambda: 'port/' + p['id'] in cla.objects(),
                      self.logs(cla))
        on_switch = time.time() - t0
        self.wait_for('the port ACTIVE via B', lambda: self.status('B', p['id']) == 'ACTIVE',
                      self.logs(cla))
        active = time.time() - t0
        value = cla.objects('port')['port/' + p['id']]['value']
        self.assertEqual(value['vsid'], self.net['provider:segmentation_id'])
        # Its lookup record reaches the hosts on the other servers too.
        ip = p['fixed_ips'][0]['ip_address']
        for h in self.hosts[1:]:
            self.wait_for('%s has the lookup record of %s' % (h.name, ip), lambda: any(
                v['value'].get('customer_address') == ip
                for v in h.objects('lookup_record').values()), self.logs(h))
        # Deleted through B: gone from the switch.
        t0 = time.time()
        self.assertEqual(self.clients['B'].delete('/v2.0/ports/' + p['id'])[0], 204)
        self.wait_for('the port gone from cla', lambda: not any(
            k.startswith(('port/' + p['id'], 'acl/' + p['id'])) for k in cla.objects()),
            self.logs(cla))
        gone = time.time() - t0
        # A rule added through C reaches the agents on A, B and C.
        took = self.sg_rule_reaches('C', 2201)
        self.assert_every_commit_heard()
        # C, which never computed cla's plan, knows it only from now on, at a
        # revision past what cla applied (the network below is not in it):
        # cla's applied_digest tells C at once that cla holds that plan.
        self.wait_for('cla in sync on A', lambda: self.in_sync('A', cla.name), self.logs(cla))
        st, body = self.clients['C'].post('/v2.0/networks', {'network': {'name': 'not-cla'}})
        self.assertEqual(st, 201, body)
        s = self.host_status('C', cla.name)
        self.assertTrue(s['in_sync'], s)
        say('change via C -> agent on A: port on the switch %.2f s after the 201, ACTIVE via '
            'B %.2f s; delete via B gone %.2f s; rule via C on each switch %s; cla in sync '
            'seen from C at once (applied %d, C knows the plan since %d)',
            on_switch, active, gone, took, s['applied_revision'], s['plan_revision'])

    def outage(self, why, down, up):
        """Writes through all three servers while down() makes the database
        unavailable, then up() brings it back; checks what the module says."""
        for h in self.hosts:
            self.wait_for('%s in sync' % h.name, lambda: self.in_sync(self.live()[0], h.name),
                          self.logs(h))
        letters = self.live()
        load = Load(self, moving=False).start()
        try:
            self.wait_for('some writes before the outage', lambda: load.count() >= 30)
            t_down = time.time()
            down()
            # Each server answers 503 at least once, never a 500 nor a hang.
            self.wait_for('a 503 from every server', lambda: all(
                load.unavailable[l] for l in letters) or load.errors,
                lambda: str(load.errors[:5]))
            self.assertEqual(load.errors, [])
            outage_503 = dict(load.unavailable)
            up()
            t_up = time.time()
            # Every server writes again by itself.
            before = dict(load.by_server)
            recovered = {}
            for l in letters:
                self.wait_for('a write through %s after %s' % (l, why), lambda: (
                    load.by_server[l] > before.get(l, 0) or load.errors),
                    lambda: str(load.errors[:5]))
                recovered[l] = round(time.time() - t_up, 2)
            n = load.count()
            self.wait_for('more writes', lambda: load.count() >= n + 15 or load.errors)
        finally:
            load.stop()
        self.assertEqual(load.errors, [], load.errors[:10])
        self.assertEqual(sum(load.lost.values()), 0)
        self.assert_same_processes()
        self.assert_acked_kept(load, letters)
        say('%s: %d creates acknowledged %s; 503 ServiceUnavailable %s (%d while down); '
            'down for %.1f s; writes again after %s s; slowest answer %.2f s',
            why, len(load.acked), dict(load.by_server), dict(load.unavailable),
            sum(outage_503.values()), t_up - t_down, recovered, load.slowest)
        # Agents converge, wherever their moves left them.
        self.converge(why)
        where = {h.name: self.server_of(h) for h in self.hosts}
        # A change made through each server reaches every agent: the
        # listeners of every server reconnected.
        took = {}
        for i, l in enumerate(letters):
            took[l] = self.sg_rule_reaches(l, 3000 + 100 * len(why) + i)
        say('%s: agents now on %s; rule via each server on each switch %s', why, where, took)
        # And every server's listener, whether or not an agent uses it.
        self.assert_listeners(letters)
        self.assert_every_commit_heard()

    def assert_listeners(self, letters):
        """A watch of cla's plan on each server hears a port made through
        another server."""
        cla = self.hosts[0]
        token = self.servers[0].agent_token(cla.name)
        auth = {'X-Qhv-Agent-Token': token}
        for i, l in enumerate(letters):
            port = self.by_letter[l].port
            st, body = request(port, 'GET', '/channel/v1/hosts/cla/plan', headers=auth)
            self.assertEqual(st, 200, body)
            rev = body['revision']
            made, heard = {}, []

            def watch(since):
                """Watches from since until an answer has the port made."""
                deadline = time.time() + BOUND
                while time.time() < deadline:
                    st, body = request(port, 'GET', '/channel/v1/hosts/cla/plan?since=%d&'
                                       'wait=30' % since, headers=auth)
                    if st != 200:
                        heard.append((st, body))
                        return
                    ports = (body['delta'].get('ports', {}).get('set', {})
                             if 'delta' in body else body['plan']['ports'])
                    poll(lambda: 'id' in made)    # the 201 may come after the plan
                    if made.get('id') in ports:
                        heard.append((st, body))
                        return
                    since = body['revision']
            t = threading.Thread(target=watch, args=(rev,))
            t.start()
            other = letters[(i + 1) % len(letters)]
            made['id'] = self.bound_port(other, cla, name='listen-%s' % l)['id']
            t.join(BOUND * 2)
            self.assertFalse(t.is_alive(), 'the watch on %s never answered' % l)
            self.assertEqual(len(heard), 1, 'the watch on %s did not hear the port made '
                                            'through %s' % (l, other))
            st, body = heard[0]
            self.assertEqual(st, 200, body)
            self.assertGreater(body['revision'], rev)
            self.assertEqual(self.clients[l].delete('/v2.0/ports/' + made['id'])[0], 204)

    def test_2_database_restarted_under_load(self):
        self.outage('database restart', lambda: self.pg.stop('fast'), self.pg.start)

    def test_3_postmaster_killed_under_load(self):
        self.outage('postmaster kill -9', self.pg.kill, self.pg.start)

    def test_4_server_killed_under_load(self):
        b = self.by_letter['B']
        # The outages before may have moved clb1 and clb2 off B (a 503
        # moves an agent on): restarted, they start on B again (a restart
        # with nothing changed writes nothing to the switch).
        moved_hosts = [h for h in self.hosts if h.order[0] == 'B']
        for h in moved_hosts:
            if self.server_of(h) != 'B':
                h.stop()
                h.log_start = os.path.getsize(h.logfile)
                h.start()
        for h in moved_hosts:
            self.wait_for('%s registered with B' % h.name, lambda: 'registered with %s' %
                          self.url['B'] in h.read_log(), self.logs(h))
            self.assertEqual(self.server_of(h), 'B')
        self.converge('before the kill')
        load = Load(self, moving=True).start()
        try:
            self.wait_for('writes through B before the kill', lambda: (
                load.by_server['B'] >= 15 and load.count() >= 45) or load.errors,
                lambda: str(load.errors[:5]))
            before = {h.name: h.dump() for h in self.hosts}
            t_kill = time.time()
            b.proc.kill()
            b.proc.wait()
            b.proc = None
            n = load.count()
            self.wait_for('writes after the kill', lambda: load.count() >= n + 45 or
                          load.errors, lambda: str(load.errors[:5]))
        finally:
            load.stop()
        self.assertEqual(load.errors, [], load.errors[:10])
        # Only requests in flight on B went unanswered.
        self.assertEqual(set(load.lost) - {'B'}, set(), dict(load.lost))
        self.assert_acked_kept(load, 'AC')
        # The agents that used B moved to A or C, and converge.
        for h in moved_hosts:
            self.wait_for('%s on another server' % h.name, lambda: self.server_of(h) != 'B',
                          self.logs(h))
        t_move = time.time()
        self.converge('after the kill')
        converged = time.time() - t_kill
        # Nothing applied before the kill was applied again: every object
        # then on a switch is still there, unchanged, and the counters grew
        # by exactly the objects added since (a create each).
        for h in self.hosts:
            was, now = before[h.name], h.dump()
            for key, obj in was['objects'].items():
                self.assertEqual(now['objects'].get(key), obj, '%s: %s' % (h.name, key))
            added = len(set(now['objects']) - set(was['objects']))
            c0, c1 = was['counters'], now['counters']
            self.assertEqual((c1['creates'] - c0['creates'], c1['updates'] - c0['updates'],
                              c1['deletes'] - c0['deletes']), (added, 0, 0),
                             '%s: counters %s -> %s, %d objects added' % (h.name, c0, c1, added))
        self.assert_same_processes()
        say('server kill: %d creates acknowledged %s, %d without an answer %s; agents %s '
            'moved (%.1f s) and all converged %.1f s after the kill; slowest answer %.2f s',
            len(load.acked), dict(load.by_server), sum(load.lost.values()), dict(load.lost),
            [h.name for h in moved_hosts], t_move - t_kill, converged, load.slowest)
        # And a change through A reaches them.
        self.sg_rule_reaches('A', 4400)
        self.assert_every_commit_heard()

    def test_5_nova_sender_killed(self):
        def vm_port(letter, h):
            p = self.bound_port(letter, h, device_owner='compute:nova',
                                device_id=str(uuid.uuid4()))
            h.ctl('nic', 'add', p['id'])
            return p

        def sent_by(p):
            """The letters of the servers that logged Nova accepting p's plug."""
            pat = re.compile(r'event network-vif-plugged( \S+)? for server \S+ port %s: '
                             r'accepted' % p['id'])
            return [l for l, s in self.by_letter.items() if pat.search(s.read_log())]

        def plugged(p):
            return [ev for _, ev in self.nova.events(p['id'])
                    if ev['name'] == 'network-vif-plugged']

        live = self.live()
        h = next(h for h in self.hosts if self.server_of(h) in live)
        p1 = vm_port(live[-1], h)
        self.wait_for('network-vif-plugged of p1 at Nova', lambda: plugged(p1), self.logs(h))
        sender = self.wait_for('the log line of the server that sent it', lambda: sent_by(p1))
        self.assertEqual(len(sender), 1, sender)
        leader = self.by_letter[sender[0]]
        t_kill = time.time()
        leader.proc.kill()
        leader.proc.wait()
        leader.proc = None
        rest = self.live()
        self.assertTrue(rest)
        for x in self.hosts:
            self.wait_for('%s on a live server' % x.name, lambda: self.server_of(x) in rest,
                          self.logs(x))
        p2 = vm_port(rest[0], h)
        self.wait_for('network-vif-plugged of p2 at Nova', lambda: plugged(p2), self.logs(h))
        took = time.time() - t_kill
        self.assertEqual(plugged(p2)[0]['status'], 'completed')
        self.assertIn(self.wait_for('the log line of the new sender', lambda: sent_by(p2))[0],
                      rest)
        say('nova sender %s killed: p2 plugged event sent by %s %.1f s after the kill',
            sender[0], sent_by(p2), took)
        self.assert_same_processes()


if __name__ == '__main__':
    unittest.main()
