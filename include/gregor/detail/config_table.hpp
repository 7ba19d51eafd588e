// The declarative form of a component's configuration: one `key` row per Kafka property (name,
// aliases, topic-level name, type, default, bounds, unit, one doc line, and the field it is stored
// in), kept in a constexpr array next to the config struct. The same rows drive parsing (`set`,
// `from_properties`), range checks (`validate`), the broker's --help listing and
// docs/configuration.md, so a key cannot be parsed one way and documented another.
//
// Thread-safety: the tables are immutable; every function here is pure apart from writing the
// Config it is given.
#pragma once

#include <gregor/detail/properties.hpp>

#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace gregor::detail::config {

// fraction: a double in [0, 1] (min.cleanable.dirty.ratio), stored in a `double` field.
enum class type : std::uint8_t { boolean, integer, string, choice, fraction };

/// A parsed or loaded value: integers, booleans (0/1) and choices (index into `choices`) in `i`,
/// text in `s` (a choice also carries its canonical spelling there). `unset` is an empty optional.
struct value {
    std::int64_t i = 0;
    std::string s;
    bool unset = false;
    double d = 0; // type::fraction
};

inline constexpr std::int64_t no_min = std::numeric_limits<std::int64_t>::min();
inline constexpr std::int64_t no_max = std::numeric_limits<std::int64_t>::max();
/// Upper bound of a duration that becomes a deadline on a nanosecond clock (now + it): about 31
/// years, far from where steady_clock's int64 nanoseconds overflow.
inline constexpr std::int64_t max_deadline_ms = 1'000'000'000'000;

template <typename Config>
struct key {
    std::string_view name{};       // Kafka's name
    std::string_view aliases{};    // other accepted names, space separated
    std::string_view topic_name{}; // the topic-level override's name ("" = not a topic config)
    config::type type = type::integer;
    std::string_view default_text{}; // as written in a properties file ("" for an unset optional)
    std::int64_t min = no_min;       // bounds of integers, in the key's own unit
    std::int64_t max = no_max;
    // Stored value = parsed value * scale (hours -> ms), refused when it would overflow; negative
    // values of a scaled key mean "unlimited" and are stored as -1, as Kafka does for retention.
    std::int64_t scale = 1;
    std::string_view choices{}; // type::choice: '|' between choices, '/' between spellings of one
    std::string_view unit{};    // "ms", "bytes", ... ("" = none)
    std::string_view doc{};     // one line
    std::string_view stored{};  // the field it is stored in
    void (*store)(Config&, const value&) = nullptr;
    value (*load)(const Config&) = nullptr; // null for keys folded into another key's field (*.hours)
    // from_properties applies lower ranks first, so log.retention.ms (2) beats .minutes (1) beats
    // .hours (0) whatever the order of the properties, as in Kafka.
    int rank = 0;
};

// ---- storing into and loading from fields of any supported type ----------------------------

template <typename T>
struct is_optional : std::false_type {};
template <typename T>
struct is_optional<std::optional<T>> : std::true_type {};

template <typename T>
void assign(T& field, const value& v) {
    if constexpr (is_optional<T>::value) {
        if (v.unset) {
            field.reset();
        } else {
            typename T::value_type inner{};
            assign(inner, v);
            field = std::move(inner);
        }
    } else if constexpr (std::is_same_v<T, bool>) {
        field = v.i != 0;
    } else if constexpr (std::is_enum_v<T>) {
        field = static_cast<T>(v.i);
    } else if constexpr (std::is_floating_point_v<T>) {
        field = static_cast<T>(v.d);
    } else if constexpr (std::is_integral_v<T>) {
        // Bounds in the table keep values in range; this guards a table row that is wrong.
        if (!std::in_range<T>(v.i)) throw std::logic_error("config table: value out of its field's range");
        field = static_cast<T>(v.i);
    } else {
        field = T(v.s);
    }
}

template <typename T>
value to_value(const T& field) {
    if constexpr (is_optional<T>::value) {
        if (!field) return value{0, {}, true};
        return to_value(*field);
    } else if constexpr (std::is_same_v<T, bool>) {
        return value{field ? 1 : 0, {}, false};
    } else if constexpr (std::is_enum_v<T>) {
        return value{static_cast<std::int64_t>(field), {}, false};
    } else if constexpr (std::is_floating_point_v<T>) {
        value v;
        v.d = static_cast<double>(field);
        return v;
    } else if constexpr (std::is_integral_v<T>) {
        // A uint64 above INT64_MAX shows as negative, which every bound check then refuses.
        return value{static_cast<std::int64_t>(field), {}, false};
    } else if constexpr (requires { field.string(); }) {
        return value{0, field.string(), false};
    } else {
        return value{0, std::string(field), false};
    }
}

/// The store/load pair (and `stored`) of a key kept in `Config::member`.
#define GREGOR_CONFIG_FIELD(Config, member)                                                                            \
    .stored = #member,                                                                                                 \
    .store = [](Config& c,                                                                                             \
                const ::gregor::detail::config::value& v) { ::gregor::detail::config::assign(c.member, v); },          \
    .load = [](const Config& c) { return ::gregor::detail::config::to_value(c.member); }

