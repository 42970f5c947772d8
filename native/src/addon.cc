// Node-API binding of the Colibri SQL compiler. The JS layer (src/compiler/) owns caching
// and the public types; this layer moves strings in and compact results out:
//  - analyze(sql): integers go into a shared Int32Array (setBuffer), names come back as
//    one array of strings; offsets are converted to UTF-16 (JS string indices).
//  - rewrite(sql, flatMapping) returns a string; compileKey(key) takes the whole pipe in one
//    length-prefixed string and returns one string whose parts are described in the buffer.
// Errors are thrown as JS Errors with `kind` ('syntax' | 'policy'), line, column, status.
#include <napi.h>

#include <string>
#include <vector>

#include "compile.h"
#include "parser.h"
#include "rewrite.h"

namespace {

using namespace colibri_sql;

struct State {
  Napi::Reference<Napi::Int32Array> bufferRef;
  int32_t* buffer = nullptr;
  size_t capacity = 0;
};

State& state() {
  static State s;
  return s;
}

// Reads a JS string as UTF-8 into a reusable buffer (one copy).
std::string_view readString(napi_env env, napi_value v, std::string& buf) {
  size_t len16 = 0;
  napi_status st = napi_get_value_string_utf16(env, v, nullptr, 0, &len16);
  if (st != napi_ok) {
    Napi::TypeError::New(env, "expected a string").ThrowAsJavaScriptException();
    return {};
  }
  buf.resize(len16 * 3 + 1);
  size_t copied = 0;
  napi_get_value_string_utf8(env, v, &buf[0], buf.size(), &copied);
  return std::string_view(buf.data(), copied);
}

// Byte offset -> UTF-16 offset, built only for non-ASCII input.
struct OffsetMap {
  std::vector<uint32_t> map;
  bool ascii = true;
  void build(std::string_view s) {
    ascii = true;
    for (unsigned char c : s)
      if (c >= 0x80) {
        ascii = false;
        break;
      }
    if (ascii) return;
    map.assign(s.size() + 1, 0);
    uint32_t u = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      map[i] = u;
      unsigned char c = static_cast<unsigned char>(s[i]);
      if ((c & 0xC0) != 0x80) u += (c >= 0xF0) ? 2 : 1;
    }
    map[s.size()] = u;
  }
  int32_t operator()(uint32_t off) const { return int32_t(ascii ? off : map[off]); }
};

void throwError(Napi::Env env, const SyntaxError& e) {
  Napi::Error err = Napi::Error::New(env, e.what());
  err.Set("kind", Napi::String::New(env, "syntax"));
  err.Set("line", Napi::Number::New(env, e.line));
  err.Set("column", Napi::Number::New(env, e.column));
  err.ThrowAsJavaScriptException();
}

void throwError(Napi::Env env, const PolicyError& e) {
  Napi::Error err = Napi::Error::New(env, e.what());
  err.Set("kind", Napi::String::New(env, "policy"));
  err.Set("status", Napi::Number::New(env, e.status));
  err.ThrowAsJavaScriptException();
}

Napi::Value SetBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray()) {
    Napi::TypeError::New(env, "expected an Int32Array").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Int32Array arr = info[0].As<Napi::Int32Array>();
  State& s = state();
  s.bufferRef = Napi::Persistent(arr);
  s.buffer = arr.Data();
  s.capacity = arr.ElementLength();
  return env.Undefined();
}

