"""A lab of simulated hosts in network namespaces, each with its own Open
vSwitch (userspace datapath, ../shared/reference/linux-dataplane.md) and its
own qhv-agent on the ovs backend, and VMs as namespaces on veths plugged into
a host's br-int the way os-vif plugs them (external_ids:iface-id = port id).

    underlay: <p>h1 ul1 ==(veth, MTU 1600, arp off)== ul2 <p>h2
              br-phy on each host holds the uplink and the provider address
              (192.168.250.N/24): VLAN frames and NVGRE both cross it
    a VM:     <p><vm> eth0 ==(veth)== <vm>p in the host's netns, on br-int

The agents run in the root namespace and reach their host's OVS through
its unix sockets (OVS_RUNDIR), as they would on a real host. Traffic stays
inside the namespaces the lab creates. Everything is torn down by close()."""
import os
import random
import shutil
import signal
import struct
import subprocess
import tempfile
import time

OVS_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema'
UNDERLAY = '192.168.250.%d'


def run(*args, check=True, env=None, timeout=30, input=None):
    r = subprocess.run(list(args), capture_output=True, text=True, env=env, timeout=timeout,
                       input=input)
    if check and r.returncode != 0:
        raise RuntimeError('%s: exit %d: %s' % (' '.join(args), r.returncode,
                                                (r.stderr or r.stdout).strip()))
    return r.stdout


def missing():
    """Why this machine cannot run the lab, or None."""
    if os.geteuid() != 0:
        return 'needs root (network namespaces and Open vSwitch)'
    for tool in ('ip', 'ovsdb-server', 'ovs-vswitchd', 'ovs-vsctl', 'ovs-ofctl', 'tcpdump',
                 'ping', 'ethtool'):
        if not shutil.which(tool):
            return '%s is not installed (scripts/deps.sh test installs it)' % tool
    name = 'qhvprobe%d' % os.getpid()
    r = subprocess.run(['ip', 'netns', 'add', name], capture_output=True, text=True)
    if r.returncode != 0:
        return 'network namespaces are not available: ' + r.stderr.strip()
    try:
        r = subprocess.run(['ip', 'netns', 'exec', name, 'ip', 'link', 'add', 'name', 'qa', 'type',
                            'veth', 'peer', 'name', 'qb'], capture_output=True, text=True)
        if r.returncode != 0:
            return 'the kernel has no veth: ' + r.stderr.strip()
    finally:
        subprocess.run(['ip', 'netns', 'del', name], capture_output=True)
    return None


