"""Behaviours where qhv-server differed from Neutron 21 (issue 15), each as
Neutron's code has it (python3-neutron 21.0.0, neutron-lib): what it accepts,
what it stores and which status and error type it answers with."""
import unittest

import qhvtest
import test_secgroups

SG = '/v2.0/security-groups'
RULES = '/v2.0/security-group-rules'
MISSING = '6b1f9d7e-2c1a-4d55-8a7e-0c4f4b0a9e13'


class NeutronParity(qhvtest.ServerTestCase):
    # test_secgroups' helpers (its class is not imported: its tests run there).
    rule = test_secgroups.SecurityGroupTest.rule
    make_rule = test_secgroups.SecurityGroupTest.make_rule
    make_sg = test_secgroups.SecurityGroupTest.make_sg

    # ---- subnets: shared is a hidden, filterable attribute ----

    def test_subnets_filter_on_shared(self):
        shared = self.make_network(name='par-shared', shared=True)
        private = self.make_network(name='par-private')
        s1 = self.make_subnet(shared['id'], '10.61.1.0/24')
        s2 = self.make_subnet(private['id'], '10.61.2.0/24')
        st, body = self.get('/v2.0/subnets?shared=true')
        self.assertEqual(st, 200, body)
        ids = {s['id'] for s in body['subnets']}
        self.assertIn(s1['id'], ids)
        self.assertNotIn(s2['id'], ids)
        st, body = self.get('/v2.0/subnets?shared=false')
        self.assertEqual(st, 200, body)
        ids = {s['id'] for s in body['subnets']}
        self.assertIn(s2['id'], ids)
        self.assertNotIn(s1['id'], ids)
        # Hidden: never shown, even when asked for.
        self.assertNotIn('shared', s1)
        st, body = self.get('/v2.0/subnets/%s?fields=shared&fields=id' % s1['id'])
        self.assertEqual(body['subnet'], {'id': s1['id']})
        # Sharing the network later moves its subnets to the other side.
        st, body = self.put('/v2.0/networks/' + private['id'], {'network': {'shared': True}})
        self.assertEqual(st, 200, body)
        st, body = self.get('/v2.0/subnets?shared=true&network_id=' + private['id'])
        self.assertEqual([s['id'] for s in body['subnets']], [s2['id']])
        # A project sees shared subnets through the filter as well.
        st, body = self.client('par-viewer').get('/v2.0/subnets?shared=true')
        self.assertEqual(st, 200, body)
        self.assertTrue({s1['id'], s2['id']} <= {s['id'] for s in body['subnets']})
        # Shared with one project by an RBAC policy: shared for that project.
        rbac = self.make_network(name='par-rbac')
        s3 = self.make_subnet(rbac['id'], '10.61.4.0/24')
        st, body = self.post('/v2.0/rbac-policies', {'rbac_policy': {
            'object_type': 'network', 'object_id': rbac['id'], 'target_tenant': 'par-guest',
            'action': 'access_as_shared'}})
        self.assertEqual(st, 201, body)
        st, body = self.client('par-guest').get('/v2.0/subnets?shared=true')
        self.assertIn(s3['id'], {s['id'] for s in body['subnets']})
        st, body = self.client('par-guest').get('/v2.0/subnets?shared=false')
        self.assertNotIn(s3['id'], {s['id'] for s in body['subnets']})
        st, body = self.client('par-viewer').get('/v2.0/subnets?shared=true')
        self.assertNotIn(s3['id'], {s['id'] for s in body['subnets']})
        self.assertError(self.get('/v2.0/subnets?shared=maybe'), 400, 'HTTPBadRequest')
        self.assertError(self.post('/v2.0/subnets', {'subnet': {
            'network_id': private['id'], 'cidr': '10.61.3.0/24', 'ip_version': 4,
            'shared': True}}), 400, 'HTTPBadRequest')

    # ---- security group rules: protocols as Neutron validates them ----

    def test_icmp_with_ipv6_is_stored_as_ipv6_icmp(self):
        c = self.client('par-icmp6')
        g = self.make_sg(c, 'g')
        r = self.make_rule(c, g['id'], protocol='icmp', ethertype='IPv6')
        self.assertEqual(r['protocol'], 'ipv6-icmp')
        r = self.make_rule(c, g['id'], protocol='1', ethertype='IPv6', direction='egress',
                           port_range_min=128)
        self.assertEqual(r['protocol'], '58')
        # Neutron compares them as the same rule afterwards.
        self.assertError(self.rule(c, g['id'], protocol='icmpv6', ethertype='IPv6'), 409,
                         'SecurityGroupRuleExists', None)

    def test_ipv6_only_protocols_refused_with_ipv4(self):
        c = self.client('par-v6only')
        g = self.make_sg(c, 'g')
        for proto in ('ipv6-route', 'ipv6-frag', 'ipv6-nonxt', 'ipv6-opts', 'ipv6-encap',
                      'ipv6-icmp', 'icmpv6', '41', '43', '44', '58', '59', '60'):
            err = self.assertError(self.rule(c, g['id'], protocol=proto, ethertype='IPv4'),
                                   400, 'SecurityGroupEthertypeConflictWithProtocol')
            self.assertEqual(err['message'],
                             'Invalid ethertype IPv4 for protocol %s.' % proto)
            r = self.make_rule(c, g['id'], protocol=proto, ethertype='IPv6')
            self.assertEqual(r['protocol'], 'ipv6-icmp' if proto == 'icmpv6' else proto)
            st, _ = self.delete(RULES + '/' + r['id'])
            self.assertEqual(st, 204)

    def test_every_protocol_name_neutron_knows(self):
        c = self.client('par-names')
        g = self.make_sg(c, 'g')
        names = ['ah', 'dccp', 'egp', 'esp', 'gre', 'hopopt', 'icmp', 'igmp', 'ip', 'ipip',
                 'ospf', 'pgm', 'rsvp', 'sctp', 'tcp', 'udp', 'udplite', 'vrrp']
        for name in names:
            r = self.make_rule(c, g['id'], protocol=name.upper(), direction='ingress',
                               remote_ip_prefix='10.62.0.0/16')
            self.assertEqual(r['protocol'], name)
            self.delete(RULES + '/' + r['id'])
        # What Neutron does not know ("any" included) is refused.
        for bad in ('any', '', 'foo'):
            self.assertError(self.rule(c, g['id'], protocol=bad), 400,
                             'SecurityGroupRuleInvalidProtocol')

    def test_full_port_range_is_no_range(self):
        # Neutron's _make_canonical_port_range: 1-65535 is stored as no range.
        c = self.client('par-range')
        g = self.make_sg(c, 'g')
        r = self.make_rule(c, g['id'], protocol='tcp', port_range_min=1, port_range_max=65535)
        self.assertIsNone(r['port_range_min'])
        self.assertIsNone(r['port_range_max'])
        self.assertError(self.rule(c, g['id'], protocol='tcp'), 409, 'SecurityGroupRuleExists')

    def test_remote_group_that_does_not_exist(self):
        c = self.client('par-remote')
        g = self.make_sg(c, 'g')
        for client in (c, self.admin):
            err = self.assertError(self.rule(client, g['id'], remote_group_id=MISSING), 404,
                                   'SecurityGroupNotFound')
            self.assertEqual(err['message'], 'Security group %s does not exist' % MISSING)
        err = self.assertError(self.get(SG + '/' + MISSING), 404, 'SecurityGroupNotFound')
        self.assertEqual(err['message'], 'Security group %s does not exist' % MISSING)
        err = self.assertError(self.get(RULES + '/' + MISSING), 404,
                               'SecurityGroupRuleNotFound')
        self.assertEqual(err['message'], 'Security group rule %s does not exist' % MISSING)

    def test_rule_quota_counts_a_new_groups_rules(self):
        project = 'par-quota'
        c = self.client(project)
        self.make_sg(c, 'first')      # the default group comes with it: 4 + 2 rules
        st, body = self.put('/v2.0/quotas/' + project, {'quota': {'security_group_rule': 7}})
        self.assertEqual(st, 200, body)
        # Two more rules would make 8.
        err = self.assertError(c.post(SG, {'security_group': {'name': 'second'}}), 409,
                               'OverQuota')
        self.assertIn('security_group_rule', err['message'])
        st, body = c.get(SG)
        self.assertEqual(sorted(g['name'] for g in body['security_groups']),
                         ['default', 'first'])
        st, body = self.put('/v2.0/quotas/' + project, {'quota': {'security_group_rule': 8}})
        self.assertEqual(st, 200, body)
        self.make_sg(c, 'second')
        # Quota 0 in a fresh project: even the first group (and its default
        # group) cannot be made.
        st, body = self.put('/v2.0/quotas/par-quota0', {'quota': {'security_group_rule': 0}})
        self.assertEqual(st, 200, body)
        self.assertError(self.client('par-quota0').post(SG, {'security_group': {'name': 'x'}}),
                         409, 'OverQuota')

    # ---- networks and ports: policy ----

    def test_external_networks_are_visible_to_every_project(self):
        ext = self.make_network(name='par-ext', **{'router:external': True})
        viewer = self.client('par-ext-viewer')
        st, body = viewer.get('/v2.0/networks/' + ext['id'])
        self.assertEqual(st, 200, body)
        self.assertTrue(body['network']['router:external'])
        st, body = viewer.get('/v2.0/networks?router:external=true')
        self.assertIn(ext['id'], [n['id'] for n in body['networks']])
        # Seen, not owned: no writes, no ports, no subnets.
        self.assertError(viewer.put('/v2.0/networks/' + ext['id'], {'network': {'name': 'x'}}),
                         403, 'PolicyNotAuthorized')
        self.assertError(viewer.post('/v2.0/ports', {'port': {'network_id': ext['id']}}),
                         404, 'HTTPNotFound')
        self.assertError(viewer.post('/v2.0/subnets', {'subnet': {
            'network_id': ext['id'], 'cidr': '10.63.0.0/24', 'ip_version': 4}}),
            404, 'HTTPNotFound')
        # No longer external: no longer visible.
        st, body = self.put('/v2.0/networks/' + ext['id'],
                            {'network': {'router:external': False}})
        self.assertEqual(st, 200, body)
        self.assertError(viewer.get('/v2.0/networks/' + ext['id']), 404, 'NetworkNotFound')

    def test_port_security_on_a_shared_network_is_the_network_owners(self):
        net = self.make_network(name='par-ps', shared=True)
        self.make_subnet(net['id'], '10.64.0.0/24')
        user = self.client('par-ps-user')
        for value in (False, True):
            err = self.assertError(user.post('/v2.0/ports', {'port': {
                'network_id': net['id'], 'port_security_enabled': value}}), 403,
                'PolicyNotAuthorized')
            self.assertIn('create_port:port_security_enabled', err['message'])
        st, body = user.post('/v2.0/ports', {'port': {'network_id': net['id']}})
        self.assertEqual(st, 201, body)
        port = body['port']
        self.assertTrue(port['port_security_enabled'])
        err = self.assertError(user.put('/v2.0/ports/' + port['id'], {'port': {
            'port_security_enabled': False, 'security_groups': []}}), 403,
            'PolicyNotAuthorized')
        self.assertIn('update_port:port_security_enabled', err['message'])
        st, body = user.get('/v2.0/ports')
        self.assertEqual([p['id'] for p in body['ports']], [port['id']])
        # The network's owner may.
        st, body = self.post('/v2.0/ports', {'port': {'network_id': net['id'],
                                                      'port_security_enabled': False}})
        self.assertEqual(st, 201, body)

    # ---- subnets with automatic addresses ----

    def test_delete_auto_address_subnet_with_ports(self):
        for mode in ('slaac', 'dhcpv6-stateless'):
            net = self.make_network(name='par-auto-' + mode)
            v4 = self.make_subnet(net['id'], '10.65.0.0/24')
            v6 = self.make_subnet(net['id'], '2001:db8:65::/64', ipv6_ra_mode=mode,
                                  ipv6_address_mode=mode)
            port = self.make_port(net['id'])
            self.assertEqual({ip['subnet_id'] for ip in port['fixed_ips']}, {v4['id'], v6['id']})
            st, body = self.delete('/v2.0/subnets/' + v6['id'])
            self.assertEqual(st, 204, body)
            st, body = self.get('/v2.0/ports/' + port['id'])
            self.assertEqual([ip['subnet_id'] for ip in body['port']['fixed_ips']], [v4['id']])
            self.assertGreater(body['port']['revision_number'], port['revision_number'])
            # The address is free again: a new subnet with the same prefix
            # gives the port the same EUI-64 address back.
            v6b = self.make_subnet(net['id'], '2001:db8:65::/64', ipv6_ra_mode=mode,
                                   ipv6_address_mode=mode)
            st, body = self.get('/v2.0/ports/' + port['id'])
            self.assertIn(v6b['id'], [ip['subnet_id'] for ip in body['port']['fixed_ips']])
            # A subnet whose addresses are not automatic stays in use.
            self.assertError(self.delete('/v2.0/subnets/' + v4['id']), 409, 'SubnetInUse')

    def test_ra_mode_alone_makes_automatic_addresses(self):
        # Neutron's is_auto_address_subnet looks at ipv6_ra_mode too.
        net = self.make_network(name='par-ra-only')
        v6 = self.make_subnet(net['id'], '2001:db8:69::/64', ipv6_ra_mode='slaac')
        port = self.make_port(net['id'], mac_address='fa:16:3e:00:69:01')
        self.assertEqual(port['fixed_ips'], [{'subnet_id': v6['id'],
                                              'ip_address': '2001:db8:69:0:f816:3eff:fe00:6901'}])
        self.assertError(self.post('/v2.0/subnets', {'subnet': {
            'network_id': net['id'], 'cidr': '2001:db8:6a::/80', 'ip_version': 6,
            'ipv6_ra_mode': 'dhcpv6-stateless'}}), 400, 'InvalidInput', '/64')
        st, body = self.delete('/v2.0/subnets/' + v6['id'])
        self.assertEqual(st, 204, body)

    def test_router_interface_keeps_an_auto_address_subnet(self):
        net = self.make_network(name='par-auto-router')
        v6 = self.make_subnet(net['id'], '2001:db8:66::/64', ipv6_ra_mode='slaac',
                              ipv6_address_mode='slaac')
        self.make_port(net['id'], device_owner='network:router_interface',
                       fixed_ips=[{'subnet_id': v6['id'], 'ip_address': '2001:db8:66::1'}])
        self.assertError(self.delete('/v2.0/subnets/' + v6['id']), 409, 'SubnetInUse')

    # ---- bulk bodies with wrapped items ----

    def test_bulk_items_may_be_wrapped(self):
        c = self.client('par-bulk')
        st, body = c.post(SG, {'security_groups': [{'security_group': {'name': 'w1'}},
                                                   {'name': 'w2'}]})
        self.assertEqual(st, 201, body)
        self.assertEqual([g['name'] for g in body['security_groups']], ['w1', 'w2'])
        st, body = c.post('/v2.0/networks', {'networks': [{'network': {'name': 'wn1'}},
                                                          {'network': {'name': 'wn2'}}]})
        self.assertEqual(st, 201, body)
        nets = body['networks']
        st, body = c.post('/v2.0/subnets', {'subnets': [
            {'subnet': {'network_id': nets[0]['id'], 'cidr': '10.67.0.0/24',
                        'ip_version': 4}}]})
        self.assertEqual(st, 201, body)
        st, body = c.post('/v2.0/ports', {'ports': [{'port': {'network_id': nets[0]['id']}},
                                                    {'port': {'network_id': nets[1]['id']}}]})
        self.assertEqual(st, 201, body)
        self.assertEqual(len(body['ports']), 2)
        g = self.make_sg(c, 'w3')
        st, body = c.post(RULES, {'security_group_rules': [
            {'security_group_rule': {'security_group_id': g['id'], 'direction': 'ingress',
                                     'protocol': 'tcp', 'port_range_min': 22,
                                     'port_range_max': 22}}]})
        self.assertEqual(st, 201, body)
        # One group and one project per bulk of rules (ML2's native bulk).
        g2 = self.make_sg(c, 'w4')
        rule = {'direction': 'egress', 'protocol': 'udp', 'port_range_min': 53,
                'port_range_max': 53}
        self.assertError(c.post(RULES, {'security_group_rules': [
            dict(rule, security_group_id=g['id']), dict(rule, security_group_id=g2['id'])]}),
            400, 'SecurityGroupNotSingleGroupRules')
        self.assertError(self.post(RULES, {'security_group_rules': [
            dict(rule, security_group_id=g['id']),
            dict(rule, security_group_id=g['id'], protocol='tcp', project_id='par-other')]}),
            400, 'SecurityGroupRulesNotSingleTenant')
        st, body = c.get(SG + '/' + g['id'])
        self.assertEqual(len(body['security_group']['security_group_rules']), 3)
        # Wrapped items are checked like any other: all or nothing.
        self.assertError(c.post('/v2.0/networks', {'networks': [
            {'network': {'name': 'ok'}}, {'network': {'bogus': 1}}]}), 400, 'HTTPBadRequest')

    # ---- binding:profile ----

    def test_binding_profile_null_clears_it(self):
        net = self.make_network(name='par-profile')
        port = self.make_port(net['id'], **{'binding:profile': {'pci_slot': '0000:01:00.1'}})
        self.assertEqual(port['binding:profile'], {'pci_slot': '0000:01:00.1'})
        st, body = self.put('/v2.0/ports/' + port['id'], {'port': {'binding:profile': None}})
        self.assertEqual(st, 200, body)
        self.assertEqual(body['port']['binding:profile'], {})
        port = self.make_port(net['id'], **{'binding:profile': None})
        self.assertEqual(port['binding:profile'], {})

    def test_null_lists_are_empty_lists(self):
        # convert_none_to_empty_list on dns_nameservers, host_routes and
        # allowed_address_pairs.
        net = self.make_network(name='par-nulls')
        sub = self.make_subnet(net['id'], '10.68.0.0/24', dns_nameservers=['10.68.0.2'])
        st, body = self.put('/v2.0/subnets/' + sub['id'], {'subnet': {
            'dns_nameservers': None, 'host_routes': None}})
        self.assertEqual(st, 200, body)
        self.assertEqual(body['subnet']['dns_nameservers'], [])
        self.assertEqual(body['subnet']['host_routes'], [])
        port = self.make_port(net['id'], allowed_address_pairs=None)
        self.assertEqual(port['allowed_address_pairs'], [])



