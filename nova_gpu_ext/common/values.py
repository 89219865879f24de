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

"""Numbers an operator writes (counts, seconds), checked strictly.

Python's ``int()`` takes any Unicode digit (``'٣'`` is 3, ``'²'`` passes
``str.isdigit`` and then fails), and ``float()`` takes ``nan`` and
``inf``. An operator's count is ASCII digits within :data:`MAX_COUNT`,
a duration a finite number of seconds above 0; anything else is a
:class:`ValueError` whose text says what to write, for the caller to
wrap with the option or file it came from.
"""

import math

# The largest count accepted anywhere (GPUs per server, servers of a
# request, a count in a pci_stats pool): the largest clouds hold tens of
# thousands of GPUs, so a larger number is a typing error, and bounding it
# bounds the work and memory a count can ask for.
MAX_COUNT = 100_000

# Characters of an operator's value repeated in a message: enough to
# recognise it, not a screen of digits.
_SHOWN = 40


def shown(text: str) -> str:
    """``text`` quoted and escaped for a message, cut to :data:`_SHOWN`."""
    quoted = repr(str(text))
    if len(quoted) <= _SHOWN + 2:
        return quoted
    return f"{quoted[:_SHOWN + 1]}...{quoted[-1]}"


def count(text: str, *, minimum: int = 1, maximum: int = MAX_COUNT) -> int:
    """``text`` as a whole number from ``minimum`` to ``maximum``."""
    text = str(text).strip()
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f'{shown(text)} is not a whole number written in '
                         'the digits 0-9')
    # Compared as text first: int() of 10,000 digits is slow, or refused.
    if len(text.lstrip('0')) > len(str(maximum)) or not (
            minimum <= int(text) <= maximum):
        raise ValueError(f'{shown(text)} is not from {minimum} to {maximum}')
    return int(text)


def seconds(text: str) -> float:
    """``text`` as a finite number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (str(text).strip().isascii() and 0 < value < math.inf):
        raise ValueError(f'{shown(text)} is not a number of seconds above 0')
    return value