class Host:
    """A simulated hypervisor: a namespace with its own ovsdb-server and
    ovs-vswitchd, a br-phy holding the uplink and the provider address."""

    def __init__(self, lab, name, index):
        self.lab, self.name, self.index = lab, name, index
        self.ns = lab.prefix + name
        self.dir = os.path.join(lab.dir, name)
        self.run_dir = os.path.join(self.dir, 'run')
        self.pa = UNDERLAY % index
        self.agent = None
        self.agent_log = os.path.join(self.dir, 'agent.log')
        for d in ('run', 'db', 'log'):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        self.env = dict(os.environ, OVS_RUNDIR=self.run_dir,
                        OVS_DBDIR=os.path.join(self.dir, 'db'),
                        OVS_LOGDIR=os.path.join(self.dir, 'log'))
        run('ip', 'netns', 'add', self.ns)
        # The host's own stack must not talk on the VM-side veth ends (an
        # IPv6 router solicitation from one lands in the VM directly).
        self.sh('sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1')
        self.sh('sysctl', '-q', '-w', 'net.ipv6.conf.default.disable_ipv6=1')
        self.sh('ip', 'link', 'set', 'lo', 'up')
        db = os.path.join(self.dir, 'db', 'conf.db')
        run('ovsdb-tool', 'create', db, OVS_SCHEMA)
        self.sh('ovsdb-server', db, '--remote=punix:%s/db.sock' % self.run_dir,
                '--pidfile=%s/ovsdb-server.pid' % self.run_dir, '--detach',
                '--log-file=%s/log/ovsdb-server.log' % self.dir)
        self.vsctl('--no-wait', 'init')
        self.start_vswitchd()

    def sh(self, *args, check=True, timeout=30):
        """Runs a command inside this host's namespace."""
        return run('ip', 'netns', 'exec', self.ns, *args, check=check, env=self.env,
                   timeout=timeout)

    def vsctl(self, *args):
        return run('ovs-vsctl', '--timeout=20', *args, env=self.env)

    def ofctl(self, *args):
        return run('ovs-ofctl', '-O', 'OpenFlow13', *args, env=self.env)

    def start_vswitchd(self):
        self.sh('ovs-vswitchd', 'unix:%s/db.sock' % self.run_dir,
                '--pidfile=%s/ovs-vswitchd.pid' % self.run_dir, '--detach',
                '--log-file=%s/log/ovs-vswitchd.log' % self.dir)

    def stop_vswitchd(self):
        self.kill_pidfile('ovs-vswitchd.pid')

    def kill_pidfile(self, name):
        path = os.path.join(self.run_dir, name)
        try:
            with open(path) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)

    def plug_uplink(self, ifname):
        """br-phy with the uplink, the provider address on its internal port."""
        self.vsctl('add-br', 'br-phy', '--', 'set', 'bridge', 'br-phy', 'datapath_type=netdev',
                   'other_config:hwaddr=02:00:00:fa:00:%02x' % self.index, '--',
                   'add-port', 'br-phy', ifname)
        # The kernel must not answer ARP on the AF_PACKET-owned uplink
        # (linux-dataplane.md, gotcha 3).
        self.sh('ip', 'link', 'set', ifname, 'arp', 'off', 'up')
        self.sh('ip', 'addr', 'add', self.pa + '/24', 'dev', 'br-phy')
        self.sh('ip', 'link', 'set', 'br-phy', 'up')

    def agent_conf(self, server_url, token, extra=''):
        path = os.path.join(self.dir, 'agent.conf')
        with open(path, 'w') as f:
            f.write(f"""[DEFAULT]
host = {self.name}
[agent]
server_url = {server_url}
auth_token = {token}
backend = ovs
provider_address = {self.pa}
report_interval = 5
poll_wait = 5
[ovs]
integration_bridge = br-int
bridge_mappings = physnet1:br-phy
datapath_type = netdev
ovs_rundir = {self.run_dir}
""" + extra)
        return path

    def start_agent(self, binary, conf):
        log = open(self.agent_log, 'ab')
        self.agent = subprocess.Popen([binary, '--config-file', conf], stdout=log, stderr=log,
                                      env=self.env)
        log.close()

    def stop_agent(self):
        if not self.agent:
            return 0
        if self.agent.poll() is None:
            self.agent.send_signal(signal.SIGTERM)
            try:
                self.agent.wait(15)
            except subprocess.TimeoutExpired:
                self.agent.kill()
                self.agent.wait()
        rc, self.agent = self.agent.returncode, None
        return rc

    def read_agent_log(self):
        try:
            with open(self.agent_log, 'rb') as f:
                return f.read().decode(errors='replace')
        except OSError:
            return ''

    def flows(self, bridge='br-int'):
        """The bridge's flows without counters, one string each."""
        out = self.ofctl('dump-flows', '--no-stats', bridge)
        return sorted(l.strip() for l in out.splitlines() if l.strip() and 'reply' not in l)

    def close(self):
        self.stop_agent()
        self.kill_pidfile('ovs-vswitchd.pid')
        self.kill_pidfile('ovsdb-server.pid')
        subprocess.run(['ip', 'netns', 'del', self.ns], capture_output=True)


