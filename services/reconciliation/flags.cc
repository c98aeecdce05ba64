// The reconciliation service's flags (each also DOSSIERSYNC_<FLAG>), linked into the binary only.
#include "common/flags.h"

#include "absl/flags/flag.h"
#include "common/dvcqg/config_flags.h"
#include "common/grpc_client.h"
#include "common/server_flags.h"
#include "services/reconciliation/app.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50053", "gRPC listen address HOST:PORT");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:9103", "Prometheus /metrics HOST:PORT");
ABSL_FLAG(std::string, kafka_brokers, "", "Kafka bootstrap servers");
ABSL_FLAG(std::string, database, "sqlite:dossier-reconciliation.db",
          "sqlite:PATH or postgresql://");
ABSL_FLAG(int32_t, sqlite_cache_mb, 64,
          "SQLite only: the page cache in MiB (0: SQLite's default 2 MiB)");
ABSL_FLAG(std::string, intake_addr, "127.0.0.1:50051",
          "IntakeService address (the provincial truth)");
ABSL_FLAG(std::string, intake_token_file, "", "Bearer token for IntakeService");
ABSL_FLAG(std::string, intake_ca_file, "",
          "CA to verify IntakeService (TLS; with only a client certificate: the system's roots)");
ABSL_FLAG(std::string, intake_cert_file, "",
          "Client certificate presented to IntakeService (mutual TLS, with --intake_key_file)");
ABSL_FLAG(std::string, intake_key_file, "", "Key of --intake_cert_file");
ABSL_FLAG(std::string, intake_server_name, "",
          "Name to verify in IntakeService's certificate instead of --intake_addr's host");
ABSL_FLAG(int, concurrency, 8, "TraCuuHoSo lookups in flight");
ABSL_FLAG(double, lookup_rate, 0, "TraCuuHoSo lookups per second; 0 = unlimited");
ABSL_FLAG(absl::Duration, in_flight_limit, absl::Hours(1),
          "Scheduled runs: a dossier the sync has not pushed yet, accepted by intake after the "
          "sync's frontier, is in flight (not looked up) for at most this long; 0 = off");
ABSL_FLAG(absl::Duration, in_flight_slack, absl::Minutes(5),
          "Scheduled runs: in flight only when accepted after the sync's frontier less this "
          "(partitions progress unevenly)");
ABSL_FLAG(bool, incremental_skip_verified, true,
          "Incremental runs do not look up again a dossier their latest check found in sync at its "
          "current revision with no push by the sync since (the full sweep and runs asked for do)");
ABSL_FLAG(double, repair_rate, 50, "SyncRequests published per second by a run; 0 = unlimited");
ABSL_FLAG(absl::Duration, lease_ttl, absl::Seconds(30),
          "Run lease time to live; a crashed replica's run is taken over after this");
ABSL_FLAG(std::string, evidence_group, "dossier-reconciliation",
          "Consumer group reading dossiersync.sync-results.v1");
ABSL_FLAG(std::string, sync_group, "dossier-sync",
          "The sync's Kafka consumer group (its committed offsets tell which partitions of "
          "dossier-changes it is behind on)");
ABSL_FLAG(std::string, status_map, "", "The sync's status mapping OURS:DVCQG,...");
ABSL_FLAG(std::string, instance_id, "",
          "Lease holder identity, stable across restarts of one replica (default: HOSTNAME-PID)");
ABSL_FLAG(
    absl::Duration, kpi_follow_every, absl::Seconds(10),
    "How often the KPI figures read what intake accepted (GetKpis also reads before answering)");
ABSL_FLAG(absl::Duration, score_every, absl::Hours(1),
          "How often this month's score forecast is computed for its gauges (0 = only when "
          "GetScore is asked; each computation reads every dossier from intake)");
ABSL_FLAG(std::string, score_period, "",
          "The period of the score gauges: yyyy-MM, yyyy-Qn or yyyy (default: this month)");
ABSL_FLAG(absl::Duration, timeline_keep_for, absl::Hours(24 * 90),
          "How long each dossier's sync results are kept for its timeline (0 = for ever)");
ABSL_FLAG(absl::Duration, incremental_every, absl::Minutes(5), "Incremental run period (0 = off)");
ABSL_FLAG(absl::Duration, incremental_window, absl::Minutes(30),
          "Incremental runs check dossiers changed this recently (at least the period)");
ABSL_FLAG(std::string, full_sweep_at, "02:00",
          "Nightly full sweep at this time of day, HH:MM Vietnam time (UTC+7); empty = none");
ABSL_FLAG(absl::Duration, full_sweep_every, absl::ZeroDuration(),
          "Full sweep period instead of nightly (0 = nightly at --full_sweep_at)");

namespace dossiersync::reconciliation {

absl::StatusOr<ReconciliationConfig> ReconciliationConfig::FromFlags() {
  ReconciliationConfig c;
  c.server = ServerOptionsFromFlags(absl::GetFlag(FLAGS_listen));
  c.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  c.kafka_brokers = absl::GetFlag(FLAGS_kafka_brokers);
  c.database = absl::GetFlag(FLAGS_database);
  c.sqlite_cache_mb = absl::GetFlag(FLAGS_sqlite_cache_mb);
  c.intake_addr = absl::GetFlag(FLAGS_intake_addr);
  auto client = ClientOptionsFrom(
      absl::GetFlag(FLAGS_intake_ca_file), absl::GetFlag(FLAGS_intake_cert_file),
      absl::GetFlag(FLAGS_intake_key_file), absl::GetFlag(FLAGS_intake_token_file),
      absl::GetFlag(FLAGS_intake_server_name),
      {"--intake_ca_file", "--intake_cert_file", "--intake_key_file", "--intake_token_file"});
  if (!client.ok()) return client.status();
  c.intake_client = *client;
  auto d = dvcqg::ClientConfigFromFlags();
  if (!d.ok()) return d.status();
  c.dvcqg = *d;
  c.runner.concurrency = absl::GetFlag(FLAGS_concurrency);
  c.runner.lookups_per_second = absl::GetFlag(FLAGS_lookup_rate);
  c.runner.in_flight_limit = absl::GetFlag(FLAGS_in_flight_limit);
  c.runner.in_flight_slack = absl::GetFlag(FLAGS_in_flight_slack);
  c.runner.skip_verified = absl::GetFlag(FLAGS_incremental_skip_verified);
  auto m = dvcqg::ParseStatusMap(absl::GetFlag(FLAGS_status_map));
  if (!m.ok()) return m.status();
  c.runner.status_map = *m;
  c.runner.repairs_per_second = absl::GetFlag(FLAGS_repair_rate);
  c.runner.lease_ttl = absl::GetFlag(FLAGS_lease_ttl);
  c.evidence_group = absl::GetFlag(FLAGS_evidence_group);
  c.sync_group = absl::GetFlag(FLAGS_sync_group);
  c.kpi_follow_every = absl::GetFlag(FLAGS_kpi_follow_every);
  c.score_every = absl::GetFlag(FLAGS_score_every);
  c.score_period = absl::GetFlag(FLAGS_score_period);
  c.runner.holder = absl::GetFlag(FLAGS_instance_id);
  c.incremental_every = absl::GetFlag(FLAGS_incremental_every);
  c.incremental_window = absl::GetFlag(FLAGS_incremental_window);
  c.full_sweep_at = absl::GetFlag(FLAGS_full_sweep_at);
  c.full_sweep_every = absl::GetFlag(FLAGS_full_sweep_every);
  c.timeline_keep_for = absl::GetFlag(FLAGS_timeline_keep_for);
  return c;
}

}  // namespace dossiersync::reconciliation
