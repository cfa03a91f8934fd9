"""Ports: defaults (sample 13), MAC addresses, fixed IPs (by subnet, by
address, both; conflicts, invalid addresses, exhaustion, concurrency),
updates of fixed IPs, filters, allowed address pairs, port security,
binding, fields, and what a delete gives back.

Reference: /work/shared/reference/neutron-21-wire (samples 13-23).
"""
import ipaddress
import re
import threading
import unittest

import qhvtest

TS = re.compile(r'^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$')
UUID = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
NEUTRON_MAC = re.compile(r'^fa:16:3e(:[0-9a-f]{2}){3}$')

# Sample 13 plus port_security_enabled (the port-security extension).
PORT_KEYS = {
    'id', 'name', 'network_id', 'tenant_id', 'project_id', 'mac_address', 'admin_state_up',
    'status', 'device_id', 'device_owner', 'fixed_ips', 'security_groups',
    'binding:vnic_type', 'binding:profile', 'binding:host_id', 'binding:vif_type',
    'binding:vif_details', 'allowed_address_pairs', 'extra_dhcp_opts', 'description', 'tags',
    'created_at',
    'updated_at', 'revision_number', 'port_security_enabled',
}


class PortHelpers:

    def setup_net(self, name, cidr, **subnet_attrs):
        net = self.make_network(name=name)
        sub = self.make_subnet(net['id'], cidr, **subnet_attrs)
        return net, sub

    def port_error(self, status, etype, message=None, client=None, **attrs):
        st, body = (client or self.admin).post('/v2.0/ports', {'port': attrs})
        err = self.assertError((st, body), status, etype)
        if message is not None:
            self.assertEqual(err['message'], message)
        return err

    def ids(self, path):
        st, body = self.get(path)
        self.assertEqual(st, 200, body)
        return sorted(p['id'] for p in body['ports'])

    def ips(self, port):
        return sorted(f['ip_address'] for f in port['fixed_ips'])


