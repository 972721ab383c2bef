"""Kedro datasets for raw tables: each load says which file, with which content, it read.

A loaded frame carries ``frame.attrs[SOURCE_ATTR] = {"path", "md5", "bytes"}``: the md5 is
the file's content hash as DVC computes it (plain md5 of the bytes), so the validation report
and a model's lineage name the exact data, and it can be found again in DVC's cache.

Every dataset here that writes a file writes it whole or not at all: the bytes go to a
temporary name in the same folder, which is then renamed over the target (``os.replace``, an
atomic rename on one file system). A process killed mid-save (``kill -9``, a lost machine)
leaves the previous file and, at worst, a stray ``.<name>.*.tmp`` beside it, never a torn file.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import importlib.util
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import pandas as pd
from kedro.io import AbstractDataset, DatasetError
from kedro.io.core import get_filepath_str
from kedro_datasets.json import JSONDataset
from kedro_datasets.pandas import ParquetDataset
from kedro_datasets.text import TextDataset

logger = logging.getLogger(__name__)

SAMPLE_SIZE = 5
SOURCE_ATTR = "modelworks.source"
_CHUNK = 1 << 20
_UMASK = os.umask(0o022)
os.umask(_UMASK)


@contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path beside ``target``; renamed onto it only if the block completes.

    Write the whole file to the yielded path: on success it replaces ``target`` in one atomic
    rename (after an fsync, so the new name never points at unwritten bytes); on any error,
    or if the process dies, ``target`` keeps its previous content.
    """
    final = Path(target)
    final.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        with temporary.open("rb") as written:
            os.fsync(written.fileno())
        # mkstemp's file is private (0600): give it the mode the file had, or would get
        temporary.chmod(final.stat().st_mode & 0o7777 if final.exists() else 0o666 & ~_UMASK)
        temporary.replace(final)  # os.replace: atomic within one file system
    finally:
        temporary.unlink(missing_ok=True)


def write_atomic(target: str | os.PathLike[str], write: Callable[[Path], None]) -> None:
    """Call ``write(temporary_path)``, then rename the finished file onto ``target``."""
    with atomic_path(target) as temporary:
        write(temporary)


def _save_atomically(dataset: Any, save: Callable[[Any], None], data: Any) -> None:
    """Run a kedro-datasets ``save`` against a temporary file, then rename it into place.

    kedro-datasets' file datasets open their target with ``fs.open(path, "wb")`` and stream
    into it, so a kill mid-save leaves a truncated file. For a local file the dataset's
    ``_filepath`` is pointed at a temporary sibling for the save; any other protocol (an
    object store writes an object whole on close anyway) saves as the parent class does.
    """
    if dataset._protocol != "file" or getattr(dataset, "_version", None) is not None:
        save(data)
        return
    original = dataset._filepath
    final = get_filepath_str(original, dataset._protocol)
    if Path(final).is_dir():
        save(data)  # the parent class raises its own error for a directory
        return
    try:
        with atomic_path(final) as temporary:
            dataset._filepath = PurePosixPath(temporary.as_posix())
            save(data)
    finally:
        dataset._filepath = original
        dataset._invalidate_cache()


def content_md5(filepath: str) -> tuple[str, int]:
    """(md5 hex digest, size in bytes) of a file, local or any fsspec URL, as DVC hashes it."""
    from fsspec.core import url_to_fs

    fs, path = url_to_fs(filepath)
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    with fs.open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def stamp_source(
    frame: pd.DataFrame, filepath: str, *, recorded_as: str | None = None
) -> pd.DataFrame:
    """Record on ``frame`` which file it was read from and that file's content hash.

    A file inside the working directory (the project root, for Kedro) is recorded by its
    relative path, so the record means the same in every clone of the project; ``recorded_as``
    names the file otherwise (a file shipped in a package, say).
    """
    md5, size = content_md5(filepath)
    path = Path(filepath)
    if path.is_absolute() and path.is_relative_to(Path.cwd()):
        path = path.relative_to(Path.cwd())
    recorded = recorded_as or path.as_posix()
    frame.attrs[SOURCE_ATTR] = {"path": recorded, "md5": md5, "bytes": size}
    return frame


