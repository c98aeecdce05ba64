#include "tests/postgres_server.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "tests/test_util.h"

namespace dossiersync::testing {
namespace {

std::mutex g_mu;

// Runs a shell command, returning its exit status and output.
int Run(const std::string& cmd, std::string* out) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out->append(buf, n);
  return pclose(p);
}

std::string FindBinDir() {
  for (const char* v : {"16", "15", "14", "13"}) {
    std::string dir = absl::StrCat("/usr/lib/postgresql/", v, "/bin");
    if (std::filesystem::exists(dir + "/initdb")) return dir;
  }
  return "";
}

}  // namespace

absl::StatusOr<PostgresServer*> PostgresServer::Shared() {
  std::lock_guard<std::mutex> l(g_mu);
  static PostgresServer* server = nullptr;
  static absl::Status failed;
  if (server) return server;
  if (!failed.ok()) return failed;
  auto s = std::unique_ptr<PostgresServer>(new PostgresServer());
  s->bin_ = FindBinDir();
  if (s->bin_.empty()) {
    failed = absl::FailedPreconditionError(
        "PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install "
        "postgresql; scripts/install-deps.sh does)");
    return failed;
  }
  char tmpl[] = "/tmp/dossiersync-pg-XXXXXX";
  if (!mkdtemp(tmpl)) return absl::InternalError("mkdtemp failed");
  s->dir_ = tmpl;
  s->as_postgres_user_ = geteuid() == 0;
  std::string out;
  if (s->as_postgres_user_) {
    Run(absl::StrCat("chown postgres: ", s->dir_), &out);
  }
  std::string prefix = s->as_postgres_user_ ? "runuser -u postgres -- " : "";
  int rc = Run(absl::StrCat(prefix, s->bin_, "/initdb -D ", s->dir_,
                            "/data -U dossiersync --auth=trust -E UTF8 --locale=C.UTF-8"),
               &out);
  if (rc != 0) {
    failed = absl::InternalError(absl::StrCat("initdb failed: ", out));
    return failed;
  }
  s->port_ = FreePort();
  if (auto st = s->Start(); !st.ok()) {
    failed = st;
    return failed;
  }
  server = s.release();  // lives until the process exits; its destructor is not run
  std::atexit([] {
    std::lock_guard<std::mutex> l(g_mu);
    if (!server) return;
    // Stopped, its data directory goes too (each test binary's server left ~100 MB in /tmp).
    if (server->Stop().ok()) {
      std::error_code ec;
      std::filesystem::remove_all(server->dir_, ec);
    }
  });
  return server;
}

PostgresServer::~PostgresServer() { (void)Stop(); }

absl::Status PostgresServer::Start() {
  std::string prefix = as_postgres_user_ ? "runuser -u postgres -- " : "";
  std::string out;
  int rc = Run(absl::StrCat(prefix, bin_, "/pg_ctl -D ", dir_, "/data -l ", dir_,
                            "/server.log -w -t 60 -o \"-p ", port_, " -k ", dir_,
                            " -c listen_addresses=127.0.0.1 -c fsync=off -c "
                            "full_page_writes=off -c "
                            "max_connections=300\" start"),
               &out);
  if (rc != 0) return absl::InternalError(absl::StrCat("pg_ctl start failed: ", out));
  return absl::OkStatus();
}

absl::Status PostgresServer::Stop() {
  std::string prefix = as_postgres_user_ ? "runuser -u postgres -- " : "";
  std::string out;
  int rc = Run(absl::StrCat(prefix, bin_, "/pg_ctl -D ", dir_, "/data -m immediate -w stop"), &out);
  if (rc != 0) return absl::InternalError(absl::StrCat("pg_ctl stop failed: ", out));
  return absl::OkStatus();
}

absl::StatusOr<std::string> PostgresServer::NewDatabase(const std::string& hint) {
  std::string name;
  {
    std::lock_guard<std::mutex> l(g_mu);
    name = absl::StrCat("t", getpid(), "_", next_db_++);
  }
  for (char c : hint) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  std::string out;
  int rc =
      Run(absl::StrCat(bin_, "/createdb -h 127.0.0.1 -p ", port_, " -U dossiersync ", name), &out);
  if (rc != 0) return absl::InternalError(absl::StrCat("createdb ", name, ": ", out));
  return absl::StrCat("postgresql://dossiersync@127.0.0.1:", port_, "/", name);
}

std::string TestBackend() {
  const char* b = std::getenv("DS_TEST_BACKEND");
  return b != nullptr && std::string(b) == "postgres" ? "postgres" : "sqlite";
}

std::string TestDatabaseUri(const std::string& dir, const std::string& file) {
  std::string name = file;
  if (name.size() > 3 && name.compare(name.size() - 3, 3, ".db") == 0) name.resize(name.size() - 3);
  if (TestBackend() != "postgres") return absl::StrCat("sqlite:", dir, "/", name, ".db");
  // The same directory and name give the same database (replicas, restarts).
  static std::mutex mu;
  static std::map<std::string, std::string> known;
  std::lock_guard<std::mutex> l(mu);
  auto it = known.find(dir + "/" + name);
  if (it != known.end()) return it->second;
  auto server = PostgresServer::Shared();
  if (!server.ok()) {
    fprintf(stderr, "postgres test backend unavailable: %s\n",
            std::string(server.status().message()).c_str());
    abort();
  }
  auto uri = (*server)->NewDatabase(name);
  if (!uri.ok()) {
    fprintf(stderr, "%s\n", std::string(uri.status().message()).c_str());
    abort();
  }
  known[dir + "/" + name] = *uri;
  return *uri;
}

}  // namespace dossiersync::testing
