// Storage outages under the services, over real sockets:
//   - intake's database full (SQLite's max_page_count, and a real filesystem that runs out of
//     space when the test may mount one): changes are refused UNAVAILABLE, nothing acknowledged is
//     lost, and intake takes changes again by itself once space returns;
//   - the PostgreSQL server restarted while intake and the sync work on it: both reconnect and
//     every acknowledged change reaches DVCQG.
#include <httplib.h>
#include <sys/mount.h>

#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/grpc_client.h"
#include "gtest/gtest.h"
#include "services/sync/app.h"
#include "tests/e2e_checks.h"
#include "tests/postgres_server.h"
#include "tests/test_util.h"

namespace dossiersync {
namespace {

class StorageFullTest : public ::testing::Test {
 protected:
  // Submits new dossiers until intake refuses one; the acknowledged codes go to `acked_`.
  void FillUntilRefused() {
    auto stub = testing::IntakeStub(intake_->grpc_port());
    for (int i = 1; i <= 20000; ++i) {
      auto req = testing::ValidRequest(next_++, 1, 1);
      dossiersync::v1::SubmitChangeResponse resp;
      grpc::Status st = stub->SubmitChange(MakeContext({}, absl::Seconds(10)).get(), req, &resp);
      if (st.ok()) {
        acked_.insert(req.dossier().code());
        continue;
      }
      refusal_ = st;
      return;
    }
  }
  // True once intake acknowledges a new change again.
  bool AcceptsAgain() {
    auto stub = testing::IntakeStub(intake_->grpc_port());
    auto req = testing::ValidRequest(next_, 1, 1);
    dossiersync::v1::SubmitChangeResponse resp;
    if (!stub->SubmitChange(MakeContext({}, absl::Seconds(10)).get(), req, &resp).ok()) {
      return false;
    }
    acked_.insert(req.dossier().code());
    ++next_;
    return true;
  }
  // Every acknowledged change is stored and, once Kafka has it, on the topic.
  void ExpectNothingAcknowledgedLost() {
    auto stub = testing::IntakeStub(intake_->grpc_port());
    for (const auto& code : acked_) {
      dossiersync::v1::GetDossierRequest g;
      g.set_code(code);
      dossiersync::v1::Dossier d;
      EXPECT_TRUE(stub->GetDossier(MakeContext({}, absl::Seconds(10)).get(), g, &d).ok()) << code;
    }
    ASSERT_TRUE(testing::WaitFor([&] { return intake_->relay()->backlog() == 0; }));
    auto msgs = testing::CollectTopic(broker_->bootstrap(), kTopicDossierChanges, acked_.size(),
                                      absl::Seconds(30));
    std::set<std::string> on_topic;
    for (const auto& m : msgs) on_topic.insert(m.key);
    for (const auto& code : acked_) EXPECT_TRUE(on_topic.count(code)) << code;
  }