class Vm:
    """A VM: a namespace whose eth0 (the port's MAC and fixed IP) is a veth
    whose peer is an OVS port on its host's br-int."""

    def __init__(self, lab, name, host, port):
        self.lab, self.name, self.host, self.port = lab, name, host, port
        self.ns = lab.prefix + name
        self.tap = name + 'p'
        self.ip = port['fixed_ips'][0]['ip_address']
        self.mac = port['mac_address']
        run('ip', 'netns', 'add', self.ns)
        run('ip', 'link', 'add', 'name', self.tap, 'netns', host.ns, 'type', 'veth', 'peer', 'name',
            'eth0', 'netns', self.ns)
        # No IPv6 autoconfiguration chatter: tests count the packets a VM gets.
        self.sh('sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1')
        self.sh('sysctl', '-q', '-w', 'net.ipv6.conf.default.disable_ipv6=1')
        self.sh('ip', 'link', 'set', 'lo', 'up')
        self.sh('ip', 'link', 'set', 'eth0', 'address', self.mac, 'up')
        # OVS userspace reads CHECKSUM_PARTIAL packets raw (gotcha 1).
        self.sh('ethtool', '-K', 'eth0', 'tx', 'off')
        if ':' in self.ip:
            # IPv6 for this VM only (no DAD wait: the address is the port's)
            self.sh('sysctl', '-q', '-w', 'net.ipv6.conf.eth0.disable_ipv6=0')
            self.sh('ip', '-6', 'addr', 'add', '%s/%d' % (self.ip, port['_prefixlen']), 'dev',
                    'eth0', 'nodad')
        else:
            self.sh('ip', 'addr', 'add', '%s/%d' % (self.ip, port['_prefixlen']), 'dev', 'eth0')
        host.sh('ip', 'link', 'set', self.tap, 'up')
        # As os-vif plugs a VM interface (the agent creates br-int if missing;
        # so does this, as Nova would).
        host.vsctl('--may-exist', 'add-br', 'br-int', '--', 'set', 'bridge', 'br-int',
                   'datapath_type=netdev', '--', '--may-exist', 'add-port', 'br-int', self.tap,
                   '--', 'set', 'interface', self.tap,
                   'external_ids:iface-id=%s' % port['id'],
                   'external_ids:attached-mac=%s' % self.mac, 'external_ids:iface-status=active')

    def sh(self, *args, check=True, timeout=30):
        return run('ip', 'netns', 'exec', self.ns, *args, check=check, timeout=timeout)

    def ping(self, ip, count=3, interval=0.2, wait=1):
        """The number of echo replies received."""
        r = subprocess.run(['ip', 'netns', 'exec', self.ns, 'ping', '-n', '-q', '-c', str(count),
                            '-i', str(interval), '-W', str(wait), ip],
                           capture_output=True, text=True, timeout=count * (interval + wait) + 10)
        for line in r.stdout.splitlines():
            if 'received' in line:
                return int(line.split(',')[1].split()[0])
        return 0

    def reaches(self, ip, deadline=2):
        """True if any of a few echo requests within deadline seconds is
        answered (the first packet to a new NVGRE peer may be lost while
        OVS resolves the tunnel's next hop)."""
        r = subprocess.run(['ip', 'netns', 'exec', self.ns, 'ping', '-n', '-q', '-c', '3',
                            '-i', '0.2', '-w', str(deadline), ip],
                           capture_output=True, text=True, timeout=deadline + 10)
        return r.returncode == 0

    def ping_once(self, ip, wait=1):
        return self.ping(ip, count=1, wait=wait) == 1

    def tcp(self, ip, port, timeout=1.0):
        """True if a TCP connection to ip:port is accepted within timeout."""
        code = ('import socket,sys\n'
                's=socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)\n'
                's.settimeout(float(sys.argv[3]))\n'
                'try:\n s.connect((sys.argv[1], int(sys.argv[2]))); print("open")\n'
                'except Exception as e: print("closed", e)\n')
        out = self.sh('/usr/bin/python3', '-c', code, ip, str(port), str(timeout),
                      timeout=timeout + 10)
        return out.startswith('open')

    def listen(self, port):
        """A TCP listener accepting (and closing) connections on port."""
        code = ('import socket,sys\n'
                's=socket.socket()\n'
                's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n'
                's.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(64); print("ready", flush=True)\n'
                'while True:\n c,_=s.accept(); c.close()\n')
        p = subprocess.Popen(['ip', 'netns', 'exec', self.ns, '/usr/bin/python3', '-c', code,
                              str(port)], stdout=subprocess.PIPE, text=True)
        p.stdout.readline()
        self.lab.procs.append(p)
        return p

    def rx_packets(self):
        return int(self.sh('cat', '/sys/class/net/eth0/statistics/rx_packets').strip())

    def close(self):
        subprocess.run(['ip', 'netns', 'del', self.ns], capture_output=True)


