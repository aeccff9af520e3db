//! How many digest folders (one account and region each) are verified at once.
//!
//! While a folder is verified it holds a little memory per digest (its key, its head) and per
//! log (which digest lists it, for the planted-file scan): a year of one region is 8,760 digests
//! and often 100,000 logs, several MB. Verifying every folder of an organization at once would
//! multiply that by the number of folders. The gate admits the next folder only while what the
//! folders in flight hold, plus what the next one is expected to hold, fits a budget. Folders of
//! a short range hold little, so up to `max_in_flight` of them run at once and keep the requests
//! overlapped; long ones are admitted a few at a time. A folder is always admitted when none is
//! in flight, so one larger than the budget still runs, alone.
//!
//! Only the thread that hands out folders waits here; the folders' own work never does, so the
//! thread pool cannot deadlock on the gate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

/// What a folder holds per digest of its listing while it is verified (key, head, chain
/// bookkeeping), measured with `bench/memory.sh`-style runs of many long folders.
pub const BYTES_PER_DIGEST: u64 = 700;
/// What a folder holds per log its digests list, until its log folder has been scanned.
pub const BYTES_PER_LOG: u64 = 48;
/// Folder state the gate lets the folders in flight hold together, by default.
pub const DEFAULT_BUDGET: u64 = 32 << 20;

pub struct FolderGate {
    budget: u64,
    max_in_flight: usize,
    state: Mutex<GateState>,
    room: Condvar,
}

struct GateState {
    in_flight: usize,
    /// The most folders in flight at once so far.
    peak: usize,
    /// What the folders in flight hold: each one's latest report, or what it was expected to
    /// hold until it reports.
    held: u64,
    /// The most any folder has reported holding; the next folder is expected to hold as much.
    largest: Option<u64>,
    /// Expected of a folder before any has reported.
    first_estimate: u64,
}

impl GateState {
    fn expected(&self) -> u64 {
        self.largest.unwrap_or(self.first_estimate)
    }
}

impl FolderGate {
    /// `first_estimate`: what a folder is expected to hold before any has said (from the
    /// requested range, say): a large one makes the first folders start one after the other
    /// until their listings tell.
    pub fn new(budget: u64, max_in_flight: usize, first_estimate: u64) -> FolderGate {
        FolderGate {
            budget,
            max_in_flight: max_in_flight.max(1),
            state: Mutex::new(GateState {
                in_flight: 0,
                peak: 0,
                held: 0,
                largest: None,
                first_estimate,
            }),
            room: Condvar::new(),
        }
    }

    /// Waits until the next folder fits, then admits it, counting it at what it is expected
    /// to hold until it reports.
    pub fn admit(&self) -> FolderTicket<'_> {
        let mut state = self.lock();
        while state.in_flight > 0
            && (state.in_flight >= self.max_in_flight
                || state.held.saturating_add(state.expected()) > self.budget)
        {
            state = self
                .room
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        let expected = state.expected();
        state.in_flight += 1;
        state.peak = state.peak.max(state.in_flight);
        state.held = state.held.saturating_add(expected);
        FolderTicket {
            gate: self,
            held: AtomicU64::new(expected),
        }
    }

    /// Folders in flight and what they hold.
    #[cfg(test)]
    pub fn in_flight(&self) -> (usize, u64) {
        let state = self.lock();
        (state.in_flight, state.held)
    }

    /// The most folders that were in flight at once.
    pub fn peak(&self) -> usize {
        self.lock().peak
    }

    fn lock(&self) -> MutexGuard<'_, GateState> {
        // The state stays consistent under a panic elsewhere: every update is one assignment.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One admitted folder; dropping it lets the next ones in.
pub struct FolderTicket<'a> {
    gate: &'a FolderGate,
    held: AtomicU64,
}

impl FolderTicket<'_> {
    /// The folder now holds about `bytes`: what it is counted at from now on, and what the
    /// folders after it are expected to hold if it is the largest yet.
    pub fn holds(&self, bytes: u64) {
        let before = self.held.swap(bytes, Ordering::Relaxed);
        let mut state = self.gate.lock();
        state.held = state.held.saturating_sub(before).saturating_add(bytes);
        state.largest = Some(state.largest.map_or(bytes, |l| l.max(bytes)));
        drop(state);
        if bytes < before {
            self.gate.room.notify_all();
        }
    }

    /// What a folder with these counts holds.
    pub fn bytes_for(digests: u64, logs: u64) -> u64 {
        digests
            .saturating_mul(BYTES_PER_DIGEST)
            .saturating_add(logs.saturating_mul(BYTES_PER_LOG))
    }
}