def package_resource(package: str, path: str) -> Any:
    """The file ``path`` shipped inside the installed ``package``, as an importlib Traversable.

    The package is located, not imported: a data package's ``__init__`` may load every file
    it ships, which a reader of one file should not pay for.
    """
    try:
        spec = importlib.util.find_spec(package)
    except ModuleNotFoundError:
        spec = None
    loader: Any = spec.loader if spec else None
    reader = loader.get_resource_reader(spec.name) if spec and loader else None
    if reader is None:
        raise DatasetError(
            f"Package {package!r} is not installed (or ships no files): add it to the "
            "project's dependencies"
        )
    resource = reader.files().joinpath(*PurePosixPath(path).parts)
    if not resource.is_file():
        raise DatasetError(f"Package {package!r} ships no file {path!r}")
    return resource


class AtomicParquetDataset(ParquetDataset):
    """kedro-datasets' ``pandas.ParquetDataset`` whose saves replace the file atomically."""

    def save(self, data: pd.DataFrame) -> None:
        _save_atomically(self, super().save, data)


class AtomicJSONDataset(JSONDataset):
    """kedro-datasets' ``json.JSONDataset`` whose saves replace the file atomically."""

    def save(self, data: Any) -> None:
        _save_atomically(self, super().save, data)


class OptionalJSONDataset(AtomicJSONDataset):
    """JSON state a pipeline reads from its previous run, ``None`` before the first run wrote
    it (the profile of the last published feature tables, say)."""

    def load(self) -> Any:
        if not self._exists():
            return None
        return super().load()


class AtomicTextDataset(TextDataset):
    """kedro-datasets' ``text.TextDataset`` whose saves replace the file atomically."""

    def save(self, data: str) -> None:
        _save_atomically(self, super().save, data)


class RawParquetDataset(AtomicParquetDataset):
    """Parquet whose loads are stamped with the file's content hash; saves are atomic."""

    def load(self) -> pd.DataFrame:
        path = get_filepath_str(self._get_load_path(), self._protocol)
        if self._protocol != "file":
            path = f"{self._protocol}://{path}"
        return stamp_source(super().load(), path)


class SourceTableDataset(AbstractDataset[None, pd.DataFrame]):
    """A raw table you supply (parquet or CSV, local or any fsspec URL), read-only.

    Point a use case's ``raw_<table>`` at it in ``conf/local/catalog.yml`` to train on your
    own data instead of generated data. Saving raises: a pipeline that would write the table
    (the generator, say) stops before it can overwrite your file. Columns in ``timestamps``
    are parsed as UTC; a value that is not a time is an error that names the column and shows
    the values, not a silent NaT. With ``package``, ``filepath`` is a file shipped inside that
    installed Python package (a data package), read through ``importlib.resources``.
    """

    def __init__(
        self,
        filepath: str,
        file_format: Literal["parquet", "csv"] | None = None,
        timestamps: list[str] | None = None,
        load_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        package: str | None = None,
    ) -> None:
        self._filepath = filepath
        self._format = file_format or _format_of(filepath)
        self._timestamps = list(timestamps or [])
        self._load_args = dict(load_args or {})
        self._package = package
        self.metadata = metadata

    @property
    def _name(self) -> str:
        return f"{self._package}:{self._filepath}" if self._package else self._filepath

    def _local_file(self) -> AbstractContextManager[Any]:
        """The file to read: ``filepath`` itself, or the package's file as a real path."""
        if self._package is None:
            return nullcontext(self._filepath)
        return importlib.resources.as_file(package_resource(self._package, self._filepath))

    def load(self) -> pd.DataFrame:
        with self._local_file() as local:
            path = str(local)
            try:
                if self._format == "parquet":
                    frame = pd.read_parquet(path, **self._load_args)
                else:
                    frame = pd.read_csv(path, **self._load_args)
            except FileNotFoundError:
                raise DatasetError(f"Source table {self._name} does not exist") from None
            missing = [c for c in self._timestamps if c not in frame.columns]
            if missing:
                raise DatasetError(
                    f"Source table {self._name} has no column(s) {missing} declared as "
                    f"timestamps; columns are {list(frame.columns)}"
                )
            for column in self._timestamps:
                frame[column] = _parse_utc(frame[column], where=f"{self._name}:{column}")
            return stamp_source(frame, path, recorded_as=self._name if self._package else None)

    def save(self, data: None) -> None:
        raise DatasetError(
            f"{self._name} is a source table you supplied; modelworks never writes it. "
            "Run the use case's pipeline that starts from the raw tables "
            "(kedro run --pipelines <use_case>_train), not the one that generates them."
        )

    def _exists(self) -> bool:
        if self._package is not None:
            try:
                package_resource(self._package, self._filepath)
            except DatasetError:
                return False
            return True
        from fsspec.core import url_to_fs

        fs, path = url_to_fs(self._filepath)
        return bool(fs.exists(path))

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": self._filepath,
            "package": self._package,
            "format": self._format,
            "timestamps": self._timestamps,
        }


