// One reconciliation run: reads the provincial truth from IntakeService (ListDossiers, or
// GetDossier for explicit codes), looks every dossier up at DVCQG (TraCuuHoSo, bounded concurrency,
// rate limit, retries), classifies drift, records and publishes it (drift topic), requests repairs
// (sync-requests, a full resync when steps are missing), escalates drift that survived the previous
// run's repair, and publishes the run summary (reconciliation-runs). A lease in the service's
// database keeps one run at a time across replicas; the run renews it while it executes and stops
// (LEASE_LOST) if another replica took it. The provincial list is streamed through a bounded queue,
// so memory does not grow with the number of dossiers.
//
// Thread safety: Start is thread-safe; a run executes on its own thread.
#ifndef DOSSIERSYNC_SERVICES_RECONCILIATION_RUNNER_H_
#define DOSSIERSYNC_SERVICES_RECONCILIATION_RUNNER_H_

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/dvcqg/client.h"
#include "common/dvcqg/status_map.h"
#include "common/grpc_client.h"
#include "common/kafka.h"
#include "common/token_bucket.h"
#include "dossiersync/v1/intake.grpc.pb.h"
#include "dossiersync/v1/reconciliation.pb.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "services/reconciliation/run_store.h"
#include "services/reconciliation/sync_progress.h"

namespace dossiersync::reconciliation {

struct RunnerOptions {
  int concurrency = 8;             // TraCuuHoSo calls in flight
  double lookups_per_second = 0;   // 0 = unlimited
  double repairs_per_second = 50;  // SyncRequests published per second; 0 = unlimited
  dvcqg::StatusMap status_map = dvcqg::kIdentityStatusMap;
  std::string holder;  // this replica's lease identity; stable across restarts of one replica
  absl::Duration lease_ttl = absl::Seconds(30);  // renewed every ttl/3 while a run executes
  int queue_capacity = 512;                      // provincial dossiers read ahead of the lookups
  // Scheduled runs (incremental, full-sweep) skip a dossier the sync has reported nothing for at
  // its revision when intake accepted it after the sync's frontier (the newest change_accepted_at
  // in sync-results) less `in_flight_slack`, and less than `in_flight_limit` ago; 0 = off.
  absl::Duration in_flight_limit = absl::Hours(1);
  absl::Duration in_flight_slack = absl::Minutes(5);
  // When set (the App sets it), a dossier is also in flight when its partition of dossier-changes
  // has changes the sync has not finished (sync_progress.h): the frontier alone misjudges
  // partitions that progress unevenly. Not owned.
  SyncProgress* sync_progress = nullptr;
  // Incremental runs skip a dossier whose latest check found it in sync at its current revision
  // with no sync result for it since (RunStore::VerifiedUnchanged); a backfill otherwise has every
  // pushed dossier looked up again by each run whose window still holds it.
  bool skip_verified = true;
};

class Runner {
 public:
  static constexpr int kMaxSample = 100000;
  Runner(RunnerOptions options, dvcqg::Client* dvcqg, dossiersync::v1::IntakeService::Stub* intake,
         ClientOptions intake_client, KafkaProducer* producer, RunStore* store,
         prometheus::Registry* registry);
  ~Runner();
  // At start: releases a lease this replica held before a crash and marks its runs left RUNNING as
  // INTERRUPTED, so a restarted replica can run again at once.
  absl::Status Recover();
  // Starts a run in the background and returns its id; FAILED_PRECONDITION with reason
  // RUN_IN_PROGRESS while another run (here or on another replica) holds the lease. `trigger`:
  // on-demand, incremental or full-sweep. The run is a trace of its own, a child of `traceparent`
  // (the caller's, when a StartRun carried one): every line it logs, every intake call and every
  // message it publishes carries it.
  absl::StatusOr<std::string> Start(const dossiersync::v1::StartRunRequest& req,
                                    const std::string& trigger = "on-demand",
                                    const std::string& traceparent = "");
  // Starts a run and waits for it; for tests and tools.
  absl::StatusOr<dossiersync::v1::ReconciliationRun> RunNow(
      const dossiersync::v1::StartRunRequest& req, const std::string& trigger = "on-demand");
  // Asks a running run to stop (it ends CANCELLED and releases the lease); Join waits for it.
  void Cancel() { cancel_ = true; }
  void Join();

