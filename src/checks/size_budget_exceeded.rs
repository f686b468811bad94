//! `size-budget-exceeded`: a `[budget]` limit from `imgaudit.toml` is
//! exceeded: the merged filesystem (`total`), any single layer uncompressed
//! (`layer`), or the waste, bytes shipped in a layer and deleted or
//! overwritten by a later one (`waste`, counted as `imgaudit size` counts it).
//! Unlike the other rules it reads the config (the budgets), so it runs apart
//! from [`super::CHECKS`], after the image is fully read.

use std::collections::HashSet;

use serde::Serialize;

use crate::config::Budget;
use crate::diag::Code;
use crate::finding::{Finding, Step};
use crate::image::Image;
use crate::size::human_bytes;

/// Which `[budget]` key was exceeded.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Limit {
    /// `budget.total`: bytes of distinct files in the merged filesystem.
    Total,
    /// `budget.layer`: one layer's uncompressed tar size.
    Layer,
    /// `budget.waste`: bytes shipped but not visible in the final filesystem.
    Waste,
}

/// The typed diagnostic: JSON fields `budget`, `limit`, `actual`.
#[derive(Clone, Debug, Serialize)]
pub struct SizeBudgetExceeded {
    /// The budget key.
    pub budget: Limit,
    /// The configured limit, in bytes.
    pub limit: u64,
    /// The measured size, in bytes.
    pub actual: u64,
    /// The layer measured (`layer`) or the layer that wastes most (`waste`).
    #[serde(skip)]
    pub step: Option<Step>,
}

impl From<SizeBudgetExceeded> for Finding {
    fn from(d: SizeBudgetExceeded) -> Finding {
        let (actual, limit) = (human_bytes(d.actual), human_bytes(d.limit));
        let message = match (d.budget, &d.step) {
            (Limit::Total, _) => format!(
                "the merged filesystem holds {actual} of files, over the `budget.total` of {limit}"
            ),
            (Limit::Layer, step) => format!(
                "layer {} is {actual} uncompressed, over the `budget.layer` of {limit}",
                step.as_ref().map_or(0, |s| s.layer)
            ),
            (Limit::Waste, _) => format!(
                "layers ship {actual} of files that later layers delete or overwrite, over the `budget.waste` of {limit}"
            ),
        };
        let mut f = Finding::new(Code::SizeBudgetExceeded, "/", message)
            .fields(&d)
            .at(d.step.as_ref());
        if d.budget == Limit::Waste {
            f = f.hint("`imgaudit size IMAGE` shows which layer wastes what");
        }
        f
    }
}

/// Run the check: one finding per exceeded budget (per layer for `layer`).
pub fn check(image: &Image, budget: &Budget, out: &mut Vec<Finding>) {
    let step = |i: usize| Step {
        layer: i,
        created_by: image.layers[i].created_by.clone(),
    };
    if let Some(limit) = budget.total {
        let mut seen = HashSet::new();
        let mut total = 0u64;
        image.tree.walk(crate::tree::ROOT, |_, _, n| {
            if let Some(c) = n.content {
                if seen.insert(c) {
                    total += n.size;
                }
            }
        });
        if total > limit {
            out.push(
                SizeBudgetExceeded {
                    budget: Limit::Total,
                    limit,
                    actual: total,
                    step: None,
                }
                .into(),
            );
        }
    }
    if let Some(limit) = budget.layer {
        for (i, l) in image.layers.iter().enumerate() {
            let size = l.index.uncompressed_size;
            if size > limit {
                out.push(
                    SizeBudgetExceeded {
                        budget: Limit::Layer,
                        limit,
                        actual: size,
                        step: Some(step(i)),
                    }
                    .into(),
                );
            }
        }
    }
    if let Some(limit) = budget.waste {
        let waste: u64 = image.effects.iter().map(|e| e.removed_bytes).sum();
        if waste > limit {
            let worst = image
                .effects
                .iter()
                .enumerate()
                .max_by_key(|(_, e)| e.removed_bytes)
                .map(|(i, _)| step(i));
            out.push(
                SizeBudgetExceeded {
                    budget: Limit::Waste,
                    limit,
                    actual: waste,
                    step: worst,
                }
                .into(),
            );
        }
    }
}
