// A token bucket: Acquire() blocks until a token is available, refilling at `per_second` up to
// `burst` tokens. A rate of 0 or less means unlimited (Acquire returns at once). Used for the
// sync's DVCQG call rate and the reconciliation's lookup and repair rates.
//
// Thread safety: thread-safe; waiting callers do not hold the lock while they sleep.
#ifndef DOSSIERSYNC_COMMON_TOKEN_BUCKET_H_
#define DOSSIERSYNC_COMMON_TOKEN_BUCKET_H_

#include <algorithm>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace dossiersync {

class TokenBucket {
 public:
  explicit TokenBucket(double per_second, double burst = 1)
      : per_second_(per_second), burst_(std::max(1.0, burst)) {}

  // Blocks until a token is taken. `stop`, when given, is checked between waits: Acquire then
  // returns false without a token.
  bool Acquire(const std::function<bool()>& stop = nullptr) {
    if (per_second_ <= 0) return true;
    while (true) {
      absl::Duration wait;
      {
        absl::MutexLock l(&mu_);
        absl::Time now = absl::Now();
        tokens_ =
            refilled_ == absl::InfinitePast()
                ? burst_
                : std::min(burst_, tokens_ + absl::ToDoubleSeconds(now - refilled_) * per_second_);
        refilled_ = now;
        if (tokens_ >= 1) {
          tokens_ -= 1;
          return true;
        }
        wait = absl::Seconds((1 - tokens_) / per_second_);
      }
      if (stop && stop()) return false;
      absl::SleepFor(std::min(wait, absl::Milliseconds(200)));
    }
  }

 private:
  const double per_second_;
  const double burst_;
  absl::Mutex mu_;
  double tokens_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time refilled_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace dossiersync

#endif  // DOSSIERSYNC_COMMON_TOKEN_BUCKET_H_
