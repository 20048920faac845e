//! [topics] and [groups]: include/exclude regexes over names, MM2's defaults excluded.

use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

use super::{at, ConfigError, Locate};

/// MirrorMaker 2's default topic exclusions (`topics.exclude`).
pub const MM2_TOPIC_EXCLUDES: [&str; 3] = [r"__.*", r".*[\-\.]internal", r".*\.replica"];
/// MirrorMaker 2's default group exclusions (`groups.exclude`).
pub const MM2_GROUP_EXCLUDES: [&str; 3] = [r"console-consumer-.*", r"connect-.*", r"__.*"];

/// Include/exclude regexes, each matched against the whole name (as MM2 does). Each list is
/// one regex (the patterns as alternatives): names are matched on every changed poll, 25,000
/// partitions' topics and 1,000 groups.
#[derive(Debug, Clone)]
pub struct NameFilter {
    /// None: no pattern (nothing is included, nothing excluded).
    include: Option<Regex>,
    exclude: Option<Regex>,
}

impl NameFilter {
    pub fn new(include: &[&str], exclude: &[&str]) -> Result<Self, regex::Error> {
        Ok(NameFilter {
            include: any_of(include)?,
            exclude: any_of(exclude)?,
        })
    }

    pub fn topics_default() -> Self {
        NameFilter::new(&[".*"], &MM2_TOPIC_EXCLUDES).expect("built-in patterns compile")
    }

    pub fn groups_default() -> Self {
        NameFilter::new(&[".*"], &MM2_GROUP_EXCLUDES).expect("built-in patterns compile")
    }

    pub fn matches(&self, name: &str) -> bool {
        self.include.as_ref().is_some_and(|r| r.is_match(name))
            && !self.exclude.as_ref().is_some_and(|r| r.is_match(name))
    }
}

/// One regex matching a whole name that any of `patterns` matches whole.
fn any_of(patterns: &[&str]) -> Result<Option<Regex>, regex::Error> {
    if patterns.is_empty() {
        return Ok(None);
    }
    // Each alone first, so an error names the pattern it is in.
    for p in patterns {
        anchored(p)?;
    }
    let alternatives: Vec<String> = patterns.iter().map(|p| format!("(?:{p})")).collect();
    anchored(&alternatives.join("|")).map(Some)
}

fn anchored(pattern: &str) -> Result<Regex, regex::Error> {
    Regex::new(&format!("^(?:{pattern})$"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFilter {
    include: Option<Vec<Spanned<String>>>,
    exclude: Option<Vec<Spanned<String>>>,
}

pub(super) fn validate_filter(
    raw: Option<RawFilter>,
    default_excludes: &[&str],
    located: &Locate,
) -> Result<NameFilter, ConfigError> {
    let compile = |patterns: Vec<Spanned<String>>| -> Result<Option<Regex>, ConfigError> {
        for p in &patterns {
            anchored(p.get_ref()).map_err(|e| {
                let first = e.to_string().lines().last().unwrap_or("").trim().to_string();
                located(at(p), format!("invalid regular expression `{}`: {first}", p.get_ref()))
            })?;
        }
        let texts: Vec<&str> = patterns.iter().map(|p| p.get_ref().as_str()).collect();
        any_of(&texts).map_err(|e| located(patterns.first().map(at).unwrap_or_default(), e.to_string()))
    };
    let defaults = NameFilter::new(&[".*"], default_excludes).expect("built-in patterns compile");
    let Some(raw) = raw else { return Ok(defaults) };
    Ok(NameFilter {
        include: match raw.include {
            Some(p) => compile(p)?,
            None => defaults.include,
        },
        // As in MM2: setting `exclude` replaces the default exclusions.
        exclude: match raw.exclude {
            Some(p) => compile(p)?,
            None => defaults.exclude,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PATTERNS: [&str; 6] = [r"__.*", r".*[\-\.]internal", r"orders", r"a|b", r"conn(ect)?-.*", r"x*"];

    proptest! {
        /// One regex per list says what the patterns one by one say: a name is kept when a
        /// whole-name include matches it and no whole-name exclude does.
        #[test]
        fn the_lists_as_one_regex_match_as_the_patterns_one_by_one(
            include in proptest::sample::subsequence(PATTERNS.to_vec(), 0..4),
            exclude in proptest::sample::subsequence(PATTERNS.to_vec(), 0..4),
            name in "(__|a|b|orders|connect-|conn-|x|\\.internal|-internal){0,3}",
        ) {
            let filter = NameFilter::new(&include, &exclude).unwrap();
            let whole = |p: &&str| anchored(p).unwrap().is_match(&name);
            let expected = include.iter().any(whole) && !exclude.iter().any(whole);
            prop_assert_eq!(filter.matches(&name), expected, "{:?} {:?} {}", include, exclude, name);
        }
    }
}
