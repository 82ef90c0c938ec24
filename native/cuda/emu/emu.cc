// The CUDA emulator's scheduler and runtime (see cuda_runtime.h). Compiled only into the
// emulation addon (CMake MMPREF_CUDA_EMULATE=ON).
//
// A block is n fibers (one per CUDA thread) on one host thread, each with its own small stack.
// The scheduler resumes runnable fibers one at a time (seeded random order, MMPREF_EMU_SEED; 0 =
// index order); a fiber runs until it reaches __syncthreads*, a warp collective or its end.
// A collective completes when every lane of its mask waits at the same call; a barrier when every
// thread of the block waits at the same one. Anything else is an error of the launch: lanes that
// exited or wait elsewhere, masks naming lanes outside the block, shared memory written past a
// variable (canaries checked after every fiber step; ASan builds poison them too).
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cuda_runtime.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define MMPREF_EMU_ASAN 1
#endif

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

namespace mmpref::emu {

thread_local Thread* t_thread = nullptr;
thread_local Block* t_block = nullptr;

namespace {

// ---- configuration --------------------------------------------------------------------------------
long env_long(const char* name, long def) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtol(v, nullptr, 0) : def;
}
uint64_t seed() {
  static const uint64_t s = uint64_t(env_long("MMPREF_EMU_SEED", 1));
  return s;
}
int workers() {
  static const int w = [] {
    long n = env_long("MMPREF_EMU_THREADS", 0);
    if (n <= 0) n = std::min<long>(4, std::max<unsigned>(1, std::thread::hardware_concurrency()));
    return int(n);
  }();
  return w;
}
int sms() {
  static const int s = int(std::max<long>(1, env_long("MMPREF_EMU_SMS", 16)));
  return s;
}
size_t memory_limit() {
  static const size_t m = size_t(std::max<long>(64, env_long("MMPREF_EMU_MEMORY_MB", 8192))) << 20;
  return m;
}
constexpr size_t kStaticSmemLimit = 48 * 1024, kSmemOptin = 227 * 1024;
constexpr size_t kGuard = 32;
constexpr unsigned char kCanary = 0xA5, kPoison = 0xFF;  // 0xFF..: NaN in every float format
#if defined(MMPREF_EMU_ASAN)
constexpr size_t kStackBytes = 512 * 1024;
#else
constexpr size_t kStackBytes = 128 * 1024;
#endif

uint64_t splitmix(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// ---- error state (per host thread, like cudaGetLastError) -----------------------------------------
thread_local cudaError_t t_err = cudaSuccess;
thread_local std::string t_msg;

cudaError_t fail(cudaError_t e, const std::string& msg) {
  if (t_err == cudaSuccess) t_err = e;
  t_msg = msg;
  return e;
}

// ---- context switching ----------------------------------------------------------------------------
#if defined(__x86_64__)
extern "C" void mmpref_emu_switch(void** save_sp, void* new_sp);
asm(R"(
.text
.globl mmpref_emu_switch
.hidden mmpref_emu_switch
.type mmpref_emu_switch,@function
mmpref_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $16, %rsp
  stmxcsr 8(%rsp)
  fnstcw (%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr 8(%rsp)
  fldcw (%rsp)
  addq $16, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
.size mmpref_emu_switch,.-mmpref_emu_switch
.section .note.GNU-stack,"",@progbits
.text
)");
#endif

enum class St : uint8_t { kReady, kBarrier, kColl, kExited };

struct TS {
  Thread t;
  St st;
  Coll op;
  unsigned mask;
  int arg, width, line;
  uint64_t in, out;
  const char* file;
  void* sp;
#if !defined(__x86_64__)
  ucontext_t uc;
#endif
  char* stack;  // lowest usable address
  void* fake = nullptr;
};

struct Var {
  const void* key;
  size_t off, size;
  const char* name;
};

struct Launch {
  const char* name;
  dim3 grid, block;
  size_t smem;
  void (*run)(const void*);
  const void* closure;
  uint64_t id;
};

void fiber_main();

class Executor {
 public:
  ~Executor() {
    for (TS& t : ts_)
      if (t.stack) munmap(t.stack - page(), kStackBytes + page());
    std::free(arena_);
  }

  // Runs one block; false (with msg) on an error.
  bool run_block(const Launch& L, uint3 bidx, std::string* msg) {
    launch_ = &L;
    block_.idx = bidx;
    block_.dim = L.block;
    block_.grid = L.grid;
    err_.clear();
    const int n = int(L.block.x * L.block.y * L.block.z);
    ensure(n);
    n_ = n;
    waiting_.assign((n + 31) / 32, 0);
    reset_arena(L.smem);
    for (int i = 0; i < n; ++i) {
      TS& t = ts_[i];
      t.t.flat = i;
      t.t.idx = uint3{unsigned(i % L.block.x), unsigned(i / L.block.x % L.block.y),
                      unsigned(i / (L.block.x * L.block.y))};
      t.t.lane = i & 31;
      t.t.warp = i >> 5;
      t.st = St::kReady;
      init_stack(t);
    }
    uint64_t rs = seed() ^ (L.id * 0x9E3779B97F4A7C15ull) ^ (uint64_t(bidx.x) << 20) ^ (uint64_t(bidx.y) << 44) ^
                  uint64_t(bidx.z);
    rng_ = rs;
    queue_.clear();
    for (int i = 0; i < n; ++i) queue_.push_back(i);
    shuffle(0);
    Block* saved_block = t_block;
    Thread* saved_thread = t_thread;
    t_block = &block_;
    const bool ok = schedule();
    t_block = saved_block;
    t_thread = saved_thread;
    if (!ok) {
      abandon();
      *msg = err_;
    }
    return ok;
  }

  // ---- called from fibers ----
  uint64_t collective(Coll op, unsigned mask, uint64_t v, int arg, int width, const char* file, int line) {
    TS& t = ts_[cur_];
    if (op == Coll::kActive) {
      unsigned m = 0;
      const int base = t.t.warp * 32;
      for (int j = 0; j < 32 && base + j < n_; ++j)
        if (ts_[base + j].st != St::kExited) m |= 1u << j;
      return m;
    }
    t.st = St::kColl;
    t.op = op;
    t.mask = mask;
    t.in = v;
    t.arg = arg;
    t.width = width;
    t.file = file;
    t.line = line;
    yield();
    return t.out;
  }
  int barrier(int op, int pred, const char* file, int line) {
    TS& t = ts_[cur_];
    t.st = St::kBarrier;
    t.arg = op;
    t.in = uint64_t(pred);
    t.file = file;
    t.line = line;
    yield();
    return int(t.out);
  }
  void* shared(const void* key, size_t bytes, size_t align, const char* name) {
    for (const Var& v : vars_)
      if (v.key == key) return arena_ + v.off;
    size_t off = (used_ + align - 1) / align * align;
    if (off - used_ < kGuard) off = (used_ + kGuard + align - 1) / align * align;
    static_bytes_ += bytes;
    if (static_bytes_ > kStaticSmemLimit || off + bytes + kGuard > cap_) {
      thread_error("static shared memory exceeds 48 KiB (" + std::to_string(static_bytes_) + " bytes at `" +
                   name + "`)");
    }
    fill_guard(used_, off);
    std::memset(arena_ + off, kPoison, bytes);
    used_ = off + bytes;
    fill_guard(used_, used_ + kGuard);
    vars_.push_back(Var{key, off, bytes, name});
    return arena_ + off;
  }
  void* dynamic() { return arena_ + kGuard; }
  [[noreturn]] void thread_error(const std::string& what) {
    if (err_.empty()) err_ = where(ts_[cur_]) + ": " + what;
    ts_[cur_].st = St::kExited;
    failed_ = true;
    yield(true);
    std::abort();  // not reached: the scheduler never resumes a failed fiber
  }
  void finish_current() {
    ts_[cur_].st = St::kExited;
    yield(true);
  }
  const Launch* launch() const { return launch_; }

 private:
  static size_t page() {
    static const size_t p = size_t(sysconf(_SC_PAGESIZE));
    return p;
  }

  void ensure(int n) {
    if (int(ts_.size()) >= n) return;
    const size_t old = ts_.size();
    ts_.resize(n);
    for (size_t i = old; i < ts_.size(); ++i) {
      void* m = mmap(nullptr, kStackBytes + page(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                     -1, 0);
      if (m == MAP_FAILED) {
        std::fprintf(stderr, "mmpref CUDA emulator: cannot map fiber stacks\n");
        std::abort();
      }
      mprotect(m, page(), PROT_NONE);  // guard page: a stack overflow faults instead of corrupting
      ts_[i].stack = static_cast<char*>(m) + page();
    }
  }

  void init_stack(TS& t) {
#if defined(__x86_64__)
    uintptr_t top = (reinterpret_cast<uintptr_t>(t.stack) + kStackBytes) & ~uintptr_t(15);
    uint64_t* s = reinterpret_cast<uint64_t*>(top);
    s[-1] = 0;                                          // fake return address of fiber_main
    s[-2] = reinterpret_cast<uint64_t>(&fiber_main);    // ret target of mmpref_emu_switch
    for (int k = 3; k <= 8; ++k) s[-k] = 0;             // rbp rbx r12..r15
    uint32_t mx;
    uint16_t cw;
    asm volatile("stmxcsr %0" : "=m"(mx));
    asm volatile("fnstcw %0" : "=m"(cw));
    s[-10] = 0;
    std::memcpy(reinterpret_cast<char*>(&s[-10]), &cw, 2);
    std::memcpy(reinterpret_cast<char*>(&s[-9]), &mx, 4);
    t.sp = &s[-10];
#else
    getcontext(&t.uc);
    t.uc.uc_stack.ss_sp = t.stack;
    t.uc.uc_stack.ss_size = kStackBytes;
    t.uc.uc_link = nullptr;
    makecontext(&t.uc, &fiber_main, 0);
#endif
  }

  void reset_arena(size_t smem) {
    if (!arena_) {
      cap_ = kSmemOptin + kStaticSmemLimit + 64 * kGuard + 4096;
      arena_ = static_cast<unsigned char*>(std::aligned_alloc(256, cap_));
    }
#if defined(MMPREF_EMU_ASAN)
    ASAN_UNPOISON_MEMORY_REGION(arena_, cap_);
#endif
    vars_.clear();
    guards_.clear();
    static_bytes_ = 0;
    fill_guard(0, kGuard);
    std::memset(arena_ + kGuard, kPoison, smem);
    used_ = kGuard + smem;
    fill_guard(used_, used_ + kGuard);
  }
  void fill_guard(size_t a, size_t b) {
    if (b <= a) return;
#if defined(MMPREF_EMU_ASAN)
    ASAN_UNPOISON_MEMORY_REGION(arena_ + a, b - a);  // may overlap the previous variable's guard
#endif
    std::memset(arena_ + a, kCanary, b - a);
    guards_.push_back({a, b});
#if defined(MMPREF_EMU_ASAN)
    ASAN_POISON_MEMORY_REGION(arena_ + a, b - a);
#endif
  }
  bool guards_intact(std::string* which) {
    for (auto [a, b] : guards_) {
#if defined(MMPREF_EMU_ASAN)
      ASAN_UNPOISON_MEMORY_REGION(arena_ + a, b - a);
#endif
      bool ok = true;
      for (size_t k = a; k < b; ++k) ok &= arena_[k] == kCanary;
#if defined(MMPREF_EMU_ASAN)
      ASAN_POISON_MEMORY_REGION(arena_ + a, b - a);
#endif
      if (!ok) {
        std::string before = a == 0 ? "the start of shared memory" : "dynamic shared memory";
        std::string after = "dynamic shared memory";
        for (const Var& v : vars_) {
          if (v.off + v.size <= a + kGuard && v.off + v.size >= a) before = std::string("`") + v.name + "`";
          if (v.off >= b && v.off <= b + 256 && after == "dynamic shared memory") after = std::string("`") + v.name + "`";
        }
        *which = "wrote shared memory out of bounds (between " + before + " and " + after + ")";
        if (b == used_ + kGuard || a + kGuard >= used_) *which = "wrote shared memory out of bounds (past " + before + ")";
        return false;
      }
    }
    return true;
  }

  void shuffle(size_t from) {
    if (seed() == 0) return;
    for (size_t i = queue_.size(); i > from + 1; --i) {
      const size_t j = from + splitmix(rng_) % (i - from);
      std::swap(queue_[i - 1], queue_[j]);
    }
  }

  std::string where(const TS& t) const {
    char b[256];
    std::snprintf(b, sizeof b, "kernel %s block (%u,%u,%u) thread (%u,%u,%u)", launch_->name, block_.idx.x,
                  block_.idx.y, block_.idx.z, t.t.idx.x, t.t.idx.y, t.t.idx.z);
    return b;
  }
  static std::string site(const TS& t) {
    return std::string(t.file ? t.file : "?") + ":" + std::to_string(t.line);
  }
  static const char* coll_name(Coll op) {
    switch (op) {
      case Coll::kSyncwarp: return "__syncwarp";
      case Coll::kShflIdx: return "__shfl_sync";
      case Coll::kShflXor: return "__shfl_xor_sync";
      case Coll::kShflUp: return "__shfl_up_sync";
      case Coll::kShflDown: return "__shfl_down_sync";
      case Coll::kBallot: return "__ballot_sync";
      case Coll::kAny: return "__any_sync";
      case Coll::kAll: return "__all_sync";
      case Coll::kMatchAny: return "__match_any_sync";
      case Coll::kReduceAdd: return "__reduce_add_sync";
      case Coll::kReduceMin: case Coll::kReduceMinS: return "__reduce_min_sync";
      case Coll::kReduceMax: case Coll::kReduceMaxS: return "__reduce_max_sync";
      default: return "__activemask";
    }
  }
  void set_error(const TS& t, const std::string& what) {
    if (err_.empty()) err_ = where(t) + ": " + what;
    failed_ = true;
  }

  void resume(int i) {
    cur_ = i;
    TS& t = ts_[i];
    t_thread = &t.t;
#if defined(MMPREF_EMU_ASAN)
    __sanitizer_start_switch_fiber(&sched_fake_, t.stack, kStackBytes);
#endif
#if defined(__x86_64__)
    mmpref_emu_switch(&sched_sp_, t.sp);
#else
    swapcontext(&sched_uc_, &t.uc);
#endif
#if defined(MMPREF_EMU_ASAN)
    __sanitizer_finish_switch_fiber(sched_fake_, nullptr, nullptr);
#endif
  }

 public:
  void yield(bool dying = false) {
    TS& t = ts_[cur_];
#if defined(MMPREF_EMU_ASAN)
    __sanitizer_start_switch_fiber(dying ? nullptr : &t.fake, sched_bottom_, sched_size_);
#endif
#if defined(__x86_64__)
    mmpref_emu_switch(&t.sp, sched_sp_);
#else
    swapcontext(&t.uc, &sched_uc_);
#endif
#if defined(MMPREF_EMU_ASAN)
    __sanitizer_finish_switch_fiber(t.fake, nullptr, nullptr);
#endif
    (void)dying;
  }
  void entered() {
#if defined(MMPREF_EMU_ASAN)
    __sanitizer_finish_switch_fiber(nullptr, &sched_bottom_, &sched_size_);
#endif
  }

 private:
  // A collective of thread i: complete it if every lane of its mask waits at the same call.
  void try_collective(int i) {
    TS& t = ts_[i];
    const int base = t.t.warp * 32;
    char buf[160];
    if (!(t.mask >> t.t.lane & 1u)) {
      std::snprintf(buf, sizeof buf, "%s at %s: mask 0x%08x does not include the calling lane %d",
                    coll_name(t.op), site(t).c_str(), t.mask, t.t.lane);
      return set_error(t, buf);
    }
    for (int j = 0; j < 32; ++j) {
      if (!(t.mask >> j & 1u)) continue;
      if (base + j >= n_) {
        std::snprintf(buf, sizeof buf, "%s at %s: mask 0x%08x names lane %d, which does not exist (blockDim %d)",
                      coll_name(t.op), site(t).c_str(), t.mask, j, n_);
        return set_error(t, buf);
      }
      const TS& o = ts_[base + j];
      switch (o.st) {
        case St::kReady: return;  // not there yet
        case St::kExited:
          std::snprintf(buf, sizeof buf, "%s at %s: mask 0x%08x names lane %d, which exited without reaching it",
                        coll_name(t.op), site(t).c_str(), t.mask, j);
          return set_error(t, buf);
        case St::kBarrier:
          return set_error(t, std::string(coll_name(t.op)) + " at " + site(t) + ": lane " + std::to_string(j) +
                                  " of its mask waits at __syncthreads at " + site(o) + " instead");
        case St::kColl:
          if (o.op != t.op || o.mask != t.mask || o.line != t.line || o.width != t.width ||
              (o.file != t.file && std::strcmp(o.file, t.file) != 0)) {
            std::snprintf(buf, sizeof buf, " (mask 0x%08x) at %s: lane %d waits at %s (mask 0x%08x) at ",
                          t.mask, site(t).c_str(), j, coll_name(o.op), o.mask);
            return set_error(t, coll_name(t.op) + std::string(buf) + site(o));
          }
      }
    }
    // every lane is there: compute the results
    const unsigned mask = t.mask;
    const int w = t.width;
    if (w <= 0 || w > 32 || (w & (w - 1))) return set_error(t, "warp collective width " + std::to_string(w) + " is not a power of 2 <= 32");
    unsigned ballot = 0;
    uint64_t sum = 0;
    uint32_t umin = ~0u, umax = 0;
    int32_t smin = INT32_MAX, smax = INT32_MIN;
    for (int j = 0; j < 32; ++j) {
      if (!(mask >> j & 1u)) continue;
      const TS& o = ts_[base + j];
      if (o.in & 1u) ballot |= 1u << j;
      sum += uint32_t(o.in);
      umin = std::min(umin, uint32_t(o.in));
      umax = std::max(umax, uint32_t(o.in));
      smin = std::min(smin, int32_t(uint32_t(o.in)));
      smax = std::max(smax, int32_t(uint32_t(o.in)));
    }
    for (int j = 0; j < 32; ++j) {
      if (!(mask >> j & 1u)) continue;
      TS& o = ts_[base + j];
      const int seg = j & ~(w - 1);
      int src = j;
      switch (t.op) {
        case Coll::kShflIdx: src = seg + (((o.arg % w) + w) % w); break;
        case Coll::kShflXor: src = j ^ o.arg; if (src < seg || src >= seg + w || src > 31 || src < 0) src = j; break;
        case Coll::kShflUp: src = j - o.arg; if (src < seg) src = j; break;
        case Coll::kShflDown: src = j + o.arg; if (src >= seg + w) src = j; break;
        default: break;
      }
      switch (t.op) {
        case Coll::kShflIdx: case Coll::kShflXor: case Coll::kShflUp: case Coll::kShflDown:
          if (!(mask >> src & 1u)) {
            std::snprintf(buf, sizeof buf, "%s at %s: lane %d reads lane %d, which is not in mask 0x%08x",
                          coll_name(t.op), site(t).c_str(), j, src, mask);
            return set_error(o, buf);
          }
          o.out = ts_[base + src].in;
          break;
        case Coll::kBallot: o.out = ballot; break;
        case Coll::kAny: o.out = ballot != 0; break;
        case Coll::kAll: o.out = ballot == mask; break;
        case Coll::kMatchAny: {
          unsigned m = 0;
          const uint64_t keep = o.arg >= 8 ? ~0ull : ((1ull << (8 * o.arg)) - 1);
          for (int k = 0; k < 32; ++k)
            if ((mask >> k & 1u) && ((ts_[base + k].in ^ o.in) & keep) == 0) m |= 1u << k;
          o.out = m;
          break;
        }
        case Coll::kReduceAdd: o.out = uint32_t(sum); break;
        case Coll::kReduceMin: o.out = umin; break;
        case Coll::kReduceMax: o.out = umax; break;
        case Coll::kReduceMinS: o.out = uint32_t(smin); break;
        case Coll::kReduceMaxS: o.out = uint32_t(smax); break;
        default: o.out = 0; break;
      }
    }
    const size_t from = queue_.size();
    waiting_[t.t.warp] -= __builtin_popcount(mask);
    for (int j = 0; j < 32; ++j)
      if (mask >> j & 1u) {
        ts_[base + j].st = St::kReady;
        queue_.push_back(base + j);
      }
    shuffle(from);
  }

  bool schedule() {
    failed_ = false;
    size_t head = 0;
    for (;;) {
      while (head < queue_.size()) {
        const int i = queue_[head++];
        if (ts_[i].st != St::kReady) continue;
        resume(i);
        if (failed_) return false;
        std::string oob;
        if (!guards_intact(&oob)) {
          set_error(ts_[i], oob);
          return false;
        }
        if (ts_[i].st == St::kColl && ++waiting_[ts_[i].t.warp] >= __builtin_popcount(ts_[i].mask)) try_collective(i);
        if (failed_) return false;
      }
      queue_.clear();
      head = 0;
      int exited = 0, coll = -1, first_exit = -1, first_bar = -1;
      for (int i = 0; i < n_; ++i) {
        if (ts_[i].st == St::kExited) {
          ++exited;
          if (first_exit < 0) first_exit = i;
        } else if (ts_[i].st == St::kColl && coll < 0) {
          coll = i;
        } else if (ts_[i].st == St::kBarrier && first_bar < 0) {
          first_bar = i;
        }
      }
      if (exited == n_) return true;
      if (coll >= 0) {  // a collective that cannot complete: find out why
        try_collective(coll);
        if (failed_) return false;
        const TS& t = ts_[coll];
        const int base = t.t.warp * 32;
        for (int j = 0; j < 32; ++j)
          if ((t.mask >> j & 1u) && base + j < n_ && ts_[base + j].st != St::kColl) {
            const TS& o = ts_[base + j];
            set_error(t, std::string(coll_name(t.op)) + " at " + site(t) + ": lane " + std::to_string(j) +
                             (o.st == St::kExited ? " exited without reaching it"
                                                  : " waits at __syncthreads at " + site(o) + " instead"));
            return false;
          }
        set_error(t, std::string(coll_name(t.op)) + " at " + site(t) + " never completed");
        return false;
      }
      // every live thread waits at a barrier
      const TS& b = ts_[first_bar];
      if (exited > 0) {
        set_error(ts_[first_exit], "exited without reaching the __syncthreads at " + site(b) + " that " +
                                       std::to_string(n_ - exited) + " other threads of the block wait at");
        return false;
      }
      int agg = b.arg == 2 ? 1 : 0;
      for (int i = 0; i < n_; ++i) {
        const TS& o = ts_[i];
        if (o.line != b.line || (o.file != b.file && std::strcmp(o.file, b.file) != 0) || o.arg != b.arg) {
          set_error(o, "waits at __syncthreads at " + site(o) + " while thread (" + std::to_string(b.t.idx.x) + "," +
                           std::to_string(b.t.idx.y) + "," + std::to_string(b.t.idx.z) + ") waits at " + site(b));
          return false;
        }
        if (b.arg == 1) agg |= int(o.in);
        if (b.arg == 2) agg &= int(o.in);
        if (b.arg == 3) agg += int(o.in);
      }
      for (int i = 0; i < n_; ++i) {
        ts_[i].out = uint64_t(uint32_t(agg));
        ts_[i].st = St::kReady;
        queue_.push_back(i);
      }
      shuffle(0);
    }
  }

  void abandon() {
    // fibers left suspended: their stack frames never unwind, so their ASan shadow is stale
#if defined(MMPREF_EMU_ASAN)
    for (int i = 0; i < n_; ++i) ASAN_UNPOISON_MEMORY_REGION(ts_[i].stack, kStackBytes);
#endif
  }

  std::vector<TS> ts_;
  std::vector<int> queue_;
  std::vector<int> waiting_;  // per warp: lanes waiting at a collective (checked once enough arrived)
  std::vector<Var> vars_;
  std::vector<std::pair<size_t, size_t>> guards_;
  unsigned char* arena_ = nullptr;
  size_t cap_ = 0, used_ = 0, static_bytes_ = 0;
  int n_ = 0, cur_ = 0;
  bool failed_ = false;
  uint64_t rng_ = 0;
  Block block_;
  const Launch* launch_ = nullptr;
  std::string err_;
  void* sched_sp_ = nullptr;
#if !defined(__x86_64__)
  ucontext_t sched_uc_;
#endif
  void* sched_fake_ = nullptr;
  const void* sched_bottom_ = nullptr;
  size_t sched_size_ = 0;
};

thread_local Executor* t_ex = nullptr;

#if defined(MMPREF_EMU_ASAN)
// An ASan report inside a kernel: say which kernel, block and thread was running.
void on_asan_death() {
  if (t_ex && t_ex->launch() && t_block && t_thread)
    std::fprintf(stderr, "mmpref CUDA emulator: ASan report in kernel %s block (%u,%u,%u) thread (%u,%u,%u)\n",
                 t_ex->launch()->name, t_block->idx.x, t_block->idx.y, t_block->idx.z, t_thread->idx.x,
                 t_thread->idx.y, t_thread->idx.z);
}
#endif

Executor& executor() {
  if (!t_ex) {
    t_ex = new Executor();  // per host thread; leaked at exit (fibers may be mid-block)
#if defined(MMPREF_EMU_ASAN)
    static std::once_flag once;
    std::call_once(once, [] { __sanitizer_set_death_callback(on_asan_death); });
#endif
  }
  return *t_ex;
}

void fiber_main() {
  Executor& ex = *t_ex;
  ex.entered();
  const Launch* L = ex.launch();
  L->run(L->closure);
  ex.finish_current();
  std::abort();
}

// ---- kernel log: which kernels ran (MMPREF_EMU_KERNEL_LOG=file, one name per line) -------------------
std::string base_name(const char* text) {
  std::string s(text);
  const size_t lt = s.find('<');
  if (lt != std::string::npos) s.resize(lt);
  size_t b = 0;
  while (b < s.size() && (s[b] == '(' || s[b] == ' ')) ++b;
  s = s.substr(b);
  while (!s.empty() && (s.back() == ' ' || s.back() == ')')) s.pop_back();
  const size_t colon = s.rfind("::");
  if (colon != std::string::npos) s = s.substr(colon + 2);
  return s;
}
void record(const char* name) {
  static std::mutex mu;
  static std::set<std::string>* seen = new std::set<std::string>;
  static const char* path = std::getenv("MMPREF_EMU_KERNEL_LOG");
  const std::string b = base_name(name);
  std::lock_guard<std::mutex> lk(mu);
  if (!seen->insert(b).second || !path || !*path) return;
  if (FILE* f = std::fopen(path, "a")) {
    std::fprintf(f, "%s\n", b.c_str());
    std::fclose(f);
  }
}

std::mutex g_func_mu;
std::map<const void*, int>& func_smem() {
  static auto* m = new std::map<const void*, int>;
  return *m;
}

// ---- device memory: host heap, registered so copies can check their device pointers -----------------
struct Alloc {
  std::mutex mu;
  std::map<uintptr_t, size_t> live;
  size_t used = 0;
};
Alloc& allocs() {
  static Alloc* a = new Alloc;
  return *a;
}
bool is_device(const void* p, size_t bytes) {
  Alloc& a = allocs();
  std::lock_guard<std::mutex> lk(a.mu);
  const uintptr_t u = reinterpret_cast<uintptr_t>(p);
  auto it = a.live.upper_bound(u);
  if (it == a.live.begin()) return false;
  --it;
  return u >= it->first && u + bytes <= it->first + std::max<size_t>(it->second, 1);
}

// Persistent helper threads (each keeps its Executor: fiber stacks and shared memory). One launch
// at a time uses them; a launch from another host thread meanwhile runs its blocks alone.
class Pool {
 public:
  // Runs job on `helpers` pool threads and on the caller; returns when all are done.
  void run(int helpers, const std::function<void()>& job) {
    std::unique_lock<std::mutex> use(use_, std::try_to_lock);
    if (!use.owns_lock()) return job();
    {
      std::lock_guard<std::mutex> lk(mu_);
      while (int(threads_.size()) < helpers) threads_.emplace_back([this, id = int(threads_.size())] { loop(id); });
      job_ = &job;
      active_ = helpers;
      pending_ = helpers;
      ++gen_;
    }
    cv_.notify_all();
    job();
    std::unique_lock<std::mutex> lk(mu_);
    done_.wait(lk, [&] { return pending_ == 0; });
    job_ = nullptr;
  }

 private:
  void loop(int id) {
    uint64_t seen = 0;
    for (;;) {
      const std::function<void()>* job;
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return gen_ != seen; });
        seen = gen_;
        if (id >= active_) continue;
        job = job_;
      }
      (*job)();
      std::lock_guard<std::mutex> lk(mu_);
      if (--pending_ == 0) done_.notify_all();
    }
  }
  std::mutex use_, mu_;
  std::condition_variable cv_, done_;
  std::vector<std::thread> threads_;  // detached in spirit: the pool lives until the process exits
  const std::function<void()>* job_ = nullptr;
  int active_ = 0, pending_ = 0;
  uint64_t gen_ = 0;
};
Pool& pool() {
  static Pool* p = new Pool;
  return *p;
}

}  // namespace

