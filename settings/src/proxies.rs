//! Who is calling, as far as configuration decides it: the proxies whose `X-Forwarded-For` is
//! believed (`server.trusted_proxies`) and the one rule that picks the client out of a chain.
//!
//! The one rule, used by every per-address limit (the per-IP token bucket, the cap on unpaid
//! orders per network): the client is the TCP peer, unless the peer is a trusted proxy; then
//! it is the right-most address of `X-Forwarded-For` that is not a trusted proxy. Each proxy
//! appends the address it saw, so everything right of the first untrusted hop was written by
//! proxies we trust, and everything left of it may be forged by the client. An IPv6 client is
//! counted by its /64 (`engine::ClientNetwork`).

use std::net::{IpAddr, SocketAddr};

use anyhow::Context as _;
use ipnet::IpNet;

/// Hops of `X-Forwarded-For` looked at, from the right: real chains are a few proxies long.
const MAX_HOPS: usize = 16;

/// The proxies whose `X-Forwarded-For` is believed (`server.trusted_proxies`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Addresses (`10.0.0.1`, `::1`) or CIDR blocks (`10.0.0.0/8`, `fd00::/8`).
    pub fn parse(entries: &[String]) -> anyhow::Result<Self> {
        let nets = entries
            .iter()
            .map(|entry| {
                let entry = entry.trim();
                entry.parse::<IpNet>().or_else(|_| entry.parse::<IpAddr>().map(IpNet::from)).with_context(
                    || format!("server.trusted_proxies: {entry:?} is not an address or CIDR block"),
                )
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self(nets))
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.0.iter().any(|net| net.contains(&address))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The client's address given the TCP peer and the `X-Forwarded-For` header values in the
/// order received. An entry that is not an address (`unknown`, an obfuscated name) ends the
/// walk: the last trusted hop is then the client, since nothing left of it can be believed.
/// When every hop is trusted, the left-most is the client.
pub fn client_address<'a>(
    peer: IpAddr,
    forwarded_for: impl DoubleEndedIterator<Item = &'a str>,
    trusted: &TrustedProxies,
) -> IpAddr {
    let mut client = peer.to_canonical();
    if !trusted.contains(client) {
        return client;
    }
    for hop in forwarded_for.rev().flat_map(|value| value.rsplit(',')).take(MAX_HOPS) {
        let Some(address) = parse_hop(hop.trim()) else { break };
        client = address;
        if !trusted.contains(address) {
            break;
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`203.0.113.7:4711`,
/// `[2001:db8::1]:443`), as some proxies write it.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let address = hop
        .parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| hop.strip_prefix('[')?.strip_suffix(']')?.parse().ok())?;
    Some(address.to_canonical())
}

#[cfg(test)]
mod tests {
    use engine::ClientNetwork;

    use super::*;

    fn trusted(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&entries.iter().map(|e| e.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn the_client_is_the_right_most_untrusted_hop() {
        let proxies = trusted(&["10.0.0.0/8", "::1", "2001:db8:ffff::/48"]);
        // (peer, X-Forwarded-For header values, client network)
        let rows: &[(&str, &[&str], &str)] = &[
            // Not behind a trusted proxy: the header is the client's own word, ignored.
            ("203.0.113.9", &["198.51.100.1"], "203.0.113.9"),
            ("203.0.113.9", &[], "203.0.113.9"),
            // One trusted proxy: its entry is the client.
            ("10.0.0.2", &["198.51.100.1"], "198.51.100.1"),
            // The client forged a left part; the proxy appended what it saw.
            ("10.0.0.2", &["1.2.3.4, 198.51.100.1"], "198.51.100.1"),
            // Two trusted proxies in a row, and the header split over two lines.
            ("10.0.0.2", &["6.6.6.6, 198.51.100.1", "10.1.2.3"], "198.51.100.1"),
            // Every hop trusted: the left-most is the client.
            ("10.0.0.2", &["10.9.9.9, 10.1.1.1"], "10.9.9.9"),
            // A trusted proxy that sent no header: the proxy is all we know.
            ("10.0.0.2", &[], "10.0.0.2"),
            // Garbage ends the walk at the last trusted hop.
            ("10.0.0.2", &["198.51.100.1, unknown, 10.1.1.1"], "10.1.1.1"),
            ("10.0.0.2", &["nonsense"], "10.0.0.2"),
            // Ports and brackets as some proxies write them.
            ("10.0.0.2", &["198.51.100.1:4711"], "198.51.100.1"),
            ("10.0.0.2", &["[2001:db8:1:2::5]:443"], "2001:db8:1:2::/64"),
            ("10.0.0.2", &["[2001:db8:1:2::5]"], "2001:db8:1:2::/64"),
            // IPv6: grouped by /64, through an IPv6 proxy.
            ("::1", &["2001:db8:1:2:aaaa::1"], "2001:db8:1:2::/64"),
            ("2001:db8:ffff:1::9", &["2001:db8:1:2::77"], "2001:db8:1:2::/64"),
            // An IPv4 peer written as IPv4-mapped IPv6 (dual-stack socket) is the IPv4 address.
            ("::ffff:10.0.0.2", &["198.51.100.1"], "198.51.100.1"),
            ("::ffff:203.0.113.9", &["198.51.100.1"], "203.0.113.9"),
            ("10.0.0.2", &["::ffff:198.51.100.1"], "198.51.100.1"),
        ];
        for (peer, header, expected) in rows {
            let address = client_address(peer.parse().unwrap(), header.iter().copied(), &proxies);
            assert_eq!(
                ClientNetwork::of(address).to_string(),
                *expected,
                "peer {peer}, X-Forwarded-For {header:?}"
            );
        }
    }

    #[test]
    fn no_trusted_proxy_means_the_peer_always() {
        let none = TrustedProxies::default();
        let address = client_address("10.0.0.2".parse().unwrap(), ["198.51.100.1"].into_iter(), &none);
        assert_eq!(address, "10.0.0.2".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn a_long_chain_is_read_only_so_far() {
        let proxies = trusted(&["10.0.0.0/8"]);
        let chain =
            ["198.51.100.1"].into_iter().chain(std::iter::repeat_n("10.0.0.1", 100)).collect::<Vec<_>>();
        let header = chain.join(",");
        let address = client_address("10.0.0.2".parse().unwrap(), [header.as_str()].into_iter(), &proxies);
        assert_eq!(address, "10.0.0.1".parse::<IpAddr>().unwrap(), "stops after {MAX_HOPS} hops");
    }

    #[test]
    fn bad_proxy_entries_are_refused_by_name() {
        let error = TrustedProxies::parse(&["10.0.0.0/8".into(), "10.0.0.300".into()]).unwrap_err();
        assert!(error.to_string().contains("10.0.0.300"), "{error}");
        assert!(TrustedProxies::parse(&["fd00::/8".into(), " 127.0.0.1 ".into()]).is_ok());
    }
}
