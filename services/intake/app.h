// The intake service assembled: typed configuration (validated at start), storage, the store's
// writer, the outbox relay, the gRPC server and the metrics endpoint. main.cc only parses flags
// and waits for SIGTERM; tests start the same App in-process.
//
// Thread safety: Start and Stop from one thread.
#ifndef DOSSIERSYNC_SERVICES_INTAKE_APP_H_
#define DOSSIERSYNC_SERVICES_INTAKE_APP_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/metrics.h"
#include "common/server.h"
#include "common/storage/database.h"
#include "nlohmann/json.hpp"
#include "services/intake/intake_service.h"
#include "services/intake/intake_store.h"
#include "services/intake/outbox_relay.h"

namespace dossiersync::intake {

struct IntakeConfig {
  ServerOptions server;  // listen default 127.0.0.1:50051
  std::string metrics_listen = "127.0.0.1:9101";
  std::string kafka_brokers;
  std::map<std::string, std::string> kafka_config;  // extra librdkafka producer properties
  std::string database = "sqlite:dossier-intake.db";
  std::string sqlite_synchronous = "FULL";
  int64_t sqlite_max_mb = 0;  // SQLite only: the database stops growing here (0: no limit)
  // SQLite only: the writer's page cache. Intake's indexes are keyed by dossier code, so each
  // batch touches pages all over them; with SQLite's 2 MiB they are read back on every batch.
  int sqlite_cache_mb = 64;
  std::string transitions = TransitionRules::kDefaultSpec;
  ValidatorConfig validator;
  absl::Duration shutdown_grace = absl::Seconds(10);
  std::string instance_id;  // outbox relay lease holder; empty = HOSTNAME-PID
  absl::Duration relay_lease_ttl = absl::Seconds(10);
  // Published changes kept for republication (a topic reset, `dossierctl republish`): by age and
  // by count, whichever is reached first.
  absl::Duration outbox_retain_for = absl::Hours(24);
  int64_t outbox_retain_max = 1000000;
  absl::Duration topic_check_every = absl::Seconds(10);

  // Reads every flag (with DOSSIERSYNC_* fallback applied by ParseFlags).
  static IntakeConfig FromFlags();
  absl::Status Validate() const;
  nlohmann::json ToJson() const;  // secrets masked
};

class App {
 public:
  static absl::StatusOr<std::unique_ptr<App>> Start(const IntakeConfig& config);
  ~App();
  int grpc_port() const { return server_->port(); }
  int metrics_port() const { return metrics_ ? metrics_->port() : 0; }
  OutboxRelay* relay() { return relay_.get(); }
  // Graceful stop: no new calls, finish in-flight ones, flush the relay.
  void Stop();

 private:
  App() = default;
  IntakeConfig config_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<IntakeStore> store_;
  std::unique_ptr<OutboxRelay> relay_;
  std::unique_ptr<IntakeServiceImpl> service_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<MetricsServer> metrics_;  // after server_: serves its health
  bool stopped_ = false;
};

}  // namespace dossiersync::intake

#endif  // DOSSIERSYNC_SERVICES_INTAKE_APP_H_
