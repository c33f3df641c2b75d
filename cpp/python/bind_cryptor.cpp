// Key ring, SIF policy and the per-track frame cryptor.
#include <memory>
#include <vector>

#include "common.h"
#include "framecryptor/cryptor.h"
#include "framecryptor/parallel.h"

namespace fcpy {

namespace fc = framecryptor;
using fc::AesGcmKey;
using fc::DecryptOutcome;
using fc::FrameCounters;
using fc::ReplayGuard;
using fc::FrameCryptorCore;
using fc::KeyRing;
using fc::SifPolicy;


namespace {

std::shared_ptr<KeyRing> make_ring(int size) {
  if (size < 1 || size > static_cast<int>(KeyRing::kMaxSize))
    Raise("InvalidArgumentError", "key ring size must be 1..256, got " + std::to_string(size));
  return std::make_shared<KeyRing>(static_cast<size_t>(size));
}

void check_index(const KeyRing& r, int index) {
  if (index < 0 || static_cast<size_t>(index) >= r.size())
    Raise("InvalidArgumentError",
          "key index " + std::to_string(index) + " out of range for a ring of " + std::to_string(r.size()));
}

int key_frame_arg(py::handle kf) {
  if (kf.is_none()) return -1;
  return py::cast<bool>(kf) ? 1 : 0;
}

[[noreturn]] void raise_decrypt(const DecryptOutcome& r, size_t in_size) {
  std::string extra;
  switch (r.status) {
    case Status::kMissingKey:
      extra = "key index " + std::to_string(r.key_index);
      break;
    case Status::kFrameTooShort:
      extra = std::to_string(in_size) + " bytes";
      break;
    case Status::kBadTrailer:
      extra = "key index byte " + std::to_string(r.key_index);
      break;
    default:
      break;
  }
  RaiseStatus(r.status, extra, r.key_index);
}

py::object decrypt_info(const DecryptOutcome& r, const InBuffer& in) {
  py::dict d;
  static const char* kinds[] = {"decrypted", "empty", "sif"};
  d["kind"] = kinds[static_cast<int>(r.kind)];
  d["key_index"] = r.key_index;
  d["header_len"] = r.layout.header_len;
  d["escaped"] = r.layout.nal;
  d["sif_payload"] = r.sif_payload ? py::object(py::str(r.sif_payload)) : py::object(py::none());
  if (r.has_packet_trailer) {
    const auto& t = r.packet_trailer;
    py::object ud = py::none();
    if (t.has_user_data) {
      std::string s(t.user_data_size, '\0');
      for (size_t i = 0; i < t.user_data_size; ++i) s[i] = static_cast<char>(in.view()[t.user_data_offset + i] ^ 0xff);
      ud = py::bytes(s);
    }
    d["packet_trailer"] =
        py::make_tuple(t.has_timestamp ? py::object(py::int_(t.user_timestamp)) : py::object(py::none()),
                       t.has_frame_id ? py::object(py::int_(t.frame_id)) : py::object(py::none()), ud);
  } else {
    d["packet_trailer"] = py::none();
  }
  return std::move(d);
}

// Decrypts into a new bytes object; returns it and the outcome.
std::pair<py::bytes, DecryptOutcome> decrypt_bytes(const FrameCryptorCore& c, const InBuffer& in, int kf,
                                                   const AesGcmKey* key) {
  DecryptOutcome outcome;
  py::bytes out = MakeBytes(
      c.DecryptCapacity(in.view()), in.size() >= kGilReleaseThreshold,
      [&](MutByteView o) {
        outcome = c.Decrypt(in.view(), kf, o, key);
        return outcome.status == Status::kOk ? Result::Ok(outcome.size) : Result::Err(outcome.status);
      },
      [&](Status) { raise_decrypt(outcome, in.size()); });
  return {out, outcome};
}

py::bytes encrypt_bytes(const FrameCryptorCore& c, py::handle frame, bool key_frame, AesGcmKey* key,
                        int key_index) {
  InBuffer in(frame, "frame");
  Result r;
  PyObject* out = EncryptNew(c, in.view(), key_frame, in.size() >= kGilReleaseThreshold, &r, key,
                             static_cast<uint8_t>(key ? key_index : 0));
  if (out == nullptr) {
    if (PyErr_Occurred()) throw py::error_already_set();
    const int idx = key ? key_index : c.key_index();
    RaiseStatus(r.status, r.status == Status::kMissingKey ? "key index " + std::to_string(idx) : "",
                r.status == Status::kMissingKey ? idx : -1);
  }
  return py::reinterpret_steal<py::bytes>(out);
}

}  // namespace

PyObject* EncryptNew(const FrameCryptorCore& c, ByteView in, bool key_frame, bool release_gil, Result* result,
                     AesGcmKey* key, uint8_t key_index) {
  size_t cap = c.EncryptHint(in.size);
  for (int attempt = 0; attempt < 2; ++attempt) {
    PyObject* out = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(cap));
    if (out == nullptr) return nullptr;
    const MutByteView o{reinterpret_cast<uint8_t*>(PyBytes_AS_STRING(out)), cap};
    {
      MaybeReleaseGil g(release_gil);
      *result = key ? c.EncryptWith(*key, key_index, in, key_frame, o) : c.Encrypt(in, key_frame, o);
    }
    if (result->ok()) {
      if (result->size != cap && _PyBytes_Resize(&out, static_cast<Py_ssize_t>(result->size)) != 0) return nullptr;
      return out;
    }
    Py_DECREF(out);  // wiped by the core: nothing of a failed encryption leaves
    if (result->status != Status::kOutputTooSmall || cap == c.EncryptBound(in.size)) return nullptr;
    cap = c.EncryptBound(in.size);
  }
  return nullptr;
}

