// backdoor-lab native layer: a thin Node-API binding over libtorch.
//
// Design: instead of one hand-written binding per op, every ATen operator is
// reached through the c10 dispatcher by its schema name ("aten::add.Tensor").
// JavaScript arguments are converted according to the operator's schema, so
// the binding stays small and every op goes through autograd like in Python.
// Every C++ exception becomes a JavaScript Error naming the op and the shapes
// of its tensor arguments; nothing here may abort the process.
#include <napi.h>

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <atomic>
#include <limits>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

std::atomic<int64_t> g_live{0};

// Tensor handles live in a slot table. JavaScript holds an External whose
// pointer value encodes (generation << 32 | slot); it owns no C++ memory and
// has no finalizer, so creating one is cheap (weak callbacks on every op result
// cost more than the small ops themselves). A disposed slot bumps its
// generation, so a stale handle is recognised as disposed. The JavaScript side
// keeps the safety net: tensors that outlive every scope get a
// FinalizationRegistry entry that disposes them.
// The storage bytes of those tensors are reported to V8 as external memory
// (accountMemory), so the garbage collector runs when their native memory grows,
// not only when the JS heap does. Tensors a scope owns are not reported: they are
// freed deterministically, and reporting every op result (views count their
// storage again) made V8 collect garbage every few ops.
struct Slot {
  at::Tensor t;
  uint32_t gen = 0;
  int64_t accounted = 0;
};
std::vector<Slot> g_slots;
std::vector<uint32_t> g_freeSlots;

struct GeneratorBox {
  at::Generator g;
};

// Type tags let us refuse a generator (or any foreign external) passed where a tensor belongs.
const napi_type_tag kTensorTag = {0x6264'6c61'6254'656eULL, 0x736f'7220'6861'6e64ULL};
const napi_type_tag kGeneratorTag = {0x6264'6c61'6247'656eULL, 0x6572'6174'6f72'2020ULL};

Napi::Value wrapTensor(Napi::Env env, at::Tensor t) {
  uint32_t index;
  if (!g_freeSlots.empty()) {
    index = g_freeSlots.back();
    g_freeSlots.pop_back();
  } else {
    if (g_slots.size() >= 0xffffffffu) throw std::runtime_error("too many live tensors");
    index = static_cast<uint32_t>(g_slots.size());
    g_slots.emplace_back();
  }
  Slot& slot = g_slots[index];
  slot.t = std::move(t);
  ++g_live;
  slot.accounted = 0;
  uintptr_t key = (static_cast<uintptr_t>(slot.gen) << 32) | index;
  auto ext = Napi::External<void>::New(env, reinterpret_cast<void*>(key));
  ext.TypeTag(&kTensorTag);
  return ext;
}

bool isTensorHandle(const Napi::Value& v) {
  return v.IsExternal() && v.As<Napi::External<void>>().CheckTypeTag(&kTensorTag);
}

// The live slot a handle names, or nullptr when it was disposed.
Slot* slotOf(const Napi::Value& v) {
  auto key = reinterpret_cast<uintptr_t>(v.As<Napi::External<void>>().Data());
  auto index = static_cast<size_t>(key & 0xffffffffu);
  auto gen = static_cast<uint32_t>(key >> 32);
  if (index >= g_slots.size() || g_slots[index].gen != gen || !g_slots[index].t.defined()) return nullptr;
  return &g_slots[index];
}

void releaseHandle(Napi::Env env, const Napi::Value& v) {
  if (!isTensorHandle(v)) return;
  Slot* slot = slotOf(v);
  if (!slot) return;
  slot->t = at::Tensor();
  ++slot->gen;
  --g_live;
  if (slot->accounted) Napi::MemoryManagement::AdjustExternalMemory(env, -slot->accounted);
  slot->accounted = 0;
  g_freeSlots.push_back(static_cast<uint32_t>(slot - g_slots.data()));
}

