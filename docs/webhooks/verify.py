"""Verifies LeadGrid's `X-LeadGrid-Signature` header in Python (standard library only)."""

import hashlib
import hmac
import time


def verify_leadgrid_signature(header: str, body: bytes, secret: str, tolerance_seconds: int = 300) -> bool:
    """True when `header` holds a signature of the raw request `body` made with `secret`, at a
    time within `tolerance_seconds` of now. During a secret rotation the header carries one
    `v1` per secret: any may match."""
    pairs = [part.split("=", 1) for part in header.split(",") if "=" in part]
    timestamps = [value for key, value in pairs if key == "t"]
    signatures = [value for key, value in pairs if key == "v1"]
    if len(timestamps) != 1 or not (timestamps[0].isascii() and timestamps[0].isdigit()):
        return False
    t = timestamps[0]
    if abs(time.time() - int(t)) > tolerance_seconds:
        return False
    expected = hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, signature) for signature in signatures)
