"""Harness for API tests: starts a real qhv-server on a free loopback port
with its own temporary database, and talks HTTP+JSON to it with the
standard library only (Debian's /usr/bin/python3, no third-party modules).

The database is a SQLite file in the server's directory, or with
QHV_TEST_DB=postgresql a fresh PostgreSQL database per server directory on
one throwaway cluster per test process (pgcluster.py), started when the
first server needs it. A Server built again on the same directory gets the
same database, as it would get the same SQLite file.

    class T(qhvtest.ServerTestCase):
        def test_x(self):
            st, body = self.post('/v2.0/networks', {'network': {'name': 'n'}})
"""
import http.client
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

SERVER = os.environ.get('QHV_SERVER', os.path.join(
    os.path.dirname(__file__), '..', '..', 'build', 'src', 'qhv-server'))

BASE_CONF = """
[DEFAULT]
bind_host = 127.0.0.1
bind_port = {port}
api_workers = 4
[database]
connection = {connection}
[ml2]
tenant_network_types = vlan,nvgre
[ml2_type_vlan]
network_vlan_ranges = physnet1:100:2999,physnet2
[ml2_type_nvgre]
vsid_ranges = 5000:5999
"""


TEST_DB = os.environ.get('QHV_TEST_DB', 'sqlite')
if TEST_DB not in ('sqlite', 'postgresql'):
    raise RuntimeError('QHV_TEST_DB=%s: sqlite or postgresql' % TEST_DB)

_cluster = None
_databases = {}     # realpath of a server directory -> (name, URL)


def on_postgresql():
    return TEST_DB == 'postgresql'


def skip_on_postgresql(reason):
    """Skips a test (or class) that is about the SQLite file itself."""
    return unittest.skipIf(on_postgresql(), 'not on PostgreSQL: ' + reason)


def pg_cluster():
    """This process's PostgreSQL cluster, started on first use (SkipTest
    when PostgreSQL is not installed)."""
    global _cluster
    if _cluster is None:
        import pgcluster
        _cluster = pgcluster.Cluster().start()
    return _cluster


def database_url(directory):
    """The [database] connection of a server on directory."""
    if not on_postgresql():
        return 'sqlite:///%s/qhv.sqlite' % directory
    key = os.path.realpath(directory)
    if key not in _databases:
        name = 'qhv_%s' % ''.join(c if c.isalnum() else '_'
                                  for c in os.path.basename(key).lower())
        _databases[key] = (name, pg_cluster().create_database(name))
    return _databases[key][1]


def database_name(directory):
    """The PostgreSQL database of a server directory (for psql)."""
    database_url(directory)
    return _databases[os.path.realpath(directory)][0]


def drop_database(directory):
    db = _databases.pop(os.path.realpath(directory), None)
    if db and _cluster is not None:
        _cluster.drop_database(db[0])


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def listens(pid, port):
    """True if process pid itself listens on TCP port (not merely something
    answering there: a test run beside this one may have taken the port
    since free_port() found it free)."""
    r = subprocess.run(['ss', '-Hltnp', 'sport = :%d' % port], capture_output=True, text=True)
    return 'pid=%d,' % pid in r.stdout


class Server:
    """A qhv-server process. extra_conf is appended to the base config;
    connection, if given, is its [database] connection instead of the
    directory's own database."""

    def __init__(self, extra_conf='', directory=None, connection=None):
        self.dir = directory or tempfile.mkdtemp(prefix='qhv-api-')
        self.own_dir = directory is None
        self.port = free_port()
        self.conf = os.path.join(self.dir, 'qhv.conf')
        with open(self.conf, 'w') as f:
            f.write(BASE_CONF.format(port=self.port, dir=self.dir,
                                     connection=connection or database_url(self.dir))
                    + extra_conf)
        self.log = open(os.path.join(self.dir, 'server.log'), 'ab')
        self.proc = None
        self.picked_port = self.port     # ours to change while never started

    def agent_token(self, host):
        """Host's channel token (qhv-server --agent-token)."""
        return subprocess.run([SERVER, '--config-file', self.conf, '--agent-token', host],
                              capture_output=True, text=True, check=True).stdout.strip()

    def start(self):
        """Starts it and waits until this very process listens: its own log
        line, not merely something on the port (another test run beside
        this one may have taken the port since free_port() found it free;
        then, on a first start, another port is picked)."""
        for attempt in range(5):
            logged = os.path.getsize(os.path.join(self.dir, 'server.log'))
            self.proc = subprocess.Popen([SERVER, '--config-file', self.conf],
                                         stdout=self.log, stderr=self.log)
            mine = 'qhv-server listening on 127.0.0.1:%d ' % self.port
            deadline = time.time() + 60      # a bound: a busy machine, first migrations
            while time.time() < deadline:
                with open(os.path.join(self.dir, 'server.log'), 'rb') as f:
                    f.seek(logged)
                    new = f.read().decode(errors='replace')
                if self.proc.poll() is not None:
                    if ('cannot listen on' in new and 'in use' in new and attempt < 4 and
                            self.port == self.picked_port):
                        self.repick_port()
                        break
                    raise RuntimeError('qhv-server exited with %s; log: %s' % (
                        self.proc.returncode, self.read_log()))
                if mine in new:
                    self.picked_port = None      # started: the port is known to others now
                    return self
                time.sleep(0.05)
            else:
                raise RuntimeError('qhv-server did not listen; log: ' + self.read_log())
        raise RuntimeError('qhv-server found no free port; log: ' + self.read_log())

    def repick_port(self):
        with open(self.conf) as f:
            text = f.read()
        port = free_port()
        with open(self.conf, 'w') as f:
            f.write(text.replace('bind_port = %d\n' % self.port, 'bind_port = %d\n' % port))
        self.port = self.picked_port = port

    def read_log(self):
        with open(os.path.join(self.dir, 'server.log'), 'rb') as f:
            return f.read().decode(errors='replace')

    def stop(self, sig=None):
        if self.proc and self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        return rc

    def cleanup(self):
        self.stop()
        self.log.close()
        if self.own_dir:
            drop_database(self.dir)
            shutil.rmtree(self.dir, ignore_errors=True)


