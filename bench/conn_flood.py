#!/usr/bin/python3
"""A crowd of connections against one qhv-server (the hardening issue, item
2; docs/operations.md "Connection limits"): while IDLE connections that send
nothing and POLLS agents' long-polls (GET .../plan?since=R&wait=60, one per
host over HOSTS hosts) are held, GETs of /v2.0/networks are timed. Prints:

  held          connections the server holds (its open descriptors, less
                those it had before), and how long opening them took
  GET           p50/p99/max of SAMPLES GETs on new connections meanwhile,
                and how many were not answered 200
  released      after the long-polls' clients close: seconds until the
                server has let go of their connections (before the fix they
                stayed until their wait ran out)
  dropped       with the header timeout: seconds until the idle ones are gone

The connections come from many loopback addresses (127.0.x.y: the default
per-address limit is 512). The script raises its own open-file limit.
Not a test: it asserts nothing, it prints figures. Standard library only.

Usage: bench/conn_flood.py [--build DIR] [--idle 5000] [--polls 2000]
                           [--hosts 200] [--samples 50] [--header-timeout 30]
"""
import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time

CONF = """
[DEFAULT]
bind_host = 127.0.0.1
bind_port = {port}
api_workers = 4
client_header_timeout = {header_timeout}
[database]
connection = sqlite:///{dir}/qhv.sqlite
[agent]
auth_token = bench-secret
"""


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def open_fds(pid):
    return len(os.listdir('/proc/%d/fd' % pid))


def source(kind, i, per_address=200):
    """Loopback source address of connection i of a kind (1 = idle, 2 = polls, 3 = GETs)."""
    n = i // per_address
    return '127.%d.%d.%d' % (kind, n // 250, 1 + n % 250)


def connect(port, src, timeout=5):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(timeout)
    try:
        s.connect(('127.0.0.1', port))
    except OSError:
        s.close()
        raise
    s.settimeout(None)
    return s


def hold(port, kind, n, first=None):
    """n connections (sending first on each, if given); stops at the first
    that cannot connect (a server that no longer accepts)."""
    socks = []
    try:
        for i in range(n):
            s = connect(port, source(kind, i))
            socks.append(s)
            if first:
                s.sendall(first[i % len(first)])
    except OSError as e:
        print('              connection %d of %d failed: %s' % (len(socks) + 1, n, e))
    return socks


def request(port, path, src, headers='', timeout=30):
    """One GET on a new connection: (status or None, body, seconds)."""
    t0 = time.monotonic()
    try:
        s = connect(port, src)
    except OSError:
        return None, b'', time.monotonic() - t0
    s.settimeout(timeout)
    try:
        s.sendall(('GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n'
                   % (path, headers)).encode())
        buf = b''
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    except OSError:
        buf = b''
    finally:
        s.close()
    dt = time.monotonic() - t0
    if not buf.startswith(b'HTTP/1.1 '):
        return None, b'', dt
    return int(buf.split()[1]), buf.split(b'\r\n\r\n', 1)[-1], dt


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p / 100))]


def wait_until(fn, limit):
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if fn():
            return time.monotonic() - t0
        time.sleep(0.05)
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default='build')
    ap.add_argument('--idle', type=int, default=5000)
    ap.add_argument('--polls', type=int, default=2000)
    ap.add_argument('--hosts', type=int, default=200)
    ap.add_argument('--samples', type=int, default=50)
    ap.add_argument('--header-timeout', type=int, default=30,
                    help='the server\'s client_header_timeout (long enough to time GETs '
                         'while the idle connections are held)')
    args = ap.parse_args()
    limit = raise_nofile()
    need = args.idle + args.polls + 100
    if limit < need:
        sys.exit('open-file limit %d < %d: raise the hard limit (ulimit -Hn)' % (limit, need))
    server_bin = os.path.join(args.build, 'src', 'qhv-server')
    tmp = tempfile.mkdtemp(prefix='qhv-conn-flood-')
    port = free_port()
    conf = os.path.join(tmp, 'qhv.conf')
    with open(conf, 'w') as f:
        f.write(CONF.format(port=port, dir=tmp, header_timeout=args.header_timeout))
    log = open(os.path.join(tmp, 'server.log'), 'w')
    proc = subprocess.Popen([server_bin, '--config-file', conf], stdout=log, stderr=log)
    held = []
    try:
        if wait_until(lambda: request(port, '/', '127.0.0.1', timeout=2)[0] == 200, 20) is None:
            sys.exit('qhv-server did not start (log in %s)' % tmp)
        base = open_fds(proc.pid)
        # The long-polls: one per host, the hosts' revisions first.
        polls = []
        for h in range(args.hosts):
            host = 'bench%d' % h
            token = subprocess.run([server_bin, '--config-file', conf, '--agent-token', host],
                                   capture_output=True, text=True, check=True).stdout.strip()
            hdr = 'X-Qhv-Agent-Token: %s\r\n' % token
            st, body, _ = request(port, '/channel/v1/hosts/%s/plan' % host, '127.0.0.1', hdr)
            if st != 200:
                sys.exit('plan of %s: %s %s' % (host, st, body[:200]))
            polls.append(('GET /channel/v1/hosts/%s/plan?since=%d&wait=60 HTTP/1.1\r\n'
                          'Host: x\r\n%s\r\n' % (host, json.loads(body)['revision'], hdr)).encode())
        t0 = time.monotonic()
        idle = hold(port, 1, args.idle)
        waiting = hold(port, 2, args.polls, polls)
        held = idle + waiting
        total = len(held)
        accepted = wait_until(lambda: open_fds(proc.pid) - base >= total, 60)
        opened = time.monotonic() - t0
        print('held          %d connections (%d idle, %d long-polls) in %.1f s; server holds %d'
              % (total, len(idle), len(waiting), opened, open_fds(proc.pid) - base))
        if accepted is None:
            print('              (not all accepted within 60 s)')
        times, failed = [], 0
        for i in range(args.samples):
            st, _, dt = request(port, '/v2.0/networks', source(3, i, 1), timeout=10)
            times.append(dt)
            failed += st != 200
        print('GET           p50 %.1f ms  p99 %.1f ms  max %.1f ms  not 200: %d of %d'
              % (pct(times, 50) * 1e3, pct(times, 99) * 1e3, max(times) * 1e3, failed,
                 args.samples))
        before = open_fds(proc.pid)
        for s in waiting:
            s.close()
        released = wait_until(lambda: open_fds(proc.pid) <= before - len(waiting), 90)
        print('released      %d closed long-polls in %s' % (
            len(waiting), '%.2f s' % released if released is not None else 'more than 90 s'))
        # The server's descriptors besides connections may grow a little
        # meanwhile (the database's WAL files): 16 of slack.
        dropped = wait_until(lambda: open_fds(proc.pid) - base <= 16, args.header_timeout + 60)
        print('dropped       %d idle connections %s after they opened (client_header_timeout '
              '%d s)' % (len(idle), 'within %.1f s' % (time.monotonic() - t0)
                         if dropped is not None else 'not within the timeout + 60 s',
                         args.header_timeout))
    finally:
        for s in held:
            s.close()
        proc.terminate()
        proc.wait(30)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
