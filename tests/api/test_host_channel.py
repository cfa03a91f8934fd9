"""The host channel, server side (docs/host-channel.md), driven by fake
agents over HTTP: per-host tokens, heartbeats and the agents list, binding
and re-binding, port status, host plans, the watch with deltas (waking only
the hosts a change concerns), and that the feed's incremental answers always
equal a full recompute."""
import json
import subprocess
import threading
import time
import unittest

import qhvtest

CHANNEL_CONF = """
[agent]
auth_token = test-secret
agent_down_time = 75
[ip_rewrite]
provider_pools = hv1:192.168.200.0/29,hv2:192.168.201.0/24
"""

HV_CONF = {'backend': 'dummy', 'vif_type': 'hyperv',
           'network_types': ['local', 'flat', 'vlan', 'nvgre', 'ip_rewrite'],
           'vswitch_mappings': ['physnet*:external'], 'port_filter': True}


class ChannelCase(qhvtest.ServerTestCase):
    extra_conf = CHANNEL_CONF

    def token(self, host):
        return self.server.agent_token(host)

    def agent(self, host):
        return qhvtest.Client(self.server.port, {'X-Qhv-Agent-Token': self.token(host)})

    def report(self, host, conf=None, ports=None, pa=None, client=None):
        c = dict(HV_CONF if conf is None else conf)
        if pa:
            c['provider_address'] = pa
        body = {'agent': {'agent_type': 'HyperV agent', 'binary': 'qhv-agent',
                          'configurations': c}}
        if ports is not None:
            body['ports'] = ports
        st, out = (client or self.agent(host)).post('/channel/v1/hosts/%s/report' % host, body)
        self.assertEqual(st, 200, out)
        return out

    def plan(self, host, query='', client=None):
        st, out = (client or self.agent(host)).get('/channel/v1/hosts/%s/plan%s' % (host, query))
        self.assertEqual(st, 200, out)
        return out

    def assertFeedIsFresh(self, host):
        """The feed's (incremental) plan equals a full recompute."""
        fed = self.plan(host)['plan']
        fresh = self.plan(host, '?fresh=1')['plan']
        self.assertEqual(fed, fresh)

    def net(self, **attrs):
        return self.make_network(**attrs)


class AuthTest(ChannelCase):
    def test_tokens_are_per_host(self):
        self.assertEqual(len(self.token('hv1')), 64)
        self.assertNotEqual(self.token('hv1'), self.token('hv2'))
        path = '/channel/v1/hosts/hv1/plan'
        st, body = qhvtest.Client(self.server.port).get(path)
        self.assertEqual(st, 401, body)
        self.assertEqual(body['NeutronError']['type'], 'HTTPUnauthorized')
        # Another host's token cannot read hv1's plan or report for it.
        other = self.agent('hv2')
        self.assertEqual(other.get(path)[0], 401)
        self.assertEqual(other.post('/channel/v1/hosts/hv1/report', {'agent': {}})[0], 401)
        self.assertEqual(self.agent('hv1').get(path)[0], 200)
        # The shared secret itself is not a host token.
        raw = qhvtest.Client(self.server.port, {'X-Qhv-Agent-Token': 'test-secret'})
        self.assertEqual(raw.get(path)[0], 401)

    def test_bad_requests(self):
        a = self.agent('hv1')
        self.assertEqual(a.get('/channel/v1/hosts/hv1/plan?since=abc')[0], 400)
        self.assertEqual(a.get('/channel/v1/hosts/hv1/plan?since=1&wait=61')[0], 400)
        self.assertEqual(a.post('/channel/v1/hosts/hv1/report', {'nope': 1})[0], 400)
        st, body = a.request('POST', '/channel/v1/hosts/hv1/report', raw=b'{bad')
        self.assertEqual(st, 400)
        self.assertEqual(a.request('PUT', '/channel/v1/hosts/hv1/plan', body={})[0], 405)
        self.assertEqual(a.get('/channel/v1/hosts/hv1/bogus')[0], 404)
        st, body = a.post('/channel/v1/hosts/hv1/report', {
            'agent': {'configurations': {}}, 'ports': [{'id': 'x', 'status': 'UP'}]})
        self.assertEqual(st, 400, body)

    def test_status_is_admin_only(self):
        st, body = self.client('proj-a').get('/channel/v1/status')
        self.assertEqual(st, 403, body)
        self.assertEqual(self.get('/channel/v1/status')[0], 200)


class DisabledChannelTest(qhvtest.ServerTestCase):
    def test_no_secret_no_channel(self):
        c = qhvtest.Client(self.server.port, {'X-Qhv-Agent-Token': 'x' * 64})
        st, body = c.get('/channel/v1/hosts/hv1/plan')
        self.assertEqual(st, 401)
        self.assertIn('auth_token', body['NeutronError']['message'])


