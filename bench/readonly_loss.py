#!/usr/bin/python3
"""Acknowledged writes lost when the database's filesystem turns read-only
under load, per [database] sqlite_synchronous (docs/operations.md).

As root: for each setting and round, an ext4 image mounted with
errors=remount-ro (a loop device) holds the database of a qhv-server; client
threads create networks; after a while ext4 is made to fail as on a disk
error (/sys/fs/ext4/DEV/trigger_fs_error: it turns read-only). The server is
killed (as a crash or a reboot would end it), the filesystem unmounted and
mounted again, and the networks acknowledged with 201 are looked for in what
is on disk.

    bench/readonly_loss.py SERVER [ROUNDS] [SECONDS_BEFORE_ERROR]
"""
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'api'))
import qhvtest  # noqa: E402

THREADS = 8


def run(*cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit('%s: %s' % (' '.join(cmd), r.stderr.strip()))
    return r.stdout.strip()


def one_round(mode, seconds):
    tmp = tempfile.mkdtemp(prefix='qhv-roloss-')
    mnt, image = os.path.join(tmp, 'mnt'), os.path.join(tmp, 'ext4.img')
    os.mkdir(mnt)
    with open(image, 'wb') as f:
        f.truncate(256 << 20)
    run('mkfs.ext4', '-q', image)
    run('mount', '-o', 'loop,errors=remount-ro', image, mnt)
    server = None
    try:
        dev = os.path.basename(run('findmnt', '-n', '-o', 'SOURCE', mnt))
        server = qhvtest.Server('[database]\nsqlite_synchronous = %s\n'
                                 '[quotas]\nquota_network = -1\n' % mode)
        with open(server.conf) as f:
            conf = f.read().replace('sqlite:///%s/qhv.sqlite' % server.dir,
                                    'sqlite:///%s/qhv.sqlite' % mnt)
        with open(server.conf, 'w') as f:
            f.write(conf)
        server.start()
        acked, stop = [], threading.Event()

        def load(t):
            c = qhvtest.Client(server.port)
            i = 0
            while not stop.is_set():
                try:
                    st, body = c.post('/v2.0/networks', {'network': {'name': 'l-%d-%d' % (t, i)}})
                except OSError:
                    continue
                if st == 201:
                    acked.append(body['network']['id'])
                i += 1

        threads = [threading.Thread(target=load, args=(t,)) for t in range(THREADS)]
        for t in threads:
            t.start()
        time.sleep(seconds)
        with open('/sys/fs/ext4/%s/trigger_fs_error' % dev, 'w') as f:
            f.write('qhv bench: filesystem error\n')
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join()
        server.proc.send_signal(signal.SIGKILL)
        server.stop()
        run('umount', mnt)
        run('mount', '-o', 'loop', image, mnt)
        db = sqlite3.connect(os.path.join(mnt, 'qhv.sqlite'))
        present = {r[0] for r in db.execute("SELECT id FROM resources WHERE kind='network'")}
        db.close()
        return len(acked), len([i for i in acked if i not in present])
    finally:
        if server:
            server.cleanup()
        subprocess.run(['umount', mnt], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    if len(sys.argv) < 2 or os.geteuid() != 0:
        sys.exit('usage (as root): bench/readonly_loss.py SERVER [ROUNDS] [SECONDS_BEFORE_ERROR]')
    qhvtest.SERVER = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 2.0
    for mode in ('NORMAL', 'FULL'):
        for r in range(rounds):
            n, lost = one_round(mode, seconds)
            print('%-6s round %d: %d of %d acknowledged creates lost' % (mode, r + 1, lost, n),
                  flush=True)


if __name__ == '__main__':
    main()
