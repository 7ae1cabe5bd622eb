"""The distributions: what the sdist and the wheel hold, and the wheel installed in fresh venvs.

The tests marked slow (``-m "not slow"`` leaves them out) build with ``python -m build`` as ``make dist`` does
and installs from the package index, which pip's cache makes quick after the first run.
"""

from __future__ import annotations

import email.parser
import json
import shutil
import subprocess
import sys
import tarfile
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

import smimecore
from smimecore.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
VERSION = PROJECT["version"]
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "site", "out", "*.egg-info", "__pycache__", ".*_cache",
    ".hypothesis",
)  # fmt: skip
# What smimecore imports from pyhanko-certvalidator's own requirements when it never fetches.
OFFLINE_REQUIREMENTS = ("cryptography", "asn1crypto", "uritools")


def run(*command: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command; fail the test with its output when it fails."""
    done = subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
        check=False,
    )
    assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"
    return done


def test_the_version_comes_from_the_package_metadata() -> None:
    assert smimecore.__version__ == VERSION


def test_smimecore_version_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"smimecore {VERSION}\n"


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sdist and the wheel, built from a copy of the source tree (the wheel from the sdist)."""
    scratch = tmp_path_factory.mktemp("dist")
    source = scratch / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES)
    run(sys.executable, "-m", "build", "--outdir", scratch / "out", source)
    [sdist] = (scratch / "out").glob("*.tar.gz")
    [wheel] = (scratch / "out").glob("*.whl")
    return {"sdist": sdist, "wheel": wheel}


def fresh_venv(directory: Path) -> Path:
    """A new venv without smimecore; returns its bin directory."""
    venv.create(directory, with_pip=True)
    return directory / "bin"


def pip_install(bin_directory: Path, *arguments: str | Path) -> None:
    run(bin_directory / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *arguments)  # fmt: skip


def installed(bin_directory: Path) -> set[str]:
    listing = run(bin_directory / "python", "-m", "pip", "list", "--format=json", "--disable-pip-version-check")  # fmt: skip
    return {entry["name"].lower() for entry in json.loads(listing.stdout)} - {"pip", "setuptools"}


def wheel_metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        name = f"smimecore-{VERSION}.dist-info/METADATA"
        return email.parser.Parser().parsestr(archive.read(name).decode())


@pytest.mark.slow
def test_the_sdist_holds_the_docs_tests_and_examples(dists: dict[str, Path]) -> None:
    prefix = f"smimecore-{VERSION}/"
    with tarfile.open(dists["sdist"]) as archive:
        names = {name.removeprefix(prefix) for name in archive.getnames()}
    for folder in ("docs", "tests", "examples", "smimecore"):
        expected = {
            path.relative_to(ROOT).as_posix()
            for path in (ROOT / folder).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts
        }
        assert expected <= names, sorted(expected - names)
    assert {"LICENSE", "CHANGELOG.md", "README.md", "mkdocs.yml", "pyproject.toml"} <= names
    assert not any(name.startswith((".venv", "site/", "dist/")) for name in names)


@pytest.mark.slow
def test_the_wheel_holds_the_package_and_its_licence(dists: dict[str, Path]) -> None:
    with zipfile.ZipFile(dists["wheel"]) as archive:
        names = set(archive.namelist())
    assert {"smimecore/__init__.py", "smimecore/py.typed"} <= names
    assert f"smimecore-{VERSION}.dist-info/licenses/LICENSE" in names
    assert not any(name.startswith(("tests/", "docs/", "examples/")) for name in names)


@pytest.mark.slow
def test_the_wheel_metadata_is_complete(dists: dict[str, Path]) -> None:
    metadata = wheel_metadata(dists["wheel"])
    assert metadata["Name"] == "smimecore"
    assert metadata["Version"] == VERSION
    assert metadata["License-Expression"] == "MIT"
    assert metadata["License-File"] == "LICENSE"
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert metadata["Requires-Python"] == ">=3.11"
    assert "smime" in metadata["Keywords"].split(",")
    assert "Typing :: Typed" in metadata.get_all("Classifier", [])
    urls = {entry.split(",")[0] for entry in metadata.get_all("Project-URL", [])}
    assert {"Homepage", "Documentation", "Source", "Issues", "Changelog"} <= urls
    assert {"fetch", "test", "docs", "dist"} <= set(metadata.get_all("Provides-Extra", []))
    assert metadata.get_payload().startswith("# smimecore")


@pytest.mark.slow
def test_the_installed_wheel_runs_the_demo(dists: dict[str, Path], tmp_path: Path) -> None:
    bin_directory = fresh_venv(tmp_path / "venv")
    pip_install(bin_directory, dists["wheel"])
    assert {"smimecore", "pyhanko-certvalidator", "aiohttp"} <= installed(bin_directory)

    version = run(bin_directory / "smimecore", "--version", cwd=tmp_path)
    assert version.stdout == f"smimecore {VERSION}\n"
    demo = run(bin_directory / "smimecore", "demo", cwd=tmp_path)
    assert demo.stdout.endswith("demo: every step behaved as expected\n")
    fetching = run(bin_directory / "python", "-c", _FETCHING_CONFIG, tmp_path, cwd=tmp_path)
    assert fetching.stdout == "fetching can be configured\n"


@pytest.mark.slow
def test_without_the_http_stack_everything_but_fetching_works(
    dists: dict[str, Path], tmp_path: Path
) -> None:
    """pyhanko-certvalidator requires aiohttp, but smimecore's offline use never imports it."""
    bin_directory = fresh_venv(tmp_path / "venv")
    pip_install(bin_directory, "--no-deps", dists["wheel"], "pyhanko-certvalidator")
    pip_install(bin_directory, *OFFLINE_REQUIREMENTS)
    present = installed(bin_directory)
    assert not present & {"aiohttp", "certifi", "oscrypto", "requests", "yarl", "multidict"}

    demo = run(bin_directory / "smimecore", "demo", cwd=tmp_path)
    assert demo.stdout.endswith("demo: every step behaved as expected\n")
    fetching = subprocess.run(
        [bin_directory / "python", "-c", _FETCHING_CONFIG, tmp_path],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert fetching.returncode == 3, fetching.stdout + fetching.stderr
    assert fetching.stdout == (
        "allow_fetching: configuration option 'allow_fetching': needs aiohttp, certifi: "
        "install smimecore[fetch] (or turn fetching off)\n"
    )


# Run in the venv under test with a scratch directory as argument: configures revocation fetching.
_FETCHING_CONFIG = """
import sys
from pathlib import Path
from smimecore import SMIME, Config, ConfigError
from smimecore.demo.pki import DemoPKI

ca = Path(sys.argv[1]) / "ca.pem"
ca.write_bytes(DemoPKI().root_pem())
try:
    SMIME(Config(ca_path=ca, revocation_mode="soft-fail", allow_fetching=True))
except ConfigError as error:
    print(f"{error.option}: {error}")
    sys.exit(3)
print("fetching can be configured")
"""
