"""Networks: CRUD and defaults, the provider extension (local, flat, vlan,
nvgre, ip_rewrite) and segment allocation, MTU, lookups, filters, fields,
sorting, pagination, If-Match, and Neutron's delete semantics.

Base config (qhvtest): tenant_network_types = vlan,nvgre;
network_vlan_ranges = physnet1:100:2999,physnet2; vsid_ranges = 5000:5999;
flat_networks = *. Reference: /work/shared/reference/neutron-21-wire.
"""
import re
import threading
import unittest
import urllib.parse

import qhvtest

TS = re.compile(r'^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$')
UUID = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
NVGRE_MTU = 1500 - 42

# Every attribute Neutron 21 shows an admin for a network (samples 04, 10,
# 29), less what docs/api.md lists as not implemented yet.
NETWORK_KEYS = {
    'id', 'name', 'tenant_id', 'project_id', 'admin_state_up', 'mtu', 'status', 'subnets',
    'shared', 'router:external', 'provider:network_type', 'provider:physical_network',
    'provider:segmentation_id', 'description', 'tags', 'created_at', 'updated_at',
    'revision_number', 'port_security_enabled',
}


class NetworkHelpers:

    def net_url(self, nid):
        return '/v2.0/networks/' + nid

    def names(self, path, client=None):
        st, body = (client or self.admin).get(path)
        self.assertEqual(st, 200, body)
        return [n['name'] for n in body['networks']]

    def create_error(self, status, etype, message=None, **attrs):
        err = self.assertError(self.post('/v2.0/networks', {'network': attrs}), status, etype)
        if message is not None:
            self.assertEqual(err['message'], message)
        return err