namespace {

// -- batches ---------------------------------------------------------------------

// Batches above this many bytes use every hardware thread when threads=None.
constexpr size_t kAutoThreadsBytes = size_t{256} * 1024;

// The frames of a batch as buffer views (held until the batch is done).
struct Batch {
  std::vector<Py_buffer> views;
  std::vector<int> key_frames;
  size_t total = 0;

  Batch() = default;
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;
  Batch(Batch&&) = default;
  ~Batch() {
    for (Py_buffer& v : views) PyBuffer_Release(&v);
  }
  size_t size() const { return views.size(); }
  ByteView view(size_t i) const {
    return {static_cast<const uint8_t*>(views[i].buf), static_cast<size_t>(views[i].len)};
  }
};

Batch collect(py::handle frames, py::handle key_frames, bool decrypting) {
  Batch b;
  if (PyUnicode_Check(frames.ptr()) || PyBytes_Check(frames.ptr()) || PyByteArray_Check(frames.ptr()))
    Raise("InvalidBufferError", "frames must be a sequence of bytes-like frames, not a single frame");
  py::sequence seq = py::reinterpret_steal<py::sequence>(PySequence_Fast(frames.ptr(), "frames must be iterable"));
  if (!seq) throw py::error_already_set();
  const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq.ptr());
  PyObject** items = PySequence_Fast_ITEMS(seq.ptr());
  b.views.reserve(static_cast<size_t>(n));
  for (Py_ssize_t i = 0; i < n; ++i) {
    b.views.emplace_back();
    try {
      AcquireBuffer(items[i], &b.views.back(), "frame");
    } catch (...) {
      b.views.pop_back();  // not acquired: must not be released
      throw;
    }
    b.total += static_cast<size_t>(b.views.back().len);
  }
  const int dflt = decrypting ? -1 : 0;
  if (key_frames.is_none()) {
    b.key_frames.assign(b.size(), dflt);
  } else if (PyBool_Check(key_frames.ptr())) {
    b.key_frames.assign(b.size(), key_frames.ptr() == Py_True ? 1 : 0);
  } else {
    for (py::handle k : py::iter(key_frames)) b.key_frames.push_back(k.is_none() ? dflt : (py::cast<bool>(k) ? 1 : 0));
    if (b.key_frames.size() != b.size())
      Raise("InvalidArgumentError", "key_frames has " + std::to_string(b.key_frames.size()) + " entries for " +
                                        std::to_string(b.size()) + " frames");
  }
  return b;
}

