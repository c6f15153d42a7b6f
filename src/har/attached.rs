//! Playwright's attached files: a HAR recorded with `content: "attach"` (the default for a `.zip` path) keeps each
//! WebSocket's messages in a JSON Lines file of its own, named by the entry's `response.content._file`, beside the
//! HAR or inside its `.zip`. They are read here, so those messages import as the embedded ones do.

use super::document::{Entry, Har, Message};
use super::json::Obj;
use anyhow::{anyhow, bail, Context, Result};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The first bytes of a zip archive (a local file header).
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";

/// True when `raw` is a zip archive, as Playwright writes a HAR recorded to a `.zip` path.
pub(super) fn is_zip(raw: &[u8]) -> bool {
    raw.starts_with(ZIP_MAGIC)
}

/// A zip archive read into memory.
pub(super) type Zip = zip::ZipArchive<std::io::Cursor<Vec<u8>>>;

/// The HAR inside a zip archive, its one `*.har` file (Playwright names it `har.har`), and the archive, opened once
/// for the attached files beside it.
pub(super) fn har_in_zip(raw: Vec<u8>, path: &Path) -> Result<(Vec<u8>, Zip)> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(raw))
        .map_err(|e| anyhow!("{}: the zip archive is corrupt or was cut off ({e}): save it again", path.display()))?;
    let hars: Vec<String> = archive.file_names().filter(|name| name.ends_with(".har")).map(str::to_owned).collect();
    let name = match hars.as_slice() {
        [one] => one.clone(),
        [] => bail!(
            "{}: a zip archive with no .har file in it: frametap reads the HAR of a Playwright recordHar .zip",
            path.display()
        ),
        several if several.iter().any(|n| n == "har.har") => "har.har".to_owned(),
        several => bail!(
            "{}: a zip archive with {} .har files in it ({}): unzip it and give the one to read",
            path.display(),
            several.len(),
            several.join(", ")
        ),
    };
    let har =
        read_zipped(&mut archive, &name).with_context(|| format!("{}: {name} in the zip archive", path.display()))?;
    Ok((har, archive))
}

fn read_zipped(archive: &mut Zip, name: &str) -> Result<Vec<u8>> {
    let mut file = archive.by_name(name).map_err(|e| anyhow!("could not open it ({e})"))?;
    let mut out = Vec::new();
    file.read_to_end(&mut out)
        .map_err(|e| anyhow!("could not read it: {e} (the archive is corrupt or was cut off)"))?;
    Ok(out)
}

/// Where a HAR's attached files are looked for.
pub(super) enum Place {
    /// The folder of a HAR file.
    Folder(PathBuf),
    /// The zip archive the HAR came in.
    Zip(Zip),
    /// Nowhere: the HAR was given as JSON, not as a file.
    Nowhere,
}

/// The attached files a HAR's WebSocket entries name, read: their bytes, or why they could not be.
#[derive(Default)]
pub(super) struct AttachedFiles {
    files: HashMap<String, Result<Vec<u8>, String>>,
}

impl AttachedFiles {
    /// Reads the file each WebSocket entry without `_webSocketMessages` names in `response.content._file` (not the
    /// bodies other entries keep in theirs).
    pub(super) fn read(har: &Har, mut place: Place) -> AttachedFiles {
        let mut files = HashMap::new();
        for entry in har.log.entries.items().iter().filter(|entry| super::import::is_websocket(entry)) {
            let Some(name) = attached_name(entry) else { continue };
            if files.contains_key(name) {
                continue;
            }
            let read = read_attached(&mut place, name);
            files.insert(name.to_owned(), read);
        }
        AttachedFiles { files }
    }

    /// The messages of the attached file `entry` names, read as JSON Lines (one message a line, as in
    /// `_webSocketMessages`), or `None` when it names none. `warnings` gets what went wrong, naming the entry: a file
    /// that could not be read (then no message), lines that are no JSON (skipped; a recorder stopped mid-write cuts
    /// its last line).
    pub(super) fn messages_of(
        &self,
        entry: &Entry,
        number: usize,
        url: &str,
        warnings: &mut Vec<String>,
    ) -> Option<Vec<Obj<Message<'_>>>> {
        let name = attached_name(entry)?;
        let bytes = match self.files.get(name) {
            Some(Ok(bytes)) => bytes,
            Some(Err(why)) => {
                warnings.push(format!(
                    "entry {number} ({url}): its messages are in the attached file {name} (Playwright's recordHar \
                     with content \"attach\"), which {why}: keep that file beside the HAR, or give the .zip the \
                     HAR came in"
                ));
                return Some(Vec::new());
            }
            None => return Some(Vec::new()),
        };
        let mut messages = Vec::new();
        let mut unread: Vec<(usize, String)> = Vec::new();
        for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<Obj<Message>>(line) {
                Ok(message) => messages.push(message),
                Err(e) => unread.push((index + 1, e.to_string())),
            }
        }
        if let Some((first, why)) = unread.first() {
            warnings.push(format!(
                "entry {number}: the attached file {name} has {} that {} no JSON message (the first: line {first}, \
                 {why}): skipped, the other {} kept; a recorder stopped mid-write cuts its last line",
                crate::words::count_as(unread.len() as u64, "line", "lines"),
                if unread.len() == 1 { "is" } else { "are" },
                crate::words::count_as(messages.len() as u64, "message", "messages"),
            ));
        }
        Some(messages)
    }
}

/// One attached file's bytes, or why they could not be read (said after "which").
fn read_attached(place: &mut Place, name: &str) -> Result<Vec<u8>, String> {
    match place {
        Place::Folder(folder) if is_plain_file_name(name) => std::fs::read(folder.join(name))
            .map_err(|e| format!("could not be read beside the HAR, in {}: {e}", folder.display())),
        Place::Folder(_) => Err(format!("is not a file name ({name:?}: frametap reads only files beside the HAR)")),
        Place::Zip(archive) => {
            read_zipped(archive, name).map_err(|e| format!("could not be read from the HAR's zip archive: {e}"))
        }
        Place::Nowhere => {
            Err("cannot be looked for anywhere: this HAR was given as JSON, not read from a file".to_owned())
        }
    }
}

/// The attached file an entry's messages are in: Playwright's `response.content._file`, on an entry with no
/// `_webSocketMessages`.
fn attached_name<'e>(entry: &'e Entry) -> Option<&'e str> {
    (!entry.messages.is_list()).then(|| entry.response.content.file.as_str()).flatten()
}

/// A name that stays in the HAR's folder: no folder part, not `..`.
fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\'])
}