// accountMemory(handle): report the tensor's storage to V8 as external memory
// (once), for tensors whose only owner is the garbage collector.
Napi::Value AccountMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!isTensorHandle(info[0])) return env.Undefined();
  Slot* slot = slotOf(info[0]);
  // CPU storage only: V8's external-memory heuristics are about host memory
  if (slot && !slot->accounted && slot->t.has_storage() && slot->t.device().is_cpu()) {
    slot->accounted = static_cast<int64_t>(slot->t.storage().nbytes());
    if (slot->accounted) Napi::MemoryManagement::AdjustExternalMemory(env, slot->accounted);
  }
  return env.Undefined();
}

// By value: a reference into g_slots would dangle once the table grows.
at::Tensor tensorOf(const Napi::Value& v, const std::string& what) {
  if (!isTensorHandle(v)) throw std::invalid_argument(what + ": expected a tensor");
  Slot* slot = slotOf(v);
  if (!slot) throw std::invalid_argument(what + ": tensor was disposed");
  return slot->t;
}

std::string describe(const at::Tensor& t) {
  if (!t.defined()) return "undefined";
  std::ostringstream os;
  os << "[";
  for (int64_t i = 0; i < t.dim(); ++i) os << (i ? "," : "") << t.size(i);
  os << "] " << c10::toString(t.scalar_type()) << " " << t.device();
  return os.str();
}

std::string shortError(const std::exception& e) {
  if (auto* ce = dynamic_cast<const c10::Error*>(&e)) {
    std::string s = ce->what_without_backtrace();
    return s;
  }
  return e.what();
}

// ---------------------------------------------------------------------------
// Operator lookup and argument conversion.

// Operators that divide their first argument by their second as integers. The
// CPU traps on INT_MIN / -1 (SIGFPE kills the process, in PyTorch too), so those
// calls are checked first and refused with an Error. `div` divides integers only
// with a rounding mode (its third argument); without one it is true division.
enum class IntDivision { kNo, kAlways, kWithRoundingMode };

IntDivision intDivisionOf(const std::string& full) {
  auto sep = full.find("::");
  auto dot = full.find('.', sep == std::string::npos ? 0 : sep + 2);
  std::string base = full.substr(0, dot);
  std::string overload = dot == std::string::npos ? "" : full.substr(dot + 1);
  if (!base.empty() && base.back() == '_') base.pop_back();  // in-place forms
  if (base == "aten::remainder" || base == "aten::fmod" || base == "aten::floor_divide") return IntDivision::kAlways;
  if ((base == "aten::div" || base == "aten::divide") && overload.find("mode") != std::string::npos)
    return IntDivision::kWithRoundingMode;
  return IntDivision::kNo;
}

int64_t integerMinimum(at::ScalarType t, bool* has) {
  *has = true;
  switch (t) {
    case at::kLong: return std::numeric_limits<int64_t>::min();
    case at::kInt: return std::numeric_limits<int32_t>::min();
    case at::kShort: return std::numeric_limits<int16_t>::min();
    case at::kChar: return std::numeric_limits<int8_t>::min();
    default: *has = false; return 0;
  }
}

void checkIntegerDivision(const torch::jit::Stack& stack) {
  if (stack.size() < 2) return;
  const auto& a = stack[0];
  const auto& b = stack[1];
  auto asTensor = [](const c10::IValue& v) -> at::Tensor {
    if (v.isTensor()) return v.toTensor();
    if (v.isScalar() || v.isInt() || v.isDouble() || v.isBool()) {
      auto sc = v.toScalar();
      return at::scalar_tensor(sc, at::TensorOptions().dtype(sc.type()));
    }
    return at::Tensor();
  };
  at::Tensor x = asTensor(a), y = asTensor(b);
  if (!x.defined() || !y.defined()) return;
  if (!c10::isIntegralType(x.scalar_type(), false) || !c10::isIntegralType(y.scalar_type(), false)) return;
  at::ScalarType result;
  try {
    result = a.isTensor() ? (b.isTensor() ? at::result_type(x, y) : at::result_type(x, b.toScalar()))
                          : at::result_type(a.toScalar(), y);
  } catch (const std::exception&) {
    return;  // the call itself reports the problem
  }
  bool has = false;
  int64_t mn = integerMinimum(result, &has);
  if (!has) return;
  at::NoGradGuard noGrad;
  bool traps = false;
  try {
    traps = at::logical_and(x.eq(mn), y.eq(-1)).any().item<bool>();
  } catch (const std::exception&) {
    return;  // shapes that do not broadcast: the call itself reports them
  }
  if (traps)
    throw std::invalid_argument(std::string("integer division of the ") + c10::toString(result) +
                                " minimum by -1 overflows (the CPU traps on it)");
}

