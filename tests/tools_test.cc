// dossierctl against a real intake and devbroker: submit from a JSON-lines file and generated,
// tail decoding to JSON.
#include <fstream>

#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"
#include "tools/dossierctl/submit.h"
#include "tools/dossierctl/tail.h"

namespace dossiersync {
namespace {

TEST(DossierctlTest, SubmitFileThenTailDecodesEveryMessage) {
  testing::TempDir dir;
  auto broker = testing::StartBroker();
  auto app = testing::StartIntake(testing::IntakeTestConfig(broker->bootstrap(), dir.path()));
  std::string file = dir.File("changes.jsonl");
  {
    std::ofstream out(file);
    for (int i = 1; i <= 5; ++i) {
      for (int s : {1, 2}) {
        std::string json;
        ASSERT_TRUE(
            google::protobuf::util::MessageToJsonString(testing::ValidRequest(i, s, 100 * s), &json)
                .ok());
        out << json << "\n";
      }
    }
    out << "\n";  // blank lines are skipped
  }
  tools::SubmitOptions o;
  o.intake_addr = "127.0.0.1:" + std::to_string(app->grpc_port());
  o.file = file;
  o.progress = false;
  auto rep = tools::RunSubmit(o);
  ASSERT_TRUE(rep.ok()) << rep.status();
  EXPECT_EQ(rep->dossiers, 5);
  EXPECT_EQ(rep->accepted, 10);
  EXPECT_EQ(rep->failed, 0);

  tools::TailOptions t;
  t.brokers = broker->bootstrap();
  t.topic = kTopicDossierChanges;
  t.max_messages = 10;
  std::vector<nlohmann::json> lines;
  auto n = tools::RunTail(t, [&](const nlohmann::json& j) { lines.push_back(j); });
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(lines.size(), 10u);
  for (const auto& j : lines) {
    EXPECT_EQ(j["value"]["dossier"]["code"], j["key"]);
    EXPECT_EQ(j["headers"]["schema"], "dossiersync.v1.DossierChange");
    EXPECT_FALSE(j.contains("error"));
  }
}

TEST(DossierctlTest, SubmitReportsBadLinesClearly) {
  testing::TempDir dir;
  std::string file = dir.File("bad.jsonl");
  std::ofstream(file) << "{\"dossier\": {\"code\": 12}}\n";
  tools::SubmitOptions o;
  o.file = file;
  auto rep = tools::RunSubmit(o);
  EXPECT_EQ(rep.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(rep.status().message().find("bad.jsonl:1"), absl::string_view::npos);
}

TEST(DossierctlTest, GeneratedWorkloadIsAcceptedInFullOverStreamsAndUnary) {
  testing::TempDir dir;
  auto broker = testing::StartBroker();
  auto app = testing::StartIntake(testing::IntakeTestConfig(broker->bootstrap(), dir.path()));
  tools::SubmitOptions o;
  o.intake_addr = "127.0.0.1:" + std::to_string(app->grpc_port());
  o.generate = 300;
  o.progress = false;
  auto rep = tools::RunSubmit(o);
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(rep->dossiers, 300);
  EXPECT_EQ(rep->failed, 0);
  EXPECT_EQ(rep->accepted, rep->changes);
  o.unary = true;
  o.concurrency = 16;
  o.first_index = 1000;
  rep = tools::RunSubmit(o);
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(rep->failed, 0);
  EXPECT_EQ(rep->accepted, rep->changes);
}

TEST(DossierctlTest, TailReportsUndecodableValues) {
  InMessage m;
  m.topic = kTopicDossierChanges;
  m.value = "\xff\xff";
  auto j = tools::DecodeMessage(m);
  EXPECT_TRUE(j.contains("error"));
  m.headers["schema"] = "no.such.Type";
  EXPECT_EQ(tools::DecodeMessage(m)["error"], "unknown schema 'no.such.Type'");
}

}  // namespace
}  // namespace dossiersync
