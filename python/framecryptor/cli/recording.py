"""``framecryptor decrypt-recording``: decrypt a recording of an E2EE track.

LiveKit's track egress writes an E2EE track's frames as they arrive: encrypted. This
command reads such a recording, decrypts every frame with the given key(s) and writes a
playable file in the same container, packet by packet (memory does not grow with the
file), keeping timestamps.

Containers and codecs (demuxed and muxed with PyAV, stream copy):

- IVF: VP8, VP9, AV1
- Ogg: Opus
- WebM / Matroska: VP8, VP9, Opus (also H.264/H.265 stored length-prefixed)
- MP4 / MOV: H.264, H.265 (samples are length-prefixed NAL units: they are turned into
  the Annex-B frame a LiveKit receiver sees before decryption and back afterwards)
- raw Annex-B H.264 / H.265 (``.h264 .264 .h265 .265 .hevc``): split into frames here,
  not by FFmpeg's parser, because the encrypted slice header defeats it; every encrypted
  frame ends with its first slice NAL unit, so each slice NAL unit ends a frame (a rare
  frame without any slice NAL unit merges with the next one and fails)

Keys: each key index seen in the trailers is bound to the first candidate key (and ratchet
step within the window) that opens a frame with that index; later frames decrypt through
a key provider so the ratchet window moves with the sender's ratchets.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import math
import os
import secrets
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from .. import _native
from ..cryptor import FrameCryptor
from ..exceptions import DecryptionError, E2EEError, InvalidFrameError, MissingKeyError, SifFrameDroppedError
from ..inspect import KeyMatch, KeySearch
from ..keys import KeyProvider
from ..options import DEFAULT_RATCHET_WINDOW_SIZE, Codec, KeyProviderOptions
from .common import EXIT_INCOMPLETE, EXIT_OK, CliError, Progress
from .keys import KeyOptions, add_debug_option, add_key_options, diagnose, key_options

__all__ = [
    "FrameDecryptor",
    "FrameOutcome",
    "RecordingSummary",
    "StreamSummary",
    "decrypt_recording",
    "register",
    "run",
]

#: PyAV codec names (canonical) of the codecs LiveKit E2EE encrypts.
_PYAV_CODECS = {
    "vp8": Codec.VP8,
    "vp9": Codec.VP9,
    "av1": Codec.AV1,
    "h264": Codec.H264,
    "hevc": Codec.H265,
    "opus": Codec.OPUS,
}
_ANNEXB_EXTS = {
    ".h264": Codec.H264,
    ".264": Codec.H264,
    ".avc": Codec.H264,
    ".h265": Codec.H265,
    ".265": Codec.H265,
    ".hevc": Codec.H265,
}
_SUPPORTED = (
    "IVF (VP8, VP9, AV1), Ogg (Opus), WebM/Matroska (VP8, VP9, Opus), MP4/MOV (H.264, H.265), "
    "raw Annex-B .h264/.h265"
)
_CHUNK = 1 << 16


# ---------------------------------------------------------------------------
# frame decryption with candidate keys


@dataclasses.dataclass(frozen=True)
class FrameOutcome:
    """What happened to one frame: "decrypted", "passthrough" (empty or server-injected
    frame, not encrypted) or "failed"; ``data`` is what to write (None when failed)."""

    kind: str
    data: bytes | None
    key_index: int | None = None
    ratchet_steps: int = 0
    reason: str = ""


class FrameDecryptor:
    """Decrypts one participant's frames with candidate keys.

    A key index is bound to the candidate (and ratchet step, within the window) that
    opens its first frame; from then on frames go through a :class:`KeyProvider` and
    :class:`FrameCryptor`, so the ratchet window follows the sender's ratchets. A bound
    key that stops working is searched for again among the candidates (a new key set at
    the same index).
    """

    def __init__(
        self, keys: KeyOptions, *, ratchet_window: int = DEFAULT_RATCHET_WINDOW_SIZE, sif_trailer: bytes = b""
    ) -> None:
        if not keys.keys:
            raise CliError("no key given: use --key TEXT (passphrase) or --key-hex HEX")
        self.keys = keys
        self.ratchet_window = ratchet_window
        self.sif_trailer = bytes(sif_trailer)
        self.search = KeySearch(keys.keys, kdfs=keys.kdfs[:1], salt=keys.salt, ratchets=ratchet_window)
        self.identity = keys.participant if keys.participant is not None else "recording"
        self._kp: KeyProvider | None = None
        self._cryptors: dict[Codec, FrameCryptor] = {}
        self._cores: dict[Codec, _native.FrameCryptorCore] = {}
        self.bindings: dict[int, KeyMatch] = {}  # key index -> the match that bound it (latest)

    def _provider(self, key_size: int) -> KeyProvider:
        if self._kp is None:
            self._kp = KeyProvider(
                KeyProviderOptions(
                    ratchet_salt=self.keys.salt,
                    ratchet_window_size=self.ratchet_window,
                    key_ring_size=256,
                    key_derivation_function=self.keys.kdf,
                    key_size=key_size,
                    # Offline, thousands of frames a second: no flood to defend against.
                    ratchet_search_rate=math.inf,
                )
            )
            if self.sif_trailer:
                self._kp.set_sif_trailer(self.sif_trailer)
        return self._kp

    def _bind(self, codec: Codec, m: KeyMatch) -> None:
        kp = self._provider(m.key_size)
        if kp.options.key_size != m.key_size:
            return  # a second AES key size in one file: decrypted by search, not bound
        if self.keys.participant is not None:
            kp.set_key(self.keys.participant, m.material, m.key_index)
        else:
            kp.set_shared_key(m.material, m.key_index)
        self.bindings[m.key_index] = m

    def _cryptor(self, codec: Codec) -> FrameCryptor | None:
        if self._kp is None:
            return None
        c = self._cryptors.get(codec)
        if c is None:
            c = self._cryptors[codec] = FrameCryptor(self._kp, self.identity, codec, packet_trailer=True)
        return c

    def decrypt(self, codec: Codec, data: bytes) -> FrameOutcome:
        """Decrypts one frame as received (Annex-B for H.264/H.265)."""
        if not data:
            return FrameOutcome("passthrough", data, reason="empty frame")
        outcome = self._decrypt(codec, data)
        if outcome.kind == "failed" and data[-1:] == b"\x0c" and codec in (Codec.H264, Codec.H265):
            # Key index 0 read as part of a following 4-byte start code (raw Annex-B).
            retry = self._decrypt(codec, data + b"\x00")
            if retry.kind != "failed":
                return retry
        return outcome

    def _decrypt(self, codec: Codec, data: bytes) -> FrameOutcome:
        cryptor = self._cryptor(codec)
        if cryptor is not None:
            try:
                f = cryptor.decrypt_frame(data)
            except (MissingKeyError, DecryptionError):
                pass  # unbound index, or the bound key no longer opens it: search
            except SifFrameDroppedError:
                return FrameOutcome("failed", None, reason="server-injected frame not on the allow-list")
            except E2EEError as e:  # malformed frame (too short, bad trailer, ...)
                return FrameOutcome("failed", None, reason=str(e))
            else:
                if f.kind == "decrypted":
                    return FrameOutcome("decrypted", f.data, f.key_index, f.ratchet_steps)
                return FrameOutcome(
                    "passthrough",
                    f.data,
                    reason=f"server-injected {f.sif_payload}" if f.kind == "sif" else f.kind,
                )
        # Not bound yet (or stopped working): strip an LKTS trailer, handle SIF, search.
        frame = data
        parsed = _native.parse_packet_trailer(frame)
        if parsed is not None:
            frame = frame[: parsed[0]]
            if not frame:
                return FrameOutcome("passthrough", frame, reason="empty frame")
        if self.sif_trailer and frame.endswith(self.sif_trailer):
            payload = frame[: -len(self.sif_trailer)]
            name = _native.identify_sif_payload(codec.native_id, payload)
            if name:
                return FrameOutcome("passthrough", payload, reason=f"server-injected {name}")
            return FrameOutcome("failed", None, reason="server-injected frame not on the allow-list")
        try:
            m = self.search.open(frame, [codec], None, cores=self._cores)
        except InvalidFrameError as e:  # no LiveKit trailer: no key index either
            return FrameOutcome("failed", None, reason=str(e))
        if m is None:
            return FrameOutcome("failed", None, key_index=frame[-1], reason="no key opens it")
        self._bind(codec, m)
        return FrameOutcome("decrypted", m.plaintext, m.key_index, m.ratchet_steps)


# ---------------------------------------------------------------------------
# summaries


@dataclasses.dataclass
class StreamSummary:
    """Counts for one stream of the recording."""

    index: int
    codec: Codec
    frames: int = 0
    decrypted: int = 0
    passed_through: int = 0
    failed: int = 0
    written: int = 0
    key_indexes: set[int] = dataclasses.field(default_factory=set)
    failed_key_indexes: set[int] = dataclasses.field(default_factory=set)
    failed_without_trailer: int = 0  # failed frames with no readable LiveKit trailer
    ratchets: int = 0  # frames that needed the ratchet window
    first_failure: str = ""
    first_failed_frame: bytes = dataclasses.field(default=b"", repr=False)

    def count(self, o: FrameOutcome, frame: bytes) -> None:
        self.frames += 1
        if o.kind == "decrypted":
            self.decrypted += 1
            if o.key_index is not None:
                self.key_indexes.add(o.key_index)
            if o.ratchet_steps:
                self.ratchets += 1
        elif o.kind == "passthrough":
            self.passed_through += 1
        else:
            self.failed += 1
            if o.key_index is not None:
                self.failed_key_indexes.add(o.key_index)
            else:
                self.failed_without_trailer += 1
            if not self.first_failure:
                self.first_failure = o.reason
                self.first_failed_frame = frame

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "codec": self.codec.value,
            "frames": self.frames,
            "decrypted": self.decrypted,
            "passed_through": self.passed_through,
            "failed": self.failed,
            "written": self.written,
            "key_indexes": sorted(self.key_indexes),
            "failed_key_indexes": sorted(self.failed_key_indexes),
            "ratcheted_frames": self.ratchets,
            "first_failure": self.first_failure or None,
        }


@dataclasses.dataclass
class RecordingSummary:
    """What decrypt-recording did."""

    input: str
    output: str
    container: str
    streams: list[StreamSummary]
    keys: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    truncated: str | None = None  # why reading stopped early
    timestamps_adjusted: int = 0  # frames whose non-increasing timestamps were moved up by one tick

    @property
    def decrypted(self) -> int:
        return sum(s.decrypted for s in self.streams)

    @property
    def failed(self) -> int:
        return sum(s.failed for s in self.streams)

    @property
    def passed_through(self) -> int:
        return sum(s.passed_through for s in self.streams)

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "output": self.output,
            "container": self.container,
            "frames_decrypted": self.decrypted,
            "frames_failed": self.failed,
            "frames_passed_through": self.passed_through,
            "streams": [s.to_dict() for s in self.streams],
            "keys": self.keys,
            "truncated": self.truncated,
            "timestamps_adjusted": self.timestamps_adjusted,
        }

    def render(self) -> str:
        lines = [f"{self.input} -> {self.output} ({self.container})"]
        for s in self.streams:
            idx = ", ".join(str(i) for i in sorted(s.key_indexes)) or "none"
            extra = f", {s.ratchets} needed the ratchet window" if s.ratchets else ""
            lines.append(
                f"  stream #{s.index} {s.codec.value}: {s.frames} frames: {s.decrypted} decrypted, "
                f"{s.failed} failed, {s.passed_through} passed through; key indexes seen: {idx}{extra}"
            )
            if s.failed:
                failed_idx = ", ".join(str(i) for i in sorted(s.failed_key_indexes)) or "unreadable"
                lines.append(
                    f"    first failure: {s.first_failure}; key indexes of failed frames: {failed_idx}"
                )
        for k in self.keys:
            steps = f", ratcheted {k['ratchet_steps']}x" if k["ratchet_steps"] else ""
            lines.append(
                f"  key index {k['key_index']}: key {k['fingerprint']} ({k['source']}), {k['kdf']}, "
                f"{k['aes']}{steps}"
            )
        if self.timestamps_adjusted:
            lines.append(
                f"  {self.timestamps_adjusted} frame(s) had a timestamp not after the previous one: "
                "moved up by one tick"
            )
        lines.append(
            f"total: {self.decrypted} decrypted, {self.failed} failed, {self.passed_through} passed through"
        )
        return "\n".join(lines)


# ---------------------------------------------------------------------------
# NAL unit framing


def nal_length_size(codec: Codec, extradata: bytes | None) -> int | None:
    """Bytes of each NAL unit's length prefix (from avcC / hvcC), None for Annex-B."""
    if codec not in (Codec.H264, Codec.H265) or not extradata or extradata[0] != 1:
        return None
    if codec is Codec.H264 and len(extradata) >= 7:
        return (extradata[4] & 3) + 1
    if codec is Codec.H265 and len(extradata) >= 23:
        return (extradata[21] & 3) + 1
    return 4


