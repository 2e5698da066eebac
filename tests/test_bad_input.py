"""Bad input fails before any training with one message that names the key (and the allowed values where
there is a list), exit status 2 and no Python traceback.

The CLI (``python -m unlearn_bench``) runs in-process, with training replaced by a tripwire, over
hypothesis-generated malformed overrides, over one example of each kind, and as a real process."""

from __future__ import annotations

import contextlib
import functools
import io
import math
import os
import runpy
import sys
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import unlearn_bench.pipelines.classifier as classifier
from tests.data.test_datasets import write_cifar
from tests.test_launchers import run_cli
from unlearn_bench.cache import ModelCache
from unlearn_bench.compose import compose_config
from unlearn_bench.config import CONF_DIR

GROUPS = ["data", "model", "method", "scenario", "train", "eval", "logger"]
PLUGIN_LAUNCHERS = {"basic", "joblib", "submitit_local", "submitit_slurm", "ray", "ray_aws"}
N_TRAIN = 1295  # digits: training examples after the 10% validation split
MISSING_DATA = ["cifar10", "cifar100", "cifar20", "svhn", "tiny_imagenet", "imagenette", "imagenet10"]
# (fashion_mnist is absent: with no files in data.root it reads Debian's copy, by design.)
YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "y", "n", "null", "none", "nan", "inf", "infinity"}


class ReachedTraining(BaseException):  # not an Exception: nothing on the way may swallow it
    pass


def options(group: str) -> set[str]:
    return {p.stem for p in (Path(CONF_DIR) / group).glob("*.yaml")}


def call_cli(overrides: list[str], tmp: Path) -> tuple[int | None, str]:
    """``python -m unlearn_bench overrides`` in this process: (exit status, stdout + stderr). Any attempt to
    build a model (original / Retrain) or train raises ReachedTraining."""

    def tripwire(*args, **kwargs):
        raise ReachedTraining(overrides)

    argv = ["unlearn_bench", *overrides, "progress=false", f"hydra.run.dir={tmp / 'run'}", "hydra.output_subdir=null"]
    out = io.StringIO()
    env = {"UNLEARN_BENCH_CACHE": str(tmp / "cache")}
    with mock.patch.object(sys, "argv", argv), mock.patch.dict(os.environ, env), \
            mock.patch.object(ModelCache, "load_or_build", tripwire), \
            mock.patch.object(classifier, "train_from_scratch", tripwire), \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            runpy.run_module("unlearn_bench", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as stop:
            code = stop.code
    return code, out.getvalue()


def check(case: tuple[list[str], list[str]], tmp: Path, paths: dict[str, str]) -> str | None:
    """None if the bad input is caught as promised, else what went wrong."""
    def fill(text: str) -> str:
        for name, path in paths.items():
            text = text.replace("{" + name + "}", path)
        return text

    overrides, expected = [fill(o) for o in case[0]], [fill(e) for e in case[1]]
    try:
        code, text = call_cli(overrides, tmp)
    except ReachedTraining:
        return f"{overrides}: reached training"
    if code != 2:
        return f"{overrides}: exit status {code}\n{text[-2000:]}"
    if "Traceback" in text:
        return f"{overrides}: traceback\n{text[-2000:]}"
    missing = [e for e in expected if e not in text]
    if missing:
        return f"{overrides}: message does not name {missing}\n{text[-2000:]}"
    if (tmp / "cache").exists():
        return f"{overrides}: wrote to the cache"
    return None


# --- strategies: each draws (overrides, substrings the message must contain) --------------------------------------

ident = st.from_regex(r"[a-z][a-z0-9_]{1,10}", fullmatch=True).filter(lambda s: s not in YAML_WORDS)
word_value = ident.map(str)
list_value = st.lists(st.integers(-3, 30), max_size=3).map(lambda v: "[" + ",".join(map(str, v)) + "]")
dict_value = ident.map(lambda k: "{" + k + ":1}")
fraction = st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: x != int(x)).map(repr)


@st.composite
def unknown_group_option(draw):
    group = draw(st.sampled_from([*GROUPS, "hydra/launcher"]))
    known = options(group) | (PLUGIN_LAUNCHERS if group == "hydra/launcher" else set())
    name = draw(ident.filter(lambda s: s not in known and not s.startswith("base_")))
    if group == "hydra/launcher":  # Hydra's own group: its message
        return [f"{group}={name}"], [f"{group}/{name}", "Available options"]
    return [f"{group}={name}"], [f"{group}={name} is not an option of {group}", "--help"]


@functools.cache
def default_config():
    return compose_config([])


