"""Runs in an object store: a real S3-compatible server (moto, on 127.0.0.1, behind a proxy
that throttles chosen requests), a dask cluster of 2 workers, a tree of the real writers'
layouts plus corrupted runs, and audits that are interrupted and resumed.

The dask cluster runs its 2 workers as threads of this process (processes=False, over
tcp): it starts in about a second, and its workers see this test's environment (the
server's endpoint) and its shortened back-off. One slow test starts a LocalCluster of
worker processes, as `--engine dask` does without --scheduler.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("moto.server")
s3fs = pytest.importorskip("s3fs")

from lossdoctor.cli import main  # noqa: E402
from lossdoctor.exitcodes import ExitCode  # noqa: E402
from lossdoctor.sources import discover, retry  # noqa: E402
from stores import Faults, proxy, upload  # noqa: E402

LAYOUTS = Path(__file__).parent / "data" / "layouts"
CASES = ("lightning_two_loggers", "hf_many_outputs", "mlflow_file_store", "mlflow_sqlite", "keras_fit_tb",
         "ultralytics_project", "mmengine_workdir", "summarywriter_runs")
KERAS_LOG = (LAYOUTS / "keras_csvlogger_nested" / "logs" / "training_log.csv").read_bytes()
WEIGHTS = (".pt", ".pth", ".ckpt", ".safetensors", ".bin", ".h5", ".keras")
ROOT = "s3://runs/tree"


def build_tree(root: Path) -> Path:
    """A few real layouts, corrupted runs, and runs the proxy will throttle."""
    for case in CASES:
        shutil.copytree(LAYOUTS / case, root / case, symlinks=True)
    bad = root / "corrupted"
    for sub in ("garbage", "cut_hf", "noloss", "empty_events", "pl/version_0"):
        (bad / sub).mkdir(parents=True)
    (bad / "garbage" / "training_log.csv").write_bytes(bytes(range(256)) * 4)
    (bad / "cut_hf" / "trainer_state.json").write_text('{"log_history": [{"loss": 1.0, "step": 1}, {"lo')
    (bad / "noloss" / "history.csv").write_text("epoch,accuracy\n0,0.5\n1,0.6\n")
    (bad / "empty_events" / "events.out.tfevents.1796156543.vm.1.0").write_bytes(b"")
    (bad / "pl" / "version_0" / "metrics.csv").write_bytes(b"")
    for name in ("flaky", "dead", "pl_dead/version_0"):
        (root / "throttled" / name).mkdir(parents=True)
    (root / "throttled" / "flaky" / "training_log.csv").write_bytes(KERAS_LOG)
    (root / "throttled" / "dead" / "training_log.csv").write_bytes(KERAS_LOG)
    (root / "throttled" / "pl_dead" / "version_0" / "metrics.csv").write_text(
        "epoch,step,train_loss,val_loss\n" + "".join(f"{e},{e * 10},{2 - e / 10},{2.1 - e / 12}\n" for e in range(12)))
    for link in [p for p in root.rglob("*") if p.is_symlink()]:
        link.unlink()  # a store has none
    return root


@dataclass
class Store:
    direct: object  # an s3fs filesystem talking to moto itself (for uploads)
    faults: Faults
    endpoint: str  # the proxy's URL: what the code under test is given
    local: Path  # the same tree on disk


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    faults = Faults()
    front = proxy(f"127.0.0.1:{port}", faults)
    direct = s3fs.S3FileSystem(key="test", secret="test", skip_instance_cache=True, client_kwargs={
        "endpoint_url": f"http://127.0.0.1:{port}", "region_name": "eu-west-1"})
    direct.mkdir("runs")
    local = build_tree(tmp_path_factory.mktemp("store") / "tree")
    upload(direct, local, "runs/tree")
    yield Store(direct, faults, f"http://127.0.0.1:{front.server_port}", local)
    front.shutdown()
    server.stop()


@pytest.fixture
def s3(store: Store, monkeypatch: pytest.MonkeyPatch) -> Store:
    """The store's endpoint and fake credentials in the environment, as a user sets them; a
    back-off of milliseconds; no fault left from another test."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", store.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # botocore: no retries of its own here
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(s3fs.S3FileSystem, "retries", 2)
    monkeypatch.setattr(retry, "DEFAULT", retry.Backoff(attempts=3, base=0.01, cap=0.05))
    s3fs.S3FileSystem.clear_instance_cache()
    store.faults.reset()
    yield store
    store.faults.reset()
    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture(scope="module")
