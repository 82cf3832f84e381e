//! The webhook payload parser must never panic, and what it accepts must
//! make sense: at most one marker per listed alert, the route's direction,
//! finite values only, and a marker that reads back as written.
#![no_main]

use autoscaler::markers::Direction;
use autoscaler::webhook::payload::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("valid time");
    if let Ok(parsed) = parse(body, Direction::Down, now) {
        assert!(parsed.markers.len() <= parsed.alerts.max(1));
        for m in &parsed.markers {
            assert_eq!(m.direction, Direction::Down);
            assert!(m.cpu.is_none_or(f64::is_finite) && m.demand.is_none_or(f64::is_finite));
            // What goes to disk reads back as the same marker for the tick.
            let bytes = serde_json::to_vec(m).expect("a marker serialises");
            let back: autoscaler::markers::Marker = serde_json::from_slice(&bytes).expect("a marker reads back");
            assert_eq!(&back, m);
        }
    }
});
