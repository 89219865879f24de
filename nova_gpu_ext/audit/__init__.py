"""Audit of the nova cell databases' ``pci_devices`` table.

Failed migrations, evacuations and resizes can leave devices ``allocated``
or ``claimed`` for instances that are gone or run elsewhere; the scheduler
then never sees those GPUs again. This package finds such rows and, on
request, frees them after writing a backup. It talks to the databases with
SQLAlchemy Core only, so it runs without nova importable.
"""


class AuditError(Exception):
    """The audit cannot go on: the message names what and how to fix it."""
