// The figures behind GetKpis, maintained as they change instead of computed from every dossier on
// each call (a call at 1,000,000 dossiers streamed them all from intake: seconds; now it sums a
// few hundred rows).
//
//   recon_kpi_dossier  one row per provincial dossier: its agency, submission time, revision,
//                      online / resolved / on time, and whether DVCQG is known to hold it and holds
//                      the current revision (national_view.h's rule, from the latest evidence)
//   recon_kpi_day      the same counted per (agency, UTC day of submission)
//   recon_lag_day      accepted pushes per (agency, UTC day intake accepted the change, lag bucket)
//   recon_kpi_cursor   intake's change sequence the provincial rows are up to date with
//
// Provincial rows come from intake's ListDossiers, followed by change sequence (KpiFollower);
// evidence changes (a check, a sync result) move a dossier's in-sync flag in the transaction that
// records them. A window's counts are whole days from recon_kpi_day plus the dossiers of its
// partial days read one by one, so they are exact. Lag percentiles are exact over up to
// kExactLagSamples pushes; above that they come from log buckets 2 % wide (the value reported is
// the bucket's geometric middle: within 1 % of the exact one).
//
// Thread safety: thread-safe (each call is one transaction; the static helpers run inside the
// caller's write transaction, which the database serialises).
#ifndef DOSSIERSYNC_SERVICES_RECONCILIATION_KPI_STORE_H_
#define DOSSIERSYNC_SERVICES_RECONCILIATION_KPI_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/storage/database.h"
#include "dossiersync/v1/dossier.pb.h"
#include "dossiersync/v1/reconciliation.pb.h"

namespace dossiersync::reconciliation {

class KpiStore {
 public:
  static constexpr int64_t kExactLagSamples = 50000;

  // `exact_lag_samples`: the most pushes whose lags are read one by one (tests lower it).
  static absl::StatusOr<std::unique_ptr<KpiStore>> Open(
      storage::Database* db, int64_t exact_lag_samples = kExactLagSamples);

  // Creates the tables (RunStore::Open does: recording evidence writes them) and counts lags
  // recorded before they existed.
  static absl::Status Migrate(storage::Database* db);

  // Intake's change sequence the provincial rows reflect (0: none yet).
  absl::StatusOr<int64_t> Cursor();
  // Records provincial dossiers read from ListDossiers (a row older than the one stored is
  // skipped, so replicas following at once agree) and advances the cursor to `seq`.
  absl::Status ApplyProvincial(const std::vector<dossiersync::v1::Dossier>& dossiers, int64_t seq);

  // Inside a write transaction that has just recorded evidence of `code`: recomputes its in-sync
  // flag and moves the day counts.
  static absl::Status RefreshEvidence(storage::Transaction& tx, const std::string& code);
  // Inside the write transaction that recorded an accepted push's lag for the first time.
  static absl::Status CountLag(storage::Transaction& tx, const std::string& agency,
                               int64_t accepted_at_us, int64_t lag_us);

  // The KPIs of dossiers submitted in [since, until) (of `agency`; every agency, also per agency,
  // when empty) and the lags of changes accepted in that window.
  absl::Status Compute(int64_t since_us, int64_t until_us, const std::string& agency,
                       dossiersync::v1::Kpis* out);

 private:
  KpiStore(storage::Database* db, int64_t exact_lag_samples)
      : db_(db), exact_lag_samples_(exact_lag_samples) {}
  storage::Database* const db_;
  const int64_t exact_lag_samples_;
};

}  // namespace dossiersync::reconciliation

#endif  // DOSSIERSYNC_SERVICES_RECONCILIATION_KPI_STORE_H_
