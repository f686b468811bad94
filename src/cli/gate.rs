//! The gate's flags, one set for `audit` and `scan`: the config file, then
//! `--fail-on`, `--rule`, `--ignore` and `--require-python` (and their
//! `IMGAUDIT_*` equivalents) on top of it. Flags win, as with cargo-deny
//! and grype.

use clap::Args;

use crate::checks::Code;
use crate::config::{Config, FailOn, Ignore, RuleLevel};

/// What decides the gate: the config file and the flags over it.
#[derive(Args, Debug)]
pub struct GateArgs {
    /// Config file (default: `imgaudit.toml` in the current directory, if any).
    #[arg(long, value_name = "FILE", env = "IMGAUDIT_CONFIG")]
    config: Option<std::path::PathBuf>,
    /// Exit 1 on active findings at least this severe (overrides `fail-on` in the config).
    #[arg(long, value_enum, value_name = "LEVEL", env = "IMGAUDIT_FAIL_ON")]
    fail_on: Option<FailOn>,
    /// Set a rule's severity: error, warning, info or off (repeatable; overrides `[rules]`;
    /// `IMGAUDIT_RULE` holds a space-separated list).
    #[arg(long = "rule", value_name = "RULE=LEVEL", value_parser = Config::parse_rule_override)]
    rules: Vec<(Code, RuleLevel)>,
    /// Suppress a rule, or a rule under a path glob (`*:GLOB` for any rule); repeatable
    /// (`IMGAUDIT_IGNORE` holds a space-separated list).
    #[arg(long = "ignore", value_name = "RULE[:GLOB]", value_parser = Config::parse_ignore)]
    ignores: Vec<Ignore>,
    /// Exit 1 when an image has no Python environment, so nothing was audited.
    #[arg(long, env = "IMGAUDIT_REQUIRE_PYTHON", value_parser = clap::builder::FalseyValueParser::new())]
    require_python: bool,
}

impl GateArgs {
    /// The config file, then the command line on top.
    pub fn config(&self) -> anyhow::Result<Config> {
        let mut config = super::load_config(self.config.as_deref())?;
        if let Some(fail_on) = self.fail_on {
            config.fail_on = fail_on;
        }
        config.require_python |= self.require_python;
        let rules = if self.rules.is_empty() {
            super::env_list("IMGAUDIT_RULE", Config::parse_rule_override)?
        } else {
            self.rules.clone()
        };
        config.rules.extend(rules);
        let ignores = if self.ignores.is_empty() {
            super::env_list("IMGAUDIT_IGNORE", Config::parse_ignore)?
        } else {
            self.ignores.clone()
        };
        config.ignores.extend(ignores);
        Ok(config)
    }
}
