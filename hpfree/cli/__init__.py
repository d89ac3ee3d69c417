"""Thin command-line entry points: train, status, resubmit, score."""
