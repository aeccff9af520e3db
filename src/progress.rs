//! Progress of a run, counted by the pipeline and drawn (on stderr, when it is a terminal) by
//! the command line.

use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Counters the pipeline bumps as work is found and done; cheap to update from any thread.
#[derive(Debug, Default)]
pub struct Progress {
    /// Chains listed so far (a folder's chains are counted when its digests are listed).
    pub chains_found: AtomicU64,
    /// Chains whose every digest and log is decided.
    pub chains_done: AtomicU64,
    /// Digest keys listed in the range.
    pub digests_found: AtomicU64,
    /// Digests read; may pass `digests_found`, by digests a chain led to in another bucket.
    pub digests_done: AtomicU64,
    /// Logs to check against an authentic digest, counted when a chain's walk is done.
    pub logs_found: AtomicU64,
    /// Logs checked (read, inflated and hashed, or failed).
    pub logs_done: AtomicU64,
    /// Compressed bytes read.
    pub bytes: AtomicU64,
}

impl Progress {
    /// Adds `n` to one of the counters (relaxed: the counts are for display).
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// A progress bar drawn from the counters every 100 ms until dropped.
pub struct ProgressBar {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ProgressBar {
    /// Draws only when stderr is a terminal and `enabled`; otherwise does nothing.
    pub fn start(progress: Arc<Progress>, enabled: bool) -> ProgressBar {
        let stop = Arc::new(AtomicBool::new(false));
        if !enabled || !std::io::stderr().is_terminal() {
            return ProgressBar { stop, thread: None };
        }
        let style = indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} logs, ETA {eta} | {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(0),
            indicatif::ProgressDrawTarget::stderr(),
        );
        bar.set_style(style);
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let started = std::time::Instant::now();
            loop {
                let finished = stopping.load(Ordering::Relaxed);
                let bytes = Progress::get(&progress.bytes);
                let rate = bytes as f64 / started.elapsed().as_secs_f64().max(0.001) / 1e6;
                bar.set_length(Progress::get(&progress.logs_found));
                bar.set_position(Progress::get(&progress.logs_done));
                bar.set_message(format!(
                    "chains {}/{}, digests {}/{}, {:.1} MB read, {rate:.1} MB/s",
                    Progress::get(&progress.chains_done),
                    Progress::get(&progress.chains_found),
                    Progress::get(&progress.digests_done),
                    Progress::get(&progress.digests_found),
                    bytes as f64 / 1e6
                ));
                if finished {
                    bar.finish_and_clear();
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        ProgressBar {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for ProgressBar {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
