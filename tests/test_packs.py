"""Reference packs (unlearn_bench/packs.py): export, verification, version checks, the Hub route through a local
stand-in, and end to end: a pack imported into an empty cache makes the same digits sweep train nothing and give
identical records."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from unlearn_bench import packs
from unlearn_bench.cache import file_sha256
from unlearn_bench.packs import PackError, export_pack, import_pack, main, references

ENTRIES = ("original/aaaa", "retrain/bbbb", "eval/cccc")


def fake_sweep(tmp_path: Path) -> tuple[Path, Path]:
    """A cache holding three entries and a sweep of two records that used them."""
    cache, sweep = tmp_path / "cacheA", tmp_path / "sweep"
    for entry in ENTRIES:
        for name in packs.entry_files(entry):
            path = cache / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if name.endswith(".pt") or name.endswith(".npz"):
                path.write_bytes(np.random.default_rng(len(name)).bytes(2048))
            else:
                path.write_text(json.dumps({"payload": {"seed": 0, "entry": entry}, "seconds": 12.5}))
    for run, used in (("r1", ENTRIES), ("r2", ENTRIES[:2])):
        (sweep / run).mkdir(parents=True)
        (sweep / run / "record.json").write_text(json.dumps({
            "run_key": run, "config": {"seed": 0, "method": {"name": run}},
            "extra": {"references": [{"entry": e} for e in used]}}))
    return cache, sweep


@pytest.mark.parametrize("name", ["pack", "pack.tar.gz", "pack.tar"])
def test_export_then_import_places_every_entry_byte_for_byte(tmp_path, name):
    cache, sweep = fake_sweep(tmp_path)
    manifest = export_pack(sweep, str(tmp_path / name), cache)
    assert sorted(manifest["entries"]) == sorted(ENTRIES) and sorted(manifest["configs"]) == ["r1", "r2"]
    assert manifest["entries"]["eval/cccc"]["runs"] == ["r1"]
    assert manifest["entries"]["original/aaaa"]["seconds"] == 12.5
    empty = tmp_path / "cacheB"
    done = import_pack(str(tmp_path / name), empty)
    assert sorted(done["imported"]) == sorted(ENTRIES) and done["present"] == []
    for entry in ENTRIES:
        for file in packs.entry_files(entry):
            assert file_sha256(empty / file) == file_sha256(cache / file)
    marked = references(empty, ["retrain/bbbb", "eval/cccc", "retrain/bbbb", "original/zzzz"])
    assert [r["entry"] for r in marked] == ["retrain/bbbb", "eval/cccc", "original/zzzz"]
    assert marked[0]["imported_from"]["pack"] == str(tmp_path / name) and "imported_from" not in marked[2]
    assert import_pack(str(tmp_path / name), empty)["present"] == sorted(ENTRIES)  # a second import keeps them


def test_a_corrupted_file_is_refused_by_name_and_nothing_is_placed(tmp_path, capsys):
    cache, sweep = fake_sweep(tmp_path)
    export_pack(sweep, str(tmp_path / "pack"), cache)
    broken = tmp_path / "pack" / "cache" / "eval" / "cccc" / "arrays.npz"
    data = bytearray(broken.read_bytes())
    data[100] ^= 0xFF
    broken.write_bytes(bytes(data))
    assert main(["--cache-dir", str(tmp_path / "cacheB"), "import", str(tmp_path / "pack")]) == 2
    assert "file cache/eval/cccc/arrays.npz is corrupted" in capsys.readouterr().err
    assert not (tmp_path / "cacheB" / "original" / "aaaa.pt").exists()  # verified before anything is placed
    data[100] ^= 0xFF
    broken.write_bytes(bytes(data))
    (tmp_path / "pack" / "cache" / "retrain" / "bbbb.pt").unlink()
    with pytest.raises(PackError, match="file cache/retrain/bbbb.pt is missing"):
        import_pack(str(tmp_path / "pack"), tmp_path / "cacheC")


def test_other_versions_are_refused_unless_allowed_and_the_records_say_so(tmp_path, monkeypatch):
    cache, sweep = fake_sweep(tmp_path)
    export_pack(sweep, str(tmp_path / "pack"), cache)
    here = packs.library_versions()
    monkeypatch.setattr(packs, "library_versions", lambda: {**here, "torch": "0.0.1"})
    with pytest.raises(PackError, match=r"torch .* \(here 0\.0\.1\).*--allow-version-mismatch"):
        import_pack(str(tmp_path / "pack"), tmp_path / "cacheB")
    assert not (tmp_path / "cacheB" / "retrain").exists()
    import_pack(str(tmp_path / "pack"), tmp_path / "cacheB", allow_version_mismatch=True)
    (marked,) = references(tmp_path / "cacheB", ["original/aaaa"])
    assert marked["imported_from"]["version_differences"] == [f"torch {here['torch']} (here 0.0.1)"]


def test_records_without_their_references_are_refused(tmp_path, capsys):
    cache, sweep = fake_sweep(tmp_path)
    record = json.loads((sweep / "r1" / "record.json").read_text())
    del record["extra"]["references"]
    (sweep / "r1" / "record.json").write_text(json.dumps(record))
    assert main(["--cache-dir", str(cache), "export", str(sweep), str(tmp_path / "pack")]) == 2
    assert "has no extra.references" in capsys.readouterr().err
    record["extra"]["references"] = [{"entry": e} for e in ENTRIES]
    (sweep / "r1" / "record.json").write_text(json.dumps(record))
    shutil.rmtree(cache / "eval")
    with pytest.raises(PackError, match="eval/cccc .used by run r1. is not in cache_dir"):
        export_pack(sweep, str(tmp_path / "pack2"), cache)
    (sweep / "r1").rename(tmp_path / "r1")  # r2 did not use eval/cccc
    assert export_pack(sweep, str(tmp_path / "pack3"), cache)["entries"].keys() == {"original/aaaa", "retrain/bbbb"}


class StandInHub:
    """What packs.py calls of huggingface_hub, on a local folder per repository (nothing leaves the machine). Every
    call is kept with its arguments, which the test binds to the real functions' signatures."""

    def __init__(self, root: Path):
        self.root, self.calls = root, []

    def api(self):
        hub = self

        class Api:
            def create_repo(self, *args, **kwargs):
                hub.calls.append(("create_repo", args, kwargs))
                (hub.root / args[0]).mkdir(parents=True, exist_ok=kwargs["exist_ok"])

            def upload_folder(self, *args, **kwargs):
                hub.calls.append(("upload_folder", args, kwargs))
                shutil.copytree(kwargs["folder_path"], hub.root / kwargs["repo_id"], dirs_exist_ok=True)

        return Api()

    def snapshot_download(self, *args, **kwargs):
        self.calls.append(("snapshot_download", args, kwargs))
        return str(self.root / kwargs["repo_id"])


