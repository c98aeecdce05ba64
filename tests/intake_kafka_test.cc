// gRPC over a real socket → SQLite → devbroker → a real Kafka consumer.
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/grpc_client.h"
#include "gtest/gtest.h"
#include "tests/kafka_checks.h"
#include "tests/test_util.h"

namespace dossiersync {
namespace {

using dossiersync::testing::ValidRequest;
using dossiersync::v1::SubmitChangeRequest;
using dossiersync::v1::SubmitChangeResponse;

// Ten legal changes of one dossier.
const int kLifecycle[10] = {1, 2, 4, 5, 4, 6, 4, 8, 4, 9};

TEST(IntakeKafkaTest, ThousandInterleavedChangesKeepPerDossierOrder) {
  testing::TempDir dir;
  auto broker = testing::StartBroker();
  auto app = testing::StartIntake(testing::IntakeTestConfig(broker->bootstrap(), dir.path()));
  auto stub = testing::IntakeStub(app->grpc_port());
  // 4 streams; dossier i on stream i % 4; changes interleaved round by round.
  std::vector<std::thread> streams;
  std::atomic<int> ok{0};
  for (int s = 0; s < 4; ++s) {
    streams.emplace_back([&, s] {
      auto ctx = MakeContext({}, absl::Seconds(60));
      auto stream = stub->SubmitChanges(ctx.get());
      for (int k = 0; k < 10; ++k) {
        for (int i = s; i < 100; i += 4) {
          stream->Write(ValidRequest(i + 1, kLifecycle[k], 1000 + k));
        }
      }
      stream->WritesDone();
      SubmitChangeResponse r;
      while (stream->Read(&r)) {
        if (!r.has_error()) ++ok;
      }
      EXPECT_TRUE(stream->Finish().ok());
    });
  }
  for (auto& t : streams) t.join();
  ASSERT_EQ(ok.load(), 1000);
  auto msgs = testing::CollectTopic(broker->bootstrap(), kTopicDossierChanges, 1000);
  ASSERT_EQ(msgs.size(), 1000u);
  auto by_code = testing::CheckChanges(msgs);
  ASSERT_EQ(by_code.size(), 100u);
  for (const auto& [code, revs] : by_code) {
    ASSERT_EQ(revs.size(), 10u) << code;
    for (int k = 0; k < 10; ++k) EXPECT_EQ(revs[k], 1000 + k) << code;
  }
  EXPECT_TRUE(testing::WaitFor([&] { return app->relay()->backlog() == 0; }));
}

TEST(IntakeKafkaTest, AcceptsWhileBrokerIsDownAndPublishesWhenItIsBack) {
  testing::TempDir dir;
  auto broker = testing::StartBroker();
  ASSERT_EQ(testing::BrokerControl(*broker, "/brokers/1/down"), 200);
  auto app = testing::StartIntake(testing::IntakeTestConfig(broker->bootstrap(), dir.path()));
  auto stub = testing::IntakeStub(app->grpc_port());
  for (int i = 1; i <= 50; ++i) {
    auto ctx = MakeContext({}, absl::Seconds(10));
    SubmitChangeResponse resp;
    ASSERT_TRUE(stub->SubmitChange(ctx.get(), ValidRequest(i, 1, 100), &resp).ok()) << i;
  }
  EXPECT_EQ(app->relay()->published(), 0);
  EXPECT_EQ(app->relay()->backlog(), 50);
  ASSERT_EQ(testing::BrokerControl(*broker, "/brokers/1/up"), 200);
  ASSERT_TRUE(testing::WaitFor([&] { return app->relay()->backlog() == 0; }, absl::Seconds(60)));
  auto msgs = testing::CollectTopic(broker->bootstrap(), kTopicDossierChanges, 50);
  EXPECT_EQ(testing::CheckChanges(msgs).size(), 50u);
}

TEST(IntakeKafkaTest, RequestErrorsFromTheBrokerLoseAndReorderNothing) {
  testing::TempDir dir;
  auto broker = testing::StartBroker();
  auto app = testing::StartIntake(testing::IntakeTestConfig(broker->bootstrap(), dir.path()));
  auto stub = testing::IntakeStub(app->grpc_port());
  // Produce (API 0) answers NOT_LEADER_OR_FOLLOWER (6) and REQUEST_TIMED_OUT (7) a few times.
  ASSERT_EQ(testing::BrokerControl(*broker, "/errors?api=0&codes=6,7,6,7,6"), 200);
  for (int k = 0; k < 5; ++k) {
    for (int i = 1; i <= 20; ++i) {
      auto ctx = MakeContext({}, absl::Seconds(10));
      SubmitChangeResponse resp;
      ASSERT_TRUE(
          stub->SubmitChange(ctx.get(), ValidRequest(i, kLifecycle[k], 100 + k), &resp).ok());
    }
  }
  auto msgs = testing::CollectTopic(broker->bootstrap(), kTopicDossierChanges, 100);
  auto by_code = testing::CheckChanges(msgs);
  ASSERT_EQ(by_code.size(), 20u);
  for (const auto& [code, revs] : by_code)
    EXPECT_EQ(revs, (std::vector<int64_t>{100, 101, 102, 103, 104}));
}

}  // namespace
}  // namespace dossiersync

