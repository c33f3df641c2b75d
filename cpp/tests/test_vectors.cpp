// Reference vectors, read from tests/vectors at run time: frames produced by the
// real livekit-client 2.23.0 E2EE worker (decrypted here with the AES key the
// vector names), its receiver-side cases, SIF frames, and LiveKit's KDF vectors.
#include <map>

#include "framecryptor/crypto.h"
#include "framecryptor/cryptor.h"
#include "framecryptor/frame.h"
#include "framecryptor/nalu.h"
#include "harness.h"
#include "json_lite.h"
#include "reference.h"

using namespace framecryptor;
using fctest::Bytes;
using fctest::FromHex;
using fctest::Json;
using fctest::View;

namespace {

const std::vector<Json>& JsVectors() {
  static const std::vector<Json> v = fctest::ReadJsonLines(fctest::VectorDir() + "/livekit-client-2.23.0.jsonl");
  return v;
}

std::vector<const Json*> OfType(const std::string& vtype) {
  std::vector<const Json*> out;
  for (const Json& v : JsVectors())
    if (v["vtype"].str() == vtype) out.push_back(&v);
  return out;
}

Codec CodecOf(const Json& v) {
  static const std::map<std::string, Codec> m = {{"opus", Codec::kOpus}, {"vp8", Codec::kVP8},
                                                 {"vp9", Codec::kVP9},   {"av1", Codec::kAV1},
                                                 {"h264", Codec::kH264}, {"h265", Codec::kH265}};
  const auto it = m.find(v["codec"].str());
  if (it == m.end()) FCTEST_FAIL("unknown codec " + v["codec"].str(), true);
  return it->second;
}

int KeyFrameOf(const Json& v) {
  const std::string& t = v["frameType"].str();
  return t == "key" ? 1 : t == "delta" ? 0 : -1;
}

std::shared_ptr<AesGcmKey> KeyOf(const Json& key) {
  Status st = Status::kInternal;
  auto k = AesGcmKey::Create(View(FromHex(key["aesKey"].str())), &st);
  REQUIRE_OK(st);
  return k;
}

Bytes Hex(const Json& v, const std::string& field) { return v.has(field) && !v[field].is_null() ? FromHex(v[field].str()) : Bytes{}; }

}  // namespace

TEST(vectors, loaded) {
  // Guards against silently testing nothing (wrong path, truncated file).
  CHECK(OfType("frame").size() >= 150);
  CHECK(OfType("frame-decrypt").size() >= 7);
  CHECK(OfType("sif").size() >= 3);
}

TEST(vectors, js_frames_decrypt) {
  size_t decrypted = 0;
  for (const Json* vp : OfType("frame")) {
    const Json& v = *vp;
    if (v["ciphertext"].is_null()) continue;  // JS refused to encrypt: a sender case, below
    const std::string id = v["id"].str();
    const Codec codec = CodecOf(v);
    const Bytes wire = Hex(v, "ciphertext");
    const Bytes expected = v.has("decrypted") ? Hex(v, "decrypted") : Hex(v, "plaintext");
    auto key = KeyOf(v["key"]);
    for (int hint : {KeyFrameOf(v), -1}) {
      DecryptParams p;
      p.codec = codec;
      p.key_frame = hint;
      Bytes out(DecryptedSizeBound(codec, wire.size()));
      FrameLayout l;
      const Result r = DecryptFrame(*key, p, View(wire), fctest::MutView(out), &l);
      if (r.status != Status::kOk) FCTEST_FAIL(id + ": " + fctest::Show(r.status), false);
      out.resize(r.size);
      if (out != expected) FCTEST_FAIL(id + ": plaintext differs", false);
      if (!wire.empty()) {
        const Json& parsed = v["parsed"];
        CHECK_EQ(l.header_len, static_cast<size_t>(parsed["headerLen"].integer()));
      }
    }
    // Through the per-track cryptor, with the key in the slot the frame names.
    auto ring = std::make_shared<KeyRing>(16);
    ring->Set(static_cast<size_t>(v["key"]["keyIndex"].integer()), key);
    FrameCryptorCore core(codec, ring, nullptr);
    Bytes out(core.DecryptCapacity(View(wire)));
    const DecryptOutcome o = core.Decrypt(View(wire), -1, fctest::MutView(out));
    CHECK_OK(o.status);
    out.resize(o.size);
    CHECK_EQ(out, expected);
    // Any flipped byte (but the unauthenticated key index) fails.
    if (!wire.empty()) {
      for (size_t i = 0; i + 1 < wire.size(); i += 1 + wire.size() / 16) {
        Bytes bad = wire;
        bad[i] ^= 0x20;
        Bytes o2(core.DecryptCapacity(View(bad)));
        CHECK(core.Decrypt(View(bad), -1, fctest::MutView(o2)).status != Status::kOk);
      }
    }
    ++decrypted;
  }
  CHECK(decrypted >= 140);
}

