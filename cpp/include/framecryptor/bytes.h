// Byte spans used across the core: a read-only view and a writable view.
// The core never owns caller memory; callers pass spans in and get sizes back.
#pragma once

#include <cstddef>
#include <cstdint>

namespace framecryptor {

struct ByteView {
  const uint8_t* data = nullptr;
  size_t size = 0;

  constexpr ByteView() = default;
  constexpr ByteView(const uint8_t* d, size_t n) : data(d), size(n) {}

  bool empty() const { return size == 0; }
  uint8_t operator[](size_t i) const { return data[i]; }
  // Caller guarantees off + len <= size.
  ByteView sub(size_t off, size_t len) const { return {data + off, len}; }
  ByteView first(size_t len) const { return {data, len}; }
  ByteView from(size_t off) const { return {data + off, size - off}; }
};

struct MutByteView {
  uint8_t* data = nullptr;
  size_t size = 0;

  constexpr MutByteView() = default;
  constexpr MutByteView(uint8_t* d, size_t n) : data(d), size(n) {}
};

}  // namespace framecryptor
