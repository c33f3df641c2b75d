// FrameCryptorBase: the per-frame hot path of framecryptor.FrameCryptor.
//
// encrypt() and decrypt() are plain CPython METH_FASTCALL methods on a small
// C type that Python's FrameCryptor subclasses. A Python-level wrapper or
// pybind11's generic dispatcher costs more per call than AES-GCM on a 160-byte
// Opus frame, so the common case (enabled, success, state already OK) runs
// entirely here. Everything else -- state changes, failure accounting, the
// ratchet window -- is delegated to the subclass's Python methods:
//   _encrypt_ok(), _encrypt_failed(exc), _decrypt_ok(key_index),
//   _decrypt_failed(exc), _recover_bytes(frame, key_frame, exc) -> bytes.
#include <cstring>

#include "common.h"
#include "framecryptor/cryptor.h"

namespace fcpy {

namespace fc = framecryptor;

namespace {

constexpr int kStateOk = 1;  // EncryptionState.OK

struct FastCryptor {
  PyObject_HEAD
  PyObject* core_obj;      // the pybind11 FrameCryptorCore (strong reference)
  fc::FrameCryptorCore* core;  // owned by core_obj
  int enabled;
  int state;
  int refuse_plaintext;  // require_encryption: a disabled cryptor refuses frames
};

int fc_init(PyObject* self_obj, PyObject* args, PyObject* kwargs) {
  auto* self = reinterpret_cast<FastCryptor*>(self_obj);
  static const char* kwlist[] = {"core", nullptr};
  PyObject* core = nullptr;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O", const_cast<char**>(kwlist), &core)) return -1;
  try {
    fc::FrameCryptorCore* ptr = py::cast<fc::FrameCryptorCore*>(py::handle(core));
    Py_INCREF(core);
    Py_XSETREF(self->core_obj, core);
    self->core = ptr;
  } catch (py::cast_error&) {
    PyErr_SetString(PyExc_TypeError, "core must be a framecryptor._native.FrameCryptorCore");
    return -1;
  }
  self->enabled = 1;
  self->state = 0;
  self->refuse_plaintext = 0;
  return 0;
}

void fc_dealloc(PyObject* self_obj) {
  auto* self = reinterpret_cast<FastCryptor*>(self_obj);
  Py_CLEAR(self->core_obj);
  Py_TYPE(self_obj)->tp_free(self_obj);
}

bool ready(FastCryptor* self) {
  if (self->core == nullptr) {
    PyErr_SetString(PyExc_RuntimeError, "FrameCryptorBase.__init__ was not called");
    return false;
  }
  return true;
}

// (frame, key_frame) from fastcall arguments; key_frame stays nullptr when absent.
bool parse_args(const char* fname, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames, PyObject** frame,
                PyObject** key_frame) {
  *frame = nullptr;
  *key_frame = nullptr;
  if (nargs > 2) {
    PyErr_Format(PyExc_TypeError, "%s() takes at most 2 arguments (%zd given)", fname, nargs);
    return false;
  }
  if (nargs >= 1) *frame = args[0];
  if (nargs >= 2) *key_frame = args[1];
  const Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  for (Py_ssize_t i = 0; i < nkw; ++i) {
    PyObject* name = PyTuple_GET_ITEM(kwnames, i);
    PyObject* value = args[nargs + i];
    if (PyUnicode_CompareWithASCIIString(name, "frame") == 0 && *frame == nullptr) {
      *frame = value;
    } else if (PyUnicode_CompareWithASCIIString(name, "key_frame") == 0 && *key_frame == nullptr) {
      *key_frame = value;
    } else {
      PyErr_Format(PyExc_TypeError, "%s() got an unexpected or repeated keyword argument '%U'", fname, name);
      return false;
    }
  }
  if (*frame == nullptr) {
    PyErr_Format(PyExc_TypeError, "%s() missing required argument 'frame'", fname);
    return false;
  }
  return true;
}

// Calls self.<method>(*args) and returns its result (new reference) or nullptr.
PyObject* call(PyObject* self, const char* method, std::initializer_list<PyObject*> args) {
  PyObject* name = PyUnicode_InternFromString(method);
  if (name == nullptr) return nullptr;
  PyObject* argv[4] = {self, nullptr, nullptr, nullptr};
  size_t n = 1;
  for (PyObject* a : args) argv[n++] = a;
  PyObject* r = PyObject_VectorcallMethod(name, argv, n, nullptr);
  Py_DECREF(name);
  return r;
}

PyObject* raise_obj(PyObject* exc) {
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc)), exc);
  Py_DECREF(exc);
  return nullptr;
}

// Wraps a body that may throw pybind11 errors into a CPython-style return.
template <typename F>
PyObject* guarded(F&& f) {
  try {
    return f();
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  }
  return nullptr;
}

