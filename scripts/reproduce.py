"""Reproduce the paper's protocol at any scale; same as the ``hpfree-reproduce`` command.

    python scripts/reproduce.py experiment=smoke
    python scripts/reproduce.py experiment=laptop num_points=16 report=docs/laptop-report
"""

from hpfree.cli.reproduce import main

if __name__ == "__main__":
    main()
