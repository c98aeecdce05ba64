#include "bench/loadgen_lanes.h"

#include <algorithm>
#include <deque>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/errors.h"
#include "dossiersync/v1/intake.grpc.pb.h"
#include "tools/dossierctl/workload.h"

namespace dossiersync::bench {
namespace {

using dossiersync::v1::IntakeService;
using dossiersync::v1::SubmitChangeRequest;
using dossiersync::v1::SubmitChangeResponse;

bool HasError(const SubmitChangeResponse& r) { return r.has_error() && r.error().code() != 0; }

// Valid changes on demand: a dossier's next change becomes available once its previous one was
// acknowledged (plus the step gap); when none is available a new dossier starts. Dossiers of
// this source are first + k * stride (streams keep their dossiers apart).
class Source {
 public:
  Source(int64_t first, int64_t stride, absl::Duration gap)
      : workload_(tools::WorkloadOptions{}), next_(first), stride_(stride), gap_(gap) {}

  SubmitChangeRequest Next(absl::Time now, int64_t* index) {
    absl::MutexLock l(&mu_);
    if (!ready_.empty() && ready_.front().first <= now) {
      *index = ready_.front().second;
      ready_.pop_front();
    } else {
      *index = next_;
      next_ += stride_;
      active_[*index] = {workload_.Lifecycle(*index), 0};
    }
    Active& a = active_[*index];
    return a.changes[a.next++];
  }
  // The reply for dossier `index`'s last change: its next one becomes available, or the dossier
  // is done (finished lifecycle or an error: the rest would be refused too).
  void Done(int64_t index, bool ok, absl::Time now) {
    absl::MutexLock l(&mu_);
    auto it = active_.find(index);
    if (it == active_.end()) return;
    if (!ok || it->second.next >= it->second.changes.size()) {
      active_.erase(it);
      return;
    }
    ready_.emplace_back(now + gap_, index);
  }

 private:
  struct Active {
    std::vector<SubmitChangeRequest> changes;
    size_t next = 0;
  };
  const tools::Workload workload_;
  absl::Mutex mu_;
  int64_t next_ ABSL_GUARDED_BY(mu_);
  const int64_t stride_;
  const absl::Duration gap_;
  std::map<int64_t, Active> active_ ABSL_GUARDED_BY(mu_);
  std::deque<std::pair<absl::Time, int64_t>> ready_ ABSL_GUARDED_BY(mu_);
};

// Collects the replies of changes due inside the measured window.
class Recorder {
 public:
  Recorder(const LoadOptions& o, absl::Time start)
      : o_(o), from_(start + o.warmup), to_(from_ + o.duration) {}
  absl::Time to() const { return to_; }
  void Reply(absl::Time due, const SubmitChangeRequest& req, const SubmitChangeResponse* resp,
             const grpc::Status& st) {
    if (due < from_ || due >= to_) return;
    absl::Time now = absl::Now();
    std::string error;
    if (!st.ok()) {
      error = absl::StrCat("grpc code ", st.error_code(), ": ", st.error_message().substr(0, 60));
    } else if (HasError(*resp)) {
      error = ReasonOf(resp->error());
      if (error.empty()) error = absl::StrCat("code ", resp->error().code());
    }
    if (error.empty() && o_.on_ack && !resp->duplicate()) {
      o_.on_ack(req.dossier().code(), req.dossier().revision(), now);
    }
    absl::MutexLock l(&mu_);
    if (error.empty()) {
      ++r_.ok;
      r_.latencies_us.push_back(absl::ToInt64Microseconds(now - due));
    } else {
      ++r_.errors;
      ++r_.error_kinds[error];
    }
  }
  LoadResult Take() {
    absl::MutexLock l(&mu_);
    std::sort(r_.latencies_us.begin(), r_.latencies_us.end());
    return std::move(r_);
  }

 private:
  const LoadOptions& o_;
  const absl::Time from_, to_;
  absl::Mutex mu_;
  LoadResult r_ ABSL_GUARDED_BY(mu_);
};

// Unary SubmitChange calls; in the closed loop each reply starts the next call.
class UnaryLane {
 public:
  UnaryLane(IntakeService::Stub* stub, const LoadOptions& o, Recorder* rec)
      : stub_(stub), o_(o), rec_(rec), source_(o.first_index, 1, o.step_gap) {}
  void Issue(absl::Time due) {
    auto* call = new Call;
    call->ctx = MakeContext(o_.client, o_.call_timeout);
    call->due = due;
    call->req = source_.Next(absl::Now(), &call->index);
    {
      absl::MutexLock l(&mu_);
      ++in_flight_;
    }
    stub_->async()->SubmitChange(call->ctx.get(), &call->req, &call->resp,
                                 [this, call](grpc::Status st) {
                                   absl::Time now = absl::Now();
                                   bool ok = st.ok() && !HasError(call->resp);
                                   source_.Done(call->index, ok, now);
                                   rec_->Reply(call->due, call->req, &call->resp, st);
                                   delete call;
                                   if (!o_.open && now < rec_->to()) Issue(absl::Now());
                                   absl::MutexLock l(&mu_);
                                   --in_flight_;
                                 });
  }
  // Every call has a deadline, so this ends.
  void Drain() {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(
        +[](UnaryLane* u) ABSL_EXCLUSIVE_LOCKS_REQUIRED(u->mu_) { return u->in_flight_ == 0; },
        this));
  }