// Operators are looked up once by name and then called by a small integer id
// (opId), so the hot path does not convert or hash the name on every call.
struct OpEntry {
  std::string name;
  c10::OperatorHandle handle;
  IntDivision intDivision;

  bool dividesIntegers(const torch::jit::Stack& stack) const {
    return intDivision == IntDivision::kAlways ||
           (intDivision == IntDivision::kWithRoundingMode && stack.size() > 2 && stack[2].isString());
  }
};
std::vector<OpEntry> g_opTable;
std::unordered_map<std::string, size_t> g_opIds;

size_t findOpId(const std::string& full) {
  auto it = g_opIds.find(full);
  if (it != g_opIds.end()) return it->second;
  std::string name = full, overload;
  auto sep = full.find("::");
  auto dot = full.find('.', sep == std::string::npos ? 0 : sep + 2);
  if (dot != std::string::npos) {
    name = full.substr(0, dot);
    overload = full.substr(dot + 1);
  }
  auto h = c10::Dispatcher::singleton().findSchema({name, overload});
  if (!h) throw std::invalid_argument("unknown operator " + full);
  g_opTable.push_back(OpEntry{full, *h, intDivisionOf(full)});
  g_opIds.emplace(full, g_opTable.size() - 1);
  return g_opTable.size() - 1;
}

const c10::OperatorHandle& findOp(const std::string& full) { return g_opTable[findOpId(full)].handle; }

int64_t toInt(const Napi::Value& v, const std::string& what) {
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? 1 : 0;
  if (v.IsBigInt()) {
    bool lossless = true;
    int64_t x = v.As<Napi::BigInt>().Int64Value(&lossless);
    if (!lossless) throw std::invalid_argument(what + ": integer does not fit in int64");
    return x;
  }
  if (!v.IsNumber()) throw std::invalid_argument(what + ": expected an integer");
  double d = v.As<Napi::Number>().DoubleValue();
  // checked before the cast: casting NaN or a double outside int64 is undefined behaviour
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
    throw std::invalid_argument(what + ": integer out of the int64 range: " + std::to_string(d));
  if (d != static_cast<double>(static_cast<int64_t>(d)))
    throw std::invalid_argument(what + ": expected an integer, got " + std::to_string(d));
  return static_cast<int64_t>(d);
}

double toDouble(const Napi::Value& v, const std::string& what) {
  if (!v.IsNumber()) throw std::invalid_argument(what + ": expected a number");
  return v.As<Napi::Number>().DoubleValue();
}