class AgentsAndBindingTest(ChannelCase):
    def test_heartbeat_creates_agent_with_neutron_attributes(self):
        before = time.strftime('%Y-%m-%d %H:%M', time.gmtime())
        self.report('hb1', pa='192.168.9.1')
        st, body = self.get('/v2.0/agents?host=hb1')
        self.assertEqual(st, 200)
        (a,) = body['agents']
        self.assertEqual(a['agent_type'], 'HyperV agent')
        self.assertEqual(a['binary'], 'qhv-agent')
        self.assertEqual(a['host'], 'hb1')
        self.assertTrue(a['alive'])
        self.assertTrue(a['admin_state_up'])
        self.assertEqual(a['configurations']['provider_address'], '192.168.9.1')
        self.assertTrue(a['heartbeat_timestamp'].startswith(before[:13]))
        for k in ('id', 'topic', 'created_at', 'started_at', 'availability_zone',
                  'resources_synced', 'description'):
            self.assertIn(k, a)
        # A second heartbeat refreshes the same agent.
        self.report('hb1', pa='192.168.9.1')
        self.assertEqual(len(self.get('/v2.0/agents?host=hb1')[1]['agents']), 1)
        self.assertEqual(self.get('/v2.0/agents?alive=true&host=hb1')[1]['agents'][0]['id'], a['id'])
        # Members see no agents.
        self.assertEqual(self.client('proj-x').get('/v2.0/agents')[1], {'agents': []})
        # Admins may change admin_state_up / description, and delete.
        st, body = self.put('/v2.0/agents/' + a['id'], {'agent': {'description': 'rack 3'}})
        self.assertEqual((st, body['agent']['description']), (200, 'rack 3'))
        st, body = self.put('/v2.0/agents/' + a['id'], {'agent': {'host': 'x'}})
        self.assertEqual(st, 400)

    def test_heartbeat_values_of_the_wrong_form_are_dropped(self):
        # What reaches another host's plan or a generated script keeps only
        # its form (docs/host-channel.md): the rest is dropped, not refused.
        conf = dict(HV_CONF)
        good = {'provider_interface': 'Ethernet 2', 'provider_interface_index': 13,
                'provider_prefix_length': 24, 'provider_vlan_id': 7,
                'provider_next_hop': '192.168.9.254', 'windows_version': '6.3.9600',
                'local_network_vswitch': 'private', 'tunnel_vswitch': 'ext sw'}
        conf.update(good)
        self.report('hv-ok', conf=conf, pa='192.168.9.5')
        c = self.get('/v2.0/agents?host=hv-ok')[1]['agents'][0]['configurations']
        for k, v in good.items():
            self.assertEqual(c[k], v, k)
        self.assertEqual(c['provider_address'], '192.168.9.5')
        conf.update({'provider_interface': "x'; Remove-Item C:\\ -Recurse; '",
                     'provider_interface_index': -1, 'provider_prefix_length': 129,
                     'provider_vlan_id': 4095, 'provider_next_hop': '1.2.3.4; rm',
                     'windows_version': '10.0 $(evil)', 'tunnel_vswitch': 'a\nb',
                     'vswitch_mappings': ['physnet*:external', 'p:x\u2019y', 'p:\u0007'],
                     'backend_capabilities': {'windows_version': "6.3'"},
                     'port_problems': 'many',
                     'port_problem_details': [
                         {'port_id': 'p1', 'status': 'DOWN', 'problem': 'held'},
                         {'port_id': 'p 2', 'status': 'DOWN', 'problem': 'bad id'},
                         {'port_id': 'p3', 'status': 'UP', 'problem': 'bad status'},
                         {'port_id': 'p4', 'status': 'DOWN', 'problem': 'x' * 256},
                         {'port_id': 'p5', 'status': 'DOWN', 'problem': 'ctl\u0001'}]})
        self.report('hv-bad', conf=conf, pa='not-an-address')
        c = self.get('/v2.0/agents?host=hv-bad')[1]['agents'][0]['configurations']
        for k in ('provider_interface', 'provider_interface_index', 'provider_prefix_length',
                  'provider_vlan_id', 'provider_next_hop', 'windows_version', 'tunnel_vswitch',
                  'provider_address', 'port_problems'):
            self.assertNotIn(k, c)
        self.assertNotIn('windows_version', c['backend_capabilities'])
        self.assertEqual(c['vswitch_mappings'], ['physnet*:external'])
        self.assertEqual(c['local_network_vswitch'], 'private')
        self.assertEqual(c['port_problem_details'],
                         [{'port_id': 'p1', 'status': 'DOWN', 'problem': 'held'}])
        # A MAC is a provider interface too.
        for mac in ('00-15-5D-01-02-03', '00:15:5d:01:02:03'):
            conf = dict(HV_CONF, provider_interface=mac)
            self.report('hv-mac', conf=conf)
            c = self.get('/v2.0/agents?host=hv-mac')[1]['agents'][0]['configurations']
            self.assertEqual(c['provider_interface'], mac)

    def test_an_agent_is_trusted_with_its_own_host_only(self):
        # A hostile agent's words reach neither another host's plan nor the
        # PowerShell qhvctl explain prints, nor the binding Nova reads.
        evil_pa = '192.0.2.1; Start-Process calc.exe #'
        self.report('tr-peer', pa='192.168.78.2')
        conf = dict(HV_CONF, vif_type='evil', backend='x; calc.exe',
                    network_types=['nvgre', 'evil', 'vlan', 'nvgre', 7],
                    vswitch_mappings=['physnet*:external', 'no-colon'],
                    port_filter='yes', applied_revision=-1, calc='calc.exe',
                    backend_capabilities={'hnv_v1': True, 'windows_version': '6.3.9600',
                                          'network_types': ['nvgre', 'calc.exe'],
                                          'nested': {'x': 'calc.exe'}, 'Bad-Key': 1,
                                          'problem': 'p' * 1025})
        self.report('tr-bad', conf=conf, pa=evil_pa)
        c = self.get('/v2.0/agents?host=tr-bad')[1]['agents'][0]['configurations']
        for k in ('vif_type', 'backend', 'provider_address', 'port_filter', 'applied_revision',
                  'calc'):
            self.assertNotIn(k, c)
        self.assertEqual(c['network_types'], ['nvgre', 'vlan'])
        self.assertEqual(c['vswitch_mappings'], ['physnet*:external'])
        self.assertEqual(c['backend_capabilities'], {'hnv_v1': True, 'windows_version': '6.3.9600'})
        net = self.net(name='tr-nv', **{'provider:network_type': 'nvgre'})
        self.make_subnet(net['id'], '10.71.0.0/24')
        peer = self.make_port(net['id'], **{'binding:host_id': 'tr-peer'})
        evil = self.make_port(net['id'], **{'binding:host_id': 'tr-bad'})
        self.assertEqual(peer['binding:vif_type'], 'hyperv')
        # No vif_type of the known set: the port is not bound (Nova plugs nothing).
        self.assertEqual(evil['binding:vif_type'], 'binding_failed')
        # A valid vif_type but a hostile provider address: bound, and its
        # address is in no plan.
        self.report('tr-bad', conf=dict(HV_CONF), pa=evil_pa)
        st, body = self.get('/v2.0/ports/' + evil['id'])
        self.assertEqual(body['port']['binding:vif_type'], 'hyperv')
        for host in ('tr-peer', 'tr-bad'):
            text = json.dumps(self.plan(host))
            for bad in ('calc', 'evil', '192.0.2.1'):
                self.assertNotIn(bad, text, host)
        # qhvctl explain of either host: no trace of it.
        from test_agent_dummy import QHVCTL
        for host in ('tr-peer', 'tr-bad'):
            ex = subprocess.run([QHVCTL, '--url', 'http://127.0.0.1:%d' % self.server.port,
                                 'explain', host, '--token', self.token(host)],
                                capture_output=True, text=True)
            self.assertEqual(ex.returncode, 0, ex.stderr)
            self.assertIn('Get-QhvNic', ex.stdout)
            for bad in ('calc', 'evil', '192.0.2.1'):
                self.assertNotIn(bad, ex.stdout, host)

    def test_report_fields_are_checked(self):
        # What names the agent in /v2.0/agents is refused when wrong (400)
        # and changes nothing.
        a = self.agent('rf1')
        base = {'agent_type': 'HyperV agent', 'binary': 'qhv-agent', 'host': 'rf1',
                'configurations': dict(HV_CONF)}
        st, body = a.post('/channel/v1/hosts/rf1/report', {'agent': base})
        self.assertEqual(st, 200, body)
        for bad in ({'agent_type': 'calc.exe'}, {'binary': 'neutron-ovs-agent'},
                    {'host': 'rf2'}, {'agent_type': 7}, {'start_flag': 'yes'}):
            with self.subTest(bad=bad):
                st, body = a.post('/channel/v1/hosts/rf1/report', {'agent': dict(base, **bad)})
                self.assertEqual(st, 400, body)
                self.assertEqual(body['NeutronError']['type'], 'HTTPBadRequest')
        for ports in ([{'id': 'a b', 'status': 'ACTIVE'}], [{'id': 'x' * 65, 'status': 'DOWN'}],
                      [{'id': 7, 'status': 'DOWN'}], ['x']):
            with self.subTest(ports=ports):
                st, body = a.post('/channel/v1/hosts/rf1/report', {'agent': base, 'ports': ports})
                self.assertEqual(st, 400, body)
        (ag,) = self.get('/v2.0/agents?host=rf1')[1]['agents']
        self.assertEqual((ag['agent_type'], ag['binary'], ag['host']),
                         ('HyperV agent', 'qhv-agent', 'rf1'))
        self.assertEqual(self.get('/v2.0/agents?host=rf2')[1]['agents'], [])
        # Open vSwitch agents are agents too.
        st, body = a.post('/channel/v1/hosts/rf1/report', {'agent': dict(
            base, agent_type='Open vSwitch agent', configurations=dict(HV_CONF, vif_type='ovs',
                                                                       backend='ovs'))})
        self.assertEqual(st, 200, body)
        c = self.get('/v2.0/agents?host=rf1')[1]['agents'][0]['configurations']
        self.assertEqual((c['vif_type'], c['backend']), ('ovs', 'ovs'))

    def test_port_problems_are_kept_per_agent(self):
        self.report('hv-pp')
        before = self.plan('hv-pp')['plan']
        conf = dict(HV_CONF, port_problems=1, port_problem_details=[
            {'port_id': 'p1', 'status': 'DOWN', 'problem': 'held by a foreign object'}])
        self.report('hv-pp', conf=conf)
        self.assertEqual(self.plan('hv-pp')['plan'], before)
        c = self.get('/v2.0/agents?host=hv-pp')[1]['agents'][0]['configurations']
        self.assertEqual(c['port_problems'], 1)
        self.assertEqual(c['port_problem_details'][0]['problem'], 'held by a foreign object')
        self.report('hv-pp', conf=dict(HV_CONF, port_problems=0, port_problem_details=[]))
        c = self.get('/v2.0/agents?host=hv-pp')[1]['agents'][0]['configurations']
        self.assertEqual((c['port_problems'], c['port_problem_details']), (0, []))

    def test_binding_follows_the_live_agent(self):
        net = self.net(name='b-vlan', **{'provider:network_type': 'vlan',
                                        'provider:physical_network': 'physnet1',
                                        'provider:segmentation_id': 3100})
        self.make_subnet(net['id'], '10.61.0.0/24')
        early = self.make_port(net['id'], **{'binding:host_id': 'bind1'})
        self.assertEqual(early['binding:vif_type'], 'binding_failed')
        self.report('bind1')
        st, body = self.get('/v2.0/ports/' + early['id'])
        self.assertEqual(body['port']['binding:vif_type'], 'hyperv')
        self.assertEqual(body['port']['binding:vif_details'], {'port_filter': True})
        p = self.make_port(net['id'], port_security_enabled=False, security_groups=[],
                           **{'binding:host_id': 'bind1'})
        self.assertEqual(p['binding:vif_details'], {'port_filter': False})
        # An agent that maps no physnet1 (or lacks vlan) can't bind it.
        self.report('bind2', conf=dict(HV_CONF, vswitch_mappings=['other:x']))
        q = self.make_port(net['id'], **{'binding:host_id': 'bind2'})
        self.assertEqual(q['binding:vif_type'], 'binding_failed')
        self.report('bind2', conf=dict(HV_CONF, vswitch_mappings=['other:x', 'phys*:y']))
        self.assertEqual(self.get('/v2.0/ports/' + q['id'])[1]['port']['binding:vif_type'],
                         'hyperv')
        self.report('bind3', conf=dict(HV_CONF, network_types=['nvgre'], vif_type='ovs'))
        r = self.make_port(net['id'], **{'binding:host_id': 'bind3'})
        self.assertEqual(r['binding:vif_type'], 'binding_failed')
        # Moving a port to a host re-binds it; clearing the host unbinds it.
        st, body = self.put('/v2.0/ports/' + r['id'], {'port': {'binding:host_id': 'bind1'}})
        self.assertEqual(body['port']['binding:vif_type'], 'hyperv')
        st, body = self.put('/v2.0/ports/' + r['id'], {'port': {'binding:host_id': ''}})
        self.assertEqual(body['port']['binding:vif_type'], 'unbound')

    def test_port_status_from_its_host_only(self):
        net = self.net(name='st-net')
        self.make_subnet(net['id'], '10.62.0.0/24')
        self.report('st1')
        self.report('st2')
        p = self.make_port(net['id'], **{'binding:host_id': 'st1'})
        self.assertEqual(p['status'], 'DOWN')
        self.report('st2', ports=[{'id': p['id'], 'status': 'ACTIVE'}])
        self.assertEqual(self.get('/v2.0/ports/' + p['id'])[1]['port']['status'], 'DOWN')
        self.report('st1', ports=[{'id': p['id'], 'status': 'ACTIVE'}])
        got = self.get('/v2.0/ports/' + p['id'])[1]['port']
        self.assertEqual(got['status'], 'ACTIVE')
        self.assertEqual(got['revision_number'], p['revision_number'] + 1)
        self.report('st1', ports=[{'id': p['id'], 'status': 'DOWN'},
                                  {'id': '00000000-0000-0000-0000-000000000000',
                                   'status': 'ACTIVE'}])
        self.assertEqual(self.get('/v2.0/ports/' + p['id'])[1]['port']['status'], 'DOWN')


