// bdlab_codec: PNG and JPEG coding of 8-bit pixels on Node's thread pool, through libjpeg(-turbo)
// and libpng directly, patches written into a JPEG's coefficients (with jpeg_patch.cc), and the
// first bytes of many image files at once. A separate addon from bdlab_native so that image work
// never loads libtorch. Policy (formats, limits, orientation, alpha rules, which paths are allowed)
// lives in src/data/; this file only codes bytes and reports what it finds. Every call runs as an
// AsyncWorker: the main thread only hands over buffers. Files written here are hashed here
// (SHA-256 through the OpenSSL that Node exports to addons).
#include <napi.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include <openssl/evp.h>

#include "jpeg_patch.h"

namespace {

// A malloc'd byte buffer handed to JavaScript without a copy (freed by the finalizer).
struct Bytes {
  unsigned char* data = nullptr;
  size_t size = 0;
  size_t cap = 0;
  bool grow(size_t need) {
    if (size + need <= cap) return true;
    size_t c = cap ? cap : 65536;
    while (c < size + need) c *= 2;
    auto* d = static_cast<unsigned char*>(std::realloc(data, c));
    if (!d) return false;
    data = d;
    cap = c;
    return true;
  }
  void release() {
    std::free(data);
    data = nullptr;
    size = cap = 0;
  }
};

void FreeBytes(Napi::Env, unsigned char* p) { std::free(p); }

Napi::Buffer<unsigned char> TakeBuffer(Napi::Env env, Bytes& b) {
  auto buf = Napi::Buffer<unsigned char>::New(env, b.data, b.size, FreeBytes);
  b.data = nullptr;
  b.size = b.cap = 0;
  return buf;
}

// Coding jobs are CPU-bound batch work. As SCHED_BATCH, a pool thread that wakes for one does not
// preempt the main thread, which reads the next records and hands out the next jobs: on a small
// machine that keeps the pipeline fed. Best effort: where refused, the thread stays as it was.
void BatchThread() {
  static thread_local bool done = false;
  if (done) return;
  done = true;
  sched_param sp{};
  sched_setscheduler(0, SCHED_BATCH, &sp);
}

// An AsyncWorker that settles a promise, keeping its JavaScript inputs alive until then:
// the subclass does its work in Execute (SetError rejects) and builds the value in Result.
class PromiseWorker : public Napi::AsyncWorker {
 public:
  explicit PromiseWorker(Napi::Env env) : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {}

  // Queues the work and returns its promise; it settles on the main thread.
  Napi::Promise Start() {
    auto p = deferred_.Promise();
    Queue();
    return p;
  }

 protected:
  void Keep(Napi::Object v) { kept_.push_back(Napi::Persistent(v)); }
  virtual Napi::Value Result(Napi::Env env) = 0;

 private:
  void OnOK() final {
    Release();
    deferred_.Resolve(Result(Env()));
  }
  void OnError(const Napi::Error& e) final {
    Release();
    deferred_.Reject(e.Value());
  }
  void Release() {
    for (auto& r : kept_) r.Reset();
    kept_.clear();
  }

