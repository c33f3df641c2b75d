"""``framecryptor inspect``: explain one frame and find the key that opens it."""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from ..inspect import FrameInspection, KeySearch, inspect_frame
from ..options import Codec
from .common import EXIT_INCOMPLETE, EXIT_OK, CliError
from .keys import add_debug_option, add_key_options, diagnose, key_options

__all__ = ["read_frame", "register", "render", "run"]

_HEX_RE = re.compile(r"^(0x)?[0-9a-fA-F\s:]+$")
_B64_RE = re.compile(r"^[A-Za-z0-9+/\-_\s]+={0,2}\s*$")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "inspect",
        help="explain one encrypted frame and find which key opens it",
        description="Shows what a frame is: codec guess, clear header length and why (NAL units with "
        "types), RBSP escapes, IV (and the SSRC / RTP timestamp / send count a LiveKit IV encodes), IV length "
        "byte, key index, SIF and LKTS trailers. With candidate keys it says which key, KDF, AES key size "
        "and ratchet step opens the frame, or that none does.",
        epilog="exit status: 0 described (and opened, when keys were given); 3 keys were given and none "
        "opened the frame; 1 bad input.",
    )
    p.add_argument(
        "frame",
        metavar="FRAME",
        help="the frame: hex, base64, a file holding it (raw bytes), or - for stdin",
    )
    p.add_argument(
        "--as",
        dest="input_format",
        choices=["auto", "hex", "base64", "file"],
        default="auto",
        help="how to read FRAME (default: a file if one exists by that name, else hex, else base64)",
    )
    p.add_argument(
        "--codec",
        type=_codec_arg,
        default=None,
        help="the codec (opus, vp8, vp9, av1, h264, h265); default: guessed from the bytes",
    )
    p.add_argument(
        "--frame-type",
        choices=["key", "delta"],
        default=None,
        help="key or delta frame (default: from the bitstream where it shows)",
    )
    add_key_options(p, kdf_both=True)
    p.add_argument(
        "--ratchets",
        type=_count_arg,
        default=0,
        metavar="N",
        help="also try each key ratcheted 1..N times (default: %(default)s)",
    )
    p.add_argument("--sif-trailer", metavar="HEX", default=None, help="the room's SIF trailer (hex)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        default=None,
        help="write the decrypted frame to FILE (when a key opens it)",
    )
    add_debug_option(p)
    p.set_defaults(func=run)


