#include "tests/test_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "common/grpc_client.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/generic/generic_stub.h"
#include "tests/postgres_server.h"

namespace dossiersync::testing {

using dossiersync::v1::SubmitChangeRequest;
using google::protobuf::util::TimeUtil;

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "dossiersync-test-XXXXXX").string();
  char* p = mkdtemp(tmpl.data());
  path_ = p ? p : "/tmp";
}

TempDir::~TempDir() {
  if (getenv("DS_KEEP_TEST_DIRS") != nullptr) {  // for debugging a failure: logs stay
    fprintf(stderr, "kept test directory %s\n", path_.c_str());
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::unique_ptr<devbroker::DevBroker> StartBroker(int brokers, int partitions) {
  devbroker::DevBrokerOptions o;
  o.brokers = brokers;
  o.partitions = partitions;
  auto b = devbroker::DevBroker::Start(o);
  if (!b.ok()) std::abort();
  return std::move(*b);
}

intake::IntakeConfig IntakeTestConfig(const std::string& brokers, const std::string& dir) {
  intake::IntakeConfig c;
  c.server.listen = "127.0.0.1:0";
  c.server.allow_insecure = true;
  c.metrics_listen = "127.0.0.1:0";
  c.kafka_brokers = brokers;
  c.database = TestDatabaseUri(dir, "intake.db");
  c.sqlite_synchronous = "NORMAL";
  c.shutdown_grace = absl::Seconds(5);
  return c;
}

std::unique_ptr<intake::App> StartIntake(const intake::IntakeConfig& config) {
  auto app = intake::App::Start(config);
  if (!app.ok()) {
    fprintf(stderr, "intake start failed: %s\n", std::string(app.status().message()).c_str());
    std::abort();
  }
  return std::move(*app);
}

std::unique_ptr<dossiersync::v1::IntakeService::Stub> IntakeStub(int port) {
  auto ch = MakeChannel(absl::StrCat("127.0.0.1:", port), ClientOptions{});
  return dossiersync::v1::IntakeService::NewStub(*ch);
}

std::unique_ptr<sim::Simulator> StartSim(const std::string& dir) {
  sim::SimConfig sc;
  sc.listen = "127.0.0.1:0";
  sc.database = "sqlite:" + dir + "/sim.db";
  auto s = sim::Simulator::Start(sc);
  if (!s.ok()) {
    fprintf(stderr, "simulator start failed: %s\n", std::string(s.status().message()).c_str());
    std::abort();
  }
  return std::move(*s);
}

dvcqg::ClientConfig SimClientConfig(const sim::Simulator& sim) {
  dvcqg::ClientConfig c;
  c.base_url = sim.url();
  c.credentials = {"langson", "langson-dev-password"};
  return c;
}

reconciliation::ReconciliationConfig ReconTestConfig(const std::string& brokers,
                                                     const std::string& database, int intake_port,
                                                     const dvcqg::ClientConfig& dvcqg) {
  reconciliation::ReconciliationConfig rc;
  rc.server.listen = "127.0.0.1:0";
  rc.server.allow_insecure = true;
  rc.metrics_listen = "127.0.0.1:0";
  rc.kafka_brokers = brokers;
  rc.database = database;
  rc.intake_addr = absl::StrCat("127.0.0.1:", intake_port);
  rc.dvcqg = dvcqg;
  // No scheduled runs: a test starts the runs it checks (one that tests schedules sets them).
  rc.incremental_every = absl::ZeroDuration();
  rc.full_sweep_at = "";
  return rc;
}

sync::SyncConfig SyncTestConfig(const std::string& brokers, const std::string& dir,
                                const sim::Simulator& sim, const std::string& db) {
  sync::SyncConfig c;
  c.server.listen = "127.0.0.1:0";
  c.server.allow_insecure = true;
  c.metrics_listen = "127.0.0.1:0";
  c.kafka_brokers = brokers;
  c.database = TestDatabaseUri(dir, db);
  c.dvcqg = SimClientConfig(sim);
  c.dvcqg.read_timeout = absl::Seconds(1);
  c.engine.backoff_base = absl::Milliseconds(50);
  c.engine.backoff_cap = absl::Seconds(1);
  c.engine.breaker_cooldown = absl::Milliseconds(500);
  c.consumer.config["topic.metadata.refresh.interval.ms"] = "1000";
  c.consumer.config["session.timeout.ms"] = "3000";
  c.consumer.config["heartbeat.interval.ms"] = "500";
  return c;
}

SubmitChangeRequest ValidRequest(int seq, int status, int64_t revision) {
  SubmitChangeRequest r;
  auto* d = r.mutable_dossier();
  d->set_code(absl::StrFormat("000.00.13.H37-240705-%04d", seq));
  d->set_procedure_code("1.001193");
  d->set_procedure_name("Đăng ký khai sinh");
  d->set_field_code("HT");
  d->set_field_name("Hộ tịch");
  d->set_agency_code("000.00.13.H37");
  d->set_agency_name("Sở Tư pháp tỉnh Lạng Sơn");
  d->mutable_applicant()->set_name("Hoàng Văn An");
  d->mutable_applicant()->set_kind(dossiersync::v1::APPLICANT_KIND_CITIZEN);
  d->mutable_applicant()->set_id_kind(dossiersync::v1::ID_KIND_CCCD);
  d->mutable_applicant()->set_id_number("020123456789");
  d->set_summary("Đăng ký khai sinh cho con");
  d->set_channel(dossiersync::v1::CHANNEL_ONLINE);
  d->set_status(static_cast<dossiersync::v1::DossierStatus>(status));
  d->set_revision(revision);
  // Fixed times (the day in the code, 08:00 in Hanoi) keep equal requests byte-identical.
  absl::Time base =
      absl::FromCivil(absl::CivilSecond(2024, 7, 5, 8, 0, 0), absl::FixedTimeZone(7 * 3600));
  auto ts = [](absl::Time t) { return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t)); };
  *d->mutable_submitted_at() = ts(base);
  bool accepted = status == 2 || status == 4 || status == 5 || status == 6 || status == 8 ||
                  status == 9 || status == 10;
  if (accepted) {
    *d->mutable_received_at() = ts(base + absl::Hours(1));
    *d->mutable_due_at() = ts(base + absl::Hours(24 * 15));
  }
  if (status == 9 || status == 10) *d->mutable_finished_at() = ts(base + absl::Hours(48));
  if (status == 10) *d->mutable_returned_at() = ts(base + absl::Hours(50));
  if (status == 3) *d->mutable_refused_at() = ts(base + absl::Hours(2));
  auto* step = r.add_new_steps();
  step->set_step_id(absl::StrCat("r", revision));
  step->set_officer("Nông Văn Quý");
  step->set_content("Cập nhật trạng thái");
  step->set_status(static_cast<dossiersync::v1::DossierStatus>(status));
  *step->mutable_occurred_at() = ts(base + absl::Hours(3));
  return r;
}

