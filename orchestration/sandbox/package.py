"""A hosted agent's package: its hash, its entry point, and a careful unzip.

The zip comes from a creator and is hostile until proven otherwise: names may climb out of the
folder (`../`, absolute paths, drive letters), entries may be symlinks or devices, and a few
kilobytes may inflate to gigabytes. Nothing here follows a name the zip chose without checking it.
"""

import hashlib
import hmac
import io
import os
import re
import stat
import zipfile
import zlib
from dataclasses import dataclass

from orchestration.sandbox.errors import BAD_ENTRY_POINT, BAD_PACKAGE, HASH_MISMATCH, SandboxError

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# `main.py:Agent`, `pkg/agent.py:main`, `pkg.agent:Agent.run` (a module path works too).
_ENTRY_POINT = re.compile(
    r"^(?P<module>[A-Za-z0-9_][\w\-]*(?:[/.][A-Za-z0-9_][\w\-]*)*?)(?P<py>\.py)?"
    r":(?P<attr>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)$"
)
_CHUNK = 64 * 1024
_MAX_NAME = 1024


@dataclass(frozen=True)
class EntryPoint:
    path: str  # the file, relative to the package root: "main.py", "pkg/agent.py"
    attr: str  # "main", "Agent", "Agent.run"

    def __str__(self) -> str:
        return f"{self.path}:{self.attr}"


def sha256_hex(package: bytes) -> str:
    return hashlib.sha256(package).hexdigest()


def verify_hash(package: bytes, code_hash: str) -> str:
    """The package's SHA-256, when it is `code_hash` (hex, any case, optionally `sha256:`-prefixed)."""
    expected = (code_hash or "").strip().lower().removeprefix("sha256:")
    if not _HEX64.match(expected):
        raise SandboxError(HASH_MISMATCH, "The agent version pins no valid SHA-256 code hash.")
    actual = sha256_hex(package)
    if not hmac.compare_digest(actual, expected):
        raise SandboxError(HASH_MISMATCH, f"The package's SHA-256 is {actual}, not the pinned {expected}.")
    return actual


def parse_entry_point(entry_point: str) -> EntryPoint:
    match = _ENTRY_POINT.match((entry_point or "").strip())
    if not match or len(entry_point) > 255:
        raise SandboxError(BAD_ENTRY_POINT, f"The entry point {entry_point!r} is not like 'main.py:AgentClass'.")
    module = match["module"]
    path = module + ".py" if match["py"] else module.replace(".", "/") + ".py"
    if match["py"] and "." in module:  # "my.agent.py" is a file name, but not one Python imports
        raise SandboxError(BAD_ENTRY_POINT, f"The entry point's file name {path!r} has a dot in it.")
    return EntryPoint(path=path, attr=match["attr"])


def _safe_name(name: str) -> str:
    """The entry's path split on '/', refused when it could land outside the package folder."""
    if not name or len(name) > _MAX_NAME or "\x00" in name or "\\" in name:
        raise SandboxError(BAD_PACKAGE, f"The package holds an unsafe file name {name[:100]!r}.")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise SandboxError(BAD_PACKAGE, f"The package holds an absolute path {name[:100]!r}.")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if any(part == ".." for part in parts):
        raise SandboxError(BAD_PACKAGE, f"The package holds a path that climbs out of it: {name[:100]!r}.")
    if any(len(part.encode()) > 255 for part in parts):
        raise SandboxError(BAD_PACKAGE, "The package holds a file name longer than 255 bytes.")
    return "/".join(parts)


