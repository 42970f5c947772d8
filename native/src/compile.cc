// Pipe compilation (see compile.h).
#include "compile.h"

#include <algorithm>
#include <deque>
#include <memory>

#include "rewrite.h"

namespace colibri_sql {

std::string trimQuery(std::string_view sql) {
  thread_local std::vector<Token> toks;
  thread_local std::vector<Span> comments;
  tokenize(sql, toks, &comments);
  size_t n = toks.size() - 1;
  while (n > 0 && toks[n - 1].type == Tok::Semicolon) --n;
  if (n == 0) return std::string();
  return replaceComments(sql, comments, Span{toks[0].begin, toks[n - 1].end});
}

std::string inAliasMessage(const std::string& alias) {
  return "'IN " + alias + "' names a WITH expression alias, which ClickHouse versions read differently " +
         "(26: the alias value; 18.16: a table of that name): write the values, a subquery or has(" +
         alias + ", x) instead";
}

namespace {

constexpr size_t kMaxPipeDepth = 1000;

// A line comment in a filter must not swallow the closing parenthesis.
bool guardComment(const std::string& s) {
  return s.find("--") != std::string::npos || s.find('#') != std::string::npos;
}

// string_view -> index, open addressing; storage reused between compiles (no allocation
// once warm).
class NameIndex {
 public:
  void reset(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    if (slots_.size() < cap) slots_.resize(cap);
    mask_ = cap - 1;
    std::fill(slots_.begin(), slots_.begin() + cap, Slot{});
  }
  void add(std::string_view k, uint32_t v) {  // the first of equal names wins
    for (size_t i = hash(k) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].index == kEmpty) {
        slots_[i] = Slot{k, v};
        return;
      }
      if (slots_[i].key == k) return;
    }
  }
  uint32_t find(std::string_view k) const {
    for (size_t i = hash(k) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].index == kEmpty) return kEmpty;
      if (slots_[i].key == k) return slots_[i].index;
    }
  }
  static constexpr uint32_t kEmpty = 0xFFFFFFFFu;

 private:
  struct Slot {
    std::string_view key;
    uint32_t index = kEmpty;
  };
  static size_t hash(std::string_view k) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : k) h = (h ^ c) * 1099511628211ull;
    return size_t(h ^ (h >> 29));
  }
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

// One replaced span of a node's body: another node (inlined), a text of the arena
// (qualified table, filtered or endpoint subquery), or a comment (one space).
struct Piece {
  Span span;
  uint32_t node;      // NameIndex::kEmpty unless a node reference
  uint32_t textAt;    // arena offset of the replacement (node: of the " AS `x`" suffix)
  uint32_t textLen;
};

struct NodeOut {
  uint32_t pieceAt = 0, pieceCount = 0;
  uint64_t size = 0;  // compiled size in bytes (saturated above kMaxOutputBytes)
  Span body;
};

struct Scratch {
  NameIndex nodeIdx, dsIdx, epIdx, filterIdx;
  std::vector<std::unique_ptr<Analysis>> analyses;  // one per recursion depth
  std::deque<std::vector<Piece>> local;              // pieces being collected, per depth (stable refs)
  std::vector<Piece> pieces;                          // every node's pieces, node by node
  std::string arena;
  std::vector<uint8_t> state;                         // 0 new, 1 visiting, 2 done
  std::vector<NodeOut> nodes;
  std::vector<uint32_t> dsText, dsLen, epText, epLen;  // per data source / endpoint: arena text
  std::vector<uint8_t> dsUsed;
  std::vector<size_t> path;
};

struct Compiler {
  const CompileInput& in;
  Scratch& x;
  CompileOutput& out;

  Compiler(const CompileInput& input, Scratch& scratch, CompileOutput& output) : in(input), x(scratch), out(output) {
    x.nodeIdx.reset(in.nodes.size());
    for (size_t i = 0; i < in.nodes.size(); ++i) x.nodeIdx.add(in.nodes[i].name, uint32_t(i));
    x.dsIdx.reset(in.datasources.size());
    for (size_t i = 0; i < in.datasources.size(); ++i) x.dsIdx.add(in.datasources[i].name, uint32_t(i));
    x.epIdx.reset(in.endpoints.size());
    for (size_t i = 0; i < in.endpoints.size(); ++i) x.epIdx.add(in.endpoints[i].pipe, uint32_t(i));
    x.filterIdx.reset(in.filters.size());
    for (size_t i = 0; i < in.filters.size(); ++i) x.filterIdx.add(in.filters[i].first, uint32_t(i));
    x.pieces.clear();
    x.arena.clear();
    x.path.clear();
    x.state.assign(in.nodes.size(), 0);
    x.nodes.assign(in.nodes.size(), NodeOut{});
    x.dsText.assign(in.datasources.size(), NameIndex::kEmpty);
    x.dsLen.assign(in.datasources.size(), 0);
    x.dsUsed.assign(in.datasources.size(), 0);
    x.epText.assign(in.endpoints.size(), NameIndex::kEmpty);
    x.epLen.assign(in.endpoints.size(), 0);
  }

