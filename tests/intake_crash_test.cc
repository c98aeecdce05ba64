// dossier-intake as a real process, killed with SIGKILL: every acknowledged change reaches the
// topic after restart, in order per dossier; a repeat only with the same event-id.
#include <signal.h>

#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/grpc_client.h"
#include "gtest/gtest.h"
#include "tests/kafka_checks.h"
#include "tests/postgres_server.h"
#include "tests/test_util.h"

namespace dossiersync {
namespace {

using dossiersync::testing::ValidRequest;
using dossiersync::v1::SubmitChangeResponse;

const int kLifecycle[10] = {1, 2, 4, 5, 4, 6, 4, 8, 4, 9};

class IntakeProcess {
 public:
  IntakeProcess(const std::string& brokers, const testing::TempDir& dir) {
    port_ = testing::FreePort();
    metrics_port_ = testing::FreePort();
    proc_ = std::make_unique<testing::Process>(
        std::vector<std::string>{testing::BinaryPath("dossier-intake"), "--allow_insecure",
                                 absl::StrCat("--listen=127.0.0.1:", port_),
                                 absl::StrCat("--metrics_listen=127.0.0.1:", metrics_port_),
                                 "--kafka_brokers=" + brokers,
                                 "--database=" + testing::TestDatabaseUri(dir.path(), "intake.db"),
                                 "--instance_id=intake-under-test"},
        dir.File("intake.log"));
    stub_ = testing::IntakeStub(port_);
    auto ch = MakeChannel(absl::StrCat("127.0.0.1:", port_), {});
    (*ch)->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(20));
  }
  dossiersync::v1::IntakeService::Stub* stub() { return stub_.get(); }
  double Backlog() {
    return testing::ScrapeMetric(metrics_port_, "dossiersync_intake_outbox_backlog");
  }
  void Kill() {
    proc_->Kill(SIGKILL);
    proc_->Wait();
  }

 private:
  int port_;
  int metrics_port_;
  std::unique_ptr<testing::Process> proc_;
  std::unique_ptr<dossiersync::v1::IntakeService::Stub> stub_;
};

bool Submit(dossiersync::v1::IntakeService::Stub* stub, int dossier, int k) {
  auto ctx = MakeContext({}, absl::Seconds(10));
  SubmitChangeResponse resp;
  return stub->SubmitChange(ctx.get(), ValidRequest(dossier, kLifecycle[k], 100 + k), &resp).ok();
}

TEST(IntakeCrashTest, UnpublishedOutboxRowsSurviveSigkill) {
  testing::TempDir dir;
  auto broker = testing::StartBroker();
  {
    IntakeProcess intake(broker->bootstrap(), dir);
    for (int k = 0; k < 5; ++k) {
      for (int i = 1; i <= 30; ++i) ASSERT_TRUE(Submit(intake.stub(), i, k));
    }
    ASSERT_EQ(testing::CollectTopic(broker->bootstrap(), kTopicDossierChanges, 150).size(), 150u);
    ASSERT_EQ(testing::BrokerControl(*broker, "/brokers/1/down"), 200);
    for (int k = 5; k < 10; ++k) {
      for (int i = 1; i <= 30; ++i) ASSERT_TRUE(Submit(intake.stub(), i, k));
    }
    intake.Kill();
  }
  ASSERT_EQ(testing::BrokerControl(*broker, "/brokers/1/up"), 200);
  IntakeProcess restarted(broker->bootstrap(), dir);
  auto msgs = testing::CollectUntil(broker->bootstrap(), kTopicDossierChanges, [](const auto& m) {
    return testing::DistinctEvents(m) >= 300;
  });
  ASSERT_GE(testing::DistinctEvents(msgs), 300u);
  auto by_code = testing::CheckChanges(msgs);
  ASSERT_EQ(by_code.size(), 30u);
  for (const auto& [code, revs] : by_code) {
    ASSERT_EQ(revs.size(), 10u) << code;
    for (int k = 0; k < 10; ++k) EXPECT_EQ(revs[k], 100 + k) << code;
  }
}

TEST(IntakeCrashTest, SigkillUnderLoadLosesNoAcknowledgedChange) {
  testing::TempDir dir;
  auto broker = testing::StartBroker();
  std::set<std::pair<int, int>> acked;  // (dossier, k)
  {
    IntakeProcess intake(broker->bootstrap(), dir);
    std::atomic<int> count{0};
    std::atomic<bool> stop{false};
    std::mutex mu;
    std::vector<std::thread> callers;
    for (int t = 0; t < 8; ++t) {
      callers.emplace_back([&, t] {
        for (int k = 0; k < 10 && !stop; ++k) {
          for (int i = t + 1; i <= 200 && !stop; i += 8) {
            if (!Submit(intake.stub(), i, k)) {
              stop = true;  // the server is gone: later changes of this dossier must wait
              return;
            }
            std::lock_guard<std::mutex> l(mu);
            acked.insert({i, k});
            ++count;
          }
        }
      });
    }
    ASSERT_TRUE(testing::WaitFor([&] { return count.load() >= 600; }));
    intake.Kill();
    stop = true;
    for (auto& t : callers) t.join();
  }
  IntakeProcess restarted(broker->bootstrap(), dir);
  // Once the restarted relay has no backlog, every stored change is in the topic: acknowledged
  // ones, and in-doubt ones whose call failed but whose commit landed.
  ASSERT_TRUE(testing::WaitFor([&] { return restarted.Backlog() == 0; }, absl::Seconds(60)));
  auto msgs = testing::CollectAll(broker->bootstrap(), kTopicDossierChanges);
  auto by_code = testing::CheckChanges(msgs);
  testing::ExpectStrictlyIncreasing(by_code);
  std::set<std::pair<std::string, int64_t>> published;
  for (const auto& [code, revs] : by_code) {
    for (int64_t r : revs) published.insert({code, r});
  }
  for (const auto& [i, k] : acked) {
    std::string code = ValidRequest(i, 1, 1).dossier().code();
    EXPECT_TRUE(published.count({code, 100 + k})) << code << " revision " << 100 + k << " lost";
  }
}

}  // namespace
}  // namespace dossiersync