impl Drop for FolderTicket<'_> {
    fn drop(&mut self) {
        let held = *self.held.get_mut();
        let mut state = self.gate.lock();
        state.in_flight -= 1;
        state.held = state.held.saturating_sub(held);
        drop(state);
        self.gate.room.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// Runs `admit` on another thread; the receiver gets a message once it returned.
    fn admit_in_background<'s>(
        scope: &'s std::thread::Scope<'s, '_>,
        gate: &'s FolderGate,
        release: mpsc::Receiver<()>,
    ) -> mpsc::Receiver<()> {
        let (admitted, on_admit) = mpsc::channel();
        scope.spawn(move || {
            let ticket = gate.admit();
            let _ = admitted.send(());
            let _ = release.recv();
            drop(ticket);
        });
        on_admit
    }

    const SHORT: Duration = Duration::from_millis(200);
    const LONG: Duration = Duration::from_secs(10);

    #[test]
    fn small_folders_are_admitted_up_to_the_limit_at_once() {
        let gate = FolderGate::new(1000, 3, 10);
        let tickets: Vec<_> = (0..3).map(|_| gate.admit()).collect();
        assert_eq!(gate.in_flight(), (3, 30));
        std::thread::scope(|scope| {
            let (release, released) = mpsc::channel();
            let admitted = admit_in_background(scope, &gate, released);
            assert!(
                admitted.recv_timeout(SHORT).is_err(),
                "a fourth was admitted"
            );
            drop(tickets);
            admitted
                .recv_timeout(LONG)
                .expect("not admitted once room was made");
            release.send(()).unwrap();
        });
        assert_eq!(gate.in_flight(), (0, 0));
        assert_eq!(gate.peak(), 3);
    }

    #[test]
    fn a_folder_that_reports_much_keeps_the_next_waiting_until_it_is_done() {
        let gate = FolderGate::new(1000, 64, 10);
        let big = gate.admit();
        big.holds(900);
        assert_eq!(gate.in_flight(), (1, 900));
        std::thread::scope(|scope| {
            let (release, released) = mpsc::channel();
            let admitted = admit_in_background(scope, &gate, released);
            // 900 held + 900 expected (the largest yet) > 1000.
            assert!(
                admitted.recv_timeout(SHORT).is_err(),
                "admitted over budget"
            );
            drop(big);
            admitted
                .recv_timeout(LONG)
                .expect("not admitted after the big one");
            assert_eq!(gate.in_flight(), (1, 900));
            release.send(()).unwrap();
        });
    }

    #[test]
    fn a_folder_larger_than_the_budget_runs_alone() {
        let gate = FolderGate::new(100, 64, 5_000);
        let first = gate.admit();
        assert_eq!(gate.in_flight(), (1, 5_000));
        std::thread::scope(|scope| {
            let (release, released) = mpsc::channel();
            let admitted = admit_in_background(scope, &gate, released);
            assert!(admitted.recv_timeout(SHORT).is_err());
            drop(first);
            admitted
                .recv_timeout(LONG)
                .expect("nothing in flight: must be admitted");
            release.send(()).unwrap();
        });
    }

    #[test]
    fn a_report_smaller_than_expected_lets_more_in_at_once() {
        // Expected 600 each before any report: only one fits in 1000.
        let gate = FolderGate::new(1000, 64, 600);
        let first = gate.admit();
        std::thread::scope(|scope| {
            let (release, released) = mpsc::channel();
            let admitted = admit_in_background(scope, &gate, released);
            assert!(admitted.recv_timeout(SHORT).is_err());
            // Its listing says it holds 100: the waiting one fits (100 + 100).
            first.holds(100);
            admitted
                .recv_timeout(LONG)
                .expect("not admitted after a small report");
            assert_eq!(gate.in_flight(), (2, 200));
            release.send(()).unwrap();
        });
        drop(first);
        assert_eq!(gate.in_flight(), (0, 0));
    }

    #[test]
    fn bytes_for_counts_digests_and_logs() {
        assert_eq!(
            FolderTicket::bytes_for(2, 10),
            2 * BYTES_PER_DIGEST + 10 * BYTES_PER_LOG
        );
        assert_eq!(FolderTicket::bytes_for(u64::MAX, 1), u64::MAX);
    }
}
