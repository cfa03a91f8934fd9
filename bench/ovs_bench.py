#!/usr/bin/python3
"""The ovs backend at 1,000 ports on one host (issue 6, item 7). One
simulated host (a network namespace with its own Open vSwitch on the
userspace datapath, tests/system/netlab.py) and its qhv-agent against a
qhv-server. VM interfaces are OVS internal ports with
external_ids:iface-id = port id (no namespaces: 1,000 of them would measure
the kernel, not qhv). Prints:

  cold               1,000 bound ports plugged at once, until all ACTIVE
  create->ACTIVE     with those present: POST a port bound to the host, plug
                     its interface (Nova's order), until the API shows it
                     ACTIVE (its flows installed), p50/p99 over --samples
  resync             agent restart with nothing changed: until its first
                     reconcile has applied the plan, the switch operations
                     it issued, and whether br-int's flows changed at all
  agent              CPU seconds used and RSS, after the cold start and at
                     the end

Usage: bench/ovs_bench.py [--build DIR] [--ports 1000] [--samples 50]
Not a test: prints figures (targets in docs/benchmarks.md). Root."""
import argparse
import os
import re
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'system'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'api'))
import netlab  # noqa: E402
import qhvtest  # noqa: E402

SERVER_CONF = """
[agent]
auth_token = bench-secret
report_interval = 10
[quotas]
quota_port = -1
"""


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def proc_cpu(pid):
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def proc_rss_kib(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', default=os.path.join(ROOT, 'build'))
    ap.add_argument('--ports', type=int, default=1000)
    ap.add_argument('--samples', type=int, default=50)
    args = ap.parse_args()
    why = netlab.missing()
    if why:
        sys.exit('ovs_bench: cannot run: ' + why)
    qhvtest.SERVER = os.path.join(args.build, 'src', 'qhv-server')
    agent_bin = os.path.join(args.build, 'src', 'qhv-agent')
    server = qhvtest.Server(SERVER_CONF).start()
    api = qhvtest.Client(server.port)
    lab = netlab.Lab()

    def call(method, path, body=None):
        st, out = api.request(method, path, body)
        if st >= 300:
            raise SystemExit('%s %s: %s %s' % (method, path, st, out))
        return out

    def plug(h, ports):
        a = []
        for p in ports:
            tap = 'b%s' % p['id'][:8]
            a += ['--', 'add-port', 'br-int', tap, '--', 'set', 'interface', tap,
                  'type=internal', 'external_ids:iface-id=%s' % p['id']]
        h.vsctl(*a)

    def statuses():
        return {p['id']: p['status'] for p in call('GET', '/v2.0/ports?fields=id&fields=status')
                ['ports']}

    try:
        h = lab.add_host()
        token = netlab.run(qhvtest.SERVER, '--config-file', server.conf, '--agent-token',
                           h.name).strip()
        h.conf = h.agent_conf('http://127.0.0.1:%d' % server.port, token,
                              '[DEFAULT]\ndebug = true\n')
        net = call('POST', '/v2.0/networks', {'network': {
            'name': 'bench', 'provider:network_type': 'vlan',
            'provider:physical_network': 'physnet1', 'provider:segmentation_id': 300}})['network']
        call('POST', '/v2.0/subnets', {'subnet': {'network_id': net['id'], 'cidr': '10.8.0.0/20',
                                                  'ip_version': 4}})
        ports = []
        for i in range(0, args.ports, 100):
            n = min(100, args.ports - i)
            body = {'ports': [{'network_id': net['id'], 'binding:host_id': h.name,
                               'device_owner': 'compute:nova'} for _ in range(n)]}
            ports += call('POST', '/v2.0/ports', body)['ports']
        h.vsctl('--may-exist', 'add-br', 'br-int', '--', 'set', 'bridge', 'br-int',
                'datapath_type=netdev')
        for i in range(0, len(ports), 200):
            plug(h, ports[i:i + 200])
        # cold: the agent starts with every interface present
        t0 = time.time()
        h.start_agent(agent_bin, h.conf)
        ids = {p['id'] for p in ports}
        while True:
            st = statuses()
            if all(st.get(i) == 'ACTIVE' for i in ids):
                break
            if time.time() - t0 > 600:
                raise SystemExit('cold start did not finish in 600 s')
            time.sleep(0.2)
        cold = time.time() - t0
        pid = h.agent.pid
        cpu_cold, rss_cold = proc_cpu(pid), proc_rss_kib(pid)
        nflows = len(h.flows())
        print('cold: %d ports ACTIVE in %.2f s (%d flows on br-int); agent CPU %.2f s, RSS %.1f MiB'
              % (len(ports), cold, nflows, cpu_cold, rss_cold / 1024.0))
        # single ports with the others present
        lat = []
        for _ in range(args.samples):
            t = time.time()
            p = call('POST', '/v2.0/ports', {'port': {
                'network_id': net['id'], 'binding:host_id': h.name,
                'device_owner': 'compute:nova'}})['port']
            plug(h, [p])
            while call('GET', '/v2.0/ports/' + p['id'] + '?fields=status')['port']['status'] \
                    != 'ACTIVE':
                time.sleep(0.005)
            lat.append(time.time() - t)
        print('create->ACTIVE with %d present: p50 %.0f ms, p99 %.0f ms, max %.0f ms (%d samples)'
              % (len(ports), pct(lat, 50) * 1000, pct(lat, 99) * 1000, max(lat) * 1000,
                 len(lat)))
        cpu_end = proc_cpu(pid)
        # resync: restart with nothing changed
        time.sleep(1.5)
        before = h.flows()
        rev = int(re.findall(r'applied (\d+)', h.read_agent_log())[-1])
        h.stop_agent()
        mark = len(h.read_agent_log())
        t0 = time.time()
        h.start_agent(agent_bin, h.conf)
        line = None
        while time.time() - t0 < 120:
            m = re.search(r'reconciled plan (\d+): (\d+) objects desired, (\d+) ops .*applied (\d+)',
                          h.read_agent_log()[mark:])
            if m and int(m.group(4)) >= rev:
                line = m
                break
            time.sleep(0.01)
        resync = time.time() - t0
        after = h.flows()
        if not line:
            raise SystemExit('the restarted agent did not converge')
        changed = len(set(before) ^ set(after))
        print('resync after restart: %.2f s (process start to plan applied), %s switch '
              'operations, %d objects; flows changed: %d of %d'
              % (resync, line.group(3), int(line.group(2)), changed, len(before)))
        print('agent: CPU %.2f s for cold start + %d creates; RSS %.1f MiB after cold start '
              '(%.1f KiB per port); after restart RSS %.1f MiB'
              % (cpu_end, args.samples, rss_cold / 1024.0, rss_cold / len(ports),
                 proc_rss_kib(h.agent.pid) / 1024.0))
    finally:
        if lab.hosts:
            keep = os.path.join(os.environ.get('TMPDIR', '/tmp'), 'ovs_bench_agent.log')
            with open(keep, 'w') as f:
                f.write(lab.hosts[0].read_agent_log())
            print('(the agent\'s log: %s)' % keep)
        lab.close()
        server.stop()
        server.cleanup()


if __name__ == '__main__':
    main()
