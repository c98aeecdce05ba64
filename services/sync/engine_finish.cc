// The end of an engine attempt at a dossier: its report, its dead letter, its ledger state and
// its queue's next step (done, or a retry after a backoff within the retry budget).
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "common/ids.h"
#include "common/log.h"
#include "google/protobuf/util/time_util.h"
#include "services/sync/engine.h"

namespace dossiersync::sync {

using dossiersync::v1::DossierChange;
using google::protobuf::util::TimeUtil;

void Engine::Finish(Taken& t, const Outcome& o) {
  // The newest change's trace: this push's logs, results and dead letters belong to it.
  const Work* newest = &t.works.front();
  for (const Work& w : t.works) {
    if (w.change.revision() > newest->change.revision()) newest = &w;
  }
  const int64_t revision = newest->change.revision();
  ScopedTrace trace(newest->traceparent);
  const std::string child = ChildTraceparent(newest->traceparent);
  int attempts = 1;
  {
    absl::MutexLock l(&mu_);
    attempts += scheduler_.Failures(t.code) + (o.result == Result::kRetry ? 1 : 0);
  }
  ReportAttempt(t, o, revision, attempts, child);
  bool done = o.result == Result::kDone;
  if (o.result == Result::kDeadLetter)
    done = DeadLetter(t.code, newest->change, o, attempts, child);
  // Both safe to ignore: they are the state GetSyncState shows, not what decides a push (the
  // revisions and steps pushed, recorded earlier, do).
  if (done && o.result == Result::kDone) (void)ledger_->MarkInSync(t.code);
  if (!done && o.result == Result::kRetry) {
    (void)ledger_->RecordFailure(t.code, o.error, dossiersync::v1::SYNC_STATE_KIND_RETRYING);
  }
  Settle(t, o, done);
}

void Engine::ReportAttempt(const Taken& t, const Outcome& o, int64_t revision, int attempts,
                           const std::string& traceparent) {
  // The lag evidence: the oldest change from Kafka this push carried.
  const google::protobuf::Timestamp* oldest = nullptr;
  std::string agency;
  for (const Work& w : t.works) {
    if (w.tp.first.empty() || !w.change.has_accepted_at()) continue;
    if (oldest == nullptr || TimeUtil::TimestampToMicroseconds(w.change.accepted_at()) <
                                 TimeUtil::TimestampToMicroseconds(*oldest)) {
      oldest = &w.change.accepted_at();
    }
    agency = w.change.dossier().agency_code();
  }
  PublishResult(t.code, revision, o, attempts, absl::Now() - t.taken_at, o.service, oldest, agency,
                traceparent);
  pushes_
      ->Add({{"outcome", o.result == Result::kDone    ? "accepted"
                         : o.result == Result::kRetry ? "retrying"
                                                      : "dead_lettered"}})
      .Increment();
}

bool Engine::DeadLetter(const std::string& code, const DossierChange& newest, const Outcome& o,
                        int attempts, const std::string& traceparent) {
  // The newest change goes to the dead-letter topic; offsets advance only once Kafka has it.
  dossiersync::v1::DeadLetter dl;
  *dl.mutable_change() = newest;
  dl.set_reason(o.error);
  dl.set_attempts(attempts);
  dl.set_last_error(absl::StrCat(dvcqg::OutcomeName(o.dvcqg), " ", o.error_code, ": ", o.error));
  *dl.mutable_at() = NowTimestamp();
  OutMessage m{
      kTopicDeadLetters, code, dl.SerializeAsString(), "dossiersync.v1.DeadLetter", NewEventId(),
      traceparent,       0};
  if (!PublishWait(m) || !ledger_->AddDeadLetter(newest, o.error).ok()) return false;
  dead_letters_->Increment();
  LogWarn("change dead-lettered",
          {{"code", code}, {"revision", newest.revision()}, {"reason", o.error}});
  return true;
}

void Engine::Settle(Taken& t, const Outcome& o, bool done) {
  absl::MutexLock l(&mu_);
  breaker_.Finished(t.code);  // a probe without a call's verdict ends with its dossier
  const absl::Time now = absl::Now();
  if (done) {
    retry_budget_.OnSuccess();
    scheduler_.Done(t, now);
  } else {
    retries_->Increment();
    // After a timeout DVCQG may still be working on the call: wait at least as long again before
    // the next attempt looks it up or resends, so that a late write has landed by then (a slow
    // DVCQG would otherwise see a step twice, or a create answered "đã tồn tại").
    const absl::Duration floor = o.dvcqg == dvcqg::Outcome::kTimeout
                                     ? std::max(o.retry_after, api_->config().read_timeout)
                                     : o.retry_after;
    absl::Duration delay = Backoff(scheduler_.Failures(t.code) + 1, options_.backoff_base,
                                   options_.backoff_cap, floor);
    RetryBudget::Taken budget = retry_budget_.Take(now, options_.backoff_cap);
    if (!budget.within_budget) {
      budget_exhausted_->Increment();
      delay = std::max(delay, budget.floor);
    }
    scheduler_.Retry(t, now + delay, now);
  }
  UpdatePendingGauge();
}

}  // namespace dossiersync::sync
