"""Network nodes, server side (issue 14), driven by fake agents on the host
channel: a report with "dhcp": true makes the host's "DHCP agent" row;
networks with a DHCP-enabled subnet get dhcp_agents_per_network
network:dhcp ports named as Neutron names them, with an address on every
DHCP-enabled subnet; the ports follow subnets (enable_dhcp toggled, subnet
and network deleted) and agents (removed, dead); the DHCP node's plan holds
dhcp_networks and dhcp_hosts, every host's networks their dhcp_servers; and
extra_dhcp_opts behave as Neutron's. Every scenario ends with the feed equal
to a full recompute."""
import threading
import time
import unittest
import uuid

import qhvtest

NODE_CONF = {'backend': 'dummy', 'vif_type': 'ovs',
             'network_types': ['local', 'flat', 'vlan', 'nvgre'],
             'vswitch_mappings': ['physnet*:br-ex'], 'port_filter': True}
HV_CONF = {'backend': 'dummy', 'vif_type': 'hyperv',
           'network_types': ['local', 'flat', 'vlan', 'nvgre'],
           'vswitch_mappings': ['physnet*:external'], 'port_filter': True}


def device_id(host, network_id):
    """Neutron's get_dhcp_agent_device_id."""
    return 'dhcp%s-%s' % (uuid.uuid5(uuid.NAMESPACE_DNS, host.split('.')[0]), network_id)


class DhcpCase(qhvtest.ServerTestCase):

    def agent(self, host):
        return qhvtest.Client(self.server.port,
                              {'X-Qhv-Agent-Token': self.server.agent_token(host)})

    def report(self, host, dhcp=True, conf=None, pa=None, start=False, status=200):
        c = dict(conf or NODE_CONF)
        if dhcp is not None:
            c['dhcp'] = dhcp
        if pa:
            c['provider_address'] = pa
        body = {'agent': {'agent_type': 'Open vSwitch agent' if c['vif_type'] == 'ovs'
                          else 'HyperV agent', 'binary': 'qhv-agent', 'configurations': c}}
        if start:
            body['agent']['start_flag'] = True
        st, out = self.agent(host).post('/channel/v1/hosts/%s/report' % host, body)
        self.assertEqual(st, status, out)
        return out

    def plan(self, host, fresh=False):
        st, out = self.agent(host).get('/channel/v1/hosts/%s/plan%s' %
                                       (host, '?fresh=1' if fresh else ''))
        self.assertEqual(st, 200, out)
        return out['plan']

    def assertFeedIsFresh(self, *hosts):
        for host in hosts:
            self.assertEqual(self.plan(host), self.plan(host, fresh=True), host)

    def dhcp_ports(self, network_id):
        st, body = self.get('/v2.0/ports?network_id=%s&device_owner=network:dhcp' % network_id)
        self.assertEqual(st, 200, body)
        return body['ports']

    def agents(self, host):
        st, body = self.get('/v2.0/agents?host=' + host)
        self.assertEqual(st, 200, body)
        return {a['agent_type']: a for a in body['agents']}

    def dhcp_net(self, name, cidr, **attrs):
        net = self.make_network(name=name, **attrs)
        sub = self.make_subnet(net['id'], cidr)
        return net, sub


