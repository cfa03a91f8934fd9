"""A throwaway PostgreSQL cluster for tests (standard library only).

    import pgcluster
    c = pgcluster.Cluster().start()       # SkipTest if PostgreSQL is absent
    url = c.create_database('t1')         # postgresql://qhv:<pw>@127.0.0.1:<port>/t1
    c.psql('SELECT 1', 't1')              # as the superuser, over the unix socket
    c.stop('fast'); c.start(); c.restart(); c.kill()   # failures to test
    c.remove()                            # also done at exit, whatever happened

The server binaries come from $QHV_PG_BIN or the newest
/usr/lib/postgresql/*/bin. initdb refuses to run as root, so as root the
cluster runs as the system user `qhvpg` (created if missing; `nobody` if it
cannot be), which owns the temporary directory that holds the data and the
unix socket. TCP on 127.0.0.1 takes scram-sha-256 passwords (the URL the
server gets carries one, as in production); the unix socket trusts, for the
test's own psql. fsync stays on: the durability tests mean it.

Cleanup: remove() stops the cluster and deletes its directory; atexit calls
it for every cluster still there, and a small watchdog process does it when
the test process dies without running atexit (SIGKILL, ctest's timeout).
"""
import atexit
import glob
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

USER = 'qhvpg'
ROLE = 'qhv'


def find_bin():
    """The directory of initdb/pg_ctl/psql, or None."""
    env = os.environ.get('QHV_PG_BIN')
    cands = [env] if env else sorted(
        glob.glob('/usr/lib/postgresql/*/bin'),
        key=lambda p: [int(x) for x in re.findall(r'\d+', p)] or [0], reverse=True)
    for d in cands:
        if all(os.access(os.path.join(d, t), os.X_OK) for t in ('initdb', 'pg_ctl', 'psql')):
            return d
    return None


def require():
    """The bin directory, or unittest.SkipTest saying what is missing."""
    d = find_bin()
    if d is None:
        raise unittest.SkipTest(
            'PostgreSQL is not installed (no initdb/pg_ctl/psql in %s): apt-get install '
            'postgresql, or set QHV_PG_BIN' % (os.environ.get('QHV_PG_BIN')
                                                or '/usr/lib/postgresql/*/bin'))
    return d


def _run_user():
    """The unprivileged user the cluster runs as when we are root."""
    try:
        pwd.getpwnam(USER)
        return USER
    except KeyError:
        pass
    try:
        subprocess.run(['useradd', '-r', '-M', '-s', '/usr/sbin/nologin', USER],
                       check=True, capture_output=True)
        return USER
    except (OSError, subprocess.CalledProcessError):
        # Another test process may have created it meanwhile.
        try:
            pwd.getpwnam(USER)
            return USER
        except KeyError:
            return 'nobody'


def _free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


# Run by the watchdog process: waits for EOF on stdin (the test process has
# gone, or removed the cluster), then stops what is left and deletes it.
_WATCHDOG = r'''
import os, shutil, subprocess, sys
sys.stdin.buffer.read()
pg_ctl, data, top, user = sys.argv[1:5]
if os.path.exists(os.path.join(data, 'postmaster.pid')):
    cmd = [pg_ctl, '-D', data, 'stop', '-m', 'immediate', '-w']
    if user:
        cmd = ['runuser', '-u', user, '--'] + cmd
    subprocess.run(cmd, cwd=top, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
shutil.rmtree(top, ignore_errors=True)
'''

_live = set()


@atexit.register
def _remove_all():
    for c in list(_live):
        c.remove()


