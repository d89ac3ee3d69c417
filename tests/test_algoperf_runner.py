"""``runner=algoperf``: the generated submission, the configs, the record conversion, and —
where algoperf is importable — AlgoPerf's own runner end to end on CPU.

The unit tests need no algoperf: the submission is checked against the API's signatures
(AlgoPerf's ``spec.py`` at 2c90454, and the installed ``algoperf.spec`` when there is one)
and driven with a small stand-in workload that follows AlgoPerf's conventions, against the
same ``hpfree.algorithm`` the embedded runner uses.  The record conversion runs on
``tests/data/algoperf_eval_measurements.csv``, recorded from a real AlgoPerf run of
``algoperf_mnist_digits`` (nadamw, h66, validation target raised to 0.99 so it ran to its
horizon) that was stopped by SIGTERM after the evaluation at step 221 and resumed.

The end-to-end tests run only where ``algoperf`` imports (its venv, with hpfree on
``PYTHONPATH``; see the README); elsewhere they skip.
"""

from __future__ import annotations

import enum
import importlib.util
import inspect
import json
import math
import sys
import types
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra

from hpfree import records, train
from hpfree.algorithm import build_algorithm
from hpfree.errors import ConfigError
from hpfree.validation import register_configs, validate
from hpfree.run_naming import register_resolver
from hpfree.runners import algoperf as ap
from hpfree.runners import algoperf_submission as sub
from hpfree.workloads import algoperf_specs

DATA = Path(__file__).parent / "data"
FIXTURE = DATA / "algoperf_eval_measurements.csv"
HAVE_ALGOPERF = importlib.util.find_spec("algoperf") is not None
needs_algoperf = pytest.mark.skipif(not HAVE_ALGOPERF,
                                    reason="algoperf is not importable in this venv")

# The submission API of algoperf at 2c90454 (algoperf/spec.py and submission_runner.py):
# names matter (the runner passes update_params and prepare_for_eval by keyword).
API = {
    "get_batch_size": ["workload_name"],
    "init_optimizer_state": ["workload", "model_params", "model_state", "hyperparameters",
                             "rng"],
    "update_params": ["workload", "current_param_container", "current_params_types",
                      "model_state", "hyperparameters", "batch", "loss_type",
                      "optimizer_state", "eval_results", "global_step", "rng", "train_state"],
    "prepare_for_eval": ["workload", "current_param_container", "current_params_types",
                         "model_state", "hyperparameters", "loss_type", "optimizer_state",
                         "eval_results", "global_step", "rng"],
    "data_selection": ["workload", "input_queue", "optimizer_state", "current_param_container",
                       "model_state", "hyperparameters", "global_step", "rng"],
}

# The paper's Table 2: step budget and batch size.
TABLE2 = {
    "criteo1tb": (31_998, 262_144), "fastmri": (108_567, 32),
    "imagenet_resnet": (559_998, 1024), "imagenet_vit": (559_998, 1024),
    "librispeech_conformer": (240_000, 256), "librispeech_deepspeech": (144_000, 256),
    "ogbg": (240_000, 512), "wmt": (399_999, 128),
}


def compose_cfg(*overrides: str):
    register_configs()
    register_resolver()
    GlobalHydra.instance().clear()
    with initialize_config_module("hpfree.conf", version_base=None):
        return compose("config", overrides=list(overrides))


def params_of(fn):
    return list(inspect.signature(fn).parameters)


# --------------------------------------------------------------------------------------
# The submission against the API


def test_submission_has_the_api_signatures():
    for name, expected in API.items():
        assert params_of(getattr(sub, name)) == expected, name
    # train_state is optional (the runner passes it only because the signature names it).
    assert inspect.signature(sub.update_params).parameters["train_state"].default is None
    assert sub.SUBMISSION_PATH.replace("/", ".")[:-3] == sub.__name__


