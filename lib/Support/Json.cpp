// Json.cpp - parsing with located errors, JSON pointer tokens and
// unknown-field errors.
#include "netjit/Support/Json.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/Twine.h"
#include <set>

using namespace llvm;
using json = nlohmann::json;

namespace netjit {

std::string escapeJsonToken(StringRef Key) {
  std::string Out;
  for (char C : Key)
    Out += C == '~' ? "~0" : C == '/' ? "~1" : std::string(1, C);
  return Out;
}

namespace {

/// JSON pointer bookkeeping for the parse callback, which sees keys and
/// values but not where they are: a stack of the containers being read.
struct Frame {
  bool IsObject;
  std::set<std::string> Keys;
  std::string Key;
  size_t Index = 0;
};

/// The pointer of the innermost value being read, shortened past about 120
/// characters (a pointer 64 levels deep says little more than its start).
std::string pointerOf(const std::vector<Frame> &Stack) {
  std::string P;
  for (const Frame &F : Stack) {
    if (P.size() > 120)
      return P + "/...";
    P += "/" + (F.IsObject ? escapeJsonToken(F.Key) : std::to_string(F.Index));
  }
  return P;
}

/// Thrown by the parse callback to stop at the first container too deep.
struct TooDeep {};

} // namespace

Expected<json> parseJson(StringRef Text, ErrorKind Kind, StringRef File,
                         std::optional<size_t> ByteBase) {
  auto At = [&](size_t Offset, const Twine &Message) {
    if (ByteBase)
      return locatedError(Kind, File, ("byte " + Twine(*ByteBase + Offset)).str(),
                          Message);
    return sourceError(Kind, File, Text, Offset, Message);
  };
  std::vector<Frame> Stack;
  std::string Duplicate, Deep;
  auto Advance = [&] {
    if (!Stack.empty() && !Stack.back().IsObject)
      ++Stack.back().Index;
  };
  json::parser_callback_t Callback = [&](int, json::parse_event_t Ev,
                                         json &V) {
    switch (Ev) {
    case json::parse_event_t::object_start:
    case json::parse_event_t::array_start:
      if (Stack.size() == MaxJsonDepth) {
        Deep = pointerOf(Stack);
        throw TooDeep();
      }
      Stack.push_back({Ev == json::parse_event_t::object_start, {}, {}, 0});
      break;
    case json::parse_event_t::key: {
      Frame &F = Stack.back();
      F.Key = V.get<std::string>();
      if (!F.Keys.insert(F.Key).second && Duplicate.empty())
        Duplicate = pointerOf(Stack);
      break;
    }
    case json::parse_event_t::object_end:
    case json::parse_event_t::array_end:
      Stack.pop_back();
      Advance();
      break;
    case json::parse_event_t::value:
      Advance();
      break;
    }
    return true;
  };
  json Doc;
  try {
    Doc = json::parse(Text.begin(), Text.end(), Callback);
  } catch (const TooDeep &) {
    return locatedError(Kind, File, Deep.empty() ? "/" : Deep,
                        "objects and arrays nested deeper than " +
                            Twine(MaxJsonDepth) + " levels");
  } catch (const json::parse_error &E) {
    // E.byte is 1-based, one past the offending character.
    size_t Offset = E.byte > 0 ? E.byte - 1 : 0;
    std::string What = E.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 2:
    // syntax error while parsing value - invalid literal; ..."
    size_t Colon = What.find("syntax error");
    std::string Message =
        Colon == std::string::npos ? What : What.substr(Colon);
    // nlohmann quotes what it read of the bad token, which can be long.
    size_t Read = Message.find("last read: '");
    size_t ReadEnd = Message.find("'; ", Read);
    if (Read != std::string::npos && ReadEnd != std::string::npos &&
        ReadEnd - Read > 52)
      Message = Message.substr(0, Read + 12) + "..." +
                Message.substr(ReadEnd - 30);
    if (Offset >= Text.size())
      Message = "unexpected end of file: " + Message;
    return At(std::min(Offset, Text.size()), "invalid JSON: " + Message);
  } catch (const json::exception &E) {
    // A number past double's range ("number overflow parsing '1e400'"):
    // nlohmann gives no position, so find the literal it names.
    std::string What = E.what();
    size_t Q = What.find('\'');
    std::string Literal =
        Q == std::string::npos ? "" : What.substr(Q + 1, What.rfind('\'') - Q - 1);
    size_t Pos = Literal.empty() ? 0 : Text.find(Literal);
    return At(Pos == StringRef::npos ? 0 : Pos,
              "invalid JSON: the number " +
                  (Literal.empty() ? std::string("here") : Literal) +
                  " is out of range");
  }
  if (!Duplicate.empty())
    return locatedError(Kind, File, Duplicate,
                        "duplicate key (each field may appear once)");
  return Doc;
}

Error checkJsonKeys(ErrorKind Kind, StringRef File, const json &V,
                    StringRef Pointer, ArrayRef<std::string> Allowed) {
  for (auto &[K, _] : V.items())
    if (!is_contained(Allowed, K))
      return locatedError(Kind, File, (Pointer + "/" + escapeJsonToken(K)).str(),
                          "unknown field '" + K + "'" + didYouMean(K, Allowed));
  return Error::success();
}

} // namespace netjit