def length_prefixed_to_annexb(data: bytes, n: int) -> bytes:
    """Length-prefixed NAL units as the Annex-B frame a receiver sees (4-byte start codes)."""
    out = bytearray()
    i, end = 0, len(data)
    while i < end:
        if i + n > end:
            raise InvalidFrameError("truncated NAL unit length prefix")
        size = int.from_bytes(data[i : i + n], "big")
        i += n
        if size == 0 or i + size > end:
            raise InvalidFrameError(f"NAL unit length {size} runs past the end of the sample")
        out += b"\x00\x00\x00\x01"
        out += data[i : i + size]
        i += size
    return bytes(out)


def annexb_to_length_prefixed(data: bytes, n: int) -> bytes:
    """An Annex-B frame as length-prefixed NAL units (FFmpeg's splitting rules)."""
    out = bytearray()
    limit = 1 << (8 * n)
    start = data.find(b"\x00\x00\x01")
    if start < 0:
        units = [data]
    else:
        units = []
        pos = start + 3
        while True:
            nxt = data.find(b"\x00\x00\x01", pos)
            if nxt < 0:
                units.append(data[pos:])
                break
            end = nxt - 1 if nxt - 1 >= pos and data[nxt - 1] == 0 else nxt
            units.append(data[pos:end])
            pos = nxt + 3
    for u in units:
        if not u:
            continue
        if len(u) >= limit:
            raise InvalidFrameError(f"NAL unit of {len(u)} bytes does not fit a {n}-byte length")
        out += len(u).to_bytes(n, "big")
        out += u
    return bytes(out)


