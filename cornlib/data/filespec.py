"""What a file of a profile should be: its spec (URL or local path, hash, size), and published
checksums (Ensembl's BSD ``sum`` ``CHECKSUMS`` files and ``md5sum`` lists).

Every place of a profile that takes a URL (genome FASTA and GFF3, protein FASTA, expression
tables) also takes a local path (``/data/lab/genome.fa.gz``, ``~/x.gff3`` or ``file:///…``): a
local file is checked to exist when its entry is read, verified against ``size``/``sha256``/``md5``
when given, and read in place (nothing is copied or downloaded).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

GENOME_KEYS = {"name", "label", "fasta", "gff", "checksums"}
FILE_KEYS = {"url", "path", "sha256", "md5", "size", "checksums_url"}
CHECKSUM_SOURCES = {None, "none", "ensembl"}


@dataclass(frozen=True)
class FileSpec:
    """One file, remote or local, and what is known about it.

    Attributes:
        url: ``http(s)://`` address, or the absolute path of a local file.
        known_hash: pooch-style hash, ``sha256:<hex>`` or ``md5:<hex>``, or ``None``.
        size: exact size in bytes, or ``None``.
        bsd_sum: ``(checksum, 1 KiB blocks)`` as printed by ``sum -r`` (Ensembl ``CHECKSUMS``).
        checksums_url: a published checksum file (``CHECKSUMS`` or ``md5sum`` format) listing it.
    """

    url: str
    known_hash: str | None = None
    size: int | None = None
    bsd_sum: tuple[int, int] | None = None
    checksums_url: str | None = None

    @property
    def name(self) -> str:
        """The file name at the end of the URL (or path)."""
        return url_name(self.url)

    @property
    def is_local(self) -> bool:
        """True for a local file (``url`` is then its absolute path)."""
        return not is_url(self.url)


# --- specs -------------------------------------------------------------------------------------


def url_name(url: str) -> str:
    """The last path component of ``url`` (``.../Zea_mays...fa.gz`` → ``Zea_mays...fa.gz``)."""
    name = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    if not name:
        raise ValueError(f"URL {url!r} does not end in a file name")
    return name


def is_url(text: str) -> bool:
    """True for an ``http(s)://`` address (anything else of a profile's files is a local path)."""
    return urlsplit(str(text)).scheme in {"http", "https"}


def local_path(text: str | os.PathLike, where: str = "file") -> Path:
    """The absolute path of a local file entry (``~`` expanded, ``file://`` removed), checked.

    Raises:
        ValueError: another URL scheme than ``file`` (``ftp://``: give the https address).
        FileNotFoundError: the file does not exist (naming ``where`` and the path).
    """
    text = os.fspath(text)
    scheme = urlsplit(text).scheme
    if scheme == "file":
        text = urlsplit(text).path
    elif len(scheme) > 1:  # one letter: a Windows drive
        raise ValueError(f"{where}: {text!r} is neither a local path nor an http(s) URL "
                         "(Ensembl's FTP site is also served over https://ftp.ensemblgenomes.ebi.ac.uk)")
    path = Path(text).expanduser().resolve()
    if not path.is_file():
        hint = (" (it is a folder: name the file inside it)" if path.is_dir() else
                "" if path.parent.is_dir() else f" (its folder {path.parent} does not exist either)")
        raise FileNotFoundError(f"{where}: local file {path} does not exist{hint}")
    return path


