"""Sphinx configuration of the nova_gpu_ext documentation."""

project = 'nova_gpu_ext'
copyright = 'nova_gpu_ext developers'
extensions = [
    'oslo_config.sphinxext',
    'reno.sphinxext',
]
master_doc = 'index'
exclude_patterns = []
html_theme = 'alabaster'
pygments_style = 'sphinx'
