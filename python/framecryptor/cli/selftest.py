"""``framecryptor selftest``: run the bundled reference vectors, per codec.

The vectors ship inside the package (``framecryptor/data/vectors``), unmodified:
``livekit-client-2.23.0.jsonl`` (frames, server-injected frames, receiver cases, ratchet
chains and data packets produced by the real E2EE worker of livekit-client 2.23.0) and
``kdf.json`` (key derivations from LiveKit's native and Go SDK test suites). A pass says
this install decrypts what LiveKit's SDKs encrypt and derives the same keys.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import time
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from .. import _native
from ..cryptor import FrameCryptor
from ..exceptions import DecryptionError, E2EEError, InvalidFrameError, MissingKeyError, SifFrameDroppedError
from ..keys import HKDF_INFO, KeyProvider
from ..keys import _kdf32 as _keys_kdf32
from ..options import Codec, EncryptionState, KeyDerivationFunction, KeyProviderOptions
from .common import EXIT_ERROR, EXIT_INCOMPLETE, EXIT_OK, CliError
from .keys import add_debug_option

__all__ = ["VectorResult", "load_vectors", "register", "run", "run_vectors", "vector_files"]

JS_VECTORS = "livekit-client-2.23.0.jsonl"
KDF_VECTORS = "kdf.json"
_AREAS = ["opus", "vp8", "vp9", "av1", "h264", "h265", "ratchet", "kdf", "data"]
_WHAT = {
    "opus": "livekit-client frames decrypt, layout, our round trip",
    "vp8": "livekit-client frames decrypt, layout, our round trip; SIF; receiver cases",
    "vp9": "livekit-client frames decrypt, layout, our round trip",
    "av1": "whole-frame rule (livekit-client refuses AV1)",
    "h264": "livekit-client frames decrypt, layout, RBSP, our round trip; SIF",
    "h265": "livekit-client frames decrypt, layout, RBSP, our round trip",
    "ratchet": "ratchet chains of the livekit-client worker",
    "kdf": "PBKDF2 / HKDF vectors of LiveKit's native and Go SDK tests",
    "data": "data packets: AES-GCM without AAD, key ratchets",
}


@dataclasses.dataclass(frozen=True)
class VectorResult:
    """One vector's outcome; ``reason`` says what differed when it failed."""

    id: str
    area: str
    passed: bool
    reason: str = ""


# ---------------------------------------------------------------------------
# loading


def vector_files() -> dict[str, Path]:
    """Paths of the bundled vector files (the source tree's tests/vectors for an editable install)."""
    found: dict[str, Path] = {}
    try:
        base = resources.files("framecryptor").joinpath("data").joinpath("vectors")
        for name in (JS_VECTORS, KDF_VECTORS):
            entry = base.joinpath(name)
            if entry.is_file():
                found[name] = Path(str(entry))
    except (FileNotFoundError, ModuleNotFoundError, NotADirectoryError):
        pass
    if len(found) < 2:
        tree = Path(__file__).resolve().parents[3] / "tests" / "vectors"
        for name in (JS_VECTORS, KDF_VECTORS):
            if name not in found and (tree / name).is_file():
                found[name] = tree / name
    missing = [n for n in (JS_VECTORS, KDF_VECTORS) if n not in found]
    if missing:
        raise CliError(f"the reference vectors are missing from this install: {', '.join(missing)}")
    return found