dossiersync::v1::DossierChange ValidChange(int seq, int status, int64_t revision,
                                           const std::vector<std::string>& steps) {
  dossiersync::v1::DossierChange c;
  *c.mutable_dossier() = ValidRequest(seq, status, revision).dossier();
  c.set_revision(revision);
  *c.mutable_accepted_at() = NowTimestamp();
  for (const std::string& id : steps) {
    auto* s = c.add_new_steps();
    s->set_step_id(id);
    s->set_status(static_cast<dossiersync::v1::DossierStatus>(status));
  }
  return c;
}

void SetAgency(SubmitChangeRequest* r, const std::string& agency) {
  auto* d = r->mutable_dossier();
  d->set_code(agency + d->code().substr(d->code().find('-')));
  d->set_agency_code(agency);
}

bool WaitFor(const std::function<bool()>& cond, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (!cond()) {
    if (absl::Now() > deadline) return cond();
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

std::vector<InMessage> CollectUntil(const std::string& brokers, const std::string& topic,
                                    const std::function<bool(const std::vector<InMessage>&)>& done,
                                    absl::Duration timeout) {
  std::vector<InMessage> out;
  auto c = KafkaConsumer::CreateAssigned(brokers, topic, true);
  if (!c.ok()) return out;
  absl::Time deadline = absl::Now() + timeout;
  while (!done(out) && absl::Now() < deadline) {
    auto m = (*c)->Poll(100);
    if (m.ok() && m->has_value()) out.push_back(std::move(**m));
  }
  return out;
}

std::vector<InMessage> CollectTopic(const std::string& brokers, const std::string& topic,
                                    size_t count, absl::Duration timeout) {
  return CollectUntil(
      brokers, topic, [count](const std::vector<InMessage>& m) { return m.size() >= count; },
      timeout);
}

std::vector<InMessage> CollectAll(const std::string& brokers, const std::string& topic,
                                  absl::Duration idle) {
  std::vector<InMessage> out;
  auto c = KafkaConsumer::CreateAssigned(brokers, topic, true);
  if (!c.ok()) return out;
  absl::Time last = absl::Now();
  while (absl::Now() - last < idle) {
    auto m = (*c)->Poll(100);
    if (m.ok() && m->has_value()) {
      out.push_back(std::move(**m));
      last = absl::Now();
    }
  }
  return out;
}

double ScrapeMetric(int port, const std::string& name) {
  httplib::Client cli("127.0.0.1", port);
  auto res = cli.Get("/metrics");
  if (!res || res->status != 200) return -1;
  std::string prefix = name + " ";
  size_t pos = 0;
  while ((pos = res->body.find(prefix, pos)) != std::string::npos) {
    if (pos == 0 || res->body[pos - 1] == '\n')
      return std::atof(res->body.c_str() + pos + prefix.size());
    pos += prefix.size();
  }
  return -1;
}

double ScrapeMetricSum(int port, const std::string& name, int* series_out) {
  httplib::Client cli("127.0.0.1", port);
  auto res = cli.Get("/metrics");
  if (!res || res->status != 200) return -1;
  double sum = 0;
  int series = 0;
  for (absl::string_view line : absl::StrSplit(res->body, '\n')) {
    if (!absl::StartsWith(line, name)) continue;
    absl::string_view rest = line.substr(name.size());
    if (rest.empty() || (rest[0] != ' ' && rest[0] != '{')) continue;
    size_t space = rest.rfind(' ');
    if (space == absl::string_view::npos) continue;
    sum += std::atof(std::string(rest.substr(space + 1)).c_str());
    ++series;
  }
  if (series_out) *series_out = series;
  return series > 0 ? sum : -1;
}

size_t DistinctEvents(const std::vector<InMessage>& msgs) {
  std::set<std::string> ids;
  for (const auto& m : msgs) {
    auto it = m.headers.find("event-id");
    if (it != m.headers.end()) ids.insert(it->second);
  }
  return ids.size();
}

int BrokerControl(const devbroker::DevBroker& b, const std::string& path) {
  httplib::Client cli("127.0.0.1", b.control_port());
  auto res = cli.Post(path.c_str());
  return res ? res->status : -1;
}

Process::Process(const std::vector<std::string>& argv, const std::string& log_file) {
  // Everything the child needs is prepared before fork: between fork and exec only
  // async-signal-safe calls (no malloc, no stdio), since other threads may hold their locks.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_ = fork();
  if (pid_ == 0) {
    int fd = open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execv(args[0], args.data());
    _exit(127);
  }
}

Process::~Process() {
  if (pid_ > 0 && !waited_) {
    kill(pid_, SIGKILL);
    Wait();
  }
}

void Process::Kill(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

int Process::Wait() {
  if (waited_) return 0;
  int status = 0;
  waitpid(pid_, &status, 0);
  waited_ = true;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

std::string BinaryPath(const std::string& name) {
  const char* dir = std::getenv("DOSSIERSYNC_BIN_DIR");
  if (dir != nullptr) return absl::StrCat(dir, "/", name);
  // Run by hand: the test binaries sit beside the service binaries (build/bin).
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? absl::StrCat("./", name) : (self.parent_path() / name).string();
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  close(fd);
  return port;
}

namespace {

// Binds 127.0.0.1:port; the socket, or -1 when the port is taken.
int BindLoopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

int FreePortRange(int n) {
  int ephemeral_low = 32768;
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  range >> ephemeral_low;
  const int low = 10000;
  const int span = std::max(1, ephemeral_low - n - low);
  std::srand(static_cast<unsigned>(getpid()) ^
             static_cast<unsigned>(absl::ToUnixNanos(absl::Now())));
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const int base = low + std::rand() % span;
    std::vector<int> fds;
    for (int i = 0; i < n; ++i) {
      int fd = BindLoopback(base + i);
      if (fd < 0) break;
      fds.push_back(fd);
    }
    const bool all = static_cast<int>(fds.size()) == n;
    for (int fd : fds) close(fd);
    if (all) return base;
  }
  return FreePort();  // nothing free below the ephemeral range: take the chance
}

namespace {

// A server-streaming call through the generic stub (which only offers bidi): writes the one
// request, half-closes and reads the stream to its end.
class RawReader : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  explicit RawReader(grpc::ByteBuffer req) : out_(std::move(req)) {}
  void Start() {
    StartWriteLast(&out_, grpc::WriteOptions());
    StartRead(&in_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (ok) StartRead(&in_);
  }
  void OnDone(const grpc::Status& s) override {
    status_ = s;
    done_.Notify();
  }
  grpc::Status Wait() {
    done_.WaitForNotification();
    return status_;
  }

 private:
  grpc::ByteBuffer out_, in_;
  grpc::Status status_;
  absl::Notification done_;
};

}  // namespace

grpc::Status CallRaw(int port, const std::string& method, const std::string& bytes,
                     bool server_streaming, std::string* response) {
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  grpc::GenericStub generic(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Slice slice(bytes);
  grpc::ByteBuffer req(&slice, 1), resp;
  if (server_streaming) {
    RawReader reader(req);
    generic.PrepareBidiStreamingCall(&ctx, method, grpc::StubOptions(), &reader);
    reader.Start();
    return reader.Wait();
  }
  grpc::Status result;
  absl::Notification done;
  generic.UnaryCall(&ctx, method, grpc::StubOptions(), &req, &resp, [&](grpc::Status st) {
    result = st;
    done.Notify();
  });
  done.WaitForNotification();
  if (response != nullptr && result.ok()) {
    std::vector<grpc::Slice> slices;
    if (resp.Dump(&slices).ok()) {
      response->clear();
      for (const auto& sl : slices)
        response->append(reinterpret_cast<const char*>(sl.begin()), sl.size());
    }
  }
  return result;
}

int HealthStatus(int port, const std::string& service) {
  // grpc.health.v1.HealthCheckRequest{service = 1}; HealthCheckResponse{status = 1 (enum)}.
  std::string req;
  if (!service.empty()) {
    req.push_back(0x0a);
    req.push_back(static_cast<char>(service.size()));  // names here are < 128 bytes
    req += service;
  }
  std::string resp;
  grpc::Status st = CallRaw(port, "/grpc.health.v1.Health/Check", req, false, &resp);
  if (!st.ok()) return -static_cast<int>(st.error_code());
  if (resp.size() == 2 && resp[0] == 0x08) return resp[1];
  return 0;  // UNKNOWN (the default, sent as no bytes)
}

}  // namespace dossiersync::testing
