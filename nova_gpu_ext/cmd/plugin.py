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

"""The ``openstack gpu`` plugin of openstackclient.

openstackclient finds this module through the ``openstack.cli.extension``
entry point and the commands through ``openstack.gpu.v1``; they are the
cloud command classes ``nova-gpu-ext`` runs too. Authentication, region,
interface, TLS and ``api_timeout`` come from openstackclient's options
and ``clouds.yaml``, as for every ``openstack`` command.

A new command is one class and one ``openstack.gpu.v1`` entry point
(``gpu_<words> = module:Class``); it reads its connection from
``connect.opened(self.app.client_manager)``.
"""

from keystoneauth1 import loading

from nova_gpu_ext.admin.cloud import connect

API_NAME = 'gpu'
API_VERSION_OPTION = 'os_gpu_api_version'
DEFAULT_API_VERSION = '1'
# Not an API of its own: the commands use the compute API and Placement
# through openstacksdk, so there is one version of the command set.
API_VERSIONS = ('1',)


def make_client(instance):
    """openstackclient's openstacksdk connection, with a deadline.

    Our commands do not make openstackclient authenticate before they run
    (``auth_required = False``: one that reads only the cell databases
    needs no credentials), so the credentials are checked and loaded here,
    when a command first talks to the cloud; missing ones fail as
    openstackclient's own check would. openstackclient leaves requests
    without a timeout unless the cloud's ``api_timeout`` sets one; ours
    then get :data:`~nova_gpu_ext.admin.cloud.connect.DEFAULT_TIMEOUT`,
    as a deadline for all the command's requests, the token request
    included.
    """
    region = instance._cli_options
    if region.get_auth() is None:
        plugin = loading.get_plugin_loader(region.config['auth_type'])
        # openstacksdk's CloudRegion has no public setter for the plugin
        # it skipped loading (get_one(validate=False)).
        region._auth = plugin.load_from_options(**region.config['auth'])
    instance._auth_required = True
    instance.setup_auth()
    connection = instance.sdk_connection
    connect.bound(connection.session)
    return connection


def build_option_parser(parser):
    """No options of our own: openstackclient's are all the commands need."""
    return parser