class DhcpSchedulingTest(DhcpCase):
    extra_conf = """
[agent]
auth_token = dhcp-secret
agent_down_time = 75
[DEFAULT]
dhcp_lease_duration = 600
dns_domain = example.test
"""

    def test_a_network_before_any_node_is_scheduled_when_one_reports(self):
        net, sub = self.dhcp_net('d-early', '10.61.0.0/24',
                                 **{'provider:network_type': 'vlan',
                                    'provider:physical_network': 'physnet1'})
        self.assertEqual(self.dhcp_ports(net['id']), [])
        self.report('early-node', start=True)
        rows = self.agents('early-node')
        self.assertEqual(set(rows), {'Open vSwitch agent', 'DHCP agent'})
        d = rows['DHCP agent']
        self.assertEqual((d['binary'], d['topic'], d['host'], d['alive'],
                          d['admin_state_up']),
                         ('qhv-agent', 'dhcp_agent', 'early-node', True, True))
        self.assertNotIn('dhcp', rows['Open vSwitch agent']['configurations'])
        ports = self.dhcp_ports(net['id'])
        self.assertEqual(len(ports), 1, ports)
        p = ports[0]
        self.assertEqual(p['device_id'], device_id('early-node', net['id']))
        self.assertEqual((p['binding:host_id'], p['binding:vif_type'], p['device_owner'],
                          p['project_id'], p['security_groups'], p['status']),
                         ('early-node', 'ovs', 'network:dhcp', net['project_id'], [], 'DOWN'))
        self.assertEqual([f['subnet_id'] for f in p['fixed_ips']], [sub['id']])
        # The counts Neutron's DHCP agent reports, refreshed by heartbeats.
        self.report('early-node')
        conf = self.agents('early-node')['DHCP agent']['configurations']
        self.assertEqual((conf['networks'], conf['subnets'], conf['dhcp_lease_duration']),
                         (1, 1, 600))
        # Deleting the network takes its DHCP port along.
        st, body = self.delete('/v2.0/networks/' + net['id'])
        self.assertEqual(st, 204, body)
        self.assertError(self.get('/v2.0/ports/' + p['id']), 404, 'PortNotFound')
        self.assertFeedIsFresh('early-node')

    def test_dhcp_port_addresses_follow_the_subnets(self):
        self.report('nodeA')
        net = self.make_network(name='d-subnets', **{'provider:network_type': 'vlan',
                                                     'provider:physical_network': 'physnet1'})
        self.assertEqual(self.dhcp_ports(net['id']), [])   # no subnet yet
        off = self.make_subnet(net['id'], '10.62.9.0/24', enable_dhcp=False)
        self.assertEqual(self.dhcp_ports(net['id']), [])   # no DHCP-enabled subnet
        s4 = self.make_subnet(net['id'], '10.62.0.0/24')
        s6 = self.make_subnet(net['id'], 'fd00:62::/64', ipv6_ra_mode='dhcpv6-stateful',
                              ipv6_address_mode='dhcpv6-stateful')
        [p] = self.dhcp_ports(net['id'])
        self.assertEqual(sorted(f['subnet_id'] for f in p['fixed_ips']),
                         sorted([s4['id'], s6['id']]))
        v4 = [f['ip_address'] for f in p['fixed_ips'] if f['subnet_id'] == s4['id']][0]
        # DHCP turned on on a subnet: the port gains an address there; off:
        # loses it, keeping the others.
        st, body = self.put('/v2.0/subnets/' + off['id'], {'subnet': {'enable_dhcp': True}})
        self.assertEqual(st, 200, body)
        [p] = self.dhcp_ports(net['id'])
        self.assertIn(off['id'], [f['subnet_id'] for f in p['fixed_ips']])
        st, body = self.put('/v2.0/subnets/' + off['id'], {'subnet': {'enable_dhcp': False}})
        self.assertEqual(st, 200, body)
        [p] = self.dhcp_ports(net['id'])
        self.assertEqual(sorted(f['subnet_id'] for f in p['fixed_ips']),
                         sorted([s4['id'], s6['id']]))
        self.assertIn(v4, [f['ip_address'] for f in p['fixed_ips']])
        # A DHCP port never keeps a subnet from being deleted.
        st, body = self.delete('/v2.0/subnets/' + s6['id'])
        self.assertEqual(st, 204, body)
        [p2] = self.dhcp_ports(net['id'])
        self.assertEqual((p2['id'], [f['ip_address'] for f in p2['fixed_ips']]), (p['id'], [v4]))
        # The last DHCP-enabled subnet gone, so is the DHCP port.
        st, body = self.delete('/v2.0/subnets/' + s4['id'])
        self.assertEqual(st, 204, body)
        self.assertEqual(self.dhcp_ports(net['id']), [])
        self.assertFeedIsFresh('nodeA')


