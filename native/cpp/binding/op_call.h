// The one binding path every op goes through. An op's arguments are declared once, in
// lib/ops/<stem>.args.ts; scripts/gen-args.ts renders that declaration into
// binding/args/<stem>.h (index constants + an ArgDecl table). Call reads the arguments from that
// table, so no binding reads an argument by a hand-written index or repeats a name or a dtype set.
//
// What Call::read() guarantees, for every op:
//  1. every JS value (tensor fields, shape entries, getters included) is read before any pointer
//     is taken, so a getter cannot free or detach a buffer that was already checked;
//  2. dtype code, shape (non-negative integers, int64 product), device, storage type and byte
//     length are checked against the declaration; messages name the op and the argument;
//  3. a written tensor may share memory with another argument only where it declares `inPlace`
//     for that input, and then only as exactly the same bytes; anything else is ERR_ARGUMENT;
//  4. `index` tensors (token ids, cuSeqlens, spans, lengths, history) on the host are copied once
//     into native memory: the op checks and uses only that copy, so a concurrent writer (a
//     SharedArrayBuffer) can change a result, never an address;
//  5. Async (the trailing flag true): host tensors in a non-shared ArrayBuffer are copied into
//     native memory (outputs copied back when the op settles, ERR_DETACHED if the buffer was
//     detached meanwhile), so postMessage/structuredClone transfer, resizing or GC of the JS
//     buffer cannot pull memory from under the op; SharedArrayBuffers, which cannot be detached,
//     are used in place and kept alive by a reference; CUDA buffers are kept alive by shared
//     ownership (dispose() is deferred). Sync calls use every buffer in place (no JS runs).
//  6. Async completion uses only the C N-API and never throws, so a worker exiting or being
//     terminated with ops in flight cannot take the process down (binding/op_call.cc).
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "napi_util.h"

namespace mmpref::napi {

// kDims: an array of at most kMaxDims integers (a permutation); kU64Array: null or a
// BigUint64Array (per-row seeds), copied when read.
enum class ArgKind : uint8_t { kTensor, kNumber, kInteger, kBoolean, kU64, kString, kDims, kU64Array };
enum ArgFlag : uint32_t { kOptional = 1u, kWrite = 2u, kIndex = 4u };

// A number's declared range (always finite); `text` is the rule as TS words it ("a finite number >= 0").
enum RangeFlag : uint8_t { kHasMin = 1u, kHasMax = 2u, kHasGt = 4u, kHasLt = 8u };
struct NumRange {
  double min, max, gt, lt;
  uint8_t has;
  const char* text;
};

// Shape pattern entries: a literal size (>= 0), the leading '...' group (kEllipsis), or the named
// dim k of the op (kNamedDim - k). Named dims are unified across the op's arguments; the group too.
constexpr int32_t kEllipsis = -1;
constexpr int32_t kNamedDim = -2;

struct ArgDecl {
  const char* name;
  ArgKind kind;
  uint32_t flags;
  uint32_t dtypes;    // bit set of allowed dtype codes (tensors)
  uint32_t in_place;  // bit set of argument indices this output may be exactly
  int64_t lo, hi;     // integer bounds (kInteger)
  const int32_t* shape = nullptr;  // tensors: the pattern (nullptr: any shape)
  int shape_len = 0;
  int like = -1;                   // tensors: same shape and dtype as this argument
  const NumRange* range = nullptr; // numbers: the checked range
};

struct OpDecl {
  const char* name;   // the export
  const char* label;  // the public name messages start with ("noise.diffuse")
  const ArgDecl* args;
  int count;
  const char* const* dim_names = nullptr;  // the named dims of the shape patterns
  int dim_count = 0;
};

constexpr int kMaxArgs = 16;
constexpr int kMaxNamedDims = 16;


// The arguments of one call, read and checked against an OpDecl.
class Call {
 public:
  Call(const Napi::CallbackInfo& info, const OpDecl& decl, Job* job) : info_(info), decl_(decl), job_(job) {}

  // Reads and checks every argument (see the header comment). Call once, first.
  Status read();

  const char* op() const { return decl_.label; }
  bool async() const { return async_; }
  Job* job() const { return job_; }
  // Tensor argument i (a default TensorView when absent: data nullptr, so t(i).ptr<T>() is the
  // optional pointer).
  const TensorView& t(int i) const { return v_[i].t; }
  const TensorView* opt(int i) const { return v_[i].present ? &v_[i].t : nullptr; }
  bool has(int i) const { return v_[i].present; }
  double number(int i) const { return v_[i].num; }
  int64_t integer(int i) const { return v_[i].i64; }
  bool boolean(int i) const { return v_[i].flag; }
  uint64_t u64(int i) const { return v_[i].u; }
  const std::string& string(int i) const { return v_[i].str; }
  const std::vector<int64_t>& dims(int i) const { return v_[i].dims; }
  const std::vector<uint64_t>& u64s(int i) const { return v_[i].u64s; }
  const char* name(int i) const { return decl_.args[i].name; }
  // The size bound to named dim k of the shape patterns (A::dim::D); -1 when no present argument has it.
  int64_t dim(int k) const { return dims_[k]; }
  // Elements in the leading '...' group (1 when no present argument has it).
  int64_t lead_numel() const { return lead_numel_; }

  // Messages "<op>: expected <name> ... but received ...".
  Status error(Code code, const std::string& msg) const;
  // Argument a has exactly b's shape (and dtype when `dtype`).
  Status same_shape(int a, int b, bool dtype = false) const;
  Status same_dtype(int a, int b) const;
  // Argument a has exactly `dims`; `from` explains the expectation ("x [2, 3]").
  Status shape_is(int a, std::initializer_list<int64_t> dims, const std::string& from) const;
  Status numel_is(int a, int64_t n, const std::string& from) const;
  // All present tensor arguments on one device.
  Status one_device() const;
  // A finite number in [lo, hi] (ERR_RANGE otherwise).
  Status finite_in(int a, double lo, double hi) const;

