"""Hydra config groups for hpfree (packaged as ``hpfree.conf`` through a link)."""
