"""Nova's order of operations on the ovs backend, with real Open vSwitch in
a namespace (netlab.py): the port is created for an instance, then bound to
the host, then the VM's interface is plugged (os-vif), the port goes ACTIVE;
at delete Nova unplugs the interface first and deletes the port after. The
agent must then have removed everything the port had: no flow of the port
left on br-int (its MAC, its ofport), nothing of it in the backend's state
file, and a new interface that gets the same ofport inherits nothing."""
import json
import re
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'api'))
import qhvtest  # noqa: E402
import netlab  # noqa: E402

BUILD = os.path.dirname(qhvtest.SERVER)
AGENT = os.environ.get('QHV_AGENT', os.path.join(BUILD, 'qhv-agent'))

SERVER_CONF = """
[agent]
auth_token = system-secret
report_interval = 5
"""

WHY_NOT = netlab.missing()


@unittest.skipIf(WHY_NOT, 'system tests skipped: %s' % WHY_NOT)
class OvsNovaOrderTest(qhvtest.ServerTestCase):
    extra_conf = SERVER_CONF
    wait_timeout = 60.0

    @classmethod
    def setUpClass(cls):
        if not os.access(AGENT, os.X_OK):
            raise AssertionError('%s is not built' % AGENT)
        super().setUpClass()
        cls.lab = netlab.Lab()
        try:
            cls.h = cls.lab.add_host('h1', 1)
            cls.h.conf = cls.h.agent_conf('http://127.0.0.1:%d' % cls.server.port,
                                          cls.server.agent_token('h1'))
            cls.h.start_agent(AGENT, cls.h.conf)
        except BaseException:
            cls.lab.close()
            super().tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        rc = cls.h.stop_agent()
        log = cls.h.read_agent_log()
        cls.lab.close()
        super().tearDownClass()
        if rc not in (0, -15):
            raise AssertionError('agent exited with %s:\n%s' % (rc, log[-3000:]))

    def api(self, method, path, body=None):
        st, out = self.admin.request(method, path, body)
        self.assertLess(st, 300, out)
        return out

    def status(self, pid):
        return self.api('GET', '/v2.0/ports/' + pid)['port']['status']

    def state(self):
        """The ovs backend's objects (its state file beside OVS)."""
        try:
            with open(os.path.join(self.h.run_dir, 'qhv-br-int.json')) as f:
                return json.load(f)
        except FileNotFoundError:
            return {}

    def detail(self):
        return 'agent log:\n%s\nflows:\n%s' % (self.h.read_agent_log()[-3000:],
                                               '\n'.join(self.h.flows()))

    def port_flows(self, mac, ofport):
        """The flows that name the port's MAC or steer to or from its ofport."""
        pat = re.compile(r'(in_port=%d|reg[67]=0x%x|output:%d|set_field:%d->reg[67])\b'
                         % (ofport, ofport, ofport, ofport))
        return [f for f in self.h.flows() if mac in f or pat.search(f)]

    def vlan_net(self, name, vlan):
        net = self.api('POST', '/v2.0/networks', {'network': {
            'name': name, 'project_id': 'nova-order', 'provider:network_type': 'vlan',
            'provider:physical_network': 'physnet1', 'provider:segmentation_id': vlan}})['network']
        self.api('POST', '/v2.0/subnets', {'subnet': {
            'network_id': net['id'], 'cidr': '10.61.0.0/24', 'ip_version': 4,
            'project_id': 'nova-order'}})
        return net

    def nova_boot(self, name, net, ip):
        """Nova's order: create, bind, plug; returns the VM once ACTIVE."""
        port = self.api('POST', '/v2.0/ports', {'port': {
            'network_id': net['id'], 'project_id': 'nova-order', 'name': name,
            'device_owner': 'compute:nova', 'device_id': '8b1c6d4e-0000-4000-8000-%012d' % ip,
            'fixed_ips': [{'ip_address': '10.61.0.%d' % ip}]}})['port']
        port = self.api('PUT', '/v2.0/ports/' + port['id'],
                        {'port': {'binding:host_id': 'h1'}})['port']
        self.assertEqual(port['status'], 'DOWN')
        vm = self.lab.add_vm(name, self.h, port, 24)
        self.wait_for('%s ACTIVE' % name, lambda: self.status(port['id']) == 'ACTIVE',
                      self.detail)
        return vm

    def ofport(self, vm):
        return int(self.h.vsctl('get', 'Interface', vm.tap, 'ofport').strip())

    def test_nic_first_then_port_delete_leaves_nothing(self):
        net = self.vlan_net('order-vlan', 161)
        keep = self.nova_boot('ok1', net, 11)
        gone = self.nova_boot('ok2', net, 12)
        pid, mac, ofport = gone.port['id'], gone.mac, self.ofport(gone)
        self.wait_for('flows of the port', lambda: self.port_flows(mac, ofport), self.detail)
        self.assertTrue(keep.reaches(gone.ip), self.detail())
        # Nova deletes the VM: the interface goes first (os-vif unplug) ...
        self.h.vsctl('--if-exists', 'del-port', 'br-int', gone.tap)
        self.wait_for('DOWN', lambda: self.status(pid) == 'DOWN', self.detail)
        # ... then the port.
        self.api('DELETE', '/v2.0/ports/' + pid)
        self.wait_for('the port\'s flows removed',
                      lambda: not self.port_flows(mac, ofport), self.detail)
        self.wait_for('the backend forgets the port',
                      lambda: not [k for k in self.state() if pid in k],
                      lambda: json.dumps(self.state(), indent=1)[-3000:])
        # The other VM is untouched.
        self.assertEqual(self.status(keep.port['id']), 'ACTIVE')
        self.assertIn(keep.mac, '\n'.join(self.h.flows()))

    def test_nic_gone_takes_its_flows_while_the_port_stays(self):
        net = self.vlan_net('order-vlan2', 162)
        vm = self.nova_boot('mv1', net, 21)
        pid, mac, ofport = vm.port['id'], vm.mac, self.ofport(vm)
        self.wait_for('flows of the port', lambda: self.port_flows(mac, ofport), self.detail)
        # The VM leaves the host (a migration, a shutdown): its ofport may be
        # reused, so nothing may stay steered to it.
        self.h.vsctl('--if-exists', 'del-port', 'br-int', vm.tap)
        self.wait_for('DOWN', lambda: self.status(pid) == 'DOWN', self.detail)
        self.wait_for('the port\'s flows removed',
                      lambda: not self.port_flows(mac, ofport), self.detail)
        self.assertFalse([k for k in self.state() if pid in k], self.state())
        # It comes back: ACTIVE again, flows again.
        self.h.vsctl('add-port', 'br-int', vm.tap, '--', 'set', 'interface', vm.tap,
                     'external_ids:iface-id=%s' % pid, 'external_ids:attached-mac=%s' % mac)
        self.wait_for('ACTIVE again', lambda: self.status(pid) == 'ACTIVE', self.detail)
        self.wait_for('flows again', lambda: self.port_flows(mac, self.ofport(vm)), self.detail)
        self.api('DELETE', '/v2.0/ports/' + pid)


if __name__ == '__main__':
    unittest.main()
