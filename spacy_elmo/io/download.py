"""Download a published ELMo model into the cache, resumably and verified.

Each file is streamed to `<name>.part` next to its final name. An interrupted
download keeps its `.part`, and the next call resumes it with an HTTP Range
request. Only when both files are complete and pass the structural check (every
dataset present with the shape the options imply) are they renamed into place,
so the cache never holds a half-written or mismatched model.

An ELMoForManyLangs model is one zip, streamed to `<cache>/<name>.zip.part` the
same way. Its model files are copied out by base name into a hidden folder beside
the model's directory, loaded, and only then renamed into place.
"""

import os
import re
import secrets
import shutil
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Dict, Iterator, List, Optional, Tuple

import requests
import urllib3

from ..errors import DownloadError, ElmoFormatError
from . import hub, manylangs_files
from .formats import BILM_TF_FILES, MANYLANGS_FILES, files_in_folder, read_bilm
from .weights import OPTIONS_FILE, WEIGHTS_FILE

BASE_URL_ENV = "SPACY_ELMO_BASE_URL"
PART_SUFFIX = ".part"
CHUNK_SIZE = 1 << 20
# (connect, read) timeouts in seconds; the read timeout applies to each chunk.
TIMEOUT: Tuple[float, float] = (15.0, 60.0)


