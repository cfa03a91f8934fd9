"""Agents and qhvctl with several qhv-servers ([agent] server_url and
qhvctl --url take a comma-separated list; docs/host-channel.md "Several
servers"). The servers of a cluster share one database: here, one after the
other on one SQLite file (server B starts on A's file after A is killed).

- The agent's server dies (kill -9): it moves to the next URL, reports to
  it, resumes from the plan it holds (a full plan equal to what is applied:
  no switch operation), and what is changed through B reaches it.
- A first URL that refuses connections, or does not answer within the
  request's bound (a report's 15 s; a watch's wait + 15 s), or answers 503:
  the agent moves on.
- A bad list: the agent refuses to start, saying which item and why.
- qhvctl tries the URLs in order, says on stderr which it skipped; a 503
  moves on, any other answer is final.
- In keystone mode the agent's Keystone token serves the next server: no
  new login on a move."""
import http.server
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import unittest

import qhvtest
import test_agent_dummy
import test_keystone

AGENT, QHVCTL = test_agent_dummy.AGENT, test_agent_dummy.QHVCTL


class FakeServer:
    """An HTTP server on loopback whose answer(command, path) gives each
    request's (status, JSON body), or None to hold it unanswered until
    close(); requests are counted."""

    def __init__(self, answer):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def handle_one(self):
                owner.requests.append((self.command, self.path))
                length = int(self.headers.get('Content-Length') or 0)
                if length:
                    self.rfile.read(length)
                got = answer(self.command, self.path)
                if got is None:
                    owner.closing.wait(600)
                    return
                status, body = got[0], json.dumps(got[1]).encode()
                self.send_response(status)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = handle_one

            def log_message(self, *args):
                pass

        self.requests = []
        self.closing = threading.Event()
        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = 'http://127.0.0.1:%d' % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def fixed_answer(status):
    """A FakeServer answering every request with status (a qhv-server that
    lost its database answers 503)."""
    return FakeServer(lambda command, path: (status, {'NeutronError': {
        'type': 'ServiceUnavailable', 'message': 'fixed answer', 'detail': ''}}))


