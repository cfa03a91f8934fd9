"""Events for Nova with [nova] auth_type = password against a real Keystone
(keystone_fixture): the sender logs in as the service user, finds Nova's
endpoint in the token's catalogue by type, interface and region, sends the
Keystone token, and logs in again when Nova answers 401. A small HTTP server
(test_nova_outbox.FakeNova) stands in for Nova, for the 401 fault; the real
Nova is in test_nova.py."""
import json
import urllib.request
import uuid

import keystone_fixture
import qhvtest
import test_nova_outbox as outbox

KS = None
NOVA = None


def setUpModule():
    global KS, NOVA
    KS = keystone_fixture.Keystone()          # SkipTest only if not installable
    try:
        KS.start()
        KS.create_identities()
        NOVA = outbox.FakeNova()
        closed = 'http://127.0.0.1:%d/v2.1' % qhvtest.free_port()
        # Only the internal endpoint of RegionOne is Nova; the others lead nowhere.
        cmds = ['service create --name nova compute -f json',
                'endpoint create --region RegionOne nova public %s -f json' % closed,
                'endpoint create --region RegionTwo nova internal %s -f json' % closed,
                'endpoint create --region RegionOne nova internal %s -f json' % NOVA.url()]
        r = KS.run_cli(stdin='\n'.join(cmds) + '\n')
        if r.returncode != 0 or r.stderr.strip():
            raise RuntimeError('openstack: %s' % r.stderr[-2000:])
    except BaseException:
        KS.cleanup()
        if NOVA:
            NOVA.close()
        raise


def tearDownModule():
    if KS:
        KS.cleanup()
    if NOVA:
        NOVA.close()


class PasswordLogin(outbox.NovaCase):

    @classmethod
    def setUpClass(cls):
        cls.extra_conf = outbox.AGENT_CONF + """
[DEFAULT]
send_events_interval = 1
[nova]
auth_type = password
auth_url = %s/v3
username = neutron
password = %s
project_name = service
user_domain_name = Default
project_domain_name = Default
region_name = RegionOne
endpoint_type = internal
retry_max_interval = 2
""" % (KS.url, KS.passwords['neutron'])
        super().setUpClass()

    def setUp(self):
        with NOVA.lock:
            NOVA.mode = 'ok'

    def token_user(self, token):
        """Who Keystone says token belongs to (it validates it)."""
        req = urllib.request.Request(KS.url + '/v3/auth/tokens?nocatalog', headers={
            'X-Auth-Token': KS.token('admin'), 'X-Subject-Token': token})
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())['token']['user']['name']

    def plugged(self, cidr, host):
        net = self.net(cidr)
        self.report(host)
        p = self.vm_port(net, host)
        self.report(host, [(p['id'], 'ACTIVE')])
        return p

    def requests_for(self, tag):
        with NOVA.lock:
            return [(h, b) for t, h, b, path in NOVA.requests
                    if any(e.get('tag') == tag for e in b['events'])]

    def test_token_and_endpoint_from_keystone(self):
        p = self.plugged('10.101.0.0/24', 'nk-pw1')
        self.wait_for('the event at Nova', lambda: self.requests_for(p['id']),
                      self.server.read_log)
        self.wait_for('the outbox emptied', lambda: self.pending(p['id']) == [])
        headers, body = self.requests_for(p['id'])[0]
        self.assertEqual(self.token_user(headers['X-Auth-Token']), 'neutron')
        self.assertEqual(self.counters()['endpoint'], NOVA.url())

    def test_401_logs_in_again(self):
        with NOVA.lock:
            NOVA.mode = 'once401'
        p = self.plugged('10.102.0.0/24', 'nk-pw2')
        self.wait_for('the event sent twice', lambda: len(self.requests_for(p['id'])) >= 2,
                      self.server.read_log)
        self.wait_for('the outbox emptied', lambda: self.pending(p['id']) == [])
        (h1, _), (h2, _) = self.requests_for(p['id'])[:2]
        self.assertNotEqual(h1['X-Auth-Token'], h2['X-Auth-Token'])
        self.assertEqual(self.token_user(h2['X-Auth-Token']), 'neutron')
        self.assertEqual([e for e in self.outbox()['events'] if e['tag'] == p['id']], [])


class WrongPassword(outbox.NovaCase):
    """Keystone refuses the login: events wait, the reason is shown."""

    @classmethod
    def setUpClass(cls):
        cls.extra_conf = outbox.AGENT_CONF + """
[nova]
auth_url = %s
username = neutron
password = not-the-password
retry_max_interval = 2
""" % KS.url
        super().setUpClass()

    def test_refused_login_keeps_events(self):
        net = self.net('10.103.0.0/24')
        self.report('nk-bad')
        p = self.vm_port(net, 'nk-bad', str(uuid.uuid4()))
        self.report('nk-bad', [(p['id'], 'ACTIVE')])

        def failed():
            evs = [e for e in self.outbox()['events'] if e['tag'] == p['id']]
            return evs and evs[0]['attempts'] >= 1 and evs[0]
        ev = self.wait_for('a failed attempt', failed, self.server.read_log)
        self.assertIn('Keystone refused the credentials (401)', ev['last_error'])
        self.assertIn('Keystone refused the credentials', self.counters()['last_error'])
