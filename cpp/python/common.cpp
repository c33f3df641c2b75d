#include "common.h"

#include <unordered_map>

namespace fcpy {

namespace {

// Borrowed forever: the exceptions module stays imported for the process.
std::unordered_map<std::string, PyObject*>& classes() {
  static auto* m = new std::unordered_map<std::string, PyObject*>();
  return *m;
}

PyObject* cls(const char* name) {
  auto it = classes().find(name);
  return it == classes().end() ? PyExc_RuntimeError : it->second;
}

std::string type_name(py::handle obj) { return Py_TYPE(obj.ptr())->tp_name; }

}  // namespace

void InitErrors() {
  py::module_ exc = py::module_::import("framecryptor.exceptions");
  for (const char* name : {"E2EEError", "InvalidArgumentError", "InvalidBufferError", "InvalidKeyError",
                           "InvalidFrameError", "MissingKeyError", "DecryptionError", "EncryptionError",
                           "IvExhaustedError", "SifFrameDroppedError", "InternalError", "ReplayError"}) {
    PyObject* c = exc.attr(name).ptr();
    Py_INCREF(c);
    classes()[name] = c;
  }
}

void Raise(const char* name, const std::string& message) {
  PyErr_SetString(cls(name), message.c_str());
  throw py::error_already_set();
}

py::object MakeStatusError(Status s, const std::string& extra, int key_index) {
  const char* name = "InternalError";
  switch (s) {
    case Status::kOk:
    case Status::kInternal:
    case Status::kAborted:
      name = "InternalError";
      break;
    case Status::kInvalidArgument:
    case Status::kOutputTooSmall:
    case Status::kTooLarge:
      name = "InvalidArgumentError";
      break;
    case Status::kFrameTooShort:
    case Status::kBadTrailer:
      name = "InvalidFrameError";
      break;
    case Status::kMissingKey:
      name = "MissingKeyError";
      break;
    case Status::kAuthFailed:
      name = "DecryptionError";
      break;
    case Status::kIvExhausted:
      name = "IvExhaustedError";
      break;
    case Status::kUnstableLayout:
      name = "EncryptionError";
      break;
    case Status::kSifDropped:
      name = "SifFrameDroppedError";
      break;
    case Status::kReplay:
      name = "ReplayError";
      break;
  }
  std::string msg = framecryptor::status_message(s);
  // An authentication failure stays opaque: one message, whatever the cause.
  if (!extra.empty() && s != Status::kAuthFailed) msg += ": " + extra;
  py::object value = py::reinterpret_borrow<py::object>(cls(name))(msg);
  if (key_index >= 0) value.attr("key_index") = key_index;
  return value;
}

void RaiseStatus(Status s, const std::string& extra, int key_index) {
  py::object value = MakeStatusError(s, extra, key_index);
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(value.ptr())), value.ptr());
  throw py::error_already_set();
}

InBuffer::InBuffer(py::handle obj, const char* what) { AcquireBuffer(obj, &view_, what); }

void AcquireBuffer(py::handle obj, Py_buffer* view, const char* what) {
  if (PyUnicode_Check(obj.ptr()))
    Raise("InvalidBufferError", std::string(what) + " must be a bytes-like object, not str (encode it first)");
  if (PyObject_GetBuffer(obj.ptr(), view, PyBUF_SIMPLE) != 0) {
    PyErr_Clear();
    if (PyObject_CheckBuffer(obj.ptr()))
      Raise("InvalidBufferError", std::string(what) + " must be a C-contiguous buffer (got a strided " +
                                      type_name(obj) + "; copy it with bytes() or numpy.ascontiguousarray)");
    Raise("InvalidBufferError", std::string(what) + " must be a bytes-like object, not " + type_name(obj));
  }
}

OutBuffer::OutBuffer(py::handle obj, const char* what) {
  if (PyObject_GetBuffer(obj.ptr(), &view_, PyBUF_WRITABLE) != 0) {
    PyErr_Clear();
    Raise("InvalidBufferError", std::string(what) + " must be a writable C-contiguous buffer (bytearray, "
                                                    "memoryview, numpy array), not " + type_name(obj));
  }
}

std::string Hex(const uint8_t* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    s[2 * i] = d[p[i] >> 4];
    s[2 * i + 1] = d[p[i] & 15];
  }
  return s;
}

}  // namespace fcpy