  testing::TempDir dir_;
  std::unique_ptr<devbroker::DevBroker> broker_ = testing::StartBroker();
  std::unique_ptr<intake::App> intake_;
  std::set<std::string> acked_;
  grpc::Status refusal_;
  int next_ = 1;
};

// A database bounded by --sqlite_max_mb while Kafka is down: the outbox fills it, intake refuses
// UNAVAILABLE; when Kafka returns the relay publishes and deletes the rows (retention off), the
// space is free again and intake accepts changes without anyone acting.
TEST_F(StorageFullTest, ABoundedDatabaseRefusesUnavailableAndRecoversWhenSpaceIsFreed) {
  ASSERT_EQ(testing::BrokerControl(*broker_, "/brokers/1/down"), 200);
  auto c = testing::IntakeTestConfig(broker_->bootstrap(), dir_.path());
  c.database = absl::StrCat("sqlite:", dir_.File("small.db"));
  c.sqlite_max_mb = 1;
  c.outbox_retain_max = 0;
  intake_ = testing::StartIntake(c);
  ASSERT_TRUE(intake_);
  FillUntilRefused();
  ASSERT_GT(acked_.size(), 10u);
  EXPECT_EQ(refusal_.error_code(), grpc::StatusCode::UNAVAILABLE) << refusal_.error_message();
  EXPECT_NE(refusal_.error_message().find("full"), std::string::npos) << refusal_.error_message();
  EXPECT_FALSE(AcceptsAgain());
  ASSERT_EQ(testing::BrokerControl(*broker_, "/brokers/1/up"), 200);
  ASSERT_TRUE(testing::WaitFor([&] { return AcceptsAgain(); }, absl::Seconds(60)));
  ExpectNothingAcknowledgedLost();
}

// The database on a real filesystem that runs out of space (a 2 MiB tmpfs, mounted when the test
// may): UNAVAILABLE while it is full, and when it grows intake takes changes again by itself.
TEST_F(StorageFullTest, AFullFilesystemRefusesUnavailableAndRecoversWhenItGrows) {
  const std::string mnt = dir_.File("fs");
  ASSERT_EQ(system(("mkdir -p " + mnt).c_str()), 0);
  if (mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=2m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (needs CAP_SYS_ADMIN); the bounded-database test "
                    "covers the same path";
  }
  struct Unmount {
    std::string path;
    ~Unmount() { umount2(path.c_str(), MNT_DETACH); }
  } unmount{mnt};
  auto c = testing::IntakeTestConfig(broker_->bootstrap(), dir_.path());
  c.database = absl::StrCat("sqlite:", mnt, "/intake.db");
  intake_ = testing::StartIntake(c);
  ASSERT_TRUE(intake_);
  FillUntilRefused();
  ASSERT_GT(acked_.size(), 10u);
  EXPECT_EQ(refusal_.error_code(), grpc::StatusCode::UNAVAILABLE) << refusal_.error_message();
  EXPECT_FALSE(AcceptsAgain());
  ASSERT_EQ(mount("tmpfs", mnt.c_str(), "tmpfs", MS_REMOUNT, "size=64m"), 0);
  ASSERT_TRUE(testing::WaitFor([&] { return AcceptsAgain(); }, absl::Seconds(60)));
  ExpectNothingAcknowledgedLost();
  intake_.reset();  // before the filesystem goes
}

// PostgreSQL stopped and started again while changes pour in: intake refuses UNAVAILABLE
// meanwhile (the portal retries), both services reconnect by themselves, and every acknowledged
// change reaches DVCQG with its steps once, in order.
TEST(PostgresRestartTest, ServicesReconnectUnderLoadAndLoseNothing) {
  auto pg = testing::PostgresServer::Shared();
  ASSERT_TRUE(pg.ok()) << pg.status();
  testing::TempDir dir;
  auto broker = testing::StartBroker();
  auto sim = testing::StartSim(dir.path());
  auto ic = testing::IntakeTestConfig(broker->bootstrap(), dir.path());
  ic.database = *(*pg)->NewDatabase("intake");
  auto intake = testing::StartIntake(ic);
  ASSERT_TRUE(intake);
  auto sc = testing::SyncTestConfig(broker->bootstrap(), dir.path(), *sim, "sync.db");
  sc.database = *(*pg)->NewDatabase("sync");
  auto sync = sync::App::Start(sc);
  ASSERT_TRUE(sync.ok()) << sync.status();
  tools::WorkloadOptions workload;
  workload.now = absl::Now();
  constexpr int kDossiers = 60;
  std::atomic<int> acknowledged{0}, refused{0};
  std::thread submitter([&] {
    auto stub = testing::IntakeStub(intake->grpc_port());
    tools::Workload w(workload);
    for (int i = 0; i < kDossiers; ++i) {
      for (const auto& change : w.Lifecycle(i)) {
        while (true) {  // the portal's retry: until acknowledged
          dossiersync::v1::SubmitChangeResponse resp;
          auto st = stub->SubmitChange(MakeContext({}, absl::Seconds(10)).get(), change, &resp);
          if (st.ok()) break;
          EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
          ++refused;
          absl::SleepFor(absl::Milliseconds(100));  // the client's backoff
        }
        ++acknowledged;
      }
    }
  });
  ASSERT_TRUE(testing::WaitFor([&] { return acknowledged.load() >= 60; }));
  ASSERT_TRUE((*pg)->Stop().ok());
  const absl::Time restart = absl::Now() + absl::Seconds(3);
  ASSERT_TRUE(testing::WaitFor([&] { return absl::Now() > restart; }));
  ASSERT_TRUE((*pg)->Start().ok());
  submitter.join();
  EXPECT_GT(refused.load(), 0) << "the restart went unnoticed: nothing was tested";
  httplib::Client admin("127.0.0.1", sim->port());
  std::string why;
  EXPECT_TRUE(testing::WaitFor(
      [&] { return testing::SimMatchesWorkload(admin, workload, kDossiers, &why); },
      absl::Seconds(120)))
      << why;
  auto problems = testing::HistoryProblems(admin, workload, kDossiers);
  EXPECT_TRUE(problems.empty()) << problems.size() << " problems, first: " << problems[0];
}

}  // namespace
}  // namespace dossiersync