class NetworksTest(NetworkHelpers, qhvtest.ServerTestCase):

    # ---------- create and defaults ----------

    def test_create_defaults(self):
        st, body = self.post('/v2.0/networks', {'network': {'name': 'n-defaults'}})
        self.assertEqual(st, 201, body)
        self.assertEqual(list(body), ['network'])
        net = body['network']
        self.assertTrue(NETWORK_KEYS <= set(net), NETWORK_KEYS - set(net))
        self.assertRegex(net['id'], UUID)
        expected = {
            'name': 'n-defaults', 'admin_state_up': True, 'shared': False, 'mtu': 1500,
            'status': 'ACTIVE', 'router:external': False, 'subnets': [], 'tags': [],
            'description': '', 'project_id': 'fake_project_id',
            'tenant_id': 'fake_project_id', 'revision_number': 1,
            'port_security_enabled': True, 'provider:network_type': 'vlan',
            'provider:physical_network': 'physnet1',
        }
        self.assertEqual({k: net[k] for k in expected}, expected)
        # A tenant network: the first tenant type (vlan), from physnet1's range.
        self.assertIsInstance(net['provider:segmentation_id'], int)
        self.assertGreaterEqual(net['provider:segmentation_id'], 100)
        self.assertLessEqual(net['provider:segmentation_id'], 2999)
        self.assertRegex(net['created_at'], TS)
        self.assertRegex(net['updated_at'], TS)
        self.assertEqual(net['created_at'], net['updated_at'])
        # GET shows the same document.
        st, got = self.get(self.net_url(net['id']))
        self.assertEqual(st, 200, got)
        self.assertEqual(got, {'network': net})

    def test_create_without_name(self):
        net = self.make_network()
        self.assertEqual(net['name'], '')
        self.assertEqual(net['description'], '')

    def test_create_for_a_project_in_the_body(self):
        # Sample 04: an admin creates for another project.
        net = self.make_network(name='n-proj', project_id='n-project-a')
        self.assertEqual((net['project_id'], net['tenant_id']), ('n-project-a', 'n-project-a'))
        net = self.make_network(name='n-proj2', tenant_id='n-project-b')
        self.assertEqual((net['project_id'], net['tenant_id']), ('n-project-b', 'n-project-b'))
        self.create_error(400, 'HTTPBadRequest', "'project_id' and 'tenant_id' do not match",
                          name='n-proj3', project_id='a', tenant_id='b')

    def test_create_attribute_values(self):
        net = self.make_network(name='n-attrs', admin_state_up=False, shared=True,
                                description='d' * 255, **{'router:external': True})
        self.assertIs(net['admin_state_up'], False)
        self.assertIs(net['shared'], True)
        self.assertIs(net['router:external'], True)
        self.assertEqual(net['description'], 'd' * 255)
        # Neutron's convert_to_boolean also takes strings.
        net = self.make_network(name='n-attrs2', admin_state_up='false')
        self.assertIs(net['admin_state_up'], False)
        self.create_error(400, 'HTTPBadRequest', name='x' * 256)
        self.create_error(400, 'HTTPBadRequest', description='x' * 256)
        self.create_error(400, 'HTTPBadRequest', name=5)
        err = self.assertError(self.post('/v2.0/networks', {'network': {
            'admin_state_up': 'maybe'}}), 400, 'InvalidInput')
        self.assertIn("'maybe' cannot be converted to boolean", err['message'])
        self.assertEqual(self.names('/v2.0/networks?name=' + 'x' * 256), [])

    # ---------- MTU ----------

    def test_mtu(self):
        net = self.make_network(name='n-mtu', mtu=1400)
        self.assertEqual(net['mtu'], 1400)
        err = self.create_error(400, 'InvalidInput', mtu=1501)
        self.assertIn('Requested MTU is too big, maximum is 1500', err['message'])
        self.create_error(400, 'HTTPBadRequest', mtu=67)
        # PUT within and above the maximum.
        st, body = self.put(self.net_url(net['id']), {'network': {'mtu': 1500}})
        self.assertEqual(st, 200, body)
        self.assertEqual(body['network']['mtu'], 1500)
        self.assertEqual(body['network']['revision_number'], 2)
        err = self.assertError(self.put(self.net_url(net['id']), {'network': {'mtu': 9000}}),
                               400, 'InvalidInput')
        self.assertIn('Requested MTU is too big, maximum is 1500', err['message'])
        st, body = self.get(self.net_url(net['id']))
        self.assertEqual((body['network']['mtu'], body['network']['revision_number']), (1500, 2))

    def test_nvgre_mtu(self):
        net = self.make_network(name='n-nvgre-mtu', **{'provider:network_type': 'nvgre'})
        self.assertEqual(net['mtu'], NVGRE_MTU)
        err = self.assertError(self.put(self.net_url(net['id']), {'network': {'mtu': 1500}}),
                               400, 'InvalidInput')
        self.assertIn('Requested MTU is too big, maximum is %d' % NVGRE_MTU, err['message'])
        st, body = self.put(self.net_url(net['id']), {'network': {'mtu': 1400}})
        self.assertEqual((st, body['network']['mtu']), (200, 1400))
        self.create_error(400, 'InvalidInput', mtu=1500, **{'provider:network_type': 'nvgre'})

    # ---------- provider: local and flat ----------

    def test_provider_local(self):
        net = self.make_network(name='n-local', **{'provider:network_type': 'local'})
        self.assertEqual((net['provider:network_type'], net['provider:physical_network'],
                          net['provider:segmentation_id'], net['mtu']),
                         ('local', None, None, 1500))
        # Any number of local networks.
        self.make_network(name='n-local2', **{'provider:network_type': 'local'})
        self.create_error(400, 'InvalidInput', **{'provider:network_type': 'local',
                                                  'provider:physical_network': 'physnet1'})
        self.create_error(400, 'InvalidInput', **{'provider:network_type': 'local',
                                                  'provider:segmentation_id': 5})

    def test_provider_flat(self):
        # Sample 05.
        net = self.make_network(name='n-flat', project_id='sample-project',
                                **{'provider:network_type': 'flat',
                                   'provider:physical_network': 'flatnet1'})
        self.assertEqual((net['provider:network_type'], net['provider:physical_network'],
                          net['provider:segmentation_id'], net['mtu'], net['project_id']),
                         ('flat', 'flatnet1', None, 1500, 'sample-project'))
        self.create_error(409, 'FlatNetworkInUse',
                          'Unable to create the flat network. Physical network flatnet1 is '
                          'in use.',
                          **{'provider:network_type': 'flat',
                             'provider:physical_network': 'flatnet1'})
        self.create_error(400, 'InvalidInput', **{'provider:network_type': 'flat'})
        self.create_error(400, 'InvalidInput', **{'provider:network_type': 'flat',
                                                  'provider:physical_network': 'flatnet2',
                                                  'provider:segmentation_id': 10})
        # A flat network and a VLAN can share a physical network; another flat
        # physnet is fine.
        self.make_network(name='n-flat-2', **{'provider:network_type': 'flat',
                                              'provider:physical_network': 'flatnet2'})
        # Freed on delete.
        self.assertEqual(self.delete(self.net_url(net['id']))[0], 204)
        self.make_network(name='n-flat-3', **{'provider:network_type': 'flat',
                                              'provider:physical_network': 'flatnet1'})

    # ---------- provider: vlan ----------

    def test_provider_vlan_explicit(self):
        net = self.make_network(name='n-vlan-101', **{
            'provider:network_type': 'vlan', 'provider:physical_network': 'physnet1',
            'provider:segmentation_id': 3101})
        self.assertEqual((net['provider:network_type'], net['provider:physical_network'],
                          net['provider:segmentation_id'], net['mtu']),
                         ('vlan', 'physnet1', 3101, 1500))
        self.create_error(409, 'VlanIdInUse',
                          'Unable to create the network. The VLAN 3101 on physical network '
                          'physnet1 is in use.',
                          **{'provider:network_type': 'vlan',
                             'provider:physical_network': 'physnet1',
                             'provider:segmentation_id': 3101})
        # (Explicit VLANs here are outside physnet1's tenant range 100-2999,
        # so that tenant networks of other tests can't have them.)
        # The same VLAN on another physical network is another segment.
        other = self.make_network(name='n-vlan-101b', **{
            'provider:network_type': 'vlan', 'provider:physical_network': 'physnet2',
            'provider:segmentation_id': 3101})
        self.assertEqual(other['provider:physical_network'], 'physnet2')
        # Bounds: 1 and 4094 are valid VLANs, outside any tenant range too.
        for vid in (1, 4094):
            n = self.make_network(**{'provider:network_type': 'vlan',
                                     'provider:physical_network': 'physnet2',
                                     'provider:segmentation_id': vid})
            self.assertEqual(n['provider:segmentation_id'], vid)

    def test_provider_vlan_segmentation_id_as_string(self):
        net = self.make_network(name='n-vlan-str', **{
            'provider:network_type': 'vlan', 'provider:physical_network': 'physnet1',
            'provider:segmentation_id': '3102'})
        self.assertEqual(net['provider:segmentation_id'], 3102)
        st, body = self.get(self.net_url(net['id']))
        self.assertEqual(body['network']['provider:segmentation_id'], 3102)
        self.create_error(409, 'VlanIdInUse', **{'provider:network_type': 'vlan',
                                                 'provider:physical_network': 'physnet1',
                                                 'provider:segmentation_id': 3102})

    def test_provider_vlan_out_of_range(self):
        # Sample 06, exactly.
        for vid in (5000, 0, 4095, -1, '5000'):
            self.create_error(400, 'InvalidInput',
                              'Invalid input for operation: segmentation_id out of range '
                              '(1 through 4094).',
                              name='s-bad', **{'provider:network_type': 'vlan',
                                               'provider:physical_network': 'physnet1',
                                               'provider:segmentation_id': vid})
        self.assertEqual(self.names('/v2.0/networks?name=s-bad'), [])

    def test_provider_vlan_invalid(self):
        err = self.create_error(400, 'InvalidInput', **{
            'provider:network_type': 'vlan', 'provider:physical_network': 'physnet9',
            'provider:segmentation_id': 200})
        self.assertIn('physnet9', err['message'])
        self.create_error(400, 'InvalidInput', **{
            'provider:network_type': 'vlan', 'provider:physical_network': 'physnet9'})
        # A segmentation id needs a physical network.
        self.create_error(400, 'InvalidInput', **{
            'provider:network_type': 'vlan', 'provider:segmentation_id': 200})
        # Not an integer.
        self.create_error(400, 'InvalidInput', **{
            'provider:network_type': 'vlan', 'provider:physical_network': 'physnet1',
            'provider:segmentation_id': 'abc'})
        # Unknown network type; type missing.
        self.create_error(400, 'HTTPBadRequest', **{'provider:network_type': 'vxlan'})
        self.create_error(400, 'InvalidInput', **{'provider:physical_network': 'physnet1',
                                                  'provider:segmentation_id': 200})
        self.create_error(400, 'InvalidInput', **{'provider:segmentation_id': 200})

    def test_provider_vlan_allocated_from_physnet(self):
        # vlan on physnet1 without an id: from physnet1's range.
        net = self.make_network(name='n-vlan-auto', **{
            'provider:network_type': 'vlan', 'provider:physical_network': 'physnet1'})
        self.assertEqual(net['provider:physical_network'], 'physnet1')
        self.assertTrue(100 <= net['provider:segmentation_id'] <= 2999, net)
        # vlan without a physnet: from any range (only physnet1 has one).
        net = self.make_network(name='n-vlan-auto2', **{'provider:network_type': 'vlan'})
        self.assertEqual(net['provider:physical_network'], 'physnet1')
        self.assertTrue(100 <= net['provider:segmentation_id'] <= 2999, net)
        # physnet2 has no range: nothing to allocate from.
        self.create_error(503, 'NoNetworkAvailable',
                          'Unable to create the network. No tenant network is available for '
                          'allocation.',
                          **{'provider:network_type': 'vlan',
                             'provider:physical_network': 'physnet2'})

    def test_segment_freed_on_delete(self):
        spec = {'provider:network_type': 'vlan', 'provider:physical_network': 'physnet1',
                'provider:segmentation_id': 3000}
        for _ in range(3):
            net = self.make_network(name='n-reuse', **spec)
            self.assertEqual(net['provider:segmentation_id'], 3000)
            self.create_error(409, 'VlanIdInUse', **spec)
            self.assertEqual(self.delete(self.net_url(net['id']))[0], 204)
        spec = {'provider:network_type': 'nvgre', 'provider:segmentation_id': 9000}
        for _ in range(2):
            net = self.make_network(name='n-reuse-nvgre', **spec)
            self.assertEqual(self.delete(self.net_url(net['id']))[0], 204)
        # A failed create takes nothing: the id stays free.
        self.create_error(400, 'HTTPBadRequest', bogus=1, **spec)
        self.make_network(name='n-reuse-nvgre', **spec)

    # ---------- provider: nvgre and ip_rewrite ----------

    def test_provider_nvgre(self):
        net = self.make_network(name='n-nvgre', **{'provider:network_type': 'nvgre'})
        self.assertEqual((net['provider:network_type'], net['provider:physical_network']),
                         ('nvgre', None))
        self.assertTrue(5000 <= net['provider:segmentation_id'] <= 5999, net)
        for vsid in (4096, 16777214, 8000):
            n = self.make_network(**{'provider:network_type': 'nvgre',
                                     'provider:segmentation_id': vsid})
            self.assertEqual(n['provider:segmentation_id'], vsid)
        for vsid in (4095, 16777215, 1, 100):
            err = self.create_error(400, 'InvalidInput', **{
                'provider:network_type': 'nvgre', 'provider:segmentation_id': vsid})
            self.assertIn('segmentation_id out of range', err['message'])
        self.create_error(409, 'TunnelIdInUse',
                          'Unable to create the network. The tunnel ID 8000 is in use.',
                          **{'provider:network_type': 'nvgre',
                             'provider:segmentation_id': 8000})
        err = self.create_error(400, 'InvalidInput', **{
            'provider:network_type': 'nvgre', 'provider:physical_network': 'physnet1'})
        self.assertIn('physical_network', err['message'])
        self.create_error(400, 'InvalidInput', **{
            'provider:network_type': 'nvgre', 'provider:physical_network': 'physnet1',
            'provider:segmentation_id': 8001})

    def test_provider_ip_rewrite_shares_vsid_space(self):
        net = self.make_network(name='n-iprw', **{'provider:network_type': 'ip_rewrite'})
        self.assertEqual((net['provider:network_type'], net['provider:physical_network']),
                         ('ip_rewrite', None))
        self.assertTrue(5000 <= net['provider:segmentation_id'] <= 5999, net)
        n = self.make_network(name='n-iprw2', **{'provider:network_type': 'ip_rewrite',
                                                 'provider:segmentation_id': 7000})
        self.assertEqual(n['provider:segmentation_id'], 7000)
        # nvgre and ip_rewrite: one VSID space, both ways.
        self.create_error(409, 'TunnelIdInUse', **{'provider:network_type': 'nvgre',
                                                   'provider:segmentation_id': 7000})
        self.make_network(**{'provider:network_type': 'nvgre',
                             'provider:segmentation_id': 7001})
        self.create_error(409, 'TunnelIdInUse', **{'provider:network_type': 'ip_rewrite',
                                                   'provider:segmentation_id': 7001})
        # The automatically chosen VSIDs are taken too.
        self.create_error(409, 'TunnelIdInUse', **{
            'provider:network_type': 'nvgre',
            'provider:segmentation_id': net['provider:segmentation_id']})
        for vsid in (4095, 16777215):
            self.create_error(400, 'InvalidInput', **{'provider:network_type': 'ip_rewrite',
                                                      'provider:segmentation_id': vsid})
        self.create_error(400, 'InvalidInput', **{'provider:network_type': 'ip_rewrite',
                                                  'provider:physical_network': 'physnet1'})

    def test_tenant_networks_get_distinct_segments(self):
        member = self.client('n-tenant-proj')
        seen = set()
        for i in range(6):
            st, body = member.post('/v2.0/networks', {'network': {'name': 'n-tenant-%d' % i}})
            self.assertEqual(st, 201, body)
            self.assertNotIn('provider:network_type', body['network'])
            st, full = self.get(self.net_url(body['network']['id']))
            net = full['network']
            self.assertEqual((net['provider:network_type'], net['provider:physical_network']),
                             ('vlan', 'physnet1'))
            self.assertTrue(100 <= net['provider:segmentation_id'] <= 2999, net)
            self.assertEqual(net['mtu'], 1500)
            seen.add(net['provider:segmentation_id'])
        self.assertEqual(len(seen), 6)

    def test_concurrent_tenant_networks_get_distinct_segments(self):
        results = [None] * 48

        def worker(k):
            client = self.client('n-conc-%d' % k)
            for i in range(k, 48, 8):
                results[i] = client.post('/v2.0/networks', {'network': {'name': 'n-conc'}})
        ts = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        for st, body in results:
            self.assertEqual(st, 201, body)
        st, body = self.get('/v2.0/networks?name=n-conc')
        segs = [(n['provider:network_type'], n['provider:physical_network'],
                 n['provider:segmentation_id']) for n in body['networks']]
        self.assertEqual(len(segs), 48)
        self.assertEqual(len(set(segs)), 48)

    def test_filter_by_provider_attributes(self):
        n1 = self.make_network(name='n-pf', **{'provider:network_type': 'nvgre',
                                               'provider:segmentation_id': 8500})
        n2 = self.make_network(name='n-pf', **{'provider:network_type': 'vlan',
                                               'provider:physical_network': 'physnet2',
                                               'provider:segmentation_id': 8})
        st, body = self.get('/v2.0/networks?name=n-pf&provider:network_type=nvgre')
        self.assertEqual([n['id'] for n in body['networks']], [n1['id']])
        st, body = self.get('/v2.0/networks?name=n-pf&provider:segmentation_id=8')
        self.assertEqual([n['id'] for n in body['networks']], [n2['id']])
        st, body = self.get('/v2.0/networks?name=n-pf&provider:physical_network=physnet2')
        self.assertEqual([n['id'] for n in body['networks']], [n2['id']])

    # ---------- show, update, delete ----------

    def test_get_by_name_is_not_found(self):
        net = self.make_network(name='n-byname')
        self.assertEqual(self.get('/v2.0/networks/n-byname'), (404, {'NeutronError': {
            'type': 'NetworkNotFound', 'message': 'Network n-byname could not be found.',
            'detail': ''}}))
        # What the CLI does next.
        st, body = self.get('/v2.0/networks?name=n-byname')
        self.assertEqual([n['id'] for n in body['networks']], [net['id']])
        missing = '00000000-0000-0000-0000-00000000beef'
        msg = {'NeutronError': {'type': 'NetworkNotFound',
                                'message': 'Network %s could not be found.' % missing,
                                'detail': ''}}
        self.assertEqual(self.get(self.net_url(missing)), (404, msg))
        self.assertEqual(self.put(self.net_url(missing), {'network': {'name': 'x'}}), (404, msg))
        self.assertEqual(self.delete(self.net_url(missing)), (404, msg))

    def test_update(self):
        net = self.make_network(name='n-upd')
        st, body = self.put(self.net_url(net['id']), {'network': {
            'name': 'n-upd2', 'admin_state_up': False, 'description': 'hello',
            'port_security_enabled': False}})
        self.assertEqual(st, 200, body)
        upd = body['network']
        self.assertEqual((upd['name'], upd['admin_state_up'], upd['description'],
                          upd['port_security_enabled'], upd['revision_number']),
                         ('n-upd2', False, 'hello', False, 2))
        self.assertEqual(upd['created_at'], net['created_at'])
        self.assertRegex(upd['updated_at'], TS)
        self.assertGreaterEqual(upd['updated_at'], net['updated_at'])
        for k in ('id', 'provider:network_type', 'provider:physical_network',
                  'provider:segmentation_id', 'mtu', 'project_id', 'shared'):
            self.assertEqual(upd[k], net[k], k)
        st, got = self.get(self.net_url(net['id']))
        self.assertEqual(got['network'], upd)
        # Setting the same values changes nothing, not even the revision.
        st, body = self.put(self.net_url(net['id']), {'network': {'name': 'n-upd2'}})
        self.assertEqual((st, body['network']['revision_number']), (200, 2))
        # Admin-only attributes, as admin.
        st, body = self.put(self.net_url(net['id']), {'network': {
            'shared': True, 'router:external': True}})
        self.assertEqual(st, 200, body)
        self.assertEqual((body['network']['shared'], body['network']['router:external'],
                          body['network']['revision_number']), (True, True, 3))
        self.assertError(self.put(self.net_url(net['id']), {'network': {'name': 'x' * 256}}),
                         400, 'HTTPBadRequest')
        self.assertError(self.put(self.net_url(net['id']), {'network': 'n'}), 400,
                         'HTTPBadRequest')

    def test_if_match(self):
        net = self.make_network(name='n-ifmatch')
        url = self.net_url(net['id'])
        st, body = self.put(url, {'network': {'name': 'n-ifmatch2'}},
                            headers={'If-Match': 'revision_number=1'})
        self.assertEqual(st, 200, body)
        self.assertEqual(body['network']['revision_number'], 2)
        self.assertError(self.put(url, {'network': {'name': 'n-ifmatch3'}},
                                  headers={'If-Match': 'revision_number=1'}),
                         412, 'RevisionNumberConstraintFailed')
        st, body = self.get(url)
        self.assertEqual((body['network']['name'], body['network']['revision_number']),
                         ('n-ifmatch2', 2))
        self.assertError(self.delete(url, headers={'If-Match': 'revision_number=1'}),
                         412, 'RevisionNumberConstraintFailed')
        self.assertError(self.delete(url, headers={'If-Match': 'revision_number=3'}),
                         412, 'RevisionNumberConstraintFailed')
        self.assertEqual(self.get(url)[0], 200)
        st, _ = self.delete(url, headers={'If-Match': 'revision_number=2'})
        self.assertEqual(st, 204)
        self.assertEqual(self.get(url)[0], 404)

    def test_delete_network_in_use(self):
        net = self.make_network(name='n-inuse')
        self.make_subnet(net['id'], '10.60.0.0/24')
        p1 = self.make_port(net['id'])
        p2 = self.make_port(net['id'], device_owner='compute:nova')
        st, body = self.delete(self.net_url(net['id']))
        err = self.assertError((st, body), 409, 'NetworkInUse')
        # Sample 30: every port in use, in id order.
        ids = ','.join(sorted([p1['id'], p2['id']]))
        self.assertEqual(err['message'],
                         'Unable to complete operation on network %s. There are one or more '
                         'ports still in use on the network, id for these ports is: %s.'
                         % (net['id'], ids))
        self.assertEqual(err['detail'], '')
        self.assertEqual(self.get(self.net_url(net['id']))[0], 200)
        self.assertEqual(self.get('/v2.0/ports/' + p1['id'])[0], 200)
        self.assertEqual(self.delete('/v2.0/ports/' + p1['id'])[0], 204)
        self.assertError(self.delete(self.net_url(net['id'])), 409, 'NetworkInUse', p2['id'])
        self.assertEqual(self.delete('/v2.0/ports/' + p2['id'])[0], 204)
        st, _ = self.delete(self.net_url(net['id']))
        self.assertEqual(st, 204)
        self.assertError(self.get(self.net_url(net['id'])), 404, 'NetworkNotFound')

    def test_delete_network_with_dhcp_port_and_subnets(self):
        net = self.make_network(name='n-dhcp', **{'provider:network_type': 'vlan',
                                                  'provider:physical_network': 'physnet1',
                                                  'provider:segmentation_id': 3001})
        s4 = self.make_subnet(net['id'], '10.61.0.0/24')
        s6 = self.make_subnet(net['id'], 'fd00:61::/64')
        dhcp = self.make_port(net['id'], device_owner='network:dhcp', device_id='dhcp-host')
        self.assertEqual(len(dhcp['fixed_ips']), 2)
        st, body = self.delete(self.net_url(net['id']))
        self.assertEqual(st, 204, body)
        self.assertError(self.get(self.net_url(net['id'])), 404, 'NetworkNotFound')
        self.assertError(self.get('/v2.0/ports/' + dhcp['id']), 404, 'PortNotFound')
        self.assertError(self.get('/v2.0/subnets/' + s4['id']), 404, 'SubnetNotFound')
        self.assertError(self.get('/v2.0/subnets/' + s6['id']), 404, 'SubnetNotFound')
        st, body = self.get('/v2.0/ports?network_id=' + net['id'])
        self.assertEqual(body['ports'], [])
        st, body = self.get('/v2.0/subnets?network_id=' + net['id'])
        self.assertEqual(body['subnets'], [])
        # The segment is free again, and the CIDRs can be used anew.
        again = self.make_network(name='n-dhcp', **{'provider:network_type': 'vlan',
                                                    'provider:physical_network': 'physnet1',
                                                    'provider:segmentation_id': 3001})
        s = self.make_subnet(again['id'], '10.61.0.0/24')
        old_v4 = [f['ip_address'] for f in dhcp['fixed_ips'] if f['subnet_id'] == s4['id']]
        port = self.make_port(again['id'], fixed_ips=[
            {'subnet_id': s['id'], 'ip_address': old_v4[0]}])
        self.assertEqual(port['fixed_ips'][0]['ip_address'], old_v4[0])

    def test_delete_network_with_only_subnets(self):
        net = self.make_network(name='n-del-subnets')
        sub = self.make_subnet(net['id'], '10.62.0.0/24')
        self.assertEqual(self.delete(self.net_url(net['id']))[0], 204)
        self.assertError(self.get('/v2.0/subnets/' + sub['id']), 404, 'SubnetNotFound')

    # ---------- lists: filters and fields ----------

    def test_filters(self):
        a = self.make_network(name='nf-a')
        b = self.make_network(name='nf-b', admin_state_up=False)
        c = self.make_network(name='nf-c', shared=True)
        q = 'name=nf-a&name=nf-b&name=nf-c'
        self.assertEqual(self.names('/v2.0/networks?name=nf-a'), ['nf-a'])
        self.assertEqual(sorted(self.names('/v2.0/networks?name=nf-a&name=nf-b')),
                         ['nf-a', 'nf-b'])
        self.assertEqual(sorted(self.names('/v2.0/networks?%s&shared=false' % q)),
                         ['nf-a', 'nf-b'])
        self.assertEqual(sorted(self.names('/v2.0/networks?%s&shared=False' % q)),
                         ['nf-a', 'nf-b'])
        self.assertEqual(self.names('/v2.0/networks?%s&shared=true' % q), ['nf-c'])
        self.assertEqual(sorted(self.names('/v2.0/networks?%s&admin_state_up=true' % q)),
                         ['nf-a', 'nf-c'])
        self.assertEqual(self.names('/v2.0/networks?%s&admin_state_up=false&shared=false' % q),
                         ['nf-b'])
        self.assertEqual(self.names('/v2.0/networks?%s&admin_state_up=false&shared=true' % q),
                         [])
        self.assertEqual(sorted(self.names('/v2.0/networks?%s&id=%s&id=%s'
                                           % (q, a['id'], c['id']))), ['nf-a', 'nf-c'])
        self.assertEqual(self.names('/v2.0/networks?%s&status=ACTIVE&mtu=1500&id=%s'
                                    % (q, b['id'])), ['nf-b'])
        self.assertEqual(self.names('/v2.0/networks?name=nf-nothing'), [])
        self.assertEqual(sorted(self.names('/v2.0/networks?%s&project_id=fake_project_id' % q)),
                         ['nf-a', 'nf-b', 'nf-c'])
        self.assertEqual(self.names('/v2.0/networks?%s&tenant_id=other' % q), [])

    def test_names_with_spaces_and_unicode(self):
        for name in ('two words', 'ünïcødé-网络', 'a&b=c', '100%'):
            net = self.make_network(name=name)
            self.assertEqual(net['name'], name)
            st, body = self.get('/v2.0/networks?name=' + urllib.parse.quote(name, safe=''))
            self.assertEqual([n['id'] for n in body['networks']], [net['id']], name)
            st, body = self.get(self.net_url(net['id']))
            self.assertEqual(body['network']['name'], name)

    def test_invalid_filters(self):
        for query in ('shared=maybe', 'admin_state_up=2x', 'shared='):
            st, body = self.get('/v2.0/networks?' + query)
            self.assertEqual(st, 400, (query, body))
            self.assertEqual(set(body['NeutronError']), {'type', 'message', 'detail'})
        err = self.assertError(self.get('/v2.0/networks?bogus=1'), 400, 'HTTPBadRequest')
        self.assertEqual(err['message'], 'bogus is invalid attribute for filtering')
        self.assertError(self.get('/v2.0/networks?mtu=big'), 400, 'HTTPBadRequest')

    def test_fields(self):
        net = self.make_network(name='n-fields')
        st, body = self.get(self.net_url(net['id']) + '?fields=id&fields=name&fields=bogus')
        self.assertEqual((st, body), (200, {'network': {'id': net['id'], 'name': 'n-fields'}}))
        st, body = self.get('/v2.0/networks?name=n-fields&fields=name&fields=mtu&fields=nope')
        self.assertEqual(body, {'networks': [{'name': 'n-fields', 'mtu': 1500}]})
        st, body = self.get(self.net_url(net['id']) + '?fields=provider:segmentation_id')
        self.assertEqual(body, {'network': {
            'provider:segmentation_id': net['provider:segmentation_id']}})

    # ---------- lists: sorting ----------

    def test_sorting(self):
        for name, mtu in (('ns-b', 1400), ('ns-c', 1300), ('ns-a', 1300)):
            self.make_network(name=name, mtu=mtu)
        q = '/v2.0/networks?name=ns-a&name=ns-b&name=ns-c'
        # Neutron: sort_key and sort_dir come in pairs.
        self.assertError(self.get(q + '&sort_key=name'), 400, 'HTTPBadRequest')
        self.assertEqual(self.names(q + '&sort_key=name&sort_dir=asc'), ['ns-a', 'ns-b', 'ns-c'])
        self.assertEqual(self.names(q + '&sort_key=name&sort_dir=desc'), ['ns-c', 'ns-b', 'ns-a'])
        self.assertEqual(self.names(q + '&sort_key=mtu&sort_dir=desc&sort_key=name&sort_dir=asc'),
                         ['ns-b', 'ns-a', 'ns-c'])
        self.assertEqual(self.names(q + '&sort_key=mtu&sort_dir=asc&sort_key=name&sort_dir=desc'),
                         ['ns-c', 'ns-a', 'ns-b'])
        err = self.assertError(self.get(q + '&sort_key=bogus&sort_dir=asc'), 400, 'HTTPBadRequest')
        self.assertEqual(err['message'], 'bogus is invalid attribute for sort_keys')
        self.assertError(self.get(q + '&sort_key=name&sort_dir=sideways'), 400, 'HTTPBadRequest')
        # Lists can't be sorted on.
        self.assertError(self.get(q + '&sort_key=subnets&sort_dir=asc'), 400, 'HTTPBadRequest')


