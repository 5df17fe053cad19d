"""Uploaded presentations and documents: the type judged by content, stored under their sha256, quarantined.

A file arrives in the ``quarantine`` folder and stays there until its submission is confirmed by
e-mail (``release``); who may then download it is decided from the database on every request
(``states.intake.file_audience``): nobody while unconfirmed, staff until published, then the public.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

from states.form_messages import FieldProblem
from states.inputs import InputError
from website.i18n import N_, Phrase

KINDS = {"pdf": "application/pdf",
         "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
         "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
MEDIA_KINDS = {"presentation": ("pdf", "pptx"), "document": ("pdf", "docx")}
"""What each choice of the material form accepts, as the form's labels say."""
QUARANTINE = "quarantine"
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
"""The largest file a form or a mail may bring (the README's 10 MiB)."""


class FileTooLargeError(InputError):
    """The uploaded file is over ``MAX_UPLOAD_BYTES``."""


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


def read_limited(file: io.IOBase) -> bytes:
    """The content of an uploaded file, reading at most one byte more than the limit to know it is over."""
    content = file.read(MAX_UPLOAD_BYTES + 1)
    if len(content) > MAX_UPLOAD_BYTES:
        most = MAX_UPLOAD_BYTES // (1024 * 1024)
        raise FileTooLargeError(f"file: at most {most} MiB may be uploaded", problems=_at_file(
            N_("The file is too large: at most %(num)s MB may be uploaded."), num=str(most)))
    return content


def checked_kind(content: bytes, media: str) -> str:
    """The file's kind, which must be one the form's ``media`` choice accepts; ``InputError`` otherwise."""
    kind = detect(content)
    if kind is None:
        raise InputError("file: must be a PDF, PowerPoint (.pptx) or Word (.docx) file; its content is none of these",
                         problems=_at_file(N_("The file must be a PDF, PowerPoint (.pptx) or Word (.docx) file; "
                                              "its content is none of these.")))
    accepted = MEDIA_KINDS.get(media, ())
    if kind not in accepted:
        raise InputError(f"file: a {media} must be {' or '.join(k.upper() for k in accepted)}, "
                         f"and this file is a {kind.upper()}", problems=_at_file(
                             N_("This kind of material must be %(accepted)s, and this file is a %(kind)s."),
                             accepted=" / ".join(k.upper() for k in accepted), kind=kind.upper()))
    return kind


def _at_file(msgid: str, **params: str) -> tuple[FieldProblem, ...]:
    return (FieldProblem("file", Phrase.of(msgid, **params)),)


def file_name(content: bytes, kind: str) -> str:
    """The name an upload is kept (and linked) under: ``<sha256>.<ext>``."""
    return f"{hashlib.sha256(content).hexdigest()}.{kind}"


def store(content: bytes, kind: str, folder: Path) -> str:
    """Keep an upload in ``folder``'s quarantine; its file name."""
    name = file_name(content, kind)
    held = folder / QUARANTINE
    held.mkdir(parents=True, exist_ok=True)
    path = held / name
    if not path.exists() and not (folder / name).exists():
        temporary = path.with_suffix(".part")
        temporary.write_bytes(content)
        temporary.replace(path)
    return name


def release(name: str, folder: Path) -> None:
    """Move a confirmed submission's file out of quarantine (nothing to do when it already was)."""
    held = folder / QUARANTINE / name
    if held.is_file():
        held.replace(folder / name)


def located(name: str, folder: Path) -> Path | None:
    """Where the file ``name`` is kept (released, else still in quarantine), if anywhere."""
    return next((path for path in (folder / name, folder / QUARANTINE / name) if path.is_file()), None)
