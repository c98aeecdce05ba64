#include "common/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/ids.h"

namespace dossiersync {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::mutex g_out_mu;
std::string& Service() {
  static std::string s;
  return s;
}
thread_local std::string t_trace_id;
thread_local std::string t_span_id;

// Strings longer than kMaxLoggedFieldBytes are cut (at a UTF-8 boundary) with their size noted.
nlohmann::json Bounded(const nlohmann::json& v) {
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (s.size() <= kMaxLoggedFieldBytes) return v;
    size_t cut = kMaxLoggedFieldBytes;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
    return absl::StrCat(s.substr(0, cut), "... (", s.size(), " bytes)");
  }
  if (v.is_object() || v.is_array()) {
    nlohmann::json out = v;
    for (auto& x : out) x = Bounded(x);
    return out;
  }
  return v;
}

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

// Keeps the first UTF-8 character of `word`.
std::string FirstChar(absl::string_view word) {
  if (word.empty()) return "";
  size_t n = 1;
  unsigned char c = static_cast<unsigned char>(word[0]);
  if (c >= 0xF0)
    n = 4;
  else if (c >= 0xE0)
    n = 3;
  else if (c >= 0xC0)
    n = 2;
  return std::string(word.substr(0, std::min(n, word.size())));
}

}  // namespace

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }
void SetLogService(std::string service) { Service() = std::move(service); }

void Log(LogLevel level, absl::string_view msg, const nlohmann::json& fields) {
  if (static_cast<int>(level) < g_level.load()) return;
  nlohmann::json j;
  j["ts"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  j["level"] = LevelName(level);
  if (!Service().empty()) j["service"] = Service();
  j["msg"] = Bounded(std::string(msg));
  if (!t_trace_id.empty()) {
    j["trace_id"] = t_trace_id;
    j["span_id"] = t_span_id;
  }
  if (fields.is_object()) {
    for (auto it = fields.begin(); it != fields.end(); ++it) j[it.key()] = Bounded(it.value());
  }
  std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line.push_back('\n');
  std::lock_guard<std::mutex> l(g_out_mu);
  fwrite(line.data(), 1, line.size(), stdout);
  fflush(stdout);
}

ScopedTrace::ScopedTrace(absl::string_view traceparent)
    : previous_trace_(std::move(t_trace_id)), previous_span_(std::move(t_span_id)) {
  t_trace_id = TraceIdOf(traceparent);
  t_span_id = t_trace_id.empty() ? "" : std::string(traceparent.substr(36, 16));
}
std::string CurrentTraceparent() {
  if (t_trace_id.empty()) return "";
  return absl::StrCat("00-", t_trace_id, "-", t_span_id, "-01");
}

ScopedTrace::~ScopedTrace() {
  t_trace_id = std::move(previous_trace_);
  t_span_id = std::move(previous_span_);
}

std::string MaskName(absl::string_view name) {
  std::string out;
  for (absl::string_view w : absl::StrSplit(name, ' ', absl::SkipEmpty())) {
    if (!out.empty()) out.push_back(' ');
    out += FirstChar(w) + "***";
  }
  return out;
}

std::string MaskDigits(absl::string_view id) {
  if (id.size() <= 3) return std::string(id.size(), '*');
  return std::string(id.size() - 3, '*') + std::string(id.substr(id.size() - 3));
}

std::string MaskEmail(absl::string_view email) {
  size_t at = email.find('@');
  if (at == absl::string_view::npos) return MaskSecret(email);
  return FirstChar(email) + "***" + std::string(email.substr(at));
}

std::string MaskSecret(absl::string_view secret) { return secret.empty() ? "" : "***"; }

std::string MaskUri(absl::string_view uri) {
  std::string out(uri);
  // scheme://user:password@host -> scheme://user:***@host
  if (size_t scheme = out.find("://"); scheme != std::string::npos) {
    size_t end = out.find_first_of("/?#", scheme + 3);
    size_t at = out.rfind('@', end == std::string::npos ? std::string::npos : end);
    if (at != std::string::npos && at > scheme) {
      size_t colon = out.find(':', scheme + 3);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // key=value parameters, in a query string (&) or a conninfo (spaces).
  static constexpr absl::string_view kSecretKeys[] = {"password", "passwd", "pwd",        "secret",
                                                      "token",    "key",    "sslpassword"};
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] != '=') continue;
    size_t start = out.find_last_of("?& \t", i);
    start = start == std::string::npos ? 0 : start + 1;
    std::string key = absl::AsciiStrToLower(out.substr(start, i - start));
    bool secret = false;
    for (absl::string_view k : kSecretKeys) secret |= key == k;
    if (!secret) continue;
    size_t end = out.find_first_of("& \t#", i + 1);
    if (end == std::string::npos) end = out.size();
    out.replace(i + 1, end - i - 1, "***");
    i += 3;
  }
  return out;
}

}  // namespace dossiersync
