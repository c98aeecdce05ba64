// The reconciliation service assembled: typed configuration, its database (runs, drift, lease),
// the DVCQG client, an IntakeService client, the Kafka producer, the runner, the schedules
// (incremental runs over a recent window, slower full sweeps), ReconciliationService and metrics.
//
// Thread safety: Start and Stop from one thread.
#ifndef DOSSIERSYNC_SERVICES_RECONCILIATION_APP_H_
#define DOSSIERSYNC_SERVICES_RECONCILIATION_APP_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "common/dvcqg/client.h"
#include "common/grpc_client.h"
#include "common/kafka.h"
#include "common/metrics.h"
#include "common/server.h"
#include "nlohmann/json.hpp"
#include "services/reconciliation/evidence.h"
#include "services/reconciliation/kpi_follower.h"
#include "services/reconciliation/kpi_store.h"
#include "services/reconciliation/requests.h"
#include "services/reconciliation/run_store.h"
#include "services/reconciliation/runner.h"
#include "services/reconciliation/service.h"
#include "services/reconciliation/timeline.h"
#include "services/reconciliation/timeline_store.h"

namespace dossiersync::reconciliation {

struct ReconciliationConfig {
  ServerOptions server;  // listen default 127.0.0.1:50053
  std::string metrics_listen = "127.0.0.1:9103";
  std::string kafka_brokers;
  std::string database = "sqlite:dossier-reconciliation.db";
  // SQLite: the page cache in MiB. A run writes a check per dossier into tables keyed by code; with
  // SQLite's 2 MiB those pages were read back from the file on every group (0-4096).
  int sqlite_cache_mb = 64;
  std::string intake_addr = "127.0.0.1:50051";
  ClientOptions intake_client;
  dvcqg::ClientConfig dvcqg;
  RunnerOptions runner;
  // Scheduled runs, on by default (services/reconciliation/schedule.h).
  absl::Duration incremental_every = absl::Minutes(5);  // 0 = no incremental runs
  absl::Duration incremental_window = absl::Minutes(30);
  std::string full_sweep_at = "02:00";  // nightly, Vietnam time; "" = no nightly sweep
  absl::Duration full_sweep_every = absl::ZeroDuration();  // a period instead of nightly; 0 = off
  std::string evidence_group = "dossier-reconciliation";   // consumer group on sync-results
  // The sync's consumer group: its committed offsets on dossier-changes say which partitions it
  // is behind on (scheduled runs leave those partitions' unpushed dossiers in flight).
  std::string sync_group = "dossier-sync";
  absl::Duration kpi_follow_every =
      absl::Seconds(10);  // KPI rows read from intake (kpi_follower.h)
  // The score gauges are computed again this often (each streams every dossier from intake).
  absl::Duration score_every = absl::Hours(1);
  std::string score_period;  // the gauges' period (yyyy-MM, yyyy-Qn, yyyy); "" = this month
  // Each dossier's sync results are kept this long for its timeline (timeline_store.h); 0 = ever.
  absl::Duration timeline_keep_for = absl::Hours(24 * 90);

  static absl::StatusOr<ReconciliationConfig> FromFlags();
  absl::Status Validate() const;
  nlohmann::json ToJson() const;
};

class App {
 public:
  static absl::StatusOr<std::unique_ptr<App>> Start(const ReconciliationConfig& config);
  ~App();
  int grpc_port() const { return server_->port(); }
  int metrics_port() const { return metrics_ ? metrics_->port() : 0; }
  Runner* runner() { return runner_.get(); }
  void Stop();

 private:
  App() = default;
  void Schedule();
  ReconciliationConfig config_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<RunStore> store_;
  std::unique_ptr<KpiStore> kpis_;
  std::unique_ptr<TimelineStore> timeline_store_;
  std::unique_ptr<TimelineBuilder> timeline_;
  std::unique_ptr<KpiFollower> kpi_follower_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<dvcqg::Client> client_;
  std::unique_ptr<KafkaProducer> producer_;
  std::shared_ptr<grpc::Channel> intake_channel_;
  std::unique_ptr<dossiersync::v1::IntakeService::Stub> intake_;
  std::unique_ptr<SyncProgress> sync_progress_;
  std::unique_ptr<Runner> runner_;
  std::unique_ptr<EvidenceConsumer> evidence_;
  std::unique_ptr<RequestConsumer> requests_;
  std::unique_ptr<ServiceImpl> service_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<MetricsServer> metrics_;
  absl::Notification stop_;
  std::thread scheduler_;
  std::thread poller_;
  std::thread scorer_;  // --score_every
  bool stopped_ = false;
};

}  // namespace dossiersync::reconciliation

#endif  // DOSSIERSYNC_SERVICES_RECONCILIATION_APP_H_
