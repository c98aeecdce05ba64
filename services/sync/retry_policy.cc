#include "services/sync/retry_policy.h"

#include <algorithm>
#include <random>

namespace dossiersync::sync {

absl::Duration Backoff(int failures, absl::Duration base, absl::Duration cap,
                       absl::Duration retry_after, double unit) {
  absl::Duration ceiling = base;
  for (int i = 1; i < failures && ceiling < cap; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, cap);
  return std::max(ceiling * unit, retry_after);  // full jitter
}

absl::Duration Backoff(int failures, absl::Duration base, absl::Duration cap,
                       absl::Duration retry_after) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> u(0.0, 1.0);
  return Backoff(failures, base, cap, retry_after, u(rng));
}

RetryBudget::RetryBudget(double ratio, double max, double min_per_second, double initial)
    : ratio_(ratio),
      max_(max),
      min_per_second_(std::max(min_per_second, 1e-3)),
      tokens_(std::min(initial, max)) {}

void RetryBudget::Refill(absl::Time now) {
  if (last_ != absl::InfinitePast() && now > last_) {
    tokens_ = std::min(max_, tokens_ + min_per_second_ * absl::ToDoubleSeconds(now - last_));
  }
  if (last_ == absl::InfinitePast() || now > last_) last_ = now;
}

void RetryBudget::OnSuccess() { tokens_ = std::min(max_, tokens_ + ratio_); }

double RetryBudget::tokens(absl::Time now) {
  Refill(now);
  return tokens_;
}

RetryBudget::Taken RetryBudget::Take(absl::Time now, absl::Duration cap) {
  Refill(now);
  Taken t;
  if (tokens_ >= 1) {
    tokens_ -= 1;
    return t;
  }
  t.within_budget = false;
  tokens_ = std::max(-max_, tokens_ - 1);
  // Booked behind the debt: the time the refill needs to bring the tokens back to zero.
  t.floor = std::min(cap, absl::Seconds(-tokens_ / min_per_second_));
  return t;
}

}  // namespace dossiersync::sync
