// AES-GCM keys and key derivation.
#include <cstring>

#include "common.h"
#include "framecryptor/crypto.h"

namespace fcpy {

using framecryptor::AesGcmKey;

namespace {

std::shared_ptr<AesGcmKey> make_key(py::handle key) {
  InBuffer b(key, "key");
  Status st;
  auto k = AesGcmKey::Create(b.view(), &st);
  if (!k) {
    if (st == Status::kInvalidArgument)
      Raise("InvalidKeyError", "AES key must be 16 or 32 bytes, got " + std::to_string(b.size()));
    RaiseStatus(st);
  }
  return k;
}

std::string fingerprint(const AesGcmKey& k) { return Hex(k.fingerprint().data(), k.fingerprint().size()); }

void check_length(size_t n, size_t max, const char* what) {
  if (n == 0 || n > max) Raise("InvalidArgumentError", std::string(what) + " must be 1.." + std::to_string(max));
}

}  // namespace

void BindCrypto(py::module_& m) {
  py::class_<AesGcmKey, std::shared_ptr<AesGcmKey>>(m, "AesGcmKey",
                                                     "An AES-GCM key held inside OpenSSL, with its own IV generator.")
      .def(py::init(&make_key), py::arg("key"))
      .def_property_readonly("key_size", &AesGcmKey::key_size)
      .def_property_readonly("fingerprint", &fingerprint)
      .def_property_readonly("ivs_issued", &AesGcmKey::ivs_issued)
      .def_property_readonly_static("IV_LIMIT", [](py::handle) { return AesGcmKey::kIvLimit; })
      .def("_advance_iv_counter_for_testing", &AesGcmKey::AdvanceIvCounterForTesting, py::arg("value"))
      .def(
          "seal",
          [](AesGcmKey& k, py::handle plaintext, py::handle aad) {
            InBuffer pt(plaintext, "plaintext");
            InBuffer ad(aad, "aad");
            uint8_t iv[framecryptor::kIvSize];
            Check(k.NextIv(iv));
            py::bytes ct = MakeBytes(pt.size() + framecryptor::kTagSize, pt.size() >= kGilReleaseThreshold,
                                     [&](MutByteView out) {
                                       Status s = k.Seal(iv, ad.view(), pt.view(), out.data);
                                       return s == Status::kOk ? Result::Ok(out.size) : Result::Err(s);
                                     });
            return py::make_tuple(py::bytes(reinterpret_cast<const char*>(iv), sizeof iv), ct);
          },
          py::arg("plaintext"), py::arg("aad") = py::bytes(),
          "Encrypts under the next IV of this key; returns (iv, ciphertext || tag).")
      .def(
          "open",
          [](const AesGcmKey& k, py::handle iv, py::handle ciphertext, py::handle aad) {
            InBuffer ivb(iv, "iv");
            InBuffer ct(ciphertext, "ciphertext");
            InBuffer ad(aad, "aad");
            if (ivb.size() != framecryptor::kIvSize)
              Raise("InvalidArgumentError", "iv must be 12 bytes, got " + std::to_string(ivb.size()));
            if (ct.size() < framecryptor::kTagSize)
              Raise("InvalidFrameError", "ciphertext shorter than the 16-byte tag");
            const uint8_t* ivp = ivb.view().data;
            return MakeBytes(ct.size() - framecryptor::kTagSize, ct.size() >= kGilReleaseThreshold,
                             [&](MutByteView out) {
                               Status s = k.Open(ivp, ad.view(), ct.view(), out.data);
                               return s == Status::kOk ? Result::Ok(out.size) : Result::Err(s);
                             });
          },
          py::arg("iv"), py::arg("ciphertext"), py::arg("aad") = py::bytes(),
          "Decrypts ciphertext || tag; DecryptionError when the tag does not verify.")
      .def("__repr__", [](const AesGcmKey& k) {
        return "<AesGcmKey aes-" + std::to_string(k.key_size() * 8) + " fingerprint=" + fingerprint(k) + ">";
      });

  m.def(
      "pbkdf2_sha256",
      [](py::handle password, py::handle salt, uint32_t iterations, size_t length) {
        InBuffer pw(password, "password");
        InBuffer sa(salt, "salt");
        check_length(length, 1024, "length");
        return MakeBytes(length, true, [&](MutByteView out) {
          Status s = framecryptor::Pbkdf2Sha256(pw.view(), sa.view(), iterations, out);
          return s == Status::kOk ? Result::Ok(out.size) : Result::Err(s);
        });
      },
      py::arg("password"), py::arg("salt"), py::arg("iterations"), py::arg("length"),
      "PBKDF2-HMAC-SHA256 (OpenSSL), GIL released.");
  m.def(
      "hkdf_sha256",
      [](py::handle ikm, py::handle salt, py::handle info, size_t length) {
        InBuffer k(ikm, "ikm");
        InBuffer sa(salt, "salt");
        InBuffer in(info, "info");
        check_length(length, 255 * 32, "length");
        return MakeBytes(length, false, [&](MutByteView out) {
          Status s = framecryptor::HkdfSha256(k.view(), sa.view(), in.view(), out);
          return s == Status::kOk ? Result::Ok(out.size) : Result::Err(s);
        });
      },
      py::arg("ikm"), py::arg("salt"), py::arg("info"), py::arg("length"), "HKDF-SHA256 (OpenSSL).");
  m.def(
      "derive_key",
      [](py::handle material, py::handle salt, int kdf, size_t key_size) {
        InBuffer mat(material, "material");
        InBuffer sa(salt, "salt");
        if (kdf != 0 && kdf != 1) Raise("InvalidArgumentError", "kdf must be 0 (PBKDF2) or 1 (HKDF)");
        if (key_size != 16 && key_size != 32) Raise("InvalidArgumentError", "key_size must be 16 or 32");
        std::shared_ptr<AesGcmKey> key;
        uint8_t next[framecryptor::kRatchetSize];
        Status st;
        {
          py::gil_scoped_release release;  // PBKDF2: 100,000 iterations
          st = framecryptor::DeriveKey(mat.view(), sa.view(), static_cast<framecryptor::Kdf>(kdf), key_size, &key, next);
        }
        if (st != Status::kOk) {
          framecryptor::SecureWipe(next, sizeof next);
          RaiseStatus(st);
        }
        py::bytes next_material(reinterpret_cast<const char*>(next), sizeof next);
        framecryptor::SecureWipe(next, sizeof next);
        return py::make_tuple(key, next_material);
      },
      py::arg("material"), py::arg("salt"), py::arg("kdf"), py::arg("key_size"),
      "(AesGcmKey, next ratchet material) of key material; the AES key bytes never reach Python.");
  m.def(
      "sha256",
      [](py::handle data) {
        InBuffer b(data, "data");
        uint8_t d[32];
        {
          MaybeReleaseGil g(b.size() >= kGilReleaseThreshold);
          framecryptor::Sha256(b.view(), d);
        }
        return py::bytes(reinterpret_cast<const char*>(d), 32);
      },
      py::arg("data"));
}

}  // namespace fcpy