@st.composite
def unknown_key(draw):
    cfg = default_config()
    group = draw(st.sampled_from(["", *GROUPS]))
    known = set(cfg[group].keys()) if group else {*cfg.keys(), "hydra", "experiment", "local"}
    key = draw(ident.filter(lambda s: s not in known))
    full = f"{group}.{key}" if group else key
    return [f"{full}=1"], [full]


TYPED = {"seed": "int", "train.epochs": "int", "train.batch_size": "int", "model.width": "int",
         "scenario.class_index": "int", "method.epochs": "int", "train.lr": "float", "train.momentum": "float",
         "scenario.ratio": "float", "method.lr": "float", "skip_existing": "bool", "progress": "bool",
         "train.hflip": "bool", "eval.mia.enabled": "bool", "device": "str", "cache_dir": "str"}


@st.composite
def wrong_type(draw):
    key = draw(st.sampled_from(sorted(TYPED)))
    kind = TYPED[key]
    values = [list_value, dict_value] + ([word_value] if kind != "str" else []) + ([fraction] if kind == "int" else [])
    value = draw(st.one_of(values))
    scenario = ["scenario=classwise"] if key == "scenario.class_index" else []
    return [*scenario, f"{key}={value}"], [key]


def fmt(x: float) -> str:
    return "nan" if math.isnan(x) else repr(x)


impossible_scenario = st.one_of(
    st.integers().filter(lambda i: not 0 <= i < 10).map(
        lambda i: (["scenario=classwise", f"scenario.class_index={i}"], ["scenario.class_index", "[0, 9]"])),
    st.integers().filter(lambda i: not 0 <= i < 10).map(
        lambda i: (["scenario=partial_class", f"scenario.class_index={i}"], ["scenario.class_index"])),
    st.one_of(st.floats(max_value=0), st.floats(min_value=1), st.just(math.nan)).map(
        lambda r: ([f"scenario.ratio={fmt(r)}"], ["scenario.ratio", "(0, 1)"])),
    st.floats(min_value=1e-12, max_value=3e-4).map(  # a forget set that rounds to no example
        lambda r: ([f"scenario.ratio={fmt(r)}"], ["scenario.ratio"])),
    st.one_of(st.integers(max_value=0), st.integers(min_value=N_TRAIN)).map(
        lambda n: (["scenario=random_n10", f"scenario.size={n}"], ["scenario.size"])),
    st.one_of(
        st.just([]),
        st.lists(st.integers(0, 9), min_size=2, max_size=5).filter(lambda c: len(set(c)) < len(c)),
        st.lists(st.integers(0, 9), min_size=1, max_size=3, unique=True).flatmap(
            lambda c: st.integers().filter(lambda i: not 0 <= i < 10).map(lambda bad: [*c, bad])),
        st.permutations(list(range(10))),  # every class
    ).map(lambda c: (["scenario=multiclass", f"scenario.classes=[{','.join(map(str, c))}]"], ["scenario.classes"])),
    ident.map(lambda s: (["scenario=subclass", f"scenario.subclass={s}"], ["scenario=subclass", "sub-class"])),
    ident.filter(lambda s: not (s[0] == "c" and s[1:].isdigit())).map(  # the fake CIFAR-100 classes are c0..c99
        lambda s: (["data=cifar20", "data.root={cifar}", "data.verify_files=false", "scenario=subclass",
                    f"scenario.subclass={s}"], ["scenario.subclass", "allowed"])),
)

missing_data_root = st.tuples(st.sampled_from(MISSING_DATA), ident).map(
    lambda t: ([f"data={t[0]}", f"data.root={{tmp}}/missing/{t[1]}"], ["data.root", f"data={t[0]}"]))
unusable_cache_dir = ident.map(lambda s: ([f"cache_dir={{a_file}}/{s}"], ["cache_dir", "UNLEARN_BENCH_CACHE"]))

out_of_range = st.one_of(
    st.tuples(st.sampled_from(["train.epochs", "train.batch_size", "eval.batch_size", "model.width",
                               "method.batch_size"]), st.integers(max_value=0)).map(
        lambda t: ([f"{t[0]}={t[1]}"], [t[0]])),
    st.one_of(st.floats(max_value=0), st.just(math.nan), st.just(math.inf)).map(
        lambda lr: ([f"train.lr={fmt(lr)}"], ["train.lr"])),
)