// Layout written to the buffer (all int32):
//  [0] kind  [1] statementCount  [2] flags (1 subquerySettings, 2 intoOutfile, 4 hasFormat)
//  [3] formatStr  [4] nTables [5] nWith [6] nTableFunctions [7] nTableByString
//  [8] nRestricted [9] nSettings [10] nStrip [11] nParams [12] bodyStart [13] bodyEnd
//  [14] nInAliases [15] nComments
//  then tables: db, table, alias (string index or -1), start, end, inContext
//  with: name; functions (3 lists): name, start, end; settings: name, value;
//  strip: start, end; params: name, type, start, end, tablePosition;
//  inAliases: name, start, end; comments: start, end
Napi::Value Analyze(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = state();
  if (!s.buffer) {
    Napi::Error::New(env, "setBuffer() was not called").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  thread_local std::string buf;
  thread_local Analysis a;
  thread_local OffsetMap om;
  std::string_view sql = readString(env, info[0], buf);
  if (env.IsExceptionPending()) return env.Undefined();
  try {
    analyze(sql, a);
  } catch (const SyntaxError& e) {
    throwError(env, e);
    return env.Undefined();
  }
  om.build(sql);
  size_t need = 16 + a.tables.size() * 6 + a.withNames.size() + a.inAliases.size() * 3 + a.comments.size() * 2 +
                (a.tableFunctions.size() + a.tableByStringFunctions.size() + a.restrictedFunctions.size()) * 3 +
                a.settings.size() * 2 + a.strip.size() * 2 + a.params.size() * 5;
  if (need > s.capacity) return Napi::Number::New(env, double(need));
  int32_t* o = s.buffer;
  std::vector<const std::string*> strs;
  strs.reserve(8);
  auto str = [&](const std::string& v) {
    strs.push_back(&v);
    return int32_t(strs.size() - 1);
  };
  o[0] = int32_t(a.kind);
  o[1] = int32_t(a.statementCount);
  o[2] = (a.subquerySettings ? 1 : 0) | (a.intoOutfile ? 2 : 0) | (a.hasFormat ? 4 : 0);
  o[3] = a.hasFormat ? str(a.format) : -1;
  o[4] = int32_t(a.tables.size());
  o[5] = int32_t(a.withNames.size());
  o[6] = int32_t(a.tableFunctions.size());
  o[7] = int32_t(a.tableByStringFunctions.size());
  o[8] = int32_t(a.restrictedFunctions.size());
  o[9] = int32_t(a.settings.size());
  o[10] = int32_t(a.strip.size());
  o[11] = int32_t(a.params.size());
  o[12] = om(a.body.begin);
  o[13] = om(a.body.end);
  o[14] = int32_t(a.inAliases.size());
  o[15] = int32_t(a.comments.size());
  size_t k = 16;
  for (const auto& t : a.tables) {
    o[k++] = t.hasDatabase ? str(t.database) : -1;
    o[k++] = str(t.table);
    o[k++] = t.hasAlias ? str(t.alias) : -1;
    o[k++] = om(t.span.begin);
    o[k++] = om(t.span.end);
    o[k++] = t.inContext ? 1 : 0;
  }
  for (const auto& w : a.withNames) o[k++] = str(w);
  for (const auto* list : {&a.tableFunctions, &a.tableByStringFunctions, &a.restrictedFunctions})
    for (const auto& f : *list) {
      o[k++] = str(f.name);
      o[k++] = om(f.span.begin);
      o[k++] = om(f.span.end);
    }
  for (const auto& st : a.settings) {
    o[k++] = str(st.name);
    o[k++] = str(st.value);
  }
  for (const auto& sp : a.strip) {
    o[k++] = om(sp.begin);
    o[k++] = om(sp.end);
  }
  for (const auto& p : a.params) {
    o[k++] = str(p.name);
    o[k++] = str(p.type);
    o[k++] = om(p.span.begin);
    o[k++] = om(p.span.end);
    o[k++] = p.tablePosition ? 1 : 0;
  }
  for (const auto& f : a.inAliases) {
    o[k++] = str(f.name);
    o[k++] = om(f.span.begin);
    o[k++] = om(f.span.end);
  }
  for (const auto& c : a.comments) {
    o[k++] = om(c.begin);
    o[k++] = om(c.end);
  }
  napi_value arr;
  napi_create_array_with_length(env, strs.size(), &arr);
  for (size_t i = 0; i < strs.size(); ++i) {
    napi_value v;
    napi_create_string_utf8(env, strs[i]->data(), strs[i]->size(), &v);
    napi_set_element(env, arr, uint32_t(i), v);
  }
  return Napi::Value(env, arr);
}

std::string toStd(const Napi::Value& v) { return v.As<Napi::String>().Utf8Value(); }

// rewrite(sql, flat): flat = [key, 't', database, table, key, 's', subquery, alias, ...]
Napi::Value Rewrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  thread_local std::string buf;
  std::string_view sql = readString(env, info[0], buf);
  if (env.IsExceptionPending()) return env.Undefined();
  Napi::Array flat = info[1].As<Napi::Array>();
  RewriteMap mapping;
  uint32_t n = flat.Length();
  for (uint32_t i = 0; i + 3 < n; i += 4) {
    RewriteTarget t;
    std::string kind = toStd(flat.Get(i + 1));
    if (kind == "s") {
      t.subquery = true;
      t.sql = toStd(flat.Get(i + 2));
      t.alias = toStd(flat.Get(i + 3));
    } else {
      t.database = toStd(flat.Get(i + 2));
      t.table = toStd(flat.Get(i + 3));
    }
    mapping.emplace(toStd(flat.Get(i)), std::move(t));
  }
  try {
    std::string out = rewrite(sql, mapping);
    return Napi::String::New(env, out);
  } catch (const SyntaxError& e) {
    throwError(env, e);
  }
  return env.Undefined();
}

