//! Which images a shard scans: the plan deduplicated, sorted by
//! `(base, digest, platform)`, cut into N contiguous slices of (nearly)
//! equal length, slice I taken.
//!
//! Why sort by base: images built on one base share its layers. A shard that
//! gets all of them reads the base layers once and serves every later image
//! from the fact cache (and on a per-shard cache volume, only that shard
//! needs them). Contiguous slices of the sorted plan split at most N-1 base
//! groups, at the cut points; balancing the slice lengths matters more than
//! never splitting a group, because a whole night waits for the slowest
//! shard.
//!
//! Every shard computes the same order from the same plan, whatever the
//! order of its lines: the slices of one plan are disjoint and cover it, so
//! each image is scanned exactly once across the N shards.

use std::str::FromStr;

use super::{PlanEntry, ScanError};

/// `--shard I/N` (0-based `I`, as Kubernetes' `JOB_COMPLETION_INDEX`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which slice, `0..count`.
    pub index: usize,
    /// How many slices.
    pub count: usize,
}

/// `--shard` as typed: `I/N`, or `N` alone with `I` to come from
/// `JOB_COMPLETION_INDEX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardSpec {
    /// `I`, when given.
    pub index: Option<usize>,
    /// `N`.
    pub count: usize,
}

impl FromStr for ShardSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<ShardSpec, String> {
        let bad = || {
            format!("`{s}` is not a shard: expected `I/N` (0-based, e.g. `0/4`) or `N` with `JOB_COMPLETION_INDEX` set")
        };
        let (index, count) = match s.split_once('/') {
            Some((i, n)) => (Some(i.trim().parse().map_err(|_| bad())?), n),
            None => (None, s),
        };
        let count: usize = count.trim().parse().map_err(|_| bad())?;
        if count == 0 {
            return Err(format!("`{s}`: the number of shards must be at least 1"));
        }
        if let Some(i) = index {
            if i >= count {
                return Err(format!(
                    "`{s}`: shard index {i} is out of range for {count} shards (indexes are 0-based)"
                ));
            }
        }
        Ok(ShardSpec { index, count })
    }
}

impl ShardSpec {
    /// The shard, `I` from `job_completion_index` (the environment
    /// variable's value) when `--shard` gave only `N`.
    pub fn resolve(self, job_completion_index: Option<&str>) -> Result<Shard, ScanError> {
        let index = match (self.index, job_completion_index) {
            (Some(i), _) => i,
            (None, Some(v)) => v.trim().parse().map_err(|_| {
                ScanError::Shard(format!("`JOB_COMPLETION_INDEX` is `{v}`, not a number"))
            })?,
            (None, None) => {
                return Err(ScanError::Shard(format!(
                "`--shard {}` needs the index: write `--shard I/{}` or set `JOB_COMPLETION_INDEX`",
                self.count, self.count
            )))
            }
        };
        if index >= self.count {
            return Err(ScanError::Shard(format!(
                "shard index {index} is out of range for {} shards (indexes are 0-based)",
                self.count
            )));
        }
        Ok(Shard {
            index,
            count: self.count,
        })
    }
}

/// The plan in scan order, each `(digest, platform)` once (the first
/// entry's reference in sorted order is kept).
pub fn order(mut entries: Vec<PlanEntry>) -> Vec<PlanEntry> {
    entries.sort_by(|a, b| {
        (&a.base, &a.digest, &a.platform, &a.reference).cmp(&(
            &b.base,
            &b.digest,
            &b.platform,
            &b.reference,
        ))
    });
    entries.dedup_by(|later, first| later.key() == first.key());
    entries
}