unsigned thread_count(py::handle threads, const Batch& b) {
  if (threads.is_none()) return b.total >= kAutoThreadsBytes ? fc::HardwareThreads() : 1;
  const long t = py::cast<long>(threads);
  if (t < 1 || t > 64) Raise("InvalidArgumentError", "threads must be 1..64, got " + std::to_string(t));
  return static_cast<unsigned>(t);
}

// Output bytes objects allocated up front (with the GIL), filled without it.
struct Outputs {
  std::vector<PyObject*> objs;
  ~Outputs() {
    for (PyObject* o : objs) Py_XDECREF(o);
  }
  MutByteView alloc(size_t i, size_t cap) {
    PyObject* o = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(cap));
    if (o == nullptr) throw py::error_already_set();
    objs[i] = o;
    return {reinterpret_cast<uint8_t*>(PyBytes_AS_STRING(o)), cap};
  }
  // Trims object i to size and hands the reference to the caller.
  py::object take(size_t i, size_t size) {
    PyObject* o = objs[i];
    objs[i] = nullptr;
    if (static_cast<size_t>(PyBytes_GET_SIZE(o)) != size && _PyBytes_Resize(&o, static_cast<Py_ssize_t>(size)) != 0)
      throw py::error_already_set();
    return py::reinterpret_steal<py::object>(o);
  }
};

// Runs op(i, output view) for every frame of the batch with the GIL released,
// outputs allocated beforehand at capacity(frame view).
template <typename R, typename Capacity, typename Op>
std::vector<R> run_batch(const Batch& b, unsigned threads, Outputs& outs, std::vector<MutByteView>& views,
                         Capacity&& capacity, Op&& op) {
  const size_t n = b.size();
  outs.objs.assign(n, nullptr);
  views.resize(n);
  for (size_t i = 0; i < n; ++i) views[i] = outs.alloc(i, capacity(b.view(i)));
  std::vector<R> res(n);
  py::gil_scoped_release release;
  fc::ParallelFor(n, threads, [&](size_t i) { res[i] = op(i, views[i]); });
  return res;
}

py::list encrypt_many(const FrameCryptorCore& c, py::handle frames, py::handle key_frames, py::handle threads) {
  Batch b = collect(frames, key_frames, false);
  const size_t n = b.size();
  Outputs outs;
  std::vector<MutByteView> views;
  std::vector<Result> res = run_batch<Result>(
      b, thread_count(threads, b), outs, views, [&](ByteView in) { return c.EncryptHint(in.size); },
      [&](size_t i, MutByteView out) { return c.Encrypt(b.view(i), b.key_frames[i] != 0, out); });
  for (size_t i = 0; i < n; ++i) {
    if (res[i].status != Status::kOutputTooSmall) continue;
    // Rare: more escapes than the hint leaves room for; again at the bound.
    Py_CLEAR(outs.objs[i]);
    views[i] = outs.alloc(i, c.EncryptBound(b.view(i).size));
    res[i] = c.Encrypt(b.view(i), b.key_frames[i] != 0, views[i]);
  }
  for (size_t i = 0; i < n; ++i) {
    if (!res[i].ok()) {
      // Fail closed: no output of the batch is returned (failed slots are wiped).
      py::object e = MakeStatusError(res[i].status, "frame " + std::to_string(i),
                                     res[i].status == Status::kMissingKey ? c.key_index() : -1);
      e.attr("index") = i;
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(e.ptr())), e.ptr());
      throw py::error_already_set();
    }
  }
  py::list out(n);
  for (size_t i = 0; i < n; ++i) out[i] = outs.take(i, res[i].size);
  return out;
}