def _members(archive: zipfile.ZipFile, *, max_files: int, unpacked_bytes: int) -> list[tuple[zipfile.ZipInfo, str]]:
    infos = archive.infolist()
    if len(infos) > max_files:
        raise SandboxError(BAD_PACKAGE, f"The package holds {len(infos)} entries; at most {max_files} are allowed.")
    declared, seen, members = 0, set(), []
    for info in infos:
        name = _safe_name(info.filename)
        mode = info.external_attr >> 16
        kind = stat.S_IFMT(mode)
        if info.create_system == 3 and kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            # Only Unix-made zips carry a file type; a symlink here could point anywhere on the host.
            raise SandboxError(BAD_PACKAGE, f"The package entry {name!r} is not a plain file or folder.")
        if info.flag_bits & 0x1:
            raise SandboxError(BAD_PACKAGE, f"The package entry {name!r} is encrypted.")
        key = name.casefold()
        if not name or key in seen:
            if info.is_dir():
                continue
            raise SandboxError(BAD_PACKAGE, f"The package holds {name!r} twice.")
        seen.add(key)
        declared += info.file_size
        if declared > unpacked_bytes:
            raise SandboxError(BAD_PACKAGE, f"The package unpacks to more than {unpacked_bytes} bytes.")
        members.append((info, name))
    return members


def open_zip(package: bytes, *, package_bytes: int) -> zipfile.ZipFile:
    if len(package) > package_bytes:
        raise SandboxError(BAD_PACKAGE, f"The package is {len(package)} bytes; at most {package_bytes} are allowed.")
    try:
        return zipfile.ZipFile(io.BytesIO(package))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise SandboxError(BAD_PACKAGE, f"The package is not a valid zip file ({error}).") from None


def package_root(names: list[str], entry: EntryPoint) -> str:
    """Where the entry file is: the zip's top, or its single top folder (a zipped folder)."""
    files = set(names)
    if entry.path in files:
        return ""
    tops = {name.split("/", 1)[0] for name in names}
    if len(tops) == 1:
        (top,) = tops
        if f"{top}/{entry.path}" in files:
            return top
    raise SandboxError(BAD_ENTRY_POINT, f"The entry point's file {entry.path!r} is not in the package.")


def extract(package: bytes, dest: str, entry: EntryPoint, *, package_bytes: int, unpacked_bytes: int,
            max_files: int) -> str:
    """Unpack into the empty folder `dest`; return the package root relative to it ('' or a folder)."""
    with open_zip(package, package_bytes=package_bytes) as archive:
        members = _members(archive, max_files=max_files, unpacked_bytes=unpacked_bytes)
        root = package_root([name for info, name in members if not info.is_dir()], entry)
        written = 0
        for info, name in members:
            target = os.path.join(dest, *name.split("/"))
            if info.is_dir():
                os.makedirs(target, mode=0o755, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
            # O_EXCL | O_NOFOLLOW: never through a name that already exists (a folder entry named
            # like a file, or anything else that is not a fresh file in the fresh folder).
            try:
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            except OSError as error:
                raise SandboxError(BAD_PACKAGE, f"The package entry {name!r} cannot be unpacked ({error}).") from None
            try:
                with archive.open(info) as source, os.fdopen(fd, "wb") as sink:
                    remaining = info.file_size  # the header's size; the stream may claim otherwise
                    while chunk := source.read(_CHUNK):
                        remaining -= len(chunk)
                        written += len(chunk)
                        if remaining < 0 or written > unpacked_bytes:
                            raise SandboxError(BAD_PACKAGE, f"The package entry {name!r} unpacks to more than "
                                               "its header says (a zip bomb?).")
                        sink.write(chunk)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, NotImplementedError, EOFError,
                    ValueError, OSError) as error:  # a bad CRC, a truncated stream, an unknown compression
                raise SandboxError(BAD_PACKAGE, f"The package entry {name!r} is damaged ({error}).") from None
    return root


def check_package(package: bytes, entry_point: str, *, package_bytes: int, unpacked_bytes: int,
                  max_files: int) -> EntryPoint:
    """What `extract` would refuse, without writing anything (for health checks and uploads)."""
    entry = parse_entry_point(entry_point)
    with open_zip(package, package_bytes=package_bytes) as archive:
        members = _members(archive, max_files=max_files, unpacked_bytes=unpacked_bytes)
        package_root([name for info, name in members if not info.is_dir()], entry)
    return entry
