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

"""Sphinx configuration of the nova_gpu_ext documentation."""

project = 'nova_gpu_ext'
copyright = 'nova_gpu_ext developers'
extensions = [
    'cliff.sphinxext',
    'oslo_config.sphinxext',
    'reno.sphinxext',
]
# The command pages document each command's options from its parser;
# cliff's own output options are described once, in cli/index.
autoprogram_cliff_application = 'nova-gpu-ext'
autoprogram_cliff_ignored = [
    '--help', '--quote', '--noindent', '--max-width', '--fit-width',
    '--print-empty', '--sort-column', '--sort-ascending',
    '--sort-descending']
# Command help text names options such as --catalog: keep "--" as it is.
smartquotes_action = 'qe'

master_doc = 'index'
exclude_patterns = []
html_theme = 'alabaster'
pygments_style = 'sphinx'
