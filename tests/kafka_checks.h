// Checks on what intake published: the §5 headers, decodable payloads, and per-dossier order
// (after dropping repeats, which must carry an event-id already seen).
#ifndef DOSSIERSYNC_TESTS_KAFKA_CHECKS_H_
#define DOSSIERSYNC_TESTS_KAFKA_CHECKS_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/ids.h"
#include "common/kafka.h"
#include "dossiersync/v1/events.pb.h"
#include "gtest/gtest.h"

namespace dossiersync::testing {

// Per dossier code, the revisions in topic order with repeats (same event-id) removed.
inline std::map<std::string, std::vector<int64_t>> CheckChanges(
    const std::vector<InMessage>& msgs) {
  std::map<std::string, std::vector<int64_t>> by_code;
  std::set<std::string> seen_events;
  std::map<std::string, int32_t> partition_of;
  for (const InMessage& m : msgs) {
    EXPECT_EQ(m.headers.at("content-type"), "application/x-protobuf");
    EXPECT_EQ(m.headers.at("schema"), "dossiersync.v1.DossierChange");
    EXPECT_FALSE(TraceIdOf(m.headers.at("traceparent")).empty()) << m.headers.at("traceparent");
    dossiersync::v1::DossierChange c;
    EXPECT_TRUE(c.ParseFromString(m.value));
    EXPECT_EQ(m.key, c.dossier().code());
    EXPECT_EQ(m.headers.at("event-id"), c.change_id());
    EXPECT_EQ(c.revision(), c.dossier().revision());
    auto [it, fresh] = partition_of.emplace(m.key, m.partition);
    EXPECT_EQ(it->second, m.partition) << "one dossier, one partition";
    if (!seen_events.insert(c.change_id()).second) continue;  // a repeat of a published change
    by_code[m.key].push_back(c.revision());
  }
  return by_code;
}

inline void ExpectStrictlyIncreasing(const std::map<std::string, std::vector<int64_t>>& by_code) {
  for (const auto& [code, revs] : by_code) {
    for (size_t i = 1; i < revs.size(); ++i) {
      EXPECT_LT(revs[i - 1], revs[i]) << code << " out of order at " << i;
    }
  }
}

}  // namespace dossiersync::testing

#endif  // DOSSIERSYNC_TESTS_KAFKA_CHECKS_H_
