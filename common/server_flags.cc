// The shared server flags, defined here and linked only into binaries (libraries and their tests
// take typed options).
#include "common/server_flags.h"

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/flags.h"
#include "common/library_logs.h"
#include "common/log.h"

ABSL_FLAG(bool, allow_insecure, false,
          "Plaintext gRPC without caller authentication (local runs and tests only)");
ABSL_FLAG(std::string, tls_cert_file, "", "PEM server certificate chain");
ABSL_FLAG(std::string, tls_key_file, "", "PEM server private key");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "PEM CA bundle; when set, clients must present a certificate it signed (mTLS)");
ABSL_FLAG(std::string, auth_tokens_file, "",
          "Bearer tokens, one caller per line: `name role token [agency,...]`");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warn or error");

namespace dossiersync {

ServerOptions ServerOptionsFromFlags(const std::string& listen) {
  ServerOptions o;
  o.listen = listen;
  o.allow_insecure = absl::GetFlag(FLAGS_allow_insecure);
  o.tls_cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  o.tls_key_file = absl::GetFlag(FLAGS_tls_key_file);
  o.tls_client_ca_file = absl::GetFlag(FLAGS_tls_client_ca_file);
  o.auth_tokens_file = absl::GetFlag(FLAGS_auth_tokens_file);
  return o;
}

void ApplyLogFlags(const std::string& service) {
  SetLogService(service);
  RouteLibraryLogs();
  std::string l = absl::GetFlag(FLAGS_log_level);
  if (l == "debug")
    SetLogLevel(LogLevel::kDebug);
  else if (l == "info")
    SetLogLevel(LogLevel::kInfo);
  else if (l == "warn")
    SetLogLevel(LogLevel::kWarn);
  else if (l == "error")
    SetLogLevel(LogLevel::kError);
  else
    ConfigError(absl::StrCat("--log_level: expected debug, info, warn or error, got '", l, "'"));
}

}  // namespace dossiersync
