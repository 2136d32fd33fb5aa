//! The bearer token for writes (and protected reads): read from a file at start and on SIGHUP,
//! never from argv (argv is visible to every user in `ps`).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Largest token file accepted.
const MAX_TOKEN_BYTES: u64 = 4096;

/// Read and check the token file: not readable by others, not empty, one line.
pub fn read_token_file(path: &Path) -> Result<Vec<u8>, String> {
    let p = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("token file {p}: {e}"))?;
    let mode = meta.permissions().mode();
    if mode & 0o004 != 0 {
        return Err(format!(
            "token file {p} is readable by every user (mode {:o}): run `chmod 600 {p}`",
            mode & 0o777
        ));
    }
    if meta.len() > MAX_TOKEN_BYTES {
        return Err(format!(
            "token file {p} is larger than {MAX_TOKEN_BYTES} bytes: it should hold one token"
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("token file {p}: {e}"))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(format!("token file {p} is empty: put a long random token in it, e.g. `head -c 32 /dev/urandom | base64 > {p}`"));
    }
    if token.contains(char::is_whitespace) {
        return Err(format!(
            "token file {p} must hold one token without spaces or line breaks"
        ));
    }
    Ok(token.as_bytes().to_vec())
}
