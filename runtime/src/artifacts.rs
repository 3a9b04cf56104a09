//! Artifacts: packing a declared path into a tar archive on the agent, storing archives on the
//! server by their SHA-256 (content-addressed), and checking and unpacking them on fetch. Names
//! and paths that would escape their folder are refused, and so are symbolic links that lead out
//! of the artifact, on packing and on unpacking; setuid and setgid bits and write rights for
//! others are never restored.

use crate::protocol::ArtifactRef;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

/// Lower-case hexadecimal.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An artifact or log name: letters, digits, `_`, `-`, `.`; not starting with `.`.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// A SHA-256 in lower-case hexadecimal.
pub(crate) fn valid_sha(sha: &str) -> bool {
    sha.len() == 64 && sha.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

/// A relative path that stays inside its folder; `.` is the folder itself.
pub(crate) fn safe_relative(path: &str) -> Result<PathBuf, String> {
    let p = Path::new(path);
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            _ => return Err(format!("`{path}` must be a relative path inside the workspace (no `..`, not absolute)")),
        }
    }
    Ok(out)
}

/// The SHA-256 and size of a file.
pub(crate) fn sha256_file(path: &Path) -> std::io::Result<ArtifactRef> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        size += n as u64;
    }
    Ok(ArtifactRef { sha256: hex(&h.finalize()), size })
}

/// Packs `workspace/path` (a file or a folder) into a tar archive at `archive`; the archive
/// holds it under its own name.
pub(crate) fn pack(workspace: &Path, path: &str, archive: &Path) -> Result<ArtifactRef, String> {
    let rel = safe_relative(path)?;
    let src = workspace.join(&rel);
    let meta = std::fs::metadata(&src).map_err(|_| format!("`{path}` does not exist in the workspace"))?;
    let (real, root) = (std::fs::canonicalize(&src), std::fs::canonicalize(workspace));
    if !matches!((&real, &root), (Ok(r), Ok(w)) if r.starts_with(w)) {
        return Err(format!("`{path}` leads out of the workspace through a symbolic link"));
    }
    if meta.is_dir() {
        check_links(&src, path)?;
    }
    let name = rel.file_name().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("workspace"));
    let file = std::fs::File::create(archive).map_err(|e| format!("cannot write {}: {e}", archive.display()))?;
    let mut builder = tar::Builder::new(file);
    builder.follow_symlinks(false);
    let r =
        if meta.is_dir() { builder.append_dir_all(&name, &src) } else { builder.append_path_with_name(&src, &name) };
    r.map_err(|e| format!("cannot pack `{path}`: {e}"))?;
    let mut file = builder.into_inner().map_err(|e| format!("cannot pack `{path}`: {e}"))?;
    file.flush().map_err(|e| e.to_string())?;
    sha256_file(archive).map_err(|e| e.to_string())
}

