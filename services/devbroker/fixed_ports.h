// Fixed ports for the mock cluster's brokers. librdkafka's mock cluster (2.0) binds each broker's
// listener to 127.0.0.1 port 0 and offers no setting; this process's bind(2) is interposed so
// that, while a FixedPortScope is alive, those listeners get the ports it names instead (with
// SO_REUSEADDR, so a devbroker killed and restarted gets the same ports back at once). Every other
// bind passes through untouched.
//
// Thread safety: one FixedPortScope at a time (DevBroker::Start holds it around the cluster's
// creation); bind itself is safe from any thread.
#ifndef DOSSIERSYNC_SERVICES_DEVBROKER_FIXED_PORTS_H_
#define DOSSIERSYNC_SERVICES_DEVBROKER_FIXED_PORTS_H_

#include <vector>

namespace dossiersync::devbroker {

class FixedPortScope {
 public:
  // Listeners bound to 127.0.0.1:0 from now on take `ports`, in order (none: no effect).
  explicit FixedPortScope(std::vector<int> ports);
  ~FixedPortScope();
  FixedPortScope(const FixedPortScope&) = delete;
  FixedPortScope& operator=(const FixedPortScope&) = delete;
  // Ports armed but not taken by a bind (the cluster made fewer listeners than expected).
  int unused() const;
};

}  // namespace dossiersync::devbroker

#endif  // DOSSIERSYNC_SERVICES_DEVBROKER_FIXED_PORTS_H_
