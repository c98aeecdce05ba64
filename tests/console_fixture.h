// A running stack (stack_fixture.h) with dossier-console in front of it, for the console's HTTP
// and browser tests; the console signs in operators from a tokens file. Populate() makes something
// to look at: dossiers pushed to DVCQG, one dead letter (a procedure DVCQG refuses), one dossier
// whose due date was changed at DVCQG, and a reconciliation run that found it.
//
// Thread safety: a gtest fixture (one thread).
#ifndef DOSSIERSYNC_TESTS_CONSOLE_FIXTURE_H_
#define DOSSIERSYNC_TESTS_CONSOLE_FIXTURE_H_

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
#include "tests/stack_fixture.h"
#include "tests/test_util.h"

namespace dossiersync {

class ConsoleFixture : public StackFixture {
 protected:
  static constexpr char kAgency[] = "000.00.13.H37";
  static constexpr char kOperatorToken[] = "operator-token-0123456789";
  static constexpr char kPortalToken[] = "portal-token-0123456789";

  void SetUp() override {
    StackFixture::SetUp();
    if (HasFatalFailure()) return;
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
    StackFixture::TearDown();
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

  std::unique_ptr<console::App> console_;
  std::string tampered_code_, refused_code_;
  dossiersync::v1::ReconciliationRun run_;
};

}  // namespace dossiersync

#endif  // DOSSIERSYNC_TESTS_CONSOLE_FIXTURE_H_
