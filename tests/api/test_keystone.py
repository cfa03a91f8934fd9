"""auth_strategy = keystone against a real Keystone (keystone_fixture: Debian's
python3-keystone on SQLite, started once for this module).

- The openstack CLI with password authentication finds qhv-server in the
  Keystone catalog and runs the network/subnet/security group/port scenario
  as a member, and as admin.
- Policy from the token's project and roles: members see their project and
  shared networks only (404 otherwise), provider and binding attributes are
  admin-only (403), reader may not write (403), a body's project_id other
  than the token's is for admins only, identity headers are ignored.
- Tokens: missing, forged, revoked, expired, not project-scoped are refused
  (401 with WWW-Authenticate: Keystone uri=..., 403 for the scope);
  version discovery stays open; Keystone unreachable or refusing the
  service credentials is 503, never an accepted request; the service token
  is renewed; the token cache is bounded.

Skipped only if Keystone cannot be installed on this machine; installable but
not installed is a failure (`make check` installs it).
"""
import calendar
import json
import re
import subprocess
import threading
import time
import unittest

import keystone_fixture
import qhvtest
import test_agent_dummy

KS = None

PROVIDER = ('provider:network_type', 'provider:physical_network', 'provider:segmentation_id')


def setUpModule():
    global KS
    KS = keystone_fixture.Keystone()          # SkipTest only if not installable
    try:
        KS.start()
        KS.create_identities()
    except BaseException:
        KS.cleanup()
        raise


def tearDownModule():
    if KS:
        KS.cleanup()


def server_conf(auth_url=None, **opts):
    """[DEFAULT] auth_strategy = keystone with the neutron service user."""
    url = auth_url or KS.url
    ka = {
        'www_authenticate_uri': url,
        'auth_url': url + '/v3',
        'auth_type': 'password',
        'username': 'neutron',
        'password': KS.passwords['neutron'],
        'project_name': 'service',
        'user_domain_name': 'Default',
        'project_domain_name': 'Default',
    }
    ka.update(opts)
    return ('\n[DEFAULT]\nauth_strategy = keystone\n[keystone_authtoken]\n' +
            ''.join('%s = %s\n' % kv for kv in ka.items()))


class KeystoneTestCase(qhvtest.ServerTestCase):
    """A qhv-server with auth_strategy = keystone; self.admin carries an
    admin token, self.as_user(name) a token of that user."""
    ks_opts = {}
    more_conf = ''

    @classmethod
    def setUpClass(cls):
        cls.extra_conf = server_conf(**cls.ks_opts) + cls.more_conf
        super().setUpClass()
        cls.tokens = {}
        cls.admin = cls.as_user('admin')

    @classmethod
    def token(cls, user):
        if user not in cls.tokens:
            cls.tokens[user] = KS.token(user)
        return cls.tokens[user]

    @classmethod
    def as_user(cls, user, server=None):
        return qhvtest.Client((server or cls.server).port, {'X-Auth-Token': cls.token(user)})

    def project(self, name):
        return KS.ids['project:' + name]

    def assertUnauthorized(self, result, client):
        self.assertError(result, 401, 'HTTPUnauthorized')
        self.assertEqual(client.last_headers.get('WWW-Authenticate'),
                         'Keystone uri="%s"' % KS.url)

    def net_ids(self, client):
        st, body = client.get('/v2.0/networks')
        self.assertEqual(st, 200, body)
        return {n['id'] for n in body['networks']}