class DhcpPlanTest(DhcpCase):
    extra_conf = DhcpSchedulingTest.extra_conf

    def test_plans_of_the_node_and_of_a_vm_host(self):
        self.report('nodeP', pa='192.168.70.1')
        self.report('hvP', dhcp=None, conf=HV_CONF, pa='192.168.70.2')
        net = self.make_network(name='d-plan', **{'provider:network_type': 'nvgre'})
        sub = self.make_subnet(net['id'], '10.63.0.0/24', dns_nameservers=['10.63.0.53'],
                               host_routes=[{'destination': '10.99.0.0/16',
                                             'nexthop': '10.63.0.254'}])
        [dp] = self.dhcp_ports(net['id'])
        vm = self.make_port(net['id'], device_id='vm-p', device_owner='compute:nova',
                            **{'binding:host_id': 'hvP'})
        off = self.make_port(net['id'], admin_state_up=False, **{'binding:host_id': 'hvP'})
        node = self.plan('nodeP')
        self.assertIn(dp['id'], node['ports'])
        self.assertIn(net['id'], node['networks'])
        entry = node['dhcp_networks'][net['id']]
        self.assertEqual(entry, {
            'network_id': net['id'], 'project_id': net['project_id'], 'mtu': net['mtu'],
            'network_type': 'nvgre', 'segmentation_id': entry['segmentation_id'],
            'dns_domain': 'example.test', 'lease_seconds': 600,
            'port': {'id': dp['id'], 'mac_address': dp['mac_address'],
                     'fixed_ips': dp['fixed_ips']},
            'subnets': [{'id': sub['id'], 'cidr': '10.63.0.0/24', 'ip_version': 4,
                         'gateway_ip': '10.63.0.1', 'enable_dhcp': True,
                         'dns_nameservers': ['10.63.0.53'],
                         'host_routes': [{'destination': '10.99.0.0/16',
                                          'nexthop': '10.63.0.254'}],
                         'ipv6_ra_mode': None, 'ipv6_address_mode': None}]})
        ip = vm['fixed_ips'][0]['ip_address']
        self.assertEqual(node['dhcp_hosts']['%s/%s' % (net['id'], vm['id'])], {
            'network_id': net['id'], 'port_id': vm['id'], 'mac_address': vm['mac_address'],
            'fixed_ips': vm['fixed_ips'], 'hostname': 'host-' + ip.replace('.', '-'),
            'device_id': 'vm-p', 'device_owner': 'compute:nova',
            'project_id': vm['project_id'], 'extra_dhcp_opts': [], 'admin_state_up': True})
        self.assertFalse(node['dhcp_hosts']['%s/%s' % (net['id'], off['id'])]['admin_state_up'])
        self.assertEqual(len(node['dhcp_hosts']), 2)      # the DHCP port is not a host
        # The VM host: no DHCP sections, but where its network's servers are,
        # the DHCP port's lookup record and the metadata route via it.
        hv = self.plan('hvP')
        self.assertEqual((hv['dhcp_networks'], hv['dhcp_hosts']), ({}, {}))
        self.assertEqual(hv['networks'][net['id']]['dhcp_servers'],
                         [{'mac_address': dp['mac_address'],
                           'ip_addresses': [f['ip_address'] for f in dp['fixed_ips']]}])
        vsid = entry['segmentation_id']
        dip = dp['fixed_ips'][0]['ip_address']
        rec = hv['lookup_records']['%d/%s/%s' % (vsid, dip, dp['mac_address'])]
        self.assertEqual((rec['provider_address'], rec['host'], rec['port_id']),
                         ('192.168.70.1', 'nodeP', dp['id']))
        self.assertEqual(hv['customer_routes']['%d/169.254.169.254/32' % vsid], {
            'vsid': vsid, 'routing_domain': net['id'], 'destination': '169.254.169.254/32',
            'next_hop': dip})
        # A network without DHCP-enabled subnets: DHCP is not qhv's there,
        # no dhcp_servers (answers from an operator's DHCP server stay open).
        own = self.make_network(name='d-own-dhcp', **{'provider:network_type': 'vlan',
                                                      'provider:physical_network': 'physnet1'})
        self.make_subnet(own['id'], '10.63.50.0/24', enable_dhcp=False)
        self.make_port(own['id'], **{'binding:host_id': 'hvP'})
        self.assertNotIn('dhcp_servers', self.plan('hvP')['networks'][own['id']])
        self.assertEqual(self.dhcp_ports(own['id']), [])
        # A VM port's change reaches the node's dhcp_hosts through the feed
        # (to an address no port of the network has: they are random).
        st, body = self.get('/v2.0/ports?network_id=' + net['id'])
        used = {f['ip_address'] for p in body['ports'] for f in p['fixed_ips']}
        new_ip = next('10.63.0.%d' % i for i in range(77, 250) if '10.63.0.%d' % i not in used)
        st, body = self.put('/v2.0/ports/' + vm['id'], {'port': {'fixed_ips': [
            {'subnet_id': sub['id'], 'ip_address': new_ip}]}})
        self.assertEqual(st, 200, body)
        self.assertEqual(self.plan('nodeP')['dhcp_hosts']['%s/%s' % (net['id'], vm['id'])]
                         ['hostname'], 'host-' + new_ip.replace('.', '-'))
        # An admin taking the DHCP agent out of service: no DHCP sections.
        d = self.agents('nodeP')['DHCP agent']
        st, body = self.put('/v2.0/agents/' + d['id'], {'agent': {'admin_state_up': False}})
        self.assertEqual(st, 200, body)
        self.assertEqual(self.plan('nodeP')['dhcp_networks'], {})
        st, body = self.put('/v2.0/agents/' + d['id'], {'agent': {'admin_state_up': True}})
        self.assertEqual(st, 200, body)
        self.assertIn(net['id'], self.plan('nodeP')['dhcp_networks'])
        self.assertFeedIsFresh('nodeP', 'hvP')