  [[noreturn]] void cycle(size_t again) {
    std::string msg = "Cycle in pipe nodes: ";
    size_t k = 0;
    while (x.path[k] != again) ++k;
    for (; k < x.path.size(); ++k) {
      msg += in.nodes[x.path[k]].name;
      msg += " -> ";
    }
    msg += in.nodes[again].name;
    throw PolicyError(msg, 400);
  }

  static uint64_t sat(uint64_t v) { return v > kMaxOutputBytes ? kMaxOutputBytes + 1 : v; }

  uint32_t arenaAdd(std::string_view s) {
    uint32_t at = uint32_t(x.arena.size());
    x.arena.append(s.data(), s.size());
    return at;
  }

  void addDep(std::vector<std::string>& deps, const std::string& n) {
    for (const auto& d : deps)
      if (d == n) return;
    deps.push_back(n);
  }

  void visit(size_t i) {
    size_t depth = x.path.size();
    if (depth >= kMaxPipeDepth) throw PolicyError("Pipe is too deep", 400);
    x.state[i] = 1;
    x.path.push_back(i);
    if (x.analyses.size() <= depth) {
      x.analyses.push_back(std::make_unique<Analysis>());
      x.local.emplace_back();
    }
    Analysis& a = *x.analyses[depth];
    const CompileNode& node = in.nodes[i];
    try {
      analyze(node.sql, a);
    } catch (const SyntaxError& e) {
      throw SyntaxError("Node '" + node.name + "': " + e.what(), e.offset, e.line, e.column);
    }
    if (a.kind != Kind::Select || a.statementCount != 1)
      throw PolicyError("Node '" + node.name + "' must be a single SELECT query", 400);
    if (!a.inAliases.empty())
      throw PolicyError("Node '" + node.name + "': " + inAliasMessage(a.inAliases[0].name), 400);
    std::vector<std::string> deps;
    std::vector<Piece>& local = x.local[depth];
    local.clear();
    // Size of the body without the replaced spans; then only additions (saturating).
    uint64_t size = a.body.end - a.body.begin;
    for (const Span& c : a.comments)
      if (c.begin >= a.body.begin && c.end <= a.body.end) {
        local.push_back(Piece{c, NameIndex::kEmpty, 0, 0});
        size -= (c.end - c.begin) - 1;
      }
    for (const TableRef& ref : a.tables) size -= ref.span.end - ref.span.begin;
    for (const TableRef& ref : a.tables) {
      bool alias = !ref.inContext && !ref.hasAlias;  // an alias is appended
      if (!ref.hasDatabase) {
        uint32_t j = x.nodeIdx.find(ref.table);
        if (j != NameIndex::kEmpty) {
          if (x.state[j] == 1) cycle(j);
          if (x.state[j] == 0) visit(j);
          addDep(deps, in.nodes[j].name);
          Piece p{ref.span, j, 0, 0};
          if (alias) {
            std::string suffix = " AS " + quoteIdent(ref.table);
            p.textAt = arenaAdd(suffix);
            p.textLen = uint32_t(suffix.size());
          }
          size = sat(size + 2 + p.textLen + x.nodes[j].size);
          local.push_back(p);
          continue;
        }
      }
      if (!ref.hasDatabase || ref.database == in.database) {
        uint32_t d = x.dsIdx.find(ref.table);
        if (d != NameIndex::kEmpty) {
          const CompileDatasource& ds = in.datasources[d];
          if (!x.dsUsed[d]) {
            x.dsUsed[d] = 1;
            out.datasources.push_back(ds.name);
          }
          addDep(deps, ds.name);
          const std::string& phys = ds.table.empty() ? ds.name : ds.table;
          uint32_t f = x.filterIdx.find(ds.name);
          // Once per data source: `db`.`t`, or (SELECT * FROM `db`.`t` WHERE (filter)).
          if (x.dsText[d] == NameIndex::kEmpty) {
            std::string text = quoteIdent(in.database) + "." + quoteIdent(phys);
            if (f != NameIndex::kEmpty) {
              const std::string filter = stripComments(in.filters[f].second);
              text = "(SELECT * FROM " + text + " WHERE (" + filter + (guardComment(filter) ? "\n))" : "))");
            }
            x.dsText[d] = arenaAdd(text);
            x.dsLen[d] = uint32_t(text.size());
          }
          Piece p{ref.span, NameIndex::kEmpty, x.dsText[d], x.dsLen[d]};
          // The written name stays the alias: always for a subquery, for a table when renamed.
          if (alias && (f != NameIndex::kEmpty || phys != ref.table)) {
            std::string text(x.arena, x.dsText[d], x.dsLen[d]);
            text += " AS ";
            text += quoteIdent(ref.table);
            p.textAt = arenaAdd(text);
            p.textLen = uint32_t(text.size());
          }
          size = sat(size + p.textLen);
          local.push_back(p);
          continue;
        }
      }
      if (!ref.hasDatabase) {
        uint32_t e = x.epIdx.find(ref.table);
        if (e != NameIndex::kEmpty) {
          addDep(deps, ref.table);
          if (x.epText[e] == NameIndex::kEmpty) {
            std::string body = trimQuery(in.endpoints[e].sql);
            x.epText[e] = arenaAdd(body);
            x.epLen[e] = uint32_t(body.size());
          }
          std::string text = "(" + std::string(x.arena, x.epText[e], x.epLen[e]) + ")";
          if (alias) text += " AS " + quoteIdent(ref.table);
          size = sat(size + text.size());
          local.push_back(Piece{ref.span, NameIndex::kEmpty, arenaAdd(text), uint32_t(text.size())});
          continue;
        }
      }
      throw PolicyError("Resource '" + refKey(ref) + "' not found", 400);
    }
    if (size > kMaxOutputBytes)
      throw PolicyError("Compiled query is too large (over " + std::to_string(kMaxOutputBytes) +
                            " bytes): too many nested node references",
                        400);
    std::sort(local.begin(), local.end(), [](const Piece& p, const Piece& q) { return p.span.begin < q.span.begin; });
    NodeOut& no = x.nodes[i];
    no.pieceAt = uint32_t(x.pieces.size());
    no.pieceCount = uint32_t(local.size());
    no.size = size;
    no.body = a.body;
    x.pieces.insert(x.pieces.end(), local.begin(), local.end());
    out.order.push_back(node.name);
    out.dependencies.emplace_back(node.name, std::move(deps));
    x.path.pop_back();
    x.state[i] = 2;
  }

