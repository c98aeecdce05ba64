// Fault injection for the DVCQG simulator: latency (fixed + random), HTTP 500 / 503 rates, 429
// with Retry-After, hanging responses (before or after the write is applied), silently dropped
// writes. Set by flags at start and changed at run time through POST /admin/faults (a JSON object
// with any of the fields below; omitted fields keep their value).
//
// Thread safety: FaultState is thread-safe.
#ifndef DOSSIERSYNC_SERVICES_DVCQG_SIM_FAULTS_H_
#define DOSSIERSYNC_SERVICES_DVCQG_SIM_FAULTS_H_

#include <random>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "nlohmann/json.hpp"

namespace dossiersync::sim {

struct Faults {
  int latency_ms = 0;         // added to every /mapi request
  int jitter_ms = 0;          // plus uniform 0..jitter_ms
  double error_500_rate = 0;  // fraction of /mapi requests answered HTTP 500
  double error_503_rate = 0;
  double rate_429 = 0;  // answered HTTP 429 with Retry-After
  int retry_after_s = 1;
  double hang_rate = 0;  // held for hang_ms, then answered (if the client is still there)
  int hang_ms = 30000;
  bool hang_after_apply = true;  // the write is applied before the hang (the client sees a timeout)
  double drop_rate = 0;          // writes answered with success but not stored
  // CapNhatTienDoHoSoMC calls whose rows name more than one dossier are refused whole ("2"), as a
  // DVCQG that takes one dossier per call would.
  bool refuse_mixed_progress = false;
  // Requests about these dossiers (MaHoSo of a write's items, mahoso of a lookup) are held
  // slow_ms plus uniform 0..slow_jitter_ms before DVCQG handles them: a slow DVCQG for some.
  std::vector<std::string> slow_codes;
  int slow_ms = 0;
  int slow_jitter_ms = 0;
  // MaTTHC values DVCQG "does not know": such dossiers are rejected with "2" (a permanent error).
  std::vector<std::string> reject_procedure_codes;

  nlohmann::json ToJson() const;
  // Applies the fields present in `j`; INVALID_ARGUMENT naming a bad field.
  absl::Status Merge(const nlohmann::json& j);
};

enum class FaultAction { kNone, kError500, kError503, kRateLimit, kHang, kDrop };

class FaultState {
 public:
  Faults Get() const;
  absl::Status Merge(const nlohmann::json& j);
  void Set(const Faults& f);
  // Draws the action for one request (`is_write`: drops apply to writes only) and its delay.
  FaultAction Draw(bool is_write, int* delay_ms);
  // The delay for a request about `codes` (0 unless one is in slow_codes).
  int SlowDelayMs(const std::vector<std::string>& codes);

 private:
  mutable absl::Mutex mu_;
  Faults faults_ ABSL_GUARDED_BY(mu_);
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_){std::random_device{}()};
};

}  // namespace dossiersync::sim

#endif  // DOSSIERSYNC_SERVICES_DVCQG_SIM_FAULTS_H_
