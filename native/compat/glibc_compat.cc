// Keeps the shipped addon loadable on older glibc: 2.28 on x86-64, 2.17 on aarch64 (the baseline),
// though it is built on a newer one (Debian 12, glibc 2.36).
//
// The linker binds an undefined reference to the newest version of the symbol in the build host's
// libc.so.6. For the symbols whose newest version is above the baseline, CMake links with
// -Wl,--wrap=<sym> (the list MMPREF_GLIBC_WRAP in CMakeLists.txt), which sends every reference,
// including those from the static libstdc++ and from CUDA's static runtime, to __wrap_<sym> here.
// Each __wrap_<sym> is a tail jump (arguments untouched, so varargs too) to <sym>@<old version>,
// bound with .symver. The old versions are the same functions: glibc 2.29 only dropped the SVID
// error handling of exp/log/pow/exp2/log2, and 2.34 moved pthread_*, dl*, sem_*, shm_* from
// libpthread/libdl/librt into libc under a new version (Node links libpthread and libdl, so the
// old definitions are in the process on older systems).
// scripts/check-glibc.sh fails the build when a needed version is above the baseline.
#include <features.h>  // defines __GLIBC__
#if defined(__linux__) && defined(__GLIBC__) && (defined(__x86_64__) || defined(__aarch64__))
#include <stdint.h>
#include <unistd.h>  // getentropy (glibc 2.25)

#if defined(__x86_64__)
#define MMPREF_BASE "GLIBC_2.2.5"
#define MMPREF_JMP(target) "jmp " target "@PLT"
#else
#define MMPREF_BASE "GLIBC_2.17"
#define MMPREF_JMP(target) "b " target
#endif

#define MMPREF_TRAMPOLINE_V(name, version)                            \
  __asm__(".symver mmpref_old_" #name "," #name "@" version "\n"      \
          ".text\n"                                                   \
          ".globl __wrap_" #name "\n"                                 \
          ".hidden __wrap_" #name "\n"                                \
          ".type __wrap_" #name ",%function\n"                        \
          "__wrap_" #name ":\n"                                       \
          "  " MMPREF_JMP("mmpref_old_" #name) "\n"                   \
          ".size __wrap_" #name ",.-__wrap_" #name "\n");
#define MMPREF_TRAMPOLINE(name) MMPREF_TRAMPOLINE_V(name, MMPREF_BASE)

// libm: new versions in 2.29
MMPREF_TRAMPOLINE(exp)
MMPREF_TRAMPOLINE(exp2)
MMPREF_TRAMPOLINE(log)
MMPREF_TRAMPOLINE(log2)
MMPREF_TRAMPOLINE(pow)
// libpthread -> libc in 2.34 (pthread_sigmask: 2.32)
MMPREF_TRAMPOLINE(pthread_create)
MMPREF_TRAMPOLINE(pthread_join)
MMPREF_TRAMPOLINE(pthread_detach)
MMPREF_TRAMPOLINE(pthread_kill)
MMPREF_TRAMPOLINE(pthread_sigmask)
MMPREF_TRAMPOLINE(pthread_once)
MMPREF_TRAMPOLINE(pthread_key_create)
MMPREF_TRAMPOLINE(__pthread_key_create)
MMPREF_TRAMPOLINE(pthread_key_delete)
MMPREF_TRAMPOLINE(pthread_getspecific)
MMPREF_TRAMPOLINE(pthread_setspecific)
MMPREF_TRAMPOLINE(pthread_mutex_trylock)
MMPREF_TRAMPOLINE(pthread_mutexattr_init)
MMPREF_TRAMPOLINE(pthread_mutexattr_destroy)
MMPREF_TRAMPOLINE(pthread_mutexattr_settype)
MMPREF_TRAMPOLINE(pthread_mutexattr_setpshared)
MMPREF_TRAMPOLINE(pthread_condattr_setpshared)
MMPREF_TRAMPOLINE(pthread_rwlock_init)
MMPREF_TRAMPOLINE(pthread_rwlock_destroy)
MMPREF_TRAMPOLINE(pthread_rwlock_rdlock)
MMPREF_TRAMPOLINE(pthread_rwlock_wrlock)
MMPREF_TRAMPOLINE(pthread_rwlock_tryrdlock)
MMPREF_TRAMPOLINE(pthread_rwlock_trywrlock)
MMPREF_TRAMPOLINE(pthread_rwlock_timedrdlock)
MMPREF_TRAMPOLINE(pthread_rwlock_timedwrlock)
MMPREF_TRAMPOLINE(pthread_rwlock_unlock)
MMPREF_TRAMPOLINE(pthread_rwlockattr_init)
MMPREF_TRAMPOLINE(pthread_rwlockattr_destroy)
MMPREF_TRAMPOLINE(pthread_rwlockattr_setpshared)
MMPREF_TRAMPOLINE(pthread_spin_init)
MMPREF_TRAMPOLINE(pthread_spin_destroy)
MMPREF_TRAMPOLINE(pthread_spin_lock)
MMPREF_TRAMPOLINE(pthread_spin_trylock)
MMPREF_TRAMPOLINE(pthread_spin_unlock)
MMPREF_TRAMPOLINE(sem_init)
MMPREF_TRAMPOLINE(sem_destroy)
MMPREF_TRAMPOLINE(sem_post)
MMPREF_TRAMPOLINE(sem_wait)
MMPREF_TRAMPOLINE(sem_trywait)
MMPREF_TRAMPOLINE(sem_timedwait)
// libdl / librt -> libc in 2.34 (CUDA's static runtime)
MMPREF_TRAMPOLINE(dlopen)
MMPREF_TRAMPOLINE(dlclose)
MMPREF_TRAMPOLINE(dlsym)
MMPREF_TRAMPOLINE(dlvsym)
MMPREF_TRAMPOLINE(dlerror)
#if defined(__x86_64__)
MMPREF_TRAMPOLINE_V(dlmopen, "GLIBC_2.3.4")
#else
MMPREF_TRAMPOLINE(dlmopen)
#endif
MMPREF_TRAMPOLINE(shm_open)
MMPREF_TRAMPOLINE(shm_unlink)

extern "C" {
// glibc >= 2.32 headers make libstdc++'s reference counting read __libc_single_threaded; 0
// ("other threads may exist") always takes the atomic path, which is right everywhere.
__attribute__((visibility("hidden"))) char __wrap___libc_single_threaded = 0;

// arc4random (2.36, no older version) is referenced by the static libstdc++'s std::random_device,
// which mmpref never constructs; a getentropy-based stand-in keeps the reference satisfiable.
__attribute__((visibility("hidden"))) uint32_t __wrap_arc4random(void) {
  uint32_t v = 0;
  if (getentropy(&v, sizeof v) != 0) v = 0;
  return v;
}
}
#endif
