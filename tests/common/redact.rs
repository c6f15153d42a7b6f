//! Helpers shared by the redaction tests (redact*.rs): records built in code, JWTs, and a capture to redact.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use frametap::event::{
    Frame, HttpRequest, HttpResponse, Meta, Opcode, Open, Peer, Record, Ts, FORMAT_NAME, FORMAT_VERSION,
};
use frametap::inspect::jwt::encode_part;
use serde_json::Value;

pub const T0: i64 = 1_767_323_045;

pub const SESSION: &str = "3f9a1c2b-7d4e-4f6a-9b8c-1d2e3f4a5b6c";

pub const DEPLOYMENT: &str = "d3e4f5a6-0000-4000-8000-000000000001";

pub fn ts(epoch: i64) -> Ts {
    Ts(DateTime::<Utc>::from_timestamp(epoch, 0).unwrap())
}

pub fn jwt(claims: Value) -> String {
    let header = encode_part(br#"{"alg":"HS256","typ":"JWT"}"#);
    format!("{header}.{}.{}", encode_part(claims.to_string().as_bytes()), encode_part(b"super-secret-signature-bytes"))
}

pub fn signature(token: &str) -> &str {
    token.rsplit('.').next().unwrap()
}

pub fn pairs(h: &[(&str, &str)]) -> Vec<(String, String)> {
    h.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
}

pub fn meta(command: &[&str]) -> Record {
    Record::from(Meta {
        ts: ts(T0),
        format: FORMAT_NAME.into(),
        version: FORMAT_VERSION,
        frametap: "0.1.0".into(),
        command: command.iter().map(|s| s.to_string()).collect(),
        mode: "proxy".into(),
        upstream: Some(format!("wss://example.test/v1?deploymentId={DEPLOYMENT}&token={SESSION}")),
        redacted: false,
        insecure_upstream: false,
    })
}

pub fn open(path: &str, headers: &[(&str, &str)], response_headers: &[(&str, &str)]) -> Record {
    Record::from(Open {
        conn: 1,
        ts: ts(T0),
        client_addr: Some("127.0.0.1:50000".into()),
        request: HttpRequest { method: "GET".into(), path: path.into(), headers: pairs(headers) },
        upstream: None,
        upstream_request: None,
        response: Some(HttpResponse { status: 101, headers: pairs(response_headers), body: None, body_base64: None }),
        error: None,
        handshake_ms: Some(10.0),
        upstream_tcp_rtt_ms: None,
        failed_ms: None,
        upgraded_ms: None,
    })
}

pub fn frame(seq: u64, opcode: Opcode, payload: &[u8]) -> Frame {
    Frame::whole(1, ts(T0 + seq as i64), seq, Peer::Client, opcode, Bytes::copy_from_slice(payload))
}

pub fn text(seq: u64, body: &str) -> Record {
    Record::Frame(frame(seq, Opcode::Text, body.as_bytes()))
}

pub fn frame_text(record: &Record) -> String {
    match record {
        Record::Frame(f) => {
            assert_eq!(f.len, f.payload.len() as u64, "len follows the payload");
            f.text().unwrap().to_owned()
        }
        other => panic!("not a frame: {other:?}"),
    }
}

pub fn line(record: &Record) -> String {
    serde_json::to_string(record).unwrap()
}
