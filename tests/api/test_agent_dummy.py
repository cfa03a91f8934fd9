"""qhv-agent processes on the dummy backend against one qhv-server: ports go
ACTIVE only when their switch state is confirmed, each host's dummy switch
holds exactly what its plan asks for, restarts issue no writes, failures are
retried, foreign objects are never touched, and changes reach only the hosts
they concern. Every scenario ends by checking the feed against a full
recompute."""
import json
import re
import os
import signal
import subprocess
import time
import unittest

import qhvtest

BUILD = os.path.dirname(qhvtest.SERVER)
AGENT = os.environ.get('QHV_AGENT', os.path.join(BUILD, 'qhv-agent'))
QHVCTL = os.environ.get('QHVCTL', os.path.join(BUILD, 'qhvctl'))

SERVER_CONF = """
[agent]
auth_token = dummy-secret
report_interval = 5
"""

AGENT_CONF = """
[DEFAULT]
host = {host}
[agent]
server_url = {url}
{auth}physical_network_vswitch_mappings = physnet*:external
provider_address = {pa}
report_interval = 5
poll_wait = 5
[dummy]
state_file = {state}
"""


class Host:
    """A qhv-agent on the dummy backend. By default it talks plain HTTP to
    case.server with the host's derived agent token; url replaces the
    server's URL, extra is appended to its configuration, and keystone=True
    leaves the agent token out (extra then has [keystone_authtoken])."""

    def __init__(self, case, name, pa, url=None, extra='', keystone=False):
        self.case, self.name, self.pa = case, name, pa
        self.state = os.path.join(case.server.dir, name + '.json')
        self.conf = os.path.join(case.server.dir, name + '.conf')
        auth = ''
        if not keystone:
            token = case.server.agent_token(name)
            auth = 'auth_token = %s\n' % token
        url = url or 'http://127.0.0.1:%d' % case.server.port
        with open(self.conf, 'w') as f:
            f.write(AGENT_CONF.format(host=name, url=url, auth=auth, pa=pa, state=self.state) +
                    extra)
        self.logfile = os.path.join(case.server.dir, name + '.log')
        self.log = open(self.logfile, 'ab')
        self.log_start = self.log.tell()    # an earlier agent of this name may have logged
        self.proc = None

    def read_log(self):
        """What this agent logged."""
        with open(self.logfile, 'rb') as f:
            f.seek(self.log_start)
            return f.read().decode(errors='replace')

    def start(self, env=None):
        self.proc = subprocess.Popen([AGENT, '--config-file', self.conf], stdout=self.log,
                                     stderr=self.log, env=env)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc else 0
        self.proc = None
        return rc

    def ctl(self, *args):
        out = subprocess.run([QHVCTL, 'dummy', self.state] + list(args), capture_output=True,
                             text=True)
        self.case.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout

    def dump(self):
        return json.loads(self.ctl('dump'))

    def objects(self, kind=None):
        objs = self.dump()['objects']
        return {k: v for k, v in objs.items() if kind is None or k.startswith(kind + '/')}

    def counters(self):
        return json.loads(self.ctl('counters'))


