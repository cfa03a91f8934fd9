"""The server when its database cannot be written: a real filesystem that
fills up (a small tmpfs) and one that turns read-only under the server (an
ext4 image mounted with errors=remount-ro, made to fail through
/sys/fs/ext4/DEV/trigger_fs_error, as a disk error would).

A write then gets 503 ServiceUnavailable saying why (SQLITE_FULL, or
SQLITE_IOERR with EROFS), not a generic 500, and changes nothing; reads keep
working, and a list of security groups answers what exists instead of failing
because it could not create the project's default group. Once space is back,
writes work again and the default group appears on the next list.

Needs root (mount); skips saying so otherwise.
"""
import errno
import os
import shutil
import subprocess
import tempfile
import unittest

import qhvtest

SG = '/v2.0/security-groups'
NETS = '/v2.0/networks'


def run(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def mount_or_skip(args, what):
    if os.geteuid() != 0:
        raise unittest.SkipTest('%s: needs root to mount a filesystem' % what)
    r = run('mount', *args)
    if r.returncode != 0:
        raise unittest.SkipTest('%s: mount %s is not permitted here: %s' % (
            what, ' '.join(args), r.stderr.strip()))


def fill(directory):
    """Writes a file until the filesystem has no byte left."""
    fd = os.open(os.path.join(directory, 'filler'), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 16, 4096, 1):
            chunk = b'\0' * size
            while True:
                try:
                    if os.write(fd, chunk) < size:
                        break
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)


@qhvtest.skip_on_postgresql('the filesystem of the SQLite file failing; PostgreSQL keeps its '
                            'own files, and its failures are the server going away')
