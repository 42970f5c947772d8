// Node-API binding of the NDJSON -> TabSeparated encoder (placeholder).
#include <napi.h>
static Napi::Object Init(Napi::Env env, Napi::Object exports) { return exports; }
NODE_API_MODULE(colibri_ingest, Init)