class PlanTest(ChannelCase):
    def test_plan_contents_two_hosts_nvgre(self):
        self.report('pa', pa='192.168.77.1')
        self.report('pb', pa='192.168.77.2')
        net = self.net(name='pl-nv', **{'provider:network_type': 'nvgre',
                                       'provider:segmentation_id': 7777})
        sub = self.make_subnet(net['id'], '10.70.0.0/24')
        web = self.post('/v2.0/security-groups', {'security_group': {'name': 'pl-web'}})[1]
        sg = web['security_group']['id']
        st, rule = self.post('/v2.0/security-group-rules', {'security_group_rule': {
            'security_group_id': sg, 'direction': 'ingress', 'protocol': 'tcp',
            'port_range_min': 80, 'port_range_max': 80, 'remote_group_id': sg}})
        self.assertEqual(st, 201)
        a = self.make_port(net['id'], security_groups=[sg], **{'binding:host_id': 'pa'})
        b = self.make_port(net['id'], security_groups=[sg], **{'binding:host_id': 'pb'})
        unbound = self.make_port(net['id'])
        out = self.plan('pa')
        plan = out['plan']
        self.assertEqual(set(plan), {'ports', 'networks', 'security_groups', 'address_sets',
                                     'lookup_records', 'customer_routes', 'provider_addresses',
                                     'dhcp_networks', 'dhcp_hosts'})
        self.assertEqual(list(plan['ports']), [a['id']])
        pp = plan['ports'][a['id']]
        self.assertEqual(pp['mac_address'], a['mac_address'])
        self.assertEqual(pp['fixed_ips'], a['fixed_ips'])
        self.assertEqual(pp['security_groups'], [sg])
        self.assertEqual(pp['vif_type'], 'hyperv')
        n = plan['networks'][net['id']]
        self.assertEqual((n['network_type'], n['segmentation_id'], n['mtu']), ('nvgre', 7777, 1458))
        self.assertEqual([s['cidr'] for s in n['subnets']], ['10.70.0.0/24'])
        rules = plan['security_groups'][sg]['rules']
        self.assertIn(rule['security_group_rule']['id'], [r['id'] for r in rules])
        ips = sorted(p['fixed_ips'][0]['ip_address'] for p in (a, b))
        self.assertEqual(sorted(plan['address_sets'][sg]), ips)
        recs = plan['lookup_records']
        self.assertEqual(len(recs), 2)   # the unbound port is nowhere
        by_host = {r['host']: r for r in recs.values()}
        self.assertEqual(by_host['pa']['provider_address'], '192.168.77.1')
        self.assertEqual(by_host['pb']['provider_address'], '192.168.77.2')
        self.assertEqual(by_host['pb']['customer_address'], b['fixed_ips'][0]['ip_address'])
        self.assertEqual(by_host['pb']['mac_address'], b['mac_address'])
        self.assertEqual({r['rule'] for r in recs.values()}, {'encap'})
        self.assertEqual({r['vsid'] for r in recs.values()}, {7777})
        routes = {(r['destination'], r['next_hop']) for r in plan['customer_routes'].values()}
        self.assertEqual(routes, {('10.70.0.0/24', '0.0.0.0'), ('0.0.0.0/0', sub['gateway_ip'])})
        self.assertEqual({r['routing_domain'] for r in plan['customer_routes'].values()},
                         {net['id']})
        self.assertEqual(list(plan['provider_addresses']), ['192.168.77.1'])
        self.assertNotIn(unbound['id'], json.dumps(plan))
        self.assertFeedIsFresh('pa')
        self.assertFeedIsFresh('pb')

    def test_address_sets_hold_each_members_addresses_once(self):
        """A group's set: every fixed IP (both families) and allowed address
        pair of its members, bound or not, sorted, each once; it follows
        updates and leaves."""
        self.report('as1', pa='192.168.78.1')
        net = self.net(name='as-net')
        v4 = self.make_subnet(net['id'], '10.72.0.0/24')
        v6 = self.make_subnet(net['id'], 'fd72::/64', ip_version=6)
        sg = self.post('/v2.0/security-groups', {'security_group': {'name': 'as'}})[1]
        sg = sg['security_group']['id']
        self.assertEqual(self.post('/v2.0/security-group-rules', {'security_group_rule': {
            'security_group_id': sg, 'direction': 'ingress', 'remote_group_id': sg}})[0], 201)
        bound = self.make_port(net['id'], security_groups=[sg], **{'binding:host_id': 'as1'})
        both = self.make_port(net['id'], security_groups=[sg], fixed_ips=[
            {'subnet_id': v4['id']}, {'subnet_id': v6['id']}],
            allowed_address_pairs=[{'ip_address': '10.72.9.0/24'},
                                   {'ip_address': '10.72.0.200'}])
        # A pair that is also a fixed IP of another member: once in the set.
        dup = self.make_port(net['id'], security_groups=[sg], allowed_address_pairs=[
            {'ip_address': both['fixed_ips'][0]['ip_address']}])
        self.make_port(net['id'])   # not a member

        def want(*ports, extra=()):
            return sorted({f['ip_address'] for p in ports for f in p['fixed_ips']} | set(extra))
        self.assertEqual(self.plan('as1')['plan']['address_sets'][sg],
                         want(bound, both, dup, extra=('10.72.9.0/24', '10.72.0.200')))
        # Pairs dropped, an address changed, a member gone.
        st, out = self.put('/v2.0/ports/' + both['id'], {'port': {
            'allowed_address_pairs': [], 'fixed_ips': [{'subnet_id': v4['id'],
                                                        'ip_address': '10.72.0.77'}]}})
        self.assertEqual(st, 200, out)
        both = out['port']
        self.assertEqual(self.delete('/v2.0/ports/' + dup['id'])[0], 204)
        self.assertEqual(self.plan('as1')['plan']['address_sets'][sg], want(bound, both))
        self.assertEqual([f['ip_address'] for f in both['fixed_ips']], ['10.72.0.77'])
        self.assertFeedIsFresh('as1')

    def test_ip_rewrite_provider_addresses(self):
        self.report('hv1', pa='192.168.90.1')
        net = self.net(name='rw', **{'provider:network_type': 'ip_rewrite'})
        self.make_subnet(net['id'], '10.71.0.0/24')
        ports = [self.make_port(net['id'], **{'binding:host_id': 'hv1'}) for _ in range(6)]
        # The /29 pool has 6 addresses; a 7th port can't be carried.
        st, body = self.post('/v2.0/ports', {'port': {'network_id': net['id'],
                                                      'binding:host_id': 'hv1'}})
        self.assertEqual(st, 409, body)
        self.assertEqual(body['NeutronError']['type'], 'IpAddressGenerationFailure')
        plan = self.plan('hv1')['plan']
        pas = sorted(r['provider_address'] for r in plan['lookup_records'].values())
        self.assertEqual(pas, ['192.168.200.%d' % i for i in range(1, 7)])
        self.assertEqual({r['rule'] for r in plan['lookup_records'].values()}, {'rewrite'})
        self.assertEqual(sorted(plan['provider_addresses']), pas)
        # Deleting a port frees its provider address for the next one.
        self.assertEqual(self.delete('/v2.0/ports/' + ports[0]['id'])[0], 204)
        self.make_port(net['id'], **{'binding:host_id': 'hv1'})
        self.assertEqual(len(self.plan('hv1')['plan']['lookup_records']), 6)
        self.assertFeedIsFresh('hv1')


