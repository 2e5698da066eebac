"""Reference packs: the cached references a sweep used, to pass to another machine or lab, so that the same sweep there
trains none of them (``python -m unlearn_bench.cache export|import``).

    python -m unlearn_bench.cache export outputs/multirun/<date>/<time> refs.tar.gz   # or a folder, or hf://<repo>
    python -m unlearn_bench.cache import refs.tar.gz [--allow-version-mismatch]       # into cache_dir

A run's record lists the cache entries it loaded or built (``extra.references``: ``<kind>/<key>``, from
``cache.USED``): the original, Retrain, their evaluations (metrics and per-example logits), reference populations
(U-LiRA shadows, KLoM's and the challenge's models), chained rounds. ``export`` collects the entries of every record
under a sweep folder into a pack: ``cache/<the entry's files, as in the cache>`` and ``manifest.json`` with, per
entry, its files' SHA-256 and sizes, the payload it was built from (models: the config subtree its key hashes),
its build seconds and the runs that used it; the records' configs by run key; the library versions and a digest of
the package's code. A pack is a folder, a tar archive (``.tar``, ``.tar.gz``, ``.tgz``) or a Hugging Face Hub
dataset repository (``hf://<owner>/<name>[@<revision>]``, through ``huggingface_hub``).

``import`` verifies every file's SHA-256 before placing any (a corrupted file is refused, named), refuses a pack made
with other library versions or other code unless ``--allow-version-mismatch``, places each entry under its key
(model files before the metadata that marks them complete, under the cache's own locks) and leaves an entry the cache
already holds as it is. It writes ``<cache_dir>/imports/<kind>/<key>.json`` (the pack, its manifest's SHA-256, the
version differences allowed), so the record of a run that uses an imported reference says so
(``extra.references``: ``{"entry": ..., "imported_from": {...}}``).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import shutil
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from filelock import FileLock

from unlearn_bench.cache import MANIFEST as ENTRY_MANIFEST
from unlearn_bench.cache import atomic_write_bytes, atomic_write_json, file_sha256
from unlearn_bench.errors import UserInputError
from unlearn_bench.results import RECORD_FILE

MANIFEST = "manifest.json"
PACK_FORMAT = 1
HUB = "hf://"
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz")
IMPORTS = "imports"  # <cache_dir>/imports/<kind>/<key>.json: where an imported entry came from
LIBRARIES = ("torch", "numpy", "scikit-learn", "hydra-core")  # what a reference's numbers depend on besides the code


class PackError(UserInputError):
    """A pack that cannot be exported or imported as asked; the message names the file or the difference."""


def library_versions() -> dict[str, str]:
    """The versions a record and a pack carry: the package's and those of ``LIBRARIES``."""
    import torch

    import unlearn_bench

    found = {"unlearn_bench": unlearn_bench.__version__}
    for name in LIBRARIES:
        found[name] = torch.__version__ if name == "torch" else importlib.metadata.version(name)
    return found


