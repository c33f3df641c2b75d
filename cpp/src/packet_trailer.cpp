#include "framecryptor/packet_trailer.h"

#include <cstring>

namespace framecryptor {

namespace {
const uint8_t kMagic[4] = {'L', 'K', 'T', 'S'};
constexpr uint8_t kTagTimestamp = 0x01;
constexpr uint8_t kTagFrameId = 0x02;
constexpr uint8_t kTagUserData = 0x03;

uint64_t read_be_xor(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(p[i] ^ 0xff);
  return v;
}

void write_be_xor(uint64_t v, size_t n, uint8_t* out) {
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>((v >> (8 * (n - 1 - i))) ^ 0xff);
}
}  // namespace

bool ParsePacketTrailer(ByteView frame, PacketTrailer* out) {
  *out = PacketTrailer{};
  out->stripped_size = frame.size;
  if (frame.size < kPacketTrailerEnvelope) return false;
  if (std::memcmp(frame.data + frame.size - 4, kMagic, 4) != 0) return false;
  const size_t len = static_cast<uint8_t>(frame[frame.size - kPacketTrailerEnvelope] ^ 0xff);
  if (len < kPacketTrailerEnvelope || len > frame.size) return false;
  const size_t start = frame.size - len;
  const size_t end = frame.size - kPacketTrailerEnvelope;
  PacketTrailer t;
  bool found = false;
  size_t off = start;
  while (off + 2 <= end) {
    const uint8_t tag = frame[off++] ^ 0xff;
    const size_t n = static_cast<uint8_t>(frame[off++] ^ 0xff);
    if (off + n > end) break;
    if (tag == kTagTimestamp && n == 8) {
      t.has_timestamp = true;
      t.user_timestamp = read_be_xor(frame.data + off, 8);
      found = true;
    } else if (tag == kTagFrameId && n == 4) {
      t.has_frame_id = true;
      t.frame_id = static_cast<uint32_t>(read_be_xor(frame.data + off, 4));
      found = true;
    } else if (tag == kTagUserData) {
      t.has_user_data = true;
      t.user_data_offset = off;
      t.user_data_size = n;
      found = true;
    }
    off += n;
  }
  if (!found) return false;
  t.stripped_size = start;
  *out = t;
  return true;
}

size_t PacketTrailerSize(bool has_timestamp, bool has_frame_id, size_t user_data_size) {
  const bool has_user_data = user_data_size != 0;
  if (!has_timestamp && !has_frame_id && !has_user_data) return 0;
  return (has_timestamp ? 10 : 0) + (has_frame_id ? 6 : 0) + (has_user_data ? 2 + user_data_size : 0) +
         kPacketTrailerEnvelope;
}

size_t WritePacketTrailer(bool has_timestamp, uint64_t user_timestamp, bool has_frame_id,
                          uint32_t frame_id, ByteView user_data, uint8_t* out) {
  const size_t total = PacketTrailerSize(has_timestamp, has_frame_id, user_data.size);
  if (total == 0) return 0;
  size_t o = 0;
  if (has_timestamp) {
    out[o++] = kTagTimestamp ^ 0xff;
    out[o++] = 8 ^ 0xff;
    write_be_xor(user_timestamp, 8, out + o);
    o += 8;
  }
  if (has_frame_id) {
    out[o++] = kTagFrameId ^ 0xff;
    out[o++] = 4 ^ 0xff;
    write_be_xor(frame_id, 4, out + o);
    o += 4;
  }
  if (!user_data.empty()) {
    out[o++] = kTagUserData ^ 0xff;
    out[o++] = static_cast<uint8_t>(user_data.size ^ 0xff);
    for (size_t i = 0; i < user_data.size; ++i) out[o++] = user_data[i] ^ 0xff;
  }
  out[o++] = static_cast<uint8_t>(total ^ 0xff);
  std::memcpy(out + o, kMagic, 4);
  return o + 4;
}

}  // namespace framecryptor