/// Refuses a folder holding a symbolic link that leads out of it.
fn check_links(dir: &Path, path: &str) -> Result<(), String> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(|e| format!("cannot read {}: {e}", d.display()))?.flatten() {
            let p = e.path();
            let Ok(kind) = e.file_type() else { continue };
            if kind.is_dir() {
                stack.push(p);
            } else if kind.is_symlink() {
                let target = std::fs::read_link(&p).unwrap_or_default();
                let inside = p.strip_prefix(dir).unwrap_or(&p);
                if !link_stays_inside(inside, &target) {
                    return Err(format!(
                        "artifact `{path}`: the symbolic link `{}` leads out of it (to `{}`)",
                        inside.display(),
                        target.display()
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Whether a symbolic link at `link` (relative to the artifact's root) pointing to `target`
/// stays inside the artifact: relative, and never above the root.
fn link_stays_inside(link: &Path, target: &Path) -> bool {
    let mut depth = link.components().count().saturating_sub(1) as i64;
    for c in target.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

/// Unpacks an archive into `dest`, refusing entries that would land outside it and symbolic
/// links that lead out of it; setuid, setgid and sticky bits and write rights for others are
/// dropped.
pub fn unpack(archive: &Path, dest: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dest).map_err(|e| format!("cannot create {}: {e}", dest.display()))?;
    let file = std::fs::File::open(archive).map_err(|e| e.to_string())?;
    let mut ar = tar::Archive::new(file);
    ar.set_preserve_permissions(false);
    for entry in ar.entries().map_err(|e| format!("corrupt artifact: {e}"))? {
        let mut entry = entry.map_err(|e| format!("corrupt artifact: {e}"))?;
        let path = entry.path().map_err(|e| e.to_string())?.to_string_lossy().to_string();
        let rel = safe_relative(&path)?;
        if entry.header().entry_type().is_symlink() {
            let target = entry.link_name().ok().flatten().map(|t| t.into_owned()).unwrap_or_default();
            if !link_stays_inside(&rel, &target) {
                return Err(format!(
                    "artifact entry `{path}` is a symbolic link leading out of the artifact (to `{}`)",
                    target.display()
                ));
            }
        }
        if !entry.unpack_in(dest).map_err(|e| format!("cannot unpack `{path}`: {e}"))? {
            return Err(format!("artifact entry `{path}` escapes its folder"));
        }
        let kind = entry.header().entry_type();
        if kind.is_file() || kind.is_dir() {
            let mode = entry.header().mode().unwrap_or(0o644) & 0o775;
            let _ = std::fs::set_permissions(dest.join(&rel), std::fs::Permissions::from_mode(mode));
        }
    }
    Ok(())
}

/// The server's content-addressed archive store.
#[derive(Clone, Debug)]
pub struct Blobs {
    dir: PathBuf,
}

impl Blobs {
    pub fn new(dir: PathBuf) -> Self {
        Blobs { dir }
    }

    pub fn path(&self, sha: &str) -> Option<PathBuf> {
        valid_sha(sha).then(|| self.dir.join(&sha[..2]).join(sha))
    }

    pub fn exists(&self, sha: &str) -> bool {
        self.path(sha).is_some_and(|p| p.is_file())
    }

    /// A fresh temporary file name inside the store (same file system, for the rename).
    pub(crate) fn temp_path(&self) -> PathBuf {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.dir.join("tmp").join(format!("{}-{n}", std::process::id()))
    }

    /// Moves a checked temporary file into place under its hash.
    pub(crate) fn adopt(&self, temp: &Path, sha: &str) -> std::io::Result<()> {
        let Some(dest) = self.path(sha) else {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad hash"));
        };
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::rename(temp, dest)
    }
}

/// Hashes a stream while writing it to a file, up to `limit` bytes.
pub struct HashingWriter {
    file: tokio::fs::File,
    hasher: Sha256,
    pub size: u64,
    limit: u64,
}

impl HashingWriter {
    pub async fn create(path: &Path, limit: u64) -> std::io::Result<Self> {
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        Ok(HashingWriter { file: tokio::fs::File::create(path).await?, hasher: Sha256::new(), size: 0, limit })
    }

    /// Writes a chunk; `false` when the limit is passed.
    pub async fn write(&mut self, chunk: &[u8]) -> std::io::Result<bool> {
        use tokio::io::AsyncWriteExt;
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Ok(false);
        }
        self.hasher.update(chunk);
        self.file.write_all(chunk).await?;
        Ok(true)
    }

    pub async fn finish(mut self) -> std::io::Result<ArtifactRef> {
        use tokio::io::AsyncWriteExt;
        self.file.flush().await?;
        self.file.sync_all().await?;
        Ok(ArtifactRef { sha256: hex(&self.hasher.finalize()), size: self.size })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths_that_escape_are_refused() {
        assert!(valid_name("webapp.tar-1_x"));
        assert!(!valid_name("../x"));
        assert!(!valid_name(".hidden"));
        assert!(!valid_name("a/b"));
        assert!(!valid_name(""));
        assert!(safe_relative("target/release/app").is_ok());
        assert_eq!(safe_relative("./bin/.").unwrap(), PathBuf::from("bin"));
        assert!(safe_relative("../etc/passwd").is_err());
        assert!(safe_relative("/etc/passwd").is_err());
        assert!(safe_relative("a/../../b").is_err());
        assert!(valid_sha(&"a".repeat(64)));
        assert!(!valid_sha(&"A".repeat(64)));
        assert!(!valid_sha("../../x"));
    }

    #[test]
    fn pack_and_unpack_keep_names_and_modes() {
        use std::os::unix::fs::PermissionsExt;
        let ws = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(ws.path().join("target/release")).unwrap();
        let bin = ws.path().join("target/release/app");
        std::fs::write(&bin, "#!/bin/sh\necho hi\n").unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir_all(ws.path().join("dist/css")).unwrap();
        std::fs::write(ws.path().join("dist/css/a.css"), "x").unwrap();
        let out = tempfile::tempdir().unwrap();
        let a = out.path().join("a.tar");
        let r = pack(ws.path(), "target/release/app", &a).unwrap();
        assert_eq!(r, sha256_file(&a).unwrap());
        assert!(r.size > 0);
        let dest = out.path().join("bin");
        unpack(&a, &dest).unwrap();
        let mode = std::fs::metadata(dest.join("app")).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "the executable bit survives");
        let d = out.path().join("d.tar");
        pack(ws.path(), "dist", &d).unwrap();
        unpack(&d, out.path()).unwrap();
        assert_eq!(std::fs::read_to_string(out.path().join("dist/css/a.css")).unwrap(), "x");
        let err = pack(ws.path(), "missing", &d).unwrap_err();
        assert_eq!(err, "`missing` does not exist in the workspace");
    }

    #[test]
    fn symbolic_links_out_of_an_artifact_are_refused_and_setuid_is_never_restored() {
        use std::os::unix::fs::{symlink, PermissionsExt};
        let ws = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let a = out.path().join("a.tar");
        std::fs::create_dir_all(ws.path().join("dist/sub")).unwrap();
        std::fs::write(ws.path().join("dist/sub/f"), "x").unwrap();
        symlink("sub/f", ws.path().join("dist/ok")).unwrap();
        symlink("../sub/f", ws.path().join("dist/sub/also-ok")).unwrap();
        pack(ws.path(), "dist", &a).expect("links inside the artifact are kept");
        symlink("/etc/passwd", ws.path().join("dist/abs")).unwrap();
        let err = pack(ws.path(), "dist", &a).unwrap_err();
        assert_eq!(err, "artifact `dist`: the symbolic link `abs` leads out of it (to `/etc/passwd`)");
        std::fs::remove_file(ws.path().join("dist/abs")).unwrap();
        symlink("../../secret", ws.path().join("dist/sub/up")).unwrap();
        assert!(pack(ws.path(), "dist", &a).unwrap_err().contains("`sub/up` leads out of it"));
        symlink(out.path(), ws.path().join("outside")).unwrap();
        std::fs::write(out.path().join("stolen"), "x").unwrap();
        let err = pack(ws.path(), "outside/stolen", &a).unwrap_err();
        assert_eq!(err, "`outside/stolen` leads out of the workspace through a symbolic link");

        // A crafted archive: a setuid, world-writable file, then a link to an absolute path.
        let crafted = out.path().join("crafted.tar");
        let mut b = tar::Builder::new(std::fs::File::create(&crafted).unwrap());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o4777);
        b.append_data(&mut h, "tool", &b"x"[..]).unwrap();
        let mut l = tar::Header::new_gnu();
        l.set_entry_type(tar::EntryType::Symlink);
        l.set_size(0);
        b.append_link(&mut l, "etc", "/etc").unwrap();
        b.into_inner().unwrap();
        let dest = out.path().join("unpacked");
        let err = unpack(&crafted, &dest).unwrap_err();
        assert_eq!(err, "artifact entry `etc` is a symbolic link leading out of the artifact (to `/etc`)");
        let mode = std::fs::metadata(dest.join("tool")).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o775, "no setuid bit, no write right for others");
    }

    #[test]
    fn hashes_are_sha256() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, "abc").unwrap();
        assert_eq!(sha256_file(&p).unwrap().sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
