#include "services/sync/engine.h"

#include <random>

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

Engine::Engine(EngineOptions options, dvcqg::Client* client, Ledger* ledger,
               KafkaProducer* producer, prometheus::Registry& registry, DoneFn on_done)
    : options_(std::move(options)),
      client_(client),
      ledger_(ledger),
      producer_(producer),
      on_done_(std::move(on_done)),
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
  push_latency_ = &prometheus::BuildHistogram()
                       .Name("dossiersync_sync_push_latency_seconds")
                       .Help("From intake acceptance to DVCQG acceptance of a change")
                       .Register(registry)
                       .Add({}, LatencyBuckets());
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

int Engine::MapStatus(int s) const { return dvcqg::MapStatus(options_.status_map, s); }

void Engine::MakeReady(const std::string& code, Queue& q) {
  if (q.queued || q.active || q.pending.empty()) return;
  q.queued = true;
  if (q.not_before <= absl::Now()) {
    ready_.push_back(code);
  } else {
    timers_.push({q.not_before, code});
  }
}

void Engine::Enqueue(Work w) {
  absl::MutexLock l(&mu_);
  if (revoked_.count(w.tp)) return;
  std::string code = w.change.dossier().code();
  Queue& q = queues_[code];
  q.pending.push_back(std::move(w));
  ++pending_;
  pending_gauge_->Set(static_cast<double>(pending_));
  MakeReady(code, q);
}

bool Engine::ShouldPause() const {
  absl::MutexLock l(&mu_);
  return operator_paused_ || breaker_.cooling(absl::Now()) || pending_ >= options_.max_pending;
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
  return pending_;
}

bool Engine::Busy(const std::string& code, bool* retrying) const {
  absl::MutexLock l(&mu_);
  auto it = queues_.find(code);
  if (it == queues_.end()) return false;
  *retrying = it->second.failures > 0;
  return it->second.active || !it->second.pending.empty();
}

void Engine::Release(const std::set<TopicPartition>& tps) {
  absl::MutexLock l(&mu_);
  revoked_.insert(tps.begin(), tps.end());
  auto idle = [this, &tps]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const auto& tp : tps) {
      if (active_tps_.count(tp)) return false;
    }
    return true;
  };
  mu_.Await(absl::Condition(&idle));
  // Nothing from these partitions is active now: drop what is queued (the next owner reads it).
  for (auto& [code, q] : queues_) {
    size_t before = q.pending.size();
    std::erase_if(q.pending, [&](const Work& w) { return tps.count(w.tp) > 0; });
    pending_ -= before - q.pending.size();
  }
  for (const auto& tp : tps) revoked_.erase(tp);
  pending_gauge_->Set(static_cast<double>(pending_));
}

std::vector<Engine::Taken> Engine::TakeBatch() {
  std::vector<Taken> out;
  absl::Time now = absl::Now();
  while (!timers_.empty() && timers_.top().first <= now) {
    ready_.push_back(timers_.top().second);
    timers_.pop();
  }
  // Breaker: closed, or open past its cool-down with no probe in flight (the probe: one dossier).
  // The probe is marked only once a dossier is taken for it, and its dossier's Finish clears the
  // mark when no call gave a verdict (nothing to push, a ledger error): a probe cannot be lost.
  const Breaker::Admit admit = breaker_.Admits(now);
  if (admit == Breaker::Admit::kNothing) return out;
  const bool probe = admit == Breaker::Admit::kProbe;
  const size_t limit = probe ? 1 : static_cast<size_t>(client_->config().batch_size);
  while (!ready_.empty() && out.size() < limit) {
    std::string code = std::move(ready_.front());
    ready_.pop_front();
    auto it = queues_.find(code);
    if (it == queues_.end()) continue;
    Queue& q = it->second;
    q.queued = false;
    if (q.active || q.pending.empty()) continue;
    q.active = true;
    Taken t{code, {}, now};
    for (auto& w : q.pending) {
      if (!w.tp.first.empty()) active_tps_.insert(w.tp);
      t.works.push_back(std::move(w));
    }
    q.pending.clear();
    out.push_back(std::move(t));
  }
  if (probe && !out.empty()) breaker_.ProbeTaken(out.front().code);
  return out;
}

void Engine::WorkerLoop() {
  while (true) {
    std::vector<Taken> batch;
    {
      absl::MutexLock l(&mu_);
      while (true) {
        if (stop_) return;
        batch = TakeBatch();
        if (!batch.empty()) break;
        // Nothing to take. While the breaker holds work back, ready dossiers are no reason to
        // wake up: sleep until the cool-down ends (or the next timer), never spin.
        bool held = breaker_.held(absl::Now());
        absl::Duration wait = absl::Milliseconds(100);
        if (!timers_.empty()) wait = std::min(wait, timers_.top().first - absl::Now());
        if (breaker_.cooling(absl::Now())) {
          wait = std::min(wait, breaker_.open_until() - absl::Now());
        }
        wait = std::max(wait, absl::Milliseconds(1));
        if (held) {
          mu_.AwaitWithTimeout(absl::Condition(&stop_), wait);
        } else {
          mu_.AwaitWithTimeout(absl::Condition(
                                   +[](Engine* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(e->mu_) {
                                     return e->stop_ || !e->ready_.empty();
                                   },
                                   this),
                               wait);
        }
      }
    }
    Process(batch);
  }
}

void Engine::AcquireRate() { rate_.Acquire(); }

void Engine::RecordCall(const dvcqg::CallResult& r) {
  bool failed = dvcqg::IsRetryable(r.outcome) && r.outcome != dvcqg::Outcome::kRateLimited;
  absl::MutexLock l(&mu_);
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
    dr_state_[m.opaque] = 0;
  }
  if (!producer_->Produce(m).ok()) {
    absl::MutexLock l(&dr_mu_);
    dr_state_.erase(m.opaque);
    return false;
  }
  absl::MutexLock l(&dr_mu_);
  auto done = [this, id = m.opaque]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(dr_mu_) { return dr_state_[id] != 0; };
  bool reported = dr_mu_.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(60));
  bool ok = reported && dr_state_[m.opaque] == 1;
  dr_state_.erase(m.opaque);
  return ok;
}

void Engine::OnDelivery(int64_t opaque, const absl::Status& st) {
  if (opaque <= 0) return;  // fire-and-forget results
  absl::MutexLock l(&dr_mu_);
  auto it = dr_state_.find(opaque);
  if (it != dr_state_.end()) it->second = st.ok() ? 1 : 2;
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
