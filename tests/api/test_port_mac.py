"""An admin changes a port's MAC address (Neutron's update_port:mac_address):
refused where ML2 refuses it (bound ports, network devices, a MAC in use, a
non-admin), the EUI-64 addresses follow the new MAC, and so do the agents:
the port's switch object on its host and the lookup records on the others."""
import unittest

import qhvtest
from test_agent_dummy import AGENT, QHVCTL, SERVER_CONF, Host


class PortMacUpdate(qhvtest.ServerTestCase):
    extra_conf = SERVER_CONF
    wait_timeout = 20.0
    tools = (AGENT, QHVCTL)

    def setUp(self):
        self.hosts = []

    def tearDown(self):
        agents = {a['host']: a['id'] for a in self.get('/v2.0/agents')[1]['agents']}
        for h in self.hosts:
            h.stop()
            if h.name in agents:
                self.delete('/v2.0/agents/' + agents[h.name])

    def host(self, name, pa):
        h = Host(self, name, pa)
        h.ctl('counters')
        self.hosts.append(h.start())
        self.wait_for('agent %s alive' % name, lambda: any(
            a['host'] == name and a['alive'] for a in self.get('/v2.0/agents')[1]['agents']))
        return h

    def set_mac(self, port_id, mac, client=None, **more):
        more['mac_address'] = mac
        return (client or self.admin).put('/v2.0/ports/' + port_id, {'port': more})

    def test_refused_where_ml2_refuses(self):
        net = self.make_network(name='mac-refused')
        sub = self.make_subnet(net['id'], '10.70.0.0/24')
        member = self.client('mac-member')
        st, body = member.post('/v2.0/ports', {'port': {'network_id': net['id']}})
        self.assertEqual(st, 404, body)     # not the member's network
        port = self.make_port(net['id'])
        other = self.make_port(net['id'])
        own_net = self.make_network(member, name='mac-own')
        own = self.make_port(own_net['id'], member)
        err = self.assertError(self.set_mac(own['id'], 'fa:16:3e:00:70:01', member), 403,
                               'PolicyNotAuthorized')
        self.assertIn('update_port:mac_address', err['message'])
        err = self.assertError(self.set_mac(port['id'], other['mac_address']), 409,
                               'MacAddressInUse')
        self.assertIn(other['mac_address'], err['message'])
        self.assertError(self.set_mac(port['id'], 'ff:ff:ff:ff:ff:ff'), 400, 'HTTPBadRequest')
        dhcp = self.make_port(net['id'], device_owner='network:dhcp')
        self.assertError(self.set_mac(dhcp['id'], 'fa:16:3e:00:70:02'), 409,
                         'UnsupportedPortDeviceOwner')
        # Nothing changed.
        st, body = self.get('/v2.0/ports/' + port['id'])
        self.assertEqual(body['port']['mac_address'], port['mac_address'])
        self.assertEqual(body['port']['revision_number'], port['revision_number'])
        # The same MAC again is no change; a new one is, and frees the old.
        st, body = self.set_mac(port['id'], port['mac_address'].upper())
        self.assertEqual(st, 200, body)
        self.assertEqual(body['port']['revision_number'], port['revision_number'])
        st, body = self.set_mac(port['id'], 'FA:16:3E:00:70:03')
        self.assertEqual(st, 200, body)
        self.assertEqual(body['port']['mac_address'], 'fa:16:3e:00:70:03')
        self.assertEqual(body['port']['fixed_ips'], port['fixed_ips'])
        self.assertGreater(body['port']['revision_number'], port['revision_number'])
        self.make_port(net['id'], mac_address=port['mac_address'])
        self.assertEqual(sub['id'], body['port']['fixed_ips'][0]['subnet_id'])
        # port-mac-address-regenerate: null is a new generated MAC.
        st, body = self.get('/v2.0/extensions/port-mac-address-regenerate')
        self.assertEqual(st, 200, body)
        st, body = self.set_mac(port['id'], None)
        self.assertEqual(st, 200, body)
        self.assertNotIn(body['port']['mac_address'], ('fa:16:3e:00:70:03', port['mac_address']))
        self.assertRegex(body['port']['mac_address'], r'^fa:16:3e(:[0-9a-f]{2}){3}$')
        self.assertError(self.set_mac(own['id'], None, member), 403, 'PolicyNotAuthorized')
        generated = self.make_port(net['id'], mac_address=None)
        self.assertRegex(generated['mac_address'], r'^fa:16:3e(:[0-9a-f]{2}){3}$')

    def test_eui64_addresses_follow_the_mac(self):
        net = self.make_network(name='mac-slaac')
        v4 = self.make_subnet(net['id'], '10.71.0.0/24')
        v6 = self.make_subnet(net['id'], '2001:db8:71::/64', ipv6_ra_mode='slaac',
                              ipv6_address_mode='slaac')
        port = self.make_port(net['id'], mac_address='fa:16:3e:00:71:01')
        addrs = {ip['subnet_id']: ip['ip_address'] for ip in port['fixed_ips']}
        self.assertEqual(addrs[v6['id']], '2001:db8:71:0:f816:3eff:fe00:7101')
        st, body = self.set_mac(port['id'], 'fa:16:3e:00:71:02')
        self.assertEqual(st, 200, body)
        new = {ip['subnet_id']: ip['ip_address'] for ip in body['port']['fixed_ips']}
        self.assertEqual(new, {v4['id']: addrs[v4['id']],
                               v6['id']: '2001:db8:71:0:f816:3eff:fe00:7102'})
        # The old EUI-64 address is free: a port given the old MAC gets it.
        again = self.make_port(net['id'], mac_address='fa:16:3e:00:71:01')
        self.assertIn('2001:db8:71:0:f816:3eff:fe00:7101',
                      [ip['ip_address'] for ip in again['fixed_ips']])
        # With fixed_ips in the same request the new MAC decides as well.
        st, body = self.set_mac(port['id'], 'fa:16:3e:00:71:03',
                                fixed_ips=[{'subnet_id': v4['id']}, {'subnet_id': v6['id']}])
        self.assertEqual(st, 200, body)
        new = {ip['subnet_id']: ip['ip_address'] for ip in body['port']['fixed_ips']}
        self.assertEqual(new[v6['id']], '2001:db8:71:0:f816:3eff:fe00:7103')
        self.assertEqual(new[v4['id']], addrs[v4['id']])

    def test_agents_follow_the_new_mac(self):
        h1, h2 = self.host('mh1', '192.168.70.1'), self.host('mh2', '192.168.70.2')
        net = self.make_network(name='mac-nv', **{'provider:network_type': 'nvgre'})
        self.make_subnet(net['id'], '10.72.0.0/24')
        p2 = self.make_port(net['id'], **{'binding:host_id': 'mh2'})
        p1 = self.make_port(net['id'], **{'binding:host_id': 'mh1'})
        self.assertEqual(p1['binding:vif_type'], 'hyperv')
        h1.ctl('nic', 'add', p1['id'])
        h2.ctl('nic', 'add', p2['id'])
        ip1 = p1['fixed_ips'][0]['ip_address']

        def record_mac(h):
            recs = [v['value'] for k, v in h.objects('lookup_record').items()
                    if v['value']['customer_address'] == ip1]
            return recs[0]['mac_address'] if len(recs) == 1 else None

        self.wait_for('p1 on both hosts', lambda: record_mac(h2) == p1['mac_address'] and
                      'port/' + p1['id'] in h1.objects('port'))
        # Bound: ML2 refuses (the VM's NIC has the old MAC).
        err = self.assertError(self.set_mac(p1['id'], 'fa:16:3e:00:72:01'), 409, 'PortBound')
        self.assertIn(p1['mac_address'], err['message'])
        # Unbound, given its new MAC, bound again: every host follows.
        st, body = self.put('/v2.0/ports/' + p1['id'], {'port': {'binding:host_id': ''}})
        self.assertEqual(st, 200, body)
        self.assertEqual(body['port']['binding:vif_type'], 'unbound')
        self.wait_for('p1 gone from mh1 and mh2', lambda: record_mac(h2) is None and
                      'port/' + p1['id'] not in h1.objects('port'))
        st, body = self.set_mac(p1['id'], 'fa:16:3e:00:72:01', **{'binding:host_id': 'mh1'})
        self.assertEqual(st, 200, body)
        self.assertEqual(body['port']['binding:vif_type'], 'hyperv')
        self.wait_for('the new MAC on mh1', lambda: h1.objects('port').get(
            'port/' + p1['id'], {}).get('value', {}).get('mac_address') == 'fa:16:3e:00:72:01')
        self.wait_for('the new MAC in mh2\'s lookup record',
                      lambda: record_mac(h2) == 'fa:16:3e:00:72:01')
        self.assertEqual(record_mac(h1), 'fa:16:3e:00:72:01')


if __name__ == '__main__':
    unittest.main()
