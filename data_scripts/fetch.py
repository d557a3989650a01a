"""Getting a corpus archive onto disk: resumable download, checksum, safe extraction.

Archive           url + filename + published checksums of one corpus archive
download          HTTP(S)/file download to `destination` via a `.part` file; resumes with an HTTP
                  Range request; verifies sha256/md5 before the final rename
file_digest       hex digest of a file, read in chunks
safe_extract      unpack .tar/.tar.gz/.tar.bz2/.tar.xz/.zip into a folder, refusing absolute paths,
                  `..`, links that point outside, and device files; resumable via a marker file
fetch_archive     download (unless present or skipped) then extract (unless already done)
DownloadError     the transfer failed (an OSError); re-running resumes
ChecksumError     the bytes are not the published ones (a ValueError); the bad file is deleted
ArchiveError      a corrupt archive or an unsafe member (a ValueError) naming the member

Used by data_scripts/ljspeech.py, librispeech.py and libritts.py; nothing in `minispeech`
imports it. No lesson teaches it: the gpu profile reads the manifests these scripts write.
"""

from __future__ import annotations

import hashlib
import http.client
import lzma
import os
import shutil
import stat
import tarfile
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO

CHUNK_BYTES = 1 << 20
USER_AGENT = "minispeech-data-scripts/0.1 (python urllib)"


class DownloadError(OSError):
    """The transfer failed part-way; the `.part` file is kept so that a re-run resumes."""


class ChecksumError(ValueError):
    """A downloaded file's digest differs from the published one."""


class ArchiveError(ValueError):
    """An archive is corrupt, or a member would land outside the target folder or is not a plain
    file, folder or inside-pointing link."""


@dataclass(frozen=True)
class Archive:
    """One downloadable corpus archive. A checksum is None where none is published or known."""

    url: str
    filename: str
    sha256: str | None = None
    md5: str | None = None


# ---------------------------------------------------------------------------------------------
# download


def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file (sha256, md5, ...), read 1 MiB at a time."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verify_checksums(path: Path, url: str, sha256: str | None, md5: str | None) -> None:
    for algorithm, expected in (("sha256", sha256), ("md5", md5)):
        if expected is None:
            continue
        actual = file_digest(path, algorithm)
        if actual != expected.lower():
            raise ChecksumError(
                f"{path}: {algorithm} is {actual} but {url} is published as {expected}. "
                f"The download is corrupt or the file changed upstream; delete it and download "
                f"again, and if it persists check the URL."
            )


def download(
    url: str,
    destination: str | Path,
    sha256: str | None = None,
    md5: str | None = None,
    progress: bool = True,
    timeout_s: float = 60.0,
) -> Path:
    """Download `url` to `destination` and return its path.

    Bytes go to `destination.part`; an existing `.part` is resumed with `Range: bytes=N-` (a
    server that ignores the range makes it start over). Only a complete file whose checksums
    match is renamed to `destination`; a mismatching file is deleted and ChecksumError raised. An
    existing `destination` is checked against the checksums and returned.
    """
    destination = Path(destination)
    if destination.is_file():
        try:
            _verify_checksums(destination, url, sha256, md5)
        except ChecksumError as error:
            raise ChecksumError(
                f"{error} (This file was already present; it was not downloaded now.)"
            ) from None
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    _transfer(url, partial, progress=progress, timeout_s=timeout_s)
    try:
        _verify_checksums(partial, url, sha256, md5)
    except ChecksumError:
        partial.unlink()  # a resume would append to corrupt bytes: start clean next time
        raise
    os.replace(partial, destination)
    return destination


def _transfer(url: str, partial: Path, progress: bool, timeout_s: float) -> None:
    """Append the rest of `url` to `partial`, starting where it ends."""
    from tqdm.auto import tqdm

    offset = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if offset > 0:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout_s)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset > 0:
            return  # range not satisfiable: the .part already holds the whole file
        raise DownloadError(f"{url}: HTTP {error.code} {error.reason}. Check the URL.") from None
    except (urllib.error.URLError, OSError) as error:
        raise DownloadError(
            f"{url}: could not connect ({error}). Check the network and re-run; "
            f"a partial download is resumed."
        ) from None
    with response:
        status = getattr(response, "status", None)
        content_range = response.headers.get("Content-Range", "")  # "bytes START-END/TOTAL"
        resumed = (  # file:// URLs and some servers ignore Range and send everything
            offset > 0 and status == 206 and content_range.startswith(f"bytes {offset}-")
        )
        if not resumed:
            offset = 0
        remaining = response.headers.get("Content-Length")
        total = offset + int(remaining) if remaining is not None else None
        mode = "ab" if resumed else "wb"
        with (
            open(partial, mode) as file,
            tqdm(
                total=total,
                initial=offset,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=partial.name.removesuffix(".part"),
                disable=not progress,
            ) as bar,
        ):
            try:
                for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
                    file.write(chunk)
                    bar.update(len(chunk))
            except (OSError, http.client.HTTPException) as error:  # reset, IncompleteRead, ...
                raise DownloadError(
                    f"{url}: transfer interrupted after {file.tell()} bytes ({error!r}). "
                    f"Re-run the same command to resume from {partial}."
                ) from None
    size = partial.stat().st_size
    if total is not None and size != total:
        raise DownloadError(
            f"{url}: got {size} of {total} bytes. Re-run the same command to resume from {partial}."
        )


