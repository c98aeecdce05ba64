// ThreadSanitizer builds only (-DDS_SANITIZE_THREAD=ON): happens-before annotations for Debian's
// abseil, which is not built with TSan. absl::Mutex and absl::Notification synchronise inside
// libabsl_synchronization.so, invisible to TSan, so every ABSL_GUARDED_BY field would be reported
// as a race. The linker redirects our calls to these functions (-Wl,--wrap=SYMBOL, see the
// top-level CMakeLists.txt) to the wrappers below, which call the real function and tell TSan
// what it did: a lock acquires the mutex's address, an unlock releases it, Await releases and
// re-acquires it; Notify releases the notification, a successful wait acquires it. Lock-order
// checks are not modelled; data races on memory our code touches are.
//
// Memory accesses inside the real calls are not recorded: there abseil evaluates the conditions
// of waiting threads (absl::Condition objects on the waiters' stacks, and the guarded state they
// read) on whichever thread unlocks, logically under the lock but after our release annotation,
// which TSan would report as races with the waiter's later use of its own stack. A race inside
// a condition function itself is therefore not seen.
//
// Also: librdkafka starts its threads with C11 thrd_create, which glibc implements without going
// through pthread_create, so TSan never set those threads up and crashed in their first malloc.
// The executable's thrd_create/thrd_join/thrd_detach below (which interpose glibc's for
// librdkafka) go through pthread_*, which TSan intercepts.
//
// Thread safety: the wrappers are as thread-safe as the functions they wrap.
#include <pthread.h>
#include <sanitizer/tsan_interface.h>
#include <threads.h>

#include <cerrno>
#include <cstdint>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

using absl::Condition;
using absl::Duration;
using absl::Mutex;
using absl::Notification;
using absl::Time;