class FailoverCase(qhvtest.ServerTestCase):
    """Helpers; each test runs its own servers (setUpClass starts none).
    server_conf() is what every server of a test has besides its port and
    database; headers() what self.client(server) sends."""
    tools = (AGENT, QHVCTL)
    wait_timeout = 60.0     # a move may wait out a full round's backoff

    def server_conf(self):
        return test_agent_dummy.SERVER_CONF

    def headers(self):
        return {}

    def client(self, server):
        return qhvtest.Client(server.port, self.headers())

    @classmethod
    def setUpClass(cls):
        for tool in cls.tools:
            if not os.access(tool, os.X_OK):
                raise AssertionError('%s is not built (make builds it)' % tool)

    @classmethod
    def tearDownClass(cls):
        pass

    def setUp(self):
        self.agents, self.cleanups = [], []     # agents stop first; then last first
        self.server = self.start_server()
        self.admin = self.client(self.server)

    def tearDown(self):
        # Every one runs (no process left behind); the first failure is raised.
        failed = None
        for fn in self.agents + list(reversed(self.cleanups)):
            try:
                fn()
            except Exception as e:      # noqa: BLE001 (raised below)
                failed = failed or e
        if failed:
            raise failed

    def start_server(self, db_dir=None, port=None):
        """A qhv-server; db_dir: use that directory's database (the
        cluster's one database: its SQLite file, or on PostgreSQL its
        database); port: listen there."""
        s = qhvtest.Server(self.server_conf(), connection=(
            qhvtest.database_url(db_dir) if db_dir is not None else None))
        if port is not None:
            with open(s.conf) as f:
                text = f.read()
            text = text.replace('bind_port = %d' % s.port, 'bind_port = %d' % port)
            s.port = port
            with open(s.conf, 'w') as f:
                f.write(text)
        s.start()

        def stop():
            if s.proc is None:          # killed by the test
                s.cleanup()
                return
            rc = s.stop()
            log = s.read_log()
            s.cleanup()
            self.assertEqual(rc, 0, 'qhv-server exited with %s; log tail:\n%s' % (rc, log[-3000:]))
        self.cleanups.append(stop)
        return s

    def kill9(self, s):
        s.proc.kill()
        s.proc.wait()
        s.proc = None

    def agent(self, name, pa, urls, **kw):
        """A dummy-backend agent of host name with server_url = urls (kw:
        test_agent_dummy.Host's)."""
        h = test_agent_dummy.Host(self, name, pa, url=', '.join(urls), **kw)
        h.ctl('counters')   # creates the state file
        h.start()

        def stop():
            rc = h.stop()
            self.assertIn(rc, (0, -signal.SIGTERM), 'agent %s exited with %s; log:\n%s' % (
                name, rc, h.read_log()[-3000:]))
        self.agents.append(stop)
        return h

    def alive(self, client, host):
        st, body = client.get('/v2.0/agents?host=' + host)
        return st == 200 and any(a['alive'] for a in body['agents'])

    def host_status(self, client, host):
        st, body = client.get('/channel/v1/status')
        if st != 200:
            return None
        return next((h for h in body['hosts'] if h['host'] == host), None)

    def port_status(self, client, port_id):
        st, body = client.get('/v2.0/ports/' + port_id)
        return body['port']['status'] if st == 200 else None

    def bound_port(self, client, net_id, host):
        st, body = client.post('/v2.0/ports', {'port': {'network_id': net_id,
                                                        'binding:host_id': host}})
        self.assertEqual(st, 201, body)
        return body['port']

    def nvgre_net(self, client, name, cidr):
        st, body = client.post('/v2.0/networks', {'network': {
            'name': name, 'provider:network_type': 'nvgre'}})
        self.assertEqual(st, 201, body)
        net = body['network']
        st, body = client.post('/v2.0/subnets', {'subnet': {
            'network_id': net['id'], 'cidr': cidr, 'ip_version': 4}})
        self.assertEqual(st, 201, body)
        return net

    def dead_url(self):
        """A loopback URL where nothing listens (connections refused)."""
        return 'http://127.0.0.1:%d' % qhvtest.free_port()

    def kill_and_replace(self, a, b_port):
        """Kills a (-9) and starts its replacement on b_port and a's database."""
        self.kill9(a)
        return self.start_server(db_dir=a.dir, port=b_port)

    def wait_resumed(self, h, url):
        """The agent's line saying it uses the server at url now (a match)."""
        return self.wait_for('the agent on %s' % url, lambda: re.search(
            r'now using server %s: resuming from plan revision (-?\d+) \(applied (-?\d+)\)' %
            re.escape(url), h.read_log()), h.read_log)

    def wait_in_sync(self, client, host):
        self.wait_for('%s alive and in sync' % host, lambda: (
            lambda s: s and s['alive'] and s['in_sync'])(self.host_status(client, host)))


