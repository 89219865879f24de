"""Benchmarks of nova_gpu_ext against nova's in-tree PCI scheduling.

Run with ``tox -e bench`` (or ``python -m benchmarks``); see
doc/source/benchmarks.rst for what each figure means.
"""
