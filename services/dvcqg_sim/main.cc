// dvcqg-sim: the national portal simulator. Prints its URL and serves until SIGTERM.
#include <fstream>
#include <iostream>

#include "absl/flags/flag.h"
#include "common/flags.h"
#include "common/log.h"
#include "common/server.h"
#include "common/server_flags.h"
#include "services/dvcqg_sim/simulator.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:8580", "HTTP listen address HOST:PORT (port 0: any)");
ABSL_FLAG(std::string, database, "sqlite:dvcqg-sim.db", "The simulator's own store");
ABSL_FLAG(std::string, username, "langson", "Accepted login username");
ABSL_FLAG(std::string, password_file, "",
          "File holding the accepted password (default: a dev password)");
ABSL_FLAG(absl::Duration, session_ttl, absl::Minutes(10), "Session lifetime");
ABSL_FLAG(int, max_batch, 50, "DongBoHoSoMC items per call");
ABSL_FLAG(int, max_progress_rows, 10, "CapNhatTienDoHoSoMC rows per call");
ABSL_FLAG(int64_t, max_body_bytes, 8 * 1024 * 1024, "Largest request body");
ABSL_FLAG(int, threads, 64, "HTTP worker threads (hanging responses hold one each)");
ABSL_FLAG(std::string, faults, "", "Initial faults as JSON, e.g. {\"error_503_rate\":0.2}");
ABSL_FLAG(std::string, success_code, "00",
          "error_code of a successful answer: 00 or \"0\" (strings, as production clients met "
          "them) or 0 (a JSON number); see SimConfig::ParseSuccessCode");
ABSL_FLAG(std::string, enterprise_id_kind, "3",
          "LoaiDinhDanh accepted for an enterprise / tax code");
ABSL_FLAG(std::string, url_file, "", "Write the base URL to this file once listening");

int main(int argc, char** argv) {
  dossiersync::BlockTerminationSignals();
  dossiersync::ParseFlags(argc, argv, "dvcqg-sim: a DVCQG-compatible HTTP/JSON simulator");
  dossiersync::ApplyLogFlags("dvcqg-sim");
  dossiersync::sim::SimConfig c;
  c.listen = absl::GetFlag(FLAGS_listen);
  c.database = absl::GetFlag(FLAGS_database);
  c.username = absl::GetFlag(FLAGS_username);
  if (!absl::GetFlag(FLAGS_password_file).empty()) {
    auto p = dossiersync::ReadSecretFile(absl::GetFlag(FLAGS_password_file), "--password_file");
    if (!p.ok()) dossiersync::ConfigError(std::string(p.status().message()));
    c.password = *p;
  }
  c.session_ttl = absl::GetFlag(FLAGS_session_ttl);
  c.max_batch = absl::GetFlag(FLAGS_max_batch);
  c.max_progress_rows = absl::GetFlag(FLAGS_max_progress_rows);
  c.max_body_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_max_body_bytes));
  c.threads = absl::GetFlag(FLAGS_threads);
  c.enterprise_id_kind = absl::GetFlag(FLAGS_enterprise_id_kind);
  if (auto code = c.ParseSuccessCode(absl::GetFlag(FLAGS_success_code)); !code.ok()) {
    dossiersync::ConfigError(std::string(code.message()));
  }
  if (!absl::GetFlag(FLAGS_faults).empty()) {
    auto j = nlohmann::json::parse(absl::GetFlag(FLAGS_faults), nullptr, false);
    absl::Status st = j.is_discarded() ? absl::InvalidArgumentError("--faults: malformed JSON")
                                       : c.faults.Merge(j);
    if (!st.ok()) dossiersync::ConfigError(std::string(st.message()));
  }
  if (auto st = c.Validate(); !st.ok()) dossiersync::ConfigError(std::string(st.message()));
  dossiersync::LogInfo("configuration", {{"config", c.ToJson()}});
  auto sim = dossiersync::sim::Simulator::Start(c);
  if (!sim.ok()) {
    dossiersync::LogError("start failed", {{"error", std::string(sim.status().message())}});
    return 1;
  }
  if (!absl::GetFlag(FLAGS_url_file).empty()) {
    std::string tmp = absl::GetFlag(FLAGS_url_file) + ".tmp";
    { std::ofstream(tmp) << (*sim)->url() << "\n"; }
    std::rename(tmp.c_str(), absl::GetFlag(FLAGS_url_file).c_str());
  }
  dossiersync::LogInfo("serving", {{"url", (*sim)->url()}});
  std::string sig = dossiersync::WaitForTerminationSignal();
  dossiersync::LogInfo("stopping", {{"signal", sig}});
  (*sim)->Stop();
  return 0;
}
