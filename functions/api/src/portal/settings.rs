//! The panel's deployment settings, read once at start-up: who may embed
//! it, the platform's name and accent colour, and its public address.

/// Why a portal setting is refused; names the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {variable}: {detail}")]
pub struct PortalSettingsError {
    /// The variable at fault.
    pub variable: &'static str,
    /// What is wrong with it.
    pub detail: String,
}

/// The panel's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalSettings {
    /// Origins allowed to embed the panel in a frame (CSP
    /// `frame-ancestors`); empty: nobody may.
    pub frame_ancestors: Vec<String>,
    /// Shown in the panel's title and header.
    pub platform_name: String,
    /// `#rgb` or `#rrggbb`: buttons, links and the chart.
    pub accent_color: String,
    /// The panel's public URL when it is not the API's own host (a custom
    /// domain or base path); portal session URLs start with it.
    pub url: Option<String>,
}

impl Default for PortalSettings {
    fn default() -> Self {
        Self {
            frame_ancestors: Vec::new(),
            platform_name: "Courier".into(),
            accent_color: "#4f46e5".into(),
            url: None,
        }
    }
}

const FRAME_ANCESTORS: &str = "PORTAL_FRAME_ANCESTORS";
const PLATFORM_NAME: &str = "PORTAL_PLATFORM_NAME";
const ACCENT_COLOR: &str = "PORTAL_ACCENT_COLOR";
const URL: &str = "PORTAL_URL";

impl PortalSettings {
    /// From the process environment; unset or empty variables keep their
    /// defaults.
    pub fn from_env() -> Result<Self, PortalSettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// From any variable lookup (tests).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, PortalSettingsError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut settings = Self::default();
        if let Some(raw) = get(FRAME_ANCESTORS) {
            settings.frame_ancestors = parse_frame_ancestors(&raw)?;
        }
        if let Some(name) = get(PLATFORM_NAME) {
            let name = name.trim().to_owned();
            if name.chars().count() > 60 || name.chars().any(char::is_control) {
                return Err(error(
                    PLATFORM_NAME,
                    "must be at most 60 characters, without control characters",
                ));
            }
            settings.platform_name = name;
        }
        if let Some(color) = get(ACCENT_COLOR) {
            let color = color.trim().to_owned();
            if !is_hex_color(&color) {
                return Err(error(
                    ACCENT_COLOR,
                    format!("'{color}' is not a colour: write #rgb or #rrggbb, e.g. #4f46e5"),
                ));
            }
            settings.accent_color = color;
        }
        if let Some(url) = get(URL) {
            let url = url.trim().trim_end_matches('/').to_owned();
            if !(url.starts_with("https://") || url.starts_with("http://")) || url.contains('#') {
                return Err(error(
                    URL,
                    "must be the panel's absolute http(s) URL without a fragment, e.g. https://webhooks.example.com/portal",
                ));
            }
            settings.url = Some(url);
        }
        Ok(settings)
    }

    /// The CSP `frame-ancestors` directive's value.
    pub fn frame_ancestors_directive(&self) -> String {
        if self.frame_ancestors.is_empty() {
            "'none'".into()
        } else {
            self.frame_ancestors.join(" ")
        }
    }
}

fn error(variable: &'static str, detail: impl Into<String>) -> PortalSettingsError {
    PortalSettingsError {
        variable,
        detail: detail.into(),
    }
}

fn is_hex_color(s: &str) -> bool {
    s.strip_prefix('#')
        .is_some_and(|hex| matches!(hex.len(), 3 | 6) && hex.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Origins separated by spaces or commas: `'self'`, or `scheme://host[:port]`
/// with an optional `*.` wildcard label. Anything else could change the
/// policy's meaning (a `;` would start a new directive), so it is refused.
fn parse_frame_ancestors(raw: &str) -> Result<Vec<String>, PortalSettingsError> {
    raw.split([' ', ','])
        .filter(|s| !s.is_empty())
        .map(|source| {
            if source == "'self'" || is_origin(source) {
                Ok(source.to_owned())
            } else {
                Err(error(
                    FRAME_ANCESTORS,
                    format!(
                        "'{source}' is not an origin: list origins such as https://shop.example.com or https://*.example.com, separated by spaces"
                    ),
                ))
            }
        })
        .collect()
}

fn is_origin(source: &str) -> bool {
    let Some((scheme, rest)) = source.split_once("://") else {
        return false;
    };
    if !matches!(scheme, "https" | "http") {
        return false;
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (rest, None),
    };
    let host = host.strip_prefix("*.").unwrap_or(host);
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit()));
    host_ok && port_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<PortalSettings, PortalSettingsError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        PortalSettings::from_lookup(|name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_refuse_every_frame() {
        let s = from(&[]).unwrap();
        assert_eq!(s, PortalSettings::default());
        assert_eq!(s.frame_ancestors_directive(), "'none'");
    }

    #[test]
    fn origins_are_listed_and_anything_else_refused() {
        let s = from(&[(
            FRAME_ANCESTORS,
            "https://shop.example.com, https://*.example.org http://127.0.0.1:8080 'self'",
        )])
        .unwrap();
        assert_eq!(
            s.frame_ancestors_directive(),
            "https://shop.example.com https://*.example.org http://127.0.0.1:8080 'self'"
        );
        for bad in [
            "https://a.com;script-src *",
            "*",
            "javascript://x",
            "https://",
            "https://a.com/path",
            "https://a.com:99999x",
        ] {
            let err = from(&[(FRAME_ANCESTORS, bad)]).unwrap_err();
            assert_eq!(err.variable, FRAME_ANCESTORS, "{bad}");
        }
    }

    #[test]
    fn colour_name_and_url_are_checked() {
        let s = from(&[
            (ACCENT_COLOR, "#0a7"),
            (PLATFORM_NAME, "Shopline"),
            (URL, "https://hooks.example.com/portal/"),
        ])
        .unwrap();
        assert_eq!(s.accent_color, "#0a7");
        assert_eq!(s.platform_name, "Shopline");
        assert_eq!(s.url.as_deref(), Some("https://hooks.example.com/portal"));
        assert!(from(&[(ACCENT_COLOR, "red")]).is_err());
        assert!(from(&[(ACCENT_COLOR, "#12345")]).is_err());
        assert!(from(&[(PLATFORM_NAME, &"x".repeat(61))]).is_err());
        assert!(from(&[(URL, "hooks.example.com")]).is_err());
    }
}
