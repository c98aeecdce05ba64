// The reconciliation service's own database: runs, their drift items, and the lease that keeps
// one run at a time across replicas.
//
// Thread safety: thread-safe (each call is one transaction).
#ifndef DOSSIERSYNC_SERVICES_RECONCILIATION_RUN_STORE_H_
#define DOSSIERSYNC_SERVICES_RECONCILIATION_RUN_STORE_H_

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/storage/database.h"
#include "dossiersync/v1/events.pb.h"

namespace dossiersync::reconciliation {

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
  absl::Status AddDrift(const dossiersync::v1::DriftItem& item);
  absl::StatusOr<std::vector<dossiersync::v1::DriftItem>> Drift(const std::string& run_id,
                                                                int kind);
  // Codes for which the most recent finished run before `run_id` requested a repair.
  absl::StatusOr<std::set<std::string>> RepairedBefore(const std::string& run_id);

 private:
  explicit RunStore(storage::Database* db) : db_(db) {}
  storage::Database* db_;
};

}  // namespace dossiersync::reconciliation

#endif  // DOSSIERSYNC_SERVICES_RECONCILIATION_RUN_STORE_H_
