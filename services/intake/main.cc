// dossier-intake: wires flags to the intake App and waits for SIGTERM.
#include "absl/strings/str_cat.h"
#include "common/flags.h"
#include "common/log.h"
#include "common/server.h"
#include "services/intake/app.h"

int main(int argc, char** argv) {
  dossiersync::BlockTerminationSignals();
  dossiersync::ParseFlags(argc, argv,
                          "dossier-intake: accepts dossier changes over gRPC and publishes them to "
                          "Kafka through a transactional outbox");
  dossiersync::ApplyLogFlags("dossier-intake");
  auto config = dossiersync::intake::IntakeConfig::FromFlags();
  if (auto st = config.Validate(); !st.ok()) dossiersync::ConfigError(std::string(st.message()));
  dossiersync::LogInfo("configuration", {{"config", config.ToJson()}});
  auto app = dossiersync::intake::App::Start(config);
  if (!app.ok()) {
    dossiersync::LogError("start failed", {{"error", std::string(app.status().message())}});
    return 1;
  }
  dossiersync::LogInfo(
      "serving", {{"grpc_port", (*app)->grpc_port()}, {"metrics_port", (*app)->metrics_port()}});
  std::string sig = dossiersync::WaitForTerminationSignal();
  dossiersync::LogInfo("stopping", {{"signal", sig}});
  (*app)->Stop();
  dossiersync::LogInfo("stopped");
  return 0;
}
