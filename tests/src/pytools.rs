//! The pinned Python tools of the deploy checks (`infra/requirements.txt`: awscli v1, cfn-lint,
//! moto), installed by the stack's installer (`edge_stack::pytools`) into a venv at `.tools/py`.

use std::path::PathBuf;

use edge_stack::binaries::workspace_root;

/// `.tools/py/bin`, with the pinned tools in it.
pub fn bin_dir() -> PathBuf {
    edge_stack::pytools::venv_bin("py", &workspace_root().join("infra/requirements.txt"))
        .unwrap_or_else(|e| panic!("installing the deploy checks' Python tools: {e}"))
}
