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

"""The one test base of the project's own tests.

``TestCase`` is oslotest's base (fixtures, timeouts from
``OS_TEST_TIMEOUT``, output and log capture as tox sets them); tests of
the nova adapters use nova's own ``nova.test.NoDBTestCase`` instead, which
brings nova's fixtures. ``ROOT`` is the checkout, for the files the tests
compare with (samples, docs, example catalogs).
"""

import os

from oslotest import base

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ETC = os.path.join(ROOT, 'etc', 'nova-gpu-ext')
DOC = os.path.join(ROOT, 'doc', 'source')


class TestCase(base.BaseTestCase):
    """A unit test of nova_gpu_ext."""
