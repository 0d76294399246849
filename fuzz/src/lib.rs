//! Nothing here: the harnesses are `tests/fuzz.rs` (`cargo test -p edge-persist-fuzz`).
