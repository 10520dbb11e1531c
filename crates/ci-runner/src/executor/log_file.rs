//! Step and job logs, streamed to files on the host while a job runs.
//!
//! A step may print any amount of output, so no log is held in memory:
//! each masked line goes to a file in the job's `logs` folder, and the
//! size and SHA-256 are computed as the bytes go out. The folder sits in
//! the job's directory beside the folders mounted into the sandbox, so a
//! sandboxed step can neither see nor replace it. Files are still created
//! with `O_EXCL | O_NOFOLLOW`, so a link left there is never followed.
//!
//! A value registered after a log began (`::add-mask::` in a later step)
//! is hidden when the results are stored: [`FinishedLog::masked_again`]
//! masks the log once more, line by line and long lines in bounded
//! pieces, into a new file beside it.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::mask::Masker;

/// Name of the folder in a job's directory that contains its logs.
pub const LOGS_DIR: &str = "logs";

/// Maximum length of a line part masked at once when a log is masked again.
const PIECE_BYTES: u64 = 64 * 1024;

/// Errors of writing or reading a log file.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(
        "failed to create the log folder {path}: {source}; check that the run directory is writable"
    )]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("failed to create the log file {path}: {source}; remove what is in its place")]
    Create { path: PathBuf, source: io::Error },
    #[error(
        "failed to write the log file {path}: {source}; check the free space of its file system"
    )]
    Write { path: PathBuf, source: io::Error },
    #[error("failed to read the log file {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
}

/// Creates the `logs` folder in `job_root`, mode 0700, and returns it. A
/// folder that is already there is kept; anything else there is an error.
pub fn create_logs_dir(job_root: &Path) -> Result<PathBuf, LogError> {
    let path = job_root.join(LOGS_DIR);
    let created = DirBuilder::new().mode(0o700).create(&path);
    let is_real_dir = || std::fs::symlink_metadata(&path).is_ok_and(|meta| meta.is_dir());
    match created {
        Ok(()) => Ok(path),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists && is_real_dir() => Ok(path),
        Err(source) => Err(LogError::CreateDir { path, source }),
    }
}

/// A log being written. Writes after the first error are dropped; the
/// error is returned by [`LogWriter::finish`].
#[derive(Debug)]
pub struct LogWriter {
    path: PathBuf,
    out: Option<BufWriter<File>>,
    hasher: Sha256,
    len: u64,
    masks_at_start: usize,
    error: Option<LogError>,
}

impl LogWriter {
    /// Creates a new log file at `path`. A failure is kept and returned by
    /// [`LogWriter::finish`], so the caller reports it with the step.
    pub fn create(path: PathBuf, masker: &Masker) -> Self {
        let opened = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path);
        let (out, error) = match opened {
            Ok(file) => (Some(BufWriter::with_capacity(64 * 1024, file)), None),
            Err(source) => {
                let error = LogError::Create {
                    path: path.clone(),
                    source,
                };
                (None, Some(error))
            }
        };
        Self {
            path,
            out,
            hasher: Sha256::new(),
            len: 0,
            masks_at_start: masker.count(),
            error,
        }
    }

    /// Appends `bytes`.
    pub fn write(&mut self, bytes: &[u8]) {
        let Some(out) = &mut self.out else { return };
        if let Err(source) = out.write_all(bytes) {
            self.fail(source);
            return;
        }
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// Appends `text` and a newline.
    pub fn line(&mut self, text: &str) {
        self.write(text.as_bytes());
        self.write(b"\n");
    }

    /// Appends the whole of a finished log, in bounded pieces.
    pub fn append(&mut self, log: &FinishedLog) {
        let mut reader = match log.open() {
            Ok(reader) => reader,
            Err(error) => {
                self.error.get_or_insert(error);
                self.out = None;
                return;
            }
        };
        let mut buffer = vec![0; PIECE_BYTES as usize];
        loop {
            match reader.read(&mut buffer) {
                Ok(0) => return,
                Ok(read) => self.write(&buffer[..read]),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    let path = log.path().unwrap_or(Path::new("")).to_path_buf();
                    self.error.get_or_insert(LogError::Read { path, source });
                    self.out = None;
                    return;
                }
            }
        }
    }

    fn fail(&mut self, source: io::Error) {
        self.out = None;
        self.error.get_or_insert(LogError::Write {
            path: self.path.clone(),
            source,
        });
    }

    /// Flushes the file and returns the finished log, with the first error
    /// of creating or writing it. After an error the log contains what was
    /// written before it.
    pub fn finish(mut self) -> (FinishedLog, Option<LogError>) {
        if let Some(mut out) = self.out.take()
            && let Err(source) = out.flush()
        {
            self.fail(source);
        }
        let created = !matches!(self.error, Some(LogError::Create { .. }));
        let content = if created {
            Content::File(self.path)
        } else {
            Content::Text(Vec::new())
        };
        let log = FinishedLog {
            content,
            len: self.len,
            sha256: hex::encode(self.hasher.finalize()),
            masks_at_start: self.masks_at_start,
        };
        (log, self.error)
    }
}

