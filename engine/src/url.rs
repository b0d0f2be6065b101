//! Broker URLs: `scheme://[user[:password]@]host[:port][/path][?key=value&...]`.
//!
//! Parsed by hand (no allocation beyond the owned parts) so that every rejection names what is
//! wrong. Percent-escapes are decoded in the user, password and path.

use std::fmt;

/// Protocols a target URL may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// MQTT over TCP (`mqtt://`), default port 1883.
    Mqtt,
    /// AMQP 1.0 over TCP (`amqp://`), default port 5672.
    Amqp,
    /// STOMP 1.2 (1.0 and 1.1 negotiated down) over TCP (`stomp://`), default port 61613.
    Stomp,
    /// AMQP 0-9-1 over TCP (`amqp091://`: `amqp://` is AMQP 1.0 here), default port 5672.
    Amqp091,
}

impl Scheme {
    /// The protocol a scheme names, and whether it runs over TLS.
    fn parse(s: &str) -> Result<(Self, bool), UrlError> {
        match s.to_ascii_lowercase().as_str() {
            "mqtt" | "tcp" => Ok((Scheme::Mqtt, false)),
            "mqtts" | "ssl" => Ok((Scheme::Mqtt, true)),
            "amqp" => Ok((Scheme::Amqp, false)),
            "amqps" => Ok((Scheme::Amqp, true)),
            "stomp" => Ok((Scheme::Stomp, false)),
            "stomps" | "stomp+ssl" => Ok((Scheme::Stomp, true)),
            "amqp091" | "amqp0-9-1" => Ok((Scheme::Amqp091, false)),
            "amqp091s" => Ok((Scheme::Amqp091, true)),
            _ => Err(UrlError::UnknownScheme(s.to_owned())),
        }
    }

    /// The scheme's usual port, plain or over TLS (RabbitMQ's for STOMP over TLS).
    pub fn default_port(self, tls: bool) -> u16 {
        match (self, tls) {
            (Scheme::Mqtt, false) => 1883,
            (Scheme::Mqtt, true) => 8883,
            (Scheme::Amqp | Scheme::Amqp091, false) => 5672,
            (Scheme::Amqp | Scheme::Amqp091, true) => 5671,
            (Scheme::Stomp, false) => 61613,
            (Scheme::Stomp, true) => 61614,
        }
    }

    /// Lower-case name as written in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Mqtt => "mqtt",
            Scheme::Amqp => "amqp",
            Scheme::Stomp => "stomp",
            Scheme::Amqp091 => "amqp091",
        }
    }
}

/// A parsed broker URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub scheme: Scheme,
    /// Over TLS (`mqtts`, `amqps`, `stomps`, `amqp091s`).
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Path without the leading `/` (an MQTT topic, a queue name...). May be empty.
    pub path: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Query options in order, undecoded keys and decoded values.
    pub options: Vec<(String, String)>,
}

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlError {
    /// No `://` separator.
    MissingScheme,
    /// A scheme Allegro does not know at all.
    UnknownScheme(String),
    /// Empty host.
    MissingHost,
    /// Port not a number in 1..=65535.
    BadPort(String),
    /// A `%` not followed by two hex digits, or an escape that is not UTF-8.
    BadEscape,
    /// A character that may not appear in a URL (space, control character).
    BadCharacter(char),
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::MissingScheme => {
                write!(f, "missing scheme (expected e.g. mqtt://host:1883/topic)")
            }
            UrlError::UnknownScheme(s) => {
                write!(
                    f,
                    "unknown scheme '{s}' (supported: mqtt, amqp, stomp, amqp091, and over TLS mqtts, amqps, stomps, amqp091s)"
                )
            }
            UrlError::MissingHost => write!(f, "missing host"),
            UrlError::BadPort(p) => write!(f, "bad port '{p}' (expected 1-65535)"),
            UrlError::BadEscape => write!(f, "bad percent-escape"),
            UrlError::BadCharacter(c) => write!(f, "character {c:?} is not allowed in a URL"),
        }
    }
}

impl std::error::Error for UrlError {}

impl std::str::FromStr for Url {
    type Err = UrlError;

    fn from_str(s: &str) -> Result<Self, UrlError> {
        if let Some(c) = s.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(UrlError::BadCharacter(c));
        }
        let (scheme, rest) = s.split_once("://").ok_or(UrlError::MissingScheme)?;
        if scheme.is_empty() {
            return Err(UrlError::MissingScheme);
        }
        let (scheme, tls) = Scheme::parse(scheme)?;
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(u) => match u.split_once(':') {
                Some((n, p)) => (Some(decode(n)?), Some(decode(p)?)),
                None => (Some(decode(u)?), None),
            },
        };
        let (host, port) = split_host_port(hostport)?;
        let port = match port {
            None => scheme.default_port(tls),
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => n,
                _ => return Err(UrlError::BadPort(p.to_owned())),
            },
        };
        if host.is_empty() {
            return Err(UrlError::MissingHost);
        }
        let mut options = Vec::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            options.push((k.to_owned(), decode(v)?));
        }
        Ok(Url {
            scheme,
            tls,
            host: host.to_owned(),
            port,
            path: decode(path)?,
            username,
            password,
            options,
        })
    }
}

