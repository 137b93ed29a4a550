"""Schemathesis hooks for the contract run in tests/tests/api/contract/fuzzing.rs.

- Raw `application/pdf` bodies are generated (arbitrary bytes, and bytes that open like a
  PDF), so fuzzing reaches `POST /dossiers/{id}/cv` with them.
- Every request takes the next key of a pool (in place of any Authorization value
  generated from the security scheme, as `--header` would), so that no key nears the
  600-per-minute limit and the run never waits on a 429.
- Every response is logged as a JSON line to $LEADGRID_CONTRACT_LOG, for the test to check
  what was sent and what came back.
"""

import itertools
import json
import os

import schemathesis
from hypothesis import strategies as st

PDF_MAGIC = b"%PDF-"

schemathesis.openapi.media_type(
    "application/pdf",
    st.one_of(
        st.binary(max_size=2048),
        st.binary(max_size=2048).map(lambda rest: PDF_MAGIC + b"1.7\n%\xe2\xe3\xcf\xd3\n" + rest),
    ),
)

_KEYS = itertools.cycle(os.environ["LEADGRID_CONTRACT_KEYS"].split(","))
_LOG = os.environ["LEADGRID_CONTRACT_LOG"]


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = {name: value for name, value in (case.headers or {}).items() if name.lower() != "authorization"}
    headers["Authorization"] = f"Bearer {next(_KEYS)}"
    case.headers = headers


@schemathesis.hook
def after_call(context, case, response):
    body = case.body if isinstance(case.body, bytes) else None
    entry = {
        "operation": f"{case.operation.method.upper()} {case.operation.path}",
        "media_type": case.media_type,
        "status": response.status_code,
        "pdf_magic": body is not None and body.startswith(PDF_MAGIC),
        "raw_bytes": body is not None,
    }
    if response.status_code == 429:
        # Which limit answered: the key's, or one of a kind of request (test pings).
        try:
            entry["message"] = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            entry["message"] = None
    with open(_LOG, "a", encoding="utf-8") as log:
        log.write(json.dumps(entry) + "\n")
