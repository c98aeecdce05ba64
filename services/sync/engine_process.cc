// The engine's processing of one batch of dossiers: coalesce, push snapshots (batched, ledger-
// driven create/update), push steps (verifying uncertain ones first), then finish each dossier:
// done, retry with backoff, or dead letter.
#include <random>

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

namespace {

Engine::Outcome RetryOutcome(std::string error) {
  Engine::Outcome o;
  o.result = Engine::Result::kRetry;
  o.error = std::move(error);
  return o;
}

}  // namespace

void Engine::Process(std::vector<Taken>& batch) {
  // The ledger's writes for the whole batch go in one transaction per phase (one commit instead
  // of one per dossier and step; the profile of a backfill showed the commits as the sync's
  // largest cost). No scope is open during a DVCQG call.
  std::map<std::string, Outcome> outcomes;
  std::map<std::string, int64_t> newest_rev;
  // 1. Record what arrived; find each dossier's newest change.
  std::vector<Taken*> need_snapshot = RecordArrivals(batch, outcomes, newest_rev);
  // 2. Snapshots, batched by create / update.
  if (!need_snapshot.empty()) PushSnapshots(need_snapshot, outcomes);
  // 3. Steps, for dossiers whose snapshot is at DVCQG: claim the unsent ones (marked uncertain:
  // a crash or a timeout during the call is verified before a resend), send, then mark what
  // DVCQG took.
  std::map<std::string, std::vector<StoredStep>> steps = ClaimUnsentSteps(batch, outcomes);
  std::map<std::string, std::vector<std::string>> sent;
  for (auto& [code, unsent] : steps) {
    outcomes[code] = PushSteps(code, std::move(unsent), &sent[code]);
  }
  RecordSentSteps(sent);
  // 4. Finish.
  for (Taken& t : batch) Finish(t, outcomes[t.code], newest_rev[t.code]);
}

std::vector<Engine::Taken*> Engine::RecordArrivals(std::vector<Taken>& batch,
                                                   std::map<std::string, Outcome>& outcomes,
                                                   std::map<std::string, int64_t>& newest_rev) {
  std::vector<Taken*> need_snapshot;
  auto scope = ledger_->BeginScope();
  for (Taken& t : batch) {
    Outcome& o = outcomes[t.code];
    bool force = false;
    int64_t newest = 0;
    for (const Work& w : t.works) {
      absl::Status st = ledger_->RecordSeen(w.change);
      if (!st.ok()) {
        o = RetryOutcome(absl::StrCat("ledger: ", st.message()));
        break;
      }
      force |= w.force;
      newest = std::max(newest, w.change.revision());
    }
    newest_rev[t.code] = newest;
    if (o.result != Result::kDone) continue;
    auto row = ledger_->Get(t.code);
    if (!row.ok() || !row->has_value()) {
      o = RetryOutcome("ledger read failed");
      continue;
    }
    if (force || newest > (*row)->revision_pushed) need_snapshot.push_back(&t);
  }
  if (absl::Status st = CommitScope(scope); !st.ok()) {
    for (Taken& t : batch) outcomes[t.code] = RetryOutcome(absl::StrCat("ledger: ", st.message()));
    need_snapshot.clear();
  }
  return need_snapshot;
}

std::map<std::string, std::vector<StoredStep>> Engine::ClaimUnsentSteps(
    std::vector<Taken>& batch, std::map<std::string, Outcome>& outcomes) {
  std::map<std::string, std::vector<StoredStep>> steps;
  auto scope = ledger_->BeginScope();
  for (Taken& t : batch) {
    Outcome& o = outcomes[t.code];
    if (o.result != Result::kDone) continue;
    auto unsent = ledger_->UnpushedSteps(t.code);
    if (!unsent.ok()) {
      o = RetryOutcome(absl::StrCat("ledger: ", unsent.status().message()));
      continue;
    }
    if (unsent->empty()) continue;
    std::vector<std::string> ids;
    for (const auto& st : *unsent) ids.push_back(st.step_id);
    if (auto st = ledger_->MarkStepsUncertain(t.code, ids); !st.ok()) {
      o = RetryOutcome(absl::StrCat("ledger: ", st.message()));
      continue;
    }
    steps[t.code] = std::move(*unsent);
  }
  if (absl::Status st = CommitScope(scope); !st.ok()) {
    for (auto& [code, unused] : steps) {
      outcomes[code] = RetryOutcome(absl::StrCat("ledger: ", st.message()));
    }
    steps.clear();
  }
  return steps;
}

