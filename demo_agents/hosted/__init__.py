"""Seed 002's hosted demo agents as real packages: Echo, Calculator and Text Processor.

Each folder here is one package's source. `build_package(name)` zips it the same way every
time (sorted names, fixed timestamps and permissions, no compression), so its SHA-256, the code
hash a version pins, only changes when the code does:

    from demo_agents.hosted import PACKAGES, build_package, package_hash

    for slug, entry_point in PACKAGES.items():
        zip_bytes = build_package(slug)           # upload these
        code_hash = package_hash(slug)            # == hashlib.sha256(zip_bytes).hexdigest()

The keys are the agents' slugs in marketplace.demo_data.
"""

import hashlib
import io
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

# slug -> entry point, as an agent version pins it
PACKAGES = {
    "echo": "main.py:main",  # a function
    "calculator": "main.py:CalculatorAgent",  # a class with run(input)
    "text-processor": "main.py:TextProcessorAgent",  # a class with execute(input)
}
FOLDERS = {"echo": "echo", "calculator": "calculator", "text-processor": "text_processor"}

_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold


def source_dir(name: str) -> Path:
    try:
        return HERE / FOLDERS[name]
    except KeyError:
        raise KeyError(f"No hosted demo agent {name!r}; there are {', '.join(PACKAGES)}.") from None


def build_package(name: str) -> bytes:
    """The zip of demo agent `name`, byte for byte the same on every machine and every run."""
    folder = source_dir(name)
    files = sorted(
        path for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and not path.name.startswith(".")
        and path.suffix not in (".pyc", ".pyo")
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=_EPOCH)
            info.create_system = 3  # Unix, whatever builds it
            info.external_attr = 0o100644 << 16  # a plain file, rw-r--r--
            # Stored, not deflated: zlib versions may compress the same bytes differently.
            info.compress_type = zipfile.ZIP_STORED
            archive.writestr(info, path.read_bytes().replace(b"\r\n", b"\n"))
    return buffer.getvalue()


def package_hash(name: str) -> str:
    return hashlib.sha256(build_package(name)).hexdigest()
