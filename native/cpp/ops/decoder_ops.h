// The decoder layer ops, one stem each: rms_norm.h, rotary.h, swiglu.h, add.h, embedding.h.
// This header only gathers them for native/cuda/decoder_ops.cu, which implements their CUDA
// launchers in one file.
#pragma once

#include "add.h"
#include "embedding.h"
#include "rms_norm.h"
#include "rotary.h"
#include "swiglu.h"
