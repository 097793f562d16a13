"""The Large Movie Review Dataset (Maas et al. 2011), read from its official layout.

``aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt`` is read either from an extracted
directory or straight from the ``.tar.gz`` (nothing is extracted, nothing written). Other
members (``train/unsup``, ``*.feat``, ``imdb.vocab``, ...) are ignored, so the official
archive and its labelled-only subset read alike.

Reading a tar is safe: a member with an absolute name or a ``..`` component, or a link
among the reviews, makes the whole archive rejected, and a corrupt or truncated archive
raises ``ValueError`` that names the file. A directory is held to the same rule: a review
reached through a symbolic link is refused. ``--data`` must be a regular file or a
directory (a device such as ``/dev/zero`` would be read forever). Parsed archives are
cached per process (keyed by path, size and modification time), since gunzipping 25 MB
costs seconds.

Where the data is: ``--data PATH``, else ``$RNNBENCH_IMDB``, else
``../shared/data/aclImdb_v1_labeled.tar.gz`` (development and CI). ``download()`` fetches
the official archive for users with network access and checks its SHA-256.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import tarfile
import urllib.request
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from rnnbench.files import write_atomic

#: The official archive and its published SHA-256.
URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
#: Environment variable that points at the archive or the extracted directory.
ENV_VAR = "RNNBENCH_IMDB"
#: Where development machines and CI keep the archive, relative to the repository root.
DEFAULT_PATHS = (Path("../shared/data/aclImdb_v1_labeled.tar.gz"),)

SPLITS = ("train", "test")
LABELS = {"neg": 0, "pos": 1}
#: ``[./]aclImdb/<split>/<label>/<id>_<rating>.txt``, or the same without ``aclImdb/``
#: (a directory given at the ``aclImdb`` level).
_REVIEW = re.compile(r"^(?:\./)?(?:aclImdb/)?(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")


@dataclass(frozen=True)
class Review:
    """One labelled review: ``label`` 1 is positive, 0 negative; ``rating`` is 1..10."""

    text: str
    label: int
    rating: int
    id: int


def resolve_path(path: str | os.PathLike[str] | None, base: Path | None = None) -> Path:
    """The data path to read: ``path``, else ``$RNNBENCH_IMDB``, else the CI default.

    Raises ``FileNotFoundError`` that says where it looked when nothing is there.
    """
    chosen = path if path is not None else os.environ.get(ENV_VAR) or None
    if chosen is not None:
        return _checked(Path(chosen).expanduser(), chosen)
    base = base or Path.cwd()
    candidates = [base / default for default in DEFAULT_PATHS]
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise FileNotFoundError(
        f"no IMDB data found: give --data PATH (archive or directory), set ${ENV_VAR}, "
        f"use --download, or place it at {', '.join(str(c) for c in candidates)}"
    )


def load(path: str | os.PathLike[str]) -> dict[str, tuple[Review, ...]]:
    """Every labelled review under ``path`` (archive or directory), by split, in a fixed order.

    Order is (label, id), so a tar and its extracted directory give identical lists.
    """
    path = _checked(Path(path), path)
    if path.is_dir():  # a directory's own mtime misses edited files: read it every time
        return _splits(str(path), _read_directory(path))
    stat = path.stat()
    return _load_archive(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def _checked(path: Path, given: object) -> Path:
    """``path``, if it exists and is a regular file or a directory."""
    if not path.exists():
        raise FileNotFoundError(
            f"data={str(given)!r} is not accepted: no such file or directory; expected "
            "the aclImdb .tar.gz archive or its extracted directory"
        )
    if not (path.is_file() or path.is_dir()):
        raise ValueError(f"data={str(path)!r} is not accepted: not a regular file or a directory "
                         "(a device or a pipe); expected the aclImdb .tar.gz archive or its "
                         "extracted directory")
    return path


@functools.lru_cache(maxsize=2)
def _load_archive(path: str, size: int, mtime_ns: int) -> dict[str, tuple[Review, ...]]:
    del size, mtime_ns  # only part of the cache key: a changed archive is read again
    return _splits(path, _read_archive(Path(path)))


def _splits(path: str, members: Iterable[tuple[re.Match[str], bytes]]
            ) -> dict[str, tuple[Review, ...]]:
    """The reviews of ``members`` (the match of a review's name, its content), by split."""
    found: dict[str, list[Review]] = {split: [] for split in SPLITS}
    for match, raw in members:
        split, label, review_id, rating = match.groups()
        found[split].append(Review(text=raw.decode("utf-8", errors="replace"),
                                   label=LABELS[label], rating=int(rating), id=int(review_id)))
    for split, reviews in found.items():
        if not reviews:
            raise ValueError(
                f"data={path!r} is not accepted: no reviews under {split}/pos or {split}/neg; "
                "expected the official layout aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt"
            )
    return {split: tuple(sorted(reviews, key=lambda r: (r.label, r.id)))
            for split, reviews in found.items()}


def _read_directory(root: Path) -> Iterator[tuple[re.Match[str], bytes]]:
    real_root = root.resolve()
    for file in sorted(root.glob("**/*.txt")):
        name = file.relative_to(root).as_posix()
        if not (match := _REVIEW.match(name)):
            continue
        if file.resolve() != real_root / name:
            raise ValueError(  # as for a tar member: a link could lead anywhere
                f"data={str(root)!r} is not accepted: {name!r} is reached through a symbolic "
                f"link (to {str(file.resolve())!r}); expected reviews to be regular files "
                "inside the dataset directory"
            )
        if file.is_file():
            yield match, file.read_bytes()


def _check_member(archive: Path, member: tarfile.TarInfo) -> None:
    """Refuse names that would escape an extraction directory, and links among reviews."""
    name = PurePosixPath(member.name)
    if name.is_absolute() or ".." in name.parts or member.name.startswith(("/", "\\")):
        raise ValueError(
            f"data={str(archive)!r} is not accepted: member {member.name!r} has an unsafe path "
            "(absolute or with '..'); expected relative names such as aclImdb/train/pos/0_9.txt"
        )
    if (member.issym() or member.islnk()) and _REVIEW.match(member.name):
        raise ValueError(
            f"data={str(archive)!r} is not accepted: member {member.name!r} is a link; "
            "expected reviews to be regular files"
        )


def _read_archive(archive: Path) -> Iterator[tuple[re.Match[str], bytes]]:
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            for member in tar:
                _check_member(archive, member)
                match = _REVIEW.match(member.name) if member.isfile() else None
                if match and (handle := tar.extractfile(member)) is not None:
                    yield match, handle.read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        if isinstance(error, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise
        raise ValueError(
            f"data={str(archive)!r} is not accepted: not a readable tar archive "
            f"({type(error).__name__}: {error}); expected the aclImdb .tar.gz, complete"
        ) from error


def sha256_of(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(destination: str | os.PathLike[str], url: str = URL, sha256: str = SHA256) -> Path:
    """Fetch ``url`` to ``destination`` unless a file with the right checksum is there.

    The download replaces ``destination`` (atomically) only once its SHA-256 equals ``sha256``,
    so an interrupted or tampered download never looks like data. Raises ``ValueError`` on a
    checksum mismatch.
    """
    destination = Path(destination)
    if destination.is_file() and sha256_of(destination) == sha256:
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    with urllib.request.urlopen(url) as response:
        data = response.read()
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise ValueError(
            f"download of {url} is not accepted: SHA-256 {actual} does not match the "
            f"expected {sha256}; nothing was written to {destination}"
        )
    write_atomic(destination, data)
    return destination
