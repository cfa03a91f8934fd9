"""Query conventions on every collection (networks, subnets, ports,
security-groups, security-group-rules): filters, fields=, sorting,
limit/marker pagination with <collection>_links exactly as Neutron builds
them (sample 23, neutron.api.api_common.get_pagination_links), bulk create
(all-or-nothing), and revisions with If-Match.

Expected orders come from Python's own (stable) sort of the same data, with
ties broken by id as Neutron's native pagination appends id to the sort keys.
"""
import json
import os
import unittest
import urllib.parse

import qhvtest

REFERENCE = os.environ.get('QHV_NEUTRON_WIRE', '/work/shared/reference/neutron-21-wire')
MISSING = '0b5d6a1e-3f36-4d51-9f8e-1d8b2c4a9e70'
PROJECT = 'conv'


def json_key(collection):
    return collection.replace('-', '_')


def python_sort(items, sorts):
    """Stable multi-key sort; ties by id ascending."""
    out = sorted(items, key=lambda x: x['id'])
    for key, direction in reversed(sorts):
        out = sorted(out, key=lambda x: x[key], reverse=(direction == 'desc'))
    return out


def neutron_links(base, path, params, items, limit, page_reverse):
    """neutron.api.api_common.get_pagination_links for a request with query
    params (a list of pairs, in order)."""
    links = []
    if not limit:
        return links

    def without(ps, *keys):
        return [(k, v) for k, v in ps if k not in keys]

    if not (len(items) < limit and not page_reverse):
        ps = without(params, 'marker')
        if items:
            ps.append(('marker', items[-1]['id']))
        ps = without(ps, 'page_reverse')
        links.append({'rel': 'next',
                      'href': '%s%s?%s' % (base, path, urllib.parse.urlencode(ps))})
    if not (len(items) < limit and page_reverse):
        ps = without(params, 'marker')
        if items:
            ps.append(('marker', items[0]['id']))
        ps = without(ps, 'page_reverse') + [('page_reverse', 'True')]
        links.append({'rel': 'previous',
                      'href': '%s%s?%s' % (base, path, urllib.parse.urlencode(ps))})
    return links