// A JS scalar: booleans stay bool, integral numbers become int64 (so integer
// tensors keep their dtype), others double. {f: x} forces a double.
c10::Scalar toScalar(const Napi::Value& v, const std::string& what) {
  if (v.IsBoolean()) return c10::Scalar(v.As<Napi::Boolean>().Value());
  if (v.IsObject() && !v.IsExternal() && v.As<Napi::Object>().Has("f")) {
    return c10::Scalar(toDouble(v.As<Napi::Object>().Get("f"), what));
  }
  if (!v.IsNumber()) throw std::invalid_argument(what + ": expected a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (std::isfinite(d) && std::abs(d) < 9.0e15 && d == static_cast<double>(static_cast<int64_t>(d)))
    return c10::Scalar(static_cast<int64_t>(d));
  return c10::Scalar(d);
}

c10::IValue toIValue(const Napi::Value& v, const c10::TypePtr& type, const std::string& what);

c10::IValue toList(const Napi::Value& v, const c10::ListTypePtr& lt, const std::string& what) {
  const auto& elem = lt->getElementType();
  auto kind = elem->kind();
  // Holes are refused as the elements are read, so a huge sparse array fails at
  // its first hole instead of being materialised; the cap bounds dense ones.
  constexpr uint32_t kMaxListLength = 1u << 20;
  std::vector<Napi::Value> items;
  if (v.IsArray()) {
    auto arr = v.As<Napi::Array>();
    if (arr.Length() > kMaxListLength)
      throw std::invalid_argument(what + ": list of " + std::to_string(arr.Length()) + " elements is too long");
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      Napi::Value x = arr.Get(i);
      if (x.IsUndefined()) throw std::invalid_argument(what + ": list element " + std::to_string(i) + " is missing");
      items.push_back(x);
    }
  } else if (v.IsNumber() && (kind == c10::TypeKind::IntType || kind == c10::TypeKind::SymIntType)) {
    items.push_back(v);  // int[1] accepts a bare int, as in Python
  } else {
    throw std::invalid_argument(what + ": expected an array");
  }
  switch (kind) {
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType: {
      c10::List<int64_t> out;
      for (size_t i = 0; i < items.size(); ++i) out.push_back(toInt(items[i], what));
      return out;
    }
    case c10::TypeKind::FloatType: {
      c10::List<double> out;
      for (auto& x : items) out.push_back(toDouble(x, what));
      return out;
    }
    case c10::TypeKind::BoolType: {
      c10::List<bool> out;
      for (auto& x : items) {
        if (!x.IsBoolean()) throw std::invalid_argument(what + ": expected booleans");
        out.push_back(x.As<Napi::Boolean>().Value());
      }
      return out;
    }
    case c10::TypeKind::TensorType: {
      c10::List<at::Tensor> out;
      for (auto& x : items) out.push_back(tensorOf(x, what));
      return out;
    }
    case c10::TypeKind::OptionalType: {
      c10::List<c10::optional<at::Tensor>> out;
      for (auto& x : items) {
        if (x.IsNull() || x.IsUndefined()) out.push_back(c10::nullopt);
        else out.push_back(tensorOf(x, what));
      }
      return out;
    }
    default:
      throw std::invalid_argument(what + ": unsupported list type " + lt->str());
  }
}

c10::IValue toIValue(const Napi::Value& v, const c10::TypePtr& type, const std::string& what) {
  switch (type->kind()) {
    case c10::TypeKind::OptionalType:
      if (v.IsNull() || v.IsUndefined()) return c10::IValue();
      return toIValue(v, type->castRaw<c10::OptionalType>()->getElementType(), what);
    case c10::TypeKind::TensorType:
      return tensorOf(v, what);
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
    case c10::TypeKind::ScalarTypeType:
    case c10::TypeKind::LayoutType:
    case c10::TypeKind::MemoryFormatType:
      return toInt(v, what);
    case c10::TypeKind::FloatType:
      return toDouble(v, what);
    case c10::TypeKind::BoolType:
      if (!v.IsBoolean()) throw std::invalid_argument(what + ": expected a boolean");
      return v.As<Napi::Boolean>().Value();
    case c10::TypeKind::NumberType:
      return toScalar(v, what);
    case c10::TypeKind::StringType:
      if (!v.IsString()) throw std::invalid_argument(what + ": expected a string");
      return v.As<Napi::String>().Utf8Value();
    case c10::TypeKind::DeviceObjType:
      if (!v.IsString()) throw std::invalid_argument(what + ": expected a device string");
      return c10::Device(v.As<Napi::String>().Utf8Value());
    case c10::TypeKind::GeneratorType:
      if (!v.IsExternal() || !v.As<Napi::External<GeneratorBox>>().CheckTypeTag(&kGeneratorTag))
        throw std::invalid_argument(what + ": expected a generator");
      return v.As<Napi::External<GeneratorBox>>().Data()->g;
    case c10::TypeKind::ListType:
      return toList(v, type->cast<c10::ListType>(), what);
    default:
      throw std::invalid_argument(what + ": unsupported argument type " + type->str());
  }
}

