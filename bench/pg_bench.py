#!/usr/bin/python3
"""qhv-server on PostgreSQL, alone and three on one database (issue 16).

Against a throwaway PostgreSQL cluster on this machine (tests/api/pgcluster.py:
initdb in a temporary directory, a free port on 127.0.0.1, fsync and
synchronous_commit on), it prints:

  (a) one qhv-server on PostgreSQL: port creates/s with 16 clients
      (build/bench/qhv-bench --url, its concurrent phase), the server's CPU
      per create and PostgreSQL's (utime + stime from /proc over that phase;
      PostgreSQL's is the sum over the postmaster and its children, plus
      what the postmaster reaped from children that exited)
  (b) three qhv-servers on one database: three qhv-bench --url at once, one
      per server, clients split 6/5/5 (--split; "16" gives each 16); total
      creates/s over the phase all three run together, and the sum of the
      three rates; CPU per create of the three servers and of PostgreSQL
  (c) fan-out: hosts whose agents watch (GET /channel/v1/hosts/H/plan?since=R
      &wait=S, docs/host-channel.md) on servers B and C; ports bound to those
      hosts created through server A; from A's 201 to the watch answer that
      holds the port on B or C, p50/p99; hosts watching on A itself as the
      baseline. Twice: on a fresh database, and after (b) on its database
      (whose ports are in the same project's default security group)
  (d) GET /v2.0/ports of 10,000 ports on PostgreSQL (median of 5, qhv-bench)
  (e) (a) and (d) on SQLite, the same server configuration otherwise

Usage: bench/pg_bench.py [--build DIR] [--ports 2000] [--list-ports 10000]
           [--three-ports 2000] [--split 6,5,5] [--changes 300] [--rate 25]
           [--hosts 4] [--local-hosts 2] [--pg-setting NAME=VALUE]
           [--skip a,b,c,e | --only a,b,c,e | --only s] [--keep]
Not a test: it asserts nothing and prints figures next to the targets
(docs/benchmarks.md, "PostgreSQL and several servers"). Standard library
only (Debian's python3). Needs PostgreSQL (scripts/deps.sh test) and a
qhv-server built with its PostgreSQL engine.
"""
import argparse
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'api'))
import pgcluster  # noqa: E402
from qhvtest import free_port  # noqa: E402,F401 (neutron_pg.py uses it too)

TARGET_CREATES = 1000.0
TARGET_FANOUT_P99_MS = 500.0
TARGET_LIST_MS = 200.0

# qhv-bench's own configuration (bench/qhv-bench.c), with the channel's
# secret for (c) and the database given.
SERVER_CONF = """
[DEFAULT]
bind_host = 127.0.0.1
bind_port = {port}
api_workers = {workers}
[database]
connection = {connection}
[ml2]
tenant_network_types = vlan,nvgre
[ml2_type_vlan]
network_vlan_ranges = physnet1:100:2999
[quotas]
quota_port = -1
quota_network = -1
quota_subnet = -1
[agent]
auth_token = bench-secret
agent_down_time = 600
"""

HV_CONF = {'backend': 'dummy', 'vif_type': 'hyperv',
           'network_types': ['local', 'flat', 'vlan', 'nvgre'],
           'vswitch_mappings': ['physnet*:external'], 'port_filter': True}

CLK = os.sysconf('SC_CLK_TCK')


def _stat(pid):
    with open('/proc/%d/stat' % pid) as f:
        return f.read().rsplit(')', 1)[1].split()


def proc_cpu_ms(pid, reaped=False):
    """utime + stime of pid (+ cutime + cstime: its reaped children), in ms."""
    try:
        f = _stat(pid)
    except (OSError, IndexError):
        return 0.0
    t = int(f[11]) + int(f[12])
    if reaped:
        t += int(f[13]) + int(f[14])
    return t * 1000.0 / CLK


def children(pid):
    out = []
    for d in os.listdir('/proc'):
        if d.isdigit():
            try:
                if int(_stat(int(d))[1]) == pid:
                    out.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return out


def tree_cpu_ms(pid):
    """A parent and its live children, plus the children it has reaped:
    PostgreSQL's postmaster and backends, neutron-server and its workers."""
    return proc_cpu_ms(pid, reaped=True) + sum(proc_cpu_ms(c) for c in children(pid))


