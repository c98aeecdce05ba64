// When scheduled runs are due (SPEC §7: the system heals without anyone starting a run):
// incremental runs every few minutes over a recent window, and a full sweep nightly at a time of
// day in Vietnam's time (UTC+7 all year: no daylight saving), or every `full_sweep_every` when an
// operator prefers a period.
//
// Thread safety: pure functions.
#ifndef DOSSIERSYNC_SERVICES_RECONCILIATION_SCHEDULE_H_
#define DOSSIERSYNC_SERVICES_RECONCILIATION_SCHEDULE_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace dossiersync::reconciliation {

// Vietnam's time zone, where "nightly" is meant.
absl::TimeZone VietnamTime();
// "HH:MM" (00:00 to 23:59) as the time since midnight; INVALID_ARGUMENT naming the format.
absl::StatusOr<absl::Duration> ParseTimeOfDay(absl::string_view hhmm);
// The first moment strictly after `after` whose time of day in `tz` is `time_of_day`.
absl::Time NextDailyAt(absl::Time after, absl::Duration time_of_day, absl::TimeZone tz);

}  // namespace dossiersync::reconciliation

#endif  // DOSSIERSYNC_SERVICES_RECONCILIATION_SCHEDULE_H_
