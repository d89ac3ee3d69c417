"""``hpfree-train --help``: hpfree's own page (``--hydra-help`` still gives Hydra's).

Everything listed is read from where it is defined, never kept here: the config groups and
their options from Hydra's config repository (``conf/`` plus every plug-in's ConfigStore
option; schema entries named ``base_*`` are left out), the defaults from the composed default
config, the other commands from hpfree's console-script entry points (with the first line
of each command's docstring).
"""

from __future__ import annotations

import importlib
import textwrap
from importlib import metadata

GROUPS = (
    ("optimizer", "the training algorithm (knobs: optimizer.<knob>=...)"),
    ("workload", "what is trained (budget, batch size, target: workload.<knob>=...)"),
    ("suite", "several workloads at once (-m suite=mini runs one job per workload)"),
    ("horizon", "schedule length as a fraction of each workload's step budget"),
    ("schedule", "warmup + decay shape (relative for learning-rate-free methods)"),
    ("regularization", "weight decay, dropout, label smoothing"),
    ("runner", "what executes a run: hpfree's jit+scan loop, or AlgoPerf's runner"),
    ("launcher", "where the jobs of -m run: this machine, SLURM, TPU slices"),
    ("search_space", "a quasi-random search (-m search_space=auto ...)"),
    ("logger", "also send curves to TensorBoard or W&B"),
)

KNOBS = """\
  optimizer.learning_rate   peak of the schedule (absolute for AdamW/NadamW, relative, 1.0, for
                            learning-rate-free methods); every optimizer field is a knob
  horizon.fraction          e.g. 0.33, 0.5, 0.66           schedule.warmup   fraction of the horizon
  regularization.weight_decay / .dropout / .label_smoothing
  workload.max_steps / .batch_size / .eval_every / .data_seed
  seed                      training seed                  force=true        re-run a final run
  runs_dir, sweeps_dir      where runs and sweeps go       progress=false    quiet
  hydra.sweeper.num_points  points of a search (200)       hydra.sweeper.seeds  seeds per point"""

EXAMPLES = """\
  hpfree-train                                          # NadamW on the digits MLP (seconds)
  hpfree-train optimizer=prodigy schedule=none regularization=none workload=mini_wmt
  hpfree-train -m suite=mini optimizer=prodigy,dog      # 2 optimizers x 8 workloads
  hpfree-train -m search_space=auto optimizer=prodigy suite=mini horizon=h50 \\
      hydra.sweeper.num_points=16                        # a quasi-random search
  hpfree-train optimizer=dog --cfg job                  # print the composed config, run nothing"""


def _options() -> tuple[dict[str, list[str]], dict[str, str]]:
    from hydra import compose
    from hydra.core.global_hydra import GlobalHydra

    from hpfree.preflight import CONFIG_NAME, hydra_session

    with hydra_session():
        loader = GlobalHydra.instance().config_loader()
        options = {g: [o for o in loader.get_group_options(g) if not o.startswith("base_")]
                   for g, _ in GROUPS}
        cfg = compose(config_name=CONFIG_NAME, return_hydra_config=True)
        choices = {str(k): str(v) for k, v in cfg.hydra.runtime.choices.items()}
    return options, choices


def _commands() -> list[tuple[str, str]]:
    """hpfree's other console scripts with their ``SUMMARY`` (else the docstring's first line)."""
    out = []
    for ep in sorted(metadata.entry_points(group="console_scripts"), key=lambda e: e.name):
        if not ep.name.startswith("hpfree-") or ep.name == "hpfree-train":
            continue
        try:
            module = importlib.import_module(ep.module)
        except Exception:  # a broken command must not break the help page
            out.append((ep.name, ""))
            continue
        doc = (module.__doc__ or "").strip()
        out.append((ep.name, getattr(module, "SUMMARY", doc.splitlines()[0] if doc else "")))
    return out


def page() -> str:
    options, choices = _options()
    lines = ["hpfree-train: train candidates (optimizer + schedule + horizon + regularization) on",
             "workloads; one run, a multirun (-m) or a quasi-random search.", "",
             "Usage: hpfree-train [-m] [GROUP=OPTION ...] [KNOB=VALUE ...]", "",
             "Config groups (GROUP=OPTION; default in brackets):"]
    for group, what in GROUPS:
        default = choices.get(group, "")
        opts = ", ".join(f"[{o}]" if o == default else o for o in options.get(group, []))
        lines.append(f"  {group:<15}{what}")
        lines += textwrap.wrap(opts, width=96, initial_indent=" " * 17,
                               subsequent_indent=" " * 17)
    lines += ["", "Main knobs (any field of the composed config can be set):", KNOBS, "",
              "Examples:", EXAMPLES, "", "Other commands (each has --help):"]
    lines += [f"  {name:<18}{what}" for name, what in _commands()]
    lines += ["", "More: hpfree-train --hydra-help (Hydra's own page), --cfg job (the composed",
              "config), docs/ in the repository (optimizers, workloads, searching, launching,",
              "scoring, AlgoPerf, extending, faults).",
              "Exit codes: 0 all done, 1 some run failed (or an output could not be written),",
              "2 bad input (one line on stderr, before any work); --debug shows tracebacks."]
    return "\n".join(lines)
