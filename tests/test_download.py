"""Downloads run for real against a loopback HTTP server (with Range support) serving the maize fixtures."""

from __future__ import annotations

import gzip
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyfaidx
import pytest

from cornlib import CornlibWarning
from cornlib.data import download, filespec
from cornlib.data.sources import GenomeFiles, resolve

FIXTURES = Path(__file__).parent / "data" / "maize"
FASTA = FIXTURES / "Zea_mays.Zm-B73-REFERENCE-NAM-5.0.dna.toplevel.mini.fa.gz"
GFF = FIXTURES / "Zea_mays.Zm-B73-REFERENCE-NAM-5.0.57.mini.gff3.gz"
FASTA_PATH = f"/pub/plants/release-57/fasta/zea_mays/dna/{FASTA.name}"
GFF_PATH = f"/pub/plants/release-57/gff3/zea_mays/{GFF.name}"


class _Handler(BaseHTTPRequestHandler):
    """GET with ``Range: bytes=a-[b]``; per-path scripted failures (see :class:`_Server`)."""

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        srv: _Server = self.server  # type: ignore[assignment]
        srv.log.append((self.path, self.headers.get("Range")))
        if self.path in srv.status:
            self.send_response(srv.status[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = srv.once.pop(self.path, None) or srv.routes.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        start, end, status = 0, len(body) - 1, 200
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range") or "")
        if m and not srv.ignore_range:
            start, status = int(m[1]), 206
            end = int(m[2]) if m[2] else len(body) - 1
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        chunk = body[start:end + 1]
        self.send_response(status)
        self.send_header("Content-Length", str(len(chunk)))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(body)}")
        self.end_headers()
        cut = srv.cut.pop(self.path, None)
        self.wfile.write(chunk if cut is None else chunk[:cut])  # then close mid-body

    def log_message(self, *args) -> None:
        pass


class _Server(ThreadingHTTPServer):
    """``routes``: path → bytes; ``once``: served once instead; ``cut``: close after n bytes once;
    ``status``: path → HTTP status; ``log``: (path, Range header) per request."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, bytes] = {}
        self.once: dict[str, bytes] = {}
        self.cut: dict[str, int] = {}
        self.status: dict[str, int] = {}
        self.log: list[tuple[str, str | None]] = []
        self.ignore_range = False

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


@pytest.fixture
def server():
    srv = _Server()
    srv.routes.update({
        FASTA_PATH: FASTA.read_bytes(), GFF_PATH: GFF.read_bytes(),
        FASTA_PATH.rsplit("/", 1)[0] + "/CHECKSUMS": (FIXTURES / "CHECKSUMS").read_bytes(),
        GFF_PATH.rsplit("/", 1)[0] + "/CHECKSUMS": (FIXTURES / "CHECKSUMS").read_bytes(),
    })
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _spec(server: _Server, **extra) -> dict:
    return {"name": "zmays", "label": "Zea mays B73 (fixture)", "fasta": server.url(FASTA_PATH),
            "gff": server.url(GFF_PATH), "checksums": "ensembl", **extra}


def _quick(**kw):
    return dict(progress=False, retry_wait=0.0, timeout=5.0, **kw)


def test_fetch_genome_verifies_and_decompresses_for_pyfaidx(server, tmp_path):
    genome = download.fetch_genome(_spec(server), tmp_path, progress=False)
    assert isinstance(genome, GenomeFiles) and genome.species == "zmays"
    assert genome.fasta.read_bytes() == gzip.decompress(FASTA.read_bytes())
    assert genome.gff.read_bytes() == gzip.decompress(GFF.read_bytes())
    fa = pyfaidx.Fasta(str(genome.fasta))
    assert len(fa["1"]) == 6000 and len(fa["2"]) == 5000
    assert {p for p, _ in server.log} == set(server.routes)  # both CHECKSUMS files were read


def test_sources_resolve_download_returns_genome_files(server, tmp_path):
    (genome,) = resolve("download", [_spec(server)], tmp_path)
    assert genome.fasta.suffix == ".fa" and genome.gff.suffix == ".gff3"


def test_already_complete_makes_no_request(server, tmp_path):
    download.fetch_genome(_spec(server), tmp_path, progress=False)
    n = len(server.log)
    again = download.fetch_genome(_spec(server), tmp_path, progress=False)
    assert len(server.log) == n
    assert again.fasta.read_bytes() == gzip.decompress(FASTA.read_bytes())


def test_interrupted_transfer_resumes_with_range(server, tmp_path):
    server.cut[FASTA_PATH] = 1000
    path = download.fetch(server.url(FASTA_PATH), tmp_path, **_quick())
    assert path.read_bytes() == FASTA.read_bytes()
    ranges = [r for p, r in server.log if p == FASTA_PATH]
    assert ranges == [None, "bytes=1000-"]


def test_interrupted_call_keeps_part_and_next_call_resumes(server, tmp_path):
    server.cut[FASTA_PATH] = 1500
    with pytest.raises(download.DownloadError, match=re.escape(server.url(FASTA_PATH))):
        download.fetch(server.url(FASTA_PATH), tmp_path, **_quick(retries=0))
    part = tmp_path / (FASTA.name + download.PART_SUFFIX)
    assert part.stat().st_size == 1500 and not (tmp_path / FASTA.name).exists()
    path = download.fetch(server.url(FASTA_PATH), tmp_path, **_quick(retries=0))
    assert path.read_bytes() == FASTA.read_bytes() and not part.exists()
    assert server.log[-1] == (FASTA_PATH, "bytes=1500-")


def test_server_ignoring_range_restarts_the_file(server, tmp_path):
    server.ignore_range = True
    server.cut[FASTA_PATH] = 700
    path = download.fetch(server.url(FASTA_PATH), tmp_path, **_quick())
    assert path.read_bytes() == FASTA.read_bytes()


def test_corrupt_download_is_refetched_and_the_good_copy_used(server, tmp_path):
    good = FASTA.read_bytes()
    server.once[FASTA_PATH] = good[:100] + bytes([good[100] ^ 0xFF]) + good[101:]
    with pytest.warns(CornlibWarning, match="BSD sum"):
        genome = download.fetch_genome(_spec(server), tmp_path, progress=False)
    assert genome.fasta.read_bytes() == gzip.decompress(good)
    assert [p for p, _ in server.log].count(FASTA_PATH) == 2


def test_corrupt_file_is_rejected_and_never_used(server, tmp_path):
    good = FASTA.read_bytes()
    server.routes[FASTA_PATH] = good[:100] + bytes([good[100] ^ 0xFF]) + good[101:]
    with pytest.warns(CornlibWarning), pytest.raises(ValueError, match="BSD sum") as err:
        download.fetch_genome(_spec(server), tmp_path, progress=False)
    assert server.url(FASTA_PATH) in str(err.value)
    folder = tmp_path / "genomes" / "zmays"
    assert not (folder / FASTA.name).exists() and not (folder / FASTA.name[:-3]).exists()


def test_sha256_mismatch_is_rejected(server, tmp_path):
    spec = {"url": server.url(FASTA_PATH), "sha256": "0" * 64}
    with pytest.warns(CornlibWarning), pytest.raises(ValueError, match="hash"):
        download.fetch(spec, tmp_path, **_quick())
    assert not (tmp_path / FASTA.name).exists()


def test_truncated_gzip_is_detected_and_not_unpacked(server, tmp_path):
    server.routes["/short.fa.gz"] = FASTA.read_bytes()[:-200]
    with pytest.warns(CornlibWarning), pytest.raises(ValueError, match="not a complete gzip"):
        download.fetch(server.url("/short.fa.gz"), tmp_path, unpack=True, **_quick())
    assert list(tmp_path.iterdir()) == []


def test_cached_corrupt_file_is_replaced(server, tmp_path):
    folder = tmp_path / "genomes" / "zmays"
    folder.mkdir(parents=True)
    (folder / FASTA.name).write_bytes(FASTA.read_bytes()[:-10])
    with pytest.warns(CornlibWarning, match="cached"):
        genome = download.fetch_genome(_spec(server), tmp_path, progress=False)
    assert genome.fasta.read_bytes() == gzip.decompress(FASTA.read_bytes())


def test_http_404_raises_file_not_found_naming_the_url(server, tmp_path):
    url = server.url("/pub/plants/release-57/fasta/zea_mays/dna/missing.fa.gz")
    with pytest.raises(FileNotFoundError, match=re.escape(url)):
        download.fetch(url, tmp_path, **_quick())


def test_http_500_is_retried_then_raises(server, tmp_path):
    server.status[FASTA_PATH] = 503
    with pytest.raises(download.DownloadError, match="503"):
        download.fetch(server.url(FASTA_PATH), tmp_path, **_quick(retries=2))
    assert [p for p, _ in server.log].count(FASTA_PATH) == 3


def test_announced_size_differs_from_profile(server, tmp_path):
    spec = {"url": server.url(FASTA_PATH), "size": FASTA.stat().st_size + 1}
    with pytest.raises(ValueError, match="server reports"):
        download.fetch(spec, tmp_path, **_quick())


def test_checksums_file_without_the_entry_is_an_error(server, tmp_path):
    server.routes["/other/x.fa.gz"] = FASTA.read_bytes()
    server.routes["/other/CHECKSUMS"] = b"12345 4 y.fa.gz\n"
    spec = {"name": "x", "fasta": server.url("/other/x.fa.gz"), "checksums": "ensembl"}
    with pytest.raises(ValueError, match="lists no entry for x.fa.gz"):
        download.fetch_genome(spec, tmp_path, progress=False)


def test_fetch_expression_one_file_per_line(server, tmp_path):
    for line in ("B73", "B97"):
        server.routes[f"/NAM/{line}_full-tpm.tsv"] = (FIXTURES / f"{line}_full-tpm.mini.tsv").read_bytes()
    spec = {"url": server.url("/NAM/{line}_full-tpm.tsv"), "lines": ["B73", "B97"]}
    paths = download.fetch_expression(spec, tmp_path, progress=False)
    assert list(paths) == ["B73", "B97"]
    assert paths["B97"].read_bytes() == (FIXTURES / "B97_full-tpm.mini.tsv").read_bytes()


def test_bsd_sum_matches_the_published_checksums():
    table = filespec.parse_checksums((FIXTURES / "CHECKSUMS").read_text())
    for path in (FASTA, GFF):
        assert table[path.name] == ("sum", filespec.bsd_sum_python(path))
        assert filespec.bsd_sum(path) == filespec.bsd_sum_python(path)


def test_parse_checksums_reads_md5sum_and_rejects_garbage():
    table = filespec.parse_checksums(f"{'a' * 32}  dir/x.fa.gz\n")
    assert table == {"x.fa.gz": ("md5", "a" * 32)}
    with pytest.raises(ValueError, match="line 2"):
        filespec.parse_checksums("1 2 x\nnot a checksum line\n", source="CHECKSUMS")


@pytest.mark.parametrize("spec, message", [
    ({"name": "zmays", "fasta": "ftp://ftp.ensemblgenomes.org/x.fa.gz"}, "http"),
    ({"name": "zmays", "fasta": "https://h/x.fa.gz", "gtf": "https://h/x.gtf"}, "unknown key"),
    ({"name": "Zea mays", "fasta": "https://h/x.fa.gz"}, "short key"),
    ({"name": "zmays"}, "'fasta'"),
    ({"name": "zmays", "fasta": {"url": "https://h/x.fa.gz", "sha256": "abc"}}, "64 hex"),
    ({"name": "zmays", "fasta": "https://h/x.fa.gz", "checksums": "md5"}, "checksums"),
])
def test_genome_spec_rejects_bad_specs(spec, message):
    with pytest.raises(ValueError, match=message):
        filespec.genome_spec(spec)


# --- local paths wherever a URL is taken ---------------------------------------------------------


def test_a_local_genome_is_read_in_place_and_verified(tmp_path):
    import hashlib

    sha = hashlib.sha256(FASTA.read_bytes()).hexdigest()
    spec = {"name": "zmays", "fasta": {"path": str(FASTA), "sha256": sha}, "gff": str(GFF),
            "checksums": "ensembl"}
    (files,) = resolve("download", [spec], tmp_path)
    assert files.fasta == FASTA.resolve() and files.gff == GFF.resolve()
    assert not (tmp_path / "genomes").exists()  # nothing copied, nothing fetched
    bad = {**spec, "fasta": {"url": f"file://{FASTA}", "sha256": "0" * 64}}
    with pytest.raises(ValueError, match="has sha256 [0-9a-f]+ but the profile gives 0+ \\(a local file"):
        resolve("download", [bad], tmp_path)


def test_a_missing_local_file_is_named_with_its_profile_key(tmp_path):
    spec = {"name": "lab", "fasta": str(tmp_path / "genome.fa"), "gff": str(GFF)}
    with pytest.raises(FileNotFoundError,
                       match=rf"species \(lab\).fasta: local file {tmp_path}/genome.fa does not "):
        filespec.genome_spec(spec)
    with pytest.raises(FileNotFoundError, match=r"its folder .*/nowhere does not exist"):
        filespec.file_spec(str(tmp_path / "nowhere" / "x.fa"), "protein_fasta.lab")


def test_local_expression_tables_are_read_in_place(tmp_path):
    table = tmp_path / "tpm.tsv"
    table.write_text("gene_id\troot\nZm00001eb000010\t3\n")
    paths = download.fetch_expression({"url": str(table), "layout": "matrix"}, tmp_path)
    assert list(paths.values()) == [table]


def test_a_profile_checks_its_local_files_when_it_loads(tmp_path):
    from cornlib import profiles

    (tmp_path / "tpm.tsv").write_text("gene_id\troot\ng1\t1\n")
    prof = tmp_path / "lab.yml"
    prof.write_text(f"source: download\nspecies:\n- name: lab\n  fasta: {FASTA}\n"
                    "  gff: missing.gff3\nexpression: {url: tpm.tsv, layout: matrix}\n")
    with pytest.raises(FileNotFoundError, match=rf"profile {prof}: species\[0\] \(lab\).gff: "
                                                rf"local file {tmp_path}/missing.gff3 does not"):
        profiles.load(prof)
    prof.write_text(prof.read_text().replace("missing.gff3", str(GFF)))
    params = profiles.load(prof)
    assert params["expression"]["url"] == str(tmp_path / "tpm.tsv")  # relative to the profile