def code_digest() -> str:
    """SHA-256 over the package's Python files (path and content, in path order): the code a reference came from."""
    root = Path(__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def entry_files(entry: str) -> list[str]:
    """An entry's files relative to the cache, the one that marks it complete last."""
    kind, key = entry.split("/", 1)
    if kind == "eval":  # the digest manifest last: the cache reads an evaluation only when it is there
        return [f"eval/{key}/arrays.npz", f"eval/{key}/metrics.json", f"eval/{key}/{ENTRY_MANIFEST}"]
    return [f"{kind}/{key}.pt", f"{kind}/{key}.json"]


def _lock(cache_root: Path, entry: str) -> FileLock:
    """The lock the cache itself takes for this entry (cache.ModelCache.load_or_build, cache.cached_evaluation)."""
    kind, key = entry.split("/", 1)
    return FileLock(str(cache_root / "eval" / key) + ".lock" if kind == "eval" else str(cache_root / kind / key)
                    + ".pt.lock")


def references(cache_dir: str | os.PathLike, used: Iterable[str]) -> list[dict]:
    """A record's ``extra.references``: each entry once, in first use order, with ``imported_from`` where a pack
    placed it."""
    out = []
    for entry in dict.fromkeys(used):
        marker = Path(cache_dir) / IMPORTS / f"{entry}.json"
        out.append({"entry": entry, **({"imported_from": json.loads(marker.read_text())} if marker.is_file() else {})})
    return out


def sweep_entries(sweep: Path) -> tuple[dict[str, list[str]], dict[str, dict]]:
    """(entry -> run keys that used it, run key -> config) of every record under ``sweep``."""
    records = sorted(sweep.rglob(RECORD_FILE))
    if not records:
        raise PackError(f"export: no {RECORD_FILE} under {sweep}; give a sweep folder (e.g. outputs/multirun/...)")
    entries: dict[str, list[str]] = {}
    configs = {}
    for path in records:
        record = json.loads(path.read_text())
        listed = record.get("extra", {}).get("references")
        if listed is None:
            raise PackError(f"export: {path} has no extra.references (made before records listed their references); "
                            "rerun its sweep with skip_existing=false to record them (cached references are loaded, "
                            "not trained)")
        configs[record["run_key"]] = record["config"]
        for item in listed:
            runs = entries.setdefault(item["entry"], [])
            if record["run_key"] not in runs:
                runs.append(record["run_key"])
    return entries, configs


def export_pack(sweep: str | os.PathLike, pack: str, cache_dir: str | os.PathLike) -> dict:
    """Write the pack of ``sweep``'s references from ``cache_dir`` to ``pack`` (folder, tar archive or ``hf://``).
    Returns the manifest."""
    cache_root = Path(cache_dir)
    entries, configs = sweep_entries(Path(sweep))
    with tempfile.TemporaryDirectory(prefix="pack.") as tmp:
        folder = Path(tmp) / "pack" if pack.startswith(HUB) or pack.endswith(TAR_SUFFIXES) else Path(pack)
        if folder.exists() and any(folder.iterdir()):
            raise PackError(f"export: {folder} exists and is not empty; give a new folder")
        manifest = {"format": PACK_FORMAT, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                    "source": Path(sweep).resolve().name, "versions": library_versions(), "code": code_digest(),
                    "entries": {}, "configs": configs}
        for entry, runs in sorted(entries.items()):
            files = {}
            for name in entry_files(entry):
                source = cache_root / name
                if not source.is_file():
                    raise PackError(f"export: {entry} (used by run {runs[0]}) is not in cache_dir={cache_dir}: "
                                    f"{name} is missing")
                target = folder / "cache" / name
                target.parent.mkdir(parents=True, exist_ok=True)
                with _lock(cache_root, entry):
                    shutil.copyfile(source, target)
                files[name] = {"sha256": file_sha256(target), "bytes": target.stat().st_size}
            info = {"files": files, "runs": runs}
            if not entry.startswith("eval/"):
                meta = json.loads((folder / "cache" / entry_files(entry)[1]).read_text())
                info.update(payload=meta.get("payload"), seconds=meta.get("seconds"))
            manifest["entries"][entry] = info
        atomic_write_json(folder / MANIFEST, manifest)
        if pack.endswith(TAR_SUFFIXES):
            Path(pack).parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(Path(pack), lambda f: _tar(folder, f, pack))
        elif pack.startswith(HUB):
            _hub_upload(folder, pack)
    return manifest


def _tar(folder: Path, file: object, name: str) -> None:
    with tarfile.open(fileobj=file, mode="w:gz" if name.endswith(("gz", "tgz")) else "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.add(path, arcname=path.relative_to(folder).as_posix())


def _hub_repo(pack: str) -> tuple[str, str | None]:
    repo, _, revision = pack.removeprefix(HUB).partition("@")
    if repo.count("/") != 1:
        raise PackError(f"pack={pack!r}: a Hub pack is hf://<owner>/<name>[@<revision>]")
    return repo, revision or None


def _hub_upload(folder: Path, pack: str) -> None:
    import huggingface_hub

    repo, revision = _hub_repo(pack)
    api = huggingface_hub.HfApi()
    api.create_repo(repo, repo_type="dataset", exist_ok=True)
    api.upload_folder(folder_path=str(folder), repo_id=repo, repo_type="dataset", revision=revision,
                      commit_message=f"unlearn_bench reference pack ({len(list(folder.rglob('*')))} files)")


def _fetch(pack: str, tmp: Path) -> Path:
    """The pack as a local folder: itself, its tar archive extracted, or its Hub snapshot downloaded."""
    if pack.startswith(HUB):
        import huggingface_hub

        repo, revision = _hub_repo(pack)
        return Path(huggingface_hub.snapshot_download(repo_id=repo, repo_type="dataset", revision=revision))
    path = Path(pack)
    if path.is_dir():
        return path
    if path.is_file() and pack.endswith(TAR_SUFFIXES):
        try:
            with tarfile.open(path) as archive:
                archive.extractall(tmp, filter="data")  # no links, absolute paths or paths out of tmp
        except (tarfile.TarError, OSError, EOFError) as err:
            raise PackError(f"import: {pack} is not a readable tar archive ({err})") from err
        return tmp
    raise PackError(f"import: pack={pack!r} is neither a folder, a tar archive ({', '.join(TAR_SUFFIXES)}) nor "
                    f"{HUB}<owner>/<name>")


def version_differences(manifest: dict) -> list[str]:
    """How the pack's library versions and code differ from this installation's."""
    here = library_versions()
    out = [f"{name} {manifest['versions'].get(name)} (here {version})" for name, version in here.items()
           if manifest["versions"].get(name) != version]
    if manifest.get("code") != code_digest():
        out.append(f"code {str(manifest.get('code'))[:12]} (here {code_digest()[:12]})")
    return out


def import_pack(pack: str, cache_dir: str | os.PathLike, allow_version_mismatch: bool = False) -> dict[str, list]:
    """Verify ``pack`` and place its entries in ``cache_dir``. Returns {"imported": [...], "present": [...]}."""
    cache_root = Path(cache_dir)
    with tempfile.TemporaryDirectory(prefix="pack.") as tmp:
        folder = _fetch(pack, Path(tmp))
        try:
            manifest_bytes = (folder / MANIFEST).read_bytes()
            manifest = json.loads(manifest_bytes)
        except (OSError, ValueError) as err:
            raise PackError(f"import: {pack} has no readable {MANIFEST} ({err})") from err
        if manifest.get("format") != PACK_FORMAT:
            raise PackError(f"import: {pack}: pack format {manifest.get('format')!r}; this version reads "
                            f"{PACK_FORMAT}")
        differences = version_differences(manifest)
        if differences and not allow_version_mismatch:
            raise PackError(f"import: {pack} was made with {'; '.join(differences)}; its references may not be "
                            "what this installation computes: pass --allow-version-mismatch to import it anyway")
        for entry, info in manifest["entries"].items():  # every digest before any file is placed
            if set(entry_files(entry)) != set(info["files"]):
                raise PackError(f"import: {pack}: entry {entry} lists {sorted(info['files'])}, not its files")
            for name, expected in info["files"].items():
                path = folder / "cache" / name
                if not path.is_file():
                    raise PackError(f"import: {pack}: file cache/{name} is missing")
                if file_sha256(path) != expected["sha256"]:
                    raise PackError(f"import: {pack}: file cache/{name} is corrupted (SHA-256 differs from the "
                                    "manifest's); nothing imported")
        marker = {"pack": pack, "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
                  "imported": time.strftime("%Y-%m-%dT%H:%M:%S"), "version_differences": differences}
        done: dict[str, list] = {"imported": [], "present": []}
        for entry in sorted(manifest["entries"]):
            complete = cache_root / entry_files(entry)[-1]
            (cache_root / entry.split("/")[0]).mkdir(parents=True, exist_ok=True)
            with _lock(cache_root, entry):
                if complete.is_file():  # the cache's own copy wins: runs recorded with it stay consistent
                    done["present"].append(entry)
                    continue
                for name in entry_files(entry):  # the file marking the entry complete is last
                    source = folder / "cache" / name
                    with open(source, "rb") as src:
                        atomic_write_bytes(cache_root / name, lambda f, src=src: shutil.copyfileobj(src, f))
            atomic_write_json(cache_root / IMPORTS / f"{entry}.json", marker)
            done["imported"].append(entry)
    return done


def pack_bytes(manifest: dict) -> int:
    return sum(f["bytes"] for info in manifest["entries"].values() for f in info["files"].values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m unlearn_bench.cache", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache-dir", default=os.environ.get("UNLEARN_BENCH_CACHE", ".cache/unlearn_bench"),
                        help="the cache (default: $UNLEARN_BENCH_CACHE, else .cache/unlearn_bench, as cache_dir)")
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="write the references of a sweep's records into a pack")
    export.add_argument("sweep", help="a folder of run records (a sweep or multirun folder)")
    export.add_argument("pack", help="a new folder, a .tar/.tar.gz/.tgz file or hf://<owner>/<name>[@<revision>]")
    load = commands.add_parser("import", help="verify a pack and place its references in the cache")
    load.add_argument("pack")
    load.add_argument("--allow-version-mismatch", action="store_true",
                      help="import a pack made with other library versions or code (the records say so)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        if args.command == "export":
            manifest = export_pack(args.sweep, args.pack, args.cache_dir)
            print(f"exported {len(manifest['entries'])} entries ({pack_bytes(manifest) / 2**20:.1f} MiB, built in "
                  f"{sum(i.get('seconds') or 0 for i in manifest['entries'].values()):.0f} s) of "
                  f"{len(manifest['configs'])} runs to {args.pack} in {time.perf_counter() - start:.1f} s")
        else:
            done = import_pack(args.pack, args.cache_dir, args.allow_version_mismatch)
            print(f"imported {len(done['imported'])} entries into {args.cache_dir} ({len(done['present'])} already "
                  f"there, kept) in {time.perf_counter() - start:.1f} s")
    except PackError as err:
        print(err, file=sys.stderr)
        return 2
    return 0
