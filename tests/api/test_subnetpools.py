"""Subnet pools (subnet_allocation, default-subnetpools, subnetpool-prefix-ops):
the pool resource (prefixes compacted, prefix-length defaults and bounds, one
default pool per IP version, shared pools, no address scopes), subnets
allocated from a pool (prefixlen, the pool's default, a gateway's prefix, a
specific cidr, the default pool), no overlap also under concurrent creates,
prefixes that grow by update or add_prefixes and lose only unused space by
remove_prefixes, default_quota, delete rules, tags, timestamps, revisions,
filters, sorting and pagination.

Reference: Neutron 21 (neutron/ipam/subnet_alloc.py,
neutron/db/db_base_plugin_v2.py, neutron_lib/api/definitions/subnetpool.py):
the prefix lengths are shown as strings; an exhausted pool or a prefix
outside it is a SubnetAllocationError, 409 here (Neutron's 500 is a server
error on a client's request, docs/api.md).
"""
import ipaddress
import re
import threading
import unittest

import qhvtest

TS = re.compile(r'^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$')

POOL_KEYS = {
    'id', 'name', 'tenant_id', 'project_id', 'prefixes', 'default_prefixlen', 'min_prefixlen',
    'max_prefixlen', 'default_quota', 'ip_version', 'is_default', 'shared', 'address_scope_id',
    'description', 'tags', 'created_at', 'updated_at', 'revision_number',
}


