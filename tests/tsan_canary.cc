// ThreadSanitizer builds only: proves that scripts/tsan.sh can fail and that the annotations in
// common/tsan_absl.cc neither hide real races nor invent false ones. scripts/tsan.sh runs each
// case and expects reports from exactly the racy ones.
//
//   tsan_canary race           two threads increment one int with no lock: must be reported
//   tsan_canary mutex          the same under an absl::Mutex: must be clean
//   tsan_canary await          a producer/consumer handoff through Mutex::Await with a Condition
//                              on the consumer's stack (evaluated by the producer's Unlock),
//                              then the consumer reuses that stack: must be clean
//   tsan_canary notification   data published before Notify, read after the wait: must be clean
//   tsan_canary c11_thread     a C11 thrd_create thread (as librdkafka starts them) allocating
//                              and racing with the main thread: must be reported, not crash
//
// Thread safety: a test program; the races are deliberate.
#include <threads.h>

#include <cstdio>
#include <cstring>
#include <deque>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

namespace {

int g_counter = 0;  // racy on purpose in "race" and "c11_thread"

int Race() {
  std::thread a([] {
    for (int i = 0; i < 1000; ++i) ++g_counter;
  });
  std::thread b([] {
    for (int i = 0; i < 1000; ++i) ++g_counter;
  });
  a.join();
  b.join();
  return 0;
}

int Locked() {
  absl::Mutex mu;
  int counter = 0;
  auto work = [&] {
    for (int i = 0; i < 1000; ++i) {
      absl::MutexLock l(&mu);
      ++counter;
    }
  };
  std::thread a(work), b(work);
  a.join();
  b.join();
  return counter == 2000 ? 0 : 1;
}

struct Queue {
  absl::Mutex mu;
  std::deque<int> items ABSL_GUARDED_BY(mu);
  bool done ABSL_GUARDED_BY(mu) = false;
};

// Fills and reads a buffer on its own stack, where the Condition of the last Await was.
__attribute__((noinline)) int UseStack(int seed) {
  volatile char buf[512];
  for (int i = 0; i < 512; ++i) buf[i] = static_cast<char>(seed + i);
  int sum = 0;
  for (int i = 0; i < 512; ++i) sum += buf[i];
  return sum;
}

int Await() {
  Queue q;
  long sum = 0;
  std::thread consumer([&] {
    while (true) {
      int item;
      {
        absl::MutexLock l(&q.mu);
        q.mu.Await(absl::Condition(
            +[](Queue* s)
                 ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu) { return s->done || !s->items.empty(); },
            &q));
        if (q.items.empty()) return;
        item = q.items.front();
        q.items.pop_front();
      }
      sum += item + UseStack(item) % 2;
    }
  });
  for (int i = 0; i < 2000; ++i) {
    absl::MutexLock l(&q.mu);
    q.items.push_back(i);
  }
  {
    absl::MutexLock l(&q.mu);
    q.done = true;
  }
  consumer.join();
  return sum > 0 ? 0 : 1;
}

int NotificationCase() {
  absl::Notification ready;
  int data = 0;
  std::thread t([&] {
    data = 42;
    ready.Notify();
  });
  ready.WaitForNotification();
  int seen = data;
  t.join();
  return seen == 42 ? 0 : 1;
}

int C11Thread() {
  thrd_t t;
  auto body = [](void*) -> int {
    char* p = new char[64];  // the first malloc on a thread TSan never set up crashed it
    std::memset(p, 1, 64);
    delete[] p;
    for (int i = 0; i < 1000; ++i) ++g_counter;
    return 7;
  };
  if (thrd_create(&t, body, nullptr) != thrd_success) return 1;
  for (int i = 0; i < 1000; ++i) ++g_counter;
  int res = 0;
  if (thrd_join(t, &res) != thrd_success || res != 7) return 1;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const char* which = argc > 1 ? argv[1] : "";
  if (std::strcmp(which, "race") == 0) return Race();
  if (std::strcmp(which, "mutex") == 0) return Locked();
  if (std::strcmp(which, "await") == 0) return Await();
  if (std::strcmp(which, "notification") == 0) return NotificationCase();
  if (std::strcmp(which, "c11_thread") == 0) return C11Thread();
  std::fprintf(stderr, "usage: tsan_canary race|mutex|await|notification|c11_thread\n");
  return 2;
}
