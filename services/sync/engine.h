// The sync engine: turns changes read from Kafka into DVCQG calls. It wires three parts, each
// tested alone, and owns the policies around them:
//   Scheduler (scheduler.h)  per-dossier queues: one worker per dossier at a time, many at once,
//                            retries at the front at their time, offsets handed back in order;
//   Pusher (pusher.h)        one batch of dossiers to DVCQG as the ledger decides (create or
//                            update, steps DVCQG lacks), through a dvcqg::Api;
//   policies                 Breaker (breaker.h: stops work while DVCQG fails, one probe after a
//                            cool-down), RetryBudget and Backoff (retry_policy.h: exponential
//                            backoff with full jitter honouring Retry-After, retries a bounded
//                            share of the traffic), a token bucket on the call rate, and a
//                            hold: after a 429 with Retry-After no worker calls DVCQG before it
//                            has passed (DVCQG limits the province's account, not one dossier).
// A worker takes up to a batch of ready dossiers (one, as the breaker's probe), the pusher works
// them, and each dossier finishes: done (offsets advance), retry (back off), or dead letter
// (offsets advance only after the dead-letter topic's delivery report). Every attempt's outcome is
// published to sync-results.
//
// Thread safety: all public methods are thread-safe. `on_done` runs on worker threads while the
// engine's lock is held: the one lock order is Engine::mu_ → OffsetTracker's lock (on_done marks
// the offset done there), so that Release cannot return while a finished offset of a released
// partition is still to be marked. OffsetTracker calls nothing back; on_done must not call the
// engine.
#ifndef DOSSIERSYNC_SERVICES_SYNC_ENGINE_H_
#define DOSSIERSYNC_SERVICES_SYNC_ENGINE_H_

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/dvcqg/client.h"
#include "common/dvcqg/status_map.h"
#include "common/kafka.h"
#include "common/token_bucket.h"
#include "dossiersync/v1/events.pb.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "services/sync/breaker.h"
#include "services/sync/ledger.h"
#include "services/sync/offsets.h"
#include "services/sync/pusher.h"
#include "services/sync/retry_policy.h"
#include "services/sync/scheduler.h"

namespace dossiersync::sync {

struct EngineOptions {
  int workers = 8;
  absl::Duration backoff_base = absl::Milliseconds(200);
  absl::Duration backoff_cap = absl::Seconds(30);
  int breaker_threshold = 20;  // consecutive retryable call failures
  absl::Duration breaker_cooldown = absl::Seconds(2);
  absl::Duration breaker_cooldown_max = absl::Seconds(60);
  double rate_limit_per_second = 0;  // DVCQG calls; 0 = unlimited
  int rate_limit_burst = 50;
  size_t max_pending = 20000;  // changes in memory before consumption pauses
  // Retry budget (services/sync/retry_policy.h): each success earns `retry_budget_ratio`
  // retries and each second `retry_budget_min_per_second` (at most `retry_budget_max` banked);
  // retries beyond it are spread at the refill rate (each waits one step longer, up to the
  // backoff cap), so retries stay a bounded share of the traffic however many dossiers fail,
  // without every retry jumping to the cap.
  double retry_budget_ratio = 0.2;
  double retry_budget_max = 100;
  double retry_budget_min_per_second = 10;
  dvcqg::StatusMap status_map = dvcqg::kIdentityStatusMap;  // ours -> DVCQG
  std::string service_name = "dossier-sync";
  // A DVCQG call slower than this (or timed out) makes its dossiers go alone, until a call of
  // theirs alone is fast again.
  absl::Duration slow_call = absl::Seconds(2);
};

class Engine {
 public:
  using DoneFn = Scheduler::DoneFn;
  // `api` is DVCQG (dvcqg::Client in the service).
  Engine(EngineOptions options, dvcqg::Api* api, Ledger* ledger, KafkaProducer* producer,
         prometheus::Registry& registry, DoneFn on_done);
  ~Engine();
  void Start();
  void Stop();

  void Enqueue(Work w);

  // Consumption should pause: breaker open, operator pause or too much pending work.
  bool ShouldPause() const;
  void SetOperatorPause(bool paused);
  bool operator_paused() const;
  bool breaker_open() const;
  size_t pending() const;
  // Drops queued work of `tps` and waits until no worker holds work from them (rebalance).
  void Release(const std::set<TopicPartition>& tps);
  // True while the dossier has queued or active work; `retrying` if its last attempt failed.
  bool Busy(const std::string& code, bool* retrying) const;
  // Delivery reports of the producer (results, dead letters) arrive here.
  void OnDelivery(int64_t opaque, const absl::Status& st);

