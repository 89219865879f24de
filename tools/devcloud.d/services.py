# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""``devcloud up`` and ``down``: the services, in dependency order.

MariaDB and RabbitMQ first, then the databases (``nova-manage``,
``placement-manage``), Placement and nova-api under gunicorn, the
Glance/Neutron stand-ins, nova-conductor, nova-scheduler (``[scheduler]
workers = 2``) and one nova-compute per fake host. ``up`` returns when
every service answers and every compute is mapped to cell1.
"""

import os
import shutil
import subprocess
import sys
import time

import cloud

RABBIT_ENV = {
    'HOME': cloud.path('rabbitmq'),
    'RABBITMQ_NODENAME': 'devcloud@localhost',
    'RABBITMQ_NODE_IP_ADDRESS': '127.0.0.1',
    'RABBITMQ_NODE_PORT': str(cloud.PORTS['rabbitmq']),
    'RABBITMQ_DIST_PORT': str(cloud.PORTS['rabbitmq-dist']),
    'RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS':
        '-kernel inet_dist_use_interface {127,0,0,1}',
    'ERL_EPMD_ADDRESS': '127.0.0.1',
    'ERL_EPMD_PORT': str(cloud.PORTS['epmd']),
    'RABBITMQ_MNESIA_BASE': cloud.path('rabbitmq', 'mnesia'),
    'RABBITMQ_LOG_BASE': cloud.path('rabbitmq', 'log'),
    'RABBITMQ_CONFIG_FILE': cloud.path('rabbitmq', 'rabbitmq'),
    'RABBITMQ_ENABLED_PLUGINS_FILE': cloud.path('rabbitmq', 'plugins'),
}
RABBITMQ = '/usr/lib/rabbitmq/bin'
TRANSPORT = f'rabbit://guest:guest@127.0.0.1:{cloud.PORTS["rabbitmq"]}/'


def _base_conf() -> str:
    """The nova.conf every nova service of the devcloud reads."""
    paste = cloud.path('etc', 'api-paste.ini')
    token_auth = ('auth_type = admin_token\ntoken = admin:admin\n')
    return f"""# devcloud: a test cloud on loopback, never a deployment
[DEFAULT]
transport_url = {TRANSPORT}
state_path = {cloud.path('nova')}
compute_driver = libvirt.LibvirtDriver
cpu_allocation_ratio = 16.0
ram_allocation_ratio = 4.0
heal_instance_info_cache_interval = -1
instance_build_timeout = 300
[api]
auth_strategy = noauth2
[wsgi]
api_paste_config = {paste}
[api_database]
connection = {cloud.db_url('nova_api')}
[database]
connection = {cloud.db_url('nova_cell1')}
[quota]
instances = -1
cores = -1
ram = -1
[scheduler]
workers = 2
discover_hosts_in_cells_interval = -1
[placement]
{token_auth}endpoint = {cloud.PLACEMENT_URL}
endpoint_override = {cloud.PLACEMENT_URL}
[glance]
endpoint_override = {cloud.STUBS_URL}/image
[neutron]
{token_auth}endpoint = {cloud.STUBS_URL}/network
endpoint_override = {cloud.STUBS_URL}/network
[oslo_concurrency]
lock_path = {cloud.path('nova', 'locks')}
[oslo_messaging_notifications]
driver = noop
[libvirt]
virt_type = kvm
"""


def _api_paste() -> str:
    """nova's api-paste.ini with the devcloud's noauth filter for Keystone."""
    with open(os.path.join(cloud.VENV, 'etc', 'nova', 'api-paste.ini')) as f:
        text = f.read()
    return text.replace(' authtoken ', ' devcloud_noauth ') + (
        '\n[filter:devcloud_noauth]\n'
        'paste.filter_factory = noauth:filter_factory\n')


def placement_mode() -> bool:
    """Whether ``up --placement`` started the cloud (PCI in placement)."""
    return os.path.exists(cloud.path('etc', 'pci-in-placement'))


def genconf(role: str) -> str:
    return cloud.run(f'genconf --role {role}', [
        os.path.join(cloud.BIN, 'nova-gpu-ext'), 'genconf',
        '--catalog', cloud.CATALOG, '--role', role] +
        (['--placement'] if placement_mode() else []))


def in_tree_scheduler_conf() -> str:
    """nova's own PCI scheduling: PciPassthroughFilter and PCIWeigher."""
    aliases = [line for line in genconf('controller').splitlines()
               if not line.startswith('[')]
    return '\n'.join([
        '# nova in-tree PCI scheduling (devcloud comparison run)',
        '[filter_scheduler]',
        'available_filters = nova.scheduler.filters.all_filters',
        f'enabled_filters = {cloud.IN_TREE_FILTERS}',
        'weight_classes = nova.scheduler.weights.all_weighers',
        f'pci_in_placement = {placement_mode()}',
        '[pci]'] + aliases) + '\n'


