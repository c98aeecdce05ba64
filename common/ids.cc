#include "common/ids.h"

#include <cstdint>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"

namespace dossiersync {
namespace {

uint64_t Random64() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return gen();
}

std::string Hex(uint64_t v, int digits) { return absl::StrFormat("%0*x", digits, v); }

bool IsHex(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isxdigit(c) || absl::ascii_isupper(c)) return false;
  }
  return true;
}

}  // namespace

std::string NewEventId() {
  uint64_t a = Random64(), b = Random64();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10
  std::string h = Hex(a, 16) + Hex(b, 16);
  return absl::StrFormat("%s-%s-%s-%s-%s", h.substr(0, 8), h.substr(8, 4), h.substr(12, 4),
                         h.substr(16, 4), h.substr(20, 12));
}

std::string NewTraceparent() {
  return "00-" + Hex(Random64(), 16) + Hex(Random64(), 16) + "-" + Hex(Random64(), 16) + "-01";
}

std::string TraceIdOf(absl::string_view tp) {
  if (tp.size() != 55 || tp.substr(0, 3) != "00-" || tp[35] != '-' || tp[52] != '-') return "";
  absl::string_view trace = tp.substr(3, 32);
  if (!IsHex(trace) || !IsHex(tp.substr(36, 16)) || trace == std::string(32, '0')) return "";
  return std::string(trace);
}

std::string ChildTraceparent(absl::string_view parent) {
  std::string trace = TraceIdOf(parent);
  if (trace.empty()) return NewTraceparent();
  return "00-" + trace + "-" + Hex(Random64(), 16) + "-01";
}

}  // namespace dossiersync
