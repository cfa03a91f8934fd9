"""System tests of network nodes (docs/network-node.md) with real packets:
two hypervisors (h1, h2) and two network nodes (n1, n2), each a namespace
with its own Open vSwitch on the userspace datapath and its own qhv-agent,
their uplinks on one underlay switch; VMs are namespaces that run ISC
dhclient. Everything is driven through a real qhv-server's API, which
schedules every DHCP network to both nodes ([DEFAULT]
dhcp_agents_per_network = 2)."""
import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'api'))
import qhvtest  # noqa: E402
import netlab  # noqa: E402
import novameta  # noqa: E402

BUILD = os.path.dirname(qhvtest.SERVER)
AGENT = os.environ.get('QHV_AGENT', os.path.join(BUILD, 'qhv-agent'))
SECRET = 'node-test-secret'

SERVER_CONF = """
[DEFAULT]
dhcp_agents_per_network = 2
[agent]
auth_token = system-secret
report_interval = 5
"""


def why_not():
    why = netlab.missing()
    for tool in ('dnsmasq', 'dhclient', 'nsenter'):
        if not why and not any(os.access(os.path.join(d, tool), os.X_OK)
                               for d in ('/usr/sbin', '/usr/bin', '/sbin', '/bin')):
            why = '%s is not installed (scripts/deps.sh test installs it)' % tool
    return why


WHY_NOT = why_not()


