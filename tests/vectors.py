"""The one loader of the reference vectors in tests/vectors (copied verbatim from ../shared/vectors).

livekit-client-2.23.0.jsonl was produced by the real E2EE worker of the npm package
livekit-client 2.23.0 (see tests/vectors/README.md); kdf.json comes from LiveKit's own
test suites (webrtc-sdk frame_crypto_transformer_unittest.cc, server-sdk-go).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

import framecryptor as fc

VECTOR_DIR = Path(__file__).parent / "vectors"
JS_VECTORS = VECTOR_DIR / "livekit-client-2.23.0.jsonl"
KDF_VECTORS = VECTOR_DIR / "kdf.json"


@functools.cache
def js_vectors() -> tuple[dict[str, Any], ...]:
    with JS_VECTORS.open(encoding="utf-8") as f:
        return tuple(json.loads(line) for line in f if line.strip())


def of_type(vtype: str) -> list[dict[str, Any]]:
    return [v for v in js_vectors() if v["vtype"] == vtype]


def params(vtype: str, pred: Any = None) -> list[Any]:
    """pytest params (one case per vector, id = the vector's id)."""
    return [pytest.param(v, id=v["id"]) for v in of_type(vtype) if pred is None or pred(v)]


def kdf_vectors() -> list[dict[str, Any]]:
    with KDF_VECTORS.open(encoding="utf-8") as f:
        return list(json.load(f)["vectors"])


def h(x: str | None) -> bytes:
    return bytes.fromhex(x or "")


def key_frame_of(v: dict[str, Any]) -> bool | None:
    return {"key": True, "delta": False}.get(v["frameType"])


def options_for(key: dict[str, Any], **overrides: Any) -> fc.KeyProviderOptions:
    """Key provider options matching a vector's key record (JS: raw -> HKDF, passphrase -> PBKDF2)."""
    kw: dict[str, Any] = dict(
        key_derivation_function=fc.KeyDerivationFunction[key["kdf"]],
        ratchet_salt=key["salt"].encode(),
        key_size=key["keySize"] // 8,
    )
    kw.update(overrides)
    return fc.KeyProviderOptions(**kw)


def original_material(key: dict[str, Any]) -> bytes:
    """The material the app handed to livekit-client (before any ratchet)."""
    return key["value"].encode("utf-8") if key["type"] == "passphrase" else h(key["value"])
