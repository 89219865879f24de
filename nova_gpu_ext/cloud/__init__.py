"""Cloud tools through openstacksdk (the ``cloud`` extra).

openstacksdk is imported only when a cloud command runs, so the scheduler
plugin installs and imports without it.
"""