 private:
  struct Item {
    std::string code;
    std::optional<dossiersync::v1::Dossier> provincial;
    // The provincial dossier as listed without its steps: Check reads it whole (GetDossier) only
    // when it looks the dossier up.
    bool summary = false;
  };
  class Queue;
  class CheckBuffer;
  struct Tally;
  // A scheduled run's rule for dossiers the sync has not pushed yet (RunnerOptions::in_flight_*):
  // in flight when intake accepted the revision after both times and the sync reported nothing
  // for it.
  struct InFlightRule {
    absl::Time after;       // the sync's frontier less the slack (InfinitePast: no frontier yet)
    absl::Time not_before;  // the run's start less the limit
    // With sync_progress: per partition, the sync is behind there (also in flight).
    std::optional<std::vector<bool>> behind;
  };
  bool InFlight(const dossiersync::v1::Dossier& d, const InFlightRule& rule);

  void Execute(dossiersync::v1::ReconciliationRun run, const dossiersync::v1::StartRunRequest& req,
               const std::string& trace);
  void Heartbeat(const dossiersync::v1::ReconciliationRun& run, Tally& tally, Queue& q,
                 absl::Notification& workers_done, const std::string& trace);
  void Conclude(dossiersync::v1::ReconciliationRun& run, Tally& tally,
                const absl::Status& feed_status, absl::Time started);
  // Streams the provincial dossiers in scope into `q` (ListDossiers resumed from the last
  // change_seq after a broken stream, or GetDossier for explicit codes).
  // A sampled run first streams the scope into a StratifiedSample and checks what it draws.
  // `summaries`: list without steps (an incremental run, which looks few of them up).
  absl::Status Feed(const dossiersync::v1::StartRunRequest& req, bool summaries, Queue& q,
                    Tally& tally);
  absl::Status FeedCodes(const std::vector<std::string>& codes, Queue& q);
  // Each dossier in the scope (ListDossiers per agency, resumed after a broken stream) until
  // `each` answers false (CANCELLED).
  absl::Status ForEachInScope(const dossiersync::v1::StartRunRequest& req, bool include_steps,
                              const std::function<bool(dossiersync::v1::Dossier&)>& each);
  // skip_verified: this run leaves dossiers verified unchanged (RunnerOptions::skip_verified).
  void Check(Item item, const dossiersync::v1::StartRunRequest& req, const std::string& run_id,
             const std::map<std::string, std::string>& pending, Tally& tally, CheckBuffer& checks,
             const InFlightRule* in_flight, bool skip_verified);
  dvcqg::LookupResult LookupWithRetries(const std::string& code);
  // The whole provincial dossier (GetDossier): nullopt when intake does not know it; UNAVAILABLE
  // when intake cannot answer.
  absl::StatusOr<std::optional<dossiersync::v1::Dossier>> Provincial(const std::string& code);
  // Intake's revisions of `code` (nullopt when intake cannot answer).
  std::optional<std::vector<dossiersync::v1::Dossier>> History(const std::string& code);
  void Publish(const std::string& topic, const std::string& key,
               const google::protobuf::Message& m);
  bool Stopping() const { return cancel_ || lease_lost_; }

  const RunnerOptions options_;
  dvcqg::Client* dvcqg_;
  dossiersync::v1::IntakeService::Stub* intake_;
  const ClientOptions intake_client_;
  KafkaProducer* producer_;
  RunStore* store_;
  TokenBucket lookups_;
  TokenBucket repairs_;
  std::atomic<bool> cancel_{false};
  std::atomic<bool> lease_lost_{false};
  absl::Mutex mu_;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);

  prometheus::Family<prometheus::Counter>* drift_;
  prometheus::Family<prometheus::Counter>* runs_;
  prometheus::Counter* checked_;
  prometheus::Counter* lookup_failures_;
  prometheus::Counter* escalated_;
  prometheus::Counter* repairs_requested_;
  prometheus::Gauge* consistency_;
  prometheus::Gauge* not_checked_share_;
  prometheus::Gauge* running_gauge_;
  // When the last run FINISHED (Unix seconds; the alert DossierSyncReconciliationOverdue).
  prometheus::Gauge* last_success_;
  prometheus::Histogram* duration_;
};

}  // namespace dossiersync::reconciliation

#endif  // DOSSIERSYNC_SERVICES_RECONCILIATION_RUNNER_H_
