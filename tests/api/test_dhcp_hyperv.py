"""What lets a Hyper-V VM on an NVGRE network reach its network node's DHCP
server and the metadata service, asserted on the strict WMI model (qhv-agent,
hyperv backend, [hyperv] transport = model) with a network node that
reports over the host channel: the DHCP port's lookup record (to the node's
provider address), the customer route to 169.254.169.254/32 via the DHCP
port's address, and extended ACL entries that let DHCP answers in from the
DHCP port only (docs/hyperv.md, "Network nodes")."""
import ipaddress
import json
import os
import signal
import subprocess

import qhvtest
from test_agent_dummy import AGENT, QHVCTL, SERVER_CONF
from test_agent_hyperv_model import AGENT_CONF

NODE = {'backend': 'dummy', 'vif_type': 'ovs', 'network_types': ['vlan', 'nvgre'],
        'vswitch_mappings': ['physnet*:br-ex'], 'port_filter': True,
        'provider_address': '192.168.70.50', 'dhcp': True}


def link_local(mac):
    """The EUI-64 link-local address a DHCPv6 server with this MAC answers from."""
    b = [int(x, 16) for x in mac.split(':')]
    b[0] ^= 2
    iid = bytes(b[:3] + [0xff, 0xfe] + b[3:])
    return str(ipaddress.IPv6Address(b'\xfe\x80' + bytes(6) + iid))