# dhclient's hook (-sf): records what each event brought in <lab>/<vm>.lease
# (one JSON object per event) and applies address, MTU and routes itself,
# so that nothing outside the VM's namespace (/etc/resolv.conf) is touched.
DHCLIENT_SCRIPT = r"""#!/usr/bin/python3
import json, os, subprocess, sys
env = {k: v for k, v in os.environ.items() if k.startswith(('new_', 'old_', 'reason', 'interface'))}
with open(sys.argv[0] + '.' + os.environ['interface'] + '.lease', 'a') as f:
    f.write(json.dumps(env) + '\n')
r, i = env.get('reason', ''), env.get('interface', 'eth0')
def ip(*a):
    subprocess.run(['ip'] + list(a), capture_output=True)
if r in ('BOUND', 'RENEW', 'REBIND', 'REBOOT'):
    if env.get('old_ip_address') and env.get('old_ip_address') != env.get('new_ip_address'):
        ip('addr', 'flush', 'dev', i, 'scope', 'global')
    if env.get('new_interface_mtu'):
        ip('link', 'set', 'dev', i, 'mtu', env['new_interface_mtu'])
    mask = env.get('new_subnet_mask', '255.255.255.255')
    plen = sum(bin(int(x)).count('1') for x in mask.split('.'))
    ip('addr', 'replace', '%s/%d' % (env['new_ip_address'], plen), 'dev', i)
    routes = env.get('new_rfc3442_classless_static_routes', '').split()
    if routes:
        b = [int(x) for x in routes]
        k = 0
        while k < len(b):
            n = b[k]; o = (n + 7) // 8
            dst = b[k + 1:k + 1 + o] + [0] * (4 - o)
            gw = b[k + 1 + o:k + 5 + o]
            k += 5 + o
            gws = '.'.join(map(str, gw))
            if gws == '0.0.0.0':
                ip('route', 'replace', '%s/%d' % ('.'.join(map(str, dst)), n), 'dev', i)
            else:
                ip('route', 'replace', '%s/%d' % ('.'.join(map(str, dst)), n), 'via', gws, 'dev', i)
    elif env.get('new_routers'):
        ip('route', 'replace', 'default', 'via', env['new_routers'].split()[0], 'dev', i)
elif r in ('BOUND6', 'RENEW6', 'REBIND6', 'REBOOT6'):
    if env.get('new_ip6_address'):
        ip('-6', 'addr', 'replace', '%s/%s' % (env['new_ip6_address'], env.get('new_ip6_prefixlen', '128')),
           'dev', i, 'nodad')
elif r in ('EXPIRE', 'FAIL', 'RELEASE', 'STOP', 'EXPIRE6', 'RELEASE6', 'STOP6'):
    ip('addr', 'flush', 'dev', i, 'scope', 'global')
"""

DHCLIENT_CONF = """option rfc3442-classless-static-routes code 121 = array of unsigned integer 8;
request subnet-mask, broadcast-address, routers, domain-name, domain-name-servers, host-name,
        interface-mtu, rfc3442-classless-static-routes, ntp-servers, dhcp6.name-servers,
        dhcp6.domain-search;
timeout %d;
retry 1;
initial-interval 1;
"""


