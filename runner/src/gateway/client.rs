//! Who is calling, as API Gateway would tell a function: the source address, the
//! `X-Forwarded-*` headers the gateway sets itself, and a `Host` it can vouch for.
//!
//! A client's own `X-Forwarded-*` headers are never believed, unless its connection
//! comes from a proxy the runner was told to trust (`--trusted-proxy`); then the
//! proxy's chain is read from the right, up to the first address it does not trust.

use std::net::IpAddr;
use std::str::FromStr;

use http::HeaderMap;

use crate::decimal::Decimal;

/// A block of addresses, such as `10.0.0.0/8` or `::1/128`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not an address or address/prefix"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?}: the prefix must be 0–{max}"))?,
        };
        Ok(Cidr { network, prefix })
    }
}

impl Cidr {
    pub fn contains(&self, address: IpAddr) -> bool {
        fn masked(bits: u128, prefix: u8, width: u8) -> u128 {
            match width - prefix {
                shift if shift >= 128 => 0,
                shift => bits >> shift,
            }
        }
        match (self.network, canonical(address)) {
            (IpAddr::V4(net), IpAddr::V4(addr)) => {
                masked(u32::from(net).into(), self.prefix, 32)
                    == masked(u32::from(addr).into(), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(addr)) => {
                masked(net.into(), self.prefix, 128) == masked(addr.into(), self.prefix, 128)
            }
            _ => false,
        }
    }
}

/// An IPv4 address reached over IPv6 (`::ffff:a.b.c.d`) as the IPv4 address it is.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// An address as text, as `Display` writes it; an IPv4 address without
/// `core::fmt`, which costs ten times as much and runs on every request.
pub(crate) fn ip_text(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => {
            let mut text = String::with_capacity(15);
            for (n, octet) in v4.octets().into_iter().enumerate() {
                if n > 0 {
                    text.push('.');
                }
                text.push_str(Decimal::of(octet.into()).as_str());
            }
            text
        }
        v6 => v6.to_string(),
    }
}

/// What the runner tells a function about the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// `requestContext` source IP: the peer, or the first untrusted hop a trusted
    /// proxy reports.
    pub source_ip: IpAddr,
    /// `X-Forwarded-For`: the hops from the source to the runner.
    pub forwarded_for: String,
    /// `X-Forwarded-Proto`: `http` or `https`.
    pub proto: &'static str,
    /// `X-Forwarded-Port`.
    pub port: u16,
}

impl Caller {
    /// The caller of a request that reached the runner's port `port` from `peer`.
    pub fn of(peer: IpAddr, port: u16, headers: &HeaderMap, trusted: &[Cidr]) -> Caller {
        let peer = canonical(peer);
        let direct = Caller {
            source_ip: peer,
            forwarded_for: ip_text(peer),
            proto: "http",
            port,
        };
        let is_trusted = |ip: IpAddr| trusted.iter().any(|block| block.contains(ip));
        if !is_trusted(peer) {
            return direct;
        }
        // The chain as the proxies wrote it (every X-Forwarded-For, in order), then
        // the peer; read from the right while each hop is trusted.
        let mut hops: Vec<IpAddr> = Vec::new();
        for value in headers.get_all("x-forwarded-for") {
            for hop in String::from_utf8_lossy(value.as_bytes()).split(',') {
                match parse_hop(hop) {
                    Some(ip) => hops.push(canonical(ip)),
                    // An unreadable hop ends what can be believed: keep what follows.
                    None => hops.clear(),
                }
            }
        }
        hops.push(peer);
        let first_believed = hops.iter().rposition(|ip| !is_trusted(*ip)).unwrap_or(0);
        let chain = &hops[first_believed..];
        let last = |name: &str| {
            headers
                .get_all(name)
                .iter()
                .next_back()
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .map(str::trim)
        };
        Caller {
            source_ip: chain[0],
            forwarded_for: chain
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            proto: match last("x-forwarded-proto") {
                Some(p) if p.eq_ignore_ascii_case("https") => "https",
                _ => "http",
            },
            port: last("x-forwarded-port")
                .and_then(|p| p.parse().ok())
                .filter(|p| *p != 0)
                .unwrap_or(port),
        }
    }
}

/// One hop of `X-Forwarded-For`: an address, also written with a port
/// (`192.0.2.1:4711`, `[2001:db8::1]:4711`), as some proxies write it.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    hop.parse::<std::net::SocketAddr>().ok().map(|a| a.ip())
}

/// Whether a `Host` header names something a gateway could serve: a DNS name
/// (letters, digits, `-`, `_`, dots), an IPv4 address or a bracketed IPv6 address,
/// with an optional port. Anything else is refused before a function sees it, as
/// no API Gateway endpoint could have been reached with it.
pub fn valid_host(host: &str) -> bool {
    let (name, port) = split_port(host);
    let bad_port = |p: &str| {
        p.is_empty()
            || p.len() > 5
            || !p.bytes().all(|b| b.is_ascii_digit())
            || p.parse::<u16>().is_err()
    };
    if port.is_some_and(bad_port) {
        return false;
    }
    if let Some(inner) = name.strip_prefix('[') {
        return inner
            .strip_suffix(']')
            .is_some_and(|v6| v6.parse::<std::net::Ipv6Addr>().is_ok());
    }
    valid_dns_name(name)
}

