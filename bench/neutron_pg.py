#!/usr/bin/python3
"""Neutron and qhv-server side by side on the same PostgreSQL (issue 16).

A throwaway PostgreSQL cluster (tests/api/pgcluster.py) holds two databases:
one for Debian's neutron-server 21 (Zed), one for a qhv-server. Both are
measured by the same client, build/bench/qhv-bench --url (it uses only
/v2.0/networks, subnets and ports), at 16 clients: port creates/s, and CPU
per create of the server (neutron-server: the parent and all its workers)
and of PostgreSQL (the postmaster and its backends), over the 16-client
phase. Then the ratios qhv/Neutron (target >= 150x creates/s).

Neutron's configuration (written to a temporary directory; nothing in
/etc/neutron is read but api-paste.ini): ML2 with type_drivers vlan,
tenant_network_types vlan, network_vlan_ranges physnet1:100:2999, no
mechanism driver (ports are created unbound, no agent is needed),
extension_drivers port_security, auth_strategy noauth, service_plugins
empty, api_workers 2, rpc_workers 0, transport_url fake:// (no RabbitMQ),
no Nova notifications, port quota unlimited. `neutron-db-manage upgrade
heads` creates its schema.

Usage: bench/neutron_pg.py [--build DIR] [--ports 200] [--qhv-ports 2000]
                           [--no-qhv] [--keep]
Needs neutron-server (not in scripts/deps.sh: its Debian package starts
services that listen on 9696), installed with services kept from starting:

  printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
      neutron-server python3-psycopg2
  systemctl disable neutron-api neutron-rpc-server

Not a test: it prints figures. Standard library only (plus Neutron itself).
"""
import argparse
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pg_bench  # noqa: E402
from pg_bench import pgcluster  # noqa: E402

NEUTRON_CONF = """
[DEFAULT]
bind_host = 127.0.0.1
bind_port = {port}
auth_strategy = noauth
core_plugin = ml2
service_plugins =
api_workers = 2
rpc_workers = 0
rpc_state_report_workers = 0
transport_url = fake://
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
dhcp_agent_notification = false
api_paste_config = /etc/neutron/api-paste.ini
state_path = {dir}/state
debug = false
use_stderr = false
log_file = {dir}/neutron.log
[database]
connection = {connection}
[oslo_concurrency]
lock_path = {dir}/lock
[oslo_policy]
policy_dirs = {dir}/policy.d
[quotas]
quota_port = -1
quota_network = -1
quota_subnet = -1
[ml2]
type_drivers = vlan
tenant_network_types = vlan
mechanism_drivers =
extension_drivers = port_security
[ml2_type_vlan]
network_vlan_ranges = physnet1:100:2999
[securitygroup]
enable_security_group = true
"""

NEUTRON_SERVER = '/usr/bin/neutron-server'
NEUTRON_DB_MANAGE = '/usr/bin/neutron-db-manage'


def neutron_version():
    r = subprocess.run(['dpkg-query', '-W', '-f=${Version}', 'neutron-server'],
                       capture_output=True, text=True)
    return r.stdout.strip() or 'unknown'