// ---- entry points used by the header ----------------------------------------------------------------
uint64_t warp_collective(Coll op, unsigned mask, uint64_t value, int arg, int width, const char* file, int line) {
  return executor().collective(op, mask, value, arg, width, file, line);
}
int block_barrier(int op, int pred, const char* file, int line) { return executor().barrier(op, pred, file, line); }
void* shared_var(const void* key, size_t bytes, size_t align, const char* name) {
  return executor().shared(key, bytes, align, name);
}
void* dynamic_shared() { return executor().dynamic(); }
void trap(const char* what, const char* file, int line) {
  executor().thread_error(std::string(what) + " at " + file + ":" + std::to_string(line));
}
void set_func_max_dynamic_smem(const void* func, int bytes) {
  std::lock_guard<std::mutex> lk(g_func_mu);
  func_smem()[func] = bytes;
}

void launch(const char* name, dim3 grid, dim3 block, size_t smem, cudaStream_t, void (*run)(const void*),
            const void* closure, const void* func) {
  static std::atomic<uint64_t> launches{0};
  record(name);
  if (t_err != cudaSuccess) return;  // an unread launch error is sticky for this host thread's launches
  const std::string kn = base_name(name);
  const uint64_t threads = uint64_t(block.x) * block.y * block.z;
  if (threads == 0 || threads > 1024 || block.x > 1024 || block.y > 1024 || block.z > 64 || grid.x == 0 ||
      grid.y == 0 || grid.z == 0 || grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535) {
    fail(cudaErrorInvalidConfiguration,
         "invalid configuration argument: kernel " + kn + " grid (" + std::to_string(grid.x) + "," +
             std::to_string(grid.y) + "," + std::to_string(grid.z) + ") block (" + std::to_string(block.x) + "," +
             std::to_string(block.y) + "," + std::to_string(block.z) + ")");
    return;
  }
  size_t allowed = kStaticSmemLimit;
  {
    std::lock_guard<std::mutex> lk(g_func_mu);
    auto it = func_smem().find(func);
    if (it != func_smem().end()) allowed = size_t(it->second);
  }
  if (smem > allowed) {
    fail(cudaErrorInvalidValue, "invalid argument: kernel " + kn + " asks for " + std::to_string(smem) +
                                    " bytes of dynamic shared memory; " + std::to_string(allowed) +
                                    " allowed (cudaFuncSetAttribute MaxDynamicSharedMemorySize)");
    return;
  }
  Launch L{name, grid, block, smem, run, closure, launches.fetch_add(1)};
  const uint64_t nblocks = uint64_t(grid.x) * grid.y * grid.z;
  auto coord = [&](uint64_t b) {
    return uint3{unsigned(b % grid.x), unsigned(b / grid.x % grid.y), unsigned(b / (uint64_t(grid.x) * grid.y))};
  };
  const int nw = int(std::min<uint64_t>(uint64_t(workers()), nblocks));
  std::string msg;
  if (nw <= 1 || nblocks * threads < 4096) {
    Executor& ex = executor();
    for (uint64_t b = 0; b < nblocks; ++b)
      if (!ex.run_block(L, coord(b), &msg)) break;
  } else {
    std::atomic<uint64_t> next{0};  // blocks handed out in order to the pool's threads
    std::atomic<bool> stop{false};
    std::mutex mu;
    auto work = [&] {
      Executor& ex = executor();
      std::string m;
      for (uint64_t b; !stop.load() && (b = next.fetch_add(1)) < nblocks;) {
        if (!ex.run_block(L, coord(b), &m)) {
          std::lock_guard<std::mutex> lk(mu);
          if (msg.empty()) msg = m;
          stop = true;
        }
      }
    };
    pool().run(nw - 1, work);
  }
  if (!msg.empty()) {
    std::fprintf(stderr, "mmpref CUDA emulator: %s\n", msg.c_str());
    fail(cudaErrorLaunchFailure, "unspecified launch failure: " + msg);
  }
}

}  // namespace mmpref::emu

