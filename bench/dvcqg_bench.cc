// dvcqg-bench: sustained DongBoHoSoMC load through the DVCQG client (batches over keep-alive).
// Creates --dossiers generated dossiers in batches, then sends batches of updates from --threads
// callers for --seconds; prints requests/s, dossiers/s and latency percentiles as JSON.
#include <algorithm>
#include <atomic>
#include <iostream>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/dvcqg/client.h"
#include "common/dvcqg/config_flags.h"
#include "common/flags.h"
#include "nlohmann/json.hpp"
#include "tools/dossierctl/workload.h"

ABSL_FLAG(int, dossiers, 5000, "Dossiers to create before the timed phase");
ABSL_FLAG(int, threads, 8, "Concurrent callers");
ABSL_FLAG(int, seconds, 10, "Length of the timed update phase");
ABSL_FLAG(int, batch, 50, "Dossiers per DongBoHoSoMC call");

using dossiersync::dvcqg::Client;
using dossiersync::dvcqg::DossierItem;
using dossiersync::dvcqg::Outcome;

int main(int argc, char** argv) {
  dossiersync::ParseFlags(argc, argv, "dvcqg-bench: DongBoHoSoMC throughput against a DVCQG URL");
  auto config = dossiersync::dvcqg::ClientConfigFromFlags();
  if (!config.ok()) dossiersync::ConfigError(std::string(config.status().message()));
  config->batch_size = absl::GetFlag(FLAGS_batch);
  config->max_connections = absl::GetFlag(FLAGS_threads);
  auto client = Client::Create(*config);
  if (!client.ok()) dossiersync::ConfigError(std::string(client.status().message()));
  const int n = absl::GetFlag(FLAGS_dossiers), batch = absl::GetFlag(FLAGS_batch);
  dossiersync::tools::Workload w({});
  std::vector<dossiersync::v1::Dossier> ds;
  ds.reserve(n);
  for (int i = 0; i < n; ++i) ds.push_back(w.Lifecycle(i).back().dossier());
  auto batch_of = [&](int start) {
    std::vector<DossierItem> items;
    for (int k = start; k < std::min(n, start + batch); ++k)
      items.push_back({&ds[k], ds[k].status()});
    return items;
  };
  int create_failures = 0;
  for (int i = 0; i < n; i += batch) {
    if ((*client)->SyncDossiers(batch_of(i), false).outcome != Outcome::kAccepted)
      ++create_failures;
  }
  std::atomic<int64_t> calls{0}, failures{0};
  absl::Mutex mu;
  std::vector<double> lat_ms;
  absl::Time end = absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_seconds));
  std::vector<std::thread> ts;
  const int threads = absl::GetFlag(FLAGS_threads);
  absl::Time start = absl::Now();
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      std::vector<double> mine;
      for (int i = t * batch; absl::Now() < end; i = (i + threads * batch) % std::max(n, 1)) {
        auto r = (*client)->SyncDossiers(batch_of(i - i % batch), true);
        ++calls;
        if (r.outcome != Outcome::kAccepted) ++failures;
        mine.push_back(absl::ToDoubleMilliseconds(r.latency));
      }
      absl::MutexLock l(&mu);
      lat_ms.insert(lat_ms.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : ts) t.join();
  double secs = absl::ToDoubleSeconds(absl::Now() - start);
  std::sort(lat_ms.begin(), lat_ms.end());
  auto pct = [&](double p) {
    return lat_ms.empty()
               ? 0
               : lat_ms[std::min(lat_ms.size() - 1, static_cast<size_t>(p * lat_ms.size()))];
  };
  nlohmann::json out{{"threads", threads},
                     {"batch", batch},
                     {"dossiers", n},
                     {"create_failures", create_failures},
                     {"calls", calls.load()},
                     {"failures", failures.load()},
                     {"seconds", secs},
                     {"requests_per_second", calls.load() / secs},
                     {"dossiers_per_second", calls.load() * batch / secs},
                     {"latency_ms_p50", pct(0.5)},
                     {"latency_ms_p99", pct(0.99)},
                     {"logins", (*client)->logins()}};
  std::cout << out.dump() << std::endl;
  return failures.load() == 0 && create_failures == 0 ? 0 : 1;
}
