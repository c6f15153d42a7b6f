//! Where frametap keeps its files (`$FRAMETAP_HOME`, else `~/.frametap`) and how it creates private ones (0600 on
//! Unix; on Windows, files in the user's profile are private to the user by the folder's inherited ACL).

use anyhow::{bail, Context, Result};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// The per-user data folder: `$FRAMETAP_HOME`, else `~/.frametap`.
pub fn frametap_home() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("FRAMETAP_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let home = std::env::var_os(HOME_VARIABLE).filter(|d| !d.is_empty()).with_context(|| {
        format!("neither FRAMETAP_HOME nor {HOME_VARIABLE} is set: set FRAMETAP_HOME to a folder frametap may write to")
    })?;
    Ok(PathBuf::from(home).join(".frametap"))
}

/// The variable that names the user's home folder: `HOME` on Unix.
#[cfg(not(windows))]
const HOME_VARIABLE: &str = "HOME";
/// The variable that names the user's home folder: `USERPROFILE` on Windows (`HOME` is seldom set there).
#[cfg(windows)]
const HOME_VARIABLE: &str = "USERPROFILE";

/// Creates `dir` (and parents) readable by the owner only (0700).
pub fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    owner_only_dir(&mut builder);
    builder.create(dir).with_context(|| format!("could not create the folder {}", dir.display()))
}

/// Refuses a path to write to that already exists, saying whether it is a folder or a file (never overwritten).
pub fn refuse_existing(path: &Path) -> Result<()> {
    if path.is_dir() {
        bail!("{} is a folder: give the name of a new file (inside it, or elsewhere)", path.display());
    }
    if path.exists() {
        bail!(
            "{} already exists; frametap never overwrites a file: choose another name or remove it first",
            path.display()
        );
    }
    Ok(())
}

/// Refuses an OUT that is the very file IN is (the same name, or another path to it): said before anything else about
/// OUT, since that it exists, or is of IN's kind, would only follow from it.
pub fn refuse_same_file(input: &Path, output: &Path) -> Result<()> {
    let same = matches!(
        (std::fs::canonicalize(input), std::fs::canonicalize(output)),
        (Ok(input), Ok(output)) if input == output
    );
    if same {
        bail!("{} is the file to read, and frametap never writes over it: name a new file to write", output.display());
    }
    Ok(())
}

/// Refuses a folder given where a capture or HAR to read is expected (`frametap inspect ~/.frametap/captures`),
/// naming the newest capture in it to give instead.
pub fn refuse_folder_to_read(path: &Path) -> Result<()> {
    if !path.is_dir() {
        return Ok(());
    }
    let is_capture =
        |file: &Path| crate::capture::CaptureFormat::named_by(file).is_some() || crate::har::is_har_to_read(file);
    let newest = std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()) && is_capture(&entry.path()))
        .filter_map(|entry| Some((entry.metadata().ok()?.modified().ok()?, entry.path())))
        .max();
    match newest {
        Some((_, newest)) => bail!(
            "{} is a folder, not a capture: give one of its files, e.g. the newest capture in it, {}",
            path.display(),
            newest.display()
        ),
        None => bail!(
            "{} is a folder, not a capture, and holds none (.jsonl, .ftcap, .har, .zhar, .zip): give a capture file",
            path.display()
        ),
    }
}

/// Creates a new file readable and writable by the owner only (0600); fails if it already exists.
pub fn create_private_file(path: &Path) -> Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    with_mode(&mut options, 0o600);
    match options.open(path) {
        Ok(file) => Ok(file),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            refuse_existing(path)?;
            Err(e).with_context(|| format!("could not create {}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() && !parent.is_dir() => bail!(
                "could not create {}: the folder {} does not exist (create it first, or choose another place)",
                path.display(),
                parent.display()
            ),
            _ => Err(e).with_context(|| format!("could not create {}", path.display())),
        },
        Err(e) => Err(e).with_context(|| format!("could not create {}", path.display())),
    }
}

/// Makes `builder` create folders readable by the owner only (0700).
#[cfg(unix)]
fn owner_only_dir(builder: &mut std::fs::DirBuilder) {
    std::os::unix::fs::DirBuilderExt::mode(builder, 0o700);
}

/// Nothing on Windows: a folder takes its parent's ACL, which in the user's profile (where `~/.frametap` is) lets
/// only the user, administrators and the system in.
#[cfg(not(unix))]
fn owner_only_dir(_builder: &mut std::fs::DirBuilder) {}

/// Makes `options` create the file with the Unix permission bits `mode` (such as 0600).
#[cfg(unix)]
pub fn with_mode(options: &mut OpenOptions, mode: u32) {
    std::os::unix::fs::OpenOptionsExt::mode(options, mode);
}

/// Nothing on Windows, which has no permission bits: a new file takes its folder's ACL (private to the user in their
/// profile, where `~/.frametap` is; a file written elsewhere is as private as that folder).
#[cfg(not(unix))]
pub fn with_mode(_options: &mut OpenOptions, _mode: u32) {}

/// Whether users other than the owner may read `path` (its Unix permission bits allow group or others); `false` when
/// that cannot be told.
#[cfg(unix)]
pub fn readable_by_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|meta| meta.permissions().mode() & 0o077 != 0)
}

/// Not told on Windows, whose ACLs have no permission bits to check: `false`.
#[cfg(not(unix))]
pub fn readable_by_others(_path: &Path) -> bool {
    false
}

/// A fresh capture path in the per-user captures folder: `captures/<UTC timestamp>.<extension>`.
pub fn default_capture_path(extension: &str) -> Result<PathBuf> {
    let dir = frametap_home()?.join("captures");
    create_private_dir(&dir)?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ");
    Ok(dir.join(format!("{stamp}.{extension}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_files_are_0600_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        create_private_file(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let err = create_private_file(&path).unwrap_err().to_string();
        assert!(err.contains("already exists"), "{err}");
    }

    #[test]
    fn a_folder_or_a_missing_folder_is_named_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let err = create_private_file(dir.path()).unwrap_err().to_string();
        assert!(err.contains("is a folder: give the name of a new file"), "{err}");
        let err = create_private_file(&dir.path().join("missing/a.jsonl")).unwrap_err().to_string();
        assert!(err.contains("the folder") && err.contains("missing does not exist"), "{err}");
    }
}