def test_model_state_keeps_its_shapes_between_steps():
    # AlgoPerf's DeepSpeech/Conformer BatchNorm returns [1, 1, F] running statistics for a
    # [F] state; the submission hands back the shapes it got, so the step compiles once.
    old = {"batch_stats": {"mean": jnp.zeros(4), "count": jnp.zeros(())}}
    new = {"batch_stats": {"mean": jnp.arange(4.0).reshape(1, 1, 4), "count": jnp.ones(())}}
    kept = sub.keep_shapes(new, old)
    assert kept["batch_stats"]["mean"].shape == (4,)
    np.testing.assert_array_equal(kept["batch_stats"]["mean"], np.arange(4.0))
    grown = {"batch_stats": {"mean": jnp.zeros(8), "count": jnp.ones(())}}
    assert sub.keep_shapes(grown, old)["batch_stats"]["mean"].shape == (8,)  # not a reshape
    assert sub.keep_shapes({"other": 1}, old) == {"other": 1}
    assert sub.keep_shapes(None, None) is None


@needs_algoperf
def test_submission_matches_the_installed_algoperf_spec():
    from algoperf import spec

    for name in API:
        assert params_of(getattr(sub, name)) == params_of(getattr(spec, name)), name


@pytest.fixture
def algoperf_spec(monkeypatch):
    """``algoperf.spec``: the real one, or a stand-in with what the submission uses."""
    if HAVE_ALGOPERF:
        from algoperf import spec

        return spec
    spec = types.ModuleType("algoperf.spec")

    class ForwardPassMode(enum.Enum):
        TRAIN = 0
        EVAL = 1

    class TrainingCompleteError(Exception):
        pass

    spec.ForwardPassMode = ForwardPassMode
    spec.TrainingCompleteError = TrainingCompleteError
    pkg = types.ModuleType("algoperf")
    pkg.spec = spec
    monkeypatch.setitem(sys.modules, "algoperf", pkg)
    monkeypatch.setitem(sys.modules, "algoperf.spec", spec)
    return spec


class StandInWorkload:
    """A softmax regression with AlgoPerf's ``model_fn`` / ``loss_fn`` conventions."""

    metrics_logger = None

    def __init__(self, n_features=6, n_classes=3):
        self.k = n_classes
        self.n = n_features
        self.seen: dict = {}

    def init_params(self):
        key = jax.random.PRNGKey(3)
        return {"dense": {"kernel": 0.1 * jax.random.normal(key, (self.n, self.k)),
                          "bias": jnp.zeros((self.k,))}}

    def model_fn(self, params, batch, model_state, mode, rng, update_batch_norm,
                 dropout_rate=0.0):
        self.seen.update(mode=mode, dropout_rate=dropout_rate, update_batch_norm=update_batch_norm)
        x = batch["inputs"]
        keep = jax.random.bernoulli(rng, 1.0 - dropout_rate, x.shape)
        x = jnp.where(keep, x / (1.0 - dropout_rate), 0.0)
        return x @ params["dense"]["kernel"] + params["dense"]["bias"], model_state

    def loss_fn(self, label_batch, logits_batch, mask_batch=None, label_smoothing=0.0):
        self.seen.update(label_smoothing=label_smoothing)
        onehot = jax.nn.one_hot(label_batch, self.k)
        onehot = onehot * (1 - label_smoothing) + label_smoothing / self.k
        per = -jnp.sum(onehot * jax.nn.log_softmax(logits_batch), axis=-1)
        mask = jnp.ones_like(per) if mask_batch is None else mask_batch
        return {"summed": jnp.sum(per * mask), "n_valid_examples": jnp.sum(mask),
                "per_example": per * mask}

    def batches(self, n, size=16, seed=0, poison=False):
        rs = np.random.default_rng(seed)
        for _ in range(n):
            x = rs.normal(size=(size, self.n)).astype(np.float32)
            if poison:
                x[0, 0] = np.nan
            yield {"inputs": jnp.asarray(x),
                   "targets": jnp.asarray(rs.integers(0, self.k, size), jnp.int32)}


