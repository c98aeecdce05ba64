#include "services/sync/app.h"

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "google/protobuf/util/time_util.h"

namespace dossiersync::sync {

absl::Status SyncConfig::Validate() const {
  if (auto st = server.Validate(); !st.ok()) return st;
  if (kafka_brokers.empty()) return absl::InvalidArgumentError("--kafka_brokers is required");
  if (auto st = dvcqg.Validate(); !st.ok()) return st;
  if (engine.workers < 1 || engine.workers > 256) {
    return absl::InvalidArgumentError("--workers must be 1-256");
  }
  if (engine.rate_limit_per_second < 0 || engine.rate_limit_burst < 1) {
    return absl::InvalidArgumentError("--rate_limit must be >= 0 and --rate_burst >= 1");
  }
  if (engine.breaker_threshold < 1) return absl::InvalidArgumentError("--breaker_threshold >= 1");
  if (engine.backoff_base <= absl::ZeroDuration() || engine.backoff_cap < engine.backoff_base) {
    return absl::InvalidArgumentError("--backoff_base must be > 0 and <= --backoff_cap");
  }
  if (consumer.assignment_strategy != "cooperative-sticky" &&
      consumer.assignment_strategy.find("range") == std::string::npos &&
      consumer.assignment_strategy.find("roundrobin") == std::string::npos) {
    return absl::InvalidArgumentError(
        "--assignment_strategy: cooperative-sticky, range or roundrobin");
  }
  return absl::OkStatus();
}

nlohmann::json SyncConfig::ToJson() const {
  std::string map;
  for (int i = 1; i <= 10; ++i)
    absl::StrAppend(&map, i > 1 ? "," : "", i, ":", engine.status_map[i]);
  return {{"server", server.ToJson()},
          {"metrics_listen", metrics_listen},
          {"kafka_brokers", kafka_brokers},
          {"database", MaskUri(database)},
          {"dvcqg", dvcqg.ToJson()},
          {"workers", engine.workers},
          {"rate_limit", engine.rate_limit_per_second},
          {"breaker_threshold", engine.breaker_threshold},
          {"status_map", map},
          {"group_id", consumer.group_id},
          {"assignment_strategy", consumer.assignment_strategy}};
}

absl::StatusOr<std::unique_ptr<App>> App::Start(const SyncConfig& config) {
  if (auto st = config.Validate(); !st.ok()) return st;
  auto app = std::unique_ptr<App>(new App());
  App* a = app.get();
  a->config_ = config;
  a->registry_ = std::make_shared<prometheus::Registry>();
  // The ledger survives process crashes with synchronous=NORMAL; after a power loss the last
  // commits may be lost, which only repeats pushes (uncertain steps are verified first).
  storage::OpenOptions oo;
  oo.sqlite_synchronous = "NORMAL";
  DS_ASSIGN_OR_RETURN(a->db_, storage::Open(config.database, oo));
  DS_ASSIGN_OR_RETURN(a->ledger_, Ledger::Open(a->db_.get()));
  DS_ASSIGN_OR_RETURN(a->auth_, MakeAuthenticator(config.server));
  DS_ASSIGN_OR_RETURN(a->client_, dvcqg::Client::Create(config.dvcqg, a->registry_.get()));
  auto producer =
      KafkaProducer::Create(config.kafka_brokers, [a](int64_t opaque, const absl::Status& st) {
        if (Engine* e = a->engine_ptr_.load()) e->OnDelivery(opaque, st);
      });
  if (!producer.ok()) return producer.status();
  a->producer_ = std::move(*producer);
  a->poll_thread_ = std::thread([a] {
    while (!a->stop_poll_) a->producer_->Poll(100);
  });
  a->engine_ = std::make_unique<Engine>(
      config.engine, a->client_.get(), a->ledger_.get(), a->producer_.get(), *a->registry_,
      [a](const TopicPartition& tp, int64_t offset) { a->offsets_.Done(tp, offset); });
  a->engine_ptr_ = a->engine_.get();
  a->engine_->Start();
  ConsumerOptions co = config.consumer;
  co.brokers = config.kafka_brokers;
  co.request_reconciliation = [a](absl::Time since, const std::string& reason) {
    dossiersync::v1::ReconciliationRequest r;
    *r.mutable_changed_since() =
        google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(since));
    r.set_reason(reason);
    r.set_requested_by("dossier-sync");
    *r.mutable_requested_at() = NowTimestamp();
    OutMessage m{kTopicReconciliationRequests,
                 "stream-lost",
                 r.SerializeAsString(),
                 "dossiersync.v1.ReconciliationRequest",
                 NewEventId(),
                 NewTraceparent(),
                 0};
    // Fire and forget: should it not reach Kafka, the scheduled incremental runs still cover the
    // recent window (and the error log and the metric stay).
    if (auto st = a->producer_->Produce(m); !st.ok()) {
      LogError("reconciliation request not produced", {{"error", std::string(st.message())}});
    }
  };
  a->consumer_ = std::make_unique<Consumer>(co, a->engine_.get(), a->ledger_.get(), &a->offsets_,
                                            *a->registry_);
  if (auto st = a->consumer_->Start(); !st.ok()) return st;
  a->service_ = std::make_unique<SyncServiceImpl>(a->engine_.get(), a->ledger_.get(),
                                                  a->producer_.get(), a->auth_.get());
  DS_ASSIGN_OR_RETURN(
      a->server_, GrpcServer::Start(config.server, {a->service_.get()},
                                    {{dossiersync::v1::SyncService::service_full_name()},
                                     {{"storage", [db = a->db_.get()] { return db->Probe(); }}}}));
  DS_ASSIGN_OR_RETURN(
      a->metrics_, MetricsServer::Start(config.metrics_listen, a->registry_, a->server_->health()));
  return app;
}

void App::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (server_) server_->BeginShutdown();  // NOT_SERVING from the first moment
  if (server_) server_->Shutdown(config_.shutdown_grace);
  if (consumer_) consumer_->Stop();  // releases partitions: waits for in-flight work, commits
  if (engine_) engine_->Stop();
  if (producer_) producer_->Flush(config_.shutdown_grace).IgnoreError();
  stop_poll_ = true;
  if (poll_thread_.joinable()) poll_thread_.join();
}

App::~App() { Stop(); }

}  // namespace dossiersync::sync
