// The devbroker process and its control interface.
#include <httplib.h>
#include <signal.h>

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/kafka.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace dossiersync {
namespace {

TEST(DevBrokerTest, BinaryPrintsBootstrapFirstAndServesEveryTopic) {
  testing::TempDir dir;
  testing::Process p({testing::BinaryPath("devbroker"), "--partitions=3",
                      "--bootstrap_file=" + dir.File("bs"), "--control_file=" + dir.File("ctl")},
                     dir.File("out.log"));
  ASSERT_TRUE(testing::WaitFor([&] { return std::ifstream(dir.File("ctl")).good(); }));
  std::string first_line, bootstrap;
  std::getline(std::ifstream(dir.File("out.log")) >> std::ws, first_line);
  std::getline(std::ifstream(dir.File("bs")), bootstrap);
  EXPECT_EQ(first_line, bootstrap);
  EXPECT_TRUE(absl::StartsWith(bootstrap, "127.0.0.1:")) << bootstrap;
  for (const std::string& topic : AllTopics()) {
    auto c = KafkaConsumer::CreateAssigned(bootstrap, topic, true);
    EXPECT_TRUE(c.ok()) << topic << ": " << c.status();
  }
  p.Kill(SIGTERM);
  EXPECT_EQ(p.Wait(), 0);
}

class ControlTest : public ::testing::Test {
 protected:
  void SetUp() override { broker_ = testing::StartBroker(3, 2); }
  httplib::Result Post(const std::string& path) {
    httplib::Client cli("127.0.0.1", broker_->control_port());
    return cli.Post(path.c_str());
  }
  std::unique_ptr<devbroker::DevBroker> broker_;
};

TEST_F(ControlTest, InfoAndHealth) {
  httplib::Client cli("127.0.0.1", broker_->control_port());
  auto info = cli.Get("/info");
  ASSERT_TRUE(info);
  auto j = nlohmann::json::parse(info->body);
  EXPECT_EQ(j["bootstrap"], broker_->bootstrap());
  EXPECT_EQ(j["brokers"], 3);
  EXPECT_EQ(j["topics"].size(), AllTopics().size());
  EXPECT_EQ(AllTopics().size(), 7u);  // SPEC §5 and reconciliation-requests (docs/TOPICS.md)
  EXPECT_EQ(cli.Get("/health")->status, 200);
}

TEST_F(ControlTest, FaultsThroughTheMockClusterFunctions) {
  EXPECT_EQ(Post("/brokers/2/down")->status, 200);
  EXPECT_EQ(Post("/brokers/2/up")->status, 200);
  EXPECT_EQ(Post("/brokers/1/rtt?ms=50")->status, 200);
  EXPECT_EQ(Post("/errors?api=0&codes=6,7")->status, 200);
  EXPECT_EQ(Post("/brokers/3/errors?api=1&codes=7&rtt_ms=10")->status, 200);
  EXPECT_EQ(Post("/errors/clear?api=0")->status, 200);
  EXPECT_EQ(Post("/leader?topic=dossiersync.dossier-changes.v1&partition=1&broker=3")->status, 200);
}

TEST_F(ControlTest, BadRequestsGetClearErrors) {
  auto r = Post("/brokers/1/rtt");
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("ms=N"), std::string::npos);
  EXPECT_EQ(Post("/errors?api=0&codes=x")->status, 400);
  EXPECT_EQ(Post("/leader?topic=dossiersync.drift.v1")->status, 400);
  EXPECT_EQ(Post("/brokers/99/down")->status, 400);
}

// Issue 15: a devbroker killed with SIGKILL and restarted (empty) comes back on the same ports,
// and a producer that was connected before reconnects by itself: what it sends after the restart
// is delivered and readable.
TEST(DevBrokerTest, RestartsOnItsFixedPortsAndClientsReconnect) {
  testing::TempDir dir;
  const int port = testing::FreePort();
  const std::string listen = absl::StrCat("127.0.0.1:", port);
  auto start = [&](const std::string& log) {
    auto p = std::make_unique<testing::Process>(
        std::vector<std::string>{testing::BinaryPath("devbroker"), "--listen=" + listen,
                                 "--partitions=2", "--bootstrap_file=" + dir.File("bs")},
        dir.File(log));
    EXPECT_TRUE(testing::WaitFor([&] { return std::ifstream(dir.File("bs")).good(); }));
    std::string bootstrap;
    std::getline(std::ifstream(dir.File("bs")), bootstrap);
    EXPECT_EQ(bootstrap, listen);
    return p;
  };
  auto first = start("first.log");
  std::atomic<int> delivered{0};
  auto producer = KafkaProducer::Create(listen, [&](int64_t, const absl::Status& st) {
    if (st.ok()) ++delivered;
  });
  ASSERT_TRUE(producer.ok()) << producer.status();
  OutMessage m{kTopicDossierChanges, "k", "before", "", "e1", "", 1};
  ASSERT_TRUE((*producer)->Produce(m).ok());
  ASSERT_TRUE(testing::WaitFor([&] {
    (*producer)->Poll(50);
    return delivered == 1;
  }));
  first->Kill(SIGKILL);
  first->Wait();
  std::remove(dir.File("bs").c_str());
  auto second = start("second.log");
  m.value = "after";
  m.event_id = "e2";
  m.opaque = 2;
  ASSERT_TRUE((*producer)->Produce(m).ok());
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        (*producer)->Poll(50);
        return delivered == 2;
      },
      absl::Seconds(60)))
      << "the producer did not reconnect to the restarted broker";
  auto msgs = testing::CollectTopic(listen, kTopicDossierChanges, 1, absl::Seconds(30));
  ASSERT_EQ(msgs.size(), 1u) << "the restarted broker is empty but for what came after";
  EXPECT_EQ(msgs[0].value, "after");
  second->Kill(SIGTERM);
  EXPECT_EQ(second->Wait(), 0);
}