unknown_value = st.one_of(
    ident.filter(lambda s: s not in {"auto", "cpu"} and not s.startswith("cuda")).map(
        lambda s: ([f"device={s}"], ["device", "allowed"])),
    ident.filter(lambda s: s not in {"auto", "small_cnn", "resnet18", "resnet50", "vgg11_bn", "vgg16_bn"}).map(
        lambda s: ([f"model.name={s}"], ["model", "allowed"])),
    ident.filter(lambda s: s not in {"cosine", "multistep", "constant"}).map(
        lambda s: ([f"train.schedule={s}"], ["train.schedule", "allowed"])),
    ident.filter(lambda s: s not in {"none", "gaussian", "pgd"}).map(
        lambda s: ([f"eval.shift.kind={s}"], ["eval.shift.kind", "allowed"])),
    ident.filter(lambda s: s not in {"random", "classwise", "multiclass", "partial_class", "subclass"}).map(
        lambda s: ([f"scenario.kind={s}"], ["scenario.kind", "allowed"])),
)

bad_syntax = st.sampled_from([
    (["method=="], ["method=="]), (["=ft"], ["=ft"]), (["train.lr=[1,"], ["train.lr=[1,"]), (["seed=1)"], ["seed=1)"]),
    (["data=cifar10)"], ["data=cifar10)"]), (["scenario.ratio={"], ["scenario.ratio={"]), (["seed=???"], ["seed"]),
    (["cache_dir=${oc.env:UNLEARN_BENCH_NO_SUCH_VARIABLE}"], ["cache_dir", "UNLEARN_BENCH_NO_SUCH_VARIABLE"]),
])

MALFORMED = st.one_of(unknown_group_option(), unknown_key(), wrong_type(), impossible_scenario, missing_data_root,
                      unusable_cache_dir, out_of_range, unknown_value, bad_syntax)


@pytest.fixture(scope="module")
def paths(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("bad_input")
    write_cifar(root / "cifar", "cifar-100-python", 200, "fine_labels", 100, ["train"])
    write_cifar(root / "truncated", "cifar-10-batches-py", 20, "labels", 10, [f"data_batch_{i}" for i in range(1, 6)])
    batch = root / "truncated" / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:1000])  # a download cut short
    (root / "a_file").write_text("not a folder")
    return {"cifar": str(root / "cifar"), "truncated": str(root / "truncated"), "a_file": str(root / "a_file"),
            "tmp": str(root)}


def run_property(paths: dict[str, str], tmp: Path, max_examples: int) -> None:
    tally = {"tried": 0, "caught": 0, "distinct": set(), "problems": []}

    # No explain phase: it traces the test, and Hydra re-raises errors instead of reporting them under a tracer
    # (it takes the tracer for a debugger).
    @settings(max_examples=max_examples, deadline=None, database=None, suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink])
    @given(case=MALFORMED)
    def prop(case):
        tally["tried"] += 1
        tally["distinct"].add(tuple(case[0]))
        problem = check(case, tmp / str(tally["tried"]), paths)
        if problem:
            tally["problems"].append(problem)
        tally["caught"] += problem is None
        assert problem is None, problem

    prop()
    print(f"\nbad inputs tried: {tally['tried']} ({len(tally['distinct'])} distinct), caught: {tally['caught']}")
    assert tally["tried"] == tally["caught"] and not tally["problems"]


def test_malformed_overrides_exit_2_naming_the_key(paths, tmp_path):
    run_property(paths, tmp_path, max_examples=20)


@pytest.mark.slow  # ~3 min
def test_many_malformed_overrides_exit_2_naming_the_key(paths, tmp_path):
    run_property(paths, tmp_path, max_examples=200)


