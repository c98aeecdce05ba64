#include "services/dvcqg_sim/faults.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace dossiersync::sim {

nlohmann::json Faults::ToJson() const {
  return {{"latency_ms", latency_ms},
          {"jitter_ms", jitter_ms},
          {"error_500_rate", error_500_rate},
          {"error_503_rate", error_503_rate},
          {"rate_429", rate_429},
          {"retry_after_s", retry_after_s},
          {"hang_rate", hang_rate},
          {"hang_ms", hang_ms},
          {"hang_after_apply", hang_after_apply},
          {"drop_rate", drop_rate},
          {"refuse_mixed_progress", refuse_mixed_progress},
          {"slow_codes", slow_codes},
          {"slow_ms", slow_ms},
          {"slow_jitter_ms", slow_jitter_ms}};
}

absl::Status Faults::Merge(const nlohmann::json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("faults: expected a JSON object");
  Faults f = *this;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const auto& v = it.value();
    auto rate = [&](double* out) -> absl::Status {
      if (!v.is_number() || v.get<double>() < 0 || v.get<double>() > 1) {
        return absl::InvalidArgumentError(absl::StrCat("faults.", k, ": a number 0-1"));
      }
      *out = v.get<double>();
      return absl::OkStatus();
    };
    auto ms = [&](int* out, int max) -> absl::Status {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > max) {
        return absl::InvalidArgumentError(absl::StrCat("faults.", k, ": an integer 0-", max));
      }
      *out = v.get<int>();
      return absl::OkStatus();
    };
    absl::Status st;
    if (k == "latency_ms")
      st = ms(&f.latency_ms, 600000);
    else if (k == "jitter_ms")
      st = ms(&f.jitter_ms, 600000);
    else if (k == "error_500_rate")
      st = rate(&f.error_500_rate);
    else if (k == "error_503_rate")
      st = rate(&f.error_503_rate);
    else if (k == "rate_429")
      st = rate(&f.rate_429);
    else if (k == "retry_after_s")
      st = ms(&f.retry_after_s, 3600);
    else if (k == "hang_rate")
      st = rate(&f.hang_rate);
    else if (k == "hang_ms")
      st = ms(&f.hang_ms, 600000);
    else if (k == "drop_rate")
      st = rate(&f.drop_rate);
    else if (k == "slow_ms")
      st = ms(&f.slow_ms, 600000);
    else if (k == "slow_jitter_ms")
      st = ms(&f.slow_jitter_ms, 600000);
    else if (k == "hang_after_apply" || k == "refuse_mixed_progress") {
      if (!v.is_boolean())
        return absl::InvalidArgumentError(absl::StrCat("faults.", k, ": a boolean"));
      (k == "hang_after_apply" ? f.hang_after_apply : f.refuse_mixed_progress) = v.get<bool>();
    } else if (k == "reject_procedure_codes" || k == "slow_codes") {
      std::vector<std::string> codes;
      if (!v.is_array()) return absl::InvalidArgumentError(absl::StrCat("faults.", k, ": strings"));
      for (const auto& c : v) {
        if (!c.is_string()) {
          return absl::InvalidArgumentError(absl::StrCat("faults.", k, ": strings"));
        }
        codes.push_back(c.get<std::string>());
      }
      (k == "slow_codes" ? f.slow_codes : f.reject_procedure_codes) = std::move(codes);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("faults: unknown field '", k, "'"));
    }
    if (!st.ok()) return st;
  }
  if (f.error_500_rate + f.error_503_rate + f.rate_429 + f.hang_rate > 1) {
    return absl::InvalidArgumentError("faults: error, 429 and hang rates add up to more than 1");
  }
  *this = f;
  return absl::OkStatus();
}

Faults FaultState::Get() const {
  absl::MutexLock l(&mu_);
  return faults_;
}

absl::Status FaultState::Merge(const nlohmann::json& j) {
  absl::MutexLock l(&mu_);
  return faults_.Merge(j);
}

void FaultState::Set(const Faults& f) {
  absl::MutexLock l(&mu_);
  faults_ = f;
}

FaultAction FaultState::Draw(bool is_write, int* delay_ms) {
  absl::MutexLock l(&mu_);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  *delay_ms = faults_.latency_ms;
  if (faults_.jitter_ms > 0) *delay_ms += static_cast<int>(rng_() % (faults_.jitter_ms + 1));
  double r = u(rng_);
  if ((r -= faults_.error_500_rate) < 0) return FaultAction::kError500;
  if ((r -= faults_.error_503_rate) < 0) return FaultAction::kError503;
  if ((r -= faults_.rate_429) < 0) return FaultAction::kRateLimit;
  if ((r -= faults_.hang_rate) < 0) return FaultAction::kHang;
  if (is_write && u(rng_) < faults_.drop_rate) return FaultAction::kDrop;
  return FaultAction::kNone;
}

int FaultState::SlowDelayMs(const std::vector<std::string>& codes) {
  absl::MutexLock l(&mu_);
  if (faults_.slow_codes.empty()) return 0;
  for (const auto& c : codes) {
    if (std::find(faults_.slow_codes.begin(), faults_.slow_codes.end(), c) ==
        faults_.slow_codes.end()) {
      continue;
    }
    return faults_.slow_ms + (faults_.slow_jitter_ms > 0
                                  ? static_cast<int>(rng_() % (faults_.slow_jitter_ms + 1))
                                  : 0);
  }
  return 0;
}

}  // namespace dossiersync::sim
