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
``self.app.client_manager.gpu``.
"""

from nova_gpu_ext.admin.cloud import connect

API_NAME = 'gpu'
API_VERSION_OPTION = 'os_gpu_api_version'
DEFAULT_API_VERSION = '1'
# Not an API of its own: the commands use the compute API and Placement
# through openstacksdk, so there is one version of the command set.
API_VERSIONS = ('1',)


def make_client(instance):
    """openstackclient's openstacksdk connection, with a deadline.

    openstackclient leaves requests without a timeout unless the cloud's
    ``api_timeout`` sets one; ours then get
    :data:`~nova_gpu_ext.admin.cloud.connect.DEFAULT_TIMEOUT`, as a
    deadline for all the command's requests. Our commands are not
    ``auth_required``, so openstackclient asks for no token before: the
    token request is one of them.
    """
    connection = instance.sdk_connection
    connect.bound(connection.session)
    return connection


def build_option_parser(parser):
    """No options of our own: openstackclient's are all the commands need."""
    return parser
