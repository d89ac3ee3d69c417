"""Running hpfree on TPU VM pod slices.

``slices`` (the pool's slice specs), ``remote`` (the shell script a worker runs),
``transport`` (gcloud's ``tpu-vm ssh --worker=all`` or plain ssh), ``pool`` (one run per
slice at a time, retries on another slice) and ``multihost`` (JAX's multi-host start-up
inside a run).  The Hydra plugin ``hydra_plugins.hpfree_tpu_launcher`` puts them together.
"""
