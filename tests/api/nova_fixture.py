"""The real Nova for tests: Debian's nova-api (Nova 26, installed by `make
check`, scripts/deps.sh test) on SQLite with transport_url = fake:// (no
message bus), behind a real Keystone (keystone_fixture), served by
nova-api-wsgi on a free loopback port.

    ks = keystone_fixture.Keystone(); ks.start(); ks.create_identities()
    nova = nova_fixture.Nova()          # SkipTest only if Nova cannot be installed
    nova.prepare()                      # databases (from the build dir's cache)
    nova.configure(ks)                  # once ks.port is known; then nova.start() may
    nova.start()                        # run while ks is still being set up
    nova.register(ks)                   # user nova, the compute service and endpoints
    nova.make_instances([(uuid, project, 'qhv-compute'), (uuid2, project, '')])
    ...  nova.relay.events() / nova.accepted(name, tag, uuid)
    nova.cleanup()

What Nova does with an external event (nova/api/openstack/compute/
server_external_events.py): an instance with a host gets per-event code 200
and the INFO line "Creating event NAME:TAG for instance UUID on HOST" (the
event is then cast to compute.HOST over fake://, where it goes nowhere); an
instance without a host 422, an unknown one 404 (HTTP 207 overall). The
response's per-event "status" is always "completed" for accepted events, so
what was sent is taken from the request: the catalog's compute endpoint is a
recording relay in front of nova-api (Relay), which keeps every
os-server-external-events request body with Nova's answer and the time it
arrived, and passes everything else through unchanged.

Setup: nova-manage api_db sync, cell_v2 map_cell0, cell_v2 create_cell,
db sync (20-30 s on 2 cores) make three SQLite databases that hold the schema
and the cell mappings only; they are kept in the build directory
(nova-cache/<python3-nova version>/) and copied from there by later runs,
with the cell mappings' database paths rewritten to the copy. Instances are
created with Nova's own objects (this file run as a script: `mkinstance`),
in one process for all of them.
"""
import http.client
import http.server
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

NOVA_API = '/usr/bin/nova-api-wsgi'
NOVA_MANAGE = '/usr/bin/nova-manage'
PACKAGE = 'nova-api'
PYTHON = '/usr/bin/python3'
HOST = 'qhv-compute'
DBS = ('nova_api.sqlite', 'nova.sqlite', 'nova_cell0.sqlite')

NOVA_CONF = """[DEFAULT]
host = {host}
transport_url = fake://
state_path = {dir}/state
log_file = {dir}/nova-api.log
debug = true
[api]
auth_strategy = {auth}
[api_database]
connection = sqlite:///{dir}/state/nova_api.sqlite
[database]
connection = sqlite:///{dir}/state/nova.sqlite
[oslo_concurrency]
lock_path = {dir}/lock
"""

AUTHTOKEN = """[keystone_authtoken]
www_authenticate_uri = {url}
auth_url = {url}/v3
auth_type = password
username = nova
password = {password}
project_name = service
user_domain_name = Default
project_domain_name = Default
"""


QHV_CONF = """
[DEFAULT]
notify_nova_on_port_status_changes = true
notify_nova_on_port_data_changes = true
send_events_interval = {interval}
[nova]
auth_type = password
auth_url = {url}/v3
username = nova
password = {password}
project_name = service
user_domain_name = Default
project_domain_name = Default
region_name = RegionOne
endpoint_type = public
"""


def check_installed():
    """As keystone_fixture.check_installed: SkipTest only if Nova has no
    package candidate here; installable but missing is a failure."""
    missing = [p for p in (NOVA_API, NOVA_MANAGE) if not os.path.exists(p)]
    if not missing:
        return
    try:
        r = subprocess.run(['apt-cache', 'policy', PACKAGE], capture_output=True, text=True,
                           timeout=60)
        m = re.search(r'Candidate:\s*(\S+)', r.stdout)
        candidate = m.group(1) if m else None
    except (OSError, subprocess.TimeoutExpired):
        candidate = None
    if candidate in (None, '(none)'):
        raise unittest.SkipTest(
            'Nova cannot be installed here (no %s package candidate in apt; missing: %s): '
            'the Nova tests need the real nova-api' % (PACKAGE, ', '.join(missing)))
    raise AssertionError(
        '%s (candidate %s) is not installed (missing: %s): run `make check`, which installs it '
        '(scripts/deps.sh test), or `apt-get install --no-install-recommends %s`'
        % (PACKAGE, candidate, ', '.join(missing), PACKAGE))


