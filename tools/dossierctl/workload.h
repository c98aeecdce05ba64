// Realistic Lạng Sơn-shaped workload: dossiers of H37 agencies through full lifecycles
// (submitted → accepted → processing → processed → returned, with supplements, payments,
// refusals, withdrawals and stops at realistic rates; ~97.7% online; ~98.9% finished on time).
// Generation is deterministic per (seed, index), so huge loads (a backfill of 879,100 dossiers)
// stream without being held in memory.
//
// Thread safety: Workload is immutable; Lifecycle may be called concurrently.
#ifndef DOSSIERSYNC_TOOLS_DOSSIERCTL_WORKLOAD_H_
#define DOSSIERSYNC_TOOLS_DOSSIERCTL_WORKLOAD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "dossiersync/v1/intake.pb.h"

namespace dossiersync::tools {

// DSKetNoiCSDL code of the national population database [assumed: the national code list is not
// public]; the score configuration names the same code for indicator 4.5.
inline constexpr char kPopulationDatabase[] = "CSDLQGDC";

struct WorkloadOptions {
  uint64_t seed = 37;
  absl::Time now = absl::Now();  // every generated time is before this
  // Backfill: one change per dossier, its final snapshot with every step (archived dossiers).
  bool backfill = false;
  double online_share = 0.977;
  double on_time_share = 0.989;
};

class Workload {
 public:
  explicit Workload(WorkloadOptions options) : o_(options) {}
  // The ordered changes of dossier `index` (revisions strictly increasing).
  std::vector<dossiersync::v1::SubmitChangeRequest> Lifecycle(int64_t index) const;

 private:
  WorkloadOptions o_;
};

}  // namespace dossiersync::tools

#endif  // DOSSIERSYNC_TOOLS_DOSSIERCTL_WORKLOAD_H_
