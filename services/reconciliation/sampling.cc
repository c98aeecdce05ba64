#include "services/reconciliation/sampling.h"

#include <algorithm>
#include <cmath>

namespace dossiersync::reconciliation {

void StratifiedSample::Offer(const std::string& agency, const std::string& code) {
  const int64_t seen = ++population_[agency];
  std::vector<std::string>& r = reservoirs_[agency];
  if (static_cast<int64_t>(r.size()) < size_) {
    r.push_back(code);
    return;
  }
  std::uniform_int_distribution<int64_t> pick(0, seen - 1);  // Algorithm R
  const int64_t j = pick(rng_);
  if (j < size_) r[static_cast<size_t>(j)] = code;
}

std::vector<std::string> StratifiedSample::Draw() {
  int64_t total = 0;
  for (const auto& [agency, n] : population_) total += n;
  const int64_t size = std::min(size_, total);
  // Proportional shares, rounded down; then at least two (or all) per agency; then the largest
  // remainders until the size is reached.
  std::map<std::string, int64_t> take;
  std::vector<std::pair<double, std::string>> remainders;
  int64_t allocated = 0;
  for (const auto& [agency, n] : population_) {
    const double exact = static_cast<double>(size) * static_cast<double>(n) / total;
    int64_t t = std::min<int64_t>(n, static_cast<int64_t>(std::floor(exact)));
    if (size >= 2 * static_cast<int64_t>(population_.size()))
      t = std::max(t, std::min<int64_t>(n, 2));
    take[agency] = t;
    allocated += t;
    remainders.emplace_back(exact - std::floor(exact), agency);
  }
  while (allocated > size) {  // the minimums overshot: take back from the largest shares
    auto largest = std::max_element(
        take.begin(), take.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
    --largest->second;
    --allocated;
  }
  std::sort(remainders.rbegin(), remainders.rend());
  for (size_t i = 0; allocated < size && !remainders.empty(); i = (i + 1) % remainders.size()) {
    int64_t& t = take[remainders[i].second];
    if (t < population_[remainders[i].second]) {
      ++t;
      ++allocated;
    }
  }
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(allocated));
  for (auto& [agency, r] : reservoirs_) {
    std::shuffle(r.begin(), r.end(), rng_);  // any prefix of a shuffled uniform subset is uniform
    const auto n = std::min<size_t>(r.size(), static_cast<size_t>(take[agency]));
    out.insert(out.end(), r.begin(), r.begin() + static_cast<std::ptrdiff_t>(n));
  }
  return out;
}

ConsistencyEstimate EstimateConsistency(const std::map<std::string, int64_t>& population,
                                        const std::map<std::string, int64_t>& checked,
                                        const std::map<std::string, int64_t>& drifted, double z) {
  auto at = [](const std::map<std::string, int64_t>& m, const std::string& k) -> double {
    auto it = m.find(k);
    return it == m.end() ? 0.0 : static_cast<double>(it->second);
  };
  double total = 0, weight_seen = 0, p = 0, var = 0, n = 0;
  bool whole = true;
  for (const auto& [agency, big_n] : population) total += static_cast<double>(big_n);
  if (total <= 0) return {};
  for (const auto& [agency, pop] : population) {
    const double big_n = static_cast<double>(pop), nh = at(checked, agency);
    if (nh <= 0) continue;  // nothing checked: the stratum is left out of the estimate
    const double w = big_n / total, ph = 1.0 - at(drifted, agency) / nh;
    weight_seen += w;
    p += w * ph;
    n += nh;
    if (nh < big_n) {
      whole = false;
      if (nh > 1) var += w * w * (1.0 - nh / big_n) * ph * (1.0 - ph) / (nh - 1.0);
    }
  }
  if (weight_seen <= 0) return {0, 0, 1};
  p /= weight_seen;  // strata without a single check are reweighted away
  var /= weight_seen * weight_seen;
  if (whole) return {p, p, p};
  const double n_eff = var > 0 ? std::max(1.0, p * (1.0 - p) / var) : n;
  const double z2 = z * z, denom = 1.0 + z2 / n_eff;
  const double centre = (p + z2 / (2.0 * n_eff)) / denom;
  const double half = z * std::sqrt(p * (1.0 - p) / n_eff + z2 / (4.0 * n_eff * n_eff)) / denom;
  return {p, std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

}  // namespace dossiersync::reconciliation
