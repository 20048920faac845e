//! The one duration parser every section uses: humantime text ("2s", "500ms", "5m"), with a
//! floor, and errors located at the value.

use std::time::Duration;

use toml::Spanned;

use super::{at, ConfigError, Locate};

/// Parses `value` as a duration of at least `min`. `key` names it in errors, `example` shows
/// what to write instead, `alternative` is added to the floor's message (e.g. ` (or "off")`).
pub(super) fn parse_duration(
    value: &Spanned<String>,
    key: &str,
    example: &str,
    min: Duration,
    alternative: &str,
    located: &Locate,
) -> Result<Duration, ConfigError> {
    let d = humantime::parse_duration(value.get_ref()).map_err(|e| {
        located(
            at(value),
            format!(
                "{key}: `{}` is not a duration ({e}); write e.g. {example}",
                value.get_ref()
            ),
        )
    })?;
    if d < min {
        return Err(located(
            at(value),
            format!(
                "{key} must be at least {}{alternative}",
                humantime::format_duration(min)
            ),
        ));
    }
    Ok(d)
}