class DhcpVm:
    """A VM without a configured address: eth0 has the port's MAC and gets
    its address from a real DHCP client (ISC dhclient) or, for IPv6 SLAAC,
    from router advertisements."""

    def __init__(self, lab, name, host, port, v6=False):
        self.lab, self.name, self.host, self.port = lab, name, host, port
        self.ns = lab.prefix + name
        self.tap = name + 'p'
        self.mac = port['mac_address']
        self.dir = os.path.join(lab.dir, 'vm-' + name)
        os.makedirs(self.dir, exist_ok=True)
        self.script = os.path.join(self.dir, 'hook')
        with open(self.script, 'w') as f:
            f.write(DHCLIENT_SCRIPT)
        os.chmod(self.script, 0o755)
        run('ip', 'netns', 'add', self.ns)
        run('ip', 'link', 'add', 'name', self.tap, 'netns', host.ns, 'type', 'veth', 'peer', 'name',
            'eth0', 'netns', self.ns)
        self.sh('sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=%d' % (0 if v6 else 1))
        self.sh('sysctl', '-q', '-w', 'net.ipv6.conf.default.disable_ipv6=%d' % (0 if v6 else 1))
        if v6:
            # Router advertisements configure eth0 (SLAAC); its link-local
            # address is usable at once (dhclient -6 binds to it).
            self.sh('sysctl', '-q', '-w', 'net.ipv6.conf.eth0.accept_ra=2')
            self.sh('sysctl', '-q', '-w', 'net.ipv6.conf.eth0.accept_dad=0')
        self.sh('ip', 'link', 'set', 'lo', 'up')
        self.sh('ip', 'link', 'set', 'eth0', 'address', self.mac)
        self.sh('ethtool', '-K', 'eth0', 'tx', 'off')
        self.sh('ip', 'link', 'set', 'eth0', 'up')
        host.sh('ip', 'link', 'set', self.tap, 'up')
        host.vsctl('--may-exist', 'add-br', 'br-int', '--', 'set', 'bridge', 'br-int',
                   'datapath_type=netdev', '--', '--may-exist', 'add-port', 'br-int', self.tap,
                   '--', 'set', 'interface', self.tap,
                   'external_ids:iface-id=%s' % port['id'],
                   'external_ids:attached-mac=%s' % self.mac, 'external_ids:iface-status=active')

    def sh(self, *args, check=True, timeout=30):
        return run('ip', 'netns', 'exec', self.ns, *args, check=check, timeout=timeout)

    def events(self):
        """What dhclient's hook recorded, oldest first."""
        try:
            with open(self.script + '.eth0.lease') as f:
                import json
                return [json.loads(l) for l in f if l.strip()]
        except OSError:
            return []

    def dhclient(self, v6=False, timeout=20, release=False, stateless=False):
        """Runs dhclient once (-1: gives up after timeout seconds); True if
        it got a lease. The lease file is kept between runs (a renewal
        starts from the lease the VM holds, as a rebooting VM's does)."""
        fam = '-6' if v6 else '-4'
        conf = os.path.join(self.dir, 'dhclient.conf')
        with open(conf, 'w') as f:
            f.write(DHCLIENT_CONF % timeout)
        args = ['dhclient', fam, '-1', '-v', '-cf', conf, '-sf', self.script,
                '-lf', os.path.join(self.dir, 'leases' + fam),
                '-pf', os.path.join(self.dir, 'pid' + fam)]
        if release:
            args.append('-r')
        if stateless:
            args.append('-S')     # DHCPv6 Information-request: options only
        r = subprocess.run(['ip', 'netns', 'exec', self.ns] + args + ['eth0'],
                           capture_output=True, text=True, timeout=timeout * 3 + 30)
        self.last_output = r.stdout + r.stderr
        # dhclient -1 goes to the background once bound: stop that one, so
        # that the next run (a renewal) is this test's doing.
        self.stop_dhclient(fam)
        return r.returncode == 0

    def stop_dhclient(self, fam='-4'):
        """Ends this VM's dhclient of that family: found by its lease file's
        path (unique to the VM) rather than its pid file, which the daemon
        writes after its parent has returned."""
        lease = os.path.join(self.dir, 'leases' + fam)
        deadline = time.time() + 5
        while time.time() < deadline:
            pids = []
            for d in os.listdir('/proc'):
                if not d.isdigit():
                    continue
                try:
                    with open('/proc/%s/cmdline' % d, 'rb') as f:
                        args = f.read().split(b'\0')
                except OSError:
                    continue
                if args and args[0].endswith(b'dhclient') and lease.encode() in args:
                    pids.append(int(d))
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGTERM)
                except OSError:
                    pass
            time.sleep(0.05)

    def addresses(self, family='inet'):
        out = self.sh('ip', '-o', '-f', family, 'addr', 'show', 'dev', 'eth0', 'scope', 'global')
        return [l.split()[3] for l in out.splitlines() if l.strip()]

    def routes(self):
        return sorted(l.strip() for l in self.sh('ip', 'route', 'show').splitlines() if l.strip())

    def mtu(self):
        return int(self.sh('cat', '/sys/class/net/eth0/mtu').strip())

    def reaches(self, ip, deadline=2):
        r = subprocess.run(['ip', 'netns', 'exec', self.ns, 'ping', '-n', '-q', '-c', '3',
                            '-i', '0.2', '-w', str(deadline), ip],
                           capture_output=True, text=True, timeout=deadline + 10)
        return r.returncode == 0

    def close(self):
        self.stop_dhclient('-4')
        self.stop_dhclient('-6')
        subprocess.run(['ip', 'netns', 'del', self.ns], capture_output=True)


