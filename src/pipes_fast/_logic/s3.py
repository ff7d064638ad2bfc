"""What the S3 reader and injector share: key names, and boto3's errors read without boto3.

The core never imports boto3: a client is passed in, and its errors are recognised by the
``response`` dict botocore's ``ClientError`` carries.
"""

from __future__ import annotations

import secrets
import string
from typing import Any, Optional

KEY_PREFIX_LENGTH = 30
"""Random letters in a key prefix, as dagster-aws makes them."""


def random_key_prefix() -> str:
    """A fresh key prefix (30 ASCII letters), so that runs sharing a bucket never meet."""
    return "".join(secrets.choice(string.ascii_letters) for _ in range(KEY_PREFIX_LENGTH))


def s3_url(bucket: str, key: str) -> str:
    """How warnings name an object."""
    return f"s3://{bucket}/{key}"


def error_code(exc: BaseException) -> Optional[str]:
    """The S3 error code of a botocore ``ClientError`` (``"NoSuchKey"``, ``"404"`` for a HEAD, ...),
    or None for any other exception."""
    response: Any = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    code = (response.get("Error") or {}).get("Code")
    return code if isinstance(code, str) else None