class DhcpSpreadTest(DhcpCase):
    extra_conf = """
[agent]
auth_token = dhcp-secret
"""

    def test_networks_spread_over_nodes_and_leave_a_removed_one(self):
        self.report('spread1')
        self.report('spread2')
        nets = [self.dhcp_net('d-spread%d' % i, '10.64.%d.0/24' % i)[0] for i in range(4)]
        hosts = [self.dhcp_ports(n['id'])[0]['binding:host_id'] for n in nets]
        # Least loaded first.
        self.assertEqual(sorted(hosts), ['spread1', 'spread1', 'spread2', 'spread2'])
        before = {n['id']: self.dhcp_ports(n['id'])[0] for n in nets}
        d = self.agents('spread1')['DHCP agent']
        st, body = self.delete('/v2.0/agents/' + d['id'])
        self.assertEqual(st, 204, body)
        self.assertEqual(set(self.agents('spread1')), {'Open vSwitch agent'})
        for n in nets:
            [p] = self.dhcp_ports(n['id'])
            self.assertNotEqual(p['binding:host_id'], 'spread1')
            self.assertEqual(p['device_id'], device_id(p['binding:host_id'], n['id']))
            # Moved, not replaced: VMs keep their DHCP server's address.
            self.assertEqual((p['id'], p['fixed_ips']),
                             (before[n['id']]['id'], before[n['id']]['fixed_ips']))
        self.assertEqual(self.plan('spread1')['dhcp_networks'], {})
        self.assertFeedIsFresh('spread1', 'spread2')


