#include "services/reconciliation/schedule.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace dossiersync::reconciliation {

absl::TimeZone VietnamTime() { return absl::FixedTimeZone(7 * 3600); }

absl::StatusOr<absl::Duration> ParseTimeOfDay(absl::string_view hhmm) {
  std::vector<absl::string_view> parts = absl::StrSplit(hhmm, ':');
  int h = -1, m = -1;
  if (parts.size() != 2 || parts[0].size() != 2 || parts[1].size() != 2 ||
      !absl::SimpleAtoi(parts[0], &h) || !absl::SimpleAtoi(parts[1], &m) || h < 0 || h > 23 ||
      m < 0 || m > 59) {
    return absl::InvalidArgumentError(
        absl::StrCat("time of day \"", hhmm, "\" is not HH:MM (00:00 to 23:59)"));
  }
  return absl::Hours(h) + absl::Minutes(m);
}

absl::Time NextDailyAt(absl::Time after, absl::Duration time_of_day, absl::TimeZone tz) {
  const absl::CivilDay day = absl::ToCivilDay(after, tz);
  for (int d = 0; d < 2; ++d) {
    absl::Time t = absl::FromCivil(day + d, tz) + time_of_day;
    if (t > after) return t;
  }
  return absl::FromCivil(day + 2, tz) + time_of_day;  // not reached: a day has 24 h in tz
}

}  // namespace dossiersync::reconciliation
