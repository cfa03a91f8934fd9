"""Network nodes on the dummy backend: real qhv-agent processes with
[dhcp] enabled record in their dummy switch what a network node would serve
(the plan's dhcp_networks and dhcp_hosts) and plug their DHCP ports, which
go ACTIVE like VM ports. Scheduling one and two nodes per network, the
network moving when its node dies (stopped agent) or is removed, and
extra_dhcp_opts reaching the node."""
import signal
import unittest

import qhvtest
from test_agent_dummy import AGENT, QHVCTL, Host

DHCP = '[dhcp]\nenabled = true\n'


class DhcpDummyCase(qhvtest.ServerTestCase):
    tools = (AGENT, QHVCTL)
    wait_timeout = 90.0

    def setUp(self):
        self.hosts = []

    def tearDown(self):
        for h in self.hosts:
            rc = h.stop()
            self.assertIn(rc, (0, -signal.SIGTERM), 'agent %s exited with %s' % (h.name, rc))

    def node(self, name, pa, dhcp=True):
        h = Host(self, name, pa, extra=DHCP if dhcp else '')
        h.ctl('counters')   # creates the state file
        self.hosts.append(h.start())
        self.wait_for('%s reporting' % name, lambda: self.agent_rows(name).get(
            'DHCP agent' if dhcp else 'HyperV agent', {}).get('alive'), h.read_log)
        return h

    def agent_rows(self, host):
        st, body = self.get('/v2.0/agents?host=' + host)
        return {a['agent_type']: a for a in body['agents']}

    def dhcp_ports(self, network_id):
        st, body = self.get('/v2.0/ports?network_id=%s&device_owner=network:dhcp' % network_id)
        return body['ports']

    def served(self, h):
        return h.dump().get('dhcp', {})

    def status(self, port_id):
        st, body = self.get('/v2.0/ports/' + port_id)
        return body['port']['status'] if st == 200 else None


class DhcpDummyTest(DhcpDummyCase):
    extra_conf = """
[agent]
auth_token = dummy-secret
report_interval = 1
agent_down_time = 15
"""

    def test_node_serves_moves_when_it_dies_and_when_removed(self):
        n1 = self.node('dn1', '192.168.61.1')
        hv = self.node('dhv', '192.168.61.9', dhcp=False)
        net = self.make_network(name='dd-net', **{'provider:network_type': 'nvgre'})
        sub = self.make_subnet(net['id'], '10.80.0.0/24')
        [dp] = self.dhcp_ports(net['id'])
        self.assertEqual(dp['binding:host_id'], 'dn1')
        vm = self.make_port(net['id'], extra_dhcp_opts=[{'opt_name': 'bootfile-name',
                                                         'opt_value': 'pxelinux.0'}],
                            **{'binding:host_id': 'dhv'})
        key = '%s/%s' % (net['id'], vm['id'])
        self.wait_for('dn1 serving the VM port',
                      lambda: key in self.served(n1).get('hosts', {}), n1.read_log)
        rec = self.served(n1)
        self.assertEqual(rec['plugged'], [dp['id']])
        entry = rec['networks'][net['id']]
        self.assertEqual((entry['port']['id'], entry['port']['fixed_ips'], entry['subnets'][0]['id']),
                         (dp['id'], dp['fixed_ips'], sub['id']))
        self.assertEqual(rec['hosts'][key]['extra_dhcp_opts'],
                         [{'opt_name': 'bootfile-name', 'opt_value': 'pxelinux.0',
                           'ip_version': 4}])
        # The DHCP port is plugged and wired like a VM port: ACTIVE.
        self.assertIn(dp['id'], n1.dump()['nics'])
        self.wait_for('DHCP port ACTIVE', lambda: self.status(dp['id']) == 'ACTIVE', n1.read_log)
        # What the node serves, as Neutron's DHCP agent reports it.
        self.wait_for('dn1 reporting its network', lambda: self.agent_rows('dn1')['DHCP agent']
                      ['configurations'].get('networks') == 1)
        # An option changed: the node has it at once.
        st, body = self.put('/v2.0/ports/' + vm['id'], {'port': {'extra_dhcp_opts': [
            {'opt_name': 'bootfile-name', 'opt_value': 'ipxe.efi'}]}})
        self.assertEqual(st, 200, body)
        self.wait_for('the new option served', lambda: self.served(n1)['hosts'][key]
                      ['extra_dhcp_opts'][0]['opt_value'] == 'ipxe.efi')
        # A second node; the first dies: the network moves, port and address kept.
        n2 = self.node('dn2', '192.168.61.2')
        self.assertEqual([p['binding:host_id'] for p in self.dhcp_ports(net['id'])], ['dn1'])
        n1.stop()
        self.wait_for('the network on dn2',
                      lambda: net['id'] in self.served(n2).get('networks', {}), n2.read_log)
        [moved] = self.dhcp_ports(net['id'])
        self.assertEqual((moved['id'], moved['fixed_ips'], moved['binding:host_id']),
                         (dp['id'], dp['fixed_ips'], 'dn2'))
        self.assertIn(key, self.served(n2)['hosts'])
        self.wait_for('DHCP port ACTIVE on dn2', lambda: self.status(dp['id']) == 'ACTIVE')
        # dn1 back: it serves nothing (dn2 has the network), and lets its
        # DHCP port go.
        n1.start()
        self.wait_for('dn1 alive again', lambda: self.agent_rows('dn1')['DHCP agent']['alive'])
        self.wait_for('dn1 serving nothing', lambda: self.served(n1).get('networks') == {},
                      n1.read_log)
        self.assertNotIn(dp['id'], n1.dump()['nics'])
        # dn2's DHCP agent removed: back to dn1.
        st, body = self.delete('/v2.0/agents/' + self.agent_rows('dn2')['DHCP agent']['id'])
        self.assertEqual(st, 204, body)
        self.wait_for('the network back on dn1',
                      lambda: net['id'] in self.served(n1).get('networks', {}), n1.read_log)
        self.wait_for('dn2 serving nothing', lambda: self.served(n2).get('networks') == {})
        self.assertEqual([p['binding:host_id'] for p in self.dhcp_ports(net['id'])], ['dn1'])