def write(name: str, text: str):
    os.makedirs(cloud.path('etc'), exist_ok=True)
    with open(cloud.path('etc', name), 'w') as f:
        f.write(text)
    return cloud.path('etc', name)


def write_configs():
    os.makedirs(cloud.path('nova', 'locks'), exist_ok=True)
    base = _base_conf()
    if placement_mode():
        # genconf --placement --role compute leaves it out, but
        # nova-compute refuses the class alias (no vendor and product id)
        # unless it runs with it too.
        base += '[filter_scheduler]\npci_in_placement = True\n'
    write('nova.conf', base)
    write('api-paste.ini', _api_paste())
    write('nova-controller.conf', genconf('controller'))
    write('nova-scheduler.conf', genconf('scheduler'))
    write('placement.conf', f"""[DEFAULT]
[api]
auth_strategy = noauth2
[placement_database]
connection = {cloud.db_url('placement')}
""")
    for host in cloud.COMPUTES:
        os.makedirs(cloud.path('nova-' + host), exist_ok=True)
        os.makedirs(cloud.path('instances', host), exist_ok=True)
        write(f'nova-compute-{host}.conf', genconf('compute') + f"""
[DEFAULT]
host = {host}
state_path = {cloud.path('nova-' + host)}
instances_path = {cloud.path('instances', host)}
""")


def start_mariadb():
    data = cloud.path('mariadb', 'data')
    os.makedirs(cloud.path('mariadb'), exist_ok=True)
    if not os.path.isdir(data):
        cloud.run('mariadb-install-db', [
            'mariadb-install-db', '--no-defaults', '--user=root',
            f'--datadir={data}', '--auth-root-authentication-method=socket',
            '--skip-test-db'])
    cloud.start('mariadb', [
        'mariadbd', '--no-defaults', '--user=root', f'--datadir={data}',
        f'--socket={cloud.SOCKET}', '--skip-networking',
        f'--log-error={cloud.path("logs", "mariadb.log")}',
        '--innodb-buffer-pool-size=256M', '--max-connections=1000'])
    cloud.wait_for('mariadb', lambda: subprocess.run(
        ['mariadb-admin', '--no-defaults', f'--socket={cloud.SOCKET}',
         '-u', 'root', 'ping'], capture_output=True).returncode == 0)


def create_databases():
    grants = []
    for db in ('nova_api', 'nova_cell0', 'nova_cell1', 'placement'):
        grants.append(f'CREATE DATABASE IF NOT EXISTS {db};')
        grants.append(f"GRANT ALL ON {db}.* TO 'nova'@'localhost';")
        if db != 'placement':
            grants.append(f"GRANT SELECT ON {db}.* TO "
                          f"'{cloud.RO_USER}'@'localhost';")
    cloud.sql(f"CREATE USER IF NOT EXISTS 'nova'@'localhost' IDENTIFIED BY "
              f"'{cloud.DB_PASSWORD}'; CREATE USER IF NOT EXISTS "
              f"'{cloud.RO_USER}'@'localhost' IDENTIFIED BY "
              f"'{cloud.RO_PASSWORD}'; " + ' '.join(grants))


