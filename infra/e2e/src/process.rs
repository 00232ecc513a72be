//! A child process whose output is kept line by line, killed when dropped,
//! and whose output is printed when a test fails while it runs.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};

/// A running child process (stdout and stderr captured).
pub(crate) struct Process {
    name: String,
    child: Child,
    output: Arc<Mutex<Vec<String>>>,
}

impl Process {
    /// Starts `command`, naming it `name` in diagnostics.
    pub(crate) fn spawn(name: &str, mut command: Command) -> Self {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({command:?}): {e}"));
        let output = Arc::new(Mutex::new(Vec::new()));
        if let Some(out) = child.stdout.take() {
            collect(out, output.clone());
        }
        if let Some(err) = child.stderr.take() {
            collect(err, output.clone());
        }
        Self {
            name: name.to_owned(),
            child,
            output,
        }
    }

    /// Every line printed so far (stdout and stderr, in arrival order).
    pub(crate) fn output(&self) -> Vec<String> {
        lock(&self.output).clone()
    }

    /// The operating system's id of the process.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status if the process has ended.
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Its name and output, for a panic message.
    pub(crate) fn describe(&self) -> String {
        format!(
            "----- {} output -----\n{}\n----- end of {} output -----",
            self.name,
            self.output().join("\n"),
            self.name
        )
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("{}", self.describe());
        }
    }
}

fn collect(stream: impl Read + Send + 'static, into: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            lock(&into).push(line);
        }
    });
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A failed assertion elsewhere must not hide the output.
    m.lock().unwrap_or_else(|e| e.into_inner())
}
