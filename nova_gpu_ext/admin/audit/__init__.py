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

"""Audit of the nova cell databases' ``pci_devices`` table.

Failed migrations, evacuations and resizes can leave devices ``allocated``
or ``claimed`` for instances that are gone or run elsewhere; the scheduler
then never sees those GPUs again. This package finds such rows and, on
request, frees them after writing a backup. It talks to the databases
through the one database layer (:mod:`nova_gpu_ext.admin.database`),
SQLAlchemy Core only, so it runs without nova importable.

Its errors are the :mod:`nova_gpu_ext.exception` classes, each with its
exit status: the input cannot be used (nothing was changed), a database
could not be reached or timed out (nothing was changed), or something
failed after rows were changed (the message says which and where the
backup is).
"""
