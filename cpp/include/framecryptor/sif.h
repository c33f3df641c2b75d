// Server-injected frames (SIF): frames the LiveKit SFU inserts (blank video,
// silence) and marks with the room's SIF trailer. They are not encrypted and
// are forwarded only when their payload is one of the known blank payloads.
#pragma once

#include <cstddef>
#include <cstdint>

#include "framecryptor/bytes.h"
#include "framecryptor/codec.h"

namespace framecryptor {

// True when trailer is non-empty, frame is at least as long, and frame ends with it.
bool EndsWithSifTrailer(ByteView frame, ByteView trailer);

// Which allow-list entry payload is, or nullptr. Entries per codec:
//   vp8:  the 8x8 VP8 key frame
//   h264: the 2x2 SPS, PPS and IDR NAL units (each alone, as livekit-client
//         checks them) and the three as one Annex-B access unit (native)
//   opus: the Opus silence frame; also PCMU and PCMA silence (native)
// VP9, AV1 and H.265 tracks have no SIF payloads: such frames are dropped.
const char* IdentifySifPayload(Codec codec, ByteView payload);

}  // namespace framecryptor
