//! `berth install DIR`: copies the running executable to DIR/berth, for
//! images berth is not built into. The Kubernetes pattern: the berth
//! image's initContainer runs `berth install /berth-bin` into an emptyDir
//! that the app's container mounts, and its probes and entrypoint use
//! `/berth-bin/berth` from there.
//!
//! Atomic: the bytes go to a temporary file in DIR (same file system),
//! which is flushed to disk, made executable and then renamed over
//! DIR/berth, so a container that starts or probes meanwhile finds either
//! no berth, the old one or the whole new one, never a partial copy.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::exit::{Error, io_reason, usage};

/// The name berth is installed under, in DIR.
pub const NAME: &str = "berth";

/// Installs the running executable into `dir`; returns the installed path.
#[inline(never)] // its own frame, not main's: see `dispatch` in main.rs
pub fn main(dir: &str) -> Result<PathBuf, Error> {
    let dir = Path::new(dir);
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(usage(format!(
                "install: {} is not a directory",
                dir.display()
            )));
        }
        Err(e) => {
            return Err(usage(format!(
                "install: {}: {} (create the directory, e.g. mount an emptyDir there)",
                dir.display(),
                io_reason(&e)
            )));
        }
    }
    let dest = dir.join(NAME);
    // /proc/self/exe is the file this process runs, even when argv[0] is
    // a bare name found on PATH or the file has since been replaced.
    let mut source = File::open("/proc/self/exe").map_err(|e| {
        Error::Setup(format!(
            "install: cannot open the running executable (/proc/self/exe): {}",
            io_reason(&e)
        ))
    })?;
    let temp = dir.join(format!(".{NAME}.install.{}", std::process::id()));
    let copied = copy_to(&mut source, &temp).and_then(|()| fs::rename(&temp, &dest));
    if let Err(e) = copied {
        let _ = fs::remove_file(&temp);
        return Err(Error::Setup(format!(
            "install: cannot write {}: {}",
            dest.display(),
            io_reason(&e)
        )));
    }
    // The rename itself is durable once the directory is flushed too.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(dest)
}

/// `source`'s bytes into a new file `temp` (never an existing one), mode
/// 0755, flushed to disk.
fn copy_to(source: &mut File, temp: &Path) -> io::Result<()> {
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o700)
        .open(temp)?;
    io::copy(source, &mut out)?;
    // Explicitly, whatever the umask made of the mode at creation.
    out.set_permissions(fs::Permissions::from_mode(0o755))?;
    out.sync_all()
}
