"""Security groups and security group rules (/v2.0/security-groups,
/v2.0/security-group-rules) and how ports use them.

The reference for every expected value is Neutron 21 on the wire
(/work/shared/reference/neutron-21-wire, "sample NN" below): 24 group create,
25 rule create, 26 duplicate rule, 27 bad port range, 28 group show.
Every test works in projects of its own, so tests don't see each other.
"""
import json
import os
import threading
import unittest

import qhvtest

REFERENCE = os.environ.get('QHV_NEUTRON_WIRE', '/work/shared/reference/neutron-21-wire')
SG = '/v2.0/security-groups'
RULES = '/v2.0/security-group-rules'
MISSING = '4d2ac0a4-5c4e-4b53-9d8c-3c0a3f9b1a77'

# The attributes every rule has (sample 25), and those of a group (sample 24
# minus shared, which is rbac-security-groups, not implemented).
RULE_KEYS = {'id', 'project_id', 'tenant_id', 'security_group_id', 'ethertype', 'direction',
             'protocol', 'port_range_min', 'port_range_max', 'remote_ip_prefix',
             'remote_address_group_id', 'normalized_cidr', 'remote_group_id', 'description',
             'created_at', 'updated_at', 'revision_number'}
GROUP_KEYS = {'id', 'name', 'project_id', 'tenant_id', 'description', 'security_group_rules',
              'stateful', 'tags', 'created_at', 'updated_at', 'revision_number'}


def reference(name):
    with open(os.path.join(REFERENCE, name)) as f:
        return json.load(f)


def rule_shape(rule):
    """What makes a rule the rule it is (no ids, no timestamps)."""
    return (rule['direction'], rule['ethertype'], rule['protocol'], rule['port_range_min'],
            rule['port_range_max'], rule['remote_ip_prefix'], rule['normalized_cidr'],
            rule['remote_group_id'])


def default_rule_shapes(sgid):
    return sorted([
        ('egress', 'IPv4', None, None, None, None, None, None),
        ('egress', 'IPv6', None, None, None, None, None, None),
        ('ingress', 'IPv4', None, None, None, None, None, sgid),
        ('ingress', 'IPv6', None, None, None, None, None, sgid),
    ], key=repr)


def new_group_rule_shapes():
    return sorted([
        ('egress', 'IPv4', None, None, None, None, None, None),
        ('egress', 'IPv6', None, None, None, None, None, None),
    ], key=repr)


