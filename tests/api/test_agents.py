"""The agents endpoint (/v2.0/agents) before any agent has reported, and
the extensions list (GET /v2.0/extensions) that advertises what clients may
use: agent, quotas, security-group and the query conventions.
"""
import json
import os
import subprocess
import time
import unittest

import qhvtest
from test_agent_dummy import AGENT, QHVCTL, SERVER_CONF, Host

REFERENCE = os.environ.get('QHV_NEUTRON_WIRE', '/work/shared/reference/neutron-21-wire')
UNKNOWN = '3c9a3e71-5b0e-4d5e-8a39-0f3e2a9d6c11'

REQUIRED_EXTENSIONS = [
    'provider', 'binding', 'security-group', 'quotas', 'quota_details', 'agent',
    'external-net', 'allowed-address-pairs', 'port-security', 'standard-attr-revisions',
    'revision-if-match', 'standard-attr-tag', 'standard-attr-timestamp',
    'standard-attr-description', 'project-id', 'pagination', 'sorting',
]


class AgentsTest(qhvtest.ServerTestCase):

    def test_empty_collection(self):
        st, body = self.get('/v2.0/agents')
        self.assertEqual((st, body), (200, {'agents': []}))
        self.assertEqual(self.admin.last_headers.get('Content-Type'), 'application/json')
        st, body = self.get('/v2.0/agents.json')
        self.assertEqual((st, body), (200, {'agents': []}))
        # Query conventions apply to an empty collection as well.
        for query in ('?agent_type=Open+vSwitch+agent', '?host=h1&host=h2', '?alive=true',
                      '?admin_state_up=false', '?fields=id&fields=host',
                      '?sort_key=host&sort_dir=asc', '?limit=0'):
            st, body = self.get('/v2.0/agents' + query)
            self.assertEqual((st, body), (200, {'agents': []}), query)
        st, body = self.get('/v2.0/agents?bogus=1')
        self.assertEqual(st, 400, body)
        st, body = self.get('/v2.0/agents?alive=maybe')
        self.assertEqual(st, 400, body)

    def test_show_unknown(self):
        for aid in (UNKNOWN, 'not-a-uuid'):
            err = self.assertError(self.get('/v2.0/agents/' + aid), 404, 'AgentNotFound')
            self.assertEqual(err['message'], 'Agent %s could not be found.' % aid)

    def test_create_not_allowed(self):
        for body in ({'agent': {'host': 'h1', 'agent_type': 'HyperV agent'}}, {'agent': {}}):
            self.assertError(self.post('/v2.0/agents', body), 405, 'HTTPMethodNotAllowed')
            self.assertIn('GET', self.admin.last_headers.get('Allow', ''))
            self.assertNotIn('POST', self.admin.last_headers.get('Allow', ''))
        self.assertError(self.client('agents-member').post('/v2.0/agents', {'agent': {}}), 405,
                         'HTTPMethodNotAllowed')
        st, body = self.get('/v2.0/agents')
        self.assertEqual(body, {'agents': []})

    def test_update_and_delete_unknown(self):
        self.assertError(self.put('/v2.0/agents/' + UNKNOWN, {'agent': {'admin_state_up': False}}),
                         404, 'AgentNotFound', UNKNOWN)
        self.assertError(self.put('/v2.0/agents/' + UNKNOWN, {'agent': {'description': 'x'}}),
                         404, 'AgentNotFound')
        self.assertError(self.delete('/v2.0/agents/' + UNKNOWN), 404, 'AgentNotFound', UNKNOWN)
        st, body = self.get('/v2.0/agents')
        self.assertEqual(body, {'agents': []})

    def test_non_admin(self):
        c = self.client('agents-member')
        st, body = c.get('/v2.0/agents')
        self.assertEqual((st, body), (200, {'agents': []}))
        self.assertError(c.get('/v2.0/agents/' + UNKNOWN), 404, 'AgentNotFound')
        self.assertError(c.put('/v2.0/agents/' + UNKNOWN, {'agent': {'admin_state_up': False}}),
                         404, 'AgentNotFound')
        self.assertError(c.delete('/v2.0/agents/' + UNKNOWN), 404, 'AgentNotFound')
        reader = self.client('agents-reader', 'reader')
        self.assertEqual(reader.get('/v2.0/agents'), (200, {'agents': []}))

    def test_agents_not_in_v2_root(self):
        st, body = self.get('/v2.0/')
        self.assertEqual(st, 200, body)
        self.assertNotIn('agents', [r['collection'] for r in body['resources']])

    def test_other_methods(self):
        st, body = self.admin.request('PATCH', '/v2.0/agents/' + UNKNOWN, {'agent': {}})
        self.assertEqual(st, 405, body)
        st, body = self.put('/v2.0/agents', {'agent': {}})
        self.assertEqual(st, 405, body)
        st, body = self.delete('/v2.0/agents')
        self.assertEqual(st, 405, body)


