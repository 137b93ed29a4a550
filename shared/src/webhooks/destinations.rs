//! Where webhook deliveries may go. A URL is parsed once, by the WHATWG parser the HTTP
//! client itself uses (`url`), and that parsed URL is what is checked, stored and called: a
//! host such as `0x7f.1` or `2130706433` is read as the IP literal the client would connect
//! to, never as a name. Literal addresses are checked before every delivery; names are
//! checked again when they resolve, at connect time.

use std::net::IpAddr;
use std::sync::LazyLock;

use ipnet::IpNet;
use url::{Host, Url};

/// The longest endpoint URL accepted.
pub const MAX_URL_CHARS: usize = 2048;
/// The longest DNS name (RFC 1035, 2.3.4: 255 octets on the wire, 253 as text).
pub const MAX_HOST_BYTES: usize = 253;

/// What an address is, for the policy. Public is everything not listed in [`RANGES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Loopback,
    Private,
    LinkLocal,
    /// Refused whatever the settings: unroutable, shared or able to tunnel to any IPv4
    /// address (NAT64, 6to4, Teredo, IPv4-compatible), so no allow-list can vouch for it.
    Reserved,
}

/// Special-purpose ranges (IANA registries), most specific first: the first match wins.
const RANGE_TABLE: &[(&str, Class, &str)] = &[
    ("0.0.0.0/8", Class::Reserved, "\"this network\""),
    ("10.0.0.0/8", Class::Private, "RFC 1918"),
    ("100.64.0.0/10", Class::Private, "carrier-grade NAT"),
    ("127.0.0.0/8", Class::Loopback, "RFC 1122"),
    ("169.254.169.254/32", Class::LinkLocal, "cloud metadata"),
    ("169.254.0.0/16", Class::LinkLocal, "link-local"),
    ("172.16.0.0/12", Class::Private, "RFC 1918"),
    ("192.0.0.0/24", Class::Reserved, "IETF protocol assignments"),
    ("192.0.2.0/24", Class::Reserved, "documentation"),
    ("192.88.99.0/24", Class::Reserved, "6to4 relay anycast"),
    ("192.168.0.0/16", Class::Private, "RFC 1918"),
    ("198.18.0.0/15", Class::Reserved, "benchmarking"),
    ("198.51.100.0/24", Class::Reserved, "documentation"),
    ("203.0.113.0/24", Class::Reserved, "documentation"),
    ("224.0.0.0/4", Class::Reserved, "multicast"),
    ("240.0.0.0/4", Class::Reserved, "reserved and broadcast"),
    ("::1/128", Class::Loopback, "RFC 4291"),
    ("::/128", Class::Reserved, "unspecified"),
    ("::/96", Class::Reserved, "IPv4-compatible"),
    ("64:ff9b::/96", Class::Reserved, "NAT64"),
    ("64:ff9b:1::/48", Class::Reserved, "local-use NAT64"),
    ("100::/64", Class::Reserved, "discard-only"),
    ("2001::/32", Class::Reserved, "Teredo"),
    ("2001:db8::/32", Class::Reserved, "documentation"),
    ("2002::/16", Class::Reserved, "6to4"),
    ("fd00:ec2::254/128", Class::LinkLocal, "cloud metadata"),
    ("fc00::/7", Class::Private, "unique-local"),
    ("fe80::/10", Class::LinkLocal, "link-local"),
    ("fec0::/10", Class::Private, "site-local"),
    ("ff00::/8", Class::Reserved, "multicast"),
];

static RANGES: LazyLock<Vec<(IpNet, Class, &'static str)>> = LazyLock::new(|| {
    RANGE_TABLE
        .iter()
        .map(|&(net, class, name)| (net.parse().expect("a valid range"), class, name))
        .collect()
});

/// The policy: which addresses and schemes deliveries may use.
///
/// `WEBHOOK_ALLOWED_DESTINATIONS`: `public` (the default), or a comma list adding
/// `loopback`, `private` (RFC 1918, unique-local, carrier-grade NAT) and `link_local`
/// (which includes cloud metadata addresses). Reserved ranges stay refused.
/// `WEBHOOK_REQUIRE_HTTPS`: `true` (the default) or `false`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Destinations {
    pub loopback: bool,
    pub private: bool,
    pub link_local: bool,
    pub https_only: bool,
}

