// End-to-end latency for the load generator: intake OK → DVCQG accepted. The generator records
// each acknowledged change (dossier code, revision, the moment intake's OK arrived); the tracker
// consumes `sync-results` from its end (started before the load) and, for each change, takes the
// first ACCEPTED result of that dossier at a revision ≥ the change's (a push carries every
// coalesced change up to its revision). Latency = that result's `at` − the OK's arrival.
//
// Thread safety: RecordAck may be called from any thread; Start/Wait/Report from one thread.
#ifndef DOSSIERSYNC_BENCH_E2E_TRACKER_H_
#define DOSSIERSYNC_BENCH_E2E_TRACKER_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace dossiersync::bench {

struct E2eReport {
  int64_t changes = 0;                // acknowledged changes tracked
  int64_t covered = 0;                // of which DVCQG accepted within the wait
  std::vector<int64_t> latencies_us;  // sorted
};

class E2eTracker {
 public:
  ~E2eTracker();
  // Starts consuming sync-results from the end of every partition.
  absl::Status Start(const std::string& brokers);
  void RecordAck(const std::string& code, int64_t revision, absl::Time acked);
  // Waits until every recorded change is covered by an accepted result, or `timeout`.
  void Wait(absl::Duration timeout);
  E2eReport Report();

 private:
  struct Ack {
    int64_t revision;
    int64_t acked_us;
  };
  struct Accepted {
    int64_t revision;
    int64_t at_us;
  };
  bool CoveredLocked(const std::string& code, const Ack& a, int64_t* at_us) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int64_t UncoveredLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::map<std::string, std::vector<Ack>> acks_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<Accepted>> accepted_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace dossiersync::bench

#endif  // DOSSIERSYNC_BENCH_E2E_TRACKER_H_