class PortProblemsTest(qhvtest.ServerTestCase):
    """A port whose switch state a foreign object holds is DOWN (never
    ACTIVE), its reason reaches the server (GET /v2.0/agents, qhvctl ports)
    and it comes back ACTIVE once the foreign object is gone."""
    extra_conf = SERVER_CONF
    tools = (AGENT, QHVCTL)
    wait_timeout = 15.0

    def test_foreign_object_holds_a_port(self):
        h = Host(self, 'ph1', '192.168.66.1')
        h.ctl('counters')
        h.start()
        try:
            self._scenario(h)
        finally:
            h.stop()
            h.log.close()
            for a in self.get('/v2.0/agents?host=ph1')[1]['agents']:
                self.delete('/v2.0/agents/' + a['id'])

    def _scenario(self, h):
        net = self.make_network(name='pp-vl', **{'provider:network_type': 'vlan',
                                                'provider:physical_network': 'physnet1',
                                                'provider:segmentation_id': 3310})
        self.make_subnet(net['id'], '10.96.0.0/24')
        port = self.make_port(net['id'], **{'binding:host_id': 'ph1'})
        pid = port['id']

        def status():
            return self.get('/v2.0/ports/' + pid)[1]['port']['status']

        def conf():
            agents = self.get('/v2.0/agents?host=ph1')[1]['agents']
            return agents[0]['configurations'] if agents else {}

        def ports_out():
            out = subprocess.run([QHVCTL, '--url', 'http://127.0.0.1:%d' % self.server.port,
                                  'ports', 'ph1'], capture_output=True, text=True)
            self.assertEqual(out.returncode, 0, out.stderr)
            return out.stdout

        h.ctl('nic', 'add', pid)
        self.wait_for('ACTIVE', lambda: status() == 'ACTIVE')
        self.assertEqual(conf()['port_problems'], 0)
        # Someone else's setting takes the port's object: DOWN, with why.
        h.ctl('foreign', 'add', 'port/' + pid,
              '{"why": "its VLAN setting is someone else\'s"}')
        self.wait_for('DOWN', lambda: status() == 'DOWN')
        self.wait_for('the problem reported', lambda: conf().get('port_problems') == 1)
        (d,) = conf()['port_problem_details']
        self.assertEqual((d['port_id'], d['status']), (pid, 'DOWN'))
        self.assertEqual(d['problem'], "port/%s is held by a foreign object: its VLAN setting "
                                       "is someone else's" % pid)
        out = ports_out()
        self.assertIn('PORT', out.splitlines()[0])
        line = [l for l in out.splitlines() if l.startswith(pid)]
        self.assertEqual(len(line), 1, out)
        self.assertIn(' DOWN ', line[0])
        self.assertIn('held by a foreign object', line[0])
        # It stays DOWN (not "pending": a foreign object does not go away by itself).
        time.sleep(1.0)
        self.assertEqual(status(), 'DOWN')
        # Logged once, not at every reconcile.
        self.assertEqual(h.read_log().count('port %s cannot be wired' % pid), 1, h.read_log())
        # The foreign object goes: the agent puts its own back, ACTIVE.
        h.ctl('vanish', 'port/' + pid)
        self.wait_for('ACTIVE again', lambda: status() == 'ACTIVE')
        self.wait_for('no problem', lambda: conf().get('port_problems') == 0)
        self.assertEqual(h.objects()['port/' + pid]['owner'], 'qhv')
        line = [l for l in ports_out().splitlines() if l.startswith(pid)]
        self.assertTrue(line[0].rstrip().endswith('ACTIVE -'), line)
        # An op of the port fails: the port is not configured (a backend
        # leaves it disabled), so it is DOWN with why until the retry passes.
        h.ctl('fault', 'fail', '1', 'acl')
        st, _ = self.post('/v2.0/security-group-rules', {'security_group_rule': {
            'security_group_id': port['security_groups'][0], 'direction': 'ingress',
            'protocol': 'tcp', 'port_range_min': 2222, 'port_range_max': 2222,
            'remote_ip_prefix': '10.0.0.0/8'}})
        self.assertEqual(st, 201)
        said = 'port %s cannot be wired: acl/%s/ingress could not be applied: injected ' \
               'fault' % (pid, pid)
        self.wait_for('the failure logged as the port\'s problem', lambda: said in h.read_log())
        self.wait_for('its problem gone', lambda: 'port %s: its problem is gone' % pid
                      in h.read_log().split(said, 1)[-1])
        self.wait_for('ACTIVE after the retry', lambda: status() == 'ACTIVE')
        self.wait_for('no problem', lambda: conf().get('port_problems') == 0)


