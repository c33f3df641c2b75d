// Format helpers exposed for inspection and tests: RBSP, NAL units, layouts,
// trailer, SIF payloads, packet trailer.
#include "common.h"
#include "framecryptor/codec.h"
#include "framecryptor/frame.h"
#include "framecryptor/nalu.h"
#include "framecryptor/packet_trailer.h"
#include "framecryptor/rbsp.h"
#include "framecryptor/sif.h"

namespace fcpy {

namespace fc = framecryptor;

fc::Codec ToCodec(int c) {
  if (!fc::IsValidCodec(c)) Raise("InvalidArgumentError", "unknown codec id " + std::to_string(c));
  return static_cast<fc::Codec>(c);
}

namespace {

py::tuple layout_tuple(const fc::FrameLayout& l) { return py::make_tuple(l.header_len, l.nal); }

}  // namespace

void BindFormat(py::module_& m) {
  m.attr("IV_SIZE") = fc::kIvSize;
  m.attr("TAG_SIZE") = fc::kTagSize;
  m.attr("FRAME_OVERHEAD") = fc::kFrameOverhead;
  m.attr("MAX_FRAME_SIZE") = fc::kMaxCryptSize;

  m.def(
      "as_bytes",
      [](py::handle data) -> py::object {
        if (PyBytes_CheckExact(data.ptr())) return py::reinterpret_borrow<py::object>(data);
        InBuffer in(data, "frame");
        return py::bytes(reinterpret_cast<const char*>(in.view().data), in.size());
      },
      py::arg("data"), "data as bytes (the same object when it already is), with the buffer checks of encrypt.");
  m.def(
      "rbsp_escape",
      [](py::handle data) {
        InBuffer in(data, "data");
        const ByteView v = in.view();
        return MakeBytes(fc::RbspEscapedBound(v.size), v.size >= kGilReleaseThreshold,
                         [&](MutByteView out) { return Result::Ok(fc::RbspEscape(v, out.data)); });
      },
      py::arg("data"), "Inserts emulation prevention bytes (00 00 0x -> 00 00 03 0x for x <= 3).");
  m.def(
      "rbsp_unescape",
      [](py::handle data) {
        InBuffer in(data, "data");
        const ByteView v = in.view();
        return MakeBytes(v.size, v.size >= kGilReleaseThreshold,
                         [&](MutByteView out) { return Result::Ok(fc::RbspUnescape(v, out.data)); });
      },
      py::arg("data"), "Removes emulation prevention bytes (00 00 03 -> 00 00).");
  m.def(
      "rbsp_needs_unescape", [](py::handle data) { return fc::RbspNeedsUnescape(InBuffer(data, "data").view()); },
      py::arg("data"));
  m.def(
      "find_nal_units",
      [](py::handle data) {
        InBuffer in(data, "data");
        bool leading = false;
        auto v = fc::FindNalUnits(in.view(), &leading);
        py::list out;
        for (size_t off : v) out.append(py::make_tuple(off, in.view()[off]));
        return py::make_tuple(out, leading);
      },
      py::arg("data"),
      "Annex-B NAL units as livekit-client finds them: ([(offset, header byte)], leading_data).");
  m.def(
      "js_layout",
      [](int codec, py::handle frame, bool key_frame) {
        InBuffer in(frame, "frame");
        return layout_tuple(fc::JsLayout(ToCodec(codec), key_frame, in.view()));
      },
      py::arg("codec"), py::arg("frame"), py::arg("key_frame"),
      "(clear header length, escaped) that livekit-client derives for this frame.");
  m.def(
      "receiver_layouts",
      [](int codec, py::handle frame, int key_frame) {
        InBuffer in(frame, "frame");
        fc::FrameLayout out[6];
        fc::DecryptParams p;
        p.codec = ToCodec(codec);
        p.key_frame = key_frame;
        const size_t n = fc::ReceiverLayouts(p, in.view(), out);
        py::list l;
        for (size_t i = 0; i < n; ++i) l.append(layout_tuple(out[i]));
        return l;
      },
      py::arg("codec"), py::arg("frame"), py::arg("key_frame") = -1,
      "The layouts decryption tries for this received frame, in order.");
  m.def(
      "read_trailer",
      [](py::handle frame) {
        InBuffer in(frame, "frame");
        fc::TrailerInfo t;
        const fc::Status st = fc::ReadTrailer(in.view(), &t);
        if (st == fc::Status::kBadTrailer)
          Raise("InvalidFrameError", "bad frame trailer: IV length byte is " + std::to_string(t.iv_length) +
                                         ", expected 12 (key index byte " + std::to_string(t.key_index) + ")");
        Check(st, "need at least 30 bytes, got " + std::to_string(in.size()));
        return py::make_tuple(t.key_index, t.iv_length);
      },
      py::arg("frame"), "(key index, IV length) from an encrypted frame's trailer.");
  m.def(
      "identify_sif_payload",
      [](int codec, py::handle payload) -> py::object {
        const char* n = fc::IdentifySifPayload(ToCodec(codec), InBuffer(payload, "payload").view());
        return n ? py::object(py::str(n)) : py::object(py::none());
      },
      py::arg("codec"), py::arg("payload"), "Name of the allow-listed SIF payload, or None.");
  m.def(
      "parse_packet_trailer",
      [](py::handle frame) -> py::object {
        InBuffer in(frame, "frame");
        fc::PacketTrailer t;
        if (!fc::ParsePacketTrailer(in.view(), &t)) return py::none();
        py::object ud = py::none();
        if (t.has_user_data) {
          std::string s(t.user_data_size, '\0');
          for (size_t i = 0; i < t.user_data_size; ++i)
            s[i] = static_cast<char>(in.view()[t.user_data_offset + i] ^ 0xff);
          ud = py::bytes(s);
        }
        return py::make_tuple(t.stripped_size,
                              t.has_timestamp ? py::object(py::int_(t.user_timestamp)) : py::object(py::none()),
                              t.has_frame_id ? py::object(py::int_(t.frame_id)) : py::object(py::none()), ud);
      },
      py::arg("frame"),
      "LKTS trailer at the end of frame: (stripped size, user_timestamp, frame_id, user_data) or None.");
  m.def(
      "build_packet_trailer",
      [](py::object user_timestamp, py::object frame_id, py::handle user_data) {
        InBuffer ud(user_data, "user_data");
        const bool has_ts = !user_timestamp.is_none();
        const bool has_id = !frame_id.is_none();
        auto in_range = [](py::handle v, const char* what, unsigned bits) {
          if (!PyLong_Check(v.ptr()) || PyBool_Check(v.ptr()))
            Raise("InvalidArgumentError", std::string(what) + " must be an int");
          const py::int_ limit = py::int_(1).attr("__lshift__")(bits);
          if (v < py::int_(0) || v >= limit)
            Raise("InvalidArgumentError", std::string(what) + " must be 0 .. 2**" + std::to_string(bits) + " - 1");
        };
        if (has_ts) in_range(user_timestamp, "user_timestamp", 64);
        if (has_id) in_range(frame_id, "frame_id", 32);
        const uint64_t ts = has_ts ? user_timestamp.cast<uint64_t>() : 0;
        const uint32_t id = has_id ? frame_id.cast<uint32_t>() : 0;
        const size_t n = fc::PacketTrailerSize(has_ts, has_id, ud.size());
        if (n > fc::kPacketTrailerMaxSize)
          Raise("InvalidArgumentError", "packet trailer would be " + std::to_string(n) + " bytes (max 255)");
        std::string out(n, '\0');
        fc::WritePacketTrailer(has_ts, ts, has_id, id, ud.view(), reinterpret_cast<uint8_t*>(&out[0]));
        return py::bytes(out);
      },
      py::arg("user_timestamp") = py::none(), py::arg("frame_id") = py::none(), py::arg("user_data") = py::bytes(),
      "An LKTS trailer to append after encryption (empty when nothing is given).");
}

}  // namespace fcpy