class NetworkPaginationTest(NetworkHelpers, qhvtest.ServerTestCase):
    """Its own server, so that lists hold exactly what the tests made."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ids = []
        for i in range(5):
            st, body = cls.admin.post('/v2.0/networks', {'network': {'name': 'page-%d' % i}})
            assert st == 201, body
            cls.ids.append(body['network']['id'])
        cls.ids.sort()     # Neutron's default order with pagination: by id

    def page(self, path):
        st, body = self.get(path)
        self.assertEqual(st, 200, body)
        links = {l['rel']: l['href'] for l in body.get('networks_links', [])}
        return [n['id'] for n in body['networks']], links

    def follow(self, href):
        prefix = 'http://127.0.0.1:%d/v2.0/networks?' % self.server.port
        self.assertTrue(href.startswith(prefix), href)
        return self.page(href[len('http://127.0.0.1:%d' % self.server.port):])

    def query(self, href):
        return urllib.parse.parse_qs(urllib.parse.urlsplit(href).query)

    def test_limit_and_links(self):
        ids = self.ids
        got, links = self.page('/v2.0/networks?limit=2')
        self.assertEqual(got, ids[:2])
        # Sample 23: a first page has both links.
        self.assertEqual(set(links), {'next', 'previous'})
        self.assertEqual(self.query(links['next']), {'limit': ['2'], 'marker': [ids[1]]})
        self.assertEqual(self.query(links['previous']),
                         {'limit': ['2'], 'marker': [ids[0]], 'page_reverse': ['True']})
        got, links = self.follow(links['next'])
        self.assertEqual(got, ids[2:4])
        self.assertEqual(set(links), {'next', 'previous'})
        got, last_links = self.follow(links['next'])
        self.assertEqual(got, ids[4:])
        # A short last page: no next link.
        self.assertEqual(set(last_links), {'previous'})
        self.assertEqual(self.query(last_links['previous']),
                         {'limit': ['2'], 'marker': [ids[4]], 'page_reverse': ['True']})
        # Back from there.
        got, links = self.follow(last_links['previous'])
        self.assertEqual(got, ids[2:4])
        self.assertEqual(set(links), {'next', 'previous'})
        got, links = self.follow(links['previous'])
        self.assertEqual(got, ids[0:2])
        got, links = self.follow(links['previous'])
        self.assertEqual(got, [])

    def test_page_reverse(self):
        ids = self.ids
        got, links = self.page('/v2.0/networks?limit=2&marker=%s&page_reverse=True' % ids[3])
        self.assertEqual(got, ids[1:3])
        got, links = self.page('/v2.0/networks?limit=10&marker=%s&page_reverse=true' % ids[3])
        self.assertEqual(got, ids[0:3])
        self.assertEqual(set(links), {'next'})
        got, links = self.page('/v2.0/networks?marker=%s' % ids[2])
        self.assertEqual(got, ids[3:])
        # Without a marker, a reverse page is the last one.
        got, links = self.page('/v2.0/networks?limit=2&page_reverse=True')
        self.assertEqual(got, ids[3:5])
        self.assertEqual(self.query(links['previous'])['marker'], [ids[3]])

    def test_limit_keeps_filters_and_fields_in_links(self):
        ids = self.ids
        got, links = self.page('/v2.0/networks?name=page-0&name=page-1&name=page-2'
                               '&fields=id&fields=name&limit=1')
        self.assertEqual(len(got), 1)
        q = self.query(links['next'])
        self.assertEqual(q['name'], ['page-0', 'page-1', 'page-2'])
        self.assertEqual(q['fields'], ['id', 'name'])
        seen = list(got)
        while 'next' in links:
            got, links = self.follow(links['next'])
            seen += got
        expected = sorted(i for i in ids if i in seen)
        self.assertEqual(len(seen), 3)
        self.assertEqual(seen, expected)

    def test_limit_with_sort(self):
        st, body = self.get('/v2.0/networks?sort_key=name&sort_dir=desc&limit=2')
        self.assertEqual([n['name'] for n in body['networks']], ['page-4', 'page-3'])
        links = {l['rel']: l['href'] for l in body['networks_links']}
        st, body = self.get(links['next'][len('http://127.0.0.1:%d' % self.server.port):])
        self.assertEqual([n['name'] for n in body['networks']], ['page-2', 'page-1'])

    def test_pages_on_a_non_unique_sort_key(self):
        """Equal keys (all MTUs are 1500) are ordered by id, so pages neither
        repeat nor skip anything, both ways."""
        got, links = self.page('/v2.0/networks?sort_key=mtu&sort_dir=desc&limit=2')
        seen = list(got)
        while 'next' in links:
            got, links = self.follow(links['next'])
            seen += got
        self.assertEqual(seen, self.ids)
        got, links = self.page('/v2.0/networks?sort_key=mtu&sort_dir=desc&limit=2&marker=%s&page_reverse=True'
                               % self.ids[4])
        self.assertEqual(got, self.ids[2:4])

    def test_limit_zero_and_large(self):
        got, links = self.page('/v2.0/networks?limit=0')
        self.assertEqual((got, links), (self.ids, {}))
        got, links = self.page('/v2.0/networks?limit=100')
        self.assertEqual((got, set(links)), (self.ids, {'previous'}))

    def test_bad_pagination(self):
        for query in ('limit=x', 'limit=-1', 'limit=1.5', 'marker=bogus&limit=1',
                      'marker=00000000-0000-0000-0000-000000000000&limit=1',
                      'limit=1&page_reverse=maybe', 'sort_key=bogus', 'sort_dir=up&sort_key=name'):
            st, body = self.get('/v2.0/networks?' + query)
            self.assertEqual(st, 400, (query, body))
            self.assertEqual(body['NeutronError']['type'], 'HTTPBadRequest', query)


class TenantExhaustionTest(NetworkHelpers, qhvtest.ServerTestCase):
    extra_conf = """
