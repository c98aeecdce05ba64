#include "services/sync/breaker.h"

#include <algorithm>

namespace dossiersync::sync {

Breaker::Admit Breaker::Admits(absl::Time now) const {
  if (now < open_until_) return Admit::kNothing;
  if (consecutive_failures_ < options_.threshold) return Admit::kAll;
  return probing_ ? Admit::kNothing : Admit::kProbe;
}

void Breaker::ProbeTaken(const std::string& code) {
  probing_ = true;
  probe_code_ = code;
}

void Breaker::Finished(const std::string& code) {
  if (probing_ && probe_code_ == code) probing_ = false;  // ended without a call's verdict
}

Breaker::Change Breaker::OnFailure(absl::Time now) {
  if (++consecutive_failures_ < options_.threshold) return Change::kNone;
  const bool was_probe = probing_;
  probing_ = false;
  if (was_probe) cooldown_ = std::min(cooldown_ * 2, options_.cooldown_max);
  open_until_ = now + cooldown_;
  if (was_probe) return Change::kReopened;
  return consecutive_failures_ == options_.threshold ? Change::kOpened : Change::kNone;
}

Breaker::Change Breaker::OnSuccess() {
  const bool was_open = consecutive_failures_ >= options_.threshold;
  consecutive_failures_ = 0;
  probing_ = false;
  cooldown_ = options_.cooldown;
  open_until_ = absl::InfinitePast();
  return was_open ? Change::kClosed : Change::kNone;
}

}  // namespace dossiersync::sync
