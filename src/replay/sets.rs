//! `--set NAME=VALUE`: replaces JSON field values in the text messages a replay sends, fragmented ones included.

use super::script::{Step, Turn};
use crate::event::Opcode;
use bytes::Bytes;
use serde_json::Value;
use std::collections::HashSet;

/// Parses `--set NAME=VALUE`.
pub fn parse_set(arg: &str) -> Result<(String, String), String> {
    match arg.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => Ok((name.trim().to_owned(), value.to_owned())),
        _ => Err(format!("{arg:?} is not NAME=VALUE (for example --set token=6f1c…)")),
    }
}

/// Replaces the value of every JSON field named in `sets` (at any depth) in each text message of ours. A message
/// sent in fragments keeps its fragments: each keeps its size but the last, which takes what remains (a fragment
/// boundary may then fall inside a character, which WebSocket allows). Frames of other messages stay as they are.
pub fn apply_to_steps(steps: Vec<Step>, sets: &[(String, String)]) -> Vec<Step> {
    apply(steps, sets, &mut HashSet::new())
}

/// The `--set` names that no JSON text message among `steps` of ours holds a field of, at any depth: such a `--set`
/// would change nothing (`--set message.text=…` names one field called "message.text", not a path), so `replay
/// send` refuses it at start rather than replay the recording unchanged as if it had been applied.
pub fn names_no_message_has(steps: Vec<Step>, sets: &[(String, String)]) -> Vec<String> {
    let mut found = HashSet::new();
    apply(steps, sets, &mut found);
    let mut missing: Vec<String> = Vec::new();
    for (name, _) in sets {
        if !found.contains(name) && !missing.contains(name) {
            missing.push(name.clone());
        }
    }
    missing
}

/// [`apply_to_steps`], noting in `found` each name whose field some message held.
fn apply(mut steps: Vec<Step>, sets: &[(String, String)], found: &mut HashSet<String>) -> Vec<Step> {
    if sets.is_empty() {
        return steps;
    }
    let ours: Vec<usize> = steps.iter().enumerate().filter(|(_, s)| s.turn == Turn::Ours).map(|(i, _)| i).collect();
    let mut k = 0;
    while k < ours.len() {
        if steps[ours[k]].frame.opcode != Opcode::Text {
            k += 1;
            continue;
        }
        let mut members = vec![ours[k]];
        let mut fin = steps[ours[k]].frame.fin;
        let mut next = k + 1;
        while !fin && next < ours.len() {
            let frame = &steps[ours[next]].frame;
            match frame.opcode {
                Opcode::Continuation => {
                    members.push(ours[next]);
                    fin = frame.fin;
                }
                op if op.is_control() => {}
                _ => break,
            }
            next += 1;
        }
        rewrite(&mut steps, &members, sets, found);
        k = ours.iter().position(|i| i == members.last().unwrap()).unwrap() + 1;
    }
    steps
}

fn rewrite(steps: &mut [Step], members: &[usize], sets: &[(String, String)], found: &mut HashSet<String>) {
    let payload: Vec<u8> = members.iter().flat_map(|i| steps[*i].frame.payload.iter().copied()).collect();
    let Some(mut json) = std::str::from_utf8(&payload).ok().and_then(|t| serde_json::from_str::<Value>(t).ok()) else {
        return;
    };
    let mut changed = false;
    for (name, value) in sets {
        if replace_field(&mut json, name, value) {
            changed = true;
            found.insert(name.clone());
        }
    }
    if !changed {
        return;
    }
    let new = serde_json::to_vec(&json).expect("JSON values serialise");
    let mut rest = &new[..];
    for (n, index) in members.iter().enumerate() {
        let frame = &mut steps[*index].frame;
        let take = if n + 1 == members.len() { rest.len() } else { frame.payload.len().min(rest.len()) };
        let (head, tail) = rest.split_at(take);
        frame.payload = Bytes::copy_from_slice(head);
        frame.len = take as u64;
        rest = tail;
    }
}

fn replace_field(json: &mut Value, name: &str, value: &str) -> bool {
    match json {
        Value::Object(map) => {
            let mut changed = false;
            for (key, field) in map.iter_mut() {
                if key == name {
                    *field = match field {
                        Value::String(_) => Value::String(value.to_owned()),
                        _ => serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned())),
                    };
                    changed = true;
                } else {
                    changed |= replace_field(field, name, value);
                }
            }
            changed
        }
        Value::Array(items) => {
            let mut changed = false;
            for item in items {
                changed |= replace_field(item, name, value);
            }
            changed
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Frame, Peer, Ts};
    use std::time::Duration;

    fn step(turn: Turn, opcode: Opcode, fin: bool, payload: &str) -> Step {
        let frame = Frame {
            conn: 1,
            ts: Ts::now(),
            seq: 1,
            from: Peer::Client,
            to: Peer::Server,
            opcode,
            fin,
            rsv: 0,
            len: payload.len() as u64,
            payload: Bytes::copy_from_slice(payload.as_bytes()),
            text_message: true,
            relayed: true,
        };
        Step { turn, frame, gap: Duration::ZERO }
    }

    fn texts(steps: &[Step]) -> Vec<&str> {
        steps.iter().map(|s| std::str::from_utf8(&s.frame.payload).unwrap()).collect()
    }

    #[test]
    fn fields_are_replaced_at_any_depth_keeping_order_and_untouched_frames_stay_byte_for_byte() {
        let sets = vec![("token".to_owned(), "NEW".to_owned()), ("n".to_owned(), "5".to_owned())];
        let steps = vec![
            step(Turn::Ours, Opcode::Text, true, r#"{"action":"echo","token":"old","inner":[{"token":"x","n":1}]}"#),
            step(Turn::Ours, Opcode::Text, true, r#"{ "action": "echo" }"#),
            step(Turn::Theirs, Opcode::Text, true, r#"{"token":"theirs"}"#),
            step(Turn::Ours, Opcode::Text, true, "not json"),
        ];
        let out = apply_to_steps(steps, &sets);
        assert_eq!(
            texts(&out),
            vec![
                r#"{"action":"echo","token":"NEW","inner":[{"token":"NEW","n":5}]}"#,
                r#"{ "action": "echo" }"#,
                r#"{"token":"theirs"}"#,
                "not json"
            ]
        );
        assert_eq!(out[0].frame.len, out[0].frame.payload.len() as u64);
    }

    #[test]
    fn fragmented_messages_keep_their_fragments_around_control_frames() {
        let sets = vec![("token".to_owned(), "a-much-longer-token".to_owned())];
        let steps = vec![
            step(Turn::Ours, Opcode::Text, false, r#"{"token":"#),
            step(Turn::Ours, Opcode::Ping, true, "p"),
            step(Turn::Theirs, Opcode::Text, true, "x"),
            step(Turn::Ours, Opcode::Continuation, false, r#""t1","#),
            step(Turn::Ours, Opcode::Continuation, true, r#""a":1}"#),
        ];
        let out = apply_to_steps(steps, &sets);
        let t = texts(&out);
        assert_eq!((t[1], t[2]), ("p", "x"));
        assert_eq!(t[0].len(), 9, "the first fragment keeps its size");
        assert_eq!(t[3].len(), 5);
        assert_eq!(format!("{}{}{}", t[0], t[3], t[4]), r#"{"token":"a-much-longer-token","a":1}"#);
        assert!(parse_set("token=a=b").unwrap().1 == "a=b");
        assert!(parse_set("=x").is_err());
    }
}