def pg_master(cluster):
    with open(os.path.join(cluster.data, 'postmaster.pid')) as f:
        return int(f.readline())


def loadavg():
    with open('/proc/loadavg') as f:
        return ' '.join(f.read().split()[:3])


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def fmt_range(values, f='%.0f'):
    values = [v for v in values if v is not None]
    if not values:
        return '-'
    lo, hi = min(values), max(values)
    return f % lo if f % lo == f % hi else (f % lo) + '-' + (f % hi)


class Api:
    """One keep-alive connection, JSON in and out."""

    def __init__(self, port, headers=None, timeout=120):
        self.port = port
        self.conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
        self.headers = {'Content-Type': 'application/json'}
        self.headers.update(headers or {})

    def req(self, method, path, body=None, ok=(200, 201, 204)):
        data = json.dumps(body).encode() if body is not None else None
        self.conn.request(method, path, data, self.headers)
        r = self.conn.getresponse()
        raw = r.read()
        if r.status not in ok:
            raise RuntimeError('%s %s on :%d: HTTP %d %s' % (method, path, self.port, r.status,
                                                              raw[:300]))
        return json.loads(raw) if raw else None

    def close(self):
        self.conn.close()


class QhvServer:
    """A qhv-server with qhv-bench's configuration on a given database."""

    def __init__(self, build, workdir, name, connection, workers=8):
        self.bin = os.path.join(build, 'src', 'qhv-server')
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.name = name
        self.workers = workers
        self.port = free_port()
        self.conf = os.path.join(self.dir, 'qhv.conf')
        with open(self.conf, 'w') as f:
            f.write(SERVER_CONF.format(port=self.port, workers=workers, connection=connection))
        self.proc = None

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.port

    def start(self, timeout=120):
        log = open(os.path.join(self.dir, 'server.log'), 'ab')
        self.proc = subprocess.Popen([self.bin, '--config-file', self.conf], stdout=log,
                                     stderr=log)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('qhv-server %s exited (%d) at start:\n%s' % (
                    self.name, self.proc.returncode, self.log_tail()))
            try:
                Api(self.port, timeout=5).req('GET', '/v2.0/networks?limit=1')
                return self
            except (OSError, RuntimeError, http.client.HTTPException):
                time.sleep(0.1)
        raise RuntimeError('qhv-server %s did not answer in %d s:\n%s' % (
            self.name, timeout, self.log_tail()))

    def log_tail(self, n=3000):
        try:
            with open(os.path.join(self.dir, 'server.log'), errors='replace') as f:
                return f.read()[-n:]
        except OSError:
            return ''

    def cpu_ms(self):
        return proc_cpu_ms(self.proc.pid)

    def token(self, host):
        return subprocess.run([self.bin, '--config-file', self.conf, '--agent-token', host],
                              capture_output=True, text=True, check=True).stdout.strip()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --------------------------------------------------------------------------
# qhv-bench --url, its output read line by line: the CPU meters are read at
# the moment each phase's line arrives (a phase's line is printed when it
# ends, and the next phase starts right after it).

PHASE_RE = re.compile(r'^\s+(sequential, 1 client|concurrent, \d+ clients|top-up to \d+, \d+ '
                      r'clients|show, \d+ clients)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+(\d+)\s+'
                      r'([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)')
LIST_RE = re.compile(r'^GET /v2\.0/ports \((\d+) ports')
MEDIAN_RE = re.compile(r'median ([\d.]+) ms')


