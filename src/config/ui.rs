//! [ui]: the theme.

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Clone, PartialEq)]
pub struct UiConfig {
    /// A built-in theme name or a path to a theme file.
    pub theme: String,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig { theme: "dark".into() }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUi {
    theme: Option<Spanned<String>>,
}

impl RawUi {
    pub(super) fn validate(self) -> UiConfig {
        UiConfig {
            theme: self.theme.map_or_else(|| UiConfig::default().theme, |t| t.into_inner()),
        }
    }
}