# ---------------------------------------------------------------------------------------------
# extraction


@dataclass(frozen=True)
class _Member:
    """One archive entry, reduced to what extraction needs."""

    name: str  # the path stored in the archive
    kind: str  # "dir", "file", "symlink", "hardlink"
    link_target: str = ""  # symlink: relative to the link's folder; hardlink: archive path
    open_data: Callable[[], BinaryIO] | None = None  # file contents, for kind == "file"


def _archive_format(archive_path: Path) -> str:
    if zipfile.is_zipfile(archive_path):
        return "zip"
    if tarfile.is_tarfile(archive_path):
        return "tar"
    raise ArchiveError(
        f"{archive_path}: not a .tar(.gz/.bz2/.xz) or .zip archive (truncated download?). "
        f"Delete it and download it again."
    )


def _tar_members(archive: tarfile.TarFile, archive_path: Path) -> Iterator[_Member]:
    for entry in archive:  # in order, extracting as we go: the file is only read forwards
        if entry.isdir():
            yield _Member(entry.name, "dir")
        elif entry.isreg():
            yield _Member(
                entry.name, "file", open_data=lambda entry=entry: archive.extractfile(entry)
            )
        elif entry.issym():
            yield _Member(entry.name, "symlink", link_target=entry.linkname)
        elif entry.islnk():
            yield _Member(entry.name, "hardlink", link_target=entry.linkname)
        else:
            raise ArchiveError(
                f"{archive_path}: member {entry.name!r} is a device, FIFO or other special file; "
                f"refusing to extract it. The archive is not a plain corpus archive."
            )


def _zip_members(archive: zipfile.ZipFile) -> Iterator[_Member]:
    for info in archive.infolist():
        unix_mode = info.external_attr >> 16
        if stat.S_ISLNK(unix_mode):
            target = archive.read(info).decode("utf-8")
            yield _Member(info.filename, "symlink", link_target=target)
        elif info.is_dir():
            yield _Member(info.filename, "dir")
        else:
            yield _Member(info.filename, "file", open_data=lambda info=info: archive.open(info))


def _relative_parts(name: str, archive_path: Path) -> tuple[str, ...]:
    """Split an archive path into safe parts, refusing absolute paths and `..`."""
    windows = PureWindowsPath(name)
    if name.startswith(("/", "\\")) or windows.drive or windows.root:
        raise ArchiveError(
            f"{archive_path}: member {name!r} has an absolute path; refusing to extract. "
            f"Only relative paths inside the target folder are allowed."
        )
    parts = tuple(part for part in PurePosixPath(name.replace("\\", "/")).parts if part != ".")
    if ".." in parts:
        raise ArchiveError(
            f"{archive_path}: member {name!r} contains '..' and could escape the target folder; "
            f"refusing to extract."
        )
    return parts


def _is_inside(path: str | Path, folder: Path) -> bool:
    path, folder = os.path.normpath(path), os.path.normpath(folder)
    return os.path.commonpath([path, folder]) == folder


def _extract_member(member: _Member, staging: Path, archive_path: Path) -> None:
    parts = _relative_parts(member.name, archive_path)
    if not parts:
        return  # the archive root "./" itself
    target = staging.joinpath(*parts)
    # A folder on the way that is a symlink would redirect the write: check the real path.
    real_parent = Path(os.path.realpath(target.parent))
    if not _is_inside(real_parent, staging) or real_parent != target.parent:
        raise ArchiveError(
            f"{archive_path}: member {member.name!r} is written through a symlink; refusing."
        )
    if member.kind == "dir":
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.exists():
        if target.is_dir() and not target.is_symlink():
            raise ArchiveError(f"{archive_path}: member {member.name!r} replaces a folder.")
        target.unlink()
    if member.kind == "file":
        with member.open_data() as source, open(target, "wb") as sink:
            shutil.copyfileobj(source, sink, CHUNK_BYTES)
    elif member.kind == "symlink":
        link = member.link_target
        resolved = os.path.normpath(os.path.join(target.parent, link))
        if os.path.isabs(link) or not _is_inside(resolved, staging):
            raise ArchiveError(
                f"{archive_path}: member {member.name!r} is a symlink to {link!r}, outside the "
                f"target folder; refusing to extract."
            )
        os.symlink(link, target)
    elif member.kind == "hardlink":
        link = member.link_target  # a path inside the archive, like a member name
        is_relative = not (link.startswith(("/", "\\")) or PureWindowsPath(link).drive)
        parts = PurePosixPath(link.replace("\\", "/")).parts
        real_source = os.path.realpath(staging.joinpath(*parts)) if is_relative else link
        if not _is_inside(real_source, staging) or not os.path.isfile(real_source):
            raise ArchiveError(
                f"{archive_path}: member {member.name!r} is a hard link to {member.link_target!r}, "
                f"which is not a file extracted inside the target folder; refusing."
            )
        shutil.copyfile(real_source, target)  # a copy, never a link to an outside inode