def scheduler():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp",
                                       dashboard_address=":0")
    yield cluster.scheduler_address
    cluster.close()


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def records(path: Path, root: str) -> list[dict]:
    """The run records of a jsonl file (not its `{"skipped": ...}` lines), sorted, with the
    root written as <root>."""
    text = path.read_text().replace(root, "<root>")
    lines = (json.loads(line) for line in text.splitlines())
    return sorted((r for r in lines if "skipped" not in r), key=lambda r: r["run"])


def test_a_store_is_walked_by_the_same_rules_as_a_disk(s3: Store) -> None:
    for case in CASES:
        disk, stored = discover([s3.local / case]), discover([f"{ROOT}/{case}"])
        assert [(os.path.relpath(r.path, s3.local), r.layout, r.name, r.error) for r in disk.runs] == \
               [(r.path.removeprefix(ROOT + "/"), r.layout, r.name, r.error) for r in stored.runs]
        assert sorted((os.path.relpath(s.path, s3.local), s.reason) for s in disk.skipped_paths) == \
               sorted((s.path.removeprefix(ROOT + "/"), s.reason) for s in stored.skipped_paths)
        assert all(r.files and not any(f.endswith(WEIGHTS) for f in r.files) for r in stored.runs)


def test_local_store_and_dask_give_the_same_records(s3: Store, scheduler: str, tmp_path: Path) -> None:
    local, stored, dasked = tmp_path / "local.jsonl", tmp_path / "s3.jsonl", tmp_path / "dask.jsonl"
    assert cli("audit", str(s3.local), "--format", "jsonl", "-o", str(local), "--jobs", "2")[0] == ExitCode.FINDINGS
    s3.faults.reset()
    code, _, err = cli("audit", ROOT, "--format", "jsonl", "-o", str(stored), "--jobs", "2")
    assert code == ExitCode.FINDINGS, err
    assert s3.faults.listings() == 1  # the prefix is listed once; folders come from its keys
    assert all(s3.faults.gets(w) == 0 for w in WEIGHTS)  # only the files a run's reading opens
    gets = {p: n for (m, p, listing), n in s3.faults.seen.items() if m == "GET" and not listing}
    assert gets.pop("/runs/tree/mlflow_sqlite/mlflow.db") == 3  # its head, its runs listed, its 3 runs read
    assert max(gets.values()) <= 2  # a loose log: its head while discovering, then the file; others once
    code, _, err = cli("audit", ROOT, "--format", "jsonl", "-o", str(dasked), "--scheduler", scheduler)
    assert code == ExitCode.FINDINGS, err
    mine = records(local, str(s3.local))
    assert len(mine) >= 25 and mine == records(stored, ROOT) == records(dasked, ROOT)
    broken = {r["run"]: r["error"]["kind"] for r in mine if r["error"]}
    assert broken["<root>/corrupted/garbage/training_log.csv"] == "input"
    assert broken["<root>/corrupted/noloss/history.csv"] == "nothing"
    assert "<root>/corrupted/pl/version_0" in broken


