"""A real Keystone for API tests, without Apache: Debian's python3-keystone
(installed by `make check`, scripts/deps.sh test) on SQLite in a temporary
directory, served by keystone-wsgi-public on a free loopback port.

    ks = keystone_fixture.Keystone()      # raises unittest.SkipTest only if
    ks.start()                            # Keystone cannot be installed here
    ks.create_identities()
    token = ks.token('demo')
    ...
    ks.cleanup()

Setup (about 10 s): keystone.conf (SQLite database, Fernet keys in the
temporary directory), keystone-manage db_sync, the database switched to WAL
(otherwise concurrent writers fail with "database is locked"), fernet_setup,
credential_setup, bootstrap (user admin, project admin, region RegionOne,
roles admin > member > reader), then keystone-wsgi-public. Identities are
created with the openstack CLI (/usr/bin/openstack), all in one run of its
interactive shell:

    role service, role qhv-agent
    project service + user neutron (service on service)  qhv-server's credentials
                    + user weak    (member on service)   credentials that may not
                                                         validate tokens
                    + users qhv-agent-kh1, qhv-agent-kh2 (qhv-agent on service)
                                                         agents of hosts kh1, kh2
                    + user shared-agent (qhv-agent on service) an agent user that
                                                         names no host
    project demo    + user demo    (member on demo)
                    + user reader  (reader on demo)
    project alt     + user alt     (member on alt)
    service network (type network) for the catalog; endpoints are added per
    test server with add_network_endpoint().

extra_instance(expiration=N) starts a second keystone-wsgi-public on the same
database and keys with another [token] expiration: its tokens are valid for
the first one too (Fernet), so a test can have short-lived tokens.
"""
import grp
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

KEYSTONE_MANAGE = '/usr/bin/keystone-manage'
KEYSTONE_WSGI = '/usr/bin/keystone-wsgi-public'
OPENSTACK = '/usr/bin/openstack'
PACKAGE = 'python3-keystone'

KEYSTONE_CONF = """[DEFAULT]
log_file = {dir}/keystone-{name}.log
[database]
connection = sqlite:///{dir}/keystone.db
[fernet_tokens]
key_repository = {dir}/fernet-keys
[credential]
key_repository = {dir}/credential-keys
[token]
provider = fernet
expiration = {expiration}
[identity]
# bcrypt at its cheapest: test passwords, and every login hashes one.
password_hash_rounds = 4
"""