class BenchRun:
    """One qhv-bench --url process; marks(name) -> (time, meters) at each
    phase boundary: 'creates' (before the first create), 'sequential',
    'concurrent', 'top-up' (ends of those phases)."""

    def __init__(self, bench_bin, url, ports, conc, list_ports, gets, meters, lock, log):
        self.cmd = [bench_bin, '--url', url, '--ports', str(ports), '--concurrency', str(conc),
                    '--list-ports', str(list_ports), '--gets', str(gets)]
        self.meters = meters
        self.lock = lock
        self.log = log
        self.marks = {}
        self.phases = {}
        self.list_ports = None
        self.list_median = None
        self.lines = []
        self.rc = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _mark(self, name):
        with self.lock:
            self.marks[name] = (time.monotonic(), {k: f() for k, f in self.meters.items()})

    def _run(self):
        p = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, bufsize=1)
        for line in p.stdout:
            if line.startswith('POST /v2.0/ports'):
                self._mark('creates')
            m = PHASE_RE.match(line)
            if m:
                kind = m.group(1).split(',')[0].split(' ')[0]
                self._mark(kind)
                reqs, secs = int(m.group(2)), float(m.group(4))
                # The rate from its parts: qhv-bench prints it rounded to an
                # integer, too coarse for Neutron's 7-8/s.
                self.phases[kind] = {
                    'reqs': reqs, 'fail': int(m.group(3)), 'secs': secs,
                    'rate': reqs / secs if secs > 0 else float(m.group(5)),
                    'p50': float(m.group(6)),
                    'p90': float(m.group(7)), 'p99': float(m.group(8)),
                    'max': float(m.group(9))}
            m = LIST_RE.match(line)
            if m:
                self.list_ports = int(m.group(1))
            m = MEDIAN_RE.search(line)
            if m and self.list_ports is not None and self.list_median is None:
                self.list_median = float(m.group(1))
            self.lines.append(line)
            if self.log:
                self.log.write(line)
                self.log.flush()
        self.rc = p.wait()

    def start(self):
        self.thread.start()
        return self

    def join(self):
        self.thread.join()
        return self

    def cpu(self, meter, a, b):
        """A meter's CPU ms between two marks."""
        return self.marks[b][1][meter] - self.marks[a][1][meter]


def print_bench_phases(run, indent='    '):
    for kind in ('sequential', 'concurrent', 'top-up'):
        ph = run.phases.get(kind)
        if ph:
            print('%s%-10s %6d creates, %d failed, %6.2f s, %6.0f/s, p50 %.2f ms, p99 %.2f ms'
                  % (indent, kind, ph['reqs'], ph['fail'], ph['secs'], ph['rate'], ph['p50'],
                     ph['p99']))


# --------------------------------------------------------------------------