def _format_of(filepath: str) -> Literal["parquet", "csv"]:
    suffixes = PurePosixPath(filepath).suffixes
    if ".parquet" in suffixes or ".pq" in suffixes:
        return "parquet"
    if ".csv" in suffixes:
        return "csv"
    raise DatasetError(
        f"Cannot tell the format of {filepath} from its name: set file_format to parquet or csv"
    )


def _parse_utc(values: pd.Series, *, where: str) -> pd.Series:
    parsed = pd.to_datetime(values, utc=True, errors="coerce", format="mixed")
    bad = parsed.isna() & values.notna()
    if bad.any():
        samples = values[bad].astype(str).unique()[:SAMPLE_SIZE].tolist()
        raise DatasetError(f"{where}: {int(bad.sum())} value(s) are not timestamps, e.g. {samples}")
    return parsed


class JSONLinesDataset(AbstractDataset[dict[str, Any], list[dict[str, Any]]]):
    """An append-only log of JSON documents: each save adds one line, a load returns them all.

    What a monitoring history needs: every run adds its summary, the report reads the trend,
    and no run rewrites (or can lose) the earlier ones.

    A save rewrites the whole log under a temporary name and renames it into place, so a kill
    mid-save leaves the log as it was. A log torn by anything else (an older version of this
    class killed mid-append, a full disk, a hand edit) stays readable: a line that is not JSON
    is skipped with a warning naming the file and line, and a new record never lands on the
    same line as a torn one (the torn line is closed with a newline first).
    """

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = Path(filepath)
        self.metadata = metadata

    def load(self) -> list[dict[str, Any]]:
        if not self._filepath.is_file():
            return []
        records: list[dict[str, Any]] = []
        text = self._filepath.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                logger.warning(
                    "%s:%d is not a JSON document (%s); skipped: %.80s",
                    self._filepath,
                    number,
                    error,
                    line,
                )
                continue
            if not isinstance(record, dict):
                logger.warning(
                    "%s:%d holds a JSON %s, not a record; skipped",
                    self._filepath,
                    number,
                    type(record).__name__,
                )
                continue
            records.append(record)
        return records

    def save(self, data: dict[str, Any]) -> None:
        line = (json.dumps(data, default=str) + "\n").encode("utf-8")
        previous = self._filepath.read_bytes() if self._filepath.is_file() else b""
        if previous and not previous.endswith(b"\n"):
            logger.warning(
                "%s ends in an unterminated (torn) line; it is closed before the new record",
                self._filepath,
            )
            previous += b"\n"
        with atomic_path(self._filepath) as temporary:
            temporary.write_bytes(previous + line)

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
