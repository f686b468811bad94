//! The finding model: what every check produces and every report consumes.
//!
//! A defect *in the image* is a [`Finding`]; a defect *in the input* (a corrupt
//! tarball, a bad config) is an error and never appears here. A finding is
//! built by one rule's typed diagnostic (`From<checks::<rule>::…> for
//! Finding`), which holds the only wording of that rule; its [`Note`]s are
//! typed (evidence or hint), never a string prefix parsed back. Severity
//! overrides and ignores from the config are applied in exactly one place,
//! the sink (the `sink` module), so checks never need to know about
//! configuration. Depends only on the rule vocabulary (`crate::diag`) and the
//! step shortener (`crate::step`).

use std::fmt;

use serde::{Serialize, Serializer};

use crate::diag::Code;
pub use crate::diag::Severity;

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
    "reached_as",
];

/// One line under a finding: evidence, or how to fix it.
///
/// In JSON (and SARIF/JUnit text) a note is one string and a hint is the same
/// string prefixed `hint: `: the wire form of schema version 1 is unchanged,
/// only the model is typed, so the text report no longer parses a prefix back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// Evidence: what was seen, which step did it.
    Note(String),
    /// How to fix it.
    Hint(String),
}

impl Note {
    /// `note` or `hint`, as the text report labels the line.
    pub fn label(&self) -> &'static str {
        match self {
            Note::Note(_) => "note",
            Note::Hint(_) => "hint",
        }
    }

    /// The line without its label.
    pub fn text(&self) -> &str {
        match self {
            Note::Note(t) | Note::Hint(t) => t,
        }
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::Note(t) => f.write_str(t),
            Note::Hint(t) => write!(f, "hint: {t}"),
        }
    }
}

impl Serialize for Note {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The layer a finding blames: its index and Dockerfile step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// 0-based layer index.
    pub layer: usize,
    /// The layer's `created_by`, unshortened.
    pub created_by: Option<String>,
}

impl Step {
    /// `layer N (`RUN …`)`, the step shortened by [`crate::step::shorten`].
    pub fn label(&self) -> String {
        match &self.created_by {
            Some(c) => format!("layer {} (`{}`)", self.layer, crate::step::shorten(c)),
            None => format!("layer {}", self.layer),
        }
    }
}

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
    /// Evidence and hint lines, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
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
    /// in `sink::apply`; checks use the rule's default).
    pub fn with_severity(mut self, severity: Severity) -> Finding {
        self.severity = severity;
        self
    }

    /// Builder: attach the environment root.
    pub fn env(mut self, env: impl Into<String>) -> Finding {
        self.env = Some(env.into());
        self
    }

    /// Builder: add an evidence line.
    pub fn note(mut self, note: impl Into<String>) -> Finding {
        self.notes.push(Note::Note(note.into()));
        self
    }

    /// Builder: add a line that says how to fix it.
    pub fn hint(mut self, hint: impl Into<String>) -> Finding {
        self.notes.push(Note::Hint(hint.into()));
        self
    }

    /// Builder: add the rule's typed fields (a struct whose serde form is a
    /// JSON object), flattened into the finding's JSON object.
    pub fn fields(mut self, fields: &impl Serialize) -> Finding {
        match serde_json::to_value(fields) {
            Ok(serde_json::Value::Object(map)) => {
                for (key, value) in map {
                    self = self.field(&key, value);
                }
            }
            // Rule field structs are plain structs of strings, numbers and
            // lists: they always serialize to an object.
            other => debug_assert!(false, "rule fields are not an object: {other:?}"),
        }
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

    /// Builder: record the layer responsible, when there is one.
    pub fn at(self, step: Option<&Step>) -> Finding {
        match step {
            Some(s) => self.layer(s.layer, s.created_by.clone()),
            None => self,
        }
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
