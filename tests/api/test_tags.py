"""Tags (standard-attr-tag) on networks, subnets, ports and security groups:
GET/PUT/DELETE /v2.0/{resource}/{id}/tags and .../tags/{tag}, the tags in
resource bodies, the tags/tags-any/not-tags/not-tags-any filters, validation,
revisions and who may tag. Behaviour as Neutron's tagging extension
(neutron/extensions/tagging.py, neutron/db/tag_db.py).
"""
import unittest
import urllib.parse

import qhvtest

MISSING = '7a1d2c3b-4e5f-4a6b-8c7d-9e0f1a2b3c4d'
TAGGABLE = ('networks', 'subnets', 'ports', 'security-groups')


def singular(collection):
    return {'networks': 'network', 'subnets': 'subnet', 'ports': 'port',
            'security-groups': 'security_group'}[collection]


class TagTest(qhvtest.ServerTestCase):

    # ---------- helpers ----------

    counter = 0

    def make(self, collection, client, **attrs):
        """One object of collection owned by client's project."""
        type(self).counter += 1
        n = type(self).counter
        if collection == 'networks':
            return self.make_network(client, **attrs)
        if collection == 'subnets':
            net = self.make_network(client)
            return self.make_subnet(net['id'], '10.%d.%d.0/24' % (100 + n // 250, n % 250),
                                    client=client, **attrs)
        if collection == 'ports':
            net = self.make_network(client)
            return self.make_port(net['id'], client=client, **attrs)
        attrs.setdefault('name', 'tag-sg-%d' % n)
        st, body = client.post('/v2.0/security-groups', {'security_group': attrs})
        self.assertEqual(st, 201, body)
        return body['security_group']

    def path(self, collection, oid, tag=None):
        p = '/v2.0/%s/%s/tags' % (collection, oid)
        if tag is not None:
            p += '/' + urllib.parse.quote(tag, safe='')
        return p

    def show(self, client, collection, oid):
        st, body = client.get('/v2.0/%s/%s' % (collection, oid))
        self.assertEqual(st, 200, body)
        return body[singular(collection)]

    def tags(self, client, collection, oid):
        st, body = client.get(self.path(collection, oid))
        self.assertEqual(st, 200, body)
        self.assertEqual(list(body), ['tags'])
        return sorted(body['tags'])

    # ---------- the tag API ----------

    def test_tag_lifecycle(self):
        for coll in TAGGABLE:
            c = self.client('tag-life-' + coll)
            obj = self.make(coll, c)
            oid = obj['id']
            self.assertEqual(obj['tags'], [])
            self.assertEqual(self.tags(c, coll, oid), [])
            # PUT .../tags replaces the set.
            st, body = c.put(self.path(coll, oid), {'tags': ['red', 'blue']})
            self.assertEqual(st, 200, (coll, body))
            self.assertEqual(sorted(body['tags']), ['blue', 'red'])
            self.assertEqual(list(body), ['tags'])
            self.assertEqual(self.tags(c, coll, oid), ['blue', 'red'])
            st, body = c.put(self.path(coll, oid), {'tags': ['green']})
            self.assertEqual((st, sorted(body['tags'])), (200, ['green']))
            self.assertEqual(self.tags(c, coll, oid), ['green'])
            # PUT .../tags/{tag} adds one.
            st, body = c.put(self.path(coll, oid, 'blue'), None)
            self.assertEqual((st, body), (201, None), coll)
            self.assertEqual(self.tags(c, coll, oid), ['blue', 'green'])
            # GET .../tags/{tag}: 204 or 404.
            st, body = c.get(self.path(coll, oid, 'blue'))
            self.assertEqual((st, body), (204, None))
            err = self.assertError(c.get(self.path(coll, oid, 'purple')), 404, 'TagNotFound')
            self.assertEqual(err['message'], 'Tag purple could not be found.')
            # The tags are in the resource and in lists.
            self.assertEqual(sorted(self.show(c, coll, oid)['tags']), ['blue', 'green'])
            st, body = c.get('/v2.0/%s?id=%s' % (coll, oid))
            self.assertEqual(sorted(body[coll.replace('-', '_')][0]['tags']), ['blue', 'green'])
            # DELETE .../tags/{tag}.
            st, body = c.delete(self.path(coll, oid, 'green'))
            self.assertEqual((st, body), (204, None))
            self.assertEqual(self.tags(c, coll, oid), ['blue'])
            self.assertError(c.delete(self.path(coll, oid, 'green')), 404, 'TagNotFound')
            self.assertEqual(self.tags(c, coll, oid), ['blue'])
            # DELETE .../tags removes all.
            c.put(self.path(coll, oid), {'tags': ['a', 'b', 'c']})
            st, body = c.delete(self.path(coll, oid))
            self.assertEqual((st, body), (204, None))
            self.assertEqual(self.tags(c, coll, oid), [])
            self.assertEqual(self.show(c, coll, oid)['tags'], [])
            # And again on no tags.
            st, _ = c.delete(self.path(coll, oid))
            self.assertEqual(st, 204)

    def test_tag_values(self):
        c = self.client('tag-values')
        net = self.make('networks', c)
        p = lambda tag=None: self.path('networks', net['id'], tag)   # noqa: E731
        for tag in ('with space', 'ünïcödé', 'a.b', 'x' * 255, 'UPPER', 'k=v'):
            st, body = c.put(p(tag), None)
            self.assertEqual(st, 201, (tag, body))
            self.assertEqual(c.get(p(tag))[0], 204, tag)
        got = self.tags(c, 'networks', net['id'])
        self.assertIn('with space', got)
        self.assertIn('ünïcödé', got)
        self.assertIn('x' * 255, got)
        # Tags are case sensitive.
        self.assertError(c.get(p('upper')), 404, 'TagNotFound')
        # Too long, a comma: 400 and nothing changes.
        before = self.show(c, 'networks', net['id'])
        for bad in ('x' * 256, 'a,b'):
            st, body = c.put(p(), {'tags': ['ok', bad]})
            self.assertEqual(st, 400, (bad, body))
            self.assertEqual(set(body), {'NeutronError'})
            self.assertIn('tags', body['NeutronError']['message'])
        for bad in ('a,b', 'a%2Cb'):
            st, body = c.put('/v2.0/networks/%s/tags/%s' % (net['id'], bad), None)
            self.assertEqual(st, 400, (bad, body))
            self.assertEqual(set(body), {'NeutronError'})
        for body in ({'tags': 'red'}, {'tags': [1]}, {'tags': [None]}, {'tag': ['a']},
                     {'tags': ['a'], 'more': 1}, ['a'], {'tags': {'a': 1}}):
            st, resp = c.put(p(), body)
            self.assertEqual(st, 400, (body, resp))
        st, resp = c.request('PUT', p(), raw=b'{"tags": [')
        self.assertEqual(st, 400, resp)
        after = self.show(c, 'networks', net['id'])
        self.assertEqual(sorted(after['tags']), sorted(before['tags']))
        self.assertEqual(after['revision_number'], before['revision_number'])

    def test_duplicate_tags_in_put_are_invalid_like_neutron(self):
        # Neutron validates the body with validate_list_of_unique_strings.
        c = self.client('tag-dups')
        net = self.make('networks', c)
        st, body = c.put(self.path('networks', net['id']), {'tags': ['a', 'b', 'a']})
        self.assertEqual(st, 400, body)
        self.assertEqual(body['NeutronError']['type'], 'InvalidInput')
        self.assertEqual(self.tags(c, 'networks', net['id']), [])

    def test_too_long_tag_in_path_is_400(self):
        # 256 characters: invalid input (Neutron: validate_string, max 255),
        # not an unknown path.
        c = self.client('tag-long-path')
        net = self.make('networks', c)
        st, body = c.put(self.path('networks', net['id'], 'x' * 256), None)
        self.assertEqual(st, 400, body)
        st, body = c.put(self.path('networks', net['id'], 'x' * 255), None)
        self.assertEqual(st, 201, body)
        self.assertEqual(self.tags(c, 'networks', net['id']), ['x' * 255])

    def test_tag_count_limit(self):
        c = self.client('tag-limit')
        net = self.make('networks', c)
        fifty = ['t%02d' % i for i in range(50)]
        st, body = c.put(self.path('networks', net['id']), {'tags': fifty})
        self.assertEqual(st, 200, body)
        self.assertEqual(sorted(body['tags']), fifty)
        st, body = c.put(self.path('networks', net['id'], 'one-more'), None)
        self.assertEqual(st, 400, body)
        st, body = c.put(self.path('networks', net['id']), {'tags': fifty + ['one-more']})
        self.assertEqual(st, 400, body)
        self.assertEqual(self.tags(c, 'networks', net['id']), fifty)

    def test_tags_on_missing_or_untaggable(self):
        c = self.client('tag-missing')
        for coll in TAGGABLE:
            for method, tag, body in (('GET', None, None), ('PUT', None, {'tags': ['a']}),
                                      ('DELETE', None, None), ('GET', 'a', None),
                                      ('PUT', 'a', None), ('DELETE', 'a', None)):
                st, resp = c.request(method, self.path(coll, MISSING, tag), body)
                self.assertEqual(st, 404, (coll, method, tag, resp))
                self.assertEqual(set(resp), {'NeutronError'})
        g = self.make('security-groups', c)
        rule = g['security_group_rules'][0]['id']
        st, resp = c.put('/v2.0/security-group-rules/%s/tags/a' % rule, None)
        self.assertEqual(st, 404, resp)
        st, resp = c.get('/v2.0/security-group-rules/%s/tags' % rule)
        self.assertEqual(st, 404, resp)
        # Other methods on .../tags.
        net = self.make('networks', c)
        st, resp = c.post(self.path('networks', net['id']), {'tags': ['a']})
        self.assertEqual(st, 405, resp)
        self.assertEqual(self.tags(c, 'networks', net['id']), [])

    # ---------- revisions ----------

    def test_tag_changes_bump_revision(self):
        for coll in TAGGABLE:
            c = self.client('tag-rev-' + coll)
            obj = self.make(coll, c)
            oid = obj['id']
            rev = self.show(c, coll, oid)['revision_number']
            steps = [
                ('PUT', None, {'tags': ['a', 'b']}, 1),
                ('PUT', None, {'tags': ['a', 'b']}, 0),     # the same tags
                ('PUT', 'c', None, 1),
                ('PUT', 'c', None, 0),                      # already there
                ('DELETE', 'a', None, 1),
                ('DELETE', None, None, 1),
                ('DELETE', None, None, 0),                  # nothing to remove
            ]
            for method, tag, body, bump in steps:
                st, resp = c.request(method, self.path(coll, oid, tag), body)
                self.assertLess(st, 300, (coll, method, tag, resp))
                shown = self.show(c, coll, oid)
                rev += bump
                self.assertEqual(shown['revision_number'], rev, (coll, method, tag))
            # A failed tag change is no change.
            self.assertError(c.delete(self.path(coll, oid, 'zz')), 404, 'TagNotFound')
            self.assertEqual(self.show(c, coll, oid)['revision_number'], rev)

    def test_same_tags_in_another_order_are_no_change(self):
        # Neutron's update_tags works on sets: nothing added, nothing removed.
        c = self.client('tag-rev-order')
        net = self.make('networks', c)
        c.put(self.path('networks', net['id']), {'tags': ['a', 'b']})
        rev = self.show(c, 'networks', net['id'])['revision_number']
        st, body = c.put(self.path('networks', net['id']), {'tags': ['b', 'a']})
        self.assertEqual(st, 200, body)
        self.assertEqual(sorted(body['tags']), ['a', 'b'])
        self.assertEqual(self.show(c, 'networks', net['id'])['revision_number'], rev)

    def test_tag_change_updates_updated_at_and_keeps_other_attributes(self):
        c = self.client('tag-keep')
        net = self.make('networks', c, name='keep', description='d')
        c.put(self.path('networks', net['id']), {'tags': ['t']})
        shown = self.show(c, 'networks', net['id'])
        for k in net:
            if k not in ('tags', 'revision_number', 'updated_at'):
                self.assertEqual(shown[k], net[k], k)
        self.assertGreaterEqual(shown['updated_at'], net['updated_at'])
        # A resource update keeps the tags.
        st, body = c.put('/v2.0/networks/' + net['id'], {'network': {'name': 'renamed'}})
        self.assertEqual(st, 200, body)
        self.assertEqual(body['network']['tags'], ['t'])
        # tags is not writable through the resource itself.
        st, body = c.put('/v2.0/networks/' + net['id'], {'network': {'tags': ['x']}})
        self.assertEqual(st, 400, body)
        self.assertEqual(self.show(c, 'networks', net['id'])['tags'], ['t'])

    # ---------- filters ----------

    def test_tag_filters(self):
        for coll in TAGGABLE:
            project = 'tag-filter-' + coll
            c = self.client(project)
            sets = {'n1': ['red', 'blue'], 'n2': ['red'], 'n3': ['blue', 'green'], 'n4': []}
            ids = {}
            for name, tags in sets.items():
                obj = self.make(coll, c, name=name)
                ids[name] = obj['id']
                if tags:
                    st, body = c.put(self.path(coll, obj['id']), {'tags': tags})
                    self.assertEqual(st, 200, body)
            key = coll.replace('-', '_')
            st, body = c.get('/v2.0/' + coll)
            every = {x['id']: set(x['tags']) for x in body[key]}
            self.assertTrue(set(ids.values()) <= set(every))

            def got(query):
                st, body = c.get('/v2.0/%s?%s' % (coll, query))
                self.assertEqual(st, 200, (coll, query, body))
                return sorted(x['id'] for x in body[key])

            def want(pred):
                return sorted(i for i, t in every.items() if pred(t))

            cases = [
                ('tags=red', lambda t: 'red' in t),
                ('tags=red,blue', lambda t: {'red', 'blue'} <= t),
                ('tags=blue,red', lambda t: {'red', 'blue'} <= t),
                ('tags=red,purple', lambda t: False),
                ('tags-any=red,green', lambda t: bool({'red', 'green'} & t)),
                ('tags-any=purple', lambda t: False),
                ('not-tags=red,blue', lambda t: not {'red', 'blue'} <= t),
                ('not-tags=red', lambda t: 'red' not in t),
                ('not-tags-any=red,green', lambda t: not ({'red', 'green'} & t)),
                ('tags=blue&not-tags=green', lambda t: 'blue' in t and 'green' not in t),
                ('tags-any=red,green&not-tags-any=blue',
                 lambda t: bool({'red', 'green'} & t) and 'blue' not in t),
            ]
            for query, pred in cases:
                self.assertEqual(got(query), want(pred), (coll, query))
            # Exact expectations for the four objects.
            mine = set(ids.values())
            self.assertEqual(sorted(set(got('tags=red,blue')) & mine), [ids['n1']])
            self.assertEqual(sorted(set(got('tags-any=red,green')) & mine),
                             sorted([ids['n1'], ids['n2'], ids['n3']]))
            self.assertEqual(sorted(set(got('not-tags-any=red,green')) & mine), [ids['n4']])
            self.assertEqual(sorted(set(got('not-tags=red,blue')) & mine),
                             sorted([ids['n2'], ids['n3'], ids['n4']]))
            # Combined with other filters.
            self.assertEqual(got('tags=red&name=n2'), [ids['n2']])

    def test_repeated_tag_filters_combine(self):
        # Neutron (tag_db._get_tag_list): tags=a&tags=b is tags=a,b.
        c = self.client('tag-filter-repeat')
        a = self.make('networks', c, name='a')
        b = self.make('networks', c, name='b')
        c.put(self.path('networks', a['id']), {'tags': ['x', 'y']})
        c.put(self.path('networks', b['id']), {'tags': ['y']})
        st, body = c.get('/v2.0/networks?tags=x&tags=y')
        self.assertEqual([n['id'] for n in body['networks']], [a['id']])
        st, body = c.get('/v2.0/networks?tags-any=x&tags-any=nothing')
        self.assertEqual([n['id'] for n in body['networks']], [a['id']])

    # ---------- who may tag ----------

    def test_only_owners_tag(self):
        owner = self.client('tag-owner')
        other = self.client('tag-stranger')
        for coll in TAGGABLE:
            obj = self.make(coll, owner)
            owner.put(self.path(coll, obj['id']), {'tags': ['mine']})
            for method, tag, body in (('GET', None, None), ('PUT', None, {'tags': ['x']}),
                                      ('DELETE', None, None), ('GET', 'mine', None),
                                      ('PUT', 'x', None), ('DELETE', 'mine', None)):
                st, resp = other.request(method, self.path(coll, obj['id'], tag), body)
                self.assertEqual(st, 404, (coll, method, tag, resp))
            self.assertEqual(self.tags(owner, coll, obj['id']), ['mine'])
            # A reader of the owning project reads but doesn't write.
            reader = self.client('tag-owner', 'reader')
            self.assertEqual(self.tags(reader, coll, obj['id']), ['mine'])
            self.assertError(reader.put(self.path(coll, obj['id'], 'r'), None), 403,
                             'PolicyNotAuthorized')
            self.assertError(reader.delete(self.path(coll, obj['id'])), 403,
                             'PolicyNotAuthorized')
            # The admin may.
            st, _ = self.put(self.path(coll, obj['id'], 'admin-was-here'), None)
            self.assertEqual(st, 201)
            self.assertEqual(self.tags(owner, coll, obj['id']), ['admin-was-here', 'mine'])
        # A shared network is visible to others, but theirs to tag it is not.
        net = self.make_network(project_id='tag-owner', shared=True)
        self.assertEqual(self.tags(other, 'networks', net['id']), [])
        self.assertError(other.put(self.path('networks', net['id'], 'x'), None), 403,
                         'PolicyNotAuthorized')
        self.assertError(other.put(self.path('networks', net['id']), {'tags': ['x']}), 403,
                         'PolicyNotAuthorized')
        self.assertError(other.delete(self.path('networks', net['id'])), 403,
                         'PolicyNotAuthorized')
        self.assertEqual(self.tags(owner, 'networks', net['id']), [])


if __name__ == '__main__':
    unittest.main()
