// The mapping of our status codes (1-10) to the codes DVCQG is sent, for sites whose national
// adapter reads some statuses differently (`--status_map=5:4`). One definition for the sync (what
// it sends) and the reconciliation (what it expects DVCQG to hold).
//
// Thread safety: values and pure functions.
#ifndef DOSSIERSYNC_COMMON_DVCQG_STATUS_MAP_H_
#define DOSSIERSYNC_COMMON_DVCQG_STATUS_MAP_H_

#include <array>
#include <string>

#include "absl/status/statusor.h"

namespace dossiersync::dvcqg {

// Index: our status 1-10 (0 unused); value: DVCQG's.
using StatusMap = std::array<int, 11>;
inline constexpr StatusMap kIdentityStatusMap = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};

// "5:4, 6:4" (OURS:DVCQG, comma-separated); codes not named map to themselves. INVALID_ARGUMENT
// naming --status_map and the bad pair.
absl::StatusOr<StatusMap> ParseStatusMap(const std::string& spec);
// The DVCQG status sent for our status `s` (codes outside 1-10 unchanged).
inline int MapStatus(const StatusMap& m, int s) { return s >= 1 && s <= 10 ? m[s] : s; }

}  // namespace dossiersync::dvcqg

#endif  // DOSSIERSYNC_COMMON_DVCQG_STATUS_MAP_H_