namespace dossiersync {
namespace {

// Two intake replicas on one database (one file for SQLite, one PostgreSQL database): changes
// submitted to both, one dossier's changes alternating between them. One relay publishes (the
// lease): every change exactly once, in per-dossier order. The publisher stops; the other takes
// over and publishes what is submitted next.
TEST(IntakeReplicasTest, TwoReplicasOneDatabaseOnePublisherAndATakeover) {
  testing::TempDir dir;
  auto broker = testing::StartBroker();
  auto config = testing::IntakeTestConfig(broker->bootstrap(), dir.path());
  config.relay_lease_ttl = absl::Seconds(2);
  config.instance_id = "intake-a";
  auto a = testing::StartIntake(config);
  config.instance_id = "intake-b";
  auto b = testing::StartIntake(config);
  auto stub_a = testing::IntakeStub(a->grpc_port());
  auto stub_b = testing::IntakeStub(b->grpc_port());
  auto submit = [&](int from, int to, int k_from, int k_to, bool only_b) {
    std::vector<std::thread> ts;
    for (int part = 0; part < 2; ++part) {
      ts.emplace_back([&, part] {
        for (int i = from + part; i <= to; i += 2) {
          for (int k = k_from; k < k_to; ++k) {
            auto* stub = only_b || (i + k) % 2 ? stub_b.get() : stub_a.get();
            SubmitChangeResponse r;
            auto st = stub->SubmitChange(MakeContext({}, absl::Seconds(10)).get(),
                                         ValidRequest(i, kLifecycle[k], 1000 + k), &r);
            ASSERT_TRUE(st.ok()) << st.error_message();
          }
        }
      });
    }
    for (auto& t : ts) t.join();
  };
  submit(1, 40, 0, 5, false);  // 200 changes through both replicas
  auto msgs = testing::CollectTopic(broker->bootstrap(), kTopicDossierChanges, 200);
  ASSERT_EQ(msgs.size(), 200u);
  EXPECT_EQ(testing::DistinctEvents(msgs), 200u);
  // Exactly one relay published: the other's counter stayed at 0. The counters move after the
  // relay deletes the delivered rows, which may lag the messages' arrival on the topic.
  EXPECT_TRUE(
      testing::WaitFor([&] { return a->relay()->published() + b->relay()->published() >= 200; }));
  EXPECT_TRUE((a->relay()->published() == 200 && b->relay()->published() == 0) ||
              (a->relay()->published() == 0 && b->relay()->published() == 200))
      << a->relay()->published() << " + " << b->relay()->published();
  // The publisher stops (named `a` from here on); the survivor `b` carries on alone.
  if (b->relay()->published() == 200) {
    std::swap(a, b);
    std::swap(stub_a, stub_b);
  }
  a->Stop();
  submit(1, 40, 5, 10, true);  // 200 more through the survivor (now `b`)
  msgs = testing::CollectTopic(broker->bootstrap(), kTopicDossierChanges, 400);
  ASSERT_EQ(msgs.size(), 400u);
  EXPECT_EQ(testing::DistinctEvents(msgs), 400u);
  auto by_code = testing::CheckChanges(msgs);
  ASSERT_EQ(by_code.size(), 40u);
  for (const auto& [code, revs] : by_code) {
    ASSERT_EQ(revs.size(), 10u) << code;
    for (int k = 0; k < 10; ++k) EXPECT_EQ(revs[k], 1000 + k) << code;
  }
  EXPECT_TRUE(testing::WaitFor([&] { return b->relay()->published() >= 200; }));
  EXPECT_EQ(b->relay()->published(), 200);
}

}  // namespace
}  // namespace dossiersync
