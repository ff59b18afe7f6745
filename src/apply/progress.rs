//! Live progress: a bar with the running steps on a terminal, plain lines otherwise.

use std::io::{IsTerminal, Write};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use crate::graph::step::Step;

/// Reports step transitions as they happen.
pub struct Progress {
    bar: Option<ProgressBar>,
    start: Instant,
    quiet: bool,
}

impl Progress {
    /// A bar over `total` steps when stderr is a terminal; plain lines otherwise.
    pub fn new(total: usize, quiet: bool) -> Self {
        let bar = (std::io::stderr().is_terminal() && !quiet).then(|| {
            let bar = ProgressBar::new(total as u64);
            let style =
                ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
            bar.set_style(style);
            bar
        });
        Self {
            bar,
            start: Instant::now(),
            quiet,
        }
    }

    pub fn started(&self, step: &Step) {
        if step.action.is_gate() {
            return;
        }
        match &self.bar {
            Some(bar) => bar.set_message(format!("{} {}", step.id, step.target())),
            None => self.line(&format!("start  {} ({})", step.id, step.target())),
        }
    }

    pub fn ended(&self, step: &Step, result: &Result<String, String>) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        if step.action.is_gate() && result.is_ok() {
            return;
        }
        match result {
            Ok(_) => self.line(&format!("done   {}", step.id)),
            Err(error) => self.line(&format!("FAILED {}: {error}", step.id)),
        }
    }

    /// A line above the bar (or on its own).
    pub fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        let stamp = format!("[{:>7.1}s]", self.start.elapsed().as_secs_f64());
        match &self.bar {
            Some(bar) => bar.println(format!("{stamp} {text}")),
            // A line that cannot be written is dropped: the run goes on.
            None => {
                let _ = writeln!(std::io::stderr(), "{stamp} {text}");
            }
        }
    }

    /// Runs `f` with the bar hidden (for prompts).
    pub fn suspend<T>(&self, f: impl FnOnce() -> T) -> T {
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
