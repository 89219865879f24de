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

"""pci-audit output: a table for people, JSON for scripts."""

import json

COLUMNS = (('HOST', 'host'), ('ADDRESS', 'address'), ('MODEL', 'model'),
           ('STATUS', 'status'), ('INSTANCE', 'instance_uuid'),
           ('WHY', 'why'))

RESTART_ADVICE = ('Restart nova-compute on these hosts so their resource '
                  'trackers reload the devices:')


def as_dict(finding, skip_reason=None):
    entry = {'cell': finding.cell, 'host': finding.host,
             'node': finding.node, 'id': finding.device['id'],
             'address': finding.device['address'], 'model': finding.model,
             'status': finding.device['status'],
             'instance_uuid': finding.device['instance_uuid'],
             'request_id': finding.device['request_id'],
             'kind': finding.kind, 'why': finding.why}
    if skip_reason:
        entry['skip_reason'] = skip_reason
    return entry


def payload(action, found, outcome=None, backup=None):
    """Everything a run has to say, as plain data (the JSON output)."""
    data = {'action': action, 'findings': [as_dict(f) for f in found]}
    if outcome is not None:
        data.update(
            backup=backup,
            changed=[as_dict(f) for f in outcome.changed],
            skipped=[as_dict(f, why) for f, why in outcome.skipped],
            restart_nova_compute=outcome.restart_hosts)
    return data


def render(data, fmt):
    if fmt == 'json':
        return json.dumps(data, indent=2, sort_keys=True)
    return '\n'.join(_text(data))


def _text(data):
    action, found = data['action'], data['findings']
    if action == 'report':
        yield from _table(found, COLUMNS)
        yield (f'Dry run, nothing changed: {len(found)} stale rows; '
               '--apply frees them after writing a backup.' if found
               else 'No stale pci_devices rows.')
        return
    if action == 'apply':
        yield from _table(found, COLUMNS)
        yield f"Backup of {len(found)} rows: {data['backup']}"
    verb = 'Freed' if action == 'apply' else 'Restored'
    yield f"{verb} {len(data['changed'])} rows."
    if data['skipped']:
        yield f"Skipped {len(data['skipped'])} rows:"
        yield from _table(data['skipped'],
                          COLUMNS[:-1] + (('REASON', 'skip_reason'),))
    if data['restart_nova_compute']:
        yield RESTART_ADVICE
        yield from (f'  {host}' for host in data['restart_nova_compute'])


def _table(rows, columns):
    if not rows:
        return
    cells = [[title for title, _ in columns]] + [
        [str(row[key] or '-') for _, key in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells)
              for i in range(len(columns))]
    for line in cells:
        yield '  '.join(c.ljust(w) for c, w in zip(line, widths)).rstrip()
