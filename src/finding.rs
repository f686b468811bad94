//! The finding model: what every check produces and every report consumes.
//!
//! A defect *in the image* is a [`Finding`]; a defect *in the input* (a corrupt
//! tarball, a bad config) is an error and never appears here. Severity
//! overrides and ignores from the config are applied in exactly one place,
//! [`crate::config::Config::apply`], so checks never need to know about
//! configuration.

use serde::Serialize;

use crate::checks::Code;

/// How bad a finding is. Ordered: `Info < Warning < Error`.
#[derive(
    Copy,
    Clone,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    serde::Deserialize,
    strum::Display,
    strum::EnumString,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; never fails a gate.
    Info,
    /// Likely a problem; fails the gate only with `fail-on = "warning"`.
    Warning,
    /// Breaks at run time or loses metadata; fails the gate by default.
    Error,
}

/// Where a finding points: a path inside the merged image and, when known,
/// the layer responsible for it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Location {
    /// Absolute path inside the merged image, e.g. `/opt/venv/bin/alembic`.
    pub path: String,
    /// 0-based index of the layer that caused the finding, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<usize>,
    /// The `created_by` of that layer from the image history (the Dockerfile step).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

/// The keys every finding has in JSON; rule-specific fields never reuse them.
pub const CORE_KEYS: &[&str] = &[
    "rule",
    "severity",
    "message",
    "path",
    "layer",
    "created_by",
    "env",
    "notes",
    "suppressed",
];

/// A matched `[[ignore]]` entry: the finding is still reported, marked suppressed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Suppression {
    /// The reason the config gave (required there).
    pub reason: String,
}

/// One defect found in the image.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// Stable rule id, e.g. `entry-point-without-metadata`.
    #[serde(rename = "rule")]
    pub code: Code,
    /// Default severity of the rule, possibly overridden by the config.
    pub severity: Severity,
    /// One sentence, literals in backticks, no trailing period.
    pub message: String,
    /// The path inside the image (and layer) the finding is about.
    #[serde(flatten)]
    pub location: Location,
    /// Root of the Python environment the finding belongs to, e.g. `/opt/venv`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// Evidence and `hint:` lines.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Rule-specific structured fields (`requirement`, `count`, `files`,
    /// `interpreter`, `module`, …), flattened into the JSON object.
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// Set when a config `[[ignore]]` matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<Suppression>,
}

impl Finding {
    /// A finding with the rule's default severity and no extra fields.
    pub fn new(code: Code, path: impl Into<String>, message: impl Into<String>) -> Finding {
        Finding {
            code,
            severity: code.default_severity(),
            message: message.into(),
            location: Location {
                path: path.into(),
                ..Location::default()
            },
            env: None,
            notes: Vec::new(),
            fields: serde_json::Map::new(),
            suppressed: None,
        }
    }

    /// Builder: set the severity (the config's overrides are applied later,
    /// in `Config::apply`; checks use the rule's default).
    pub fn with_severity(mut self, severity: Severity) -> Finding {
        self.severity = severity;
        self
    }

    /// Builder: attach the environment root.
    pub fn env(mut self, env: impl Into<String>) -> Finding {
        self.env = Some(env.into());
        self
    }

    /// Builder: add an evidence or `hint:` line.
    pub fn note(mut self, note: impl Into<String>) -> Finding {
        self.notes.push(note.into());
        self
    }

    /// Builder: add a rule-specific structured field.
    pub fn field(mut self, key: &str, value: impl Into<serde_json::Value>) -> Finding {
        // Fields are flattened into the JSON object: never shadow a core key.
        debug_assert!(
            !CORE_KEYS.contains(&key),
            "rule field `{key}` collides with a core finding key"
        );
        self.fields.insert(key.to_string(), value.into());
        self
    }

    /// Builder: record the layer (and its Dockerfile step) responsible.
    pub fn layer(mut self, layer: usize, created_by: Option<String>) -> Finding {
        self.location.layer = Some(layer);
        self.location.created_by = created_by;
        self
    }

    /// True when the finding counts against the gate (not suppressed).
    pub fn is_active(&self) -> bool {
        self.suppressed.is_none()
    }
}

/// Sort key that makes every report deterministic: `(rule, path, message)`.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (a.code.as_str(), &a.location.path, &a.message).cmp(&(
            b.code.as_str(),
            &b.location.path,
            &b.message,
        ))
    });
}
