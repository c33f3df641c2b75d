// Benchmark support: the raw AES-GCM loop the benchmark suite reports as the
// physical limit (see framecryptor/bench_limit.h).
#include "common.h"
#include "framecryptor/bench_limit.h"
#include "framecryptor/crypto.h"

namespace fcpy {

void BindBench(py::module_& m) {
  m.def(
      "_raw_gcm_loop",
      [](size_t size, uint64_t iterations, bool decrypt, size_t aad_size) {
        if (aad_size > size)
          Raise("InvalidArgumentError", "aad_size must not exceed size");
        if (size > framecryptor::kMaxCryptSize)
          Raise("InvalidArgumentError", "size must be at most " + std::to_string(framecryptor::kMaxCryptSize));
        double seconds = 0.0;
        Status st;
        {
          // Pure C++ work: other Python threads keep running meanwhile.
          py::gil_scoped_release release;
          st = framecryptor::RawGcmLoop(size, aad_size, iterations, decrypt, &seconds);
        }
        Check(st);
        return seconds;
      },
      py::arg("size"), py::arg("iterations"), py::arg("decrypt") = false, py::arg("aad_size") = 0,
      "Seconds taken by `iterations` raw AES-128-GCM operations on a `size`-byte message whose first\n"
      "`aad_size` bytes are AAD (one keyed OpenSSL context; per operation IV + AAD + update + final +\n"
      "tag). The benchmarks' physical limit; not part of the public API.");
}

}  // namespace fcpy
