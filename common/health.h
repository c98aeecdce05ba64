// One truth about whether a process should get traffic, told to everyone who asks: gRPC's health
// service (overall "" and each service's full name, as grpc_health_probe and meshes ask) and the
// metrics port's /readyz and /livez.
//
// Ready: every check passed on its last run (the checks run on a thread of their own every
// `interval`, e.g. "storage" = Database::Probe) and no shutdown has begun. From the first moment
// of a shutdown (BeginShutdown, the first thing an App's Stop does) the process is NOT_SERVING and
// stays so, while in-flight calls drain. Live: the process runs and its check loop is not stuck (a
// round that has not finished within `stuck_after`); a failing dependency makes a process unready,
// never dead, so Kubernetes does not restart pods for an outage elsewhere.
//
// Thread safety: thread-safe. AddCheck before Start.
#ifndef DOSSIERSYNC_COMMON_HEALTH_H_
#define DOSSIERSYNC_COMMON_HEALTH_H_

#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace grpc {
class HealthCheckServiceInterface;
}

namespace dossiersync {

class Health {
 public:
  struct Options {
    absl::Duration interval = absl::Seconds(2);
    absl::Duration stuck_after = absl::Seconds(60);
  };
  // `service_names`: the full names registered in gRPC's health service besides "".
  Health(std::vector<std::string> service_names, Options options);
  Health(std::vector<std::string> service_names) : Health(std::move(service_names), Options()) {}
  ~Health();

  void AddCheck(std::string name, std::function<absl::Status()> check);
  // Runs every check once (so the first answer is already true), tells `grpc_health` (may be
  // null), then keeps checking every interval.
  void Start(grpc::HealthCheckServiceInterface* grpc_health);
  // NOT_SERVING from now on, everywhere.
  void BeginShutdown();

  struct Report {
    bool live = true;
    bool ready = false;
    nlohmann::json detail;  // {"ready":…, "shutting_down":…, "checks":{name: "ok"|error}}
  };
  Report Get() const;

 private:
  void RunChecks();
  void Publish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool ReadyLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::vector<std::string> names_;
  const Options options_;
  std::vector<std::pair<std::string, std::function<absl::Status()>>> checks_;  // fixed at Start
  mutable absl::Mutex mu_;
  std::map<std::string, absl::Status> results_ ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool published_ready_ ABSL_GUARDED_BY(mu_) = false;
  bool published_once_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time round_started_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool in_round_ ABSL_GUARDED_BY(mu_) = false;
  grpc::HealthCheckServiceInterface* grpc_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;
};

}  // namespace dossiersync

#endif  // DOSSIERSYNC_COMMON_HEALTH_H_
