"""The key options every key-taking subcommand shares.

``--key TEXT`` (a passphrase: its UTF-8 bytes are the key material) and ``--key-hex HEX``
(raw material), both repeatable and kept in command-line order; ``--kdf``, ``--salt`` /
``--salt-hex`` and ``--participant``. These names are a public interface: scripts use them.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence

from ..exceptions import E2EEError
from ..inspect import KeyCandidate, KeySearch
from ..options import DEFAULT_RATCHET_SALT, Codec, KeyDerivationFunction
from .common import EXIT_USAGE, CliError

__all__ = ["KeyOptions", "add_debug_option", "add_key_options", "diagnose", "key_options"]

_KDFS = {"pbkdf2": KeyDerivationFunction.PBKDF2, "hkdf": KeyDerivationFunction.HKDF}
_WIDE_RATCHETS = 16


@dataclasses.dataclass(frozen=True)
class KeyOptions:
    """Parsed key options. ``keys`` keep the command-line order; ``hex_readings`` are the
    --key values that also parse as hex, read as raw material (inspect tries both)."""

    keys: tuple[KeyCandidate, ...]
    kdfs: tuple[KeyDerivationFunction, ...]
    salt: bytes
    participant: str | None
    hex_readings: tuple[KeyCandidate, ...] = dataclasses.field(default=(), repr=False)

    @property
    def kdf(self) -> KeyDerivationFunction:
        """The KDF (the first one when inspect was given ``--kdf both``)."""
        return self.kdfs[0]


def _text_key(value: str) -> tuple[str, str]:
    if not value:
        raise argparse.ArgumentTypeError("key must not be empty")
    return ("text", value)


def _hex_key(value: str) -> tuple[str, str]:
    # The message must not repeat the value: it is key material.
    try:
        KeyCandidate.from_hex(value)
    except E2EEError:
        raise argparse.ArgumentTypeError("not valid hex key material (pairs of 0-9a-f digits)") from None
    return ("hex", value)


def _hex_bytes(value: str) -> bytes:
    try:
        return bytes.fromhex("".join(value.split()).replace(":", ""))
    except ValueError:
        raise argparse.ArgumentTypeError("not valid hex") from None


def add_key_options(parser: argparse.ArgumentParser, *, kdf_both: bool = False) -> None:
    """Adds --key, --key-hex, --kdf, --salt, --salt-hex and --participant."""
    g = parser.add_argument_group(
        "keys",
        "Key material as the application passed it to set_key / set_shared_key. Keys are shown by "
        "fingerprint only (first 8 hex digits of SHA-256 of the material). livekit-client derives keys "
        "given as text with PBKDF2 and keys given as bytes with HKDF; every native SDK uses PBKDF2.",
    )
    g.add_argument(
        "--key",
        dest="keys",
        action="append",
        type=_text_key,
        metavar="TEXT",
        default=[],
        help="passphrase: its UTF-8 bytes are the key material (repeatable)"
        + ("; a value that is valid hex is also tried as raw hex material" if kdf_both else ""),
    )
    g.add_argument(
        "--key-hex",
        dest="keys",
        action="append",
        type=_hex_key,
        metavar="HEX",
        help="raw key material in hex (repeatable)",
    )
    choices = ["pbkdf2", "hkdf", "both"] if kdf_both else ["pbkdf2", "hkdf"]
    g.add_argument(
        "--kdf",
        choices=choices,
        default="pbkdf2",
        help="key derivation: PBKDF2-HMAC-SHA256 x100000 or HKDF-SHA256 (default: %(default)s)",
    )
    g.add_argument(
        "--salt",
        metavar="TEXT",
        default=None,
        help=f"ratchet salt as text (default: {DEFAULT_RATCHET_SALT.decode()!r})",
    )
    g.add_argument("--salt-hex", metavar="HEX", type=_hex_bytes, default=None, help="ratchet salt in hex")
    g.add_argument(
        "--participant",
        metavar="ID",
        default=None,
        help="participant identity the keys belong to (default: a shared key for everyone)",
    )


def key_options(args: argparse.Namespace) -> KeyOptions:
    """The key options of a parsed command line."""
    keys: list[KeyCandidate] = []
    hex_readings: list[KeyCandidate] = []
    for kind, value in getattr(args, "keys", None) or []:
        if kind == "hex":
            keys.append(KeyCandidate.from_hex(value))
        else:
            keys.append(KeyCandidate.passphrase(value))
            try:
                hex_readings.append(KeyCandidate.from_hex(value))
            except E2EEError:
                pass
    kdf = args.kdf
    kdfs = tuple(_KDFS.values()) if kdf == "both" else (_KDFS[kdf],)
    if args.salt is not None and args.salt_hex is not None:
        raise CliError("give --salt or --salt-hex, not both", EXIT_USAGE)
    salt = (
        args.salt_hex
        if args.salt_hex is not None
        else (args.salt.encode("utf-8") if args.salt is not None else DEFAULT_RATCHET_SALT)
    )
    return KeyOptions(tuple(keys), kdfs, salt, args.participant, tuple(hex_readings))


def diagnose(
    frame: bytes,
    codecs: Sequence[Codec],
    opts: KeyOptions,
    *,
    ratchets: int,
    key_frame: bool | None = None,
    ratchet_option: str = "--ratchets",
) -> str | None:
    """When the keys as given open nothing: tries the usual mistakes (the other KDF,
    a passphrase that was meant as hex or the other way round, more ratchets) on one
    frame and says which options would open it. None when nothing does."""
    as_text = [KeyCandidate(k.material.hex().encode(), "passphrase") for k in opts.keys if k.source == "hex"]
    candidates = list(opts.keys) + list(opts.hex_readings) + as_text
    if not candidates:
        return None
    wide = KeySearch(
        candidates,
        kdfs=tuple(_KDFS.values()),
        salt=opts.salt,
        ratchets=max(ratchets, _WIDE_RATCHETS),
    )
    try:
        m = wide.open(frame, codecs, key_frame)
    except E2EEError:
        return None
    if m is None:
        return None
    advice = []
    if m.candidate in opts.hex_readings:
        advice.append("--key-hex for that key (its text is hex key material)")
    elif m.candidate in as_text:
        advice.append("--key for that key (the hex text itself is the passphrase)")
    if m.kdf not in opts.kdfs:
        advice.append(f"--kdf {m.kdf.name.lower()}")
    if m.ratchet_steps > ratchets:
        advice.append(f"{ratchet_option} {m.ratchet_steps} (the sender ratcheted the key)")
    if not advice:  # pragma: no cover - the wide search covers only these differences
        return None
    return f"it opens with {m.describe()}: use " + ", ".join(advice)


def add_debug_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors"
    )
