// The whole stack in one process for end-to-end tests of what sits on top of it (the dossier
// timeline, the console): the devbroker, intake, the DVCQG simulator, the sync and the
// reconciliation (App, no schedules) on real sockets, with gRPC stubs to each and the simulator's
// admin client.
//
// Thread safety: a gtest fixture (one thread).
#ifndef DOSSIERSYNC_TESTS_STACK_FIXTURE_H_
#define DOSSIERSYNC_TESTS_STACK_FIXTURE_H_

#include <httplib.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/grpc_client.h"
#include "dossiersync/v1/reconciliation.grpc.pb.h"
#include "dossiersync/v1/sync.grpc.pb.h"
#include "gtest/gtest.h"
#include "services/dvcqg_sim/simulator.h"
#include "services/reconciliation/app.h"
#include "services/sync/app.h"
#include "tests/e2e_checks.h"
#include "tests/postgres_server.h"
#include "tests/test_util.h"

namespace dossiersync {

class StackFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = testing::StartBroker();
    intake_ = testing::StartIntake(testing::IntakeTestConfig(broker_->bootstrap(), dir_.path()));
    sim_ = testing::StartSim(dir_.path());
    admin_ = std::make_unique<httplib::Client>("127.0.0.1", sim_->port());
    sync_ = std::move(
        *sync::App::Start(testing::SyncTestConfig(broker_->bootstrap(), dir_.path(), *sim_)));
    intake_stub_ = testing::IntakeStub(intake_->grpc_port());
    auto recon = reconciliation::App::Start(testing::ReconTestConfig(
        broker_->bootstrap(), testing::TestDatabaseUri(dir_.path(), "recon.db"),
        intake_->grpc_port(), testing::SimClientConfig(*sim_)));
    ASSERT_TRUE(recon.ok()) << recon.status();
    recon_ = std::move(*recon);
    recon_stub_ = dossiersync::v1::ReconciliationService::NewStub(
        *MakeChannel(absl::StrCat("127.0.0.1:", recon_->grpc_port()), {}));
    sync_stub_ = dossiersync::v1::SyncService::NewStub(
        *MakeChannel(absl::StrCat("127.0.0.1:", sync_->grpc_port()), {}));
  }
  void TearDown() override {
    recon_.reset();
    sync_.reset();
  }

  void Submit(const dossiersync::v1::SubmitChangeRequest& r) {
    dossiersync::v1::SubmitChangeResponse resp;
    auto st = intake_stub_->SubmitChange(MakeContext({}, absl::Seconds(10)).get(), r, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  // The simulator's writes of `code` (DongBoHoSoMC and progress), oldest first.
  nlohmann::json History(const std::string& code) {
    auto r = admin_->Get(("/admin/history/" + code).c_str());
    if (!r || r->status != 200) return nlohmann::json::array();
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    return j.is_discarded() || !j.contains("history") ? nlohmann::json::array() : j["history"];
  }

  testing::TempDir dir_;
  std::unique_ptr<devbroker::DevBroker> broker_;
  std::unique_ptr<intake::App> intake_;
  std::unique_ptr<sim::Simulator> sim_;
  std::unique_ptr<httplib::Client> admin_;
  std::unique_ptr<sync::App> sync_;
  std::unique_ptr<dossiersync::v1::IntakeService::Stub> intake_stub_;
  std::unique_ptr<reconciliation::App> recon_;
  std::unique_ptr<dossiersync::v1::ReconciliationService::Stub> recon_stub_;
  std::unique_ptr<dossiersync::v1::SyncService::Stub> sync_stub_;
};

}  // namespace dossiersync

#endif  // DOSSIERSYNC_TESTS_STACK_FIXTURE_H_