class SecurityGroupTest(qhvtest.ServerTestCase):

    # ---------- helpers ----------

    def project(self, tag):
        return self.client('sg-' + tag)

    def make_sg(self, client, name, **attrs):
        attrs['name'] = name
        st, body = client.post(SG, {'security_group': attrs})
        self.assertEqual(st, 201, body)
        return body['security_group']

    def rule(self, client, sgid, **attrs):
        attrs.setdefault('direction', 'ingress')
        attrs['security_group_id'] = sgid
        return client.post(RULES, {'security_group_rule': attrs})

    def make_rule(self, client, sgid, **attrs):
        st, body = self.rule(client, sgid, **attrs)
        self.assertEqual(st, 201, body)
        return body['security_group_rule']

    def groups(self, client, query=''):
        st, body = client.get(SG + query)
        self.assertEqual(st, 200, body)
        return body['security_groups']

    def show_sg(self, client, sgid):
        st, body = client.get(SG + '/' + sgid)
        self.assertEqual(st, 200, body)
        return body['security_group']

    def default_of(self, client):
        defaults = [g for g in self.groups(client) if g['name'] == 'default']
        self.assertEqual(len(defaults), 1, defaults)
        return defaults[0]

    def net_for(self, client, cidr):
        net = self.make_network(client)
        self.make_subnet(net['id'], cidr, client=client)
        return net

    def shapes(self, rules):
        return sorted((rule_shape(r) for r in rules), key=repr)

    # ---------- the default group ----------

    def test_default_group_created_on_first_list(self):
        c = self.project('first-list')
        groups = self.groups(c)
        self.assertEqual(len(groups), 1, groups)
        g = groups[0]
        self.assertEqual(set(g), GROUP_KEYS)
        self.assertEqual(g['name'], 'default')
        self.assertEqual(g['description'], 'Default security group')
        self.assertEqual(g['project_id'], 'sg-first-list')
        self.assertEqual(g['tenant_id'], 'sg-first-list')
        self.assertEqual(g['revision_number'], 1)
        self.assertEqual(g['tags'], [])
        self.assertEqual(self.shapes(g['security_group_rules']), default_rule_shapes(g['id']))
        for r in g['security_group_rules']:
            self.assertEqual(set(r), RULE_KEYS)
            self.assertEqual(r['security_group_id'], g['id'])
            self.assertEqual(r['project_id'], 'sg-first-list')
            self.assertEqual(r['tenant_id'], 'sg-first-list')
            self.assertIsNone(r['remote_address_group_id'])
            self.assertEqual(r['revision_number'], 0)
        # The rules are also rules of their own collection.
        st, body = c.get(RULES + '?security_group_id=' + g['id'])
        self.assertEqual(st, 200, body)
        self.assertEqual(sorted(r['id'] for r in body['security_group_rules']),
                         sorted(r['id'] for r in g['security_group_rules']))
        # Listing again does not make another one; show returns the same.
        again = self.groups(c)
        self.assertEqual([x['id'] for x in again], [g['id']])
        self.assertEqual(self.show_sg(c, g['id']), g)

    def test_refused_list_creates_no_default_group(self):
        # A list with a bad filter is refused and changes nothing (found by
        # fuzz_api): the project's default group comes with its first good list.
        c = self.project('refused-list')
        st, body = c.get(SG + '?nametags')
        self.assertEqual(st, 400, body)
        st, body = self.get(SG + '?project_id=sg-refused-list')
        self.assertEqual(st, 200, body)
        self.assertEqual(body['security_groups'], [])
        self.assertEqual(len(self.groups(c)), 1)

    def test_default_group_created_on_first_port(self):
        c = self.project('first-port')
        net = self.net_for(c, '10.61.0.0/24')
        port = self.make_port(net['id'], client=c)
        self.assertEqual(len(port['security_groups']), 1, port)
        st, body = self.get(SG + '?project_id=sg-first-port')
        self.assertEqual(st, 200, body)
        self.assertEqual([g['id'] for g in body['security_groups']], port['security_groups'])
        g = body['security_groups'][0]
        self.assertEqual(g['name'], 'default')
        self.assertEqual(self.shapes(g['security_group_rules']), default_rule_shapes(g['id']))
        # The project's next port gets the same group.
        port2 = self.make_port(net['id'], client=c)
        self.assertEqual(port2['security_groups'], port['security_groups'])

    def test_default_group_created_on_first_group_create(self):
        c = self.project('first-create')
        web = self.make_sg(c, 'web')
        st, body = self.get(SG + '?project_id=sg-first-create')
        self.assertEqual(st, 200, body)
        names = sorted(g['name'] for g in body['security_groups'])
        self.assertEqual(names, ['default', 'web'])
        self.assertEqual(self.default_of(c)['project_id'], 'sg-first-create')
        self.assertIn(web['id'], [g['id'] for g in body['security_groups']])

    def test_admin_sees_default_group_of_project_created_by_admin_port(self):
        # An admin creating a port for a project gives it that project's
        # default group, not the admin's.
        net = self.make_network(project_id='sg-admin-made')
        self.make_subnet(net['id'], '10.62.0.0/24', project_id='sg-admin-made')
        port = self.make_port(net['id'], project_id='sg-admin-made')
        st, body = self.get(SG + '?project_id=sg-admin-made&name=default')
        self.assertEqual(st, 200, body)
        self.assertEqual(len(body['security_groups']), 1, body)
        self.assertEqual(port['security_groups'], [body['security_groups'][0]['id']])

    def test_default_group_created_once_under_concurrent_first_use(self):
        for round_ in range(3):
            project = 'sg-race-%d' % round_
            c = self.client(project)
            barrier = threading.Barrier(8)
            seen, errors = [], []

            def lister():
                try:
                    barrier.wait(10)
                    st, body = c.get(SG)
                    if st != 200:
                        errors.append((st, body))
                        return
                    seen.append(sorted(g['id'] for g in body['security_groups']))
                except Exception as ex:   # reported below
                    errors.append(repr(ex))

            threads = [threading.Thread(target=lister) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            self.assertEqual(errors, [])
            self.assertEqual(len(seen), 8)
            st, body = self.get(SG + '?project_id=' + project)
            self.assertEqual(st, 200, body)
            groups = body['security_groups']
            self.assertEqual(len(groups), 1, groups)
            self.assertEqual(groups[0]['name'], 'default')
            for ids in seen:
                self.assertEqual(ids, [groups[0]['id']])
            # Exactly its four rules, not four per thread.
            st, body = self.get(RULES + '?project_id=' + project)
            self.assertEqual(len(body['security_group_rules']), 4, body)

    def test_default_group_once_under_concurrent_mixed_first_use(self):
        project = 'sg-race-mixed'
        c = self.client(project)
        net = self.make_network(project_id=project)
        self.make_subnet(net['id'], '10.63.0.0/24', project_id=project)
        barrier = threading.Barrier(9)
        results = []

        def work(i):
            barrier.wait(10)
            if i % 3 == 0:
                results.append(c.get(SG)[0])
            elif i % 3 == 1:
                results.append(c.post('/v2.0/ports', {'port': {'network_id': net['id']}})[0])
            else:
                results.append(c.post(SG, {'security_group': {'name': 'mixed-%d' % i}})[0])

        threads = [threading.Thread(target=work, args=(i,)) for i in range(9)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(sorted(results), [200] * 3 + [201] * 6)
        st, body = self.get(SG + '?project_id=%s&name=default' % project)
        self.assertEqual(len(body['security_groups']), 1, body)
        default_id = body['security_groups'][0]['id']
        st, body = self.get('/v2.0/ports?network_id=' + net['id'])
        self.assertEqual(len(body['ports']), 3)
        for p in body['ports']:
            self.assertEqual(p['security_groups'], [default_id])

    def test_default_group_cannot_be_deleted_by_its_project(self):
        c = self.project('del-default')
        g = self.default_of(c)
        self.assertError(c.delete(SG + '/' + g['id']), 409, 'SecurityGroupCannotRemoveDefault')
        self.assertEqual(self.show_sg(c, g['id'])['id'], g['id'])

    def test_default_group_deleted_by_admin_only_when_unused(self):
        c = self.project('admin-del-default')
        net = self.net_for(c, '10.64.0.0/24')
        port = self.make_port(net['id'], client=c)
        g = self.default_of(c)
        self.assertEqual(port['security_groups'], [g['id']])
        self.assertError(self.delete(SG + '/' + g['id']), 409, 'SecurityGroupInUse', g['id'])
        st, _ = c.delete('/v2.0/ports/' + port['id'])
        self.assertEqual(st, 204)
        st, body = self.delete(SG + '/' + g['id'])
        self.assertEqual(st, 204, body)
        self.assertError(self.get(SG + '/' + g['id']), 404, 'SecurityGroupNotFound')
        # Its rules went with it.
        st, body = self.get(RULES + '?security_group_id=' + g['id'])
        self.assertEqual(body['security_group_rules'], [])
        # The project's next use makes a new default group.
        g2 = self.default_of(c)
        self.assertNotEqual(g2['id'], g['id'])
        self.assertEqual(self.shapes(g2['security_group_rules']), default_rule_shapes(g2['id']))

    def test_name_default_is_reserved(self):
        c = self.project('reserved')
        self.assertError(c.post(SG, {'security_group': {'name': 'default'}}), 409,
                         'SecurityGroupDefaultAlreadyExists')
        self.assertError(self.post(SG, {'security_group': {'name': 'default',
                                                           'project_id': 'sg-reserved'}}),
                         409, 'SecurityGroupDefaultAlreadyExists')
        self.assertEqual([g['name'] for g in self.groups(c)], ['default'])

    def test_renaming_another_group_to_default_is_refused(self):
        # docs/api.md: "the name default is reserved". (Neutron itself only
        # refuses it on create.)
        c = self.project('reserved-rename')
        other = self.make_sg(c, 'other')
        self.assertError(c.put(SG + '/' + other['id'], {'security_group': {'name': 'default'}}),
                         409, 'SecurityGroupDefaultAlreadyExists')
        self.assertEqual(self.show_sg(c, other['id'])['name'], 'other')

    def test_default_group_cannot_be_renamed(self):
        c = self.project('rename-default')
        g = self.default_of(c)
        self.assertError(c.put(SG + '/' + g['id'], {'security_group': {'name': 'notdefault'}}),
                         409, 'SecurityGroupCannotUpdateDefault')
        self.assertError(self.put(SG + '/' + g['id'], {'security_group': {'name': 'x'}}),
                         409, 'SecurityGroupCannotUpdateDefault')
        shown = self.show_sg(c, g['id'])
        self.assertEqual(shown['name'], 'default')
        self.assertEqual(shown['revision_number'], g['revision_number'])
        # Its description may change.
        st, body = c.put(SG + '/' + g['id'], {'security_group': {'description': 'mine'}})
        self.assertEqual(st, 200, body)
        self.assertEqual(body['security_group']['description'], 'mine')
        self.assertEqual(body['security_group']['name'], 'default')
        self.assertEqual(body['security_group']['revision_number'], g['revision_number'] + 1)

    def test_default_group_name_in_update_is_refused_like_neutron(self):
        # Neutron: `if sg.name == 'default' and 'name' in s: raise
        # SecurityGroupCannotUpdateDefault` -- even for name 'default'.
        c = self.project('rename-default-same')
        g = self.default_of(c)
        self.assertError(c.put(SG + '/' + g['id'], {'security_group': {'name': 'default'}}),
                         409, 'SecurityGroupCannotUpdateDefault')

    # ---------- groups ----------

    def test_create_group_like_sample_24(self):
        ref = reference('24-sg-create.json')
        c = self.project('sample')
        st, body = c.post(SG, {'security_group': {'name': 's-sg', 'description': 'd'}})
        self.assertEqual(st, ref['status'], body)
        g = body['security_group']
        want = ref['response_body']['security_group']
        self.assertEqual(set(g), set(want) - {'shared'})
        for k in ('name', 'description', 'tags', 'revision_number', 'stateful'):
            self.assertEqual(g[k], want[k], k)
        self.assertEqual(g['project_id'], 'sg-sample')
        self.assertEqual(g['tenant_id'], 'sg-sample')
        self.assertEqual(g['created_at'], g['updated_at'])
        self.assertRegex(g['created_at'], r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$')
        self.assertEqual(self.shapes(g['security_group_rules']), new_group_rule_shapes())
        for r in g['security_group_rules']:
            self.assertEqual(r['security_group_id'], g['id'])
            self.assertEqual(r['project_id'], 'sg-sample')
            self.assertEqual(r['revision_number'], 0)
        # The created group reads back the same (sample 28 without the rule).
        self.assertEqual(self.show_sg(c, g['id']), g)

    def test_new_group_default_rules_as_in_sample_24(self):
        # Neutron's automatic egress rules have description null (sample 24).
        ref = reference('24-sg-create.json')['response_body']['security_group']
        c = self.project('sample-desc')
        g = self.make_sg(c, 's-sg', description='d')
        theirs = sorted(ref['security_group_rules'], key=lambda r: r['ethertype'])
        ours = sorted(g['security_group_rules'], key=lambda r: r['ethertype'])
        skip = {'id', 'security_group_id', 'created_at', 'updated_at', 'project_id',
                'tenant_id', 'standard_attr_id', 'tags'}
        for t, o in zip(theirs, ours):
            self.assertEqual({k: v for k, v in o.items() if k not in skip},
                             {k: v for k, v in t.items() if k not in skip})

    def test_group_update_and_revision(self):
        c = self.project('update')
        g = self.make_sg(c, 'u1', description='one')
        st, body = c.put(SG + '/' + g['id'], {'security_group': {'name': 'u2',
                                                                  'description': 'two'}})
        self.assertEqual(st, 200, body)
        u = body['security_group']
        self.assertEqual((u['name'], u['description'], u['revision_number']), ('u2', 'two', 2))
        self.assertEqual(self.shapes(u['security_group_rules']), new_group_rule_shapes())
        # No change, no new revision.
        st, body = c.put(SG + '/' + g['id'], {'security_group': {'name': 'u2'}})
        self.assertEqual(body['security_group']['revision_number'], 2)
        self.assertError(c.put(SG + '/' + g['id'], {'security_group': {'id': MISSING}}), 400,
                         'HTTPBadRequest')
        self.assertError(c.put(SG + '/' + MISSING, {'security_group': {'name': 'x'}}), 404,
                         'SecurityGroupNotFound')
        self.assertError(c.delete(SG + '/' + MISSING), 404, 'SecurityGroupNotFound')

    def test_group_in_use_cannot_be_deleted(self):
        c = self.project('in-use')
        net = self.net_for(c, '10.65.0.0/24')
        g1 = self.make_sg(c, 'g1')
        g2 = self.make_sg(c, 'g2')
        port = self.make_port(net['id'], client=c, security_groups=[g1['id']])
        self.assertEqual(port['security_groups'], [g1['id']])
        err = self.assertError(c.delete(SG + '/' + g1['id']), 409, 'SecurityGroupInUse')
        self.assertEqual(err['message'], 'Security Group %s in use.' % g1['id'])
        self.assertError(self.delete(SG + '/' + g1['id']), 409, 'SecurityGroupInUse')
        # Moving the port to another group frees the first one.
        st, body = c.put('/v2.0/ports/' + port['id'], {'port': {'security_groups': [g2['id']]}})
        self.assertEqual(st, 200, body)
        self.assertEqual(body['port']['security_groups'], [g2['id']])
        st, body = c.delete(SG + '/' + g1['id'])
        self.assertEqual(st, 204, body)
        self.assertIsNone(body)
        self.assertError(c.delete(SG + '/' + g2['id']), 409, 'SecurityGroupInUse')
        # Deleting the port frees the second.
        st, _ = c.delete('/v2.0/ports/' + port['id'])
        self.assertEqual(st, 204)
        st, _ = c.delete(SG + '/' + g2['id'])
        self.assertEqual(st, 204)
        self.assertError(c.get(SG + '/' + g2['id']), 404, 'SecurityGroupNotFound')

    def test_delete_group_deletes_its_rules_and_rules_naming_it(self):
        c = self.project('cascade')
        a = self.make_sg(c, 'a')
        b = self.make_sg(c, 'b')
        a_rule = self.make_rule(c, a['id'], protocol='tcp', port_range_min=80,
                                port_range_max=80)
        b_ref = self.make_rule(c, b['id'], remote_group_id=a['id'])
        b_keep = self.make_rule(c, b['id'], protocol='udp', port_range_min=53,
                                port_range_max=53)
        self.assertEqual(b_ref['remote_group_id'], a['id'])
        a_rule_ids = [r['id'] for r in self.show_sg(c, a['id'])['security_group_rules']]
        self.assertEqual(len(a_rule_ids), 3)
        st, _ = c.delete(SG + '/' + a['id'])
        self.assertEqual(st, 204)
        for rid in a_rule_ids + [b_ref['id']]:
            self.assertError(c.get(RULES + '/' + rid), 404, 'SecurityGroupRuleNotFound')
        st, body = c.get(RULES + '/' + b_keep['id'])
        self.assertEqual(st, 200, body)
        left = self.show_sg(c, b['id'])['security_group_rules']
        self.assertEqual(sorted(r['id'] for r in left),
                         sorted([b_keep['id']] + [r['id'] for r in b['security_group_rules']]))
        st, body = c.get(RULES + '?security_group_id=' + b['id'])
        self.assertEqual(sorted(r['id'] for r in body['security_group_rules']),
                         sorted(r['id'] for r in left))
        st, body = c.get(RULES + '?remote_group_id=' + a['id'])
        self.assertEqual(body['security_group_rules'], [])
        self.assertIsNotNone(a_rule)

    # ---------- rules ----------

    def test_rule_create_like_sample_25_26_27_28(self):
        c = self.project('rules-sample')
        g = self.make_sg(c, 's-sg', description='d')
        ref = reference('25-sg-rule-create.json')
        req = dict(ref['request_body']['security_group_rule'])
        req['security_group_id'] = g['id']
        del req['project_id']
        st, body = c.post(RULES, {'security_group_rule': req})
        self.assertEqual(st, ref['status'], body)
        r = body['security_group_rule']
        want = ref['response_body']['security_group_rule']
        self.assertEqual(set(r), set(want))
        for k in want:
            if k not in ('id', 'security_group_id', 'created_at', 'updated_at', 'project_id',
                         'tenant_id'):
                self.assertEqual(r[k], want[k], k)
        self.assertEqual(r['security_group_id'], g['id'])
        self.assertEqual((r['project_id'], r['tenant_id']), ('sg-rules-sample', 'sg-rules-sample'))
        st, body = c.get(RULES + '/' + r['id'])
        self.assertEqual((st, body), (200, {'security_group_rule': r}))
        # Sample 28: the group now has three rules and revision 2.
        shown = self.show_sg(c, g['id'])
        self.assertEqual(shown['revision_number'],
                         reference('28-sg-get.json')['response_body']['security_group']
                         ['revision_number'])
        self.assertIn(r, shown['security_group_rules'])
        self.assertEqual(len(shown['security_group_rules']), 3)
        # Sample 26: the same rule again.
        ref = reference('26-sg-rule-create-duplicate.json')
        st, body = c.post(RULES, {'security_group_rule': req})
        self.assertEqual(st, ref['status'], body)
        self.assertEqual(body, {'NeutronError': {
            'type': 'SecurityGroupRuleExists',
            'message': 'Security group rule already exists. Rule id is %s.' % r['id'],
            'detail': ''}})
        # Sample 27: min > max.
        ref = reference('27-sg-rule-create-bad-range.json')
        bad = dict(ref['request_body']['security_group_rule'])
        bad['security_group_id'] = g['id']
        del bad['project_id']
        st, body = c.post(RULES, {'security_group_rule': bad})
        self.assertEqual((st, body), (ref['status'], ref['response_body']))
        self.assertEqual(self.show_sg(c, g['id'])['revision_number'], 2)

    def test_rule_defaults(self):
        c = self.project('rule-defaults')
        g = self.make_sg(c, 'g')
        r = self.make_rule(c, g['id'], direction='egress', protocol='udp',
                           port_range_min=53, port_range_max=53, description='dns')
        self.assertEqual(r['ethertype'], 'IPv4')
        self.assertEqual(r['description'], 'dns')
        self.assertIsNone(r['remote_ip_prefix'])
        self.assertIsNone(r['normalized_cidr'])
        self.assertIsNone(r['remote_group_id'])
        self.assertIsNone(r['remote_address_group_id'])
        self.assertEqual(r['revision_number'], 0)
        # Required attributes.
        self.assertError(c.post(RULES, {'security_group_rule': {'security_group_id': g['id']}}),
                         400, 'HTTPBadRequest', 'direction')
        self.assertError(c.post(RULES, {'security_group_rule': {'direction': 'ingress'}}),
                         400, 'HTTPBadRequest', 'security_group_id')
        self.assertError(self.rule(c, g['id'], direction='sideways'), 400, 'HTTPBadRequest',
                         'sideways')
        self.assertError(self.rule(c, g['id'], ethertype='IPv5'), 400, 'HTTPBadRequest', 'IPv5')

    def test_rule_protocols(self):
        c = self.project('protocols')
        g = self.make_sg(c, 'g')
        cases = [
            ({'protocol': 'tcp'}, 'tcp'),
            ({'protocol': 'udp', 'direction': 'egress'}, 'udp'),
            ({'protocol': 'TCP', 'direction': 'egress'}, 'tcp'),
            ({'protocol': 'icmp'}, 'icmp'),
            ({'protocol': 'ipv6-icmp', 'ethertype': 'IPv6'}, 'ipv6-icmp'),
            ({'protocol': 'icmpv6', 'ethertype': 'IPv6', 'direction': 'egress'}, 'ipv6-icmp'),
            ({'protocol': 'gre'}, 'gre'),
            ({'protocol': 'sctp'}, 'sctp'),
            ({'protocol': '0'}, '0'),
            ({'protocol': 255}, '255'),
            ({'protocol': '132', 'ethertype': 'IPv6'}, '132'),
            ({'protocol': None, 'remote_ip_prefix': '10.9.0.0/16'}, None),
        ]
        for attrs, want in cases:
            r = self.make_rule(c, g['id'], **attrs)
            self.assertEqual(r['protocol'], want, attrs)
        for bad in (256, '256', 'foo', -1, '-1', 'tcpx', 'any'):
            err = self.assertError(self.rule(c, g['id'], protocol=bad), 400,
                                   'SecurityGroupRuleInvalidProtocol')
            self.assertIn('Security group rule protocol %s not supported' % bad, err['message'])
        self.assertEqual(len(self.show_sg(c, g['id'])['security_group_rules']), 2 + len(cases))

    def test_rule_ethertype_must_match(self):
        c = self.project('ethertype')
        g = self.make_sg(c, 'g')
        err = self.assertError(self.rule(c, g['id'], ethertype='IPv6',
                                         remote_ip_prefix='10.0.0.0/8'),
                               400, 'SecurityGroupRuleParameterConflict')
        self.assertIn('IPv6', err['message'])
        self.assertIn('10.0.0.0/8', err['message'])
        self.assertError(self.rule(c, g['id'], ethertype='IPv4',
                                   remote_ip_prefix='2001:db8::/32'),
                         400, 'SecurityGroupRuleParameterConflict')
        self.assertError(self.rule(c, g['id'], remote_ip_prefix='2001:db8::/32'),
                         400, 'SecurityGroupRuleParameterConflict')
        self.assertError(self.rule(c, g['id'], protocol='ipv6-icmp', ethertype='IPv4'),
                         400, 'SecurityGroupEthertypeConflictWithProtocol')
        self.assertError(self.rule(c, g['id'], protocol='58', ethertype='IPv4'),
                         400, 'SecurityGroupEthertypeConflictWithProtocol')
        # icmp with IPv6 is ipv6-icmp (tests/api/test_neutron_parity.py).
        self.assertError(self.rule(c, g['id'], remote_ip_prefix='10.0.0.300/8'), 400,
                         'HTTPBadRequest')
        self.assertEqual(len(self.show_sg(c, g['id'])['security_group_rules']), 2)

    def test_rule_port_ranges(self):
        c = self.project('ports')
        g = self.make_sg(c, 'g')
        ok = [
            {'protocol': 'tcp', 'port_range_min': 1, 'port_range_max': 65534},
            {'protocol': 'udp', 'port_range_min': 5000, 'port_range_max': 5001},
            {'protocol': 'sctp', 'port_range_min': 9, 'port_range_max': 9},
            {'protocol': 'dccp', 'port_range_min': 10, 'port_range_max': 20},
            {'protocol': 'udplite', 'port_range_min': 30, 'port_range_max': 40},
            {'protocol': '6', 'port_range_min': 443, 'port_range_max': 443},
            {'protocol': 'icmp', 'port_range_min': 8, 'port_range_max': 0},
            {'protocol': 'icmp', 'port_range_min': 3},
            {'protocol': 'icmp', 'port_range_min': 255, 'port_range_max': 255},
            {'protocol': 'ipv6-icmp', 'ethertype': 'IPv6', 'port_range_min': 128,
             'port_range_max': 0},
            {'protocol': 'tcp', 'port_range_min': '8080', 'port_range_max': '8081'},
        ]
        for attrs in ok:
            r = self.make_rule(c, g['id'], **attrs)
            self.assertEqual(r['port_range_min'], int(attrs['port_range_min']), attrs)
            self.assertEqual(r['port_range_max'],
                             None if 'port_range_max' not in attrs
                             else int(attrs['port_range_max']), attrs)
        err = self.assertError(self.rule(c, g['id'], protocol='udp', port_range_min=90,
                                         port_range_max=80), 400, 'SecurityGroupInvalidPortRange')
        self.assertEqual(err['message'],
                         'For TCP/UDP protocols, port_range_min must be <= port_range_max')
        err = self.assertError(self.rule(c, g['id'], protocol='tcp', port_range_min=0,
                                         port_range_max=10), 400, 'SecurityGroupInvalidPortValue')
        self.assertEqual(err['message'], 'Invalid value for port 0.')
        self.assertError(self.rule(c, g['id'], protocol='tcp', port_range_min=10,
                                   port_range_max=0), 400, 'SecurityGroupInvalidPortValue')
        self.assertError(self.rule(c, g['id'], protocol='tcp', port_range_min=1,
                                   port_range_max=65536), 400, 'SecurityGroupInvalidPortValue',
                         '65536')
        self.assertError(self.rule(c, g['id'], protocol='tcp', port_range_min=-1,
                                   port_range_max=5), 400, 'SecurityGroupInvalidPortValue')
        err = self.assertError(self.rule(c, g['id'], protocol='gre', port_range_min=1,
                                         port_range_max=2), 400,
                               'SecurityGroupInvalidProtocolForPort')
        self.assertIn('gre', err['message'])
        self.assertError(self.rule(c, g['id'], protocol='vrrp', port_range_min=1), 400,
                         'SecurityGroupInvalidProtocolForPort')
        err = self.assertError(self.rule(c, g['id'], port_range_min=22, port_range_max=22),
                               400, 'SecurityGroupProtocolRequiredWithPorts')
        self.assertEqual(err['message'], 'Must also specify protocol if port range is given.')
        self.assertError(self.rule(c, g['id'], protocol=None, port_range_min=22,
                                   port_range_max=22),
                         400, 'SecurityGroupProtocolRequiredWithPorts')
        err = self.assertError(self.rule(c, g['id'], protocol='icmp', port_range_max=3), 400,
                               'SecurityGroupMissingIcmpType')
        self.assertIn('3', err['message'])
        self.assertError(self.rule(c, g['id'], protocol='icmp', port_range_min=256), 400,
                         'SecurityGroupInvalidIcmpValue', '256')
        self.assertError(self.rule(c, g['id'], protocol='icmp', port_range_min=8,
                                   port_range_max=256), 400, 'SecurityGroupInvalidIcmpValue',
                         '256')
        self.assertEqual(len(self.show_sg(c, g['id'])['security_group_rules']), 2 + len(ok))

    def test_non_numeric_port_is_an_invalid_port_value(self):
        # Neutron converts ports with convert_validate_port_value:
        # SecurityGroupInvalidPortValue "Invalid value for port x."
        c = self.project('ports-nan')
        g = self.make_sg(c, 'g')
        err = self.assertError(self.rule(c, g['id'], protocol='tcp', port_range_min='x',
                                         port_range_max=5), 400, 'SecurityGroupInvalidPortValue')
        self.assertEqual(err['message'], 'Invalid value for port x.')

    def test_rule_remote_group_xor_prefix(self):
        c = self.project('remote')
        g = self.make_sg(c, 'g')
        other = self.make_sg(c, 'other')
        err = self.assertError(self.rule(c, g['id'], remote_ip_prefix='10.0.0.0/8',
                                         remote_group_id=other['id']),
                               400, 'SecurityGroupMultipleRemoteEntites')
        self.assertEqual(err['message'], 'Only one of remote_ip_prefix or remote_group_id or '
                                         'remote_address_group_id may be provided.')
        r = self.make_rule(c, g['id'], remote_group_id=other['id'])
        self.assertEqual(r['remote_group_id'], other['id'])
        self.assertIsNone(r['remote_ip_prefix'])
        self.assertIsNone(r['normalized_cidr'])
        own = self.make_rule(c, g['id'], remote_group_id=g['id'], protocol='tcp')
        self.assertEqual(own['remote_group_id'], g['id'])
        self.assertError(self.rule(c, g['id'], remote_group_id=MISSING), 404,
                         'SecurityGroupNotFound', MISSING)
        # Another project's group is not a remote group this project can name.
        foreign = self.make_sg(self.project('remote-other'), 'foreign')
        self.assertError(self.rule(c, g['id'], remote_group_id=foreign['id']), 404,
                         'SecurityGroupNotFound')
        self.assertError(self.rule(c, g['id'], remote_group_id='not-a-uuid'), 400,
                         'HTTPBadRequest')

    def test_rule_normalized_cidr(self):
        c = self.project('cidr')
        g = self.make_sg(c, 'g')
        r = self.make_rule(c, g['id'], remote_ip_prefix='10.1.2.3/8')
        self.assertEqual((r['remote_ip_prefix'], r['normalized_cidr']),
                         ('10.1.2.3/8', '10.0.0.0/8'))
        r = self.make_rule(c, g['id'], ethertype='IPv6', remote_ip_prefix='2001:db8::1/64')
        self.assertEqual((r['remote_ip_prefix'], r['normalized_cidr']),
                         ('2001:db8::1/64', '2001:db8::/64'))
        r = self.make_rule(c, g['id'], remote_ip_prefix='0.0.0.0/0', protocol='tcp')
        self.assertEqual((r['remote_ip_prefix'], r['normalized_cidr']),
                         ('0.0.0.0/0', '0.0.0.0/0'))

    def test_rule_prefix_without_length_becomes_host_cidr(self):
        # Neutron converts remote_ip_prefix with convert_ip_prefix_to_cidr
        # (str(netaddr.IPNetwork(x))): a bare address is a /32 (or /128).
        c = self.project('cidr-host')
        g = self.make_sg(c, 'g')
        r = self.make_rule(c, g['id'], remote_ip_prefix='192.168.7.9')
        self.assertEqual((r['remote_ip_prefix'], r['normalized_cidr']),
                         ('192.168.7.9/32', '192.168.7.9/32'))
        r = self.make_rule(c, g['id'], ethertype='IPv6', remote_ip_prefix='2001:db8::9')
        self.assertEqual((r['remote_ip_prefix'], r['normalized_cidr']),
                         ('2001:db8::9/128', '2001:db8::9/128'))

    def test_duplicate_rule_detection_normalizes_protocol_and_any_prefix(self):
        # Neutron's _rule_to_key: a protocol is compared by name and number
        # ('tcp' == '6') and 0.0.0.0/0 or ::/0 is the same as no prefix.
        c = self.project('dup-norm')
        g = self.make_sg(c, 'g')
        r = self.make_rule(c, g['id'], protocol='tcp', port_range_min=22, port_range_max=22)
        self.assertError(self.rule(c, g['id'], protocol='6', port_range_min=22,
                                   port_range_max=22), 409, 'SecurityGroupRuleExists', r['id'])
        self.assertError(self.rule(c, g['id'], protocol='tcp', port_range_min=22,
                                   port_range_max=22, remote_ip_prefix='0.0.0.0/0'),
                         409, 'SecurityGroupRuleExists', r['id'])
        self.assertEqual(len(self.show_sg(c, g['id'])['security_group_rules']), 3)

    def test_rule_duplicates_and_near_duplicates(self):
        c = self.project('dups')
        g = self.make_sg(c, 'g')
        base = {'protocol': 'tcp', 'port_range_min': 22, 'port_range_max': 22,
                'remote_ip_prefix': '10.0.0.0/8'}
        r = self.make_rule(c, g['id'], **base)
        self.assertError(self.rule(c, g['id'], description='other text', **base), 409,
                         'SecurityGroupRuleExists', r['id'])
        # The automatic egress rule exists already.
        eg = [x for x in g['security_group_rules'] if x['ethertype'] == 'IPv4'][0]
        err = self.assertError(self.rule(c, g['id'], direction='egress'), 409,
                               'SecurityGroupRuleExists')
        self.assertEqual(err['message'], 'Security group rule already exists. Rule id is %s.'
                         % eg['id'])
        # Each difference makes a different rule.
        for change in ({'direction': 'egress'}, {'port_range_max': 23}, {'protocol': 'udp'},
                       {'remote_ip_prefix': '10.0.0.0/16'},
                       {'ethertype': 'IPv6', 'remote_ip_prefix': '2001:db8::/32'}):
            attrs = dict(base, **change)
            self.make_rule(c, g['id'], **attrs)
        # The same rule in another group is not a duplicate.
        g2 = self.make_sg(c, 'g2')
        self.make_rule(c, g2['id'], **base)

    def test_rule_on_missing_group(self):
        c = self.project('missing')
        err = self.assertError(self.rule(c, MISSING), 404, 'SecurityGroupNotFound')
        self.assertIn(MISSING, err['message'])
        self.assertError(self.rule(self.admin, MISSING), 404, 'SecurityGroupNotFound')
        self.assertError(c.get(RULES + '/' + MISSING), 404, 'SecurityGroupRuleNotFound')
        self.assertError(c.delete(RULES + '/' + MISSING), 404, 'SecurityGroupRuleNotFound')

    def test_rule_add_and_remove_bump_group_revision(self):
        c = self.project('revisions')
        g = self.make_sg(c, 'g')
        self.assertEqual(g['revision_number'], 1)
        r1 = self.make_rule(c, g['id'], protocol='tcp', port_range_min=80, port_range_max=80)
        shown = self.show_sg(c, g['id'])
        self.assertEqual(shown['revision_number'], 2)
        self.assertEqual(len(shown['security_group_rules']), 3)
        self.assertIn(r1, shown['security_group_rules'])
        r2 = self.make_rule(c, g['id'], protocol='udp', port_range_min=80, port_range_max=80)
        self.assertEqual(self.show_sg(c, g['id'])['revision_number'], 3)
        st, body = c.delete(RULES + '/' + r1['id'])
        self.assertEqual((st, body), (204, None))
        shown = self.show_sg(c, g['id'])
        self.assertEqual(shown['revision_number'], 4)
        ids = [x['id'] for x in shown['security_group_rules']]
        self.assertNotIn(r1['id'], ids)
        self.assertIn(r2['id'], ids)
        self.assertEqual(len(ids), 3)
        self.assertError(c.get(RULES + '/' + r1['id']), 404, 'SecurityGroupRuleNotFound')
        self.assertError(c.delete(RULES + '/' + r1['id']), 404, 'SecurityGroupRuleNotFound')
        # A failed rule create changes nothing.
        self.assertError(self.rule(c, g['id'], protocol='foo'), 400,
                         'SecurityGroupRuleInvalidProtocol')
        self.assertEqual(self.show_sg(c, g['id'])['revision_number'], 4)
        # The automatic rules can be removed too.
        eg = [x for x in g['security_group_rules'] if x['ethertype'] == 'IPv6'][0]
        st, _ = c.delete(RULES + '/' + eg['id'])
        self.assertEqual(st, 204)
        shown = self.show_sg(c, g['id'])
        self.assertEqual(shown['revision_number'], 5)
        self.assertEqual(len(shown['security_group_rules']), 2)

    def test_project_isolation(self):
        a = self.project('iso-a')
        b = self.project('iso-b')
        ga = self.make_sg(a, 'mine')
        ra = self.make_rule(a, ga['id'], protocol='tcp', port_range_min=1, port_range_max=2)
        da = self.default_of(a)
        for gid in (ga['id'], da['id']):
            err = self.assertError(b.get(SG + '/' + gid), 404, 'SecurityGroupNotFound')
            self.assertIn(gid, err['message'])
            self.assertError(b.put(SG + '/' + gid, {'security_group': {'description': 'x'}}),
                             404, 'SecurityGroupNotFound')
            self.assertError(b.delete(SG + '/' + gid), 404, 'SecurityGroupNotFound')
            self.assertError(self.rule(b, gid, protocol='udp'), 404, 'SecurityGroupNotFound')
        self.assertError(b.get(RULES + '/' + ra['id']), 404, 'SecurityGroupRuleNotFound')
        self.assertError(b.delete(RULES + '/' + ra['id']), 404, 'SecurityGroupRuleNotFound')
        groups = self.groups(b)
        self.assertEqual([g['name'] for g in groups], ['default'])
        self.assertEqual({g['project_id'] for g in groups}, {'sg-iso-b'})
        st, body = b.get(RULES)
        self.assertEqual(st, 200, body)
        self.assertEqual({r['project_id'] for r in body['security_group_rules']}, {'sg-iso-b'})
        self.assertEqual(len(body['security_group_rules']), 4)
        st, body = b.get(SG + '?id=' + ga['id'])
        self.assertEqual(body['security_groups'], [])
        # A cannot put its group on B's behalf, nor give it a project.
        self.assertError(a.post(SG, {'security_group': {'name': 'x', 'project_id': 'sg-iso-b'}}),
                         400, 'HTTPBadRequest')
        # A reader of A can see but not write.
        reader = self.client('sg-iso-a', 'reader')
        self.assertEqual(reader.get(SG + '/' + ga['id'])[0], 200)
        self.assertError(reader.post(SG, {'security_group': {'name': 'r'}}), 403,
                         'PolicyNotAuthorized')
        self.assertError(self.rule(reader, ga['id'], protocol='udp'), 403, 'PolicyNotAuthorized')
        self.assertError(reader.delete(SG + '/' + ga['id']), 403, 'PolicyNotAuthorized')
        # The admin sees both.
        st, body = self.get(SG + '?id=%s&id=%s' % (ga['id'], self.default_of(b)['id']))
        self.assertEqual(len(body['security_groups']), 2)

    # ---------- ports ----------

    def test_port_groups(self):
        c = self.project('port-groups')
        net = self.net_for(c, '10.66.0.0/24')
        default = self.default_of(c)
        g1 = self.make_sg(c, 'g1')
        g2 = self.make_sg(c, 'g2')
        p = self.make_port(net['id'], client=c)
        self.assertEqual(p['security_groups'], [default['id']])
        self.assertTrue(p['port_security_enabled'])
        p = self.make_port(net['id'], client=c, security_groups=[g1['id'], g2['id']])
        self.assertEqual(sorted(p['security_groups']), sorted([g1['id'], g2['id']]))
        st, body = c.get('/v2.0/ports/' + p['id'])
        self.assertEqual(sorted(body['port']['security_groups']), sorted([g1['id'], g2['id']]))
        p = self.make_port(net['id'], client=c, security_groups=[])
        self.assertEqual(p['security_groups'], [])
        # Missing or foreign groups.
        foreign = self.make_sg(self.project('port-groups-other'), 'foreign')
        for gid in (MISSING, foreign['id']):
            err = self.assertError(c.post('/v2.0/ports', {'port': {
                'network_id': net['id'], 'security_groups': [g1['id'], gid]}}), 404,
                'SecurityGroupNotFound')
            self.assertIn(gid, err['message'])
        self.assertError(c.post('/v2.0/ports', {'port': {
            'network_id': net['id'], 'security_groups': ['nope']}}), 400, 'HTTPBadRequest')
        self.assertError(c.post('/v2.0/ports', {'port': {
            'network_id': net['id'], 'security_groups': [g1['id'], g1['id']]}}), 400,
            'HTTPBadRequest')
        st, body = c.get('/v2.0/ports?network_id=' + net['id'])
        self.assertEqual(len(body['ports']), 3)
        # Update groups; a foreign group on update is 404 too and changes nothing.
        st, body = c.put('/v2.0/ports/' + p['id'], {'port': {'security_groups': [g2['id']]}})
        self.assertEqual(st, 200, body)
        self.assertEqual(body['port']['security_groups'], [g2['id']])
        self.assertError(c.put('/v2.0/ports/' + p['id'], {'port': {
            'security_groups': [foreign['id']]}}), 404, 'SecurityGroupNotFound')
        st, body = c.get('/v2.0/ports/' + p['id'])
        self.assertEqual(body['port']['security_groups'], [g2['id']])

    def test_admin_may_put_another_projects_group_on_a_port(self):
        # Neutron's _get_security_groups_on_port lets an admin name any
        # project's group (context.is_admin); a member only its port's
        # project's (SecurityGroupNotFound, as the member test above).
        a, b = self.project('adm-a'), self.project('adm-b')
        net = self.net_for(a, '10.67.0.0/24')
        ga = self.make_sg(a, 'ga')
        gb = self.make_sg(b, 'gb')
        p = self.make_port(net['id'], project_id='sg-adm-a',
                           security_groups=[ga['id'], gb['id']])
        self.assertEqual(sorted(p['security_groups']), sorted([ga['id'], gb['id']]))
        # The group is in use: its owner cannot delete it, as in Neutron.
        self.assertError(b.delete(SG + '/' + gb['id']), 409, 'SecurityGroupInUse')
        st, body = self.put('/v2.0/ports/' + p['id'], {'port': {'security_groups': [ga['id']]}})
        self.assertEqual(st, 200, body)
        self.assertEqual(b.delete(SG + '/' + gb['id'])[0], 204)
        # The port's project itself still may not.
        gc = self.make_sg(self.project('adm-c'), 'gc')
        self.assertError(a.put('/v2.0/ports/' + p['id'], {'port': {
            'security_groups': [ga['id'], gc['id']]}}), 404, 'SecurityGroupNotFound')
        st, body = a.get('/v2.0/ports/' + p['id'])
        self.assertEqual(body['port']['security_groups'], [ga['id']])

    def test_port_security_disabled_needs_no_groups(self):
        c = self.project('port-sec')
        net = self.net_for(c, '10.67.0.0/24')
        g1 = self.make_sg(c, 'g1')
        p = self.make_port(net['id'], client=c, port_security_enabled=False)
        self.assertEqual(p['security_groups'], [])
        self.assertFalse(p['port_security_enabled'])
        # Groups together with port security off (Neutron ML2: InvalidInput, 400).
        err = self.assertError(c.post('/v2.0/ports', {'port': {
            'network_id': net['id'], 'port_security_enabled': False,
            'security_groups': [g1['id']]}}), 400, 'PortSecurityAndIPRequiredForSecurityGroups')
        self.assertEqual(err['message'], 'Port security must be enabled and port must have an '
                                         'IP address in order to use security groups.')
        # Turning it off on a port that keeps groups is a conflict (409).
        q = self.make_port(net['id'], client=c, security_groups=[g1['id']])
        err = self.assertError(c.put('/v2.0/ports/' + q['id'], {'port': {
            'port_security_enabled': False}}), 409, 'PortSecurityPortHasSecurityGroup')
        self.assertEqual(err['message'], 'Port has security group associated. Cannot disable '
                                         'port security or IP address until security group is '
                                         'removed')
        self.assertError(c.put('/v2.0/ports/' + q['id'], {'port': {
            'port_security_enabled': False, 'security_groups': [g1['id']]}}), 400,
            'PortSecurityAndIPRequiredForSecurityGroups')
        st, body = c.get('/v2.0/ports/' + q['id'])
        self.assertEqual(body['port']['security_groups'], [g1['id']])
        self.assertTrue(body['port']['port_security_enabled'])
        self.assertEqual(body['port']['revision_number'], q['revision_number'])
        # ... unless the same request removes them.
        st, body = c.put('/v2.0/ports/' + q['id'], {'port': {
            'port_security_enabled': False, 'security_groups': []}})
        self.assertEqual(st, 200, body)
        self.assertEqual(body['port']['security_groups'], [])
        self.assertFalse(body['port']['port_security_enabled'])
        self.assertEqual(body['port']['revision_number'], q['revision_number'] + 1)
        # The group is no longer in use.
        st, _ = c.delete(SG + '/' + g1['id'])
        self.assertEqual(st, 204)
        # Groups can't be added while port security is off.
        self.assertError(c.put('/v2.0/ports/' + q['id'], {'port': {
            'security_groups': [self.default_of(c)['id']]}}), 400,
            'PortSecurityAndIPRequiredForSecurityGroups')
        # Turning it back on with groups works.
        d = self.default_of(c)
        st, body = c.put('/v2.0/ports/' + q['id'], {'port': {
            'port_security_enabled': True, 'security_groups': [d['id']]}})
        self.assertEqual(st, 200, body)
        self.assertEqual(body['port']['security_groups'], [d['id']])
        self.assertTrue(body['port']['port_security_enabled'])

    def test_filter_ports_by_security_group(self):
        c = self.project('port-filter')
        net = self.net_for(c, '10.68.0.0/24')
        g1 = self.make_sg(c, 'g1')
        g2 = self.make_sg(c, 'g2')
        p1 = self.make_port(net['id'], client=c, security_groups=[g1['id']])
        p2 = self.make_port(net['id'], client=c, security_groups=[g2['id']])
        p3 = self.make_port(net['id'], client=c, security_groups=[g1['id'], g2['id']])
        p4 = self.make_port(net['id'], client=c)

        def ids(query):
            st, body = c.get('/v2.0/ports?' + query)
            self.assertEqual(st, 200, body)
            return sorted(p['id'] for p in body['ports'])

        self.assertEqual(ids('security_groups=' + g1['id']), sorted([p1['id'], p3['id']]))
        self.assertEqual(ids('security_groups=' + g2['id']), sorted([p2['id'], p3['id']]))
        self.assertEqual(ids('security_groups=%s&security_groups=%s' % (g1['id'], g2['id'])),
                         sorted([p1['id'], p2['id'], p3['id']]))
        self.assertEqual(ids('security_groups=' + p4['security_groups'][0]), [p4['id']])
        self.assertEqual(ids('security_groups=' + MISSING), [])
        self.assertEqual(ids('security_groups=%s&network_id=%s' % (g1['id'], MISSING)), [])


if __name__ == '__main__':
    unittest.main()