def start_rabbitmq():
    os.makedirs(cloud.path('rabbitmq'), exist_ok=True)
    with open(cloud.path('rabbitmq', 'rabbitmq.conf'), 'w') as f:
        f.write(f'listeners.tcp.default = 127.0.0.1:'
                f'{cloud.PORTS["rabbitmq"]}\nloopback_users.guest = true\n')
    with open(cloud.path('rabbitmq', 'plugins'), 'w') as f:
        f.write('[].\n')
    cloud.start('rabbitmq', [os.path.join(RABBITMQ, 'rabbitmq-server')],
                env=RABBIT_ENV)
    cloud.wait_for('rabbitmq', lambda: subprocess.run(
        [os.path.join(RABBITMQ, 'rabbitmqctl'), '-n', 'devcloud@localhost',
         'await_startup'], env=dict(os.environ, **RABBIT_ENV),
        capture_output=True, timeout=30).returncode == 0, timeout=120)


def nova_manage(*args):
    return cloud.run('nova-manage ' + ' '.join(args), [
        os.path.join(cloud.BIN, 'nova-manage'), '--config-file',
        cloud.path('etc', 'nova.conf')] + list(args))


def sync_databases():
    cloud.run('placement-manage db sync', [
        os.path.join(cloud.BIN, 'placement-manage'), '--config-file',
        cloud.path('etc', 'placement.conf'), 'db', 'sync'])
    nova_manage('api_db', 'sync')
    if 'cell0' not in nova_manage('cell_v2', 'list_cells'):
        nova_manage('cell_v2', 'map_cell0', '--database_connection',
                    cloud.db_url('nova_cell0'))
    if 'cell1' not in nova_manage('cell_v2', 'list_cells'):
        nova_manage('cell_v2', 'create_cell', '--name', 'cell1')
    nova_manage('db', 'sync')


def gunicorn(name, app, port, env, workers=2):
    cloud.start(name, [
        os.path.join(cloud.BIN, 'gunicorn'), '--bind', f'127.0.0.1:{port}',
        '--workers', str(workers), '--timeout', '120',
        '--control-socket', cloud.path('pids', f'{name}.ctl'),
        '--access-logfile', '-', app],
        env=dict(env, PYTHONPATH=cloud.HERE))


def start_apis():
    etc = cloud.path('etc')
    gunicorn('placement', 'placement.wsgi:init_application()',
             cloud.PORTS['placement'], {'OS_PLACEMENT_CONFIG_DIR': etc})
    gunicorn('nova-api', 'nova_api_wsgi:application',
             cloud.PORTS['nova-api'], {
                 'OS_NOVA_CONFIG_DIR': etc,
                 # nova's WSGI app reads its paste pipeline from the first
                 'OS_NOVA_CONFIG_FILES':
                     'api-paste.ini;nova.conf;nova-controller.conf'})
    gunicorn('stubs', 'stubs:app', cloud.PORTS['stubs'], {}, workers=1)
    cloud.wait_for('placement', lambda: cloud.http_ok(cloud.PLACEMENT_URL))
    cloud.wait_for('nova-api', lambda: cloud.http_ok(cloud.NOVA_URL))
    cloud.wait_for('stubs', lambda: cloud.http_ok(
        cloud.STUBS_URL + '/network/v2.0/ports'))


def nova_service(name, binary, *conf_files):
    files = ['nova.conf'] + list(conf_files)
    argv = [os.path.join(cloud.BIN, binary)]
    for conf in files:
        argv += ['--config-file', cloud.path('etc', conf)]
    argv += ['--log-file', cloud.path('logs', f'{name}.service.log')]
    cloud.start(name, argv)


def start_compute(host):
    argv = [os.path.join(cloud.BIN, 'python'),
            os.path.join(cloud.HERE, 'compute.py'), cloud.COMPUTES[host],
            host]
    for conf in ('nova.conf', f'nova-compute-{host}.conf'):
        argv += ['--config-file', cloud.path('etc', conf)]
    argv += ['--log-file', cloud.path('logs', f'compute-{host}.service.log')]
    # nova's fake libvirt fixtures import eventlet, which nova-compute's
    # native threading mode forbids.
    cloud.start(f'compute-{host}', argv,
                env={'OS_NOVA_DISABLE_EVENTLET_PATCHING': 'false'})