/// A key folded into another key's field (log.roll.hours into log.roll.ms's segment_ms).
#define GREGOR_CONFIG_DERIVED(Config, member)                                                                          \
    .stored = #member,                                                                                                 \
    .store = [](Config& c,                                                                                             \
                const ::gregor::detail::config::value& v) { ::gregor::detail::config::assign(c.member, v); },          \
    .load = nullptr

// ---- names and choices ------------------------------------------------------------------------

/// Calls f(token) for each token of `list` separated by `sep`.
template <typename F>
constexpr void for_each_token(std::string_view list, char sep, F&& f) {
    while (!list.empty()) {
        const auto p = list.find(sep);
        f(list.substr(0, p));
        if (p == std::string_view::npos) break;
        list.remove_prefix(p + 1);
    }
}

template <typename Config>
constexpr bool has_name(const key<Config>& k, std::string_view name, bool topic_names) {
    if (k.name == name) return true;
    if (topic_names && !k.topic_name.empty() && k.topic_name == name) return true;
    bool found = false;
    for_each_token(k.aliases, ' ', [&](std::string_view a) { found = found || a == name; });
    return found;
}

/// The row for `name` (Kafka name or alias; topic-level names too when `topic_names`), or null.
template <typename Config, std::size_t N>
constexpr const key<Config>* find(const std::array<key<Config>, N>& table, std::string_view name,
                                  bool topic_names = false) {
    for (const auto& k : table)
        if (has_name(k, name, topic_names)) return &k;
    return nullptr;
}

/// The row whose topic-level name is `name`, or null.
template <typename Config, std::size_t N>
constexpr const key<Config>* find_topic(const std::array<key<Config>, N>& table, std::string_view name) {
    for (const auto& k : table)
        if (!k.topic_name.empty() && k.topic_name == name) return &k;
    return nullptr;
}

/// The canonical spelling of choice `index`.
constexpr std::string_view choice_at(std::string_view choices, std::int64_t index) {
    std::string_view out;
    std::int64_t i = 0;
    for_each_token(choices, '|', [&](std::string_view c) {
        if (i++ == index) out = c.substr(0, c.find('/'));
    });
    return out;
}

/// Choices as a reader would list them: "delete, compact, compact,delete".
inline std::string choice_list(std::string_view choices) {
    std::string out;
    for_each_token(choices, '|', [&](std::string_view c) {
        if (!out.empty()) out += ", ";
        out += c.substr(0, c.find('/'));
    });
    return out;
}

// ---- parsing and formatting ------------------------------------------------------------------

/// Parses `text` for row `k`, given by the name the user wrote; junk, out-of-range values and
/// overflowing unit conversions throw std::invalid_argument naming that name.
template <typename Config>
value parse(const key<Config>& k, const std::string& name, const std::string& text) {
    value v;
    switch (k.type) {
    case type::boolean: v.i = props::parse_bool(name, text) ? 1 : 0; break;
    case type::integer: {
        const auto* b = text.data();
        const auto* e = b + text.size();
        auto [p, ec] = std::from_chars(b, e, v.i);
        if (ec != std::errc{} || p != e || text.empty()) props::bad_value(name, text, "not an integer in range");
        if (v.i < k.min || v.i > k.max)
            props::bad_value(name, text,
                             ("must be between " + std::to_string(k.min) + " and " + std::to_string(k.max)).c_str());
        if (k.scale != 1) {
            if (v.i < 0)
                v.i = -1;
            else if (v.i > no_max / k.scale)
                props::bad_value(name, text, ("overflows 64-bit " + std::string(k.unit) + " once converted").c_str());
            else
                v.i *= k.scale;
        }
        break;
    }
    case type::string: v.s = text; break;
    case type::fraction: {
        const auto* b = text.data();
        const auto* e = b + text.size();
        auto [p, ec] = std::from_chars(b, e, v.d);
        if (ec != std::errc{} || p != e || text.empty() || !(v.d >= 0 && v.d <= 1))
            props::bad_value(name, text, "must be a number between 0 and 1");
        break;
    }
    case type::choice: {
        // Kafka lists ("compact, delete") may carry blanks after commas.
        std::string t;
        for (char ch : text)
            if (ch != ' ') t += ch;
        std::int64_t i = 0;
        bool found = false;
        for_each_token(k.choices, '|', [&](std::string_view c) {
            for_each_token(c, '/', [&](std::string_view spelling) {
                if (!found && spelling == t) {
                    found = true;
                    v.i = i;
                    v.s = std::string(c.substr(0, c.find('/')));
                }
            });
            ++i;
        });
        if (!found) props::bad_value(name, text, ("must be one of: " + choice_list(k.choices)).c_str());
        break;
    }
    }
    return v;
}

