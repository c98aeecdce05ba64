// Security over real sockets: TLS and mTLS from certificate files (made here with openssl),
// bearer tokens per caller and per agency, operator-only RPCs, and logs without personal data or
// secrets.
#include <httplib.h>
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/grpc_client.h"
#include "dossiersync/v1/intake.grpc.pb.h"
#include "dossiersync/v1/reconciliation.grpc.pb.h"
#include "dossiersync/v1/sync.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace dossiersync {
namespace {

using dossiersync::v1::SubmitChangeResponse;

std::string Slurp(const std::string& path) {
  std::stringstream ss;
  ss << std::ifstream(path).rdbuf();
  return ss.str();
}

class SecurityTest : public ::testing::Test {
 protected:
  // A CA, a server certificate for 127.0.0.1/localhost, a client certificate from the CA and one
  // from an unrelated CA.
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    const std::string d = dir_->path();
    std::string script = absl::StrCat(
        "set -e; cd ", d,
        "; openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout ca.key "
        "-out ca.crt"
        "; openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=rogue-ca -keyout rogue.key "
        "-out rogue.crt"
        "; printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext"
        "; openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out "
        "server.csr"
        "; openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
        "-extfile san.ext -out server.crt"
        "; openssl req -newkey rsa:2048 -nodes -subj /CN=portal -keyout client.key -out client.csr"
        "; openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out "
        "client.crt"
        "; openssl req -newkey rsa:2048 -nodes -subj /CN=intruder -keyout intruder.key -out "
        "intruder.csr"
        "; openssl x509 -req -in intruder.csr -CA rogue.crt -CAkey rogue.key -CAcreateserial -days "
        "2 -out intruder.crt"
        "; printf 'portal-tp portal tok-tuphap-0123456789 000.00.13.H37\\n"
        "ops operator tok-operator-0123456789\\n' > tokens"
        " ) >/dev/null 2>&1");
    ASSERT_EQ(system(("( " + script).c_str()), 0) << "openssl failed";
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string File(const std::string& f) { return dir_->File(f); }

  void StartIntake(bool mtls) {
    broker_ = testing::StartBroker();
    auto c = testing::IntakeTestConfig(broker_->bootstrap(), work_.path());
    c.server.allow_insecure = false;
    c.server.tls_cert_file = File("server.crt");
    c.server.tls_key_file = File("server.key");
    if (mtls) c.server.tls_client_ca_file = File("ca.crt");
    c.server.auth_tokens_file = File("tokens");
    intake_ = testing::StartIntake(c);
  }
  grpc::Status Submit(const ClientOptions& o, int seq = 1, const std::string& agency = "") {
    auto ch = MakeChannel(absl::StrCat("127.0.0.1:", intake_->grpc_port()), o);
    EXPECT_TRUE(ch.ok());
    auto stub = dossiersync::v1::IntakeService::NewStub(*ch);
    auto r = testing::ValidRequest(seq, 1, 100);
    if (!agency.empty()) testing::SetAgency(&r, agency);
    SubmitChangeResponse resp;
    return stub->SubmitChange(MakeContext(o, absl::Seconds(5)).get(), r, &resp);
  }
  ClientOptions Tls(const std::string& token = "tok-tuphap-0123456789") {
    ClientOptions o;
    o.tls_ca_file = File("ca.crt");
    o.token = token;
    return o;
  }

