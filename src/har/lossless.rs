//! Reads back the `_frametap` fields of a HAR that frametap exported: the very records of the capture, in file order.

use super::document::{Entry, Har, Message};
use crate::event::{ConnId, End, Frame, Opcode, Peer, Record, Ts};
use anyhow::{anyhow, bail, Context, Result};
use base64::Engine as _;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::BTreeSet;

#[derive(Deserialize)]
struct Stored<'a> {
    at: usize,
    #[serde(borrow)]
    record: &'a RawValue,
}

/// What `_frametap.frames` says about one frame of a message.
#[derive(Deserialize)]
struct FrameInfo {
    at: usize,
    ts: Ts,
    seq: u64,
    fin: bool,
    len: u64,
    /// Bytes of payload kept, when it differs from `len`.
    size: Option<u64>,
    to: Option<Peer>,
    relayed: Option<bool>,
}

/// True when the HAR's log carries frametap's `_frametap` block (it was exported by frametap).
pub(super) fn is_frametap_har(har: &Har) -> bool {
    har.log.frametap.format == super::HAR_FORMAT_NAME
}

/// Rebuilds the capture from a frametap HAR. An entry without its `_frametap` fields (stripped, or added by hand) is
/// imported from its messages like a Chrome HAR's entry, with a warning (see [`import_stripped`]).
pub(super) fn restore(har: &Har) -> Result<(Vec<Record>, Vec<String>)> {
    let log = &har.log;
    let version = log.frametap.version.as_u64().unwrap_or(0);
    if version > u64::from(super::HAR_FORMAT_VERSION) {
        bail!(
            "its _frametap fields are version {version}, newer than this frametap reads ({}): upgrade frametap",
            super::HAR_FORMAT_VERSION
        );
    }
    let mut warnings = Vec::new();
    let mut placed: Vec<(usize, Record)> = Vec::new();
    stored_records(log.frametap.records.items(), &mut placed).context("log._frametap.records")?;
    let mut stripped = Vec::new();
    for (index, entry) in log.entries.items().iter().enumerate() {
        let number = index + 1;
        let Some(ext) = &entry.frametap.0 else {
            stripped.push((number, &entry.0));
            continue;
        };
        let conn: ConnId =
            ext.conn.as_u64().ok_or_else(|| anyhow!("entry {number}: _frametap.conn is missing or not a number"))?;
        stored_records(ext.records.items(), &mut placed).with_context(|| format!("entry {number}"))?;
        for (m, message) in entry.messages.items().iter().enumerate() {
            if message.kind.as_str() == Some("error") {
                // Chrome's item for a failed upgrade, written from the stored `open` record, which holds the failure.
                continue;
            }
            message_frames(conn, message, &mut placed).with_context(|| format!("entry {number}, message {}", m + 1))?;
        }
    }
    placed.sort_by_key(|(at, _)| *at);
    if let Some(pair) = placed.windows(2).find(|w| w[0].0 == w[1].0) {
        bail!(
            "two records claim position {} in the capture: the _frametap fields were edited; export the capture again",
            pair[0].0
        );
    }
    let records = placed.into_iter().map(|(_, r)| r).collect();
    if stripped.is_empty() {
        return Ok((records, warnings));
    }
    let records = import_stripped(records, &stripped, &mut warnings)?;
    Ok((records, warnings))
}