def write_submission_config(tmp_path, monkeypatch, *overrides, max_steps=50, batch_size=16):
    tcfg = validate(compose_cfg(*overrides))
    from hpfree.config import to_plain

    path = sub.write_config(tmp_path / sub.CONFIG_FILE, to_plain(tcfg), max_steps, batch_size,
                            "stand_in")
    monkeypatch.setenv(sub.CONFIG_ENV, str(path))
    return tcfg


def reference_loss(dropout, smoothing):
    """The mean training loss, computed on a separate stand-in (its ``seen`` stays clean)."""
    workload = StandInWorkload()

    def loss(params, batch, rng):
        logits, _ = workload.model_fn(params, batch, None, None, rng, True, dropout_rate=dropout)
        out = workload.loss_fn(batch["targets"], logits, None, label_smoothing=smoothing)
        return out["summed"] / out["n_valid_examples"]

    return loss


def call_update(workload, params, opt_state, batch, step, rng):
    # Exactly as submission_runner.train_once calls it (keywords, train_state passed).
    return sub.update_params(
        workload=workload, current_param_container=params, current_params_types=None,
        model_state=None, hyperparameters=None, batch=batch,
        loss_type=None, optimizer_state=opt_state, eval_results=[], global_step=step,
        rng=rng, train_state=types.MappingProxyType({}))


def call_prepare(workload, params, opt_state, step):
    return sub.prepare_for_eval(
        workload=workload, current_param_container=params, current_params_types=None,
        model_state=None, hyperparameters=None, loss_type=None, optimizer_state=opt_state,
        eval_results=[], global_step=step, rng=jax.random.PRNGKey(0))


def test_submission_trains_with_the_shared_algorithm(tmp_path, monkeypatch, algoperf_spec):
    tcfg = write_submission_config(tmp_path, monkeypatch, "optimizer=nadamw",
                                   "regularization.dropout=0.25",
                                   "regularization.label_smoothing=0.2")
    wl = StandInWorkload()
    assert sub.get_batch_size("ogbg") == 16
    params = wl.init_params()
    opt_state = sub.init_optimizer_state(wl, params, None, None, jax.random.PRNGKey(1))

    algo = build_algorithm(tcfg, 50)
    ref_params = wl.init_params()
    ref_state = algo.init(ref_params)
    loss = reference_loss(0.25, 0.2)
    batches = list(wl.batches(6))
    for step, batch in enumerate(batches):
        rng = jax.random.PRNGKey(100 + step)
        opt_state, params, _ = call_update(wl, params, opt_state, batch, step, rng)
        value, grads = jax.value_and_grad(loss)(ref_params, batch, rng)
        ref_params, ref_state = algo.update(grads, ref_state, ref_params, value)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-7),
                 params, ref_params)
    # Regularization reached the workload as AlgoPerf expects (model_fn / loss_fn kwargs).
    assert wl.seen["dropout_rate"] == 0.25 and wl.seen["label_smoothing"] == 0.2
    assert wl.seen["mode"] == algoperf_spec.ForwardPassMode.TRAIN
    assert wl.seen["update_batch_norm"] is True
    # No separate evaluation point for NadamW: prepare_for_eval hands the params back.
    _, eval_params, _ = call_prepare(wl, params, opt_state, len(batches))
    jax.tree.map(np.testing.assert_array_equal, eval_params, params)
    assert sub.data_selection(wl, iter([{"x": 1}]), opt_state, params, None, None, 0,
                              None) == {"x": 1}


