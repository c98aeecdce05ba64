// How long a failed push waits before its next try: exponential backoff with full jitter (at least
// what DVCQG's Retry-After asked) and a retry budget that slows retries down gradually when
// failures outrun successes, instead of letting a fault storm multiply DVCQG's load.
//
// The budget (after Finagle's RetryBudget): each success deposits `ratio` tokens and time deposits
// `min_per_second` a second (so a quiet system can still retry), at most `max` banked; each retry
// withdraws one. A retry with a token waits only its backoff. Beyond them the budget goes into
// debt (at most `max`) and the retry is booked behind the debt: it waits at least
// debt / min_per_second. Retries beyond the budget are so spread at the refill rate: waits grow
// one step per queued retry, gradually, up to the backoff cap, instead of every retry jumping to
// the cap (which made the sync lag reach tens of seconds under 15 % of faults).
//
// Thread safety: RetryBudget is not thread-safe (the engine holds its lock); Backoff is pure.
#ifndef DOSSIERSYNC_SERVICES_SYNC_RETRY_POLICY_H_
#define DOSSIERSYNC_SERVICES_SYNC_RETRY_POLICY_H_

#include "absl/time/time.h"

namespace dossiersync::sync {

// The wait before retry number `failures` (1 = the first retry): uniform in
// [0, min(cap, base * 2^(failures-1))) by `unit` in [0, 1), and at least `retry_after`.
absl::Duration Backoff(int failures, absl::Duration base, absl::Duration cap,
                       absl::Duration retry_after, double unit);
// The same with a random `unit`.
absl::Duration Backoff(int failures, absl::Duration base, absl::Duration cap,
                       absl::Duration retry_after);

class RetryBudget {
 public:
  RetryBudget(double ratio, double max, double min_per_second, double initial = 10);
  void OnSuccess();
  struct Taken {
    bool within_budget = true;
    absl::Duration floor = absl::ZeroDuration();  // the least this retry waits
  };
  // Withdraws one retry at `now`.
  Taken Take(absl::Time now, absl::Duration cap);
  // Tokens at `now` (negative: debt).
  double tokens(absl::Time now);

 private:
  void Refill(absl::Time now);
  const double ratio_;
  const double max_;
  const double min_per_second_;
  double tokens_;
  absl::Time last_ = absl::InfinitePast();
};

}  // namespace dossiersync::sync

#endif  // DOSSIERSYNC_SERVICES_SYNC_RETRY_POLICY_H_
