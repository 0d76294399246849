//! The `edge-stack` commands, one module each; `main.rs` only parses and dispatches.

pub mod console;
pub mod logs;
pub mod probe;
pub mod recycle;
pub mod up;
pub mod validate;

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Lambda function names: letters, digits, `-` and `_` (so a name is never a path).
pub fn check_function_name(name: &str) -> Result<()> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!("{name:?} is not a function name (letters, digits, - and _)").into());
    }
    Ok(())
}
