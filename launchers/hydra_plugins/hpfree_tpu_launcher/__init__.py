"""hpfree's TPU launcher: a multirun or search fanned out over a pool of TPU VM pod slices.

``hydra/launcher=hpfree_tpu`` (or the preset ``launcher=tpu``) runs each job of a multirun
as a single ``hpfree-train`` run started on all workers of one slice at once — through
``gcloud compute tpus tpu-vm ssh NAME --worker=all`` or plain ssh — with at most one run per
slice at a time.  A run whose slice fails or is preempted resumes from its checkpoint on
another slice.  The machinery lives in :mod:`hpfree.tpu`; this package is the Hydra side
(config schema and the ``Launcher``).
"""
