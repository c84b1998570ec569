"""The file system of a warehouse on a local disk (`file:` paths).

Hadoop's default local file system writes a `.<name>.crc` checksum beside every file and,
without Hadoop's native library (pip's pyspark has none), starts a process for each file it
creates (`chmod`, to set its permissions) and for each name of a rename (`readlink`): about
970 processes of some 7 ms each in a 3-shop run (docs/scaling.md). Every session uses
Hadoop's raw local file system (RAW), which writes no checksum files. A local application
(`local[*]`, executors in the driver's JVM) uses `ProcessFreeLocalFileSystem` (`java/`)
instead: the raw one, with those two calls made through java.nio. Its class is compiled once
per source and Spark version into the user's cache (javac, a few seconds; bin/setup does it);
where it cannot be built (no javac, a cache that cannot be written), the raw one stays, with a
warning in the log. Executors of a cluster have no such class: applications on one keep the
raw one. Warehouses on s3a, abfss or hdfs are not affected at all."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

SOURCE = Path(__file__).with_name("java") / "ProcessFreeLocalFileSystem.java"
CLASS = "csmetrics.hadoop.ProcessFreeLocalFileSystem"
FILE_SYSTEM_KEYS = ("spark.hadoop.fs.file.impl", "spark.hadoop.fs.AbstractFileSystem.file.impl")
RAW = dict(zip(FILE_SYSTEM_KEYS, ("org.apache.hadoop.fs.RawLocalFileSystem", "org.apache.hadoop.fs.local.RawLocalFs"), strict=True))
PROCESS_FREE = dict(zip(FILE_SYSTEM_KEYS, (CLASS, f"{CLASS}$Fs"), strict=True))
log = logging.getLogger(__name__)


def in_one_jvm(master: str) -> bool:
    """True for a master whose executors run in the driver's JVM (`local`, `local[N]`, `local[N,F]`)."""
    return master == "local" or master.startswith("local[")


def _spark_jars() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent / "jars"


def jar_path() -> Path:
    """Where the compiled class of this source and this Spark's Hadoop is kept."""
    import pyspark

    digest = hashlib.sha256(SOURCE.read_bytes() + pyspark.__version__.encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "csmetrics"
    return cache / f"process-free-local-fs-{digest}.jar"


def _javac() -> str | None:
    home = os.environ.get("JAVA_HOME")
    candidate = Path(home, "bin", "javac") if home else None
    return str(candidate) if candidate and candidate.exists() else shutil.which("javac")


def built_jar() -> Path | None:
    """The jar holding the class, compiled on first use; None where it cannot be built."""
    jar = jar_path()
    if jar.exists():
        return jar
    javac = _javac()
    if javac is None:
        log.warning("no javac (a JDK's compiler): local runs use Hadoop's raw local file system, which starts a process per file")
        return None
    try:
        return _build(javac, jar)
    except (OSError, subprocess.SubprocessError) as error:
        log.warning("%s could not be built into %s (%s); local runs use Hadoop's raw local file system", SOURCE.name, jar, error)
        return None


def _build(javac: str, jar: Path) -> Path | None:
    jar.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=jar.parent) as work:
        classes = Path(work, "classes")
        compiled = subprocess.run(
            [javac, "-nowarn", "--release", "17", "-cp", f"{_spark_jars()}/*", "-d", str(classes), str(SOURCE)],
            capture_output=True, text=True, timeout=300,
        )
        if compiled.returncode != 0:
            log.warning("%s did not compile; local runs use Hadoop's raw local file system:\n%s", SOURCE.name, compiled.stderr[-2000:])
            return None
        building = Path(work, jar.name)
        with zipfile.ZipFile(building, "w") as archive:
            for path in sorted(classes.rglob("*.class")):
                archive.write(path, path.relative_to(classes).as_posix())
        # Atomic: another process building the same jar at once finds one whole file or none.
        os.replace(building, jar)
    return jar


def local_settings(spark_conf: dict[str, str]) -> dict[str, str]:
    """What a local application adds to its settings: the process-free file system and the
    driver class path that holds it, unless the user chose a local file system of their own."""
    if any(key in spark_conf for key in FILE_SYSTEM_KEYS):
        return {}
    jar = built_jar()
    if jar is None:
        return {}
    class_path = os.pathsep.join(p for p in (spark_conf.get("spark.driver.extraClassPath"), str(jar)) if p)
    return {**PROCESS_FREE, "spark.driver.extraClassPath": class_path}
