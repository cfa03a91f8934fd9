"""qhv-agent.exe (the mingw-w64 build, `make build-win`) under Wine against a
real qhv-server: on the dummy backend it registers (its heartbeat is in
GET /v2.0/agents), fetches and long-polls its plan through WinHTTP, wires a
port (ACTIVE), follows a change (DOWN), and stops cleanly on Ctrl-C; it runs
as a service of Wine's service manager (install, start, stop, remove); on the
hyperv backend it refuses to start and says that Hyper-V is absent (Wine has
no root\\virtualization\\v2 namespace). The platform layer's checks
(tests/plat) run as test_plat.exe, the WMI COM transport's (tests/win,
over Wine's root\\cimv2) as test_wmi_com.exe. Over https://, [ssl] ca_file is
verified by the agent itself (CryptoAPI, exclusive root: by address and by
name, and a wrong CA refused); insecure, the Windows store's refusal, and
the unsupported client certificate are shown too.

Skipped only when wine or mingw-w64 is not installed (scripts/deps.sh test
installs both). The Wine prefix lives in the Windows build directory and is
created once (wineboot, about 14 s); each later run starts in a second.
"""
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
import unittest

import qhvtest
import test_tls

BUILD = os.path.dirname(qhvtest.SERVER)
WIN_BUILD = os.environ.get('QHV_WIN_BUILD', os.path.join(
    os.path.dirname(__file__), '..', '..', 'build-win'))
AGENT_EXE = os.path.join(WIN_BUILD, 'qhv-agent.exe')
PLAT_EXE = os.path.join(WIN_BUILD, 'test_plat.exe')   # tests/plat/test_plat.c
WMI_EXE = os.path.join(WIN_BUILD, 'test_wmi_com.exe')  # tests/win/test_wmi_com.c
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
server_url = {url}
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


def check_prerequisites():
    """Fails (not skips) when the tools are there but the build is not; makes
    the Wine prefix on first use."""
    for exe in (AGENT_EXE, PLAT_EXE, WMI_EXE):
        if not os.path.exists(exe):
            raise AssertionError('%s is not built (make build-win builds it)' % exe)
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


