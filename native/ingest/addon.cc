// Node-API binding of the NDJSON -> TabSeparated encoder (ndjson_tsv.h).
//   new NdjsonTsv(columns, maxLineBytes): columns as built by src/ingest/native.ts
//   encoder.encode(buffer, bom) -> [tsv: Buffer, goodRows, lines, fallback: number[]]
//     fallback holds (line index, start, end) triples, byte offsets into `buffer`.
#include <napi.h>

#include <memory>

#include "ndjson_tsv.h"

namespace {

using namespace colibri_ingest;

std::string str(const Napi::Value& v) { return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string(); }

std::vector<std::string> strings(const Napi::Value& v) {
  std::vector<std::string> out;
  if (!v.IsArray()) return out;
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); ++i) out.push_back(str(a.Get(i)));
  return out;
}

int num(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Int32Value() : 0;
}

bool parseKind(const std::string& s, Kind& k) {
  static const std::pair<const char*, Kind> kinds[] = {
      {"String", Kind::String}, {"FixedString", Kind::FixedString}, {"Int", Kind::Int},
      {"Float", Kind::Float}, {"Bool", Kind::Bool}, {"Date", Kind::Date}, {"Date32", Kind::Date32},
      {"DateTime", Kind::DateTime}, {"DateTime64", Kind::DateTime64}, {"UUID", Kind::UUID}, {"Enum", Kind::Enum}};
  for (const auto& p : kinds)
    if (s == p.first) {
      k = p.second;
      return true;
    }
  return false;
}

class NdjsonTsv : public Napi::ObjectWrap<NdjsonTsv> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NdjsonTsv", {InstanceMethod("encode", &NdjsonTsv::Encode)});
  }

  explicit NdjsonTsv(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NdjsonTsv>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsNumber()) {
      Napi::TypeError::New(env, "NdjsonTsv(columns, maxLineBytes)").ThrowAsJavaScriptException();
      return;
    }
    Napi::Array cols = info[0].As<Napi::Array>();
    std::vector<Column> columns;
    for (uint32_t i = 0; i < cols.Length(); ++i) {
      Napi::Value cv = cols.Get(i);
      if (!cv.IsObject()) {
        Napi::TypeError::New(env, "column: expected an object").ThrowAsJavaScriptException();
        return;
      }
      Napi::Object o = cv.As<Napi::Object>();
      Column c;
      if (!parseKind(str(o.Get("kind")), c.kind)) {
        Napi::TypeError::New(env, "column: unknown kind").ThrowAsJavaScriptException();
        return;
      }
      c.path = strings(o.Get("path"));
      if (c.path.empty()) {
        Napi::TypeError::New(env, "column: empty path").ThrowAsJavaScriptException();
        return;
      }
      c.bits = num(o, "bits");
      c.isSigned = o.Get("signed").ToBoolean().Value();
      c.fixedLength = num(o, "fixedLength");
      c.precision = num(o, "precision");
      Napi::Value missing = o.Get("missing");
      c.hasMissing = missing.IsString();
      if (c.hasMissing) c.missing = str(missing);
      std::vector<std::string> names = strings(o.Get("enumNames")), namesOut = strings(o.Get("enumNameOut"));
      std::vector<std::string> values = strings(o.Get("enumValues")), valuesOut = strings(o.Get("enumValueOut"));
      for (size_t k = 0; k < names.size() && k < namesOut.size(); ++k) c.enumByName.emplace(names[k], namesOut[k]);
      for (size_t k = 0; k < values.size() && k < valuesOut.size(); ++k) c.enumByValue.emplace(values[k], valuesOut[k]);
      columns.push_back(std::move(c));
    }
    double maxLine = info[1].As<Napi::Number>().DoubleValue();
    encoder_.reset(new Encoder(std::move(columns), maxLine > 0 ? static_cast<size_t>(maxLine) : 0));
  }

 private:
  Napi::Value Encode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsBuffer()) {
      Napi::TypeError::New(env, "encode(buffer, bom)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Buffer<char> buf = info[0].As<Napi::Buffer<char>>();
    bool bom = info.Length() > 1 && info[1].ToBoolean().Value();
    out_.tsv.clear();
    out_.goodRows = 0;
    out_.lines = 0;
    out_.fallback.clear();
    encoder_->encode(buf.Data(), buf.Length(), bom, out_);
    Napi::Array result = Napi::Array::New(env, 4);
    result.Set(0u, Napi::Buffer<char>::Copy(env, out_.tsv.data(), out_.tsv.size()));
    result.Set(1u, Napi::Number::New(env, out_.goodRows));
    result.Set(2u, Napi::Number::New(env, out_.lines));
    Napi::Array fb = Napi::Array::New(env, out_.fallback.size() * 3);
    for (size_t i = 0; i < out_.fallback.size(); ++i) {
      fb.Set(static_cast<uint32_t>(i * 3), Napi::Number::New(env, out_.fallback[i].line));
      fb.Set(static_cast<uint32_t>(i * 3 + 1), Napi::Number::New(env, static_cast<double>(out_.fallback[i].start)));
      fb.Set(static_cast<uint32_t>(i * 3 + 2), Napi::Number::New(env, static_cast<double>(out_.fallback[i].end)));
    }
    result.Set(3u, fb);
    // Keep memory bounded between requests.
    if (out_.tsv.capacity() > (64u << 20)) std::string().swap(out_.tsv);
    return result;
  }

  std::unique_ptr<Encoder> encoder_;
  EncodeOutput out_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("NdjsonTsv", NdjsonTsv::Define(env));
  exports.Set("maxDepth", Napi::Number::New(env, kMaxDepth));
  return exports;
}

}  // namespace

NODE_API_MODULE(colibri_ingest, Init)