class StorageCase(qhvtest.ServerTestCase):
    """A server whose database lives on cls.mnt, a filesystem mounted by
    mount_fs (the configuration and the log stay on the normal disk)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix='qhv-storage-')
        cls.mnt = os.path.join(cls.tmp, 'mnt')
        os.mkdir(cls.mnt)
        try:
            cls.mount_fs()
        except BaseException:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise
        try:
            cls.server = qhvtest.Server()
            with open(cls.server.conf) as f:
                conf = f.read().replace('sqlite:///%s/qhv.sqlite' % cls.server.dir,
                                        'sqlite:///%s/qhv.sqlite' % cls.mnt)
            with open(cls.server.conf, 'w') as f:
                f.write(conf)
            cls.server.start()
            cls.admin = qhvtest.Client(cls.server.port)
        except BaseException:
            cls.unmount()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.unmount()

    @classmethod
    def unmount(cls):
        server = getattr(cls, 'server', None)
        if server:
            server.stop()
        run('umount', cls.mnt)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def network_names(self):
        st, body = self.get(NETS)
        self.assertEqual(st, 200, body)
        return sorted(n['name'] for n in body['networks'])

    def assertStorageError(self, result, reason):
        err = self.assertError(result, 503, 'ServiceUnavailable', 'cannot be written')
        self.assertIn(reason, err['message'])


class DiskFull(StorageCase):

    @classmethod
    def mount_fs(cls):
        mount_or_skip(['-t', 'tmpfs', '-o', 'size=4M', 'tmpfs', cls.mnt], 'disk full')

    def test_full_disk(self):
        before = self.make_network(name='full-before')
        fill(self.mnt)
        # Writes may still fit where the database or its WAL already has
        # room; the first that needs more space fails.
        created = ['full-before']
        for i in range(2000):
            result = self.post(NETS, {'network': {'name': 'full-%d' % i}})
            if result[0] != 201:
                break
            created.append('full-%d' % i)
        self.assertStorageError(result, 'the disk is full')
        # The write that failed changed nothing; reads work.
        self.assertEqual(self.network_names(), sorted(created))
        st, body = self.get(NETS + '/' + before['id'])
        self.assertEqual(st, 200, body)
        # A project's first list creates its default group when it can; once
        # it cannot, the list answers what exists (nothing) instead of 503.
        for i in range(2000):
            project = 'full-project-%d' % i
            st, body = self.client(project).get(SG)
            self.assertEqual(st, 200, body)
            if not body['security_groups']:
                break
            self.assertEqual([g['name'] for g in body['security_groups']], ['default'])
        self.assertEqual(body['security_groups'], [])
        st, body = self.client(project).get(SG)
        self.assertEqual((st, body['security_groups']), (200, []))

        # Space is back: writes work again, the group appears on the next list.
        os.unlink(os.path.join(self.mnt, 'filler'))
        self.make_network(name='full-after')
        self.assertEqual(self.network_names(), sorted(created + ['full-after']))
        st, body = self.client(project).get(SG)
        self.assertEqual(st, 200, body)
        self.assertEqual([g['name'] for g in body['security_groups']], ['default'])


class ReadOnly(StorageCase):

    @classmethod
    def mount_fs(cls):
        if not shutil.which('mkfs.ext4'):
            raise unittest.SkipTest('read-only filesystem: mkfs.ext4 (e2fsprogs) is missing')
        image = os.path.join(cls.tmp, 'ext4.img')
        with open(image, 'wb') as f:
            f.truncate(16 << 20)
        r = run('mkfs.ext4', '-q', image)
        if r.returncode != 0:
            raise unittest.SkipTest('read-only filesystem: mkfs.ext4: ' + r.stderr.strip())
        mount_or_skip(['-o', 'loop,errors=remount-ro', image, cls.mnt],
                      'read-only filesystem (ext4 on a loop device)')
        dev = run('findmnt', '-n', '-o', 'SOURCE', cls.mnt).stdout.strip()
        cls.trigger = '/sys/fs/ext4/%s/trigger_fs_error' % os.path.basename(dev)
        if not os.path.exists(cls.trigger):
            run('umount', cls.mnt)
            raise unittest.SkipTest('read-only filesystem: this kernel has no ' + cls.trigger)

    def test_filesystem_turns_read_only(self):
        before = self.make_network(name='ro-before')
        names = self.network_names()
        # What ext4 does on a disk error with errors=remount-ro.
        with open(self.trigger, 'w') as f:
            f.write('qhv test: filesystem error\n')
        with open('/proc/mounts') as f:
            self.assertIn('emergency_ro', [l for l in f if self.mnt in l][0])

        self.assertStorageError(self.post(NETS, {'network': {'name': 'ro-1'}}),
                                'the filesystem is read-only')
        self.assertStorageError(self.put(NETS + '/' + before['id'],
                                         {'network': {'name': 'ro-renamed'}}),
                                'the filesystem is read-only')
        self.assertEqual(self.network_names(), names)
        st, body = self.get(NETS + '/' + before['id'])
        self.assertEqual((st, body['network']['name']), (200, 'ro-before'))
        # The list answers what exists without the default group it cannot
        # create, as often as asked.
        for _ in range(2):
            st, body = self.client('ro-project').get(SG)
            self.assertEqual((st, body['security_groups']), (200, []))


@unittest.skipUnless(qhvtest.on_postgresql(), 'the PostgreSQL counterpart of the above')
class DatabaseUnavailable(qhvtest.ServerTestCase):
    """On PostgreSQL the storage that fails is the database server: stopped
    or crashed under qhv-server, writes get 503 saying so and change nothing,
    and once it is back the server works again without a restart, every
    acknowledged write kept (the cluster runs with fsync on)."""
    wait_timeout = 120.0

    def assertUnavailable(self, result):
        self.assertError(result, 503, 'ServiceUnavailable', 'The database is unavailable')

    def back(self, name):
        """Waits until a write works again; its network."""
        got = {}

        def write():
            st, body = self.post(NETS, {'network': {'name': name}})
            if st == 201:
                got['net'] = body['network']
                return True
            self.assertUnavailable((st, body))
            return False
        self.wait_for('writes to work again', write, self.server.read_log)
        return got['net']

    def test_stopped_then_started(self):
        pg = qhvtest.pg_cluster()
        self.assertEqual(self.post(NETS, {'network': {'name': 'pg-before'}})[0], 201)
        pg.stop('fast')
        try:
            self.assertUnavailable(self.post(NETS, {'network': {'name': 'pg-during'}}))
            self.assertUnavailable(self.get(NETS))
        finally:
            pg.start()
        self.back('pg-after')
        self.assertEqual(sorted(n for n in self.network_names() if n.startswith('pg-')),
                         ['pg-after', 'pg-before'])

    def test_crash_keeps_acknowledged_writes(self):
        pg = qhvtest.pg_cluster()
        acked = []
        for i in range(20):
            st, body = self.post(NETS, {'network': {'name': 'crash-%d' % i}})
            self.assertEqual(st, 201, body)
            acked.append(body['network']['name'])
        pg.kill()
        try:
            self.assertUnavailable(self.post(NETS, {'network': {'name': 'crash-during'}}))
        finally:
            pg.start()          # crash recovery replays the WAL
        self.back('crash-after')
        names = [n for n in self.network_names() if n.startswith('crash-')]
        self.assertEqual(sorted(names), sorted(acked + ['crash-after']))

    def network_names(self):
        st, body = self.get(NETS)
        self.assertEqual(st, 200, body)
        return sorted(n['name'] for n in body['networks'])


if __name__ == '__main__':
    unittest.main()
