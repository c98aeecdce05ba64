// A running stack with dossier-console in front of it, for the console's HTTP and browser tests:
// intake, the devbroker, the sync, the simulator and the reconciliation in process on real
// sockets; the console signs in operators from a tokens file. Populate() makes something to look
// at: dossiers pushed to DVCQG, one dead letter (a procedure DVCQG refuses), one dossier whose
// due date was changed at DVCQG, and a reconciliation run that found it.
//
// Thread safety: a gtest fixture (one thread).
#ifndef DOSSIERSYNC_TESTS_CONSOLE_FIXTURE_H_
#define DOSSIERSYNC_TESTS_CONSOLE_FIXTURE_H_

#include <httplib.h>

#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/grpc_client.h"
#include "dossiersync/v1/reconciliation.grpc.pb.h"
#include "dossiersync/v1/sync.grpc.pb.h"
#include "gtest/gtest.h"
#include "services/console/app.h"
#include "services/dvcqg_sim/simulator.h"
#include "services/reconciliation/app.h"
#include "services/sync/app.h"
#include "tests/e2e_checks.h"
#include "tests/postgres_server.h"
#include "tests/test_util.h"

namespace dossiersync {

class ConsoleFixture : public ::testing::Test {
 protected:
  static constexpr char kAgency[] = "000.00.13.H37";
  static constexpr char kOperatorToken[] = "operator-token-0123456789";
  static constexpr char kPortalToken[] = "portal-token-0123456789";

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
    std::ofstream(dir_.File("console-tokens"))
        << "ops-alice operator " << kOperatorToken << "\nportal1 portal " << kPortalToken << "\n";
    console::ConsoleConfig cc;
    cc.listen = "127.0.0.1:0";
    cc.intake_addr = absl::StrCat("127.0.0.1:", intake_->grpc_port());
    cc.sync_addr = absl::StrCat("127.0.0.1:", sync_->grpc_port());
    cc.reconciliation_addr = absl::StrCat("127.0.0.1:", recon_->grpc_port());
    cc.tokens_file = dir_.File("console-tokens");
    cc.allow_insecure = true;  // the services run without tokens here
    cc.cookie_secure = false;
    cc.score_period = "2024";
    auto console = console::App::Start(cc);
    ASSERT_TRUE(console.ok()) << console.status();
    console_ = std::move(*console);
  }
  void TearDown() override {
    console_.reset();
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

  void Populate() {
    const std::string kRefused = "2.000001";
    admin_->Post("/admin/faults", nlohmann::json{{"reject_procedure_codes", {kRefused}}}.dump(),
                 "application/json");
    for (int i = 1; i <= 5; ++i) {
      Submit(testing::ValidRequest(i, 2, 100));
      Submit(testing::ValidRequest(i, 4, 200));
    }
    auto refused = testing::ValidRequest(6, 2, 100);
    refused.mutable_dossier()->set_procedure_code(kRefused);
    refused_code_ = refused.dossier().code();
    Submit(refused);
    tampered_code_ = testing::ValidRequest(1, 4, 1).dossier().code();
    ASSERT_TRUE(testing::WaitFor(
        [&] {
          for (int i = 1; i <= 5; ++i) {
            auto s = testing::SimStored(*admin_, testing::ValidRequest(i, 4, 1).dossier().code());
            if (s.is_null() || s["TrangThaiHoSo"] != "4") return false;
          }
          dossiersync::v1::SyncStatus st;
          return sync_stub_
                     ->GetStatus(MakeContext({}, absl::Seconds(5)).get(),
                                 dossiersync::v1::GetStatusRequest(), &st)
                     .ok() &&
                 st.dead_letters() == 1;
        },
        absl::Seconds(60)));
    admin_->Post(("/admin/tamper/" + tampered_code_).c_str(), R"({"NgayHenTra":"20240801080000"})",
                 "application/json");
    auto run = recon_->runner()->RunNow(dossiersync::v1::StartRunRequest());
    ASSERT_TRUE(run.ok()) << run.status();
    run_ = *run;
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
  std::unique_ptr<console::App> console_;
  std::string tampered_code_, refused_code_;
  dossiersync::v1::ReconciliationRun run_;
};

}  // namespace dossiersync

#endif  // DOSSIERSYNC_TESTS_CONSOLE_FIXTURE_H_