def _is_vcl(codec: Codec, header: int) -> bool:
    if codec is Codec.H264:
        return (header & 0x1F) in (1, 5)
    return ((header >> 1) & 0x3F) < 32


def iter_annexb_frames(f: BinaryIO, codec: Codec, chunk_size: int = _CHUNK) -> Iterator[tuple[bytes, int]]:
    """(frame, file offset after it) for each frame of a raw Annex-B stream of encrypted frames.

    An encrypted LiveKit frame shows exactly one slice NAL unit: the first one, whose
    encrypted remainder (RBSP-escaped) holds no start code. So a frame is a run of
    non-slice NAL units ended by one slice NAL unit. Reads ``chunk_size`` bytes at a
    time and keeps only the frame in progress.
    """
    buf = bytearray()
    consumed = 0  # file offset of buf[0]
    au_start = 0  # start of the frame in progress, in buf
    pos = 0  # where the next start code search begins
    prev_vcl = False
    eof = False
    while True:
        i = buf.find(b"\x00\x00\x01", pos)
        if i < 0 or i + 3 >= len(buf):  # no start code, or its NAL header byte not read yet
            if eof:
                break
            if i < 0:
                pos = max(pos, len(buf) - 2)  # a start code may straddle the chunk boundary
            chunk = f.read(chunk_size)
            if not chunk:
                eof = True
                continue
            if au_start:  # forget what was emitted
                del buf[:au_start]
                consumed += au_start
                pos -= au_start
                au_start = 0
            buf += chunk
            continue
        sc = i - 1 if i > au_start and buf[i - 1] == 0 else i  # 4-byte start code
        if prev_vcl and sc > au_start:
            yield bytes(buf[au_start:sc]), consumed + sc
            au_start = sc
        prev_vcl = _is_vcl(codec, buf[i + 3])
        pos = i + 3
    rest = bytes(buf[au_start:])
    if rest.strip(b"\x00"):
        yield rest, consumed + len(buf)


