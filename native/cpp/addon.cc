// The addon's entry point: sets up per-env state, then runs every binding/<op>.cc registration
// (MMPREF_REGISTER_BINDING). Nothing else lives here.
#include <napi.h>

#include "binding/napi_util.h"

namespace {
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  mmpref::napi::init_env(env, exports);
  for (auto fn : mmpref::napi::registry()) fn(env, exports);
  return exports;
}
}  // namespace

NODE_API_MODULE(mmpref, Init)
