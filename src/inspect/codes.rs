//! WebSocket close codes (RFC 6455 §7.4, IANA registry): their names and what each usually means.

/// The registered name of a close code (`"Normal Closure"`), or the range it falls in.
pub fn close_code_name(code: u16) -> &'static str {
    match code {
        1000 => "Normal Closure",
        1001 => "Going Away",
        1002 => "Protocol Error",
        1003 => "Unsupported Data",
        1004 => "Reserved",
        1005 => "No Status Received",
        1006 => "Abnormal Closure",
        1007 => "Invalid Payload Data",
        1008 => "Policy Violation",
        1009 => "Message Too Big",
        1010 => "Mandatory Extension",
        1011 => "Internal Error",
        1012 => "Service Restart",
        1013 => "Try Again Later",
        1014 => "Bad Gateway",
        1015 => "TLS Handshake",
        0..=999 => "Invalid (below 1000)",
        1016..=2999 => "Unassigned (reserved for the WebSocket standard)",
        3000..=3999 => "Registered (libraries, frameworks, applications)",
        4000..=4999 => "Private (application-defined)",
        _ => "Invalid (above 4999)",
    }
}

/// One sentence on what the code says about why the connection ended.
pub fn close_code_meaning(code: u16) -> &'static str {
    match code {
        1000 => "the endpoint ended the connection on purpose; the code alone says nothing about why",
        1001 => "the endpoint is going away (server shutting down, browser tab closed or navigated away)",
        1002 => "the endpoint saw a WebSocket protocol violation in a frame it received",
        1003 => "the endpoint received a kind of data it does not accept (text where it wants binary, or the reverse)",
        1004 => "reserved; no endpoint should send it",
        1005 => "reserved to mean that a close frame carried no status code; a conforming endpoint never puts it in a close frame",
        1006 => "the connection ended without a close frame (never sent on the wire; means a TCP drop)",
        1007 => "a message's payload was not consistent with its type (for example a text message that is not UTF-8)",
        1008 => "the endpoint received a message that violates its policy (often authentication or authorisation)",
        1009 => "a message was too big for the endpoint to process",
        1010 => "the client expected the server to negotiate an extension it did not",
        1011 => "the endpoint hit an unexpected condition (an internal error) while handling a message",
        1012 => "the server is restarting; reconnecting later should work",
        1013 => "the server is overloaded or rate limiting; try again later",
        1014 => "a gateway or proxy got an invalid response from the server behind it",
        1015 => "the TLS handshake failed (never sent on the wire)",
        3000..=3999 => "a code registered by a library or framework; its meaning is defined there",
        4000..=4999 => "a private code; its meaning is defined by the application",
        _ => "not a code a conforming endpoint sends",
    }
}

/// True for codes RFC 6455 forbids on the wire (1004–1006, 1015, and anything outside 1000–4999 not assigned).
pub fn is_forbidden_on_wire(code: u16) -> bool {
    matches!(code, 0..=999 | 1004..=1006 | 1015 | 1016..=2999) || code > 4999
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cover_the_standard_codes_and_ranges() {
        assert_eq!(close_code_name(1000), "Normal Closure");
        assert_eq!(close_code_name(1006), "Abnormal Closure");
        assert_eq!(close_code_name(1015), "TLS Handshake");
        assert!(close_code_name(3001).starts_with("Registered"));
        assert!(close_code_name(4006).starts_with("Private"));
        assert!(close_code_name(5000).starts_with("Invalid"));
    }

    #[test]
    fn wire_rules_follow_rfc_6455() {
        assert!(is_forbidden_on_wire(1006));
        assert!(is_forbidden_on_wire(1005));
        assert!(!is_forbidden_on_wire(1000));
        assert!(!is_forbidden_on_wire(4029));
    }
}