def test_schedule_free_evaluates_at_its_average_and_trains_on(tmp_path, monkeypatch,
                                                              algoperf_spec):
    tcfg = write_submission_config(tmp_path, monkeypatch, "optimizer=schedule_free_adamw",
                                   "regularization=none")
    wl = StandInWorkload()
    algo = build_algorithm(tcfg, 50)
    assert algo.spec.eval_params is not None
    params = wl.init_params()
    opt_state = sub.init_optimizer_state(wl, params, None, None, jax.random.PRNGKey(1))
    ref_params = wl.init_params()
    ref_state = algo.init(ref_params)
    loss = reference_loss(0.0, 0.0)
    batches = list(wl.batches(8, seed=4))
    for step, batch in enumerate(batches):
        rng = jax.random.PRNGKey(step)
        opt_state, params, _ = call_update(wl, params, opt_state, batch, step, rng)
        value, grads = jax.value_and_grad(loss)(ref_params, batch, rng)
        ref_params, ref_state = algo.update(grads, ref_state, ref_params, value)
        if step in (3, 5):
            # AlgoPerf evaluates (and checkpoints) what prepare_for_eval returns, then
            # passes it back into update_params: training must go on from the train point.
            opt_state, params, _ = call_prepare(wl, params, opt_state, step + 1)
            expected = algo.eval_params(ref_state, ref_params)
            jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-7),
                         params, expected)
            assert not np.allclose(params["dense"]["kernel"], ref_params["dense"]["kernel"])
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-7),
                 opt_state[0]["train_params"], ref_params)


def test_nonfinite_loss_ends_the_run_and_stop_requests_preempt(tmp_path, monkeypatch,
                                                               algoperf_spec):
    write_submission_config(tmp_path, monkeypatch, "optimizer=adamw", "regularization=none")
    monkeypatch.setattr(sub, "CHECK_EVERY", 1)
    wl = StandInWorkload()
    params = wl.init_params()
    opt_state = sub.init_optimizer_state(wl, params, None, None, jax.random.PRNGKey(1))
    (batch,) = wl.batches(1, poison=True)
    opt_state, params, _ = call_update(wl, params, opt_state, batch, 0, jax.random.PRNGKey(0))
    with pytest.raises(algoperf_spec.TrainingCompleteError):
        call_update(wl, params, opt_state, batch, 1, jax.random.PRNGKey(1))
    assert sub.current_run().diverged

    monkeypatch.setattr(sub, "stop_requested", lambda: True)
    with pytest.raises(sub.Preempted):
        call_update(wl, params, opt_state, batch, 2, jax.random.PRNGKey(2))


def test_unreplicate_strips_the_device_axis_of_a_restore():
    n = jax.local_device_count()
    template = {"w": jax.ShapeDtypeStruct((3, 2), jnp.float32),
                "s": jax.ShapeDtypeStruct((), jnp.int32)}
    tree = {"w": jnp.ones((n, 3, 2)), "s": jnp.ones((n,), jnp.int32)}
    out = sub.unreplicate_like(tree, template)
    assert out["w"].shape == (3, 2) and out["s"].shape == ()
    same = {"w": jnp.ones((3, 2)), "s": jnp.asarray(1)}
    assert sub.unreplicate_like(same, template)["w"].shape == (3, 2)


def test_fill_empty_restores_containers_orbax_stored_as_none():
    template = {"opt": {"0": {"count": 0}, "1": {}}, "loss": 0.0}
    state = {"opt": {"0": {"count": 5}, "1": None}, "loss": 1.5}
    assert ap._fill_empty(template, state) == {"opt": {"0": {"count": 5}, "1": {}}, "loss": 1.5}


def test_submission_config_needs_its_file(tmp_path, monkeypatch):
    monkeypatch.setenv(sub.CONFIG_ENV, str(tmp_path / "missing.json"))
    with pytest.raises(FileNotFoundError, match=sub.CONFIG_ENV):
        sub.get_batch_size("ogbg")


# --------------------------------------------------------------------------------------
# Configs and flags