  Napi::Promise::Deferred deferred_;
  std::vector<Napi::ObjectReference> kept_;
};

// The optional (tmp, dst) string arguments at `at`; both empty when absent. An empty tmp with a
// dst creates dst in place, exclusively.
void OutputPaths(const Napi::CallbackInfo& info, size_t at, std::string& tmp, std::string& dst) {
  if (info.Length() >= at + 2 && info[at].IsString() && info[at + 1].IsString()) {
    tmp = info[at].As<Napi::String>().Utf8Value();
    dst = info[at + 1].As<Napi::String>().Utf8Value();
  }
}

// ---- libjpeg error handling: longjmp back with the library's message -------------------------
struct JpegErr {
  jpeg_error_mgr pub;
  jmp_buf jump;
  char msg[JMSG_LENGTH_MAX];
};

void JpegErrorExit(j_common_ptr c) {
  auto* e = reinterpret_cast<JpegErr*>(c->err);
  (*c->err->format_message)(c, e->msg);
  longjmp(e->jump, 1);
}

// A truncated file is refused, never padded with grey; other warnings (e.g. extraneous bytes
// before a marker, common in camera files) are ignored, as PIL and libvips do.
void JpegEmit(j_common_ptr c, int level) {
  if (level < 0 && (c->err->msg_code == JWRN_JPEG_EOF || c->err->msg_code == JWRN_HIT_MARKER)) JpegErrorExit(c);
}

// ---- decode -----------------------------------------------------------------------------------
enum DecodeStatus { kOk = 0, kError = 1, kUnsupported = 2, kTooLarge = 3 };

struct Decoded {
  Bytes px;
  unsigned width = 0, height = 0, channels = 0;
  std::string error;
};

int DecodeJpeg(const unsigned char* buf, size_t len, double maxPixels, Decoded& out) {
  jpeg_decompress_struct cinfo;
  JpegErr jerr;
  cinfo.err = jpeg_std_error(&jerr.pub);
  jerr.pub.error_exit = JpegErrorExit;
  jerr.pub.emit_message = JpegEmit;
  if (setjmp(jerr.jump)) {
    out.error = jerr.msg;
    jpeg_destroy_decompress(&cinfo);
    out.px.release();
    return kError;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, buf, static_cast<unsigned long>(len));
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    jpeg_destroy_decompress(&cinfo);
    return kUnsupported;
  }
  if (static_cast<double>(cinfo.image_width) * cinfo.image_height > maxPixels) {
    jpeg_destroy_decompress(&cinfo);
    return kTooLarge;
  }
  cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  const size_t stride = static_cast<size_t>(cinfo.output_width) * 3;
  if (!out.px.grow(stride * cinfo.output_height)) {
    std::snprintf(jerr.msg, sizeof jerr.msg, "out of memory");
    longjmp(jerr.jump, 1);
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out.px.data + stride * cinfo.output_scanline;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  out.px.size = stride * cinfo.output_height;
  out.width = cinfo.output_width;
  out.height = cinfo.output_height;
  out.channels = 3;
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return kOk;
}

struct PngSrc {
  const unsigned char* data;
  size_t len, off;
};

void PngRead(png_structp png, png_bytep dst, png_size_t n) {
  auto* s = static_cast<PngSrc*>(png_get_io_ptr(png));
  if (s->off + n > s->len) png_error(png, "unexpected end of file");
  std::memcpy(dst, s->data + s->off, n);
  s->off += n;
}

struct PngErr {
  char msg[256];
};

void PngError(png_structp png, png_const_charp m) {
  auto* e = static_cast<PngErr*>(png_get_error_ptr(png));
  std::snprintf(e->msg, sizeof e->msg, "%s", m);
  png_longjmp(png, 1);
}

void PngWarning(png_structp, png_const_charp) {}

int DecodePng(const unsigned char* buf, size_t len, double maxPixels, Decoded& out) {
  PngErr perr{};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &perr, PngError, PngWarning);
  if (!png) return kError;
  png_infop info = png_create_info_struct(png);
  png_bytep* rows = nullptr;
  if (!info || setjmp(png_jmpbuf(png))) {
    out.error = perr.msg;
    std::free(rows);
    png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
    out.px.release();
    return kError;
  }
  // sizes are checked by the caller (and below, before any pixel memory)
  png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
  png_set_crc_action(png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
  PngSrc src{buf, len, 0};
  png_set_read_fn(png, &src, PngRead);
  png_read_info(png, info);
  const png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  if (static_cast<double>(w) * h > maxPixels) {
    png_destroy_read_struct(&png, &info, nullptr);
    return kTooLarge;
  }
  // palette → RGB, grey < 8 bits → 8 bits, tRNS → alpha; 16 bits → 8 (high byte, as libvips and PIL);
  // grey → RGB. No gamma correction (neither PIL nor libvips applies gAMA).
  png_set_expand(png);
  png_set_strip_16(png);
  png_set_gray_to_rgb(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  const unsigned ch = png_get_channels(png, info);
  if (ch != 3 && ch != 4) png_error(png, "unexpected channel count after conversion");
  const size_t stride = static_cast<size_t>(w) * ch;
  if (png_get_rowbytes(png, info) != stride) png_error(png, "unexpected row size after conversion");
  if (!out.px.grow(stride * h)) png_error(png, "out of memory");
  rows = static_cast<png_bytep*>(std::malloc(sizeof(png_bytep) * (h ? h : 1)));
  if (!rows) png_error(png, "out of memory");
  for (png_uint_32 y = 0; y < h; y++) rows[y] = out.px.data + stride * y;
  png_read_image(png, rows);
  png_read_end(png, nullptr);
  std::free(rows);
  png_destroy_read_struct(&png, &info, nullptr);
  out.px.size = stride * h;
  out.width = w;
  out.height = h;
  out.channels = ch;
  return kOk;
}

class DecodeWorker : public PromiseWorker {
 public:
  DecodeWorker(Napi::Env env, Napi::Buffer<unsigned char> in, double maxPixels) : PromiseWorker(env), maxPixels_(maxPixels) {
    Keep(in);
    data_ = in.Data();
    len_ = in.Length();
  }

  void Execute() override {
    BatchThread();
    const bool png = len_ >= 8 && data_[0] == 0x89 && data_[1] == 'P' && data_[2] == 'N' && data_[3] == 'G';
    const bool jpeg = len_ >= 3 && data_[0] == 0xff && data_[1] == 0xd8 && data_[2] == 0xff;
    if (png) status_ = DecodePng(data_, len_, maxPixels_, out_);
    else if (jpeg) status_ = DecodeJpeg(data_, len_, maxPixels_, out_);
    else {
      status_ = kError;
      out_.error = "not a PNG or JPEG file";
    }
  }

  ~DecodeWorker() override { out_.px.release(); }

 protected:
  Napi::Value Result(Napi::Env env) override {
    Napi::Object r = Napi::Object::New(env);
    r.Set("status", Napi::Number::New(env, status_));
    if (status_ == kOk) {
      r.Set("data", TakeBuffer(env, out_.px));
      r.Set("width", Napi::Number::New(env, out_.width));
      r.Set("height", Napi::Number::New(env, out_.height));
      r.Set("channels", Napi::Number::New(env, out_.channels));
    } else {
      r.Set("error", Napi::String::New(env, out_.error));
    }
    return r;
  }

 private:
  const unsigned char* data_ = nullptr;
  size_t len_ = 0;
  double maxPixels_;
  int status_ = kError;
  Decoded out_;
};

// ---- encode -----------------------------------------------------------------------------------
bool EncodeJpeg(const unsigned char* px, unsigned w, unsigned h, unsigned ch, int quality, Bytes& out, std::string& error) {
  jpeg_compress_struct cinfo;
  JpegErr jerr;
  unsigned char* mem = nullptr;
  unsigned long memLen = 0;
  cinfo.err = jpeg_std_error(&jerr.pub);
  jerr.pub.error_exit = JpegErrorExit;
  if (setjmp(jerr.jump)) {
    error = jerr.msg;
    jpeg_destroy_compress(&cinfo);
    std::free(mem);
    return false;
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, &mem, &memLen);
  cinfo.image_width = w;
  cinfo.image_height = h;
  // four channels: the alpha byte is skipped (JPEG has no alpha)
  cinfo.input_components = ch == 4 ? 4 : 3;
  cinfo.in_color_space = ch == 4 ? JCS_EXT_RGBX : JCS_RGB;
  jpeg_set_defaults(&cinfo);  // baseline, YCbCr 4:2:0, integer DCT, Huffman tables not optimised
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  const size_t stride = static_cast<size_t>(w) * ch;
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<unsigned char*>(px + stride * cinfo.next_scanline);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  out.data = mem;  // malloc'd by libjpeg-turbo's memory destination
  out.size = out.cap = memLen;
  return true;
}

void PngWrite(png_structp png, png_bytep d, png_size_t n) {
  auto* b = static_cast<Bytes*>(png_get_io_ptr(png));
  if (!b->grow(n)) png_error(png, "out of memory");
  std::memcpy(b->data + b->size, d, n);
  b->size += n;
}

void PngFlush(png_structp) {}

bool EncodePng(const unsigned char* px, unsigned w, unsigned h, unsigned ch, int level, Bytes& out, std::string& error) {
  PngErr perr{};
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &perr, PngError, PngWarning);
  if (!png) {
    error = "out of memory";
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (!info || setjmp(png_jmpbuf(png))) {
    error = perr.msg;
    png_destroy_write_struct(&png, info ? &info : nullptr);
    out.release();
    return false;
  }
  png_set_write_fn(png, &out, PngWrite, PngFlush);
  png_set_IHDR(png, info, w, h, 8, ch == 4 ? PNG_COLOR_TYPE_RGB_ALPHA : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  // no row filter (as sharp's default): zlib at the given level does the work
  png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
  png_set_compression_level(png, level);
  png_write_info(png, info);
  const size_t stride = static_cast<size_t>(w) * ch;
  for (unsigned y = 0; y < h; y++) png_write_row(png, const_cast<unsigned char*>(px + stride * y));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

// Files are created one at a time: pool threads creating files in the same folder at once
// contend for its lock, and on a small machine that spinning costs about three times the
// creation itself. Encoding still runs in parallel; only the write is serial.
std::mutex writeMutex;

// Writes bytes to `tmp` (created exclusively, never through a link) and renames it over `dst`;
// with an empty `tmp`, creates `dst` itself exclusively (the caller knows nothing may be there).
bool WriteFile(const unsigned char* data, size_t size, const std::string& tmpOrEmpty, const std::string& dst, std::string& error) {
  const std::lock_guard<std::mutex> serial(writeMutex);
  const bool direct = tmpOrEmpty.empty();
  const std::string& tmp = direct ? dst : tmpOrEmpty;
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (fd < 0) {
    error = tmp + ": " + std::strerror(errno);
    return false;
  }
  size_t off = 0;
  while (off < size) {
    ssize_t n = write(fd, data + off, size - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = tmp + ": " + std::strerror(errno);
      close(fd);
      unlink(tmp.c_str());
      return false;
    }
    off += static_cast<size_t>(n);
  }
  if (close(fd) != 0 || (!direct && rename(tmp.c_str(), dst.c_str()) != 0)) {
    error = dst + ": " + std::strerror(errno);
    unlink(tmp.c_str());
    return false;
  }
  return true;
}

// SHA-256 in lower-case hex, through the OpenSSL that Node carries (the one node:crypto uses).
bool Sha256Hex(const unsigned char* d, size_t n, std::string& hex) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!EVP_Digest(d, n, md, &len, EVP_sha256(), nullptr)) return false;
  static const char digits[] = "0123456789abcdef";
  hex.resize(2 * len);
  for (unsigned i = 0; i < len; i++) {
    hex[2 * i] = digits[md[i] >> 4];
    hex[2 * i + 1] = digits[md[i] & 15];
  }
  return true;
}

// A coded file's hash, then the file itself to dst (as WriteFile) when one is given: encoded and
// patched files alike are hashed where they are coded.
bool HashAndWrite(const unsigned char* d, size_t n, const std::string& tmp, const std::string& dst, std::string& sha256, std::string& error) {
  if (!Sha256Hex(d, n, sha256)) {
    error = "SHA-256 failed";
    return false;
  }
  return dst.empty() || WriteFile(d, n, tmp, dst, error);
}

// An optional boolean argument: `fallback` when absent or not a boolean.
bool BoolArg(const Napi::CallbackInfo& info, size_t at, bool fallback) {
  return info.Length() > at && info[at].IsBoolean() ? info[at].As<Napi::Boolean>().Value() : fallback;
}

class EncodeWorker : public PromiseWorker {
 public:
  EncodeWorker(Napi::Env env, Napi::TypedArray px, unsigned w, unsigned h, unsigned ch, bool png, int level, std::string tmp, std::string dst,
               bool keepBytes)
      : PromiseWorker(env), w_(w), h_(h), ch_(ch), png_(png), level_(level), tmp_(std::move(tmp)), dst_(std::move(dst)), keepBytes_(keepBytes) {
    Keep(px);
    px_ = static_cast<const unsigned char*>(px.ArrayBuffer().Data()) + px.ByteOffset();
  }

  void Execute() override {
    BatchThread();
    std::string error;
    bool ok = png_ ? EncodePng(px_, w_, h_, ch_, level_, out_, error) : EncodeJpeg(px_, w_, h_, ch_, level_, out_, error);
    if (ok && !dst_.empty()) ok = HashAndWrite(out_.data, out_.size, tmp_, dst_, sha256_, error);
    if (!ok) SetError(error);
  }

  ~EncodeWorker() override { out_.release(); }

 protected:
  Napi::Value Result(Napi::Env env) override {
    if (dst_.empty()) return TakeBuffer(env, out_);
    auto r = Napi::Object::New(env);
    r.Set("sha256", Napi::String::New(env, sha256_));
    if (keepBytes_) r.Set("data", TakeBuffer(env, out_));
    return r;
  }

 private:
  const unsigned char* px_ = nullptr;
  unsigned w_, h_, ch_;
  bool png_;
  int level_;
  std::string tmp_, dst_;
  bool keepBytes_;
  std::string sha256_;
  Bytes out_;
};

// ---- a patch written into a JPEG's DCT coefficients ------------------------------------------
// The blocks a rectangle of new RGB pixels touches are recomputed (jpeg_patch.cc); every other
// block keeps its quantised coefficients bit for bit, so the rest of the image suffers no second
// compression. Baseline files take the entropy splice, which re-codes only the MCUs from the
// first touched one; others go through libjpeg's coefficient arrays. Only 3-component YCbCr
// files; others are reported as unsupported.
using bdlab::PatchRect;

enum PatchStatus { kPatched = 0, kPatchError = 1, kPatchUnsupported = 2 };

int PatchJpegLibjpeg(const unsigned char* buf, size_t len, const PatchRect& p, Bytes& out, bool& changed, std::string& error) {
  jpeg_decompress_struct src;
  jpeg_compress_struct dst;
  JpegErr serr, derr;
  unsigned char* mem = nullptr;
  unsigned long memLen = 0;
  bool haveDst = false;
  src.err = jpeg_std_error(&serr.pub);
  serr.pub.error_exit = JpegErrorExit;
  serr.pub.emit_message = JpegEmit;
  dst.err = jpeg_std_error(&derr.pub);
  derr.pub.error_exit = JpegErrorExit;
  if (setjmp(serr.jump) || setjmp(derr.jump)) {
    error = serr.msg[0] ? serr.msg : derr.msg;
    if (haveDst) jpeg_destroy_compress(&dst);
    jpeg_destroy_decompress(&src);
    std::free(mem);
    return kPatchError;
  }
  serr.msg[0] = derr.msg[0] = 0;
  jpeg_create_decompress(&src);
  jpeg_mem_src(&src, buf, static_cast<unsigned long>(len));
  // application segments (EXIF, ICC, XMP) and comments go to the output as they were, as the
  // entropy splice keeps them
  jpeg_save_markers(&src, JPEG_COM, 0xFFFF);
  for (int m = 0; m < 16; m++) jpeg_save_markers(&src, JPEG_APP0 + m, 0xFFFF);
  jpeg_read_header(&src, TRUE);
  bool integral = src.num_components == 3;  // sampling factors that divide the largest: a sample is fx × fy pixels
  for (int ci = 0; integral && ci < 3; ci++)
    integral = src.max_h_samp_factor % src.comp_info[ci].h_samp_factor == 0 && src.max_v_samp_factor % src.comp_info[ci].v_samp_factor == 0;
  if (!integral || src.jpeg_color_space != JCS_YCbCr || src.data_precision != 8 || !bdlab::FitsIn(p, src.image_width, src.image_height)) {
    jpeg_destroy_decompress(&src);
    return kPatchUnsupported;
  }
  jvirt_barray_ptr* coefs = jpeg_read_coefficients(&src);
  changed = false;
  for (int ci = 0; ci < 3; ci++) {
    jpeg_component_info* comp = src.comp_info + ci;
    const JQUANT_TBL* qt = comp->quant_table ? comp->quant_table : src.quant_tbl_ptrs[comp->quant_tbl_no];
    if (!qt) {
      jpeg_destroy_decompress(&src);
      return kPatchUnsupported;
    }
    // image pixels per component sample, horizontally and vertically
    const unsigned fx = src.max_h_samp_factor / comp->h_samp_factor;
    const unsigned fy = src.max_v_samp_factor / comp->v_samp_factor;
    const bdlab::BlockSpan b = bdlab::TouchedBlocks(p, fx, fy);
    for (unsigned by = b.by0; by <= b.by1 && by < comp->height_in_blocks; by++) {
      JBLOCKARRAY rows = (*src.mem->access_virt_barray)(reinterpret_cast<j_common_ptr>(&src), coefs[ci], by, 1, TRUE);
      for (unsigned bx = b.bx0; bx <= b.bx1 && bx < comp->width_in_blocks; bx++)
        if (bdlab::PatchBlock(rows[0][bx], qt->quantval, fx, fy, bx, by, ci, p)) changed = true;
    }
  }
  jpeg_create_compress(&dst);
  haveDst = true;
  jpeg_mem_dest(&dst, &mem, &memLen);
  jpeg_copy_critical_parameters(&src, &dst);
  jpeg_write_coefficients(&dst, coefs);
  for (jpeg_saved_marker_ptr m = src.marker_list; m; m = m->next) {
    // libjpeg writes its own JFIF and Adobe segments
    const bool jfif = m->marker == JPEG_APP0 && m->data_length >= 5 && std::memcmp(m->data, "JFIF", 5) == 0;
    const bool adobe = m->marker == JPEG_APP0 + 14 && m->data_length >= 5 && std::memcmp(m->data, "Adobe", 5) == 0;
    if ((jfif && dst.write_JFIF_header) || (adobe && dst.write_Adobe_marker)) continue;
    jpeg_write_marker(&dst, m->marker, m->data, m->data_length);
  }
  jpeg_finish_compress(&dst);
  jpeg_destroy_compress(&dst);
  jpeg_finish_decompress(&src);
  jpeg_destroy_decompress(&src);
  out.data = mem;
  out.size = out.cap = memLen;
  return kPatched;
}

// The splice where it applies (and `splice` allows it), libjpeg's coefficient arrays otherwise.
int PatchJpeg(const unsigned char* buf, size_t len, const PatchRect& p, bool splice, std::vector<unsigned char>& out, bool& changed, bool& spliced,
              std::string& error) {
  spliced = splice && bdlab::SplicePatch(buf, len, p, out, changed) == bdlab::Splice::kDone;
  if (spliced) return kPatched;
  Bytes b;
  const int status = PatchJpegLibjpeg(buf, len, p, b, changed, error);
  if (status == kPatched) out.assign(b.data, b.data + b.size);
  b.release();
  return status;
}

class PatchWorker : public PromiseWorker {
 public:
  PatchWorker(Napi::Env env, Napi::Buffer<unsigned char> bytes, Napi::TypedArray rgb, PatchRect rect, std::string tmp, std::string dst, bool splice,
              bool keepBytes)
      : PromiseWorker(env), rect_(rect), tmp_(std::move(tmp)), dst_(std::move(dst)), splice_(splice), keepBytes_(keepBytes) {
    Keep(bytes);
    Keep(rgb);
    buf_ = bytes.Data();
    len_ = bytes.Length();
    rect_.rgb = static_cast<const unsigned char*>(rgb.ArrayBuffer().Data()) + rgb.ByteOffset();
  }

  void Execute() override {
    BatchThread();
    // the coded file, hashed and written here: JavaScript gets its bytes only when it asks, so
    // this buffer is reused and nothing is allocated per image once warm
    static thread_local std::vector<unsigned char> coded;
    status_ = PatchJpeg(buf_, len_, rect_, splice_, coded, changed_, spliced_, error_);
    if (status_ == kPatched && !HashAndWrite(coded.data(), coded.size(), tmp_, dst_, sha256_, error_)) status_ = kPatchError;
    if (status_ == kPatched && keepBytes_) {
      if (out_.grow(coded.size())) {
        std::memcpy(out_.data, coded.data(), coded.size());
        out_.size = coded.size();
      } else {
        status_ = kPatchError;
        error_ = "out of memory";
      }
    }
    if (coded.capacity() > (8u << 20)) std::vector<unsigned char>().swap(coded);  // not kept for one large image
  }

  ~PatchWorker() override { out_.release(); }

 protected:
  Napi::Value Result(Napi::Env env) override {
    auto r = Napi::Object::New(env);
    r.Set("status", Napi::Number::New(env, status_));
    if (status_ == kPatched) {
      r.Set("changed", Napi::Boolean::New(env, changed_));
      r.Set("spliced", Napi::Boolean::New(env, spliced_));
      r.Set("sha256", Napi::String::New(env, sha256_));
      if (keepBytes_) r.Set("data", TakeBuffer(env, out_));
    }
    if (status_ == kPatchError) r.Set("error", Napi::String::New(env, error_));
    return r;
  }

 private:
  const unsigned char* buf_ = nullptr;
  size_t len_ = 0;
  PatchRect rect_;
  std::string tmp_, dst_;
  bool splice_, keepBytes_;
  int status_ = kPatchError;
  bool changed_ = false, spliced_ = false;
  std::string error_, sha256_;
  Bytes out_;
};

// patchJpeg(bytes: Buffer, rgb: Uint8Array, x, y, w, h[, tmp, dst[, splice[, keepBytes]]])
//   → Promise<{status, changed?, spliced?, sha256?, data?, error?}>
// status 0: patched (with tmp and dst, written as encode writes; spliced: by the entropy splice, which
// splice = false turns off; sha256 of the file; its bytes as data with keepBytes);
// 1: error; 2: unsupported (not 3-component YCbCr, or the rectangle is outside the image).
Napi::Value PatchJpegCall(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6 || !info[0].IsBuffer() || !info[1].IsTypedArray()) {
    Napi::TypeError::New(env, "patchJpeg(bytes, rgb, x, y, w, h)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto rgb = info[1].As<Napi::TypedArray>();
  PatchRect rect{info[2].As<Napi::Number>().Uint32Value(), info[3].As<Napi::Number>().Uint32Value(), info[4].As<Napi::Number>().Uint32Value(),
                 info[5].As<Napi::Number>().Uint32Value(), nullptr};
  if (rgb.TypedArrayType() != napi_uint8_array || rect.w == 0 || rect.h == 0 || rgb.ByteLength() != static_cast<size_t>(rect.w) * rect.h * 3) {
    Napi::TypeError::New(env, "patchJpeg: rgb must be a Uint8Array of w × h × 3 with w, h > 0").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string tmp, dst;
  OutputPaths(info, 6, tmp, dst);
  return (new PatchWorker(env, info[0].As<Napi::Buffer<unsigned char>>(), rgb, rect, tmp, dst, BoolArg(info, 8, true), BoolArg(info, 9, false)))->Start();
}

// decode(bytes: Buffer, maxPixels: number) → Promise<{status, data?, width?, height?, channels?, error?}>
Napi::Value Decode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsBuffer() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "decode(bytes: Buffer, maxPixels: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return (new DecodeWorker(env, info[0].As<Napi::Buffer<unsigned char>>(), info[1].As<Napi::Number>().DoubleValue()))->Start();
}

// encode(pixels: Uint8Array, width, height, channels, format: 'png' | 'jpeg', levelOrQuality[, tmp, dst[, keepBytes]])
//   → Promise<Buffer>, or with tmp and dst Promise<{sha256, data?}>
// With tmp and dst, the bytes are written to dst through tmp (on the worker thread; an empty tmp
// creates dst in place, exclusively) and hashed there; they come back as data only with keepBytes.
Napi::Value Encode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6 || !info[0].IsTypedArray() || !info[4].IsString()) {
    Napi::TypeError::New(env, "encode(pixels, width, height, channels, format, level)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto px = info[0].As<Napi::TypedArray>();
  const unsigned w = info[1].As<Napi::Number>().Uint32Value();
  const unsigned h = info[2].As<Napi::Number>().Uint32Value();
  const unsigned ch = info[3].As<Napi::Number>().Uint32Value();
  const std::string fmt = info[4].As<Napi::String>().Utf8Value();
  const int level = info[5].As<Napi::Number>().Int32Value();
  if (px.TypedArrayType() != napi_uint8_array || (ch != 3 && ch != 4) || w == 0 || h == 0 ||
      px.ByteLength() != static_cast<size_t>(w) * h * ch || (fmt != "png" && fmt != "jpeg")) {
    Napi::TypeError::New(env, "encode: pixels must be a Uint8Array of width × height × channels (3 or 4); format png or jpeg").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string tmp, dst;
  OutputPaths(info, 6, tmp, dst);
  return (new EncodeWorker(env, px, w, h, ch, fmt == "png", level, tmp, dst, BoolArg(info, 8, false)))->Start();
}

// ---- probe: what each of many paths is, and its first bytes -------------------------------------
// One record of kProbeRecord bytes per path: [kind, bytes read, up to kProbeHead bytes].
enum ProbeKind { kProbeMissing = 0, kProbeFile = 1, kProbeLink = 2, kProbeNotRegular = 3 };
constexpr size_t kProbeHead = 16;
constexpr size_t kProbeRecord = 2 + kProbeHead;

// Opened without following a final symbolic link (the caller resolves links itself) and without
// blocking (a FIFO would block a plain open); the kind comes from fstat on what was opened.
void ProbeOne(const std::string& path, unsigned char* rec) {
  int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    rec[0] = errno == ELOOP ? kProbeLink : kProbeMissing;
    return;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    rec[0] = kProbeNotRegular;
  } else {
    ssize_t n;
    do n = pread(fd, rec + 2, kProbeHead, 0);
    while (n < 0 && errno == EINTR);
    rec[0] = kProbeFile;
    rec[1] = static_cast<unsigned char>(n < 0 ? 0 : n);
  }
  close(fd);
}

class ProbeWorker : public PromiseWorker {
 public:
  ProbeWorker(Napi::Env env, std::vector<std::string> paths) : PromiseWorker(env), paths_(std::move(paths)) {}
  void Execute() override {
    BatchThread();
    if (!out_.grow(paths_.size() * kProbeRecord + 1)) {
      SetError("probe: out of memory");
      return;
    }
    std::memset(out_.data, 0, paths_.size() * kProbeRecord);
    out_.size = paths_.size() * kProbeRecord;
    for (size_t i = 0; i < paths_.size(); i++) ProbeOne(paths_[i], out_.data + i * kProbeRecord);
  }
  ~ProbeWorker() override { out_.release(); }

 protected:
  Napi::Value Result(Napi::Env env) override { return TakeBuffer(env, out_); }

 private:
  std::vector<std::string> paths_;
  Bytes out_;
};

// probe(paths: string[]) → Promise<Buffer>: for path i, bytes [18i, 18i + 18) hold its kind
// (0 missing or unreadable, 1 regular file, 2 symbolic link, 3 not a regular file), the number of
// bytes read and the first 16 bytes of a regular file.
Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) {
    Napi::TypeError::New(env, "probe(paths: string[])").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto arr = info[0].As<Napi::Array>();
  std::vector<std::string> paths;
  paths.reserve(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value v = arr[i];
    if (!v.IsString()) {
      Napi::TypeError::New(env, "probe: paths[" + std::to_string(i) + "] is not a string").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    paths.push_back(v.As<Napi::String>().Utf8Value());
  }
  return (new ProbeWorker(env, std::move(paths)))->Start();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("decode", Napi::Function::New(env, Decode));
  exports.Set("encode", Napi::Function::New(env, Encode));
  exports.Set("patchJpeg", Napi::Function::New(env, PatchJpegCall));
  exports.Set("probe", Napi::Function::New(env, Probe));
  exports.Set("versions", Napi::String::New(env, std::string("libjpeg ") + std::to_string(JPEG_LIB_VERSION) + ", libpng " + PNG_LIBPNG_VER_STRING));
  return exports;
}

}  // namespace

NODE_API_MODULE(bdlab_codec, Init)
