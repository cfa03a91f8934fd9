"""Events for Nova, server side (docs/nova.md): which port changes record
which events in the outbox (driven through the API and fake agents' reports
on the host channel), that the outbox survives kill -9 and a restart, that
it is bounded, and how the sender deals with a Nova that fails: 207 with
per-event 404/422, 404 for the whole batch, 500, no answer, a hang. The
real Nova (Debian's nova-api) is tested in test_nova.py; here a small HTTP
server stands in for Nova only to produce those faults."""
import http.server
import json
import os
import re
import signal
import subprocess
import threading
import time
import unittest
import uuid

import qhvtest

QHVCTL = os.environ.get('QHVCTL', os.path.join(
    os.path.dirname(__file__), '..', '..', 'build', 'src', 'qhvctl'))

HV_CONF = {'backend': 'dummy', 'vif_type': 'hyperv',
           'network_types': ['local', 'flat', 'vlan', 'nvgre', 'ip_rewrite'],
           'vswitch_mappings': ['physnet*:external'], 'port_filter': True}

AGENT_CONF = """
[agent]
auth_token = nova-test-secret
"""


NOVA_SCHEMA_CHECK = r"""
import json, sys, uuid
try:
    import jsonschema
    from nova.api.openstack.compute.schemas import server_external_events as s
except Exception:
    print('null')
    sys.exit(0)
checker = jsonschema.FormatChecker()
@checker.checks('uuid', raises=ValueError)
def is_uuid(v):
    uuid.UUID(v)
    return True
v = jsonschema.Draft4Validator(s.create, format_checker=checker)
print(json.dumps([e.message for b in json.load(sys.stdin) for e in v.iter_errors(b)]))
"""


def nova_schema_errors(bodies):
    """What Nova's own schema (python3-nova, in a separate process: importing
    nova monkey-patches threading) finds wrong in bodies; None without it."""
    out = subprocess.run(['/usr/bin/python3', '-c', NOVA_SCHEMA_CHECK], input=json.dumps(bodies),
                         capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise AssertionError('the schema check failed: ' + out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


class FakeNova:
    """POST /v2.1/os-server-external-events answered as told: 'ok' (200),
    'per_event' (codes by server_uuid in self.codes, 207 if any is not 200),
    an int (that status for the whole request), 'once401' (401, then 'ok'),
    or 'hang' (until released)."""

    def __init__(self):
        self.mode = 'ok'
        self.codes = {}
        self.requests = []          # (monotonic time, headers, body)
        self.lock = threading.Lock()
        self.release = threading.Event()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get('Content-Length', 0))
                body = json.loads(self.rfile.read(n))
                with fake.lock:
                    mode = fake.mode
                    fake.requests.append((time.monotonic(), dict(self.headers), body,
                                          self.path))
                if mode == 'hang':
                    fake.release.wait(120)
                    mode = 'ok'
                if mode == 'once401':           # a token Nova no longer takes
                    with fake.lock:
                        fake.mode = 'ok'
                    mode = 401
                status = 200
                out = []
                for ev in body['events']:
                    code = fake.codes.get(ev['server_uuid'], 200) if mode == 'per_event' else 200
                    out.append(dict(ev, code=code,
                                    status='completed' if code == 200 else 'failed'))
                    if code != 200:
                        status = 207
                if isinstance(mode, int):
                    status, data = mode, json.dumps({'itemNotFound': {
                        'code': mode, 'message': 'fake Nova says %d' % mode}}).encode()
                else:
                    data = json.dumps({'events': out}).encode()
                self.send_response(status)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self):
        return 'http://127.0.0.1:%d/v2.1' % self.port

    def events(self, tag=None):
        with self.lock:
            return [(t, ev) for t, h, b, p in self.requests for ev in b['events']
                    if tag is None or ev.get('tag') == tag]

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def nova_conf(url, interval=1, extra=''):
    return AGENT_CONF + """
[DEFAULT]
send_events_interval = %d
[nova]
auth_type = admin_token
token = admin:admin
endpoint_override = %s
retry_max_interval = 2
%s
""" % (interval, url, extra)