class PortsTest(PortHelpers, qhvtest.ServerTestCase):

    # ---------- create and defaults ----------

    def test_create_defaults(self):
        net = self.make_network(name='p-defaults', project_id='sample-project')
        sub = self.make_subnet(net['id'], '10.99.0.0/16', project_id='sample-project')
        # Sample 13.
        st, body = self.post('/v2.0/ports', {'port': {
            'network_id': net['id'], 'name': 's-port', 'project_id': 'sample-project'}})
        self.assertEqual(st, 201, body)
        self.assertEqual(list(body), ['port'])
        port = body['port']
        self.assertTrue(PORT_KEYS <= set(port), PORT_KEYS - set(port))
        self.assertRegex(port['id'], UUID)
        expected = {
            'name': 's-port', 'network_id': net['id'], 'tenant_id': 'sample-project',
            'project_id': 'sample-project', 'admin_state_up': True, 'status': 'DOWN',
            'device_id': '', 'device_owner': '', 'binding:vnic_type': 'normal',
            'binding:profile': {}, 'binding:host_id': '', 'binding:vif_type': 'unbound',
            'binding:vif_details': {}, 'allowed_address_pairs': [], 'description': '',
            'tags': [], 'revision_number': 1, 'port_security_enabled': True,
        }
        self.assertEqual({k: port[k] for k in expected}, expected)
        self.assertRegex(port['mac_address'], NEUTRON_MAC)
        self.assertEqual(len(port['fixed_ips']), 1)
        self.assertEqual(port['fixed_ips'][0]['subnet_id'], sub['id'])
        ip = ipaddress.ip_address(port['fixed_ips'][0]['ip_address'])
        self.assertTrue(ipaddress.ip_address('10.99.0.2') <= ip <=
                        ipaddress.ip_address('10.99.255.254'), ip)
        # One security group: the project's default one.
        self.assertEqual(len(port['security_groups']), 1)
        self.assertRegex(port['security_groups'][0], UUID)
        self.assertRegex(port['created_at'], TS)
        self.assertEqual(port['created_at'], port['updated_at'])
        # Sample 18: GET shows the same.
        st, got = self.get('/v2.0/ports/' + port['id'])
        self.assertEqual((st, got), (200, {'port': port}))
        # A second port of the project shares the default group.
        other = self.make_port(net['id'], project_id='sample-project')
        self.assertEqual(other['security_groups'], port['security_groups'])
        self.assertNotEqual(other['mac_address'], port['mac_address'])
        self.assertNotEqual(other['fixed_ips'], port['fixed_ips'])

    def test_port_without_subnets(self):
        net = self.make_network(name='p-nosub')
        port = self.make_port(net['id'])
        self.assertEqual(port['fixed_ips'], [])
        self.port_error(400, 'InvalidIpForNetwork', network_id=net['id'],
                        fixed_ips=[{'ip_address': '10.1.1.1'}])

    def test_missing_network(self):
        # Sample 16, exactly.
        missing = '00000000-0000-0000-0000-000000000000'
        self.assertEqual(self.post('/v2.0/ports', {'port': {
            'network_id': missing, 'project_id': 'sample-project'}}),
            (404, {'NeutronError': {'type': 'NetworkNotFound',
                                    'message': 'Network %s could not be found.' % missing,
                                    'detail': ''}}))
        self.port_error(400, 'HTTPBadRequest', network_id='not-a-uuid')
        err = self.port_error(400, 'HTTPBadRequest', name='no-network')
        self.assertIn('network_id', err['message'])

    def test_create_attributes(self):
        net, sub = self.setup_net('p-attrs', '10.90.0.0/24')
        port = self.make_port(net['id'], name='p', description='desc', admin_state_up=False,
                              device_id='vm-1', device_owner='compute:nova',
                              **{'binding:vnic_type': 'direct',
                                 'binding:profile': {'pci_slot': '0000:03:00.1'}})
        self.assertEqual((port['name'], port['description'], port['admin_state_up'],
                          port['device_id'], port['device_owner'], port['binding:vnic_type'],
                          port['binding:profile']),
                         ('p', 'desc', False, 'vm-1', 'compute:nova', 'direct',
                          {'pci_slot': '0000:03:00.1'}))
        self.port_error(400, 'HTTPBadRequest', network_id=net['id'],
                        **{'binding:vnic_type': 'weird'})
        self.port_error(400, 'HTTPBadRequest', network_id=net['id'],
                        **{'binding:profile': 'not-a-dict'})
        self.port_error(400, 'HTTPBadRequest', network_id=net['id'], device_id='x' * 256)

    # ---------- MAC addresses ----------

    def test_given_mac(self):
        net, _ = self.setup_net('p-mac', '10.91.0.0/24')
        port = self.make_port(net['id'], mac_address='fa:16:3e:aa:bb:01')
        self.assertEqual(port['mac_address'], 'fa:16:3e:aa:bb:01')
        # Normalised to lower case.
        port2 = self.make_port(net['id'], mac_address='FA:16:3E:AA:BB:02')
        self.assertEqual(port2['mac_address'], 'fa:16:3e:aa:bb:02')
        # Not Neutron's prefix: allowed for an admin.
        port3 = self.make_port(net['id'], mac_address='52:54:00:12:34:56')
        self.assertEqual(port3['mac_address'], '52:54:00:12:34:56')
        for mac in ('fa:16:3e:aa:bb:01', 'FA:16:3E:AA:BB:01'):
            self.port_error(409, 'MacAddressInUse',
                            'Unable to complete operation for network %s. The mac address '
                            'fa:16:3e:aa:bb:01 is in use.' % net['id'],
                            network_id=net['id'], mac_address=mac)
        # The same MAC on another network is fine.
        other, _ = self.setup_net('p-mac2', '10.91.0.0/24')
        port4 = self.make_port(other['id'], mac_address='fa:16:3e:aa:bb:01')
        self.assertEqual(port4['mac_address'], 'fa:16:3e:aa:bb:01')

    def test_invalid_mac(self):
        net = self.make_network(name='p-badmac')
        for mac in ('zz:zz:zz:zz:zz:zz', 'fa:16:3e:aa:bb', 'fa:16:3e:aa:bb:cc:dd', '',
                    '00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff'):
            err = self.port_error(400, 'HTTPBadRequest', network_id=net['id'], mac_address=mac)
            self.assertIn('mac_address', err['message'])
        self.port_error(400, 'HTTPBadRequest', network_id=net['id'], mac_address=12)
        self.assertEqual(self.ids('/v2.0/ports?network_id=' + net['id']), [])

    def test_generated_macs_are_unique(self):
        net = self.make_network(name='p-genmac')
        st, body = self.post('/v2.0/ports', {'ports': [{'network_id': net['id']}
                                                       for _ in range(30)]})
        self.assertEqual(st, 201, body)
        macs = [p['mac_address'] for p in body['ports']]
        self.assertEqual(len(set(macs)), 30)
        for mac in macs:
            self.assertRegex(mac, NEUTRON_MAC)

    # ---------- fixed IPs on create ----------

    def test_fixed_ips_by_subnet(self):
        net = self.make_network(name='p-fip-sub')
        a = self.make_subnet(net['id'], '10.92.0.0/24')
        b = self.make_subnet(net['id'], '10.93.0.0/24')
        port = self.make_port(net['id'], fixed_ips=[{'subnet_id': b['id']}])
        self.assertEqual(len(port['fixed_ips']), 1)
        self.assertEqual(port['fixed_ips'][0]['subnet_id'], b['id'])
        self.assertIn(ipaddress.ip_address(port['fixed_ips'][0]['ip_address']),
                      ipaddress.ip_network('10.93.0.0/24'))
        # Two subnets; two addresses on one subnet.
        port = self.make_port(net['id'], fixed_ips=[{'subnet_id': a['id']},
                                                    {'subnet_id': b['id']}])
        self.assertEqual(sorted(f['subnet_id'] for f in port['fixed_ips']),
                         sorted([a['id'], b['id']]))
        port = self.make_port(net['id'], fixed_ips=[{'subnet_id': a['id']},
                                                    {'subnet_id': a['id']}])
        self.assertEqual([f['subnet_id'] for f in port['fixed_ips']], [a['id'], a['id']])
        self.assertEqual(len(set(self.ips(port))), 2)
        # Without fixed_ips: one address from one of the two IPv4 subnets.
        port = self.make_port(net['id'])
        self.assertEqual(len(port['fixed_ips']), 1)
        # An empty list: no address at all.
        port = self.make_port(net['id'], fixed_ips=[])
        self.assertEqual(port['fixed_ips'], [])

    def test_fixed_ips_by_address(self):
        net = self.make_network(name='p-fip-ip')
        a = self.make_subnet(net['id'], '10.94.0.0/24')
        b = self.make_subnet(net['id'], 'fd00:94::/64')
        port = self.make_port(net['id'], fixed_ips=[{'ip_address': '10.94.0.77'}])
        self.assertEqual(port['fixed_ips'], [{'subnet_id': a['id'], 'ip_address': '10.94.0.77'}])
        port = self.make_port(net['id'], fixed_ips=[{'ip_address': 'fd00:94::77'},
                                                    {'ip_address': '10.94.0.78'}])
        self.assertEqual(port['fixed_ips'], [{'subnet_id': b['id'], 'ip_address': 'fd00:94::77'},
                                             {'subnet_id': a['id'], 'ip_address': '10.94.0.78'}])
        # Both (sample 14); an address outside the pool but inside the subnet.
        port = self.make_port(net['id'], fixed_ips=[{'subnet_id': a['id'],
                                                     'ip_address': '10.94.0.1'}],
                              device_owner='network:router_interface')
        self.assertEqual(port['fixed_ips'], [{'subnet_id': a['id'], 'ip_address': '10.94.0.1'}])
        # Given in a non-canonical form.
        port = self.make_port(net['id'], fixed_ips=[{'ip_address': 'FD00:94:0::0078'}])
        self.assertEqual(port['fixed_ips'], [{'subnet_id': b['id'], 'ip_address': 'fd00:94::78'}])

    def test_fixed_ip_conflict(self):
        net = self.make_network(name='p-fip-conflict', project_id='sample-project')
        sub = self.make_subnet(net['id'], '10.99.0.0/16', project_id='sample-project')
        req = {'network_id': net['id'], 'project_id': 'sample-project',
               'fixed_ips': [{'subnet_id': sub['id'], 'ip_address': '10.99.0.50'}]}
        st, body = self.post('/v2.0/ports', {'port': req})
        self.assertEqual(st, 201, body)
        self.assertEqual(body['port']['fixed_ips'], req['fixed_ips'])
        # Sample 15, exactly.
        self.assertEqual(self.post('/v2.0/ports', {'port': req}), (409, {'NeutronError': {
            'type': 'IpAddressAlreadyAllocated',
            'message': 'IP address 10.99.0.50 already allocated in subnet %s' % sub['id'],
            'detail': ''}}))
        # By address only too; twice in one request too.
        self.port_error(409, 'IpAddressAlreadyAllocated', network_id=net['id'],
                        fixed_ips=[{'ip_address': '10.99.0.50'}])
        self.port_error(409, 'IpAddressAlreadyAllocated', network_id=net['id'],
                        fixed_ips=[{'ip_address': '10.99.0.51'}, {'ip_address': '10.99.0.51'}])
        # The refused requests took nothing.
        port = self.make_port(net['id'], fixed_ips=[{'ip_address': '10.99.0.51'}])
        self.assertEqual(self.ips(port), ['10.99.0.51'])
        self.assertEqual(len(self.ids('/v2.0/ports?network_id=' + net['id'])), 2)

    def test_invalid_fixed_ips(self):
        net = self.make_network(name='p-fip-bad')
        sub = self.make_subnet(net['id'], '10.95.0.0/24')
        other, other_sub = self.setup_net('p-fip-bad2', '10.96.0.0/24')
        # An address of the subnet's network or broadcast, or outside it.
        for ip in ('10.95.0.0', '10.95.0.255', '10.96.0.5', '10.95.1.5'):
            st, body = self.post('/v2.0/ports', {'port': {'network_id': net['id'], 'fixed_ips': [
                {'subnet_id': sub['id'], 'ip_address': ip}]}})
            self.assertEqual(st, 400, (ip, body))
            self.assertIn('IP address %s is not a valid IP for the specified subnet' % ip,
                          body['NeutronError']['message'])
            st, body = self.post('/v2.0/ports', {'port': {'network_id': net['id'], 'fixed_ips': [
                {'ip_address': ip}]}})
            self.assertEqual(st, 400, (ip, body))
        # A subnet of another network.
        err = self.port_error(400, 'InvalidInput', network_id=net['id'],
                              fixed_ips=[{'subnet_id': other_sub['id']}])
        self.assertIn('because fixed_ips included invalid subnet %s' % other_sub['id'],
                      err['message'])
        # Malformed entries.
        for bad in ([{'ip_address': 'not-an-ip'}], [{}], [{'subnet_id': sub['id'], 'x': 1}],
                    ['10.95.0.5'], {'ip_address': '10.95.0.5'}):
            st, body = self.post('/v2.0/ports', {'port': {'network_id': net['id'],
                                                          'fixed_ips': bad}})
            self.assertEqual(st, 400, (bad, body))
        self.assertEqual(self.ids('/v2.0/ports?network_id=' + net['id']), [])

    def test_invalid_fixed_ip_error_types(self):
        """Neutron's types (ipam_backend_mixin._get_subnet_for_fixed_ip):
        InvalidIpForSubnet with a subnet_id, InvalidIpForNetwork without."""
        net, sub = self.setup_net('p-fip-types', '10.97.0.0/24')
        self.port_error(400, 'InvalidIpForSubnet',
                        'IP address 10.97.0.255 is not a valid IP for the specified subnet.',
                        network_id=net['id'],
                        fixed_ips=[{'subnet_id': sub['id'], 'ip_address': '10.97.0.255'}])
        self.port_error(400, 'InvalidIpForNetwork',
                        'IP address 10.98.0.5 is not a valid IP for any of the subnets on the '
                        'specified network.',
                        network_id=net['id'], fixed_ips=[{'ip_address': '10.98.0.5'}])

    def test_exhaustion(self):
        # A /29 has 5 usable addresses once the gateway has .1.
        net, sub = self.setup_net('p-exhaust', '10.100.0.0/29')
        self.assertEqual(sub['allocation_pools'], [{'start': '10.100.0.2',
                                                    'end': '10.100.0.6'}])
        ports = [self.make_port(net['id']) for _ in range(5)]
        got = sorted(p['fixed_ips'][0]['ip_address'] for p in ports)
        self.assertEqual(got, ['10.100.0.%d' % i for i in range(2, 7)])
        err = self.port_error(409, 'IpAddressGenerationFailure', network_id=net['id'])
        self.assertEqual(err['message'],
                         'No more IP addresses available on network %s.' % net['id'])
        err = self.port_error(409, 'IpAddressGenerationFailure', network_id=net['id'],
                              fixed_ips=[{'subnet_id': sub['id']}])
        self.assertIn('No more IP addresses available', err['message'])
        self.assertEqual(len(self.ids('/v2.0/ports?network_id=' + net['id'])), 5)
        # The gateway address can still be asked for (a router's port).
        port = self.make_port(net['id'], fixed_ips=[{'ip_address': '10.100.0.1'}])
        self.assertEqual(self.ips(port), ['10.100.0.1'])
        # Deleting a port gives its address back.
        self.assertEqual(self.delete('/v2.0/ports/' + ports[2]['id'])[0], 204)
        again = self.make_port(net['id'])
        self.assertEqual(again['fixed_ips'], ports[2]['fixed_ips'])

    def test_exhaustion_falls_through_to_next_subnet(self):
        net = self.make_network(name='p-exhaust2')
        a = self.make_subnet(net['id'], '10.101.0.0/30')   # one address each: .2
        b = self.make_subnet(net['id'], '10.102.0.0/30')
        ports = [self.make_port(net['id']) for _ in range(2)]
        self.assertEqual(sorted(p['fixed_ips'][0]['subnet_id'] for p in ports),
                         sorted([a['id'], b['id']]))
        self.assertEqual(sorted(p['fixed_ips'][0]['ip_address'] for p in ports),
                         ['10.101.0.2', '10.102.0.2'])
        self.assertEqual([len(p['fixed_ips']) for p in ports], [1, 1])
        err = self.port_error(409, 'IpAddressGenerationFailure', network_id=net['id'])
        self.assertEqual(err['message'],
                         'No more IP addresses available on network %s.' % net['id'])

    def concurrent_creates(self, network_id, count, threads=8):
        results = [None] * count
        lock = threading.Lock()
        todo = list(range(count))

        def worker():
            client = qhvtest.Client(self.server.port)
            while True:
                with lock:
                    if not todo:
                        return
                    i = todo.pop()
                results[i] = client.post('/v2.0/ports', {'port': {'network_id': network_id,
                                                                  'name': 'c-%d' % i}})
        ts = [threading.Thread(target=worker) for _ in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        return results

    def test_concurrent_creates_never_share_an_address(self):
        net, sub = self.setup_net('p-conc', '10.103.0.0/26')   # 61 free
        results = self.concurrent_creates(net['id'], 50)
        for st, body in results:
            self.assertEqual(st, 201, body)
        ips = [b['port']['fixed_ips'][0]['ip_address'] for _, b in results]
        macs = [b['port']['mac_address'] for _, b in results]
        self.assertEqual(len(set(ips)), 50)
        self.assertEqual(len(set(macs)), 50)
        pool = ipaddress.ip_network('10.103.0.0/26')
        for ip in ips:
            a = ipaddress.ip_address(ip)
            self.assertIn(a, pool)
            self.assertNotIn(ip, ('10.103.0.0', '10.103.0.1', '10.103.0.63'))
        # What the server stored agrees.
        st, body = self.get('/v2.0/ports?network_id=' + net['id'])
        stored = sorted(p['fixed_ips'][0]['ip_address'] for p in body['ports'])
        self.assertEqual(stored, sorted(ips))

    def test_concurrent_creates_to_exhaustion(self):
        net, sub = self.setup_net('p-conc2', '10.104.0.0/26')   # 61 free
        results = self.concurrent_creates(net['id'], 70)
        ok = [b for st, b in results if st == 201]
        failed = [(st, b) for st, b in results if st != 201]
        self.assertEqual(len(ok), 61, [f for f in failed if f[0] != 409][:3])
        for st, body in failed:
            self.assertEqual(st, 409, body)
            self.assertEqual(body['NeutronError']['type'], 'IpAddressGenerationFailure')
        ips = {b['port']['fixed_ips'][0]['ip_address'] for b in ok}
        self.assertEqual(ips, {'10.104.0.%d' % i for i in range(2, 63)})
        st, body = self.get('/v2.0/ports?network_id=' + net['id'])
        self.assertEqual(len(body['ports']), 61)

    def test_concurrent_same_address_and_mac(self):
        """Racing requests for one address or one MAC: exactly one wins."""
        net, sub = self.setup_net('p-race', '10.119.0.0/24')
        for attrs, etype in (({'fixed_ips': [{'ip_address': '10.119.0.7'}]},
                              'IpAddressAlreadyAllocated'),
                             ({'mac_address': 'fa:16:3e:77:77:77'}, 'MacAddressInUse')):
            results = [None] * 16
            barrier = threading.Barrier(16)

            def worker(i):
                client = qhvtest.Client(self.server.port)
                body = {'network_id': net['id']}
                body.update(attrs)
                barrier.wait()
                results[i] = client.post('/v2.0/ports', {'port': body})
            ts = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(60)
            statuses = sorted(st for st, _ in results)
            self.assertEqual(statuses, [201] + [409] * 15, results)
            for st, body in results:
                if st == 409:
                    self.assertEqual(body['NeutronError']['type'], etype)

    # ---------- fixed IPs on update ----------

    def test_update_fixed_ips(self):
        net = self.make_network(name='p-upd-fip')
        a = self.make_subnet(net['id'], '10.105.0.0/24')
        b = self.make_subnet(net['id'], '10.106.0.0/24')
        port = self.make_port(net['id'], fixed_ips=[{'ip_address': '10.105.0.10'}])
        url = '/v2.0/ports/' + port['id']
        # Add.
        st, body = self.put(url, {'port': {'fixed_ips': [
            {'subnet_id': a['id'], 'ip_address': '10.105.0.10'},
            {'subnet_id': b['id'], 'ip_address': '10.106.0.10'}]}})
        self.assertEqual(st, 200, body)
        self.assertEqual(self.ips(body['port']), ['10.105.0.10', '10.106.0.10'])
        self.assertEqual(body['port']['revision_number'], 2)
        # Re-sending an entry by subnet keeps the address it has there.
        st, body = self.put(url, {'port': {'fixed_ips': [
            {'subnet_id': a['id']}, {'subnet_id': b['id'], 'ip_address': '10.106.0.10'}]}})
        self.assertEqual(st, 200, body)
        self.assertEqual(self.ips(body['port']), ['10.105.0.10', '10.106.0.10'])
        # Remove.
        st, body = self.put(url, {'port': {'fixed_ips': [{'ip_address': '10.106.0.10'}]}})
        self.assertEqual(st, 200, body)
        self.assertEqual(body['port']['fixed_ips'], [{'subnet_id': b['id'],
                                                      'ip_address': '10.106.0.10'}])
        # The released address can go to another port.
        other = self.make_port(net['id'], fixed_ips=[{'ip_address': '10.105.0.10'}])
        self.assertEqual(self.ips(other), ['10.105.0.10'])
        # Replace; taking another port's address is refused and changes nothing.
        self.assertError(self.put(url, {'port': {'fixed_ips': [
            {'ip_address': '10.105.0.10'}]}}), 409, 'IpAddressAlreadyAllocated')
        st, body = self.get(url)
        self.assertEqual(self.ips(body['port']), ['10.106.0.10'])
        st, body = self.put(url, {'port': {'fixed_ips': [{'ip_address': '10.106.0.11'}]}})
        self.assertEqual(st, 200, body)
        self.assertEqual(self.ips(body['port']), ['10.106.0.11'])
        # .10 on b is free again.
        third = self.make_port(net['id'], fixed_ips=[{'ip_address': '10.106.0.10'}])
        self.assertEqual(self.ips(third), ['10.106.0.10'])
        # Remove all.
        st, body = self.put(url, {'port': {'fixed_ips': []}})
        self.assertEqual((st, body['port']['fixed_ips']), (200, []))
        fourth = self.make_port(net['id'], fixed_ips=[{'ip_address': '10.106.0.11'}])
        self.assertEqual(self.ips(fourth), ['10.106.0.11'])
        # Invalid updates.
        self.assertEqual(self.put(url, {'port': {'fixed_ips': [
            {'ip_address': '10.106.0.255'}]}})[0], 400)
        self.assertEqual(self.put(url, {'port': {'fixed_ips': None}})[0], 400)

    def test_update_swaps_addresses_within_a_port(self):
        net, sub = self.setup_net('p-upd-swap', '10.107.0.0/24')
        port = self.make_port(net['id'], fixed_ips=[{'ip_address': '10.107.0.20'}])
        st, body = self.put('/v2.0/ports/' + port['id'], {'port': {'fixed_ips': [
            {'ip_address': '10.107.0.21'}, {'ip_address': '10.107.0.20'}]}})
        self.assertEqual(st, 200, body)
        self.assertEqual(self.ips(body['port']), ['10.107.0.20', '10.107.0.21'])

    # ---------- update, delete ----------

    def test_update(self):
        net, _ = self.setup_net('p-upd', '10.108.0.0/24')
        port = self.make_port(net['id'], name='s-port')
        url = '/v2.0/ports/' + port['id']
        # Sample 21.
        st, body = self.put(url, {'port': {'name': 's-port-renamed'}})
        self.assertEqual(st, 200, body)
        upd = body['port']
        self.assertEqual((upd['name'], upd['revision_number']), ('s-port-renamed', 2))
        self.assertEqual(upd['created_at'], port['created_at'])
        for k in ('id', 'mac_address', 'fixed_ips', 'network_id', 'security_groups'):
            self.assertEqual(upd[k], port[k], k)
        st, body = self.put(url, {'port': {'admin_state_up': False, 'device_id': 'vm-9',
                                           'device_owner': 'compute:az1', 'description': 'x'}})
        self.assertEqual(st, 200, body)
        self.assertEqual((body['port']['admin_state_up'], body['port']['device_id'],
                          body['port']['device_owner'], body['port']['description'],
                          body['port']['revision_number']),
                         (False, 'vm-9', 'compute:az1', 'x', 3))
        missing = '00000000-0000-0000-0000-00000000dead'
        self.assertEqual(self.put('/v2.0/ports/' + missing, {'port': {'name': 'x'}}),
                         (404, {'NeutronError': {
                             'type': 'PortNotFound',
                             'message': 'Port %s could not be found.' % missing,
                             'detail': ''}}))

    def test_delete_frees_ip_and_mac(self):
        net, sub = self.setup_net('p-del', '10.109.0.0/24')
        port = self.make_port(net['id'], mac_address='fa:16:3e:00:de:1e',
                              fixed_ips=[{'ip_address': '10.109.0.9'}])
        self.port_error(409, 'MacAddressInUse', network_id=net['id'],
                        mac_address='fa:16:3e:00:de:1e')
        self.port_error(409, 'IpAddressAlreadyAllocated', network_id=net['id'],
                        fixed_ips=[{'ip_address': '10.109.0.9'}])
        st, body = self.delete('/v2.0/ports/' + port['id'])
        self.assertEqual((st, body), (204, None))
        self.assertError(self.get('/v2.0/ports/' + port['id']), 404, 'PortNotFound')
        self.assertError(self.delete('/v2.0/ports/' + port['id']), 404, 'PortNotFound')
        again = self.make_port(net['id'], mac_address='fa:16:3e:00:de:1e',
                               fixed_ips=[{'ip_address': '10.109.0.9'}])
        self.assertEqual((again['mac_address'], self.ips(again)),
                         ('fa:16:3e:00:de:1e', ['10.109.0.9']))
        # The subnet can go once its last port is gone.
        self.assertEqual(self.delete('/v2.0/ports/' + again['id'])[0], 204)
        self.assertEqual(self.delete('/v2.0/subnets/' + sub['id'])[0], 204)

    # ---------- lists ----------

    def test_filters(self):
        net = self.make_network(name='p-filter')
        a = self.make_subnet(net['id'], '10.110.0.0/24')
        b = self.make_subnet(net['id'], '10.111.0.0/24')
        p1 = self.make_port(net['id'], fixed_ips=[{'ip_address': '10.110.0.5'}],
                            device_id='dev-1', mac_address='fa:16:3e:0f:00:01',
                            **{'binding:host_id': 'host-f1'})
        p2 = self.make_port(net['id'], fixed_ips=[{'ip_address': '10.111.0.5'}],
                            device_id='dev-2', **{'binding:host_id': 'host-f2'})
        p3 = self.make_port(net['id'], fixed_ips=[{'ip_address': '10.110.0.6'},
                                                  {'ip_address': '10.111.0.6'}],
                            device_id='dev-1')
        other, _ = self.setup_net('p-filter2', '10.110.0.0/24')
        p4 = self.make_port(other['id'], fixed_ips=[{'ip_address': '10.110.0.5'}],
                            device_id='dev-1')
        q = '/v2.0/ports?network_id=%s' % net['id']
        self.assertEqual(self.ids(q), sorted([p1['id'], p2['id'], p3['id']]))
        self.assertEqual(self.ids('/v2.0/ports?network_id=%s&network_id=%s'
                                  % (net['id'], other['id'])),
                         sorted([p1['id'], p2['id'], p3['id'], p4['id']]))
        self.assertEqual(self.ids('/v2.0/ports?fixed_ips=subnet_id=' + a['id']),
                         sorted([p1['id'], p3['id']]))
        self.assertEqual(self.ids('/v2.0/ports?fixed_ips=subnet_id=' + b['id']),
                         sorted([p2['id'], p3['id']]))
        self.assertEqual(self.ids('/v2.0/ports?fixed_ips=ip_address=10.110.0.5'),
                         sorted([p1['id'], p4['id']]))
        self.assertEqual(self.ids(q + '&fixed_ips=ip_address=10.110.0.5'), [p1['id']])
        self.assertEqual(self.ids(q + '&fixed_ips=ip_address=10.110.0.5'
                                      '&fixed_ips=ip_address=10.111.0.6'),
                         sorted([p1['id'], p3['id']]))
        self.assertEqual(self.ids('/v2.0/ports?binding:host_id=host-f1'), [p1['id']])
        self.assertEqual(self.ids(q + '&binding:host_id=host-f1&binding:host_id=host-f2'),
                         sorted([p1['id'], p2['id']]))
        self.assertEqual(self.ids(q + '&device_id=dev-1'), sorted([p1['id'], p3['id']]))
        self.assertEqual(self.ids('/v2.0/ports?device_id=dev-1&network_id=' + other['id']),
                         [p4['id']])
        self.assertEqual(self.ids('/v2.0/ports?mac_address=fa:16:3e:0f:00:01'), [p1['id']])
        self.assertEqual(self.ids('/v2.0/ports?mac_address=' + p2['mac_address']), [p2['id']])
        self.assertEqual(self.ids(q + '&device_owner='), sorted([p1['id'], p2['id'], p3['id']]))
        self.assertEqual(self.ids(q + '&binding:host_id='), [p3['id']])
        self.assertError(self.get('/v2.0/ports?fixed_ips=bogus=1'), 400, 'HTTPBadRequest')
        self.assertError(self.get('/v2.0/ports?bogus=1'), 400, 'HTTPBadRequest')

    def test_fields(self):
        net, _ = self.setup_net('p-fields', '10.112.0.0/24')
        port = self.make_port(net['id'], name='s-port')
        st, body = self.get('/v2.0/ports/%s?fields=id&fields=name' % port['id'])
        self.assertEqual((st, body), (200, {'port': {'id': port['id'], 'name': 's-port'}}))
        # Sample 19.
        st, body = self.get('/v2.0/ports/%s?fields=id&fields=name&fields=fixed_ips'
                            % port['id'])
        self.assertEqual(body, {'port': {'id': port['id'], 'name': 's-port',
                                         'fixed_ips': port['fixed_ips']}})
        # Sample 22.
        st, body = self.get('/v2.0/ports?network_id=%s&fields=id&fields=name' % net['id'])
        self.assertEqual(body, {'ports': [{'id': port['id'], 'name': 's-port'}]})
        st, body = self.get('/v2.0/ports/%s.json?fields=mac_address&fields=bogus' % port['id'])
        self.assertEqual(body, {'port': {'mac_address': port['mac_address']}})

    def test_list_limit(self):
        net, _ = self.setup_net('p-limit', '10.113.0.0/24')
        ports = sorted(self.make_port(net['id'])['id'] for _ in range(4))
        # Sample 23.
        st, body = self.get('/v2.0/ports?network_id=%s&limit=2' % net['id'])
        self.assertEqual([p['id'] for p in body['ports']], ports[:2])
        base = 'http://127.0.0.1:%d/v2.0/ports?' % self.server.port
        self.assertEqual(body['ports_links'], [
            {'rel': 'next',
             'href': base + 'network_id=%s&limit=2&marker=%s' % (net['id'], ports[1])},
            {'rel': 'previous',
             'href': base + 'network_id=%s&limit=2&marker=%s&page_reverse=True'
                     % (net['id'], ports[0])}])

    def test_bulk_create(self):
        net, _ = self.setup_net('p-bulk', '10.114.0.0/24')
        # Sample 17.
        st, body = self.post('/v2.0/ports', {'ports': [
            {'network_id': net['id'], 'name': 's-bulk0'},
            {'network_id': net['id'], 'name': 's-bulk1'}]})
        self.assertEqual(st, 201, body)
        self.assertEqual([p['name'] for p in body['ports']], ['s-bulk0', 's-bulk1'])
        for p in body['ports']:
            self.assertTrue(PORT_KEYS <= set(p))
            self.assertEqual((p['status'], p['revision_number']), ('DOWN', 1))
        # All or nothing: the second one's MAC is the first one's. (The
        # address must be one the random allocation above did not take.)
        used = {ip['ip_address'] for p in body['ports'] for ip in p['fixed_ips']}
        free_ip = next('10.114.0.%d' % i for i in range(200, 210) if '10.114.0.%d' % i not in used)
        st, body = self.post('/v2.0/ports', {'ports': [
            {'network_id': net['id'], 'name': 'bulk-x', 'mac_address': 'fa:16:3e:0b:0b:0b',
             'fixed_ips': [{'ip_address': free_ip}]},
            {'network_id': net['id'], 'name': 'bulk-y', 'mac_address': 'fa:16:3e:0b:0b:0b'}]})
        self.assertError((st, body), 409, 'MacAddressInUse')
        st, body = self.get('/v2.0/ports?name=bulk-x&name=bulk-y')
        self.assertEqual(body['ports'], [])
        port = self.make_port(net['id'], mac_address='fa:16:3e:0b:0b:0b',
                              fixed_ips=[{'ip_address': free_ip}])
        self.assertEqual(self.ips(port), [free_ip])

    # ---------- allowed address pairs, port security ----------

    def test_allowed_address_pairs(self):
        net, _ = self.setup_net('p-aap', '10.115.0.0/24')
        port = self.make_port(net['id'], allowed_address_pairs=[
            {'ip_address': '10.115.0.100'},
            {'ip_address': '10.115.1.0/24', 'mac_address': 'fa:16:3e:11:22:33'},
            {'ip_address': '10.115.0.100', 'mac_address': 'FA:16:3E:11:22:44'}])
        self.assertEqual(port['allowed_address_pairs'], [
            {'ip_address': '10.115.0.100', 'mac_address': port['mac_address']},
            {'ip_address': '10.115.1.0/24', 'mac_address': 'fa:16:3e:11:22:33'},
            {'ip_address': '10.115.0.100', 'mac_address': 'fa:16:3e:11:22:44'}])
        st, body = self.get('/v2.0/ports/' + port['id'])
        self.assertEqual(body['port']['allowed_address_pairs'], port['allowed_address_pairs'])
        # Update: replaced as a whole.
        st, body = self.put('/v2.0/ports/' + port['id'], {'port': {'allowed_address_pairs': [
            {'ip_address': 'fd00::/64'}]}})
        self.assertEqual(st, 200, body)
        self.assertEqual(body['port']['allowed_address_pairs'], [
            {'ip_address': 'fd00::/64', 'mac_address': port['mac_address']}])
        # Duplicates, explicit or through the default MAC.
        err = self.port_error(400, 'DuplicateAddressPairInRequest', network_id=net['id'],
                              allowed_address_pairs=[{'ip_address': '10.115.0.7'},
                                                     {'ip_address': '10.115.0.7'}])
        self.assertIn('Request contains duplicate address pair', err['message'])
        port2 = self.make_port(net['id'])
        self.assertError(self.put('/v2.0/ports/' + port2['id'], {'port': {
            'allowed_address_pairs': [
                {'ip_address': '10.115.0.7'},
                {'ip_address': '10.115.0.7', 'mac_address': port2['mac_address']}]}}),
            400, 'DuplicateAddressPairInRequest')
        # Malformed.
        for bad in ([{'mac_address': 'fa:16:3e:11:22:33'}], [{'ip_address': 'bad'}],
                    [{'ip_address': '10.0.0.1', 'mac_address': 'bad'}],
                    [{'ip_address': '10.0.0.1', 'x': 1}], 'no'):
            st, body = self.post('/v2.0/ports', {'port': {'network_id': net['id'],
                                                          'allowed_address_pairs': bad}})
            self.assertEqual(st, 400, (bad, body))

    def test_address_pairs_need_port_security(self):
        net, _ = self.setup_net('p-aap-ps', '10.116.0.0/24')
        self.port_error(409, 'AddressPairAndPortSecurityRequired',
                        'Port Security must be enabled in order to have allowed address pairs '
                        'on a port.',
                        network_id=net['id'], port_security_enabled=False,
                        allowed_address_pairs=[{'ip_address': '10.116.0.9'}])
        port = self.make_port(net['id'], port_security_enabled=False)
        self.assertEqual((port['port_security_enabled'], port['security_groups']), (False, []))
        self.assertError(self.put('/v2.0/ports/' + port['id'], {'port': {
            'allowed_address_pairs': [{'ip_address': '10.116.0.9'}]}}),
            409, 'AddressPairAndPortSecurityRequired')
        # Both at once: port security back on, and pairs.
        st, body = self.put('/v2.0/ports/' + port['id'], {'port': {
            'port_security_enabled': True,
            'allowed_address_pairs': [{'ip_address': '10.116.0.9'}]}})
        self.assertEqual(st, 200, body)
        self.assertEqual(body['port']['allowed_address_pairs'],
                         [{'ip_address': '10.116.0.9', 'mac_address': port['mac_address']}])
        # And off again while pairs remain: refused.
        st, body = self.put('/v2.0/ports/' + port['id'], {'port': {
            'port_security_enabled': False, 'security_groups': []}})
        self.assertError((st, body), 409, 'AddressPairAndPortSecurityRequired')

    def test_port_security_inherits_network(self):
        net = self.make_network(name='p-ps-net', port_security_enabled=False)
        self.make_subnet(net['id'], '10.117.0.0/24')
        port = self.make_port(net['id'])
        self.assertEqual((port['port_security_enabled'], port['security_groups']), (False, []))
        port = self.make_port(net['id'], port_security_enabled=True)
        self.assertIs(port['port_security_enabled'], True)
        self.assertEqual(len(port['security_groups']), 1)
        net2 = self.make_network(name='p-ps-net2')
        self.assertIs(net2['port_security_enabled'], True)
        port = self.make_port(net2['id'])
        self.assertIs(port['port_security_enabled'], True)
        # The network's value at the port's creation: later changes don't move ports.
        st, _ = self.put('/v2.0/networks/' + net2['id'], {'network': {
            'port_security_enabled': False}})
        self.assertEqual(st, 200)
        st, body = self.get('/v2.0/ports/' + port['id'])
        self.assertIs(body['port']['port_security_enabled'], True)
        self.assertIs(self.make_port(net2['id'])['port_security_enabled'], False)

    # ---------- binding ----------

    def test_binding_host(self):
        net, _ = self.setup_net('p-bind', '10.118.0.0/24')
        port = self.make_port(net['id'], **{'binding:host_id': 'compute-1'})
        self.assertEqual((port['binding:host_id'], port['binding:vif_type'],
                          port['binding:vif_details'], port['status']),
                         ('compute-1', 'binding_failed', {}, 'DOWN'))
        url = '/v2.0/ports/' + port['id']
        st, body = self.put(url, {'port': {'binding:host_id': ''}})
        self.assertEqual(st, 200, body)
        self.assertEqual((body['port']['binding:host_id'], body['port']['binding:vif_type']),
                         ('', 'unbound'))
        st, body = self.put(url, {'port': {'binding:host_id': 'compute-2'}})
        self.assertEqual((st, body['port']['binding:vif_type']), (200, 'binding_failed'))
        st, body = self.get(url)
        self.assertEqual((body['port']['binding:host_id'], body['port']['binding:vif_type']),
                         ('compute-2', 'binding_failed'))
        # Other updates don't touch the binding.
        st, body = self.put(url, {'port': {'name': 'renamed'}})
        self.assertEqual(body['port']['binding:vif_type'], 'binding_failed')
        st, body = self.put(url, {'port': {'binding:host_id': ''}})
        self.assertEqual(body['port']['binding:vif_type'], 'unbound')
        st, body = self.put(url, {'port': {'binding:profile': {'a': 'b'}}})
        self.assertEqual((st, body['port']['binding:profile']), (200, {'a': 'b'}))


if __name__ == '__main__':
    unittest.main()