[ml2]
tenant_network_types = vlan
[ml2_type_vlan]
network_vlan_ranges = physnet1:10:12
"""

    def test_exhaustion_and_release(self):
        nets = [self.make_network(name='ex-%d' % i) for i in range(3)]
        self.assertEqual(sorted(n['provider:segmentation_id'] for n in nets), [10, 11, 12])
        for n in nets:
            self.assertEqual((n['provider:network_type'], n['provider:physical_network']),
                             ('vlan', 'physnet1'))
        msg = 'Unable to create the network. No tenant network is available for allocation.'
        self.create_error(503, 'NoNetworkAvailable', msg, name='ex-3')
        member = self.client('ex-project')
        err = self.assertError(member.post('/v2.0/networks', {'network': {'name': 'ex-4'}}),
                               503, 'NoNetworkAvailable')
        self.assertEqual(err['message'], msg)
        self.assertEqual(self.names('/v2.0/networks?name=ex-3&name=ex-4'), [])
        # An admin may still take a VLAN outside the tenant ranges.
        self.make_network(name='ex-admin', **{'provider:network_type': 'vlan',
                                              'provider:physical_network': 'physnet1',
                                              'provider:segmentation_id': 13})
        self.create_error(503, 'NoNetworkAvailable', msg, name='ex-5')
        # Freed on delete, and given again.
        freed = nets[1]['provider:segmentation_id']
        self.assertEqual(self.delete('/v2.0/networks/' + nets[1]['id'])[0], 204)
        again = self.make_network(name='ex-again')
        self.assertEqual(again['provider:segmentation_id'], freed)
        self.create_error(503, 'NoNetworkAvailable', msg, name='ex-6')


class TenantTypeOrderTest(NetworkHelpers, qhvtest.ServerTestCase):
    """tenant_network_types is an order of preference: VLANs first, then
    NVGRE once no VLAN is left."""
    extra_conf = """
