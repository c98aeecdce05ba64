// The reconciliation service's own database: runs, their drift items, pending repairs, the sync
// evidence, and (through storage::Leases) the lease that keeps one run at a time across replicas.
//
// Thread safety: thread-safe (each call is one transaction).
#ifndef DOSSIERSYNC_SERVICES_RECONCILIATION_RUN_STORE_H_
#define DOSSIERSYNC_SERVICES_RECONCILIATION_RUN_STORE_H_

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/storage/database.h"
#include "common/storage/lease.h"
#include "dossiersync/v1/dossier.pb.h"
#include "dossiersync/v1/events.pb.h"

namespace dossiersync::reconciliation {

// One provincial dossier's latest check by any run.
struct DossierCheck {
  std::string code;
  std::string agency_code;
  int64_t revision = 0;  // the provincial revision checked
  absl::Time checked_at;
  std::string run_id;
  bool in_sync = false;
  // What DVCQG held: nullopt when absent. Stored only when it differed from the province (an
  // in-sync check reads back as an empty Dossier: equal to the provincial snapshot).
  std::optional<dossiersync::v1::Dossier> national;
};

// Everything known of one dossier's national state: its latest check and the sync's last result.
struct DossierEvidence {
  std::optional<DossierCheck> check;
  int64_t last_sync_revision = 0;  // 0: no sync result seen
  bool last_sync_accepted = false;
  absl::Time last_sync_at = absl::InfinitePast();
};

class RunStore {
 public:
  static absl::StatusOr<std::unique_ptr<RunStore>> Open(storage::Database* db);

  // Takes (or renews) the lease `name` for `holder` until now + ttl; false when another holder
  // has it and it has not expired.
  absl::StatusOr<bool> AcquireLease(const std::string& name, const std::string& holder,
                                    absl::Duration ttl);
  absl::Status ReleaseLease(const std::string& name, const std::string& holder);

  absl::Status SaveRun(const dossiersync::v1::ReconciliationRun& run);
  absl::StatusOr<std::optional<dossiersync::v1::ReconciliationRun>> GetRun(const std::string& id);
  // The most recent finished run, if any.
  absl::StatusOr<std::optional<dossiersync::v1::ReconciliationRun>> LatestFinished();
  // The latest `limit` runs, newest first.
  absl::StatusOr<std::vector<dossiersync::v1::ReconciliationRun>> Runs(int limit);
  absl::Status AddDrift(const dossiersync::v1::DriftItem& item);
  absl::StatusOr<std::vector<dossiersync::v1::DriftItem>> Drift(const std::string& run_id,
                                                                int kind);
  // Repairs requested and not yet seen to hold: code -> the run that requested it. A later run
  // that finds the dossier clean clears it (SetRepair with an empty run id); one that still finds
  // drift escalates it.
  absl::StatusOr<std::map<std::string, std::string>> PendingRepairs();
  absl::Status SetRepair(const std::string& code, const std::string& run_id);
  // Marks runs left RUNNING (by `holder`, or by anyone when empty) as INTERRUPTED; returns how
  // many. Called at start for this replica's own runs, and by whoever takes the lease.
  absl::StatusOr<int> MarkInterrupted(const std::string& holder);

  // Records a check of a provincial dossier (an older check never replaces a newer one).
  absl::Status RecordCheck(const DossierCheck& check) { return RecordChecks({check}); }
  // Records checks in one transaction (a run's workers write their checks in groups).
  absl::Status RecordChecks(const std::vector<DossierCheck>& checks);
  // Per dossier code: the latest check (of dossiers of `agency`; every agency when empty) and the
  // last sync result (of every dossier).
  absl::StatusOr<std::map<std::string, DossierEvidence>> Evidence(const std::string& agency);

  // Sync evidence from dossiersync.sync-results.v1: the last result per dossier and, for accepted
  // pushes, the lag from intake's acceptance (idempotent: safe to apply a message twice).
  absl::Status RecordSyncResults(const std::vector<dossiersync::v1::SyncResult>& results);
  // The revision of the dossier's last sync result; nullopt when none was seen or the last one is
  // RETRYING (the sync still holds the change).
  absl::StatusOr<std::optional<int64_t>> LastSyncRevision(const std::string& code);
  // The sync's frontier: the latest intake acceptance time (µs) of a change the sync reported
  // pushing (sync-results' change_accepted_at); nullopt before the first.
  absl::StatusOr<std::optional<int64_t>> SyncFrontier();
  // True when the dossier's latest check found it in sync at `revision` and no sync result for it
  // has been recorded since that check (an incremental run need not look it up again).
  absl::StatusOr<bool> VerifiedUnchanged(const std::string& code, int64_t revision);
  // A one-line description of the dossier's last sync result, for drift details.
  absl::StatusOr<std::string> LastSync(const std::string& code);

 private:
  explicit RunStore(storage::Database* db) : db_(db) {}
  storage::Database* db_;
  std::unique_ptr<storage::Leases> leases_;
};

}  // namespace dossiersync::reconciliation

#endif  // DOSSIERSYNC_SERVICES_RECONCILIATION_RUN_STORE_H_
