"""``--dask ADDRESS``: the same per-message function on a Dask cluster (a LocalCluster of two
worker processes here) gives results identical to the local run."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smimecore.errors import ScanError
from smimecore.scan.run import ScanOptions, run_scan
from tests.conftest import vector_path
from tests.scan_corpus import Archive, build_archive, rt_config

distributed = pytest.importorskip(
    "distributed", reason="the smimecore[dask] extra is not installed"
)

pytestmark = [pytest.mark.vectors, pytest.mark.interop]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dashboard and port notices
        with distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
        ) as local:
            yield local


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, openssl: Any) -> Archive:
    rt = vector_path("request-tracker")
    thunderbird = vector_path("mimekit", "thunderbird-signed.txt")
    return build_archive(tmp_path_factory.mktemp("dask-archive"), rt, thunderbird, openssl)


def test_dask_results_identical_to_the_local_run(
    cluster: Any, archive: Archive, tmp_path: Path
) -> None:
    config = rt_config(vector_path("request-tracker"))
    local, remote = tmp_path / "local.jsonl", tmp_path / "dask.jsonl"
    paths = (str(archive.root),)
    local_summary = run_scan(
        config, ScanOptions(paths=paths, reports=(str(local),), jobs=2, quiet=True)
    )
    dask_summary = run_scan(
        config,
        ScanOptions(
            paths=paths, reports=(str(remote),), dask=cluster.scheduler_address, quiet=True
        ),
    )
    assert remote.read_bytes() == local.read_bytes()
    assert dask_summary == local_summary and dask_summary.counts["messages"] == 27
    with distributed.Client(cluster.scheduler_address) as client:
        engines = client.run(engines_built)
    assert len(engines) == 2 and all(count == 1 for count in engines.values())


def engines_built() -> int:
    """Run on each Dask worker: how many engines this worker process built (one per spec)."""
    from smimecore.scan import worker

    return len(worker._ENGINES)


def test_dask_scheduler_that_is_not_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("smimecore.scan.cluster._CONNECT_SECONDS", 1)  # not 30 s of retries
    (tmp_path / "m.eml").write_bytes(b"Subject: x\n\nbody\n")
    options = ScanOptions(paths=(str(tmp_path),), dask="tcp://127.0.0.1:9", quiet=True)
    with pytest.raises(ScanError, match="cannot reach the Dask scheduler"):
        run_scan(rt_config(vector_path("request-tracker")), options)
