#include "services/sync/engine.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/metrics.h"
#include "google/protobuf/util/time_util.h"

namespace dossiersync::sync {

using dossiersync::v1::DossierChange;
using google::protobuf::util::TimeUtil;

namespace {

prometheus::Histogram* PushLatency(prometheus::Registry& registry) {
  return &prometheus::BuildHistogram()
              .Name("dossiersync_sync_push_latency_seconds")
              .Help("From intake acceptance to DVCQG acceptance of a change")
              .Register(registry)
              .Add({}, LatencyBuckets());
}

}  // namespace

Engine::Engine(EngineOptions options, dvcqg::Api* api, Ledger* ledger, KafkaProducer* producer,
               prometheus::Registry& registry, DoneFn on_done)
    : options_(std::move(options)),
      api_(api),
      ledger_(ledger),
      producer_(producer),
      push_latency_(PushLatency(registry)),
      pusher_({options_.status_map, push_latency_}, &gated_, ledger_),
      scheduler_(std::move(on_done)),
      retry_budget_(options_.retry_budget_ratio, options_.retry_budget_max,
                    options_.retry_budget_min_per_second),
      breaker_(
          {options_.breaker_threshold, options_.breaker_cooldown, options_.breaker_cooldown_max}) {
  pushes_ = &prometheus::BuildCounter()
                 .Name("dossiersync_sync_pushes_total")
                 .Help("Dossier sync attempts by outcome")
                 .Register(registry);
  retries_ = &prometheus::BuildCounter()
                  .Name("dossiersync_sync_retries_total")
                  .Help("Dossier attempts scheduled again after a retryable failure")
                  .Register(registry)
                  .Add({});
  budget_exhausted_ = &prometheus::BuildCounter()
                           .Name("dossiersync_sync_retry_budget_exhausted_total")
                           .Help("Retries delayed to the backoff cap for lack of retry budget")
                           .Register(registry)
                           .Add({});
  dead_letters_ = &prometheus::BuildCounter()
                       .Name("dossiersync_sync_dead_letters_total")
                       .Help("Changes sent to the dead-letter topic")
                       .Register(registry)
                       .Add({});
  breaker_gauge_ = &prometheus::BuildGauge()
                        .Name("dossiersync_sync_breaker_open")
                        .Help("1 while the DVCQG circuit breaker is open")
                        .Register(registry)
                        .Add({});
  pending_gauge_ = &prometheus::BuildGauge()
                        .Name("dossiersync_sync_pending_changes")
                        .Help("Changes read from Kafka and not yet done")
                        .Register(registry)
                        .Add({});
}

Engine::~Engine() { Stop(); }

void Engine::Start() {
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

void Engine::Stop() {
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
  }
  for (auto& t : workers_) t.join();
  workers_.clear();
}

void Engine::UpdatePendingGauge() {
  pending_gauge_->Set(static_cast<double>(scheduler_.pending()));
}

void Engine::Enqueue(Work w) {
  absl::MutexLock l(&mu_);
  if (scheduler_.Enqueue(std::move(w), absl::Now())) UpdatePendingGauge();
}

bool Engine::ShouldPause() const {
  absl::MutexLock l(&mu_);
  return operator_paused_ || breaker_.cooling(absl::Now()) ||
         scheduler_.pending() >= options_.max_pending;
}

void Engine::SetOperatorPause(bool paused) {
  absl::MutexLock l(&mu_);
  operator_paused_ = paused;
}

bool Engine::operator_paused() const {
  absl::MutexLock l(&mu_);
  return operator_paused_;
}

bool Engine::breaker_open() const {
  absl::MutexLock l(&mu_);
  return breaker_.held(absl::Now());
}

size_t Engine::pending() const {
  absl::MutexLock l(&mu_);
  return scheduler_.pending();
}

bool Engine::Busy(const std::string& code, bool* retrying) const {
  absl::MutexLock l(&mu_);
  return scheduler_.Busy(code, retrying);
}

void Engine::Release(const std::set<TopicPartition>& tps) {
  absl::MutexLock l(&mu_);
  scheduler_.Revoke(tps);
  auto idle = [this, &tps]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return scheduler_.Idle(tps); };
  mu_.Await(absl::Condition(&idle));
  // Nothing from these partitions is active now: drop what is queued (the next owner reads it).
  scheduler_.Drop(tps);
  UpdatePendingGauge();
}

