"""nova-api plugins of nova_gpu_ext."""