def nova_version():
    r = subprocess.run(['dpkg-query', '-W', '-f=${Version}', 'python3-nova'],
                       capture_output=True, text=True)
    return re.sub(r'[^0-9A-Za-z.+~-]', '_', r.stdout.strip()) or 'unknown'


def clean_env(extra=None):
    from keystone_fixture import clean_env as ce
    return ce(extra)


class Relay:
    """A loopback HTTP relay in front of nova-api: every request is passed
    to Nova as it came and Nova's answer returned as it went; for POST
    .../os-server-external-events it records (arrival time, the request's
    events, Nova's status and answer). stop() closes the listening socket
    (callers then get "connection refused", as from a Nova that is down);
    start() listens again on the same port."""

    def __init__(self, upstream_port):
        self.upstream = upstream_port
        self.port = None
        self.lock = threading.Lock()
        self.records = []
        self.httpd = None
        self.thread = None

    def start(self):
        relay = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *a):
                pass

            def _any(self):
                arrived = time.time()
                n = int(self.headers.get('Content-Length') or 0)
                body = self.rfile.read(n) if n else None
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ('host', 'connection', 'content-length')}
                try:
                    c = http.client.HTTPConnection('127.0.0.1', relay.upstream, timeout=120)
                    c.request(self.command, self.path, body=body, headers=headers)
                    r = c.getresponse()
                    data = r.read()
                    status, rh = r.status, r.getheaders()
                    c.close()
                except OSError:
                    # Nova itself is down: as if nothing listened.
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if self.command == 'POST' and self.path.rstrip('/').endswith(
                        'os-server-external-events'):
                    try:
                        sent = json.loads(body)['events']
                    except (ValueError, TypeError, KeyError):
                        sent = None
                    try:
                        answer = json.loads(data)
                    except ValueError:
                        answer = None
                    with relay.lock:
                        relay.records.append({'t': arrived, 'sent': sent, 'status': status,
                                              'answer': answer,
                                              'token': bool(self.headers.get('X-Auth-Token'))})
                self.send_response(status)
                for k, v in rh:
                    if k.lower() not in ('connection', 'transfer-encoding', 'content-length'):
                        self.send_header(k, v)
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except OSError:
                    pass        # the caller went away (a server being stopped)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.httpd = Server(('127.0.0.1', self.port or 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.port

    def events(self):
        """Every event Nova was sent, in order, with its answer: dicts with
        name, server_uuid, tag, status (as sent), code (Nova's per-event
        code, or the HTTP status when Nova refused the whole request), http
        (the request's status) and t (arrival)."""
        out = []
        with self.lock:
            records = list(self.records)
        for r in records:
            answers = (r['answer'] or {}).get('events') if isinstance(r['answer'], dict) else None
            for i, e in enumerate(r['sent'] or []):
                a = answers[i] if answers and i < len(answers) else {}
                out.append(dict(e, code=a.get('code', r['status']), http=r['status'], t=r['t'],
                                token=r['token']))
        return out


