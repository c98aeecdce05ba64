// The sync engine: turns changes read from Kafka into DVCQG calls.
//
// Per dossier a queue of pending changes; a dossier is worked on by at most one worker at a
// time (strict order), many dossiers at once (one slow dossier blocks no other). A worker takes up
// to a batch of ready dossiers, coalesces each one's pending changes to its newest snapshot (steps
// are never skipped), decides create or update from the ledger, sends one DongBoHoSoMC per kind,
// then each dossier's unpushed steps with CapNhatTienDoHoSoMC. Never sends a revision older than
// the one DVCQG has (ledger). Failures: retryable ones back off exponentially with full jitter
// (honouring Retry-After) and keep the changes; "đã tồn tại" on create → update and "không tồn tại"
// on update → create at once; permanent rejections go to the dead-letter topic (offsets advance
// only after its delivery report). A circuit breaker stops work while DVCQG fails and lets one
// probe through after a cool-down; a token bucket limits the call rate. Every attempt's outcome
// is published to sync-results.
//
// The policies are parts of their own, tested alone: services/sync/breaker.h (the breaker and its
// probe) and services/sync/retry_policy.h (backoff and the retry budget).
//
// Thread safety: all public methods are thread-safe. `on_done` runs on worker threads while the
// engine's lock is held: the one lock order is Engine::mu_ → OffsetTracker's lock (on_done marks
// the offset done there), so that Release cannot return while a finished offset of a released
// partition is still to be marked. OffsetTracker calls nothing back; on_done must not call the
// engine.
#ifndef DOSSIERSYNC_SERVICES_SYNC_ENGINE_H_
#define DOSSIERSYNC_SERVICES_SYNC_ENGINE_H_

#include <array>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <queue>
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
#include "services/sync/retry_policy.h"

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
};

// One unit of work: a change from Kafka (or a resync / replay) and where it came from.
struct Work {
  dossiersync::v1::DossierChange change;
  TopicPartition tp;  // empty topic: not from Kafka (replay)
  int64_t offset = -1;
  bool force = false;       // push the snapshot even if DVCQG has this revision (resync)
  std::string traceparent;  // the message's: logs about it and what is produced carry its trace
};

class Engine {
 public:
  using DoneFn = std::function<void(const TopicPartition&, int64_t offset)>;
  Engine(EngineOptions options, dvcqg::Client* client, Ledger* ledger, KafkaProducer* producer,
         prometheus::Registry& registry, DoneFn on_done);
  ~Engine();
  void Start();
  void Stop();

  void Enqueue(Work w);

  enum class Result { kDone, kRetry, kDeadLetter };
  struct Outcome {
    Result result = Result::kDone;
    std::string error;
    std::string error_code;
    absl::Duration retry_after = absl::ZeroDuration();
    dvcqg::Outcome dvcqg = dvcqg::Outcome::kAccepted;
    const char* service = "";  // the last DVCQG service this attempt called ("" = none needed)
  };
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
  struct Queue {
    std::deque<Work> pending;
    bool active = false;
    bool queued = false;  // in ready_ or in the timer heap
    absl::Time not_before = absl::InfinitePast();
    int failures = 0;
  };
  struct Taken {
    std::string code;
    std::vector<Work> works;
    absl::Time taken_at;  // the attempt's start: SyncResult.latency runs from here
  };
  void WorkerLoop();
  std::vector<Taken> TakeBatch() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MakeReady(const std::string& code, Queue& q) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Process(std::vector<Taken>& batch);
  void PushSnapshots(std::vector<Taken*>& items, std::map<std::string, Outcome>& outcomes);
  // Sends `steps` (unsent, already marked uncertain in the ledger); appends to `pushed` the ones
  // DVCQG has now. No ledger writes but ResetNational.
  Outcome PushSteps(const std::string& code, std::vector<StoredStep> steps,
                    std::vector<std::string>* pushed);
  static absl::Status CommitScope(absl::StatusOr<std::unique_ptr<Ledger::Scope>>& scope);
  // A dossier whose snapshot goes to DVCQG: its newest change and whether we created it there.
  struct SnapshotItem {
    Taken* t;
    dossiersync::v1::DossierChange latest;
    bool created;
  };
  // Records one DongBoHoSoMC answer for its items: accepted, flipped (create <-> update, into
  // `again`), dead-lettered or to retry; one ledger transaction.
  void RecordSyncAnswer(const std::vector<SnapshotItem*>& group, const dvcqg::CallResult& r,
                        bool update, std::map<std::string, Outcome>& outcomes,
                        std::vector<SnapshotItem>& again);
  // Process's phases (each one ledger transaction): record what arrived and pick the dossiers
  // whose snapshot must go; claim each pushed dossier's unsent steps; record the steps DVCQG took.
  std::vector<Taken*> RecordArrivals(std::vector<Taken>& batch,
                                     std::map<std::string, Outcome>& outcomes,
                                     std::map<std::string, int64_t>& newest_rev);
  std::map<std::string, std::vector<StoredStep>> ClaimUnsentSteps(
      std::vector<Taken>& batch, std::map<std::string, Outcome>& outcomes);
  void RecordSentSteps(const std::map<std::string, std::vector<std::string>>& sent);
  // An attempt ended: report it (sync-results, metrics), dead-letter it when DVCQG refused it for
  // good, record it in the ledger and settle the dossier's queue (done: offsets; else: back off).
  void Finish(Taken& t, const Outcome& o, int64_t revision);
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
  void RecordCall(const dvcqg::CallResult& r);
  void AcquireRate();
  int MapStatus(int s) const;

  const EngineOptions options_;
  dvcqg::Client* client_;
  Ledger* ledger_;
  KafkaProducer* producer_;
  DoneFn on_done_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Queue> queues_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> ready_ ABSL_GUARDED_BY(mu_);
  std::priority_queue<std::pair<absl::Time, std::string>,
                      std::vector<std::pair<absl::Time, std::string>>, std::greater<>>
      timers_ ABSL_GUARDED_BY(mu_);
  size_t pending_ ABSL_GUARDED_BY(mu_) = 0;
  std::multiset<TopicPartition> active_tps_ ABSL_GUARDED_BY(mu_);
  std::set<TopicPartition> revoked_ ABSL_GUARDED_BY(mu_);  // being released: their work is dropped
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool operator_paused_ ABSL_GUARDED_BY(mu_) = false;
  RetryBudget retry_budget_ ABSL_GUARDED_BY(mu_);
  // Circuit breaker.
  Breaker breaker_ ABSL_GUARDED_BY(mu_);
  // Rate limit.
  TokenBucket rate_{options_.rate_limit_per_second, static_cast<double>(options_.rate_limit_burst)};
  // Delivery reports awaited by workers.
  absl::Mutex dr_mu_;
  int64_t next_opaque_ ABSL_GUARDED_BY(dr_mu_) = 1;
  std::map<int64_t, int> dr_state_ ABSL_GUARDED_BY(dr_mu_);  // 0 waiting, 1 ok, 2 failed

  std::vector<std::thread> workers_;

  prometheus::Family<prometheus::Counter>* pushes_;
  prometheus::Counter* retries_;
  prometheus::Counter* budget_exhausted_;
  prometheus::Counter* dead_letters_;
  prometheus::Histogram* push_latency_;
  prometheus::Gauge* breaker_gauge_;
  prometheus::Gauge* pending_gauge_;
};

}  // namespace dossiersync::sync

#endif  // DOSSIERSYNC_SERVICES_SYNC_ENGINE_H_
