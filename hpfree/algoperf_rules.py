"""AlgoPerf rule versions: step budgets, runtime budgets, studies (``runner.ruleset``).

The study this project follows measured its step budgets (its Table 2, "Max Steps") from the
AlgoPerf **v0.5** self-tuning time budget: AdamW's steps within that time on the competition
hardware.  Every Table 2 budget is exactly 3 × AlgoPerf v0.5's ``step_hint`` (the steps the
baseline takes in the *external* budget), 3 being v0.5's self-tuning runtime factor.
AlgoPerf **v0.6** (CHANGELOG 0.6.0, PR #838 and #876) changed the runtime budgets and step
hints, cut the studies per workload from 5 to 3, and gives self-tuning submissions 1.5 × the
external runtime (v0.5: 3 ×).  The same construction on v0.6's numbers gives its step
budgets: ``int(1.5 × step_hint)``.

=====================  ===========================  ===========================
workload               v0.5 (default, the study's)  v0.6
                       hint / runtime s / budget    hint / runtime s / budget
=====================  ===========================  ===========================
criteo1tb              10,666 / 7,703 / 31,998      10,666 / 7,703 / 15,999
fastmri                36,189 / 8,859 / 108,567     18,094 / 4,430 / 27,141
imagenet_resnet        186,666 / 63,008 / 559,998   195,999 / 66,159 / 293,998
imagenet_vit           186,666 / 77,520 / 559,998   167,999 / 69,768 / 251,998
librispeech_conformer  80,000 / 61,068 / 240,000    76,000 / 58,015 / 114,000
librispeech_deepspeech 48,000 / 55,506 / 144,000    38,400 / 44,405 / 57,600
ogbg                   80,000 / 18,477 / 240,000    52,000 / 12,011 / 78,000
wmt                    133,333 / 48,151 / 399,999   120,000 / 43,336 / 180,000
=====================  ===========================  ===========================

Sources: ``step_hint`` / ``max_allowed_runtime_sec`` of each ``workload.py`` in
mlcommons/algorithmic-efficiency at tag ``v0.5.0`` (package ``algorithmic_efficiency``) and
at 2c90454 (v0.6, package ``algoperf``); studies and factors from ``DOCUMENTATION.md`` at
both.  Runtime budgets are the *external* ones; self-tuning runs get ``factor ×`` that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from hpfree.errors import ConfigError


@dataclass(frozen=True)
class Ruleset:
    """One AlgoPerf rule version's numbers for the eight base workloads."""

    version: str
    num_studies: int
    self_tuning_factor: float  # self-tuning runtime budget = factor × external budget
    step_hints: Mapping[str, int]
    max_runtime_s: Mapping[str, int]  # external ruleset, seconds on the competition hardware

    def step_budget(self, workload: str) -> int:
        """Steps a self-tuning run may take: ``int(factor × step_hint)`` (v0.5: Table 2)."""
        return int(self.self_tuning_factor * self.step_hints[_base(workload)])

    def self_tuning_runtime_s(self, workload: str) -> float:
        return self.self_tuning_factor * self.max_runtime_s[_base(workload)]


def _base(workload: str) -> str:
    name = workload.removeprefix("algoperf_").removesuffix("_generated")
    if name not in V05.step_hints:
        raise ConfigError(f"no AlgoPerf ruleset numbers for workload {workload!r}; "
                          f"known: {', '.join(sorted(V05.step_hints))}")
    return name


V05 = Ruleset(
    version="v0.5", num_studies=5, self_tuning_factor=3.0,
    step_hints={"criteo1tb": 10_666, "fastmri": 36_189, "imagenet_resnet": 186_666,
                "imagenet_vit": 186_666, "librispeech_conformer": 80_000,
                "librispeech_deepspeech": 48_000, "ogbg": 80_000, "wmt": 133_333},
    max_runtime_s={"criteo1tb": 7_703, "fastmri": 8_859, "imagenet_resnet": 63_008,
                   "imagenet_vit": 77_520, "librispeech_conformer": 61_068,
                   "librispeech_deepspeech": 55_506, "ogbg": 18_477, "wmt": 48_151},
)

V06 = Ruleset(
    version="v0.6", num_studies=3, self_tuning_factor=1.5,
    step_hints={"criteo1tb": 10_666, "fastmri": 18_094, "imagenet_resnet": 195_999,
                "imagenet_vit": 167_999, "librispeech_conformer": 76_000,
                "librispeech_deepspeech": 38_400, "ogbg": 52_000, "wmt": 120_000},
    max_runtime_s={"criteo1tb": 7_703, "fastmri": 4_430, "imagenet_resnet": 66_159,
                   "imagenet_vit": 69_768, "librispeech_conformer": 58_015,
                   "librispeech_deepspeech": 44_405, "ogbg": 12_011, "wmt": 43_336},
)

RULESETS: dict[str, Ruleset] = {r.version: r for r in (V05, V06)}
DEFAULT = V05.version


def get(version: str) -> Ruleset:
    """The ruleset named ``version`` (``v0.5`` or ``v0.6``); one clear line otherwise."""
    try:
        return RULESETS[version]
    except KeyError:
        raise ConfigError(f"runner.ruleset={version!r}: choose one of "
                          f"{', '.join(RULESETS)}") from None
