#include "thread_pool.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace mmpref {
namespace {

struct Job {
  const std::function<void(int64_t, int64_t)>* fn;
  int64_t n, chunk, num_chunks;
  std::atomic<int64_t> next{0};     // next chunk to claim
  std::atomic<int64_t> pending{0};  // chunks not yet finished
  std::mutex mu;
  std::condition_variable done_cv;
  std::exception_ptr error;

  // Claims and runs one chunk; false when none is left.
  bool run_one() {
    const int64_t c = next.fetch_add(1);
    if (c >= num_chunks) return false;
    const int64_t b = c * chunk, e = std::min(n, b + chunk);
    try {
      (*fn)(b, e);
    } catch (...) {
      std::lock_guard<std::mutex> lk(mu);
      if (!error) error = std::current_exception();
    }
    if (pending.fetch_sub(1) == 1) {
      std::lock_guard<std::mutex> lk(mu);
      done_cv.notify_all();
    }
    return true;
  }
};

int usable_cpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int c = CPU_COUNT(&set);
    if (c >= 1) return c;
  }
  const unsigned hc = std::thread::hardware_concurrency();
  return hc ? int(hc) : 1;
}

// MMPREF_NUM_THREADS: a decimal integer 1..1024, nothing else (no sign, spaces or suffix). Any
// other value prints one warning naming the variable, the value and the count used instead.
int default_threads() {
  const char* env = std::getenv("MMPREF_NUM_THREADS");
  if (env == nullptr || *env == '\0') return usable_cpus();
  long v = 0;
  const char* p = env;
  for (; *p >= '0' && *p <= '9' && v <= 1024; ++p) v = v * 10 + (*p - '0');
  if (*p == '\0' && v >= 1 && v <= 1024) return int(v);
  const int used = usable_cpus();
  std::fprintf(stderr, "mmpref: warning: MMPREF_NUM_THREADS=%.40s is not an integer in 1..1024; using %d (the usable CPUs)\n",
               env, used);
  return used;
}

class Pool {
 public:
  Pool() : target_(default_threads()) {}

  int size() const { return target_.load(); }

  void resize(int n) {
    std::lock_guard<std::mutex> lk(mu_);
    target_ = n;
    cv_.notify_all();
  }

  void run(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
    if (n <= 0) return;
    const int threads = target_.load();
    grain = std::max<int64_t>(grain, 1);
    // At most 4 chunks per thread (load balance), each at least `grain` long.
    const int64_t max_chunks = int64_t(threads) * 4;
    int64_t chunk = std::max(grain, (n + max_chunks - 1) / max_chunks);
    const int64_t num_chunks = (n + chunk - 1) / chunk;
    if (threads <= 1 || num_chunks <= 1) {
      fn(0, n);
      return;
    }
    auto job = std::make_shared<Job>();
    job->fn = &fn;
    job->n = n;
    job->chunk = chunk;
    job->num_chunks = num_chunks;
    job->pending = num_chunks;
    {
      std::lock_guard<std::mutex> lk(mu_);
      ensure_workers(threads - 1);
      queue_.push_back(job);
    }
    cv_.notify_all();
    while (job->run_one()) {
    }
    {
      std::unique_lock<std::mutex> lk(job->mu);
      job->done_cv.wait(lk, [&] { return job->pending.load() == 0; });
    }
    if (job->error) std::rethrow_exception(job->error);
  }

 private:
  // Called with mu_ held. Workers are never destroyed: the pool lives for the whole process
  // (joining at exit could deadlock with a worker_thread still inside an op).
  void ensure_workers(int want) {
    while (int(workers_) < want) {
      const int index = int(workers_++);
      std::thread([this, index] { worker_loop(index); }).detach();
    }
  }

  void worker_loop(int index) {
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] {
          // Workers beyond the current size sleep (index 0 is the first helper thread).
          if (index + 1 >= target_.load()) return false;
          while (!queue_.empty() && queue_.front()->next.load() >= queue_.front()->num_chunks)
            queue_.pop_front();
          return !queue_.empty();
        });
        job = queue_.front();
      }
      while (job->run_one()) {
      }
    }
  }

  std::atomic<int> target_;
  size_t workers_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
};

Pool& pool() {
  static Pool* p = new Pool();  // intentionally leaked, see ensure_workers
  return *p;
}

}  // namespace

int num_threads() { return pool().size(); }

void set_num_threads(int n) { pool().resize(std::max(1, std::min(n, 1024))); }

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  pool().run(n, grain, fn);
}

}  // namespace mmpref
