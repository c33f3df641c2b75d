// Just enough JSON to read the reference vectors (tests/vectors/*.json, *.jsonl)
// in the C++ tests: objects, arrays, strings (with \u escapes), numbers,
// true/false/null. Test-only; malformed input ends the test.
#pragma once

#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "harness.h"

namespace fctest {

class Json {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };

  static Json Parse(const std::string& text) {
    size_t pos = 0;
    Json v = ParseValue(text, pos);
    SkipSpace(text, pos);
    if (pos != text.size()) Fail(text, pos, "trailing characters");
    return v;
  }

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool has(const std::string& key) const { return type_ == Type::kObject && object_.count(key) != 0; }
  const Json& operator[](const std::string& key) const {
    if (!has(key)) FCTEST_FAIL("JSON object has no key \"" + key + "\"", true);
    return object_.at(key);
  }
  const Json& operator[](size_t i) const {
    if (type_ != Type::kArray || i >= array_.size()) FCTEST_FAIL("JSON array index out of range", true);
    return array_[i];
  }
  size_t size() const { return type_ == Type::kArray ? array_.size() : object_.size(); }
  const std::vector<Json>& array() const {
    if (type_ != Type::kArray) FCTEST_FAIL("JSON value is not an array", true);
    return array_;
  }
  const std::string& str() const {
    if (type_ != Type::kString) FCTEST_FAIL("JSON value is not a string", true);
    return string_;
  }
  double number() const {
    if (type_ != Type::kNumber) FCTEST_FAIL("JSON value is not a number", true);
    return number_;
  }
  long long integer() const { return static_cast<long long>(number()); }
  bool boolean() const {
    if (type_ != Type::kBool) FCTEST_FAIL("JSON value is not a boolean", true);
    return bool_;
  }
  // String member or "" when absent/null.
  std::string get_str(const std::string& key) const {
    return has(key) && object_.at(key).type_ == Type::kString ? object_.at(key).string_ : std::string();
  }

 private:
  [[noreturn]] static void Fail(const std::string& text, size_t pos, const char* what) {
    FCTEST_FAIL(std::string("JSON: ") + what + " at " + std::to_string(pos) + " near \"" +
                    text.substr(pos, 20) + "\"",
                true);
    throw Abort{};
  }
  static void SkipSpace(const std::string& t, size_t& p) {
    while (p < t.size() && (t[p] == ' ' || t[p] == '\n' || t[p] == '\r' || t[p] == '\t')) ++p;
  }
  static void Expect(const std::string& t, size_t& p, const char* word) {
    const size_t n = std::char_traits<char>::length(word);
    if (t.compare(p, n, word) != 0) Fail(t, p, "unexpected token");
    p += n;
  }
  static void AppendUtf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }
  static unsigned Hex4(const std::string& t, size_t& p) {
    if (p + 4 > t.size()) Fail(t, p, "short \\u escape");
    const std::string h = t.substr(p, 4);
    char* end = nullptr;
    const unsigned long v = std::strtoul(h.c_str(), &end, 16);
    if (end != h.c_str() + 4) Fail(t, p, "bad \\u escape");
    p += 4;
    return static_cast<unsigned>(v);
  }
  static std::string ParseString(const std::string& t, size_t& p) {
    ++p;  // opening quote
    std::string out;
    while (true) {
      if (p >= t.size()) Fail(t, p, "unterminated string");
      const char c = t[p++];
      if (c == '"') return out;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (p >= t.size()) Fail(t, p, "unterminated escape");
      const char e = t[p++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp = Hex4(t, p);
          if (cp >= 0xd800 && cp < 0xdc00 && t.compare(p, 2, "\\u") == 0) {
            p += 2;
            const unsigned lo = Hex4(t, p);
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          }
          AppendUtf8(out, cp);
          break;
        }
        default:
          Fail(t, p, "bad escape");
      }
    }
  }
  static Json ParseValue(const std::string& t, size_t& p) {
    SkipSpace(t, p);
    if (p >= t.size()) Fail(t, p, "unexpected end");
    Json v;
    const char c = t[p];
    if (c == '{') {
      v.type_ = Type::kObject;
      ++p;
      SkipSpace(t, p);
      if (p < t.size() && t[p] == '}') {
        ++p;
        return v;
      }
      while (true) {
        SkipSpace(t, p);
        if (p >= t.size() || t[p] != '"') Fail(t, p, "expected key");
        std::string key = ParseString(t, p);
        SkipSpace(t, p);
        Expect(t, p, ":");
        v.object_[key] = ParseValue(t, p);
        SkipSpace(t, p);
        if (p < t.size() && t[p] == ',') {
          ++p;
          continue;
        }
        Expect(t, p, "}");
        return v;
      }
    }
    if (c == '[') {
      v.type_ = Type::kArray;
      ++p;
      SkipSpace(t, p);
      if (p < t.size() && t[p] == ']') {
        ++p;
        return v;
      }
      while (true) {
        v.array_.push_back(ParseValue(t, p));
        SkipSpace(t, p);
        if (p < t.size() && t[p] == ',') {
          ++p;
          continue;
        }
        Expect(t, p, "]");
        return v;
      }
    }
    if (c == '"') {
      v.type_ = Type::kString;
      v.string_ = ParseString(t, p);
      return v;
    }
    if (c == 't') {
      Expect(t, p, "true");
      v.type_ = Type::kBool;
      v.bool_ = true;
      return v;
    }
    if (c == 'f') {
      Expect(t, p, "false");
      v.type_ = Type::kBool;
      return v;
    }
    if (c == 'n') {
      Expect(t, p, "null");
      return v;
    }
    const char* begin = t.c_str() + p;
    char* end = nullptr;
    v.number_ = std::strtod(begin, &end);
    if (end == begin) Fail(t, p, "bad value");
    p += static_cast<size_t>(end - begin);
    v.type_ = Type::kNumber;
    return v;
  }

  Type type_ = Type::kNull;
  bool bool_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<Json> array_;
  std::map<std::string, Json> object_;
};

// Every line of a .jsonl file, parsed.
inline std::vector<Json> ReadJsonLines(const std::string& path) {
  const Bytes raw = ReadFile(path);
  std::vector<Json> out;
  std::string line;
  for (size_t i = 0; i <= raw.size(); ++i) {
    if (i == raw.size() || raw[i] == '\n') {
      if (line.find_first_not_of(" \t\r") != std::string::npos) out.push_back(Json::Parse(line));
      line.clear();
    } else {
      line += static_cast<char>(raw[i]);
    }
  }
  return out;
}

}  // namespace fctest