  static testing::TempDir* dir_;
  testing::TempDir work_;
  std::unique_ptr<devbroker::DevBroker> broker_;
  std::unique_ptr<intake::App> intake_;
};
testing::TempDir* SecurityTest::dir_ = nullptr;

TEST_F(SecurityTest, TlsWithTokensGivesEachCallerTheRightCode) {
  StartIntake(/*mtls=*/false);
  EXPECT_TRUE(Submit(Tls()).ok());
  EXPECT_EQ(Submit(Tls("")).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Submit(Tls("tok-wrong-0123456789")).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status other = Submit(Tls(), 2, "000.22.37.H37");
  EXPECT_EQ(other.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(ReasonOf(DetailsOf(other)), "AGENCY_NOT_ALLOWED");
  // Plaintext to the TLS port: the handshake fails, nothing is served.
  ClientOptions plain;
  plain.token = "tok-tuphap-0123456789";
  EXPECT_EQ(Submit(plain, 3).error_code(), grpc::StatusCode::UNAVAILABLE);
  // A client that does not trust the server's CA refuses it.
  ClientOptions wrong_ca = Tls();
  wrong_ca.tls_ca_file = File("rogue.crt");
  EXPECT_EQ(Submit(wrong_ca, 4).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(SecurityTest, MutualTlsRefusesUntrustedAndMissingClientCertificates) {
  StartIntake(/*mtls=*/true);
  ClientOptions good = Tls();
  good.tls_cert_file = File("client.crt");
  good.tls_key_file = File("client.key");
  EXPECT_TRUE(Submit(good).ok());
  ClientOptions intruder = Tls();
  intruder.tls_cert_file = File("intruder.crt");
  intruder.tls_key_file = File("intruder.key");
  EXPECT_EQ(Submit(intruder, 2).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Submit(Tls(), 3).error_code(), grpc::StatusCode::UNAVAILABLE) << "no certificate";
  // A valid certificate is not enough without a token.
  good.token = "";
  EXPECT_EQ(Submit(good, 4).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

// IntakeService.Republish is an operator's: a portal token is refused, a request without `since`
// is INVALID_ARGUMENT, and `dossierctl republish` with the operator token publishes again what
// intake retains.
TEST_F(SecurityTest, RepublishIsForOperatorsAndDossierctlRunsIt) {
  StartIntake(/*mtls=*/false);
  ASSERT_TRUE(Submit(Tls()).ok());
  ASSERT_TRUE(Submit(Tls(), 2).ok());
  ASSERT_TRUE(testing::WaitFor([&] { return intake_->relay()->published() == 2; }));
  auto republish = [&](const std::string& token, bool with_since) {
    auto stub = dossiersync::v1::IntakeService::NewStub(
        *MakeChannel(absl::StrCat("127.0.0.1:", intake_->grpc_port()), Tls(token)));
    dossiersync::v1::RepublishRequest req;
    if (with_since) req.mutable_since()->set_seconds(absl::ToUnixSeconds(absl::Now()) - 3600);
    dossiersync::v1::RepublishResponse resp;
    return stub->Republish(MakeContext(Tls(token), absl::Seconds(5)).get(), req, &resp);
  };
  grpc::Status portal = republish("tok-tuphap-0123456789", true);
  EXPECT_EQ(portal.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(ReasonOf(DetailsOf(portal)), "OPERATOR_ONLY");
  grpc::Status no_since = republish("tok-operator-0123456789", false);
  EXPECT_EQ(no_since.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(no_since.error_message().find("since"), std::string::npos) << no_since.error_message();
  EXPECT_EQ(intake_->relay()->published(), 2);  // nothing was republished
  std::ofstream(work_.File("op-token")) << "tok-operator-0123456789\n";
  testing::Process ctl(
      {testing::BinaryPath("dossierctl"), "republish", "--since=1h",
       absl::StrCat("--intake_addr=127.0.0.1:", intake_->grpc_port()),
       "--tls_ca_file=" + File("ca.crt"), "--token_file=" + work_.File("op-token")},
      work_.File("republish.out"));
  ASSERT_EQ(ctl.Wait(), 0);
  std::ifstream in(work_.File("republish.out"));
  std::stringstream out;
  out << in.rdbuf();
  EXPECT_NE(out.str().find("\"republished\":2"), std::string::npos) << out.str();
  ASSERT_TRUE(testing::WaitFor([&] { return intake_->relay()->published() == 4; }));
  testing::Process bad({testing::BinaryPath("dossierctl"), "republish", "--since=yesterday"},
                       work_.File("republish-bad.out"));
  EXPECT_EQ(bad.Wait(), 2);
}

// Operator RPCs (SyncService.Pause) refuse a portal token; the operator token passes. The sync's
// log holds neither the DVCQG password nor the applicant's personal data.
TEST_F(SecurityTest, OperatorRpcsAndLogsWithoutSecretsOrPersonalData) {
  testing::TempDir work;
  auto broker = testing::StartBroker();
  auto sim = testing::StartSim(work.path());
  const std::string password = "langson-dev-password";  // the simulator's
  std::ofstream(work.File("creds")) << "username=langson\npassword=" << password << "\n";
  int port = testing::FreePort();
  testing::Process sync(
      {testing::BinaryPath("dossier-sync"), absl::StrCat("--listen=127.0.0.1:", port),
       "--metrics_listen=127.0.0.1:0", "--tls_cert_file=" + File("server.crt"),
       "--tls_key_file=" + File("server.key"), "--auth_tokens_file=" + File("tokens"),
       "--kafka_brokers=" + broker->bootstrap(), "--database=sqlite:" + work.File("sync.db"),
       "--dvcqg_url=" + sim->url(), "--dvcqg_credentials_file=" + work.File("creds"),
       "--log_level=debug"},
      work.File("sync.log"));
  // Intake (plaintext here) feeds it one dossier full of personal data.
  auto ic = testing::IntakeTestConfig(broker->bootstrap(), work.path());
  auto intake = testing::StartIntake(ic);
  auto stub = testing::IntakeStub(intake->grpc_port());
  auto r = testing::ValidRequest(7, 1, 100);
  r.mutable_dossier()->mutable_applicant()->set_name("Hoàng Thị Mai Phương");
  r.mutable_dossier()->mutable_applicant()->set_id_number("020199001234");
  r.mutable_dossier()->mutable_applicant()->set_phone("0912345678");
  r.mutable_dossier()->mutable_applicant()->set_email("mai.phuong@example.vn");
  SubmitChangeResponse resp;
  ASSERT_TRUE(stub->SubmitChange(MakeContext({}, absl::Seconds(5)).get(), r, &resp).ok());
  // Operator RPCs.
  auto call_pause = [&](const std::string& token) {
    ClientOptions o = Tls(token);
    auto ch = MakeChannel(absl::StrCat("127.0.0.1:", port), o);
    auto s = dossiersync::v1::SyncService::NewStub(*ch);
    dossiersync::v1::PauseResponse pr;
    return s->Pause(MakeContext(o, absl::Seconds(5)).get(), {}, &pr);
  };
  ASSERT_TRUE(testing::WaitFor(
      [&] { return call_pause("tok-operator-0123456789").error_code() != grpc::UNAVAILABLE; }));
  grpc::Status portal = call_pause("tok-tuphap-0123456789");
  EXPECT_EQ(portal.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(call_pause("tok-operator-0123456789").ok());
  // Wait until the dossier reached DVCQG before resuming? Paused: resume, then wait.
  {
    ClientOptions o = Tls("tok-operator-0123456789");
    auto s =
        dossiersync::v1::SyncService::NewStub(*MakeChannel(absl::StrCat("127.0.0.1:", port), o));
    dossiersync::v1::ResumeResponse rr;
    ASSERT_TRUE(s->Resume(MakeContext(o, absl::Seconds(5)).get(), {}, &rr).ok());
  }
  httplib::Client admin("127.0.0.1", sim->port());
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto got = admin.Get(("/admin/dossiers/" + r.dossier().code()).c_str());
        return got && got->status == 200;
      },
      absl::Seconds(120)));
  sync.Kill(SIGTERM);
  sync.Wait();
  std::string log = Slurp(work.File("sync.log"));
  ASSERT_NE(log.find("\"msg\":\"stopped\""), std::string::npos) << "the log was captured";
  for (const std::string& secret :
       {password, std::string("Hoàng Thị Mai Phương"), std::string("020199001234"),
        std::string("0912345678"), std::string("mai.phuong@example.vn"),
        std::string("tok-operator-0123456789"), std::string("tok-tuphap-0123456789")}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << "the sync's log contains " << secret;
  }
}

// The reconciliation reads the provincial truth from an intake that demands client certificates:
// with --intake_cert_file/--intake_key_file its run finishes; without them it fails.
// Regression: it had no way to present a certificate ("UNAVAILABLE ... Socket closed").
TEST_F(SecurityTest, ReconciliationRunsAgainstAMutualTlsIntake) {
  StartIntake(/*mtls=*/true);
  ClientOptions portal = Tls();
  portal.tls_cert_file = File("client.crt");
  portal.tls_key_file = File("client.key");
  ASSERT_TRUE(Submit(portal).ok());
  auto sim = testing::StartSim(work_.path());
  std::ofstream(work_.File("creds")) << "username=langson\npassword=langson-dev-password\n";
  std::ofstream(work_.File("intake-token")) << "tok-operator-0123456789\n";
  auto run = [&](const std::string& name, std::vector<std::string> extra) {
    int port = testing::FreePort();
    std::vector<std::string> args = {testing::BinaryPath("dossier-reconciliation"),
                                     "--allow_insecure",
                                     absl::StrCat("--listen=127.0.0.1:", port),
                                     "--metrics_listen=127.0.0.1:0",
                                     "--kafka_brokers=" + broker_->bootstrap(),
                                     "--database=sqlite:" + work_.File(name + ".db"),
                                     absl::StrCat("--intake_addr=127.0.0.1:", intake_->grpc_port()),
                                     "--intake_ca_file=" + File("ca.crt"),
                                     "--intake_token_file=" + work_.File("intake-token"),
                                     "--dvcqg_url=" + sim->url(),
                                     "--dvcqg_credentials_file=" + work_.File("creds")};
    args.insert(args.end(), extra.begin(), extra.end());
    testing::Process p(args, work_.File(name + ".log"));
    auto stub = dossiersync::v1::ReconciliationService::NewStub(
        *MakeChannel(absl::StrCat("127.0.0.1:", port), {}));
    dossiersync::v1::StartRunResponse started;
    EXPECT_TRUE(testing::WaitFor([&] {
      return stub->StartRun(MakeContext({}, absl::Seconds(2)).get(), {}, &started).ok();
    }));
    dossiersync::v1::ReconciliationRun r;
    EXPECT_TRUE(testing::WaitFor([&] {
      dossiersync::v1::GetRunRequest g;
      g.set_run_id(started.run_id());
      return stub->GetRun(MakeContext({}, absl::Seconds(2)).get(), g, &r).ok() &&
             r.state() != "RUNNING";
    }));
    p.Kill(SIGTERM);
    p.Wait();
    return r;
  };
  auto with = run("with-cert",
                  {"--intake_cert_file=" + File("client.crt"),
                   "--intake_key_file=" + File("client.key"), "--intake_server_name=localhost"});
  EXPECT_EQ(with.state(), "FINISHED") << Slurp(work_.File("with-cert.log"));
  EXPECT_EQ(with.dossiers_checked(), 1);
  auto without = run("without-cert", {});
  EXPECT_NE(without.state(), "FINISHED") << "intake refuses a client without a certificate";
  // A certificate without its key is refused at start, naming both flags.
  testing::Process bad(
      {testing::BinaryPath("dossier-reconciliation"), "--allow_insecure",
       "--kafka_brokers=127.0.0.1:1", "--intake_cert_file=" + File("client.crt"),
       "--dvcqg_url=http://127.0.0.1:1", "--dvcqg_credentials_file=" + work_.File("creds")},
      work_.File("bad.log"));
  EXPECT_EQ(bad.Wait(), 2);
  EXPECT_NE(Slurp(work_.File("bad.log")).find("--intake_cert_file and --intake_key_file"),
            std::string::npos)
      << Slurp(work_.File("bad.log"));
}

}  // namespace
}  // namespace dossiersync
