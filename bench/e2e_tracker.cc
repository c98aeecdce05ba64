#include "bench/e2e_tracker.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "common/kafka.h"
#include "dossiersync/v1/events.pb.h"
#include "google/protobuf/util/time_util.h"

namespace dossiersync::bench {

using google::protobuf::util::TimeUtil;

E2eTracker::~E2eTracker() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

absl::Status E2eTracker::Start(const std::string& brokers) {
  auto consumer =
      KafkaConsumer::CreateAssigned(brokers, kTopicSyncResults, /*from_beginning=*/false);
  if (!consumer.ok()) return consumer.status();
  thread_ = std::thread([this, c = std::shared_ptr<KafkaConsumer>(std::move(*consumer))] {
    while (!stop_) {
      auto m = c->Poll(100);
      if (!m.ok() || !m->has_value()) continue;
      dossiersync::v1::SyncResult r;
      if (!r.ParseFromString((*m)->value)) continue;
      if (r.outcome() != dossiersync::v1::SYNC_OUTCOME_ACCEPTED) continue;
      absl::MutexLock l(&mu_);
      accepted_[r.code()].push_back({r.revision(), TimeUtil::TimestampToMicroseconds(r.at())});
    }
  });
  return absl::OkStatus();
}

void E2eTracker::RecordAck(const std::string& code, int64_t revision, absl::Time acked) {
  absl::MutexLock l(&mu_);
  acks_[code].push_back({revision, absl::ToUnixMicros(acked)});
}

bool E2eTracker::CoveredLocked(const std::string& code, const Ack& a, int64_t* at_us) const {
  auto it = accepted_.find(code);
  if (it == accepted_.end()) return false;
  bool found = false;
  for (const Accepted& r : it->second) {
    if (r.revision < a.revision) continue;
    if (!found || r.at_us < *at_us) *at_us = r.at_us;
    found = true;
  }
  return found;
}

int64_t E2eTracker::UncoveredLocked() const {
  int64_t n = 0;
  int64_t at;
  for (const auto& [code, acks] : acks_) {
    for (const Ack& a : acks) n += CoveredLocked(code, a, &at) ? 0 : 1;
  }
  return n;
}

void E2eTracker::Wait(absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    {
      absl::MutexLock l(&mu_);
      if (UncoveredLocked() == 0) return;
    }
    absl::SleepFor(absl::Milliseconds(200));  // polling a Kafka-fed map; not a test
  }
}

E2eReport E2eTracker::Report() {
  E2eReport rep;
  absl::MutexLock l(&mu_);
  for (const auto& [code, acks] : acks_) {
    for (const Ack& a : acks) {
      ++rep.changes;
      int64_t at = 0;
      if (!CoveredLocked(code, a, &at)) continue;
      ++rep.covered;
      rep.latencies_us.push_back(std::max<int64_t>(0, at - a.acked_us));
    }
  }
  std::sort(rep.latencies_us.begin(), rep.latencies_us.end());
  return rep;
}

}  // namespace dossiersync::bench