def _check_links_stay_inside(staging: Path, archive_path: Path) -> None:
    """Resolve every extracted symlink now that the whole tree exists (chains included)."""
    for folder, folder_names, file_names in os.walk(staging):
        for name in folder_names + file_names:
            path = Path(folder) / name
            if path.is_symlink() and not _is_inside(os.path.realpath(path), staging):
                raise ArchiveError(
                    f"{archive_path}: symlink {path.relative_to(staging)} resolves outside the "
                    f"target folder (through other links); refusing to extract."
                )


def _merge_into(staging: Path, target_dir: Path) -> None:
    """Move staged entries into target_dir (each move is one rename). A folder that already
    exists is merged into, as when LibriSpeech/ arrives from several subset archives; a file that
    exists is replaced (a re-run after an interrupted merge)."""
    for entry in sorted(staging.iterdir()):
        destination = target_dir / entry.name
        if entry.is_dir() and not entry.is_symlink() and destination.is_dir():
            _merge_into(entry, destination)
        else:
            os.replace(entry, destination)


def extraction_marker(archive_path: str | Path, target_dir: str | Path) -> Path:
    """The file whose presence says `archive_path` was fully extracted into `target_dir`."""
    return Path(target_dir) / f".{Path(archive_path).name}.extracted"


def safe_extract(archive_path: str | Path, target_dir: str | Path) -> Path:
    """Extract an archive into `target_dir` (created), refusing anything unsafe; return target_dir.

    Members are checked one by one as they are read, in order, into a staging folder inside
    `target_dir`, so a refused or interrupted archive leaves nothing outside it and no half-tree in
    place. Only a complete extraction is merged into `target_dir` and marked done with a hidden
    marker file; a second call with the marker present returns at once.
    Raises ArchiveError (a ValueError) naming the member or the corruption, FileNotFoundError
    for a missing archive.
    """
    archive_path, target_dir = Path(archive_path), Path(target_dir)
    marker = extraction_marker(archive_path, target_dir)
    if marker.exists():
        return target_dir  # done before (the archive may since have been deleted to save space)
    if not archive_path.is_file():
        raise FileNotFoundError(f"{archive_path}: archive not found. Download it first.")
    target_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(os.path.realpath(target_dir / f".{archive_path.name}.extracting"))
    if staging.exists():
        shutil.rmtree(staging)  # left by an interrupted run: start that archive over
    staging.mkdir()
    try:
        if _archive_format(archive_path) == "zip":
            with zipfile.ZipFile(archive_path) as archive:
                for member in _zip_members(archive):
                    _extract_member(member, staging, archive_path)
        else:
            with tarfile.open(archive_path, mode="r:*") as archive:
                for member in _tar_members(archive, archive_path):
                    _extract_member(member, staging, archive_path)
                # tarfile stops at the end-of-archive block and never reads the compressor's
                # trailer, where gzip keeps its CRC: read to the end so corruption shows here.
                while archive.fileobj.read(CHUNK_BYTES):
                    pass
        _check_links_stay_inside(staging, archive_path)
        _merge_into(staging, target_dir)
    except (
        tarfile.TarError,
        zipfile.BadZipFile,
        EOFError,
        zlib.error,
        lzma.LZMAError,
        OSError,
    ) as error:
        if isinstance(error, OSError) and error.errno is not None:
            raise  # a real I/O problem (disk full, permissions), not a corrupt archive
        raise ArchiveError(
            f"{archive_path}: the archive is corrupt or truncated ({error}). Delete it and download "
            f"it again."
        ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    marker.write_text(f"{archive_path.name}\n", encoding="utf-8")
    return target_dir


def fetch_archive(
    archive: Archive, root: str | Path, skip_download: bool = False, progress: bool = True
) -> Path:
    """Make sure `archive` is extracted into `root`; return `root`.

    Downloads it to root/downloads/ unless already there, then extracts it unless its marker says
    that was done. With skip_download=True nothing is fetched: an archive already in
    root/downloads/ is extracted, otherwise the corpus is assumed to be unpacked by hand (the
    prepare step then says clearly if it is not).
    """
    root = Path(root)
    archive_path = root / "downloads" / archive.filename
    if extraction_marker(archive_path, root).exists():
        return root
    if skip_download:
        if archive_path.is_file():
            safe_extract(archive_path, root)
        return root
    if archive.sha256 is None and archive.md5 is None:
        print(f"note: no published checksum for {archive.filename}; it is not verified.")
    download(archive.url, archive_path, sha256=archive.sha256, md5=archive.md5, progress=progress)
    return safe_extract(archive_path, root)