def _codec_arg(value: str) -> Codec:
    try:
        return Codec.parse(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _count_arg(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    if not 0 <= n <= 256:
        raise argparse.ArgumentTypeError(f"expected 0..256, got {n}")
    return n


def _parse_hex(text: str) -> bytes | None:
    t = text.strip()
    if not _HEX_RE.match(t):
        return None
    t = re.sub(r"[\s:]", "", t[2:] if t[:2].lower() == "0x" else t)
    if len(t) % 2:
        return None
    return bytes.fromhex(t)


def _parse_b64(text: str) -> bytes | None:
    t = "".join(text.split())
    if not t or not _B64_RE.match(t):
        return None
    t = t.replace("-", "+").replace("_", "/")
    t += "=" * (-len(t) % 4)
    try:
        return base64.b64decode(t, validate=True)
    except (binascii.Error, ValueError):
        return None


def read_frame(spec: str, how: str = "auto") -> tuple[bytes, str]:
    """The frame bytes named by FRAME, and how they were read ("file", "hex", "base64", "stdin")."""
    if spec == "-":
        raw = sys.stdin.buffer.read()
        if how in ("hex", "auto"):
            h = _parse_hex(raw.decode("ascii", "replace")) if raw.isascii() else None
            if h is not None:
                return h, "stdin (hex)"
            if how == "hex":
                raise CliError("stdin is not hex")
        if how in ("base64", "auto"):
            b = _parse_b64(raw.decode("ascii", "replace")) if raw.isascii() else None
            if b is not None:
                return b, "stdin (base64)"
            if how == "base64":
                raise CliError("stdin is not base64")
        return raw, "stdin (raw bytes)"
    if how == "file" or (how == "auto" and os.path.exists(spec)):
        path = Path(spec)
        try:
            return path.read_bytes(), f"file {spec}"
        except FileNotFoundError:
            raise CliError(f"{spec}: no such file") from None
        except IsADirectoryError:
            raise CliError(f"{spec}: is a directory") from None
        except OSError as e:
            raise CliError(f"{spec}: cannot read ({e.strerror})") from None
    if how in ("auto", "hex"):
        h = _parse_hex(spec)
        if h is not None:
            return h, "hex"
        if how == "hex":
            raise CliError("FRAME is not valid hex")
    b = _parse_b64(spec)
    # Words (a mistyped file name) are often valid base64 too: auto-detection wants padded
    # base64 (a multiple of 4 characters) of 16+ characters; --as base64 takes any.
    compact = "".join(spec.split())
    if b is not None and (how == "base64" or (len(compact) >= 16 and len(compact) % 4 == 0)):
        return b, "base64"
    if how == "base64":
        raise CliError("FRAME is not valid base64")
    raise CliError(f"FRAME is neither an existing file nor hex nor base64: {spec[:40]!r}")


def run(args: argparse.Namespace) -> int:
    frame, source = read_frame(args.frame, args.input_format)
    if not frame:
        raise CliError("the frame is empty")
    opts = key_options(args)
    sif = None
    if args.sif_trailer is not None:
        sif = _parse_hex(args.sif_trailer)
        if not sif:
            raise CliError("--sif-trailer is not valid hex")
    key_frame = None if args.frame_type is None else args.frame_type == "key"
    candidates = list(opts.keys) + list(opts.hex_readings)
    search = KeySearch(candidates, kdfs=opts.kdfs, salt=opts.salt, ratchets=args.ratchets)
    result = inspect_frame(frame, codec=args.codec, key_frame=key_frame, sif_trailer=sif, search=search)
    hint = None
    if (
        candidates
        and result.match is None
        and result.trailer_ok
        and (result.sif is None or not result.sif.payload)
    ):
        if args.codec is not None:
            codecs = [args.codec]
        else:
            codecs = ([result.codec] if result.codec else []) + [c for c in _ALL if c is not result.codec]
        hint = diagnose(frame, codecs, opts, ratchets=args.ratchets, key_frame=key_frame)
    if args.output and result.match is not None:
        Path(args.output).write_bytes(result.match.plaintext)
    if args.json:
        out = result.to_dict()
        out["source"] = source
        out["keys"] = {
            "candidates": [{"fingerprint": k.fingerprint, "source": k.source} for k in candidates],
            "kdfs": [k.name for k in opts.kdfs],
            "salt": opts.salt.decode("utf-8", "backslashreplace"),
            "ratchets": args.ratchets,
        }
        out["hint"] = hint
        print(json.dumps(out, indent=2))
    else:
        print(render(result, source=source, hint=hint, ratchets=args.ratchets, candidates=len(candidates)))
    if candidates and result.match is None:
        return EXIT_INCOMPLETE
    return EXIT_OK


_ALL = (Codec.OPUS, Codec.VP8, Codec.VP9, Codec.H264, Codec.H265)


def render(
    r: FrameInspection,
    *,
    source: str = "",
    hint: str | None = None,
    ratchets: int = 0,
    candidates: int = 0,
) -> str:
    """The inspection as text, one fact per line."""
    lines: list[str] = []
    add = lines.append
    add(f"frame        {r.size} bytes" + (f" ({source})" if source else ""))
    if r.codec is None:
        add(f"codec        unknown: {r.codec_reason}")
    else:
        add(f"codec        {r.codec.value} ({r.codec_confidence.value}: {r.codec_reason})")
    if r.key_frame is not None:
        add(f"frame type   {'key' if r.key_frame else 'delta'} ({r.key_frame_reason})")
    if r.nal_units:
        add(
            f"NAL units    {len(r.nal_units)}"
            + (" (data before the first start code)" if r.leading_data else "")
        )
        for u in r.nal_units:
            where = "clear" if u.clear else "in the encrypted part"
            add(f"  @{u.offset:<6} type {u.type:2} {u.name:22} {where}")
    if r.clear_header_len is not None:
        n = r.clear_header_len
        add(f"clear header {n} byte{'s' if n != 1 else ''}: {r.clear_header_reason}")
    else:
        add(f"clear header ?: {r.clear_header_reason}")
    if r.escaped:
        n = r.rbsp_escapes
        add(f"RBSP escapes {n} emulation-prevention byte{'s' if n != 1 else ''} in the encrypted part")
    if r.ciphertext_len is not None:
        add(f"ciphertext   {r.ciphertext_len} bytes + 16-byte tag {r.tag}")
    if r.iv is not None:
        add(f"IV           {r.iv.hex}: {r.iv.describe()}")
    if r.iv_length_byte is not None:
        ok = "ok" if r.iv_length_byte == 12 else "NOT 12: not a LiveKit-encrypted frame"
        add(f"IV length    0x{r.iv_length_byte:02x} ({ok})")
    if r.key_index is not None:
        add(f"key index    {r.key_index}")
    if r.sif is not None:
        how = "given" if r.sif.trailer_given else "found by its payload"
        what = f"payload {r.sif.payload}" if r.sif.payload else "payload NOT allow-listed: receivers drop it"
        add(f"SIF trailer  {r.sif.trailer} ({how}); {what}")
    else:
        add("SIF trailer  none")
    if r.packet_trailer is not None:
        pt = r.packet_trailer
        fields = [f"{pt.length} bytes"]
        if pt.user_timestamp is not None:
            fields.append(f"user timestamp {pt.user_timestamp}")
        if pt.frame_id is not None:
            fields.append(f"frame id {pt.frame_id}")
        if pt.user_data is not None:
            fields.append(f"user data {pt.user_data.hex()}")
        add("LKTS trailer " + ", ".join(fields))
    else:
        add("LKTS trailer none")
    if candidates:
        if r.match is not None:
            m = r.match
            add(
                f"key          OPENS with {m.describe()} at key index {m.key_index}: "
                f"{len(m.plaintext)} bytes of plaintext ({m.plaintext[:8].hex()}…)"
            )
        elif r.keys_tried:
            add(
                f"key          none of {candidates} key(s) opens it "
                f"({r.keys_tried} combinations: KDF x ratchets 0..{ratchets} x AES-128/256)"
            )
        else:
            add("key          not tried (the frame has no LiveKit trailer)")
    for note in r.notes:
        if note.startswith("none of the"):
            continue
        add(f"note         {note}")
    if hint:
        add(f"hint         {hint}")
    return "\n".join(lines)