class DhcpWireTest(DhcpCase):
    extra_conf = DhcpSpreadTest.extra_conf

    def test_only_nodes_that_can_wire_the_network(self):
        vlan_only = dict(NODE_CONF, network_types=['vlan'])
        self.report('wire-vlan', conf=vlan_only)
        self.report('wire-all')
        for i in range(2):
            net, sub = self.dhcp_net('d-wire%d' % i, '10.69.%d.0/24' % i,
                                     **{'provider:network_type': 'nvgre'})
            [p] = self.dhcp_ports(net['id'])
            self.assertEqual((p['binding:host_id'], p['binding:vif_type']), ('wire-all', 'ovs'))
        # A network that is down is not served (its port stays).
        st, body = self.put('/v2.0/networks/' + net['id'],
                            {'network': {'admin_state_up': False}})
        self.assertEqual(st, 200, body)
        self.assertNotIn(net['id'], self.plan('wire-all')['dhcp_networks'])
        self.assertEqual(len(self.dhcp_ports(net['id'])), 1)
        st, body = self.put('/v2.0/networks/' + net['id'], {'network': {'admin_state_up': True}})
        self.assertIn(net['id'], self.plan('wire-all')['dhcp_networks'])
        self.assertFeedIsFresh('wire-vlan', 'wire-all')


class DhcpPortAgainTest(DhcpCase):
    extra_conf = DhcpSpreadTest.extra_conf

    def test_a_deleted_dhcp_port_is_made_again_on_its_node(self):
        self.report('again1')
        self.report('again2')
        net, sub = self.dhcp_net('d-again', '10.70.0.0/24')
        [p] = self.dhcp_ports(net['id'])
        for _ in range(2):
            st, body = self.delete('/v2.0/ports/' + p['id'])
            self.assertEqual(st, 204, body)
            [q] = self.dhcp_ports(net['id'])
            self.assertNotEqual(q['id'], p['id'])
            self.assertEqual((q['binding:host_id'], q['device_id']),
                             (p['binding:host_id'], p['device_id']))
            p = q
        # Any other port goes as it always did.
        vm = self.make_port(net['id'])
        st, body = self.delete('/v2.0/ports/' + vm['id'])
        self.assertEqual(st, 204, body)
        self.assertEqual([q['id'] for q in self.dhcp_ports(net['id'])], [p['id']])
        self.assertFeedIsFresh('again1', 'again2')


class DhcpReportTest(DhcpCase):
    extra_conf = """
[agent]
auth_token = dhcp-secret
dhcp_agent_hosts = badnode, netnode-*
"""

    def test_only_named_hosts_take_the_dhcp_role(self):
        self.report('netnode-7')
        self.assertEqual(set(self.agents('netnode-7')), {'Open vSwitch agent', 'DHCP agent'})
        self.report('hv-7')
        self.assertEqual(set(self.agents('hv-7')), {'Open vSwitch agent'})
        self.assertIn('hv-7 reports the DHCP role but is not in [agent] dhcp_agent_hosts',
                      self.server.read_log())

    def test_report_validation(self):
        # "dhcp" must be a boolean: anything else is dropped (no DHCP row).
        self.report('badnode', dhcp='yes')
        self.assertEqual(set(self.agents('badnode')), {'Open vSwitch agent'})
        # An agent cannot call itself the DHCP agent.
        body = {'agent': {'agent_type': 'DHCP agent', 'binary': 'qhv-agent',
                          'configurations': dict(NODE_CONF)}}
        st, out = self.agent('badnode').post('/channel/v1/hosts/badnode/report', body)
        self.assertEqual(st, 400, out)


    def test_network_ports_get_no_default_group(self):
        # Neutron trusts network: ports (DHCP, routers): no default group
        # unless asked for; other ports get the project's default group.
        net = self.make_network(name='d-trusted')
        dhcp = self.make_port(net['id'], device_owner='network:dhcp')
        router = self.make_port(net['id'], device_owner='network:router_interface')
        vm = self.make_port(net['id'], device_owner='compute:nova')
        self.assertEqual((dhcp['security_groups'], router['security_groups']), ([], []))
        self.assertEqual(len(vm['security_groups']), 1)


