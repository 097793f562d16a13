"""The IMDB loader on small archives and directories that the tests build in the official
layout (made-up reviews: never the real data), its safety checks and the opt-in download."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from rnnbench.converge import imdb

POSITIVE = ("great", "wonderful", "loved", "superb", "moving")
NEGATIVE = ("awful", "boring", "hated", "dull", "mess")
FILLER = ("the", "film", "plot", "actor", "scene", "and", "a", "was", "it", "story")


def review_text(label: int, index: int) -> str:
    """A made-up review whose sentiment words give its label away, with a ``<br />`` tag."""
    words = POSITIVE if label else NEGATIVE
    body = [FILLER[(index + k) % len(FILLER)] for k in range(3 + index % 7)]
    body.insert(index % len(body), words[index % len(words)])
    return " ".join(body) + "!<br /><br />" + words[(index + 1) % len(words)].capitalize() + "."


def layout(per_class: int) -> dict[str, str]:
    """Member name -> text of a tiny dataset in the official ``aclImdb/`` layout."""
    files = {"aclImdb/README": "made-up test data", "aclImdb/imdb.vocab": "the\nfilm\n",
             "aclImdb/train/unsup/0_0.txt": "ignored: unlabelled",
             "aclImdb/train/labeledBow.feat": "0 0:1\n"}
    for split in ("train", "test"):
        for label, name in ((1, "pos"), (0, "neg")):
            for i in range(per_class):
                rating = 7 + i % 4 if label else 1 + i % 4
                files[f"aclImdb/{split}/{name}/{i}_{rating}.txt"] = review_text(label, i)
    return files


def make_archive(path: Path, files: dict[str, str], extra: list[tarfile.TarInfo] = ()) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)
    return path


def make_directory(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    return make_archive(tmp_path / "aclImdb_v1.tar.gz", layout(per_class=6))


def test_archive_reads_every_labelled_review_and_nothing_else(archive: Path) -> None:
    splits = imdb.load(archive)
    assert set(splits) == {"train", "test"}
    for reviews in splits.values():
        assert len(reviews) == 12
        assert sum(r.label for r in reviews) == 6
        assert all((r.rating >= 7) == (r.label == 1) for r in reviews)
    first = splits["train"][0]
    assert (first.label, first.id) == (0, 0) and first.text == review_text(0, 0)


def test_archive_and_extracted_directory_read_alike(tmp_path: Path, archive: Path) -> None:
    root = make_directory(tmp_path / "extracted", layout(per_class=6))
    assert imdb.load(root) == imdb.load(archive)
    assert imdb.load(root / "aclImdb") == imdb.load(archive)  # pointed at aclImdb itself


def test_non_utf8_bytes_are_replaced_not_fatal(tmp_path: Path) -> None:
    files = layout(per_class=1)
    path = make_archive(tmp_path / "a.tar.gz", files)
    raw = tmp_path / "raw"
    make_directory(raw, files)
    (raw / "aclImdb/train/pos/0_7.txt").write_bytes(b"caf\xe9 great")
    assert imdb.load(raw)["train"][1].text == "caf\ufffd great"
    assert imdb.load(path)["train"][1].text == review_text(1, 0)


@pytest.mark.parametrize("bad_name", ["../evil.txt", "aclImdb/../../evil.txt", "/etc/passwd",
                                      "aclImdb/train/pos/../../../x/0_9.txt"])
def test_members_escaping_the_archive_are_rejected(tmp_path: Path, bad_name: str) -> None:
    info = tarfile.TarInfo(bad_name)
    info.size = 3
    path = make_archive(tmp_path / "evil.tar.gz", layout(1), extra=[info])
    with pytest.raises(ValueError, match="unsafe path") as error:
        imdb.load(path)
    assert repr(bad_name) in str(error.value)


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE])
def test_links_posing_as_reviews_are_rejected(tmp_path: Path, kind: bytes) -> None:
    info = tarfile.TarInfo("aclImdb/train/pos/99_9.txt")
    info.type, info.linkname = kind, "aclImdb/README"
    path = make_archive(tmp_path / "links.tar.gz", layout(1), extra=[info])
    with pytest.raises(ValueError, match="is a link"):
        imdb.load(path)


def test_random_bytes_are_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.tar.gz"
    path.write_bytes(bytes(range(256)) * 20)
    with pytest.raises(ValueError, match="not a readable tar archive"):
        imdb.load(path)


def test_a_truncated_archive_is_a_clear_error(tmp_path: Path, archive: Path) -> None:
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(ValueError, match="not a readable tar archive") as error:
        imdb.load(cut)
    assert "cut.tar.gz" in str(error.value)


def test_gzip_of_something_else_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "text.tar.gz"
    path.write_bytes(gzip.compress(b"just some text, not a tar archive" * 30))
    with pytest.raises(ValueError, match="not a readable tar archive"):
        imdb.load(path)


def test_an_archive_without_the_layout_says_what_it_expected(tmp_path: Path) -> None:
    path = make_archive(tmp_path / "other.tar.gz", {"data/a.txt": "hello"})
    with pytest.raises(ValueError, match=r"aclImdb/\{train,test\}/\{pos,neg\}"):
        imdb.load(path)


def test_missing_path_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        imdb.load(tmp_path / "nope.tar.gz")


def test_resolve_path_order_explicit_then_env_then_default(tmp_path, monkeypatch, archive):
    monkeypatch.delenv(imdb.ENV_VAR, raising=False)
    with pytest.raises(FileNotFoundError, match="--data PATH"):
        imdb.resolve_path(None, base=tmp_path)
    default = tmp_path / "repo" / imdb.DEFAULT_PATHS[0]
    default.parent.mkdir(parents=True)
    default.write_bytes(archive.read_bytes())
    assert imdb.resolve_path(None, base=tmp_path / "repo") == default
    monkeypatch.setenv(imdb.ENV_VAR, str(archive))
    assert imdb.resolve_path(None, base=tmp_path / "repo") == archive
    assert imdb.resolve_path(str(default)) == default
    with pytest.raises(FileNotFoundError, match=r"data='.*missing'"):
        imdb.resolve_path(str(tmp_path / "missing"))


def test_download_keeps_a_file_only_if_its_checksum_matches(tmp_path: Path, archive: Path) -> None:
    url = archive.as_uri()  # file:// stands in for the network
    good = imdb.sha256_of(archive)
    target = tmp_path / "cache" / "aclImdb_v1.tar.gz"
    with pytest.raises(ValueError, match="does not match the expected"):
        imdb.download(target, url=url, sha256="0" * 64)
    assert not target.exists() and list(target.parent.iterdir()) == []
    assert imdb.download(target, url=url, sha256=good) == target
    assert target.read_bytes() == archive.read_bytes()


def test_download_skips_a_verified_file(tmp_path, monkeypatch, archive) -> None:
    def no_network(*args: object) -> None:
        raise AssertionError("downloaded although a verified file was there")

    monkeypatch.setattr(imdb.urllib.request, "urlopen", no_network)
    assert imdb.download(archive, url="https://example.invalid/x", sha256=imdb.sha256_of(archive))


def test_the_official_checksum_is_a_sha256() -> None:
    assert len(imdb.SHA256) == 64 and int(imdb.SHA256, 16)
    assert imdb.URL.startswith("https://") and imdb.URL.endswith("aclImdb_v1.tar.gz")