class FailoverTest(FailoverCase):

    def test_agent_moves_to_the_next_server_and_resumes(self):
        a = self.server
        b_port = qhvtest.free_port()        # B: not listening yet
        url_a, url_b = 'http://127.0.0.1:%d' % a.port, 'http://127.0.0.1:%d' % b_port
        h = self.agent('fo1', '192.168.70.1', [url_a, url_b])
        ca = self.client(a)
        self.wait_for('fo1 alive on A', lambda: self.alive(ca, 'fo1'), h.read_log)
        net = self.nvgre_net(ca, 'fo-nv', '10.70.0.0/24')
        p1 = self.bound_port(ca, net['id'], 'fo1')
        h.ctl('nic', 'add', p1['id'])
        self.wait_for('p1 ACTIVE', lambda: self.port_status(ca, p1['id']) == 'ACTIVE',
                      h.read_log)
        self.wait_for('fo1 in sync on A',
                      lambda: (self.host_status(ca, 'fo1') or {}).get('in_sync'), h.read_log)
        applied = self.host_status(ca, 'fo1')['applied_revision']
        objects, before = h.objects(), h.counters()
        self.assertIn('port/' + p1['id'], objects)

        # A dies without a word; B starts on the same database.
        b = self.kill_and_replace(a, b_port)
        cb = self.client(b)
        used = self.wait_resumed(h, url_b)
        # It watches B since what it applied: the plan it holds, all applied.
        self.assertEqual(used.group(1), used.group(2), used.group(0))
        self.assertGreaterEqual(int(used.group(2)), applied, used.group(0))
        # What noticed: the watch open on A, or a heartbeat then in flight.
        self.assertRegex(h.read_log(), r'(plan from|report to) %s: .*; moving to %s' % (
            re.escape(url_a), re.escape(url_b)))
        self.wait_in_sync(cb, 'fo1')
        # The first answer from B was a full plan (B never had this host's
        # feed): equal to what was applied, so nothing was done again.
        after = h.counters()
        self.assertEqual(after, before)
        self.assertEqual(h.objects(), objects)

        # Changes made through B reach the agent; its reports land on B.
        p2 = self.bound_port(cb, net['id'], 'fo1')
        h.ctl('nic', 'add', p2['id'])
        self.wait_for('p2 ACTIVE (via B)', lambda: self.port_status(cb, p2['id']) == 'ACTIVE',
                      h.read_log)
        self.assertIn('port/' + p2['id'], h.objects())
        self.assertGreater(h.counters()['creates'], before['creates'])
        h.ctl('nic', 'del', p1['id'])
        self.wait_for('p1 DOWN (via B)', lambda: self.port_status(cb, p1['id']) == 'DOWN',
                      h.read_log)
        self.assertEqual(cb.delete('/v2.0/ports/' + p2['id'])[0], 204)
        self.wait_for('p2 gone from the switch', lambda: 'port/' + p2['id'] not in h.objects(),
                      h.read_log)
        # The agent stays on B (no going back to the first URL).
        self.assertEqual(h.read_log().count('now using server'), 1, h.read_log())

    def test_first_url_refused_or_silent(self):
        # Refused: the next at once. Silent (a listener that never answers):
        # the next once the request's bound has passed (a report: 15 s).
        silent = socket.socket()
        silent.bind(('127.0.0.1', 0))
        silent.listen(16)
        self.cleanups.append(silent.close)
        url_silent = 'http://127.0.0.1:%d' % silent.getsockname()[1]
        url_dead, url_a = self.dead_url(), 'http://127.0.0.1:%d' % self.server.port
        h = self.agent('fo2', '192.168.70.2', [url_dead, url_silent, url_a])
        self.wait_for('fo2 alive on the third server', lambda: self.alive(self.admin, 'fo2'),
                      h.read_log)
        log = h.read_log()
        self.assertRegex(log, r'report to %s: .*; moving to %s' % (re.escape(url_dead),
                                                                   re.escape(url_silent)))
        self.assertRegex(log, r'report to %s: .*; moving to %s' % (re.escape(url_silent),
                                                                   re.escape(url_a)))
        self.assertIn('now using server %s' % url_a, log)
        # It works there: a port goes ACTIVE.
        net = self.nvgre_net(self.admin, 'fo-nv2', '10.71.0.0/24')
        p = self.bound_port(self.admin, net['id'], 'fo2')
        h.ctl('nic', 'add', p['id'])
        self.wait_for('p ACTIVE', lambda: self.port_status(self.admin, p['id']) == 'ACTIVE',
                      h.read_log)

    def test_watch_unanswered_past_its_wait(self):
        # A server that takes reports but holds the plan request: after the
        # watch's bound (poll_wait 5 s + 15 s) the agent moves on.
        hang = FakeServer(lambda command, path: None if command == 'GET' else (
            200, {'revision': 0, 'report_interval': 5}))
        self.cleanups.append(hang.close)
        url_a = 'http://127.0.0.1:%d' % self.server.port
        h = self.agent('fo4', '192.168.70.4', [hang.url, url_a])
        self.wait_resumed(h, url_a)
        self.assertRegex(h.read_log(), r'registered with %s as host fo4' % re.escape(hang.url))
        self.assertRegex(h.read_log(), r'plan from %s: .*(timed out|[Tt]imeout).*; moving to %s' % (
            re.escape(hang.url), re.escape(url_a)))
        self.assertIn(('GET', '/channel/v1/hosts/fo4/plan'), hang.requests)
        self.wait_in_sync(self.admin, 'fo4')

    def test_server_answering_503_is_left(self):
        busy = fixed_answer(503)
        self.cleanups.append(busy.close)
        url_a = 'http://127.0.0.1:%d' % self.server.port
        h = self.agent('fo3', '192.168.70.3', [busy.url, url_a])
        self.wait_for('fo3 alive on A', lambda: self.alive(self.admin, 'fo3'), h.read_log)
        self.assertRegex(h.read_log(), r'report to %s: HTTP 503: .*; moving to %s' % (
            re.escape(busy.url), re.escape(url_a)))
        self.assertTrue(busy.requests)
        self.wait_for('fo3 in sync on A',
                      lambda: (self.host_status(self.admin, 'fo3') or {}).get('in_sync'),
                      h.read_log)
        # Settled on A: the 503 server hears nothing more (heartbeats every 5 s).
        asked = len(busy.requests)

        def heartbeat():
            return self.get('/v2.0/agents?host=fo3')[1]['agents'][0]['heartbeat_timestamp']
        first = heartbeat()
        self.wait_for('a later heartbeat on A', lambda: heartbeat() != first, h.read_log)
        self.assertEqual(len(busy.requests), asked)

    def test_bad_list_refused_at_start(self):
        conf = os.path.join(self.server.dir, 'bad.conf')
        url_a = 'http://127.0.0.1:%d' % self.server.port
        for urls, message in (
                ('%s, ftp://qhv-b:9696' % url_a,
                 "[agent] server_url: item 2 ('ftp://qhv-b:9696') must start with http:// or "
                 "https://"),
                ('%s,,http://qhv-b:9696' % url_a,
                 '[agent] server_url: item 2 is empty (URLs are separated by single commas)'),
                ('%s, http://qhv-b:9696, %s/' % (url_a, url_a),
                 "[agent] server_url: item 3 ('%s/') repeats item 1 (list each server once)"
                 % url_a)):
            with open(conf, 'w') as f:
                f.write('[DEFAULT]\nhost = bad1\n[agent]\nserver_url = %s\n'
                        'auth_token = x\n' % urls)
            r = subprocess.run([AGENT, '--config-file', conf], capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn('qhv-agent: ' + message, r.stderr)
        self.assertFalse(self.alive(self.admin, 'bad1'))

    def qhvctl(self, url, *args, env=None):
        e = dict(os.environ)
        e.pop('QHV_URL', None)
        e.update(env or {})
        cmd = [QHVCTL] + (['--url', url] if url is not None else []) + list(args)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=e)

    def test_qhvctl_tries_the_servers_in_order(self):
        url_a, dead = 'http://127.0.0.1:%d' % self.server.port, self.dead_url()
        # The first answers: nothing said.
        r = self.qhvctl('%s,%s' % (url_a, dead), 'agents')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, '')
        self.assertIn('HOST', r.stdout)
        # Refused, then one that answers: it says which it skipped and used.
        r = self.qhvctl('%s, %s' % (dead, url_a), 'agents')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('HOST', r.stdout)
        self.assertRegex(r.stderr, r'^qhvctl: skipped %s \(.+\); used %s\n$' % (
            re.escape(dead), re.escape(url_a)))
        # The same from $QHV_URL.
        r = self.qhvctl(None, 'wait', '--timeout', '60', env={'QHV_URL': '%s,%s' % (dead, url_a)})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr.count('skipped'), 1, r.stderr)
        # 503 moves on.
        busy = fixed_answer(503)
        self.cleanups.append(busy.close)
        r = self.qhvctl('%s,%s' % (busy.url, url_a), 'agents')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('qhvctl: skipped %s (HTTP 503); used %s' % (busy.url, url_a), r.stderr)
        # Any other answer is final.
        gone = fixed_answer(404)
        self.cleanups.append(gone.close)
        r = self.qhvctl('%s,%s' % (gone.url, url_a), 'agents')
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn('HTTP 404', r.stderr)
        self.assertNotIn('skipped', r.stderr)
        # None answers: each failure said, exit 1.
        r = self.qhvctl('%s,%s' % (dead, busy.url), 'agents')
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn('no server answered: skipped %s (' % dead, r.stderr)
        self.assertIn('HTTP 503', r.stderr)
        # A bad list: refused before anything is sent.
        asked = len(busy.requests)
        r = self.qhvctl('%s,%s' % (busy.url, busy.url), 'agents')
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("qhvctl: --url: item 2 ('%s') repeats item 1 (list each server once)"
                      % busy.url, r.stderr)
        r = self.qhvctl(None, 'agents', env={'QHV_URL': '%s, qhv-b:9696' % url_a})
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("qhvctl: $QHV_URL: item 2 ('qhv-b:9696') must start with http:// or "
                      "https://", r.stderr)
        self.assertEqual(len(busy.requests), asked)