/// A value as a properties file would spell it (the inverse of parse for unscaled keys).
template <typename Config>
std::string format(const key<Config>& k, const value& v) {
    if (v.unset) return {};
    switch (k.type) {
    case type::boolean: return v.i ? "true" : "false";
    case type::integer: return std::to_string(v.i);
    case type::string: return v.s;
    case type::fraction: {
        char buf[32];
        const auto r = std::to_chars(buf, buf + sizeof buf, v.d);
        return std::string(buf, r.ptr);
    }
    case type::choice: return v.s.empty() ? std::string(choice_at(k.choices, v.i)) : v.s;
    }
    return {};
}

/// Parses and stores one property through row `k`.
template <typename Config>
void apply(const key<Config>& k, Config& c, const std::string& name, const std::string& text) {
    k.store(c, parse(k, name, text));
}

/// Throws std::invalid_argument naming the first key whose stored value is outside its bounds
/// (fields set directly in code, not through set()).
template <typename Config, std::size_t N>
void check_bounds(const std::array<key<Config>, N>& table, const Config& c) {
    for (const auto& k : table) {
        if (k.type != type::integer || k.load == nullptr) continue;
        const auto v = k.load(c);
        if (!v.unset && (v.i < k.min || v.i > k.max))
            props::bad_value(std::string(k.name), std::to_string(v.i),
                             ("must be between " + std::to_string(k.min) + " and " + std::to_string(k.max)).c_str());
    }
}

/// Applies properties in rank order (then key order), so a *.ms key beats its *.hours form
/// whatever the order given. `rank_of(name)` gives a key's rank (any value for unknown keys);
/// `set(name, value)` stores one.
template <typename RankOf, typename Set>
void apply_ranked(const std::map<std::string, std::string>& props, RankOf&& rank_of, Set&& set) {
    for (int rank = 0; rank <= 2; ++rank)
        for (const auto& [k, v] : props) {
            const int r = rank_of(k);
            if (r == rank || (rank == 2 && (r < 0 || r > 2))) set(k, v);
        }
}

// ---- documentation ---------------------------------------------------------------------------

/// The bounds or choices of a row, for people.
template <typename Config>
std::string range_text(const key<Config>& k) {
    switch (k.type) {
    case type::boolean: return "true, false";
    case type::string: return "";
    case type::fraction: return "[0, 1]";
    case type::choice: return choice_list(k.choices);
    case type::integer: {
        auto num = [](std::int64_t n) {
            if (n == no_max) return std::string("2^63-1");
            if (n == 2147483647) return std::string("2^31-1");
            return std::to_string(n);
        };
        if (k.min == no_min && k.max == no_max) return "";
        if (k.max == no_max) return ">= " + num(k.min);
        if (k.min == no_min) return "<= " + num(k.max);
        return "[" + num(k.min) + ", " + num(k.max) + "]";
    }
    }
    return "";
}

/// Other names a row answers to: aliases, then "topic: NAME".
template <typename Config>
std::string other_names(const key<Config>& k) {
    std::string out;
    for_each_token(k.aliases, ' ', [&](std::string_view a) {
        if (!out.empty()) out += ", ";
        out += a;
    });
    if (!k.topic_name.empty()) {
        if (!out.empty()) out += ", ";
        out += "topic: " + std::string(k.topic_name);
    }
    return out;
}

/// A markdown table of `table`, one row per key, for docs/configuration.md.
template <typename Config, std::size_t N>
std::string markdown(const std::array<key<Config>, N>& table, std::string_view struct_name) {
    auto cell = [](std::string s) {
        std::string out;
        for (char ch : s) {
            if (ch == '|')
                out += "\\|";
            else
                out += ch;
        }
        return out;
    };
    std::string out = "| Key | Also | Default | Valid values | Unit | Stored in | Description |\n"
                      "|---|---|---|---|---|---|---|\n";
    for (const auto& k : table) {
        out += "| `" + std::string(k.name) + "` | " + cell(other_names(k)) + " | " +
               (k.default_text.empty() ? std::string("(unset)") : "`" + std::string(k.default_text) + "`") + " | " +
               cell(range_text(k)) + " | " + std::string(k.unit) + " | `" + std::string(struct_name) +
               "::" + std::string(k.stored) + "` | " + cell(std::string(k.doc)) + " |\n";
    }
    return out;
}

/// A plain-text listing of `table` for --help: "  name=default  (values; unit)  doc".
template <typename Config, std::size_t N>
std::string listing(const std::array<key<Config>, N>& table) {
    std::string out;
    for (const auto& k : table) {
        out += "  " + std::string(k.name) + "=" + std::string(k.default_text);
        std::string extra = range_text(k);
        if (!k.unit.empty()) extra += (extra.empty() ? "" : "; ") + std::string(k.unit);
        const auto also = other_names(k);
        if (!also.empty()) extra += (extra.empty() ? "" : "; ") + std::string("also ") + also;
        if (!extra.empty()) out += "  (" + extra + ")";
        out += "\n      " + std::string(k.doc) + "\n";
    }
    return out;
}

} // namespace gregor::detail::config
