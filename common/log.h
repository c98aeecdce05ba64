// JSON logs on stdout, one object per line: {"ts","level","msg",...fields}. A thread-local trace
// context (from the W3C traceparent of the request or Kafka message being handled) is added as
// "trace_id" and "span_id" while a ScopedTrace is alive. String fields are bounded
// (kMaxLoggedFieldBytes): a 5 MiB request field is not a 5 MB line.
// Personal data must go through the Mask* helpers before it is logged.
//
// Thread safety: all functions are thread-safe; lines are written atomically.
#ifndef DOSSIERSYNC_COMMON_LOG_H_
#define DOSSIERSYNC_COMMON_LOG_H_

#include <string>

#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace dossiersync {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void SetLogLevel(LogLevel level);
void SetLogService(std::string service);
void Log(LogLevel level, absl::string_view msg,
         const nlohmann::json& fields = nlohmann::json::object());
inline void LogInfo(absl::string_view m, const nlohmann::json& f = nlohmann::json::object()) {
  Log(LogLevel::kInfo, m, f);
}
inline void LogWarn(absl::string_view m, const nlohmann::json& f = nlohmann::json::object()) {
  Log(LogLevel::kWarn, m, f);
}
inline void LogError(absl::string_view m, const nlohmann::json& f = nlohmann::json::object()) {
  Log(LogLevel::kError, m, f);
}

inline constexpr size_t kMaxLoggedFieldBytes = 4096;

// Sets the trace context logged by this thread (from a traceparent; an invalid one logs none)
// until the scope ends.
class ScopedTrace {
 public:
  explicit ScopedTrace(absl::string_view traceparent);
  ~ScopedTrace();
  ScopedTrace(const ScopedTrace&) = delete;
  ScopedTrace& operator=(const ScopedTrace&) = delete;

 private:
  std::string previous_trace_;
  std::string previous_span_;
};

// The traceparent of this thread's ScopedTrace ("" outside one): what a call made while handling
// a request or message carries on, as the parent of its own span.
std::string CurrentTraceparent();

// Masking of personal data for logs.
std::string MaskName(absl::string_view name);    // "Nguyễn Văn An" -> "N*** V*** A***"
std::string MaskDigits(absl::string_view id);    // keeps the last 3 characters
std::string MaskEmail(absl::string_view email);  // "an@x.vn" -> "a***@x.vn"
// Masks a secret completely ("" stays "", otherwise "***").
std::string MaskSecret(absl::string_view secret);
// A URI or libpq conninfo with its secrets masked: the password of `scheme://user:password@host`,
// and the value of every `password=`, `passwd=`, `pwd=`, `secret=`, `token=`, `key=` and
// `sslpassword=` parameter (query string or key=value list), so configuration lines and errors
// can name a database or an adapter without leaking them.
std::string MaskUri(absl::string_view uri);

}  // namespace dossiersync

#endif  // DOSSIERSYNC_COMMON_LOG_H_
