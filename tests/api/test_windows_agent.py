"""qhv-agent.exe (the mingw-w64 build, `make build-win`) under Wine against a
real qhv-server: on the dummy backend it registers (its heartbeat is in
GET /v2.0/agents), fetches and long-polls its plan through WinHTTP, wires a
port (ACTIVE), follows a change (DOWN), and stops cleanly on Ctrl-C; on the
hyperv backend it refuses to start and says that Hyper-V is absent (Wine has
no root\\virtualization\\v2 namespace).

Skipped only when wine or mingw-w64 is not installed (scripts/deps.sh test
installs both). The Wine prefix lives in the Windows build directory and is
created once (wineboot, about 15 s); each later run starts in a second.
"""
import os
import shutil
import signal
import subprocess
import sys
import time
import unittest

import qhvtest

BUILD = os.path.dirname(qhvtest.SERVER)
WIN_BUILD = os.environ.get('QHV_WIN_BUILD', os.path.join(
    os.path.dirname(__file__), '..', '..', 'build-win'))
AGENT_EXE = os.path.join(WIN_BUILD, 'qhv-agent.exe')
QHVCTL = os.environ.get('QHVCTL', os.path.join(BUILD, 'qhvctl'))
WINE = shutil.which('wine')
MINGW = shutil.which('x86_64-w64-mingw32-gcc')

SERVER_CONF = """
[agent]
auth_token = windows-secret
report_interval = 5
"""

AGENT_CONF = """
[DEFAULT]
host = {host}
[agent]
server_url = http://127.0.0.1:{port}
auth_token = {token}
backend = {backend}
physical_network_vswitch_mappings = physnet*:external
provider_address = 192.168.80.1
report_interval = 5
poll_wait = 5
[dummy]
state_file = {state}
"""


def winpath(path):
    """The Windows name of a Linux path under Wine (drive Z: is /)."""
    return 'Z:' + os.path.abspath(path).replace('/', '\\')


def wine_env():
    env = dict(os.environ)
    env.update(WINEPREFIX=os.path.abspath(os.path.join(WIN_BUILD, 'wineprefix')),
               WINEDEBUG='-all', WINEDLLOVERRIDES='mscoree,mshtml=')
    env.pop('DISPLAY', None)    # a console program: no window, no X server
    return env


@unittest.skipIf(WINE is None, 'wine is not installed (scripts/deps.sh test installs it)')
@unittest.skipIf(MINGW is None, 'mingw-w64 is not installed (scripts/deps.sh test installs '
                                'gcc-mingw-w64-x86-64)')
