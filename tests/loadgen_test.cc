// ds-loadgen (bench/loadgen.cc) as a process against the stack over real sockets: its figures
// must agree with what intake stored and what the sync reported, so the benchmark table in
// docs/BENCHMARKS.md rests on counts that are checked here.
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/dvcqg_sim/simulator.h"
#include "services/sync/app.h"
#include "tests/test_util.h"

namespace dossiersync {
namespace {

using nlohmann::json;

class LoadgenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = testing::StartBroker();
    intake_ = testing::StartIntake(testing::IntakeTestConfig(broker_->bootstrap(), dir_.path()));
  }
  // Runs ds-loadgen with `args`; returns its exit status and the whole output in `out`.
  int Run(const std::vector<std::string>& args, std::string* out) {
    std::vector<std::string> argv = {
        testing::BinaryPath("ds-loadgen"),
        absl::StrCat("--intake_addr=127.0.0.1:", intake_->grpc_port())};
    argv.insert(argv.end(), args.begin(), args.end());
    const std::string log = absl::StrCat(dir_.path(), "/loadgen-", ++runs_, ".log");
    int rc;
    {
      testing::Process p(argv, log);
      rc = p.Wait();
    }
    std::ifstream in(log);
    std::stringstream ss;
    ss << in.rdbuf();
    *out = ss.str();
    return rc;
  }
  static json JsonLine(const std::string& out) {
    size_t at = out.rfind("{\"");
    EXPECT_NE(at, std::string::npos) << out;
    if (at == std::string::npos) return json::object();
    return json::parse(out.substr(at, out.find('\n', at) - at));
  }
  double IntakeAccepted() {
    return testing::ScrapeMetricSum(intake_->metrics_port(), "dossiersync_intake_accepted_total");
  }

  testing::TempDir dir_;
  std::unique_ptr<devbroker::DevBroker> broker_;
  std::unique_ptr<intake::App> intake_;
  int runs_ = 0;
};

TEST_F(LoadgenTest, OpenLoopUnaryEndToEndAgreesWithTheStack) {
  auto sim = testing::StartSim(dir_.path());
  auto sync = sync::App::Start(testing::SyncTestConfig(broker_->bootstrap(), dir_.path(), *sim));
  ASSERT_TRUE(sync.ok()) << sync.status();
  std::string out;
  ASSERT_EQ(Run({"--mode=open", "--rpc=unary", "--rate=100", "--duration=3s", "--warmup=0s",
                 "--e2e_brokers=" + broker_->bootstrap(), "--e2e_wait=120s", "--json"},
                &out),
            0)
      << out;
  json j = JsonLine(out);
  const int64_t ok = j["ok"];
  // 100/s for 3 s, every change due inside the window; none may fail.
  EXPECT_EQ(ok, 300) << j;
  EXPECT_EQ(j["errors"], 0) << j;
  EXPECT_DOUBLE_EQ(j["rate"].get<double>(), static_cast<double>(ok) / 3.0);
  EXPECT_LE(j["p50_ms"].get<double>(), j["p99_ms"].get<double>());
  EXPECT_LE(j["p99_ms"].get<double>(), j["max_ms"].get<double>());
  EXPECT_GT(j["p50_ms"].get<double>(), 0);
  // Every acknowledged change is tracked and was accepted by DVCQG (through the real sync).
  EXPECT_EQ(j["e2e_changes"], ok) << j;
  EXPECT_EQ(j["e2e_synced"], ok) << j;
  EXPECT_GT(j["e2e_p50_ms"].get<double>(), 0);
  EXPECT_LE(j["e2e_p50_ms"].get<double>(), j["e2e_p99_ms"].get<double>());
  EXPECT_LE(j["e2e_p99_ms"].get<double>(), j["e2e_max_ms"].get<double>());
  // What the generator counts is what intake stored: no warm-up, nothing sent after the window.
  EXPECT_EQ(IntakeAccepted(), static_cast<double>(ok));
}

TEST_F(LoadgenTest, ClosedLoopStreamsCountOnlyTheWindow) {
  std::string out;
  ASSERT_EQ(Run({"--mode=closed", "--rpc=stream", "--streams=2", "--concurrency=8", "--duration=2s",
                 "--warmup=1s", "--first_index=5000", "--json"},
                &out),
            0)
      << out;
  json j = JsonLine(out);
  const int64_t ok = j["ok"];
  EXPECT_GT(ok, 100) << j;
  EXPECT_EQ(j["errors"], 0) << j;
  EXPECT_EQ(j["streams"], 2);
  // Intake stored the window's changes and the warm-up's (1 s of the same load beside 2 s);
  // the generator counts only the window's.
  const double stored = IntakeAccepted();
  EXPECT_GT(stored, static_cast<double>(ok));
  EXPECT_LT(stored, static_cast<double>(ok) * 3) << "ok " << ok;
}

TEST_F(LoadgenTest, BadFlagsAreRefusedByName) {
  std::string out;
  EXPECT_EQ(Run({"--mode=sideways"}, &out), 2);
  EXPECT_TRUE(absl::StrContains(out, "--mode must be open or closed, not sideways")) << out;
  EXPECT_EQ(Run({"--rpc=carrier-pigeon"}, &out), 2);
  EXPECT_TRUE(absl::StrContains(out, "--rpc must be unary or stream")) << out;
  EXPECT_EQ(Run({"--mode=open", "--rate=0"}, &out), 2);
  EXPECT_TRUE(absl::StrContains(out, "must be positive")) << out;
  EXPECT_EQ(IntakeAccepted(), -1);  // nothing was sent
}

}  // namespace
}  // namespace dossiersync
