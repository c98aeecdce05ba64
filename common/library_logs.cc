#include "common/library_logs.h"

#include <grpc/support/log.h>

#include <atomic>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "google/protobuf/stubs/logging.h"

namespace dossiersync {
namespace {

// At most kLibraryLinesPerSecond lines a second per library; the rest counted.
class Limiter {
 public:
  explicit Limiter(const char* library) : library_(library) {}
  // False when the line is to be dropped. Reports what the last second dropped.
  bool Admit() {
    int64_t dropped = 0;
    bool admit = false;
    {
      absl::MutexLock l(&mu_);
      int64_t second = absl::ToUnixSeconds(absl::Now());
      if (second != second_) {
        dropped = dropped_;
        dropped_ = 0;
        lines_ = 0;
        second_ = second;
      }
      admit = lines_ < kLibraryLinesPerSecond;
      if (admit) {
        ++lines_;
      } else {
        ++dropped_;
      }
    }
    if (dropped > 0) {
      LogWarn("library log lines suppressed", {{"source", library_}, {"suppressed", dropped}});
    }
    return admit;
  }

 private:
  const char* const library_;
  absl::Mutex mu_;
  int64_t second_ ABSL_GUARDED_BY(mu_) = 0;
  int lines_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
};

Limiter& GrpcLimiter() {
  static Limiter* l = new Limiter("grpc");
  return *l;
}
Limiter& ProtobufLimiter() {
  static Limiter* l = new Limiter("protobuf");
  return *l;
}

// Library messages can carry request data: bounded like any logged field.
std::string Bounded(const char* message) {
  constexpr size_t kMax = 1024;
  std::string s = message ? message : "";
  if (s.size() > kMax) s = absl::StrCat(s.substr(0, kMax), "... (", s.size(), " bytes)");
  return s;
}

void GrpcLog(gpr_log_func_args* args) {
  if (!GrpcLimiter().Admit()) return;
  LogLevel level = args->severity == GPR_LOG_SEVERITY_ERROR  ? LogLevel::kError
                   : args->severity == GPR_LOG_SEVERITY_INFO ? LogLevel::kInfo
                                                             : LogLevel::kDebug;
  Log(level, Bounded(args->message),
      {{"source", "grpc"}, {"file", args->file ? args->file : ""}, {"line", args->line}});
}

void ProtobufLog(google::protobuf::LogLevel level, const char* file, int line,
                 const std::string& message) {
  if (!ProtobufLimiter().Admit()) return;
  LogLevel l = level >= google::protobuf::LOGLEVEL_ERROR     ? LogLevel::kError
               : level == google::protobuf::LOGLEVEL_WARNING ? LogLevel::kWarn
                                                             : LogLevel::kInfo;
  Log(l, Bounded(message.c_str()),
      {{"source", "protobuf"}, {"file", file ? file : ""}, {"line", line}});
}

}  // namespace

void RouteLibraryLogs() {
  static std::atomic<bool> done{false};
  if (done.exchange(true)) return;
  gpr_set_log_function(GrpcLog);
  google::protobuf::SetLogHandler(ProtobufLog);
}

}  // namespace dossiersync