/// A complete log: a file on the host, or a short text kept in memory (the
/// log of a job that never started).
#[derive(Debug, Clone)]
pub struct FinishedLog {
    content: Content,
    len: u64,
    sha256: String,
    /// How many values the masker held when the log began.
    masks_at_start: usize,
}

#[derive(Debug, Clone)]
enum Content {
    File(PathBuf),
    Text(Vec<u8>),
}

impl FinishedLog {
    /// Builds a log kept in memory, which is always masked again when stored.
    pub fn from_text(text: String) -> Self {
        let bytes = text.into_bytes();
        Self {
            len: bytes.len() as u64,
            sha256: ci_core::hash::sha256_hex(&bytes),
            content: Content::Text(bytes),
            masks_at_start: 0,
        }
    }

    /// Returns the size in bytes.
    pub fn size(&self) -> u64 {
        self.len
    }

    /// Returns the lowercase hex SHA-256 of the bytes.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Returns the file of the log, or `None` for a log kept in memory.
    pub fn path(&self) -> Option<&Path> {
        match &self.content {
            Content::File(path) => Some(path),
            Content::Text(_) => None,
        }
    }

    /// Opens the log for reading.
    pub fn open(&self) -> Result<Box<dyn Read + Send + '_>, LogError> {
        match &self.content {
            Content::File(path) => {
                let file = open_regular(path)?;
                Ok(Box::new(file))
            }
            Content::Text(bytes) => Ok(Box::new(&bytes[..])),
        }
    }

    /// Copies the log into `out`, a file opened for writing. Returns the
    /// number of bytes copied. File to file, the kernel copies the data.
    pub fn copy_into(&self, out: &mut File) -> io::Result<u64> {
        match &self.content {
            Content::File(path) => {
                let mut file = open_regular(path).map_err(io::Error::other)?;
                io::copy(&mut file, out)
            }
            Content::Text(bytes) => out.write_all(bytes).map(|()| bytes.len() as u64),
        }
    }

    /// Returns the log with every value registered in `masker` hidden. A
    /// log that began after the last value was registered is returned as
    /// is. Another is masked again, line by line, into a new file beside
    /// it with `.masked` added to its name.
    pub fn masked_again(&self, masker: &Masker) -> Result<FinishedLog, LogError> {
        match &self.content {
            _ if masker.count() == self.masks_at_start => Ok(self.clone()),
            Content::Text(bytes) => {
                let masked = masker.mask(&String::from_utf8_lossy(bytes));
                Ok(FinishedLog {
                    masks_at_start: masker.count(),
                    ..FinishedLog::from_text(masked)
                })
            }
            Content::File(path) => {
                let mut name = path.file_name().unwrap_or_default().to_os_string();
                name.push(".masked");
                let mut writer = LogWriter::create(path.with_file_name(name), masker);
                mask_stream(masker, open_regular(path)?, &mut writer, path)?;
                match writer.finish() {
                    (log, None) => Ok(log),
                    (_, Some(error)) => Err(error),
                }
            }
        }
    }
}

/// Opens a log file the runner wrote, without following a link.
fn open_regular(path: &Path) -> Result<File, LogError> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|source| LogError::Read {
            path: path.to_path_buf(),
            source,
        })
}

