"""Scheduling demonstrations on real nova objects (needs the nova extra)."""
