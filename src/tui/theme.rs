//! Colour themes with semantic roles. The built-in themes are the files in `themes/`.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

pub const BUILT_IN: [(&str, &str); 4] = [
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    ("high-contrast", include_str!("../../themes/high-contrast.toml")),
    ("mono", include_str!("../../themes/mono.toml")),
];

/// A semantic role: views ask for a role, never for a colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Text,
    Muted,
    Accent,
    Header,
    Ok,
    Warn,
    Crit,
    Border,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    /// No colour at all (mono, or NO_COLOR).
    pub mono: bool,
    bold: bool,
    roles: BTreeMap<&'static str, Color>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: String,
    #[serde(default)]
    mono: bool,
    #[serde(default)]
    bold: bool,
    #[serde(default)]
    roles: BTreeMap<String, String>,
}

const ROLE_NAMES: [&str; 10] = [
    "text",
    "muted",
    "accent",
    "header",
    "ok",
    "warn",
    "crit",
    "selected_fg",
    "selected_bg",
    "border",
];

impl Theme {
    /// A built-in theme by name, or a theme file by path.
    pub fn load(name_or_path: &str) -> crate::error::Result<Theme> {
        if let Some((_, text)) = BUILT_IN.iter().find(|(n, _)| *n == name_or_path) {
            return Theme::parse(text, name_or_path);
        }
        let path = Path::new(name_or_path);
        if path.extension().is_some_and(|e| e == "toml") || path.exists() {
            let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read theme {name_or_path}: {e}"))?;
            return Theme::parse(&text, name_or_path);
        }
        let names: Vec<&str> = BUILT_IN.iter().map(|(n, _)| *n).collect();
        Err(format!(
            "unknown theme `{name_or_path}`: expected one of {} or a path to a .toml theme file",
            names.join(", ")
        )
        .into())
    }

    /// The theme to use: NO_COLOR (set and non-empty) always wins and gives mono.
    pub fn select(name_or_path: &str, no_color: bool) -> crate::error::Result<Theme> {
        if no_color {
            Theme::load("mono")
        } else {
            Theme::load(name_or_path)
        }
    }

    fn parse(text: &str, origin: &str) -> crate::error::Result<Theme> {
        let file: ThemeFile = toml::from_str(text).map_err(|e| {
            let (line, col) = e
                .span()
                .map(|s| crate::config::line_col(text, s.start))
                .unwrap_or((0, 0));
            format!("{origin}:{line}:{col}: {}", e.message().trim())
        })?;
        let mut roles = BTreeMap::new();
        for (role, value) in &file.roles {
            let Some(known) = ROLE_NAMES.iter().find(|r| *r == role) else {
                return Err(format!(
                    "{origin}: unknown role `{role}`, expected one of {}",
                    ROLE_NAMES.join(", ")
                )
                .into());
            };
            let color =
                Color::from_str(value).map_err(|_| format!("{origin}: role `{role}`: `{value}` is not a colour"))?;
            roles.insert(*known, color);
        }
        Ok(Theme {
            name: file.name,
            mono: file.mono,
            bold: file.bold,
            roles,
        })
    }

    fn color(&self, role: &str) -> Option<Color> {
        if self.mono {
            return None;
        }
        let fallback = match role {
            "header" => "accent",
            "border" => "muted",
            "selected_bg" => "accent",
            _ => role,
        };
        self.roles.get(role).or_else(|| self.roles.get(fallback)).copied()
    }

    fn base(&self) -> Style {
        if self.bold {
            Style::default().add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        }
    }

    pub fn style(&self, role: Role) -> Style {
        let name = match role {
            Role::Text => "text",
            Role::Muted => "muted",
            Role::Accent => "accent",
            Role::Header => "header",
            Role::Ok => "ok",
            Role::Warn => "warn",
            Role::Crit => "crit",
            Role::Border => "border",
        };
        let mut s = self.base();
        if let Some(c) = self.color(name) {
            s = s.fg(c);
        }
        // Without colour, emphasis carries the weight (the words still say it all).
        match role {
            Role::Crit | Role::Header | Role::Accent if self.mono => s.add_modifier(Modifier::BOLD),
            Role::Crit => s.add_modifier(Modifier::BOLD),
            _ => s,
        }
    }

    pub fn selected(&self) -> Style {
        if self.mono {
            return Style::default().add_modifier(Modifier::REVERSED);
        }
        let mut s = self.base().add_modifier(Modifier::BOLD);
        if let Some(c) = self.color("selected_fg") {
            s = s.fg(c);
        }
        match self.color("selected_bg") {
            Some(c) => s.bg(c),
            None => s.add_modifier(Modifier::REVERSED),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_ins_load_and_no_color_gives_mono() {
        for (name, _) in BUILT_IN {
            Theme::load(name).unwrap();
        }
        let t = Theme::select("dark", true).unwrap();
        assert!(t.mono);
        assert_eq!(t.style(Role::Ok).fg, None);
        assert!(Theme::load("nope").unwrap_err().message.contains("unknown theme"));
    }

    #[test]
    fn missing_roles_fall_back() {
        let t = Theme::parse("name='x'\n[roles]\naccent='red'\n", "x").unwrap();
        assert_eq!(t.style(Role::Header).fg, Some(Color::Red));
        assert!(Theme::parse("name='x'\n[roles]\nbogus='red'\n", "x").is_err());
    }
}
