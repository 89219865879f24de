"""The pure GPU core.

Nothing in this package imports nova or reads the global oslo.config
``CONF``: the Nova adapters translate Nova objects into the plain values
used here, so every decision can be tested (and reasoned about) without a
Nova installation.
"""
