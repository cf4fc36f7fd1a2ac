"""modelda: verified model weights from modelda nodes.

Every byte is checked before you see it: each leaf against the chaining
value the publisher signed, each tensor against its signed hash, the claims
against the pinned key. The checks are modelda's own Rust core
(`modelda._core`), the code the `modelda` command verifies with.

    import modelda
    client = modelda.Client("http://127.0.0.1:8700", key="publisher.pem.pub")
    w = client.load_tensor(model_id, "model.layers.0.mlp.up_proj.weight")
"""

from __future__ import annotations

import json
from typing import Any, Dict, Optional, Union

from ._client import (
    DEFAULT_URL,
    AdvisoryWarning,
    Client,
    Model,
    SafeOpen,
    UnpinnedKeyWarning,
    cache_dir,
    error,
    read_key,
)
from ._core import (
    AdvisoryError,
    KeyMismatchError,
    ModeldaError,
    NotFoundError,
    SignedModel,
    VerificationError,
    b3sum,
    verify_dir,
)

try:
    from importlib.metadata import PackageNotFoundError, version

    __version__ = version("modelda")
except PackageNotFoundError:  # pragma: no cover - a source tree
    __version__ = "0"

__all__ = [
    "Client",
    "Model",
    "SafeOpen",
    "verify",
    "b3sum",
    "cache_dir",
    "ModeldaError",
    "VerificationError",
    "KeyMismatchError",
    "NotFoundError",
    "UnpinnedKeyWarning",
    "AdvisoryError",
    "AdvisoryWarning",
    "DEFAULT_URL",
    "__version__",
]


def verify(path: Any, key: Optional[Union[str, bytes, Any]] = None) -> Dict[str, Any]:
    """Re-hashes the model directory at `path` against its signed claims
    (`model.claims.sig`) and, where present, its OpenSSF model signature
    (`model.sig`). `key` pins the signer (a PEM file's path, or PEM text).
    Returns the report (model_id, key_hint, key_pinned, files, bytes); a
    directory that differs from what was signed raises `VerificationError`
    (code `TAMPERED`) naming each difference."""
    import os

    report = json.loads(verify_dir(os.fspath(path), read_key(key)))
    if not report.get("ok"):
        raise error(
            VerificationError,
            "TAMPERED",
            f"{os.fspath(path)} differs from what was signed: " + "; ".join(report.get("mismatches", [])),
        )
    return report