class Capture:
    """tcpdump in a namespace, to a pcap file (--immediate-mode: gotcha 7)."""

    def __init__(self, lab, ns, ifname, bpf):
        self.path = os.path.join(lab.dir, 'cap-%d.pcap' % random.randrange(1 << 30))
        self.proc = subprocess.Popen(['ip', 'netns', 'exec', ns, 'tcpdump', '-i', ifname, '-U',
                                      '--immediate-mode', '-n', '-w', self.path, bpf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # tcpdump says "listening on" once its socket is open.
        deadline = time.time() + 10
        line = ''
        while time.time() < deadline and 'listening' not in line:
            line = self.proc.stderr.readline()
        lab.procs.append(self.proc)

    def stop(self):
        time.sleep(0.3)
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(10)
        return read_pcap(self.path)


def read_pcap(path):
    """The frames of a pcap file (Ethernet link type), as bytes."""
    with open(path, 'rb') as f:
        data = f.read()
    if len(data) < 24:
        return []
    magic = struct.unpack('<I', data[:4])[0]
    endian = '<' if magic in (0xa1b2c3d4, 0xa1b23c4d) else '>'
    frames, off = [], 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + 'IIII', data[off:off + 16])
        frames.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return frames


def gre_headers(frames):
    """(outer src, outer dst, GRE flags+version, protocol, key or None, inner
    frame) of every IPv4 GRE frame."""
    out = []
    for fr in frames:
        eth = struct.unpack('!H', fr[12:14])[0]
        off = 14
        if eth == 0x8100:
            eth, off = struct.unpack('!H', fr[16:18])[0], 18
        if eth != 0x0800 or fr[off + 9] != 47:
            continue
        ihl = (fr[off] & 0x0f) * 4
        src = '.'.join(str(b) for b in fr[off + 12:off + 16])
        dst = '.'.join(str(b) for b in fr[off + 16:off + 20])
        g = off + ihl
        flags, proto = struct.unpack('!HH', fr[g:g + 4])
        key = struct.unpack('!I', fr[g + 4:g + 8])[0] if flags & 0x2000 else None
        inner = fr[g + 8:] if flags & 0x2000 else fr[g + 4:]
        out.append((src, dst, flags, proto, key, inner))
    return out


def _csum(data):
    """The Internet checksum of data."""
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def _mac(text):
    return bytes.fromhex(text.replace(':', ''))


def _ip(text):
    return bytes(int(b) for b in text.split('.'))


def ipv4(src, dst, proto, payload, ident=0):
    """An IPv4 header (DF, TTL 64, checksummed) followed by payload."""
    hdr = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(payload), ident, 0x4000, 64, proto, 0,
                      _ip(src), _ip(dst))
    return hdr[:10] + struct.pack('!H', _csum(hdr)) + hdr[12:] + payload


def ether(dst, src, ethertype, payload):
    return _mac(dst) + _mac(src) + struct.pack('!H', ethertype) + payload


def icmp_echo(src_mac, dst_mac, src, dst, ident, seq):
    """An Ethernet frame holding an ICMP echo request."""
    body = struct.pack('!BBHHH', 8, 0, 0, ident, seq) + b'qhv-probe' * 4
    body = body[:2] + struct.pack('!H', _csum(body)) + body[4:]
    return ether(dst_mac, src_mac, 0x0800, ipv4(src, dst, 1, body))


def arp_request(src_mac, src, target):
    """A broadcast ARP request "who has target" from src_mac/src."""
    body = struct.pack('!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, 1, _mac(src_mac), _ip(src), b'\0' * 6,
                       _ip(target))
    return ether('ff:ff:ff:ff:ff:ff', src_mac, 0x0806, body)


def nvgre(vsid, inner, flow_id=0):
    """The GRE header and payload of NVGRE (RFC 7637): key bit only,
    transparent Ethernet bridging, key = VSID << 8 | flow id."""
    return struct.pack('!HHI', 0x2000, 0x6558, vsid << 8 | flow_id) + inner


_SEND_FRAMES = ('import socket,sys\n'
                's=socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n'
                's.bind((sys.argv[1], 0))\n'
                'for h in sys.argv[2:]: s.send(bytes.fromhex(h))\n')

