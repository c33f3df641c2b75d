// LiveKit's frame-metadata packet trailer ("LKTS"), appended in the clear
// after encryption when a track publishes frame metadata:
//   TLV* (every byte XOR 0xFF) | trailer length XOR 0xFF | "LKTS"
// Tags: 0x01 user timestamp (8 bytes BE), 0x02 frame id (4 bytes BE),
// 0x03 user data. The length counts the TLVs plus the 5-byte envelope.
#pragma once

#include <cstddef>
#include <cstdint>

#include "framecryptor/bytes.h"

namespace framecryptor {

constexpr size_t kPacketTrailerEnvelope = 5;
constexpr size_t kPacketTrailerMaxSize = 255;

struct PacketTrailer {
  size_t stripped_size = 0;  // frame size without the trailer
  bool has_timestamp = false;
  uint64_t user_timestamp = 0;
  bool has_frame_id = false;
  uint32_t frame_id = 0;
  bool has_user_data = false;
  size_t user_data_offset = 0;  // into the frame; bytes are XOR 0xFF on the wire
  size_t user_data_size = 0;
};

// Parses a trailer at the end of frame. Returns false (frame unchanged) when
// there is no well-formed trailer with at least one known TLV, as livekit-client.
bool ParsePacketTrailer(ByteView frame, PacketTrailer* out);

// Size of the trailer that WritePacketTrailer produces (0 when nothing to write).
size_t PacketTrailerSize(bool has_timestamp, bool has_frame_id, size_t user_data_size);
// Writes the trailer to out (PacketTrailerSize bytes); returns bytes written.
size_t WritePacketTrailer(bool has_timestamp, uint64_t user_timestamp, bool has_frame_id,
                          uint32_t frame_id, ByteView user_data, uint8_t* out);

}  // namespace framecryptor