// ---- runtime API ------------------------------------------------------------------------------------
using mmpref::emu::fail;
using mmpref::emu::t_err;
using mmpref::emu::t_msg;

cudaError_t cudaGetLastError() {
  const cudaError_t e = t_err;
  t_err = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError() { return t_err; }
const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    default: return "cudaErrorUnknown";
  }
}
const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInsufficientDriver: return "CUDA driver version is insufficient for CUDA runtime version";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    default: return t_msg.empty() ? cudaGetErrorName(e) : t_msg.c_str();
  }
}
cudaError_t cudaRuntimeGetVersion(int* v) { *v = 13000; return cudaSuccess; }
cudaError_t cudaDriverGetVersion(int* v) { *v = 13000; return cudaSuccess; }
cudaError_t cudaGetDeviceCount(int* n) { *n = 1; return cudaSuccess; }
namespace {
thread_local int t_device = 0;
}
cudaError_t cudaSetDevice(int d) {
  if (d != 0) return fail(cudaErrorInvalidDevice, "invalid device ordinal");
  t_device = d;
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* d) { *d = t_device; return cudaSuccess; }
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int d) {
  if (d != 0) return fail(cudaErrorInvalidDevice, "invalid device ordinal");
  std::memset(p, 0, sizeof *p);
  std::snprintf(p->name, sizeof p->name, "mmpref CUDA emulator");
  p->totalGlobalMem = mmpref::emu::memory_limit();
  p->sharedMemPerBlock = mmpref::emu::kStaticSmemLimit;
  p->sharedMemPerBlockOptin = mmpref::emu::kSmemOptin;
  p->warpSize = 32;
  p->maxThreadsPerBlock = 1024;
  p->maxThreadsDim[0] = p->maxThreadsDim[1] = 1024;
  p->maxThreadsDim[2] = 64;
  p->maxGridSize[0] = 0x7fffffff;
  p->maxGridSize[1] = p->maxGridSize[2] = 65535;
  p->major = 9;
  p->minor = 0;
  p->multiProcessorCount = mmpref::emu::sms();
  return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr a, int d) {
  cudaDeviceProp p;
  if (cudaGetDeviceProperties(&p, d) != cudaSuccess) return cudaErrorInvalidDevice;
  switch (a) {
    case cudaDevAttrMaxThreadsPerBlock: *v = p.maxThreadsPerBlock; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *v = int(p.sharedMemPerBlock); break;
    case cudaDevAttrWarpSize: *v = 32; break;
    case cudaDevAttrMultiProcessorCount: *v = p.multiProcessorCount; break;
    case cudaDevAttrComputeCapabilityMajor: *v = p.major; break;
    case cudaDevAttrComputeCapabilityMinor: *v = p.minor; break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *v = int(p.sharedMemPerBlockOptin); break;
    default: return fail(cudaErrorInvalidValue, "cudaDeviceGetAttribute: attribute not emulated");
  }
  return cudaSuccess;
}
// Streams and events: every call completes before it returns.
cudaError_t cudaDeviceSynchronize() { return t_err; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return t_err; }
cudaError_t cudaStreamCreate(cudaStream_t* s) { *s = reinterpret_cast<cudaStream_t>(0x10); return cudaSuccess; }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) { return cudaStreamCreate(s); }
cudaError_t cudaStreamDestroy(cudaStream_t) { return cudaSuccess; }
namespace {
struct EmuEvent { std::chrono::steady_clock::time_point t; };
}
cudaError_t cudaEventCreate(cudaEvent_t* e) {
  *e = reinterpret_cast<cudaEvent_t>(new EmuEvent{std::chrono::steady_clock::now()});
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) { delete reinterpret_cast<EmuEvent*>(e); return cudaSuccess; }
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t) {
  reinterpret_cast<EmuEvent*>(e)->t = std::chrono::steady_clock::now();
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b) {
  *ms = std::chrono::duration<float, std::milli>(reinterpret_cast<EmuEvent*>(b)->t - reinterpret_cast<EmuEvent*>(a)->t).count();
  return cudaSuccess;
}