def apply_delta(plan, delta):
    for section, change in delta.items():
        sec = plan.setdefault(section, {})
        for key in change.get('removed', []):
            sec.pop(key, None)
        sec.update(change.get('set', {}))
    return plan


class WatchTest(ChannelCase):
    def watch(self, host, since, wait, results):
        t0 = time.time()
        out = self.plan(host, '?since=%d&wait=%d' % (since, wait))
        results[host] = (time.time() - t0, out)

    def test_wakes_only_the_hosts_a_change_concerns(self):
        for h, pa in (('w1', '192.168.80.1'), ('w2', '192.168.80.2'), ('w3', '192.168.80.3')):
            self.report(h, pa=pa)
        nv = self.net(name='w-nv', **{'provider:network_type': 'nvgre'})
        self.make_subnet(nv['id'], '10.80.0.0/24')
        vl = self.net(name='w-vl', **{'provider:network_type': 'vlan',
                                     'provider:physical_network': 'physnet1',
                                     'provider:segmentation_id': 3201})
        self.make_subnet(vl['id'], '10.81.0.0/24')
        # Ports without security groups: no remote-group address sets link hosts.
        plain = dict(port_security_enabled=False, security_groups=[])
        self.make_port(nv['id'], **dict(plain, **{'binding:host_id': 'w1'}))
        self.make_port(nv['id'], **dict(plain, **{'binding:host_id': 'w2'}))
        self.make_port(vl['id'], **dict(plain, **{'binding:host_id': 'w3'}))
        base = {h: self.plan(h) for h in ('w1', 'w2', 'w3')}

        # A new port on the nvgre network at w2: w1 (lookup record) and w2 wake, w3 doesn't.
        results = {}
        threads = [threading.Thread(target=self.watch, args=(h, base[h]['revision'], 3, results))
                   for h in ('w1', 'w2', 'w3')]
        for t in threads:
            t.start()
        time.sleep(0.3)
        t_change = time.time()
        newp = self.make_port(nv['id'], **dict(plain, **{'binding:host_id': 'w2'}))
        for t in threads:
            t.join()
        for h in ('w1', 'w2'):
            took, out = results[h]
            self.assertLess(took - 0.3, 1.5, h)
            self.assertIn('lookup_records', out['delta'], h)
            self.assertGreater(out['revision'], base[h]['revision'])
        self.assertIn(newp['id'], results['w2'][1]['delta']['ports']['set'])
        self.assertNotIn('ports', results['w1'][1]['delta'])
        took, out = results['w3']
        self.assertGreaterEqual(took, 2.9)
        self.assertEqual(out['delta'], {})
        del t_change

        # Deltas applied to the first plans give the fresh plans.
        for h in ('w1', 'w2', 'w3'):
            got = self.plan(h, '?since=%d&wait=0' % base[h]['revision'])
            self.assertEqual(apply_delta(base[h]['plan'], got['delta']),
                             self.plan(h, '?fresh=1')['plan'], h)

        # Deleting it: "removed" at w2 and w1.
        w2 = self.plan('w2')
        self.assertEqual(self.delete('/v2.0/ports/' + newp['id'])[0], 204)
        out = self.plan('w2', '?since=%d&wait=5' % w2['revision'])
        self.assertIn(newp['id'], out['delta']['ports']['removed'])
        for h in ('w1', 'w2', 'w3'):
            self.assertFeedIsFresh(h)

    def test_security_group_changes_reach_member_hosts_only(self):
        self.report('g1')
        self.report('g2')
        net = self.net(name='g-vl', **{'provider:network_type': 'vlan',
                                      'provider:physical_network': 'physnet1',
                                      'provider:segmentation_id': 3202})
        self.make_subnet(net['id'], '10.82.0.0/24')
        sga = self.post('/v2.0/security-groups', {'security_group': {'name': 'g-a'}})[1]['security_group']
        sgb = self.post('/v2.0/security-groups', {'security_group': {'name': 'g-b'}})[1]['security_group']
        self.make_port(net['id'], security_groups=[sga['id']], **{'binding:host_id': 'g1'})
        self.make_port(net['id'], security_groups=[sgb['id']], **{'binding:host_id': 'g2'})
        p1, p2 = self.plan('g1'), self.plan('g2')
        results = {}
        threads = [threading.Thread(target=self.watch, args=('g1', p1['revision'], 2, results)),
                   threading.Thread(target=self.watch, args=('g2', p2['revision'], 2, results))]
        for t in threads:
            t.start()
        time.sleep(0.3)
        # A rule in group A: only g1 has ports in A.
        st, _ = self.post('/v2.0/security-group-rules', {'security_group_rule': {
            'security_group_id': sga['id'], 'direction': 'ingress', 'protocol': 'udp',
            'port_range_min': 53, 'port_range_max': 53, 'remote_group_id': sgb['id']}})
        self.assertEqual(st, 201)
        for t in threads:
            t.join()
        self.assertIn('security_groups', results['g1'][1]['delta'])
        self.assertIn(sgb['id'], results['g1'][1]['delta']['address_sets']['set'])
        self.assertEqual(results['g2'][1]['delta'], {})
        # Membership: a new member of B changes g1's address set for B (remote group).
        g1 = self.plan('g1')
        self.make_port(net['id'], security_groups=[sgb['id']], **{'binding:host_id': 'g2'})
        out = self.plan('g1', '?since=%d&wait=5' % g1['revision'])
        self.assertEqual(len(out['delta']['address_sets']['set'][sgb['id']]), 2)
        for h in ('g1', 'g2'):
            self.assertFeedIsFresh(h)

    def test_deltas_compose_and_too_far_behind_is_the_full_plan(self):
        # The feed keeps 64 deltas per host (src/server/feed.c): within them
        # a watch composes every delta since its revision; further behind it
        # gets the whole plan. Each change is followed by a read so that the
        # feed records it as a delta of its own.
        self.report('r1')
        net = self.net(name='r-vl', **{'provider:network_type': 'vlan',
                                      'provider:physical_network': 'physnet1',
                                      'provider:segmentation_id': 3203})
        self.make_subnet(net['id'], '10.85.0.0/24')
        port = self.make_port(net['id'], **{'binding:host_id': 'r1'})
        plans = [self.plan('r1')]
        for i in range(70):
            st, body = self.put('/v2.0/ports/' + port['id'],
                                {'port': {'admin_state_up': i % 2 == 1}})
            self.assertEqual(st, 200, body)
            plans.append(self.plan('r1'))
        revs = [p['revision'] for p in plans]
        self.assertEqual(len(set(revs)), len(revs))
        fresh = self.plan('r1', '?fresh=1')['plan']
        self.assertEqual(plans[-1]['plan'], fresh)
        out = self.plan('r1', '?since=%d&wait=0' % revs[0])
        self.assertNotIn('delta', out)
        self.assertEqual(out['plan'], fresh)
        for k in (10, 40, 69):
            out = self.plan('r1', '?since=%d&wait=0' % revs[k])
            self.assertEqual(out['since'], revs[k])
            self.assertEqual(list(out['delta']), ['ports'])
            self.assertEqual(apply_delta(plans[k]['plan'], out['delta']), fresh, k)

    def test_unknown_revision_gets_the_full_plan(self):
        self.report('u1')
        out = self.plan('u1', '?since=999999&wait=0')
        self.assertIn('plan', out)
        out = self.plan('u1', '?since=0&wait=0')
        self.assertIn('plan', out)

    def test_status_tracks_applied_revisions(self):
        self.report('s1')
        net = self.net(name='s-net')
        self.make_subnet(net['id'], '10.83.0.0/24')
        self.make_port(net['id'], **{'binding:host_id': 's1'})
        rev = self.plan('s1')['revision']
        hosts = {h['host']: h for h in self.get('/channel/v1/status')[1]['hosts']}
        self.assertFalse(hosts['s1']['in_sync'])
        self.report('s1', conf=dict(HV_CONF, applied_revision=rev))
        hosts = {h['host']: h for h in self.get('/channel/v1/status')[1]['hosts']}
        self.assertTrue(hosts['s1']['in_sync'])
        self.assertEqual(hosts['s1']['applied_revision'], rev)


    def test_status_knows_a_plan_by_its_digest(self):
        # A server that first computes a host's plan after its last change
        # (the agent got it from another server) knows it only since then:
        # the agent's applied_digest says it holds that very plan.
        self.report('d1')
        net = self.net(name='d-net')
        self.make_subnet(net['id'], '10.84.0.0/24')
        self.make_port(net['id'], **{'binding:host_id': 'd1'})
        hosts = {h['host']: h for h in self.get('/channel/v1/status')[1]['hosts']}
        first = hosts['d1']['plan_revision']        # when this server first computed it
        plan = self.plan('d1')['plan']
        earlier = first - 1                         # what another server had called it
        self.report('d1', conf=dict(HV_CONF, applied_revision=earlier,
                                    applied_digest=plan_digest(plan)))
        hosts = {h['host']: h for h in self.get('/channel/v1/status')[1]['hosts']}
        self.assertEqual(hosts['d1']['plan_revision'], first)
        self.assertEqual(hosts['d1']['applied_revision'], earlier)
        self.assertTrue(hosts['d1']['in_sync'])
        # Another plan's digest, a malformed one, none: by revision only.
        wrong = '%016x' % ((int(plan_digest(plan), 16) + 1) % 2**64)
        for digest in (wrong, 'XYZ', plan_digest(plan).upper(), None):
            conf = dict(HV_CONF, applied_revision=earlier)
            if digest:
                conf['applied_digest'] = digest
            self.report('d1', conf=conf)
            hosts = {h['host']: h for h in self.get('/channel/v1/status')[1]['hosts']}
            self.assertFalse(hosts['d1']['in_sync'], digest)
        agent = self.get('/v2.0/agents?host=d1')[1]['agents'][0]
        self.assertNotIn('applied_digest', agent['configurations'])