std::vector<Taken> Engine::TakeBatch() {
  // Breaker: closed, or open past its cool-down with no probe in flight (the probe: one dossier).
  // The probe is marked only once a dossier is taken for it, and its dossier's Settle clears the
  // mark when no call gave a verdict (nothing to push, a ledger error): a probe cannot be lost.
  const absl::Time now = absl::Now();
  const Breaker::Admit admit = breaker_.Admits(now);
  if (admit == Breaker::Admit::kNothing) return {};
  const bool probe = admit == Breaker::Admit::kProbe;
  const size_t limit = probe ? 1 : static_cast<size_t>(api_->config().batch_size);
  std::vector<Taken> out = scheduler_.Take(limit, now, &alone_);
  if (probe && !out.empty()) breaker_.ProbeTaken(out.front().code);
  return out;
}

std::vector<Taken> Engine::NextBatch() {
  absl::MutexLock l(&mu_);
  while (!stop_) {
    std::vector<Taken> batch = TakeBatch();
    if (!batch.empty()) return batch;
    // Nothing to take. While the breaker holds work back, ready dossiers are no reason to wake
    // up: sleep until the cool-down ends (or the next timer), never spin.
    const absl::Time now = absl::Now();
    absl::Duration wait = absl::Milliseconds(100);
    if (auto timer = scheduler_.NextTimer()) wait = std::min(wait, *timer - now);
    if (breaker_.cooling(now)) wait = std::min(wait, breaker_.open_until() - now);
    wait = std::max(wait, absl::Milliseconds(1));
    if (breaker_.held(now)) {
      mu_.AwaitWithTimeout(absl::Condition(&stop_), wait);
    } else {
      mu_.AwaitWithTimeout(absl::Condition(
                               +[](Engine* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(e->mu_) {
                                 return e->stop_ || e->scheduler_.HasReady();
                               },
                               this),
                           wait);
    }
  }
  return {};
}

void Engine::WorkerLoop() {
  while (true) {
    std::vector<Taken> batch = NextBatch();
    if (batch.empty()) return;
    Process(batch);
  }
}

void Engine::Process(std::vector<Taken>& batch) {
  std::vector<PushItem> items;
  items.reserve(batch.size());
  for (const Taken& t : batch) {
    PushItem item{t.code, {}, false};
    for (const Work& w : t.works) {
      item.changes.push_back(&w.change);
      item.force |= w.force;
    }
    items.push_back(std::move(item));
  }
  std::map<std::string, Outcome> outcomes = pusher_.Push(items);
  for (Taken& t : batch) Finish(t, outcomes[t.code]);
}

std::optional<dvcqg::CallResult> Engine::GatedApi::Admit() {
  {
    absl::MutexLock l(&engine_->mu_);
    while (!engine_->stop_ && absl::Now() < engine_->dvcqg_hold_until_) {
      engine_->mu_.AwaitWithTimeout(absl::Condition(&engine_->stop_),
                                    engine_->dvcqg_hold_until_ - absl::Now());
    }
    if (absl::Now() < engine_->dvcqg_hold_until_) {
      // Stopping inside DVCQG's Retry-After: the call is not made; the change stays unpushed.
      dvcqg::CallResult held;
      held.outcome = dvcqg::Outcome::kRateLimited;
      held.message = "not called: DVCQG asked to wait (Retry-After) and the sync is stopping";
      held.retry_after = engine_->dvcqg_hold_until_ - absl::Now();
      return held;
    }
  }
  engine_->rate_.Acquire();
  return std::nullopt;
}

dvcqg::CallResult Engine::GatedApi::SyncDossiers(const std::vector<dvcqg::DossierItem>& items,
                                                 bool is_update) {
  if (auto held = Admit()) return *held;
  dvcqg::CallResult r = api_->SyncDossiers(items, is_update);
  std::vector<std::string> codes;
  for (const auto& [d, status] : items) codes.push_back(d->code());
  Record(codes, r);
  return r;
}

std::vector<dvcqg::CallResult> Engine::GatedApi::UpdateProgress(
    const std::string& code, const std::vector<dvcqg::StepItem>& steps) {
  if (auto held = Admit()) return {*held};
  std::vector<dvcqg::CallResult> rs = api_->UpdateProgress(code, steps);
  if (!rs.empty()) Record({code}, rs.back());
  return rs;
}

dvcqg::CallResult Engine::GatedApi::UpdateProgressRows(
    const std::vector<dvcqg::ProgressRow>& rows) {
  if (auto held = Admit()) return *held;
  dvcqg::CallResult r = api_->UpdateProgressRows(rows);
  std::vector<std::string> codes;
  for (const auto& row : rows) {
    if (codes.empty() || codes.back() != row.code) codes.push_back(row.code);
  }
  Record(codes, r);
  return r;
}

dvcqg::LookupResult Engine::GatedApi::Lookup(const std::string& code) {
  if (auto held = Admit()) return {*held, std::nullopt};
  dvcqg::LookupResult l = api_->Lookup(code);
  Record({code}, l.call);
  return l;
}

void Engine::GatedApi::Record(const std::vector<std::string>& codes, const dvcqg::CallResult& r) {
  engine_->RecordCall(r);
  const bool slow =
      r.outcome == dvcqg::Outcome::kTimeout || r.latency > engine_->options_.slow_call;
  absl::MutexLock l(&engine_->mu_);
  if (slow) {
    if (engine_->alone_.size() >= 100000) engine_->alone_.clear();  // bounded
    engine_->alone_.insert(codes.begin(), codes.end());
  } else if (codes.size() == 1) {
    engine_->alone_.erase(codes.front());  // fast on its own again
  }
}

void Engine::RecordCall(const dvcqg::CallResult& r) {
  bool failed = dvcqg::IsRetryable(r.outcome) && r.outcome != dvcqg::Outcome::kRateLimited;
  absl::MutexLock l(&mu_);
  if (r.outcome == dvcqg::Outcome::kRateLimited && r.retry_after > absl::ZeroDuration()) {
    // DVCQG limits the province's account, not one dossier: no worker calls it before then.
    const absl::Time until = absl::Now() + r.retry_after;
    if (until > dvcqg_hold_until_) {
      dvcqg_hold_until_ = until;
      LogWarn("DVCQG asked to wait (429); no call before the Retry-After",
              {{"retry_after", absl::FormatDuration(r.retry_after)}});
    }
  }
  Breaker::Change change = failed ? breaker_.OnFailure(absl::Now()) : breaker_.OnSuccess();
  if (change == Breaker::Change::kOpened || change == Breaker::Change::kReopened) {
    breaker_gauge_->Set(1);
    LogWarn("DVCQG circuit breaker open",
            {{"cooldown", absl::FormatDuration(breaker_.cooldown())}, {"last_error", r.message}});
  } else if (change == Breaker::Change::kClosed) {
    breaker_gauge_->Set(0);
    LogInfo("DVCQG circuit breaker closed");
  }
}

bool Engine::PublishWait(const OutMessage& in) {
  OutMessage m = in;
  {
    absl::MutexLock l(&dr_mu_);
    m.opaque = next_opaque_++;
    deliveries_[m.opaque] = Delivery::kWaiting;
  }
  if (!producer_->Produce(m).ok()) {
    absl::MutexLock l(&dr_mu_);
    deliveries_.erase(m.opaque);
    return false;
  }
  absl::MutexLock l(&dr_mu_);
  auto reported = [this, id = m.opaque]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(dr_mu_) {
    return deliveries_[id] != Delivery::kWaiting;
  };
  dr_mu_.AwaitWithTimeout(absl::Condition(&reported), absl::Seconds(60));
  const bool ok = deliveries_[m.opaque] == Delivery::kDelivered;
  deliveries_.erase(m.opaque);
  return ok;
}

void Engine::OnDelivery(int64_t opaque, const absl::Status& st) {
  if (opaque <= 0) return;  // fire-and-forget results
  absl::MutexLock l(&dr_mu_);
  auto it = deliveries_.find(opaque);
  if (it != deliveries_.end()) it->second = st.ok() ? Delivery::kDelivered : Delivery::kFailed;
}

void Engine::PublishResult(const std::string& code, int64_t revision, const Outcome& o,
                           int attempts, absl::Duration latency, const char* service,
                           const google::protobuf::Timestamp* change_accepted_at,
                           const std::string& agency_code, const std::string& traceparent) {
  dossiersync::v1::SyncResult r;
  r.set_code(code);
  r.set_revision(revision);
  r.set_outcome(o.result == Result::kDone    ? dossiersync::v1::SYNC_OUTCOME_ACCEPTED
                : o.result == Result::kRetry ? dossiersync::v1::SYNC_OUTCOME_RETRYING
                                             : dossiersync::v1::SYNC_OUTCOME_DEAD_LETTERED);
  r.set_dvcqg_error_code(o.error_code);
  r.set_dvcqg_message(o.error);
  r.set_attempts(attempts);
  *r.mutable_latency() = TimeUtil::MicrosecondsToDuration(absl::ToInt64Microseconds(latency));
  *r.mutable_at() = NowTimestamp();
  r.set_service(service);
  if (change_accepted_at != nullptr) *r.mutable_change_accepted_at() = *change_accepted_at;
  r.set_agency_code(agency_code);
  OutMessage m{kTopicSyncResults,
               code,
               r.SerializeAsString(),
               "dossiersync.v1.SyncResult",
               NewEventId(),
               traceparent.empty() ? NewTraceparent() : traceparent,
               0};
  if (!producer_->Produce(m).ok()) LogWarn("sync-results produce failed", {{"code", code}});
}

}  // namespace dossiersync::sync