class WinAgent:
    """qhv-agent.exe under Wine for host name, talking to case.server at url
    (default: its plain http:// address) with extra appended to its
    configuration."""

    def __init__(self, case, name, backend='dummy', url=None, extra=''):
        self.case = case
        token = case.server.agent_token(name)
        self.state = os.path.join(case.server.dir, name + '.json')
        self.conf = os.path.join(case.server.dir, name + '.conf')
        self.logfile = os.path.join(case.server.dir, name + '.log')
        with open(self.conf, 'w') as f:
            f.write(AGENT_CONF.format(host=name, token=token, backend=backend,
                                      url=url or 'http://127.0.0.1:%d' % case.server.port,
                                      state=winpath(self.state)) + extra)
        self.proc = None

    def start(self):
        with open(self.logfile, 'wb') as log:
            self.proc = subprocess.Popen([WINE, AGENT_EXE, '--config-file', winpath(self.conf)],
                                         env=wine_env(), stdout=log, stderr=log)
        return self

    def run(self, timeout=120):
        """Runs it to its end: (exit status, output)."""
        out = subprocess.run([WINE, AGENT_EXE, '--config-file', winpath(self.conf)],
                             env=wine_env(), capture_output=True, text=True, timeout=timeout)
        return out.returncode, out.stdout + out.stderr

    def read_log(self):
        with open(self.logfile, 'rb') as f:
            return f.read().decode(errors='replace')

    def stop(self):
        """Ctrl-C (Wine turns SIGINT into CTRL_C_EVENT); returns the exit status."""
        if self.proc is None:
            return None
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGINT)
            return self.proc.wait(30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()

    def wait_log(self, text, timeout=60.0):
        self.case.wait_for(repr(text) + ' in the log', lambda: text in self.read_log(),
                           self.read_log, timeout)


class WineTestCase(qhvtest.ServerTestCase):
    wait_timeout = 60.0

    @classmethod
    def setUpClass(cls):
        check_prerequisites()
        super().setUpClass()

    def setUp(self):
        self.agents = []

    def tearDown(self):
        for a in self.agents:
            a.stop()

    def agent(self, name, **kw):
        a = WinAgent(self, name, **kw)
        self.agents.append(a)
        return a

    def alive(self, host):
        agents = self.get('/v2.0/agents')[1]['agents']
        return [a for a in agents if a['host'] == host and a['alive']]

    def status(self, port_id):
        return self.get('/v2.0/ports/' + port_id)[1]['port']['status']


@unittest.skipIf(WINE is None, 'wine is not installed (scripts/deps.sh test installs it)')
@unittest.skipIf(MINGW is None, 'mingw-w64 is not installed (scripts/deps.sh test installs '
                                'gcc-mingw-w64-x86-64)')
class WindowsAgentTest(WineTestCase):
    extra_conf = SERVER_CONF

    def test_dummy_backend(self):
        a = self.agent('winhost1')
        net = self.make_network(name='win-nv', **{'provider:network_type': 'nvgre'})
        self.make_subnet(net['id'], '10.91.0.0/24')
        port = self.make_port(net['id'], **{'binding:host_id': 'winhost1'})
        # The VM NIC exists before the agent starts: qhvctl (Linux, flock) and
        # the agent (Windows, LockFileEx) do not share a lock under Wine.
        out = subprocess.run([QHVCTL, 'dummy', a.state, 'nic', 'add', port['id']],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        t0 = time.time()
        a.start()
        agent = self.wait_for('the heartbeat of winhost1', lambda: self.alive('winhost1'),
                              a.read_log)[0]
        t_registered = time.time() - t0
        self.assertEqual(agent['binary'], 'qhv-agent')
        self.assertEqual(agent['agent_type'], 'HyperV agent')
        self.assertEqual(agent['configurations']['backend'], 'dummy')
        self.assertEqual(agent['configurations']['provider_address'], '192.168.80.1')
        # Plan fetched, switch state written through the Windows file layer,
        # status reported.
        self.wait_for('port ACTIVE', lambda: self.status(port['id']) == 'ACTIVE', a.read_log)
        out = subprocess.run([QHVCTL, 'dummy', a.state, 'dump'], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn('"port/%s"' % port['id'], out.stdout)
        # A change arrives by the long-poll.
        st, body = self.put('/v2.0/ports/' + port['id'], {'port': {'admin_state_up': False}})
        self.assertEqual(st, 200, body)
        self.wait_for('port DOWN', lambda: self.status(port['id']) == 'DOWN', a.read_log)
        sys.stderr.write('qhv-agent.exe under Wine: registered %.1f s after start, '
                         'whole scenario %.1f s\n' % (t_registered, time.time() - t0))
        # A clean stop, at once (the long-poll in flight is abandoned).
        t1 = time.time()
        self.assertEqual(a.stop(), 0, a.read_log())
        self.assertLess(time.time() - t1, 3.0, 'poll_wait is 5 s: the stop waited for it')
        log = a.read_log()
        self.assertIn('INFO agent: stopping', log)
        self.assertIn('registered with http://127.0.0.1:%d as host winhost1' % self.server.port,
                      log)

    def test_platform_layer(self):
        # src/lib/plat_win.c: the checks unit.test_plat runs on Linux.
        out = subprocess.run([WINE, PLAT_EXE, winpath(self.server.dir)], env=wine_env(),
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn('test_plat: all checks passed', out.stdout)

    def test_wmi_com_transport(self):
        # src/vswitch/hyperv/wmi_com*.c over Wine's WMI (root\cimv2): queries,
        # GetObject, ExecMethod, errors in WMI's words; see the program.
        out = subprocess.run([WINE, WMI_EXE], env=wine_env(), capture_output=True, text=True,
                             timeout=120)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn('test_wmi_com: all checks passed', out.stdout)

    def sc(self, *args):
        """Wine's sc.exe; returns its output. On a loaded machine Wine now and
        then fails to start sc.exe itself ("ShellExecuteEx failed"): that is
        Wine's launcher, not the service, so the command is run again."""
        for _ in range(5):
            out = subprocess.run([WINE, 'sc'] + list(args), env=wine_env(), capture_output=True,
                                 text=True, timeout=60)
            text = out.stdout + out.stderr
            if 'ShellExecuteEx failed' not in text:
                break
            time.sleep(0.5)
        return text

    def service_state(self):
        """(STATE, SERVICE_EXIT_CODE) of the qhv-agent service, as sc query shows them."""
        text = self.sc('query', 'qhv-agent')
        state = re.search(r'STATE\s*:\s*\d+\s+(\w+)', text)
        code = re.search(r'SERVICE_EXIT_CODE\s*:\s*(\d+)', text)
        return (state.group(1) if state else text, int(code.group(1)) if code else None)

    def service_config(self, value):
        """A value of the qhv-agent service's registry key (where Wine's and
        Windows' service managers keep its configuration; Wine's sc has no
        qc or qfailureflag), as reg query prints it, or None."""
        out = subprocess.run([WINE, 'reg', 'query',
                              r'HKLM\System\CurrentControlSet\Services\qhv-agent', '/v', value],
                             env=wine_env(), capture_output=True, text=True, timeout=60)
        m = re.search(r'^\s*%s\s+REG_\w+\s+(.*?)\s*$' % re.escape(value), out.stdout, re.M)
        return m.group(1) if m else None

    def check_service_config(self, install_output, depends):
        """Dependencies as asked; restart actions also after a stop with a
        non-zero exit code (SERVICE_CONFIG_FAILURE_ACTIONS_FLAG), unless the
        service manager refuses that setting, as Wine 8's does (error 87):
        then the install says so and goes on."""
        self.assertEqual(self.service_config('DependOnService'), depends)
        self.assertIn('depends on: ' + depends.replace('\\0', ', '), install_output)
        flag = self.service_config('FailureActionsOnNonCrashFailures')
        if flag is None:
            self.assertIn('warning: ChangeServiceConfig2 (restart after a non-crash failure): ',
                          install_output)
            self.assertIn('(error 87)', install_output)
        else:
            self.assertEqual(flag, '0x1')

    def keep_wine_up(self):
        """A cmd waiting on its input, for the rest of the test (see
        service()); returns once it answers, i.e. once Wine has booted: a
        Wine command started while another one boots Wine may hang."""
        keeper = subprocess.Popen([WINE, 'cmd'], env=wine_env(), stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.addCleanup(keeper.wait, 30)
        self.addCleanup(keeper.stdout.close)
        self.addCleanup(keeper.stdin.close)
        # %OS% expands to Windows_NT in the answer only, not in an echo of
        # the command line.
        keeper.stdin.write(b'echo qhv-keeper-%OS%\r\n')
        keeper.stdin.flush()
        seen = []

        def ready():
            if not select.select([keeper.stdout], [], [], 0.2)[0]:
                return False
            chunk = os.read(keeper.stdout.fileno(), 4096)
            if not chunk:
                self.fail('wine cmd ended: %r' % b''.join(seen))
            seen.append(chunk)
            return b'qhv-keeper-Windows_NT' in b''.join(seen)
        self.wait_for('wine cmd to answer', ready, timeout=120)

    def service(self, name, backend, extra=''):
        """Installs qhv-agent.exe as the service for host name (removed at
        cleanup), logging to a file (a service has no console). Returns the
        agent and what the install printed."""
        a = WinAgent(self, name, backend=backend, extra=extra)
        with open(a.conf, 'a') as f:
            f.write('[DEFAULT]\nlog_file = %s\n' % winpath(a.logfile))
        # Wine's wineserver, with its services, ends as soon as its last
        # ordinary process has (a service does not count): the service
        # would be killed between two sc commands, and the next one would
        # boot Wine afresh, whose service manager starts the service again
        # (it is SERVICE_AUTO_START), so that sc query never says STOPPED
        # after a stop. A cmd waiting on its input keeps one Wine "boot" up
        # for the whole test (removed last: cleanups run in reverse).
        self.keep_wine_up()
        # One left by an interrupted run would make the install fail.
        subprocess.run([WINE, AGENT_EXE, '--remove-service'], env=wine_env(),
                       capture_output=True, timeout=60)
        out = subprocess.run([WINE, AGENT_EXE, '--install-service', '--config-file',
                              winpath(a.conf)], env=wine_env(), capture_output=True, text=True,
                             timeout=60)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn('installed service qhv-agent', out.stdout)
        self.addCleanup(self.remove_service)
        return a, out.stdout + out.stderr

    def remove_service(self):
        out = subprocess.run([WINE, AGENT_EXE, '--remove-service'], env=wine_env(),
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)

    def test_service(self):
        # Wine's service manager runs it as Windows' would: --service,
        # StartServiceCtrlDispatcher, SERVICE_CONTROL_STOP.
        a, installed = self.service('winsvc', 'dummy')
        self.check_service_config(installed, 'Winmgmt')
        self.sc('start', 'qhv-agent')
        self.wait_for('the service\'s heartbeat', lambda: self.alive('winsvc'), a.read_log)
        self.assertEqual(self.service_state(), ('RUNNING', 0))
        self.sc('stop', 'qhv-agent')
        self.wait_for('the service stopped', lambda: self.service_state()[0] == 'STOPPED',
                      a.read_log, timeout=20)
        self.assertEqual(self.service_state(), ('STOPPED', 0))
        self.assertIn('INFO agent: stopping', a.read_log())

    def test_service_that_cannot_start(self):
        # It stops with service-specific exit code 2 and says why in its log:
        # no root\virtualization\v2 (no Hyper-V role) is not waited for. On
        # the hyperv backend it depends on vmms too (Wine starts it anyway).
        a, installed = self.service('winsvc2', 'hyperv')
        self.check_service_config(installed, 'Winmgmt\\0vmms')
        self.sc('start', 'qhv-agent')
        self.wait_for('the service stopped', lambda: self.service_state()[0] == 'STOPPED',
                      a.read_log, timeout=30)
        self.assertEqual(self.service_state(), ('STOPPED', 2))
        self.assertIn('ERROR agent: cannot start: Hyper-V is absent: ', a.read_log())

    def test_service_waits_for_its_backend(self):
        # A backend that does not open yet (here the hyperv backend over the
        # in-memory model, whose file is not JSON yet; on a host, VMMS not yet
        # up): START_PENDING, the checkpoint advancing, tried again after
        # 1 s, 2 s, 4 s...; RUNNING once it opens, and only then.
        model = os.path.join(self.server.dir, 'winsvc3-model.json')
        with open(model, 'w') as f:
            f.write('not yet')
        a, _ = self.service('winsvc3', 'hyperv', extra='[hyperv]\ntransport = model\n'
                            'model_file = %s\nwindows_version = 10.0.14393\n' % winpath(model))
        self.sc('start', 'qhv-agent')
        a.wait_log('WARNING agent: cannot start yet (attempt 2): %s' % winpath(model))
        self.assertIn('retrying in 2 s (for up to 600 s)', a.read_log())
        text = self.sc('query', 'qhv-agent')
        self.assertRegex(text, r'STATE\s*:\s*2\s+START_PENDING')
        self.assertRegex(text, r'CHECKPOINT\s*:\s*0x([2-9a-f]|[1-9a-f][0-9a-f]+)\b')
        self.assertRegex(text, r'WAIT_HINT\s*:\s*0x2710\b')
        self.assertFalse(self.alive('winsvc3'))
        with open(model, 'w') as f:
            f.write('{}')
        self.wait_for('the service\'s heartbeat', lambda: self.alive('winsvc3'), a.read_log)
        self.assertEqual(self.service_state(), ('RUNNING', 0))
        self.sc('stop', 'qhv-agent')
        self.wait_for('the service stopped', lambda: self.service_state()[0] == 'STOPPED',
                      a.read_log, timeout=20)
        self.assertEqual(self.service_state(), ('STOPPED', 0))

    def test_hyperv_backend_says_hyperv_is_absent(self):
        rc, out = self.agent('winhost2', backend='hyperv').run()
        self.assertEqual(rc, 2, out)
        self.assertRegex(out, r'qhv-agent: Hyper-V is absent: ConnectServer '
                              r'root\\virtualization\\v2: 0x8004[0-9a-f]{4} WBEM_E_\w+')
        self.assertFalse(self.alive('winhost2'))

    def test_selftest_says_hyperv_is_absent(self):
        # qhv-agent --selftest (docs/hyperv-selftest.md) under Wine: no
        # root\virtualization\v2, so nothing is tested and it exits non-zero.
        out = subprocess.run([WINE, AGENT_EXE, '--selftest'], env=wine_env(),
                             capture_output=True, text=True, timeout=120)
        self.assertNotEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertRegex(out.stdout + out.stderr, r'qhv-agent --selftest: Hyper-V is absent: ')
        self.assertIn('nothing was tested', out.stdout + out.stderr)


@unittest.skipIf(WINE is None, 'wine is not installed (scripts/deps.sh test installs it)')
@unittest.skipIf(MINGW is None, 'mingw-w64 is not installed (scripts/deps.sh test installs '
                                'gcc-mingw-w64-x86-64)')
class WindowsAgentTlsTest(WineTestCase):
    """WinHTTP over https:// to qhv-server's TLS listener (test_tls's PKI:
    a server certificate for localhost and 127.0.0.1, issued by "ca")."""

    @classmethod
    def setUpClass(cls):
        cls.pki = test_tls.Pki()
        cls.extra_conf = SERVER_CONF + cls.pki.conf()
        super().setUpClass()
        cls.admin = test_tls.TlsClient(cls.server.port, cls.pki.context('ca.pem'))

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.pki.cleanup()

    def https(self, host='127.0.0.1'):
        return 'https://%s:%d' % (host, self.server.port)

    def ssl(self, **kw):
        return '[ssl]\n' + ''.join('%s = %s\n' % kv for kv in kw.items())

    def test_ca_file_by_address_and_by_name(self):
        for name, host in (('tlsip', '127.0.0.1'), ('tlsname', 'localhost')):
            a = self.agent(name, url=self.https(host),
                           extra=self.ssl(ca_file=winpath(self.pki.path('ca.pem')))).start()
            self.wait_for('the heartbeat of ' + name, lambda: self.alive(name), a.read_log)
            self.assertEqual(a.stop(), 0, a.read_log())

    def test_wrong_ca_file_is_refused(self):
        a = self.agent('tlswrong', url=self.https(),
                       extra=self.ssl(ca_file=winpath(self.pki.path('wrong-ca.pem')))).start()
        a.wait_log('report to %s: TLS: server certificate verification failed: no chain to a '
                   'CA of ca_file' % self.https())
        self.assertEqual(a.stop(), 0, a.read_log())
        self.assertNotIn('registered with', a.read_log())
        # Not checked here: that the request never reached the server. On
        # Windows, closing the request handle in the SENDING_REQUEST
        # notification stops it before any byte is sent (Microsoft's
        # documented way); Wine 8's WinHTTP sends it anyway (docs/windows.md).

    def test_system_store_does_not_know_the_ca(self):
        a = self.agent('tlssystem', url=self.https()).start()
        a.wait_log('report to %s: TLS: ' % self.https())
        self.assertEqual(a.stop(), 0, a.read_log())
        self.assertFalse(self.alive('tlssystem'))

    def test_insecure(self):
        a = self.agent('tlsinsecure', url=self.https(), extra=self.ssl(insecure='true')).start()
        self.wait_for('the heartbeat', lambda: self.alive('tlsinsecure'), a.read_log)
        self.assertEqual(a.stop(), 0, a.read_log())
        self.assertIn('[ssl] insecure = true', a.read_log())

    def test_client_certificate_is_refused_clearly(self):
        a = self.agent('tlsclient', url=self.https(),
                       extra=self.ssl(ca_file=winpath(self.pki.path('ca.pem')),
                                      cert_file=winpath(self.pki.path('client.pem')),
                                      key_file=winpath(self.pki.path('client.key')))).start()
        a.wait_log('client certificates ([ssl] cert_file, key_file) are not supported by '
                   'qhv-agent on Windows')
        self.assertEqual(a.stop(), 0, a.read_log())


if __name__ == '__main__':
    unittest.main()
