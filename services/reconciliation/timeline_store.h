// What the reconciliation keeps for one dossier's story (GetDossierTimeline): every sync result
// the sync reported for it (dossiersync.sync-results.v1: each push, DVCQG's answer, dead letters),
// kept --timeline_keep_for and pruned by age, and reads over the drift runs found in it and its
// latest check. The run store keeps only the last sync result per dossier; this is the history.
//
// Thread safety: thread-safe (each call is one transaction; pruning is serialised by a mutex).
#ifndef DOSSIERSYNC_SERVICES_RECONCILIATION_TIMELINE_STORE_H_
#define DOSSIERSYNC_SERVICES_RECONCILIATION_TIMELINE_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/storage/database.h"
#include "dossiersync/v1/events.pb.h"
#include "services/reconciliation/run_store.h"

namespace dossiersync::reconciliation {

// Drift a run found in one dossier, with the run's start and trigger.
struct DriftFound {
  dossiersync::v1::DriftItem item;
  absl::Time run_started_at;
  std::string trigger;
};

class TimelineStore {
 public:
  // The run store's schema (RunStore::Open) must exist: this one indexes its drift by code.
  // `keep_for` 0 keeps the history for ever.
  static absl::StatusOr<std::unique_ptr<TimelineStore>> Open(storage::Database* db,
                                                             absl::Duration keep_for);

  // Adds the results to the history (idempotent: a message applied twice is kept once); at most
  // once an hour it also deletes the history older than keep_for.
  absl::Status Record(const std::vector<dossiersync::v1::SyncResult>& results);
  // Deletes results reported before `before`; returns how many.
  absl::StatusOr<int64_t> Prune(absl::Time before);

  // The dossier's sync results, oldest first.
  absl::StatusOr<std::vector<dossiersync::v1::SyncResult>> SyncResults(const std::string& code);
  // Drift found in the dossier by every run still stored, oldest run first.
  absl::StatusOr<std::vector<DriftFound>> Drift(const std::string& code);
  // The dossier's latest check by any run (nullopt: never checked).
  absl::StatusOr<std::optional<DossierCheck>> LatestCheck(const std::string& code);

 private:
  TimelineStore(storage::Database* db, absl::Duration keep_for) : db_(db), keep_for_(keep_for) {}
  storage::Database* db_;
  const absl::Duration keep_for_;
  absl::Mutex mu_;
  absl::Time last_prune_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace dossiersync::reconciliation

#endif  // DOSSIERSYNC_SERVICES_RECONCILIATION_TIMELINE_STORE_H_