class Nova:
    def __init__(self, auth='keystone'):
        check_installed()
        self.auth = auth
        self.dir = tempfile.mkdtemp(prefix='qhv-nova-')
        for d in ('state', 'lock'):
            os.makedirs(os.path.join(self.dir, d))
        self.conf = os.path.join(self.dir, 'nova.conf')
        self.port = keystone_free_port()
        self.relay = Relay(self.port)
        self.proc = None
        self.password = None
        self.ks = None
        shutil.copy('/etc/nova/api-paste.ini', os.path.join(self.dir, 'api-paste.ini'))
        self._write_conf()

    def _write_conf(self):
        text = NOVA_CONF.format(host=HOST, dir=self.dir,
                                auth='keystone' if self.ks else 'noauth2')
        if self.ks:
            text += AUTHTOKEN.format(url=self.ks.url, password=self.password)
        with open(self.conf, 'w') as f:
            f.write(text)

    # --- databases ---------------------------------------------------------

    def _manage(self, *args):
        r = subprocess.run([PYTHON, NOVA_MANAGE, '--config-file', self.conf] + list(args),
                           capture_output=True, text=True, env=clean_env(), timeout=300,
                           stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise RuntimeError('nova-manage %s: exit %d\n%s' % (' '.join(args), r.returncode,
                                                                  (r.stderr + r.stdout)[-3000:]))

    @staticmethod
    def cache_dir():
        import qhvtest
        build = os.path.dirname(os.path.dirname(os.path.abspath(qhvtest.SERVER)))
        return os.path.join(build, 'nova-cache', nova_version())

    def prepare(self):
        """The three databases: copied from the cache, or synced (and then
        cached). Returns 'cache' or 'sync'."""
        state = os.path.join(self.dir, 'state')
        cache = self.cache_dir()
        origin = os.path.join(cache, 'origin')
        if os.path.exists(origin):
            with open(origin) as f:
                old = f.read().strip()
            for db in DBS:
                shutil.copy(os.path.join(cache, db), os.path.join(state, db))
            # The cell mappings name the databases by path.
            c = sqlite3.connect(os.path.join(state, 'nova_api.sqlite'))
            c.execute('UPDATE cell_mappings SET database_connection = '
                      'replace(database_connection, ?, ?)', (old, state))
            c.commit()
            n = c.execute('SELECT count(*) FROM cell_mappings WHERE database_connection '
                          'LIKE ?', ('%' + state + '%',)).fetchone()[0]
            c.close()
            if n == 2:
                return 'cache'
        self._manage('api_db', 'sync')
        self._manage('cell_v2', 'map_cell0', '--database_connection',
                     'sqlite:///%s/nova_cell0.sqlite' % state)
        self._manage('cell_v2', 'create_cell', '--name', 'cell1', '--transport-url', 'fake://',
                     '--database_connection', 'sqlite:///%s/nova.sqlite' % state)
        self._manage('db', 'sync')
        try:
            os.makedirs(os.path.dirname(cache), exist_ok=True)
            tmp = tempfile.mkdtemp(prefix='.tmp-', dir=os.path.dirname(cache))
            for db in DBS:
                shutil.copy(os.path.join(state, db), tmp)
            with open(os.path.join(tmp, 'origin'), 'w') as f:
                f.write(state + '\n')
            try:
                os.rename(tmp, cache)      # atomic: another run may race us
            except OSError:
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError:
            pass        # no cache: the next run syncs again
        return 'sync'

    # --- Keystone ----------------------------------------------------------

    def configure(self, ks):
        """Nova's configuration for Keystone ks, whose URL is all it needs:
        nova-api may start before ks has the user nova (its middleware logs
        in at the first request that needs a token validated)."""
        import secrets
        if self.ks is not ks:
            self.ks = ks
            self.password = secrets.token_hex(12)
            self._write_conf()

    def register(self, ks):
        """User nova (admin on project service: Nova's own service user, and
        the credentials qhv-server's [nova] section uses, since Zed's policy
        for os-server-external-events:create is role admin), and the compute
        service with its endpoints at the relay."""
        self.configure(ks)
        token = ks.token('admin')

        def call(method, path, body=None):
            req = urllib.request.Request(ks.url + '/v3' + path, method=method,
                                         data=json.dumps(body).encode() if body else None,
                                         headers={'X-Auth-Token': token,
                                                  'Content-Type': 'application/json'})
            with urllib.request.urlopen(req, timeout=30) as r:
                text = r.read()
                return json.loads(text) if text else None

        roles = {r['name']: r['id'] for r in call('GET', '/roles')['roles']}
        project = ks.ids['project:service']
        user = call('POST', '/users', {'user': {'name': 'nova', 'password': self.password,
                                                'domain_id': 'default',
                                                'default_project_id': project}})['user']
        self.user_id = user['id']
        call('PUT', '/projects/%s/users/%s/roles/%s' % (project, user['id'], roles['admin']))
        svc = call('POST', '/services', {'service': {'name': 'nova', 'type': 'compute'}})
        for iface in ('public', 'internal', 'admin'):
            call('POST', '/endpoints', {'endpoint': {
                'service_id': svc['service']['id'], 'interface': iface, 'region_id': 'RegionOne',
                'url': self.relay_url + '/v2.1'}})

    def qhv_conf(self, send_events_interval=2, **nova_opts):
        """qhv-server's configuration for this Nova (docs/nova.md): every
        event on, Nova's service user, Nova found in Keystone's catalogue;
        nova_opts are more [nova] options."""
        return QHV_CONF.format(interval=send_events_interval, url=self.ks.url,
                               password=self.password) + ''.join(
                                   '%s = %s\n' % kv for kv in nova_opts.items())

    @property
    def relay_url(self):
        if self.relay.port is None:
            self.relay.port = keystone_free_port()
        return self.relay.url

    # --- the API -----------------------------------------------------------

    def start(self):
        if self.relay.httpd is None:
            self.relay.start()
        log = open(os.path.join(self.dir, 'wsgi.out'), 'ab')
        self.proc = subprocess.Popen(
            [PYTHON, NOVA_API, '--host', '127.0.0.1', '--port', str(self.port)],
            env=clean_env({'OS_NOVA_CONFIG_DIR': self.dir}), stdout=log, stderr=log,
            stdin=subprocess.DEVNULL)
        log.close()
        import qhvtest      # its own process on the port, not another run's nova-api
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('nova-api-wsgi exited with %s:\n%s' % (
                    self.proc.returncode, self.read_log()[-3000:]))
            try:
                with urllib.request.urlopen('http://127.0.0.1:%d/' % self.port, timeout=5) as r:
                    if r.status == 200 and qhvtest.listens(self.proc.pid, self.port):
                        return self
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError('nova-api-wsgi did not answer in 120 s:\n' + self.read_log()[-3000:])

    def stop(self):
        """Nova down: nova-api stops and the relay stops listening."""
        self.relay.stop()
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def read_log(self):
        text = ''
        for f in ('nova-api.log', 'wsgi.out'):
            try:
                with open(os.path.join(self.dir, f), errors='replace') as fh:
                    text += fh.read()
            except OSError:
                pass
        return text

    def accepted(self, name, tag, uuid):
        """True if Nova logged that it created the event (it accepted it)."""
        return ('Creating event %s:%s for instance %s on %s' % (name, tag, uuid, HOST)
                in self.read_log())

    def make_instances(self, rows):
        """Creates instances with Nova's objects: rows of (uuid, project,
        host or '' for none)."""
        r = subprocess.run([PYTHON, os.path.abspath(__file__), 'mkinstance', self.conf,
                            json.dumps(rows)], capture_output=True, text=True, timeout=300,
                           env=clean_env(), stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise RuntimeError('mkinstance: exit %d\n%s' % (r.returncode,
                                                           (r.stderr + r.stdout)[-3000:]))


def keystone_free_port():
    from keystone_fixture import free_port
    return free_port()


def _mkinstance(conf, rows):
    """Run in its own process (Nova's config and objects are global)."""
    from nova import config, context, objects
    config.parse_args([sys.argv[0], '--config-file', conf])
    objects.register_all()
    ctxt = context.get_admin_context()
    cell = [c for c in objects.CellMappingList.get_all(ctxt) if not c.is_cell0()][0]
    flavor = objects.Flavor(id=1, flavorid='1', name='qhv.tiny', memory_mb=64, vcpus=1,
                            root_gb=0, ephemeral_gb=0, swap=0, rxtx_factor=1.0, vcpu_weight=0,
                            disabled=False, is_public=True, extra_specs={}, projects=[])
    with context.target_cell(ctxt, cell) as cctxt:
        for uuid, project, host in rows:
            objects.Instance(context=cctxt, uuid=uuid, project_id=project, user_id='qhv-test',
                             display_name='vm-' + uuid[:8], hostname='vm-' + uuid[:8],
                             host=host or None, node=host or None, launched_on=host or None,
                             vm_state='active' if host else 'building', power_state=1,
                             task_state=None if host else 'scheduling', instance_type_id=1,
                             flavor=flavor, old_flavor=None, new_flavor=None, memory_mb=64,
                             vcpus=1, root_gb=0, ephemeral_gb=0, metadata={},
                             system_metadata={}).create()
    for uuid, project, host in rows:
        objects.InstanceMapping(ctxt, instance_uuid=uuid, cell_mapping=cell,
                                project_id=project, user_id='qhv-test').create()


if __name__ == '__main__' and len(sys.argv) == 4 and sys.argv[1] == 'mkinstance':
    _mkinstance(sys.argv[2], json.loads(sys.argv[3]))
