// A real PostgreSQL server for tests: initdb in a temporary directory, started on a free port
// (as the `postgres` user when the tests run as root, since PostgreSQL refuses to run as root),
// trust authentication on 127.0.0.1 only, fsync off (test data; commits survive a killed server,
// not a lost machine). One server per test process, started on first use; each test gets a fresh
// database.
//
// The backend for the storage-parameterised tests comes from DS_TEST_BACKEND ("sqlite", the
// default, or "postgres"): TestDatabaseUri gives "sqlite:DIR/NAME.db" or a new PostgreSQL database.
//
// Thread safety: thread-safe.
#ifndef DOSSIERSYNC_TESTS_POSTGRES_SERVER_H_
#define DOSSIERSYNC_TESTS_POSTGRES_SERVER_H_

#include <string>

#include "absl/status/statusor.h"

namespace dossiersync::testing {

class PostgresServer {
 public:
  // The process-wide server (started on first call); an error when PostgreSQL is not installed
  // or does not start (the message says which).
  static absl::StatusOr<PostgresServer*> Shared();
  ~PostgresServer();
  int port() const { return port_; }
  // Creates a new, empty database and returns its URI.
  absl::StatusOr<std::string> NewDatabase(const std::string& hint);
  // Stops the server immediately (tests of outages); Start brings it back on the same port.
  absl::Status Stop();
  absl::Status Start();

 private:
  PostgresServer() = default;
  std::string dir_;
  std::string bin_;
  int port_ = 0;
  bool as_postgres_user_ = false;
  int next_db_ = 0;
};

// "postgres" when DS_TEST_BACKEND says so, else "sqlite".
std::string TestBackend();
// A database for `name` in `dir` on the test backend.
std::string TestDatabaseUri(const std::string& dir, const std::string& name);

}  // namespace dossiersync::testing

#endif  // DOSSIERSYNC_TESTS_POSTGRES_SERVER_H_
