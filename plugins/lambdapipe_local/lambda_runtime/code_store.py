"""Unpacks function and layer zips once per code hash, like Lambda's /var/task and /opt."""

from __future__ import annotations

import io
import shutil
import stat
import threading
import zipfile
from pathlib import Path


class CodeStore:
    """Extracted code trees under ``root``, keyed by the zip's sha256 so warm environments share them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()

    def task_root(self, code_sha256: str, code: bytes) -> Path:
        return self._extract("task", code_sha256, code)

    def opt_root(self, layers: list[tuple[str, bytes]]) -> Path | None:
        """Merge layers in order into one /opt tree; later layers overwrite earlier files, as on AWS."""
        if not layers:
            return None
        key = "-".join(_safe(sha) for sha, _ in layers)
        target = self.root / "opt" / key
        with self._lock:
            if not target.exists():
                staging = target.with_name(target.name + ".tmp")
                shutil.rmtree(staging, ignore_errors=True)
                for _, code in layers:
                    _unzip(code, staging)
                staging.rename(target)
        return target

    def _extract(self, kind: str, code_sha256: str, code: bytes) -> Path:
        target = self.root / kind / _safe(code_sha256)
        with self._lock:
            if not target.exists():
                staging = target.with_name(target.name + ".tmp")
                shutil.rmtree(staging, ignore_errors=True)
                _unzip(code, staging)
                staging.rename(target)
        return target


def _safe(code_sha256: str) -> str:
    return code_sha256.replace("/", "_").replace("+", "-").rstrip("=")


def _unzip(code: bytes, target: Path) -> None:
    """Extract keeping the executable bit (zipfile drops modes) and refusing paths outside ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(code)) as archive:
        for info in archive.infolist():
            destination = (target / info.filename).resolve()
            if not destination.is_relative_to(target.resolve()):
                raise ValueError(f"zip entry {info.filename!r} escapes the code directory")
            archive.extract(info, target)
            mode = info.external_attr >> 16
            if mode & stat.S_IXUSR and not info.is_dir():
                destination.chmod(destination.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
