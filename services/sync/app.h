// The sync service assembled: typed configuration (validated at start), ledger database, DVCQG
// client, engine, Kafka consumer and producer, SyncService, metrics. main.cc parses flags and
// waits for SIGTERM; tests start the same App in-process.
//
// Thread safety: Start and Stop from one thread.
#ifndef DOSSIERSYNC_SERVICES_SYNC_APP_H_
#define DOSSIERSYNC_SERVICES_SYNC_APP_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "common/dvcqg/client.h"
#include "common/kafka.h"
#include "common/metrics.h"
#include "common/server.h"
#include "common/storage/database.h"
#include "nlohmann/json.hpp"
#include "services/sync/consumer.h"
#include "services/sync/engine.h"
#include "services/sync/ledger.h"
#include "services/sync/sync_service.h"

namespace dossiersync::sync {

struct SyncConfig {
  ServerOptions server;  // listen default 127.0.0.1:50052
  std::string metrics_listen = "127.0.0.1:9102";
  std::string kafka_brokers;
  std::string database = "sqlite:dossier-sync.db";
  dvcqg::ClientConfig dvcqg;
  EngineOptions engine;
  ConsumerOptions consumer;
  absl::Duration shutdown_grace = absl::Seconds(10);

  static absl::StatusOr<SyncConfig> FromFlags();
  absl::Status Validate() const;
  nlohmann::json ToJson() const;
};

class App {
 public:
  static absl::StatusOr<std::unique_ptr<App>> Start(const SyncConfig& config);
  ~App();
  int grpc_port() const { return server_->port(); }
  int metrics_port() const { return metrics_ ? metrics_->port() : 0; }
  Engine* engine() { return engine_.get(); }
  Consumer* consumer() { return consumer_.get(); }
  void Stop();

 private:
  App() = default;
  SyncConfig config_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<dvcqg::Client> client_;
  std::unique_ptr<KafkaProducer> producer_;
  std::atomic<Engine*> engine_ptr_{nullptr};
  std::unique_ptr<Engine> engine_;
  OffsetTracker offsets_;
  std::unique_ptr<Consumer> consumer_;
  std::unique_ptr<SyncServiceImpl> service_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<MetricsServer> metrics_;
  std::atomic<bool> stop_poll_{false};
  std::thread poll_thread_;
  bool stopped_ = false;
};

}  // namespace dossiersync::sync

#endif  // DOSSIERSYNC_SERVICES_SYNC_APP_H_
