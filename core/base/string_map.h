// A string-keyed unordered_map whose lookups by std::string_view do not
// allocate (transparent hashing).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace pyctx::core {

struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

template <class V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

}  // namespace pyctx::core