void Engine::RecordSentSteps(const std::map<std::string, std::vector<std::string>>& sent) {
  auto scope = ledger_->BeginScope();
  for (const auto& [code, ids] : sent) {
    // Safe to ignore one: its steps stay marked uncertain and are verified before a resend.
    if (!ids.empty()) (void)ledger_->MarkStepsPushed(code, ids);
  }
  if (absl::Status st = CommitScope(scope); !st.ok()) {
    // They stay marked uncertain: the next push of these dossiers verifies them first.
    LogWarn("ledger: steps sent but not recorded", {{"error", std::string(st.message())}});
  }
}

absl::Status Engine::CommitScope(absl::StatusOr<std::unique_ptr<Ledger::Scope>>& scope) {
  // Without a scope (BeginScope failed) each call was its own transaction.
  return scope.ok() ? (*scope)->Commit() : absl::OkStatus();
}

void Engine::PushSnapshots(std::vector<Taken*>& items, std::map<std::string, Outcome>& outcomes) {
  // The newest snapshot per dossier, with the ledger's create/update decision.
  std::vector<SnapshotItem> todo;
  {
    auto scope = ledger_->BeginScope();  // reads only: one transaction instead of two per item
    for (Taken* t : items) {
      auto latest = ledger_->Latest(t->code);
      auto row = ledger_->Get(t->code);
      if (!latest.ok() || !latest->has_value() || !row.ok() || !row->has_value()) {
        outcomes[t->code] = RetryOutcome("ledger read failed");
        continue;
      }
      todo.push_back({t, std::move(**latest), (*row)->created});
    }
    (void)CommitScope(scope);  // reads only: nothing to lose
  }
  // Two rounds: a create answered "đã tồn tại" becomes an update, an update answered
  // "không tồn tại" a create.
  for (int round = 0; round < 2 && !todo.empty(); ++round) {
    std::vector<SnapshotItem> again;
    // The groups are fixed before the calls: an item flipped by the create call goes to the next
    // round, not to this round's update call as well (regression: each "đã tồn tại" was followed
    // by two identical updates).
    std::vector<SnapshotItem*> groups[2];
    for (SnapshotItem& it : todo) groups[it.created ? 1 : 0].push_back(&it);
    for (bool update : {false, true}) {
      std::vector<SnapshotItem*>& group = groups[update ? 1 : 0];
      if (group.empty()) continue;
      std::vector<dvcqg::DossierItem> call_items;
      for (SnapshotItem* it : group) {
        call_items.push_back({&it->latest.dossier(), MapStatus(it->latest.dossier().status())});
      }
      AcquireRate();
      dvcqg::CallResult r = client_->SyncDossiers(call_items, update);
      RecordCall(r);
      RecordSyncAnswer(group, r, update, outcomes, again);
    }
    todo = std::move(again);
  }
  for (SnapshotItem& it : todo) {  // flipped twice: give up for now
    outcomes[it.t->code] = RetryOutcome("create/update flipped twice");
  }
}

