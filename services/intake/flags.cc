// The intake service's flags (each also DOSSIERSYNC_<FLAG>), linked into the binary only so
// that tests can link several services' libraries together.
#include "absl/flags/flag.h"
#include "absl/strings/str_split.h"
#include "common/server_flags.h"
#include "services/intake/app.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051", "gRPC listen address HOST:PORT");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:9101", "Prometheus /metrics HOST:PORT");
ABSL_FLAG(std::string, kafka_brokers, "", "Kafka bootstrap servers (devbroker prints them)");
ABSL_FLAG(std::string, kafka_config, "",
          "Extra librdkafka producer properties, comma-separated key=value");
ABSL_FLAG(std::string, database, "sqlite:dossier-intake.db",
          "sqlite:PATH (embedded default) or a postgresql:// URI");
ABSL_FLAG(std::string, sqlite_synchronous, "FULL",
          "SQLite durability: FULL (fsync per commit group) or NORMAL (survives process crashes)");
ABSL_FLAG(int64_t, sqlite_max_mb, 0,
          "SQLite only: the database stops growing at this size in MiB (0: no limit); changes are "
          "then refused UNAVAILABLE until space is freed, as on a full disk");
ABSL_FLAG(int32_t, sqlite_cache_mb, 64,
          "SQLite only: the write connection's page cache in MiB (0: SQLite's default 2 MiB)");
ABSL_FLAG(std::string, province_code, "H37", "Province part (Hnn) every dossier code must carry");
ABSL_FLAG(bool, code_agency_must_match, true,
          "A dossier code's agency part must equal its agency_code (false: inter-agency setups)");
ABSL_FLAG(std::string, transitions, dossiersync::intake::TransitionRules::kDefaultSpec,
          "Allowed status transitions FROM>TO,TO;... (same status always allowed)");
ABSL_FLAG(
    std::string, instance_id, "",
    "Outbox relay lease holder, stable across restarts of one replica (default: HOSTNAME-PID)");
ABSL_FLAG(absl::Duration, relay_lease_ttl, absl::Seconds(10),
          "With several intake replicas on one database, one relay publishes; a standby takes over "
          "this long after the publisher died");
ABSL_FLAG(absl::Duration, outbox_retain_for, absl::Hours(24),
          "Published changes are kept this long to be published again when the topic is reset or "
          "an operator asks (0: not kept)");
ABSL_FLAG(int64_t, outbox_retain_max, 1000000,
          "At most this many published changes are kept (0: not kept)");
ABSL_FLAG(absl::Duration, topic_check_every, absl::Seconds(10),
          "How often the relay checks that the topic still holds what it delivered");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "How long SIGTERM waits for in-flight calls and Kafka deliveries");

namespace dossiersync::intake {

IntakeConfig IntakeConfig::FromFlags() {
  IntakeConfig c;
  c.server = ServerOptionsFromFlags(absl::GetFlag(FLAGS_listen));
  c.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  c.kafka_brokers = absl::GetFlag(FLAGS_kafka_brokers);
  for (absl::string_view kv :
       absl::StrSplit(absl::GetFlag(FLAGS_kafka_config), ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
    c.kafka_config[p.first] = p.second;
  }
  c.database = absl::GetFlag(FLAGS_database);
  c.sqlite_synchronous = absl::GetFlag(FLAGS_sqlite_synchronous);
  c.sqlite_max_mb = absl::GetFlag(FLAGS_sqlite_max_mb);
  c.sqlite_cache_mb = absl::GetFlag(FLAGS_sqlite_cache_mb);
  c.validator.province_code = absl::GetFlag(FLAGS_province_code);
  c.validator.code_agency_must_match = absl::GetFlag(FLAGS_code_agency_must_match);
  c.transitions = absl::GetFlag(FLAGS_transitions);
  c.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  c.instance_id = absl::GetFlag(FLAGS_instance_id);
  c.relay_lease_ttl = absl::GetFlag(FLAGS_relay_lease_ttl);
  c.outbox_retain_for = absl::GetFlag(FLAGS_outbox_retain_for);
  c.outbox_retain_max = absl::GetFlag(FLAGS_outbox_retain_max);
  c.topic_check_every = absl::GetFlag(FLAGS_topic_check_every);
  return c;
}

}  // namespace dossiersync::intake