# ---------------------------------------------------------------------------
# containers


def _import_av() -> Any:
    try:
        import av
    except ImportError:
        raise CliError("decrypt-recording needs PyAV: pip install 'framecryptor[recording]'") from None
    return av


def _family(format_name: str) -> str:
    names = set(format_name.split(","))
    if "ivf" in names:
        return "ivf"
    if "ogg" in names:
        return "ogg"
    if names & {"matroska", "webm"}:
        return "matroska"
    if names & {"mov", "mp4"}:
        return "mp4"
    if names & {"h264", "hevc"}:
        return "annexb"
    return format_name


_OUTPUT_FORMATS = {
    "ivf": {".ivf": "ivf"},
    "ogg": {".ogg": "ogg", ".opus": "ogg", ".oga": "ogg"},
    "matroska": {".webm": "webm", ".mkv": "matroska", ".mka": "matroska"},
    "mp4": {".mp4": "mp4", ".m4v": "mp4", ".m4a": "mp4", ".mov": "mov"},
}
_DEFAULT_OUTPUT = {"ivf": "ivf", "ogg": "ogg", "matroska": "matroska", "mp4": "mp4"}


def _output_format(family: str, src: Path, dst: Path, codecs: list[Codec]) -> str:
    table = _OUTPUT_FORMATS[family]
    ext = dst.suffix.lower()
    if ext in table:
        fmt = table[ext]
    elif ext and any(ext in t for t in _OUTPUT_FORMATS.values()):
        wanted = "/".join(sorted(table))
        raise CliError(f"the output must be in the input's container ({family}): name it {wanted}")
    else:
        fmt = table.get(src.suffix.lower(), _DEFAULT_OUTPUT[family])
    if fmt == "webm" and any(c in (Codec.H264, Codec.H265) for c in codecs):
        fmt = "matroska"
    return fmt


_IVF_FOURCC = {b"VP80": Codec.VP8, b"VP90": Codec.VP9, b"AV01": Codec.AV1}


@dataclasses.dataclass(frozen=True)
class _IvfCodec:
    """The codec of an IVF file opened with its FourCC hidden from FFmpeg."""

    codec: Codec
    width: int
    height: int
    source: io.RawIOBase | None = dataclasses.field(default=None, compare=False)


