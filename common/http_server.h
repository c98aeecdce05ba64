// Starting and stopping a cpp-httplib server on its own thread without the start/stop race:
// httplib's stop() does nothing until the listening loop runs, so Start waits for it. Debian's
// libcpp-httplib listens with a backlog of 5, which drops connections under a burst of concurrent
// clients; Start raises it to `backlog`.
//
// Thread safety: call from the owning thread.
#ifndef DOSSIERSYNC_COMMON_HTTP_SERVER_H_
#define DOSSIERSYNC_COMMON_HTTP_SERVER_H_

#include <httplib.h>
#include <sys/socket.h>

#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace dossiersync {

// Binds `listen` (HOST:PORT, port 0 = any), starts serving on `thread`; returns the port once the
// server is accepting.
inline absl::StatusOr<int> StartHttpServer(httplib::Server& server, const std::string& listen,
                                           std::thread* thread, const char* flag,
                                           int backlog = 1024) {
  size_t colon = listen.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": expected HOST:PORT, got '", listen, "'"));
  }
  std::string host = listen.substr(0, colon);
  server.set_tcp_nodelay(true);
  socket_t fd = INVALID_SOCKET;
  server.set_socket_options([&fd](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    fd = sock;
  });
  int bound =
      port == 0 ? server.bind_to_any_port(host) : (server.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) return absl::UnavailableError(absl::StrCat(flag, " ", listen, ": cannot bind"));
  if (fd != INVALID_SOCKET) ::listen(fd, backlog);  // a second listen() raises the backlog
  *thread = std::thread([&server] { server.listen_after_bind(); });
  while (!server.is_running()) absl::SleepFor(absl::Milliseconds(1));
  return bound;
}

inline void StopHttpServer(httplib::Server* server, std::thread* thread) {
  if (server) server->stop();
  if (thread->joinable()) thread->join();
}

}  // namespace dossiersync

#endif  // DOSSIERSYNC_COMMON_HTTP_SERVER_H_
