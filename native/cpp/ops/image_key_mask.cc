// CPU image-key mask: rows in parallel; a row is first copied from the base mask (or set to 1),
// then every position inside the row's spans draws its Philox word.
#include <cstring>
#include <vector>

#include "../core/thread_pool.h"
#include "image_key_mask.h"

namespace mmpref {

Status image_key_mask_cpu(const ImageKeyMaskArgs& a) {
  if (a.batch * a.length == 0) return Status::Ok();  // nothing to write (out may be null)
  // spans grouped by row, in the order given (each position is written once: no overlaps)
  std::vector<std::vector<ImageKeySpan>> by_row(size_t(a.batch));
  for (const ImageKeySpan& s : a.spans) by_row[size_t(s.row)].push_back(s);
  parallel_for(a.batch, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      uint8_t* o = a.out + b * a.length;
      if (a.base) {
        const uint8_t* in = a.base + b * a.length;
        for (int64_t p = 0; p < a.length; ++p) o[p] = in[p] != 0;
      } else {
        std::memset(o, 1, size_t(a.length));
      }
      for (const ImageKeySpan& s : by_row[size_t(b)])
        for (int64_t p = s.start; p < s.start + s.length; ++p)
          if (image_key_blocked(a.seed, a.offset, b, p, a.threshold)) o[p] = 0;
    }
  });
  return Status::Ok();
}

}  // namespace mmpref