/// Masks `input` into `out` line by line. A line longer than
/// [`PIECE_BYTES`] is masked in pieces through a carry, as
/// [`Masker::mask_piece`] describes.
fn mask_stream(
    masker: &Masker,
    input: File,
    out: &mut LogWriter,
    path: &Path,
) -> Result<(), LogError> {
    let read_error = |source| LogError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = BufReader::with_capacity(PIECE_BYTES as usize, input);
    let mut carry = Vec::new();
    let mut in_line = false;
    let mut bytes = Vec::with_capacity(PIECE_BYTES as usize);
    loop {
        bytes.clear();
        let read = (&mut reader)
            .take(PIECE_BYTES)
            .read_until(b'\n', &mut bytes)
            .map_err(read_error)?;
        if read == 0 {
            if in_line {
                out.write(masker.mask_piece(&mut carry, &[], true).as_bytes());
            }
            return Ok(());
        }
        let newline = bytes.ends_with(b"\n");
        let body = &bytes[..bytes.len() - usize::from(newline)];
        let masked = if !in_line && newline {
            masker.mask(&String::from_utf8_lossy(body))
        } else {
            masker.mask_piece(&mut carry, body, newline)
        };
        out.write(masked.as_bytes());
        if newline {
            out.write(b"\n");
        }
        in_line = !newline;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(dir: &Path, name: &str, masker: &Masker, text: &[u8]) -> FinishedLog {
        let mut writer = LogWriter::create(dir.join(name), masker);
        writer.write(text);
        let (log, error) = writer.finish();
        assert!(error.is_none(), "{error:?}");
        log
    }

    #[test]
    fn writer_counts_size_and_hash() {
        let dir = tempfile::tempdir().unwrap();
        let masker = Masker::new();
        let mut writer = LogWriter::create(dir.path().join("a.log"), &masker);
        writer.line("first");
        writer.write(b"second\n");
        let (log, error) = writer.finish();
        assert!(error.is_none());
        let stored = std::fs::read(dir.path().join("a.log")).unwrap();
        assert_eq!(stored, b"first\nsecond\n");
        assert_eq!(log.size(), 13);
        assert_eq!(log.sha256(), ci_core::hash::sha256_hex(&stored));
    }

    #[test]
    fn writer_rejects_planted_link() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("host-file");
        std::fs::write(&target, "keep").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join("step-1.log")).unwrap();

        let mut writer = LogWriter::create(dir.path().join("step-1.log"), &Masker::new());
        writer.line("overwrite");
        let (log, error) = writer.finish();
        let error = error.unwrap().to_string();
        assert!(
            error.starts_with("failed to create the log file"),
            "{error}"
        );
        assert_eq!(log.size(), 0);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    }

    #[test]
    fn logs_dir_rejects_link() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), dir.path().join(LOGS_DIR)).unwrap();
        let error = create_logs_dir(dir.path()).unwrap_err().to_string();
        assert!(
            error.starts_with("failed to create the log folder"),
            "{error}"
        );

        let fresh = tempfile::tempdir().unwrap();
        let logs = create_logs_dir(fresh.path()).unwrap();
        assert_eq!(logs, fresh.path().join(LOGS_DIR));
        assert_eq!(create_logs_dir(fresh.path()).unwrap(), logs);
    }

    #[test]
    fn append_copies_whole_log() {
        let dir = tempfile::tempdir().unwrap();
        let masker = Masker::new();
        let big: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let step = finished(dir.path(), "step-1.log", &masker, &big);
        let mut job = LogWriter::create(dir.path().join("job.log"), &masker);
        job.line("##[step] one");
        job.append(&step);
        let (job, error) = job.finish();
        assert!(error.is_none());
        let mut expected = b"##[step] one\n".to_vec();
        expected.extend_from_slice(&big);
        assert_eq!(std::fs::read(dir.path().join("job.log")).unwrap(), expected);
        assert_eq!(job.sha256(), ci_core::hash::sha256_hex(&expected));
    }

    #[test]
    fn masked_again_after_new_value() {
        let dir = tempfile::tempdir().unwrap();
        let masker = Masker::new();
        let log = finished(dir.path(), "s.log", &masker, b"token late-secret\n");
        let same = log.masked_again(&masker).unwrap();
        assert_eq!(same.path(), log.path());

        masker.add("late-secret");
        let masked = log.masked_again(&masker).unwrap();
        let path = dir.path().join("s.log.masked");
        assert_eq!(masked.path(), Some(path.as_path()));
        assert_eq!(std::fs::read(&path).unwrap(), b"token ***\n");
        assert_eq!(masked.sha256(), ci_core::hash::sha256_hex(b"token ***\n"));
        assert_eq!(masked.size(), 10);
    }

    #[test]
    fn masked_again_across_pieces() {
        let dir = tempfile::tempdir().unwrap();
        let masker = Masker::new();
        // The value straddles the 64 KiB piece boundary of the second pass.
        let mut text = vec![b'a'; PIECE_BYTES as usize - 4];
        text.extend_from_slice(b"late-secret tail\nnext late-secret");
        let log = finished(dir.path(), "s.log", &masker, &text);
        masker.add("late-secret");
        let masked = log.masked_again(&masker).unwrap();

        let mut expected = vec![b'a'; PIECE_BYTES as usize - 4];
        expected.extend_from_slice(b"*** tail\nnext ***");
        let stored = std::fs::read(masked.path().unwrap()).unwrap();
        assert_eq!(stored, expected);
        assert_eq!(masked.size(), expected.len() as u64);
    }

    #[test]
    fn text_log_masked_in_memory() {
        let masker = Masker::new();
        masker.add("hidden");
        let log = FinishedLog::from_text("##[error]hidden\n".into());
        let masked = log.masked_again(&masker).unwrap();
        assert_eq!(masked.path(), None);
        let mut bytes = Vec::new();
        masked.open().unwrap().read_to_end(&mut bytes).unwrap();
        assert_eq!(bytes, b"##[error]***\n");
        assert_eq!(
            masked.sha256(),
            ci_core::hash::sha256_hex(b"##[error]***\n")
        );
    }
}
