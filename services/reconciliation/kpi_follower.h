// Keeps KpiStore's provincial rows up to date: reads intake's ListDossiers from the stored change
// sequence on (only what changed since the last read) and applies it in batches, every `every`
// in the background and once more at the start of each GetKpis (so a call sees what intake has
// accepted before it).
//
// Thread safety: thread-safe; catch-ups are serialised (a caller waits for the one running, then
// reads what is left, usually nothing).
#ifndef DOSSIERSYNC_SERVICES_RECONCILIATION_KPI_FOLLOWER_H_
#define DOSSIERSYNC_SERVICES_RECONCILIATION_KPI_FOLLOWER_H_

#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/grpc_client.h"
#include "dossiersync/v1/intake.grpc.pb.h"
#include "services/reconciliation/kpi_store.h"

namespace dossiersync::reconciliation {

class KpiFollower {
 public:
  KpiFollower(KpiStore* store, dossiersync::v1::IntakeService::Stub* intake, ClientOptions client)
      : store_(store), intake_(intake), client_(std::move(client)) {}
  ~KpiFollower() { Stop(); }

  // Applies every provincial change intake holds past the stored cursor. UNAVAILABLE when intake
  // or the database cannot answer (what was applied before the failure stays).
  absl::Status CatchUp();
  // Catches up every `every` on a thread of its own until Stop.
  void Start(absl::Duration every);
  void Stop();

 private:
  absl::Status CatchUpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  KpiStore* const store_;
  dossiersync::v1::IntakeService::Stub* const intake_;
  const ClientOptions client_;
  absl::Mutex mu_;  // one catch-up at a time
  absl::Mutex call_mu_;
  grpc::ClientContext* call_ ABSL_GUARDED_BY(call_mu_) = nullptr;  // the read in progress
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace dossiersync::reconciliation

#endif  // DOSSIERSYNC_SERVICES_RECONCILIATION_KPI_FOLLOWER_H_
