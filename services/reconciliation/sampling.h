// Sampled consistency (SPEC §7): a run over a random sample of its scope, stratified by agency,
// reports the consistency ratio of the whole scope with a 99 % confidence interval.
//
// StratifiedSample keeps a uniform reservoir of codes per agency while the scope streams by
// (memory: agencies x sample size codes, whatever the scope's size), then allocates the sample to
// agencies in proportion to their dossiers (largest remainders; at least two per agency where the
// size allows, so every stratum has a variance) and draws each agency's share from its reservoir.
//
// EstimateConsistency: the stratified estimator p = sum W_h p_h (W_h = N_h / N) with variance
// sum W_h^2 (1 - n_h / N_h) p_h (1 - p_h) / (n_h - 1); the interval is Wilson's score interval at
// the design's effective sample size (p (1 - p) / variance), so a sample without any drift still
// gets an honest lower bound instead of [1, 1]. A stratum checked whole contributes no variance;
// a scope checked whole gets the exact ratio as both bounds.
//
// Thread safety: StratifiedSample is not thread-safe (one feeder); the function is pure.
#ifndef DOSSIERSYNC_SERVICES_RECONCILIATION_SAMPLING_H_
#define DOSSIERSYNC_SERVICES_RECONCILIATION_SAMPLING_H_

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace dossiersync::reconciliation {

class StratifiedSample {
 public:
  StratifiedSample(int64_t size, uint64_t seed) : size_(size), rng_(seed) {}
  void Offer(const std::string& agency, const std::string& code);
  // The codes to check (at most `size`, every dossier when the scope is smaller).
  std::vector<std::string> Draw();
  // Dossiers offered per agency.
  const std::map<std::string, int64_t>& population() const { return population_; }

 private:
  const int64_t size_;
  std::mt19937_64 rng_;
  std::map<std::string, int64_t> population_;
  std::map<std::string, std::vector<std::string>> reservoirs_;
};

struct ConsistencyEstimate {
  double ratio = 1;
  double low = 1;
  double high = 1;
};

// From each agency's population, dossiers checked and dossiers with drift; `z` 2.576 for 99 %.
ConsistencyEstimate EstimateConsistency(const std::map<std::string, int64_t>& population,
                                        const std::map<std::string, int64_t>& checked,
                                        const std::map<std::string, int64_t>& drifted,
                                        double z = 2.5758293035489004);

}  // namespace dossiersync::reconciliation

#endif  // DOSSIERSYNC_SERVICES_RECONCILIATION_SAMPLING_H_