def test_throttling_is_retried_and_a_store_that_keeps_failing_is_that_runs_row(s3: Store, tmp_path: Path) -> None:
    s3.faults.add(r"GET /runs/tree/throttled/flaky/training_log\.csv$", times=3)  # more than s3fs retries
    s3.faults.add(r"GET /runs/tree/throttled/dead/training_log\.csv$")  # every time
    s3.faults.add(r"GET /runs/tree/throttled/pl_dead/version_0/metrics\.csv$")
    out = tmp_path / "audit.jsonl"
    code, _, err = cli("audit", f"{ROOT}/throttled", "--format", "jsonl", "-o", str(out), "--jobs", "1")
    rows = {r["name"]: r for r in records(out, ROOT)}
    assert code == ExitCode.OK and set(rows) == {"flaky/training_log.csv", "dead/training_log.csv",
                                                  "pl_dead/version_0"}
    assert rows["flaky/training_log.csv"]["error"] is None  # 3 failures, then served
    for name in ("dead/training_log.csv", "pl_dead/version_0"):  # at discovery / when fetching
        error = rows[name]["error"]
        assert error["kind"] == "unavailable" and error["message"].endswith(
            "the store kept failing (Please reduce your request rate.) after 3 attempts")
    assert "3 runs found: 1 diagnosed, 2 could not be diagnosed" in err
    s3.faults.reset()  # the prefix recovers: resume runs exactly the two again
    code, _, err = cli("audit", f"{ROOT}/throttled", "--resume", str(out), "--jobs", "1")
    assert code == ExitCode.OK and "3 runs found: 1 already in" in err and "2 diagnosed, 0 could not" in err
    again = records(out, ROOT)
    assert len(again) == 3 and not any(r["error"] for r in again)


def _interrupt_after(monkeypatch: pytest.MonkeyPatch, calls: int) -> None:
    import lossdoctor.audit as audit_module

    real, seen = audit_module.audit_row, []

    def flaky(ref, settings):  # type: ignore[no-untyped-def]
        seen.append(ref)
        if len(seen) == calls:
            raise KeyboardInterrupt
        return real(ref, settings)
    monkeypatch.setattr(audit_module, "audit_row", flaky)


