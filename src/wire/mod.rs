//! RFC 6455 frames at byte level: header parsing and encoding, masking, and a streaming scanner for the relay.
//!
//! The relay forwards the exact bytes an endpoint sent (masks, RSV bits, fragments and odd close codes
//! included) and only parses headers to know where frames start and end; see docs/architecture.md.

mod frame;
mod scanner;

pub use frame::{
    apply_mask, close_payload, encode_close, encode_frame, parse_header, random_mask, FrameHeader, MAX_HEADER_LEN,
};
pub use scanner::{FrameScanner, ScannedFrame, Step};
