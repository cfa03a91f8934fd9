"""Quotas (/v2.0/quotas, /v2.0/quotas/{project}, .../default, .../details):
defaults from the configuration, per-project overrides by admins, and
enforcement inside the create transaction (also concurrently and for bulk
creates). Quota errors follow Neutron: 409 OverQuota, "Quota exceeded for
resources: ['network']."
"""
import threading
import unittest

import qhvtest

RESOURCES = ('network', 'subnet', 'port', 'security_group', 'security_group_rule',
             'rbac_policy')


def over_quota_message(resource):
    return "Quota exceeded for resources: ['%s']." % resource


class QuotaDefaultsTest(qhvtest.ServerTestCase):
    """Without a [quotas] section: Neutron's defaults."""

    def test_defaults(self):
        want = {'network': 100, 'subnet': 100, 'port': 500, 'security_group': 10,
                'security_group_rule': 100, 'rbac_policy': 10}
        for path in ('/v2.0/quotas/q-defaults', '/v2.0/quotas/q-defaults/default'):
            st, body = self.get(path)
            self.assertEqual(st, 200, body)
            self.assertEqual(body, {'quota': want}, path)
        # A project sees its own.
        st, body = self.client('q-defaults').get('/v2.0/quotas/q-defaults')
        self.assertEqual((st, body), (200, {'quota': want}))

    def test_details_count_usage(self):
        c = self.client('q-usage')
        net = self.make_network(c)
        self.make_network(c)
        sub = self.make_subnet(net['id'], '10.70.0.0/24', client=c)
        self.make_port(net['id'], client=c)
        st, body = c.get('/v2.0/quotas/q-usage/details')
        self.assertEqual(st, 200, body)
        # The port brought the project's default group and its 4 rules.
        self.assertEqual(body, {'quota': {
            'network': {'limit': 100, 'used': 2, 'reserved': 0},
            'subnet': {'limit': 100, 'used': 1, 'reserved': 0},
            'port': {'limit': 500, 'used': 1, 'reserved': 0},
            'security_group': {'limit': 10, 'used': 1, 'reserved': 0},
            'security_group_rule': {'limit': 100, 'used': 4, 'reserved': 0},
            'rbac_policy': {'limit': 10, 'used': 0, 'reserved': 0}}})
        self.assertIsNotNone(sub)
        # Other projects' objects don't count.
        self.make_network(self.client('q-usage-other'))
        st, body = self.get('/v2.0/quotas/q-usage/details')
        self.assertEqual(body['quota']['network'], {'limit': 100, 'used': 2, 'reserved': 0})

    def test_unknown_subpath(self):
        st, body = self.get('/v2.0/quotas/q-defaults/bogus')
        self.assertEqual(st, 404, body)