def test_an_interrupted_audit_is_resumed_and_each_run_recorded_once(s3: Store, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "audit.jsonl"
    with monkeypatch.context() as m:
        _interrupt_after(m, 6)
        code, _, err = cli("audit", ROOT, "--format", "jsonl", "-o", str(out), "--jobs", "1")
    assert code == ExitCode.INTERRUPTED and "not run (continue with --resume" in err
    first = out.read_text().splitlines()
    assert 0 < len(first) < 6
    with out.open("a") as f:  # a kill in the middle of a line
        f.write('{"run": "s3://runs/tree/cut-sho')
    code, _, err = cli("audit", ROOT, "--resume", str(out), "--jobs", "2")
    assert code == ExitCode.FINDINGS and f"{len(first)} already in" in err
    runs = [r["run"] for r in records(out, ROOT)]
    assert len(runs) == len(set(runs)) == len(discover([ROOT]).runs)
    assert out.read_text().splitlines()[:len(first)] == first  # appended, not rewritten


def test_parquet_parts_survive_a_kill_and_resume(s3: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "audit.parquet"
    with monkeypatch.context() as m:
        _interrupt_after(m, 8)
        assert cli("audit", ROOT, "--format", "parquet", "-o", str(out), "--jobs", "1")[0] == ExitCode.INTERRUPTED
    done = pq.read_table(out).num_rows
    (out / "part-00042.parquet").write_bytes(b"PAR1 cut short by a kill")
    code, _, err = cli("audit", ROOT, "--format", "parquet", "--resume", str(out), "--jobs", "2")
    assert code == ExitCode.FINDINGS and f"{done} already in" in err
    assert (out / ".broken-part-00042.parquet").exists()
    table = pq.read_table(out)
    runs = table.column("run").to_pylist()
    assert len(runs) == len(set(runs)) == len(discover([ROOT]).runs)
    verdicts = dict(zip(runs, table.column("verdict").to_pylist()))
    assert verdicts[f"{ROOT}/corrupted/noloss/history.csv"] == "no-loss"
    assert verdicts[f"{ROOT}/lightning_two_loggers/lightning_logs/version_1"] == "error"


def test_diagnose_one_stored_run(s3: Store) -> None:
    code, out, err = cli("diagnose", f"{ROOT}/lightning_two_loggers/lightning_logs/version_1", "--format", "json")
    (run,) = json.loads(out)["runs"]
    assert code == ExitCode.FINDINGS and run["run"] == f"{ROOT}/lightning_two_loggers/lightning_logs/version_1"
    assert run["path"] == f"{ROOT}/lightning_two_loggers/lightning_logs/version_1/metrics.csv"
    assert "nan_loss" in {f["rule"] for f in run["findings"]}
    assert any(n.startswith("read metrics.csv (lightning_csv)") for n in run["notes"])


def test_a_missing_bucket_and_missing_credentials_say_so_in_one_line(s3: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = cli("audit", "s3://no-such-bucket/runs", "--format", "plain")
    assert code == ExitCode.NOTHING and "s3://no-such-bucket/runs: no such file or directory" in out
    assert "no run under s3://no-such-bucket/runs could be diagnosed" in err
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    s3fs.S3FileSystem.clear_instance_cache()
    code, _, err = cli("diagnose", f"{ROOT}/corrupted/noloss/history.csv")
    assert code == ExitCode.INPUT and "no credentials found" in err and "Traceback" not in err


def test_a_missing_library_is_named_with_its_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fsspec", None)  # as if not installed
    code, _, err = cli("audit", "s3://bucket/runs")
    assert code == ExitCode.MISSING_EXTRA
    assert err.strip() == 'lossdoctor: error: s3://bucket/runs: reading s3:// needs fsspec: pip install "lossdoctor[cloud]"'


def test_a_local_audit_imports_no_store_library(tmp_path: Path) -> None:
    # (pyarrow is left out: pandas imports it by itself when it is installed)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "training_log.csv").write_bytes(KERAS_LOG)
    code = ("import sys; from lossdoctor.cli import main\n"
            "try: main(['audit', sys.argv[1], '--format', 'jsonl', '--jobs', '1'])\n"
            "except SystemExit: pass\n"
            "bad = [m for m in ('fsspec', 's3fs', 'botocore', 'distributed') if m in sys.modules]\n"
            "assert not bad, bad\n")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_a_task_that_dies_becomes_rows_of_its_runs() -> None:
    from lossdoctor.audit import audit_stream
    from lossdoctor.diagnose import Settings
    from lossdoctor.sources import RunRef

    class Dying:
        def workers(self) -> int:
            return 1

        def rows(self, fn, batches, settings):  # type: ignore[no-untyped-def]
            for batch in batches:
                yield batch, RuntimeError("KilledWorker: worker exceeded 95% memory budget")

    refs = [RunRef(f"s3://b/run{i}", "lightning", f"run{i}") for i in range(3)]
    rows = [row for batch in audit_stream(refs, Settings.default(), Dying()) for row in batch]
    assert [r.run for r in rows] == [r.path for r in refs]
    assert all(r.diagnosis.error.kind == "internal" and "worker diagnosing it died" in r.diagnosis.error.message
               for r in rows)


def test_back_off_is_jittered_capped_and_only_for_what_waiting_cures() -> None:
    policy = retry.Backoff(attempts=6, base=0.5, cap=2.0)
    assert all(0 <= policy.wait(k) <= min(2.0, 0.5 * 2 ** k) for k in range(10) for _ in range(20))
    assert retry.is_transient(OSError(5, "An error occurred (SlowDown) when calling GetObject: Please reduce "
                                         "your request rate."))
    assert retry.is_transient(ConnectionResetError()) and retry.is_transient(TimeoutError())
    assert not retry.is_transient(FileNotFoundError("runs/x")) and not retry.is_transient(PermissionError())
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise OSError("503 Service Unavailable")
        return "ok"
    assert retry.with_retries(flaky, "s3://b/k", retry.Backoff(3, 0.001, 0.001)) == "ok" and len(calls) == 3


@pytest.mark.slow
def test_dask_engine_starts_its_own_cluster(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    tree = build_tree(tmp_path / "tree")
    shutil.rmtree(tree / "throttled")
    local, dasked = tmp_path / "local.jsonl", tmp_path / "dask.jsonl"
    cli("audit", str(tree), "--format", "jsonl", "-o", str(local), "--jobs", "1")
    code, _, err = cli("audit", f"file://{tree}", "--format", "jsonl", "-o", str(dasked), "--engine", "dask",
                       "--jobs", "2")
    assert code == ExitCode.FINDINGS, err
    assert records(local, str(tree)) == records(dasked, f"file://{tree}")
