"""Resumable, verified downloads into the cache: genome FASTA + GFF3 and expression tables.

Every file goes through :func:`fetch`, built on :func:`pooch.retrieve`:

1. A file already fetched and verified is found by its marker (``<name>.verified.json``: URL,
   size, mtime, hash) and returned at once: **no request is made** and nothing is re-hashed.
2. Otherwise the body is streamed into ``<name>.part`` in the cache. A transfer that breaks off is
   **resumed** with an HTTP ``Range`` request (on the next attempt or the next call); a server that
   ignores ``Range`` restarts the file. A tqdm bar counts bytes.
3. The finished part becomes pooch's temporary file; pooch checks the known hash (sha256 or md5)
   and **renames it atomically** into place.
4. The file is verified: exact size (profile or ``Content-Length``), the checksum the source
   publishes (Ensembl's ``CHECKSUMS``, in BSD ``sum`` format, or an ``md5sum`` file), and for
   ``.gz`` files a full decompression (a truncated gzip fails here). With ``unpack=True`` that
   decompression writes the plain file beside it (atomically): pyfaidx cannot index plain gzip,
   so genomes are kept **decompressed** in the cache (FASTA and GFF3).
5. A file that fails any check is deleted with a :class:`cornlib.CornlibWarning` and fetched
   again once; a second failure raises :class:`ValueError` naming the URL and the file. A corrupt
   file is never returned.

HTTP 404/410 raise :class:`FileNotFoundError` naming the URL; other HTTP and connection errors are
retried, then raise :class:`DownloadError` (the ``.part`` file is kept for the next resume).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import logging
import os
import re
import shutil
import time
import warnings
import zlib
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator, Mapping

from cornlib import CornlibWarning
from cornlib.data.filespec import (
    FileSpec,
    bsd_sum,
    file_spec,
    genome_spec,
    parse_checksums,
    url_name,
)
from cornlib.data.genome import GenomeFiles

CHUNK = 1 << 20
MARKER_SUFFIX = ".verified.json"
PART_SUFFIX = ".part"
USER_AGENT = "cornlib (pooch; resumable)"


class DownloadError(OSError):
    """A download failed after its retries (HTTP 5xx, connection lost, bad response)."""


class _Retry(Exception):
    """A transient problem: try the request again (resuming where possible)."""


class _SizeMismatch(ValueError):
    """The server announces another size than the profile gives."""


def _with_published_checksum(spec: FileSpec, folder: Path, **kw: Any) -> FileSpec:
    """Fill ``bsd_sum``/``known_hash`` of ``spec`` from its ``checksums_url`` (fetched, cached)."""
    if spec.checksums_url is None:
        return spec
    tag = hashlib.sha1(spec.checksums_url.encode()).hexdigest()[:10]
    local = fetch(FileSpec(spec.checksums_url), folder, fname=f"{url_name(spec.checksums_url)}.{tag}",
                  **kw)
    table = parse_checksums(local.read_text(), source=spec.checksums_url)
    if spec.name not in table:
        raise ValueError(f"{spec.checksums_url} lists no entry for {spec.name}; check the URL of "
                         f"the file, or drop 'checksums' for it in the profile")
    kind, value = table[spec.name]
    if kind == "sum":
        return replace(spec, bsd_sum=value)
    if spec.known_hash is None:
        return replace(spec, known_hash=f"md5:{value}")
    return spec


# --- verification --------------------------------------------------------------------------------


def gunzip_to(src: str | os.PathLike, dest: str | os.PathLike | None = None) -> Path | None:
    """Decompress gzip ``src`` completely into ``dest`` (atomically), or just test it if ``None``.

    Raises:
        ValueError: the file is truncated or corrupt (naming it); ``dest`` is left untouched.
    """
    from cornlib.io import atomic_path

    src = Path(src)
    try:
        with gzip.open(src, "rb") as fin:
            if dest is None:
                while fin.read(CHUNK):
                    pass
                return None
            with atomic_path(dest) as tmp, open(tmp, "wb") as fout:
                shutil.copyfileobj(fin, fout, CHUNK)
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise ValueError(f"{src} is not a complete gzip file ({err})") from err
    return Path(dest)


def _problem(path: Path, spec: FileSpec, *, hashed: bool) -> str | None:
    """The first failed check of a downloaded file, or ``None`` when it is sound."""
    size = path.stat().st_size
    if spec.size is not None and size != spec.size:
        return f"{path} has {size} bytes but {spec.url} should have {spec.size}"
    if spec.bsd_sum is not None:
        got = bsd_sum(path)
        if got != tuple(spec.bsd_sum):
            return (f"{path} has BSD sum {got[0]} ({got[1]} blocks) but {spec.checksums_url} "
                    f"publishes {spec.bsd_sum[0]} ({spec.bsd_sum[1]} blocks)")
    if spec.known_hash is not None and not hashed:
        import pooch

        alg, want = spec.known_hash.split(":", 1)
        got = pooch.file_hash(str(path), alg=alg)
        if got != want:
            return f"{path} has {alg} {got} but {spec.url} should have {want}"
    return None


def _marker(path: Path) -> Path:
    return path.with_name(path.name + MARKER_SUFFIX)


def _marker_ok(path: Path, out: Path, spec: FileSpec) -> bool:
    """True when ``path`` (and its unpacked ``out``) were verified and have not changed since."""
    marker = _marker(path)
    if not (marker.exists() and path.exists() and out.exists()):
        return False
    try:
        info = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    st = path.stat()
    return (info.get("url") == spec.url and info.get("size") == st.st_size
            and info.get("mtime_ns") == st.st_mtime_ns
            and (spec.known_hash is None or info.get("known_hash") == spec.known_hash)
            and (out == path or info.get("unpacked_size") == out.stat().st_size))


def _write_marker(path: Path, out: Path, spec: FileSpec) -> None:
    from cornlib.io import write_json

    st = path.stat()
    write_json(_marker(path), {
        "url": spec.url, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
        "known_hash": spec.known_hash, "bsd_sum": spec.bsd_sum,
        "unpacked": out.name if out != path else None,
        "unpacked_size": out.stat().st_size if out != path else None,
    })


def _discard(*paths: Path) -> None:
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


# --- the resumable transfer ----------------------------------------------------------------------


class ResumableDownloader:
    """A pooch downloader that streams into a stable ``.part`` file and resumes it with ``Range``.

    Args:
        part: the partial file (kept between attempts and between calls).
        size: expected size in bytes, or ``None`` (then ``Content-Length`` decides).
        retries: extra attempts after a transient failure (connection lost, HTTP 5xx/429).
        retry_wait: seconds before the first retry; doubled each time.
        timeout: seconds for connect and for each read.
        progress: show a tqdm bar in bytes.
    """

    def __init__(self, part: Path, size: int | None = None, *, retries: int = 3,
                 retry_wait: float = 1.0, timeout: float = 60.0, progress: bool = True):
        self.part, self.size, self.retries = Path(part), size, retries
        self.retry_wait, self.timeout, self.progress = retry_wait, timeout, progress

    def __call__(self, url: str, output_file: Any, pooch: Any = None, check_only: bool = False) -> Any:
        """Download ``url`` into ``output_file`` (pooch's temporary file) via the ``.part`` file."""
        if check_only:
            return True
        import http.client

        import requests
        import urllib3

        transient = (_Retry, requests.ConnectionError, requests.Timeout,
                     requests.exceptions.ChunkedEncodingError, urllib3.exceptions.HTTPError,
                     http.client.HTTPException, ConnectionError, TimeoutError)
        for attempt in range(self.retries + 1):
            try:
                self._attempt(url)
                break
            except transient as err:
                if attempt == self.retries:
                    have = self.part.stat().st_size if self.part.exists() else 0
                    kept = (f"; {have} bytes are kept in {self.part} and the next call resumes "
                            "from there" if have else "")
                    raise DownloadError(f"download of {url} failed after {attempt + 1} attempt(s): "
                                        f"{err}{kept}") from err
                time.sleep(self.retry_wait * 2**attempt)
        os.replace(self.part, output_file)
        return None

    def _attempt(self, url: str) -> None:
        """One request: resume or (re)start the part file; raise :class:`_Retry` if incomplete."""
        import requests
        from tqdm import tqdm

        offset = self.part.stat().st_size if self.part.exists() else 0
        if self.size is not None and offset > self.size:
            _discard(self.part)
            offset = 0
        if self.size is not None and offset == self.size and offset > 0:
            return
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        with requests.get(url, headers=headers, stream=True, timeout=self.timeout) as r:
            if r.status_code == 416 and _content_range(r.headers.get("Content-Range"))[2] == offset:
                return  # the part file already holds the whole file
            total = self._check_response(r, url, offset)
            if r.status_code != 206:
                offset = 0
            with open(self.part, "ab" if offset else "wb") as fh, tqdm(
                total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                desc=url_name(url)[:40], disable=not self.progress, leave=False,
            ) as bar:
                # raw bytes: a server that labels a .gz "Content-Encoding: gzip" must not unpack it
                for chunk in r.raw.stream(CHUNK, decode_content=False):
                    fh.write(chunk)
                    bar.update(len(chunk))
        have = self.part.stat().st_size
        if total is not None and have < total:
            raise _Retry(f"the connection closed after {have} of {total} bytes")
        if total is not None and have > total:
            _discard(self.part)
            raise _Retry(f"the server sent {have} bytes but announced {total}")

    def _check_response(self, r: Any, url: str, offset: int) -> int | None:
        """Status and length checks of one response; the file's full size if known."""
        if r.status_code in (404, 410):
            raise FileNotFoundError(f"{url}: HTTP {r.status_code} {r.reason}: no such file on the "
                                    "server; check the URL (and the release number) in the profile")
        if r.status_code == 416:
            _discard(self.part)
            raise _Retry(f"the server refused to resume at byte {offset}; restarting")
        if r.status_code in (429,) or r.status_code >= 500:
            raise _Retry(f"HTTP {r.status_code} {r.reason} from {url}")
        if r.status_code >= 400:
            raise DownloadError(f"{url}: HTTP {r.status_code} {r.reason}")
        if r.status_code == 206:
            start, _, full = _content_range(r.headers.get("Content-Range", ""))
            if start != offset:
                _discard(self.part)
                raise _Retry(f"the server resumed at byte {start}, not {offset}; restarting")
        else:
            length = r.headers.get("Content-Length")
            full = int(length) if length and length.isdigit() else None
        if full is not None and self.size is not None and full != self.size:
            _discard(self.part)
            raise _SizeMismatch(f"{url}: the server reports {full} bytes but the profile expects "
                             f"{self.size}; update 'size' (and the hash) if the file was re-released")
        return full if full is not None else self.size


def _content_range(value: str | None) -> tuple[int | None, int | None, int | None]:
    """Parse ``bytes a-b/N`` or ``bytes */N`` into ``(a, b, N)`` (``None`` where absent)."""
    m = re.fullmatch(r"\s*bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)\s*", value or "")
    if not m:
        return None, None, None
    a, b, n = m.groups()
    return (int(a) if a else None, int(b) if b else None, int(n) if n and n != "*" else None)


@contextlib.contextmanager
def _quiet_pooch() -> Iterator[None]:
    """Silence pooch's INFO log lines (they would show as red stderr boxes in notebooks)."""
    import pooch

    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


# --- fetch ---------------------------------------------------------------------------------------


def fetch(spec: str | Mapping[str, Any] | FileSpec, cache_dir: str | os.PathLike | None = None, *,
          fname: str | None = None, unpack: bool = False, progress: bool = True, retries: int = 3,
          retry_wait: float = 1.0, timeout: float = 60.0) -> Path:
    """Download one file into ``cache_dir`` once, verified; return its local path.

    A local file (a path instead of a URL, see :func:`cornlib.data.filespec.file_spec`) is
    verified against the size and hash its entry gives and returned as it is: nothing is
    copied, and ``unpack`` is ignored (every reader of the library takes gzip and BGZF).

    Args:
        spec: URL, file entry (:func:`file_spec`) or :class:`FileSpec`.
        cache_dir: target folder; ``None`` is :func:`cornlib.paths.cache_dir`.
        fname: local file name (default: the URL's).
        unpack: for a ``.gz`` file, also decompress it beside the download and return that path.
        progress: show a tqdm bar in bytes.
        retries, retry_wait, timeout: see :class:`ResumableDownloader`.

    Returns:
        The verified file (or its decompressed copy when ``unpack``).

    Raises:
        FileNotFoundError: HTTP 404/410.
        DownloadError: the transfer kept failing.
        ValueError: the file failed verification twice (size, checksum, hash, gzip integrity).
    """
    from cornlib.paths import cache_dir as default_cache

    spec = file_spec(spec)
    if spec.is_local:
        return _local_file(spec)
    folder = default_cache(cache_dir)
    path = folder / (fname or spec.name)
    out = path.with_suffix("") if unpack and path.suffix == ".gz" else path
    if _marker_ok(path, out, spec):
        return out
    kw = dict(progress=progress, retries=retries, retry_wait=retry_wait, timeout=timeout)
    spec = _with_published_checksum(spec, folder, **kw)

    if path.exists():
        problem = _verify_and_unpack(path, out, spec, hashed=False)
        if problem is None:
            _write_marker(path, out, spec)
            return out
        warnings.warn(f"cached {problem}; deleting it and downloading again", CornlibWarning,
                      stacklevel=2)
        _discard(path, _marker(path))

    for attempt in (1, 2):
        problem = _download(spec, path, **kw)
        if problem is None:
            problem = _verify_and_unpack(path, out, spec, hashed=True)
        if problem is None:
            _write_marker(path, out, spec)
            return out
        _discard(path, _marker(path), path.with_name(path.name + PART_SUFFIX))
        if attempt == 2:
            raise ValueError(f"{problem}; downloaded twice from {spec.url}: the file on the server "
                             "is damaged or differs from its published checksum or the hash/size in "
                             "the profile (check them; the file was deleted)")
        warnings.warn(f"{problem}; deleted it, downloading again", CornlibWarning, stacklevel=2)
    raise AssertionError("unreachable")


def _local_file(spec: FileSpec) -> Path:
    """A local file of a profile: exists, and matches the size/hash its entry gives."""
    path = Path(spec.url)
    if not path.is_file():
        raise FileNotFoundError(f"local file {path} does not exist")
    problem = _problem(path, spec, hashed=False)
    if problem is not None:
        problem = problem.replace(f"but {spec.url} should have", "but the profile gives")
        raise ValueError(f"{problem} (a local file: fix the file or the profile's size/hash)")
    return path


def _download(spec: FileSpec, path: Path, *, progress: bool, retries: int, retry_wait: float,
              timeout: float) -> str | None:
    """Run pooch with the resumable downloader; return a hash-mismatch message or ``None``."""
    import pooch

    downloader = ResumableDownloader(path.with_name(path.name + PART_SUFFIX), spec.size,
                                     retries=retries, retry_wait=retry_wait, timeout=timeout,
                                     progress=progress)
    try:
        with _quiet_pooch():
            pooch.retrieve(spec.url, known_hash=spec.known_hash, fname=path.name, path=path.parent,
                           downloader=downloader)
    except _SizeMismatch:
        raise
    except ValueError as err:  # pooch: the hash does not match (it deleted its temporary file)
        return f"{path} from {spec.url} failed its hash check ({err})"
    return None


def _verify_and_unpack(path: Path, out: Path, spec: FileSpec, *, hashed: bool) -> str | None:
    """Verify ``path``; decompress it to ``out`` (or test the gzip); return the problem or ``None``."""
    problem = _problem(path, spec, hashed=hashed)
    if problem is None and path.suffix == ".gz":
        try:
            gunzip_to(path, out if out != path else None)
        except ValueError as err:
            problem = str(err)
    return problem


# --- genomes and expression ---------------------------------------------------------------------


def fetch_genome(spec: Mapping[str, Any], cache_dir: str | os.PathLike | None = None, *,
                 progress: bool = True) -> GenomeFiles:
    """Download, verify and decompress one genome of a profile's ``species`` list.

    Files land in ``<cache>/genomes/<name>/``: the ``.gz`` downloads and their plain copies
    (FASTA ready for pyfaidx, GFF3 for any reader). Local files are used where they are.

    Args:
        spec: ``{name, label?, fasta, gff?, checksums?}`` (see :func:`genome_spec`).
        cache_dir: ``None`` is :func:`cornlib.paths.cache_dir`.
        progress: tqdm bars in bytes.

    Returns:
        :class:`cornlib.data.sources.GenomeFiles` with plain FASTA and GFF3 paths.
    """
    from cornlib.paths import cache_dir as default_cache

    g = genome_spec(spec)
    folder = default_cache(cache_dir) / "genomes" / g["name"]
    fasta = fetch(g["fasta"], folder, unpack=True, progress=progress)
    gff = fetch(g["gff"], folder, unpack=True, progress=progress) if g["gff"] else None
    return GenomeFiles(species=g["name"], label=g["label"], fasta=fasta, gff=gff)


def expression_files(spec: Mapping[str, Any]) -> dict[str, FileSpec]:
    """The files of an expression spec: ``{line: FileSpec}``.

    ``spec["url"]`` may hold ``{line}``, replaced by each entry of ``spec["lines"]`` (default
    ``["B73"]``); ``spec["sha256"]``/``spec["md5"]``/``spec["size"]`` are mappings ``line → value``
    (or a single value when there is one line).
    """
    url = spec.get("url")
    lines = spec.get("lines") or ["B73"]
    if not isinstance(url, str):
        raise ValueError(f"expression: 'url' (the expression table URL) is required, got {url!r}")
    if not isinstance(lines, list) or not all(isinstance(x, str) and x for x in lines):
        raise ValueError(f"expression: 'lines' must be a list of line names, not {lines!r}")
    if len(lines) > 1 and "{line}" not in url:
        raise ValueError("expression: several 'lines' need '{line}' in 'url' (one file per line)")
    files = {}
    for line in lines:
        entry: dict[str, Any] = {"url": url.replace("{line}", line)}
        for key in ("sha256", "md5", "size"):
            value = spec.get(key)
            if isinstance(value, Mapping):
                value = value.get(line)
            elif value is not None and len(lines) > 1:
                raise ValueError(f"expression: with several lines '{key}' must map line → value")
            if value is not None:
                entry[key] = value
        files[line] = file_spec(entry, f"expression ({line})")
    return files


def fetch_expression(spec: Mapping[str, Any], cache_dir: str | os.PathLike | None = None, *,
                     progress: bool = True) -> dict[str, Path]:
    """Download the expression table(s) of a profile's ``expression`` spec, verified.

    Files land in ``<cache>/expression/``; ``.gz`` tables are decompressed.

    Returns:
        ``{line: path}`` in the order of ``spec["lines"]``.
    """
    from cornlib.paths import cache_dir as default_cache

    folder = default_cache(cache_dir) / "expression"
    return {line: fetch(fs, folder, unpack=True, progress=progress)
            for line, fs in expression_files(spec).items()}
