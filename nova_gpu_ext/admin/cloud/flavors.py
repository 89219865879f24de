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

"""Read nova's flavors and apply a sync plan, through openstacksdk."""

import typing as ty

from nova_gpu_ext.admin.cloud import connect
from nova_gpu_ext.admin import flavors
from nova_gpu_ext import exception


def existing(conn) -> list[flavors.Flavor]:
    """Every flavor, public and private, with its extra specs.

    ``is_public=none`` is nova's filter for "all" (admin only); the extra
    specs come with the list from microversion 2.61 on.
    """
    return [flavors.Flavor(
        name=f.name, vcpus=f.vcpus, ram=f.ram, disk=f.disk,
        ephemeral=f.ephemeral or 0, description=f.description or '',
        extra_specs=dict(f.extra_specs or {}), id=f.id)
        for f in conn.compute.flavors(details=True, is_public='none')]


def apply(conn, change: flavors.Change,
          done: list[str] | None = None) -> None:
    """Carry out one step of the plan; steps that change nothing are no-ops.

    nova cannot resize a flavor: RECREATE deletes it and creates it again.
    Each change nova made is appended to ``done`` as it happens.
    """
    done = [] if done is None else done
    action = change.action
    if action in (flavors.Action.DELETE, flavors.Action.RECREATE):
        conn.compute.delete_flavor(change.existing.id, ignore_missing=False)
        done.append(f'deleted {change.name} '
                    f'({change.existing.describe()})')
    if action in (flavors.Action.CREATE, flavors.Action.RECREATE):
        _create(conn, change.target)
        done.append(f'created {change.name}')
    elif action == flavors.Action.UPDATE:
        _update(conn, change)
        done.append(f'updated {change.name}')


def _create(conn, target: flavors.Flavor) -> None:
    """Create the flavor with all its extra specs, or leave nothing.

    A flavor without ``nova_gpu_ext:managed`` would not be ours on the next
    run, so a failure to set the extra specs deletes it again.
    """
    created = conn.compute.create_flavor(
        name=target.name, vcpus=target.vcpus, ram=target.ram,
        disk=target.disk, ephemeral=target.ephemeral,
        description=target.description, is_public=True)
    try:
        conn.compute.create_flavor_extra_specs(created,
                                               dict(target.extra_specs))
    except Exception:
        conn.compute.delete_flavor(created, ignore_missing=True)
        raise


def _update(conn, change: flavors.Change) -> None:
    if change.set_specs:
        conn.compute.create_flavor_extra_specs(change.existing.id,
                                               dict(change.set_specs))
    for key in change.unset_specs:
        conn.compute.delete_flavor_extra_specs_property(change.existing.id,
                                                        key)
    if change.description is not None:
        conn.compute.update_flavor(change.existing.id,
                                   description=change.description)


def sync(conn, changes: ty.Sequence[flavors.Change]) -> None:
    """Apply ``changes`` in order; stop at the first failure.

    :raises ChangedThenFailed: a step failed after nova had already
        changed flavors; the message lists those changes. A failure
        before any change is raised as it is (cloud errors as
        :mod:`nova_gpu_ext.exception` classes).
    """
    done = []
    for change in changes:
        try:
            with connect.errors(conn):
                apply(conn, change, done)
        except Exception as exc:
            # Whatever the failure, what was already changed is said.
            if not done:
                raise
            raise exception.ChangedThenFailed(
                f'{change.action.value} {change.name} failed: {exc}. '
                f'Already changed in nova: {"; ".join(done)}. The catalog '
                'still describes every flavor: fix the cause and run '
                'flavor sync again to finish') from exc
