"""The ``nova-gpu-ext`` command line."""