Napi::Value fromIValue(Napi::Env env, const c10::IValue& v) {
  if (v.isTensor()) {
    const auto& t = v.toTensor();
    if (!t.defined()) return env.Null();
    return wrapTensor(env, t);
  }
  if (v.isNone()) return env.Null();
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isTensorList()) {
    auto l = v.toTensorList();
    auto arr = Napi::Array::New(env, l.size());
    for (size_t i = 0; i < l.size(); ++i) arr.Set(static_cast<uint32_t>(i), wrapTensor(env, l.get(i)));
    return arr;
  }
  if (v.isIntList()) {
    auto l = v.toIntList();
    auto arr = Napi::Array::New(env, l.size());
    for (size_t i = 0; i < l.size(); ++i) arr.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(l.get(i))));
    return arr;
  }
  if (v.isTuple()) {
    const auto& el = v.toTupleRef().elements();
    auto arr = Napi::Array::New(env, el.size());
    for (size_t i = 0; i < el.size(); ++i) arr.Set(static_cast<uint32_t>(i), fromIValue(env, el[i]));
    return arr;
  }
  if (v.isList()) {
    auto l = v.toList();
    auto arr = Napi::Array::New(env, l.size());
    for (size_t i = 0; i < l.size(); ++i) arr.Set(static_cast<uint32_t>(i), fromIValue(env, l.get(i)));
    return arr;
  }
  if (v.isString()) return Napi::String::New(env, v.toStringRef());
  if (v.isScalar()) {
    auto s = v.toScalar();
    if (s.isBoolean()) return Napi::Boolean::New(env, s.toBool());
    return Napi::Number::New(env, s.toDouble());
  }
  throw std::invalid_argument("unsupported return type " + v.tagKind());
}

std::string describeArgs(const Napi::Array& args) {
  std::ostringstream os;
  bool first = true;
  for (uint32_t i = 0; i < args.Length(); ++i) {
    Napi::Value a = args.Get(i);
    if (!isTensorHandle(a)) continue;
    Slot* slot = slotOf(a);
    os << (first ? "" : ", ") << (slot ? describe(slot->t) : "disposed");
    first = false;
  }
  return os.str();
}

void throwJs(Napi::Env env, const std::string& msg) {
  Napi::Error::New(env, msg).ThrowAsJavaScriptException();
}

template <typename F>
Napi::Value guarded(Napi::Env env, const char* what, F&& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    throwJs(env, std::string(what) + ": " + shortError(e));
    return env.Undefined();
  }
}

// opId(opName) -> id for call(); throws for an unknown operator.
Napi::Value OpId(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), "opId", [&] {
    if (!info[0].IsString()) throw std::invalid_argument("expected an operator name");
    return Napi::Number::New(info.Env(), static_cast<double>(findOpId(info[0].As<Napi::String>().Utf8Value())));
  });
}

