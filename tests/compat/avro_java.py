"""Avro-Java (org.apache.avro:avro) as a second oracle: one JVM streams verdicts for many pairs.

On first use the jars come from Maven Central (`mvn dependency:copy-dependencies` on
tests/compat/oracle/pom.xml) and AvroCompat.java is compiled with javac; both land in a cache
directory under .services/ (gitignored), keyed by the Avro version and a hash of the sources,
so later runs start the JVM at once. Every step has a time bound.
"""

from __future__ import annotations

import hashlib
import json
import os
import selectors
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import IO, Any

AVRO_VERSION = "1.12.2"
ORACLE_DIR = Path(__file__).resolve().parent / "oracle"
REPO_DIR = Path(__file__).resolve().parents[2]
FETCH_TIMEOUT = float(os.environ.get("EVENTGEN_ORACLE_FETCH_TIMEOUT", "300"))
ANSWER_TIMEOUT = 60.0


class OracleUnavailable(Exception):
    """Java, Maven or the jars cannot be had: the differential tests cannot run."""


def _sources_key() -> str:
    digest = hashlib.sha256()
    for name in ("pom.xml", "AvroCompat.java"):
        digest.update((ORACLE_DIR / name).read_bytes())
    return digest.hexdigest()[:12]


def cache_dir() -> Path:
    """Where the jars and classes are kept ($EVENTGEN_ORACLE_CACHE overrides)."""
    env = os.environ.get("EVENTGEN_ORACLE_CACHE")
    base = Path(env) if env else REPO_DIR / ".services"
    return base / f"avro-oracle-{AVRO_VERSION}-{_sources_key()}"


def _run(cmd: list[str], what: str, log: Path) -> None:
    try:
        with open(log, "w", encoding="utf-8") as out:
            proc = subprocess.run(
                cmd, stdout=out, stderr=subprocess.STDOUT, timeout=FETCH_TIMEOUT, check=False
            )
    except subprocess.TimeoutExpired as exc:
        raise OracleUnavailable(f"{what} took more than {FETCH_TIMEOUT:.0f} s") from exc
    if proc.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise OracleUnavailable(f"{what} failed (exit {proc.returncode}):\n{tail}")


def build() -> Path:
    """The cache directory holding jars/ and classes/, fetched and compiled if missing."""
    target = cache_dir()
    if (target / ".complete").exists():
        return target
    for tool in ("mvn", "java", "javac"):
        if not shutil.which(tool):
            raise OracleUnavailable(f"`{tool}` is not on PATH (the Avro-Java oracle needs it)")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Built in a private directory and renamed into place, so a concurrent run never sees a
    # half-filled cache.
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        jars = tmp / "jars"
        _run(
            [
                "mvn", "-q", "-B", "-f", str(ORACLE_DIR / "pom.xml"),
                f"-Davro.version={AVRO_VERSION}", "dependency:copy-dependencies",
                "-DincludeScope=runtime", f"-DoutputDirectory={jars}",
            ],
            "mvn dependency:copy-dependencies",
            tmp / "mvn.log",
        )  # fmt: skip
        _run(
            [
                "javac", "-d", str(tmp / "classes"), "-cp", f"{jars}/*",
                str(ORACLE_DIR / "AvroCompat.java"),
            ],
            "javac AvroCompat.java",
            tmp / "javac.log",
        )  # fmt: skip
        (tmp / ".complete").touch()
        try:
            tmp.rename(target)
        except OSError:  # another run won the race; its copy is as good as ours
            if not (target / ".complete").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


class AvroJava:
    """One running AvroCompat JVM; `verdict` sends a pair and waits for its answer line."""

    def __init__(self) -> None:
        home = build()
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self._proc = subprocess.Popen(
            ["java", "-Xss16m", "-cp", f"{home / 'classes'}:{home / 'jars'}/*", "AvroCompat"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._stdin, self._stdout = self._proc.stdin, self._proc.stdout
        self._select = selectors.DefaultSelector()
        self._select.register(self._stdout, selectors.EVENT_READ)
        self.pairs = 0

    def verdict(self, reader: Any, writer: Any) -> dict[str, Any]:
        """Avro-Java's answer for reading `writer` data with `reader` (see AvroCompat.java)."""
        line = json.dumps({"reader": reader, "writer": writer}) + "\n"
        try:
            self._stdin.write(line.encode("utf-8"))
            self._stdin.flush()
        except BrokenPipeError as exc:
            raise OracleUnavailable(f"the oracle JVM died: {self._stderr_tail()}") from exc
        if not self._select.select(timeout=ANSWER_TIMEOUT):
            raise OracleUnavailable(f"no answer from the oracle in {ANSWER_TIMEOUT:.0f} s")
        answer = self._stdout.readline()
        if not answer:
            raise OracleUnavailable(f"the oracle JVM exited: {self._stderr_tail()}")
        self.pairs += 1
        result: dict[str, Any] = json.loads(answer)
        return result

    def _stderr_tail(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")[-2000:]

    def close(self) -> None:
        """Close stdin so the JVM ends by itself; kill it only if it does not."""
        self._select.close()
        self._stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._stdout.close()
        self._stderr.close()