[ml2_type_vlan]
network_vlan_ranges = physnet1:20:21,physnet2
[ml2_type_nvgre]
vsid_ranges = 6000:6001
"""

    def test_vlan_then_nvgre_then_nothing(self):
        nets = [self.make_network(name='order-%d' % i) for i in range(4)]
        got = [(n['provider:network_type'], n['provider:physical_network'],
                n['provider:segmentation_id'], n['mtu']) for n in nets]
        self.assertEqual(sorted(got[:2]), [('vlan', 'physnet1', 20, 1500),
                                           ('vlan', 'physnet1', 21, 1500)])
        self.assertEqual(sorted(got[2:]), [('nvgre', None, 6000, NVGRE_MTU),
                                           ('nvgre', None, 6001, NVGRE_MTU)])
        self.create_error(503, 'NoNetworkAvailable', name='order-4')
        # An explicit ip_rewrite VSID inside the range leaves fewer for tenants.
        self.assertEqual(self.delete('/v2.0/networks/' + nets[3]['id'])[0], 204)
        freed = nets[3]['provider:segmentation_id']
        self.make_network(name='order-rw', **{'provider:network_type': 'ip_rewrite',
                                              'provider:segmentation_id': freed})
        self.create_error(503, 'NoNetworkAvailable', name='order-5')
        # A freed VLAN is preferred again over NVGRE.
        self.assertEqual(self.delete('/v2.0/networks/' + nets[0]['id'])[0], 204)
        again = self.make_network(name='order-6')
        self.assertEqual((again['provider:network_type'], again['provider:segmentation_id']),
                         ('vlan', nets[0]['provider:segmentation_id']))


if __name__ == '__main__':
    unittest.main()