class KeystoneFailoverTest(FailoverCase):
    """Servers with auth_strategy = keystone and agents in keystone mode
    (test_keystone's Keystone; skipped only where it cannot be installed)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        test_keystone.setUpModule()
        cls.ks = test_keystone.KS

    @classmethod
    def tearDownClass(cls):
        test_keystone.tearDownModule()

    def server_conf(self):
        return test_keystone.server_conf() + test_keystone.AGENT_SERVER_CONF

    def headers(self):
        if not hasattr(self, 'admin_token'):
            self.admin_token = self.ks.token('admin')
        return {'X-Auth-Token': self.admin_token}

    def test_keystone_token_serves_the_next_server(self):
        a, b_port = self.server, qhvtest.free_port()
        url_a, url_b = 'http://127.0.0.1:%d' % a.port, 'http://127.0.0.1:%d' % b_port
        h = self.agent('kh1', '192.168.70.9', [url_a, url_b], keystone=True,
                       extra=test_keystone.agent_ks_conf('qhv-agent-kh1'))
        ca = self.client(a)
        self.wait_for('kh1 alive on A', lambda: self.alive(ca, 'kh1'), h.read_log)
        net = self.nvgre_net(ca, 'ks-fo', '10.72.0.0/24')
        p1 = self.bound_port(ca, net['id'], 'kh1')
        h.ctl('nic', 'add', p1['id'])
        self.wait_for('p1 ACTIVE', lambda: self.port_status(ca, p1['id']) == 'ACTIVE',
                      h.read_log)
        self.wait_in_sync(ca, 'kh1')
        before = h.counters()
        self.assertEqual(h.read_log().count('logged in to Keystone'), 1, h.read_log())
        b = self.kill_and_replace(a, b_port)
        cb = self.client(b)
        self.wait_resumed(h, url_b)
        self.wait_in_sync(cb, 'kh1')
        # B took the agent's reports with the token it had: no new login.
        self.assertRegex(b.read_log(), r'"POST /channel/v1/hosts/kh1/report" status: 200 '
                                       r'.*agent user qhv-agent-kh1')
        self.assertEqual(h.read_log().count('logged in to Keystone'), 1, h.read_log())
        self.assertEqual(h.counters(), before)
        p2 = self.bound_port(cb, net['id'], 'kh1')
        h.ctl('nic', 'add', p2['id'])
        self.wait_for('p2 ACTIVE (via B)', lambda: self.port_status(cb, p2['id']) == 'ACTIVE',
                      h.read_log)


if __name__ == '__main__':
    unittest.main()