class WindowsAgentTest(qhvtest.ServerTestCase):
    extra_conf = SERVER_CONF

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(AGENT_EXE):
            raise AssertionError('%s is not built (make build-win builds it)' % AGENT_EXE)
        if not os.access(QHVCTL, os.X_OK):
            raise AssertionError('%s is not built (make builds it)' % QHVCTL)
        env = wine_env()
        if not os.path.exists(os.path.join(env['WINEPREFIX'], 'system.reg')):
            t0 = time.time()
            out = subprocess.run([WINE, 'wineboot', '--init'], env=env, capture_output=True,
                                 text=True, timeout=300)
            sys.stderr.write('wine prefix %s created in %.1f s\n' % (env['WINEPREFIX'],
                                                                     time.time() - t0))
            if not os.path.exists(os.path.join(env['WINEPREFIX'], 'system.reg')):
                raise AssertionError('wineboot failed (%s): %s' % (out.returncode,
                                                                    out.stderr[-2000:]))
        super().setUpClass()

    def write_conf(self, host, backend):
        token = subprocess.run([qhvtest.SERVER, '--config-file', self.server.conf,
                                '--agent-token', host], capture_output=True, text=True,
                               check=True).stdout.strip()
        state = os.path.join(self.server.dir, host + '.json')
        conf = os.path.join(self.server.dir, host + '.conf')
        with open(conf, 'w') as f:
            f.write(AGENT_CONF.format(host=host, port=self.server.port, token=token,
                                      backend=backend, state=winpath(state)))
        return conf, state

    def wait_for(self, what, fn, log, timeout=60.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = fn()
            if v:
                return v
            time.sleep(0.1)
        self.fail('timed out waiting for %s; agent log:\n%s' % (what, log()))

    def status(self, port_id):
        return self.get('/v2.0/ports/' + port_id)[1]['port']['status']

    def test_dummy_backend(self):
        conf, state = self.write_conf('winhost1', 'dummy')
        net = self.make_network(name='win-nv', **{'provider:network_type': 'nvgre'})
        self.make_subnet(net['id'], '10.91.0.0/24')
        port = self.make_port(net['id'], **{'binding:host_id': 'winhost1'})
        # The VM NIC exists before the agent starts: qhvctl (Linux, flock) and
        # the agent (Windows, LockFileEx) do not share a lock under Wine.
        out = subprocess.run([QHVCTL, 'dummy', state, 'nic', 'add', port['id']],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        logfile = os.path.join(self.server.dir, 'winhost1.log')
        t0 = time.time()
        with open(logfile, 'wb') as log:
            proc = subprocess.Popen([WINE, AGENT_EXE, '--config-file', winpath(conf)],
                                    env=wine_env(), stdout=log, stderr=log)

        def read_log():
            with open(logfile, 'rb') as f:
                return f.read().decode(errors='replace')

        try:
            def heartbeat():
                agents = self.get('/v2.0/agents')[1]['agents']
                return [a for a in agents if a['host'] == 'winhost1' and a['alive']]
            agent = self.wait_for('the heartbeat of winhost1', heartbeat, read_log)[0]
            t_registered = time.time() - t0
            self.assertEqual(agent['binary'], 'qhv-agent')
            self.assertEqual(agent['agent_type'], 'HyperV agent')
            self.assertEqual(agent['configurations']['backend'], 'dummy')
            self.assertEqual(agent['configurations']['provider_address'], '192.168.80.1')
            # Plan fetched, switch state written through the Windows file
            # layer, status reported.
            self.wait_for('port ACTIVE', lambda: self.status(port['id']) == 'ACTIVE', read_log)
            out = subprocess.run([QHVCTL, 'dummy', state, 'dump'], capture_output=True,
                                 text=True)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn('"port/%s"' % port['id'], out.stdout)
            # A change arrives by the long-poll.
            st, body = self.put('/v2.0/ports/' + port['id'], {'port': {'admin_state_up': False}})
            self.assertEqual(st, 200, body)
            self.wait_for('port DOWN', lambda: self.status(port['id']) == 'DOWN', read_log)
            sys.stderr.write('qhv-agent.exe under Wine: registered %.1f s after start, '
                             'whole scenario %.1f s\n' % (t_registered, time.time() - t0))
            # Ctrl-C (Wine turns SIGINT into CTRL_C_EVENT): a clean stop.
            proc.send_signal(signal.SIGINT)
            rc = proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.assertEqual(rc, 0, read_log())
        self.assertIn('INFO agent: stopping', read_log())
        self.assertIn('registered with http://127.0.0.1:%d as host winhost1' % self.server.port,
                      read_log())

    def test_hyperv_backend_says_hyperv_is_absent(self):
        conf, _ = self.write_conf('winhost2', 'hyperv')
        out = subprocess.run([WINE, AGENT_EXE, '--config-file', winpath(conf)], env=wine_env(),
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 2, out.stdout + out.stderr)
        self.assertRegex(out.stderr, r'qhv-agent: Hyper-V is absent: ConnectServer '
                                     r'root\\virtualization\\v2: 0x8004[0-9a-f]{4} WBEM_E_\w+')
        agents = self.get('/v2.0/agents')[1]['agents']
        self.assertNotIn('winhost2', [a['host'] for a in agents])


if __name__ == '__main__':
    unittest.main()
