"""The request class: an upload refused part-way through parsing leaves no open files.

Werkzeug raises 413 while parsing a multipart body that has too many parts
(``MAX_FORM_PARTS``) after spooling the files before the limit to temporary files it
then drops unclosed. ``web.errors`` says which limit was exceeded.
"""

from __future__ import annotations

from typing import IO, Any

from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge


class CobranzaRequest(Request):
    def _get_file_stream(self, *args: Any, **kwargs: Any) -> IO[bytes]:
        stream = super()._get_file_stream(*args, **kwargs)
        self.__dict__.setdefault("_spooled_uploads", []).append(stream)
        return stream

    def _load_form_data(self) -> None:
        try:
            super()._load_form_data()
        except RequestEntityTooLarge:
            for stream in self.__dict__.pop("_spooled_uploads", []):
                stream.close()
            raise
        self.__dict__.pop("_spooled_uploads", None)  # request.files owns them now
