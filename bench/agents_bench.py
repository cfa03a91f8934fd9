#!/usr/bin/python3
"""qhv agents at scale (issue 4, item 8): N qhv-agent processes on the dummy
backend against one qhv-server, P ports each, on nvgre networks that each
span H hosts. Prints:

  cold convergence   10,000 bound ports, every VM NIC present, agents start
                     from an empty switch: time until the server shows every
                     port ACTIVE
  single port        with those present: a port whose VM NIC is plugged gets
                     its binding:host_id (Nova's order), until the API shows
                     it ACTIVE, p50/p99
  fan-out            the same creates: until the new lookup record is in the
                     switch of every host of its VSID, p50/p99
  memory             server RSS; agent RSS per local port (each agent's RSS
                     minus that of an idle agent with no ports, the median
                     of three, / P)

Usage: bench/agents_bench.py [--build DIR] [--hosts 100] [--ports 100]
                             [--span 10] [--samples 50]
Not a test: it asserts nothing, it prints figures (compare with the targets
in docs/benchmarks.md). Uses only the standard library (Debian's python3).
"""
import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SERVER_CONF = """
[DEFAULT]
bind_host = 127.0.0.1
bind_port = {port}
api_workers = 8
[database]
connection = sqlite:///{dir}/qhv.sqlite
[ml2]
tenant_network_types = nvgre
[ml2_type_nvgre]
vsid_ranges = 5000:5999
[quotas]
quota_port = -1
quota_network = -1
quota_subnet = -1
[agent]
auth_token = bench-secret
report_interval = 10
agent_down_time = 600
"""