class DummyHostsTest(qhvtest.ServerTestCase):
    extra_conf = SERVER_CONF
    wait_timeout = 10.0

    tools = (AGENT, QHVCTL)

    def setUp(self):
        self.hosts = {}

    def tearDown(self):
        # Stopped agents stay "alive" for agent_down_time; delete them so the
        # next test's `qhvctl wait` doesn't wait for hosts nobody runs.
        agents = {a['host']: a['id'] for a in self.get('/v2.0/agents')[1]['agents']}
        for h in self.hosts.values():
            rc = h.stop()
            self.assertIn(rc, (0, -signal.SIGTERM), 'agent %s exited with %s' % (h.name, rc))
            if h.name in agents:
                self.assertEqual(self.delete('/v2.0/agents/' + agents[h.name])[0], 204)

    def host(self, name, pa):
        """A dummy host whose agent has reported (so that a port bound to
        it binds: before the first report the host has no agent, and the
        binding fails, as Neutron's)."""
        h = Host(self, name, pa)
        h.ctl('counters')   # creates the state file
        self.hosts[name] = h.start()
        self.wait_for('agent of %s alive' % name, lambda: any(
            a['host'] == name and a['alive'] for a in self.get('/v2.0/agents')[1]['agents']),
            h.read_log)
        return h

    def status(self, port_id):
        st, body = self.get('/v2.0/ports/' + port_id)
        return body['port']['status'] if st == 200 else None

    def wait_active(self, *ports):
        for p in ports:
            self.wait_for('port %s ACTIVE' % p, lambda: self.status(p) == 'ACTIVE')

    def qhvctl_wait(self):
        out = subprocess.run([QHVCTL, '--url', 'http://127.0.0.1:%d' % self.server.port, 'wait',
                              '--timeout', '20'], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)

    def assertFeedIsFresh(self, host):
        token = self.server.agent_token(host)
        c = qhvtest.Client(self.server.port, {'X-Qhv-Agent-Token': token})
        fed = c.get('/channel/v1/hosts/%s/plan' % host)[1]['plan']
        fresh = c.get('/channel/v1/hosts/%s/plan?fresh=1' % host)[1]['plan']
        self.assertEqual(fed, fresh)

    def nvgre_net(self, name, cidr):
        net = self.make_network(name=name, **{'provider:network_type': 'nvgre'})
        self.make_subnet(net['id'], cidr)
        return net

    def test_two_hosts_converge_and_clean_up(self):
        h1, h2 = self.host('dh1', '192.168.60.1'), self.host('dh2', '192.168.60.2')
        net = self.nvgre_net('d-nv', '10.90.0.0/24')
        vsid = self.get('/v2.0/networks/' + net['id'])[1]['network']['provider:segmentation_id']
        p1 = self.make_port(net['id'], **{'binding:host_id': 'dh1'})
        p2 = self.make_port(net['id'], **{'binding:host_id': 'dh2'})
        self.assertEqual(p1['binding:vif_type'], 'hyperv')
        # Not ACTIVE until the VM NIC exists and its configuration is confirmed.
        time.sleep(0.5)
        self.assertEqual(self.status(p1['id']), 'DOWN')
        h1.ctl('nic', 'add', p1['id'])
        h2.ctl('nic', 'add', p2['id'])
        self.wait_active(p1['id'], p2['id'])
        self.qhvctl_wait()
        for h, mine, other in ((h1, p1, p2), (h2, p2, p1)):
            objs = h.objects()
            port = objs['port/' + mine['id']]['value']
            self.assertEqual(port['vsid'], vsid)
            self.assertEqual(port['vswitch'], 'external')
            self.assertIn('acl/%s/ingress' % mine['id'], objs)
            self.assertIn('acl/%s/egress' % mine['id'], objs)
            self.assertNotIn('port/' + other['id'], objs)
            recs = {v['value']['customer_address']: v['value'] for k, v in objs.items()
                    if k.startswith('lookup_record/')}
            ip1, ip2 = p1['fixed_ips'][0]['ip_address'], p2['fixed_ips'][0]['ip_address']
            self.assertEqual(recs[ip1]['provider_address'], '192.168.60.1')
            self.assertEqual(recs[ip2]['provider_address'], '192.168.60.2')
            self.assertEqual(len(recs), 2)
            routes = sorted(v['value']['destination'] for k, v in objs.items()
                            if k.startswith('customer_route/'))
            self.assertEqual(routes, ['0.0.0.0/0', '10.90.0.0/24'])
            self.assertEqual(list(h.objects('provider_address')),
                             ['provider_address/' + h.pa])
            self.assertTrue(all(v['owner'] == 'qhv' for v in objs.values()))
        # A VM NIC that goes away: DOWN.
        h2.ctl('nic', 'del', p2['id'])
        self.wait_for('p2 DOWN', lambda: self.status(p2['id']) == 'DOWN')
        h2.ctl('nic', 'add', p2['id'])
        self.wait_active(p2['id'])
        # Deleting the ports removes them everywhere, lookup records included.
        for p in (p1, p2):
            self.assertEqual(self.delete('/v2.0/ports/' + p['id'])[0], 204)
        for h in (h1, h2):
            self.wait_for('%s empty' % h.name,
                          lambda h=h: not h.objects('lookup_record') and not h.objects('port'))
            self.assertFeedIsFresh(h.name)

    def test_agent_runs_without_glibc_thread_cache(self):
        # agent/heap.h: the agent re-executes itself (same pid, same
        # arguments) with glibc's per-thread cache off, keeping an operator's
        # tunables; one that sets the cache itself is left alone. (What
        # execve passed is what the agent logs: glibc may rewrite the copy
        # /proc/PID/environ shows.)
        def tunables(h):
            m = self.wait_for('the start-up line of ' + h.name, lambda: re.findall(
                r'allocator: glibc, GLIBC_TUNABLES=(\S+)', h.read_log()))
            self.assertEqual(len(m), 1, h.read_log())
            with open('/proc/%d/cmdline' % h.proc.pid, 'rb') as f:
                self.assertEqual(f.read().split(b'\0')[:3],
                                 [AGENT.encode(), b'--config-file', h.conf.encode()])
            return m[0]
        env = dict(os.environ)
        env['GLIBC_TUNABLES'] = 'glibc.malloc.perturb=0'
        h = Host(self, 'th1', '192.168.64.1')
        h.ctl('counters')
        self.hosts['th1'] = h.start(env)
        self.assertEqual(tunables(h), 'glibc.malloc.perturb=0:glibc.malloc.tcache_count=0')
        for given, want in (('glibc.malloc.tcache_count=3', 'glibc.malloc.tcache_count=3'),
                            (None, 'glibc.malloc.tcache_count=0')):
            h.stop()
            h.log_start = os.path.getsize(h.logfile)
            env.pop('GLIBC_TUNABLES')
            if given:
                env['GLIBC_TUNABLES'] = given
            h.start(env)
            self.assertEqual(tunables(h), want)

    def test_restarts_issue_no_writes_and_stale_state_goes(self):
        h = self.host('rh1', '192.168.61.1')
        net = self.nvgre_net('r-nv', '10.91.0.0/24')
        p = self.make_port(net['id'], **{'binding:host_id': 'rh1'})
        gone = self.make_port(net['id'], **{'binding:host_id': 'rh1'})
        h.ctl('nic', 'add', p['id'])
        h.ctl('nic', 'add', gone['id'])
        h.ctl('foreign', 'add', 'lookup_record/9999/10.0.0.9/aa:bb:cc:dd:ee:ff',
              '{"vsid": 9999, "customer_address": "10.0.0.9"}')
        self.wait_active(p['id'], gone['id'])
        self.qhvctl_wait()
        # Agent restart with nothing changed: zero writes.
        h.stop()
        h.ctl('counters', 'reset')
        h.start()
        self.wait_for('heartbeat after restart', lambda: any(
            a['host'] == 'rh1' and a['alive'] for a in self.get('/v2.0/agents')[1]['agents']))
        time.sleep(1.5)
        c = h.counters()
        self.assertEqual((c['creates'], c['updates'], c['deletes']), (0, 0, 0), c)
        self.assertEqual(self.status(p['id']), 'ACTIVE')
        # Server restart: the agents resync without redoing applied work.
        h.ctl('counters', 'reset')
        self.server.stop()
        self.server.start()
        time.sleep(2.0)
        self.qhvctl_wait()
        c = h.counters()
        self.assertEqual((c['creates'], c['updates'], c['deletes']), (0, 0, 0), c)
        # While the agent is down a port is deleted: on start its objects go,
        # the foreign object stays.
        h.stop()
        self.assertEqual(self.delete('/v2.0/ports/' + gone['id'])[0], 204)
        h.start()
        self.wait_for('stale port removed', lambda: 'port/' + gone['id'] not in h.objects())
        objs = h.objects()
        self.assertIn('lookup_record/9999/10.0.0.9/aa:bb:cc:dd:ee:ff', objs)
        self.assertEqual(objs['lookup_record/9999/10.0.0.9/aa:bb:cc:dd:ee:ff']['owner'], 'foreign')
        self.assertIn('port/' + p['id'], objs)
        self.assertFeedIsFresh('rh1')

    def test_failures_are_retried_and_do_not_block_others(self):
        h = self.host('fh1', '192.168.62.1')
        net = self.nvgre_net('f-nv', '10.92.0.0/24')
        h.ctl('fault', 'fail', '1', 'acl')
        a = self.make_port(net['id'], **{'binding:host_id': 'fh1'})
        b = self.make_port(net['id'], **{'binding:host_id': 'fh1'})
        h.ctl('nic', 'add', a['id'])
        h.ctl('nic', 'add', b['id'])
        self.wait_active(a['id'], b['id'])
        self.assertGreaterEqual(h.counters()['failed'], 1)
        # An object that vanishes is put back.
        key = 'acl/%s/ingress' % a['id']
        h.ctl('vanish', key)
        self.wait_for('vanished object restored', lambda: key in h.objects(), timeout=15)
        self.assertFeedIsFresh('fh1')

    def test_group_changes_reach_affected_hosts_only(self):
        h1, h2 = self.host('gh1', '192.168.63.1'), self.host('gh2', '192.168.63.2')
        net = self.make_network(name='g-vl', **{'provider:network_type': 'vlan',
                                               'provider:physical_network': 'physnet1',
                                               'provider:segmentation_id': 3300})
        self.make_subnet(net['id'], '10.93.0.0/24')
        sga = self.post('/v2.0/security-groups', {'security_group': {'name': 'ga'}})[1]['security_group']
        sgb = self.post('/v2.0/security-groups', {'security_group': {'name': 'gb'}})[1]['security_group']
        pa = self.make_port(net['id'], security_groups=[sga['id']], **{'binding:host_id': 'gh1'})
        pb = self.make_port(net['id'], security_groups=[sgb['id']], **{'binding:host_id': 'gh2'})
        h1.ctl('nic', 'add', pa['id'])
        h2.ctl('nic', 'add', pb['id'])
        self.wait_active(pa['id'], pb['id'])
        self.qhvctl_wait()
        port = h1.objects('port')['port/' + pa['id']]['value']
        self.assertEqual(port['vlan'], 3300)
        h1.ctl('counters', 'reset')
        h2.ctl('counters', 'reset')
        st, _ = self.post('/v2.0/security-group-rules', {'security_group_rule': {
            'security_group_id': sga['id'], 'direction': 'ingress', 'protocol': 'tcp',
            'port_range_min': 22, 'port_range_max': 22, 'remote_ip_prefix': '10.0.0.0/8'}})
        self.assertEqual(st, 201)
        self.wait_for('gh1 acl updated', lambda: h1.counters()['updates'] >= 1)
        self.qhvctl_wait()
        self.assertEqual(h2.counters()['ops'], 0)
        acl = h1.objects('acl')['acl/%s/ingress' % pa['id']]['value']
        self.assertIn(22, json.dumps(acl) and [r.get('port_range_min') for r in acl['rules']])
        for h in ('gh1', 'gh2'):
            self.assertFeedIsFresh(h)


if __name__ == '__main__':
    unittest.main()