class IpSubstringFiltering(qhvtest.ServerTestCase):
    """ip-substring-filtering: fixed_ips=ip_address_substr=... on ports. Each
    kind of fixed_ips filter is its own condition on the port, as in
    Neutron's query (ML2's _get_ports_query: one fixed_ips.any() each)."""

    def test_substring_and_combinations(self):
        st, body = self.get('/v2.0/extensions/ip-substring-filtering')
        self.assertEqual(st, 200, body)
        net = self.make_network(name='substr')
        a = self.make_subnet(net['id'], '10.73.1.0/24')
        b = self.make_subnet(net['id'], '10.73.2.0/24')
        p1 = self.make_port(net['id'], fixed_ips=[{'ip_address': '10.73.1.15'}])
        p2 = self.make_port(net['id'], fixed_ips=[{'ip_address': '10.73.2.150'}])
        p3 = self.make_port(net['id'], fixed_ips=[{'ip_address': '10.73.1.7'},
                                                  {'ip_address': '10.73.2.15'}])

        def ids(query):
            st, body = self.get('/v2.0/ports?network_id=%s&%s' % (net['id'], query))
            self.assertEqual(st, 200, body)
            return {p['id'] for p in body['ports']}

        self.assertEqual(ids('fixed_ips=ip_address_substr=.15'), {p1['id'], p2['id'], p3['id']})
        self.assertEqual(ids('fixed_ips=ip_address_substr=2.15'), {p2['id'], p3['id']})
        self.assertEqual(ids('fixed_ips=ip_address_substr=.150'), {p2['id']})
        self.assertEqual(ids('fixed_ips=ip_address_substr=10.99'), set())
        # Several substrings: any of them.
        self.assertEqual(ids('fixed_ips=ip_address_substr=.150&fixed_ips=ip_address_substr=1.7'),
                         {p2['id'], p3['id']})
        # Kinds together: each must hold, not necessarily on one address.
        self.assertEqual(ids('fixed_ips=ip_address_substr=.15&fixed_ips=subnet_id=' + a['id']),
                         {p1['id'], p3['id']})
        self.assertEqual(ids('fixed_ips=ip_address=10.73.1.7&fixed_ips=subnet_id=' + b['id']),
                         {p3['id']})
        self.assertEqual(ids('fixed_ips=ip_address=10.73.1.15&fixed_ips=subnet_id=' + b['id']),
                         set())
        # Several addresses or subnets: any of them.
        self.assertEqual(ids('fixed_ips=ip_address=10.73.1.7&fixed_ips=ip_address=10.73.2.150'),
                         {p2['id'], p3['id']})
        self.assertError(self.get('/v2.0/ports?fixed_ips=mac=1'), 400, 'HTTPBadRequest')


