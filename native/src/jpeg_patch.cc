// A rectangle of RGB pixels written into a JPEG's DCT coefficients (see jpeg_patch.h).
//
// Per touched block of each component: dequantise, inverse DCT (float64), replace the samples the
// patch covers (a subsampled chroma sample takes the mean over its footprint of the patch's value
// where the patch covers it and the sample's old value elsewhere), forward DCT, re-quantise with
// the file's own table. Every other block keeps its quantised coefficients bit for bit.
//
// The entropy splice: a baseline scan codes its MCUs one after another, each block's DC as a
// difference to the previous block of its component. The MCUs before the first one the patch
// touches are therefore the same bits in the output as in the input: they are decoded only to
// find where they end and what the DC predictors are there, then copied as bytes. From that MCU
// on, the blocks are decoded, patched and coded again with the file's own Huffman tables, so the
// bits already copied stay valid. A bottom-right trigger re-codes the last MCU rows only.
#include "jpeg_patch.h"

#include <cmath>
#include <cstring>
#include <memory>
#include <new>

namespace bdlab {
namespace {

// cos((2i + 1) u π / 16) · c(u) / 2, c(0) = 1/√2: the orthonormal 8-point DCT-II basis
struct DctBasis {
  double m[8][8];
  DctBasis() {
    const double pi = 3.14159265358979323846;
    for (int u = 0; u < 8; u++)
      for (int i = 0; i < 8; i++) m[u][i] = (u == 0 ? std::sqrt(0.125) : 0.5) * std::cos((2 * i + 1) * u * pi / 16);
  }
};

const DctBasis& Basis() {
  static const DctBasis b;
  return b;
}

// out = A · in · Aᵀ for row-major 8×8 blocks, with A the DCT basis M, or its transpose Mᵀ for
// kInverse: coefficients F[v][u] from level-shifted samples s[y][x] are F = M s Mᵀ, and samples
// from coefficients are s = Mᵀ F M. One pass over rows, then one over columns. (A template, so
// that neither direction tests which it is in its inner loop.)
template <bool kInverse>
void Conjugate8x8(const double* in, double* out) {
  const auto& m = Basis().m;
  const auto a = [&m](int r, int c) { return kInverse ? m[c][r] : m[r][c]; };
  double t[64];
  for (int r = 0; r < 8; r++)
    for (int c = 0; c < 8; c++) {
      double acc = 0;
      for (int k = 0; k < 8; k++) acc += in[r * 8 + k] * a(c, k);
      t[r * 8 + c] = acc;
    }
  for (int r = 0; r < 8; r++)
    for (int c = 0; c < 8; c++) {
      double acc = 0;
      for (int k = 0; k < 8; k++) acc += a(r, k) * t[k * 8 + c];
      out[r * 8 + c] = acc;
    }
}

// The patch's value of component c (JFIF YCbCr, level-shifted by −128) at image pixel (x, y).
double PatchSample(const PatchRect& p, unsigned x, unsigned y, int c) {
  const unsigned char* q = p.rgb + (static_cast<size_t>(y - p.y) * p.w + (x - p.x)) * 3;
  const double r = q[0], g = q[1], b = q[2];
  if (c == 0) return 0.299 * r + 0.587 * g + 0.114 * b - 128;
  if (c == 1) return -0.168735892 * r - 0.331264108 * g + 0.5 * b;
  return 0.5 * r - 0.418687589 * g - 0.081312411 * b;
}

// ---- the entropy splice ---------------------------------------------------------------------

// natural (row-major) index of the k-th coefficient in zig-zag order
constexpr uint8_t kZigzag[64] = {0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,  12, 19, 26, 33, 40, 48,
                                 41, 34, 27, 20, 13, 6,  7,  14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23,
                                 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63};

constexpr int kLook = 9;  // codes up to this length decode with one table look-up
constexpr int kFast = 10;  // AC codes whose code and value bits fit this many decode in one step

// One Huffman table, for decoding (canonical codes, JPEG F.2.2.3) and for coding.
struct Huff {
  bool defined = false;
  uint16_t look[1 << kLook];  // (length << 8) | symbol for codes of ≤ kLook bits; 0: longer
  uint16_t fast[1 << kFast];  // AC: code + value bits (low 5 bits), run << 5, size << 9; 0: not fast
  int32_t maxcode[17];        // largest code of each length, −1 if none
  int32_t valoff[17];         // index in vals of code c of length l: c + valoff[l]
  uint8_t vals[256];
  uint16_t code[256];
  uint8_t size[256];  // 0: the symbol has no code
};

// From a DHT's 16 counts and its symbols; false for a table libjpeg would refuse too (and for
// one that names a symbol twice, which libjpeg's encoder refuses).
bool BuildHuff(const uint8_t* counts, const uint8_t* syms, bool dc, Huff& h) {
  std::memset(h.look, 0, sizeof h.look);
  std::memset(h.fast, 0, sizeof h.fast);
  std::memset(h.size, 0, sizeof h.size);
  int k = 0;
  int32_t code = 0;
  for (int l = 1; l <= 16; l++) {
    const int n = counts[l - 1];
    // the codes of this length must fit below the code of all ones, which is reserved (it pads
    // the last byte): checked before any is written into the look-up tables
    if (code + n >= (1 << l)) return false;
    h.valoff[l] = k - code;
    for (int i = 0; i < n; i++, k++, code++) {
      const uint8_t s = syms[k];
      if (h.size[s] || (dc && s > 15)) return false;
      h.vals[k] = s;
      h.code[s] = static_cast<uint16_t>(code);
      h.size[s] = static_cast<uint8_t>(l);
      if (l <= kLook)
        for (int j = 0; j < 1 << (kLook - l); j++) h.look[(code << (kLook - l)) | j] = static_cast<uint16_t>((l << 8) | s);
      const int total = l + (s & 15);
      if (total <= kFast)
        for (int j = 0; j < 1 << (kFast - l); j++) h.fast[(code << (kFast - l)) | j] = static_cast<uint16_t>(total | (s >> 4) << 5 | (s & 15) << 9);
    }
    h.maxcode[l] = n ? code - 1 : -1;
    code <<= 1;
  }
  h.defined = true;
  return true;
}

// Entropy-coded bytes as bits: a 0xFF byte is followed by a stuffed 0x00; any other byte after
// 0xFF is a marker, where the data ends (zeros are supplied past it, and Overrun tells).
struct BitReader {
  const uint8_t* p;
  const uint8_t* end;
  uint64_t buf = 0;  // MSB-aligned
  int bits = 0;
  uint64_t loaded = 0;  // data bytes read
  uint64_t padded = 0;  // zero bytes supplied past the data