/// Slice `shard.index` of `ordered` (see [`order`]): contiguous, lengths
/// differing by at most one, the N slices covering `ordered` exactly.
pub fn slice(ordered: &[PlanEntry], shard: Shard) -> &[PlanEntry] {
    // In u128: `len * index` overflows usize for an index near
    // `usize::MAX` (`--shard`, `JOB_COMPLETION_INDEX`), and a wrapped
    // product made `start > end`. The bounds are at most `len`, so the
    // casts back are exact.
    let (len, count) = (ordered.len() as u128, shard.count as u128);
    let start = (len * shard.index as u128 / count) as usize;
    let end = (len * (shard.index as u128 + 1) / count) as usize;
    &ordered[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(n: u8) -> String {
        format!("sha256:{}", hex::encode([n; 32]))
    }

    fn entry(reference: &str, d: u8, platform: &str, base: Option<u8>) -> PlanEntry {
        PlanEntry {
            reference: reference.into(),
            digest: digest(d),
            platform: platform.into(),
            base: base.map(digest),
        }
    }

    #[test]
    fn shard_specs() {
        for (text, want) in [
            ("0/4", Ok((Some(0), 4))),
            ("3/4", Ok((Some(3), 4))),
            ("4", Ok((None, 4))),
            ("4/4", Err("out of range")),
            ("1/0", Err("at least 1")),
            ("0", Err("at least 1")),
            ("-1/4", Err("not a shard")),
            ("a/b", Err("not a shard")),
            ("", Err("not a shard")),
        ] {
            let got = text.parse::<ShardSpec>().map(|s| (s.index, s.count));
            match (got, want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{text}"),
                (Err(e), Err(want)) => assert!(e.contains(want), "{text}: {e}"),
                (got, want) => panic!("{text}: {got:?} vs {want:?}"),
            }
        }
    }

    #[test]
    fn the_index_comes_from_the_job_when_not_given() {
        let spec: ShardSpec = "3".parse().unwrap();
        assert_eq!(
            spec.resolve(Some("2")).unwrap(),
            Shard { index: 2, count: 3 }
        );
        // An explicit index wins over the environment.
        let spec: ShardSpec = "1/3".parse().unwrap();
        assert_eq!(spec.resolve(Some("2")).unwrap().index, 1);
        let err = |s: &str, env: Option<&str>| {
            s.parse::<ShardSpec>()
                .unwrap()
                .resolve(env)
                .unwrap_err()
                .to_string()
        };
        assert!(err("3", None).contains("`--shard I/3`"));
        assert!(err("3", Some("3")).contains("out of range"));
        assert!(err("3", Some("x")).contains("not a number"));
    }

    #[test]
    fn order_groups_bases_and_drops_duplicates() {
        let plan = vec![
            entry("r/b:2", 5, "linux/amd64", Some(1)),
            entry("r/a:1", 4, "linux/amd64", Some(2)),
            entry("r/b:1", 5, "linux/amd64", Some(1)), // same manifest, other tag
            entry("r/c:1", 3, "linux/amd64", Some(1)),
            entry("r/i:1", 3, "linux/arm64", Some(1)), // same digest, other platform
            entry("r/x:1", 9, "linux/amd64", None),
        ];
        let ordered = order(plan);
        let got: Vec<(&str, &str)> = ordered
            .iter()
            .map(|e| (e.reference.as_str(), e.platform.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("r/x:1", "linux/amd64"), // no base sorts first
                ("r/c:1", "linux/amd64"), // base 1: digests 3, 3, 5
                ("r/i:1", "linux/arm64"),
                ("r/b:1", "linux/amd64"), // the first tag in order is kept
                ("r/a:1", "linux/amd64"), // base 2
            ]
        );
    }

    #[test]
    fn slices_cover_the_plan_exactly_once_for_any_order_of_lines() {
        let plan: Vec<PlanEntry> = (0..23u8)
            .map(|i| entry(&format!("r/{i}:1"), i, "linux/amd64", Some(i % 4)))
            .collect();
        let mut shuffled = plan.clone();
        shuffled.reverse();
        shuffled.rotate_left(7);
        for count in 1..=25 {
            let a = order(plan.clone());
            let b = order(shuffled.clone());
            assert_eq!(a, b);
            let mut seen = Vec::new();
            let mut lengths = Vec::new();
            for index in 0..count {
                let s = slice(&a, Shard { index, count });
                lengths.push(s.len());
                seen.extend(s.iter().map(|e| e.digest.clone()));
            }
            // Disjoint, covering, in order: concatenated they are the plan.
            assert_eq!(seen, a.iter().map(|e| e.digest.clone()).collect::<Vec<_>>());
            let (min, max) = (lengths.iter().min(), lengths.iter().max());
            assert!(max.unwrap() - min.unwrap() <= 1, "{count}: {lengths:?}");
        }
    }

    #[test]
    fn shard_numbers_near_usize_max_slice_without_overflow() {
        let plan: Vec<PlanEntry> = (0..3u8)
            .map(|i| entry(&format!("r/{i}:1"), i, "linux/amd64", None))
            .collect();
        let count = usize::MAX;
        let spec: ShardSpec = format!("{}/{count}", count - 1).parse().unwrap();
        let shard = spec.resolve(None).unwrap();
        // The last of usize::MAX slices of 3 entries holds the last entry.
        assert_eq!(slice(&plan, shard), &plan[2..]);
        assert!(slice(
            &plan,
            Shard {
                index: 1 << 62,
                count
            }
        )
        .is_empty());
        assert_eq!(slice(&plan, Shard { index: 0, count: 1 }), &plan[..]);
    }
}