class DhcpHypervTest(qhvtest.ServerTestCase):
    extra_conf = SERVER_CONF
    tools = (AGENT, QHVCTL)
    wait_timeout = 60.0

    def setUp(self):
        self.procs = []

    def tearDown(self):
        for p, log in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(10)
            log.close()

    def start_hyperv(self, name, version, pa):
        d = self.server.dir
        self.model = os.path.join(d, name + '-model.json')
        conf = os.path.join(d, name + '.conf')
        with open(conf, 'w') as f:
            f.write(AGENT_CONF.format(host=name, url='http://127.0.0.1:%d' % self.server.port,
                                      token=self.server.agent_token(name), pa=pa,
                                      model=self.model,
                                      state=os.path.join(d, name + '-intent.json'),
                                      version=version))
        self.wmimodel('switch', 'add', 'external')
        self.wmimodel('netadapter', 'add', '13', 'Ethernet 2', '00155D010213')
        self.logfile = os.path.join(d, name + '.log')
        log = open(self.logfile, 'ab')
        self.procs.append((subprocess.Popen([AGENT, '--config-file', conf], stdout=log,
                                            stderr=log), log))
        self.wait_for('%s heartbeat' % name,
                      lambda: self.get('/v2.0/agents?host=' + name)[1]['agents'])

    def agent_log(self):
        with open(self.logfile, errors='replace') as f:
            return f.read()[-4000:]

    def wmimodel(self, *args):
        out = subprocess.run([QHVCTL, 'wmimodel', self.model] + list(args),
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout

    def instances(self, cls):
        return json.loads(self.wmimodel('dump', cls))

    def node_report(self, host):
        c = qhvtest.Client(self.server.port, {'X-Qhv-Agent-Token': self.server.agent_token(host)})
        st, out = c.post('/channel/v1/hosts/%s/report' % host, {'agent': {
            'agent_type': 'Open vSwitch agent', 'binary': 'qhv-agent', 'configurations': NODE}})
        self.assertEqual(st, 200, out)

    def test_vm_reaches_dhcp_and_metadata_on_nvgre(self):
        self.start_hyperv('hvd', '6.3.9600', '192.168.70.1')
        self.node_report('netnode1')
        net = self.make_network(name='hvd-nv', **{'provider:network_type': 'nvgre'})
        vsid = net['provider:segmentation_id']
        # No .1 gateway on a virtual subnet (HNV keeps it: docs/hyperv.md).
        self.make_subnet(net['id'], '10.72.0.0/24', gateway_ip='10.72.0.254',
                         allocation_pools=[{'start': '10.72.0.10', 'end': '10.72.0.200'}])
        st, body = self.get('/v2.0/ports?device_owner=network:dhcp&network_id=' + net['id'])
        [dhcp] = body['ports']
        self.assertEqual(dhcp['binding:host_id'], 'netnode1')
        dip = dhcp['fixed_ips'][0]['ip_address']
        dmac = dhcp['mac_address'].replace(':', '').upper()
        vm = self.make_port(net['id'], **{'binding:host_id': 'hvd'})
        self.wmimodel('nic', 'add', vm['id'], vm['mac_address'].replace(':', '').upper())
        self.wait_for('ACTIVE', lambda: self.get('/v2.0/ports/' + vm['id'])[1]['port']
                      ['status'] == 'ACTIVE', self.agent_log)
        # The DHCP port's lookup record: its address and MAC at the node.
        records = self.instances('MSFT_NetVirtualizationLookupRecordSettingData')
        mine = [r for r in records if r['CustomerAddress'] == dip]
        self.assertEqual([(r['VirtualSubnetID'], r['MACAddress'], r['ProviderAddress'])
                          for r in mine], [(vsid, dmac, '192.168.70.50')])
        # The metadata address through the DHCP port, as a customer route.
        routes = self.instances('MSFT_NetVirtualizationCustomerRouteSettingData')
        meta = [r for r in routes if r['DestinationPrefix'] == '169.254.169.254/32']
        self.assertEqual([(r['VirtualSubnetID'], r['NextHop']) for r in meta], [(vsid, dip)])
        # DHCP answers in from the DHCP port only: its address (v4) and its
        # link-local address (DHCPv6), no longer from anywhere.
        acls = self.instances('Msvm_EthernetSwitchPortExtendedAclSettingData')
        dhcp_in = sorted(a['RemoteIPAddress'] for a in acls if a['Direction'] == 1 and
                         a['Action'] == 1 and a['Protocol'] == 'UDP' and
                         a['LocalPort'] in ('68', '546'))
        self.assertEqual(dhcp_in, sorted([dip + '/32', link_local(dhcp['mac_address'])]))
        dhcp_out = [a['RemoteIPAddress'] for a in acls if a['Direction'] == 2 and
                    a['Action'] == 1 and a['Protocol'] == 'UDP' and a['RemotePort'] == '67']
        self.assertEqual(dhcp_out, ['0.0.0.0/0'])     # requests are broadcast
        # The same as PowerShell (qhvctl explain): the route and the allowance.
        ex = subprocess.run([QHVCTL, '--url', 'http://127.0.0.1:%d' % self.server.port,
                             'explain', 'hvd', '--token', self.server.agent_token('hvd')],
                            capture_output=True, text=True)
        self.assertEqual(ex.returncode, 0, ex.stderr)
        self.assertIn('-DestinationPrefix 169.254.169.254/32 -NextHop %s ' % dip, ex.stdout)
        self.assertIn("Direction = 1; Action = 1; Protocol = 'UDP'; LocalPort = '68'; "
                      "RemotePort = '67'; LocalIPAddress = 'ANY'; RemoteIPAddress = '%s/32'"
                      % dip, ex.stdout)
        self.assertNotIn("Direction = 1; Action = 1; Protocol = 'UDP'; LocalPort = '68'; "
                         "RemotePort = '67'; LocalIPAddress = 'ANY'; RemoteIPAddress = "
                         "'0.0.0.0/0'", ex.stdout)
        # The node's DHCP agent removed: the network has no DHCP server left,
        # and no DHCP answer is let in (fail closed), nor the metadata route.
        agents = self.get('/v2.0/agents?host=netnode1&agent_type=DHCP+agent')[1]['agents']
        st, body = self.delete('/v2.0/agents/' + agents[0]['id'])
        self.assertEqual(st, 204, body)

        def closed():
            acls = self.instances('Msvm_EthernetSwitchPortExtendedAclSettingData')
            routes = self.instances('MSFT_NetVirtualizationCustomerRouteSettingData')
            return (not [a for a in acls if a['Direction'] == 1 and a['Action'] == 1 and
                         a['Protocol'] == 'UDP' and a['LocalPort'] in ('68', '546')] and
                    not [r for r in routes if r['DestinationPrefix'] == '169.254.169.254/32'])
        self.wait_for('DHCP allowances and the metadata route gone', closed)