/// Entries of a frametap HAR that lost their `_frametap` fields: each becomes a connection of its own, imported from
/// its `_webSocketMessages` (and `_webSocketClose`) as a Chrome HAR's entry is, after the restored records. The stored
/// `end` counted records that are not there, so a fresh one replaces it, saying what was lost (`complete: false`).
fn import_stripped(
    mut records: Vec<Record>,
    stripped: &[(usize, &Entry)],
    warnings: &mut Vec<String>,
) -> Result<Vec<Record>> {
    let (dropped, mut errors) = End::losses_of(&records);
    records.retain(|record| !matches!(record, Record::End(_)));
    let mut used: BTreeSet<ConnId> = records.iter().filter_map(Record::conn).collect();
    let mut conn: ConnId = 1;
    for &(number, entry) in stripped {
        while used.contains(&conn) {
            conn += 1;
        }
        used.insert(conn);
        let url = entry.request.url.as_str().unwrap_or("no URL");
        warnings.push(format!(
            "entry {number} ({url}) has no _frametap fields (removed after the export?): imported from its \
             _webSocketMessages as connection {conn}, as for a Chrome HAR (no control frames, tokens or diagnosis)"
        ));
        errors.push(format!(
            "entry {number} of the HAR had no _frametap fields: connection {conn} holds only its messages"
        ));
        let imported =
            super::import::import_entry(conn, number, entry, super::HarSource::Frametap, &Default::default(), warnings)
                .with_context(|| format!("entry {number}"))?;
        records.extend(imported.records);
    }
    let ts = records.iter().map(Record::ts).max().unwrap_or_else(Ts::now);
    records.push(Record::End(End::counting(records.iter().map(Record::kind), ts, dropped, errors)));
    Ok(records)
}

fn stored_records(list: &[&RawValue], placed: &mut Vec<(usize, Record)>) -> Result<()> {
    for item in list {
        let stored: Stored = serde_json::from_str(item.get()).context("a _frametap record is malformed")?;
        let record: Record = serde_json::from_str(stored.record.get())
            .with_context(|| format!("the _frametap record at position {} is not a frametap record", stored.at))?;
        placed.push((stored.at, record));
    }
    Ok(())
}

/// Splits a message's data back into the frames listed in its `_frametap.frames`.
fn message_frames(conn: ConnId, message: &Message, placed: &mut Vec<(usize, Record)>) -> Result<()> {
    let from = match message.kind.as_str() {
        Some("send") => Peer::Client,
        Some("receive") => Peer::Server,
        other => bail!("type is {other:?}, expected \"send\" or \"receive\""),
    };
    let opcode = match message.opcode.as_u64() {
        Some(1) => Opcode::Text,
        Some(2) => Opcode::Binary,
        other => bail!("opcode is {other:?}, expected 1 (text) or 2 (binary)"),
    };
    let data = message.data.as_str().ok_or_else(|| anyhow!("data is missing or not a string"))?;
    let payload: Vec<u8> = if opcode == Opcode::Text {
        data.as_bytes().to_vec()
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| anyhow!("binary data is not base64 ({e})"))?
    };
    let ext: Value = match message.frametap {
        Some(ext) => serde_json::from_str(ext.get()).context("_frametap is malformed")?,
        None => Value::Null,
    };
    let infos = Vec::<FrameInfo>::deserialize(&ext["frames"]).context("_frametap.frames is missing or malformed")?;
    let sizes: Vec<usize> = infos.iter().map(|f| f.size.unwrap_or(f.len) as usize).collect();
    if sizes.iter().sum::<usize>() != payload.len() {
        bail!(
            "its data has {} bytes but its _frametap.frames add up to {}: the data was edited; \
             fix the lengths or export the capture again",
            payload.len(),
            sizes.iter().sum::<usize>()
        );
    }
    let mut offset = 0;
    for (k, (info, size)) in infos.into_iter().zip(sizes).enumerate() {
        let frame = Frame {
            conn,
            ts: info.ts,
            seq: info.seq,
            from,
            to: info.to.unwrap_or(from.other()),
            opcode: if k == 0 { opcode } else { Opcode::Continuation },
            fin: info.fin,
            rsv: 0,
            len: info.len,
            payload: Bytes::copy_from_slice(&payload[offset..offset + size]),
            text_message: opcode == Opcode::Text,
            relayed: info.relayed.unwrap_or(true),
        };
        offset += size;
        placed.push((info.at, Record::Frame(frame)));
    }
    Ok(())
}