impl Url {
    /// The scheme as written: the protocol's name, with `s` for TLS.
    pub fn scheme_name(&self) -> String {
        format!(
            "{}{}",
            self.scheme.as_str(),
            if self.tls { "s" } else { "" }
        )
    }

    /// `host:port`, with brackets around an IPv6 literal.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// `url` as given, with its password (if any) written as `***`: for messages about URLs that
/// did not parse, which must not print a secret either.
pub fn redact(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let end = url[start..].find('/').map_or(url.len(), |i| start + i);
    let authority = &url[start..end];
    match authority.rfind('@') {
        Some(at) => match authority[..at].find(':') {
            Some(colon) => format!(
                "{}{}:***{}",
                &url[..start],
                &authority[..colon],
                &url[start + at..]
            ),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

impl fmt::Display for Url {
    /// Prints the URL without its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme_name())?;
        if let Some(u) = &self.username {
            write!(
                f,
                "{u}{}@",
                if self.password.is_some() { ":***" } else { "" }
            )?;
        }
        write!(f, "{}/{}", self.authority(), self.path)?;
        for (i, (k, v)) in self.options.iter().enumerate() {
            write!(f, "{}{k}={v}", if i == 0 { '?' } else { '&' })?;
        }
        Ok(())
    }
}

fn split_host_port(s: &str) -> Result<(&str, Option<&str>), UrlError> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or(UrlError::MissingHost)?;
        return match after.strip_prefix(':') {
            Some(p) => Ok((host, Some(p))),
            None if after.is_empty() => Ok((host, None)),
            None => Err(UrlError::BadPort(after.to_owned())),
        };
    }
    Ok(match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    })
}

fn decode(s: &str) -> Result<String, UrlError> {
    if !s.contains('%') {
        return Ok(s.to_owned());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3).ok_or(UrlError::BadEscape)?;
            let hex = std::str::from_utf8(hex).map_err(|_| UrlError::BadEscape)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| UrlError::BadEscape)?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| UrlError::BadEscape)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Url, UrlError> {
        s.parse()
    }

    #[test]
    fn full_url() {
        let u = p("mqtt://bob:s%40cret@broker.example:1999/a/b?qos=1&x=%20y").unwrap();
        assert_eq!(u.scheme, Scheme::Mqtt);
        assert_eq!(u.host, "broker.example");
        assert_eq!(u.port, 1999);
        assert_eq!(u.path, "a/b");
        assert_eq!(u.username.as_deref(), Some("bob"));
        assert_eq!(u.password.as_deref(), Some("s@cret"));
        assert_eq!(
            u.options,
            vec![("qos".into(), "1".into()), ("x".into(), " y".into())]
        );
        assert_eq!(
            u.to_string(),
            "mqtt://bob:***@broker.example:1999/a/b?qos=1&x= y"
        );
    }

    #[test]
    fn defaults_and_ipv6() {
        let u = p("mqtt://127.0.0.1").unwrap();
        assert_eq!((u.port, u.path.as_str()), (1883, ""));
        let u = p("mqtt://[::1]:1884/t").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 1884));
        assert_eq!(u.authority(), "[::1]:1884");
    }

    #[test]
    fn refusals() {
        assert_eq!(p("localhost:1883"), Err(UrlError::MissingScheme));
        assert_eq!(
            p("gopher://h/t"),
            Err(UrlError::UnknownScheme("gopher".into()))
        );
        assert_eq!(
            p("amqps://h/q").map(|u| (u.scheme, u.tls, u.port)),
            Ok((Scheme::Amqp, true, 5671))
        );
        assert_eq!(
            p("mqtts://h/t").map(|u| (u.tls, u.port, u.to_string())),
            Ok((true, 8883, "mqtts://h:8883/t".to_string()))
        );
        assert_eq!(
            p("amqp://h/q").map(|u| (u.scheme, u.port)),
            Ok((Scheme::Amqp, 5672))
        );
        assert_eq!(
            p("stomp://h/queue/q").map(|u| (u.scheme, u.port, u.path)),
            Ok((Scheme::Stomp, 61613, "queue/q".to_string()))
        );
        assert_eq!(
            p("amqp091://h/q").map(|u| (u.scheme, u.port)),
            Ok((Scheme::Amqp091, 5672))
        );
        assert_eq!(p("mqtt:///t"), Err(UrlError::MissingHost));
        assert_eq!(p("mqtt://h:0/t"), Err(UrlError::BadPort("0".into())));
        assert_eq!(
            p("mqtt://h:99999/t"),
            Err(UrlError::BadPort("99999".into()))
        );
        assert_eq!(p("mqtt://h:x/t"), Err(UrlError::BadPort("x".into())));
        assert_eq!(p("mqtt://h/%zz"), Err(UrlError::BadEscape));
        assert_eq!(p("mqtt://h /t"), Err(UrlError::BadCharacter(' ')));
    }
}
