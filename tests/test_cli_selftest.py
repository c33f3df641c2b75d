"""``framecryptor selftest``: the reference vectors ship inside the package and pass."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from framecryptor.cli import main, selftest

from vectors import JS_VECTORS, KDF_VECTORS, VECTOR_DIR, js_vectors, kdf_vectors


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_vectors_ship_inside_the_package_unmodified() -> None:
    files = selftest.vector_files()
    assert sha256(files[selftest.JS_VECTORS]) == sha256(JS_VECTORS)
    assert sha256(files[selftest.KDF_VECTORS]) == sha256(KDF_VECTORS)
    # From the installed package, not from the source tree's tests/ directory.
    assert VECTOR_DIR not in files[selftest.JS_VECTORS].parents
    assert "framecryptor" in files[selftest.JS_VECTORS].parts


def test_every_vector_passes() -> None:
    results = selftest.run_vectors()
    failed = [r for r in results if not r.passed]
    assert failed == []
    meta = [v for v in js_vectors() if v["vtype"] == "meta"]
    assert len(results) == len(js_vectors()) - len(meta) + len(kdf_vectors())
    assert {r.area for r in results} == {
        "opus",
        "vp8",
        "vp9",
        "av1",
        "h264",
        "h265",
        "ratchet",
        "kdf",
        "data",
    }


def test_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["selftest"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1:4] for line in out.splitlines() if line.split()[3:4] == ["PASS"]}
    assert set(rows) == {"opus", "vp8", "vp9", "av1", "h264", "h265", "ratchet", "kdf", "data"}
    assert rows["h264"][1] == "0" and int(rows["h264"][0]) >= 40
    assert "this install is interoperable" in out


def test_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["selftest", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["passed"] is True and d["failures"] == [] and d["reference"] == "livekit-client 2.23.0"
    assert sum(a["passed"] for a in d["areas"]) == d["vectors"]


def tamper(vectors: list[dict[str, Any]], vid: str, field: str, value: Any) -> list[dict[str, Any]]:
    out = copy.deepcopy(vectors)
    for v in out:
        if v.get("id") == vid:
            v[field] = value
    return out


@pytest.mark.parametrize(
    ("vtype", "field", "flip"),
    [
        (
            "frame",
            "ciphertext",
            lambda x: x[:-4] + ("00" if x[-4:-2] != "00" else "01") + x[-2:],
        ),  # IV length byte
        ("frame", "plaintext", lambda x: "ff" + x[2:]),
        ("sif", "output", lambda x: x[:-2]),
        ("ratchet", "chain", lambda x: x[:1] + ["00" * 32] + x[2:]),
        ("data", "encryptedValue", lambda x: ("00" if x[:2] != "00" else "01") + x[2:]),
    ],
)
def test_a_wrong_vector_fails(vtype: str, field: str, flip: Any) -> None:
    """The checks can fail: a vector changed in one place is reported, the rest still pass."""
    js = list(js_vectors())
    v = next(
        v
        for v in js
        if v["vtype"] == vtype and v.get(field) and (vtype != "frame" or not v.get("passthrough"))
    )
    bad = tamper(js, v["id"], field, flip(v[field]))
    results = selftest.run_vectors(bad, kdf_vectors())
    failed = [r for r in results if not r.passed]
    assert [r.id for r in failed] == [v["id"]]
    assert failed[0].reason


def test_failure_exit_status_and_listing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    js = list(js_vectors())
    kdf = copy.deepcopy(kdf_vectors())
    kdf[0]["key"] = "00" * 16
    monkeypatch.setattr(selftest, "load_vectors", lambda: (js, kdf))
    assert main(["selftest"]) == 3
    out = capsys.readouterr().out
    assert "FAIL kdf" in out and "derived key differs" in out and "NOT interoperable" in out
