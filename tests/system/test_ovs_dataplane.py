"""System tests of the ovs backend with real packets: two simulated hosts
(network namespaces, one Open vSwitch each on the userspace datapath, a
qhv-agent each), VMs as namespaces, everything driven through the API of a
real qhv-server. See netlab.py for the topology."""
import os
import subprocess
import sys
import tempfile
import threading
import time
import types
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'api'))
import qhvtest  # noqa: E402
import netlab  # noqa: E402

BUILD = os.path.dirname(qhvtest.SERVER)
AGENT = os.environ.get('QHV_AGENT', os.path.join(BUILD, 'qhv-agent'))

SERVER_CONF = """
[agent]
auth_token = system-secret
report_interval = 5
[ip_rewrite]
provider_pools = h1:192.168.250.96/28,h2:192.168.250.112/28
"""

WHY_NOT = netlab.missing()


@unittest.skipIf(WHY_NOT, 'system tests skipped: %s' % WHY_NOT)
class OvsDataplaneTest(qhvtest.ServerTestCase):
    extra_conf = SERVER_CONF

    @classmethod
    def setUpClass(cls):
        if not os.access(AGENT, os.X_OK):
            raise AssertionError('%s is not built' % AGENT)
        super().setUpClass()
        cls.lab = netlab.Lab()
        try:
            cls.h1, cls.h2 = cls.lab.add_hosts(2)
            url = 'http://127.0.0.1:%d' % cls.server.port
            for h in (cls.h1, cls.h2):
                token = cls.server.agent_token(h.name)
                h.conf = h.agent_conf(url, token)
                h.start_agent(AGENT, h.conf)
            deadline = time.time() + 30
            while time.time() < deadline:
                agents = cls.admin.get('/v2.0/agents')[1]['agents']
                if {a['host'] for a in agents if a['alive']} >= {'h1', 'h2'}:
                    break
                time.sleep(0.2)
            else:
                raise AssertionError('the agents did not register: h1 log:\n%s'
                                     % cls.h1.read_agent_log()[-3000:])
            cls.make_topology()
        except BaseException:
            cls.lab.close()
            super().tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        rcs = {h.name: h.stop_agent() for h in cls.lab.hosts}
        logs = {h.name: h.read_agent_log() for h in cls.lab.hosts}
        cls.lab.close()
        super().tearDownClass()
        for name, rc in rcs.items():
            if rc not in (0, -15):
                raise AssertionError('agent %s exited with %s:\n%s' % (name, rc,
                                                                       logs[name][-3000:]))

    # ---------- building the tenants ----------

    @classmethod
    def api(cls, method, path, body=None):
        st, out = cls.admin.request(method, path, body)
        if st >= 300:
            raise AssertionError('%s %s: %s %s' % (method, path, st, out))
        return out

    @classmethod
    def network(cls, project, name, ntype, seg, cidr, ip_version=4):
        attrs = {'name': name, 'project_id': project, 'provider:network_type': ntype}
        if seg is not None:
            attrs['provider:segmentation_id'] = seg
        if ntype in ('vlan', 'flat'):
            attrs['provider:physical_network'] = 'physnet1'
        net = cls.api('POST', '/v2.0/networks', {'network': attrs})['network']
        cls.api('POST', '/v2.0/subnets', {'subnet': {
            'network_id': net['id'], 'cidr': cidr, 'ip_version': ip_version,
            'project_id': project}})
        return net

    @classmethod
    def group(cls, project, name, rules, stateful=True):
        sg = cls.api('POST', '/v2.0/security-groups', {'security_group': {
            'name': name, 'project_id': project, 'stateful': stateful}})['security_group']
        for r in rules:
            cls.api('POST', '/v2.0/security-group-rules', {'security_group_rule': dict(
                r, security_group_id=sg['id'], ethertype='IPv4', project_id=project)})
        return sg

    @classmethod
    def vm(cls, name, host, net, project, ip=None, groups=None, prefixlen=24, port_security=True):
        attrs = {'network_id': net['id'], 'project_id': project, 'name': name,
                 'binding:host_id': host.name, 'device_owner': 'compute:nova'}
        if not port_security:
            attrs['port_security_enabled'] = False
            attrs['security_groups'] = []
        if ip:
            attrs['fixed_ips'] = [{'ip_address': ip}]
        if groups is not None:
            attrs['security_groups'] = [g['id'] for g in groups]
        port = cls.api('POST', '/v2.0/ports', {'port': attrs})['port']
        return cls.lab.add_vm(name, host, port, prefixlen)

    @classmethod
    def make_topology(cls):
        h1, h2 = cls.h1, cls.h2
        # Tenant A and tenant B use the same addresses on the same hosts:
        # only the segment tells them apart.
        a_vlan = cls.network('tenant-a', 'a-vlan', 'vlan', 101, '10.1.0.0/24')
        b_vlan = cls.network('tenant-b', 'b-vlan', 'vlan', 102, '10.1.0.0/24')
        a_gre = cls.network('tenant-a', 'a-nvgre', 'nvgre', 5101, '10.2.0.0/24')
        b_gre = cls.network('tenant-b', 'b-nvgre', 'nvgre', 5102, '10.2.0.0/24')
        sec = cls.network('tenant-a', 'a-sec', 'vlan', 103, '10.3.0.0/24')
        rw = cls.network('tenant-a', 'a-rewrite', 'ip_rewrite', 5201, '10.4.0.0/24')
        flat = cls.network('tenant-a', 'a-flat', 'flat', None, '10.5.0.0/24')
        local = cls.network('tenant-a', 'a-local', 'local', None, '10.6.0.0/24')
        v6 = cls.network('tenant-a', 'a-v6', 'vlan', 104, 'fd00:6::/64', ip_version=6)
        # A virtual subnet whose only port is on h2 (h1 holds none of it).
        solo = cls.network('tenant-b', 'b-solo', 'nvgre', 5103, '10.7.0.0/24')
        # default groups: members reach each other, egress anywhere
        cls.a1 = cls.vm('a1', h1, a_vlan, 'tenant-a', '10.1.0.11')
        cls.a2 = cls.vm('a2', h2, a_vlan, 'tenant-a', '10.1.0.12')
        cls.b1 = cls.vm('b1', h1, b_vlan, 'tenant-b', '10.1.0.11')
        cls.b2 = cls.vm('b2', h2, b_vlan, 'tenant-b', '10.1.0.12')
        cls.g1 = cls.vm('g1', h1, a_gre, 'tenant-a', '10.2.0.11')
        cls.g2 = cls.vm('g2', h2, a_gre, 'tenant-a', '10.2.0.12')
        cls.x2 = cls.vm('x2', h2, b_gre, 'tenant-b', '10.2.0.12')
        cls.x1 = cls.vm('x1', h1, b_gre, 'tenant-b', '10.2.0.11')
        cls.r1 = cls.vm('r1', h1, rw, 'tenant-a', '10.4.0.11')
        cls.r2 = cls.vm('r2', h2, rw, 'tenant-a', '10.4.0.12')
        cls.f1 = cls.vm('f1', h1, flat, 'tenant-a', '10.5.0.11')
        cls.f2 = cls.vm('f2', h2, flat, 'tenant-a', '10.5.0.12')
        cls.l1 = cls.vm('l1', h1, local, 'tenant-a', '10.6.0.11')
        cls.l1b = cls.vm('l1b', h1, local, 'tenant-a', '10.6.0.13')
        cls.l2 = cls.vm('l2', h2, local, 'tenant-a', '10.6.0.12')
        cls.v1 = cls.vm('v1', h1, v6, 'tenant-a', 'fd00:6::11', prefixlen=64)
        cls.v2 = cls.vm('v2', h2, v6, 'tenant-a', 'fd00:6::12', prefixlen=64)
        cls.y2 = cls.vm('y2', h2, solo, 'tenant-b', '10.7.0.12')
        # A VM on the flat network without port security: it may send from
        # any address, a provider address included.
        cls.z1 = cls.vm('z1', h1, flat, 'tenant-a', '10.5.0.21', port_security=False)
        # Security groups: the client has egress only; the server accepts
        # tcp/8080 from anywhere and tcp/9090 from members of "trusted".
        cls.trusted = cls.group('tenant-a', 'trusted', [])
        client = cls.group('tenant-a', 'client', [])
        web = cls.group('tenant-a', 'web', [
            {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 8080,
             'port_range_max': 8080, 'remote_ip_prefix': '0.0.0.0/0'},
            {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 9090,
             'port_range_max': 9090, 'remote_group_id': cls.trusted['id']},
            {'direction': 'ingress', 'protocol': 'icmp', 'port_range_min': 8,
             'port_range_max': 0, 'remote_ip_prefix': '10.3.0.0/24'}])
        cls.client_group = client
        cls.s1 = cls.vm('s1', h1, sec, 'tenant-a', '10.3.0.11', [client])
        cls.s2 = cls.vm('s2', h2, sec, 'tenant-a', '10.3.0.12', [web])
        cls.s2.listen(8080)
        cls.s2.listen(9090)
        cls.s2.listen(7070)
        # Stateless groups (stateful-security-group): the server lets in
        # tcp/8080 and echo requests, the client nothing (yet); both send
        # anything (a new group's egress rules).
        stateless = cls.network('tenant-a', 'a-stateless', 'vlan', 105, '10.8.0.0/24')
        cls.sl_client = cls.group('tenant-a', 'sl-client', [], stateful=False)
        sl_server = cls.group('tenant-a', 'sl-server', [
            {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 8080,
             'port_range_max': 8080},
            {'direction': 'ingress', 'protocol': 'icmp', 'port_range_min': 8}], stateful=False)
        cls.t1 = cls.vm('t1', h1, stateless, 'tenant-a', '10.8.0.11', [cls.sl_client])
        cls.t2 = cls.vm('t2', h2, stateless, 'tenant-a', '10.8.0.12', [sl_server])
        cls.t2.listen(8080)
        cls.wait_active([vm.port['id'] for vm in cls.lab.vms])

    @classmethod
    def wait_active(cls, ids, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            ports = cls.api('GET', '/v2.0/ports')['ports']
            down = [p for p in ports if p['id'] in ids and p['status'] != 'ACTIVE']
            if not down:
                return
            time.sleep(0.2)
        raise AssertionError('ports not ACTIVE: %s\nh1 agent:\n%s\nh2 agent:\n%s' % (
            [(p['name'], p['status'], p['binding:vif_type']) for p in down],
            cls.h1.read_agent_log()[-2500:], cls.h2.read_agent_log()[-2500:]))

    # ---------- the tests ----------

    def test_binding_is_ovs_with_port_filter(self):
        port = self.api('GET', '/v2.0/ports/' + self.a1.port['id'])['port']
        self.assertEqual(port['binding:vif_type'], 'ovs')
        self.assertTrue(port['binding:vif_details']['port_filter'])
        self.assertEqual(port['status'], 'ACTIVE')

    def test_vlan_reachability_and_tenant_isolation(self):
        cap = netlab.Capture(self.lab, self.b2.ns, 'eth0', '')
        before = self.b2.rx_packets()
        self.assertEqual(self.a1.ping(self.a2.ip, count=5), 5)
        self.assertEqual(self.a2.ping(self.a1.ip, count=3), 3)
        # Tenant B's VM with the very address tenant A pinged saw nothing
        # of it: not the ARP broadcast, not the echo requests.
        got = self.b2.rx_packets() - before
        frames = cap.stop()
        self.assertEqual(got, 0, 'frames: %s' % [f[:42].hex() for f in frames])
        # ... and its own network works.
        self.assertEqual(self.b1.ping(self.b2.ip, count=2), 2)

    def test_flat_untagged_across_hosts(self):
        cap = netlab.Capture(self.lab, self.h1.ns, 'ul1', 'icmp')
        self.assertEqual(self.f1.ping(self.f2.ip, count=3), 3)
        frames = cap.stop()
        self.assertTrue(frames)
        self.assertEqual({f[12:14] for f in frames}, {b'\x08\x00'}, 'untagged IPv4 only')

    def test_ipv6_reachability_and_spoofing(self):
        # Neighbour discovery, then echo, through both hosts' security groups
        # (the default group: ingress from its members, IPv6 too).
        self.assertGreaterEqual(self.v1.ping(self.v2.ip, count=4), 3)
        self.assertEqual(self.v2.ping(self.v1.ip, count=3), 3)
        # An address that is not the port's does not get out.
        self.v1.sh('ip', '-6', 'addr', 'add', 'fd00:6::99/64', 'dev', 'eth0', 'nodad')
        try:
            self.assertEqual(self.v2.ping('fd00:6::99', count=2, wait=1), 0)
        finally:
            self.v1.sh('ip', '-6', 'addr', 'del', 'fd00:6::99/64', 'dev', 'eth0')

    def test_local_network_stays_on_its_host(self):
        self.assertEqual(self.l1.ping(self.l1b.ip, count=3), 3)
        # l2 holds the same network's address range on the other host: a
        # local network does not leave its host.
        self.assertEqual(self.l1.ping(self.l2.ip, count=2, wait=1), 0)

    def test_vlan_tags_on_the_underlay(self):
        # Only the ping's frames: other tests' VMs may still be sending
        # (the stateless group test's unanswered TCP retransmits for minutes).
        cap = netlab.Capture(self.lab, self.h1.ns, 'ul1', 'vlan and icmp and host %s' % self.a1.ip)
        self.assertEqual(self.a1.ping(self.a2.ip, count=3), 3)
        frames = cap.stop()
        vids = {int.from_bytes(f[14:16], 'big') & 0xfff for f in frames}
        self.assertEqual(vids, {101}, 'tags seen: %s' % vids)

    def test_nvgre_reachability_header_and_isolation(self):
        cap = netlab.Capture(self.lab, self.h1.ns, 'ul1', 'ip proto 47')
        before = self.x2.rx_packets()
        self.assertEqual(self.g1.ping(self.g2.ip, count=5), 5)
        frames = cap.stop()
        self.assertEqual(self.x2.rx_packets() - before, 0,
                         'the other tenant\'s VM with the same address got packets')
        gre = netlab.gre_headers(frames)
        # 5 requests + 5 replies at least (plus ARP)
        self.assertGreaterEqual(len(gre), 10)
        for src, dst, flags, proto, key, inner in gre:
            self.assertEqual(flags, 0x2000, 'GRE flags: only the key bit (RFC 7637)')
            self.assertEqual(proto, 0x6558, 'transparent Ethernet bridging')
            self.assertEqual(key >> 8, 5101, 'key = VSID << 8 | flow id: 0x%08x' % key)
            self.assertEqual({src, dst}, {self.h1.pa, self.h2.pa})
            macs = {inner[0:6].hex(':'), inner[6:12].hex(':')}
            self.assertTrue(macs & {self.g1.mac, self.g2.mac}, macs)
        # Both directions were encapsulated.
        self.assertEqual({s for s, *_ in gre}, {self.h1.pa, self.h2.pa})
        self.assertEqual(self.x1.ping(self.x2.ip, count=2), 2)

    def test_ip_rewrite_shows_only_provider_addresses(self):
        cap = netlab.Capture(self.lab, self.h1.ns, 'ul1', 'ip')
        self.assertEqual(self.r1.ping(self.r2.ip, count=5), 5)
        frames = cap.stop()
        pairs = set()
        for fr in frames:
            if fr[12:14] != b'\x08\x00':
                continue
            src = '.'.join(str(b) for b in fr[26:30])
            dst = '.'.join(str(b) for b in fr[30:34])
            self.assertFalse(src.startswith('10.') or dst.startswith('10.'),
                             'a customer address on the wire: %s > %s' % (src, dst))
            if fr[23] == 1:     # ICMP between provider addresses
                pairs.add((src, dst))
        pool1 = ['192.168.250.%d' % i for i in range(96, 112)]
        pool2 = ['192.168.250.%d' % i for i in range(112, 128)]
        self.assertTrue(any(s in pool1 and d in pool2 for s, d in pairs), pairs)
        self.assertTrue(any(s in pool2 and d in pool1 for s, d in pairs), pairs)
        # The echo replies were rewritten back: the VM got them from r2's
        # customer address (ping counted them above).

    # ---------- isolation under a careless underlay ----------
    # The lab's underlay is careless on purpose: br-phy holds each host's
    # provider address and is also physnet1, the flat network's bridge, so a
    # VM on a-flat can put packets straight onto the underlay.

    BAD, GOOD = 0xbad, 0x600d   # the ICMP id of the probes, and their ARP sender's MAC

    @staticmethod
    def _probes(mark, src_vm, dst_vm):
        """5 echo requests from src_vm's address to dst_vm and 5 broadcast ARP
        requests for dst_vm (from an unused address, so dst_vm's neighbour
        entry for src_vm stays right), marked with mark."""
        return ([netlab.icmp_echo(src_vm.mac, dst_vm.mac, src_vm.ip, dst_vm.ip, mark, i)
                 for i in range(5)] +
                [netlab.arp_request('02:00:00:00:%02x:%02x' % (mark >> 8, mark & 255),
                                    dst_vm.ip.rsplit('.', 1)[0] + '.99', dst_vm.ip)
                 for _ in range(5)])

    @staticmethod
    def _marked(frames, mark):
        """(echo requests, ARP requests) among frames with mark."""
        mac = bytes.fromhex('02000000%04x' % mark)
        return (sum(f[12:14] == b'\x08\x00' and f[34] == 8 and
                    int.from_bytes(f[38:40], 'big') == mark for f in frames),
                sum(f[12:14] == b'\x08\x06' and f[6:12] == mac for f in frames))

    def test_nvgre_only_from_hosts_of_the_vsid(self):
        h1, h2, x1, x2, y2 = self.h1, self.h2, self.x1, self.x2, self.y2
        h2_mac = h2.sh('cat', '/sys/class/net/br-phy/address').strip()
        cap_x2 = netlab.Capture(self.lab, x2.ns, 'eth0', 'icmp or arp')
        cap_y2 = netlab.Capture(self.lab, y2.ns, 'eth0', 'icmp or arp')
        before = x2.rx_packets()
        # 1. A VM on the flat network sends NVGRE with tenant B's VSID to h2's
        #    provider address, from its own (fixed) address.
        f1 = self.f1
        netlab.send_frames(f1.ns, 'eth0', [
            netlab.ether(h2_mac, f1.mac, 0x0800,
                         netlab.ipv4(f1.ip, h2.pa, 47, netlab.nvgre(5102, inner)))
            for inner in self._probes(self.BAD, x1, x2)])
        # 2. A real host, h1, with the VSID of b-solo, which it holds no port
        #    of (as if from a VM of h1's at 10.7.0.11).
        fake = types.SimpleNamespace(ip='10.7.0.11', mac=x1.mac)
        netlab.send_gre(h1.ns, h2.pa, [netlab.nvgre(5103, inner)
                                       for inner in self._probes(self.BAD, fake, y2)])
        # 3. The same host with the VSID of b-nvgre, where it holds x1: taken.
        netlab.send_gre(h1.ns, h2.pa, [netlab.nvgre(5102, inner)
                                       for inner in self._probes(self.GOOD, x1, x2)])
        self.wait_for('the NVGRE of a host of the VSID at x2',
                      lambda: x2.rx_packets() - before >= 10, h2.read_agent_log)
        at_x2, at_y2 = cap_x2.stop(), cap_y2.stop()
        self.assertEqual(self._marked(at_x2, self.GOOD), (5, 5), 'from a host of the VSID')
        self.assertEqual(self._marked(at_x2, self.BAD), (0, 0),
                         'NVGRE from a VM on the flat network was delivered')
        self.assertEqual(self._marked(at_y2, self.BAD), (0, 0),
                         'NVGRE from a host with no port of the VSID was delivered')
        # The network itself still works both ways.
        self.assertTrue(x1.reaches(x2.ip))
        self.assertTrue(x2.reaches(x1.ip))

    def _rewrite_pas(self):
        """(r1's provider address, r2's), seen on the underlay."""
        cap = netlab.Capture(self.lab, self.h1.ns, 'ul1', 'icmp')
        self.assertTrue(self.r1.reaches(self.r2.ip))
        pairs = {('.'.join(str(b) for b in f[26:30]), '.'.join(str(b) for b in f[30:34]))
                 for f in cap.stop() if f[12:14] == b'\x08\x00' and f[34] == 8}
        self.assertEqual(len(pairs), 1, pairs)
        return pairs.pop()

    def test_ip_rewrite_only_from_the_host_of_the_address(self):
        r1_pa, r2_pa = self._rewrite_pas()
        # z1 (flat, no port security) impersonates r1 towards r2: r1's
        # provider address as source, sent to r2's provider address.
        r2_pa_mac = '02:71:' + ':'.join('%02x' % int(b) for b in r2_pa.split('.'))
        z1, r2 = self.z1, self.r2
        cap = netlab.Capture(self.lab, r2.ns, 'eth0', 'icmp')
        bad = [netlab.icmp_echo(z1.mac, r2_pa_mac, r1_pa, r2_pa, self.BAD, i) for i in range(5)]
        netlab.send_frames(z1.ns, 'eth0', bad)
        # r1 itself gets through meanwhile (the same path into r2).
        self.assertEqual(self.r1.ping(self.r2.ip, count=3), 3)
        frames = cap.stop()
        spoofed = self._marked(frames, self.BAD)[0]
        self.assertEqual(spoofed, 0, 'rewritten traffic from a VM impersonating r1 was delivered')

    def _agent_start_log(self, h, mappings):
        """The log of a qhv-agent started in h's namespace (where h's provider
        address is; the lab's agents run outside it) with these bridge
        mappings, up to its start line. It reaches no server and no OVS."""
        d = tempfile.mkdtemp(dir=self.lab.dir)
        conf = os.path.join(d, 'agent.conf')
        with open(conf, 'w') as f:
            f.write('[DEFAULT]\nhost = %s\n[agent]\nserver_url = http://127.0.0.1:9\n'
                    'auth_token = x\nbackend = ovs\nprovider_address = %s\n'
                    '[ovs]\nbridge_mappings = %s\ndatapath_type = netdev\novs_rundir = %s\n'
                    % (h.name, h.pa, mappings, d))
        path = os.path.join(d, 'agent.log')
        with open(path, 'wb') as log:
            p = subprocess.Popen(['ip', 'netns', 'exec', h.ns, AGENT, '--config-file', conf],
                                 stdout=log, stderr=log)

        def read():
            with open(path, 'rb') as f:
                return f.read().decode(errors='replace')
        try:
            self.wait_for('the agent to start', lambda: 'qhv-agent for host' in read(), read)
        finally:
            p.terminate()
            p.wait(15)
        return read()

    def test_agent_warns_of_a_careless_underlay(self):
        # The lab's layout: br-phy holds the provider address and is physnet1's.
        log = self._agent_start_log(self.h1, 'physnet1:br-phy')
        self.assertIn('provider address %s is on br-phy, the bridge of physical network '
                      'physnet1' % self.h1.pa, log)
        # A physical network on another bridge: no warning.
        log = self._agent_start_log(self.h1, 'physnet1:br-vms')
        self.assertNotIn('provider address', log)

    def test_security_group_ports_and_stateful_replies(self):
        # tcp/8080 is open to all; tcp/7070 is listening but not allowed.
        self.assertTrue(self.s1.tcp(self.s2.ip, 8080))
        self.assertFalse(self.s1.tcp(self.s2.ip, 7070))
        # s1 has no ingress rule at all: the handshake above completed only
        # because replies to its egress are let in. New connections to it
        # are not: s2 cannot ping it.
        self.assertEqual(self.s2.ping(self.s1.ip, count=2, wait=1), 0)
        # icmp echo (type 8) to s2 is allowed from its subnet.
        self.assertEqual(self.s1.ping(self.s2.ip, count=2), 2)

    def test_stateless_groups_keep_no_state(self):
        # The server takes the echo requests and the SYN, and answers (its
        # egress is open), but without connection state nothing lets the
        # answers into the client, which has no ingress rule.
        self.assertEqual(self.t1.ping(self.t2.ip, count=2, wait=1), 0)
        self.assertFalse(self.t1.tcp(self.t2.ip, 8080, timeout=0.5))
        # A rule for the answers themselves opens the way back.
        rule = self.api('POST', '/v2.0/security-group-rules', {'security_group_rule': {
            'security_group_id': self.sl_client['id'], 'direction': 'ingress',
            'ethertype': 'IPv4', 'remote_ip_prefix': '10.8.0.12/32',
            'project_id': 'tenant-a'}})['security_group_rule']
        try:
            deadline = time.time() + 15
            while time.time() < deadline and not self.t1.ping_once(self.t2.ip, wait=0.5):
                pass
            self.assertEqual(self.t1.ping(self.t2.ip, count=2), 2)
            self.assertTrue(self.t1.tcp(self.t2.ip, 8080))
            # The server's side is still by its rules only: 7070 is not one.
            self.assertFalse(self.t1.tcp(self.t2.ip, 7070, timeout=0.5))
        finally:
            self.api('DELETE', '/v2.0/security-group-rules/' + rule['id'])

    def test_remote_group_membership_opens_access(self):
        self.assertFalse(self.s1.tcp(self.s2.ip, 9090, timeout=0.5))
        t0 = time.time()
        self.api('PUT', '/v2.0/ports/' + self.s1.port['id'], {'port': {
            'security_groups': [self.client_group['id'], self.trusted['id']]}})
        opened = None
        while time.time() - t0 < 15:
            if self.s1.tcp(self.s2.ip, 9090, timeout=0.2):
                opened = time.time() - t0
                break
        self.assertIsNotNone(opened, 'joining the remote group did not open tcp/9090')
        print('\nremote group join -> tcp/9090 open: %.3f s' % opened, file=sys.stderr)
        try:
            self.assertFalse(self.s1.tcp(self.s2.ip, 7070, timeout=0.5))
        finally:
            self.api('PUT', '/v2.0/ports/' + self.s1.port['id'], {'port': {
                'security_groups': [self.client_group['id']]}})
        deadline = time.time() + 15
        while time.time() < deadline and self.s1.tcp(self.s2.ip, 9090, timeout=0.2):
            time.sleep(0.1)
        self.assertFalse(self.s1.tcp(self.s2.ip, 9090, timeout=0.5), 'leaving did not close it')

    def test_anti_spoofing(self):
        # A VM that takes another address is cut off; back to its own, it works.
        self.a1.sh('ip', 'addr', 'add', '10.1.0.99/24', 'dev', 'eth0')
        try:
            self.assertEqual(self.a2.ping('10.1.0.99', count=2, wait=1), 0)
        finally:
            self.a1.sh('ip', 'addr', 'del', '10.1.0.99/24', 'dev', 'eth0')
        self.assertEqual(self.a2.ping(self.a1.ip, count=1), 1)

    def test_agent_restart_loses_no_packet(self):
        h = self.h1
        flows = h.flows()
        result = {}

        def pinger():
            result['got'] = self.a1.ping(self.a2.ip, count=80, interval=0.05, wait=1)
        t = threading.Thread(target=pinger)
        t.start()
        time.sleep(0.5)
        self.assertIn(h.stop_agent(), (0, -15))
        h.start_agent(AGENT, h.conf)
        self.h2.stop_agent()
        self.h2.start_agent(AGENT, self.h2.conf)
        t.join()
        self.assertEqual(result['got'], 80, 'packets lost across the agent restarts')
        # The restarted agents changed nothing: the very same flows.
        self.assertEqual(h.flows(), flows)
        self.assertIn('qhv-agent for host h1', h.read_agent_log())

    def test_vswitchd_restart_reinstalls_flows(self):
        h = self.h2
        flows = h.flows()
        h.stop_vswitchd()
        h.start_vswitchd()
        deadline = time.time() + 30
        while time.time() < deadline and not self.a1.ping_once(self.a2.ip):
            time.sleep(0.2)
        self.assertEqual(self.a1.ping(self.a2.ip, count=3), 3)
        self.assertEqual(self.g1.ping(self.g2.ip, count=3), 3)
        self.assertEqual(h.flows(), flows)


if __name__ == '__main__':
    unittest.main()
