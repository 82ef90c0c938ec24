// Diffusion timesteps shared by noise.diffuse and noise.predictionLoss: t is -1 (no noise) or a
// step of the schedule, [0, steps); anything else is one ERR_RANGE, worded the same on every device.
#pragma once

#include <cstdint>
#include <string>

#include "../core/hd.h"
#include "../core/status.h"

namespace mmpref {

MMPREF_HD bool timestep_ok(int32_t t, int64_t steps) { return t == -1 || (t >= 0 && int64_t(t) < steps); }

inline Status timestep_error(const char* op, int64_t steps, int64_t b, int32_t t) {
  return make_status(Code::kRange, std::string(op) + ": expected t in [-1, " + std::to_string(steps - 1) +
                                       "] but received " + std::to_string(t) + " for sample " + std::to_string(b));
}

}  // namespace mmpref