cudaError_t cudaMalloc(void** p, size_t bytes) {
  using namespace mmpref::emu;
  *p = nullptr;
  Alloc& a = allocs();
  {
    std::lock_guard<std::mutex> lk(a.mu);
    if (bytes > memory_limit() - a.used) return fail(cudaErrorMemoryAllocation, "out of memory");
  }
  void* q = nullptr;
  if (posix_memalign(&q, 256, bytes ? bytes : 1) != 0) return fail(cudaErrorMemoryAllocation, "out of memory");
  std::lock_guard<std::mutex> lk(a.mu);
  a.live[reinterpret_cast<uintptr_t>(q)] = bytes;
  a.used += bytes;
  *p = q;
  return cudaSuccess;
}
cudaError_t cudaFree(void* p) {
  using namespace mmpref::emu;
  if (!p) return cudaSuccess;
  Alloc& a = allocs();
  {
    std::lock_guard<std::mutex> lk(a.mu);
    auto it = a.live.find(reinterpret_cast<uintptr_t>(p));
    if (it == a.live.end()) return fail(cudaErrorInvalidValue, "cudaFree: not a device allocation");
    a.used -= it->second;
    a.live.erase(it);
  }
  std::free(p);
  return cudaSuccess;
}
cudaError_t cudaMallocAsync(void** p, size_t bytes, cudaStream_t) { return cudaMalloc(p, bytes); }
cudaError_t cudaFreeAsync(void* p, cudaStream_t) { return cudaFree(p); }
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind k) {
  using mmpref::emu::is_device;
  if (bytes == 0) return cudaSuccess;
  const bool dd = k == cudaMemcpyHostToDevice || k == cudaMemcpyDeviceToDevice;
  const bool sd = k == cudaMemcpyDeviceToHost || k == cudaMemcpyDeviceToDevice;
  if ((dd && !is_device(dst, bytes)) || (sd && !is_device(src, bytes)))
    return fail(cudaErrorInvalidValue, "cudaMemcpy: a device pointer is outside every device allocation");
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind k, cudaStream_t) {
  return cudaMemcpy(dst, src, bytes, k);
}
cudaError_t cudaMemcpy2D(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                         cudaMemcpyKind k) {
  if (width == 0 || height == 0) return cudaSuccess;
  if (width > dpitch || width > spitch) return fail(cudaErrorInvalidValue, "cudaMemcpy2D: width exceeds a pitch");
  const bool dd = k == cudaMemcpyHostToDevice || k == cudaMemcpyDeviceToDevice;
  const bool sd = k == cudaMemcpyDeviceToHost || k == cudaMemcpyDeviceToDevice;
  const size_t dspan = dpitch * (height - 1) + width, sspan = spitch * (height - 1) + width;
  if ((dd && !mmpref::emu::is_device(dst, dspan)) || (sd && !mmpref::emu::is_device(src, sspan)))
    return fail(cudaErrorInvalidValue, "cudaMemcpy2D: a device region is outside every device allocation");
  for (size_t r = 0; r < height; ++r)
    std::memmove(static_cast<char*>(dst) + r * dpitch, static_cast<const char*>(src) + r * spitch, width);
  return cudaSuccess;
}
cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                              cudaMemcpyKind k, cudaStream_t) {
  return cudaMemcpy2D(dst, dpitch, src, spitch, width, height, k);
}
cudaError_t cudaMemset(void* dst, int v, size_t bytes) {
  if (bytes == 0) return cudaSuccess;
  if (!mmpref::emu::is_device(dst, bytes))
    return fail(cudaErrorInvalidValue, "cudaMemset: the pointer is outside every device allocation");
  std::memset(dst, v, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* dst, int v, size_t bytes, cudaStream_t) { return cudaMemset(dst, v, bytes); }
cudaError_t cudaMemGetInfo(size_t* free_b, size_t* total_b) {
  using namespace mmpref::emu;
  Alloc& a = allocs();
  std::lock_guard<std::mutex> lk(a.mu);
  *total_b = memory_limit();
  *free_b = memory_limit() - a.used;
  return cudaSuccess;
}
