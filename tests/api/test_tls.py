"""TLS on the API listener ([ssl] cert_file, key_file, ca_file): qhv's HTTP
layer with GnuTLS (server/http_tls.c), checked with Python's ssl (OpenSSL) and the openstack CLI.

A throw-away PKI is made per module run with certtool (gnutls-bin, installed
by `make check`) or openssl, whichever is installed: a CA, a server
certificate for 127.0.0.1/localhost, a client certificate, and a second
("wrong") CA with its own client certificate.
"""
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import unittest
import warnings

import qhvtest
import test_agent_dummy
from test_agent_dummy import QHVCTL

PKI = None


def _run(*cmd, cwd):
    r = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError('%s: exit %d\n%s' % (' '.join(cmd), r.returncode, r.stderr[-2000:]))


class Pki:
    """PEM files in a temporary directory: ca, server, client, wrong-ca,
    wrong-client (each name.pem and name.key)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix='qhv-tls-')
        certtool = shutil.which('certtool', path=os.environ.get('PATH', '') + ':/usr/bin')
        openssl = shutil.which('openssl', path=os.environ.get('PATH', '') + ':/usr/bin')
        if certtool:
            self.tool = 'certtool'
            self._certtool(certtool)
        elif openssl:
            self.tool = 'openssl'
            self._openssl(openssl)
        else:
            raise AssertionError('neither certtool (Debian package gnutls-bin, installed by '
                                 '`make check`) nor openssl is installed')
        for f in os.listdir(self.dir):
            if f.endswith('.key'):
                os.chmod(self.path(f), 0o600)

    def path(self, name):
        return os.path.join(self.dir, name)

    def _certtool(self, tool):
        def template(name, text):
            with open(self.path(name + '.tmpl'), 'w') as f:
                f.write(text + 'expiration_days = 3\n')

        def key(name):
            _run(tool, '--generate-privkey', '--key-type', 'ecdsa', '--outfile', name + '.key',
                 cwd=self.dir)

        for ca in ('ca', 'wrong-ca'):
            key(ca)
            template(ca, 'cn = "qhv test %s"\nca\ncert_signing_key\ncrl_signing_key\n' % ca)
            _run(tool, '--generate-self-signed', '--load-privkey', ca + '.key', '--template',
                 ca + '.tmpl', '--outfile', ca + '.pem', cwd=self.dir)
        for name, ca, tmpl in (
                ('server', 'ca', 'cn = "localhost"\ndns_name = "localhost"\n'
                                 'ip_address = "127.0.0.1"\ntls_www_server\nsigning_key\n'
                                 'encryption_key\n'),
                ('client', 'ca', 'cn = "qhv test client"\ntls_www_client\nsigning_key\n'),
                ('wrong-client', 'wrong-ca', 'cn = "qhv test client"\ntls_www_client\n'
                                             'signing_key\n')):
            key(name)
            template(name, tmpl)
            _run(tool, '--generate-certificate', '--load-privkey', name + '.key',
                 '--load-ca-certificate', ca + '.pem', '--load-ca-privkey', ca + '.key',
                 '--template', name + '.tmpl', '--outfile', name + '.pem', cwd=self.dir)

    def _openssl(self, tool):
        for ca in ('ca', 'wrong-ca'):
            _run(tool, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
                 '-nodes', '-keyout', ca + '.key', '-out', ca + '.pem', '-days', '3',
                 '-subj', '/CN=qhv test %s' % ca,
                 '-addext', 'basicConstraints=critical,CA:TRUE',
                 '-addext', 'keyUsage=critical,keyCertSign,cRLSign', cwd=self.dir)
        for name, ca, ext in (
                ('server', 'ca', 'subjectAltName=DNS:localhost,IP:127.0.0.1\n'
                                 'extendedKeyUsage=serverAuth\n'),
                ('client', 'ca', 'extendedKeyUsage=clientAuth\n'),
                ('wrong-client', 'wrong-ca', 'extendedKeyUsage=clientAuth\n')):
            with open(self.path(name + '.ext'), 'w') as f:
                f.write('basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n'
                        'authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n' + ext)
            _run(tool, 'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
                 '-keyout', name + '.key', '-out', name + '.csr', '-subj', '/CN=%s' % name,
                 cwd=self.dir)
            _run(tool, 'x509', '-req', '-in', name + '.csr', '-CA', ca + '.pem', '-CAkey',
                 ca + '.key', '-CAcreateserial', '-out', name + '.pem', '-days', '3',
                 '-extfile', name + '.ext', cwd=self.dir)

    def conf(self, ca_file=None):
        lines = ['', '[ssl]', 'cert_file = ' + self.path('server.pem'),
                 'key_file = ' + self.path('server.key')]
        if ca_file:
            lines.append('ca_file = ' + self.path(ca_file))
        return '\n'.join(lines) + '\n'

    def context(self, ca='ca.pem', client=None):
        """A client context trusting ca (None: the system's CAs), presenting
        client (e.g. 'client') if given."""
        ctx = ssl.create_default_context(cafile=self.path(ca) if ca else None)
        if client:
            ctx.load_cert_chain(self.path(client + '.pem'), self.path(client + '.key'))
        return ctx

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def setUpModule():
    global PKI
    PKI = Pki()


def tearDownModule():
    if PKI:
        PKI.cleanup()


class TlsClient(qhvtest.Client):
    """qhvtest.Client over HTTPS with a given ssl context."""

    def __init__(self, port, context, headers=None, host='127.0.0.1'):
        super().__init__(port, headers)
        self.context = context
        self.host = host

    def request(self, method, path, body=None, headers=None, raw=None):
        conn = http.client.HTTPSConnection(self.host, self.port, timeout=30,
                                           context=self.context)
        h = {'Accept': 'application/json'}
        h.update(self.headers)
        h.update(headers or {})
        data = raw if body is None else json.dumps(body).encode()
        if data is not None:
            h['Content-Type'] = 'application/json'
        try:
            conn.request(method, path, body=data, headers=h)
            resp = conn.getresponse()
            text = resp.read()
        finally:
            conn.close()
        self.last_headers = dict(resp.getheaders())
        return resp.status, (json.loads(text) if text else None)


def handshake(port, context, server_hostname='127.0.0.1'):
    """Connects, handshakes, sends one request and reads the answer's first
    line (with TLS 1.3 a refused client certificate shows only on reading)."""
    with socket.create_connection(('127.0.0.1', port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=server_hostname) as s:
            s.sendall(b'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
            data = s.recv(64)
            if not data:
                raise ConnectionResetError('connection closed without an answer')
            return data.split(b'\r\n', 1)[0].decode(), s.version()


class TlsServerTestCase(qhvtest.ServerTestCase):
    ca_file = None
    more_conf = ''

    @classmethod
    def setUpClass(cls):
        cls.extra_conf = PKI.conf(ca_file=cls.ca_file) + cls.more_conf
        super().setUpClass()
        client = 'client' if cls.ca_file else None
        cls.admin = TlsClient(cls.server.port, PKI.context('ca.pem', client))


class TlsTest(TlsServerTestCase):

    def test_right_ca_succeeds(self):
        st, body = self.get('/')
        self.assertEqual(st, 200, body)
        # Links name the scheme the client used.
        self.assertEqual(body['versions'][0]['links'][0]['href'],
                         'https://127.0.0.1:%d/v2.0/' % self.server.port)
        net = self.make_network(name='tls-net')
        st, body = self.get('/v2.0/networks/' + net['id'])
        self.assertEqual((st, body['network']['name']), (200, 'tls-net'))
        line, version = handshake(self.server.port, PKI.context())
        self.assertEqual(line, 'HTTP/1.1 200 OK')
        self.assertIn(version, ('TLSv1.2', 'TLSv1.3'))
        log = self.server.read_log()
        self.assertIn('HTTPS', log)

    def test_no_ca_or_wrong_ca_fails(self):
        for ctx in (PKI.context(ca=None), PKI.context(ca='wrong-ca.pem')):
            with self.assertRaises(ssl.SSLCertVerificationError):
                handshake(self.server.port, ctx)

    def test_wrong_name_fails(self):
        with self.assertRaises(ssl.SSLCertVerificationError):
            handshake(self.server.port, PKI.context(), server_hostname='qhv.example.org')

    def test_versions(self):
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = PKI.context()
            ctx.minimum_version = ctx.maximum_version = version
            line, got = handshake(self.server.port, ctx)
            self.assertEqual(line, 'HTTP/1.1 200 OK')
        # TLS 1.1 and older: refused (by the server's priorities; OpenSSL's
        # own security level may refuse first, which is as good).
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)
            ctx = PKI.context()
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
            ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            handshake(self.server.port, ctx)

    def test_plain_http_gets_nothing(self):
        plain = qhvtest.Client(self.server.port)
        with self.assertRaises((http.client.HTTPException, ConnectionError)):
            plain.get('/')

    def test_openstack_cli_over_https(self):
        cli = shutil.which('openstack', path=os.environ.get('PATH', '') + ':/usr/bin')
        if cli is None:
            raise AssertionError('the openstack CLI (python3-openstackclient) is not installed: '
                                 'run `make check`')
        env = {k: v for k, v in os.environ.items()
               if not k.startswith('OS_') and k not in ('PYTHONPATH', 'PYTHONHOME')
               and not k.lower().endswith('_proxy')}
        env.update(OS_AUTH_TYPE='none', OS_ENDPOINT='https://127.0.0.1:%d' % self.server.port)
        self.make_network(name='tls-cli-net')
        r = subprocess.run([cli, 'network', 'list', '-f', 'json', '--os-cacert',
                            PKI.path('ca.pem')], env=env, capture_output=True, text=True,
                           timeout=120, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('tls-cli-net', {n['Name'] for n in json.loads(r.stdout)})
        r = subprocess.run([cli, 'network', 'list', '-f', 'json'], env=env,
                           capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        # keystoneauth reports the failed verification as a failed version
        # discovery.
        self.assertRegex(r.stderr, r'(?i)ssl|certificate|version discovery')


class TlsClientCertTest(TlsServerTestCase):
    """[ssl] ca_file: every client presents a certificate that CA signed."""
    ca_file = 'ca.pem'

    def test_client_cert_succeeds(self):
        st, body = self.get('/v2.0/networks')
        self.assertEqual(st, 200, body)
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = PKI.context(client='client')
            ctx.minimum_version = ctx.maximum_version = version
            self.assertEqual(handshake(self.server.port, ctx)[0], 'HTTP/1.1 200 OK')

    def test_no_client_cert_fails(self):
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = PKI.context()
            ctx.minimum_version = ctx.maximum_version = version
            with self.assertRaises((ssl.SSLError, ConnectionError)):
                handshake(self.server.port, ctx)
        with self.assertRaises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
            TlsClient(self.server.port, PKI.context()).get('/')

    def test_client_cert_from_wrong_ca_fails(self):
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = PKI.context(client='wrong-client')
            ctx.minimum_version = ctx.maximum_version = version
            with self.assertRaises((ssl.SSLError, ConnectionError)):
                handshake(self.server.port, ctx)
        # The server's certificate (extended key usage serverAuth only) is
        # no client certificate, even though the right CA signed it.
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            handshake(self.server.port, PKI.context(client='server'))

    def test_server_still_serves(self):
        # Refused handshakes leave the listener healthy.
        for _ in range(5):
            with self.assertRaises((ssl.SSLError, ConnectionError)):
                handshake(self.server.port, PKI.context())
        st, body = self.get('/v2.0/networks')
        self.assertEqual(st, 200, body)


class TlsAgentTestCase(TlsServerTestCase):
    """qhv-agent (dummy backend) and qhvctl against the HTTPS listener."""
    more_conf = '[agent]\nauth_token = tls-secret\nreport_interval = 5\n'

    tools = (test_agent_dummy.AGENT, QHVCTL)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.url = 'https://127.0.0.1:%d' % cls.server.port

    def setUp(self):
        self.hosts = []

    def tearDown(self):
        agents = {a['host']: a['id'] for a in self.get('/v2.0/agents')[1]['agents']}
        for h in self.hosts:
            rc = h.stop()
            h.log.close()
            self.assertIn(rc, (0, -15), 'agent %s exited with %s' % (h.name, rc))
            if h.name in agents:
                self.assertEqual(self.delete('/v2.0/agents/' + agents[h.name])[0], 204)

    def agent(self, name, ssl_conf):
        h = test_agent_dummy.Host(self, name, '192.168.61.%d' % (len(self.hosts) + 1),
                                  url=self.url, extra='[ssl]\n' + ssl_conf)
        h.ctl('counters')   # creates the state file
        self.hosts.append(h.start())
        return h

    def agent_hosts(self):
        return {a['host'] for a in self.get('/v2.0/agents')[1]['agents']}

    def port_active(self, h):
        """A port bound to h goes ACTIVE once its VM NIC exists (the agent
        fetched the plan over TLS, applied it and reported back)."""
        self.wait_for('agent %s registered' % h.name, lambda: h.name in self.agent_hosts())
        net = self.make_network(name='tls-agent-' + h.name)
        self.make_subnet(net['id'], '10.%d.0.0/24' % (91 + len(self.hosts)))
        port = self.make_port(net['id'], **{'binding:host_id': h.name})
        h.ctl('nic', 'add', port['id'])
        self.wait_for('port ACTIVE', lambda: self.get('/v2.0/ports/' + port['id'])[1]
                      ['port']['status'] == 'ACTIVE')
        self.assertIn('port/' + port['id'], h.objects('port'))

    def refused(self, h, pattern):
        """h never registers, and says why in its log."""
        try:
            self.wait_for('the TLS failure in the log of %s' % h.name,
                          lambda: re.search(pattern, h.read_log()))
        except AssertionError:
            raise AssertionError('%s did not log %r; its log:\n%s'
                                 % (h.name, pattern, h.read_log()[-3000:]))
        self.assertNotIn(h.name, self.agent_hosts())
        self.assertIsNone(h.proc.poll(), 'the agent keeps retrying')

    def qhvctl(self, *args, env=None):
        e = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
        e.update(env or {})
        return subprocess.run([QHVCTL, '--url', self.url] + list(args), capture_output=True,
                              text=True, timeout=60, env=e)


class TlsAgentTest(TlsAgentTestCase):

    def test_agent_with_the_right_ca_goes_active(self):
        h = self.agent('tls-h1', 'ca_file = %s\n' % PKI.path('ca.pem'))
        self.port_active(h)
        self.assertNotIn('insecure', h.read_log())
        r = self.qhvctl('--os-cacert', PKI.path('ca.pem'), 'agents')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r'tls-h1\s+yes')
        r = self.qhvctl('wait', '--timeout', '20', env={'OS_CACERT': PKI.path('ca.pem')})
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_agent_with_a_wrong_ca_is_refused(self):
        h = self.agent('tls-h2', 'ca_file = %s\n' % PKI.path('wrong-ca.pem'))
        self.refused(h, r'report to https://\S+: TLS: .*certificate.*check \[ssl\] ca_file')
        # The system's CAs do not know the throw-away CA either.
        h2 = self.agent('tls-h3', '')
        self.refused(h2, r'TLS: .*certificate')
        r = self.qhvctl('--os-cacert', PKI.path('wrong-ca.pem'), 'agents')
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r'certificate.*--os-cacert')

    def test_insecure_works_with_a_warning(self):
        h = self.agent('tls-h4', 'insecure = true\n')
        self.port_active(h)
        self.assertRegex(h.read_log(), r'WARN.*insecure = true.*NOT verified')
        r = self.qhvctl('--insecure', 'agents')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('tls-h4', r.stdout)
        self.assertIn('warning: --insecure', r.stderr)

    def test_contradicting_options_stop_the_agent(self):
        h = test_agent_dummy.Host(self, 'tls-h5', '192.168.61.50', url=self.url,
                                  extra='[ssl]\ninsecure = true\nca_file = %s\n'
                                        % PKI.path('ca.pem'))
        r = subprocess.run([test_agent_dummy.AGENT, '--config-file', h.conf],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn('ca_file and insecure = true contradict', r.stderr)
        h.log.close()


class TlsClientCertAgentTest(TlsAgentTestCase):
    """The server requires client certificates ([ssl] ca_file)."""
    ca_file = 'ca.pem'

    def test_agent_with_a_client_certificate_goes_active(self):
        h = self.agent('tlsc-h1', 'ca_file = %s\ncert_file = %s\nkey_file = %s\n' % (
            PKI.path('ca.pem'), PKI.path('client.pem'), PKI.path('client.key')))
        self.port_active(h)
        r = self.qhvctl('--os-cacert', PKI.path('ca.pem'), '--os-cert', PKI.path('client.pem'),
                        '--os-key', PKI.path('client.key'), 'agents')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('tlsc-h1', r.stdout)

    def test_agent_without_a_client_certificate_is_refused(self):
        h = self.agent('tlsc-h2', 'ca_file = %s\n' % PKI.path('ca.pem'))
        self.refused(h, r'report to https://\S+: TLS: ')
        h2 = self.agent('tlsc-h3', 'ca_file = %s\ncert_file = %s\nkey_file = %s\n' % (
            PKI.path('ca.pem'), PKI.path('wrong-client.pem'), PKI.path('wrong-client.key')))
        self.refused(h2, r'report to https://\S+: TLS: ')
        r = self.qhvctl('--os-cacert', PKI.path('ca.pem'), 'agents')
        self.assertEqual(r.returncode, 1, r.stdout)


class TlsConfigTest(unittest.TestCase):
    """A wrong [ssl] setting stops the server at start with a clear message."""

    def start_fails(self, conf, message):
        srv = qhvtest.Server(conf)
        try:
            with self.assertRaises(RuntimeError) as cm:
                srv.start()
            self.assertIn('exited with 2', str(cm.exception))
            self.assertIn(message, srv.read_log())
        finally:
            srv.cleanup()

    def test_bad_settings(self):
        p = PKI.path
        self.start_fails('[ssl]\ncert_file = %s\n' % p('server.pem'),
                         'cert_file and key_file must be set together')
        self.start_fails('[ssl]\nca_file = %s\n' % p('ca.pem'), 'ca_file needs cert_file')
        self.start_fails('[ssl]\ncert_file = %s\nkey_file = %s\n' % (p('nope.pem'),
                                                                   p('server.key')),
                         'cannot open')
        self.start_fails('[ssl]\ncert_file = %s\nkey_file = %s\n' % (p('server.pem'),
                                                                   p('client.key')),
                         'key_file')
        self.start_fails('[ssl]\ncert_file = %s\nkey_file = %s\n' % (p('server.key'),
                                                                   p('server.key')),
                         'holds no PEM certificate')
        self.start_fails('[ssl]\ncert_file = %s\nkey_file = %s\nca_file = %s\n' % (
            p('server.pem'), p('server.key'), p('server.key')), 'ca_file')


if __name__ == '__main__':
    unittest.main()