py::tuple decrypt_many(const FrameCryptorCore& c, py::handle frames, py::handle key_frames, py::handle threads) {
  Batch b = collect(frames, key_frames, true);
  const size_t n = b.size();
  Outputs outs;
  std::vector<MutByteView> views;
  std::vector<DecryptOutcome> res = run_batch<DecryptOutcome>(
      b, thread_count(threads, b), outs, views, [&](ByteView in) { return c.DecryptCapacity(in); },
      [&](size_t i, MutByteView out) { return c.Decrypt(b.view(i), b.key_frames[i], out); });
  py::list out(n);
  py::list failed;
  bool any_decrypted = false;
  for (size_t i = 0; i < n; ++i) {
    const DecryptOutcome& r = res[i];
    if (r.status == Status::kOk) {
      out[i] = outs.take(i, r.size);
      any_decrypted = any_decrypted || r.kind == DecryptOutcome::Kind::kDecrypted;
    } else {
      failed.append(i);
      std::string extra = r.status == Status::kMissingKey ? "key index " + std::to_string(r.key_index) : "";
      py::object e = MakeStatusError(r.status, extra, r.key_index);
      e.attr("index") = i;
      out[i] = e;
    }
  }
  return py::make_tuple(out, failed, any_decrypted);
}

}  // namespace

FrameCounters::Kind counter_kind(const std::string& name) {
  for (int k = 0; k < FrameCounters::kKindCount; ++k) {
    if (name == FrameCounters::Name(static_cast<FrameCounters::Kind>(k))) return static_cast<FrameCounters::Kind>(k);
  }
  Raise("InvalidArgumentError", "unknown counter " + name);
}

