#!/usr/bin/python3
"""Port creates/s of qhv-server with auth_strategy = keystone (warm token
cache) against noauth, and the cost of a cold token validation.

    bench/keystone-bench.py [--build DIR] [--ports N] [--concurrency C] [--rounds R]
                            [--cold K]

Starts a real local Keystone (tests/api/keystone_fixture.py: Debian's
python3-keystone on SQLite), a noauth and a keystone qhv-server (same
configuration otherwise), then, R times in alternation, runs qhv-bench
against each (--url, N ports in each of its two create phases, C concurrent
clients; keystone: an admin token in X-Auth-Token, validated once and then
answered from the cache). Reports the median of the rounds and the server CPU
per create (from /proc). Then K fresh tokens: each one's first request (cold:
the server asks Keystone) and its second (warm: the cache answers).

A benchmark, not a test: it prints figures and exits 0 whatever they are (1
if something fails to run). docs/benchmarks.md explains the figures.
"""
import argparse
import http.client
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

SERVER_EXTRA = """
[DEFAULT]
api_workers = 8
[quotas]
quota_network = -1
quota_subnet = -1
quota_port = -1
"""


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def run_bench(bench, srv, args, header=None):
    cmd = [bench, '--url', 'http://127.0.0.1:%d' % srv.port, '--ports', str(args.ports),
           '--concurrency', str(args.concurrency), '--list-ports', '0', '--gets', '0']
    if header:
        cmd += ['--token-header', header]
    cpu0 = cpu_seconds(srv.proc.pid)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    cpu1 = cpu_seconds(srv.proc.pid)
    if r.returncode != 0:
        raise RuntimeError('qhv-bench failed (%d):\n%s\n%s' % (r.returncode, r.stdout[-3000:],
                                                                r.stderr[-3000:]))
    par = re.search(r'creates, \d+ concurrent clients\s+(\d+) /s', r.stdout)
    seq = re.search(r'creates, sequential\s+(\d+) /s', r.stdout)
    created = re.search(r'created (\d+) ports', r.stdout)
    if not (par and seq and created):
        raise RuntimeError('cannot read qhv-bench output:\n' + r.stdout[-3000:])
    n = int(created.group(1))
    return {'concurrent': int(par.group(1)), 'sequential': int(seq.group(1)),
            'cpu_ms': (cpu1 - cpu0) * 1000.0 / n if n else float('nan')}


def timed_get(conn, token):
    t0 = time.perf_counter()
    conn.request('GET', '/v2.0/networks?name=keystone-bench-none',
                 headers={'X-Auth-Token': token, 'Accept': 'application/json'})
    resp = conn.getresponse()
    resp.read()
    ms = (time.perf_counter() - t0) * 1000.0
    if resp.status != 200:
        raise RuntimeError('GET /v2.0/networks with a fresh token: %d' % resp.status)
    return ms


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--build', default=os.path.join(ROOT, 'build'))
    ap.add_argument('--ports', type=int, default=2000)
    ap.add_argument('--concurrency', type=int, default=16)
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--cold', type=int, default=40)
    args = ap.parse_args()
    bench = os.path.join(args.build, 'bench', 'qhv-bench')
    os.environ.setdefault('QHV_SERVER', os.path.join(args.build, 'src', 'qhv-server'))
    for exe in (bench, os.environ['QHV_SERVER']):
        if not os.access(exe, os.X_OK):
            sys.exit('keystone-bench: %s is not built (make)' % exe)
    sys.path.insert(0, os.path.join(ROOT, 'tests', 'api'))
    import keystone_fixture
    import qhvtest
    from test_keystone import server_conf
    import test_keystone

    print('starting Keystone (about 10-20 s) ...', flush=True)
    ks = keystone_fixture.Keystone()
    noauth = keystone = None
    try:
        ks.start()
        ks.create_identities()
        test_keystone.KS = ks     # server_conf() reads the module's Keystone
        noauth = qhvtest.Server(SERVER_EXTRA).start()
        keystone = qhvtest.Server(SERVER_EXTRA + server_conf()).start()
        header = 'X-Auth-Token: ' + ks.token('admin')
        results = {'noauth': [], 'keystone': []}
        for rnd in range(args.rounds):
            for name, srv, h in (('noauth', noauth, None), ('keystone', keystone, header)):
                r = run_bench(bench, srv, args, h)
                results[name].append(r)
                print('round %d %-8s: %5d creates/s concurrent, %5d sequential, server CPU '
                      '%.3f ms/create' % (rnd + 1, name, r['concurrent'], r['sequential'],
                                         r['cpu_ms']), flush=True)

        # Cold validations: K fresh tokens (logins done first, not timed).
        print('\ncold token validation: %d fresh tokens of user demo ...' % args.cold,
              flush=True)
        tokens = [ks.token('demo') for _ in range(args.cold)]
        conn = http.client.HTTPConnection('127.0.0.1', keystone.port, timeout=60)
        cold, warm = [], []
        for t in tokens:
            cold.append(timed_get(conn, t))
            warm.append(timed_get(conn, t))
        conn.close()
        keystone.stop()
        counters = re.search(r'keystone: (\d+) requests answered from the token cache, (\d+) '
                             r'validations and (\d+) service logins', keystone.read_log())

        def med(name, key):
            return statistics.median(r[key] for r in results[name])

        na, ka = med('noauth', 'concurrent'), med('keystone', 'concurrent')
        ns, kseq = med('noauth', 'sequential'), med('keystone', 'sequential')
        print('\n== keystone-bench summary (median of %d rounds, %d ports x 2 phases, %d '
              'clients) ==' % (args.rounds, args.ports, args.concurrency))
        print('  %-46s %10s %10s %10s' % ('figure', 'noauth', 'keystone', 'keystone/noauth'))
        print('  %-46s %8.0f/s %8.0f/s %9.1f %%  (target >= 90 %%)' % (
            'creates/s, %d concurrent clients' % args.concurrency, na, ka, 100.0 * ka / na))
        print('  %-46s %8.0f/s %8.0f/s %9.1f %%' % ('creates/s, sequential', ns, kseq,
                                                    100.0 * kseq / ns))
        print('  %-46s %7.3f ms %7.3f ms' % ('server CPU per create', med('noauth', 'cpu_ms'),
                                            med('keystone', 'cpu_ms')))
        print('  %-46s %7.2f ms  (p90 %.2f ms)' % ('request with a cold token (median)',
                                                  statistics.median(cold), pct(cold, 90)))
        print('  %-46s %7.2f ms  (p90 %.2f ms)' % ('same token again, warm cache (median)',
                                                  statistics.median(warm), pct(warm, 90)))
        print('  %-46s %7.2f ms' % ('cold validation cost (median difference)',
                                    statistics.median(c - w for c, w in zip(cold, warm))))
        if counters:
            print('  server counters: %s cache hits, %s validations, %s service logins'
                  % counters.groups())
    finally:
        for srv in (noauth, keystone):
            if srv:
                srv.cleanup()
        ks.cleanup()


if __name__ == '__main__':
    main()
