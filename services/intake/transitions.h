// Status transition rules for dossiers (reference/dvcqg.md §6), configurable.
//
// Spec syntax: `from>to,to;from>to,...`, e.g. "1>2,3,7;2>4,7". A dossier seen for the first time
// may start in any status (backfills of archived dossiers); staying in the same status is always
// allowed (a change of other fields or new steps).
//
// Thread safety: immutable after construction.
#ifndef DOSSIERSYNC_SERVICES_INTAKE_TRANSITIONS_H_
#define DOSSIERSYNC_SERVICES_INTAKE_TRANSITIONS_H_

#include <array>
#include <string>

#include "absl/status/statusor.h"

namespace dossiersync::intake {

class TransitionRules {
 public:
  // The default rule set: the observed flow 1 → 2|3|7; 2 → 4|7; 4 → 5|6|8|9|7; 5 → 4|7|8;
  // 6 → 4|7|8; 8 → 4; 9 → 10|4; plus the forward skips along 2 → 4 → 9 → 10.
  static const char kDefaultSpec[];
  static TransitionRules Default();
  static absl::StatusOr<TransitionRules> Parse(const std::string& spec);

  bool Allowed(int from, int to) const;
  std::string ToString() const;

 private:
  std::array<std::array<bool, 11>, 11> allowed_{};
};

}  // namespace dossiersync::intake

#endif  // DOSSIERSYNC_SERVICES_INTAKE_TRANSITIONS_H_