void BindCryptor(py::module_& m) {
  py::class_<FrameCounters, std::shared_ptr<FrameCounters>>(m, "FrameCounters",
                                                            "Per key index counts of one participant's frames.")
      .def(py::init<>())
      .def_property_readonly_static("KINDS",
                                    [](py::handle) {
                                      py::list l;
                                      for (int k = 0; k < FrameCounters::kKindCount; ++k)
                                        l.append(FrameCounters::Name(static_cast<FrameCounters::Kind>(k)));
                                      return py::tuple(l);
                                    })
      .def(
          "add",
          [](FrameCounters& c, int key_index, const std::string& kind, uint64_t n) {
            if (key_index < 0 || key_index > 255) Raise("InvalidArgumentError", "key index must be 0..255");
            c.Add(static_cast<size_t>(key_index), counter_kind(kind), n);
          },
          py::arg("key_index"), py::arg("kind"), py::arg("n") = 1)
      .def(
          "snapshot",
          [](const FrameCounters& c) {
            py::dict out;
            for (size_t i = 0; i < 256; ++i) {
              py::dict row;
              bool any = false;
              for (int k = 0; k < FrameCounters::kKindCount; ++k) {
                const uint64_t v = c.Get(i, static_cast<FrameCounters::Kind>(k));
                row[FrameCounters::Name(static_cast<FrameCounters::Kind>(k))] = v;
                any = any || v != 0;
              }
              if (any) out[py::int_(i)] = row;
            }
            return out;
          },
          "{key index: {kind: count}} for the key indexes with any count.");

  py::class_<ReplayGuard, std::shared_ptr<ReplayGuard>>(m, "ReplayGuard", "Sliding-window replay protection.")
      .def(py::init([](int window, int max_streams) {
             if (window < 1 || window > 65536) Raise("InvalidArgumentError", "replay window must be 1..65536");
             if (max_streams < 1) Raise("InvalidArgumentError", "max_streams must be >= 1");
             return std::make_shared<ReplayGuard>(static_cast<uint32_t>(window), static_cast<size_t>(max_streams));
           }),
           py::arg("window"), py::arg("max_streams") = 1024)
      .def_property_readonly("window", &ReplayGuard::window);

  py::class_<KeyRing, std::shared_ptr<KeyRing>>(m, "KeyRing", "Fixed-size ring of AES keys by key index.")
      .def(py::init(&make_ring), py::arg("size"))
      .def_property_readonly("size", &KeyRing::size)
      .def("__len__", &KeyRing::size)
      .def(
          "set",
          [](KeyRing& r, int index, std::shared_ptr<AesGcmKey> key) {
            check_index(r, index);
            r.Set(static_cast<size_t>(index), std::move(key));
          },
          py::arg("index"), py::arg("key").none(true))
      .def(
          "get",
          [](const KeyRing& r, int index) {
            check_index(r, index);
            return r.Get(static_cast<size_t>(index));
          },
          py::arg("index"));

  py::class_<SifPolicy, std::shared_ptr<SifPolicy>>(m, "SifPolicy",
                                                    "The room's SIF trailer and whether SIF frames are forwarded.")
      .def(py::init<>())
      .def_property(
          "trailer",
          [](const SifPolicy& s) {
            auto t = s.Trailer();
            return py::bytes(reinterpret_cast<const char*>(t.data()), t.size());
          },
          [](SifPolicy& s, py::handle t) { s.SetTrailer(InBuffer(t, "trailer").view()); })
      .def_property("forwarding", &SifPolicy::forwarding, &SifPolicy::SetForwarding);

  py::class_<FrameCryptorCore, std::shared_ptr<FrameCryptorCore>>(m, "FrameCryptorCore",
                                                                  "Per-track frame encryption and decryption.")
      .def(py::init([](int codec, std::shared_ptr<KeyRing> ring, std::shared_ptr<SifPolicy> sif) {
             return std::make_shared<FrameCryptorCore>(ToCodec(codec), std::move(ring), std::move(sif));
           }),
           py::arg("codec"), py::arg("ring"), py::arg("sif"))
      .def_property_readonly("codec", [](const FrameCryptorCore& c) { return static_cast<int>(c.codec()); })
      .def_property("key_ring", &FrameCryptorCore::key_ring, &FrameCryptorCore::SetKeyRing)
      .def_property(
          "key_index", &FrameCryptorCore::key_index,
          [](FrameCryptorCore& c, int index) {
            if (index < 0 || c.SetKeyIndex(static_cast<size_t>(index)) != Status::kOk) {
              auto ring = c.key_ring();
              Raise("InvalidArgumentError", "key index " + std::to_string(index) + " out of range for a ring of " +
                                                std::to_string(ring ? ring->size() : 0));
            }
          })
      .def_property("packet_trailer", &FrameCryptorCore::packet_trailer, &FrameCryptorCore::SetPacketTrailer)
      .def_property("normalize_start_codes", &FrameCryptorCore::normalize_start_codes,
                    &FrameCryptorCore::SetNormalizeStartCodes)
      .def_property("counters", &FrameCryptorCore::counters, &FrameCryptorCore::SetCounters)
      .def_property("replay_guard", &FrameCryptorCore::replay_guard, &FrameCryptorCore::SetReplayGuard)
      .def("max_encrypted_size", &FrameCryptorCore::EncryptBound, py::arg("frame_size"))
      .def("max_decrypted_size", &FrameCryptorCore::DecryptBound, py::arg("frame_size"))
      .def(
          "encrypt",
          [](const FrameCryptorCore& c, py::handle frame, bool key_frame) {
            return encrypt_bytes(c, frame, key_frame, nullptr, -1);
          },
          py::arg("frame"), py::arg("key_frame") = false)
      .def(
          "encrypt_with",
          [](const FrameCryptorCore& c, AesGcmKey& key, int key_index, py::handle frame, bool key_frame) {
            if (key_index < 0 || key_index > 255)
              Raise("InvalidArgumentError", "key index must be 0..255, got " + std::to_string(key_index));
            return encrypt_bytes(c, frame, key_frame, &key, key_index);
          },
          py::arg("key"), py::arg("key_index"), py::arg("frame"), py::arg("key_frame") = false)
      .def(
          "encrypt_into",
          [](const FrameCryptorCore& c, py::handle frame, py::handle out, bool key_frame) {
            InBuffer in(frame, "frame");
            OutBuffer ob(out, "out");
            const size_t need = c.EncryptBound(in.size());
            if (ob.size() < need)
              Raise("InvalidArgumentError", "out has " + std::to_string(ob.size()) + " bytes, needs " +
                                                std::to_string(need) + " (max_encrypted_size)");
            Result r;
            {
              MaybeReleaseGil g(in.size() >= kGilReleaseThreshold);
              r = c.Encrypt(in.view(), key_frame, ob.view());
            }
            if (!r.ok()) RaiseStatus(r.status, "", r.status == Status::kMissingKey ? c.key_index() : -1);
            return r.size;
          },
          py::arg("frame"), py::arg("out"), py::arg("key_frame") = false)
      .def(
          "decrypt",
          [](const FrameCryptorCore& c, py::handle frame, py::handle key_frame) {
            InBuffer in(frame, "frame");
            return decrypt_bytes(c, in, key_frame_arg(key_frame), nullptr).first;
          },
          py::arg("frame"), py::arg("key_frame") = py::none())
      .def(
          "decrypt_with",
          [](const FrameCryptorCore& c, const AesGcmKey& key, py::handle frame, py::handle key_frame) {
            InBuffer in(frame, "frame");
            return decrypt_bytes(c, in, key_frame_arg(key_frame), &key).first;
          },
          py::arg("key"), py::arg("frame"), py::arg("key_frame") = py::none())
      .def(
          "decrypt_detailed",
          [](const FrameCryptorCore& c, py::handle frame, py::handle key_frame, std::shared_ptr<AesGcmKey> key) {
            InBuffer in(frame, "frame");
            auto r = decrypt_bytes(c, in, key_frame_arg(key_frame), key.get());
            return py::make_tuple(r.first, decrypt_info(r.second, in));
          },
          py::arg("frame"), py::arg("key_frame") = py::none(), py::arg("key") = py::none())
      .def(
          "decrypt_into",
          [](const FrameCryptorCore& c, py::handle frame, py::handle out, py::handle key_frame) {
            InBuffer in(frame, "frame");
            OutBuffer ob(out, "out");
            const size_t need = c.DecryptCapacity(in.view());
            if (ob.size() < need)
              Raise("InvalidArgumentError", "out has " + std::to_string(ob.size()) + " bytes, needs " +
                                                std::to_string(need) + " (max_decrypted_size)");
            DecryptOutcome r;
            {
              MaybeReleaseGil g(in.size() >= kGilReleaseThreshold);
              r = c.Decrypt(in.view(), key_frame_arg(key_frame), ob.view());
            }
            if (r.status != Status::kOk) raise_decrypt(r, in.size());
            return r.size;
          },
          py::arg("frame"), py::arg("out"), py::arg("key_frame") = py::none())
      .def("encrypt_many", &encrypt_many, py::arg("frames"), py::arg("key_frames") = py::none(),
           py::arg("threads") = py::none(),
           "Encrypts a batch with the GIL released; raises the first failure (attribute index), returning nothing.")
      .def("decrypt_many", &decrypt_many, py::arg("frames"), py::arg("key_frames") = py::none(),
           py::arg("threads") = py::none(),
           "Decrypts a batch with the GIL released: (entries, failed indexes, any frame decrypted); "
           "each entry is bytes or the exception for that frame.");
  m.def("hardware_threads", &fc::HardwareThreads);
}

}  // namespace fcpy