@unittest.skipIf(WHY_NOT, 'system tests skipped: %s' % WHY_NOT)
class NetworkNodeTest(qhvtest.ServerTestCase):
    extra_conf = SERVER_CONF
    wait_timeout = 60.0

    @classmethod
    def setUpClass(cls):
        if not os.access(AGENT, os.X_OK):
            raise AssertionError('%s is not built' % AGENT)
        super().setUpClass()
        cls.lab = netlab.Lab()
        cls.nova = None
        try:
            cls.nova_why = novameta.WHY_NOT
            try:
                cls.nova = novameta.start(cls.lab.dir, 'http://127.0.0.1:%d' % cls.server.port,
                                          SECRET)
            except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                # Only the metadata test needs Nova: it fails saying why.
                cls.nova_why = 'Nova metadata service did not start: %s' % e
            cls.h1, cls.h2, cls.n1, cls.n2 = cls.lab.add_switched_hosts(
                [('h1', 1), ('h2', 2), ('n1', 3), ('n2', 4)])
            url = 'http://127.0.0.1:%d' % cls.server.port
            for h in (cls.h1, cls.h2, cls.n1, cls.n2):
                extra = ''
                if h in (cls.n1, cls.n2):
                    extra = NODE_CONF.format(dir=h.dir, prefix=cls.lab.prefix + h.name + '-',
                                             nova_port=cls.nova.port if cls.nova else 1,
                                             secret=SECRET)
                h.conf = h.agent_conf(url, cls.server.agent_token(h.name), extra)
                h.start_agent(AGENT, h.conf)
            deadline = time.time() + 60
            while time.time() < deadline:
                agents = cls.admin.get('/v2.0/agents')[1]['agents']
                alive = {(a['host'], a['agent_type']) for a in agents if a['alive']}
                if {('n1', 'DHCP agent'), ('n2', 'DHCP agent'), ('h1', 'Open vSwitch agent'),
                        ('h2', 'Open vSwitch agent')} <= alive:
                    break
                time.sleep(0.2)
            else:
                raise AssertionError('the agents did not register: %s\nn1 log:\n%s'
                                     % (agents, cls.n1.read_agent_log()[-3000:]))
        except BaseException:
            cls.lab.close()
            if cls.nova:
                cls.nova.stop()
            super().tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        rcs = {h.name: h.stop_agent() for h in cls.lab.hosts}
        logs = {h.name: h.read_agent_log() for h in cls.lab.hosts}
        for h in (cls.n1, cls.n2):
            cls.kill_dnsmasqs(h)
        cls.lab.close()
        if cls.nova:
            cls.nova.stop()
        super().tearDownClass()
        for name, rc in rcs.items():
            if rc not in (0, -15, None):
                raise AssertionError('agent %s exited with %s:\n%s' % (name, rc,
                                                                       logs[name][-3000:]))

    @classmethod
    def kill_dnsmasqs(cls, node):
        """Ends the dnsmasqs a node's agent left (they outlive it by design)."""
        root = os.path.join(node.dir, 'dhcp')
        for net in os.listdir(root) if os.path.isdir(root) else []:
            try:
                with open(os.path.join(root, net, 'pid')) as f:
                    os.kill(int(f.read().strip()), signal.SIGTERM)
            except (OSError, ValueError):
                pass
        for ns in subprocess.run(['ip', 'netns', 'list'], capture_output=True,
                                 text=True).stdout.split():
            if ns.startswith(cls.lab.prefix + node.name + '-'):
                subprocess.run(['ip', 'netns', 'del', ns], capture_output=True)

    # ---------- helpers ----------

    @classmethod
    def api(cls, method, path, body=None):
        st, out = cls.admin.request(method, path, body)
        if st >= 300:
            raise AssertionError('%s %s: %s %s' % (method, path, st, out))
        return out

    def logs(self):
        return '\n'.join('--- %s\n%s' % (h.name, h.read_agent_log()[-2500:])
                         for h in self.lab.hosts)

    def network(self, project, name, ntype, seg, subnets):
        attrs = {'name': name, 'project_id': project, 'provider:network_type': ntype,
                 'provider:segmentation_id': seg}
        if ntype == 'vlan':
            attrs['provider:physical_network'] = 'physnet1'
        net = self.api('POST', '/v2.0/networks', {'network': attrs})['network']
        net['subnets'] = [self.api('POST', '/v2.0/subnets', {'subnet': dict(
            s, network_id=net['id'], project_id=project)})['subnet'] for s in subnets]
        net = dict(self.api('GET', '/v2.0/networks/' + net['id'])['network'],
                   _subnets=net['subnets'])
        return net

    def dhcp_ports(self, net):
        return self.api('GET', '/v2.0/ports?device_owner=network:dhcp&network_id='
                        + net['id'])['ports']

    def wait_served(self, net, nodes=2):
        """Until nodes DHCP ports of net are ACTIVE (wired on their node)."""
        return self.wait_for('%d active DHCP ports on %s' % (nodes, net['name']),
                             lambda: [p for p in self.dhcp_ports(net)
                                      if p['status'] == 'ACTIVE'] if len(
                                 [p for p in self.dhcp_ports(net)
                                  if p['status'] == 'ACTIVE']) >= nodes else None,
                             self.logs)

    def served_hosts(self, node, net):
        try:
            with open(os.path.join(node.dir, 'dhcp', net['id'], 'host')) as f:
                return f.read()
        except OSError:
            return ''

    def port(self, net, project, host, name, **attrs):
        body = dict({'network_id': net['id'], 'project_id': project, 'name': name,
                     'binding:host_id': host.name, 'device_owner': 'compute:nova'}, **attrs)
        return self.api('POST', '/v2.0/ports', {'port': body})['port']

    def wait_port(self, port, status='ACTIVE'):
        self.wait_for('port %s %s' % (port['name'], status),
                      lambda: self.api('GET', '/v2.0/ports/' + port['id'])['port']['status']
                      == status, self.logs)

    def dhcp_vm(self, name, host, net, project, served=True, v6=False, **attrs):
        """A port on host, its VM, and every node's dnsmasq serving it."""
        port = self.port(net, project, host, name, **attrs)
        vm = self.lab.add_dhcp_vm(name, host, port, v6)
        self.wait_port(port)
        for node in (self.n1, self.n2) if served else ():
            self.wait_for('%s serving %s' % (node.name, name),
                          lambda: port['mac_address'] in self.served_hosts(node, net),
                          self.logs)
        return port, vm

    def bound(self, vm):
        return [e for e in vm.events() if e.get('reason') in ('BOUND', 'RENEW', 'REBOOT',
                                                               'REBIND')]

    def check_lease(self, vm, port, net, subnet, routes=()):
        """vm's last lease is exactly what the API says of port and subnet."""
        lease = self.bound(vm)[-1]
        ip = port['fixed_ips'][0]['ip_address']
        self.assertEqual(lease['new_ip_address'], ip)
        plen = int(subnet['cidr'].split('/')[1])
        mask = '.'.join(str((0xffffffff << (32 - plen) >> (24 - 8 * i)) & 255) for i in range(4))
        self.assertEqual(lease['new_subnet_mask'], mask)
        self.assertEqual(lease['new_routers'], subnet['gateway_ip'])
        dns = subnet['dns_nameservers'] or None
        if dns:
            self.assertEqual(lease['new_domain_name_servers'].split(), dns)
        self.assertEqual(int(lease['new_interface_mtu']), net['mtu'])
        self.assertEqual(lease['new_domain_name'], 'openstacklocal')
        # Option 121: the host routes, the metadata route via a DHCP port of
        # the subnet, and the default route (121 overrides option 3).
        got = lease['new_rfc3442_classless_static_routes'].split()
        dhcp_ips = {fip['ip_address'] for p in self.dhcp_ports(net) for fip in p['fixed_ips']}
        want_routes = []
        for dst, nh in routes:
            want_routes.append((dst, nh))
        decoded = decode_121(got)
        meta = [nh for dst, nh in decoded if dst == '169.254.169.254/32']
        self.assertEqual(len(meta), 1, decoded)
        self.assertIn(meta[0], dhcp_ips)
        self.assertIn(('0.0.0.0/0', subnet['gateway_ip']), decoded)
        for r in want_routes:
            self.assertIn(r, decoded)
        self.assertEqual(len(decoded), len(want_routes) + 2, decoded)
        self.assertEqual(vm.addresses(), ['%s/%d' % (ip, plen)])
        self.assertEqual(vm.mtu(), net['mtu'])

    # ---------- tests ----------

    def test_vlan_ipv4(self):
        net = self.network('tenant-a', 'a-vlan', 'vlan', 201, [{
            'cidr': '10.21.0.0/24', 'ip_version': 4, 'dns_nameservers': ['10.21.0.53'],
            'host_routes': [{'destination': '10.99.0.0/16', 'nexthop': '10.21.0.254'}]}])
        self.wait_served(net)
        port, vm = self.dhcp_vm('va1', self.h1, net, 'tenant-a', extra_dhcp_opts=[
            {'opt_name': 'ntp-server', 'opt_value': '10.21.0.123'}])
        self.assertTrue(vm.dhclient(), vm.last_output + self.logs())
        self.check_lease(vm, port, net, net['_subnets'][0],
                         routes=[('10.99.0.0/16', '10.21.0.254')])
        # The port's extra_dhcp_opts, and only its own.
        self.assertEqual(self.bound(vm)[-1].get('new_ntp_servers'), '10.21.0.123')
        other, vm2 = self.dhcp_vm('va2', self.h2, net, 'tenant-a')
        self.assertTrue(vm2.dhclient(), vm2.last_output + self.logs())
        self.check_lease(vm2, other, net, net['_subnets'][0],
                         routes=[('10.99.0.0/16', '10.21.0.254')])
        self.assertNotIn('new_ntp_servers', self.bound(vm2)[-1])
        # Both nodes answered the same thing: each offered the port's address.
        self.assertIn('DHCPOFFER of %s' % port['fixed_ips'][0]['ip_address'], vm.last_output)

    def test_nvgre_ipv4_changed_and_deleted(self):
        net = self.network('tenant-a', 'a-gre', 'nvgre', 5301, [{
            'cidr': '10.22.0.0/24', 'ip_version': 4}])
        self.wait_served(net)
        port, vm = self.dhcp_vm('ga1', self.h2, net, 'tenant-a')
        self.assertTrue(vm.dhclient(), vm.last_output + self.logs())
        sub = net['_subnets'][0]
        self.check_lease(vm, port, net, sub)
        # Both ends of each node's DHCP port have the network's MTU.
        for dp in self.dhcp_ports(net):
            node = self.n1 if dp['binding:host_id'] == 'n1' else self.n2
            tap = node.sh('ip', '-o', 'link', 'show', 'dev', 'tap' + dp['id'][:11])
            self.assertIn(' mtu %d ' % net['mtu'], tap)
            inner = subprocess.run(['ip', '-n', self.lab.prefix + node.name + '-' + net['id'],
                                    '-o', 'link', 'show', 'dev', 'ns-' + dp['id'][:11]],
                                   capture_output=True, text=True).stdout
            self.assertIn(' mtu %d ' % net['mtu'], inner)
        # Without dns_nameservers the DHCP server offers itself (dnsmasq),
        # which resolves the network's host names.
        dhcp_ips = {fip['ip_address'] for p in self.dhcp_ports(net) for fip in p['fixed_ips']}
        dns = self.bound(vm)[-1]['new_domain_name_servers']
        self.assertIn(dns, dhcp_ips)
        ip = port['fixed_ips'][0]['ip_address']
        name = 'host-%s.openstacklocal' % ip.replace('.', '-')
        self.assertEqual(vm.sh('/usr/bin/python3', '-c', DNS_A, dns, name).strip(), ip)
        # A changed fixed IP is served at the next renewal.
        port = self.api('PUT', '/v2.0/ports/' + port['id'], {'port': {'fixed_ips': [
            {'subnet_id': sub['id'], 'ip_address': '10.22.0.77'}]}})['port']
        for node in (self.n1, self.n2):
            self.wait_for('%s serving the new address' % node.name,
                          lambda: '10.22.0.77' in self.served_hosts(node, net), self.logs)
        self.wait_port(port)
        self.assertTrue(vm.dhclient(), vm.last_output + self.logs())
        self.assertEqual(self.bound(vm)[-1]['new_ip_address'], '10.22.0.77')
        self.assertEqual(vm.addresses(), ['10.22.0.77/24'])
        # A deleted port is no longer served: a VM without port security
        # that takes its MAC gets no lease.
        mac = port['mac_address']
        self.api('DELETE', '/v2.0/ports/' + port['id'])
        for node in (self.n1, self.n2):
            self.wait_for('%s forgetting the port' % node.name,
                          lambda: mac not in self.served_hosts(node, net), self.logs)
        free = self.port(net, 'tenant-a', self.h2, 'ga2', port_security_enabled=False,
                         security_groups=[])
        vm2 = self.lab.add_dhcp_vm('ga2', self.h2, dict(free, mac_address=mac))
        self.wait_port(free)
        self.assertFalse(vm2.dhclient(timeout=8), vm2.last_output)
        self.assertNotIn('DHCPOFFER of', vm2.last_output)

    def test_other_tenant_gets_no_offer(self):
        a = self.network('tenant-a', 'a-gre2', 'nvgre', 5303, [{
            'cidr': '10.23.0.0/24', 'ip_version': 4}])
        b = self.network('tenant-b', 'b-gre', 'nvgre', 5304, [{
            'cidr': '10.23.0.0/24', 'ip_version': 4, 'enable_dhcp': False}])
        self.wait_served(a)
        self.assertEqual(self.dhcp_ports(b), [])
        port, vm = self.dhcp_vm('tb1', self.h1, b, 'tenant-b', served=False)
        cap = netlab.Capture(self.lab, vm.ns, 'eth0', 'udp port 67 or udp port 68')
        self.assertFalse(vm.dhclient(timeout=8), vm.last_output)
        frames = cap.stop()
        self.assertNotIn('DHCPOFFER of', vm.last_output)
        # Only the VM's own requests were on its wire.
        for fr in frames:
            self.assertEqual(fr[6:12], bytes.fromhex(port['mac_address'].replace(':', '')))
        # A network that goes away is taken down on the nodes: dnsmasq,
        # namespace, files.
        pids = [self.node_pid(n, a) for n in (self.n1, self.n2)]
        self.assertTrue(all(pids))
        self.api('DELETE', '/v2.0/networks/' + a['id'])
        for n, pid in zip((self.n1, self.n2), pids):
            ns = self.lab.prefix + n.name + '-' + a['id']
            self.wait_for('%s taking %s down' % (n.name, a['name']), lambda: not os.path.exists(
                os.path.join(n.dir, 'dhcp', a['id'])) and ns not in subprocess.run(
                    ['ip', 'netns', 'list'], capture_output=True, text=True).stdout and
                not os.path.exists('/proc/%d' % pid), self.logs)

    def test_metadata(self):
        if not self.nova and novameta.WHY_NOT:
            self.skipTest('Nova metadata service not available: %s' % novameta.WHY_NOT)
        self.assertTrue(self.nova, self.nova_why)
        net = self.network('tenant-a', 'a-meta', 'vlan', 202, [{
            'cidr': '10.24.0.0/24', 'ip_version': 4}])
        self.wait_served(net)
        instance = '8c7e2b1c-6a1d-4f0e-9f65-3a1b2c3d4e5f'
        port, vm = self.dhcp_vm('ma1', self.h1, net, 'tenant-a', device_id=instance)
        self.nova.make_instance(instance, 'tenant-a')
        self.assertTrue(vm.dhclient(), vm.last_output + self.logs())
        # A client that never finishes its request holds only its own: it
        # trickles a header line every 2 s for longer than the fetch may take.
        slow = subprocess.Popen(['ip', 'netns', 'exec', vm.ns, '/usr/bin/python3', '-c',
                                 TRICKLE], stdout=subprocess.PIPE, text=True)
        self.lab.procs.append(slow)
        self.assertEqual(slow.stdout.readline().strip(), 'connected')
        out = vm.sh('/usr/bin/python3', '-c', FETCH, 'http://169.254.169.254/openstack/latest/'
                    'meta_data.json', timeout=90)
        self.assertIsNone(slow.poll())      # still holding its connection
        slow.kill()
        status, body = out.split('\n', 1)
        self.assertEqual(status, '200', body + self.logs())
        doc = json.loads(body)
        self.assertEqual(doc['uuid'], instance)
        self.assertEqual(doc['project_id'], 'tenant-a')
        # A port that is no instance's (no device_id): the proxy answers 404
        # itself.
        port2, vm2 = self.dhcp_vm('ma2', self.h2, net, 'tenant-a')
        self.assertTrue(vm2.dhclient(), vm2.last_output + self.logs())
        out = vm2.sh('/usr/bin/python3', '-c', FETCH, 'http://169.254.169.254/openstack/latest/'
                     'meta_data.json', timeout=90)
        self.assertEqual(out.split('\n', 1)[0], '404', out)

    def node_pid(self, node, net):
        try:
            with open(os.path.join(node.dir, 'dhcp', net['id'], 'pid')) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return 0

    def test_agent_restart_and_dnsmasq_crash(self):
        net = self.network('tenant-a', 'a-rs', 'vlan', 204, [{
            'cidr': '10.27.0.0/24', 'ip_version': 4}])
        self.wait_served(net)
        port, vm = self.dhcp_vm('rs1', self.h1, net, 'tenant-a')
        self.assertTrue(vm.dhclient(), vm.last_output + self.logs())
        # The node whose offer the VM took holds the lease.
        def leased():
            for n in (self.n1, self.n2):
                p = os.path.join(n.dir, 'dhcp', net['id'], 'leases')
                if os.path.exists(p) and port['mac_address'] in read(p):
                    return n
            return None
        node = self.wait_for('the lease on a node', leased, self.logs)
        d = os.path.join(node.dir, 'dhcp', net['id'])
        pid = self.node_pid(node, net)
        files = {f: os.stat(os.path.join(d, f)).st_mtime_ns for f in ('host', 'opts')}
        # The agent restarts: dnsmasq, its files and its leases stay as they are.
        self.assertIn(node.stop_agent(), (0, -15))
        node.start_agent(AGENT, node.conf)
        self.wait_for('the restarted agent adopting dnsmasq %d' % pid,
                      lambda: 'dnsmasq %d already serves it' % pid in node.read_agent_log(),
                      self.logs)
        self.assertEqual(self.node_pid(node, net), pid)
        self.assertEqual({f: os.stat(os.path.join(d, f)).st_mtime_ns for f in files}, files)
        self.assertIn(port['mac_address'], read(os.path.join(d, 'leases')))
        # dnsmasq crashes: it is started again, with its leases.
        os.kill(pid, signal.SIGKILL)
        self.wait_for('a new dnsmasq on %s' % node.name,
                      lambda: self.node_pid(node, net) not in (0, pid) and os.path.exists(
                          '/proc/%d' % self.node_pid(node, net)), self.logs)
        self.assertIn(port['mac_address'], read(os.path.join(d, 'leases')))
        self.assertTrue(vm.dhclient(), vm.last_output + self.logs())
        self.assertEqual(self.bound(vm)[-1]['new_ip_address'], port['fixed_ips'][0]['ip_address'])
        # Someone deletes the namespace: the node makes it again, with the
        # DHCP port plugged and a dnsmasq in it; both nodes serve again.
        other = self.n2 if node is self.n1 else self.n1
        pid = self.node_pid(node, net)
        ns = self.lab.prefix + node.name + '-' + net['id']
        subprocess.run(['ip', 'netns', 'del', ns], check=True)
        self.wait_for('%s serving from a new namespace' % node.name,
                      lambda: self.node_pid(node, net) not in (0, pid) and os.path.exists(
                          '/proc/%d' % self.node_pid(node, net)) and 'ns-' in subprocess.run(
                              ['ip', '-n', ns, 'link'], capture_output=True, text=True).stdout,
                      self.logs)
        other_pid = self.node_pid(other, net)
        os.kill(other_pid, signal.SIGSTOP)     # only the recreated node can answer
        try:
            self.assertTrue(vm.dhclient(), vm.last_output + self.logs())
        finally:
            os.kill(other_pid, signal.SIGCONT)
        self.assertEqual(self.bound(vm)[-1]['new_ip_address'], port['fixed_ips'][0]['ip_address'])

    def test_port_security_offers_only_from_dhcp_ports(self):
        net = self.network('tenant-a', 'a-rogue', 'vlan', 205, [{
            'cidr': '10.26.0.0/24', 'ip_version': 4}])
        self.wait_served(net)
        # A VM without port security runs its own DHCP server.
        rport = self.port(net, 'tenant-a', self.h2, 'rogue', port_security_enabled=False,
                          security_groups=[])
        rogue = self.lab.add_vm('rogue', self.h2, rport, 24)
        self.wait_port(rport)
        p = subprocess.Popen(['ip', 'netns', 'exec', rogue.ns, 'dnsmasq', '--no-daemon',
                              '--conf-file=/dev/null', '--port=0', '--user=root',
                              '--interface=eth0', '--dhcp-authoritative', '--no-ping',
                              '--dhcp-leasefile=' + os.path.join(self.lab.dir, 'rogue.leases'),
                              '--dhcp-range=10.26.0.100,10.26.0.150,1h'],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.lab.procs.append(p)
        port, vm = self.dhcp_vm('victim', self.h1, net, 'tenant-a')
        cap = netlab.Capture(self.lab, vm.ns, 'eth0', 'udp src port 67')
        self.assertTrue(vm.dhclient(), vm.last_output + self.logs())
        offers = dhcp_offers(cap.stop())
        macs = {p['mac_address'] for p in self.dhcp_ports(net)}
        self.assertTrue(offers)
        self.assertLessEqual({src for src, _ in offers}, macs, offers)
        self.assertEqual(self.bound(vm)[-1]['new_ip_address'], port['fixed_ips'][0]['ip_address'])
        # The rogue server was up: a VM without port security hears it.
        fport = self.port(net, 'tenant-a', self.h1, 'nops', port_security_enabled=False,
                          security_groups=[])
        fvm = self.lab.add_dhcp_vm('nops', self.h1, fport)
        self.wait_port(fport)
        cap = netlab.Capture(self.lab, fvm.ns, 'eth0', 'udp src port 67')
        fvm.dhclient(timeout=10)
        self.assertIn(rport['mac_address'], {src for src, _ in dhcp_offers(cap.stop())})

    def test_ipv6_slaac_and_stateful(self):
        slaac = self.network('tenant-a', 'a-v6s', 'vlan', 206, [{
            'cidr': 'fd00:61::/64', 'ip_version': 6, 'ipv6_ra_mode': 'slaac',
            'ipv6_address_mode': 'slaac'}])
        full = self.network('tenant-a', 'a-v6f', 'nvgre', 5305, [{
            'cidr': 'fd00:62::/64', 'ip_version': 6, 'ipv6_ra_mode': 'dhcpv6-stateful',
            'ipv6_address_mode': 'dhcpv6-stateful', 'dns_nameservers': ['fd00:62::53']}])
        self.wait_served(slaac)
        self.wait_served(full)
        # SLAAC: the router advertisements of the nodes give the VM its
        # port's address (EUI-64 of its MAC in the subnet's prefix).
        port = self.port(slaac, 'tenant-a', self.h1, 's6')
        vm = self.lab.add_dhcp_vm('s6', self.h1, port, v6=True)
        self.wait_port(port)
        want = port['fixed_ips'][0]['ip_address']
        self.wait_for('a SLAAC address on s6',
                      lambda: vm.addresses('inet6') == ['%s/64' % want], self.logs)
        # Stateful DHCPv6: exactly the port's address and the DNS server.
        port, vm = self.dhcp_vm('f6', self.h2, full, 'tenant-a', v6=True)
        self.assertTrue(vm.dhclient(v6=True), vm.last_output + self.logs())
        lease = [e for e in vm.events() if e.get('reason') == 'BOUND6'][-1]
        self.assertEqual(lease['new_ip6_address'], port['fixed_ips'][0]['ip_address'])
        self.assertEqual(lease['new_dhcp6_name_servers'], 'fd00:62::53')
        self.assertIn('%s/128' % port['fixed_ips'][0]['ip_address'], vm.addresses('inet6'))
        # Stateless DHCPv6: the address from RA (SLAAC), the options from
        # DHCPv6 (an Information-request).
        less = self.network('tenant-a', 'a-v6l', 'vlan', 207, [{
            'cidr': 'fd00:63::/64', 'ip_version': 6, 'ipv6_ra_mode': 'dhcpv6-stateless',
            'ipv6_address_mode': 'dhcpv6-stateless', 'dns_nameservers': ['fd00:63::53']}])
        self.wait_served(less)
        port = self.port(less, 'tenant-a', self.h1, 'l6')
        vm = self.lab.add_dhcp_vm('l6', self.h1, port, v6=True)
        self.wait_port(port)
        want = port['fixed_ips'][0]['ip_address']
        self.wait_for('a SLAAC address on l6',
                      lambda: vm.addresses('inet6') == ['%s/64' % want], self.logs)
        self.assertTrue(vm.dhclient(v6=True, stateless=True), vm.last_output + self.logs())
        got = [e for e in vm.events() if e.get('new_dhcp6_name_servers')]
        self.assertTrue(got, vm.events())
        self.assertEqual(got[-1]['new_dhcp6_name_servers'], 'fd00:63::53')
        self.assertFalse(got[-1].get('new_ip6_address'))

    def test_z_ha_one_node_dies(self):
        net = self.network('tenant-a', 'a-ha', 'vlan', 203, [{
            'cidr': '10.25.0.0/24', 'ip_version': 4}])
        self.wait_served(net)
        port, vm = self.dhcp_vm('ha1', self.h2, net, 'tenant-a')
        cap = netlab.Capture(self.lab, vm.ns, 'eth0', 'udp src port 67')
        self.assertTrue(vm.dhclient(), vm.last_output + self.logs())
        offers = dhcp_offers(cap.stop())
        # Both nodes offered, the same address.
        servers = {src for src, yiaddr in offers}
        self.assertEqual(len(servers), 2, offers)
        self.assertEqual({yiaddr for src, yiaddr in offers},
                         {port['fixed_ips'][0]['ip_address']})
        # n1 dies (its agent, its dnsmasqs, its switch): n2 serves alone.
        self.n1.stop_agent()
        self.kill_dnsmasqs(self.n1)
        self.n1.stop_vswitchd()
        vm.sh('ip', 'addr', 'flush', 'dev', 'eth0', 'scope', 'global')
        os.unlink(os.path.join(vm.dir, 'leases-4'))
        cap = netlab.Capture(self.lab, vm.ns, 'eth0', 'udp src port 67')
        self.assertTrue(vm.dhclient(), vm.last_output + self.logs())
        offers = dhcp_offers(cap.stop())
        self.assertEqual(len({src for src, _ in offers}), 1, offers)
        self.check_lease(vm, port, net, net['_subnets'][0])


NODE_CONF = """[dhcp]
enabled = true
state_path = {dir}/dhcp
namespace_prefix = {prefix}
[DEFAULT]
debug = true
nova_metadata_host = 127.0.0.1
nova_metadata_port = {nova_port}
metadata_proxy_shared_secret = {secret}
"""

FETCH = """import sys, urllib.request, urllib.error
try:
    r = urllib.request.urlopen(sys.argv[1], timeout=60)
    print(r.status); print(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code); print(e.read().decode())
"""


TRICKLE = """import socket, time
s = socket.create_connection(('169.254.169.254', 80), timeout=30)
s.sendall(b'GET /openstack HTTP/1.1\\r\\n')
print('connected', flush=True)
for i in range(100):
    time.sleep(2)
    s.sendall(b'X-Slow: %d\\r\\n' % i)
"""

# An A query (stdlib only): prints the first address of the answer.
DNS_A = r"""import socket, struct, sys
server, name = sys.argv[1:3]
q = struct.pack('!HHHHHH', 0x5151, 0x0100, 1, 0, 0, 0)
q += b''.join(bytes([len(l)]) + l.encode() for l in name.split('.')) + b'\0'
q += struct.pack('!HH', 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(q, (server, 53))
r = s.recv(2048)
an = struct.unpack('!H', r[6:8])[0]
k = len(q)
for _ in range(an):
    k += 2 if r[k] & 0xc0 == 0xc0 else r[k:].index(0) + 1
    t, _, _, l = struct.unpack('!HHIH', r[k:k + 10])
    k += 10
    if t == 1:
        print('.'.join(map(str, r[k:k + 4])))
        break
    k += l
"""


def read(path):
    with open(path) as f:
        return f.read()


def decode_121(octets):
    """Option 121 (RFC 3442) as [(destination/len, next hop)]."""
    b = [int(x) for x in octets]
    out, k = [], 0
    while k < len(b):
        n = b[k]
        o = (n + 7) // 8
        dst = b[k + 1:k + 1 + o] + [0] * (4 - o)
        gw = b[k + 1 + o:k + 5 + o]
        out.append(('%s/%d' % ('.'.join(map(str, dst)), n), '.'.join(map(str, gw))))
        k += 5 + o
    return out


def dhcp_offers(frames):
    """(source MAC, offered address) of the DHCPOFFERs among frames."""
    out = []
    for fr in frames:
        if len(fr) < 14 + 20 + 8 + 240 or fr[12:14] != b'\x08\x00':
            continue
        ihl = (fr[14] & 15) * 4
        bootp = fr[14 + ihl + 8:]
        opts = bootp[240:]
        k, mtype = 0, None
        while k < len(opts) and opts[k] != 255:
            if opts[k] == 0:
                k += 1
                continue
            if opts[k] == 53:
                mtype = opts[k + 2]
            k += 2 + opts[k + 1]
        if mtype == 2:
            out.append((fr[6:12].hex(':'), '.'.join(str(x) for x in bootp[16:20])))
    return out


if __name__ == '__main__':
    unittest.main()
