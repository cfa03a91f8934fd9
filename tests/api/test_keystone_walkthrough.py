"""docs/security.md's "Keystone on loopback, step by step" works as written:
its shell blocks (between the walkthrough markers) run in one bash, on a
fresh Keystone and qhv-server, with only the ports, the lab directory and
the server's path replaced; then each project sees its own network only."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import textwrap
import unittest

import keystone_fixture
import qhvtest

DOC = os.path.join(os.path.dirname(__file__), '..', '..', 'docs', 'security.md')


def walkthrough():
    with open(DOC) as f:
        text = f.read()
    m = re.search(r'<!-- walkthrough:begin -->(.*?)<!-- walkthrough:end -->', text, re.S)
    if not m:
        raise AssertionError('docs/security.md has no walkthrough markers')
    blocks = re.findall(r'^( *)```sh\n(.*?)^\1```', m.group(1), re.S | re.M)
    return [textwrap.dedent(b) for _, b in blocks]


class KeystoneWalkthrough(unittest.TestCase):

    def setUp(self):
        keystone_fixture.check_installed()
        self.dir = tempfile.mkdtemp(prefix='qhv-walk-')
        self.proc = None

    def tearDown(self):
        if self.proc:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self.proc.wait()
            self.proc.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_steps_as_written(self):
        blocks = walkthrough()
        self.assertEqual(len(blocks), 7)
        ks_port, api_port = keystone_fixture.free_port(), qhvtest.free_port()
        lab = os.path.join(self.dir, 'lab')
        script = '\n'.join(blocks)
        for old, new in (('127.0.0.1:5000', '127.0.0.1:%d' % ks_port),
                         ('--port 5000', '--port %d' % ks_port),
                         ('127.0.0.1:9696', '127.0.0.1:%d' % api_port),
                         ('bind_port = 9696', 'bind_port = %d' % api_port),
                         ('/var/lib/qhv-lab', lab),
                         ('build/src/qhv-server', qhvtest.SERVER)):
            self.assertIn(old, script)
            script = script.replace(old, new)
        # The lab's background servers are this session's: tearDown ends them.
        script = 'set -e\n' + script + '\n'
        env = keystone_fixture.clean_env()
        self.proc = subprocess.Popen(['/bin/bash', '-c', script + 'sleep 3600\n'], env=env,
                                     cwd=self.dir, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        out = []
        for line in self.proc.stdout:       # until the script reaches its final sleep
            out.append(line)
            if line.strip() == '401':
                break
        text = ''.join(out)
        self.assertIsNone(self.proc.poll(), 'the walkthrough failed:\n' + text[-4000:])
        self.assertRegex(text, r'\n401\n?$')
        lines = text.split('\n')
        # demo's list, alt's list, the admin's list: the three list commands.
        self.assertIn('demo-net', lines)
        self.assertIn('alt-net', lines)
        names = [ln for ln in lines if ln in ('demo-net', 'alt-net')]
        self.assertEqual(names[:2], ['demo-net', 'alt-net'], text[-3000:])
        self.assertEqual(sorted(names[2:]), ['alt-net', 'demo-net'], text[-3000:])
        # Step 4 again changes nothing: one network service, three endpoints.
        env.update(OS_AUTH_URL='http://127.0.0.1:%d/v3' % ks_port, OS_IDENTITY_API_VERSION='3',
                   OS_USERNAME='admin', OS_PASSWORD='admin-secret', OS_PROJECT_NAME='admin',
                   OS_USER_DOMAIN_NAME='Default', OS_PROJECT_DOMAIN_NAME='Default',
                   OS_REGION_NAME='RegionOne')
        step4 = blocks[3].replace('127.0.0.1:9696', '127.0.0.1:%d' % api_port)
        r = subprocess.run(['/bin/bash', '-ec', step4], env=env, capture_output=True, text=True,
                           timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = subprocess.run([keystone_fixture.OPENSTACK, 'endpoint', 'list', '--service',
                            'network', '-f', 'value', '-c', 'URL'], env=env,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.stdout.split(), ['http://127.0.0.1:%d' % api_port] * 3, r.stderr)


if __name__ == '__main__':
    unittest.main()