/// `name` and its port, if the host has one.
fn split_port(host: &str) -> (&str, Option<&str>) {
    match host.rfind(':') {
        // A colon inside brackets belongs to an IPv6 address.
        Some(at) if !host[at..].contains(']') => (&host[..at], Some(&host[at + 1..])),
        _ => (host, None),
    }
}

fn valid_dns_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    let labels: Vec<&str> = name.split('.').collect();
    let label_ok = |label: &&str| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            // An IDNA label must be valid punycode, which is not checked here.
            && !label.to_ascii_lowercase().starts_with("xn--")
    };
    if !labels.iter().all(label_ok) {
        return false;
    }
    // A name whose last label is numeric is read as an IPv4 address by URL parsers
    // (`1.2.3.999`, `0x7f.1`, `12345`): only a plain, valid one is accepted.
    let last = labels[labels.len() - 1];
    let numeric =
        last.bytes().all(|b| b.is_ascii_digit()) || last.to_ascii_lowercase().starts_with("0x");
    !numeric || name.parse::<std::net::Ipv4Addr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for text in [
            "0.0.0.0",
            "127.0.0.1",
            "10.200.3.45",
            "255.255.255.255",
            "::1",
            "2001:db8::7",
            "::ffff:192.0.2.1",
        ] {
            let address: IpAddr = text.parse().unwrap();
            assert_eq!(ip_text(address), address.to_string());
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn blocks_parse_and_contain_what_they_should() {
        let block: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(block.contains(ip("10.200.3.4")));
        assert!(!block.contains(ip("11.0.0.1")));
        assert!(block.contains(ip("::ffff:10.1.2.3")));
        let one: Cidr = "127.0.0.1".parse().unwrap();
        assert!(one.contains(ip("127.0.0.1")));
        assert!(!one.contains(ip("127.0.0.2")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
        for bad in ["", "10.0.0.0/33", "::/129", "host/8", "10.0.0.0/x"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn an_untrusted_client_cannot_speak_for_anyone_else() {
        let sent = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-port", "1"),
        ]);
        let caller = Caller::of(ip("192.0.2.7"), 3000, &sent, &[]);
        assert_eq!(
            caller,
            Caller {
                source_ip: ip("192.0.2.7"),
                forwarded_for: "192.0.2.7".into(),
                proto: "http",
                port: 3000,
            }
        );
    }

    #[test]
    fn a_trusted_proxy_is_read_from_the_right_up_to_the_first_untrusted_hop() {
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        let sent = headers(&[
            ("x-forwarded-for", "6.6.6.6, 203.0.113.9"),
            ("x-forwarded-for", "10.1.1.1"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-port", "443"),
        ]);
        let caller = Caller::of(ip("10.0.0.2"), 3000, &sent, &trusted);
        assert_eq!(caller.source_ip, ip("203.0.113.9"));
        assert_eq!(caller.forwarded_for, "203.0.113.9, 10.1.1.1, 10.0.0.2");
        assert_eq!(caller.proto, "https");
        assert_eq!(caller.port, 443);
        // Hops with ports are read; an unreadable hop (here not UTF-8) ends what is
        // believed, so what the proxy itself saw still counts.
        let mut ported = HeaderMap::new();
        ported.append(
            "x-forwarded-for",
            http::HeaderValue::from_bytes(b"203.0.113.9:4711, \xff, [2001:db8::1]:80").unwrap(),
        );
        let caller = Caller::of(ip("10.0.0.2"), 3000, &ported, &trusted);
        assert_eq!(caller.source_ip, ip("2001:db8::1"));
        // Nonsense from the proxy falls back to what the runner knows.
        let odd = headers(&[
            ("x-forwarded-for", "garbage"),
            ("x-forwarded-proto", "1"),
            ("x-forwarded-port", "http"),
        ]);
        let caller = Caller::of(ip("10.0.0.2"), 3000, &odd, &trusted);
        assert_eq!(caller.source_ip, ip("10.0.0.2"));
        assert_eq!((caller.proto, caller.port), ("http", 3000));
    }

    #[test]
    fn hosts_a_gateway_could_serve_are_valid_and_nothing_else() {
        for good in [
            "localhost",
            "localhost:3000",
            "127.0.0.1:3000",
            "shop.example.com",
            "shop.example.com.",
            "my_host-1.internal:65535",
            "[::1]",
            "[::1]:3000",
            "10.0.0.1",
        ] {
            assert!(valid_host(good), "{good}");
        }
        for bad in [
            "",
            "a b",
            "[::1",
            "::1",
            "[::1]x",
            "host:",
            "host:99999",
            "host:+1",
            "host:3000:1",
            "user@host",
            "host/path",
            "a..b",
            ".a",
            "1.2.3.999",
            "1.2.3.4.5",
            "12345",
            "0x7f.1",
            "xn--zz",
            "ex%61mple.com",
            "h\u{e9}te",
            &"a".repeat(64),
        ] {
            assert!(!valid_host(bad), "{bad}");
        }
    }
}