TEST(vectors, our_sender_matches_js_layout) {
  // Our encryption of the vector plaintexts uses the clear header JS used
  // (where JS found a slice or the codec has a fixed rule) and decrypts back.
  for (const Json* vp : OfType("frame")) {
    const Json& v = *vp;
    const Codec codec = CodecOf(v);
    const Bytes plain = Hex(v, "plaintext");
    auto key = KeyOf(v["key"]);
    EncryptParams p;
    p.codec = codec;
    p.key_frame = KeyFrameOf(v) == 1;
    Bytes wire(EncryptedSizeBound(codec, plain.size()));
    FrameLayout l;
    const Result r = EncryptFrame(*key, p, View(plain), fctest::MutView(wire), &l);
    const std::string id = v["id"].str();
    if (r.status == Status::kFrameTooShort) {
      // JS failed on these too ("Invalid typed array length").
      CHECK(v["ciphertext"].is_null());
      continue;
    }
    if (r.status != Status::kOk) {
      FCTEST_FAIL(id + ": " + fctest::Show(r.status), false);
      continue;
    }
    wire.resize(r.size);
    const bool fixed_rule = !IsAnnexB(codec) || JsLayout(codec, p.key_frame, View(plain)).nal;
    if (!v["ciphertext"].is_null() && !plain.empty() && fixed_rule && codec != Codec::kAV1)
      CHECK_EQ(l.header_len, static_cast<size_t>(v["parsed"]["headerLen"].integer()));
    DecryptParams dp;
    dp.codec = codec;
    Bytes out(DecryptedSizeBound(codec, wire.size()));
    const Result d = DecryptFrame(*key, dp, View(wire), fctest::MutView(out));
    CHECK_OK(d.status);
    out.resize(d.size);
    // What a receiver gets back: with an escaped layout the clear header's
    // 3-byte start codes come back as 4-byte ones (as JS's receiver output
    // shows where JS used the same layout).
    Bytes expected = plain;
    if (l.nal) {
      size_t h = 0;
      while (h < plain.size() && h + CountShortStartCodes({plain.data(), h}) < l.header_len) ++h;
      expected = fcref::NormalizeStartCodes(plain.data(), h);
      expected.insert(expected.end(), plain.begin() + static_cast<std::ptrdiff_t>(h), plain.end());
      CHECK_EQ(expected.size(), plain.size() + l.header_len - h);
    }
    if (v.has("decrypted") && fixed_rule) CHECK_EQ(expected, Hex(v, "decrypted"));
    if (out != expected) FCTEST_FAIL(id + ": round trip differs", false);
  }
}

TEST(vectors, js_receiver_cases) {
  for (const Json* vp : OfType("frame-decrypt")) {
    const Json& v = *vp;
    const std::string id = v["id"].str();
    const Json& rk = v["receiverKey"];
    auto ring = std::make_shared<KeyRing>(16);
    ring->Set(static_cast<size_t>(rk["keyIndex"].integer()), KeyOf(rk));
    FrameCryptorCore core(CodecOf(v), ring, nullptr);
    const Bytes wire = Hex(v, "received");
    Bytes out(core.DecryptCapacity(View(wire)), 0xa5);
    const DecryptOutcome o = core.Decrypt(View(wire), KeyFrameOf(v), fctest::MutView(out));
    if (v["js"]["decrypt"].str() == "ok") {
      if (o.status != Status::kOk) FCTEST_FAIL(id + ": " + fctest::Show(o.status), false);
      out.resize(o.size);
      CHECK_EQ(out, Hex(v, "plaintext"));
    } else {
      if (o.status == Status::kOk) FCTEST_FAIL(id + ": decrypted a frame JS dropped", false);
      for (uint8_t b : out)
        if (b != 0 && b != 0xa5) {
          FCTEST_FAIL(id + ": output not wiped", false);
          break;
        }
    }
  }
}

