"""Nova's order of operations on the dummy backend and on the hyperv backend
(WMI model), without Nova (test_nova has it with the real Nova; the ovs
backend is in tests/system/test_ovs_nova_order.py): the port is created for
an instance, bound to the host, the VM's NIC appears, the port goes ACTIVE;
at delete the NIC goes first, then the port. Afterwards the switch holds
nothing of the port and neither does the state the agent keeps beside it
(the dummy state file, the hyperv backend's intents)."""
import json
import os
import signal
import subprocess

import qhvtest
from test_agent_dummy import AGENT, QHVCTL, SERVER_CONF, Host
import test_agent_hyperv_model as hvm

PROJECT = 'order'
# (network type, cidr, port attributes): with the project's default group (a
# port's delete changes its members' address set), and without port
# security (nothing but the port itself changes).
CASES = (('vlan', '10.81.0.0/24', {}), ('nvgre', '10.82.0.0/24', {}),
         ('vlan', '10.83.0.0/24', {'port_security_enabled': False, 'security_groups': []}),
         ('nvgre', '10.84.0.0/24', {'port_security_enabled': False, 'security_groups': []}))


class HypervModelAgent:
    """A qhv-agent of host name on the hyperv backend over a WMI model in
    case.server's directory (a vSwitch 'external', the provider NIC at index
    13): wm(...) runs `qhvctl wmimodel MODEL ...`, intent is the backend's
    state file, stop() ends the agent."""

    def __init__(self, case, name, pa, version='10.0.14393'):
        d = case.server.dir
        self.case = case
        self.model = os.path.join(d, name + '-model.json')
        self.intent = os.path.join(d, name + '-intent.json')
        conf = os.path.join(d, name + '.conf')
        with open(conf, 'w') as f:
            f.write(hvm.AGENT_CONF.format(
                host=name, url='http://127.0.0.1:%d' % case.server.port,
                token=case.server.agent_token(name), pa=pa, model=self.model,
                state=self.intent, version=version))
        self.wm('switch', 'add', 'external')
        self.wm('netadapter', 'add', '13', 'Ethernet 2', '00155D000D01')
        self.log = open(os.path.join(d, name + '.log'), 'ab')
        self.proc = subprocess.Popen([AGENT, '--config-file', conf], stdout=self.log,
                                     stderr=self.log)

    def wm(self, *args):
        out = subprocess.run([QHVCTL, 'wmimodel', self.model] + list(args),
                             capture_output=True, text=True)
        self.case.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        self.log.close()


class NovaOrderTest(qhvtest.ServerTestCase):
    extra_conf = SERVER_CONF
    wait_timeout = 30.0
    tools = (AGENT, QHVCTL)

    def setUp(self):
        self.stops = []

    def tearDown(self):
        for stop in self.stops:
            stop()
        for a in self.get('/v2.0/agents')[1]['agents']:
            self.delete('/v2.0/agents/' + a['id'])

    def agent_log(self):
        with open(os.path.join(self.server.dir, self.log_name + '.log'), errors='replace') as f:
            return f.read()[-3000:]

    def status(self, pid):
        return self.get('/v2.0/ports/' + pid)[1]['port']['status']

    def network(self, name, ntype, cidr):
        attrs = {'name': name, 'project_id': PROJECT, 'provider:network_type': ntype}
        if ntype == 'vlan':
            attrs['provider:physical_network'] = 'physnet1'
        st, net = self.post('/v2.0/networks', {'network': attrs})
        self.assertEqual(st, 201, net)
        st, sub = self.post('/v2.0/subnets', {'subnet': {
            'network_id': net['network']['id'], 'cidr': cidr, 'ip_version': 4,
            'project_id': PROJECT}})
        self.assertEqual(st, 201, sub)
        return net['network']

    def nova_order(self, host, net, nic_add, nic_del, held, **attrs):
        """Creates, binds, plugs (ACTIVE), unplugs (DOWN), deletes; held()
        lists what the switch and the agent's state still have of a port id."""
        st, body = self.post('/v2.0/ports', {'port': {
            'network_id': net['id'], 'project_id': PROJECT, 'device_owner': 'compute:nova',
            'device_id': '5f0c1e2a-0000-4000-8000-000000000001', **attrs}})
        self.assertEqual(st, 201, body)
        pid = body['port']['id']
        st, body = self.put('/v2.0/ports/' + pid, {'port': {'binding:host_id': host}})
        self.assertEqual(st, 200, body)
        self.assertEqual(body['port']['status'], 'DOWN')
        nic_add(pid)
        self.wait_for('ACTIVE on %s (%s)' % (host, net['name']),
                      lambda: self.status(pid) == 'ACTIVE', self.agent_log)
        self.assertTrue(held(pid))
        self.assertTrue([h for h in held(pid) if h.startswith(('port/', 'intent:port/'))],
                        held(pid))
        nic_del(pid)
        self.wait_for('DOWN', lambda: self.status(pid) == 'DOWN')
        self.assertEqual(self.delete('/v2.0/ports/' + pid)[0], 204)
        self.wait_for('nothing of the port left', lambda: not held(pid),
                      lambda: json.dumps(held(pid)))

    def dummy(self, name):
        self.log_name = name
        h = Host(self, name, '192.168.79.1')
        h.ctl('counters')
        h.start()
        self.stops.append(h.stop)
        return h

    def test_dummy_vlan_and_nvgre(self):
        h = self.dummy('or-dummy')

        def held(pid):
            with open(h.state) as f:
                state = json.load(f)
            return [k for k in state['objects'] if pid in k] + \
                   [n for n in state['nics'] if n == pid]
        for ntype, cidr, attrs in CASES:
            net = self.network('or-d-' + cidr, ntype, cidr)
            self.nova_order('or-dummy', net, lambda p: h.ctl('nic', 'add', p),
                            lambda p: h.ctl('nic', 'del', p), held, **attrs)

    def hyperv(self, name):
        self.log_name = name
        a = HypervModelAgent(self, name, '192.168.79.2')
        self.stops.append(a.stop)

        def held(pid):
            with open(a.intent) as f:
                state = json.load(f)
            out = ['%s:%s' % (part, k) for part in ('intent', 'own')
                   for k in state.get(part, {}) if pid in k]
            for cls in ('Msvm_EthernetPortAllocationSettingData',
                        'MSFT_NetVirtualizationLookupRecordSettingData'):
                out += [cls for i in json.loads(a.wm('dump', cls))
                        if pid in (i.get('ElementName'), i.get('VMName'))]
            return out
        return a.wm, held

    def test_hyperv_vlan_and_nvgre(self):
        wm, held = self.hyperv('or-hv')
        for i, (ntype, cidr, attrs) in enumerate(CASES):
            net = self.network('or-h-' + cidr, ntype, cidr)
            self.nova_order('or-hv', net, lambda p: wm('nic', 'add', p, 'FA163E0008%02X' % i),
                            lambda p: wm('nic', 'del', p), held, **attrs)