EXAMPLES = {  # one of each kind the issue lists, with what the message must name
    "unknown group option": (["method=salun_typo"], ["method=salun_typo is not an option", "did you mean salun"]),
    "unknown key added": (["+method.lr_typo=0.1"], ["method.lr_typo is not a setting", "allowed: ", ", lr, "]),
    "unknown key": (["train.lrr=0.1"], ["train.lrr"]),
    "wrong type": (["train.epochs=many"], ["train.epochs"]),
    "class out of range": (["scenario=classwise", "scenario.class_index=10"], ["scenario.class_index", "[0, 9]"]),
    "ratio outside (0,1)": (["scenario.ratio=1.5"], ["scenario.ratio", "(0, 1)"]),
    "empty forget set": (["scenario.ratio=0.0001"], ["scenario.ratio", "0 of 1295"]),
    "empty class list": (["scenario=multiclass", "scenario.classes=[]"], ["scenario.classes"]),
    "sub-class not in dataset": (["data=cifar20", "data.root={cifar}", "data.verify_files=false", "scenario=subclass",
                                  "scenario.subclass=rokcet"], ["scenario.subclass='rokcet'", "allowed", "c99"]),
    "sub-class of a dataset without": (["scenario=subclass", "scenario.subclass=rocket"], ["sub-class labels"]),
    "missing data root": (["data=cifar10", "data.root={tmp}/nowhere"], ["data.root", "cifar-10-python.tar.gz"]),
    "cache dir under a file": (["cache_dir={a_file}/cache"], ["cache_dir", "is not a folder"]),
    "unknown schedule": (["train.schedule=cosin"], ["train.schedule", "allowed: cosine"]),
    # Ranges of the typed schemas (config.RANGES), one per kind of bound:
    "negative epochs": (["method.epochs=-1"], ["method.epochs=-1 must be >= 1"]),
    "NaN learning rate": (["method.lr=nan"], ["method.lr=nan must be > 0 and finite"]),
    "negative learning rate": (["method.lr=-0.1"], ["method.lr=-0.1 must be > 0 and finite"]),
    "infinite train rate": (["train.lr=inf"], ["train.lr=inf must be > 0 and finite"]),
    "negative seed": (["seed=-1"], ["seed=-1 must be in [0, 4294967295]"]),
    "momentum of 1": (["train.momentum=1.0"], ["train.momentum=1.0 must be in [0, 1) and finite"]),
    "share of 0": (["method=bad_teacher", "method.retain_fraction=0"],
                   ["method.retain_fraction=0.0 must be in (0, 1] and finite"]),
    "NaN of an unbounded float": (["method=rl", "method.alpha=nan"], ["method.alpha=nan must be finite"]),
    "truncated dataset file": (["data=cifar10", "data.root={truncated}", "data.verify_files=false"],
                               ["{truncated}/cifar-10-batches-py/data_batch_3", "truncated"]),
    "a copy that is not the released file": (["data=cifar20", "data.root={cifar}"],
                                             ["{cifar}/cifar-100-python/train", "data.verify_files=false"]),
}


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_each_kind_of_bad_input_is_caught_before_training(kind, paths, tmp_path):
    assert check(EXAMPLES[kind], tmp_path, paths) is None


UNREAD = {  # an eval option the task's pipeline does not read: exit 2 naming it, its value and what the task reads
    "shift preset": (["task=generation", "eval=gn1"],
                     ["task=generation does not read eval.shift.kind='gaussian'", "reads eval.batch_size, "
                      "eval.save_arrays"]),
    "bogus shift kind": (["task=generation", "eval.shift.kind=bogus"], ["eval.shift.kind='bogus'", "default ('none')"]),
    "metric group": (["task=generation", "eval.metrics=[jit]"], ["eval.metrics=['jit']"]),
    "every epoch": (["task=generation", "eval.every_epoch=true"], ["eval.every_epoch=True"]),
    "attacks": (["task=generation", "eval=deep"], ["eval.relearn.enabled=True"]),
    "SD batch size": (["task=generation_sd", "task.pipeline=tiny", "eval.batch_size=64"],
                      ["task=generation_sd does not read eval.batch_size=64", "reads eval.save_arrays"]),
    "SD membership inference": (["task=generation_sd", "task.pipeline=tiny", "eval.mia.enabled=false"],
                                ["eval.mia.enabled=False"]),
}


@pytest.mark.parametrize("kind", sorted(UNREAD))
def test_a_task_refuses_the_eval_options_it_does_not_read(kind, paths, tmp_path):
    assert check(UNREAD[kind], tmp_path, paths) is None


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes any folder")
def test_unreadable_cache_dir_is_caught_before_training(paths, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o000)
    try:
        case = ([f"cache_dir={locked}/cache"], ["cache_dir", "not readable and writable"])
        assert check(case, tmp_path, paths) is None
    finally:
        locked.chmod(0o700)


def test_an_output_folder_that_cannot_be_created_exits_2_with_one_line(paths, tmp_path):
    """Hydra creates the job folder before any job starts; it fails there with a traceback, which ``cli`` replaces
    (a path under a file: even root cannot create it)."""
    out = run_cli([f"hydra.run.dir={paths['a_file']}/run"], tmp_path / "cache", timeout=120)
    text = out.stdout + out.stderr
    assert out.returncode == 2 and "Traceback" not in text
    assert f"output folder '{paths['a_file']}/run' cannot be created or written" in text and "hydra.run.dir" in text


@pytest.mark.parametrize("overrides,expected", [
    (["method=does_not_exist"], "method=does_not_exist is not an option of method"),  # before composing
    (["data.root=x", "+train.lr_typo=1"], "train.lr_typo is not a setting of TrainConfig"),  # a key nothing reads
    (["scenario=classwise", "scenario.class_index=12"], "scenario.class_index=12 must be in [0, 9]"),  # ours
])
def test_cli_process_exits_2_with_one_message(overrides, expected, tmp_path):
    out = run_cli([*overrides, f"hydra.run.dir={tmp_path / 'run'}"], tmp_path / "cache", timeout=120)
    assert out.returncode == 2
    assert expected in out.stdout + out.stderr and "Traceback" not in out.stdout + out.stderr
    assert not (tmp_path / "cache").exists()