  BitReader(const uint8_t* from, const uint8_t* to) : p(from), end(to) {}

  // At least 32 bits in buf: enough for a code (≤ 16 bits) and its value bits (≤ 16).
  void Fill() {
    if (bits >= 32) return;
    if (end - p >= 4) {
      uint32_t w;
      std::memcpy(&w, p, 4);
      const uint32_t x = ~w;  // a zero byte of x is a 0xFF byte of w
      if (!((x - 0x01010101u) & ~x & 0x80808080u)) {
        buf |= static_cast<uint64_t>(__builtin_bswap32(w)) << (32 - bits);
        bits += 32;
        p += 4;
        loaded += 4;
        return;
      }
    }
    while (bits < 32) {
      uint32_t byte = 0;
      if (p < end && (*p != 0xFF || (p + 1 < end && p[1] == 0))) {
        byte = *p;
        p += byte == 0xFF ? 2 : 1;
        loaded++;
      } else {
        padded++;
      }
      buf |= static_cast<uint64_t>(byte) << (56 - bits);
      bits += 8;
    }
  }
  uint32_t Peek(int n) const { return static_cast<uint32_t>(buf >> (64 - n)); }
  void Skip(int n) {
    buf <<= n;
    bits -= n;
  }
  uint32_t Take(int n) {  // 1 ≤ n ≤ 16, after Fill
    const uint32_t v = Peek(n);
    Skip(n);
    return v;
  }
  uint64_t Consumed() const { return (loaded + padded) * 8 - static_cast<uint64_t>(bits); }
  bool Overrun() const { return Consumed() > loaded * 8; }
};

// Where data byte i of the entropy-coded bytes from `from` starts (each 0xFF there is followed by
// its stuffed 0x00, checked while decoding).
size_t DataOffset(const uint8_t* b, size_t from, size_t len, uint64_t i) {
  size_t pos = from;
  for (;;) {
    const void* ff = std::memchr(b + pos, 0xFF, len - pos);
    const size_t run = ff ? static_cast<size_t>(static_cast<const uint8_t*>(ff) - (b + pos)) : len - pos;
    if (i <= run) return pos + static_cast<size_t>(i);
    i -= run + 1;
    pos += run + 2;
    if (pos > len) return len;
  }
}

// A symbol after Fill; −1 for a code the table lacks.
inline int DecodeSymbol(BitReader& r, const Huff& h) {
  const uint16_t e = h.look[r.Peek(kLook)];
  if (e) {
    r.Skip(e >> 8);
    return e & 0xFF;
  }
  const uint32_t bits16 = r.Peek(16);
  for (int l = kLook + 1; l <= 16; l++) {
    const int32_t c = static_cast<int32_t>(bits16 >> (16 - l));
    if (c <= h.maxcode[l]) {
      const int32_t at = c + h.valoff[l];
      if (at < 0 || at > 255) return -1;  // not a code of this table
      r.Skip(l);
      return h.vals[at];
    }
  }
  return -1;
}

// JPEG F.2.2.1: an s-bit magnitude category value to a signed coefficient
int Extend(uint32_t v, int s) { return v < (1u << (s - 1)) ? static_cast<int>(v) - (1 << s) + 1 : static_cast<int>(v); }

// One block; with kStore its coefficients (natural order) into blk. False on invalid data. Works
// on a copy of the reader so that its state stays in registers.
template <bool kStore>
bool DecodeBlock(BitReader& reader, const Huff& dc, const Huff& ac, int& pred, int16_t* blk) {
  BitReader r = reader;
  r.Fill();
  const int s = DecodeSymbol(r, dc);
  if (s < 0 || s > 11) return false;
  pred += s ? Extend(r.Take(s), s) : 0;
  if (pred < -32768 || pred > 32767) return false;
  if (kStore) {
    std::memset(blk, 0, 64 * sizeof(int16_t));
    blk[0] = static_cast<int16_t>(pred);
  }
  for (int k = 1; k < 64; k++) {
    r.Fill();
    int run, size;
    uint32_t value;
    if (const uint16_t e = ac.fast[r.Peek(kFast)]) {
      const int total = e & 31;
      run = (e >> 5) & 15;
      size = e >> 9;
      value = r.Peek(total) & ((1u << size) - 1);
      r.Skip(total);
    } else {
      const int rs = DecodeSymbol(r, ac);
      if (rs < 0) return false;
      run = rs >> 4;
      size = rs & 15;
      value = size ? r.Take(size) : 0;
    }
    if (size == 0) {
      if (run != 15) break;  // end of block
      k += 15;
      continue;
    }
    k += run;
    if (k > 63) return false;
    if (kStore) blk[kZigzag[k]] = static_cast<int16_t>(Extend(value, size));
  }
  reader = r;
  return true;
}

struct BitWriter {
  std::vector<unsigned char>& out;
  uint64_t acc = 0;
  int n = 0;
  void Put(uint32_t v, int len) {
    acc = (acc << len) | v;
    n += len;
    while (n >= 8) {
      n -= 8;
      const auto b = static_cast<unsigned char>(acc >> n);
      out.push_back(b);
      if (b == 0xFF) out.push_back(0);
    }
  }
  void Flush() {
    if (n) Put((1u << (8 - n)) - 1, 8 - n);
  }
};

int BitLength(int a) { return a ? 32 - __builtin_clz(static_cast<unsigned>(a)) : 0; }

// One block coded with the given tables; false when a table has no code for a symbol it needs,
// or a coefficient is out of baseline range (libjpeg refuses those too).
bool EncodeBlock(BitWriter& w, const Huff& dc, const Huff& ac, int& pred, const int16_t* blk) {
  const int diff = blk[0] - pred;
  pred = blk[0];
  int nb = BitLength(diff < 0 ? -diff : diff);
  if (nb > 11 || !dc.size[nb]) return false;
  w.Put(dc.code[nb], dc.size[nb]);
  if (nb) w.Put(static_cast<uint32_t>(diff < 0 ? diff - 1 : diff) & ((1u << nb) - 1), nb);
  int run = 0;
  for (int k = 1; k < 64; k++) {
    const int v = blk[kZigzag[k]];
    if (v == 0) {
      run++;
      continue;
    }
    for (; run > 15; run -= 16) {
      if (!ac.size[0xF0]) return false;
      w.Put(ac.code[0xF0], ac.size[0xF0]);
    }
    nb = BitLength(v < 0 ? -v : v);
    const int sym = (run << 4) | nb;
    if (nb > 10 || !ac.size[sym]) return false;
    w.Put(ac.code[sym], ac.size[sym]);
    w.Put(static_cast<uint32_t>(v < 0 ? v - 1 : v) & ((1u << nb) - 1), nb);
    run = 0;
  }
  if (run) {
    if (!ac.size[0]) return false;
    w.Put(ac.code[0], ac.size[0]);
  }
  return true;
}

struct Component {
  int id = 0, h = 1, v = 1, tq = 0;
  int td = 0, ta = 0;  // Huffman tables, from the scan
};

// The headers up to the scan, as libjpeg reads them, for the one layout the splice takes.
struct Header {
  unsigned width = 0, height = 0;
  Component comp[3];  // in frame order, which is also the scan's and each MCU's
  uint16_t quant[4][64];
  bool quantDefined[4] = {};
  Huff dc[4], ac[4];
  size_t scanStart = 0;  // first entropy-coded byte
};

bool ReadHeader(const uint8_t* b, size_t len, Header& hd) {
  if (len < 4 || b[0] != 0xFF || b[1] != 0xD8) return false;
  bool sof = false, jfif = false, adobe = false;
  int adobeTransform = -1;
  size_t i = 2;
  for (;;) {
    if (i + 4 > len || b[i] != 0xFF) return false;
    const uint8_t m = b[i + 1];
    if (m == 0xFF) {  // fill byte before a marker
      i++;
      continue;
    }
    const size_t seg = (static_cast<size_t>(b[i + 2]) << 8) | b[i + 3];
    if (seg < 2 || i + 2 + seg > len) return false;
    const uint8_t* d = b + i + 4;
    size_t dl = seg - 2;
    if (m == 0xDB) {  // DQT: 8-bit tables only
      while (dl) {
        const int pq = d[0] >> 4, tq = d[0] & 15;
        if (pq != 0 || tq > 3 || dl < 65) return false;
        for (int k = 0; k < 64; k++) {
          if (d[1 + k] == 0) return false;
          hd.quant[tq][kZigzag[k]] = d[1 + k];
        }
        hd.quantDefined[tq] = true;
        d += 65;
        dl -= 65;
      }
    } else if (m == 0xC4) {  // DHT
      while (dl) {
        if (dl < 17) return false;
        const int tc = d[0] >> 4, th = d[0] & 15;
        if (tc > 1 || th > 3) return false;
        size_t n = 0;
        for (int l = 0; l < 16; l++) n += d[1 + l];
        if (n > 256 || dl < 17 + n || !BuildHuff(d + 1, d + 17, tc == 0, tc ? hd.ac[th] : hd.dc[th])) return false;
        d += 17 + n;
        dl -= 17 + n;
      }
    } else if (m == 0xC0 || m == 0xC1) {  // baseline or extended sequential, Huffman
      if (sof || dl != 15 || d[0] != 8 || d[5] != 3) return false;
      sof = true;
      hd.height = (static_cast<unsigned>(d[1]) << 8) | d[2];
      hd.width = (static_cast<unsigned>(d[3]) << 8) | d[4];
      if (!hd.width || !hd.height || hd.width > 65500 || hd.height > 65500) return false;  // libjpeg's limit
      for (int c = 0; c < 3; c++) {
        Component& k = hd.comp[c];
        k.id = d[6 + 3 * c];
        k.h = d[7 + 3 * c] >> 4;
        k.v = d[7 + 3 * c] & 15;
        k.tq = d[8 + 3 * c];
        if (k.h < 1 || k.h > 4 || k.v < 1 || k.v > 4 || k.tq > 3) return false;
      }
    } else if (m == 0xDD) {  // restart interval: the splice does not track restarts
      if (dl != 2 || d[0] || d[1]) return false;
    } else if (m == 0xE0) {
      if (dl >= 14 && std::memcmp(d, "JFIF", 5) == 0) jfif = true;
    } else if (m == 0xEE) {
      if (dl >= 12 && std::memcmp(d, "Adobe", 5) == 0) {
        adobe = true;
        adobeTransform = d[11];
      }
    } else if (m == 0xDA) {  // the scan: all three components, the whole spectrum, one pass
      if (!sof || dl != 10 || d[0] != 3 || d[7] != 0 || d[8] != 63 || d[9] != 0) return false;
      for (int s = 0; s < 3; s++) {
        Component& k = hd.comp[s];
        if (k.id != d[1 + 2 * s]) return false;  // libjpeg takes a scan's components in frame order only
        k.td = d[2 + 2 * s] >> 4;
        k.ta = d[2 + 2 * s] & 15;
        if (k.td > 3 || k.ta > 3 || !hd.dc[k.td].defined || !hd.ac[k.ta].defined || !hd.quantDefined[k.tq]) return false;
      }
      hd.scanStart = i + 2 + seg;
      break;
    } else if (!(m >= 0xE1 && m <= 0xEF) && m != 0xFE) {
      return false;  // other frame types (progressive, arithmetic, lossless), DNL, anything unknown
    }
    i += 2 + seg;
  }
  // libjpeg's colour space for three components: RGB without JFIF when Adobe says transform 0,
  // or, without either marker, when the components are named 'R', 'G', 'B'
  const bool rgbIds = hd.comp[0].id == 'R' && hd.comp[1].id == 'G' && hd.comp[2].id == 'B';
  return !(!jfif && (adobe ? adobeTransform == 0 : rgbIds));
}

}  // namespace

bool FitsIn(const PatchRect& p, unsigned width, unsigned height) {
  return p.w > 0 && p.h > 0 && p.w <= width && p.x <= width - p.w && p.h <= height && p.y <= height - p.h;
}

BlockSpan TouchedBlocks(const PatchRect& p, unsigned fx, unsigned fy) {
  return {p.x / fx / 8, (p.x + p.w - 1) / fx / 8, p.y / fy / 8, (p.y + p.h - 1) / fy / 8};
}

bool PatchBlock(int16_t* block, const uint16_t* quant, unsigned fx, unsigned fy, unsigned bx, unsigned by, int ci, const PatchRect& p) {
  double f[64], s[64];
  for (int k = 0; k < 64; k++) f[k] = static_cast<double>(block[k]) * quant[k];
  Conjugate8x8<true>(f, s);
  for (unsigned sy = 0; sy < 8; sy++)
    for (unsigned sx = 0; sx < 8; sx++) {
      const unsigned x0 = (bx * 8 + sx) * fx, y0 = (by * 8 + sy) * fy;
      double sum = 0;
      unsigned inside = 0;
      for (unsigned y = y0; y < y0 + fy; y++)
        for (unsigned x = x0; x < x0 + fx; x++)
          if (x >= p.x && x < p.x + p.w && y >= p.y && y < p.y + p.h) {
            sum += PatchSample(p, x, y, ci);
            inside++;
          }
      if (inside) s[sy * 8 + sx] = (sum + s[sy * 8 + sx] * (fx * fy - inside)) / (fx * fy);
    }
  Conjugate8x8<false>(s, f);
  bool changed = false;
  for (int k = 0; k < 64; k++) {
    const long q = std::lround(f[k] / quant[k]);
    const auto v = static_cast<int16_t>(q < -32767 ? -32767 : q > 32767 ? 32767 : q);
    if (v != block[k]) changed = true;
    block[k] = v;
  }
  return changed;
}

Splice SplicePatch(const unsigned char* buf, size_t len, const PatchRect& p, std::vector<unsigned char>& out, bool& changed) {
  Header hd;
  if (!ReadHeader(buf, len, hd) || !FitsIn(p, hd.width, hd.height)) return Splice::kNotApplicable;
  int hmax = 1, vmax = 1;
  for (const auto& c : hd.comp) {
    hmax = c.h > hmax ? c.h : hmax;
    vmax = c.v > vmax ? c.v : vmax;
  }
  int perMcu = 0;
  int at[3];  // first block of each scan position within an MCU
  for (int s = 0; s < 3; s++) {
    const Component& c = hd.comp[s];
    if (hmax % c.h || vmax % c.v) return Splice::kNotApplicable;
    at[s] = perMcu;
    perMcu += c.h * c.v;
  }
  if (perMcu > 10) return Splice::kNotApplicable;
  const size_t mcusX = (hd.width + 8 * hmax - 1) / (8 * hmax), mcusY = (hd.height + 8 * vmax - 1) / (8 * vmax);
  const size_t total = mcusX * mcusY;
  // every block takes at least two bits (a DC code and an end-of-block code): a header that
  // promises more blocks than the data can hold is damaged, and nothing is allocated for it
  if (static_cast<uint64_t>(total) * perMcu * 2 > 8 * static_cast<uint64_t>(len - hd.scanStart)) return Splice::kNotApplicable;
  // the first MCU in coding order that holds a touched block
  size_t first = total;
  for (const auto& c : hd.comp) {
    const BlockSpan b = TouchedBlocks(p, hmax / c.h, vmax / c.v);
    const size_t m = (b.by0 / c.v) * mcusX + b.bx0 / c.h;
    first = m < first ? m : first;
  }

  BitReader r(buf + hd.scanStart, buf + len);
  int pred[3] = {0, 0, 0};
  for (size_t m = 0; m < first; m++) {
    if (m % mcusX == 0 && r.Overrun()) return Splice::kNotApplicable;  // data ended a row ago
    for (int s = 0; s < 3; s++) {
      const Component& c = hd.comp[s];
      for (int b = 0; b < c.h * c.v; b++)
        if (!DecodeBlock<false>(r, hd.dc[c.td], hd.ac[c.ta], pred[s], nullptr)) return Splice::kNotApplicable;
    }
  }
  if (r.Overrun()) return Splice::kNotApplicable;
  const uint64_t splitBit = r.Consumed();
  const size_t splitAt = DataOffset(buf, hd.scanStart, len, splitBit / 8);
  const int predAtSplit[3] = {pred[0], pred[1], pred[2]};
  // without exceptions in this build, a failed allocation must not throw: libjpeg's path reports it
  const size_t tailSize = (total - first) * perMcu * 64;
  std::unique_ptr<int16_t[]> tailBlocks(new (std::nothrow) int16_t[tailSize]);
  if (!tailBlocks) return Splice::kNotApplicable;
  int16_t* const tail = tailBlocks.get();
  for (size_t m = first; m < total; m++) {
    if (m % mcusX == 0 && r.Overrun()) return Splice::kNotApplicable;
    for (int s = 0; s < 3; s++) {
      const Component& c = hd.comp[s];
      int16_t* blk = tail + ((m - first) * perMcu + at[s]) * 64;
      for (int b = 0; b < c.h * c.v; b++, blk += 64)
        if (!DecodeBlock<true>(r, hd.dc[c.td], hd.ac[c.ta], pred[s], blk)) return Splice::kNotApplicable;
    }
  }
  // the data must end where the last MCU does, with the end-of-image marker
  if (r.Overrun()) return Splice::kNotApplicable;
  size_t e = DataOffset(buf, hd.scanStart, len, (r.Consumed() + 7) / 8);
  while (e + 1 < len && buf[e] == 0xFF && buf[e + 1] == 0xFF) e++;
  if (e + 1 >= len || buf[e] != 0xFF || buf[e + 1] != 0xD9) return Splice::kNotApplicable;

  changed = false;
  for (int ci = 0; ci < 3; ci++) {
    const Component& c = hd.comp[ci];
    const unsigned fx = hmax / c.h, fy = vmax / c.v;
    const unsigned wBlocks = (hd.width * c.h + 8 * hmax - 1) / (8 * hmax), hBlocks = (hd.height * c.v + 8 * vmax - 1) / (8 * vmax);
    const BlockSpan b = TouchedBlocks(p, fx, fy);
    for (unsigned by = b.by0; by <= b.by1 && by < hBlocks; by++)
      for (unsigned bx = b.bx0; bx <= b.bx1 && bx < wBlocks; bx++) {
        const size_t m = (by / c.v) * mcusX + bx / c.h;
        const size_t k = (m - first) * perMcu + at[ci] + (by % c.v) * c.h + bx % c.h;
        if (PatchBlock(tail + k * 64, hd.quant[c.tq], fx, fy, bx, by, ci, p)) changed = true;
      }
  }

  out.clear();
  out.reserve(len + len / 4 + 64);
  out.insert(out.end(), buf, buf + splitAt);
  BitWriter w{out};
  if (const int bits = static_cast<int>(splitBit % 8)) w.Put(buf[splitAt] >> (8 - bits), bits);
  for (int s = 0; s < 3; s++) pred[s] = predAtSplit[s];
  for (size_t m = first; m < total; m++)
    for (int s = 0; s < 3; s++) {
      const Component& c = hd.comp[s];
      const int16_t* blk = tail + ((m - first) * perMcu + at[s]) * 64;
      for (int b = 0; b < c.h * c.v; b++, blk += 64)
        if (!EncodeBlock(w, hd.dc[c.td], hd.ac[c.ta], pred[s], blk)) return Splice::kNotApplicable;
    }
  w.Flush();
  out.push_back(0xFF);
  out.push_back(0xD9);
  return Splice::kDone;
}

}  // namespace bdlab
