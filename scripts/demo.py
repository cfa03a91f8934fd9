#!/usr/bin/python3
"""The ovs backend end to end, for a newcomer to watch (make demo; root):
a qhv-server on its embedded SQLite, two simulated hypervisors (network
namespaces, each with its own Open vSwitch and qhv-agent), tenant networks,
subnets and ports made with the `openstack` CLI, VMs as namespaces, and the
reachability matrix measured with real pings.

    blue  vlan 101   10.1.0.0/24   blue1@h1 .11   blue2@h2 .12
    red   vlan 102   10.1.0.0/24   red1@h1  .21   red2@h2  .22   (same subnet, other segment)
    green nvgre 5101 10.2.0.0/24   green1@h1 .11  green2@h2 .12  (over GRE between the hosts)

usage: scripts/demo.py [--build DIR] [--keep]"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'system'))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'api'))
import netlab  # noqa: E402
import qhvtest  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default=os.path.join(HERE, '..', 'build'))
    ap.add_argument('--keep', action='store_true',
                    help='leave everything running until Ctrl-C (to look around)')
    args = ap.parse_args()
    why = netlab.missing()
    if why:
        sys.exit('demo: cannot run: ' + why)
    osc = shutil.which('openstack', path='/usr/bin:/usr/local/bin:' + os.environ.get('PATH', ''))
    if not osc:
        sys.exit('demo: the openstack CLI is missing (scripts/deps.sh test installs it)')
    server_bin = os.path.join(args.build, 'src', 'qhv-server')
    agent_bin = os.path.join(args.build, 'src', 'qhv-agent')
    qhvtest.SERVER = server_bin
    server = qhvtest.Server('[agent]\nauth_token = demo-secret\nreport_interval = 5\n').start()
    lab = netlab.Lab()
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    env.update(OS_AUTH_TYPE='none', OS_ENDPOINT='http://127.0.0.1:%d' % server.port)

    def cli(*a):
        print('  $ openstack ' + ' '.join(a))
        r = subprocess.run([osc] + list(a) + ['-f', 'json'], env=env, capture_output=True,
                           text=True, timeout=120)
        if r.returncode:
            raise SystemExit('openstack %s failed: %s' % (' '.join(a), r.stderr.strip()))
        return json.loads(r.stdout) if r.stdout.strip() else None

    try:
        print('qhv-server on http://127.0.0.1:%d (SQLite in %s)' % (server.port, server.dir))
        h1, h2 = lab.add_hosts(2)
        for h in (h1, h2):
            token = netlab.run(server_bin, '--config-file', server.conf, '--agent-token',
                               h.name).strip()
            h.conf = h.agent_conf('http://127.0.0.1:%d' % server.port, token)
            h.start_agent(agent_bin, h.conf)
            print('host %s: namespace %s, Open vSwitch in %s, provider address %s' % (
                h.name, h.ns, h.run_dir, h.pa))
        print('\nTenant networks, with the openstack CLI (OS_AUTH_TYPE=none OS_ENDPOINT=%s):'
              % env['OS_ENDPOINT'])
        nets = [('blue', 'vlan', 101, '10.1.0.0/24', ['11', '12']),
                ('red', 'vlan', 102, '10.1.0.0/24', ['21', '22']),
                ('green', 'nvgre', 5101, '10.2.0.0/24', ['11', '12'])]
        vms = []
        for name, ntype, seg, cidr, hosts_ip in nets:
            extra = ['--provider-physical-network', 'physnet1'] if ntype == 'vlan' else []
            cli('network', 'create', '--provider-network-type', ntype, '--provider-segment',
                str(seg), *extra, name)
            cli('subnet', 'create', '--network', name, '--subnet-range', cidr, name + '-v4')
            for i, (h, last) in enumerate(zip((h1, h2), hosts_ip)):
                vm = '%s%d' % (name, i + 1)
                ip = cidr.rsplit('.', 1)[0] + '.' + last
                port = cli('port', 'create', '--network', name, '--host', h.name,
                           '--device-owner', 'compute:nova', '--fixed-ip',
                           'subnet=%s-v4,ip-address=%s' % (name, ip), vm)
                port = {'id': port['id'], 'mac_address': port['mac_address'],
                        'fixed_ips': [{'ip_address': ip}]}
                vms.append(lab.add_vm(vm, h, port, 24))
        # The default security group lets its members reach each other.
        print('\nWaiting for the agents to wire the ports (status ACTIVE) ...')
        t0 = time.time()
        while time.time() - t0 < 60:
            ports = cli('port', 'list', '--long')
            if all(p['Status'] == 'ACTIVE' for p in ports) and len(ports) >= len(vms):
                break
            time.sleep(0.5)
        for p in cli('port', 'list', '--long'):
            ips = ' '.join(f['ip_address'] for f in p['Fixed IP Addresses'])
            print('  %-8s %-7s %s' % (p['Name'], p['Status'], ips))
        print('all ACTIVE after %.1f s\n' % (time.time() - t0))
        print('Reachability (ping from row to column; the columns are the VMs\' addresses):')
        width = max(len(v.name) for v in vms) + 2
        print(' ' * width + ''.join('%-*s' % (width, v.name) for v in vms))
        result = {}

        def probe(a, b):
            result[a.name, b.name] = 'yes' if a.reaches(b.ip) else 'no'
        threads = [threading.Thread(target=probe, args=(a, b)) for a in vms for b in vms
                   if a is not b]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for a in vms:
            row = [result.get((a.name, b.name), '-') for b in vms]
            print('%-*s' % (width, a.name) + ''.join('%-*s' % (width, c) for c in row))
        print('\nyes only within a network: blue and red share a subnet but not a segment;'
              '\ngreen crosses the hosts in NVGRE (GRE key = VSID 5101 << 8 | flow id).')
        cap = netlab.Capture(lab, h1.ns, 'ul1', 'ip proto 47')
        vms[4].ping(vms[5].ip, count=2)
        for src, dst, flags, proto, key, inner in netlab.gre_headers(cap.stop())[:2]:
            print('  on the wire: %s > %s GRE flags 0x%04x proto 0x%04x key 0x%08x (VSID %d)'
                  % (src, dst, flags, proto, key, key >> 8))
        if args.keep:
            print('\nRunning. Try: ip netns exec %s ping %s ; Ctrl-C ends the demo.'
                  % (vms[0].ns, vms[1].ip))
            signal.sigwait([signal.SIGINT, signal.SIGTERM])
    finally:
        lab.close()
        server.stop()
        server.cleanup()


if __name__ == '__main__':
    main()