class DhcpAgentSchedulerApiTest(DhcpCase):
    """Neutron's dhcp_agent_scheduler extension."""
    extra_conf = """
[agent]
auth_token = dhcp-secret
"""

    def test_list_add_remove(self):
        self.report('api1')
        self.report('api2')
        a1 = self.agents('api1')['DHCP agent']
        a2 = self.agents('api2')['DHCP agent']
        l2 = self.agents('api1')['Open vSwitch agent']
        net, sub = self.dhcp_net('d-api', '10.67.0.0/24')
        [p] = self.dhcp_ports(net['id'])
        first = a1 if p['binding:host_id'] == 'api1' else a2
        other = a2 if first is a1 else a1
        st, body = self.get('/v2.0/networks/%s/dhcp-agents' % net['id'])
        self.assertEqual(st, 200, body)
        self.assertEqual([a['id'] for a in body['agents']], [first['id']])
        self.assertEqual(body['agents'][0]['agent_type'], 'DHCP agent')
        st, body = self.get('/v2.0/agents/%s/dhcp-networks' % first['id'])
        self.assertEqual(st, 200, body)
        self.assertEqual([n['id'] for n in body['networks']], [net['id']])
        st, body = self.get('/v2.0/agents/%s/dhcp-networks' % other['id'])
        self.assertEqual((st, body), (200, {'networks': []}))
        st, body = self.get('/v2.0/agents/%s/dhcp-networks' % l2['id'])
        self.assertEqual((st, body), (200, {'networks': []}))
        # Added to the other node too (beyond dhcp_agents_per_network).
        st, body = self.post('/v2.0/agents/%s/dhcp-networks' % other['id'],
                             {'network_id': net['id']})
        self.assertEqual(st, 201, body)
        ports = self.dhcp_ports(net['id'])
        self.assertEqual(sorted(q['binding:host_id'] for q in ports), ['api1', 'api2'])
        self.assertError(self.post('/v2.0/agents/%s/dhcp-networks' % other['id'],
                                   {'network_id': net['id']}), 409, 'NetworkHostedByDHCPAgent')
        self.assertError(self.post('/v2.0/agents/%s/dhcp-networks' % l2['id'],
                                   {'network_id': net['id']}), 404, 'InvalidDHCPAgent')
        self.assertError(self.post('/v2.0/agents/%s/dhcp-networks' % other['id'],
                                   {'network_id': 'nope'}), 400, 'HTTPBadRequest')
        self.assertError(self.post('/v2.0/agents/%s/dhcp-networks' % other['id'],
                                   {'network_id': '3c9a3e71-5b0e-4d5e-8a39-0f3e2a9d6c11'}),
                         404, 'NetworkNotFound')
        self.assertError(self.client('api-member').get(
            '/v2.0/networks/%s/dhcp-agents' % net['id']), 403, 'PolicyNotAuthorized')
        # Removed from the first: its DHCP port goes, the other's stays.
        st, body = self.delete('/v2.0/agents/%s/dhcp-networks/%s' % (first['id'], net['id']))
        self.assertEqual(st, 204, body)
        self.assertEqual([q['binding:host_id'] for q in self.dhcp_ports(net['id'])],
                         [other['host']])
        self.assertError(self.delete('/v2.0/agents/%s/dhcp-networks/%s' %
                                     (first['id'], net['id'])), 409,
                         'NetworkNotHostedByDhcpAgent')
        st, body = self.get('/v2.0/networks/%s/dhcp-agents' % net['id'])
        self.assertEqual([a['id'] for a in body['agents']], [other['id']])
        st, body = self.get('/v2.0/extensions/dhcp_agent_scheduler')
        self.assertEqual((st, body['extension']['name']), (200, 'DHCP Agent Scheduler'))
        self.assertFeedIsFresh('api1', 'api2')