def download_model(
    name: str,
    *,
    cache: Optional[Path] = None,
    base_url: Optional[str] = None,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Download a published model into the cache: options.json and weights.hdf5,
    or an ELMoForManyLangs model directory (from its zip).

    name (str): A published model: short name or file stem (see hub.canonical_name).
    cache (Optional[Path]): The cache directory; defaults to hub.cache_dir().
    base_url (Optional[str]): Replaces the publisher's address prefix (hub.origin)
        in the download addresses; defaults to $SPACY_ELMO_BASE_URL, else none.
    force (bool): Download again even if the cache holds a valid copy, discarding
        any partial download.
    progress (bool): Show a progress bar per file.
    RETURNS (Path): The model's directory.
    """
    short = hub.canonical_name(name)
    if short is None:
        raise ElmoFormatError(
            f"Unknown ELMo model '{name}': the published models are {hub.names_text()}"
        )
    directory = Path(cache) if cache is not None else hub.cache_dir()
    directory = directory / short
    if hub.is_manylangs(short):
        return _download_manylangs(
            short, directory, base_url=base_url, force=force, progress=progress
        )
    finals = {OPTIONS_FILE: directory / OPTIONS_FILE, WEIGHTS_FILE: directory / WEIGHTS_FILE}
    parts = {key: path.with_name(path.name + PART_SUFFIX) for key, path in finals.items()}
    if not force and _is_valid(directory):
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    if force:
        for part in parts.values():
            part.unlink(missing_ok=True)
    addresses = model_urls(short, base_url)
    with requests.Session() as session:
        for key in (OPTIONS_FILE, WEIGHTS_FILE):
            _fetch(session, addresses[key], parts[key], progress=progress)
    try:
        read_bilm(BILM_TF_FILES.pair(parts[OPTIONS_FILE], parts[WEIGHTS_FILE]))
    except (ValueError, OSError, KeyError, TypeError, RuntimeError) as e:
        for part in parts.values():
            part.unlink(missing_ok=True)
        raise ElmoFormatError(
            f"The download of '{short}' is corrupt ({addresses[WEIGHTS_FILE]} and its "
            f"options file); the partial files were deleted: {e}"
        ) from None
    # Options first: the resolver looks for weights.hdf5, so once that appears
    # the matching options.json is already in place.
    for key in (OPTIONS_FILE, WEIGHTS_FILE):
        os.replace(parts[key], finals[key])
    return directory


def model_urls(name: str, base_url: Optional[str] = None) -> Dict[str, str]:
    """The download addresses of a published model, under another base if given.

    name (str): The model's short name (as hub.canonical_name returns it).
    base_url (Optional[str]): Replaces the publisher's prefix, hub.origin(name);
        defaults to $SPACY_ELMO_BASE_URL, else that prefix itself.
    RETURNS (Dict[str, str]): File -> address (see hub.urls).
    """
    origin = hub.origin(name)
    base = (base_url or os.environ.get(BASE_URL_ENV) or origin).rstrip("/")
    return {key: base + url[len(origin) :] for key, url in hub.urls(name).items()}


def _is_valid(directory: Path) -> bool:
    """Whether a directory holds a complete model that reads without error."""
    files = files_in_folder(directory)
    if files is None:
        return False
    try:
        read_bilm(files)
    except (ValueError, OSError, KeyError, TypeError, RuntimeError):
        return False
    return True


def _download_manylangs(
    name: str, directory: Path, *, base_url: Optional[str], force: bool, progress: bool
) -> Path:
    """Download an ELMoForManyLangs model's zip and unpack it, verified, to `directory`."""
    if not force and _is_valid(directory):
        return directory
    cache = directory.parent
    cache.mkdir(parents=True, exist_ok=True)
    part = cache / f"{name}.zip{PART_SUFFIX}"
    if force:
        part.unlink(missing_ok=True)
    for stale in cache.glob(f".{name}.*.tmp"):  # left by a process killed mid-unpack
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
    url = model_urls(name, base_url)[hub.MANYLANGS_ARCHIVE]
    with requests.Session() as session:
        _fetch(session, url, part, progress=progress)
    staging = _hidden_dir(cache, name)
    try:
        try:
            _unpack_model(part, staging)
            read_bilm(MANYLANGS_FILES.files_in(staging))
        except (ValueError, zipfile.BadZipFile, zlib.error, EOFError, RuntimeError) as e:
            # ValueError includes ElmoFormatError; RuntimeError, an encrypted member or
            # (NotImplementedError) an unknown compression method
            part.unlink(missing_ok=True)
            detail = str(e).replace(str(staging), url)
            raise ElmoFormatError(
                f"The download of '{name}' ({url}) is not a usable ELMoForManyLangs "
                f"model archive; it was deleted: {detail}"
            ) from None
        _replace_dir(staging, directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    part.unlink()
    return directory


def _unpack_model(archive: Path, target: Path) -> None:
    """Copy an ELMoForManyLangs zip's model files into `target` by base name: the
    five model files and any JSON beside config.json (e.g. the architecture), from
    the top level or whichever folder holds the one config.json. No path from the
    archive is used, and an archive with a member outside it is refused."""
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        for member in members:
            if _is_unsafe(member.filename):
                raise ElmoFormatError(f"its member {member.filename!r} points outside it")
        files = [m for m in members if not m.is_dir() and not _is_ignored(m.filename)]
        configs = [m for m in files if _parts(m.filename)[-1] == manylangs_files.CONFIG_FILE]
        if len(configs) != 1:
            found = ", ".join(m.filename for m in configs)
            raise ElmoFormatError(
                f"expected one {manylangs_files.CONFIG_FILE} in the archive, found "
                f"{len(configs)}{f' ({found})' if found else ''}"
            )
        folder = _parts(configs[0].filename)[:-1]
        chosen = {}
        for member in files:
            parts = _parts(member.filename)
            base = parts[-1]
            if parts[:-1] == folder and (
                base in manylangs_files.MODEL_FILES or base.endswith(".json")
            ):
                chosen[base] = member
        missing = [n for n in manylangs_files.MODEL_FILES if n not in chosen]
        if missing:
            where = "/".join(folder) + "/" if folder else "the top level"
            raise ElmoFormatError(f"the archive has no {', '.join(missing)} in {where}")
        for base, member in chosen.items():
            with zf.open(member) as source, (target / base).open("wb") as out:
                shutil.copyfileobj(source, out, CHUNK_SIZE)


def _parts(filename: str) -> List[str]:
    """A member's path components ("\\" counts as a separator too)."""
    return [p for p in filename.replace("\\", "/").split("/") if p not in ("", ".")]


def _is_unsafe(filename: str) -> bool:
    """An absolute path, a drive letter or a `..` component: it points outside."""
    name = filename.replace("\\", "/")
    return (
        PurePosixPath(name).is_absolute()
        or re.match(r"[A-Za-z]:", name) is not None
        or ".." in name.split("/")
    )


def _is_ignored(filename: str) -> bool:
    """A hidden file or macOS's resource-fork folder, never part of the model."""
    parts = _parts(filename)
    return not parts or parts[-1].startswith(".") or "__MACOSX" in parts


def _replace_dir(source: Path, target: Path) -> None:
    """Rename `source` to `target`; an old `target` is moved aside first and deleted
    after, so `target` is always either the old directory, absent, or the new one."""
    if not (target.exists() or target.is_symlink()):
        os.rename(source, target)
        return
    aside = _hidden_dir(target.parent, target.name)
    os.rename(target, aside / "old")
    try:
        os.rename(source, target)
    except BaseException:
        os.rename(aside / "old", target)
        raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def _hidden_dir(parent: Path, name: str) -> Path:
    """A new empty directory `parent/.NAME.XXXXXXXX.tmp`, with the ordinary mode."""
    while True:
        path = parent / f".{name}.{secrets.token_hex(4)}.tmp"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


def _fetch(session: requests.Session, url: str, part: Path, *, progress: bool) -> None:
    """Complete `part` from `url`, resuming from its current size."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        response = session.get(url, headers=headers, stream=True, timeout=TIMEOUT)
    except requests.RequestException as e:
        raise DownloadError(f"Cannot download {url}: {e}") from None
    with response:
        status = response.status_code
        if status == 416 and have:
            total = _range_total(response.headers.get("Content-Range", ""))
            if total is None or total == have:
                return  # the .part is already complete
            # The .part is longer than the file: start again.
            part.unlink()
            response.close()
            _fetch(session, url, part, progress=progress)
            return
        if status == 206 and have:
            start, total = _content_range(response.headers.get("Content-Range", ""))
            if start != have:
                raise DownloadError(
                    f"Cannot resume {url}: asked for bytes from {have}, the server "
                    f"sent {response.headers.get('Content-Range')!r}"
                )
            mode = "ab"
        elif status == 200:
            have = 0  # no Range request, or the server ignored it: start from zero
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            mode = "wb"
        else:
            raise DownloadError(f"Cannot download {url}: HTTP {status} {response.reason}")
        received = _stream(response, part, mode, have, total, progress=progress)
    if total is not None and received != total:
        if received > total:
            part.unlink(missing_ok=True)
            raise DownloadError(
                f"Download of {url} failed: received {received} bytes, more than the "
                f"{total} the server announced; the partial file was deleted"
            )
        raise DownloadError(
            f"Download of {url} is incomplete: received {received} of {total} bytes "
            f"(kept in {part}; run the download again to resume)"
        )


def _stream(
    response: requests.Response,
    part: Path,
    mode: str,
    have: int,
    total: Optional[int],
    *,
    progress: bool,
) -> int:
    """Write the response body to `part`; return the size of `part` afterwards."""
    from tqdm import tqdm

    received = have
    url = response.url
    bar = tqdm(
        total=total,
        initial=have,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=part.name[: -len(PART_SUFFIX)],
        disable=not progress,
    )
    with bar, part.open(mode) as fh:
        try:
            for chunk in _chunks(response):
                fh.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as e:
            fh.flush()
            expected = f" of {total}" if total is not None else ""
            raise DownloadError(
                f"Download of {url} was interrupted after {received}{expected} bytes "
                f"(kept in {part}; run the download again to resume): {e}"
            ) from None
    return received


def _chunks(response: requests.Response) -> Iterator[bytes]:
    """The response body, as it arrives. urllib3's read1 hands over whatever came
    in, so an interruption loses nothing already received; iter_content (the
    fallback for older urllib3) drops a partly filled chunk."""
    read1 = getattr(response.raw, "read1", None)
    if read1 is None:
        yield from response.iter_content(chunk_size=CHUNK_SIZE)
        return
    while True:
        chunk = read1(CHUNK_SIZE, decode_content=True)
        if not chunk:
            return
        yield chunk


def _content_range(value: str) -> Tuple[Optional[int], Optional[int]]:
    """(start, total) of a `bytes START-END/TOTAL` header (total None if `*`)."""
    match = re.fullmatch(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", value)
    if match is None:
        return None, None
    total = None if match.group(3) == "*" else int(match.group(3))
    return int(match.group(1)), total


def _range_total(value: str) -> Optional[int]:
    """The total of a 416 answer's `bytes */TOTAL` header."""
    match = re.fullmatch(r"\s*bytes\s+\*/(\d+)\s*", value)
    return int(match.group(1)) if match else None
