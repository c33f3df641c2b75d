"""Explain an encrypted LiveKit media frame, and find which candidate key opens it.

:func:`inspect_frame` answers "why doesn't it decrypt?": it reports the codec (given
or guessed from the bytes), where the clear header ends and why, the NAL units of an
H.264/H.265 frame, the RBSP escapes, the IV and what it encodes, the trailer, SIF and
LKTS trailers, and which of the candidate keys (with which KDF, AES key size and
ratchet step) authenticates the frame::

    import framecryptor as fc

    report = fc.inspect_frame(wire, keys=[fc.KeyCandidate.passphrase("room secret")])
    print(report.codec, report.clear_header_len, report.match)

Key material never appears in a result: keys are named by fingerprint (first 8 hex
digits of SHA-256 of the material).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from . import _native
from .exceptions import DecryptionError, E2EEError, InvalidArgumentError, InvalidFrameError, InvalidKeyError
from .keys import _kdf32
from .options import (
    DEFAULT_RATCHET_SALT,
    Codec,
    KeyDerivationFunction,
    key_fingerprint,
)

__all__ = [
    "CodecGuess",
    "FrameInspection",
    "IvInfo",
    "KeyCandidate",
    "KeyMatch",
    "KeySearch",
    "NalUnit",
    "PacketTrailerInfo",
    "SifInfo",
    "describe_iv",
    "guess_codec",
    "inspect_frame",
]

_TRAILER = 2  # IV length byte + key index
_IV = 12
_TAG = 16
_OVERHEAD = _TAG + _IV + _TRAILER
_MAX_SIF_TRAILER = 32  # longest SIF trailer looked for when none is given
_MAX_RATCHETS = 256


# ---------------------------------------------------------------------------
# keys


@dataclasses.dataclass(frozen=True)
class KeyCandidate:
    """Key material to try, and how the user gave it ("passphrase", "hex" or "bytes").

    The material is what an application passes to ``set_key``; it is never shown:
    :attr:`fingerprint` names it.
    """

    material: bytes = dataclasses.field(repr=False)
    source: str = "bytes"

    def __post_init__(self) -> None:
        if not isinstance(self.material, (bytes, bytearray, memoryview)):
            raise InvalidKeyError(f"key material must be bytes, not {type(self.material).__name__}")
        object.__setattr__(self, "material", bytes(self.material))
        if not self.material:
            raise InvalidKeyError("key material must not be empty")

    @classmethod
    def passphrase(cls, text: str) -> KeyCandidate:
        """A passphrase: its UTF-8 bytes are the key material."""
        if not isinstance(text, str):
            raise InvalidKeyError(f"passphrase must be a str, not {type(text).__name__}")
        return cls(text.encode("utf-8"), "passphrase")

    @classmethod
    def from_hex(cls, text: str) -> KeyCandidate:
        """Raw key material written in hex (spaces and colons allowed)."""
        cleaned = "".join(text.split()).replace(":", "")
        if cleaned.lower().startswith("0x"):
            cleaned = cleaned[2:]
        try:
            data = bytes.fromhex(cleaned)
        except ValueError:
            raise InvalidKeyError("key is not valid hex (expected pairs of 0-9a-f digits)") from None
        return cls(data, "hex")

    @property
    def fingerprint(self) -> str:
        """First 8 hex digits of SHA-256 of the material."""
        return key_fingerprint(self.material)

    def __repr__(self) -> str:
        return f"KeyCandidate(<fingerprint {self.fingerprint}>, source={self.source!r})"


@dataclasses.dataclass(frozen=True)
class KeyMatch:
    """A candidate key that authenticated a frame, and how it was derived."""

    fingerprint: str  # of the candidate material as given
    source: str  # "passphrase", "hex" or "bytes"
    kdf: KeyDerivationFunction
    key_size: int  # AES key bytes: 16 (AES-128) or 32 (AES-256)
    ratchet_steps: int  # ratchets applied to the material before deriving the key
    key_index: int  # from the frame's trailer
    header_len: int  # clear header bytes of the layout that authenticated
    escaped: bool  # that layout RBSP-escapes the encrypted part
    codec: Codec | None  # codec whose layout authenticated (None: not told apart)
    plaintext: bytes = dataclasses.field(repr=False)
    candidate: KeyCandidate = dataclasses.field(repr=False, compare=False)
    material: bytes = dataclasses.field(repr=False, compare=False)  # after the ratchet steps

    @property
    def aes(self) -> str:
        return f"AES-{self.key_size * 8}-GCM"

    def describe(self) -> str:
        steps = "no ratchet" if self.ratchet_steps == 0 else f"ratcheted {self.ratchet_steps}x"
        return f"key {self.fingerprint} ({self.source}), {self.kdf.name}, {self.aes}, {steps}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "source": self.source,
            "kdf": self.kdf.name,
            "key_size": self.key_size,
            "aes": self.aes,
            "ratchet_steps": self.ratchet_steps,
            "key_index": self.key_index,
            "header_len": self.header_len,
            "escaped": self.escaped,
            "codec": self.codec.value if self.codec else None,
            "plaintext_size": len(self.plaintext),
            "plaintext_head": self.plaintext[:16].hex(),
        }


@dataclasses.dataclass(eq=False)
class _Derivation:
    material: bytes  # material at this ratchet step
    keys: dict[int, _native.AesGcmKey]  # key_size -> AES key
    next_material: bytes  # the KDF output: material one ratchet further


class KeySearch:
    """Candidate keys x KDFs x ratchet steps x AES key sizes, derived lazily and cached.

    Each (candidate, KDF) chain costs one KDF run per ratchet step (PBKDF2: 100,000
    iterations), computed the first time it is needed and reused for every frame.
    """

    def __init__(
        self,
        candidates: Sequence[KeyCandidate],
        *,
        kdfs: Sequence[KeyDerivationFunction] = (KeyDerivationFunction.PBKDF2,),
        salt: bytes | str = DEFAULT_RATCHET_SALT,
        ratchets: int = 0,
        key_sizes: Sequence[int] = (16, 32),
    ) -> None:
        self.candidates = tuple(candidates)
        for c in self.candidates:
            if not isinstance(c, KeyCandidate):
                raise InvalidArgumentError(f"keys must be KeyCandidate objects, not {type(c).__name__}")
        self.kdfs = tuple(KeyDerivationFunction(k) for k in kdfs)
        if not self.kdfs:
            raise InvalidArgumentError("at least one KDF is needed")
        self.salt = salt.encode("utf-8") if isinstance(salt, str) else bytes(salt)
        if not isinstance(ratchets, int) or not 0 <= ratchets <= _MAX_RATCHETS:
            raise InvalidArgumentError(f"ratchets must be 0..{_MAX_RATCHETS}, got {ratchets!r}")
        self.ratchets = ratchets
        self.key_sizes = tuple(key_sizes)
        if not self.key_sizes or any(s not in (16, 32) for s in self.key_sizes):
            raise InvalidArgumentError(f"key sizes must be 16 and/or 32, got {key_sizes!r}")
        self._chains: dict[tuple[int, KeyDerivationFunction], list[_Derivation]] = {}

    @property
    def combinations(self) -> int:
        """Keys the search tries per frame layout."""
        return len(self.candidates) * len(self.kdfs) * (self.ratchets + 1) * len(self.key_sizes)

    def _step(self, ci: int, kdf: KeyDerivationFunction, step: int) -> _Derivation:
        chain = self._chains.setdefault((ci, kdf), [])
        while len(chain) <= step:
            material = self.candidates[ci].material if not chain else chain[-1].next_material
            out = _kdf32(material, self.salt, kdf)
            chain.append(
                _Derivation(material, {size: _native.AesGcmKey(out[:size]) for size in self.key_sizes}, out)
            )
        return chain[step]

    def keys(
        self,
    ) -> Iterator[tuple[KeyCandidate, KeyDerivationFunction, int, int, bytes, _native.AesGcmKey]]:
        """(candidate, kdf, ratchet step, key size, material at that step, AES key), fewest ratchets first."""
        for step in range(self.ratchets + 1):
            for ci, cand in enumerate(self.candidates):
                for kdf in self.kdfs:
                    d = self._step(ci, kdf, step)
                    for size in self.key_sizes:
                        yield cand, kdf, step, size, d.material, d.keys[size]

    def open(
        self,
        frame: Any,
        codecs: Sequence[Codec],
        key_frame: bool | None = None,
        *,
        cores: dict[Codec, _native.FrameCryptorCore] | None = None,
    ) -> KeyMatch | None:
        """The first key (and codec layout) that authenticates the frame, or None.

        Raises :class:`~framecryptor.InvalidFrameError` when the frame cannot carry a
        LiveKit trailer at all (too short, IV length byte not 12).
        """
        data = _native.as_bytes(frame)
        if cores is None:
            cores = {}
        for codec in codecs:
            if codec not in cores:
                cores[codec] = _native.FrameCryptorCore(
                    codec.native_id, _native.KeyRing(1), _native.SifPolicy()
                )
        _native.read_trailer(data)  # InvalidFrameError before any key work
        possible = list(codecs)
        for cand, kdf, step, size, material, key in self.keys():
            for codec in list(possible):
                try:
                    plain, info = cores[codec].decrypt_detailed(data, key_frame, key)
                except DecryptionError:
                    continue
                except InvalidFrameError:
                    # No layout of this codec fits the frame, whatever the key.
                    possible.remove(codec)
                    if not possible:
                        raise
                    continue
                return KeyMatch(
                    fingerprint=cand.fingerprint,
                    source=cand.source,
                    kdf=kdf,
                    key_size=size,
                    ratchet_steps=step,
                    key_index=int(info["key_index"]),
                    header_len=int(info["header_len"]),
                    escaped=bool(info["escaped"]),
                    codec=codec,
                    plaintext=plain,
                    candidate=cand,
                    material=material,
                )
        return None


# ---------------------------------------------------------------------------
# result types


class Confidence(str, enum.Enum):
    """How sure a codec guess is."""

    GIVEN = "given"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    NONE = "none"

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True)
class CodecGuess:
    """The codec a frame looks like (None: cannot tell), how sure, and why."""

    codec: Codec | None
    confidence: Confidence
    reason: str


@dataclasses.dataclass(frozen=True)
class NalUnit:
    """One Annex-B NAL unit: offset of its header byte, type and name for the codec."""

    offset: int
    type: int
    name: str
    clear: bool  # its header byte lies in the clear header

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class IvInfo:
    """A frame's 12-byte IV and what it appears to encode.

    ``scheme`` is "livekit" (big-endian SSRC | RTP timestamp | timestamp - send count,
    as livekit-client and the native SDKs build it), "framecryptor" (8 random bytes and
    a 32-bit counter, our sender's scheme; a guess when the counter is small) or
    "unknown".
    """

    hex: str
    scheme: str
    ssrc: int | None = None
    rtp_timestamp: int | None = None
    send_count: int | None = None  # livekit: the sender's frame counter mod 0xFFFF
    prefix: str | None = None  # framecryptor: the 8-byte random prefix
    counter: int | None = None  # framecryptor: the 32-bit counter

    def describe(self) -> str:
        if self.scheme == "livekit":
            ssrc = (
                "SSRC unknown to the sender (0xffffffff)"
                if self.ssrc == 0xFFFFFFFF
                else f"SSRC {self.ssrc} (0x{self.ssrc:08x})"
            )
            return (
                f"LiveKit SDK layout: {ssrc}, RTP timestamp {self.rtp_timestamp}, "
                f"send count {self.send_count} (mod 65535)"
            )
        if self.scheme == "framecryptor":
            return f"8 random bytes {self.prefix} + counter {self.counter} (framecryptor's sender)"
        return "no known layout (random-looking)"

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclasses.dataclass(frozen=True)
class SifInfo:
    """A server-injected frame: its trailer and the allow-listed payload it carries."""

    trailer: str  # hex
    payload: str | None  # name of the allow-listed blank payload, None: unknown (dropped)
    trailer_given: bool  # the trailer was given (else found by its payload)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class PacketTrailerInfo:
    """An LKTS packet trailer (frame metadata) found at the end of the frame."""

    length: int
    user_timestamp: int | None
    frame_id: int | None
    user_data: bytes | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "length": self.length,
            "user_timestamp": self.user_timestamp,
            "frame_id": self.frame_id,
            "user_data": self.user_data.hex() if self.user_data is not None else None,
        }


@dataclasses.dataclass(frozen=True)
class FrameInspection:
    """Everything :func:`inspect_frame` found out about one frame.

    Sizes and offsets refer to the frame as given (with any LKTS trailer removed).
    ``match`` is the key that opened the frame, None when no candidate did (or none
    was given); ``keys_tried`` counts candidate x KDF x ratchet step x key size.
    """

    size: int
    codec: Codec | None
    codec_confidence: Confidence
    codec_reason: str
    key_frame: bool | None
    key_frame_reason: str
    trailer_ok: bool  # long enough, IV length byte 12
    iv_length_byte: int | None
    key_index: int | None
    clear_header_len: int | None
    clear_header_reason: str
    escaped: bool
    rbsp_escapes: int
    nal_units: tuple[NalUnit, ...]
    leading_data: bool
    ciphertext_len: int | None  # without the tag
    tag: str | None
    iv: IvInfo | None
    sif: SifInfo | None
    packet_trailer: PacketTrailerInfo | None
    match: KeyMatch | None
    keys_tried: int
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (no key material, no plaintext beyond its first 16 bytes)."""
        return {
            "size": self.size,
            "codec": self.codec.value if self.codec else None,
            "codec_confidence": self.codec_confidence.value,
            "codec_reason": self.codec_reason,
            "key_frame": self.key_frame,
            "key_frame_reason": self.key_frame_reason,
            "trailer_ok": self.trailer_ok,
            "iv_length_byte": self.iv_length_byte,
            "key_index": self.key_index,
            "clear_header": {
                "length": self.clear_header_len,
                "reason": self.clear_header_reason,
                "escaped": self.escaped,
                "rbsp_escapes": self.rbsp_escapes,
            },
            "nal_units": [u.to_dict() for u in self.nal_units],
            "leading_data": self.leading_data,
            "ciphertext_len": self.ciphertext_len,
            "tag": self.tag,
            "iv": self.iv.to_dict() if self.iv else None,
            "sif": self.sif.to_dict() if self.sif else None,
            "packet_trailer": self.packet_trailer.to_dict() if self.packet_trailer else None,
            "keys_tried": self.keys_tried,
            "match": self.match.to_dict() if self.match else None,
            "notes": list(self.notes),
        }


# ---------------------------------------------------------------------------
# codec knowledge

_H264_NAMES = {
    1: "non-IDR slice",
    2: "slice partition A",
    3: "slice partition B",
    4: "slice partition C",
    5: "IDR slice",
    6: "SEI",
    7: "SPS",
    8: "PPS",
    9: "AUD",
    10: "end of sequence",
    11: "end of stream",
    12: "filler",
    13: "SPS extension",
    14: "prefix NAL",
    15: "subset SPS",
    19: "auxiliary slice",
    20: "slice extension",
}
_H265_NAMES = {
    0: "TRAIL_N slice",
    1: "TRAIL_R slice",
    2: "TSA_N slice",
    3: "TSA_R slice",
    4: "STSA_N slice",
    5: "STSA_R slice",
    6: "RADL_N slice",
    7: "RADL_R slice",
    8: "RASL_N slice",
    9: "RASL_R slice",
    16: "BLA_W_LP slice",
    17: "BLA_W_RADL slice",
    18: "BLA_N_LP slice",
    19: "IDR_W_RADL slice",
    20: "IDR_N_LP slice",
    21: "CRA slice",
    32: "VPS",
    33: "SPS",
    34: "PPS",
    35: "AUD",
    36: "end of sequence",
    37: "end of bitstream",
    38: "filler",
    39: "prefix SEI",
    40: "suffix SEI",
}


def _h264_type(b: int) -> int:
    return b & 0x1F


def _h265_type(b: int) -> int:
    return (b >> 1) & 0x3F


def _h264_plausible(b: int) -> bool:
    """A NAL header byte a WebRTC H.264 encoder would write."""
    if b & 0x80:
        return False
    t, nri = b & 0x1F, (b >> 5) & 3
    if t in (5, 7, 8):
        return nri != 0
    if t in (6, 9, 10, 11, 12):
        return nri == 0
    return t == 1


def _h265_plausible(b0: int, b1: int | None) -> bool:
    """A 2-byte H.265 NAL header of a single-layer stream (layer 0, temporal id >= 0)."""
    if b0 & 0x80 or b1 is None:
        return False
    t = _h265_type(b0)
    layer = ((b0 & 1) << 5) | (b1 >> 3)
    return layer == 0 and (b1 & 7) >= 1 and (t <= 9 or 16 <= t <= 21 or 32 <= t <= 40)


def _h264_is_slice(b: int) -> bool:
    return _h264_type(b) in (1, 5)


def _h265_is_slice(b: int) -> bool:
    t = _h265_type(b)
    return t <= 9 or 16 <= t <= 21


def _starts_with_start_code(data: bytes) -> bool:
    i = 0
    while i < len(data) and data[i] == 0:
        i += 1
    return i >= 2 and i < len(data) and data[i] == 1


def _nal_units(data: bytes, codec: Codec, header_len: int | None) -> tuple[list[NalUnit], bool]:
    units, leading = _native.find_nal_units(data)
    names = _H265_NAMES if codec is Codec.H265 else _H264_NAMES
    out = []
    for off, b in units:
        t = _h265_type(b) if codec is Codec.H265 else _h264_type(b)
        clear = header_len is not None and off < header_len
        out.append(NalUnit(int(off), t, names.get(t, "reserved/unspecified"), clear))
    return out, bool(leading)


def guess_codec(frame: Any) -> CodecGuess:
    """The codec an encrypted (or plain) frame looks like, from its clear bytes.

    H.264/H.265 by their start codes and NAL header types, VP8 by its frame tag (and
    the key-frame start code ``9d 01 2a``), Opus (weakly) by size. VP9 and AV1 frames
    are encrypted whole: nothing in them can be recognised.
    """
    data = _native.as_bytes(frame)
    if not data:
        return CodecGuess(None, Confidence.NONE, "empty frame")
    if _starts_with_start_code(data):
        units, _ = _native.find_nal_units(data)
        heads = [(int(off), b, data[off + 1] if off + 1 < len(data) else None) for off, b in units]
        if heads:
            h264 = [_h264_plausible(b) for _, b, _ in heads]
            h265 = [_h265_plausible(b, b1) for _, b, b1 in heads]
            n264, n265 = sum(h264), sum(h265)
            t264 = ", ".join(f"{_h264_type(b)} {_H264_NAMES.get(_h264_type(b), '?')}" for _, b, _ in heads)
            t265 = ", ".join(f"{_h265_type(b)} {_H265_NAMES.get(_h265_type(b), '?')}" for _, b, _ in heads)
            if n264 and n264 >= n265:
                sure = (
                    Confidence.HIGH
                    if (n264 == len(heads) and n265 == 0 and len(heads) > 1)
                    else Confidence.MEDIUM
                )
                also = f" (as H.265, {n265} of {len(heads)} would fit too)" if n265 >= n264 else ""
                return CodecGuess(
                    Codec.H264, sure, f"Annex-B start code; NAL unit types read as H.264: {t264}{also}"
                )
            if n265:
                sure = Confidence.HIGH if (n265 == len(heads) and n264 == 0) else Confidence.MEDIUM
                return CodecGuess(
                    Codec.H265, sure, f"Annex-B start code; NAL unit types read as H.265: {t265}"
                )
            return CodecGuess(
                Codec.H264, Confidence.LOW, "Annex-B start code, but no NAL header fits H.264 or H.265 well"
            )
        return CodecGuess(Codec.H264, Confidence.LOW, "starts with an Annex-B start code but has no NAL unit")
    if len(data) >= 10 and (data[0] & 1) == 0 and data[3:6] == b"\x9d\x01\x2a":
        w = int.from_bytes(data[6:8], "little") & 0x3FFF
        h = int.from_bytes(data[8:10], "little") & 0x3FFF
        return CodecGuess(
            Codec.VP8, Confidence.HIGH, f"VP8 key frame: frame tag + start code 9d 01 2a, {w}x{h}"
        )
    if len(data) >= 3 and data[0] & 1:
        version = (data[0] >> 1) & 7
        first_part = int.from_bytes(data[0:3], "little") >> 5
        budget = len(data) - 3 - (_OVERHEAD if len(data) >= 3 + _OVERHEAD else 0)
        if version <= 3 and 0 < first_part <= budget:
            return CodecGuess(
                Codec.VP8,
                Confidence.MEDIUM,
                f"VP8 delta frame tag fits (version {version}, first partition {first_part} bytes)",
            )
    if len(data) <= 1275 + 1 + _OVERHEAD:
        toc = data[0]
        return CodecGuess(
            Codec.OPUS,
            Confidence.LOW,
            f"short frame, first byte fits an Opus TOC ({_describe_toc(toc)}); VP9/AV1 cannot be ruled out",
        )
    return CodecGuess(
        None,
        Confidence.NONE,
        "nothing recognisable in the clear bytes (VP9 and AV1 frames are encrypted whole); pass the codec",
    )


def _describe_toc(toc: int) -> str:
    config = toc >> 3
    mode = "SILK" if config < 12 else "hybrid" if config < 16 else "CELT"
    sizes = {
        "SILK": (10, 20, 40, 60),
        "hybrid": (10, 20),
        "CELT": (2.5, 5, 10, 20),
    }[mode]
    size = sizes[(config if mode != "hybrid" else config - 12) % len(sizes)]
    frames = ("1 frame", "2 equal frames", "2 frames", "N frames")[toc & 3]
    return f"TOC 0x{toc:02x}: {mode}, {size} ms, {'stereo' if toc & 4 else 'mono'}, {frames}"


def _plaintext_codec(plain: bytes) -> Codec | None:
    """VP9 or AV1, told apart by the first byte of the decrypted frame."""
    if not plain:
        return None
    b = plain[0]
    vp9 = (b >> 6) == 2  # frame_marker
    obu_type = (b >> 3) & 0xF
    av1 = (b & 0x80) == 0 and (b & 1) == 0 and obu_type in (1, 2, 3, 4, 5, 6, 7, 8, 15)
    if vp9 and not av1:
        return Codec.VP9
    if av1 and not vp9:
        return Codec.AV1
    return None


def describe_iv(iv: bytes) -> IvInfo:
    """What a 12-byte frame IV appears to encode (see :class:`IvInfo`)."""
    iv = bytes(iv)
    if len(iv) != _IV:
        raise InvalidArgumentError(f"an IV has 12 bytes, got {len(iv)}")
    w1, w2, w3 = (int.from_bytes(iv[i : i + 4], "big") for i in (0, 4, 8))
    count = (w2 - w3) % (1 << 32)
    if count < 0xFFFF:
        return IvInfo(iv.hex(), "livekit", ssrc=w1, rtp_timestamp=w2, send_count=count)
    if w3 < (1 << 24):
        return IvInfo(iv.hex(), "framecryptor", prefix=iv[:8].hex(), counter=w3)
    return IvInfo(iv.hex(), "unknown")


# ---------------------------------------------------------------------------
# inspection


def _find_sif(data: bytes, codecs: Sequence[Codec], trailer: bytes | None) -> SifInfo | None:
    if trailer:
        if not data.endswith(trailer) or len(data) <= len(trailer):
            return None
        payload = data[: -len(trailer)]
        for c in codecs:
            name = _native.identify_sif_payload(c.native_id, payload)
            if name:
                return SifInfo(trailer.hex(), name, True)
        return SifInfo(trailer.hex(), None, True)
    # No trailer given: a known blank payload followed by up to 32 bytes.
    for n in range(1, min(_MAX_SIF_TRAILER, len(data) - 1) + 1):
        for c in codecs:
            name = _native.identify_sif_payload(c.native_id, data[:-n])
            if name:
                return SifInfo(data[-n:].hex(), name, False)
    return None


def _layout_reason(codec: Codec, data: bytes, header_len: int, escaped: bool, key_frame: bool | None) -> str:
    if codec is Codec.OPUS:
        return f"the Opus TOC byte stays clear ({_describe_toc(data[0])})" if data else "Opus: 1 byte"
    if codec is Codec.VP8:
        if header_len == 10:
            return "VP8 key frame: frame tag (3), start code 9d 01 2a and dimensions stay clear"
        return "VP8 delta frame: the 3-byte frame tag stays clear"
    if codec in (Codec.VP9, Codec.AV1):
        return f"{codec.value.upper()}: the whole frame is encrypted"
    if escaped and header_len >= 2:
        off = header_len - 2
        b = data[off] if off < len(data) else 0
        if codec is Codec.H265 or not _h264_is_slice(b):
            name = _H265_NAMES.get(_h265_type(b), "?")
            return (
                f"everything up to the first slice NAL unit ({name} at offset {off}), "
                "its 2-byte NAL header stays clear; the rest is RBSP-escaped"
            )
        name = _H264_NAMES.get(_h264_type(b), "?")
        return (
            f"everything up to the first slice NAL unit ({name} at offset {off}), "
            "its NAL header and 1 slice-header byte stay clear; the rest is RBSP-escaped"
        )
    if header_len == 0:
        return "no slice NAL unit: native sender rule, whole frame encrypted and escaped" if escaped else "0"
    return (
        f"no slice NAL unit found: livekit-client falls back to the VP8 rule ({header_len} bytes, "
        f"{'key' if header_len == 10 else 'delta'} frame), no escaping"
    )


def _key_frame_of(codec: Codec | None, data: bytes, header_len: int | None) -> tuple[bool | None, str]:
    if codec is Codec.VP8 and data:
        return (data[0] & 1) == 0, "VP8 frame tag bit 0"
    if codec in (Codec.H264, Codec.H265):
        units, _ = _native.find_nal_units(data)
        for off, b in units:
            if header_len is not None and off >= header_len:
                break
            if codec is Codec.H264 and _h264_type(b) == 5:
                return True, "IDR slice"
            if codec is Codec.H265 and 16 <= _h265_type(b) <= 21:
                return True, "IRAP slice (IDR/CRA/BLA)"
            if (codec is Codec.H264 and _h264_is_slice(b)) or (codec is Codec.H265 and _h265_is_slice(b)):
                return False, "non-IDR slice"
        return None, "no slice in the clear"
    if codec is Codec.OPUS:
        return None, "audio"
    return None, "not visible (encrypted)"


def inspect_frame(
    frame: Any,
    *,
    codec: Codec | str | None = None,
    key_frame: bool | None = None,
    keys: Iterable[KeyCandidate | bytes | str] = (),
    kdfs: Sequence[KeyDerivationFunction] = (KeyDerivationFunction.PBKDF2,),
    salt: bytes | str = DEFAULT_RATCHET_SALT,
    ratchets: int = 0,
    key_sizes: Sequence[int] = (16, 32),
    sif_trailer: bytes | None = None,
    search: KeySearch | None = None,
) -> FrameInspection:
    """Explains one received frame and tries the candidate keys on it.

    ``codec=None`` guesses the codec from the bytes (and, when a key opens the frame,
    from the layout that authenticated). ``keys`` are :class:`KeyCandidate` objects,
    or bytes (raw material) / str (passphrase); each is tried with every KDF in
    ``kdfs``, ratcheted 0..``ratchets`` times, as AES-128 and AES-256. A prepared
    ``search`` (:class:`KeySearch`) can be passed instead to reuse its derived keys.
    """
    data = _native.as_bytes(frame)
    notes: list[str] = []
    given = Codec.parse(codec) if codec is not None else None

    # LKTS packet trailer: appended in the clear after encryption.
    packet_trailer = None
    parsed = _native.parse_packet_trailer(data) if data else None
    if parsed is not None:
        size, ts, fid, ud = parsed
        packet_trailer = PacketTrailerInfo(len(data) - size, ts, fid, ud)
        data = data[:size]

    if given is not None:
        guess = CodecGuess(given, Confidence.GIVEN, "given")
    else:
        guess = guess_codec(data)

    if search is None:
        candidates = [
            k
            if isinstance(k, KeyCandidate)
            else KeyCandidate.passphrase(k)
            if isinstance(k, str)
            else KeyCandidate(bytes(k), "bytes")
            for k in keys
        ]
        search = KeySearch(candidates, kdfs=kdfs, salt=salt, ratchets=ratchets, key_sizes=key_sizes)

    all_codecs = [Codec.OPUS, Codec.VP8, Codec.VP9, Codec.H264, Codec.H265]
    sif_codecs = (
        [given]
        if given
        else ([guess.codec] if guess.codec else []) + [c for c in all_codecs if c is not guess.codec]
    )
    sif = _find_sif(data, sif_codecs, sif_trailer) if data else None

    trailer_ok = len(data) >= _OVERHEAD and data[-2] == _IV
    iv_length_byte = data[-2] if len(data) >= 2 else None
    key_index = data[-1] if len(data) >= 1 else None
    if not data:
        notes.append("empty frame: passed through unchanged by every receiver")
    elif len(data) < _OVERHEAD:
        notes.append(f"{len(data)} bytes is shorter than the 30-byte LiveKit overhead (tag, IV, trailer)")
    elif not trailer_ok:
        notes.append(
            f"the IV length byte (second to last) is 0x{data[-2]:02x}, not 0x0c: not a LiveKit-encrypted frame "
            "(plaintext, or the frame was cut or extended)"
        )

    # Keys: try them (the given or guessed codec first, then the others unless given).
    match: KeyMatch | None = None
    if search.candidates and trailer_ok and (sif is None or sif.payload is None):
        order = (
            [given]
            if given
            else ([guess.codec] if guess.codec else []) + [c for c in all_codecs if c is not guess.codec]
        )
        try:
            match = search.open(data, order, key_frame)
        except E2EEError as e:
            notes.append(f"cannot decrypt: {e}")

    codec_final = guess.codec
    confidence, reason = guess.confidence, guess.reason
    if match is not None and given is None:
        decided = match.codec
        if decided in (Codec.VP9, Codec.AV1) and match.header_len == 0:
            decided = _plaintext_codec(match.plaintext) or decided
            which = decided.value if decided else "?"
            reason = f"whole frame encrypted (VP9/AV1 rule); the decrypted frame starts like {which}"
            codec_final, confidence = decided, Confidence.HIGH
        else:
            layout = (match.header_len, match.escaped)
            same = [
                c.value
                for c in all_codecs
                if c is not decided and layout in _native.receiver_layouts(c.native_id, data, -1)
            ]
            also = f" (the {' / '.join(same)} rules give the same layout)" if same else ""
            if decided is guess.codec:
                reason = f"{guess.reason}; confirmed: its layout authenticated with the key"
                confidence = Confidence.HIGH
            else:
                reason = f"the {decided.value if decided else '?'} layout authenticated with the key{also}"
                confidence = Confidence.MEDIUM if same else Confidence.HIGH
            codec_final = decided

    # Layout: the one that authenticated, else the first one a receiver tries.
    header_len: int | None = None
    escaped = False
    layout_reason = "unknown codec: pass --codec (or a key) to locate the clear header"
    if match is not None:
        header_len, escaped = match.header_len, match.escaped
    elif codec_final is not None and data:
        layouts = _native.receiver_layouts(
            codec_final.native_id, data, -1 if key_frame is None else int(key_frame)
        )
        if layouts:
            header_len, escaped = int(layouts[0][0]), bool(layouts[0][1])
    if codec_final is not None and header_len is not None:
        layout_reason = _layout_reason(codec_final, data, header_len, escaped, key_frame)
        if match is None and codec_final in (Codec.H264, Codec.H265):
            layout_reason += " (first layout a receiver tries; not confirmed by a key)"

    units: list[NalUnit] = []
    leading = False
    if codec_final in (Codec.H264, Codec.H265) or (codec_final is None and _starts_with_start_code(data)):
        units, leading = _nal_units(data, codec_final or Codec.H264, header_len)
        if leading:
            notes.append("data before the first start code: livekit-client refuses such H.26x frames")
        if header_len is not None and header_len > 255:
            notes.append(
                f"clear header of {header_len} bytes: a native (C++) SDK sender keeps this length in one "
                "byte (mod 256), so no receiver could decrypt such a frame from it; livekit-client and "
                "framecryptor use the exact length"
            )

    rbsp_escapes = 0
    ciphertext_len = tag = iv = None
    if trailer_ok and header_len is not None and header_len + _OVERHEAD <= len(data):
        body = data[header_len:]
        if escaped:
            unescaped = _native.rbsp_unescape(body)
            rbsp_escapes = len(body) - len(unescaped)
            body = unescaped
        if len(body) >= _OVERHEAD:
            ciphertext_len = len(body) - _OVERHEAD
            tag = body[-_OVERHEAD : -_IV - _TRAILER].hex()
            iv = describe_iv(body[-_IV - _TRAILER : -_TRAILER])
    elif trailer_ok:
        iv = describe_iv(data[-_IV - _TRAILER : -_TRAILER])

    key_frame_value, key_frame_reason = (
        (key_frame, "given") if key_frame is not None else _key_frame_of(codec_final, data, header_len)
    )
    if sif is not None and sif.payload is not None:
        notes.append(
            f"server-injected frame ({sif.payload}) with a {len(bytes.fromhex(sif.trailer))}-byte SIF trailer: "
            "not encrypted; receivers that know the room's SIF trailer strip it and forward the payload"
        )
    if search.candidates and trailer_ok and match is None and (sif is None or sif.payload is None):
        notes.append(f"none of the {search.combinations} candidate keys opened the frame")

    return FrameInspection(
        size=len(data),
        codec=codec_final,
        codec_confidence=confidence,
        codec_reason=reason,
        key_frame=key_frame_value,
        key_frame_reason=key_frame_reason,
        trailer_ok=trailer_ok,
        iv_length_byte=iv_length_byte,
        key_index=key_index if trailer_ok else None,
        clear_header_len=header_len,
        clear_header_reason=layout_reason,
        escaped=escaped,
        rbsp_escapes=rbsp_escapes,
        nal_units=tuple(units),
        leading_data=leading,
        ciphertext_len=ciphertext_len,
        tag=tag,
        iv=iv,
        sif=sif,
        packet_trailer=packet_trailer,
        match=match,
        keys_tried=search.combinations if trailer_ok else 0,
        notes=tuple(notes),
    )
