"""The real OpenStack client against a real qhv-server.

Debian's python3-openstackclient (`openstack`, installed by `make check`) is
run unchanged as a subprocess, with no Keystone: OS_AUTH_TYPE=none and
OS_ENDPOINT pointing at the server (every other OS_* variable is removed).
The tests assert on the JSON the CLI prints (`-f json`), so they check what a
user of the CLI sees, including the requests the CLI builds (name lookups,
filters, `fields=`) and how server errors reach the user.

The CLI takes about half a second per command: commands are grouped into a
few lifecycle tests sharing one server (distinct names and ranges per test).
"""
import ipaddress
import json
import os
import shutil
import subprocess
import unittest

import qhvtest

MISSING_CLI = (
    'the `openstack` command (Debian package python3-openstackclient) is not '
    'installed: run `make check`, which installs it (scripts/deps.sh test), '
    'or `apt-get install python3-openstackclient`')

MAC_PREFIX = 'fa:16:3e:'


def find_openstack():
    path = os.environ.get('PATH', '') + os.pathsep + '/usr/bin'
    return shutil.which('openstack', path=path)


def eui64(cidr, mac):
    """The SLAAC address Neutron gives a port (RFC 4291 modified EUI-64)."""
    b = bytes.fromhex(mac.replace(':', ''))
    iid = bytes([b[0] ^ 0x02]) + b[1:3] + b'\xff\xfe' + b[3:6]
    net = ipaddress.ip_network(cidr)
    return str(net[int.from_bytes(iid, 'big')])


