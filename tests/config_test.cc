// Services fail fast on bad configuration with a clear message; every flag also reads
// DOSSIERSYNC_<FLAG> from the environment; SIGTERM stops gracefully.
#include <signal.h>
#include <stdlib.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/grpc_client.h"
#include "common/log.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace dossiersync {
namespace {

std::string Slurp(const std::string& path) {
  std::stringstream ss;
  ss << std::ifstream(path).rdbuf();
  return ss.str();
}

TEST(ConfigTest, IntakeWithoutTlsOrAllowInsecureFailsFast) {
  testing::TempDir dir;
  testing::Process p({testing::BinaryPath("dossier-intake"), "--kafka_brokers=127.0.0.1:1"},
                     dir.File("log"));
  EXPECT_EQ(p.Wait(), 2);
  EXPECT_NE(Slurp(dir.File("log")).find("--allow_insecure"), std::string::npos);
}

TEST(ConfigTest, SyncWithoutDvcqgConfigurationFailsFast) {
  testing::TempDir dir;
  testing::Process p(
      {testing::BinaryPath("dossier-sync"), "--allow_insecure", "--kafka_brokers=127.0.0.1:1"},
      dir.File("log"));
  EXPECT_EQ(p.Wait(), 2);
  EXPECT_NE(Slurp(dir.File("log")).find("--dvcqg_url"), std::string::npos);
  std::ofstream(dir.File("creds")) << "username=u\npassword=p\n";
  testing::Process q({testing::BinaryPath("dossier-sync"), "--allow_insecure",
                      "--kafka_brokers=127.0.0.1:1", "--dvcqg_url=http://127.0.0.1:1",
                      "--dvcqg_credentials_file=" + dir.File("creds"), "--status_map=5:11"},
                     dir.File("log2"));
  EXPECT_EQ(q.Wait(), 2);
  EXPECT_NE(Slurp(dir.File("log2")).find("--status_map"), std::string::npos);
  EXPECT_EQ(Slurp(dir.File("log2")).find("password=p"), std::string::npos);
}

TEST(ConfigTest, EnvironmentFallbackIsReadAndValidated) {
  testing::TempDir dir;
  setenv("DOSSIERSYNC_PROVINCE_CODE", "37", 1);
  testing::Process p(
      {testing::BinaryPath("dossier-intake"), "--allow_insecure", "--kafka_brokers=127.0.0.1:1"},
      dir.File("log"));
  unsetenv("DOSSIERSYNC_PROVINCE_CODE");
  EXPECT_EQ(p.Wait(), 2);
  EXPECT_NE(Slurp(dir.File("log")).find("--province_code: expected Hnn"), std::string::npos);
}

TEST(ConfigTest, UnparsableEnvironmentValueNamesTheVariable) {
  testing::TempDir dir;
  setenv("DOSSIERSYNC_SHUTDOWN_GRACE", "soon", 1);
  testing::Process p({testing::BinaryPath("dossier-intake"), "--allow_insecure"}, dir.File("log"));
  unsetenv("DOSSIERSYNC_SHUTDOWN_GRACE");
  EXPECT_EQ(p.Wait(), 2);
  EXPECT_NE(Slurp(dir.File("log")).find("DOSSIERSYNC_SHUTDOWN_GRACE"), std::string::npos);
}

TEST(ConfigTest, CommandLineWinsOverEnvironmentAndSigtermStopsGracefully) {
  testing::TempDir dir;
  auto broker = testing::StartBroker();
  int port = testing::FreePort();
  setenv("DOSSIERSYNC_LISTEN", "127.0.0.1:1", 1);  // overridden below
  setenv("DOSSIERSYNC_KAFKA_BROKERS", broker->bootstrap().c_str(), 1);
  setenv("DOSSIERSYNC_DATABASE", ("sqlite:" + dir.File("i.db")).c_str(), 1);
  testing::Process p({testing::BinaryPath("dossier-intake"), "--allow_insecure",
                      absl::StrCat("--listen=127.0.0.1:", port),
                      absl::StrCat("--metrics_listen=127.0.0.1:", testing::FreePort())},
                     dir.File("log"));
  unsetenv("DOSSIERSYNC_LISTEN");
  unsetenv("DOSSIERSYNC_KAFKA_BROKERS");
  unsetenv("DOSSIERSYNC_DATABASE");
  ASSERT_TRUE(testing::WaitFor(
      [&] { return Slurp(dir.File("log")).find("\"msg\":\"serving\"") != std::string::npos; }));
  auto stub = testing::IntakeStub(port);
  auto ctx = MakeContext({}, absl::Seconds(10));
  dossiersync::v1::SubmitChangeResponse resp;
  ASSERT_TRUE(stub->SubmitChange(ctx.get(), testing::ValidRequest(1, 1, 1), &resp).ok());
  p.Kill(SIGTERM);
  EXPECT_EQ(p.Wait(), 0);
  std::string log = Slurp(dir.File("log"));
  EXPECT_NE(log.find("\"msg\":\"stopped\""), std::string::npos);
  EXPECT_NE(log.find(dir.File("i.db")), std::string::npos) << "resolved configuration logged";
  EXPECT_EQ(testing::CollectTopic(broker->bootstrap(), kTopicDossierChanges, 1).size(), 1u);
}

// Every binary started with a secret in every secret-bearing flag and URI: nothing it prints
// (configuration line, start errors) carries one. Regression: sync, reconciliation and the
// simulator logged --database with the PostgreSQL password in clear.
TEST(ConfigTest, NoBinaryPrintsASecret) {
  testing::TempDir dir;
  std::ofstream(dir.File("creds")) << "username=langson\npassword=SECRET-creds\n";
  std::ofstream(dir.File("pw")) << "SECRET-simpw\n";
  // Port 1: nothing listens, so each service logs its configuration and fails to start.
  const std::string db =
      "--database=postgresql://dbuser:SECRET-uri@127.0.0.1:1/db?sslmode=disable"
      "&password=SECRET-query";
  const std::string url = "--dvcqg_url=http://adapter:SECRET-url@127.0.0.1:1";
  const std::string creds = "--dvcqg_credentials_file=" + dir.File("creds");
  const std::vector<std::vector<std::string>> runs = {
      {"dossier-intake", "--allow_insecure", "--kafka_brokers=127.0.0.1:1", db,
       "--kafka_config=sasl.password=SECRET-kafka,ssl.key.password=SECRET-sslkey"},
      {"dossier-sync", "--allow_insecure", "--kafka_brokers=127.0.0.1:1", db, url, creds},
      {"dossier-reconciliation", "--allow_insecure", "--kafka_brokers=127.0.0.1:1", db, url, creds},
      {"dvcqg-sim", "--listen=127.0.0.1:0", db, "--password_file=" + dir.File("pw")},
  };
  for (const auto& run : runs) {
    std::vector<std::string> args = run;
    args[0] = testing::BinaryPath(run[0]);
    const std::string log = dir.File(run[0] + ".log");
    setenv("DOSSIERSYNC_DVCQG_PASSWORD", "SECRET-env", 1);
    testing::Process p(args, log);
    unsetenv("DOSSIERSYNC_DVCQG_PASSWORD");
    EXPECT_NE(p.Wait(), 0) << run[0];
    const std::string out = Slurp(log);
    EXPECT_NE(out.find("\"msg\":\"configuration\""), std::string::npos) << run[0] << ": " << out;
    EXPECT_NE(out.find("dbuser:***@127.0.0.1:1"), std::string::npos) << run[0] << ": " << out;
    EXPECT_EQ(out.find("SECRET"), std::string::npos) << run[0] << " printed a secret: " << out;
  }
}

// Malformed database URIs and missing secret files are refused naming the flag.
TEST(ConfigTest, UnknownDatabaseSchemeAndMissingSecretFilesNameTheFlag) {
  testing::TempDir dir;
  testing::Process p({testing::BinaryPath("dossier-intake"), "--allow_insecure",
                      "--kafka_brokers=127.0.0.1:1", "--database=mysql://x"},
                     dir.File("db.log"));
  EXPECT_NE(p.Wait(), 0);
  std::string out = Slurp(dir.File("db.log"));
  EXPECT_NE(out.find(R"(--database: unknown scheme \"mysql\")"), std::string::npos) << out;
  EXPECT_NE(out.find("postgresql://"), std::string::npos) << out;
  EXPECT_FALSE(std::ifstream("x").good()) << "no SQLite file named after the URI";
  testing::Process q(
      {testing::BinaryPath("dossier-sync"), "--allow_insecure", "--kafka_brokers=127.0.0.1:1",
       "--dvcqg_url=http://127.0.0.1:1", "--dvcqg_credentials_file=" + dir.File("nope")},
      dir.File("creds.log"));
  EXPECT_EQ(q.Wait(), 2);
  out = Slurp(dir.File("creds.log"));
  EXPECT_NE(out.find("--dvcqg_credentials_file: cannot read secret file " + dir.File("nope")),
            std::string::npos)
      << out;
}

// Every line is a JSON object: gRPC's own messages (a TLS handshake that failed) and protobuf's
// (invalid UTF-8 in a string field) go through the JSON logger. Regression: both reached stderr
// as text ("E1201 ... ssl_transport_security.cc ... Handshake failed", "[libprotobuf ERROR ...]").
TEST(ConfigTest, LibraryMessagesAreJsonLines) {
  testing::TempDir dir;
  ASSERT_EQ(system(absl::StrCat("cd ", dir.path(),
                                " && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "
                                "/CN=localhost -keyout k.pem -out c.pem >/dev/null 2>&1 && printf "
                                "'p portal tok-portal-0123456789\\n' > tokens")
                       .c_str()),
            0);
  auto broker = testing::StartBroker();
  auto start = [&](const std::string& name, std::vector<std::string> extra) {
    int port = testing::FreePort();
    std::vector<std::string> args = {
        testing::BinaryPath("dossier-intake"), absl::StrCat("--listen=127.0.0.1:", port),
        "--metrics_listen=127.0.0.1:0", "--kafka_brokers=" + broker->bootstrap(),
        "--database=sqlite:" + dir.File(name + ".db")};
    args.insert(args.end(), extra.begin(), extra.end());
    auto p = std::make_unique<testing::Process>(args, dir.File(name + ".log"));
    EXPECT_TRUE(testing::WaitFor([&] {
      return Slurp(dir.File(name + ".log")).find("\"msg\":\"serving\"") != std::string::npos;
    }));
    return std::make_pair(std::move(p), port);
  };
  auto [tls, tls_port] =
      start("tls", {"--tls_cert_file=" + dir.File("c.pem"), "--tls_key_file=" + dir.File("k.pem"),
                    "--auth_tokens_file=" + dir.File("tokens")});
  auto [plain, plain_port] = start("plain", {"--allow_insecure"});
  // Plaintext to the TLS port: the server's handshake fails.
  auto stub = testing::IntakeStub(tls_port);
  dossiersync::v1::SubmitChangeResponse resp;
  EXPECT_EQ(stub->SubmitChange(MakeContext({}, absl::Seconds(5)).get(),
                               testing::ValidRequest(1, 1, 1), &resp)
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);
  // A string field with invalid UTF-8: protobuf refuses it while parsing.
  auto bad = testing::ValidRequest(1, 1, 1);
  bad.mutable_dossier()->set_summary(std::string("\xC3\x28", 2));
  auto plain_stub = testing::IntakeStub(plain_port);
  EXPECT_EQ(
      plain_stub->SubmitChange(MakeContext({}, absl::Seconds(5)).get(), bad, &resp).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
  auto has = [&](const std::string& name, const std::string& what) {
    return Slurp(dir.File(name + ".log")).find(what) != std::string::npos;
  };
  EXPECT_TRUE(testing::WaitFor([&] { return has("tls", "\"source\":\"grpc\""); }))
      << Slurp(dir.File("tls.log"));
  EXPECT_TRUE(testing::WaitFor([&] { return has("plain", "\"source\":\"protobuf\""); }))
      << Slurp(dir.File("plain.log"));
  tls->Kill(SIGTERM);
  plain->Kill(SIGTERM);
  EXPECT_EQ(tls->Wait(), 0);
  EXPECT_EQ(plain->Wait(), 0);
  for (const char* name : {"tls", "plain"}) {
    std::istringstream lines(Slurp(dir.File(std::string(name) + ".log")));
    std::string line;
    int n = 0;
    while (std::getline(lines, line)) {
      ++n;
      auto j = nlohmann::json::parse(line, nullptr, false);
      EXPECT_TRUE(j.is_object()) << name << ": not JSON: " << line;
    }
    EXPECT_GT(n, 3) << name;
  }
}

// A rejected SubmitChange is logged under the caller's trace (its trace id, this request's
// span). Regression: the rejection was logged without any trace id. Over-long fields are bounded.
TEST(ConfigTest, RejectionsAreLoggedWithTheCallersTraceAndBoundedFields) {
  testing::TempDir dir;
  auto broker = testing::StartBroker();
  int port = testing::FreePort();
  testing::Process p(
      {testing::BinaryPath("dossier-intake"), "--allow_insecure",
       absl::StrCat("--listen=127.0.0.1:", port), "--metrics_listen=127.0.0.1:0",
       "--kafka_brokers=" + broker->bootstrap(), "--database=sqlite:" + dir.File("i.db")},
      dir.File("log"));
  ASSERT_TRUE(testing::WaitFor(
      [&] { return Slurp(dir.File("log")).find("\"msg\":\"serving\"") != std::string::npos; }));
  const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  ctx.AddMetadata("traceparent", "00-" + trace + "-00f067aa0ba902b7-01");
  auto bad = testing::ValidRequest(1, 1, 1);
  bad.mutable_dossier()->set_procedure_code("bad");
  bad.mutable_dossier()->set_summary(std::string(100000, 'x'));
  dossiersync::v1::SubmitChangeResponse resp;
  EXPECT_EQ(testing::IntakeStub(port)->SubmitChange(&ctx, bad, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  std::string line;
  ASSERT_TRUE(testing::WaitFor([&] {
    std::istringstream lines(Slurp(dir.File("log")));
    while (std::getline(lines, line)) {
      if (line.find("\"change rejected\"") != std::string::npos) return true;
    }
    return false;
  }));
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["trace_id"], trace) << line;
  EXPECT_EQ(j["span_id"].get<std::string>().size(), 16u) << line;
  EXPECT_NE(j["span_id"], "00f067aa0ba902b7") << "the request's own span, a child of the caller's";
  EXPECT_EQ(j["fields"], nlohmann::json::array({"dossier.procedure_code", "dossier.summary"}));
  EXPECT_LE(line.size(), 2 * kMaxLoggedFieldBytes) << "bounded";
  p.Kill(SIGTERM);
  EXPECT_EQ(p.Wait(), 0);
}

}  // namespace
}  // namespace dossiersync
