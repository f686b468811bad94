//! `imgaudit.toml`: the whole config (rules, ignores with globs, budgets),
//! and the command-line forms of a size, a rule override and an ignore.
#![no_main]

use imgaudit::config::{parse_size, Config};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Config::from_str(text, "imgaudit.toml");
    let line = text.lines().next().unwrap_or("");
    let _ = parse_size(line);
    let _ = Config::parse_rule_override(line);
    let _ = Config::parse_ignore(line);
});
