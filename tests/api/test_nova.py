"""qhv-server tells the real Nova what Neutron tells it (docs/nova.md):
Debian's nova-api 26 on SQLite with transport_url = fake://, behind the real
Keystone of keystone_fixture, with instances created through Nova's own
objects (nova_fixture). qhv-server finds Nova in Keystone's catalogue and
logs in as Nova's service user; nothing boots, but every event must be
accepted by Nova: its per-event code 200 (seen by the relay in front of
nova-api) and its own log line "Creating event NAME:TAG for instance UUID".

- Nova's order on the dummy backend and on the hyperv backend (WMI model):
  the port is created with device_id and device_owner compute:nova, bound
  to the host, the VM's NIC appears on the agent's switch, the port goes
  ACTIVE and Nova gets network-vif-plugged (completed), not before the NIC;
  an IP change gives network-changed, the NIC going network-vif-unplugged,
  the delete network-vif-deleted.
- An instance without a host (422) and an unknown instance (404) are
  answered per event, counted as rejected and not retried.
- Nova down, then up: the backlog is delivered. qhv-server killed (-9) with
  events committed but not sent: delivered after its restart.

Skipped only if Nova or Keystone cannot be installed on this machine;
installable but not installed is a failure (`make check` installs them).
"""
import json
import signal
import subprocess
import threading
import time
import unittest
import uuid

import keystone_fixture
import nova_fixture
import qhvtest
from test_agent_dummy import AGENT, QHVCTL, SERVER_CONF, Host
from test_agent_nova_order import HypervModelAgent

KS = NOVA = None
INSTANCES = []          # instance uuids with a host, one per scenario
HOSTLESS = None         # an instance Nova has not scheduled yet
PROJECT = 'nova-tests'
PLUGGED, UNPLUGGED = 'network-vif-plugged', 'network-vif-unplugged'
DELETED, CHANGED = 'network-vif-deleted', 'network-changed'


def setUpModule():
    global KS, NOVA, HOSTLESS
    KS = keystone_fixture.Keystone()        # SkipTest only if not installable
    try:
        NOVA = nova_fixture.Nova()
        failed = []

        def keystone():
            try:
                KS.start()
                KS.create_identities()
            except BaseException as e:      # re-raised below
                failed.append(e)
        t = threading.Thread(target=keystone)
        t.start()
        NOVA.prepare()                      # meanwhile: Nova's databases,
        while KS.port is None and t.is_alive():
            time.sleep(0.05)
        if KS.port is not None:             # nova-api and the instances too
            NOVA.configure(KS)
            INSTANCES.extend(str(uuid.uuid4()) for _ in range(8))
            HOSTLESS = str(uuid.uuid4())
            rows = [(i, PROJECT, nova_fixture.HOST) for i in INSTANCES] + \
                [(HOSTLESS, PROJECT, '')]
            mk = threading.Thread(target=_make_instances, args=(rows, failed))
            mk.start()
            NOVA.start()
            mk.join()
        t.join()
        if failed:
            raise failed[0]
        NOVA.register(KS)
    except BaseException:
        if NOVA:
            NOVA.cleanup()
        KS.cleanup()
        raise


def _make_instances(rows, failed):
    try:
        NOVA.make_instances(rows)
    except BaseException as e:
        failed.append(e)


def tearDownModule():
    if NOVA:
        NOVA.cleanup()
    if KS:
        KS.cleanup()


