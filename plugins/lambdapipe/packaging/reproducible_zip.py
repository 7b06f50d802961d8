"""Write files into a zip whose bytes depend only on the files' names, contents and executable bits.

Entries are sorted by name, dated 1980-01-01 00:00 (the earliest DOS time), marked as made on Unix
with mode 0644 (0755 if any execute bit is set), compressed with deflate at a fixed level and
written without folder entries or comments. The same inputs on the same zlib give the same bytes,
so the base64 sha256 of the zip equals the ``CodeSha256`` Lambda reports for it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import stat
import zipfile
from collections.abc import Iterable

from lambdapipe.packaging.errors import PackagingError, UnsafePathError
from lambdapipe.packaging.files import PackageFile

FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644
EXECUTABLE_MODE = 0o755
COMPRESS_LEVEL = 6
_UNIX = 3


def check_arcname(arcname: str) -> None:
    """Refuse names that would extract outside the package root, or that name no file."""
    parts = arcname.split("/")
    if arcname.startswith("/") or "\\" in arcname or any(part in ("..", ".") for part in parts):
        raise UnsafePathError(f"{arcname!r}: a package path must be relative, without '..', '.' or '\\'")
    if "" in parts:
        raise UnsafePathError(f"{arcname!r}: a package path must name a file")


def code_sha256(zip_bytes: bytes) -> str:
    """Base64 of the zip's sha256: the ``CodeSha256`` Lambda reports for this code."""
    return base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode("ascii")


def write_zip(files: Iterable[PackageFile]) -> bytes:
    """The zip of ``files`` as bytes; two files with one name are an error."""
    ordered = sorted(files, key=lambda item: item.arcname)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        previous: PackageFile | None = None
        for item in ordered:
            check_arcname(item.arcname)
            if previous is not None and previous.arcname == item.arcname:
                raise PackagingError(f"{item.arcname}: comes from both {previous.source} and {item.source}")
            previous = item
            info = zipfile.ZipInfo(item.arcname, date_time=FIXED_DATE_TIME)
            info.create_system = _UNIX
            info.compress_type = zipfile.ZIP_DEFLATED
            mode = EXECUTABLE_MODE if item.executable else FILE_MODE
            info.external_attr = (stat.S_IFREG | mode) << 16
            archive.writestr(info, item.source.read_bytes(), compresslevel=COMPRESS_LEVEL)
    return buffer.getvalue()