 private:
  struct Call {
    std::unique_ptr<grpc::ClientContext> ctx;
    SubmitChangeRequest req;
    SubmitChangeResponse resp;
    int64_t index = 0;
    absl::Time due;
  };
  IntakeService::Stub* stub_;
  const LoadOptions& o_;
  Recorder* rec_;
  Source source_;
  absl::Mutex mu_;
  int64_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

// One SubmitChanges stream: one write at a time, at most `concurrency` unanswered items; replies
// come in order. Closed loop: sends whenever the window allows. Open loop: sends what is due.
class StreamLane : public grpc::ClientBidiReactor<SubmitChangeRequest, SubmitChangeResponse> {
 public:
  StreamLane(IntakeService::Stub* stub, const LoadOptions& o, Recorder* rec, int lane)
      : o_(o), rec_(rec), source_(o.first_index + lane, o.streams, o.step_gap) {
    ctx_ = MakeContext(o.client, o.warmup + o.duration + absl::Minutes(5));
    stub->async()->SubmitChanges(ctx_.get(), this);
    StartRead(&resp_);
    StartCall();
  }
  void Due(absl::Time due) {
    {
      absl::MutexLock l(&mu_);
      due_.push_back(due);
    }
    Pump();
  }
  // No more sends; the stream closes once every item was answered.
  void Finish() {
    {
      absl::MutexLock l(&mu_);
      finishing_ = true;
    }
    Pump();
  }
  // Waits for the stream's end; cancels it after `timeout` (the reactor must outlive the call).
  void WaitDone(absl::Duration timeout) {
    if (done_.WaitForNotificationWithTimeout(timeout)) return;
    ctx_->TryCancel();
    done_.WaitForNotification();
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock l(&mu_);
      writing_ = false;
      if (!ok) broken_ = true;
    }
    Pump();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream ended; OnDone follows
    Sent s;
    {
      absl::MutexLock l(&mu_);
      if (sent_.empty()) return;
      s = std::move(sent_.front());
      sent_.pop_front();
    }
    absl::Time now = absl::Now();
    source_.Done(s.index, !HasError(resp_), now);
    rec_->Reply(s.due, s.req, &resp_, grpc::Status::OK);
    StartRead(&resp_);
    Pump();
  }
  void OnDone(const grpc::Status& st) override {
    std::deque<Sent> lost;
    {
      absl::MutexLock l(&mu_);
      lost.swap(sent_);
    }
    for (const Sent& s : lost) {
      rec_->Reply(
          s.due, s.req, nullptr,
          st.ok() ? grpc::Status(grpc::StatusCode::DATA_LOSS, "stream closed unanswered") : st);
    }
    done_.Notify();
  }

 private:
  struct Sent {
    int64_t index = 0;
    absl::Time due;
    SubmitChangeRequest req;
  };
  // Starts the next write or, when finishing and all was answered, closes the sending side.
  void Pump() {
    enum { kNothing, kWrite, kClose } action = kNothing;
    {
      absl::MutexLock l(&mu_);
      if (writing_ || closed_ || broken_) return;
      if (finishing_) {
        if (sent_.empty()) action = kClose, closed_ = true;
      } else if (static_cast<int>(sent_.size()) < o_.concurrency && (!o_.open || !due_.empty())) {
        absl::Time now = absl::Now();
        Sent s;
        s.due = o_.open ? due_.front() : now;
        if (o_.open) due_.pop_front();
        s.req = source_.Next(now, &s.index);
        write_ = s.req;
        sent_.push_back(std::move(s));
        writing_ = true;
        action = kWrite;
      }
    }
    if (action == kWrite) StartWrite(&write_);
    if (action == kClose) StartWritesDone();
  }

  const LoadOptions& o_;
  Recorder* rec_;
  Source source_;
  std::unique_ptr<grpc::ClientContext> ctx_;
  SubmitChangeResponse resp_;  // owned by the pending read
  SubmitChangeRequest write_;  // owned by the pending write
  absl::Notification done_;
  absl::Mutex mu_;
  std::deque<Sent> sent_ ABSL_GUARDED_BY(mu_);
  std::deque<absl::Time> due_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

LoadResult RunLoad(std::shared_ptr<grpc::Channel> channel, const LoadOptions& o) {
  auto stub = IntakeService::NewStub(channel);
  const absl::Time start = absl::Now();
  Recorder rec(o, start);
  const absl::Time end = rec.to();
  std::unique_ptr<UnaryLane> unary;
  std::vector<std::unique_ptr<StreamLane>> lanes;
  if (o.stream) {
    for (int i = 0; i < o.streams; ++i) {
      lanes.push_back(std::make_unique<StreamLane>(stub.get(), o, &rec, i));
    }
  } else {
    unary = std::make_unique<UnaryLane>(stub.get(), o, &rec);
  }
  if (o.open) {
    // The schedule: change k is due at start + k / rate, sent then whatever came back before.
    const absl::Duration interval = absl::Seconds(1) / o.rate;
    for (int64_t k = 0;; ++k) {
      absl::Time due = start + interval * k;
      if (due >= end) break;
      absl::Time now = absl::Now();
      if (due > now) absl::SleepFor(due - now);
      if (o.stream) {
        lanes[k % lanes.size()]->Due(due);
      } else {
        unary->Issue(due);
      }
    }
  } else {
    if (o.stream) {
      for (auto& lane : lanes) lane->Due(start);  // kicks the closed-loop pump
    } else {
      for (int i = 0; i < o.concurrency; ++i) unary->Issue(absl::Now());
    }
    absl::SleepFor(end - absl::Now());
  }
  if (o.stream) {
    for (auto& lane : lanes) lane->Finish();
    for (auto& lane : lanes) lane->WaitDone(o.call_timeout + absl::Minutes(1));
  } else {
    unary->Drain();
  }
  return rec.Take();
}

}  // namespace dossiersync::bench