class NovaCase(qhvtest.ServerTestCase):
    wait_timeout = 60.0

    def agent(self, host):
        return qhvtest.Client(self.server.port,
                              {'X-Qhv-Agent-Token': self.server.agent_token(host)})

    def report(self, host, ports=None):
        body = {'agent': {'agent_type': 'HyperV agent', 'binary': 'qhv-agent',
                          'configurations': HV_CONF}}
        if ports is not None:
            body['ports'] = [{'id': p, 'status': s} for p, s in ports]
        st, out = self.agent(host).post('/channel/v1/hosts/%s/report' % host, body)
        self.assertEqual(st, 200, out)

    def net(self, cidr):
        net = self.make_network(name='nova-' + cidr)
        self.make_subnet(net['id'], cidr)
        return net

    def vm_port(self, net, host, vm=None, **attrs):
        """A port as Nova makes it: created for the instance, then bound."""
        vm = vm or str(uuid.uuid4())
        p = self.make_port(net['id'], device_id=vm, device_owner='compute:nova', **attrs)
        st, body = self.put('/v2.0/ports/' + p['id'], {'port': {'binding:host_id': host}})
        self.assertEqual(st, 200, body)
        return body['port']

    def outbox(self, limit=10000):
        st, body = self.get('/channel/v1/nova-events?limit=%d' % limit)
        self.assertEqual(st, 200, body)
        return body['nova_events']

    def pending(self, tag):
        return [(e['name'], e['status']) for e in self.outbox()['events'] if e['tag'] == tag]

    def counters(self):
        st, body = self.get('/channel/v1/status')
        self.assertEqual(st, 200, body)
        return body['nova_events']