USERS = {
    # name: (project, role)
    'admin': ('admin', 'admin'),
    'neutron': ('service', 'service'),     # least privilege: may validate tokens
    'weak': ('service', 'member'),         # may not validate others' tokens
    'demo': ('demo', 'member'),
    'reader': ('demo', 'reader'),
    'alt': ('alt', 'member'),
    'qhv-agent-kh1': ('service', 'qhv-agent'),
    'qhv-agent-kh2': ('service', 'qhv-agent'),
    'shared-agent': ('service', 'qhv-agent'),
}


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def clean_env(extra=None):
    """The environment without OS_* credentials, Python overrides or
    proxies (everything here talks to 127.0.0.1)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith('OS_') and k not in ('PYTHONPATH', 'PYTHONHOME')
           and not k.lower().endswith('_proxy')}
    env.update(extra or {})
    return env


def check_installed():
    """Returns if Keystone is installed. Raises unittest.SkipTest if it cannot
    be installed on this machine (no package candidate), AssertionError if it
    could be but is not (`make check` installs it: not installed is then a
    broken setup, not a reason to skip)."""
    missing = [p for p in (KEYSTONE_MANAGE, KEYSTONE_WSGI, OPENSTACK) if not os.path.exists(p)]
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
            'Keystone cannot be installed here (no %s package candidate in apt; missing: %s): '
            'the auth_strategy = keystone tests need a real Keystone'
            % (PACKAGE, ', '.join(missing)))
    raise AssertionError(
        '%s (candidate %s) is not installed (missing: %s): run `make check`, which installs it '
        '(scripts/deps.sh test), or `apt-get install --no-install-recommends %s '
        'python3-openstackclient`' % (PACKAGE, candidate, ', '.join(missing), PACKAGE))


class Keystone:

    def __init__(self, expiration=3600):
        check_installed()
        self.dir = tempfile.mkdtemp(prefix='qhv-keystone-')
        self.expiration = expiration
        self.port = None
        self.proc = None
        self.admin_password = secrets.token_hex(12)
        self.passwords = {u: secrets.token_hex(12) for u in USERS}
        self.passwords['admin'] = self.admin_password
        self.ids = {}            # 'project:demo' / 'user:demo' -> id
        self.extra = []          # extra instances (KeystoneInstance)
        self.conf = self._write_conf('main', expiration)

    # --- setup -------------------------------------------------------------

    def _write_conf(self, name, expiration):
        path = os.path.join(self.dir, 'keystone-%s.conf' % name)
        with open(path, 'w') as f:
            f.write(KEYSTONE_CONF.format(dir=self.dir, name=name, expiration=expiration))
        return path

    def _manage(self, *args):
        self._manage_wait(self._manage_start(*args))

    def _manage_start(self, *args):
        return args, subprocess.Popen(
            [KEYSTONE_MANAGE, '--config-file', self.conf] + list(args), env=clean_env(),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            stdin=subprocess.DEVNULL)

    def _manage_wait(self, started):
        args, proc = started
        try:
            _, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError('keystone-manage %s: exit %s\n%s\nlog:\n%s' % (
                args[0], proc.returncode, err[-3000:], self.read_log()[-3000:]))

    def start(self):
        os.makedirs(os.path.join(self.dir, 'fernet-keys'))
        os.makedirs(os.path.join(self.dir, 'credential-keys'))
        # The key repositories do not touch the database: set them up while
        # db_sync runs.
        # Owned by whoever runs the tests (root in CI).
        user = pwd.getpwuid(os.getuid()).pw_name
        group = grp.getgrgid(os.getgid()).gr_name
        keys = [self._manage_start(cmd, '--keystone-user', user, '--keystone-group', group)
                for cmd in ('fernet_setup', 'credential_setup')]
        try:
            self._manage('db_sync')
        finally:
            for k in keys:
                self._manage_wait(k)
        db = sqlite3.connect(os.path.join(self.dir, 'keystone.db'))
        mode = db.execute('PRAGMA journal_mode=WAL').fetchone()[0]
        db.close()
        assert mode == 'wal', mode
        self.port = free_port()
        url = self.url + '/v3'
        self._manage('bootstrap', '--bootstrap-password', self.admin_password,
                     '--bootstrap-admin-url', url, '--bootstrap-public-url', url,
                     '--bootstrap-internal-url', url, '--bootstrap-region-id', 'RegionOne')
        self.proc = self._spawn(self.conf, self.port, 'main')
        return self

    def _spawn(self, conf, port, name):
        log = open(os.path.join(self.dir, 'wsgi-%s.out' % name), 'ab')
        proc = subprocess.Popen(
            [KEYSTONE_WSGI, '--host', '127.0.0.1', '--port', str(port)],
            env=clean_env({'OS_KEYSTONE_CONFIG_FILES': conf}), stdout=log, stderr=log,
            stdin=subprocess.DEVNULL)
        log.close()
        import qhvtest      # its own process on the port, not another run's Keystone
        deadline = time.time() + 60
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError('keystone-wsgi-public exited with %s:\n%s' % (
                    proc.returncode, self.read_log(name)[-3000:]))
            try:
                with urllib.request.urlopen('http://127.0.0.1:%d/v3' % port, timeout=2) as r:
                    if r.status == 200 and qhvtest.listens(proc.pid, port):
                        return proc
            except (OSError, urllib.error.URLError):
                time.sleep(0.1)
        proc.kill()
        raise RuntimeError('keystone-wsgi-public did not answer in 60 s')

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.port

    def read_log(self, name='main'):
        text = ''
        for f in ('keystone-%s.log' % name, 'wsgi-%s.out' % name):
            try:
                with open(os.path.join(self.dir, f), errors='replace') as fh:
                    text += fh.read()
            except OSError:
                pass
        return text

    def stop(self):
        """Stops the main instance (the database and keys stay)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self):
        """Starts the main instance again on the same port."""
        self.stop()
        self.proc = self._spawn(self.conf, self.port, 'main')

    def extra_instance(self, name, expiration):
        """A second keystone-wsgi-public on the same database and keys, whose
        tokens expire after `expiration` seconds. Returns its URL."""
        conf = self._write_conf(name, expiration)
        port = free_port()
        proc = self._spawn(conf, port, name)
        self.extra.append(proc)
        return 'http://127.0.0.1:%d' % port

    def cleanup(self):
        self.stop()
        for p in self.extra:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- the openstack CLI -------------------------------------------------

    def cli_env(self, user='admin', auth_url=None):
        project = USERS[user][0]
        return clean_env({
            'OS_AUTH_URL': (auth_url or self.url) + '/v3',
            'OS_IDENTITY_API_VERSION': '3',
            'OS_USERNAME': user,
            'OS_PASSWORD': self.passwords[user],
            'OS_PROJECT_NAME': project,
            'OS_USER_DOMAIN_NAME': 'Default',
            'OS_PROJECT_DOMAIN_NAME': 'Default',
            'OS_REGION_NAME': 'RegionOne',
            'OS_INTERFACE': 'public',
        })

    def run_cli(self, *args, user='admin', stdin=None, timeout=120):
        return subprocess.run([OPENSTACK] + list(args), env=self.cli_env(user),
                              input=stdin, capture_output=True, text=True, timeout=timeout)

    def create_identities(self):
        """Projects, users and role assignments of USERS, and the network
        service, in one run of the CLI's interactive shell (one login)."""
        cmds = ['role create service -f json', 'role create qhv-agent -f json']
        for project in ('service', 'demo', 'alt'):
            cmds.append('project create --domain default %s -f json' % project)
        for user, (project, role) in USERS.items():
            if user == 'admin':
                continue
            cmds.append('user create --domain default --password %s %s -f json'
                        % (self.passwords[user], user))
            cmds.append('role add --project %s --user %s %s' % (project, user, role))
        cmds.append('service create --name neutron network -f json')
        r = self.run_cli(stdin='\n'.join(cmds) + '\n')
        docs = []
        dec = json.JSONDecoder()
        text, pos = r.stdout, 0
        while True:
            m = re.compile(r'\s*').match(text, pos)
            pos = m.end()
            if pos >= len(text):
                break
            try:
                doc, pos = dec.raw_decode(text, pos)
            except ValueError:
                # Interactive prompts or blank output: skip one line.
                nl = text.find('\n', pos)
                if nl < 0:
                    break
                pos = nl + 1
                continue
            docs.append(doc)
        for d in docs:
            if isinstance(d, dict) and 'id' in d and 'name' in d:
                kind = ('service' if 'type' in d else 'user' if 'password_expires_at' in d
                        else 'project' if 'is_domain' in d else 'role')
                self.ids['%s:%s' % (kind, d['name'])] = d['id']
        want = ['role:service', 'role:qhv-agent', 'user:qhv-agent-kh1', 'user:shared-agent',
                'project:service', 'project:demo', 'project:alt',
                'user:neutron', 'user:demo', 'user:reader', 'user:alt', 'user:weak',
                'service:neutron']
        missing = [w for w in want if w not in self.ids]
        if missing or r.returncode != 0 or r.stderr.strip():
            raise RuntimeError('openstack (identities): exit %d, missing %s\nstderr: %s\n'
                               'stdout: %s' % (r.returncode, missing, r.stderr[-2000:],
                                               r.stdout[-2000:]))
        self.ids['project:admin'] = self.token_body('admin')['project']['id']

    def add_network_endpoint(self, url):
        """Registers url as the catalog's public network endpoint (RegionOne)."""
        r = self.run_cli('endpoint', 'create', '--region', 'RegionOne', 'network', 'public',
                         url, '-f', 'json')
        if r.returncode != 0:
            raise RuntimeError('openstack endpoint create: %s' % r.stderr[-2000:])
        return json.loads(r.stdout)['id']

    # --- tokens over REST --------------------------------------------------

    def _auth(self, user, scope, auth_url=None):
        body = {'auth': {'identity': {'methods': ['password'], 'password': {'user': {
            'name': user, 'domain': {'name': 'Default'}, 'password': self.passwords[user]}}}}}
        if scope is not None:
            body['auth']['scope'] = scope
        req = urllib.request.Request(
            (auth_url or self.url) + '/v3/auth/tokens?nocatalog', method='POST',
            data=json.dumps(body).encode(), headers={'Content-Type': 'application/json'})
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.headers['X-Subject-Token'], json.loads(r.read())['token']

    def token_and_body(self, user, auth_url=None):
        """A project-scoped token of user (on its project in USERS)."""
        scope = {'project': {'name': USERS[user][0], 'domain': {'name': 'Default'}}}
        return self._auth(user, scope, auth_url)

    def token(self, user, auth_url=None):
        return self.token_and_body(user, auth_url)[0]

    def token_body(self, user):
        return self.token_and_body(user)[1]

    def system_token(self, user='admin'):
        """A system-scoped token (not scoped to a project)."""
        return self._auth(user, {'system': {'all': True}})[0]

    def unscoped_token(self, user):
        return self._auth(user, None)[0]

    def revoke(self, token):
        """Revokes token (DELETE /v3/auth/tokens as admin)."""
        req = urllib.request.Request(self.url + '/v3/auth/tokens', method='DELETE', headers={
            'X-Auth-Token': self.token('admin'), 'X-Subject-Token': token})
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 204, r.status
