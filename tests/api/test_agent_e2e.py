"""End to end: qhv-server + qhv-agent (dummy backend) + qhvctl: agent
kill -9 and restart, conflicts with foreign objects, vanishing objects, a
server restart, a slow switch.

    cd tests/api && QHV_SERVER=../../build/src/qhv-server /usr/bin/python3 -m unittest -v test_agent_e2e
"""
import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qhvtest  # noqa: E402

BUILD = os.environ.get('QHV_BUILD', os.path.dirname(os.path.dirname(qhvtest.SERVER)))
AGENT = os.environ.get('QHV_AGENT', BUILD + '/src/qhv-agent')
QHVCTL = os.environ.get('QHVCTL', BUILD + '/src/qhvctl')


def ctl(*args, check=True):
    p = subprocess.run([QHVCTL] + list(args), capture_output=True, text=True, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError('qhvctl %s: %s %s' % (args, p.returncode, p.stderr))
    return p


class Agent:
    def __init__(self, server, host, directory, extra='', debug=True):
        self.server, self.host, self.dir = server, host, directory
        self.state = os.path.join(directory, host + '.json')
        self.conf = os.path.join(directory, host + '-agent.conf')
        token = server.agent_token(host)
        with open(self.conf, 'w') as f:
            f.write('[DEFAULT]\nhost = %s\ndebug = %s\n[agent]\nserver_url = http://127.0.0.1:%d\n'
                    'auth_token = %s\nbackend = dummy\n'
                    'physical_network_vswitch_mappings = physnet*:external\n'
                    'provider_address = 192.168.50.%d\n[dummy]\nstate_file = %s\n%s'
                    % (host, 'true' if debug else 'false', server.port, token,
                       10 + int(host[-1]), self.state, extra))
        self.logpath = os.path.join(directory, host + '-agent.log')
        self.proc = None

    def start(self):
        self.log = open(self.logpath, 'ab')
        self.proc = subprocess.Popen([AGENT, '--config-file', self.conf],
                                     stdout=self.log, stderr=self.log)
        return self

    def stop(self, sig=signal.SIGTERM):
        rc = None
        if self.proc:
            self.proc.send_signal(sig)
            rc = self.proc.wait(20)
            self.proc = None
            self.log.close()
        return rc

    def read_log(self):
        with open(self.logpath, 'rb') as f:
            return f.read().decode(errors='replace')

    def dummy(self, *args):
        return ctl('dummy', self.state, *args)

    def counters(self):
        return json.loads(self.dummy('counters').stdout)

    def objects(self):
        return json.loads(self.dummy('dump').stdout)['objects']


class AgentE2E(qhvtest.ServerTestCase):
    extra_conf = '[agent]\nauth_token = s3cret\nreport_interval = 5\n'

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.agent = Agent(cls.server, 'hv1', cls.server.dir).start()
        cls.url = 'http://127.0.0.1:%d' % cls.server.port

    @classmethod
    def tearDownClass(cls):
        rc = cls.agent.stop()
        log = cls.agent.read_log()
        super().tearDownClass()
        if rc != 0:
            raise AssertionError('qhv-agent exited with %s; log tail:\n%s' % (rc, log[-4000:]))

    def wait_for(self, what, fn, timeout=10.0):
        t0 = time.time()
        while time.time() - t0 < timeout:
            if fn():
                return time.time() - t0
            time.sleep(0.02)
        self.fail('timeout waiting for %s; agent log tail:\n%s'
                  % (what, self.agent.read_log()[-3000:]))

    def status(self, pid):
        return self.get('/v2.0/ports/' + pid)[1]['port']['status']

    def wait_status(self, pid, want, timeout=10.0):
        return self.wait_for('%s %s' % (pid, want), lambda: self.status(pid) == want, timeout)

    def qwait(self, *args):
        return ctl('--url', self.url, 'wait', *args, check=False)

    def test_1_lifecycle(self):
        a = self.agent
        self.wait_for('agent alive', lambda: any(
            x['host'] == 'hv1' and x['alive'] for x in self.get('/v2.0/agents')[1]['agents']))
        self.assertIn('hv1', ctl('--url', self.url, 'agents').stdout)
        net = self.make_network(**{'provider:network_type': 'vlan',
                                   'provider:physical_network': 'physnet1',
                                   'provider:segmentation_id': 101})
        self.make_subnet(net['id'], '10.0.0.0/24')
        pid = self.make_port(net['id'], **{'binding:host_id': 'hv1'})['id']
        self.assertEqual(self.qwait('--timeout', '10').returncode, 0)
        p = self.get('/v2.0/ports/' + pid)[1]['port']
        self.assertEqual(p['binding:vif_type'], 'hyperv')
        self.assertEqual(p['binding:vif_details'], {'port_filter': True})
        self.assertEqual(p['status'], 'DOWN')         # no VM NIC yet
        self.assertEqual(a.objects(), {})
        # The NIC appears: ACTIVE once port and ACLs are confirmed.
        a.dummy('nic', 'add', pid)
        dt = self.wait_status(pid, 'ACTIVE')
        print('\n  NIC added -> ACTIVE in %.3f s' % dt, file=sys.stderr)
        objs = a.objects()
        # The default group's "ingress from the same group" rules name its
        # member addresses as one address set per family.
        dsg = self.get('/v2.0/security-groups?name=default')[1]['security_groups'][0]['id']
        self.assertEqual(sorted(objs), sorted(['port/' + pid, 'acl/%s/ingress' % pid,
                                               'acl/%s/egress' % pid,
                                               'address_set/%s/IPv4' % dsg,
                                               'address_set/%s/IPv6' % dsg]))
        ip = p['fixed_ips'][0]['ip_address']
        self.assertEqual(objs['address_set/%s/IPv4' % dsg]['value']['addresses'], [ip + '/32'])
        self.assertEqual(objs['port/' + pid]['value']['vlan'], 101)
        self.assertEqual(objs['port/' + pid]['value']['vswitch'], 'external')
        self.assertEqual(a.counters()['ops'], 5)
        self.assertEqual(self.qwait('--timeout', '10').returncode, 0)
        ag = [x for x in self.get('/v2.0/agents')[1]['agents'] if x['host'] == 'hv1'][0]
        conf = ag['configurations']
        self.assertEqual(conf['backend'], 'dummy')
        self.assertEqual(conf['vswitch_mappings'], ['physnet*:external'])
        self.assertEqual(conf['network_types'], ['local', 'flat', 'vlan', 'nvgre', 'ip_rewrite'])
        self.assertTrue(conf['port_filter'])
        self.assertGreater(conf['applied_revision'], 0)

        # Restart: converges without a single write; the port stays ACTIVE.
        before = a.counters()
        self.assertEqual(a.stop(), 0)
        a.start()
        self.assertEqual(self.qwait('--timeout', '10').returncode, 0)
        time.sleep(0.5)
        self.assertEqual(a.counters(), before)
        self.assertEqual(self.status(pid), 'ACTIVE')
        a.stop(signal.SIGKILL)
        a.start()
        self.assertEqual(self.qwait('--timeout', '10').returncode, 0)
        time.sleep(0.5)
        self.assertEqual(a.counters(), before)

        # A failing op is retried (backoff) and the rest goes on.
        sg = self.get('/v2.0/security-groups?name=default')[1]['security_groups'][0]['id']
        a.dummy('fault', 'fail', '1', 'acl')
        st, _ = self.post('/v2.0/security-group-rules', {'security_group_rule': {
            'security_group_id': sg, 'direction': 'ingress', 'protocol': 'tcp',
            'port_range_min': 22, 'port_range_max': 22, 'remote_ip_prefix': '0.0.0.0/0'}})
        self.assertEqual(st, 201)
        self.assertEqual(self.qwait('--timeout', '10').returncode, 0)
        c = a.counters()
        self.assertEqual(c['failed'], before['failed'] + 1)
        self.assertEqual(c['updates'], before['updates'] + 1)
        rules = a.objects()['acl/%s/ingress' % pid]['value']['rules']
        self.assertIn(22, [r['port_range_min'] for r in rules])
        self.assertIn('retry in 100 ms', a.read_log())

        # Foreign objects are left alone; a vanished object comes back.
        a.dummy('foreign', 'add', 'provider_address/10.9.9.9', '{"address": "10.9.9.9"}')
        a.dummy('vanish', 'acl/%s/egress' % pid)
        self.wait_for('acl back', lambda: 'acl/%s/egress' % pid in a.objects())
        self.assertEqual(a.objects()['provider_address/10.9.9.9']['owner'], 'foreign')
        self.assertEqual(self.status(pid), 'ACTIVE')

        # The NIC goes: DOWN; comes back: ACTIVE.
        a.dummy('nic', 'del', pid)
        dt = self.wait_status(pid, 'DOWN')
        print('  NIC removed -> DOWN in %.3f s' % dt, file=sys.stderr)
        a.dummy('nic', 'add', pid)
        self.wait_status(pid, 'ACTIVE')

        # nvgre: lookup records, routes, the provider address.
        net2 = self.make_network(**{'provider:network_type': 'nvgre'})
        self.make_subnet(net2['id'], '10.1.0.0/24')
        p2 = self.make_port(net2['id'], **{'binding:host_id': 'hv1'})
        a.dummy('nic', 'add', p2['id'])
        self.wait_status(p2['id'], 'ACTIVE')
        kinds = sorted(k.split('/')[0] for k in a.objects())
        self.assertIn('lookup_record', kinds)
        self.assertEqual(kinds.count('customer_route'), 2)
        self.assertIn('provider_address/192.168.50.11', a.objects())

        # Deleting the port removes what qhv created for it, nothing foreign.
        self.assertEqual(self.delete('/v2.0/ports/' + p2['id'])[0], 204)
        self.assertEqual(self.qwait('--timeout', '10').returncode, 0)
        self.assertEqual(sorted(a.objects()),
                         sorted(['port/' + pid, 'acl/%s/ingress' % pid, 'acl/%s/egress' % pid,
                                 'address_set/%s/IPv4' % dsg, 'address_set/%s/IPv6' % dsg,
                                 'provider_address/10.9.9.9']))

        # A foreign object holding a desired id: untouched, reported, the
        # revision is not applied (wait times out), and the port it holds is
        # never ACTIVE: DOWN, with the reason in the agent's report.
        a.dummy('foreign', 'add', 'acl/%s/egress' % pid, '{"mine": true}')
        time.sleep(0.5)
        self.assertEqual(a.objects()['acl/%s/egress' % pid],
                         {'value': {'mine': True}, 'owner': 'foreign'})
        self.assertIn('held by a foreign object', a.read_log())
        st, _ = self.post('/v2.0/security-group-rules', {'security_group_rule': {
            'security_group_id': sg, 'direction': 'ingress', 'protocol': 'udp',
            'port_range_min': 53, 'port_range_max': 53, 'remote_ip_prefix': '10.0.0.0/8'}})
        self.assertEqual(st, 201)
        self.assertEqual(self.qwait('--timeout', '1').returncode, 1)
        self.wait_status(pid, 'DOWN')
        a.dummy('nic', 'del', pid)      # the NIC (and what lives on it) goes
        a.dummy('nic', 'add', pid)
        self.assertEqual(self.qwait('--timeout', '10').returncode, 0)
        self.wait_status(pid, 'ACTIVE')

        # A revision no agent has applied: wait times out with 1.
        p = self.qwait('--revision', '1000000', '--timeout', '1')
        self.assertEqual(p.returncode, 1)
        self.assertIn('hv1', p.stderr)

        # The plan as qhvctl shows it.
        tok = self.server.agent_token('hv1')
        plan = json.loads(ctl('--url', self.url, 'plan', 'hv1', '--token', tok).stdout)
        self.assertIn(pid, plan['plan']['ports'])

    def test_2_server_restart(self):
        a = self.agent
        self.assertEqual(self.qwait('--timeout', '10').returncode, 0)
        before = a.counters()
        self.server.stop()
        time.sleep(1.0)
        self.server.start()
        net = self.make_network(**{'provider:network_type': 'flat',
                                   'provider:physical_network': 'physnet7'})
        self.make_subnet(net['id'], '10.7.0.0/24')
        port = self.make_port(net['id'], **{'binding:host_id': 'hv1'})
        a.dummy('nic', 'add', port['id'])
        self.wait_status(port['id'], 'ACTIVE', 15)
        self.assertEqual(self.qwait('--timeout', '10').returncode, 0)
        after = a.counters()
        # Only the new port's objects were written (port + 2 ACLs), and the
        # first port's ingress ACL: the new port joined its remote group.
        self.assertEqual(after['ops'] - before['ops'], 4)

    def test_3_slow_switch(self):
        """slow_ms: the loop keeps reporting and answering while ops crawl."""
        a = self.agent
        net = self.make_network(**{'provider:network_type': 'local'})
        self.make_subnet(net['id'], '10.8.0.0/24')
        a.dummy('fault', 'slow', '150')
        ports = [self.make_port(net['id'], **{'binding:host_id': 'hv1'})['id'] for _ in range(8)]
        for pid in ports:
            a.dummy('nic', 'add', pid)
        t0 = time.time()
        for pid in ports:
            self.wait_status(pid, 'ACTIVE', 30)
        dt = time.time() - t0
        a.dummy('fault', 'clear')
        print('\n  8 ports, ~26 ops at 150 ms/op: all ACTIVE in %.1f s' % dt, file=sys.stderr)
        self.assertEqual(self.qwait('--timeout', '10').returncode, 0)


if __name__ == '__main__':
    unittest.main()