extern "C" {
// Not declared in gcc 12's <sanitizer/tsan_interface.h>; exported by libtsan.
void __tsan_ignore_thread_begin();
void __tsan_ignore_thread_end();

void __real__ZN4absl7debian35Mutex4LockEv(Mutex* m);
void __wrap__ZN4absl7debian35Mutex4LockEv(Mutex* m) {
  __tsan_ignore_thread_begin();
  __real__ZN4absl7debian35Mutex4LockEv(m);
  __tsan_ignore_thread_end();
  __tsan_acquire(m);
}
void __real__ZN4absl7debian35Mutex10ReaderLockEv(Mutex* m);
void __wrap__ZN4absl7debian35Mutex10ReaderLockEv(Mutex* m) {
  __tsan_ignore_thread_begin();
  __real__ZN4absl7debian35Mutex10ReaderLockEv(m);
  __tsan_ignore_thread_end();
  __tsan_acquire(m);
}
void __real__ZN4absl7debian35Mutex6UnlockEv(Mutex* m);
void __wrap__ZN4absl7debian35Mutex6UnlockEv(Mutex* m) {
  __tsan_release(m);
  __tsan_ignore_thread_begin();
  __real__ZN4absl7debian35Mutex6UnlockEv(m);
  __tsan_ignore_thread_end();
}
void __real__ZN4absl7debian35Mutex12ReaderUnlockEv(Mutex* m);
void __wrap__ZN4absl7debian35Mutex12ReaderUnlockEv(Mutex* m) {
  __tsan_release(m);
  __tsan_ignore_thread_begin();
  __real__ZN4absl7debian35Mutex12ReaderUnlockEv(m);
  __tsan_ignore_thread_end();
}
bool __real__ZN4absl7debian35Mutex7TryLockEv(Mutex* m);
bool __wrap__ZN4absl7debian35Mutex7TryLockEv(Mutex* m) {
  __tsan_ignore_thread_begin();
  bool ok = __real__ZN4absl7debian35Mutex7TryLockEv(m);
  __tsan_ignore_thread_end();
  if (ok) __tsan_acquire(m);
  return ok;
}
void __real__ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE(Mutex* m, const Condition& c);
void __wrap__ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE(Mutex* m, const Condition& c) {
  __tsan_ignore_thread_begin();
  __real__ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE(m, c);
  __tsan_ignore_thread_end();
  __tsan_acquire(m);
}
bool __real__ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE(
    Mutex* m, const Condition& c, Duration d);
bool __wrap__ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE(
    Mutex* m, const Condition& c, Duration d) {
  __tsan_ignore_thread_begin();
  bool r =
      __real__ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE(m, c, d);
  __tsan_ignore_thread_end();
  __tsan_acquire(m);  // held on return either way
  return r;
}
void __real__ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE(Mutex* m, const Condition& c);
void __wrap__ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE(Mutex* m, const Condition& c) {
  __tsan_release(m);
  __tsan_ignore_thread_begin();
  __real__ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE(m, c);
  __tsan_ignore_thread_end();
  __tsan_acquire(m);
}
bool __real__ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE(
    Mutex* m, const Condition& c, Duration d);
bool __wrap__ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE(
    Mutex* m, const Condition& c, Duration d) {
  __tsan_release(m);
  __tsan_ignore_thread_begin();
  bool r = __real__ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE(m, c, d);
  __tsan_ignore_thread_end();
  __tsan_acquire(m);
  return r;
}
bool __real__ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE(
    Mutex* m, const Condition& c, Time t);
bool __wrap__ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE(
    Mutex* m, const Condition& c, Time t) {
  __tsan_release(m);
  __tsan_ignore_thread_begin();
  bool r = __real__ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE(m, c, t);
  __tsan_ignore_thread_end();
  __tsan_acquire(m);
  return r;
}
void __real__ZN4absl7debian312Notification6NotifyEv(Notification* n);
void __wrap__ZN4absl7debian312Notification6NotifyEv(Notification* n) {
  __tsan_release(n);
  __tsan_ignore_thread_begin();
  __real__ZN4absl7debian312Notification6NotifyEv(n);
  __tsan_ignore_thread_end();
}
void __real__ZNK4absl7debian312Notification19WaitForNotificationEv(const Notification* n);
void __wrap__ZNK4absl7debian312Notification19WaitForNotificationEv(const Notification* n) {
  __tsan_ignore_thread_begin();
  __real__ZNK4absl7debian312Notification19WaitForNotificationEv(n);
  __tsan_ignore_thread_end();
  __tsan_acquire(const_cast<Notification*>(n));
}
bool __real__ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE(
    const Notification* n, Duration d);
bool __wrap__ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE(
    const Notification* n, Duration d) {
  __tsan_ignore_thread_begin();
  bool r =
      __real__ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE(n, d);
  __tsan_ignore_thread_end();
  if (r) __tsan_acquire(const_cast<Notification*>(n));
  return r;
}
bool __real__ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE(
    const Notification* n, Time t);
bool __wrap__ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE(
    const Notification* n, Time t) {
  __tsan_ignore_thread_begin();
  bool r = __real__ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE(n, t);
  __tsan_ignore_thread_end();
  if (r) __tsan_acquire(const_cast<Notification*>(n));
  return r;
}

namespace {
struct ThreadStart {
  thrd_start_t fn;
  void* arg;
};
void* RunC11Thread(void* p) {
  ThreadStart start = *static_cast<ThreadStart*>(p);
  delete static_cast<ThreadStart*>(p);
  return reinterpret_cast<void*>(static_cast<intptr_t>(start.fn(start.arg)));
}
}  // namespace

int thrd_create(thrd_t* thr, thrd_start_t fn, void* arg) {
  auto* start = new ThreadStart{fn, arg};
  int rc = pthread_create(thr, nullptr, &RunC11Thread, start);
  if (rc == 0) return thrd_success;
  delete start;
  return rc == ENOMEM ? thrd_nomem : thrd_error;
}
int thrd_join(thrd_t thr, int* res) {
  void* r = nullptr;
  if (pthread_join(thr, &r) != 0) return thrd_error;
  if (res) *res = static_cast<int>(reinterpret_cast<intptr_t>(r));
  return thrd_success;
}
int thrd_detach(thrd_t thr) { return pthread_detach(thr) == 0 ? thrd_success : thrd_error; }
}  // extern "C"
