"""availability_zone and network_availability_zone: the zones are what the
agents report (qhv-agent's [agent] availability_zone), GET
/v2.0/availability_zones lists them as Neutron does (resource "network",
"available" while one of the zone's agents is admin_state_up), networks take
availability_zone_hints of known zones and show the zones of the agents
holding their DHCP ports."""
import unittest

import qhvtest
from test_agent_dummy import AGENT, QHVCTL, Host
from test_host_channel import CHANNEL_CONF, HV_CONF

AZ = '/v2.0/availability_zones'


class AvailabilityZones(qhvtest.ServerTestCase):
    extra_conf = CHANNEL_CONF

    def report(self, host, az):
        c = qhvtest.Client(self.server.port,
                           {'X-Qhv-Agent-Token': self.server.agent_token(host)})
        agent = {'agent_type': 'HyperV agent', 'binary': 'qhv-agent',
                 'configurations': dict(HV_CONF, provider_address='192.168.80.1')}
        if az is not Ellipsis:
            agent['availability_zone'] = az
        return c.post('/channel/v1/hosts/%s/report' % host, {'agent': agent})

    def zones(self, query='', client=None):
        st, body = (client or self.admin).get(AZ + query)
        self.assertEqual(st, 200, body)
        return sorted((z['name'], z['resource'], z['state']) for z in body['availability_zones'])

    def agent_id(self, host):
        return self.get('/v2.0/agents?host=' + host)[1]['agents'][0]['id']

    def test_zones_from_agents(self):
        self.assertNotIn('zone-a', [z[0] for z in self.zones()])
        for host, az in (('az1', 'zone-a'), ('az2', 'zone-a'), ('az3', 'zone-b'),
                         ('az4', None), ('az5', Ellipsis)):
            st, body = self.report(host, az)
            self.assertEqual(st, 200, body)
        st, body = self.get('/v2.0/agents?host=az3')
        self.assertEqual(body['agents'][0]['availability_zone'], 'zone-b')
        self.assertIsNone(self.get('/v2.0/agents?host=az4')[1]['agents'][0]['availability_zone'])
        want = [('zone-a', 'network', 'available'), ('zone-b', 'network', 'available')]
        q = '?name=zone-a&name=zone-b'
        self.assertEqual(self.zones(q), want)
        # Every project may list them.
        self.assertEqual(self.zones(q, client=self.client('az-member')), want)
        # A zone is unavailable once none of its agents is admin_state_up.
        st, body = self.put('/v2.0/agents/' + self.agent_id('az3'),
                            {'agent': {'admin_state_up': False}})
        self.assertEqual(st, 200, body)
        self.assertEqual(self.zones(q), [('zone-a', 'network', 'available'),
                                         ('zone-b', 'network', 'unavailable')])
        self.put('/v2.0/agents/' + self.agent_id('az1'), {'agent': {'admin_state_up': False}})
        self.assertEqual(self.zones('?name=zone-a'), [('zone-a', 'network', 'available')])
        # Filters (availability_zone_filter) and fields.
        self.assertEqual(self.zones('?state=unavailable'), [('zone-b', 'network', 'unavailable')])
        self.assertEqual(self.zones('?resource=router'), [])
        self.assertEqual(self.zones('?name=zone-a&name=zone-b&resource=network'),
                         [('zone-a', 'network', 'available'),
                          ('zone-b', 'network', 'unavailable')])
        st, body = self.get(AZ + '?fields=name&name=zone-b')
        self.assertEqual(body, {'availability_zones': [{'name': 'zone-b'}]})
        self.assertError(self.get(AZ + '?colour=red'), 400, 'HTTPBadRequest')
        st, body = self.post(AZ, {'availability_zone': {'name': 'x'}})
        self.assertEqual(st, 405, body)
        # An agent's zone must be text.
        st, body = self.report('az6', 17)
        self.assertEqual(st, 400, body)
        # A zone moves with its agent.
        st, body = self.report('az3', 'zone-c')
        self.assertEqual(st, 200, body)
        self.assertNotIn('zone-b', [z[0] for z in self.zones()])

    def test_network_hints_and_zones(self):
        for host, az in (('nz1', 'zone-n1'), ('nz2', 'zone-n2')):
            st, body = self.report(host, az)
            self.assertEqual(st, 200, body)
        member = self.client('az-proj')
        st, body = member.post('/v2.0/networks', {'network': {
            'name': 'hinted', 'availability_zone_hints': ['zone-n2', 'zone-n1']}})
        self.assertEqual(st, 201, body)
        net = body['network']
        self.assertEqual(net['availability_zone_hints'], ['zone-n2', 'zone-n1'])
        self.assertEqual(net['availability_zones'], [])
        plain = self.make_network(name='plain')
        self.assertEqual((plain['availability_zone_hints'], plain['availability_zones']),
                         ([], []))
        err = self.assertError(member.post('/v2.0/networks', {'network': {
            'availability_zone_hints': ['zone-n1', 'nowhere']}}), 404,
            'AvailabilityZoneNotFound')
        self.assertEqual(err['message'], 'AvailabilityZone nowhere could not be found.')
        self.assertError(member.post('/v2.0/networks', {'network': {
            'availability_zone_hints': ['zone-n1', 'zone-n1']}}), 400, 'HTTPBadRequest')
        self.assertError(member.post('/v2.0/networks', {'network': {
            'availability_zone_hints': 'zone-n1'}}), 400, 'HTTPBadRequest')
        self.assertError(member.put('/v2.0/networks/' + net['id'], {'network': {
            'availability_zone_hints': []}}), 400, 'HTTPBadRequest')
        self.assertError(member.post('/v2.0/networks', {'network': {
            'availability_zones': ['zone-n1']}}), 400, 'HTTPBadRequest')
        # The network's zones: those of the hosts of its DHCP ports.
        self.make_subnet(net['id'], '10.80.0.0/24', client=member)
        self.make_port(net['id'], device_owner='network:dhcp', **{'binding:host_id': 'nz2'})
        st, body = member.get('/v2.0/networks/' + net['id'])
        self.assertEqual(body['network']['availability_zones'], ['zone-n2'])
        self.make_port(net['id'], device_owner='network:dhcp', **{'binding:host_id': 'nz1'})
        self.make_port(net['id'], **{'binding:host_id': 'nz1'})
        st, body = member.get('/v2.0/networks?name=hinted')
        self.assertEqual(body['networks'][0]['availability_zones'], ['zone-n1', 'zone-n2'])
        st, body = self.get('/v2.0/networks/%s?fields=availability_zones' % plain['id'])
        self.assertEqual(body['network'], {'availability_zones': []})
        self.assertError(self.get('/v2.0/networks?availability_zones=zone-n1'), 400,
                         'HTTPBadRequest')


class AgentReportsItsZone(qhvtest.ServerTestCase):
    extra_conf = "\n[agent]\nauth_token = dummy-secret\nreport_interval = 5\n"
    tools = (AGENT, QHVCTL)

    def test_default_zone_is_nova(self):
        h = Host(self, 'azreal', '192.168.81.1')
        h.ctl('counters')
        h.start()
        try:
            self.wait_for('the agent', lambda: self.get('/v2.0/agents?host=azreal')[1]['agents'])
            a = self.get('/v2.0/agents?host=azreal')[1]['agents'][0]
            self.assertEqual(a['availability_zone'], 'nova')
            st, body = self.get(AZ)
            self.assertEqual(body['availability_zones'],
                             [{'name': 'nova', 'resource': 'network', 'state': 'available'}])
        finally:
            h.stop()


if __name__ == '__main__':
    unittest.main()