class MultiProvider(qhvtest.ServerTestCase):
    """multi-provider: segments on networks, as Neutron's ML2 presents a
    network of one segment (the provider attributes, no segments key)."""

    def test_one_segment(self):
        st, body = self.get('/v2.0/extensions/multi-provider')
        self.assertEqual(st, 200, body)
        st, body = self.post('/v2.0/networks', {'network': {'name': 'mp-vlan', 'segments': [
            {'provider:network_type': 'vlan', 'provider:physical_network': 'physnet1',
             'provider:segmentation_id': '1234'}]}})
        self.assertEqual(st, 201, body)
        net = body['network']
        self.assertNotIn('segments', net)
        self.assertEqual((net['provider:network_type'], net['provider:physical_network'],
                          net['provider:segmentation_id']), ('vlan', 'physnet1', 1234))
        st, body = self.get('/v2.0/networks/' + net['id'])
        self.assertNotIn('segments', body['network'])
        # The segment is taken: the same one again is in use.
        self.assertError(self.post('/v2.0/networks', {'network': {'segments': [
            {'provider:network_type': 'vlan', 'provider:physical_network': 'physnet1',
             'provider:segmentation_id': 1234}]}}), 409, 'VlanIdInUse')
        # A partial segment is allocated from the ranges.
        st, body = self.post('/v2.0/networks', {'network': {'segments': [
            {'provider:network_type': 'nvgre'}]}})
        self.assertEqual(st, 201, body)
        self.assertEqual(body['network']['provider:network_type'], 'nvgre')
        self.assertTrue(5000 <= body['network']['provider:segmentation_id'] <= 5999)
        # No segments: as without.
        st, body = self.post('/v2.0/networks', {'network': {'segments': []}})
        self.assertEqual(st, 201, body)

    def test_refused(self):
        seg = {'provider:network_type': 'vlan', 'provider:physical_network': 'physnet1'}
        err = self.assertError(self.post('/v2.0/networks', {'network': {
            'segments': [seg], 'provider:network_type': 'vlan'}}), 400,
            'SegmentsSetInConjunctionWithProviders')
        self.assertEqual(err['message'], 'Segments and provider values cannot both be set.')
        self.assertError(self.post('/v2.0/networks', {'network': {'segments': [
            {'provider:physical_network': 'physnet1'}]}}), 400, 'InvalidInput',
            'network_type required')
        self.assertError(self.post('/v2.0/networks', {'network': {'segments': [
            dict(seg, mtu=1400)]}}), 400, 'HTTPBadRequest', "Unrecognized attribute(s) 'mtu'")
        self.assertError(self.post('/v2.0/networks', {'network': {'segments': [
            {'provider:network_type': 'token-ring'}]}}), 400, 'HTTPBadRequest')
        self.assertError(self.post('/v2.0/networks', {'network': {'segments': [
            seg, dict(seg, **{'provider:physical_network': 'physnet2'})]}}), 400,
            'InvalidInput', 'one segment')
        self.assertError(self.post('/v2.0/networks', {'network': {'segments': 'vlan'}}), 400,
                         'HTTPBadRequest')
        # Admins' only, as the provider attributes.
        self.assertError(self.client('mp-member').post('/v2.0/networks', {'network': {
            'segments': [seg]}}), 403, 'PolicyNotAuthorized')
        net = self.make_network(name='mp-put')
        self.assertError(self.put('/v2.0/networks/' + net['id'], {'network': {
            'segments': [seg]}}), 400, 'HTTPBadRequest')


if __name__ == '__main__':
    unittest.main()
