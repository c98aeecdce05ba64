// Health as probes and meshes see it, over real sockets: gRPC's health service asked by each
// service's full name (grpc_health_probe, meshes) and the metrics port's /readyz and /livez, for
// intake, sync and reconciliation; NOT_SERVING while PostgreSQL is down and serving again when it
// returns; NOT_SERVING from the first moment of a shutdown while a call is still in flight.
#include "common/health.h"

#include <httplib.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/grpc_client.h"
#include "dossiersync/v1/reconciliation.grpc.pb.h"
#include "dossiersync/v1/sync.grpc.pb.h"
#include "gtest/gtest.h"
#include "services/reconciliation/app.h"
#include "tests/postgres_server.h"
#include "tests/test_util.h"

namespace dossiersync {
namespace {

constexpr int kServing = 1;
constexpr int kNotServing = 2;

// The status of GET http://127.0.0.1:port/path (0 when nothing answers) and its body.
int Probe(int port, const std::string& path, std::string* body = nullptr) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(2);
  auto res = cli.Get(path);
  if (!res) return 0;
  if (body != nullptr) *body = res->body;
  return res->status;
}

// Every way of asking says ready (and nothing else is known).
void ExpectReady(const std::string& what, int grpc_port, int metrics_port,
                 const std::string& service) {
  SCOPED_TRACE(what);
  EXPECT_EQ(testing::HealthStatus(grpc_port, ""), kServing);
  EXPECT_EQ(testing::HealthStatus(grpc_port, service), kServing);
  EXPECT_EQ(testing::HealthStatus(grpc_port, "no.such.Service"), -grpc::StatusCode::NOT_FOUND);
  std::string body;
  EXPECT_EQ(Probe(metrics_port, "/readyz", &body), 200);
  EXPECT_NE(body.find("\"storage\":\"ok\""), std::string::npos) << body;
  EXPECT_EQ(Probe(metrics_port, "/livez"), 200);
}

class HealthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = testing::StartBroker();
    sim_ = testing::StartSim(dir_.path());
  }
  intake::IntakeConfig IntakeConfig(const std::string& database) {
    auto c = testing::IntakeTestConfig(broker_->bootstrap(), dir_.path());
    c.database = database;
    c.server.health.interval = absl::Milliseconds(100);
    return c;
  }

  testing::TempDir dir_;
  std::unique_ptr<devbroker::DevBroker> broker_;
  std::unique_ptr<sim::Simulator> sim_;
};

TEST_F(HealthTest, EveryServiceAnswersByItsNameAndOnItsMetricsPort) {
  auto intake = testing::StartIntake(IntakeConfig(testing::TestDatabaseUri(dir_.path(), "i")));
  ExpectReady("intake", intake->grpc_port(), intake->metrics_port(),
              dossiersync::v1::IntakeService::service_full_name());

  auto sc = testing::SyncTestConfig(broker_->bootstrap(), dir_.path(), *sim_);
  auto sync = sync::App::Start(sc);
  ASSERT_TRUE(sync.ok()) << sync.status();
  ExpectReady("sync", (*sync)->grpc_port(), (*sync)->metrics_port(),
              dossiersync::v1::SyncService::service_full_name());

  auto recon = reconciliation::App::Start(
      testing::ReconTestConfig(broker_->bootstrap(), testing::TestDatabaseUri(dir_.path(), "r"),
                               intake->grpc_port(), testing::SimClientConfig(*sim_)));
  ASSERT_TRUE(recon.ok()) << recon.status();
  ExpectReady("reconciliation", (*recon)->grpc_port(), (*recon)->metrics_port(),
              dossiersync::v1::ReconciliationService::service_full_name());
}

