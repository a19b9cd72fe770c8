"""Uploaded files waiting for their import: stored under MEDIA_ROOT/imports/<job id>/, and
deleted once that import job has finished (succeeded, failed or cancelled), so uploads do
not pile up. A file given by path (the command) is the user's and is never deleted."""

from __future__ import annotations

import shutil
from pathlib import Path, PurePath

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.uploadedfile import UploadedFile
from django.utils.text import get_valid_filename


class UploadTooLarge(ValueError):
    pass


def upload_folder(job_id: int) -> Path:
    return Path(settings.MEDIA_ROOT) / "imports" / str(job_id)


def _safe_file_name(name: str) -> str:
    try:
        return get_valid_filename(PurePath(name).name)[-200:]
    except SuspiciousFileOperation:
        return "upload"


def upload_store(*, job_id: int, uploaded_file: UploadedFile) -> Path:
    limit = settings.VAD_UPLOAD_MAX_BYTES
    if uploaded_file.size is not None and uploaded_file.size > limit:
        raise UploadTooLarge(f"the file is larger than the limit of {limit} bytes")
    folder = upload_folder(job_id)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / _safe_file_name(uploaded_file.name or "upload")
    written = 0
    try:
        with target.open("wb") as out:
            for chunk in uploaded_file.chunks():
                written += len(chunk)
                if written > limit:  # the declared size may be missing or wrong
                    raise UploadTooLarge(f"the file is larger than the limit of {limit} bytes")
                out.write(chunk)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return target


def upload_delete(*, job_id: int) -> None:
    shutil.rmtree(upload_folder(job_id), ignore_errors=True)