  void emit(size_t i, std::string& o) const {
    const std::string& src = in.nodes[i].sql;
    const NodeOut& no = x.nodes[i];
    uint32_t pos = no.body.begin;
    for (uint32_t k = 0; k < no.pieceCount; ++k) {
      const Piece& p = x.pieces[no.pieceAt + k];
      o.append(src, pos, p.span.begin - pos);
      if (p.node != NameIndex::kEmpty) {
        o += '(';
        emit(p.node, o);
        o += ')';
        o.append(x.arena, p.textAt, p.textLen);
      } else if (p.textLen == 0) {
        o += ' ';  // a comment
      } else {
        o.append(x.arena, p.textAt, p.textLen);
      }
      pos = p.span.end;
    }
    o.append(src, pos, no.body.end - pos);
  }
};

}  // namespace

void compile(const CompileInput& input, const std::string& target, CompileOutput& out) {
  thread_local Scratch scratch;
  out.sql.clear();
  out.order.clear();
  out.dependencies.clear();
  out.datasources.clear();
  Compiler c(input, scratch, out);
  uint32_t t = scratch.nodeIdx.find(target);
  if (t == NameIndex::kEmpty) throw PolicyError("Resource '" + target + "' not found", 400);
  c.visit(t);
  out.sql.reserve(scratch.nodes[t].size);
  c.emit(t, out.sql);
}

CompileOutput compile(const CompileInput& input, const std::string& target) {
  CompileOutput out;
  compile(input, target, out);
  return out;
}

}  // namespace colibri_sql
