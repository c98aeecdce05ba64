#include "common/dvcqg/status_map.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace dossiersync::dvcqg {

absl::StatusOr<StatusMap> ParseStatusMap(const std::string& spec) {
  StatusMap m = kIdentityStatusMap;
  for (absl::string_view kv : absl::StrSplit(spec, ',', absl::SkipWhitespace())) {
    std::vector<absl::string_view> p = absl::StrSplit(kv, ':');
    int from = 0, to = 0;
    if (p.size() != 2 || !absl::SimpleAtoi(p[0], &from) || !absl::SimpleAtoi(p[1], &to) ||
        from < 1 || from > 10 || to < 1 || to > 10) {
      return absl::InvalidArgumentError(
          absl::StrCat("--status_map: '", kv, "' must be OURS:DVCQG with codes 1-10"));
    }
    m[from] = to;
  }
  return m;
}

}  // namespace dossiersync::dvcqg
