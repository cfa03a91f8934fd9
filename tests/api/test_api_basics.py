"""API basics: version discovery, the v2.0 root, extensions, paths and
methods, request bodies (bad JSON, too large, unknown and read-only
attributes), connections (keep-alive, Connection: close) and request ids.

The reference for every expected value is Neutron 21 on the wire
(/work/shared/reference/neutron-21-wire, "sample NN" below).
"""
import http.client
import json
import os
import re
import signal
import threading
import time
import unittest

import qhvtest

REFERENCE = os.environ.get('QHV_NEUTRON_WIRE', '/work/shared/reference/neutron-21-wire')
REQUEST_ID = re.compile(r'^req-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$')
MAX_BODY = 114688   # [oslo_middleware] max_request_body_size default

# The extensions a client relies on for what these tests exercise.
REQUIRED_EXTENSIONS = [
    'allowed-address-pairs', 'binding', 'external-net', 'filter-validation', 'net-mtu',
    'net-mtu-writable', 'pagination', 'port-security', 'project-id', 'provider',
    'revision-if-match', 'sorting', 'standard-attr-description', 'standard-attr-revisions',
    'standard-attr-timestamp', 'empty-string-filtering',
]


def reference(name):
    path = os.path.join(REFERENCE, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


class ApiBasicsTest(qhvtest.ServerTestCase):

    def base(self):
        return 'http://127.0.0.1:%d' % self.server.port

    def raw_request(self, method, path, body=None, headers=None, conn=None):
        """Request on a (possibly shared) connection; returns the response
        object (already read), its parsed body and its raw bytes."""
        own = conn is None
        if own:
            conn = http.client.HTTPConnection('127.0.0.1', self.server.port, timeout=30)
        h = {'Accept': 'application/json'}
        h.update(headers or {})
        if body is not None and 'Content-Type' not in h:
            h['Content-Type'] = 'application/json'
        conn.request(method, path, body=body, headers=h)
        resp = conn.getresponse()
        data = resp.read()
        if own:
            conn.close()
        return resp, (json.loads(data) if data else None), data

    def assertNeutronError(self, result, status):
        st, body = result
        self.assertEqual(st, status, body)
        self.assertEqual(set(body), {'NeutronError'}, body)
        self.assertEqual(set(body['NeutronError']), {'type', 'message', 'detail'}, body)
        return body['NeutronError']

    # ---------- discovery ----------

    def test_version_discovery(self):
        st, body = self.get('/')
        self.assertEqual(st, 200, body)
        self.assertEqual(body, {'versions': [{
            'id': 'v2.0', 'status': 'CURRENT',
            'links': [{'rel': 'self', 'href': self.base() + '/v2.0/'}]}]})
        self.assertEqual(self.admin.last_headers.get('Content-Type'), 'application/json')
        ref = reference('01-versions.json')
        if ref:   # same shape as Neutron's, apart from the host
            self.assertEqual(json.dumps(ref['response_body']).replace('127.0.0.1:19696', 'H'),
                             json.dumps(body).replace('127.0.0.1:%d' % self.server.port, 'H'))

    def test_version_discovery_links_follow_host_header(self):
        st, body = self.get('/', headers={'Host': 'neutron.example:9696'})
        self.assertEqual(st, 200, body)
        self.assertEqual(body['versions'][0]['links'],
                         [{'rel': 'self', 'href': 'http://neutron.example:9696/v2.0/'}])

    def test_v2_root(self):
        st, body = self.get('/v2.0/')
        self.assertEqual(st, 200, body)
        self.assertEqual(list(body), ['resources'])
        by_name = {r['name']: r for r in body['resources']}
        for name in ('network', 'subnet', 'port'):
            self.assertEqual(by_name[name], {
                'name': name, 'collection': name + 's',
                'links': [{'rel': 'self', 'href': '%s/v2.0/%ss' % (self.base(), name)}]})
        names = [r['name'] for r in body['resources']]
        self.assertLess(names.index('network'), names.index('subnet'))
        self.assertLess(names.index('subnet'), names.index('port'))
        # Without the trailing slash too.
        st2, body2 = self.get('/v2.0')
        self.assertEqual((st2, body2), (200, body))

    def test_extensions_list(self):
        st, body = self.get('/v2.0/extensions')
        self.assertEqual(st, 200, body)
        self.assertEqual(list(body), ['extensions'])
        exts = body['extensions']
        aliases = [x['alias'] for x in exts]
        self.assertEqual(len(aliases), len(set(aliases)), aliases)
        for x in exts:
            self.assertEqual(set(x), {'name', 'alias', 'description', 'updated', 'links'}, x)
            self.assertEqual(x['links'], [])
            for k in ('name', 'alias', 'description', 'updated'):
                self.assertIsInstance(x[k], str)
                self.assertTrue(x[k], x)
        for alias in REQUIRED_EXTENSIONS:
            self.assertIn(alias, aliases)
        # Every extension Neutron also has is described exactly as Neutron does.
        ref = reference('03-extensions.json')
        if ref:
            theirs = {x['alias']: x for x in ref['response_body']['extensions']}
            for x in exts:
                if x['alias'] in theirs:
                    want = dict(theirs[x['alias']])
                    if x['alias'] == 'standard-attr-tag':
                        # Its name lists the tagged resources, which differ.
                        want['name'] = x['name']
                    self.assertEqual(x, want)

    def test_extension_show(self):
        st, body = self.get('/v2.0/extensions')
        self.assertEqual(st, 200)
        listed = {x['alias']: x for x in body['extensions']}
        for alias in ('provider', 'binding', 'net-mtu', 'revision-if-match'):
            st, one = self.get('/v2.0/extensions/' + alias)
            self.assertEqual(st, 200, one)
            self.assertEqual(one, {'extension': listed[alias]})
        self.assertEqual(listed['provider'], {
            'name': 'Provider Network', 'alias': 'provider',
            'description': 'Expose mapping of virtual networks to physical networks',
            'updated': '2012-09-07T10:00:00-00:00', 'links': []})

    def test_extension_show_unknown_alias(self):
        err = self.assertError(self.get('/v2.0/extensions/no-such-ext'), 404, 'HTTPNotFound')
        self.assertEqual(err['message'], 'Extension with alias no-such-ext does not exist')

    # ---------- paths and methods ----------

    def test_json_suffix(self):
        st, body = self.post('/v2.0/networks.json', {'network': {'name': 'basics-json'}})
        self.assertEqual(st, 201, body)
        nid = body['network']['id']
        st, lst = self.get('/v2.0/networks.json?name=basics-json')
        self.assertEqual(st, 200, lst)
        self.assertEqual([n['id'] for n in lst['networks']], [nid])
        st, one = self.get('/v2.0/networks/%s.json' % nid)
        self.assertEqual(st, 200, one)
        self.assertEqual(one['network'], body['network'])
        st, upd = self.put('/v2.0/networks/%s.json' % nid, {'network': {'name': 'basics-json2'}})
        self.assertEqual(st, 200, upd)
        self.assertEqual(upd['network']['name'], 'basics-json2')
        st, ext = self.get('/v2.0/extensions.json')
        self.assertEqual(st, 200)
        self.assertIn('extensions', ext)
        st, ext = self.get('/v2.0/extensions/provider.json')
        self.assertEqual(st, 200)
        self.assertEqual(ext['extension']['alias'], 'provider')
        st, _ = self.delete('/v2.0/networks/%s.json' % nid)
        self.assertEqual(st, 204)
        self.assertError(self.get('/v2.0/networks/%s' % nid), 404, 'NetworkNotFound')

    def test_unknown_paths(self):
        for path in ('/v2.0/bogus', '/v2.0/bogus/123', '/v3/networks', '/v2.0/networks/a/b/c',
                     '/favicon.ico'):
            err = self.assertError(self.get(path), 404, 'HTTPNotFound')
            self.assertEqual(err['message'], 'The resource could not be found.', path)

    def test_method_not_allowed(self):
        net = self.make_network(name='basics-405')
        port = self.make_port(net['id'])
        ref = reference('31-method-not-allowed.json')
        expected = ref['response_body'] if ref else {'NeutronError': {
            'type': 'HTTPMethodNotAllowed',
            'message': 'The server could not comply with the request since it is either '
                       'malformed or otherwise incorrect.', 'detail': ''}}
        # Sample 31: PATCH on a port.
        self.assertEqual(self.admin.request('PATCH', '/v2.0/ports/' + port['id'], {'port': {}}),
                         (405, expected))
        for method, path in (('PATCH', '/v2.0/networks'), ('PUT', '/v2.0/networks'),
                             ('DELETE', '/v2.0/subnets'), ('POST', '/v2.0/networks/' + net['id']),
                             ('POST', '/'), ('DELETE', '/v2.0/extensions')):
            st, body = self.admin.request(method, path, {} if method != 'DELETE' else None)
            self.assertEqual((st, body), (405, expected), (method, path))

    # ---------- bodies ----------

    def test_bad_json(self):
        # Sample 08.
        for raw in (b'{not json', b'', b'{"network": {"name": "x"}', b'[1,', b'\xff\xfe'):
            st, body = self.admin.request('POST', '/v2.0/networks', raw=raw)
            err = self.assertNeutronError((st, body), 400)
            self.assertEqual(err['type'], 'HTTPBadRequest', raw)
            self.assertEqual(err['message'], 'Body contains invalid data', raw)
        net = self.make_network(name='basics-badjson')
        st, body = self.admin.request('PUT', '/v2.0/networks/' + net['id'], raw=b'{"network": ')
        self.assertError((st, body), 400, 'HTTPBadRequest', 'Body contains invalid data')

    def test_body_shape(self):
        for body in ({}, {'net': {}}, [], {'network': {'name': 'a'}, 'extra': 1}, 'network'):
            err = self.assertError(self.post('/v2.0/networks', body), 400, 'HTTPBadRequest')
            self.assertEqual(err['message'], "Unable to find 'network' in request body")
        net = self.make_network(name='basics-shape')
        err = self.assertError(self.put('/v2.0/networks/' + net['id'], {'port': {}}), 400,
                               'HTTPBadRequest')
        self.assertEqual(err['message'], "Unable to find 'network' in request body")

    def test_body_too_large(self):
        # Exactly the limit is accepted (oslo's sizelimit refuses only more).
        doc = json.dumps({'network': {'name': 'basics-big'}}).encode()
        at_limit = doc + b' ' * (MAX_BODY - len(doc))
        self.assertEqual(len(at_limit), MAX_BODY)
        st, body = self.admin.request('POST', '/v2.0/networks', raw=at_limit)
        self.assertEqual(st, 201, body)
        self.assertEqual(body['network']['name'], 'basics-big')
        over = at_limit + b' '
        st, body = self.admin.request('POST', '/v2.0/networks', raw=over)
        err = self.assertNeutronError((st, body), 413)
        self.assertEqual(err['type'], 'HTTPRequestEntityTooLarge')
        self.assertIn('X-Openstack-Request-Id', self.admin.last_headers)
        # Much larger, and on PUT.
        nid = self.make_network(name='basics-big-put')['id']
        st, body = self.admin.request('PUT', '/v2.0/networks/' + nid,
                                      raw=b'{"network": {"name": "' + b'a' * 300000 + b'"}}')
        self.assertNeutronError((st, body), 413)
        # Nothing of the refused requests was created.
        st, lst = self.get('/v2.0/networks?name=basics-big')
        self.assertEqual(len(lst['networks']), 1)

    def test_body_too_large_chunked(self):
        """No Content-Length (chunked): the limit still applies."""
        def chunks():
            yield b'{"network": {"name": "basics-chunked", "description": "'
            for _ in range(20):
                yield b'x' * 8192
            yield b'"}}'
        conn = http.client.HTTPConnection('127.0.0.1', self.server.port, timeout=30)
        conn.request('POST', '/v2.0/networks', body=chunks(), encode_chunked=True,
                     headers={'Content-Type': 'application/json', 'Accept': 'application/json',
                              'Transfer-Encoding': 'chunked'})
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        err = self.assertNeutronError((resp.status, json.loads(data)), 413)
        self.assertEqual(err['type'], 'HTTPRequestEntityTooLarge')
        # A small chunked body is fine.
        conn = http.client.HTTPConnection('127.0.0.1', self.server.port, timeout=30)
        conn.request('POST', '/v2.0/networks',
                     body=iter([b'{"network": ', b'{"name": "basics-chunked"}}']),
                     encode_chunked=True,
                     headers={'Content-Type': 'application/json', 'Accept': 'application/json',
                              'Transfer-Encoding': 'chunked'})
        resp = conn.getresponse()
        data = json.loads(resp.read())
        conn.close()
        self.assertEqual(resp.status, 201, data)
        self.assertEqual(data['network']['name'], 'basics-chunked')

    def test_unknown_attribute(self):
        # Sample 07, exactly.
        ref = reference('07-network-create-bad-attr.json')
        st, body = self.post('/v2.0/networks', {'network': {'name': 'x', 'bogus': 1}})
        expected = {'NeutronError': {'type': 'HTTPBadRequest',
                                     'message': "Unrecognized attribute(s) 'bogus'",
                                     'detail': ''}}
        self.assertEqual((st, body), (400, expected))
        if ref:
            self.assertEqual(body, ref['response_body'])
        net = self.make_network(name='basics-unknown')
        self.assertError(self.put('/v2.0/networks/' + net['id'], {'network': {'bogus': 1}}),
                         400, 'HTTPBadRequest', "Unrecognized attribute(s) 'bogus'")
        self.assertError(self.post('/v2.0/subnets', {'subnet': {
            'network_id': net['id'], 'cidr': '10.250.0.0/24', 'ip_version': 4, 'bogus': 1}}),
            400, 'HTTPBadRequest', "Unrecognized attribute(s) 'bogus'")
        self.assertError(self.post('/v2.0/ports', {'port': {
            'network_id': net['id'], 'bogus': 1}}),
            400, 'HTTPBadRequest', "Unrecognized attribute(s) 'bogus'")
        st, lst = self.get('/v2.0/networks?name=x')
        self.assertEqual(lst['networks'], [])

    def test_read_only_attribute_in_post(self):
        err = self.assertError(self.post('/v2.0/networks', {'network': {
            'name': 'basics-ro', 'status': 'DOWN'}}), 400, 'HTTPBadRequest')
        self.assertEqual(err['message'], "Attribute 'status' not allowed in POST")
        for attr, value in (('subnets', []), ('revision_number', 5),
                            ('created_at', '2020-01-01T00:00:00Z')):
            err = self.assertError(self.post('/v2.0/networks', {'network': {attr: value}}),
                                   400, 'HTTPBadRequest')
            self.assertEqual(err['message'], "Attribute '%s' not allowed in POST" % attr)
        net = self.make_network(name='basics-ro')
        for attr, value in (('status', 'ACTIVE'), ('binding:vif_type', 'ovs'),
                            ('binding:vif_details', {})):
            err = self.assertError(self.post('/v2.0/ports', {'port': {
                'network_id': net['id'], attr: value}}), 400, 'HTTPBadRequest')
            self.assertEqual(err['message'], "Attribute '%s' not allowed in POST" % attr)
        st, lst = self.get('/v2.0/ports?network_id=' + net['id'])
        self.assertEqual(lst['ports'], [])

    def test_read_only_attribute_in_put(self):
        net = self.make_network(name='basics-ro-put')
        for attr, value in (('status', 'DOWN'), ('id', net['id']), ('subnets', []),
                            ('created_at', '2020-01-01T00:00:00Z')):
            err = self.assertError(self.put('/v2.0/networks/' + net['id'],
                                             {'network': {attr: value}}), 400, 'HTTPBadRequest')
            self.assertEqual(err['message'], 'Cannot update read-only attribute %s' % attr)
        sub = self.make_subnet(net['id'], '10.251.0.0/24')
        for attr, value in (('cidr', '10.251.1.0/24'), ('network_id', net['id']),
                            ('ip_version', 4)):
            err = self.assertError(self.put('/v2.0/subnets/' + sub['id'],
                                             {'subnet': {attr: value}}), 400, 'HTTPBadRequest')
            self.assertEqual(err['message'], 'Cannot update read-only attribute %s' % attr)
        port = self.make_port(net['id'])
        other = self.make_network(name='basics-ro-put2')
        for attr, value in (('network_id', other['id']), ('status', 'ACTIVE'),
                            ('binding:vif_type', 'ovs')):
            err = self.assertError(self.put('/v2.0/ports/' + port['id'],
                                             {'port': {attr: value}}), 400, 'HTTPBadRequest')
            self.assertEqual(err['message'], 'Cannot update read-only attribute %s' % attr)
        # Nothing changed.
        st, body = self.get('/v2.0/networks/' + net['id'])
        self.assertEqual(body['network']['revision_number'], 2)   # +1 for the subnet
        st, body = self.get('/v2.0/ports/' + port['id'])
        self.assertEqual(body['port']['revision_number'], port['revision_number'])

    def test_bulk_create_is_all_or_nothing(self):
        st, body = self.post('/v2.0/networks', {'networks': [
            {'name': 'basics-bulk-1'}, {'name': 'basics-bulk-2'}]})
        self.assertEqual(st, 201, body)
        self.assertEqual([n['name'] for n in body['networks']], ['basics-bulk-1', 'basics-bulk-2'])
        self.assertNotEqual(body['networks'][0]['id'], body['networks'][1]['id'])
        st, body = self.post('/v2.0/networks', {'networks': [
            {'name': 'basics-bulk-3'}, {'name': 'basics-bulk-4', 'bogus': True}]})
        self.assertError((st, body), 400, 'HTTPBadRequest', "Unrecognized attribute(s) 'bogus'")
        st, lst = self.get('/v2.0/networks?name=basics-bulk-3&name=basics-bulk-4')
        self.assertEqual(lst['networks'], [])
        self.assertError(self.post('/v2.0/networks', {'networks': []}), 400, 'HTTPBadRequest')

    # ---------- connections and headers ----------

    def test_keep_alive(self):
        conn = http.client.HTTPConnection('127.0.0.1', self.server.port, timeout=30)
        try:
            resp, body, _ = self.raw_request('GET', '/', conn=conn)
            self.assertEqual(resp.status, 200)
            sock = conn.sock
            self.assertIsNotNone(sock)
            resp, body, _ = self.raw_request(
                'POST', '/v2.0/networks', json.dumps({'network': {'name': 'basics-ka'}}),
                conn=conn)
            self.assertEqual(resp.status, 201, body)
            nid = body['network']['id']
            resp, body, _ = self.raw_request('GET', '/v2.0/networks/' + nid, conn=conn)
            self.assertEqual(resp.status, 200, body)
            resp, body, _ = self.raw_request('GET', '/v2.0/networks/bogus-id', conn=conn)
            self.assertEqual(resp.status, 404, body)
            resp, body, _ = self.raw_request(
                'PUT', '/v2.0/networks/' + nid, json.dumps({'network': {'name': 'basics-ka2'}}),
                conn=conn)
            self.assertEqual(resp.status, 200, body)
            self.assertEqual(body['network']['name'], 'basics-ka2')
            resp, body, _ = self.raw_request('POST', '/v2.0/networks', '{bad', conn=conn)
            self.assertEqual(resp.status, 400, body)
            resp, body, raw = self.raw_request('DELETE', '/v2.0/networks/' + nid, conn=conn)
            self.assertEqual(resp.status, 204)
            self.assertEqual(raw, b'')
            resp, body, _ = self.raw_request('GET', '/v2.0/networks/' + nid, conn=conn)
            self.assertEqual(resp.status, 404, body)
            # Still the same TCP connection throughout.
            self.assertIs(conn.sock, sock)
        finally:
            conn.close()

    def test_connection_close(self):
        conn = http.client.HTTPConnection('127.0.0.1', self.server.port, timeout=30)
        try:
            resp, body, _ = self.raw_request('GET', '/v2.0/networks?name=none',
                                             headers={'Connection': 'close'}, conn=conn)
            self.assertEqual(resp.status, 200)
            self.assertEqual(body, {'networks': []})
            self.assertTrue(resp.will_close)
            self.assertEqual(resp.getheader('Connection', '').lower(), 'close')
        finally:
            conn.close()
        # A request with a body and Connection: close.
        resp, body, _ = self.raw_request(
            'POST', '/v2.0/networks', json.dumps({'network': {'name': 'basics-close'}}),
            headers={'Connection': 'close'})
        self.assertEqual(resp.status, 201, body)
        self.assertEqual(body['network']['name'], 'basics-close')

    def test_request_id_on_every_response(self):
        net = self.make_network(name='basics-rid')
        seen = set()
        cases = [
            ('GET', '/', None, 200), ('GET', '/v2.0/', None, 200),
            ('GET', '/v2.0/extensions', None, 200), ('GET', '/v2.0/networks', None, 200),
            ('POST', '/v2.0/networks', b'{"network": {"name": "basics-rid2"}}', 201),
            ('GET', '/v2.0/nowhere', None, 404), ('GET', '/v2.0/networks/nope', None, 404),
            ('PATCH', '/v2.0/networks', b'{}', 405),
            ('POST', '/v2.0/networks', b'{nope', 400),
            ('POST', '/v2.0/networks', b' ' * (MAX_BODY + 1), 413),
            ('DELETE', '/v2.0/networks/' + net['id'], None, 204),
        ]
        for method, path, raw, status in cases:
            resp, body, _ = self.raw_request(method, path, raw)
            self.assertEqual(resp.status, status, (method, path, body))
            rid = resp.getheader('X-Openstack-Request-Id')
            self.assertIsNotNone(rid, (method, path))
            self.assertRegex(rid, REQUEST_ID)
            self.assertNotIn(rid, seen)
            seen.add(rid)
            if status != 204:
                self.assertEqual(resp.getheader('Content-Type'), 'application/json',
                                 (method, path))

    def test_error_bodies_are_neutron_errors(self):
        for result in (self.get('/v2.0/ports/00000000-0000-0000-0000-000000000000'),
                       self.get('/v2.0/subnets/00000000-0000-0000-0000-000000000000'),
                       self.get('/v2.0/networks/00000000-0000-0000-0000-000000000000')):
            self.assertNeutronError(result, 404)
        # Sample 20.
        self.assertEqual(self.get('/v2.0/ports/00000000-0000-0000-0000-000000000000'),
                         (404, {'NeutronError': {
                             'type': 'PortNotFound',
                             'message': 'Port 00000000-0000-0000-0000-000000000000 could not '
                                        'be found.', 'detail': ''}}))
        self.assertEqual(self.get('/v2.0/subnets/00000000-0000-0000-0000-000000000000'),
                         (404, {'NeutronError': {
                             'type': 'SubnetNotFound',
                             'message': 'Subnet 00000000-0000-0000-0000-000000000000 could not '
                                        'be found.', 'detail': ''}}))


class DurabilityTest(unittest.TestCase):
    """What the server acknowledged survives SIGKILL: a new server on the same
    directory has every acknowledged create, update and allocation, and
    revision numbers continue from where they were."""

    def test_sigkill_keeps_acknowledged_writes(self):
        first = qhvtest.Server().start()
        self.addCleanup(first.cleanup)
        c = qhvtest.Client(first.port)
        st, body = c.post('/v2.0/networks', {'network': {
            'name': 'dur-net', 'provider:network_type': 'vlan',
            'provider:physical_network': 'physnet1', 'provider:segmentation_id': 3200}})
        self.assertEqual(st, 201, body)
        net = body['network']
        st, body = c.post('/v2.0/subnets', {'subnet': {
            'network_id': net['id'], 'cidr': '10.140.0.0/24', 'ip_version': 4}})
        self.assertEqual(st, 201, body)
        sub = body['subnet']
        st, body = c.post('/v2.0/ports', {'port': {
            'network_id': net['id'], 'mac_address': 'fa:16:3e:de:ad:01',
            'fixed_ips': [{'ip_address': '10.140.0.10'}]}})
        self.assertEqual(st, 201, body)
        port = body['port']
        for i in range(3):
            st, body = c.put('/v2.0/networks/' + net['id'], {'network': {'name': 'dur-%d' % i}})
            self.assertEqual(st, 200, body)
        net = body['network']
        self.assertEqual(net['revision_number'], 5)   # 1, +1 subnet, +3 renames

        # Writers running when the server is killed.
        acked, lock, stop = [], threading.Lock(), threading.Event()

        def writer(k):
            # One project per writer: the network quota is 100 per project.
            client = qhvtest.Client(first.port)
            i = 0
            while not stop.is_set() and i < 90:
                try:
                    st, body = client.post('/v2.0/networks', {'network': {
                        'name': 'dur-w%d-%d' % (k, i), 'project_id': 'dur-%d' % k}})
                except (OSError, http.client.HTTPException, ValueError):
                    return
                if st == 201:
                    with lock:
                        acked.append(body['network'])
                i += 1
        threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        deadline = time.time() + 10
        while time.time() < deadline:
            with lock:
                if len(acked) >= 100:
                    break
            time.sleep(0.005)
        rc = first.stop(signal.SIGKILL)
        stop.set()
        for t in threads:
            t.join(30)
        self.assertEqual(rc, -signal.SIGKILL)
        with lock:
            acked = list(acked)
        self.assertGreaterEqual(len(acked), 100)

        second = qhvtest.Server(directory=first.dir).start()
        self.addCleanup(second.cleanup)
        c2 = qhvtest.Client(second.port)
        self.assertEqual(c2.get('/v2.0/networks/' + net['id']), (200, {'network': net}))
        self.assertEqual(c2.get('/v2.0/subnets/' + sub['id']), (200, {'subnet': sub}))
        self.assertEqual(c2.get('/v2.0/ports/' + port['id']), (200, {'port': port}))
        st, body = c2.get('/v2.0/networks')
        self.assertEqual(st, 200)
        stored = {n['id']: n for n in body['networks']}
        for n in acked:
            self.assertEqual(stored.get(n['id']), n)
        # At most the requests in flight were committed without an answer.
        self.assertLessEqual(len(stored) - 1 - len(acked), 4)
        for n in stored.values():
            self.assertEqual(c2.get('/v2.0/networks/' + n['id'])[0], 200)
        # Revisions continue.
        st, body = c2.put('/v2.0/networks/' + net['id'], {'network': {'name': 'dur-after'}})
        self.assertEqual((st, body['network']['revision_number']), (200, 6))
        st, body = c2.put('/v2.0/ports/' + port['id'], {'port': {'name': 'p'}})
        self.assertEqual((st, body['port']['revision_number']),
                         (200, port['revision_number'] + 1))
        # Allocations survived too: segment, address, MAC.
        self.assertEqual(c2.post('/v2.0/networks', {'network': {
            'provider:network_type': 'vlan', 'provider:physical_network': 'physnet1',
            'provider:segmentation_id': 3200}})[0], 409)
        st, body = c2.post('/v2.0/ports', {'port': {
            'network_id': net['id'], 'fixed_ips': [{'ip_address': '10.140.0.10'}]}})
        self.assertEqual(body['NeutronError']['type'], 'IpAddressAlreadyAllocated')
        st, body = c2.post('/v2.0/ports', {'port': {
            'network_id': net['id'], 'mac_address': 'fa:16:3e:de:ad:01'}})
        self.assertEqual(body['NeutronError']['type'], 'MacAddressInUse')
        segs = [n['provider:segmentation_id'] for n in stored.values()]
        self.assertEqual(len(segs), len(set(segs)))
        st, body = c2.post('/v2.0/networks', {'network': {'name': 'dur-new'}})
        self.assertEqual(st, 201, body)
        self.assertNotIn(body['network']['provider:segmentation_id'], segs)
        # And the new server stops cleanly.
        self.assertEqual(second.stop(), 0, second.read_log()[-2000:])


if __name__ == '__main__':
    unittest.main()