// stripComments(text): every comment replaced by one space (throws on text that does not tokenize).
Napi::Value StripComments(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  thread_local std::string buf;
  std::string_view sql = readString(env, info[0], buf);
  if (env.IsExceptionPending()) return env.Undefined();
  try {
    std::string out = stripComments(sql);
    return Napi::String::New(env, out);
  } catch (const SyntaxError& e) {
    throwError(env, e);
  }
  return env.Undefined();
}

// UTF-16 units of a UTF-8 string.
uint32_t utf16Length(const std::string& s) {
  uint32_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) n += (c >= 0xF0) ? 2 : 1;
  return n;
}

// Reader of the length-prefixed key built by src/compiler/pipe.ts, read as UTF-8 while the
// lengths count UTF-16 units: field = "<len>:<text>", count = "<n>|". For an ASCII key
// (the common case) units are bytes.
struct KeyReader {
  const char* p;
  const char* e;
  bool ascii;
  bool ok = true;
  size_t number(char end) {
    size_t n = 0;
    while (p < e && *p >= '0' && *p <= '9' && n < (size_t(1) << 40)) n = n * 10 + size_t(*p++ - '0');
    if (p >= e || *p != end) ok = false;
    else ++p;
    return n;
  }
  // Bytes of the next `units` UTF-16 units.
  size_t bytesOf(size_t units) const {
    if (ascii) return units;
    const unsigned char* q = reinterpret_cast<const unsigned char*>(p);
    const unsigned char* end = reinterpret_cast<const unsigned char*>(e);
    size_t u = 0;
    while (u < units && q < end) {
      unsigned char c = *q;
      size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
      u += len == 4 ? 2 : 1;
      q += len;
    }
    if (u != units) return size_t(-1);
    return size_t(q - reinterpret_cast<const unsigned char*>(p));
  }
  void field(std::string& out) {
    size_t n = number(':');
    if (!ok) return;
    size_t b = bytesOf(n);
    if (b == size_t(-1) || size_t(e - p) < b) {
      ok = false;
      return;
    }
    out.assign(p, b);
    p += b;
  }
  size_t count() { return number('|'); }
};

