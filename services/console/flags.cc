// dossier-console's flags (SPEC §8's table), read into ConsoleConfig.
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/server_flags.h"
#include "services/console/app.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:8090", "HTTP listen address HOST:PORT");
ABSL_FLAG(std::string, intake_addr, "127.0.0.1:50051", "IntakeService address");
ABSL_FLAG(std::string, sync_addr, "127.0.0.1:50052", "SyncService address");
ABSL_FLAG(std::string, reconciliation_addr, "127.0.0.1:50053", "ReconciliationService address");
#define DS_CONSOLE_CLIENT_FLAGS(name)                                                             \
  ABSL_FLAG(std::string, name##_token_file, "", "Bearer token the console reads " #name " with"); \
  ABSL_FLAG(std::string, name##_ca_file, "", "CA to verify " #name " (TLS)");                     \
  ABSL_FLAG(std::string, name##_cert_file, "", "Client certificate for " #name " (mTLS)");        \
  ABSL_FLAG(std::string, name##_key_file, "", "Key of --" #name "_cert_file");                    \
  ABSL_FLAG(std::string, name##_server_name, "",                                                  \
            "Name to verify in " #name "'s certificate instead of the address's host")
DS_CONSOLE_CLIENT_FLAGS(intake);
DS_CONSOLE_CLIENT_FLAGS(sync);
DS_CONSOLE_CLIENT_FLAGS(reconciliation);
ABSL_FLAG(std::string, cookie_secure, "auto",
          "Mark the session cookie Secure: true, false, or auto (Secure unless --allow_insecure; "
          "reach the console through TLS)");
ABSL_FLAG(absl::Duration, session_ttl, absl::Hours(8), "A signed-in session ends this long unused");
ABSL_FLAG(std::string, score_period, "",
          "The overview's score period: yyyy-MM, yyyy-Qn or yyyy (default: this month)");
ABSL_FLAG(absl::Duration, call_timeout, absl::Seconds(10), "Deadline of each call to a service");

namespace dossiersync::console {

absl::StatusOr<ConsoleConfig> ConsoleConfig::FromFlags() {
  ConsoleConfig c;
  ServerOptions server = ServerOptionsFromFlags(absl::GetFlag(FLAGS_listen));
  c.listen = server.listen;
  c.allow_insecure = server.allow_insecure;
  c.tokens_file = server.auth_tokens_file;
  c.intake_addr = absl::GetFlag(FLAGS_intake_addr);
  c.sync_addr = absl::GetFlag(FLAGS_sync_addr);
  c.reconciliation_addr = absl::GetFlag(FLAGS_reconciliation_addr);
#define DS_CONSOLE_CLIENT(name)                                                           \
  {                                                                                       \
    auto o = ClientOptionsFrom(                                                           \
        absl::GetFlag(FLAGS_##name##_ca_file), absl::GetFlag(FLAGS_##name##_cert_file),   \
        absl::GetFlag(FLAGS_##name##_key_file), absl::GetFlag(FLAGS_##name##_token_file), \
        absl::GetFlag(FLAGS_##name##_server_name),                                        \
        {"--" #name "_ca_file", "--" #name "_cert_file", "--" #name "_key_file",          \
         "--" #name "_token_file"});                                                      \
    if (!o.ok()) return o.status();                                                       \
    c.name##_client = *o;                                                                 \
  }
  DS_CONSOLE_CLIENT(intake);
  DS_CONSOLE_CLIENT(sync);
  DS_CONSOLE_CLIENT(reconciliation);
#undef DS_CONSOLE_CLIENT
  // Secure unless a local plaintext console (--allow_insecure) and not asked for.
  const std::string secure = absl::GetFlag(FLAGS_cookie_secure);
  if (secure == "auto") {
    c.cookie_secure = !c.allow_insecure;
  } else if (secure == "true" || secure == "false") {
    c.cookie_secure = secure == "true";
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--cookie_secure must be true, false or auto, got '", secure, "'"));
  }
  c.session_ttl = absl::GetFlag(FLAGS_session_ttl);
  c.score_period = absl::GetFlag(FLAGS_score_period);
  c.call_timeout = absl::GetFlag(FLAGS_call_timeout);
  return c;
}

}  // namespace dossiersync::console