void Engine::RecordSyncAnswer(const std::vector<SnapshotItem*>& group, const dvcqg::CallResult& r,
                              bool update, std::map<std::string, Outcome>& outcomes,
                              std::vector<SnapshotItem>& again) {
  auto scope = ledger_->BeginScope();  // the ledger's record of this call: one commit
  const size_t again_before = again.size();
  for (size_t i = 0; i < group.size(); ++i) {
    SnapshotItem* it = group[i];
    const dvcqg::ItemResult& ir = i < r.items.size() ? r.items[i] : dvcqg::ItemResult{};
    dvcqg::Outcome oc = i < r.items.size() ? ir.outcome : r.outcome;
    Outcome& o = outcomes[it->t->code];
    o.service = dvcqg::kServiceSync;
    o.dvcqg = oc;
    o.error_code = ir.error_code;
    o.error = ir.message.empty() ? r.message : ir.message;
    if (oc == dvcqg::Outcome::kAccepted) {
      o.result = Result::kDone;
      if (auto st = ledger_->MarkPushed(it->t->code, it->latest.revision()); !st.ok()) {
        o = RetryOutcome(absl::StrCat("ledger: ", st.message()));
        continue;
      }
      absl::Duration lag =
          absl::Now() -
          absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(it->latest.accepted_at()));
      push_latency_->Observe(absl::ToDoubleSeconds(lag));
    } else if ((oc == dvcqg::Outcome::kAlreadyExists && !update) ||
               (oc == dvcqg::Outcome::kNotFound && update)) {
      it->created = !update;
      // Both ledger writes below commit with the scope; a failed commit retries the whole call.
      (void)ledger_->SetCreated(it->t->code, it->created);
      // A dossier DVCQG does not have has none of its steps either: send them all again.
      // One it has that we did not create may hold some already (SPEC §6: only the steps
      // DVCQG does not have): they are looked up before the first step push.
      (void)(update ? ledger_->ResetNational(it->t->code) : ledger_->RecheckSteps(it->t->code));
      again.push_back(*it);
    } else if (oc == dvcqg::Outcome::kInvalidItem) {
      o.result = Result::kDeadLetter;
      if (!ir.field.empty()) o.error = absl::StrCat(ir.field, ": ", o.error);
    } else {
      o.result = Result::kRetry;
      o.retry_after = r.retry_after;
    }
  }
  if (absl::Status st = CommitScope(scope); !st.ok()) {
    // None of it recorded: every item of the call is tried again (a create DVCQG already
    // took comes back "đã tồn tại" and becomes an update).
    for (SnapshotItem* it : group) {
      outcomes[it->t->code] = RetryOutcome(absl::StrCat("ledger: ", st.message()));
    }
    again.resize(again_before);
  }
}

Engine::Outcome Engine::PushSteps(const std::string& code, std::vector<StoredStep> steps,
                                  std::vector<std::string>* pushed) {
  // Steps whose earlier push had an uncertain outcome: ask DVCQG which it has.
  bool uncertain = false;
  for (const auto& s : steps) uncertain |= s.uncertain;
  std::vector<StoredStep> to_send;
  if (uncertain) {
    AcquireRate();
    dvcqg::LookupResult l = client_->Lookup(code);
    RecordCall(l.call);
    if (l.call.outcome != dvcqg::Outcome::kAccepted) {
      Outcome o = RetryOutcome(absl::StrCat("verify steps: ", l.call.message));
      o.service = dvcqg::kServiceLookup;
      o.retry_after = l.call.retry_after;
      o.dvcqg = l.call.outcome;
      return o;
    }
    std::multiset<std::string> national;
    auto res = l.call.response.find("result");
    if (res != l.call.response.end() && res->is_array()) {
      for (const auto& item : *res) {
        if (item.contains("QuaTrinhXuLy") && item["QuaTrinhXuLy"].is_array()) {
          for (const auto& row : item["QuaTrinhXuLy"]) national.insert(dvcqg::StepRowKey(row));
        }
      }
    }
    for (auto& s : steps) {
      std::string key =
          dvcqg::StepRowKey(s.step, MapStatus(s.step.status()), client_->config().limits);
      auto it = s.uncertain ? national.find(key) : national.end();
      if (it != national.end()) {
        national.erase(it);
        pushed->push_back(s.step_id);
      } else {
        to_send.push_back(std::move(s));
      }
    }
  } else {
    to_send = std::move(steps);
  }
  size_t chunk = static_cast<size_t>(client_->config().progress_chunk);
  for (size_t i = 0; i < to_send.size(); i += chunk) {
    std::vector<std::string> ids;
    std::vector<dvcqg::StepItem> items;
    for (size_t k = i; k < std::min(to_send.size(), i + chunk); ++k) {
      ids.push_back(to_send[k].step_id);
      items.push_back({&to_send[k].step, MapStatus(to_send[k].step.status())});
    }
    AcquireRate();
    std::vector<dvcqg::CallResult> rs = client_->UpdateProgress(code, items);
    const dvcqg::CallResult& r = rs.back();
    RecordCall(r);
    if (r.outcome == dvcqg::Outcome::kAccepted) {
      pushed->insert(pushed->end(), ids.begin(), ids.end());
      continue;
    }
    Outcome o = RetryOutcome(r.message);
    o.service = dvcqg::kServiceProgress;
    o.error_code = r.error_code;
    o.retry_after = r.retry_after;
    o.dvcqg = r.outcome;
    if (r.outcome == dvcqg::Outcome::kNotFound) {
      // DVCQG does not have the dossier: create it again first, then every step.
      // Safe to ignore: if not recorded, the next attempt meets "không tồn tại" again.
      (void)ledger_->ResetNational(code);
      pushed->clear();
    } else if (r.outcome == dvcqg::Outcome::kInvalidItem) {
      o.result = Result::kDeadLetter;
      if (!r.field.empty()) o.error = absl::StrCat(r.field, ": ", o.error);
    } else if (!dvcqg::IsRetryable(r.outcome)) {
      o.result = Result::kRetry;
    }
    return o;
  }
  Outcome done;
  done.service = !to_send.empty() ? dvcqg::kServiceProgress
                 : uncertain      ? dvcqg::kServiceLookup
                                  : "";
  return done;
}

