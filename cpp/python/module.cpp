// framecryptor._native: thin pybind11 layer over the C++ core. Bindings
// convert arguments and delegate; the format logic lives in cpp/src.
#include "common.h"

PYBIND11_MODULE(_native, m) {
  m.doc() = "Native core of framecryptor (LiveKit E2EE frame format on OpenSSL).";
  fcpy::InitErrors();
  fcpy::BindCrypto(m);
  fcpy::BindFormat(m);
  fcpy::BindCryptor(m);
  fcpy::BindFast(m);
  fcpy::BindBench(m);
  m.attr("GIL_RELEASE_THRESHOLD") = fcpy::kGilReleaseThreshold;
}