// call(opId | opName, args[], discardResult) -> result
Napi::Value Call(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !(info[0].IsString() || info[0].IsNumber()) || !info[1].IsArray()) {
    throwJs(env, "call(op, args): expected an operator id or name and an argument array");
    return env.Undefined();
  }
  Napi::Array args = info[1].As<Napi::Array>();
  bool discard = info.Length() > 2 && info[2].ToBoolean().Value();
  const OpEntry* entry = nullptr;
  try {
    if (info[0].IsNumber()) {
      double id = info[0].As<Napi::Number>().DoubleValue();
      if (!(id >= 0 && id < static_cast<double>(g_opTable.size()))) throw std::invalid_argument("unknown operator id");
      entry = &g_opTable[static_cast<size_t>(id)];
    } else {
      entry = &g_opTable[findOpId(info[0].As<Napi::String>().Utf8Value())];
    }
    const auto& op = entry->handle;
    const auto& formals = op.schema().arguments();
    uint32_t given = args.Length();
    if (given > formals.size()) {
      throw std::invalid_argument("takes " + std::to_string(formals.size()) + " arguments, got " +
                                  std::to_string(given));
    }
    torch::jit::Stack stack;
    stack.reserve(formals.size());
    for (size_t i = 0; i < formals.size(); ++i) {
      const auto& f = formals[i];
      Napi::Value a = i < given ? args.Get(static_cast<uint32_t>(i)) : env.Undefined();
      if (a.IsUndefined()) {
        if (f.default_value()) {
          stack.push_back(*f.default_value());
        } else if (f.type()->kind() == c10::TypeKind::OptionalType) {
          stack.emplace_back();
        } else {
          throw std::invalid_argument("missing argument '" + f.name() + "'");
        }
        continue;
      }
      // The argument's name labels conversion errors; it is only formatted when one happens.
      try {
        stack.push_back(toIValue(a, f.type(), f.name()));
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(std::string("argument ") + e.what());
      }
    }
    if (entry->dividesIntegers(stack)) checkIntegerDivision(stack);
    op.callBoxed(&stack);
    if (discard) return env.Undefined();
    if (stack.empty()) return env.Undefined();
    if (stack.size() == 1) return fromIValue(env, stack[0]);
    auto arr = Napi::Array::New(env, stack.size());
    for (size_t i = 0; i < stack.size(); ++i) arr.Set(static_cast<uint32_t>(i), fromIValue(env, stack[i]));
    return arr;
  } catch (const std::exception& e) {
    std::string shapes;
    try { shapes = describeArgs(args); } catch (...) {}
    std::string name = entry ? entry->name : (info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "operator");
    throwJs(env, name + "(" + shapes + "): " + shortError(e));
    return env.Undefined();
  }
}

// ---------------------------------------------------------------------------
// Data in and out.

const std::vector<at::ScalarType> kDtypes = {
    at::kFloat, at::kHalf, at::kBFloat16, at::kLong, at::kInt, at::kBool, at::kByte, at::kDouble, at::kChar, at::kShort};

at::ScalarType dtypeFromCode(int64_t code) {
  for (auto d : kDtypes) if (static_cast<int64_t>(d) == code) return d;
  throw std::invalid_argument("unsupported dtype code " + std::to_string(code));
}

std::vector<int64_t> shapeOf(const Napi::Value& v) {
  if (!v.IsArray()) throw std::invalid_argument("shape must be an array");
  auto arr = v.As<Napi::Array>();
  std::vector<int64_t> shape;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    int64_t d = toInt(arr.Get(i), "shape");
    if (d < 0) throw std::invalid_argument("shape has a negative size");
    shape.push_back(d);
  }
  return shape;
}

// fromBytes(typedArrayOrBuffer, dtypeCode, shape) -> tensor (a copy)
Napi::Value FromBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    if (!info[0].IsTypedArray()) throw std::invalid_argument("expected a typed array");
    auto ta = info[0].As<Napi::TypedArray>();
    auto dtype = dtypeFromCode(toInt(info[1], "dtype"));
    auto shape = shapeOf(info[2]);
    int64_t numel = 1;
    for (auto d : shape) numel *= d;
    size_t bytes = static_cast<size_t>(numel) * c10::elementSize(dtype);
    if (ta.ByteLength() != bytes) {
      throw std::invalid_argument("data has " + std::to_string(ta.ByteLength()) + " bytes, shape needs " +
                                  std::to_string(bytes));
    }
    auto out = at::empty(shape, at::TensorOptions().dtype(dtype));
    if (bytes) {
      auto* src = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
      std::memcpy(out.data_ptr(), src, bytes);
    }
    return wrapTensor(env, out);
  } catch (const std::exception& e) {
    throwJs(env, std::string("fromBytes: ") + shortError(e));
    return env.Undefined();
  }
}

// toBytes(tensor) -> ArrayBuffer with the contiguous CPU data
Napi::Value ToBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    auto t = tensorOf(info[0], "tensor").detach().to(at::kCPU).contiguous();
    size_t bytes = t.numel() * t.element_size();
    auto buf = Napi::ArrayBuffer::New(env, bytes);
    if (bytes) std::memcpy(buf.Data(), t.data_ptr(), bytes);
    return buf;
  } catch (const std::exception& e) {
    throwJs(env, std::string("toBytes: ") + shortError(e));
    return env.Undefined();
  }
}

