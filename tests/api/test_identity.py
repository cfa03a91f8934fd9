"""Identity and policy without Keystone (noauth): who owns what, who sees
what, and which attributes are admin-only.

- No identity headers: admin of [DEFAULT] default_project_id (sample 10).
- X-Project-Id + X-Roles member: acts for that project (as behind
  Keystone), sees its own resources and shared networks.
- X-Roles admin with X-Project-Id: admin.
"""
import http.client
import json
import unittest

import qhvtest

PROVIDER = ('provider:network_type', 'provider:physical_network', 'provider:segmentation_id')
BINDING_ADMIN = ('binding:host_id', 'binding:vif_type', 'binding:vif_details', 'binding:profile')


class IdentityTest(qhvtest.ServerTestCase):

    def setUp(self):
        self.alice = self.client('id-alice')
        self.bob = self.client('id-bob')

    def net_ids(self, client, query=''):
        st, body = client.get('/v2.0/networks' + query)
        self.assertEqual(st, 200, body)
        return {n['id'] for n in body['networks']}

    # ---------- who owns what ----------

    def test_no_headers_is_admin_of_default_project(self):
        # Sample 10.
        st, body = self.post('/v2.0/networks', {'network': {'name': 's-fake'}})
        self.assertEqual(st, 201, body)
        net = body['network']
        self.assertEqual((net['project_id'], net['tenant_id']),
                         ('fake_project_id', 'fake_project_id'))
        for k in PROVIDER:
            self.assertIn(k, net)
        # Admin: sees every project's networks, may write admin-only attributes.
        mine = self.make_network(client=self.alice, name='id-admin-sees')
        self.assertIn(mine['id'], self.net_ids(self.admin))
        st, body = self.get('/v2.0/networks/' + mine['id'])
        self.assertEqual(st, 200, body)
        self.assertEqual(body['network']['project_id'], 'id-alice')
        for k in PROVIDER:
            self.assertIn(k, body['network'])
        st, body = self.put('/v2.0/networks/' + mine['id'], {'network': {'shared': True}})
        self.assertEqual((st, body['network']['shared']), (200, True))
        st, body = self.put('/v2.0/networks/' + mine['id'], {'network': {'name': 'by-admin'}})
        self.assertEqual((st, body['network']['project_id']), (200, 'id-alice'))

    def test_body_project_sets_owner(self):
        net = self.make_network(name='id-for-alice', project_id='id-alice')
        self.assertEqual((net['project_id'], net['tenant_id']), ('id-alice', 'id-alice'))
        self.assertIn(net['id'], self.net_ids(self.alice))
        self.assertNotIn(net['id'], self.net_ids(self.bob))
        sub = self.make_subnet(net['id'], '10.120.0.0/24', tenant_id='id-alice')
        self.assertEqual(sub['project_id'], 'id-alice')
        st, body = self.alice.get('/v2.0/subnets/' + sub['id'])
        self.assertEqual(st, 200, body)
        # Alice may now do with them what an owner may.
        st, body = self.alice.put('/v2.0/networks/' + net['id'], {'network': {'name': 'x'}})
        self.assertEqual(st, 200, body)
        st, body = self.alice.put('/v2.0/subnets/' + sub['id'], {'subnet': {'name': 'y'}})
        self.assertEqual(st, 200, body)

    def test_member_acts_for_its_project(self):
        st, body = self.alice.post('/v2.0/networks', {'network': {'name': 'id-alice-net'}})
        self.assertEqual(st, 201, body)
        net = body['network']
        self.assertEqual((net['project_id'], net['tenant_id']), ('id-alice', 'id-alice'))
        # Its own project in the body is fine.
        net2 = self.make_network(client=self.alice, name='id-alice-net2', project_id='id-alice')
        self.assertEqual(net2['project_id'], 'id-alice')
        sub = self.make_subnet(net['id'], '10.121.0.0/24', client=self.alice)
        self.assertEqual(sub['project_id'], 'id-alice')
        port = self.make_port(net['id'], client=self.alice)
        self.assertEqual(port['project_id'], 'id-alice')
        self.assertEqual(len(port['fixed_ips']), 1)
        # The owner updates and deletes.
        st, body = self.alice.put('/v2.0/ports/' + port['id'], {'port': {'name': 'p'}})
        self.assertEqual((st, body['port']['name']), (200, 'p'))
        self.assertEqual(self.alice.delete('/v2.0/ports/' + port['id'])[0], 204)
        self.assertEqual(self.alice.delete('/v2.0/subnets/' + sub['id'])[0], 204)
        self.assertEqual(self.alice.delete('/v2.0/networks/' + net['id'])[0], 204)

    def test_member_cannot_act_for_another_project(self):
        msg = ("Specifying 'project_id' or 'tenant_id' other than the authenticated project in "
               "request requires admin privileges")
        for attrs in ({'project_id': 'id-bob'}, {'tenant_id': 'id-bob'},
                      {'project_id': 'id-bob', 'tenant_id': 'id-bob'}):
            err = self.assertError(self.alice.post('/v2.0/networks', {'network': attrs}), 400,
                                   'HTTPBadRequest')
            self.assertEqual(err['message'], msg)
        err = self.assertError(self.alice.post('/v2.0/networks', {'network': {
            'project_id': 'id-alice', 'tenant_id': 'id-bob'}}), 400, 'HTTPBadRequest')
        self.assertEqual(err['message'], "'project_id' and 'tenant_id' do not match")
        err = self.assertError(self.post('/v2.0/networks', {'network': {
            'project_id': 'a', 'tenant_id': 'b'}}), 400, 'HTTPBadRequest')
        self.assertEqual(err['message'], "'project_id' and 'tenant_id' do not match")
        self.assertEqual(self.net_ids(self.bob), set())

    def test_admin_role_with_project(self):
        boss = self.client('id-boss', roles='admin')
        st, body = boss.post('/v2.0/networks', {'network': {
            'name': 'id-boss-net', 'provider:network_type': 'vlan',
            'provider:physical_network': 'physnet2', 'provider:segmentation_id': 77}})
        self.assertEqual(st, 201, body)
        net = body['network']
        self.assertEqual((net['project_id'], net['provider:segmentation_id']), ('id-boss', 77))
        # Sees everything, other projects' provider attributes too.
        alice_net = self.make_network(client=self.alice, name='id-boss-sees')
        st, body = boss.get('/v2.0/networks/' + alice_net['id'])
        self.assertEqual(st, 200, body)
        for k in PROVIDER:
            self.assertIn(k, body['network'])
        # Creates for other projects.
        st, body = boss.post('/v2.0/networks', {'network': {'project_id': 'id-carol'}})
        self.assertEqual((st, body['network']['project_id']), (201, 'id-carol'))
        # Roles are a comma-separated list, case-insensitive.
        for roles in ('member,admin', 'reader, Admin'):
            c = self.client('id-boss2', roles=roles)
            st, body = c.get('/v2.0/networks/' + alice_net['id'])
            self.assertEqual(st, 200, (roles, body))
        # "admin" as a project id is not the admin role.
        c = self.client('admin')
        self.assertError(c.get('/v2.0/networks/' + alice_net['id']), 404, 'NetworkNotFound')

    def test_reader_cannot_write(self):
        reader = self.client('id-reader', roles='reader')
        net = self.make_network(name='id-reader-net', project_id='id-reader')
        st, body = reader.get('/v2.0/networks/' + net['id'])
        self.assertEqual(st, 200, body)
        self.assertError(reader.post('/v2.0/networks', {'network': {}}), 403,
                         'PolicyNotAuthorized')
        self.assertError(reader.put('/v2.0/networks/' + net['id'], {'network': {'name': 'x'}}),
                         403, 'PolicyNotAuthorized')
        self.assertError(reader.delete('/v2.0/networks/' + net['id']), 403,
                         'PolicyNotAuthorized')

    # ---------- who sees what ----------

    def test_member_sees_own_and_shared_only(self):
        a_priv = self.make_network(client=self.alice, name='id-vis')
        b_priv = self.make_network(client=self.bob, name='id-vis')
        b_shared = self.make_network(name='id-vis', project_id='id-bob', shared=True)
        admin_priv = self.make_network(name='id-vis')
        self.assertEqual(self.net_ids(self.alice, '?name=id-vis'),
                         {a_priv['id'], b_shared['id']})
        self.assertEqual(self.net_ids(self.bob, '?name=id-vis'),
                         {b_priv['id'], b_shared['id']})
        self.assertEqual(self.net_ids(self.admin, '?name=id-vis'),
                         {a_priv['id'], b_priv['id'], b_shared['id'], admin_priv['id']})
        self.assertEqual(self.net_ids(self.alice, '?name=id-vis&shared=true'), {b_shared['id']})
        # Another project's private network: 404, as if it did not exist.
        for nid in (b_priv['id'], admin_priv['id']):
            expected = (404, {'NeutronError': {
                'type': 'NetworkNotFound', 'message': 'Network %s could not be found.' % nid,
                'detail': ''}})
            self.assertEqual(self.alice.get('/v2.0/networks/' + nid), expected)
            self.assertEqual(self.alice.put('/v2.0/networks/' + nid,
                                            {'network': {'name': 'x'}}), expected)
            self.assertEqual(self.alice.delete('/v2.0/networks/' + nid), expected)
        st, body = self.alice.get('/v2.0/networks/' + b_shared['id'])
        self.assertEqual((st, body['network']['project_id']), (200, 'id-bob'))
        # The marker of an invisible network is no marker.
        st, body = self.alice.get('/v2.0/networks?limit=1&marker=' + b_priv['id'])
        self.assertEqual(st, 400, body)

    def test_subnets_follow_network_visibility(self):
        b_priv = self.make_network(client=self.bob, name='id-sub-vis')
        b_shared = self.make_network(name='id-sub-vis', project_id='id-bob', shared=True)
        s_priv = self.make_subnet(b_priv['id'], '10.122.0.0/24', client=self.bob)
        s_shared = self.make_subnet(b_shared['id'], '10.123.0.0/24', project_id='id-bob')
        st, body = self.alice.get('/v2.0/subnets?network_id=%s&network_id=%s'
                                  % (b_priv['id'], b_shared['id']))
        self.assertEqual([s['id'] for s in body['subnets']], [s_shared['id']])
        self.assertError(self.alice.get('/v2.0/subnets/' + s_priv['id']), 404, 'SubnetNotFound')
        st, body = self.alice.get('/v2.0/subnets/' + s_shared['id'])
        self.assertEqual(st, 200, body)
        # Not the owner: no writes.
        self.assertError(self.alice.put('/v2.0/subnets/' + s_shared['id'],
                                        {'subnet': {'name': 'x'}}), 403, 'PolicyNotAuthorized')
        self.assertError(self.alice.delete('/v2.0/subnets/' + s_shared['id']), 403,
                         'PolicyNotAuthorized')

    # ---------- admin-only attributes ----------

    def test_member_cannot_write_admin_attributes(self):
        for attr, value in (('provider:network_type', 'vlan'),
                            ('provider:physical_network', 'physnet1'),
                            ('provider:segmentation_id', 3500), ('shared', True),
                            ('router:external', True)):
            st, body = self.alice.post('/v2.0/networks', {'network': {
                'name': 'id-admin-attr', attr: value}})
            err = self.assertError((st, body), 403, 'PolicyNotAuthorized')
            self.assertEqual(err['message'], '(rule:create_network and '
                                             'rule:create_network:%s) is disallowed by policy'
                             % attr)
        self.assertEqual(self.net_ids(self.alice, '?name=id-admin-attr'), set())
        net = self.make_network(client=self.alice, name='id-admin-attr2')
        for attr, value in (('shared', True), ('router:external', True), ('shared', False)):
            err = self.assertError(self.alice.put('/v2.0/networks/' + net['id'], {'network': {
                attr: value}}), 403, 'PolicyNotAuthorized')
            self.assertEqual(err['message'], '(rule:update_network and '
                                             'rule:update_network:%s) is disallowed by policy'
                             % attr)
        # Ports: the binding is for admins.
        self.make_subnet(net['id'], '10.124.0.0/24', client=self.alice)
        for attr, value in (('binding:host_id', 'compute-1'), ('binding:profile', {'a': 1})):
            self.assertError(self.alice.post('/v2.0/ports', {'port': {
                'network_id': net['id'], attr: value}}), 403, 'PolicyNotAuthorized')
        port = self.make_port(net['id'], client=self.alice)
        self.assertError(self.alice.put('/v2.0/ports/' + port['id'], {'port': {
            'binding:host_id': 'compute-1'}}), 403, 'PolicyNotAuthorized')
        # binding:vnic_type is the user's to choose.
        st, body = self.alice.put('/v2.0/ports/' + port['id'], {'port': {
            'binding:vnic_type': 'direct'}})
        self.assertEqual((st, body['port']['binding:vnic_type']), (200, 'direct'))

    def test_member_may_give_admin_attributes_their_defaults(self):
        """Neutron checks an admin-only attribute on create only when it is
        explicitly set to a non-default value (policy
        _is_attribute_explicitly_set): shared=false is fine for a member."""
        st, body = self.alice.post('/v2.0/networks', {'network': {
            'name': 'id-defaults', 'shared': False, 'router:external': False}})
        self.assertEqual(st, 201, body)
        self.assertEqual((body['network']['shared'], body['network']['router:external']),
                         (False, False))

    def test_admin_only_attributes_hidden(self):
        net = self.make_network(client=self.alice, name='id-hidden')
        self.assertFalse(set(PROVIDER) & set(net), net)
        for k in ('shared', 'router:external', 'mtu', 'project_id', 'status'):
            self.assertIn(k, net)
        st, body = self.alice.get('/v2.0/networks/' + net['id'])
        self.assertFalse(set(PROVIDER) & set(body['network']), body)
        st, body = self.alice.get('/v2.0/networks?name=id-hidden')
        self.assertFalse(set(PROVIDER) & set(body['networks'][0]), body)
        st, body = self.alice.get('/v2.0/networks/%s?fields=id&fields=provider:network_type'
                                  % net['id'])
        self.assertEqual(body, {'network': {'id': net['id']}})
        st, body = self.alice.put('/v2.0/networks/' + net['id'], {'network': {'name': 'h2'}})
        self.assertFalse(set(PROVIDER) & set(body['network']), body)
        # Filtering or sorting on what one can't see is refused.
        self.assertEqual(self.alice.get('/v2.0/networks?provider:network_type=vlan')[0], 400)
        self.assertEqual(self.alice.get('/v2.0/networks?sort_key=provider:segmentation_id')[0],
                         400)
        # The admin sees them on the same network.
        st, body = self.get('/v2.0/networks/' + net['id'])
        for k in PROVIDER:
            self.assertIn(k, body['network'])
        # Ports.
        self.make_subnet(net['id'], '10.125.0.0/24', client=self.alice)
        port = self.make_port(net['id'], client=self.alice)
        self.assertFalse(set(BINDING_ADMIN) & set(port), port)
        self.assertEqual(port['binding:vnic_type'], 'normal')
        st, body = self.alice.get('/v2.0/ports/' + port['id'])
        self.assertFalse(set(BINDING_ADMIN) & set(body['port']), body)
        st, body = self.alice.get('/v2.0/ports?network_id=' + net['id'])
        self.assertFalse(set(BINDING_ADMIN) & set(body['ports'][0]), body)
        st, body = self.get('/v2.0/ports/' + port['id'])
        for k in BINDING_ADMIN:
            self.assertIn(k, body['port'])

    # ---------- shared networks ----------

    def test_port_on_shared_network(self):
        shared = self.make_network(name='id-shared', project_id='id-bob', shared=True)
        sub = self.make_subnet(shared['id'], '10.126.0.0/24', project_id='id-bob')
        # Alice can plug in...
        st, body = self.alice.post('/v2.0/ports', {'port': {'network_id': shared['id'],
                                                            'name': 'alice-port'}})
        self.assertEqual(st, 201, body)
        port = body['port']
        self.assertEqual(port['project_id'], 'id-alice')
        self.assertEqual(port['fixed_ips'][0]['subnet_id'], sub['id'])
        st, body = self.alice.put('/v2.0/ports/' + port['id'], {'port': {'name': 'renamed'}})
        self.assertEqual(st, 200, body)
        # ... but not add subnets, ...
        err = self.assertError(self.alice.post('/v2.0/subnets', {'subnet': {
            'network_id': shared['id'], 'cidr': '10.127.0.0/24', 'ip_version': 4}}),
            403, 'PolicyNotAuthorized')
        self.assertIn('create_subnet', err['message'])
        # ... nor choose addresses or MACs, nor plug network devices, on Bob's network.
        self.assertError(self.alice.post('/v2.0/ports', {'port': {
            'network_id': shared['id'], 'fixed_ips': [{'ip_address': '10.126.0.50'}]}}),
            403, 'PolicyNotAuthorized')
        self.assertError(self.alice.post('/v2.0/ports', {'port': {
            'network_id': shared['id'], 'mac_address': 'fa:16:3e:01:02:03'}}),
            403, 'PolicyNotAuthorized')
        self.assertError(self.alice.post('/v2.0/ports', {'port': {
            'network_id': shared['id'], 'device_owner': 'network:dhcp'}}),
            403, 'PolicyNotAuthorized')
        # By subnet only is not choosing an address.
        port2 = self.make_port(shared['id'], client=self.alice,
                               fixed_ips=[{'subnet_id': sub['id']}])
        self.assertEqual(port2['fixed_ips'][0]['subnet_id'], sub['id'])
        # Nor update or delete the network.
        self.assertError(self.alice.put('/v2.0/networks/' + shared['id'],
                                        {'network': {'name': 'mine'}}),
                         403, 'PolicyNotAuthorized')
        self.assertError(self.alice.delete('/v2.0/networks/' + shared['id']), 403,
                         'PolicyNotAuthorized')
        st, body = self.get('/v2.0/networks/' + shared['id'])
        self.assertEqual(body['network']['name'], 'id-shared')
        # Bob, the network's owner, sees Alice's ports on it.
        st, body = self.bob.get('/v2.0/ports?network_id=' + shared['id'])
        self.assertEqual(sorted(p['id'] for p in body['ports']),
                         sorted([port['id'], port2['id']]))
        st, body = self.bob.get('/v2.0/ports/' + port['id'])
        self.assertEqual((st, body['port']['project_id']), (200, 'id-alice'))
        # Carol, a third project, sees none of them.
        carol = self.client('id-carol')
        st, body = carol.get('/v2.0/ports?network_id=' + shared['id'])
        self.assertEqual(body['ports'], [])
        self.assertError(carol.get('/v2.0/ports/' + port['id']), 404, 'PortNotFound')
        # And a network in use by Alice's ports can't be deleted by its owner.
        self.assertError(self.bob.delete('/v2.0/networks/' + shared['id']), 409, 'NetworkInUse')

    def test_member_cannot_use_private_network_of_another_project(self):
        b_priv = self.make_network(client=self.bob, name='id-priv')
        self.make_subnet(b_priv['id'], '10.128.0.0/24', client=self.bob)
        nid = b_priv['id']
        expected = (404, {'NeutronError': {
            'type': 'NetworkNotFound', 'message': 'Network %s could not be found.' % nid,
            'detail': ''}})
        self.assertEqual(self.alice.post('/v2.0/ports', {'port': {'network_id': nid}}),
                         expected)
        self.assertEqual(self.alice.post('/v2.0/subnets', {'subnet': {
            'network_id': nid, 'cidr': '10.129.0.0/24', 'ip_version': 4}}), expected)
        st, body = self.get('/v2.0/ports?network_id=' + nid)
        self.assertEqual(body['ports'], [])
        # Unsharing hides it again from others (and their lists).
        self.put('/v2.0/networks/' + nid, {'network': {'shared': True}})
        self.assertIn(nid, self.net_ids(self.alice, '?name=id-priv'))
        self.put('/v2.0/networks/' + nid, {'network': {'shared': False}})
        self.assertNotIn(nid, self.net_ids(self.alice, '?name=id-priv'))
        self.assertEqual(self.alice.get('/v2.0/networks/' + nid), expected)

    def test_other_projects_ports_are_invisible(self):
        net = self.make_network(client=self.bob, name='id-ports')
        self.make_subnet(net['id'], '10.130.0.0/24', client=self.bob)
        port = self.make_port(net['id'], client=self.bob)
        self.assertError(self.alice.get('/v2.0/ports/' + port['id']), 404, 'PortNotFound')
        self.assertError(self.alice.put('/v2.0/ports/' + port['id'], {'port': {'name': 'x'}}),
                         404, 'PortNotFound')
        self.assertError(self.alice.delete('/v2.0/ports/' + port['id']), 404, 'PortNotFound')
        st, body = self.alice.get('/v2.0/ports?network_id=' + net['id'])
        self.assertEqual(body['ports'], [])
        st, body = self.alice.get('/v2.0/ports?device_owner=')
        self.assertNotIn(port['id'], [p['id'] for p in body['ports']])

    # ---------- identity headers cannot escalate ----------

    def raw(self, method, path, headers, body=None):
        """A request with exactly these headers (Client always adds its own
        Content-Type); returns (status, parsed body)."""
        conn = http.client.HTTPConnection('127.0.0.1', self.server.port, timeout=30)
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, (json.loads(data) if data else None)

    def test_blank_identity_headers_are_refused_not_admin(self):
        # A reader of another project used to delete Bob's rule with an empty
        # X-Project-Id: the request fell through to "no headers" = admin.
        sg = self.bob.post('/v2.0/security-groups', {'security_group': {'name': 'id-blank'}})[1]
        sg = sg['security_group']
        st, body = self.bob.post('/v2.0/security-group-rules', {'security_group_rule': {
            'security_group_id': sg['id'], 'direction': 'ingress', 'ethertype': 'IPv4',
            'protocol': 'tcp', 'port_range_min': 22, 'port_range_max': 22}})
        self.assertEqual(st, 201, body)
        rule = body['security_group_rule']['id']
        cases = [
            {'X-Project-Id': '', 'X-Roles': 'reader'},
            {'X-Project-Id': '   ', 'X-Roles': 'reader'},
            {'X-Tenant-Id': '', 'X-Roles': 'reader'},
            {'X-Project-Id': 'id-alice', 'X-Roles': ''},
            {'X-Project-Id': 'id-alice', 'X-Roles': 'member', 'X-User-Id': ' '},
            {'X-Roles': 'reader'},
            {'X-User-Id': 'u1'},
        ]
        for h in cases:
            with self.subTest(headers=h):
                st, body = self.raw('DELETE', '/v2.0/security-group-rules/' + rule, h)
                self.assertEqual(st, 401, body)
                self.assertEqual(body['NeutronError']['type'], 'HTTPUnauthorized', body)
                st, body = self.raw('GET', '/v2.0/security-groups/' + sg['id'], h)
                self.assertEqual(st, 401, body)
        # Two different projects in one request: 400.
        st, body = self.raw('DELETE', '/v2.0/security-group-rules/' + rule,
                            {'X-Project-Id': 'id-bob', 'X-Tenant-Id': 'id-alice'})
        self.assertEqual(st, 400, body)
        st, body = self.bob.get('/v2.0/security-group-rules/' + rule)
        self.assertEqual(st, 200, body)
        # The same headers with values work as before; none at all is still admin.
        st, body = self.raw('GET', '/v2.0/security-group-rules/' + rule,
                            {'X-Tenant-Id': 'id-bob', 'X-Roles': 'reader'})
        self.assertEqual(st, 200, body)
        st, body = self.raw('GET', '/v2.0/security-group-rules/' + rule, {})
        self.assertEqual(st, 200, body)

    def test_bodies_must_be_json(self):
        # A web page can POST a form or text/plain to a loopback noauth server
        # without a preflight: such bodies are refused, whatever they hold.
        data = json.dumps({'network': {'name': 'id-csrf'}})
        for ct in ('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data',
                   'text/plain; charset=utf-8', 'application/jsonx', None):
            with self.subTest(content_type=ct):
                h = {'Content-Type': ct} if ct else {}
                st, body = self.raw('POST', '/v2.0/networks', h, data)
                self.assertEqual(st, 415, body)
                self.assertEqual(body['NeutronError']['type'], 'HTTPUnsupportedMediaType')
        st, body = self.get('/v2.0/networks?name=id-csrf')
        self.assertEqual(body['networks'], [])
        net = self.make_network(name='id-json')
        st, body = self.raw('PUT', '/v2.0/networks/' + net['id'], {'Content-Type': 'text/plain'},
                            json.dumps({'network': {'name': 'id-renamed'}}))
        self.assertEqual(st, 415, body)
        self.assertEqual(self.get('/v2.0/networks/' + net['id'])[1]['network']['name'], 'id-json')
        # JSON with parameters or in other case is JSON; no body is not checked.
        for ct in ('application/json; charset=utf-8', 'Application/JSON', 'application/json;'):
            with self.subTest(content_type=ct):
                st, body = self.raw('POST', '/v2.0/networks', {'Content-Type': ct},
                                    json.dumps({'network': {'name': 'id-json-ok'}}))
                self.assertEqual(st, 201, body)
        st, body = self.raw('DELETE', '/v2.0/networks/' + net['id'], {})
        self.assertEqual(st, 204, body)


if __name__ == '__main__':
    unittest.main()
