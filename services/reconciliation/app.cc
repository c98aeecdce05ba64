#include "services/reconciliation/app.h"

#include <unistd.h>

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "services/reconciliation/schedule.h"
#include "services/reconciliation/score.h"

namespace dossiersync::reconciliation {

absl::Status ReconciliationConfig::Validate() const {
  if (auto st = server.Validate(); !st.ok()) return st;
  if (kafka_brokers.empty()) return absl::InvalidArgumentError("--kafka_brokers is required");
  if (intake_addr.find(':') == std::string::npos) {
    return absl::InvalidArgumentError("--intake_addr: expected HOST:PORT");
  }
  if (auto st = dvcqg.Validate(); !st.ok()) return st;
  if (runner.concurrency < 1 || runner.concurrency > 256) {
    return absl::InvalidArgumentError("--concurrency must be 1-256");
  }
  if (runner.lookups_per_second < 0) return absl::InvalidArgumentError("--lookup_rate >= 0");
  if (runner.in_flight_limit < absl::ZeroDuration() ||
      runner.in_flight_slack < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--in_flight_limit and --in_flight_slack must not be negative");
  }
  if (runner.repairs_per_second < 0) return absl::InvalidArgumentError("--repair_rate >= 0");
  if (runner.lease_ttl < absl::Seconds(1)) {
    return absl::InvalidArgumentError("--lease_ttl must be at least 1s");
  }
  if (auto st = storage::ValidateSqliteCacheMib(sqlite_cache_mb, "--sqlite_cache_mb"); !st.ok()) {
    return st;
  }
  if (timeline_keep_for < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--timeline_keep_for must not be negative (0 = for ever)");
  }
  if (sync_group.empty()) return absl::InvalidArgumentError("--sync_group is required");
  if (evidence_group.empty()) return absl::InvalidArgumentError("--evidence_group is required");
  if (score_every < absl::ZeroDuration() ||
      (score_every > absl::ZeroDuration() && score_every < absl::Seconds(1))) {
    return absl::InvalidArgumentError("--score_every must be 0 (off) or at least 1s");
  }
  if (auto p = ParsePeriod(score_period, absl::Now()); !p.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--score_period: ", p.status().message()));
  }
  if (kpi_follow_every < absl::Milliseconds(100)) {
    return absl::InvalidArgumentError("--kpi_follow_every must be at least 100ms");
  }
  if (incremental_every < absl::ZeroDuration() || full_sweep_every < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("schedules must not be negative");
  }
  if (incremental_every > absl::ZeroDuration() && incremental_window < incremental_every) {
    return absl::InvalidArgumentError(
        "--incremental_window must be at least --incremental_every (changes between two runs "
        "would go unchecked)");
  }
  if (!full_sweep_at.empty()) {
    if (auto t = ParseTimeOfDay(full_sweep_at); !t.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--full_sweep_at: ", t.status().message()));
    }
  }
  return absl::OkStatus();
}

nlohmann::json ReconciliationConfig::ToJson() const {
  return {{"server", server.ToJson()},
          {"metrics_listen", metrics_listen},
          {"kafka_brokers", kafka_brokers},
          {"database", MaskUri(database)},
          {"sqlite_cache_mb", sqlite_cache_mb},
          {"intake_addr", intake_addr},
          {"dvcqg", dvcqg.ToJson()},
          {"concurrency", runner.concurrency},
          {"lookup_rate", runner.lookups_per_second},
          {"in_flight_limit", absl::FormatDuration(runner.in_flight_limit)},
          {"in_flight_slack", absl::FormatDuration(runner.in_flight_slack)},
          {"incremental_skip_verified", runner.skip_verified},
          {"repair_rate", runner.repairs_per_second},
          {"instance", runner.holder},
          {"lease_ttl", absl::FormatDuration(runner.lease_ttl)},
          {"evidence_group", evidence_group},
          {"sync_group", sync_group},
          {"incremental_every", absl::FormatDuration(incremental_every)},
          {"incremental_window", absl::FormatDuration(incremental_window)},
          {"full_sweep_at", full_sweep_at},
          {"full_sweep_every", absl::FormatDuration(full_sweep_every)},
          {"kpi_follow_every", absl::FormatDuration(kpi_follow_every)},
          {"score_every", absl::FormatDuration(score_every)},
          {"score_period", score_period},
          {"timeline_keep_for", absl::FormatDuration(timeline_keep_for)}};
}

absl::StatusOr<std::unique_ptr<App>> App::Start(const ReconciliationConfig& config) {
  if (auto st = config.Validate(); !st.ok()) return st;
  auto app = std::unique_ptr<App>(new App());
  App* a = app.get();
  a->config_ = config;
  a->registry_ = std::make_shared<prometheus::Registry>();
  storage::OpenOptions oo;
  oo.sqlite_cache_mib = config.sqlite_cache_mb;
  DS_ASSIGN_OR_RETURN(a->db_, storage::Open(config.database, oo));
  DS_ASSIGN_OR_RETURN(a->store_, RunStore::Open(a->db_.get()));
  DS_ASSIGN_OR_RETURN(a->kpis_, KpiStore::Open(a->db_.get()));
  DS_ASSIGN_OR_RETURN(a->timeline_store_,
                      TimelineStore::Open(a->db_.get(), config.timeline_keep_for));
  DS_ASSIGN_OR_RETURN(a->auth_, MakeAuthenticator(config.server));
  DS_ASSIGN_OR_RETURN(a->client_, dvcqg::Client::Create(config.dvcqg, a->registry_.get()));
  DS_ASSIGN_OR_RETURN(a->producer_,
                      KafkaProducer::Create(config.kafka_brokers, DeliveryCallback()));
  a->poller_ = std::thread([a] {
    while (!a->stop_.WaitForNotificationWithTimeout(absl::Milliseconds(100))) a->producer_->Poll(0);
  });
  auto channel = MakeChannel(config.intake_addr, config.intake_client);
  if (!channel.ok()) return channel.status();
  a->intake_channel_ = *channel;
  a->intake_ = dossiersync::v1::IntakeService::NewStub(a->intake_channel_);
  RunnerOptions ro = config.runner;
  if (ro.holder.empty()) ro.holder = storage::DefaultHolder();
  DS_ASSIGN_OR_RETURN(
      a->sync_progress_,
      SyncProgress::Create(config.kafka_brokers, config.sync_group, kTopicDossierChanges));
  ro.sync_progress = a->sync_progress_.get();
  a->runner_ =
      std::make_unique<Runner>(ro, a->client_.get(), a->intake_.get(), config.intake_client,
                               a->producer_.get(), a->store_.get(), a->registry_.get());
  DS_RETURN_IF_ERROR(a->runner_->Recover());
  DS_ASSIGN_OR_RETURN(
      a->evidence_,
      EvidenceConsumer::Start(config.kafka_brokers, config.evidence_group, a->store_.get(),
                              a->registry_.get(), a->timeline_store_.get()));
  DS_ASSIGN_OR_RETURN(a->requests_, RequestConsumer::Start(config.kafka_brokers,
                                                           config.evidence_group + "-requests",
                                                           a->runner_.get(), a->registry_.get()));
  a->kpi_follower_ =
      std::make_unique<KpiFollower>(a->kpis_.get(), a->intake_.get(), config.intake_client);
  a->kpi_follower_->Start(config.kpi_follow_every);
  a->timeline_ =
      std::make_unique<TimelineBuilder>(a->timeline_store_.get(), a->client_.get(),
                                        a->intake_.get(), config.intake_client, ro.status_map);
  a->service_ = std::make_unique<ServiceImpl>(
      a->runner_.get(), a->store_.get(), a->kpis_.get(), a->kpi_follower_.get(), a->intake_.get(),
      config.intake_client, a->auth_.get(), a->timeline_.get(), a->registry_.get());
  if (config.score_every > absl::ZeroDuration()) {
    a->scorer_ = std::thread([a] {
      absl::Duration wait;
      do {
        wait = a->config_.score_every;
        if (absl::Status st = a->service_->RefreshScore(a->config_.score_period); !st.ok()) {
          // Intake not up yet (a fresh start) or away: sooner than the period.
          wait = std::min(wait, absl::Seconds(30));
          LogWarn("score refresh failed; trying again",
                  {{"error", std::string(st.message())}, {"in", absl::FormatDuration(wait)}});
        }
      } while (!a->stop_.WaitForNotificationWithTimeout(wait));
    });
  }
  DS_ASSIGN_OR_RETURN(
      a->server_, GrpcServer::Start(config.server, {a->service_.get()},
                                    {{dossiersync::v1::ReconciliationService::service_full_name()},
                                     {{"storage", [db = a->db_.get()] { return db->Probe(); }}}}));
  DS_ASSIGN_OR_RETURN(
      a->metrics_, MetricsServer::Start(config.metrics_listen, a->registry_, a->server_->health()));
  if (config.incremental_every > absl::ZeroDuration() ||
      config.full_sweep_every > absl::ZeroDuration() || !config.full_sweep_at.empty()) {
    a->scheduler_ = std::thread([a] { a->Schedule(); });
  }
  return app;
}

void App::Schedule() {
  auto on = [](absl::Duration d) { return d > absl::ZeroDuration(); };
  // ±10 % jitter: replicas on the same schedule drift apart instead of one always winning the
  // lease (seen with two replicas in lock-step) and all hitting DVCQG at the same instant.
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> jitter(0.9, 1.1);
  // The full sweep: every full_sweep_every when set, else nightly at full_sweep_at.
  const bool nightly = !on(config_.full_sweep_every) && !config_.full_sweep_at.empty();
  const absl::Duration sweep_at =
      nightly ? *ParseTimeOfDay(config_.full_sweep_at) : absl::ZeroDuration();  // validated
  auto next_sweep = [&](absl::Time now) {
    if (nightly) return NextDailyAt(now, sweep_at, VietnamTime());
    if (on(config_.full_sweep_every)) return now + config_.full_sweep_every * jitter(rng);
    return absl::InfiniteFuture();
  };
  absl::Time next_incremental = absl::Now() + config_.incremental_every;
  absl::Time next_full = next_sweep(absl::Now());
  auto until_due = [&] {
    absl::Time due = next_full;
    if (on(config_.incremental_every)) due = std::min(due, next_incremental);
    return std::max(absl::Milliseconds(1), due - absl::Now());
  };
  while (!stop_.WaitForNotificationWithTimeout(until_due())) {
    absl::Time now = absl::Now();
    dossiersync::v1::StartRunRequest req;
    req.set_repair(true);
    std::string trigger;
    if (now >= next_full) {
      next_full = next_sweep(now);
      trigger = "full-sweep";
    } else if (on(config_.incremental_every) && now >= next_incremental) {
      next_incremental = now + config_.incremental_every * jitter(rng);
      *req.mutable_changed_since() = google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
          absl::ToUnixMicros(now - config_.incremental_window));
      trigger = "incremental";
    }
    if (trigger.empty()) continue;
    auto id = runner_->Start(req, trigger);
    if (!id.ok()) {
      LogInfo("scheduled run skipped",
              {{"trigger", trigger}, {"reason", std::string(id.status().message())}});
    }
  }
}

void App::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (server_) server_->BeginShutdown();  // NOT_SERVING from the first moment
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (scheduler_.joinable()) scheduler_.join();
  if (server_) server_->Shutdown(absl::Seconds(5));
  if (requests_) requests_->Stop();  // before the runner: it starts runs
  if (runner_) {
    runner_->Cancel();  // a run in progress ends CANCELLED and releases the lease
    runner_->Join();
  }
  if (evidence_) evidence_->Stop();
  if (kpi_follower_) kpi_follower_->Stop();
  if (producer_) producer_->Flush(absl::Seconds(5)).IgnoreError();
  if (poller_.joinable()) poller_.join();
  if (scorer_.joinable()) scorer_.join();
}

App::~App() { Stop(); }

}  // namespace dossiersync::reconciliation
