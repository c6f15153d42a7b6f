//! Genesys Guest API vocabulary: request actions, response classes, region domains and the codes inside frames.
//!
//! Source: /work/shared/genesys-web-messaging.md (from Genesys's public SDKs and fixtures). These codes travel
//! inside JSON frames; they are NOT WebSocket close codes.

/// Every request `action` the Guest API schema names.
pub const ACTIONS: &[&str] = &[
    "configureSession",
    "configureAuthenticatedSession",
    "onMessage",
    "echo",
    "getJwt",
    "onAttachment",
    "getAttachment",
    "deleteAttachment",
    "closeSession",
    "getConfiguration",
    "disconnectCustomer",
    "resumeToken",
];

/// Actions that configure the session: one of them must be the first frame.
pub const CONFIGURE_ACTIONS: &[&str] = &["configureSession", "configureAuthenticatedSession"];

/// Response/message classes the server sends.
pub const CLASSES: &[&str] = &[
    "SessionResponse",
    "StructuredMessage",
    "PresignedUrlResponse",
    "AttachmentDeletedResponse",
    "UploadSuccessEvent",
    "UploadFailureEvent",
    "GenerateUrlError",
    "ConnectionClosedEvent",
    "LogoutEvent",
    "SessionExpiredEvent",
    "SessionClearedEvent",
    "JwtResponse",
    "GetConfigurationResponse",
    "ResumeTokenResponse",
    "TooManyRequestsErrorMessage",
    "string",
    "Error",
];

/// Genesys Cloud region domains; the Guest API host is `webmessaging.` + one of them.
pub const REGION_DOMAINS: &[&str] = &[
    "mypurecloud.com",
    "mypurecloud.ie",
    "mypurecloud.com.au",
    "mypurecloud.jp",
    "mypurecloud.de",
    "usw2.pure.cloud",
    "cac1.pure.cloud",
    "apne2.pure.cloud",
    "euw2.pure.cloud",
    "aps1.pure.cloud",
    "use2.us-gov-pure.cloud",
    "mec1.pure.cloud",
    "apne3.pure.cloud",
    "euc2.pure.cloud",
    "mxc1.pure.cloud",
    "apse1.pure.cloud",
];

/// The limit on `channel.metadata.customAttributes`, in bytes (code 4013 past it).
pub const CUSTOM_ATTRIBUTES_LIMIT: usize = 2048;

/// What a code inside a Guest API response means.
pub fn genesys_code_meaning(code: i64) -> &'static str {
    match code {
        200 => "OK",
        400 => "bad request",
        401 => "unauthorised: re-authenticate",
        403 => "forbidden, or the feature is off for this deployment",
        404 => "not found",
        408 => "request timed out",
        429 => "too many requests",
        4000 => "feature unavailable",
        4001 => "file type not supported",
        4002 => "file too large",
        4003 => "file content invalid",
        4004 => "file name invalid",
        4005 => "file name too long",
        4006 => "session expired",
        4007 => "session not found",
        4008 => "attachment expired",
        4009 => "attachment not found",
        4010 => "attachment not uploaded",
        4011 => "message too long",
        4013 => "custom attributes too large (limit 2048 bytes)",
        4017 => "cannot downgrade an authenticated session to unauthenticated",
        4020 => "missing parameter",
        4029 => "request rate too high",
        5000 => "unexpected server error (\"Request failed.\")",
        500..=599 => "server error",
        _ => "not a documented Guest API code",
    }
}

/// True for a host `webmessaging.<region domain>`.
pub fn is_webmessaging_host(host: &str) -> bool {
    host.strip_prefix("webmessaging.").is_some_and(|domain| REGION_DOMAINS.contains(&domain))
}

/// True for any host under a Genesys Cloud region domain (`api.mypurecloud.com`, `webmessaging.…`).
pub fn is_genesys_cloud_host(host: &str) -> bool {
    REGION_DOMAINS.iter().any(|d| host == *d || host.ends_with(&format!(".{d}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_recognised() {
        assert!(is_webmessaging_host("webmessaging.mypurecloud.com"));
        assert!(is_webmessaging_host("webmessaging.euw2.pure.cloud"));
        assert!(!is_webmessaging_host("api.mypurecloud.com"));
        assert!(is_genesys_cloud_host("api.mypurecloud.com"));
        assert!(!is_genesys_cloud_host("example.com"));
    }

    #[test]
    fn codes_have_meanings() {
        assert_eq!(genesys_code_meaning(4006), "session expired");
        assert_eq!(genesys_code_meaning(503), "server error");
        assert!(genesys_code_meaning(4999).starts_with("not a documented"));
    }
}