impl Destinations {
    /// The address classes of `raw`; `http` stays allowed (see [`Self::https_only`]).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut allowed = Self::default();
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "public" => {}
                "loopback" => allowed.loopback = true,
                "private" => allowed.private = true,
                "link_local" => allowed.link_local = true,
                other => {
                    return Err(format!(
                        "WEBHOOK_ALLOWED_DESTINATIONS: unknown class {other:?} (public, loopback, private, link_local)"
                    ))
                }
            }
        }
        Ok(allowed)
    }

    pub fn https_only(self) -> Self {
        Self {
            https_only: true,
            ..self
        }
    }

    pub fn from_env() -> Result<Self, String> {
        let allowed =
            Self::parse(&std::env::var("WEBHOOK_ALLOWED_DESTINATIONS").unwrap_or_default())?;
        match std::env::var("WEBHOOK_REQUIRE_HTTPS")
            .as_deref()
            .map(str::trim)
        {
            Err(_) | Ok("") | Ok("true") => Ok(allowed.https_only()),
            Ok("false") => Ok(allowed),
            Ok(other) => Err(format!(
                "WEBHOOK_REQUIRE_HTTPS: {other:?} is neither true nor false"
            )),
        }
    }

    /// Why `ip` may not be reached, if it may not. An IPv4-mapped IPv6 address is judged
    /// as the IPv4 address it carries.
    pub fn refuses(&self, ip: IpAddr) -> Option<String> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        let (net, class, name) = RANGES.iter().find(|(net, ..)| net.contains(&ip))?;
        let allowed = match class {
            Class::Loopback => self.loopback,
            Class::Private => self.private,
            Class::LinkLocal => self.link_local,
            Class::Reserved => false,
        };
        let kind = match class {
            Class::Loopback => "a loopback address",
            Class::Private => "a private address",
            Class::LinkLocal => "a link-local or metadata address",
            Class::Reserved => "a reserved address",
        };
        (!allowed).then(|| format!("{ip}, {kind} ({name}, {net})"))
    }

    /// Parses and checks an endpoint URL before it is stored. Returns the URL as the
    /// client will use it (the parser's form, without a fragment, which is never sent);
    /// store and call that form, not the raw text.
    pub fn check_url(&self, raw: &str) -> Result<WebhookUrl, String> {
        let mut url = WebhookUrl::read(raw);
        let mut parsed = self.check(&url)?.clone();
        parsed.set_fragment(None);
        url.text = parsed.to_string();
        url.parsed = Ok(parsed);
        Ok(url)
    }

    /// Checks a URL against the policy: when it is stored, and at every attempt, since the
    /// policy may have tightened since, and a literal address never reaches the resolver's
    /// guard.
    pub fn check<'a>(&self, url: &'a WebhookUrl) -> Result<&'a Url, String> {
        if url.text.chars().count() > MAX_URL_CHARS {
            return Err(format!("the URL is longer than {MAX_URL_CHARS} characters"));
        }
        if url
            .text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
        {
            return Err("the URL contains spaces, control characters or backslashes".into());
        }
        let url = url.parsed.as_ref().map_err(Clone::clone)?;
        match url.scheme() {
            "https" => {}
            "http" if !self.https_only => {}
            "http" => return Err("the URL must use https".into()),
            _ => return Err("the URL must use https or http".into()),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("the URL must not contain a user name or password".into());
        }
        let port = url.port_or_known_default().unwrap_or_default();
        if !port_allowed(port) {
            return Err(format!(
                "port {port} is not allowed: use 80, 443 or a port from 1024 to 65535"
            ));
        }
        let ip = match url.host() {
            Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
            Some(Host::Domain(name)) if is_localhost(name) => IpAddr::from([127, 0, 0, 1]),
            // DNS names are at most 253 bytes (RFC 1035); the URL parser takes longer ones,
            // which no resolver answers and which would not fit the per-host budget's key.
            Some(Host::Domain(name)) if name.len() > MAX_HOST_BYTES => {
                return Err(format!("the host is longer than {MAX_HOST_BYTES} bytes"))
            }
            Some(Host::Domain(_)) => return Ok(url),
            None => return Err("the URL has no host".into()),
        };
        match self.refuses(ip) {
            Some(why) => Err(format!("the URL points at {why}")),
            None => Ok(url),
        }
    }
}

/// An endpoint's URL: its text as stored, and that text parsed once, when the endpoint is
/// read, so that delivery checks it against the policy at every attempt without parsing it
/// again. Text that does not parse (an endpoint stored before URLs were checked) loads all
/// the same, and is refused when checked: one bad row never stops its organization's
/// listing or fan-out.
#[derive(Clone, Debug)]
pub struct WebhookUrl {
    text: String,
    parsed: Result<Url, String>,
}

impl WebhookUrl {
    fn read(text: &str) -> Self {
        Self {
            text: text.to_string(),
            parsed: Url::parse(text).map_err(|err| format!("the URL is not valid: {err}")),
        }
    }

    /// As stored, and as the API shows it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The parsed URL, if the text is one.
    pub fn url(&self) -> Option<&Url> {
        self.parsed.as_ref().ok()
    }
}

/// Two URLs are one when their text is: the text is what is stored and compared.
impl PartialEq for WebhookUrl {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for WebhookUrl {}

impl std::str::FromStr for WebhookUrl {
    type Err = std::convert::Infallible;

    fn from_str(stored: &str) -> Result<Self, Self::Err> {
        Ok(Self::read(stored))
    }
}

impl std::fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for WebhookUrl {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for WebhookUrl {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|stored| Self::read(&stored))
    }
}

/// Ports below 1024 other than 80 and 443 belong to other protocols (SSH, SMTP, …) that a
/// webhook has no business talking to.
fn port_allowed(port: u16) -> bool {
    port == 80 || port == 443 || port >= 1024
}