AGENT_CONF = """
[DEFAULT]
host = {host}
debug = {debug}
[agent]
server_url = http://127.0.0.1:{port}
auth_token = {token}
physical_network_vswitch_mappings = *:external
provider_address = {pa}
report_interval = 10
poll_wait = 30
[dummy]
state_file = {state}
"""


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_kib(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0


def cpu_s(pid):
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


class Api:
    def __init__(self, port):
        self.conn = http.client.HTTPConnection('127.0.0.1', port, timeout=120)
        self.headers = {'Content-Type': 'application/json', 'X-Project-Id': 'bench',
                        'X-Roles': 'admin'}

    def req(self, method, path, body=None, project=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = dict(self.headers)
        if project:
            headers['X-Project-Id'] = project
        self.conn.request(method, path, data, headers)
        r = self.conn.getresponse()
        raw = r.read()
        if r.status >= 400:
            raise RuntimeError('%s %s: %d %s' % (method, path, r.status, raw[:300]))
        return json.loads(raw) if raw else None


class Bench:
    def __init__(self, args):
        self.args = args
        self.dir = tempfile.mkdtemp(prefix='qhv-agents-bench-')
        self.port = free_port()
        self.conf = os.path.join(self.dir, 'qhv.conf')
        with open(self.conf, 'w') as f:
            f.write(SERVER_CONF.format(port=self.port, dir=self.dir))
        self.server = None
        self.agents = {}
        self.server_bin = os.path.join(args.build, 'src', 'qhv-server')
        self.agent_bin = os.path.join(args.build, 'src', 'qhv-agent')

    def host(self, i):
        return 'hv%03d' % i

    def state(self, host):
        return os.path.join(self.dir, host + '.json')

    def start_server(self):
        log = open(os.path.join(self.dir, 'server.log'), 'ab')
        self.server = subprocess.Popen([self.server_bin, '--config-file', self.conf],
                                       stdout=log, stderr=log)
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                socket.create_connection(('127.0.0.1', self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError('qhv-server did not start; see ' + self.dir)

    def write_agent_conf(self, host, i):
        token = subprocess.run([self.server_bin, '--config-file', self.conf, '--agent-token',
                                host], capture_output=True, text=True, check=True).stdout.strip()
        path = os.path.join(self.dir, host + '.conf')
        with open(path, 'w') as f:
            f.write(AGENT_CONF.format(host=host, port=self.port, token=token,
                                      debug='true' if self.args.debug else 'false',
                                      pa='192.168.%d.%d' % (i // 250, i % 250 + 1),
                                      state=self.state(host)))
        return path

    def start_agent(self, host, conf):
        log = open(os.path.join(self.dir, host + '.log'), 'ab')
        self.agents[host] = subprocess.Popen([self.agent_bin, '--config-file', conf],
                                             stdout=log, stderr=log)

    def stop_agents(self):
        for p in self.agents.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.agents.values():
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        self.agents = {}

    def cleanup(self):
        self.stop_agents()
        if self.server and self.server.poll() is None:
            self.server.terminate()
            self.server.wait(20)
        if not self.args.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def set_nics(self, host, nics):
        """Writes a dummy switch holding only VM NICs (the agent is stopped)."""
        with open(self.state(host), 'w') as f:
            json.dump({'nics': nics, 'objects': {}, 'faults': {}, 'counters': {}}, f)

    def add_nic(self, host, port_id):
        subprocess.run([os.path.join(self.args.build, 'src', 'qhvctl'), 'dummy',
                        self.state(host), 'nic', 'add', port_id], check=True)

    def count_active(self, api):
        body = api.req('GET', '/v2.0/ports?status=ACTIVE&fields=id')
        return len(body['ports'])

    def run(self):
        a = self.args
        nhosts, nports, span = a.hosts, a.ports, a.span
        total = nhosts * nports
        self.start_server()
        api = Api(self.port)
        confs = {}
        print('qhv agents benchmark: %d agents x %d ports = %d ports; one tenant per %d hosts '
              '(an nvgre network and the default security group: %d lookup records and %d '
              'group members per host)' % (nhosts, nports, total, span, span * nports,
                                           span * nports), flush=True)

        # Phase 0: agents register (empty switches), so that ports bind.
        for i in range(nhosts):
            h = self.host(i)
            confs[h] = self.write_agent_conf(h, i)
            self.set_nics(h, [])
            self.start_agent(h, confs[h])
        deadline = time.time() + 60
        while time.time() < deadline:
            alive = [x for x in api.req('GET', '/v2.0/agents')['agents'] if x['alive']]
            if len(alive) >= nhosts:
                break
            time.sleep(0.2)
        # One tenant per group of `span` hosts: its network (a subnet large
        # enough) and its ports, in its default security group ("ingress from
        # the same group": every host holds the group's member addresses).
        nets = []
        for g in range((nhosts + span - 1) // span):
            tenant = 'tenant-%d' % g
            net = api.req('POST', '/v2.0/networks', {'network': {
                'name': 'bench-%d' % g, 'provider:network_type': 'nvgre'}},
                project=tenant)['network']
            api.req('POST', '/v2.0/subnets', {'subnet': {
                'network_id': net['id'], 'cidr': '10.%d.0.0/16' % g, 'ip_version': 4}},
                project=tenant)
            nets.append(net)
        t = time.time()
        ports_of = {}
        for i in range(nhosts):
            h = self.host(i)
            net = nets[i // span]
            body = {'ports': [{'network_id': net['id'], 'binding:host_id': h,
                               'device_owner': 'compute:nova'} for _ in range(nports)]}
            ports_of[h] = [p['id'] for p in api.req('POST', '/v2.0/ports', body,
                                                    project=net['project_id'])['ports']]
        print('  created %d ports in %.1f s (bulk, %d per request)' % (
            total, time.time() - t, nports), flush=True)
        # Cold: stop the agents, give every switch its VM NICs and no objects,
        # start them all at once.
        self.stop_agents()
        for h, ids in ports_of.items():
            self.set_nics(h, ids)
        already = self.count_active(api)
        if already:
            print('  (%d ports were ACTIVE before the agents started)' % already)
        t0 = time.time()
        for h in ports_of:
            self.start_agent(h, confs[h])
        active = 0
        while time.time() - t0 < 300:
            active = self.count_active(api)
            if active >= total:
                break
            time.sleep(0.1)
        cold = time.time() - t0
        print('cold convergence: %d/%d ports ACTIVE in %.2f s (target <= 15 s)' % (
            active, total, cold), flush=True)

        # Single ports with everything present, and fan-out of their lookup
        # record to every host of the VSID.
        lat, fan = [], []
        rnd = random.Random(7)
        for k in range(a.samples):
            i = rnd.randrange(nhosts)
            h = self.host(i)
            g = i // span
            peers = [self.host(j) for j in range(g * span, min(nhosts, (g + 1) * span))]
            # As Nova does: the port is created, the VM NIC named by its id
            # is plugged, the binding names the host. The clock starts at the
            # binding: from there on it is the server's and the agents' work.
            port = api.req('POST', '/v2.0/ports', {'port': {
                'network_id': nets[g]['id'], 'device_owner': 'compute:nova'}},
                project=nets[g]['project_id'])['port']
            pid = port['id']
            self.add_nic(h, pid)
            time.sleep(0.3)     # the agent has seen the NIC (not yet its port)
            before = {p: os.stat(self.state(p)).st_mtime_ns for p in peers}
            t = time.time()
            port = api.req('PUT', '/v2.0/ports/' + pid, {'port': {'binding:host_id': h}})['port']
            ip, mac = port['fixed_ips'][0]['ip_address'], port['mac_address']
            key = 'lookup_record/%d/%s/%s' % (nets[g]['provider:segmentation_id'], ip, mac)
            needle = json.dumps(key).encode() + b':{"value":'
            pending, active_at, reached = set(peers), None, 0.0
            while (pending or active_at is None) and time.time() - t < 30:
                if active_at is None and api.req(
                        'GET', '/v2.0/ports/%s?fields=status' % pid)['port']['status'] == 'ACTIVE':
                    active_at = time.time() - t
                for p in list(pending):
                    m = os.stat(self.state(p)).st_mtime_ns
                    if m == before[p]:
                        continue
                    before[p] = m
                    # The object's key in the state file (replaced whole by a
                    # rename). A search of the text, not a parse: parsing ten
                    # 430 KB files one after the other added tens of ms to
                    # what was measured.
                    with open(self.state(p), 'rb') as f:
                        if needle in f.read():
                            pending.discard(p)
                            reached = time.time() - t
                time.sleep(0.01)
            if active_at is None or pending:
                print('  sample %d: not converged in 30 s (active=%s, hosts missing the '
                      'record: %d)' % (k, active_at, len(pending)), flush=True)
                continue
            lat.append(active_at)
            fan.append(reached)
        if lat:
            print('single port create->ACTIVE with %d present: p50 %.0f ms, p99 %.0f ms, '
                  'max %.0f ms over %d ports (target p99 <= 1 s)' % (
                      total, pct(lat, 50) * 1e3, pct(lat, 99) * 1e3, max(lat) * 1e3, len(lat)))
            print('lookup record fan-out to all %d hosts of the VSID: p50 %.0f ms, p99 %.0f ms '
                  '(target p99 <= 500 ms)' % (span, pct(fan, 50) * 1e3, pct(fan, 99) * 1e3))

        # Memory: idle agents (no ports) as the baseline, the median of three
        # (one alone varies by a few hundred KiB, a few KiB per port).
        idle = ['hv-idle%d' % i for i in range(3)]
        for i, h in enumerate(idle):
            self.set_nics(h, [])
            self.start_agent(h, self.write_agent_conf(h, nhosts + 1 + i))
        time.sleep(2)
        base = sorted(rss_kib(self.agents[h].pid) for h in idle)[1]
        per = []
        cpu = []
        for h in ports_of:
            per.append((rss_kib(self.agents[h].pid) - base) / float(nports))
            cpu.append(cpu_s(self.agents[h].pid))
        worst = sorted(zip(per, ports_of), reverse=True)[:3]
        print('server: RSS %.1f MiB, CPU %.1f s in all' % (
            rss_kib(self.server.pid) / 1024.0, cpu_s(self.server.pid)))
        print('agent: idle RSS %d KiB; RSS per local port: mean %.1f KiB, p90 %.1f KiB, max %.1f '
              'KiB (target <= 8 KiB); CPU per agent: mean %.2f s, max %.2f s' % (
                  base, sum(per) / len(per), pct(per, 90), max(per), sum(cpu) / len(cpu),
                  max(cpu)))
        print('  largest: ' + ', '.join('%s %.1f KiB' % (h, v) for v, h in worst))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default=os.path.join(ROOT, 'build'))
    ap.add_argument('--hosts', type=int, default=100)
    ap.add_argument('--ports', type=int, default=100)
    ap.add_argument('--span', type=int, default=10)
    ap.add_argument('--samples', type=int, default=50)
    ap.add_argument('--keep', action='store_true', help='keep the work directory')
    ap.add_argument('--debug', action='store_true', help='agents log at debug level')
    args = ap.parse_args()
    b = Bench(args)
    try:
        b.run()
    finally:
        b.cleanup()


if __name__ == '__main__':
    sys.exit(main())
