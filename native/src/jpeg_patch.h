// A rectangle of RGB pixels written into a JPEG's quantised DCT coefficients: the per-block
// arithmetic (shared by both ways of reaching the coefficients) and the entropy splice, which
// reaches them without libjpeg for the common baseline files. See jpeg_patch.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace bdlab {

struct PatchRect {
  unsigned x, y, w, h;
  const unsigned char* rgb;  // w × h × 3
};

// Recomputes one 8×8 block of component `ci` (0 Y, 1 Cb, 2 Cr) at block position (bx, by), with
// fx × fy image pixels per sample: coefficients and quantisation table in natural (row-major)
// order. Returns whether any coefficient changed.
bool PatchBlock(int16_t* block, const uint16_t* quant, unsigned fx, unsigned fy, unsigned bx, unsigned by, int ci, const PatchRect& p);

// Whether the rectangle is non-empty and lies within a width × height image (without unsigned wrap).
bool FitsIn(const PatchRect& p, unsigned width, unsigned height);

// The touched blocks of a component, inclusive, in block coordinates.
struct BlockSpan {
  unsigned bx0, bx1, by0, by1;
};
BlockSpan TouchedBlocks(const PatchRect& p, unsigned fx, unsigned fy);

enum class Splice { kDone, kNotApplicable };

// The patch written by re-encoding only the tail of the entropy-coded data, from the first MCU
// the patch touches: everything before it is copied byte for byte, headers included. Applies to
// baseline (sequential Huffman, 8-bit) 3-component YCbCr files in one interleaved scan (in frame
// order) without restart markers, whose Huffman tables code every symbol the new blocks need, and
// whose data holds at least the two bits per block its header promises; anything else,
// including damaged data, is kNotApplicable and goes to libjpeg. The coefficients are those
// libjpeg's path computes, so both decode to the same pixels.
Splice SplicePatch(const unsigned char* buf, size_t len, const PatchRect& p, std::vector<unsigned char>& out, bool& changed);

}  // namespace bdlab
