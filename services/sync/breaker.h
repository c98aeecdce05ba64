// The sync's circuit breaker over DVCQG: after `threshold` consecutive retryable call failures it
// opens for a cool-down; when the cool-down ends one dossier is let through as a probe; the
// probe's failure reopens it with the cool-down doubled (up to `cooldown_max`), any success
// closes it and resets the cool-down. A probe is marked only once a dossier is taken for it, and
// ends with its dossier even when no call gave a verdict (nothing to push, a ledger error), so a
// probe cannot be lost (regression: an outage under a rate limit left the sync wedged with a
// probe marked and none in flight).
//
// Thread safety: not thread-safe; the engine calls it under its own lock.
#ifndef DOSSIERSYNC_SERVICES_SYNC_BREAKER_H_
#define DOSSIERSYNC_SERVICES_SYNC_BREAKER_H_

#include <string>

#include "absl/time/time.h"

namespace dossiersync::sync {

class Breaker {
 public:
  struct Options {
    int threshold = 20;  // consecutive retryable call failures
    absl::Duration cooldown = absl::Seconds(2);
    absl::Duration cooldown_max = absl::Seconds(60);
  };
  explicit Breaker(Options options) : options_(options), cooldown_(options.cooldown) {}

  // What may be taken at `now`: everything (closed), one dossier (the probe), nothing (open, or a
  // probe in flight).
  enum class Admit { kAll, kProbe, kNothing };
  Admit Admits(absl::Time now) const;
  // The dossier taken as the probe (after Admits said kProbe).
  void ProbeTaken(const std::string& code);
  // A dossier's attempt ended: the probe, if it was this dossier's, ends with it.
  void Finished(const std::string& code);

  // A call's verdict. What changed, for the log and the gauge.
  enum class Change { kNone, kOpened, kReopened, kClosed };
  Change OnFailure(absl::Time now);
  Change OnSuccess();

  // Open (cooling down) or probing: consumption is held back.
  bool held(absl::Time now) const { return now < open_until_ || probing_; }
  bool cooling(absl::Time now) const { return now < open_until_; }
  absl::Time open_until() const { return open_until_; }
  absl::Duration cooldown() const { return cooldown_; }

 private:
  const Options options_;
  int consecutive_failures_ = 0;
  absl::Time open_until_ = absl::InfinitePast();
  bool probing_ = false;
  std::string probe_code_;
  absl::Duration cooldown_;
};

}  // namespace dossiersync::sync

#endif  // DOSSIERSYNC_SERVICES_SYNC_BREAKER_H_