TEST(DevBrokerOptionsTest, RejectsBadOptions) {
  devbroker::DevBrokerOptions o;
  o.brokers = 0;
  EXPECT_EQ(devbroker::DevBroker::Start(o).status().code(), absl::StatusCode::kInvalidArgument);
  o.brokers = 1;
  o.control_listen = "nonsense";
  EXPECT_EQ(devbroker::DevBroker::Start(o).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dossiersync

namespace dossiersync {
namespace {

// Regression: the lag of partitions not fetching yet (just assigned, paused, or waiting for an
// offset reset) was asked one partition at a time: 20 s for 1,000 partitions, every 2 s, on the
// sync's consume thread, which read nothing meanwhile (the backfill benchmark ran at half speed).
// Now one request per leader: every partition gets its figure at once.
TEST(KafkaLagTest, TheLagOfManyPartitionsNotFetchingIsAskedAllAtOnce) {
  constexpr int kPartitions = 400;
  auto broker = testing::StartBroker(1, kPartitions);
  auto c = KafkaConsumer::Create(broker->bootstrap(), "lag-test", {kTopicDossierChanges}, true);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        (void)(*c)->Poll(10);
        return (*c)->assigned().size() == kPartitions;
      },
      absl::Seconds(30)));
  (*c)->SetPaused(true);  // nothing fetches: no watermark is cached
  // A busy broker: 20 ms a request (the benchmark's devbroker answered about that slowly).
  rd_kafka_mock_broker_set_rtt(broker->cluster(), 1, 20);
  const absl::Time t0 = absl::Now();
  auto lags = (*c)->Lags();
  const absl::Duration took = absl::Now() - t0;
  EXPECT_EQ(lags.size(), static_cast<size_t>(kPartitions));
  for (const auto& l : lags) EXPECT_EQ(l.lag, 0) << l.tp.second;
  // One request per partition: 400 x 20 ms = 8 s; all at once: a few requests.
  EXPECT_LT(took, absl::Seconds(3)) << took;
}

}  // namespace
}  // namespace dossiersync