TEST(vectors, sif_frames) {
  for (const Json* vp : OfType("sif")) {
    const Json& v = *vp;
    auto sif = std::make_shared<SifPolicy>();
    sif->SetTrailer(View(FromHex(v["sifTrailer"].str())));
    FrameCryptorCore core(CodecOf(v), std::make_shared<KeyRing>(16), sif);
    const Bytes wire = Hex(v, "received");
    Bytes out(core.DecryptCapacity(View(wire)));
    const DecryptOutcome o = core.Decrypt(View(wire), KeyFrameOf(v), fctest::MutView(out));
    if (v["js"]["decrypt"].str() == "ok") {
      CHECK_OK(o.status);
      CHECK(o.kind == DecryptOutcome::Kind::kSif);
      out.resize(o.size);
      CHECK_EQ(out, Hex(v, "output"));
    } else {
      CHECK_EQ(o.status, Status::kSifDropped);
    }
  }
}

TEST(vectors, ratchet_chain_keys) {
  // aesKeys128[n] = KDF of the material after n ratchets, and chain[n] = the
  // material after n + 1 ratchets = the same KDF with a 32-byte output (the
  // ratchet itself lives in Python; this checks the derivations under it).
  size_t chains = 0;
  for (const Json* vp : OfType("ratchet")) {
    const Json& v = *vp;
    const bool hkdf = v["kdf"].str() == "HKDF";
    const Bytes salt = fctest::Str(v["salt"].str());
    const Bytes info(128, 0);
    auto derive = [&](const Bytes& material, Bytes& out) {
      return hkdf ? HkdfSha256(View(material), View(salt), View(info), fctest::MutView(out))
                  : Pbkdf2Sha256(View(material), View(salt), 100000, fctest::MutView(out));
    };
    std::vector<Bytes> materials = {hkdf ? FromHex(v["key"]["value"].str()) : fctest::Str(v["key"]["value"].str())};
    for (const Json& c : v["chain"].array()) materials.push_back(FromHex(c.str()));
    REQUIRE(v["aesKeys128"].size() >= materials.size());
    for (size_t n = 0; n < materials.size(); ++n) {
      Bytes key(16);
      CHECK_OK(derive(materials[n], key));
      CHECK_EQ(key, FromHex(v["aesKeys128"][n].str()));
      if (n + 1 < materials.size()) {
        Bytes next(32);
        CHECK_OK(derive(materials[n], next));
        CHECK_EQ(next, materials[n + 1]);
      }
    }
    ++chains;
  }
  CHECK_EQ(chains, 5u);
}

TEST(vectors, kdf_json) {
  const Bytes raw = fctest::ReadFile(fctest::VectorDir() + "/kdf.json");
  const Json doc = Json::Parse(std::string(raw.begin(), raw.end()));
  size_t checked = 0;
  for (const Json& v : doc["vectors"].array()) {
    const Bytes material = v.has("material") ? FromHex(v["material"].str()) : fctest::Str(v["material_utf8"].str());
    const Bytes salt = v.has("salt") ? FromHex(v["salt"].str()) : fctest::Str(v["salt_utf8"].str());
    Bytes out(static_cast<size_t>(v["length"].integer()));
    const std::string kdf = v["kdf"].str();
    if (kdf == "PBKDF2-HMAC-SHA256") {
      CHECK_OK(Pbkdf2Sha256(View(material), View(salt), static_cast<uint32_t>(v["iterations"].integer()),
                            fctest::MutView(out)));
    } else if (kdf == "HKDF-SHA256") {
      CHECK_EQ(v["info"].str(), std::string("128 zero bytes"));
      const Bytes info(128, 0);
      CHECK_OK(HkdfSha256(View(material), View(salt), View(info), fctest::MutView(out)));
    } else {
      FCTEST_FAIL("unknown kdf " + kdf, false);
      continue;
    }
    CHECK_EQ(out, FromHex(v["key"].str()));
    ++checked;
  }
  CHECK_EQ(checked, 3u);
}
