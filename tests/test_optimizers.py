"""The optimizer group: every config trains, composes from the shell, and fails cleanly.

Also pins down the zero-step-size problem: optax's ``prodigy`` and ``dadapt_adamw`` return
NaN when the relative schedule is 0 at step 0 (our warmup_cosine starts at 0); ours take a
no-op step there, as the authors' packages do.  And it checks that each default is
``optax.contrib``'s arithmetic (where the schedule never hits 0), as the README says.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra

from hpfree import hparams
from hpfree.algorithm import build_algorithm
from hpfree.errors import ConfigError
from hpfree.validation import register_configs, validate
from hpfree.optimizers import registry
from hpfree.preflight import check_command_line
from hpfree.runners.embedded import TrainState, make_chunk_fn
from hpfree.workloads import registry as workload_registry

from conftest import FAST, hpfree

NAMES = sorted(registry.all_specs())


def compose_cfg(overrides: list[str]):
    register_configs()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module="hpfree.conf", version_base=None):
            return validate(compose(config_name="config", overrides=overrides))
    finally:
        GlobalHydra.instance().clear()


def test_all_twelve_optimizers_are_registered():
    assert NAMES == sorted([
        "adamw", "nadamw", "dog", "dowg", "dadapt_adamw", "prodigy", "mechanic_adamw",
        "mechanic_nadamw", "cocob", "momo", "momo_adam", "schedule_free_adamw"])


@pytest.mark.parametrize("name", NAMES)
def test_trains_digits_mlp_for_100_steps(name: str):
    """100 steps of the real train step (the runner's scanned chunk), literature defaults.

    ``regularization=none`` as in the paper's out-of-the-box runs: the default weight decay
    (0.081, calibrated as AdamW's decoupled decay) is an L2 term for DoG/DoWG/COCOB, and
    DoWG's large steps under it collapse the MLP to the uniform prediction.
    """
    cfg = compose_cfg([f"optimizer={name}", "workload=digits_mlp", "workload.max_steps=100",
                       "horizon=h100", "regularization=none"])
    workload = workload_registry.make(cfg.workload, cfg.regularization)
    algo = build_algorithm(cfg, cfg.workload.max_steps)
    assert algo.num_steps == 100
    data = workload.make_data()
    train, valid = jax.device_put(data["train"]), jax.device_put(data["validation"])
    init_key, train_key = jax.random.split(jax.random.PRNGKey(0))
    params, model_state = workload.init(init_key)
    before = workload.evaluate(params, model_state, valid)["loss"]
    state = TrainState(jnp.asarray(0, jnp.int32), params, model_state, algo.init(params))
    # The runner's chunk takes the config's numbers as values (hpfree.hparams).
    chunk = jax.jit(make_chunk_fn(workload, cfg, 100))
    values = hparams.as_arrays(hparams.values(cfg, cfg.workload.max_steps))
    state, losses = chunk(state, train, values, train_key, jnp.asarray(100, jnp.int32))
    assert int(state.step) == 100
    assert np.all(np.isfinite(np.asarray(losses))), f"{name}: non-finite training loss"
    after = workload.evaluate(algo.eval_params(state.opt_state, state.params),
                              state.model_state, valid)["loss"]
    assert np.isfinite(after) and after < before, f"{name}: loss {before:.4f} -> {after:.4f}"


@pytest.mark.parametrize("name", NAMES)
def test_hpfree_train_composes_each_optimizer(name: str):
    assert check_command_line([f"optimizer={name}"], multirun=False) == 1


def test_every_knob_is_overridable_from_the_shell():
    cfg = compose_cfg(["optimizer=prodigy", "optimizer.b2=0.99", "optimizer.d0=1e-5",
                       "optimizer.safeguard_warmup=true", "optimizer.bias_correction=false",
                       "optimizer.growth_rate=1.02"]).optimizer
    assert (cfg.b2, cfg.d0, cfg.safeguard_warmup, cfg.bias_correction, cfg.growth_rate) == (
        0.99, 1e-5, True, False, 1.02)
    assert compose_cfg(["optimizer=mechanic_nadamw", "optimizer.variant=mechanic_pytorch",
                        "optimizer.s_init=1e-6"]).optimizer.s_init == 1e-6
    assert compose_cfg(["optimizer=dowg", "optimizer.clip=0.5"]).optimizer.clip == 0.5


@pytest.mark.parametrize("override, fragment", [
    ("optimizer.b2=1.5", "optimizer.b2=1.5 is outside [0, 1)"),
    ("optimizer.d0=0", "optimizer.d0=0.0 must be > 0"),
    ("optimizer.learning_rate=-1", "optimizer.learning_rate=-1.0 must be > 0"),
    ("optimizer.dzero=1", "dzero"),
])
def test_bad_prodigy_values_fail_in_one_line(override: str, fragment: str):
    with pytest.raises(ConfigError) as info:
        check_command_line(["optimizer=prodigy", override], multirun=False)
    assert fragment in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("overrides, fragment", [
    (["optimizer=momo", "optimizer.weight_decay_mode=prox"],
     "optimizer.weight_decay_mode='prox' is unknown; choose one of optax, divide, multiply"),
    (["optimizer=mechanic_adamw", "optimizer.variant=torch"],
     "optimizer.variant='torch' is unknown; choose one of optax, mechanic_pytorch"),
    (["optimizer=schedule_free_adamw", "optimizer.warmup_steps=-3"],
     "optimizer.warmup_steps=-3 must be >= 0"),
    (["optimizer=prodgy"], "prodgy"),
])
def test_bad_choices_fail_in_one_line(overrides: list[str], fragment: str):
    with pytest.raises(ConfigError) as info:
        check_command_line(overrides, multirun=False)
    assert fragment in str(info.value) and "\n" not in str(info.value)


# --- the zero step size at step 0 -------------------------------------------------------

def _quadratic():
    """A small least-squares problem in the default float precision."""
    a = jnp.asarray(np.random.RandomState(0).randn(16, 4), float)
    b = jnp.ones(16, float)
    return (lambda w: 0.5 * jnp.mean((a @ w - b) ** 2)), jnp.full(4, 0.1, float)


def _run(tx, steps: int, extra_loss: bool = False):
    loss, w = _quadratic()
    state = tx.init(w)
    first = None
    for _ in range(steps):
        value, grad = jax.value_and_grad(loss)(w)
        updates, state = tx.update(grad, state, w, **({"value": value} if extra_loss else {}))
        w = optax.apply_updates(w, updates)
        first = updates if first is None else first
    return first, w, loss(w)


@pytest.mark.parametrize("make_optax", [optax.contrib.prodigy, optax.contrib.dadapt_adamw])
def test_optax_returns_nan_when_the_schedule_starts_at_zero(make_optax):
    """Why hpfree carries its own prodigy / dadapt_adamw: optax divides 0 by 0 here."""
    tx = make_optax(learning_rate=optax.linear_schedule(0.0, 1.0, 10))
    _, w, _ = _run(tx, 3)  # the 0/0 estimate at step 0 poisons every later step
    assert np.all(np.isnan(np.asarray(w)))


def test_optax_prodigy_safeguard_warmup_avoids_the_nan():
    tx = optax.contrib.prodigy(learning_rate=optax.linear_schedule(0.0, 1.0, 10),
                               safeguard_warmup=True)
    _, w, _ = _run(tx, 20)
    assert np.all(np.isfinite(np.asarray(w)))


@pytest.mark.parametrize("overrides", [
    ["optimizer=prodigy"], ["optimizer=prodigy", "optimizer.bias_correction=false"],
    ["optimizer=prodigy", "optimizer.safeguard_warmup=true"],
    ["optimizer=dadapt_adamw"], ["optimizer=dadapt_adamw", "optimizer.decouple=false"],
])
def test_zero_step_is_a_no_op_then_training_proceeds(overrides: list[str]):
    cfg = compose_cfg([*overrides, "schedule=warmup_cosine", "schedule.warmup=0.1",
                       "horizon=h100"])
    algo = build_algorithm(cfg, max_steps=50)
    assert float(algo.lr_schedule(0)) == 0.0
    loss, w = _quadratic()
    state0 = algo.init(w)
    value, grad = jax.value_and_grad(loss)(w)
    w1, state1 = algo.update(grad, state0, w, value)
    np.testing.assert_array_equal(np.asarray(w1), np.asarray(w))  # authors: early return
    for old, new in zip(state0[:-1], state1[:-1]):  # all but the schedule's counter
        for a, b in zip(jax.tree.leaves(old), jax.tree.leaves(new)):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert int(state1.count) == 1 and int(state1.k) == 0
    l0 = float(loss(w))
    for _ in range(49):
        value, grad = jax.value_and_grad(loss)(w1)
        w1, state1 = algo.update(grad, state1, w1, value)
    assert np.all(np.isfinite(np.asarray(w1))) and float(loss(w1)) < l0


# --- defaults are optax.contrib's arithmetic ----------------------------------------------

def _ours(name: str, weight_decay: float = 0.0):
    cfg = compose_cfg([f"optimizer={name}", "schedule=none",
                       f"regularization.weight_decay={weight_decay}"])
    algo = build_algorithm(cfg, max_steps=30)
    return algo.tx, algo.spec.needs_loss


OPTAX_EQUIVALENTS = {
    "adamw": lambda wd: optax.adamw(1.7486e-3, b1=0.93266, b2=0.99552, weight_decay=wd),
    "prodigy": lambda wd: optax.contrib.prodigy(1.0, weight_decay=wd),
    "dadapt_adamw": lambda wd: optax.contrib.dadapt_adamw(1.0, weight_decay=wd),
    "dog": lambda wd: optax.contrib.dog(1.0, weight_decay=wd or None),
    "dowg": lambda wd: optax.contrib.dowg(1.0, weight_decay=wd or None),
    "cocob": lambda wd: optax.contrib.cocob(1.0, weight_decay=wd),
    "momo": lambda wd: optax.contrib.momo(1.0, weight_decay=wd),
    "momo_adam": lambda wd: optax.contrib.momo_adam(1e-2, weight_decay=wd),
    # Table 1's s_init 1e-8 (optax's own default is 1e-6).
    "mechanic_adamw": lambda wd: optax.contrib.mechanize(optax.adamw(1.0, weight_decay=wd),
                                                         s_init=1e-8),
    "schedule_free_adamw": lambda wd: optax.contrib.schedule_free_adamw(0.0025,
                                                                         weight_decay=wd),
}


@pytest.fixture
def float64():
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", previous)


@pytest.mark.parametrize("name", sorted(OPTAX_EQUIVALENTS))
def test_default_is_optax_contrib_arithmetic(name: str, float64):
    """With a schedule that never hits 0, each default is optax's function (float64)."""
    for wd in (0.0, 0.1):
        ours, needs_loss = _ours(name, wd)
        theirs = OPTAX_EQUIVALENTS[name](wd)
        _, w_ours, _ = _run(ours, 30, needs_loss)
        _, w_theirs, _ = _run(theirs, 30, needs_loss)
        assert w_ours.dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(w_ours), np.asarray(w_theirs), rtol=1e-10,
                                   atol=1e-14, err_msg=f"{name}, weight decay {wd}")


@pytest.mark.slow
def test_cli_multirun_with_loss_and_eval_params_optimizers(workdir):
    """``hpfree-train -m optimizer=momo,schedule_free_adamw``: the runner's generic hooks."""
    proc = hpfree(["-m", "optimizer=momo,schedule_free_adamw,prodigy", *FAST], workdir,
                  check=True)
    assert proc.stdout.count("[hpfree] completed:") == 3, proc.stdout + proc.stderr
    assert len(list(workdir.glob("sweeps/**/record.json"))) == 3