@pytest.mark.parametrize("name", sorted(TABLE2))
def test_algoperf_workload_configs(name, tmp_path):
    tcfg = validate(compose_cfg("runner=algoperf", f"workload=algoperf_{name}"))
    wl = tcfg.workload
    assert (wl.max_steps, wl.batch_size) == TABLE2[name]
    assert wl.algoperf_name == name and wl.target is None  # AlgoPerf's, read at run time
    algo = build_algorithm(tcfg, wl.max_steps)
    assert algo.horizon == round(0.66 * TABLE2[name][0])
    f = ap.flags(tcfg, tmp_path)
    assert f["workload"] == name and f["framework"] == "jax"
    assert f["tuning_ruleset"] == "self" and "tuning_search_space" not in f
    assert f["max_global_steps"] == algo.num_steps == algo.horizon
    assert f["rng_seed"] == 1 and f["experiment_dir"] == str(tmp_path.resolve())
    assert f["submission_path"] == sub.SUBMISSION_PATH
    assert f["resume_last_run"] is True
    argv = ap.flag_argv(f)
    assert "--tuning_ruleset=self" in argv and "--resume_last_run" in argv
    assert "--nosave_intermediate_checkpoints" in argv


def test_every_table2_workload_has_a_config():
    from hpfree.workloads import registry as workload_registry

    assert set(algoperf_specs.BASE_WORKLOADS) == set(TABLE2)
    for name in algoperf_specs.ALL_WORKLOADS:
        cfg = workload_registry.default_config(f"algoperf_{name}")
        assert cfg.algoperf_name == algoperf_specs.ALL_WORKLOADS[name].algoperf_name
        assert cfg.max_steps == algoperf_specs.ALL_WORKLOADS[name].max_steps


def test_runner_options_reach_the_flags(tmp_path):
    tcfg = validate(compose_cfg(
        "runner=algoperf", "workload=algoperf_ogbg", "runner.data_dir=/data/algoperf",
        "runner.algoperf_workload=ogbg_gelu", "seed=4", "horizon=h33",
        "+runner.extra_flags.save_intermediate_checkpoints=true"))
    f = ap.flags(tcfg, tmp_path)
    assert f["data_dir"] == "/data/algoperf" and f["workload"] == "ogbg_gelu"
    assert f["rng_seed"] == 5 and f["max_global_steps"] == round(0.33 * 240_000)
    assert f["save_intermediate_checkpoints"] is True
    assert ap.log_dir(tmp_path, "ogbg_gelu") == tmp_path / "algoperf" / "ogbg_gelu_jax"
    cmd = ap.command(tcfg, tmp_path)
    assert "python -m submission_runner" in cmd and sub.CONFIG_ENV in cmd


def test_algoperf_workloads_need_the_algoperf_runner(tmp_path):
    # Caught by validation, before a run directory exists.
    with pytest.raises(ConfigError, match="runs with runner=algoperf, not runner=embedded"):
        train.run(compose_cfg("workload=algoperf_ogbg", "progress=false"), tmp_path / "a")
    assert not (tmp_path / "a").exists()
    with pytest.raises(ConfigError, match="runs with runner=embedded, not runner=algoperf"):
        validate(compose_cfg("runner=algoperf", "workload=digits_mlp"))


@pytest.mark.skipif(HAVE_ALGOPERF, reason="algoperf is importable here")
def test_without_algoperf_the_run_fails_with_the_install_hint(tmp_path):
    rec = train.run(compose_cfg("runner=algoperf", "workload=algoperf_mnist_digits",
                                "progress=false"), tmp_path / "r")
    assert rec.status == "failed" and "Running on AlgoPerf workloads" in rec.error


# --------------------------------------------------------------------------------------
# eval_measurements.csv → record


def blank_record(**kw) -> records.RunRecord:
    base = dict(run_id="r", status="running", runner="algoperf",
                workload="algoperf_mnist_digits", optimizer="nadamw", horizon=0.66, seed=0,
                metric="accuracy", target=0.0, direction="max", max_steps=400)
    base.update(kw)
    return records.RunRecord(**base)