class SubnetPoolsTest(qhvtest.ServerTestCase):

    def pool(self, name, prefixes, client=None, **attrs):
        attrs.update(name=name, prefixes=prefixes)
        st, body = (client or self.admin).post('/v2.0/subnetpools', {'subnetpool': attrs})
        self.assertEqual(st, 201, body)
        return body['subnetpool']

    def pool_error(self, status, etype, part=None, client=None, **attrs):
        return self.assertError((client or self.admin).post(
            '/v2.0/subnetpools', {'subnetpool': attrs}), status, etype, part)

    def subnet(self, net, client=None, **attrs):
        attrs.setdefault('ip_version', 4)
        attrs['network_id'] = net['id']
        return (client or self.admin).post('/v2.0/subnets', {'subnet': attrs})

    def ok_subnet(self, net, **attrs):
        st, body = self.subnet(net, **attrs)
        self.assertEqual(st, 201, body)
        return body['subnet']

    # ---------- the pool ----------

    def test_create_defaults_and_show(self):
        p = self.pool('sp-defaults', ['10.10.0.0/16'])
        self.assertEqual(set(p), POOL_KEYS)
        want = {
            'name': 'sp-defaults', 'prefixes': ['10.10.0.0/16'], 'default_prefixlen': '8',
            'min_prefixlen': '8', 'max_prefixlen': '32', 'default_quota': None,
            'ip_version': 4, 'is_default': False, 'shared': False, 'address_scope_id': None,
            'description': '', 'tags': [], 'revision_number': 0,
        }
        self.assertEqual({k: p[k] for k in want}, want)
        self.assertEqual(p['project_id'], p['tenant_id'])
        self.assertRegex(p['created_at'], TS)
        st, got = self.get('/v2.0/subnetpools/' + p['id'])
        self.assertEqual((st, got), (200, {'subnetpool': p}))
        v6 = self.pool('sp-v6', ['2001:db8:100::/48'])
        self.assertEqual((v6['ip_version'], v6['min_prefixlen'], v6['max_prefixlen'],
                          v6['default_prefixlen']), (6, '64', '128', '64'))

    def test_prefixes_compacted(self):
        p = self.pool('sp-compact', ['10.20.1.0/24', '10.20.0.0/24', '10.20.2.0/23',
                                     '10.20.0.128/25'], min_prefixlen=24)
        self.assertEqual(p['prefixes'], ['10.20.0.0/22'])
        self.assertEqual(p['default_prefixlen'], '24')

    def test_create_errors(self):
        self.pool_error(400, 'EmptySubnetPoolPrefixList', name='e1', prefixes=[])
        self.pool_error(400, 'PrefixVersionMismatch', name='e2',
                        prefixes=['10.0.0.0/8', '2001:db8::/32'])
        self.pool_error(400, 'HTTPBadRequest', "isn't a recommended CIDR", name='e3',
                        prefixes=['10.0.0.1/8'])
        self.pool_error(400, 'HTTPBadRequest', 'not a valid IP subnet', name='e4',
                        prefixes=['banana'])
        self.pool_error(400, 'HTTPBadRequest', "Required attribute 'prefixes'", name='e5')
        self.pool_error(400, 'HTTPBadRequest', "Required attribute 'name'",
                        prefixes=['10.0.0.0/8'])
        err = self.pool_error(400, 'IllegalSubnetPoolPrefixBounds', name='e6',
                              prefixes=['10.0.0.0/8'], min_prefixlen=25, max_prefixlen=24)
        self.assertEqual(err['message'],
                         'Illegal prefix bounds: min_prefixlen=25, max_prefixlen=24.')
        self.pool_error(400, 'IllegalSubnetPoolPrefixBounds', 'ip_version_max=32', name='e7',
                        prefixes=['10.0.0.0/8'], max_prefixlen=33)
        self.pool_error(400, 'IllegalSubnetPoolPrefixBounds', 'default_prefixlen=20',
                        name='e8', prefixes=['10.0.0.0/8'], min_prefixlen=21,
                        default_prefixlen=20)
        self.pool_error(400, 'HTTPBadRequest', 'should be non-negative', name='e9',
                        prefixes=['10.0.0.0/8'], default_quota=-1)
        self.pool_error(404, 'AddressScopeNotFound', name='e10', prefixes=['10.0.0.0/8'],
                        address_scope_id='0b6a6bf6-7bcd-4dba-a3e6-0f52f0e1a6b1')
        self.pool_error(400, 'HTTPBadRequest', "Attribute 'ip_version' not allowed",
                        name='e11', prefixes=['10.0.0.0/8'], ip_version=4)
        member = self.client('sp-member')
        self.pool_error(403, 'PolicyNotAuthorized', client=member, name='e12',
                        prefixes=['10.0.0.0/8'], shared=True)
        self.pool_error(403, 'PolicyNotAuthorized', client=member, name='e13',
                        prefixes=['10.0.0.0/8'], is_default=True)
        st, body = self.get('/v2.0/subnetpools?name=e1&name=e6&name=e12')
        self.assertEqual((st, body), (200, {'subnetpools': []}))

    def test_one_default_per_version(self):
        d4 = self.pool('sp-def4', ['10.200.0.0/16'], is_default=True, shared=True,
                       default_prefixlen=26)
        self.pool_error(400, 'InvalidInput', 'Only one default may exist per IP family',
                        name='sp-def4b', prefixes=['10.201.0.0/16'], is_default=True)
        other = self.pool('sp-def4c', ['10.202.0.0/16'])
        self.assertError(self.put('/v2.0/subnetpools/' + other['id'],
                                  {'subnetpool': {'is_default': True}}), 400, 'InvalidInput')
        d6 = self.pool('sp-def6', ['2001:db8:200::/48'], is_default=True)
        self.assertTrue(d6['is_default'])
        # use_default_subnetpool takes the version's default pool.
        net = self.make_network(name='sp-def-net')
        s = self.ok_subnet(net, use_default_subnetpool=True)
        self.assertEqual(s['subnetpool_id'], d4['id'])
        self.assertEqual(ipaddress.ip_network(s['cidr']).prefixlen, 26)
        self.assertNotIn('use_default_subnetpool', s)
        self.assertNotIn('prefixlen', s)
        s6 = self.ok_subnet(net, ip_version=6, use_default_subnetpool=True)
        self.assertEqual((s6['subnetpool_id'], s6['cidr']), (d6['id'], '2001:db8:200::/64'))
        self.assertError(self.subnet(net, use_default_subnetpool=True,
                                     subnetpool_id=other['id']),
                         400, 'BadRequest', 'cannot both be specified')
        # Unset the defaults again: no default pool means a 400.
        for p in (d4, d6):
            st, body = self.put('/v2.0/subnetpools/' + p['id'],
                                {'subnetpool': {'is_default': False}})
            self.assertEqual(st, 200, body)
        err = self.assertError(self.subnet(net, use_default_subnetpool=True), 400, 'BadRequest')
        self.assertEqual(err['message'],
                         'Bad subnets request: No default subnetpool found for IPv4.')

    def test_update_prefixes_only_grow(self):
        p = self.pool('sp-grow', ['10.30.0.0/24'], min_prefixlen=24)
        st, body = self.put('/v2.0/subnetpools/' + p['id'], {'subnetpool': {
            'prefixes': ['10.30.0.0/24', '10.30.1.0/24', '10.31.0.0/16']}})
        self.assertEqual(st, 200, body)
        got = body['subnetpool']
        self.assertEqual(got['prefixes'], ['10.30.0.0/23', '10.31.0.0/16'])
        self.assertEqual(got['revision_number'], 1)
        self.assertEqual(got['min_prefixlen'], '24')
        err = self.assertError(self.put('/v2.0/subnetpools/' + p['id'], {'subnetpool': {
            'prefixes': ['10.30.0.0/24']}}), 400, 'IllegalSubnetPoolPrefixUpdate')
        self.assertEqual(err['message'], 'Illegal update to prefixes: Existing prefixes must '
                                         'be a subset of the new prefixes.')
        self.assertError(self.put('/v2.0/subnetpools/' + p['id'], {'subnetpool': {
            'prefixes': ['10.30.0.0/23', '10.31.0.0/16', '2001:db8::/64']}}),
            400, 'PrefixVersionMismatch')
        self.assertError(self.put('/v2.0/subnetpools/' + p['id'], {'subnetpool': {
            'max_prefixlen': 20}}), 400, 'IllegalSubnetPoolPrefixBounds')
        self.assertError(self.put('/v2.0/subnetpools/' + p['id'], {'subnetpool': {
            'shared': True}}), 400, 'HTTPBadRequest', 'read-only')
        self.assertError(self.put('/v2.0/subnetpools/' + p['id'], {'subnetpool': {
            'address_scope_id': '0b6a6bf6-7bcd-4dba-a3e6-0f52f0e1a6b1'}}),
            404, 'AddressScopeNotFound')
        st, body = self.put('/v2.0/subnetpools/' + p['id'], {'subnetpool': {
            'default_prefixlen': '26', 'default_quota': 1024, 'name': 'sp-grown'}})
        self.assertEqual(st, 200, body)
        got = body['subnetpool']
        self.assertEqual((got['default_prefixlen'], got['default_quota'], got['name'],
                          got['revision_number']), ('26', 1024, 'sp-grown', 2))
        st, body = self.get('/v2.0/subnetpools/' + p['id'])
        self.assertEqual(body['subnetpool'], got)

    def test_prefix_operations(self):
        p = self.pool('sp-ops', ['10.140.0.0/24'], min_prefixlen=24)
        url = '/v2.0/subnetpools/%s/' % p['id']
        st, body = self.put(url + 'add_prefixes', {'prefixes': ['10.140.1.0/24',
                                                               '10.141.0.0/24']})
        self.assertEqual((st, body), (200, {'prefixes': ['10.140.0.0/23', '10.141.0.0/24']}))
        st, body = self.get('/v2.0/subnetpools/' + p['id'])
        self.assertEqual((body['subnetpool']['prefixes'], body['subnetpool']['revision_number']),
                         (['10.140.0.0/23', '10.141.0.0/24'], 1))
        net = self.make_network(name='sp-ops-net')
        self.ok_subnet(net, subnetpool_id=p['id'], cidr='10.140.1.0/24')
        err = self.assertError(self.put(url + 'remove_prefixes', {'prefixes': ['10.140.0.0/23']}),
                               400, 'IllegalSubnetPoolPrefixUpdate')
        self.assertEqual(err['message'], 'Illegal update to prefixes: One or more the prefixes '
                                         'to be removed is in use by a subnet.')
        st, body = self.put(url + 'remove_prefixes', {'prefixes': ['10.140.0.0/24',
                                                                  '10.141.0.128/25']})
        self.assertEqual((st, body), (200, {'prefixes': ['10.140.1.0/24', '10.141.0.0/25']}))
        # What the pool does not hold: nothing changes.
        st, body = self.put(url + 'remove_prefixes', {'prefixes': ['192.168.0.0/16']})
        self.assertEqual((st, body), (200, {'prefixes': ['10.140.1.0/24', '10.141.0.0/25']}))
        self.assertEqual(self.get('/v2.0/subnetpools/' + p['id'])[1]['subnetpool']
                         ['revision_number'], 2)
        self.assertError(self.put(url + 'add_prefixes', {'prefixes': ['2001:db8::/64']}),
                         400, 'PrefixVersionMismatch')
        self.assertError(self.put(url + 'add_prefixes', {'prefixes': []}), 400,
                         'HTTPBadRequest', 'Request body contains invalid data')
        self.assertError(self.put(url + 'add_prefixes', {'prefixes': ['10.1.2.3/8']}), 400,
                         'HTTPBadRequest', "isn't a recommended CIDR")
        self.assertError(self.get(url + 'add_prefixes'), 405, 'HTTPMethodNotAllowed')
        other = self.client('sp-ops-other')
        self.assertError(other.put(url + 'add_prefixes', {'prefixes': ['10.142.0.0/24']}),
                         404, 'SubnetPoolNotFound')
        missing = '/v2.0/subnetpools/7d1c3a52-1a61-4e2b-9f0e-0c3b1c9d2a44/add_prefixes'
        self.assertError(self.put(missing, {'prefixes': ['10.142.0.0/24']}), 404,
                         'SubnetPoolNotFound')

    # ---------- subnets from a pool ----------

    def test_allocate_any_and_specific(self):
        p = self.pool('sp-alloc', ['10.40.0.0/16'], min_prefixlen=21, default_prefixlen=24)
        net = self.make_network(name='sp-alloc-net')
        s1 = self.ok_subnet(net, subnetpool_id=p['id'])
        self.assertEqual(s1['cidr'], '10.40.0.0/24')
        self.assertEqual(s1['subnetpool_id'], p['id'])
        self.assertEqual(s1['gateway_ip'], '10.40.0.1')
        self.assertEqual(s1['allocation_pools'], [{'start': '10.40.0.2', 'end': '10.40.0.254'}])
        s2 = self.ok_subnet(net, subnetpool_id=p['id'], prefixlen=22)
        self.assertEqual(s2['cidr'], '10.40.4.0/22')
        s3 = self.ok_subnet(net, subnetpool_id=p['id'], prefixlen='25')
        # Best fit: the smallest free block that holds a /25.
        self.assertEqual(s3['cidr'], '10.40.1.0/25')
        s4 = self.ok_subnet(net, subnetpool_id=p['id'], cidr='10.40.3.0/24',
                            gateway_ip='10.40.3.254')
        self.assertEqual((s4['cidr'], s4['gateway_ip']), ('10.40.3.0/24', '10.40.3.254'))
        # A gateway without a cidr: the gateway's prefix of the default length.
        s5 = self.ok_subnet(net, subnetpool_id=p['id'], gateway_ip='10.40.9.1')
        self.assertEqual(s5['cidr'], '10.40.9.0/24')
        # A specific cidr with its own allocation pools.
        pools = [{'start': '10.40.10.10', 'end': '10.40.10.20'}]
        s6 = self.ok_subnet(net, subnetpool_id=p['id'], cidr='10.40.10.0/24',
                            allocation_pools=pools)
        self.assertEqual(s6['allocation_pools'], pools)
        st, body = self.get('/v2.0/subnets?subnetpool_id=' + p['id'])
        self.assertEqual(sorted(s['id'] for s in body['subnets']),
                         sorted(s['id'] for s in (s1, s2, s3, s4, s5, s6)))

    def test_allocation_errors(self):
        p = self.pool('sp-err', ['10.50.0.0/24'], min_prefixlen=24, max_prefixlen=28)
        net = self.make_network(name='sp-err-net')
        err = self.assertError(self.subnet(net, subnetpool_id=p['id'], prefixlen=29),
                               400, 'MaxPrefixSubnetAllocationError')
        self.assertEqual(err['message'], 'Unable to allocate subnet with prefix length 29, '
                                         'maximum allowed prefix is 28.')
        self.assertError(self.subnet(net, subnetpool_id=p['id'], cidr='10.50.0.0/23'),
                         400, 'MinPrefixSubnetAllocationError')
        self.assertError(self.subnet(net, subnetpool_id=p['id'], cidr='10.50.0.0/24',
                                     prefixlen=24), 400, 'BadRequest',
                         'cidr and prefixlen must not be supplied together')
        self.assertError(self.subnet(net, subnetpool_id=p['id'], prefixlen=26,
                                     allocation_pools=[{'start': '10.50.0.2',
                                                        'end': '10.50.0.9'}]),
                         400, 'BadRequest', 'allocation_pools allowed only')
        self.assertError(self.subnet(net, subnetpool_id=p['id'], ip_version=6),
                         400, 'BadRequest', 'Cannot allocate IPv6 subnet from IPv4 subnet pool')
        self.assertError(self.subnet(net), 400, 'BadRequest',
                         'a subnetpool must be specified in the absence of a cidr')
        missing = '5c0b5d3e-8a44-4d6e-9a3a-2a1d7c4f0e11'
        err = self.assertError(self.subnet(net, subnetpool_id=missing), 404,
                               'SubnetPoolNotFound')
        self.assertEqual(err['message'], 'Subnet pool %s could not be found.' % missing)
        self.assertError(self.subnet(net, subnetpool_id='nope', cidr='10.50.0.0/24'),
                         400, 'HTTPBadRequest')
        self.assertError(self.subnet(net, subnetpool_id=p['id'], cidr='192.168.0.0/24'),
                         409, 'SubnetAllocationError', 'Cannot allocate requested subnet')
        self.ok_subnet(net, subnetpool_id=p['id'], prefixlen=25)
        self.ok_subnet(net, subnetpool_id=p['id'], prefixlen=25)
        err = self.assertError(self.subnet(net, subnetpool_id=p['id'], prefixlen=28),
                               409, 'SubnetAllocationError')
        self.assertEqual(err['message'], 'Failed to allocate subnet: Insufficient prefix space '
                                         'to allocate subnet size /28.')
        self.assertError(self.subnet(net, subnetpool_id=p['id'], prefixlen='x'),
                         400, 'InvalidInput')
        self.assertError(self.get('/v2.0/subnets?prefixlen=24'), 400, 'HTTPBadRequest')

    def test_one_pool_per_network_and_version(self):
        a = self.pool('sp-aff-a', ['10.150.0.0/16'], min_prefixlen=24)
        b = self.pool('sp-aff-b', ['10.151.0.0/16'], min_prefixlen=24)
        v6 = self.pool('sp-aff-6', ['2001:db8:150::/48'])
        net = self.make_network(name='sp-aff-net')
        self.ok_subnet(net, subnetpool_id=a['id'])
        err = self.assertError(self.subnet(net, subnetpool_id=b['id']), 400,
                               'NetworkSubnetPoolAffinityError')
        self.assertEqual(err['message'], 'Subnets hosted on the same network must be allocated '
                                         'from the same subnet pool.')
        self.assertError(self.subnet(net, cidr='10.152.0.0/24'), 400,
                         'NetworkSubnetPoolAffinityError')
        # Another IP version is free to differ, and the same pool is fine.
        self.ok_subnet(net, ip_version=6, subnetpool_id=v6['id'])
        self.ok_subnet(net, subnetpool_id=a['id'])
        plain = self.make_network(name='sp-aff-plain')
        self.make_subnet(plain['id'], '10.153.0.0/24')
        self.assertError(self.subnet(plain, subnetpool_id=a['id']), 400,
                         'NetworkSubnetPoolAffinityError')

    def test_grown_pool_allocates_more(self):
        p = self.pool('sp-more', ['10.60.0.0/24'], min_prefixlen=24)
        net = self.make_network(name='sp-more-net')
        self.ok_subnet(net, subnetpool_id=p['id'], prefixlen=24)
        self.assertError(self.subnet(net, subnetpool_id=p['id'], prefixlen=24),
                         409, 'SubnetAllocationError')
        st, body = self.put('/v2.0/subnetpools/' + p['id'], {'subnetpool': {
            'prefixes': ['10.60.0.0/24', '10.60.1.0/24']}})
        self.assertEqual(st, 200, body)
        self.assertEqual(self.ok_subnet(net, subnetpool_id=p['id'])['cidr'], '10.60.1.0/24')

    def test_concurrent_allocations_never_overlap(self):
        p = self.pool('sp-race', ['10.70.0.0/22'], min_prefixlen=26, default_prefixlen=28)
        nets = [self.make_network(name='sp-race-%d' % i) for i in range(4)]
        results, lock = [], threading.Lock()

        def worker(net):
            c = qhvtest.Client(self.server.port)
            for _ in range(8):
                st, body = c.post('/v2.0/subnets', {'subnet': {
                    'network_id': net['id'], 'ip_version': 4, 'subnetpool_id': p['id']}})
                with lock:
                    results.append((st, body))

        threads = [threading.Thread(target=worker, args=(n,)) for n in nets]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        cidrs = []
        for st, body in results:
            self.assertEqual(st, 201, body)
            cidrs.append(ipaddress.ip_network(body['subnet']['cidr']))
        self.assertEqual(len(cidrs), 32)
        for i, a in enumerate(cidrs):
            self.assertTrue(a.subnet_of(ipaddress.ip_network('10.70.0.0/22')), a)
            for b in cidrs[i + 1:]:
                self.assertFalse(a.overlaps(b), (a, b))

    def test_default_quota(self):
        # Quota units: addresses for IPv4 (/32), /64s for IPv6.
        p = self.pool('sp-quota', ['10.80.0.0/16'], min_prefixlen=21, default_quota=2048)
        owner = self.client('sp-quota-proj')
        net = self.make_network(name='sp-quota-net', project_id='sp-quota-proj')
        # The pool is the admin's and not shared: the project uses one of its own.
        mine = self.pool('sp-quota-own', ['10.81.0.0/16'], client=owner, min_prefixlen=21,
                         default_quota=2048)
        st, body = self.subnet(net, client=owner, subnetpool_id=mine['id'], prefixlen=21)
        self.assertEqual(st, 201, body)
        err = self.assertError(self.subnet(net, client=owner, subnetpool_id=mine['id'],
                                           prefixlen=21), 409, 'SubnetPoolQuotaExceeded')
        self.assertEqual(err['message'], 'Per-tenant subnet pool prefix quota exceeded.')
        # The admin's pool is not the project's to use.
        self.assertError(self.subnet(net, client=owner, subnetpool_id=p['id']), 404,
                         'SubnetPoolNotFound')
        v6 = self.pool('sp-quota6', ['2001:db8:300::/48'], client=owner, default_quota=2)
        net6 = self.make_network(name='sp-quota6-net', project_id='sp-quota-proj')
        for _ in range(2):
            st, body = self.subnet(net6, client=owner, ip_version=6, subnetpool_id=v6['id'])
            self.assertEqual(st, 201, body)
        self.assertError(self.subnet(net6, client=owner, ip_version=6, subnetpool_id=v6['id']),
                         409, 'SubnetPoolQuotaExceeded')
        # As Neutron counts: the pool owner's subnets, whoever asks. Another
        # project's /24s in the admin's shared pool never add up.
        shared = self.pool('sp-quota-shared', ['10.82.0.0/16'], shared=True, min_prefixlen=23,
                           default_quota=256)
        net2 = self.make_network(name='sp-quota-net2', project_id='sp-quota-proj')
        for _ in range(2):
            st, body = self.subnet(net2, client=owner, subnetpool_id=shared['id'], prefixlen=24)
            self.assertEqual(st, 201, body)
        self.assertError(self.subnet(net2, client=owner, subnetpool_id=shared['id'],
                                     prefixlen=23), 409, 'SubnetPoolQuotaExceeded')
        admin_net = self.make_network(name='sp-quota-admin-net')
        self.ok_subnet(admin_net, subnetpool_id=shared['id'], prefixlen=24)
        self.assertError(self.subnet(admin_net, subnetpool_id=shared['id'], prefixlen=24),
                         409, 'SubnetPoolQuotaExceeded')

    def test_visibility_and_sharing(self):
        member = self.client('sp-vis')
        other = self.client('sp-vis-other')
        private = self.pool('sp-private', ['10.90.0.0/16'], client=member)
        self.assertEqual(private['project_id'], 'sp-vis')
        shared = self.pool('sp-shared', ['10.91.0.0/16'], shared=True, min_prefixlen=24)
        self.assertTrue(shared['shared'])
        st, body = other.get('/v2.0/subnetpools?name=sp-private&name=sp-shared')
        self.assertEqual([p['name'] for p in body['subnetpools']], ['sp-shared'])
        self.assertError(other.get('/v2.0/subnetpools/' + private['id']), 404,
                         'SubnetPoolNotFound')
        self.assertError(other.put('/v2.0/subnetpools/' + shared['id'],
                                   {'subnetpool': {'name': 'x'}}), 403, 'PolicyNotAuthorized')
        self.assertError(other.delete('/v2.0/subnetpools/' + shared['id']), 403,
                         'PolicyNotAuthorized')
        net = self.make_network(other, name='sp-vis-net')
        st, body = self.subnet(net, client=other, subnetpool_id=shared['id'])
        self.assertEqual(st, 201, body)
        self.assertEqual(body['subnet']['cidr'], '10.91.0.0/24')
        self.assertError(self.subnet(net, client=other, subnetpool_id=private['id']), 404,
                         'SubnetPoolNotFound')
        st, body = member.put('/v2.0/subnetpools/' + private['id'],
                              {'subnetpool': {'description': 'mine'}})
        self.assertEqual(st, 200, body)
        self.assertError(member.put('/v2.0/subnetpools/' + private['id'],
                                    {'subnetpool': {'is_default': True}}),
                         403, 'PolicyNotAuthorized')

    def test_delete_in_use_refused(self):
        p = self.pool('sp-del', ['10.100.0.0/16'], min_prefixlen=24)
        net = self.make_network(name='sp-del-net')
        s = self.ok_subnet(net, subnetpool_id=p['id'])
        err = self.assertError(self.delete('/v2.0/subnetpools/' + p['id']), 400,
                               'SubnetPoolDeleteError')
        self.assertEqual(err['message'],
                         'Unable to delete subnet pool: Subnet pool has existing allocations.')
        st, _ = self.delete('/v2.0/subnets/' + s['id'])
        self.assertEqual(st, 204)
        # The prefix is free again.
        s = self.ok_subnet(net, subnetpool_id=p['id'])
        self.assertEqual(s['cidr'], '10.100.0.0/24')
        self.assertEqual(self.delete('/v2.0/networks/' + net['id'])[0], 204)
        self.assertEqual(self.delete('/v2.0/subnetpools/' + p['id'])[0], 204)
        self.assertError(self.get('/v2.0/subnetpools/' + p['id']), 404, 'SubnetPoolNotFound')

    # ---------- conventions ----------

    def test_tags_filters_sorting_pagination(self):
        ps = [self.pool('sp-list-%d' % i, ['10.%d.0.0/16' % (110 + i)], min_prefixlen=16 + i,
                        default_quota=i) for i in range(4)]
        st, body = self.put('/v2.0/subnetpools/%s/tags/red' % ps[1]['id'], None)
        self.assertEqual(st, 201, body)
        st, body = self.get('/v2.0/subnetpools?tags=red')
        self.assertEqual([p['id'] for p in body['subnetpools']], [ps[1]['id']])
        st, body = self.get('/v2.0/subnetpools/' + ps[1]['id'])
        self.assertEqual((body['subnetpool']['tags'], body['subnetpool']['revision_number']),
                         (['red'], 1))
        st, body = self.get('/v2.0/subnetpools?min_prefixlen=18')
        self.assertEqual([p['name'] for p in body['subnetpools']], ['sp-list-2'])
        st, body = self.get('/v2.0/subnetpools?ip_version=4&default_quota=3&fields=name'
                            '&fields=min_prefixlen')
        self.assertEqual(body, {'subnetpools': [{'name': 'sp-list-3', 'min_prefixlen': '19'}]})
        self.assertError(self.get('/v2.0/subnetpools?bogus=1'), 400, 'HTTPBadRequest')
        q = '&'.join('name=sp-list-%d' % i for i in range(4))
        st, body = self.get('/v2.0/subnetpools?%s&sort_key=min_prefixlen&sort_dir=desc' % q)
        self.assertEqual([p['name'] for p in body['subnetpools']],
                         ['sp-list-3', 'sp-list-2', 'sp-list-1', 'sp-list-0'])
        st, body = self.get('/v2.0/subnetpools?%s&sort_key=default_quota&sort_dir=asc'
                            '&limit=2' % q)
        self.assertEqual([p['name'] for p in body['subnetpools']], ['sp-list-0', 'sp-list-1'])
        self.assertIn('next', [l['rel'] for l in body['subnetpools_links']])
        st, body = self.get('/v2.0/subnetpools?%s&sort_key=default_quota&sort_dir=asc'
                            '&limit=2&marker=%s' % (q, ps[1]['id']))
        self.assertEqual([p['name'] for p in body['subnetpools']], ['sp-list-2', 'sp-list-3'])

    def test_listed_in_root_and_extensions(self):
        st, body = self.get('/v2.0/')
        self.assertIn('subnetpools', [r['collection'] for r in body['resources']])
        st, body = self.get('/v2.0/extensions')
        aliases = {x['alias'] for x in body['extensions']}
        self.assertTrue({'subnet_allocation', 'default-subnetpools', 'subnetpool-prefix-ops'}
                        <= aliases)
        st, body = self.get('/v2.0/extensions/subnet_allocation')
        self.assertEqual(body['extension']['name'], 'Subnet Allocation')


if __name__ == '__main__':
    unittest.main()
