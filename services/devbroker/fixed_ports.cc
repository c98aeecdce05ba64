#include "services/devbroker/fixed_ports.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <deque>
#include <mutex>

namespace dossiersync::devbroker {
namespace {

std::mutex g_mu;  // guards g_ports; a plain mutex: bind may run before anything else
std::deque<int>* g_ports = nullptr;  // armed ports, or null

using BindFn = int (*)(int, const struct sockaddr*, socklen_t);

BindFn RealBind() {
  static BindFn real = reinterpret_cast<BindFn>(dlsym(RTLD_NEXT, "bind"));
  return real;
}

}  // namespace

FixedPortScope::FixedPortScope(std::vector<int> ports) {
  std::lock_guard<std::mutex> l(g_mu);
  g_ports = ports.empty() ? nullptr : new std::deque<int>(ports.begin(), ports.end());
}

FixedPortScope::~FixedPortScope() {
  std::lock_guard<std::mutex> l(g_mu);
  delete g_ports;
  g_ports = nullptr;
}

int FixedPortScope::unused() const {
  std::lock_guard<std::mutex> l(g_mu);
  return g_ports == nullptr ? 0 : static_cast<int>(g_ports->size());
}

}  // namespace dossiersync::devbroker

// The interposer: this definition in the executable comes before libc's in the lookup order, so
// librdkafka's calls land here.
extern "C" int bind(int fd, const struct sockaddr* addr, socklen_t len) {
  using dossiersync::devbroker::g_mu;
  using dossiersync::devbroker::g_ports;
  if (addr != nullptr && addr->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    if (in->sin_port == 0 && in->sin_addr.s_addr == htonl(INADDR_LOOPBACK)) {
      int port = 0;
      {
        std::lock_guard<std::mutex> l(g_mu);
        if (g_ports != nullptr && !g_ports->empty()) {
          port = g_ports->front();
          g_ports->pop_front();
        }
      }
      if (port != 0) {
        sockaddr_in fixed = *in;
        fixed.sin_port = htons(static_cast<uint16_t>(port));
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        return dossiersync::devbroker::RealBind()(fd, reinterpret_cast<sockaddr*>(&fixed),
                                                  sizeof(fixed));
      }
    }
  }
  return dossiersync::devbroker::RealBind()(fd, addr, len);
}