 private:
  struct Value {
    bool present = false;
    TensorView t;
    double num = 0;
    int64_t i64 = 0;
    bool flag = false;
    uint64_t u = 0;
    std::string str;
    std::vector<int64_t> dims;
    std::vector<uint64_t> u64s;
    // tensor fields as read from JS in phase 1
    napi_value store = nullptr;
    double code = -1, device = -2;
    bool shape_ok = false;
    bool shared = false;  // host storage in a SharedArrayBuffer
    napi_value typed_array = nullptr;
  };
  Status read_js(int i);       // phase 1: JS values only
  Status take_tensor(int i);   // phase 2: pointers, no JS runs
  Status check_overlaps() const;
  Status check_shapes();       // the declared patterns and `like` relations
  Status check_pattern(int i);
  Status check_range(int i) const;
  Status copy_host(int i);     // index copies, Async copies
  
  const Napi::CallbackInfo& info_;
  const OpDecl& decl_;
  Job* job_;
  bool async_ = false;
  Value v_[kMaxArgs];
  const void* orig_[kMaxArgs] = {};  // host/device pointers before any copy
  napi_value keys_[kTensorKeyCount];
  bool have_keys_ = false;
  int64_t dims_[kMaxNamedDims];
  int dim_from_[kMaxNamedDims];
  int lead_from_ = -1;        // the argument that bound the '...' group
  int64_t lead_numel_ = 1;
};

// The generic entry point: reads the declared arguments, lets `prepare` check the op's shape
// relations and fill its job, then runs the job (sync or Async) and converts any Status into a
// thrown or rejected MmprefError.
using PrepareFn = Status (*)(const Call& c, Job* job);
using MakeJobFn = std::unique_ptr<Job> (*)();
Napi::Value run_op(const Napi::CallbackInfo& info, const OpDecl& decl, MakeJobFn make, PrepareFn prepare);

// Registers an op under its declared name: in binding/<stem>.cc
//   MMPREF_BIND_OP(args::rms_norm, RmsNormJob, prepare_rms_norm);
// with `Status prepare_rms_norm(const Call& c, RmsNormJob* job)`.
struct OpRegistrar {
  OpRegistrar(const OpDecl& decl, Napi::Value (*entry)(const Napi::CallbackInfo&));
};

}  // namespace mmpref::napi

// The whole opening of an op whose job is one launcher pair, then prepare's body:
//   MMPREF_LAUNCH_OP(args::rms_norm, RmsNormArgs, rms_norm, prepare) {
//     ... A::x, A::dim::D name the declared arguments and dims; fill job->args ...
//   }
// declares LaunchJob<RmsNormArgs, rms_norm_cpu, rms_norm_cuda> and binds prepare<args::rms_norm>.
#define MMPREF_LAUNCH_OP(DECL, ARGS, STEM, FN)                                                            \
  using FN##_job = ::mmpref::napi::LaunchJob<ARGS, STEM##_cpu, MMPREF_CUDA(STEM##_cuda)>;                \
  template <class A>                                                                                       \
  static ::mmpref::Status FN(const ::mmpref::napi::Call& c, FN##_job* job);                          \
  MMPREF_BIND_OP(DECL, FN##_job, FN<DECL>);                                                                \
  template <class A>                                                                                       \
  static ::mmpref::Status FN(const ::mmpref::napi::Call& c, FN##_job* job)

#define MMPREF_BIND_OP_CAT2(a, b) a##b
#define MMPREF_BIND_OP_CAT(a, b) MMPREF_BIND_OP_CAT2(a, b)
#define MMPREF_BIND_OP(DECL, JOB, PREPARE)                                                              \
  static ::mmpref::napi::OpRegistrar MMPREF_BIND_OP_CAT(mmpref_op_, __LINE__)(                           \
      DECL::kDecl, [](const Napi::CallbackInfo& info) -> Napi::Value {                                    \
        return ::mmpref::napi::run_op(                                                                    \
            info, DECL::kDecl, [] { return std::unique_ptr<::mmpref::napi::Job>(new JOB()); },           \
            [](const ::mmpref::napi::Call& c, ::mmpref::napi::Job* j) { return PREPARE(c, static_cast<JOB*>(j)); }); \
      })

namespace mmpref::napi {

// A job that runs one launcher pair on args.device. In a build without CUDA the CUDA launcher is
// not referenced (MMPREF_CUDA(f) is nullptr) and a CUDA tensor is ERR_DEVICE:
//   using LinearJob = LaunchJob<LinearArgs, linear_cpu, MMPREF_CUDA(linear_cuda)>;
template <class A, Status (*CPU)(const A&), Status (*CUDA)(const A&)>
struct LaunchJob : Job {
  A args{};
  Status run() override {
    if (args.device < 0) return CPU(args);
    // (a preprocessor switch, not `if constexpr (CUDA == nullptr)`: GCC's sanitizer builds do not
    // treat a function's address compared with null as a constant expression)
#if MMPREF_HAVE_CUDA
    return CUDA(args);
#else
    return make_status(Code::kDevice, "expected a CPU tensor: this build has no CUDA support");
#endif
  }
};

constexpr double kFloatMax = 3.4028234663852886e38;

}  // namespace mmpref::napi

#if MMPREF_HAVE_CUDA
#define MMPREF_CUDA(f) f
#else
#define MMPREF_CUDA(f) nullptr
#endif
