"""Subnets: IPv4 and IPv6 defaults (gateway, allocation pools), explicit
pools and their validation, CIDR checks and overlap, DNS nameservers, host
routes, IPv6 modes and SLAAC addresses, updates, the network's view of its
subnets, and delete rules.

Reference: /work/shared/reference/neutron-21-wire (samples 11, 12).
"""
import ipaddress
import re
import unittest

import qhvtest

TS = re.compile(r'^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$')

# Sample 11, less what docs/api.md lists as not implemented (service_types).
SUBNET_KEYS = {
    'id', 'name', 'tenant_id', 'project_id', 'network_id', 'ip_version', 'subnetpool_id',
    'enable_dhcp', 'ipv6_ra_mode', 'ipv6_address_mode', 'gateway_ip', 'cidr',
    'allocation_pools', 'host_routes', 'dns_nameservers', 'description', 'tags', 'created_at',
    'updated_at', 'revision_number',
}


def eui64(cidr, mac):
    """The SLAAC address Neutron gives a port (RFC 4291 modified EUI-64)."""
    b = bytes.fromhex(mac.replace(':', ''))
    iid = bytes([b[0] ^ 0x02]) + b[1:3] + b'\xff\xfe' + b[3:6]
    net = ipaddress.ip_network(cidr)
    return str(net[int.from_bytes(iid, 'big')])