// compileKey(key): the whole input in one string; returns one string (parts concatenated)
// and writes to the buffer [nParts, nOrder, nDatasources, nDeps per order node..., UTF-16
// length per part...]; parts: sql, order names, deps of each order node, data sources.
// Input, output and scratch buffers are reused between calls (no allocation once warm).
Napi::Value CompileKey(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = state();
  thread_local std::string buf;
  thread_local CompileInput in;
  thread_local std::string target;
  thread_local CompileOutput out;
  thread_local std::string all;
  size_t len16 = 0;
  if (napi_get_value_string_utf16(env, info[0], nullptr, 0, &len16) != napi_ok) {
    Napi::TypeError::New(env, "expected a string").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (buf.size() < len16 * 3 + 1) buf.resize(len16 * 3 + 1);
  size_t bytes = 0;
  napi_get_value_string_utf8(env, info[0], &buf[0], buf.size(), &bytes);
  bool ascii = bytes == len16;
  KeyReader r{buf.data(), buf.data() + bytes, ascii};
  r.field(target);
  r.field(in.database);
  size_t n = r.count();
  if (n > len16) r.ok = false;
  if (r.ok) in.nodes.resize(n);
  for (size_t i = 0; i < n && r.ok; ++i) {
    r.field(in.nodes[i].name);
    r.field(in.nodes[i].sql);
  }
  n = r.ok ? r.count() : 0;
  if (n > len16) r.ok = false;
  if (r.ok) in.datasources.resize(n);
  for (size_t i = 0; i < n && r.ok; ++i) {
    r.field(in.datasources[i].name);
    r.field(in.datasources[i].table);
  }
  n = r.ok ? r.count() : 0;
  if (n > len16) r.ok = false;
  if (r.ok) in.endpoints.resize(n);
  for (size_t i = 0; i < n && r.ok; ++i) {
    r.field(in.endpoints[i].pipe);
    r.field(in.endpoints[i].sql);
  }
  n = r.ok ? r.count() : 0;
  if (n > len16) r.ok = false;
  if (r.ok) in.filters.resize(n);
  for (size_t i = 0; i < n && r.ok; ++i) {
    r.field(in.filters[i].first);
    r.field(in.filters[i].second);
  }
  if (!r.ok) {
    Napi::Error::New(env, "malformed compile input").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  try {
    compile(in, target, out);
  } catch (const SyntaxError& e) {
    throwError(env, e);
    return env.Undefined();
  } catch (const PolicyError& e) {
    throwError(env, e);
    return env.Undefined();
  }
  size_t nParts = 1 + out.order.size() + out.datasources.size();
  for (const auto& d : out.dependencies) nParts += d.second.size();
  size_t need = 3 + out.order.size() + nParts;
  if (need > s.capacity) return Napi::Number::New(env, double(need));
  int32_t* o = s.buffer;
  o[0] = int32_t(nParts);
  o[1] = int32_t(out.order.size());
  o[2] = int32_t(out.datasources.size());
  size_t k = 3;
  for (const auto& d : out.dependencies) o[k++] = int32_t(d.second.size());
  all.clear();
  // An ASCII input gives an ASCII output: every part is a copy of input text or ASCII.
  auto part = [&](const std::string& x) {
    o[k++] = int32_t(ascii ? x.size() : utf16Length(x));
    all += x;
  };
  part(out.sql);
  for (const auto& x : out.order) part(x);
  for (const auto& d : out.dependencies)
    for (const auto& x : d.second) part(x);
  for (const auto& x : out.datasources) part(x);
  napi_value result;
  if (ascii) napi_create_string_latin1(env, all.data(), all.size(), &result);
  else napi_create_string_utf8(env, all.data(), all.size(), &result);
  return Napi::Value(env, result);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("compileKey", Napi::Function::New(env, CompileKey, "compileKey"));
  exports.Set("setBuffer", Napi::Function::New(env, SetBuffer, "setBuffer"));
  exports.Set("analyze", Napi::Function::New(env, Analyze, "analyze"));
  exports.Set("rewrite", Napi::Function::New(env, Rewrite, "rewrite"));
  exports.Set("stripComments", Napi::Function::New(env, StripComments, "stripComments"));
  exports.Set("maxInputBytes", Napi::Number::New(env, double(kMaxInputBytes)));
  exports.Set("maxDepth", Napi::Number::New(env, double(kMaxDepth)));
  return exports;
}

}  // namespace

NODE_API_MODULE(colibri_sql, Init)