class OpenStackCliTest(qhvtest.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.openstack = find_openstack()
        if cls.openstack is None:
            raise AssertionError(MISSING_CLI)
        super().setUpClass()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith('OS_')
               and k not in ('PYTHONPATH', 'PYTHONHOME')}
        env.update(OS_AUTH_TYPE='none',
                   OS_ENDPOINT='http://127.0.0.1:%d' % cls.server.port)
        cls.env = env

    # --- running the CLI ---------------------------------------------------

    def run_cli(self, *args):
        try:
            return subprocess.run([self.openstack] + list(args), env=self.env,
                                  stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=120)
        except subprocess.TimeoutExpired:
            self.fail('openstack %s: no answer in 120 s' % ' '.join(args))

    def cli(self, *args):
        """Runs a command that must succeed; returns its stdout."""
        r = self.run_cli(*args)
        if r.returncode != 0:
            self.fail('openstack %s: exit %d\nstderr: %s\nserver log tail:\n%s'
                      % (' '.join(args), r.returncode, r.stderr.strip(),
                         self.server.read_log()[-1500:]))
        return r.stdout

    def js(self, *args):
        """Runs a command with `-f json` and returns the parsed output."""
        out = self.cli(*(list(args) + ['-f', 'json']))
        try:
            return json.loads(out)
        except ValueError:
            self.fail('openstack %s: output is not JSON: %r' % (
                ' '.join(args), out[:500]))

    def cli_error(self, *args):
        """Runs a command that must fail; returns its stderr."""
        r = self.run_cli(*args)
        self.assertNotEqual(r.returncode, 0, 'openstack %s succeeded: %s' % (
            ' '.join(args), r.stdout[:500]))
        return r.stderr

    def ids(self, rows):
        return sorted(row['ID'] for row in rows)

    def assertIp(self, fixed_ips, subnet_id, ip):
        self.assertIn({'subnet_id': subnet_id, 'ip_address': ip}, fixed_ips)

    # --- tests -------------------------------------------------------------

    def test_extension_list(self):
        exts = self.js('extension', 'list', '--network')
        aliases = {e['Alias'] for e in exts}
        self.assertTrue({'provider', 'binding'} <= aliases, aliases)
        for e in exts:
            self.assertTrue(e['Name'], e)

    def test_network_lifecycle(self):
        plain = self.js('network', 'create', 'cli-net-plain')
        self.assertEqual(plain['name'], 'cli-net-plain')
        self.assertEqual(plain['status'], 'ACTIVE')
        self.assertIs(plain['admin_state_up'], True)
        self.assertIs(plain['shared'], False)
        self.assertIs(plain['router:external'], False)
        self.assertIs(plain['port_security_enabled'], True)
        self.assertEqual(plain['subnets'], [])
        self.assertEqual(plain['description'], '')
        self.assertEqual(plain['project_id'], 'fake_project_id')
        # tenant_network_types = vlan,nvgre: the first type with a free
        # segment wins, VLANs from physnet1:100:2999 (physnet2 has no range).
        self.assertEqual(plain['provider:network_type'], 'vlan')
        self.assertEqual(plain['provider:physical_network'], 'physnet1')
        self.assertTrue(100 <= plain['provider:segmentation_id'] <= 2999, plain)
        self.assertEqual(plain['mtu'], 1500)

        # A VLAN outside the tenant range: plain's was drawn at random from it.
        vlan = self.js('network', 'create', 'cli-net-vlan',
                       '--provider-network-type', 'vlan',
                       '--provider-physical-network', 'physnet1',
                       '--provider-segment', '3210')
        self.assertEqual((vlan['provider:network_type'],
                          vlan['provider:physical_network'],
                          vlan['provider:segmentation_id'], vlan['mtu']),
                         ('vlan', 'physnet1', 3210, 1500))

        nvgre = self.js('network', 'create', 'cli-net-nvgre',
                        '--provider-network-type', 'nvgre',
                        '--provider-segment', '5555')
        self.assertEqual((nvgre['provider:network_type'],
                          nvgre['provider:physical_network'],
                          nvgre['provider:segmentation_id'], nvgre['mtu']),
                         ('nvgre', None, 5555, 1458))

        flat = self.js('network', 'create', 'cli-net-flat',
                       '--provider-network-type', 'flat',
                       '--provider-physical-network', 'physnet2')
        self.assertEqual((flat['provider:network_type'],
                          flat['provider:physical_network'],
                          flat['provider:segmentation_id'], flat['mtu']),
                         ('flat', 'physnet2', None, 1500))

        mine = {n['id']: n['name'] for n in (plain, vlan, nvgre, flat)}
        listed = {row['ID']: row for row in self.js('network', 'list', '--long')}
        for nid, name in mine.items():
            self.assertIn(nid, listed)
            self.assertEqual(listed[nid]['Name'], name)
            self.assertEqual(listed[nid]['Status'], 'ACTIVE')
            self.assertEqual(listed[nid]['Subnets'], [])
        self.assertEqual(listed[nvgre['id']]['Network Type'], 'nvgre')
        self.assertEqual(listed[flat['id']]['Network Type'], 'flat')

        rows = self.js('network', 'list', '--provider-network-type', 'vlan',
                       '--provider-physical-network', 'physnet1',
                       '--provider-segment', '3210')
        self.assertEqual(self.ids(rows), [vlan['id']])
        rows = self.js('network', 'list', '--name', 'cli-net-nvgre')
        self.assertEqual(self.ids(rows), [nvgre['id']])

        by_name = self.js('network', 'show', 'cli-net-vlan')
        by_id = self.js('network', 'show', vlan['id'])
        self.assertEqual(by_name['id'], vlan['id'])
        self.assertEqual(by_id['name'], 'cli-net-vlan')
        self.assertEqual(by_id['provider:segmentation_id'], 3210)
        self.assertEqual(by_name, by_id)

        # The VLAN is taken; an MTU above the type's maximum is refused.
        err = self.cli_error('network', 'create', 'cli-net-vlan-dup',
                             '--provider-network-type', 'vlan',
                             '--provider-physical-network', 'physnet1',
                             '--provider-segment', '3210')
        self.assertIn('The VLAN 3210 on physical network physnet1 is in use', err)
        err = self.cli_error('network', 'set', 'cli-net-nvgre', '--mtu', '1500')
        self.assertIn('Requested MTU is too big, maximum is 1458', err)

        self.assertEqual(self.cli('network', 'set', 'cli-net-vlan',
                                  '--name', 'cli-net-vlan2',
                                  '--description', 'set by the CLI',
                                  '--mtu', '1400'), '')
        shown = self.js('network', 'show', vlan['id'])
        self.assertEqual((shown['name'], shown['description'], shown['mtu']),
                         ('cli-net-vlan2', 'set by the CLI', 1400))
        self.assertEqual(shown['provider:segmentation_id'], 3210)
        self.assertGreater(shown['revision_number'], vlan['revision_number'])

        self.assertEqual(self.cli('network', 'delete', 'cli-net-plain',
                                  'cli-net-vlan2', nvgre['id'], flat['id']), '')
        listed = self.ids(self.js('network', 'list'))
        self.assertFalse(set(mine) & set(listed), listed)
        err = self.cli_error('network', 'show', vlan['id'])
        self.assertIn(vlan['id'], err)
        # The VLAN is free again.
        again = self.js('network', 'create', 'cli-net-vlan-again',
                        '--provider-network-type', 'vlan',
                        '--provider-physical-network', 'physnet1',
                        '--provider-segment', '3210')
        self.assertEqual(again['provider:segmentation_id'], 3210)
        self.cli('network', 'delete', again['id'])

    def test_subnet_lifecycle(self):
        net = self.js('network', 'create', 'cli-subnet-net')
        v4 = self.js('subnet', 'create', 'cli-sub4', '--network', 'cli-subnet-net',
                     '--subnet-range', '10.1.0.0/24', '--gateway', '10.1.0.1',
                     '--allocation-pool', 'start=10.1.0.10,end=10.1.0.100',
                     '--dns-nameserver', '8.8.8.8',
                     '--host-route', 'destination=10.2.0.0/16,gateway=10.1.0.254')
        self.assertEqual(v4['name'], 'cli-sub4')
        self.assertEqual(v4['network_id'], net['id'])
        self.assertEqual(v4['ip_version'], 4)
        self.assertEqual(v4['cidr'], '10.1.0.0/24')
        self.assertEqual(v4['gateway_ip'], '10.1.0.1')
        self.assertEqual(v4['allocation_pools'],
                         [{'start': '10.1.0.10', 'end': '10.1.0.100'}])
        self.assertEqual(v4['dns_nameservers'], ['8.8.8.8'])
        self.assertEqual(v4['host_routes'],
                         [{'destination': '10.2.0.0/16', 'nexthop': '10.1.0.254'}])
        self.assertIs(v4['enable_dhcp'], True)
        self.assertIsNone(v4['ipv6_ra_mode'])
        self.assertIsNone(v4['ipv6_address_mode'])
        self.assertIsNone(v4['subnetpool_id'])
        self.assertEqual(v4['project_id'], 'fake_project_id')

        v6 = self.js('subnet', 'create', 'cli-sub6', '--network', net['id'],
                     '--ip-version', '6', '--subnet-range', '2001:db8:1::/64',
                     '--ipv6-ra-mode', 'slaac', '--ipv6-address-mode', 'slaac')
        self.assertEqual(v6['ip_version'], 6)
        self.assertEqual(v6['cidr'], '2001:db8:1::/64')
        self.assertEqual(v6['gateway_ip'], '2001:db8:1::1')
        self.assertEqual(v6['allocation_pools'], [
            {'start': '2001:db8:1::2', 'end': '2001:db8:1:0:ffff:ffff:ffff:ffff'}])
        self.assertEqual((v6['ipv6_ra_mode'], v6['ipv6_address_mode']),
                         ('slaac', 'slaac'))
        self.assertEqual(v6['dns_nameservers'], [])
        self.assertEqual(v6['host_routes'], [])

        rows = self.js('subnet', 'list', '--network', 'cli-subnet-net')
        self.assertEqual(
            sorted((r['ID'], r['Name'], r['Network'], r['Subnet']) for r in rows),
            sorted([(v4['id'], 'cli-sub4', net['id'], '10.1.0.0/24'),
                    (v6['id'], 'cli-sub6', net['id'], '2001:db8:1::/64')]))
        rows = self.js('subnet', 'list', '--network', net['id'], '--ip-version', '6')
        self.assertEqual(self.ids(rows), [v6['id']])
        self.assertEqual(sorted(self.js('network', 'show', net['id'])['subnets']),
                         sorted([v4['id'], v6['id']]))

        self.assertEqual(self.js('subnet', 'show', 'cli-sub4'), v4)
        self.assertEqual(self.js('subnet', 'show', v6['id'])['name'], 'cli-sub6')

        err = self.cli_error('subnet', 'create', 'cli-sub-overlap',
                             '--network', net['id'], '--subnet-range', '10.1.0.0/25')
        self.assertIn('Requested subnet with cidr: 10.1.0.0/25 for network: %s '
                      'overlaps with another subnet' % net['id'], err)

        # set adds to the lists (the CLI sends new + existing values).
        self.assertEqual(self.cli(
            'subnet', 'set', 'cli-sub4', '--name', 'cli-sub4b',
            '--description', 'v4 subnet', '--dns-nameserver', '1.1.1.1',
            '--allocation-pool', 'start=10.1.0.150,end=10.1.0.160',
            '--host-route', 'destination=10.3.0.0/16,gateway=10.1.0.253',
            '--gateway', '10.1.0.254'), '')
        s = self.js('subnet', 'show', v4['id'])
        self.assertEqual((s['name'], s['description'], s['gateway_ip']),
                         ('cli-sub4b', 'v4 subnet', '10.1.0.254'))
        self.assertEqual(s['dns_nameservers'], ['1.1.1.1', '8.8.8.8'])
        self.assertEqual(sorted(s['allocation_pools'], key=lambda p: p['start']), [
            {'start': '10.1.0.10', 'end': '10.1.0.100'},
            {'start': '10.1.0.150', 'end': '10.1.0.160'}])
        self.assertEqual(sorted(s['host_routes'], key=lambda r: r['destination']), [
            {'destination': '10.2.0.0/16', 'nexthop': '10.1.0.254'},
            {'destination': '10.3.0.0/16', 'nexthop': '10.1.0.253'}])
        self.assertEqual(s['cidr'], '10.1.0.0/24')
        self.assertGreater(s['revision_number'], v4['revision_number'])

        self.assertEqual(self.cli(
            'subnet', 'unset', 'cli-sub4b', '--dns-nameserver', '8.8.8.8',
            '--allocation-pool', 'start=10.1.0.150,end=10.1.0.160',
            '--host-route', 'destination=10.2.0.0/16,gateway=10.1.0.254'), '')
        s = self.js('subnet', 'show', 'cli-sub4b')
        self.assertEqual(s['dns_nameservers'], ['1.1.1.1'])
        self.assertEqual(s['allocation_pools'],
                         [{'start': '10.1.0.10', 'end': '10.1.0.100'}])
        self.assertEqual(s['host_routes'],
                         [{'destination': '10.3.0.0/16', 'nexthop': '10.1.0.253'}])

        self.assertEqual(self.cli('subnet', 'delete', 'cli-sub4b', v6['id']), '')
        self.assertEqual(self.js('subnet', 'list', '--network', net['id']), [])
        self.assertEqual(self.js('network', 'show', net['id'])['subnets'], [])
        self.cli('network', 'delete', net['id'])

    def test_port_lifecycle(self):
        net = self.js('network', 'create', 'cli-port-net',
                      '--provider-network-type', 'vlan',
                      '--provider-physical-network', 'physnet1',
                      '--provider-segment', '400')
        sub = self.js('subnet', 'create', 'cli-port-sub', '--network', net['id'],
                      '--subnet-range', '10.20.0.0/24')
        self.assertEqual(sub['allocation_pools'],
                         [{'start': '10.20.0.2', 'end': '10.20.0.254'}])
        mac1 = 'fa:16:3e:00:20:01'

        p1 = self.js('port', 'create', 'cli-p1', '--network', 'cli-port-net',
                     '--fixed-ip', 'subnet=cli-port-sub,ip-address=10.20.0.20',
                     '--mac-address', mac1, '--host', 'cli-hv1',
                     '--device-owner', 'compute:nova',
                     '--allowed-address', 'ip-address=10.20.0.200')
        self.assertEqual(p1['name'], 'cli-p1')
        self.assertEqual(p1['network_id'], net['id'])
        self.assertEqual(p1['fixed_ips'],
                         [{'subnet_id': sub['id'], 'ip_address': '10.20.0.20'}])
        self.assertEqual(p1['mac_address'], mac1)
        self.assertEqual(p1['device_owner'], 'compute:nova')
        self.assertEqual(p1['device_id'], '')
        self.assertEqual(p1['status'], 'DOWN')
        self.assertIs(p1['admin_state_up'], True)
        self.assertEqual(p1['binding_host_id'], 'cli-hv1')
        # A host but no live agent to bind the port.
        self.assertEqual(p1['binding_vif_type'], 'binding_failed')
        self.assertEqual(p1['binding_vnic_type'], 'normal')
        self.assertEqual(p1['binding_profile'], {})
        self.assertEqual(p1['binding_vif_details'], {})
        self.assertEqual(p1['allowed_address_pairs'],
                         [{'ip_address': '10.20.0.200', 'mac_address': mac1}])
        self.assertIs(p1['port_security_enabled'], True)
        self.assertEqual(len(p1['security_group_ids']), 1, p1)  # default group
        self.assertEqual(p1['project_id'], 'fake_project_id')

        p2 = self.js('port', 'create', 'cli-p2', '--network', net['id'],
                     '--enable-port-security')
        self.assertEqual(len(p2['fixed_ips']), 1, p2)
        ip2 = p2['fixed_ips'][0]['ip_address']
        self.assertEqual(p2['fixed_ips'][0]['subnet_id'], sub['id'])
        self.assertIn(ipaddress.ip_address(ip2), ipaddress.ip_network('10.20.0.0/24'))
        self.assertNotIn(ip2, ('10.20.0.0', '10.20.0.1', '10.20.0.20', '10.20.0.255'))
        self.assertTrue(p2['mac_address'].startswith(MAC_PREFIX), p2)
        self.assertEqual(p2['status'], 'DOWN')
        self.assertEqual(p2['binding_host_id'], '')
        self.assertEqual(p2['binding_vif_type'], 'unbound')
        self.assertEqual(p2['device_owner'], '')
        self.assertEqual(p2['allowed_address_pairs'], [])
        self.assertIs(p2['port_security_enabled'], True)
        self.assertEqual(p2['security_group_ids'], p1['security_group_ids'])

        p3 = self.js('port', 'create', 'cli-p3', '--network', net['id'],
                     '--disable-port-security', '--no-security-group',
                     '--device-owner', 'cli:owner3')
        self.assertIs(p3['port_security_enabled'], False)
        self.assertEqual(p3['security_group_ids'], [])
        self.assertEqual(len(p3['fixed_ips']), 1, p3)
        ip3 = p3['fixed_ips'][0]['ip_address']
        # Addresses set by hand below, clear of what p2 and p3 got (allocation is
        # random, as Neutron's).
        free = [a for a in ('10.20.0.21', '10.20.0.22', '10.20.0.23', '10.20.0.24')
                if a not in (ip2, ip3)]
        ip_b, ip_c = free[0], free[1]
        self.assertNotEqual(ip3, ip2)

        # An address in use: the server's 409 reaches the user.
        err = self.cli_error('port', 'create', 'cli-dup', '--network', net['id'],
                             '--fixed-ip', 'subnet=%s,ip-address=%s' % (sub['id'], ip2))
        self.assertIn('IP address %s already allocated in subnet %s'
                      % (ip2, sub['id']), err)
        err = self.cli_error('port', 'create', 'cli-dupmac', '--network', net['id'],
                             '--mac-address', mac1)
        self.assertIn('Unable to complete operation for network %s. The mac '
                      'address %s is in use.' % (net['id'], mac1), err)

        # Lists and filters.
        rows = self.js('port', 'list', '--network', 'cli-port-net')
        self.assertEqual(self.ids(rows), sorted([p1['id'], p2['id'], p3['id']]))
        byid = {r['ID']: r for r in rows}
        self.assertEqual(byid[p1['id']]['Name'], 'cli-p1')
        self.assertEqual(byid[p1['id']]['MAC Address'], mac1)
        self.assertEqual(byid[p1['id']]['Fixed IP Addresses'], p1['fixed_ips'])
        self.assertEqual(byid[p2['id']]['Fixed IP Addresses'], p2['fixed_ips'])
        self.assertEqual({r['Status'] for r in rows}, {'DOWN'})

        rows = self.js('port', 'list', '--fixed-ip', 'subnet=cli-port-sub')
        self.assertEqual(self.ids(rows), sorted([p1['id'], p2['id'], p3['id']]))
        rows = self.js('port', 'list', '--fixed-ip', 'ip-address=10.20.0.20')
        self.assertEqual(self.ids(rows), [p1['id']])
        rows = self.js('port', 'list', '--fixed-ip', 'ip-address=%s' % ip3)
        self.assertEqual(self.ids(rows), [p3['id']])
        rows = self.js('port', 'list', '--host', 'cli-hv1')
        self.assertEqual(self.ids(rows), [p1['id']])
        rows = self.js('port', 'list', '--device-owner', 'cli:owner3')
        self.assertEqual(self.ids(rows), [p3['id']])
        rows = self.js('port', 'list', '--network', net['id'],
                       '--device-owner', 'compute:nova')
        self.assertEqual(self.ids(rows), [p1['id']])
        rows = self.js('port', 'list', '--mac-address', mac1)
        self.assertEqual(self.ids(rows), [p1['id']])
        # --long: this CLI asks for fields=security_group_ids (its own name,
        # not Neutron's), so its "Security Groups" column is null with
        # Neutron too; not checked. (--debug logs the fields as one
        # stringified tuple; the request itself repeats fields=.)
        rows = self.js('port', 'list', '--long', '--network', net['id'])
        byid = {r['ID']: r for r in rows}
        self.assertEqual(sorted(byid), sorted([p1['id'], p2['id'], p3['id']]))
        self.assertEqual(byid[p1['id']]['Device Owner'], 'compute:nova')
        self.assertEqual(byid[p3['id']]['Device Owner'], 'cli:owner3')
        self.assertEqual(byid[p1['id']]['Fixed IP Addresses'], p1['fixed_ips'])
        self.assertEqual(byid[p1['id']]['Tags'], [])

        # Show by name and by id.
        shown = self.js('port', 'show', 'cli-p1')
        self.assertEqual(shown['id'], p1['id'])
        for key in ('fixed_ips', 'mac_address', 'binding_host_id',
                    'binding_vif_type', 'allowed_address_pairs', 'device_owner',
                    'security_group_ids', 'status'):
            self.assertEqual(shown[key], p1[key], key)
        self.assertEqual(self.js('port', 'show', p3['id'])['name'], 'cli-p3')

        # set: a second address, then replace all addresses.
        self.assertEqual(self.cli(
            'port', 'set', 'cli-p1', '--name', 'cli-p1b',
            '--description', 'port one',
            '--fixed-ip', 'subnet=cli-port-sub,ip-address=%s' % ip_b), '')
        shown = self.js('port', 'show', p1['id'])
        self.assertEqual((shown['name'], shown['description']),
                         ('cli-p1b', 'port one'))
        self.assertEqual(sorted(ip['ip_address'] for ip in shown['fixed_ips']),
                         sorted(['10.20.0.20', ip_b]))
        self.assertEqual({ip['subnet_id'] for ip in shown['fixed_ips']}, {sub['id']})
        self.assertGreater(shown['revision_number'], p1['revision_number'])

        self.cli('port', 'set', 'cli-p1b', '--no-fixed-ip',
                 '--fixed-ip', 'subnet=%s,ip-address=%s' % (sub['id'], ip_c))
        shown = self.js('port', 'show', p1['id'])
        self.assertEqual(shown['fixed_ips'],
                         [{'subnet_id': sub['id'], 'ip_address': ip_c}])
        self.assertEqual(self.js('port', 'list', '--fixed-ip',
                                 'ip-address=10.20.0.20'), [])

        # unset: the CLI removes exact entries it read from the port.
        self.assertEqual(self.cli(
            'port', 'unset', 'cli-p1b',
            '--fixed-ip', 'subnet=cli-port-sub,ip-address=%s' % ip_c,
            '--allowed-address', 'ip-address=10.20.0.200,mac-address=%s' % mac1),
            '')
        shown = self.js('port', 'show', p1['id'])
        self.assertEqual(shown['fixed_ips'], [])
        self.assertEqual(shown['allowed_address_pairs'], [])

        # Port security off (with the groups removed), then on again.
        self.cli('port', 'set', 'cli-p1b', '--disable-port-security',
                 '--no-security-group')
        shown = self.js('port', 'show', p1['id'])
        self.assertIs(shown['port_security_enabled'], False)
        self.assertEqual(shown['security_group_ids'], [])
        self.cli('port', 'set', 'cli-p1b', '--enable-port-security',
                 '--fixed-ip', 'subnet=cli-port-sub,ip-address=10.20.0.20')
        shown = self.js('port', 'show', p1['id'])
        self.assertIs(shown['port_security_enabled'], True)
        self.assertEqual(shown['fixed_ips'],
                         [{'subnet_id': sub['id'], 'ip_address': '10.20.0.20'}])
        # Allowed address pairs need port security.
        err = self.cli_error('port', 'set', 'cli-p3',
                             '--allowed-address', 'ip-address=10.20.0.201')
        self.assertIn('Port Security must be enabled in order to have allowed '
                      'address pairs on a port', err)

        # In use: the network and subnet can't go while ports hold addresses.
        err = self.cli_error('network', 'delete', net['id'])
        self.assertIn('There are one or more ports still in use on the network', err)
        err = self.cli_error('subnet', 'delete', sub['id'])
        self.assertIn('One or more ports have an IP allocation from this subnet', err)

        self.assertEqual(self.cli('port', 'delete', 'cli-p1b', p2['id'], 'cli-p3'), '')
        self.assertEqual(self.js('port', 'list', '--network', net['id']), [])
        err = self.cli_error('port', 'show', p2['id'])
        self.assertIn(p2['id'], err)
        self.cli('subnet', 'delete', sub['id'])
        self.cli('network', 'delete', net['id'])

    def test_port_slaac_addresses(self):
        """Neutron gives every port (but router interfaces) an EUI-64 address
        on each SLAAC subnet: on port create even when fixed_ips name other
        subnets, and to existing ports when the SLAAC subnet is created."""
        net = self.js('network', 'create', 'cli-slaac-net')
        v4 = self.js('subnet', 'create', 'cli-slaac-v4', '--network', net['id'],
                     '--subnet-range', '10.30.0.0/24')
        early = self.js('port', 'create', 'cli-slaac-early', '--network', net['id'],
                        '--mac-address', 'fa:16:3e:30:00:01')
        v6 = self.js('subnet', 'create', 'cli-slaac-v6', '--network', net['id'],
                     '--ip-version', '6', '--subnet-range', '2001:db8:2::/64',
                     '--ipv6-ra-mode', 'slaac', '--ipv6-address-mode', 'slaac')
        cidr = '2001:db8:2::/64'
        plain = self.js('port', 'create', 'cli-slaac-plain', '--network', net['id'],
                        '--mac-address', 'fa:16:3e:30:00:02')
        # An address early and plain did not get (allocation is random, as
        # Neutron's).
        taken = {f['ip_address'] for p in (early, plain) for f in p['fixed_ips']}
        ip_fixed = next(a for a in ('10.30.0.33', '10.30.0.34', '10.30.0.35')
                        if a not in taken)
        fixed = self.js('port', 'create', 'cli-slaac-fixed', '--network', net['id'],
                        '--mac-address', 'fa:16:3e:30:00:03',
                        '--fixed-ip', 'subnet=cli-slaac-v4,ip-address=%s' % ip_fixed)
        early_now = self.js('port', 'show', early['id'])
        try:
            with self.subTest('port created without fixed_ips'):
                self.assertEqual(len(plain['fixed_ips']), 2, plain['fixed_ips'])
                self.assertIp(plain['fixed_ips'], v6['id'],
                              eui64(cidr, 'fa:16:3e:30:00:02'))
                rows = self.js('port', 'list', '--fixed-ip', 'ip-address=%s'
                               % eui64(cidr, 'fa:16:3e:30:00:02'))
                self.assertEqual(self.ids(rows), [plain['id']])
            with self.subTest('port created with a fixed IP on the v4 subnet'):
                self.assertIp(fixed['fixed_ips'], v4['id'], ip_fixed)
                self.assertIp(fixed['fixed_ips'], v6['id'],
                              eui64(cidr, 'fa:16:3e:30:00:03'))
                self.assertEqual(len(fixed['fixed_ips']), 2, fixed['fixed_ips'])
            with self.subTest('port created before the SLAAC subnet'):
                self.assertIp(early_now['fixed_ips'], v4['id'],
                              early['fixed_ips'][0]['ip_address'])
                self.assertIp(early_now['fixed_ips'], v6['id'],
                              eui64(cidr, 'fa:16:3e:30:00:01'))
                self.assertEqual(len(early_now['fixed_ips']), 2,
                                 early_now['fixed_ips'])
        finally:
            self.cli('port', 'delete', early['id'], plain['id'], fixed['id'])
            self.cli('network', 'delete', net['id'])

    def test_disable_port_security_with_groups(self):
        """Neutron refuses to turn port security off while the port has
        security groups: 409 PortSecurityPortHasSecurityGroup."""
        net = self.js('network', 'create', 'cli-psec-net')
        self.js('subnet', 'create', 'cli-psec-sub', '--network', net['id'],
                '--subnet-range', '10.40.0.0/24')
        port = self.js('port', 'create', 'cli-psec-port', '--network', net['id'])
        self.assertEqual(len(port['security_group_ids']), 1, port)
        try:
            err = self.cli_error('port', 'set', port['id'],
                                 '--disable-port-security')
            self.assertIn('409', err)
            self.assertIn('Port has security group associated. Cannot disable '
                          'port security or IP address until security group is '
                          'removed', err)
            shown = self.js('port', 'show', port['id'])
            self.assertIs(shown['port_security_enabled'], True)
            self.assertEqual(shown['security_group_ids'],
                             port['security_group_ids'])
        finally:
            self.cli('port', 'delete', port['id'])
            self.cli('network', 'delete', net['id'])

    def test_subnet_pool_lifecycle(self):
        """subnet pool create/list/show/set/delete and subnets from a pool
        (--subnet-pool, --prefix-length, --use-default-subnet-pool)."""
        pool = self.js('subnet', 'pool', 'create', 'cli-pool', '--pool-prefix', '10.120.0.0/24',
                       '--pool-prefix', '10.120.1.0/24', '--default-prefix-length', '26',
                       '--min-prefix-length', '24', '--share', '--default', '--tag', 'blue',
                       '--description', 'cli pool')
        self.assertEqual(pool['prefixes'], ['10.120.0.0/23'])
        self.assertEqual((pool['default_prefixlen'], pool['min_prefixlen'],
                          pool['max_prefixlen']), (26, 24, 32))
        self.assertEqual((pool['shared'], pool['is_default'], pool['tags'],
                          pool['address_scope_id']), (True, True, ['blue'], None))
        rows = self.js('subnet', 'pool', 'list', '--long')
        self.assertIn(pool['id'], self.ids(rows))
        net = self.js('network', 'create', 'cli-pool-net')
        try:
            self.cli('subnet', 'pool', 'set', 'cli-pool', '--pool-prefix', '10.121.0.0/16',
                     '--default-quota', '100', '--name', 'cli-pool-2')
            shown = self.js('subnet', 'pool', 'show', 'cli-pool-2')
            self.assertEqual(shown['prefixes'], ['10.120.0.0/23', '10.121.0.0/16'])
            self.assertEqual((shown['default_quota'], shown['revision_number']), (100, 2))
            s1 = self.js('subnet', 'create', 'cli-pool-s1', '--network', net['id'],
                         '--subnet-pool', 'cli-pool-2')
            self.assertEqual((s1['cidr'], s1['subnetpool_id']), ('10.120.0.0/26', pool['id']))
            s2 = self.js('subnet', 'create', 'cli-pool-s2', '--network', net['id'],
                         '--subnet-pool', pool['id'], '--prefix-length', '28')
            self.assertEqual(s2['cidr'], '10.120.0.64/28')
            # 64 + 16 of the 100 addresses are used: another /26 is over quota.
            err = self.cli_error('subnet', 'create', 'cli-pool-s3', '--network', net['id'],
                                 '--use-default-subnet-pool')
            self.assertIn('Per-tenant subnet pool prefix quota exceeded', err)
            err = self.cli_error('subnet', 'pool', 'delete', pool['id'])
            self.assertIn('Subnet pool has existing allocations', err)
            self.cli('subnet', 'delete', s1['id'], s2['id'])
            self.cli('subnet', 'pool', 'delete', pool['id'])
            self.assertNotIn(pool['id'], self.ids(self.js('subnet', 'pool', 'list')))
        finally:
            self.cli('network', 'delete', net['id'])

    def test_network_rbac(self):
        """network rbac create/list/show/delete and `network set --share`
        as policies. With no Keystone the CLI cannot look up a project, so
        the policies target every project (--target-all-projects)."""
        net = self.js('network', 'create', 'cli-rbac-net')
        try:
            pol = self.js('network', 'rbac', 'create', '--type', 'network', '--action',
                          'access_as_external', '--target-all-projects', 'cli-rbac-net')
            self.assertEqual((pol['object_id'], pol['action'], pol['target_project_id'],
                              pol['object_type']),
                             (net['id'], 'access_as_external', '*', 'network'))
            self.assertIs(self.js('network', 'show', net['id'])['router:external'], True)
            err = self.cli_error('network', 'rbac', 'create', '--type', 'network', '--action',
                                 'access_as_external', '--target-all-projects', net['id'])
            self.assertIn('An RBAC policy already exists with those values', err)
            self.cli('network', 'set', '--share', net['id'])
            rows = self.js('network', 'rbac', 'list', '--type', 'network', '--long')
            mine = sorted((r['Action'], r['Object ID']) for r in rows
                          if r['Object ID'] == net['id'])
            self.assertEqual(mine, [('access_as_external', net['id']),
                                    ('access_as_shared', net['id'])])
            shared = [r for r in self.js('network', 'rbac', 'list', '--action',
                                         'access_as_shared') if r['Object ID'] == net['id']]
            self.assertEqual(len(shared), 1, shared)
            shown = self.js('network', 'rbac', 'show', shared[0]['ID'])
            self.assertEqual(shown['target_project_id'], '*')
            self.cli('network', 'rbac', 'delete', shared[0]['ID'])
            self.assertIs(self.js('network', 'show', net['id'])['shared'], False)
            self.cli('network', 'rbac', 'delete', pol['id'])
            self.assertIs(self.js('network', 'show', net['id'])['router:external'], False)
            self.assertNotIn(net['id'], [r['Object ID'] for r in
                                         self.js('network', 'rbac', 'list')])
            # rbac-subnetpool: a pool shared by a policy.
            pool = self.js('subnet', 'pool', 'create', 'cli-rbac-pool', '--pool-prefix',
                           '10.122.0.0/16')
            sp = self.js('network', 'rbac', 'create', '--type', 'subnetpool', '--action',
                         'access_as_shared', '--target-all-projects', pool['id'])
            self.assertEqual((sp['object_type'], sp['object_id']), ('subnetpool', pool['id']))
            self.assertIs(self.js('subnet', 'pool', 'show', pool['id'])['shared'], True)
            self.cli('network', 'rbac', 'delete', sp['id'])
            self.assertIs(self.js('subnet', 'pool', 'show', pool['id'])['shared'], False)
            self.cli('subnet', 'pool', 'delete', pool['id'])
        finally:
            self.cli('network', 'delete', net['id'])


if __name__ == '__main__':
    unittest.main()
