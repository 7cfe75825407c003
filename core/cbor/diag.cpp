#include "core/cbor/diag.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "core/cbor/reader.h"

namespace pyctx::core::cbor {

std::string format_double(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";

    // Shortest digits that round-trip, in scientific form ("-1.5e+00"); then
    // laid out like Python's repr: fixed notation for exponents -4..15.
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
    std::string_view s(buf, static_cast<size_t>(res.ptr - buf));
    std::string out;
    if (!s.empty() && s[0] == '-') {
        out.push_back('-');
        s.remove_prefix(1);
    }
    const size_t e = s.find('e');
    std::string digits;
    for (char c : s.substr(0, e))
        if (c != '.') digits.push_back(c);
    const int exp = std::atoi(std::string(s.substr(e + 1)).c_str());

    if (exp >= -4 && exp < 16) {
        if (exp >= 0) {
            const auto int_len = static_cast<size_t>(exp) + 1;
            if (digits.size() <= int_len) {
                out += digits;
                out.append(int_len - digits.size(), '0');
                out += ".0";
            } else {
                out += digits.substr(0, int_len);
                out.push_back('.');
                out += digits.substr(int_len);
            }
        } else {
            out += "0.";
            out.append(static_cast<size_t>(-exp - 1), '0');
            out += digits;
        }
        return out;
    }
    out.push_back(digits[0]);
    out.push_back('.');
    out += digits.size() > 1 ? digits.substr(1) : "0";
    out += exp < 0 ? "e-" : "e+";
    out += std::to_string(std::abs(exp));
    return out;
}

namespace {

class Diag {
public:
    Diag(const uint8_t *data, size_t len, std::string &out, Error *err)
        : data_(data), len_(len), out_(out), err_(err) {}

    bool item(size_t *pos, int depth) {
        // A chain of tags is rendered iteratively: `1(2(3(x)))`.
        size_t open = 0;
        Head h;
        size_t start;
        for (;;) {
            start = *pos;
            if (!read_head(data_, len_, pos, &h, err_)) return false;
            if (h.type != Type::tag) break;
            out_ += std::to_string(h.arg);
            out_.push_back('(');
            ++open;
        }
        if (!value(h, start, pos, depth)) return false;
        out_.append(open, ')');
        return true;
    }

private:
    bool value(const Head &h, size_t start, size_t *pos, int depth) {
        switch (h.type) {
            case Type::uint:
                out_ += std::to_string(h.arg);
                return true;
            case Type::negint:
                // -1 - n, spelled without overflowing for n == 2^64 - 1.
                out_.push_back('-');
                out_ += h.arg == UINT64_MAX ? std::string("18446744073709551616")
                                            : std::to_string(h.arg + 1);
                return true;
            case Type::bytes:
            case Type::text:
                return string(h, start, pos);
            case Type::array:
            case Type::map:
                return container(h, start, pos, depth);
            case Type::false_: out_ += "false"; return true;
            case Type::true_: out_ += "true"; return true;
            case Type::null: out_ += "null"; return true;
            case Type::undefined: out_ += "undefined"; return true;
            case Type::float_:
                out_ += format_double(h.float_value);
                return true;
            case Type::simple:
                out_ += "simple(" + std::to_string(h.arg) + ")";
                return true;
            case Type::break_:
                return fail(err_, start, "unexpected break (0xff) outside an indefinite-length item");
            case Type::tag:
                break;  // handled by item()
        }
        return fail(err_, start, "unexpected item");
    }

    void chunk(Type type, const uint8_t *p, size_t n) {
        static const char hex[] = "0123456789abcdef";
        if (type == Type::bytes) {
            out_ += "h'";
            for (size_t i = 0; i < n; ++i) {
                out_.push_back(hex[p[i] >> 4]);
                out_.push_back(hex[p[i] & 15]);
            }
            out_.push_back('\'');
            return;
        }
        out_.push_back('"');
        for (size_t i = 0; i < n; ++i) {
            const auto c = static_cast<unsigned char>(p[i]);
            switch (c) {
                case '"': out_ += "\\\""; break;
                case '\\': out_ += "\\\\"; break;
                case '\n': out_ += "\\n"; break;
                case '\r': out_ += "\\r"; break;
                case '\t': out_ += "\\t"; break;
                case '\b': out_ += "\\b"; break;
                case '\f': out_ += "\\f"; break;
                default:
                    if (c < 0x20 || c == 0x7f) {
                        out_ += "\\u00";
                        out_.push_back(hex[c >> 4]);
                        out_.push_back(hex[c & 15]);
                    } else {
                        out_.push_back(static_cast<char>(c));  // UTF-8 passes through
                    }
            }
        }
        out_.push_back('"');
    }

    bool string(const Head &h, size_t start, size_t *pos) {
        if (!h.indefinite) {
            size_t bad;
            if (h.type == Type::text && !utf8_valid(h.data, h.arg, &bad))
                return fail(err_, start,
                            "text string is not valid UTF-8 (bad byte at " +
                                std::to_string(static_cast<size_t>(h.data - data_) + bad) + ")");
            chunk(h.type, h.data, h.arg);
            return true;
        }
        size_t end = *pos, total;
        if (!scan_chunks(data_, len_, &end, h.type, true, &total, err_)) return false;
        // Empty indefinite strings are written ''_ and ""_ (RFC 8949 §8.1).
        if (data_[*pos] == 0xff) {
            out_ += h.type == Type::bytes ? "''_" : "\"\"_";
        } else {
            out_ += "(_ ";
            bool first = true;
            while (data_[*pos] != 0xff) {
                Head c;
                read_head(data_, len_, pos, &c, err_);  // checked by scan_chunks
                if (!first) out_ += ", ";
                first = false;
                chunk(h.type, c.data, c.arg);
            }
            out_.push_back(')');
        }
        *pos = end;
        return true;
    }

    bool container(const Head &h, size_t start, size_t *pos, int depth) {
        if (depth >= kMaxDepth)
            return fail(err_, start, "nesting deeper than " + std::to_string(kMaxDepth) + " levels");
        const bool is_map = h.type == Type::map;
        out_.push_back(is_map ? '{' : '[');
        if (h.indefinite) out_ += "_ ";
        for (uint64_t i = 0;; ++i) {
            if (h.indefinite) {
                if (*pos >= len_)
                    return fail(err_, *pos,
                                std::string("unterminated indefinite-length ") + type_name(h.type) +
                                    " (missing break)");
                if (data_[*pos] == 0xff) {
                    ++*pos;
                    break;
                }
            } else if (i == h.arg) {
                break;
            }
            if (i) out_ += ", ";
            if (!item(pos, depth + 1)) return false;
            if (is_map) {
                out_ += ": ";
                if (!item(pos, depth + 1)) return false;
            }
        }
        out_.push_back(is_map ? '}' : ']');
        return true;
    }

    const uint8_t *data_;
    size_t len_;
    std::string &out_;
    Error *err_;
};

}  // namespace

bool diagnose(const uint8_t *data, size_t len, std::string *out, Error *err) {
    out->clear();
    size_t pos = 0;
    Diag d(data, len, *out, err);
    if (!d.item(&pos, 0)) return false;
    if (pos != len)
        return fail(err, pos,
                    std::to_string(len - pos) + " trailing byte(s) after the data item");
    return true;
}

}  // namespace pyctx::core::cbor