PyObject* fc_encrypt(PyObject* self_obj, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<FastCryptor*>(self_obj);
  PyObject *frame, *kf_obj;
  if (!ready(self) || !parse_args("encrypt", args, nargs, kwnames, &frame, &kf_obj)) return nullptr;
  return guarded([&]() -> PyObject* {
    int key_frame = 0;
    if (kf_obj != nullptr && (key_frame = PyObject_IsTrue(kf_obj)) < 0) return nullptr;
    if (!self->enabled) {
      if (self->refuse_plaintext) return call(self_obj, "_plaintext_refused", {});  // raises
      InBuffer in(frame, "frame");  // same type checks as when enabled
      if (PyBytes_CheckExact(frame)) return Py_NewRef(frame);
      return PyBytes_FromStringAndSize(reinterpret_cast<const char*>(in.view().data), in.view().size);
    }
    Result r;
    PyObject* out;
    {
      InBuffer in(frame, "frame");
      out = EncryptNew(*self->core, in.view(), key_frame != 0, in.size() >= kGilReleaseThreshold, &r);
    }
    if (out == nullptr) {
      if (PyErr_Occurred()) return nullptr;
      const int idx = r.status == Status::kMissingKey ? self->core->key_index() : -1;
      py::object exc = MakeStatusError(
          r.status, r.status == Status::kMissingKey ? "key index " + std::to_string(idx) : std::string(), idx);
      PyObject* cb = call(self_obj, "_encrypt_failed", {exc.ptr()});
      if (cb == nullptr) return nullptr;
      Py_DECREF(cb);
      return raise_obj(exc.release().ptr());
    }
    if (self->state != kStateOk && r.size != 0) {
      PyObject* cb = call(self_obj, "_encrypt_ok", {});
      if (cb == nullptr) {
        Py_DECREF(out);
        return nullptr;
      }
      Py_DECREF(cb);
    }
    return out;
  });
}

PyObject* fc_decrypt(PyObject* self_obj, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* self = reinterpret_cast<FastCryptor*>(self_obj);
  PyObject *frame, *kf_obj;
  if (!ready(self) || !parse_args("decrypt", args, nargs, kwnames, &frame, &kf_obj)) return nullptr;
  return guarded([&]() -> PyObject* {
    int key_frame = -1;
    if (kf_obj != nullptr && kf_obj != Py_None) {
      if ((key_frame = PyObject_IsTrue(kf_obj)) < 0) return nullptr;
    }
    if (!self->enabled) {
      if (self->refuse_plaintext) return call(self_obj, "_plaintext_refused", {});  // raises
      InBuffer in(frame, "frame");
      if (PyBytes_CheckExact(frame)) return Py_NewRef(frame);
      return PyBytes_FromStringAndSize(reinterpret_cast<const char*>(in.view().data), in.view().size);
    }
    fc::DecryptOutcome r;
    PyObject* out;
    size_t in_size;
    {
      InBuffer in(frame, "frame");
      in_size = in.size();
      const size_t cap = self->core->DecryptCapacity(in.view());
      out = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(cap));
      if (out == nullptr) return nullptr;
      MutByteView o{reinterpret_cast<uint8_t*>(PyBytes_AS_STRING(out)), cap};
      MaybeReleaseGil g(in_size >= kGilReleaseThreshold);
      r = self->core->Decrypt(in.view(), key_frame, o);
    }  // buffer released before any Python callback runs
    if (r.status != Status::kOk) {
      Py_DECREF(out);
      std::string extra;
      if (r.status == Status::kMissingKey || r.status == Status::kBadTrailer)
        extra = "key index " + std::to_string(r.key_index);
      else if (r.status == Status::kFrameTooShort)
        extra = std::to_string(in_size) + " bytes";
      py::object exc = MakeStatusError(r.status, extra, r.key_index);
      if (r.status == Status::kAuthFailed) {
        // ratchet window and failure accounting; returns plaintext or raises
        return call(self_obj, "_recover_bytes", {frame, kf_obj ? kf_obj : Py_None, exc.ptr()});
      }
      PyObject* cb = call(self_obj, "_decrypt_failed", {exc.ptr()});
      if (cb == nullptr) return nullptr;
      Py_DECREF(cb);
      return raise_obj(exc.release().ptr());
    }
    if (static_cast<size_t>(PyBytes_GET_SIZE(out)) != r.size && _PyBytes_Resize(&out, static_cast<Py_ssize_t>(r.size)) != 0)
      return nullptr;
    if (self->state != kStateOk && r.kind == fc::DecryptOutcome::Kind::kDecrypted) {
      PyObject* idx = PyLong_FromLong(r.key_index);
      PyObject* cb = idx ? call(self_obj, "_decrypt_ok", {idx}) : nullptr;
      Py_XDECREF(idx);
      if (cb == nullptr) {
        Py_DECREF(out);
        return nullptr;
      }
      Py_DECREF(cb);
    }
    return out;
  });
}