TEST_F(HealthTest, NotServingWhilePostgresIsDownAndServingWhenItReturns) {
  auto pg = testing::PostgresServer::Shared();
  if (!pg.ok()) GTEST_SKIP() << pg.status();
  auto uri = (*pg)->NewDatabase("health");
  ASSERT_TRUE(uri.ok()) << uri.status();
  auto intake = testing::StartIntake(IntakeConfig(*uri));
  const std::string name = dossiersync::v1::IntakeService::service_full_name();
  ExpectReady("before", intake->grpc_port(), intake->metrics_port(), name);

  ASSERT_TRUE((*pg)->Stop().ok());
  EXPECT_TRUE(testing::WaitFor([&] {
    return testing::HealthStatus(intake->grpc_port(), name) == kNotServing &&
           testing::HealthStatus(intake->grpc_port(), "") == kNotServing &&
           Probe(intake->metrics_port(), "/readyz") == 503;
  }));
  // Unready, not dead: an outage elsewhere must not make Kubernetes restart the pod.
  EXPECT_EQ(Probe(intake->metrics_port(), "/livez"), 200);

  ASSERT_TRUE((*pg)->Start().ok());
  EXPECT_TRUE(testing::WaitFor([&] {
    return testing::HealthStatus(intake->grpc_port(), name) == kServing &&
           Probe(intake->metrics_port(), "/readyz") == 200;
  }));
  // And it takes changes again.
  auto stub = testing::IntakeStub(intake->grpc_port());
  dossiersync::v1::SubmitChangeResponse resp;
  EXPECT_TRUE(testing::WaitFor([&] {
    return stub
        ->SubmitChange(MakeContext({}, absl::Seconds(5)).get(), testing::ValidRequest(1, 1, 1),
                       &resp)
        .ok();
  }));
}

TEST_F(HealthTest, NotServingFromTheFirstMomentOfAShutdownWhileCallsDrain) {
  auto c = IntakeConfig(testing::TestDatabaseUri(dir_.path(), "i"));
  c.shutdown_grace = absl::Seconds(20);
  auto intake = testing::StartIntake(c);
  const int metrics = intake->metrics_port();
  ASSERT_EQ(Probe(metrics, "/readyz"), 200);

  // A portal backend's stream, open when the shutdown begins.
  auto stub = testing::IntakeStub(intake->grpc_port());
  auto ctx = MakeContext({}, absl::Seconds(60));
  auto stream = stub->SubmitChanges(ctx.get());
  ASSERT_TRUE(stream->Write(testing::ValidRequest(1, 1, 1)));
  dossiersync::v1::SubmitChangeResponse resp;
  ASSERT_TRUE(stream->Read(&resp));

  absl::Notification stopped;
  std::thread stopper([&] {
    intake->Stop();
    stopped.Notify();
  });
  EXPECT_TRUE(testing::WaitFor([&] { return Probe(metrics, "/readyz") == 503; }));
  EXPECT_FALSE(stopped.HasBeenNotified()) << "the stream should still be draining";
  // The call in flight is still served, and finishes cleanly.
  ASSERT_TRUE(stream->Write(testing::ValidRequest(2, 1, 1)));
  ASSERT_TRUE(stream->Read(&resp));
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  stopper.join();
  EXPECT_TRUE(stopped.HasBeenNotified());
}

TEST(HealthUnitTest, ReadyOnlyWhenEveryCheckPassesAndNeverAgainAfterShutdown) {
  std::atomic<bool> storage_ok{true};
  Health h({"x.Service"}, {.interval = absl::Milliseconds(10)});
  h.AddCheck("storage",
             [&] { return storage_ok ? absl::OkStatus() : absl::UnavailableError("disk gone"); });
  h.Start(nullptr);
  EXPECT_TRUE(h.Get().ready);  // the first answer is already true
  storage_ok = false;
  EXPECT_TRUE(testing::WaitFor([&] { return !h.Get().ready; }));
  EXPECT_EQ(h.Get().detail["checks"]["storage"], "disk gone");
  EXPECT_TRUE(h.Get().live);
  storage_ok = true;
  EXPECT_TRUE(testing::WaitFor([&] { return h.Get().ready; }));
  h.BeginShutdown();
  EXPECT_FALSE(h.Get().ready);
  EXPECT_TRUE(h.Get().detail["shutting_down"].get<bool>());
}

}  // namespace
}  // namespace dossiersync