/// RFC 6761: `localhost` and its subdomains are loopback whatever DNS says.
fn is_localhost(name: &str) -> bool {
    let name = name.trim_end_matches('.');
    name == "localhost" || name.ends_with(".localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An endpoint stored before URLs were checked loads, and is refused only when used.
    #[test]
    fn a_stored_url_that_does_not_parse_loads_and_is_refused_when_checked() {
        let stored: WebhookUrl =
            serde_json::from_str("\"https://hooks.example.com:99999/x\"").unwrap();
        assert_eq!(stored.as_str(), "https://hooks.example.com:99999/x");
        assert!(stored.url().is_none());
        let why = Destinations::default().check(&stored).unwrap_err();
        assert!(why.starts_with("the URL is not valid"), "{why}");
        let raw: WebhookUrl = "http://0x7f.1:8080/a b".parse().unwrap();
        assert_eq!(raw.as_str(), "http://0x7f.1:8080/a b", "kept as stored");
        assert!(Destinations::default().check(&raw).is_err());
    }

    /// A DNS name is at most 253 bytes; the URL parser takes longer ones, which would not
    /// fit the per-host budget's sort key (1,024 bytes).
    #[test]
    fn hosts_longer_than_dns_allows_are_refused() {
        let public = Destinations::parse("public").unwrap();
        let host = |labels: usize| vec!["a".repeat(62); labels].join(".");
        assert!(public
            .check_url(&format!("https://{}.com/", host(3)))
            .is_ok());
        let long = format!("https://{}.com/", host(5));
        assert!(
            public.check_url(&long).unwrap_err().contains("253 bytes"),
            "{long}"
        );
    }

    #[test]
    fn hosts_the_client_reads_as_internal_literals_are_refused() {
        let public = Destinations::parse("public").unwrap();
        for url in [
            "http://2130706433:8080/hook",
            "http://127.1:8080/hook",
            "http://0x7f.0.0.1:8080/hook",
            "http://0177.0.0.1:8080/hook",
            "http://0xa9fea9fe/latest/meta-data",
            "http://169.254.169.254./latest/",
            "http://127.0.0.1\\@hooks.example.com/hook",
            "http://127.0.0.1/@hooks.example.com",
            "http://localhost./hook",
            "http://app.localhost/hook",
            "http://[::ffff:7f00:1]/",
            "http://[::ffff:169.254.169.254]/",
            "http://%31%32%37.0.0.1/",
            "http://１２７.0.0.1/",
        ] {
            let refused = public.check_url(url);
            assert!(refused.is_err(), "{url} was accepted as {refused:?}");
        }
    }

    #[test]
    fn every_special_purpose_range_is_refused_and_public_addresses_are_not() {
        let public = Destinations::parse("public").unwrap();
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.31.255.255",
            "192.168.0.10",
            "100.64.0.1",
            "100.127.255.255",
            "169.254.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "::127.0.0.1",
            "::8.8.8.8",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:db8::1",
            "2002:7f00:1::1",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(public.refuses(ip).is_some(), "{ip} was not refused");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.0",
            "172.32.0.1",
            "198.20.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(public.refuses(ip), None, "{ip} was refused");
        }
    }

    #[test]
    fn allowing_a_class_never_allows_reserved_ranges() {
        let everything = Destinations::parse("public,loopback,private,link_local").unwrap();
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "fd12::1",
            "169.254.169.254",
            "fe80::1",
        ] {
            assert_eq!(everything.refuses(ip.parse().unwrap()), None, "{ip}");
        }
        for ip in [
            "0.0.0.0",
            "255.255.255.255",
            "64:ff9b::7f00:1",
            "2002:a00:1::",
            "::a00:1",
        ] {
            assert!(everything.refuses(ip.parse().unwrap()).is_some(), "{ip}");
        }
        let local = Destinations::parse("public,loopback").unwrap();
        assert!(local.check_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(local.check_url("http://169.254.169.254/").is_err());
        assert!(Destinations::parse("everything").is_err());
    }

    #[test]
    fn scheme_userinfo_and_port_rules() {
        let http = Destinations::parse("public").unwrap();
        let https = http.https_only();
        assert_eq!(
            https
                .check_url("https://Hooks.Example.com/leadgrid")
                .unwrap()
                .as_str(),
            "https://hooks.example.com/leadgrid"
        );
        assert!(http.check_url("http://hooks.example.com/").is_ok());
        assert!(https.check_url("http://hooks.example.com/").is_err());
        for url in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "gopher://example.com/",
            "https://",
            "https://:443/",
            "https://user@hooks.example.com/",
            "https://user:pw@hooks.example.com/",
            "https://:pw@hooks.example.com/",
            "https://hooks.example.com:22/",
            "https://hooks.example.com:25/",
            "https://hooks.example.com:0/",
            "https://hooks.example.com/ x",
            "not a url",
        ] {
            assert!(http.check_url(url).is_err(), "{url}");
        }
        for url in [
            "https://hooks.example.com:443/",
            "https://hooks.example.com:8443/",
            "http://hooks.example.com:80/",
            "https://hooks.example.com:65535/",
        ] {
            assert!(http.check_url(url).is_ok(), "{url}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_CHARS));
        assert!(http.check_url(&long).is_err());
    }
}