class PgBench:
    def __init__(self, args):
        self.args = args
        self.build = os.path.abspath(args.build)
        self.bench_bin = os.path.join(self.build, 'bench', 'qhv-bench')
        self.dir = tempfile.mkdtemp(prefix='qhv-pg-bench-')
        self.cluster = None
        self.servers = []
        self.results = {}
        self.fanouts = 0
        self.lock = threading.Lock()
        self.log = open(os.path.join(self.dir, 'qhv-bench.out'), 'a')

    def cleanup(self):
        for s in self.servers:
            s.stop()
        if self.cluster:
            self.cluster.remove()
        self.log.close()
        if self.args.keep:
            print('kept: %s' % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def start_cluster(self):
        if self.cluster is None:
            self.cluster = pgcluster.Cluster().start()
            for kv in getattr(self.args, 'pg_setting', None) or []:
                k, _, v = kv.partition('=')
                if not re.match(r'^[a-z_]+$', k):
                    raise RuntimeError('--pg-setting %r: NAME=VALUE' % kv)
                self.cluster.psql("ALTER SYSTEM SET %s = '%s'" % (k, v.replace("'", "''")))
            if getattr(self.args, 'pg_setting', None):
                self.cluster.restart()
            settings = self.cluster.psql(
                "SELECT string_agg(name || '=' || current_setting(name), ', ' "
                "ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit',"
                " 'shared_buffers', 'max_connections', 'wal_level', 'commit_delay')").strip()
            ver = self.cluster.psql('SHOW server_version').strip()
            print('PostgreSQL %s on 127.0.0.1:%d (%s; %s)' % (ver, self.cluster.port, settings,
                                                           self.cluster.top), flush=True)
        return self.cluster

    def server(self, name, connection, workers=int(os.environ.get("QHV_BENCH_WORKERS", "8"))):
        s = QhvServer(self.build, self.dir, name, connection, workers)
        self.servers.append(s)
        return s.start()

    def pg_meter(self):
        master = pg_master(self.cluster)
        return lambda: tree_cpu_ms(master)

    # (a), (d), (e) ------------------------------------------------------
    def one_server(self, engine):
        a = self.args
        if engine == 'postgresql':
            self.start_cluster()
            conn = self.cluster.create_database('qhv_one_%d' % len(self.servers))
        else:
            d = os.path.join(self.dir, 'sqlite-%d' % len(self.servers))
            os.makedirs(d)
            conn = 'sqlite:///%s/qhv.sqlite' % d
        srv = self.server('one-%s-%d' % (engine, len(self.servers)), conn)
        meters = {'server': srv.cpu_ms}
        if engine == 'postgresql':
            meters['pg'] = self.pg_meter()
        print('\n(%s) one qhv-server on %s (api_workers %d), qhv-bench --url: N=%d, 16 clients, '
              'list of %d ports; load average before: %s' % (
                  'a' if engine == 'postgresql' else 'e', engine, srv.workers, a.ports,
                  a.list_ports, loadavg()), flush=True)
        run = BenchRun(self.bench_bin, srv.url, a.ports, 16, a.list_ports, a.gets, meters,
                       self.lock, self.log).start().join()
        srv.stop()
        print_bench_phases(run)
        conc = run.phases.get('concurrent')
        if not conc:
            print('    qhv-bench did not finish (exit %s); its output:\n%s' % (
                run.rc, ''.join(run.lines[-30:])))
            return None
        res = {'rate': conc['rate'], 'p99': conc['p99'], 'fail': conc['fail'],
               'cpu': run.cpu('server', 'sequential', 'concurrent') / conc['reqs'],
               'list': run.list_median, 'list_ports': run.list_ports}
        all_creates = sum(run.phases[k]['reqs'] for k in ('sequential', 'concurrent', 'top-up')
                          if k in run.phases)
        last = 'top-up' if 'top-up' in run.phases else 'concurrent'
        res['cpu_all'] = run.cpu('server', 'creates', last) / all_creates
        line = ('    16 clients: %.0f creates/s, p99 %.2f ms; server CPU %.3f ms per create '
                '(%.3f ms over all %d creates)' % (res['rate'], res['p99'], res['cpu'],
                                                   res['cpu_all'], all_creates))
        if 'pg' in meters:
            res['pg_cpu'] = run.cpu('pg', 'sequential', 'concurrent') / conc['reqs']
            res['pg_cpu_all'] = run.cpu('pg', 'creates', last) / all_creates
            line += '; PostgreSQL CPU %.3f ms per create (%.3f ms over all)' % (
                res['pg_cpu'], res['pg_cpu_all'])
        print(line)
        print('    GET /v2.0/ports of %s ports: median %s ms (of 5)' % (
            run.list_ports, run.list_median))
        if run.rc != 0:
            print('    (qhv-bench exited %d: see %s/qhv-bench.out)' % (run.rc, self.dir))
        return res

    # (s) -----------------------------------------------------------------
    def statements(self):
        """Where PostgreSQL's time goes per create: pg_stat_statements over
        qhv-bench's two create phases (N sequential, N with 16 clients) on
        a fresh database (needs --pg-setting
        shared_preload_libraries=pg_stat_statements)."""
        a = self.args
        self.start_cluster()
        c = self.cluster
        c.psql('CREATE EXTENSION IF NOT EXISTS pg_stat_statements')
        srv = self.server('statements', c.create_database('qhv_statements'))
        stat0 = c.psql("SELECT xact_commit, blks_hit + blks_read, tup_inserted, tup_updated, "
                       "tup_deleted FROM pg_stat_database WHERE datname = 'qhv_statements'")
        c.psql('SELECT pg_stat_statements_reset()')
        print('\n(s) PostgreSQL statements over %d + %d creates (qhv-bench --url --list-ports 0 '
              '--gets 0; with the five lists of all ports that qhv-bench always does)'
              % (a.ports, a.ports), flush=True)
        run = BenchRun(self.bench_bin, srv.url, a.ports, 16, 0, 0, {}, self.lock,
                       self.log).start().join()
        n = sum(run.phases[k]['reqs'] for k in ('sequential', 'concurrent') if k in run.phases)
        stat1 = c.psql("SELECT xact_commit, blks_hit + blks_read, tup_inserted, tup_updated, "
                       "tup_deleted FROM pg_stat_database WHERE datname = 'qhv_statements'")
        d = [int(y) - int(x) for x, y in zip(stat0.strip().split('|'), stat1.strip().split('|'))]
        print('    per create: %.2f transactions, %.1f buffer accesses, %.2f rows inserted, %.2f '
              'updated, %.2f deleted' % tuple(v / n for v in d))
        rows = c.psql(
            "SELECT s.calls, s.total_exec_time, s.rows, regexp_replace(s.query, '\\s+', ' ', "
            "'g') FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
            "WHERE d.datname = 'qhv_statements' "
            "ORDER BY s.total_exec_time DESC")
        total_calls = total_ms = 0.0
        lines = []
        for row in rows.strip().split('\n'):
            if not row:
                continue
            calls, ms, nrows, q = row.split('|', 3)
            total_calls += int(calls)
            total_ms += float(ms)
            lines.append((float(ms), int(calls), q))
        print('    %.1f statements and %.3f ms of execution (pg_stat_statements, without the '
              'parse/plan and the WAL flush at COMMIT) per create; the largest:' % (
                  total_calls / n, total_ms / n))
        for ms, calls, q in lines[:a.statements_top]:
            print('    %7.3f ms %6.2f calls  %s' % (ms / n, calls / float(n), q[:110]))
        srv.stop()

    # (b) -----------------------------------------------------------------
    def three_servers(self):
        a = self.args
        self.start_cluster()
        conn = self.cluster.create_database('qhv_three')
        trio = [self.server('three-%s' % n, conn) for n in 'ABC']
        split = [int(x) for x in a.split.split(',')]
        if len(split) == 1:
            split = split * 3
        meters = {'pg': self.pg_meter()}
        for s in trio:
            meters[s.name] = s.cpu_ms
        print('\n(b) three qhv-servers (api_workers %d each) on one PostgreSQL database; three '
              'qhv-bench --url at once, clients %s (%d in all); measured: their top-up phases '
              '(%d creates each, after %d + %d warm-up creates); load average before: %s' % (
                  trio[0].workers, '/'.join(map(str, split)), sum(split), a.three_ports, 100,
                  100, loadavg()),
              flush=True)
        runs = [BenchRun(self.bench_bin, s.url, 100, c, 200 + a.three_ports, 0, meters,
                         self.lock, self.log) for s, c in zip(trio, split)]
        for r in runs:
            r.start()
        for r in runs:
            r.join()
        if not all('top-up' in r.phases for r in runs):
            for r in runs:
                print('    qhv-bench exited %s; its end:\n%s' % (r.rc, ''.join(r.lines[-15:])))
            return None, trio
        for s, r in zip(trio, runs):
            print('  server %s:' % s.name[-1])
            print_bench_phases(r, '    ')
        # The window: from the first top-up's start (its 'concurrent' mark) to
        # the last one's end.
        starts = [r.marks['concurrent'] for r in runs]
        ends = [r.marks['top-up'] for r in runs]
        first = min(starts, key=lambda m: m[0])
        last = max(ends, key=lambda m: m[0])
        window = last[0] - first[0]
        together = min(e[0] for e in ends) - max(s[0] for s in starts)
        creates = sum(r.phases['top-up']['reqs'] for r in runs)
        fails = sum(r.phases['top-up']['fail'] for r in runs)
        srv_cpu = sum(last[1][s.name] - first[1][s.name] for s in trio)
        pg_cpu = last[1]['pg'] - first[1]['pg']
        res = {'rate': (creates - fails) / window, 'sum': sum(r.phases['top-up']['rate']
                                                                for r in runs),
               'cpu': srv_cpu / creates, 'pg_cpu': pg_cpu / creates,
               'p99': max(r.phases['top-up']['p99'] for r in runs), 'fail': fails,
               'overlap': max(0.0, together) / window, 'split': '/'.join(map(str, split))}
        print('    total: %d creates in %.2f s from the first top-up start to the last end: '
              '%.0f creates/s (sum of the three rates %.0f/s; all three ran together %.0f%% '
              'of that window); worst p99 %.2f ms; %d failed' % (
                  creates, window, res['rate'], res['sum'], 100 * res['overlap'], res['p99'],
                  fails))
        print('    CPU per create over that window: the three servers %.3f ms, PostgreSQL '
              '%.3f ms' % (res['cpu'], res['pg_cpu']))
        return res, trio

    # (c) -----------------------------------------------------------------
    def fanout(self, trio, where):
        a = self.args
        srv_a, watch_servers = trio[0], trio[1:]
        hosts = []      # (host, server)
        for s in watch_servers:
            for i in range(a.hosts):
                hosts.append(('fan%d-%s-%02d' % (self.fanouts, s.name[-1].lower(), i), s))
        # The same thing on A itself, as the baseline: what the feed takes
        # without another server in the path.
        for i in range(a.local_hosts):
            hosts.append(('fan%d-a-%02d' % (self.fanouts, i), srv_a))
        print('\n(c) fan-out %s: %d hosts watching on servers B and C (%d each) and %d on A '
              '(the baseline), %d ports bound to them created through server A, one every %.0f '
              'ms; load average before: %s' % (where, len(hosts) - a.local_hosts, a.hosts,
                                               a.local_hosts, a.changes, 1000.0 / a.rate,
                                               loadavg()), flush=True)
        self.fanouts += 1
        admin = Api(srv_a.port)
        net = admin.req('POST', '/v2.0/networks', {'network': {
            'name': 'fanout', 'provider:network_type': 'vlan',
            'provider:physical_network': 'physnet1'}})['network']
        admin.req('POST', '/v2.0/subnets', {'subnet': {
            'network_id': net['id'], 'cidr': '10.200.0.0/16', 'ip_version': 4}})
        seen = {}
        seen_lock = threading.Lock()
        stop = threading.Event()
        ready = []
        errors = []

        def watch(host, srv, ev):
            try:
                api = Api(srv.port, {'X-Qhv-Agent-Token': srv.token(host)}, timeout=90)
                api.req('POST', '/channel/v1/hosts/%s/report' % host, {'agent': {
                    'agent_type': 'HyperV agent', 'binary': 'qhv-agent',
                    'configurations': HV_CONF}})
                body = api.req('GET', '/channel/v1/hosts/%s/plan' % host)
                rev = body['revision']
                ev.set()
                while not stop.is_set():
                    api.conn.request('GET', '/channel/v1/hosts/%s/plan?since=%d&wait=5'
                                     % (host, rev), headers=api.headers)
                    r = api.conn.getresponse()
                    raw = r.read()
                    t = time.monotonic()
                    if r.status != 200:
                        raise RuntimeError('watch %s: HTTP %d %s' % (host, r.status, raw[:200]))
                    body = json.loads(raw)
                    if 'delta' in body:
                        ids = body['delta'].get('ports', {}).get('set', {}).keys()
                    else:
                        ids = body.get('plan', {}).get('ports', {}).keys()
                    with seen_lock:
                        for pid in ids:
                            seen.setdefault(pid, (t, host))
                    rev = body['revision']
            except Exception as e:     # reported below
                errors.append('%s: %s' % (host, e))
                ev.set()

        threads = []
        for host, srv in hosts:
            ev = threading.Event()
            th = threading.Thread(target=watch, args=(host, srv, ev), daemon=True)
            th.start()
            threads.append(th)
            ready.append(ev)
        for ev in ready:
            ev.wait(60)
        if errors:
            print('    watch failed: ' + '; '.join(errors[:3]))
            stop.set()
            return None
        time.sleep(0.5)
        acks = {}
        where = {}
        period = 1.0 / a.rate
        t_next = time.monotonic()
        for i in range(a.changes):
            host, srv = hosts[i % len(hosts)]
            p = admin.req('POST', '/v2.0/ports', {'port': {
                'network_id': net['id'], 'name': 'fan-%d' % i, 'binding:host_id': host,
                'device_owner': 'compute:nova'}})['port']
            acks[p['id']] = time.monotonic()
            where[p['id']] = host
            if p.get('binding:vif_type') in ('unbound', 'binding_failed'):
                errors.append('port %s on %s: binding:vif_type %s' % (
                    p['id'], host, p.get('binding:vif_type')))
            t_next += period
            delay = t_next - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with seen_lock:
                if all(pid in seen for pid in acks):
                    break
            time.sleep(0.05)
        stop.set()
        lat, local, early, missing, wrong = [], [], 0, 0, 0
        with seen_lock:
            for pid, t_ack in acks.items():
                if pid not in seen:
                    missing += 1
                    continue
                t, host = seen[pid]
                if host != where[pid]:
                    wrong += 1
                if t < t_ack:
                    early += 1
                (local if '-a-' in host else lat).append(
                    max(0.0, t - t_ack) * 1000.0)
        if errors:
            print('    problems: ' + '; '.join(errors[:5]))
        if not lat:
            print('    no watch answer held a created port')
            return None
        res = {'p50': pct(lat, 50), 'p99': pct(lat, 99), 'max': max(lat), 'n': len(lat),
               'missing': missing, 'early': early}
        print('    create acknowledged by A -> watch answer on B/C holding the port: p50 %.1f ms, '
              'p99 %.1f ms, max %.1f ms over %d ports (target p99 <= %.0f ms); %d never seen '
              'in 15 s, %d answered before A\'s 201 reached the client (counted as 0)%s' % (
                  res['p50'], res['p99'], res['max'], res['n'], TARGET_FANOUT_P99_MS, missing,
                  early, '; %d seen by a host not bound' % wrong if wrong else ''))
        if local:
            res['local_p50'], res['local_p99'] = pct(local, 50), pct(local, 99)
            print('    baseline, watchers on A itself: p50 %.1f ms, p99 %.1f ms, max %.1f ms over '
                  '%d ports' % (res['local_p50'], res['local_p99'], max(local), len(local)))
        for th in threads:
            th.join(10)
        return res

    # ---------------------------------------------------------------------
    def run(self):
        a = self.args
        skip = set(a.skip.split(',')) if a.skip else set()
        if a.only:
            skip = set('abce') - set(a.only.split(','))
        print('pg_bench: %d CPUs online, shared by PostgreSQL, the servers and the clients '
              '(and by whatever else runs here); load average %s' % (os.cpu_count(), loadavg()),
              flush=True)
        r = self.results
        trio = None

        def part(name, fn):
            try:
                return fn()
            except RuntimeError as e:
                print('    (%s) failed: %s' % (name, e), flush=True)
                return None

        def fanout_servers():
            self.start_cluster()
            conn = self.cluster.create_database('qhv_fanout')
            return [self.server('fanout-%s' % n, conn) for n in 'ABC']

        if 's' in a.only.split(','):
            part('s', self.statements)
            return
        if 'a' not in skip:
            r['a'] = part('a', lambda: self.one_server('postgresql'))
        if 'e' not in skip:
            r['e'] = part('e', lambda: self.one_server('sqlite'))
        if 'c' not in skip:
            # On a database of its own, holding only what (c) creates.
            fresh = part('c', fanout_servers)
            if fresh:
                r['c'] = part('c', lambda: self.fanout(fresh, 'on a fresh database'))
                for s in fresh:
                    s.stop()
        if 'b' not in skip:
            r['b'], trio = part('b', self.three_servers) or (None, None)
        if 'c' not in skip and trio:
            # Again on (b)'s servers and database: its ports are in the same
            # project's default group as (c)'s.
            r['c_after_b'] = part('c', lambda: self.fanout(
                trio, "after (b), on its database (%d more ports in the same project's "
                      "default security group)" % (3 * (200 + a.three_ports))))
        self.summary()

    def summary(self):
        r = self.results
        a, e, b = r.get('a'), r.get('e'), r.get('b')

        def v(res, key, f='%.0f'):
            return f % res[key] if res and res.get(key) is not None else '-'

        def ok(cond):
            return 'ok' if cond else 'MISSED'

        print('\n== pg_bench summary (2 CPUs shared by PostgreSQL, servers and clients) ==')
        print('  %-46s %14s %12s  %s' % ('figure', 'PostgreSQL', 'SQLite', 'target'))
        if a or e:
            print('  %-46s %12s/s %10s/s  >= 1000/s %s' % (
                'creates/s, 1 server, 16 clients', v(a, 'rate'), v(e, 'rate'),
                ok(a['rate'] >= TARGET_CREATES and not a['fail']) if a else ''))
            print('  %-46s %11s ms %9s ms' % ('create p99, 1 server, 16 clients',
                                              v(a, 'p99', '%.1f'), v(e, 'p99', '%.1f')))
            print('  %-46s %11s ms %9s ms' % ('server CPU per create (16-client phase)',
                                              v(a, 'cpu', '%.3f'), v(e, 'cpu', '%.3f')))
        if a:
            print('  %-46s %11s ms %12s' % ('PostgreSQL CPU per create', v(a, 'pg_cpu', '%.3f'),
                                            ''))
        if b:
            print('  %-46s %12s/s %12s  (sum of the three rates %.0f/s)' % (
                'creates/s, 3 servers, clients %s' % b['split'], v(b, 'rate'), '', b['sum']))
            print('  %-46s %11s ms %12s' % ('3 servers: servers\' CPU per create',
                                            v(b, 'cpu', '%.3f'), ''))
            print('  %-46s %11s ms %12s' % ('3 servers: PostgreSQL CPU per create',
                                            v(b, 'pg_cpu', '%.3f'), ''))
        for key, label in (('c', 'fresh database'), ('c_after_b', 'after (b)')):
            c = r.get(key)
            if c:
                print('  %-46s %11s ms %12s  <= 500 ms %s (p50 %.1f ms, %d ports)' % (
                    'fan-out A -> B, C: p99, %s' % label, v(c, 'p99', '%.1f'), '',
                    ok(c['p99'] <= TARGET_FANOUT_P99_MS and not c['missing']), c['p50'],
                    c['n']))
        if a or e:
            n = (a or e).get('list_ports') or 0
            verdict = ''
            if a and a.get('list') is not None and n >= 10000:
                verdict = ok(a['list'] <= TARGET_LIST_MS)
            print('  %-46s %11s ms %9s ms  <= 200 ms %s' % (
                'GET /v2.0/ports, %d ports (median of 5)' % n, v(a, 'list', '%.1f'),
                v(e, 'list', '%.1f'), verdict))

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default=os.path.join(ROOT, 'build'))
    ap.add_argument('--ports', type=int, default=2000,
                    help='(a)/(e): creates per qhv-bench phase (sequential, concurrent)')
    ap.add_argument('--list-ports', type=int, default=10000, help='(a)/(e)/(d): list size')
    ap.add_argument('--gets', type=int, default=2000)
    ap.add_argument('--three-ports', type=int, default=2000,
                    help='(b): creates per server in the measured phase')
    ap.add_argument('--split', default='6,5,5',
                    help='(b): clients per server, "6,5,5" (16 in all) or "16" (16 each)')
    ap.add_argument('--changes', type=int, default=300, help='(c): ports created through A')
    ap.add_argument('--rate', type=float, default=25.0, help='(c): creates per second')
    ap.add_argument('--hosts', type=int, default=4, help='(c): watching hosts on B and on C')
    ap.add_argument('--local-hosts', type=int, default=2,
                    help='(c): watching hosts on A itself (the baseline)')
    ap.add_argument('--pg-setting', action='append', metavar='NAME=VALUE',
                    help='a PostgreSQL setting for the throwaway cluster (ALTER SYSTEM, then a '
                         'restart), e.g. synchronous_commit=off to see what the WAL flush costs')
    ap.add_argument('--skip', default='', help='comma-separated parts to skip: a,b,c,e')
    ap.add_argument('--only', default='',
                    help='comma-separated parts to run: a,b,c,e; or "s" alone: where '
                         'PostgreSQL\'s time goes per create (pg_stat_statements; sets '
                         'shared_preload_libraries itself)')
    ap.add_argument('--statements-top', type=int, default=15)
    ap.add_argument('--keep', action='store_true', help='keep the work directory')
    args = ap.parse_args()
    if 's' in args.only.split(','):
        args.pg_setting = (args.pg_setting or []) + [
            'shared_preload_libraries=pg_stat_statements']
    if not os.access(os.path.join(args.build, 'bench', 'qhv-bench'), os.X_OK):
        sys.exit('pg_bench: no %s/bench/qhv-bench: build first (make build)' % args.build)
    try:
        pgcluster.require()
    except Exception as e:     # unittest.SkipTest saying what is missing
        sys.exit('pg_bench: %s' % e)
    b = PgBench(args)
    try:
        b.run()
    finally:
        b.cleanup()


if __name__ == '__main__':
    sys.exit(main())
