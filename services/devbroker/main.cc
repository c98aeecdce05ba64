// devbroker: prints its bootstrap list as the first stdout line, then serves until SIGTERM.
#include <fstream>
#include <iostream>

#include "absl/flags/flag.h"
#include "common/flags.h"
#include "common/log.h"
#include "common/server.h"
#include "common/server_flags.h"
#include "services/devbroker/devbroker.h"

ABSL_FLAG(int, brokers, 1, "Number of mock brokers");
ABSL_FLAG(int, partitions, 6, "Partitions per topic");
ABSL_FLAG(std::string, bootstrap_file, "", "Also write the bootstrap list to this file");
ABSL_FLAG(std::string, control_listen, "127.0.0.1:0", "Control HTTP interface HOST:PORT");
ABSL_FLAG(std::string, listen, "",
          "Brokers' listeners 127.0.0.1:PORT (broker i on PORT+i; a restart gets the same ports); "
          "empty: free ports");
ABSL_FLAG(std::string, control_file, "", "Write the control URL to this file");

int main(int argc, char** argv) {
  dossiersync::BlockTerminationSignals();
  dossiersync::ParseFlags(argc, argv, "devbroker: an in-memory Kafka (librdkafka mock cluster)");
  dossiersync::ApplyLogFlags("devbroker");
  dossiersync::devbroker::DevBrokerOptions o;
  o.brokers = absl::GetFlag(FLAGS_brokers);
  o.partitions = absl::GetFlag(FLAGS_partitions);
  o.control_listen = absl::GetFlag(FLAGS_control_listen);
  o.listen = absl::GetFlag(FLAGS_listen);
  auto b = dossiersync::devbroker::DevBroker::Start(o);
  if (!b.ok()) dossiersync::ConfigError(std::string(b.status().message()));
  std::cout << (*b)->bootstrap() << std::endl;
  auto write = [](const std::string& path, const std::string& text) {
    if (path.empty()) return;
    std::string tmp = path + ".tmp";
    { std::ofstream(tmp) << text << "\n"; }
    std::rename(tmp.c_str(), path.c_str());
  };
  write(absl::GetFlag(FLAGS_bootstrap_file), (*b)->bootstrap());
  write(absl::GetFlag(FLAGS_control_file), (*b)->control_url());
  // librdkafka's mock cluster keeps at most 5 MiB or 100,000 message sets per partition and
  // discards older ones silently (compiled in, no setting): beyond that a slow consumer's offsets
  // fall off the log. Spread big runs over more partitions, or use real Kafka (deploy/).
  dossiersync::LogWarn(
      "devbroker retains at most 5 MiB (lz4-compressed batches) or 100,000 "
      "message sets per partition; older messages are discarded",
      {{"partitions", absl::GetFlag(FLAGS_partitions)},
       {"capacity_mib_per_topic", 5 * absl::GetFlag(FLAGS_partitions)}});
  dossiersync::LogInfo("devbroker ready", {{"bootstrap", (*b)->bootstrap()},
                                           {"control", (*b)->control_url()},
                                           {"brokers", o.brokers},
                                           {"partitions", o.partitions}});
  std::string sig = dossiersync::WaitForTerminationSignal();
  dossiersync::LogInfo("devbroker stopping", {{"signal", sig}});
  b->reset();
  return 0;
}
