//! Who is calling: the client's address and network for a request, by the rule of
//! [`settings::proxies`] (the TCP peer, unless it is a trusted proxy; then the right-most
//! untrusted hop of `X-Forwarded-For`). An IPv6 client is counted by its /64 ([`ClientNetwork`]).

use std::net::IpAddr;

use actix_web::HttpRequest;
use engine::ClientNetwork;
pub use settings::proxies::{TrustedProxies, client_address};

/// The client address of `request` by the rule above, or `None` without a peer address
/// (tests).
pub fn request_address(request: &HttpRequest, trusted: &TrustedProxies) -> Option<IpAddr> {
    let peer = request.peer_addr()?.ip();
    if trusted.is_empty() {
        return Some(peer.to_canonical());
    }
    // A header value that is not text counts as an entry that is not an address.
    let values: Vec<&str> =
        request.headers().get_all("x-forwarded-for").map(|v| v.to_str().unwrap_or("")).collect();
    Some(client_address(peer, values.into_iter(), trusted))
}

/// The network of the client of `request`.
pub fn client_network(request: &HttpRequest, trusted: &TrustedProxies) -> Option<ClientNetwork> {
    request_address(request, trusted).map(ClientNetwork::of)
}
