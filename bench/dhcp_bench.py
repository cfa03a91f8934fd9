#!/usr/bin/python3
"""Network node at scale (issue 14, item 5): one network node (a namespace
with its own Open vSwitch on the userspace datapath and a qhv-agent with
[dhcp] enabled, as tests/system/netlab.py builds them) and a probe plugged
on its integration bridge that speaks DHCP with raw frames. Prints:

  served latency   N ports created one after the other on one network
                   (POST /v2.0/ports): time from the create's answer until
                   the node answers a DHCPDISCOVER from the port's MAC with
                   an offer of its address (the plan reached the agent, the
                   files were rewritten, dnsmasq reloaded), p50/p99/max
  reloads/s        with those N hosts in dnsmasq's files: SIGHUPs dnsmasq
                   processes per second (each one rereads hosts and options),
                   and the reloads the agent caused during the run
  per network      M more networks served: RSS of dnsmasq and of the
                   metadata proxy per network, the agent's RSS growth per
                   network, CPU seconds the node spent per network to set
                   it up (agent + dnsmasq)

Usage: bench/dhcp_bench.py [--build DIR] [--ports 1000] [--networks 20]
Needs root (namespaces, Open vSwitch), dnsmasq and nsenter. Not a test: it
prints figures (docs/network-node.md keeps them). Standard library only.
"""
import argparse
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'api'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'system'))
import qhvtest  # noqa: E402
import netlab  # noqa: E402

SERVER_CONF = """
[DEFAULT]
dhcp_agents_per_network = 1
[agent]
auth_token = bench-secret
report_interval = 10
[quotas]
quota_port = -1
quota_network = -1
quota_subnet = -1
"""

NODE_CONF = """[dhcp]
enabled = true
state_path = {dir}/dhcp
namespace_prefix = {prefix}
enable_isolated_metadata = true
[DEFAULT]
debug = true
"""


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))] if xs else float('nan')


def discover(mac, xid):
    """A DHCPDISCOVER frame from mac (broadcast, no IP yet)."""
    chaddr = bytes.fromhex(mac.replace(':', ''))
    bootp = struct.pack('!BBBBIHH4s4s4s4s16s64s128s', 1, 1, 6, 0, xid, 0, 0x8000, b'\0' * 4,
                        b'\0' * 4, b'\0' * 4, b'\0' * 4, chaddr + b'\0' * 10, b'\0' * 64,
                        b'\0' * 128)
    opts = b'\x63\x82\x53\x63' + bytes([53, 1, 1, 55, 3, 1, 3, 6, 255])
    udp_payload = bootp + opts
    udp = struct.pack('!HHHH', 68, 67, 8 + len(udp_payload), 0) + udp_payload
    ip = netlab.ipv4('0.0.0.0', '255.255.255.255', 17, udp)
    return netlab.ether('ff:ff:ff:ff:ff:ff', mac, 0x0800, ip)