def file_spec(entry: str | os.PathLike | Mapping[str, Any] | FileSpec,
              where: str = "file") -> FileSpec:
    """Read a file entry of a profile: a URL or local path, or ``{url | path, sha256, md5, size,
    checksums_url}``.

    A local path is checked to exist here (see :func:`local_path`) and stored absolute in ``url``.

    Args:
        entry: the profile value.
        where: what the entry is, for error messages (``species[0].fasta``).

    Raises:
        ValueError: unknown keys, a missing URL or a non-HTTP one, a malformed hash or size.
        FileNotFoundError: a local file that does not exist.
    """
    if isinstance(entry, FileSpec):
        return entry
    if isinstance(entry, (str, os.PathLike)):
        entry = {"url": os.fspath(entry)}
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where}: expected a URL, a path or a mapping with 'url', "
                         f"not {type(entry).__name__}")
    unknown = set(entry) - FILE_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(FILE_KEYS)}")
    if "url" in entry and "path" in entry:
        raise ValueError(f"{where}: give one of 'url' or 'path', not both")
    url = entry.get("url", entry.get("path"))
    if not isinstance(url, (str, os.PathLike)) or not os.fspath(url):
        raise ValueError(f"{where}: 'url' must be an http(s) URL or a local path, not {url!r}")
    url = os.fspath(url)
    if not is_url(url):
        url = str(local_path(url, where))
    url_name(url)
    sha256, md5 = entry.get("sha256"), entry.get("md5")
    if sha256 and md5:
        raise ValueError(f"{where}: give one of 'sha256' or 'md5', not both")
    known_hash = None
    if sha256:
        known_hash = _checked_hash("sha256", sha256, 64, where)
    elif md5:
        known_hash = _checked_hash("md5", md5, 32, where)
    size = entry.get("size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise ValueError(f"{where}: 'size' must be a byte count (int >= 0), not {size!r}")
    checksums_url = entry.get("checksums_url")
    if checksums_url is not None and urlsplit(str(checksums_url)).scheme not in {"http", "https"}:
        raise ValueError(f"{where}: 'checksums_url' must be an http(s) URL, not {checksums_url!r}")
    return FileSpec(url=url, known_hash=known_hash, size=size, checksums_url=checksums_url)


def _checked_hash(alg: str, value: Any, length: int, where: str) -> str:
    text = str(value).lower().removeprefix(f"{alg}:")
    if not re.fullmatch(rf"[0-9a-f]{{{length}}}", text):
        raise ValueError(f"{where}: '{alg}' must be {length} hex digits, not {value!r}")
    return f"{alg}:{text}"


def genome_spec(spec: Mapping[str, Any], where: str = "species") -> dict[str, Any]:
    """Check a genome spec of ``profiles/full.yml`` and fill its defaults.

    A spec is ``{name, label?, fasta, gff?, checksums?}``: ``fasta``/``gff`` are URLs or file
    entries (:func:`file_spec`); ``checksums: ensembl`` verifies each file against the
    ``CHECKSUMS`` file Ensembl publishes in the same directory.

    Returns:
        ``{"name", "label", "fasta": FileSpec, "gff": FileSpec | None}``.
    """
    if not isinstance(spec, Mapping):
        raise ValueError(f"{where}: a download genome spec is a mapping with 'name' and 'fasta', "
                         f"not {spec!r}")
    unknown = set(spec) - GENOME_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(GENOME_KEYS)}")
    name = spec.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
        raise ValueError(f"{where}: 'name' must be a short key like 'zmays' (letters, digits, _), "
                         f"not {name!r}")
    if "fasta" not in spec:
        raise ValueError(f"{where} ({name}): 'fasta' (the genome FASTA URL) is required")
    checksums = spec.get("checksums")
    if checksums not in CHECKSUM_SOURCES:
        raise ValueError(f"{where} ({name}): 'checksums' must be 'ensembl' or none, not {checksums!r}")
    files = {}
    for key in ("fasta", "gff"):
        entry = spec.get(key)
        if entry is None:
            files[key] = None
            continue
        fs = file_spec(entry, f"{where} ({name}).{key}")
        if (checksums == "ensembl" and fs.checksums_url is None and fs.known_hash is None
                and not fs.is_local):
            fs = replace(fs, checksums_url=fs.url.rsplit("/", 1)[0] + "/CHECKSUMS")
        files[key] = fs
    return {"name": name, "label": str(spec.get("label") or name), **files}


# --- checksums -----------------------------------------------------------------------------------


def bsd_sum(path: str | os.PathLike) -> tuple[int, int]:
    """BSD ``sum`` of a file: ``(16-bit rotating checksum, size in 1 KiB blocks)``.

    This is the algorithm of Ensembl's ``CHECKSUMS`` files. GNU coreutils' ``sum -r`` computes it
    when on PATH; otherwise a pure-Python loop does (slow: about 10 MB/s).
    """
    exe = shutil.which("sum")
    if exe:
        proc = subprocess.run([exe, "-r", str(path)], capture_output=True, text=True)
        fields = proc.stdout.split()
        if proc.returncode == 0 and len(fields) >= 2 and fields[0].isdigit() and fields[1].isdigit():
            return int(fields[0]), int(fields[1])
    return bsd_sum_python(path)


def bsd_sum_python(path: str | os.PathLike) -> tuple[int, int]:
    """Pure-Python BSD ``sum`` (see :func:`bsd_sum`)."""
    checksum, size = 0, 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            size += len(chunk)
            for byte in chunk:
                checksum = (((checksum >> 1) | ((checksum & 1) << 15)) + byte) & 0xFFFF
    return checksum, -(-size // 1024)


def parse_checksums(text: str, source: str = "CHECKSUMS") -> dict[str, tuple[str, Any]]:
    """Parse a published checksum file.

    Two formats are read: Ensembl's ``CHECKSUMS`` (``sum`` output: ``<checksum> <blocks> <name>``)
    and ``md5sum`` output (``<32 hex>  <name>``, MaizeGDB's ``.md5`` files).

    Returns:
        ``{file name: ("sum", (checksum, blocks)) | ("md5", hex)}``.

    Raises:
        ValueError: a line in neither format (naming ``source`` and the line number).
    """
    table: dict[str, tuple[str, Any]] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) >= 3 and fields[0].isdigit() and fields[1].isdigit():
            table[fields[2].lstrip("*")] = ("sum", (int(fields[0]), int(fields[1])))
        elif len(fields) >= 2 and re.fullmatch(r"[0-9a-fA-F]{32}", fields[0]):
            table[Path(fields[1].lstrip("*")).name] = ("md5", fields[0].lower())
        else:
            raise ValueError(f"{source} line {lineno}: expected '<sum> <blocks> <file>' or "
                             f"'<md5>  <file>', got {line!r}")
    return table