class ConventionsTest(qhvtest.ServerTestCase):
    """A fixed data set in project 'conv' (built once), read by every test."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.build()
        except Exception:
            cls.server.cleanup()
            raise

    @classmethod
    def build(cls):
        c = cls.member = qhvtest.Client(cls.server.port, {'X-Project-Id': PROJECT,
                                                          'X-Roles': 'member'})

        def post(path, key, attrs):
            st, body = c.post(path, {key: attrs})
            if st != 201:
                raise AssertionError('setup %s %s: %s %s' % (path, attrs, st, body))
            return body[key]

        names = ['delta', 'alpha', 'charlie', 'alpha', 'bravo', 'echo', 'bravo']
        mtus = [1400, 1500, 1450, 1500, 1400, 1450, 1500]
        descs = ['', 'x', '', 'y', 'x', '', 'z']
        cls.nets = [post('/v2.0/networks', 'network', {
            'name': n, 'admin_state_up': i % 3 != 0, 'mtu': mtus[i], 'description': descs[i]})
            for i, n in enumerate(names)]
        net0, net1 = cls.nets[0]['id'], cls.nets[1]['id']
        cls.subnets = []
        for i, n in enumerate(['s-b', 's-a', 's-c', 's-a', 's-d', 's-e', 's-b']):
            v6 = i in (2, 5)
            cidr = '2001:db8:81:%d::/64' % i if v6 else '10.81.%d.0/24' % i
            cls.subnets.append(post('/v2.0/subnets', 'subnet', {
                'network_id': net0, 'cidr': cidr, 'ip_version': 6 if v6 else 4, 'name': n,
                'enable_dhcp': i % 2 == 0}))
        cls.port_subnet = post('/v2.0/subnets', 'subnet', {
            'network_id': net1, 'cidr': '10.82.0.0/24', 'ip_version': 4, 'name': 's-ports'})
        cls.subnets.append(cls.port_subnet)
        owners = ['compute:nova', '', 'compute:nova', 'compute:az1', '', '', 'compute:az1']
        cls.ports = [post('/v2.0/ports', 'port', {
            'network_id': net1, 'name': 'p%d' % (i % 4), 'admin_state_up': i % 2 == 0,
            'device_owner': owners[i], 'device_id': 'dev-%d' % (i % 3)})
            for i in range(7)]
        sg_names = ['web', 'db', 'app', 'web2', 'cache', 'lb']
        sg_descs = ['b', 'a', 'b', 'c', 'a', 'b']
        cls.sgs = [post('/v2.0/security-groups', 'security_group', {
            'name': n, 'description': sg_descs[i]}) for i, n in enumerate(sg_names)]
        web = cls.sgs[0]['id']
        for attrs in ({'protocol': 'tcp', 'port_range_min': 22, 'port_range_max': 22},
                      {'protocol': 'tcp', 'port_range_min': 80, 'port_range_max': 80},
                      {'protocol': 'udp', 'port_range_min': 53, 'port_range_max': 53},
                      {'protocol': 'icmp'},
                      {'protocol': 'tcp', 'ethertype': 'IPv6', 'port_range_min': 443,
                       'port_range_max': 443, 'remote_ip_prefix': '2001:db8::/32'}):
            attrs.update(security_group_id=web, direction='ingress')
            post('/v2.0/security-group-rules', 'security_group_rule', attrs)

    # ---------- helpers ----------

    def base(self):
        return 'http://127.0.0.1:%d' % self.server.port

    def lst(self, collection, query='', client=None):
        st, body = (client or self.member).get('/v2.0/%s%s' % (collection, query))
        self.assertEqual(st, 200, body)
        return body

    def items(self, collection, query='', client=None):
        return self.lst(collection, query, client)[json_key(collection)]

    def ids(self, collection, query='', client=None):
        return [x['id'] for x in self.items(collection, query, client)]

    def assertBadQuery(self, collection, query, part, client=None):
        st, body = (client or self.member).get('/v2.0/%s?%s' % (collection, query))
        self.assertEqual(st, 400, (collection, query, json.dumps(body)[:300]))
        self.assertEqual(set(body), {'NeutronError'})
        self.assertIn(part, body['NeutronError']['message'], (collection, query))

    # Sort keys to try, per collection (no attribute that may be null).
    SORTS = {
        'networks': [[('name', 'asc'), ('admin_state_up', 'desc')],
                     [('mtu', 'desc'), ('name', 'asc')],
                     [('admin_state_up', 'asc')],
                     [('description', 'asc'), ('mtu', 'asc'), ('name', 'desc')]],
        'subnets': [[('ip_version', 'desc'), ('name', 'asc')],
                    [('enable_dhcp', 'asc'), ('cidr', 'desc')],
                    [('name', 'desc')]],
        'ports': [[('admin_state_up', 'asc'), ('name', 'desc')],
                  [('device_owner', 'desc'), ('device_id', 'asc'), ('name', 'asc')],
                  [('mac_address', 'asc')]],
        'security-groups': [[('description', 'asc'), ('name', 'desc')],
                            [('name', 'asc')]],
        'security-group-rules': [[('direction', 'asc'), ('ethertype', 'desc')],
                                 [('ethertype', 'asc'), ('direction', 'desc'),
                                  ('security_group_id', 'asc')]],
    }
    COLLECTIONS = list(SORTS)

    def sort_query(self, sorts):
        return [p for k, d in sorts for p in (('sort_key', k), ('sort_dir', d))]

    # ---------- the data set ----------

    def test_data_set_is_visible_to_its_project(self):
        self.assertEqual(len(self.items('networks')), 7)
        self.assertEqual(len(self.items('subnets')), 8)
        self.assertEqual(len(self.items('ports')), 7)
        self.assertEqual(len(self.items('security-groups')), 7)   # with default
        self.assertEqual(len(self.items('security-group-rules')), 4 + 2 * 6 + 5)
        # The admin sees the same through a project filter.
        for coll in self.COLLECTIONS:
            self.assertEqual(sorted(self.ids(coll, '?project_id=' + PROJECT, self.admin)),
                             sorted(self.ids(coll)), coll)

    # ---------- filters ----------

    def test_filters_networks(self):
        def names(q):
            return sorted(n['name'] for n in self.items('networks', '?' + q))

        self.assertEqual(names('name=alpha'), ['alpha', 'alpha'])
        self.assertEqual(names('name=alpha&name=echo'), ['alpha', 'alpha', 'echo'])
        self.assertEqual(names('name=nope'), [])
        want = sorted(n['name'] for n in self.nets if not n['admin_state_up'])
        self.assertEqual(names('admin_state_up=false'), want)
        self.assertEqual(names('admin_state_up=False'), want)
        self.assertEqual(names('admin_state_up=0'), want)
        self.assertEqual(names('admin_state_up=true'),
                         sorted(n['name'] for n in self.nets if n['admin_state_up']))
        self.assertEqual(names('mtu=1450'), ['charlie', 'echo'])
        self.assertEqual(names('mtu=1450&mtu=1400'), ['bravo', 'charlie', 'delta', 'echo'])
        self.assertEqual(names('mtu=1500&name=bravo'), ['bravo'])
        self.assertEqual(names('description=x'), ['alpha', 'bravo'])
        self.assertEqual(names('description='), ['charlie', 'delta', 'echo'])
        self.assertEqual(names('id=%s&id=%s' % (self.nets[0]['id'], self.nets[5]['id'])),
                         ['delta', 'echo'])
        self.assertEqual(len(self.items('networks', '?project_id=' + PROJECT)), 7)
        self.assertEqual(len(self.items('networks', '?tenant_id=' + PROJECT)), 7)
        self.assertEqual(self.items('networks', '?project_id=other'), [])

    def test_filters_subnets(self):
        def names(q):
            return sorted(s['name'] for s in self.items('subnets', '?' + q))

        self.assertEqual(names('ip_version=6'), ['s-c', 's-e'])
        self.assertEqual(names('ip_version=4&name=s-a'), ['s-a', 's-a'])
        self.assertEqual(names('enable_dhcp=false'),
                         sorted(s['name'] for s in self.subnets if not s['enable_dhcp']))
        self.assertEqual(names('cidr=10.81.4.0/24'), ['s-d'])
        self.assertEqual(names('cidr=10.81.4.0/24&cidr=2001:db8:81:5::/64'), ['s-d', 's-e'])
        self.assertEqual(names('network_id=' + self.nets[1]['id']), ['s-ports'])
        self.assertEqual(len(self.items('subnets', '?network_id=' + self.nets[0]['id'])), 7)
        self.assertEqual(names('network_id=%s&network_id=%s' % (self.nets[0]['id'],
                                                                self.nets[1]['id'])),
                         sorted(s['name'] for s in self.subnets))
        self.assertEqual(names('gateway_ip=10.81.1.1'), ['s-a'])

    def test_filters_ports(self):
        def ids(q):
            return sorted(self.ids('ports', '?' + q))

        def want(pred):
            return sorted(p['id'] for p in self.ports if pred(p))

        self.assertEqual(ids('name=p1'), want(lambda p: p['name'] == 'p1'))
        self.assertEqual(ids('name=p1&name=p2'), want(lambda p: p['name'] in ('p1', 'p2')))
        self.assertEqual(ids('device_owner=compute:nova'),
                         want(lambda p: p['device_owner'] == 'compute:nova'))
        self.assertEqual(ids('device_owner='), want(lambda p: p['device_owner'] == ''))
        self.assertEqual(ids('admin_state_up=false&device_id=dev-1'),
                         want(lambda p: not p['admin_state_up'] and p['device_id'] == 'dev-1'))
        self.assertEqual(ids('mac_address=' + self.ports[3]['mac_address']),
                         [self.ports[3]['id']])
        ip = self.ports[4]['fixed_ips'][0]['ip_address']
        self.assertEqual(ids('fixed_ips=ip_address=' + ip), [self.ports[4]['id']])
        self.assertEqual(ids('fixed_ips=subnet_id=' + self.port_subnet['id']),
                         want(lambda p: True))
        self.assertEqual(ids('network_id=' + self.nets[0]['id']), [])

    def test_filters_security_groups_and_rules(self):
        def sg_names(q):
            return sorted(g['name'] for g in self.items('security-groups', '?' + q))

        self.assertEqual(sg_names('name=web&name=db'), ['db', 'web'])
        self.assertEqual(sg_names('description=b'), ['app', 'lb', 'web'])
        self.assertEqual(sg_names('name=default'), ['default'])
        web = self.sgs[0]['id']
        rules = self.items('security-group-rules', '?security_group_id=' + web)
        self.assertEqual(len(rules), 7)

        def rule_ids(q):
            return sorted(self.ids('security-group-rules', '?' + q))

        def want(pred):
            return sorted(r['id'] for r in self.items('security-group-rules') if pred(r))

        self.assertEqual(rule_ids('security_group_id=%s&direction=ingress' % web),
                         sorted(r['id'] for r in rules if r['direction'] == 'ingress'))
        self.assertEqual(len(rule_ids('security_group_id=%s&direction=ingress' % web)), 5)
        self.assertEqual(rule_ids('port_range_min=80'), want(lambda r: r['port_range_min'] == 80))
        self.assertEqual(len(rule_ids('port_range_min=80')), 1)
        self.assertEqual(rule_ids('ethertype=IPv6&direction=egress'),
                         want(lambda r: r['ethertype'] == 'IPv6' and r['direction'] == 'egress'))
        self.assertEqual(len(rule_ids('ethertype=IPv6&direction=egress')), 7)
        self.assertEqual(rule_ids('remote_ip_prefix=2001:db8::/32'),
                         want(lambda r: r['remote_ip_prefix'] == '2001:db8::/32'))
        default = self.items('security-groups', '?name=default')[0]['id']
        self.assertEqual(len(rule_ids('remote_group_id=' + default)), 2)

    def test_filter_rules_by_protocol(self):
        # openstack security group rule list --protocol tcp sends ?protocol=tcp;
        # Neutron filters on it like on any other attribute.
        def rule_ids(q):
            return sorted(self.ids('security-group-rules', '?' + q))

        every = self.items('security-group-rules')
        self.assertEqual(rule_ids('protocol=tcp'),
                         sorted(r['id'] for r in every if r['protocol'] == 'tcp'))
        self.assertEqual(len(rule_ids('protocol=tcp')), 3)
        self.assertEqual(rule_ids('protocol=tcp&protocol=udp'),
                         sorted(r['id'] for r in every if r['protocol'] in ('tcp', 'udp')))
        self.assertEqual(rule_ids('protocol=icmp&direction=ingress'),
                         sorted(r['id'] for r in every if r['protocol'] == 'icmp'))

    def test_invalid_filters(self):
        for coll in self.COLLECTIONS:
            self.assertBadQuery(coll, 'bogus=1', 'bogus is invalid attribute for filtering')
            self.assertBadQuery(coll, 'id=%s&bogus=1' % MISSING, 'bogus')
        self.assertBadQuery('networks', 'admin_state_up=maybe', 'maybe')
        self.assertBadQuery('ports', 'admin_state_up=2', 'admin_state_up')
        self.assertBadQuery('networks', 'mtu=big', 'big')
        self.assertBadQuery('subnets', 'ip_version=four', 'four')
        self.assertBadQuery('subnets', 'enable_dhcp=perhaps', 'perhaps')
        self.assertBadQuery('security-group-rules', 'port_range_min=abc', 'abc')
        self.assertBadQuery('ports', 'fixed_ips=mac=1', 'fixed_ips')
        # Admin-only attributes are no filters for members.
        self.assertBadQuery('ports', 'binding:host_id=h1', 'binding:host_id')
        self.assertBadQuery('networks', 'provider:network_type=vlan', 'provider:network_type')
        self.assertEqual(self.items('ports', '?binding:host_id=nowhere', self.admin), [])

    # ---------- fields ----------

    def test_fields(self):
        for coll, pair in (('networks', 'name'), ('subnets', 'cidr'), ('ports', 'mac_address'),
                           ('security-groups', 'description'),
                           ('security-group-rules', 'direction')):
            full = {x['id']: x for x in self.items(coll)}
            got = self.items(coll, '?fields=id&fields=' + pair)
            self.assertEqual(len(got), len(full))
            for x in got:
                self.assertEqual(x, {'id': x['id'], pair: full[x['id']][pair]}, coll)
            got = self.items(coll, '?fields=' + pair)
            self.assertEqual(sorted(x[pair] for x in got),
                             sorted(x[pair] for x in full.values()))
            for x in got:
                self.assertEqual(list(x), [pair])
            # Unknown names are ignored.
            got = self.items(coll, '?fields=id&fields=no_such_field')
            for x in got:
                self.assertEqual(list(x), ['id'])
            # Show takes fields= too.
            one = next(iter(full))
            st, body = self.member.get('/v2.0/%s/%s?fields=id&fields=%s' % (coll, one, pair))
            self.assertEqual(st, 200, body)
            self.assertEqual(body[json_key(coll)[:-1]], {'id': one, pair: full[one][pair]})
        # Filters and fields combine; a filter on a field not shown still applies.
        got = self.items('networks', '?name=alpha&fields=mtu')
        self.assertEqual(sorted(x['mtu'] for x in got), [1500, 1500])

    # ---------- sorting ----------

    def test_sorting_matches_python_sort(self):
        for coll, sortss in self.SORTS.items():
            everything = self.items(coll)
            for sorts in sortss:
                q = '?' + urllib.parse.urlencode(self.sort_query(sorts))
                got = [x['id'] for x in self.items(coll, q)]
                want = [x['id'] for x in python_sort(everything, sorts)]
                self.assertEqual(got, want, (coll, sorts))
                # Filtered and sorted.
                if coll == 'networks':
                    got = self.ids(coll, q + '&admin_state_up=true')
                    want = [x['id'] for x in python_sort(everything, sorts)
                            if x['admin_state_up']]
                    self.assertEqual(got, want)

    def test_sorting_is_stable_and_repeatable(self):
        q = '?sort_key=name&sort_dir=asc'
        first = self.ids('networks', q)
        for _ in range(3):
            self.assertEqual(self.ids('networks', q), first)
        # Ties (two 'alpha', two 'bravo') come in id order.
        got = self.items('networks', q)
        for a, b in zip(got, got[1:]):
            self.assertLessEqual((a['name'], a['id']), (b['name'], b['id']))
        # Sorting by id alone.
        self.assertEqual(self.ids('networks', '?sort_key=id&sort_dir=desc'),
                         sorted(first, reverse=True))
        # The admin's listing sorts the same way.
        self.assertEqual(self.ids('networks', q + '&project_id=' + PROJECT, self.admin), first)

    def test_invalid_sorting(self):
        for coll in self.COLLECTIONS:
            self.assertBadQuery(coll, 'sort_key=bogus&sort_dir=asc', 'bogus')
            self.assertBadQuery(coll, 'sort_key=bogus&sort_dir=asc', 'sort_key')
            self.assertBadQuery(coll, 'sort_key=id&sort_dir=sideways', 'sideways')
            self.assertBadQuery(coll, 'sort_key=id&sort_key=created_at&sort_dir=asc',
                                'The number of sort_keys and sort_dirs must be same')
            self.assertBadQuery(coll, 'sort_key=id&sort_dir=asc&sort_dir=desc',
                                'The number of sort_keys and sort_dirs must be same')

    def test_sort_key_without_sort_dir_is_a_count_mismatch(self):
        # neutron.api.api_common.get_sorts: len(sort_keys) != len(sort_dirs)
        # -> 400 "The number of sort_keys and sort_dirs must be same".
        for coll in self.COLLECTIONS:
            self.assertBadQuery(coll, 'sort_key=id',
                                'The number of sort_keys and sort_dirs must be same')
            self.assertBadQuery(coll, 'sort_dir=asc',
                                'The number of sort_keys and sort_dirs must be same')

    # ---------- pagination ----------

    def get_page(self, collection, params):
        path = '/v2.0/' + collection
        st, body = self.member.get(path + '?' + urllib.parse.urlencode(params))
        self.assertEqual(st, 200, body)
        return body

    def follow(self, href):
        self.assertTrue(href.startswith(self.base() + '/v2.0/'), href)
        st, body = self.member.get(href[len(self.base()):])
        self.assertEqual(st, 200, body)
        return body

    def check_links(self, collection, params, body, limit, reverse):
        items = body[json_key(collection)]
        want = neutron_links(self.base(), '/v2.0/' + collection, params, items, limit, reverse)
        got = body.get(json_key(collection) + '_links')
        if want:
            self.assertEqual(got, want, (collection, params))
        else:
            self.assertNotIn(json_key(collection) + '_links', body)
        self.assertEqual(set(body) - {json_key(collection), json_key(collection) + '_links'},
                         set())
        return {link['rel']: link['href'] for link in (got or [])}

    def walk(self, collection, sorts, limit, reverse):
        """All pages from the first (or last), following next (or previous)
        links; returns the pages in list order."""
        params = [('limit', str(limit))] + self.sort_query(sorts)
        if reverse:
            params.append(('page_reverse', 'True'))
        body = self.get_page(collection, params)
        pages = []
        for _ in range(50):
            items = body[json_key(collection)]
            self.assertLessEqual(len(items), limit)
            pages.append(items)
            links = self.check_links(collection, params, body, limit, reverse)
            rel = 'previous' if reverse else 'next'
            if rel not in links:
                break
            params = urllib.parse.parse_qsl(urllib.parse.urlsplit(links[rel]).query)
            body = self.follow(links[rel])
        else:
            self.fail('pagination does not end')
        return list(reversed(pages)) if reverse else pages

    def limits_for(self, count):
        return [n for n in (2, 3, 4, 5) if count % n][:2]

    def test_pagination_walks_forward_and_backward(self):
        for coll, sortss in self.SORTS.items():
            everything = self.items(coll)
            for sorts in [[]] + sortss:
                want = [x['id'] for x in python_sort(everything, sorts)]
                for limit in self.limits_for(len(everything)):
                    for reverse in (False, True):
                        pages = self.walk(coll, sorts, limit, reverse)
                        got = [x['id'] for page in pages for x in page]
                        self.assertEqual(got, want, (coll, sorts, limit, reverse))
                        self.assertEqual(len(pages), -(-len(want) // limit))
                        # Every page but the last (first when reversed) is full.
                        sizes = [len(p) for p in pages]
                        inner = sizes[:-1] if not reverse else sizes[1:]
                        self.assertEqual(set(inner), {limit}, sizes)

    def test_pagination_like_sample_23(self):
        # limit=2 on the ports of one network: next marker = last id,
        # previous marker = first id with page_reverse=True.
        net1 = self.nets[1]['id']
        params = [('network_id', net1), ('limit', '2')]
        body = self.get_page('ports', params)
        ports = body['ports']
        want = sorted(p['id'] for p in self.ports)
        self.assertEqual([p['id'] for p in ports], want[:2])
        prefix = '%s/v2.0/ports?network_id=%s&limit=2' % (self.base(), net1)
        self.assertEqual(body['ports_links'], [
            {'rel': 'next', 'href': prefix + '&marker=' + want[1]},
            {'rel': 'previous', 'href': prefix + '&marker=' + want[0] + '&page_reverse=True'}])
        self.assertEqual(list(body), ['ports', 'ports_links'])
        ref_path = os.path.join(REFERENCE, '23-port-list-limit.json')
        if os.path.exists(ref_path):
            with open(ref_path) as f:
                ref = json.load(f)['response_body']
            self.assertEqual([x['rel'] for x in ref['ports_links']],
                             [x['rel'] for x in body['ports_links']])
            st, admin_view = self.admin.get('/v2.0/ports?' + urllib.parse.urlencode(params))
            self.assertEqual([p['id'] for p in admin_view['ports']], want[:2])
            self.assertEqual(admin_view['ports_links'], body['ports_links'])
            self.assertEqual(set(ref['ports'][0]),
                             set(admin_view['ports'][0]) - {'port_security_enabled'})

    def test_page_reverse_with_marker(self):
        want = sorted(n['id'] for n in self.nets)
        body = self.get_page('networks', [('limit', '2'), ('marker', want[4]),
                                          ('page_reverse', 'True')])
        self.assertEqual([n['id'] for n in body['networks']], want[2:4])
        params = [('limit', '2'), ('marker', want[4]), ('page_reverse', 'True')]
        self.check_links('networks', params, body, 2, True)
        # Near the start, a short reverse page has no previous link.
        params = [('limit', '3'), ('marker', want[1]), ('page_reverse', 'True')]
        body = self.get_page('networks', params)
        self.assertEqual([n['id'] for n in body['networks']], want[:1])
        links = self.check_links('networks', params, body, 3, True)
        self.assertEqual(list(links), ['next'])
        # Forward from a marker.
        params = [('limit', '3'), ('marker', want[1])]
        body = self.get_page('networks', params)
        self.assertEqual([n['id'] for n in body['networks']], want[2:5])
        self.check_links('networks', params, body, 3, False)
        # A marker without a limit starts after the marker.
        self.assertEqual(self.ids('networks', '?marker=' + want[4]), want[5:])
        # page_reverse without limit or marker changes nothing.
        self.assertEqual(self.ids('networks', '?page_reverse=True'), want)

    def test_pagination_with_sort_and_marker_in_the_middle(self):
        sorts = [('mtu', 'desc'), ('name', 'asc')]
        want = [x['id'] for x in python_sort(self.items('networks'), sorts)]
        params = [('limit', '2')] + self.sort_query(sorts) + [('marker', want[2])]
        body = self.get_page('networks', params)
        self.assertEqual([n['id'] for n in body['networks']], want[3:5])
        self.check_links('networks', params, body, 2, False)
        params = [('limit', '2')] + self.sort_query(sorts) + [('marker', want[2]),
                                                              ('page_reverse', 'True')]
        body = self.get_page('networks', params)
        self.assertEqual([n['id'] for n in body['networks']], want[0:2])
        self.check_links('networks', params, body, 2, True)

    def test_pagination_limit_edges(self):
        want = sorted(n['id'] for n in self.nets)
        # limit=0: no pagination at all.
        body = self.get_page('networks', [('limit', '0')])
        self.assertEqual([n['id'] for n in body['networks']], want)
        self.assertEqual(list(body), ['networks'])
        # A limit above the count: everything, with only a previous link.
        params = [('limit', '100')]
        body = self.get_page('networks', params)
        self.assertEqual([n['id'] for n in body['networks']], want)
        links = self.check_links('networks', params, body, 100, False)
        self.assertEqual(list(links), ['previous'])
        # limit == count: a full page, so a next link too.
        params = [('limit', '7')]
        body = self.get_page('networks', params)
        links = self.check_links('networks', params, body, 7, False)
        self.assertEqual(sorted(links), ['next', 'previous'])
        # With filters and pagination.
        params = [('name', 'alpha'), ('name', 'bravo'), ('limit', '3')]
        body = self.get_page('networks', params)
        ab = sorted(n['id'] for n in self.nets if n['name'] in ('alpha', 'bravo'))
        self.assertEqual([n['id'] for n in body['networks']], ab[:3])
        links = self.check_links('networks', params, body, 3, False)
        body = self.follow(links['next'])
        self.assertEqual([n['id'] for n in body['networks']], ab[3:])

    def test_pagination_past_the_end(self):
        # The page after the last full page is empty; Neutron still gives it
        # a previous link (without marker: items is empty).
        want = sorted(n['id'] for n in self.nets)
        params = [('limit', '7')]
        body = self.get_page('networks', params)
        links = self.check_links('networks', params, body, 7, False)
        params = urllib.parse.parse_qsl(urllib.parse.urlsplit(links['next']).query)
        self.assertEqual(params, [('limit', '7'), ('marker', want[-1])])
        body = self.follow(links['next'])
        self.assertEqual(body['networks'], [])
        self.check_links('networks', params, body, 7, False)

    def test_pagination_with_fields_keeps_markers(self):
        want = sorted(self.nets, key=lambda n: n['id'])
        params = [('fields', 'name'), ('limit', '3')]
        body = self.get_page('networks', params)
        self.assertEqual(body['networks'], [{'name': n['name']} for n in want[:3]])
        prefix = '%s/v2.0/networks?fields=name&limit=3' % self.base()
        self.assertEqual(body['networks_links'], [
            {'rel': 'next', 'href': prefix + '&marker=' + want[2]['id']},
            {'rel': 'previous', 'href': prefix + '&marker=' + want[0]['id'] +
             '&page_reverse=True'}])

    def test_pagination_as_admin_and_on_all_collections_with_max_limit_unset(self):
        for coll in self.COLLECTIONS:
            everything = sorted(self.ids(coll))
            params = [('project_id', PROJECT), ('limit', '2')]
            st, body = self.admin.get('/v2.0/%s?%s' % (coll, urllib.parse.urlencode(params)))
            self.assertEqual(st, 200, body)
            self.assertEqual([x['id'] for x in body[json_key(coll)]], everything[:2])
            self.check_links(coll, params, body, 2, False)

    def test_invalid_pagination(self):
        for coll in self.COLLECTIONS:
            for bad in ('-1', 'abc', '1.5', ''):
                self.assertBadQuery(coll, 'limit=' + bad,
                                    "Limit must be an integer 0 or greater and not '%s'" % bad)
            self.assertBadQuery(coll, 'limit=2&marker=' + MISSING, MISSING)
            self.assertBadQuery(coll, 'limit=2&marker=not-a-uuid', 'not-a-uuid')
        # A marker the caller can't see (another project's network).
        other = self.make_network(self.client('conv-other'))
        self.assertBadQuery('networks', 'limit=2&marker=' + other['id'], other['id'])
        # A marker of another kind.
        self.assertBadQuery('networks', 'limit=2&marker=' + self.ports[0]['id'],
                            self.ports[0]['id'])


class BulkTest(qhvtest.ServerTestCase):
    """{"<collection>": [...]} creates all items in one transaction."""

    def test_bulk_networks(self):
        c = self.client('bulk-net')
        st, body = c.post('/v2.0/networks', {'networks': [
            {'name': 'bn1'}, {'name': 'bn2', 'admin_state_up': False}, {'name': 'bn3'}]})
        self.assertEqual(st, 201, body)
        self.assertEqual(list(body), ['networks'])
        got = body['networks']
        self.assertEqual([n['name'] for n in got], ['bn1', 'bn2', 'bn3'])
        self.assertEqual([n['admin_state_up'] for n in got], [True, False, True])
        self.assertEqual(len({n['id'] for n in got}), 3)
        st, listed = c.get('/v2.0/networks')
        self.assertEqual(sorted(n['id'] for n in listed['networks']),
                         sorted(n['id'] for n in got))
        for bad in ({'admin_state_up': 'maybe'}, {'bogus': 1}, {'mtu': 10}, 'str'):
            st, body = c.post('/v2.0/networks', {'networks': [{'name': 'bx1'}, {'name': 'bx2'},
                                                             bad]})
            self.assertEqual(st, 400, (bad, body))
            st, listed = c.get('/v2.0/networks?name=bx1&name=bx2')
            self.assertEqual(listed['networks'], [], bad)
        self.assertEqual(c.post('/v2.0/networks', {'networks': []})[0], 400)
        self.assertEqual(c.post('/v2.0/networks', {'networks': {'name': 'x'}})[0], 400)
        self.assertEqual(c.post('/v2.0/networks', {'networks': [{'name': 'x'}],
                                                   'network': {'name': 'y'}})[0], 400)

    def test_bulk_subnets(self):
        c = self.client('bulk-sub')
        net = self.make_network(c)
        st, body = c.post('/v2.0/subnets', {'subnets': [
            {'network_id': net['id'], 'cidr': '10.90.1.0/24', 'ip_version': 4, 'name': 'a'},
            {'network_id': net['id'], 'cidr': '2001:db8:90::/64', 'ip_version': 6,
             'name': 'b'}]})
        self.assertEqual(st, 201, body)
        self.assertEqual([s['cidr'] for s in body['subnets']], ['10.90.1.0/24', '2001:db8:90::/64'])
        st, n = c.get('/v2.0/networks/' + net['id'])
        self.assertEqual(sorted(n['network']['subnets']), sorted(s['id'] for s in body['subnets']))
        # The second overlaps the first: neither exists afterwards.
        err = self.assertError(c.post('/v2.0/subnets', {'subnets': [
            {'network_id': net['id'], 'cidr': '10.90.2.0/24', 'ip_version': 4, 'name': 'c'},
            {'network_id': net['id'], 'cidr': '10.90.2.128/25', 'ip_version': 4, 'name': 'd'}]}),
            400, 'InvalidInput')
        self.assertIn('overlaps with another subnet', err['message'])
        st, listed = c.get('/v2.0/subnets?network_id=' + net['id'])
        self.assertEqual(sorted(s['name'] for s in listed['subnets']), ['a', 'b'])
        st, n2 = c.get('/v2.0/networks/' + net['id'])
        self.assertEqual(n2['network']['revision_number'], n['network']['revision_number'])
        # A missing network in the second.
        self.assertError(c.post('/v2.0/subnets', {'subnets': [
            {'network_id': net['id'], 'cidr': '10.90.3.0/24', 'ip_version': 4, 'name': 'e'},
            {'network_id': MISSING, 'cidr': '10.90.4.0/24', 'ip_version': 4, 'name': 'f'}]}),
            404, 'NetworkNotFound')
        st, listed = c.get('/v2.0/subnets?name=e&name=f')
        self.assertEqual(listed['subnets'], [])

    def test_bulk_ports_like_sample_17(self):
        c = self.client('bulk-port')
        net = self.make_network(c)
        sub = self.make_subnet(net['id'], '10.91.0.0/24', client=c)
        st, body = c.post('/v2.0/ports', {'ports': [
            {'network_id': net['id'], 'name': 's-bulk0'},
            {'network_id': net['id'], 'name': 's-bulk1'}]})
        self.assertEqual(st, 201, body)
        self.assertEqual([p['name'] for p in body['ports']], ['s-bulk0', 's-bulk1'])
        ips = [p['fixed_ips'][0]['ip_address'] for p in body['ports']]
        self.assertNotEqual(ips[0], ips[1])
        self.assertNotEqual(body['ports'][0]['mac_address'], body['ports'][1]['mac_address'])
        for p in body['ports']:
            self.assertEqual(p['fixed_ips'][0]['subnet_id'], sub['id'])
            self.assertEqual(p['revision_number'], 1)
            self.assertEqual(p['status'], 'DOWN')
        # The same address twice: a conflict, and neither port exists. (An
        # address the two ports above did not get: allocation is random, as
        # Neutron's.)
        free_ip = next(a for a in ('10.91.0.77', '10.91.0.78', '10.91.0.79') if a not in ips)
        self.assertError(c.post('/v2.0/ports', {'ports': [
            {'network_id': net['id'], 'name': 'dup0',
             'fixed_ips': [{'subnet_id': sub['id'], 'ip_address': free_ip}]},
            {'network_id': net['id'], 'name': 'dup1',
             'fixed_ips': [{'subnet_id': sub['id'], 'ip_address': free_ip}]}]}),
            409, 'IpAddressAlreadyAllocated')
        st, listed = c.get('/v2.0/ports?name=dup0&name=dup1')
        self.assertEqual(listed['ports'], [])
        # The address is free again.
        p = self.make_port(net['id'], client=c,
                           fixed_ips=[{'subnet_id': sub['id'], 'ip_address': free_ip}])
        self.assertEqual(p['fixed_ips'][0]['ip_address'], free_ip)
        self.assertError(c.post('/v2.0/ports', {'ports': [
            {'network_id': net['id'], 'name': 'm0'}, {'network_id': MISSING, 'name': 'm1'}]}),
            404, 'NetworkNotFound')
        st, listed = c.get('/v2.0/ports?name=m0&name=m1')
        self.assertEqual(listed['ports'], [])
        st, listed = c.get('/v2.0/ports?network_id=' + net['id'])
        self.assertEqual(len(listed['ports']), 3)

    def test_bulk_security_groups(self):
        c = self.client('bulk-sg')
        st, body = c.post('/v2.0/security-groups', {'security_groups': [
            {'name': 'g1'}, {'name': 'g2', 'description': 'two'}]})
        self.assertEqual(st, 201, body)
        got = body['security_groups']
        self.assertEqual([(g['name'], g['description']) for g in got],
                         [('g1', ''), ('g2', 'two')])
        for g in got:
            self.assertEqual(sorted((r['direction'], r['ethertype'])
                                    for r in g['security_group_rules']),
                             [('egress', 'IPv4'), ('egress', 'IPv6')])
            self.assertEqual(g['revision_number'], 1)
        st, listed = c.get('/v2.0/security-groups')
        self.assertEqual(sorted(g['name'] for g in listed['security_groups']),
                         ['default', 'g1', 'g2'])
        self.assertError(c.post('/v2.0/security-groups', {'security_groups': [
            {'name': 'g3'}, {'name': 'default'}]}), 409, 'SecurityGroupDefaultAlreadyExists')
        self.assertError(c.post('/v2.0/security-groups', {'security_groups': [
            {'name': 'g3'}, {'name': 'x' * 256}]}), 400, 'HTTPBadRequest')
        st, listed = c.get('/v2.0/security-groups')
        self.assertEqual(sorted(g['name'] for g in listed['security_groups']),
                         ['default', 'g1', 'g2'])
        st, rules = c.get('/v2.0/security-group-rules')
        self.assertEqual(len(rules['security_group_rules']), 4 + 2 + 2)
        # A new project whose first request is a failed bulk: nothing stays
        # but the default group its next use creates.
        d = self.client('bulk-sg-fresh')
        self.assertError(d.post('/v2.0/security-groups', {'security_groups': [
            {'name': 'ok'}, {'name': 'default'}]}), 409, 'SecurityGroupDefaultAlreadyExists')
        st, listed = self.get('/v2.0/security-groups?project_id=bulk-sg-fresh')
        self.assertEqual(listed['security_groups'], [])
        st, listed = d.get('/v2.0/security-groups')
        self.assertEqual([g['name'] for g in listed['security_groups']], ['default'])

    def test_bulk_security_group_rules(self):
        c = self.client('bulk-rule')
        g = c.post('/v2.0/security-groups', {'security_group': {'name': 'g'}})[1]['security_group']
        st, body = c.post('/v2.0/security-group-rules', {'security_group_rules': [
            {'security_group_id': g['id'], 'direction': 'ingress', 'protocol': 'tcp',
             'port_range_min': 22, 'port_range_max': 22},
            {'security_group_id': g['id'], 'direction': 'ingress', 'protocol': 'udp',
             'port_range_min': 53, 'port_range_max': 53}]})
        self.assertEqual(st, 201, body)
        self.assertEqual([r['protocol'] for r in body['security_group_rules']], ['tcp', 'udp'])
        st, shown = c.get('/v2.0/security-groups/' + g['id'])
        rev = shown['security_group']['revision_number']
        self.assertEqual(len(shown['security_group']['security_group_rules']), 4)
        self.assertError(c.post('/v2.0/security-group-rules', {'security_group_rules': [
            {'security_group_id': g['id'], 'direction': 'ingress', 'protocol': 'tcp',
             'port_range_min': 80, 'port_range_max': 80},
            {'security_group_id': g['id'], 'direction': 'ingress', 'protocol': 'bogus'}]}),
            400, 'SecurityGroupRuleInvalidProtocol')
        st, shown = c.get('/v2.0/security-groups/' + g['id'])
        self.assertEqual(len(shown['security_group']['security_group_rules']), 4)
        self.assertEqual(shown['security_group']['revision_number'], rev)
        st, listed = c.get('/v2.0/security-group-rules?port_range_min=80')
        self.assertEqual(listed['security_group_rules'], [])
        # The same new rule twice in one request.
        st, body = c.post('/v2.0/security-group-rules', {'security_group_rules': [
            {'security_group_id': g['id'], 'direction': 'egress', 'protocol': 'tcp',
             'port_range_min': 25, 'port_range_max': 25}] * 2})
        self.assertEqual(st, 409, body)
        st, listed = c.get('/v2.0/security-group-rules?port_range_min=25')
        self.assertEqual(listed['security_group_rules'], [])

    def test_bulk_duplicate_rules_in_one_request_like_neutron(self):
        # Neutron: DuplicateSecurityGroupRuleInPost (409) for the same rule
        # twice in one bulk request.
        c = self.client('bulk-rule-dup')
        g = c.post('/v2.0/security-groups', {'security_group': {'name': 'g'}})[1]['security_group']
        self.assertError(c.post('/v2.0/security-group-rules', {'security_group_rules': [
            {'security_group_id': g['id'], 'direction': 'egress', 'protocol': 'tcp',
             'port_range_min': 25, 'port_range_max': 25}] * 2}), 409,
            'DuplicateSecurityGroupRuleInPost')


class RevisionTest(qhvtest.ServerTestCase):
    """revision_number and If-Match: revision_number=N on PUT and DELETE."""

    def resources(self, c):
        net = self.make_network(c, name='r-net')
        sub = self.make_subnet(net['id'], '10.95.0.0/24', client=c, name='r-sub')
        port = self.make_port(net['id'], client=c, name='r-port')
        st, body = c.post('/v2.0/security-groups', {'security_group': {'name': 'r-sg'}})
        self.assertEqual(st, 201, body)
        return [('networks', 'network', net['id']), ('subnets', 'subnet', sub['id']),
                ('ports', 'port', port['id']),
                ('security-groups', 'security_group', body['security_group']['id'])]

    def show(self, c, coll, key, rid):
        st, body = c.get('/v2.0/%s/%s' % (coll, rid))
        self.assertEqual(st, 200, body)
        return body[key]

    def test_revision_counts_changes(self):
        c = self.client('rev-count')
        for coll, key, rid in self.resources(c):
            rev = self.show(c, coll, key, rid)['revision_number']
            for i in range(3):
                st, body = c.put('/v2.0/%s/%s' % (coll, rid), {key: {'name': 'n%d' % i}})
                self.assertEqual(st, 200, body)
                self.assertEqual(body[key]['revision_number'], rev + i + 1, coll)
            # A no-op update is no change.
            st, body = c.put('/v2.0/%s/%s' % (coll, rid), {key: {'name': 'n2'}})
            self.assertEqual(body[key]['revision_number'], rev + 3, coll)
            st, body = c.put('/v2.0/%s/%s' % (coll, rid), {key: {}})
            self.assertEqual(st, 200, body)
            self.assertEqual(body[key]['revision_number'], rev + 3, coll)
            shown = self.show(c, coll, key, rid)
            self.assertEqual(shown['revision_number'], rev + 3)
            self.assertEqual(shown['name'], 'n2')
            # A failed update is no change either.
            st, body = c.put('/v2.0/%s/%s' % (coll, rid), {key: {'name': 'x' * 256}})
            self.assertEqual(st, 400, body)
            self.assertEqual(self.show(c, coll, key, rid)['revision_number'], rev + 3)

    def test_initial_revisions_like_neutron(self):
        # Samples 04, 11, 13, 24: network 1, subnet 0, port 1, group 1.
        c = self.client('rev-initial')
        got = {coll: self.show(c, coll, key, rid)['revision_number']
               for coll, key, rid in self.resources(c)}
        # The network got +1 for its subnet.
        self.assertEqual(got, {'networks': 2, 'subnets': 0, 'ports': 1, 'security-groups': 1})

    def test_if_match_on_update(self):
        c = self.client('rev-if-match')
        for coll, key, rid in self.resources(c):
            path = '/v2.0/%s/%s' % (coll, rid)
            rev = self.show(c, coll, key, rid)['revision_number']
            st, body = c.put(path, {key: {'name': 'a'}},
                             headers={'If-Match': 'revision_number=%d' % rev})
            self.assertEqual(st, 200, (coll, body))
            self.assertEqual(body[key]['revision_number'], rev + 1)
            for stale in (rev, rev + 5, 0):
                err = self.assertError(c.put(path, {key: {'name': 'b'}}, headers={
                    'If-Match': 'revision_number=%d' % stale}), 412,
                    'RevisionNumberConstraintFailed')
                self.assertIn(str(stale), err['message'])
                self.assertIn(str(rev + 1), err['message'])
            shown = self.show(c, coll, key, rid)
            self.assertEqual((shown['name'], shown['revision_number']), ('a', rev + 1))
            st, body = c.put(path, {key: {'name': 'b'}},
                             headers={'If-Match': 'revision_number=%d' % (rev + 1)})
            self.assertEqual(st, 200, body)
            self.assertEqual(body[key]['revision_number'], rev + 2)

    def test_if_match_on_delete(self):
        c = self.client('rev-delete')
        res = self.resources(c)
        # Delete in dependency order: port, subnet, group, network.
        for coll, key, rid in (res[2], res[1], res[3], res[0]):
            path = '/v2.0/%s/%s' % (coll, rid)
            rev = self.show(c, coll, key, rid)['revision_number']
            self.assertError(c.delete(path, headers={'If-Match': 'revision_number=%d' % (rev + 1)}),
                             412, 'RevisionNumberConstraintFailed')
            self.assertEqual(self.show(c, coll, key, rid)['revision_number'], rev)
            st, body = c.delete(path, headers={'If-Match': 'revision_number=%d' % rev})
            self.assertEqual((st, body), (204, None), coll)
            self.assertEqual(c.get(path)[0], 404)

    def test_malformed_if_match(self):
        c = self.client('rev-malformed')
        for coll, key, rid in self.resources(c):
            path = '/v2.0/%s/%s' % (coll, rid)
            rev = self.show(c, coll, key, rid)['revision_number']
            for bad in ('revision_number=abc', 'revision_number=', 'abc', '7',
                        'revision_number=1.5', 'revision_number=-1'):
                st, body = c.put(path, {key: {'name': 'z'}}, headers={'If-Match': bad})
                self.assertEqual(st, 400, (coll, bad, body))
                self.assertEqual(set(body), {'NeutronError'})
                st, body = c.delete(path, headers={'If-Match': bad})
                self.assertEqual(st, 400, (coll, bad, body))
            shown = self.show(c, coll, key, rid)
            self.assertEqual(shown['revision_number'], rev)
            self.assertNotEqual(shown['name'], 'z')

    def test_if_match_on_missing_resource(self):
        c = self.client('rev-missing')
        self.assertError(c.put('/v2.0/networks/' + MISSING, {'network': {'name': 'x'}},
                               headers={'If-Match': 'revision_number=1'}), 404, 'NetworkNotFound')
        self.assertError(c.delete('/v2.0/ports/' + MISSING,
                                  headers={'If-Match': 'revision_number=1'}), 404, 'PortNotFound')


if __name__ == '__main__':
    unittest.main()