class Neutron:
    def __init__(self, workdir, connection):
        self.dir = os.path.join(workdir, 'neutron')
        for d in ('state', 'lock', 'policy.d'):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        self.port = pg_bench.free_port()
        self.conf = os.path.join(self.dir, 'neutron.conf')
        with open(self.conf, 'w') as f:
            f.write(NEUTRON_CONF.format(port=self.port, dir=self.dir, connection=connection))
        self.proc = None

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.port

    def migrate(self):
        t = time.monotonic()
        r = subprocess.run([NEUTRON_DB_MANAGE, '--config-file', self.conf, 'upgrade', 'heads'],
                           capture_output=True, text=True, cwd=self.dir)
        if r.returncode != 0:
            raise RuntimeError('neutron-db-manage upgrade heads failed:\n%s' % (
                (r.stdout + r.stderr)[-3000:]))
        return time.monotonic() - t

    def start(self, timeout=180):
        out = open(os.path.join(self.dir, 'neutron-server.out'), 'ab')
        self.proc = subprocess.Popen([NEUTRON_SERVER, '--config-file', self.conf], stdout=out,
                                     stderr=out, cwd=self.dir, start_new_session=True)
        t = time.monotonic()
        while time.monotonic() - t < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError('neutron-server exited (%d):\n%s' % (
                    self.proc.returncode, self.log_tail()))
            try:
                pg_bench.Api(self.port, timeout=10).req('GET', '/v2.0/networks')
                return time.monotonic() - t
            except Exception:
                time.sleep(0.5)
        raise RuntimeError('neutron-server did not answer in %d s:\n%s' % (timeout,
                                                                           self.log_tail()))

    def log_tail(self, n=3000):
        text = ''
        for name in ('neutron-server.out', 'neutron.log'):
            try:
                with open(os.path.join(self.dir, name), errors='replace') as f:
                    text += f.read()[-n:]
            except OSError:
                pass
        return text

    def cpu_ms(self):
        return pg_bench.tree_cpu_ms(self.proc.pid)

    def workers(self):
        return len(pg_bench.children(self.proc.pid))

    def stop(self):
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            pass
        # Its workers are in the process group it was started in (ours).
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default=os.path.join(pg_bench.ROOT, 'build'))
    ap.add_argument('--ports', type=int, default=200,
                    help='Neutron: creates per qhv-bench phase (sequential, then 16 clients)')
    ap.add_argument('--qhv-ports', type=int, default=2000,
                    help='qhv: creates per qhv-bench phase')
    ap.add_argument('--no-qhv', action='store_true', help='measure Neutron only')
    ap.add_argument('--keep', action='store_true', help='keep the work directory')
    args = ap.parse_args()
    bench_bin = os.path.join(args.build, 'bench', 'qhv-bench')
    if not os.access(bench_bin, os.X_OK):
        sys.exit('neutron_pg: no %s: build first (make build)' % bench_bin)
    missing = [p for p in (NEUTRON_SERVER, NEUTRON_DB_MANAGE) if not os.access(p, os.X_OK)]
    if missing or subprocess.run(['/usr/bin/python3', '-c', 'import psycopg2, neutron'],
                                 capture_output=True).returncode:
        sys.exit('neutron_pg: needs neutron-server and python3-psycopg2 (missing: %s); see '
                 'bench/neutron_pg.py\'s first lines for how to install them without starting '
                 'services' % (', '.join(missing) or 'python modules'))
    try:
        pgcluster.require()
    except Exception as e:
        sys.exit('neutron_pg: %s' % e)

    qargs = argparse.Namespace(build=args.build, ports=args.qhv_ports, list_ports=0,
                               gets=2000, keep=args.keep)
    pb = pg_bench.PgBench(qargs)
    neutron = None
    try:
        cluster = pb.start_cluster()
        print('neutron_pg: %d CPUs online, shared by PostgreSQL, the servers and the clients '
              '(and by whatever else runs here); load average %s' % (
                  os.cpu_count(), pg_bench.loadavg()), flush=True)
        neutron = Neutron(pb.dir, cluster.create_database('neutron'))
        mig = neutron.migrate()
        up = neutron.start()
        print('\nneutron-server %s (ML2 vlan, no mechanism driver, noauth, api_workers 2, '
              'rpc_workers 0, transport fake://): schema in %.1f s, answering %.1f s after '
              'start, %d worker processes' % (neutron_version(), mig, up, neutron.workers()),
              flush=True)
        master = pg_bench.pg_master(cluster)
        meters = {'server': neutron.cpu_ms, 'pg': lambda: pg_bench.tree_cpu_ms(master)}
        print('qhv-bench --url: N=%d, 16 clients; load average before: %s' % (
            args.ports, pg_bench.loadavg()), flush=True)
        run = pg_bench.BenchRun(bench_bin, neutron.url, args.ports, 16, 0, 100, meters,
                                pb.lock, pb.log).start().join()
        pg_bench.print_bench_phases(run)
        conc = run.phases.get('concurrent')
        if not conc:
            print('qhv-bench did not finish (exit %s):\n%s' % (run.rc, ''.join(run.lines[-30:])))
            return 1
        n = {'rate': conc['rate'], 'p50': conc['p50'], 'p99': conc['p99'],
             'cpu': run.cpu('server', 'sequential', 'concurrent') / conc['reqs'],
             'pg_cpu': run.cpu('pg', 'sequential', 'concurrent') / conc['reqs'],
             'seq_p50': run.phases['sequential']['p50'], 'list': run.list_median,
             'list_ports': run.list_ports}
        print('    16 clients: %.1f creates/s, p50 %.0f ms, p99 %.0f ms; neutron-server CPU '
              '%.1f ms per create, PostgreSQL CPU %.2f ms per create; GET /v2.0/ports of %s ports: '
              'median %s ms' % (n['rate'], n['p50'], n['p99'], n['cpu'], n['pg_cpu'],
                                n['list_ports'], n['list']), flush=True)
        neutron.stop()

        if args.no_qhv:
            return 0
        q = pb.one_server('postgresql')
        if not q:
            return 1
        print('\n== neutron_pg summary (same machine, same PostgreSQL cluster, same client; '
              '2 CPUs shared) ==')
        print('  %-40s %14s %14s %10s' % ('figure', 'neutron-server', 'qhv-server', 'qhv/Neutron'))
        ratio = q['rate'] / n['rate'] if n['rate'] else float('inf')
        print('  %-40s %12.1f/s %12.0f/s %9.0fx  (target >= 150x: %s)' % (
            'port creates/s, 16 clients', n['rate'], q['rate'], ratio,
            'ok' if ratio >= 150 else 'MISSED'))
        print('  %-40s %11.1f ms %11.2f ms' % ('create p99, 16 clients', n['p99'], q['p99']))
        print('  %-40s %11.1f ms %11.3f ms %9.0fx' % ('server CPU per create', n['cpu'], q['cpu'],
                                                     n['cpu'] / q['cpu'] if q['cpu'] else 0))
        print('  %-40s %11.2f ms %11.3f ms %9.1fx' % (
            'PostgreSQL CPU per create', n['pg_cpu'], q['pg_cpu'],
            n['pg_cpu'] / q['pg_cpu'] if q['pg_cpu'] else 0))
        tn, tq = n['cpu'] + n['pg_cpu'], q['cpu'] + q['pg_cpu']
        print('  %-40s %11.1f ms %11.3f ms %9.0fx' % ('server + PostgreSQL CPU per create', tn, tq,
                                                     tn / tq if tq else 0))
        return 0
    finally:
        if neutron:
            neutron.stop()
        pb.cleanup()


if __name__ == '__main__':
    sys.exit(main())
