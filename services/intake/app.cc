#include "services/intake/app.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/status_macros.h"

namespace dossiersync::intake {

absl::Status IntakeConfig::Validate() const {
  if (auto st = server.Validate(); !st.ok()) return st;
  if (kafka_brokers.empty()) {
    return absl::InvalidArgumentError("--kafka_brokers is required (e.g. the devbroker's address)");
  }
  for (const auto& [k, v] : kafka_config) {
    if (k.empty() || v.empty()) {
      return absl::InvalidArgumentError("--kafka_config: entries must be key=value");
    }
  }
  if (metrics_listen.find(':') == std::string::npos) {
    return absl::InvalidArgumentError("--metrics_listen: expected HOST:PORT");
  }
  if (auto st = validator.Validate(); !st.ok()) return st;
  if (auto r = TransitionRules::Parse(transitions); !r.ok()) return r.status();
  if (sqlite_synchronous != "FULL" && sqlite_synchronous != "NORMAL") {
    return absl::InvalidArgumentError("--sqlite_synchronous: expected FULL or NORMAL");
  }
  if (sqlite_max_mb < 0) return absl::InvalidArgumentError("--sqlite_max_mb must not be negative");
  if (auto st = storage::ValidateSqliteCacheMib(sqlite_cache_mb, "--sqlite_cache_mb"); !st.ok()) {
    return st;
  }
  if (relay_lease_ttl < absl::Seconds(1)) {
    return absl::InvalidArgumentError("--relay_lease_ttl must be at least 1s");
  }
  if (outbox_retain_for < absl::ZeroDuration() || outbox_retain_max < 0) {
    return absl::InvalidArgumentError(
        "--outbox_retain_for and --outbox_retain_max must not be negative (0 keeps nothing)");
  }
  if (topic_check_every < absl::Milliseconds(100)) {
    return absl::InvalidArgumentError("--topic_check_every must be at least 100ms");
  }
  if (shutdown_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--shutdown_grace must not be negative");
  }
  return absl::OkStatus();
}

nlohmann::json IntakeConfig::ToJson() const {
  nlohmann::json kc = nlohmann::json::object();
  for (const auto& [k, v] : kafka_config) {
    kc[k] = k.find("password") != std::string::npos || k.find("secret") != std::string::npos
                ? MaskSecret(v)
                : v;
  }
  return {{"server", server.ToJson()},
          {"metrics_listen", metrics_listen},
          {"kafka_brokers", kafka_brokers},
          {"kafka_config", kc},
          {"database", MaskUri(database)},
          {"sqlite_synchronous", sqlite_synchronous},
          {"sqlite_max_mb", sqlite_max_mb},
          {"sqlite_cache_mb", sqlite_cache_mb},
          {"province_code", validator.province_code},
          {"code_agency_must_match", validator.code_agency_must_match},
          {"transitions", transitions},
          {"shutdown_grace", absl::FormatDuration(shutdown_grace)},
          {"instance_id", instance_id},
          {"relay_lease_ttl", absl::FormatDuration(relay_lease_ttl)},
          {"outbox_retain_for", absl::FormatDuration(outbox_retain_for)},
          {"outbox_retain_max", outbox_retain_max},
          {"topic_check_every", absl::FormatDuration(topic_check_every)}};
}

absl::StatusOr<std::unique_ptr<App>> App::Start(const IntakeConfig& config) {
  if (auto st = config.Validate(); !st.ok()) return st;
  auto app = std::unique_ptr<App>(new App());
  app->config_ = config;
  app->registry_ = std::make_shared<prometheus::Registry>();
  storage::OpenOptions oo;
  oo.sqlite_synchronous = config.sqlite_synchronous;
  oo.sqlite_max_pages = config.sqlite_max_mb * 256;  // 4 KiB pages
  oo.sqlite_cache_mib = config.sqlite_cache_mb;
  // 32 MiB of WAL between checkpoints: pages rewritten by many batches are copied back once.
  oo.sqlite_wal_autocheckpoint = 8192;
  DS_ASSIGN_OR_RETURN(app->db_, storage::Open(config.database, oo));
  DS_ASSIGN_OR_RETURN(app->auth_, MakeAuthenticator(config.server));
  IntakeStore::Options so;
  so.rules = *TransitionRules::Parse(config.transitions);
  DS_ASSIGN_OR_RETURN(app->store_, IntakeStore::Open(app->db_.get(), so));
  RelayOptions ro;
  ro.brokers = config.kafka_brokers;
  ro.producer_config = config.kafka_config;
  ro.holder = config.instance_id;
  ro.lease_ttl = config.relay_lease_ttl;
  ro.retention.keep_for = config.outbox_retain_for;
  ro.retention.keep_max = config.outbox_retain_max;
  ro.reset_check_every = config.topic_check_every;
  app->relay_ = std::make_unique<OutboxRelay>(app->db_.get(), ro, *app->registry_);
  app->store_->SetOnCommit([relay = app->relay_.get()](int rows) { relay->Notify(rows); });
  if (auto st = app->relay_->Start(); !st.ok()) return st;
  app->service_ = std::make_unique<IntakeServiceImpl>(app->store_.get(), app->auth_.get(),
                                                      config.validator, *app->registry_);
  app->service_->SetRepublisher(
      [relay = app->relay_.get()](absl::Time since) { return relay->Republish(since); });
  DS_ASSIGN_OR_RETURN(
      app->server_,
      GrpcServer::Start(config.server, {app->service_.get()},
                        {{dossiersync::v1::IntakeService::service_full_name()},
                         {{"storage", [db = app->db_.get()] { return db->Probe(); }}}}));
  DS_ASSIGN_OR_RETURN(app->metrics_, MetricsServer::Start(config.metrics_listen, app->registry_,
                                                          app->server_->health()));
  return app;
}

void App::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (server_) server_->BeginShutdown();      // NOT_SERVING from the first moment
  server_->Shutdown(config_.shutdown_grace);  // in-flight calls complete through the store
  store_->Stop();
  relay_->Stop(config_.shutdown_grace);
}

App::~App() {
  if (server_ && store_ && relay_) Stop();
}

}  // namespace dossiersync::intake
