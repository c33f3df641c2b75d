#include "framecryptor/sif.h"

#include <cstring>
#include <vector>

namespace framecryptor {

namespace {

// The blank payloads the LiveKit SFU injects (its downtrack's blank-frame
// constants), byte for byte.
const uint8_t kVp8KeyFrame8x8[] = {0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x08, 0x00, 0x08, 0x00, 0x00,
                                   0x47, 0x08, 0x85, 0x85, 0x88, 0x85, 0x84, 0x88, 0x02, 0x02, 0x00,
                                   0x0c, 0x0d, 0x60, 0x00, 0xfe, 0xff, 0xab, 0x50, 0x80};
const uint8_t kH264Sps2x2[] = {0x67, 0x42, 0xc0, 0x1f, 0x0f, 0xd9, 0x1f, 0x88, 0x88, 0x84, 0x00, 0x00,
                               0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0xc8, 0x3c, 0x60, 0xc9, 0x20};
const uint8_t kH264Pps2x2[] = {0x68, 0x87, 0xcb, 0x83, 0xcb, 0x20};
const uint8_t kH264Idr2x2[] = {0x65, 0x88, 0x84, 0x0a, 0xf2, 0x62, 0x80, 0x00, 0xa7, 0xbe};

struct Payload {
  const char* name;
  Codec codec;
  std::vector<uint8_t> bytes;
};

std::vector<uint8_t> concat_annexb() {
  std::vector<uint8_t> v;
  const uint8_t sc[] = {0, 0, 0, 1};
  for (auto part : {ByteView(kH264Sps2x2, sizeof kH264Sps2x2), ByteView(kH264Pps2x2, sizeof kH264Pps2x2),
                    ByteView(kH264Idr2x2, sizeof kH264Idr2x2)}) {
    v.insert(v.end(), sc, sc + 4);
    v.insert(v.end(), part.data, part.data + part.size);
  }
  return v;
}

std::vector<uint8_t> opus_silence() {
  std::vector<uint8_t> v(80, 0);  // TOC + two bytes, then 77 zero bytes
  v[0] = 0xf8;
  v[1] = 0xff;
  v[2] = 0xfe;
  return v;
}

const std::vector<Payload>& payloads() {
  static const std::vector<Payload>* p = new std::vector<Payload>{
      {"vp8-key-frame-8x8", Codec::kVP8, {std::begin(kVp8KeyFrame8x8), std::end(kVp8KeyFrame8x8)}},
      {"h264-sps-2x2", Codec::kH264, {std::begin(kH264Sps2x2), std::end(kH264Sps2x2)}},
      {"h264-pps-2x2", Codec::kH264, {std::begin(kH264Pps2x2), std::end(kH264Pps2x2)}},
      {"h264-idr-2x2", Codec::kH264, {std::begin(kH264Idr2x2), std::end(kH264Idr2x2)}},
      {"h264-access-unit-2x2", Codec::kH264, concat_annexb()},
      {"opus-silence", Codec::kOpus, opus_silence()},
      {"pcmu-silence", Codec::kOpus, std::vector<uint8_t>(160, 0xff)},
      {"pcma-silence", Codec::kOpus, std::vector<uint8_t>(160, 0xd5)},
  };
  return *p;
}

}  // namespace

bool EndsWithSifTrailer(ByteView frame, ByteView trailer) {
  return trailer.size != 0 && frame.size >= trailer.size &&
         std::memcmp(frame.data + frame.size - trailer.size, trailer.data, trailer.size) == 0;
}

const char* IdentifySifPayload(Codec codec, ByteView payload) {
  for (const Payload& p : payloads()) {
    if (p.codec == codec && p.bytes.size() == payload.size &&
        (payload.size == 0 || std::memcmp(p.bytes.data(), payload.data, payload.size) == 0))
      return p.name;
  }
  return nullptr;
}

}  // namespace framecryptor
