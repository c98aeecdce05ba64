#include "services/sync/scheduler.h"

namespace dossiersync::sync {

void Scheduler::MakeReady(const std::string& code, Queue& q, absl::Time now) {
  if (q.queued || q.active || q.pending.empty()) return;
  q.queued = true;
  if (q.not_before <= now) {
    ready_.push_back(code);
  } else {
    timers_.push({q.not_before, code});
  }
}

bool Scheduler::Enqueue(Work w, absl::Time now) {
  if (revoked_.count(w.tp)) return false;
  std::string code = w.change.dossier().code();
  Queue& q = queues_[code];
  q.pending.push_back(std::move(w));
  ++pending_;
  MakeReady(code, q, now);
  return true;
}

std::optional<absl::Time> Scheduler::NextTimer() const {
  if (timers_.empty()) return std::nullopt;
  return timers_.top().first;
}

std::vector<Taken> Scheduler::Take(size_t limit, absl::Time now,
                                   const std::set<std::string>* alone) {
  while (!timers_.empty() && timers_.top().first <= now) {
    ready_.push_back(timers_.top().second);
    timers_.pop();
  }
  std::vector<Taken> out;
  while (!ready_.empty() && out.size() < limit) {
    const bool solo = alone != nullptr && alone->count(ready_.front()) > 0;
    if (solo && !out.empty()) break;  // it goes in the next batch, alone
    std::string code = std::move(ready_.front());
    ready_.pop_front();
    auto it = queues_.find(code);
    if (it == queues_.end()) continue;
    Queue& q = it->second;
    q.queued = false;
    if (q.active || q.pending.empty()) continue;
    q.active = true;
    Taken t{code, {}, now};
    for (auto& w : q.pending) {
      if (!w.tp.first.empty()) active_tps_.insert(w.tp);
      t.works.push_back(std::move(w));
    }
    q.pending.clear();
    out.push_back(std::move(t));
    if (solo) break;
  }
  return out;
}

Scheduler::Queue& Scheduler::Release(Taken& t) {
  Queue& q = queues_[t.code];
  q.active = false;
  for (const Work& w : t.works) {
    if (w.tp.first.empty()) continue;
    auto it = active_tps_.find(w.tp);
    if (it != active_tps_.end()) active_tps_.erase(it);
  }
  return q;
}

void Scheduler::Forget(const std::string& code, Queue& q, absl::Time now) {
  if (q.pending.empty() && !q.active) {
    queues_.erase(code);
  } else {
    MakeReady(code, q, now);
  }
}

void Scheduler::Done(Taken& t, absl::Time now) {
  Queue& q = Release(t);
  q.failures = 0;
  q.not_before = absl::InfinitePast();
  pending_ -= t.works.size();
  for (const Work& w : t.works) {
    if (!w.tp.first.empty()) on_done_(w.tp, w.offset);
  }
  Forget(t.code, q, now);
}

void Scheduler::Retry(Taken& t, absl::Time not_before, absl::Time now) {
  Queue& q = Release(t);
  ++q.failures;
  q.not_before = not_before;
  // Back at the front, before anything that arrived meanwhile: order is kept. Work of a
  // partition being released is dropped: its next owner reads it again.
  for (auto it = t.works.rbegin(); it != t.works.rend(); ++it) {
    if (revoked_.count(it->tp)) {
      --pending_;
      continue;
    }
    q.pending.push_front(std::move(*it));
  }
  Forget(t.code, q, now);
}

int Scheduler::Failures(const std::string& code) const {
  auto it = queues_.find(code);
  return it == queues_.end() ? 0 : it->second.failures;
}

void Scheduler::Revoke(const std::set<TopicPartition>& tps) {
  revoked_.insert(tps.begin(), tps.end());
}

bool Scheduler::Idle(const std::set<TopicPartition>& tps) const {
  for (const auto& tp : tps) {
    if (active_tps_.count(tp)) return false;
  }
  return true;
}

void Scheduler::Drop(const std::set<TopicPartition>& tps) {
  for (auto it = queues_.begin(); it != queues_.end();) {
    Queue& q = it->second;
    size_t before = q.pending.size();
    std::erase_if(q.pending, [&](const Work& w) { return tps.count(w.tp) > 0; });
    pending_ -= before - q.pending.size();
    // A queue left empty and idle is gone (a stale ready_ or timer entry finds nothing).
    if (q.pending.empty() && !q.active) {
      queues_.erase(it++);
    } else {
      ++it;
    }
  }
  for (const auto& tp : tps) revoked_.erase(tp);
}

bool Scheduler::Busy(const std::string& code, bool* retrying) const {
  auto it = queues_.find(code);
  if (it == queues_.end()) return false;
  *retrying = it->second.failures > 0;
  return it->second.active || !it->second.pending.empty();
}

}  // namespace dossiersync::sync
