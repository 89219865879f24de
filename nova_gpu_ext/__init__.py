"""GPU passthrough scheduling and tooling for OpenStack Nova."""