PyObject* get_core(PyObject* self_obj, void*) {
  auto* self = reinterpret_cast<FastCryptor*>(self_obj);
  if (!ready(self)) return nullptr;
  return Py_NewRef(self->core_obj);
}

PyObject* get_enabled(PyObject* self_obj, void*) {
  return PyBool_FromLong(reinterpret_cast<FastCryptor*>(self_obj)->enabled);
}

int set_enabled(PyObject* self_obj, PyObject* value, void*) {
  if (value == nullptr) {
    PyErr_SetString(PyExc_AttributeError, "cannot delete enabled");
    return -1;
  }
  const int v = PyObject_IsTrue(value);
  if (v < 0) return -1;
  reinterpret_cast<FastCryptor*>(self_obj)->enabled = v;
  return 0;
}

PyObject* get_refuse(PyObject* self_obj, void*) {
  return PyBool_FromLong(reinterpret_cast<FastCryptor*>(self_obj)->refuse_plaintext);
}

int set_refuse(PyObject* self_obj, PyObject* value, void*) {
  if (value == nullptr) {
    PyErr_SetString(PyExc_AttributeError, "cannot delete _refuse_plaintext");
    return -1;
  }
  const int v = PyObject_IsTrue(value);
  if (v < 0) return -1;
  reinterpret_cast<FastCryptor*>(self_obj)->refuse_plaintext = v;
  return 0;
}

PyObject* get_state(PyObject* self_obj, void*) { return PyLong_FromLong(reinterpret_cast<FastCryptor*>(self_obj)->state); }

int set_state(PyObject* self_obj, PyObject* value, void*) {
  if (value == nullptr) {
    PyErr_SetString(PyExc_AttributeError, "cannot delete _state");
    return -1;
  }
  const long v = PyLong_AsLong(value);
  if (v == -1 && PyErr_Occurred()) return -1;
  reinterpret_cast<FastCryptor*>(self_obj)->state = static_cast<int>(v);
  return 0;
}

PyMethodDef methods[] = {
    {"encrypt", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(fc_encrypt)), METH_FASTCALL | METH_KEYWORDS,
     "encrypt(frame, key_frame=False) -> bytes\n--\n\n"
     "Encrypts one encoded frame (any C-contiguous bytes-like object).\n\n"
     "key_frame selects VP8's 10-byte (key) or 3-byte (delta) clear header and the\n"
     "H.264/H.265 fallback rule, as a sender's frame type does. Empty frames are\n"
     "returned unchanged; a disabled cryptor returns the frame as is. On failure an\n"
     "exception is raised and nothing is returned (fail closed)."},
    {"decrypt", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(fc_decrypt)), METH_FASTCALL | METH_KEYWORDS,
     "decrypt(frame, key_frame=None) -> bytes\n--\n\n"
     "Decrypts one received frame (any C-contiguous bytes-like object).\n\n"
     "key_frame=None lets the bitstream decide where it can (VP8's frame tag); for\n"
     "H.264/H.265 frames without a slice both fallback rules are tried. Authentication\n"
     "failure raises DecryptionError after the ratchet window; ciphertext is never\n"
     "returned as plaintext. A disabled cryptor returns the frame as is."},
    {nullptr, nullptr, 0, nullptr},
};

PyGetSetDef getset[] = {
    {"_core", get_core, nullptr, "The native FrameCryptorCore.", nullptr},
    {"enabled", get_enabled, set_enabled, "Whether frames are encrypted/decrypted (else passed through).", nullptr},
    {"_state", get_state, set_state, "EncryptionState value.", nullptr},
    {"_refuse_plaintext", get_refuse, set_refuse, "Refuse frames while disabled (require_encryption).", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

}  // namespace

void BindFast(py::module_& m) {
  static PyTypeObject type = [] {
    PyTypeObject t{PyVarObject_HEAD_INIT(nullptr, 0)};
    t.tp_name = "framecryptor._native.FrameCryptorBase";
    t.tp_basicsize = sizeof(FastCryptor);
    t.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE;
    t.tp_doc = "Native base of FrameCryptor (the per-frame hot path).";
    t.tp_new = PyType_GenericNew;
    t.tp_init = fc_init;
    t.tp_dealloc = fc_dealloc;
    t.tp_methods = methods;
    t.tp_getset = getset;
    return t;
  }();
  if (PyType_Ready(&type) < 0) throw py::error_already_set();
  Py_INCREF(&type);
  m.add_object("FrameCryptorBase", reinterpret_cast<PyObject*>(&type));
}

}  // namespace fcpy