class Probe:
    """In the probe VM's namespace: sends DISCOVERs for the MACs it is told
    to watch, every 50 ms until each gets an offer, and records when."""

    CODE = r'''
import select, socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.bind(('eth0', 0))
pending, frames = {}, {}
last = 0
while True:
    r, _, _ = select.select([sys.stdin, s], [], [], 0.01)
    if sys.stdin in r:
        line = sys.stdin.readline()
        if not line:
            break
        mac, frame = line.split()
        pending[mac] = bytes.fromhex(frame)
    if s in r:
        fr = s.recv(2048)
        if len(fr) > 282 and fr[23] == 17 and fr[36:38] == b'\x00\x44':
            ihl = (fr[14] & 15) * 4
            b = fr[14 + ihl + 8:]
            mac = b[28:34].hex(':')
            if mac in pending and b[0] == 2:
                print(mac, time.time(), '.'.join(map(str, b[16:20])), flush=True)
                del pending[mac]
    now = time.time()
    if now - last > 0.02:
        last = now
        for f in list(pending.values()):
            try:
                s.send(f)
            except OSError:
                pass    # the link not up yet: the next round sends again
'''

    def __init__(self, ns):
        self.proc = subprocess.Popen(['ip', 'netns', 'exec', ns, '/usr/bin/python3', '-c',
                                      self.CODE], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.offers = {}
        self.lock = threading.Lock()
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        for line in self.proc.stdout:
            mac, t, ip = line.split()
            with self.lock:
                self.offers[mac] = (float(t), ip)

    def watch(self, mac):
        self.proc.stdin.write('%s %s\n' % (mac, discover(mac, random.randrange(1 << 32)).hex()))
        self.proc.stdin.flush()

    def offer(self, mac):
        with self.lock:
            return self.offers.get(mac)

    def close(self):
        self.proc.stdin.close()
        self.proc.kill()
        self.proc.wait()


def rss_kib(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_s(pid, children=False):
    """User + system CPU seconds of pid (and of its reaped children: the
    agent's ip, nsenter and ovs-vsctl runs)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
        t = int(fields[11]) + int(fields[12])
        if children:
            t += int(fields[13]) + int(fields[14])
        return t / os.sysconf('SC_CLK_TCK')
    except (OSError, IndexError, ValueError):
        return 0.0


def dnsmasq_pids(node):
    out = {}
    root = os.path.join(node.dir, 'dhcp')
    for net in os.listdir(root) if os.path.isdir(root) else []:
        try:
            with open(os.path.join(root, net, 'pid')) as f:
                out[net] = int(f.read().strip())
        except (OSError, ValueError):
            pass
    return out


def proxy_pids(agent_pid):
    """The agent's children that are the agent's own program (the metadata
    proxies; not ovsdb-client)."""
    try:
        with open('/proc/%d/task/%d/children' % (agent_pid, agent_pid)) as f:
            kids = [int(x) for x in f.read().split()]
        exe = os.readlink('/proc/%d/exe' % agent_pid)
        return [k for k in kids if os.readlink('/proc/%d/exe' % k) == exe]
    except OSError:
        return []


def reads(node, net_id):
    """How many times dnsmasq has read its hosts file (its log says so)."""
    try:
        with open(os.path.join(node.dir, 'dhcp', net_id, 'dnsmasq.log')) as f:
            return sum(1 for line in f if ' read ' in line and line.rstrip().endswith('/host'))
    except OSError:
        return 0


class LogTail:
    """Counts new hosts-file reads in a dnsmasq log as it grows."""

    def __init__(self, path):
        self.f = open(path)
        self.f.seek(0, 2)
        self.buf = ''

    def new_reads(self):
        self.buf += self.f.read()
        lines = self.buf.split('\n')
        self.buf = lines.pop()
        return sum(1 for l in lines if ' read ' in l and l.rstrip().endswith('/host'))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', default=os.path.join(ROOT, 'build'))
    ap.add_argument('--ports', type=int, default=1000)
    ap.add_argument('--networks', type=int, default=20)
    a = ap.parse_args()
    why = netlab.missing()
    if why:
        sys.exit('dhcp_bench: ' + why)
    os.environ['QHV_SERVER'] = os.path.join(a.build, 'src', 'qhv-server')
    qhvtest.SERVER = os.environ['QHV_SERVER']
    agent_bin = os.path.join(a.build, 'src', 'qhv-agent')
    server = qhvtest.Server(SERVER_CONF).start()
    admin = qhvtest.Client(server.port)
    lab = netlab.Lab()
    node = None
    try:
        node = lab.add_host('n1', 1)
        node.conf = node.agent_conf('http://127.0.0.1:%d' % server.port,
                                    server.agent_token('n1'),
                                    NODE_CONF.format(dir=node.dir, prefix=lab.prefix + 'n1-'))
        node.start_agent(agent_bin, node.conf)

        def api(method, path, body=None):
            st, out = admin.request(method, path, body)
            if st >= 300:
                raise RuntimeError('%s %s: %s %s' % (method, path, st, out))
            return out

        def wait(what, fn, timeout=300):
            deadline = time.time() + timeout
            while time.time() < deadline:
                v = fn()
                if v:
                    return v
                time.sleep(0.05)
            raise RuntimeError('timed out waiting for %s:\n%s' % (what,
                                                                  node.read_agent_log()[-3000:]))

        wait('the DHCP agent', lambda: any(
            ag['agent_type'] == 'DHCP agent' and ag['alive']
            for ag in api('GET', '/v2.0/agents')['agents']))
        net = api('POST', '/v2.0/networks', {'network': {
            'name': 'bench', 'provider:network_type': 'vlan',
            'provider:physical_network': 'physnet1', 'provider:segmentation_id': 300}})['network']
        api('POST', '/v2.0/subnets', {'subnet': {'network_id': net['id'], 'ip_version': 4,
                                                 'cidr': '10.128.0.0/20'}})
        wait('the DHCP port', lambda: [p for p in api(
            'GET', '/v2.0/ports?device_owner=network:dhcp&network_id=' + net['id'])['ports']
            if p['status'] == 'ACTIVE'])
        probe_port = api('POST', '/v2.0/ports', {'port': {
            'network_id': net['id'], 'name': 'probe', 'binding:host_id': 'n1',
            'port_security_enabled': False, 'security_groups': []}})['port']
        vm = lab.add_dhcp_vm('probe', node, probe_port)
        wait('the probe port', lambda: api('GET', '/v2.0/ports/' + probe_port['id'])['port'][
            'status'] == 'ACTIVE')
        probe = Probe(vm.ns)
        agent_pid = node.agent.pid
        cpu0 = cpu_s(agent_pid, True)
        reads0 = reads(node, net['id'])

        # ---- served latency ----
        lat, created = [], []
        t_start = time.time()
        for i in range(a.ports):
            port = api('POST', '/v2.0/ports', {'port': {
                'network_id': net['id'], 'name': 'p%d' % i,
                'device_owner': 'compute:nova'}})['port']
            created.append((port, time.time()))
            probe.watch(port['mac_address'])
        t_created = time.time()
        for port, t0 in created:
            got = wait('an offer for %s' % port['mac_address'],
                       lambda: probe.offer(port['mac_address']), timeout=600)
            if got[1] != port['fixed_ips'][0]['ip_address']:
                raise RuntimeError('offered %s for %s' % (got[1], port['fixed_ips'][0]))
            lat.append(got[0] - t0)
        t_done = time.time()
        cpu1 = cpu_s(agent_pid, True)
        dn = dnsmasq_pids(node).get(net['id'])
        reloads = reads(node, net['id']) - reads0
        print('served latency: %d ports created in %.1f s (%.0f/s); create -> offered: '
              'p50 %.0f ms, p99 %.0f ms, max %.0f ms (probe every 20 ms); all served %.1f s after '
              'the first create'
              % (a.ports, t_created - t_start, a.ports / (t_created - t_start),
                 pct(lat, 50) * 1e3, pct(lat, 99) * 1e3, max(lat) * 1e3, t_done - t_start))
        print('during it: %d dnsmasq reloads (%.1f/s), agent CPU %.1f s (with its tools), dnsmasq '
              'RSS %d KiB '
              'with %d hosts, agent RSS %d KiB'
              % (reloads, reloads / (t_done - t_start), cpu1 - cpu0, rss_kib(dn), a.ports,
                 rss_kib(agent_pid)))

        # ---- reloads/s dnsmasq sustains with those hosts ----
        n_hup = 200
        tail = LogTail(os.path.join(node.dir, 'dhcp', net['id'], 'dnsmasq.log'))
        t0 = time.time()
        for _ in range(n_hup):
            os.kill(dn, signal.SIGHUP)
            # One at a time: a signal sent while one is pending is merged.
            deadline = time.time() + 60
            while not tail.new_reads():
                if time.time() > deadline:
                    raise RuntimeError('dnsmasq did not reload')
                time.sleep(0.0005)
        dt = time.time() - t0
        print('reloads: dnsmasq rereads %d hosts %.0f times/s (%d SIGHUPs, one after the other)'
              % (a.ports, n_hup / dt, n_hup))

        # ---- per served network ----
        base_agent = rss_kib(agent_pid)
        base_cpu = cpu_s(agent_pid, True) + sum(cpu_s(p) for p in dnsmasq_pids(node).values())
        t0 = time.time()
        nets = []
        for i in range(a.networks):
            n = api('POST', '/v2.0/networks', {'network': {
                'name': 'm%d' % i, 'provider:network_type': 'vlan',
                'provider:physical_network': 'physnet1',
                'provider:segmentation_id': 400 + i}})['network']
            api('POST', '/v2.0/subnets', {'subnet': {'network_id': n['id'], 'ip_version': 4,
                                                     'cidr': '10.%d.0.0/24' % (160 + i)}})
            for k in range(10):
                api('POST', '/v2.0/ports', {'port': {'network_id': n['id'], 'name': 'q%d' % k}})
            nets.append(n)
        wait('%d networks served' % (a.networks + 1),
             lambda: len(dnsmasq_pids(node)) >= a.networks + 1 and all(
                 os.path.exists('/proc/%d' % p) for p in dnsmasq_pids(node).values()) and all(
                 sum(1 for _ in open(os.path.join(node.dir, 'dhcp', n['id'], 'host'))) >= 10
                 for n in nets if os.path.exists(os.path.join(node.dir, 'dhcp', n['id'],
                                                              'host'))), timeout=600)
        dt = time.time() - t0
        pids = dnsmasq_pids(node)
        new = [pids[n['id']] for n in nets if n['id'] in pids]
        proxies = proxy_pids(agent_pid)
        cpu = cpu_s(agent_pid, True) + sum(cpu_s(p) for p in pids.values()) - base_cpu
        print('per network (%d networks of 10 ports, served in %.1f s): dnsmasq RSS %.0f KiB, '
              'metadata proxy RSS %.0f KiB (%d proxies), agent RSS +%.0f KiB, node CPU %.0f ms'
              % (len(new), dt, sum(rss_kib(p) for p in new) / max(1, len(new)),
                 sum(rss_kib(p) for p in proxies) / max(1, len(proxies)), len(proxies),
                 (rss_kib(agent_pid) - base_agent) / max(1, len(new)),
                 cpu * 1e3 / max(1, len(new))))
        probe.close()
    finally:
        if node:
            node.stop_agent()
            for pid in dnsmasq_pids(node).values():
                try:
                    os.kill(pid, signal.SIGTERM)
                except OSError:
                    pass
            for ns in subprocess.run(['ip', 'netns', 'list'], capture_output=True,
                                     text=True).stdout.split():
                if ns.startswith(lab.prefix + 'n1-'):
                    subprocess.run(['ip', 'netns', 'del', ns], capture_output=True)
        lab.close()
        server.stop()
        server.cleanup()


if __name__ == '__main__':
    main()
