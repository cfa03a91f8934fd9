"""RBAC policies for networks (rbac-policies): access_as_shared and
access_as_external to one project or to '*', and what they mean: the
network's `shared` is its '*' access_as_shared policy (and, as a project
sees it, true when a policy targets that project), a policy makes the
network visible and usable to its target, removing access a project's
ports depend on is refused, access_as_external makes the network external
for its target, and the network's own shared/router:external make and
remove the '*' policies.

Reference: Neutron 21 (neutron/db/rbac_db_mixin.py, neutron/extensions/rbac.py,
neutron/db/db_base_plugin_v2.py's network RBAC validation,
neutron/db/external_net_db.py).
"""
import unittest

import qhvtest

POLICY_KEYS = {'id', 'object_type', 'object_id', 'target_tenant', 'project_id', 'tenant_id',
               'action'}


class RbacTest(qhvtest.ServerTestCase):

    def policies(self, net_id, client=None, **filters):
        q = '&'.join(['object_id=' + net_id] + ['%s=%s' % kv for kv in filters.items()])
        st, body = (client or self.admin).get('/v2.0/rbac-policies?' + q)
        self.assertEqual(st, 200, body)
        return body['rbac_policies']

    def policy(self, client, net_id, target, action='access_as_shared'):
        st, body = client.post('/v2.0/rbac-policies', {'rbac_policy': {
            'object_type': 'network', 'object_id': net_id, 'target_tenant': target,
            'action': action}})
        self.assertEqual(st, 201, body)
        return body['rbac_policy']

    def visible(self, client, net_id):
        st, body = client.get('/v2.0/networks/' + net_id)
        return body['network'] if st == 200 else None

    def test_shared_flag_is_a_wildcard_policy(self):
        net = self.make_network(name='rbac-flag', shared=True)
        pols = self.policies(net['id'])
        self.assertEqual(len(pols), 1, pols)
        p = pols[0]
        self.assertEqual(set(p), POLICY_KEYS)
        self.assertEqual({k: p[k] for k in ('object_type', 'object_id', 'target_tenant',
                                            'action', 'project_id', 'tenant_id')},
                         {'object_type': 'network', 'object_id': net['id'],
                          'target_tenant': '*', 'action': 'access_as_shared',
                          'project_id': net['project_id'], 'tenant_id': net['project_id']})
        st, body = self.get('/v2.0/rbac-policies/' + p['id'])
        self.assertEqual((st, body), (200, {'rbac_policy': p}))
        # shared=false drops it, shared=true makes a new one.
        st, body = self.put('/v2.0/networks/' + net['id'], {'network': {'shared': False}})
        self.assertEqual((st, body['network']['shared']), (200, False))
        self.assertEqual(self.policies(net['id']), [])
        self.assertError(self.get('/v2.0/rbac-policies/' + p['id']), 404, 'RbacPolicyNotFound',
                         'RBAC policy of type unknown with ID %s not found' % p['id'])
        self.put('/v2.0/networks/' + net['id'], {'network': {'shared': True}})
        self.assertEqual([x['target_tenant'] for x in self.policies(net['id'])], ['*'])
        # Deleting the '*' policy unshares the network.
        st, _ = self.delete('/v2.0/rbac-policies/' + self.policies(net['id'])[0]['id'])
        self.assertEqual(st, 204)
        self.assertIs(self.visible(self.admin, net['id'])['shared'], False)
        self.assertIsNone(self.visible(self.client('rbac-flag-other'), net['id']))
        # And creating one shares it.
        self.policy(self.admin, net['id'], '*')
        self.assertIs(self.visible(self.client('rbac-flag-other'), net['id'])['shared'], True)
        # The network's policies go with it.
        self.assertEqual(self.delete('/v2.0/networks/' + net['id'])[0], 204)
        self.assertEqual(self.policies(net['id']), [])

    def test_share_with_one_project(self):
        owner, guest, stranger = (self.client('rbac-a'), self.client('rbac-b'),
                                  self.client('rbac-c'))
        net = self.make_network(owner, name='rbac-one')
        sub = self.make_subnet(net['id'], '10.130.0.0/24', client=owner)
        self.assertIsNone(self.visible(guest, net['id']))
        pol = self.policy(owner, net['id'], 'rbac-b')
        self.assertEqual((pol['project_id'], pol['target_tenant']), ('rbac-a', 'rbac-b'))
        # shared as each project sees it.
        self.assertIs(self.visible(guest, net['id'])['shared'], True)
        self.assertIs(self.visible(owner, net['id'])['shared'], False)
        self.assertIs(self.visible(self.admin, net['id'])['shared'], False)
        self.assertIsNone(self.visible(stranger, net['id']))
        st, body = guest.get('/v2.0/networks?name=rbac-one')
        self.assertEqual([n['id'] for n in body['networks']], [net['id']])
        # The shared filter sees it as each project does.
        st, body = guest.get('/v2.0/networks?shared=true&name=rbac-one')
        self.assertEqual([n['id'] for n in body['networks']], [net['id']])
        st, body = owner.get('/v2.0/networks?shared=false&name=rbac-one')
        self.assertEqual([n['id'] for n in body['networks']], [net['id']])
        st, body = guest.get('/v2.0/networks?shared=false&name=rbac-one')
        self.assertEqual(body['networks'], [])
        st, body = guest.get('/v2.0/subnets?network_id=' + net['id'])
        self.assertEqual([s['id'] for s in body['subnets']], [sub['id']])
        st, body = stranger.get('/v2.0/subnets?network_id=' + net['id'])
        self.assertEqual(body['subnets'], [])
        # Only the owner sees (and manages) its policies.
        self.assertEqual(self.policies(net['id'], guest), [])
        self.assertError(guest.get('/v2.0/rbac-policies/' + pol['id']), 404,
                         'RbacPolicyNotFound')
        # The guest may use the network: a port of its own.
        port = self.make_port(net['id'], client=guest)
        err = self.assertError(owner.delete('/v2.0/rbac-policies/' + pol['id']), 409,
                               'RbacPolicyInUse')
        self.assertEqual(err['message'],
                         'RBAC policy on object %s cannot be removed because other objects '
                         'depend on it.\nDetails: Unable to reconfigure sharing settings for '
                         'network %s. Multiple tenants are using it.' % (net['id'], net['id']))
        # Moving the policy to another project takes the access away too.
        self.assertError(owner.put('/v2.0/rbac-policies/' + pol['id'],
                                   {'rbac_policy': {'target_tenant': 'rbac-c'}}),
                         409, 'RbacPolicyInUse')
        # A '*' policy covers the guest: the targeted one may go.
        star = self.policy(self.admin, net['id'], '*')
        self.assertEqual(owner.delete('/v2.0/rbac-policies/' + pol['id'])[0], 204)
        # Unsharing now would strand the guest's port.
        self.assertError(self.put('/v2.0/networks/' + net['id'],
                                  {'network': {'shared': False}}), 409, 'InvalidSharedSetting',
                         'Unable to reconfigure sharing settings for network rbac-one.')
        self.assertError(self.delete('/v2.0/rbac-policies/' + star['id']), 409,
                         'RbacPolicyInUse')
        self.assertEqual(guest.delete('/v2.0/ports/' + port['id'])[0], 204)
        self.assertEqual(self.delete('/v2.0/rbac-policies/' + star['id'])[0], 204)
        self.assertIsNone(self.visible(guest, net['id']))
        self.assertError(guest.post('/v2.0/ports', {'port': {'network_id': net['id']}}), 404,
                         'NetworkNotFound')

    def test_update_target(self):
        owner = self.client('rbac-up')
        net = self.make_network(owner, name='rbac-up-net')
        pol = self.policy(owner, net['id'], 'rbac-up-b')
        st, body = owner.put('/v2.0/rbac-policies/' + pol['id'],
                             {'rbac_policy': {'target_tenant': 'rbac-up-c'}})
        self.assertEqual(st, 200, body)
        self.assertEqual(body['rbac_policy'], dict(pol, target_tenant='rbac-up-c'))
        self.assertIsNone(self.visible(self.client('rbac-up-b'), net['id']))
        self.assertIs(self.visible(self.client('rbac-up-c'), net['id'])['shared'], True)
        st, body = owner.put('/v2.0/rbac-policies/' + pol['id'],
                             {'rbac_policy': {'target_tenant': '*'}})
        self.assertEqual(st, 200, body)
        self.assertIs(self.visible(owner, net['id'])['shared'], True)
        self.assertError(owner.put('/v2.0/rbac-policies/' + pol['id'],
                                   {'rbac_policy': {'action': 'access_as_external'}}),
                         400, 'HTTPBadRequest', 'read-only')

    def test_errors(self):
        owner, guest = self.client('rbac-err'), self.client('rbac-err-b')
        net = self.make_network(owner, name='rbac-err-net')
        body = {'object_type': 'network', 'object_id': net['id'], 'target_tenant': 'rbac-err-b',
                'action': 'access_as_shared'}

        def post(client=owner, **over):
            return client.post('/v2.0/rbac-policies', {'rbac_policy': dict(body, **over)})

        self.assertEqual(post()[0], 201)
        self.assertError(post(), 409, 'DuplicateRbacPolicy',
                         'An RBAC policy already exists with those values.')
        err = self.assertError(post(action='access_as_owner'), 400, 'InvalidActionForType')
        self.assertEqual(err['message'], "Invalid action 'access_as_owner' for object type "
                                         "'network'. Valid actions: ('access_as_shared', "
                                         "'access_as_external')")
        self.assertError(post(object_type='router'), 400, 'InvalidInput',
                         "'router' is not a valid RBAC object type")
        self.assertError(post(object_id='nope'), 400, 'HTTPBadRequest')
        self.assertError(post(target_tenant='x' * 256), 400, 'HTTPBadRequest')
        missing = '6f1c2c7e-93c3-4f5e-8d1e-6a4c2b1d0e9f'
        self.assertError(post(object_id=missing), 404, 'NetworkNotFound')
        # The guest sees the network (shared with it) but does not own it.
        self.assertError(post(guest, target_tenant='rbac-err-c'), 400, 'InvalidInput',
                         'Only admins can manipulate policies on networks they do not own')
        # A stranger does not even see it.
        self.assertError(post(self.client('rbac-err-c'), target_tenant='rbac-err-c'), 404,
                         'NetworkNotFound')
        self.assertError(self.get('/v2.0/rbac-policies?bogus=1'), 400, 'HTTPBadRequest')
        self.assertError(self.get('/v2.0/rbac-policies/' + missing), 404, 'RbacPolicyNotFound')

    def test_access_as_external(self):
        owner, guest, stranger = (self.client('rbac-x'), self.client('rbac-x-b'),
                                  self.client('rbac-x-c'))
        net = self.make_network(name='rbac-ext', project_id='rbac-x')
        pol = self.policy(self.admin, net['id'], 'rbac-x-b', 'access_as_external')
        # The network became external, for its target only.
        self.assertIs(self.visible(owner, net['id'])['router:external'], True)
        seen = self.visible(guest, net['id'])
        self.assertIs(seen['router:external'], True)
        self.assertIs(seen['shared'], False)
        self.assertIsNone(self.visible(stranger, net['id']))
        self.assertEqual(self.delete('/v2.0/rbac-policies/' + pol['id'])[0], 204)
        self.assertIs(self.visible(owner, net['id'])['router:external'], False)
        self.assertIsNone(self.visible(guest, net['id']))
        # router:external=true is a '*' access_as_external policy.
        st, body = self.put('/v2.0/networks/' + net['id'],
                            {'network': {'router:external': True}})
        self.assertEqual(st, 200, body)
        pols = self.policies(net['id'], action='access_as_external')
        self.assertEqual([p['target_tenant'] for p in pols], ['*'])
        self.assertIs(self.visible(stranger, net['id'])['router:external'], True)
        self.put('/v2.0/networks/' + net['id'], {'network': {'router:external': False}})
        self.assertEqual(self.policies(net['id']), [])
        self.assertIsNone(self.visible(stranger, net['id']))
        ext = self.make_network(name='rbac-ext-2', **{'router:external': True})
        self.assertEqual([(p['action'], p['target_tenant']) for p in self.policies(ext['id'])],
                         [('access_as_external', '*')])

    def test_quota_and_no_pagination(self):
        owner = self.client('rbac-q')
        net = self.make_network(owner, name='rbac-q-net')
        st, body = self.put('/v2.0/quotas/rbac-q', {'quota': {'rbac_policy': 2}})
        self.assertEqual(st, 200, body)
        # The network's own '*' policy counts (made by shared, never refused).
        self.put('/v2.0/networks/' + net['id'], {'network': {'shared': True}})
        self.policy(owner, net['id'], 'rbac-q-b')
        err = self.assertError(owner.post('/v2.0/rbac-policies', {'rbac_policy': {
            'object_type': 'network', 'object_id': net['id'], 'target_tenant': 'rbac-q-c',
            'action': 'access_as_shared'}}), 409, 'OverQuota')
        self.assertEqual(err['message'], "Quota exceeded for resources: ['rbac_policy'].")
        st, body = owner.get('/v2.0/quotas/rbac-q/details')
        self.assertEqual(body['quota']['rbac_policy'], {'limit': 2, 'used': 2, 'reserved': 0})
        # Neutron's rbac-policies have no pagination: limit and marker are ignored.
        st, body = owner.get('/v2.0/rbac-policies?limit=1&object_id=' + net['id'])
        self.assertEqual((st, len(body['rbac_policies'])), (200, 2))
        self.assertNotIn('rbac_policies_links', body)
        st, body = owner.get('/v2.0/rbac-policies?sort_key=target_tenant&sort_dir=desc')
        self.assertEqual([p['target_tenant'] for p in body['rbac_policies']], ['rbac-q-b', '*'])

    def test_subnetpool_policies(self):
        owner, guest, stranger = (self.client('rbac-sp'), self.client('rbac-sp-b'),
                                  self.client('rbac-sp-c'))
        st, body = owner.post('/v2.0/subnetpools', {'subnetpool': {
            'name': 'rbac-sp-pool', 'prefixes': ['10.160.0.0/16'], 'min_prefixlen': 24}})
        self.assertEqual(st, 201, body)
        pool = body['subnetpool']
        url = '/v2.0/subnetpools/' + pool['id']

        def post(client=owner, **over):
            return client.post('/v2.0/rbac-policies', {'rbac_policy': dict(
                {'object_type': 'subnetpool', 'object_id': pool['id'],
                 'target_tenant': 'rbac-sp-b', 'action': 'access_as_shared'}, **over)})

        err = self.assertError(post(action='access_as_external'), 400, 'InvalidActionForType')
        self.assertEqual(err['message'], "Invalid action 'access_as_external' for object type "
                                         "'subnetpool'. Valid actions: ('access_as_shared',)")
        self.assertError(post(stranger), 404, 'SubnetPoolNotFound')
        st, body = post()
        self.assertEqual(st, 201, body)
        pol = body['rbac_policy']
        self.assertEqual((pol['object_type'], pol['object_id']), ('subnetpool', pool['id']))
        # shared as each project sees it; the target sees and uses the pool.
        self.assertIs(guest.get(url)[1]['subnetpool']['shared'], True)
        self.assertIs(owner.get(url)[1]['subnetpool']['shared'], False)
        self.assertError(stranger.get(url), 404, 'SubnetPoolNotFound')
        st, body = guest.get('/v2.0/subnetpools?shared=true&name=rbac-sp-pool')
        self.assertEqual([p['id'] for p in body['subnetpools']], [pool['id']])
        self.assertError(post(guest, target_tenant='rbac-sp-c'), 400, 'InvalidInput',
                         'Only admins can manipulate policies on objects they do not own')
        net = self.make_network(guest, name='rbac-sp-net')
        st, body = guest.post('/v2.0/subnets', {'subnet': {
            'network_id': net['id'], 'ip_version': 4, 'subnetpool_id': pool['id']}})
        self.assertEqual(st, 201, body)
        sub = body['subnet']
        err = self.assertError(owner.delete('/v2.0/rbac-policies/' + pol['id']), 409,
                               'RbacPolicyInUse')
        self.assertEqual(err['message'], 'RBAC policy on object %s cannot be removed because '
                                         'other objects depend on it.\nDetails: '
                                         'project_id=rbac-sp-b' % pool['id'])
        self.assertEqual(guest.delete('/v2.0/subnets/' + sub['id'])[0], 204)
        self.assertEqual(owner.delete('/v2.0/rbac-policies/' + pol['id'])[0], 204)
        self.assertError(guest.get(url), 404, 'SubnetPoolNotFound')
        # A shared pool is a '*' policy; the pool's policies go with it.
        st, body = self.post('/v2.0/subnetpools', {'subnetpool': {
            'name': 'rbac-sp-shared', 'prefixes': ['10.161.0.0/16'], 'shared': True}})
        shared = body['subnetpool']
        pols = self.policies(shared['id'])
        self.assertEqual([(p['object_type'], p['target_tenant'], p['action']) for p in pols],
                         [('subnetpool', '*', 'access_as_shared')])
        self.assertEqual(self.delete('/v2.0/subnetpools/' + shared['id'])[0], 204)
        self.assertEqual(self.policies(shared['id']), [])

    def test_listed_in_extensions(self):
        st, body = self.get('/v2.0/extensions/rbac-policies')
        self.assertEqual((st, body['extension']['name']), (200, 'RBAC Policies'))
        st, body = self.get('/v2.0/extensions')
        aliases = {x['alias'] for x in body['extensions']}
        self.assertIn('rbac-subnetpool', aliases)
        # Networks and subnet pools only: the other types' aliases are not offered.
        self.assertFalse({'rbac-address-scope', 'rbac-security-groups',
                          'rbac-address-group'} & aliases)


if __name__ == '__main__':
    unittest.main()
