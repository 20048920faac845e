//! [topics] and [groups]: include/exclude regexes over names, MM2's defaults excluded.

use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

use super::{at, ConfigError, Locate};

/// MirrorMaker 2's default topic exclusions (`topics.exclude`).
pub const MM2_TOPIC_EXCLUDES: [&str; 3] = [r"__.*", r".*[\-\.]internal", r".*\.replica"];
/// MirrorMaker 2's default group exclusions (`groups.exclude`).
pub const MM2_GROUP_EXCLUDES: [&str; 3] = [r"console-consumer-.*", r"connect-.*", r"__.*"];

/// Include/exclude regexes, each matched against the whole name (as MM2 does).
#[derive(Debug, Clone)]
pub struct NameFilter {
    include: Vec<Regex>,
    exclude: Vec<Regex>,
}

impl NameFilter {
    pub fn new(include: &[&str], exclude: &[&str]) -> Result<Self, regex::Error> {
        let compile =
            |patterns: &[&str]| -> Result<Vec<Regex>, regex::Error> { patterns.iter().map(|p| anchored(p)).collect() };
        Ok(NameFilter {
            include: compile(include)?,
            exclude: compile(exclude)?,
        })
    }

    pub fn topics_default() -> Self {
        NameFilter::new(&[".*"], &MM2_TOPIC_EXCLUDES).expect("built-in patterns compile")
    }

    pub fn groups_default() -> Self {
        NameFilter::new(&[".*"], &MM2_GROUP_EXCLUDES).expect("built-in patterns compile")
    }

    pub fn matches(&self, name: &str) -> bool {
        self.include.iter().any(|r| r.is_match(name)) && !self.exclude.iter().any(|r| r.is_match(name))
    }
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
    let compile = |patterns: Vec<Spanned<String>>| -> Result<Vec<Regex>, ConfigError> {
        patterns
            .iter()
            .map(|p| {
                anchored(p.get_ref()).map_err(|e| {
                    let first = e.to_string().lines().last().unwrap_or("").trim().to_string();
                    located(at(p), format!("invalid regular expression `{}`: {first}", p.get_ref()))
                })
            })
            .collect()
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
