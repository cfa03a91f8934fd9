"""Debian's real Nova metadata API (nova-metadata-wsgi, python3-nova) on a
loopback port, with SQLite and no message bus, for the network node's
metadata proxy to talk to. It calls back into the Networking API under test
(qhv-server) for an instance's ports, with no token (auth_type = none).

    nova = novameta.start(workdir, 'http://127.0.0.1:9696', secret)   # None if not here
    nova.make_instance(uuid, project)
    nova.stop()
"""
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'api'))
import qhvtest  # noqa: E402

PY = '/usr/bin/python3'
WSGI = '/usr/bin/nova-metadata-wsgi'
MANAGE = '/usr/bin/nova-manage'
# nova-common installs it under /usr/share and its postinst copies it to /etc.
PASTE = next((p for p in ('/etc/nova/api-paste.ini', '/usr/share/nova-common/api-paste.ini')
              if os.path.exists(p)), '/etc/nova/api-paste.ini')

WHY_NOT = None
for _f in (WSGI, MANAGE, PASTE):
    if not os.path.exists(_f):
        WHY_NOT = '%s is missing (Debian package nova-common)' % _f
        break

CONF = """[DEFAULT]
host = qhv-compute
transport_url = fake://
state_path = {d}/state
log_dir = {d}/log
[api]
auth_strategy = noauth2
metadata_cache_expiration = 0
[api_database]
connection = sqlite:///{d}/state/nova_api.sqlite
[database]
connection = sqlite:///{d}/state/nova.sqlite
[oslo_concurrency]
lock_path = {d}/lock
[neutron]
service_metadata_proxy = true
metadata_proxy_shared_secret = {secret}
auth_type = none
endpoint_override = {neutron}
"""

MKINSTANCE = """import sys
from nova import config, context, objects
from nova.network import model as nm
conf, inst_uuid, project = sys.argv[1:4]
config.parse_args([sys.argv[0], '--config-file', conf]); objects.register_all()
ctxt = context.get_admin_context()
cell = next(c for c in objects.CellMappingList.get_all(ctxt) if not c.is_cell0())
flavor = objects.Flavor(id=1, flavorid='1', name='m1.tiny', memory_mb=512, vcpus=1, root_gb=1,
                        ephemeral_gb=0, swap=0, rxtx_factor=1.0, vcpu_weight=0, disabled=False,
                        is_public=True, extra_specs={}, projects=[])
with context.target_cell(ctxt, cell) as cctxt:
    objects.Instance(context=cctxt, uuid=inst_uuid, project_id=project, user_id='qhv-user',
        display_name='vm-' + inst_uuid[:8], hostname='vm-' + inst_uuid[:8], host='qhv-compute',
        node='qhv-compute', launched_on='qhv-compute', availability_zone='nova',
        vm_state='active', power_state=1, task_state=None, instance_type_id=1, flavor=flavor,
        old_flavor=None, new_flavor=None, memory_mb=512, vcpus=1, root_gb=1, ephemeral_gb=0,
        metadata={}, system_metadata={},
        info_cache=objects.InstanceInfoCache(network_info=nm.NetworkInfo([]))).create()
objects.InstanceMapping(ctxt, instance_uuid=inst_uuid, cell_mapping=cell,
                        project_id=project, user_id='qhv-user').create()
"""


class Nova:
    def __init__(self, workdir, neutron_url, secret):
        self.dir = os.path.join(workdir, 'nova')
        for d in ('etc', 'state', 'log', 'lock'):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        self.conf = os.path.join(self.dir, 'etc', 'nova.conf')
        with open(self.conf, 'w') as f:
            f.write(CONF.format(d=self.dir, secret=secret, neutron=neutron_url))
        shutil.copy(PASTE, os.path.join(self.dir, 'etc', 'api-paste.ini'))
        self.port = qhvtest.free_port()
        self.proc = None

    def manage(self, *args):
        r = subprocess.run([PY, MANAGE, '--config-file', self.conf] + list(args),
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise RuntimeError('nova-manage %s: %s' % (' '.join(args), r.stderr[-2000:]))

    def setup(self):
        st = os.path.join(self.dir, 'state')
        self.manage('api_db', 'sync')
        self.manage('cell_v2', 'map_cell0', '--database_connection',
                    'sqlite:///%s/nova_cell0.sqlite' % st)
        self.manage('cell_v2', 'create_cell', '--name', 'cell1', '--transport-url', 'fake://',
                    '--database_connection', 'sqlite:///%s/nova.sqlite' % st)
        self.manage('db', 'sync')

    def start(self):
        log = open(os.path.join(self.dir, 'log', 'metadata.out'), 'ab')
        env = dict(os.environ, OS_NOVA_CONFIG_DIR=os.path.join(self.dir, 'etc'))
        self.proc = subprocess.Popen([PY, WSGI, '--host', '127.0.0.1', '--port', str(self.port)],
                                    stdout=log, stderr=log, env=env)
        log.close()
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('nova-metadata-wsgi exited: %s' % self.read_log()[-2000:])
            if qhvtest.listens(self.proc.pid, self.port):
                return self
            time.sleep(0.2)
        raise RuntimeError('nova-metadata-wsgi did not listen on %d; log: %s' % (
            self.port, self.read_log()[-2000:]))

    def read_log(self):
        try:
            with open(os.path.join(self.dir, 'log', 'metadata.out'), 'rb') as f:
                return f.read().decode(errors='replace')
        except OSError:
            return ''

    def make_instance(self, uuid, project):
        r = subprocess.run([PY, '-c', MKINSTANCE, self.conf, uuid, project], capture_output=True,
                           text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError('creating instance: %s' % r.stderr[-2000:])

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start(workdir, neutron_url, secret):
    """A running Nova metadata API, or None when Nova is not installed."""
    if WHY_NOT:
        return None
    n = Nova(workdir, neutron_url, secret)
    n.setup()
    return n.start()