// meta(tensor) -> [shape[], dtypeCode, deviceString, requiresGrad]
Napi::Value Meta(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    at::Tensor t = tensorOf(info[0], "tensor");
    auto shape = Napi::Array::New(env, t.dim());
    for (int64_t i = 0; i < t.dim(); ++i) shape.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(t.size(i))));
    auto out = Napi::Array::New(env, 4);
    out.Set(0u, shape);
    out.Set(1u, Napi::Number::New(env, static_cast<double>(static_cast<int>(t.scalar_type()))));
    out.Set(2u, Napi::String::New(env, t.device().str()));
    out.Set(3u, Napi::Boolean::New(env, t.requires_grad()));
    return out;
  } catch (const std::exception& e) {
    throwJs(env, std::string("meta: ") + shortError(e));
    return env.Undefined();
  }
}

Napi::Value Dispose(const Napi::CallbackInfo& info) {
  releaseHandle(info.Env(), info[0]);
  return info.Env().Undefined();
}

Napi::Value IsDisposed(const Napi::CallbackInfo& info) {
  bool gone = !isTensorHandle(info[0]) || !slotOf(info[0]);
  return Napi::Boolean::New(info.Env(), gone);
}

Napi::Value LiveTensors(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(g_live.load()));
}

// ---------------------------------------------------------------------------
// Autograd.

std::vector<at::Tensor> tensorList(const Napi::Value& v, const std::string& what) {
  std::vector<at::Tensor> out;
  if (v.IsNull() || v.IsUndefined()) return out;
  if (!v.IsArray()) throw std::invalid_argument(what + ": expected an array of tensors");
  auto arr = v.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); ++i) out.push_back(tensorOf(arr.Get(i), what));
  return out;
}

Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), "setRequiresGrad", [&] {
    auto t = tensorOf(info[0], "setRequiresGrad");
    t.set_requires_grad(info[1].ToBoolean().Value());
    return info.Env().Undefined();
  });
}

Napi::Value GetGrad(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), "grad", [&]() -> Napi::Value {
    at::Tensor g = tensorOf(info[0], "grad").grad();
    if (!g.defined()) return info.Env().Null();
    return wrapTensor(info.Env(), g);
  });
}

Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), "setGrad", [&] {
    auto t = tensorOf(info[0], "setGrad");
    if (info[1].IsNull() || info[1].IsUndefined()) t.mutable_grad() = at::Tensor();
    else {
      auto g = tensorOf(info[1], "setGrad");
      // as PyTorch's .grad setter: the gradient must match the tensor, or backward fails later, far from the cause
      if (g.sizes() != t.sizes() || g.scalar_type() != t.scalar_type() || g.device() != t.device())
        throw std::invalid_argument("gradient " + describe(g) + " does not match the tensor " + describe(t));
      t.mutable_grad() = g;
    }
    return info.Env().Undefined();
  });
}

Napi::Value Backward(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), "backward", [&] {
    auto outs = tensorList(info[0], "backward");
    auto grads = tensorList(info[1], "backward");
    bool retain = info[2].ToBoolean().Value();
    torch::autograd::backward(outs, grads, retain, false);
    return info.Env().Undefined();
  });
}

// grad(outputs, inputs, gradOutputs|null, retainGraph, createGraph, allowUnused)
Napi::Value AutogradGrad(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), "autograd.grad", [&]() -> Napi::Value {
    auto outs = tensorList(info[0], "autograd.grad outputs");
    auto ins = tensorList(info[1], "autograd.grad inputs");
    auto gos = tensorList(info[2], "autograd.grad gradOutputs");
    bool retain = info[3].ToBoolean().Value();
    bool create = info[4].ToBoolean().Value();
    bool allowUnused = info[5].ToBoolean().Value();
    auto res = torch::autograd::grad(outs, ins, gos, retain, create, allowUnused);
    auto arr = Napi::Array::New(info.Env(), res.size());
    for (size_t i = 0; i < res.size(); ++i) {
      arr.Set(static_cast<uint32_t>(i), res[i].defined() ? wrapTensor(info.Env(), res[i]) : info.Env().Null());
    }
    return arr;
  });
}