def load_vectors() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(livekit-client vectors, KDF vectors) from the bundled files."""
    files = vector_files()
    try:
        with files[JS_VECTORS].open(encoding="utf-8") as f:
            js = [json.loads(line) for line in f if line.strip()]
        with files[KDF_VECTORS].open(encoding="utf-8") as f:
            kdf = list(json.load(f)["vectors"])
    except (OSError, ValueError, KeyError) as e:
        raise CliError(f"the bundled reference vectors cannot be read: {e}") from None
    return js, kdf


# ---------------------------------------------------------------------------
# checks


def _h(x: str | None) -> bytes:
    return bytes.fromhex(x or "")


# The key schedule's one KDF run, cached: the vectors derive the same chains many times.
_kdf32 = functools.lru_cache(maxsize=512)(_keys_kdf32)


def _original(key: dict[str, Any]) -> bytes:
    return key["value"].encode("utf-8") if key["type"] == "passphrase" else _h(key["value"])


def _kdf_of(key: dict[str, Any]) -> KeyDerivationFunction:
    return KeyDerivationFunction[key["kdf"]]


def _key_frame(v: dict[str, Any]) -> bool | None:
    return {"key": True, "delta": False}.get(v["frameType"])


def _normalize_start_codes(data: bytes) -> bytes:
    """Every 3-byte Annex-B start code as a 4-byte one (what a receiver's depacketizer delivers)."""
    out = bytearray()
    i = data.find(b"\x00\x00\x01")
    last = 0
    while i >= 0:
        if i == 0 or data[i - 1] != 0:
            out += data[last:i] + b"\x00"
            last = i
        i = data.find(b"\x00\x00\x01", i + 3)
    out += data[last:]
    return bytes(out)


class _Fail(Exception):
    pass


def _check(cond: bool, reason: str) -> None:
    if not cond:
        raise _Fail(reason)


def _frame(v: dict[str, Any]) -> None:
    key = v["key"]
    salt = key["salt"].encode()
    kdf = _kdf_of(key)
    size = key["keySize"] // 8
    codec = Codec.parse(v["codec"])
    kf = _key_frame(v)
    core = _native.FrameCryptorCore(codec.native_id, _native.KeyRing(256), _native.SifPolicy())
    # Our ratchets of the original key reach the sender's material; its AES key opens the frame.
    material = _original(key)
    for _ in range(key["ratchets"]):
        material = _kdf32(material, salt, kdf)
    _check(material == _h(key["materialHex"]), "ratchet chain differs from the sender's")
    aes = _native.AesGcmKey(_kdf32(material, salt, kdf)[:size])
    plaintext = _h(v["plaintext"])
    if v["ciphertext"] is None:  # livekit-client refused to encrypt: our sender handles it
        try:
            wire = core.encrypt_with(aes, key["keyIndex"], plaintext, bool(kf))
        except InvalidFrameError:
            _check(codec is not Codec.AV1, "AV1 frame refused")
            return
        out, info = core.decrypt_detailed(wire, kf, aes)
        _check(_normalize_start_codes(out) == _normalize_start_codes(plaintext), "our round trip differs")
        _check(codec is not Codec.AV1 or info["header_len"] == 0, "AV1 frame not encrypted whole")
        return
    expected = _h(v.get("decrypted") or v["plaintext"])
    wire = _h(v["ciphertext"])
    if v.get("passthrough"):
        out, info = core.decrypt_detailed(wire, kf, aes)
        _check(out == expected and info["kind"] == "empty", "empty frame not passed through")
        return
    try:
        out, info = core.decrypt_detailed(wire, kf, aes)
    except DecryptionError:
        raise _Fail("livekit-client frame does not decrypt") from None
    _check(out == expected, "decrypted frame differs from livekit-client's receiver output")
    parsed = v["parsed"]
    _check(
        info["header_len"] == parsed["headerLen"],
        f"clear header {info['header_len']} != {parsed['headerLen']}",
    )
    _check(info["key_index"] == parsed["keyIndex"], "key index differs")
    # Our sender, our receiver.
    ours = core.encrypt_with(aes, key["keyIndex"], plaintext, bool(kf))
    back = core.decrypt_detailed(ours, kf, aes)[0]
    _check(_normalize_start_codes(back) == _normalize_start_codes(plaintext), "our round trip differs")


def _sif(v: dict[str, Any]) -> None:
    kp = KeyProvider(KeyProviderOptions(key_derivation_function=KeyDerivationFunction.HKDF))
    kp.set_key("alice", bytes(16))
    kp.set_sif_trailer(_h(v["sifTrailer"]))
    c = FrameCryptor(kp, "alice", v["codec"])
    received = _h(v["received"])
    if v["output"] is None:
        try:
            c.decrypt(received, _key_frame(v))
        except SifFrameDroppedError:
            return
        raise _Fail("forwarded a frame livekit-client drops")
    f = c.decrypt_frame(received, _key_frame(v))
    _check(
        f.data == _h(v["output"]) and f.kind == "sif", "server-injected frame not forwarded as livekit-client"
    )


def _frame_decrypt(v: dict[str, Any]) -> None:
    rk = v["receiverKey"]
    opts = KeyProviderOptions(
        key_derivation_function=_kdf_of(rk),
        ratchet_salt=rk["salt"].encode(),
        key_size=rk["keySize"] // 8,
        ratchet_window_size=v["receiverOptions"]["ratchetWindowSize"],
    )
    kp = KeyProvider(opts)
    kp.set_key("alice", _original(rk), rk["keyIndex"])
    c = FrameCryptor(kp, "alice", v["codec"])
    received = _h(v["received"])
    if v["js"]["decrypt"] in ("ok", "ok-different"):
        try:
            out = c.decrypt(received, _key_frame(v))
        except E2EEError as e:
            raise _Fail(f"livekit-client decrypts it, we raise {type(e).__name__}") from None
        _check(out == _h(v["output"]), "output differs from livekit-client's")
        return
    try:
        c.decrypt(received, _key_frame(v))
    except (DecryptionError, InvalidFrameError, MissingKeyError):
        _check(c.state is not EncryptionState.OK, "state OK after a failure")
        return
    raise _Fail("decrypted a frame livekit-client drops")


def _ratchet(v: dict[str, Any]) -> None:
    kdf = _kdf_of(v)
    salt = v["salt"].encode()
    material = _original(v["key"])
    _check(_kdf32(material, salt, kdf) == _h(v["aesKey256AtRatchet0"]), "AES-256 key differs")
    for i, expected in enumerate(v["chain"]):
        _check(
            _kdf32(material, salt, kdf)[:16] == _h(v["aesKeys128"][i]), f"AES key after {i} ratchets differs"
        )
        material = _kdf32(material, salt, kdf)
        _check(material == _h(expected), f"material after {i + 1} ratchets differs")


def _kdf_vector(v: dict[str, Any]) -> None:
    material = v["material_utf8"].encode() if "material_utf8" in v else _h(v["material"])
    salt = v["salt_utf8"].encode() if "salt_utf8" in v else _h(v["salt"])
    if v["kdf"] == "PBKDF2-HMAC-SHA256":
        out = _native.pbkdf2_sha256(material, salt, v["iterations"], v["length"])
    else:
        out = _native.hkdf_sha256(material, salt, HKDF_INFO, v["length"])
    _check(out == _h(v["key"]), "derived key differs")


def _data(v: dict[str, Any]) -> None:
    key = v["key"]
    try:
        plain = _native.AesGcmKey(_h(key["aesKey"])).open(_h(v["iv"]), _h(v["encryptedValue"]))
    except DecryptionError:
        raise _Fail("packet does not decrypt") from None
    _check(plain == _h(v["plaintext"]), "plaintext differs")
    material = _original(key)
    for _ in range(key["ratchets"]):
        material = _kdf32(material, key["salt"].encode(), _kdf_of(key))
    _check(material == _h(key["materialHex"]), "ratchet chain differs")
    aes = _kdf32(material, key["salt"].encode(), _kdf_of(key))[: key["keySize"] // 8]
    _check(aes == _h(key["aesKey"]), "derived AES key differs")


def _cases(
    js: list[dict[str, Any]], kdf: list[dict[str, Any]]
) -> Iterator[tuple[str, str, Callable[[], None]]]:
    checks: dict[str, Callable[[dict[str, Any]], None]] = {
        "frame": _frame,
        "sif": _sif,
        "frame-decrypt": _frame_decrypt,
        "ratchet": _ratchet,
        "data": _data,
    }
    for v in js:
        check = checks.get(v["vtype"])
        if check is None:
            continue
        area = v["codec"] if v["vtype"] in ("frame", "frame-decrypt", "sif") else v["vtype"]
        yield v["id"], area, functools.partial(check, v)
    for i, v in enumerate(kdf):
        yield f"kdf/{v['kdf']}/{i}", "kdf", functools.partial(_kdf_vector, v)


def run_vectors(
    js: list[dict[str, Any]] | None = None, kdf: list[dict[str, Any]] | None = None
) -> list[VectorResult]:
    """Runs every vector (the bundled ones by default); one result per vector."""
    if js is None or kdf is None:
        js, kdf = load_vectors()
    results = []
    for vid, area, check in _cases(js, kdf):
        try:
            check()
        except _Fail as e:
            results.append(VectorResult(vid, area, False, str(e)))
        except Exception as e:  # noqa: BLE001 - an unexpected exception fails this vector, not the run
            results.append(VectorResult(vid, area, False, f"{type(e).__name__}: {e}"))
        else:
            results.append(VectorResult(vid, area, True))
    return results


# ---------------------------------------------------------------------------
# command line


def register(sub: Any) -> None:
    p = sub.add_parser(
        "selftest",
        help="run the bundled reference vectors: is this install interoperable?",
        description="Runs the reference vectors shipped inside the package (real output of livekit-client "
        "2.23.0's E2EE worker, and the KDF vectors of LiveKit's native and Go SDK tests) and prints a "
        "pass/fail table per codec.",
        epilog="exit status: 0 all passed; 3 a vector failed; 1 the vectors cannot be loaded.",
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("-v", "--verbose", action="store_true", help="list every vector")
    add_debug_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    js, kdf = load_vectors()
    meta = next((v for v in js if v.get("vtype") == "meta"), {})
    results = run_vectors(js, kdf)
    if not results:
        raise CliError("the bundled reference vectors hold no test case", EXIT_ERROR)
    rows = []
    for area in _AREAS + sorted({r.area for r in results} - set(_AREAS)):
        mine = [r for r in results if r.area == area]
        if mine:
            rows.append((area, sum(r.passed for r in mine), sum(not r.passed for r in mine)))
    failures = [r for r in results if not r.passed]
    elapsed = time.perf_counter() - t0
    if args.json:
        print(
            json.dumps(
                {
                    "passed": not failures,
                    "reference": f"livekit-client {meta.get('livekitClient', '?')}",
                    "areas": [{"area": a, "passed": p, "failed": f} for a, p, f in rows],
                    "failures": [dataclasses.asdict(r) for r in failures],
                    "vectors": len(results),
                    "seconds": round(elapsed, 3),
                },
                indent=2,
            )
        )
        return EXIT_INCOMPLETE if failures else EXIT_OK
    print(
        f"reference vectors: livekit-client {meta.get('livekitClient', '?')} (real E2EE worker output), "
        "LiveKit SDK KDF tests"
    )
    print()
    print(f"{'area':8} {'passed':>6} {'failed':>6}  result  checks")
    for area, passed, failed in rows:
        print(f"{area:8} {passed:6} {failed:6}  {'PASS' if not failed else 'FAIL':6}  {_WHAT.get(area, '')}")
    if args.verbose:
        print()
        for r in results:
            print(
                f"{'ok  ' if r.passed else 'FAIL'} {r.area:8} {r.id}" + (f": {r.reason}" if r.reason else "")
            )
    elif failures:
        print()
        for r in failures[:20]:
            print(f"FAIL {r.area:8} {r.id}: {r.reason}")
        if len(failures) > 20:
            print(f"... and {len(failures) - 20} more (--verbose lists all)")
    print()
    total = len(results)
    verdict = "interoperable" if not failures else "NOT interoperable"
    print(f"{total - len(failures)}/{total} vectors passed in {elapsed:.2f} s: this install is {verdict}")
    return EXIT_INCOMPLETE if failures else EXIT_OK
