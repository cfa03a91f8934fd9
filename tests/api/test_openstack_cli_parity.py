"""The real `openstack` CLI on what issue 15 added (its harness is
test_openstack_cli.py's): network availability zones and hints, stateless
security groups, rule protocols as Neutron takes them, a port's MAC changed
by an admin, ip-substring filtering, and segments as a one-segment network
shows them."""
import unittest

import qhvtest
from test_openstack_cli import OpenStackCliTest

CONF = """
[agent]
auth_token = cli-parity-secret
"""


class OpenStackCliParityTest(OpenStackCliTest):
    extra_conf = CONF

    def report(self, host, az):
        c = qhvtest.Client(self.server.port,
                           {'X-Qhv-Agent-Token': self.server.agent_token(host)})
        st, body = c.post('/channel/v1/hosts/%s/report' % host, {'agent': {
            'agent_type': 'HyperV agent', 'binary': 'qhv-agent', 'availability_zone': az,
            'configurations': {'vif_type': 'hyperv', 'network_types': ['vlan', 'nvgre']}}})
        self.assertEqual(st, 200, body)

    # Only this class's tests (the inherited ones run in test_openstack_cli).
    def test_extension_list(self):
        aliases = {e['Alias'] for e in self.js('extension', 'list', '--network')}
        self.assertTrue({'availability_zone', 'network_availability_zone', 'multi-provider',
                         'ip-substring-filtering', 'stateful-security-group'} <= aliases,
                        aliases)

    def test_availability_zones(self):
        self.report('cli-az1', 'cli-zone-a')
        self.report('cli-az2', 'cli-zone-b')
        zones = self.js('availability', 'zone', 'list', '--network')
        got = {(z['Zone Name'], z['Zone Status']) for z in zones}
        self.assertTrue({('cli-zone-a', 'available'), ('cli-zone-b', 'available')} <= got, zones)
        net = self.js('network', 'create', '--availability-zone-hint', 'cli-zone-b',
                      '--availability-zone-hint', 'cli-zone-a', 'cli-az-net')
        self.assertEqual(net['availability_zone_hints'], ['cli-zone-b', 'cli-zone-a'])
        self.assertEqual(net['availability_zones'], [])
        err = self.cli_error('network', 'create', '--availability-zone-hint', 'nowhere',
                             'cli-az-bad')
        self.assertIn('AvailabilityZone nowhere could not be found', err)
        # The zones of the hosts of its DHCP ports.
        self.cli('port', 'create', '--network', 'cli-az-net', '--device-owner', 'network:dhcp',
                 '--host', 'cli-az2', 'cli-az-dhcp')
        shown = self.js('network', 'show', 'cli-az-net')
        self.assertEqual(shown['availability_zones'], ['cli-zone-b'])

    def test_stateless_security_group_and_protocols(self):
        g = self.js('security', 'group', 'create', '--stateless', 'cli-stateless')
        self.assertIs(g['stateful'], False)
        self.assertIs(self.js('security', 'group', 'show', g['id'])['stateful'], False)
        self.cli('security', 'group', 'set', '--stateful', g['id'])
        self.assertIs(self.js('security', 'group', 'show', g['id'])['stateful'], True)
        r = self.js('security', 'group', 'rule', 'create', '--protocol', 'icmp', '--ethertype',
                    'IPv6', g['id'])
        self.assertEqual(r['protocol'], 'ipv6-icmp')
        r = self.js('security', 'group', 'rule', 'create', '--protocol', 'egp', g['id'])
        self.assertEqual(r['protocol'], 'egp')
        err = self.cli_error('security', 'group', 'rule', 'create', '--protocol', 'ipv6-route',
                             '--ethertype', 'IPv4', g['id'])
        self.assertIn('Invalid ethertype IPv4 for protocol ipv6-route', err)

    def test_mac_address_update_and_ip_substring(self):
        self.cli('network', 'create', 'cli-mac-net')
        self.cli('subnet', 'create', '--network', 'cli-mac-net', '--subnet-range',
                 '10.76.0.0/24', 'cli-mac-v4')
        p1 = self.js('port', 'create', '--network', 'cli-mac-net', '--fixed-ip',
                     'ip-address=10.76.0.123', 'cli-mac-p1')
        p2 = self.js('port', 'create', '--network', 'cli-mac-net', '--fixed-ip',
                     'ip-address=10.76.0.45', 'cli-mac-p2')
        self.cli('port', 'set', '--mac-address', 'fa:16:3e:76:00:01', 'cli-mac-p1')
        self.assertEqual(self.js('port', 'show', p1['id'])['mac_address'], 'fa:16:3e:76:00:01')
        err = self.cli_error('port', 'set', '--mac-address', 'fa:16:3e:76:00:01', 'cli-mac-p2')
        self.assertIn('fa:16:3e:76:00:01 is in use', err)
        rows = self.js('port', 'list', '--network', 'cli-mac-net', '--fixed-ip',
                       'ip-substring=.12')
        self.assertEqual(self.ids(rows), [p1['id']])
        rows = self.js('port', 'list', '--network', 'cli-mac-net', '--fixed-ip',
                       'subnet=cli-mac-v4,ip-substring=0.4')
        self.assertEqual(self.ids(rows), [p2['id']])

    def test_one_segment_network(self):
        net = self.js('network', 'create', '--provider-network-type', 'vlan',
                      '--provider-physical-network', 'physnet1', '--provider-segment', '2345',
                      'cli-seg-net')
        self.assertEqual(net['provider:segmentation_id'], 2345)
        self.assertIsNone(net.get('segments'))


# The inherited lifecycle tests run in test_openstack_cli; not twice.
for _name in [n for n in vars(OpenStackCliTest) if n.startswith('test_')]:
    if _name not in vars(OpenStackCliParityTest):
        setattr(OpenStackCliParityTest, _name, None)
del OpenStackCliTest

if __name__ == '__main__':
    unittest.main()