class _HiddenFourcc(io.RawIOBase):
    """An IVF file whose FourCC reads as ``XXXX``: FFmpeg then demuxes its frames without
    looking into them. Probing an encrypted AV1 IVF otherwise fails (FFmpeg parses the
    frames' OBUs to find the codec's configuration, and ciphertext has none)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._f = path.open("rb")

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def readinto(self, b: Any) -> int:
        pos = self._f.tell()
        data = self._f.read(len(b))
        if pos < 12 and pos + len(data) > 8:
            patched = bytearray(data)
            for i in range(max(8, pos), min(12, pos + len(data))):
                patched[i - pos] = ord("X")
            data = bytes(patched)
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._f.close()
        super().close()


def _ivf_header(src: Path) -> _IvfCodec | None:
    with src.open("rb") as f:
        head = f.read(32)
    if len(head) < 32 or head[:4] != b"DKIF" or head[8:12] not in _IVF_FOURCC:
        return None
    w, h = struct.unpack("<HH", head[12:16])
    return _IvfCodec(_IVF_FOURCC[head[8:12]], w, h)


def _open_input(av: Any, src: Path) -> tuple[Any, _IvfCodec | None]:
    """Opens src with PyAV; for an IVF file FFmpeg cannot probe (encrypted AV1), opens it
    with its FourCC hidden and returns the real codec beside the container."""
    last: Exception | None = None
    for options in ({}, {"probesize": "32", "analyzeduration": "0"}):
        try:
            return av.open(str(src), container_options=options), None
        except av.error.FFmpegError as e:
            last = e
    ivf = _ivf_header(src)
    if ivf is not None:
        raw = _HiddenFourcc(src)
        try:
            return av.open(raw, format="ivf"), dataclasses.replace(ivf, source=raw)
        except av.error.FFmpegError as e:
            raw.close()
            last = e
    reason = _av_reason(last)
    with src.open("rb") as f:
        head = f.read(12)
    if isinstance(last, av.error.EOFError):
        reason = "it ends before its first frame (truncated?)"
    elif head[4:8] == b"ftyp":
        reason = (
            f"an MP4 whose index (moov) is missing or cut: truncated, or its writer did not finish ({reason})"
        )
    raise CliError(f"{src}: cannot open as a recording: {reason} (supported: {_SUPPORTED})")


def _av_reason(e: Exception | None) -> str:
    if e is None:
        return "unknown error"
    text = getattr(e, "strerror", None) or str(e)
    log = getattr(e, "log", None)
    if log and isinstance(log, tuple) and len(log) >= 3 and log[2]:
        text = f"{text} ({str(log[2]).strip()})"
    return str(text)


def _stream_codec(stream: Any) -> tuple[Codec | None, str]:
    cc = stream.codec_context
    if cc is None:
        return None, "unknown"
    name = getattr(cc.codec, "canonical_name", None) or cc.name
    aliases = {
        "libvpx": "vp8",
        "libvpx-vp9": "vp9",
        "libdav1d": "av1",
        "libaom-av1": "av1",
        "libopus": "opus",
    }
    name = aliases.get(name, name)
    return _PYAV_CODECS.get(name), name


@contextlib.contextmanager
def _captured_av_logs(av: Any, debug: bool) -> Iterator[list[tuple[int, str, str]]]:
    """Collects FFmpeg's error messages instead of printing them (probing the encrypted
    frames makes decoders log every frame as corrupt); with --debug they are printed after."""
    previous = av.logging.get_level()
    av.logging.set_level(av.logging.ERROR)
    try:
        with av.logging.Capture() as logs:
            yield logs
    finally:
        av.logging.set_level(previous)
        _drain_logs(logs, 0, set(), debug)


def _drain_logs(logs: list[tuple[int, str, str]], start: int, demuxer: set[str], debug: bool) -> str | None:
    """Empties logs[start:] (so memory stays flat); returns the first message of the demuxer."""
    found = None
    for _level, name, message in logs[start:]:
        if debug:
            print(f"[{name}] {message.rstrip()}", file=sys.stderr)
        if found is None and name in demuxer:
            found = message.strip()
    del logs[start:]
    return found


def _ogg_partial_page(path: Path) -> bool:
    """True when an Ogg file ends inside a page (its last page was cut): the demuxer
    drops such a page without a word. Looks for a page header whose page ends exactly
    at the end of the file."""
    size = path.stat().st_size
    with path.open("rb") as f:
        f.seek(max(0, size - (65536 + 282)))
        tail = f.read()
    i = tail.rfind(b"OggS")
    while i >= 0:
        if len(tail) - i >= 27 and tail[i + 4] == 0:
            nsegs = tail[i + 26]
            table = tail[i + 27 : i + 27 + nsegs]
            if len(table) == nsegs and i + 27 + nsegs + sum(table) == len(tail):
                return False
        i = tail.rfind(b"OggS", 0, i)
    return True


def _temp_output(dst: Path) -> Path:
    """A new empty file beside dst (created with the usual permissions), renamed to dst at the end."""
    for _ in range(100):
        path = dst.parent / f".{dst.name}.{secrets.token_hex(4)}.part"
        try:
            with path.open("xb"):
                return path
        except FileExistsError:
            continue
        except OSError as e:
            raise CliError(f"{dst.parent}: cannot write ({e.strerror})") from None
    raise CliError(f"{dst.parent}: cannot create a temporary file")  # pragma: no cover


def _key_report(dec: FrameDecryptor) -> list[dict[str, Any]]:
    return [
        {
            "key_index": i,
            "fingerprint": m.fingerprint,
            "source": m.source,
            "kdf": m.kdf.name,
            "aes": m.aes,
            "ratchet_steps": m.ratchet_steps,
        }
        for i, m in sorted(dec.bindings.items())
    ]


def decrypt_recording(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    keys: KeyOptions,
    *,
    ratchet_window: int = DEFAULT_RATCHET_WINDOW_SIZE,
    keep_undecryptable: bool = False,
    sif_trailer: bytes = b"",
    progress: bool | None = None,
    debug: bool = False,
) -> RecordingSummary:
    """Decrypts the recording src into dst (same container); returns what was done.

    Raises :class:`CliError` for input that cannot be read, and when no frame at all
    could be decrypted (dst is then not written).
    """
    src_p, dst_p = Path(src), Path(dst)
    if not src_p.exists():
        raise CliError(f"{src_p}: no such file")
    if src_p.is_dir():
        raise CliError(f"{src_p}: is a directory")
    if not os.access(src_p, os.R_OK):
        raise CliError(f"{src_p}: permission denied")
    if dst_p.exists() and dst_p.resolve() == src_p.resolve():
        raise CliError("the output must not be the input file")
    if dst_p.is_dir():
        raise CliError(f"{dst_p}: is a directory (give the output file name)")
    if not dst_p.parent.exists():
        raise CliError(f"{dst_p.parent}: no such directory")
    dec = FrameDecryptor(keys, ratchet_window=ratchet_window, sif_trailer=sif_trailer)
    raw_codec = _ANNEXB_EXTS.get(src_p.suffix.lower())
    if raw_codec is not None and any(dst_p.suffix.lower() in t for t in _OUTPUT_FORMATS.values()):
        raise CliError(f"the output must be raw Annex-B like the input: name it .{raw_codec.value}")
    tmp = _temp_output(dst_p)
    try:
        if raw_codec is not None:
            summary = _decrypt_annexb(src_p, dst_p, tmp, raw_codec, dec, keep_undecryptable, progress)
        else:
            av = _import_av()
            with _captured_av_logs(av, debug) as logs:
                summary = _decrypt_container(
                    av, src_p, dst_p, tmp, dec, keep_undecryptable, progress, logs, debug
                )
        summary.keys = _key_report(dec)
        encrypted = summary.decrypted + summary.failed
        if summary.decrypted == 0 and encrypted:
            raise CliError(_nothing_decrypted(summary, keys, ratchet_window))
        if summary.decrypted == 0 and summary.passed_through == 0 and summary.truncated:
            raise CliError(f"{src_p}: no frame could be read: {summary.truncated}")
        os.replace(tmp, dst_p)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return summary


def _nothing_decrypted(summary: RecordingSummary, keys: KeyOptions, window: int) -> str:
    s = next(x for x in summary.streams if x.failed)
    msg = (
        f"no frame could be decrypted ({summary.failed} failed: {s.first_failure}) with "
        f"{len(keys.keys)} key(s) [{', '.join(k.fingerprint for k in keys.keys)}], "
        f"{keys.kdf.name}, ratchet window {window}"
    )
    untrailered = sum(x.failed_without_trailer for x in summary.streams)
    if untrailered * 2 > summary.failed:
        return (
            msg + f"; {untrailered} of {summary.failed} frames carry no LiveKit E2EE trailer: "
            "is the recording encrypted at all?"
        )
    if s.first_failed_frame:
        hint = diagnose(
            s.first_failed_frame, [s.codec], keys, ratchets=window, ratchet_option="--ratchet-window"
        )
        if hint:
            return msg + f"; {hint}"
    return msg + "; wrong key, --kdf or --salt?"


def _decrypt_annexb(
    src: Path, dst: Path, tmp: Path, codec: Codec, dec: FrameDecryptor, keep: bool, progress: bool | None
) -> RecordingSummary:
    stream = StreamSummary(0, codec)
    summary = RecordingSummary(str(src), str(dst), f"raw Annex-B {codec.value}", [stream])
    total = src.stat().st_size
    bar = Progress(total, enabled=progress)
    last: FrameOutcome | None = None
    with src.open("rb") as f, tmp.open("wb") as out:
        offset = 0
        for frame, offset in iter_annexb_frames(f, codec):
            o = dec.decrypt(codec, frame)
            last = o
            stream.count(o, frame)
            data = o.data if o.data is not None else (frame if keep else None)
            if data:
                out.write(data)
                stream.written += 1
            bar.update(offset, stream.frames, stream.failed)
        bar.finish(offset, stream.frames, stream.failed)
    if last is not None and last.kind == "failed" and stream.decrypted:
        summary.truncated = "the last frame does not decrypt: the file may be truncated"
    return summary


def _decrypt_container(
    av: Any,
    src: Path,
    dst: Path,
    tmp: Path,
    dec: FrameDecryptor,
    keep: bool,
    progress: bool | None,
    logs: list[tuple[int, str, str]],
    debug: bool,
) -> RecordingSummary:
    inp, ivf = _open_input(av, src)
    try:
        family = _family(inp.format.name)
        if family != "annexb":
            return _remux(av, inp, ivf, family, src, dst, tmp, dec, keep, progress, logs, debug)
        codec = Codec.H265 if "hevc" in inp.format.name else Codec.H264
    finally:
        inp.close()
        if ivf is not None and ivf.source is not None:
            ivf.source.close()
    return _decrypt_annexb(src, dst, tmp, codec, dec, keep, progress)


def _remux(
    av: Any,
    inp: Any,
    ivf: _IvfCodec | None,
    family: str,
    src: Path,
    dst: Path,
    tmp: Path,
    dec: FrameDecryptor,
    keep: bool,
    progress: bool | None,
    logs: list[tuple[int, str, str]],
    debug: bool,
) -> RecordingSummary:
    if family not in _OUTPUT_FORMATS:
        name = inp.format.long_name or inp.format.name
        raise CliError(f"{src}: {name} is not a supported container (supported: {_SUPPORTED})")
    streams = [s for s in inp.streams if s.type in ("video", "audio")]
    if not streams:
        raise CliError(f"{src}: no audio or video stream")
    codecs: list[Codec] = []
    for s in streams:
        codec, name = (ivf.codec, ivf.codec.value) if ivf is not None else _stream_codec(s)
        if codec is None:
            raise CliError(
                f"{src}: stream #{s.index} is {name}, not a codec LiveKit E2EE encrypts "
                "(opus, vp8, vp9, av1, h264, h265)"
            )
        codecs.append(codec)
    fmt = _output_format(family, src, dst, codecs)
    summaries = [StreamSummary(s.index, c) for s, c in zip(streams, codecs)]
    summary = RecordingSummary(str(src), str(dst), fmt, summaries)
    out = av.open(str(tmp), "w", format=fmt)
    try:
        ostreams: dict[int, Any] = {}
        lp_sizes: dict[int, int | None] = {}
        by_index: dict[int, tuple[Codec, StreamSummary]] = {}
        for s, c, ss in zip(streams, codecs, summaries):
            if ivf is not None:
                ostreams[s.index] = out.add_mux_stream(c.value, width=ivf.width, height=ivf.height)
                ostreams[s.index].time_base = s.time_base
                lp_sizes[s.index] = None
            else:
                ostreams[s.index] = out.add_stream_from_template(s, opaque=True)
                lp_sizes[s.index] = nal_length_size(c, s.codec_context.extradata)
            by_index[s.index] = (c, ss)
        bar = Progress(src.stat().st_size, enabled=progress)
        done = 0
        logs_before = len(logs)
        demuxer = set(inp.format.name.split(",")) | {inp.format.name}
        complaint: str | None = None
        packets = inp.demux(*streams)
        last_dts: dict[int, int] = {}
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.error.FFmpegError as e:
                summary.truncated = f"reading stopped: {_av_reason(e)}"
                break
            if packet.size == 0:
                continue  # end-of-stream marker
            index = packet.stream_index
            codec, ss = by_index[index]
            raw = bytes(packet)
            data = _decrypt_packet(dec, codec, raw, lp_sizes[index], ss)
            if data is None and keep:
                data = raw
            if packet.is_corrupt:
                summary.truncated = "the last frame is incomplete: the file is truncated"
            if data:
                pts, dts = packet.pts, packet.dts
                if family != "mp4" and codec in (Codec.H264, Codec.H265):
                    # Matroska stores no decoding timestamps: the demuxer guessed these
                    # from the encrypted slice headers. The muxer derives them from pts.
                    dts = None
                prev = last_dts.get(index)
                if dts is not None and prev is not None and dts <= prev:
                    # Muxers refuse timestamps that do not increase (a recorder may have
                    # written two frames, e.g. a server-injected one, at the same time).
                    dts = prev + 1
                    pts = dts if pts is None or pts < dts else pts
                    summary.timestamps_adjusted += 1
                o = av.Packet(data)
                o.pts, o.dts, o.time_base = pts, dts, packet.time_base
                o.duration = packet.duration
                o.is_keyframe = packet.is_keyframe
                o.stream = ostreams[index]
                try:
                    out.mux(o)
                except av.error.FFmpegError as e:
                    raise CliError(
                        f"{dst}: cannot write frame {ss.frames} of stream #{index}: {_av_reason(e)}"
                    ) from None
                if dts is not None:
                    last_dts[index] = dts
                ss.written += 1
            if len(logs) > logs_before:
                complaint = complaint or _drain_logs(logs, logs_before, demuxer, debug)
            if packet.pos is not None and packet.pos >= 0:
                done = packet.pos + packet.size
            bar.update(done, sum(x.frames for x in summaries), summary.failed)
        bar.finish(done, sum(x.frames for x in summaries), summary.failed)
        complaint = complaint or _drain_logs(logs, logs_before, demuxer, debug)
        if complaint and not summary.truncated:
            summary.truncated = f"the file is truncated or damaged ({complaint})"
        if family == "ogg" and not summary.truncated and _ogg_partial_page(src):
            summary.truncated = "the file ends inside an Ogg page: it is truncated (the partial page is lost)"
    finally:
        out.close()
    return summary


def _decrypt_packet(
    dec: FrameDecryptor, codec: Codec, raw: bytes, lp_size: int | None, ss: StreamSummary
) -> bytes | None:
    """Decrypts one packet; returns what to write (None: failed)."""
    length_prefixed = lp_size is not None or (
        codec in (Codec.H264, Codec.H265) and not raw.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01"))
    )
    n = lp_size or 4
    try:
        frame = length_prefixed_to_annexb(raw, n) if length_prefixed else raw
    except InvalidFrameError as e:
        o = FrameOutcome("failed", None, reason=str(e))
        ss.count(o, raw)
        return None
    o = dec.decrypt(codec, frame)
    ss.count(o, frame)
    if o.data is None:
        return None
    if length_prefixed and o.data:
        try:
            return annexb_to_length_prefixed(o.data, n)
        except InvalidFrameError as e:  # pragma: no cover - a decrypted frame larger than its length field
            ss.decrypted -= 1
            ss.count(FrameOutcome("failed", None, reason=str(e)), frame)
            return None
    return o.data


# ---------------------------------------------------------------------------
# command line


def register(sub: Any) -> None:
    p = sub.add_parser(
        "decrypt-recording",
        help="decrypt a recording of an E2EE track (IVF, Ogg, WebM/Matroska, MP4, raw H.264/H.265)",
        description="Decrypts every frame of a recording of an E2EE track (as LiveKit's track egress "
        "writes it: the encrypted frames as they arrived) and writes a playable file in the same container, "
        "packet by packet, timestamps kept. Containers: " + _SUPPORTED + ". Each key index found in the "
        "frames is bound to the first given key (AES-128 or AES-256, within the ratchet window) that opens "
        "one of its frames; the window then follows the sender's ratchets.",
        epilog="exit status: 0 every frame decrypted (or passed through); 3 the output was written but some "
        "frames failed; 1 bad input (for a truncated file, what could be read is written), or no frame "
        "could be decrypted (nothing is written).",
    )
    p.add_argument("input", metavar="INPUT", help="the recording")
    p.add_argument("-o", "--output", metavar="OUTPUT", required=True, help="the decrypted file to write")
    add_key_options(p)
    p.add_argument(
        "--ratchet-window",
        type=int,
        default=DEFAULT_RATCHET_WINDOW_SIZE,
        metavar="N",
        help="ratchets tried ahead of a key that stops opening frames (default: %(default)s)",
    )
    p.add_argument("--sif-trailer", metavar="HEX", default=None, help="the room's SIF trailer (hex)")
    p.add_argument(
        "--keep-undecryptable",
        action="store_true",
        help="write frames that do not decrypt as they are (default: leave them out)",
    )
    p.add_argument(
        "--progress",
        action="store_true",
        default=None,
        help="show a progress bar even when stderr is not a terminal",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_debug_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    opts = key_options(args)
    if not 0 <= args.ratchet_window <= 256:
        raise CliError(f"--ratchet-window must be 0..256, got {args.ratchet_window}")
    sif = b""
    if args.sif_trailer is not None:
        try:
            sif = bytes.fromhex("".join(args.sif_trailer.split()))
        except ValueError:
            raise CliError("--sif-trailer is not valid hex") from None
    summary = decrypt_recording(
        args.input,
        args.output,
        opts,
        ratchet_window=args.ratchet_window,
        keep_undecryptable=args.keep_undecryptable,
        sif_trailer=sif,
        progress=args.progress,
        debug=args.debug,
    )
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        print(summary.render())
    if summary.truncated:
        raise CliError(f"{args.input}: {summary.truncated} (what could be read was written to {args.output})")
    if summary.failed:
        print(
            f"framecryptor decrypt-recording: {summary.failed} frame(s) could not be decrypted"
            + ("" if args.keep_undecryptable else " and were left out"),
            file=sys.stderr,
        )
        return EXIT_INCOMPLETE
    return EXIT_OK