class ExtensionsTest(qhvtest.ServerTestCase):

    def test_required_extensions_listed(self):
        st, body = self.get('/v2.0/extensions')
        self.assertEqual(st, 200, body)
        self.assertEqual(list(body), ['extensions'])
        exts = body['extensions']
        aliases = [x['alias'] for x in exts]
        self.assertEqual(len(aliases), len(set(aliases)))
        for alias in REQUIRED_EXTENSIONS:
            self.assertIn(alias, aliases)
        for x in exts:
            self.assertEqual(sorted(x), ['alias', 'description', 'links', 'name', 'updated'], x)
            for k in ('alias', 'description', 'name', 'updated'):
                self.assertIsInstance(x[k], str, x)
                self.assertNotEqual(x[k], '', x)
            self.assertRegex(x['updated'], r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-\d\d:\d\d$', x)
            self.assertEqual(x['links'], [])
        # A member sees the same list.
        st, member = self.client('ext-member').get('/v2.0/extensions')
        self.assertEqual((st, member), (200, body))

    def test_required_extensions_described_as_neutron_does(self):
        path = os.path.join(REFERENCE, '03-extensions.json')
        with open(path) as f:
            theirs = {x['alias']: x for x in json.load(f)['response_body']['extensions']}
        st, body = self.get('/v2.0/extensions')
        ours = {x['alias']: x for x in body['extensions']}
        for alias in REQUIRED_EXTENSIONS:
            if alias not in theirs:     # port-security: not loaded in the sample
                continue
            want = dict(theirs[alias])
            if alias == 'standard-attr-tag':
                want['name'] = ours[alias]['name']   # lists the tagged resources
            self.assertEqual(ours[alias], want, alias)
        self.assertEqual(ours['port-security'], {
            'name': 'Port Security', 'alias': 'port-security',
            'description': 'Provides port security', 'updated': '2012-07-23T10:00:00-00:00',
            'links': []})

    def test_show_each_required_extension(self):
        st, body = self.get('/v2.0/extensions')
        listed = {x['alias']: x for x in body['extensions']}
        for alias in REQUIRED_EXTENSIONS:
            st, one = self.get('/v2.0/extensions/' + alias)
            self.assertEqual((st, one), (200, {'extension': listed[alias]}), alias)
        self.assertError(self.get('/v2.0/extensions/l3'), 404, 'HTTPNotFound')
        self.assertEqual(self.post('/v2.0/extensions', {})[0], 405)


if __name__ == '__main__':
    unittest.main()
