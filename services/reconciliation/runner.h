// One reconciliation run: reads the provincial truth from IntakeService (ListDossiers, or
// GetDossier for explicit codes), looks every dossier up at DVCQG (TraCuuHoSo, bounded concurrency,
// rate limit, retries), classifies drift, records and publishes it (drift topic), requests repairs
// (sync-requests, a full resync when steps are missing), escalates drift that survived the previous
// run's repair, and publishes the run summary (reconciliation-runs). A lease in the service's
// database keeps one run at a time across replicas.
//
// Thread safety: Start is thread-safe; a run executes on its own thread.
#ifndef DOSSIERSYNC_SERVICES_RECONCILIATION_RUNNER_H_
#define DOSSIERSYNC_SERVICES_RECONCILIATION_RUNNER_H_

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/dvcqg/client.h"
#include "common/grpc_client.h"
#include "common/kafka.h"
#include "dossiersync/v1/intake.grpc.pb.h"
#include "dossiersync/v1/reconciliation.pb.h"
#include "services/reconciliation/run_store.h"

namespace dossiersync::reconciliation {

struct RunnerOptions {
  int concurrency = 8;            // TraCuuHoSo calls in flight
  double lookups_per_second = 0;  // 0 = unlimited
  std::array<int, 11> status_map = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  std::string holder;  // this replica's lease identity
  absl::Duration lease_ttl = absl::Seconds(60);
};

class Runner {
 public:
  Runner(RunnerOptions options, dvcqg::Client* dvcqg, dossiersync::v1::IntakeService::Stub* intake,
         ClientOptions intake_client, KafkaProducer* producer, RunStore* store);
  ~Runner();
  // Starts a run in the background and returns its id; FAILED_PRECONDITION with reason
  // RUN_IN_PROGRESS while another run (here or on another replica) holds the lease.
  absl::StatusOr<std::string> Start(const dossiersync::v1::StartRunRequest& req);
  // Runs synchronously (the caller holds no lease yet); for tests and schedules.
  absl::StatusOr<dossiersync::v1::ReconciliationRun> RunNow(
      const dossiersync::v1::StartRunRequest& req);
  void Join();

 private:
  dossiersync::v1::ReconciliationRun Execute(const std::string& run_id,
                                             const dossiersync::v1::StartRunRequest& req);
  absl::StatusOr<std::vector<std::pair<std::string, std::optional<dossiersync::v1::Dossier>>>>
  Provincial(const dossiersync::v1::StartRunRequest& req);
  dvcqg::LookupResult LookupWithRetries(const std::string& code);
  void Publish(const std::string& topic, const std::string& key,
               const google::protobuf::Message& m);

  const RunnerOptions options_;
  dvcqg::Client* dvcqg_;
  dossiersync::v1::IntakeService::Stub* intake_;
  const ClientOptions intake_client_;
  KafkaProducer* producer_;
  RunStore* store_;
  absl::Mutex mu_;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  absl::Mutex rate_mu_;
  absl::Time next_lookup_ ABSL_GUARDED_BY(rate_mu_) = absl::InfinitePast();
};

}  // namespace dossiersync::reconciliation

#endif  // DOSSIERSYNC_SERVICES_RECONCILIATION_RUNNER_H_
