"""Network nodes through the real OpenStack client (Debian's
python3-openstackclient, no Keystone, as test_openstack_cli): the DHCP
agents in `network agent list`, which agents host a network and which
networks an agent hosts, adding and removing a network (the
dhcp_agent_scheduler extension), and ports' --extra-dhcp-option."""
import json
import os
import subprocess

from test_dhcp_scheduling import DhcpCase
from test_openstack_cli import MISSING_CLI, find_openstack


class DhcpCliTest(DhcpCase):
    extra_conf = """
[agent]
auth_token = dhcp-secret
"""

    @classmethod
    def setUpClass(cls):
        cls.openstack = find_openstack()
        if cls.openstack is None:
            raise AssertionError(MISSING_CLI)
        super().setUpClass()
        cls.env = {k: v for k, v in os.environ.items()
                   if not k.startswith('OS_') and k not in ('PYTHONPATH', 'PYTHONHOME')}
        cls.env.update(OS_AUTH_TYPE='none', OS_ENDPOINT='http://127.0.0.1:%d' % cls.server.port)

    def js(self, *args, fmt=True):
        r = subprocess.run([self.openstack] + list(args) + (['-f', 'json'] if fmt else []),
                           env=self.env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, 0, 'openstack %s: %s\n%s' % (
            ' '.join(args), r.stderr, self.server.read_log()[-1500:]))
        return json.loads(r.stdout) if r.stdout.strip() else None

    def test_dhcp_agents_and_extra_dhcp_options(self):
        self.report('cli-n1')
        self.report('cli-n2')
        rows = self.js('network', 'agent', 'list', '--agent-type', 'dhcp')
        self.assertEqual(sorted((r['Host'], r['Agent Type'], r['Binary'], r['Alive'])
                                for r in rows),
                         [('cli-n1', 'DHCP agent', 'qhv-agent', True),
                          ('cli-n2', 'DHCP agent', 'qhv-agent', True)])
        ids = {r['Host']: r['ID'] for r in rows}
        net, sub = self.dhcp_net('cli-dhcp-net', '10.68.0.0/24')
        [dp] = self.dhcp_ports(net['id'])
        first = dp['binding:host_id']
        other = 'cli-n2' if first == 'cli-n1' else 'cli-n1'
        hosting = self.js('network', 'agent', 'list', '--network', net['id'])
        self.assertEqual([r['ID'] for r in hosting], [ids[first]])
        nets = self.js('network', 'list', '--agent', ids[first])
        self.assertEqual([n['ID'] for n in nets], [net['id']])
        self.js('network', 'agent', 'add', 'network', '--dhcp', ids[other], net['id'],
                fmt=False)
        hosting = self.js('network', 'agent', 'list', '--network', net['id'])
        self.assertEqual(sorted(r['ID'] for r in hosting), sorted(ids.values()))
        self.js('network', 'agent', 'remove', 'network', '--dhcp', ids[first], net['id'],
                fmt=False)
        hosting = self.js('network', 'agent', 'list', '--network', net['id'])
        self.assertEqual([r['ID'] for r in hosting], [ids[other]])
        # Ports' extra DHCP options.
        port = self.js('port', 'create', '--network', net['id'], '--extra-dhcp-option',
                       'name=bootfile-name,value=pxelinux.0', '--extra-dhcp-option',
                       'name=tftp-server,value=10.68.0.9,ip-version=4', 'cli-dhcp-port')
        self.assertEqual(sorted((o['opt_name'], o['opt_value'], o['ip_version'])
                                for o in port['extra_dhcp_opts']),
                         [('bootfile-name', 'pxelinux.0', 4), ('tftp-server', '10.68.0.9', 4)])
        self.js('port', 'set', '--extra-dhcp-option', 'name=bootfile-name,value=ipxe.efi',
                port['id'], fmt=False)
        shown = self.js('port', 'show', port['id'])
        self.assertIn({'opt_name': 'bootfile-name', 'opt_value': 'ipxe.efi', 'ip_version': 4},
                      shown['extra_dhcp_opts'])
        self.assertEqual(len(shown['extra_dhcp_opts']), 2)
        node = self.plan(other)
        self.assertEqual(node['dhcp_hosts']['%s/%s' % (net['id'], port['id'])]
                         ['extra_dhcp_opts'], shown['extra_dhcp_opts'])
