// Named leases in a service's database: one holder at a time per name until the lease expires.
// Used to keep one outbox relay publishing per intake database and one reconciliation run at a
// time across replicas. Each call is one write transaction (serialised across replicas on both
// drivers), so two holders can never both believe they hold the same lease.
//
// Thread safety: thread-safe.
#ifndef DOSSIERSYNC_COMMON_STORAGE_LEASE_H_
#define DOSSIERSYNC_COMMON_STORAGE_LEASE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/storage/database.h"

namespace dossiersync::storage {

class Leases {
 public:
  // Creates the `leases` table if needed (migration component "leases").
  static absl::StatusOr<std::unique_ptr<Leases>> Open(Database* db);
  // Takes or renews `name` for `holder` until now + ttl; false while another holder has an
  // unexpired lease, unless that holder is a process of this host that no longer exists
  // (HolderIsDeadHere: a kill -9 leaves its lease behind; a restart takes it over at once).
  absl::StatusOr<bool> Acquire(const std::string& name, const std::string& holder,
                               absl::Duration ttl);
  // Gives the lease up if `holder` has it.
  absl::Status Release(const std::string& name, const std::string& holder);

 private:
  explicit Leases(Database* db) : db_(db) {}
  Database* db_;
};

// This process's default holder identity: HOSTNAME-PID (stable across restarts of a Kubernetes
// pod's container, whose process is pid 1; unique among processes on one machine).
std::string DefaultHolder();
// Whether `holder` is a DefaultHolder identity of this host whose process is gone.
bool HolderIsDeadHere(absl::string_view holder);

}  // namespace dossiersync::storage

#endif  // DOSSIERSYNC_COMMON_STORAGE_LEASE_H_
