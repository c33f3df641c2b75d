#include "framecryptor/frame.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "framecryptor/nalu.h"
#include "framecryptor/rbsp.h"

namespace framecryptor {

namespace {

// Capacity the escaped-in-place encrypt path needs for a given header/body:
// the unescaped tail (m bytes) is written at the end of the region and escaped
// forward to just after the header; the gap of m/2 + 1 bytes covers the
// largest possible number of inserted escape bytes (one per two input bytes).
size_t nal_capacity(size_t header_out, size_t m) { return header_out + RbspEscapedBound(m) + 1; }

// Escape/unescape positions handled without a second pass over the frame.
constexpr size_t kInlinePoints = 64;

void write_trailer(uint8_t* p, const uint8_t iv[kIvSize], uint8_t key_index) {
  std::memcpy(p, iv, kIvSize);
  p[kIvSize] = kIvLengthByte;
  p[kIvSize + 1] = key_index;
}

// The first H.264 (else H.265) slice of an H.26x frame, also counting NAL
// units that start in its last three bytes. livekit-client's sender ignores
// those, but a receiver sees them once the 30-byte trailer follows, so a
// sender that uses them produces frames every receiver parses alike.
bool extended_slice_layout(ByteView in, FrameLayout* out) {
  std::vector<uint8_t> padded(in.data, in.data + in.size);
  padded.insert(padded.end(), {0xff, 0xff, 0xff});
  const AnnexBScan scan = ScanAnnexB({padded.data(), padded.size()}, true);
  size_t off = scan.first_h264_slice != SIZE_MAX ? scan.first_h264_slice : scan.first_h265_slice;
  if (off == SIZE_MAX || off + 2 > in.size) return false;
  *out = {off + 2, true};
  return true;
}

// Decrypts header | RBSP-escaped(ciphertext | tag | IV | 0x0C | key index)
// into out (the header, then the plaintext); returns the size written.
// Emulation bytes are local (every 03 right after 00 00 is one, which is what
// livekit-client's left-to-right unescaping removes), so the IV and trailer
// are unescaped from the last bytes alone, and the ciphertext is decrypted
// straight from the input while a detector watches it for 00 00 03. Only a
// frame with an emulation byte inside its ciphertext or tag (rare: about one
// in 4,000 for 1 KiB of ciphertext) takes the copy-and-unescape path.
Result DecryptEscaped(const AesGcmKey& key, ByteView header, ByteView body, uint8_t* out, uint8_t* iv_out) {
  constexpr size_t kSuffix = 64;  // >= 14 unescaped bytes plus any emulation bytes among them
  const size_t h = header.size;
  const size_t n = body.size;
  const size_t start = n > kSuffix ? n - kSuffix : 0;
  const size_t ctx = start >= 2 ? start - 2 : 0;  // two bytes of context before the suffix
  uint32_t sp[kSuffix];
  const size_t sk = RbspUnescapePoints(body.sub(ctx, n - ctx), sp, kSuffix);
  // livekit-client unescapes only when a pattern starts before the last 3 bytes
  const bool needs = sk != 0 && ctx + sp[0] < n - 1;
  uint8_t tail[kIvSize + kTrailerSize];
  size_t t = sizeof tail;
  size_t x = n;  // becomes the end of ciphertext | tag in the input
  size_t pi = needs ? sk : 0;
  while (t > 0 && x > start) {
    --x;
    if (pi > 0 && ctx + sp[pi - 1] == x) {
      --pi;
      continue;
    }
    tail[--t] = body[x];
  }
  if (t != 0 || x < kTagSize) return Result::Err(Status::kFrameTooShort);
  if (tail[kIvSize] != kIvLengthByte) return Result::Err(Status::kBadTrailer);
  if (pi == 0) {
    RbspPatternDetector detector;
    const AesGcmKey::ChunkObserver watch = [&](const uint8_t* d, size_t len) { return detector.Feed(d, len); };
    const Status st = key.Open(tail, header, body.first(x), out + h, &watch);
    if (st == Status::kOk) {
      std::memcpy(out, header.data, h);
      if (iv_out) std::memcpy(iv_out, tail, kIvSize);
      return Result::Ok(h + x - kTagSize);
    }
    if (st != Status::kAborted) return Result::Err(st);
  }
  // Emulation bytes inside the ciphertext: unescape into out, decrypt in place.
  std::memcpy(out, header.data, h);
  size_t u = n;
  if (RbspNeedsUnescape(body)) {
    u = RbspUnescape(body, out + h);
  } else {
    std::memcpy(out + h, body.data, n);
  }
  const size_t total = h + u;
  if (u < kFrameOverhead) return Result::Err(Status::kFrameTooShort);
  if (out[total - 2] != kIvLengthByte) return Result::Err(Status::kBadTrailer);
  const size_t ct_len = u - kIvSize - kTrailerSize;
  uint8_t iv[kIvSize];
  std::memcpy(iv, out + total - kTrailerSize - kIvSize, kIvSize);
  const Status st = key.Open(iv, ByteView(out, h), ByteView(out + h, ct_len), out + h);
  if (st != Status::kOk) return Result::Err(st);
  if (iv_out) std::memcpy(iv_out, iv, kIvSize);
  return Result::Ok(h + ct_len - kTagSize);
}

// Fail closed: nothing of a failed encryption may be used as output.
Result fail_encrypt(MutByteView out, size_t written, Status st) {
  SecureWipe(out.data, written);
  return Result::Err(st);
}

}  // namespace

size_t EncryptedSizeBound(Codec codec, size_t n) {
  if (!IsAnnexB(codec)) return n + kFrameOverhead;
  // header normalization adds <= n/3 bytes; escaping adds <= (m)/2 with m <= n + 30
  return n + n / 3 + kFrameOverhead + (n + kFrameOverhead) / 2 + 2;
}

size_t EncryptedSizeHint(Codec codec, size_t n) {
  if (!IsAnnexB(codec)) return n + kFrameOverhead;
  // Room for a few start codes rewritten and a few escapes (random ciphertext has
  // about one per 16 KiB, the IV counter one or two); the bound when it is not enough.
  return std::min(EncryptedSizeBound(codec, n), n + kFrameOverhead + 64 + n / 64);
}

size_t DecryptedSizeBound(Codec codec, size_t n) {
  if (IsAnnexB(codec)) return n;  // used as unescaping workspace
  return n > kFrameOverhead ? n - kFrameOverhead : 0;
}

Status ReadTrailer(ByteView frame, TrailerInfo* out) {
  if (frame.size < kFrameOverhead) return Status::kFrameTooShort;
  out->iv_length = frame[frame.size - 2];
  out->key_index = frame[frame.size - 1];
  return out->iv_length == kIvLengthByte ? Status::kOk : Status::kBadTrailer;
}

Result EncryptFrame(AesGcmKey& key, const EncryptParams& p, ByteView in, MutByteView out,
                    FrameLayout* layout_used) {
  if (in.size == 0) return Result::Ok(0);
  if (in.size > kMaxCryptSize) return Result::Err(Status::kTooLarge);

  const bool annexb = IsAnnexB(p.codec);
  const FrameLayout js = JsLayout(p.codec, p.key_frame, in);
  FrameLayout layout = js;
  if (annexb && !js.nal) {
    FrameLayout ext;
    if (extended_slice_layout(in, &ext)) layout = ext;
  }
  if (layout.header_len > in.size) return Result::Err(Status::kFrameTooShort);

  const ByteView header = in.first(layout.header_len);
  const ByteView body = in.from(layout.header_len);
  const bool normalize = layout.nal && p.normalize_start_codes;
  const size_t header_out = normalize ? header.size + CountShortStartCodes(header) : header.size;
  const size_t m = body.size + kFrameOverhead;  // ciphertext, tag, IV, trailer
  // Escaping needs room for the bytes it inserts: usually a few (in place),
  // at worst half the block again (parked at the end of the region). A smaller
  // buffer is tried and kOutputTooSmall returned if its escapes do not fit.
  if (out.size < header_out + m) return Result::Err(Status::kOutputTooSmall);
  const size_t needed = std::min(out.size, layout.nal ? nal_capacity(header_out, m) : header_out + m);

  if (normalize) {
    NormalizeStartCodes(header, out.data);
  } else {
    std::memcpy(out.data, header.data, header.size);
  }
  const ByteView aad(out.data, header_out);

  // Only frames whose layout did not come from a slice livekit-client's scan
  // finds in the clear header can be parsed differently by a receiver
  // (ciphertext or IV bytes that look like a start code, a unit that was at
  // the very end); those are checked and re-encrypted under a fresh IV when
  // needed. A slice found in the header is always found again first, and the
  // escaped part holds no start code.
  const bool verify = annexb && !js.nal;
  const int attempts = verify ? (p.layout_attempts > 0 ? p.layout_attempts : 1) : 1;

  for (int attempt = 0; attempt < attempts; ++attempt) {
    uint8_t iv[kIvSize];
    Status st = key.NextIv(iv);
    if (st != Status::kOk) return fail_encrypt(out, needed, st);
    size_t total;
    if (!layout.nal) {
      uint8_t* ct = out.data + header_out;
      st = key.Seal(iv, aad, body, ct);
      if (st != Status::kOk) return fail_encrypt(out, needed, st);
      write_trailer(ct + body.size + kTagSize, iv, p.key_index);
      total = header_out + m;
    } else {
      // Encrypt straight to the final position while finding escape points in
      // each piece of ciphertext as it leaves AES (still in cache). Zero runs
      // are rare in ciphertext, so escaping usually only inserts a few bytes
      // near the end (the IV counter), shifting what follows them in place.
      uint8_t* body_out = out.data + header_out;
      uint32_t points[kInlinePoints];
      RbspEscapeScanner scanner(points, kInlinePoints);
      const AesGcmKey::ChunkObserver observe = [&](const uint8_t* d, size_t n) {
        scanner.Feed(d, n);
        return true;
      };
      st = key.Seal(iv, aad, body, body_out, &observe);
      if (st != Status::kOk) return fail_encrypt(out, needed, st);
      uint8_t* tail_start = body_out + body.size + kTagSize;
      write_trailer(tail_start, iv, p.key_index);
      scanner.Feed(tail_start, kIvSize + kTrailerSize);
      const size_t k = scanner.count();
      if (k <= kInlinePoints && header_out + m + k <= out.size) {
        RbspEscapeInPlace(body_out, m, points, k);
        total = header_out + m + k;
      } else if (needed == nal_capacity(header_out, m)) {
        // Many escapes: park the block at the end of the region, escape forward.
        uint8_t* tail = out.data + needed - m;
        std::memmove(tail, body_out, m);
        total = header_out + RbspEscape({tail, m}, body_out);
      } else {
        return fail_encrypt(out, needed, Status::kOutputTooSmall);
      }
    }
    const FrameLayout built{header_out, layout.nal};
    if (!verify || JsLayout(p.codec, p.key_frame, {out.data, total}) == built) {
      if (layout_used) *layout_used = built;
      return Result::Ok(total);
    }
    // The clear header is intact (only the part after it was written): retry.
  }
  return fail_encrypt(out, needed, Status::kUnstableLayout);
}

size_t ReceiverLayouts(const DecryptParams& p, ByteView in, FrameLayout out[6]) {
  size_t n = 0;
  auto add = [&](FrameLayout l) {
    for (size_t i = 0; i < n; ++i)
      if (out[i] == l) return;
    if (n < 6) out[n++] = l;
  };
  switch (p.codec) {
    case Codec::kVP8: {
      const bool tag_key = Vp8IsKeyFrame(in);
      // The frame tag is what every receiver's depacketizer reports; an
      // explicit (possibly wrong) caller hint is tried first, the tag second.
      // A sender that mislabels its frame is still decrypted: the other rule last.
      if (p.key_frame >= 0) add({Vp8HeaderLen(p.key_frame != 0), false});
      add({Vp8HeaderLen(tag_key), false});
      add({Vp8HeaderLen(!tag_key), false});
      break;
    }
    case Codec::kH264:
    case Codec::kH265: {
      const bool kf_first = p.key_frame != 0;  // unknown: key-frame rule first
      const FrameLayout js = JsLayout(p.codec, kf_first, in);
      add(js);                                 // livekit-client (and native when a slice exists)
      add({Vp8HeaderLen(kf_first), false});    // livekit-client sender fallback (no slice)
      if (p.key_frame < 0) add({Vp8HeaderLen(false), false});
      add({0, true});                          // native sender without a slice
      if (p.codec == Codec::kH265 && js.nal && IsH264Slice(in[js.header_len - 2])) {
        // An H.264-looking unit won livekit-client's byte-based detection: the
        // configured codec's own first slice too. (Otherwise that slice is the
        // one js already found, and the full scan is not needed.)
        const AnnexBScan scan = ScanAnnexB(in, false);
        if (scan.first_h265_slice != SIZE_MAX) add({scan.first_h265_slice + 2, true});
      }
      break;
    }
    default:
      add(JsLayout(p.codec, p.key_frame > 0, in));
      break;
  }
  return n;
}

Result DecryptFrame(const AesGcmKey& key, const DecryptParams& p, ByteView in, MutByteView out,
                    FrameLayout* layout_used, uint8_t* iv_out) {
  if (in.size == 0) return Result::Ok(0);
  TrailerInfo trailer;
  Status st = ReadTrailer(in, &trailer);
  if (st != Status::kOk) return Result::Err(st);
  if (out.size < DecryptedSizeBound(p.codec, in.size)) return Result::Err(Status::kOutputTooSmall);

  FrameLayout cands[6];
  const size_t ncand = ReceiverLayouts(p, in, cands);
  bool any_fits = false;
  for (size_t c = 0; c < ncand; ++c) {
    const FrameLayout l = cands[c];
    const size_t h = l.header_len;
    if (h + kFrameOverhead > in.size) continue;
    const ByteView body = in.from(h);
    if (!l.nal) {
      any_fits = true;
      const size_t ct_len = body.size - kIvSize - kTrailerSize;  // includes tag
      const uint8_t* iv = in.data + in.size - kTrailerSize - kIvSize;
      st = key.Open(iv, in.first(h), body.first(ct_len), out.data + h);
      if (st == Status::kOk) {
        if (h != 0) std::memcpy(out.data, in.data, h);  // out.data may be null (VP9/AV1, empty body)
        if (iv_out) std::memcpy(iv_out, iv, kIvSize);
        if (layout_used) *layout_used = l;
        return Result::Ok(h + ct_len - kTagSize);
      }
    } else {
      const Result r = DecryptEscaped(key, in.first(h), body, out.data, iv_out);
      st = r.status;
      if (st == Status::kFrameTooShort || st == Status::kBadTrailer) continue;
      any_fits = true;
      if (st == Status::kOk) {
        if (layout_used) *layout_used = l;
        return r;
      }
    }
    if (st != Status::kAuthFailed) {
      SecureWipe(out.data, out.size < in.size ? out.size : in.size);
      return Result::Err(st);
    }
  }
  SecureWipe(out.data, out.size < in.size ? out.size : in.size);
  return Result::Err(any_fits ? Status::kAuthFailed : Status::kFrameTooShort);
}

}  // namespace framecryptor
