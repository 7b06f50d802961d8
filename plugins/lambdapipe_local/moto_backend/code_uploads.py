"""Function and layer code that is not a non-empty zip is refused at upload, as AWS refuses it.

moto stores any bytes; our runtime unzips them only at the first Invoke, which then answered a bare
HTTP 500 (retried four times by SDKs) for a mistake AWS reports on CreateFunction,
UpdateFunctionCode or PublishLayerVersion. moto turns every upload (inline ``ZipFile`` or an S3
object) into bytes through ``_zipfile_content`` / ``_s3_content``; checking there covers all three
before anything is stored.
"""

from __future__ import annotations

import io
import struct
import zipfile
from typing import Any

NOT_A_ZIP = "Could not unzip uploaded file. Please check your file, then try to upload again."
EMPTY_ZIP = "Uploaded file must be a non-empty zip"


def refusal(code: bytes) -> str | None:
    """AWS's message for code it would refuse, or None for a zip with at least one entry."""
    try:
        with zipfile.ZipFile(io.BytesIO(code)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, struct.error):  # what a damaged zip raises
        return NOT_A_ZIP
    return None if entries else EMPTY_ZIP


def refusing_bad_code(original: Any) -> Any:
    """Wrap one of moto's content readers: the bytes it returns must be a non-empty zip."""
    from moto.awslambda.exceptions import InvalidParameterValueException

    def read_content(*args: Any) -> tuple[bytes, int, str, str]:
        content = original(*args)
        if (message := refusal(content[0])) is not None:
            raise InvalidParameterValueException(message)
        return content

    return read_content


def keep_code_on_refusal(original: Any) -> Any:
    """moto writes an update's ``ZipFile`` into the function's code record before reading it: a
    refused update must leave the record as it was."""

    def _set_function_code(self: Any, updated_spec: dict[str, Any]) -> None:
        before = dict(self.code)
        try:
            original(self, updated_spec)
        except Exception:
            self.code.clear()
            self.code.update(before)
            raise

    return _set_function_code