class DhcpDummyHaTest(DhcpDummyCase):
    extra_conf = """
[agent]
auth_token = dummy-secret
[DEFAULT]
dhcp_agents_per_network = 2
"""

    def test_two_nodes_serve_the_same_hosts(self):
        n1 = self.node('dha1', '192.168.62.1')
        n2 = self.node('dha2', '192.168.62.2')
        net = self.make_network(name='dd-ha', **{'provider:network_type': 'vlan',
                                                 'provider:physical_network': 'physnet1'})
        self.make_subnet(net['id'], '10.81.0.0/24')
        vm = self.make_port(net['id'])
        ports = self.dhcp_ports(net['id'])
        self.assertEqual(sorted(p['binding:host_id'] for p in ports), ['dha1', 'dha2'])
        key = '%s/%s' % (net['id'], vm['id'])
        for n in (n1, n2):
            self.wait_for('%s serving' % n.name,
                          lambda n=n: key in self.served(n).get('hosts', {}), n.read_log)
        a, b = self.served(n1), self.served(n2)
        self.assertEqual(a['hosts'], b['hosts'])
        self.assertNotEqual(a['networks'][net['id']]['port'], b['networks'][net['id']]['port'])
        # A subnet without DHCP is listed, the DHCP ports get no address there.
        self.make_subnet(net['id'], '10.82.0.0/24', enable_dhcp=False)
        self.wait_for('both see the new subnet', lambda: all(
            len(self.served(n)['networks'][net['id']]['subnets']) == 2 for n in (n1, n2)))
        for p in self.dhcp_ports(net['id']):
            self.assertEqual(len(p['fixed_ips']), 1)
        # The network deleted (its DHCP ports with it): nothing served.
        self.assertEqual(self.delete('/v2.0/ports/' + vm['id'])[0], 204)
        self.assertEqual(self.delete('/v2.0/networks/' + net['id'])[0], 204)
        for n in (n1, n2):
            self.wait_for('%s serving nothing' % n.name,
                          lambda n=n: self.served(n).get('networks') == {})


if __name__ == '__main__':
    unittest.main()