def test_a_pack_goes_through_the_hub(tmp_path, monkeypatch):
    import inspect

    import huggingface_hub

    real = {"create_repo": huggingface_hub.HfApi.create_repo, "upload_folder": huggingface_hub.HfApi.upload_folder,
            "snapshot_download": huggingface_hub.snapshot_download}
    hub = StandInHub(tmp_path / "hub")
    monkeypatch.setattr(huggingface_hub, "HfApi", hub.api)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", hub.snapshot_download)
    cache, sweep = fake_sweep(tmp_path)
    export_pack(sweep, "hf://lab/refs", cache)
    assert (tmp_path / "hub" / "lab" / "refs" / "manifest.json").is_file()
    assert import_pack("hf://lab/refs@v1", tmp_path / "cacheB")["imported"] == sorted(ENTRIES)
    for name, args, kwargs in hub.calls:  # each call as the installed huggingface_hub accepts it
        bound = inspect.signature(real[name]).bind(*(["self"] if name != "snapshot_download" else []), *args,
                                                   **kwargs).arguments
        assert bound["repo_id"] == "lab/refs" and bound["repo_type"] == "dataset"
    assert [c[0] for c in hub.calls] == ["create_repo", "upload_folder", "snapshot_download"]
    assert hub.calls[2][2]["revision"] == "v1"
    with pytest.raises(PackError, match="hf://<owner>/<name>"):
        import_pack("hf://refs", tmp_path / "cacheC")


# --- end to end: a real (tiny, digits) sweep ------------------------------------------------------------------------

def sweep_runs(tmp_path: Path, cache: Path, name: str) -> list[dict]:
    from tests.test_launchers import TINY
    from unlearn_bench.compose import compose_config
    from unlearn_bench.runner import run

    for method in ("retrain", "ft"):
        tiny = [o for o in TINY if method != "retrain" or not o.startswith("method.")]  # Retrain has no epochs
        run(compose_config([*tiny, f"cache_dir={cache}", f"method={method}", "seed=0"]),
            output_dir=tmp_path / name / method)
    return [json.loads((tmp_path / name / m / "record.json").read_text()) for m in ("retrain", "ft")]


def cache_files(cache: Path) -> set[str]:
    return {p.relative_to(cache).as_posix() for kind in ("original", "retrain", "eval") if (cache / kind).exists()
            for p in (cache / kind).rglob("*") if p.is_file() and not p.name.endswith(".lock")}


@pytest.mark.slow
def test_an_imported_pack_makes_the_same_sweep_train_nothing_and_give_identical_records(tmp_path):
    first = sweep_runs(tmp_path, tmp_path / "cacheA", "sweepA")
    assert not first[0]["extra"]["retrain_cached"]  # the first sweep trained its references
    assert main(["--cache-dir", str(tmp_path / "cacheA"), "export", str(tmp_path / "sweepA"),
                 str(tmp_path / "refs.tar.gz")]) == 0
    assert main(["--cache-dir", str(tmp_path / "cacheB"), "import", str(tmp_path / "refs.tar.gz")]) == 0
    imported = cache_files(tmp_path / "cacheB")
    second = sweep_runs(tmp_path, tmp_path / "cacheB", "sweepB")
    assert cache_files(tmp_path / "cacheB") == imported  # nothing trained or evaluated anew
    for a, b in zip(first, second):
        assert b["extra"]["original_cached"] and b["extra"]["retrain_cached"]
        assert [r["entry"] for r in a["extra"]["references"]] == [r["entry"] for r in b["extra"]["references"]]
        assert all(r["imported_from"]["pack"] == str(tmp_path / "refs.tar.gz") for r in b["extra"]["references"])
        for key in ("run_key", "status", "metrics", "original_metrics", "retrain_metrics", "gaps", "avg_gap",
                    "forget_idx_sha256", "original_train_s", "retrain_train_s"):
            assert a[key] == b[key], key
    for method in ("retrain", "ft"):
        with np.load(tmp_path / "sweepA" / method / "arrays.npz") as x, \
                np.load(tmp_path / "sweepB" / method / "arrays.npz") as y:
            assert x.files == y.files and all(np.array_equal(x[k], y[k]) for k in x.files)