 private:
  // DVCQG as the pusher sees it: each call waits for the rate limit and its outcome feeds the
  // breaker.
  class GatedApi : public dvcqg::Api {
   public:
    GatedApi(Engine* engine, dvcqg::Api* api) : engine_(engine), api_(api) {}
    dvcqg::CallResult SyncDossiers(const std::vector<dvcqg::DossierItem>& items,
                                   bool is_update) override;
    std::vector<dvcqg::CallResult> UpdateProgress(
        const std::string& code, const std::vector<dvcqg::StepItem>& steps) override;
    dvcqg::CallResult UpdateProgressRows(const std::vector<dvcqg::ProgressRow>& rows) override;
    dvcqg::LookupResult Lookup(const std::string& code) override;
    const dvcqg::ClientConfig& config() const override { return api_->config(); }

   private:
    // Waits out a Retry-After DVCQG gave any call, then takes a token of the rate limit. A result
    // instead when stopping first (the call is not made).
    std::optional<dvcqg::CallResult> Admit();
    // Feeds the breaker and notes which dossiers DVCQG is slow for (see alone_).
    void Record(const std::vector<std::string>& codes, const dvcqg::CallResult& r);
    Engine* engine_;
    dvcqg::Api* api_;
  };
  enum class Delivery { kWaiting, kDelivered, kFailed };

  void WorkerLoop();
  // Waits for a batch; empty once stopping.
  std::vector<Taken> NextBatch() ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<Taken> TakeBatch() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Process(std::vector<Taken>& batch);
  // An attempt ended: report it (sync-results, metrics), dead-letter it when DVCQG refused it for
  // good, record it in the ledger and settle the dossier's queue (done: offsets; else: back off).
  void Finish(Taken& t, const Outcome& o);
  void ReportAttempt(const Taken& t, const Outcome& o, int64_t revision, int attempts,
                     const std::string& traceparent);
  // True once the dead letter is on Kafka and in the ledger.
  bool DeadLetter(const std::string& code, const dossiersync::v1::DossierChange& newest,
                  const Outcome& o, int attempts, const std::string& traceparent);
  void Settle(Taken& t, const Outcome& o, bool done) ABSL_LOCKS_EXCLUDED(mu_);
  bool PublishWait(const OutMessage& m);
  void PublishResult(const std::string& code, int64_t revision, const Outcome& o, int attempts,
                     absl::Duration latency, const char* service,
                     const google::protobuf::Timestamp* change_accepted_at = nullptr,
                     const std::string& agency_code = "", const std::string& traceparent = "");
  void RecordCall(const dvcqg::CallResult& r) ABSL_LOCKS_EXCLUDED(mu_);
  void UpdatePendingGauge() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const EngineOptions options_;
  dvcqg::Api* api_;
  Ledger* ledger_;
  KafkaProducer* producer_;
  GatedApi gated_{this, api_};
  prometheus::Histogram* push_latency_;  // before pusher_, which observes it
  Pusher pusher_;

  mutable absl::Mutex mu_;
  Scheduler scheduler_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  // No DVCQG call before this (the latest 429's Retry-After, for every worker).
  absl::Time dvcqg_hold_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // Dossiers whose last attempt was slow or timed out: taken alone, so that a dossier DVCQG is
  // slow for holds up no other in its batch (one that then goes fast leaves the set).
  std::set<std::string> alone_ ABSL_GUARDED_BY(mu_);
  bool operator_paused_ ABSL_GUARDED_BY(mu_) = false;
  RetryBudget retry_budget_ ABSL_GUARDED_BY(mu_);
  Breaker breaker_ ABSL_GUARDED_BY(mu_);
  TokenBucket rate_{options_.rate_limit_per_second, static_cast<double>(options_.rate_limit_burst)};
  // Delivery reports awaited by workers.
  absl::Mutex dr_mu_;
  int64_t next_opaque_ ABSL_GUARDED_BY(dr_mu_) = 1;
  std::map<int64_t, Delivery> deliveries_ ABSL_GUARDED_BY(dr_mu_);

  std::vector<std::thread> workers_;

  prometheus::Family<prometheus::Counter>* pushes_;
  prometheus::Counter* retries_;
  prometheus::Counter* budget_exhausted_;
  prometheus::Counter* dead_letters_;
  prometheus::Gauge* breaker_gauge_;
  prometheus::Gauge* pending_gauge_;
};

}  // namespace dossiersync::sync

#endif  // DOSSIERSYNC_SERVICES_SYNC_ENGINE_H_