class SubnetsTest(qhvtest.ServerTestCase):

    def net(self, name, **attrs):
        return self.make_network(name=name, **attrs)

    def create(self, network_id, cidr, **attrs):
        body = {'network_id': network_id, 'cidr': cidr,
                'ip_version': 6 if ':' in cidr else 4}
        body.update(attrs)
        return self.post('/v2.0/subnets', {'subnet': body})

    def create_error(self, network_id, cidr, status, etype, message=None, **attrs):
        err = self.assertError(self.create(network_id, cidr, **attrs), status, etype)
        if message is not None:
            self.assertEqual(err['message'], message)
        return err

    def subnet_ids(self, network_id):
        st, body = self.get('/v2.0/subnets?network_id=' + network_id)
        self.assertEqual(st, 200, body)
        return sorted(s['id'] for s in body['subnets'])

    # ---------- IPv4 ----------

    def test_create_ipv4_defaults(self):
        # Sample 11 (a /16).
        net = self.net('s-v4', project_id='sample-project')
        st, body = self.post('/v2.0/subnets', {'subnet': {
            'network_id': net['id'], 'ip_version': 4, 'cidr': '10.99.0.0/16',
            'project_id': 'sample-project'}})
        self.assertEqual(st, 201, body)
        self.assertEqual(list(body), ['subnet'])
        sub = body['subnet']
        self.assertTrue(SUBNET_KEYS <= set(sub), SUBNET_KEYS - set(sub))
        expected = {
            'name': '', 'tenant_id': 'sample-project', 'project_id': 'sample-project',
            'network_id': net['id'], 'ip_version': 4, 'subnetpool_id': None,
            'enable_dhcp': True, 'ipv6_ra_mode': None, 'ipv6_address_mode': None,
            'gateway_ip': '10.99.0.1', 'cidr': '10.99.0.0/16',
            'allocation_pools': [{'start': '10.99.0.2', 'end': '10.99.255.254'}],
            'host_routes': [], 'dns_nameservers': [], 'description': '', 'tags': [],
            'revision_number': 0,
        }
        self.assertEqual({k: sub[k] for k in expected}, expected)
        self.assertRegex(sub['created_at'], TS)
        self.assertEqual(sub['created_at'], sub['updated_at'])
        st, got = self.get('/v2.0/subnets/' + sub['id'])
        self.assertEqual((st, got), (200, {'subnet': sub}))

    def test_ipv4_slash24_default_pool(self):
        net = self.net('s-v4-24')
        sub = self.make_subnet(net['id'], '10.70.0.0/24', name='s24')
        self.assertEqual((sub['name'], sub['gateway_ip'], sub['allocation_pools'],
                          sub['project_id']),
                         ('s24', '10.70.0.1',
                          [{'start': '10.70.0.2', 'end': '10.70.0.254'}], 'fake_project_id'))

    def test_no_gateway(self):
        net = self.net('s-nogw')
        sub = self.make_subnet(net['id'], '10.71.0.0/24', gateway_ip=None)
        self.assertIsNone(sub['gateway_ip'])
        self.assertEqual(sub['allocation_pools'], [{'start': '10.71.0.1', 'end': '10.71.0.254'}])
        # The first address is given out too: a /29 without a gateway has 6.
        net2 = self.net('s-nogw2')
        sub = self.make_subnet(net2['id'], '10.71.1.0/29', gateway_ip=None)
        self.assertEqual(sub['allocation_pools'], [{'start': '10.71.1.1', 'end': '10.71.1.6'}])
        got = set()
        for _ in range(6):
            port = self.make_port(net2['id'])
            self.assertEqual(port['fixed_ips'][0]['subnet_id'], sub['id'])
            got.add(port['fixed_ips'][0]['ip_address'])
        self.assertEqual(got, {'10.71.1.%d' % i for i in range(1, 7)})
        self.assertError(self.post('/v2.0/ports', {'port': {'network_id': net2['id']}}), 409,
                         'IpAddressGenerationFailure')

    def test_explicit_gateway_splits_default_pool(self):
        net = self.net('s-gw')
        sub = self.make_subnet(net['id'], '10.72.0.0/24', gateway_ip='10.72.0.254')
        self.assertEqual((sub['gateway_ip'], sub['allocation_pools']),
                         ('10.72.0.254', [{'start': '10.72.0.1', 'end': '10.72.0.253'}]))
        net2 = self.net('s-gw2')
        sub = self.make_subnet(net2['id'], '10.72.0.0/24', gateway_ip='10.72.0.100')
        self.assertEqual(sub['allocation_pools'], [
            {'start': '10.72.0.1', 'end': '10.72.0.99'},
            {'start': '10.72.0.101', 'end': '10.72.0.254'}])
        # The gateway must not be the network or broadcast address.
        net3 = self.net('s-gw3')
        for gw in ('10.72.0.0', '10.72.0.255'):
            self.create_error(net3['id'], '10.72.0.0/24', 400, 'InvalidInput', gateway_ip=gw)
        self.create_error(net3['id'], '10.72.0.0/24', 400, 'HTTPBadRequest', gateway_ip='nope')
        self.create_error(net3['id'], '10.72.0.0/24', 400, 'InvalidInput',
                          gateway_ip='2001:db8::1')
        self.assertEqual(self.subnet_ids(net3['id']), [])

    def test_explicit_allocation_pools(self):
        net = self.net('s-pools')
        pools = [{'start': '10.73.0.10', 'end': '10.73.0.20'},
                 {'start': '10.73.0.30', 'end': '10.73.0.40'}]
        sub = self.make_subnet(net['id'], '10.73.0.0/24', allocation_pools=pools)
        self.assertEqual(sub['allocation_pools'], pools)
        self.assertEqual(sub['gateway_ip'], '10.73.0.1')
        port = self.make_port(net['id'])
        ip = ipaddress.ip_address(port['fixed_ips'][0]['ip_address'])
        self.assertTrue(ipaddress.ip_address('10.73.0.10') <= ip <= ipaddress.ip_address(
            '10.73.0.20') or ipaddress.ip_address('10.73.0.30') <= ip <=
            ipaddress.ip_address('10.73.0.40'), ip)
        # Addresses come only from the pools, and all of them are used.
        net3 = self.net('s-pools3')
        sub = self.make_subnet(net3['id'], '10.73.0.0/24', allocation_pools=[
            {'start': '10.73.0.10', 'end': '10.73.0.12'},
            {'start': '10.73.0.30', 'end': '10.73.0.31'}])
        got = {self.make_port(net3['id'])['fixed_ips'][0]['ip_address'] for _ in range(5)}
        self.assertEqual(got, {'10.73.0.10', '10.73.0.11', '10.73.0.12', '10.73.0.30',
                               '10.73.0.31'})
        self.assertError(self.post('/v2.0/ports', {'port': {'network_id': net3['id']}}), 409,
                         'IpAddressGenerationFailure')
        # Outside the pools but inside the subnet: an address can be asked for.
        port = self.make_port(net3['id'], fixed_ips=[{'ip_address': '10.73.0.200'}])
        self.assertEqual(port['fixed_ips'], [{'subnet_id': sub['id'],
                                              'ip_address': '10.73.0.200'}])
        # A single address pool at the edges of the range.
        net2 = self.net('s-pools2')
        sub = self.make_subnet(net2['id'], '10.73.0.0/24', gateway_ip=None, allocation_pools=[
            {'start': '10.73.0.1', 'end': '10.73.0.1'},
            {'start': '10.73.0.254', 'end': '10.73.0.254'}])
        self.assertEqual(len(sub['allocation_pools']), 2)

    def test_pool_errors(self):
        net = self.net('s-pool-err')
        cidr = '10.74.0.0/24'
        self.create_error(net['id'], cidr, 400, 'OutOfBoundsAllocationPool',
                          'The allocation pool 10.74.0.200-10.74.1.10 spans beyond the subnet '
                          'cidr 10.74.0.0/24.',
                          allocation_pools=[{'start': '10.74.0.200', 'end': '10.74.1.10'}])
        # The network and the broadcast address are outside the usable range.
        self.create_error(net['id'], cidr, 400, 'OutOfBoundsAllocationPool',
                          allocation_pools=[{'start': '10.74.0.0', 'end': '10.74.0.10'}])
        self.create_error(net['id'], cidr, 400, 'OutOfBoundsAllocationPool',
                          allocation_pools=[{'start': '10.74.0.250', 'end': '10.74.0.255'}])
        err = self.create_error(net['id'], cidr, 400, 'OverlappingAllocationPools',
                                allocation_pools=[{'start': '10.74.0.10', 'end': '10.74.0.20'},
                                                  {'start': '10.74.0.15', 'end': '10.74.0.30'}])
        self.assertIn('Found overlapping allocation pools', err['message'])
        self.assertIn('10.74.0.10-10.74.0.20', err['message'])
        self.assertIn('10.74.0.15-10.74.0.30', err['message'])
        err = self.create_error(net['id'], cidr, 409, 'GatewayConflictWithAllocationPools',
                                gateway_ip='10.74.0.15',
                                allocation_pools=[{'start': '10.74.0.10', 'end': '10.74.0.20'}])
        self.assertIn('Gateway ip 10.74.0.15 conflicts with allocation pool', err['message'])
        # The default gateway (.1) inside an explicit pool.
        self.create_error(net['id'], cidr, 409, 'GatewayConflictWithAllocationPools',
                          allocation_pools=[{'start': '10.74.0.1', 'end': '10.74.0.20'}])
        self.create_error(net['id'], cidr, 400, 'InvalidAllocationPool',
                          'The allocation pool 10.74.0.20-10.74.0.10 is not valid.',
                          allocation_pools=[{'start': '10.74.0.20', 'end': '10.74.0.10'}])
        self.create_error(net['id'], cidr, 400, 'InvalidAllocationPool',
                          allocation_pools=[{'start': '2001:db8::1', 'end': '2001:db8::2'}])
        for bad in ([{'start': '10.74.0.10'}], [{'start': 'x', 'end': '10.74.0.10'}],
                    ['10.74.0.10-10.74.0.20'], {'start': '10.74.0.10', 'end': '10.74.0.20'}):
            st, body = self.create(net['id'], cidr, allocation_pools=bad)
            self.assertEqual(st, 400, (bad, body))
        self.assertEqual(self.subnet_ids(net['id']), [])

    def test_cidr_validation(self):
        net = self.net('s-cidr')
        self.create_error(net['id'], '10.75.0.1/24', 400, 'HTTPBadRequest')
        self.create_error(net['id'], '10.75.0.0', 400, 'HTTPBadRequest')
        self.create_error(net['id'], 'not-a-cidr', 400, 'HTTPBadRequest')
        self.create_error(net['id'], '10.75.0.0/33', 400, 'HTTPBadRequest')
        self.create_error(net['id'], '2001:db8::1/64', 400, 'HTTPBadRequest')
        # ip_version must match the CIDR.
        for cidr, version in (('10.75.0.0/24', 6), ('2001:db8:75::/64', 4)):
            err = self.create_error(net['id'], cidr, 400, 'InvalidInput', ip_version=version)
            self.assertIn('does not match', err['message'])
        self.create_error(net['id'], '10.75.0.0/24', 400, 'HTTPBadRequest', ip_version=5)
        # Required attributes.
        for missing in ('network_id', 'ip_version'):
            body = {'network_id': net['id'], 'cidr': '10.75.0.0/24', 'ip_version': 4}
            del body[missing]
            err = self.assertError(self.post('/v2.0/subnets', {'subnet': body}), 400,
                                   'HTTPBadRequest')
            self.assertIn(missing, err['message'])
        # No cidr: a subnet pool must give it (test_subnetpools.py).
        err = self.assertError(self.post('/v2.0/subnets', {'subnet': {
            'network_id': net['id'], 'ip_version': 4}}), 400, 'BadRequest')
        self.assertEqual(err['message'], 'Bad subnets request: a subnetpool must be specified '
                                         'in the absence of a cidr.')
        self.assertEqual(self.subnet_ids(net['id']), [])
        # ip_version as a string is converted.
        sub = self.make_subnet(net['id'], '10.75.0.0/24', ip_version='4')
        self.assertEqual(sub['ip_version'], 4)

    def test_overlapping_cidrs(self):
        net = self.net('s-overlap', project_id='sample-project')
        self.make_subnet(net['id'], '10.99.0.0/16', project_id='sample-project')
        # Sample 12, exactly.
        self.assertEqual(self.create(net['id'], '10.99.1.0/24', project_id='sample-project'),
                         (400, {'NeutronError': {
                             'type': 'InvalidInput',
                             'message': 'Invalid input for operation: Requested subnet with '
                                        'cidr: 10.99.1.0/24 for network: %s overlaps with '
                                        'another subnet.' % net['id'],
                             'detail': ''}}))
        self.create_error(net['id'], '10.0.0.0/8', 400, 'InvalidInput')
        self.create_error(net['id'], '10.99.0.0/16', 400, 'InvalidInput')
        # Next to it is fine, and so is the same CIDR on another network.
        self.make_subnet(net['id'], '10.100.0.0/16')
        other = self.net('s-overlap2')
        sub = self.make_subnet(other['id'], '10.99.0.0/16')
        self.assertEqual(sub['cidr'], '10.99.0.0/16')

    def test_missing_network(self):
        missing = '00000000-0000-0000-0000-0000000000aa'
        self.assertEqual(self.create(missing, '10.76.0.0/24'), (404, {'NeutronError': {
            'type': 'NetworkNotFound', 'message': 'Network %s could not be found.' % missing,
            'detail': ''}}))
        self.create_error('not-a-uuid', '10.76.0.0/24', 400, 'HTTPBadRequest')

    # ---------- IPv6 ----------

    def test_ipv6_defaults(self):
        net = self.net('s-v6')
        sub = self.make_subnet(net['id'], '2001:db8:1::/64')
        self.assertEqual((sub['ip_version'], sub['cidr'], sub['gateway_ip'],
                          sub['ipv6_ra_mode'], sub['ipv6_address_mode']),
                         (6, '2001:db8:1::/64', '2001:db8:1::1', None, None))
        # IPv6 has no broadcast address: the pool ends at the last address.
        self.assertEqual(sub['allocation_pools'], [
            {'start': '2001:db8:1::2', 'end': '2001:db8:1:0:ffff:ffff:ffff:ffff'}])
        port = self.make_port(net['id'])
        self.assertEqual(len(port['fixed_ips']), 1)
        self.assertEqual(port['fixed_ips'][0]['subnet_id'], sub['id'])
        ip = ipaddress.ip_address(port['fixed_ips'][0]['ip_address'])
        self.assertIn(ip, ipaddress.ip_network('2001:db8:1::/64'))
        self.assertGreaterEqual(ip, ipaddress.ip_address('2001:db8:1::2'))
        self.assertEqual(str(ip), port['fixed_ips'][0]['ip_address'])   # canonical text
        # The last address can be asked for.
        port = self.make_port(net['id'], fixed_ips=[
            {'ip_address': '2001:db8:1:0:ffff:ffff:ffff:ffff'}])
        self.assertEqual(port['fixed_ips'][0]['subnet_id'], sub['id'])
        # A small IPv6 subnet.
        net2 = self.net('s-v6-small')
        sub = self.make_subnet(net2['id'], '2001:db8:2::/126')
        self.assertEqual(sub['allocation_pools'],
                         [{'start': '2001:db8:2::2', 'end': '2001:db8:2::3'}])

    def test_ipv6_addresses_normalized(self):
        net = self.net('s-v6-norm')
        sub = self.make_subnet(net['id'], '2001:DB8:3:0::/64', gateway_ip='2001:DB8:3::00FF',
                               dns_nameservers=['2001:4860:4860:0:0:0:0:8888'])
        self.assertEqual((sub['cidr'], sub['gateway_ip'], sub['dns_nameservers']),
                         ('2001:db8:3::/64', '2001:db8:3::ff', ['2001:4860:4860::8888']))

    def test_ipv6_modes(self):
        net = self.net('s-v6-modes')
        for attrs in ({'ipv6_ra_mode': 'slaac'}, {'ipv6_address_mode': 'slaac'}):
            self.create_error(net['id'], '10.77.0.0/24', 400, 'InvalidInput', **attrs)
        err = self.create_error(net['id'], '2001:db8:77::/64', 400, 'InvalidInput',
                                ipv6_ra_mode='slaac', ipv6_address_mode='dhcpv6-stateful')
        self.assertIn("ipv6_ra_mode set to 'slaac' with ipv6_address_mode set to "
                      "'dhcpv6-stateful' is not valid", err['message'])
        for mode in ('slaac', 'dhcpv6-stateless'):
            err = self.create_error(net['id'], '2001:db8:77::/80', 400, 'InvalidInput',
                                    ipv6_ra_mode=mode, ipv6_address_mode=mode)
            self.assertIn('/64', err['message'])
        self.create_error(net['id'], '2001:db8:77::/64', 400, 'HTTPBadRequest',
                          ipv6_address_mode='auto')
        self.create_error(net['id'], '2001:db8:77::/64', 400, 'InvalidInput',
                          ipv6_address_mode='slaac', enable_dhcp=False)
        self.assertEqual(self.subnet_ids(net['id']), [])
        # Stateful DHCPv6 has no /64 rule.
        sub = self.make_subnet(net['id'], '2001:db8:77::/80', ipv6_ra_mode='dhcpv6-stateful',
                               ipv6_address_mode='dhcpv6-stateful')
        self.assertEqual((sub['ipv6_ra_mode'], sub['ipv6_address_mode']),
                         ('dhcpv6-stateful', 'dhcpv6-stateful'))
        net2 = self.net('s-v6-modes2')
        sub = self.make_subnet(net2['id'], '2001:db8:78::/64', ipv6_address_mode='slaac')
        self.assertEqual((sub['ipv6_ra_mode'], sub['ipv6_address_mode']), (None, 'slaac'))

    def test_slaac_gives_eui64_addresses(self):
        net = self.net('s-slaac')
        v4 = self.make_subnet(net['id'], '10.78.0.0/24')
        early = self.make_port(net['id'])
        v6 = self.make_subnet(net['id'], '2001:db8:79::/64', ipv6_ra_mode='slaac',
                              ipv6_address_mode='slaac')
        mac = 'fa:16:3e:12:34:56'
        port = self.make_port(net['id'], mac_address=mac)
        got = {f['subnet_id']: f['ip_address'] for f in port['fixed_ips']}
        self.assertEqual(len(port['fixed_ips']), 2)
        self.assertEqual(set(got), {v4['id'], v6['id']})
        self.assertEqual(got[v6['id']], '2001:db8:79:0:f816:3eff:fe12:3456')
        self.assertEqual(eui64('2001:db8:79::/64', mac), got[v6['id']])
        self.assertIn(ipaddress.ip_address(got[v4['id']]), ipaddress.ip_network('10.78.0.0/24'))
        st, body = self.get('/v2.0/ports/' + port['id'])
        self.assertEqual(body['port']['fixed_ips'], port['fixed_ips'])
        # A port made before the SLAAC subnet got its address too.
        st, body = self.get('/v2.0/ports/' + early['id'])
        got = {f['subnet_id']: f['ip_address'] for f in body['port']['fixed_ips']}
        self.assertEqual(got, {v4['id']: early['fixed_ips'][0]['ip_address'],
                               v6['id']: eui64('2001:db8:79::/64', early['mac_address'])})
        self.assertEqual(body['port']['revision_number'], early['revision_number'] + 1)
        # Filters find ports by their SLAAC address.
        st, body = self.get('/v2.0/ports?fixed_ips=ip_address=' + eui64('2001:db8:79::/64', mac))
        self.assertEqual([p['id'] for p in body['ports']], [port['id']])
        # A SLAAC address can't be asked for.
        st, body = self.post('/v2.0/ports', {'port': {'network_id': net['id'], 'fixed_ips': [
            {'subnet_id': v6['id'], 'ip_address': '2001:db8:79::5'}]}})
        self.assertEqual(st, 400, body)

    # ---------- DNS and host routes ----------

    def test_dns_nameservers(self):
        net = self.net('s-dns')
        five = ['8.8.8.%d' % i for i in range(1, 6)]
        sub = self.make_subnet(net['id'], '10.80.0.0/24', dns_nameservers=five)
        self.assertEqual(sub['dns_nameservers'], five)   # order kept
        st, body = self.create(self.net('s-dns2')['id'], '10.80.0.0/24',
                               dns_nameservers=five + ['8.8.8.6'])
        self.assertEqual(st, 400, body)
        self.assertIn('The number of DNS nameservers exceeds the limit 5',
                      body['NeutronError']['message'])
        err = self.create_error(self.net('s-dns3')['id'], '10.80.0.0/24', 400, 'HTTPBadRequest',
                                dns_nameservers=['8.8.8.8', '8.8.8.8'])
        self.assertIn("Duplicate nameserver '8.8.8.8'", err['message'])
        self.create_error(self.net('s-dns4')['id'], '10.80.0.0/24', 400, 'HTTPBadRequest',
                          dns_nameservers=['not-an-ip'])
        self.create_error(self.net('s-dns5')['id'], '10.80.0.0/24', 400, 'HTTPBadRequest',
                          dns_nameservers='8.8.8.8')
        # Update: replaced as a whole.
        st, body = self.put('/v2.0/subnets/' + sub['id'], {'subnet': {
            'dns_nameservers': ['1.1.1.1', '9.9.9.9']}})
        self.assertEqual(st, 200, body)
        self.assertEqual(body['subnet']['dns_nameservers'], ['1.1.1.1', '9.9.9.9'])
        st, body = self.put('/v2.0/subnets/' + sub['id'], {'subnet': {
            'dns_nameservers': five + ['8.8.8.6']}})
        self.assertEqual(st, 400, body)
        st, body = self.put('/v2.0/subnets/' + sub['id'], {'subnet': {'dns_nameservers': []}})
        self.assertEqual((st, body['subnet']['dns_nameservers']), (200, []))

    def test_dns_nameservers_limit_error(self):
        """Neutron raises DNSNameServersExhausted (db_base_plugin_v2
        _validate_subnet): 'Unable to complete operation for new subnet. The
        number of DNS nameservers exceeds the limit 5.'"""
        five = ['8.8.4.%d' % i for i in range(1, 7)]
        self.create_error(self.net('s-dns6')['id'], '10.80.0.0/24', 400,
                          'DNSNameServersExhausted',
                          'Unable to complete operation for new subnet. The number of DNS '
                          'nameservers exceeds the limit 5.',
                          dns_nameservers=five)

    def test_host_routes(self):
        net = self.net('s-routes')
        routes = [{'destination': '10.200.0.0/16', 'nexthop': '10.81.0.5'},
                  {'destination': '0.0.0.0/0', 'nexthop': '10.81.0.6'}]
        sub = self.make_subnet(net['id'], '10.81.0.0/24', host_routes=routes)
        self.assertEqual(sub['host_routes'], routes)
        for bad in ([{'destination': 'bad', 'nexthop': '10.81.0.5'}],
                    [{'destination': '10.200.0.0/16', 'nexthop': 'bad'}],
                    [{'destination': '10.200.0.0/16'}],
                    [{'destination': '10.200.0.0/16', 'nexthop': '10.81.0.5', 'x': 1}],
                    [routes[0], routes[0]],
                    'not-a-list'):
            st, body = self.create(self.net('s-routes-bad')['id'], '10.81.0.0/24',
                                   host_routes=bad)
            self.assertEqual(st, 400, (bad, body))
        st, body = self.put('/v2.0/subnets/' + sub['id'], {'subnet': {'host_routes': []}})
        self.assertEqual((st, body['subnet']['host_routes']), (200, []))

    # ---------- update ----------

    def test_update(self):
        net = self.net('s-upd')
        sub = self.make_subnet(net['id'], '10.82.0.0/24')
        url = '/v2.0/subnets/' + sub['id']
        st, body = self.put(url, {'subnet': {'name': 'renamed', 'description': 'd',
                                             'enable_dhcp': False}})
        self.assertEqual(st, 200, body)
        s = body['subnet']
        self.assertEqual((s['name'], s['description'], s['enable_dhcp'], s['revision_number']),
                         ('renamed', 'd', False, 1))
        self.assertEqual(s['created_at'], sub['created_at'])
        # Pools: replaced; the gateway must stay outside them.
        st, body = self.put(url, {'subnet': {'allocation_pools': [
            {'start': '10.82.0.100', 'end': '10.82.0.200'}]}})
        self.assertEqual(st, 200, body)
        self.assertEqual(body['subnet']['allocation_pools'],
                         [{'start': '10.82.0.100', 'end': '10.82.0.200'}])
        self.assertEqual(body['subnet']['revision_number'], 2)
        port = self.make_port(net['id'])
        ip = ipaddress.ip_address(port['fixed_ips'][0]['ip_address'])
        self.assertTrue(ipaddress.ip_address('10.82.0.100') <= ip <=
                        ipaddress.ip_address('10.82.0.200'), ip)
        self.assertError(self.put(url, {'subnet': {'allocation_pools': [
            {'start': '10.82.0.100', 'end': '10.82.1.200'}]}}), 400, 'OutOfBoundsAllocationPool')
        self.assertError(self.put(url, {'subnet': {'allocation_pools': [
            {'start': '10.82.0.1', 'end': '10.82.0.20'}]}}), 409,
            'GatewayConflictWithAllocationPools')
        # Gateway: moved out of the pool is fine, into the pool is not.
        st, body = self.put(url, {'subnet': {'gateway_ip': '10.82.0.254'}})
        self.assertEqual((st, body['subnet']['gateway_ip']), (200, '10.82.0.254'))
        self.assertError(self.put(url, {'subnet': {'gateway_ip': '10.82.0.150'}}), 409,
                         'GatewayConflictWithAllocationPools')
        st, body = self.put(url, {'subnet': {'gateway_ip': None}})
        self.assertEqual((st, body['subnet']['gateway_ip']), (200, None))
        st, got = self.get(url)
        self.assertEqual(got['subnet'], body['subnet'])
        self.assertEqual(got['subnet']['revision_number'], 4)

    # ---------- the network's view ----------

    def test_network_subnets_list_and_revision(self):
        net = self.net('s-netview')
        self.assertEqual((net['subnets'], net['revision_number']), ([], 1))
        a = self.make_subnet(net['id'], '10.83.0.0/24')
        st, body = self.get('/v2.0/networks/' + net['id'])
        self.assertEqual((body['network']['subnets'], body['network']['revision_number']),
                         ([a['id']], 2))
        b = self.make_subnet(net['id'], 'fd00:83::/64')
        st, body = self.get('/v2.0/networks/' + net['id'])
        self.assertEqual(sorted(body['network']['subnets']), sorted([a['id'], b['id']]))
        self.assertEqual(body['network']['revision_number'], 3)
        self.assertEqual(self.delete('/v2.0/subnets/' + a['id'])[0], 204)
        st, body = self.get('/v2.0/networks/' + net['id'])
        self.assertEqual((body['network']['subnets'], body['network']['revision_number']),
                         ([b['id']], 4))
        # A refused subnet changes nothing.
        self.create_error(net['id'], 'fd00:83::/48', 400, 'InvalidInput')
        st, body = self.get('/v2.0/networks/' + net['id'])
        self.assertEqual(body['network']['revision_number'], 4)

    # ---------- lists ----------

    def test_filters_and_fields(self):
        net = self.net('s-filter')
        a = self.make_subnet(net['id'], '10.84.0.0/24', name='sf-a')
        b = self.make_subnet(net['id'], 'fd00:84::/64', name='sf-b')
        st, body = self.get('/v2.0/subnets?network_id=%s&ip_version=6' % net['id'])
        self.assertEqual([s['id'] for s in body['subnets']], [b['id']])
        st, body = self.get('/v2.0/subnets?cidr=10.84.0.0/24')
        self.assertEqual([s['id'] for s in body['subnets']], [a['id']])
        st, body = self.get('/v2.0/subnets?name=sf-a&name=sf-b&fields=name&fields=cidr'
                            '&sort_key=name&sort_dir=desc')
        self.assertEqual(body['subnets'], [{'name': 'sf-b', 'cidr': 'fd00:84::/64'},
                                           {'name': 'sf-a', 'cidr': '10.84.0.0/24'}])
        self.assertError(self.get('/v2.0/subnets?ip_version=four'), 400, 'HTTPBadRequest')
        self.assertError(self.get('/v2.0/subnets?bogus=1'), 400, 'HTTPBadRequest')

    # ---------- delete ----------

    def test_delete_subnet_in_use(self):
        net = self.net('s-inuse')
        sub = self.make_subnet(net['id'], '10.85.0.0/24')
        port = self.make_port(net['id'])
        self.assertEqual(self.delete('/v2.0/subnets/' + sub['id']), (409, {'NeutronError': {
            'type': 'SubnetInUse',
            'message': 'Unable to complete operation on subnet %s: One or more ports have an IP '
                       'allocation from this subnet.' % sub['id'],
            'detail': ''}}))
        self.assertEqual(self.get('/v2.0/subnets/' + sub['id'])[0], 200)
        self.assertEqual(self.delete('/v2.0/ports/' + port['id'])[0], 204)
        self.assertEqual(self.delete('/v2.0/subnets/' + sub['id'])[0], 204)
        self.assertError(self.get('/v2.0/subnets/' + sub['id']), 404, 'SubnetNotFound')
        self.assertError(self.delete('/v2.0/subnets/' + sub['id']), 404, 'SubnetNotFound')

    def test_delete_subnet_with_dhcp_port(self):
        """A DHCP port doesn't keep a subnet: it loses its address there."""
        net = self.net('s-dhcp')
        sub = self.make_subnet(net['id'], '10.86.0.0/24')
        dhcp = self.make_port(net['id'], device_owner='network:dhcp')
        self.assertEqual(self.delete('/v2.0/subnets/' + sub['id'])[0], 204)
        st, body = self.get('/v2.0/ports/' + dhcp['id'])
        self.assertEqual((st, body['port']['fixed_ips']), (200, []))

    def test_subnet_in_use_after_port_update(self):
        """An address added by update also keeps the subnet in use; one
        removed by update doesn't."""
        net = self.net('s-inuse-upd')
        a = self.make_subnet(net['id'], '10.87.0.0/24')
        b = self.make_subnet(net['id'], '10.88.0.0/24')
        port = self.make_port(net['id'], fixed_ips=[{'subnet_id': a['id']}])
        st, body = self.put('/v2.0/ports/' + port['id'], {'port': {'fixed_ips': [
            {'subnet_id': b['id']}]}})
        self.assertEqual(st, 200, body)
        self.assertError(self.delete('/v2.0/subnets/' + b['id']), 409, 'SubnetInUse')
        self.assertEqual(self.delete('/v2.0/subnets/' + a['id'])[0], 204)


if __name__ == '__main__':
    unittest.main()
