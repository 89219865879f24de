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

"""Nova releases: what each one names the PCI options and what it lacks.

genconf writes the option names of the operator's release and refuses a
feature that release does not have, rather than emitting a line nova
would ignore or refuse to start with.
"""

import dataclasses

from nova_gpu_ext import exception

# Series names in order, newton (nova 14) to 2026.2 (nova 34).
RELEASES = (
    'newton', 'ocata', 'pike', 'queens', 'rocky', 'stein', 'train',
    'ussuri', 'victoria', 'wallaby', 'xena', 'yoga', 'zed',
    '2023.1', '2023.2', '2024.1', '2024.2', '2025.1', '2025.2',
    '2026.1', '2026.2',
)
NEWEST = RELEASES[-1]

# Code names of the year-numbered series, accepted for --nova-release.
CODENAMES = {
    'antelope': '2023.1', 'bobcat': '2023.2', 'caracal': '2024.1',
    'dalmatian': '2024.2', 'epoxy': '2025.1', 'flamingo': '2025.2',
    'gazpacho': '2026.1', 'hibiscus': '2026.2',
}

# The names of nova's two PCI options over time: (section, option, first
# release with that name). Later names keep the earlier ones as deprecated
# aliases; an earlier release ignores a later name.
DEVICE_SPEC_NAMES = (('DEFAULT', 'pci_passthrough_whitelist', 'newton'),
                     ('pci', 'passthrough_whitelist', 'ocata'),
                     ('pci', 'device_spec', 'zed'))
ALIAS_NAMES = (('DEFAULT', 'pci_alias', 'newton'),
               ('pci', 'alias', 'ocata'))

# Feature -> (what the operator reads, first release that has it).
FEATURES = {
    'numa_policy': ('the alias numa_policy', 'queens'),
    'numa_policy_socket': ('numa_policy "socket"', 'wallaby'),
    'resource_class': ('the device_spec resource_class tag', 'zed'),
    'traits': ('the device_spec traits tag', 'zed'),
    'placement': ('PCI in placement', '2023.1'),
    'managed': ('the device_spec managed tag', '2025.1'),
    'live_migratable': ('live_migratable on device_spec and alias',
                        '2025.1'),
    'gpu_scheduler': ('the nova_gpu_ext scheduler filter and weigher '
                      '(nova_gpu_ext runs in nova 34 only)', '2026.2'),
}


class ReleaseError(exception.BadInput):
    """An unknown release name, or features the release lacks."""


@dataclasses.dataclass(frozen=True, order=True)
class Release:
    """A nova release series; ordered oldest first."""

    index: int
    name: str

    def has(self, feature: str) -> bool:
        return self >= parse(FEATURES[feature][1])

    @property
    def device_spec_option(self) -> tuple[str, str]:
        """(section, option) of the device spec; renamed in Ocata and Zed."""
        return self.name_of(DEVICE_SPEC_NAMES)

    @property
    def alias_option(self) -> tuple[str, str]:
        """(section, option) of the alias; moved to [pci] in Ocata."""
        return self.name_of(ALIAS_NAMES)

    def name_of(self, names) -> tuple[str, str]:
        """The (section, option) this release calls an option of ``names``."""
        known = [(section, option) for section, option, first in names
                 if self >= parse(first)]
        return known[-1]

    def knows(self, names, section: str, option: str) -> bool:
        """Whether this release reads ``[section] option`` of ``names``."""
        return any((section, option) == (s, o) and self >= parse(first)
                   for s, o, first in names)


def parse(name: str) -> Release:
    """The release called ``name`` (series or code name, any case)."""
    key = str(name).strip().lower()
    key = CODENAMES.get(key, key)
    if key not in RELEASES:
        raise ReleaseError(
            f'unknown nova release "{name}"; use one of '
            f'{", ".join(RELEASES)} (or a code name such as antelope)')
    return Release(RELEASES.index(key), key)


def require(release: Release, features: set[str]) -> None:
    """Refuse the ``features`` the release lacks.

    The message names each one and its first release, so the operator
    knows what to upgrade to or what to drop from the catalog.
    """
    missing = sorted(f for f in features if not release.has(f))
    if missing:
        lacks = '; '.join(
            f'{FEATURES[f][0]} (first in {FEATURES[f][1]})'
            for f in missing)
        raise ReleaseError(f'nova {release.name} lacks {lacks}')