def test_record_from_the_recorded_eval_measurements(tmp_path):
    raw = pd.read_csv(FIXTURE)
    assert {"accumulated_submission_time", "global_step", "validation/accuracy",
            "preemption_count", "accumulated_eval_time"} <= set(raw.columns)
    rec = ap.record_from_csv(FIXTURE, blank_record(), "accuracy", 0.95, "max")
    assert rec.status == "completed"
    # First evaluation at or past the target: step 221, before the preemption.
    assert rec.ttt_steps == 221
    assert rec.ttt_seconds == pytest.approx(1.737762451171875, abs=0)
    assert rec.best_metric == pytest.approx(0.9733333333333334)
    assert rec.final_metric == pytest.approx(0.97)
    assert rec.steps == 264 and rec.preemptions == 1
    assert rec.train_seconds == pytest.approx(2.799329996109009)
    assert rec.eval_seconds == pytest.approx(0.937206506729126)
    # Non-strict comparison, as AlgoPerf's scoring: exactly the target counts.
    same = ap.record_from_csv(FIXTURE, blank_record(), "accuracy", 0.9733333333333334, "max")
    assert same.ttt_steps == 222
    missed = ap.record_from_csv(FIXTURE, blank_record(), "accuracy", 0.99, "max")
    assert missed.ttt_steps is None and not missed.reached_target

    rows = ap.curve_rows(ap.read_eval_measurements(FIXTURE), "accuracy")
    assert [r["step"] for r in rows] == [1, 221, 222, 264]
    assert [r["preemption_count"] for r in rows] == [0, 0, 1, 1]
    assert {"step", "train_seconds", "eval_seconds", "train_loss", "lr", "validation/loss",
            "validation/accuracy"} <= set(rows[0])

    records.write(tmp_path, rec)
    back = records.load(tmp_path)
    assert back.ttt_steps == 221 and back.runner == "algoperf"
    json.loads((tmp_path / records.RECORD).read_text())  # strict JSON


def test_a_step_logged_twice_keeps_the_resumed_row(tmp_path):
    raw = pd.read_csv(FIXTURE)
    again = raw[raw.global_step == 221].assign(preemption_count=1)
    again["validation/accuracy"] = 0.5
    path = tmp_path / "eval_measurements.csv"
    pd.concat([raw, again]).to_csv(path, index=False)
    df = ap.read_eval_measurements(path)
    assert list(df.global_step) == [1, 221, 222, 264]
    assert df.loc[df.global_step == 221, "validation/accuracy"].item() == 0.5


def test_nonfinite_final_evaluation_is_diverged(tmp_path):
    raw = pd.read_csv(FIXTURE)
    raw.loc[raw.index[-1], "validation/accuracy"] = math.nan
    path = tmp_path / "e.csv"
    raw.to_csv(path, index=False)
    rec = ap.record_from_csv(path, blank_record(), "accuracy", 0.95, "max")
    assert rec.status == "diverged" and rec.ttt_steps == 221
    assert ap.record_from_csv(tmp_path / "none.csv", blank_record(), "accuracy", 0.9,
                              "max").steps == 0


def test_converted_algoperf_runs_score_with_embedded_runs(tmp_path):
    from hpfree.scoring.report import score_sweeps
    from test_scoring import make_run

    run_dir = tmp_path / "pool" / "algoperf_mnist_digits" / "nadamw"
    run_dir.mkdir(parents=True)
    rec = ap.record_from_csv(FIXTURE, blank_record(run_id="ap", max_steps=400), "accuracy",
                             0.95, "max")
    rec.config = {"optimizer": {"name": "nadamw"}, "horizon": {"fraction": 0.66},
                  "workload": {"name": "algoperf_mnist_digits"}, "seed": 0}
    records.write(run_dir, rec)
    pd.DataFrame(ap.curve_rows(ap.read_eval_measurements(FIXTURE), "accuracy")).to_csv(
        run_dir / records.CURVE, index=False)
    make_run(tmp_path / "pool", "nadamw", "digits_mlp", [(40, 0.2), (80, 0.05)],
             horizon=0.66, target=0.1)
    result = score_sweeps([tmp_path / "pool"])
    assert set(result.workloads) == {"algoperf_mnist_digits", "digits_mlp"}
    runs = result.runs.set_index("workload")
    assert runs.loc["algoperf_mnist_digits", "ttt_steps"] == 221
    assert runs.loc["algoperf_mnist_digits", "ttt_seconds"] == rec.ttt_seconds
    assert runs.loc["digits_mlp", "ttt_steps"] == 80
    seconds = score_sweeps([tmp_path / "pool"], time="seconds")
    assert seconds.runs.set_index("workload").loc["algoperf_mnist_digits", "hit"]