class ExtraDhcpOptsTest(DhcpCase):
    extra_conf = """
[agent]
auth_token = dhcp-secret
"""

    def test_create_update_unset(self):
        self.report('optnode')
        net, sub = self.dhcp_net('d-opts', '10.65.0.0/24')
        opts = [{'opt_name': 'bootfile-name', 'opt_value': 'pxelinux.0'},
                {'opt_name': 'tftp-server', 'opt_value': '10.65.0.9', 'ip_version': '4'},
                {'opt_name': 'dns-server', 'opt_value': 'fd00::53', 'ip_version': 6},
                {'opt_name': 'router', 'opt_value': ''},
                {'opt_name': 'mtu', 'opt_value': None}]
        p = self.make_port(net['id'], extra_dhcp_opts=opts)
        self.assertEqual(p['extra_dhcp_opts'], [
            {'opt_name': 'bootfile-name', 'opt_value': 'pxelinux.0', 'ip_version': 4},
            {'opt_name': 'tftp-server', 'opt_value': '10.65.0.9', 'ip_version': 4},
            {'opt_name': 'dns-server', 'opt_value': 'fd00::53', 'ip_version': 6},
            {'opt_name': 'router', 'opt_value': '', 'ip_version': 4}])
        plain = self.make_port(net['id'])
        self.assertEqual(plain['extra_dhcp_opts'], [])
        rev = p['revision_number']
        # Update: by (name, version) replaced, null removes, new added, the
        # rest stays.
        st, body = self.put('/v2.0/ports/' + p['id'], {'port': {'extra_dhcp_opts': [
            {'opt_name': 'bootfile-name', 'opt_value': 'ipxe.efi'},
            {'opt_name': 'tftp-server', 'opt_value': None},
            {'opt_name': 'domain-search', 'opt_value': 'example.test'}]}})
        self.assertEqual(st, 200, body)
        got = body['port']
        self.assertEqual(got['extra_dhcp_opts'], [
            {'opt_name': 'bootfile-name', 'opt_value': 'ipxe.efi', 'ip_version': 4},
            {'opt_name': 'dns-server', 'opt_value': 'fd00::53', 'ip_version': 6},
            {'opt_name': 'router', 'opt_value': '', 'ip_version': 4},
            {'opt_name': 'domain-search', 'opt_value': 'example.test', 'ip_version': 4}])
        self.assertEqual(got['revision_number'], rev + 1)
        # null or [] change nothing (and bump nothing).
        for nothing in (None, []):
            st, body = self.put('/v2.0/ports/' + p['id'],
                                {'port': {'extra_dhcp_opts': nothing}})
            self.assertEqual(st, 200, body)
            self.assertEqual(body['port']['extra_dhcp_opts'], got['extra_dhcp_opts'])
            self.assertEqual(body['port']['revision_number'], rev + 1)
        # What the network node serves.
        node = self.plan('optnode')
        self.assertEqual(node['dhcp_hosts']['%s/%s' % (net['id'], p['id'])]['extra_dhcp_opts'],
                         got['extra_dhcp_opts'])
        self.assertFeedIsFresh('optnode')

    def test_validation(self):
        net = self.make_network(name='d-opts-bad')
        bad = [
            'not-a-list',
            ['not-a-dict'],
            [{'opt_name': 'x'}],                                   # no opt_value
            [{'opt_value': 'x'}],                                  # no opt_name
            [{'opt_name': '', 'opt_value': 'x'}],
            [{'opt_name': 'a' * 65, 'opt_value': 'x'}],
            [{'opt_name': 'x', 'opt_value': 'v' * 256}],
            [{'opt_name': 'x', 'opt_value': 'two\nlines'}],
            [{'opt_name': 'x', 'opt_value': ''}],                  # empty only for router...
            [{'opt_name': 'x', 'opt_value': 'y', 'ip_version': 5}],
            [{'opt_name': 'x', 'opt_value': 'y', 'ip_version': 'four'}],
            [{'opt_name': 'x', 'opt_value': 'y', 'extra': 1}],
            [{'opt_name': 'x', 'opt_value': 'y'}, {'opt_name': 'x', 'opt_value': 'z'}],
        ]
        for opts in bad:
            st, body = self.post('/v2.0/ports', {'port': {'network_id': net['id'],
                                                          'extra_dhcp_opts': opts}})
            self.assertEqual(st, 400, (opts, body))
        st, body = self.get('/v2.0/ports?network_id=' + net['id'])
        self.assertEqual(body['ports'], [])
        st, body = self.get('/v2.0/extensions/extra_dhcp_opt')
        self.assertEqual((st, body['extension']['name']), (200, 'Neutron Extra DHCP options'))


