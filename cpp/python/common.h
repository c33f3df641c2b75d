// Shared helpers of the binding: buffer access without copies, GIL release
// above a size threshold, one-allocation bytes output, status -> exception.
#pragma once

#include <pybind11/pybind11.h>

#include <cstddef>
#include <optional>
#include <string>
#include <utility>

#include "framecryptor/bytes.h"
#include "framecryptor/status.h"

namespace py = pybind11;

namespace fcpy {

using framecryptor::ByteView;
using framecryptor::MutByteView;
using framecryptor::Result;
using framecryptor::Status;

// Single calls release the GIL from this input size up (CPython's hashlib
// uses the same threshold): below it the release/reacquire costs more than
// the work it frees other threads for.
constexpr size_t kGilReleaseThreshold = 2048;

// Exception classes live in framecryptor/exceptions.py; the module looks them
// up once at import (see InitErrors) and raises them from here.
void InitErrors();
[[noreturn]] void Raise(const char* cls, const std::string& message);
// The exception object for a non-ok status (not raised); extra is appended to
// the static message, except for authentication failures, which stay opaque.
py::object MakeStatusError(Status s, const std::string& extra = std::string(), int key_index = -1);
// Raises MakeStatusError(...).
[[noreturn]] void RaiseStatus(Status s, const std::string& extra = std::string(), int key_index = -1);
inline void Check(Status s, const std::string& extra = std::string()) {
  if (s != Status::kOk) RaiseStatus(s, extra);
}

// Fills view from obj (PyBUF_SIMPLE) with the checks InBuffer documents;
// raises InvalidBufferError. The caller releases the view.
void AcquireBuffer(py::handle obj, Py_buffer* view, const char* what);

// A read-only view of any C-contiguous buffer (bytes, bytearray, memoryview,
// numpy arrays, ...). Strided views are refused, str is refused. Must be
// created and destroyed with the GIL held.
class InBuffer {
 public:
  InBuffer(py::handle obj, const char* what);
  ~InBuffer() { PyBuffer_Release(&view_); }
  InBuffer(const InBuffer&) = delete;
  InBuffer& operator=(const InBuffer&) = delete;

  ByteView view() const { return {static_cast<const uint8_t*>(view_.buf), static_cast<size_t>(view_.len)}; }
  size_t size() const { return static_cast<size_t>(view_.len); }

 private:
  Py_buffer view_{};
};

// A writable C-contiguous buffer for the *_into functions.
class OutBuffer {
 public:
  OutBuffer(py::handle obj, const char* what);
  ~OutBuffer() { PyBuffer_Release(&view_); }
  OutBuffer(const OutBuffer&) = delete;
  OutBuffer& operator=(const OutBuffer&) = delete;

  MutByteView view() const { return {static_cast<uint8_t*>(view_.buf), static_cast<size_t>(view_.len)}; }
  size_t size() const { return static_cast<size_t>(view_.len); }

 private:
  Py_buffer view_{};
};

// Releases the GIL for the scope when work is large enough to be worth it.
class MaybeReleaseGil {
 public:
  explicit MaybeReleaseGil(bool release) {
    if (release) rel_.emplace();
  }

 private:
  std::optional<py::gil_scoped_release> rel_;
};

// Allocates a bytes object of `capacity`, lets fill() write into it (with the
// GIL released when release_gil), and trims it to the size fill() reports.
// On error the object (wiped by the core) is freed and the status raised.
template <typename Fill, typename OnError>
py::bytes MakeBytes(size_t capacity, bool release_gil, Fill&& fill, OnError&& on_error) {
  PyObject* obj = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(capacity));
  if (obj == nullptr) throw py::error_already_set();
  auto* data = reinterpret_cast<uint8_t*>(PyBytes_AS_STRING(obj));
  Result r;
  {
    MaybeReleaseGil g(release_gil);
    r = fill(MutByteView{data, capacity});
  }
  if (!r.ok()) {
    Py_DECREF(obj);
    on_error(r.status);
  }
  if (r.size != capacity && _PyBytes_Resize(&obj, static_cast<Py_ssize_t>(r.size)) != 0)
    throw py::error_already_set();
  return py::reinterpret_steal<py::bytes>(obj);
}

template <typename Fill>
py::bytes MakeBytes(size_t capacity, bool release_gil, Fill&& fill) {
  return MakeBytes(capacity, release_gil, std::forward<Fill>(fill), [](Status s) { RaiseStatus(s); });
}

}  // namespace fcpy

namespace framecryptor {
class FrameCryptorCore;
class AesGcmKey;
enum class Codec : uint8_t;
}  // namespace framecryptor

namespace fcpy {

// Encrypts into a new bytes object of the size hint, retrying once at the size
// bound in the rare case the escapes do not fit (see EncryptedSizeHint). On a
// core error returns nullptr with *result holding the status and no Python
// error set; nullptr with a Python error set on allocation failure. The GIL is
// released around the work when release_gil. key: encrypt with it at key_index
// instead of the cryptor's current key.
PyObject* EncryptNew(const framecryptor::FrameCryptorCore& c, ByteView in, bool key_frame, bool release_gil,
                     Result* result, framecryptor::AesGcmKey* key = nullptr, uint8_t key_index = 0);

// The codec of a Codec.native_id; raises InvalidArgumentError for others (bind_format.cpp).
framecryptor::Codec ToCodec(int c);

// Hex of a few bytes (fingerprints only: never used on key material).
std::string Hex(const uint8_t* p, size_t n);

void BindCrypto(py::module_& m);
void BindFormat(py::module_& m);
void BindCryptor(py::module_& m);
void BindFast(py::module_& m);
void BindBench(py::module_& m);

}  // namespace fcpy
