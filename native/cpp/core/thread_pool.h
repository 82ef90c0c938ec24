// The process-wide CPU thread pool shared by every op (and every worker_thread of the process).
//
// parallel_for(n, grain, fn) runs fn(begin, end) over disjoint chunks covering [0, n) and returns
// when all are done; the calling thread works too. Chunk boundaries depend on the thread count, so
// an op whose result must not depend on it (all of them) reduces only within work items whose
// bounds it fixes itself (rows, fixed-size column blocks) and merges partials in a fixed order.
// Nested calls are allowed: a waiting caller only waits on chunks that running threads own.
#pragma once

#include <cstdint>
#include <functional>

namespace mmpref {

// Threads used by parallel_for (>= 1). Initially MMPREF_NUM_THREADS or the CPUs this process may
// run on.
int num_threads();
// Changes the pool size for later calls (1..1024); threads are created on demand.
void set_num_threads(int n);

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace mmpref

// MMPREF_CPU_CLONES and cpu_simd_level() live in cpu_isa.h (kept included here for the ops).
#include "cpu_isa.h"
