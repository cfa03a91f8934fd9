"""stateful-security-group: `stateful` on security groups as Neutron has it
(default true, not changed under ports, one kind per port), carried by the
host plans to the agents, whose acl/ objects say it (the ovs backend then
matches without conntrack, the hyperv one writes Stateful false entries:
tests/unit/test_agent_ovs_flows.c, test_agent_hyperv.c)."""
import unittest

import qhvtest
from test_agent_dummy import AGENT, QHVCTL, SERVER_CONF, Host

SG = '/v2.0/security-groups'


class StatefulSecurityGroups(qhvtest.ServerTestCase):
    extra_conf = SERVER_CONF
    wait_timeout = 20.0
    tools = (AGENT, QHVCTL)

    def make_sg(self, client, name, **attrs):
        attrs['name'] = name
        st, body = client.post(SG, {'security_group': attrs})
        self.assertEqual(st, 201, body)
        return body['security_group']

    def test_attribute(self):
        st, body = self.get('/v2.0/extensions/stateful-security-group')
        self.assertEqual(st, 200, body)
        c = self.client('ssg-attr')
        g = self.make_sg(c, 'default-kind')
        self.assertIs(g['stateful'], True)
        off = self.make_sg(c, 'stateless', stateful=False)
        self.assertIs(off['stateful'], False)
        st, body = c.get(SG + '?stateful=false')
        self.assertEqual([x['id'] for x in body['security_groups']], [off['id']])
        default = [x for x in c.get(SG)[1]['security_groups'] if x['name'] == 'default'][0]
        self.assertIs(default['stateful'], True)
        self.assertError(c.post(SG, {'security_group': {'name': 'x', 'stateful': 'maybe'}}),
                         400, 'InvalidInput')
        # Free to change while no port uses it.
        st, body = c.put(SG + '/' + g['id'], {'security_group': {'stateful': False}})
        self.assertEqual((st, body['security_group']['stateful']), (200, False))
        st, body = c.put(SG + '/' + g['id'], {'security_group': {'stateful': True}})
        self.assertEqual(st, 200, body)
        net = self.make_network(c, name='ssg-net')
        self.make_subnet(net['id'], '10.74.0.0/24', client=c)
        # One kind per port.
        err = self.assertError(c.post('/v2.0/ports', {'port': {
            'network_id': net['id'], 'security_groups': [g['id'], off['id']]}}), 409,
            'SecurityGroupConflict')
        self.assertIn('both stateful and stateless', err['message'])
        port = self.make_port(net['id'], c, security_groups=[off['id']])
        self.assertError(c.put('/v2.0/ports/' + port['id'], {'port': {
            'security_groups': [off['id'], g['id']]}}), 409, 'SecurityGroupConflict')
        # In use: its kind stays; other changes are fine.
        err = self.assertError(c.put(SG + '/' + off['id'], {'security_group': {
            'stateful': True}}), 409, 'SecurityGroupInUse')
        self.assertEqual(err['message'], 'Security Group %s in use.' % off['id'])
        st, body = c.put(SG + '/' + off['id'], {'security_group': {'stateful': False,
                                                                   'name': 'renamed'}})
        self.assertEqual(st, 200, body)

    def test_agents_get_the_kind(self):
        h = Host(self, 'ssgh1', '192.168.74.1')
        h.ctl('counters')
        h.start()
        try:
            self.wait_for('agent', lambda: any(
                a['host'] == 'ssgh1' and a['alive']
                for a in self.get('/v2.0/agents')[1]['agents']))
            c = self.client('ssg-agent')
            off = self.make_sg(c, 'stateless', stateful=False)
            on = self.make_sg(c, 'stateful')
            net = self.make_network(name='ssg-agent-net', **{'provider:network_type': 'nvgre'})
            self.make_subnet(net['id'], '10.75.0.0/24')
            p1 = self.make_port(net['id'], security_groups=[off['id']], project_id='ssg-agent',
                                **{'binding:host_id': 'ssgh1'})
            p2 = self.make_port(net['id'], security_groups=[on['id']], project_id='ssg-agent',
                                **{'binding:host_id': 'ssgh1'})
            h.ctl('nic', 'add', p1['id'])
            h.ctl('nic', 'add', p2['id'])

            def kinds():
                acls = h.objects('acl')
                return {k: v['value']['stateful'] for k, v in acls.items()}

            want = {'acl/%s/%s' % (p, d): s for p, s in ((p1['id'], False), (p2['id'], True))
                    for d in ('ingress', 'egress')}
            self.wait_for('acl kinds', lambda: kinds() == want)
            # The port moves to the stateful group: its ACLs follow.
            st, body = self.put('/v2.0/ports/' + p1['id'], {'port': {
                'security_groups': [on['id']]}})
            self.assertEqual(st, 200, body)
            want.update({'acl/%s/%s' % (p1['id'], d): True for d in ('ingress', 'egress')})
            self.wait_for('acl kinds after the move', lambda: kinds() == want)
        finally:
            h.stop()
            agents = {a['host']: a['id'] for a in self.get('/v2.0/agents')[1]['agents']}
            if 'ssgh1' in agents:
                self.delete('/v2.0/agents/' + agents['ssgh1'])


if __name__ == '__main__':
    unittest.main()
