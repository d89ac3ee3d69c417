"""Built-in workloads: one file each, registered by name in ``registry``."""
