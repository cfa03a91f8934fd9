"""qhv-agent with the hyperv backend on the WMI model ([hyperv] transport =
model): a bound port goes ACTIVE once Hyper-V's objects are there (VLAN,
security setting, extended ACLs), the heartbeat reports what the host's
Windows version can serve, and --dry-run / qhvctl explain print the
PowerShell of the plan."""
import json
import os
import signal
import subprocess

import qhvtest
from test_agent_dummy import AGENT, QHVCTL, SERVER_CONF

AGENT_CONF = """
[DEFAULT]
host = {host}
[agent]
server_url = {url}
auth_token = {token}
backend = hyperv
physical_network_vswitch_mappings = physnet*:external
provider_address = {pa}
report_interval = 5
poll_wait = 5
[hyperv]
transport = model
model_file = {model}
state_file = {state}
windows_version = {version}
provider_interface_index = 13
provider_next_hop = 192.168.70.254
"""


class HypervModelTest(qhvtest.ServerTestCase):
    extra_conf = SERVER_CONF

    tools = (AGENT, QHVCTL)

    def setUp(self):
        self.procs = []

    def tearDown(self):
        agents = {a['host']: a['id'] for a in self.get('/v2.0/agents')[1]['agents']}
        for name, p, log in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(10)
            log.close()
            if name in agents:
                self.delete('/v2.0/agents/' + agents[name])

    def agent(self, name, version, pa='192.168.70.1'):
        d = self.server.dir
        self.model = os.path.join(d, name + '-model.json')
        token = self.server.agent_token(name)
        conf = os.path.join(d, name + '.conf')
        with open(conf, 'w') as f:
            f.write(AGENT_CONF.format(host=name, url='http://127.0.0.1:%d' % self.server.port,
                                      token=token, pa=pa, model=self.model,
                                      state=os.path.join(d, name + '-intent.json'),
                                      version=version))
        self.wmimodel('switch', 'add', 'external')
        log = open(os.path.join(d, name + '.log'), 'ab')
        p = subprocess.Popen([AGENT, '--config-file', conf], stdout=log, stderr=log)
        self.procs.append((name, p, log))
        return conf, token

    def wmimodel(self, *args):
        out = subprocess.run([QHVCTL, 'wmimodel', self.model] + list(args),
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout

    def instances(self, cls):
        return json.loads(self.wmimodel('dump', cls))

    def heartbeat(self, name):
        agents = self.get('/v2.0/agents?host=' + name)[1]['agents']
        return agents[0]['configurations'] if agents else None

    def test_vlan_port_on_2016(self):
        conf, token = self.agent('hv16', '10.0.14393')
        caps = self.wait_for('heartbeat', lambda: self.heartbeat('hv16'))
        self.assertTrue(caps['port_filter'])
        self.assertEqual(caps['backend_capabilities']['windows_version'], '10.0.14393')
        self.assertIn('nvgre', caps['network_types'])
        net = self.make_network(name='hv-vlan', **{'provider:network_type': 'vlan',
                                                   'provider:physical_network': 'physnet1'})
        self.make_subnet(net['id'], '10.71.0.0/24')
        vlan = net['provider:segmentation_id']
        port = self.make_port(net['id'], **{'binding:host_id': 'hv16'})
        self.assertEqual(port['binding:vif_type'], 'hyperv')
        self.wmimodel('nic', 'add', port['id'], 'FA163E000071')
        self.wait_for('ACTIVE', lambda: self.get('/v2.0/ports/' + port['id'])[1]['port']
                      ['status'] == 'ACTIVE')
        vl = self.instances('Msvm_EthernetSwitchPortVlanSettingData')
        self.assertEqual([(v['OperationMode'], v['AccessVlanId']) for v in vl], [(1, vlan)])
        sec = self.instances('Msvm_EthernetSwitchPortSecuritySettingData')
        self.assertEqual([(s['AllowMacSpoofing'], s['EnableDhcpGuard'], s['EnableRouterGuard'])
                          for s in sec], [(False, True, True)])
        acls = self.instances('Msvm_EthernetSwitchPortExtendedAclSettingData')
        self.assertTrue(any(a['Action'] == 2 and a['Weight'] == 1 for a in acls))
        # The same plan as PowerShell, from the agent and from qhvctl.
        line = 'Set-VMNetworkAdapterVlan -VMNetworkAdapter $nic -Access -VlanId %d' % vlan
        dry = subprocess.run([AGENT, '--config-file', conf, '--dry-run'], capture_output=True,
                             text=True)
        self.assertEqual(dry.returncode, 0, dry.stderr)
        self.assertIn(line, dry.stdout)
        self.assertIn("Connect-VMNetworkAdapter -VMNetworkAdapter $nic -SwitchName 'external'",
                      dry.stdout)
        ex = subprocess.run([QHVCTL, '--url', 'http://127.0.0.1:%d' % self.server.port,
                             'explain', 'hv16', '--token', token], capture_output=True,
                            text=True)
        self.assertEqual(ex.returncode, 0, ex.stderr)
        self.assertIn(line, ex.stdout)
        # The NIC goes: DOWN.
        self.wmimodel('nic', 'del', port['id'])
        self.wait_for('DOWN', lambda: self.get('/v2.0/ports/' + port['id'])[1]['port']
                      ['status'] == 'DOWN')

    def test_explain_and_dry_run_print_the_same(self):
        # One code path (qag_explain) fed the same inputs: the agent's own
        # configuration, or what its heartbeat says (validated by the server).
        conf, token = self.agent('hvx', '6.3.9600', pa='192.168.70.9')
        with open(conf, 'a') as f:
            f.write('provider_interface = Ethernet 2\nprovider_vlan_id = 5\n'
                    'provider_prefix_length = 23\n')
        # Restart it with the options above (the heartbeat carries them).
        name, p, log = self.procs.pop()
        p.send_signal(signal.SIGTERM)
        p.wait(10)
        log.close()
        log = open(os.path.join(self.server.dir, 'hvx.log'), 'ab')
        self.procs.append((name, subprocess.Popen([AGENT, '--config-file', conf], stdout=log,
                                                  stderr=log), log))
        self.wait_for('heartbeat with the interface', lambda: (self.heartbeat('hvx') or {}).get(
            'provider_interface') == 'Ethernet 2')
        c = self.heartbeat('hvx')
        self.assertEqual((c['provider_vlan_id'], c['provider_prefix_length'],
                          c['provider_next_hop'], c['windows_version']),
                         (5, 23, '192.168.70.254', '6.3.9600'))
        nv = self.make_network(name='hvx-nv', **{'provider:network_type': 'nvgre'})
        self.make_subnet(nv['id'], '10.74.0.0/24')
        vl = self.make_network(name='hvx-vl', **{'provider:network_type': 'vlan',
                                                 'provider:physical_network': 'physnet1'})
        self.make_subnet(vl['id'], '10.75.0.0/24')
        self.make_port(nv['id'], **{'binding:host_id': 'hvx'})
        self.make_port(vl['id'], **{'binding:host_id': 'hvx'})
        for _ in range(5):
            dry = subprocess.run([AGENT, '--config-file', conf, '--dry-run'],
                                 capture_output=True, text=True)
            self.assertEqual(dry.returncode, 0, dry.stderr)
            ex = subprocess.run([QHVCTL, '--url', 'http://127.0.0.1:%d' % self.server.port,
                                 'explain', 'hvx', '--token', token], capture_output=True,
                                text=True)
            self.assertEqual(ex.returncode, 0, ex.stderr)
            if dry.stdout == ex.stdout:
                break   # else a heartbeat moved the revision in between: again
        self.assertEqual(dry.stdout, ex.stdout)
        out = dry.stdout
        self.assertIn("$paIf = (Get-NetAdapter -Name 'Ethernet 2' -ErrorAction "
                      "SilentlyContinue).ifIndex", out)
        self.assertIn('Set-QhvProviderAddress -ProviderAddress 192.168.70.9 -PrefixLength 23 '
                      '-VlanID 5', out)
        self.assertEqual(out.count('\nSet-QhvProviderRoute '), 1)
        self.assertNotIn('-InterfaceIndex 0', out)
        self.assertIn('-VirtualSubnetId 0 ', out)
        # The default route of the NVGRE subnet goes via its .1: not made, said why.
        self.assertIn('# warning: route 0.0.0.0/0 via 10.74.0.1 not made: 10.74.0.1 is the first address of virtual subnet', out)
        self.assertNotIn('-NextHop 10.74.0.1 ', out)

    def test_2019_reports_no_nvgre(self):
        self.agent('hv19', '10.0.17763', pa='192.168.70.2')
        caps = self.wait_for('heartbeat', lambda: self.heartbeat('hv19'))
        self.assertNotIn('nvgre', caps['network_types'])
        self.assertNotIn('ip_rewrite', caps['network_types'])
        self.assertIn('vlan', caps['network_types'])
        self.assertFalse(caps['backend_capabilities']['hnv_v1'])
        # The server binds no NVGRE port to this host.
        net = self.make_network(name='hv19-nv', **{'provider:network_type': 'nvgre'})
        self.make_subnet(net['id'], '10.72.0.0/24')
        port = self.make_port(net['id'], **{'binding:host_id': 'hv19'})
        self.assertEqual(port['binding:vif_type'], 'binding_failed')

    def test_2012_port_filter_false(self):
        self.agent('hv12', '6.2.9200', pa='192.168.70.3')
        caps = self.wait_for('heartbeat', lambda: self.heartbeat('hv12'))
        self.assertFalse(caps['port_filter'])
        self.assertIn('port ACLs', caps['backend_capabilities']['port_filter_reason'])
        net = self.make_network(name='hv12-vlan', **{'provider:network_type': 'vlan',
                                                     'provider:physical_network': 'physnet1'})
        self.make_subnet(net['id'], '10.73.0.0/24')
        port = self.make_port(net['id'], **{'binding:host_id': 'hv12'})
        self.assertEqual(port['binding:vif_type'], 'hyperv')
        self.assertFalse(port['binding:vif_details']['port_filter'])
        self.wmimodel('nic', 'add', port['id'], 'FA163E000073')
        self.wait_for('ACTIVE', lambda: self.get('/v2.0/ports/' + port['id'])[1]['port']
                      ['status'] == 'ACTIVE')
        acls = self.instances('Msvm_EthernetSwitchPortAclSettingData')
        self.assertTrue(acls)
        self.assertEqual(self.instances('Msvm_EthernetSwitchPortExtendedAclSettingData'), [])

    def test_adopted_and_foreign_connections(self):
        """A NIC made with its connection (New-VM -SwitchName) is adopted and
        ACTIVE; VMMS stopped holds a new port back only while it is stopped; a
        connection another manager holds keeps its port DOWN, with the reason
        in the agent's report."""
        self.agent('hva', '10.0.14393', pa='192.168.70.4')
        self.wait_for('heartbeat', lambda: self.heartbeat('hva'))
        net = self.make_network(name='hva-vlan', **{'provider:network_type': 'vlan',
                                                    'provider:physical_network': 'physnet1'})
        self.make_subnet(net['id'], '10.76.0.0/24')

        def status(p):
            return self.get('/v2.0/ports/' + p['id'])[1]['port']['status']

        port = self.make_port(net['id'], **{'binding:host_id': 'hva'})
        self.wmimodel('nic', 'add-connected', port['id'], 'FA163E000076', 'vma', 'external')
        self.wait_for('ACTIVE', lambda: status(port) == 'ACTIVE')
        allocs = [a for a in self.instances('Msvm_EthernetPortAllocationSettingData')
                  if a['ElementName'] == port['id']]
        self.assertEqual(len(allocs), 1)    # adopted (and named), never a second one
        self.assertEqual(allocs[0]['EnabledState'], 2)
        # VMMS stopped, a port bound meanwhile: it waits, then comes up.
        self.wmimodel('vmms', 'down')
        port2 = self.make_port(net['id'], **{'binding:host_id': 'hva'})
        self.wmimodel('nic', 'add', port2['id'], 'FA163E000077')
        log = os.path.join(self.server.dir, 'hva.log')

        def vmms_said():
            with open(log, errors='replace') as f:
                text = f.read()
            return 'dump failed' in text and '0x800706BA' in text
        self.wait_for('the agent saying VMMS is unavailable', vmms_said)
        self.assertNotEqual(status(port2), 'ACTIVE')
        self.wmimodel('vmms', 'up')
        self.wait_for('ACTIVE after VMMS is back', lambda: status(port2) == 'ACTIVE')
        # A connection another manager named (the port not yet bound here,
        # so qhv has not adopted it): once bound, DOWN with the reason.
        port3 = self.make_port(net['id'])
        self.wmimodel('nic', 'add-connected', port3['id'], 'FA163E000078', 'vmc', 'external')
        (conn,) = [a for a in self.instances('Msvm_EthernetPortAllocationSettingData')
                   if a['ElementName'] == 'Dynamic Ethernet Switch Port' and
                   not a['InstanceID'].endswith('\\Default')]
        self.assertEqual(self.wmimodel('set', 'Msvm_EthernetPortAllocationSettingData',
                                       'InstanceID', conn['InstanceID'],
                                       'ElementName', '"Managed by another tool"').strip(), '1')
        self.assertEqual(self.put('/v2.0/ports/' + port3['id'],
                                  {'port': {'binding:host_id': 'hva'}})[0], 200)

        def problem():
            for d in (self.heartbeat('hva') or {}).get('port_problem_details', []):
                if d.get('port_id') == port3['id']:
                    return d
            return None
        d = self.wait_for('the problem in the heartbeat', problem)
        self.assertIn('someone else', d['problem'])
        self.assertEqual(status(port3), 'DOWN')
        allocs = [a for a in self.instances('Msvm_EthernetPortAllocationSettingData')
                  if a['ElementName'] == 'Managed by another tool']
        self.assertEqual(len(allocs), 1)    # untouched


if __name__ == '__main__':
    import unittest
    unittest.main()