class KeystoneCliTest(KeystoneTestCase):
    """The real openstack CLI, password authentication, qhv-server found in
    the Keystone catalog (service network, public endpoint)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.endpoint = KS.add_network_endpoint('http://127.0.0.1:%d' % cls.server.port)

    def cli(self, user, *args):
        r = KS.run_cli(*args, user=user)
        if r.returncode != 0:
            self.fail('openstack %s (as %s): exit %d\nstderr: %s\nserver log tail:\n%s' % (
                ' '.join(args), user, r.returncode, r.stderr.strip()[-2000:],
                self.server.read_log()[-2000:]))
        return json.loads(r.stdout) if '-f' in args else r.stdout

    def cli_error(self, user, *args):
        r = KS.run_cli(*args, user=user)
        self.assertNotEqual(r.returncode, 0, 'openstack %s (as %s) succeeded: %s' % (
            ' '.join(args), user, r.stdout[:500]))
        return r.stderr

    def test_scenario(self):
        demo = self.project('demo')
        # A member: network, subnet, security group with a rule, port.
        net = self.cli('demo', 'network', 'create', 'k-net', '-f', 'json')
        self.assertEqual(net['project_id'], demo)
        for k in PROVIDER:
            self.assertIsNone(net.get(k), net)        # admin-only: not shown
        sub = self.cli('demo', 'subnet', 'create', '--network', 'k-net',
                       '--subnet-range', '10.77.0.0/24', 'k-sub', '-f', 'json')
        self.assertEqual((sub['project_id'], sub['cidr']), (demo, '10.77.0.0/24'))
        sg = self.cli('demo', 'security', 'group', 'create', 'k-sg', '-f', 'json')
        self.assertEqual(sg['project_id'], demo)
        rule = self.cli('demo', 'security', 'group', 'rule', 'create', '--protocol', 'tcp',
                        '--dst-port', '22', 'k-sg', '-f', 'json')
        self.assertEqual((rule['port_range_min'], rule['port_range_max']), (22, 22))
        port = self.cli('demo', 'port', 'create', '--network', 'k-net', '--security-group',
                        'k-sg', 'k-port', '-f', 'json')
        self.assertEqual(port['project_id'], demo)
        self.assertEqual(port['security_group_ids'], [sg['id']])
        self.assertTrue(port['fixed_ips'][0]['ip_address'].startswith('10.77.0.'), port)
        names = {n['Name'] for n in self.cli('demo', 'network', 'list', '-f', 'json')}
        self.assertIn('k-net', names)

        # Admin: sees the member's network with its provider attributes,
        # creates a provider network the member cannot see.
        shown = self.cli('admin', 'network', 'show', net['id'], '-f', 'json')
        self.assertEqual(shown['project_id'], demo)
        self.assertIn(shown['provider:network_type'], ('vlan', 'nvgre'))
        # A VLAN outside the tenant range (physnet1:100:2999), where k-net's
        # was drawn at random.
        vlan = self.cli('admin', 'network', 'create', '--provider-network-type', 'vlan',
                        '--provider-physical-network', 'physnet1', '--provider-segment', '3234',
                        'k-admin-vlan', '-f', 'json')
        self.assertEqual((vlan['provider:segmentation_id'], vlan['project_id']),
                         (3234, self.project('admin')))
        err = self.cli_error('demo', 'network', 'show', vlan['id'])
        self.assertRegex(err, r'(?i)no network found|not found|404')
        # Provider attributes are admin-only.
        err = self.cli_error('demo', 'network', 'create', '--provider-network-type', 'vlan',
                             '--provider-physical-network', 'physnet1', 'k-demo-vlan')
        self.assertRegex(err, r'(?i)403|disallowed by policy')
        # The reader reads the project's networks and may not write.
        names = {n['Name'] for n in self.cli('reader', 'network', 'list', '-f', 'json')}
        self.assertIn('k-net', names)
        self.assertNotIn('k-admin-vlan', names)
        err = self.cli_error('reader', 'network', 'create', 'k-reader-net')
        self.assertRegex(err, r'(?i)403|disallowed by policy')

        # Clean up as the member.
        self.cli('demo', 'port', 'delete', 'k-port')
        self.cli('demo', 'subnet', 'delete', 'k-sub')
        self.cli('demo', 'network', 'delete', 'k-net')
        self.cli('demo', 'security', 'group', 'delete', 'k-sg')
        self.cli('admin', 'network', 'delete', vlan['id'])


class KeystonePolicyTest(KeystoneTestCase):
    """Neutron's default policy keyed on the token's project and roles."""

    def setUp(self):
        self.demo = self.as_user('demo')
        self.alt = self.as_user('alt')
        self.reader = self.as_user('reader')

    def test_member_sees_own_and_shared_only(self):
        mine = self.make_network(client=self.demo, name='kp-mine')
        other = self.make_network(client=self.alt, name='kp-alt')
        private = self.make_network(name='kp-admin-private')
        shared = self.make_network(name='kp-admin-shared', shared=True)
        self.assertEqual(mine['project_id'], self.project('demo'))
        self.assertEqual(private['project_id'], self.project('admin'))
        seen = self.net_ids(self.demo)
        self.assertTrue({mine['id'], shared['id']} <= seen, seen)
        self.assertFalse({other['id'], private['id']} & seen, seen)
        # Another project's network: 404 to read, update or delete.
        for nid in (other['id'], private['id']):
            self.assertError(self.demo.get('/v2.0/networks/' + nid), 404, 'NetworkNotFound')
            self.assertError(self.demo.put('/v2.0/networks/' + nid,
                                           {'network': {'name': 'x'}}), 404, 'NetworkNotFound')
            self.assertError(self.demo.delete('/v2.0/networks/' + nid), 404, 'NetworkNotFound')
        # A shared network: visible, not writable by others.
        st, body = self.demo.get('/v2.0/networks/' + shared['id'])
        self.assertEqual(st, 200, body)
        self.assertError(self.demo.put('/v2.0/networks/' + shared['id'],
                                       {'network': {'name': 'x'}}), 403, 'PolicyNotAuthorized')
        # Admin sees everything.
        self.assertTrue({mine['id'], other['id'], private['id'], shared['id']} <=
                        self.net_ids(self.admin))
        st, body = self.get('/v2.0/networks/' + mine['id'])
        self.assertEqual(st, 200, body)
        for k in PROVIDER:
            self.assertIn(k, body['network'])
            self.assertNotIn(k, mine)

    def test_provider_and_binding_are_admin_only(self):
        st, body = self.demo.post('/v2.0/networks', {'network': {
            'name': 'kp-vlan', 'provider:network_type': 'vlan',
            'provider:physical_network': 'physnet1'}})
        self.assertError((st, body), 403, 'PolicyNotAuthorized')
        net = self.make_network(client=self.demo, name='kp-bind')
        st, body = self.demo.post('/v2.0/ports', {'port': {
            'network_id': net['id'], 'binding:host_id': 'hv1'}})
        self.assertError((st, body), 403, 'PolicyNotAuthorized')
        port = self.make_port(net['id'], client=self.demo)
        self.assertNotIn('binding:host_id', port)
        st, body = self.put('/v2.0/ports/' + port['id'], {'port': {'binding:host_id': 'hv1'}})
        self.assertEqual((st, body['port']['binding:host_id']), (200, 'hv1'))

    def test_body_project_id_is_for_admins(self):
        st, body = self.demo.post('/v2.0/networks', {'network': {
            'name': 'kp-for-alt', 'project_id': self.project('alt')}})
        self.assertError((st, body), 400, 'HTTPBadRequest', 'requires admin privileges')
        # The token's own project in the body is fine.
        own = self.make_network(client=self.demo, name='kp-own',
                                project_id=self.project('demo'))
        self.assertEqual(own['project_id'], self.project('demo'))
        # An admin creates for another project; that project then owns it.
        net = self.make_network(name='kp-by-admin', project_id=self.project('alt'))
        self.assertEqual(net['project_id'], self.project('alt'))
        self.assertIn(net['id'], self.net_ids(self.alt))
        self.assertNotIn(net['id'], self.net_ids(self.demo))

    def test_reader_reads_not_writes(self):
        net = self.make_network(client=self.demo, name='kp-read-me')
        self.assertIn(net['id'], self.net_ids(self.reader))
        st, body = self.reader.get('/v2.0/networks/' + net['id'])
        self.assertEqual(st, 200, body)
        self.assertError(self.reader.post('/v2.0/networks', {'network': {'name': 'kp-r'}}),
                         403, 'PolicyNotAuthorized')
        self.assertError(self.reader.put('/v2.0/networks/' + net['id'],
                                         {'network': {'name': 'kp-r'}}),
                         403, 'PolicyNotAuthorized')
        self.assertError(self.reader.delete('/v2.0/networks/' + net['id']), 403,
                         'PolicyNotAuthorized')
        st, body = self.reader.get('/v2.0/security-groups')
        self.assertEqual(st, 200, body)

    def test_identity_headers_are_ignored(self):
        # keystone: X-Project-Id / X-Roles cannot raise a token's rights.
        spoof = qhvtest.Client(self.server.port, {
            'X-Auth-Token': self.token('demo'), 'X-Project-Id': self.project('alt'),
            'X-Tenant-Id': self.project('alt'), 'X-Roles': 'admin'})
        private = self.make_network(name='kp-spoof-private')
        self.assertNotIn(private['id'], self.net_ids(spoof))
        net = self.make_network(client=spoof, name='kp-spoof')
        self.assertEqual(net['project_id'], self.project('demo'))
        self.assertError(spoof.post('/v2.0/networks', {'network': {
            'name': 'kp-spoof-vlan', 'provider:network_type': 'vlan',
            'provider:physical_network': 'physnet1'}}), 403, 'PolicyNotAuthorized')
        # Without a token the headers are nothing.
        bare = qhvtest.Client(self.server.port, {'X-Project-Id': self.project('demo'),
                                                 'X-Roles': 'admin'})
        self.assertUnauthorized(bare.get('/v2.0/networks'), bare)

    def test_quotas_follow_the_token(self):
        st, body = self.demo.get('/v2.0/quotas/' + self.project('demo'))
        self.assertEqual(st, 200, body)
        st, body = self.demo.put('/v2.0/quotas/' + self.project('demo'),
                                 {'quota': {'network': 1000}})
        self.assertEqual(st, 403, body)
        st, body = self.put('/v2.0/quotas/' + self.project('demo'), {'quota': {'network': 99}})
        self.assertEqual((st, body['quota']['network']), (200, 99))


class KeystoneTokenTest(KeystoneTestCase):
    """Which tokens are accepted, and what happens when Keystone is away."""

    def test_version_discovery_is_open(self):
        anon = qhvtest.Client(self.server.port)
        st, body = anon.get('/')
        self.assertEqual(st, 200, body)
        self.assertEqual(body['versions'][0]['id'], 'v2.0')
        for path in ('/v2.0', '/v2.0/', '/v2.0/extensions', '/v2.0/networks',
                     '/channel/v1/status'):
            self.assertUnauthorized(anon.get(path), anon)

    def test_missing_and_forged_tokens(self):
        good = self.token('demo')
        for bad in ('', 'nonsense', good[:-1], good[:-2] + ('A' if good[-2] != 'A' else 'B') +
                    good[-1], good + 'x', 'x' * 9000):
            c = qhvtest.Client(self.server.port, {'X-Auth-Token': bad} if bad else {})
            self.assertUnauthorized(c.get('/v2.0/networks'), c)
            self.assertUnauthorized(c.post('/v2.0/networks', {'network': {'name': 'kt-x'}}), c)
        st, body = self.as_user('demo').get('/v2.0/networks')
        self.assertEqual(st, 200, body)

    def test_revoked_token(self):
        token = KS.token('demo')
        r = KS.run_cli('token', 'revoke', token)
        self.assertEqual(r.returncode, 0, r.stderr)
        c = qhvtest.Client(self.server.port, {'X-Auth-Token': token})
        self.assertUnauthorized(c.get('/v2.0/networks'), c)

    def test_not_project_scoped(self):
        for token in (KS.system_token('admin'), KS.unscoped_token('demo')):
            c = qhvtest.Client(self.server.port, {'X-Auth-Token': token})
            self.assertError(c.get('/v2.0/networks'), 403, 'HTTPForbidden', 'project-scoped')

    def test_keystone_down_is_503(self):
        cached = self.as_user('alt')
        st, body = cached.get('/v2.0/networks')       # validated and cached
        self.assertEqual(st, 200, body)
        fresh_token = KS.token('demo')                 # never shown to the server
        fresh = qhvtest.Client(self.server.port, {'X-Auth-Token': fresh_token})
        KS.stop()
        try:
            for _ in range(3):
                self.assertError(fresh.get('/v2.0/networks'), 503, 'HTTPServiceUnavailable')
                self.assertError(fresh.post('/v2.0/networks', {'network': {'name': 'kt-down'}}),
                                 503, 'HTTPServiceUnavailable')
            forged = qhvtest.Client(self.server.port, {'X-Auth-Token': 'forged'})
            self.assertError(forged.get('/v2.0/networks'), 503, 'HTTPServiceUnavailable')
            # A token validated before stays valid until token_cache_time.
            st, body = cached.get('/v2.0/networks')
            self.assertEqual(st, 200, body)
            # (Logged before the 503 was answered.)
            self.assertIn('Keystone unreachable', self.server.read_log())
        finally:
            KS.restart()
        st, body = fresh.get('/v2.0/networks')
        self.assertEqual(st, 200, body)
        st, body = fresh.get('/v2.0/networks?name=kt-down')
        self.assertEqual(body['networks'], [])

    def test_bad_service_credentials_are_503(self):
        for opts, log in (({'password': 'wrong'}, 'refused the service credentials'),
                          ({'auth_url': 'http://127.0.0.1:%d/v3' % keystone_fixture.free_port()},
                           'Keystone unreachable'),
                          ({'username': 'weak', 'password': KS.passwords['weak']},
                           'needs the admin or service role')):
            srv = qhvtest.Server(server_conf(**opts)).start()
            try:
                c = qhvtest.Client(srv.port, {'X-Auth-Token': self.token('demo')})
                self.assertError(c.get('/v2.0/networks'), 503, 'HTTPServiceUnavailable')
                self.assertError(c.post('/v2.0/networks', {'network': {'name': 'kt-no'}}), 503,
                                 'HTTPServiceUnavailable')
                self.assertEqual(srv.stop(), 0)
                text = srv.read_log()
                self.assertIn(log, text)
                self.assertNotIn(self.token('demo'), text)
                self.assertNotIn(KS.passwords['neutron'], text)
            finally:
                srv.cleanup()
        st, body = self.get('/v2.0/networks?name=kt-no')
        self.assertEqual((st, body['networks']), (200, []))

    def test_config_errors(self):
        for conf, msg in (
                ('[DEFAULT]\nauth_strategy = keystone\n',
                 'auth_url (or www_authenticate_uri) must be set'),
                (server_conf(password=''), 'username, password and project_name must be set'),
                (server_conf(auth_url='ftp://127.0.0.1/v3'), 'is not an http:// or https:// URL'),
                (server_conf(www_authenticate_uri='http://a"b'),
                 'is not an http:// or https:// URL'),
                (server_conf(auth_type='v3token'), "auth_type: 'v3token' is not supported"),
                ('[DEFAULT]\nauth_strategy = Keystone\n', 'not supported (noauth, keystone)')):
            srv = qhvtest.Server(conf)
            try:
                with self.assertRaises(RuntimeError) as cm:
                    srv.start()
                self.assertIn('exited with 2', str(cm.exception))
                self.assertIn(msg, srv.read_log())
            finally:
                srv.cleanup()

    def test_tokens_never_logged(self):
        st, body = self.as_user('reader').get('/v2.0/networks')
        self.assertEqual(st, 200, body)
        text = self.server.read_log()
        for user in ('reader', 'admin'):
            self.assertNotIn(self.token(user), text)
        self.assertNotIn(KS.passwords['neutron'], text)
        # Who did what is in the request's log line (written once the
        # answer is sent: wait for it).
        want = re.compile(r'"GET /v2.0/networks" status: 200 .* user %s project %s reader'
                          % (KS.ids['user:reader'], self.project('demo')))
        deadline = time.time() + 5
        while not want.search(text) and time.time() < deadline:
            time.sleep(0.05)
            text = self.server.read_log()
        self.assertRegex(text, want)


class KeystoneCacheTest(KeystoneTestCase):
    """token_cache_time bounds how long a revoked token still works;
    token_cache_size bounds the entries (least recently used go first)."""
    ks_opts = {'token_cache_time': 6, 'token_cache_size': 2}

    def test_cache_time(self):
        # Revoked in Keystone, still cached here for token_cache_time (6 s)
        # counted from the validation. On a machine so busy that revoking
        # and asking again took longer, the second answer cannot tell; the
        # scenario is then tried again with a new token.
        for attempt in range(4):
            token = KS.token('demo')
            c = qhvtest.Client(self.server.port, {'X-Auth-Token': token})
            validated = time.time()       # the server validates after this
            st, body = c.get('/v2.0/networks')
            self.assertEqual(st, 200, body)
            answered = time.time()        # ... and before this
            KS.revoke(token)
            st, body = c.get('/v2.0/networks')
            if time.time() - validated < 5:
                break
        self.assertEqual(st, 200, body)
        time.sleep(max(0.0, answered + 6.2 - time.time()))
        self.assertUnauthorized(c.get('/v2.0/networks'), c)

    def test_cache_size(self):
        srv = qhvtest.Server(server_conf(token_cache_size=2)).start()
        try:
            toks = [KS.token('alt') for _ in range(3)]
            clients = [qhvtest.Client(srv.port, {'X-Auth-Token': t}) for t in toks]
            # a, b, c (a evicted), a (validated again, b evicted), c (cached).
            for i in (0, 1, 2, 0, 2):
                st, body = clients[i].get('/v2.0/networks')
                self.assertEqual(st, 200, body)
            self.assertEqual(srv.stop(), 0)
            m = re.search(r'keystone: (\d+) requests answered from the token cache, (\d+) '
                          r'validations', srv.read_log())
            self.assertIsNotNone(m, srv.read_log()[-2000:])
            self.assertEqual((int(m.group(1)), int(m.group(2))), (1, 4))
        finally:
            srv.cleanup()


    def test_concurrent_validation(self):
        # Threads validating, hitting and evicting at once (cache of 2, 5
        # tokens): every request gets the right project, none fails.
        toks = [(u, KS.token(u)) for u in ('demo', 'alt', 'reader', 'demo', 'alt')]
        errors = []

        def worker(n):
            for i in range(6):
                user, tok = toks[(n + i) % len(toks)]
                c = qhvtest.Client(self.server.port, {'X-Auth-Token': tok})
                st, body = c.post('/v2.0/networks', {'network': {'name': 'kc-%d-%d' % (n, i)}})
                want = 403 if user == 'reader' else 201
                if st != want or (st == 201 and body['network']['project_id'] !=
                                  self.project(keystone_fixture.USERS[user][0])):
                    errors.append((user, st, body))

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])


class KeystoneExpiryTest(KeystoneTestCase):
    """Short-lived tokens from a second Keystone process (same database and
    Fernet keys, [token] expiration = 3): an expired token is refused even if
    cached, and the server renews its own service token."""
    LIFE = 3

    @classmethod
    def setUpClass(cls):
        cls.short_url = KS.extra_instance('short', cls.LIFE)
        super().setUpClass()

    def test_expired_token(self):
        # Keystone cuts expires_at to the second: a token of LIFE = 3 s lives
        # 2 to 3 s, which a loaded machine can spend before the server has
        # asked Keystone about it. So: the server's own service login first
        # (not in that window), and a token that has expired by the time
        # its answer comes is rightly refused; a fresh one is tried then.
        # Refused while still valid is a failure.
        self.net_ids(self.admin)
        for _ in range(10):
            token, body = KS.token_and_body('demo', auth_url=self.short_url)
            expires = calendar.timegm(time.strptime(body['expires_at'][:19],
                                                    '%Y-%m-%dT%H:%M:%S'))
            c = qhvtest.Client(self.server.port, {'X-Auth-Token': token})
            st, resp = c.get('/v2.0/networks')
            if st == 200:
                break
            self.assertGreaterEqual(time.time(), expires, 'a valid token refused: %s' % resp)
            self.assertUnauthorized((st, resp), c)
        else:
            self.fail('no token of %d s was still valid when the server asked Keystone, in 10 '
                      'tries' % self.LIFE)
        # Cached, but refused from the moment it expires.
        self.wait_for('the token to expire', lambda: time.time() >= expires)
        self.assertUnauthorized(c.get('/v2.0/networks'), c)

    def test_service_token_renewed(self):
        srv = qhvtest.Server(server_conf(auth_url=self.short_url)).start()
        try:
            for _ in range(3):
                c = qhvtest.Client(srv.port, {'X-Auth-Token': KS.token('alt')})
                st, body = c.get('/v2.0/networks')
                self.assertEqual(st, 200, body)
                time.sleep(self.LIFE / 2 + 0.3)
            self.assertEqual(srv.stop(), 0)
            text = srv.read_log()
            self.assertGreaterEqual(text.count('service token obtained'), 2, text[-3000:])
            self.assertNotIn('status: 503', text)
        finally:
            srv.cleanup()


AGENT_SERVER_CONF = '[agent]\nkeystone_role = qhv-agent\nreport_interval = 5\n'


def agent_ks_conf(user, auth_url=None, password=None, project='service'):
    return ('[keystone_authtoken]\nauth_url = %s/v3\nusername = %s\npassword = %s\n'
            'project_name = %s\nuser_domain_name = Default\nproject_domain_name = Default\n'
            % (auth_url or KS.url, user, password or KS.passwords[user], project))


class KeystoneAgentTest(KeystoneTestCase):
    """Agents in keystone mode ([agent] keystone_role = qhv-agent, binding by
    user name): the agent of host H logs in as qhv-agent-H and presents its
    token on the host channel; it reaches H's plan and reports, nothing else.
    qhvctl authenticates like the openstack CLI."""
    more_conf = AGENT_SERVER_CONF

    tools = (test_agent_dummy.AGENT, test_agent_dummy.QHVCTL)

    def setUp(self):
        self.hosts = []

    def tearDown(self):
        agents = {a['host']: a['id'] for a in self.get('/v2.0/agents')[1]['agents']}
        for h in self.hosts:
            rc = h.stop()
            h.log.close()
            self.assertIn(rc, (0, -15), 'agent %s exited with %s' % (h.name, rc))
            if h.name in agents:
                self.assertEqual(self.delete('/v2.0/agents/' + agents[h.name])[0], 204)

    def agent(self, host, conf):
        h = test_agent_dummy.Host(self, host, '192.168.62.%d' % (len(self.hosts) + 1),
                                  keystone=True, extra=conf)
        h.ctl('counters')
        self.hosts.append(h.start())
        return h

    def agent_hosts(self):
        return {a['host'] for a in self.get('/v2.0/agents')[1]['agents']}

    def port_goes_active(self, h, cidr):
        self.wait_for('agent %s registered' % h.name, lambda: h.name in self.agent_hosts())
        net = self.make_network(name='ks-agent-' + h.name)
        self.make_subnet(net['id'], cidr)
        port = self.make_port(net['id'], **{'binding:host_id': h.name})
        h.ctl('nic', 'add', port['id'])
        self.wait_for('port ACTIVE', lambda: self.get('/v2.0/ports/' + port['id'])[1]
                      ['port']['status'] == 'ACTIVE')
        self.assertIn('port/' + port['id'], h.objects('port'))
        return port

    def qhvctl(self, *args, env=None):
        e = keystone_fixture.clean_env(env)
        return subprocess.run([test_agent_dummy.QHVCTL, '--url',
                               'http://127.0.0.1:%d' % self.server.port] + list(args),
                              capture_output=True, text=True, timeout=60, env=e)

    def channel(self, user=None, token=None):
        tok = token or (KS.token(user) if user else None)
        return qhvtest.Client(self.server.port, {'X-Auth-Token': tok} if tok else {})

    def test_agent_with_the_role_goes_active(self):
        h = self.agent('kh1', agent_ks_conf('qhv-agent-kh1'))
        self.port_goes_active(h, '10.93.0.0/24')
        self.assertIn('logged in to Keystone at %s/v3/auth/tokens as qhv-agent-kh1' % KS.url,
                      h.read_log())
        self.assertNotIn(KS.passwords['qhv-agent-kh1'], h.read_log())
        # The server's log names the agent user (never the token).
        self.assertRegex(self.server.read_log(), r'"POST /channel/v1/hosts/kh1/report" '
                                                 r'status: 200 .*agent user qhv-agent-kh1')
        # qhvctl with a password login from OS_* (as the openstack CLI).
        env = KS.cli_env('admin')
        r = self.qhvctl('agents', env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r'kh1\s+yes')
        r = self.qhvctl('wait', '--timeout', '20', env=env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # ... with a token (--os-token, OS_TOKEN).
        r = self.qhvctl('--os-token', self.token('admin'), 'agents')
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.qhvctl('wait', '--timeout', '20', env={'OS_TOKEN': self.token('admin')})
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # ... the agent's own token shows its plan (qhvctl plan).
        r = self.qhvctl('--os-token', KS.token('qhv-agent-kh1'), 'plan', 'kh1')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)['host'], 'kh1')
        # Without credentials, or with wrong ones: refused, with the reason.
        r = self.qhvctl('agents')
        self.assertEqual(r.returncode, 1)
        self.assertIn('HTTP 401', r.stderr)
        bad = dict(env, OS_PASSWORD='wrong')
        r = self.qhvctl('agents', env=bad)
        self.assertEqual(r.returncode, 1)
        self.assertIn('Keystone refused the credentials (401)', r.stderr)

    def test_channel_binds_the_agent_user_to_its_host(self):
        kh1 = self.channel('qhv-agent-kh1')
        st, body = kh1.get('/channel/v1/hosts/kh1/plan')
        self.assertEqual((st, body['host']), (200, 'kh1'))
        # Another host's plan or report: 403.
        err = self.assertError(kh1.get('/channel/v1/hosts/kh2/plan'), 403, 'HTTPForbidden')
        self.assertIn('not for kh2', err['message'])
        report = {'agent': {'host': 'kh2', 'binary': 'qhv-agent', 'agent_type': 'HyperV agent',
                            'configurations': {}}, 'ports': []}
        self.assertError(kh1.post('/channel/v1/hosts/kh2/report', report), 403,
                         'HTTPForbidden')
        self.assertEqual(self.channel('qhv-agent-kh2').get('/channel/v1/hosts/kh2/plan')[0],
                         200)
        # Users without the agent role, admin included: 403.
        for user in ('demo', 'admin', 'neutron'):
            err = self.assertError(self.channel(user).get('/channel/v1/hosts/kh1/plan'), 403,
                                   'HTTPForbidden')
            self.assertIn('agent role (qhv-agent)', err['message'])
        # The role, but a user name that names no host (binding user_name).
        self.assertError(self.channel('shared-agent').get('/channel/v1/hosts/kh1/plan'), 403,
                         'HTTPForbidden')
        # No token, a forged or a revoked one: 401 naming Keystone.
        for c in (self.channel(), self.channel(token='gAAAAAforged' + 'x' * 100)):
            self.assertUnauthorized(c.get('/channel/v1/hosts/kh1/plan'), c)
        tok = KS.token('qhv-agent-kh1')
        KS.revoke(tok)
        c = self.channel(token=tok)
        self.assertUnauthorized(c.get('/channel/v1/hosts/kh1/plan'), c)
        # Agent tokens are off ([agent] auth_token not set).
        c = qhvtest.Client(self.server.port, {'X-Qhv-Agent-Token': 'f' * 64})
        self.assertError(c.get('/channel/v1/hosts/kh1/plan'), 401, 'HTTPUnauthorized')
        # The agent role reaches the channel only, not the API.
        self.assertError(kh1.get('/v2.0/networks'), 403, 'HTTPForbidden')

    def test_agent_without_the_role_is_refused(self):
        h = self.agent('kh3', agent_ks_conf('demo', project='demo'))
        self.wait_for('403 in the log', lambda: 'HTTP 403' in h.read_log())
        self.assertIn('logged in to Keystone', h.read_log())
        self.assertNotIn('kh3', self.agent_hosts())
        h2 = self.agent('kh4', agent_ks_conf('qhv-agent-kh1', password='wrong'))
        self.wait_for('refused login in the log',
                      lambda: 'Keystone refused the credentials (401)' in h2.read_log())
        self.assertNotIn('kh4', self.agent_hosts())
        self.assertIsNone(h2.proc.poll(), 'the agent keeps retrying')

    def test_agent_waits_for_keystone(self):
        # Keystone unreachable: the agent retries its login with backoff and
        # sends nothing to the server meanwhile.
        dead = 'http://127.0.0.1:%d' % keystone_fixture.free_port()
        h = self.agent('kh5', agent_ks_conf('qhv-agent-kh1', auth_url=dead))
        self.wait_for('two failed logins', lambda: len(re.findall(
            r'Keystone login as qhv-agent-kh1 \(project service\): Keystone unreachable at '
            + re.escape(dead) + r'/v3/auth/tokens: .*; retry in \d+ ms', h.read_log())) >= 2)
        self.assertNotIn('kh5', self.agent_hosts())
        self.assertNotIn('/channel/v1/hosts/kh5/', self.server.read_log())

    def test_agent_renews_its_token(self):
        short = KS.extra_instance('agent-short', 6)    # renewed after 3 s
        # Watches (20 s) outlive the tokens they were sent with: the one
        # woken by the port below was authorized with an expired token.
        h = self.agent('kh2', agent_ks_conf('qhv-agent-kh2', auth_url=short) +
                       '[agent]\npoll_wait = 20\n')
        self.wait_for('two renewals', lambda: h.read_log().count('Keystone token renewed') >= 2,
                      timeout=20)
        # Still served after the first token expired.
        self.port_goes_active(h, '10.94.0.0/24')
        self.assertNotIn('HTTP 401', h.read_log())

    def test_agent_logs_in_again_on_401(self):
        # Disabling the user revokes its tokens; once enabled again, the
        # agent's next request is refused (401, the server caches for 1 s)
        # and it logs in again.
        srv = qhvtest.Server(server_conf(token_cache_time=1) + AGENT_SERVER_CONF).start()
        admin = qhvtest.Client(srv.port, {'X-Auth-Token': self.token('admin')})
        h = test_agent_dummy.Host(self, 'kh2', '192.168.62.99',
                                  url='http://127.0.0.1:%d' % srv.port, keystone=True,
                                  extra=agent_ks_conf('qhv-agent-kh2'))
        h.ctl('counters')
        h.start()
        try:
            self.wait_for('kh2 registered', lambda: 'kh2' in {
                a['host'] for a in admin.get('/v2.0/agents')[1]['agents']})
            for flag in ('--disable', '--enable'):
                r = KS.run_cli('user', 'set', flag, 'qhv-agent-kh2')
                self.assertEqual(r.returncode, 0, r.stderr)
            self.wait_for('the 401 and a new login', lambda: re.search(
                r'refused the Keystone token \(401\): logging in again(.|\n)*Keystone token '
                r'renewed', h.read_log()), timeout=30)
            # Served again with the new token.
            mark = len(srv.read_log())
            self.wait_for('a report after the new login', lambda: re.search(
                r'"POST /channel/v1/hosts/kh2/report" status: 200', srv.read_log()[mark:]),
                timeout=15)
        finally:
            self.assertIn(h.stop(), (0, -15))
            h.log.close()
            srv.stop()
            srv.cleanup()

    def test_shared_agent_user_with_binding_any(self):
        srv = qhvtest.Server(server_conf() + AGENT_SERVER_CONF +
                             'keystone_host_binding = any\n').start()
        try:
            c = qhvtest.Client(srv.port, {'X-Auth-Token': KS.token('shared-agent')})
            for host in ('kh1', 'anyhost'):
                st, body = c.get('/channel/v1/hosts/%s/plan' % host)
                self.assertEqual(st, 200, body)
            c = qhvtest.Client(srv.port, {'X-Auth-Token': KS.token('demo')})
            self.assertEqual(c.get('/channel/v1/hosts/kh1/plan')[0], 403)
            self.assertEqual(srv.stop(), 0)
            self.assertIn('act as agents for any host', srv.read_log())
        finally:
            srv.cleanup()

    def test_agent_role_needs_keystone(self):
        srv = qhvtest.Server(AGENT_SERVER_CONF)
        try:
            with self.assertRaises(RuntimeError):
                srv.start()
            self.assertIn('keystone_role needs auth_strategy = keystone', srv.read_log())
        finally:
            srv.cleanup()


class KeystoneTlsAgentTest(unittest.TestCase):
    """The deployment of docs/security.md in one: keystone, HTTPS with a
    private CA, an agent logging in as its Keystone user over HTTPS, qhvctl
    with the openstack CLI's OS_* variables and OS_CACERT."""

    def test_agent_and_qhvctl_over_https_with_keystone(self):
        import test_tls
        pki = test_tls.Pki()
        srv = qhvtest.Server(server_conf() + AGENT_SERVER_CONF + pki.conf()).start()
        url = 'https://127.0.0.1:%d' % srv.port
        h = None
        try:
            case = type('Case', (), {'server': srv})    # what Host reads of a test case
            h = test_agent_dummy.Host(case, 'kh1', '192.168.63.1', url=url,
                                      keystone=True,
                                      extra=agent_ks_conf('qhv-agent-kh1') +
                                      '[ssl]\nca_file = %s\n' % pki.path('ca.pem'))
            h.start()
            env = KS.cli_env('admin')
            env['OS_CACERT'] = pki.path('ca.pem')
            deadline = time.time() + 20
            out = None
            while time.time() < deadline:
                out = subprocess.run([test_agent_dummy.QHVCTL, '--url', url, 'agents'],
                                     capture_output=True, text=True, timeout=60, env=env)
                if out.returncode == 0 and re.search(r'kh1\s+yes', out.stdout):
                    break
                time.sleep(0.2)
            self.assertRegex(out.stdout, r'kh1\s+yes', out.stderr + h.read_log())
            out = subprocess.run([test_agent_dummy.QHVCTL, '--url', url, 'wait', '--timeout',
                                  '20'], capture_output=True, text=True, timeout=60, env=env)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            self.assertIn('plan of revision', h.read_log())
            # Without the CA, qhvctl fails on the certificate, not on the token.
            del env['OS_CACERT']
            out = subprocess.run([test_agent_dummy.QHVCTL, '--url', url, 'agents'],
                                 capture_output=True, text=True, timeout=60, env=env)
            self.assertEqual(out.returncode, 1)
            self.assertIn('certificate', out.stderr)
        finally:
            if h:
                self.assertIn(h.stop(), (0, -15))
                h.log.close()
            self.assertEqual(srv.stop(), 0)
            srv.cleanup()
            pki.cleanup()


if __name__ == '__main__':
    unittest.main()
