//! A loopback address that refuses connections for as long as a test holds it.

/// A socket bound to a free loopback port and never listening: connecting to `addr` is refused, and no
/// other test or process can take the port while the socket is held. (A listener bound and dropped frees its
/// port for anyone: under parallel test runs another server once took it, and a "dead" upstream answered.)
pub fn refusing_addr() -> (tokio::net::TcpSocket, std::net::SocketAddr) {
    let socket = tokio::net::TcpSocket::new_v4().expect("a TCP socket");
    socket.bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0))).expect("a free loopback port");
    let addr = socket.local_addr().expect("the bound address");
    (socket, addr)
}