def services_up(binary, hosts):
    """True when nova reports every HOST's BINARY service as up."""
    states = {s['host']: s['state'] for s in
              cloud.api_get('/os-services')['services']
              if s['binary'] == binary}
    return all(states.get(h) == 'up' for h in hosts)


def start_scheduler():
    nova_service('nova-scheduler', 'nova-scheduler', 'nova-scheduler.conf')


def start_nova():
    nova_service('nova-conductor', 'nova-conductor')
    start_scheduler()
    for host in cloud.COMPUTES:
        start_compute(host)
    me = os.uname().nodename
    cloud.wait_for('nova-conductor',
                   lambda: services_up('nova-conductor', [me]))
    cloud.wait_for('nova-scheduler',
                   lambda: services_up('nova-scheduler', [me]))
    for host in cloud.COMPUTES:
        cloud.wait_for(f'compute-{host}',
                       lambda: services_up('nova-compute', [host]))


def mapped_hosts() -> set:
    return set(cloud.sql('SELECT host FROM host_mappings',
                         'nova_api').split())


def discover_hosts(timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        nova_manage('cell_v2', 'discover_hosts')
        if set(cloud.COMPUTES) <= mapped_hosts():
            return
        time.sleep(2)
    missing = sorted(set(cloud.COMPUTES) - mapped_hosts())
    raise cloud.StartFailed(f'computes not mapped to cell1 within '
                            f'{timeout:.0f} s: {", ".join(missing)}')


def up(placement=False):
    running = [name for name in ORDER + ['rabbitmq', 'mariadb']
               if cloud.alive(cloud.pid_of(name))]
    if running:
        raise cloud.StartFailed(f'already running: {", ".join(running)}; '
                                f'run "tools/devcloud down" first')
    if shutil.which('mariadbd') is None:
        raise cloud.StartFailed('mariadbd not found: apt-get install '
                                'mariadb-server')
    if not os.path.exists(os.path.join(RABBITMQ, 'rabbitmq-server')):
        raise cloud.StartFailed('rabbitmq-server not found: apt-get install '
                                'rabbitmq-server')
    shutil.rmtree(cloud.path('logs'), ignore_errors=True)
    shutil.rmtree(cloud.path('etc'), ignore_errors=True)
    if placement:
        write('pci-in-placement', '')
    write_configs()
    start_mariadb()
    create_databases()
    start_rabbitmq()
    sync_databases()
    start_apis()
    start_nova()
    discover_hosts()


ORDER = (['compute-' + h for h in cloud.COMPUTES] +
         ['nova-scheduler', 'nova-conductor', 'stubs', 'nova-api',
          'placement'])


def down():
    for name in ORDER:
        cloud.stop(name)
    if cloud.pid_of('rabbitmq'):
        subprocess.run([os.path.join(RABBITMQ, 'rabbitmqctl'), '-n',
                        'devcloud@localhost', 'stop'],
                       env=dict(os.environ, **RABBIT_ENV),
                       capture_output=True, timeout=60)
        cloud.stop('rabbitmq')
        subprocess.run(['epmd', '-port', str(cloud.PORTS['epmd']), '-kill'],
                       capture_output=True, timeout=10)
    cloud.stop('mariadb')
    print('devcloud: stopped', file=sys.stderr)


def switch_scheduler(engine: str):
    """Restart nova-scheduler with ours or nova's in-tree PCI scheduling."""
    write('nova-scheduler.conf', genconf('scheduler') if engine == 'ours'
          else in_tree_scheduler_conf())
    cloud.stop('nova-scheduler')
    before = _scheduler_updated()
    start_scheduler()
    cloud.wait_for('nova-scheduler',
                   lambda: _scheduler_updated() != before and
                   services_up('nova-scheduler', [os.uname().nodename]))
    # Both workers listen once the parent logged them started.
    time.sleep(3)
    print(f'devcloud: nova-scheduler restarted with {engine} PCI '
          f'scheduling', file=sys.stderr)


def _scheduler_updated():
    return [s['updated_at'] for s in cloud.api_get('/os-services')['services']
            if s['binary'] == 'nova-scheduler']
