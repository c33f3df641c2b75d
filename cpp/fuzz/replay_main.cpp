// A plain main() that feeds files to LLVMFuzzerTestOneInput, so the fuzz
// targets run without libFuzzer (any compiler, e.g. g++ with ASan+UBSan in CI):
//   replay_decrypt SEED_DIR_OR_FILE...
// Directories are read non-recursively in name order. Exits non-zero when a
// path cannot be read or no input was found; an invariant violation aborts.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    const fs::path p(argv[i]);
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> dir;
      for (const auto& e : fs::directory_iterator(p, ec))
        if (e.is_regular_file()) dir.push_back(e.path());
      std::sort(dir.begin(), dir.end());
      files.insert(files.end(), dir.begin(), dir.end());
    } else if (fs::is_regular_file(p, ec)) {
      files.push_back(p);
    } else {
      std::fprintf(stderr, "cannot read %s\n", argv[i]);
      return 2;
    }
  }
  size_t bytes = 0;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    const std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    bytes += data.size();
    // An exact-size heap copy, as libFuzzer passes it (reads past it are caught).
    auto* buf = new uint8_t[data.size() ? data.size() : 1];
    std::copy(data.begin(), data.end(), buf);
    LLVMFuzzerTestOneInput(buf, data.size());
    delete[] buf;
  }
  std::printf("replayed %zu inputs (%zu bytes)\n", files.size(), bytes);
  return files.empty() ? 1 : 0;
}