class EventsRecorded(NovaCase):
    """Nova unreachable (nothing listens): every event stays in the outbox,
    where the test reads which ones each change recorded."""
    extra_conf = nova_conf('http://127.0.0.1:%d/v2.1' % qhvtest.free_port())

    def test_instance_port_lifecycle(self):
        net = self.net('10.81.0.0/24')
        self.report('nv-h1')
        vm = str(uuid.uuid4())
        p = self.vm_port(net, 'nv-h1', vm)
        self.assertEqual(p['binding:vif_type'], 'hyperv')
        self.assertEqual(self.pending(p['id']), [])        # created and bound: still DOWN
        self.report('nv-h1', [(p['id'], 'ACTIVE')])
        self.report('nv-h1', [(p['id'], 'ACTIVE')])         # no change: no second event
        st, body = self.put('/v2.0/ports/' + p['id'], {'port': {'fixed_ips': [
            {'subnet_id': p['fixed_ips'][0]['subnet_id'], 'ip_address': '10.81.0.77'}]}})
        self.assertEqual(st, 200, body)
        st, body = self.put('/v2.0/ports/' + p['id'], {'port': {'name': 'renamed'}})
        self.assertEqual(st, 200, body)                     # not an IP change: nothing
        self.report('nv-h1', [(p['id'], 'DOWN')])
        self.assertEqual(self.delete('/v2.0/ports/' + p['id'])[0], 204)
        self.assertEqual(self.pending(p['id']), [
            ('network-vif-plugged', 'completed'), ('network-changed', None),
            ('network-vif-unplugged', 'completed'), ('network-vif-deleted', None)])
        evs = [e for e in self.outbox()['events'] if e['tag'] == p['id']]
        self.assertEqual({e['server_uuid'] for e in evs}, {vm})
        self.assertEqual(evs, sorted(evs, key=lambda e: e['id']))

    def test_port_moved_to_another_host(self):
        net = self.net('10.88.0.0/24')
        self.report('nv-m1')
        self.report('nv-m2')
        p = self.vm_port(net, 'nv-m1')
        self.report('nv-m1', [(p['id'], 'ACTIVE')])
        # Nova moves it (resize, cold migration): DOWN until the new host has it.
        st, body = self.put('/v2.0/ports/' + p['id'], {'port': {'binding:host_id': 'nv-m2'}})
        self.assertEqual((st, body['port']['status']), (200, 'DOWN'))
        self.report('nv-m1', [(p['id'], 'ACTIVE')])         # the old host no longer speaks
        self.assertEqual(self.get('/v2.0/ports/' + p['id'])[1]['port']['status'], 'DOWN')
        self.report('nv-m2', [(p['id'], 'ACTIVE')])
        self.assertEqual(self.pending(p['id']), [
            ('network-vif-plugged', 'completed'), ('network-vif-unplugged', 'completed'),
            ('network-vif-plugged', 'completed')])

    def test_port_deleted_while_active(self):
        net = self.net('10.82.0.0/24')
        self.report('nv-h2')
        p = self.vm_port(net, 'nv-h2')
        self.report('nv-h2', [(p['id'], 'ACTIVE')])
        self.assertEqual(self.delete('/v2.0/ports/' + p['id'])[0], 204)
        # As Neutron: the delete says deleted; no unplugged of its own.
        self.assertEqual(self.pending(p['id']), [('network-vif-plugged', 'completed'),
                                                 ('network-vif-deleted', None)])

    def test_binding_failed(self):
        net = self.net('10.83.0.0/24')
        p = self.vm_port(net, 'nv-no-agent')
        self.assertEqual(p['binding:vif_type'], 'binding_failed')
        self.assertEqual(self.pending(p['id']), [('network-vif-plugged', 'failed')])

    def test_other_ports_give_nothing(self):
        net = self.net('10.84.0.0/24')
        self.report('nv-h3')
        ports = [
            self.make_port(net['id'], device_owner='network:dhcp', device_id='dhcp-x',
                           **{'binding:host_id': 'nv-h3'}),
            self.make_port(net['id'], device_owner='compute:nova', device_id='not-a-uuid',
                           **{'binding:host_id': 'nv-h3'}),
            self.make_port(net['id'], device_id=str(uuid.uuid4()),
                           **{'binding:host_id': 'nv-h3'}),
        ]
        ids = [p['id'] for p in ports]
        self.report('nv-h3', [(i, 'ACTIVE') for i in ids])
        self.report('nv-h3', [(i, 'DOWN') for i in ids])
        for i in ids:
            self.assertEqual(self.delete('/v2.0/ports/' + i)[0], 204)
            self.assertEqual(self.pending(i), [])

    def test_kept_and_retried_while_nova_is_unreachable(self):
        net = self.net('10.85.0.0/24')
        self.report('nv-h4')
        p = self.vm_port(net, 'nv-h4')
        self.report('nv-h4', [(p['id'], 'ACTIVE')])

        def tried_twice():
            evs = [e for e in self.outbox()['events'] if e['tag'] == p['id']]
            return evs and evs[0]['attempts'] >= 2 and evs[0]
        ev = self.wait_for('two failed attempts', tried_twice, self.server.read_log)
        self.assertIn('Nova unreachable', ev['last_error'])
        c = self.counters()
        self.assertTrue(c['enabled'])
        self.assertGreaterEqual(c['failed_attempts'], 2)
        self.assertGreaterEqual(c['pending'], 1)
        self.assertIn('Nova unreachable', c['last_error'])
        if os.access(QHVCTL, os.X_OK):
            out = subprocess.run([QHVCTL, '--url', 'http://127.0.0.1:%d' % self.server.port,
                                  'nova-events'], capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
            line = [l for l in out.stdout.splitlines() if p['id'] in l]
            self.assertEqual(len(line), 1, out.stdout)
            self.assertIn('network-vif-plugged', line[0])
            self.assertIn('Nova unreachable', line[0])
            self.assertRegex(out.stdout, r'pending [1-9]')

    def test_admin_only(self):
        st, body = self.client('proj-x').get('/channel/v1/nova-events')
        self.assertEqual(st, 403, body)
        self.assertEqual(self.get('/channel/v1/nova-events?limit=0')[0], 400)
        self.assertEqual(self.post('/channel/v1/nova-events', {})[0], 405)


class OptionsOff(NovaCase):
    extra_conf = nova_conf('http://127.0.0.1:%d/v2.1' % qhvtest.free_port()) + """
[DEFAULT]
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
"""

    def test_nothing_recorded(self):
        net = self.net('10.86.0.0/24')
        self.report('nv-off')
        p = self.vm_port(net, 'nv-off')
        self.report('nv-off', [(p['id'], 'ACTIVE')])
        self.report('nv-off', [(p['id'], 'DOWN')])
        self.assertEqual(self.delete('/v2.0/ports/' + p['id'])[0], 204)
        self.assertEqual(self.outbox()['pending'], 0)
        self.assertEqual(self.outbox()['events'], [])


class NotConfigured(NovaCase):
    extra_conf = AGENT_CONF

    def test_no_nova_no_outbox(self):
        net = self.net('10.87.0.0/24')
        self.report('nv-none')
        p = self.vm_port(net, 'nv-none')
        self.report('nv-none', [(p['id'], 'ACTIVE')])
        o = self.outbox()
        self.assertFalse(o['enabled'])
        self.assertEqual((o['pending'], o['events']), (0, []))
        self.assertIn('names no Nova', self.server.read_log())


class FakeNovaCase(NovaCase):
    """A server whose Nova is a FakeNova answering initial_mode at the
    start of each test."""
    interval = 1
    initial_mode = 'ok'

    @classmethod
    def setUpClass(cls):
        cls.nova = FakeNova()
        cls.nova.mode = cls.initial_mode
        cls.extra_conf = nova_conf(cls.nova.url(), cls.interval)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        cls.nova.release.set()
        try:
            super().tearDownClass()
        finally:
            cls.nova.close()

    def setUp(self):
        with self.nova.lock:
            self.nova.mode = self.initial_mode
        self.nova.release.clear()

    def delivered(self, tag, n=1):
        return self.wait_for('%d events for %s at Nova' % (n, tag),
                             lambda: len(self.nova.events(tag)) >= n and self.nova.events(tag),
                             self.server.read_log)


class NovaAnswers(FakeNovaCase):
    def test_accepted_and_removed(self):
        net = self.net('10.91.0.0/24')
        self.report('nf-h1')
        vm = str(uuid.uuid4())
        p = self.vm_port(net, 'nf-h1', vm)
        before = self.counters()['sent']
        self.report('nf-h1', [(p['id'], 'ACTIVE')])
        (t, ev), = self.delivered(p['id'])
        self.assertEqual(ev, {'name': 'network-vif-plugged', 'server_uuid': vm,
                              'tag': p['id'], 'status': 'completed'})
        self.wait_for('the outbox emptied', lambda: self.pending(p['id']) == [])
        self.wait_for('sent counted', lambda: self.counters()['sent'] >= before + 1)
        with self.nova.lock:
            req = [r for r in self.nova.requests if any(e.get('tag') == p['id']
                                                        for e in r[2]['events'])][0]
        headers, path = req[1], req[3]
        self.assertEqual(path, '/v2.1/os-server-external-events')
        self.assertEqual(headers.get('X-Auth-Token'), 'admin:admin')
        self.assertEqual(headers.get('OpenStack-API-Version'), 'compute 2.1')
        self.assertEqual(headers.get('Content-Type'), 'application/json')
        # Deleted: no status field (Nova defaults it to completed).
        self.assertEqual(self.delete('/v2.0/ports/' + p['id'])[0], 204)
        evs = self.delivered(p['id'], 2)
        self.assertEqual(evs[1][1], {'name': 'network-vif-deleted', 'server_uuid': vm,
                                     'tag': p['id']})
        with self.nova.lock:
            bodies = [r[2] for r in self.nova.requests]
        errors = nova_schema_errors(bodies)
        if errors is not None:
            self.assertEqual(errors, [], bodies)

    def test_207_per_event_codes(self):
        net = self.net('10.92.0.0/24')
        self.report('nf-h2')
        vms = [str(uuid.uuid4()) for _ in range(3)]
        ports = [self.vm_port(net, 'nf-h2', vm) for vm in vms]
        with self.nova.lock:
            self.nova.mode = 'per_event'
            self.nova.codes = {vms[0]: 404, vms[1]: 422}
        c0 = self.counters()
        # One report: three events in one transaction, so in one batch.
        self.report('nf-h2', [(p['id'], 'ACTIVE') for p in ports])
        for p in ports:
            self.delivered(p['id'])
        self.wait_for('the outbox emptied',
                      lambda: all(self.pending(p['id']) == [] for p in ports))
        c = self.wait_for('counters', lambda: (lambda c: c['rejected'] >= c0['rejected'] + 2
                                               and c['sent'] >= c0['sent'] + 1 and c)(
                                                   self.counters()))
        self.assertEqual(c['rejected'] - c0['rejected'], 2)
        self.assertEqual(c['sent'] - c0['sent'], 1)
        log = self.server.read_log()
        self.assertRegex(log, r'port %s: Nova answered 404 \(Nova knows no such instance\)'
                         % ports[0]['id'])
        self.assertRegex(log, r'port %s: Nova answered 422 \(the instance has no host yet\)'
                         % ports[1]['id'])
        self.assertIn('port %s: accepted by Nova' % ports[2]['id'], log)
        # Not sent again.
        with self.nova.lock:
            self.nova.mode = 'ok'
        self.assertEqual(len(self.nova.events(ports[0]['id'])), 1)

    def test_whole_404_ends_the_events(self):
        net = self.net('10.93.0.0/24')
        self.report('nf-h3')
        p = self.vm_port(net, 'nf-h3')
        with self.nova.lock:
            self.nova.mode = 404
        self.report('nf-h3', [(p['id'], 'ACTIVE')])
        self.delivered(p['id'])
        self.wait_for('the outbox emptied', lambda: self.pending(p['id']) == [])
        self.assertEqual(len(self.nova.events(p['id'])), 1)

    def test_500_is_retried_until_nova_answers(self):
        net = self.net('10.94.0.0/24')
        self.report('nf-h4')
        p = self.vm_port(net, 'nf-h4')
        with self.nova.lock:
            self.nova.mode = 500
        self.report('nf-h4', [(p['id'], 'ACTIVE')])
        self.delivered(p['id'], 2)                          # sent, refused, sent again
        ev = [e for e in self.outbox()['events'] if e['tag'] == p['id']]
        self.assertEqual(len(ev), 1)
        self.assertGreaterEqual(ev[0]['attempts'], 1)
        self.assertIn('Nova answered 500', ev[0]['last_error'])
        with self.nova.lock:
            self.nova.mode = 'ok'
        self.wait_for('delivered once Nova answers', lambda: self.pending(p['id']) == [],
                      self.server.read_log)
        self.assertIn('Nova answers again', self.server.read_log())

    def test_a_hanging_nova_does_not_hold_the_api(self):
        net = self.net('10.95.0.0/24')
        self.report('nf-h5')
        p = self.vm_port(net, 'nf-h5')
        with self.nova.lock:
            self.nova.mode = 'hang'
        self.report('nf-h5', [(p['id'], 'ACTIVE')])
        self.delivered(p['id'])                             # the sender is now stuck in it
        # Writes that record more events go on while Nova holds the sender.
        q = self.vm_port(net, 'nf-h5')
        self.report('nf-h5', [(q['id'], 'ACTIVE'), (p['id'], 'DOWN')])
        self.assertEqual(self.delete('/v2.0/ports/' + q['id'])[0], 204)
        self.assertEqual(self.pending(q['id']), [('network-vif-plugged', 'completed'),
                                                 ('network-vif-deleted', None)])
        self.nova.release.set()
        self.wait_for('the backlog delivered', lambda: self.pending(q['id']) == [] and
                      self.pending(p['id']) == [], self.server.read_log)


class Batching(FakeNovaCase):
    interval = 3

    def test_batches_are_send_events_interval_apart(self):
        net = self.net('10.96.0.0/24')
        self.report('nb-h1')
        a, b = self.vm_port(net, 'nb-h1'), self.vm_port(net, 'nb-h1')
        self.report('nb-h1', [(a['id'], 'ACTIVE')])
        (ta, _), = self.delivered(a['id'])
        self.report('nb-h1', [(b['id'], 'ACTIVE')])
        (tb, _), = self.delivered(b['id'])
        # Batches start the interval apart (a lower bound: a slow machine
        # only makes the gap longer; the margin is for the first request's
        # connection, which the second reuses).
        self.assertGreaterEqual(tb - ta, self.interval - 0.5)


class Bounded(NovaCase):
    extra_conf = nova_conf('http://127.0.0.1:%d/v2.1' % qhvtest.free_port(),
                           extra='max_pending_events = 3')

    def test_oldest_dropped_when_full(self):
        net = self.net('10.97.0.0/24')
        self.report('nx-h1')
        ports = [self.vm_port(net, 'nx-h1') for _ in range(5)]
        for p in ports:                                     # 5 events, one at a time
            self.report('nx-h1', [(p['id'], 'ACTIVE')])
        o = self.outbox()
        self.assertEqual(o['pending'], 3)
        self.assertEqual([e['tag'] for e in o['events']], [p['id'] for p in ports[2:]])
        self.assertEqual(o['dropped'], 2)
        log = self.server.read_log()
        self.assertEqual(len(re.findall(r'outbox full \(\[nova\] max_pending_events = 3', log)),
                         2, log[-3000:])
        self.assertIn(ports[0]['id'], log)


class SurvivesKill(FakeNovaCase):
    """kill -9 between the commit and Nova's answer: sent after restart."""
    initial_mode = 503

    def test_pending_events_sent_after_restart(self):
        net = self.net('10.98.0.0/24')
        self.report('nk-h1')
        ports = [self.vm_port(net, 'nk-h1') for _ in range(3)]
        self.report('nk-h1', [(p['id'], 'ACTIVE') for p in ports])
        self.assertEqual(self.delete('/v2.0/ports/' + ports[2]['id'])[0], 204)
        for p in ports:
            self.delivered(p['id'])                         # refused with 503: kept
        self.server.stop(signal.SIGKILL)
        with self.nova.lock:
            self.nova.mode = 'ok'
            n_before = len(self.nova.requests)
        self.server.start()
        self.wait_for('the backlog delivered after restart',
                      lambda: self.outbox()['pending'] == 0, self.server.read_log)
        with self.nova.lock:
            after = [ev for r in self.nova.requests[n_before:] for ev in r[2]['events']]
        got = [(e['tag'], e['name']) for e in after]
        self.assertEqual(got, [(ports[0]['id'], 'network-vif-plugged'),
                               (ports[1]['id'], 'network-vif-plugged'),
                               (ports[2]['id'], 'network-vif-plugged'),
                               (ports[2]['id'], 'network-vif-deleted')])


class ConfigErrors(unittest.TestCase):
    """A [nova] that names a Nova but cannot work stops the server at start."""

    def refused(self, extra):
        s = qhvtest.Server(extra)
        try:
            with self.assertRaises(RuntimeError) as cm:
                s.start()
            return str(cm.exception)
        finally:
            s.cleanup()

    def test_bad_nova_sections(self):
        cases = [
            ('[nova]\nendpoint_override = http://127.0.0.1:1/v2.1\n',
             'auth_type = password needs auth_url, username, password and project_name'),
            ('[nova]\nauth_type = admin_token\nendpoint_override = http://127.0.0.1:1/v2.1\n',
             'auth_type = admin_token needs token'),
            ('[nova]\nauth_type = none\nauth_url = http://127.0.0.1:1/v3\n',
             'auth_type = none needs endpoint_override'),
            ('[nova]\nauth_type = kerberos\n', "auth_type: 'kerberos' is not supported"),
            ('[nova]\nendpoint_type = publicURL\n', "endpoint_type: 'publicURL' is not"),
            ('[nova]\nauth_type = none\nendpoint_override = ftp://nova/v2.1\n',
             "'ftp://nova/v2.1' is not an http:// or https:// URL"),
        ]
        for extra, want in cases:
            with self.subTest(extra=extra):
                self.assertIn(want, self.refused(extra))


class Backlog(FakeNovaCase):
    """Events kept while Nova was away go in full batches back to back, not
    one batch per send_events_interval (here 600 s: the backlog would take
    20 minutes otherwise)."""
    interval = 600
    initial_mode = 503

    def test_backlog_in_full_batches(self):
        net = self.net('10.99.0.0/23')
        self.report('nl-h1')
        items = [{'network_id': net['id'], 'device_id': str(uuid.uuid4()),
                  'device_owner': 'compute:nova', 'binding:host_id': 'nl-h1'}
                 for _ in range(250)]
        st, body = self.post('/v2.0/ports', {'ports': items})
        self.assertEqual(st, 201, body)
        ids = [p['id'] for p in body['ports']]
        self.report('nl-h1', [(i, 'ACTIVE') for i in ids])      # 250 events, one commit
        self.wait_for('an attempt', lambda: self.nova.requests, self.server.read_log)
        self.assertEqual(self.outbox()['pending'], 250)
        with self.nova.lock:
            self.nova.mode = 'ok'
            n_before = len(self.nova.requests)
        self.wait_for('the backlog delivered', lambda: self.outbox()['pending'] == 0,
                      self.server.read_log, timeout=300)
        with self.nova.lock:
            sizes = [len(r[2]['events']) for r in self.nova.requests[n_before:]]
        self.assertEqual(sizes, [200, 50])
