// The sync service's flags (each also DOSSIERSYNC_<FLAG>), linked into the binary only so
// that tests can link several services' libraries together.
#include "absl/flags/flag.h"
#include "absl/strings/str_split.h"
#include "common/dvcqg/config_flags.h"
#include "common/server_flags.h"
#include "services/sync/app.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50052", "gRPC listen address HOST:PORT");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:9102", "Prometheus /metrics HOST:PORT");
ABSL_FLAG(std::string, kafka_brokers, "", "Kafka bootstrap servers");
ABSL_FLAG(std::string, database, "sqlite:dossier-sync.db",
          "The sync ledger: sqlite:PATH or postgresql://");
ABSL_FLAG(int, workers, 8, "Concurrent DVCQG workers");
ABSL_FLAG(double, rate_limit, 0, "DVCQG calls per second (token bucket); 0 = unlimited");
ABSL_FLAG(int, rate_burst, 50, "Token bucket size");
ABSL_FLAG(int, breaker_threshold, 20,
          "Consecutive failed DVCQG calls that open the circuit breaker");
ABSL_FLAG(absl::Duration, breaker_cooldown, absl::Seconds(2),
          "First breaker cool-down (doubles up to 60s)");
ABSL_FLAG(absl::Duration, backoff_base, absl::Milliseconds(200),
          "Retry backoff base (full jitter)");
ABSL_FLAG(absl::Duration, backoff_cap, absl::Seconds(30), "Retry backoff cap");
ABSL_FLAG(std::string, status_map, "", "Status mapping OURS:DVCQG,... (identity by default)");
ABSL_FLAG(std::string, group_id, "dossier-sync", "Kafka consumer group");
ABSL_FLAG(std::string, assignment_strategy, "cooperative-sticky",
          "Kafka partition.assignment.strategy (cooperative-sticky or range,roundrobin)");
ABSL_FLAG(int64_t, max_pending, 20000, "Changes held in memory before consumption pauses");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10), "How long SIGTERM waits");

namespace dossiersync::sync {

absl::StatusOr<SyncConfig> SyncConfig::FromFlags() {
  SyncConfig c;
  c.server = ServerOptionsFromFlags(absl::GetFlag(FLAGS_listen));
  c.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  c.kafka_brokers = absl::GetFlag(FLAGS_kafka_brokers);
  c.database = absl::GetFlag(FLAGS_database);
  auto d = dvcqg::ClientConfigFromFlags();
  if (!d.ok()) return d.status();
  c.dvcqg = *d;
  c.engine.workers = absl::GetFlag(FLAGS_workers);
  c.engine.rate_limit_per_second = absl::GetFlag(FLAGS_rate_limit);
  c.engine.rate_limit_burst = absl::GetFlag(FLAGS_rate_burst);
  c.engine.breaker_threshold = absl::GetFlag(FLAGS_breaker_threshold);
  c.engine.breaker_cooldown = absl::GetFlag(FLAGS_breaker_cooldown);
  c.engine.backoff_base = absl::GetFlag(FLAGS_backoff_base);
  c.engine.backoff_cap = absl::GetFlag(FLAGS_backoff_cap);
  c.engine.max_pending =
      static_cast<size_t>(std::max<int64_t>(1, absl::GetFlag(FLAGS_max_pending)));
  auto m = dvcqg::ParseStatusMap(absl::GetFlag(FLAGS_status_map));
  if (!m.ok()) return m.status();
  c.engine.status_map = *m;
  c.consumer.group_id = absl::GetFlag(FLAGS_group_id);
  c.consumer.assignment_strategy = absl::GetFlag(FLAGS_assignment_strategy);
  c.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  return c;
}

}  // namespace dossiersync::sync
