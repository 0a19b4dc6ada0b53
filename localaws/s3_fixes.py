"""S3 as AWS answers it where moto is lax: a multipart upload id belongs to the object key
it was created for. UploadPart, ListParts, CompleteMultipartUpload and
AbortMultipartUpload under any other key answer NoSuchUpload (moto finds the upload by
its id alone), so a writer that names someone else's upload learns it is not its own."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse


def apply() -> None:
    from moto.s3.exceptions import NoSuchUpload, S3ClientError
    from moto.s3.responses import S3Response

    original = S3Response._key_response

    def key_response(self: S3Response, request: Any, full_url: str) -> Any:
        query = parse_qs(urlparse(full_url).query, keep_blank_values=True)
        upload_id = (query.get("uploadId") or [""])[0]
        if upload_id:
            try:
                bucket = self.backend.get_bucket(
                    self.parse_bucket_name_from_url(request, full_url))
            except S3ClientError:
                bucket = None
            upload = bucket.multiparts.get(upload_id) if bucket is not None else None
            if upload is not None and upload.key_name != self.parse_key_name():
                raise NoSuchUpload(upload_id=upload_id)
        return original(self, request, full_url)

    S3Response._key_response = key_response  # type: ignore[method-assign]