def plan_digest(plan):
    """The plan's digest as qtm_digest (src/lib/textmap.c) makes it,
    written again here from its description: per (section, key, value as
    compact JSON), FNV-1a 64 over 'section NUL key NUL value', splitmix64's
    finalizer, summed mod 2^64."""
    m64 = 2**64 - 1
    total = 0
    for section, entries in plan.items():
        for key, value in entries.items():
            h = 0xcbf29ce484222325
            data = (section.encode() + b'\0' + key.encode() + b'\0' +
                    json.dumps(value, separators=(',', ':'), ensure_ascii=False).encode())
            for byte in data:
                h = ((h ^ byte) * 0x100000001b3) & m64
            h ^= h >> 30
            h = (h * 0xbf58476d1ce4e5b9) & m64
            h ^= h >> 27
            h = (h * 0x94d049bb133111eb) & m64
            h ^= h >> 31
            total = (total + h) & m64
    return '%016x' % total


class RingBudgetTest(ChannelCase):
    extra_conf = CHANNEL_CONF + '[quotas]\nquota_security_group_rule = -1\n'

    def test_the_ring_keeps_at_most_a_mebibyte_of_deltas(self):
        # Besides 64 deltas, a host's ring holds at most 1 MiB of delta text
        # (src/server/feed.c): a group of 600 rules is about 120 KB in a
        # plan, and every rule added sends it whole, so ten changes are more
        # than the ring keeps although far fewer than 64.
        self.report('b1')
        net = self.net(name='b-vl', **{'provider:network_type': 'vlan',
                                      'provider:physical_network': 'physnet1',
                                      'provider:segmentation_id': 3204})
        self.make_subnet(net['id'], '10.86.0.0/24')
        st, body = self.post('/v2.0/security-groups', {'security_group': {'name': 'b-big'}})
        self.assertEqual(st, 201, body)
        sg = body['security_group']['id']

        def rule(i):
            return {'security_group_id': sg, 'direction': 'ingress', 'protocol': 'tcp',
                    'port_range_min': 1000 + i, 'port_range_max': 1000 + i,
                    'remote_ip_prefix': '10.%d.%d.0/24' % (100 + i // 250, i % 250)}
        for k in range(0, 600, 200):    # a request body is at most 112 KiB
            st, body = self.post('/v2.0/security-group-rules',
                                 {'security_group_rules': [rule(i) for i in range(k, k + 200)]})
            self.assertEqual(st, 201, str(body)[:300])
        self.make_port(net['id'], security_groups=[sg], **{'binding:host_id': 'b1'})
        plans = [self.plan('b1')]
        self.assertGreater(len(json.dumps(plans[0]['plan']['security_groups'])), 100000)
        for i in range(600, 610):
            st, body = self.post('/v2.0/security-group-rules', {'security_group_rule': rule(i)})
            self.assertEqual(st, 201, body)
            plans.append(self.plan('b1'))
        fresh = self.plan('b1', '?fresh=1')['plan']
        # Ten deltas of ~120 KB: the oldest no longer fit.
        out = self.plan('b1', '?since=%d&wait=0' % plans[0]['revision'])
        self.assertFalse('delta' in out, 'a delta since %d: %d bytes' % (
            plans[0]['revision'], len(json.dumps(out))))
        self.assertEqual(out['plan'], fresh)
        # The last five do.
        out = self.plan('b1', '?since=%d&wait=0' % plans[5]['revision'])
        self.assertEqual(list(out['delta']), ['security_groups'])
        self.assertEqual(apply_delta(plans[5]['plan'], out['delta']), fresh)


class DeadAgentTest(ChannelCase):
    extra_conf = CHANNEL_CONF.replace('agent_down_time = 75', 'agent_down_time = 2')

    def test_agent_dies_without_heartbeats(self):
        self.report('d1')
        net = self.net(name='d-net')
        self.make_subnet(net['id'], '10.84.0.0/24')
        self.assertEqual(self.make_port(net['id'], **{'binding:host_id': 'd1'})
                         ['binding:vif_type'], 'hyperv')
        time.sleep(3.2)
        (a,) = self.get('/v2.0/agents?host=d1')[1]['agents']
        self.assertFalse(a['alive'])
        self.assertEqual(self.get('/v2.0/agents?alive=false&host=d1')[1]['agents'][0]['id'], a['id'])
        self.assertEqual(self.make_port(net['id'], **{'binding:host_id': 'd1'})
                         ['binding:vif_type'], 'binding_failed')
        self.report('d1')
        self.assertTrue(self.get('/v2.0/agents?host=d1')[1]['agents'][0]['alive'])


if __name__ == '__main__':
    unittest.main()