class Client:
    """Minimal HTTP client; headers are per client (identity) or per call."""

    def __init__(self, port, headers=None):
        self.port = port
        self.headers = dict(headers or {})

    def request(self, method, path, body=None, headers=None, raw=None):
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=30)
        h = {'Accept': 'application/json'}
        h.update(self.headers)
        h.update(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            h['Content-Type'] = 'application/json'
        conn.request(method, path, body=data, headers=h)
        resp = conn.getresponse()
        text = resp.read()
        conn.close()
        parsed = json.loads(text) if text else None
        self.last_headers = dict(resp.getheaders())
        return resp.status, parsed

    def get(self, path, **kw):
        return self.request('GET', path, **kw)

    def post(self, path, body, **kw):
        return self.request('POST', path, body, **kw)

    def put(self, path, body, **kw):
        return self.request('PUT', path, body, **kw)

    def delete(self, path, **kw):
        return self.request('DELETE', path, **kw)


class ServerTestCase(unittest.TestCase):
    """One server per test class (fast); tests use distinct names/ranges."""
    extra_conf = ''
    wait_timeout = 15.0     # wait_for's default

    def wait_for(self, what, fn, detail=None, timeout=None):
        """fn()'s first true value, polled every 50 ms; after timeout seconds
        the test fails, with detail() (a log, say) if given."""
        deadline = time.time() + (timeout or self.wait_timeout)
        while time.time() < deadline:
            v = fn()
            if v:
                return v
            time.sleep(0.05)
        self.fail('timed out waiting for %s%s' % (what, '; log:\n' + detail() if detail else ''))

    tools = ()              # executables the class needs besides qhv-server
    # A server per test instead: for tests whose leftovers (connections the
    # server has not yet seen close, on a busy machine) would count in the next.
    server_per_test = False

    @classmethod
    def setUpClass(cls):
        for tool in cls.tools:
            if not os.access(tool, os.X_OK):
                raise AssertionError('%s is not built (make builds it)' % tool)
        if not cls.server_per_test:
            cls._start_server(cls)

    @classmethod
    def tearDownClass(cls):
        if not cls.server_per_test:
            cls._stop_server(cls)

    def setUp(self):
        if self.server_per_test:
            self._start_server(self)

    def tearDown(self):
        if self.server_per_test:
            self._stop_server(self)

    @staticmethod
    def _start_server(owner):
        server = Server(owner.extra_conf)
        try:
            owner.server = server.start()
        except BaseException:
            server.cleanup()
            raise
        owner.admin = Client(owner.server.port)

    @staticmethod
    def _stop_server(owner):
        # A clean exit is part of every test: under ASan a leak or a crash
        # makes the exit status non-zero.
        rc = owner.server.stop()
        log = owner.server.read_log()
        owner.server.cleanup()
        if rc != 0:
            raise AssertionError('qhv-server exited with %s; log tail:\n%s' % (rc, log[-4000:]))

    def client(self, project, roles='member'):
        return Client(self.server.port, {'X-Project-Id': project, 'X-Roles': roles})

    # Shortcuts as admin (no identity headers: admin of fake_project_id).
    def get(self, path, **kw):
        return self.admin.get(path, **kw)

    def post(self, path, body, **kw):
        return self.admin.post(path, body, **kw)

    def put(self, path, body, **kw):
        return self.admin.put(path, body, **kw)

    def delete(self, path, **kw):
        return self.admin.delete(path, **kw)

    def assertError(self, result, status, etype, message_part=None):
        st, body = result
        self.assertEqual(st, status, body)
        self.assertIn('NeutronError', body, body)
        err = body['NeutronError']
        self.assertEqual(set(err), {'type', 'message', 'detail'})
        self.assertEqual(err['type'], etype, body)
        if message_part is not None:
            self.assertIn(message_part, err['message'])
        return err

    def make_network(self, client=None, **attrs):
        st, body = (client or self.admin).post('/v2.0/networks', {'network': attrs})
        self.assertEqual(st, 201, body)
        return body['network']

    def make_subnet(self, network_id, cidr, client=None, **attrs):
        attrs.update(network_id=network_id, cidr=cidr,
                     ip_version=6 if ':' in cidr else 4)
        st, body = (client or self.admin).post('/v2.0/subnets', {'subnet': attrs})
        self.assertEqual(st, 201, body)
        return body['subnet']

    def make_port(self, network_id, client=None, **attrs):
        attrs.update(network_id=network_id)
        st, body = (client or self.admin).post('/v2.0/ports', {'port': attrs})
        self.assertEqual(st, 201, body)
        return body['port']