class Cluster:
    """One postgres instance in its own temporary directory."""

    def __init__(self, bindir=None):
        self.bin = bindir or require()
        self.user = _run_user() if os.geteuid() == 0 else None
        self.top = tempfile.mkdtemp(prefix='qhv-pg-')
        self.data = os.path.join(self.top, 'data')
        self.logfile = os.path.join(self.top, 'postgres.log')
        self.password = secrets.token_hex(16)
        self.port = None
        self.started = False
        self.databases = set()
        if self.user:
            pw = pwd.getpwnam(self.user)
            os.chown(self.top, pw.pw_uid, pw.pw_gid)
        os.chmod(self.top, 0o700)
        _live.add(self)
        self._watchdog = subprocess.Popen(
            [sys.executable, '-c', _WATCHDOG, self._tool('pg_ctl'), self.data, self.top,
             self.user or ''],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        self._initdb()

    def _tool(self, name):
        return os.path.join(self.bin, name)

    def _as_user(self, cmd, **kw):
        if self.user:
            cmd = ['runuser', '-u', self.user, '--'] + cmd
        kw.setdefault('capture_output', True)
        kw.setdefault('text', True)
        return subprocess.run(cmd, cwd=self.top, **kw)

    def _initdb(self):
        r = self._as_user([self._tool('initdb'), '-D', self.data, '-U', 'postgres', '-E', 'UTF8',
                           '--locale=C', '--auth-local=trust', '--auth-host=scram-sha-256'])
        if r.returncode != 0:
            raise RuntimeError('initdb failed (%d): %s%s' % (r.returncode, r.stdout, r.stderr))
        with open(os.path.join(self.data, 'postgresql.conf'), 'a') as f:
            # max_connections: every qhv-server holds one connection per
            # thread that uses the database; tests run several servers.
            f.write("\nlisten_addresses = '127.0.0.1'\n"
                    "unix_socket_directories = '%s'\n"
                    "fsync = on\nsynchronous_commit = on\n"
                    "max_connections = 300\nshared_buffers = 32MB\n"
                    "password_encryption = 'scram-sha-256'\n" % self.top)

    def start(self):
        """Starts it (pg_ctl -w waits until it accepts connections); a port
        taken between choosing and binding is retried with another one."""
        if self.started:
            return self
        fixed = self.port is not None
        for _ in range(1 if fixed else 5):
            port = self.port if fixed else _free_port()
            r = self._as_user([self._tool('pg_ctl'), '-D', self.data, '-l', self.logfile,
                               '-w', '-t', '120', '-o', '-p %d' % port, 'start'])
            if r.returncode == 0:
                self.port = port
                self.started = True
                if not getattr(self, '_role_made', False):
                    self.psql("CREATE ROLE %s LOGIN CREATEDB PASSWORD '%s'"
                              % (ROLE, self.password))
                    self._role_made = True
                return self
        raise RuntimeError('pg_ctl start failed: %s%s\nlog:\n%s' % (
            r.stdout, r.stderr, self.read_log()[-4000:]))

    def read_log(self):
        try:
            with open(self.logfile, errors='replace') as f:
                return f.read()
        except OSError:
            return ''

    def psql(self, sql, db='postgres', check=True):
        """Runs sql as the superuser over the unix socket; its output
        (unaligned, tuples only, '|' between columns)."""
        r = subprocess.run([self._tool('psql'), '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
                            '-h', self.top, '-p', str(self.port), '-U', 'postgres', '-d', db,
                            '-c', sql], capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError('psql %r on %s: %s' % (sql, db, r.stderr.strip()))
        return r.stdout if check else r

    def url(self, name):
        return 'postgresql://%s:%s@127.0.0.1:%d/%s' % (ROLE, self.password, self.port, name)

    def create_database(self, name):
        """A new empty database owned by the role qhv; its URL."""
        self.psql('CREATE DATABASE "%s" OWNER %s' % (name, ROLE))
        self.databases.add(name)
        return self.url(name)

    def drop_database(self, name):
        self.psql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
        self.databases.discard(name)

    def stop(self, mode='fast'):
        """pg_ctl stop -m smart|fast|immediate; waits until it has stopped."""
        if not self.started:
            return
        r = self._as_user([self._tool('pg_ctl'), '-D', self.data, 'stop', '-m', mode,
                           '-w', '-t', '120'])
        if r.returncode != 0:
            raise RuntimeError('pg_ctl stop failed: %s%s' % (r.stdout, r.stderr))
        self.started = False

    def restart(self, mode='fast'):
        """Stop then start, on the same port (clients' URLs stay valid)."""
        self.stop(mode)
        return self.start()

    def _pids(self):
        """The postmaster and its children."""
        try:
            with open(os.path.join(self.data, 'postmaster.pid')) as f:
                master = int(f.readline())
        except (OSError, ValueError):
            return []
        pids = [master]
        for d in os.listdir('/proc'):
            if d.isdigit():
                try:
                    with open('/proc/%s/stat' % d) as f:
                        stat = f.read()
                    if int(stat.rsplit(')', 1)[1].split()[1]) == master:
                        pids.append(int(d))
                except (OSError, ValueError, IndexError):
                    pass
        return pids

    def kill(self):
        """SIGKILL to the postmaster and every backend, as a crash: clients
        lose their connections at once. start() recovers it (WAL replay)."""
        pids = self._pids()
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        zombie = False
        for p in pids:      # not our children: watch /proc until they are gone
            while True:
                try:
                    with open('/proc/%d/stat' % p) as f:
                        if f.read().rsplit(')', 1)[1].split()[0] in 'ZX':
                            zombie = zombie or p == pids[0]
                            break
                except OSError:
                    break
                time.sleep(0.01)
        if zombie:
            # Dead but not yet reaped by init: its pid still "exists", so
            # postgres would refuse to start over its lock files.
            for lock in (os.path.join(self.data, 'postmaster.pid'),
                         os.path.join(self.top, '.s.PGSQL.%d.lock' % self.port)):
                try:
                    os.unlink(lock)
                except OSError:
                    pass
        self.started = False

    def remove(self):
        """Stops it (immediate) and deletes its directory. Idempotent."""
        if self not in _live:
            return
        try:
            if self.started:
                self.stop('immediate')
        except RuntimeError:
            self.kill()
        shutil.rmtree(self.top, ignore_errors=True)
        _live.discard(self)
        try:
            self._watchdog.stdin.close()   # EOF: the watchdog finds nothing left and exits
            self._watchdog.wait(60)
        except (OSError, subprocess.TimeoutExpired):
            pass


if __name__ == '__main__':
    # A manual check: start, create a database, connect over TCP with the password.
    c = Cluster().start()
    url = c.create_database('smoke')
    print(url)
    env = dict(os.environ, PGPASSWORD=c.password)
    print(subprocess.run([c._tool('psql'), '-X', '-At', '-h', '127.0.0.1', '-p', str(c.port),
                          '-U', ROLE, '-d', 'smoke', '-c', 'SELECT current_user, version()'],
                         env=env, capture_output=True, text=True))
    c.remove()
