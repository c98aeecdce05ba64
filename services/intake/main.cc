// dossier-intake: wires flags to the intake App and serves until SIGTERM.
#include "common/flags.h"
#include "common/server_flags.h"
#include "common/service_main.h"
#include "services/intake/app.h"

int main(int argc, char** argv) {
  dossiersync::BlockTerminationSignals();
  dossiersync::ParseFlags(argc, argv,
                          "dossier-intake: accepts dossier changes over gRPC and publishes them to "
                          "Kafka through a transactional outbox");
  dossiersync::ApplyLogFlags("dossier-intake");
  auto config = dossiersync::intake::IntakeConfig::FromFlags();
  if (auto st = config.Validate(); !st.ok()) dossiersync::ConfigError(std::string(st.message()));
  return dossiersync::ServeUntilSignal<dossiersync::intake::App>(config);
}