# --------------------------------------------------------------------------------------
# End to end through AlgoPerf's runner (its venv only)


def digits_cfg(runs_dir, *extra):
    return compose_cfg("runner=algoperf", "workload=algoperf_mnist_digits", "progress=false",
                       f"runs_dir={runs_dir}", *extra)


@needs_algoperf
@pytest.mark.slow
def test_algoperf_runner_end_to_end_and_scored_with_an_embedded_run(tmp_path, capsys):
    from hpfree.scoring.report import score_sweeps

    pool = tmp_path / "pool"
    ap_dir = pool / "algoperf_mnist_digits" / "nadamw"
    rec = train.run(digits_cfg(pool, "+workload.init_kwargs.eval_period_s=0.5"), ap_dir,
                    handle_signals=False)
    assert rec.status == "completed", rec.error
    assert rec.runner == "algoperf" and rec.versions.get("algoperf")
    assert rec.metric == "accuracy" and rec.direction == "max" and rec.target == 0.93
    assert rec.steps <= round(0.66 * 400) and rec.reached_target
    csv = ap.eval_csv_path(ap_dir, "mnist")
    df = pd.read_csv(csv)
    first = df[df["validation/accuracy"] >= 0.93].iloc[0]
    assert rec.ttt_steps == int(first.global_step)
    assert rec.ttt_seconds == float(first.accumulated_submission_time)
    curve = records.load_curve(ap_dir)
    assert list(curve.step) == sorted(df.global_step.unique())
    assert (ap_dir / "algoperf_command.sh").exists()

    emb_dir = pool / "digits_mlp" / "nadamw"
    emb = train.run(compose_cfg("workload=digits_mlp", "progress=false",
                                "workload.max_steps=120", "workload.eval_every=40"),
                    emb_dir, handle_signals=False)
    assert emb.status == "completed"
    result = score_sweeps([pool])
    assert len(result.scores) == 1  # one candidate: the same algorithm on both runners
    assert set(result.workloads) == {"algoperf_mnist_digits", "digits_mlp"}
    with capsys.disabled():
        print(f"\n[algoperf e2e] {rec.status}: steps {rec.steps}, target accuracy "
              f"{rec.target} at step {rec.ttt_steps} ({rec.ttt_seconds:.2f}s of "
              f"accumulated_submission_time), best {rec.best_metric:.4f}, "
              f"{len(curve)} evaluations; embedded digits_mlp ttt {emb.ttt_steps}; "
              f"benchmark score {result.scores.iloc[0]:.3f}")


@needs_algoperf
@pytest.mark.slow
def test_preempted_algoperf_run_resumes_from_its_checkpoint(tmp_path, capsys,
                                                         preempt_and_resume):
    tcfg = validate(digits_cfg(tmp_path, "+workload.init_kwargs.eval_period_s=1",
                               "+workload.init_kwargs.validation_target=0.99"))
    run_dir = tmp_path / "run"
    _, second, calls = preempt_and_resume(tcfg, run_dir, stop_after=1)
    horizon = round(0.66 * 400)
    assert second.steps == horizon
    df = pd.read_csv(ap.eval_csv_path(run_dir, "mnist"))
    assert set(df.preemption_count) == {0, 1}
    assert df.global_step.min() == calls[0] and df.global_step.max() == horizon
    # The resumed run continued from the checkpoint: its steps follow the first run's.
    assert df[df.preemption_count == 1].global_step.min() > calls[0]
    with capsys.disabled():
        print(f"\n[algoperf resume] stopped at step {calls[0]}, resumed to {second.steps}; "
              f"evaluations at {list(df.global_step)} "
              f"(preemption_count {list(df.preemption_count)})")