class DhcpHaTest(DhcpCase):
    """Two DHCP agents per network; nodes that stop reporting die after
    agent_down_time and their networks move."""
    extra_conf = """
[agent]
auth_token = dhcp-secret
agent_down_time = 10
report_interval = 1
[DEFAULT]
dhcp_agents_per_network = 2
"""
    wait_timeout = 90.0

    def setUp(self):
        self.alive = set()
        self.stop = threading.Event()
        self.beat = threading.Thread(target=self.heartbeats, daemon=True)
        self.beat.start()
        self.addCleanup(self.beat.join)
        self.addCleanup(self.stop.set)

    def heartbeats(self):
        while not self.stop.wait(0.5):
            for host in list(self.alive):
                try:
                    self.report(host)
                except AssertionError:
                    pass

    def test_two_nodes_per_network_and_failover(self):
        for h in ('ha1', 'ha2'):
            self.report(h)
            self.alive.add(h)
        net, sub = self.dhcp_net('d-ha', '10.66.0.0/24')
        ports = self.dhcp_ports(net['id'])
        self.assertEqual(sorted(p['binding:host_id'] for p in ports), ['ha1', 'ha2'])
        self.assertEqual(len({p['fixed_ips'][0]['ip_address'] for p in ports}), 2)
        by_host = {p['binding:host_id']: p for p in ports}
        # ha2 dies with no other node: its port stays (it may come back).
        self.alive.discard('ha2')
        self.wait_for('ha2 dead', lambda: not self.agents('ha2')['DHCP agent']['alive'])
        self.assertEqual(sorted(p['binding:host_id'] for p in self.dhcp_ports(net['id'])),
                         ['ha1', 'ha2'])
        # A third node: ha2's network moves there, same port, same address.
        self.report('ha3')
        self.alive.add('ha3')

        def moved():
            hosts = {p['binding:host_id']: p for p in self.dhcp_ports(net['id'])}
            return hosts if set(hosts) == {'ha1', 'ha3'} else None
        hosts = self.wait_for('the network to move to ha3', moved)
        self.assertEqual((hosts['ha3']['id'], hosts['ha3']['fixed_ips']),
                         (by_host['ha2']['id'], by_host['ha2']['fixed_ips']))
        self.assertEqual(hosts['ha3']['device_id'], device_id('ha3', net['id']))
        self.assertEqual(hosts['ha1'], by_host['ha1'])
        self.assertIn(net['id'], self.plan('ha3')['dhcp_networks'])
        self.assertEqual(self.plan('ha2')['dhcp_networks'], {})
        # ha2 back: the network has its two; ha2 gets nothing.
        self.report('ha2')
        self.alive.add('ha2')
        self.assertEqual(sorted(p['binding:host_id'] for p in self.dhcp_ports(net['id'])),
                         ['ha1', 'ha3'])
        self.alive.clear()
        self.assertFeedIsFresh('ha1', 'ha2', 'ha3')


if __name__ == '__main__':
    unittest.main()
