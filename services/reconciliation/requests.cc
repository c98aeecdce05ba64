#include "services/reconciliation/requests.h"

#include "absl/time/clock.h"
#include "common/log.h"
#include "dossiersync/v1/events.pb.h"
#include "google/protobuf/util/time_util.h"

namespace dossiersync::reconciliation {

using google::protobuf::util::TimeUtil;

absl::StatusOr<std::unique_ptr<RequestConsumer>> RequestConsumer::Start(
    const std::string& brokers, const std::string& group, Runner* runner,
    prometheus::Registry* registry) {
  auto c = std::unique_ptr<RequestConsumer>(new RequestConsumer());
  auto consumer = KafkaConsumer::Create(brokers, group, {kTopicReconciliationRequests},
                                        /*from_beginning=*/true);
  if (!consumer.ok()) return consumer.status();
  c->consumer_ = std::move(*consumer);
  c->runner_ = runner;
  auto& family = prometheus::BuildCounter()
                     .Name("dossiersync_reconciliation_requests_total")
                     .Help(
                         "Reconciliation requests read (e.g. from the sync, when its position "
                         "fell off the log) and the runs started for them")
                     .Register(*registry);
  c->received_ = &family.Add({{"what", "request"}});
  c->runs_ = &family.Add({{"what", "run"}});
  c->thread_ = std::thread([p = c.get()] { p->Loop(); });
  return c;
}

RequestConsumer::~RequestConsumer() { Stop(); }

void RequestConsumer::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
  consumer_.reset();
}

std::optional<absl::Time> RequestConsumer::Collect() {
  std::optional<absl::Time> since;
  absl::Time quiet_until = absl::InfiniteFuture();
  while (!stop_.HasBeenNotified() && absl::Now() < quiet_until) {
    auto m = consumer_->Poll(100);
    if (!m.ok()) {
      LogWarn("reconciliation-requests consume failed",
              {{"error", std::string(m.status().message())}});
      continue;
    }
    if (!m->has_value()) {
      if (!since) quiet_until = absl::InfiniteFuture();  // nothing yet: keep waiting
      continue;
    }
    dossiersync::v1::ReconciliationRequest r;
    if (!r.ParseFromString((*m)->value) || !r.has_changed_since()) {
      LogWarn("undecodable reconciliation request skipped",
              {{"partition", (*m)->partition}, {"offset", (*m)->offset}});
      continue;
    }
    received_->Increment();
    const absl::Time t = absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(r.changed_since()));
    LogWarn("reconciliation requested", {{"changed_since", absl::FormatTime(t)},
                                         {"reason", r.reason()},
                                         {"requested_by", r.requested_by()}});
    since = since ? std::min(*since, t) : t;
    quiet_until = absl::Now() + absl::Seconds(1);  // more may follow (one per lost partition)
  }
  return since;
}

bool RequestConsumer::StartRun(absl::Time since) {
  dossiersync::v1::StartRunRequest req;
  req.set_repair(true);
  *req.mutable_changed_since() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(since));
  while (!stop_.HasBeenNotified()) {
    auto id = runner_->Start(req, "stream-lost");
    if (id.ok()) {
      runs_->Increment();
      LogInfo("run started for a reconciliation request",
              {{"run_id", *id}, {"changed_since", absl::FormatTime(since)}});
      return true;
    }
    LogInfo("reconciliation request waits for the running run",
            {{"reason", std::string(id.status().message())}});
    stop_.WaitForNotificationWithTimeout(absl::Seconds(3));
  }
  return false;
}

void RequestConsumer::Loop() {
  while (!stop_.HasBeenNotified()) {
    std::optional<absl::Time> since = Collect();
    if (!since || !StartRun(*since)) continue;
    if (auto st = consumer_->CommitSync(); !st.ok()) {
      LogWarn("reconciliation-requests offset commit failed",
              {{"error", std::string(st.message())}});
    }
  }
}

}  // namespace dossiersync::reconciliation
