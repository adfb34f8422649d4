//! What a stored PIN history (`pin.historyCount`, docs/security.md) costs: the time of one
//! PBKDF2 derivation at the operator's iteration count, which is both what checking a new PIN
//! against a history costs the operator (one derivation, whatever the history's length) and
//! what one guess costs someone trying to recover an old PIN from a stolen history. Prints the
//! time per guess and, from it, the time to try every PIN of 4 to 8 digits on one core.
//!
//! `cargo bench --bench pin_history`

use std::time::Instant;

use conferencing_operator::provisioning::pin_history::{ITERATIONS, PinHistory};

fn main() {
    let mut history = PinHistory::new();
    history.push("90817", 20);
    // Warm up, then time enough derivations for a stable mean.
    let _ = history.contains("12345");
    let runs = 50;
    let start = Instant::now();
    for i in 0..runs {
        let _ = history.contains(&format!("{:05}", 10_000 + i));
    }
    let per_guess = start.elapsed() / runs;
    println!("pin_history: PBKDF2-HMAC-SHA256, {ITERATIONS} iterations, 16-byte salt per PIN Secret");
    println!("  one derivation (one guess, or one check of a new PIN): {:.1} ms", per_guess.as_secs_f64() * 1e3);
    for digits in 4..=8u32 {
        let all = 10f64.powi(digits as i32) * per_guess.as_secs_f64();
        println!("  every {digits}-digit PIN on one core: {:.1} h", all / 3600.0);
    }
}
