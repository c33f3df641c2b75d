"""Data-channel interop check against the real livekit-client 2.23.0 E2EE worker (../shared/tools/jsref).

Not part of the test suite (it needs Node and the jsref tool installed); run by hand:

    d=$(mktemp -d) && cp -r ../shared/tools/jsref "$d" && (cd "$d/jsref" && npm ci)
    python tests/interop_jsref_data.py --jsref "$d/jsref" --packets 100 --streams 4

Raw (HKDF) and passphrase (PBKDF2) keys, AES-128 and AES-256, several key indexes:
  1. payloads framecryptor encrypts (EncryptedPacket fields, and whole DataPackets on the
     wire) must decrypt in livekit-client's DataCryptor to the same bytes;
  2. payloads and user packets livekit-client encrypts must decrypt in framecryptor
     (EncryptedPacket and the whole wire DataPacket, compared with livekit-client's own
     plain DataPacket), also from a sender 1-3 ratchets ahead (our ratchet window);
  3. text/byte streams framecryptor encrypts must decrypt packet by packet in livekit-client
     to the stream header/chunks/trailer, and stream packets livekit-client encrypts must
     reassemble in framecryptor;
  4. data-track frames: payloads encrypted by framecryptor decrypt in livekit-client with
     the key index and IV of the E2EE extension, and the extension's layout is what
     livekit-client's own DataTrackPacket parses and writes (checked in Node).
Exits non-zero on any mismatch.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

from livekit.protocol.models import DataPacket, EncryptedPacketPayload, UserPacket

import framecryptor as fc

sys.path.insert(0, str(Path(__file__).parent))
from interop_jsref import COMBOS as MEDIA_COMBOS
from interop_jsref import JsRef

SIZES = [0, 1, 2, 15, 16, 17, 100, 1000, 15_000, 60_000]


COMBOS = [*MEDIA_COMBOS, ("raw", "00112233445566778899aabbccddeeff", 7, 256)]


def provider(key_type: str, key: str, key_index: int, key_bits: int) -> fc.KeyProvider:
    kdf = fc.KeyDerivationFunction.HKDF if key_type == "raw" else fc.KeyDerivationFunction.PBKDF2
    material = bytes.fromhex(key) if key_type == "raw" else key.encode()
    kp = fc.KeyProvider(fc.KeyProviderOptions(key_derivation_function=kdf, key_size=key_bits // 8))
    kp.set_key("alice", material, key_index)
    return kp


def b64(data: str | None) -> bytes:
    return base64.b64decode(data or "")


def js_matches_value(decoded: dict[str, Any], packet: DataPacket) -> bool:
    """Does livekit-client's JSON of a decrypted EncryptedPacketPayload show packet's stream value?"""
    which = packet.WhichOneof("value")
    if which == "stream_header":
        h = decoded.get("streamHeader", {})
        ok = (
            h.get("streamId") == packet.stream_header.stream_id
            and h.get("topic", "") == packet.stream_header.topic
        )
        if packet.stream_header.HasField("total_length"):
            ok = ok and int(h.get("totalLength", 0)) == packet.stream_header.total_length
        ok = ok and h.get("attributes", {}) == dict(packet.stream_header.attributes)
        if packet.stream_header.HasField("inline_content"):
            ok = ok and b64(h.get("inlineContent")) == packet.stream_header.inline_content
        return bool(ok)
    if which == "stream_chunk":
        c = decoded.get("streamChunk", {})
        return bool(
            c.get("streamId") == packet.stream_chunk.stream_id
            and int(c.get("chunkIndex", 0)) == packet.stream_chunk.chunk_index
            and b64(c.get("content")) == packet.stream_chunk.content
        )
    if which == "stream_trailer":
        t = decoded.get("streamTrailer", {})
        return bool(t.get("streamId") == packet.stream_trailer.stream_id)
    if which == "user":
        u = decoded.get("user", {})
        return b64(u.get("payload")) == packet.user.payload and u.get("topic", "") == packet.user.topic
    return False


def build_data_track_packet(extension: bytes, payload: bytes, *, handle: int = 0x1234, seq: int = 7) -> bytes:
    """A single-packet data-track frame (format v0) with one extension block, by the spec."""
    ext_words = (2 + len(extension) + 3) // 4
    padding = ext_words * 4 - 2 - len(extension)
    first = (0 << 5) | (3 << 3) | (1 << 2)  # version 0, marker single, extension flag
    header = bytes([first, 0]) + struct.pack(">HHHI", handle, seq, 3, 90_000)
    return header + struct.pack(">H", ext_words - 1) + extension + bytes(padding) + payload


NODE_DATA_TRACK = r"""
import { readFileSync } from 'node:fs';
import { DataTrackPacket } from 'livekit-client';
const cases = JSON.parse(readFileSync(0, 'utf8'));
const out = [];
for (const c of cases) {
  const bytes = Uint8Array.from(Buffer.from(c.packet, 'hex'));
  const [p] = DataTrackPacket.fromBinary(bytes);
  const e = p.header.extensions.e2ee;
  const rewritten = Buffer.from(p.toBinary()).toString('hex');
  // A new extension built by livekit-client's own class, serialized by livekit-client.
  const E2ee = e.constructor;
  p.header.extensions.e2ee = new E2ee(c.newKeyIndex, Uint8Array.from(Buffer.from(c.newIv, 'hex')));
  out.push({
    keyIndex: e.keyIndex,
    iv: Buffer.from(e.iv).toString('hex'),
    payload: Buffer.from(p.payload).toString('hex'),
    rewritten,
    jsBuilt: Buffer.from(p.toBinary()).toString('hex'),
  });
}
console.log(JSON.stringify(out));
"""


def run(jsref: str, per_combo: int, streams: int, seed: int) -> int:
    rng = random.Random(seed)
    ref = JsRef(jsref)
    failures = 0
    counts = {
        "payload ours->js": 0,
        "wire ours->js": 0,
        "payload js->ours": 0,
        "wire js->ours": 0,
        "user js->ours": 0,
        "ratcheted js->ours": 0,
        "stream packets ours->js": 0,
        "stream packets js->ours": 0,
        "streams js->ours reassembled": 0,
        "data-track ours->js": 0,
        "data-track layout (Node)": 0,
    }

    def fail(msg: str) -> None:
        nonlocal failures
        failures += 1
        print("FAIL", msg)

    track_cases: list[dict[str, Any]] = []
    for key_type, key, key_index, key_bits in COMBOS:
        kp = provider(key_type, key, key_index, key_bits)
        sender = fc.DataCryptor(kp, "alice")
        receiver = fc.DataCryptor(provider(key_type, key, key_index, key_bits), "alice")
        common = {
            "key": key,
            "keyType": key_type,
            "keyIndex": key_index,
            "keySize": key_bits,
            "participant": "alice",
            "ctx": f"{key_type}-{key_bits}",
        }
        for i in range(per_combo):
            size = SIZES[i % len(SIZES)] if i < len(SIZES) else rng.randrange(0, 20_000)
            payload = rng.randbytes(size)
            # 1. ours -> livekit-client: raw payload fields, and a whole DataPacket.
            ep = sender.encrypt_payload(payload)
            r = ref.call(
                {
                    "op": "data-decrypt",
                    "encryptedValue": ep.encrypted_value.hex(),
                    "iv": ep.iv.hex(),
                    **common,
                }
            )
            counts["payload ours->js"] += 1
            if not r["ok"] or bytes.fromhex(r["data"]) != payload:
                fail(f"payload ours->js {key_type} k{key_index} {size}B: {str(r)[:200]}")
            user = DataPacket(
                participant_identity="alice",
                destination_identities=["bob"],
                sequence=i + 1,
                user=UserPacket(payload=payload, topic=f"t{i}"),
            )
            wire = sender.encrypt_data_packet(user).SerializeToString()
            r = ref.call({"op": "data-decrypt", "wire": wire.hex(), **common})
            counts["wire ours->js"] += 1
            expected = EncryptedPacketPayload(user=user.user).SerializeToString()
            if (
                not r["ok"]
                or bytes.fromhex(r["data"]) != expected
                or not js_matches_value(r.get("decoded", {}), user)
            ):
                fail(f"wire ours->js {key_type} k{key_index} {size}B: {str(r)[:200]}")
            # 2. livekit-client -> ours.
            r = ref.call({"op": "data-encrypt", "payload": payload.hex(), **common})
            counts["payload js->ours"] += 1
            try:
                got = receiver.decrypt_bytes(
                    bytes.fromhex(r["encryptedValue"]), bytes.fromhex(r["iv"]), r["keyIndex"]
                )
                via_wire = receiver.decrypt_packet(
                    DataPacket.FromString(bytes.fromhex(r["wire"])).encrypted_packet, raw=True
                )
                counts["wire js->ours"] += 1
                if got != payload or via_wire != payload:
                    fail(f"js->ours {key_type} k{key_index} {size}B differs")
            except fc.E2EEError as e:
                fail(f"js->ours {key_type} k{key_index} {size}B: {e!r}")
            if i % 10 == 0:
                # A livekit-client sender 1..3 ratchets ahead: our receiver's ratchet window catches up.
                steps = 1 + (i // 10) % 3
                r = ref.call(
                    {
                        "op": "data-encrypt",
                        "payload": payload.hex(),
                        **common,
                        "ctx": "ahead",
                        "ratchets": steps,
                    }
                )
                behind = fc.DataCryptor(provider(key_type, key, key_index, key_bits), "alice")
                counts["ratcheted js->ours"] += 1
                try:
                    if (
                        behind.decrypt_bytes(
                            bytes.fromhex(r["encryptedValue"]), bytes.fromhex(r["iv"]), key_index
                        )
                        != payload
                    ):
                        fail(f"ratcheted js->ours {key_type} {steps} steps differs")
                except fc.E2EEError as e:
                    fail(f"ratcheted js->ours {key_type} {steps} steps: {e!r}")
            if i % 4 == 0:
                r = ref.call(
                    {
                        "op": "data-encrypt",
                        "user": {"payload": payload[:2000].hex(), "topic": f"t{i}"},
                        **common,
                    }
                )
                counts["user js->ours"] += 1
                try:
                    got_packet = receiver.decrypt_data_packet(bytes.fromhex(r["wire"]))
                    plain = DataPacket.FromString(bytes.fromhex(r["plainDataPacket"]))
                    if got_packet.user != plain.user or got_packet.sequence != 1:
                        fail(f"user js->ours {key_type} k{key_index}: {got_packet} vs {plain}")
                except fc.E2EEError as e:
                    fail(f"user js->ours {key_type}: {e!r}")
            # 4. data-track frames.
            if i % 5 == 0:
                frame = sender.encrypt_data_track_frame(payload[:5000])
                r = ref.call(
                    {
                        "op": "data-decrypt",
                        "encryptedValue": frame.payload.hex(),
                        "iv": frame.extension.iv.hex(),
                        **common,
                        "keyIndex": frame.extension.key_index,
                        "decodePayload": False,
                    }
                )
                counts["data-track ours->js"] += 1
                if not r["ok"] or bytes.fromhex(r["data"]) != payload[:5000]:
                    fail(f"data-track ours->js {key_type}: {str(r)[:200]}")
                track_cases.append(
                    {
                        "packet": build_data_track_packet(
                            frame.extension.to_bytes(), frame.payload[:64]
                        ).hex(),
                        "keyIndex": frame.extension.key_index,
                        "iv": frame.extension.iv.hex(),
                        "payload": frame.payload[:64].hex(),
                        "newKeyIndex": rng.randrange(256),
                        "newIv": rng.randbytes(12).hex(),
                    }
                )

        for _ in range(streams):
            # 3. streams, ours -> livekit-client (each packet decrypted by its DataCryptor).
            text = "".join(rng.choice("abcäöü€𝄞 \n") for _ in range(rng.randrange(1, 40_000)))
            blob = rng.randbytes(rng.randrange(0, 50_000))
            ours_streams = [
                fc.encrypt_text_stream(sender, text, topic="chat", attributes={"k": "v"}),
                fc.encrypt_text_stream(sender, text, compress=True, chunk_size=rng.randrange(100, 15_001)),
                fc.encrypt_byte_stream(
                    sender, blob, name="f.bin", topic="files", trailer_attributes={"t": "1"}
                ),
                fc.encrypt_text_stream(sender, text[:200], inline=True),
                fc.encrypt_byte_stream(sender, bytes(len(blob)), inline=True, compress=True),
            ]
            for packets_iter in ours_streams:
                for packet in packets_iter:
                    clear = receiver.decrypt_data_packet(packet)
                    r = ref.call({"op": "data-decrypt", "wire": packet.SerializeToString().hex(), **common})
                    counts["stream packets ours->js"] += 1
                    if not r["ok"] or not js_matches_value(r.get("decoded", {}), clear):
                        fail(f"stream packet ours->js {clear.WhichOneof('value')}: {str(r)[:300]}")
            # 3b. streams, livekit-client -> ours: livekit-client encrypts each clear stream packet's payload.
            for packets in (
                list(fc.text_stream_packets(text, topic="js", participant_identity="alice")),
                list(fc.byte_stream_packets(blob, name="x", participant_identity="alice", compress=True)),
            ):
                wires: list[DataPacket] = []
                for packet in packets:
                    which = packet.WhichOneof("value")
                    payload_msg = EncryptedPacketPayload()
                    getattr(payload_msg, which).CopyFrom(getattr(packet, which))
                    r = ref.call(
                        {"op": "data-encrypt", "payload": payload_msg.SerializeToString().hex(), **common}
                    )
                    counts["stream packets js->ours"] += 1
                    js_wire = DataPacket.FromString(bytes.fromhex(r["wire"]))
                    js_wire.participant_identity = "alice"  # the server sets this on forwarded packets
                    wires.append(js_wire)
                try:
                    got_stream = fc.decrypt_stream(receiver, wires)
                    counts["streams js->ours reassembled"] += 1
                    want = text.encode() if got_stream.info.kind == "text" else blob
                    if got_stream.data != want or got_stream.info.encryption_type != 0:
                        fail("stream js->ours content differs")
                except fc.E2EEError as e:
                    fail(f"stream js->ours: {e!r}")
    ref.close()

    # 4b. data-track extension layout in livekit-client's own DataTrackPacket (Node, no worker).
    out = subprocess.run(
        ["node", "--input-type=module", "-e", NODE_DATA_TRACK],
        input=json.dumps(track_cases),
        cwd=jsref,
        capture_output=True,
        text=True,
        check=True,
    )
    for case, js in zip(track_cases, json.loads(out.stdout.strip().splitlines()[-1])):
        counts["data-track layout (Node)"] += 1
        if js["keyIndex"] != case["keyIndex"] or js["iv"] != case["iv"] or js["payload"] != case["payload"]:
            fail(f"data-track parse in JS: {js} vs {case}")
        if js["rewritten"] != case["packet"]:
            fail(f"data-track JS re-serialization differs: {js['rewritten']} vs {case['packet']}")
        parsed = fc.parse_data_track_packet(bytes.fromhex(js["jsBuilt"]))
        ext = parsed.extensions.e2ee
        if ext is None or ext.key_index != case["newKeyIndex"] or ext.iv.hex() != case["newIv"]:
            fail(f"data-track packet built by JS parses differently: {parsed}")
    print(json.dumps(counts))
    print("FAILURES:", failures)
    return 1 if failures else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jsref", required=True, help="directory of an installed jsref tool (npm ci done)")
    ap.add_argument("--packets", type=int, default=40, help="random payloads per key combination")
    ap.add_argument("--streams", type=int, default=4, help="rounds of stream checks per key combination")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    return run(args.jsref, args.packets, args.streams, args.seed)


if __name__ == "__main__":
    sys.exit(main())