Napi::Value GradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::GradMode::is_enabled());
}

Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  at::GradMode::set_enabled(info[0].ToBoolean().Value());
  return info.Env().Undefined();
}

Napi::Value IsLeaf(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), "isLeaf", [&] {
    return Napi::Boolean::New(info.Env(), tensorOf(info[0], "isLeaf").is_leaf());
  });
}

// ---------------------------------------------------------------------------
// Randomness, threads, devices.

Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), "manualSeed", [&] {
    at::manual_seed(static_cast<uint64_t>(toInt(info[0], "seed")));
    return info.Env().Undefined();
  });
}

Napi::Value MakeGenerator(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), "generator", [&]() -> Napi::Value {
    auto* box = new GeneratorBox{at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(toInt(info[0], "seed")))};
    auto ext = Napi::External<GeneratorBox>::New(info.Env(), box, [](Napi::Env, GeneratorBox* b) { delete b; });
    ext.TypeTag(&kGeneratorTag);
    return ext;
  });
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), "setNumThreads", [&] {
    int64_t n = toInt(info[0], "threads");
    if (n < 1) throw std::invalid_argument("threads must be at least 1");
    at::set_num_threads(static_cast<int>(n));
    return info.Env().Undefined();
  });
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

Napi::Value CudaAvailable(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), torch::cuda::is_available());
}

Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(torch::cuda::device_count()));
}

Napi::Value CudaSynchronize(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), "cudaSynchronize", [&] {
    if (torch::cuda::is_available()) torch::cuda::synchronize();
    return info.Env().Undefined();
  });
}

Napi::Value Version(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), TORCH_VERSION);
}

// schema(opName) -> string, for error messages and introspection in tests
Napi::Value Schema(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), "schema", [&] {
    if (!info[0].IsString()) throw std::invalid_argument("expected an operator name");
    std::ostringstream os;
    os << findOp(info[0].As<Napi::String>().Utf8Value()).schema();
    return Napi::String::New(info.Env(), os.str());
  });
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("call", Napi::Function::New(env, Call));
  exports.Set("opId", Napi::Function::New(env, OpId));
  exports.Set("fromBytes", Napi::Function::New(env, FromBytes));
  exports.Set("toBytes", Napi::Function::New(env, ToBytes));
  exports.Set("meta", Napi::Function::New(env, Meta));
  exports.Set("dispose", Napi::Function::New(env, Dispose));
  exports.Set("accountMemory", Napi::Function::New(env, AccountMemory));
  exports.Set("isDisposed", Napi::Function::New(env, IsDisposed));
  exports.Set("liveTensors", Napi::Function::New(env, LiveTensors));
  exports.Set("setRequiresGrad", Napi::Function::New(env, SetRequiresGrad));
  exports.Set("getGrad", Napi::Function::New(env, GetGrad));
  exports.Set("setGrad", Napi::Function::New(env, SetGrad));
  exports.Set("backward", Napi::Function::New(env, Backward));
  exports.Set("autogradGrad", Napi::Function::New(env, AutogradGrad));
  exports.Set("gradEnabled", Napi::Function::New(env, GradEnabled));
  exports.Set("setGradEnabled", Napi::Function::New(env, SetGradEnabled));
  exports.Set("isLeaf", Napi::Function::New(env, IsLeaf));
  exports.Set("manualSeed", Napi::Function::New(env, ManualSeed));
  exports.Set("makeGenerator", Napi::Function::New(env, MakeGenerator));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads));
  exports.Set("cudaAvailable", Napi::Function::New(env, CudaAvailable));
  exports.Set("cudaDeviceCount", Napi::Function::New(env, CudaDeviceCount));
  exports.Set("cudaSynchronize", Napi::Function::New(env, CudaSynchronize));
  exports.Set("version", Napi::Function::New(env, Version));
  exports.Set("schema", Napi::Function::New(env, Schema));
  return exports;
}

}  // namespace

NODE_API_MODULE(bdlab_native, Init)