class QuotaTest(qhvtest.ServerTestCase):
    extra_conf = """
[quotas]
quota_network = 3
quota_subnet = 4
quota_port = 5
quota_security_group = 3
quota_security_group_rule = 12
quota_rbac_policy = 2
"""
    CONF = {'network': 3, 'subnet': 4, 'port': 5, 'security_group': 3,
            'security_group_rule': 12, 'rbac_policy': 2}

    def quota(self, project):
        st, body = self.get('/v2.0/quotas/' + project)
        self.assertEqual(st, 200, body)
        return body['quota']

    def set_quota(self, project, **values):
        st, body = self.put('/v2.0/quotas/' + project, {'quota': values})
        self.assertEqual(st, 200, body)
        return body['quota']

    def count(self, collection, project):
        st, body = self.get('/v2.0/%s?project_id=%s' % (collection, project))
        self.assertEqual(st, 200, body)
        return len(body[collection.replace('-', '_')])

    def test_configured_defaults(self):
        self.assertEqual(self.quota('q-conf'), self.CONF)
        st, body = self.get('/v2.0/quotas/q-conf/default')
        self.assertEqual((st, body), (200, {'quota': self.CONF}))

    def test_network_quota_enforced(self):
        c = self.client('q-net')
        ids = [self.make_network(c, name='n%d' % i)['id'] for i in range(3)]
        err = self.assertError(c.post('/v2.0/networks', {'network': {'name': 'n3'}}), 409,
                               'OverQuota')
        self.assertEqual(err['message'], over_quota_message('network'))
        self.assertEqual(self.count('networks', 'q-net'), 3)
        st, body = c.get('/v2.0/quotas/q-net/details')
        self.assertEqual(st, 200, body)
        self.assertEqual(body['quota']['network'], {'limit': 3, 'used': 3, 'reserved': 0})
        # The admin creating for the project is held to the same quota.
        self.assertError(self.post('/v2.0/networks', {'network': {'project_id': 'q-net'}}),
                         409, 'OverQuota')
        # Freeing one makes room for exactly one.
        st, _ = c.delete('/v2.0/networks/' + ids[0])
        self.assertEqual(st, 204)
        self.make_network(c, name='n4')
        self.assertError(c.post('/v2.0/networks', {'network': {'name': 'n5'}}), 409, 'OverQuota')
        # Another project has its own count.
        self.make_network(self.client('q-net-other'))

    def test_subnet_and_port_quotas_enforced(self):
        c = self.client('q-subport')
        net = self.make_network(c)
        for i in range(4):
            self.make_subnet(net['id'], '10.71.%d.0/24' % i, client=c)
        err = self.assertError(c.post('/v2.0/subnets', {'subnet': {
            'network_id': net['id'], 'cidr': '10.71.9.0/24', 'ip_version': 4}}), 409, 'OverQuota')
        self.assertEqual(err['message'], over_quota_message('subnet'))
        for i in range(5):
            self.make_port(net['id'], client=c)
        err = self.assertError(c.post('/v2.0/ports', {'port': {'network_id': net['id']}}), 409,
                               'OverQuota')
        self.assertEqual(err['message'], over_quota_message('port'))
        self.assertEqual(self.count('ports', 'q-subport'), 5)
        self.assertEqual(self.count('subnets', 'q-subport'), 4)

    def test_security_group_quotas_enforced(self):
        c = self.client('q-sg')
        # The default group counts: default + 2 more = 3.
        a = c.post('/v2.0/security-groups', {'security_group': {'name': 'a'}})
        self.assertEqual(a[0], 201, a)
        b = c.post('/v2.0/security-groups', {'security_group': {'name': 'b'}})
        self.assertEqual(b[0], 201, b)
        err = self.assertError(c.post('/v2.0/security-groups', {'security_group': {
            'name': 'c'}}), 409, 'OverQuota')
        self.assertEqual(err['message'], over_quota_message('security_group'))
        self.assertEqual(self.count('security-groups', 'q-sg'), 3)
        # Rules: default 4 + 2 + 2 = 8 of 12.
        sgid = a[1]['security_group']['id']
        for port in range(1, 5):
            st, body = c.post('/v2.0/security-group-rules', {'security_group_rule': {
                'security_group_id': sgid, 'direction': 'ingress', 'protocol': 'tcp',
                'port_range_min': port, 'port_range_max': port}})
            self.assertEqual(st, 201, body)
        err = self.assertError(c.post('/v2.0/security-group-rules', {'security_group_rule': {
            'security_group_id': sgid, 'direction': 'ingress', 'protocol': 'tcp',
            'port_range_min': 99, 'port_range_max': 99}}), 409, 'OverQuota')
        self.assertEqual(err['message'], over_quota_message('security_group_rule'))
        self.assertEqual(self.count('security-group-rules', 'q-sg'), 12)
        st, body = c.get('/v2.0/quotas/q-sg/details')
        self.assertEqual(body['quota']['security_group'], {'limit': 3, 'used': 3, 'reserved': 0})
        self.assertEqual(body['quota']['security_group_rule'],
                         {'limit': 12, 'used': 12, 'reserved': 0})

    def test_override_and_reset(self):
        project = 'q-override'
        c = self.client(project)
        got = self.set_quota(project, network=2)
        self.assertEqual(got, dict(self.CONF, network=2))
        self.assertEqual(self.quota(project), dict(self.CONF, network=2))
        # Defaults are still the configuration's.
        st, body = self.get('/v2.0/quotas/%s/default' % project)
        self.assertEqual(body, {'quota': self.CONF})
        self.make_network(c)
        self.make_network(c)
        self.assertError(c.post('/v2.0/networks', {'network': {}}), 409, 'OverQuota')
        st, body = c.get('/v2.0/quotas/%s/details' % project)
        self.assertEqual(body['quota']['network'], {'limit': 2, 'used': 2, 'reserved': 0})
        # Listed among the projects with overrides.
        st, body = self.get('/v2.0/quotas')
        self.assertEqual(st, 200, body)
        mine = [q for q in body['quotas'] if q['project_id'] == project]
        self.assertEqual(mine, [dict(self.CONF, network=2, project_id=project,
                                     tenant_id=project)])
        # Raising it lets more in; strings are numbers too.
        self.set_quota(project, network='4', port=7)
        self.assertEqual(self.quota(project), dict(self.CONF, network=4, port=7))
        self.make_network(c)
        # Lowering below the usage is allowed; creates fail until under it.
        self.set_quota(project, network=1)
        self.assertError(c.post('/v2.0/networks', {'network': {}}), 409, 'OverQuota')
        self.assertEqual(self.count('networks', project), 3)
        # DELETE resets to the defaults.
        st, body = self.delete('/v2.0/quotas/' + project)
        self.assertEqual((st, body), (204, None))
        self.assertEqual(self.quota(project), self.CONF)
        st, body = self.get('/v2.0/quotas')
        self.assertNotIn(project, [q['project_id'] for q in body['quotas']])
        self.assertError(c.post('/v2.0/networks', {'network': {}}), 409, 'OverQuota')
        # Deleting again (nothing to reset) is still fine.
        st, _ = self.delete('/v2.0/quotas/' + project)
        self.assertEqual(st, 204)

    def test_unlimited(self):
        project = 'q-unlimited'
        c = self.client(project)
        self.assertEqual(self.set_quota(project, network=-1)['network'], -1)
        for _ in range(6):
            self.make_network(c)
        self.assertEqual(self.count('networks', project), 6)
        st, body = c.get('/v2.0/quotas/%s/details' % project)
        self.assertEqual(body['quota']['network'], {'limit': -1, 'used': 6, 'reserved': 0})
        # Zero forbids any.
        self.set_quota(project, subnet=0)
        net = self.make_network(self.client('q-unlimited-2'))
        self.assertIsNotNone(net)
        nid = self.make_network(c)['id']
        self.assertError(c.post('/v2.0/subnets', {'subnet': {
            'network_id': nid, 'cidr': '10.72.0.0/24', 'ip_version': 4}}), 409, 'OverQuota')

    def test_non_admin_access(self):
        c = self.client('q-member')
        other = 'q-member-other'
        self.set_quota(other, network=7)
        self.assertEqual(self.quota(other)['network'], 7)
        err = self.assertError(c.put('/v2.0/quotas/q-member', {'quota': {'network': 50}}), 403,
                               'PolicyNotAuthorized')
        self.assertIn('update_quota', err['message'])
        self.assertEqual(c.put('/v2.0/quotas/' + other, {'quota': {'network': 50}})[0], 403)
        self.assertEqual(c.delete('/v2.0/quotas/' + other)[0], 403)
        self.assertEqual(c.delete('/v2.0/quotas/q-member')[0], 403)
        for path in ('/v2.0/quotas/' + other, '/v2.0/quotas/%s/details' % other):
            st, body = c.get(path)
            self.assertEqual(st, 403, body)
            self.assertEqual(set(body), {'NeutronError'})
        st, body = c.get('/v2.0/quotas/q-member')
        self.assertEqual((st, body), (200, {'quota': self.CONF}))
        st, body = c.get('/v2.0/quotas/q-member/details')
        self.assertEqual(st, 200, body)
        # The list shows a member no other project.
        st, body = c.get('/v2.0/quotas')
        self.assertEqual(st, 200, body)
        self.assertNotIn(other, [q['project_id'] for q in body['quotas']])
        # Nothing changed.
        self.assertEqual(self.quota(other)['network'], 7)
        self.assertEqual(self.quota('q-member'), self.CONF)
        # An admin of another project may.
        adm = self.client('q-some-admin', 'admin')
        st, body = adm.put('/v2.0/quotas/' + other, {'quota': {'network': 8}})
        self.assertEqual(st, 200, body)
        self.assertEqual(adm.get('/v2.0/quotas/' + other)[1]['quota']['network'], 8)

    def test_invalid_values_change_nothing(self):
        project = 'q-invalid'
        self.set_quota(project, network=2)
        for bad in ({'network': -2}, {'network': 'abc'},
                    {'network': None}, {'network': [1]}, {'bogus': 1},
                    {'network': 5, 'subnet': -2}, {'network': 5, 'bogus': 1},
                    {'network': 2 ** 31}):
            st, body = self.put('/v2.0/quotas/' + project, {'quota': bad})
            self.assertEqual(st, 400, (bad, body))
            self.assertEqual(set(body), {'NeutronError'})
            self.assertEqual(self.quota(project), dict(self.CONF, network=2), bad)
        err = self.assertError(self.put('/v2.0/quotas/' + project, {'quota': {'bogus': 1}}),
                               400, 'HTTPBadRequest')
        self.assertIn('bogus', err['message'])
        err = self.assertError(self.put('/v2.0/quotas/' + project, {'quota': {'network': -2}}),
                               400, 'HTTPBadRequest')
        self.assertIn('-2', err['message'])
        for body in ({'network': 1}, {'quotas': {'network': 1}}, {'quota': 5}, [1]):
            st, resp = self.put('/v2.0/quotas/' + project, body)
            self.assertEqual(st, 400, (body, resp))
        self.assertEqual(self.quota(project), dict(self.CONF, network=2))

    def test_non_integer_value_is_invalid_input_like_neutron(self):
        # Neutron converts quota values with convert_to_int: InvalidInput,
        # "Invalid input for operation: 'abc' is not an integer."
        err = self.assertError(self.put('/v2.0/quotas/q-abc', {'quota': {'network': 'abc'}}),
                               400, 'InvalidInput')
        self.assertEqual(err['message'], "Invalid input for operation: 'abc' is not an integer.")

    def test_quota_paths_and_methods(self):
        st, body = self.post('/v2.0/quotas', {'quota': {}})
        self.assertEqual(st, 405, body)
        st, body = self.post('/v2.0/quotas/q-paths', {'quota': {'network': 1}})
        self.assertEqual(st, 405, body)
        st, body = self.put('/v2.0/quotas/q-paths/details', {'quota': {'network': 1}})
        self.assertEqual(st, 405, body)
        self.assertEqual(self.quota('q-paths'), self.CONF)

    def test_concurrent_creates_respect_quota(self):
        project = 'q-race'
        self.set_quota(project, network=5)
        c = self.client(project)
        barrier = threading.Barrier(16)
        results = []
        lock = threading.Lock()

        def worker(names):
            barrier.wait(10)
            for name in names:
                st, body = c.post('/v2.0/networks', {'network': {'name': name}})
                with lock:
                    results.append((st, body))

        names = ['race-%d' % i for i in range(20)]
        chunks = [names[i::16] for i in range(16)]
        threads = [threading.Thread(target=worker, args=(ch,)) for ch in chunks]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(len(results), 20)
        ok = [b for st, b in results if st == 201]
        over = [b for st, b in results if st == 409]
        self.assertEqual(len(ok), 5, [st for st, _ in results])
        self.assertEqual(len(over), 15)
        for b in over:
            self.assertEqual(b['NeutronError']['type'], 'OverQuota')
        st, body = self.get('/v2.0/networks?project_id=' + project)
        self.assertEqual(sorted(n['id'] for n in body['networks']),
                         sorted(b['network']['id'] for b in ok))
        st, body = self.get('/v2.0/quotas/%s/details' % project)
        self.assertEqual(body['quota']['network'], {'limit': 5, 'used': 5, 'reserved': 0})

    def test_concurrent_port_creates_respect_quota(self):
        project = 'q-race-ports'
        c = self.client(project)
        net = self.make_network(c)
        self.make_subnet(net['id'], '10.73.0.0/24', client=c)
        barrier = threading.Barrier(12)
        codes = []

        def worker():
            barrier.wait(10)
            st, _ = c.post('/v2.0/ports', {'port': {'network_id': net['id']}})
            codes.append(st)

        threads = [threading.Thread(target=worker) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(sorted(codes), [201] * 5 + [409] * 7)
        self.assertEqual(self.count('ports', project), 5)

    def test_bulk_create_beyond_quota_creates_nothing(self):
        project = 'q-bulk'
        c = self.client(project)
        self.make_network(c, name='first')
        err = self.assertError(c.post('/v2.0/networks', {'networks': [
            {'name': 'b1'}, {'name': 'b2'}, {'name': 'b3'}]}), 409, 'OverQuota')
        self.assertEqual(err['message'], over_quota_message('network'))
        st, body = c.get('/v2.0/networks')
        self.assertEqual([n['name'] for n in body['networks']], ['first'])
        st, body = c.post('/v2.0/networks', {'networks': [{'name': 'b1'}, {'name': 'b2'}]})
        self.assertEqual(st, 201, body)
        self.assertEqual(self.count('networks', project), 3)
        # Ports too.
        net = self.make_network(self.client('q-bulk-ports'))
        pc = self.client('q-bulk-ports')
        self.make_subnet(net['id'], '10.74.0.0/24', client=pc)
        self.assertError(pc.post('/v2.0/ports', {'ports': [{'network_id': net['id']}] * 6}),
                         409, 'OverQuota')
        self.assertEqual(self.count('ports', 'q-bulk-ports'), 0)
        st, body = pc.post('/v2.0/ports', {'ports': [{'network_id': net['id']}] * 5})
        self.assertEqual(st, 201, body)
        self.assertEqual(self.count('ports', 'q-bulk-ports'), 5)


if __name__ == '__main__':
    unittest.main()
