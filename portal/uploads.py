"""Uploaded presentations and documents: the type judged by content, stored under their sha256."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

from states.inputs import InputError

KINDS = {"pdf": "application/pdf",
         "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
         "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


def detect(content: bytes) -> str | None:
    """``pdf``, ``pptx`` or ``docx`` from the bytes themselves (never the name or the declared type)."""
    if content.startswith(b"%PDF-"):
        return "pdf"
    if content.startswith(b"PK\x03\x04"):
        try:
            names = set(zipfile.ZipFile(io.BytesIO(content)).namelist())
        except zipfile.BadZipFile:
            return None
        if "ppt/presentation.xml" in names:
            return "pptx"
        if "word/document.xml" in names:
            return "docx"
    return None


def store(content: bytes, folder: Path) -> tuple[str, str]:
    """Keep an upload as ``<sha256>.<ext>`` in ``folder``; return (file name, kind)."""
    kind = detect(content)
    if kind is None:
        raise InputError("file: must be a PDF, PowerPoint (.pptx) or Word (.docx) file; its content is none of these")
    name = f"{hashlib.sha256(content).hexdigest()}.{kind}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if not path.exists():
        temporary = path.with_suffix(".part")
        temporary.write_bytes(content)
        temporary.replace(path)
    return name, kind