void Engine::Finish(Taken& t, const Outcome& o, int64_t revision) {
  // The newest change's trace: this push's logs, results and dead letters belong to it.
  const Work* newest = &t.works.front();
  for (const Work& w : t.works) {
    if (w.change.revision() > newest->change.revision()) newest = &w;
  }
  ScopedTrace trace(newest->traceparent);
  const std::string child = ChildTraceparent(newest->traceparent);
  int attempts = 1;
  {
    absl::MutexLock l(&mu_);
    attempts += queues_[t.code].failures + (o.result == Result::kRetry ? 1 : 0);
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
  Queue& q = queues_[t.code];
  q.active = false;
  breaker_.Finished(t.code);  // a probe without a call's verdict ends with its dossier
  for (const Work& w : t.works) {
    if (!w.tp.first.empty()) {
      auto it = active_tps_.find(w.tp);
      if (it != active_tps_.end()) active_tps_.erase(it);
    }
  }
  if (done) {
    retry_budget_.OnSuccess();
    q.failures = 0;
    q.not_before = absl::InfinitePast();
    pending_ -= t.works.size();
    for (const Work& w : t.works) {
      if (!w.tp.first.empty()) on_done_(w.tp, w.offset);
    }
  } else {
    ++q.failures;
    retries_->Increment();
    absl::Duration delay =
        Backoff(q.failures, options_.backoff_base, options_.backoff_cap, o.retry_after);
    RetryBudget::Taken budget = retry_budget_.Take(absl::Now(), options_.backoff_cap);
    if (!budget.within_budget) {
      budget_exhausted_->Increment();
      delay = std::max(delay, budget.floor);
    }
    q.not_before = absl::Now() + delay;
    // Back at the front, before anything that arrived meanwhile: order is kept. Work of a
    // partition being released is dropped: its next owner reads it again.
    for (auto it = t.works.rbegin(); it != t.works.rend(); ++it) {
      if (revoked_.count(it->tp)) {
        --pending_;
        continue;
      }
      q.pending.push_front(std::move(*it));
    }
  }
  pending_gauge_->Set(static_cast<double>(pending_));
  if (q.pending.empty() && !q.active) {
    queues_.erase(t.code);
  } else {
    MakeReady(t.code, q);
  }
}

}  // namespace dossiersync::sync