_SEND_GRE = ('import socket,sys\n'
             's=socket.socket(socket.AF_INET, socket.SOCK_RAW, 47)\n'
             'for h in sys.argv[2:]: s.sendto(bytes.fromhex(h), (sys.argv[1], 0))\n')


def send_frames(ns, ifname, frames):
    """Puts hand-made Ethernet frames on ifname in namespace ns, as a VM
    (or anything on that wire) can."""
    run('ip', 'netns', 'exec', ns, '/usr/bin/python3', '-c', _SEND_FRAMES, ifname,
        *[f.hex() for f in frames])


def send_gre(ns, dst, payloads):
    """Sends GRE payloads (nvgre()) to dst from namespace ns's own stack (a
    raw IPPROTO_GRE socket: the kernel writes the outer IPv4 header with
    its source address; it needs no gre module)."""
    run('ip', 'netns', 'exec', ns, '/usr/bin/python3', '-c', _SEND_GRE, dst,
        *[p.hex() for p in payloads])


class Lab:
    def __init__(self):
        self.prefix = 'q%04x' % random.randrange(1 << 16)
        self.dir = tempfile.mkdtemp(prefix='qhv-sys-')
        # dnsmasq (a network node's) reads its files as nobody.
        os.chmod(self.dir, 0o755)
        self.hosts, self.vms, self.procs, self.switches = [], [], [], []

    def add_hosts(self, n=2):
        """n hosts on one underlay segment (n == 2: a veth; more: not needed yet)."""
        assert n == 2
        h1, h2 = Host(self, 'h1', 1), Host(self, 'h2', 2)
        self.hosts += [h1, h2]
        run('ip', 'link', 'add', 'name', 'ul1', 'netns', h1.ns, 'mtu', '1600', 'type', 'veth', 'peer',
            'name', 'ul2', 'netns', h2.ns, 'mtu', '1600')
        h1.plug_uplink('ul1')
        h2.plug_uplink('ul2')
        return h1, h2

    def add_host(self, name='h1', index=1):
        """One host with no underlay peer (its uplink is one end of a veth
        whose other end is left in the host's namespace, down)."""
        h = Host(self, name, index)
        self.hosts.append(h)
        run('ip', 'link', 'add', 'name', 'ul%d' % index, 'netns', h.ns, 'type', 'veth', 'peer',
            'name', 'ulx%d' % index, 'netns', h.ns)
        h.plug_uplink('ul%d' % index)
        return h

    def add_vm(self, name, host, port, prefixlen):
        port = dict(port, _prefixlen=prefixlen)
        vm = Vm(self, name, host, port)
        self.vms.append(vm)
        return vm

    def add_switched_hosts(self, names):
        """Hosts (name, index) whose uplinks meet on one Linux bridge in a
        namespace of its own (an underlay switch: VLAN frames and NVGRE
        cross it as on a wire)."""
        sw = self.prefix + 'sw'
        if sw not in self.switches:
            run('ip', 'netns', 'add', sw)
            run('ip', 'netns', 'exec', sw, 'ip', 'link', 'add', 'br0', 'type', 'bridge')
            run('ip', 'netns', 'exec', sw, 'ip', 'link', 'set', 'br0', 'up')
            self.switches.append(sw)
        out = []
        for name, index in names:
            h = Host(self, name, index)
            self.hosts.append(h)
            run('ip', 'link', 'add', 'name', 'ul%d' % index, 'netns', h.ns, 'mtu', '1600', 'type',
                'veth', 'peer', 'name', 'sw%d' % index, 'netns', sw, 'mtu', '1600')
            run('ip', 'netns', 'exec', sw, 'ip', 'link', 'set', 'sw%d' % index, 'master', 'br0',
                'up')
            h.plug_uplink('ul%d' % index)
            out.append(h)
        return out

    def add_dhcp_vm(self, name, host, port, v6=False):
        """A VM whose address comes from DHCP (DhcpVm)."""
        vm = DhcpVm(self, name, host, port, v6)
        self.vms.append(vm)
        return vm

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for vm in self.vms:
            vm.close()
        for h in self.hosts:
            h.close()
        for sw in self.switches:
            subprocess.run(['ip', 'netns', 'del', sw], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)