class NovaEventsTest(qhvtest.ServerTestCase):
    wait_timeout = 60.0
    tools = (AGENT, QHVCTL)

    @classmethod
    def setUpClass(cls):
        cls.extra_conf = SERVER_CONF + NOVA.qhv_conf(send_events_interval=1,
                                                          retry_max_interval=2)
        super().setUpClass()
        cls.net = cls._net()

    @classmethod
    def _net(cls):
        st, body = cls.admin.post('/v2.0/networks', {'network': {
            'name': 'nova-net', 'project_id': PROJECT, 'provider:network_type': 'vlan',
            'provider:physical_network': 'physnet1'}})
        assert st == 201, body
        st, sub = cls.admin.post('/v2.0/subnets', {'subnet': {
            'network_id': body['network']['id'], 'cidr': '10.77.0.0/24', 'ip_version': 4,
            'project_id': PROJECT}})
        assert st == 201, sub
        return body['network']

    def setUp(self):
        self.hosts = []
        self.stops = []

    def tearDown(self):
        for h in self.hosts:
            h.stop()
        for stop in self.stops:
            stop()
        agents = self.get('/v2.0/agents')[1]['agents']
        for a in agents:
            self.delete('/v2.0/agents/' + a['id'])

    # ---------- helpers ----------

    def detail(self):
        return ('qhv-server log:\n%s\nnova events: %s\nnova log:\n%s' % (
            self.server.read_log()[-3000:], json.dumps(NOVA.relay.events())[-2000:],
            NOVA.read_log()[-2000:]))

    def dummy_host(self, name):
        h = Host(self, name, '192.168.77.%d' % (len(self.hosts) + 1))
        h.ctl('counters')
        self.hosts.append(h.start())
        self.wait_agent(name)
        return h

    def wait_agent(self, host):
        """Nova schedules to a host whose agent is alive (a port bound
        before is binding_failed, and Nova would get a failed event)."""
        self.wait_for('the agent of %s' % host, lambda: [
            a for a in self.get('/v2.0/agents?host=' + host)[1]['agents'] if a['alive']])

    def hyperv_host(self, name):
        """A hyperv agent on the WMI model; returns its wmimodel function."""
        a = HypervModelAgent(self, name, '192.168.78.1')
        self.stops.append(a.stop)
        self.wait_agent(name)
        return a.wm

    def status(self, port_id):
        st, body = self.get('/v2.0/ports/' + port_id)
        return body['port']['status'] if st == 200 else None

    def events(self, tag, name=None):
        return [e for e in NOVA.relay.events()
                if e.get('tag') == tag and (name is None or e['name'] == name)]

    def wait_event(self, tag, name, code=200, status='completed'):
        """The event Nova was sent for tag, once it has answered; checks what
        was sent and Nova's answer."""
        ev = self.wait_for('%s:%s at Nova' % (name, tag), lambda: self.events(tag, name),
                           self.detail)[-1]
        if status is None:
            self.assertNotIn('status', ev)
        else:
            self.assertEqual(ev.get('status'), status, ev)
        self.assertEqual(ev['code'], code, ev)
        self.assertTrue(ev['token'], ev)      # a Keystone token of Nova's service user
        if code == 200:
            self.assertTrue(NOVA.accepted(name, tag, ev['server_uuid']),
                            'Nova did not log the event %s:%s' % (name, tag))
        return ev

    def nova_port(self, instance, host):
        """As Nova does: create the port for the instance, then bind it."""
        st, body = self.post('/v2.0/ports', {'port': {
            'network_id': self.net['id'], 'project_id': PROJECT, 'device_id': instance,
            'device_owner': 'compute:nova'}})
        self.assertEqual(st, 201, body)
        port = body['port']
        st, body = self.put('/v2.0/ports/' + port['id'], {'port': {'binding:host_id': host}})
        self.assertEqual(st, 200, body)
        self.assertEqual(body['port']['status'], 'DOWN')
        return body['port']

    def outbox(self):
        out = subprocess.run([QHVCTL, '--url', 'http://127.0.0.1:%d' % self.server.port,
                              'nova-events'], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout

    def counters(self):
        st, body = self.get('/channel/v1/status')
        self.assertEqual(st, 200, body)
        return body['nova_events']

    # ---------- Nova's order of operations ----------

    def lifecycle(self, instance, host, nic_add, nic_del):
        port = self.nova_port(instance, host)
        pid = port['id']
        # Bound, no NIC yet: DOWN, and Nova hears nothing (it waits).
        self.assertNotEqual(port['binding:vif_type'], 'binding_failed')
        self.assertEqual(self.status(pid), 'DOWN')
        self.assertEqual(self.events(pid), [])
        t_nic = time.time()
        nic_add(pid)
        self.wait_for('ACTIVE', lambda: self.status(pid) == 'ACTIVE', self.detail)
        ev = self.wait_event(pid, PLUGGED)
        self.assertEqual(ev['server_uuid'], instance)
        self.assertGreaterEqual(ev['t'], t_nic)
        self.assertEqual(len(self.events(pid, PLUGGED)), 1)
        # The IP changes: network-changed.
        ip = port['fixed_ips'][0]['ip_address']
        new_ip = ip.rsplit('.', 1)[0] + '.%d' % (200 + INSTANCES.index(instance))
        st, body = self.put('/v2.0/ports/' + pid, {'port': {'fixed_ips': [
            {'subnet_id': port['fixed_ips'][0]['subnet_id'], 'ip_address': new_ip}]}})
        self.assertEqual(st, 200, body)
        self.wait_event(pid, CHANGED, status=None)
        # Nova's delete: the NIC goes (unplugged), then the port (deleted).
        nic_del(pid)
        self.wait_for('DOWN', lambda: self.status(pid) == 'DOWN', self.detail)
        self.wait_event(pid, UNPLUGGED)
        self.assertEqual(self.delete('/v2.0/ports/' + pid)[0], 204)
        self.wait_event(pid, DELETED, status=None)
        names = [e['name'] for e in self.events(pid)]
        self.assertEqual(names, [PLUGGED, CHANGED, UNPLUGGED, DELETED])
        return pid

    def test_dummy_backend_lifecycle(self):
        h = self.dummy_host('nv-dummy')
        pid = self.lifecycle(INSTANCES[0], 'nv-dummy', lambda p: h.ctl('nic', 'add', p),
                             lambda p: h.ctl('nic', 'del', p))
        self.wait_for('the switch forgets the port', lambda: not any(
            pid in k for k in h.objects()))

    def test_hyperv_model_lifecycle(self):
        wm = self.hyperv_host('nv-hyperv')
        pid = self.lifecycle(INSTANCES[1], 'nv-hyperv',
                             lambda p: wm('nic', 'add', p, 'FA163E0007%02X' % 1),
                             lambda p: wm('nic', 'del', p))
        ports = json.loads(wm('dump', 'Msvm_EthernetPortAllocationSettingData'))
        self.assertFalse([p for p in ports if p.get('ElementName') == pid])

    # ---------- Nova's answers ----------

    def test_hostless_and_unknown_instances_are_answered_per_event(self):
        h = self.dummy_host('nv-rej')
        before = self.counters()
        unknown = str(uuid.uuid4())
        p1 = self.nova_port(HOSTLESS, 'nv-rej')
        p2 = self.nova_port(unknown, 'nv-rej')
        h.ctl('nic', 'add', p1['id'])
        h.ctl('nic', 'add', p2['id'])
        self.wait_event(p1['id'], PLUGGED, code=422)
        self.wait_event(p2['id'], PLUGGED, code=404)
        self.wait_for('rejected counted', lambda: self.counters()['rejected'] >=
                      before['rejected'] + 2, self.detail)
        # Answered: not retried (the outbox holds nothing of theirs).
        self.wait_for('outbox empty', lambda: self.counters()['pending'] == 0, self.detail)
        self.assertEqual(len(self.events(p1['id'])), 1)
        self.assertEqual(len(self.events(p2['id'])), 1)
        for p in (p1, p2):
            self.assertEqual(self.delete('/v2.0/ports/' + p['id'])[0], 204)

    # ---------- never lost ----------

    def test_nova_down_then_up_delivers_the_backlog(self):
        h = self.dummy_host('nv-down')
        NOVA.stop()
        try:
            ports = [self.nova_port(INSTANCES[2 + i], 'nv-down') for i in range(2)]
            t0 = time.time()
            for p in ports:
                h.ctl('nic', 'add', p['id'])
            for p in ports:
                self.wait_for('ACTIVE', lambda p=p: self.status(p['id']) == 'ACTIVE',
                              self.detail)
            # The API does not wait for Nova.
            st, _ = self.get('/v2.0/ports')
            self.assertEqual(st, 200)
            self.wait_for('pending events', lambda: self.counters()['pending'] >= 2,
                          self.detail)
            out = self.wait_for('the outbox says why', lambda: (
                lambda o: o if ports[0]['id'] in o and PLUGGED in o else None)(self.outbox()))
            self.assertIn(ports[1]['id'], out)
            # Nothing reached Nova: it was down.
            self.assertEqual([e for p in ports for e in self.events(p['id'])], [])
        finally:
            NOVA.start()
        for p in ports:
            ev = self.wait_event(p['id'], PLUGGED)
            self.assertGreater(ev['t'], t0)
        self.wait_for('outbox empty', lambda: self.counters()['pending'] == 0, self.detail)
        for p in ports:
            self.assertEqual(len(self.events(p['id'], PLUGGED)), 1)

    def test_kill_between_commit_and_send_delivers_after_restart(self):
        h = self.dummy_host('nv-kill')
        port = self.nova_port(INSTANCES[4], 'nv-kill')
        pid = port['id']
        # Nova unreachable: the event is committed with the port's ACTIVE
        # status and cannot be sent; the server then dies without a word.
        NOVA.stop()
        try:
            h.ctl('nic', 'add', pid)
            self.wait_for('ACTIVE', lambda: self.status(pid) == 'ACTIVE', self.detail)
            self.wait_for('pending', lambda: self.counters()['pending'] >= 1, self.detail)
            self.assertEqual(self.server.stop(signal.SIGKILL), -signal.SIGKILL)
            self.server.start()
            self.wait_for('still pending after the restart',
                          lambda: pid in self.outbox(), self.detail)
            self.assertEqual(self.events(pid), [])
        finally:
            NOVA.start()
        self.wait_event(pid, PLUGGED)
        self.wait_for('outbox empty', lambda: self.counters()['pending'] == 0, self.detail)
        self.assertEqual(len(self.events(pid, PLUGGED)), 1)
        # The agent found the restarted server: the port stays ACTIVE, no
        # second plugged event.
        h.ctl('nic', 'del', pid)
        self.wait_event(pid, UNPLUGGED)
        self.assertEqual(len(self.events(pid, PLUGGED)), 1)


if __name__ == '__main__':
    unittest.main()
